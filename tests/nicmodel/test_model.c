/*
 * The NIC and fabric model of nicmodel/, driven directly through the hw_nic
 * ops on the actor-free engine, with a hand-written profile and topology
 * (tests/nicmodel/model_helpers.h: nodes 0-2 on switch S1, nodes 3-4 on
 * switch S2, one link each way between the switches).  Every simulated time
 * is checked to the picosecond against the model's formulas computed from
 * the profile: host-DMA timing, copying and serialisation; packet delivery
 * over one and two switches; output-port contention; receive-buffer
 * back-pressure with no loss; SRAM accounting; NIC timers and processor
 * serialisation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nicmodel/nicm.h"
#include "sim/engine.h"
#include "tests/harness.h"
#include "tests/nicmodel/model_helpers.h"
#include "util/err.h"

void register_nicmodel_tests(void);

/* ---- expected times, in integer picoseconds ---- */

static hw_time_t dma_xfer(size_t len)
{
    return xfer_ps(len, DMA_MBPS * 1000000ull);
}

/* ---- helpers ---- */

/* A payload that says where it comes from: [seq, src, pattern...]. */
static void fill(unsigned char *buf, size_t len, int src, int seq)
{
    uint32_t x = (uint32_t)(src * 1000 + seq) * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    if (len > 0)
        buf[0] = (unsigned char)seq;
    if (len > 1)
        buf[1] = (unsigned char)src;
}

/* Completion of a host DMA or a send. */
struct done_rec {
    hw_time_t t;
    int status, fired;
    /* For DMAs: the two ends, compared when done runs. */
    const void *a, *b;
    size_t len;
    int intact;
};

static void done_cb(void *arg, int status)
{
    struct done_rec *d = arg;
    d->t = sim_now();
    d->status = status;
    d->fired++;
    if (d->a && d->b)
        d->intact = memcmp(d->a, d->b, d->len) == 0;
}

/* Receive side of one node. */
#define RX_MAX 16
struct rx_ctx {
    hw_nic *nic;
    int hold; /* keep the buffers (do not release) */
    int n;
    hw_time_t t[RX_MAX], nic_t[RX_MAX];
    int src[RX_MAX], seq[RX_MAX], intact[RX_MAX];
    size_t len[RX_MAX];
    int nheld;
    void *held[RX_MAX];
};

static void rx_cb(void *arg, void *pkt, size_t len, int src)
{
    struct rx_ctx *c = arg;
    int i = c->n++;
    if (i < RX_MAX) {
        const unsigned char *d = pkt;
        unsigned char want[MAX_PKT];
        c->t[i] = sim_now();
        c->nic_t[i] = c->nic->ops->now(c->nic);
        c->src[i] = src;
        c->len[i] = len;
        c->seq[i] = len > 0 ? d[0] : -1;
        c->intact[i] = 0;
        if (len >= 2 && len <= sizeof want) {
            fill(want, len, src, d[0]);
            c->intact[i] = memcmp(want, d, len) == 0;
        }
    }
    if (c->hold && c->nheld < RX_MAX)
        c->held[c->nheld++] = pkt;
    else
        c->nic->ops->rx_release(c->nic, pkt);
}

static void rx_setup(struct rx_ctx *c, nicm_cluster *cl, int node)
{
    memset(c, 0, sizeof *c);
    c->nic = nicm_nic(cl, node);
    c->nic->ops->set_rx(c->nic, rx_cb, c);
}

static void send_pkt(nicm_cluster *cl, int from, int to, size_t len, int seq,
                     struct done_rec *d)
{
    unsigned char buf[MAX_PKT];
    hw_nic *n = nicm_nic(cl, from);
    CU_ASSERT_FATAL(len <= sizeof buf);
    fill(buf, len, from, seq);
    memset(d, 0, sizeof *d);
    int rc = n->ops->net_send(n, to, buf, len, done_cb, d);
    TH_EXPECT_EQ(rc, VS_OK);
    /* The model took its copy: the buffer may change now. */
    memset(buf, 0xEE, len);
}

/* ---- 1. host DMA ---- */

struct probe {
    const unsigned char *p;
    size_t len;
    int untouched; /* all zero when the probe ran */
};

static void probe_zero(void *arg)
{
    struct probe *pr = arg;
    pr->untouched = 1;
    for (size_t i = 0; i < pr->len; i++)
        if (pr->p[i])
            pr->untouched = 0;
}

