/*
 * The fabric of nicmodel/ on large topologies: multi-hop routes, finite
 * switch buffers and head-of-line blocking (suite "fabric",
 * docs/fabric.md).  The packet-level tests drive the NICs directly through
 * the hw_nic ops on the actor-free engine, on a hand-written two-level tree
 * of 16 nodes: four leaf switches of four nodes each under one spine.
 * Every simulated time is checked exactly against the model's formulas.
 * The platform tests load SimGrid's fat-tree, torus and dragonfly clusters
 * (the shipped configs) in a child process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nicmodel/nicm.h"
#include "sim/engine.h"
#include "tests/harness.h"
#include "tests/nicmodel/model_helpers.h"
#include "util/err.h"

void register_fabric_tests(void);

/* ---- the tree ---- */

#define T_NODES 16
#define T_PER_LEAF 4
#define T_UP(i) ((size_t)(i))             /* node i -> its leaf */
#define T_DOWN(i) ((size_t)(16 + (i)))    /* leaf -> node i */
#define T_LS(k) ((size_t)(32 + (k)))      /* leaf k -> spine */
#define T_SL(k) ((size_t)(36 + (k)))      /* spine -> leaf k */
#define T_NLINKS 40
#define T_LEAF(i) ((i) / T_PER_LEAF)
#define T_LAT_UP (20 * HW_NS)
#define T_LAT_DOWN (30 * HW_NS)
#define T_LAT_LS (50 * HW_NS)
#define T_LAT_SL (70 * HW_NS)
#define T_PKT_WIRE ((uint64_t)MAX_PKT + WIRE_OVH)

static double t_bw[T_NLINKS];
static hw_time_t t_lat[T_NLINKS];

static int t_route(void *arg, int a, int b, size_t *out, int max)
{
    (void)arg;
    if (a < 0 || b < 0 || a >= T_NODES || b >= T_NODES)
        return -1;
    if (a == b)
        return 0;
    int cross = T_LEAF(a) != T_LEAF(b);
    if (2 + 2 * cross > max)
        return -1;
    int k = 0;
    out[k++] = T_UP(a);
    if (cross) {
        out[k++] = T_LS(T_LEAF(a));
        out[k++] = T_SL(T_LEAF(b));
    }
    out[k++] = T_DOWN(b);
    return k;
}

/* A cluster on the tree; buffer: [fabric] switch_buffer_bytes (0:
 * unlimited). */
static nicm_cluster *tree_cluster(uint64_t buffer)
{
    for (size_t i = 0; i < T_NLINKS; i++) {
        t_bw[i] = (double)LINK_BPS;
        t_lat[i] = i < 16   ? T_LAT_UP
                   : i < 32 ? T_LAT_DOWN
                   : i < 36 ? T_LAT_LS
                            : T_LAT_SL;
    }
    struct nicm_topo topo = {.nnodes = T_NODES,
                             .nlinks = T_NLINKS,
                             .link_bw = t_bw,
                             .link_lat = t_lat,
                             .route = t_route};
    struct nicm_profile p;
    model_profile(&p);
    p.switch_buffer = buffer;
    sim_reset();
    nicm_cluster *cl = NULL;
    char err[256] = "";
    int rc = nicm_cluster_create(&cl, &p, &topo, err, sizeof err);
    if (rc != VS_OK)
        fprintf(stderr, "nicm_cluster_create: %d %s\n", rc, err);
    CU_ASSERT_FATAL(rc == VS_OK && cl != NULL);
    return cl;
}

/* ---- traffic ---- */

/* What a node received: how many packets, when the last came, how many
 * came intact and in order from each sender. */
struct t_rx {
    hw_nic *nic;
    int n, bad;
    hw_time_t last, first;
    int next_seq[T_NODES];
};

static struct t_rx rxs[T_NODES];

/* A slow consumer: the hot node's program takes SLOW_HOLD per packet
 * before it gives the receive buffer back (one at a time). */
#define SLOW_HOLD (100 * HW_US)
static int slow_node = -1;
static hw_time_t slow_busy;

static void slow_release(void *pkt)
{
    hw_nic *n = rxs[slow_node].nic;
    n->ops->rx_release(n, pkt);
}

