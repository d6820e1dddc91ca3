/*
 * The send pipeline of the VMMC firmware.  A send command becomes a job in
 * the send queue; the pump cuts the job into packets of at most a page of
 * payload (ending on the source's page boundaries so each takes few DMAs),
 * host-DMAs each into a packet buffer from the SRAM pool, and hands it to
 * the link as soon as its bytes are in.  Host-DMA of the next packet
 * overlaps the network send of the previous one.  The pool is also the send
 * window: a buffer stays taken until the link has the packet acknowledged,
 * so a slow receiver stalls the sender instead of overflowing its SRAM.
 * A job completes (the host is told) when every packet is acknowledged, or
 * without reliability when all its bytes have been read.
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vmmc/fw_int.h"
#include "util/inv.h"

static void job_enqueue(struct vmmc_fw *fw, struct fw_job *j);

int fw__check_import(struct vmmc_fw *fw, const struct vmmc__cmd *c,
                     uint32_t perm, struct fw_import **out)
{
    if (c->handle >= VMMC_MAX_IMPORTS)
        return VS_EBADF;
    struct fw_import *im = &fw->imports[c->handle];
    if (im->state == IMP_REVOKED)
        return im->revoked_status;
    if (im->state != IMP_VALID)
        return VS_EBADF;
    if (!(im->perms & perm))
        return VS_EPERM;
    if (c->off > im->len || c->len > im->len - c->off)
        return VS_ERANGE;
    if (c->len && (!c->addr || c->addr + c->len < c->addr))
        return VS_EFAULT;
    *out = im;
    return VS_OK;
}

int fw__send_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    struct fw_import *im = NULL;
    int rc = fw__check_import(fw, c, VMMC_PERM_WRITE, &im);
    if (rc) {
        fw->st.refused_out++;
        return rc;
    }
    struct fw_job *j = calloc(1, sizeof *j);
    if (!j)
        return VS_ENOMEM;
    j->slot = (c->seq - 1) % VMMC__CMDQ_LEN;
    j->seq = c->seq;
    j->dst = im->node;
    j->export_id = im->export_id;
    j->gen = im->gen;
    j->off = c->off;
    j->addr = c->addr;
    j->len = c->len;
    j->flags = c->flags;
    job_enqueue(fw, j);
    return 1; /* completes later */
}

static void job_enqueue(struct vmmc_fw *fw, struct fw_job *j)
{
    if (!fw->dst_jobs && fw->sendq_ndst != UINT_MAX) {
        fw->dst_jobs = calloc((size_t)fw->nic->nnodes, sizeof *fw->dst_jobs);
        if (!fw->dst_jobs)
            fw->sendq_ndst = UINT_MAX;
    }
    if (fw->dst_jobs && fw->dst_jobs[j->dst]++ == 0)
        fw->sendq_ndst++;
    j->queued = 1;
    if (fw->sendq_tail)
        fw->sendq_tail->next = j;
    else
        fw->sendq = j;
    fw->sendq_tail = j;
    fw__pump(fw);
}

int fw__fetch_reply(struct vmmc_fw *fw, int dst, uint64_t addr, uint64_t len,
                    uint32_t cookie, uint64_t cmdseq)
{
    struct fw_job *j = calloc(1, sizeof *j);
    if (!j)
        return VS_ENOMEM;
    j->fetch_reply = 1;
    j->cookie = cookie;
    j->cmdseq = cmdseq;
    j->dst = dst;
    j->addr = addr;
    j->len = len;
    job_enqueue(fw, j);
    return VS_OK;
}

static void job_unqueue(struct vmmc_fw *fw, struct fw_job *j)
{
    struct fw_job **pp = &fw->sendq, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = j->next;
        if (fw->sendq_tail == j)
            fw->sendq_tail = prev;
        if (fw->dst_jobs && --fw->dst_jobs[j->dst] == 0)
            fw->sendq_ndst--;
    }
    j->next = NULL;
    j->queued = 0;
}

static void job_maybe_free(struct fw_job *j)
{
    if (j->completed && j->refs == 0 && !j->queued)
        free(j);
}

/* Tells the host once nothing more will happen to the job. */
static void job_maybe_complete(struct vmmc_fw *fw, struct fw_job *j)
{
    if (j->completed || j->queued)
        return;
    int done = fw->reliable ? j->acked == j->pkts
                            : (j->read == j->len || j->status);
    if (!done)
        return;
    j->completed = 1;
    if (!j->fetch_reply)
        fw__complete(fw, j->slot, j->seq, j->status, 0, 0, 0);
}

