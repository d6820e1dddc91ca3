/*
 * libs/svm transport: protocol messages between nodes over raw VMMC.
 *
 * Every node exports a control area (NODE_EXPORT_SVM + 1):
 *
 *     uint32_t flag[n]      flag[s]: how many messages node s has put in
 *                           its mailbox here
 *     uint32_t acked[n]     acked[r]: how many of this node's messages node
 *                           r has handled
 *     mailbox[n]            SVM__MBOX bytes each, one per sender
 *
 * A sender writes the message into its mailbox at the receiver, then (a
 * second send, delivered after the first: VMMC delivers in order between
 * two nodes) bumps its flag there.  The receiver handles the message in
 * place when it next runs the library, then writes the count back into the
 * sender's acked[] word.  One message per pair is in flight; more wait in a
 * queue at the sender.  Nothing here blocks on another node's program:
 * every wait runs svm__wait(), which sends what it can and handles what
 * has arrived, so two nodes waiting for each other always make progress.
 * Messages to the node itself go through a local queue.
 */
#include <stdlib.h>
#include <string.h>

#include "libs/node/node.h"
#include "libs/svm/svm_int.h"
#include "util/dheap.h"

static size_t off_flag(int i)
{
    return (size_t)i * 4;
}
static size_t off_acked(const struct svm_node *s, int i)
{
    return (size_t)s->n * 4 + (size_t)i * 4;
}
static size_t off_mbox(const struct svm_node *s, int i)
{
    size_t head = ((size_t)s->n * 8 + 63) & ~(size_t)63;
    return head + (size_t)i * SVM__MBOX;
}
static volatile uint32_t *flag_word(struct svm_node *s, int i)
{
    return (volatile uint32_t *)(s->ctrl + off_flag(i));
}
static volatile uint32_t *acked_word(struct svm_node *s, int i)
{
    return (volatile uint32_t *)(s->ctrl + off_acked(s, i));
}

int svm__comm_open(struct svm_node *s)
{
    int n = s->n;
    s->ctrl_len = off_mbox(s, n);
    /* VMMC reads and writes these: on pages of their own (util/dheap.h) */
    s->ctrl = vs_dheap_pages(s->ctrl_len);
    s->imp_home = calloc((size_t)n, sizeof *s->imp_home);
    s->imp_ctrl = calloc((size_t)n, sizeof *s->imp_ctrl);
    s->sent = calloc((size_t)n, sizeof *s->sent);
    s->consumed = calloc((size_t)n, sizeof *s->consumed);
    s->flagval = vs_dheap_pages((size_t)n * sizeof *s->flagval);
    s->ackval = vs_dheap_pages((size_t)n * sizeof *s->ackval);
    s->qhead = calloc((size_t)n, sizeof *s->qhead);
    s->qtail = calloc((size_t)n, sizeof *s->qtail);
    if (!s->ctrl || !s->imp_home || !s->imp_ctrl || !s->sent || !s->consumed ||
        !s->flagval || !s->ackval || !s->qhead || !s->qtail)
        return svm__err(s, VS_ENOMEM, "svm_init: out of memory");
    memset(s->ctrl, 0, s->ctrl_len);
    memset(s->flagval, 0, (size_t)n * sizeof *s->flagval);
    memset(s->ackval, 0, (size_t)n * sizeof *s->ackval);
    for (int i = 0; i < n; i++)
        s->imp_home[i] = s->imp_ctrl[i] = -1;

    /* This node's home pages (a dummy word if it is home of none). */
    size_t first = (size_t)s->me * s->chunk, npg = 0;
    if (first < s->npages)
        npg = s->npages - first < s->chunk ? s->npages - first : s->chunk;
    void *hbuf = npg ? (void *)(s->base + first * s->pg) : (void *)s->ctrl;
    size_t hlen = npg ? npg * s->pg : 4;
    int rc = vmmc_export(s->vc, NODE_EXPORT_SVM + SVM__EXP_HOME, hbuf, hlen,
                         VMMC_PERM_READ);
    if (rc)
        return svm__err(s, rc,
                        "svm_init: exporting the home pages (id %d): "
                        "%s",
                        NODE_EXPORT_SVM + SVM__EXP_HOME, vmmc_errmsg(s->vc));
    s->exported |= 1;
    rc = vmmc_export(s->vc, NODE_EXPORT_SVM + SVM__EXP_CTRL, s->ctrl,
                     s->ctrl_len, VMMC_PERM_WRITE);
    if (rc)
        return svm__err(s, rc,
                        "svm_init: exporting the control area (id "
                        "%d): %s",
                        NODE_EXPORT_SVM + SVM__EXP_CTRL, vmmc_errmsg(s->vc));
    s->exported |= 2;

    /* A peer may not have exported yet: ask again until it has. */
    for (int i = 0; i < n; i++) {
        if (i == s->me)
            continue;
        for (int k = 0; k < 2; k++) {
            int id = NODE_EXPORT_SVM + (k ? SVM__EXP_CTRL : SVM__EXP_HOME);
            vmmc_import_t *out = k ? &s->imp_ctrl[i] : &s->imp_home[i];
            hw_time_t delay = 10 * HW_US, waited = 0;
            while ((rc = vmmc_import(s->vc, i, id, out, NULL)) == VS_ENOENT &&
                   waited < SVM__JOIN_WAIT) {
                s->h->ops->compute(s->h, delay);
                waited += delay;
                delay = delay < 10 * HW_MS ? 2 * delay : delay;
            }
            if (rc == VS_ENOENT)
                return svm__err(s, VS_ETIMEDOUT,
                                "svm_init: node %d did not join within %.0f s "
                                "(its svm_init failed or was not called)",
                                i, (double)SVM__JOIN_WAIT / (1000.0 * HW_MS));
            if (rc)
                return svm__err(s, rc,
                                "svm_init: importing export %d of "
                                "node %d: %s",
                                id, i, vmmc_errmsg(s->vc));
        }
    }
    return VS_OK;
}

