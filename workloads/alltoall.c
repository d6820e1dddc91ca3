/*
 * alltoall: every node streams --count messages of each size to every other
 * node at once (peers in round-robin order, starting with the next node),
 * the all-pairs traffic that loads every link and switch port of a
 * platform.  Each node exports one slot per sender; the last message from
 * each sender raises a notification, and in-order delivery per pair means
 * the slot is complete when it arrives.  Rows: per size, latency_us is the
 * time per message per sender and bandwidth_MBps the aggregate delivered
 * rate, both from the start of the size to the last node's completion.
 */
#include <stdlib.h>
#include <string.h>

#include "vmmc/vmmc.h"
#include "workloads/wl.h"
#include "workloads/wl_int.h"

static int parse(struct wl_opts *o, int argc, char **argv, char *err,
                 size_t errlen)
{
    int rc = wl_parse_common(o, argc, argv, err, errlen);
    if (rc)
        return rc;
    int explicit_sizes = 0;
    for (int i = 0; i < argc; i++)
        explicit_sizes |= !strcmp(argv[i], "--sizes");
    if (!explicit_sizes) {
        o->nsizes = 3;
        o->sizes[0] = 64;
        o->sizes[1] = 4096;
        o->sizes[2] = 65536;
    }
    if (!o->count)
        o->count = 8;
    return 0;
}

static void run(struct wl_env *env)
{
    const struct wl_opts *o = env->sh->opts;
    hw_host *h = env->host;
    int me = env->node, n = env->nnodes;
    uint64_t maxsize = 0;
    for (int i = 0; i < o->nsizes; i++)
        if (o->sizes[i] > maxsize)
            maxsize = o->sizes[i];
    vmmc_ctx *ctx = NULL;
    unsigned char *in = calloc((size_t)n, maxsize);
    unsigned char *out = malloc(maxsize);
    vmmc_import_t *imp = calloc((size_t)n, sizeof *imp);
    vmmc_import_t *bimp = calloc((size_t)n, sizeof *bimp);
    uint32_t *bar = calloc((size_t)n, sizeof *bar); /* barrier words */
    uint32_t *bsrc = malloc(sizeof *bsrc);
    unsigned char *want = o->verify ? malloc(maxsize) : NULL;
    int rc;
    if (!in || !out || !imp || !bimp || !bar || !bsrc ||
        (o->verify && !want)) {
        wl_fail(env, "out of memory");
        goto out;
    }
    if ((rc = vmmc_open(&ctx, h))) {
        wl_fail(env, "vmmc_open: %s", vs_strerror(rc));
        goto out;
    }
    if ((rc = vmmc_export(ctx, 0, in, (size_t)n * maxsize,
                          VMMC_PERM_WRITE))) {
        wl_fail(env, "vmmc_export: %s", vs_strerror(rc));
        goto out;
    }
    if ((rc = vmmc_export(ctx, 1, bar, (size_t)n * sizeof *bar,
                          VMMC_PERM_WRITE))) {
        wl_fail(env, "vmmc_export: %s", vs_strerror(rc));
        goto out;
    }
    for (int k = 1; k < n; k++) {
        int peer = (me + k) % n;
        if ((rc = wl_import_retry(env, ctx, peer, 0, &imp[peer])) ||
            (rc = wl_import_retry(env, ctx, peer, 1, &bimp[peer]))) {
            wl_fail(env, "import from node %d: %s", peer, vs_strerror(rc));
            goto out;
        }
    }
    for (int si = 0; si < o->nsizes && !env->sh->failed; si++) {
        uint64_t size = o->sizes[si];
        double t0 = (double)h->ops->now(h);
        if (me == 0)
            env->sh->starts[0][si] = t0;
        wl_pattern(out, size, o->seed, (uint32_t)(me * 1000 + si));
        for (int m = 0; m < o->count && !env->sh->failed; m++)
            for (int k = 1; k < n; k++) {
                int peer = (me + k) % n;
                unsigned flags = m + 1 == o->count ? VMMC_SEND_NOTIFY : 0;
                rc = vmmc_send(ctx, imp[peer], (size_t)me * maxsize, out,
                               size, flags, NULL);
                if (rc) {
                    wl_fail(env, "send to node %d: %s", peer, vs_strerror(rc));
                    goto out;
                }
            }
        for (int k = 1; k < n; k++) {
            struct vmmc_notification note;
            rc = vmmc_notify_wait(ctx, &note, WL_TIMEOUT);
            if (rc) {
                wl_fail(env, "waiting for senders (size %llu): %s",
                        (unsigned long long)size, vs_strerror(rc));
                goto out;
            }
            if (o->verify) {
                wl_pattern(want, size, o->seed,
                           (uint32_t)(note.src_node * 1000 + si));
                if (memcmp(in + (size_t)note.src_node * maxsize, want, size))
                    wl_fail(env, "data from node %d (size %llu) is wrong",
                            note.src_node, (unsigned long long)size);
            }
        }
        if ((rc = vmmc_flush(ctx))) {
            wl_fail(env, "send failed: %s", vs_strerror(rc));
            goto out;
        }
        double t1 = (double)h->ops->now(h);
        if (t1 > env->sh->marks[0][si])
            env->sh->marks[0][si] = t1;
        /* The last node to finish writes the row (reporting only). */
        if (++env->sh->starts[1][si] == n) {
            double us = (env->sh->marks[0][si] - env->sh->starts[0][si]) / 1e6;
            double bytes = (double)size * o->count * n * (n - 1);
            struct wl_row *r = &env->sh->rows[env->sh->nrows++];
            r->size = size;
            r->latency_us = us / o->count / (n - 1);
            r->bandwidth_MBps = bytes / us;
        }
        /* A barrier over VMMC: nobody starts the next size (and overwrites
         * a slot) before every node has its data.  Node p writes si + 1
         * into word p of every peer's barrier export, then waits for all
         * words to say si + 1. */
        *bsrc = (uint32_t)si + 1;
        for (int k = 1; k < n; k++) {
            int peer = (me + k) % n;
            rc = vmmc_send(ctx, bimp[peer], (size_t)me * sizeof *bar, bsrc,
                           sizeof *bar, 0, NULL);
            if (rc) {
                wl_fail(env, "barrier send to node %d: %s", peer,
                        vs_strerror(rc));
                goto out;
            }
        }
        for (int k = 1; k < n; k++) {
            int peer = (me + k) % n;
            rc = vmmc_wait_u32(ctx, &bar[peer], (uint32_t)si + 1, WL_TIMEOUT);
            if (rc) {
                wl_fail(env, "barrier wait for node %d: %s", peer,
                        vs_strerror(rc));
                goto out;
            }
        }
        if ((rc = vmmc_flush(ctx))) {
            wl_fail(env, "barrier send failed: %s", vs_strerror(rc));
            goto out;
        }
    }
out:
    if (ctx) {
        h->ops->compute(h, 1 * HW_MS); /* let peers finish with our export */
        rc = vmmc_close(ctx);
        if (rc)
            wl_fail(env, "vmmc_close: %s", vs_strerror(rc));
    }
    free(in);
    free(out);
    free(imp);
    free(bimp);
    free(bar);
    free(bsrc);
    free(want);
}

const struct wl_def wl_alltoall = {
    .name = "alltoall",
    .summary = "every node streams to every other node at once",
    .parse = parse,
    .main = run,
    .min_nodes = 2,
};