static void t_rx_cb(void *arg, void *pkt, size_t len, int src)
{
    struct t_rx *c = arg;
    const unsigned char *d = pkt;
    if (!c->n)
        c->first = sim_now();
    c->n++;
    c->last = sim_now();
    /* [seq, src, pattern]: in order from each sender and unchanged. */
    if (len < 3 || src < 0 || src >= T_NODES || d[1] != (unsigned char)src ||
        d[0] != (unsigned char)c->next_seq[src] ||
        d[len - 1] != (unsigned char)(src * 7 + d[0]))
        c->bad++;
    else
        c->next_seq[src]++;
    if (slow_node >= 0 && c == &rxs[slow_node]) {
        slow_busy = (slow_busy > sim_now() ? slow_busy : sim_now()) +
                    SLOW_HOLD;
        sim_post(slow_busy, slow_release, pkt);
        return;
    }
    c->nic->ops->rx_release(c->nic, pkt);
}

static void t_rx_setup(nicm_cluster *cl)
{
    memset(rxs, 0, sizeof rxs);
    slow_node = -1;
    slow_busy = 0;
    for (int i = 0; i < T_NODES; i++) {
        rxs[i].nic = nicm_nic(cl, i);
        rxs[i].nic->ops->set_rx(rxs[i].nic, t_rx_cb, &rxs[i]);
    }
}

static void t_done(void *arg, int status)
{
    (void)arg;
    TH_EXPECT_EQ(status, VS_OK);
}

/* count packets of len bytes from node a to node b, back to back. */
static void t_send(nicm_cluster *cl, int a, int b, int count, size_t len)
{
    unsigned char buf[MAX_PKT];
    hw_nic *n = nicm_nic(cl, a);
    CU_ASSERT_FATAL(len >= 3 && len <= sizeof buf);
    for (int k = 0; k < count; k++) {
        memset(buf, 0x5A, len);
        buf[0] = (unsigned char)k;
        buf[1] = (unsigned char)a;
        buf[len - 1] = (unsigned char)(a * 7 + k);
        TH_EXPECT_EQ(n->ops->net_send(n, b, buf, len, t_done, NULL), VS_OK);
    }
}

static void t_end(nicm_cluster *cl)
{
    TH_EXPECT_EQ(nicm_packets_in_flight(cl), 0);
    nicm_cluster_destroy(cl);
    sim_shutdown();
}

/* ---- formulas ---- */

/* The head's way from the sender's NIC to the receiver's: every link's
 * latency plus the routing delay of every switch between two links. */
static hw_time_t path_lat(int a, int b)
{
    if (T_LEAF(a) == T_LEAF(b))
        return T_LAT_UP + SW_DELAY + T_LAT_DOWN;
    return T_LAT_UP + SW_DELAY + T_LAT_LS + SW_DELAY + T_LAT_SL + SW_DELAY +
           T_LAT_DOWN;
}

/* m packets of len bytes alone on an idle route: the send-DMA engine puts
 * one out every NET_SETUP + ser, the receive-DMA engine takes one in at the
 * same pace, so the last lands m periods after the first one started plus
 * the way and the receiving engine's setup. */
static hw_time_t alone_time(int a, int b, int m, size_t len)
{
    return (hw_time_t)m * (NET_SETUP + ser(len)) + NET_SETUP + path_lat(a, b);
}

/* ---- 1. multi-hop routes ---- */

/* One packet over 2 and 4 links, with unlimited and with finite buffers:
 * it lands after the sum of the links' latencies and the switches'
 * routing delays, plus the two DMA setups and one serialisation
 * (cut-through: the tail streams right behind the head). */
