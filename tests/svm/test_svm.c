/*
 * libs/svm: shared virtual memory with home-based lazy release consistency.
 * The programs under test are ordinary C programs (tests/svm/progs/
 * svmcheck.c and examples/svm/), built with vmmcsim-cc and run with the
 * vmmcsim binary beside this runner (vmmcsim exec), as a user runs them.
 * Each checks what every node sees and exits non-zero on a mismatch; the
 * tests check the exit status and the lines node 0 prints.  The coherence
 * tests run again with the fabric's fault model on (drops, duplicates,
 * corruption, reordering, recovered by VMMC's link protocol): the results
 * and the protocol's counts must not change.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cli/exec_helpers.h"
#include "tests/harness.h"

static char out[65536], out2[65536];
static char check_prog[PATH_MAX];
static char faulty_profile[PATH_MAX];

/* svmcheck, built once for the suite. */
static const char *check(void)
{
    if (!check_prog[0] &&
        th_build_program("tests/svm/progs/svmcheck.c", check_prog))
        check_prog[0] = 0;
    return check_prog;
}

/* configs/myrinet.ini with the fault model on. */
static const char *faulty(void)
{
    if (faulty_profile[0])
        return faulty_profile;
    snprintf(faulty_profile, sizeof faulty_profile,
             "/tmp/vmmcsim-svm-faults-%d.ini", (int)getpid());
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd,
             "{ cat %s; printf '\\n[faults]\\ndrop = 0.02\\ncorrupt = 0.01\\n"
             "dup = 0.01\\nreorder = 0.01\\n'; } > %s",
             TH_PROFILE, faulty_profile);
    if (th_sh(out, sizeof out, "%s", cmd))
        faulty_profile[0] = 0;
    return faulty_profile;
}

/* Runs svmcheck on n nodes (8-node platform) with args; with faults on if
 * asked.  Returns the exit status; the output is in buf. */
static int run_check(char *buf, size_t len, int n, int with_faults,
                     const char *args)
{
    if (!check()[0] || (with_faults && !faulty()[0]))
        return -1;
    char prof[PATH_MAX + 64] = "";
    if (with_faults)
        snprintf(prof, sizeof prof, "--profile %s --seed 7", faulty());
    return th_sh(buf, len, "%s exec -n %d --platform %s %s %s %s", th_vmmcsim(),
                 n, TH_PLATFORM_8, prof, check(), args);
}

#define EXPECT_OK(rc, text)                                                    \
    do {                                                                       \
        CU_ASSERT_EQUAL(rc, 0);                                                \
        CU_ASSERT_PTR_NOT_NULL(strstr(out, text));                             \
        if ((rc) != 0 || !strstr(out, text))                                   \
            fprintf(stderr, "\n--- output:\n%s\n", out);                       \
    } while (0)

/* "svmcheck coherence" on 4 nodes, faults off ([0]) and on ([1]): disjoint
 * writers, lock counters and barrier visibility in one run each. */
static char coh_out[2][8192];
static int coh_rc[2] = {-2, -2};

static const char *coherence(int with_faults)
{
    if (coh_rc[with_faults] == -2)
        coh_rc[with_faults] = run_check(coh_out[with_faults], sizeof coh_out[0],
                                        4, with_faults, "coherence 4");
    return coh_out[with_faults];
}

#define EXPECT_COHERENT(text)                                                  \
    do {                                                                       \
        for (int f_ = 0; f_ < 2; f_++) {                                       \
            const char *o_ = coherence(f_);                                    \
            CU_ASSERT_EQUAL(coh_rc[f_], 0);                                    \
            CU_ASSERT_PTR_NOT_NULL(strstr(o_, text));                          \
            if (coh_rc[f_] != 0 || !strstr(o_, text))                          \
                fprintf(stderr, "\n--- output (faults %s):\n%s\n",             \
                        f_ ? "on" : "off", o_);                                \
        }                                                                      \
    } while (0)

static void test_disjoint_writers(void)
{
    /* Every node writes every n-th byte of one page, 4 rounds. */
    EXPECT_COHERENT("disjoint ok on 4 node(s)");
    /* Three nodes: another page split and another home. */
    EXPECT_OK(run_check(out, sizeof out, 3, 0, "disjoint 2"),
              "disjoint ok on 3 node(s)");
}

static void test_lock_counters(void)
{
    /* Three counters, each under its own lock (managed by different
     * nodes), 6 increments per node each, and a word per node beside
     * each counter written under the same lock. */
    EXPECT_COHERENT("counter ok on 4 node(s)");
}

static void test_barrier_visibility(void)
{
    /* Each round another node rewrites 8 pages; all read them. */
    EXPECT_COHERENT("barrier ok on 4 node(s)");
}

static void test_counts(void)
{
    /* Node 1 of 2 reads a byte of node 0's page 0 and writes one byte of
     * its page 1: one read fault, one write fault, two fetches, one twin,
     * one diff of one byte, applied at node 0. */
    int rc = run_check(out, sizeof out, 2, 0, "stats");
    EXPECT_OK(rc, "stats ok");
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "stats node 1: read_faults 1 write_faults 1 fetches 2 "
                    "twins 1 diffs 1 diff_bytes 1 x 0\n"));
    /* The same counts with faults on: the link protocol hides them. */
    CU_ASSERT_EQUAL(run_check(out2, sizeof out2, 2, 1, "stats"), 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out2, "stats node 1: read_faults 1 write_faults 1 fetches 2 "
                     "twins 1 diffs 1 diff_bytes 1 x 0\n"));
}