static void job_resolved(struct vmmc_fw *fw, struct fw_job *j, int dst,
                         int status)
{
    struct fw_conn *c = fw__conn(fw, dst);
    if (c->inflight)
        c->inflight--;
    j->acked++;
    if (status && !j->status)
        j->status = status;
    job_maybe_complete(fw, j);
}

void fw__pkt_resolved(struct fw_pkt *p, int status)
{
    if (p->job)
        job_resolved(p->fw, p->job, p->dst, status);
}

void fw__pkt_free(struct fw_pkt *p)
{
    struct vmmc_fw *fw = p->fw;
    struct fw_job *j = p->job;
    p->job = NULL;
    if (p->pooled) {
        p->done = 0;
        fw__pool_mark(fw, (unsigned)(p - fw->pool), 0);
    } else {
        fw->ops->sram_free(fw->nic, p->buf, HDR);
        vs_pool_put(&fw->ctrl_pool, p);
    }
    if (j) {
        j->refs--;
        job_maybe_free(j);
    }
}

void fw__fail_jobs_to(struct vmmc_fw *fw, int node, int status)
{
    /* Jobs whose last chunks are already out of the queue but still being
     * translated or read: they must not send that tail into the link's
     * new epoch. */
    for (unsigned i = 0; i < fw->npool; i++) {
        struct fw_job *j = fw->pool[i].job;
        if (fw__pool_busy(fw, i) && j && j->dst == node && !j->status &&
            !fw->pool[i].sending && !fw->pool[i].done)
            j->status = status;
    }
    struct fw_job *j = fw->sendq;
    while (j) {
        struct fw_job *next = j->next;
        if (j->dst == node) {
            if (!j->status)
                j->status = status;
            job_unqueue(fw, j);
            job_maybe_complete(fw, j);
            job_maybe_free(j);
        }
        j = next;
    }
}

/* All bytes of a packet are in its buffer: send it. */
static void pkt_ready(struct fw_pkt *p)
{
    struct vmmc_fw *fw = p->fw;
    struct fw_job *j = p->job;
    uint32_t paylen = (uint32_t)(p->len - HDR);
    j->read += paylen;
    if (j->status) { /* the peer failed meanwhile */
        p->done = 1;
        fw__pkt_resolved(p, j->status);
        fw__pkt_free(p);
        fw__pump(fw);
        return;
    }
    fw__charge(fw, HW_FW_SEND_PKT, 1);
    struct vmmc__hdr *h = (struct vmmc__hdr *)p->buf;
    int last = p->msg_pos + paylen == j->len;
    memset(h, 0, HDR);
    h->src = (uint16_t)fw->nic->node;
    h->len = paylen;
    if (j->fetch_reply) {
        h->type = VMMC__PKT_FETCH_DATA;
        h->cookie = j->cookie;
        h->msg_off = j->cmdseq;
        h->off = p->msg_pos;
        h->msg_len = j->len;
    } else {
        h->type = VMMC__PKT_DATA;
        h->flags = (uint8_t)((last ? VMMC__PF_LAST : 0) |
                             (last && (j->flags & VMMC_SEND_NOTIFY)
                                  ? VMMC__PF_NOTIFY
                                  : 0));
        h->export_id = j->export_id;
        h->gen = j->gen;
        h->off = j->off + p->msg_pos;
        h->msg_off = j->off;
        h->msg_len = j->len;
    }
    fw->st.packets_out++;
    fw->st.bytes_out += paylen;
    p->reliable = 1;
    int dst = p->dst;
    fw__link_send(fw, p);
    /* Without reliability nothing will acknowledge it: it is resolved once
     * sent (after the send, so the completion stays off the data's path;
     * the job outlives the packet until it completes). */
    if (!fw->reliable)
        job_resolved(fw, j, dst, VS_OK);
}

static void pkt_dma_done(void *arg, int status)
{
    struct fw_pkt *p = arg;
    (void)status;
    fw__charge(p->fw, HW_FW_DMA_DONE, 1);
    if (--p->pending_dmas == 0)
        pkt_ready(p);
}

static void chunk_xlated(void *arg, int status);

