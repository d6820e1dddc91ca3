/*
 * Helpers for two-node workloads (pingpong, bandwidth): each of nodes 0 and
 * 1 exports a receive buffer (export 0) and an acknowledgement word
 * (export 1), and imports the peer's.
 */
#ifndef WL_WL_INT_H
#define WL_WL_INT_H

#include "vmmc/vmmc.h"
#include "workloads/wl.h"

/* Bound on any wait of a workload, in simulated time. */
#define WL_TIMEOUT (10 * HW_MS * 1000)

struct wl_pair {
    vmmc_ctx *ctx;
    unsigned char *rbuf, *sbuf, *sbuf2;
    unsigned char *want; /* --verify: the expected bytes */
    unsigned char *span; /* --src-span: the buffer sends walk through */
    uint64_t maxsize;
    uint32_t *ack;     /* exported: the peer writes acknowledgements here */
    uint32_t *ack_src; /* what this node sends as an acknowledgement */
    vmmc_import_t imp, imp_ack;
};

int wl_pair_open(struct wl_env *env, struct wl_pair *pr);
void wl_pair_close(struct wl_env *env, struct wl_pair *pr);
/* Imports, retrying while the peer has not exported yet. */
int wl_import_retry(struct wl_env *env, vmmc_ctx *ctx, int node, int id,
                    vmmc_import_t *out);
/* Where the k-th message of size bytes is sent from: sbuf, or with
 * --src-span the k-th page-aligned slot of the span, holding sbuf's bytes. */
unsigned char *wl_src(struct wl_pair *pr, const struct wl_opts *o,
                      uint64_t size, uint64_t k);
/* Fills sbuf for a message of size bytes ending with tag. */
void wl_fill(struct wl_pair *pr, uint64_t size, uint32_t tag,
             const struct wl_opts *o);
/* Checks rbuf holds that message; on a mismatch fails the run. */
int wl_check(struct wl_env *env, struct wl_pair *pr, uint64_t size,
             uint32_t tag);

#endif
