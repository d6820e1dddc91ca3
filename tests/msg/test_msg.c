/*
 * libs/msg end to end on simulated clusters of 2, 3 (and 7) and 16 ranks:
 * the bytes and the status of every message at the sizes where the
 * protocol changes (0, 1, the eager limit, one byte over it, 256 KiB),
 * wildcard receives, non-overtaking order, the unexpected queue, probe,
 * non-blocking requests with wait/test/waitany/waitall, truncation,
 * messages to self, flow control on tiny rings, the rendezvous export
 * cache, every collective against a value computed locally, API misuse,
 * and finalize/re-init.  Counters (msg_get_stats) prove which protocol
 * carried a message, so a test fails if the eager/rendezvous split or the
 * zero copy breaks, not only if bytes are wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "libs/msg/msg.h"
#include "tests/harness.h"
#include "tests/msg/msg_helpers.h"
#include "tests/vmmc/helpers.h"
#include "util/err.h"
#include "vmmc/vmmc.h"

#define L MSG_DEFAULT_EAGER_LIMIT
#define BIG (256 * 1024)
#define GUARD 0xEE

/* ---- Sizes where the protocol changes ---- */

static const size_t edge_sizes[] = {0, 1, 7, L - 1, L, L + 1, 3000, 65536, BIG};
#define NEDGE (sizeof edge_sizes / sizeof *edge_sizes)

static void sizes_node(struct mt_node *n)
{
    struct msg_stats s0;
    msg_get_stats(n->c, &s0);
    unsigned char *buf = malloc(BIG + 64), *want = malloc(BIG);
    int peer = 1 - n->rank;
    size_t n_eager = 0, zero_copy = 0;
    for (size_t i = 0; i < NEDGE; i++) {
        size_t len = edge_sizes[i];
        int tag = (int)i + 100;
        uint32_t seed = mt_seed(0, 1, tag, len);
        if (len <= L)
            n_eager++;
        else
            zero_copy += len;
        /* 0 -> 1, then 1 echoes back what it got: both directions. */
        for (int leg = 0; leg < 2; leg++) {
            if (n->rank == leg) {
                th_pattern(want, len, seed);
                TH_EXPECT_RC(msg_send(n->c, want, len, peer, tag), VS_OK);
                continue;
            }
            memset(buf, GUARD, BIG + 64);
            struct msg_status st;
            TH_EXPECT_RC(msg_recv(n->c, buf, len + 64, peer, tag, &st), VS_OK);
            MT_EQ(st.source, peer);
            MT_EQ(st.tag, tag);
            MT_EQ(st.count, len);
            MT_EQ(st.error, 0);
            mt_expect_pattern(buf, len, seed, "message", len);
            TH_CHECK(th_count_ne(buf, len, len + 64, GUARD) == 0,
                     "a %zu-byte message wrote past its end", len);
        }
    }
    /* Which protocol carried each message: eager ones were copied, the
     * others moved once, straight into the receive buffer. */
    struct msg_stats s = mt_delta(n, &s0);
    MT_EQ(s.eager_sent, n_eager);
    MT_EQ(s.rndv_sent, NEDGE - n_eager);
    MT_EQ(s.received, NEDGE);
    MT_EQ(s.bytes_zero_copy, zero_copy);
    free(buf);
    free(want);
}

/* ---- Non-overtaking ---- */

#define NORDER 36

/* Message k of the stream: a mix of sizes on both sides of the limit. */
static size_t order_size(int k)
{
    static const size_t s[] = {8, L + 1, 0, 4000, L, 70000};
    return s[k % 6];
}

