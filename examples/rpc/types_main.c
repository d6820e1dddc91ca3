/*
 * examples/rpc/types_main.c: a client and a server of the interface in
 * types.x over libs/rpc, with rpcgen's stubs unchanged.  Run with
 * vmmcsim exec: node 0 serves, every other node calls and checks the
 * answers, then says BYE; the server ends after the last BYE.
 *
 *   rpcgen -h -o types.h types.x; rpcgen -c -o types_xdr.c types.x
 *   rpcgen -l -o types_clnt.c types.x; rpcgen -m -o types_svc.c types.x
 *   build/vmmcsim-cc -I. -o types types_main.c types_*.c
 *   build/vmmcsim exec -n 3 ./types            (every check; exit 0)
 *   build/vmmcsim exec -n 2 ./types bench N    (CSV of simulated times)
 *
 * Each client prints one line per check group; any wrong answer prints
 * "FAIL" with what differed and the node exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libs/rpc/vrpc.h"
#include "types.h"

static int nfail;
static int me;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            nfail++;                                                        \
            printf("node %d: FAIL %s:%d: ", me, __FILE__, __LINE__);       \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
        }                                                                   \
    } while (0)

/* ---- The server's procedures (called by rpcgen's types_prog_1) ---- */

static int nclients, byes;
static everything echoed; /* ECHO's answer, freed at the next call */
static blob made;      /* MAKE's */

everything *echo_1_svc(everything *a, struct svc_req *rq)
{
    (void)rq;
    xdr_free((xdrproc_t)xdr_everything, &echoed);
    memset(&echoed, 0, sizeof echoed);
    echoed.i = a->i + 1;
    echoed.u = a->u * 2;
    echoed.h = a->h - 1;
    echoed.uh = a->uh + 1;
    echoed.f = a->f * 2;
    echoed.d = a->d / 2;
    echoed.b = !a->b;
    echoed.c = (color)((a->c + 1) % 3);
    echoed.p.x = a->p.y;
    echoed.p.y = a->p.x;
    echoed.s.c = a->s.c;
    if (a->s.c == RED)
        echoed.s.shape_u.radius = a->s.shape_u.radius + 1;
    else if (a->s.c == GREEN)
        echoed.s.shape_u.corner = (point){a->s.shape_u.corner.y,
                                     a->s.shape_u.corner.x};
    for (int k = 0; k < NFIX; k++)
        echoed.fixed[k] = a->fixed[NFIX - 1 - k];
    echoed.var.var_len = a->var.var_len;
    echoed.var.var_val = calloc(a->var.var_len + 1, sizeof(int));
    for (u_int k = 0; k < a->var.var_len; k++)
        echoed.var.var_val[k] = a->var.var_val[k] + 1;
    size_t nl = strlen(a->name);
    echoed.name = malloc(nl + 2);
    snprintf(echoed.name, nl + 2, "%s!", a->name);
    for (int k = 0; k < 8; k++)
        echoed.ofix[k] = (char)(a->ofix[k] ^ 0xff);
    echoed.ovar.ovar_len = a->ovar.ovar_len;
    echoed.ovar.ovar_val = malloc(a->ovar.ovar_len + 1);
    for (u_int k = 0; k < a->ovar.ovar_len; k++)
        echoed.ovar.ovar_val[k] = a->ovar.ovar_val[a->ovar.ovar_len - 1 - k];
    if (a->maybe) {
        echoed.maybe = malloc(sizeof *echoed.maybe);
        *echoed.maybe = (point){a->maybe->x + a->maybe->y, 0};
    }
    list *tail = &echoed.items;
    for (item *it = a->items; it; it = it->next) {
        *tail = calloc(1, sizeof **tail);
        (*tail)->value = it->value * 10;
        tail = &(*tail)->next;
    }
    return &echoed;
}

int *sum_1_svc(list *l, struct svc_req *rq)
{
    static int s;
    (void)rq;
    s = 0;
    for (item *it = *l; it; it = it->next)
        s += it->value;
    return &s;
}

static unsigned checksum(const char *p, size_t n)
{
    unsigned s = 0;
    for (size_t k = 0; k < n; k++)
        s = s * 31u + (unsigned char)p[k];
    return s;
}

u_int *checksum_1_svc(blob *b, struct svc_req *rq)
{
    static u_int s;
    (void)rq;
    s = checksum(b->data.data_val, b->data.data_len);
    return &s;
}

blob *make_1_svc(u_int *n, struct svc_req *rq)
{
    (void)rq;
    free(made.data.data_val);
    made.data.data_len = *n;
    made.data.data_val = malloc(*n + 1);
    for (u_int k = 0; k < *n; k++)
        made.data.data_val[k] = (char)(k * 7 + 3);
    return &made;
}

void *bye_1_svc(void *v, struct svc_req *rq)
{
    static char ok;
    (void)v;
    (void)rq;
    if (++byes == nclients) {
        vrpc_svc_exit();
        xdr_free((xdrproc_t)xdr_everything, &echoed);
        xdr_free((xdrproc_t)xdr_blob, &made);
    }
    return &ok;
}

