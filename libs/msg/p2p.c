/*
 * Point to point in libs/msg: requests, matching and the rendezvous
 * protocol (wait.c has the public calls that post and complete them).
 * Ring messages come in from the transport (transport.c) through
 * msg__deliver(), in each sender's order.
 *
 * Matching follows MPI: an arriving message goes to the first posted
 * receive it matches, in posting order, or to the end of the unexpected
 * queue; a new receive takes the first unexpected message it matches, in
 * arrival order, or joins the posted queue.  A sender's messages reach
 * matching in the order it sent them (its ring is FIFO and its queued
 * messages never overtake each other), so they never overtake.
 *
 * Rendezvous (len > eager_limit), five ring messages and one zero-copy
 * transfer:
 *   sender                               receiver
 *   RTS(id, len, tag)  ----------------> matched with a receive (at once
 *                                        or later, from the unexpected
 *                                        queue); exports the receive
 *                                        buffer under its export id for
 *                                        that sender (or reuses the export
 *                                        if it already covers it)
 *                      <---------------- CTS(id, bytes, offset, epoch)
 *   imports that export if the epoch is new,
 *   vmmc_send(user buffer -> user buffer)
 *   FIN(id)            ----------------> (arrives after the data) receive
 *                                        complete
 *                      <---------------- DONE(id)
 *   send complete
 * A receiver has one export id per sender: it sends CTS at once for every
 * matched rendezvous whose buffer that export already covers (a stream
 * into one buffer pipelines), and re-exports for another buffer only once
 * the transfers into the current one have all landed; meanwhile the
 * others wait in match order.  Why not transfer redirection: a
 * pending vmmc_redirect holds one of VMMC's 32 command slots until its
 * data lands, and the library reuses slots in order, so a rank that posts
 * 31 more commands meanwhile blocks inside VMMC until the peer sends, and
 * two ranks doing that to each other deadlock.  Export and import are
 * calls that finish at once.
 */
#include <stdlib.h>
#include <string.h>

#include "libs/msg/msg_int.h"

/* ---- Requests ---- */

static msg_req *req_new(msg_ctx *c, int kind)
{
    msg_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = kind;
    r->lnext = c->live;
    if (c->live)
        c->live->lprev = r;
    c->live = r;
    return r;
}

void msg__req_free(msg_ctx *c, msg_req *r)
{
    if (r->lprev)
        r->lprev->lnext = r->lnext;
    else
        c->live = r->lnext;
    if (r->lnext)
        r->lnext->lprev = r->lprev;
    free(r);
}

static void complete(msg_req *r, int err)
{
    r->state = MSG__DONE;
    if (err && !r->st.error)
        r->st.error = err;
}

int msg__busy(const msg_ctx *c)
{
    for (const msg_req *r = c->live; r; r = r->lnext)
        if (r->state != MSG__DONE)
            return 1;
    return 0;
}

void msg__p2p_free(msg_ctx *c)
{
    while (c->unexp) {
        struct msg__unexp *u = c->unexp;
        c->unexp = u->next;
        free(u->data);
        free(u);
    }
    while (c->live) {
        /* VMMC writes a request's outcome into it: collect it first. */
        if (c->live->vreq_live)
            vmmc_wait(c->vc, &c->live->vreq);
        msg__req_free(c, c->live);
    }
}

/* ---- Matching ---- */

static int matches(int want_src, int want_tag, int want_ctx, int src, int tag,
                   int context)
{
    return want_ctx == context &&
           (want_src == MSG_ANY_SOURCE || want_src == src) &&
           (want_tag == MSG_ANY_TAG || want_tag == tag);
}

/* Removes and returns the first posted receive matching the message. */
static msg_req *take_posted(msg_ctx *c, int src, int tag, int context)
{
    msg_req *prev = NULL;
    for (msg_req *r = c->posted; r; prev = r, r = r->next) {
        if (!matches(r->peer, r->tag, r->context, src, tag, context))
            continue;
        if (prev)
            prev->next = r->next;
        else
            c->posted = r->next;
        if (c->posted_tail == r)
            c->posted_tail = prev;
        r->next = NULL;
        return r;
    }
    return NULL;
}

struct msg__unexp *msg__find_unexp(msg_ctx *c, int src, int tag, int context,
                                   int take)
{
    struct msg__unexp *prev = NULL;
    for (struct msg__unexp *u = c->unexp; u; prev = u, u = u->next) {
        if (!matches(src, tag, context, u->src, u->tag, u->context))
            continue;
        if (take) {
            if (prev)
                prev->next = u->next;
            else
                c->unexp = u->next;
            if (c->unexp_tail == u)
                c->unexp_tail = prev;
        }
        return u;
    }
    return NULL;
}

