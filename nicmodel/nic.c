/*
 * The simulated NIC and host side of the hardware port (nicmodel/nicm.h).
 *
 * The NIC processor runs firmware upcalls one at a time from a FIFO.  A
 * handler starts at max(arrival, processor free); what it charges advances
 * the processor's local time, and everything it starts (DMA, send, timer,
 * interrupt) is posted to happen at that local time, so resources are
 * claimed in simulated-time order.  The host-DMA engine and the host's
 * programmed I/O share the PCI bus: a DMA holds the bus for its data phase,
 * a PIO write for its words.  Bytes move when a transfer completes.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#include <emmintrin.h>
#define NT_COPY 1
#endif

#include "nicmodel/nic_int.h"
#include "util/err.h"
#include "util/inv.h"
#include "util/log.h"
#include "util/zpages.h"

#define NODE_OF_HOST(h) ((struct nicm__node *)((char *)(h)-offsetof(struct nicm__node, host)))
#define NODE_OF_NIC(x) ((struct nicm__node *)((char *)(x)-offsetof(struct nicm__node, nic)))

enum task_kind { T_DONE, T_RX, T_UPCALL, T_TIMER };
static const char *const task_names[] = {"DMA done", "packet in", "doorbell",
                                         "timer"};

struct nicm__timer {
    struct sim_event ev;
    struct nicm__node *node;
    hw_upcall_fn fn;
    void *arg;
    int cancelled, pending;
};

struct nicm__task {
    struct nicm__task *next;
    struct nicm__node *node;
    enum task_kind kind;
    union {
        struct {
            hw_done_fn fn;
            void *arg;
            int status;
        } done;
        struct nicm__pkt *pkt;
        struct {
            hw_upcall_fn fn;
            void *arg;
        } up;
        struct nicm__timer *timer;
    } u;
};

static inline hw_time_t max_t(hw_time_t a, hw_time_t b) { return a > b ? a : b; }

/* ---- The NIC processor ---- */

static struct nicm__task *task_new(struct nicm__node *n, enum task_kind k)
{
    struct nicm__task *t = vs_pool_get(&n->cl->task_pool);
    if (!t) {
        fprintf(stderr, "vmmcsim: out of memory (NIC tasks)\n");
        abort();
    }
    t->next = NULL;
    t->node = n;
    t->kind = k;
    return t;
}

static void cpu_run(void *arg);

/* A task became ready now: queue it on its processor. */
static void task_arrive(void *arg)
{
    struct nicm__task *t = arg;
    struct nicm__node *n = t->node;
    if (n->tq_tail)
        n->tq_tail->next = t;
    else
        n->tq_head = t;
    n->tq_tail = t;
    if (!n->cpu_scheduled && !n->cpu_running) {
        /* The processor's next run is never cancelled: a posted event
         * (the engine's cheaper queue), not a cancellable one. */
        n->cpu_scheduled = 1;
        if (n->cpu_free <= sim_now())
            cpu_run(n);
        else
            sim_post(n->cpu_free, cpu_run, n);
    }
}

static void task_run(struct nicm__task *t)
{
    struct nicm__node *n = t->node;
    switch (t->kind) {
    case T_DONE:
        t->u.done.fn(t->u.done.arg, t->u.done.status);
        break;
    case T_RX:
        n->rx_fn(n->rx_arg, t->u.pkt->data, t->u.pkt->len,
                 t->u.pkt->src->nic.node);
        break;
    case T_UPCALL:
        t->u.up.fn(t->u.up.arg);
        break;
    case T_TIMER: {
        struct nicm__timer *tm = t->u.timer;
        if (!tm->cancelled)
            tm->fn(tm->arg);
        vs_pool_put(&n->cl->timer_pool, tm);
        break;
    }
    }
}

