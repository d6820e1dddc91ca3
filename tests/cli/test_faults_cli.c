/*
 * The --faults option of vmmcsim run (cli/cli_run.c, resolved in
 * cli/cluster.c), called through cli_main() in a child process with stdout
 * and stderr captured: every kind of bad spec -- an unknown key, an empty
 * item, a probability outside [0, 1], a bad or backwards time, an unknown
 * link name (named with the platform file), a node out of range -- exits 2
 * with one error line naming the item; a good spec runs, and --json always
 * carries the faults_injected object; the table shows the fault counters
 * when faults are configured or with --stats; a profile's [faults] values
 * are overridden by the command line.  The runs here inject nothing that the
 * firmware would have to recover from (intervals after the run ends, zero
 * probabilities): recovery belongs to the firmware's own tests.
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cli/cli_helpers.h"
#include "tests/harness.h"
#include "tests/suites.h"

/* ---- Helpers ---- */

/* Bad input: exit status 2, nothing on stdout, and exactly one line on
 * stderr that starts "vmmcsim: error: option --faults: " and contains every
 * one of the NULL-terminated strings. */
#define EXPECT_BAD_FAULTS(r, ...)                                           \
    CLI_EXPECT_BAD((r), "vmmcsim: error: option --faults: ", __VA_ARGS__)

/* A short pingpong with the given --faults spec and output option. */
static void run_pingpong(struct cli_result *r, const char *spec,
                         const char *fmt)
{
    if (fmt)
        run_cli(r, "run", "--faults", spec, fmt, "pingpong", "--sizes", "4",
                "--iters", "2", (char *)NULL);
    else
        run_cli(r, "run", "--faults", spec, "pingpong", "--sizes", "4",
                "--iters", "2", (char *)NULL);
}

static const char zeros[] =
    "\"faults_injected\":{\"drop\":0,\"corrupt\":0,\"dup\":0,\"reorder\":0,"
    "\"link_down\":0,\"nic_down\":0,\"crc_discards\":0}";

/* ---- Bad specs ---- */

static void test_unknown_key(void)
{
    struct cli_result r;
    run_pingpong(&r, "drop=0.1,lose=0.5", NULL);
    EXPECT_BAD_FAULTS(&r, "unknown key 'lose'", "'lose=0.5'", (char *)NULL);
    run_pingpong(&r, "drop", NULL);
    EXPECT_BAD_FAULTS(&r, "'drop'", "KEY=VALUE", (char *)NULL);
}

static void test_empty(void)
{
    struct cli_result r;
    run_pingpong(&r, "", NULL);
    EXPECT_BAD_FAULTS(&r, "empty item", (char *)NULL);
    run_pingpong(&r, "drop=0.1,,dup=0.1", NULL);
    EXPECT_BAD_FAULTS(&r, "empty item", (char *)NULL);
    run_pingpong(&r, "drop=0.1,", NULL);
    EXPECT_BAD_FAULTS(&r, "empty item", (char *)NULL);
    run_cli(&r, "run", "pingpong", "--faults", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    TH_EXPECT_HAS(r.err, "option --faults: missing value");
}

static void test_bad_probability(void)
{
    static const char *const specs[] = {"drop=1.5",    "corrupt=-0.1",
                                        "dup=abc",     "reorder=",
                                        "drop=nan",    "dup=0.5x",
                                        "corrupt=1e3", "reorder=inf"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        struct cli_result r;
        run_pingpong(&r, specs[i], NULL);
        EXPECT_BAD_FAULTS(&r, specs[i], "probability in [0, 1]",
                          (char *)NULL);
    }
    /* Named even when it comes after good items. */
    struct cli_result r;
    run_pingpong(&r, "drop=0,dup=0,reorder=2", NULL);
    EXPECT_BAD_FAULTS(&r, "reorder=2:", (char *)NULL);
}

static void test_bad_time(void)
{
    struct cli_result r;
    run_pingpong(&r, "down=sw0_link_1_DOWN@5x-6ms", NULL);
    EXPECT_BAD_FAULTS(&r, "down=sw0_link_1_DOWN@5x-6ms", "bad time '5x'",
                      (char *)NULL);
    run_pingpong(&r, "down=sw0_link_1_DOWN@5ms-6", NULL);
    EXPECT_BAD_FAULTS(&r, "bad time '6'", (char *)NULL);
    run_pingpong(&r, "down=sw0_link_1_DOWN@-1ms-6ms", NULL);
    EXPECT_BAD_FAULTS(&r, "bad time", (char *)NULL);
    run_pingpong(&r, "nicdown=1@5ms", NULL);
    EXPECT_BAD_FAULTS(&r, "nicdown=1@5ms", "T1-T2", (char *)NULL);
    run_pingpong(&r, "down=sw0_link_1_DOWN@6ms-5ms", NULL);
    EXPECT_BAD_FAULTS(&r, "down=sw0_link_1_DOWN@6ms-5ms", "ends before",
                      (char *)NULL);
    run_pingpong(&r, "nicdown=0@5ms-5ms", NULL);
    EXPECT_BAD_FAULTS(&r, "nicdown=0@5ms-5ms", "ends before", (char *)NULL);
    run_pingpong(&r, "down=sw0_link_1_DOWN", NULL);
    EXPECT_BAD_FAULTS(&r, "down=sw0_link_1_DOWN", "LINK@T1-T2",
                      (char *)NULL);
    run_pingpong(&r, "reorder_delay_max=20", NULL);
    EXPECT_BAD_FAULTS(&r, "reorder_delay_max=20", (char *)NULL);
}

static void test_unknown_link(void)
{
    struct cli_result r;
    run_pingpong(&r, "drop=0,down=sw9_link_7_UP@1ms-2ms", NULL);
    EXPECT_BAD_FAULTS(&r, "down=sw9_link_7_UP@1ms-2ms",
                      "no link named 'sw9_link_7_UP'", "myrinet-2.xml",
                      (char *)NULL);
    /* The 16-node platform's inter-switch link exists there, not here. */
    run_pingpong(&r, "down=isl-sw0-sw1_UP@1ms-", NULL);
    EXPECT_BAD_FAULTS(&r, "no link named 'isl-sw0-sw1_UP'", "myrinet-2.xml",
                      (char *)NULL);
}

static void test_node_out_of_range(void)
{
    struct cli_result r;
    run_pingpong(&r, "nicdown=2@1ms-", NULL);
    EXPECT_BAD_FAULTS(&r, "nicdown=2@1ms-", "node 2", "out of range",
                      "myrinet-2.xml", (char *)NULL);
    run_pingpong(&r, "nicdown=x@1ms-", NULL);
    EXPECT_BAD_FAULTS(&r, "nicdown=x@1ms-", "not a node number",
                      (char *)NULL);
    run_pingpong(&r, "nicdown=-1@1ms-", NULL);
    EXPECT_BAD_FAULTS(&r, "nicdown=-1@1ms-", (char *)NULL);
}

/* ---- Good specs ---- */

static void test_json_zero(void)
{
    static struct cli_result r;
    run_cli(&r, "run", "--json", "pingpong", "--sizes", "4", "--iters", "2",
            (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, zeros);
    run_pingpong(&r, "drop=0,corrupt=0,dup=0,reorder=0", "--json");
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, zeros);
}

/* Down intervals long after the run (a 2-node pingpong is over in well
 * under a millisecond): resolved and configured, nothing happens. */
static void test_json_intervals_after_run(void)
{
    static struct cli_result r;
    run_pingpong(&r,
                 "down=sw0_link_1_DOWN@1s-,down=sw0_link_0_UP@2s-3s,"
                 "nicdown=1@1s-2s,reorder_delay_max=5us",
                 "--json");
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "\"workload\":\"pingpong\"");
    TH_EXPECT_HAS(r.out, zeros);
    CU_ASSERT(r.out[0] == '{' && strchr(r.out, '\n') ==
                                     r.out + strlen(r.out) - 1);
}

