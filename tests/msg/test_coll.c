/*
 * libs/msg collectives on 2, 3, 7 and 16 ranks (powers of two and not,
 * one and two switches): each result is compared with what the test
 * computes locally from every rank's input, at sizes on both sides of the
 * eager limit, from several roots.  The barrier is checked against every
 * rank's entry time (all ranks run in one process, so a shared table sees
 * them all), and a user receive with wildcards stays posted through all
 * collectives to prove they never match user messages.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "libs/msg/msg.h"
#include "tests/harness.h"
#include "tests/msg/msg_helpers.h"
#include "tests/vmmc/helpers.h"
#include "util/err.h"

#define L MSG_DEFAULT_EAGER_LIMIT
#define MAXR 16
#define NBAR 3

/* Entry times into each barrier, shared by the ranks (one process). */
static hw_time_t bar_in[NBAR][MAXR];

static void check_barrier(struct mt_node *n)
{
    for (int k = 0; k < NBAR; k++) {
        /* Ranks arrive in turn, the last one late. */
        n->h->ops->compute(n->h, (hw_time_t)(n->rank * 30 + k * 7) * HW_US);
        bar_in[k][n->rank] = n->h->ops->now(n->h) + 1;
        TH_EXPECT_RC(msg_barrier(n->c), VS_OK);
        hw_time_t now = n->h->ops->now(n->h);
        for (int q = 0; q < n->size; q++)
            TH_CHECK(bar_in[k][q] && bar_in[k][q] <= now + 1,
                     "rank %d left barrier %d before rank %d entered it",
                     n->rank, k, q);
    }
}

static void check_bcast(struct mt_node *n)
{
    static const size_t sizes[] = {0, 1, L + 1, 100000};
    unsigned char *buf = malloc(100000);
    int roots[] = {0, n->size - 1, n->size / 2};
    for (int ri = 0; ri < 3; ri++)
        for (int si = 0; si < 4; si++) {
            int root = roots[ri];
            size_t len = sizes[si];
            uint32_t seed = mt_seed(root, 0, 1, len);
            if (n->rank == root)
                th_pattern(buf, len, seed);
            else
                memset(buf, 0xEE, 100000);
            TH_EXPECT_RC(msg_bcast(n->c, buf, len, root), VS_OK);
            mt_expect_pattern(buf, len, seed, "bcast from root", (size_t)root);
        }
    free(buf);
}

/* ---- Reductions: inputs and the expected result ---- */

struct red_case {
    enum msg_dtype t;
    enum msg_op op;
};

static const struct red_case red_cases[] = {
    {MSG_INT32, MSG_SUM},   {MSG_INT64, MSG_PROD},  {MSG_UINT8, MSG_BOR},
    {MSG_INT16, MSG_MIN},   {MSG_UINT16, MSG_MAX},  {MSG_DOUBLE, MSG_SUM},
    {MSG_FLOAT, MSG_MAX},   {MSG_UINT32, MSG_BXOR}, {MSG_INT8, MSG_LAND},
    {MSG_UINT64, MSG_LOR},  {MSG_INT32, MSG_LXOR},  {MSG_DOUBLE, MSG_PROD},
    {MSG_UINT64, MSG_BAND}, {MSG_FLOAT, MSG_MIN},   {MSG_INT8, MSG_SUM},
    {MSG_FLOAT, MSG_SUM},   {MSG_UINT16, MSG_PROD},
};
#define NRED (sizeof red_cases / sizeof *red_cases)

static int is_float(enum msg_dtype t)
{
    return t == MSG_FLOAT || t == MSG_DOUBLE;
}

static int is_signed(enum msg_dtype t)
{
    return t == MSG_INT8 || t == MSG_INT16 || t == MSG_INT32 ||
           t == MSG_INT64 || is_float(t);
}

/* Rank r's element i: small integers (or powers of two for floating
 * products) so floating results are exact in any order. */
static double input(const struct red_case *k, int r, size_t i)
{
    if (k->op == MSG_PROD)
        return is_float(k->t) ? ldexp(1.0, (int)((r + i) % 3) - 1)
                              : (double)((r + i) % 3 + 1);
    double v = (double)((r * 7 + (int)i * 3) % 11);
    return is_signed(k->t) ? v - 3 : v;
}