static void cpu_run(void *arg)
{
    struct nicm__node *n = arg;
    n->cpu_scheduled = 0;
    n->cpu_running = 1;
    while (n->tq_head) {
        struct nicm__task *t = n->tq_head;
        n->tq_head = t->next;
        if (!n->tq_head)
            n->tq_tail = NULL;
        hw_time_t start = max_t(sim_now(), n->cpu_free);
        n->cpu_now = start;
        task_run(t);
        n->st.fw_handlers++;
        n->st.cpu_busy += n->cpu_now - start;
        NICM_TL(n, NICM_TL_CPU, task_names[t->kind], start, n->cpu_now);
        n->cpu_free = n->cpu_now;
        vs_pool_put(&n->cl->task_pool, t);
        if (n->tq_head && n->cpu_free > sim_now()) {
            n->cpu_scheduled = 1;
            sim_post(n->cpu_free, cpu_run, n);
            break;
        }
    }
    n->cpu_running = 0;
}

/* The time at which an action of the firmware takes effect. */
static hw_time_t nic_time(struct nicm__node *n)
{
    return n->cpu_running ? n->cpu_now : sim_now();
}

static void post_done(struct nicm__node *n, hw_time_t t, hw_done_fn fn,
                      void *arg, int status)
{
    struct nicm__task *task = task_new(n, T_DONE);
    task->u.done.fn = fn;
    task->u.done.arg = arg;
    task->u.done.status = status;
    sim_post(t, task_arrive, task);
}

/* ---- Host-visible effects ---- */

static void poll_wake(void *arg) { sim_proc_wake(arg); }

/* The NIC wrote this host's memory: if what its process waits for is now
 * true, the process sees it at its next poll (HW_HOST_POLL from now).  It
 * is woken then, once: until then it polls, and neither an interrupt nor
 * its timeout wakes it (host_wait).  The predicate only reads memory, so it
 * may run here. */
static void host_memory_written(struct nicm__node *n, const void *dst,
                                size_t len)
{
    if (n->wait_len && ((const char *)dst >= n->wait_addr + n->wait_len ||
                        (const char *)dst + len <= n->wait_addr))
        return; /* not what the process waits on (host_wait_on) */
    if (n->wait_ready && n->proc && sim_proc_blocked(n->proc) &&
        n->wait_ready(n->wait_arg)) {
        n->st.host_wakeups++;
        n->wait_ready = NULL;
        sim_event_cancel(&n->wait_tmo);
        sim_post(sim_now() + n->cl->prof.host_cost[HW_HOST_POLL], poll_wake,
                 n->proc);
    }
}

static void irq_event(void *arg)
{
    struct nicm__node *n = arg;
    n->irq_pending = 1;
    if (n->wait_ready && n->proc && sim_proc_blocked(n->proc)) {
        n->st.host_wakeups++;
        sim_proc_wake(n->proc);
    }
}

/* ---- NIC ops ---- */

static hw_time_t nic_now(hw_nic *x) { return nic_time(NODE_OF_NIC(x)); }

static void nic_charge(hw_nic *x, enum hw_fw_cost c, uint32_t count)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    assert(n->cpu_running);
    assert(c < HW_FW_NCOSTS);
    n->cpu_now += (hw_time_t)n->cl->prof.fw_cycles[c] * count *
                  n->cl->prof.cycle;
}

/* A host-DMA transfer.  The engine serves them one at a time in order: a
 * setup phase (start-up, PCI arbitration, address) that does not hold the
 * bus, then a data phase that does, claimed when the setup ends, so a
 * host PIO that comes in between goes first. */
struct dma_req {
    struct dma_req *next;
    struct nicm__node *n;
    enum hw_dma_dir dir;
    void *host, *sram;
    size_t len;
    hw_done_fn done;
    void *arg;
    hw_time_t ready; /* when the firmware asked for it */
    hw_time_t start;
};

static void dma_begin(struct nicm__node *n);

/* The bytes of a host-DMA into host memory.  In a large cluster (nt set)
 * large ones are written with non-temporal stores: like the DMA engine
 * they stand for, they do not go through the simulator's caches, where the
 * data, which the program reads later if ever, would push out the state of
 * the nodes the next events work on (a large cluster's host memory is far
 * larger than the cache).  A small cluster's state and buffers fit in the
 * cache, and plain stores are faster there (docs/speed.md). */
