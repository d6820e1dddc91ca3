/*
 * libs/sock core: the per-node state, the exported area, records on the
 * wire, the progress engine, blocking in simulated time, connection setup
 * and the end of a program.  It sits on the public VMMC API and libs/node
 * only; sock.c builds the socket calls on it.
 *
 * Every node exports one area (export SK_EXPORT_AREA):
 *
 *   inbox       nn * SK_INB slots of 64 bytes: node p writes its setup
 *               records (CONNECT, ACCEPT, REFUSE) into its own SK_INB slots
 *   inbcred     one word per node p: how many of MY records p consumed
 *               (written by p)
 *   cred        one 64-byte block per connection slot c: how many of my
 *               records the peer of c consumed (written by that peer)
 *   rings       per connection slot c, SK_NSLOT pages: the peer's records
 *
 * A record k goes to slot k % SK_NSLOT with its payload right before a
 * 32-byte trailer at the slot's end; one vmmc_send carries both, the
 * trailer lands last, and its seq (k + 1) tells the reader it is whole.
 * Credits: a sender may have SK_NSLOT records unconsumed, SK_RESERVE of
 * them kept for FIN and CLOSE so a close never waits for the reader.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libs/sock/sock_int.h"
#include "util/dheap.h"

static struct {
    struct sk_node **nodes;
    int n;
} S;

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

void sk__charge_call(struct sk_node *n)
{
    n->h->ops->compute(n->h, n->h->ops->cost(n->h, HW_HOST_CALL));
}

void sk__charge_copy(struct sk_node *n, size_t bytes)
{
    if (bytes) {
        n->h->ops->compute(n->h, (hw_time_t)bytes * HW_US / SK_COPY_MBPS);
        n->st.bytes_copied += bytes;
    }
}

static hw_time_t now(struct sk_node *n)
{
    return n->h->ops->now(n->h);
}

/* ---- The area ---- */

static volatile struct sk_ctl *inbox_slot(struct sk_node *n, int src,
                                          uint32_t k)
{
    return (volatile struct sk_ctl *)(n->area +
                                      ((size_t)src * SK_INB + k % SK_INB) *
                                          SK_CTL);
}

static volatile uint32_t *inbcred_word(struct sk_node *n, int p)
{
    return (volatile uint32_t *)(n->area + n->off_inbcred) + p;
}

static volatile uint32_t *cred_word(struct sk_node *n, int c)
{
    return (volatile uint32_t *)(n->area + n->off_cred + (size_t)c * 64);
}

static size_t ring_off(const struct sk_node *n, int c)
{
    return n->off_ring + (size_t)c * SK_NSLOT * SK_SLOT;
}

volatile struct sk_trailer *sk__rx_trailer(struct sk_node *n, int c, uint32_t k)
{
    return (volatile struct sk_trailer *)(n->area + ring_off(n, c) +
                                          (k % SK_NSLOT + 1) * SK_SLOT -
                                          SK_TRAILER);
}

const unsigned char *sk__rx_payload(struct sk_node *n, int c, uint32_t k,
                                    uint32_t len)
{
    return n->area + ring_off(n, c) + (k % SK_NSLOT + 1) * SK_SLOT -
           SK_TRAILER - len;
}

static void layout(struct sk_node *n)
{
    size_t inbox = (size_t)n->nn * SK_INB * SK_CTL;
    n->off_inbcred = inbox;
    n->off_cred = round_up(inbox + (size_t)n->nn * 4, 64);
    n->off_ring = round_up(n->off_cred + (size_t)SK_MAXCONN * 64, SK_SLOT);
    n->area_len = n->off_ring + (size_t)SK_MAXCONN * SK_NSLOT * SK_SLOT;
}

/* ---- Node state ---- */

static void end_hook(void *arg)
{
    (void)arg;
    vs_sock_end();
}

