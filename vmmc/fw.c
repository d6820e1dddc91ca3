/*
 * The VMMC NIC firmware (vmmc/fw.h).  It runs only on the NIC side of the
 * hardware port: every handler is an upcall on the NIC processor and charges
 * its work by class.  What it does:
 *   - takes commands from the host's queue in its SRAM window (doorbell);
 *   - keeps the export table, the import table and the sender-side page
 *     translations (pinned pages) in SRAM;
 *   - sends: checks the import's bounds and permission and the translation
 *     of every source page, then splits the message into packets and
 *     pipelines host-DMA of one chunk with the network send of the previous
 *     one through a few SRAM staging buffers;
 *   - receives: checks every data packet against the export (generation,
 *     permission, bounds) before any byte moves, DMAs it into host memory,
 *     and raises notifications; a refused packet is dropped, counted, and
 *     answered with a NACK that revokes the sender's import;
 *   - import handshake with the exporting node's firmware.
 */
#include "vmmc/fw.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "vmmc/vmmc_int.h"

enum imp_state { IMP_FREE, IMP_PENDING, IMP_VALID, IMP_REVOKED };

struct fw_export {
    int valid;
    uint32_t gen;
    uint64_t base, len;
    uint32_t perms;
};

struct fw_import {
    enum imp_state state;
    int node;
    uint32_t export_id, gen, perms;
    uint64_t len;
    int revoked_status;
    uint32_t slot, seq; /* the IMPORT command while pending */
};

struct fw_job {
    struct fw_job *next;
    uint32_t slot, seq;
    int dst;
    uint32_t export_id, gen;
    uint64_t off, addr, len;
    uint16_t flags;
    uint64_t issued, read;
    int bufs_out, completed;
};

struct fw_sbuf {
    struct vmmc_fw *fw;
    unsigned char *buf;
    int busy;
    struct fw_job *job;
    int pending;
    uint64_t msg_pos; /* offset of this chunk in the message */
    uint32_t paylen;
    int last;
};

struct fw_rx {
    struct vmmc_fw *fw;
    void *pkt;
    int pending;
    int notify;
    struct vmmc_notification rec;
};

struct fw_pending_note {
    struct fw_pending_note *next;
    struct vmmc_notification rec;
};

struct vmmc_fw {
    hw_nic *nic;
    const struct hw_nic_ops *ops;
    struct vmmc__window *win;
    int opened;
    uint64_t compl_ring, notify_ring; /* host addresses */
    uint32_t cmd_head;
    struct fw_export exports[VMMC_MAX_EXPORTS];
    struct fw_import imports[VMMC_MAX_IMPORTS];
    uint64_t *xlate; /* open addressing: page number + 1, 0 = empty */
    uint32_t xlate_used;
    struct fw_job *sendq, *sendq_tail;
    struct fw_sbuf *sbufs;
    unsigned nsbufs;
    size_t payload_max;
    struct vmmc__compl *compl_scratch;
    struct vmmc__notify_rec *note_scratch;
    uint32_t note_head;
    struct fw_pending_note *notes, *notes_tail;
    struct vmmc_fw_stats st;
};

#define HDR sizeof(struct vmmc__hdr)

static void pump(struct vmmc_fw *fw);
static void deliver_notes(struct vmmc_fw *fw);

static void charge(struct vmmc_fw *fw, enum hw_fw_cost c, uint32_t n)
{
    fw->ops->charge(fw->nic, c, n);
}

static void noop_done(void *arg, int status)
{
    (void)arg;
    (void)status;
}

/* ---- Completions to the host ---- */

static void complete(struct vmmc_fw *fw, uint32_t slot, uint32_t seq,
                     int status, uint64_t aux, uint64_t aux2, uint32_t aux3)
{
    if (!fw->opened)
        return;
    charge(fw, HW_FW_COMPLETE, 1);
    struct vmmc__compl *c = &fw->compl_scratch[slot];
    c->seq = seq;
    c->status = status;
    c->aux = aux;
    c->aux2 = aux2;
    c->aux3 = aux3;
    int rc = fw->ops->host_dma(
        fw->nic, HW_DMA_TO_HOST,
        (void *)(uintptr_t)(fw->compl_ring + slot * sizeof *c), c, sizeof *c,
        noop_done, NULL);
    assert(rc == VS_OK);
    (void)rc;
}

/* ---- Sender-side translation (pinned pages) ---- */

static uint32_t xlate_hash(uint64_t page)
{
    return (uint32_t)((page * 0x9E3779B97F4A7C15ull) >> 40) %
           VMMC__XLATE_SLOTS;
}

