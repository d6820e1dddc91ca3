/*
 * VMMC — Virtual Memory-Mapped Communication, the user-level API.
 *
 * A process exports a buffer of its virtual memory; a process on another
 * node imports it and then writes into it directly with vmmc_send()
 * ("deliberate update"): the NIC moves the bytes from the sender's virtual
 * memory into the receiver's, with no copy and no receiver involvement.  A
 * send may raise a notification at the receiver.  The NIC checks every
 * transfer against the export's bounds and permissions: a refused transfer
 * changes no byte.
 *
 * This library runs in the host process and talks to the NIC firmware
 * (vmmc/fw.c) only through the hardware port (hw/hw.h), so the same code runs
 * on every backend.  One context per process; calls may block the calling
 * process in (simulated) time.  Every function returns 0 or a negative vs_err
 * (util/err.h) unless it says otherwise.
 */
#ifndef VMMC_VMMC_H
#define VMMC_VMMC_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "util/err.h"

#define VMMC_MAX_EXPORTS 64 /* export ids are 0..VMMC_MAX_EXPORTS-1 */
#define VMMC_MAX_IMPORTS 64

enum vmmc_perm { VMMC_PERM_WRITE = 1u << 0, VMMC_PERM_READ = 1u << 1 };

enum vmmc_send_flags {
    VMMC_SEND_NOTIFY = 1u << 0, /* raise a notification at the receiver */
};

typedef struct vmmc_ctx vmmc_ctx;
typedef int vmmc_import_t; /* import handle, >= 0 */

/* A pending asynchronous operation.  The caller owns the storage, which
 * must stay valid until vmmc_wait() returns or vmmc_test() says done. */
typedef struct vmmc_req {
    uint32_t slot, seq;
    int done, status;
} vmmc_req;

/* What a notification tells the receiver. */
struct vmmc_notification {
    int export_id;
    int src_node;
    uint64_t offset; /* where the message starts in the export */
    uint64_t len;    /* message length in bytes */
};

typedef void (*vmmc_notify_fn)(vmmc_ctx *ctx,
                               const struct vmmc_notification *n, void *arg);

/* Opens the process's VMMC context on host h (one per process).  *out is
 * allocated by the library; vmmc_close() frees it. */
int vmmc_open(vmmc_ctx **out, hw_host *h);
/* Waits for outstanding operations, then releases everything.  Returns the
 * first error of a send nobody waited for, if any. */
int vmmc_close(vmmc_ctx *ctx);

int vmmc_node(const vmmc_ctx *ctx);
int vmmc_nnodes(const vmmc_ctx *ctx);
hw_host *vmmc_host(vmmc_ctx *ctx);

/* Exports [buf, buf+len) under export_id with perms (VMMC_PERM_*).
 * VS_EEXIST if the id is in use, VS_EINVAL for a bad id, buffer or perms. */
int vmmc_export(vmmc_ctx *ctx, int export_id, void *buf, size_t len,
                unsigned perms);
/* Withdraws an export: later transfers to it are refused. */
int vmmc_unexport(vmmc_ctx *ctx, int export_id);

/* Imports export export_id of node; blocks for the round trip.  On success
 * *out is the handle and *len (if not NULL) the export's size.  VS_ENOENT if
 * nothing is exported under that id there. */
int vmmc_import(vmmc_ctx *ctx, int node, int export_id, vmmc_import_t *out,
                size_t *len);
int vmmc_unimport(vmmc_ctx *ctx, vmmc_import_t imp);

/* Sends len bytes at src into the imported buffer at offset off.
 * Asynchronous: returns once the NIC has the request; if req is not NULL,
 * vmmc_wait(req) blocks until src may be reused and returns the outcome.
 * Errors found before posting (bad handle, out of bounds, no write
 * permission) are returned at once and nothing is sent. */
int vmmc_send(vmmc_ctx *ctx, vmmc_import_t imp, size_t off, const void *src,
              size_t len, unsigned flags, vmmc_req *req);
int vmmc_wait(vmmc_ctx *ctx, vmmc_req *req);
/* 1 if req completed (its status in *status if not NULL), 0 if not. */
int vmmc_test(vmmc_ctx *ctx, vmmc_req *req, int *status);
/* vmmc_send then vmmc_wait. */
int vmmc_send_sync(vmmc_ctx *ctx, vmmc_import_t imp, size_t off,
                   const void *src, size_t len, unsigned flags);
