/* Helpers for the VMMC scenario tests (tests/vmmc/helpers.h). */
#include "tests/vmmc/helpers.h"

#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "util/err.h"

void th_pattern(unsigned char *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
}

size_t th_count_ne(const unsigned char *p, size_t from, size_t to,
                   unsigned char v)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += p[i] != v;
    return n;
}

int th_import_retry(vmmc_ctx *ctx, hw_host *h, int node, int id,
                    vmmc_import_t *out)
{
    int rc = VS_ENOENT;
    for (int i = 0; i < 1000; i++) {
        rc = vmmc_import(ctx, node, id, out, NULL);
        if (rc != VS_ENOENT)
            return rc;
        h->ops->compute(h, 50 * HW_US);
    }
    return rc;
}

void ctl_open(struct ctl *c, hw_host *h, int peer)
{
    memset(c, 0, sizeof *c);
    c->h = h;
    c->peer = peer;
    TH_EXPECT_RC(vmmc_open(&c->ctx, h), VS_OK);
    c->mine = aligned_alloc(64, 64);
    c->src = aligned_alloc(64, 64);
    memset(c->mine, 0, 64);
    memset(c->src, 0, 64);
    TH_EXPECT_RC(vmmc_export(c->ctx, CTRL_ID, c->mine, 64, VMMC_PERM_WRITE),
                 VS_OK);
    if (peer >= 0)
        TH_EXPECT_RC(th_import_retry(c->ctx, h, peer, CTRL_ID, &c->peer_ctl),
                     VS_OK);
}

int ctl_open_pair(struct ctl *c, hw_host *h)
{
    if (h->node > 1)
        return 0;
    ctl_open(c, h, 1 - h->node);
    return 1;
}

vmmc_import_t ctl_import(struct ctl *c, int id)
{
    vmmc_import_t imp = -1;
    int rc = vmmc_import(c->ctx, c->peer, id, &imp, NULL);
    TH_CHECK(rc == VS_OK, "importing export %d of node %d returned %d (%s)",
             id, c->peer, rc, vs_strerror(rc));
    return imp;
}

void ctl_signal(struct ctl *c, uint32_t phase)
{
    *c->src = phase;
    TH_EXPECT_RC(vmmc_send_sync(c->ctx, c->peer_ctl, 0, c->src, 4, 0), VS_OK);
}

void ctl_await(struct ctl *c, uint32_t phase)
{
    TH_EXPECT_RC(vmmc_wait_u32(c->ctx, c->mine, phase, 100 * HW_MS), VS_OK);
}

void ctl_close(struct ctl *c)
{
    TH_EXPECT_RC(vmmc_close(c->ctx), VS_OK);
    free(c->mine);
    free(c->src);
}

void th_run_nodes(const char *platform,
                  void (*node_main)(hw_host *h, void *arg))
{
    struct th_sim s = {.platform = platform, .node_main = node_main};
    th_run_sim(&s, 0);
}