static struct msg__unexp *add_unexp(msg_ctx *c, int src, int tag, int context,
                                    size_t len)
{
    struct msg__unexp *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->src = src;
    u->tag = tag;
    u->context = context;
    u->len = len;
    if (c->unexp_tail)
        c->unexp_tail->next = u;
    else
        c->unexp = u;
    c->unexp_tail = u;
    return u;
}

/* Completes receive r with a copy of a whole message (eager). */
static void deliver_copy(msg_ctx *c, msg_req *r, int src, int tag,
                         const void *data, size_t len)
{
    size_t n = len < r->len ? len : r->len;
    if (n) {
        memcpy(r->rbuf, data, n);
        msg__charge_copy(c, n);
        c->st.bytes_copied += n;
    }
    r->st = (struct msg_status){src, tag, n, len > r->len ? VS_ERANGE : 0};
    c->st.received++;
    complete(r, 0);
}

/* ---- Rendezvous, receiver side ---- */

/* Does my export for p cover r's buffer? */
static int covers(const msg_ctx *c, const struct msg__peer *pe,
                  const msg_req *r)
{
    const unsigned char *b = r->rbuf, *eb = pe->exp_buf;
    return pe->exported && c->p.cache_exports && b >= eb &&
           r->xfer <= pe->exp_len && (size_t)(b - eb) <= pe->exp_len - r->xfer;
}

/* (Re-)exports r's buffer as my rendezvous export for p. */
static int export_for(msg_ctx *c, struct msg__peer *pe, int p, msg_req *r)
{
    int id = c->p.export_base + 1 + p, rc = VS_OK;
    if (pe->exported) {
        rc = vmmc_unexport(c->vc, id);
        pe->exported = 0;
    }
    if (!rc)
        rc = vmmc_export(c->vc, id, r->rbuf, r->xfer, VMMC_PERM_WRITE);
    if (rc)
        return msg__fail(c, rc, "msg: exporting a receive buffer: %s",
                         vmmc_errmsg(c->vc));
    pe->exported = 1;
    pe->exp_buf = r->rbuf;
    pe->exp_len = r->xfer;
    pe->exp_epoch++;
    c->st.exports++;
    return VS_OK;
}

/* Sends CTS for the matched rendezvous from p, in match order, as long as
 * my export for p can take them: any number that it already covers (so a
 * stream into one buffer pipelines), or, once none is in flight, one that
 * needs it re-exported. */
static int rndv_next(msg_ctx *c, int p)
{
    struct msg__peer *pe = &c->peers[p];
    while (pe->rndv_q) {
        msg_req *r = pe->rndv_q;
        int rc = VS_OK;
        if (!covers(c, pe, r)) {
            if (pe->nactive)
                break; /* the export is in use: wait for those FINs */
            rc = export_for(c, pe, p, r);
        }
        pe->rndv_q = r->next;
        if (!pe->rndv_q)
            pe->rndv_q_tail = NULL;
        r->next = NULL;
        struct msg__hdr h = {.type = MSG__T_CTS, .id = r->id};
        if (rc) {
            /* The sender must not wait for a buffer it cannot have. */
            h.flags = MSG__F_ERR;
            h.tag = rc;
            r->st.count = 0;
            complete(r, rc);
        } else {
            h.len = (uint32_t)r->xfer;
            h.size = (size_t)((unsigned char *)r->rbuf -
                              (unsigned char *)pe->exp_buf);
            h.tag = (int32_t)pe->exp_epoch;
            r->state = MSG__RNDV_GO;
            r->next = pe->rndv_active;
            pe->rndv_active = r;
            pe->nactive++;
        }
        if ((rc = msg__post(c, p, &h, NULL, NULL)))
            return rc;
    }
    return VS_OK;
}

/* Receive r matched the RTS of a len-byte message from p. */
static int rndv_match(msg_ctx *c, msg_req *r, int p, int tag, uint32_t id,
                      size_t len)
{
    r->peer = p;
    r->id = id;
    r->xfer = len < r->len ? len : r->len;
    r->st = (struct msg_status){p, tag, r->xfer, len > r->len ? VS_ERANGE : 0};
    if (!r->xfer) {
        /* Nothing fits: the sender learns there is nothing to send. */
        struct msg__hdr h = {.type = MSG__T_CTS, .id = id};
        c->st.received++;
        complete(r, 0);
        return msg__post(c, p, &h, NULL, NULL);
    }
    struct msg__peer *pe = &c->peers[p];
    r->state = MSG__RNDV_WAIT;
    if (pe->rndv_q_tail)
        pe->rndv_q_tail->next = r;
    else
        pe->rndv_q = r;
    pe->rndv_q_tail = r;
    return rndv_next(c, p);
}

