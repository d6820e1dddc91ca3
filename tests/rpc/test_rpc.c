/*
 * libs/rpc: ONC RPC over VMMC.
 *
 * In process (th_run_sim, node 0 serves, node 1 calls, with hand-written
 * XDR procedures): the fast path (one chunk each way, no credit writes),
 * chunked records both ways, the clnt_stat of every error a libtirpc
 * program expects (unknown program, version with its range, procedure,
 * undecodable arguments, a server that answers too late, a server whose
 * program ends mid-call, no server, a bad node), the API's misuse errors,
 * and exact simulated-time timeouts.
 *
 * Through vmmcsim exec: examples/rpc/types.x compiled by rpcgen, its
 * stubs unchanged, built by vmmcsim-cc with examples/rpc/types_main.c;
 * every rpcgen type round-trips, the errors come back, and the same run
 * on a platform with the fault model on gives the same answers.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libs/node/node.h"
#include "libs/rpc/vrpc.h"
#include "tests/cli/exec_helpers.h"
#include "tests/harness.h"

#define PROG 0x20005555u

/* TH_EXPECT_EQ for inside a simulation (a child process). */
#define EQ(got, want)                                                          \
    TH_CHECK((long long)(got) == (long long)(want),                            \
             "%s = %lld, expected %lld", #got, (long long)(got),               \
             (long long)(want))
#define CHUNK 8176u /* VRPC_CHUNK */

struct bytes {
    char *p;
    u_int n;
};

static bool_t xdr_bytes_arg(XDR *x, struct bytes *b)
{
    return xdr_bytes(x, &b->p, &b->n, ~0u);
}

/* xdr_void's prototype (no parameters) cannot be cast to xdrproc_t under
 * -Wextra; this is the same procedure. */
static bool_t xdr_nothing(XDR *x, ...)
{
    (void)x;
    return TRUE;
}

/* ---- The server: a dispatch function like rpcgen's ---- */

/* The server's counters after its last "add" (the nodes share the
 * process, so the client reads them). */
static struct vrpc_stats srv_st;
static int bytes_calls; /* procedure 4 dispatched */

static void dispatch(struct svc_req *rq, SVCXPRT *x)
{
    hw_host *h = hw_self();
    int a = 0;
    switch (rq->rq_proc) {
    case 0:
        svc_sendreply(x, xdr_nothing, NULL);
        return;
    case 1: /* add one */
    case 2: /* slow: double it 50 ms later */
        if (!svc_getargs(x, (xdrproc_t)xdr_int, (char *)&a)) {
            svcerr_decode(x);
            return;
        }
        vrpc_get_stats(&srv_st);
        if (rq->rq_proc == 2) {
            h->ops->compute(h, 50 * HW_MS);
            a *= 2;
        } else {
            a += 1;
        }
        svc_sendreply(x, (xdrproc_t)xdr_int, (char *)&a);
        return;
    case 3: /* the server's program ends without answering */
        vrpc_svc_exit();
        return;
    case 4: { /* answers with the bytes xor 0x5a */
        bytes_calls++;
        struct bytes b = {0};
        if (!svc_getargs(x, (xdrproc_t)xdr_bytes_arg, (char *)&b)) {
            svcerr_decode(x);
            return;
        }
        struct bytes r = {malloc(b.n + 1), b.n};
        for (u_int k = 0; k < b.n; k++)
            r.p[k] = (char)(b.p[k] ^ 0x5a);
        svc_sendreply(x, (xdrproc_t)xdr_bytes_arg, (char *)&r);
        free(r.p);
        svc_freeargs(x, (xdrproc_t)xdr_bytes_arg, (char *)&b);
        return;
    }
    default:
        svcerr_noproc(x);
    }
}

