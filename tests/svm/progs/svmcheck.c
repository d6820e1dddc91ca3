/*
 * svmcheck: the programs the svm suite runs (tests/svm/test_svm.c), one
 * per mode, built with vmmcsim-cc and run with vmmcsim exec.  Every node
 * checks what it sees and exits non-zero on a mismatch; node 0 prints one
 * "MODE ok ..." line when every node's checks passed.
 *
 *   svmcheck coherence ROUNDS  the next three in one run (3 locks)
 *   svmcheck disjoint ROUNDS   every node writes its own bytes (i % n ==
 *                              node) of one page; after a barrier all see
 *                              every node's bytes
 *   svmcheck counter K LOCKS   every node adds 1 to LOCKS counters K times,
 *                              each under its own lock; all see n * K
 *   svmcheck barrier ROUNDS    node r % n writes a block, all read it
 *   svmcheck errors            bad calls return their documented errors
 *   svmcheck mismatch          nodes asking for different sizes: VS_EINVAL
 *   svmcheck halfjoin          node 1's svm_init fails alone: VS_ETIMEDOUT
 *   svmcheck stats             one read miss and one write miss, counted
 *   svmcheck segv              node 0 stores through a wild pointer
 *   svmcheck otherview         node 1 stores into node 0's view
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libs/svm/svm.h"

#define PG 4096

static int fail(int me, const char *what, long i, long got, long want)
{
    fprintf(stderr, "node %d: %s: [%ld] = %ld, want %ld\n", me, what, i, got,
            want);
    return 1;
}

/* Ends the run: every node reports its status through a shared word. */
static int finish(volatile int32_t *bad, int lock, int rc, const char *msg)
{
    int me = svm_node(), n = svm_nnodes();
    if (rc) {
        svm_lock_acquire(lock);
        *bad += 1;
        svm_lock_release(lock);
    }
    svm_barrier();
    int nbad = *bad;
    if (me == 0 && !nbad)
        printf("%s ok on %d node(s)\n", msg, n);
    return rc || nbad ? 1 : 0;
}

/* Uses 3 pages at b. */
static int disjoint(uint8_t *b, int rounds)
{
    int me = svm_node(), n = svm_nnodes(), rc = 0;
    volatile int32_t *bad = (int32_t *)(b + 2 * PG);
    /* Page 1: homed on node 0 with one node, on the last with several. */
    uint8_t *page = b + PG;
    for (int r = 0; r < rounds && !rc; r++) {
        for (int i = me; i < PG; i += n)
            page[i] = (uint8_t)(i * 7 + r * 13 + 1);
        svm_barrier();
        for (int i = 0; i < PG && !rc; i++)
            if (page[i] != (uint8_t)(i * 7 + r * 13 + 1))
                rc = fail(me, "disjoint", i, page[i],
                          (uint8_t)(i * 7 + r * 13 + 1));
        svm_barrier();
    }
    return finish(bad, 0, rc, "disjoint");
}

/* Uses locks + 1 pages at b. */
static int counter(uint8_t *b, int k, int locks)
{
    int me = svm_node(), n = svm_nnodes(), rc = 0;
    /* Counter c on page c, and a word next to it that only its lock's
     * holder writes, so pages have several writers over time. */
    for (int i = 0; i < k; i++) {
        for (int c = 0; c < locks; c++) {
            int32_t *w = (int32_t *)(b + (size_t)c * PG);
            if (svm_lock_acquire(c) != 0)
                return 3;
            w[0] += 1;
            w[1 + me] = i + 1;
            if (svm_lock_release(c) != 0)
                return 4;
        }
        svm_compute((hw_time_t)(me + 1) * 3 * HW_US);
    }
    svm_barrier();
    for (int c = 0; c < locks && !rc; c++) {
        int32_t *w = (int32_t *)(b + (size_t)c * PG);
        if (w[0] != n * k)
            rc = fail(me, "counter", c, w[0], n * k);
        for (int j = 0; j < n && !rc; j++)
            if (w[1 + j] != k)
                rc = fail(me, "counter last", j, w[1 + j], k);
    }
    return finish((int32_t *)(b + (size_t)locks * PG), 0, rc, "counter");
}

