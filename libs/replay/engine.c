/*
 * Replaying one rank of a time-independent trace (libs/replay/replay.h)
 * in its node's host process, over msg and VMMC only.  Sizes and roots
 * were settled when the trace was loaded (actions.c); here each action
 * becomes msg calls on zero-filled buffers of the right length, and
 * computation becomes host CPU time.
 *
 * SimGrid's replay (smpi_replay.cpp) is followed action by action:
 * pending requests live in a storage keyed by (source, destination, tag)
 * where a wait takes the oldest with its key (nothing if there is none),
 * a test puts it back at the end (empty once complete) and drops an empty
 * one, and waitall waits for all of them whatever its count field says;
 * sendRecv uses tag 0 both ways; the reductions' data move first and
 * their comp_size flops are computed after; at the end of the trace the
 * rank waits for the requests still pending.  The
 * variable-size collectives msg lacks (gatherv, scatterv, allgatherv,
 * reducescatter, scan, exscan) are built here from point-to-point
 * messages with tags of the replay's own (REPLAY_TAG_BASE and up).
 */
#include "libs/replay/replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "vmmc/vmmc.h"

/* Receive buffers for irecvs pending at once are one per request, up to
 * this many bytes in all per rank; beyond it they are shared. */
#define RPOOL_BYTES ((size_t)64 << 20)

enum cat { CAT_NONE, CAT_COMPUTE, CAT_COMM, CAT_WAIT };

/* A request in the rank's storage (SimGrid's RequestStorage): its key,
 * the request (R->slots[slot], NULL once it completed) and, for an
 * irecv, the pool buffer it receives into (-1: none, its own, or shared). */
struct rq {
    int32_t src, dst, tag;
    int32_t slot;
    int32_t buf;
};

/* One rank's replay. */
struct rt {
    hw_host *h;
    msg_ctx *mc;
    const struct replay_trace *t;
    const struct replay_rank *rk;
    struct replay_rank_result *res;
    int me, n;
    double speed; /* flops per second */
    unsigned char *sbuf, *rbuf;
    size_t slen, rlen;
    struct rq *q; /* the storage: pending requests, oldest first */
    size_t nq, qcap;
    unsigned char **rpool; /* irecv buffers, rpool_len bytes each */
    size_t nrpool, rpool_cap, rpool_len;
    int32_t *rfree; /* pool buffers no request holds */
    size_t nfree;
    msg_req **slots;       /* isend / irecv requests, by slot */
    size_t *slot_act;      /* the action that posted each slot */
    unsigned char **owned; /* a probed irecv's own buffer, by slot */
    msg_req **vreq;        /* n requests of the replay's own collectives */
    size_t *counts;        /* 4 n: alltoallv counts and displacements */
    uint32_t vseq;  /* the replay's own collectives so far (their tags) */
    hw_time_t comp; /* compute time inside the current action */
};

/* ---- Describing actions (errors, deadlock reports) ---- */

static void describe(const struct replay_action *a, char *buf, size_t len)
{
    const char *name = replay_op_name(a->op);
    char who[32] = "any source", tag[32] = "any tag";
    if (a->peer >= 0)
        snprintf(who, sizeof who, "%d", (int)a->peer);
    if (a->tag >= 0)
        snprintf(tag, sizeof tag, "tag %d", (int)a->tag);
    switch (a->op) {
    case REPLAY_SEND:
    case REPLAY_ISEND:
        snprintf(buf, len, "%s to %s, %s, %lld bytes", name, who, tag,
                 (long long)a->len);
        break;
    case REPLAY_RECV:
    case REPLAY_IRECV:
        if (a->len >= 0)
            snprintf(buf, len, "%s from %s, %s, %lld bytes", name, who, tag,
                     (long long)a->len);
        else
            snprintf(buf, len, "%s from %s, %s, size unknown", name, who, tag);
        break;
    case REPLAY_WAIT:
    case REPLAY_TEST:
        snprintf(buf, len, "%s for the request from %d to %d with tag %d", name,
                 (int)a->ksrc, (int)a->kdst, (int)a->ktag);
        break;
    case REPLAY_SENDRECV:
        snprintf(buf, len, "sendRecv: %lld bytes to %d, %lld from %d",
                 (long long)a->len, (int)a->peer, (long long)a->len2,
                 (int)a->peer2);
        break;
    case REPLAY_BCAST:
    case REPLAY_REDUCE:
    case REPLAY_GATHER:
    case REPLAY_SCATTER:
    case REPLAY_GATHERV:
    case REPLAY_SCATTERV:
        snprintf(buf, len, "%s with root %d", name, (int)a->root);
        break;
    default:
        snprintf(buf, len, "%s", name);
        break;
    }
}