static void server(hw_host *h)
{
    (void)h;
    SVCXPRT *x = vrpc_svc_create();
    TH_CHECK(x && vrpc_svc_create() == x, "vrpc_svc_create: %s", vrpc_errmsg());
    if (!x)
        return;
    TH_EXPECT_RC(vrpc_svc_register(x, PROG, 1, dispatch), VS_OK);
    TH_EXPECT_RC(vrpc_svc_register(x, PROG, 3, dispatch), VS_OK);
    TH_EXPECT_RC(vrpc_svc_register(x, PROG, 1, dispatch), VS_OK);
    TH_EXPECT_RC(vrpc_svc_register(x, PROG, 4, dispatch), VS_OK);
    TH_EXPECT_RC(vrpc_svc_unregister(PROG, 4), VS_OK);
    TH_EXPECT_RC(vrpc_svc_unregister(PROG, 4), VS_ENOENT);
    TH_EXPECT_RC(vrpc_svc_register(x, PROG, 5, NULL), VS_EINVAL);
    TH_EXPECT_RC(vrpc_svc_register(NULL, PROG, 5, dispatch), VS_EINVAL);
    /* Serves until procedure 3; the node's end tells the client. */
    TH_EXPECT_RC(vrpc_svc_run(), VS_OK);
    struct vrpc_stats st;
    vrpc_get_stats(&st);
    TH_CHECK(st.served >= 10, "served %lu calls", st.served);
}

/* ---- The client ---- */

static enum clnt_stat call_int(CLIENT *cl, rpcproc_t proc, int a, int *r,
                               long secs)
{
    struct timeval tv = {secs, 0};
    return clnt_call(cl, proc, (xdrproc_t)xdr_int, (char *)&a,
                     (xdrproc_t)xdr_int, (char *)r, tv);
}

static void expect_stat(CLIENT *cl, enum clnt_stat got, enum clnt_stat want,
                        const char *what)
{
    TH_CHECK(got == want, "%s: %s, expected %s", what, clnt_sperror(cl, what),
             clnt_sperrno(want));
}

static void client_fast_path(hw_host *h, CLIENT *cl)
{
    struct vrpc_stats a, b;
    int r = 0;
    expect_stat(cl, call_int(cl, 1, 41, &r, 5), RPC_SUCCESS, "add");
    TH_CHECK(r == 42, "add gave %d", r);
    vrpc_get_stats(&a);
    struct vrpc_stats sa = srv_st;
    hw_time_t t0 = h->ops->now(h);
    for (int k = 0; k < 20; k++) {
        expect_stat(cl, call_int(cl, 1, k, &r, 5), RPC_SUCCESS, "add");
        TH_CHECK(r == k + 1, "add %d gave %d", k, r);
    }
    hw_time_t per = (h->ops->now(h) - t0) / 20;
    vrpc_get_stats(&b);
    /* One send each way per call, credits riding on the records. */
    EQ(b.calls - a.calls, 20);
    EQ(b.chunks_out - a.chunks_out, 20);
    EQ(b.chunks_in - a.chunks_in, 20);
    EQ(b.credit_writes - a.credit_writes, 0);
    EQ(srv_st.served - sa.served, 20);
    EQ(srv_st.chunks_in - sa.chunks_in, 20);
    EQ(srv_st.credit_writes - sa.credit_writes, 0);
    /* Two one-word VMMC latencies (9.8 us each on this profile) plus a
     * little: between 15 and 40 us a round trip. */
    TH_CHECK(per > 15 * HW_US && per < 40 * HW_US,
             "null-ish round trip %lld ps", (long long)per);
}

static void client_bulk(CLIENT *cl)
{
    static const u_int lens[] = {0,         1,     CHUNK - 64, CHUNK,
                                 CHUNK + 1, 65536, 300001};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        struct bytes in = {malloc(lens[i] + 1), lens[i]}, out = {0};
        for (u_int k = 0; k < lens[i]; k++)
            in.p[k] = (char)(k * 11 + i);
        struct vrpc_stats a, b;
        vrpc_get_stats(&a);
        struct timeval tv = {5, 0};
        enum clnt_stat st =
            clnt_call(cl, 4, (xdrproc_t)xdr_bytes_arg, (char *)&in,
                      (xdrproc_t)xdr_bytes_arg, (char *)&out, tv);
        vrpc_get_stats(&b);
        expect_stat(cl, st, RPC_SUCCESS, "bytes");
        TH_CHECK(out.n == in.n, "%u bytes came back as %u", in.n, out.n);
        size_t bad = 0;
        for (u_int k = 0; k < out.n && k < in.n; k++)
            bad += out.p[k] != (char)(in.p[k] ^ 0x5a);
        TH_CHECK(!bad, "%zu of %u bytes differ", bad, in.n);
        /* Header (about 40 bytes) plus the opaque's length word and
         * padding, in chunks of CHUNK bytes. */
        unsigned long want = (lens[i] + 48 + CHUNK - 1) / CHUNK;
        TH_CHECK(b.chunks_out - a.chunks_out == want,
                 "%u bytes took %lu chunks, expected %lu", lens[i],
                 b.chunks_out - a.chunks_out, want);
        clnt_freeres(cl, (xdrproc_t)xdr_bytes_arg, (char *)&out);
        free(in.p);
    }
}

