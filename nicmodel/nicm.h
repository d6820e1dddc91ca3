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
const struct nicm_link_stats *nicm_link_stats(nicm_cluster *cl, size_t link);
uint64_t nicm_packets_in_flight(nicm_cluster *cl);

#endif