static void test_bad_calls(void)
{
    /* Calls before svm_init, bad sizes, lock ids, a release of a lock not
     * held, addresses outside the region, calls after svm_finalize: each
     * its documented error (svmcheck "errors" checks them all). */
    EXPECT_OK(run_check(out, sizeof out, 2, 0, "errors"), "errors ok");
    /* Nodes asking for different sizes: VS_EINVAL everywhere, no hang. */
    EXPECT_OK(run_check(out, sizeof out, 3, 0, "mismatch"), "mismatch ok");
    /* One node's svm_init fails before it joins: the others time out. */
    EXPECT_OK(run_check(out, sizeof out, 3, 0, "halfjoin"), "halfjoin ok");
}

static void test_fault_elsewhere(void)
{
    /* A stray access outside every region is not the library's: it goes
     * to the handler that was there before, and the run dies of it
     * instead of hanging or being swallowed. */
    int rc = run_check(out, sizeof out, 2, 0, "segv");
    CU_ASSERT_NOT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NULL(strstr(out, "segv ok"));
    CU_ASSERT_PTR_NULL(strstr(out, "deadlock"));
    /* A pointer into another node's view: named, then the same. */
    rc = run_check(out, sizeof out, 2, 0, "otherview");
    CU_ASSERT_NOT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "svm: node 1 touched node 0's view "
                                       "of the shared region at 0x"));
    CU_ASSERT_PTR_NULL(strstr(out, "otherview ok"));
}

/* Builds an example into path; 0 if it worked. */
static int build_example(const char *name, char *path)
{
    char src[PATH_MAX];
    snprintf(src, sizeof src, "examples/svm/%s.c", name);
    return th_build_program(src, path);
}

static void test_applications(void)
{
    static const struct {
        const char *name, *args;
        int nodes;
    } runs[] = {
        {"matmul", "48", 4},
        {"sor", "40 3", 3},
        {"radix", "6000", 4},
    };
    char prog[PATH_MAX];
    const char *built = "";
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        if (strcmp(built, runs[i].name)) {
            if (built[0])
                unlink(prog);
            CU_ASSERT_EQUAL_FATAL(build_example(runs[i].name, prog), 0);
            built = runs[i].name;
        }
        int rc = th_sh(out, sizeof out, "%s exec -n %d --platform %s %s %s",
                       th_vmmcsim(), runs[i].nodes, TH_PLATFORM_8, prog,
                       runs[i].args);
        char line[128];
        snprintf(line, sizeof line, "on %d node(s): ", runs[i].nodes);
        EXPECT_OK(rc, "result matches the serial computation");
        CU_ASSERT_PTR_NOT_NULL(strstr(out, line));
        /* Deterministic: the same run gives the same result line (time
         * and counts), whatever the process allocated before the program
         * ran: here the platform's path spelled another way, and no huge
         * pages (util/dheap.h).  Under AddressSanitizer the libraries'
         * buffers come from its heap: there only the same command again. */
        {
#if defined(__SANITIZE_ADDRESS__)
            th_sh(out2, sizeof out2, "%s exec -n %d --platform %s %s %s",
                  th_vmmcsim(), runs[i].nodes, TH_PLATFORM_8, prog,
                  runs[i].args);
#else
            char cwd[PATH_MAX];
            CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
            th_sh(out2, sizeof out2,
                  "VMMCSIM_NO_THP=1 %s exec -n %d --platform %s/./%s %s %s",
                  th_vmmcsim(), runs[i].nodes, cwd, TH_PLATFORM_8, prog,
                  runs[i].args);
#endif
            const char *r1 = strstr(out, "svm-result,"),
                       *r2 = strstr(out2, "svm-result,");
            CU_ASSERT_PTR_NOT_NULL(r1);
            CU_ASSERT_PTR_NOT_NULL(r2);
            if (r1 && r2)
                CU_ASSERT_EQUAL(strcspn(r1, "\n"), strcspn(r2, "\n"));
            if (r1 && r2)
                CU_ASSERT_EQUAL(strncmp(r1, r2, strcspn(r1, "\n")), 0);
        }
    }
    unlink(prog);
}

static void test_cleanup(void)
{
    if (check_prog[0])
        unlink(check_prog);
    if (faulty_profile[0])
        unlink(faulty_profile);
    check_prog[0] = faulty_profile[0] = 0;
}

void register_svm_tests(void);
void register_svm_tests(void)
{
    CU_pSuite s = th_suite("svm");
    th_add(s, "disjoint writers to one page, faults off and on",
           test_disjoint_writers);
    th_add(s, "lock-protected counters, faults off and on", test_lock_counters);
    th_add(s, "barrier visibility, faults off and on", test_barrier_visibility);
    th_add(s, "the protocol's counts, faults off and on", test_counts);
    th_add(s, "bad calls return their documented errors", test_bad_calls);
    th_add(s, "a fault outside the region is not swallowed",
           test_fault_elsewhere);
    th_add(s, "matmul, SOR and radix sort check their results",
           test_applications);
    th_add(s, "(clean up)", test_cleanup);
}