static int xlate_find(const struct vmmc_fw *fw, uint64_t page)
{
    for (uint32_t i = xlate_hash(page), n = 0; n < VMMC__XLATE_SLOTS;
         n++, i = (i + 1) % VMMC__XLATE_SLOTS) {
        if (fw->xlate[i] == page + 1)
            return 1;
        if (fw->xlate[i] == 0)
            return 0;
    }
    return 0;
}

static int xlate_insert(struct vmmc_fw *fw, uint64_t page)
{
    if (xlate_find(fw, page))
        return VS_OK;
    if (fw->xlate_used + 1 >= VMMC__XLATE_SLOTS)
        return VS_ENOSPC;
    uint32_t i = xlate_hash(page);
    while (fw->xlate[i])
        i = (i + 1) % VMMC__XLATE_SLOTS;
    fw->xlate[i] = page + 1;
    fw->xlate_used++;
    return VS_OK;
}

static uint64_t npages(uint64_t addr, uint64_t len, uint64_t ps)
{
    if (len == 0)
        return 0;
    return (addr + len - 1) / ps - addr / ps + 1;
}

/* ---- Control packets ---- */

struct fw_ctrl {
    struct vmmc_fw *fw;
    unsigned char pkt[HDR];
};

static void ctrl_sent(void *arg, int status)
{
    struct fw_ctrl *c = arg;
    (void)status;
    c->fw->ops->sram_free(c->fw->nic, c, sizeof *c);
}

/* Sends a header-only control packet from its own SRAM buffer. */
static int send_ctrl(struct vmmc_fw *fw, int dst, const struct vmmc__hdr *h)
{
    struct fw_ctrl *c = fw->ops->sram_alloc(fw->nic, sizeof *c);
    if (!c) {
        fw->st.sram_failures++;
        return VS_ENOSRAM;
    }
    c->fw = fw;
    memcpy(c->pkt, h, HDR);
    int rc = fw->ops->net_send(fw->nic, dst, c->pkt, HDR, ctrl_sent, c);
    if (rc)
        fw->ops->sram_free(fw->nic, c, sizeof *c);
    return rc;
}

/* ---- Commands ---- */

static int cmd_export(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    if (c->handle >= VMMC_MAX_EXPORTS || !c->len || !c->addr ||
        (c->aux & ~(uint32_t)(VMMC_PERM_READ | VMMC_PERM_WRITE)) ||
        !c->aux)
        return VS_EINVAL;
    struct fw_export *e = &fw->exports[c->handle];
    if (e->valid)
        return VS_EEXIST;
    charge(fw, HW_FW_XLATE_PAGE,
           (uint32_t)npages(c->addr, c->len, fw->nic->page_size));
    e->valid = 1;
    e->gen++;
    e->base = c->addr;
    e->len = c->len;
    e->perms = c->aux;
    return VS_OK;
}

static int cmd_import(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    if (c->off >= (uint64_t)fw->nic->nnodes || c->handle >= VMMC_MAX_EXPORTS)
        return VS_EINVAL;
    int h;
    for (h = 0; h < VMMC_MAX_IMPORTS; h++)
        if (fw->imports[h].state == IMP_FREE)
            break;
    if (h == VMMC_MAX_IMPORTS)
        return VS_ENOSPC;
    struct fw_import *im = &fw->imports[h];
    memset(im, 0, sizeof *im);
    im->state = IMP_PENDING;
    im->node = (int)c->off;
    im->export_id = c->handle;
    im->slot = c->seq ? (c->seq - 1) % VMMC__CMDQ_LEN : 0;
    im->seq = c->seq;
    struct vmmc__hdr q = {.type = VMMC__PKT_IMPORT_REQ,
                          .src = (uint16_t)fw->nic->node,
                          .export_id = c->handle,
                          .cookie = (uint32_t)h};
    int rc = send_ctrl(fw, im->node, &q);
    if (rc) {
        im->state = IMP_FREE;
        return rc;
    }
    return 1; /* completes when the reply arrives */
}

static int check_send(struct vmmc_fw *fw, const struct vmmc__cmd *c,
                      struct fw_import **out)
{
    if (c->handle >= VMMC_MAX_IMPORTS)
        return VS_EBADF;
    struct fw_import *im = &fw->imports[c->handle];
    if (im->state == IMP_REVOKED)
        return im->revoked_status;
    if (im->state != IMP_VALID)
        return VS_EBADF;
    if (!(im->perms & VMMC_PERM_WRITE))
        return VS_EPERM;
    if (c->off > im->len || c->len > im->len - c->off)
        return VS_ERANGE;
    if (c->len && !c->addr)
        return VS_EFAULT;
    uint64_t ps = fw->nic->page_size;
    uint64_t first = c->addr / ps, n = npages(c->addr, c->len, ps);
    charge(fw, HW_FW_XLATE_PAGE, (uint32_t)n);
    for (uint64_t p = 0; p < n; p++)
        if (!xlate_find(fw, first + p))
            return VS_EFAULT;
    *out = im;
    return VS_OK;
}

