/*
 * sim/ — the discrete-event engine, on SimGrid.
 *
 * Hardware events (DMA done, packet hop, timer) are plain callbacks in one
 * event queue ordered by (integer time, insertion sequence), so equal-time
 * events always fire in the order they were posted and runs are
 * deterministic.  Host processes are SimGrid actors running real C code; they
 * block in simulated time through sim_proc_sleep() / sim_proc_block() and are
 * made runnable by sim_proc_wake() from an event.  One engine actor drains the
 * queue; it hands control to host actors only when an event woke one, so an
 * actor switch happens per host interaction, not per packet.
 *
 * Time is integer picoseconds (sim_time_t); SimGrid's double seconds are
 * converted here and nowhere else.  The engine can also run with no actors at
 * all (sim_run_events), which the model unit tests use.
 *
 * Only sim/ includes SimGrid.
 */
#ifndef SIM_ENGINE_H
#define SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t sim_time_t; /* picoseconds, same unit as hw_time_t */
typedef void (*sim_fn)(void *arg);

/* An event.  Callers that need to cancel (timers) embed or allocate one and
 * use sim_event_at / sim_event_cancel; one-shot callers use sim_post(). */
struct sim_event {
    sim_time_t t;
    uint64_t seq;
    sim_fn fn;
    void *arg;
    size_t heap_idx; /* SIZE_MAX when not queued. */
};

/* Resets the engine (time 0, empty queue).  Must be called before use. */
void sim_reset(void);
/* Frees the engine's memory (the queue). */
void sim_shutdown(void);
sim_time_t sim_now(void);
/* After sim_run: when the last host process returned. */
sim_time_t sim_procs_end(void);

/* Schedules fn(arg) at absolute time t >= sim_now(). */
void sim_post(sim_time_t t, sim_fn fn, void *arg);
void sim_event_init(struct sim_event *ev);
void sim_event_at(struct sim_event *ev, sim_time_t t, sim_fn fn, void *arg);
/* Removes a queued event; harmless if it is not queued. */
void sim_event_cancel(struct sim_event *ev);
int sim_event_queued(const struct sim_event *ev);

/* Drains the queue without actors (model unit tests).  Runs events with
 * t <= until (HW_TIME_NEVER-like INT64_MAX for all).  Returns the count. */
uint64_t sim_run_events(sim_time_t until);
uint64_t sim_events_processed(void);

/* ---- Host processes (SimGrid actors) ---- */

typedef struct sim_proc sim_proc;
typedef void (*sim_proc_main)(sim_proc *p, void *arg);

/* Options of one simulation run. */
struct sim_opts {
    sim_time_t max_time;  /* Give up past this simulated time (0 = none). */
    unsigned stack_kib;   /* Host process stack size, KiB (0 = 256). */
    int progress;         /* every second of wall time, one line on stderr:
                             simulated time, wall time, events/s */
};

/* Loads a SimGrid platform file and initialises SimGrid.  Call once per OS
 * process, before anything else of this section.  Errors in the file abort
 * inside SimGrid, so callers validate first with sim_platform_check(). */
void sim_platform_load(const char *path, int *argc, char **argv);
/* Checks that a platform file loads (in a child process), and counts its
 * hosts.  On error returns VS_ECONFIG with a one-line message in err. */
int sim_platform_check(const char *path, int *nhosts, char *err, size_t errlen);

size_t sim_host_count(void);
const char *sim_host_name(size_t i);
/* Host i's speed in flops per second (the platform's speed attribute, at
 * its current power state). */
double sim_host_speed(size_t i);
/* The route from host a to host b as link indices (into sim_link_*), written
 * to links[]; returns how many (at most max), or -1 if more than max. */
int sim_route(size_t a, size_t b, size_t *links, int max);
/* 1 if link i is a SimGrid limiter link (name ending in "_limiter"), which
 * sim_route leaves out of routes. */
int sim_link_is_limiter(size_t i);
size_t sim_link_count(void);
const char *sim_link_name(size_t i);
double sim_link_bandwidth(size_t i); /* bytes per second */
sim_time_t sim_link_latency(size_t i);
int sim_link_shared(size_t i); /* 1 if both directions share it */

/* Creates the actor of host process number i on SimGrid host i. */
sim_proc *sim_proc_create(size_t host, const char *name, sim_proc_main fn,
                          void *arg);
/* For the engine's own tests: suspends the calling process's actor without
 * telling the engine, as a lost wake-up would leave it (sim_run must then
 * fail, not return 0). */
void sim_proc_stray_for_test(void);
/* Runs the simulation until every host process returned.  Returns 0,
 * VS_EDEADLK if all live processes were blocked with nothing scheduled (or
 * SimGrid stopped with a process never resumed), or VS_ETIMEDOUT past
 * opts->max_time; err describes the failure.  Sets glibc's mmap threshold
 * (host-process stacks on mappings of their own, then 32 MiB). */
int sim_run(const struct sim_opts *opts, char *err, size_t errlen);

/* From inside a host process: */
sim_proc *sim_proc_self(void);
void sim_proc_sleep(sim_proc *p, sim_time_t dt);
/* Blocks until sim_proc_wake(p); what is a label for deadlock reports. */
void sim_proc_block(sim_proc *p, const char *what);
/* Makes a blocked process runnable (from an event or another process).
 * Harmless if it is not blocked. */
void sim_proc_wake(sim_proc *p);
int sim_proc_blocked(const sim_proc *p);
size_t sim_proc_host(const sim_proc *p);

#endif
