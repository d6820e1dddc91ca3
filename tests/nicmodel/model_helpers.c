/* The hand-written cluster of the NIC/fabric model tests
 * (tests/nicmodel/model_helpers.h). */
#include "tests/nicmodel/model_helpers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/engine.h"
#include "tests/harness.h"
#include "util/err.h"

static double link_bw[NLINKS];
static hw_time_t link_lat[NLINKS];

static int route_fn(void *arg, int a, int b, size_t *out, int max)
{
    (void)arg;
    if (a < 0 || b < 0 || a >= NNODES || b >= NNODES)
        return -1;
    if (a == b)
        return 0;
    int cross = SWITCH_OF(a) != SWITCH_OF(b);
    if (2 + cross > max)
        return -1;
    int k = 0;
    out[k++] = UP(a);
    if (cross)
        out[k++] = SWITCH_OF(a) == 0 ? ISL_12 : ISL_21;
    out[k++] = DOWN(b);
    return k;
}

struct nicm_topo model_topo(void)
{
    for (size_t i = 0; i < NLINKS; i++) {
        link_bw[i] = (double)LINK_BPS;
        link_lat[i] = i < 5 ? LAT_UP : i < 10 ? LAT_DOWN : LAT_ISL;
    }
    struct nicm_topo t = {
        .nnodes = NNODES,
        .nlinks = NLINKS,
        .link_bw = link_bw,
        .link_lat = link_lat,
        .link_name = NULL,
        .route = route_fn,
        .route_arg = NULL,
    };
    return t;
}

void model_profile(struct nicm_profile *p)
{
    memset(p, 0, sizeof *p);
    p->host_cpu_mhz = 166;
    p->host_cost[HW_HOST_CALL] = 150 * HW_NS;
    p->host_cost[HW_HOST_SYSCALL] = 5000 * HW_NS;
    p->host_cost[HW_HOST_INTERRUPT] = 15000 * HW_NS;
    p->host_cost[HW_HOST_POLL] = 200 * HW_NS;
    p->page_size = 4096;
    p->pio_write_word = 120 * HW_NS;
    p->pio_read_word = 450 * HW_NS;
    p->dma_setup = DMA_SETUP;
    p->dma_bytes_per_ps = DMA_MBPS * 1e6 / 1e12; /* as the loader does */
    p->nic_clock_mhz = NIC_MHZ;
    p->cycle = (hw_time_t)llround(1e6 / p->nic_clock_mhz);
    p->sram_bytes = SRAM_BYTES;
    p->recv_buffers = RECV_BUFS;
    p->send_buffers = SEND_BUFS;
    p->max_packet = MAX_PKT;
    p->wire_overhead_bytes = WIRE_OVH;
    p->net_dma_setup = NET_SETUP;
    p->fw_cycles[HW_FW_CMD] = CMD_CYCLES;
    p->fw_cycles[HW_FW_SEND_PKT] = 50;
    p->fw_cycles[HW_FW_RECV_PKT] = 55;
    p->fw_cycles[HW_FW_XLATE_PAGE] = 8;
    p->fw_cycles[HW_FW_DMA_DONE] = DMA_DONE_CYCLES;
    p->fw_cycles[HW_FW_COMPLETE] = 10;
    p->fw_cycles[HW_FW_NOTIFY] = 20;
    p->fw_cycles[HW_FW_CTRL] = 30;
    p->switch_delay = SW_DELAY;
}

nicm_cluster *model_cluster_bw(const struct nicm_profile *p, size_t link,
                               uint64_t bps)
{
    struct nicm_profile def;
    if (!p) {
        model_profile(&def);
        p = &def;
    }
    sim_reset();
    struct nicm_topo topo = model_topo();
    link_bw[link] = (double)bps;
    nicm_cluster *cl = NULL;
    char err[256] = "";
    int rc = nicm_cluster_create(&cl, p, &topo, err, sizeof err);
    if (rc != VS_OK)
        fprintf(stderr, "nicm_cluster_create: %d %s\n", rc, err);
    CU_ASSERT_FATAL(rc == VS_OK && cl != NULL);
    return cl;
}

nicm_cluster *model_cluster(const struct nicm_profile *p)
{
    return model_cluster_bw(p, 0, LINK_BPS);
}

void model_cluster_end(nicm_cluster *cl)
{
    TH_EXPECT_EQ(nicm_packets_in_flight(cl), 0);
    nicm_cluster_destroy(cl);
    sim_shutdown();
}