static void test_multihop_latency(void)
{
    static const uint64_t buffers[] = {0, T_PKT_WIRE};
    for (int bi = 0; bi < 2; bi++) {
        const size_t len = 1500;
        nicm_cluster *cl = tree_cluster(buffers[bi]);
        t_rx_setup(cl);
        t_send(cl, 0, 1, 1, len);   /* one leaf: 2 links, 1 switch */
        t_send(cl, 2, 15, 1, len);  /* across the spine: 4 links, 3 switches */
        sim_run_events(INT64_MAX);
        TH_EXPECT_EQ(rxs[1].n, 1);
        TH_EXPECT_EQ(rxs[15].n, 1);
        TH_EXPECT_EQ(rxs[1].bad + rxs[15].bad, 0);
        TH_EXPECT_EQ(rxs[1].last, NET_SETUP + T_LAT_UP + SW_DELAY +
                                      T_LAT_DOWN + NET_SETUP + ser(len));
        TH_EXPECT_EQ(rxs[15].last,
                     NET_SETUP + T_LAT_UP + SW_DELAY + T_LAT_LS + SW_DELAY +
                         T_LAT_SL + SW_DELAY + T_LAT_DOWN + NET_SETUP +
                         ser(len));
        /* Each link carried it once and was busy one serialisation. */
        static const size_t used[] = {T_UP(2), T_LS(0), T_SL(3), T_DOWN(15)};
        for (int i = 0; i < 4; i++) {
            const struct nicm_link_stats *ls = nicm_link_stats(cl, used[i]);
            TH_EXPECT_EQ(ls->pkts, 1);
            TH_EXPECT_EQ(ls->busy, ser(len));
            TH_EXPECT_EQ(ls->max_wait, 0);
        }
        t_end(cl);
    }
}

/* A stream alone over the spine takes the formula time, buffers or not. */
static void test_stream_alone(void)
{
    static const uint64_t buffers[] = {0, T_PKT_WIRE, 2 * T_PKT_WIRE};
    for (int bi = 0; bi < 3; bi++) {
        nicm_cluster *cl = tree_cluster(buffers[bi]);
        t_rx_setup(cl);
        t_send(cl, 0, 15, 8, MAX_PKT);
        sim_run_events(INT64_MAX);
        TH_EXPECT_EQ(rxs[15].n, 8);
        TH_EXPECT_EQ(rxs[15].bad, 0);
        TH_EXPECT_EQ(rxs[15].last, alone_time(0, 15, 8, MAX_PKT));
        t_end(cl);
    }
}

/* ---- 2. hot spot ---- */

#define HOT 12          /* the hot node, on leaf 3 */
#define HOT_PKTS 12     /* packets per hot sender */
#define FLOW_PKTS 8     /* packets of the measured flow */

/* Nodes 1-3 (leaf 0), 4-6 (leaf 1) and 13-14 (leaf 3) all send to node 12
 * at once; node 12 is a slow consumer (SLOW_HOLD per packet, so its four
 * receive buffers are soon all taken).  Then one more flow, a -> b,
 * starts with them.  Returns when its last packet landed; *hot_got: what
 * node 12 received. */
static hw_time_t hot_spot(uint64_t buffer, int with_hot, int a, int b,
                          int *hot_got)
{
    static const int senders[] = {1, 2, 3, 4, 5, 6, 13, 14};
    nicm_cluster *cl = tree_cluster(buffer);
    t_rx_setup(cl);
    slow_node = HOT;
    if (with_hot)
        for (size_t i = 0; i < sizeof senders / sizeof *senders; i++)
            t_send(cl, senders[i], HOT, HOT_PKTS, MAX_PKT);
    t_send(cl, a, b, FLOW_PKTS, MAX_PKT);
    sim_run_events(INT64_MAX);
    TH_EXPECT_EQ(rxs[b].n, FLOW_PKTS);
    TH_EXPECT_EQ(rxs[b].bad, 0);
    TH_EXPECT_EQ(rxs[HOT].bad, 0);
    *hot_got = rxs[HOT].n;
    hw_time_t t = rxs[b].last;
    t_end(cl);
    return t;
}

/* Flow 0 -> 15 shares the leaf-0 -> spine link and the spine -> leaf-3
 * link with the hot spot's traffic, but not node 12's link.  Unlimited
 * buffers: it waits its turn on the shared links (output contention) and
 * is slowed; the hot packets wait in front of node 12 without holding any
 * link.  Two packets of buffer per output port: node 12's port fills, the
 * hot packets behind it hold the spine -> leaf-3 link, and the flow's
 * packets, though their own output to node 15 is free, wait behind them
 * at the pace of the slow consumer (head-of-line blocking): much slower
 * still. */
