/*
 * The host side of the emulated node (hw/hw.h's hw_host_ops), for the
 * thread that runs the node's program, and the optional host lock.
 *
 * Programmed I/O does not touch SRAM from the host thread: a write is
 * queued (in pieces of EMU__PIO_BYTES) on a ring the loop thread drains,
 * applying each write to SRAM and then running the doorbell upcall, one per
 * write, as the simulator does; so the firmware never reads a command while
 * the host is halfway through writing it.  A read is queued the same way
 * and waits for the loop thread to copy the bytes.  The host waits for the
 * NIC on a generation counter the loop thread bumps after every write of
 * host memory and every interrupt: it spins for cfg.spin, then sleeps on a
 * condition variable.  The host costs of the profile are not charged: the
 * real host pays its real costs (cost() is 0), so compute(0), which the
 * library calls on every entry, is only a point where another node's host
 * may take the host lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu/emu_int.h"
#include "util/err.h"

#define NODE_OF_HOST(h)                                                        \
    ((struct emu_node *)((char *)(h)-offsetof(struct emu_node, host)))

/* Below this a compute() spins; above it, it sleeps. */
#define SPIN_COMPUTE_NS 20000
/* How long a yielding host waits for a waiting one to take the lock. */
#define YIELD_NS 2000000

/* ---- The host lock ---- */

struct emu_hostlock {
    pthread_mutex_t m;
    atomic_uint waiting;         /* hosts blocked in acquire */
    atomic_uint_fast64_t grants; /* acquisitions so far */
};

size_t emu_hostlock_size(void)
{
    return sizeof(struct emu_hostlock);
}

int emu_hostlock_init(struct emu_hostlock *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a))
        return VS_EIO;
    int rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) ||
             pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) ||
             pthread_mutex_init(&l->m, &a);
    pthread_mutexattr_destroy(&a);
    atomic_init(&l->waiting, 0);
    atomic_init(&l->grants, 0);
    return rc ? VS_EIO : VS_OK;
}

void emu_hostlock_acquire(struct emu_hostlock *l)
{
    if (!l)
        return;
    atomic_fetch_add(&l->waiting, 1);
    int rc = pthread_mutex_lock(&l->m);
    atomic_fetch_sub(&l->waiting, 1);
    if (rc == EOWNERDEAD) {
        /* A node died holding it: what it was writing is lost with it
         * (its run fails anyway); the lock goes on. */
        pthread_mutex_consistent(&l->m);
    } else if (rc) {
        fprintf(stderr, "vmmcsim: emu: the host lock failed: %s\n",
                strerror(rc));
        abort();
    }
    atomic_fetch_add(&l->grants, 1);
}

void emu_hostlock_release(struct emu_hostlock *l)
{
    if (l)
        pthread_mutex_unlock(&l->m);
}

/* Lets a waiting host run: releases, waits until another took the lock
 * (or a bound passed), takes it again. */
static void lock_yield(struct emu_hostlock *l)
{
    if (!l || !atomic_load(&l->waiting))
        return;
    uint_fast64_t g = atomic_load(&l->grants);
    emu_hostlock_release(l);
    int64_t end = emu__mono_ns() + YIELD_NS;
    while (atomic_load(&l->grants) == g && atomic_load(&l->waiting) &&
           emu__mono_ns() < end)
        sched_yield();
    emu_hostlock_acquire(l);
}

/* ---- hw_self() ---- */

static _Thread_local struct emu_node *self_node;

static hw_host *emu_self(void)
{
    return self_node ? &self_node->host : NULL;
}

void emu_host_enter(emu_node *n)
{
    self_node = n;
    hw_set_self(emu_self);
    emu_hostlock_acquire(n->cfg.hostlock);
}

void emu_host_leave(emu_node *n)
{
    emu_hostlock_release(n->cfg.hostlock);
    self_node = NULL;
}

/* ---- Programmed I/O ---- */

/* Queues one piece; the caller holds pio_m. */
static void pio_push(struct emu_node *n, const struct emu__pio *p)
{
    while (n->pio_count == EMU__PIO_RING) {
        /* Posted writes back up, as on a bus: wait for the NIC. */
        ev_async_send(n->loop, &n->async_w);
        pthread_cond_wait(&n->pio_c, &n->pio_m);
    }
    n->pio[(n->pio_head + n->pio_count) % EMU__PIO_RING] = *p;
    n->pio_count++;
}

static void host_pio_write(hw_host *h, void *dst, const void *src, size_t len)
{
    struct emu_node *n = NODE_OF_HOST(h);
    const unsigned char *s = src;
    unsigned char *d = dst;
    pthread_mutex_lock(&n->pio_m);
    do {
        struct emu__pio p;
        p.nic = d;
        p.host = NULL;
        p.len = (uint32_t)(len < EMU__PIO_BYTES ? len : EMU__PIO_BYTES);
        p.read = 0;
        p.bell = p.len == len;
        memcpy(p.data, s, p.len);
        pio_push(n, &p);
        s += p.len;
        d += p.len;
        len -= p.len;
    } while (len);
    pthread_mutex_unlock(&n->pio_m);
    ev_async_send(n->loop, &n->async_w);
}

