/*
 * The VMMC NIC firmware (vmmc/fw.h): boot, the host's command queue,
 * exports, imports and the sender-side page translations.  It runs only on
 * the NIC side of the hardware port: every handler is an upcall on the NIC
 * processor and charges its work by class.  The send pipeline, the reliable
 * link and the receive path are in fw_send.c, fw_link.c and fw_recv.c.
 */
#include "vmmc/fw.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/inv.h"
#include "util/log.h"
#include "vmmc/fw_int.h"

void fw__charge(struct vmmc_fw *fw, enum hw_fw_cost c, uint32_t n)
{
    fw->ops->charge(fw->nic, c, n);
}

void fw__noop_done(void *arg, int status)
{
    (void)arg;
    (void)status;
}

/* ---- Completions to the host ---- */

void fw__complete(struct vmmc_fw *fw, uint32_t slot, uint32_t seq, int status,
                  uint64_t aux, uint64_t aux2, uint32_t aux3)
{
    if (!fw->opened)
        return;
    fw__charge(fw, HW_FW_COMPLETE, 1);
    struct vmmc__compl *c = &fw->compl_scratch[slot];
    c->seq = seq;
    c->status = status;
    c->aux = aux;
    c->aux2 = aux2;
    c->aux3 = aux3;
    int rc = fw->ops->host_dma(
        fw->nic, HW_DMA_TO_HOST,
        (void *)(uintptr_t)(fw->compl_ring + slot * sizeof *c), c, sizeof *c,
        fw__noop_done, NULL);
    assert(rc == VS_OK);
    (void)rc;
}

/* ---- Pages ---- */

uint64_t fw__npages(uint64_t addr, uint64_t len, uint64_t ps)
{
    if (len == 0)
        return 0;
    return (addr + len - 1) / ps - addr / ps + 1;
}

/* ---- Exports and imports ---- */

static int cmd_export(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    if (c->handle >= VMMC_MAX_EXPORTS || !c->len || !c->addr ||
        (c->aux & ~(uint32_t)(VMMC_PERM_READ | VMMC_PERM_WRITE)) ||
        !c->aux)
        return VS_EINVAL;
    struct fw_export *e = &fw->exports[c->handle];
    if (e->valid)
        return VS_EEXIST;
    fw__charge(fw, HW_FW_XLATE_PAGE,
               (uint32_t)fw__npages(c->addr, c->len, fw->nic->page_size));
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
    im->slot = (c->seq - 1) % VMMC__CMDQ_LEN;
    im->seq = c->seq;
    struct vmmc__hdr q = {.type = VMMC__PKT_IMPORT_REQ,
                          .src = (uint16_t)fw->nic->node,
                          .export_id = c->handle,
                          .cookie = (uint32_t)h};
    int rc = fw__link_ctrl(fw, im->node, &q);
    if (rc) {
        im->state = IMP_FREE;
        return rc;
    }
    return 1; /* completes when the reply arrives */
}

void fw__import_reply(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    fw__charge(fw, HW_FW_CTRL, 1);
    if (h->cookie >= VMMC_MAX_IMPORTS)
        return;
    struct fw_import *im = &fw->imports[h->cookie];
    if (im->state != IMP_PENDING || im->node != h->src ||
        im->export_id != h->export_id)
        return;
    if (h->status) {
        im->state = IMP_FREE;
        fw__complete(fw, im->slot, im->seq, h->status, 0, 0, 0);
        return;
    }
    im->state = IMP_VALID;
    im->gen = h->gen;
    im->len = h->msg_len;
    im->perms = (uint32_t)h->off;
    fw__complete(fw, im->slot, im->seq, VS_OK, h->cookie, im->len, im->perms);
}

void fw__peer_failed(struct vmmc_fw *fw, int node)
{
    for (int i = 0; i < VMMC_MAX_IMPORTS; i++) {
        struct fw_import *im = &fw->imports[i];
        if (im->state == IMP_PENDING && im->node == node) {
            im->state = IMP_FREE;
            fw__complete(fw, im->slot, im->seq, VS_EUNREACH, 0, 0, 0);
        }
    }
    fw__fail_jobs_to(fw, node, VS_EUNREACH);
    fw__fail_fetches_to(fw, node, VS_EUNREACH);
}

