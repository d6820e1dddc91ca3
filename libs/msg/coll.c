/*
 * Collectives of libs/msg, built from point-to-point messages on the
 * collective context (they never match user receives).  Each call takes
 * the next collective sequence number as its tag, so a fast rank's
 * messages for the next collective wait, unexpected, until the slow rank
 * gets there.  All take O(log size) message steps, except alltoall(v)
 * (size - 1 pairwise exchanges, the least any algorithm moving size - 1
 * distinct blocks per rank can do without combining them).
 *
 * Trees are binomial over the "relative rank" vr = (rank - root) mod size:
 * vr's parent is vr with its lowest set bit cleared, its children are
 * vr + 2^k for every 2^k below that bit, and vr's subtree covers relative
 * ranks [vr, vr + min(lowbit(vr), size - vr)).
 *
 * Staging buffers, which large steps send from or land in by VMMC, come
 * from the deterministic heap (util/dheap.h): their place within a page,
 * which the transfers' cost depends on, is the same in every run.
 */
#include <stdlib.h>
#include <string.h>

#include "libs/msg/msg_int.h"
#include "util/dheap.h"

#define NONE (-2) /* no send or no receive in a step */

static int coll_tag(msg_ctx *c)
{
    return (int)(c->coll_seq++ & (uint32_t)MSG_TAG_MAX);
}

/* One step: receive from src (unless NONE) while sending to dst (unless
 * NONE); both are posted before either is waited for. */
static int step(msg_ctx *c, const void *sbuf, size_t slen, int dst, void *rbuf,
                size_t rlen, int src, int tag)
{
    msg_req *r[2] = {NULL, NULL};
    int rc = VS_OK;
    if (src != NONE)
        rc = msg__irecv(c, rbuf, rlen, src, tag, MSG__CTX_COLL, &r[0]);
    if (!rc && dst != NONE)
        rc = msg__isend(c, sbuf, slen, dst, tag, MSG__CTX_COLL, &r[1]);
    if (rc)
        return rc;
    struct msg_status st[2];
    rc = msg__waitall(c, 2, r, st);
    if (!rc && src != NONE && st[0].count != rlen)
        rc = msg__fail(c, VS_EINVAL,
                       "msg: a collective's ranks disagree on "
                       "sizes (%zu bytes from rank %d, %zu "
                       "expected)",
                       st[0].count, src, rlen);
    return rc;
}

static void copy(msg_ctx *c, void *dst, const void *src, size_t n)
{
    if (n && dst != src) {
        memmove(dst, src, n);
        msg__charge_copy(c, n);
    }
}

static size_t lowbit(int v)
{
    return (size_t)v & (size_t) - (unsigned)v;
}

/* Relative rank -> rank. */
static int abs_rank(const msg_ctx *c, int vr, int root)
{
    return (vr + root) % c->size;
}

/* Blocks in vr's subtree. */
static size_t subtree(const msg_ctx *c, int vr)
{
    if (!vr)
        return (size_t)c->size;
    size_t lb = lowbit(vr), left = (size_t)(c->size - vr);
    return lb < left ? lb : left;
}

/* The largest power of two below size (0 for one rank). */
static int top_mask(const msg_ctx *c)
{
    int m = 1;
    while (m < c->size)
        m <<= 1;
    return m >> 1;
}

static int check(msg_ctx *c, const char *call, int root, size_t len)
{
    if (!c)
        return VS_EINVAL;
    if (c->err)
        return c->err;
    if (root != NONE && (root < 0 || root >= c->size))
        return msg__fail(c, VS_EINVAL, "%s: root %d is not a rank (0..%d)",
                         call, root, c->size - 1);
    if (len > MSG_MAX_LEN)
        return msg__fail(c, VS_EINVAL,
                         "%s: %zu bytes is above MSG_MAX_LEN "
                         "(a negative count?)",
                         call, len);
    return VS_OK;
}

static int need_buf(msg_ctx *c, const char *call, const char *what,
                    const void *buf, size_t len)
{
    if (len && !buf)
        return msg__fail(c, VS_EINVAL, "%s: %s is NULL for %zu bytes", call,
                         what, len);
    return VS_OK;
}

/* ---- Barrier ---- */

