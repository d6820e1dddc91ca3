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
 * With finite switch buffers (profile [fabric] switch_buffer_bytes > 0) a
 * second set of events below (fb_*) replaces pkt_hop: each link's output
 * queue in the switch in front of it holds at most that many bytes; a
 * packet whose head finds it full stays where it is, holding the link it
 * came over and blocking the packets queued behind it there (head-of-line
 * blocking), until room frees.  The link it holds is released only when its
 * tail has crossed, so the wait pushes back hop by hop (docs/fabric.md).
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
    nicm__pkt_release(p->src->cl, p);
}

/* Pooled except under AddressSanitizer, which then sees every use after
 * free. */
struct nicm__pkt *nicm__pkt_alloc(struct nicm_cluster *cl)
{
    struct nicm__pkt *p = vs_pool_get(&cl->pkt_pool);
    if (p)
        memset(p, 0, sizeof *p);
    return p;
}

void nicm__pkt_release(struct nicm_cluster *cl, struct nicm__pkt *p)
{
    vs_pool_put(&cl->pkt_pool, p);
}

static void fb_finish_up(struct nicm__pkt *p, hw_time_t t);

/* ---- Receive buffers ---- */

/* Buffers released at t or before are free. */
static void rx_take_due(struct nicm__node *n, hw_time_t t)
{
    uint32_t cap = n->cl->prof.recv_buffers;
    while (n->rx_rel_n && n->rx_rel[n->rx_rel_head] <= t) {
        n->rx_rel_head = (n->rx_rel_head + 1) % cap;
        n->rx_rel_n--;
        n->rx_free++;
    }
}

static void rx_due(void *arg);

/* Stalled packets wait for the next buffer released. */
static void rx_due_arm(struct nicm__node *n)
{
    if (n->stall_head && n->rx_rel_n && !sim_event_queued(&n->rx_due_ev))
        sim_event_at(&n->rx_due_ev, n->rx_rel[n->rx_rel_head], rx_due, n);
}

/* A released buffer is free now: stalled packets take the free ones, in
 * the order they came. */
static void rx_due(void *arg)
{
    struct nicm__node *n = arg;
    rx_take_due(n, sim_now());
    while (n->stall_head && n->rx_free > 0) {
        struct nicm__pkt *q = n->stall_head;
        n->stall_head = q->next;
        if (!n->stall_head)
            n->stall_tail = NULL;
        if (q->holds) /* finite buffers: it held the last link */
            fb_finish_up(q, sim_now());
        nicm__rx_deliver(n, q, sim_now());
    }
    rx_due_arm(n);
}

static void pkt_arrive(void *arg)
{
    struct nicm__pkt *p = arg;
    struct nicm__node *n = p->dst;
    struct nicm_cluster *cl = n->cl;
    if (cl->faults.active && nicm__nic_down(cl, n->nic.node, sim_now())) {
        cl->faults.st.nic_down_drops++;
        if (p->holds)
            fb_finish_up(p, sim_now());
        nicm__pkt_free(p);
        return;
    }
    /* The NIC's hardware CRC check: the firmware never sees it. */
    if (p->corrupt) {
        cl->faults.st.crc_discards++;
        if (p->holds)
            fb_finish_up(p, sim_now());
        nicm__pkt_free(p);
        return;
    }
    /* With finite buffers a packet that must wait for a receive buffer
     * keeps holding the last link (it still holds it in the stall list). */
    rx_take_due(n, sim_now());
    if (n->rx_free == 0 || n->stall_head) {
        p->next = NULL;
        if (n->stall_tail)
            n->stall_tail->next = p;
        else
            n->stall_head = p;
        n->stall_tail = p;
        n->st.rx_stalls++;
        rx_due_arm(n);
        return;
    }
    if (p->holds)
        fb_finish_up(p, sim_now());
    /* Flow mode (flow.c) learns of a packet when its tail is in. */
    nicm__rx_deliver(n, p, cl->flow ? p->head_in : sim_now());
}