static void store(enum msg_dtype t, void *p, size_t i, double v)
{
    unsigned char *b = (unsigned char *)p + i * msg_dtype_size(t);
    int64_t iv = (int64_t)v;
#define ST_(T, x)                                                              \
    do {                                                                       \
        T y_ = (T)(x);                                                         \
        memcpy(b, &y_, sizeof y_);                                             \
    } while (0)
    switch (t) {
    case MSG_INT8:
        ST_(int8_t, iv);
        break;
    case MSG_UINT8:
        ST_(uint8_t, iv);
        break;
    case MSG_INT16:
        ST_(int16_t, iv);
        break;
    case MSG_UINT16:
        ST_(uint16_t, iv);
        break;
    case MSG_INT32:
        ST_(int32_t, iv);
        break;
    case MSG_UINT32:
        ST_(uint32_t, iv);
        break;
    case MSG_INT64:
        ST_(int64_t, iv);
        break;
    case MSG_UINT64:
        ST_(uint64_t, iv);
        break;
    case MSG_FLOAT:
        ST_(float, v);
        break;
    default:
        ST_(double, v);
        break;
    }
#undef ST_
}

/* Element i as a double, for messages (the inputs are small integers). */
static double load(enum msg_dtype t, const void *p, size_t i)
{
    const unsigned char *b = (const unsigned char *)p + i * msg_dtype_size(t);
#define LD_(T)                                                                 \
    do {                                                                       \
        T y_;                                                                  \
        memcpy(&y_, b, sizeof y_);                                             \
        return (double)y_;                                                     \
    } while (0)
    switch (t) {
    case MSG_INT8:
        LD_(int8_t);
    case MSG_UINT8:
        LD_(uint8_t);
    case MSG_INT16:
        LD_(int16_t);
    case MSG_UINT16:
        LD_(uint16_t);
    case MSG_INT32:
        LD_(int32_t);
    case MSG_UINT32:
        LD_(uint32_t);
    case MSG_INT64:
        LD_(int64_t);
    case MSG_UINT64:
        LD_(uint64_t);
    case MSG_FLOAT:
        LD_(float);
    default:
        LD_(double);
    }
#undef LD_
}

/* The expected element: folds every rank's input in 64-bit arithmetic
 * (at most 3^16 for products, so exact), then stores it in the type,
 * which wraps it like the library's arithmetic does. */
static void expected(const struct red_case *k, int nranks, size_t i, void *out)
{
    if (is_float(k->t)) {
        double a = input(k, 0, i);
        for (int r = 1; r < nranks; r++) {
            double b = input(k, r, i);
            a = k->op == MSG_SUM    ? a + b
                : k->op == MSG_PROD ? a * b
                : k->op == MSG_MAX  ? (a > b ? a : b)
                                    : (a < b ? a : b);
        }
        store(k->t, out, 0, a);
        return;
    }
    uint64_t a = (uint64_t)(int64_t)input(k, 0, i);
    for (int r = 1; r < nranks; r++) {
        uint64_t b = (uint64_t)(int64_t)input(k, r, i);
        int64_t sa = (int64_t)a, sb = (int64_t)b;
        switch (k->op) {
        case MSG_SUM:
            a += b;
            break;
        case MSG_PROD:
            a *= b;
            break;
        case MSG_MAX:
            a = (uint64_t)(sa > sb ? sa : sb);
            break;
        case MSG_MIN:
            a = (uint64_t)(sa < sb ? sa : sb);
            break;
        case MSG_LAND:
            a = a && b;
            break;
        case MSG_LOR:
            a = a || b;
            break;
        case MSG_LXOR:
            a = !a != !b;
            break;
        case MSG_BAND:
            a &= b;
            break;
        case MSG_BOR:
            a |= b;
            break;
        default:
            a ^= b;
            break;
        }
    }
    /* Wrapped to the type's width by the conversion in store(). */
    store(k->t, out, 0, (double)(int64_t)a);
}

/* The expected result of case ki with counts[ci] elements on nranks
 * ranks.  Computed once and shared: the ranks run in one process. */
