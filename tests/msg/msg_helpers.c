/* Helpers for the libs/msg tests (tests/msg/msg_helpers.h). */
#define _POSIX_C_SOURCE 200809L
#include "tests/msg/msg_helpers.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/vmmc/helpers.h"
#include "util/err.h"

struct mt_run {
    int nranks;
    int custom;
    struct msg_params p;
    const mt_fn *fns;
};

/* A loop that never lets simulated time move on hangs in wall time, where
 * the simulator's deadlock and time-limit checks cannot see it: the
 * child gets SIGALRM instead, which the harness reports as a failure. */
#define MT_WALL_LIMIT_S 300

static void mt_main(hw_host *h, void *arg)
{
    const struct mt_run *t = arg;
    if (h->node == 0)
        alarm(MT_WALL_LIMIT_S);
    if (t->nranks && h->node >= t->nranks)
        return;
    struct mt_node n = {.h = h};
    TH_EXPECT_RC(vmmc_open(&n.vc, h), VS_OK);
    if (!n.vc)
        return;
    struct msg_params p;
    if (t->custom)
        p = t->p;
    else
        msg_params_default(&p);
    p.nranks = t->nranks;
    int rc = msg_init(n.vc, &p, &n.c);
    TH_CHECK(rc == VS_OK, "node %d: msg_init returned %d (%s): %s", h->node, rc,
             vs_strerror(rc), n.c ? "" : "no context");
    if (rc == VS_OK) {
        n.rank = msg_rank(n.c);
        n.size = msg_size(n.c);
        MT_EQ(n.rank, h->node);
        for (const mt_fn *f = t->fns; *f; f++) {
            if (f != t->fns)
                TH_EXPECT_RC(msg_barrier(n.c), VS_OK);
            (*f)(&n);
        }
        rc = msg_finalize(n.c);
        TH_CHECK(rc == VS_OK, "node %d: msg_finalize returned %d (%s): %s",
                 h->node, rc, vs_strerror(rc), msg_errmsg(n.c));
    }
    TH_EXPECT_RC(vmmc_close(n.vc), VS_OK);
}

void mt_run(const char *platform, int nranks, const struct msg_params *params,
            const mt_fn *fns)
{
    struct mt_run t = {.nranks = nranks, .custom = params != NULL, .fns = fns};
    if (params)
        t.p = *params;
    struct th_sim s = {.platform = platform, .node_main = mt_main, .arg = &t};
    th_run_sim(&s, 0);
}

uint32_t mt_seed(int src, int dst, int tag, size_t len)
{
    return (uint32_t)src * 1000003u + (uint32_t)dst * 7919u +
           (uint32_t)tag * 131u + (uint32_t)len;
}

void mt_expect_pattern(const unsigned char *buf, size_t len, uint32_t seed,
                       const char *what, size_t which)
{
    if (!len)
        return;
    unsigned char *want = malloc(len);
    th_pattern(want, len, seed);
    size_t i = 0;
    while (i < len && buf[i] == want[i])
        i++;
    TH_CHECK(i == len,
             "%s %zu (%zu bytes): byte %zu is 0x%02x, expected "
             "0x%02x",
             what, which, len, i, i < len ? buf[i] : 0, i < len ? want[i] : 0);
    free(want);
}

struct msg_stats mt_delta(const struct mt_node *n,
                          const struct msg_stats *before)
{
    struct msg_stats s;
    msg_get_stats(n->c, &s);
    s.eager_sent -= before->eager_sent;
    s.rndv_sent -= before->rndv_sent;
    s.self_sent -= before->self_sent;
    s.received -= before->received;
    s.unexpected -= before->unexpected;
    s.bytes_copied -= before->bytes_copied;
    s.bytes_zero_copy -= before->bytes_zero_copy;
    s.credit_updates -= before->credit_updates;
    s.exports -= before->exports;
    s.imports -= before->imports;
    return s;
}
