/*
 * Arriving packets in the VMMC firmware.  The link (fw_link.c) first
 * decides whether a packet is the next in order; then a data packet is
 * checked against the export it names (valid, same generation, writable,
 * inside the bounds) before any byte moves, and DMA'd page by page into
 * host memory.  A refused packet is dropped, counted, reported back in the
 * link's acknowledgement and answered with a NACK that revokes the
 * sender's imports of that export.  When the last packet of a message that
 * asked for it has landed, a notification record goes into the host's ring
 * (and an interrupt, if the process enabled them for that export).
 *
 * Also here: transfer redirection (the receiver sends the next data for a
 * range of an export to another buffer of its own) and remote fetch (a
 * node reads a range of an export it imported: the owner's NIC checks the
 * request and streams the bytes back through its send pipeline).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmmc/fw_int.h"

struct fw_rx {
    struct vmmc_fw *fw;
    void *pkt;
    int pending;
    int notify;
    struct vmmc_notification rec;
    /* Bytes of this packet sent to a redirection (export, its command). */
    uint64_t redir_bytes;
    uint32_t redir_export, redir_seq;
    /* A fetch answer: the fetch slot and its bytes. */
    int fetch_slot;
    uint32_t fetch_seq;
    uint64_t fetch_bytes;
};

/* ---- Notifications ---- */

static void note_dma_done(void *arg, int status)
{
    struct vmmc_fw *fw = arg;
    (void)status;
    fw->ops->raise_irq(fw->nic);
    fw->st.interrupts++;
}

void fw__deliver_notes(struct vmmc_fw *fw)
{
    while (fw->notes && fw->opened &&
           fw->note_head - fw->win->notify_consumed < VMMC__NOTIFY_LEN) {
        struct fw_pending_note *pn = fw->notes;
        fw->notes = pn->next;
        if (!fw->notes)
            fw->notes_tail = NULL;
        fw__charge(fw, HW_FW_NOTIFY, 1);
        uint32_t pos = fw->note_head % VMMC__NOTIFY_LEN;
        struct vmmc__notify_rec *r = &fw->note_scratch[pos];
        r->seq = fw->note_head + 1;
        r->export_id = pn->rec.export_id;
        r->src = pn->rec.src_node;
        r->offset = pn->rec.offset;
        r->len = pn->rec.len;
        fw->note_head++;
        fw->st.notifications++;
        int irq = pn->rec.export_id >= 0 &&
                  pn->rec.export_id < VMMC_MAX_EXPORTS &&
                  fw->win->notify_enabled[pn->rec.export_id];
        int rc = fw->ops->host_dma(
            fw->nic, HW_DMA_TO_HOST,
            (void *)(uintptr_t)(fw->notify_ring + pos * sizeof *r), r,
            sizeof *r, irq ? note_dma_done : fw__noop_done, fw);
        assert(rc == VS_OK);
        (void)rc;
        free(pn);
    }
}

static void queue_note(struct vmmc_fw *fw, const struct vmmc_notification *n)
{
    struct fw_pending_note *pn = malloc(sizeof *pn);
    if (!pn) {
        fw->st.sram_failures++;
        return;
    }
    pn->next = NULL;
    pn->rec = *n;
    if (fw->notes_tail)
        fw->notes_tail->next = pn;
    else
        fw->notes = pn;
    fw->notes_tail = pn;
    fw__deliver_notes(fw);
}

/* ---- Data ---- */

/* Everything of one arriving packet has landed. */
static void rx_finish(struct fw_rx *r)
{
    struct vmmc_fw *fw = r->fw;
    fw->ops->rx_release(fw->nic, r->pkt);
    if (r->redir_bytes) {
        struct fw_redirect *d = &fw->exports[r->redir_export].redir;
        if (d->active && d->seq == r->redir_seq) {
            d->landed += r->redir_bytes;
            if (d->landed >= d->len) {
                d->active = 0;
                fw__complete(fw, d->slot, d->seq, VS_OK, 0, 0, 0);
            }
        }
    }
    if (r->fetch_bytes) {
        struct fw_fetch *f = &fw->fetches[r->fetch_slot];
        if (f->used && f->seq == r->fetch_seq) {
            f->landed += r->fetch_bytes;
            if (f->landed == f->len) {
                f->used = 0;
                fw__complete(fw, f->slot, f->seq, VS_OK, 0, 0, 0);
            }
        }
    }
    if (r->notify)
        queue_note(fw, &r->rec);
    vs_pool_put(&fw->rx_pool, r);
}

static void rx_dma_done(void *arg, int status)
{
    struct fw_rx *r = arg;
    (void)status;
    fw__charge(r->fw, HW_FW_DMA_DONE, 1);
    if (--r->pending == 0)
        rx_finish(r);
}

