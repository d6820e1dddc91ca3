/*
 * libs/rpc server: one SVCXPRT per node whose operations read the call
 * records that VMMC links (chan.c) bring in and send the replies back, a
 * per-node table of rpcgen dispatch functions (never libtirpc's global
 * svc_register table: under vmmcsim exec every node shares one process),
 * and the serving loop.  svc_getargs, svc_sendreply, svc_freeargs and the
 * svcerr_* replies of rpcgen's dispatch code are libtirpc's, going through
 * the operations here.
 */
#include <stdlib.h>
#include <string.h>

#include "libs/rpc/rpc_int.h"

/* A reply waits at most this long for room at a client that has stopped
 * reading; then it is dropped (the client times out). */
#define REPLY_WAIT (1000 * HW_MS)

struct vsvc {
    struct vrpc__node *n;
    struct vrpc__link *cur; /* the client of the call being served */
    struct vrpc__rec rec;   /* its record, until released */
    int have_rec, replied;
    uint32_t xid;
    XDR args; /* positioned at the call's arguments */
    int next_peer;
};

static void drop_rec(struct vsvc *s)
{
    if (s->have_rec) {
        xdr_destroy(&s->args);
        vrpc__release(s->n, s->cur, &s->rec);
        s->have_rec = 0;
    }
}

static bool_t x_recv(SVCXPRT *xprt, struct rpc_msg *msg)
{
    (void)xprt;
    (void)msg;
    return FALSE; /* vrpc_svc_run receives; libtirpc's svc_run must not */
}

static enum xprt_stat x_stat(SVCXPRT *xprt)
{
    (void)xprt;
    return XPRT_IDLE;
}

static bool_t x_getargs(SVCXPRT *xprt, xdrproc_t fn, void *argsp)
{
    struct vsvc *s = xprt->xp_p1;
    return s->have_rec && fn(&s->args, argsp);
}

static int enc_reply(XDR *x, void *arg)
{
    return xdr_replymsg(x, arg);
}

static bool_t x_reply(SVCXPRT *xprt, struct rpc_msg *msg)
{
    struct vsvc *s = xprt->xp_p1;
    struct vrpc__node *n = s->n;
    if (!s->cur || s->replied)
        return FALSE;
    s->replied = 1;
    /* The arguments are decoded by now: free the slot first, so that the
     * reply carries its credit. */
    drop_rec(s);
    msg->rm_xid = s->xid;
    size_t len;
    int rc = vrpc__encode(n, enc_reply, msg, &len);
    if (rc) {
        vrpc__fail(n, rc, "svc_sendreply: encoding the reply to node %d",
                   s->cur->peer);
        return FALSE;
    }
    rc = vrpc__send(n, s->cur, n->enc, len, vrpc__now(n) + REPLY_WAIT);
    if (rc) {
        vrpc__fail(n, rc, "svc_sendreply: sending the reply to node %d",
                   s->cur->peer);
        return FALSE;
    }
    return TRUE;
}

static bool_t x_freeargs(SVCXPRT *xprt, xdrproc_t fn, void *argsp)
{
    (void)xprt;
    xdr_free(fn, argsp);
    return TRUE;
}

static void x_destroy(SVCXPRT *xprt)
{
    (void)xprt; /* the node's transport lives until the node ends */
}

static bool_t x_control(SVCXPRT *xprt, const u_int req, void *info)
{
    (void)xprt;
    (void)req;
    (void)info;
    return FALSE;
}

static const struct xp_ops vsvc_ops = {
    .xp_recv = x_recv,
    .xp_stat = x_stat,
    .xp_getargs = x_getargs,
    .xp_reply = x_reply,
    .xp_freeargs = x_freeargs,
    .xp_destroy = x_destroy,
};
static const struct xp_ops2 vsvc_ops2 = {.xp_control = x_control};
static char vsvc_netid[] = "vmmc";