void replay_where(const struct replay_trace *t,
                  const struct replay_rank_result *res, int r, char *buf,
                  size_t len)
{
    const struct replay_rank_result *x = &res[r];
    const struct replay_rank *rk = &t->ranks[r];
    char what[160];
    switch (x->state) {
    case REPLAY_ST_IDLE:
        snprintf(buf, len, "rank %d (setting up msg, before its trace)", r);
        break;
    case REPLAY_ST_RUNNING:
    case REPLAY_ST_FAILED:
        if (x->cur < rk->nacts) {
            describe(&rk->acts[x->cur], what, sizeof what);
            snprintf(buf, len, "rank %d at %s:%d (%s)", r, rk->file,
                     (int)rk->acts[x->cur].line, what);
        } else {
            snprintf(buf, len, "rank %d (%s)", r, rk->file);
        }
        break;
    case REPLAY_ST_DRAINING:
        snprintf(buf, len,
                 "rank %d (its trace done, waiting for the "
                 "requests it left pending)",
                 r);
        break;
    case REPLAY_ST_CLOSING:
        snprintf(buf, len,
                 "rank %d (its trace done, closing msg: waits for "
                 "every rank to finish)",
                 r);
        break;
    default:
        snprintf(buf, len, "rank %d (finished)", r);
        break;
    }
}

/* Records the rank's error: "FILE:LINE: ACTION: what: msg's message". */
static int fail(struct rt *R, const struct replay_action *a, int rc,
                const char *what)
{
    char desc[160];
    describe(a, desc, sizeof desc);
    snprintf(R->res->error, sizeof R->res->error, "%s:%d: %s: %s%s%s",
             R->rk->file, (int)a->line, desc, what,
             R->mc && *msg_errmsg(R->mc) ? ": " : "",
             R->mc ? msg_errmsg(R->mc) : "");
    return rc ? rc : VS_EINVAL;
}

/* ---- Time ---- */

static hw_time_t now(const struct rt *R)
{
    return R->h->ops->now(R->h);
}

static int compute(struct rt *R, const struct replay_action *a, double secs)
{
    if (!(secs <= 9e6)) /* hw_time_t holds about 106 days */
        return fail(R, a, VS_EINVAL, "more than 9e6 s of computation");
    hw_time_t dt = (hw_time_t)llround(secs * 1e12), t0 = now(R);
    if (dt > 0)
        R->h->ops->compute(R->h, dt);
    R->comp += now(R) - t0;
    return 0;
}

static int flops(struct rt *R, const struct replay_action *a, double f)
{
    return f > 0 ? compute(R, a, f / R->speed) : 0;
}

/* ---- Memory ---- */

static void *zalloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

/* A zeroed data buffer starting on a page: where the replay's messages
 * start within a page (which the NIC's address translation sees) must not
 * depend on the heap's layout, or the same trace would take other times
 * when read in another form. */
static void *pages(const struct rt *R, size_t len)
{
    size_t pg = R->h->page_size ? R->h->page_size : 4096;
    size_t n = len ? (len + pg - 1) / pg * pg : pg;
    void *p = NULL;
    if (n < len || posix_memalign(&p, pg, n))
        return NULL;
    memset(p, 0, n);
    return p;
}

/* ---- Requests ---- */