/* DMAs len bytes of payload to host memory at dst, one piece per page. */
static void rx_dma(struct fw_rx *r, uint64_t dst, const unsigned char *src,
                   uint64_t len)
{
    struct vmmc_fw *fw = r->fw;
    uint64_t ps = fw->nic->page_size;
    for (uint64_t k = 0; k < len;) {
        uint64_t piece = ps - (dst + k) % ps;
        if (piece > len - k)
            piece = len - k;
        fw__charge(fw, HW_FW_XLATE_PAGE, 1);
        r->pending++;
        int rc = fw->ops->host_dma(fw->nic, HW_DMA_TO_HOST,
                                   (void *)(uintptr_t)(dst + k),
                                   (void *)(uintptr_t)(src + k), piece,
                                   rx_dma_done, r);
        assert(rc == VS_OK);
        (void)rc;
        k += piece;
    }
}

void fw__recv_init(struct vmmc_fw *fw)
{
    vs_pool_init(&fw->rx_pool, sizeof(struct fw_rx));
}

static struct fw_rx *rx_new(struct vmmc_fw *fw, void *pkt)
{
    struct fw_rx *r = vs_pool_get0(&fw->rx_pool);
    if (!r) {
        fw->st.sram_failures++;
        fw->ops->rx_release(fw->nic, pkt);
        return NULL;
    }
    r->fw = fw;
    r->pkt = pkt;
    r->pending = 1; /* held until every DMA is queued */
    return r;
}

static void rx_go(struct fw_rx *r)
{
    if (--r->pending == 0)
        rx_finish(r);
}

static void refuse(struct vmmc_fw *fw, const struct vmmc__hdr *h, int why)
{
    fw->st.refused_in++;
    LOG(VMMC, INFO, "node %d refused %u bytes from node %u to export %u: %s",
        fw->nic->node, h->len, h->src, h->export_id, vs_strerror(why));
    fw__link_refused(fw, h, why);
    struct vmmc__hdr n = {.type = VMMC__PKT_NACK,
                          .src = (uint16_t)fw->nic->node,
                          .status = why,
                          .export_id = h->export_id,
                          .gen = h->gen};
    fw__link_ctrl(fw, h->src, &n);
}

static void rx_data(struct vmmc_fw *fw, void *pkt, const struct vmmc__hdr *h)
{
    struct fw_export *e =
        h->export_id < VMMC_MAX_EXPORTS ? &fw->exports[h->export_id] : NULL;
    int why = VS_OK;
    if (!e || !e->valid || e->gen != h->gen)
        why = VS_ENOENT;
    else if (!(e->perms & VMMC_PERM_WRITE))
        why = VS_EPERM;
    else if (h->off > e->len || h->len > e->len - h->off)
        why = VS_ERANGE;
    if (why) {
        refuse(fw, h, why);
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    fw->st.packets_in++;
    fw->st.bytes_in += h->len;
    struct fw_rx *r = rx_new(fw, pkt);
    if (!r)
        return;
    if ((h->flags & VMMC__PF_LAST) && (h->flags & VMMC__PF_NOTIFY)) {
        r->notify = 1;
        r->rec = (struct vmmc_notification){(int)h->export_id, h->src,
                                            h->msg_off, h->msg_len};
    }
    const unsigned char *payload = (unsigned char *)pkt + HDR;
    uint64_t a = h->off, b = h->off + h->len; /* in the export */
    struct fw_redirect *d = &e->redir;
    if (d->active && d->directed < d->len) {
        /* The part of [a, b) inside the redirected range goes to its
         * buffer; the rest to the export. */
        uint64_t ra = d->off, rb = d->off + d->len;
        uint64_t ia = a > ra ? a : ra, ib = b < rb ? b : rb;
        if (ia < ib) {
            if (a < ia)
                rx_dma(r, e->base + a, payload, ia - a);
            rx_dma(r, d->buf + (ia - ra), payload + (ia - a), ib - ia);
            if (ib < b)
                rx_dma(r, e->base + ib, payload + (ib - a), b - ib);
            /* Count at most what is left of the range: overlapping
             * messages must not push the count past it. */
            uint64_t left = d->len - d->directed;
            r->redir_bytes = ib - ia < left ? ib - ia : left;
            d->directed += r->redir_bytes;
            r->redir_export = h->export_id;
            r->redir_seq = d->seq;
            rx_go(r);
            return;
        }
    }
    rx_dma(r, e->base + a, payload, h->len);
    rx_go(r);
}

/* ---- Redirection and fetch commands ---- */

/* A fetch or redirection command waiting for its buffer's translations. */
struct pending_cmd {
    struct vmmc_fw *fw;
    struct vmmc__cmd c;
};

static void redirect_xlated(void *arg, int status)
{
    struct pending_cmd *pc = arg;
    struct vmmc_fw *fw = pc->fw;
    const struct vmmc__cmd *c = &pc->c;
    uint32_t slot = (c->seq - 1) % VMMC__CMDQ_LEN;
    struct fw_export *e = &fw->exports[c->handle];
    if (!status && !e->valid)
        status = VS_ENOENT;
    if (!status && e->redir.active)
        status = VS_EBUSY;
    if (status) {
        fw__complete(fw, slot, c->seq, status, 0, 0, 0);
    } else {
        e->redir = (struct fw_redirect){.active = 1,
                                        .off = c->off,
                                        .len = c->len,
                                        .buf = c->addr,
                                        .slot = slot,
                                        .seq = c->seq};
    }
    free(pc);
}

static int defer(struct vmmc_fw *fw, const struct vmmc__cmd *c,
                 fw_xlate_done done)
{
    struct pending_cmd *pc = malloc(sizeof *pc);
    if (!pc)
        return VS_ENOMEM;
    pc->fw = fw;
    pc->c = *c;
    fw__xlate(fw, c->addr, c->len, done, pc);
    return 1;
}

int fw__redirect_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    if (c->handle >= VMMC_MAX_EXPORTS || !fw->exports[c->handle].valid)
        return VS_ENOENT;
    struct fw_export *e = &fw->exports[c->handle];
    if (!c->len || c->off > e->len || c->len > e->len - c->off)
        return VS_ERANGE;
    if (e->redir.active)
        return VS_EBUSY;
    if (!c->addr || c->addr + c->len < c->addr)
        return VS_EFAULT;
    /* Active once its buffer's pages are known to be pinned; it then
     * completes when the range has landed. */
    return defer(fw, c, redirect_xlated);
}