static void test_hot_spot_shared(void)
{
    int got = 0;
    hw_time_t alone = alone_time(0, 15, FLOW_PKTS, MAX_PKT);
    TH_EXPECT_EQ(hot_spot(0, 0, 0, 15, &got), alone);
    TH_EXPECT_EQ(hot_spot(2 * T_PKT_WIRE, 0, 0, 15, &got), alone);
    hw_time_t unlimited = hot_spot(0, 1, 0, 15, &got);
    TH_EXPECT_EQ(got, 8 * HOT_PKTS);
    hw_time_t finite = hot_spot(2 * T_PKT_WIRE, 1, 0, 15, &got);
    TH_EXPECT_EQ(got, 8 * HOT_PKTS);
    TH_CHECK(unlimited > alone, "unlimited buffers: %lld ps, alone %lld ps",
             (long long)unlimited, (long long)alone);
    TH_CHECK(finite > 3 * alone,
             "finite buffers: %lld ps is not much more than alone (%lld ps)",
             (long long)finite, (long long)alone);
    TH_CHECK(finite > 2 * unlimited,
             "finite buffers: %lld ps, unlimited %lld ps: no head-of-line "
             "blocking",
             (long long)finite, (long long)unlimited);
}

/* Flow 8 -> 7 crosses the spine too, through switches the hot traffic
 * fills, but on none of its links: its time is the time alone, to the
 * picosecond, with unlimited or finite buffers. */
static void test_hot_spot_disjoint(void)
{
    static const uint64_t buffers[] = {0, T_PKT_WIRE, 2 * T_PKT_WIRE};
    hw_time_t alone = alone_time(8, 7, FLOW_PKTS, MAX_PKT);
    for (int bi = 0; bi < 3; bi++) {
        int got = 0;
        TH_EXPECT_EQ(hot_spot(buffers[bi], 1, 8, 7, &got), alone);
        TH_EXPECT_EQ(got, 8 * HOT_PKTS);
    }
}

/* The same runs twice give the same times (nothing depends on addresses
 * or on anything but the event order). */
static void test_hot_spot_deterministic(void)
{
    int got1 = 0, got2 = 0;
    hw_time_t t1 = hot_spot(T_PKT_WIRE, 1, 0, 15, &got1);
    hw_time_t t2 = hot_spot(T_PKT_WIRE, 1, 0, 15, &got2);
    TH_EXPECT_EQ(t1, t2);
    TH_EXPECT_EQ(got1, got2);
}

/* ---- 3. finite buffers with faults ---- */

/* Drops, duplicates and holds on a congested fabric with one packet of
 * buffer: nothing is left in flight and the counts add up (each packet
 * lands once, or twice when duplicated, unless dropped). */
static void test_buffers_with_faults(void)
{
    nicm_cluster *cl = tree_cluster(T_PKT_WIRE);
    struct nicm_faults f = {.drop = 0.05, .dup = 0.05, .reorder = 0.05,
                            .seed = 7};
    TH_EXPECT_EQ(nicm_set_faults(cl, &f), VS_OK);
    memset(rxs, 0, sizeof rxs);
    int total = 0;
    for (int i = 0; i < T_NODES; i++) {
        rxs[i].nic = nicm_nic(cl, i);
        rxs[i].nic->ops->set_rx(rxs[i].nic, t_rx_cb, &rxs[i]);
    }
    for (int i = 0; i < T_NODES; i++)
        if (i != HOT) {
            t_send(cl, i, HOT, 6, 1000 + 100 * (size_t)i);
            t_send(cl, i, (i + 5) % T_NODES, 6, 2000);
            total += 12;
        }
    sim_run_events(INT64_MAX);
    const struct nicm_fault_stats *fs = nicm_fault_stats(cl);
    TH_CHECK(fs->dropped > 0 && fs->duplicated > 0 && fs->reordered > 0,
             "faults: %llu dropped, %llu duplicated, %llu held",
             (unsigned long long)fs->dropped,
             (unsigned long long)fs->duplicated,
             (unsigned long long)fs->reordered);
    int got = 0;
    for (int i = 0; i < T_NODES; i++)
        got += rxs[i].n;
    TH_EXPECT_EQ(got, total + (int)fs->duplicated - (int)fs->dropped);
    t_end(cl);
}