static void free_queue(struct svm__msg *m)
{
    while (m) {
        struct svm__msg *next = m->next;
        vs_dheap_free(m);
        m = next;
    }
}

void svm__comm_close(struct svm_node *s)
{
    for (int i = 0; s->imp_home && i < s->n; i++) {
        if (s->imp_home[i] >= 0)
            vmmc_unimport(s->vc, s->imp_home[i]);
        if (s->imp_ctrl[i] >= 0)
            vmmc_unimport(s->vc, s->imp_ctrl[i]);
    }
    if (s->exported & 1)
        vmmc_unexport(s->vc, NODE_EXPORT_SVM + SVM__EXP_HOME);
    if (s->exported & 2)
        vmmc_unexport(s->vc, NODE_EXPORT_SVM + SVM__EXP_CTRL);
    s->exported = 0;
    for (int i = 0; s->qhead && i < s->n; i++)
        free_queue(s->qhead[i]);
    free_queue(s->self_head);
    vs_dheap_free(s->ctrl);
    free(s->imp_home);
    free(s->imp_ctrl);
    free(s->sent);
    free(s->consumed);
    vs_dheap_free(s->flagval);
    vs_dheap_free(s->ackval);
    free(s->qhead);
    free(s->qtail);
}

/* Messages are sent from where they are built: from the deterministic heap,
 * so that the pages a message spans, which the send's cost depends on, are
 * the same in every run (util/dheap.h). */
struct svm__msg *svm__msg_new(uint32_t type, size_t cap)
{
    struct svm__msg *m = vs_dheap_alloc(sizeof *m + cap);
    if (m)
        *m = (struct svm__msg){.h = {.type = type}};
    return m;
}

void svm__send_built(struct svm_node *s, int dst, struct svm__msg *m)
{
    m->len = sizeof m->h + m->h.len;
    m->next = NULL;
    if (dst == s->me) {
        if (s->self_tail)
            s->self_tail->next = m;
        else
            s->self_head = m;
        s->self_tail = m;
        return;
    }
    if (s->qtail[dst])
        s->qtail[dst]->next = m;
    else
        s->qhead[dst] = m;
    s->qtail[dst] = m;
}

