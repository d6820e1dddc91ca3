/*
 * A free list of fixed-size blocks, for objects the simulator makes and
 * drops per packet (packets, host-DMA requests, NIC tasks, timers): a
 * block given back is handed out again instead of going through malloc
 * and free each time.  Under AddressSanitizer every block is malloc'd and
 * freed, so a use after release is still caught.  Blocks are not cleared.
 */
#ifndef UTIL_POOL_H
#define UTIL_POOL_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct vs_pool {
    void *free; /* given-back blocks, linked through their first word */
    size_t size; /* bytes a block (at least a pointer's) */
};

static inline void vs_pool_init(struct vs_pool *p, size_t size)
{
    p->free = NULL;
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
}

/* A block of p->size bytes, or NULL if out of memory. */
static inline void *vs_pool_get(struct vs_pool *p)
{
#if !defined(__SANITIZE_ADDRESS__)
    void *b = p->free;
    if (b) {
        p->free = *(void **)b;
        /* The next get reads that block's link: load it meanwhile (blocks
         * come back from all over a large cluster's memory). */
        if (p->free)
            __builtin_prefetch(p->free, 1);
        return b;
    }
#endif
    return malloc(p->size);
}

/* A zeroed block of p->size bytes (calloc), or NULL. */
static inline void *vs_pool_get0(struct vs_pool *p)
{
    void *b = vs_pool_get(p);
    if (b)
        memset(b, 0, p->size);
    return b;
}

static inline void vs_pool_put(struct vs_pool *p, void *b)
{
    if (!b)
        return;
#if defined(__SANITIZE_ADDRESS__)
    (void)p;
    free(b);
#else
    *(void **)b = p->free;
    p->free = b;
#endif
}

/* Frees the given-back blocks (blocks still out are the caller's). */
static inline void vs_pool_drain(struct vs_pool *p)
{
    while (p->free) {
        void *b = p->free;
        p->free = *(void **)b;
        free(b);
    }
}

#endif
