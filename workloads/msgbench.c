/*
 * The msg workloads: libs/msg between nodes 0 and 1, per message size: one-way
 * latency as half a msg_send/msg_recv round trip (two warm-up round trips,
 * then --iters timed ones: the first use of a buffer pays its pinning and
 * its rendezvous export and import), and the streaming bandwidth of a
 * burst of msg_isend into receives posted beforehand, delivered bytes over
 * the time until the receiver's answer arrives.  Rows: size, latency_us,
 * bandwidth_MBps (the stream's, unlike pingpong's size / latency).
 *
 * Three variants, for `make bench` to show where the eager/rendezvous
 * crossover lies: msg (the default parameters), msg-eager (every size up
 * to 64 KiB eager; larger sizes give no row) and msg-rndv (every message
 * by rendezvous).  bench/run.sh puts them next to the raw
 * VMMC pingpong and bandwidth figures in build/bench/msg.csv.
 */
#include <stdlib.h>
#include <string.h>

#include "libs/msg/msg.h"
#include "vmmc/vmmc.h"
#include "workloads/wl.h"
#include "workloads/wl_int.h"

#define WARMUP 2
#define EAGER_MAX 65536 /* msg's largest eager limit */

static int parse(struct wl_opts *o, int argc, char **argv, char *err,
                 size_t errlen)
{
    return wl_parse_common(o, argc, argv, err, errlen);
}

/* Messages in the bandwidth burst: about 2 MiB, between 8 and 200. */
static int burst(uint64_t size)
{
    uint64_t n = (2u << 20) / size;
    return n < 8 ? 8 : n > 200 ? 200 : (int)n;
}

struct bench {
    struct wl_env *env;
    const struct wl_opts *o;
    msg_ctx *c;
    unsigned char *sbuf, *rbuf;
    msg_req **reqs;
    int peer;
};

static int fail_rc(struct bench *b, const char *what, int rc)
{
    wl_fail(b->env, "%s: %s", what, msg_errmsg(b->c));
    return rc;
}

static int pingpong(struct bench *b, uint64_t size, double *us)
{
    hw_host *h = b->env->host;
    hw_time_t t0 = 0;
    for (int it = 0; it < WARMUP + b->o->iters; it++) {
        if (it == WARMUP)
            t0 = h->ops->now(h);
        for (int leg = 0; leg < 2; leg++) {
            int rc;
            if (b->env->node == leg) {
                if (b->o->verify)
                    wl_pattern(b->sbuf, size, b->o->seed, (uint32_t)it);
                rc = msg_send(b->c, b->sbuf, size, b->peer, it);
            } else {
                struct msg_status st;
                rc = msg_recv(b->c, b->rbuf, size, b->peer, it, &st);
                if (!rc && st.count != size)
                    rc = VS_EIO;
                if (!rc && b->o->verify) {
                    wl_pattern(b->sbuf, size, b->o->seed, (uint32_t)it);
                    if (memcmp(b->sbuf, b->rbuf, size)) {
                        wl_fail(b->env, "a %llu-byte message arrived wrong",
                                (unsigned long long)size);
                        return VS_EIO;
                    }
                }
            }
            if (rc)
                return fail_rc(b, "ping-pong", rc);
        }
    }
    *us = (double)(h->ops->now(h) - t0) / b->o->iters / 2 / 1e6;
    return 0;
}

/* Node 1 posts every receive, says so with an empty message, and answers
 * with another once all have arrived; node 0 times from the first send to
 * that answer. */
