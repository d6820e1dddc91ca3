/*
 * bench/refloop.c — the reference event loop of `make bench`'s speed table.
 *
 * A minimal hand-written discrete-event simulator: a binary min-heap of
 * timestamped callbacks ordered by (time, sequence), integer picoseconds,
 * and nothing else (no SimGrid, no firmware, no host processes).  It replays
 * the traffic of the simulator's speed scenarios with the same per-packet
 * arithmetic as the NIC model and the profile's numbers (configs/myrinet.ini):
 *
 *   host-DMA of the packet's payload into NIC SRAM (setup, then the PCI bus
 *   at dma_MBps), one packet buffer of send_buffers held until its tail has
 *   left; the send-DMA onto the first link (net_dma_setup, wire bytes at the
 *   link's rate); every link of the route in turn (output-port contention,
 *   link latency, switch_delay at a switch, the tail never before it has
 *   come in); a receive buffer of recv_buffers at the destination (packets
 *   wait in order for one); the receive-DMA; the host-DMA into host memory,
 *   which frees the receive buffer.
 *
 * The platform is a single crossbar: a route is the source's up link and
 * the destination's down link (bench/speed.sh generates the same platform
 * for vmmcsim).  What it leaves out is what the ratio measures: the
 * firmware, the reliable link (acknowledgements), notifications, the host
 * library and processes, SimGrid.
 *
 *   refloop stream   MESSAGES SIZE      node 0 streams to node 1
 *   refloop alltoall NODES MESSAGES SIZE   every node to every other in turn,
 *                                       MESSAGES in all (as `alltoall`)
 *
 * Prints one line of JSON: events, packets, wall_s, events_per_s,
 * packets_per_s, sim_time_us.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int64_t ps_t;
typedef void (*ev_fn)(void *arg);

/* ---- The profile (configs/myrinet.ini) and the platform ---- */

#define NS 1000
static const ps_t DMA_SETUP = 500 * NS;    /* [pci] dma_setup_ns */
static const double DMA_BPS = 110e6;       /* [pci] dma_MBps */
static const ps_t NET_DMA_SETUP = 120 * NS; /* [nic] net_dma_setup_ns */
static const ps_t SWITCH_DELAY = 300 * NS; /* [fabric] switch_delay_ns */
static const unsigned SEND_BUFS = 16;      /* [nic] send_buffers */
static const unsigned RECV_BUFS = 16;      /* [nic] recv_buffers */
static const size_t PAYLOAD = 4160 - 64;   /* [nic] max_packet - header */
static const size_t HEADER = 64;
static const size_t WIRE_OVERHEAD = 8;     /* [nic] wire_overhead_bytes */
static const double LINK_BPS = 160e6;      /* the platform: 160MBps links */
static const ps_t LINK_LAT = 50 * NS;      /* 0.05us */

/* bytes at a rate in bytes per second, rounded up to a picosecond. */
static ps_t xfer(size_t bytes, double bps)
{
    double q = (double)bytes / (bps / 1e12);
    return (ps_t)ceil(q - q * 1e-15);
}

static ps_t max_ps(ps_t a, ps_t b) { return a > b ? a : b; }

/* ---- The event heap ---- */

struct ev {
    ps_t t;
    uint64_t seq;
    ev_fn fn;
    void *arg;
};

static struct {
    struct ev *h;
    size_t len, cap;
    uint64_t seq, events;
    ps_t now;
} Q;

static int before(const struct ev *a, const struct ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void post(ps_t t, ev_fn fn, void *arg)
{
    if (Q.len == Q.cap) {
        Q.cap = Q.cap ? 2 * Q.cap : 1024;
        Q.h = realloc(Q.h, Q.cap * sizeof *Q.h);
        if (!Q.h) {
            fprintf(stderr, "refloop: out of memory\n");
            exit(1);
        }
    }
    struct ev e = {t, Q.seq++, fn, arg};
    size_t i = Q.len++;
    while (i > 0 && before(&e, &Q.h[(i - 1) / 2])) {
        Q.h[i] = Q.h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    Q.h[i] = e;
}

static void run(void)
{
    while (Q.len) {
        struct ev e = Q.h[0];
        struct ev last = Q.h[--Q.len];
        size_t i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= Q.len)
                break;
            if (c + 1 < Q.len && before(&Q.h[c + 1], &Q.h[c]))
                c++;
            if (!before(&Q.h[c], &last))
                break;
            Q.h[i] = Q.h[c];
            i = c;
        }
        if (Q.len)
            Q.h[i] = last;
        Q.now = e.t;
        Q.events++;
        e.fn(e.arg);
    }
}

