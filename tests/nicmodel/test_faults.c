/*
 * The fault model of nicmodel/ (nicm_set_faults), driven directly through
 * the hw_nic ops on the actor-free engine with the hand-written profile and
 * topology of test_model.c (tests/nicmodel/model_helpers.h: nodes 0-2 on
 * switch S1, nodes 3-4 on switch S2, one link each way between the
 * switches).  Checked: a cluster without faults keeps its exact times;
 * drop = 1 delivers nothing; corrupt = 1 is caught by the receiver's CRC
 * before the firmware sees a packet; dup = 1 delivers every packet twice,
 * intact; a link down interval drops exactly the packets whose head enters
 * the link inside [from, to); a NIC down interval drops what it sends and
 * receives but still completes its sends; reorder delivers every packet, in
 * another order, without holding the links; the same seed gives the same
 * delivery trace and another seed another; a 5% drop rate over 10,000
 * packets stays within wide binomial bounds; bad settings are refused; the
 * profile's optional [faults] section.  Every scenario ends with no packet
 * in flight (and, under ASan, nothing leaked).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nicmodel/nicm.h"
#include "sim/engine.h"
#include "tests/harness.h"
#include "tests/nicmodel/model_helpers.h"
#include "tests/suites.h"
#include "util/err.h"

/* ---- Times on the cluster of model_helpers.h ---- */

/* Sent at t on an idle network from node 0 to node 1: when the head enters
 * UP(0), enters DOWN(1) and reaches node 1 (same_switch_time() is when the
 * packet is in). */
static hw_time_t enter_up(hw_time_t t) { return t + NET_SETUP; }
static hw_time_t enter_down(hw_time_t t)
{
    return t + NET_SETUP + LAT_UP + SW_DELAY;
}
static hw_time_t reach_nic(hw_time_t t) { return enter_down(t) + LAT_DOWN; }

/* ---- Helpers ---- */

static void expect_in_(long long got, long long lo, long long hi,
                       const char *what, const char *file, int line)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s = %lld, expected in [%lld, %lld]", what,
             got, lo, hi);
    CU_assertImplementation(got >= lo && got <= hi ? CU_TRUE : CU_FALSE,
                            (unsigned)line, msg, file, "", CU_FALSE);
}
#define EXPECT_IN(got, lo, hi)                                              \
    expect_in_((long long)(got), (long long)(lo), (long long)(hi), #got,      \
               __FILE__, __LINE__)

static void set_faults(nicm_cluster *cl, const struct nicm_faults *f)
{
    int rc = nicm_set_faults(cl, f);
    TH_EXPECT_EQ(rc, VS_OK);
    CU_ASSERT_FATAL(rc == VS_OK);
}

/* A payload that says where it comes from: [seq (4 bytes), src, pattern]. */
static void fill(unsigned char *buf, size_t len, int src, uint32_t seq)
{
    uint32_t x = ((uint32_t)src * 100003u + seq) * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    memcpy(buf, &seq, sizeof seq);
    buf[4] = (unsigned char)src;
}