static void order_node(struct mt_node *n)
{
    struct msg_stats s0;
    msg_get_stats(n->c, &s0);
    unsigned char *buf = malloc(70000);
    if (n->rank == 0) {
        /* Two interleaved tags, all posted at once. */
        msg_req *r[NORDER];
        unsigned char *src[NORDER];
        for (int k = 0; k < NORDER; k++) {
            size_t len = order_size(k);
            src[k] = malloc(len + 1);
            th_pattern(src[k], len, mt_seed(0, 1, k, len));
            TH_EXPECT_RC(msg_isend(n->c, src[k], len, 1, 1 + k % 2, &r[k]),
                         VS_OK);
        }
        TH_EXPECT_RC(msg_waitall(n->c, NORDER, r, NULL), VS_OK);
        for (int k = 0; k < NORDER; k++)
            free(src[k]);
    } else {
        /* Tag 2: every receive posted before anything arrives, each with
         * the wildcard source (they all match every tag-2 message, so only
         * posting order decides).  Tag 1: nothing posted while the stream
         * arrives, then received one by one from the unexpected queue. */
        unsigned char *b2 = malloc((NORDER / 2) * 70000);
        msg_req *r[NORDER / 2];
        struct msg_status st2[NORDER / 2];
        for (int i = 0; i < NORDER / 2; i++)
            TH_EXPECT_RC(msg_irecv(n->c, b2 + (size_t)i * 70000, 70000,
                                   MSG_ANY_SOURCE, 2, &r[i]),
                         VS_OK);
        n->h->ops->compute(n->h, 2 * HW_MS);
        for (int k = 0; k < NORDER; k += 2) {
            size_t len = order_size(k);
            struct msg_status st;
            TH_EXPECT_RC(msg_recv(n->c, buf, 70000, 0, 1, &st), VS_OK);
            MT_EQ(st.count, len);
            mt_expect_pattern(buf, len, mt_seed(0, 1, k, len), "tag-1 message",
                              (size_t)k);
        }
        TH_EXPECT_RC(msg_waitall(n->c, NORDER / 2, r, st2), VS_OK);
        for (int i = 0; i < NORDER / 2; i++) {
            int k = 2 * i + 1;
            size_t len = order_size(k);
            MT_EQ(st2[i].count, len);
            mt_expect_pattern(b2 + (size_t)i * 70000, len,
                              mt_seed(0, 1, k, len), "tag-2 message",
                              (size_t)k);
        }
        free(b2);
        struct msg_stats s = mt_delta(n, &s0);
        /* Some waited unexpected (the rest were held back by credits
         * until their receive was posted). */
        TH_CHECK(s.unexpected > 0 && s.unexpected <= NORDER / 2,
                 "%llu messages waited unexpected",
                 (unsigned long long)s.unexpected);
    }
    free(buf);
}

/* ---- Wildcards: everyone to rank 0 ---- */

#define NW 4

static size_t wild_size(int src, int j)
{
    return (size_t)((src * 37 + j * 1500) % 5000);
}

static void wild_node(struct mt_node *n)
{
    unsigned char *buf = malloc(5000);
    if (n->rank != 0) {
        for (int j = 0; j < NW; j++) {
            size_t len = wild_size(n->rank, j);
            unsigned char *m = malloc(len + 4);
            th_pattern(m, len, mt_seed(n->rank, 0, j, len));
            TH_EXPECT_RC(msg_send(n->c, m, len, 0, n->rank * 10 + j), VS_OK);
            free(m);
        }
        /* The answer, from whoever sends it. */
        uint32_t v = 0;
        struct msg_status st;
        TH_EXPECT_RC(msg_recv(n->c, &v, 4, MSG_ANY_SOURCE, 7, &st), VS_OK);
        MT_EQ(st.source, 0);
        MT_EQ(v, 1000u + (uint32_t)n->rank);
    } else {
        int *next = calloc((size_t)n->size, sizeof *next);
        for (int i = 0; i < (n->size - 1) * NW; i++) {
            struct msg_status st;
            TH_EXPECT_RC(
                msg_recv(n->c, buf, 5000, MSG_ANY_SOURCE, MSG_ANY_TAG, &st),
                VS_OK);
            int src = st.source, j = st.tag % 10;
            TH_CHECK(src > 0 && src < n->size && st.tag / 10 == src,
                     "source %d with tag %d", src, st.tag);
            if (!(src > 0 && src < n->size))
                break;
            /* Per source, in the order sent. */
            MT_EQ(j, next[src]);
            next[src] = j + 1;
            size_t len = wild_size(src, j);
            MT_EQ(st.count, len);
            mt_expect_pattern(buf, len, mt_seed(src, 0, j, len), "wildcard",
                              (size_t)src);
        }
        for (int p = 1; p < n->size; p++) {
            MT_EQ(next[p], NW);
            uint32_t v = 1000u + (uint32_t)p;
            TH_EXPECT_RC(msg_send(n->c, &v, 4, p, 7), VS_OK);
        }
        free(next);
    }
    free(buf);
}

/* ---- Unexpected messages and probe ---- */

static const size_t unexp_sizes[] = {10, L + 1, 0, 100000};