static void test_host_dma(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    hw_nic *n = nicm_nic(cl, 0);
    const size_t n1 = 4096, n2 = 1000;
    unsigned char *host = malloc(n1);
    unsigned char *host2 = calloc(1, n2 + 100);
    unsigned char *sram = n->ops->sram_alloc(n, n1);
    CU_ASSERT_FATAL(host && host2 && sram);
    fill(host, n1, 0, 7);

    /* Host -> SRAM at t = 0. */
    struct done_rec d1 = {.a = host, .b = sram, .len = n1};
    TH_EXPECT_EQ(
        n->ops->host_dma(n, HW_DMA_TO_NIC, host, sram, n1, done_cb, &d1),
        VS_OK);
    hw_time_t end1 = DMA_SETUP + dma_xfer(n1);
    /* One picosecond before the end nothing has moved yet. */
    struct probe pr = {sram, n1, 0};
    sim_post(end1 - 1, probe_zero, &pr);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(pr.untouched, 1);
    TH_EXPECT_EQ(d1.fired, 1);
    TH_EXPECT_EQ(d1.status, VS_OK);
    TH_EXPECT_EQ(d1.t, end1);
    TH_EXPECT_EQ(d1.intact, 1);
    TH_EXPECT_EQ(sim_now(), end1);

    /* SRAM -> host, from now (end1), at an offset on both sides. */
    struct done_rec d2 = {.a = host2 + 50, .b = sram + 7, .len = n2};
    TH_EXPECT_EQ(n->ops->host_dma(n, HW_DMA_TO_HOST, host2 + 50, sram + 7, n2,
                                  done_cb, &d2),
                 VS_OK);
    struct probe pr2 = {host2, n2 + 100, 0};
    hw_time_t end2 = end1 + DMA_SETUP + dma_xfer(n2);
    sim_post(end2 - 1, probe_zero, &pr2);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(pr2.untouched, 1);
    TH_EXPECT_EQ(d2.fired, 1);
    TH_EXPECT_EQ(d2.status, VS_OK);
    TH_EXPECT_EQ(d2.t, end2);
    TH_EXPECT_EQ(d2.intact, 1);
    CU_ASSERT(memcmp(host2 + 50, host + 7, n2) == 0);
    /* Nothing outside the target range was written. */
    size_t outside = 0;
    for (size_t i = 0; i < 50; i++)
        outside += host2[i] != 0;
    for (size_t i = 50 + n2; i < n2 + 100; i++)
        outside += host2[i] != 0;
    TH_EXPECT_EQ(outside, 0);

    const struct nicm_node_stats *st = nicm_node_stats(cl, 0);
    TH_EXPECT_EQ(st->host_dmas, 2);
    TH_EXPECT_EQ(st->host_dma_bytes, n1 + n2);
    TH_EXPECT_EQ(st->hdma_busy, end2);
    TH_EXPECT_EQ(st->bus_busy, dma_xfer(n1) + dma_xfer(n2));

    /* Bad requests are refused and start nothing. */
    TH_EXPECT_EQ(n->ops->host_dma(n, HW_DMA_TO_NIC, host, sram, n1, NULL, NULL),
                 VS_EINVAL);
    TH_EXPECT_EQ(
        n->ops->host_dma(n, HW_DMA_TO_NIC, NULL, sram, n1, done_cb, &d1),
        VS_EINVAL);
    TH_EXPECT_EQ(sim_run_events(INT64_MAX), 0);
    TH_EXPECT_EQ(st->host_dmas, 2);

    n->ops->sram_free(n, sram, n1);
    free(host);
    free(host2);
    model_cluster_end(cl);
}

/* A rate that is not a whole number of picoseconds per byte: the transfer
 * time is rounded up, and exact multiples are not rounded at all. */
static void test_host_dma_rounding(void)
{
    struct nicm_profile p;
    model_profile(&p);
    const uint64_t rate = 300000000ull; /* 300 MB/s: 3333.33.. ps/byte */
    p.dma_bytes_per_ps = 300 * 1e6 / 1e12;
    nicm_cluster *cl = model_cluster(&p);
    hw_nic *n = nicm_nic(cl, 1);
    static const size_t lens[] = {1000, 9, 3, 0, 4096, 3000};
    enum { K = sizeof lens / sizeof *lens };
    unsigned char *host = calloc(1, 4096);
    unsigned char *sram = n->ops->sram_alloc(n, 4096);
    CU_ASSERT_FATAL(host && sram);
    struct done_rec d[K];
    hw_time_t want[K];
    hw_time_t t = 0;
    for (int i = 0; i < K; i++) {
        memset(&d[i], 0, sizeof d[i]);
        /* Each one starts when the last ends (one engine). */
        t += DMA_SETUP + xfer_ps(lens[i], rate);
        want[i] = t;
        TH_EXPECT_EQ(n->ops->host_dma(n, HW_DMA_TO_HOST, host, sram, lens[i],
                                      done_cb, &d[i]),
                     VS_OK);
    }
    TH_EXPECT_EQ(xfer_ps(1000, rate), 3333334);
    TH_EXPECT_EQ(xfer_ps(9, rate), 30000);
    sim_run_events(INT64_MAX);
    for (int i = 0; i < K; i++) {
        TH_EXPECT_EQ(d[i].fired, 1);
        TH_EXPECT_EQ(d[i].t, want[i]);
    }
    n->ops->sram_free(n, sram, 4096);
    free(host);
    model_cluster_end(cl);
}

/* ---- 2. DMAs share one engine ---- */

struct dma_from_handler {
    hw_nic *n;
    void *host, *sram;
    size_t len;
    struct done_rec *d;
    hw_time_t start_t, issue_t;
};

static void dma_timer(void *arg)
{
    struct dma_from_handler *h = arg;
    h->start_t = sim_now();
    h->n->ops->charge(h->n, HW_FW_DMA_DONE, 1);
    h->issue_t = h->n->ops->now(h->n);
    TH_EXPECT_EQ(h->n->ops->host_dma(h->n, HW_DMA_TO_NIC, h->host, h->sram,
                                     h->len, done_cb, h->d),
                 VS_OK);
}