static uint64_t fnv(const unsigned char *p, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Every delivery of a run, in the order the firmware saw them. */
struct rx_ent {
    hw_time_t t;
    int dst, src;
    uint32_t seq;
    size_t len;
    uint64_t hash;
    int intact;
};

struct trace {
    struct rx_ent *e;
    size_t n, cap;
};

struct rx_node {
    hw_nic *nic;
    struct trace *tr;
    int node;
};

static struct rx_node rxn[NNODES];

static void rx_cb(void *arg, void *pkt, size_t len, int src)
{
    struct rx_node *r = arg;
    struct trace *tr = r->tr;
    if (tr->n == tr->cap) {
        size_t cap = tr->cap ? 2 * tr->cap : 256;
        struct rx_ent *e = realloc(tr->e, cap * sizeof *e);
        CU_ASSERT_FATAL(e != NULL);
        tr->e = e;
        tr->cap = cap;
    }
    struct rx_ent *e = &tr->e[tr->n++];
    unsigned char want[MAX_PKT];
    memset(e, 0, sizeof *e);
    e->t = sim_now();
    e->dst = r->node;
    e->src = src;
    e->len = len;
    e->hash = fnv(pkt, len);
    if (len >= 5 && len <= sizeof want) {
        memcpy(&e->seq, pkt, sizeof e->seq);
        fill(want, len, src, e->seq);
        e->intact = memcmp(want, pkt, len) == 0;
    }
    r->nic->ops->rx_release(r->nic, pkt);
}

static void trace_setup(struct trace *tr, nicm_cluster *cl)
{
    memset(tr, 0, sizeof *tr);
    for (int i = 0; i < NNODES; i++) {
        rxn[i] = (struct rx_node){nicm_nic(cl, i), tr, i};
        rxn[i].nic->ops->set_rx(rxn[i].nic, rx_cb, &rxn[i]);
    }
}

static void trace_free(struct trace *tr)
{
    free(tr->e);
    memset(tr, 0, sizeof *tr);
}

/* A cluster with the faults f, its deliveries recorded in tr. */
static nicm_cluster *faulty_cluster(const struct nicm_faults *f,
                                    struct trace *tr)
{
    nicm_cluster *cl = model_cluster(NULL);
    set_faults(cl, f);
    trace_setup(tr, cl);
    return cl;
}

static void faulty_end(nicm_cluster *cl, struct trace *tr)
{
    trace_free(tr);
    model_cluster_end(cl);
}

/* Deliveries of (src, seq) to dst. */
static int delivered(const struct trace *tr, int src, int dst, uint32_t seq)
{
    int k = 0;
    for (size_t i = 0; i < tr->n; i++)
        k += tr->e[i].src == src && tr->e[i].dst == dst && tr->e[i].seq == seq;
    return k;
}

/* Send completions: each must fire once, faults or not. */
struct sent {
    int fired;
    hw_time_t t;
};

static void sent_cb(void *arg, int status)
{
    struct sent *s = arg;
    TH_EXPECT_EQ(status, VS_OK);
    s->fired++;
    s->t = sim_now();
}

static void send_now(nicm_cluster *cl, int from, int to, size_t len,
                     uint32_t seq, struct sent *s)
{
    unsigned char buf[MAX_PKT];
    hw_nic *n = nicm_nic(cl, from);
    CU_ASSERT_FATAL(len >= 5 && len <= sizeof buf);
    fill(buf, len, from, seq);
    memset(s, 0, sizeof *s);
    TH_EXPECT_EQ(n->ops->net_send(n, to, buf, len, sent_cb, s), VS_OK);
}

/* A send at a given simulated time. */
struct timed_send {
    nicm_cluster *cl;
    int from, to;
    size_t len;
    uint32_t seq;
    struct sent s;
};

static void timed_send_fn(void *arg)
{
    struct timed_send *ts = arg;
    send_now(ts->cl, ts->from, ts->to, ts->len, ts->seq, &ts->s);
}

static void send_at(struct timed_send *ts, nicm_cluster *cl, hw_time_t t,
                    int from, int to, size_t len, uint32_t seq)
{
    *ts = (struct timed_send){cl, from, to, len, seq, {0, 0}};
    sim_post(t, timed_send_fn, ts);
}

static int stats_zero(const struct nicm_fault_stats *s)
{
    return !s->dropped && !s->corrupted && !s->duplicated && !s->reordered &&
           !s->link_down_drops && !s->nic_down_drops && !s->crc_discards;
}

/* ---- No faults: nothing changes ---- */

static void test_no_faults(void)
{
    const size_t len = 1000;
    for (int variant = 0; variant < 3; variant++) {
        nicm_cluster *cl = model_cluster(NULL);
        struct nicm_link_down far = {ISL_21, 0, HW_TIME_NEVER};
        struct nicm_nic_down later = {1, 1 * HW_MS, 2 * HW_MS};
        struct nicm_faults f = {.seed = 99};
        if (variant == 1) { /* a link down that the packet does not use */
            f.downs = &far;
            f.ndowns = 1;
        } else if (variant == 2) { /* a NIC down after the packet */
            f.nic_downs = &later;
            f.nnic_downs = 1;
        }
        if (variant)
            set_faults(cl, &f);
        TH_EXPECT_EQ(nicm_faults_active(cl), variant != 0);
        struct trace tr;
        trace_setup(&tr, cl);
        struct sent s;
        send_now(cl, 0, 1, len, 5, &s);
        sim_run_events(INT64_MAX);
        TH_EXPECT_EQ(tr.n, 1);
        TH_EXPECT_EQ(tr.e[0].t, same_switch_time(len));
        TH_EXPECT_EQ(tr.e[0].intact, 1);
        TH_EXPECT_EQ(s.fired, 1);
        TH_EXPECT_EQ(s.t, NET_SETUP + ser(len));
        CU_ASSERT(stats_zero(nicm_fault_stats(cl)));
        faulty_end(cl, &tr);
    }
}

/* ---- drop, corrupt, dup ---- */

static void test_drop_all(void)
{
    struct nicm_faults f = {.drop = 1, .seed = 1};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    enum { N = 10 };
    struct sent s[2 * N];
    for (int i = 0; i < N; i++) {
        send_now(cl, 0, 1, 300, (uint32_t)i, &s[i]);     /* one switch */
        send_now(cl, 4, 2, 300, (uint32_t)i, &s[N + i]); /* two */
    }
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 0);
    const struct nicm_fault_stats *fs = nicm_fault_stats(cl);
    TH_EXPECT_EQ(fs->dropped, 2 * N);
    TH_EXPECT_EQ(fs->link_down_drops + fs->nic_down_drops + fs->crc_discards +
                     fs->corrupted + fs->duplicated + fs->reordered,
                 0);
    /* Lost at the first link's input: no link carried anything. */
    for (size_t l = 0; l < NLINKS; l++)
        TH_EXPECT_EQ(nicm_link_stats(cl, l)->pkts, 0);
    /* The senders' completions fired anyway. */
    for (int i = 0; i < 2 * N; i++)
        TH_EXPECT_EQ(s[i].fired, 1);
    TH_EXPECT_EQ(nicm_node_stats(cl, 1)->pkts_recv, 0);
    faulty_end(cl, &tr);
}