static void unexp_node(struct mt_node *n)
{
    struct msg_stats s0;
    msg_get_stats(n->c, &s0);
    unsigned char *buf = malloc(100000 + 64);
    if (n->rank == 0) {
        unsigned char *m[4];
        msg_req *r[4];
        for (int t = 0; t < 4; t++) {
            size_t len = unexp_sizes[t];
            m[t] = malloc(len + 1);
            th_pattern(m[t], len, mt_seed(0, 1, t + 1, len));
            TH_EXPECT_RC(msg_isend(n->c, m[t], len, 1, t + 1, &r[t]), VS_OK);
        }
        /* The eager ones are done at once; the rendezvous ones wait for
         * their receive, which comes 5 ms later. */
        int flag = -1;
        TH_EXPECT_RC(msg_test(n->c, &r[0], &flag, NULL), VS_OK);
        MT_EQ(flag, 1);
        TH_CHECK(r[0] == NULL, "a completed request was not freed");
        TH_EXPECT_RC(msg_test(n->c, &r[1], &flag, NULL), VS_OK);
        MT_EQ(flag, 0);
        TH_EXPECT_RC(msg_waitall(n->c, 4, r, NULL), VS_OK);
        TH_CHECK(n->h->ops->now(n->h) > 5 * HW_MS,
                 "a rendezvous send completed before its receive");
        for (int t = 0; t < 4; t++)
            free(m[t]);
    } else {
        n->h->ops->compute(n->h, 5 * HW_MS);
        int flag = -1;
        struct msg_status st;
        TH_EXPECT_RC(msg_iprobe(n->c, 0, 99, &flag, &st), VS_OK);
        MT_EQ(flag, 0);
        TH_EXPECT_RC(msg_iprobe(n->c, MSG_ANY_SOURCE, 4, &flag, &st), VS_OK);
        MT_EQ(flag, 1);
        MT_EQ(st.count, 100000);
        /* probe with wildcards finds the first one sent. */
        TH_EXPECT_RC(msg_probe(n->c, MSG_ANY_SOURCE, MSG_ANY_TAG, &st), VS_OK);
        MT_EQ(st.source, 0);
        MT_EQ(st.tag, 1);
        MT_EQ(st.count, 10);
        for (int t = 4; t >= 1; t--) {
            size_t len = unexp_sizes[t - 1];
            memset(buf, GUARD, 100000 + 64);
            TH_EXPECT_RC(msg_recv(n->c, buf, 100000, 0, t, &st), VS_OK);
            MT_EQ(st.count, len);
            mt_expect_pattern(buf, len, mt_seed(0, 1, t, len), "unexpected",
                              (size_t)t);
            TH_CHECK(th_count_ne(buf, len, 100000 + 64, GUARD) == 0,
                     "message %d wrote past its end", t);
        }
        struct msg_stats s = mt_delta(n, &s0);
        MT_EQ(s.unexpected, 4);
    }
    free(buf);
}

/* ---- Non-blocking requests on 3 ranks ---- */

static void nb_node(struct mt_node *n)
{
    int r = n->rank, a = (r + 1) % 3, b = (r + 2) % 3;
    size_t la = r == 0 ? 300 : L + 1 + (size_t)r * 1000, lb = 50000;
    unsigned char *sa = malloc(la), *sb = malloc(lb);
    unsigned char *ra = malloc(50000), *rb = malloc(50000);
    th_pattern(sa, la, mt_seed(r, a, 1, la));
    th_pattern(sb, lb, mt_seed(r, b, 2, lb));
    msg_req *q[4] = {NULL, NULL, NULL, NULL};
    /* From a we get its "b" message (tag 2); from b its "a" one (tag 1). */
    TH_EXPECT_RC(msg_irecv(n->c, ra, 50000, a, 2, &q[0]), VS_OK);
    TH_EXPECT_RC(msg_irecv(n->c, rb, 50000, b, 1, &q[1]), VS_OK);
    TH_EXPECT_RC(msg_isend(n->c, sa, la, a, 1, &q[2]), VS_OK);
    TH_EXPECT_RC(msg_isend(n->c, sb, lb, b, 2, &q[3]), VS_OK);
    /* q[0] by a loop of tests, the rest by waitany. */
    int flag = 0, loops = 0;
    struct msg_status st;
    while (!flag && loops++ < 1000000)
        TH_EXPECT_RC(msg_test(n->c, &q[0], &flag, &st), VS_OK);
    MT_EQ(flag, 1);
    MT_EQ(st.source, a);
    MT_EQ(st.count, 50000);
    mt_expect_pattern(ra, 50000, mt_seed(a, r, 2, 50000), "from a", 0);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        size_t idx = 99;
        TH_EXPECT_RC(msg_waitany(n->c, 4, q, &idx, &st), VS_OK);
        TH_CHECK(idx >= 1 && idx <= 3, "waitany returned index %zu", idx);
        if (idx >= 1 && idx <= 3)
            seen |= 1 << idx;
        if (idx == 1) {
            size_t lbr = b == 0 ? 300 : L + 1 + (size_t)b * 1000;
            MT_EQ(st.count, lbr);
            mt_expect_pattern(rb, lbr, mt_seed(b, r, 1, lbr), "from b", 0);
        }
    }
    MT_EQ(seen, 0xE);
    /* Nothing left: waitany says so, wait and test on NULL are no-ops. */
    size_t idx = 0;
    TH_EXPECT_RC(msg_waitany(n->c, 4, q, &idx, &st), VS_OK);
    MT_EQ(idx, 4);
    TH_EXPECT_RC(msg_wait(n->c, &q[0], &st), VS_OK);
    MT_EQ(st.source, MSG_ANY_SOURCE);
    TH_EXPECT_RC(msg_test(n->c, &q[1], &flag, NULL), VS_OK);
    MT_EQ(flag, 1);
    /* sendrecv around the ring, then testall. */
    uint32_t out = 77u + (uint32_t)r, in = 0;
    TH_EXPECT_RC(msg_sendrecv(n->c, &out, 4, a, 9, &in, 4, b, 9, &st), VS_OK);
    MT_EQ(in, 77u + (uint32_t)b);
    msg_req *t[2];
    TH_EXPECT_RC(msg_irecv(n->c, &in, 4, b, 10, &t[0]), VS_OK);
    TH_EXPECT_RC(msg_isend(n->c, &out, 4, a, 10, &t[1]), VS_OK);
    flag = 0;
    for (loops = 0; !flag && loops < 1000000; loops++)
        TH_EXPECT_RC(msg_testall(n->c, 2, t, &flag, NULL), VS_OK);
    MT_EQ(flag, 1);
    TH_CHECK(t[0] == NULL && t[1] == NULL, "testall left requests");
    free(sa);
    free(sb);
    free(ra);
    free(rb);
}