static enum clnt_stat call_bytes(CLIENT *cl, u_int len)
{
    struct bytes in = {calloc(len + 1, 1), len}, out = {0};
    struct timeval tv = {5, 0};
    enum clnt_stat st = clnt_call(cl, 4, (xdrproc_t)xdr_bytes_arg, (char *)&in,
                                  (xdrproc_t)xdr_bytes_arg, (char *)&out, tv);
    if (st == RPC_SUCCESS)
        clnt_freeres(cl, (xdrproc_t)xdr_bytes_arg, (char *)&out);
    free(in.p);
    return st;
}

static void set_timeout(CLIENT *cl, hw_time_t t)
{
    struct timeval tv = {(long)(t / (1000 * HW_MS)),
                         (long)(t % (1000 * HW_MS) / HW_US)};
    TH_CHECK(clnt_control(cl, CLSET_TIMEOUT, (char *)&tv), "CLSET_TIMEOUT");
}

/* Records cut short by a timeout, both ways; the next call works. */
static void client_cut_records(hw_host *h, CLIENT *cl)
{
    int r = 0, before = bytes_calls;
    /* The server busy 50 ms (a one-way call: zero timeout), a 300 KB
     * call fills the ring and gives up at 10 ms, mid-record. */
    set_timeout(cl, 0);
    expect_stat(cl, call_int(cl, 2, 1, &r, 5), RPC_TIMEDOUT, "one-way");
    set_timeout(cl, 10 * HW_MS);
    hw_time_t t0 = h->ops->now(h);
    expect_stat(cl, call_bytes(cl, 300000), RPC_TIMEDOUT, "cut call");
    EQ(h->ops->now(h) - t0, 10 * HW_MS);
    set_timeout(cl, 1000 * HW_MS);
    expect_stat(cl, call_int(cl, 1, 7, &r, 5), RPC_SUCCESS, "after cut call");
    TH_CHECK(r == 8, "the call after a cut call got %d, not 8", r);
    EQ(bytes_calls, before); /* the cut record was dropped */
    /* A reply cut short: three quarters of the whole call's time. */
    t0 = h->ops->now(h);
    expect_stat(cl, call_bytes(cl, 300000), RPC_SUCCESS, "300 KB call");
    hw_time_t whole = h->ops->now(h) - t0;
    set_timeout(cl, whole * 3 / 4);
    expect_stat(cl, call_bytes(cl, 300000), RPC_TIMEDOUT, "cut reply");
    EQ(bytes_calls, before + 2); /* it was served */
    set_timeout(cl, 1000 * HW_MS);
    expect_stat(cl, call_int(cl, 1, 9, &r, 5), RPC_SUCCESS, "after cut reply");
    TH_CHECK(r == 10, "the call after a cut reply got %d, not 10", r);
}

