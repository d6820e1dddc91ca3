/*
 * vmmcsim sweep: a short sweep of the reliability scenario passes on every
 * seed; a broken scenario (the reliable link turned off under packet loss)
 * fails on every seed with the liveness invariant, writes JUnit XML with a
 * reproducer per seed, and the reproducer fails the same way; bad sweep
 * input exits 2 with one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/sweep.h"
#include "util/inv.h"
#include "tests/harness.h"

struct argv_cmd {
    const char *argv[40];
};

static int run_argv(void *arg)
{
    struct argv_cmd *c = arg;
    int argc = 0;
    while (c->argv[argc])
        argc++;
    return cli_main(argc, (char **)c->argv);
}

static char out[65536], err[16384];

static int sweep(struct argv_cmd *c)
{
    return th_capture(run_argv, c, out, sizeof out, err, sizeof err);
}

/* A few hundred seeds; under the sanitizers each run is ~20x slower, and
 * the plain build covers the count. */
#if defined(__SANITIZE_ADDRESS__)
#define SWEEP_SEEDS "1-20"
#define SWEEP_SUMMARY "\"seeds\":20,\"passed\":20,\"failed\":0"
#else
#define SWEEP_SEEDS "1-200"
#define SWEEP_SUMMARY "\"seeds\":200,\"passed\":200,\"failed\":0"
#endif

static void test_sweep_passes(void)
{
    struct argv_cmd c = {{"vmmcsim", "sweep", "--seeds", SWEEP_SEEDS, "--jobs",
                          "2", "--json", "--platform", TH_PLATFORM_8,
                          "--faults", "drop=0.05,corrupt=0.01,dup=0.01",
                          "alltoall", "--messages", "100", "--max-size",
                          "16K", "--verify", NULL}};
    int rc = sweep(&c);
    if (rc)
        fprintf(stderr, "sweep failed (%d): %s %s\n", rc, out, err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, SWEEP_SUMMARY));
}

static void test_sweep_catches_and_reproduces(void)
{
    char prof[] = "/tmp/vmmcsim-sweep-XXXXXX";
    char junit[] = "/tmp/vmmcsim-junit-XXXXXX";
    int pf = mkstemp(prof), jf = mkstemp(junit);
    CU_ASSERT_FATAL(pf >= 0 && jf >= 0);
    close(jf);
    /* The shipped profile with the reliable link turned off. */
    FILE *in = fopen(TH_PROFILE, "r"), *o = fdopen(pf, "w");
    CU_ASSERT_FATAL(in && o);
    char line[512];
    while (fgets(line, sizeof line, in))
        fputs(strncmp(line, "enabled = 1", 11) ? line : "enabled = 0\n", o);
    fclose(in);
    fclose(o);
    struct argv_cmd c = {{"vmmcsim", "sweep", "--seeds", "1-8", "--junit",
                          junit, "--profile", prof, "--platform",
                          TH_PLATFORM_8, "--faults", "drop=0.02",
                          "--max-time", "2s", "alltoall", "--messages", "100",
                          "--max-size", "16K", "--verify", NULL}};
    CU_ASSERT_EQUAL(sweep(&c), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0 passed, 8 failed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "seed 3 FAILED (liveness)"));
    /* The reproducer of seed 3, run as printed, fails the same way. */
    const char *rep = strstr(out, "reproduce: ");
    CU_ASSERT_FATAL(rep != NULL);
    rep = strstr(strstr(out, "seed 3 FAILED"), "reproduce: ") + 11;
    char cmd[2048];
    size_t n = strcspn(rep, "\n");
    CU_ASSERT_FATAL(n < sizeof cmd);
    memcpy(cmd, rep, n);
    cmd[n] = 0;
    struct argv_cmd r = {{"vmmcsim"}};
    int argc = 0;
    for (char *save, *t = strtok_r(cmd, " ", &save); t && argc < 39;
         t = strtok_r(NULL, " ", &save)) {
        r.argv[argc] = argc ? t : "vmmcsim";
        argc++;
    }
    r.argv[argc] = NULL;
    CU_ASSERT_STRING_EQUAL(r.argv[1], "run");
    CU_ASSERT_STRING_EQUAL(r.argv[3], "3");
    CU_ASSERT_EQUAL(sweep(&r), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "run failed"));
    /* JUnit: 8 cases, 8 failures, each with its reproducer. */
    FILE *j = fopen(junit, "r");
    CU_ASSERT_FATAL(j != NULL);
    size_t len = fread(out, 1, sizeof out - 1, j);
    out[len] = 0;
    fclose(j);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "tests=\"8\" failures=\"8\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<failure type=\"liveness\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "run --seed 8 "));
    unlink(prof);
    unlink(junit);
}