/* A completed receive's status: an error for a truncated message. */
static int check_status(struct rt *R, const struct replay_action *a,
                        const struct msg_status *st, int rc)
{
    if (rc == VS_ERANGE || (!rc && st->error == VS_ERANGE)) {
        char what[160];
        snprintf(what, sizeof what,
                 "a message from rank %d is longer than "
                 "the receive's %lld bytes",
                 st->source, (long long)a->len);
        return fail(R, a, VS_ERANGE, what);
    }
    return rc ? fail(R, a, rc, vs_strerror(rc)) : 0;
}

/* The pool buffer of an irecv: a free one, a new one, or (past
 * RPOOL_BYTES) the first one, shared (*out = -1). */
static int take_buf(struct rt *R, int32_t *out)
{
    *out = -1;
    if (R->nfree) {
        *out = R->rfree[--R->nfree];
        return 0;
    }
    if (R->nrpool && (R->nrpool + 1) * R->rpool_len > RPOOL_BYTES)
        return 0;
    if (R->nrpool == R->rpool_cap) {
        size_t cap = R->rpool_cap ? 2 * R->rpool_cap : 8;
        unsigned char **p = realloc(R->rpool, cap * sizeof *p);
        int32_t *f = p ? realloc(R->rfree, cap * sizeof *f) : NULL;
        if (p)
            R->rpool = p;
        if (!f)
            return VS_ENOMEM;
        R->rfree = f;
        R->rpool_cap = cap;
    }
    if (!(R->rpool[R->nrpool] = pages(R, R->rpool_len)))
        return VS_ENOMEM;
    *out = (int32_t)R->nrpool++;
    return 0;
}

static void put_buf(struct rt *R, int32_t b)
{
    if (b >= 0)
        R->rfree[R->nfree++] = b;
}

/* Completes e: waits for its request unless done, gives back its
 * buffers.  Errors name the action that posted it and, if another, the
 * one that waited (w). */
static int finish(struct rt *R, struct rq e, const struct replay_action *w)
{
    int rc = 0;
    if (R->slots[e.slot]) {
        const struct replay_action *p = &R->rk->acts[R->slot_act[e.slot]];
        struct msg_status st = {0};
        rc = msg_wait(R->mc, &R->slots[e.slot], &st);
        if (rc || st.error) {
            rc = check_status(R, p, &st, rc);
            if (w && w != p) {
                size_t l = strlen(R->res->error);
                snprintf(R->res->error + l, sizeof R->res->error - l,
                         " (waited for at line %d)", (int)w->line);
            }
            return rc; /* the buffers may still be written: kept */
        }
    }
    free(R->owned[e.slot]);
    R->owned[e.slot] = NULL;
    put_buf(R, e.buf);
    return 0;
}

/* SimGrid's pop: the oldest request with the key leaves the storage;
 * -1 if there is none. */
static int pop(struct rt *R, const struct replay_action *a, struct rq *out)
{
    for (size_t i = 0; i < R->nq; i++)
        if (R->q[i].src == a->ksrc && R->q[i].dst == a->kdst &&
            R->q[i].tag == a->ktag) {
            *out = R->q[i];
            memmove(&R->q[i], &R->q[i + 1], (R->nq - i - 1) * sizeof *R->q);
            R->nq--;
            return 0;
        }
    return -1;
}

/* waitall, and the end of the trace: every request in the storage. */
static int finish_all(struct rt *R, const struct replay_action *w)
{
    int rc = 0;
    size_t i = 0;
    for (; i < R->nq && !rc; i++)
        rc = finish(R, R->q[i], w);
    R->nq = 0;
    return rc;
}

/* A test: the request goes back at the end of the storage, empty if it
 * completed; an empty one found here is dropped (SimGrid's TestAction). */
static int test(struct rt *R, const struct replay_action *a)
{
    struct rq e;
    int flag = 0;
    if (pop(R, a, &e))
        return 0;
    if (!R->slots[e.slot]) {
        put_buf(R, e.buf);
        return 0;
    }
    struct msg_status st = {0};
    int rc = msg_test(R->mc, &R->slots[e.slot], &flag, &st);
    if (rc || (flag && st.error))
        return check_status(R, &R->rk->acts[R->slot_act[e.slot]], &st, rc);
    if (flag) {
        free(R->owned[e.slot]);
        R->owned[e.slot] = NULL;
        put_buf(R, e.buf);
        e.buf = -1;
    }
    R->q[R->nq++] = e; /* room: it was just taken out */
    return 0;
}

