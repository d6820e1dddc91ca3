/*
 * Flows (sim/flow.h) on SimGrid's network model, and how they fit the
 * engine's own clock.
 *
 * The engine (sim/engine.c) keeps its own event queue and integer clock;
 * SimGrid's clock is only moved by the engine actor.  A flow is carried by
 * a worker actor that calls sg_host_sendto() (a SimGrid communication
 * between two hosts, with no mailbox) and, when it returns, notes SimGrid's
 * clock, queues the flow on a done list and releases the engine's
 * semaphore.  Workers are kept in a pool and reused; each waits for its
 * next flow on its own semaphore.
 *
 * The engine actor drives everything.  sim_flow_start() only queues a
 * request (it may be called from a host process, whose view of SimGrid's
 * clock may lag).  Whenever flows are pending or in progress, the engine,
 * before it fires the next event at time T, calls sim__flow_advance(T):
 *   1. pending requests: SimGrid's clock is brought to the engine's present
 *      (nothing is in progress that could end in between, see below) and
 *      each request goes to a worker, which starts its communication before
 *      SimGrid's clock moves again (SimGrid runs every ready actor before it
 *      advances time);
 *   2. with flows in progress it waits on its semaphore for at most T minus
 *      SimGrid's present: either the wait times out at T (the event can
 *      fire: SimGrid's clock and the engine's agree again), or a flow ended
 *      first at some t <= T, in which case its completion is queued as an
 *      event at t and the engine goes round its loop (which fires it).
 * So SimGrid's clock never runs ahead of the next event, and no flow can
 * end in SimGrid before the engine's present.  One shortcut: a flow cannot
 * end before its bytes crossed its route's narrowest link at full speed
 * (flow_bound: SimGrid's models only add latency and take bandwidth away),
 * so while the next event comes before the earliest such bound of the flows
 * in progress, step 2 is skipped and SimGrid's clock is left behind; it
 * catches up at the next wait or start, and nothing can end meanwhile.
 * (This assumes a bandwidth factor of at most 1, true of SimGrid's models.)
 * A completion SimGrid dates earlier than the engine's present by less
 * than its timing precision (1 ns; the flow started that much early
 * because shorter sleeps are not made) is queued at the present and
 * counted in sim_flow_stats()->late.
 *
 * Determinism: SimGrid runs actors in a deterministic order, the pool hands
 * out workers last-in first-out, and completions are queued in the order
 * the workers reported them, so equal runs give equal results.
 */
#include "sim/flow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simgrid/actor.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/semaphore.h>

#include "sim/sim_int.h"
#include "util/err.h"

/* Worker actors need little stack: sg_host_sendto and SimGrid's context
 * switch (more under ASan). */
#define WORKER_STACK (128 * 1024u)
/* SimGrid's default timing precision (precision/timing, seconds): shorter
 * sleeps are not made (SimGrid would warn and round them). */
#define SG_PRECISION 1e-9

struct flow {
    struct flow *next;
    size_t src, dst;
    uint64_t bytes;
    sim_fn done;
    void *arg;
    double t_end; /* SimGrid seconds */
    sim_time_t t_min; /* it cannot end earlier (flow_bound) */
};

struct worker {
    struct worker *next_idle;
    sg_sem_t go;
    struct flow *job;
};

static struct {
    struct flow *pend_head, *pend_tail; /* requested, not yet started */
    uint64_t npend;
    struct flow *done_head, *done_tail; /* ended, not yet queued as events */
    struct flow *free_flows;
    uint64_t active; /* started and not yet queued as events */
    struct worker **workers;
    size_t nworkers;
    struct worker *idle;
    sg_sem_t done_sem;
    sim_time_t t_min;  /* the earliest any flow in progress can end */
    int t_min_stale;   /* a flow ended: recompute t_min */
    struct sim_flow_stats st;
} F;

static void fifo_push(struct flow **head, struct flow **tail, struct flow *f)
{
    f->next = NULL;
    if (*tail)
        (*tail)->next = f;
    else
        *head = f;
    *tail = f;
}

static struct flow *fifo_pop(struct flow **head, struct flow **tail)
{
    struct flow *f = *head;
    if (f) {
        *head = f->next;
        if (!*head)
            *tail = NULL;
    }
    return f;
}

static void free_list(struct flow *f)
{
    while (f) {
        struct flow *n = f->next;
        free(f);
        f = n;
    }
}

void sim__flow_reset(void)
{
    sim__flows_used = 0;
    /* Called after simgrid_run() returned (or before SimGrid ran): the
     * worker actors are gone; what they held is ours to free. */
    for (size_t i = 0; i < F.nworkers; i++) {
        free(F.workers[i]->job);
        sg_sem_destroy(F.workers[i]->go);
        free(F.workers[i]);
    }
    free(F.workers);
    if (F.done_sem)
        sg_sem_destroy(F.done_sem);
    free_list(F.pend_head);
    free_list(F.done_head);
    free_list(F.free_flows);
    memset(&F, 0, sizeof F);
}

const struct sim_flow_stats *sim_flow_stats(void) { return &F.st; }
uint64_t sim_flows_active(void) { return F.active + F.npend; }

int sim__flows_used;

int sim__flow_busy(void) { return F.pend_head || F.done_head || F.active; }

static void flow_free(struct flow *f)
{
    f->next = F.free_flows;
    F.free_flows = f;
}