/* ---- Truncation ---- */

static void trunc_node(struct mt_node *n)
{
    static const size_t len[] = {100, L + 500, L + 1};
    static const size_t cap[] = {50, L + 1, 0};
    unsigned char *buf = malloc(L + 600);
    for (int i = 0; i < 3; i++) {
        uint32_t seed = mt_seed(0, 1, i, len[i]);
        if (n->rank == 0) {
            th_pattern(buf, len[i], seed);
            TH_EXPECT_RC(msg_send(n->c, buf, len[i], 1, i), VS_OK);
            continue;
        }
        memset(buf, GUARD, L + 600);
        struct msg_status st;
        TH_EXPECT_RC(msg_recv(n->c, cap[i] ? buf : NULL, cap[i], 0, i, &st),
                     VS_ERANGE);
        MT_EQ(st.error, VS_ERANGE);
        MT_EQ(st.count, cap[i]);
        mt_expect_pattern(buf, cap[i], seed, "truncated", (size_t)i);
        TH_CHECK(th_count_ne(buf, cap[i], L + 600, GUARD) == 0,
                 "a truncated message %d wrote past the buffer", i);
    }
    free(buf);
}

/* ---- To self ---- */

static void self_node(struct mt_node *n)
{
    if (n->rank != 0)
        return;
    struct msg_stats s0;
    msg_get_stats(n->c, &s0);
    size_t sizes[] = {0, 20, L + 1, BIG};
    unsigned char *s = malloc(BIG), *d = malloc(BIG);
    for (int i = 0; i < 4; i++) {
        size_t len = sizes[i];
        uint32_t seed = mt_seed(0, 0, i, len);
        th_pattern(s, len, seed);
        /* Receive posted first. */
        msg_req *r, *w;
        memset(d, 0, BIG);
        TH_EXPECT_RC(msg_irecv(n->c, d, BIG, 0, i, &r), VS_OK);
        TH_EXPECT_RC(msg_send(n->c, s, len, 0, i), VS_OK);
        TH_EXPECT_RC(msg_wait(n->c, &r, NULL), VS_OK);
        mt_expect_pattern(d, len, seed, "to self, posted", len);
        /* Send first (a large one cannot complete before the receive). */
        memset(d, 0, BIG);
        TH_EXPECT_RC(msg_isend(n->c, s, len, 0, i, &w), VS_OK);
        /* A large one is not buffered: it waits for its receive. */
        int flag = -1;
        msg_req *probe_w = w;
        if (len > L) {
            TH_EXPECT_RC(msg_test(n->c, &probe_w, &flag, NULL), VS_OK);
            MT_EQ(flag, 0);
        }
        struct msg_status st;
        TH_EXPECT_RC(msg_probe(n->c, 0, i, &st), VS_OK);
        MT_EQ(st.count, len);
        TH_EXPECT_RC(msg_recv(n->c, d, BIG, MSG_ANY_SOURCE, i, &st), VS_OK);
        MT_EQ(st.source, 0);
        TH_EXPECT_RC(msg_wait(n->c, &w, NULL), VS_OK);
        mt_expect_pattern(d, len, seed, "to self, unexpected", len);
    }
    struct msg_stats st = mt_delta(n, &s0);
    MT_EQ(st.self_sent, 8);
    free(s);
    free(d);
}

/* ---- Flow control on tiny rings ---- */

#define NFLOW 300

