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

static void rx_dma_done(void *arg, int status)
{
    struct fw_rx *r = arg;
    struct vmmc_fw *fw = r->fw;
    (void)status;
    fw__charge(fw, HW_FW_DMA_DONE, 1);
    if (--r->pending)
        return;
    fw->ops->rx_release(fw->nic, r->pkt);
    if (r->notify)
        queue_note(fw, &r->rec);
    free(r);
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
    struct fw_rx *r = calloc(1, sizeof *r);
    if (!r) {
        fw->st.sram_failures++;
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    r->fw = fw;
    r->pkt = pkt;
    if ((h->flags & VMMC__PF_LAST) && (h->flags & VMMC__PF_NOTIFY)) {
        r->notify = 1;
        r->rec = (struct vmmc_notification){(int)h->export_id, h->src,
                                            h->msg_off, h->msg_len};
    }
    uint64_t ps = fw->nic->page_size, dst = e->base + h->off;
    unsigned char *payload = (unsigned char *)pkt + HDR;
    r->pending = 1; /* held until every DMA is queued */
    for (uint64_t k = 0; k < h->len;) {
        uint64_t piece = ps - (dst + k) % ps;
        if (piece > h->len - k)
            piece = h->len - k;
        fw__charge(fw, HW_FW_XLATE_PAGE, 1);
        r->pending++;
        int rc = fw->ops->host_dma(fw->nic, HW_DMA_TO_HOST,
                                   (void *)(uintptr_t)(dst + k), payload + k,
                                   piece, rx_dma_done, r);
        assert(rc == VS_OK);
        (void)rc;
        k += piece;
    }
    if (--r->pending == 0) { /* an empty message */
        fw->ops->rx_release(fw->nic, pkt);
        if (r->notify)
            queue_note(fw, &r->rec);
        free(r);
    }
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
        h.type < VMMC__PKT_DATA || h.type > VMMC__PKT_ACK) {
        fw->st.malformed++;
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    if (!fw__link_rx(fw, &h)) {
        fw->ops->rx_release(fw->nic, pkt);
        fw__link_rx_ack(fw, &h);
        return;
    }
    if (h.type == VMMC__PKT_DATA) {
        rx_data(fw, pkt, &h);
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
    default:
        break;
    }
}
