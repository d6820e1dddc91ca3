/*
 * The libraries' conformance tests: bodies over libs/msg, libs/sock,
 * libs/rpc and libs/svm, written once and run on both backends
 * (tests/conf/conf.h), as suites "conf-libs-sim" and "conf-libs-emu".
 * Like the VMMC bodies of test_conf.c they check results only (bytes,
 * return codes, statuses), never times:
 *   - msg: point to point in order with exact and wildcard matching,
 *     eager and rendezvous sizes (0 B, the eager limit, one above it,
 *     large), a truncated receive, a receive posted before its send; and
 *     barrier, bcast, allreduce, alltoall on 4 nodes;
 *   - sock: a listener on node 0 and clients on nodes 1..3: connect,
 *     writes of small and >= 4 KiB sizes (the zero-copy path may serve the
 *     large reads), reads in odd pieces, shutdown -> end of stream, and
 *     ECONNREFUSED from a node whose library runs but does not listen;
 *   - rpc: a null call, an int and a string echo with hand-written XDR,
 *     and an unknown procedure (RPC_PROCUNAVAIL), from three clients;
 *   - svm: a counter under a lock and writes made visible by a barrier.
 * A library body takes the node's context from libs/node (node_vmmc()),
 * steps through phases with conf_sync_attach on that context, runs the
 * libraries' end hooks on every node (node_run_at_end()) before any node
 * closes it (node_end()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libs/msg/msg.h"
#include "libs/node/node.h"
#include "libs/rpc/vrpc.h"
#include "libs/sock/sock.h"
#include "libs/svm/svm.h"
#include "tests/conf/conf.h"
#include "tests/harness.h"
#include "util/err.h"

#define EQ(got, want)                                                          \
    do {                                                                       \
        long long eq_g_ = (long long)(got), eq_w_ = (long long)(want);         \
        TH_CHECK(eq_g_ == eq_w_, "node %d: %s = %lld, expected %lld",          \
                 hw_self() ? hw_self()->node : -1, #got, eq_g_, eq_w_);        \
    } while (0)

/* The node's context (libs/node) with the phase words on it. */
static int lib_begin(struct conf_sync *s, hw_host *h)
{
    int err = 0;
    vmmc_ctx *vc = node_vmmc(&err);
    TH_CHECK(vc != NULL, "node %d: node_vmmc: %s", h->node, vs_strerror(err));
    if (!vc)
        return -1;
    conf_sync_attach(s, h, vc);
    return 0;
}

/* Every node is done with its peers; then the libraries' end hooks, on
 * every node while every context is still open; then vmmc_close.
 *
 * The hooks may write to peers whose own hooks have already withdrawn
 * their areas (libs/rpc tells every peer it talked to that it is gone):
 * such a write is refused, and the peer's firmware answers with a NACK of
 * its own.  Were the peer's context already closed, that NACK could still
 * be unacknowledged when the emulator stops the NICs, and the audit after
 * the run (vmmc_fw_audit) would count it.  Two barriers after the hooks
 * settle it: a peer's second barrier write is acknowledged only once
 * everything it sent before, the NACK included, has arrived. */
static void lib_end(struct conf_sync *s)
{
    conf_sync_all(s);
    node_run_at_end();
    conf_sync_all(s);
    conf_sync_all(s);
    EQ(node_end(), VS_OK);
    conf_sync_free(s);
}

/* ---- msg ---- */

#define EAGER MSG_DEFAULT_EAGER_LIMIT
static const size_t msizes[] = {0,         1,         100,  EAGER - 1,
                                EAGER,     EAGER + 1, 4096, 5000,
                                65536 + 3, 3,         0,    EAGER + 1};
#define NMS (sizeof msizes / sizeof *msizes)
#define MBIG (65536 + 128)
#define NORD 6 /* messages from each sender in the ordering phase */

static uint32_t mseed(int src, int dst, int tag)
{
    return (uint32_t)(src * 1000 + dst * 100 + tag + 1);
}

