/*
 * libs/rpc client: a libtirpc CLIENT whose operations move the call and
 * reply records over a VMMC link (chan.c).  Encoding and decoding are
 * libtirpc's (xdr_callhdr, AUTH_MARSHALL, xdr_replymsg, _seterr_reply), so
 * rpcgen's client stubs and clnt_perror() work unchanged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libs/rpc/rpc_int.h"

/* An import that waits this long for the server to export its area. */
#define CONNECT_WAIT (1000 * HW_MS)
/* Timeouts above this many seconds are taken as this many. */
#define MAX_TIMEOUT_S 1000000

struct vclnt {
    int node, server;
    rpcprog_t prog;
    rpcvers_t vers;
    struct timeval timeout;
    int timeout_set;
    uint32_t xid, next_xid;
    int next_xid_set;
    struct rpc_err err;
};

struct enc_call {
    struct rpc_msg *msg;
    rpcproc_t proc;
    AUTH *auth;
    xdrproc_t xargs;
    void *argsp;
};

/* For a NULL xdrproc_t: nothing to encode or decode (xdr_void). */
static bool_t no_data(XDR *x, ...)
{
    (void)x;
    return TRUE;
}

static int enc_call(XDR *x, void *arg)
{
    struct enc_call *e = arg;
    uint32_t proc = (uint32_t)e->proc;
    return xdr_callhdr(x, e->msg) && xdr_u_int32_t(x, &proc) &&
           AUTH_MARSHALL(e->auth, x) && e->xargs(x, e->argsp);
}

static hw_time_t to_time(struct timeval tv)
{
    if (tv.tv_sec < 0 || tv.tv_usec < 0)
        return 0;
    if (tv.tv_sec > MAX_TIMEOUT_S)
        tv.tv_sec = MAX_TIMEOUT_S;
    return (hw_time_t)tv.tv_sec * 1000 * HW_MS + (hw_time_t)tv.tv_usec * HW_US;
}

static enum clnt_stat status_of(int rc, int sending)
{
    switch (rc) {
    case VS_ETIMEDOUT:
        return RPC_TIMEDOUT;
    case VS_ENOMEM:
        return RPC_SYSTEMERROR;
    default:
        return sending ? RPC_CANTSEND : RPC_CANTRECV;
    }
}

static enum clnt_stat set_err(struct vclnt *c, enum clnt_stat st, int rc)
{
    c->err.re_status = st;
    if (st == RPC_CANTSEND || st == RPC_CANTRECV || st == RPC_SYSTEMERROR)
        c->err.re_errno = rc == VS_ENOMEM     ? ENOMEM
                          : rc == VS_EUNREACH ? ECONNRESET
                                              : EIO;
    return st;
}

/* Decodes a reply record with our xid into resp; the status. */
static enum clnt_stat take_reply(CLIENT *cl, struct vclnt *c,
                                 struct vrpc__rec *r, xdrproc_t xres,
                                 void *resp)
{
    struct rpc_msg reply;
    memset(&reply, 0, sizeof reply);
    reply.acpted_rply.ar_verf = _null_auth;
    reply.acpted_rply.ar_results.where = resp;
    reply.acpted_rply.ar_results.proc = xres;
    XDR x;
    xdrmem_create(&x, (char *)r->data, (u_int)r->len, XDR_DECODE);
    int ok = xdr_replymsg(&x, &reply);
    xdr_destroy(&x);
    if (!ok)
        return set_err(c, RPC_CANTDECODERES, 0);
    _seterr_reply(&reply, &c->err);
    if (c->err.re_status == RPC_SUCCESS &&
        !AUTH_VALIDATE(cl->cl_auth, &reply.acpted_rply.ar_verf)) {
        c->err.re_status = RPC_AUTHERROR;
        c->err.re_why = AUTH_INVALIDRESP;
    }
    if (reply.rm_reply.rp_stat == MSG_ACCEPTED &&
        reply.acpted_rply.ar_verf.oa_base) {
        XDR fx = {.x_op = XDR_FREE};
        xdr_opaque_auth(&fx, &reply.acpted_rply.ar_verf);
    }
    return c->err.re_status;
}

static enum clnt_stat vc_call(CLIENT *cl, rpcproc_t proc, xdrproc_t xargs,
                              void *argsp, xdrproc_t xres, void *resp,
                              struct timeval tout)
{
    struct vclnt *c = cl->cl_private;
    struct vrpc__node *n = vrpc__self();
    memset(&c->err, 0, sizeof c->err);
    if (!n || n->node != c->node) {
        if (n)
            vrpc__fail(n, VS_EINVAL,
                       "clnt_call: the handle was made on node %d, not %d",
                       c->node, n->node);
        return set_err(c, RPC_FAILED, 0);
    }
    struct vrpc__link *l = &n->links[1][c->server];
    if (c->timeout_set)
        tout = c->timeout;
    hw_time_t wait = to_time(tout);
    hw_time_t deadline = vrpc__now(n) + wait;
    c->xid = c->next_xid_set ? c->next_xid : ++l->xid;
    c->next_xid_set = 0;
    struct rpc_msg msg = {.rm_xid = c->xid, .rm_direction = CALL};
    msg.rm_call.cb_rpcvers = RPC_MSG_VERSION;
    msg.rm_call.cb_prog = c->prog;
    msg.rm_call.cb_vers = c->vers;
    struct enc_call e = {&msg, proc, cl->cl_auth, xargs ? xargs : no_data,
                         argsp};
    size_t len;
    int rc = vrpc__encode(n, enc_call, &e, &len);
    if (rc)
        return set_err(
            c, rc == VS_ENOMEM ? RPC_SYSTEMERROR : RPC_CANTENCODEARGS, rc);
    rc = vrpc__send(n, l, n->enc, len, deadline);
    if (rc) {
        vrpc__fail(n, rc, "clnt_call: sending the call to node %d", c->server);
        return set_err(c, status_of(rc, 1), rc);
    }
    n->st.calls++;
    /* As with libtirpc's stream clients, a zero timeout sends the call
     * without waiting for a reply (a one-way message). */
    if (wait == 0)
        return set_err(c, RPC_TIMEDOUT, 0);
    for (;;) {
        struct vrpc__rec r;
        rc = vrpc__recv(n, l, &r, deadline);
        if (rc) {
            vrpc__fail(n, rc, "clnt_call: waiting for the reply of node %d",
                       c->server);
            return set_err(c, status_of(rc, 0), rc);
        }
        uint32_t rx = 0;
        if (r.len >= 4) {
            memcpy(&rx, r.data, 4);
            rx = ntohl(rx);
        }
        if (r.len < 4 || rx != c->xid) { /* a late reply to an old call */
            vrpc__release(n, l, &r);
            continue;
        }
        enum clnt_stat st = take_reply(cl, c, &r, xres ? xres : no_data, resp);
        vrpc__release(n, l, &r);
        n->st.replies++;
        return st;
    }
}

