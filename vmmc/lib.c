/*
 * The VMMC user library (vmmc/vmmc.h): runs in the host process and drives
 * the firmware through the host side of the hardware port.  Commands go into
 * the NIC's SRAM queue by programmed I/O; the NIC answers by writing
 * completion and notification records into this process's memory by DMA,
 * which the library waits on.  The library checks arguments itself so that
 * errors come back at once, but the NIC enforces protection on its own.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/dheap.h"
#include "util/log.h"
#include "util/zpages.h"
#include "vmmc/vmmc_int.h"

struct lib_export {
    int valid;
    int redirected; /* a redirection was posted (may be over by now) */
    void *buf;
    size_t len;
    unsigned perms;
    vmmc_notify_fn fn;
    void *arg;
    int enabled;
};

struct lib_import {
    int valid;
    int node, export_id;
    uint64_t len;
    uint32_t perms;
};

struct range {
    uint64_t start, end; /* page-aligned, [start, end) */
};

struct vmmc_ctx {
    hw_host *h;
    const struct hw_host_ops *ops;
    struct vmmc__window *win;
    uint32_t cmd_tail;
    uint32_t pending_seq[VMMC__CMDQ_LEN];
    vmmc_req *pending_req[VMMC__CMDQ_LEN];
    struct vmmc__compl *compl;
    struct vmmc__notify_rec *notes;
    uint32_t note_consumed, note_reported;
    struct vmmc_notification *queue; /* notifications for poll/wait */
    size_t q_head, q_len, q_cap;
    struct lib_export exports[VMMC_MAX_EXPORTS];
    struct lib_import imports[VMMC_MAX_IMPORTS];
    struct range *mapped; /* what is pinned, as a quick check */
    size_t nmapped, cap_mapped;
    struct vmmc__utlb_entry *utlb; /* the UTLB table the NIC reads */
    uint32_t utlb_used;
    int sticky;
    int in_handler;
    struct vmmc_stats st;
    const char *slot_op[VMMC__CMDQ_LEN]; /* the call behind each command */
    char errmsg[200];
};