static int on_fin(msg_ctx *c, int p, const struct msg__hdr *h)
{
    struct msg__peer *pe = &c->peers[p];
    msg_req *r = pe->rndv_active, *prev = NULL;
    while (r && r->id != h->id) {
        prev = r;
        r = r->next;
    }
    if (!r)
        return VS_EIO;
    if (prev)
        prev->next = r->next;
    else
        pe->rndv_active = r->next;
    r->next = NULL;
    pe->nactive--;
    int rc = VS_OK;
    if (h->flags & MSG__F_ERR) {
        r->st.count = 0;
        complete(r, h->tag < 0 ? h->tag : VS_EIO);
    } else {
        c->st.received++;
        c->st.bytes_zero_copy += r->xfer;
        complete(r, 0);
        struct msg__hdr d = {.type = MSG__T_DONE, .id = h->id};
        rc = msg__post(c, p, &d, NULL, NULL);
    }
    if (!rc && !c->p.cache_exports && pe->exported && !pe->nactive) {
        rc = vmmc_unexport(c->vc, c->p.export_base + 1 + p);
        pe->exported = 0;
    }
    return rc ? rc : rndv_next(c, p);
}

/* ---- Rendezvous, sender side ---- */

static msg_req *take_rndv_send(struct msg__peer *pe, uint32_t id, int state)
{
    msg_req *prev = NULL;
    for (msg_req *s = pe->rndv_sends; s; prev = s, s = s->next) {
        if (s->id != id)
            continue;
        if (s->state != state)
            return NULL;
        if (prev)
            prev->next = s->next;
        else
            pe->rndv_sends = s->next;
        s->next = NULL;
        return s;
    }
    return NULL;
}

static void add_rndv_send(struct msg__peer *pe, msg_req *s)
{
    s->next = pe->rndv_sends;
    pe->rndv_sends = s;
}

static int on_cts(msg_ctx *c, int p, const struct msg__hdr *h)
{
    struct msg__peer *pe = &c->peers[p];
    msg_req *s = take_rndv_send(pe, h->id, MSG__WAIT_CTS);
    if (!s || h->len > s->len)
        return VS_EIO;
    if (!h->len) {
        complete(s, (h->flags & MSG__F_ERR) && h->tag < 0 ? h->tag : 0);
        return VS_OK;
    }
    int rc = VS_OK;
    if (!pe->land_valid || pe->land_epoch != (uint32_t)h->tag) {
        /* The receiver exported another buffer since (once every
         * transfer into the old one had landed): the old import is
         * stale. */
        if (pe->land_valid)
            vmmc_unimport(c->vc, pe->land_imp);
        pe->land_valid = 0;
        rc = vmmc_import(c->vc, p, c->p.export_base + 1 + c->rank,
                         &pe->land_imp, NULL);
        if (!rc) {
            pe->land_valid = 1;
            pe->land_epoch = (uint32_t)h->tag;
            c->st.imports++;
        }
    }
    if (!rc)
        rc = vmmc_send(c->vc, pe->land_imp, h->size, s->sbuf, h->len, 0,
                       &s->vreq);
    struct msg__hdr fin = {.type = MSG__T_FIN, .id = h->id};
    if (rc) {
        msg__fail(c, rc, "msg: rendezvous to rank %d: %s", p,
                  vmmc_errmsg(c->vc));
        complete(s, rc);
        fin.flags = MSG__F_ERR;
        fin.tag = rc;
    } else {
        s->vreq_live = 1;
        s->state = MSG__DATA;
        s->xfer = h->len;
        add_rndv_send(pe, s);
    }
    /* Behind the data on the same connection: the receiver sees FIN only
     * once the data has landed. */
    return msg__post(c, p, &fin, NULL, NULL);
}

static int on_done(msg_ctx *c, int p, const struct msg__hdr *h)
{
    struct msg__peer *pe = &c->peers[p];
    msg_req *s = take_rndv_send(pe, h->id, MSG__DATA);
    if (!s)
        return VS_EIO;
    /* The data has landed; this collects the acknowledgement that rode
     * back with DONE. */
    int rc = vmmc_wait(c->vc, &s->vreq);
    s->vreq_live = 0;
    complete(s, rc);
    return VS_OK;
}

/* ---- Arrivals ---- */

int msg__deliver(msg_ctx *c, int p, const struct msg__hdr *h,
                 const unsigned char *payload)
{
    switch (h->type) {
    case MSG__T_EAGER: {
        msg_req *r = take_posted(c, p, h->tag, h->context);
        if (r) {
            deliver_copy(c, r, p, h->tag, payload, h->len);
            return VS_OK;
        }
        struct msg__unexp *u = add_unexp(c, p, h->tag, h->context, h->len);
        if (!u || !(u->data = malloc(h->len ? h->len : 1)))
            return VS_ENOMEM;
        u->type = MSG__T_EAGER;
        memcpy(u->data, payload, h->len);
        msg__charge_copy(c, h->len);
        c->st.bytes_copied += h->len;
        return VS_OK;
    }
    case MSG__T_RTS: {
        msg_req *r = take_posted(c, p, h->tag, h->context);
        if (r)
            return rndv_match(c, r, p, h->tag, h->id, (size_t)h->size);
        struct msg__unexp *u =
            add_unexp(c, p, h->tag, h->context, (size_t)h->size);
        if (!u)
            return VS_ENOMEM;
        u->type = MSG__T_RTS;
        u->id = h->id;
        return VS_OK;
    }
    case MSG__T_CTS:
        return on_cts(c, p, h);
    case MSG__T_FIN:
        return on_fin(c, p, h);
    default:
        return on_done(c, p, h);
    }
}