/* rpcgen -m writes the dispatch function but types.h does not declare it. */
void types_prog_1(struct svc_req *rq, SVCXPRT *xprt);

static int serve(void)
{
    SVCXPRT *x = vrpc_svc_create();
    if (!x || vrpc_svc_register(x, TYPES_PROG, TYPES_V1, types_prog_1)) {
        printf("node 0: FAIL server: %s\n", vrpc_errmsg());
        return 1;
    }
    int rc = vrpc_svc_run();
    printf("node 0: served %d clients (%d)\n", nclients, rc);
    return rc != 0;
}

/* ---- The client ---- */

static void check_echo(CLIENT *cl, int variant)
{
    int var[5] = {1, -2, 3, 2147483647, -2147483647 - 1};
    char ovar[300];
    for (int k = 0; k < 300; k++)
        ovar[k] = (char)(k + variant);
    item i3 = {3, NULL}, i2 = {-20, &i3}, i1 = {100, &i2};
    point pm = {40, 2};
    everything a = {
        .i = -5 + variant,
        .u = 4000000000u / 2,
        .h = -1234567890123LL * (variant + 1),
        .uh = 18000000000000000000ull,
        .f = 1.5f,
        .d = -3.25e100,
        .b = variant & 1,
        .c = (color)(variant % 3),
        .p = {7, -8},
        .fixed = {1, 2, 3, 4},
        .var = {(u_int)(variant % 6), var},
        .name = variant ? "vmmc rpc" : "",
        .ofix = {0, 1, 2, 3, 4, 5, 6, (char)0xff},
        .ovar = {variant ? 300u : 0u, ovar},
        .maybe = variant & 1 ? &pm : NULL,
        .items = variant ? &i1 : NULL,
    };
    a.s.c = a.c;
    if (a.c == RED)
        a.s.shape_u.radius = 9;
    else if (a.c == GREEN)
        a.s.shape_u.corner = (point){5, 6};
    everything *r = echo_1(&a, cl);
    CHECK(r, "echo: %s", clnt_sperror(cl, "echo"));
    if (!r)
        return;
    CHECK(r->i == a.i + 1 && r->u == a.u * 2 && r->h == a.h - 1 &&
              r->uh == a.uh + 1,
          "echo integers (variant %d)", variant);
    CHECK(r->f == 3.0f && r->d == a.d / 2, "echo floating point");
    CHECK(r->b == !a.b && r->c == (color)((a.c + 1) % 3), "echo bool/enum");
    CHECK(r->p.x == -8 && r->p.y == 7, "echo struct");
    CHECK(r->s.c == a.s.c, "echo union discriminant %d", r->s.c);
    if (a.c == RED)
        CHECK(r->s.shape_u.radius == 10, "echo union arm int");
    if (a.c == GREEN)
        CHECK(r->s.shape_u.corner.x == 6 && r->s.shape_u.corner.y == 5,
              "echo union arm struct");
    CHECK(r->fixed[0] == 4 && r->fixed[3] == 1, "echo fixed array");
    CHECK(r->var.var_len == a.var.var_len, "echo variable array length %u",
          r->var.var_len);
    for (u_int k = 0; k < r->var.var_len && k < a.var.var_len; k++)
        CHECK(r->var.var_val[k] == (int)((unsigned)var[k] + 1u),
              "echo variable array [%u]", k);
    char want[80];
    snprintf(want, sizeof want, "%s!", a.name);
    CHECK(r->name && !strcmp(r->name, want), "echo string '%s'",
          r->name ? r->name : "(null)");
    CHECK((unsigned char)r->ofix[7] == 0 && (unsigned char)r->ofix[0] == 0xff,
          "echo fixed opaque");
    CHECK(r->ovar.ovar_len == a.ovar.ovar_len, "echo opaque length");
    for (u_int k = 0; k < r->ovar.ovar_len && k < a.ovar.ovar_len; k++)
        CHECK(r->ovar.ovar_val[k] == ovar[a.ovar.ovar_len - 1 - k],
              "echo variable opaque [%u]", k);
    CHECK(!r->maybe == !a.maybe, "echo optional data present");
    if (r->maybe && a.maybe)
        CHECK(r->maybe->x == 42, "echo optional data");
    int want_items[3] = {1000, -200, 30}, n = 0;
    for (item *it = r->items; it; it = it->next, n++)
        CHECK(n < 3 && it->value == want_items[n], "echo list [%d]", n);
    CHECK(n == (variant ? 3 : 0), "echo list length %d", n);
    clnt_freeres(cl, (xdrproc_t)xdr_everything, (char *)r);
}