static void client_errors(hw_host *h, CLIENT *cl)
{
    int r = 0;
    struct rpc_err e;
    expect_stat(cl, call_int(cl, 9, 0, &r, 5), RPC_PROCUNAVAIL, "proc 9");
    clnt_geterr(cl, &e);
    TH_CHECK(e.re_status == RPC_PROCUNAVAIL, "clnt_geterr: %d", e.re_status);
    /* No argument where an int is expected. */
    struct timeval tv = {5, 0};
    expect_stat(
        cl,
        clnt_call(cl, 1, xdr_nothing, NULL, (xdrproc_t)xdr_int, (char *)&r, tv),
        RPC_CANTDECODEARGS, "no argument");
    CLIENT *p = vrpc_clnt_create(0, PROG + 1, 1);
    TH_CHECK(p != NULL, "create: %s", vrpc_errmsg());
    if (p) {
        expect_stat(p, call_int(p, 0, 0, &r, 5), RPC_PROGUNAVAIL, "prog");
        clnt_destroy(p);
    }
    p = vrpc_clnt_create(0, PROG, 2);
    if (p) {
        expect_stat(p, call_int(p, 0, 0, &r, 5), RPC_PROGVERSMISMATCH, "vers");
        clnt_geterr(p, &e);
        TH_CHECK(e.re_vers.low == 1 && e.re_vers.high == 3,
                 "version range %lu..%lu", (unsigned long)e.re_vers.low,
                 (unsigned long)e.re_vers.high);
        u_int32_t v = 3;
        TH_CHECK(clnt_control(p, CLSET_VERS, (char *)&v), "CLSET_VERS");
        expect_stat(p, call_int(p, 1, 1, &r, 5), RPC_SUCCESS, "vers 3");
        clnt_destroy(p);
    }
    /* Too late: a 10 ms timeout against a 50 ms procedure, exactly then
     * in simulated time; the late answer is skipped by the next call. */
    struct timeval t10 = {0, 10000};
    TH_CHECK(clnt_control(cl, CLSET_TIMEOUT, (char *)&t10), "CLSET_TIMEOUT");
    hw_time_t t0 = h->ops->now(h);
    expect_stat(cl, call_int(cl, 2, 21, &r, 5), RPC_TIMEDOUT, "slow");
    EQ(h->ops->now(h) - t0, 10 * HW_MS);
    struct timeval t1s = {1, 0};
    clnt_control(cl, CLSET_TIMEOUT, (char *)&t1s);
    expect_stat(cl, call_int(cl, 1, 7, &r, 5), RPC_SUCCESS, "after slow");
    TH_CHECK(r == 8, "the call after a timeout got %d, not 8", r);
    client_cut_records(h, cl);
    struct timeval g;
    TH_CHECK(clnt_control(cl, CLGET_TIMEOUT, (char *)&g) && g.tv_sec == 1,
             "CLGET_TIMEOUT");
    TH_CHECK(!clnt_control(cl, 9999, (char *)&g), "unknown clnt_control");
}

static void client(hw_host *h)
{
    TH_CHECK(vrpc_clnt_create(1, PROG, 1) == NULL &&
                 rpc_createerr.cf_stat == RPC_UNKNOWNHOST,
             "a client of itself");
    TH_CHECK(vrpc_clnt_create(99, PROG, 1) == NULL &&
                 rpc_createerr.cf_stat == RPC_UNKNOWNHOST,
             "a client of node 99");
    CLIENT *cl = vrpc_clnt_create(0, PROG, 1);
    TH_CHECK(cl != NULL, "create: %s (%s)", clnt_spcreateerror("create"),
             vrpc_errmsg());
    if (!cl)
        return;
    client_fast_path(h, cl);
    client_bulk(cl);
    client_errors(h, cl);
    /* The server's program ends during this call. */
    int r = 0;
    expect_stat(cl, call_int(cl, 3, 0, &r, 5), RPC_CANTRECV, "lost");
    TH_CHECK(h->ops->now(h) < 5000 * HW_MS, "the lost call took %lld ps",
             (long long)h->ops->now(h));
    expect_stat(cl, call_int(cl, 1, 0, &r, 5), RPC_CANTSEND, "after end");
    clnt_destroy(cl);
    TH_CHECK(vrpc_clnt_create(0, PROG, 1) == NULL &&
                 rpc_createerr.cf_stat == RPC_SYSTEMERROR,
             "a client of an ended server: %d", rpc_createerr.cf_stat);
}

static void rpc_main(hw_host *h, void *arg)
{
    (void)arg;
    if (h->node == 0)
        server(h);
    else
        client(h);
    TH_EXPECT_RC(node_end(), VS_OK);
}

static void test_inproc(void)
{
    struct th_sim s = {.platform = TH_PLATFORM_2, .node_main = rpc_main};
    th_run_sim(&s, 0);
}