/* ---- Point to point ---- */

/* A receive buffer of at least len bytes (grown for probed sizes). */
static unsigned char *rbuf(struct rt *R, size_t len)
{
    if (len > R->rlen) {
        unsigned char *p = pages(R, len);
        if (!p)
            return NULL;
        free(R->rbuf);
        R->rbuf = p;
        R->rlen = len;
    }
    return R->rbuf;
}

/* The size of a receive whose trace line did not say (SimGrid probes). */
static int probe_len(struct rt *R, const struct replay_action *a, size_t *len)
{
    if (a->len >= 0) {
        *len = (size_t)a->len;
        return 0;
    }
    struct msg_status st;
    int rc = msg_probe(R->mc, a->peer, a->tag, &st);
    if (rc)
        return fail(R, a, rc, "probing for its size");
    *len = st.count;
    return 0;
}

/* isend and irecv: the request joins the storage under its key. */
static int post(struct rt *R, const struct replay_action *a, size_t idx)
{
    struct rq e = {a->ksrc, a->kdst, a->ktag, a->slot, -1};
    msg_req **slot = &R->slots[a->slot];
    int rc;
    if (R->nq == R->qcap) {
        size_t cap = R->qcap ? 2 * R->qcap : 16;
        struct rq *q = realloc(R->q, cap * sizeof *q);
        if (!q)
            return fail(R, a, VS_ENOMEM, "out of memory");
        R->q = q;
        R->qcap = cap;
    }
    R->slot_act[a->slot] = idx;
    if (a->op == REPLAY_ISEND) {
        rc = msg_isend(R->mc, R->sbuf, (size_t)a->len, a->peer, a->tag, slot);
    } else {
        size_t len;
        unsigned char *buf;
        if ((rc = probe_len(R, a, &len)))
            return rc;
        if (len > R->rpool_len) {
            buf = R->owned[a->slot] = pages(R, len);
        } else if (take_buf(R, &e.buf) == 0) {
            buf = R->rpool[e.buf >= 0 ? e.buf : 0];
        } else {
            buf = NULL;
        }
        if (!buf)
            return fail(R, a, VS_ENOMEM, "out of memory");
        rc = msg_irecv(R->mc, buf, len, a->peer, a->tag, slot);
    }
    if (rc) {
        put_buf(R, e.buf);
        return fail(R, a, rc, "posting it");
    }
    R->q[R->nq++] = e;
    return 0;
}

static int p2p(struct rt *R, const struct replay_action *a, size_t idx)
{
    struct msg_status st = {0};
    struct rq e;
    size_t len;
    int rc;
    switch (a->op) {
    case REPLAY_SEND:
        rc = msg_send(R->mc, R->sbuf, (size_t)a->len, a->peer, a->tag);
        return rc ? fail(R, a, rc, "sending") : 0;
    case REPLAY_RECV:
        if ((rc = probe_len(R, a, &len)))
            return rc;
        if (!rbuf(R, len))
            return fail(R, a, VS_ENOMEM, "out of memory");
        rc = msg_recv(R->mc, R->rbuf, len, a->peer, a->tag, &st);
        return rc || st.error ? check_status(R, a, &st, rc) : 0;
    case REPLAY_ISEND:
    case REPLAY_IRECV:
        return post(R, a, idx);
    case REPLAY_SENDRECV:
        rc = msg_sendrecv(R->mc, R->sbuf, (size_t)a->len, a->peer, a->tag,
                          R->rbuf, (size_t)a->len2, a->peer2, a->tag, &st);
        if (rc == VS_ERANGE || st.error == VS_ERANGE) {
            struct replay_action r = *a;
            r.len = a->len2;
            return check_status(R, &r, &st, VS_ERANGE);
        }
        return rc ? fail(R, a, rc, "sendRecv") : 0;
    case REPLAY_WAIT:
        /* Nothing found: "the comm might have been caught by a test". */
        return pop(R, a, &e) ? 0 : finish(R, e, a);
    case REPLAY_WAITALL:
        return finish_all(R, a);
    default:
        return test(R, a);
    }
}

