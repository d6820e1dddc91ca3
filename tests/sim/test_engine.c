/*
 * The actor-free event engine of sim/engine.h: events fire in (time,
 * insertion) order, equal-time events are FIFO even when posted from inside
 * an event, cancel removes an event (twice is harmless), the clock follows
 * the events, sim_run_events(until) stops at until, a 10,000-event random
 * stress with cancellations comes out sorted, and reset/shutdown leave
 * nothing behind (run under ASan/LSan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/engine.h"
#include "tests/harness.h"
#include "util/err.h"

void register_engine_tests(void);

/* ---- helpers ---- */

/* What fired, in order. */
#define LOG_MAX 64
static struct {
    int n;
    int id[LOG_MAX];
    sim_time_t t[LOG_MAX];
} L;

static void log_clear(void) { L.n = 0; }

/* An event whose arg is an id; logs (id, sim_now()). */
static void log_event(void *arg)
{
    int id = (int)(intptr_t)arg;
    if (L.n < LOG_MAX) {
        L.id[L.n] = id;
        L.t[L.n] = sim_now();
    }
    L.n++;
}

static void *id_arg(int id) { return (void *)(intptr_t)id; }

/* ---- tests ---- */

static void test_time_order(void)
{
    sim_reset();
    log_clear();
    TH_EXPECT_EQ(sim_now(), 0);
    static const sim_time_t times[] = {50, 10, 30, 0, 20, 40, 1000000007};
    const int n = (int)(sizeof times / sizeof *times);
    for (int i = 0; i < n; i++)
        sim_post(times[i], log_event, id_arg(i));
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), n);
    TH_EXPECT_EQ(L.n, n);
    static const int want_id[] = {3, 1, 4, 2, 5, 0, 6};
    for (int i = 0; i < n && i < L.n; i++) {
        TH_EXPECT_EQ(L.id[i], want_id[i]);
        /* The clock is the event's time while it runs. */
        TH_EXPECT_EQ(L.t[i], times[want_id[i]]);
    }
    TH_EXPECT_EQ(sim_now(), 1000000007);
    TH_EXPECT_EQ(sim_events_processed(), n);
    /* Nothing left. */
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 0);
    sim_shutdown();
}

static void test_equal_time_fifo(void)
{
    sim_reset();
    log_clear();
    struct sim_event evs[4];
    for (int i = 0; i < 4; i++)
        sim_event_init(&evs[i]);
    /* A later event first, then equal-time events posted both ways
     * (pooled and caller-owned), interleaved. */
    sim_post(200, log_event, id_arg(99));
    for (int i = 0; i < 8; i++) {
        if (i % 2)
            sim_event_at(&evs[i / 2], 100, log_event, id_arg(i));
        else
            sim_post(100, log_event, id_arg(i));
    }
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 9);
    TH_EXPECT_EQ(L.n, 9);
    for (int i = 0; i < 8 && i < L.n; i++) {
        TH_EXPECT_EQ(L.id[i], i);
        TH_EXPECT_EQ(L.t[i], 100);
    }
    TH_EXPECT_EQ(L.id[8], 99);
    TH_EXPECT_EQ(L.t[8], 200);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_FALSE(sim_event_queued(&evs[i]));
    sim_shutdown();
}

/* Event 0 posts event 10 at the same time and event 11 one ps later. */
static void posting_event(void *arg)
{
    log_event(arg);
    sim_post(sim_now(), log_event, id_arg(10));
    sim_post(sim_now() + 1, log_event, id_arg(11));
}

static void test_post_from_event(void)
{
    sim_reset();
    log_clear();
    sim_post(7, posting_event, id_arg(0));
    sim_post(7, log_event, id_arg(1));
    sim_post(7, log_event, id_arg(2));
    sim_post(8, log_event, id_arg(3));
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 6);
    /* 10 runs after the equal-time events already queued; 11 (at 8) after
     * 3, which was queued at 8 before it. */
    static const int want_id[] = {0, 1, 2, 10, 3, 11};
    static const sim_time_t want_t[] = {7, 7, 7, 7, 8, 8};
    TH_EXPECT_EQ(L.n, 6);
    for (int i = 0; i < 6 && i < L.n; i++) {
        TH_EXPECT_EQ(L.id[i], want_id[i]);
        TH_EXPECT_EQ(L.t[i], want_t[i]);
    }
    sim_shutdown();
}

