/*
 * --timeline FILE and --stats --json: the Chrome trace-event file is
 * complete JSON in form, has a named track per NIC engine and per link,
 * each track's intervals are in time order without overlap, and each
 * track's durations add up to the busy time --stats reports for it; the
 * per-size latency percentiles count every message once, in order.
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

/* Latency percentiles per size class: every delivered message counted
 * once, in the class of its size, quantiles in order; the same run gives
 * the same figures. */
static void test_latency_by_size(void)
{
    static struct cli_result r, again;
    run_cli(&r, "run", "--json", "--platform", TH_PLATFORM_8, "alltoall",
            "--messages", "200", "--max-size", "4K", (char *)NULL);
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    const char *p = strstr(r.out, "\"latency_by_size\":[");
    CU_ASSERT_FATAL(p != NULL);
    double total = 0, last_to = -1;
    int classes = 0;
    for (const char *e = strstr(p, "{\"size_from\""); e;
         e = strstr(e + 1, "{\"size_from\"")) {
        double from = num_after(e, "size_from"), to = num_after(e, "size_to");
        double p50 = num_after(e, "p50_us"), p90 = num_after(e, "p90_us"),
               p99 = num_after(e, "p99_us"), mx = num_after(e, "max_us");
        CU_ASSERT(from > last_to && to >= from && to <= 4096 * 2);
        CU_ASSERT(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= mx);
        total += num_after(e, "messages");
        last_to = to;
        classes++;
    }
    CU_ASSERT(classes >= 8);
    CU_ASSERT_DOUBLE_EQUAL(total, num_after(r.out, "messages_delivered"),
                           0.5);
    CU_ASSERT_DOUBLE_EQUAL(total, 200, 0.5);
    run_cli(&again, "run", "--json", "--platform", TH_PLATFORM_8, "alltoall",
            "--messages", "200", "--max-size", "4K", (char *)NULL);
    const char *q = strstr(again.out, "\"latency_by_size\":[");
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(strncmp(p, q, (size_t)(strchr(p, ']') - p)), 0);
}

void register_timeline_tests(void);
void register_timeline_tests(void)
{
    CU_pSuite s = th_suite("timeline");
    th_add(s, "--timeline tracks match --stats", test_timeline);
    th_add(s, "latency percentiles per message size", test_latency_by_size);
}
