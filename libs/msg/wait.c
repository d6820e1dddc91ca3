/*
 * The public point-to-point calls of libs/msg: argument checks, then
 * posting (p2p.c), and completion: wait, test, waitall, waitany, testall,
 * the blocking forms, and probe.  Every call that can block runs the
 * progress engine and sleeps in simulated time (transport.c) until what
 * it waits for has happened.
 */
#include <stdlib.h>

#include "libs/msg/msg_int.h"

static const struct msg_status empty_status = {MSG_ANY_SOURCE, MSG_ANY_TAG, 0,
                                               0};

/* ---- Checks ---- */

static int check_buf(msg_ctx *c, const char *call, const void *buf, size_t len)
{
    if (len > MSG_MAX_LEN)
        return msg__fail(c, VS_EINVAL,
                         "%s: length %zu is above MSG_MAX_LEN "
                         "(a negative count?)",
                         call, len);
    if (len && !buf)
        return msg__fail(c, VS_EINVAL, "%s: NULL buffer for %zu bytes", call,
                         len);
    return VS_OK;
}

static int check_rank(msg_ctx *c, const char *call, const char *what, int rank,
                      int any_ok)
{
    if ((rank >= 0 && rank < c->size) || (any_ok && rank == MSG_ANY_SOURCE))
        return VS_OK;
    return msg__fail(c, VS_EINVAL, "%s: %s %d is not a rank (0..%d)%s", call,
                     what, rank, c->size - 1,
                     any_ok ? " or MSG_ANY_SOURCE" : "");
}

static int check_tag(msg_ctx *c, const char *call, int tag, int any_ok)
{
    if ((tag >= 0 && tag <= MSG_TAG_MAX) || (any_ok && tag == MSG_ANY_TAG))
        return VS_OK;
    return msg__fail(c, VS_EINVAL, "%s: tag %d is not in 0..%d%s", call, tag,
                     MSG_TAG_MAX, any_ok ? " or MSG_ANY_TAG" : "");
}

/* The checks of a user send or receive, naming call; then posts it. */
static int user_send(msg_ctx *ctx, const char *call, const void *buf,
                     size_t len, int dst, int tag, msg_req **req)
{
    if (!ctx || !req)
        return VS_EINVAL;
    *req = NULL;
    int rc;
    if ((rc = check_buf(ctx, call, buf, len)) ||
        (rc = check_rank(ctx, call, "destination", dst, 0)) ||
        (rc = check_tag(ctx, call, tag, 0)))
        return rc;
    if (ctx->err)
        return ctx->err;
    return msg__isend(ctx, buf, len, dst, tag, MSG__CTX_USER, req);
}

static int user_recv(msg_ctx *ctx, const char *call, void *buf, size_t cap,
                     int src, int tag, msg_req **req)
{
    if (!ctx || !req)
        return VS_EINVAL;
    *req = NULL;
    int rc;
    if ((rc = check_buf(ctx, call, buf, cap)) ||
        (rc = check_rank(ctx, call, "source", src, 1)) ||
        (rc = check_tag(ctx, call, tag, 1)))
        return rc;
    if (ctx->err)
        return ctx->err;
    return msg__irecv(ctx, buf, cap, src, tag, MSG__CTX_USER, req);
}

int msg_isend(msg_ctx *ctx, const void *buf, size_t len, int dst, int tag,
              msg_req **req)
{
    return user_send(ctx, "msg_isend", buf, len, dst, tag, req);
}

int msg_irecv(msg_ctx *ctx, void *buf, size_t cap, int src, int tag,
              msg_req **req)
{
    return user_recv(ctx, "msg_irecv", buf, cap, src, tag, req);
}

/* ---- Completion ---- */

static int req_done(msg_ctx *c, void *arg)
{
    (void)c;
    return ((msg_req *)arg)->state == MSG__DONE;
}