static void expect_bad(const char *const *args, const char *needle)
{
    struct argv_cmd c = {{"vmmcsim", "sweep"}};
    int i = 2;
    for (; *args; args++)
        c.argv[i++] = *args;
    CU_ASSERT_EQUAL(sweep(&c), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "vmmcsim: error: sweep: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    CU_ASSERT_PTR_NOT_NULL(strchr(err, '\n'));
    CU_ASSERT_PTR_NULL(strchr(strchr(err, '\n') + 1, '\n'));
}

static void test_sweep_bad_input(void)
{
    const char *a[] = {"--seeds", "9-2", "alltoall", NULL};
    expect_bad(a, "reversed");
    const char *b[] = {"--seeds", "", "alltoall", NULL};
    expect_bad(b, "--seeds");
    const char *c[] = {"--seeds", "1-3", "--jobs", "0", "alltoall", NULL};
    expect_bad(c, "--jobs");
    const char *d[] = {"alltoall", NULL};
    expect_bad(d, "--seeds A-B is required");
    const char *e[] = {"--seeds", "1-2", "--junit", "/nonexistent/dir/x.xml",
                       "alltoall", NULL};
    expect_bad(e, "/nonexistent/dir/x.xml");
    const char *f[] = {"--seeds", "1-2", "--profile", "/nonexistent.ini",
                       "alltoall", NULL};
    expect_bad(f, "/nonexistent.ini");
    const char *g[] = {"--seeds", "1-2", "--seed", "4", "alltoall", NULL};
    expect_bad(g, "--seed");
}

/* --emit-slurm writes the job array; each task's slice run with --results
 * (as the job script runs it) and --merge gives what a local sweep of the
 * same seeds gives; a missing or torn task file is bad input naming the
 * task. */
static void test_sweep_emit_and_merge(void)
{
    char dir[] = "/tmp/vmmcsim-slurm-XXXXXX", path[256], res[256];
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
#define SCENARIO "--platform", TH_PLATFORM_8, "--faults", "drop=0.05", \
                 "alltoall", "--messages", "30", "--verify"
    struct argv_cmd e = {{"vmmcsim", "sweep", "--emit-slurm", dir, "--tasks",
                          "2", "--seeds", "1-6", SCENARIO, NULL}};
    CU_ASSERT_EQUAL_FATAL(sweep(&e), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "sbatch --wait "));
    snprintf(path, sizeof path, "%s/sweep.sbatch", dir);
    char *script = th_read_file(path);
    CU_ASSERT_FATAL(script != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(script, "#SBATCH --array=0-1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(script, "1) SEEDS=4-6"));
    free(script);
    const char *slices[2] = {"1-3", "4-6"};
    for (int k = 0; k < 2; k++) {
        snprintf(res, sizeof res, "%s/results/task-%d.tsv", dir, k);
        struct argv_cmd t = {{"vmmcsim", "sweep", "--seeds", slices[k],
                              "--jobs", "1", "--results", res, SCENARIO,
                              NULL}};
        CU_ASSERT_EQUAL(sweep(&t), 0);
    }
    struct argv_cmd local = {{"vmmcsim", "sweep", "--json", "--seeds", "1-6",
                              SCENARIO, NULL}};
    CU_ASSERT_EQUAL(sweep(&local), 0);
    char want[512];
    snprintf(want, sizeof want, "%.*s", (int)(strstr(out, ",\"wall_s\"") - out),
             out);
    CU_ASSERT_PTR_NOT_NULL(strstr(want, "\"seeds\":6,\"passed\":6"));
    struct argv_cmd m = {{"vmmcsim", "sweep", "--merge", dir, "--json", NULL}};
    CU_ASSERT_EQUAL(sweep(&m), 0);
    CU_ASSERT_EQUAL(strncmp(out, want, strlen(want)), 0);
    /* A second sweep into the same folder would mix with these results. */
    CU_ASSERT_EQUAL(sweep(&e), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "holds the results of an earlier"));
    /* Torn: no end line. */
    FILE *f = fopen(res, "r+");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL(ftruncate(fileno(f), 30), 0);
    fclose(f);
    CU_ASSERT_EQUAL(sweep(&m), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "task 1 (seeds 4-6)"));
    unlink(res);
    CU_ASSERT_EQUAL(sweep(&m), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "task 1 (seeds 4-6) has no results"));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
