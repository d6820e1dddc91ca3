/* The two-node set-up shared by pingpong and bandwidth (wl_int.h). */
#include <stdlib.h>
#include <string.h>

#include "workloads/wl_int.h"

int wl_import_retry(struct wl_env *env, vmmc_ctx *ctx, int node, int id,
                    vmmc_import_t *out)
{
    int rc = VS_ENOENT;
    /* The peer may not have exported yet: retry for up to 100 ms. */
    for (int tries = 0; tries < 1000 && rc == VS_ENOENT; tries++) {
        rc = vmmc_import(ctx, node, id, out, NULL);
        if (rc == VS_ENOENT)
            env->host->ops->compute(env->host, 100 * HW_US);
    }
    return rc;
}

int wl_pair_open(struct wl_env *env, struct wl_pair *pr)
{
    const struct wl_opts *o = env->sh->opts;
    memset(pr, 0, sizeof *pr);
    for (int i = 0; i < o->nsizes; i++)
        if (o->sizes[i] > pr->maxsize)
            pr->maxsize = o->sizes[i];
    size_t alloc = (pr->maxsize + 4095) / 4096 * 4096;
    pr->rbuf = wl_alloc_pages(alloc);
    pr->sbuf = wl_alloc_pages(alloc);
    pr->sbuf2 = wl_alloc_pages(alloc);
    pr->ack = wl_alloc_pages(64);
    pr->ack_src = wl_alloc_pages(64);
    pr->want = o->verify ? malloc(alloc) : NULL;
    pr->span = o->src_span ? wl_alloc_pages(o->src_span) : NULL;
    if (o->src_span && o->src_span < pr->maxsize) {
        wl_fail(env, "--src-span %llu is smaller than the largest size %llu",
                (unsigned long long)o->src_span,
                (unsigned long long)pr->maxsize);
        goto fail;
    }
    if ((o->src_span && !pr->span) || (o->verify && !pr->want) ||
        !pr->rbuf || !pr->sbuf || !pr->sbuf2 || !pr->ack || !pr->ack_src) {
        wl_fail(env, "out of memory for %llu-byte buffers",
                (unsigned long long)pr->maxsize);
        goto fail;
    }
    int rc = vmmc_open(&pr->ctx, env->host);
    if (rc) {
        wl_fail(env, "vmmc_open: %s", vs_strerror(rc));
        goto fail;
    }
    if (pr->span && (rc = vmmc_pin(pr->ctx, pr->span, o->src_span))) {
        wl_fail(env, "%s", vmmc_errmsg(pr->ctx));
        goto fail;
    }
    int peer = 1 - env->node;
    if ((rc = vmmc_export(pr->ctx, 0, pr->rbuf, pr->maxsize,
                          VMMC_PERM_WRITE)) ||
        (rc = vmmc_export(pr->ctx, 1, pr->ack, 64, VMMC_PERM_WRITE))) {
        wl_fail(env, "vmmc_export: %s", vs_strerror(rc));
        goto fail;
    }
    if ((rc = wl_import_retry(env, pr->ctx, peer, 0, &pr->imp)) ||
        (rc = wl_import_retry(env, pr->ctx, peer, 1, &pr->imp_ack))) {
        wl_fail(env, "vmmc_import from node %d: %s", peer, vs_strerror(rc));
        goto fail;
    }
    return 0;
fail:
    wl_pair_close(env, pr);
    return -1;
}

void wl_pair_close(struct wl_env *env, struct wl_pair *pr)
{
    if (pr->ctx) {
        int rc = vmmc_close(pr->ctx);
        if (rc)
            wl_fail(env, "vmmc_close: %s", vs_strerror(rc));
    }
    free(pr->rbuf);
    free(pr->sbuf);
    free(pr->sbuf2);
    free(pr->ack);
    free(pr->ack_src);
    free(pr->want);
    free(pr->span);
    memset(pr, 0, sizeof *pr);
}

void wl_fill(struct wl_pair *pr, uint64_t size, uint32_t tag,
             const struct wl_opts *o)
{
    if (o->verify)
        wl_pattern(pr->sbuf, size - 4, o->seed, tag);
    memcpy(pr->sbuf + size - 4, &tag, 4);
}

int wl_check(struct wl_env *env, struct wl_pair *pr, uint64_t size,
             uint32_t tag)
{
    unsigned char *want = pr->want;
    wl_pattern(want, size - 4, env->sh->opts->seed, tag);
    if (memcmp(pr->rbuf + size - 4, &tag, 4)) {
        wl_fail(env, "the last word of a %llu-byte message is wrong",
                (unsigned long long)size);
        return -1;
    }
    for (uint64_t i = 0; i < size - 4; i++)
        if (pr->rbuf[i] != want[i]) {
            wl_fail(env, "byte %llu of a %llu-byte message is wrong",
                    (unsigned long long)i, (unsigned long long)size);
            return -1;
        }
    return 0;
}

unsigned char *wl_src(struct wl_pair *pr, const struct wl_opts *o,
                      uint64_t size, uint64_t k)
{
    if (!pr->span)
        return pr->sbuf;
    uint64_t slot = (size + 4095) / 4096 * 4096;
    uint64_t nslots = o->src_span / slot ? o->src_span / slot : 1;
    unsigned char *src = pr->span + (k % nslots) * slot;
    memcpy(src, pr->sbuf, size);
    return src;
}