int sim_flow_start(size_t src, size_t dst, uint64_t bytes, sim_fn done,
                   void *arg)
{
    size_t n = sim_host_count();
    if (!done || src >= n || dst >= n)
        return VS_EINVAL;
    if (src == dst || bytes == 0) {
        sim_post(sim_now(), done, arg);
        return VS_OK;
    }
    struct flow *f = F.free_flows;
    if (f)
        F.free_flows = f->next;
    else if (!(f = malloc(sizeof *f))) {
        fprintf(stderr, "vmmcsim: out of memory (flows)\n");
        abort();
    }
    *f = (struct flow){NULL, src, dst, bytes, done, arg, 0, 0};
    sim__flows_used = 1;
    fifo_push(&F.pend_head, &F.pend_tail, f);
    F.npend++;
    return VS_OK;
}

static void worker_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct worker *w = sg_actor_self_get_data();
    /* A daemon: SimGrid ends it when the host processes and the engine
     * are done, wherever it waits.  From inside: SimGrid 3.32 crashes at
     * the end of the run (killing daemons) if the actor was made a daemon
     * before it started. */
    sg_actor_daemonize(sg_actor_self());
    for (;;) {
        sg_sem_acquire(w->go);
        struct flow *f = w->job;
        sg_host_sendto(sim__host(f->src), sim__host(f->dst), (double)f->bytes);
        f->t_end = simgrid_get_clock();
        w->job = NULL;
        fifo_push(&F.done_head, &F.done_tail, f);
        w->next_idle = F.idle;
        F.idle = w;
        sg_sem_release(F.done_sem);
    }
}

static struct worker *worker_get(size_t host)
{
    struct worker *w = F.idle;
    if (w) {
        F.idle = w->next_idle;
        return w;
    }
    struct worker **ws = realloc(F.workers, (F.nworkers + 1) * sizeof *ws);
    if (!ws || !(w = calloc(1, sizeof *w))) {
        fprintf(stderr, "vmmcsim: out of memory (flow workers)\n");
        abort();
    }
    F.workers = ws;
    F.workers[F.nworkers++] = w;
    w->go = sg_sem_init(0);
    char name[32];
    snprintf(name, sizeof name, "flow-%zu", F.nworkers);
    sg_actor_t a = sg_actor_init(name, sim__host(host));
    sg_actor_set_stacksize(a, WORKER_STACK);
    sg_actor_set_data(a, w);
    sg_actor_start(a, worker_main, 0, NULL);
    F.st.workers++;
    return w;
}

static double to_sg(sim_time_t t) { return (double)t * 1e-12; }

/* The earliest a flow of bytes from src to dst started now can end: its
 * bytes at the route's narrowest bandwidth, with no latency and the whole
 * link to itself.  SimGrid's models only take from that (a latency, a
 * bandwidth factor below 1, sharing), so until then the engine need not
 * ask SimGrid about it.  Less SimGrid's timing precision, to be safe. */
static sim_time_t flow_bound(const struct flow *f)
{
    double bw = sg_host_get_route_bandwidth(sim__host(f->src),
                                            sim__host(f->dst));
    double s = bw > 0 ? (double)f->bytes / bw - SG_PRECISION : 0;
    return sim_now() + (s > 0 ? (sim_time_t)(s * 1e12) : 0);
}

static sim_time_t bound_min(void)
{
    if (F.t_min_stale) {
        F.t_min = INT64_MAX;
        for (size_t i = 0; i < F.nworkers; i++)
            if (F.workers[i]->job && F.workers[i]->job->t_min < F.t_min)
                F.t_min = F.workers[i]->job->t_min;
        F.t_min_stale = 0;
    }
    return F.t_min;
}

/* Queues the completions the workers reported as events; returns 1 if
 * there were any. */
static int queue_done(sim_time_t until)
{
    int any = 0;
    struct flow *f;
    while ((f = fifo_pop(&F.done_head, &F.done_tail))) {
        sim_time_t t = (sim_time_t)llround(f->t_end * 1e12);
        if (t < sim_now()) {
            if (sim_now() - t > F.st.late_max)
                F.st.late_max = sim_now() - t;
            t = sim_now();
            F.st.late++;
        }
        if (t > until) /* within SimGrid's precision past the bound */
            t = until;
        sim_post(t, f->done, f->arg);
        F.t_min_stale = 1;
        F.active--;
        F.st.completed++;
        flow_free(f);
        any = 1;
    }
    return any;
}

int sim__flow_advance(sim_time_t until)
{
    if (!F.done_sem) {
        F.done_sem = sg_sem_init(0);
        F.t_min_stale = 1;
    }
    if (queue_done(until))
        return 1;
    if (F.pend_head) {
        /* Bring SimGrid to our present before anything starts. */
        double now = to_sg(sim_now());
        if (now - simgrid_get_clock() >= SG_PRECISION)
            sg_actor_sleep_until(now);
        struct flow *f;
        while ((f = fifo_pop(&F.pend_head, &F.pend_tail))) {
            F.npend--;
            struct worker *w = worker_get(f->src);
            w->job = f;
            f->t_min = flow_bound(f);
            if (!F.t_min_stale && f->t_min < F.t_min)
                F.t_min = f->t_min;
            F.active++;
            F.st.started++;
            if (F.active > F.st.max_active)
                F.st.max_active = F.active;
            sg_sem_release(w->go);
        }
        if (queue_done(until)) /* none can have ended; for safety */
            return 1;
    }
    while (F.active) {
        int timed_out;
        if (until < bound_min()) {
            /* Nothing can end before until: SimGrid's clock may lag. */
            F.st.skipped++;
            return 0;
        }
        F.st.waits++;
        if (until == INT64_MAX) {
            sg_sem_acquire(F.done_sem);
            timed_out = 0;
        } else {
            double dt = to_sg(until) - simgrid_get_clock();
            if (dt <= 0)
                return 0;
            timed_out = sg_sem_acquire_timeout(F.done_sem, dt);
        }
        if (queue_done(until))
            return 1;
        if (timed_out)
            return 0;
        /* A release whose flow an earlier round already queued: wait on. */
    }
    return 0;
}