static void flow_node(struct mt_node *n)
{
    struct msg_stats s0;
    msg_get_stats(n->c, &s0);
    /* Both ranks stream at each other at once; 2-slot rings and 64-byte
     * eager messages make every few messages wait for credits. */
    int peer = 1 - n->rank;
    unsigned char *src = malloc(NFLOW * 200), *dst = malloc(NFLOW * 200);
    msg_req **r = calloc(2 * NFLOW, sizeof *r);
    for (int k = 0; k < NFLOW; k++) {
        size_t len = (size_t)(k * 13 % 65) + (k % 50 == 49 ? 100 : 0);
        th_pattern(src + k * 200, len, mt_seed(n->rank, peer, k, len));
        TH_EXPECT_RC(
            msg_irecv(n->c, dst + k * 200, 200, peer, 3, &r[NFLOW + k]), VS_OK);
        TH_EXPECT_RC(msg_isend(n->c, src + k * 200, len, peer, 3, &r[k]),
                     VS_OK);
    }
    struct msg_status *st = calloc(2 * NFLOW, sizeof *st);
    TH_EXPECT_RC(msg_waitall(n->c, 2 * NFLOW, r, st), VS_OK);
    for (int k = 0; k < NFLOW; k++) {
        size_t len = (size_t)(k * 13 % 65) + (k % 50 == 49 ? 100 : 0);
        MT_EQ(st[NFLOW + k].count, len);
        mt_expect_pattern(dst + k * 200, len, mt_seed(peer, n->rank, k, len),
                          "stream", (size_t)k);
    }
    struct msg_stats s = mt_delta(n, &s0);
    MT_EQ(s.rndv_sent, NFLOW / 50);
    TH_CHECK(s.credit_updates > 0, "no explicit credit was ever needed");
    free(src);
    free(dst);
    free(r);
    free(st);
}

/* ---- The rendezvous export cache ---- */

static void cache_node(struct mt_node *n)
{
    struct msg_stats s0;
    msg_get_stats(n->c, &s0);
    /* Five messages into one buffer, then one each into three others. */
    size_t len = 20000;
    unsigned char *buf = malloc(4 * len);
    for (int i = 0; i < 8; i++) {
        unsigned char *at = buf + (i < 5 ? 0 : (size_t)(i - 4) * len);
        uint32_t seed = mt_seed(0, 1, i, len);
        if (n->rank == 0) {
            th_pattern(buf, len, seed);
            TH_EXPECT_RC(msg_send(n->c, buf, len, 1, i), VS_OK);
        } else {
            TH_EXPECT_RC(msg_recv(n->c, at, len, 0, i, NULL), VS_OK);
            mt_expect_pattern(at, len, seed, "rendezvous", (size_t)i);
        }
    }
    struct msg_stats s = mt_delta(n, &s0);
    int cached = msg_params(n->c)->cache_exports;
    if (n->rank == 1) {
        MT_EQ(s.exports, cached ? 4 : 8);
        MT_EQ(s.bytes_zero_copy, 8 * len);
        MT_EQ(s.bytes_copied, 0);
    } else {
        MT_EQ(s.imports, cached ? 4 : 8);
    }
    free(buf);
}

/* ---- Many senders at once (16 ranks) ---- */

static void fanin_node(struct mt_node *n)
{
    size_t len = 40000;
    if (n->rank == 0) {
        unsigned char *buf = malloc((size_t)n->size * len);
        msg_req *r[16] = {NULL};
        for (int p = 1; p < n->size; p++)
            TH_EXPECT_RC(msg_irecv(n->c, buf + p * len, len, p, 5, &r[p]),
                         VS_OK);
        TH_EXPECT_RC(msg_waitall(n->c, 16, r, NULL), VS_OK);
        for (int p = 1; p < n->size; p++)
            mt_expect_pattern(buf + p * len, len, mt_seed(p, 0, 5, len),
                              "fan-in", (size_t)p);
        free(buf);
    } else {
        unsigned char *m = malloc(len);
        th_pattern(m, len, mt_seed(n->rank, 0, 5, len));
        TH_EXPECT_RC(msg_send(n->c, m, len, 0, 5), VS_OK);
        free(m);
    }
    /* A shift around all 16 ranks with sendrecv, both protocols. */
    for (size_t sz = 100; sz <= 10000; sz *= 100) {
        int to = (n->rank + 1) % n->size,
            from = (n->rank + n->size - 1) % n->size;
        unsigned char *s = malloc(sz), *d = malloc(sz);
        th_pattern(s, sz, mt_seed(n->rank, to, 6, sz));
        struct msg_status st;
        TH_EXPECT_RC(msg_sendrecv(n->c, s, sz, to, 6, d, sz, from, 6, &st),
                     VS_OK);
        MT_EQ(st.source, from);
        mt_expect_pattern(d, sz, mt_seed(from, n->rank, 6, sz), "shift", sz);
        free(s);
        free(d);
    }
}