static void test_corrupt_all(void)
{
    struct nicm_faults f = {.corrupt = 1, .seed = 2};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    enum { N = 10 };
    struct sent s[2 * N];
    for (int i = 0; i < N; i++) {
        send_now(cl, 0, 1, 64 + 40 * (size_t)i, (uint32_t)i, &s[i]);
        send_now(cl, 1, 3, 64, (uint32_t)i, &s[N + i]);
    }
    sim_run_events(INT64_MAX);
    /* The receive upcall never ran: the CRC check came first. */
    TH_EXPECT_EQ(tr.n, 0);
    const struct nicm_fault_stats *fs = nicm_fault_stats(cl);
    TH_EXPECT_EQ(fs->corrupted, 2 * N); /* each packet once */
    TH_EXPECT_EQ(fs->crc_discards, 2 * N);
    TH_EXPECT_EQ(fs->dropped + fs->duplicated + fs->reordered +
                     fs->link_down_drops + fs->nic_down_drops,
                 0);
    /* They crossed the whole route; no receive buffer or DMA was used. */
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->pkts, N);
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(3))->pkts, N);
    TH_EXPECT_EQ(nicm_node_stats(cl, 1)->pkts_recv, 0);
    TH_EXPECT_EQ(nicm_node_stats(cl, 3)->pkts_recv, 0);
    TH_EXPECT_EQ(nicm_node_stats(cl, 1)->rdma_busy, 0);
    for (int i = 0; i < 2 * N; i++)
        TH_EXPECT_EQ(s[i].fired, 1);
    faulty_end(cl, &tr);
}

static void test_dup_all(void)
{
    struct nicm_faults f = {.dup = 1, .seed = 3};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    enum { N = 6 };
    struct sent s[2 * N];
    for (int i = 0; i < N; i++) {
        send_now(cl, 0, 1, 500, (uint32_t)i, &s[i]);      /* 2 links */
        send_now(cl, 2, 4, 1500, (uint32_t)i, &s[N + i]); /* 3 links */
    }
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 4 * N);
    for (int i = 0; i < N; i++) {
        TH_EXPECT_EQ(delivered(&tr, 0, 1, (uint32_t)i), 2);
        TH_EXPECT_EQ(delivered(&tr, 2, 4, (uint32_t)i), 2);
    }
    /* Identical bytes, intact; a copy right behind its original. */
    for (size_t i = 0; i < tr.n; i++) {
        TH_EXPECT_EQ(tr.e[i].intact, 1);
        int twins = 0;
        for (size_t j = 0; j < tr.n; j++)
            if (j != i && tr.e[j].src == tr.e[i].src &&
                tr.e[j].seq == tr.e[i].seq) {
                twins++;
                TH_EXPECT_EQ(tr.e[j].hash, tr.e[i].hash);
                TH_EXPECT_EQ(tr.e[j].len, tr.e[i].len);
            }
        TH_EXPECT_EQ(twins, 1);
    }
    const struct nicm_fault_stats *fs = nicm_fault_stats(cl);
    TH_EXPECT_EQ(fs->duplicated, 2 * N);
    TH_EXPECT_EQ(fs->dropped + fs->corrupted + fs->reordered +
                     fs->link_down_drops + fs->nic_down_drops +
                     fs->crc_discards,
                 0);
    /* The copy is made at the far end of the first link and follows on the
     * rest of the route. */
    TH_EXPECT_EQ(nicm_link_stats(cl, UP(0))->pkts, N);
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->pkts, 2 * N);
    TH_EXPECT_EQ(nicm_link_stats(cl, UP(2))->pkts, N);
    TH_EXPECT_EQ(nicm_link_stats(cl, ISL_12)->pkts, 2 * N);
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(4))->pkts, 2 * N);
    TH_EXPECT_EQ(nicm_node_stats(cl, 1)->pkts_recv, 2 * N);
    /* One completion per send, not per copy. */
    for (int i = 0; i < 2 * N; i++)
        TH_EXPECT_EQ(s[i].fired, 1);
    faulty_end(cl, &tr);
}

