/*
 * sim/ — flows: bytes that cross the platform as one SimGrid communication
 * between two hosts, under SimGrid's flow-level network model (LV08 by
 * default: a latency factor, a bandwidth factor, and max-min sharing of
 * every link between the flows crossing it at the same time).
 *
 * A flow starts at sim_now() and its completion function runs as an
 * ordinary event of sim/engine.h at the simulated time SimGrid says its
 * last byte arrived (rounded to the picosecond), so the rest of the
 * simulator never sees SimGrid's clock.  Flows only progress inside
 * sim_run() (SimGrid actors carry them); sim_run_events() does not move
 * them.  See docs/fabric-flow.md for how the two clocks are kept together.
 */
#ifndef SIM_FLOW_H
#define SIM_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "sim/engine.h"

/* Starts a flow of bytes from host src to host dst (indices as in
 * sim_host_name) at sim_now(); done(arg) runs as an event when it ends.
 * src == dst or bytes == 0 cross no link: done runs at sim_now(), after the
 * events already queued for that time.  Returns 0, or VS_EINVAL (a host out
 * of range, no done function). */
int sim_flow_start(size_t src, size_t dst, uint64_t bytes, sim_fn done,
                   void *arg);

struct sim_flow_stats {
    uint64_t started;    /* flows handed to SimGrid */
    uint64_t completed;  /* flows whose completion was queued */
    uint64_t max_active; /* most flows in progress at once */
    uint64_t workers;    /* SimGrid actors made to carry them */
    uint64_t late;       /* completions SimGrid reported slightly before the
                            engine's clock (below SimGrid's timing
                            precision); queued at the engine's present */
    sim_time_t late_max; /* the most one was late by, picoseconds */
    uint64_t waits;      /* times the engine let SimGrid run to a time */
    uint64_t skipped;    /* times it did not need to: no flow could end */
};

/* Counters of the flows since sim_reset(). */
const struct sim_flow_stats *sim_flow_stats(void);
/* Flows started and not yet completed. */
uint64_t sim_flows_active(void);

#endif