void nicm__pkt_arrive(struct nicm__pkt *p) { pkt_arrive(p); }

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
    struct nicm__pkt *q = nicm__pkt_alloc(cl);
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

/* ---- Finite switch buffers ----
 *
 * Every link has an output queue in the switch (or NIC) in front of it:
 * packets admitted to it wait there, in order, for the link.  A packet
 * coming from a switch takes its wire length of room in the queue from the
 * moment it is admitted until its tail has left across the link; one
 * coming from its own NIC (the first link of its route) waits in the NIC's
 * SRAM and takes none.  Admission is in arrival order: a packet is
 * admitted when the queue is empty or its bytes fit in what is left of
 * switch_buffer_bytes, and no packet that arrived before it is still
 * blocked there.
 *
 * A packet crosses a link in three steps.  fb_start: the link is free; the
 * packet takes it (the link is held from now on) and its head reaches the
 * far end after the link's latency (plus the routing delay when a switch
 * is there).  fb_arrive: the head is at the next queue (or NIC); if there
 * is no room it is blocked there, still holding the link.  fb_admit: it is
 * admitted, and fb_finish_up releases the link it came over: the tail
 * crosses it at max(start + blocked + serialisation, when the tail reached
 * the link's input), and not before its admission if it was blocked; so
 * a blocked packet delays its own tail and every packet queued behind it
 * for that link, whatever their own output.  At the
 * destination, a NIC with no free receive buffer leaves the packet holding
 * the last link the same way.  Events happen in a fixed order and nothing
 * is random, so a run is reproducible. */

static void fb_arrive(void *arg);

static void fb_setup(struct nicm_cluster *cl)
{
    for (size_t i = 0; i < cl->topo.nlinks; i++) {
        cl->links[i].cl = cl;
        sim_event_init(&cl->links[i].rel_ev);
    }
    cl->fb_ready = 1;
}

static void fb_admit_blocked(struct nicm__link *l);

/* The room of finished packets frees at their time. */
static void fb_rel_ev(void *arg)
{
    struct nicm__link *l = arg;
    hw_time_t now = sim_now();
    while (l->rel_n && l->rel[l->rel_head].t <= now) {
        struct nicm__rel *r = &l->rel[l->rel_head];
        VS_INV(l->q_bytes >= r->bytes, "simulator: a switch buffer holds "
                                       "%llu bytes and frees %llu",
               (unsigned long long)l->q_bytes, (unsigned long long)r->bytes);
        l->q_bytes -= r->bytes;
        l->rel_head = (l->rel_head + 1) % l->rel_cap;
        l->rel_n--;
    }
    if (l->rel_n)
        sim_event_at(&l->rel_ev, l->rel[l->rel_head].t, fb_rel_ev, l);
    fb_admit_blocked(l);
}

/* bytes of l's output queue free at t. */
static void fb_release_at(struct nicm__link *l, hw_time_t t, uint64_t bytes)
{
    if (l->rel_n == l->rel_cap) {
        size_t cap = l->rel_cap ? 2 * l->rel_cap : 8;
        struct nicm__rel *r = malloc(cap * sizeof *r);
        if (!r) {
            fprintf(stderr, "vmmcsim: out of memory (switch buffers)\n");
            abort();
        }
        for (size_t i = 0; i < l->rel_n; i++)
            r[i] = l->rel[(l->rel_head + i) % l->rel_cap];
        free(l->rel);
        l->rel = r;
        l->rel_head = 0;
        l->rel_cap = cap;
    }
    /* A short packet's tail may have left before its head arrived: the
     * room is seen free from now.  Releases come in crossing order; keep
     * them in time order too. */
    t = max_t(t, sim_now());
    if (l->rel_n) {
        hw_time_t last = l->rel[(l->rel_head + l->rel_n - 1) % l->rel_cap].t;
        t = max_t(t, last);
    }
    l->rel[(l->rel_head + l->rel_n) % l->rel_cap] =
        (struct nicm__rel){t, bytes};
    l->rel_n++;
    if (!sim_event_queued(&l->rel_ev))
        sim_event_at(&l->rel_ev, l->rel[l->rel_head].t, fb_rel_ev, l);
}

