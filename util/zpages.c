/* Zeroed huge-page blocks (util/zpages.h). */
#include "util/zpages.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096u
#define HUGE (2u << 20)
#define CHUNK (64u << 20)

static size_t round_pages(size_t size)
{
    return size ? (size + PAGE - 1) / PAGE * PAGE : PAGE;
}

#if defined(__SANITIZE_ADDRESS__)

void *vs_map_zeroed(size_t size) { return calloc(1, size ? size : 1); }

void vs_unmap_zeroed(void *p, size_t size)
{
    (void)size;
    free(p);
}

void *vs_zpages_alloc(size_t size)
{
    size_t len = round_pages(size);
    void *p = aligned_alloc(PAGE, len);
    if (p)
        memset(p, 0, len);
    return p;
}

void vs_zpages_free(void *p, size_t size)
{
    (void)size;
    free(p);
}

#else

void *vs_map_zeroed(size_t size)
{
    void *p = mmap(NULL, round_pages(size), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void vs_unmap_zeroed(void *p, size_t size)
{
    if (p)
        munmap(p, round_pages(size));
}

/* A block given back, kept for the next of its size.  The record is not
 * in the block: writing there would make a page that was only read (the
 * zero page) real memory. */
struct spare {
    struct spare *next;
    void *p;
    size_t len;
};

static struct {
    pthread_mutex_t lock;
    char *chunk; /* the mapping blocks are cut from */
    size_t len, used;
    char **maps; /* every mapping, with its length, for the end */
    size_t *lens, nmaps;
    struct spare *spares;
    size_t live; /* blocks out */
} Z = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A new mapping of at least len bytes, aligned to the huge page; 0 or -1. */
static int map_chunk(size_t len)
{
    size_t clen = len > CHUNK ? (len + HUGE - 1) / HUGE * HUGE : CHUNK;
    char *m = mmap(NULL, clen + HUGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    char *c = (char *)(((uintptr_t)m + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (c > m)
        munmap(m, (size_t)(c - m));
    if (c + clen < m + clen + HUGE)
        munmap(c + clen, (size_t)(m + clen + HUGE - (c + clen)));
    char **maps = realloc(Z.maps, (Z.nmaps + 1) * sizeof *maps);
    if (maps)
        Z.maps = maps;
    size_t *lens = maps ? realloc(Z.lens, (Z.nmaps + 1) * sizeof *lens) : NULL;
    if (!lens) {
        munmap(c, clen);
        return -1;
    }
    Z.lens = lens;
    Z.maps[Z.nmaps] = c;
    Z.lens[Z.nmaps++] = clen;
    madvise(c, clen, MADV_HUGEPAGE); /* advice: fine if refused */
    Z.chunk = c;
    Z.len = clen;
    Z.used = 0;
    return 0;
}

void *vs_zpages_alloc(size_t size)
{
    size_t len = round_pages(size);
    void *p = NULL;
    pthread_mutex_lock(&Z.lock);
    for (struct spare **s = &Z.spares; *s; s = &(*s)->next)
        if ((*s)->len == len) {
            struct spare *found = *s;
            *s = found->next;
            p = found->p;
            free(found);
            memset(p, 0, len);
            break;
        }
    if (!p && (Z.chunk && Z.len - Z.used >= len ? 0 : map_chunk(len)) == 0) {
        p = Z.chunk + Z.used;
        Z.used += len;
    }
    if (p)
        Z.live++;
    pthread_mutex_unlock(&Z.lock);
    return p;
}

void vs_zpages_free(void *p, size_t size)
{
    if (!p)
        return;
    struct spare *s = malloc(sizeof *s);
    pthread_mutex_lock(&Z.lock);
    if (s) { /* else the block is not reused before the end */
        s->p = p;
        s->len = round_pages(size);
        s->next = Z.spares;
        Z.spares = s;
    }
    if (Z.live && --Z.live == 0) {
        /* The last one: the next run starts from fresh zero pages. */
        for (size_t i = 0; i < Z.nmaps; i++)
            munmap(Z.maps[i], Z.lens[i]);
        free(Z.maps);
        free(Z.lens);
        Z.maps = NULL;
        Z.lens = NULL;
        Z.nmaps = 0;
        Z.chunk = NULL;
        Z.len = Z.used = 0;
        while (Z.spares) {
            struct spare *next = Z.spares->next;
            free(Z.spares);
            Z.spares = next;
        }
    }
    pthread_mutex_unlock(&Z.lock);
}

#endif