void msg__written(msg_ctx *c, msg_req *r)
{
    (void)c;
    if (r->id)
        r->state = MSG__WAIT_CTS;
    else
        complete(r, 0);
}

/* ---- Posting ---- */

/* A send to this rank itself: matched at once, no network. */
static int self_send(msg_ctx *c, msg_req *s)
{
    c->st.self_sent++;
    msg_req *r = take_posted(c, c->rank, s->tag, s->context);
    if (r) {
        deliver_copy(c, r, c->rank, s->tag, s->sbuf, s->len);
        complete(s, 0);
        return VS_OK;
    }
    struct msg__unexp *u = add_unexp(c, c->rank, s->tag, s->context, s->len);
    if (!u)
        return VS_ENOMEM;
    if (s->len <= c->p.eager_limit) {
        /* Buffered like an eager message, so a blocking send returns. */
        u->type = MSG__T_EAGER;
        if (!(u->data = malloc(s->len ? s->len : 1)))
            return VS_ENOMEM;
        memcpy(u->data, s->sbuf, s->len);
        msg__charge_copy(c, s->len);
        c->st.bytes_copied += s->len;
        complete(s, 0);
    } else {
        u->sreq = s;
        s->state = MSG__SELF_WAIT;
    }
    return VS_OK;
}

int msg__isend(msg_ctx *c, const void *buf, size_t len, int dst, int tag,
               int context, msg_req **out)
{
    msg_req *s = req_new(c, MSG__SEND);
    if (!s)
        return msg__fail(c, VS_ENOMEM, "msg_isend: out of memory");
    s->peer = dst;
    s->tag = tag;
    s->context = context;
    s->sbuf = buf;
    s->len = len;
    s->state = MSG__QUEUED;
    s->st = (struct msg_status){dst, tag, len, 0};
    msg__charge_op(c);
    int rc;
    if (dst == c->rank) {
        rc = self_send(c, s);
    } else if (len <= c->p.eager_limit) {
        struct msg__hdr h = {.type = MSG__T_EAGER,
                             .len = (uint32_t)len,
                             .tag = tag,
                             .context = (uint8_t)context};
        c->st.eager_sent++;
        rc = msg__post(c, dst, &h, buf, s);
    } else {
        if (!++c->next_id) /* id 0 means "eager" */
            ++c->next_id;
        s->id = c->next_id;
        add_rndv_send(&c->peers[dst], s);
        struct msg__hdr h = {.type = MSG__T_RTS,
                             .size = len,
                             .tag = tag,
                             .id = s->id,
                             .context = (uint8_t)context};
        c->st.rndv_sent++;
        rc = msg__post(c, dst, &h, NULL, s);
    }
    /* On failure the request stays with the context (it may be queued
     * somewhere) and msg_finalize frees it. */
    *out = rc ? NULL : s;
    return rc;
}

int msg__irecv(msg_ctx *c, void *buf, size_t cap, int src, int tag, int context,
               msg_req **out)
{
    msg_req *r = req_new(c, MSG__RECV);
    if (!r)
        return msg__fail(c, VS_ENOMEM, "msg_irecv: out of memory");
    r->peer = src;
    r->tag = tag;
    r->context = context;
    r->rbuf = buf;
    r->len = cap;
    msg__charge_op(c);
    int rc = VS_OK;
    struct msg__unexp *u = msg__find_unexp(c, src, tag, context, 1);
    if (!u) {
        r->state = MSG__POSTED;
        if (c->posted_tail)
            c->posted_tail->next = r;
        else
            c->posted = r;
        c->posted_tail = r;
    } else {
        c->st.unexpected++;
        if (u->type == MSG__T_EAGER) {
            deliver_copy(c, r, u->src, u->tag, u->data, u->len);
        } else if (u->type == MSG__T_RTS) {
            rc = rndv_match(c, r, u->src, u->tag, u->id, u->len);
        } else { /* a large message from this rank: one copy */
            deliver_copy(c, r, u->src, u->tag, u->sreq->sbuf, u->len);
            complete(u->sreq, 0);
        }
        free(u->data);
        free(u);
    }
    *out = rc ? NULL : r;
    return rc;
}