/* ---- 4. SimGrid's topologies ---- */

/* In a child: loads the platform, checks node count and the number of
 * links of some routes; exit status 0 or the number of the failed check. */
struct plat_case {
    const char *path;
    int nodes;
    int pairs[4][3]; /* a, b, links (a < 0: end) */
};

static int plat_child(void *arg)
{
    const struct plat_case *pc = arg;
    sim_platform_load(pc->path, NULL, NULL);
    if ((int)sim_host_count() != pc->nodes) {
        printf("%s: %zu hosts\n", pc->path, sim_host_count());
        return 10;
    }
    for (int i = 0; i < 4 && pc->pairs[i][0] >= 0; i++) {
        size_t links[64];
        int n = sim_route((size_t)pc->pairs[i][0], (size_t)pc->pairs[i][1],
                          links, 64);
        if (n != pc->pairs[i][2]) {
            printf("%s: route %d -> %d has %d links, want %d\n", pc->path,
                   pc->pairs[i][0], pc->pairs[i][1], n, pc->pairs[i][2]);
            return 20 + i;
        }
        for (int k = 0; k < n; k++)
            if (sim_link_is_limiter(links[k]) ||
                sim_link_bandwidth(links[k]) <= 0) {
                printf("%s: route %d -> %d: link %s\n", pc->path,
                       pc->pairs[i][0], pc->pairs[i][1],
                       sim_link_name(links[k]));
                return 30 + i;
            }
    }
    return 0;
}

static void check_platform(const struct plat_case *pc)
{
    char out[4096], err[4096];
    int rc = th_capture(plat_child, (void *)pc, out, sizeof out, err,
                        sizeof err);
    TH_CHECK(rc == 0, "%s: check %d failed: %s", pc->path, rc, out);
}

/* The shipped platforms load and route through their switches: the
 * number of cables of a route is the one of the topology. */