static void test_host_dma_serialised(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    hw_nic *n = nicm_nic(cl, 2);
    const size_t la = 2000, lb = 3000, lc = 100;
    unsigned char *ha = malloc(la), *hb = calloc(1, lb), *hc = malloc(lc);
    unsigned char *sa = n->ops->sram_alloc(n, la);
    unsigned char *sb = n->ops->sram_alloc(n, lb);
    unsigned char *sc = n->ops->sram_alloc(n, lc);
    CU_ASSERT_FATAL(ha && hb && hc && sa && sb && sc);
    fill(ha, la, 2, 1);
    fill(sb, lb, 2, 2);
    fill(hc, lc, 2, 3);
    struct done_rec da = {.a = ha, .b = sa, .len = la};
    struct done_rec db = {.a = hb, .b = sb, .len = lb};
    struct done_rec dc = {.a = hc, .b = sc, .len = lc};
    /* Two at once, in opposite directions. */
    TH_EXPECT_EQ(n->ops->host_dma(n, HW_DMA_TO_NIC, ha, sa, la, done_cb, &da),
                 VS_OK);
    TH_EXPECT_EQ(n->ops->host_dma(n, HW_DMA_TO_HOST, hb, sb, lb, done_cb, &db),
                 VS_OK);
    /* A third started by a handler at 100 us after charging cycles: it
     * starts at the processor's local time. */
    const hw_time_t t_timer = 100 * HW_US;
    struct dma_from_handler h = {n, hc, sc, lc, &dc, 0, 0};
    CU_ASSERT_FATAL(n->ops->timer_start(n, t_timer, dma_timer, &h) != NULL);
    sim_run_events(INT64_MAX);

    hw_time_t end_a = DMA_SETUP + dma_xfer(la);
    hw_time_t end_b = end_a + DMA_SETUP + dma_xfer(lb);
    CU_ASSERT_FATAL(end_b < t_timer);
    hw_time_t issue_c = t_timer + DMA_DONE_CYCLES * CYCLE;
    hw_time_t end_c = issue_c + DMA_SETUP + dma_xfer(lc);
    TH_EXPECT_EQ(da.fired, 1);
    TH_EXPECT_EQ(db.fired, 1);
    TH_EXPECT_EQ(dc.fired, 1);
    TH_EXPECT_EQ(da.t, end_a);
    TH_EXPECT_EQ(db.t, end_b);
    TH_EXPECT_EQ(h.start_t, t_timer);
    TH_EXPECT_EQ(h.issue_t, issue_c);
    TH_EXPECT_EQ(dc.t, end_c);
    TH_EXPECT_EQ(da.intact, 1);
    TH_EXPECT_EQ(db.intact, 1);
    TH_EXPECT_EQ(dc.intact, 1);
    const struct nicm_node_stats *st = nicm_node_stats(cl, 2);
    TH_EXPECT_EQ(st->host_dmas, 3);
    TH_EXPECT_EQ(st->hdma_busy, end_b + (end_c - issue_c));
    TH_EXPECT_EQ(st->bus_busy, dma_xfer(la) + dma_xfer(lb) + dma_xfer(lc));
    TH_EXPECT_EQ(st->cpu_busy, DMA_DONE_CYCLES * CYCLE);
    n->ops->sram_free(n, sa, la);
    n->ops->sram_free(n, sb, lb);
    n->ops->sram_free(n, sc, lc);
    free(ha);
    free(hb);
    free(hc);
    model_cluster_end(cl);
}

/* ---- 3. one packet over one switch ---- */

static void test_packet_delivery(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    struct rx_ctx rx;
    rx_setup(&rx, cl, 1);
    const size_t len = 1000;
    struct done_rec sd;
    send_pkt(cl, 0, 1, len, 5, &sd);
    sim_run_events(INT64_MAX);

    TH_EXPECT_EQ(rx.n, 1);
    TH_EXPECT_EQ(rx.t[0], same_switch_time(len));
    TH_EXPECT_EQ(rx.nic_t[0], same_switch_time(len));
    TH_EXPECT_EQ(rx.src[0], 0);
    TH_EXPECT_EQ(rx.len[0], len);
    TH_EXPECT_EQ(rx.seq[0], 5);
    TH_EXPECT_EQ(rx.intact[0], 1);
    /* The send buffer is free when the send-DMA has pushed the tail. */
    TH_EXPECT_EQ(sd.fired, 1);
    TH_EXPECT_EQ(sd.status, VS_OK);
    TH_EXPECT_EQ(sd.t, NET_SETUP + ser(len));

    const struct nicm_node_stats *s0 = nicm_node_stats(cl, 0);
    const struct nicm_node_stats *s1 = nicm_node_stats(cl, 1);
    TH_EXPECT_EQ(s0->pkts_sent, 1);
    TH_EXPECT_EQ(s0->wire_bytes_sent, len + WIRE_OVH);
    TH_EXPECT_EQ(s0->sdma_busy, NET_SETUP + ser(len));
    TH_EXPECT_EQ(s0->pkts_recv, 0);
    TH_EXPECT_EQ(s1->pkts_recv, 1);
    TH_EXPECT_EQ(s1->rdma_busy, NET_SETUP + ser(len));
    TH_EXPECT_EQ(s1->rx_stalls, 0);
    static const size_t used[] = {UP(0), DOWN(1)};
    for (int i = 0; i < 2; i++) {
        const struct nicm_link_stats *ls = nicm_link_stats(cl, used[i]);
        TH_EXPECT_EQ(ls->pkts, 1);
        TH_EXPECT_EQ(ls->bytes, len + WIRE_OVH);
        TH_EXPECT_EQ(ls->busy, ser(len));
        TH_EXPECT_EQ(ls->max_wait, 0);
    }
    for (size_t l = 0; l < NLINKS; l++)
        if (l != UP(0) && l != DOWN(1))
            TH_EXPECT_EQ(nicm_link_stats(cl, l)->pkts, 0);
    model_cluster_end(cl);
}

