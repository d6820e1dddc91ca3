/*
 * The event queue, the integer clock and the host-process scheduling of
 * sim/engine.h.  Events are ordered by (time, sequence): posted ones in a
 * radix queue, cancellable ones in a binary min-heap.  Host processes are SimGrid actors that suspend
 * themselves to block; the engine actor suspends itself while any host
 * process is runnable and is resumed by the last one to block or finish.
 */
#include "sim/engine.h"

#include <assert.h>
#include <inttypes.h>
#include <malloc.h>
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

/* A queued event.  key is the sequence number shifted left, with bit 0
 * set when the event is a caller's struct sim_event (sim_event_at, which
 * can be cancelled: it records its position) and clear when it was posted
 * (sim_post: fn and arg are kept right here, and nothing outside the queue
 * is touched when it moves).  Keys are unique, so (t, key) orders
 * events by time and then by the order they were queued. */
struct sim_hent {
    sim_time_t t;
    uint64_t key;
    sim_fn fn;  /* posted: the callback; owned: NULL */
    void *p;    /* posted: its argument; owned: the struct sim_event */
};

#define HENT_OWNED 1u

struct sim_heap {
    struct sim_hent *a;
    size_t len, cap;
};

/* The radix queue of posted events (a radix heap: Ahuja, Mehlhorn, Orlin
 * and Tarjan, 1990).  last is the time of the latest event taken from it,
 * never after the present, so every event posted is at last or later.
 * Bucket 0 holds the events at last, in sequence order from head on;
 * bucket b (1..64) those whose time first differs from last in bit b-1,
 * so every event of a bucket is earlier than every event of the next.
 * Taking an event when bucket 0 is empty spreads the lowest non-empty
 * bucket over the lower ones around its earliest event, which becomes the
 * new last.  The earliest event is found, and kept (min), before it is
 * taken, because an event of the heap may come first. */
#define RQ_BUCKETS 65
struct sim_radix {
    struct sim_heap b[RQ_BUCKETS];
    size_t head;   /* first event of b[0] not yet taken */
    size_t count;  /* events queued */
    uint64_t full; /* bit b-1 set: bucket b (1..64) is not empty */
    sim_time_t last;
    int min_ok;            /* min_b, min_i: the earliest event, if b[0] */
    unsigned min_b;        /* is empty */
    size_t min_i;
};

static struct {
    sim_time_t now;
    uint64_t seq;
    uint64_t processed;
    struct sim_radix posted;
    struct sim_heap owned; /* sim_event_at's events */
    /* Host processes. */
    sim_proc **procs;
    size_t nprocs;
    size_t live, runnable;
    sg_actor_t engine_actor;
    int engine_waiting;
    sim_proc *resume_head, *resume_tail;
    double sg_clock; /* The SimGrid time we last synchronised to. */
    sim_time_t procs_end; /* When the last host process returned. */
    int engine_done; /* engine_main returned (not left suspended) */
} E;

/* ---- The queues ----
 * Entries carry their own keys (time, sequence), and posted events their
 * callback and argument, so queue operations read and write the queues'
 * arrays only; the memory of a large simulated cluster (where the events
 * of sim_event_at lie) is touched only to record such an event's position,
 * for cancellation.  Posted events, the vast majority, go to a radix queue
 * (a few instructions a post and a take, where a binary heap of thousands
 * of events sifts through a dozen levels); caller-owned ones (timers,
 * time-outs), which can be cancelled, to a binary heap.
 * The next event is the earlier of the two (docs/speed.md). */

static int key_before(const struct sim_hent *a, const struct sim_hent *b)
{
    return a->t < b->t || (a->t == b->t && a->key < b->key);
}

static void heap_set(struct sim_heap *h, size_t i, struct sim_hent e)
{
    h->a[i] = e;
    if (e.key & HENT_OWNED)
        ((struct sim_event *)e.p)->heap_idx = i;
}

/* Sifts e up from the free position i. */
static void heap_up_from(struct sim_heap *h, size_t i, struct sim_hent e)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!key_before(&e, &h->a[parent]))
            break;
        heap_set(h, i, h->a[parent]);
        i = parent;
    }
    heap_set(h, i, e);
}

static void heap_down(struct sim_heap *h, size_t i)
{
    struct sim_hent e = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && key_before(&h->a[c + 1], &h->a[c]))
            c++;
        if (!key_before(&h->a[c], &e))
            break;
        heap_set(h, i, h->a[c]);
        i = c;
    }
    heap_set(h, i, e);
}