static void fb_start(struct nicm__pkt *p, size_t li, hw_time_t start);

/* The next queued packet takes link l if it is free. */
static void fb_next(struct nicm__link *l)
{
    if (l->busy || !l->oq_head)
        return;
    struct nicm__pkt *p = l->oq_head;
    l->oq_head = p->fnext;
    if (!l->oq_head)
        l->oq_tail = NULL;
    p->fnext = NULL;
    l->busy = 1;
    fb_start(p, p->route->links[p->hop], max_t(sim_now(), l->free_at));
}

/* p's head got past the far end of the link it holds at t: its tail
 * follows across, and the link is free once it has crossed. */
static void fb_finish_up(struct nicm__pkt *p, hw_time_t t)
{
    struct nicm_cluster *cl = p->src->cl;
    size_t ui = p->route->links[p->hop - 1];
    struct nicm__link *u = &cl->links[ui];
    assert(p->holds && u->busy && t >= p->head_in);
    hw_time_t blocked = t - p->head_in;
    hw_time_t end = max_t(p->up_start + blocked +
                              nicm__xfer_time(p->wire_len, u->bw),
                          p->tail_up);
    /* A blocked packet, even one short enough to be all across, sits in
     * the link's far end until admitted: the link is not free before. */
    if (blocked)
        end = max_t(end, t);
    u->free_at = end;
    u->busy = 0;
    u->st.busy += end - p->up_start;
    if (cl->tl)
        nicm__tl_event(cl, cl->nnodes + 1, (int)ui + 1, "packet",
                       p->up_start, end);
    if (p->up_inbuf)
        fb_release_at(u, end, p->wire_len);
    p->tail_in = end + u->lat;
    p->holds = 0;
    p->up_inbuf = 0;
    fb_next(u);
}

/* p, its head at the input of link l (hop p->hop), joins l's queue. */
static void fb_admit(struct nicm__pkt *p, struct nicm__link *l)
{
    if (p->hop > 0) {
        l->q_bytes += p->wire_len;
        p->inbuf = 1;
    }
    if (p->holds)
        fb_finish_up(p, sim_now());
    p->fnext = NULL;
    if (l->oq_tail)
        l->oq_tail->fnext = p;
    else
        l->oq_head = p;
    l->oq_tail = p;
    fb_next(l);
}

static int fb_fits(const struct nicm__link *l, const struct nicm__pkt *p)
{
    uint64_t cap = p->src->cl->prof.switch_buffer;
    return l->q_bytes == 0 || l->q_bytes + p->wire_len <= cap;
}

static void fb_admit_blocked(struct nicm__link *l)
{
    while (l->bq_head && fb_fits(l, l->bq_head)) {
        struct nicm__pkt *p = l->bq_head;
        l->bq_head = p->fnext;
        if (!l->bq_head)
            l->bq_tail = NULL;
        fb_admit(p, l);
    }
}

static void fb_arrive(void *arg)
{
    struct nicm__pkt *p = arg;
    const struct nicm__route *r = p->route;
    if (p->hop == r->n) {
        pkt_arrive(p);
        return;
    }
    struct nicm__link *l = &p->src->cl->links[r->links[p->hop]];
    if (p->hop > 0 && (l->bq_head || !fb_fits(l, p))) {
        p->fnext = NULL;
        if (l->bq_tail)
            l->bq_tail->fnext = p;
        else
            l->bq_head = p;
        l->bq_tail = p;
        return;
    }
    fb_admit(p, l);
}

