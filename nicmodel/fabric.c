/*
 * The packet-level switch fabric of nicmodel/: links and crossbar switches
 * with cut-through forwarding.
 *
 * A packet's head reaches the input of each link of its route in turn.  The
 * link is the output port of the switch (or the NIC) in front of it; if a
 * packet is still crossing it, the new one waits in the switch (output-port
 * contention).  The head crosses the link in its latency plus, at every
 * switch, the routing delay; the tail follows at the link's rate but never
 * before the tail has arrived from upstream.  At the destination the
 * receive-DMA engine takes the packet into a free receive buffer; when none
 * is free the packet waits in order in front of the NIC (link-level
 * back-pressure, so nothing is lost).
 *
 * Faults (nicm_set_faults, configured in faults.c) act here: as its head
 * starts across a link a packet may be dropped (the link is down, or by
 * chance), get a bit flipped, be duplicated or be held at the link's far end
 * while later packets pass it; on arrival a NIC that is down drops it and
 * the NIC's CRC check discards a corrupted one before it takes a receive
 * buffer.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nicmodel/nic_int.h"
#include "util/err.h"
#include "util/inv.h"

#define MAX_HOPS 64

static inline hw_time_t max_t(hw_time_t a, hw_time_t b) { return a > b ? a : b; }

const struct nicm__route *nicm__route(struct nicm__node *n, int dst)
{
    struct nicm_cluster *cl = n->cl;
    if (!n->routes) {
        n->routes = calloc((size_t)cl->nnodes, sizeof *n->routes);
        if (!n->routes)
            return NULL;
    }
    if (!n->routes[dst]) {
        size_t links[MAX_HOPS];
        int k = cl->topo.route(cl->topo.route_arg, n->nic.node, dst, links,
                               MAX_HOPS);
        if (k < 0)
            return NULL;
        struct nicm__route *r = malloc(sizeof *r + (size_t)k * sizeof(size_t));
        if (!r)
            return NULL;
        r->n = k;
        for (int i = 0; i < k; i++) {
            assert(links[i] < cl->topo.nlinks);
            r->links[i] = links[i];
        }
        n->routes[dst] = r;
    }
    return n->routes[dst];
}

void nicm__pkt_free(struct nicm__pkt *p)
{
    VS_INV(!p->delivered, "simulator: a packet from node %d was delivered "
                          "and then dropped",
           p->src->nic.node);
    p->src->cl->in_flight--;
    free(p);
}

static void pkt_arrive(void *arg)
{
    struct nicm__pkt *p = arg;
    struct nicm__node *n = p->dst;
    struct nicm_cluster *cl = n->cl;
    if (cl->faults.active && nicm__nic_down(cl, n->nic.node, sim_now())) {
        cl->faults.st.nic_down_drops++;
        nicm__pkt_free(p);
        return;
    }
    /* The NIC's hardware CRC check: the firmware never sees it. */
    if (p->corrupt) {
        cl->faults.st.crc_discards++;
        nicm__pkt_free(p);
        return;
    }
    if (n->rx_free == 0 || n->stall_head) {
        p->next = NULL;
        if (n->stall_tail)
            n->stall_tail->next = p;
        else
            n->stall_head = p;
        n->stall_tail = p;
        n->st.rx_stalls++;
        return;
    }
    nicm__rx_deliver(n, p, sim_now());
}

/* The faults a packet meets as its head starts across link li at start.
 * Returns 1 if it was dropped (and freed). */