static void expect_bytes(const unsigned char *got, size_t len, uint32_t seed,
                         const char *what, int which)
{
    unsigned char *want = malloc(len + 1);
    th_pattern(want, len, seed);
    size_t i = 0;
    while (i < len && got[i] == want[i])
        i++;
    TH_CHECK(i == len, "node %d: %s %d: byte %zu of %zu differs",
             hw_self()->node, what, which, i, len);
    free(want);
}

/* Exact (source, tag) matching, every size, in order: 0 -> 1 and
 * 2 -> 3. */
static void msg_pairs(msg_ctx *c, int me, unsigned char *buf)
{
    int peer = me ^ 1;
    if (me % 2 == 0) {
        for (size_t i = 0; i < NMS; i++) {
            th_pattern(buf, msizes[i], mseed(me, peer, (int)i));
            EQ(msg_send(c, buf, msizes[i], peer, (int)i), VS_OK);
        }
        /* Truncated at the receiver. */
        th_pattern(buf, 100, mseed(me, peer, 99));
        EQ(msg_send(c, buf, 100, peer, 99), VS_OK);
        th_pattern(buf, 5000, mseed(me, peer, 98));
        EQ(msg_send(c, buf, 5000, peer, 98), VS_OK);
        return;
    }
    for (size_t i = 0; i < NMS; i++) {
        struct msg_status st = {0};
        memset(buf, 0xEE, MBIG);
        EQ(msg_recv(c, buf, MBIG, peer, (int)i, &st), VS_OK);
        EQ(st.source, peer);
        EQ(st.tag, (int)i);
        EQ(st.count, msizes[i]);
        EQ(st.error, 0);
        expect_bytes(buf, msizes[i], mseed(peer, me, (int)i), "message",
                     (int)i);
        size_t end = msizes[i] + 64 < MBIG ? msizes[i] + 64 : MBIG;
        size_t over = th_count_ne(buf, msizes[i], end, 0xEE);
        TH_CHECK(over == 0,
                 "node %d: message %zu (%zu bytes) changed %zu bytes after "
                 "its end",
                 me, i, msizes[i], over);
    }
    for (int tag = 99; tag >= 98; tag--) {
        struct msg_status st = {0};
        memset(buf, 0xEE, MBIG);
        EQ(msg_recv(c, buf, 10, peer, tag, &st), VS_ERANGE);
        EQ(st.error, VS_ERANGE);
        EQ(st.source, peer);
        expect_bytes(buf, 10, mseed(peer, me, tag), "truncated", tag);
        EQ(th_count_ne(buf, 10, 200, 0xEE), 0);
    }
}

/* Senders 1..3 each send NORD messages to 0, alternating eager and
 * rendezvous; 0 takes them with both wildcards: every one arrives, each
 * sender's in the order sent. */
static void msg_wild(msg_ctx *c, int me, int n, unsigned char *buf)
{
    static const size_t osz[] = {8, EAGER + 1, 0, 5000, EAGER, 20000};
    if (me != 0) {
        for (int k = 0; k < NORD; k++) {
            th_pattern(buf, osz[k], mseed(me, 0, 10 + k));
            EQ(msg_send(c, buf, osz[k], 0, 7 + me), VS_OK);
        }
        return;
    }
    int next[CONF_MAX_NODES] = {0};
    for (int m = 0; m < NORD * (n - 1); m++) {
        struct msg_status st = {0};
        EQ(msg_recv(c, buf, MBIG, MSG_ANY_SOURCE, MSG_ANY_TAG, &st), VS_OK);
        int src = st.source;
        TH_CHECK(src >= 1 && src < n, "wildcard receive from %d", src);
        if (src < 1 || src >= n)
            continue;
        int k = next[src]++;
        TH_CHECK(k < NORD, "more than %d messages from %d", NORD, src);
        if (k >= NORD)
            continue;
        EQ(st.tag, 7 + src);
        EQ(st.count, osz[k]);
        expect_bytes(buf, osz[k], mseed(src, 0, 10 + k), "wildcard message",
                     src * 10 + k);
    }
    for (int src = 1; src < n; src++)
        EQ(next[src], NORD);
    /* Nothing is left over. */
    int flag = 1;
    EQ(msg_iprobe(c, MSG_ANY_SOURCE, MSG_ANY_TAG, &flag, NULL), VS_OK);
    EQ(flag, 0);
}