int msg_barrier(msg_ctx *ctx)
{
    int rc = check(ctx, "msg_barrier", NONE, 0);
    if (rc)
        return rc;
    msg__charge_op(ctx);
    int tag = coll_tag(ctx), n = ctx->size, r = ctx->rank;
    /* Dissemination: after round k every rank has heard, directly or
     * not, from the 2^(k+1) - 1 ranks before it; any size works. */
    for (int d = 1; d < n && !rc; d <<= 1)
        rc = step(ctx, NULL, 0, (r + d) % n, NULL, 0, (r - d + n) % n, tag);
    return rc;
}

/* ---- Broadcast ---- */

int msg_bcast(msg_ctx *ctx, void *buf, size_t len, int root)
{
    int rc = check(ctx, "msg_bcast", root, len);
    if (!rc)
        rc = need_buf(ctx, "msg_bcast", "buf", buf, len);
    if (rc)
        return rc;
    msg__charge_op(ctx);
    int tag = coll_tag(ctx), n = ctx->size;
    int vr = (ctx->rank - root + n) % n;
    if (vr) {
        int parent = vr - (int)lowbit(vr);
        if ((rc = step(ctx, NULL, 0, NONE, buf, len,
                       abs_rank(ctx, parent, root), tag)))
            return rc;
    }
    /* Children, largest subtree first: it has the longest way to go. */
    int m = vr ? (int)lowbit(vr) >> 1 : top_mask(ctx);
    msg_req *reqs[32] = {NULL};
    size_t nr = 0;
    for (; m > 0 && !rc; m >>= 1)
        if (vr + m < n)
            rc = msg__isend(ctx, buf, len, abs_rank(ctx, vr + m, root), tag,
                            MSG__CTX_COLL, &reqs[nr++]);
    int rc2 = msg__waitall(ctx, nr, reqs, NULL);
    return rc ? rc : rc2;
}

/* ---- Reduce and allreduce ---- */

static int check_red(msg_ctx *c, const char *call, const void *sbuf, void *rbuf,
                     size_t count, enum msg_dtype t, enum msg_op op, int root,
                     int rbuf_here, size_t *bytes)
{
    int rc = check(c, call, root, 0);
    if (rc)
        return rc;
    if (msg__check_op(t, op))
        return msg__fail(c, VS_EINVAL,
                         "%s: operator %d does not apply to "
                         "datatype %d",
                         call, (int)op, (int)t);
    size_t es = msg_dtype_size(t);
    if (count > MSG_MAX_LEN / es)
        return msg__fail(c, VS_EINVAL,
                         "%s: %zu elements is above "
                         "MSG_MAX_LEN bytes (a negative "
                         "count?)",
                         call, count);
    *bytes = count * es;
    if ((rc = need_buf(c, call, "sbuf", sbuf, *bytes)))
        return rc;
    return rbuf_here ? need_buf(c, call, "rbuf", rbuf, *bytes) : VS_OK;
}

int msg_reduce(msg_ctx *ctx, const void *sbuf, void *rbuf, size_t count,
               enum msg_dtype t, enum msg_op op, int root)
{
    size_t bytes = 0;
    int rc = check_red(ctx, "msg_reduce", sbuf, rbuf, count, t, op, root,
                       ctx && ctx->rank == root, &bytes);
    if (rc)
        return rc;
    msg__charge_op(ctx);
    int tag = coll_tag(ctx), n = ctx->size;
    int vr = (ctx->rank - root + n) % n;
    if (!bytes)
        return VS_OK;
    if (vr & 1) /* a leaf: its own data goes up as it is */
        return step(ctx, sbuf, bytes, abs_rank(ctx, vr - 1, root), NULL, 0,
                    NONE, tag);
    /* acc holds the combination of relative ranks [vr, vr + m) so far;
     * a child's data (the ranks after) is always the right operand. */
    unsigned char *acc = vr ? vs_dheap_alloc(bytes) : rbuf;
    unsigned char *tmp = vs_dheap_alloc(bytes);
    if (!acc || !tmp) {
        rc = msg__fail(ctx, VS_ENOMEM, "msg_reduce: %zu bytes", bytes);
        goto out;
    }
    copy(ctx, acc, sbuf, bytes);
    for (int m = 1; m < n && !rc; m <<= 1) {
        if (vr & m) {
            rc = step(ctx, acc, bytes, abs_rank(ctx, vr - m, root), NULL, 0,
                      NONE, tag);
            break;
        }
        if (vr + m >= n)
            continue;
        rc = step(ctx, NULL, 0, NONE, tmp, bytes, abs_rank(ctx, vr + m, root),
                  tag);
        if (!rc) {
            msg__reduce(acc, tmp, count, t, op, 0);
            msg__charge_copy(ctx, bytes);
        }
    }
out:
    if (acc != rbuf)
        vs_dheap_free(acc);
    vs_dheap_free(tmp);
    return rc;
}