static void free_node(struct sk_node *n)
{
    if (!n)
        return;
    for (int c = 0; c < SK_MAXCONN; c++)
        free(n->conn[c].stage);
    while (n->ctl_queue) {
        struct sk_pending_ctl *p = n->ctl_queue;
        n->ctl_queue = p->next;
        free(p);
    }
    free(n->area);
    free(n->zc_zone);
    free(n->zc_imp);
    free(n->zc_imp_gen);
    free(n->imp);
    free(n->inb_next);
    free(n->inb_reported);
    vs_dheap_free(n->inb_stage);
    free(n->inb_req);
    free(n->inb_busy);
    free(n->ctl_sent);
    free(n->ctl_cred_seen);
    vs_dheap_free(n->ctl_stage);
    free(n->ctl_req);
    free(n->ctl_busy);
    vs_dheap_free(n);
}

static struct sk_node *make_node(hw_host *h, vmmc_ctx *vc, int *err)
{
    /* The node (its connections' credit words), the inbox credits and the
     * control records are sent from by VMMC: on pages of their own
     * (util/dheap.h), so what that costs does not depend on the heap. */
    struct sk_node *n = vs_dheap_pages(sizeof *n);
    if (!n)
        goto nomem;
    memset(n, 0, sizeof *n);
    n->h = h;
    n->vc = vc;
    n->me = h->node;
    n->nn = h->nnodes;
    n->next_port = 49152;
    layout(n);
    size_t nn = (size_t)n->nn;
    n->area = aligned_alloc(SK_SLOT, n->area_len);
    n->zc_zone = aligned_alloc(SK_SLOT, SK_ZC_MAX);
    n->imp = malloc(nn * sizeof *n->imp);
    n->zc_imp = malloc(nn * sizeof *n->zc_imp);
    n->zc_imp_gen = calloc(nn, sizeof *n->zc_imp_gen);
    n->inb_next = calloc(nn, sizeof *n->inb_next);
    n->inb_reported = calloc(nn, sizeof *n->inb_reported);
    n->inb_stage = vs_dheap_pages(nn * sizeof *n->inb_stage);
    n->inb_req = calloc(nn, sizeof *n->inb_req);
    n->inb_busy = calloc(nn, 1);
    n->ctl_sent = calloc(nn, sizeof *n->ctl_sent);
    n->ctl_cred_seen = calloc(nn, sizeof *n->ctl_cred_seen);
    n->ctl_stage = vs_dheap_pages(nn * SK_INB * sizeof *n->ctl_stage);
    n->ctl_req = calloc(nn * SK_INB, sizeof *n->ctl_req);
    n->ctl_busy = calloc(nn * SK_INB, 1);
    if (!n->area || !n->zc_zone || !n->imp || !n->zc_imp || !n->zc_imp_gen ||
        !n->inb_next || !n->inb_reported || !n->inb_stage || !n->inb_req ||
        !n->inb_busy || !n->ctl_sent || !n->ctl_cred_seen || !n->ctl_stage ||
        !n->ctl_req || !n->ctl_busy)
        goto nomem;
    memset(n->area, 0, n->area_len);
    memset(n->ctl_stage, 0, nn * SK_INB * sizeof *n->ctl_stage);
    memset(n->inb_stage, 0, nn * sizeof *n->inb_stage);
    for (size_t i = 0; i < nn; i++)
        n->imp[i] = n->zc_imp[i] = -1;
    for (int c = 0; c < SK_MAXCONN; c++)
        n->conn[c] = (struct sk_conn){.sock = -1, .listener = -1};
    if (vmmc_export(vc, SK_EXPORT_AREA, n->area, n->area_len,
                    VMMC_PERM_WRITE)) {
        *err = -EADDRINUSE; /* another library took libs/sock's ids */
        free_node(n);
        return NULL;
    }
    if (node_at_end(end_hook, NULL)) {
        vmmc_unexport(vc, SK_EXPORT_AREA);
        goto nomem;
    }
    return n;
nomem:
    *err = -ENOMEM;
    free_node(n);
    return NULL;
}

struct sk_node *sk__node_peek(void)
{
    hw_host *h = hw_self();
    if (!h || h->node < 0 || h->node >= S.n)
        return NULL;
    return S.nodes[h->node];
}

