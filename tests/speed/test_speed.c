/*
 * Simulator speed at scale (docs/speed.md): the all-to-all's scheme for
 * large clusters (slot groups handed on by grant words, imports made when
 * needed and dropped least recently used, a dissemination barrier) delivers
 * every message exactly once with every byte checked, also when few pairs
 * have messages (grants pass over empty steps) and when the fabric drops
 * packets; the event queue's 4-ary heap fires events in (time, sequence)
 * order while events are cancelled from anywhere in it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/engine.h"
#include "tests/harness.h"
#include "util/rng.h"

/* A crossbar of n nodes, as bench/speed.sh generates. */
static void crossbar(char path[static TH_PATH_LEN], int n)
{
    char text[1024];
    snprintf(text, sizeof text,
             "<?xml version='1.0'?>\n"
             "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
             "<platform version=\"4.1\">\n"
             "  <zone id=\"world\" routing=\"Full\">\n"
             "    <cluster id=\"sw0\" prefix=\"node-\" suffix=\"\" "
             "radical=\"0-%d\" speed=\"166Mf\" bw=\"160MBps\" lat=\"0.05us\" "
             "sharing_policy=\"SPLITDUPLEX\"/>\n"
             "  </zone>\n"
             "</platform>\n",
             n - 1);
    th_write_tmp(path, "speed-xbar", text);
}

/* Runs an all-to-all with --verify --json on n nodes; checks that all
 * `messages` arrived once, checked, with nothing else touched. */
static void alltoall(int n, const char *messages, const char *max_size,
                     const char *faults)
{
    static char out[16384];
    char err[4096];
    char plat[TH_PATH_LEN];
    crossbar(plat, n);
    const char *args[20];
    int k = 0;
    args[k++] = "run";
    args[k++] = "--json";
    args[k++] = "--platform";
    args[k++] = plat;
    if (faults) {
        args[k++] = "--faults";
        args[k++] = faults;
        args[k++] = "--seed";
        args[k++] = "5";
    }
    args[k++] = "alltoall";
    args[k++] = "--verify";
    args[k++] = "--messages";
    args[k++] = messages;
    args[k++] = "--max-size";
    args[k++] = max_size;
    args[k] = NULL;
    int rc = th_cli(args, out, sizeof out, err, sizeof err);
    unlink(plat);
    if (rc)
        fprintf(stderr, "vmmcsim failed (%d): %s\n", rc, err);
    TH_EXPECT_EQ(rc, 0);
    long long m = atoll(messages);
    TH_EXPECT_EQ(th_json_num(out, "nodes"), n);
    TH_EXPECT_EQ(th_json_num(out, "messages_sent"), m);
    TH_EXPECT_EQ(th_json_num(out, "messages_delivered"), m);
    TH_EXPECT_EQ(th_json_num(out, "bytes_verified"),
                 th_json_num(out, "bytes_delivered"));
    CU_ASSERT(th_json_num(out, "bytes_delivered") >= m);
    TH_EXPECT_EQ(th_json_num(out, "corrupt_delivered"), 0);
    TH_EXPECT_EQ(th_json_num(out, "duplicates_delivered"), 0);
    TH_EXPECT_EQ(th_json_num(out, "send_errors"), 0);
    TH_EXPECT_EQ(th_json_num(out, "bytes_outside_changed"), 0);
    if (faults)
        CU_ASSERT(th_json_num(out, "retransmissions") > 0);
}

/* 40 nodes (above the 22 whose imports all fit): two messages per pair,
 * so both slots of a group and every hand-over are used. */
static void test_windowed_alltoall(void)
{
    alltoall(40, "3120", "16K", NULL);
}

/* 40 nodes, 100 messages: most pairs have none, so groups go straight to
 * later steps at the start and grants skip steps with nothing to send. */
static void test_windowed_sparse(void)
{
    alltoall(40, "100", "64K", NULL);
}

/* 24 nodes with dropped packets: the reliable link resends, and the grant
 * and credit words, which travel over it too, still arrive. */
static void test_windowed_faults(void)
{
    alltoall(24, "1104", "8K", "drop=0.01");
}

/* ---- The event queue ---- */

static struct {
    int n;
    sim_time_t last_t;
    uint64_t last_seq, bad;
} F;

struct tev {
    struct sim_event ev;
    uint64_t seq; /* posting order, as the engine's */
    int fired, cancelled;
};

static void on_fire(void *arg)
{
    struct tev *e = arg;
    if (e->cancelled || e->fired)
        F.bad++;
    if (e->ev.t < F.last_t || (e->ev.t == F.last_t && F.n && e->seq < F.last_seq))
        F.bad++;
    F.last_t = e->ev.t;
    F.last_seq = e->seq;
    e->fired = 1;
    F.n++;
}

/* 20,000 events at random times with many ties, a third cancelled from
 * anywhere in the heap (some after others have fired); the rest fire once
 * each, in (time, posting order). */
static void test_heap_order_with_cancel(void)
{
    enum { N = 20000 };
    struct tev *e = calloc(N, sizeof *e);
    CU_ASSERT_FATAL(e != NULL);
    memset(&F, 0, sizeof F);
    sim_reset();
    uint64_t rng = 42;
    for (int i = 0; i < N / 2; i++) {
        sim_event_init(&e[i].ev);
        e[i].seq = (uint64_t)i;
        sim_event_at(&e[i].ev, (sim_time_t)(vs_splitmix64(&rng) % 500), on_fire,
                     &e[i]);
    }
    int cancelled = 0;
    for (int i = 0; i < N / 2; i += 3) {
        sim_event_cancel(&e[i].ev);
        e[i].cancelled = 1;
        cancelled++;
        CU_ASSERT(!sim_event_queued(&e[i].ev));
    }
    /* Fire part, then post the second half (later times) and cancel more. */
    sim_run_events(200);
    for (int i = N / 2; i < N; i++) {
        sim_event_init(&e[i].ev);
        e[i].seq = (uint64_t)i;
        sim_event_at(&e[i].ev, 200 + (sim_time_t)(vs_splitmix64(&rng) % 500),
                     on_fire, &e[i]);
    }
    for (int i = 1; i < N; i += 3)
        if (!e[i].fired && !e[i].cancelled) {
            sim_event_cancel(&e[i].ev);
            e[i].cancelled = 1;
            cancelled++;
        }
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(F.bad, 0);
    TH_EXPECT_EQ(F.n, N - cancelled);
    for (int i = 0; i < N; i++)
        if (e[i].fired == e[i].cancelled)
            F.bad++;
    TH_EXPECT_EQ(F.bad, 0);
    sim_shutdown();
    free(e);
}

void register_speed_tests(void);
void register_speed_tests(void)
{
    CU_pSuite s = th_suite("speed");
    th_add(s, "alltoall on 40 nodes: slot groups, lazy imports",
           test_windowed_alltoall);
    th_add(s, "alltoall on 40 nodes, most pairs without messages",
           test_windowed_sparse);
    th_add(s, "alltoall on 24 nodes with dropped packets",
           test_windowed_faults);
    th_add(s, "event heap: order kept while cancelling", test_heap_order_with_cancel);
}
