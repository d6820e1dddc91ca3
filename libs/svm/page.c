/*
 * libs/svm pages: each node's view of the region, access detection by page
 * protection, twins and diffs.
 *
 * Every node maps its own copy of the region (vmmcsim exec runs all nodes
 * in one OS process, so the views sit at different addresses).  A page is
 * PROT_NONE while invalid on a node, PROT_READ while valid and clean,
 * read-write while dirty.  A node's home pages are never invalid there; the
 * home's view is what the other nodes fetch (export NODE_EXPORT_SVM + 0,
 * read-only) and where the home applies the diffs it receives.
 *
 * The trap.  The SIGSEGV handler finds the view that holds the address
 * and resolves the fault on the faulting node's own stack: it fetches the
 * page with VMMC, which blocks the node in simulated time, so the handler
 * switches to other nodes (SimGrid actors) and back before it returns.
 * Hence SA_NODEFER (with SimGrid's default contexts every node runs on the
 * one OS thread: a blocked SIGSEGV there would kill the process at the
 * next node's trap) and no SA_ONSTACK (an alternate signal stack is one
 * per thread, and a second node trapping while the first waits on it would
 * overwrite the first's frame).  A fault at any other address restores the
 * handler that was there before (SimGrid's stack-overflow detector,
 * AddressSanitizer's, or the default) and returns, so the access traps
 * again and is reported as it would be without this library.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "libs/svm/svm_int.h"

static struct sigaction old_segv;
static int handler_installed;

static int protect(struct svm_node *s, size_t page, int prot)
{
    svm__charge(s, HW_HOST_SYSCALL, 1);
    return mprotect(s->base + page * s->pg, s->pg, prot);
}

int svm__pages_open(struct svm_node *s)
{
    size_t len = s->npages * s->pg;
    void *p = mmap(NULL, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return svm__err(s, VS_ENOMEM, "svm_init: cannot map %zu bytes", len);
    s->base = p;
    s->bmlen = (s->npages + 7) / 8;
    s->state = calloc(s->npages, 1);
    s->twin = calloc(s->npages, sizeof *s->twin);
    s->dirty = calloc(s->npages, sizeof *s->dirty);
    s->w_own = calloc(s->bmlen, 1);
    s->known = calloc(s->bmlen, 1);
    s->grant_bits = calloc(s->bmlen, 1);
    s->brel_buf = calloc(s->npages, 1);
    s->summary = calloc(s->npages, 1);
    if (!s->state || !s->twin || !s->dirty || !s->w_own || !s->known ||
        !s->grant_bits || !s->brel_buf || !s->summary)
        return svm__err(s, VS_ENOMEM, "svm_init: out of memory");
    size_t first = (size_t)s->me * s->chunk;
    for (size_t i = first; i < first + s->chunk && i < s->npages; i++) {
        s->state[i] = SVM__READ;
        if (protect(s, i, PROT_READ))
            return svm__err(s, VS_ENOMEM, "svm_init: mprotect failed");
    }
    return VS_OK;
}

void svm__pages_close(struct svm_node *s)
{
    for (size_t i = 0; s->twin && i < s->npages; i++)
        free(s->twin[i]);
    if (s->base)
        munmap(s->base, s->npages * s->pg);
    s->base = NULL;
    free(s->state);
    free(s->twin);
    free(s->dirty);
    free(s->w_own);
    free(s->known);
    free(s->grant_bits);
    free(s->brel_buf);
    free(s->summary);
}

/* Brings an invalid page from its home into this node's view. */
static void fetch(struct svm_node *s, size_t page)
{
    int home = svm__home_of(s, page);
    uint8_t *dst = s->base + page * s->pg;
    vmmc_req req;
    protect(s, page, PROT_READ | PROT_WRITE);
    int rc =
        vmmc_fetch(s->vc, s->imp_home[home],
                   (page - (size_t)home * s->chunk) * s->pg, dst, s->pg, &req);
    if (!rc)
        rc = vmmc_wait(s->vc, &req);
    if (rc) {
        /* A load cannot return an error: the node cannot go on. */
        fprintf(stderr,
                "svm: node %d: fetching page %zu from node %d "
                "failed: %s (%s)\n",
                s->me, page, home, vs_strerror(rc), vmmc_errmsg(s->vc));
        abort();
    }
    s->st.fetches++;
    s->st.fetch_bytes += s->pg;
}