#undef SCENARIO
}

/* Splits a printed command into c (argv[0] becomes "vmmcsim"). */
static void split_command(const char *line, char *buf, size_t len,
                          struct argv_cmd *c)
{
    size_t n = strcspn(line, "\n");
    CU_ASSERT_FATAL(n < len);
    memcpy(buf, line, n);
    buf[n] = 0;
    int argc = 0;
    for (char *save, *t = strtok_r(buf, " ", &save); t && argc < 39;
         t = strtok_r(NULL, " ", &save)) {
        c->argv[argc] = argc ? t : "vmmcsim";
        argc++;
    }
    c->argv[argc] = NULL;
}

/* --shrink: the failing seed of the broken scenario (no reliable link under
 * 2% loss) is cut down to one dropped packet, as a fault list, and fewer
 * messages of one byte; the printed reproducer fails the same way, and
 * without that one fault it passes. */
static void test_sweep_shrink(void)
{
    char prof[TH_PATH_LEN];
    char *text = th_read_file(TH_PROFILE);
    CU_ASSERT_FATAL(text != NULL);
    char *p = strstr(text, "enabled = 1");
    CU_ASSERT_FATAL(p != NULL);
    p[10] = '0';
    th_write_tmp(prof, "shrink", text);
    free(text);
    struct argv_cmd c = {{"vmmcsim", "sweep", "--seeds", "1", "--shrink",
                          "--profile", prof, "--platform", TH_PLATFORM_8,
                          "--faults", "drop=0.02", "--max-time", "2s",
                          "alltoall", "--messages", "100", "--max-size",
                          "16K", "--verify", NULL}};
    CU_ASSERT_EQUAL(sweep(&c), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "shrink: seed 1 fails (liveness)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " -> 1 (as --fault-list)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--max-size 16384 -> 1\n"));
    const char *rep = strstr(out, "fails the same way (liveness):\n  ");
    CU_ASSERT_FATAL(rep != NULL);
    rep = strchr(rep, '\n') + 3;
    CU_ASSERT_PTR_NULL(strstr(rep, "--faults"));
    char buf[2048];
    struct argv_cmd r = {{NULL}};
    split_command(rep, buf, sizeof buf, &r);
    CU_ASSERT_EQUAL(sweep(&r), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "simulated time limit"));
    /* The one fault is the cause: with an empty list the run passes. */
    int i = 0;
    while (r.argv[i] && strcmp(r.argv[i], "--fault-list"))
        i++;
    CU_ASSERT_FATAL(r.argv[i] != NULL);
    CU_ASSERT_PTR_NULL(strchr(r.argv[i + 1], ','));
    r.argv[i + 1] = "";
    CU_ASSERT_EQUAL(sweep(&r), 0);
    unlink(prof);
}

/* The invariant record: a violation is counted, the first message kept
 * with where it was found; a condition that holds records nothing. */