/* Records why a call failed (naming the call) and returns rc. */
static int fail(vmmc_ctx *ctx, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(vmmc_ctx *ctx, int rc, const char *fmt, ...)
{
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vs_errmsg_vset(ctx->errmsg, sizeof ctx->errmsg, rc, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *vmmc_errmsg(const vmmc_ctx *ctx) { return ctx ? ctx->errmsg : ""; }

static void drain_notes(vmmc_ctx *ctx);

static void lib_enter(vmmc_ctx *ctx)
{
    ctx->ops->compute(ctx->h, ctx->ops->cost(ctx->h, HW_HOST_CALL));
    drain_notes(ctx);
}

/* ---- Commands and completions ---- */

struct slot_wait {
    const vmmc_ctx *ctx;
    uint32_t slot, seq;
};

static int slot_done(void *arg)
{
    const struct slot_wait *w = arg;
    const volatile struct vmmc__compl *c = &w->ctx->compl[w->slot];
    return c->seq == w->seq;
}

/* Waits for the command in slot and records its outcome. */
static int reap(vmmc_ctx *ctx, uint32_t slot)
{
    uint32_t seq = ctx->pending_seq[slot];
    if (!seq)
        return VS_OK;
    struct slot_wait w = {ctx, slot, seq};
    if (ctx->ops->wait_on) /* only the completion record matters */
        ctx->ops->wait_on(ctx->h, slot_done, &w, -1, &ctx->compl[slot],
                          sizeof ctx->compl[slot]);
    else
        ctx->ops->wait(ctx->h, slot_done, &w, -1);
    int status = ctx->compl[slot].status;
    if (ctx->pending_seq[slot] != seq)
        return status; /* a handler reaped it while we waited */
    ctx->pending_seq[slot] = 0;
    if (status)
        fail(ctx, status, "%s: the NIC answered",
             ctx->slot_op[slot] ? ctx->slot_op[slot] : "vmmc");
    vmmc_req *req = ctx->pending_req[slot];
    ctx->pending_req[slot] = NULL;
    if (req) {
        req->done = 1;
        req->status = status;
    } else if (status && !ctx->sticky) {
        ctx->sticky = status;
    }
    return status;
}

static const char *op_name(uint16_t op)
{
    switch (op) {
    case VMMC__OP_SEND:
        return "vmmc_send";
    case VMMC__OP_FETCH:
        return "vmmc_fetch";
    case VMMC__OP_REDIRECT:
        return "vmmc_redirect";
    case VMMC__OP_EXPORT:
        return "vmmc_export";
    case VMMC__OP_UNEXPORT:
        return "vmmc_unexport";
    case VMMC__OP_IMPORT:
        return "vmmc_import";
    case VMMC__OP_UNIMPORT:
        return "vmmc_unimport";
    default:
        return "vmmc";
    }
}

static int post(vmmc_ctx *ctx, struct vmmc__cmd *cmd, vmmc_req *req)
{
    uint32_t slot = ctx->cmd_tail % VMMC__CMDQ_LEN;
    /* Free the next slot.  While reap() waits, a notification handler may
     * post commands itself: look again until the slot is ours. */
    while (ctx->pending_seq[slot]) {
        reap(ctx, slot);
        slot = ctx->cmd_tail % VMMC__CMDQ_LEN;
    }
    ctx->slot_op[slot] = op_name(cmd->op);
    cmd->seq = ctx->cmd_tail + 1;
    ctx->cmd_tail++;
    ctx->pending_seq[slot] = cmd->seq;
    ctx->pending_req[slot] = req;
    if (req) {
        req->slot = slot;
        req->seq = cmd->seq;
        req->done = 0;
        req->status = 0;
    }
    ctx->ops->pio_write(ctx->h, &ctx->win->cmdq[slot], cmd, sizeof *cmd);
    return VS_OK;
}

/* Posts a command and waits for it. */
static int call(vmmc_ctx *ctx, struct vmmc__cmd *cmd, struct vmmc__compl *out)
{
    vmmc_req req;
    post(ctx, cmd, &req);
    int rc = vmmc_wait(ctx, &req);
    if (out)
        *out = ctx->compl[req.slot];
    return rc;
}

int vmmc__post_raw(vmmc_ctx *ctx, const struct vmmc__cmd *cmd, vmmc_req *req)
{
    struct vmmc__cmd c = *cmd;
    return post(ctx, &c, req);
}

int vmmc_wait(vmmc_ctx *ctx, vmmc_req *req)
{
    if (!ctx || !req || req->slot >= VMMC__CMDQ_LEN)
        return VS_EINVAL;
    if (!req->done && ctx->pending_req[req->slot] == req &&
        ctx->pending_seq[req->slot] == req->seq)
        reap(ctx, req->slot);
    if (!req->done)
        return VS_EINVAL; /* not a request of this context */
    return req->status;
}

int vmmc_test(vmmc_ctx *ctx, vmmc_req *req, int *status)
{
    if (!ctx || !req || req->slot >= VMMC__CMDQ_LEN)
        return VS_EINVAL;
    lib_enter(ctx);
    if (!req->done && ctx->pending_req[req->slot] == req &&
        ctx->compl[req->slot].seq == req->seq)
        reap(ctx, req->slot);
    if (req->done && status)
        *status = req->status;
    return req->done;
}

int vmmc_flush(vmmc_ctx *ctx)
{
    if (!ctx)
        return VS_EINVAL;
    for (uint32_t i = 0; i < VMMC__CMDQ_LEN; i++)
        reap(ctx, (ctx->cmd_tail + i) % VMMC__CMDQ_LEN);
    int rc = ctx->sticky;
    ctx->sticky = 0;
    return rc;
}

/* ---- Notifications ---- */

static int queue_push(vmmc_ctx *ctx, const struct vmmc_notification *n)
{
    if (ctx->q_len == ctx->q_cap) {
        size_t cap = ctx->q_cap ? ctx->q_cap * 2 : 16;
        struct vmmc_notification *q = malloc(cap * sizeof *q);
        if (!q)
            return VS_ENOMEM;
        for (size_t i = 0; i < ctx->q_len; i++)
            q[i] = ctx->queue[(ctx->q_head + i) % ctx->q_cap];
        free(ctx->queue);
        ctx->queue = q;
        ctx->q_cap = cap;
        ctx->q_head = 0;
    }
    ctx->queue[(ctx->q_head + ctx->q_len++) % ctx->q_cap] = *n;
    return VS_OK;
}

static void dispatch(vmmc_ctx *ctx, const struct vmmc_notification *n)
{
    struct lib_export *e = &ctx->exports[n->export_id];
    if (e->valid && e->fn && e->enabled && !ctx->in_handler) {
        ctx->in_handler = 1;
        ctx->st.handler_calls++;
        e->fn(ctx, n, e->arg);
        ctx->in_handler = 0;
    } else if (queue_push(ctx, n)) {
        LOG(VMMC, ERROR, "out of memory: notification lost");
    }
}

static int note_ready(void *arg)
{
    const vmmc_ctx *ctx = arg;
    const volatile struct vmmc__notify_rec *r =
        &ctx->notes[ctx->note_consumed % VMMC__NOTIFY_LEN];
    return r->seq == ctx->note_consumed + 1;
}

static int note_or_queued(void *arg)
{
    const vmmc_ctx *ctx = arg;
    return ctx->q_len || note_ready(arg);
}

static void drain_notes(vmmc_ctx *ctx)
{
    if (!ctx->notes || ctx->in_handler)
        return;
    /* At most one ring's worth per call, so a peer that never stops
     * notifying cannot keep this process from its own work. */
    for (unsigned budget = VMMC__NOTIFY_LEN; budget && note_ready(ctx);
         budget--) {
        const struct vmmc__notify_rec *r =
            &ctx->notes[ctx->note_consumed % VMMC__NOTIFY_LEN];
        struct vmmc_notification n = {r->export_id, r->src, r->offset,
                                      r->len};
        ctx->note_consumed++;
        ctx->st.notifications++;
        if (n.export_id >= 0 && n.export_id < VMMC_MAX_EXPORTS)
            dispatch(ctx, &n);
    }
    /* Tell the NIC the ring has room again, in batches. */
    if (ctx->note_consumed - ctx->note_reported >= VMMC__NOTIFY_LEN / 2 ||
        (ctx->note_consumed != ctx->note_reported && ctx->q_len == 0)) {
        ctx->note_reported = ctx->note_consumed;
        ctx->ops->pio_write(ctx->h, &ctx->win->notify_consumed,
                            &ctx->note_reported, sizeof ctx->note_reported);
    }
}

static void on_irq(void *arg)
{
    vmmc_ctx *ctx = arg;
    ctx->st.interrupts++;
    drain_notes(ctx);
}

static int check_export_id(const vmmc_ctx *ctx, int id)
{
    if (!ctx || id < 0 || id >= VMMC_MAX_EXPORTS)
        return VS_EINVAL;
    return ctx->exports[id].valid ? VS_OK : VS_ENOENT;
}

int vmmc_notify_set_handler(vmmc_ctx *ctx, int export_id, vmmc_notify_fn fn,
                            void *arg)
{
    int rc = check_export_id(ctx, export_id);
    if (rc)
        return rc;
    lib_enter(ctx);
    ctx->exports[export_id].fn = fn;
    ctx->exports[export_id].arg = arg;
    return VS_OK;
}

static int set_enabled(vmmc_ctx *ctx, int export_id, int on)
{
    int rc = check_export_id(ctx, export_id);
    if (rc)
        return rc;
    lib_enter(ctx);
    struct lib_export *e = &ctx->exports[export_id];
    e->enabled = on;
    uint8_t v = (uint8_t)on;
    ctx->ops->pio_write(ctx->h, &ctx->win->notify_enabled[export_id], &v, 1);
    if (on && e->fn) {
        /* Hand queued records of this export to its handler, in order. */
        size_t n = ctx->q_len;
        for (size_t i = 0; i < n; i++) {
            struct vmmc_notification r = ctx->queue[ctx->q_head];
            ctx->q_head = (ctx->q_head + 1) % ctx->q_cap;
            ctx->q_len--;
            if (r.export_id == export_id)
                dispatch(ctx, &r);
            else
                queue_push(ctx, &r);
        }
    }
    return VS_OK;
}

int vmmc_notify_enable(vmmc_ctx *ctx, int export_id)
{
    return set_enabled(ctx, export_id, 1);
}

int vmmc_notify_disable(vmmc_ctx *ctx, int export_id)
{
    return set_enabled(ctx, export_id, 0);
}

int vmmc_notify_poll(vmmc_ctx *ctx, struct vmmc_notification *out)
{
    if (!ctx || !out)
        return VS_EINVAL;
    lib_enter(ctx);
    if (!ctx->q_len)
        return 0;
    *out = ctx->queue[ctx->q_head];
    ctx->q_head = (ctx->q_head + 1) % ctx->q_cap;
    ctx->q_len--;
    return 1;
}

int vmmc_notify_wait(vmmc_ctx *ctx, struct vmmc_notification *out,
                     hw_time_t timeout)
{
    if (!ctx || !out)
        return VS_EINVAL;
    hw_time_t deadline =
        timeout < 0 ? HW_TIME_NEVER : ctx->ops->now(ctx->h) + timeout;
    for (;;) {
        int got = vmmc_notify_poll(ctx, out);
        if (got)
            return VS_OK;
        hw_time_t now = ctx->ops->now(ctx->h);
        if (now >= deadline)
            return VS_ETIMEDOUT;
        /* Ready on a new record, or on one an interrupt handler running
         * during the wait has already moved to the queue. */
        int rc = ctx->ops->wait(ctx->h, note_or_queued, ctx,
                                deadline == HW_TIME_NEVER ? -1
                                                          : deadline - now);
        if (rc == VS_ETIMEDOUT && !note_ready(ctx) && !ctx->q_len)
            return rc;
    }
}

/* ---- Open and close ---- */

/* The UTLB table: 1 MiB of address space a process, of which only the
 * pages holding entries become memory (consecutive virtual pages have
 * neighbouring entries, vmmc__utlb_hash): mapped on its own rather than
 * calloc'd from the heap, whose huge pages the kernel would clear whole. */
#define UTLB_BYTES (VMMC__UTLB_SLOTS * sizeof(struct vmmc__utlb_entry))

int vmmc_open(vmmc_ctx **out, hw_host *h)
{
    if (!out || !h || !h->ops)
        return VS_EINVAL;
    *out = NULL;
    vmmc_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return VS_ENOMEM;
    ctx->h = h;
    ctx->ops = h->ops;
    ctx->win = ctx->ops->window(h);
    /* The NIC writes these by DMA, split at pages: on pages of their own
     * (util/dheap.h), so that a record never spans two whatever the heap
     * did before. */
    const size_t compl_len = VMMC__CMDQ_LEN * sizeof *ctx->compl;
    const size_t notes_len = VMMC__NOTIFY_LEN * sizeof *ctx->notes;
    ctx->compl = vs_dheap_pages(compl_len);
    ctx->notes = vs_dheap_pages(notes_len);
    ctx->utlb = vs_map_zeroed(UTLB_BYTES);
    if (ctx->compl)
        memset(ctx->compl, 0, compl_len);
    if (ctx->notes)
        memset(ctx->notes, 0, notes_len);
    if (!ctx->win || !ctx->compl || !ctx->notes || !ctx->utlb) {
        int rc = ctx->win ? VS_ENOMEM : VS_EIO; /* no firmware loaded */
        vs_dheap_free(ctx->compl);
        vs_dheap_free(ctx->notes);
        vs_unmap_zeroed(ctx->utlb, UTLB_BYTES);
        free(ctx);
        return rc;
    }
    ctx->ops->set_irq_handler(h, on_irq, ctx);
    ctx->ops->compute(h, ctx->ops->cost(h, HW_HOST_SYSCALL));
    struct vmmc__cmd c = {.op = VMMC__OP_OPEN,
                          .addr = (uintptr_t)ctx->compl,
                          .off = (uintptr_t)ctx->notes,
                          .len = (uintptr_t)ctx->utlb};
    uint32_t slot = ctx->cmd_tail % VMMC__CMDQ_LEN;
    c.seq = ++ctx->cmd_tail;
    ctx->pending_seq[slot] = c.seq;
    ctx->ops->pio_write(h, &ctx->win->cmdq[slot], &c, sizeof c);
    int rc = reap(ctx, slot);
    if (rc) {
        vs_dheap_free(ctx->compl);
        vs_dheap_free(ctx->notes);
        vs_unmap_zeroed(ctx->utlb, UTLB_BYTES);
        free(ctx);
        return rc;
    }
    *out = ctx;
    return VS_OK;
}

int vmmc_close(vmmc_ctx *ctx)
{
    if (!ctx)
        return VS_EINVAL;
    /* An export with a redirection posted is withdrawn first: that ends
     * the redirection, which flush would otherwise wait for forever. */
    for (int i = 0; i < VMMC_MAX_EXPORTS; i++)
        if (ctx->exports[i].valid && ctx->exports[i].redirected)
            vmmc_unexport(ctx, i);
    int rc = vmmc_flush(ctx);
    for (int i = 0; i < VMMC_MAX_EXPORTS; i++)
        if (ctx->exports[i].valid)
            vmmc_unexport(ctx, i);
    for (int i = 0; i < VMMC_MAX_IMPORTS; i++)
        if (ctx->imports[i].valid)
            vmmc_unimport(ctx, i);
    /* OPEN with no rings detaches the NIC from this process's memory. */
    struct vmmc__cmd c = {.op = VMMC__OP_OPEN};
    call(ctx, &c, NULL);
    ctx->ops->set_irq_handler(ctx->h, NULL, NULL);
    vs_dheap_free(ctx->compl);
    vs_dheap_free(ctx->notes);
    free(ctx->queue);
    free(ctx->mapped);
    vs_unmap_zeroed(ctx->utlb, UTLB_BYTES);
    free(ctx);
    return rc;
}

int vmmc_node(const vmmc_ctx *ctx) { return ctx->h->node; }
int vmmc_nnodes(const vmmc_ctx *ctx) { return ctx->h->nnodes; }
hw_host *vmmc_host(vmmc_ctx *ctx) { return ctx->h; }

void vmmc_get_stats(vmmc_ctx *ctx, struct vmmc_stats *out) { *out = ctx->st; }

static int ensure_mapped(vmmc_ctx *ctx, uintptr_t addr, size_t len);

/* ---- Export and import ---- */

int vmmc_export(vmmc_ctx *ctx, int export_id, void *buf, size_t len,
                unsigned perms)
{
    if (!ctx)
        return VS_EINVAL;
    if (export_id < 0 || export_id >= VMMC_MAX_EXPORTS)
        return fail(ctx, VS_EINVAL, "vmmc_export: export id %d is not in "
                                    "0..%d",
                    export_id, VMMC_MAX_EXPORTS - 1);
    if (!buf || !len)
        return fail(ctx, VS_EINVAL, "vmmc_export: empty buffer");
    if ((uintptr_t)buf + len < (uintptr_t)buf)
        return fail(ctx, VS_EINVAL, "vmmc_export: length %zu overflows", len);
    if (!perms || (perms & ~(unsigned)(VMMC_PERM_READ | VMMC_PERM_WRITE)))
        return fail(ctx, VS_EINVAL, "vmmc_export: bad permissions 0x%x",
                    perms);
    if (ctx->exports[export_id].valid)
        return fail(ctx, VS_EEXIST, "vmmc_export: export id %d is in use",
                    export_id);
    lib_enter(ctx);
    ctx->ops->compute(ctx->h, ctx->ops->cost(ctx->h, HW_HOST_SYSCALL));
    int prc = ensure_mapped(ctx, (uintptr_t)buf, len);
    if (prc)
        return fail(ctx, prc, "vmmc_export: cannot pin the buffer");
    struct vmmc__cmd c = {.op = VMMC__OP_EXPORT,
                          .handle = (uint32_t)export_id,
                          .aux = perms,
                          .addr = (uintptr_t)buf,
                          .len = len};
    int rc = call(ctx, &c, NULL);
    if (rc == VS_OK)
        ctx->exports[export_id] =
            (struct lib_export){.valid = 1,
                                .buf = buf,
                                .len = len,
                                .perms = perms};
    return rc;
}

int vmmc_unexport(vmmc_ctx *ctx, int export_id)
{
    int rc = check_export_id(ctx, export_id);
    if (rc)
        return fail(ctx, rc, "vmmc_unexport: no export %d", export_id);
    lib_enter(ctx);
    ctx->ops->compute(ctx->h, ctx->ops->cost(ctx->h, HW_HOST_SYSCALL));
    struct vmmc__cmd c = {.op = VMMC__OP_UNEXPORT,
                          .handle = (uint32_t)export_id};
    rc = call(ctx, &c, NULL);
    if (ctx->exports[export_id].enabled) {
        uint8_t v = 0;
        ctx->ops->pio_write(ctx->h, &ctx->win->notify_enabled[export_id], &v,
                            1);
    }
    memset(&ctx->exports[export_id], 0, sizeof ctx->exports[export_id]);
    return rc;
}

int vmmc_import(vmmc_ctx *ctx, int node, int export_id, vmmc_import_t *out,
                size_t *len)
{
    if (!ctx)
        return VS_EINVAL;
    if (!out)
        return fail(ctx, VS_EINVAL, "vmmc_import: no place for the handle");
    if (node < 0 || node >= ctx->h->nnodes)
        return fail(ctx, VS_EINVAL, "vmmc_import: node %d is not in 0..%d",
                    node, ctx->h->nnodes - 1);
    if (export_id < 0 || export_id >= VMMC_MAX_EXPORTS)
        return fail(ctx, VS_EINVAL, "vmmc_import: export id %d is not in "
                                    "0..%d",
                    export_id, VMMC_MAX_EXPORTS - 1);
    lib_enter(ctx);
    ctx->ops->compute(ctx->h, ctx->ops->cost(ctx->h, HW_HOST_SYSCALL));
    struct vmmc__cmd c = {.op = VMMC__OP_IMPORT,
                          .handle = (uint32_t)export_id,
                          .off = (uint64_t)node};
    struct vmmc__compl r;
    int rc = call(ctx, &c, &r);
    if (rc)
        return rc;
    if (r.aux >= VMMC_MAX_IMPORTS)
        return VS_EIO;
    ctx->imports[r.aux] =
        (struct lib_import){1, node, export_id, r.aux2, r.aux3};
    *out = (vmmc_import_t)r.aux;
    if (len)
        *len = (size_t)r.aux2;
    return VS_OK;
}

int vmmc_unimport(vmmc_ctx *ctx, vmmc_import_t imp)
{
    if (!ctx)
        return VS_EINVAL;
    if (imp < 0 || imp >= VMMC_MAX_IMPORTS || !ctx->imports[imp].valid)
        return fail(ctx, VS_EBADF, "vmmc_unimport: %d is not an import "
                                   "handle",
                    imp);
    lib_enter(ctx);
    struct vmmc__cmd c = {.op = VMMC__OP_UNIMPORT, .handle = (uint32_t)imp};
    int rc = call(ctx, &c, NULL);
    ctx->imports[imp].valid = 0;
    return rc;
}

/* ---- Sending ---- */

/* Makes sure the pages of [addr, addr+len) are pinned and in the UTLB
 * table the NIC reads (a driver call the first time). */
static int ensure_mapped(vmmc_ctx *ctx, uintptr_t addr, size_t len)
{
    if (!len)
        return VS_OK;
    const uint64_t page = ctx->h->page_size ? ctx->h->page_size : 4096;
    uint64_t start = addr / page * page;
    uint64_t end = (addr + len + page - 1) / page * page;
    for (size_t i = 0; i < ctx->nmapped; i++)
        if (ctx->mapped[i].start <= start && end <= ctx->mapped[i].end)
            return VS_OK;
    /* The driver pins the pages and enters them in the UTLB table. */
    ctx->ops->compute(ctx->h, ctx->ops->cost(ctx->h, HW_HOST_SYSCALL));
    for (uint64_t a = start; a < end; a += page) {
        uint64_t vpage = a / page;
        uint32_t i = vmmc__utlb_hash(vpage), probes = 0;
        while (ctx->utlb[i].vpage_plus1 && ctx->utlb[i].vpage_plus1 != vpage + 1) {
            i = (i + 1) % VMMC__UTLB_SLOTS;
            if (++probes >= VMMC__UTLB_MAX_PROBES)
                return VS_ENOSPC;
        }
        if (!ctx->utlb[i].vpage_plus1) {
            if (ctx->utlb_used + 1 >= VMMC__UTLB_SLOTS / 2)
                return VS_ENOSPC; /* keep probing short */
            ctx->utlb[i].paddr = a; /* simulated memory: identity */
            ctx->utlb[i].vpage_plus1 = vpage + 1;
            ctx->utlb_used++;
        }
    }
    /* Merge into the sorted, disjoint list. */
    if (ctx->nmapped == ctx->cap_mapped) {
        size_t cap = ctx->cap_mapped ? ctx->cap_mapped * 2 : 8;
        struct range *r = realloc(ctx->mapped, cap * sizeof *r);
        if (!r)
            return VS_OK; /* mapped on the NIC; only the cache is lost */
        ctx->mapped = r;
        ctx->cap_mapped = cap;
    }
    size_t i = 0, o = 0;
    struct range nr = {start, end};
    struct range *m = ctx->mapped;
    size_t n = ctx->nmapped;
    /* Keep ranges that do not touch nr; absorb those that do. */
    for (i = 0; i < n; i++) {
        if (m[i].end < nr.start || m[i].start > nr.end) {
            m[o++] = m[i];
        } else {
            if (m[i].start < nr.start)
                nr.start = m[i].start;
            if (m[i].end > nr.end)
                nr.end = m[i].end;
        }
    }
    size_t pos = 0;
    while (pos < o && m[pos].start < nr.start)
        pos++;
    memmove(&m[pos + 1], &m[pos], (o - pos) * sizeof *m);
    m[pos] = nr;
    ctx->nmapped = o + 1;
    return VS_OK;
}

/* The checks a send and a fetch share: a buffer that does not wrap, a valid
 * import with permission perm, the range inside it, the pages pinned. */
static int check_transfer(vmmc_ctx *ctx, const char *call, vmmc_import_t imp,
                          unsigned perm, size_t off, const void *buf,
                          size_t len)
{
    if (len && !buf)
        return fail(ctx, VS_EINVAL, "%s: no buffer", call);
    if ((uintptr_t)buf + len < (uintptr_t)buf)
        return fail(ctx, VS_EINVAL, "%s: length %zu overflows the buffer's "
                                    "address",
                    call, len);
    if (imp < 0 || imp >= VMMC_MAX_IMPORTS || !ctx->imports[imp].valid)
        return fail(ctx, VS_EBADF, "%s: %d is not an import handle", call,
                    imp);
    const struct lib_import *im = &ctx->imports[imp];
    if (!(im->perms & perm))
        return fail(ctx, VS_EPERM, "%s: export %d of node %d is not %s", call,
                    im->export_id, im->node,
                    perm == VMMC_PERM_WRITE ? "writable" : "readable");
    if (off > im->len || len > im->len - off)
        return fail(ctx, VS_ERANGE, "%s: offset %zu + length %zu is outside "
                                    "the %llu-byte import",
                    call, off, len, (unsigned long long)im->len);
    lib_enter(ctx);
    int rc = ensure_mapped(ctx, (uintptr_t)buf, len);
    if (rc)
        return fail(ctx, rc, "%s: cannot pin the buffer's pages", call);
    return VS_OK;
}

int vmmc_send(vmmc_ctx *ctx, vmmc_import_t imp, size_t off, const void *src,
              size_t len, unsigned flags, vmmc_req *req)
{
    if (!ctx)
        return VS_EINVAL;
    if (flags & ~(unsigned)VMMC_SEND_NOTIFY)
        return fail(ctx, VS_EINVAL, "vmmc_send: unknown flags 0x%x", flags);
    int rc = check_transfer(ctx, "vmmc_send", imp, VMMC_PERM_WRITE, off, src,
                            len);
    if (rc)
        return rc;
    struct vmmc__cmd c = {.op = VMMC__OP_SEND,
                          .flags = (uint16_t)flags,
                          .handle = (uint32_t)imp,
                          .addr = (uintptr_t)src,
                          .len = len,
                          .off = off};
    ctx->st.sends++;
    ctx->st.send_bytes += len;
    return post(ctx, &c, req);
}

int vmmc_send_sync(vmmc_ctx *ctx, vmmc_import_t imp, size_t off,
                   const void *src, size_t len, unsigned flags)
{
    vmmc_req req;
    int rc = vmmc_send(ctx, imp, off, src, len, flags, &req);
    if (rc)
        return rc;
    rc = vmmc_wait(ctx, &req);
    if (rc)
        ctx->st.send_errors++;
    return rc;
}

struct bytes_wait {
    const volatile unsigned char *addr;
    const unsigned char *value;
    size_t len;
};

static int bytes_ready(void *arg)
{
    const struct bytes_wait *w = arg;
    for (size_t i = 0; i < w->len; i++)
        if (w->addr[i] != w->value[i])
            return 0;
    return 1;
}

int vmmc_wait_bytes(vmmc_ctx *ctx, const volatile void *addr,
                    const void *value, size_t len, hw_time_t timeout)
{
    if (!ctx || !addr || !value || len == 0 || len > 64)
        return VS_EINVAL;
    drain_notes(ctx);
    struct bytes_wait w = {addr, value, len};
    return ctx->ops->wait(ctx->h, bytes_ready, &w, timeout);
}

int vmmc_wait_u32(vmmc_ctx *ctx, const volatile uint32_t *addr,
                  uint32_t value, hw_time_t timeout)
{
    if ((uintptr_t)addr % sizeof value)
        return VS_EINVAL;
    return vmmc_wait_bytes(ctx, addr, &value, sizeof value, timeout);
}

struct until_wait {
    const vmmc_ctx *ctx;
    hw_ready_fn ready;
    void *arg;
};

static int until_ready(void *arg)
{
    const struct until_wait *w = arg;
    return (w->ready && w->ready(w->arg)) || w->ctx->q_len ||
           note_ready((void *)w->ctx);
}

int vmmc_wait_until(vmmc_ctx *ctx, hw_ready_fn ready, void *arg,
                    hw_time_t timeout)
{
    if (!ctx)
        return VS_EINVAL;
    drain_notes(ctx);
    struct until_wait w = {ctx, ready, arg};
    return ctx->ops->wait(ctx->h, until_ready, &w, timeout);
}

/* ---- Remote fetch and transfer redirection ---- */

int vmmc_fetch(vmmc_ctx *ctx, vmmc_import_t imp, size_t off, void *dst,
               size_t len, vmmc_req *req)
{
    if (!ctx)
        return VS_EINVAL;
    int rc = check_transfer(ctx, "vmmc_fetch", imp, VMMC_PERM_READ, off, dst,
                            len);
    if (rc)
        return rc;
    struct vmmc__cmd c = {.op = VMMC__OP_FETCH,
                          .handle = (uint32_t)imp,
                          .addr = (uintptr_t)dst,
                          .len = len,
                          .off = off};
    return post(ctx, &c, req);
}

int vmmc_redirect(vmmc_ctx *ctx, int export_id, size_t off, size_t len,
                  void *buf, vmmc_req *req)
{
    if (!ctx)
        return VS_EINVAL;
    if (export_id < 0 || export_id >= VMMC_MAX_EXPORTS ||
        !ctx->exports[export_id].valid)
        return fail(ctx, export_id < 0 || export_id >= VMMC_MAX_EXPORTS
                             ? VS_EINVAL
                             : VS_ENOENT,
                    "vmmc_redirect: no export %d", export_id);
    if (!len || !buf)
        return fail(ctx, VS_EINVAL, "vmmc_redirect: empty buffer");
    if ((uintptr_t)buf + len < (uintptr_t)buf)
        return fail(ctx, VS_EINVAL, "vmmc_redirect: length %zu overflows",
                    len);
    const struct lib_export *e = &ctx->exports[export_id];
    if (off > e->len || len > e->len - off)
        return fail(ctx, VS_ERANGE, "vmmc_redirect: offset %zu + length %zu "
                                    "is outside the %zu-byte export",
                    off, len, e->len);
    lib_enter(ctx);
    int rc = ensure_mapped(ctx, (uintptr_t)buf, len);
    if (rc)
        return fail(ctx, rc, "vmmc_redirect: cannot pin the buffer");
    ctx->exports[export_id].redirected = 1;
    struct vmmc__cmd c = {.op = VMMC__OP_REDIRECT,
                          .handle = (uint32_t)export_id,
                          .addr = (uintptr_t)buf,
                          .len = len,
                          .off = off};
    return post(ctx, &c, req);
}

int vmmc_pin(vmmc_ctx *ctx, const void *addr, size_t len)
{
    if (!ctx)
        return VS_EINVAL;
    if (!addr || !len || (uintptr_t)addr + len < (uintptr_t)addr)
        return fail(ctx, VS_EINVAL, "vmmc_pin: bad buffer");
    lib_enter(ctx);
    int rc = ensure_mapped(ctx, (uintptr_t)addr, len);
    return rc ? fail(ctx, rc, "vmmc_pin: cannot pin %zu bytes", len) : VS_OK;
}
