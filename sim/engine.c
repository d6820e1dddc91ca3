/*
 * The event queue, the integer clock and the host-process scheduling of
 * sim/engine.h.  The queue is a binary min-heap of event pointers ordered by
 * (time, sequence).  Host processes are SimGrid actors that suspend
 * themselves to block; the engine actor suspends itself while any host
 * process is runnable and is resumed by the last one to block or finish.
 */
#include "sim/engine.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <simgrid/actor.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>

#include "sim/sim_int.h"
#include "util/err.h"
#include "util/inv.h"
#include "util/log.h"

enum proc_state { PROC_RUNNABLE, PROC_BLOCKED, PROC_DONE };

struct sim_proc {
    sg_actor_t actor;
    size_t host;
    enum proc_state state;
    const char *what;
    sim_proc_main fn;
    void *arg;
    char name[32];
    struct sim_proc *next_resume;
};


struct sim_hent {
    sim_time_t t;
    uint64_t seq;
    struct sim_event *ev;
};

static struct {
    sim_time_t now;
    uint64_t seq;
    uint64_t processed;
    struct sim_hent *heap;
    size_t heap_len, heap_cap;
    struct sim_event *pool; /* Free list, linked through arg. */
    /* Host processes. */
    sim_proc **procs;
    size_t nprocs;
    size_t live, runnable;
    sg_actor_t engine_actor;
    int engine_waiting;
    sim_proc *resume_head, *resume_tail;
    double sg_clock; /* The SimGrid time we last synchronised to. */
    sim_time_t procs_end; /* When the last host process returned. */
} E;

/* ---- The heap ----
 * Entries carry their own keys (time, sequence), so comparisons read the
 * heap array only and never the events themselves, which lie all over a
 * large simulated cluster's memory; the event is touched only to record
 * its position (for cancellation). */

static int key_before(const struct sim_hent *a, const struct sim_hent *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_set(size_t i, struct sim_hent e)
{
    E.heap[i] = e;
    e.ev->heap_idx = i;
}

static void heap_up(size_t i)
{
    struct sim_hent e = E.heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!key_before(&e, &E.heap[parent]))
            break;
        heap_set(i, E.heap[parent]);
        i = parent;
    }
    heap_set(i, e);
}

static void heap_down(size_t i)
{
    struct sim_hent e = E.heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= E.heap_len)
            break;
        if (c + 1 < E.heap_len && key_before(&E.heap[c + 1], &E.heap[c]))
            c++;
        if (!key_before(&E.heap[c], &e))
            break;
        heap_set(i, E.heap[c]);
        i = c;
    }
    heap_set(i, e);
}

static void heap_push(struct sim_event *ev)
{
    if (E.heap_len == E.heap_cap) {
        size_t cap = E.heap_cap ? E.heap_cap * 2 : 1024;
        struct sim_hent *h = realloc(E.heap, cap * sizeof *h);
        if (!h) {
            fprintf(stderr, "vmmcsim: out of memory (event queue)\n");
            abort();
        }
        E.heap = h;
        E.heap_cap = cap;
    }
    E.heap[E.heap_len] = (struct sim_hent){ev->t, ev->seq, ev};
    ev->heap_idx = E.heap_len++;
    heap_up(ev->heap_idx);
}

static void heap_remove(size_t i)
{
    struct sim_event *ev = E.heap[i].ev;
    E.heap_len--;
    if (i != E.heap_len) {
        heap_set(i, E.heap[E.heap_len]);
        if (i > 0 && key_before(&E.heap[i], &E.heap[(i - 1) / 2]))
            heap_up(i);
        else
            heap_down(i);
    }
    ev->heap_idx = SIZE_MAX;
}

/* ---- Events ---- */

void sim_reset(void)
{
    sim_shutdown();
    memset(&E, 0, sizeof E);
}

void sim_shutdown(void)
{
    /* Events still queued: pooled ones are ours to free; the others belong
     * to their callers, who may cancel them later: mark them unqueued. */
    for (size_t i = 0; i < E.heap_len; i++) {
        if (E.heap[i].ev->pooled)
            free(E.heap[i].ev);
        else
            E.heap[i].ev->heap_idx = SIZE_MAX;
    }
    free(E.heap);
    while (E.pool) {
        struct sim_event *n = E.pool->arg;
        free(E.pool);
        E.pool = n;
    }
    for (size_t i = 0; i < E.nprocs; i++)
        free(E.procs[i]);
    free(E.procs);
    memset(&E, 0, sizeof E);
    sim__flow_reset();
}

sim_time_t sim_now(void) { return E.now; }
sim_time_t sim_procs_end(void) { return E.procs_end; }
uint64_t sim_events_processed(void) { return E.processed; }

void sim_event_init(struct sim_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->heap_idx = SIZE_MAX;
}