/* One packet alone, duplicated: the original on time, the copy one
 * serialisation behind it on the down link and then through the receive
 * DMA engine after it. */
static void test_dup_right_behind(void)
{
    struct nicm_faults f = {.dup = 1, .seed = 4};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    const size_t len = 800;
    struct sent s;
    send_now(cl, 0, 1, len, 1, &s);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 2);
    if (tr.n == 2) {
        TH_EXPECT_EQ(tr.e[0].t, same_switch_time(len));
        TH_EXPECT_EQ(tr.e[1].t, same_switch_time(len) + NET_SETUP + ser(len));
    }
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->max_wait, ser(len));
    faulty_end(cl, &tr);
}

/* ---- Down intervals ---- */

/* One packet from node 0 to node 1 sent at t, with `downs` configured:
 * 1 if it was delivered.  Checks the counters agree. */
static int probe_link(hw_time_t t, const struct nicm_link_down *downs,
                      size_t ndowns)
{
    struct nicm_faults f = {.downs = downs, .ndowns = ndowns, .seed = 5};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    struct timed_send ts;
    send_at(&ts, cl, t, 0, 1, 200, 7);
    sim_run_events(INT64_MAX);
    int got = (int)tr.n;
    TH_EXPECT_EQ(ts.s.fired, 1);
    TH_EXPECT_EQ(nicm_fault_stats(cl)->link_down_drops, 1 - got);
    TH_EXPECT_EQ(nicm_fault_stats(cl)->dropped, 0);
    faulty_end(cl, &tr);
    return got;
}

static void test_link_down_edges(void)
{
    const hw_time_t from = 50 * HW_US, to = 80 * HW_US;
    struct nicm_link_down d = {DOWN(1), from, to};
    /* Send times whose head enters DOWN(1) at the given moment. */
    const hw_time_t lag = enter_down(0);
    static const struct {
        hw_time_t at; /* relative to from (0) or to (1) */
        int base, delivered;
    } cases[] = {
        {-1, 0, 1}, {0, 0, 0}, {1, 0, 0}, {15 * HW_US, 0, 0},
        {-1, 1, 0}, {0, 1, 1}, {1, 1, 1}, {-45 * HW_US, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hw_time_t enter = (cases[i].base ? to : from) + cases[i].at;
        int got = probe_link(enter - lag, &d, 1);
        char msg[128];
        snprintf(msg, sizeof msg, "head entering at %lld ps: delivered %d",
                 (long long)enter, got);
        CU_assertImplementation(got == cases[i].delivered, __LINE__, msg,
                                __FILE__, "", CU_FALSE);
    }
    /* Down for good from `from`. */
    struct nicm_link_down forever = {DOWN(1), from, HW_TIME_NEVER};
    TH_EXPECT_EQ(probe_link(from - 1 - lag, &forever, 1), 1);
    TH_EXPECT_EQ(probe_link(from - lag, &forever, 1), 0);
    TH_EXPECT_EQ(probe_link(1000 * HW_MS, &forever, 1), 0);
    /* The first link of the route: its head enters at the send-DMA start
     * plus the setup. */
    struct nicm_link_down up = {UP(0), from, to};
    TH_EXPECT_EQ(probe_link(from - enter_up(0), &up, 1), 0);
    TH_EXPECT_EQ(probe_link(from - 1 - enter_up(0), &up, 1), 1);
    TH_EXPECT_EQ(probe_link(to - enter_up(0), &up, 1), 1);
    /* Two intervals on one link, and one on a link not on the route. */
    struct nicm_link_down two[] = {{DOWN(1), 10 * HW_US, 20 * HW_US},
                                   {DOWN(1), 30 * HW_US, 40 * HW_US},
                                   {DOWN(2), 0, HW_TIME_NEVER}};
    TH_EXPECT_EQ(probe_link(5 * HW_US - lag, two, 3), 1);
    TH_EXPECT_EQ(probe_link(15 * HW_US - lag, two, 3), 0);
    TH_EXPECT_EQ(probe_link(25 * HW_US - lag, two, 3), 1);
    TH_EXPECT_EQ(probe_link(35 * HW_US - lag, two, 3), 0);
    TH_EXPECT_EQ(probe_link(45 * HW_US - lag, two, 3), 1);
}

/* Many packets through one run: exactly those whose head enters the link
 * inside [from, to) are lost; traffic on other links is untouched. */
static void test_link_down_stream(void)
{
    const hw_time_t from = 100 * HW_US, to = 230 * HW_US;
    const hw_time_t gap = 10 * HW_US; /* far more than a packet's time */
    struct nicm_link_down d = {DOWN(1), from, to};
    struct nicm_faults f = {.downs = &d, .ndowns = 1, .seed = 6};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    enum { N = 40 };
    static struct timed_send ts[2 * N];
    int want_lost = 0;
    for (int i = 0; i < N; i++) {
        hw_time_t t = i * gap;
        send_at(&ts[i], cl, t, 0, 1, 400, (uint32_t)i);
        send_at(&ts[N + i], cl, t, 3, 2, 400, (uint32_t)i); /* other links */
        hw_time_t enter = enter_down(t);
        want_lost += enter >= from && enter < to;
    }
    sim_run_events(INT64_MAX);
    CU_ASSERT(want_lost > 5 && want_lost < N - 5);
    for (int i = 0; i < N; i++) {
        hw_time_t enter = enter_down(i * gap);
        TH_EXPECT_EQ(delivered(&tr, 0, 1, (uint32_t)i),
                     !(enter >= from && enter < to));
        TH_EXPECT_EQ(delivered(&tr, 3, 2, (uint32_t)i), 1);
        TH_EXPECT_EQ(ts[i].s.fired, 1);
    }
    TH_EXPECT_EQ(nicm_fault_stats(cl)->link_down_drops, want_lost);
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->pkts, N - want_lost);
    TH_EXPECT_EQ(tr.n, 2 * N - want_lost);
    faulty_end(cl, &tr);
}