static void copy_to_host(int nt, void *dst, const void *src, size_t len)
{
#ifdef NT_COPY
    if (nt && len >= 1024) {
        unsigned char *d = dst;
        const unsigned char *sp = src;
        size_t head = (16 - ((uintptr_t)d & 15)) & 15;
        memcpy(d, sp, head);
        d += head;
        sp += head;
        len -= head;
        for (; len >= 64; len -= 64, d += 64, sp += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)sp);
            __m128i b = _mm_loadu_si128((const __m128i *)(sp + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(sp + 32));
            __m128i e = _mm_loadu_si128((const __m128i *)(sp + 48));
            _mm_stream_si128((__m128i *)d, a);
            _mm_stream_si128((__m128i *)(d + 16), b);
            _mm_stream_si128((__m128i *)(d + 32), c);
            _mm_stream_si128((__m128i *)(d + 48), e);
        }
        _mm_sfence();
        memcpy(d, sp, len);
        return;
    }
#else
    (void)nt;
#endif
    memcpy(dst, src, len);
}

static void dma_complete(void *arg)
{
    struct dma_req *r = arg;
    struct nicm__node *n = r->n;
    /* The next request starts below, after the copy: load it meanwhile. */
    if (r->next)
        __builtin_prefetch(r->next);
    if (r->dir == HW_DMA_TO_HOST) {
        copy_to_host(n->cl->nt_to_host, r->host, r->sram, r->len);
        host_memory_written(n, r->host, r->len);
    } else {
        memcpy(r->sram, r->host, r->len);
    }
    n->st.hdma_busy += sim_now() - r->start;
    NICM_TL(n, NICM_TL_HDMA,
            r->dir == HW_DMA_TO_HOST ? "to host" : "from host", r->start,
            sim_now());
    n->hq_head = r->next;
    if (!n->hq_head)
        n->hq_tail = NULL;
    /* The next request starts after the completion is handed over; the
     * firmware may queue more meanwhile (nic_host_dma starts a request
     * itself only when the engine is idle). */
    int more = n->hq_head != NULL;
    n->hdma_active = more;
    struct nicm__task *t = task_new(n, T_DONE);
    t->u.done.fn = r->done;
    t->u.done.arg = r->arg;
    t->u.done.status = 0;
    task_arrive(t);
    vs_pool_put(&n->cl->dma_pool, r);
    if (more)
        dma_begin(n);
}

static void dma_data(void *arg)
{
    struct dma_req *r = arg;
    struct nicm__node *n = r->n;
    hw_time_t data = max_t(sim_now(), n->bus_free);
    hw_time_t end =
        data + nicm__xfer_time(r->len, n->cl->prof.dma_bytes_per_ps);
    n->st.bus_busy += end - data;
    NICM_TL(n, NICM_TL_BUS, "DMA", data, end);
    n->bus_free = end;
    sim_post(end, dma_complete, r);
}

static void dma_begin(struct nicm__node *n)
{
    struct dma_req *r = n->hq_head;
    n->hdma_active = 1;
    r->start = max_t(sim_now(), r->ready);
    n->st.host_dmas++;
    n->st.host_dma_bytes += r->len;
    sim_post(r->start + n->cl->prof.dma_setup, dma_data, r);
}

static int nic_host_dma(hw_nic *x, enum hw_dma_dir dir, void *host,
                        void *sram, size_t len, hw_done_fn done, void *arg)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    if ((len && (!host || !sram)) || !done ||
        (dir != HW_DMA_TO_NIC && dir != HW_DMA_TO_HOST))
        return VS_EINVAL;
    struct dma_req *r = vs_pool_get(&n->cl->dma_pool);
    if (!r)
        return VS_ENOMEM;
    *r = (struct dma_req){NULL, n, dir, host, sram, len, done, arg,
                          nic_time(n), 0};
    /* Queued at once, served from ready on: the firmware's requests come
     * in time order (its processor's clock only goes forward). */
    if (n->hq_tail)
        n->hq_tail->next = r;
    else
        n->hq_head = r;
    n->hq_tail = r;
    if (!n->hdma_active)
        dma_begin(n);
    return VS_OK;
}