struct sk_node *sk__node(int *err)
{
    hw_host *h = hw_self();
    int e = -EINVAL;
    if (!h || h->node < 0 || h->node >= h->nnodes)
        goto fail;
    if (S.n < h->nnodes) {
        struct sk_node **p = realloc(S.nodes, (size_t)h->nnodes * sizeof *p);
        e = -ENOMEM;
        if (!p)
            goto fail;
        for (int i = S.n; i < h->nnodes; i++)
            p[i] = NULL;
        S.nodes = p;
        S.n = h->nnodes;
    }
    if (S.nodes[h->node])
        return S.nodes[h->node];
    int vrc = 0;
    vmmc_ctx *vc = node_vmmc(&vrc);
    e = -EIO;
    if (!vc)
        goto fail;
    S.nodes[h->node] = make_node(h, vc, &e);
    if (S.nodes[h->node])
        return S.nodes[h->node];
fail:
    if (err)
        *err = e;
    return NULL;
}

void vs_sock_reset(void)
{
    for (int i = 0; i < S.n; i++)
        free_node(S.nodes[i]);
    free(S.nodes);
    S.nodes = NULL;
    S.n = 0;
}

void vs_sock_get_stats(struct vs_sock_stats *out)
{
    struct sk_node *n = sk__node_peek();
    if (out)
        *out = n ? n->st : (struct vs_sock_stats){0};
}

/* ---- Imports and setup records ---- */

static void drop_import(struct sk_node *n, int node)
{
    if (n->imp[node] >= 0) {
        vmmc_unimport(n->vc, n->imp[node]);
        n->imp[node] = -1;
    }
}

int sk__import(struct sk_node *n, int node, int tries)
{
    if (n->imp[node] >= 0)
        return 0;
    for (int t = 0; t < tries; t++) {
        size_t len = 0;
        int rc = vmmc_import(n->vc, node, SK_EXPORT_AREA, &n->imp[node], &len);
        if (rc == 0 && len == n->area_len)
            return 0;
        if (rc == 0) { /* another layout: not our library */
            drop_import(n, node);
            return -ECONNREFUSED;
        }
        n->imp[node] = -1;
        if (rc != VS_ENOENT)
            return -ECONNREFUSED;
        n->h->ops->compute(n->h, SK_IMPORT_RETRY);
    }
    return -ECONNREFUSED;
}

static void fail_conn(struct sk_node *n, int c, int err)
{
    struct sk_conn *cn = &n->conn[c];
    if (cn->state == SK_CONNECTING) {
        cn->state = SK_FAILED;
        cn->err = err;
    } else if (cn->state == SK_EST) {
        if (!cn->err)
            cn->err = ECONNRESET;
        cn->peer_closed = cn->peer_fin = 1;
    }
}

static int send_ctl(struct sk_node *n, int dst, const struct sk_ctl *rec)
{
    uint32_t k = n->ctl_sent[dst];
    size_t i = (size_t)dst * SK_INB + k % SK_INB;
    if (n->ctl_busy[i]) {
        vmmc_wait(n->vc, &n->ctl_req[i]);
        n->ctl_busy[i] = 0;
    }
    struct sk_ctl *st = &n->ctl_stage[i];
    *st = *rec;
    st->seq = k + 1;
    size_t off = ((size_t)n->me * SK_INB + k % SK_INB) * SK_CTL;
    int rc = n->imp[dst] < 0 ? VS_EBADF
                             : vmmc_send(n->vc, n->imp[dst], off, st, SK_CTL, 0,
                                         &n->ctl_req[i]);
    if (rc) {
        drop_import(n, dst);
        return -ECONNREFUSED;
    }
    n->ctl_busy[i] = 1;
    n->ctl_sent[dst] = k + 1;
    return 0;
}

static void flush_ctl(struct sk_node *n)
{
    struct sk_pending_ctl **pp = &n->ctl_queue;
    while (*pp) {
        struct sk_pending_ctl *p = *pp;
        uint32_t seen = *inbcred_word(n, p->dst);
        if ((int32_t)(seen - n->ctl_cred_seen[p->dst]) > 0)
            n->ctl_cred_seen[p->dst] = seen;
        if (n->ctl_sent[p->dst] - n->ctl_cred_seen[p->dst] >= SK_INB) {
            pp = &p->next;
            continue;
        }
        if (send_ctl(n, p->dst, &p->rec) && p->rec.type == SK_C_CONNECT &&
            p->rec.src_slot < SK_MAXCONN)
            fail_conn(n, (int)p->rec.src_slot, ECONNREFUSED);
        *pp = p->next;
        free(p);
    }
}