/* Node 1's NIC is down in [from, to): what reaches it then, and what it
 * starts sending then, is lost; its send completions still fire, on time. */
static void test_nic_down(void)
{
    const hw_time_t from = 40 * HW_US, to = 90 * HW_US;
    const size_t len = 300;
    struct nicm_nic_down d = {1, from, to};
    static const hw_time_t arrive_at[] = {
        40 * HW_US - 1, 40 * HW_US, 40 * HW_US + 1, 60 * HW_US,
        90 * HW_US - 1, 90 * HW_US, 90 * HW_US + 1, 200 * HW_US};
    enum { K = sizeof arrive_at / sizeof *arrive_at };
    /* Arrivals, one packet per cluster so that nothing queues. */
    for (int i = 0; i < K; i++) {
        struct nicm_faults f = {.nic_downs = &d, .nnic_downs = 1, .seed = 7};
        struct trace tr;
        nicm_cluster *cl = faulty_cluster(&f, &tr);
        struct timed_send ts;
        send_at(&ts, cl, arrive_at[i] - reach_nic(0), 0, 1, len, 1);
        sim_run_events(INT64_MAX);
        int down = arrive_at[i] >= from && arrive_at[i] < to;
        TH_EXPECT_EQ(tr.n, !down);
        TH_EXPECT_EQ(nicm_fault_stats(cl)->nic_down_drops, down);
        /* The wire carried it all the way. */
        TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->pkts, 1);
        faulty_end(cl, &tr);
    }
    /* Sends: node 1 starts a send-DMA at t. */
    for (int i = 0; i < K; i++) {
        struct nicm_faults f = {.nic_downs = &d, .nnic_downs = 1, .seed = 7};
        struct trace tr;
        nicm_cluster *cl = faulty_cluster(&f, &tr);
        struct timed_send ts;
        hw_time_t t = arrive_at[i];
        send_at(&ts, cl, t, 1, 2, len, 2);
        sim_run_events(INT64_MAX);
        int down = t >= from && t < to;
        TH_EXPECT_EQ(tr.n, !down);
        TH_EXPECT_EQ(nicm_fault_stats(cl)->nic_down_drops, down);
        TH_EXPECT_EQ(ts.s.fired, 1);
        TH_EXPECT_EQ(ts.s.t, t + NET_SETUP + ser(len));
        TH_EXPECT_EQ(nicm_link_stats(cl, UP(1))->pkts, !down);
        faulty_end(cl, &tr);
    }
    /* Down for good; other nodes go on. */
    struct nicm_nic_down never = {1, 0, HW_TIME_NEVER};
    struct nicm_faults f = {.nic_downs = &never, .nnic_downs = 1, .seed = 7};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    struct sent s[3];
    send_now(cl, 0, 1, len, 1, &s[0]);
    send_now(cl, 1, 0, len, 2, &s[1]);
    send_now(cl, 0, 2, len, 3, &s[2]);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 1);
    TH_EXPECT_EQ(delivered(&tr, 0, 2, 3), 1);
    TH_EXPECT_EQ(nicm_fault_stats(cl)->nic_down_drops, 2);
    for (int i = 0; i < 3; i++)
        TH_EXPECT_EQ(s[i].fired, 1);
    faulty_end(cl, &tr);
}

