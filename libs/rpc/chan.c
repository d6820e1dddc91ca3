/*
 * libs/rpc channels: the per-node state, the two exported areas, and the
 * chunked, credit-controlled record transport between a client and a
 * server node over the raw VMMC API (rpc_int.h describes the layout).  The
 * client (clnt.c) and the server transport (svc.c) sit on it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libs/node/node.h"
#include "libs/rpc/rpc_int.h"
#include "util/dheap.h"

/* A server not yet exported is retried this often. */
#define IMPORT_RETRY (20 * HW_US)

static struct {
    struct vrpc__node **nodes;
    int n, live;
} R;

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

static size_t words_len(int nnodes)
{
    return round_up((size_t)nnodes * VRPC_WORDS, 64);
}

int vrpc__fail(struct vrpc__node *n, int rc, const char *fmt, ...)
{
    if (n && rc) {
        va_list ap;
        va_start(ap, fmt);
        vs_errmsg_vset(n->errmsg, sizeof n->errmsg, rc, fmt, ap);
        va_end(ap);
    }
    return rc;
}

hw_time_t vrpc__now(struct vrpc__node *n)
{
    return n->h->ops->now(n->h);
}

static void wait_word(struct vrpc__node *n, struct vrpc__link *l)
{
    if (l->word_pending) {
        vmmc_wait(n->vc, &l->word_req);
        l->word_pending = 0;
    }
}

/* Writes v into word k (0 credit, 1 closed) of this node's block at the
 * peer. */
static int put_word(struct vrpc__node *n, struct vrpc__link *l, int k,
                    uint32_t v)
{
    wait_word(n, l);
    l->word_src = v;
    int rc = vmmc_send(n->vc, l->imp, l->words_off + 4u * (unsigned)k,
                       &l->word_src, 4, 0, &l->word_req);
    if (rc == VS_OK)
        l->word_pending = 1;
    if (k == 0) {
        l->reported = v;
        n->st.credit_writes++;
    }
    return rc;
}

/* At the end of the node's program: tell every peer we talked to that we
 * are gone, withdraw the areas, free everything. */
static void node_end_hook(void *arg)
{
    struct vrpc__node *n = arg;
    for (int role = 0; role < 2; role++) {
        for (int p = 0; n->links[role] && p < n->nnodes; p++) {
            struct vrpc__link *l = &n->links[role][p];
            /* A server also tells clients whose first call it never read. */
            if (!l->imported && role == 0 && n->area[0] && vrpc__ready(l))
                vrpc__link(n, 0, p, 0, &l);
            if (l->imported && !l->broken)
                put_word(n, l, 1, 1);
        }
    }
    for (int role = 0; role < 2; role++) {
        for (int p = 0; n->links[role] && p < n->nnodes; p++) {
            struct vrpc__link *l = &n->links[role][p];
            wait_word(n, l);
            for (unsigned k = 0; k < VRPC_RING; k++)
                if (l->pending[k])
                    vmmc_wait(n->vc, &l->req[k]);
            if (l->imported)
                vmmc_unimport(n->vc, l->imp);
            vs_dheap_free(l->stage);
        }
        vs_dheap_free(n->links[role]);
        if (n->area[role]) {
            vmmc_unexport(n->vc, role ? VRPC_ID_CLI : VRPC_ID_SRV);
            free(n->area[role]);
        }
    }
    vrpc__svc_free(n);
    free(n->enc);
    R.nodes[n->node] = NULL;
    free(n);
    if (--R.live == 0) {
        free(R.nodes);
        R.nodes = NULL;
        R.n = 0;
    }
}

struct vrpc__node *vrpc__self(void)
{
    hw_host *h = hw_self();
    if (!h || h->node < 0 || h->nnodes <= h->node)
        return NULL;
    if (R.n < h->nnodes) {
        struct vrpc__node **p = realloc(R.nodes, (size_t)h->nnodes * sizeof *p);
        if (!p)
            return NULL;
        for (int i = R.n; i < h->nnodes; i++)
            p[i] = NULL;
        R.nodes = p;
        R.n = h->nnodes;
    }
    if (R.nodes[h->node])
        return R.nodes[h->node];
    struct vrpc__node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->node = h->node;
    n->nnodes = h->nnodes;
    n->h = h;
    n->area_len =
        words_len(h->nnodes) + (size_t)h->nnodes * VRPC_RING * VRPC_SLOT;
    n->vc = node_vmmc(NULL);
    /* The links (their credit words) and the staging slots are sent from
     * by VMMC: on pages of their own (util/dheap.h), so what that costs
     * does not depend on the heap. */
    for (int role = 0; n->vc && role < 2; role++) {
        size_t len = (size_t)h->nnodes * sizeof *n->links[role];
        if ((n->links[role] = vs_dheap_pages(len)))
            memset(n->links[role], 0, len);
    }
    if (!n->vc || !n->links[0] || !n->links[1] ||
        node_at_end(node_end_hook, n)) {
        vs_dheap_free(n->links[0]);
        vs_dheap_free(n->links[1]);
        free(n);
        return NULL;
    }
    R.nodes[h->node] = n;
    R.live++;
    return n;
}

