/*
 * Internal structures of nicmodel/: the per-node NIC and host state and the
 * fabric, shared by nic.c (engines, processor, host side) and fabric.c
 * (links, switches, packet delivery).
 */
#ifndef NICM_NIC_INT_H
#define NICM_NIC_INT_H

#include <float.h>

#include "nicmodel/nicm.h"
#include "util/pool.h"

struct nicm__task;
struct nicm__pkt;
struct dma_req;

/* A buffer release of fabric.c's finite switch buffers: bytes leave a
 * link's output queue at t. */
struct nicm__rel {
    hw_time_t t;
    uint64_t bytes;
};

struct nicm__link {
    double bw;     /* bytes per picosecond */
    hw_time_t lat;
    hw_time_t free_at;
    struct nicm_link_stats st;
    /* Finite switch buffers only ([fabric] switch_buffer_bytes > 0): the
     * output queue in front of the link, fabric.c. */
    struct nicm_cluster *cl;
    int busy;                            /* a packet holds the link */
    struct nicm__pkt *oq_head, *oq_tail; /* admitted, waiting for it */
    struct nicm__pkt *bq_head, *bq_tail; /* blocked upstream: no room */
    uint64_t q_bytes;                    /* room taken in the queue */
    struct nicm__rel *rel;               /* pending releases, a ring */
    size_t rel_head, rel_n, rel_cap;
    struct sim_event rel_ev;
};

struct nicm__route {
    int n;
    size_t links[];
};

struct nicm__node {
    /* What most events touch comes first, together, from the start of a
     * cache line (a large cluster's nodes are cold in the cache: each line
     * an event reads is a miss). */
    _Alignas(64) struct nicm_cluster *cl;
    /* NIC processor. */
    struct nicm__task *tq_head, *tq_tail;
    int cpu_scheduled, cpu_running;
    hw_time_t cpu_free, cpu_now;
    /* Engines and the PCI bus. */
    hw_time_t bus_free, sdma_free, rdma_free;
    struct dma_req *hq_head, *hq_tail; /* host-DMA engine queue */
    int hdma_active;
    /* Receive buffers and the packets stalled waiting for one.  Buffers
     * the firmware released are free from the time it released them (its
     * processor's clock, so in order): rx_rel is a ring of those times,
     * rx_rel_n of them from rx_rel_head, taken as packets arrive or by
     * rx_due_ev, which delivers stalled packets when a buffer frees. */
    uint32_t rx_free;
    struct nicm__pkt *stall_head, *stall_tail;
    hw_time_t *rx_rel;
    uint32_t rx_rel_head, rx_rel_n;
    /* Upcalls registered by the firmware. */
    hw_rx_fn rx_fn;
    void *rx_arg;
    hw_upcall_fn doorbell_fn;
    void *doorbell_arg;
    struct nicm_node_stats st;
    struct sim_event rx_due_ev;
    struct hw_host host;
    struct hw_nic nic;
    sim_proc *proc;
    /* Host side. */
    hw_upcall_fn irq_fn;
    void *irq_arg;
    int irq_pending;
    hw_ready_fn wait_ready;
    void *wait_arg;
    const char *wait_addr; /* wait_len > 0: what wait_ready reads */
    size_t wait_len;
    struct sim_event wait_tmo;
    void *window;
    uint64_t sram_used, sram_base; /* base: the receive buffers */
    struct nicm__route **routes; /* Lazily filled, one per destination. */
    /* --fabric flow (flow.c): this NIC's packets in flight, in send order. */
    struct nicm__flowrec *flow_head, *flow_tail;
};

/* The fault model (nicm_set_faults) and its generator, xoshiro256**. */
struct nicm__faults {
    int active; /* any probability or interval: the fabric consults it */
    double drop, corrupt, dup, reorder;
    hw_time_t reorder_delay_max;
    struct nicm_link_down *downs;
    size_t ndowns;
    struct nicm_nic_down *nic_downs;
    size_t nnic_downs;
    struct nicm_fault_pick *picks; /* sorted by node, then nth */
    size_t npicks;
    size_t *pick_next; /* per node: its first pick not yet reached */
    int record;
    struct nicm_fault_pick *log;
    size_t nlog, log_cap;
    uint64_t rng[4];
    struct nicm_fault_stats st;
};

struct nicm_cluster {
    struct nicm_profile prof;
    struct nicm_topo topo;
    int nnodes;
    struct nicm__node *nodes;
    struct nicm__link *links;
    uint64_t in_flight;
    /* Blocks made and dropped per packet (util/pool.h): packets (with
     * prof.max_packet bytes of data; nicm__pkt_alloc), host-DMA requests,
     * NIC processor tasks and timers (nic.c). */
    struct vs_pool pkt_pool, dma_pool, task_pool, timer_pool;
    /* Small SRAM blocks (control packets' headers), by size class of
     * NICM_SRAM_CLASS bytes up to NICM_SRAM_SMALL (nic.c). */
#define NICM_SRAM_CLASS 16
#define NICM_SRAM_SMALL 256
    struct vs_pool sram_small[NICM_SRAM_SMALL / NICM_SRAM_CLASS];
    struct nicm__faults faults;
    FILE *tl; /* --timeline (timeline.c), or NULL */
    int flow; /* --fabric flow: packets cross as SimGrid flows (flow.c) */
    int fb_ready; /* fabric.c set up its finite-buffer state */
    /* Large host-DMAs into host memory bypass the simulator's caches
     * (copy_to_host in nic.c): from NICM_NT_MIN_NODES nodes on. */
#define NICM_NT_MIN_NODES 32
    int nt_to_host;
};