/* ---- reorder ---- */

static void test_reorder(void)
{
    struct nicm_faults f = {.reorder = 1, .seed = 8};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    enum { N = 8 };
    const size_t len = 200;
    struct sent s[N];
    for (int i = 0; i < N; i++)
        send_now(cl, 0, 1, len, (uint32_t)i, &s[i]);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, N);
    int in_order = 1;
    for (size_t i = 0; i < tr.n; i++) {
        TH_EXPECT_EQ(tr.e[i].intact, 1);
        in_order &= tr.e[i].seq == (uint32_t)i;
    }
    for (int i = 0; i < N; i++)
        TH_EXPECT_EQ(delivered(&tr, 0, 1, (uint32_t)i), 1);
    CU_ASSERT(!in_order);
    /* Held at the far end of each of the two links. */
    TH_EXPECT_EQ(nicm_fault_stats(cl)->reordered, 2 * N);
    /* A hold does not hold the link: each carried N serialisations. */
    TH_EXPECT_EQ(nicm_link_stats(cl, UP(0))->busy, N * ser(len));
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->busy, N * ser(len));
    /* At most two holds of 20 us (the default) each, plus the queueing of
     * all N packets on the down link and in the receive-DMA engine. */
    for (size_t i = 0; i < tr.n; i++)
        CU_ASSERT(tr.e[i].t <= same_switch_time(len) +
                                   3 * N * (NET_SETUP + ser(len)) +
                                   2 * NICM_REORDER_DELAY_DEFAULT);
    faulty_end(cl, &tr);

    /* A shorter bound: every hold is at most 1 us. */
    f.reorder_delay_max = 1 * HW_US;
    cl = faulty_cluster(&f, &tr);
    struct sent one;
    send_now(cl, 0, 1, len, 0, &one);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 1);
    if (tr.n == 1) {
        CU_ASSERT(tr.e[0].t > same_switch_time(len));
        CU_ASSERT(tr.e[0].t <= same_switch_time(len) + 2 * HW_US);
    }
    faulty_end(cl, &tr);
}

/* ---- Determinism ---- */

/* All five nodes send to each other with every fault on. */
static void mixed_run(uint64_t seed, struct trace *tr,
                      struct nicm_fault_stats *st)
{
    struct nicm_faults f = {.drop = 0.1,
                            .corrupt = 0.1,
                            .dup = 0.2,
                            .reorder = 0.3,
                            .reorder_delay_max = 5 * HW_US,
                            .seed = seed};
    nicm_cluster *cl = faulty_cluster(&f, tr);
    enum { ROUNDS = 12 };
    static struct sent s[ROUNDS][NNODES][NNODES];
    for (int r = 0; r < ROUNDS; r++)
        for (int a = 0; a < NNODES; a++)
            for (int b = 0; b < NNODES; b++)
                if (a != b)
                    send_now(cl, a, b, 64 + (size_t)(97 * (r + a + b)) % 2000,
                             (uint32_t)r, &s[r][a][b]);
    sim_run_events(INT64_MAX);
    *st = *nicm_fault_stats(cl);
    for (int r = 0; r < ROUNDS; r++)
        for (int a = 0; a < NNODES; a++)
            for (int b = 0; b < NNODES; b++)
                if (a != b)
                    TH_EXPECT_EQ(s[r][a][b].fired, 1);
    for (size_t i = 0; i < tr->n; i++)
        TH_EXPECT_EQ(tr->e[i].intact, 1); /* corrupt ones never get through */
    model_cluster_end(cl);
}

static int same_trace(const struct trace *a, const struct trace *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct rx_ent *x = &a->e[i], *y = &b->e[i];
        if (x->t != y->t || x->dst != y->dst || x->src != y->src ||
            x->seq != y->seq || x->len != y->len || x->hash != y->hash)
            return 0;
    }
    return 1;
}

static void test_seed_determinism(void)
{
    struct trace a, b, c;
    struct nicm_fault_stats sa, sb, sc;
    mixed_run(7, &a, &sa);
    mixed_run(7, &b, &sb);
    mixed_run(8, &c, &sc);
    /* Every kind of fault happened. */
    CU_ASSERT(sa.dropped && sa.corrupted && sa.duplicated && sa.reordered &&
              sa.crc_discards);
    CU_ASSERT(same_trace(&a, &b));
    CU_ASSERT(memcmp(&sa, &sb, sizeof sa) == 0);
    CU_ASSERT(!same_trace(&a, &c));
    CU_ASSERT(a.n > 0 && c.n > 0);
    trace_free(&a);
    trace_free(&b);
    trace_free(&c);
}

/* ---- Rates ---- */