/* Uses 9 pages at b. */
static int barrier_vis(uint8_t *b, int rounds)
{
    size_t len = 8 * PG;
    int me = svm_node(), n = svm_nnodes(), rc = 0;
    int64_t *v = (int64_t *)b;
    size_t nv = len / sizeof *v;
    for (int r = 0; r < rounds && !rc; r++) {
        if (me == r % n)
            for (size_t i = 0; i < nv; i++)
                v[i] = (int64_t)i * 1000003 + r;
        svm_barrier();
        for (size_t i = 0; i < nv && !rc; i++)
            if (v[i] != (int64_t)i * 1000003 + r)
                rc = fail(me, "barrier", (long)i, (long)v[i],
                          (long)((int64_t)i * 1000003 + r));
        svm_barrier();
    }
    return finish((int32_t *)(b + len), 0, rc, "barrier");
}

#define EXPECT(call, want)                                                     \
    do {                                                                       \
        int got_ = (call);                                                     \
        if (got_ != (want)) {                                                  \
            fprintf(stderr, "node %d: %s returned %d (%s), want %d\n", me,     \
                    #call, got_, svm_errmsg(), (want));                        \
            rc = 1;                                                            \
        }                                                                      \
    } while (0)

static int errors(void)
{
    int me = -1, rc = 0;
    void *b = NULL;
    struct svm_stats st;
    EXPECT(svm_barrier(), VS_EINVAL);
    if (!strstr(svm_errmsg(), "svm_barrier: svm_init has not been called")) {
        fprintf(stderr, "errmsg: %s\n", svm_errmsg());
        rc = 1;
    }
    EXPECT(svm_lock_acquire(0), VS_EINVAL);
    EXPECT(svm_get_stats(&st), VS_EINVAL);
    EXPECT(svm_init(0, &b), VS_EINVAL);
    EXPECT(svm_init(SVM_MAX_SIZE + 1, &b), VS_EINVAL);
    EXPECT(svm_init(PG, NULL), VS_EINVAL);
    EXPECT(svm_compute(-1), VS_EINVAL);
    EXPECT(svm_init(2 * PG, &b), 0);
    me = svm_node();
    int n = svm_nnodes();
    uint8_t *base = b;
    EXPECT(svm_init(2 * PG, &b), VS_EBUSY);
    EXPECT(svm_lock_acquire(-1), VS_EINVAL);
    EXPECT(svm_lock_acquire(SVM_MAX_LOCKS), VS_EINVAL);
    EXPECT(svm_lock_release(3), VS_EPERM);
    if (!strstr(svm_errmsg(), "does not hold lock 3")) {
        fprintf(stderr, "errmsg: %s\n", svm_errmsg());
        rc = 1;
    }
    EXPECT(svm_lock_acquire(3), 0);
    EXPECT(svm_lock_acquire(3), VS_EDEADLK);
    EXPECT(svm_lock_release(3), 0);
    EXPECT(svm_lock_release(3), VS_EPERM);
    EXPECT(svm_home(base - 1), VS_ERANGE);
    EXPECT(svm_home(base + 2 * PG), VS_ERANGE);
    EXPECT(svm_home(NULL), VS_ERANGE);
    EXPECT(svm_home(base), 0);
    EXPECT(svm_home(base + PG), n > 1 ? 1 : 0);
    EXPECT(svm_get_stats(NULL), VS_EINVAL);
    EXPECT(svm_finalize(), 0);
    EXPECT(svm_finalize(), VS_EINVAL);
    EXPECT(svm_barrier(), VS_EINVAL);
    /* One region per run. */
    EXPECT(svm_init(PG, &b), VS_EBUSY);
    if (me == 0 && !rc)
        printf("errors ok\n");
    return rc;
}

/* Sizes that differ between nodes: an error on every node, and the run
 * ends normally. */
static int mismatch(void)
{
    int me = hw_self() ? hw_self()->node : -1, rc = 0;
    void *b = NULL;
    EXPECT(svm_init((size_t)(me + 1) * PG, &b), VS_EINVAL);
    if (!strstr(svm_errmsg(), "svm_init: the nodes asked for regions of "
                              "different sizes")) {
        fprintf(stderr, "errmsg: %s\n", svm_errmsg());
        rc = 1;
    }
    EXPECT(svm_barrier(), VS_EINVAL);
    if (me == 0 && !rc)
        printf("mismatch ok\n");
    return rc;
}

static int stats(void)
{
    uint8_t *b;
    if (svm_init(4 * PG, (void **)&b))
        return 2;
    int me = svm_node(), n = svm_nnodes(), rc = 0;
    struct svm_stats st;
    /* The last node reads one byte homed at node 0 and writes one. */
    volatile uint8_t x = 0;
    if (me == n - 1 && n > 1) {
        x = b[0];
        b[PG + 5] = 9;
    }
    svm_barrier();
    svm_get_stats(&st);
    if (me == n - 1 && n > 1) {
        /* With 2 nodes page 1 is homed at node 0 too (2 pages each). */
        if (st.read_faults != 1 || st.write_faults != 1 || st.fetches != 2 ||
            st.twins != 1 || st.diffs != 1 || st.diff_bytes != 1 ||
            st.barriers != 1)
            rc = 1;
        printf("stats node %d: read_faults %llu write_faults %llu fetches "
               "%llu twins %llu diffs %llu diff_bytes %llu x %d\n",
               me, (unsigned long long)st.read_faults,
               (unsigned long long)st.write_faults,
               (unsigned long long)st.fetches, (unsigned long long)st.twins,
               (unsigned long long)st.diffs, (unsigned long long)st.diff_bytes,
               x);
    }
    if (me == 0 && n == 2 && (st.diffs_applied != 1 || b[PG + 5] != 9))
        rc = 1;
    if (me == 0 && !rc)
        printf("stats ok\n");
    return rc;
}

/* Node 1's svm_init fails on its own (size 0): the others give up
 * waiting for it with VS_ETIMEDOUT instead of hanging. */
static int halfjoin(void)
{
    int me = hw_self() ? hw_self()->node : -1, rc = 0;
    void *b = NULL;
    EXPECT(svm_init(me == 1 ? 0 : PG, &b), me == 1 ? VS_EINVAL : VS_ETIMEDOUT);
    if (me != 1 && !strstr(svm_errmsg(), "node 1 did not join")) {
        fprintf(stderr, "errmsg: %s\n", svm_errmsg());
        rc = 1;
    }
    if (me == 0 && !rc)
        printf("halfjoin ok\n");
    return rc;
}

/* A stray store far from the region: not the library's to resolve. */
static int segv(void)
{
    void *b;
    if (svm_init(PG, &b))
        return 2;
    volatile int *volatile wild = (volatile int *)(uintptr_t)64;
    if (svm_node() == 0)
        *wild = 1;
    svm_barrier();
    if (svm_node() == 0)
        printf("segv ok\n");
    return 0;
}

/* One region for the coherence modes; "coherence ROUNDS K" runs the
 * three one after the other (disjoint and barrier ROUNDS rounds, counter
 * K increments on 3 locks). */
static int coherence(const char *mode, int a, int c)
{
    uint8_t *b;
    int all = !strcmp(mode, "coherence"), rc = 0;
    if (all)
        c = 3;
    if (c < 1 || c > 64 || a < 0) {
        fprintf(stderr, "svmcheck: bad arguments\n");
        return 2;
    }
    if (svm_init((size_t)(3 + c + 1 + 9) * PG, (void **)&b))
        return 2;
    if (all || !strcmp(mode, "disjoint"))
        rc |= disjoint(b, a);
    if (all || !strcmp(mode, "counter"))
        rc |= counter(b + 3 * PG, all ? a + 2 : a, c);
    if (all || !strcmp(mode, "barrier"))
        rc |= barrier_vis(b + (size_t)(3 + c + 1) * PG, a);
    svm_finalize();
    return rc;
}

/* Node 0 publishes its base address in the region; node 1 stores
 * through it: another node's view, an error of the program. */
static int otherview(void)
{
    uint8_t *b;
    if (svm_init(PG, (void **)&b))
        return 2;
    uint8_t *volatile *slot = (uint8_t *volatile *)b;
    if (svm_node() == 0)
        *slot = b;
    svm_barrier();
    if (svm_node() == 1)
        (*slot)[8] = 1;
    svm_barrier();
    if (svm_node() == 0)
        printf("otherview ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int a = argc > 2 ? atoi(argv[2]) : 3, c = argc > 3 ? atoi(argv[3]) : 2;
    if (!strcmp(mode, "disjoint") || !strcmp(mode, "counter") ||
        !strcmp(mode, "barrier") || !strcmp(mode, "coherence"))
        return coherence(mode, a, c);
    if (!strcmp(mode, "errors"))
        return errors();
    if (!strcmp(mode, "halfjoin"))
        return halfjoin();
    if (!strcmp(mode, "otherview"))
        return otherview();
    if (!strcmp(mode, "segv"))
        return segv();
    if (!strcmp(mode, "mismatch"))
        return mismatch();
    if (!strcmp(mode, "stats"))
        return stats();
    fprintf(stderr, "usage: svmcheck disjoint|counter|barrier|errors|stats "
                    "[args]\n");
    return 2;
}