SVCXPRT *vrpc_svc_create(void)
{
    struct vrpc__node *n = vrpc__self();
    if (!n)
        return NULL;
    if (n->xprt)
        return n->xprt;
    if (vrpc__area(n, 0))
        return NULL;
    SVCXPRT *x = calloc(1, sizeof *x);
    struct vsvc *s = calloc(1, sizeof *s);
    if (!x || !s) {
        free(x);
        free(s);
        vrpc__fail(n, VS_ENOMEM, "vrpc_svc_create");
        return NULL;
    }
    s->n = n;
    x->xp_fd = -1;
    x->xp_ops = &vsvc_ops;
    x->xp_ops2 = &vsvc_ops2;
    x->xp_netid = vsvc_netid;
    x->xp_verf = _null_auth;
    x->xp_p1 = s;
    n->xprt = x;
    return x;
}

void vrpc__svc_free(struct vrpc__node *n)
{
    if (n->xprt) {
        free(n->xprt->xp_p1);
        free(n->xprt);
        n->xprt = NULL;
    }
    free(n->regs);
    n->regs = NULL;
    n->nregs = 0;
}

int vrpc_svc_register(SVCXPRT *xprt, rpcprog_t prog, rpcvers_t vers,
                      void (*dispatch)(struct svc_req *, SVCXPRT *))
{
    struct vrpc__node *n = vrpc__self();
    if (!n)
        return VS_EINVAL;
    if (!xprt || !dispatch || xprt != n->xprt)
        return vrpc__fail(n, VS_EINVAL, "vrpc_svc_register: %s on node %d",
                          !dispatch ? "no dispatch function"
                                    : "not this node's vrpc_svc_create() "
                                      "transport",
                          n->node);
    for (int i = 0; i < n->nregs; i++)
        if (n->regs[i].prog == prog && n->regs[i].vers == vers)
            return n->regs[i].dispatch == dispatch
                       ? VS_OK
                       : vrpc__fail(n, VS_EEXIST,
                                    "vrpc_svc_register: program %lu "
                                    "version %lu is registered already",
                                    (unsigned long)prog, (unsigned long)vers);
    struct vrpc__reg *r = realloc(n->regs, (size_t)(n->nregs + 1) * sizeof *r);
    if (!r)
        return vrpc__fail(n, VS_ENOMEM, "vrpc_svc_register");
    r[n->nregs++] = (struct vrpc__reg){prog, vers, dispatch};
    n->regs = r;
    return VS_OK;
}

int vrpc_svc_unregister(rpcprog_t prog, rpcvers_t vers)
{
    struct vrpc__node *n = vrpc__self();
    if (!n)
        return VS_EINVAL;
    for (int i = 0; i < n->nregs; i++)
        if (n->regs[i].prog == prog && n->regs[i].vers == vers) {
            n->regs[i] = n->regs[--n->nregs];
            return VS_OK;
        }
    return vrpc__fail(n, VS_ENOENT,
                      "vrpc_svc_unregister: program %lu version %lu is not "
                      "registered",
                      (unsigned long)prog, (unsigned long)vers);
}

void vrpc_svc_exit(void)
{
    struct vrpc__node *n = vrpc__self();
    if (n)
        n->exit_flag = 1;
}

static int any_call(void *arg)
{
    const struct vrpc__node *n = arg;
    for (int p = 0; p < n->nnodes; p++)
        if (vrpc__ready(&n->links[0][p]))
            return 1;
    return 0;
}

/* Replies to a call whose RPC version is not 2. */
static void reply_mismatch(SVCXPRT *xprt)
{
    struct rpc_msg m;
    memset(&m, 0, sizeof m);
    m.rm_direction = REPLY;
    m.rm_reply.rp_stat = MSG_DENIED;
    m.rjcted_rply.rj_stat = RPC_MISMATCH;
    m.rjcted_rply.rj_vers.low = RPC_MSG_VERSION;
    m.rjcted_rply.rj_vers.high = RPC_MSG_VERSION;
    SVC_REPLY(xprt, &m);
}