/* ---- The collectives msg lacks, from point-to-point messages ---- */

static int vtag(struct rt *R)
{
    return REPLAY_TAG_BASE + (int)(R->vseq++ & 0xffff);
}

static int64_t vec(const struct rt *R, const struct replay_action *a, int i)
{
    return R->rk->vec[a->vec + (uint32_t)i];
}

/* Linear: every rank sends its block to root, which receives them all at
 * once (its counts: what it expects from each). */
static int gatherv(struct rt *R, const struct replay_action *a, int root,
                   int64_t mine, int tag)
{
    if (R->me != root)
        return msg_send(R->mc, R->sbuf, (size_t)mine, root, tag);
    size_t off = 0;
    int rc = 0;
    for (int i = 0; i < R->n && !rc; i++) {
        size_t c = (size_t)vec(R, a, i);
        if (i != root)
            rc = msg_irecv(R->mc, R->rbuf + off, c, i, tag, &R->vreq[i]);
        off += c;
    }
    for (int i = 0; i < R->n; i++) {
        int w = msg_wait(R->mc, &R->vreq[i], NULL);
        rc = rc ? rc : w;
    }
    return rc;
}

/* Linear: root sends block i to rank i (counts: root's); the others
 * receive mine bytes. */
static int scatterv(struct rt *R, const struct replay_action *a, int root,
                    int64_t mine, int tag)
{
    if (R->me != root)
        return msg_recv(R->mc, R->rbuf, (size_t)mine, root, tag, NULL);
    size_t off = 0;
    int rc = 0;
    for (int i = 0; i < R->n && !rc; i++) {
        size_t c = (size_t)vec(R, a, i);
        if (i != root)
            rc = msg_isend(R->mc, R->sbuf + off, c, i, tag, &R->vreq[i]);
        off += c;
    }
    for (int i = 0; i < R->n; i++) {
        int w = msg_wait(R->mc, &R->vreq[i], NULL);
        rc = rc ? rc : w;
    }
    return rc;
}

/* scan and exscan: a chain, rank i - 1's partial result to rank i. */
static int scan(struct rt *R, const struct replay_action *a)
{
    int tag = vtag(R), rc = 0;
    if (R->me > 0)
        rc = msg_recv(R->mc, R->rbuf, (size_t)a->len, R->me - 1, tag, NULL);
    if (!rc && R->me < R->n - 1)
        rc = msg_send(R->mc, R->sbuf, (size_t)a->len, R->me + 1, tag);
    return rc;
}

static int vector_coll(struct rt *R, const struct replay_action *a)
{
    int n = R->n, rc;
    switch (a->op) {
    case REPLAY_GATHERV:
        return gatherv(R, a, a->root, a->len, vtag(R));
    case REPLAY_SCATTERV:
        return scatterv(R, a, a->root, a->len, vtag(R));
    case REPLAY_ALLGATHERV: {
        /* Gather to rank 0, then broadcast the whole. */
        int64_t total = 0;
        for (int i = 0; i < n; i++)
            total += vec(R, a, i);
        rc = gatherv(R, a, 0, a->len, vtag(R));
        return rc ? rc : msg_bcast(R->mc, R->rbuf, (size_t)total, 0);
    }
    case REPLAY_REDUCESCATTER:
        /* Reduce the whole to rank 0, which scatters the blocks. */
        rc = msg_reduce(R->mc, R->sbuf, R->rbuf, (size_t)a->len2,
                        (enum msg_dtype)a->dtype, MSG_SUM, 0);
        return rc ? rc : scatterv(R, a, 0, vec(R, a, R->me), vtag(R));
    case REPLAY_SCAN:
    case REPLAY_EXSCAN:
        return scan(R, a);
    default: { /* alltoallv, msg's own */
        size_t *sc = R->counts, *sd = sc + n, *rcn = sd + n, *rd = rcn + n;
        for (int i = 0; i < n; i++) {
            sc[i] = (size_t)vec(R, a, i);
            rcn[i] = (size_t)vec(R, a, n + i);
            sd[i] = i ? sd[i - 1] + sc[i - 1] : 0;
            rd[i] = i ? rd[i - 1] + rcn[i - 1] : 0;
        }
        return msg_alltoallv(R->mc, R->sbuf, sc, sd, R->rbuf, rcn, rd);
    }
    }
}

