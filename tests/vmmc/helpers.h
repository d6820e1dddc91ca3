/*
 * Helpers for the VMMC scenario tests: a deterministic byte pattern, a
 * count of the bytes that changed, an import that waits for the peer to
 * export, a "phase" word per node (export 63) through which two node
 * programs step in lock-step, and running a node program on every node.
 */
#ifndef TESTS_VMMC_HELPERS_H
#define TESTS_VMMC_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "vmmc/vmmc.h"

#define CTRL_ID 63

void th_pattern(unsigned char *p, size_t len, uint32_t seed);
/* The number of bytes in p[from, to) that are not v. */
size_t th_count_ne(const unsigned char *p, size_t from, size_t to,
                   unsigned char v);
int th_import_retry(vmmc_ctx *ctx, hw_host *h, int node, int id,
                    vmmc_import_t *out);

struct ctl {
    vmmc_ctx *ctx;
    hw_host *h;
    uint32_t *mine; /* exported as CTRL_ID */
    uint32_t *src;
    int peer;
    vmmc_import_t peer_ctl;
};

/* Opens VMMC, exports the phase word and imports the peer's (peer < 0:
 * none). */
void ctl_open(struct ctl *c, hw_host *h, int peer);
/* For the two-node scenarios: nodes 0 and 1 ctl_open() with each other as
 * the peer and get 1; any other node gets 0 and has nothing to do. */
int ctl_open_pair(struct ctl *c, hw_host *h);
/* Imports the peer's export id (which must work); returns the handle. */
vmmc_import_t ctl_import(struct ctl *c, int id);
void ctl_signal(struct ctl *c, uint32_t phase);
void ctl_await(struct ctl *c, uint32_t phase);
void ctl_close(struct ctl *c);

/* Runs node_main on every node of platform (NULL: the 2-node one) in a
 * child (th_run_sim): a failed check, a crash or a failed run is a CUnit
 * failure. */
void th_run_nodes(const char *platform,
                  void (*node_main)(hw_host *h, void *arg));

#endif
