/*
 * Helpers of util/ the simulator's speed rests on: zeroed huge-page blocks
 * and blocks on mappings of their own (util/zpages.h), free lists
 * (util/pool.h); and the deterministic heap (util/dheap.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "util/dheap.h"
#include "util/pool.h"
#include "util/zpages.h"

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Blocks are page-aligned, zeroed, apart; a block given back comes back
 * cleared for the same size; after the last one is given back, new ones
 * are zero again. */
static void test_zpages(void)
{
    enum { N = 5 };
    size_t sizes[N] = {1, 4096, 65536, 1000000, 3u << 20};
    unsigned char *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = vs_zpages_alloc(sizes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b[i]);
        CU_ASSERT_EQUAL((uintptr_t)b[i] % 4096, 0);
        CU_ASSERT_TRUE(all_zero(b[i], sizes[i]));
        memset(b[i], 0xA5, sizes[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j)
                CU_ASSERT_TRUE(b[i] + sizes[i] <= b[j] ||
                               b[j] + sizes[j] <= b[i]);
    for (int i = 0; i < N; i++) /* the others were not overwritten */
        CU_ASSERT_EQUAL(b[i][sizes[i] - 1], 0xA5);
    /* Given back and taken again: the same size comes back cleared. */
    vs_zpages_free(b[2], sizes[2]);
    unsigned char *again = vs_zpages_alloc(sizes[2]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT_TRUE(all_zero(again, sizes[2]));
    b[2] = again;
    for (int i = 0; i < N; i++)
        vs_zpages_free(b[i], sizes[i]);
    vs_zpages_free(NULL, 10);
    unsigned char *fresh = vs_zpages_alloc(sizes[3]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fresh);
    CU_ASSERT_TRUE(all_zero(fresh, sizes[3]));
    vs_zpages_free(fresh, sizes[3]);
}

/* A block on its own mapping is zeroed, writable to its last byte, and
 * apart from another; giving back NULL does nothing. */
static void test_map_zeroed(void)
{
    size_t sizes[2] = {1u << 20, 20000};
    unsigned char *b[2];
    for (int i = 0; i < 2; i++) {
        b[i] = vs_map_zeroed(sizes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b[i]);
        CU_ASSERT_TRUE(all_zero(b[i], sizes[i]));
        memset(b[i], 0x3C, sizes[i]);
    }
    CU_ASSERT_TRUE(b[0] + sizes[0] <= b[1] || b[1] + sizes[1] <= b[0]);
    CU_ASSERT_EQUAL(b[0][sizes[0] - 1], 0x3C);
    for (int i = 0; i < 2; i++)
        vs_unmap_zeroed(b[i], sizes[i]);
    vs_unmap_zeroed(NULL, 10);
}

/* A pool hands back what it was given (not under ASan, where every block
 * is malloc'd), and vs_pool_get0 clears. */
static void test_pool(void)
{
    struct vs_pool p;
    vs_pool_init(&p, 40);
    unsigned char *a = vs_pool_get(&p), *b = vs_pool_get(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_EQUAL(a, b);
    memset(a, 0x5A, 40);
    vs_pool_put(&p, a);
    unsigned char *c = vs_pool_get0(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(all_zero(c, 40));
#if !defined(__SANITIZE_ADDRESS__)
    CU_ASSERT_PTR_EQUAL(c, a);
#endif
    vs_pool_put(&p, b);
    vs_pool_put(&p, c);
    vs_pool_drain(&p);
    CU_ASSERT_PTR_NULL(p.free);
}

/* The deterministic heap: blocks aligned as documented, writable whole and
 * apart; and a sequence of requests gets the same blocks back after they
 * were given back, whatever the C library's heap did meanwhile (which is
 * what keeps the libraries' buffers in the same place in their pages from
 * one environment to another). */
static void test_dheap(void)
{
    static const size_t sizes[] = {1,    16,   17,   100,   1024,  1025,
                                   4080, 4081, 9000, 65536, 1 << 20,
                                   3 << 20};
    enum { N = sizeof sizes / sizeof sizes[0] };
    void *a[N], *b[N], *pg[3];
    for (int i = 0; i < N; i++) {
        a[i] = vs_dheap_alloc(sizes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a[i]);
        CU_ASSERT_EQUAL((uintptr_t)a[i] % 16, 0);
        memset(a[i], 0x40 + i, sizes[i]);
    }
    for (int i = 0; i < N; i++) /* nothing overwrote another block */
        for (size_t k = 0; k < sizes[i]; k += 509)
            CU_ASSERT_EQUAL(((unsigned char *)a[i])[k], 0x40 + i);
#if !defined(__SANITIZE_ADDRESS__) /* there, the C library's heap */
    /* above 1 KiB: 16 bytes into a page of its own */
    CU_ASSERT_EQUAL((uintptr_t)a[5] % 4096, 16);
    CU_ASSERT_EQUAL((uintptr_t)a[8] % 4096, 16);
    CU_ASSERT_EQUAL((uintptr_t)a[11] % 4096, 16);
#endif
    static const size_t psizes[] = {4, 4097, 2 << 20};
    for (int i = 0; i < 3; i++) {
        pg[i] = vs_dheap_pages(psizes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pg[i]);
        CU_ASSERT_EQUAL((uintptr_t)pg[i] % 4096, 0);
        memset(pg[i], 0x7f, psizes[i]);
    }
    for (int i = N - 1; i >= 0; i--)
        vs_dheap_free(a[i]);
    void *noise[64];
    for (int i = 0; i < 64; i++)
        noise[i] = malloc((size_t)(i * 37 + 1));
    for (int i = 0; i < N; i++)
        b[i] = vs_dheap_alloc(sizes[i]);
#if !defined(__SANITIZE_ADDRESS__)
    /* Small and page-run blocks come back as they were (mappings of their
     * own, from 1 MiB on, are new). */
    for (int i = 0; i < N - 2; i++)
        CU_ASSERT_PTR_EQUAL(b[i], a[i]);
#endif
    for (int i = 0; i < N; i++)
        vs_dheap_free(b[i]);
    for (int i = 0; i < 3; i++)
        vs_dheap_free(pg[i]);
    for (int i = 0; i < 64; i++)
        free(noise[i]);
    vs_dheap_free(NULL);
}

void register_util_tests(void);
void register_util_tests(void)
{
    CU_pSuite s = th_suite("util");
    th_add(s, "zeroed huge-page blocks: aligned, apart, cleared on reuse",
           test_zpages);
    th_add(s, "blocks on their own mapping: zeroed, writable, apart",
           test_map_zeroed);
    th_add(s, "free lists hand blocks back, cleared by get0", test_pool);
    th_add(s, "deterministic heap: aligned, apart, the same blocks again",
           test_dheap);
}