/* No server on node 0: the create waits a second of simulated time. */
static void noserver_main(hw_host *h, void *arg)
{
    (void)arg;
    if (h->node == 1) {
        CLIENT *cl = vrpc_clnt_create(0, PROG, 1);
        TH_CHECK(!cl && rpc_createerr.cf_stat == RPC_SYSTEMERROR,
                 "create with no server: %d", rpc_createerr.cf_stat);
        TH_CHECK(strstr(vrpc_errmsg(), "importing export 56 of node 0"),
                 "message '%s'", vrpc_errmsg());
        TH_CHECK(h->ops->now(h) >= 1000 * HW_MS, "gave up at %lld ps",
                 (long long)h->ops->now(h));
        TH_CHECK(vrpc_svc_run() == VS_EINVAL, "svc_run without a transport");
    }
    TH_EXPECT_RC(node_end(), VS_OK);
}

static void test_no_server(void)
{
    struct th_sim s = {.platform = TH_PLATFORM_2, .node_main = noserver_main};
    th_run_sim(&s, 0);
}

/* A node both server and client: node 0's procedure calls node 2's
 * server while node 1's call to node 0 waits. */
#define PROG_B (PROG + 7)

static void dispatch_b(struct svc_req *rq, SVCXPRT *x)
{
    int a = 0;
    if (rq->rq_proc != 1 || !svc_getargs(x, (xdrproc_t)xdr_int, (char *)&a)) {
        svcerr_noproc(x);
        return;
    }
    a *= 3;
    svc_sendreply(x, (xdrproc_t)xdr_int, (char *)&a);
    if (a == 0)
        vrpc_svc_exit();
}

static CLIENT *to_b;

static void dispatch_a(struct svc_req *rq, SVCXPRT *x)
{
    int a = 0, b = -1;
    if (rq->rq_proc != 1 || !svc_getargs(x, (xdrproc_t)xdr_int, (char *)&a)) {
        svcerr_noproc(x);
        return;
    }
    enum clnt_stat st = call_int(to_b, 1, a, &b, 5);
    TH_CHECK(st == RPC_SUCCESS, "nested call: %s", clnt_sperrno(st));
    b += 1;
    svc_sendreply(x, (xdrproc_t)xdr_int, (char *)&b);
    if (a == 0)
        vrpc_svc_exit();
}

static void nested_main(hw_host *h, void *arg)
{
    (void)arg;
    int r = 0;
    if (h->node == 2) {
        SVCXPRT *x = vrpc_svc_create();
        TH_EXPECT_RC(vrpc_svc_register(x, PROG_B, 1, dispatch_b), VS_OK);
        TH_EXPECT_RC(vrpc_svc_run(), VS_OK);
    } else if (h->node == 0) {
        SVCXPRT *x = vrpc_svc_create();
        TH_EXPECT_RC(vrpc_svc_register(x, PROG, 1, dispatch_a), VS_OK);
        to_b = vrpc_clnt_create(2, PROG_B, 1);
        TH_CHECK(to_b != NULL, "create: %s", vrpc_errmsg());
        if (to_b) {
            TH_EXPECT_RC(vrpc_svc_run(), VS_OK);
            clnt_destroy(to_b);
        }
    } else if (h->node == 1) {
        CLIENT *cl = vrpc_clnt_create(0, PROG, 1);
        TH_CHECK(cl != NULL, "create: %s", vrpc_errmsg());
        for (int k = 5; cl && k >= 0; k--) {
            expect_stat(cl, call_int(cl, 1, k, &r, 5), RPC_SUCCESS, "nested");
            EQ(r, 3 * k + 1);
        }
        if (cl)
            clnt_destroy(cl);
    }
    TH_EXPECT_RC(node_end(), VS_OK);
}

static void test_nested(void)
{
    struct th_sim s = {.platform = TH_PLATFORM_8, .node_main = nested_main};
    th_run_sim(&s, 0);
}

/* ---- rpcgen's stubs through vmmcsim exec ---- */

static char out[65536];

/* Generates types.x's files with rpcgen in a new folder and builds the
 * example there; the program's path in prog. */