/* ---- Nodes, links, packets ---- */

struct pkt {
    struct pkt *next;
    int src, dst, hop;
    size_t len, wire; /* payload; bytes on the wire */
    ps_t head, tail;  /* at the next link's input */
};

struct node {
    /* Sending: messages in plan order, cut into packets. */
    uint64_t next_msg, nmsgs;
    size_t msg_left;
    int msg_dst;
    unsigned send_free; /* packet buffers */
    int hdma_busy;
    ps_t bus_free, sdma_free, rdma_free;
    /* Receiving. */
    unsigned recv_free;
    struct pkt *stall, *stall_tail;
    struct pkt *hq, *hq_tail; /* packets waiting for the host-DMA engine */
    int to_host_busy;
};

static struct node *N;
static int nnodes;
static ps_t *link_free; /* 2 per node: up, down */
static uint64_t packets, delivered_bytes;
static uint64_t messages;
static size_t msg_size;

static void pump(struct node *n);
static void rx_take(struct node *n, struct pkt *p, ps_t t);

static int node_id(const struct node *n) { return (int)(n - N); }

/* The next destination of sender s's plan (alltoall's order). */
static int plan_dst(int s, uint64_t j)
{
    return nnodes == 2 ? 1 - s
                       : (s + 1 + (int)(j % (uint64_t)(nnodes - 1))) % nnodes;
}

static void send_done(void *arg) /* the packet's tail left: buffer free */
{
    struct node *n = arg;
    n->send_free++;
    pump(n);
}

static void hop(void *arg)
{
    struct pkt *p = arg;
    if (p->hop == 2) { /* at the destination NIC */
        struct node *d = &N[p->dst];
        if (d->recv_free == 0 || d->stall) {
            p->next = NULL;
            if (d->stall_tail)
                d->stall_tail->next = p;
            else
                d->stall = p;
            d->stall_tail = p;
            return;
        }
        rx_take(d, p, Q.now);
        return;
    }
    size_t li = p->hop == 0 ? 2 * (size_t)p->src : 2 * (size_t)p->dst + 1;
    ps_t start = max_ps(Q.now, link_free[li]);
    ps_t end = max_ps(start + xfer(p->wire, LINK_BPS), p->tail);
    link_free[li] = end;
    p->hop++;
    p->head = start + LINK_LAT + (p->hop < 2 ? SWITCH_DELAY : 0);
    p->tail = end + LINK_LAT;
    post(p->head, hop, p);
}

static void hdma_from_host_done(void *arg)
{
    struct pkt *p = arg;
    struct node *n = &N[p->src];
    n->hdma_busy = 0;
    /* The send-DMA onto the first link. */
    ps_t start = max_ps(Q.now, n->sdma_free);
    p->head = start + NET_DMA_SETUP;
    p->tail = p->head + xfer(p->wire, LINK_BPS);
    n->sdma_free = p->tail;
    p->hop = 0;
    packets++;
    post(p->tail, send_done, n);
    post(p->head, hop, p);
    pump(n);
}

static void hdma_from_host_data(void *arg)
{
    struct pkt *p = arg;
    struct node *n = &N[p->src];
    ps_t data = max_ps(Q.now, n->bus_free);
    n->bus_free = data + xfer(p->len, DMA_BPS);
    post(n->bus_free, hdma_from_host_done, p);
}

/* Starts the next packet of the plan when the host-DMA engine and a packet
 * buffer are free. */
static void pump(struct node *n)
{
    if (n->hdma_busy || n->send_free == 0)
        return;
    if (n->msg_left == 0) {
        if (n->next_msg == n->nmsgs)
            return;
        n->msg_dst = plan_dst(node_id(n), n->next_msg++);
        n->msg_left = msg_size;
    }
    struct pkt *p = malloc(sizeof *p);
    if (!p) {
        fprintf(stderr, "refloop: out of memory\n");
        exit(1);
    }
    p->src = node_id(n);
    p->dst = n->msg_dst;
    p->len = n->msg_left < PAYLOAD ? n->msg_left : PAYLOAD;
    p->wire = p->len + HEADER + WIRE_OVERHEAD;
    n->msg_left -= p->len;
    n->send_free--;
    n->hdma_busy = 1;
    post(Q.now + DMA_SETUP, hdma_from_host_data, p);
}

