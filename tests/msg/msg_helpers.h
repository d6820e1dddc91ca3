/*
 * Helpers for the libs/msg tests: run a program on every rank of a
 * simulated cluster with msg opened on it (and closed after, checking
 * that finalize and vmmc_close succeed), and deterministic message
 * contents to check received bytes against.
 */
#ifndef TESTS_MSG_MSG_HELPERS_H
#define TESTS_MSG_MSG_HELPERS_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libs/msg/msg.h"
#include "tests/harness.h"

/* Checks for node programs (which run in the simulation's child process,
 * where only TH_CHECK reaches the parent: TH_EXPECT_EQ would be lost). */
#define MT_EQ(got, want)                                                       \
    do {                                                                       \
        long long mt_g_ = (long long)(got), mt_w_ = (long long)(want);         \
        TH_CHECK(mt_g_ == mt_w_, "%s = %lld, expected %lld", #got, mt_g_,      \
                 mt_w_);                                                       \
    } while (0)
#define MT_HAS(hay, needle)                                                    \
    do {                                                                       \
        const char *mt_h_ = (hay);                                             \
        TH_CHECK(strstr(mt_h_, (needle)) != NULL,                              \
                 "expected \"%s\" in "                                         \
                 "\"%s\"",                                                     \
                 (needle), mt_h_);                                             \
    } while (0)

struct mt_node {
    hw_host *h;
    vmmc_ctx *vc;
    msg_ctx *c; /* a program may finalize and re-init it */
    int rank, size;
};

typedef void (*mt_fn)(struct mt_node *n);

/* Runs the NULL-terminated scenarios fns in turn, with a barrier between
 * two, on ranks 0..nranks-1 (0: every node) of platform: one simulation,
 * msg_init(params; NULL = defaults) before, msg_finalize and vmmc_close
 * checked after.  (Every simulation costs a fork and a platform load, a
 * second or more under the sanitizers: scenarios share them.) */
void mt_run(const char *platform, int nranks, const struct msg_params *params,
            const mt_fn *fns);

/* The counters' growth since before (a scenario's own share). */
struct msg_stats mt_delta(const struct mt_node *n,
                          const struct msg_stats *before);

/* The seed of the contents of a message. */
uint32_t mt_seed(int src, int dst, int tag, size_t len);
/* Checks that buf holds th_pattern(len, seed); names what and which on
 * failure, with the first wrong byte. */
void mt_expect_pattern(const unsigned char *buf, size_t len, uint32_t seed,
                       const char *what, size_t which);

/* Scenarios of tests/msg/test_coll.c: every collective, checked. */
void mt_collectives(struct mt_node *n);

#endif