/* The largest packet goes through intact; bad sends are refused. */
static void test_packet_limits(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    struct rx_ctx rx;
    rx_setup(&rx, cl, 2);
    struct done_rec sd;
    send_pkt(cl, 1, 2, MAX_PKT, 9, &sd);
    hw_nic *n = nicm_nic(cl, 1);
    unsigned char buf[MAX_PKT + 1];
    memset(buf, 0, sizeof buf);
    struct done_rec bad;
    memset(&bad, 0, sizeof bad);
    TH_EXPECT_EQ(n->ops->net_send(n, 2, buf, MAX_PKT + 1, done_cb, &bad),
                 VS_EINVAL);
    TH_EXPECT_EQ(n->ops->net_send(n, NNODES, buf, 10, done_cb, &bad),
                 VS_EINVAL);
    TH_EXPECT_EQ(n->ops->net_send(n, -1, buf, 10, done_cb, &bad), VS_EINVAL);
    TH_EXPECT_EQ(n->ops->net_send(n, 2, buf, 0, done_cb, &bad), VS_EINVAL);
    TH_EXPECT_EQ(n->ops->net_send(n, 2, buf, 10, NULL, NULL), VS_EINVAL);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(bad.fired, 0);
    TH_EXPECT_EQ(rx.n, 1);
    TH_EXPECT_EQ(rx.len[0], MAX_PKT);
    TH_EXPECT_EQ(rx.intact[0], 1);
    TH_EXPECT_EQ(rx.t[0], same_switch_time(MAX_PKT));
    TH_EXPECT_EQ(nicm_node_stats(cl, 1)->pkts_sent, 1);
    model_cluster_end(cl);
}

/* ---- 4. contention ---- */

/* Nodes 0 and 1 send to node 2 at once: both heads reach S1's output port
 * to node 2 together.  Node 0's (queued first) goes; node 1's waits one
 * serialisation time there, then the receive-DMA engine, busy with the
 * first packet until it is in, takes the second with its own setup. */
static void test_same_destination_contention(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    struct rx_ctx rx;
    rx_setup(&rx, cl, 2);
    const size_t len = 2000;
    struct done_rec s0, s1;
    send_pkt(cl, 0, 2, len, 1, &s0);
    send_pkt(cl, 1, 2, len, 2, &s1);
    sim_run_events(INT64_MAX);
    hw_time_t first = same_switch_time(len);
    TH_EXPECT_EQ(rx.n, 2);
    TH_EXPECT_EQ(rx.src[0], 0);
    TH_EXPECT_EQ(rx.src[1], 1);
    TH_EXPECT_EQ(rx.t[0], first);
    TH_EXPECT_EQ(rx.t[1], first + NET_SETUP + ser(len));
    TH_EXPECT_EQ(rx.intact[0], 1);
    TH_EXPECT_EQ(rx.intact[1], 1);
    /* The senders did not wait. */
    TH_EXPECT_EQ(s0.t, NET_SETUP + ser(len));
    TH_EXPECT_EQ(s1.t, NET_SETUP + ser(len));
    const struct nicm_link_stats *down = nicm_link_stats(cl, DOWN(2));
    TH_EXPECT_EQ(down->pkts, 2);
    TH_EXPECT_EQ(down->busy, 2 * ser(len));
    TH_EXPECT_EQ(down->max_wait, ser(len));
    TH_EXPECT_EQ(nicm_link_stats(cl, UP(0))->max_wait, 0);
    TH_EXPECT_EQ(nicm_link_stats(cl, UP(1))->max_wait, 0);
    TH_EXPECT_EQ(nicm_node_stats(cl, 2)->pkts_recv, 2);
    TH_EXPECT_EQ(nicm_node_stats(cl, 2)->rdma_busy, 2 * (NET_SETUP + ser(len)));
    model_cluster_end(cl);
}

/* Nodes 0 and 1 (on S1) send to nodes 3 and 4 (on S2) at once: they share
 * only the S1 -> S2 link, so the second arrives exactly one serialisation
 * time after the first. */