static int collective(struct rt *R, const struct replay_action *a)
{
    size_t len = (size_t)a->len;
    enum msg_dtype t = (enum msg_dtype)a->dtype;
    int rc;
    switch (a->op) {
    case REPLAY_BARRIER:
        rc = msg_barrier(R->mc);
        break;
    case REPLAY_BCAST:
        rc = msg_bcast(R->mc, R->rbuf, len, a->root);
        break;
    case REPLAY_REDUCE:
        rc = msg_reduce(R->mc, R->sbuf, R->rbuf, (size_t)a->len2, t, MSG_SUM,
                        a->root);
        break;
    case REPLAY_ALLREDUCE:
        rc =
            msg_allreduce(R->mc, R->sbuf, R->rbuf, (size_t)a->len2, t, MSG_SUM);
        break;
    case REPLAY_ALLTOALL:
        rc = msg_alltoall(R->mc, R->sbuf, len, R->rbuf);
        break;
    case REPLAY_GATHER:
        rc = msg_gather(R->mc, R->sbuf, len, R->rbuf, a->root);
        break;
    case REPLAY_SCATTER:
        rc = msg_scatter(R->mc, R->sbuf, len, R->rbuf, a->root);
        break;
    case REPLAY_ALLGATHER:
        rc = msg_allgather(R->mc, R->sbuf, len, R->rbuf);
        break;
    default:
        rc = vector_coll(R, a);
        break;
    }
    if (rc)
        return fail(R, a, rc, "the collective failed");
    /* SimGrid computes a reduction's comp_size after moving its data. */
    return flops(R, a, a->amount);
}

/* ---- The rank ---- */

static enum cat category(int op)
{
    switch (op) {
    case REPLAY_COMPUTE:
    case REPLAY_SLEEP:
        return CAT_COMPUTE;
    case REPLAY_WAIT:
    case REPLAY_WAITALL:
    case REPLAY_TEST:
        return CAT_WAIT;
    case REPLAY_SEND:
    case REPLAY_ISEND:
    case REPLAY_RECV:
    case REPLAY_IRECV:
    case REPLAY_SENDRECV:
        return CAT_COMM;
    default:
        return op >= REPLAY_BARRIER && op <= REPLAY_EXSCAN ? CAT_COMM
                                                           : CAT_NONE;
    }
}

static int run_action(struct rt *R, size_t idx)
{
    const struct replay_action *a = &R->rk->acts[idx];
    switch (category(a->op)) {
    case CAT_COMPUTE:
        return a->op == REPLAY_COMPUTE ? flops(R, a, a->amount)
                                       : compute(R, a, a->amount);
    case CAT_WAIT:
        return p2p(R, a, idx);
    case CAT_COMM:
        return a->op >= REPLAY_BARRIER ? collective(R, a) : p2p(R, a, idx);
    default:
        return 0; /* init, finalize, comm_*, location */
    }
}

static int setup(struct rt *R)
{
    const struct replay_rank *rk = R->rk;
    R->slen = rk->max_send > 0 ? (size_t)rk->max_send : 1;
    R->rlen = rk->max_recv > 0 ? (size_t)rk->max_recv : 1;
    R->rpool_len = rk->max_irecv > 0 ? (size_t)rk->max_irecv : 1;
    R->sbuf = pages(R, R->slen);
    R->rbuf = pages(R, R->rlen);
    R->slots = zalloc(rk->nslots, sizeof *R->slots);
    R->slot_act = zalloc(rk->nslots, sizeof *R->slot_act);
    R->owned = zalloc(rk->nslots, sizeof *R->owned);
    R->vreq = zalloc((size_t)R->n, sizeof *R->vreq);
    R->counts = zalloc(4 * (size_t)R->n, sizeof *R->counts);
    int ok = R->sbuf && R->rbuf && R->slots && R->slot_act && R->owned &&
             R->vreq && R->counts;
    return ok ? 0 : VS_ENOMEM;
}