/* Makes a valid page writable, with a twin unless this node is its home. */
static void make_dirty(struct svm_node *s, size_t page)
{
    if (svm__home_of(s, page) != s->me) {
        uint8_t *t = malloc(s->pg);
        if (!t) {
            fprintf(stderr, "svm: node %d: out of memory for a twin\n", s->me);
            abort();
        }
        memcpy(t, s->base + page * s->pg, s->pg);
        svm__charge_bytes(s, s->pg);
        s->twin[page] = t;
        s->st.twins++;
    }
    s->state[page] = SVM__WRITE;
    s->dirty[s->ndirty++] = (uint32_t)page;
}

/* Resolves a trap of node s on page; write: the access was a store (or
 * may have been: -1). */
static void resolve(struct svm_node *s, size_t page, int write)
{
    svm__charge(s, HW_HOST_INTERRUPT, 1);
    if (s->state[page] == SVM__INVALID) {
        if (write > 0)
            s->st.write_faults++;
        else
            s->st.read_faults++;
        fetch(s, page);
        if (write > 0) {
            make_dirty(s, page);
            return; /* left read-write */
        }
        s->state[page] = SVM__READ;
        protect(s, page, PROT_READ);
        return;
    }
    if (s->state[page] == SVM__READ) {
        s->st.write_faults++;
        make_dirty(s, page);
        protect(s, page, PROT_READ | PROT_WRITE);
    }
}

static int trap_was_write(void *uc)
{
#if defined(__x86_64__) && defined(REG_ERR)
    const ucontext_t *u = uc;
    return (u->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
#else
    (void)uc;
    return -1; /* unknown: a store traps twice (invalid, then read-only) */
#endif
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    int n;
    struct svm_node **all = svm__all(&n);
    uint8_t *a = si->si_addr;
    hw_host *h = hw_self();
    for (int i = 0; h && i < n; i++) {
        struct svm_node *s = all[i];
        if (!s || !s->base || a < s->base || a >= s->base + s->size)
            continue;
        if (h->node != s->me) {
            /* An error of the program: say so before it dies of it. */
            fprintf(stderr,
                    "svm: node %d touched node %d's view of the "
                    "shared region at %p (a pointer from another "
                    "node?)\n",
                    h->node, s->me, si->si_addr);
            break;
        }
        resolve(s, (size_t)(a - s->base) / s->pg, trap_was_write(uc));
        return;
    }
    /* Not ours: let the previous handler (or the default) see it. */
    (void)sig;
    sigaction(SIGSEGV, &old_segv, NULL);
    handler_installed = 0;
}

int svm__install_handler(void)
{
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur))
        return VS_EINVAL;
    if (handler_installed && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_segv)
        return VS_OK;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv))
        return VS_EINVAL;
    handler_installed = 1;
    return VS_OK;
}

/* Appends the diff of page (against its twin) to buf: page, byte count,
 * then runs (offset, length, bytes).  Returns the bytes written. */