static int cmd_send(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    struct fw_import *im = NULL;
    int rc = check_send(fw, c, &im);
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
    if (fw->sendq_tail)
        fw->sendq_tail->next = j;
    else
        fw->sendq = j;
    fw->sendq_tail = j;
    pump(fw);
    return 1; /* completes when its data has been read */
}

static void run_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    uint32_t slot = (c->seq - 1) % VMMC__CMDQ_LEN;
    int rc = VS_OK;
    uint64_t ps = fw->nic->page_size;
    fw->st.cmds++;
    switch (c->op) {
    case VMMC__OP_OPEN:
        if (!c->addr) { /* close: answer on the old ring, then detach */
            complete(fw, slot, c->seq, VS_OK, 0, 0, 0);
            fw->opened = 0;
            return;
        }
        fw->compl_ring = c->addr;
        fw->notify_ring = c->off;
        fw->note_head = 0;
        fw->opened = 1;
        break;
    case VMMC__OP_MAP: {
        uint64_t first = c->addr / ps, n = npages(c->addr, c->len, ps);
        charge(fw, HW_FW_XLATE_PAGE, (uint32_t)n);
        for (uint64_t p = 0; p < n && !rc; p++)
            rc = xlate_insert(fw, first + p);
        break;
    }
    case VMMC__OP_EXPORT:
        rc = cmd_export(fw, c);
        break;
    case VMMC__OP_UNEXPORT:
        if (c->handle >= VMMC_MAX_EXPORTS || !fw->exports[c->handle].valid)
            rc = VS_ENOENT;
        else
            fw->exports[c->handle].valid = 0;
        break;
    case VMMC__OP_IMPORT:
        rc = cmd_import(fw, c);
        break;
    case VMMC__OP_UNIMPORT:
        if (c->handle >= VMMC_MAX_IMPORTS ||
            (fw->imports[c->handle].state != IMP_VALID &&
             fw->imports[c->handle].state != IMP_REVOKED))
            rc = VS_EBADF;
        else
            fw->imports[c->handle].state = IMP_FREE;
        break;
    case VMMC__OP_SEND:
        rc = cmd_send(fw, c);
        break;
    default:
        rc = VS_EINVAL;
    }
    if (rc != 1)
        complete(fw, slot, c->seq, rc, 0, 0, 0);
}

static void on_doorbell(void *arg)
{
    struct vmmc_fw *fw = arg;
    for (;;) {
        struct vmmc__cmd *slot = &fw->win->cmdq[fw->cmd_head % VMMC__CMDQ_LEN];
        if (slot->seq != fw->cmd_head + 1)
            break;
        struct vmmc__cmd c = *slot;
        fw->cmd_head++;
        charge(fw, HW_FW_CMD, 1);
        run_cmd(fw, &c);
    }
    deliver_notes(fw);
}

/* ---- The send pipeline ---- */

static void sbuf_sent(void *arg, int status)
{
    struct fw_sbuf *b = arg;
    struct vmmc_fw *fw = b->fw;
    struct fw_job *j = b->job;
    (void)status;
    b->busy = 0;
    b->job = NULL;
    j->bufs_out--;
    if (j->completed && j->bufs_out == 0 && j->issued == j->len &&
        j != fw->sendq)
        free(j);
    pump(fw);
}

static void sbuf_launch(struct fw_sbuf *b)
{
    struct vmmc_fw *fw = b->fw;
    struct fw_job *j = b->job;
    j->read += b->paylen;
    if (j->read == j->len && !j->completed) {
        j->completed = 1;
        complete(fw, j->slot, j->seq, VS_OK, 0, 0, 0);
    }
    charge(fw, HW_FW_SEND_PKT, 1);
    struct vmmc__hdr *h = (struct vmmc__hdr *)b->buf;
    memset(h, 0, HDR);
    h->type = VMMC__PKT_DATA;
    h->flags = (uint8_t)((b->last ? VMMC__PF_LAST : 0) |
                         (b->last && (j->flags & VMMC_SEND_NOTIFY)
                              ? VMMC__PF_NOTIFY
                              : 0));
    h->src = (uint16_t)fw->nic->node;
    h->export_id = j->export_id;
    h->gen = j->gen;
    h->len = b->paylen;
    h->off = j->off + b->msg_pos;
    h->msg_off = j->off;
    h->msg_len = j->len;
    fw->st.packets_out++;
    fw->st.bytes_out += b->paylen;
    int rc = fw->ops->net_send(fw->nic, j->dst, b->buf, HDR + b->paylen,
                               sbuf_sent, b);
    assert(rc == VS_OK);
    (void)rc;
}