int sk__queue_ctl(struct sk_node *n, int dst, const struct sk_ctl *rec)
{
    struct sk_pending_ctl *p = calloc(1, sizeof *p), **pp = &n->ctl_queue;
    if (!p)
        return -ENOMEM;
    p->dst = dst;
    p->rec = *rec;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    flush_ctl(n);
    return 0;
}

/* ---- Connections ---- */

int sk__conn_alloc(struct sk_node *n)
{
    for (int c = 0; c < SK_MAXCONN; c++) {
        struct sk_conn *cn = &n->conn[c];
        if (cn->state != SK_FREE)
            continue;
        if (!cn->stage) {
            cn->stage = aligned_alloc(SK_SLOT, (size_t)SK_NSLOT * SK_SLOT);
            if (!cn->stage)
                return -ENOMEM;
        }
        unsigned char *stage = cn->stage;
        *cn = (struct sk_conn){.sock = -1, .listener = -1, .stage = stage};
        memset(n->area + ring_off(n, c), 0, (size_t)SK_NSLOT * SK_SLOT);
        *cred_word(n, c) = 0;
        return c;
    }
    return -ENOBUFS;
}

static int reqs_idle(struct sk_node *n, struct sk_conn *cn)
{
    for (unsigned i = 0; i < SK_NSLOT; i++)
        if (cn->req_busy[i]) {
            if (!vmmc_test(n->vc, &cn->req[i], NULL))
                return 0;
            cn->req_busy[i] = 0;
        }
    if (cn->cred_busy) {
        if (!vmmc_test(n->vc, &cn->cred_req, NULL))
            return 0;
        cn->cred_busy = 0;
    }
    return 1;
}

static void wait_reqs(struct sk_node *n, struct sk_conn *cn)
{
    for (unsigned i = 0; i < SK_NSLOT; i++)
        if (cn->req_busy[i]) {
            vmmc_wait(n->vc, &cn->req[i]);
            cn->req_busy[i] = 0;
        }
    if (cn->cred_busy) {
        vmmc_wait(n->vc, &cn->cred_req);
        cn->cred_busy = 0;
    }
}

void sk__conn_release(struct sk_node *n, int c)
{
    struct sk_conn *cn = &n->conn[c];
    wait_reqs(n, cn);
    unsigned char *stage = cn->stage;
    *cn = (struct sk_conn){.sock = -1, .listener = -1, .stage = stage};
}

uint32_t sk__tx_room(const struct sk_conn *cn, int type)
{
    uint32_t limit = type == SK_R_CLOSE ? SK_NSLOT
                     : type == SK_R_FIN ? SK_NSLOT - 1
                                        : SK_NSLOT - SK_RESERVE;
    uint32_t used = cn->tx_seq - cn->cred_seen;
    return used < limit ? limit - used : 0;
}

int sk__send_record(struct sk_node *n, int c, int type, const void *payload,
                    uint32_t len, uint32_t a, uint32_t b, uint32_t cc,
                    uint32_t d)
{
    struct sk_conn *cn = &n->conn[c];
    if (cn->peer_closed && type != SK_R_CLOSE)
        return -EPIPE;
    uint32_t s = cn->tx_seq % SK_NSLOT;
    if (cn->req_busy[s]) {
        int rc = vmmc_wait(n->vc, &cn->req[s]);
        cn->req_busy[s] = 0;
        if (rc) {
            drop_import(n, cn->peer);
            fail_conn(n, c, ECONNRESET);
            return -ECONNRESET;
        }
    }
    unsigned char *slot = cn->stage + (size_t)s * SK_SLOT;
    unsigned char *start = slot + SK_SLOT - SK_TRAILER - len;
    if (len) {
        memcpy(start, payload, len);
        sk__charge_copy(n, len);
        if (type != SK_R_DATA) /* only stream bytes are counted */
            n->st.bytes_copied -= len;
    }
    struct sk_trailer t = {.len = len,
                           .type = (uint32_t)type,
                           .a = a,
                           .b = b,
                           .c = cc,
                           .d = d,
                           .credit = cn->rx_rd,
                           .seq = cn->tx_seq + 1};
    memcpy(slot + SK_SLOT - SK_TRAILER, &t, sizeof t);
    size_t off = ring_off(n, cn->peer_slot) + (size_t)s * SK_SLOT + SK_SLOT -
                 SK_TRAILER - len;
    int rc = n->imp[cn->peer] < 0
                 ? VS_EBADF
                 : vmmc_send(n->vc, n->imp[cn->peer], off, start,
                             len + SK_TRAILER, 0, &cn->req[s]);
    if (rc) {
        drop_import(n, cn->peer);
        fail_conn(n, c, ECONNRESET);
        return -ECONNRESET;
    }
    cn->req_busy[s] = 1;
    cn->tx_seq++;
    cn->rx_reported = cn->rx_rd;
    n->st.records_sent++;
    return 0;
}