/* ---- Finalize and init again ---- */

static void reinit_node(struct mt_node *n)
{
    int peer = 1 - n->rank;
    uint32_t v = 5, w = 0;
    TH_EXPECT_RC(msg_sendrecv(n->c, &v, 4, peer, 1, &w, 4, peer, 1, NULL),
                 VS_OK);
    /* A pending request keeps finalize from running. */
    msg_req *r;
    TH_EXPECT_RC(msg_irecv(n->c, &w, 4, peer, 2, &r), VS_OK);
    TH_EXPECT_RC(msg_finalize(n->c), VS_EBUSY);
    MT_HAS(msg_errmsg(n->c), "msg_finalize");
    TH_EXPECT_RC(msg_send(n->c, &v, 4, peer, 2), VS_OK);
    TH_EXPECT_RC(msg_wait(n->c, &r, NULL), VS_OK);
    /* An unreceived message is dropped by finalize. */
    TH_EXPECT_RC(msg_send(n->c, &v, 4, peer, 3), VS_OK);
    TH_EXPECT_RC(msg_finalize(n->c), VS_OK);
    /* Everything was withdrawn: the ids are free again. */
    unsigned char *page = calloc(1, 4096);
    TH_EXPECT_RC(vmmc_export(n->vc, 0, page, 4096, VMMC_PERM_WRITE), VS_OK);
    TH_EXPECT_RC(vmmc_unexport(n->vc, 0), VS_OK);
    free(page);
    /* Again with other parameters on other export ids. */
    struct msg_params p;
    msg_params_default(&p);
    p.eager_limit = 256;
    p.export_base = 20;
    p.ring_slots = 4;
    TH_EXPECT_RC(msg_init(n->vc, &p, &n->c), VS_OK);
    unsigned char *s = malloc(5000), *d = malloc(5000);
    th_pattern(s, 5000, 9);
    TH_EXPECT_RC(msg_sendrecv(n->c, s, 5000, peer, 1, d, 5000, peer, 1, NULL),
                 VS_OK);
    mt_expect_pattern(d, 5000, 9, "after re-init", 0);
    TH_EXPECT_RC(msg_sendrecv(n->c, s, 256, peer, 1, d, 5000, peer, 1, NULL),
                 VS_OK);
    struct msg_stats st;
    msg_get_stats(n->c, &st);
    MT_EQ(st.rndv_sent, 1);
    MT_EQ(st.eager_sent, 1);
    free(s);
    free(d);
}

/* ---- The application's own notifications ---- */

#define USER_ID 40

/* Rank 0 raises a VMMC notification on an export of rank 1's own (not
 * msg's), then sends a message 1 ms later.  Rank 1 waits in msg_recv all
 * along: msg must sleep through the notification (not consume it, not
 * spin on it) and leave it queued for the application. */
static void notes_node(struct mt_node *n)
{
    uint32_t *word = calloc(1, 64);
    uint32_t v = 99;
    if (n->rank == 1) {
        TH_EXPECT_RC(vmmc_export(n->vc, USER_ID, word, 64, VMMC_PERM_WRITE),
                     VS_OK);
        TH_EXPECT_RC(msg_send(n->c, &v, 4, 0, 1), VS_OK); /* exported */
        uint32_t got = 0;
        TH_EXPECT_RC(msg_recv(n->c, &got, 4, 0, 2, NULL), VS_OK);
        MT_EQ(got, 7);
        struct vmmc_notification note;
        MT_EQ(vmmc_notify_poll(n->vc, &note), 1);
        MT_EQ(note.export_id, USER_ID);
        MT_EQ(*word, 5);
        TH_EXPECT_RC(vmmc_unexport(n->vc, USER_ID), VS_OK);
    } else {
        TH_EXPECT_RC(msg_recv(n->c, &v, 4, 1, 1, NULL), VS_OK);
        vmmc_import_t imp;
        TH_EXPECT_RC(vmmc_import(n->vc, 1, USER_ID, &imp, NULL), VS_OK);
        *word = 5;
        TH_EXPECT_RC(vmmc_send_sync(n->vc, imp, 0, word, 4, VMMC_SEND_NOTIFY),
                     VS_OK);
        n->h->ops->compute(n->h, HW_MS);
        uint32_t seven = 7;
        TH_EXPECT_RC(msg_send(n->c, &seven, 4, 1, 2), VS_OK);
        TH_EXPECT_RC(vmmc_unimport(n->vc, imp), VS_OK);
    }
    free(word);
}

/* ---- Misuse ---- */

