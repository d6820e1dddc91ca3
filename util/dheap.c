/* The deterministic heap (util/dheap.h). */
#include "util/dheap.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)

/* Under AddressSanitizer its own heap, whose checks matter more there than
 * where blocks fall. */
#include <stdlib.h>

void *vs_dheap_alloc(size_t size) { return malloc(size ? size : 1); }

void *vs_dheap_pages(size_t size)
{
    void *p = NULL;
    return posix_memalign(&p, 4096, size ? size : 1) ? NULL : p;
}

void vs_dheap_free(void *p) { free(p); }

#else

#define PAGE 4096u
#define HDR 16u
#define SMALL_MAX 1024u             /* classes of 16 bytes up to here */
#define NSMALL (SMALL_MAX / 16u)
#define BIG (1u << 20)              /* from here a mapping of its own */
#define NMEDIUM (BIG / PAGE + 1u)   /* page counts of medium blocks */
#define CHUNK (64u << 20)
#define MAGIC 0x6468656170766d6dULL /* "dheapvmm" */

/* K_PAGES: data at a page boundary, the header at the end of the page
 * before; K_PAGES_BIG the same on a mapping of its own. */
enum kind { K_SMALL = 1, K_MEDIUM, K_BIG, K_PAGES, K_PAGES_BIG };

/* Before every block: its usable size and MAGIC + kind. */
struct hdr {
    uint64_t size;
    uint64_t magic;
};

struct run { /* a mapping blocks are cut from */
    char *at, *end;
};

static struct {
    pthread_mutex_t lock;
    struct run small, pages; /* where the next new blocks come from */
    void *free_small[NSMALL];  /* by class: (size / 16) - 1 */
    void *free_medium[NMEDIUM]; /* by page count */
    void *free_pages[NMEDIUM];  /* K_PAGES, by page count (the header's
                                 * page not counted) */
} H = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct hdr *hdr_of(const void *p)
{
    return (struct hdr *)((char *)(uintptr_t)p - HDR);
}

static void *map(size_t len)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

/* A fresh CHUNK for run r; 0 or -1. */
static int refill(struct run *r)
{
    char *c = map(CHUNK);
    if (!c)
        return -1;
    r->at = c;
    r->end = c + CHUNK;
    return 0;
}

/* len bytes from run r (len <= CHUNK), aligned to align; NULL if out of
 * memory.  The rest of a run too short for it is left unused. */
static char *cut(struct run *r, size_t len, size_t align)
{
    char *at = r->at ? (char *)(((uintptr_t)r->at + align - 1) &
                                ~(uintptr_t)(align - 1))
                     : NULL;
    if (!at || at > r->end || (size_t)(r->end - at) < len) {
        if (refill(r))
            return NULL;
        at = r->at; /* a mapping is page aligned */
    }
    r->at = at + len;
    return at;
}

/* The block whose data starts lead bytes into base (its header just
 * before), of size usable bytes. */
static void *block(char *base, size_t lead, uint64_t size, enum kind k)
{
    struct hdr *h = (struct hdr *)(base + lead - HDR);
    h->size = size;
    h->magic = MAGIC + k;
    return base + lead;
}

static enum kind kind_of(const void *p)
{
    uint64_t m = hdr_of(p)->magic;
    return m > MAGIC && m <= MAGIC + K_PAGES_BIG ? (enum kind)(m - MAGIC) : 0;
}

/* The first block of a free list, or else a new one: len bytes cut from
 * run r at align, its data lead bytes in. */
static void *take(void **list, struct run *r, size_t len, size_t align,
                  size_t lead, enum kind k)
{
    pthread_mutex_lock(&H.lock);
    void *p = *list;
    if (p) {
        memcpy(list, p, sizeof p);
    } else {
        char *b = cut(r, len, align);
        p = b ? block(b, lead, len - lead, k) : NULL;
    }
    pthread_mutex_unlock(&H.lock);
    return p;
}

/* A block on a mapping of len bytes of its own, its data lead bytes in. */
static void *own_mapping(size_t len, size_t lead, enum kind k)
{
    char *b = map(len);
    return b ? block(b, lead, len - lead, k) : NULL;
}

void *vs_dheap_alloc(size_t size)
{
    if (size > SIZE_MAX - PAGE - HDR)
        return NULL;
    size_t need = size ? (size + 15) / 16 * 16 : 16;
    if (need <= SMALL_MAX)
        return take(&H.free_small[need / 16 - 1], &H.small, HDR + need, 16,
                    HDR, K_SMALL);
    size_t len = (need + HDR + PAGE - 1) / PAGE * PAGE;
    if (len >= BIG)
        return own_mapping(len, HDR, K_BIG);
    return take(&H.free_medium[len / PAGE], &H.pages, len, PAGE, HDR,
                K_MEDIUM);
}

void *vs_dheap_pages(size_t size)
{
    if (size > SIZE_MAX - 2 * PAGE)
        return NULL;
    size_t len = (size ? size + PAGE - 1 : PAGE) / PAGE * PAGE;
    if (len + PAGE >= BIG)
        return own_mapping(len + PAGE, PAGE, K_PAGES_BIG);
    return take(&H.free_pages[len / PAGE], &H.pages, len + PAGE, PAGE, PAGE,
                K_PAGES);
}

void vs_dheap_free(void *p)
{
    if (!p)
        return;
    struct hdr *h = hdr_of(p);
    void **list;
    switch (kind_of(p)) {
    case K_BIG:
        munmap(h, h->size + HDR);
        return;
    case K_PAGES_BIG:
        munmap((char *)p - PAGE, h->size + PAGE);
        return;
    case K_SMALL:
        list = &H.free_small[h->size / 16 - 1];
        break;
    case K_MEDIUM:
        list = &H.free_medium[(h->size + HDR) / PAGE];
        break;
    case K_PAGES:
        list = &H.free_pages[h->size / PAGE];
        break;
    default: /* not a block of this heap */
        return;
    }
    pthread_mutex_lock(&H.lock);
    memcpy(p, list, sizeof p);
    *list = p;
    pthread_mutex_unlock(&H.lock);
}

#endif