static void fetch_xlated(void *arg, int status)
{
    struct pending_cmd *pc = arg;
    struct vmmc_fw *fw = pc->fw;
    const struct vmmc__cmd *c = &pc->c;
    uint32_t slot = (c->seq - 1) % VMMC__CMDQ_LEN;
    struct fw_import *im = &fw->imports[c->handle];
    if (!status && im->state != IMP_VALID)
        status = im->state == IMP_REVOKED ? im->revoked_status : VS_EBADF;
    if (!status) {
        fw->fetches[slot] = (struct fw_fetch){.used = 1,
                                              .node = im->node,
                                              .slot = slot,
                                              .seq = c->seq,
                                              .dst = c->addr,
                                              .len = c->len};
        struct vmmc__hdr q = {.type = VMMC__PKT_FETCH_REQ,
                              .src = (uint16_t)fw->nic->node,
                              .export_id = im->export_id,
                              .gen = im->gen,
                              .cookie = slot,
                              .off = c->off,
                              .msg_off = c->seq,
                              .msg_len = c->len};
        status = fw__link_ctrl(fw, im->node, &q);
        if (status)
            fw->fetches[slot].used = 0;
    }
    if (status)
        fw__complete(fw, slot, c->seq, status, 0, 0, 0);
    free(pc);
}

int fw__fetch_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    struct fw_import *im;
    int rc = fw__check_import(fw, c, VMMC_PERM_READ, &im);
    if (rc || c->len == 0)
        return rc;
    return defer(fw, c, fetch_xlated);
}

void fw__fail_fetches_to(struct vmmc_fw *fw, int node, int status)
{
    for (int i = 0; i < VMMC__CMDQ_LEN; i++) {
        struct fw_fetch *f = &fw->fetches[i];
        if (f->used && f->node == node) {
            f->used = 0;
            fw__complete(fw, f->slot, f->seq, status, 0, 0, 0);
        }
    }
}

/* The owner's side of a fetch: check, then stream the bytes back. */
static void rx_fetch_req(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    fw__charge(fw, HW_FW_CTRL, 1);
    const struct fw_export *e =
        h->export_id < VMMC_MAX_EXPORTS ? &fw->exports[h->export_id] : NULL;
    int why = VS_OK;
    if (!e || !e->valid || e->gen != h->gen)
        why = VS_ENOENT;
    else if (!(e->perms & VMMC_PERM_READ))
        why = VS_EPERM;
    else if (h->off > e->len || h->msg_len > e->len - h->off)
        why = VS_ERANGE;
    if (!why)
        why = fw__fetch_reply(fw, h->src, e->base + h->off, h->msg_len,
                              h->cookie, h->msg_off);
    if (why) {
        fw->st.refused_in++;
        struct vmmc__hdr rep = {.type = VMMC__PKT_FETCH_REP,
                                .src = (uint16_t)fw->nic->node,
                                .status = why,
                                .cookie = h->cookie,
                                .msg_off = h->msg_off};
        fw__link_ctrl(fw, h->src, &rep);
    }
}