static void misuse_node(struct mt_node *n)
{
    int peer = 1 - n->rank;
    unsigned char g[64];
    memset(g, GUARD, sizeof g);
    msg_req *r = (msg_req *)1;
    /* Bad ranks, tags, buffers and lengths: VS_EINVAL, a message naming
     * the call, no request, no byte touched. */
    TH_EXPECT_RC(msg_send(n->c, g, 4, 2, 0), VS_EINVAL);
    MT_HAS(msg_errmsg(n->c), "msg_send: destination 2");
    TH_EXPECT_RC(msg_send(n->c, g, 4, -1, 0), VS_EINVAL);
    TH_EXPECT_RC(msg_send(n->c, g, 4, peer, -5), VS_EINVAL);
    MT_HAS(msg_errmsg(n->c), "tag -5");
    TH_EXPECT_RC(msg_send(n->c, g, 4, peer, MSG_ANY_TAG), VS_EINVAL);
    TH_EXPECT_RC(msg_send(n->c, NULL, 4, peer, 0), VS_EINVAL);
    TH_EXPECT_RC(msg_isend(n->c, g, (size_t)-4, peer, 0, &r), VS_EINVAL);
    MT_HAS(msg_errmsg(n->c), "negative");
    TH_CHECK(r == NULL, "a refused isend left a request");
    TH_EXPECT_RC(msg_recv(n->c, g, 64, 7, 0, NULL), VS_EINVAL);
    MT_HAS(msg_errmsg(n->c), "msg_recv: source 7");
    TH_EXPECT_RC(msg_irecv(n->c, NULL, 10, peer, 0, &r), VS_EINVAL);
    TH_EXPECT_RC(msg_irecv(n->c, g, 10, peer, -3, &r), VS_EINVAL);
    TH_EXPECT_RC(msg_sendrecv(n->c, g, 4, peer, 0, g, 4, 99, 0, NULL),
                 VS_EINVAL);
    TH_EXPECT_RC(msg_wait(n->c, NULL, NULL), VS_EINVAL);
    int flag;
    TH_EXPECT_RC(msg_iprobe(n->c, 5, 0, &flag, NULL), VS_EINVAL);
    TH_EXPECT_RC(msg_probe(n->c, 0, -9, NULL), VS_EINVAL);
    /* Collectives. */
    TH_EXPECT_RC(msg_bcast(n->c, g, 4, 2), VS_EINVAL);
    MT_HAS(msg_errmsg(n->c), "msg_bcast: root 2");
    TH_EXPECT_RC(msg_bcast(n->c, NULL, 4, 0), VS_EINVAL);
    TH_EXPECT_RC(msg_allreduce(n->c, g, g, 2, MSG_FLOAT, MSG_BXOR), VS_EINVAL);
    MT_HAS(msg_errmsg(n->c), "msg_allreduce: operator");
    TH_EXPECT_RC(msg_reduce(n->c, g, g, 1, (enum msg_dtype)99, MSG_SUM, 0),
                 VS_EINVAL);
    TH_EXPECT_RC(msg_reduce(n->c, g, g, (size_t)-1, MSG_INT32, MSG_SUM, 0),
                 VS_EINVAL);
    TH_EXPECT_RC(msg_allreduce(n->c, g, NULL, 4, MSG_INT8, MSG_SUM), VS_EINVAL);
    TH_EXPECT_RC(msg_gather(n->c, g, 4, NULL, n->rank), VS_EINVAL);
    TH_EXPECT_RC(msg_alltoall(n->c, g, (size_t)-8, g), VS_EINVAL);
    TH_EXPECT_RC(msg_alltoallv(n->c, g, NULL, NULL, g, NULL, NULL), VS_EINVAL);
    TH_CHECK(th_count_ne(g, 0, sizeof g, GUARD) == 0,
             "a refused call wrote into the buffer");
    /* A second msg_init on the same VMMC context: its ids are taken. */
    msg_ctx *c2 = (msg_ctx *)1;
    TH_EXPECT_RC(msg_init(n->vc, NULL, &c2), VS_EEXIST);
    TH_CHECK(c2 == NULL, "a failed msg_init returned a context");
    /* Bad parameters. */
    struct msg_params p;
    msg_params_default(&p);
    p.eager_limit = 100000;
    TH_EXPECT_RC(msg_init(n->vc, &p, &c2), VS_EINVAL);
    msg_params_default(&p);
    p.ring_slots = 1;
    TH_EXPECT_RC(msg_init(n->vc, &p, &c2), VS_EINVAL);
    msg_params_default(&p);
    p.export_base = 62;
    TH_EXPECT_RC(msg_init(n->vc, &p, &c2), VS_EINVAL);
    msg_params_default(&p);
    p.nranks = 3;
    TH_EXPECT_RC(msg_init(n->vc, &p, &c2), VS_EINVAL);
    msg_params_default(&p);
    p.copy_MBps = 0;
    TH_EXPECT_RC(msg_init(n->vc, &p, &c2), VS_EINVAL);
    TH_EXPECT_RC(msg_init(NULL, NULL, &c2), VS_EINVAL);
    TH_EXPECT_RC(msg_finalize(NULL), VS_EINVAL);
    /* After all that, messages still flow. */
    uint32_t v = 11u + (uint32_t)n->rank, w = 0;
    TH_EXPECT_RC(msg_sendrecv(n->c, &v, 4, peer, 1, &w, 4, peer, 1, NULL),
                 VS_OK);
    MT_EQ(w, 11u + (uint32_t)peer);
}

