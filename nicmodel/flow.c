/*
 * --fabric flow (nicmodel/nicm.h): the wire between the NICs is SimGrid's
 * flow-level network model instead of the packet-level fabric of fabric.c.
 *
 * Everything up to the wire is the same as in packet mode: the firmware
 * builds the packet, the send-DMA engine streams it out at the first link's
 * rate (send_start in nic.c) and its completion goes back to the firmware.
 * Where fabric.c would carry the packet link by link, it becomes one
 * SimGrid flow of its wire bytes (payload and framing) from the sender's
 * host to the receiver's, started when its head would enter the first link
 * (sim/flow.h).  SimGrid decides how long the flow takes: its latency
 * factor times the route's latency, plus the bytes at the bandwidth the
 * flow gets while sharing every link of its route with the other flows in
 * progress.  When the flow ends, the packet's tail is at the destination;
 * its head is taken to have arrived one last-link serialisation earlier
 * (never before the flow started), and the packet enters the same receive
 * path as in packet mode (fabric.c: the receive-buffer stall queue, then
 * the receive-DMA engine, then the firmware's handler), so the receive-DMA
 * engine finishes about when the tail is in, as with cut-through.
 *
 One flow per packet, not per run of packets: the receiver must see every
 * packet when it is complete (the firmware handles, acknowledges and
 * releases them one by one and the sender's window depends on it), and a
 * flow per packet keeps that exact.  The price is one SimGrid communication
 * per packet; docs/fabric-flow.md has the figures.  Packets between the
 * same two nodes are delivered in the order they were sent, as on a real
 * wire: a short packet's flow that ends before the longer one sent just
 * before it waits for it (struct nicm__flowrec).
 *
 * Not modelled in flow mode: per-link contention timing (SimGrid's sharing
 * replaces it), the switches' routing delay (SimGrid's latency factor
 * stands in), fault injection (refused by nicm_set_faults callers, see
 * nicm_set_fabric) and finite switch buffers.  Link statistics count the
 * packets and bytes that crossed each link; their busy time stays 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nicmodel/nic_int.h"
#include "sim/flow.h"
#include "util/err.h"
#include "util/inv.h"

static inline hw_time_t max_t(hw_time_t a, hw_time_t b) { return a > b ? a : b; }

/* A packet in flight as a flow.  Records stay on their sender's list in
 * send order until delivered, so that packets between the same two nodes
 * are delivered in the order they were sent, as on the wire of packet mode
 * (one route, first in first out): a short packet's flow may end before
 * that of a longer packet sent just before it, and then waits for it. */
struct nicm__flowrec {
    struct nicm__flowrec *next;
    struct nicm__pkt *p;
    int ended;
};

/* The packet's tail is in at the destination: the same receive path as in
 * packet mode. */
static void deliver(struct nicm__pkt *p)
{
    struct nicm_cluster *cl = p->src->cl;
    const struct nicm__route *r = p->route;
    hw_time_t now = sim_now();
    double bw = r->n ? cl->links[r->links[r->n - 1]].bw : 0;
    hw_time_t stream = bw > 0 ? nicm__xfer_time(p->wire_len, bw) : 0;
    /* p->head_in is when the flow started. */
    p->head_in = max_t(p->head_in, now - stream);
    p->tail_in = now;
    nicm__pkt_arrive(p);
}

static void flow_end(void *arg)
{
    struct nicm__flowrec *f = arg;
    struct nicm__node *n = f->p->src;
    f->ended = 1;
    /* Deliver, in send order, every ended packet with no packet to the same
     * destination still in flight before it. */
    struct nicm__flowrec **pp = &n->flow_head, *prev = NULL;
    while (*pp) {
        struct nicm__flowrec *g = *pp;
        int blocked = !g->ended;
        for (struct nicm__flowrec *h = n->flow_head; !blocked && h != g;
             h = h->next)
            blocked = h->p->dst == g->p->dst;
        if (blocked) {
            prev = g;
            pp = &g->next;
            continue;
        }
        *pp = g->next;
        if (n->flow_tail == g)
            n->flow_tail = prev;
        deliver(g->p);
        free(g);
    }
}

static void flow_begin(void *arg)
{
    struct nicm__pkt *p = arg;
    struct nicm_cluster *cl = p->src->cl;
    struct nicm__node *n = p->src;
    const struct nicm__route *r = p->route;
    for (int i = 0; i < r->n; i++) {
        struct nicm__link *l = &cl->links[r->links[i]];
        l->st.pkts++;
        l->st.bytes += p->wire_len;
    }
    struct nicm__flowrec *f = malloc(sizeof *f);
    if (!f) {
        fprintf(stderr, "vmmcsim: out of memory (flows)\n");
        abort();
    }
    *f = (struct nicm__flowrec){NULL, p, 0};
    int rc = sim_flow_start((size_t)n->nic.node, (size_t)p->dst->nic.node,
                            p->wire_len, flow_end, f);
    if (rc) {
        VS_INV(0, "simulator: node %d could not start a flow to node %d "
                  "(%s)",
               n->nic.node, p->dst->nic.node, vs_strerror(rc));
        free(f);
        nicm__pkt_free(p);
        return;
    }
    if (n->flow_tail)
        n->flow_tail->next = f;
    else
        n->flow_head = f;
    n->flow_tail = f;
}

void nicm__flow_inject(struct nicm__pkt *p)
{
    VS_INV(!p->src->cl->faults.active,
           "simulator: fault injection in flow mode (nicm_set_fabric "
           "refuses it)");
    p->hop = p->route->n;
    sim_post(p->head_in, flow_begin, p);
}

int nicm_set_fabric(nicm_cluster *cl, enum nicm_fabric f, char *err,
                    size_t errlen)
{
    if (f != NICM_FABRIC_PACKET && f != NICM_FABRIC_FLOW) {
        snprintf(err, errlen, "nicm_set_fabric: unknown mode %d", (int)f);
        return VS_ECONFIG;
    }
    if (f == NICM_FABRIC_FLOW) {
        if (cl->faults.active || cl->faults.npicks) {
            snprintf(err, errlen,
                     "option --fabric flow: fault injection (--faults, "
                     "--fault-list or the profile's [faults]) needs "
                     "--fabric packet");
            return VS_ECONFIG;
        }
        if (sim_host_count() < (size_t)cl->nnodes) {
            snprintf(err, errlen,
                     "option --fabric flow: the platform has %zu host(s) "
                     "for %d nodes",
                     sim_host_count(), cl->nnodes);
            return VS_ECONFIG;
        }
    }
    cl->flow = f == NICM_FABRIC_FLOW;
    return VS_OK;
}

enum nicm_fabric nicm_get_fabric(nicm_cluster *cl)
{
    return cl->flow ? NICM_FABRIC_FLOW : NICM_FABRIC_PACKET;
}

const char *nicm_fabric_name(enum nicm_fabric f)
{
    return f == NICM_FABRIC_FLOW ? "flow" : "packet";
}

int nicm_fabric_parse(const char *name, enum nicm_fabric *out)
{
    if (!strcmp(name, "packet"))
        *out = NICM_FABRIC_PACKET;
    else if (!strcmp(name, "flow"))
        *out = NICM_FABRIC_FLOW;
    else
        return -1;
    return 0;
}