/* Hands back a completed request's outcome and frees it. */
static int finish(msg_ctx *c, msg_req **req, struct msg_status *st)
{
    msg_req *r = *req;
    int err = r->st.error;
    if (st)
        *st = r->st;
    msg__req_free(c, r);
    *req = NULL;
    return err;
}

int msg_wait(msg_ctx *ctx, msg_req **req, struct msg_status *st)
{
    if (!ctx || !req)
        return VS_EINVAL;
    if (!*req) {
        if (st)
            *st = empty_status;
        return VS_OK;
    }
    if ((*req)->state != MSG__DONE) {
        int rc = msg__wait(ctx, req_done, *req);
        if (rc)
            return rc;
    }
    return finish(ctx, req, st);
}

int msg_test(msg_ctx *ctx, msg_req **req, int *flag, struct msg_status *st)
{
    if (!ctx || !req || !flag)
        return VS_EINVAL;
    *flag = 0;
    if (!*req) {
        *flag = 1;
        if (st)
            *st = empty_status;
        return VS_OK;
    }
    /* A test costs host time, so a loop of tests lets simulated time (and
     * the network) move on. */
    msg__charge_op(ctx);
    int rc = msg__progress(ctx);
    if (rc < 0)
        return rc;
    if ((*req)->state != MSG__DONE)
        return VS_OK;
    *flag = 1;
    return finish(ctx, req, st);
}

struct reqs {
    size_t n;
    msg_req **r;
};

static int all_done(msg_ctx *c, void *arg)
{
    (void)c;
    const struct reqs *q = arg;
    for (size_t i = 0; i < q->n; i++)
        if (q->r[i] && q->r[i]->state != MSG__DONE)
            return 0;
    return 1;
}

static int any_done(msg_ctx *c, void *arg)
{
    (void)c;
    const struct reqs *q = arg;
    int live = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (q->r[i] && q->r[i]->state == MSG__DONE)
            return 1;
        live |= q->r[i] != NULL;
    }
    return !live;
}

static int finish_all(msg_ctx *c, size_t n, msg_req **reqs,
                      struct msg_status *sts)
{
    int first = VS_OK;
    for (size_t i = 0; i < n; i++) {
        struct msg_status *st = sts ? &sts[i] : NULL;
        if (!reqs[i]) {
            if (st)
                *st = empty_status;
            continue;
        }
        int err = finish(c, &reqs[i], st);
        if (err && !first)
            first = err;
    }
    return first;
}

int msg__waitall(msg_ctx *c, size_t n, msg_req **reqs, struct msg_status *sts)
{
    struct reqs q = {n, reqs};
    int rc = msg__wait(c, all_done, &q);
    return rc ? rc : finish_all(c, n, reqs, sts);
}

int msg_waitall(msg_ctx *ctx, size_t n, msg_req **reqs, struct msg_status *sts)
{
    if (!ctx || (n && !reqs))
        return VS_EINVAL;
    return msg__waitall(ctx, n, reqs, sts);
}

int msg_testall(msg_ctx *ctx, size_t n, msg_req **reqs, int *flag,
                struct msg_status *sts)
{
    if (!ctx || !flag || (n && !reqs))
        return VS_EINVAL;
    *flag = 0;
    msg__charge_op(ctx);
    int rc = msg__progress(ctx);
    if (rc < 0)
        return rc;
    struct reqs q = {n, reqs};
    if (!all_done(ctx, &q))
        return VS_OK;
    *flag = 1;
    return finish_all(ctx, n, reqs, sts);
}

int msg_waitany(msg_ctx *ctx, size_t n, msg_req **reqs, size_t *index,
                struct msg_status *st)
{
    if (!ctx || !index || (n && !reqs))
        return VS_EINVAL;
    struct reqs q = {n, reqs};
    int rc = msg__wait(ctx, any_done, &q);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (reqs[i] && reqs[i]->state == MSG__DONE) {
            *index = i;
            return finish(ctx, &reqs[i], st);
        }
    *index = n;
    if (st)
        *st = empty_status;
    return VS_OK;
}

