/*
 * pingpong: one-way latency as half the round trip, between nodes 0 and 1.
 * Each node exports a receive buffer and imports the other's; node 0 sends
 * a message, node 1 waits for its last word (the receiver spins on a flag,
 * as in the VMMC papers' measurements) and sends it back.  Two warm-up
 * round trips per size, then --iters timed ones.  Other nodes stay idle.
 */
#include <stdlib.h>
#include <string.h>

#include "vmmc/vmmc.h"
#include "workloads/wl.h"
#include "workloads/wl_int.h"

#define WARMUP 2

static int parse(struct wl_opts *o, int argc, char **argv, char *err,
                 size_t errlen)
{
    return wl_parse_common(o, argc, argv, err, errlen);
}

static void run(struct wl_env *env)
{
    const struct wl_opts *o = env->sh->opts;
    if (env->node > 1)
        return;
    struct wl_pair pr;
    if (wl_pair_open(env, &pr))
        return;
    int peer = 1 - env->node;
    uint32_t tag = 0;
    for (int si = 0; si < o->nsizes && !env->sh->failed; si++) {
        uint64_t size = o->sizes[si];
        const unsigned char *flag = pr.rbuf + size - 4;
        hw_time_t t0 = 0;
        for (int it = 0; it < WARMUP + o->iters; it++) {
            if (it == WARMUP)
                t0 = env->host->ops->now(env->host);
            for (int leg = 0; leg < 2; leg++) {
                tag++;
                int sender = leg == 0 ? 0 : 1;
                if (env->node == sender) {
                    wl_fill(&pr, size, tag, o);
                    int rc = vmmc_send(pr.ctx, pr.imp, 0,
                                       wl_src(&pr, o, size, (uint64_t)it),
                                       size, 0, NULL);
                    if (rc) {
                        wl_fail(env, "send of %llu bytes to node %d: %s",
                                (unsigned long long)size, peer,
                                vs_strerror(rc));
                        goto out;
                    }
                } else {
                    int rc = vmmc_wait_bytes(pr.ctx, flag, &tag, 4, WL_TIMEOUT);
                    if (rc) {
                        wl_fail(env, "waiting for %llu bytes: %s",
                                (unsigned long long)size, vs_strerror(rc));
                        goto out;
                    }
                    if (o->verify && wl_check(env, &pr, size, tag))
                        goto out;
                }
            }
        }
        if (env->node == 0) {
            hw_time_t t1 = env->host->ops->now(env->host);
            double one_way_us = (double)(t1 - t0) / o->iters / 2 / 1e6;
            struct wl_row *r = &env->sh->rows[env->sh->nrows++];
            r->size = size;
            r->latency_us = one_way_us;
            r->bandwidth_MBps = (double)size / one_way_us;
        }
    }
out:
    wl_pair_close(env, &pr);
}

const struct wl_def wl_pingpong = {
    .name = "pingpong",
    .summary = "one-way latency (half round trip) between nodes 0 and 1",
    .parse = parse,
    .main = run,
    .min_nodes = 2,
};