/* Finds the dispatch function for the call, or answers the error. */
static void dispatch(struct vrpc__node *n, SVCXPRT *xprt,
                     const struct rpc_msg *msg)
{
    const struct call_body *cb = &msg->rm_call;
    if (cb->cb_rpcvers != RPC_MSG_VERSION) {
        reply_mismatch(xprt);
        return;
    }
    if (cb->cb_cred.oa_flavor != AUTH_NONE &&
        cb->cb_cred.oa_flavor != AUTH_SYS) {
        svcerr_auth(xprt, AUTH_REJECTEDCRED);
        return;
    }
    rpcvers_t low = ~(rpcvers_t)0, high = 0;
    for (int i = 0; i < n->nregs; i++) {
        const struct vrpc__reg *r = &n->regs[i];
        if (r->prog != cb->cb_prog)
            continue;
        if (r->vers == cb->cb_vers) {
            struct svc_req req;
            memset(&req, 0, sizeof req);
            req.rq_prog = (u_int32_t)cb->cb_prog;
            req.rq_vers = (u_int32_t)cb->cb_vers;
            req.rq_proc = (u_int32_t)cb->cb_proc;
            req.rq_cred = cb->cb_cred;
            req.rq_xprt = xprt;
            n->st.served++;
            r->dispatch(&req, xprt);
            return;
        }
        low = r->vers < low ? r->vers : low;
        high = r->vers > high ? r->vers : high;
    }
    if (high)
        svcerr_progvers(xprt, low, high);
    else
        svcerr_noprog(xprt);
}

/* Serves the next call, waiting until deadline: 1, 0 (none came), or a
 * negative vs_err. */
static int serve_one(struct vrpc__node *n, hw_time_t deadline)
{
    SVCXPRT *xprt = n->xprt;
    struct vsvc *s = xprt->xp_p1;
    while (!any_call(n)) {
        hw_time_t left = -1;
        if (deadline != HW_TIME_NEVER) {
            left = deadline - vrpc__now(n);
            if (left <= 0)
                return 0;
        }
        int rc = vmmc_wait_until(n->vc, any_call, n, left);
        if (rc == VS_ETIMEDOUT)
            return 0;
        if (rc)
            return rc;
    }
    /* Round robin over the clients with a call waiting. */
    int p = s->next_peer;
    while (!vrpc__ready(&n->links[0][p]))
        p = (p + 1) % n->nnodes;
    s->next_peer = (p + 1) % n->nnodes;
    struct vrpc__link *l = &n->links[0][p];
    /* The first chunk is there; a record's later chunks that do not come
     * (a client gone quiet mid-record) do not hold up the others. */
    int rc = vrpc__recv(n, l, &s->rec, vrpc__now(n) + REPLY_WAIT);
    if (rc)
        return 1; /* a bad record was consumed: nothing to answer */
    s->cur = l;
    s->have_rec = 1;
    xdrmem_create(&s->args, (char *)s->rec.data, (u_int)s->rec.len, XDR_DECODE);
    if (!l->imported && vrpc__link(n, 0, p, 0, &l)) {
        drop_rec(s); /* the client is gone */
        s->cur = NULL;
        return 1;
    }
    char cred[2 * MAX_AUTH_BYTES];
    struct rpc_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.rm_call.cb_cred.oa_base = cred;
    msg.rm_call.cb_verf.oa_base = cred + MAX_AUTH_BYTES;
    if (xdr_callmsg(&s->args, &msg) && msg.rm_direction == CALL) {
        s->xid = msg.rm_xid;
        s->replied = 0;
        xprt->xp_verf = _null_auth;
        dispatch(n, xprt, &msg);
    }
    drop_rec(s);
    s->cur = NULL;
    return 1;
}

int vrpc_svc_run(void)
{
    struct vrpc__node *n = vrpc__self();
    if (!n || !n->xprt)
        return n ? vrpc__fail(n, VS_EINVAL,
                              "vrpc_svc_run: no vrpc_svc_create() on node %d",
                              n->node)
                 : VS_EINVAL;
    int rc = 0;
    while (!n->exit_flag && rc >= 0)
        rc = serve_one(n, HW_TIME_NEVER);
    n->exit_flag = 0;
    return rc < 0 ? rc : 0;
}

int vrpc_svc_poll(hw_time_t timeout)
{
    struct vrpc__node *n = vrpc__self();
    if (!n || !n->xprt)
        return n ? vrpc__fail(n, VS_EINVAL,
                              "vrpc_svc_poll: no vrpc_svc_create() on node %d",
                              n->node)
                 : VS_EINVAL;
    n->exit_flag = 0;
    return serve_one(n, timeout < 0 ? HW_TIME_NEVER : vrpc__now(n) + timeout);
}
