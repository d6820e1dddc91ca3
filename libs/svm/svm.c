/*
 * libs/svm API: initialisation, locks, barriers, counters (svm.h).
 *
 * Write notices.  A node records the pages it wrote since the last barrier
 * (w_own) and every notice it has learnt of since then (known: its own
 * writes and the notices that came with its lock grants).  A lock's manager
 * (node id % n) keeps the union of the "known" sets its releasers sent in
 * the current barrier epoch; a grant carries it and the acquirer
 * invalidates those pages (notices of an earlier epoch are covered by the
 * barrier that ended it).  At a barrier
 * every node sends w_own to node 0, which sums per page who wrote it (one
 * writer or several) and sends the sums back: a node invalidates every page
 * someone else wrote, unless it is the page's home.  Releases and barrier
 * arrivals wait until the homes have applied the diffs, so a page fetched
 * after a grant or a barrier has every write that came before it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libs/node/node.h"
#include "libs/svm/svm_int.h"

static struct {
    struct svm_node **nodes;
    uint8_t *used; /* per node: svm_init went collective once */
    int n;
    char errmsg[256]; /* for calls off a node */
} G;

struct svm_node **svm__all(int *n)
{
    *n = G.n;
    return G.nodes;
}

/* The slot of the calling node, grown as needed; NULL off a node. */
static struct svm_node **slot(void)
{
    hw_host *h = hw_self();
    if (!h || h->node < 0 || h->node >= h->nnodes)
        return NULL;
    if (G.n < h->nnodes) {
        struct svm_node **p = realloc(G.nodes, (size_t)h->nnodes * sizeof *p);
        if (p)
            G.nodes = p;
        uint8_t *u = p ? realloc(G.used, (size_t)h->nnodes) : NULL;
        if (!u)
            return NULL;
        for (int i = G.n; i < h->nnodes; i++) {
            p[i] = NULL;
            u[i] = 0;
        }
        G.used = u;
        G.n = h->nnodes;
    }
    return &G.nodes[h->node];
}

struct svm_node *svm__self(void)
{
    struct svm_node **sl = slot();
    return sl ? *sl : NULL;
}

