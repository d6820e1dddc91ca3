/*
 * Internal structures of nicmodel/: the per-node NIC and host state and the
 * fabric, shared by nic.c (engines, processor, host side) and fabric.c
 * (links, switches, packet delivery).
 */
#ifndef NICM_NIC_INT_H
#define NICM_NIC_INT_H

#include "nicmodel/nicm.h"

struct nicm__task;
struct nicm__pkt;
struct dma_req;

struct nicm__link {
    double bw;     /* bytes per picosecond */
    hw_time_t lat;
    hw_time_t free_at;
    struct nicm_link_stats st;
};

struct nicm__route {
    int n;
    size_t links[];
};

struct nicm__node {
    struct hw_host host;
    struct hw_nic nic;
    struct nicm_cluster *cl;
    sim_proc *proc;
    /* Host side. */
    hw_upcall_fn irq_fn;
    void *irq_arg;
    int irq_pending;
    hw_ready_fn wait_ready;
    void *wait_arg;
    int woken_by_data;
    struct sim_event wait_tmo;
    /* NIC processor. */
    struct nicm__task *tq_head, *tq_tail;
    int cpu_scheduled, cpu_running;
    hw_time_t cpu_free, cpu_now;
    struct sim_event cpu_ev;
    /* Engines and the PCI bus. */
    hw_time_t bus_free, sdma_free, rdma_free;
    struct dma_req *hq_head, *hq_tail; /* host-DMA engine queue */
    int hdma_active;
    /* Receive buffers and the packets stalled waiting for one. */
    uint32_t rx_free;
    struct nicm__pkt *stall_head, *stall_tail;
    /* Upcalls registered by the firmware. */
    hw_rx_fn rx_fn;
    void *rx_arg;
    hw_upcall_fn doorbell_fn;
    void *doorbell_arg;
    void *window;
    uint64_t sram_used;
    struct nicm__route **routes; /* Lazily filled, one per destination. */
    struct nicm_node_stats st;
};

struct nicm_cluster {
    struct nicm_profile prof;
    struct nicm_topo topo;
    int nnodes;
    struct nicm__node *nodes;
    struct nicm__link *links;
    uint64_t in_flight;
    struct nicm__task *task_pool;
};

/* A packet on the wire; data[] is what the firmware sees in its receive
 * buffer. */
struct nicm__pkt {
    struct nicm__pkt *next;
    struct nicm__node *src, *dst;
    const struct nicm__route *route;
    int hop;
    size_t len, wire_len;
    hw_time_t head_in, tail_in;
    hw_done_fn done;
    void *done_arg;
    unsigned char data[];
};

/* fabric.c */
const struct nicm__route *nicm__route(struct nicm__node *n, int dst);
void nicm__pkt_inject(struct nicm__pkt *p);
void nicm__rx_release(struct nicm__node *n, struct nicm__pkt *p);
/* nic.c */
void nicm__rx_deliver(struct nicm__node *n, struct nicm__pkt *p,
                      hw_time_t t);
hw_time_t nicm__xfer_time(size_t bytes, double bytes_per_ps);

#endif
