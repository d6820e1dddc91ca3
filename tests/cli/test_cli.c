/*
 * The vmmcsim command line (cli/cli_run.c), called through cli_main() in a
 * child process with stdout and stderr captured: exit status 2 and a
 * one-line error naming the option, file, line and field for every kind of
 * bad input (missing or unknown workload, unknown option, bad --seed,
 * --sizes, --max-time, a missing profile, a malformed platform XML, a bad
 * profile value, a platform with too few hosts); exit 1 for a run that
 * failed; --help; and the exact CSV output, which must be deterministic.
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cli/cli_helpers.h"
#include "tests/cli/exec_helpers.h"
#include "tests/harness.h"
#include "tests/suites.h"
#include "util/layout.h"

/* ---- Helpers ---- */

/* Bad input: exit status 2, nothing on stdout, and exactly one line on
 * stderr that starts "vmmcsim: error: " and contains every one of the
 * NULL-terminated strings. */
#define EXPECT_BAD_INPUT(r, ...)                                            \
    CLI_EXPECT_BAD((r), "vmmcsim: error: ", __VA_ARGS__)

/* "vmmcsim run" with "OPT VALUE" before the workload (a run option) or
 * after it (a pingpong option): refused, naming the option and the value. */
static void bad_value(const char *opt, const char *value, int after,
                      unsigned line)
{
    struct cli_result r;
    if (after)
        run_cli(&r, "run", "pingpong", opt, value, (char *)NULL);
    else
        run_cli(&r, "run", opt, value, "pingpong", (char *)NULL);
    char name[64], quoted[64];
    snprintf(name, sizeof name, "option %s", opt);
    snprintf(quoted, sizeof quoted, "'%s'", value);
    cli_expect_bad(&r, "vmmcsim: error: ", __FILE__, line, name, quoted,
                   (char *)NULL);
}
#define EXPECT_BAD_RUN_OPTION(opt, value) bad_value((opt), (value), 0, __LINE__)
#define EXPECT_BAD_PINGPONG_OPTION(opt, value)                              \
    bad_value((opt), (value), 1, __LINE__)

/* A SimGrid platform with one host: what comes before the end of its zone,
 * and the end. */
#define ONE_HOST_XML_HEAD                                                   \
    "<?xml version='1.0'?>\n"                                               \
    "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"      \
    "<platform version=\"4.1\">\n"                                          \
    "  <zone id=\"world\" routing=\"Full\">\n"                              \
    "    <host id=\"node-0\" speed=\"1Gf\"/>\n"
#define XML_TAIL                                                            \
    "  </zone>\n"                                                           \
    "</platform>\n"

/* stderr without the warning an ASan build prints when SimGrid switches
 * stacks (harmless: its own text says so); any real sanitizer report stays.
 */
static void strip_asan_noise(const char *in, char *out, size_t outlen)
{
    static const char *const noise[] = {
        "WARNING: ASan is ignoring requested __asan_handle_no_return",
        "False positive error reports may follow",
        "For details see https://github.com/google/sanitizers/issues/189",
    };
    size_t len = 0;
    out[0] = 0;
    for (const char *p = in; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        int skip = 0;
        for (size_t i = 0; i < sizeof noise / sizeof *noise; i++) {
            const char *hit = strstr(p, noise[i]);
            if (hit && hit < p + n &&
                (hit == p || (p[0] == '=' && p[1] == '=')))
                skip = 1;
        }
        if (!skip && len + n < outlen) {
            memcpy(out + len, p, n);
            out[len += n] = 0;
        }
        p += n;
    }
}

/* Parses a CSV field as a number > 0 (the whole field). */
static int positive_number(const char *s, size_t n)
{
    char buf[64], *end;
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    double v = strtod(buf, &end);
    return *end == 0 && v > 0;
}

static void run_csv(struct cli_result *r)
{
    run_cli(r, "run", "pingpong", "--csv", "--sizes", "4,1024", "--iters",
            "3", (char *)NULL);
}

/* ---- Bad input ---- */