/* Waits for every outstanding operation; returns the first error of a send
 * posted without a req since the last flush. */
int vmmc_flush(vmmc_ctx *ctx);

/* Pins [addr, addr+len) and enters its pages in the process's UTLB table
 * now, so the first transfer from or into it does not pay for the driver
 * call.  (Every transfer pins what it touches anyway.) */
int vmmc_pin(vmmc_ctx *ctx, const void *addr, size_t len);

/* Remote fetch: reads len bytes at offset off of the imported buffer into
 * dst (local memory).  Asynchronous like vmmc_send; vmmc_wait(req) returns
 * once the bytes are in dst.  The import must have VMMC_PERM_READ; the
 * owner's NIC checks permission and bounds again.  Errors: VS_EBADF,
 * VS_EPERM, VS_ERANGE, VS_EINVAL; from the owner VS_ENOENT (withdrawn). */
int vmmc_fetch(vmmc_ctx *ctx, vmmc_import_t imp, size_t off, void *dst,
               size_t len, vmmc_req *req);

/* Transfer redirection: the next len bytes that arrive for [off, off+len)
 * of export export_id are written to buf (buf + (position - off)) instead
 * of the exported buffer; data arriving before this call lands in the
 * export as usual.  vmmc_wait(req) returns once the whole range has landed
 * in buf (VS_ENOENT if the export is withdrawn first).  One pending
 * redirection per export: VS_EBUSY otherwise. */
int vmmc_redirect(vmmc_ctx *ctx, int export_id, size_t off, size_t len,
                  void *buf, vmmc_req *req);

/* A one-line description of the last error a call of this context
 * returned, naming the call ("vmmc_send: offset 8 + length 4096 is outside
 * the 4096-byte import"); "" if none. */
const char *vmmc_errmsg(const vmmc_ctx *ctx);

/* Blocks until the 32-bit word at addr (in this process's memory, written
 * by incoming transfers) equals value, or timeout (< 0: forever) passes:
 * VS_ETIMEDOUT.  This is how a receiver spins on a flag. */
int vmmc_wait_u32(vmmc_ctx *ctx, const volatile uint32_t *addr,
                  uint32_t value, hw_time_t timeout);
/* The same for len (1..64) bytes at any alignment: blocks until the bytes
 * at addr equal those at value.  VS_EINVAL for a bad length or an
 * unaligned addr given to vmmc_wait_u32. */
int vmmc_wait_bytes(vmmc_ctx *ctx, const volatile void *addr,
                    const void *value, size_t len, hw_time_t timeout);

/* Blocks until ready(arg) is true (ready may be NULL) or a notification
 * is queued for vmmc_notify_poll, or timeout (< 0: forever) passes:
 * VS_ETIMEDOUT.  ready must only read memory: it is evaluated whenever the
 * NIC writes this process's memory.  For programs that wait on several
 * things at once (credits from many peers and incoming messages). */
int vmmc_wait_until(vmmc_ctx *ctx, hw_ready_fn ready, void *arg,
                    hw_time_t timeout);

/* Notifications.  A record for an export whose handler is enabled is passed
 * to the handler, in the process, at the next library call or wait; other
 * records queue in arrival order for vmmc_notify_poll / vmmc_notify_wait. */
int vmmc_notify_set_handler(vmmc_ctx *ctx, int export_id, vmmc_notify_fn fn,
                            void *arg);
int vmmc_notify_enable(vmmc_ctx *ctx, int export_id);
int vmmc_notify_disable(vmmc_ctx *ctx, int export_id);
/* 1 and *out if a queued notification was taken, 0 if none. */
int vmmc_notify_poll(vmmc_ctx *ctx, struct vmmc_notification *out);
/* Blocks for the next queued notification (timeout < 0: forever). */
int vmmc_notify_wait(vmmc_ctx *ctx, struct vmmc_notification *out,
                     hw_time_t timeout);

/* Counters of the process's library (the firmware keeps its own). */
struct vmmc_stats {
    uint64_t sends, send_bytes, send_errors;
    uint64_t notifications, handler_calls, interrupts;
};
void vmmc_get_stats(vmmc_ctx *ctx, struct vmmc_stats *out);

#endif