void sk__report_credit(struct sk_node *n, int c, int force)
{
    struct sk_conn *cn = &n->conn[c];
    uint32_t unrep = cn->rx_rd - cn->rx_reported;
    if (!unrep || (!force && unrep < SK_REPORT) || cn->local_closed ||
        cn->peer_closed || cn->state != SK_EST || n->imp[cn->peer] < 0)
        return;
    if (cn->cred_busy) {
        vmmc_wait(n->vc, &cn->cred_req);
        cn->cred_busy = 0;
    }
    cn->cred_word = cn->rx_rd;
    int rc = vmmc_send(n->vc, n->imp[cn->peer],
                       n->off_cred + (size_t)cn->peer_slot * 64, &cn->cred_word,
                       4, 0, &cn->cred_req);
    if (rc) {
        drop_import(n, cn->peer);
        fail_conn(n, c, ECONNRESET);
        return;
    }
    cn->cred_busy = 1;
    cn->rx_reported = cn->rx_rd;
}

void sk__conn_close(struct sk_node *n, int c)
{
    struct sk_conn *cn = &n->conn[c];
    cn->local_closed = 1;
    cn->sock = -1;
    cn->listener = -1;
    if (cn->state == SK_FAILED) {
        sk__conn_release(n, c);
        return;
    }
    /* Always say so, even to a peer that closed first: its slot waits for
     * our CLOSE before it may be reused. */
    if (cn->state == SK_EST && !cn->close_sent)
        sk__send_record(n, c, SK_R_CLOSE, NULL, 0, 0, 0, 0, 0);
    if (cn->state == SK_EST)
        cn->close_sent = 1;
    if (cn->state == SK_EST && cn->peer_closed) /* nothing more comes */
        sk__conn_release(n, c);
}

/* ---- Progress ---- */

static struct sk_sock *find_listener(struct sk_node *n, uint32_t port)
{
    for (int i = 0; i < SK_MAXSOCK; i++)
        if (n->sock[i].kind == SK_K_LISTEN && (uint32_t)n->sock[i].port == port)
            return &n->sock[i];
    return NULL;
}

static void on_connect(struct sk_node *n, int src, const struct sk_ctl *r)
{
    struct sk_ctl reply = {
        .type = SK_C_REFUSE, .dst_slot = r->src_slot, .status = ECONNREFUSED};
    struct sk_sock *l = find_listener(n, r->port);
    int queued = 0, c = -1;
    if (l)
        for (int i = 0; i < SK_MAXCONN; i++)
            queued += n->conn[i].listener == (int)(l - n->sock);
    if (l && queued < l->backlog && r->src_slot < SK_MAXCONN)
        c = sk__conn_alloc(n);
    if (c >= 0 && sk__import(n, src, SK_IMPORT_TRIES) == 0) {
        struct sk_conn *cn = &n->conn[c];
        cn->state = SK_EST;
        cn->listener = (int)(l - n->sock);
        cn->arrival = ++n->arrivals;
        cn->peer = src;
        cn->peer_slot = (int)r->src_slot;
        cn->lport = l->port;
        cn->pport = (int)r->sport;
        reply = (struct sk_ctl){.type = SK_C_ACCEPT,
                                .dst_slot = r->src_slot,
                                .src_slot = (uint32_t)c};
    } else if (sk__import(n, src, SK_IMPORT_TRIES)) {
        return; /* cannot even answer: the connector times out */
    }
    if (reply.type == SK_C_REFUSE)
        n->st.refused++;
    sk__queue_ctl(n, src, &reply);
}