static void test_no_arguments(void)
{
    struct cli_result r;
    run_cli(&r, (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    TH_EXPECT_HAS(r.err, "usage: vmmcsim run");
    CU_ASSERT_STRING_EQUAL(r.out, "");
}

static void test_unknown_command(void)
{
    struct cli_result r;
    run_cli(&r, "frob", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "unknown command 'frob'", (char *)NULL);
}

static void test_no_workload(void)
{
    struct cli_result r;
    run_cli(&r, "run", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "no workload given", (char *)NULL);
    run_cli(&r, "run", "--csv", "--seed", "3", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "no workload given", (char *)NULL);
}

static void test_unknown_workload(void)
{
    struct cli_result r;
    run_cli(&r, "run", "nosuch", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "unknown workload 'nosuch'", (char *)NULL);
}

static void test_unknown_option(void)
{
    struct cli_result r;
    /* before the workload: a run option */
    run_cli(&r, "run", "--bogus", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "unknown option '--bogus'", (char *)NULL);
    /* after it: a workload option */
    run_cli(&r, "run", "pingpong", "--bogus", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "pingpong", "unknown workload option '--bogus'",
                     (char *)NULL);
}

static void test_missing_option_value(void)
{
    struct cli_result r;
    run_cli(&r, "run", "pingpong", "--seed", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --seed: missing value", (char *)NULL);
    run_cli(&r, "run", "pingpong", "--sizes", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --sizes: missing value", (char *)NULL);
}

static void test_bad_seed(void)
{
    EXPECT_BAD_RUN_OPTION("--seed", "abc");
    EXPECT_BAD_RUN_OPTION("--seed", "-1");
    EXPECT_BAD_RUN_OPTION("--seed", "");
    EXPECT_BAD_RUN_OPTION("--seed", "99999999999999999999999");
}

static void test_bad_sizes(void)
{
    EXPECT_BAD_PINGPONG_OPTION("--sizes", "1");
    EXPECT_BAD_PINGPONG_OPTION("--sizes", "65M");
    /* The bad item of a list is named, not the whole list. */
    struct cli_result r;
    run_cli(&r, "run", "pingpong", "--sizes", "4,x", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --sizes", "'x'", (char *)NULL);
    run_cli(&r, "run", "pingpong", "--iters", "0", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --iters", (char *)NULL);
}

static void test_bad_max_time(void)
{
    EXPECT_BAD_RUN_OPTION("--max-time", "xyz");
    EXPECT_BAD_RUN_OPTION("--max-time", "500");
    EXPECT_BAD_RUN_OPTION("--max-time", "-5ms");
}

static void test_bad_log_spec(void)
{
    struct cli_result r;
    run_cli(&r, "run", "--log", "vmmc=loud", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --log", "'vmmc=loud'", (char *)NULL);
}

static void test_missing_profile(void)
{
    struct cli_result r;
    run_cli(&r, "run", "pingpong", "--profile", "/nonexistent.ini",
            (char *)NULL);
    EXPECT_BAD_INPUT(&r, "/nonexistent.ini", "cannot open", (char *)NULL);
}

static void test_missing_platform(void)
{
    struct cli_result r;
    run_cli(&r, "run", "pingpong", "--platform", "/nonexistent.xml",
            (char *)NULL);
    EXPECT_BAD_INPUT(&r, "/nonexistent.xml", "cannot open", (char *)NULL);
}

static void test_malformed_platform(void)
{
    static const char xml[] = ONE_HOST_XML_HEAD "    <bogus/>\n" XML_TAIL;
    char path[TH_PATH_LEN], where[128];
    th_write_tmp(path, "cli-xml", xml);
    int line = th_find_line(xml, "<bogus/>", 1);
    CU_ASSERT_FATAL(line > 0);
    snprintf(where, sizeof where, "Parse error at %s:%d", path, line);
    struct cli_result r;
    run_cli(&r, "run", "pingpong", "--platform", path, (char *)NULL);
    unlink(path);
    /* The message starts with the file, then SimGrid's file:line. */
    char start[96];
    snprintf(start, sizeof start, "vmmcsim: error: %s: ", path);
    EXPECT_BAD_INPUT(&r, start, where, (char *)NULL);
}

static void test_one_host_platform(void)
{
    static const char xml[] = ONE_HOST_XML_HEAD XML_TAIL;
    char path[TH_PATH_LEN];
    th_write_tmp(path, "cli-xml", xml);
    struct cli_result r;
    run_cli(&r, "run", "pingpong", "--platform", path, (char *)NULL);
    unlink(path);
    EXPECT_BAD_INPUT(&r, path, "1 host", "at least 2", (char *)NULL);
}

static void test_bad_profile_value(void)
{
    /* The line "dma_MBps = 110 ..." becomes "dma_MBps = 0" (below its
     * minimum); the line numbers stay the same. */
    char *text = th_read_file(TH_PROFILE);
    int line = th_find_line(text, "dma_MBps", 1);
    CU_ASSERT_FATAL(line > 0);
    char *bad = th_edit_line(text, line, "dma_MBps = 0");
    free(text);
    CU_ASSERT_EQUAL_FATAL(th_find_line(bad, "dma_MBps = 0\n", 1), line);
    char path[TH_PATH_LEN], want[128];
    th_write_tmp(path, "cli-ini", bad);
    free(bad);
    struct cli_result r;
    run_cli(&r, "run", "pingpong", "--profile", path, (char *)NULL);
    unlink(path);
    snprintf(want, sizeof want, "vmmcsim: error: %s:%d: [pci] dma_MBps: ",
             path, line);
    EXPECT_BAD_INPUT(&r, want, "out of range", (char *)NULL);
}

/* ---- Good runs ---- */

static void test_help(void)
{
    struct cli_result r;
    run_cli(&r, "--help", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "usage: vmmcsim run");
    TH_EXPECT_HAS(r.out, "pingpong");
    TH_EXPECT_HAS(r.out, "bandwidth");
    CU_ASSERT_STRING_EQUAL(r.err, "");
    /* also as an option of run, even after other options */
    run_cli(&r, "run", "--csv", "--help", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "pingpong");
    TH_EXPECT_HAS(r.out, "bandwidth");
    CU_ASSERT_STRING_EQUAL(r.err, "");
}

static void test_csv_output(void)
{
    static struct cli_result r;
    run_csv(&r);
    CU_ASSERT_EQUAL(r.status, 0);
    char err[sizeof r.err];
    strip_asan_noise(r.err, err, sizeof err);
    CU_ASSERT_STRING_EQUAL(err, "");
    static const char header[] = "size_bytes,latency_us,bandwidth_MBps\n";
    CU_ASSERT_FATAL(!strncmp(r.out, header, strlen(header)));
    const char *p = r.out + strlen(header);
    static const char *const sizes[] = {"4", "1024"};
    for (int row = 0; row < 2; row++) {
        const char *nl = strchr(p, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
        const char *c1 = memchr(p, ',', (size_t)(nl - p));
        CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
        const char *c2 = memchr(c1 + 1, ',', (size_t)(nl - c1 - 1));
        CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
        CU_ASSERT(memchr(c2 + 1, ',', (size_t)(nl - c2 - 1)) == NULL);
        CU_ASSERT_EQUAL((size_t)(c1 - p), strlen(sizes[row]));
        CU_ASSERT(!strncmp(p, sizes[row], strlen(sizes[row])));
        CU_ASSERT(positive_number(c1 + 1, (size_t)(c2 - c1 - 1)));
        CU_ASSERT(positive_number(c2 + 1, (size_t)(nl - c2 - 1)));
        p = nl + 1;
    }
    /* exactly two rows: nothing after them */
    CU_ASSERT_STRING_EQUAL(p, "");
}

static void test_csv_deterministic(void)
{
    static struct cli_result a, b;
    run_csv(&a);
    run_csv(&b);
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_EQUAL(b.status, 0);
    CU_ASSERT(a.out[0] != 0);
    CU_ASSERT_STRING_EQUAL(a.out, b.out);
}

static void test_run_failed_exit_1(void)
{
    /* A 1 us simulated-time limit stops the run before it is done. */
    struct cli_result r;
    run_cli(&r, "run", "--max-time", "1us", "pingpong", "--sizes", "4",
            (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    char err[sizeof r.err];
    strip_asan_noise(r.err, err, sizeof err);
    /* one line, naming the time limit */
    CU_ASSERT(!strncmp(err, "vmmcsim: run failed: ", 21));
    CU_ASSERT(err[0] && strchr(err, '\n') == err + strlen(err) - 1);
    TH_EXPECT_HAS(err, "time limit");
    CU_ASSERT_STRING_EQUAL(r.out, "");
}

/* The re-executed simulator asks for huge pages unless told not to. */
static void test_thp_tunables(void)
{
    char v[128];
    CU_ASSERT_TRUE(vs_thp_tunables(NULL, NULL, v, sizeof v));
    CU_ASSERT_STRING_EQUAL(v, "glibc.malloc.hugetlb=1");
    CU_ASSERT_TRUE(vs_thp_tunables("", "0", v, sizeof v));
    CU_ASSERT_STRING_EQUAL(v, "glibc.malloc.hugetlb=1");
    CU_ASSERT_TRUE(vs_thp_tunables("glibc.malloc.arena_max=2", "", v, sizeof v));
    CU_ASSERT_STRING_EQUAL(v, "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
    /* The user's choice stands. */
    CU_ASSERT_FALSE(vs_thp_tunables(NULL, "1", v, sizeof v));
    CU_ASSERT_FALSE(vs_thp_tunables("glibc.malloc.hugetlb=0", NULL, v, sizeof v));
    CU_ASSERT_FALSE(vs_thp_tunables("a=1:glibc.malloc.hugetlb=2", NULL, v, sizeof v));
    /* Too long for the buffer: left alone. */
    CU_ASSERT_FALSE(vs_thp_tunables("glibc.malloc.arena_max=2", NULL, v, 10));
}

/* The executable re-executes itself (address randomisation off) before it
 * opens the simulator, so SimGrid is loaded once a run, not twice (tens of
 * milliseconds each): the dynamic loader's log, which the re-executed
 * process inherits, names its loading once. */
static void test_simulator_loaded_once(void)
{
    static char out[1 << 16];
    int rc = th_sh(out, sizeof out,
                   "LD_DEBUG=files %s run --dry-run pingpong 2>&1 | "
                   "grep -c 'file=libsimgrid.*needed by'",
                   th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(out, "1\n");
}

/* The README's example of `make run` is what the simulator prints: every
 * line of that block but "..." is a line of `vmmcsim run pingpong`'s
 * output (the figures drift with calibration changes otherwise). */
static void test_readme_example(void)
{
    char *readme = th_read_file("README.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(readme);
    static const char first[] =
        "vmmcsim pingpong on configs/myrinet-2.xml, profile "
        "configs/myrinet.ini, seed 1\n";
    char *block = strstr(readme, first);
    CU_ASSERT_PTR_NOT_NULL_FATAL(block);
    char *end = strstr(block, "```");
    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    *end = 0;
    static struct cli_result r;
    run_cli(&r, "run", "pingpong", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    int checked = 0;
    for (char *line = block, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = 0;
        if (!*line || !strcmp(line + strspn(line, " "), "..."))
            continue;
        /* the whole line, at the start of a line of the output */
        int found = 0;
        size_t n = strlen(line);
        for (const char *p = r.out; (p = strstr(p, line)); p++)
            if ((p == r.out || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
                found = 1;
        if (!found)
            fprintf(stderr, "README.md line not in the output: '%s'\n", line);
        CU_ASSERT(found);
        checked++;
    }
    CU_ASSERT(checked >= 4);
    free(readme);
}

/* The profile's published figures are compared (in %) only on the
 * platform they were measured on ([reference] platform); elsewhere they
 * are shown next to the simulated one, naming that platform. */
static void test_reference_other_platform(void)
{
    static struct cli_result r;
    run_cli(&r, "run", "--platform", "configs/myrinet-8.xml", "pingpong",
            "--sizes", "4", "--iters", "2", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "us (published 9.80 us, on myrinet-2.xml)\n");
    CU_ASSERT(strstr(r.out, "%)") == NULL);
    run_cli(&r, "run", "--platform", "configs/myrinet-8.xml", "bandwidth",
            "--sizes", "64K", "--count", "4", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, " B; published 108.4 MB/s, on myrinet-2.xml)\n");
    CU_ASSERT(strstr(r.out, "%)") == NULL);
    /* the same platform by another path: compared */
    char path[PATH_MAX];
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath("configs/myrinet-2.xml", path));
    run_cli(&r, "run", "--platform", path, "pingpong", "--sizes", "4",
            "--iters", "2", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    TH_EXPECT_HAS(r.out, "us, published 9.80 us (");
}

void register_cli_tests(void)
{
    CU_pSuite s = th_suite("cli");
    th_add(s, "no arguments prints usage, exit 2", test_no_arguments);
    th_add(s, "unknown command", test_unknown_command);
    th_add(s, "run without a workload", test_no_workload);
    th_add(s, "unknown workload", test_unknown_workload);
    th_add(s, "unknown option", test_unknown_option);
    th_add(s, "option without its value", test_missing_option_value);
    th_add(s, "bad --seed", test_bad_seed);
    th_add(s, "bad --sizes / --iters", test_bad_sizes);
    th_add(s, "bad --max-time", test_bad_max_time);
    th_add(s, "bad --log spec", test_bad_log_spec);
    th_add(s, "missing profile file", test_missing_profile);
    th_add(s, "missing platform file", test_missing_platform);
    th_add(s, "malformed platform XML names file:line", test_malformed_platform);
    th_add(s, "one-host platform for pingpong", test_one_host_platform);
    th_add(s, "out-of-range profile value names file:line:key",
           test_bad_profile_value);
    th_add(s, "--help lists the workloads", test_help);
    th_add(s, "CSV output format", test_csv_output);
    th_add(s, "CSV output is deterministic", test_csv_deterministic);
    th_add(s, "a run that fails exits 1", test_run_failed_exit_1);
    th_add(s, "huge pages asked for unless VMMCSIM_NO_THP or the user's "
              "GLIBC_TUNABLES says otherwise",
           test_thp_tunables);
    th_add(s, "the simulator is loaded once a run, after the re-execution",
           test_simulator_loaded_once);
    th_add(s, "the README's example output is what run pingpong prints",
           test_readme_example);
    th_add(s, "published figures compared only on their platform",
           test_reference_other_platform);
}