/* Combines tmp (from rank peer) into acc, the lower rank's data first, so
 * that both partners of a step compute the same bits. */
static void combine(msg_ctx *c, void *acc, const void *tmp, size_t count,
                    enum msg_dtype t, enum msg_op op, int peer)
{
    msg__reduce(acc, tmp, count, t, op, peer < c->rank);
    msg__charge_copy(c, count * msg_dtype_size(t));
}

int msg_allreduce(msg_ctx *ctx, const void *sbuf, void *rbuf, size_t count,
                  enum msg_dtype t, enum msg_op op)
{
    size_t bytes = 0;
    int rc = check_red(ctx, "msg_allreduce", sbuf, rbuf, count, t, op, NONE, 1,
                       &bytes);
    if (rc)
        return rc;
    msg__charge_op(ctx);
    int tag = coll_tag(ctx), n = ctx->size, r = ctx->rank;
    if (!bytes)
        return VS_OK;
    copy(ctx, rbuf, sbuf, bytes);
    if (n == 1)
        return VS_OK;
    unsigned char *tmp = vs_dheap_alloc(bytes);
    if (!tmp)
        return msg__fail(ctx, VS_ENOMEM, "msg_allreduce: %zu bytes", bytes);
    /* Recursive doubling runs on a power of two, pof2, of the ranks.  With
     * rem = size - pof2 extra ranks, the first 2 * rem ranks pair up: each
     * even one hands its data to the odd one after it and sits out, and
     * gets the result back at the end. */
    int pof2 = 1;
    while (pof2 * 2 <= n)
        pof2 *= 2;
    int rem = n - pof2, nr;
    if (r < 2 * rem && !(r & 1)) {
        rc = step(ctx, rbuf, bytes, r + 1, NULL, 0, NONE, tag);
        nr = -1;
    } else if (r < 2 * rem) {
        rc = step(ctx, NULL, 0, NONE, tmp, bytes, r - 1, tag);
        if (!rc)
            combine(ctx, rbuf, tmp, count, t, op, r - 1);
        nr = r / 2;
    } else {
        nr = r - rem;
    }
    for (int m = 1; nr >= 0 && m < pof2 && !rc; m <<= 1) {
        int pn = nr ^ m;
        int peer = pn < rem ? pn * 2 + 1 : pn + rem;
        rc = step(ctx, rbuf, bytes, peer, tmp, bytes, peer, tag);
        if (!rc)
            combine(ctx, rbuf, tmp, count, t, op, peer);
    }
    if (!rc && r < 2 * rem)
        rc = r & 1 ? step(ctx, rbuf, bytes, r - 1, NULL, 0, NONE, tag)
                   : step(ctx, NULL, 0, NONE, rbuf, bytes, r + 1, tag);
    vs_dheap_free(tmp);
    return rc;
}

/* ---- Gather and scatter ---- */

