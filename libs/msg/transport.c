/*
 * The transport of libs/msg: per-sender receive rings with credits, the
 * progress engine, blocking in simulated time, and msg_init/msg_finalize.
 * It sits on the public VMMC API only; p2p.c (matching, rendezvous) and
 * coll.c build on it.
 *
 * Every rank exports one buffer (id export_base): control words (a credit
 * word and a finalize word per peer, each written only by that peer), then
 * one ring of ring_slots slots per sender.  A sender writes message k into
 * slot k % ring_slots of its ring at the receiver with a single vmmc_send
 * from a staging slot of its own, payload first and header last, at the
 * slot's end; the header carries seq = k + 1.  VMMC delivers a
 * connection's bytes in order, so a receiver that reads seq k + 1 in the
 * header has the whole message, and it never reads a stale header as new
 * (the slot's previous header says k + 1 - ring_slots).
 *
 * Credits: a sender may have ring_slots messages unconsumed.  The receiver
 * consumes every arrived message at once (into a posted receive or the
 * unexpected queue), so slots never wait for the application; it reports
 * its consumed count in the header of every message it sends back, and
 * with a 4-byte write into the sender's credit word once half a ring is
 * unreported.  A sender therefore always has a free slot once the
 * receiver has drained its ring, and flow control cannot deadlock.
 *
 * Blocking: a process with nothing to do sleeps in vmmc_wait_until() on a
 * predicate that reads only memory the NICs write: the next header of each
 * ring, and the credit word of each peer that has messages queued for it.
 * Every completion of the library is such a write (rendezvous completions
 * are ring messages too), so nothing ever needs a busy loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libs/msg/msg_int.h"
#include "util/dheap.h"

/* A peer that has not exported its ring yet is retried this often, up to
 * about a second of simulated time. */
#define IMPORT_RETRY (20 * HW_US)
#define IMPORT_TRIES 50000

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