static const unsigned char *want_of(size_t ki, int ci, size_t cnt, int nranks)
{
    static unsigned char *cache[NRED][3];
    static int cache_n[NRED][3];
    const struct red_case *k = &red_cases[ki];
    size_t es = msg_dtype_size(k->t);
    if (!cache[ki][ci] || cache_n[ki][ci] != nranks) {
        free(cache[ki][ci]);
        cache[ki][ci] = malloc(cnt * es);
        for (size_t i = 0; i < cnt; i++)
            expected(k, nranks, i, cache[ki][ci] + i * es);
        cache_n[ki][ci] = nranks;
    }
    return cache[ki][ci];
}

static void check_reductions(struct mt_node *n)
{
    static const size_t counts[] = {1, 300, 3000};
    unsigned char *s = malloc(3000 * 8), *d = malloc(3000 * 8);
    for (size_t ki = 0; ki < NRED; ki++) {
        const struct red_case *k = &red_cases[ki];
        size_t es = msg_dtype_size(k->t);
        for (int ci = 0; ci < 3; ci++) {
            size_t cnt = counts[ci];
            int root = (int)(ki + (size_t)ci) % n->size;
            const unsigned char *want = want_of(ki, ci, cnt, n->size);
            for (size_t i = 0; i < cnt; i++)
                store(k->t, s, i, input(k, n->rank, i));
            for (int all = 0; all < 2; all++) {
                memset(d, 0xEE, cnt * es);
                int rc = all ? msg_allreduce(n->c, s, d, cnt, k->t, k->op)
                             : msg_reduce(n->c, s, d, cnt, k->t, k->op, root);
                TH_EXPECT_RC(rc, VS_OK);
                if ((!all && n->rank != root) || !memcmp(d, want, cnt * es))
                    continue;
                size_t i = 0;
                while (!memcmp(d + i * es, want + i * es, es))
                    i++;
                TH_CHECK(0,
                         "%s case %zu (type %d op %d, %zu elements): "
                         "element %zu is %g, expected %g",
                         all ? "allreduce" : "reduce", ki, k->t, k->op, cnt, i,
                         load(k->t, d, i), load(k->t, want, i));
            }
        }
    }
    /* In place: rbuf == sbuf. */
    int32_t v[4] = {n->rank, 1, -n->rank, 7};
    TH_EXPECT_RC(msg_allreduce(n->c, v, v, 4, MSG_INT32, MSG_SUM), VS_OK);
    int32_t tri = n->size * (n->size - 1) / 2;
    TH_CHECK(v[0] == tri && v[1] == n->size && v[2] == -tri &&
                 v[3] == 7 * n->size,
             "in-place allreduce gave %d %d %d %d", v[0], v[1], v[2], v[3]);
    free(s);
    free(d);
}

/* ---- Gather, scatter, allgather, alltoall(v) ---- */

static void check_gather_scatter(struct mt_node *n)
{
    static const size_t sizes[] = {1, 100, L + 1, 9000};
    int N = n->size;
    unsigned char *mine = malloc(9000), *all = malloc((size_t)N * 9000);
    int roots[] = {0, N - 1, 1 % N};
    for (int ri = 0; ri < 3; ri++)
        for (int si = 0; si < 4; si++) {
            int root = roots[ri];
            size_t len = sizes[si];
            th_pattern(mine, len, mt_seed(n->rank, root, 2, len));
            memset(all, 0xEE, (size_t)N * len);
            TH_EXPECT_RC(
                msg_gather(n->c, mine, len, n->rank == root ? all : NULL, root),
                VS_OK);
            for (int q = 0; n->rank == root && q < N; q++)
                mt_expect_pattern(all + (size_t)q * len, len,
                                  mt_seed(q, root, 2, len), "gather block",
                                  (size_t)q);
            if (n->rank == root)
                for (int q = 0; q < N; q++)
                    th_pattern(all + (size_t)q * len, len,
                               mt_seed(root, q, 3, len));
            memset(mine, 0xEE, len);
            TH_EXPECT_RC(msg_scatter(n->c, n->rank == root ? all : NULL, len,
                                     mine, root),
                         VS_OK);
            mt_expect_pattern(mine, len, mt_seed(root, n->rank, 3, len),
                              "scatter block", (size_t)n->rank);
        }
    free(mine);
    free(all);
}