static void teardown(struct rt *R)
{
    for (size_t i = 0; R->rpool && i < R->nrpool; i++)
        free(R->rpool[i]);
    for (size_t i = 0; R->owned && i < R->rk->nslots; i++)
        free(R->owned[i]);
    free(R->rpool);
    free(R->sbuf);
    free(R->rbuf);
    free(R->slots);
    free(R->slot_act);
    free(R->owned);
    free(R->q);
    free(R->rfree);
    free(R->vreq);
    free(R->counts);
}

static void setup_fail(struct rt *R, const char *what, int rc)
{
    snprintf(R->res->error, sizeof R->res->error, "rank %d (%s): %s: %s%s%s",
             R->me, R->rk->file, what, vs_strerror(rc),
             R->mc && *msg_errmsg(R->mc) ? ": " : "",
             R->mc ? msg_errmsg(R->mc) : "");
    R->res->state = REPLAY_ST_FAILED;
}

void replay_node_main(hw_host *h, struct replay_exec *x)
{
    const struct replay_trace *t = x->trace;
    if (h->node >= t->nranks)
        return;
    struct rt R = {.h = h,
                   .t = t,
                   .me = h->node,
                   .n = t->nranks,
                   .rk = &t->ranks[h->node],
                   .res = &x->res[h->node]};
    struct replay_rank_result *res = R.res;
    vmmc_ctx *vc = NULL;
    R.speed = x->host_speed(x->speed_arg, R.me);
    if (!(R.speed > 0) || !isfinite(R.speed)) {
        setup_fail(&R,
                   "the host's speed is not a positive number of flops "
                   "per second",
                   VS_ECONFIG);
        return;
    }
    int rc = setup(&R);
    if (rc) {
        teardown(&R);
        setup_fail(&R, "allocating the buffers", rc);
        return;
    }
    struct msg_params p;
    msg_params_default(&p);
    p.nranks = t->nranks;
    if ((rc = vmmc_open(&vc, h))) {
        teardown(&R);
        setup_fail(&R, "vmmc_open", rc);
        return;
    }
    if ((rc = msg_init(vc, &p, &R.mc))) {
        vmmc_close(vc);
        teardown(&R);
        setup_fail(&R, "msg_init", rc);
        return;
    }
    if ((rc = msg_barrier(R.mc))) {
        setup_fail(&R, "the barrier before the trace", rc);
        return;
    }
    res->start = now(&R);
    res->state = REPLAY_ST_RUNNING;
    for (size_t i = 0; i < R.rk->nacts; i++) {
        const struct replay_action *a = &R.rk->acts[i];
        res->cur = i;
        R.comp = 0;
        hw_time_t t0 = now(&R);
        rc = run_action(&R, i);
        hw_time_t dt = now(&R) - t0;
        switch (category(a->op)) {
        case CAT_WAIT:
            res->wait += dt;
            break;
        case CAT_NONE: /* init, finalize, ...: no time passes */
        case CAT_COMPUTE:
            res->compute += dt;
            break;
        default:
            res->comm += dt - R.comp;
            res->compute += R.comp;
            break;
        }
        if (rc) {
            /* The NIC may still write into the buffers (a pending
             * receive) or read them: they stay allocated, and msg stays
             * open, for the rest of this failed run. */
            res->state = REPLAY_ST_FAILED;
            return;
        }
        res->done++;
    }
    res->state = REPLAY_ST_DRAINING;
    hw_time_t t0 = now(&R);
    rc = finish_all(&R, NULL);
    res->wait += now(&R) - t0;
    if (rc) {
        res->state = REPLAY_ST_FAILED;
        return;
    }
    res->end = now(&R);
    msg_get_stats(R.mc, &res->msg);
    res->state = REPLAY_ST_CLOSING;
    rc = msg_finalize(R.mc);
    R.mc = NULL;
    if (!rc)
        rc = vmmc_close(vc);
    if (rc) {
        setup_fail(&R, "closing msg and VMMC", rc);
        return;
    }
    teardown(&R);
    res->state = REPLAY_ST_DONE;
}