/* Doubles the room of an entry array (first: its first size). */
static __attribute__((noinline)) void entries_grow(struct sim_heap *h,
                                                   size_t first)
{
    size_t cap = h->cap ? h->cap * 2 : first;
    struct sim_hent *a = realloc(h->a, cap * sizeof *a);
    if (!a) {
        fprintf(stderr, "vmmcsim: out of memory (event queue)\n");
        abort();
    }
    h->a = a;
    h->cap = cap;
}

static void heap_push(struct sim_heap *h, struct sim_hent e)
{
    if (h->len == h->cap)
        entries_grow(h, 1024);
    heap_up_from(h, h->len++, e);
}

static void heap_remove(struct sim_heap *h, size_t i)
{
    struct sim_hent gone = h->a[i];
    h->len--;
    if (i != h->len) {
        heap_set(h, i, h->a[h->len]);
        if (i > 0 && key_before(&h->a[i], &h->a[(i - 1) / 2]))
            heap_up_from(h, i, h->a[i]);
        else
            heap_down(h, i);
    }
    if (gone.key & HENT_OWNED)
        ((struct sim_event *)gone.p)->heap_idx = SIZE_MAX;
}

static inline void rq_append(struct sim_heap *b, struct sim_hent e)
{
    if (b->len == b->cap)
        entries_grow(b, 64);
    b->a[b->len++] = e;
}