static struct sim_event cancel_evs[6];

/* Cancels cancel_evs[5] from inside an event. */
static void cancelling_event(void *arg)
{
    log_event(arg);
    sim_event_cancel(&cancel_evs[5]);
    sim_event_cancel(&cancel_evs[5]);
}

static void test_cancel(void)
{
    sim_reset();
    log_clear();
    struct sim_event *e = cancel_evs;
    for (int i = 0; i < 6; i++)
        sim_event_init(&e[i]);
    /* Never queued: cancelling is harmless. */
    sim_event_cancel(&e[0]);
    CU_ASSERT_FALSE(sim_event_queued(&e[0]));
    sim_event_at(&e[0], 10, log_event, id_arg(0));
    sim_event_at(&e[1], 20, log_event, id_arg(1));
    sim_event_at(&e[2], 30, log_event, id_arg(2));
    sim_event_at(&e[3], 40, cancelling_event, id_arg(3));
    sim_event_at(&e[4], 5, log_event, id_arg(4));
    sim_event_at(&e[5], 50, log_event, id_arg(5));
    CU_ASSERT_TRUE(sim_event_queued(&e[1]));
    /* A middle one, the earliest (heap root) and the root again. */
    sim_event_cancel(&e[1]);
    sim_event_cancel(&e[1]);
    sim_event_cancel(&e[4]);
    CU_ASSERT_FALSE(sim_event_queued(&e[1]));
    CU_ASSERT_FALSE(sim_event_queued(&e[4]));
    /* A cancelled event can be queued again, at another time. */
    sim_event_at(&e[4], 35, log_event, id_arg(40));
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 4);
    static const int want_id[] = {0, 2, 40, 3};
    static const sim_time_t want_t[] = {10, 30, 35, 40};
    TH_EXPECT_EQ(L.n, 4);
    for (int i = 0; i < 4 && i < L.n; i++) {
        TH_EXPECT_EQ(L.id[i], want_id[i]);
        TH_EXPECT_EQ(L.t[i], want_t[i]);
    }
    /* Cancelling after it fired is harmless too. */
    sim_event_cancel(&e[0]);
    CU_ASSERT_FALSE(sim_event_queued(&e[5]));
    TH_EXPECT_EQ(sim_now(), 40);
    sim_shutdown();
}

static void test_run_until(void)
{
    sim_reset();
    log_clear();
    for (int i = 1; i <= 4; i++)
        sim_post(10 * i, log_event, id_arg(i));
    TH_EXPECT_EQ(sim_run_events(25), 2);
    TH_EXPECT_EQ(L.n, 2);
    /* The clock stays at the last event run, not at until. */
    TH_EXPECT_EQ(sim_now(), 20);
    /* until is inclusive. */
    TH_EXPECT_EQ(sim_run_events(30), 1);
    TH_EXPECT_EQ(sim_now(), 30);
    /* An until in the past runs nothing. */
    TH_EXPECT_EQ(sim_run_events(5), 0);
    TH_EXPECT_EQ(sim_run_events(39), 0);
    TH_EXPECT_EQ(L.n, 3);
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 1);
    TH_EXPECT_EQ(L.n, 4);
    TH_EXPECT_EQ(L.id[3], 4);
    TH_EXPECT_EQ(sim_now(), 40);
    TH_EXPECT_EQ(sim_events_processed(), 4);
    sim_shutdown();
}

/* ---- stress ---- */

#define STRESS_N 10000
#define STRESS_CHILDREN 1000

struct stress_rec {
    sim_time_t t;
    uint64_t seq; /* insertion order, counted by the test */
    int cancelled, fired;
    struct sim_event ev; /* used when caller-owned */
};

static struct {
    struct stress_rec *recs;
    size_t nrecs;
    uint64_t next_seq;
    uint32_t lcg;
    size_t *order; /* indices of recs, in firing order */
    size_t nfired;
    int bad_now;
    int wide; /* times spread over 40 bits; children of both kinds */
} S;

static uint32_t lcg_next(void)
{
    S.lcg = S.lcg * 1664525u + 1013904223u;
    return S.lcg >> 8;
}

static void stress_fire(void *arg);

