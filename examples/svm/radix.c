/*
 * radix: least-significant-digit radix sort of n 32-bit keys in shared
 * virtual memory, 8 bits per pass (4 passes).  Each node owns a block of
 * the keys.  A pass: every node counts the digits of its block into its
 * row of a shared histogram; a barrier; every node reads all the rows to
 * find where each of its keys goes (the keys of lower nodes with the same
 * digit go first, so the sort is stable) and writes them into the other
 * array; a barrier.  The writes scatter over the whole array, so most
 * pages get writes from every node: the diffs merge them at the homes.
 * A lock-protected shared counter adds up the keys each node moved, as a
 * check of the locks.  Node 0 then compares the result with qsort() of
 * the same keys; exit status 1 if they differ.
 *
 *   build/vmmcsim-cc -O2 -o build/svm-radix examples/svm/radix.c
 *   build/vmmcsim exec -n 4 --platform configs/myrinet-16.xml \
 *       build/svm-radix [n]            (default n = 65536)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "examples/svm/report.h"

#define PAGE 4096
#define RADIX 256
#define PASSES 4

static uint32_t key(uint32_t i)
{
    uint32_t x = i * 2654435761u + 12345u; /* a fixed scramble */
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    return x ^ (x >> 15);
}

static int cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t round_page(size_t n)
{
    return (n + PAGE - 1) / PAGE * PAGE;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 65536;
    if (n < 1 || n > (1L << 22)) {
        fprintf(stderr, "radix: n must be 1..4194304\n");
        return 2;
    }
    size_t keys = round_page((size_t)n * 4);
    /* keys[2], histogram rows (one per node, up to 64 nodes), a counter
     * page, the statistics pages. */
    size_t hist = round_page(64 * RADIX * 4);
    char *base;
    if (svm_init(2 * keys + hist + 3 * PAGE, (void **)&base)) {
        fprintf(stderr, "radix: svm_init: %s\n", svm_errmsg());
        return 2;
    }
    uint32_t *src = (uint32_t *)base, *dst = (uint32_t *)(base + keys);
    uint32_t *h = (uint32_t *)(base + 2 * keys);
    volatile long *moved = (long *)(base + 2 * keys + hist);
    int me = svm_node(), nn = svm_nnodes();
    if (nn > 64) {
        fprintf(stderr, "radix: at most 64 nodes\n");
        return 2;
    }
    long lo = n * me / nn, hi = n * (me + 1) / nn;
    for (long i = lo; i < hi; i++)
        src[i] = key((uint32_t)i);
    svm_barrier();

    struct svm_stats s0, s1;
    svm_get_stats(&s0);
    double t0 = svm_wtime();
    long mine = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        int shift = 8 * pass;
        uint32_t count[RADIX] = {0}, at[RADIX];
        for (long i = lo; i < hi; i++)
            count[(src[i] >> shift) & (RADIX - 1)]++;
        for (int d = 0; d < RADIX; d++)
            h[me * RADIX + d] = count[d];
        charge((double)(hi - lo), KEY_NS);
        svm_barrier();
        /* Where this node's keys of digit d start. */
        uint32_t total = 0;
        for (int d = 0; d < RADIX; d++) {
            at[d] = total;
            for (int k = 0; k < nn; k++) {
                if (k == me)
                    at[d] = total;
                total += h[k * RADIX + d];
            }
        }
        charge((double)RADIX * nn, KEY_NS);
        for (long i = lo; i < hi; i++) {
            uint32_t v = src[i];
            dst[at[(v >> shift) & (RADIX - 1)]++] = v;
        }
        charge(2.0 * (hi - lo), KEY_NS);
        mine += hi - lo;
        svm_barrier();
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    svm_lock_acquire(0);
    *moved += mine;
    svm_lock_release(0);
    svm_barrier();
    double t = svm_wtime() - t0;
    svm_get_stats(&s1);

    int ok = 1;
    if (me == 0) {
        uint32_t *want = malloc((size_t)n * sizeof *want);
        if (!want)
            return 3;
        for (long i = 0; i < n; i++)
            want[i] = key((uint32_t)i);
        qsort(want, (size_t)n, sizeof *want, cmp);
        for (long i = 0; i < n && ok; i++)
            if (src[i] != want[i]) {
                fprintf(stderr, "radix: key %ld is %u, want %u\n", i, src[i],
                        want[i]);
                ok = 0;
            }
        if (*moved != (long)PASSES * n) {
            fprintf(stderr, "radix: %ld keys moved, want %ld\n", *moved,
                    (long)PASSES * n);
            ok = 0;
        }
        free(want);
    }
    s1 = stats_since(&s0, &s1);
    report("radix", n, base + 2 * keys + hist + PAGE, &s1, t, ok);
    svm_finalize();
    return ok ? 0 : 1;
}
