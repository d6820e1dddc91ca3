/*
 * Invariants the simulator checks while it runs: resources never exceed
 * their capacity, simulated time never goes backwards, a packet is
 * delivered or dropped exactly once, a closed context leaves nothing
 * behind.  A violation is recorded (the first message is kept, all are
 * counted) and the run goes on, so it ends with a report that names it:
 * `vmmcsim run` then fails, and a sweep files the seed under the kind the
 * message starts with ("resources: ...", "simulator: ...").
 *
 * The checks are compiled in by default (tests, sweeps) and compiled out
 * with -DVS_NO_INVARIANTS (the benchmark build, `make bench`), where they
 * cost nothing: the condition is not evaluated.
 */
#ifndef UTIL_INV_H
#define UTIL_INV_H

#include <stdint.h>

#ifdef VS_NO_INVARIANTS
#define VS_INV(cond, ...) ((void)0)
#define VS_INVARIANTS_ON 0
#else
#define VS_INV(cond, ...)                                                   \
    ((cond) ? (void)0 : vs_inv_fail(__FILE__, __LINE__, __VA_ARGS__))
#define VS_INVARIANTS_ON 1
#endif

/* Records a violation; fmt starts with its kind and a colon. */
void vs_inv_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Violations so far in this process, and the first one's message ("" if
 * none). */
uint64_t vs_inv_count(void);
const char *vs_inv_first(void);
/* Forgets them (a test that plants a violation on purpose). */
void vs_inv_reset(void);

#endif
