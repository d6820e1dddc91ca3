/*
 * bandwidth: streaming from node 0 to node 1 (and node 1 to node 0 at the
 * same time with --bidir).  For each size the sender posts --count
 * asynchronous sends back to back (the library's command queue is the
 * window); the last one carries a tag in its last word, and in-order
 * delivery means the whole stream has landed when the receiver sees it.
 * Bandwidth is bytes over the time from the first post to that moment,
 * read on the one simulated clock; latency_us is that time per message.
 * With --bidir the bandwidth is the sum of both directions.
 */
#include <string.h>

#include "vmmc/vmmc.h"
#include "workloads/wl.h"
#include "workloads/wl_int.h"

static int parse(struct wl_opts *o, int argc, char **argv, char *err,
                 size_t errlen)
{
    return wl_parse_common(o, argc, argv, err, errlen);
}

static int auto_count(uint64_t size)
{
    uint64_t c = (8ull << 20) / size;
    return c < 16 ? 16 : c > 1000 ? 1000 : (int)c;
}


static void run(struct wl_env *env)
{
    const struct wl_opts *o = env->sh->opts;
    if (env->node > 1)
        return;
    struct wl_pair pr;
    if (wl_pair_open(env, &pr))
        return;
    int me = env->node, peer = 1 - me;
    int sending = me == 0 || o->bidir, receiving = me == 1 || o->bidir;
    hw_host *h = env->host;
    for (int si = 0; si < o->nsizes && !env->sh->failed; si++) {
        uint64_t size = o->sizes[si];
        int count = o->count ? o->count : auto_count(size);
        uint32_t tag = (uint32_t)si + 1;
        int rc = 0;
        if (sending) {
            env->sh->starts[me][si] = (double)h->ops->now(h);
            /* Every message carries the pattern; only the last one ends
             * with the tag the receiver waits for. */
            wl_fill(&pr, size, tag, o);
            memset(pr.sbuf + size - 4, 0, 4);
            for (int i = 0; i + 1 < count && !rc; i++)
                rc = vmmc_send(pr.ctx, pr.imp, 0,
                               wl_src(&pr, o, size, (uint64_t)i), size, 0,
                               NULL);
            if (!rc) {
                memcpy(pr.sbuf2, pr.sbuf, size - 4);
                memcpy(pr.sbuf2 + size - 4, &tag, 4);
                rc = vmmc_send(pr.ctx, pr.imp, 0, pr.sbuf2, size, 0, NULL);
            }
            if (rc) {
                wl_fail(env, "send of %llu bytes: %s",
                        (unsigned long long)size, vs_strerror(rc));
                break;
            }
        }
        if (receiving) {
            const unsigned char *flag = pr.rbuf + size - 4;
            rc = vmmc_wait_bytes(pr.ctx, flag, &tag, 4, WL_TIMEOUT);
            if (rc) {
                wl_fail(env, "waiting for the %llu-byte stream: %s",
                        (unsigned long long)size, vs_strerror(rc));
                break;
            }
            env->sh->marks[peer][si] = (double)h->ops->now(h);
            if (o->verify && wl_check(env, &pr, size, tag))
                break;
            *pr.ack_src = tag;
            rc = vmmc_send(pr.ctx, pr.imp_ack, 0, pr.ack_src, 4, 0, NULL);
        }
        if (sending && !rc)
            rc = vmmc_wait_u32(pr.ctx, pr.ack, tag, WL_TIMEOUT);
        if (rc) {
            wl_fail(env, "acknowledgement for %llu bytes: %s",
                    (unsigned long long)size, vs_strerror(rc));
            break;
        }
        /* Let the acknowledgement's completion land before reusing. */
        vmmc_flush(pr.ctx);
        if (me == 0) {
            double t0 = env->sh->starts[0][si], t1 = env->sh->marks[0][si];
            double bytes = (double)size * count;
            if (o->bidir) {
                if (env->sh->starts[1][si] < t0)
                    t0 = env->sh->starts[1][si];
                if (env->sh->marks[1][si] > t1)
                    t1 = env->sh->marks[1][si];
                bytes *= 2;
            }
            double us = (t1 - t0) / 1e6;
            struct wl_row *r = &env->sh->rows[env->sh->nrows++];
            r->size = size;
            r->latency_us = us / count;
            r->bandwidth_MBps = bytes / us;
        }
    }
    wl_pair_close(env, &pr);
}

const struct wl_def wl_bandwidth = {
    .name = "bandwidth",
    .summary = "streaming bandwidth from node 0 to node 1 (--bidir: both)",
    .parse = parse,
    .main = run,
    .min_nodes = 2,
};
