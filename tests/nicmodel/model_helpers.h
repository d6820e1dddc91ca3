/*
 * The hand-written cluster of the NIC/fabric model tests (test_model.c,
 * test_faults.c): a profile in round numbers and a five-node topology --
 * nodes 0-2 on switch S1, nodes 3-4 on switch S2, one link each way
 * between the switches -- built on the actor-free engine, with the
 * formulas for the times a packet takes on it when the network is idle.
 */
#ifndef TESTS_NICMODEL_MODEL_HELPERS_H
#define TESTS_NICMODEL_MODEL_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "nicmodel/nicm.h"

/* ---- the profile (round numbers) ---- */

#define DMA_SETUP (500 * HW_NS)
#define DMA_MBPS 100u
#define NET_SETUP (100 * HW_NS)
#define SW_DELAY (300 * HW_NS)
#define NIC_MHZ 50.0
#define CYCLE (20 * HW_NS) /* 1 / 50 MHz */
#define SRAM_BYTES (1u << 20)
#define RECV_BUFS 4u
#define SEND_BUFS 2u
#define MAX_PKT 4144u
#define WIRE_OVH 8u
#define CMD_CYCLES 60u
#define DMA_DONE_CYCLES 12u

/* ---- the topology ---- */

#define NNODES 5
#define UP(i) ((size_t)(i))         /* node i -> its switch */
#define DOWN(i) ((size_t)(5 + (i))) /* switch -> node i */
#define ISL_12 ((size_t)10)         /* S1 -> S2 */
#define ISL_21 ((size_t)11)         /* S2 -> S1 */
#define NLINKS 12
#define SWITCH_OF(i) ((i) < 3 ? 0 : 1)
#define LINK_BPS 160000000ull /* 1.28 Gb/s */
#define LAT_UP (20 * HW_NS)
#define LAT_DOWN (30 * HW_NS)
#define LAT_ISL (70 * HW_NS)

/* Fills in the profile above. */
void model_profile(struct nicm_profile *p);

/* The topology above; its link tables are shared, so a caller that wants
 * other bandwidths gives the copy its own table. */
struct nicm_topo model_topo(void);

/* After sim_reset(), a cluster on the topology with profile p (NULL: the
 * profile above); a fatal failure if it cannot be made. */
nicm_cluster *model_cluster(const struct nicm_profile *p);
/* The same with link `link` running at bps bytes/s. */
nicm_cluster *model_cluster_bw(const struct nicm_profile *p, size_t link,
                               uint64_t bps);

/* Checks that no packet is in flight, destroys the cluster and shuts the
 * engine down. */
void model_cluster_end(nicm_cluster *cl);

/* ---- expected times, in integer picoseconds ---- */

/* ceil(bytes / rate) with the rate in bytes per second. */
static inline hw_time_t xfer_ps(uint64_t bytes, uint64_t bytes_per_s)
{
    return (hw_time_t)((bytes * 1000000000000ull + bytes_per_s - 1) /
                       bytes_per_s);
}

/* Serialisation of a packet of len bytes on one link. */
static inline hw_time_t ser(size_t len)
{
    return xfer_ps(len + WIRE_OVH, LINK_BPS);
}

/* Send-DMA setup; the head crosses up-link, switch, down-link; the
 * receive-DMA's setup; the packet streams in behind its head (cut-through:
 * one serialisation time on the whole path). */
static inline hw_time_t same_switch_time(size_t len)
{
    return NET_SETUP + LAT_UP + SW_DELAY + LAT_DOWN + NET_SETUP + ser(len);
}

static inline hw_time_t cross_switch_time(size_t len)
{
    return NET_SETUP + LAT_UP + SW_DELAY + LAT_ISL + SW_DELAY + LAT_DOWN +
           NET_SETUP + ser(len);
}

#endif