int msg__fail(msg_ctx *c, int rc, const char *fmt, ...)
{
    if (c && rc) {
        va_list ap;
        va_start(ap, fmt);
        vs_errmsg_vset(c->errmsg, sizeof c->errmsg, rc, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* The transport cannot go on (a lost ring message would stall its ring
 * for good): every later call fails with rc. */
static int broken(msg_ctx *c, int rc, const char *what, int p)
{
    if (!c->err) {
        c->err = rc;
        msg__fail(c, rc, "msg: %s (rank %d, peer %d)", what, c->rank, p);
    }
    return c->err;
}

const char *msg_errmsg(const msg_ctx *ctx)
{
    return ctx ? ctx->errmsg : "";
}
int msg_rank(const msg_ctx *ctx)
{
    return ctx ? ctx->rank : -1;
}
int msg_size(const msg_ctx *ctx)
{
    return ctx ? ctx->size : 0;
}
const struct msg_params *msg_params(const msg_ctx *ctx)
{
    return ctx ? &ctx->p : NULL;
}
void msg_get_stats(const msg_ctx *ctx, struct msg_stats *out)
{
    if (ctx && out)
        *out = ctx->st;
}

void msg_params_default(struct msg_params *p)
{
    *p = (struct msg_params){.eager_limit = MSG_DEFAULT_EAGER_LIMIT,
                             .ring_slots = MSG_DEFAULT_RING_SLOTS,
                             .copy_MBps = MSG_DEFAULT_COPY_MBPS,
                             .export_base = 0,
                             .nranks = 0,
                             .cache_exports = 1};
}

void msg__charge_copy(msg_ctx *c, size_t n)
{
    if (n)
        c->h->ops->compute(c->h, (hw_time_t)n * HW_US / c->p.copy_MBps);
}

void msg__charge_op(msg_ctx *c)
{
    c->h->ops->compute(c->h, c->h->ops->cost(c->h, HW_HOST_CALL));
}

/* ---- Rings ---- */

static volatile uint32_t *cred_word(const msg_ctx *c, int p)
{
    return (volatile uint32_t *)c->ring + p;
}

static volatile uint32_t *fin_word(const msg_ctx *c, int p)
{
    return (volatile uint32_t *)c->ring + c->size + p;
}

/* Offset of slot k of sender's ring in a receiver's export. */
static size_t slot_off(const msg_ctx *c, int sender, uint32_t k)
{
    return c->ctl_len +
           ((size_t)sender * c->p.ring_slots + k % c->p.ring_slots) * c->slot;
}

/* The header where the next message from p will appear. */
static const volatile struct msg__hdr *next_hdr(const msg_ctx *c, int p)
{
    const unsigned char *s = c->ring + slot_off(c, p, c->peers[p].recvd);
    return (const volatile struct msg__hdr *)(s + c->slot - MSG__HDR);
}

static unsigned slots_free(msg_ctx *c, int p)
{
    struct msg__peer *pe = &c->peers[p];
    uint32_t w = *cred_word(c, p);
    pe->cred_word = w;
    if ((int32_t)(w - pe->cred_view) > 0)
        pe->cred_view = w;
    uint32_t used = pe->sent - pe->cred_view;
    return used >= c->p.ring_slots ? 0 : c->p.ring_slots - used;
}

/* Writes one message into the next slot of p's ring (a slot is free). */
static int ring_write(msg_ctx *c, int p, struct msg__hdr *h, const void *data)
{
    struct msg__peer *pe = &c->peers[p];
    uint32_t k = pe->sent;
    unsigned i = k % c->p.ring_slots;
    unsigned char *s = pe->stage + (size_t)i * c->slot;
    if (pe->stage_live[i]) {
        /* The slot's last send has landed (its credit came back); this
         * only collects the NIC's acknowledgement. */
        int rc = vmmc_wait(c->vc, &pe->stage_req[i]);
        pe->stage_live[i] = 0;
        if (rc)
            return broken(c, rc, "a ring write failed", p);
    }
    size_t plen = h->type == MSG__T_EAGER ? round_up(h->len, 8) : 0;
    size_t at = c->slot - MSG__HDR - plen;
    if (h->type == MSG__T_EAGER && h->len) {
        memcpy(s + at, data, h->len);
        msg__charge_copy(c, h->len);
        c->st.bytes_copied += h->len;
    }
    /* Seq 0 would match a never-written slot: it comes back after 2^32
     * messages on one ring, far beyond any run. */
    h->seq = k + 1;
    h->credit = pe->recvd;
    pe->reported = pe->recvd;
    memcpy(s + c->slot - MSG__HDR, h, MSG__HDR);
    int rc = vmmc_send(c->vc, pe->ring_imp, slot_off(c, c->rank, k) + at,
                       s + at, plen + MSG__HDR, 0, &pe->stage_req[i]);
    if (rc)
        return broken(c, rc, "a ring write was refused", p);
    pe->stage_live[i] = 1;
    pe->sent++;
    return VS_OK;
}

/* Writes queued messages to p while it has free slots. */
static int push(msg_ctx *c, int p)
{
    struct msg__peer *pe = &c->peers[p];
    int n = 0;
    while (pe->outq && slots_free(c, p)) {
        struct msg__out *o = pe->outq;
        pe->outq = o->next;
        if (!pe->outq)
            pe->outq_tail = NULL;
        struct msg__hdr h = o->hdr;
        int rc = ring_write(c, p, &h, o->data);
        msg_req *r = o->req;
        if (o->owned)
            free(o);
        if (rc)
            return rc;
        if (r)
            msg__written(c, r);
        n++;
    }
    return n;
}

int msg__post(msg_ctx *c, int p, const struct msg__hdr *h, const void *data,
              msg_req *req)
{
    if (c->err)
        return c->err;
    struct msg__peer *pe = &c->peers[p];
    if (!pe->outq && slots_free(c, p)) {
        struct msg__hdr hh = *h;
        int rc = ring_write(c, p, &hh, data);
        if (rc)
            return rc;
        if (req)
            msg__written(c, req);
        return VS_OK;
    }
    /* In order behind what is queued: messages to a peer never overtake
     * each other, control messages included. */
    struct msg__out *o = req ? &req->out : malloc(sizeof *o);
    if (!o)
        return broken(c, VS_ENOMEM, "out of memory for a queued message", p);
    *o = (struct msg__out){.hdr = *h, .data = data, .req = req, .owned = !req};
    if (pe->outq_tail)
        pe->outq_tail->next = o;
    else
        pe->outq = o;
    pe->outq_tail = o;
    return VS_OK;
}

/* Tells p how many of its messages this rank has consumed. */
static int send_credit(msg_ctx *c, int p)
{
    struct msg__peer *pe = &c->peers[p];
    unsigned j = pe->cred_next;
    pe->cred_next ^= 1;
    if (pe->cred_live[j]) {
        int rc = vmmc_wait(c->vc, &pe->cred_req[j]);
        pe->cred_live[j] = 0;
        if (rc)
            return broken(c, rc, "a credit update failed", p);
    }
    /* An earlier update still reading this word sends the newer count,
     * which is as good: counts only grow. */
    c->words[p] = pe->recvd;
    int rc = vmmc_send(c->vc, pe->ring_imp, (size_t)c->rank * 4, &c->words[p],
                       4, 0, &pe->cred_req[j]);
    if (rc)
        return broken(c, rc, "a credit update was refused", p);
    pe->cred_live[j] = 1;
    pe->reported = pe->recvd;
    c->st.credit_updates++;
    return VS_OK;
}

static int hdr_valid(const msg_ctx *c, const struct msg__hdr *h)
{
    if (h->type < MSG__T_EAGER || h->type > MSG__T_DONE ||
        h->context > MSG__CTX_COLL)
        return 0;
    return h->type != MSG__T_EAGER || h->len <= c->p.eager_limit;
}

/* Consumes the next message from p if it has arrived: 1 if it did. */
static int ring_read(msg_ctx *c, int p)
{
    struct msg__peer *pe = &c->peers[p];
    const volatile struct msg__hdr *vh = next_hdr(c, p);
    if (vh->seq != pe->recvd + 1)
        return 0;
    /* The process runs alone between two waits: nothing writes the slot
     * while it is read. */
    struct msg__hdr h;
    memcpy(&h, (const void *)vh, sizeof h);
    if (!hdr_valid(c, &h))
        return broken(c, VS_EIO, "a malformed ring message arrived", p);
    if ((int32_t)(h.credit - pe->cred_view) > 0)
        pe->cred_view = h.credit;
    const unsigned char *payload =
        (const unsigned char *)vh -
        (h.type == MSG__T_EAGER ? round_up(h.len, 8) : 0);
    msg__charge_op(c);
    int rc = msg__deliver(c, p, &h, payload);
    pe->recvd++;
    if (rc)
        return broken(c, rc, "a ring message could not be handled", p);
    unsigned half = c->p.ring_slots / 2;
    if (!c->closing && pe->recvd - pe->reported >= (half ? half : 1)) {
        rc = send_credit(c, p);
        if (rc)
            return rc;
    }
    return 1;
}

int msg__progress(msg_ctx *c)
{
    if (c->err)
        return c->err;
    int n = 0;
    for (int k = 1; k < c->size; k++) {
        int p = (c->rank + k) % c->size;
        /* At most a ring's worth per peer per call, so one busy sender
         * cannot starve the others. */
        for (unsigned b = 0; b < c->p.ring_slots; b++) {
            int rc = ring_read(c, p);
            if (rc < 0)
                return rc;
            if (!rc)
                break;
            n++;
        }
    }
    for (int p = 0; p < c->size; p++) {
        if (!c->peers[p].outq)
            continue;
        int rc = push(c, p);
        if (rc < 0)
            return rc;
        n += rc;
    }
    return n;
}

/* ---- Blocking ---- */

static int fin_all(const msg_ctx *c, uint32_t phase)
{
    for (int p = 0; p < c->size; p++)
        if (p != c->rank && *fin_word(c, p) < phase)
            return 0;
    return 1;
}

/* Something for progress to do has arrived.  Reads only memory (the
 * backend may evaluate it outside the process). */
static int ready(void *arg)
{
    const msg_ctx *c = arg;
    for (int p = 0; p < c->size; p++) {
        if (p == c->rank)
            continue;
        const struct msg__peer *pe = &c->peers[p];
        if (next_hdr(c, p)->seq == pe->recvd + 1)
            return 1;
        if (pe->outq && *cred_word(c, p) != pe->cred_word)
            return 1;
    }
    return c->fin_phase && fin_all(c, c->fin_phase);
}

static int block(msg_ctx *c)
{
    int rc = vmmc_wait_until(c->vc, ready, c, -1);
    if (!rc && !ready(c)) {
        /* Woken for a notification of the application's, which msg does
         * not consume: wait on msg's memory alone, or this would spin. */
        rc = c->h->ops->wait(c->h, ready, c, -1);
    }
    return rc ? msg__fail(c, rc, "msg: waiting for the network") : VS_OK;
}

int msg__wait(msg_ctx *c, msg__cond_fn cond, void *arg)
{
    for (;;) {
        int n = msg__progress(c);
        if (n < 0)
            return n;
        if (cond(c, arg))
            return VS_OK;
        if (n > 0)
            continue;
        int rc = block(c);
        if (rc)
            return rc;
    }
}

/* ---- Init ---- */

static int check_params(msg_ctx *c, const struct msg_params *p, int nnodes)
{
    if (p->eager_limit > 65536)
        return msg__fail(c, VS_EINVAL,
                         "msg_init: eager_limit %zu is above "
                         "65536",
                         p->eager_limit);
    if (p->ring_slots < 2 || p->ring_slots > 1024)
        return msg__fail(c, VS_EINVAL,
                         "msg_init: ring_slots %u is not in "
                         "2..1024",
                         p->ring_slots);
    if (p->copy_MBps < 1 || p->copy_MBps > 100000)
        return msg__fail(c, VS_EINVAL,
                         "msg_init: copy_MBps %u is not in "
                         "1..100000",
                         p->copy_MBps);
    if (p->nranks < 0 || p->nranks > nnodes)
        return msg__fail(c, VS_EINVAL, "msg_init: nranks %d is not in 0..%d",
                         p->nranks, nnodes);
    int size = p->nranks ? p->nranks : nnodes;
    if (p->export_base < 0 || p->export_base + size + 1 > VMMC_MAX_EXPORTS)
        return msg__fail(c, VS_EINVAL,
                         "msg_init: export ids %d..%d do not "
                         "fit in 0..%d",
                         p->export_base, p->export_base + size,
                         VMMC_MAX_EXPORTS - 1);
    return VS_OK;
}

static int import_ring(msg_ctx *c, int p)
{
    size_t len = 0;
    int rc = VS_ENOENT;
    for (int t = 0; t < IMPORT_TRIES && rc == VS_ENOENT; t++) {
        rc = vmmc_import(c->vc, p, c->p.export_base, &c->peers[p].ring_imp,
                         &len);
        if (rc == VS_ENOENT)
            c->h->ops->compute(c->h, IMPORT_RETRY);
    }
    if (rc)
        return msg__fail(c, rc, "msg_init: importing the ring of rank %d", p);
    c->peers[p].imported = 1;
    if (len != c->ring_len)
        return msg__fail(c, VS_ECONFIG,
                         "msg_init: rank %d's ring is %zu "
                         "bytes, not %zu: the ranks' "
                         "msg_params differ",
                         p, len, c->ring_len);
    return VS_OK;
}

static void destroy(msg_ctx *c);

static int setup(msg_ctx *c)
{
    int n = c->size;
    unsigned S = c->p.ring_slots;
    /* A message sits at the end of its slot.  Slots of a power of two up
     * to a page, or of whole pages, keep every message within as few
     * pages as its length allows: VMMC cuts packets at page boundaries, so
     * a needless crossing costs a packet (and latency would depend on
     * which slot a message got). */
    size_t page = c->h->page_size ? c->h->page_size : 4096;
    size_t need = round_up(c->p.eager_limit, 8) + MSG__HDR;
    if (need > page) {
        c->slot = round_up(need, page);
    } else {
        c->slot = 64;
        while (c->slot < need)
            c->slot *= 2;
    }
    c->ctl_len = round_up((size_t)n * 8, 64);
    c->ring_len = c->ctl_len + (size_t)n * S * c->slot;
    size_t stage_len = (size_t)n * S * c->slot;
    /* Whole pages, so what is measured does not depend on malloc. */
    c->ring = aligned_alloc(4096, round_up(c->ring_len, 4096));
    c->stage = aligned_alloc(4096, round_up(stage_len, 4096));
    /* VMMC sends from it: on pages of its own (util/dheap.h). */
    c->words = vs_dheap_pages((size_t)(n + 1) * 4);
    c->peers = calloc((size_t)n, sizeof *c->peers);
    if (!c->ring || !c->stage || !c->words || !c->peers)
        return msg__fail(c, VS_ENOMEM, "msg_init: %zu bytes of rings",
                         c->ring_len);
    memset(c->ring, 0, c->ring_len);
    memset(c->stage, 0, stage_len);
    memset(c->words, 0, (size_t)(n + 1) * 4);
    for (int p = 0; p < n; p++) {
        struct msg__peer *pe = &c->peers[p];
        pe->ring_imp = pe->land_imp = -1;
        pe->stage = c->stage + (size_t)p * S * c->slot;
        pe->stage_req = calloc(S, sizeof *pe->stage_req);
        pe->stage_live = calloc(S, 1);
        if (!pe->stage_req || !pe->stage_live)
            return msg__fail(c, VS_ENOMEM, "msg_init: out of memory");
    }
    int rc = vmmc_export(c->vc, c->p.export_base, c->ring, c->ring_len,
                         VMMC_PERM_WRITE);
    if (rc)
        return msg__fail(c, rc, "msg_init: %s", vmmc_errmsg(c->vc));
    c->ring_exported = 1;
    /* Pinned now so that the first messages do not pay the driver call. */
    if ((rc = vmmc_pin(c->vc, c->stage, stage_len)) ||
        (rc = vmmc_pin(c->vc, c->words, (size_t)(n + 1) * 4)))
        return msg__fail(c, rc, "msg_init: %s", vmmc_errmsg(c->vc));
    for (int k = 1; k < n; k++)
        if ((rc = import_ring(c, (c->rank + k) % n)))
            return rc;
    return VS_OK;
}

int msg_init(vmmc_ctx *vc, const struct msg_params *p, msg_ctx **out)
{
    if (!out)
        return VS_EINVAL;
    *out = NULL;
    if (!vc)
        return VS_EINVAL;
    msg_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return VS_ENOMEM;
    c->vc = vc;
    c->h = vmmc_host(vc);
    if (p)
        c->p = *p;
    else
        msg_params_default(&c->p);
    int nnodes = vmmc_nnodes(vc);
    c->rank = vmmc_node(vc);
    int rc = check_params(c, &c->p, nnodes);
    c->size = c->p.nranks ? c->p.nranks : nnodes;
    if (!rc && c->rank >= c->size)
        rc = msg__fail(c, VS_EINVAL,
                       "msg_init: node %d is not among the "
                       "%d ranks",
                       c->rank, c->size);
    if (!rc)
        rc = setup(c);
    if (rc) {
        destroy(c);
        return rc;
    }
    *out = c;
    return VS_OK;
}

/* ---- Finalize ---- */

static int outq_empty(msg_ctx *c, void *arg)
{
    (void)arg;
    for (int p = 0; p < c->size; p++)
        if (c->peers[p].outq)
            return 0;
    return 1;
}

static int fins_arrived(msg_ctx *c, void *arg)
{
    (void)arg;
    return fin_all(c, c->fin_phase);
}

/* Waits for every VMMC operation msg has posted (before its buffers are
 * freed). */
static int drain_sends(msg_ctx *c)
{
    int first = VS_OK;
    for (int p = 0; p < c->size; p++) {
        struct msg__peer *pe = &c->peers[p];
        for (unsigned i = 0; pe->stage_live && i < c->p.ring_slots; i++)
            if (pe->stage_live[i]) {
                int rc = vmmc_wait(c->vc, &pe->stage_req[i]);
                pe->stage_live[i] = 0;
                first = first ? first : rc;
            }
        vmmc_req *reqs[] = {&pe->cred_req[0], &pe->cred_req[1], &pe->fin_req};
        int *live[] = {&pe->cred_live[0], &pe->cred_live[1], &pe->fin_live};
        for (int i = 0; i < 3; i++)
            if (*live[i]) {
                int rc = vmmc_wait(c->vc, reqs[i]);
                *live[i] = 0;
                first = first ? first : rc;
            }
    }
    return first;
}

/* Writes this rank's finalize word (phase) into every peer's export. */
static int send_fins(msg_ctx *c, uint32_t phase)
{
    c->words[c->size] = phase;
    for (int p = 0; p < c->size; p++) {
        struct msg__peer *pe = &c->peers[p];
        if (p == c->rank)
            continue;
        if (pe->fin_live) {
            int rc = vmmc_wait(c->vc, &pe->fin_req);
            pe->fin_live = 0;
            if (rc)
                return broken(c, rc, "a finalize word failed", p);
        }
        int rc = vmmc_send(c->vc, pe->ring_imp, (size_t)(c->size + c->rank) * 4,
                           &c->words[c->size], 4, 0, &pe->fin_req);
        if (rc)
            return broken(c, rc, "a finalize word was refused", p);
        pe->fin_live = 1;
    }
    return VS_OK;
}

/* The closing handshake.  Phase 1: each rank writes out what it still has
 * queued, then says so; until every rank has, all keep consuming and
 * returning credits (a peer may need them to finish).  Phase 2: nobody
 * sends ring messages any more, so consumed messages return no credits
 * (a credit could reach a rank that has withdrawn its export); each rank
 * says so again.  Everything a rank writes to a peer (ring slots, credit
 * and finalize words) goes to the peer's one ring export over one VMMC
 * connection, which delivers in order: the phase-2 word lands after all
 * of it.  So a rank that has every peer's phase-2 word can withdraw its
 * exports: nothing is on its way to them. */
static int shutdown_protocol(msg_ctx *c)
{
    int rc = msg__wait(c, outq_empty, NULL);
    if (!rc)
        rc = send_fins(c, 1);
    c->fin_phase = 1;
    if (!rc)
        rc = msg__wait(c, fins_arrived, NULL);
    c->closing = 1;
    if (!rc)
        rc = send_fins(c, 2);
    c->fin_phase = 2;
    if (!rc)
        rc = msg__wait(c, fins_arrived, NULL);
    return rc;
}

static void destroy(msg_ctx *c)
{
    if (c->peers) {
        drain_sends(c);
        for (int p = 0; p < c->size; p++) {
            struct msg__peer *pe = &c->peers[p];
            if (pe->exported)
                vmmc_unexport(c->vc, c->p.export_base + 1 + p);
            if (pe->imported)
                vmmc_unimport(c->vc, pe->ring_imp);
            if (pe->land_valid)
                vmmc_unimport(c->vc, pe->land_imp);
            while (pe->outq) {
                struct msg__out *o = pe->outq;
                pe->outq = o->next;
                if (o->owned)
                    free(o);
            }
            free(pe->stage_req);
            free(pe->stage_live);
        }
    }
    if (c->ring_exported)
        vmmc_unexport(c->vc, c->p.export_base);
    msg__p2p_free(c);
    free(c->peers);
    free(c->ring);
    free(c->stage);
    vs_dheap_free(c->words);
    free(c);
}

int msg_finalize(msg_ctx *c)
{
    if (!c)
        return VS_EINVAL;
    if (!c->err && msg__busy(c))
        return msg__fail(c, VS_EBUSY,
                         "msg_finalize: a request has not "
                         "completed");
    int rc = c->err ? c->err : shutdown_protocol(c);
    destroy(c);
    return rc;
}