/* A receive posted before the matching send is in flight. */
static void msg_posted(msg_ctx *c, struct conf_sync *s, int me,
                       unsigned char *buf)
{
    if (me == 3) {
        msg_req *r = NULL;
        memset(buf, 0, MBIG);
        EQ(msg_irecv(c, buf, MBIG, 1, 5, &r), VS_OK);
        conf_sync_signal(s, 1, 1);
        struct msg_status st = {0};
        EQ(msg_wait(c, &r, &st), VS_OK);
        TH_CHECK(r == NULL, "msg_wait left the request");
        EQ(st.count, 30000);
        expect_bytes(buf, 30000, mseed(1, 3, 5), "pre-posted", 5);
    } else if (me == 1) {
        conf_sync_await(s, 3, 1);
        th_pattern(buf, 30000, mseed(1, 3, 5));
        EQ(msg_send(c, buf, 30000, 3, 5), VS_OK);
    }
}

static void msg_colls(msg_ctx *c, int me, int n)
{
    EQ(msg_barrier(c), VS_OK);
    /* Broadcast from rank 2: eager and rendezvous sizes. */
    static const size_t bsz[] = {100, 6000};
    for (int i = 0; i < 2; i++) {
        unsigned char *b = malloc(bsz[i]);
        if (me == 2)
            th_pattern(b, bsz[i], 4000 + (uint32_t)i);
        else
            memset(b, 0, bsz[i]);
        EQ(msg_bcast(c, b, bsz[i], 2), VS_OK);
        expect_bytes(b, bsz[i], 4000 + (uint32_t)i, "bcast", i);
        free(b);
    }
    /* Allreduce: sums and maxima over the ranks. */
    enum { CNT = 600 };
    int32_t *si = malloc(CNT * sizeof *si), *ri = malloc(CNT * sizeof *ri);
    for (int k = 0; k < CNT; k++)
        si[k] = (me + 1) * k - me;
    EQ(msg_allreduce(c, si, ri, CNT, MSG_INT32, MSG_SUM), VS_OK);
    int bad = 0;
    for (int k = 0; k < CNT; k++) {
        int64_t want = 0;
        for (int r = 0; r < n; r++)
            want += (r + 1) * k - r;
        bad += ri[k] != want;
    }
    EQ(bad, 0);
    double sd[3] = {me * 1.5, -me, 7.0}, rd[3] = {0};
    EQ(msg_allreduce(c, sd, rd, 3, MSG_DOUBLE, MSG_MAX), VS_OK);
    TH_CHECK(rd[0] == (n - 1) * 1.5 && rd[1] == 0.0 && rd[2] == 7.0,
             "node %d: max gave %g %g %g", me, rd[0], rd[1], rd[2]);
    free(si);
    free(ri);
    /* Alltoall: block j of rank i's rbuf is block i of rank j's sbuf. */
    static const size_t asz[] = {64, 2000};
    for (int i = 0; i < 2; i++) {
        size_t len = asz[i];
        unsigned char *sb = malloc(len * (size_t)n),
                      *rb = calloc((size_t)n, len);
        for (int j = 0; j < n; j++)
            th_pattern(sb + (size_t)j * len, len, mseed(me, j, 50 + i));
        EQ(msg_alltoall(c, sb, len, rb), VS_OK);
        for (int j = 0; j < n; j++)
            expect_bytes(rb + (size_t)j * len, len, mseed(j, me, 50 + i),
                         "alltoall block", j);
        free(sb);
        free(rb);
    }
    EQ(msg_barrier(c), VS_OK);
}