int vrpc__area(struct vrpc__node *n, int role)
{
    if (n->area[role])
        return VS_OK;
    /* Page-aligned, so the slots' payloads are 4-byte aligned for XDR. */
    void *a = NULL;
    if (posix_memalign(&a, 4096, n->area_len))
        return vrpc__fail(n, VS_ENOMEM, "vrpc: area of %zu bytes", n->area_len);
    memset(a, 0, n->area_len);
    int id = role ? VRPC_ID_CLI : VRPC_ID_SRV;
    int rc = vmmc_export(n->vc, id, a, n->area_len,
                         VMMC_PERM_WRITE | VMMC_PERM_READ);
    if (rc) {
        free(a);
        return vrpc__fail(n, rc, "vrpc: vmmc_export of id %d on node %d: %s",
                          id, n->node, vmmc_errmsg(n->vc));
    }
    n->area[role] = a;
    size_t w = words_len(n->nnodes);
    for (int p = 0; p < n->nnodes; p++) {
        struct vrpc__link *l = &n->links[role][p];
        l->peer = p;
        l->credit = (volatile uint32_t *)(a + (size_t)p * VRPC_WORDS);
        l->closed = l->credit + 1;
        l->ring = (unsigned char *)a + w + (size_t)p * VRPC_RING * VRPC_SLOT;
    }
    return VS_OK;
}

int vrpc__link(struct vrpc__node *n, int role, int peer, hw_time_t retry_for,
               struct vrpc__link **out)
{
    int rc = vrpc__area(n, role);
    if (rc)
        return rc;
    struct vrpc__link *l = &n->links[role][peer];
    *out = l;
    if (l->imported)
        return l->broken ? VS_EUNREACH : VS_OK;
    int id = role ? VRPC_ID_SRV : VRPC_ID_CLI;
    size_t len = 0;
    hw_time_t until = vrpc__now(n) + retry_for;
    for (;;) {
        rc = vmmc_import(n->vc, peer, id, &l->imp, &len);
        if (rc != VS_ENOENT || vrpc__now(n) >= until)
            break;
        n->h->ops->compute(n->h, IMPORT_RETRY);
    }
    if (rc)
        return vrpc__fail(n, rc, "vrpc: importing export %d of node %d: %s", id,
                          peer, vmmc_errmsg(n->vc));
    if (len != n->area_len) {
        vmmc_unimport(n->vc, l->imp);
        return vrpc__fail(n, VS_ECONFIG,
                          "vrpc: export %d of node %d is %zu bytes, not %zu "
                          "(not libs/rpc's, or another node count)",
                          id, peer, len, n->area_len);
    }
    if (!l->stage && !(l->stage = vs_dheap_pages(VRPC_RING * VRPC_SLOT))) {
        vmmc_unimport(n->vc, l->imp);
        return vrpc__fail(n, VS_ENOMEM, "vrpc: link buffers");
    }
    l->words_off = (size_t)n->node * VRPC_WORDS;
    l->ring_off =
        words_len(n->nnodes) + (size_t)n->node * VRPC_RING * VRPC_SLOT;
    l->imported = 1;
    return VS_OK;
}

int vrpc__encode(struct vrpc__node *n, int (*fn)(XDR *, void *), void *arg,
                 size_t *len)
{
    size_t cap = n->enc_cap ? n->enc_cap : VRPC_CHUNK;
    for (;;) {
        if (cap > n->enc_cap) {
            unsigned char *p = realloc(n->enc, cap);
            if (!p)
                return VS_ENOMEM;
            n->enc = p;
            n->enc_cap = cap;
        }
        XDR x;
        xdrmem_create(&x, (char *)n->enc, (u_int)cap, XDR_ENCODE);
        int ok = fn(&x, arg);
        *len = XDR_GETPOS(&x);
        xdr_destroy(&x);
        if (ok)
            return VS_OK;
        if (cap >= VRPC_MAX_RECORD)
            return VS_EINVAL;
        cap = cap * 4 > VRPC_MAX_RECORD ? VRPC_MAX_RECORD : cap * 4;
    }
}