/* ---- Blocking forms ---- */

int msg_send(msg_ctx *ctx, const void *buf, size_t len, int dst, int tag)
{
    msg_req *r;
    int rc = user_send(ctx, "msg_send", buf, len, dst, tag, &r);
    return rc ? rc : msg_wait(ctx, &r, NULL);
}

int msg_recv(msg_ctx *ctx, void *buf, size_t cap, int src, int tag,
             struct msg_status *st)
{
    msg_req *r;
    int rc = user_recv(ctx, "msg_recv", buf, cap, src, tag, &r);
    return rc ? rc : msg_wait(ctx, &r, st);
}

int msg_sendrecv(msg_ctx *ctx, const void *sbuf, size_t slen, int dst, int stag,
                 void *rbuf, size_t rcap, int src, int rtag,
                 struct msg_status *st)
{
    if (!ctx)
        return VS_EINVAL;
    msg_req *r[2] = {NULL, NULL};
    struct msg_status sts[2];
    /* Every argument is checked before anything is posted: a receive
     * left posted by a failed call could never be completed. */
    int rc;
    if ((rc = check_buf(ctx, "msg_sendrecv", sbuf, slen)) ||
        (rc = check_rank(ctx, "msg_sendrecv", "destination", dst, 0)) ||
        (rc = check_tag(ctx, "msg_sendrecv", stag, 0)) ||
        (rc = check_buf(ctx, "msg_sendrecv", rbuf, rcap)) ||
        (rc = check_rank(ctx, "msg_sendrecv", "source", src, 1)) ||
        (rc = check_tag(ctx, "msg_sendrecv", rtag, 1)))
        return rc;
    if ((rc = msg_irecv(ctx, rbuf, rcap, src, rtag, &r[0])) ||
        (rc = msg_isend(ctx, sbuf, slen, dst, stag, &r[1])))
        return rc; /* only a broken transport: finalize frees the rest */
    rc = msg_waitall(ctx, 2, r, sts);
    if (st)
        *st = sts[0];
    return rc;
}

/* ---- Probe ---- */

struct probe {
    int src, tag;
};

static int probe_found(msg_ctx *c, void *arg)
{
    const struct probe *pr = arg;
    return msg__find_unexp(c, pr->src, pr->tag, MSG__CTX_USER, 0) != NULL;
}

static void probe_status(msg_ctx *c, const struct probe *pr,
                         struct msg_status *st)
{
    const struct msg__unexp *u =
        msg__find_unexp(c, pr->src, pr->tag, MSG__CTX_USER, 0);
    if (st)
        *st = (struct msg_status){u->src, u->tag, u->len, 0};
}

int msg_iprobe(msg_ctx *ctx, int src, int tag, int *flag, struct msg_status *st)
{
    if (!ctx || !flag)
        return VS_EINVAL;
    *flag = 0;
    int rc;
    if ((rc = check_rank(ctx, "msg_iprobe", "source", src, 1)) ||
        (rc = check_tag(ctx, "msg_iprobe", tag, 1)))
        return rc;
    msg__charge_op(ctx);
    if ((rc = msg__progress(ctx)) < 0)
        return rc;
    struct probe pr = {src, tag};
    if (probe_found(ctx, &pr)) {
        *flag = 1;
        probe_status(ctx, &pr, st);
    }
    return VS_OK;
}

int msg_probe(msg_ctx *ctx, int src, int tag, struct msg_status *st)
{
    if (!ctx)
        return VS_EINVAL;
    int rc;
    if ((rc = check_rank(ctx, "msg_probe", "source", src, 1)) ||
        (rc = check_tag(ctx, "msg_probe", tag, 1)))
        return rc;
    struct probe pr = {src, tag};
    if ((rc = msg__wait(ctx, probe_found, &pr)))
        return rc;
    probe_status(ctx, &pr, st);
    return VS_OK;
}