static void on_ctl(struct sk_node *n, int src, const struct sk_ctl *r)
{
    if (r->type == SK_C_CONNECT) {
        on_connect(n, src, r);
        return;
    }
    if (r->dst_slot >= SK_MAXCONN)
        return;
    int c = (int)r->dst_slot;
    struct sk_conn *cn = &n->conn[c];
    if (cn->state != SK_CONNECTING || cn->peer != src)
        return;
    if (r->type == SK_C_ACCEPT && r->src_slot < SK_MAXCONN) {
        cn->state = SK_EST;
        cn->peer_slot = (int)r->src_slot;
        if (cn->local_closed) /* closed or timed out meanwhile */
            sk__conn_close(n, c);
    } else if (r->type == SK_C_REFUSE) {
        cn->state = SK_FAILED;
        cn->err = r->status ? (int)r->status : ECONNREFUSED;
        if (cn->local_closed)
            sk__conn_release(n, c);
    }
}

static void progress_inbox(struct sk_node *n)
{
    for (int src = 0; src < n->nn; src++) {
        int got = 0;
        for (;;) {
            volatile struct sk_ctl *v = inbox_slot(n, src, n->inb_next[src]);
            if (v->seq != n->inb_next[src] + 1)
                break;
            struct sk_ctl r;
            memcpy(&r, (const void *)v, sizeof r);
            n->inb_next[src]++;
            got = 1;
            on_ctl(n, src, &r);
        }
        if (!got || n->imp[src] < 0)
            continue;
        if (n->inb_busy[src]) {
            vmmc_wait(n->vc, &n->inb_req[src]);
            n->inb_busy[src] = 0;
        }
        n->inb_stage[src] = n->inb_next[src];
        if (vmmc_send(n->vc, n->imp[src], n->off_inbcred + (size_t)n->me * 4,
                      &n->inb_stage[src], 4, 0, &n->inb_req[src]) == 0)
            n->inb_busy[src] = 1;
        else
            drop_import(n, src);
    }
}

static void scan_conn(struct sk_node *n, int c)
{
    struct sk_conn *cn = &n->conn[c];
    for (;;) {
        volatile struct sk_trailer *v = sk__rx_trailer(n, c, cn->rx_scan);
        if (v->seq != cn->rx_scan + 1)
            break;
        struct sk_trailer t;
        memcpy(&t, (const void *)v, sizeof t);
        if ((int32_t)(t.credit - cn->cred_seen) > 0)
            cn->cred_seen = t.credit;
        switch (t.type) {
        case SK_R_FIN:
            cn->peer_fin = 1;
            break;
        case SK_R_CLOSE:
            cn->peer_fin = cn->peer_closed = 1;
            break;
        case SK_R_RDPOST:
            cn->peer_rd_valid = 1;
            cn->peer_rd_seq = t.a;
            cn->peer_rd_pos = (uint64_t)t.b | (uint64_t)t.c << 32;
            cn->peer_rd_len = t.d;
            cn->peer_rd_gen = 0;
            if (t.len >= 4)
                memcpy(&cn->peer_rd_gen,
                       sk__rx_payload(n, c, cn->rx_scan, t.len), 4);
            break;
        case SK_R_ZC:
        case SK_R_DECLINE:
            if (t.a == cn->zc_seq && cn->zc_pending) {
                cn->zc_answered = 1;
                cn->zc_done_len = t.type == SK_R_ZC ? t.c : 0;
                cn->zc_small = t.type == SK_R_DECLINE && t.b == 1;
            }
            break;
        default:
            break;
        }
        cn->rx_scan++;
    }
    uint32_t w = *cred_word(n, c);
    if ((int32_t)(w - cn->cred_seen) > 0)
        cn->cred_seen = w;
    /* Control records at the read position take no reader; after our
     * close, everything is dropped. */
    while (cn->rx_rd != cn->rx_scan) {
        volatile struct sk_trailer *v = sk__rx_trailer(n, c, cn->rx_rd);
        uint32_t type = v->type;
        if (!cn->local_closed &&
            (type == SK_R_DATA || type == SK_R_FIN || type == SK_R_CLOSE))
            break;
        cn->rx_rd++;
        cn->rx_off = 0;
    }
    sk__report_credit(n, c, 0);
}