static void sbuf_dma_done(void *arg, int status)
{
    struct fw_sbuf *b = arg;
    (void)status;
    charge(b->fw, HW_FW_DMA_DONE, 1);
    if (--b->pending == 0)
        sbuf_launch(b);
}

/* Starts host-DMA of the next chunks while staging buffers are free. */
static void pump(struct vmmc_fw *fw)
{
    uint64_t ps = fw->nic->page_size;
    while (fw->sendq) {
        struct fw_job *j = fw->sendq;
        struct fw_sbuf *b = NULL;
        for (unsigned i = 0; i < fw->nsbufs; i++)
            if (!fw->sbufs[i].busy) {
                b = &fw->sbufs[i];
                break;
            }
        if (!b)
            return;
        uint64_t src = j->addr + j->issued, rem = j->len - j->issued;
        uint64_t chunk = rem < fw->payload_max ? rem : fw->payload_max;
        /* End chunks on a page boundary so each needs few DMAs. */
        if (chunk < rem && fw->payload_max >= ps) {
            uint64_t end = (src + chunk) / ps * ps;
            if (end > src)
                chunk = end - src;
        }
        b->busy = 1;
        b->job = j;
        b->msg_pos = j->issued;
        b->paylen = (uint32_t)chunk;
        b->last = j->issued + chunk == j->len;
        b->pending = 0;
        j->bufs_out++;
        j->issued += chunk;
        if (j->issued == j->len) {
            fw->sendq = j->next;
            if (!fw->sendq)
                fw->sendq_tail = NULL;
        }
        for (uint64_t k = 0; k < chunk;) {
            uint64_t piece = ps - (src + k) % ps;
            if (piece > chunk - k)
                piece = chunk - k;
            b->pending++;
            int rc = fw->ops->host_dma(fw->nic, HW_DMA_TO_NIC,
                                       (void *)(uintptr_t)(src + k),
                                       b->buf + HDR + k, piece, sbuf_dma_done,
                                       b);
            assert(rc == VS_OK);
            (void)rc;
            k += piece;
        }
        if (chunk == 0)
            sbuf_launch(b);
    }
}

/* ---- Notifications ---- */

static void note_dma_done(void *arg, int status)
{
    struct vmmc_fw *fw = arg;
    (void)status;
    fw->ops->raise_irq(fw->nic);
    fw->st.interrupts++;
}

static void deliver_notes(struct vmmc_fw *fw)
{
    while (fw->notes && fw->opened &&
           fw->note_head - fw->win->notify_consumed < VMMC__NOTIFY_LEN) {
        struct fw_pending_note *pn = fw->notes;
        fw->notes = pn->next;
        if (!fw->notes)
            fw->notes_tail = NULL;
        charge(fw, HW_FW_NOTIFY, 1);
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
            sizeof *r, irq ? note_dma_done : noop_done, fw);
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
    deliver_notes(fw);
}

/* ---- Receiving ---- */