/* The free packet buffer of the lowest index, or NULL (a bitmap, so a
 * full pool costs no scan of the buffers). */
static struct fw_pkt *pool_get(struct vmmc_fw *fw)
{
    for (unsigned w = 0; w < (fw->npool + 63) / 64; w++)
        if (fw->pool_free[w])
            return &fw->pool[w * 64 +
                             (unsigned)__builtin_ctzll(fw->pool_free[w])];
    return NULL;
}

/* The first job that may make a packet now: its peer's window has room
 * and no earlier job to the same peer is waiting (per-peer order). */
static struct fw_job *next_job(struct vmmc_fw *fw)
{
    struct fw_job *j, *last = NULL;
    unsigned nblocked = 0;
    for (j = fw->sendq; j; j = j->next) {
        last = j;
        if (nblocked && fw->blocked[j->dst])
            continue;
        if (!j->xlating &&
            (fw->conns[j->dst].inflight < fw->window || !fw->reliable))
            break;
        fw->blocked[j->dst] = 1;
        /* Every destination in the queue waits: so do the jobs after. */
        if (++nblocked == fw->sendq_ndst) {
            j = NULL;
            break;
        }
    }
    if (nblocked)
        for (struct fw_job *k = fw->sendq;; k = k->next) {
            fw->blocked[k->dst] = 0;
            if (k == last)
                break;
        }
    return j;
}

void fw__pump(struct vmmc_fw *fw)
{
    uint64_t ps = fw->nic->page_size;
    while (fw->sendq) {
        struct fw_pkt *p = pool_get(fw);
        if (!p)
            return;
        struct fw_job *j = next_job(fw);
        if (!j)
            return;
        fw__conn(fw, j->dst)->inflight++;
        VS_INV(!fw->reliable || fw->conns[j->dst].inflight <= fw->window,
               "resources: node %d: %u packets in flight to node %d, above "
               "the window of %u",
               fw->nic->node, fw->conns[j->dst].inflight, j->dst, fw->window);
        uint64_t src = j->addr + j->issued, rem = j->len - j->issued;
        uint64_t chunk = rem < fw->payload_max ? rem : fw->payload_max;
        if (chunk < rem && fw->payload_max >= ps) {
            uint64_t end = (src + chunk) / ps * ps;
            if (end > src)
                chunk = end - src;
        }
        fw__pool_mark(fw, (unsigned)(p - fw->pool), 1);
        p->done = 0;
        p->sending = 0;
        p->job = j;
        p->dst = j->dst;
        p->msg_pos = j->issued;
        p->len = HDR + chunk;
        p->pending_dmas = 0;
        j->refs++;
        j->pkts++;
        j->issued += chunk;
        if (j->issued == j->len)
            job_unqueue(fw, j);
        /* Translate the chunk's pages (the UTLB), then read them. */
        j->xlating = 1;
        fw__xlate(fw, src, chunk, chunk_xlated, p);
    }
}

/* The pages of a packet's chunk are translated: read the chunk. */
static void chunk_xlated(void *arg, int status)
{
    struct fw_pkt *p = arg;
    struct vmmc_fw *fw = p->fw;
    struct fw_job *j = p->job;
    uint64_t ps = fw->nic->page_size;
    uint64_t chunk = p->len - HDR, src = j->addr + p->msg_pos;
    j->xlating = 0;
    if (status) {
        /* A source page is not pinned: the send fails here; what was
         * already sent of it stays sent. */
        fw->st.refused_out++;
        if (!j->status)
            j->status = status;
        if (j->queued)
            job_unqueue(fw, j);
        p->done = 1;
        fw__pkt_resolved(p, status);
        fw__pkt_free(p);
        fw__pump(fw);
        return;
    }
    /* Hold the packet until every DMA is queued. */
    p->pending_dmas = 1;
    for (uint64_t k = 0; k < chunk;) {
        uint64_t piece = ps - (src + k) % ps;
        if (piece > chunk - k)
            piece = chunk - k;
        p->pending_dmas++;
        int rc = fw->ops->host_dma(fw->nic, HW_DMA_TO_NIC,
                                   (void *)(uintptr_t)(src + k),
                                   p->buf + HDR + k, piece, pkt_dma_done, p);
        assert(rc == VS_OK);
        (void)rc;
        k += piece;
    }
    if (--p->pending_dmas == 0)
        pkt_ready(p);
    fw__pump(fw);
}