/* A packet on the wire; data[] is what the firmware sees in its receive
 * buffer. */
struct nicm__pkt {
    struct nicm__pkt *next;
    struct nicm__node *src, *dst;
    const struct nicm__route *route;
    int hop;
    unsigned corrupt : 1;    /* a bit flipped: fails the CRC on arrival */
    unsigned duplicated : 1; /* a copy was made, or this is the copy */
    unsigned delivered : 1;  /* handed to the receive-DMA engine */
    unsigned is_copy : 1;    /* made by a duplication */
    uint64_t nth; /* the sender's packet count when it was sent */
    uint32_t pick_lo, pick_n; /* its chosen faults, in the sorted picks */
    size_t len, wire_len;
    hw_time_t head_in, tail_in;
    /* Finite switch buffers (fabric.c): the packet holds link
     * route->links[hop - 1], whose crossing started at up_start, with its
     * tail reaching that link's input at tail_up; up_inbuf: it took room
     * in that link's output queue; inbuf: room in the next one. */
    unsigned holds : 1, up_inbuf : 1, inbuf : 1;
    hw_time_t up_start, tail_up;
    struct nicm__pkt *fnext; /* in a link's output or blocked queue */
    hw_done_fn done;
    void *done_arg;
    unsigned char data[];
};

/* timeline.c: a busy interval of engine tid of node pid - 1 (pid nnodes + 1:
 * the fabric, tid link + 1). */
enum { NICM_TL_CPU, NICM_TL_HDMA, NICM_TL_SDMA, NICM_TL_RDMA, NICM_TL_BUS,
       NICM_TL_NENGINES };
void nicm__tl_event(struct nicm_cluster *cl, int pid, int tid,
                    const char *name, hw_time_t start, hw_time_t end);
#define NICM_TL(n, engine, name, start, end)                                \
    do {                                                                    \
        if ((n)->cl->tl)                                                    \
            nicm__tl_event((n)->cl, (n)->nic.node + 1, (engine) + 1, (name), \
                           (start), (end));                                 \
    } while (0)

/* fabric.c */
const struct nicm__route *nicm__route(struct nicm__node *n, int dst);
void nicm__pkt_inject(struct nicm__pkt *p);
/* The firmware gave back packet p's receive buffer at time t. */
void nicm__rx_release(struct nicm__node *n, struct nicm__pkt *p, hw_time_t t);
/* Frees the finite-buffer state (queues, packets in them). */
void nicm__fabric_free(struct nicm_cluster *cl);
/* Frees a packet that will not be delivered (dropped or discarded). */
void nicm__pkt_free(struct nicm__pkt *p);
/* A packet with room for prof.max_packet bytes of data, header fields
 * zero; NULL when out of memory.  nicm__pkt_release() gives it back
 * without nicm__pkt_free()'s bookkeeping. */
struct nicm__pkt *nicm__pkt_alloc(struct nicm_cluster *cl);
void nicm__pkt_release(struct nicm_cluster *cl, struct nicm__pkt *p);
/* A packet at its destination NIC, its head there at p->head_in (flow.c). */
void nicm__pkt_arrive(struct nicm__pkt *p);
/* flow.c: carries p (its send-DMA started) as a SimGrid flow. */
void nicm__flow_inject(struct nicm__pkt *p);
/* faults.c */
int nicm__link_down(const struct nicm_cluster *cl, size_t link, hw_time_t t);
int nicm__nic_down(const struct nicm_cluster *cl, int node, hw_time_t t);
/* Draws from the cluster's generator only when p > 0; 1 with probability p. */
int nicm__chance(struct nicm_cluster *cl, double p);
/* A raw draw: uniform in [0, n) for n > 0. */
uint64_t nicm__draw_below(struct nicm_cluster *cl, uint64_t n);
void nicm__faults_free(struct nicm_cluster *cl);
/* Frees the configuration and the log (the cluster goes away). */
void nicm__faults_destroy(struct nicm_cluster *cl);
/* Finds the chosen faults (nicm_fault_pick) of a packet being sent. */
void nicm__pick(struct nicm_cluster *cl, struct nicm__pkt *p);
/* 1 if p is chosen for a fault of kind k on the link it is crossing. */
int nicm__picked(const struct nicm_cluster *cl, const struct nicm__pkt *p,
                 enum nicm_fault_kind k, int hop);
/* A fault of kind k hit p: counted in the log when recording. */
void nicm__fault_log(struct nicm_cluster *cl, const struct nicm__pkt *p,
                     enum nicm_fault_kind k);
/* nic.c */
void nicm__rx_deliver(struct nicm__node *n, struct nicm__pkt *p,
                      hw_time_t t);
/* bytes / rate rounded up to a whole picosecond.  A rate is a rounded
 * binary fraction (300 MB/s = 3e-4 B/ps is not exact), so an exact
 * multiple can come out a few ulps above its integer, and rounding up
 * alone would add a picosecond: drop those ulps first.  Rounding up by
 * hand is ceil() for 0 <= q < 2^63 (an integer-valued double converts
 * exactly), without the library call: this runs a few times a packet. */
static inline hw_time_t nicm__xfer_time(size_t bytes, double bytes_per_ps)
{
    double q = (double)bytes / bytes_per_ps;
    q -= q * (4 * DBL_EPSILON);
    hw_time_t i = (hw_time_t)q;
    return i + ((double)i < q);
}

#endif