static void test_shared_link_contention(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    struct rx_ctx rx3, rx4;
    rx_setup(&rx3, cl, 3);
    rx_setup(&rx4, cl, 4);
    const size_t len = 3000;
    struct done_rec s0, s1;
    send_pkt(cl, 0, 3, len, 1, &s0);
    send_pkt(cl, 1, 4, len, 2, &s1);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(rx3.n, 1);
    TH_EXPECT_EQ(rx4.n, 1);
    TH_EXPECT_EQ(rx3.t[0], cross_switch_time(len));
    TH_EXPECT_EQ(rx4.t[0], cross_switch_time(len) + ser(len));
    TH_EXPECT_EQ(rx3.intact[0], 1);
    TH_EXPECT_EQ(rx4.intact[0], 1);
    const struct nicm_link_stats *isl = nicm_link_stats(cl, ISL_12);
    TH_EXPECT_EQ(isl->pkts, 2);
    TH_EXPECT_EQ(isl->bytes, 2 * (len + WIRE_OVH));
    TH_EXPECT_EQ(isl->busy, 2 * ser(len));
    TH_EXPECT_EQ(isl->max_wait, ser(len));
    TH_EXPECT_EQ(nicm_link_stats(cl, ISL_21)->pkts, 0);
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(3))->max_wait, 0);
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(4))->max_wait, 0);
    model_cluster_end(cl);
}

/* A ring 0 -> 1 -> 2 -> 0 at once (each node sends and receives): paths
 * are disjoint, so nobody waits. */
static void test_no_interference(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    struct rx_ctx rx[3];
    for (int i = 0; i < 3; i++)
        rx_setup(&rx[i], cl, i);
    const size_t len = 1500;
    struct done_rec sd[3];
    for (int i = 0; i < 3; i++)
        send_pkt(cl, i, (i + 1) % 3, len, 10 + i, &sd[i]);
    sim_run_events(INT64_MAX);
    for (int i = 0; i < 3; i++) {
        TH_EXPECT_EQ(rx[i].n, 1);
        TH_EXPECT_EQ(rx[i].t[0], same_switch_time(len));
        TH_EXPECT_EQ(rx[i].src[0], (i + 2) % 3);
        TH_EXPECT_EQ(rx[i].intact[0], 1);
        TH_EXPECT_EQ(sd[i].t, NET_SETUP + ser(len));
        TH_EXPECT_EQ(nicm_link_stats(cl, UP(i))->max_wait, 0);
        TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(i))->max_wait, 0);
        TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(i))->pkts, 1);
    }
    model_cluster_end(cl);
}

/* Cut-through with links of different rates.  A slow first link: the
 * send-DMA streams at its rate, the fast links downstream are held until
 * the tail has come through, and the packet is in when its tail arrives
 * (the receive-DMA cannot finish before it).  A slow last link: the
 * receive-DMA streams at that link's rate. */
static void test_link_rates(void)
{
    const uint64_t slow = LINK_BPS / 4;
    const size_t len = 1000;
    const hw_time_t x_slow = xfer_ps(len + WIRE_OVH, slow);
    struct nicm_profile p;
    model_profile(&p);

    nicm_cluster *cl = model_cluster_bw(&p, UP(0), slow);
    struct rx_ctx rx;
    rx_setup(&rx, cl, 1);
    struct done_rec sd;
    send_pkt(cl, 0, 1, len, 4, &sd);
    sim_run_events(INT64_MAX);
    /* The head path is not what bounds it here. */
    CU_ASSERT(x_slow > NET_SETUP + SW_DELAY + ser(len));
    TH_EXPECT_EQ(sd.t, NET_SETUP + x_slow);
    TH_EXPECT_EQ(rx.n, 1);
    TH_EXPECT_EQ(rx.t[0], NET_SETUP + x_slow + LAT_UP + LAT_DOWN);
    TH_EXPECT_EQ(rx.intact[0], 1);
    TH_EXPECT_EQ(nicm_link_stats(cl, UP(0))->busy, x_slow);
    /* From when the head enters it until the tail has gone through. */
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->busy, x_slow - SW_DELAY);
    model_cluster_end(cl);

    cl = model_cluster_bw(&p, DOWN(1), slow);
    rx_setup(&rx, cl, 1);
    send_pkt(cl, 0, 1, len, 5, &sd);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(sd.t, NET_SETUP + ser(len));
    TH_EXPECT_EQ(rx.n, 1);
    TH_EXPECT_EQ(rx.t[0],
                 NET_SETUP + LAT_UP + SW_DELAY + LAT_DOWN + NET_SETUP + x_slow);
    TH_EXPECT_EQ(rx.intact[0], 1);
    TH_EXPECT_EQ(nicm_link_stats(cl, DOWN(1))->busy, x_slow);
    model_cluster_end(cl);
}

/* ---- 5. one switch vs two ---- */

static hw_time_t one_trip(int from, int to, size_t len)
{
    nicm_cluster *cl = model_cluster(NULL);
    struct rx_ctx rx;
    rx_setup(&rx, cl, to);
    struct done_rec sd;
    send_pkt(cl, from, to, len, 3, &sd);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(rx.n, 1);
    TH_EXPECT_EQ(rx.intact[0], 1);
    hw_time_t t = rx.n == 1 ? rx.t[0] : -1;
    if (SWITCH_OF(from) != SWITCH_OF(to)) {
        size_t isl = SWITCH_OF(from) == 0 ? ISL_12 : ISL_21;
        TH_EXPECT_EQ(nicm_link_stats(cl, isl)->pkts, 1);
        TH_EXPECT_EQ(nicm_link_stats(cl, isl)->busy, ser(len));
    }
    model_cluster_end(cl);
    return t;
}