static void check_allgather_alltoall(struct mt_node *n)
{
    static const size_t sizes[] = {3, L + 1, 6000};
    int N = n->size, r = n->rank;
    unsigned char *s = malloc((size_t)N * 6000), *d = malloc((size_t)N * 6000);
    for (int si = 0; si < 3; si++) {
        size_t len = sizes[si];
        th_pattern(s, len, mt_seed(r, 0, 4, len));
        memset(d, 0xEE, (size_t)N * len);
        TH_EXPECT_RC(msg_allgather(n->c, s, len, d), VS_OK);
        for (int q = 0; q < N; q++)
            mt_expect_pattern(d + (size_t)q * len, len, mt_seed(q, 0, 4, len),
                              "allgather block", (size_t)q);
        for (int q = 0; q < N; q++)
            th_pattern(s + (size_t)q * len, len, mt_seed(r, q, 5, len));
        memset(d, 0xEE, (size_t)N * len);
        TH_EXPECT_RC(msg_alltoall(n->c, s, len, d), VS_OK);
        for (int q = 0; q < N; q++)
            mt_expect_pattern(d + (size_t)q * len, len, mt_seed(q, r, 5, len),
                              "alltoall block", (size_t)q);
    }
    /* alltoallv: 0 to 1200 bytes per pair, on both sides of the limit. */
    size_t sc[MAXR], sd[MAXR], rc[MAXR], rd[MAXR], so = 0, ro = 0;
    for (int q = 0; q < N; q++) {
        sc[q] = (size_t)((r * 7 + q * 3) % 5) * 300;
        rc[q] = (size_t)((q * 7 + r * 3) % 5) * 300;
        sd[q] = so;
        rd[q] = ro;
        so += sc[q] + 16; /* gaps that must stay untouched */
        ro += rc[q] + 16;
        th_pattern(s + sd[q], sc[q], mt_seed(r, q, 6, sc[q]));
    }
    memset(d, 0xEE, ro);
    TH_EXPECT_RC(msg_alltoallv(n->c, s, sc, sd, d, rc, rd), VS_OK);
    for (int q = 0; q < N; q++) {
        mt_expect_pattern(d + rd[q], rc[q], mt_seed(q, r, 6, rc[q]),
                          "alltoallv block", (size_t)q);
        TH_CHECK(th_count_ne(d, rd[q] + rc[q], rd[q] + rc[q] + 16, 0xEE) == 0,
                 "alltoallv wrote into the gap after block %d", q);
    }
    free(s);
    free(d);
}

void mt_collectives(struct mt_node *n)
{
    /* A user receive that matches anything stays posted throughout. */
    uint32_t user = 0, val = 4242;
    msg_req *ur = NULL;
    if (n->rank == n->size - 1)
        TH_EXPECT_RC(
            msg_irecv(n->c, &user, 4, MSG_ANY_SOURCE, MSG_ANY_TAG, &ur), VS_OK);
    check_barrier(n);
    check_bcast(n);
    check_reductions(n);
    check_gather_scatter(n);
    check_allgather_alltoall(n);
    TH_CHECK(!ur || user == 0, "a collective's message matched a user "
                               "receive");
    /* Only now may rank 0 send the user message (it may have finished its
     * collectives long ago): the last rank says when. */
    uint32_t go = 1;
    if (n->size > 1 && n->rank == n->size - 1)
        TH_EXPECT_RC(msg_send(n->c, &go, 4, 0, 1), VS_OK);
    if (n->size > 1 && n->rank == 0)
        TH_EXPECT_RC(msg_recv(n->c, &go, 4, n->size - 1, 1, NULL), VS_OK);
    if (n->rank == 0)
        TH_EXPECT_RC(msg_send(n->c, &val, 4, n->size - 1, 0), VS_OK);
    if (ur) {
        struct msg_status st;
        TH_EXPECT_RC(msg_wait(n->c, &ur, &st), VS_OK);
        MT_EQ(user, 4242);
        MT_EQ(st.source, 0);
    }
}
