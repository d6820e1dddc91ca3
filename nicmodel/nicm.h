/*
 * nicmodel/ — the simulated hardware behind the hardware port (hw/hw.h): a
 * LANai-class NIC per node (processor, SRAM, host-DMA engine on a PCI bus
 * shared with the host's programmed I/O, network send-DMA and receive-DMA)
 * and a packet-level switch fabric (links with bandwidth and latency,
 * crossbar switches with cut-through forwarding, a per-hop routing delay and
 * output-port contention).  Every cost comes from a struct nicm_profile; the
 * engines are resources that stay busy, so overlap and contention are
 * outcomes of the model.  Built on sim/ (event queue and host processes).
 */
#ifndef NICM_NICM_H
#define NICM_NICM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hw/hw.h"
#include "nicmodel/profile.h"
#include "sim/engine.h"

/* The topology as plain data: links and a route function.  The simulator
 * builds it from a SimGrid platform; unit tests write one by hand. */
struct nicm_topo {
    int nnodes;
    size_t nlinks;
    const double *link_bw;       /* bytes per second, per link */
    const hw_time_t *link_lat;   /* per link */
    const char *const *link_name; /* for reports; may be NULL */
    /* Writes the links from node a to node b into out[]; returns how many
     * (0 for a == b), or -1 if there is no route or more than max. */
    int (*route)(void *arg, int a, int b, size_t *out, int max);
    void *route_arg;
};

/* Per-engine and per-node statistics, in simulated time and counts. */
struct nicm_node_stats {
    hw_time_t cpu_busy, hdma_busy, sdma_busy, rdma_busy, bus_busy;
    uint64_t fw_handlers, host_dmas, host_dma_bytes;
    uint64_t pkts_sent, pkts_recv, wire_bytes_sent;
    uint64_t rx_stalls; /* packets that waited for a receive buffer */
    uint64_t pio_writes, pio_bytes, host_wakeups;
    uint64_t sram_peak;
};

struct nicm_link_stats {
    hw_time_t busy;
    uint64_t pkts, bytes;
    hw_time_t max_wait; /* longest a packet waited for this output port */
};

typedef struct nicm_cluster nicm_cluster;

/* Creates the NICs and the fabric.  Returns 0, VS_ENOMEM, or VS_ECONFIG
 * (with a message) if the profile does not fit the topology. */
int nicm_cluster_create(nicm_cluster **out, const struct nicm_profile *prof,
                        const struct nicm_topo *topo, char *err,
                        size_t errlen);
void nicm_cluster_destroy(nicm_cluster *cl);

hw_host *nicm_host(nicm_cluster *cl, int node);
hw_nic *nicm_nic(nicm_cluster *cl, int node);
/* Binds node's host side to the process that runs on it. */
void nicm_bind_proc(nicm_cluster *cl, int node, sim_proc *p);

const struct nicm_node_stats *nicm_node_stats(nicm_cluster *cl, int node);
size_t nicm_link_count(nicm_cluster *cl);
const char *nicm_link_name(nicm_cluster *cl, size_t link);
const struct nicm_link_stats *nicm_link_stats(nicm_cluster *cl, size_t link);
uint64_t nicm_packets_in_flight(nicm_cluster *cl);

/* ---- The fabric mode (nicmodel/flow.c, docs/fabric-flow.md) ----
 * packet (the default): the packet-level fabric above.  flow: each packet
 * the send-DMA engine puts on the wire crosses the platform as one SimGrid
 * flow between the two hosts (SimGrid's flow model: its latency and
 * bandwidth factors, bandwidth shared between concurrent flows); the NIC
 * engines, the firmware and the receive path are the same.  Flow mode needs
 * sim_run() (host i is SimGrid host i) and no fault injection. */
enum nicm_fabric { NICM_FABRIC_PACKET, NICM_FABRIC_FLOW };

/* Sets the mode; call after nicm_set_faults and before the run.  Returns 0,
 * or VS_ECONFIG with a message (flow with faults configured, or a platform
 * with fewer hosts than nodes). */
int nicm_set_fabric(nicm_cluster *cl, enum nicm_fabric f, char *err,
                    size_t errlen);
enum nicm_fabric nicm_get_fabric(nicm_cluster *cl);
/* "packet" or "flow"; nicm_fabric_parse returns 0, or -1 for another
 * name. */
const char *nicm_fabric_name(enum nicm_fabric f);
int nicm_fabric_parse(const char *name, enum nicm_fabric *out);