static void msg_body(hw_host *h, void *arg)
{
    (void)arg;
    struct conf_sync s;
    if (lib_begin(&s, h))
        return;
    conf_sync_all(&s); /* every node runs: msg_init's imports find peers */
    msg_ctx *c = NULL;
    EQ(msg_init(s.ctx, NULL, &c), VS_OK);
    if (c) {
        EQ(msg_rank(c), s.me);
        EQ(msg_size(c), s.n);
        unsigned char *buf = malloc(MBIG);
        msg_pairs(c, s.me, buf);
        msg_wild(c, s.me, s.n, buf);
        msg_posted(c, &s, s.me, buf);
        msg_colls(c, s.me, s.n);
        TH_CHECK(msg_finalize(c) == VS_OK, "node %d: msg_finalize: %s", s.me,
                 msg_errmsg(c));
        free(buf);
    }
    lib_end(&s);
}

/* ---- sock ---- */

#define PORT 5100
static const size_t ssizes[] = {1, 7, 300, 4096, 4097, 20000, 65536 + 5, 2};
#define NSS (sizeof ssizes / sizeof *ssizes)

static size_t stotal(void)
{
    size_t t = 0;
    for (size_t i = 0; i < NSS; i++)
        t += ssizes[i];
    return t;
}

/* Reads exactly n bytes in pieces of at most piece. */
static int recv_exact(int sk, unsigned char *p, size_t n, size_t piece)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < piece ? n - got : piece;
        ssize_t k = vs_sock_recv(sk, p + got, want, 0);
        if (k <= 0 || (size_t)k > want) {
            TH_CHECK(0, "node %d: recv of %zu returned %zd after %zu of %zu",
                     hw_self()->node, want, k, got, n);
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

/* Node 0 serves each client: reads its stream in odd pieces until end of
 * stream, then writes it back (xor the client's node) and closes. */
static void sock_server(struct conf_sync *s)
{
    int l = vs_sock_socket();
    TH_CHECK(l >= 0, "socket: %d", l);
    EQ(vs_sock_bind(l, PORT), 0);
    EQ(vs_sock_listen(l, 4), 0);
    int node = -1, port = -1;
    EQ(vs_sock_name(l, &node, &port), 0);
    EQ(node, 0);
    EQ(port, PORT);
    for (int k = 1; k < s->n; k++)
        conf_sync_signal(s, k, 1);
    size_t total = stotal();
    unsigned char *buf = malloc(total + 16);
    int conns[CONF_MAX_NODES], from[CONF_MAX_NODES];
    for (int k = 1; k < s->n; k++) {
        conns[k] = vs_sock_accept(l, &from[k], NULL);
        TH_CHECK(conns[k] >= 0, "accept: %d", conns[k]);
    }
    EQ(vs_sock_close(l), 0);
    static const size_t pieces[] = {1, 333, 4096, 7, 10000, 65536};
    for (int k = 1; k < s->n; k++) {
        int c = conns[k];
        if (c < 0)
            continue;
        size_t got = 0;
        for (int i = 0;; i++) {
            size_t want = pieces[i % 6];
            if (got + want > total + 16)
                want = total + 16 - got;
            ssize_t r = vs_sock_recv(c, buf + got, want, 0);
            if (r <= 0) {
                EQ(r, 0); /* end of stream */
                break;
            }
            TH_CHECK((size_t)r <= want, "recv %zd > %zu", r, want);
            got += (size_t)r;
        }
        EQ(got, total);
        unsigned char *want = malloc(total);
        size_t off = 0;
        for (size_t i = 0; i < NSS; i++) {
            th_pattern(want + off, ssizes[i],
                         mseed(from[k], 0, 200 + (int)i));
            off += ssizes[i];
        }
        TH_CHECK(got == total && !memcmp(buf, want, total),
                 "stream from node %d arrived wrong", from[k]);
        free(want);
        for (size_t i = 0; i < total; i++)
            buf[i] ^= (unsigned char)from[k];
        EQ(vs_sock_send(c, buf, total, 0), (ssize_t)total);
        EQ(vs_sock_close(c), 0);
    }
    free(buf);
}

static void sock_client(struct conf_sync *s)
{
    size_t total = stotal();
    unsigned char *buf = malloc(total), *back = malloc(total + 16);
    /* Node 2's library runs (the socket below) but nothing listens
     * there; nothing listens on node 0's PORT + 1. */
    int idle = vs_sock_socket();
    TH_CHECK(idle >= 0, "socket: %d", idle);
    conf_sync_all(s);
    if (s->me == 1 || s->me == 3) {
        int r = vs_sock_socket();
        EQ(vs_sock_connect(r, s->me == 1 ? 2 : 0, s->me == 1 ? PORT : PORT + 1),
           -ECONNREFUSED);
        EQ(vs_sock_close(r), 0);
    }
    conf_sync_await(s, 0, 1); /* node 0 listens */
    int c = vs_sock_socket();
    EQ(vs_sock_connect(c, 0, PORT), 0);
    int node = -1, port = -1;
    EQ(vs_sock_peer(c, &node, &port), 0);
    EQ(node, 0);
    EQ(port, PORT);
    size_t off = 0;
    for (size_t i = 0; i < NSS; i++) {
        th_pattern(buf + off, ssizes[i], mseed(s->me, 0, 200 + (int)i));
        EQ(vs_sock_send(c, buf + off, ssizes[i], 0), (ssize_t)ssizes[i]);
        off += ssizes[i];
    }
    EQ(vs_sock_shutdown(c, VS_SOCK_SHUT_WR), 0);
    EQ(vs_sock_send(c, buf, 1, 0), -EPIPE);
    /* The echo: a small read, then large ones (zero-copy may serve them),
     * then the rest; then end of stream, twice. */
    if (!recv_exact(c, back, 5, 5) && !recv_exact(c, back + 5, 70000, 70000))
        recv_exact(c, back + 70005, total - 70005, 4096 + 11);
    for (size_t i = 0; i < total; i++)
        buf[i] ^= (unsigned char)s->me;
    TH_CHECK(!memcmp(back, buf, total), "node %d: the echo differs", s->me);
    EQ(vs_sock_recv(c, back, 16, 0), 0);
    EQ(vs_sock_recv(c, back, 16, 0), 0);
    EQ(vs_sock_close(c), 0);
    EQ(vs_sock_close(idle), 0);
    free(buf);
    free(back);
}

static void sock_body(hw_host *h, void *arg)
{
    (void)arg;
    struct conf_sync s;
    if (lib_begin(&s, h))
        return;
    if (s.me == 0) {
        conf_sync_all(&s);
        sock_server(&s);
    } else {
        sock_client(&s);
    }
    lib_end(&s);
}

/* ---- rpc ---- */

#define RPROG 0x20007777u
#define RVERS 1
#define RP_ECHO_INT 1
#define RP_ECHO_STR 2
#define RP_BYE 3

/* Calls of RP_BYE the server has answered (node 0 only). */
static int byes;

static bool_t xdr_none(XDR *x, ...)
{
    (void)x;
    return TRUE;
}

/* xdr_wrapstring stops at RPC_MAXDATASIZE bytes; this one does not. */
static bool_t xdr_str(XDR *x, char **p)
{
    return xdr_string(x, p, ~0u);
}

static void rpc_dispatch(struct svc_req *rq, SVCXPRT *x)
{
    switch (rq->rq_proc) {
    case 0:
        svc_sendreply(x, xdr_none, NULL);
        return;
    case RP_ECHO_INT: {
        int a = 0;
        if (!svc_getargs(x, (xdrproc_t)xdr_int, (char *)&a)) {
            svcerr_decode(x);
            return;
        }
        a = -a;
        svc_sendreply(x, (xdrproc_t)xdr_int, (char *)&a);
        return;
    }
    case RP_ECHO_STR: {
        char *str = NULL;
        if (!svc_getargs(x, (xdrproc_t)xdr_str, (char *)&str)) {
            svcerr_decode(x);
            return;
        }
        svc_sendreply(x, (xdrproc_t)xdr_str, (char *)&str);
        svc_freeargs(x, (xdrproc_t)xdr_str, (char *)&str);
        return;
    }
    case RP_BYE:
        svc_sendreply(x, xdr_none, NULL);
        if (++byes == hw_self()->nnodes - 1)
            vrpc_svc_exit();
        return;
    default:
        svcerr_noproc(x);
    }
}

static void rpc_expect(CLIENT *cl, enum clnt_stat got, enum clnt_stat want,
                       const char *what)
{
    TH_CHECK(got == want, "node %d: %s: %s, expected %s", hw_self()->node, what,
             clnt_sperror(cl, what), clnt_sperrno(want));
}

static void rpc_client(struct conf_sync *s)
{
    conf_sync_await(s, 0, 1); /* the server is registered */
    CLIENT *cl = vrpc_clnt_create(0, RPROG, RVERS);
    TH_CHECK(cl != NULL, "node %d: vrpc_clnt_create: %s", s->me, vrpc_errmsg());
    if (!cl)
        return;
    struct timeval tv = {20, 0};
    rpc_expect(cl, clnt_call(cl, 0, xdr_none, NULL, xdr_none, NULL, tv),
               RPC_SUCCESS, "null");
    for (int k = 0; k < 5; k++) {
        int a = 1000 * s->me + k, r = 0;
        rpc_expect(cl,
                   clnt_call(cl, RP_ECHO_INT, (xdrproc_t)xdr_int, (char *)&a,
                             (xdrproc_t)xdr_int, (char *)&r, tv),
                   RPC_SUCCESS, "echo int");
        EQ(r, -a);
    }
    /* A short string and one of several chunks. */
    static const size_t slen[] = {5, 20000};
    for (int i = 0; i < 2; i++) {
        char *str = malloc(slen[i] + 1), *back = NULL;
        for (size_t k = 0; k < slen[i]; k++)
            str[k] = (char)('a' + (k * 7 + (size_t)s->me) % 26);
        str[slen[i]] = 0;
        rpc_expect(cl,
                   clnt_call(cl, RP_ECHO_STR, (xdrproc_t)xdr_str, (char *)&str,
                             (xdrproc_t)xdr_str, (char *)&back, tv),
                   RPC_SUCCESS, "echo string");
        TH_CHECK(back && !strcmp(back, str),
                 "node %d: string of %zu came back wrong", s->me, slen[i]);
        clnt_freeres(cl, (xdrproc_t)xdr_str, (char *)&back);
        free(str);
    }
    int a = 1, r = 0;
    rpc_expect(cl,
               clnt_call(cl, 42, (xdrproc_t)xdr_int, (char *)&a,
                         (xdrproc_t)xdr_int, (char *)&r, tv),
               RPC_PROCUNAVAIL, "unknown procedure");
    struct rpc_err e;
    clnt_geterr(cl, &e);
    EQ(e.re_status, RPC_PROCUNAVAIL);
    /* The handle still works after the error. */
    rpc_expect(cl, clnt_call(cl, 0, xdr_none, NULL, xdr_none, NULL, tv),
               RPC_SUCCESS, "null after an error");
    rpc_expect(cl, clnt_call(cl, RP_BYE, xdr_none, NULL, xdr_none, NULL, tv),
               RPC_SUCCESS, "bye");
    clnt_destroy(cl);
}

static void rpc_body(hw_host *h, void *arg)
{
    (void)arg;
    struct conf_sync s;
    if (lib_begin(&s, h))
        return;
    if (s.me == 0) {
        byes = 0;
        SVCXPRT *x = vrpc_svc_create();
        TH_CHECK(x != NULL, "vrpc_svc_create: %s", vrpc_errmsg());
        if (x) {
            EQ(vrpc_svc_register(x, RPROG, RVERS, rpc_dispatch), VS_OK);
            for (int k = 1; k < s.n; k++)
                conf_sync_signal(&s, k, 1);
            EQ(vrpc_svc_run(), VS_OK);
            EQ(byes, s.n - 1);
            struct vrpc_stats st;
            vrpc_get_stats(&st);
            /* Per client: 2 null, 5 int, 2 string, 1 bye (and the unknown
             * procedure, answered with an error). */
            TH_CHECK(st.served >= (unsigned long)(10 * (s.n - 1)),
                     "served %lu calls", st.served);
        }
    } else {
        rpc_client(&s);
    }
    lib_end(&s);
}

/* ---- svm ---- */

#define SVM_ROUNDS 25
#define SVM_PAGE 4096

static void svm_body(hw_host *h, void *arg)
{
    (void)arg;
    struct conf_sync s;
    if (lib_begin(&s, h))
        return;
    conf_sync_all(&s);
    int n = s.n, me = s.me;
    volatile uint32_t *base = NULL;
    void *b = NULL;
    EQ(svm_init((size_t)(n + 1) * SVM_PAGE, &b), VS_OK);
    base = b;
    if (base) {
        EQ(svm_node(), me);
        EQ(svm_nnodes(), n);
        /* A counter in the first page under lock 3; every node's
         * increments interleave. */
        for (int k = 0; k < SVM_ROUNDS; k++) {
            EQ(svm_lock_acquire(3), VS_OK);
            base[0] = base[0] + 1;
            base[1 + me] = base[1 + me] + 1;
            EQ(svm_lock_release(3), VS_OK);
        }
        /* Each node fills its own page (page me + 1), unlocked. */
        volatile uint32_t *mine = base + (size_t)(me + 1) * SVM_PAGE / 4;
        for (size_t k = 0; k < SVM_PAGE / 4; k++)
            mine[k] = (uint32_t)(me * 100000 + (int)k);
        EQ(svm_barrier(), VS_OK);
        EQ(base[0], (uint32_t)(n * SVM_ROUNDS));
        for (int p = 0; p < n; p++)
            EQ(base[1 + p], SVM_ROUNDS);
        int bad = 0;
        for (int p = 0; p < n; p++) {
            const volatile uint32_t *pg = base + (size_t)(p + 1) * SVM_PAGE / 4;
            for (size_t k = 0; k < SVM_PAGE / 4; k++)
                bad += pg[k] != (uint32_t)(p * 100000 + (int)k);
        }
        TH_CHECK(bad == 0, "node %d: %d words of the pages differ", me, bad);
        EQ(svm_barrier(), VS_OK); /* nobody writes while others read */
        EQ(svm_finalize(), VS_OK);
    }
    lib_end(&s);
}

/* ---- Registration ---- */

static void run_lib(const struct conf_backend *b, void (*fn)(hw_host *, void *))
{
    struct conf_case c = {.nodes = 4, .node_main = fn};
    struct conf_result r;
    conf_run(b, &c, &r);
    CU_ASSERT_EQUAL(r.malformed, 0);
    CU_ASSERT_EQUAL(r.peer_failures, 0);
    CU_ASSERT(r.packets_out > 0);
}

#define LIB_CASES(X)                                                           \
    X(msg, "msg: point to point and collectives on 4 nodes", msg_body)         \
    X(sock, "sock: one server, three clients, refused connects", sock_body)    \
    X(rpc, "rpc: null, echo, unknown procedure from three clients", rpc_body)  \
    X(svm, "svm: a locked counter and barrier visibility", svm_body)

#define LIB_FN_(id, name, fn)                                                  \
    static void lsim_##id(void)                                                \
    {                                                                          \
        run_lib(&conf_sim, fn);                                                \
    }                                                                          \
    static void lemu_##id(void)                                                \
    {                                                                          \
        run_lib(&conf_emu, fn);                                                \
    }
LIB_CASES(LIB_FN_)
#undef LIB_FN_

void register_conf_libs_sim_tests(void);
void register_conf_libs_sim_tests(void)
{
    CU_pSuite s = th_suite("conf-libs-sim");
#define LIB_ADD_(id, name, fn) th_add(s, name, lsim_##id);
    LIB_CASES(LIB_ADD_)
#undef LIB_ADD_
}

void register_conf_libs_emu_tests(void);
void register_conf_libs_emu_tests(void)
{
    CU_pSuite s = th_suite("conf-libs-emu");
#define LIB_ADD_(id, name, fn) th_add(s, name, lemu_##id);
    LIB_CASES(LIB_ADD_)
#undef LIB_ADD_
}