static void host_pio_read(hw_host *h, void *dst, const void *src, size_t len)
{
    struct emu_node *n = NODE_OF_HOST(h);
    const unsigned char *s = src;
    unsigned char *d = dst;
    pthread_mutex_lock(&n->pio_m);
    while (len) {
        struct emu__pio p;
        p.nic = (unsigned char *)s;
        p.host = d;
        p.len = (uint32_t)(len < EMU__PIO_BYTES ? len : EMU__PIO_BYTES);
        p.read = 1;
        p.bell = 0;
        pio_push(n, &p);
        n->reads_posted++;
        s += p.len;
        d += p.len;
        len -= p.len;
    }
    ev_async_send(n->loop, &n->async_w);
    while (n->reads_done != n->reads_posted)
        pthread_cond_wait(&n->pio_c, &n->pio_m);
    pthread_mutex_unlock(&n->pio_m);
}

void emu__pio_drain(struct emu_node *n)
{
    for (;;) {
        pthread_mutex_lock(&n->pio_m);
        if (!n->pio_count) {
            pthread_mutex_unlock(&n->pio_m);
            return;
        }
        struct emu__pio p = n->pio[n->pio_head];
        n->pio_head = (n->pio_head + 1) % EMU__PIO_RING;
        n->pio_count--;
        if (p.read) {
            memcpy(p.host, p.nic, p.len);
            n->reads_done++;
        }
        pthread_cond_broadcast(&n->pio_c);
        pthread_mutex_unlock(&n->pio_m);
        if (!p.read) {
            memcpy(p.nic, p.data, p.len);
            n->st.pio_writes += p.bell;
            n->st.pio_bytes += p.len;
            if (p.bell)
                emu__ring_bell(n);
        }
    }
}

/* ---- Host ops ---- */

static hw_time_t host_now(hw_host *h)
{
    return emu_now(NODE_OF_HOST(h));
}

/* A time in whole nanoseconds, rounded up. */
static int64_t ceil_ns(hw_time_t t)
{
    return t / HW_NS + (t % HW_NS != 0);
}

static void sleep_until(int64_t end_ns)
{
    struct timespec ts = {(time_t)(end_ns / 1000000000),
                          (long)(end_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void host_compute(hw_host *h, hw_time_t dt)
{
    struct emu_node *n = NODE_OF_HOST(h);
    struct emu_hostlock *l = n->cfg.hostlock;
    if (dt <= 0) {
        lock_yield(l);
        return;
    }
    int64_t end = emu__mono_ns() + ceil_ns(dt);
    emu_hostlock_release(l);
    if (ceil_ns(dt) < SPIN_COMPUTE_NS) {
        while (emu__mono_ns() < end)
            ;
    } else {
        sleep_until(end);
    }
    emu_hostlock_acquire(l);
}

static hw_time_t host_cost(hw_host *h, enum hw_host_cost c)
{
    (void)h;
    (void)c;
    return 0;
}

/* Blocks until the generation moves past g or deadline_ns passes. */
static void await_change(struct emu_node *n, uint_fast64_t g,
                         int64_t deadline_ns)
{
    int64_t now = emu__mono_ns();
    int64_t spin_end = now + n->cfg.spin / HW_NS;
    if (spin_end > deadline_ns)
        spin_end = deadline_ns;
    while (atomic_load(&n->gen) == g && now < spin_end)
        now = emu__mono_ns();
    if (atomic_load(&n->gen) != g || now >= deadline_ns)
        return;
    struct timespec ts = {(time_t)(deadline_ns / 1000000000),
                          (long)(deadline_ns % 1000000000)};
    pthread_mutex_lock(&n->wait_m);
    /* Seen by the NIC after its bump, or the bump is seen here. */
    atomic_store(&n->host_waiting, 1);
    while (atomic_load(&n->gen) == g) {
        int rc = deadline_ns == INT64_MAX
                     ? pthread_cond_wait(&n->wait_c, &n->wait_m)
                     : pthread_cond_timedwait(&n->wait_c, &n->wait_m, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    atomic_store(&n->host_waiting, 0);
    pthread_mutex_unlock(&n->wait_m);
}

static int host_wait(hw_host *h, hw_ready_fn ready, void *arg,
                     hw_time_t timeout)
{
    struct emu_node *n = NODE_OF_HOST(h);
    int64_t deadline = INT64_MAX;
    if (timeout >= 0) {
        int64_t now = emu__mono_ns(), t = ceil_ns(timeout);
        if (t < INT64_MAX - now)
            deadline = now + t;
    }
    for (;;) {
        if (atomic_exchange(&n->irq_pending, 0)) {
            if (n->irq_fn)
                n->irq_fn(n->irq_arg);
            continue;
        }
        uint_fast64_t g = atomic_load(&n->gen);
        if (ready(arg))
            return VS_OK;
        if (emu__mono_ns() >= deadline)
            return VS_ETIMEDOUT;
        emu_hostlock_release(n->cfg.hostlock);
        await_change(n, g, deadline);
        emu_hostlock_acquire(n->cfg.hostlock);
    }
}

static void host_set_irq(hw_host *h, hw_upcall_fn fn, void *arg)
{
    struct emu_node *n = NODE_OF_HOST(h);
    n->irq_fn = fn;
    n->irq_arg = arg;
}

static void *host_window(hw_host *h)
{
    return NODE_OF_HOST(h)->window;
}

const struct hw_host_ops emu__host_ops = {
    .now = host_now,
    .compute = host_compute,
    .cost = host_cost,
    .pio_write = host_pio_write,
    .pio_read = host_pio_read,
    .wait = host_wait,
    .set_irq_handler = host_set_irq,
    .window = host_window,
};