static const volatile struct vrpc__hdr *slot_hdr(const struct vrpc__link *l,
                                                 uint32_t k)
{
    return (const volatile struct vrpc__hdr *)(l->ring +
                                               (k % VRPC_RING) * VRPC_SLOT +
                                               VRPC_CHUNK);
}

int vrpc__ready(const struct vrpc__link *l)
{
    return l->ring && slot_hdr(l, l->consumed)->seq == l->consumed + 1;
}

/* What the peer has consumed of ours: the larger of its last header's
 * count and its credit word.  Reads only (it runs as a wait predicate). */
static uint32_t credit_now(const struct vrpc__link *l)
{
    uint32_t c = *l->credit;
    return (int32_t)(c - l->acked) > 0 ? c : l->acked;
}

static int can_send(void *arg)
{
    const struct vrpc__link *l = arg;
    return l->sent - credit_now(l) < VRPC_RING || *l->closed;
}

static int can_recv(void *arg)
{
    struct vrpc__link *l = arg;
    return vrpc__ready(l) || *l->closed;
}

static int wait_for(struct vrpc__node *n, hw_ready_fn fn, struct vrpc__link *l,
                    hw_time_t deadline)
{
    while (!fn(l)) {
        hw_time_t left = -1;
        if (deadline != HW_TIME_NEVER) {
            left = deadline - vrpc__now(n);
            if (left <= 0)
                return VS_ETIMEDOUT;
        }
        int rc = vmmc_wait_until(n->vc, fn, l, left);
        if (rc)
            return rc;
    }
    return VS_OK;
}

/* Sends one chunk of clen bytes at src (NULL: filler) with the header's
 * total field, waiting for a free slot until deadline. */
static int send_chunk(struct vrpc__node *n, struct vrpc__link *l,
                      const unsigned char *src, size_t clen, uint32_t total,
                      hw_time_t deadline)
{
    if (*l->closed)
        return VS_EUNREACH;
    int rc = wait_for(n, can_send, l, deadline);
    if (rc)
        return rc;
    if (*l->closed)
        return VS_EUNREACH;
    l->acked = credit_now(l);
    unsigned k = l->sent % VRPC_RING;
    if (l->pending[k]) {
        l->pending[k] = 0;
        if ((rc = vmmc_wait(n->vc, &l->req[k]))) {
            l->broken = 1;
            return rc;
        }
    }
    unsigned char *slot = l->stage + (size_t)k * VRPC_SLOT;
    if (src)
        memcpy(slot + VRPC_CHUNK - clen, src, clen);
    struct vrpc__hdr h = {l->sent + 1, (uint32_t)clen, total, l->consumed};
    memcpy(slot + VRPC_CHUNK, &h, sizeof h);
    rc = vmmc_send(n->vc, l->imp,
                   l->ring_off + (size_t)k * VRPC_SLOT + VRPC_CHUNK - clen,
                   slot + VRPC_CHUNK - clen, clen + VRPC_HDR, 0, &l->req[k]);
    if (rc) {
        l->broken = 1;
        return vrpc__fail(n, rc, "vrpc: vmmc_send to node %d: %s", l->peer,
                          vmmc_errmsg(n->vc));
    }
    l->pending[k] = 1;
    l->reported = l->consumed;
    l->sent++;
    n->st.chunks_out++;
    return VS_OK;
}

int vrpc__send(struct vrpc__node *n, struct vrpc__link *l,
               const unsigned char *rec, size_t len, hw_time_t deadline)
{
    if (len > VRPC_MAX_RECORD)
        return VS_ERANGE;
    /* First the rest of a record a timeout cut short, as filler chunks
     * marked abandoned: the receiver drops that record. */
    while (l->owe) {
        size_t clen = l->owe < VRPC_CHUNK ? l->owe : VRPC_CHUNK;
        int rc = send_chunk(n, l, NULL, clen, l->owe_total | VRPC_ABANDONED,
                            deadline);
        if (rc)
            return rc;
        l->owe -= (uint32_t)clen;
    }
    size_t off = 0;
    do {
        size_t clen = len - off < VRPC_CHUNK ? len - off : VRPC_CHUNK;
        int rc = send_chunk(n, l, rec + off, clen, (uint32_t)len, deadline);
        if (rc) {
            if (off) { /* the receiver holds part of this record */
                l->owe = (uint32_t)(len - off);
                l->owe_total = (uint32_t)len;
            }
            return rc;
        }
        off += clen;
    } while (off < len);
    return VS_OK;
}