static void test_invariant_record(void)
{
    vs_inv_reset();
    VS_INV(1 + 1 == 2, "resources: never");
    CU_ASSERT_EQUAL(vs_inv_count(), 0);
    CU_ASSERT_STRING_EQUAL(vs_inv_first(), "");
    int evaluated = 0;
    VS_INV((evaluated = 1, 0), "resources: node %d over by %d", 3, 7);
    VS_INV(0, "simulator: second");
    CU_ASSERT_EQUAL(evaluated, VS_INVARIANTS_ON);
    CU_ASSERT_EQUAL(vs_inv_count(), VS_INVARIANTS_ON ? 2 : 0);
    if (VS_INVARIANTS_ON) {
        CU_ASSERT_PTR_NOT_NULL(
            strstr(vs_inv_first(), "resources: node 3 over by 7 ("));
        CU_ASSERT_PTR_NOT_NULL(strstr(vs_inv_first(), "test_sweep.c:"));
    }
    vs_inv_reset();
    CU_ASSERT_EQUAL(vs_inv_count(), 0);
}

/* How a run's output is judged: a violated invariant by its kind (from
 * the run's stderr), ahead of the exit status; then protection, the
 * fabric's leftovers, delivery. */
static void test_sweep_judge(void)
{
    struct sweep_result r = {.seed = 1, .status = 1};
    sweep__judge(&r, "", "vmmcsim: invariant violated: resources: node 2: "
                         "7 packets in flight (vmmc/fw_send.c:1)\n"
                         "vmmcsim: run failed: 1 invariant violation(s)\n");
    CU_ASSERT_STRING_EQUAL(r.invariant, "resources");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "node 2: 7 packets in flight"));
    sweep__judge(&r, "", "vmmcsim: invariant violated: simulator: time "
                         "went back\n");
    CU_ASSERT_STRING_EQUAL(r.invariant, "simulator");
    sweep__judge(&r, "", "vmmcsim: invariant violated: bogus: x\n");
    CU_ASSERT_STRING_EQUAL(r.invariant, "simulator");
    sweep__judge(&r, "", "vmmcsim: run failed: deadlock\n");
    CU_ASSERT_STRING_EQUAL(r.invariant, "liveness");
    r.status = 0;
    sweep__judge(&r, "{\"messages_sent\":5,\"messages_delivered\":5,"
                     "\"bytes_outside_changed\":3,\"packets_in_flight\":0}",
                 "");
    CU_ASSERT_STRING_EQUAL(r.invariant, "protection");
    sweep__judge(&r, "{\"messages_sent\":5,\"messages_delivered\":4,"
                     "\"bytes_outside_changed\":0}",
                 "");
    CU_ASSERT_STRING_EQUAL(r.invariant, "delivery");
    sweep__judge(&r, "{\"messages_sent\":5,\"messages_delivered\":5,"
                     "\"corrupt_delivered\":0,\"duplicates_delivered\":0,"
                     "\"send_errors\":0,\"bytes_outside_changed\":0}",
                 "");
    CU_ASSERT_PTR_NULL(r.invariant);
    r.status = 134;
    sweep__judge(&r, "", "");
    CU_ASSERT_STRING_EQUAL(r.invariant, "simulator");
}

void register_sweep_tests(void);
void register_sweep_tests(void)
{
    CU_pSuite s = th_suite("sweep");
    th_add(s, "a sweep of the reliability scenario passes", test_sweep_passes);
    th_add(s, "a broken scenario fails, with reproducers",
           test_sweep_catches_and_reproduces);
    th_add(s, "bad sweep input", test_sweep_bad_input);
    th_add(s, "a sweep emitted for Slurm merges back",
           test_sweep_emit_and_merge);
    th_add(s, "invariant violations are recorded", test_invariant_record);
    th_add(s, "--shrink cuts a failure down to one fault",
           test_sweep_shrink);
    th_add(s, "runs are judged by the invariant they break",
           test_sweep_judge);
}