static void rx_dma_done(void *arg, int status)
{
    struct fw_rx *r = arg;
    struct vmmc_fw *fw = r->fw;
    (void)status;
    charge(fw, HW_FW_DMA_DONE, 1);
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
    struct vmmc__hdr n = {.type = VMMC__PKT_NACK,
                          .src = (uint16_t)fw->nic->node,
                          .status = why,
                          .export_id = h->export_id,
                          .gen = h->gen};
    send_ctrl(fw, h->src, &n);
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
        charge(fw, HW_FW_XLATE_PAGE, 1);
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

static void rx_import_req(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    charge(fw, HW_FW_CTRL, 1);
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
    send_ctrl(fw, h->src, &rep);
}

static void rx_import_rep(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    charge(fw, HW_FW_CTRL, 1);
    if (h->cookie >= VMMC_MAX_IMPORTS)
        return;
    struct fw_import *im = &fw->imports[h->cookie];
    if (im->state != IMP_PENDING || im->node != h->src ||
        im->export_id != h->export_id)
        return;
    if (h->status) {
        im->state = IMP_FREE;
        complete(fw, im->slot, im->seq, h->status, 0, 0, 0);
        return;
    }
    im->state = IMP_VALID;
    im->gen = h->gen;
    im->len = h->msg_len;
    im->perms = (uint32_t)h->off;
    complete(fw, im->slot, im->seq, VS_OK, h->cookie, im->len, im->perms);
}

static void rx_nack(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    charge(fw, HW_FW_CTRL, 1);
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

static void on_rx(void *arg, void *pkt, size_t len, int src)
{
    struct vmmc_fw *fw = arg;
    charge(fw, HW_FW_RECV_PKT, 1);
    struct vmmc__hdr h;
    if (len < HDR) {
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    memcpy(&h, pkt, HDR);
    if (h.len != len - HDR || h.src != src) {
        fw->ops->rx_release(fw->nic, pkt);
        return;
    }
    if (h.type == VMMC__PKT_DATA) {
        rx_data(fw, pkt, &h);
        return;
    }
    fw->ops->rx_release(fw->nic, pkt);
    switch (h.type) {
    case VMMC__PKT_IMPORT_REQ:
        rx_import_req(fw, &h);
        break;
    case VMMC__PKT_IMPORT_REP:
        rx_import_rep(fw, &h);
        break;
    case VMMC__PKT_NACK:
        rx_nack(fw, &h);
        break;
    default:
        break;
    }
}

/* ---- Boot ---- */

int vmmc_fw_boot(vmmc_fw **out, hw_nic *nic)
{
    struct vmmc_fw *fw = calloc(1, sizeof *fw);
    if (!fw)
        return VS_ENOMEM;
    fw->nic = nic;
    fw->ops = nic->ops;
    fw->nsbufs = nic->send_buffers ? nic->send_buffers : 2;
    if (nic->max_packet <= HDR) {
        free(fw);
        return VS_EINVAL;
    }
    fw->payload_max = nic->max_packet - HDR;
    fw->win = fw->ops->sram_alloc(nic, sizeof *fw->win);
    fw->xlate = fw->ops->sram_alloc(nic, VMMC__XLATE_SLOTS * sizeof(uint64_t));
    fw->compl_scratch = fw->ops->sram_alloc(
        nic, VMMC__CMDQ_LEN * sizeof(struct vmmc__compl));
    fw->note_scratch = fw->ops->sram_alloc(
        nic, VMMC__NOTIFY_LEN * sizeof(struct vmmc__notify_rec));
    fw->sbufs = calloc(fw->nsbufs, sizeof *fw->sbufs);
    int ok = fw->win && fw->xlate && fw->compl_scratch && fw->note_scratch &&
             fw->sbufs;
    for (unsigned i = 0; ok && i < fw->nsbufs; i++) {
        fw->sbufs[i].fw = fw;
        fw->sbufs[i].buf = fw->ops->sram_alloc(nic, nic->max_packet);
        ok = fw->sbufs[i].buf != NULL;
    }
    if (!ok) {
        vmmc_fw_halt(fw);
        return VS_ENOSRAM;
    }
    fw->ops->set_window(nic, fw->win);
    fw->ops->set_doorbell(nic, on_doorbell, fw);
    fw->ops->set_rx(nic, on_rx, fw);
    *out = fw;
    return VS_OK;
}

void vmmc_fw_halt(vmmc_fw *fw)
{
    if (!fw)
        return;
    hw_nic *nic = fw->nic;
    fw->ops->set_doorbell(nic, NULL, NULL);
    fw->ops->set_rx(nic, NULL, NULL);
    fw->ops->set_window(nic, NULL);
    for (unsigned i = 0; fw->sbufs && i < fw->nsbufs; i++)
        fw->ops->sram_free(nic, fw->sbufs[i].buf, nic->max_packet);
    free(fw->sbufs);
    fw->ops->sram_free(nic, fw->win, sizeof *fw->win);
    fw->ops->sram_free(nic, fw->xlate, VMMC__XLATE_SLOTS * sizeof(uint64_t));
    fw->ops->sram_free(nic, fw->compl_scratch,
                       VMMC__CMDQ_LEN * sizeof(struct vmmc__compl));
    fw->ops->sram_free(nic, fw->note_scratch,
                       VMMC__NOTIFY_LEN * sizeof(struct vmmc__notify_rec));
    while (fw->sendq) {
        struct fw_job *j = fw->sendq;
        fw->sendq = j->next;
        free(j);
    }
    while (fw->notes) {
        struct fw_pending_note *n = fw->notes;
        fw->notes = n->next;
        free(n);
    }
    free(fw);
}

const struct vmmc_fw_stats *vmmc_fw_stats(const vmmc_fw *fw)
{
    return &fw->st;
}