/* Takes the next chunk's header (it is there). */
static struct vrpc__hdr take_hdr(struct vrpc__link *l)
{
    struct vrpc__hdr h;
    memcpy(&h, (const void *)slot_hdr(l, l->consumed), sizeof h);
    if ((int32_t)(h.ack - l->acked) > 0)
        l->acked = h.ack;
    return h;
}

static void consume(struct vrpc__node *n, struct vrpc__link *l)
{
    l->consumed++;
    n->st.chunks_in++;
    if (l->imported && !l->broken &&
        l->consumed - l->reported >= VRPC_RING / 2 &&
        put_word(n, l, 0, l->consumed))
        l->broken = 1;
}

/* Waits for the next chunk and takes its header. */
static int next_chunk(struct vrpc__node *n, struct vrpc__link *l,
                      hw_time_t deadline, struct vrpc__hdr *h,
                      unsigned char **payload)
{
    int rc = wait_for(n, can_recv, l, deadline);
    if (rc)
        return rc;
    if (!vrpc__ready(l))
        return VS_EUNREACH;
    *h = take_hdr(l);
    unsigned char *slot = l->ring + (l->consumed % VRPC_RING) * VRPC_SLOT;
    if (h->len > VRPC_CHUNK) {
        consume(n, l);
        return vrpc__fail(n, VS_EIO,
                          "vrpc: bad chunk header from node %d (length %u)",
                          l->peer, h->len);
    }
    *payload = slot + VRPC_CHUNK - h->len;
    return VS_OK;
}

int vrpc__recv(struct vrpc__node *n, struct vrpc__link *l, struct vrpc__rec *r,
               hw_time_t deadline)
{
    *r = (struct vrpc__rec){0};
    struct vrpc__hdr h;
    unsigned char *p;
    int rc;
    /* First the rest of a record a timeout made us give up. */
    while (l->skip) {
        if ((rc = next_chunk(n, l, deadline, &h, &p)))
            return rc;
        l->skip -= h.len < l->skip ? h.len : l->skip;
        consume(n, l);
    }
again:
    if ((rc = next_chunk(n, l, deadline, &h, &p)))
        return rc;
    if ((h.total & VRPC_ABANDONED) || h.total < h.len ||
        h.total > VRPC_MAX_RECORD || (h.total > h.len && h.len != VRPC_CHUNK)) {
        consume(n, l); /* filler of a record we never started, or junk */
        if (h.total & VRPC_ABANDONED)
            goto again;
        return vrpc__fail(n, VS_EIO,
                          "vrpc: bad chunk header from node %d (length %u "
                          "of %u)",
                          l->peer, h.len, h.total);
    }
    if (h.total == h.len) { /* the fast path: decode in place */
        r->data = p;
        r->len = h.len;
        r->in_place = 1;
        return VS_OK;
    }
    if (!(r->data = malloc(h.total))) {
        l->skip = h.total;
        return vrpc__fail(n, VS_ENOMEM, "vrpc: a %u-byte record", h.total);
    }
    r->len = h.total;
    size_t off = 0;
    for (;;) {
        memcpy(r->data + off, p, h.len);
        off += h.len;
        consume(n, l);
        if (off == r->len)
            return VS_OK;
        if ((rc = next_chunk(n, l, deadline, &h, &p)) == VS_OK &&
            (h.total & VRPC_ABANDONED)) {
            /* The sender gave up on this record: the fillers that make
             * up its rest are dropped one by one above. */
            free(r->data);
            *r = (struct vrpc__rec){0};
            goto again;
        }
        if (rc == VS_OK && h.len <= r->len - off && h.total == r->len)
            continue;
        if (rc == VS_OK) {
            consume(n, l);
            rc = vrpc__fail(n, VS_EIO,
                            "vrpc: bad chunk header from node %d in a "
                            "%zu-byte record",
                            l->peer, r->len);
        } else {
            l->skip = (uint32_t)(r->len - off);
        }
        free(r->data);
        *r = (struct vrpc__rec){0};
        return rc;
    }
}

void vrpc__release(struct vrpc__node *n, struct vrpc__link *l,
                   struct vrpc__rec *r)
{
    if (r->in_place)
        consume(n, l);
    else
        free(r->data);
    *r = (struct vrpc__rec){0};
}

void vrpc_get_stats(struct vrpc_stats *out)
{
    struct vrpc__node *n = vrpc__self();
    if (out)
        *out = n ? n->st : (struct vrpc_stats){0};
}

const char *vrpc_errmsg(void)
{
    struct vrpc__node *n = vrpc__self();
    return n ? n->errmsg : "";
}