int svm__send(struct svm_node *s, int dst, uint32_t type, uint32_t a,
              uint32_t b, const void *payload, size_t len)
{
    if (len > SVM__MBOX - sizeof(struct svm__hdr))
        return svm__err(s, VS_EINVAL,
                        "svm: message of %zu bytes is too "
                        "long",
                        len);
    struct svm__msg *m = svm__msg_new(type, len);
    if (!m)
        return svm__err(s, VS_ENOMEM, "svm: out of memory");
    m->h.a = a;
    m->h.b = b;
    m->h.len = (uint32_t)len;
    if (len)
        memcpy(m + 1, payload, len);
    svm__send_built(s, dst, m);
    return VS_OK;
}

/* Sends the queued messages whose mailbox is free. */
static int pump(struct svm_node *s)
{
    for (int d = 0; d < s->n; d++) {
        while (s->qhead[d] && *acked_word(s, d) == s->sent[d]) {
            struct svm__msg *m = s->qhead[d];
            int rc = vmmc_send_sync(s->vc, s->imp_ctrl[d], off_mbox(s, s->me),
                                    &m->h, m->len, 0);
            if (!rc) {
                s->flagval[d] = ++s->sent[d];
                rc = vmmc_send_sync(s->vc, s->imp_ctrl[d], off_flag(s->me),
                                    &s->flagval[d], 4, 0);
            }
            if (rc)
                return svm__err(s, rc, "svm: sending to node %d: %s", d,
                                vmmc_errmsg(s->vc));
            s->st.msgs++;
            s->st.msg_bytes += m->len + 4;
            s->qhead[d] = m->next;
            if (!s->qhead[d])
                s->qtail[d] = NULL;
            vs_dheap_free(m);
        }
    }
    return VS_OK;
}

/* Handles what has arrived, acknowledging each message. */
static int service(struct svm_node *s)
{
    for (int src = 0; src < s->n; src++) {
        if (src == s->me || *flag_word(s, src) == s->consumed[src])
            continue;
        const uint8_t *box = s->ctrl + off_mbox(s, src);
        struct svm__hdr h;
        memcpy(&h, box, sizeof h);
        if (h.len <= SVM__MBOX - sizeof h)
            svm__handle(s, src, &h, box + sizeof h);
        s->ackval[src] = ++s->consumed[src];
        int rc = vmmc_send_sync(s->vc, s->imp_ctrl[src], off_acked(s, s->me),
                                &s->ackval[src], 4, 0);
        if (rc)
            return svm__err(s, rc, "svm: acknowledging node %d: %s", src,
                            vmmc_errmsg(s->vc));
    }
    while (s->self_head) {
        struct svm__msg *m = s->self_head;
        s->self_head = m->next;
        if (!s->self_head)
            s->self_tail = NULL;
        svm__handle(s, s->me, &m->h, (const uint8_t *)(m + 1));
        vs_dheap_free(m);
    }
    return VS_OK;
}

/* Whether there is something to do or the awaited condition holds:
 * read-only (the backend may call it outside the node's process). */
static int ready(void *arg)
{
    struct svm_node *s = arg;
    if (s->self_head || (s->cond && s->cond(s)))
        return 1;
    for (int i = 0; i < s->n; i++) {
        if (i == s->me)
            continue;
        if (*flag_word(s, i) != s->consumed[i])
            return 1;
        if (s->qhead[i] && *acked_word(s, i) == s->sent[i])
            return 1;
    }
    return 0;
}

int svm__wait(struct svm_node *s, int (*cond)(struct svm_node *s))
{
    for (;;) {
        int rc = pump(s);
        if (!rc)
            rc = service(s);
        if (!rc)
            rc = pump(s);
        if (rc)
            return rc;
        if (cond(s))
            return VS_OK;
        if (ready(s))
            continue;
        s->cond = cond;
        rc = vmmc_wait_until(s->vc, ready, s, -1);
        s->cond = NULL;
        if (rc)
            return svm__err(s, rc, "svm: waiting: %s", vmmc_errmsg(s->vc));
    }
}

int svm__all_acked(struct svm_node *s)
{
    if (s->self_head)
        return 0;
    for (int d = 0; d < s->n; d++)
        if (d != s->me && (s->qhead[d] || *acked_word(s, d) != s->sent[d]))
            return 0;
    return 1;
}