static void test_drop_rate(void)
{
    struct nicm_faults f = {.drop = 0.05, .seed = 12345};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    enum { N = 10000 };
    struct sent *s = calloc(N, sizeof *s);
    CU_ASSERT_FATAL(s != NULL);
    for (int i = 0; i < N; i++)
        send_now(cl, 0, 1, 64, (uint32_t)i, &s[i]);
    sim_run_events(INT64_MAX);
    /* Lost on the first link: Binomial(10000, 0.05), mean 500, sd 22. */
    uint64_t up = nicm_link_stats(cl, UP(0))->pkts;
    uint64_t down = nicm_link_stats(cl, DOWN(1))->pkts;
    EXPECT_IN(N - up, 400, 600);
    /* On the second: Binomial(up, 0.05), mean about 475. */
    EXPECT_IN(up - down, 375, 575);
    TH_EXPECT_EQ(nicm_fault_stats(cl)->dropped, N - down);
    TH_EXPECT_EQ(tr.n, down);
    int fired = 0;
    for (int i = 0; i < N; i++)
        fired += s[i].fired;
    TH_EXPECT_EQ(fired, N);
    free(s);
    faulty_end(cl, &tr);
}

/* dup: a packet is duplicated at most once, with probability
 * 1 - 0.95^2 = 0.0975 over its two links: mean 975, sd 30. */
static void test_dup_rate(void)
{
    struct nicm_faults f = {.dup = 0.05, .seed = 54321};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    enum { N = 10000 };
    struct sent *s = calloc(N, sizeof *s);
    CU_ASSERT_FATAL(s != NULL);
    for (int i = 0; i < N; i++)
        send_now(cl, 0, 1, 64, (uint32_t)i, &s[i]);
    sim_run_events(INT64_MAX);
    uint64_t dups = nicm_fault_stats(cl)->duplicated;
    EXPECT_IN(dups, 825, 1125);
    TH_EXPECT_EQ(tr.n, N + dups);
    free(s);
    faulty_end(cl, &tr);
}

/* ---- Bad settings ---- */

static void test_bad_values(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    /* A valid configuration first: everything is dropped. */
    struct nicm_faults good = {.drop = 1, .seed = 1};
    set_faults(cl, &good);
    struct nicm_link_down bad_link = {NLINKS, 0, HW_TIME_NEVER};
    struct nicm_link_down empty = {UP(0), 5 * HW_US, 5 * HW_US};
    struct nicm_link_down backwards = {UP(0), 6 * HW_US, 5 * HW_US};
    struct nicm_link_down negative = {UP(0), -1, 5 * HW_US};
    struct nicm_nic_down bad_node = {NNODES, 0, HW_TIME_NEVER};
    struct nicm_nic_down neg_node = {-1, 0, HW_TIME_NEVER};
    struct nicm_nic_down nic_empty = {0, 7, 7};
    struct nicm_faults bad[] = {
        {.drop = -0.01},
        {.drop = 1.01},
        {.drop = NAN},
        {.corrupt = 2},
        {.corrupt = -1},
        {.dup = 1.5},
        {.dup = NAN},
        {.reorder = -0.5},
        {.reorder = INFINITY},
        {.reorder = 0.5, .reorder_delay_max = -1},
        {.downs = &bad_link, .ndowns = 1},
        {.downs = &empty, .ndowns = 1},
        {.downs = &backwards, .ndowns = 1},
        {.downs = &negative, .ndowns = 1},
        {.downs = NULL, .ndowns = 1},
        {.nic_downs = &bad_node, .nnic_downs = 1},
        {.nic_downs = &neg_node, .nnic_downs = 1},
        {.nic_downs = &nic_empty, .nnic_downs = 1},
        {.nic_downs = NULL, .nnic_downs = 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = nicm_set_faults(cl, &bad[i]);
        char msg[64];
        snprintf(msg, sizeof msg, "bad faults #%zu: rc %d", i, rc);
        CU_assertImplementation(rc == VS_EINVAL, __LINE__, msg, __FILE__, "",
                                CU_FALSE);
    }
    TH_EXPECT_EQ(nicm_set_faults(cl, NULL), VS_EINVAL);
    /* The valid configuration still holds. */
    TH_EXPECT_EQ(nicm_faults_active(cl), 1);
    struct trace tr;
    trace_setup(&tr, cl);
    struct sent s;
    send_now(cl, 0, 1, 100, 1, &s);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 0);
    TH_EXPECT_EQ(nicm_fault_stats(cl)->dropped, 1);
    /* The edges of the ranges are fine; all zero turns the faults off. */
    struct nicm_faults edge = {.drop = 0, .corrupt = 1, .dup = 0, .reorder = 1};
    TH_EXPECT_EQ(nicm_set_faults(cl, &edge), VS_OK);
    struct nicm_faults off = {.seed = 3};
    TH_EXPECT_EQ(nicm_set_faults(cl, &off), VS_OK);
    TH_EXPECT_EQ(nicm_faults_active(cl), 0);
    send_now(cl, 0, 1, 100, 2, &s);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 1);
    faulty_end(cl, &tr);
}