static void send_start(void *arg)
{
    struct nicm__pkt *p = arg;
    struct nicm__node *n = p->src;
    const struct nicm_profile *prof = &n->cl->prof;
    hw_time_t start = max_t(sim_now(), n->sdma_free);
    double bw = p->route->n ? n->cl->links[p->route->links[0]].bw : 0;
    p->head_in = start + prof->net_dma_setup;
    p->tail_in = p->head_in + (bw > 0 ? nicm__xfer_time(p->wire_len, bw) : 0);
    n->sdma_free = p->tail_in;
    n->st.sdma_busy += p->tail_in - start;
    NICM_TL(n, NICM_TL_SDMA, "packet", start, p->tail_in);
    n->st.pkts_sent++;
    p->nth = n->st.pkts_sent;
    if (n->cl->faults.npicks)
        nicm__pick(n->cl, p);
    n->st.wire_bytes_sent += p->wire_len;
    post_done(n, p->tail_in, p->done, p->done_arg, 0);
    /* A NIC that is down sends nothing, but its send-DMA still completes,
     * so the firmware goes on. */
    if (n->cl->faults.active && nicm__nic_down(n->cl, n->nic.node, start)) {
        n->cl->faults.st.nic_down_drops++;
        nicm__pkt_free(p);
        return;
    }
    nicm__pkt_inject(p);
}

static int nic_net_send(hw_nic *x, int dst, const void *pkt, size_t len,
                        hw_done_fn done, void *arg)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    if (dst < 0 || dst >= n->cl->nnodes || !pkt || !len ||
        len > n->nic.max_packet || !done)
        return VS_EINVAL;
    const struct nicm__route *route = nicm__route(n, dst);
    if (!route)
        return VS_EUNREACH;
    struct nicm__pkt *p = nicm__pkt_alloc(n->cl);
    if (!p)
        return VS_ENOMEM;
    p->src = n;
    p->dst = &n->cl->nodes[dst];
    p->route = route;
    p->len = len;
    p->wire_len = len + n->cl->prof.wire_overhead_bytes;
    p->done = done;
    p->done_arg = arg;
    memcpy(p->data, pkt, len);
    n->cl->in_flight++;
    sim_post(nic_time(n), send_start, p);
    return VS_OK;
}

/* The receive-DMA engine takes packet p (its head is here) into a receive
 * buffer, no earlier than t. */
void nicm__rx_deliver(struct nicm__node *n, struct nicm__pkt *p, hw_time_t t)
{
    const struct nicm_profile *prof = &n->cl->prof;
    VS_INV(!p->delivered, "simulator: a packet to node %d delivered twice",
           n->nic.node);
    p->delivered = 1;
    n->rx_free--;
    hw_time_t start = max_t(t, n->rdma_free);
    double bw = p->route->n ? n->cl->links[p->route->links[p->route->n - 1]].bw
                            : 0;
    hw_time_t stream = bw > 0 ? nicm__xfer_time(p->wire_len, bw) : 0;
    hw_time_t end = max_t(start + prof->net_dma_setup + stream, p->tail_in);
    n->rdma_free = end;
    n->st.rdma_busy += end - start;
    NICM_TL(n, NICM_TL_RDMA, "packet", start, end);
    n->st.pkts_recv++;
    struct nicm__task *task = task_new(n, T_RX);
    task->u.pkt = p;
    sim_post(end, task_arrive, task);
}

static void nic_set_rx(hw_nic *x, hw_rx_fn fn, void *arg)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    n->rx_fn = fn;
    n->rx_arg = arg;
}

static void nic_rx_release(hw_nic *x, void *data)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    struct nicm__pkt *p =
        (struct nicm__pkt *)((char *)data - offsetof(struct nicm__pkt, data));
    assert(p->dst == n);
    VS_INV(p->delivered, "simulator: node %d released a receive buffer it "
                         "was never given", n->nic.node);
    nicm__rx_release(n, p, nic_time(n));
}

