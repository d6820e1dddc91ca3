/*
 * Helpers for the VMMC scenario tests: a deterministic byte pattern, an
 * import that waits for the peer to export, and a "phase" word per node
 * (export 63) through which two node programs step in lock-step.
 */
#ifndef TESTS_VMMC_HELPERS_H
#define TESTS_VMMC_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "vmmc/vmmc.h"

#define CTRL_ID 63

void th_pattern(unsigned char *p, size_t len, uint32_t seed);
int th_import_retry(vmmc_ctx *ctx, hw_host *h, int node, int id,
                    vmmc_import_t *out);

struct ctl {
    vmmc_ctx *ctx;
    hw_host *h;
    uint32_t *mine; /* exported as CTRL_ID */
    uint32_t *src;
    vmmc_import_t peer_ctl;
};

/* Opens VMMC, exports the phase word and imports the peer's (peer < 0:
 * none). */
void ctl_open(struct ctl *c, hw_host *h, int peer);
void ctl_signal(struct ctl *c, uint32_t phase);
void ctl_await(struct ctl *c, uint32_t phase);
void ctl_close(struct ctl *c);

#endif
