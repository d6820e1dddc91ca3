/*
 * --timeline FILE and --stats --json: the Chrome trace-event file is
 * complete JSON in form, has a named track per NIC engine and per link,
 * each track's intervals are in time order without overlap, and each
 * track's durations add up to the busy time --stats reports for it.
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cli/cli_helpers.h"
#include "tests/harness.h"

#define MAXTRACK 64

struct track {
    double end, sum;
    long events, disorder;
};

/* The value after "key": in [s, ...), or NAN. */
static double num_after(const char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(s, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static void test_timeline(void)
{
    char path[] = "/tmp/vmmcsim-timeline-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    struct cli_result r;
    run_cli(&r, "run", "--platform", TH_PLATFORM_8, "--timeline", path,
            "--stats", "--json", "alltoall", "--messages", "40", "--verify",
            (char *)NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    char *text = th_read_file(path);
    CU_ASSERT_FATAL(text != NULL);
    const char *head = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
    CU_ASSERT_EQUAL(strncmp(text, head, strlen(head)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"name\":\"NIC processor\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"name\":\"receive-DMA\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"name\":\"sw0_link_0_UP\""));
    size_t len = strlen(text);
    CU_ASSERT(len > 4 && !strcmp(text + len - 4, "\n]}\n"));
    /* Node 0 is pid 1, engines tid 1..5; the fabric is pid 9. */
    struct track node0[6] = {{0}}, fabric[MAXTRACK] = {{0}};
    long events = 0;
    for (const char *p = strstr(text, "{\"ph\":\"X\""); p;
         p = strstr(p + 1, "{\"ph\":\"X\"")) {
        int pid = (int)num_after(p, "pid"), tid = (int)num_after(p, "tid");
        double ts = num_after(p, "ts"), dur = num_after(p, "dur");
        struct track *t = pid == 1 && tid >= 1 && tid <= 5 ? &node0[tid]
                          : pid == 9 && tid >= 1 && tid < MAXTRACK
                              ? &fabric[tid]
                              : NULL;
        events++;
        CU_ASSERT(dur > 0);
        if (!t)
            continue;
        t->disorder += ts < t->end - 1e-6;
        t->end = ts + dur;
        t->sum += dur;
        t->events++;
    }
    CU_ASSERT(events > 1000);
    /* The first "nics" entry is node 0. */
    const char *nics = strstr(r.out, "\"nics\":[");
    CU_ASSERT_FATAL(nics != NULL);
    static const char *const keys[6] = {NULL, "cpu_busy_us", "hdma_busy_us",
                                        "sdma_busy_us", "rdma_busy_us",
                                        "bus_busy_us"};
    for (int e = 1; e <= 5; e++) {
        CU_ASSERT(node0[e].events > 0);
        CU_ASSERT_EQUAL(node0[e].disorder, 0);
        CU_ASSERT_DOUBLE_EQUAL(node0[e].sum, num_after(nics, keys[e]), 1e-3);
    }
    /* Links: every track in order; link 1's total is its busy time. */
    for (int l = 0; l < MAXTRACK; l++)
        CU_ASSERT_EQUAL(fabric[l].disorder, 0);
    const char *l1 = strstr(r.out, "{\"link\":1,");
    CU_ASSERT_FATAL(l1 != NULL);
    CU_ASSERT(fabric[2].events > 0);
    CU_ASSERT_DOUBLE_EQUAL(fabric[2].sum, num_after(l1, "busy_us"), 1e-3);
    double util = num_after(l1, "utilisation");
    CU_ASSERT(util > 0 && util < 1);
    free(text);
    unlink(path);
    /* An unwritable file is bad input. */
    run_cli(&r, "run", "--timeline", "/nonexistent/dir/t.json", "pingpong",
            (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: ", "--timeline",
                   "/nonexistent/dir/t.json", (char *)NULL);
}

void register_timeline_tests(void);
void register_timeline_tests(void)
{
    CU_pSuite s = th_suite("timeline");
    th_add(s, "--timeline tracks match --stats", test_timeline);
}