static void nic_set_doorbell(hw_nic *x, hw_upcall_fn fn, void *arg)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    n->doorbell_fn = fn;
    n->doorbell_arg = arg;
}

static void timer_fire(void *arg)
{
    struct nicm__timer *tm = arg;
    tm->pending = 1;
    struct nicm__task *t = task_new(tm->node, T_TIMER);
    t->u.timer = tm;
    task_arrive(t);
}

static void *nic_timer_start(hw_nic *x, hw_time_t delay, hw_upcall_fn fn,
                             void *arg)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    struct nicm__timer *tm = vs_pool_get(&n->cl->timer_pool);
    if (!tm)
        return NULL;
    *tm = (struct nicm__timer){.node = n, .fn = fn, .arg = arg};
    sim_event_init(&tm->ev);
    sim_event_at(&tm->ev, nic_time(n) + (delay > 0 ? delay : 0), timer_fire,
                 tm);
    return tm;
}

static void nic_timer_cancel(hw_nic *x, void *timer)
{
    (void)x;
    struct nicm__timer *tm = timer;
    if (!tm)
        return;
    if (tm->pending) {
        tm->cancelled = 1; /* Its task frees it. */
    } else {
        sim_event_cancel(&tm->ev);
        vs_pool_put(&tm->node->cl->timer_pool, tm);
    }
}

/* SRAM blocks from this size on are mapped on their own
 * (vs_map_zeroed), so the pages a firmware never writes (per-peer tables
 * of a large cluster, packet buffers of an idle node) cost no memory;
 * calloc would clear them. */
#define SRAM_MMAP_MIN (16 * 1024)

/* The free list of small SRAM blocks of len bytes (0 < len <=
 * NICM_SRAM_SMALL). */
static size_t sram_class(size_t len)
{
    return (len - 1) / NICM_SRAM_CLASS;
}

static void *nic_sram_alloc(hw_nic *x, size_t len)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    if (!len || n->sram_used + len > n->cl->prof.sram_bytes)
        return NULL;
    void *p;
    if (len >= SRAM_MMAP_MIN) {
        if (!(p = vs_map_zeroed(len)))
            return NULL;
    } else if (len <= NICM_SRAM_SMALL) {
        /* One a control packet: from a free list, not malloc. */
        if (!(p = vs_pool_get0(&n->cl->sram_small[sram_class(len)])))
            return NULL;
    } else if (!(p = calloc(1, len))) {
        return NULL;
    }
    n->sram_used += len;
    VS_INV(n->sram_used <= n->cl->prof.sram_bytes,
           "resources: node %d uses %llu bytes of SRAM, above its %llu",
           x->node, (unsigned long long)n->sram_used,
           (unsigned long long)n->cl->prof.sram_bytes);
    if (n->sram_used > n->st.sram_peak)
        n->st.sram_peak = n->sram_used;
    return p;
}

static void nic_sram_free(hw_nic *x, void *p, size_t len)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    if (!p)
        return;
    assert(n->sram_used >= len);
    n->sram_used -= len;
    if (len >= SRAM_MMAP_MIN)
        vs_unmap_zeroed(p, len);
    else if (len <= NICM_SRAM_SMALL)
        vs_pool_put(&n->cl->sram_small[sram_class(len)], p);
    else
        free(p);
}

static void nic_set_window(hw_nic *x, void *w) { NODE_OF_NIC(x)->window = w; }

static void nic_raise_irq(hw_nic *x)
{
    struct nicm__node *n = NODE_OF_NIC(x);
    sim_post(nic_time(n), irq_event, n);
}

static const struct hw_nic_ops nicm_nic_ops = {
    .now = nic_now,
    .charge = nic_charge,
    .host_dma = nic_host_dma,
    .net_send = nic_net_send,
    .set_rx = nic_set_rx,
    .rx_release = nic_rx_release,
    .set_doorbell = nic_set_doorbell,
    .timer_start = nic_timer_start,
    .timer_cancel = nic_timer_cancel,
    .sram_alloc = nic_sram_alloc,
    .sram_free = nic_sram_free,
    .set_window = nic_set_window,
    .raise_irq = nic_raise_irq,
};