void sim_event_at(struct sim_event *ev, sim_time_t t, sim_fn fn, void *arg)
{
    VS_INV(t >= E.now,
           "simulator: an event posted at %lld ps, before the present %lld ps",
           (long long)t, (long long)E.now);
    assert(ev->heap_idx == SIZE_MAX);
    ev->t = t < E.now ? E.now : t;
    ev->seq = E.seq++;
    ev->fn = fn;
    ev->arg = arg;
    heap_push(ev);
}

void sim_post(sim_time_t t, sim_fn fn, void *arg)
{
    struct sim_event *ev = E.pool;
    if (ev) {
        E.pool = ev->arg;
    } else {
        ev = malloc(sizeof *ev);
        if (!ev) {
            fprintf(stderr, "vmmcsim: out of memory (events)\n");
            abort();
        }
    }
    ev->heap_idx = SIZE_MAX;
    ev->pooled = 1;
    sim_event_at(ev, t, fn, arg);
}

void sim_event_cancel(struct sim_event *ev)
{
    if (ev->heap_idx != SIZE_MAX)
        heap_remove(ev->heap_idx);
}

int sim_event_queued(const struct sim_event *ev)
{
    return ev->heap_idx != SIZE_MAX;
}

/* Pops and runs the earliest event. */
static void fire_next(void)
{
    struct sim_event *ev = E.heap[0].ev;
    heap_remove(0);
    VS_INV(ev->t >= E.now, "simulator: time went back from %lld to %lld ps",
           (long long)E.now, (long long)ev->t);
    E.now = ev->t;
    E.processed++;
    sim_fn fn = ev->fn;
    void *arg = ev->arg;
    if (ev->pooled) {
        ev->arg = E.pool;
        E.pool = ev;
    }
    fn(arg);
}

uint64_t sim_run_events(sim_time_t until)
{
    uint64_t n = 0;
    while (E.heap_len && E.heap[0].t <= until) {
        fire_next();
        n++;
    }
    return n;
}

/* ---- Host processes ---- */

static void proc_trampoline(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sim_proc *p = sg_actor_self_get_data();
    p->fn(p, p->arg);
    p->state = PROC_DONE;
    E.live--;
    E.runnable--;
    if (E.runnable == 0 && E.engine_waiting) {
        E.engine_waiting = 0;
        sg_actor_resume(E.engine_actor);
    }
}

sim_proc *sim_proc_create(size_t host, const char *name, sim_proc_main fn,
                          void *arg)
{
    sim_proc *p = calloc(1, sizeof *p);
    sim_proc **ps = realloc(E.procs, (E.nprocs + 1) * sizeof *ps);
    if (!p || !ps) {
        free(p);
        if (ps)
            E.procs = ps;
        return NULL;
    }
    E.procs = ps;
    E.procs[E.nprocs++] = p;
    p->host = host;
    p->fn = fn;
    p->arg = arg;
    p->state = PROC_RUNNABLE;
    snprintf(p->name, sizeof p->name, "%s", name);
    E.live++;
    E.runnable++;
    return p;
}

sim_proc *sim_proc_self(void) { return sg_actor_self_get_data(); }
size_t sim_proc_host(const sim_proc *p) { return p->host; }
int sim_proc_blocked(const sim_proc *p) { return p->state == PROC_BLOCKED; }

void sim_proc_block(sim_proc *p, const char *what)
{
    assert(p->state == PROC_RUNNABLE);
    p->state = PROC_BLOCKED;
    p->what = what;
    E.runnable--;
    if (E.runnable == 0 && E.engine_waiting) {
        E.engine_waiting = 0;
        sg_actor_resume(E.engine_actor);
    }
    sg_actor_suspend(p->actor);
    assert(p->state == PROC_RUNNABLE);
}

void sim_proc_wake(sim_proc *p)
{
    if (p->state != PROC_BLOCKED)
        return;
    p->state = PROC_RUNNABLE;
    E.runnable++;
    p->next_resume = NULL;
    if (E.resume_tail)
        E.resume_tail->next_resume = p;
    else
        E.resume_head = p;
    E.resume_tail = p;
}

static void wake_event(void *arg) { sim_proc_wake(arg); }

void sim_proc_sleep(sim_proc *p, sim_time_t dt)
{
    if (dt <= 0)
        return;
    sim_post(E.now + dt, wake_event, p);
    sim_proc_block(p, "sleep");
}

/* Resumes the processes woken since the last call, in wake order, after
 * bringing SimGrid's clock to ours.  Called by the engine actor or by a host
 * process that woke another. */
static void resume_woken(void)
{
    /* SimGrid's clock follows ours loosely (it is only used by SimGrid
     * itself); steps under 10 ns would be below its accuracy.  Flows
     * (sim/flow.c) move it too, hence SimGrid's own clock here. */
    double t = (double)E.now * 1e-12;
    if (E.resume_head && t - simgrid_get_clock() >= 1e-8 &&
        sg_actor_self() == E.engine_actor) {
        sg_actor_sleep_until(t);
        E.sg_clock = simgrid_get_clock();
    }
    while (E.resume_head) {
        sim_proc *p = E.resume_head;
        E.resume_head = p->next_resume;
        sg_actor_resume(p->actor);
    }
    E.resume_tail = NULL;
}