static int stream(struct bench *b, uint64_t size, double *MBps)
{
    hw_host *h = b->env->host;
    int n = burst(size), rc = 0;
    if (b->env->node == 1) {
        for (int i = 0; i < n && !rc; i++)
            rc = msg_irecv(b->c, b->rbuf, size, 0, 1, &b->reqs[i]);
        if (!rc)
            rc = msg_send(b->c, NULL, 0, 0, 2);
        if (!rc)
            rc = msg_waitall(b->c, (size_t)n, b->reqs, NULL);
        if (!rc)
            rc = msg_send(b->c, NULL, 0, 0, 3);
        return rc ? fail_rc(b, "stream", rc) : 0;
    }
    rc = msg_recv(b->c, NULL, 0, 1, 2, NULL);
    hw_time_t t0 = h->ops->now(h);
    for (int i = 0; i < n && !rc; i++)
        rc = msg_isend(b->c, b->sbuf, size, 1, 1, &b->reqs[i]);
    if (!rc)
        rc = msg_waitall(b->c, (size_t)n, b->reqs, NULL);
    if (!rc)
        rc = msg_recv(b->c, NULL, 0, 1, 3, NULL);
    if (rc)
        return fail_rc(b, "stream", rc);
    double us = (double)(h->ops->now(h) - t0) / 1e6;
    *MBps = (double)size * n / us;
    return 0;
}

static void run_with(struct wl_env *env, size_t eager_limit)
{
    const struct wl_opts *o = env->sh->opts;
    if (env->node > 1)
        return;
    struct bench b = {.env = env, .o = o, .peer = 1 - env->node};
    uint64_t max = 0;
    for (int i = 0; i < o->nsizes; i++)
        if (o->sizes[i] > max)
            max = o->sizes[i];
    vmmc_ctx *vc = NULL;
    b.sbuf = wl_alloc_pages(max);
    b.rbuf = wl_alloc_pages(max);
    b.reqs = calloc(200, sizeof *b.reqs);
    int rc = b.sbuf && b.rbuf && b.reqs ? vmmc_open(&vc, env->host) : VS_ENOMEM;
    if (rc) {
        wl_fail(env, "setting up: %s", vs_strerror(rc));
        goto out;
    }
    struct msg_params p;
    msg_params_default(&p);
    p.nranks = 2;
    /* The profile's [msg] values, then the variant's forced limit. */
    const struct wl_msg_conf *mc = &env->sh->msg;
    if (mc->eager_set)
        p.eager_limit = mc->eager_limit;
    if (mc->ring_slots)
        p.ring_slots = mc->ring_slots;
    if (mc->copy_MBps)
        p.copy_MBps = mc->copy_MBps;
    if (eager_limit != (size_t)-1)
        p.eager_limit = eager_limit;
    if ((rc = msg_init(vc, &p, &b.c))) {
        wl_fail(env, "msg_init: %s", vs_strerror(rc));
        goto out;
    }
    for (int si = 0; si < o->nsizes && !env->sh->failed; si++) {
        uint64_t size = o->sizes[si];
        if (eager_limit == EAGER_MAX && size > EAGER_MAX)
            continue; /* cannot be sent eagerly */
        double us = 0, MBps = 0;
        if (pingpong(&b, size, &us) || stream(&b, size, &MBps))
            break;
        if (env->node == 0) {
            struct wl_row *r = &env->sh->rows[env->sh->nrows++];
            r->size = size;
            r->latency_us = us;
            r->bandwidth_MBps = MBps;
        }
    }
    if ((rc = msg_finalize(b.c)))
        wl_fail(env, "msg_finalize: %s", vs_strerror(rc));
out:
    if (vc && (rc = vmmc_close(vc)))
        wl_fail(env, "vmmc_close: %s", vs_strerror(rc));
    free(b.sbuf);
    free(b.rbuf);
    free(b.reqs);
}

static void run_default(struct wl_env *env)
{
    run_with(env, (size_t)-1);
}
static void run_eager(struct wl_env *env)
{
    run_with(env, EAGER_MAX);
}
static void run_rndv(struct wl_env *env)
{
    run_with(env, 0);
}

const struct wl_def wl_msgbench = {
    .name = "msg",
    .summary = "libs/msg latency and stream bandwidth between nodes 0 and 1",
    .parse = parse,
    .main = run_default,
    .min_nodes = 2,
};

const struct wl_def wl_msgbench_eager = {
    .name = "msg-eager",
    .summary = "msg with every message up to 64 KiB sent eagerly",
    .parse = parse,
    .main = run_eager,
    .min_nodes = 2,
};

const struct wl_def wl_msgbench_rndv = {
    .name = "msg-rndv",
    .summary = "msg with every message sent by rendezvous",
    .parse = parse,
    .main = run_rndv,
    .min_nodes = 2,
};