/* ---- Host ops ---- */

static hw_time_t host_now(hw_host *h)
{
    (void)h;
    return sim_now();
}

static void host_compute(hw_host *h, hw_time_t dt)
{
    struct nicm__node *n = NODE_OF_HOST(h);
    assert(n->proc && sim_proc_self() == n->proc);
    sim_proc_sleep(n->proc, dt);
}

static hw_time_t host_cost(hw_host *h, enum hw_host_cost c)
{
    assert(c < HW_HOST_NCOSTS);
    return NODE_OF_HOST(h)->cl->prof.host_cost[c];
}

/* Holds the bus for a PIO of len bytes; returns when it is done. */
static void pio_bus(struct nicm__node *n, size_t len, hw_time_t per_word)
{
    hw_time_t now = sim_now();
    hw_time_t start = max_t(now, n->bus_free);
    hw_time_t end = start + (hw_time_t)((len + 3) / 4) * per_word;
    n->bus_free = end;
    n->st.bus_busy += end - start;
    NICM_TL(n, NICM_TL_BUS, "PIO", start, end);
    n->st.pio_writes++;
    n->st.pio_bytes += len;
    sim_proc_sleep(n->proc, end - now);
}

static void host_pio_write(hw_host *h, void *dst, const void *src, size_t len)
{
    struct nicm__node *n = NODE_OF_HOST(h);
    pio_bus(n, len, n->cl->prof.pio_write_word);
    memcpy(dst, src, len);
    if (n->doorbell_fn) {
        struct nicm__task *t = task_new(n, T_UPCALL);
        t->u.up.fn = n->doorbell_fn;
        t->u.up.arg = n->doorbell_arg;
        sim_post(sim_now(), task_arrive, t);
    }
}

static void host_pio_read(hw_host *h, void *dst, const void *src, size_t len)
{
    struct nicm__node *n = NODE_OF_HOST(h);
    pio_bus(n, len, n->cl->prof.pio_read_word);
    memcpy(dst, src, len);
}

static void wait_timeout(void *arg)
{
    struct nicm__node *n = arg;
    sim_proc_wake(n->proc);
}

/* host_wait, or host_wait_on when len > 0: only NIC writes that touch
 * [addr, addr+len) make ready worth evaluating. */
static int wait_range(hw_host *h, hw_ready_fn ready, void *arg,
                      hw_time_t timeout, const void *addr, size_t len)
{
    struct nicm__node *n = NODE_OF_HOST(h);
    const struct nicm_profile *p = &n->cl->prof;
    hw_time_t deadline = timeout < 0 ? HW_TIME_NEVER : sim_now() + timeout;
    for (;;) {
        if (n->irq_pending) {
            n->irq_pending = 0;
            if (n->irq_fn) {
                sim_proc_sleep(n->proc, p->host_cost[HW_HOST_INTERRUPT]);
                n->irq_fn(n->irq_arg);
            }
            continue;
        }
        if (ready(arg))
            return VS_OK;
        if (sim_now() >= deadline)
            return VS_ETIMEDOUT;
        n->wait_ready = ready;
        n->wait_arg = arg;
        n->wait_addr = addr;
        n->wait_len = len;
        if (deadline != HW_TIME_NEVER)
            sim_event_at(&n->wait_tmo, deadline, wait_timeout, n);
        sim_proc_block(n->proc, "a VMMC wait");
        sim_event_cancel(&n->wait_tmo);
        n->wait_ready = NULL;
        n->wait_len = 0;
    }
}

static int host_wait(hw_host *h, hw_ready_fn ready, void *arg,
                     hw_time_t timeout)
{
    return wait_range(h, ready, arg, timeout, NULL, 0);
}

static int host_wait_on(hw_host *h, hw_ready_fn ready, void *arg,
                        hw_time_t timeout, const void *addr, size_t len)
{
    return wait_range(h, ready, arg, timeout, addr, len);
}