static void vc_abort(CLIENT *cl)
{
    (void)cl;
}

static void vc_geterr(CLIENT *cl, struct rpc_err *errp)
{
    struct vclnt *c = cl->cl_private;
    *errp = c->err;
}

static bool_t vc_freeres(CLIENT *cl, xdrproc_t xres, void *resp)
{
    (void)cl;
    xdr_free(xres, resp);
    return TRUE;
}

static void vc_destroy(CLIENT *cl)
{
    free(cl->cl_private);
    free(cl);
}

static bool_t vc_control(CLIENT *cl, u_int req, void *info)
{
    struct vclnt *c = cl->cl_private;
    if (!info && req != CLSET_FD_CLOSE && req != CLSET_FD_NCLOSE)
        return FALSE;
    switch (req) {
    case CLSET_TIMEOUT: {
        const struct timeval *tv = info;
        if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
            return FALSE;
        c->timeout = *tv;
        c->timeout_set = 1;
        return TRUE;
    }
    case CLGET_TIMEOUT:
        *(struct timeval *)info = c->timeout;
        return TRUE;
    case CLGET_XID:
        *(uint32_t *)info = c->xid;
        return TRUE;
    case CLSET_XID: /* the next call's xid */
        c->next_xid = *(uint32_t *)info;
        c->next_xid_set = 1;
        return TRUE;
    case CLGET_VERS:
        *(uint32_t *)info = (uint32_t)c->vers;
        return TRUE;
    case CLSET_VERS:
        c->vers = *(uint32_t *)info;
        return TRUE;
    case CLGET_PROG:
        *(uint32_t *)info = (uint32_t)c->prog;
        return TRUE;
    case CLSET_PROG:
        c->prog = *(uint32_t *)info;
        return TRUE;
    case CLSET_FD_CLOSE:
    case CLSET_FD_NCLOSE:
        return TRUE;
    default:
        return FALSE;
    }
}

/* Not const: CLIENT's cl_ops is a pointer to non-const. */
static struct clnt_ops vclnt_ops = {
    .cl_call = vc_call,
    .cl_abort = vc_abort,
    .cl_geterr = vc_geterr,
    .cl_freeres = vc_freeres,
    .cl_destroy = vc_destroy,
    .cl_control = vc_control,
};

static CLIENT *create_fail(enum clnt_stat st, int err)
{
    rpc_createerr.cf_stat = st;
    rpc_createerr.cf_error.re_errno = err;
    return NULL;
}

CLIENT *vrpc_clnt_create(int server_node, rpcprog_t prog, rpcvers_t vers)
{
    struct vrpc__node *n = vrpc__self();
    if (!n)
        return create_fail(RPC_FAILED, ENOMEM);
    if (server_node < 0 || server_node >= n->nnodes || server_node == n->node) {
        vrpc__fail(n, VS_EINVAL,
                   "vrpc_clnt_create: server node %d is not another node "
                   "(this is node %d of %d)",
                   server_node, n->node, n->nnodes);
        return create_fail(RPC_UNKNOWNHOST, 0);
    }
    struct vrpc__link *l;
    int rc = vrpc__link(n, 1, server_node, CONNECT_WAIT, &l);
    if (rc == VS_OK && *l->closed)
        rc = vrpc__fail(n, VS_EUNREACH,
                        "vrpc_clnt_create: the server on node %d has ended",
                        server_node);
    if (rc)
        return create_fail(rc == VS_ENOMEM ? RPC_FAILED : RPC_SYSTEMERROR,
                           rc == VS_ENOMEM ? ENOMEM : ECONNREFUSED);
    CLIENT *cl = calloc(1, sizeof *cl);
    struct vclnt *c = calloc(1, sizeof *c);
    AUTH *auth = authnone_create();
    if (!cl || !c || !auth) {
        free(cl);
        free(c);
        vrpc__fail(n, VS_ENOMEM, "vrpc_clnt_create");
        return create_fail(RPC_FAILED, ENOMEM);
    }
    if (!l->xid) /* distinct xids per client node, deterministic */
        l->xid = (uint32_t)n->node << 24;
    *c = (struct vclnt){.node = n->node,
                        .server = server_node,
                        .prog = prog,
                        .vers = vers,
                        .timeout = {25, 0}};
    cl->cl_auth = auth;
    cl->cl_ops = &vclnt_ops;
    cl->cl_private = c;
    return cl;
}