static void test_two_switches(void)
{
    const size_t len = 700;
    hw_time_t same = one_trip(0, 1, len);
    hw_time_t cross = one_trip(0, 3, len);
    hw_time_t back = one_trip(4, 2, len);
    hw_time_t same_s2 = one_trip(3, 4, len);
    TH_EXPECT_EQ(same, same_switch_time(len));
    TH_EXPECT_EQ(cross, cross_switch_time(len));
    TH_EXPECT_EQ(cross - same, LAT_ISL + SW_DELAY);
    TH_EXPECT_EQ(back, cross);
    TH_EXPECT_EQ(same_s2, same);
}

/* ---- 6. receive buffers ---- */

struct release_ctx {
    struct rx_ctx *rx;
    hw_time_t t;
    int released;
};

/* A firmware timer that gives the held buffers back. */
static void release_timer(void *arg)
{
    struct release_ctx *r = arg;
    r->t = sim_now();
    struct rx_ctx *rx = r->rx;
    rx->hold = 0;
    for (int i = 0; i < rx->nheld; i++)
        rx->nic->ops->rx_release(rx->nic, rx->held[i]);
    r->released = rx->nheld;
    rx->nheld = 0;
}

static void test_rx_buffers_backpressure(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    struct rx_ctx rx;
    rx_setup(&rx, cl, 1);
    rx.hold = 1;
    enum { NPKT = 7 };
    const size_t len = 100;
    struct done_rec sd[NPKT];
    for (int i = 0; i < NPKT; i++)
        send_pkt(cl, 0, 1, len, i, &sd[i]);
    const hw_time_t t_rel = 1 * HW_MS;
    struct release_ctx rel = {&rx, 0, 0};
    hw_nic *n1 = nicm_nic(cl, 1);
    CU_ASSERT_FATAL(n1->ops->timer_start(n1, t_rel, release_timer, &rel) !=
                    NULL);

    /* Before the release: the first RECV_BUFS are in, the rest wait. */
    sim_run_events(t_rel - 1);
    TH_EXPECT_EQ(rx.n, RECV_BUFS);
    TH_EXPECT_EQ(nicm_node_stats(cl, 1)->rx_stalls, NPKT - RECV_BUFS);
    TH_EXPECT_EQ(nicm_packets_in_flight(cl), NPKT);
    sim_run_events(INT64_MAX);

    /* One sender: packets leave one send-DMA (setup + serialisation)
     * apart and arrive, pipelined, as far apart. */
    const hw_time_t gap = NET_SETUP + ser(len);
    TH_EXPECT_EQ(rel.t, t_rel);
    TH_EXPECT_EQ(rel.released, RECV_BUFS);
    TH_EXPECT_EQ(rx.n, NPKT);
    for (int i = 0; i < NPKT && i < rx.n; i++) {
        TH_EXPECT_EQ(rx.seq[i], i); /* in order, none lost */
        TH_EXPECT_EQ(rx.src[i], 0);
        TH_EXPECT_EQ(rx.intact[i], 1);
        TH_EXPECT_EQ(sd[i].t, (i + 1) * gap);
        if (i < (int)RECV_BUFS)
            TH_EXPECT_EQ(rx.t[i], same_switch_time(len) + i * gap);
        else /* Taken in, one after another, once buffers are free. */
            TH_EXPECT_EQ(rx.t[i], t_rel + (i - (int)RECV_BUFS + 1) *
                                              (NET_SETUP + ser(len)));
    }
    const struct nicm_node_stats *s1 = nicm_node_stats(cl, 1);
    TH_EXPECT_EQ(s1->pkts_recv, NPKT);
    TH_EXPECT_EQ(s1->rx_stalls, NPKT - RECV_BUFS);
    TH_EXPECT_EQ(nicm_node_stats(cl, 0)->pkts_sent, NPKT);
    TH_EXPECT_EQ(nicm_node_stats(cl, 0)->wire_bytes_sent,
                 NPKT * (len + WIRE_OVH));
    model_cluster_end(cl); /* checks nothing is in flight */
}

/* ---- 7. SRAM ---- */