static void check_bulk(CLIENT *cl, u_int len)
{
    blob b = {{len, malloc(len + 1)}};
    for (u_int k = 0; k < len; k++)
        b.data.data_val[k] = (char)(k * 13 + me);
    u_int *s = checksum_1(&b, cl);
    CHECK(s && *s == checksum(b.data.data_val, len),
          "bulk argument of %u bytes: %s", len,
          s ? "wrong checksum" : clnt_sperror(cl, "checksum"));
    free(b.data.data_val);
    blob *r = make_1(&len, cl);
    CHECK(r && r->data.data_len == len, "bulk result of %u bytes: %s", len,
          r ? "wrong length" : clnt_sperror(cl, "make"));
    for (u_int k = 0; r && k < r->data.data_len; k++)
        if (r->data.data_val[k] != (char)(k * 7 + 3)) {
            CHECK(0, "bulk result byte %u", k);
            break;
        }
    if (r)
        clnt_freeres(cl, (xdrproc_t)xdr_blob, (char *)r);
}

static enum clnt_stat call_status(CLIENT *cl, rpcproc_t proc)
{
    struct timeval tv = {5, 0};
    return clnt_call(cl, proc, (xdrproc_t)xdr_void, NULL,
                     (xdrproc_t)xdr_void, NULL, tv);
}

static void check_errors(CLIENT *cl)
{
    CHECK(call_status(cl, 99) == RPC_PROCUNAVAIL, "unknown procedure: %s",
          clnt_sperror(cl, "proc 99"));
    CLIENT *bad = vrpc_clnt_create(0, 0x2000dead, 1);
    CHECK(bad && call_status(bad, 0) == RPC_PROGUNAVAIL,
          "unknown program: %s", bad ? clnt_sperror(bad, "prog") : "create");
    if (bad)
        clnt_destroy(bad);
    bad = vrpc_clnt_create(0, TYPES_PROG, 7);
    struct rpc_err e = {0};
    CHECK(bad && call_status(bad, 0) == RPC_PROGVERSMISMATCH,
          "unknown version: %s", bad ? clnt_sperror(bad, "vers") : "create");
    if (bad) {
        clnt_geterr(bad, &e);
        CHECK(e.re_vers.low == 1 && e.re_vers.high == 1,
              "version range %lu..%lu", (unsigned long)e.re_vers.low,
              (unsigned long)e.re_vers.high);
        clnt_destroy(bad);
    }
}

static hw_time_t now(void)
{
    hw_host *h = hw_self();
    return h->ops->now(h);
}

static int bench(CLIENT *cl, int count)
{
    struct timeval tv = {25, 0};
    call_status(cl, NULLPROC); /* the first call pays for pinning */
    hw_time_t t0 = now();
    for (int k = 0; k < count; k++)
        if (clnt_call(cl, NULLPROC, (xdrproc_t)xdr_void, NULL,
                      (xdrproc_t)xdr_void, NULL, tv) != RPC_SUCCESS)
            return 1;
    double null_us = (double)(now() - t0) / count / HW_US;
    printf("null_rtt_us,%.3f\n", null_us);
    static const u_int sizes[] = {4, 1024, 8192, 65536, 262144};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        blob b = {{sizes[s], calloc(sizes[s] + 1, 1)}};
        checksum_1(&b, cl);
        t0 = now();
        int ok = 1;
        for (int k = 0; k < count && ok; k++)
            ok = checksum_1(&b, cl) != NULL;
        double us = (double)(now() - t0) / count / HW_US;
        free(b.data.data_val);
        if (!ok)
            return 1;
        printf("bulk_arg,%u,%.3f,%.3f\n", sizes[s], us, sizes[s] / us);
    }
    return 0;
}

int main(int argc, char **argv)
{
    hw_host *h = hw_self();
    me = h->node;
    nclients = h->nnodes - 1;
    int bench_n = argc > 2 && !strcmp(argv[1], "bench") ? atoi(argv[2]) : 0;
    if (argc > 1 && !bench_n) {
        fprintf(stderr, "usage: types [bench COUNT]\n");
        return 2;
    }
    if (me == 0)
        return serve();
    CLIENT *cl = vrpc_clnt_create(0, TYPES_PROG, TYPES_V1);
    if (!cl) {
        printf("node %d: FAIL %s (%s)\n", me, clnt_spcreateerror("create"),
               vrpc_errmsg());
        return 1;
    }
    if (bench_n) {
        if (me == 1)
            nfail += bench(cl, bench_n);
    } else {
        for (int v = 0; v < 4; v++)
            check_echo(cl, v);
        printf("node %d: echo %s\n", me, nfail ? "FAIL" : "ok");
        item i2 = {5, NULL}, i1 = {-7, &i2};
        list l = &i1;
        int *s = sum_1(&l, cl);
        CHECK(s && *s == -2, "sum of a list");
        check_bulk(cl, 0);
        check_bulk(cl, 8176);
        check_bulk(cl, 65536);
        check_bulk(cl, 100003 & ~3u);
        printf("node %d: bulk %s\n", me, nfail ? "FAIL" : "ok");
        check_errors(cl);
        printf("node %d: errors %s\n", me, nfail ? "FAIL" : "ok");
    }
    CHECK(bye_1(NULL, cl) != NULL, "bye: %s", clnt_sperror(cl, "bye"));
    clnt_destroy(cl);
    printf("node %d: %s\n", me, nfail ? "FAILED" : "all ok");
    printf("node %d: done at %.3f us\n", me, (double)now() / HW_US);
    return nfail != 0;
}
