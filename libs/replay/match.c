/*
 * Which sends of a trace no receive takes (libs/replay/replay.h): the
 * explanation `vmmcsim replay` gives when a replay ends with messages
 * nobody received.  Matching is MPI's, per pair of ranks: a receive from
 * rank s with tag t takes the oldest message from s with tag t that no
 * earlier receive took (messages between two ranks do not overtake).
 * Receives from any source make the answer uncertain; then only the
 * number of messages is compared.
 */
#include "libs/replay/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A send or a receive of the pair (s, d), in the order of its rank. */
struct ev {
    int32_t tag; /* -1: any (receives) */
    size_t act;  /* the action, in its rank's list */
    int taken;
};

/* The sends from s to d (s's actions) and the receives at d from s (d's
 * actions), with sendRecv counted both ways. */
static size_t collect(const struct replay_trace *t, int me, int peer, int sends,
                      struct ev *out)
{
    const struct replay_rank *rk = &t->ranks[me];
    size_t n = 0;
    for (size_t i = 0; i < rk->nacts; i++) {
        const struct replay_action *a = &rk->acts[i];
        int match = 0;
        if (sends)
            match = ((a->op == REPLAY_SEND || a->op == REPLAY_ISEND ||
                      a->op == REPLAY_SENDRECV) &&
                     a->peer == peer);
        else if (a->op == REPLAY_SENDRECV)
            match = a->peer2 == peer;
        else
            match = (a->op == REPLAY_RECV || a->op == REPLAY_IRECV) &&
                    a->peer == peer;
        if (match) {
            if (out)
                out[n] = (struct ev){a->tag, i, 0};
            n++;
        }
    }
    return n;
}

static int any_source(const struct replay_trace *t)
{
    for (int r = 0; r < t->nranks; r++)
        for (size_t i = 0; i < t->ranks[r].nacts; i++) {
            const struct replay_action *a = &t->ranks[r].acts[i];
            if ((a->op == REPLAY_RECV || a->op == REPLAY_IRECV) && a->peer < 0)
                return 1;
        }
    return 0;
}

size_t replay_unmatched(const struct replay_trace *t, char *buf, size_t len)
{
    size_t total = 0;
    int first = 1, wild = any_source(t);
    if (len)
        buf[0] = 0;
    for (int s = 0; s < t->nranks; s++)
        for (int d = 0; d < t->nranks; d++) {
            size_t ns = collect(t, s, d, 1, NULL);
            size_t nr = collect(t, d, s, 0, NULL);
            if (wild) {
                /* Only the count is sure: nothing per pair. */
                continue;
            }
            struct ev *sv = calloc(ns ? ns : 1, sizeof *sv);
            struct ev *rv = calloc(nr ? nr : 1, sizeof *rv);
            if (!sv || !rv) {
                free(sv);
                free(rv);
                continue;
            }
            collect(t, s, d, 1, sv);
            collect(t, d, s, 0, rv);
            for (size_t r = 0; r < nr; r++)
                for (size_t k = 0; k < ns; k++)
                    if (!sv[k].taken &&
                        (rv[r].tag < 0 || rv[r].tag == sv[k].tag)) {
                        sv[k].taken = 1;
                        break;
                    }
            for (size_t k = 0; k < ns; k++) {
                if (sv[k].taken)
                    continue;
                if (first && len) {
                    const struct replay_action *a =
                        &t->ranks[s].acts[sv[k].act];
                    snprintf(buf, len,
                             "%s:%d: rank %d's %s to rank %d "
                             "with tag %d has no matching "
                             "receive in rank %d's trace (%s)",
                             t->ranks[s].file, (int)a->line, s,
                             replay_op_name(a->op), d, (int)a->tag, d,
                             t->ranks[d].file);
                    first = 0;
                }
                total++;
            }
            free(sv);
            free(rv);
        }
    return total;
}