static void test_sram(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    hw_nic *n = nicm_nic(cl, 4);
    /* The receive buffers live in SRAM. */
    const size_t avail = SRAM_BYTES - RECV_BUFS * MAX_PKT;
    unsigned char *a = n->ops->sram_alloc(n, avail - 1000);
    CU_ASSERT_FATAL(a != NULL);
    CU_ASSERT(n->ops->sram_alloc(n, 1001) == NULL);
    unsigned char *b = n->ops->sram_alloc(n, 1000);
    CU_ASSERT_FATAL(b != NULL);
    CU_ASSERT(n->ops->sram_alloc(n, 1) == NULL);
    CU_ASSERT(n->ops->sram_alloc(n, 0) == NULL);
    TH_EXPECT_EQ(nicm_node_stats(cl, 4)->sram_peak, SRAM_BYTES);
    /* Another NIC's SRAM is its own. */
    hw_nic *other = nicm_nic(cl, 3);
    void *o = other->ops->sram_alloc(other, 4096);
    CU_ASSERT(o != NULL);
    other->ops->sram_free(other, o, 4096);
    /* Freed memory can be allocated again, zeroed. */
    memset(b, 0xAB, 1000);
    n->ops->sram_free(n, b, 1000);
    unsigned char *c = n->ops->sram_alloc(n, 600);
    unsigned char *d = n->ops->sram_alloc(n, 400);
    CU_ASSERT_FATAL(c != NULL && d != NULL);
    CU_ASSERT(n->ops->sram_alloc(n, 1) == NULL);
    size_t nonzero = 0;
    for (size_t i = 0; i < 600; i++)
        nonzero += c[i] != 0;
    for (size_t i = 0; i < 400; i++)
        nonzero += d[i] != 0;
    TH_EXPECT_EQ(nonzero, 0);
    n->ops->sram_free(n, a, avail - 1000);
    n->ops->sram_free(n, c, 600);
    n->ops->sram_free(n, d, 400);
    n->ops->sram_free(n, NULL, 0);
    /* Everything back: all of it fits again, not one byte more. */
    CU_ASSERT(n->ops->sram_alloc(n, avail + 1) == NULL);
    a = n->ops->sram_alloc(n, avail);
    CU_ASSERT(a != NULL);
    n->ops->sram_free(n, a, avail);
    TH_EXPECT_EQ(nicm_node_stats(cl, 4)->sram_peak, SRAM_BYTES);
    model_cluster_end(cl);
}

/* A profile that does not fit the topology is refused with a message. */
static void test_bad_config(void)
{
    sim_reset();
    struct nicm_profile p;
    model_profile(&p);
    struct nicm_topo topo = model_topo();
    nicm_cluster *cl = (nicm_cluster *)(uintptr_t)1; /* overwritten */
    char err[256] = "";
    p.sram_bytes = (uint64_t)p.recv_buffers * p.max_packet;
    TH_EXPECT_EQ(nicm_cluster_create(&cl, &p, &topo, err, sizeof err),
                 VS_ECONFIG);
    CU_ASSERT(cl == NULL);
    CU_ASSERT(strstr(err, "recv_buffers") != NULL);
    /* One byte more fits, and leaves one byte of SRAM. */
    p.sram_bytes++;
    TH_EXPECT_EQ(nicm_cluster_create(&cl, &p, &topo, err, sizeof err), VS_OK);
    CU_ASSERT_FATAL(cl != NULL);
    hw_nic *n = nicm_nic(cl, 0);
    void *one = n->ops->sram_alloc(n, 1);
    CU_ASSERT(one != NULL);
    CU_ASSERT(n->ops->sram_alloc(n, 1) == NULL);
    n->ops->sram_free(n, one, 1);
    nicm_cluster_destroy(cl);
    /* A link without bandwidth. */
    model_profile(&p);
    double bw[NLINKS];
    memcpy(bw, topo.link_bw, sizeof bw);
    bw[ISL_21] = 0;
    topo.link_bw = bw;
    err[0] = 0;
    TH_EXPECT_EQ(nicm_cluster_create(&cl, &p, &topo, err, sizeof err),
                 VS_ECONFIG);
    CU_ASSERT(cl == NULL);
    CU_ASSERT(err[0] != 0);
    sim_shutdown();
}

/* ---- 8. timers ---- */

struct tm_rec {
    hw_nic *n;
    int fired, order;
    hw_time_t t, nic_t, end_t;
    void *handle;
    uint32_t charge_cmds;      /* charge this many HW_FW_CMD */
    struct tm_rec *cancel;     /* cancel this timer */
    struct tm_rec *child;      /* then start this one */
    hw_time_t child_delay;
};

static int tm_order;

static void tm_cb(void *arg)
{
    struct tm_rec *r = arg;
    r->fired++;
    r->order = ++tm_order;
    r->t = sim_now();
    r->nic_t = r->n->ops->now(r->n);
    if (r->charge_cmds)
        r->n->ops->charge(r->n, HW_FW_CMD, r->charge_cmds);
    if (r->cancel)
        r->n->ops->timer_cancel(r->n, r->cancel->handle);
    if (r->child)
        r->child->handle = r->n->ops->timer_start(r->n, r->child_delay, tm_cb,
                                                  r->child);
    r->end_t = r->n->ops->now(r->n);
}

