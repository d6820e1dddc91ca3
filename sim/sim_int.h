/* Internal to sim/: the SimGrid host behind node index i. */
#ifndef SIM_SIM_INT_H
#define SIM_SIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include <simgrid/forward.h>

sg_host_t sim__host(size_t i);

/* The order of host and link names (sim/platform.c): runs of digits
 * compare as numbers, so node-2 comes before node-10.  Negative, 0 or
 * positive like strcmp. */
int sim__natural_cmp(const char *a, const char *b);

/* Flows (sim/flow.c), for the engine actor: 1 if any flow is requested, in
 * progress or ended but not yet queued; lets flows progress up to until
 * (INT64_MAX: until one ends) and returns 1 if some ended (their
 * completions are then queued events), 0 once SimGrid reached until;
 * frees everything (from sim_shutdown). */
int sim__flow_busy(void);
int sim__flow_advance(int64_t until);
void sim__flow_reset(void);
/* 1 once a flow has been requested since the last reset: until then
 * sim__flow_busy() is 0, and the engine, which asks after every event,
 * need not call it. */
extern int sim__flows_used;
static inline int sim__flow_pending(void)
{
    return sim__flows_used && sim__flow_busy();
}

#endif