int svm__err(struct svm_node *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s ? s->errmsg : G.errmsg, sizeof G.errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

const char *svm_errmsg(void)
{
    struct svm_node *s = svm__self();
    return s ? s->errmsg : G.errmsg;
}

void svm__charge_bytes(struct svm_node *s, size_t n)
{
    if (n)
        s->h->ops->compute(s->h, (hw_time_t)n * HW_US / SVM__COPY_MBPS);
}

void svm__charge(struct svm_node *s, enum hw_host_cost c, unsigned count)
{
    s->h->ops->compute(s->h, s->h->ops->cost(s->h, c) * (hw_time_t)count);
}

/* The calling node's state for API call fn, or NULL with the error set. */
static struct svm_node *ready_node(const char *fn)
{
    struct svm_node *s = svm__self();
    if (!s)
        svm__err(NULL, VS_EINVAL, "%s: %s", fn,
                 hw_self() ? "svm_init has not been called on this node"
                           : "not called on a simulated node");
    else
        svm__charge(s, HW_HOST_CALL, 1);
    return s;
}

/* ---- messages ---- */

static void grant(struct svm_node *s, int lock, int to)
{
    struct svm__lock *l = &s->locks[lock];
    l->holder = to;
    svm__send(s, to, SVM__M_GRANT, (uint32_t)lock, (uint32_t)l->epoch,
              l->notices, l->notices ? s->bmlen : 0);
}

static void on_acq(struct svm_node *s, int src, int lock)
{
    struct svm__lock *l = &s->locks[lock];
    if (l->holder < 0) {
        grant(s, lock, src);
        return;
    }
    if (!l->queue && !(l->queue = calloc((size_t)s->n, sizeof *l->queue))) {
        fprintf(stderr, "svm: node %d: out of memory\n", s->me);
        abort();
    }
    l->queue[(l->qhead + l->qlen++) % s->n] = src;
}

static void on_rel(struct svm_node *s, int lock, uint32_t epoch,
                   const uint8_t *bits, size_t len)
{
    struct svm__lock *l = &s->locks[lock];
    /* Notices of an earlier barrier epoch are covered by that barrier. */
    if (epoch > l->epoch && l->notices)
        memset(l->notices, 0, s->bmlen);
    if (epoch > l->epoch)
        l->epoch = epoch;
    if (len == s->bmlen && epoch == l->epoch) {
        if (!l->notices && !(l->notices = calloc(s->bmlen, 1))) {
            fprintf(stderr, "svm: node %d: out of memory\n", s->me);
            abort();
        }
        for (size_t i = 0; i < len; i++)
            l->notices[i] |= bits[i];
    }
    l->holder = -1;
    if (l->qlen) {
        int next = l->queue[l->qhead];
        l->qhead = (l->qhead + 1) % s->n;
        l->qlen--;
        grant(s, lock, next);
    }
}

static void on_arrive(struct svm_node *s, int src, const uint8_t *bits,
                      size_t len)
{
    for (size_t p = 0; len == s->bmlen && p < s->npages; p++) {
        if (!svm__bm_get(bits, p))
            continue;
        if (!s->summary[p])
            s->summary[p] = (uint8_t)(src + 1);
        else if (s->summary[p] != src + 1)
            s->summary[p] = 0xff;
    }
    if (++s->arrived < s->n)
        return;
    for (int d = 0; d < s->n; d++)
        svm__send(s, d, SVM__M_BREL, 0, 0, s->summary, s->npages);
    memset(s->summary, 0, s->npages);
    s->arrived = 0;
}

static void on_init(struct svm_node *s, uint64_t size)
{
    if (!s->init_count++)
        s->init_size = size;
    else if (size != s->init_size)
        s->init_status = VS_EINVAL;
    if (s->init_count < s->n)
        return;
    for (int d = 0; d < s->n; d++)
        svm__send(s, d, SVM__M_INITREP, (uint32_t)s->init_status, 0, NULL, 0);
}

void svm__handle(struct svm_node *s, int src, const struct svm__hdr *h,
                 const uint8_t *payload)
{
    int lock = (int)h->a;
    int lock_ok = h->a < SVM_MAX_LOCKS && (int)(h->a % (uint32_t)s->n) == s->me;
    switch (h->type) {
    case SVM__M_INIT:
        on_init(s, (uint64_t)h->a | (uint64_t)h->b << 32);
        break;
    case SVM__M_INITREP:
        s->init_status = (int)h->a;
        s->init_done = 1;
        break;
    case SVM__M_DIFF:
        svm__apply_diffs(s, payload, h->len);
        break;
    case SVM__M_ACQ:
        if (lock_ok)
            on_acq(s, src, lock);
        break;
    case SVM__M_REL:
        if (lock_ok)
            on_rel(s, lock, h->b, payload, h->len);
        break;
    case SVM__M_GRANT:
        if (lock == s->want_lock) {
            /* Notices from before this node's last barrier are stale. */
            s->grant_has_bits = h->len == s->bmlen && h->b == s->epoch;
            if (s->grant_has_bits)
                memcpy(s->grant_bits, payload, s->bmlen);
            s->granted = 1;
        }
        break;
    case SVM__M_ARRIVE:
        if (s->me == 0)
            on_arrive(s, src, payload, h->len);
        break;
    case SVM__M_BREL:
        if (h->len == s->npages)
            memcpy(s->brel_buf, payload, s->npages);
        s->brel_count++;
        break;
    default:
        fprintf(stderr, "svm: node %d: unknown message %u from node %d\n",
                s->me, h->type, src);
    }
}

/* ---- init and end ---- */

static void free_node(struct svm_node *s)
{
    if (s->vc)
        svm__comm_close(s);
    svm__pages_close(s);
    for (int i = 0; s->locks && i < SVM_MAX_LOCKS; i++) {
        free(s->locks[i].queue);
        free(s->locks[i].notices);
    }
    free(s->locks);
    free(s);
}

static int init_done(struct svm_node *s)
{
    return s->init_done;
}
static int barrier(struct svm_node *s);

static void at_end(void *arg)
{
    (void)arg;
    if (svm__self())
        svm_finalize();
}

int svm_init(size_t size, void **base)
{
    struct svm_node **sl = slot();
    hw_host *h = hw_self();
    if (!sl)
        return svm__err(NULL, VS_EINVAL,
                        "svm_init: not called on a simulated node");
    if (*sl)
        return svm__err(*sl, VS_EBUSY,
                        "svm_init: already initialised on node %d", h->node);
    if (G.used[h->node])
        return svm__err(NULL, VS_EBUSY,
                        "svm_init: node %d already had a region in this run "
                        "(one svm_init per run)",
                        h->node);
    if (!base || !size || size > SVM_MAX_SIZE)
        return svm__err(
            NULL, VS_EINVAL, "svm_init: %s (size %zu; 1 to %zu bytes)",
            !base ? "base is NULL" : "bad size", size, SVM_MAX_SIZE);
    if (h->nnodes > SVM_MAX_NODES)
        return svm__err(NULL, VS_EINVAL, "svm_init: %d nodes; at most %d",
                        h->nnodes, SVM_MAX_NODES);
    int rc = VS_OK;
    struct svm_node *s = calloc(1, sizeof *s);
    if (!s)
        return svm__err(NULL, VS_ENOMEM, "svm_init: out of memory");
    s->me = h->node;
    s->n = h->nnodes;
    s->h = h;
    s->pg = (size_t)sysconf(_SC_PAGESIZE);
    s->npages = (size + s->pg - 1) / s->pg;
    s->size = s->npages * s->pg;
    s->chunk = (s->npages + (size_t)s->n - 1) / (size_t)s->n;
    s->want_lock = -1;
    s->vc = node_vmmc(&rc);
    if (!s->vc) {
        svm__err(NULL, rc, "svm_init: no VMMC context on node %d: %s", s->me,
                 vs_strerror(rc));
        free(s);
        return rc;
    }
    s->locks = calloc(SVM_MAX_LOCKS, sizeof *s->locks);
    if (!s->locks)
        rc = svm__err(s, VS_ENOMEM, "svm_init: out of memory");
    for (int i = 0; !rc && i < SVM_MAX_LOCKS; i++)
        s->locks[i].holder = -1;
    if (!rc)
        rc = svm__pages_open(s);
    if (!rc) {
        G.used[s->me] = 1;
        rc = svm__comm_open(s);
    }
    if (!rc && svm__install_handler())
        rc = svm__err(s, VS_EINVAL,
                      "svm_init: cannot install the SIGSEGV "
                      "handler");
    /* Every node says its size to node 0, which checks they agree. */
    if (!rc)
        rc = svm__send(s, 0, SVM__M_INIT, (uint32_t)size,
                       (uint32_t)((uint64_t)size >> 32), NULL, 0);
    if (!rc)
        rc = svm__wait(s, init_done);
    if (!rc && s->init_status) {
        rc = svm__err(s, s->init_status,
                      "svm_init: the nodes asked for "
                      "regions of different sizes");
        /* Collective: end as svm_finalize does, so that nothing is in
         * flight to a node that has withdrawn its exports. */
        if (!svm__wait(s, svm__all_acked) && !barrier(s))
            svm__wait(s, svm__all_acked);
    }
    if (rc) {
        char msg[sizeof s->errmsg];
        memcpy(msg, s->errmsg, sizeof msg);
        free_node(s);
        svm__err(NULL, rc, "%s", msg);
        return rc;
    }
    *sl = s;
    node_at_end(at_end, NULL);
    *base = s->base;
    return VS_OK;
}

static int brel_seen(struct svm_node *s)
{
    return s->brel_count > s->epoch;
}

/* Barrier without the API's bookkeeping. */
static int barrier(struct svm_node *s)
{
    int rc = svm__flush(s, NULL);
    if (!rc)
        rc = svm__send(s, 0, SVM__M_ARRIVE, 0, 0, s->w_own, s->bmlen);
    if (!rc)
        rc = svm__wait(s, brel_seen);
    if (rc)
        return rc;
    s->epoch++;
    for (size_t p = 0; p < s->npages; p++) {
        uint8_t w = s->brel_buf[p];
        if (w && w != s->me + 1)
            svm__invalidate(s, p);
    }
    memset(s->w_own, 0, s->bmlen);
    memset(s->known, 0, s->bmlen);
    return VS_OK;
}

int svm_barrier(void)
{
    struct svm_node *s = ready_node("svm_barrier");
    if (!s)
        return VS_EINVAL;
    hw_time_t t0 = s->h->ops->now(s->h);
    int rc = barrier(s);
    s->st.barriers++;
    s->st.barrier_wait += s->h->ops->now(s->h) - t0;
    return rc;
}

int svm_finalize(void)
{
    struct svm_node **sl = slot();
    struct svm_node *s = ready_node("svm_finalize");
    if (!s)
        return VS_EINVAL;
    /* Everything sent so far is handled before the last barrier, and the
     * barrier's own messages before anyone leaves: after it nothing is in
     * flight to a node that has withdrawn its exports. */
    int rc = svm__wait(s, svm__all_acked);
    if (!rc)
        rc = barrier(s);
    if (!rc)
        rc = svm__wait(s, svm__all_acked);
    *sl = NULL;
    free_node(s);
    return rc;
}

/* ---- locks ---- */

static int granted(struct svm_node *s)
{
    return s->granted;
}

int svm_lock_acquire(int id)
{
    struct svm_node *s = ready_node("svm_lock_acquire");
    if (!s)
        return VS_EINVAL;
    if (id < 0 || id >= SVM_MAX_LOCKS)
        return svm__err(s, VS_EINVAL,
                        "svm_lock_acquire: lock %d is not in "
                        "0..%d",
                        id, SVM_MAX_LOCKS - 1);
    if (s->held[id])
        return svm__err(s, VS_EDEADLK,
                        "svm_lock_acquire: node %d already "
                        "holds lock %d",
                        s->me, id);
    hw_time_t t0 = s->h->ops->now(s->h);
    s->want_lock = id;
    s->granted = 0;
    int rc = svm__send(s, id % s->n, SVM__M_ACQ, (uint32_t)id, 0, NULL, 0);
    if (!rc)
        rc = svm__wait(s, granted);
    s->want_lock = -1;
    /* Dirty pages named by the notices go home first, then every named
     * page is invalidated. */
    if (!rc && s->grant_has_bits)
        rc = svm__flush(s, s->grant_bits);
    if (!rc && s->grant_has_bits) {
        for (size_t p = 0; p < s->npages; p++)
            if (svm__bm_get(s->grant_bits, p))
                svm__invalidate(s, p);
        for (size_t i = 0; i < s->bmlen; i++)
            s->known[i] |= s->grant_bits[i];
    }
    if (!rc)
        s->held[id] = 1;
    s->st.lock_acquires++;
    s->st.lock_wait += s->h->ops->now(s->h) - t0;
    return rc;
}

int svm_lock_release(int id)
{
    struct svm_node *s = ready_node("svm_lock_release");
    if (!s)
        return VS_EINVAL;
    if (id < 0 || id >= SVM_MAX_LOCKS)
        return svm__err(s, VS_EINVAL,
                        "svm_lock_release: lock %d is not in "
                        "0..%d",
                        id, SVM_MAX_LOCKS - 1);
    if (!s->held[id])
        return svm__err(s, VS_EPERM,
                        "svm_lock_release: node %d does not "
                        "hold lock %d",
                        s->me, id);
    int rc = svm__flush(s, NULL);
    if (rc)
        return rc;
    s->held[id] = 0;
    return svm__send(s, id % s->n, SVM__M_REL, (uint32_t)id, (uint32_t)s->epoch,
                     s->known, s->bmlen);
}

/* ---- small calls ---- */

int svm_node(void)
{
    struct svm_node *s = ready_node("svm_node");
    return s ? s->me : VS_EINVAL;
}

int svm_nnodes(void)
{
    struct svm_node *s = ready_node("svm_nnodes");
    return s ? s->n : VS_EINVAL;
}

int svm_home(const void *addr)
{
    struct svm_node *s = ready_node("svm_home");
    if (!s)
        return VS_EINVAL;
    const uint8_t *a = addr;
    if (!a || a < s->base || a >= s->base + s->size)
        return svm__err(s, VS_ERANGE,
                        "svm_home: %p is outside node %d's "
                        "region [%p, %p)",
                        addr, s->me, (void *)s->base,
                        (void *)(s->base + s->size));
    return svm__home_of(s, (size_t)(a - s->base) / s->pg);
}

int svm_compute(hw_time_t dt)
{
    hw_host *h = hw_self();
    if (!h || dt < 0)
        return svm__err(svm__self(), VS_EINVAL, "svm_compute: %s",
                        !h ? "not called on a simulated "
                             "node"
                           : "negative time");
    if (dt)
        h->ops->compute(h, dt);
    return VS_OK;
}

double svm_wtime(void)
{
    hw_host *h = hw_self();
    return h ? (double)h->ops->now(h) / (double)(1000 * HW_MS) : 0.0;
}

int svm_get_stats(struct svm_stats *out)
{
    struct svm_node *s = svm__self();
    if (!s || !out)
        return svm__err(s, VS_EINVAL, "svm_get_stats: %s",
                        !s ? "svm_init has not been called on this node"
                           : "out is NULL");
    *out = s->st;
    return VS_OK;
}