/* Queues rec i at time t, pooled or caller-owned. */
static void stress_post(size_t i, sim_time_t t, int pooled)
{
    struct stress_rec *r = &S.recs[i];
    r->t = t;
    r->seq = S.next_seq++;
    if (pooled) {
        sim_post(t, stress_fire, r);
    } else {
        sim_event_init(&r->ev);
        sim_event_at(&r->ev, t, stress_fire, r);
    }
}

static void stress_fire(void *arg)
{
    struct stress_rec *r = arg;
    if (sim_now() != r->t)
        S.bad_now++;
    r->fired++;
    S.order[S.nfired++] = (size_t)(r - S.recs);
    /* Some events post a child, sometimes at the same time.  Wide: at
     * any distance from now to 2^40 ps, and caller-owned children too,
     * so an event of the heap posts before the radix queue's earliest
     * (sim/engine.c). */
    if (S.nrecs < STRESS_N + STRESS_CHILDREN && lcg_next() % 10 == 0) {
        size_t c = S.nrecs++;
        sim_time_t dt = (sim_time_t)(lcg_next() % 4);
        if (S.wide && lcg_next() % 2)
            dt = (sim_time_t)(lcg_next() % 1024) << (lcg_next() % 31);
        stress_post(c, sim_now() + dt, !S.wide || lcg_next() % 3 != 0);
    }
}

/* A first event time for the stress tests. */
static sim_time_t stress_time(void)
{
    if (!S.wide)
        return (sim_time_t)(lcg_next() % 2000);
    return (sim_time_t)(lcg_next() % 1024) << (lcg_next() % 31);
}

static void stress_run(int wide)
{
    sim_reset();
    S.wide = wide;
    S.recs = calloc(STRESS_N + STRESS_CHILDREN, sizeof *S.recs);
    S.order = calloc(STRESS_N + STRESS_CHILDREN, sizeof *S.order);
    CU_ASSERT_FATAL(S.recs && S.order);
    S.nrecs = STRESS_N;
    S.next_seq = 0;
    S.lcg = 12345;
    S.nfired = 0;
    S.bad_now = 0;
    /* Times in [0, 2000) (or spread widely): many duplicates, so FIFO ties
     * matter.  Even indices are pooled (sim_post), odd ones caller-owned. */
    for (size_t i = 0; i < STRESS_N; i++)
        stress_post(i, stress_time(), i % 2 == 0);
    /* Cancel about a fifth of the caller-owned ones (any heap position). */
    size_t ncancelled = 0;
    for (size_t i = 1; i < STRESS_N; i += 2) {
        if (lcg_next() % 5 == 0) {
            sim_event_cancel(&S.recs[i].ev);
            S.recs[i].cancelled = 1;
            ncancelled++;
        }
    }
    /* Half-way: run up to t = 999 (wide: 2^29) first, then the rest. */
    sim_time_t half = wide ? (sim_time_t)1 << 29 : 999;
    uint64_t n1 = sim_run_events(half);
    for (size_t k = 0; k < S.nfired; k++)
        CU_ASSERT(S.recs[S.order[k]].t <= half);
    uint64_t n2 = sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(n1 + n2, S.nrecs - ncancelled);
    TH_EXPECT_EQ(S.nfired, S.nrecs - ncancelled);
    TH_EXPECT_EQ(S.bad_now, 0);
    CU_ASSERT(S.nrecs > STRESS_N); /* children were posted */
    /* Each event fired exactly once unless cancelled. */
    size_t wrong = 0;
    for (size_t i = 0; i < S.nrecs; i++)
        if (S.recs[i].fired != !S.recs[i].cancelled)
            wrong++;
    TH_EXPECT_EQ(wrong, 0);
    /* Sorted by (t, seq). */
    size_t unsorted = 0;
    for (size_t k = 1; k < S.nfired; k++) {
        const struct stress_rec *a = &S.recs[S.order[k - 1]];
        const struct stress_rec *b = &S.recs[S.order[k]];
        if (!(a->t < b->t || (a->t == b->t && a->seq < b->seq)))
            unsorted++;
    }
    TH_EXPECT_EQ(unsorted, 0);
    TH_EXPECT_EQ(sim_events_processed(), S.nfired);
    free(S.recs);
    free(S.order);
    S.recs = NULL;
    S.order = NULL;
    sim_shutdown();
}