static size_t encode_diff(struct svm_node *s, size_t page, uint8_t *buf,
                          size_t *changed)
{
    const uint8_t *cur = s->base + page * s->pg, *tw = s->twin[page];
    size_t o = 8, i = 0, pg = s->pg;
    *changed = 0;
    while (i < pg) {
        if (i + 8 <= pg && !memcmp(cur + i, tw + i, 8)) {
            i += 8;
            continue;
        }
        if (cur[i] == tw[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < pg && cur[j] != tw[j])
            j++;
        uint16_t run[2] = {(uint16_t)i, (uint16_t)(j - i)};
        memcpy(buf + o, run, 4);
        memcpy(buf + o + 4, cur + i, j - i);
        o += 4 + (j - i);
        *changed += j - i;
        i = j;
    }
    uint32_t head[2] = {(uint32_t)page, (uint32_t)(o - 8)};
    memcpy(buf, head, 8);
    svm__charge_bytes(s, pg);
    return o;
}

/* The largest diff of one page: runs of one byte every other byte. */
static size_t max_diff(const struct svm_node *s)
{
    return 8 + s->pg / 2 * 5 + 8;
}

void svm__apply_diffs(struct svm_node *s, const uint8_t *p, size_t len)
{
    size_t o = 0;
    while (o + 8 <= len) {
        uint32_t head[2];
        memcpy(head, p + o, 8);
        o += 8;
        size_t page = head[0], end = o + head[1];
        if (page >= s->npages || end > len || svm__home_of(s, page) != s->me) {
            fprintf(stderr, "svm: node %d: malformed diff for page %zu\n",
                    s->me, page);
            return;
        }
        uint8_t *dst = s->base + page * s->pg;
        int was = s->state[page];
        if (was != SVM__WRITE)
            protect(s, page, PROT_READ | PROT_WRITE);
        while (o + 4 <= end) {
            uint16_t run[2];
            memcpy(run, p + o, 4);
            if ((size_t)run[0] + run[1] > s->pg || o + 4 + run[1] > end)
                break;
            memcpy(dst + run[0], p + o + 4, run[1]);
            svm__charge_bytes(s, run[1]);
            o += 4 + run[1];
        }
        o = end;
        if (was != SVM__WRITE)
            protect(s, page, PROT_READ);
        s->st.diffs_applied++;
    }
}

int svm__flush(struct svm_node *s, const uint8_t *filter)
{
    int n = s->n, rc = VS_OK;
    struct svm__msg **cur = calloc((size_t)n, sizeof *cur);
    size_t cap = SVM__MBOX - sizeof(struct svm__hdr), keep = 0;
    if (!cur)
        return svm__err(s, VS_ENOMEM, "svm: out of memory");
    for (size_t k = 0; k < s->ndirty; k++) {
        size_t page = s->dirty[k];
        if (filter && !svm__bm_get(filter, page)) {
            s->dirty[keep++] = (uint32_t)page;
            continue;
        }
        int home = svm__home_of(s, page);
        svm__bm_set(s->w_own, page);
        svm__bm_set(s->known, page);
        s->state[page] = SVM__READ;
        protect(s, page, PROT_READ);
        if (home == s->me)
            continue;
        struct svm__msg *m = cur[home];
        if (m && m->h.len + max_diff(s) > cap) {
            svm__send_built(s, home, m);
            m = cur[home] = NULL;
        }
        if (!m && !(m = cur[home] = svm__msg_new(SVM__M_DIFF, cap))) {
            rc = svm__err(s, VS_ENOMEM, "svm: out of memory");
            continue;
        }
        size_t changed;
        m->h.len += (uint32_t)encode_diff(
            s, page, (uint8_t *)(m + 1) + m->h.len, &changed);
        s->st.diffs++;
        s->st.diff_bytes += changed;
        free(s->twin[page]);
        s->twin[page] = NULL;
    }
    s->ndirty = keep;
    for (int d = 0; d < n; d++)
        if (cur[d])
            svm__send_built(s, d, cur[d]);
    free(cur);
    if (rc)
        return rc;
    /* The release is complete once every home has applied its diffs. */
    return svm__wait(s, svm__all_acked);
}

void svm__invalidate(struct svm_node *s, size_t page)
{
    if (svm__home_of(s, page) == s->me || s->state[page] == SVM__INVALID)
        return;
    if (s->state[page] == SVM__WRITE) {
        /* Never: dirty pages are flushed before notices are applied. */
        fprintf(stderr, "svm: node %d: invalidating dirty page %zu\n", s->me,
                page);
        abort();
    }
    s->state[page] = SVM__INVALID;
    protect(s, page, PROT_NONE);
    s->st.invalidations++;
}