void sk__progress(struct sk_node *n)
{
    progress_inbox(n);
    flush_ctl(n);
    for (int c = 0; c < SK_MAXCONN; c++) {
        struct sk_conn *cn = &n->conn[c];
        if (cn->state != SK_EST)
            continue;
        scan_conn(n, c);
        if (cn->local_closed && cn->peer_closed && reqs_idle(n, cn))
            sk__conn_release(n, c);
    }
}

/* Something new arrived that progress would act on.  Reads memory only. */
static int node_ready(void *arg)
{
    struct sk_node *n = arg;
    for (int src = 0; src < n->nn; src++)
        if (inbox_slot(n, src, n->inb_next[src])->seq == n->inb_next[src] + 1)
            return 1;
    if (n->ctl_queue)
        for (int p = 0; p < n->nn; p++)
            if (*inbcred_word(n, p) != n->ctl_cred_seen[p])
                return 1;
    for (int c = 0; c < SK_MAXCONN; c++) {
        struct sk_conn *cn = &n->conn[c];
        if (cn->state != SK_EST)
            continue;
        if (sk__rx_trailer(n, c, cn->rx_scan)->seq == cn->rx_scan + 1)
            return 1;
        if ((int32_t)(*cred_word(n, c) - cn->cred_seen) > 0)
            return 1;
    }
    return 0;
}

int sk__block(struct sk_node *n, int (*done)(struct sk_node *, void *),
              void *arg, hw_time_t timeout)
{
    hw_time_t end = timeout < 0 ? HW_TIME_NEVER : now(n) + timeout;
    for (;;) {
        sk__progress(n);
        if (done(n, arg))
            return 0;
        hw_time_t t = now(n);
        if (t >= end)
            return -ETIMEDOUT;
        int rc = vmmc_wait_until(n->vc, node_ready, n,
                                 end == HW_TIME_NEVER ? -1 : end - t);
        if (rc && rc != VS_ETIMEDOUT)
            return -EIO;
    }
}

/* ---- The end of a program ---- */

static int all_closed(struct sk_node *n, void *arg)
{
    (void)arg;
    if (n->ctl_queue)
        return 0;
    for (int c = 0; c < SK_MAXCONN; c++)
        if (n->conn[c].state == SK_EST)
            return 0;
    return 1;
}

void vs_sock_end(void)
{
    struct sk_node *n = sk__node_peek();
    if (!n || n->in_end)
        return;
    n->in_end = 1;
    for (int i = 0; i < SK_MAXSOCK; i++)
        if (n->sock[i].kind != SK_K_FREE)
            vs_sock_close(n->sock[i].fd);
    for (int c = 0; c < SK_MAXCONN; c++)
        if (n->conn[c].state != SK_FREE && !n->conn[c].local_closed)
            sk__conn_close(n, c);
    sk__block(n, all_closed, NULL, SK_LINGER);
    /* Whatever is left: wait for our sends (a peer that ended refuses
     * them; that is no error of this program's). */
    for (int c = 0; c < SK_MAXCONN; c++)
        wait_reqs(n, &n->conn[c]);
    for (int p = 0; p < n->nn; p++) {
        if (n->inb_busy[p])
            vmmc_wait(n->vc, &n->inb_req[p]);
        for (unsigned k = 0; k < SK_INB; k++)
            if (n->ctl_busy[(size_t)p * SK_INB + k])
                vmmc_wait(n->vc, &n->ctl_req[(size_t)p * SK_INB + k]);
        drop_import(n, p);
        if (n->zc_imp[p] >= 0)
            vmmc_unimport(n->vc, n->zc_imp[p]);
        n->zc_imp[p] = -1;
    }
    vmmc_unexport(n->vc, SK_EXPORT_AREA);
    if (n->zc_exported)
        vmmc_unexport(n->vc, SK_EXPORT_ZC);
    S.nodes[n->me] = NULL;
    free_node(n);
}