/* p takes link li (held since fb_next) with its head starting at start. */
static void fb_start(struct nicm__pkt *p, size_t li, hw_time_t start)
{
    struct nicm_cluster *cl = p->src->cl;
    struct nicm__link *l = &cl->links[li];
    const struct nicm__route *r = p->route;
    int inbuf = p->inbuf;
    size_t wire = p->wire_len;
    if (cl->faults.active && faults_enter(cl, p, li, start)) {
        /* Lost at the link's input: the link was not used. */
        l->busy = 0;
        if (inbuf)
            fb_release_at(l, start, wire);
        fb_next(l);
        return;
    }
    l->st.pkts++;
    l->st.bytes += wire;
    if (start - p->head_in > l->st.max_wait)
        l->st.max_wait = start - p->head_in;
    p->up_start = start;
    p->tail_up = p->tail_in;
    p->up_inbuf = p->inbuf;
    p->inbuf = 0;
    p->holds = 1;
    p->hop++;
    hw_time_t ser = nicm__xfer_time(wire, l->bw);
    p->head_in = start + l->lat + (p->hop < r->n ? cl->prof.switch_delay : 0);
    hw_time_t head_nominal = p->head_in;
    struct nicm__pkt *copy = cl->faults.active ? faults_leave(cl, p) : NULL;
    hw_time_t hold = p->head_in - head_nominal;
    if (hold) {
        /* Held at the far end (reorder): it leaves the link as if the way
         * on were free and waits there outside the buffers. */
        p->head_in = head_nominal;
        fb_finish_up(p, head_nominal);
        p->head_in += hold;
        p->tail_in += hold;
    }
    sim_post(p->head_in, fb_arrive, p);
    if (copy) {
        /* An independent packet right behind (held with the original): it
         * holds no link and its tail follows as on a free way. */
        copy->holds = copy->up_inbuf = copy->inbuf = 0;
        copy->head_in = head_nominal + hold;
        copy->tail_in = max_t(start + ser, p->tail_up) + l->lat + hold;
        sim_post(copy->head_in, fb_arrive, copy);
    }
}

void nicm__pkt_inject(struct nicm__pkt *p)
{
    if (p->src->cl->flow) { /* --fabric flow: nicmodel/flow.c */
        nicm__flow_inject(p);
        return;
    }
    p->hop = 0;
    struct nicm_cluster *cl = p->src->cl;
    if (cl->prof.switch_buffer) {
        if (!cl->fb_ready)
            fb_setup(cl);
        sim_post(p->head_in, fb_arrive, p);
        return;
    }
    sim_post(p->head_in, pkt_hop, p);
}

static void free_list(struct nicm__pkt *p)
{
    while (p) {
        struct nicm__pkt *q = p->fnext;
        free(p);
        p = q;
    }
}

void nicm__fabric_free(struct nicm_cluster *cl)
{
    for (size_t i = 0; cl->links && i < cl->topo.nlinks; i++) {
        struct nicm__link *l = &cl->links[i];
        free_list(l->oq_head);
        free_list(l->bq_head);
        l->oq_head = l->oq_tail = l->bq_head = l->bq_tail = NULL;
        free(l->rel);
        l->rel = NULL;
    }
}

void nicm__rx_release(struct nicm__node *n, struct nicm__pkt *p, hw_time_t t)
{
    uint32_t cap = n->cl->prof.recv_buffers;
    n->cl->in_flight--;
    nicm__pkt_release(n->cl, p);
    if (!n->rx_rel && !(n->rx_rel = malloc(cap * sizeof *n->rx_rel))) {
        fprintf(stderr, "vmmcsim: out of memory (receive buffers)\n");
        abort();
    }
    VS_INV(n->rx_free + n->rx_rel_n < cap,
           "resources: node %d released more than its %u receive buffers",
           n->nic.node, (unsigned)cap);
    if (n->rx_rel_n) { /* in order: the firmware's clock goes forward */
        hw_time_t last = n->rx_rel[(n->rx_rel_head + n->rx_rel_n - 1) % cap];
        if (t < last)
            t = last;
    }
    n->rx_rel[(n->rx_rel_head + n->rx_rel_n) % cap] = t;
    n->rx_rel_n++;
    rx_due_arm(n);
}