static void test_stress_sorted(void) { stress_run(0); }
static void test_stress_wide(void) { stress_run(1); }

static void test_reset_leaves_nothing(void)
{
    sim_reset();
    log_clear();
    /* Fill the pool (events that fired) and leave pooled events queued. */
    for (int i = 0; i < 3000; i++)
        sim_post(i, log_event, id_arg(i));
    TH_EXPECT_EQ(sim_run_events(1499), 1500);
    TH_EXPECT_EQ(sim_now(), 1499);
    sim_reset();
    TH_EXPECT_EQ(sim_now(), 0);
    TH_EXPECT_EQ(sim_events_processed(), 0);
    log_clear();
    /* The queued events are gone. */
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 0);
    TH_EXPECT_EQ(L.n, 0);
    /* And the engine works again from time 0. */
    sim_post(3, log_event, id_arg(1));
    sim_post(1, log_event, id_arg(2));
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 2);
    TH_EXPECT_EQ(L.id[0], 2);
    TH_EXPECT_EQ(L.id[1], 1);
    TH_EXPECT_EQ(sim_now(), 3);
    /* Shutdown with events still queued frees them (LSan checks). */
    for (int i = 0; i < 100; i++)
        sim_post(10 + i, log_event, id_arg(i));
    sim_shutdown();
    TH_EXPECT_EQ(sim_now(), 0);
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 0);
    TH_EXPECT_EQ(L.n, 2);
    /* Shutting down twice is harmless. */
    sim_shutdown();
}

/* ---- a run that cannot finish must say so ---- */

static const char one_host_xml[] =
    "<?xml version='1.0'?>\n"
    "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
    "<platform version=\"4.1\">\n"
    " <zone id=\"z\" routing=\"Full\"><host id=\"h0\" speed=\"1Gf\"/>"
    "</zone>\n</platform>\n";

/* A process that leaves SimGrid's scheduling behind the engine's back (it
 * suspends its actor directly, as a lost wake-up would leave it): the
 * engine waits for it forever and SimGrid runs out of actors. */
static void stray_main(sim_proc *p, void *arg)
{
    (void)p;
    (void)arg;
    sim_proc_stray_for_test();
}

static int stray_child(void *arg)
{
    const char *platform = arg;
    sim_reset();
    sim_platform_load(platform, NULL, NULL);
    sim_post(5000000, log_event, id_arg(1)); /* 5 us */
    if (!sim_proc_create(0, "stray", stray_main, NULL))
        return 3;
    char err[256];
    struct sim_opts so = {0, 0, 0};
    int rc = sim_run(&so, err, sizeof err);
    printf("rc %d: %s\n", rc, err);
    return 0;
}

static void test_engine_left_waiting(void)
{
    char platform[TH_PATH_LEN], out[1024], err[4096];
    th_write_tmp(platform, "one-host-xml", one_host_xml);
    int st = th_capture(stray_child, platform, out, sizeof out, err,
                        sizeof err);
    unlink(platform);
    CU_ASSERT_EQUAL(st, 0);
    char want[64];
    snprintf(want, sizeof want, "rc %d: simulator: stopped at", VS_EDEADLK);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 host process(es) unfinished"));
    if (!strstr(out, want))
        fprintf(stderr, "child said: %s\n%s\n", out, err);
}

void register_engine_tests(void)
{
    CU_pSuite s = th_suite("engine");
    th_add(s, "events fire in time order, clock follows", test_time_order);
    th_add(s, "equal-time events fire in insertion order",
           test_equal_time_fifo);
    th_add(s, "an event posted at the same time runs after queued ones",
           test_post_from_event);
    th_add(s, "cancel removes an event, twice is harmless", test_cancel);
    th_add(s, "sim_run_events(until) stops at until", test_run_until);
    th_add(s, "10,000 random events come out sorted by (t, seq)",
           test_stress_sorted);
    th_add(s, "10,000 events over 40 bits of time, both kinds posting",
           test_stress_wide);
    th_add(s, "a run whose processes cannot finish fails, naming that",
           test_engine_left_waiting);
    th_add(s, "reset and shutdown leave nothing behind",
           test_reset_leaves_nothing);
}