static struct {
    const struct sim_opts *opts;
    int rc;
    char *err;
    size_t errlen;
} R;

/* --- Progress on a terminal (sim_opts.progress) --- */

static struct {
    double start, last; /* wall seconds */
    int shown;
} P;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_tick(void)
{
    double now = wall_now();
    if (now - P.last < 1.0)
        return;
    P.last = now;
    P.shown = 1;
    fprintf(stderr, "\rvmmcsim: simulated %.3f ms in %.1f s of wall time, "
                    "%.2f M events/s   ",
            (double)E.now / 1e9, now - P.start,
            (double)E.processed / (now - P.start) / 1e6);
    fflush(stderr);
}

static void progress_end(void)
{
    if (P.shown)
        fprintf(stderr, "\r%78s\r", "");
    P.shown = 0;
}

/* With flows (sim/flow.c) in progress: lets SimGrid carry them up to the
 * next event (or the time limit).  Returns 1 if some ended: their
 * completions are queued events now. */
static int flows_step(void)
{
    if (!sim__flow_busy())
        return 0;
    sim_time_t until = E.heap_len ? E.heap[0].t : INT64_MAX;
    if (R.opts->max_time && until > R.opts->max_time)
        until = R.opts->max_time;
    return sim__flow_advance(until);
}

static void engine_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    P.start = P.last = wall_now();
    for (;;) {
        resume_woken();
        while (E.runnable > 0) {
            E.engine_waiting = 1;
            sg_actor_suspend(E.engine_actor);
            /* A host process may have woken another directly. */
            resume_woken();
        }
        if (E.live == 0) {
            /* Let the hardware finish what is in flight (completions
             * nobody waits for), so every request is accounted for. */
            E.procs_end = E.now;
            for (;;) {
                if (flows_step())
                    continue;
                if (!E.heap_len || (R.opts->max_time &&
                                    E.heap[0].t > R.opts->max_time))
                    break;
                fire_next();
            }
            break;
        }
        if (flows_step())
            continue;
        if (E.heap_len == 0 && sim__flow_busy()) {
            /* Flows still in progress at the time limit. */
            R.rc = VS_ETIMEDOUT;
            snprintf(R.err, R.errlen,
                     "simulated time limit of %.3f ms reached",
                     (double)R.opts->max_time / 1e9);
            break;
        }
        if (E.heap_len == 0) {
            R.rc = VS_EDEADLK;
            int off = snprintf(R.err, R.errlen,
                               "deadlock at t=%.6f us: every process is "
                               "blocked and nothing is scheduled:",
                               (double)E.now / 1e6);
            for (size_t i = 0; i < E.nprocs && off > 0 &&
                               (size_t)off < R.errlen;
                 i++)
                if (E.procs[i]->state == PROC_BLOCKED)
                    off += snprintf(R.err + off, R.errlen - (size_t)off,
                                    " %s waits in %s;", E.procs[i]->name,
                                    E.procs[i]->what);
            break;
        }
        if (R.opts->max_time && E.heap[0].t > R.opts->max_time) {
            R.rc = VS_ETIMEDOUT;
            snprintf(R.err, R.errlen,
                     "simulated time limit of %.3f ms reached",
                     (double)R.opts->max_time / 1e9);
            break;
        }
        fire_next();
        if (R.opts->progress && !(E.processed & 0xffff))
            progress_tick();
    }
    progress_end();
    if (R.rc != 0) {
        for (size_t i = 0; i < E.nprocs; i++)
            if (E.procs[i]->state != PROC_DONE)
                sg_actor_kill(E.procs[i]->actor);
    }
}

int sim_run(const struct sim_opts *opts, char *err, size_t errlen)
{
    static const struct sim_opts defaults = {0, 0, 0};
    if (!opts)
        opts = &defaults;
    R.opts = opts;
    R.rc = 0;
    R.err = err;
    R.errlen = errlen;
    if (err && errlen)
        err[0] = 0;
    unsigned stack = (opts->stack_kib ? opts->stack_kib : 256) * 1024u;
    for (size_t i = 0; i < E.nprocs; i++) {
        sim_proc *p = E.procs[i];
        assert(p->host < sim_host_count());
        p->actor = sg_actor_init(p->name, sim__host(p->host));
        sg_actor_set_stacksize(p->actor, stack);
        sg_actor_set_data(p->actor, p);
        sg_actor_start(p->actor, proc_trampoline, 0, NULL);
    }
    E.engine_actor = sg_actor_init("engine", sim__host(0));
    sg_actor_set_stacksize(E.engine_actor, 256 * 1024u);
    sg_actor_start(E.engine_actor, engine_main, 0, NULL);
    simgrid_run();
    return R.rc;
}