static void host_set_irq(hw_host *h, hw_upcall_fn fn, void *arg)
{
    struct nicm__node *n = NODE_OF_HOST(h);
    n->irq_fn = fn;
    n->irq_arg = arg;
}

static void *host_window(hw_host *h) { return NODE_OF_HOST(h)->window; }

static const struct hw_host_ops nicm_host_ops = {
    .now = host_now,
    .compute = host_compute,
    .cost = host_cost,
    .pio_write = host_pio_write,
    .pio_read = host_pio_read,
    .wait = host_wait,
    .wait_on = host_wait_on,
    .set_irq_handler = host_set_irq,
    .window = host_window,
};

/* ---- The cluster ---- */

/* hw_self(): the host of the simulated process running now.  One cluster
 * per OS process (SimGrid's rule), so one pointer. */
static nicm_cluster *self_cluster;

static hw_host *nicm_self(void)
{
    sim_proc *p = sim_proc_self();
    if (!self_cluster || !p)
        return NULL;
    size_t i = sim_proc_host(p);
    return i < (size_t)self_cluster->nnodes ? &self_cluster->nodes[i].host
                                            : NULL;
}

int nicm_cluster_create(nicm_cluster **out, const struct nicm_profile *prof,
                        const struct nicm_topo *topo, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (topo->nnodes < 1) {
        snprintf(err, errlen, "the topology has no node");
        return VS_ECONFIG;
    }
    uint64_t rxbytes = (uint64_t)prof->recv_buffers * prof->max_packet;
    if (rxbytes >= prof->sram_bytes) {
        snprintf(err, errlen,
                 "profile: [nic] recv_buffers * max_packet (%llu bytes) does "
                 "not fit in sram_bytes (%llu)",
                 (unsigned long long)rxbytes,
                 (unsigned long long)prof->sram_bytes);
        return VS_ECONFIG;
    }
    struct nicm_cluster *cl = calloc(1, sizeof *cl);
    if (!cl)
        return VS_ENOMEM;
    cl->prof = *prof;
    vs_pool_init(&cl->pkt_pool, sizeof(struct nicm__pkt) + prof->max_packet);
    vs_pool_init(&cl->dma_pool, sizeof(struct dma_req));
    vs_pool_init(&cl->task_pool, sizeof(struct nicm__task));
    vs_pool_init(&cl->timer_pool, sizeof(struct nicm__timer));
    for (size_t i = 0; i < NICM_SRAM_SMALL / NICM_SRAM_CLASS; i++)
        vs_pool_init(&cl->sram_small[i], (i + 1) * NICM_SRAM_CLASS);
    cl->topo = *topo;
    cl->nnodes = topo->nnodes;
    cl->nt_to_host = cl->nnodes >= NICM_NT_MIN_NODES;
    /* Cache-line aligned, as the type asks (and a node's first lines hold
     * what events touch). */
    size_t nodes_bytes = (size_t)cl->nnodes * sizeof *cl->nodes;
    cl->nodes = aligned_alloc(_Alignof(struct nicm__node),
                              nodes_bytes ? nodes_bytes
                                          : sizeof *cl->nodes);
    if (cl->nodes)
        memset(cl->nodes, 0, nodes_bytes);
    cl->links = calloc(topo->nlinks ? topo->nlinks : 1, sizeof *cl->links);
    if (!cl->nodes || !cl->links) {
        nicm_cluster_destroy(cl);
        return VS_ENOMEM;
    }
    for (size_t i = 0; i < topo->nlinks; i++) {
        if (!(topo->link_bw[i] > 0)) {
            snprintf(err, errlen, "platform: link %s has no bandwidth",
                     topo->link_name ? topo->link_name[i] : "?");
            nicm_cluster_destroy(cl);
            return VS_ECONFIG;
        }
        cl->links[i].bw = topo->link_bw[i] / 1e12;
        cl->links[i].lat = topo->link_lat[i];
    }
    for (int i = 0; i < cl->nnodes; i++) {
        struct nicm__node *n = &cl->nodes[i];
        n->cl = cl;
        n->host = (struct hw_host){&nicm_host_ops, i, cl->nnodes, prof->page_size};
        n->nic = (struct hw_nic){.ops = &nicm_nic_ops,
                                 .node = i,
                                 .nnodes = cl->nnodes,
                                 .max_packet = prof->max_packet,
                                 .page_size = prof->page_size,
                                 .send_buffers = prof->send_buffers,
                                 .unreliable = !prof->reliable,
                                 .rto = prof->rto,
                                 .max_retries = prof->max_retries,
                                 .ack_delay = prof->ack_delay,
                                 .window = prof->window,
                                 .utlb_entries = prof->utlb_entries};
        n->rx_free = prof->recv_buffers;
        n->sram_used = rxbytes; /* The receive buffers live in SRAM. */
        n->sram_base = rxbytes;
        n->st.sram_peak = rxbytes;
        sim_event_init(&n->wait_tmo);
        sim_event_init(&n->rx_due_ev);
    }
    self_cluster = cl;
    hw_set_self(nicm_self);
    *out = cl;
    return VS_OK;
}