int msg_gather(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf, int root)
{
    int rc = check(ctx, "msg_gather", root, len);
    if (!rc && len > MSG_MAX_LEN / (size_t)ctx->size)
        rc = msg__fail(ctx, VS_EINVAL,
                       "msg_gather: %zu-byte blocks are too "
                       "large",
                       len);
    if (!rc)
        rc = need_buf(ctx, "msg_gather", "sbuf", sbuf, len);
    if (!rc && ctx->rank == root)
        rc = need_buf(ctx, "msg_gather", "rbuf", rbuf, len);
    if (rc)
        return rc;
    msg__charge_op(ctx);
    int tag = coll_tag(ctx), n = ctx->size;
    int vr = (ctx->rank - root + n) % n;
    if (!len)
        return VS_OK;
    size_t sub = subtree(ctx, vr);
    if (sub == 1 && vr) /* a leaf */
        return step(ctx, sbuf, len, abs_rank(ctx, vr - (int)lowbit(vr), root),
                    NULL, 0, NONE, tag);
    /* tmp holds the blocks of relative ranks [vr, vr + sub) in order; at
     * root 0 that is rbuf itself. */
    unsigned char *tmp = !vr && !root ? rbuf : vs_dheap_alloc(sub * len);
    if (!tmp)
        return msg__fail(ctx, VS_ENOMEM, "msg_gather: %zu bytes", sub * len);
    copy(ctx, tmp, sbuf, len);
    for (int m = 1; m < n && !rc; m <<= 1) {
        if (vr & m) {
            rc = step(ctx, tmp, sub * len, abs_rank(ctx, vr - m, root), NULL, 0,
                      NONE, tag);
            break;
        }
        if (vr + m < n) {
            size_t cnt = subtree(ctx, vr + m);
            rc = step(ctx, NULL, 0, NONE, tmp + (size_t)m * len, cnt * len,
                      abs_rank(ctx, vr + m, root), tag);
        }
    }
    if (!rc && !vr && root) /* relative order -> rank order */
        for (int i = 0; i < n; i++)
            copy(ctx,
                 (unsigned char *)rbuf + (size_t)abs_rank(ctx, i, root) * len,
                 tmp + (size_t)i * len, len);
    if (tmp != rbuf)
        vs_dheap_free(tmp);
    return rc;
}

int msg_scatter(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf,
                int root)
{
    int rc = check(ctx, "msg_scatter", root, len);
    if (!rc && len > MSG_MAX_LEN / (size_t)ctx->size)
        rc = msg__fail(ctx, VS_EINVAL,
                       "msg_scatter: %zu-byte blocks are "
                       "too large",
                       len);
    if (!rc)
        rc = need_buf(ctx, "msg_scatter", "rbuf", rbuf, len);
    if (!rc && ctx->rank == root)
        rc = need_buf(ctx, "msg_scatter", "sbuf", sbuf, len);
    if (rc)
        return rc;
    msg__charge_op(ctx);
    int tag = coll_tag(ctx), n = ctx->size;
    int vr = (ctx->rank - root + n) % n;
    if (!len)
        return VS_OK;
    size_t sub = subtree(ctx, vr);
    /* tmp holds the blocks of relative ranks [vr, vr + sub). */
    const unsigned char *tmp = NULL;
    unsigned char *own = NULL;
    if (!vr && !root) {
        tmp = sbuf;
    } else if (sub == 1) {
        tmp = rbuf; /* a leaf receives straight into place */
    } else if (!(own = vs_dheap_alloc(sub * len))) {
        return msg__fail(ctx, VS_ENOMEM, "msg_scatter: %zu bytes", sub * len);
    } else {
        tmp = own;
    }
    if (!vr && root) /* rank order -> relative order */
        for (int i = 0; i < n; i++)
            copy(ctx, own + (size_t)i * len,
                 (const unsigned char *)sbuf +
                     (size_t)abs_rank(ctx, i, root) * len,
                 len);
    if (vr)
        rc = step(ctx, NULL, 0, NONE, (void *)tmp, sub * len,
                  abs_rank(ctx, vr - (int)lowbit(vr), root), tag);
    msg_req *reqs[32] = {NULL};
    size_t nr = 0;
    for (int m = vr ? (int)lowbit(vr) >> 1 : top_mask(ctx); m > 0 && !rc;
         m >>= 1)
        if (vr + m < n)
            rc = msg__isend(
                ctx, tmp + (size_t)m * len, subtree(ctx, vr + m) * len,
                abs_rank(ctx, vr + m, root), tag, MSG__CTX_COLL, &reqs[nr++]);
    int rc2 = msg__waitall(ctx, nr, reqs, NULL);
    rc = rc ? rc : rc2;
    if (!rc)
        copy(ctx, rbuf, tmp, len);
    vs_dheap_free(own);
    return rc;
}

/* ---- Allgather ---- */