/* ---- The command queue ---- */

static void run_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c)
{
    uint32_t slot = (c->seq - 1) % VMMC__CMDQ_LEN;
    int rc = VS_OK;
    fw->st.cmds++;
    switch (c->op) {
    case VMMC__OP_OPEN:
        if (!c->addr) { /* close: answer on the old ring, then detach */
            fw__complete(fw, slot, c->seq, VS_OK, 0, 0, 0);
            fw->opened = 0;
            fw->utlb_table = 0;
            fw__utlb_flush(fw);
            /* The next process to open starts its queue afresh at slot 0,
             * sequence 1: forget this one's commands and position. */
            memset(fw->win->cmdq, 0, sizeof fw->win->cmdq);
            fw->cmd_head = 0;
            return;
        }
        fw->compl_ring = c->addr;
        fw->notify_ring = c->off;
        fw->utlb_table = c->len;
        fw__utlb_flush(fw);
        fw->note_head = 0;
        fw->opened = 1;
        fw->ever_opened = 1;
        break;
    case VMMC__OP_EXPORT:
        rc = cmd_export(fw, c);
        break;
    case VMMC__OP_UNEXPORT:
        if (c->handle >= VMMC_MAX_EXPORTS || !fw->exports[c->handle].valid)
            rc = VS_ENOENT;
        else {
            struct fw_export *e = &fw->exports[c->handle];
            e->valid = 0;
            if (e->redir.active) { /* a pending redirection ends */
                e->redir.active = 0;
                fw__complete(fw, e->redir.slot, e->redir.seq, VS_ENOENT, 0,
                             0, 0);
            }
        }
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
        rc = fw__send_cmd(fw, c);
        break;
    case VMMC__OP_FETCH:
        rc = fw__fetch_cmd(fw, c);
        break;
    case VMMC__OP_REDIRECT:
        rc = fw__redirect_cmd(fw, c);
        break;
    default:
        rc = VS_EINVAL;
    }
    if (rc != 1)
        fw__complete(fw, slot, c->seq, rc, 0, 0, 0);
}

static void on_doorbell(void *arg)
{
    struct vmmc_fw *fw = arg;
    for (;;) {
        struct vmmc__cmd *slot = &fw->win->cmdq[fw->cmd_head % VMMC__CMDQ_LEN];
        /* A later lap's command where this one should be: the host wrote
         * over a command the NIC had not read. */
        VS_INV(slot->seq <= fw->cmd_head + 1,
               "resources: node %d: command queue overrun (command %u in "
               "the slot of %u)",
               fw->nic->node, (unsigned)slot->seq,
               (unsigned)(fw->cmd_head + 1));
        if (slot->seq != fw->cmd_head + 1)
            break;
        struct vmmc__cmd c = *slot;
        fw->cmd_head++;
        fw__charge(fw, HW_FW_CMD, 1);
        run_cmd(fw, &c);
    }
    fw__deliver_notes(fw);
}

/* ---- Boot ---- */