static unsigned rq_bucket(sim_time_t t, sim_time_t last)
{
    uint64_t x = (uint64_t)t ^ (uint64_t)last;
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

static void rq_push(struct sim_hent e);

/* rq_push's rare case, its bucket full: out of line and a tail call, so
 * that the common case (every post) saves no registers for a call. */
static __attribute__((noinline, cold)) void rq_push_grown(sim_time_t t,
                                                          uint64_t key,
                                                          sim_fn fn, void *arg)
{
    struct sim_radix *q = &E.posted;
    entries_grow(&q->b[rq_bucket(t, q->last)], 64);
    rq_push((struct sim_hent){t, key, fn, arg});
}

static inline __attribute__((always_inline)) void rq_push(struct sim_hent e)
{
    struct sim_radix *q = &E.posted;
    unsigned b = rq_bucket(e.t, q->last);
    struct sim_heap *h = &q->b[b];
    if (__builtin_expect(h->len == h->cap, 0)) {
        rq_push_grown(e.t, e.key, e.fn, e.p);
        return;
    }
    h->a[h->len++] = e;
    if (b)
        q->full |= 1ull << (b - 1);
    q->count++;
    /* The earliest event beyond bucket 0 (which goes first anyway). */
    if (b && q->min_ok && key_before(&e, &q->b[q->min_b].a[q->min_i])) {
        q->min_b = b;
        q->min_i = q->b[b].len - 1;
    }
}

/* The radix queue's next event, or NULL; it stays queued. */
static inline __attribute__((always_inline)) struct sim_hent *rq_peek(void)
{
    struct sim_radix *q = &E.posted;
    if (q->head < q->b[0].len)
        return &q->b[0].a[q->head];
    if (!q->full)
        return NULL;
    if (!q->min_ok) {
        unsigned bi = 1u + (unsigned)__builtin_ctzll(q->full);
        const struct sim_heap *from = &q->b[bi];
        size_t m = 0;
        for (size_t i = 1; i < from->len; i++)
            if (key_before(&from->a[i], &from->a[m]))
                m = i;
        q->min_ok = 1;
        q->min_b = bi;
        q->min_i = m;
    }
    return &q->b[q->min_b].a[q->min_i];
}

/* Takes the radix queue's next event (rq_peek found one). */
static struct sim_hent rq_take(void)
{
    struct sim_radix *q = &E.posted;
    q->count--;
    if (q->head < q->b[0].len) {
        struct sim_hent e = q->b[0].a[q->head++];
        if (q->head == q->b[0].len)
            q->b[0].len = q->head = 0;
        return e;
    }
    /* Bucket 0 is empty: spread the bucket of the earliest event around
     * its time. */
    struct sim_heap *from = &q->b[q->min_b];
    sim_time_t m = from->a[q->min_i].t;
    q->last = m;
    q->min_ok = 0;
    q->full &= ~(1ull << (q->min_b - 1));
    if (from->len == 1) { /* often, with few events queued: it alone */
        from->len = 0;
        return from->a[0];
    }
    for (size_t i = 0; i < from->len; i++) {
        unsigned b = rq_bucket(from->a[i].t, m);
        rq_append(&q->b[b], from->a[i]);
        if (b)
            q->full |= 1ull << (b - 1);
    }
    from->len = 0;
    /* Bucket 0 came in any order: sort it by sequence (it is short; later
     * posts at this time come after all of it). */
    struct sim_hent *z = q->b[0].a;
    size_t n = q->b[0].len;
    for (size_t i = 1; i < n; i++) {
        struct sim_hent e = z[i];
        size_t j = i;
        for (; j > 0 && z[j - 1].key > e.key; j--)
            z[j] = z[j - 1];
        z[j] = e;
    }
    struct sim_hent e = z[q->head++];
    if (q->head == n)
        q->b[0].len = q->head = 0;
    return e;
}

/* The next event's entry (NULL if none), and whether it is the radix
 * queue's. */
static inline __attribute__((always_inline)) struct sim_hent *
next_entry(int *radix)
{
    struct sim_hent *r = rq_peek();
    struct sim_hent *h = E.owned.len ? &E.owned.a[0] : NULL;
    *radix = r && (!h || key_before(r, h));
    return *radix ? r : h;
}

static size_t queued(void) { return E.posted.count + E.owned.len; }

/* When the next event is due (call only if one is queued). */
static sim_time_t next_time(void)
{
    int radix;
    return next_entry(&radix)->t;
}

/* ---- Events ---- */

void sim_reset(void)
{
    sim_shutdown();
    memset(&E, 0, sizeof E);
}

void sim_shutdown(void)
{
    /* Events still queued that belong to callers, who may cancel them
     * later: mark them unqueued. */
    for (size_t i = 0; i < E.owned.len; i++)
        ((struct sim_event *)E.owned.a[i].p)->heap_idx = SIZE_MAX;
    free(E.owned.a);
    for (int b = 0; b < RQ_BUCKETS; b++)
        free(E.posted.b[b].a);
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
    heap_push(&E.owned,
              (struct sim_hent){ev->t, ev->seq << 1 | HENT_OWNED, NULL, ev});
}

void sim_post(sim_time_t t, sim_fn fn, void *arg)
{
    VS_INV(t >= E.now,
           "simulator: an event posted at %lld ps, before the present %lld ps",
           (long long)t, (long long)E.now);
    rq_push((struct sim_hent){t < E.now ? E.now : t, E.seq++ << 1, fn, arg});
}

void sim_event_cancel(struct sim_event *ev)
{
    if (ev->heap_idx != SIZE_MAX)
        heap_remove(&E.owned, ev->heap_idx);
}

int sim_event_queued(const struct sim_event *ev)
{
    return ev->heap_idx != SIZE_MAX;
}

/* Takes and runs the event next_entry() just found (ep, in the radix
 * queue if radix). */
static void fire(const struct sim_hent *ep, int radix)
{
    struct sim_hent e;
    if (radix) {
        e = rq_take();
    } else {
        e = *ep;
        heap_remove(&E.owned, 0);
    }
    VS_INV(e.t >= E.now, "simulator: time went back from %lld to %lld ps",
           (long long)E.now, (long long)e.t);
    E.now = e.t;
    E.processed++;
    /* The event after this one is most likely the earliest queued now
     * (this one rarely posts an earlier one): start loading what it works
     * on while this one runs; its node is all over a large cluster's
     * memory. */
    int nradix;
    const struct sim_hent *nx = next_entry(&nradix);
    if (nx)
        __builtin_prefetch(nx->p);
    if (e.key & HENT_OWNED) {
        struct sim_event *ev = e.p;
        ev->fn(ev->arg);
    } else {
        e.fn(e.p);
    }
}

/* Takes and runs the earliest event (one is queued). */
static void fire_next(void)
{
    int radix;
    const struct sim_hent *e = next_entry(&radix);
    fire(e, radix);
}

uint64_t sim_run_events(sim_time_t until)
{
    uint64_t n = 0;
    int radix;
    const struct sim_hent *e;
    while ((e = next_entry(&radix)) && e->t <= until) {
        fire(e, radix);
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

void sim_proc_stray_for_test(void) { sg_actor_suspend(sg_actor_self()); }

static int sleep_alone(sim_time_t until);

void sim_proc_sleep(sim_proc *p, sim_time_t dt)
{
    if (dt <= 0)
        return;
    if (sleep_alone(E.now + dt))
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

/* A process that sleeps until `until` while it is the only one runnable
 * and no event comes before then: its wake-up would be the very next
 * event, so it is taken here, without the two actor switches to the
 * engine and back.  The same time, sequence numbers and event count
 * follow as if it had been queued and fired (SimGrid's clock, which only
 * flows use, catches up at the next switch). */
static int sleep_alone(sim_time_t until)
{
    if (E.runnable != 1 || E.resume_head || !R.opts || sim__flow_pending() ||
        (R.opts->max_time && until > R.opts->max_time) ||
        (queued() && next_time() <= until))
        return 0;
    E.seq++; /* the wake-up's */
    E.now = until;
    E.processed++;
    return 1;
}

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
    sim_time_t until = queued() ? next_time() : INT64_MAX;
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
                if (!queued() || (R.opts->max_time &&
                                  next_time() > R.opts->max_time))
                    break;
                fire_next();
            }
            break;
        }
        if (flows_step())
            continue;
        if (!queued() && sim__flow_busy()) {
            /* Flows still in progress at the time limit. */
            R.rc = VS_ETIMEDOUT;
            snprintf(R.err, R.errlen,
                     "simulated time limit of %.3f ms reached",
                     (double)R.opts->max_time / 1e9);
            break;
        }
        if (!queued()) {
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
        /* Events, one after the other, until one wakes a process, flows
         * need SimGrid, or none is left: the checks above would all pass
         * again until then. */
        int over = 0;
        const sim_time_t max_time = R.opts->max_time;
        const int progress = R.opts->progress;
        do {
            int radix;
            const struct sim_hent *e = next_entry(&radix);
            if (max_time && e->t > max_time) {
                R.rc = VS_ETIMEDOUT;
                snprintf(R.err, R.errlen,
                         "simulated time limit of %.3f ms reached",
                         (double)R.opts->max_time / 1e9);
                over = 1;
                break;
            }
            fire(e, radix);
            if (progress && !(E.processed & 0xffff))
                progress_tick();
        } while (!E.resume_head && queued() && !sim__flow_pending());
        if (over)
            break;
    }
    progress_end();
    if (R.rc != 0) {
        for (size_t i = 0; i < E.nprocs; i++)
            if (E.procs[i]->state != PROC_DONE)
                sg_actor_kill(E.procs[i]->actor);
    }
    E.engine_done = 1;
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
    /* SimGrid takes the stack size in KiB (s4u Actor::set_stacksize) and
     * allocates stacks with posix_memalign.  Each should be a mapping of
     * its own, whose pages cost memory only once touched (an idle node's
     * process touches a few KiB): glibc's threshold for that moves up as
     * large blocks are freed, and the heap has huge pages (util/layout.c),
     * where a stack would be resident whole.  So the threshold is held at
     * glibc's initial 128 KiB while the actors are made. */
    unsigned stack_kib = opts->stack_kib ? opts->stack_kib : 256;
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    for (size_t i = 0; i < E.nprocs; i++) {
        sim_proc *p = E.procs[i];
        assert(p->host < sim_host_count());
        p->actor = sg_actor_init(p->name, sim__host(p->host));
        sg_actor_set_stacksize(p->actor, stack_kib);
        sg_actor_set_data(p->actor, p);
        sg_actor_start(p->actor, proc_trampoline, 0, NULL);
    }
    E.engine_actor = sg_actor_init("engine", sim__host(0));
    sg_actor_set_stacksize(E.engine_actor, 256);
    sg_actor_start(E.engine_actor, engine_main, 0, NULL);
    /* What the processes allocate from now on comes from the heap (huge
     * pages, fewer page faults) up to glibc's largest dynamic threshold,
     * and freeing it does not shrink the heap. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    E.engine_done = 0;
    simgrid_run();
    if (!E.engine_done && R.rc == 0) {
        /* SimGrid ran out of actors to run while the engine waited for a
         * process that was never resumed: a run that did not finish must
         * not look like one that did. */
        R.rc = VS_EDEADLK;
        snprintf(R.err, R.errlen,
                 "simulator: stopped at t=%.6f us with %zu host process(es) "
                 "unfinished and the engine waiting",
                 (double)E.now / 1e6, E.live);
    }
    return R.rc;
}