static void to_host_begin(struct node *n);

static void to_host_done(void *arg)
{
    struct pkt *p = arg;
    struct node *n = &N[p->dst];
    delivered_bytes += p->len;
    n->hq = p->next;
    if (!n->hq)
        n->hq_tail = NULL;
    n->to_host_busy = 0;
    free(p);
    n->recv_free++;
    if (n->stall) {
        struct pkt *q = n->stall;
        n->stall = q->next;
        if (!n->stall)
            n->stall_tail = NULL;
        rx_take(n, q, Q.now);
    }
    if (n->hq)
        to_host_begin(n);
}

static void to_host_data(void *arg)
{
    struct pkt *p = arg;
    struct node *n = &N[p->dst];
    ps_t data = max_ps(Q.now, n->bus_free);
    n->bus_free = data + xfer(p->len, DMA_BPS);
    post(n->bus_free, to_host_done, p);
}

static void to_host_begin(struct node *n)
{
    n->to_host_busy = 1;
    post(Q.now + DMA_SETUP, to_host_data, n->hq);
}

static void rx_done(void *arg) /* in a receive buffer: to the host */
{
    struct pkt *p = arg;
    struct node *n = &N[p->dst];
    p->next = NULL;
    if (n->hq_tail)
        n->hq_tail->next = p;
    else
        n->hq = p;
    n->hq_tail = p;
    if (!n->to_host_busy)
        to_host_begin(n);
}

static void rx_take(struct node *n, struct pkt *p, ps_t t)
{
    n->recv_free--;
    ps_t start = max_ps(t, n->rdma_free);
    ps_t end = max_ps(start + NET_DMA_SETUP + xfer(p->wire, LINK_BPS), p->tail);
    n->rdma_free = end;
    post(end, rx_done, p);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: refloop stream MESSAGES SIZE\n"
                    "       refloop alltoall NODES MESSAGES SIZE\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n, m, size;
    if (argc == 4 && !strcmp(argv[1], "stream")) {
        n = 2;
        if (parse_u64(argv[2], 1, 1ull << 40, &m) ||
            parse_u64(argv[3], 1, 1ull << 30, &size))
            return usage();
    } else if (argc == 5 && !strcmp(argv[1], "alltoall")) {
        if (parse_u64(argv[2], 2, 1u << 20, &n) ||
            parse_u64(argv[3], 1, 1ull << 40, &m) ||
            parse_u64(argv[4], 1, 1ull << 30, &size))
            return usage();
    } else {
        return usage();
    }
    nnodes = (int)n;
    messages = m;
    msg_size = (size_t)size;
    N = calloc((size_t)nnodes, sizeof *N);
    link_free = calloc(2 * (size_t)nnodes, sizeof *link_free);
    if (!N || !link_free) {
        fprintf(stderr, "refloop: out of memory\n");
        return 1;
    }
    for (int i = 0; i < nnodes; i++) {
        struct node *x = &N[i];
        /* A stream: node 0 sends everything; alltoall: spread as there. */
        x->nmsgs = argv[1][0] == 's'
                       ? (i == 0 ? m : 0)
                       : m / n + ((uint64_t)i < m % n ? 1 : 0);
        x->send_free = SEND_BUFS;
        x->recv_free = RECV_BUFS;
    }
    double t0 = wall();
    for (int i = 0; i < nnodes; i++)
        pump(&N[i]);
    run();
    double dt = wall() - t0;
    if (delivered_bytes != m * size) {
        fprintf(stderr, "refloop: delivered %llu bytes of %llu\n",
                (unsigned long long)delivered_bytes,
                (unsigned long long)(m * size));
        return 1;
    }
    printf("{\"events\":%llu,\"packets\":%llu,\"wall_s\":%.6f,"
           "\"events_per_s\":%.0f,\"packets_per_s\":%.0f,"
           "\"sim_time_us\":%.3f}\n",
           (unsigned long long)Q.events, (unsigned long long)packets, dt,
           dt > 0 ? (double)Q.events / dt : 0.0,
           dt > 0 ? (double)packets / dt : 0.0, (double)Q.now / 1e6);
    free(Q.h);
    free(N);
    free(link_free);
    return 0;
}