int vmmc_fw_boot(vmmc_fw **out, hw_nic *nic)
{
    if (nic->max_packet <= HDR)
        return VS_EINVAL;
    struct vmmc_fw *fw = calloc(1, sizeof *fw);
    if (!fw)
        return VS_ENOMEM;
    fw->nic = nic;
    fw->ops = nic->ops;
    fw->npool = nic->send_buffers ? nic->send_buffers : 2;
    fw->payload_max = nic->max_packet - HDR;
    fw__recv_init(fw);
    fw->win = fw->ops->sram_alloc(nic, sizeof *fw->win);
    fw->compl_scratch = fw->ops->sram_alloc(
        nic, VMMC__CMDQ_LEN * sizeof(struct vmmc__compl));
    fw->note_scratch = fw->ops->sram_alloc(
        nic, VMMC__NOTIFY_LEN * sizeof(struct vmmc__notify_rec));
    fw->pool = calloc(fw->npool, sizeof *fw->pool);
    fw->pool_free = calloc((fw->npool + 63) / 64, sizeof *fw->pool_free);
    fw->blocked = calloc((size_t)nic->nnodes, 1);
    int ok = fw->blocked && fw->win && fw->compl_scratch &&
             fw->note_scratch && fw->pool && fw->pool_free &&
             fw__link_init(fw) == VS_OK &&
             fw__utlb_init(fw) == VS_OK;
    /* The packet buffers in one block: a backend may then leave the
     * memory of buffers never used untouched (an idle node of a large
     * simulated cluster). */
    unsigned char *bufs =
        ok ? fw->ops->sram_alloc(nic, (size_t)fw->npool * nic->max_packet)
           : NULL;
    ok = ok && bufs;
    for (unsigned i = 0; ok && i < fw->npool; i++) {
        fw->pool[i].fw = fw;
        fw->pool[i].pooled = 1;
        fw->pool[i].buf = bufs + (size_t)i * nic->max_packet;
        fw__pool_mark(fw, i, 0);
    }
    if (!ok) {
        vmmc_fw_halt(fw);
        return VS_ENOSRAM;
    }
    fw->ops->set_window(nic, fw->win);
    fw->ops->set_doorbell(nic, on_doorbell, fw);
    fw->ops->set_rx(nic, fw__on_rx, fw);
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
    fw__link_fini(fw);
    while (fw->sendq) {
        struct fw_job *j = fw->sendq;
        fw->sendq = j->next;
        free(j);
    }
    if (fw->pool && fw->pool[0].buf)
        fw->ops->sram_free(nic, fw->pool[0].buf,
                           (size_t)fw->npool * nic->max_packet);
    free(fw->pool);
    free(fw->pool_free);
    free(fw->blocked);
    free(fw->dst_jobs);
    fw->ops->sram_free(nic, fw->win, sizeof *fw->win);
    fw__utlb_fini(fw);
    fw->ops->sram_free(nic, fw->compl_scratch,
                       VMMC__CMDQ_LEN * sizeof(struct vmmc__compl));
    fw->ops->sram_free(nic, fw->note_scratch,
                       VMMC__NOTIFY_LEN * sizeof(struct vmmc__notify_rec));
    while (fw->notes) {
        struct fw_pending_note *n = fw->notes;
        fw->notes = n->next;
        free(n);
    }
    vs_pool_drain(&fw->ctrl_pool);
    vs_pool_drain(&fw->rx_pool);
    free(fw);
}

void vmmc_fw_audit(const vmmc_fw *fw)
{
    int node = fw->nic->node;
    (void)node; /* only the checks use it, and they may be compiled out */
    if (!fw->ever_opened || fw->opened)
        return;
    /* The process closed its context: nothing of it may remain. */
    for (int i = 0; i < VMMC_MAX_EXPORTS; i++)
        VS_INV(!fw->exports[i].valid && !fw->exports[i].redir.active,
               "resources: node %d: export %d still valid after close", node,
               i);
    for (int i = 0; i < VMMC_MAX_IMPORTS; i++)
        VS_INV(fw->imports[i].state == IMP_FREE,
               "resources: node %d: import %d still held after close", node,
               i);
    for (int i = 0; i < VMMC__CMDQ_LEN; i++)
        VS_INV(!fw->fetches[i].used,
               "resources: node %d: fetch %d still pending after close", node,
               i);
    VS_INV(!fw->sendq, "resources: node %d: a send still queued after close",
           node);
    for (unsigned i = 0; i < fw->npool; i++)
        VS_INV(!fw__pool_busy(fw, i),
               "resources: node %d: packet buffer %u still busy after close",
               node, i);
    for (int i = 0; i < fw->nic->nnodes; i++)
        VS_INV(!fw->conns[i].inflight && !fw->conns[i].unacked,
               "resources: node %d: %u packets to node %d unresolved after "
               "close",
               node, fw->conns[i].inflight, i);
}

const struct vmmc_fw_stats *vmmc_fw_stats(const vmmc_fw *fw)
{
    return &fw->st;
}