/* ---- Fault injection ----
 *
 * A deterministic fault model of the fabric.  Each packet, at each link it
 * traverses (when its head starts across the link), meets in this order:
 *   - the link's down intervals: a link down at that moment drops it;
 *   - drop: it is lost at the link's input;
 *   - corrupt: one bit of its data flips; the receiving NIC's CRC check
 *     discards it before the firmware sees it (a packet is corrupted at most
 *     once);
 *   - dup: a copy, an independent packet, follows right behind it on the
 *     rest of its route (a packet is duplicated at most once and a copy is
 *     never duplicated again, so dup = 1 delivers every packet twice);
 *   - reorder: it is held at the far end of the link (the next switch, or
 *     in front of the receiving NIC after the last link) for a random time
 *     in (0, reorder_delay_max], without holding the link, so later packets
 *     can pass it.
 * A NIC inside one of its down intervals drops every packet whose head
 * arrives at it and every packet its send-DMA engine starts on; the sender's
 * send completion still fires.  The random draws come from one generator
 * per cluster seeded from the seed, taken in event order and only for
 * non-zero probabilities, so a run is reproducible and a cluster without
 * faults draws nothing and behaves exactly as before. */
struct nicm_link_down {
    size_t link;       /* index into the topology's links */
    hw_time_t from, to; /* down in [from, to); to = HW_TIME_NEVER: for good */
};

struct nicm_nic_down {
    int node;
    hw_time_t from, to; /* down in [from, to); to = HW_TIME_NEVER: for good */
};

/* A fault on one chosen packet: the nth (from 1) packet node's NIC sends
 * into the fabric (or the copy of it a duplication made) gets it as it
 * crosses link number hop of its route.  A list of these replaces the
 * probabilities (a sweep's shrinker removes faults one at a time); a run
 * can also record every fault it injected in this form, and replaying the
 * record injects the same faults into the same packets. */
enum nicm_fault_kind {
    NICM_FAULT_DROP,
    NICM_FAULT_CORRUPT,
    NICM_FAULT_DUP,
    NICM_FAULT_REORDER,
    NICM_FAULT_KINDS
};

struct nicm_fault_pick {
    enum nicm_fault_kind kind;
    int node;
    uint64_t nth;
    int hop;  /* link of the route, from 0 */
    int copy; /* the duplicate, not the original */
};

struct nicm_faults {
    double drop, corrupt, dup, reorder; /* probability per packet per link */
    const struct nicm_fault_pick *picks; /* chosen packets (any order) */
    size_t npicks;
    int record; /* keep the log of injected faults (nicm_fault_log) */
    hw_time_t reorder_delay_max; /* longest hold of a reordered packet (0:
                                    NICM_REORDER_DELAY_DEFAULT) */
    const struct nicm_link_down *downs;
    size_t ndowns;
    const struct nicm_nic_down *nic_downs;
    size_t nnic_downs;
    uint64_t seed;
};

#define NICM_REORDER_DELAY_DEFAULT (20 * HW_US)

struct nicm_fault_stats {
    uint64_t dropped;         /* by the drop probability */
    uint64_t corrupted;       /* packets with a flipped bit */
    uint64_t duplicated;      /* copies made */
    uint64_t reordered;       /* holds (a packet may be held at every hop) */
    uint64_t link_down_drops; /* entered a link while it was down */
    uint64_t nic_down_drops;  /* sent or received by a NIC that was down */
    uint64_t crc_discards;    /* corrupt packets discarded on arrival */
};

/* Replaces the cluster's fault configuration with a copy of *f and restarts
 * the generator from f->seed; the counters keep counting.  Returns 0,
 * VS_EINVAL (a probability outside [0, 1], a negative delay, a link or node
 * out of range, an interval with to <= from or from < 0, a count without its
 * array) leaving the configuration unchanged, or VS_ENOMEM. */
int nicm_set_faults(nicm_cluster *cl, const struct nicm_faults *f);
/* 1 if any fault probability or down interval is configured. */
int nicm_faults_active(nicm_cluster *cl);
const struct nicm_fault_stats *nicm_fault_stats(nicm_cluster *cl);
/* --timeline: from now on every busy interval of the NICs and links goes
 * to f as Chrome trace events (nicmodel/timeline.c); finish writes the end
 * of the file (0, or -1 if writing failed).  The caller owns f. */
void nicm_timeline_start(nicm_cluster *cl, FILE *f);
int nicm_timeline_finish(nicm_cluster *cl);

/* With record set: every drop, corruption, duplication and hold injected so
 * far, by the packet it hit (node, nth), in the order they happened. */
const struct nicm_fault_pick *nicm_fault_log(nicm_cluster *cl, size_t *n);
/* The name of a kind ("drop", "corrupt", "dup", "reorder"). */
const char *nicm_fault_kind_name(enum nicm_fault_kind k);

#endif