int msg_allgather(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf)
{
    int rc = check(ctx, "msg_allgather", NONE, len);
    if (!rc && len > MSG_MAX_LEN / (size_t)ctx->size)
        rc = msg__fail(ctx, VS_EINVAL,
                       "msg_allgather: %zu-byte blocks are "
                       "too large",
                       len);
    if (!rc)
        rc = need_buf(ctx, "msg_allgather", "sbuf", sbuf, len);
    if (!rc)
        rc = need_buf(ctx, "msg_allgather", "rbuf", rbuf, len);
    if (rc)
        return rc;
    msg__charge_op(ctx);
    int tag = coll_tag(ctx), n = ctx->size, r = ctx->rank;
    if (!len)
        return VS_OK;
    /* Bruck: after the step at distance d, tmp holds the blocks of ranks
     * r .. r + 2d - 1 (mod size), in that order. */
    unsigned char *tmp = vs_dheap_alloc((size_t)n * len);
    if (!tmp)
        return msg__fail(ctx, VS_ENOMEM, "msg_allgather: %zu bytes",
                         (size_t)n * len);
    copy(ctx, tmp, sbuf, len);
    for (int d = 1; d < n && !rc; d <<= 1) {
        size_t cnt = (size_t)(d < n - d ? d : n - d);
        rc = step(ctx, tmp, cnt * len, (r - d + n) % n, tmp + (size_t)d * len,
                  cnt * len, (r + d) % n, tag);
    }
    for (int i = 0; i < n && !rc; i++)
        copy(ctx, (unsigned char *)rbuf + (size_t)((r + i) % n) * len,
             tmp + (size_t)i * len, len);
    vs_dheap_free(tmp);
    return rc;
}

/* ---- Alltoall ---- */

int msg_alltoallv(msg_ctx *ctx, const void *sbuf, const size_t *scounts,
                  const size_t *sdispls, void *rbuf, const size_t *rcounts,
                  const size_t *rdispls)
{
    int rc = check(ctx, "msg_alltoallv", NONE, 0);
    if (rc)
        return rc;
    if (!scounts || !sdispls || !rcounts || !rdispls)
        return msg__fail(ctx, VS_EINVAL,
                         "msg_alltoallv: NULL count or "
                         "displacement array");
    int n = ctx->size, r = ctx->rank;
    for (int i = 0; i < n; i++) {
        if (scounts[i] > MSG_MAX_LEN || rcounts[i] > MSG_MAX_LEN)
            return msg__fail(ctx, VS_EINVAL,
                             "msg_alltoallv: count for rank "
                             "%d is above MSG_MAX_LEN (a "
                             "negative count?)",
                             i);
        if ((scounts[i] && !sbuf) || (rcounts[i] && !rbuf))
            return msg__fail(ctx, VS_EINVAL, "msg_alltoallv: NULL buffer");
    }
    msg__charge_op(ctx);
    int tag = coll_tag(ctx);
    const unsigned char *s = sbuf;
    unsigned char *d = rbuf;
    if (rcounts[r] != scounts[r])
        return msg__fail(ctx, VS_EINVAL,
                         "msg_alltoallv: %zu bytes to self, "
                         "%zu expected",
                         scounts[r], rcounts[r]);
    copy(ctx, d + rdispls[r], s + sdispls[r], scounts[r]);
    /* Step i: send to rank + i, receive from rank - i.  Every rank sends
     * and receives once per step, so no link carries two blocks at once
     * from one rank. */
    for (int i = 1; i < n && !rc; i++) {
        int to = (r + i) % n, from = (r - i + n) % n;
        rc = step(ctx, s + sdispls[to], scounts[to], to, d + rdispls[from],
                  rcounts[from], from, tag);
    }
    return rc;
}

int msg_alltoall(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf)
{
    int rc = check(ctx, "msg_alltoall", NONE, len);
    if (!rc && len > MSG_MAX_LEN / (size_t)ctx->size)
        rc = msg__fail(ctx, VS_EINVAL,
                       "msg_alltoall: %zu-byte blocks are "
                       "too large",
                       len);
    if (!rc)
        rc = need_buf(ctx, "msg_alltoall", "sbuf", sbuf, len);
    if (!rc)
        rc = need_buf(ctx, "msg_alltoall", "rbuf", rbuf, len);
    if (rc)
        return rc;
    int n = ctx->size;
    size_t *v = malloc(2 * (size_t)n * sizeof *v);
    if (!v)
        return msg__fail(ctx, VS_ENOMEM, "msg_alltoall: out of memory");
    for (int i = 0; i < n; i++) {
        v[i] = len;
        v[n + i] = (size_t)i * len;
    }
    rc = msg_alltoallv(ctx, sbuf, v, v + n, rbuf, v, v + n);
    free(v);
    return rc;
}