static void test_timers(void)
{
    nicm_cluster *cl = model_cluster(NULL);
    hw_nic *n0 = nicm_nic(cl, 0), *n1 = nicm_nic(cl, 1);
    struct nicm_profile p;
    model_profile(&p);
    TH_EXPECT_EQ(p.cycle, CYCLE); /* derived from nic_clock_mhz */
    tm_order = 0;
    struct tm_rec z = {.n = n0}, neg = {.n = n0}, a = {.n = n0},
                  b = {.n = n0}, c = {.n = n0}, d = {.n = n0},
                  x = {.n = n0}, e = {.n = n1}, f = {.n = n0};
    const hw_time_t ta = 10 * HW_US, tc = ta + 500 * HW_NS,
                    tb = ta + 800 * HW_NS;
    /* a charges 2 x CMD_CYCLES cycles (busy until ta + busy), then starts
     * d 5 us later; f, due with a, runs when a is done and charges one
     * CMD_CYCLES; c, due while the processor is busy, runs after f and
     * cancels b, which fired meanwhile but has not run. */
    const hw_time_t busy = 2 * CMD_CYCLES * CYCLE;
    const hw_time_t busy_f = CMD_CYCLES * CYCLE;
    a.charge_cmds = 2;
    a.child = &d;
    a.child_delay = 5 * HW_US;
    f.charge_cmds = 1;
    c.cancel = &b;
    z.handle = n0->ops->timer_start(n0, 0, tm_cb, &z);
    neg.handle = n0->ops->timer_start(n0, -5, tm_cb, &neg);
    a.handle = n0->ops->timer_start(n0, ta, tm_cb, &a);
    f.handle = n0->ops->timer_start(n0, ta, tm_cb, &f); /* due with a */
    c.handle = n0->ops->timer_start(n0, tc, tm_cb, &c);
    b.handle = n0->ops->timer_start(n0, tb, tm_cb, &b);
    x.handle = n0->ops->timer_start(n0, 5 * HW_US, tm_cb, &x);
    e.handle = n1->ops->timer_start(n1, tc, tm_cb, &e);
    CU_ASSERT_FATAL(z.handle && neg.handle && a.handle && b.handle &&
                    c.handle && x.handle && e.handle && f.handle);
    CU_ASSERT_FATAL(tc < tb && tb < ta + busy);
    /* Cancelled before it is due: never fires. */
    n0->ops->timer_cancel(n0, x.handle);
    n0->ops->timer_cancel(n0, NULL);
    sim_run_events(INT64_MAX);

    TH_EXPECT_EQ(z.fired, 1);
    TH_EXPECT_EQ(z.t, 0);
    TH_EXPECT_EQ(neg.fired, 1);
    TH_EXPECT_EQ(neg.t, 0);
    TH_EXPECT_EQ(z.order, 1);
    TH_EXPECT_EQ(neg.order, 2);
    TH_EXPECT_EQ(a.fired, 1);
    TH_EXPECT_EQ(a.t, ta);
    TH_EXPECT_EQ(a.nic_t, ta);
    TH_EXPECT_EQ(a.end_t, ta + busy);
    /* f, due with a, runs when a is done. */
    TH_EXPECT_EQ(f.fired, 1);
    TH_EXPECT_EQ(f.t, ta + busy);
    TH_EXPECT_EQ(f.nic_t, ta + busy);
    TH_EXPECT_EQ(f.end_t, ta + busy + busy_f);
    CU_ASSERT(a.order < f.order); /* (e, on node 1, ran in between) */
    /* Node 1's processor is not node 0's. */
    TH_EXPECT_EQ(e.fired, 1);
    TH_EXPECT_EQ(e.t, tc);
    TH_EXPECT_EQ(c.fired, 1);
    TH_EXPECT_EQ(c.t, ta + busy + busy_f);
    TH_EXPECT_EQ(c.nic_t, ta + busy + busy_f);
    TH_EXPECT_EQ(b.fired, 0);
    TH_EXPECT_EQ(x.fired, 0);
    /* Started by a handler: from its local time. */
    TH_EXPECT_EQ(d.fired, 1);
    TH_EXPECT_EQ(d.t, ta + busy + 5 * HW_US);
    CU_ASSERT(d.t > c.t);
    CU_ASSERT(f.order < c.order && c.order < d.order);
    TH_EXPECT_EQ(nicm_node_stats(cl, 0)->cpu_busy, busy + busy_f);
    TH_EXPECT_EQ(nicm_node_stats(cl, 1)->cpu_busy, 0);
    TH_EXPECT_EQ(sim_now(), d.t);
    model_cluster_end(cl);
}

void register_nicmodel_tests(void)
{
    CU_pSuite s = th_suite("nicmodel");
    th_add(s, "host DMA: setup + ceil(len/rate), bytes move at the end",
           test_host_dma);
    th_add(s, "host DMA time rounds up, exact multiples exact",
           test_host_dma_rounding);
    th_add(s, "host DMAs serialise on the one engine",
           test_host_dma_serialised);
    th_add(s, "packet over one switch: formula time, bytes intact",
           test_packet_delivery);
    th_add(s, "largest packet intact, bad sends refused", test_packet_limits);
    th_add(s, "same destination: output port serialises",
           test_same_destination_contention);
    th_add(s, "shared inter-switch link: second one serialisation later",
           test_shared_link_contention);
    th_add(s, "disjoint paths do not delay each other", test_no_interference);
    th_add(s, "links of different rates: tail and last-link rate bound it",
           test_link_rates);
    th_add(s, "two switches cost one link latency + one switch delay more",
           test_two_switches);
    th_add(s, "receive buffers exhausted: packets wait, none lost",
           test_rx_buffers_backpressure);
    th_add(s, "SRAM allocation fails past sram_bytes, recovers on free",
           test_sram);
    th_add(s, "profile that does not fit is refused", test_bad_config);
    th_add(s, "timers fire on time, cancelled ones never", test_timers);
}