static int build_types(char *dir, char *prog)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    strcpy(dir, "/tmp/vmmcsim-rpc-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(prog, PATH_MAX, "%s/types", dir);
    int rc = th_sh(out, sizeof out,
                   "cd %s && cp %s/examples/rpc/types.x . && "
                   "rpcgen -h -o types.h types.x && "
                   "rpcgen -c -o types_xdr.c types.x && "
                   "rpcgen -l -o types_clnt.c types.x && "
                   "rpcgen -m -o types_svc.c types.x && "
                   "%s -O1 -I. -o types %s/examples/rpc/types_main.c "
                   "types_xdr.c types_clnt.c types_svc.c",
                   dir, cwd, th_vmmcsim_cc(), cwd);
    if (rc)
        fprintf(stderr, "building the rpcgen example failed (%d):\n%s\n", rc,
                out);
    return rc;
}

static void remove_dir(const char *dir)
{
    char o[256];
    th_sh(o, sizeof o, "rm -rf %s", dir);
}

static void expect_types_ok(int nclients)
{
    for (int k = 1; k <= nclients; k++) {
        char line[64];
        snprintf(line, sizeof line, "node %d: all ok\n", k);
        TH_EXPECT_HAS(out, line);
        snprintf(line, sizeof line, "node %d: errors ok\n", k);
        TH_EXPECT_HAS(out, line);
    }
    char line[64];
    snprintf(line, sizeof line, "node 0: served %d clients (0)\n", nclients);
    TH_EXPECT_HAS(out, line);
    TH_EXPECT_HAS_NOT(out, "FAIL");
}

static void test_rpcgen_types(void)
{
    char dir[64], prog[PATH_MAX];
    CU_ASSERT_EQUAL_FATAL(build_types(dir, prog), 0);
    int rc = th_sh(out, sizeof out, "%s exec -n 4 --platform %s %s",
                   th_vmmcsim(), TH_PLATFORM_8, prog);
    CU_ASSERT_EQUAL(rc, 0);
    expect_types_ok(3);
    char clean_end[64] = "", *e = strstr(out, "node 1: done at ");
    if (e)
        sscanf(e, "node 1: done at %63s", clean_end);
    TH_CHECK(e != NULL, "no end time in:\n%s", out);
    /* The same with the fault model on: lost, corrupted, duplicated and
     * reordered packets, which the VMMC-2 link protocol repairs. */
    char prof[TH_PATH_LEN];
    th_write_profile(prof, "rpcfaults",
                     "[faults]\ndrop = 0.02\ncorrupt = 0.01\ndup = 0.01\n"
                     "reorder = 0.02\nreorder_delay_max_ns = 20000\n");
    { /* one seed: the CI time budget */
        const int seed = 1;
        rc = th_sh(out, sizeof out,
                   "%s exec -n 4 --platform %s --profile %s --seed %d %s",
                   th_vmmcsim(), TH_PLATFORM_8, prof, seed, prog);
        CU_ASSERT_EQUAL(rc, 0);
        expect_types_ok(3);
        /* The faults did happen: the repairs took simulated time. */
        char end[64] = "";
        e = strstr(out, "node 1: done at ");
        if (e)
            sscanf(e, "node 1: done at %63s", end);
        TH_CHECK(e && strcmp(end, clean_end),
                 "seed %d: node 1 ended at %s us with faults, %s without", seed,
                 end, clean_end);
        if (rc)
            fprintf(stderr, "seed %d:\n%s\n", seed, out);
    }
    unlink(prof);
    /* The benchmark mode's figures. */
    rc = th_sh(out, sizeof out, "%s exec -n 2 %s bench 3", th_vmmcsim(), prog);
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "null_rtt_us,");
    TH_EXPECT_HAS(out, "bulk_arg,65536,");
    remove_dir(dir);
}

void register_rpc_tests(void);
void register_rpc_tests(void)
{
    CU_pSuite s = th_suite("rpc");
    th_add(s, "in process: fast path, chunks, errors", test_inproc);
    th_add(s, "no server", test_no_server);
    th_add(s, "a server that calls another server", test_nested);
    th_add(s, "rpcgen types through exec, with faults", test_rpcgen_types);
}