/* The intervals are copied: changing the caller's array later does not
 * change the model. */
static void test_settings_copied(void)
{
    struct nicm_link_down d = {DOWN(1), 0, HW_TIME_NEVER};
    struct nicm_faults f = {.downs = &d, .ndowns = 1, .seed = 1};
    struct trace tr;
    nicm_cluster *cl = faulty_cluster(&f, &tr);
    d.link = DOWN(2);
    struct sent s;
    send_now(cl, 0, 1, 100, 1, &s);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(tr.n, 0);
    TH_EXPECT_EQ(nicm_fault_stats(cl)->link_down_drops, 1);
    faulty_end(cl, &tr);
}

/* ---- The profile's [faults] section ---- */

/* The shipped profile with extra lines appended, loaded.  Returns the rc;
 * the temporary file is gone again. */
static int load_with(const char *extra, struct nicm_profile *p, char *err,
                     size_t errlen, char path[static TH_PATH_LEN])
{
    th_write_profile(path, "faults", extra);
    int rc = nicm_profile_load(p, path, err, errlen);
    unlink(path);
    return rc;
}

static void test_profile_section(void)
{
    struct nicm_profile p;
    char err[512] = "", path[TH_PATH_LEN];
    /* Without the section: no faults. */
    TH_EXPECT_EQ(nicm_profile_load(&p, TH_PROFILE, err, sizeof err), VS_OK);
    TH_EXPECT_EQ(p.fault_drop == 0 && p.fault_corrupt == 0 &&
                     p.fault_dup == 0 && p.fault_reorder == 0 &&
                     p.fault_reorder_delay_max == 0,
                 1);
    /* Some keys: the others stay 0. */
    TH_EXPECT_EQ(load_with("[faults]\ndrop = 0.25\nreorder = 1\n"
                           "reorder_delay_max_ns = 1500\n",
                           &p, err, sizeof err, path),
                 VS_OK);
    CU_ASSERT(p.fault_drop == 0.25);
    CU_ASSERT(p.fault_reorder == 1);
    CU_ASSERT(p.fault_corrupt == 0 && p.fault_dup == 0);
    TH_EXPECT_EQ(p.fault_reorder_delay_max, 1500 * HW_NS);
    /* Out of range, unknown: file, line and field. */
    err[0] = 0;
    TH_EXPECT_EQ(load_with("[faults]\ndup = 0.5\ncorrupt = 1.5\n", &p, err,
                           sizeof err, path),
                 VS_ECONFIG);
    CU_ASSERT(strstr(err, path) != NULL);
    CU_ASSERT(strstr(err, "[faults] corrupt") != NULL);
    CU_ASSERT(strstr(err, "out of range") != NULL);
    err[0] = 0;
    TH_EXPECT_EQ(load_with("[faults]\nlose = 0.5\n", &p, err, sizeof err, path),
                 VS_ECONFIG);
    CU_ASSERT(strstr(err, "[faults] lose: unknown key") != NULL);
}

void register_faults_tests(void)
{
    CU_pSuite s = th_suite("faults");
    th_add(s, "no faults: exact times, no counters", test_no_faults);
    th_add(s, "drop=1 delivers nothing, sends still complete",
           test_drop_all);
    th_add(s, "corrupt=1: the CRC check discards all before the firmware",
           test_corrupt_all);
    th_add(s, "dup=1 delivers every packet twice, identical",
           test_dup_all);
    th_add(s, "a duplicate follows right behind its original",
           test_dup_right_behind);
    th_add(s, "link down: drops exactly the heads entering in [from, to)",
           test_link_down_edges);
    th_add(s, "link down in a stream of packets; other links untouched",
           test_link_down_stream);
    th_add(s, "NIC down: drops what it sends and receives, sends complete",
           test_nic_down);
    th_add(s, "reorder: all arrive, out of order, links not held",
           test_reorder);
    th_add(s, "same seed, same trace; another seed, another",
           test_seed_determinism);
    th_add(s, "drop=0.05 over 10,000 packets within binomial bounds",
           test_drop_rate);
    th_add(s, "dup=0.05 over 10,000 packets within binomial bounds",
           test_dup_rate);
    th_add(s, "bad settings are refused and change nothing",
           test_bad_values);
    th_add(s, "the down intervals are copied", test_settings_copied);
    th_add(s, "profile [faults] section: optional, checked",
           test_profile_section);
}