static int faults_enter(struct nicm_cluster *cl, struct nicm__pkt *p,
                        size_t li, hw_time_t start)
{
    struct nicm__faults *f = &cl->faults;
    if (f->ndowns && nicm__link_down(cl, li, start)) {
        f->st.link_down_drops++;
        nicm__pkt_free(p);
        return 1;
    }
    if ((p->pick_n && nicm__picked(cl, p, NICM_FAULT_DROP, p->hop)) ||
        nicm__chance(cl, f->drop)) {
        f->st.dropped++;
        nicm__fault_log(cl, p, NICM_FAULT_DROP);
        nicm__pkt_free(p);
        return 1;
    }
    if (!p->corrupt &&
        ((p->pick_n && nicm__picked(cl, p, NICM_FAULT_CORRUPT, p->hop)) ||
         nicm__chance(cl, f->corrupt))) {
        uint64_t bit = nicm__draw_below(cl, (uint64_t)p->len * 8);
        p->data[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        p->corrupt = 1;
        f->st.corrupted++;
        nicm__fault_log(cl, p, NICM_FAULT_CORRUPT);
    }
    return 0;
}

/* The faults at the far end of the link, once the crossing is known: a hold
 * (the link is not held with it) and a copy that follows right behind.
 * Returns the copy or NULL. */
static struct nicm__pkt *faults_leave(struct nicm_cluster *cl,
                                      struct nicm__pkt *p)
{
    struct nicm__faults *f = &cl->faults;
    int hop = p->hop - 1; /* the link just crossed */
    int dup = !p->duplicated &&
              ((p->pick_n && nicm__picked(cl, p, NICM_FAULT_DUP, hop)) ||
               nicm__chance(cl, f->dup));
    if ((p->pick_n && nicm__picked(cl, p, NICM_FAULT_REORDER, hop)) ||
        nicm__chance(cl, f->reorder)) {
        hw_time_t hold =
            1 + (hw_time_t)nicm__draw_below(cl, (uint64_t)f->reorder_delay_max);
        p->head_in += hold;
        p->tail_in += hold;
        f->st.reordered++;
        nicm__fault_log(cl, p, NICM_FAULT_REORDER);
    }
    if (dup)
        nicm__fault_log(cl, p, NICM_FAULT_DUP);
    if (!dup)
        return NULL;
    struct nicm__pkt *q = malloc(sizeof *q + p->len);
    if (!q) {
        fprintf(stderr, "vmmcsim: out of memory (duplicated packet)\n");
        abort();
    }
    memcpy(q, p, sizeof *q + p->len);
    q->next = NULL;
    q->done = NULL; /* The sender's completion belongs to the original. */
    q->done_arg = NULL;
    p->duplicated = q->duplicated = 1;
    q->is_copy = 1;
    cl->in_flight++;
    f->st.duplicated++;
    return q;
}

static void pkt_hop(void *arg)
{
    struct nicm__pkt *p = arg;
    const struct nicm__route *r = p->route;
    if (p->hop == r->n) {
        pkt_arrive(p);
        return;
    }
    struct nicm_cluster *cl = p->src->cl;
    size_t li = r->links[p->hop];
    struct nicm__link *l = &cl->links[li];
    hw_time_t now = sim_now();
    hw_time_t start = max_t(now, l->free_at);
    if (cl->faults.active && faults_enter(cl, p, li, start))
        return;
    hw_time_t end =
        max_t(start + nicm__xfer_time(p->wire_len, l->bw), p->tail_in);
    l->free_at = end;
    l->st.busy += end - start;
    if (cl->tl)
        nicm__tl_event(cl, cl->nnodes + 1, (int)li + 1,
                       "packet", start, end);
    l->st.pkts++;
    l->st.bytes += p->wire_len;
    if (start - now > l->st.max_wait)
        l->st.max_wait = start - now;
    p->hop++;
    /* Past every link but the last, the head enters a switch. */
    p->head_in = start + l->lat + (p->hop < r->n ? cl->prof.switch_delay : 0);
    p->tail_in = end + l->lat;
    struct nicm__pkt *copy = cl->faults.active ? faults_leave(cl, p) : NULL;
    sim_post(p->head_in, pkt_hop, p);
    if (copy) /* Posted second: it queues behind the original. */
        sim_post(copy->head_in, pkt_hop, copy);
}

void nicm__pkt_inject(struct nicm__pkt *p)
{
    p->hop = 0;
    sim_post(p->head_in, pkt_hop, p);
}

void nicm__rx_release(struct nicm__node *n, struct nicm__pkt *p)
{
    n->rx_free++;
    VS_INV(n->rx_free <= n->cl->prof.recv_buffers,
           "resources: node %d has %u free receive buffers of %u",
           n->nic.node,
           n->rx_free, (unsigned)n->cl->prof.recv_buffers);
    n->cl->in_flight--;
    free(p);
    if (n->stall_head) {
        struct nicm__pkt *q = n->stall_head;
        n->stall_head = q->next;
        if (!n->stall_head)
            n->stall_tail = NULL;
        nicm__rx_deliver(n, q, sim_now());
    }
}