/* Ranks with different parameters: each finds the other's ring has the
 * wrong size, and both fail cleanly. */
static void mismatch_node(hw_host *h, void *arg)
{
    (void)arg;
    vmmc_ctx *vc;
    TH_EXPECT_RC(vmmc_open(&vc, h), VS_OK);
    struct msg_params p;
    msg_params_default(&p);
    p.eager_limit = h->node ? 2048 : 1024;
    msg_ctx *c = (msg_ctx *)1;
    TH_EXPECT_RC(msg_init(vc, &p, &c), VS_ECONFIG);
    TH_CHECK(c == NULL, "a failed msg_init returned a context");
    /* Both withdrew their rings: the ids are free. */
    unsigned char *page = calloc(1, 4096);
    TH_EXPECT_RC(vmmc_export(vc, 0, page, 4096, VMMC_PERM_WRITE), VS_OK);
    TH_EXPECT_RC(vmmc_close(vc), VS_OK);
    free(page);
}

static void test_mismatch(void)
{
    th_run_nodes(NULL, mismatch_node);
}

/* ---- The simulations ---- */

static void test_p2p_2(void)
{
    static const mt_fn f[] = {sizes_node, order_node, unexp_node, trunc_node,
                              cache_node, notes_node, NULL};
    mt_run(TH_PLATFORM_2, 0, NULL, f);
}

static void test_misc_2(void)
{
    static const mt_fn f[] = {self_node, misuse_node, mt_collectives,
                              reinit_node, NULL};
    mt_run(TH_PLATFORM_2, 0, NULL, f);
}

static void test_small_rings(void)
{
    /* 64-byte eager messages on 2-slot rings: every few messages wait
     * for credits; no export cache: one export per rendezvous. */
    struct msg_params p;
    msg_params_default(&p);
    p.eager_limit = 64;
    p.ring_slots = 2;
    p.cache_exports = 0;
    static const mt_fn f[] = {flow_node, cache_node, order_node, NULL};
    mt_run(TH_PLATFORM_2, 0, &p, f);
}

static void test_ranks_3(void)
{
    static const mt_fn f[] = {wild_node, nb_node, mt_collectives, NULL};
    mt_run(TH_PLATFORM_8, 3, NULL, f);
}

static void test_ranks_7(void)
{
    static const mt_fn f[] = {wild_node, mt_collectives, NULL};
    mt_run(TH_PLATFORM_8, 7, NULL, f);
}

static void test_ranks_16(void)
{
    static const mt_fn f[] = {wild_node, fanin_node, mt_collectives, NULL};
    mt_run(TH_PLATFORM_16, 0, NULL, f);
}

static void test_rank_1(void)
{
    static const mt_fn f[] = {self_node, mt_collectives, NULL};
    mt_run(TH_PLATFORM_2, 1, NULL, f);
}

void register_msg_tests(void);
void register_msg_tests(void)
{
    CU_pSuite s = th_suite("msg");
    th_add(s,
           "2 ranks: sizes 0, 1, limit, limit+1, 256 KiB (bytes, status, "
           "protocol); non-overtaking; unexpected queue and probe; "
           "truncation; export cache; the application's notifications",
           test_p2p_2);
    th_add(s,
           "2 ranks: to self; misuse; every collective; finalize with a "
           "pending request; re-init",
           test_misc_2);
    th_add(s,
           "2 ranks, 2-slot rings, 64-byte eager limit, no export cache: "
           "flow control, non-overtaking, an export per rendezvous",
           test_small_rings);
    th_add(s,
           "3 ranks: wildcards; isend/irecv with test, waitany, waitall, "
           "testall; every collective",
           test_ranks_3);
    th_add(s, "7 ranks: wildcards; every collective", test_ranks_7);
    th_add(s,
           "16 ranks on two switches: wildcards; fan-in; shift; every "
           "collective",
           test_ranks_16);
    th_add(s, "1 rank: to self; every collective", test_rank_1);
    th_add(s, "ranks with different parameters: VS_ECONFIG", test_mismatch);
}