static struct fw_fetch *fetch_of(struct vmmc_fw *fw,
                                 const struct vmmc__hdr *h)
{
    if (h->cookie >= VMMC__CMDQ_LEN)
        return NULL;
    struct fw_fetch *f = &fw->fetches[h->cookie];
    if (!f->used || f->seq != h->msg_off || f->node != h->src)
        return NULL;
    return f;
}

static void rx_fetch_data(struct vmmc_fw *fw, void *pkt,
                          const struct vmmc__hdr *h)
{
    struct fw_fetch *f = fetch_of(fw, h);
    if (!f || h->off > f->len || h->len > f->len - h->off) {
        fw->st.malformed++;
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    struct fw_rx *r = rx_new(fw, pkt);
    if (!r)
        return;
    r->fetch_slot = (int)h->cookie;
    r->fetch_seq = f->seq;
    r->fetch_bytes = h->len;
    rx_dma(r, f->dst + h->off, (unsigned char *)pkt + HDR, h->len);
    rx_go(r);
}

static void rx_fetch_rep(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    fw__charge(fw, HW_FW_CTRL, 1);
    struct fw_fetch *f = fetch_of(fw, h);
    if (!f)
        return;
    f->used = 0;
    fw__complete(fw, f->slot, f->seq, h->status ? h->status : VS_EIO, 0, 0,
                 0);
}

/* ---- Control ---- */

static void rx_import_req(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    fw__charge(fw, HW_FW_CTRL, 1);
    struct vmmc__hdr rep = {.type = VMMC__PKT_IMPORT_REP,
                            .src = (uint16_t)fw->nic->node,
                            .export_id = h->export_id,
                            .cookie = h->cookie};
    const struct fw_export *e =
        h->export_id < VMMC_MAX_EXPORTS ? &fw->exports[h->export_id] : NULL;
    if (!e || !e->valid) {
        rep.status = VS_ENOENT;
    } else {
        rep.gen = e->gen;
        rep.msg_len = e->len;
        rep.off = e->perms;
    }
    fw__link_ctrl(fw, h->src, &rep);
}

static void rx_nack(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    fw__charge(fw, HW_FW_CTRL, 1);
    fw->st.nacks_in++;
    for (int i = 0; i < VMMC_MAX_IMPORTS; i++) {
        struct fw_import *im = &fw->imports[i];
        if (im->state == IMP_VALID && im->node == h->src &&
            im->export_id == h->export_id && im->gen == h->gen) {
            im->state = IMP_REVOKED;
            im->revoked_status = h->status;
        }
    }
}

void fw__on_rx(void *arg, void *pkt, size_t len, int src)
{
    struct vmmc_fw *fw = arg;
    fw__charge(fw, HW_FW_RECV_PKT, 1);
    struct vmmc__hdr h;
    if (len < HDR) {
        fw->st.malformed++;
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    memcpy(&h, pkt, HDR);
    if (h.len != len - HDR || h.src != src || src >= fw->nic->nnodes ||
        h.type < VMMC__PKT_DATA || h.type > VMMC__PKT_LAST_TYPE) {
        fw->st.malformed++;
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    if (!fw__link_rx(fw, &h)) {
        fw->ops->rx_release(fw->nic, pkt);
        fw__link_rx_ack(fw, &h);
        return;
    }
    if (h.type == VMMC__PKT_DATA || h.type == VMMC__PKT_FETCH_DATA) {
        if (h.type == VMMC__PKT_DATA)
            rx_data(fw, pkt, &h);
        else
            rx_fetch_data(fw, pkt, &h);
        fw__link_rx_ack(fw, &h);
        return;
    }
    fw->ops->rx_release(fw->nic, pkt);
    fw__link_rx_ack(fw, &h);
    switch (h.type) {
    case VMMC__PKT_IMPORT_REQ:
        rx_import_req(fw, &h);
        break;
    case VMMC__PKT_IMPORT_REP:
        fw__import_reply(fw, &h);
        break;
    case VMMC__PKT_NACK:
        rx_nack(fw, &h);
        break;
    case VMMC__PKT_FETCH_REQ:
        rx_fetch_req(fw, &h);
        break;
    case VMMC__PKT_FETCH_REP:
        rx_fetch_rep(fw, &h);
        break;
    default:
        break;
    }
}