void nicm_cluster_destroy(nicm_cluster *cl)
{
    if (!cl)
        return;
    if (self_cluster == cl) {
        self_cluster = NULL;
        hw_set_self(NULL);
    }
    for (int i = 0; cl->nodes && i < cl->nnodes; i++) {
        struct nicm__node *n = &cl->nodes[i];
        /* Whatever the firmware allocated, it freed when it halted. */
        VS_INV(n->sram_used == n->sram_base,
               "resources: node %d: %llu bytes of SRAM still allocated after "
               "the firmware halted",
               i, (unsigned long long)(n->sram_used - n->sram_base));
        if (n->routes) {
            for (int j = 0; j < cl->nnodes; j++)
                free(n->routes[j]);
            free(n->routes);
        }
        if (n->rx_rel) { /* a buffer was released: rx_due_ev is set up */
            sim_event_cancel(&n->rx_due_ev);
            free(n->rx_rel);
        }
        while (n->hq_head) {
            struct dma_req *r = n->hq_head;
            n->hq_head = r->next;
            free(r);
        }
        while (n->stall_head) {
            struct nicm__pkt *p = n->stall_head;
            n->stall_head = p->next;
            free(p);
        }
        while (n->tq_head) {
            struct nicm__task *t = n->tq_head;
            n->tq_head = t->next;
            free(t);
        }
    }
    vs_pool_drain(&cl->dma_pool);
    vs_pool_drain(&cl->pkt_pool);
    vs_pool_drain(&cl->task_pool);
    vs_pool_drain(&cl->timer_pool);
    for (size_t i = 0; i < NICM_SRAM_SMALL / NICM_SRAM_CLASS; i++)
        vs_pool_drain(&cl->sram_small[i]);
    nicm__faults_destroy(cl);
    nicm__fabric_free(cl);
    free(cl->nodes);
    free(cl->links);
    free(cl);
}

hw_host *nicm_host(nicm_cluster *cl, int node) { return &cl->nodes[node].host; }
hw_nic *nicm_nic(nicm_cluster *cl, int node) { return &cl->nodes[node].nic; }

void nicm_bind_proc(nicm_cluster *cl, int node, sim_proc *p)
{
    cl->nodes[node].proc = p;
}

const struct nicm_node_stats *nicm_node_stats(nicm_cluster *cl, int node)
{
    return &cl->nodes[node].st;
}

size_t nicm_link_count(nicm_cluster *cl) { return cl->topo.nlinks; }

const char *nicm_link_name(nicm_cluster *cl, size_t link)
{
    return cl->topo.link_name ? cl->topo.link_name[link] : "link";
}

const struct nicm_link_stats *nicm_link_stats(nicm_cluster *cl, size_t link)
{
    return &cl->links[link].st;
}

uint64_t nicm_packets_in_flight(nicm_cluster *cl) { return cl->in_flight; }