static void test_table_line(void)
{
    static struct cli_result r;
    /* No faults, no --stats: no fault line. */
    run_cli(&r, "run", "pingpong", "--sizes", "4", "--iters", "2",
            (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS_NOT(r.out, "faults injected");
    /* Configured faults: always. */
    run_pingpong(&r, "nicdown=0@1s-", NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "faults injected: 0 dropped, 0 corrupted (0 discarded "
                         "by CRC), 0 duplicated, 0 reordered, 0 link-down "
                         "drops, 0 NIC-down drops\n");
    /* Zero probabilities are no faults. */
    run_pingpong(&r, "drop=0", NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS_NOT(r.out, "faults injected");
    /* --stats: always. */
    run_cli(&r, "run", "--stats", "pingpong", "--sizes", "4", "--iters", "2",
            (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "faults injected: 0 dropped");
}

/* Faults that never fire draw nothing: the results are those of a run
 * without --faults, byte for byte. */
static void test_inactive_faults_change_nothing(void)
{
    static struct cli_result a, b;
    run_cli(&a, "run", "--csv", "pingpong", "--sizes", "4,4096", "--iters",
            "3", (char *)NULL);
    run_cli(&b, "run", "--faults",
            "drop=0,dup=0,down=sw0_link_1_DOWN@1s-,nicdown=0@1s-", "--seed",
            "77", "--csv", "pingpong", "--sizes", "4,4096", "--iters", "3",
            (char *)NULL);
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_EQUAL(b.status, 0);
    CU_ASSERT(a.out[0] != 0);
    CU_ASSERT_STRING_EQUAL(a.out, b.out);
}

/* The profile's [faults] drop = 1 would lose every packet; the command
 * line's drop=0 overrides it and the run completes. */
static void test_command_line_overrides_profile(void)
{
    char path[TH_PATH_LEN];
    th_write_profile(path, "faults-cli", "[faults]\ndrop = 1\n");
    static struct cli_result r;
    run_cli(&r, "run", "--profile", path, "--faults", "drop=0", "--json",
            "pingpong", "--sizes", "4", "--iters", "2", (char *)NULL);
    unlink(path);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, zeros);
}

static void test_help(void)
{
    struct cli_result r;
    run_cli(&r, "--help", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "--faults SPEC");
    TH_EXPECT_HAS(r.out, "down=LINK@T1-T2");
    TH_EXPECT_HAS(r.out, "nicdown=NODE@T1-T2");
}

void register_faults_cli_tests(void)
{
    CU_pSuite s = th_suite("faults-cli");
    th_add(s, "unknown key, item without '='", test_unknown_key);
    th_add(s, "empty spec or item, missing value", test_empty);
    th_add(s, "probability outside [0, 1]", test_bad_probability);
    th_add(s, "bad times and intervals", test_bad_time);
    th_add(s, "unknown link names the platform file", test_unknown_link);
    th_add(s, "node out of range", test_node_out_of_range);
    th_add(s, "--json carries faults_injected, zeros without faults",
           test_json_zero);
    th_add(s, "down intervals after the run: resolved, nothing happens",
           test_json_intervals_after_run);
    th_add(s, "table: fault line when configured or with --stats",
           test_table_line);
    th_add(s, "faults that never fire change nothing",
           test_inactive_faults_change_nothing);
    th_add(s, "the command line overrides the profile's [faults]",
           test_command_line_overrides_profile);
    th_add(s, "--help describes --faults", test_help);
}