static void test_shipped_platforms(void)
{
    static const struct plat_case cases[] = {
        /* two-level fat-tree: 2 cables in a leaf, 4 across the spines */
        {"configs/fattree-64.xml", 64, {{0, 1, 2}, {0, 9, 4}, {63, 0, 4},
                                        {-1, 0, 0}}},
        /* 16 x 16 torus, dimension order: neighbours 1 cable, the
         * farthest node 8 + 8 */
        {"configs/torus-256.xml", 256, {{0, 1, 1}, {0, 17, 2}, {0, 136, 16},
                                        {-1, 0, 0}}},
        /* three-level fat-tree: 2, then 4, then 6 cables */
        {"configs/fattree-1024.xml", 1024, {{0, 1, 2}, {0, 16, 4},
                                            {0, 1023, 6}, {-1, 0, 0}}},
        /* dragonfly: one router, a green, a black, then a blue hop */
        {"configs/dragonfly-1024.xml", 1024, {{0, 1, 2}, {0, 5, 3},
                                              {0, 40, 4}, {0, 1000, 6}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_platform(&cases[i]);
}

/* SimGrid's limiter links (a cap on what a node or a switch moves, no
 * cable) are not hops of a route. */
static void test_limiters_skipped(void)
{
    char path[TH_PATH_LEN];
    th_write_tmp(path, "fabric-limiter",
                 "<?xml version='1.0'?>\n"
                 "<!DOCTYPE platform SYSTEM "
                 "\"https://simgrid.org/simgrid.dtd\">\n"
                 "<platform version=\"4.1\"><zone id=\"w\" routing=\"Full\">\n"
                 "<cluster id=\"ft\" prefix=\"node-\" suffix=\"\" "
                 "radical=\"0-15\" speed=\"1Gf\" bw=\"1GBps\" lat=\"1us\" "
                 "sharing_policy=\"SPLITDUPLEX\" limiter_link=\"2GBps\" "
                 "topology=\"FAT_TREE\" topo_parameters=\"2;4,4;1,4;1,1\"/>\n"
                 "</zone></platform>\n");
    struct plat_case pc = {path, 16, {{0, 1, 2}, {0, 5, 4}, {-1, 0, 0}}};
    check_platform(&pc);
    unlink(path);
}

/* ---- 5. the profile key ---- */

static void test_profile_buffer_key(void)
{
    char path[TH_PATH_LEN], err[512] = "";
    struct nicm_profile p;
    th_write_profile(path, "fabric-buf", "[fabric]\nswitch_buffer_bytes = 100\n");
    TH_EXPECT_EQ(nicm_profile_load(&p, path, err, sizeof err), VS_ECONFIG);
    TH_EXPECT_HAS(err, path);
    TH_EXPECT_HAS(err, "switch_buffer_bytes");
    TH_EXPECT_HAS(err, "smaller than one packet");
    unlink(path);
    th_write_profile(path, "fabric-buf",
                     "[fabric]\nswitch_buffer_bytes = 65536\n");
    TH_EXPECT_EQ(nicm_profile_load(&p, path, err, sizeof err), VS_OK);
    TH_EXPECT_EQ(p.switch_buffer, 65536);
    unlink(path);
    /* Absent: unlimited. */
    TH_EXPECT_EQ(nicm_profile_load(&p, TH_PROFILE, err, sizeof err), VS_OK);
    TH_EXPECT_EQ(p.switch_buffer, 0);
    TH_EXPECT_EQ(nicm_profile_load(&p, "configs/modern.ini", err, sizeof err),
                 VS_OK);
}

/* ---- 6. end to end ---- */

/* The modern profile on the 64-node fat-tree (its first hosts, to keep
 * the test short): a ping-pong, and an all-to-all over two leaves with
 * finite buffers, run and check out. */
static void test_run_fattree(void)
{
    char out[8192], err[4096];
    const char *args[] = {"run", "--platform", "configs/fattree-64.xml",
                          "--profile", "configs/modern.ini", "--nodes", "2",
                          "--json", "pingpong", "--sizes", "4", "--iters",
                          "3", NULL};
    TH_EXPECT_EQ(th_cli(args, out, sizeof out, err, sizeof err), 0);
    TH_CHECK(th_json_num(out, "latency_us") > 0.5 &&
                 th_json_num(out, "latency_us") < 5,
             "modern one-word latency: %s", out);
    char path[TH_PATH_LEN];
    char *prof = th_read_file("configs/modern.ini");
    th_write_tmp(path, "fabric-modern", prof);
    free(prof);
    FILE *f = fopen(path, "a");
    CU_ASSERT_FATAL(f != NULL);
    fputs("\n[fabric]\nswitch_buffer_bytes = 8400\n", f);
    fclose(f);
    const char *args2[] = {"run", "--platform", "configs/fattree-64.xml",
                           "--profile", path, "--nodes", "12", "alltoall",
                           "--messages", "200", "--max-size", "16K",
                           "--verify", NULL};
    TH_EXPECT_EQ(th_cli(args2, out, sizeof out, err, sizeof err), 0);
    TH_EXPECT_HAS(out, "200 delivered");
    TH_EXPECT_HAS(out, "0 corrupt");
    unlink(path);
}

void register_fabric_tests(void)
{
    CU_pSuite s = th_suite("fabric");
    th_add(s, "multi-hop: sum of link latencies and routing delays",
           test_multihop_latency);
    th_add(s, "a stream alone: formula time with or without buffers",
           test_stream_alone);
    th_add(s, "hot spot slows a flow sharing its switch outputs; finite "
              "buffers block its head of line",
           test_hot_spot_shared);
    th_add(s, "hot spot leaves a flow on disjoint links exactly alone",
           test_hot_spot_disjoint);
    th_add(s, "hot spot with finite buffers is deterministic",
           test_hot_spot_deterministic);
    th_add(s, "finite buffers with drops, copies and holds lose nothing",
           test_buffers_with_faults);
    th_add(s, "SimGrid fat-tree, torus, dragonfly: shipped configs route",
           test_shipped_platforms);
    th_add(s, "SimGrid limiter links are not hops", test_limiters_skipped);
    th_add(s, "[fabric] switch_buffer_bytes: optional, at least a packet",
           test_profile_buffer_key);
    th_add(s, "modern profile on the 64-node fat-tree runs",
           test_run_fattree);
}
