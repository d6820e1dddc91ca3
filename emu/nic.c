/*
 * The emulated NIC: the NIC side of the hardware port (hw/hw.h) in real
 * time, and the node's event loop.
 *
 * One libev loop on its own thread is the NIC processor.  Every firmware
 * upcall starts from one of its callbacks (a datagram arrived, a timer
 * fired, the host rang the doorbell) and runs to its end before the next;
 * what an upcall starts that completes at once (a host-DMA is a memcpy, a
 * send is a sendmsg) queues its completion, which runs after the upcall
 * returns, never inside it.  Packets are UDP datagrams in the format of
 * emu/wire.c; one that does not parse, or comes from an address that is
 * not its node's, is counted and dropped.  When every receive buffer is
 * held by the firmware the socket is left unread (the kernel queues, then
 * drops, and the firmware's reliable link recovers), as a NIC without a
 * free buffer stops its receive DMA.  The fault shim (struct emu_faults)
 * drops, corrupts, duplicates or holds back the firmware's datagrams just
 * before they go to the socket.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "emu/emu_int.h"
#include "util/err.h"
#include "util/inv.h"
#include "util/rng.h"

#define NODE_OF_NIC(x)                                                         \
    ((struct emu_node *)((char *)(x)-offsetof(struct emu_node, nic)))

#define RX_BURST 64 /* datagrams per callback, so timers and PIO get turns */
#define RX_MMSG 16  /* datagrams per recvmmsg call */
#define SOCK_BUF (4 << 20)

int64_t emu__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

hw_time_t emu_now(const emu_node *n)
{
    return (emu__mono_ns() - n->epoch_ns) * HW_NS;
}

/* ---- Upcalls on the NIC processor ---- */

static void drain(struct emu_node *n)
{
    while (n->tq_head) {
        struct emu__task *t = n->tq_head;
        n->tq_head = t->next;
        if (!n->tq_head)
            n->tq_tail = NULL;
        n->in_upcall = 1;
        t->fn(t->arg, t->status);
        n->in_upcall = 0;
        n->st.fw_upcalls++;
        vs_pool_put(&n->task_pool, t);
    }
}

/* Every libev callback that runs firmware code brackets it: the queue is
 * empty when a callback starts (the previous one drained it), so running
 * the upcall at once keeps the order in which things happened. */
static void upcall_begin(struct emu_node *n)
{
    assert(!n->in_upcall);
    n->in_upcall = 1;
}

static void upcall_end(struct emu_node *n)
{
    n->in_upcall = 0;
    n->st.fw_upcalls++;
    drain(n);
}

static void post_done(struct emu_node *n, hw_done_fn fn, void *arg, int status)
{
    struct emu__task *t = vs_pool_get(&n->task_pool);
    if (!t) {
        fprintf(stderr, "vmmcsim: out of memory (NIC tasks)\n");
        abort();
    }
    *t = (struct emu__task){NULL, fn, arg, status};
    if (n->tq_tail)
        n->tq_tail->next = t;
    else
        n->tq_head = t;
    n->tq_tail = t;
    /* Outside an upcall (firmware boot, before the loop runs) nothing
     * would drain it until the next callback: that is fine, it runs
     * first then. */
}

void emu__notify_host(struct emu_node *n)
{
    atomic_fetch_add(&n->gen, 1);
    if (atomic_load(&n->host_waiting)) {
        pthread_mutex_lock(&n->wait_m);
        pthread_cond_signal(&n->wait_c);
        pthread_mutex_unlock(&n->wait_m);
        n->st.host_wakeups++;
    }
}

/* ---- Datagrams ---- */

/* One datagram, header and payload, to node dst. */
static void send_raw(struct emu_node *n, int dst, const void *hdr,
                     size_t hdrlen, const void *payload, size_t len)
{
    const struct emu_peer *p = &n->cl->peers[dst];
    struct iovec iov[2] = {{(void *)hdr, hdrlen}, {(void *)payload, len}};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = (void *)&p->addr;
    mh.msg_namelen = p->addrlen;
    mh.msg_iov = iov;
    mh.msg_iovlen = len ? 2 : 1;
    ssize_t r;
    int64_t t0 = emu__mono_ns();
    do
        r = sendmsg(n->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    n->st.loop_sys_ns += (uint64_t)(emu__mono_ns() - t0);
    n->st.loop_syscalls++;
    if (r >= 0) {
        n->st.tx_datagrams++;
        n->st.tx_bytes += (uint64_t)r;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        n->st.tx_dropped++; /* lost, as on a congested wire */
    } else {
        n->st.tx_errors++;
        pthread_mutex_lock(&n->ctl_m);
        n->send_errno[dst] = errno;
        pthread_mutex_unlock(&n->ctl_m);
    }
}

/* ---- The fault shim ----
 *
 * util/rng.h's generator (as nicmodel/faults.c), one stream per node; drawn only on the loop thread (DATA datagrams leave
 * from firmware upcalls) and only for non-zero probabilities. */

static int chance(struct emu_node *n, double p)
{
    if (!(p > 0))
        return 0;
    return vs_unit(vs_rng_next(n->rng)) < p;
}

static void held_unlink(struct emu_node *n, struct emu__held *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        n->held = h->next;
    if (h->next)
        h->next->prev = h->prev;
}

static void held_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct emu__held *h = w->data;
    struct emu_node *n = h->n;
    held_unlink(n, h);
    send_raw(n, h->dst, h->data, h->len, NULL, 0);
    free(h);
}

/* Holds a datagram back for a random time, then sends it. */
static void hold(struct emu_node *n, int dst, const unsigned char *hdr,
                 const void *payload, size_t len)
{
    hw_time_t max = n->cfg.faults.reorder_delay_max > 0
                        ? n->cfg.faults.reorder_delay_max
                        : EMU_REORDER_DELAY_DEFAULT;
    hw_time_t delay = 1 + (hw_time_t)(vs_rng_next(n->rng) % (uint64_t)max);
    struct emu__held *h = malloc(sizeof *h + EMU_WIRE_HDR + len);
    if (!h) { /* no memory to hold it: send it now */
        send_raw(n, dst, hdr, EMU_WIRE_HDR, payload, len);
        return;
    }
    h->n = n;
    h->dst = dst;
    h->len = EMU_WIRE_HDR + len;
    memcpy(h->data, hdr, EMU_WIRE_HDR);
    if (len)
        memcpy(h->data + EMU_WIRE_HDR, payload, len);
    ev_now_update(n->loop);
    ev_timer_init(&h->w, held_cb, (double)delay / 1e12, 0.);
    h->w.data = h;
    ev_timer_start(n->loop, &h->w);
    h->prev = NULL;
    h->next = n->held;
    if (n->held)
        n->held->prev = h;
    n->held = h;
}

/* Whether a down interval cuts this node off from dst now. */
static int down_now(struct emu_node *n, int dst)
{
    const struct emu_faults *f = &n->cfg.faults;
    hw_time_t t = emu_now(n);
    for (int i = 0; i < f->ndowns; i++) {
        const struct emu_down *d = &f->downs[i];
        if (t < d->from || t >= d->to)
            continue;
        if (d->b < 0 ? d->a == n->self || d->a == dst
                     : (d->a == n->self && d->b == dst) ||
                           (d->b == n->self && d->a == dst))
            return 1;
    }
    return 0;
}

void emu__send(struct emu_node *n, int type, int dst, const void *payload,
               size_t len)
{
    struct emu_wire_hdr h = {EMU_WIRE_VERSION, (uint8_t)type, (uint16_t)n->self,
                             (uint16_t)dst,    (uint32_t)len, n->cl->id};
    unsigned char hdr[EMU_WIRE_HDR];
    emu_wire_header(hdr, &h, payload);
    if (type == EMU_PKT_DATA && n->cfg.faults.ndowns && down_now(n, dst)) {
        n->st.fault_down++;
        return;
    }
    if (!n->faulty || type != EMU_PKT_DATA || !len) {
        send_raw(n, dst, hdr, EMU_WIRE_HDR, payload, len);
        return;
    }
    const struct emu_faults *f = &n->cfg.faults;
    if (chance(n, f->drop)) {
        n->st.fault_drop++;
        return;
    }
    if (chance(n, f->corrupt)) {
        /* After the checksum: the receiver's check finds it. */
        uint64_t bit = vs_rng_next(n->rng) % ((uint64_t)len * 8);
        memcpy(n->tx_raw, payload, len);
        n->tx_raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        payload = n->tx_raw;
        n->st.fault_corrupt++;
    }
    int dup = chance(n, f->dup);
    if (dup)
        n->st.fault_dup++;
    if (chance(n, f->reorder)) {
        n->st.fault_reorder++;
        hold(n, dst, hdr, payload, len);
    } else {
        send_raw(n, dst, hdr, EMU_WIRE_HDR, payload, len);
    }
    if (dup) /* the copy right behind (or ahead of a held original) */
        send_raw(n, dst, hdr, EMU_WIRE_HDR, payload, len);
}

static int same_addr(const struct sockaddr_storage *a, socklen_t alen,
                     const struct sockaddr_storage *b, socklen_t blen)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    return alen == blen && !memcmp(a, b, alen);
}

static const char *addr_text(const struct sockaddr_storage *a, char *buf,
                             size_t len)
{
    char host[64] = "?";
    unsigned port = 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a;
        const unsigned char *b = (const unsigned char *)&x->sin_addr;
        snprintf(host, sizeof host, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        port = ntohs(x->sin_port);
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a;
        const unsigned char *b = x->sin6_addr.s6_addr;
        int k = 0;
        for (int i = 0; i < 16; i += 2)
            k += snprintf(host + k, sizeof host - (size_t)k, "%s%x",
                          i ? ":" : "[", (unsigned)(b[i] << 8 | b[i + 1]));
        snprintf(host + k, sizeof host - (size_t)k, "]");
        port = ntohs(x->sin6_port);
    }
    snprintf(buf, len, "%s:%u", host, port);
    return buf;
}

static void handle_data(struct emu_node *n, const struct emu_wire_hdr *h,
                        const unsigned char *payload)
{
    if (!h->len || h->len > n->nic.max_packet) {
        n->st.rx_bad[EMU_WIRE_BAD_LENGTH]++;
        return;
    }
    if (!n->rx_fn)
        return; /* no firmware: the packet falls on the floor */
    unsigned char *buf = n->rx_free[--n->nrx_free];
    memcpy(buf, payload, h->len);
    upcall_begin(n);
    n->rx_fn(n->rx_arg, buf, h->len, h->src);
    upcall_end(n);
}

static void handle_datagram(struct emu_node *n, const unsigned char *buf,
                            size_t len, const struct sockaddr_storage *from,
                            socklen_t fromlen)
{
    struct emu_wire_hdr h;
    char where[96];
    int known = -1;
    for (int i = 0; i < n->nnodes; i++)
        if (same_addr(from, fromlen, &n->cl->peers[i].addr,
                      n->cl->peers[i].addrlen)) {
            known = i;
            break;
        }
    int st = len > n->rx_raw_len ? EMU_WIRE_BAD_LENGTH
                                 : emu_wire_decode(buf, len, &h);
    if (st != EMU_WIRE_OK) {
        n->st.rx_bad[st]++;
        if (st == EMU_WIRE_BAD_VERSION && known >= 0)
            emu__ctrl_mismatch(n,
                               "node %d (%s) speaks emulator packet "
                               "version %u; this node speaks %u (is it "
                               "another build of vmmcsim?)",
                               known, n->cl->peers[known].label, h.version,
                               EMU_WIRE_VERSION);
        return;
    }
    if (h.cluster != n->cl->id || h.dst != n->self) {
        n->st.rx_foreign++;
        emu__ctrl_mismatch(
            n,
            "a datagram from %s for %s (cluster id %08x, "
            "node %u; this is cluster %08x, node %d): do "
            "all nodes use the same cluster file?",
            addr_text(from, where, sizeof where),
            h.cluster != n->cl->id ? "another cluster" : "another node",
            (unsigned)h.cluster, (unsigned)h.dst, (unsigned)n->cl->id, n->self);
        return;
    }
    if (known < 0 || h.src != known) {
        n->st.rx_unknown++;
        emu__ctrl_mismatch(n,
                           "a datagram from an unknown node: %s says it "
                           "is node %u, %s",
                           addr_text(from, where, sizeof where),
                           (unsigned)h.src,
                           known < 0 ? "but no node of the cluster file has "
                                       "that address"
                                     : "but that address is another node's");
        return;
    }
    n->st.rx_datagrams++;
    n->st.rx_bytes += len;
    n->last_heard[h.src] = emu_now(n);
    if (h.type == EMU_PKT_DATA)
        handle_data(n, &h, buf + EMU_WIRE_HDR);
    else
        emu__ctrl_rx(n, &h, buf + EMU_WIRE_HDR);
}

/* Reads what the socket holds, RX_MMSG datagrams per recvmmsg call (no
 * more than there are free receive buffers), up to RX_BURST. */
static void rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct emu_node *n = w->data;
    struct mmsghdr mm[RX_MMSG];
    struct iovec iov[RX_MMSG];
    struct sockaddr_storage from[RX_MMSG];
    for (int done = 0; done < RX_BURST;) {
        if (!n->nrx_free) {
            ev_io_stop(loop, w);
            n->rx_paused = 1;
            n->st.rx_stalls++;
            return;
        }
        unsigned want = RX_MMSG;
        if (want > n->nrx_free)
            want = n->nrx_free;
        if (want > (unsigned)(RX_BURST - done))
            want = (unsigned)(RX_BURST - done);
        memset(mm, 0, want * sizeof *mm);
        for (unsigned i = 0; i < want; i++) {
            iov[i] = (struct iovec){n->rx_raw + i * n->rx_raw_len,
                                    n->rx_raw_len};
            mm[i].msg_hdr.msg_name = &from[i];
            mm[i].msg_hdr.msg_namelen = sizeof from[i];
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int64_t t0 = emu__mono_ns();
        int r = recvmmsg(n->fd, mm, want, MSG_DONTWAIT, NULL);
        n->st.loop_sys_ns += (uint64_t)(emu__mono_ns() - t0);
        n->st.loop_syscalls++;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an error report: nothing to read */
        }
        for (int i = 0; i < r; i++) {
            /* A truncated datagram was longer than any valid one. */
            size_t len = mm[i].msg_hdr.msg_flags & MSG_TRUNC
                             ? n->rx_raw_len + 1
                             : mm[i].msg_len;
            handle_datagram(n, n->rx_raw + (size_t)i * n->rx_raw_len, len,
                            &from[i], mm[i].msg_hdr.msg_namelen);
        }
        done += r;
        if ((unsigned)r < want)
            return; /* the socket is empty */
    }
}

/* ---- The loop's other watchers ---- */

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)revents;
    struct emu_node *n = w->data;
    drain(n); /* completions queued before the loop ran (boot) */
    emu__pio_drain(n);
    emu__ctrl_async(n);
    if (atomic_load(&n->stop))
        ev_break(loop, EVBREAK_ALL);
}

static void ctl_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    emu__ctrl_tick(w->data);
}

void emu__ring_bell(struct emu_node *n)
{
    if (!n->bell_fn)
        return;
    upcall_begin(n);
    n->bell_fn(n->bell_arg);
    upcall_end(n);
}

/* Every batch of callbacks, timed: the NIC loop's busy time. */
static void invoke_timed(struct ev_loop *loop)
{
    struct emu_node *n = ev_userdata(loop);
    int64_t t0 = emu__mono_ns();
    ev_invoke_pending(loop);
    n->st.loop_busy_ns += (uint64_t)(emu__mono_ns() - t0);
}

static void *loop_main(void *arg)
{
    struct emu_node *n = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    ev_run(n->loop, 0);
    struct timespec ts;
    if (!clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        n->loop_cpu_done +=
            (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return NULL;
}

/* ---- NIC ops ---- */

static hw_time_t nic_now(hw_nic *x)
{
    return emu_now(NODE_OF_NIC(x));
}

static void nic_charge(hw_nic *x, enum hw_fw_cost c, uint32_t count)
{
    assert(c < HW_FW_NCOSTS);
    NODE_OF_NIC(x)->st.charged[c] += count;
}

static int nic_host_dma(hw_nic *x, enum hw_dma_dir dir, void *host, void *sram,
                        size_t len, hw_done_fn done, void *arg)
{
    struct emu_node *n = NODE_OF_NIC(x);
    if ((len && (!host || !sram)) || !done ||
        (dir != HW_DMA_TO_NIC && dir != HW_DMA_TO_HOST))
        return VS_EINVAL;
    n->st.host_dmas++;
    n->st.host_dma_bytes += len;
    if (dir == HW_DMA_TO_HOST) {
        memcpy(host, sram, len);
        emu__notify_host(n);
    } else {
        memcpy(sram, host, len);
    }
    post_done(n, done, arg, VS_OK);
    return VS_OK;
}

static int nic_net_send(hw_nic *x, int dst, const void *pkt, size_t len,
                        hw_done_fn done, void *arg)
{
    struct emu_node *n = NODE_OF_NIC(x);
    if (dst < 0 || dst >= n->nnodes || !pkt || !len ||
        len > n->nic.max_packet || !done)
        return VS_EINVAL;
    emu__send(n, EMU_PKT_DATA, dst, pkt, len);
    post_done(n, done, arg, VS_OK);
    return VS_OK;
}

static void nic_set_rx(hw_nic *x, hw_rx_fn fn, void *arg)
{
    struct emu_node *n = NODE_OF_NIC(x);
    n->rx_fn = fn;
    n->rx_arg = arg;
}

static void nic_rx_release(hw_nic *x, void *pkt)
{
    struct emu_node *n = NODE_OF_NIC(x);
    unsigned char *p = pkt;
    size_t off = (size_t)(p - n->rx_mem);
    assert(p >= n->rx_mem && off % n->nic.max_packet == 0 &&
           off / n->nic.max_packet < n->cfg.recv_buffers);
    VS_INV(n->nrx_free < n->cfg.recv_buffers,
           "resources: node %d released more receive buffers than it has",
           n->self);
    n->rx_free[n->nrx_free++] = p;
    if (n->rx_paused) {
        n->rx_paused = 0;
        ev_io_start(n->loop, &n->rx_w);
    }
}

static void nic_set_doorbell(hw_nic *x, hw_upcall_fn fn, void *arg)
{
    struct emu_node *n = NODE_OF_NIC(x);
    n->bell_fn = fn;
    n->bell_arg = arg;
}

static void timer_unlink(struct emu_node *n, struct emu__timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        n->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct emu__timer *t = w->data;
    struct emu_node *n = t->n;
    timer_unlink(n, t);
    n->st.timers++;
    t->firing = 1;
    upcall_begin(n);
    t->fn(t->arg);
    upcall_end(n);
    free(t);
}

static void *nic_timer_start(hw_nic *x, hw_time_t delay, hw_upcall_fn fn,
                             void *arg)
{
    struct emu_node *n = NODE_OF_NIC(x);
    struct emu__timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n = n;
    t->fn = fn;
    t->arg = arg;
    ev_now_update(n->loop);
    ev_timer_init(&t->w, timer_cb, delay > 0 ? (double)delay / 1e12 : 0, 0.);
    t->w.data = t;
    ev_timer_start(n->loop, &t->w);
    t->next = n->timers;
    if (n->timers)
        n->timers->prev = t;
    n->timers = t;
    return t;
}

static void nic_timer_cancel(hw_nic *x, void *timer)
{
    struct emu_node *n = NODE_OF_NIC(x);
    struct emu__timer *t = timer;
    if (!t)
        return;
    if (t->firing) { /* cancelled from its own upcall: freed after it */
        t->cancelled = 1;
        return;
    }
    ev_timer_stop(n->loop, &t->w);
    timer_unlink(n, t);
    free(t);
}

static void *nic_sram_alloc(hw_nic *x, size_t len)
{
    struct emu_node *n = NODE_OF_NIC(x);
    if (!len || n->sram_used + len > n->cfg.sram_bytes)
        return NULL;
    void *p = calloc(1, len);
    if (!p)
        return NULL;
    n->sram_used += len;
    if (n->sram_used > n->st.sram_peak)
        n->st.sram_peak = n->sram_used;
    return p;
}

static void nic_sram_free(hw_nic *x, void *p, size_t len)
{
    struct emu_node *n = NODE_OF_NIC(x);
    if (!p)
        return;
    assert(n->sram_used >= len);
    n->sram_used -= len;
    free(p);
}

static void nic_set_window(hw_nic *x, void *w)
{
    NODE_OF_NIC(x)->window = w;
}

static void nic_raise_irq(hw_nic *x)
{
    struct emu_node *n = NODE_OF_NIC(x);
    n->st.interrupts++;
    atomic_store(&n->irq_pending, 1);
    emu__notify_host(n);
}

static const struct hw_nic_ops emu_nic_ops = {
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

/* ---- Open, start, stop, close ---- */

static int open_socket(struct emu_node *n, char *err, size_t errlen)
{
    const struct emu_peer *me = &n->cl->peers[n->self];
    if (n->cfg.sock_fd >= 0) {
        n->fd = n->cfg.sock_fd;
    } else {
        n->fd = socket(me->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (n->fd < 0) {
            snprintf(err, errlen, "node %d: cannot open a UDP socket: %s",
                     n->self, strerror(errno));
            return VS_EIO;
        }
        if (bind(n->fd, (const struct sockaddr *)&me->addr, me->addrlen)) {
            int e = errno;
            snprintf(err, errlen, "%s:%d: node %d cannot listen on %s: %s",
                     n->cl->path, me->line, n->self, me->label,
                     e == EADDRINUSE ? "the port is in use (by another "
                                       "program, or another node there)"
                     : e == EADDRNOTAVAIL
                         ? "that address is not one of this machine's"
                         : strerror(e));
            return e == EADDRINUSE || e == EADDRNOTAVAIL || e == EACCES
                       ? VS_ECONFIG
                       : VS_EIO;
        }
    }
    int fl = fcntl(n->fd, F_GETFL);
    if (fl < 0 || fcntl(n->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "node %d: fcntl: %s", n->self, strerror(errno));
        return VS_EIO;
    }
    int sz = SOCK_BUF;
    /* Larger queues than the default where the system allows: a burst of
     * every peer's window must fit.  Failure only costs retransmissions. */
    (void)setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    (void)setsockopt(n->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    return VS_OK;
}

int emu_node_open(emu_node **out, const struct emu_config *cfg, char *err,
                  size_t errlen)
{
    *out = NULL;
    const struct emu_cluster *cl = cfg->cluster;
    if (!cl || cfg->node < 0 || cfg->node >= cl->n || !cfg->max_packet ||
        !cfg->recv_buffers || !cfg->page_size) {
        snprintf(err, errlen, "emu: bad node configuration");
        if (cfg->sock_fd >= 0)
            close(cfg->sock_fd);
        return VS_EINVAL;
    }
    uint64_t rxbytes = (uint64_t)cfg->recv_buffers * cfg->max_packet;
    if (rxbytes >= cfg->sram_bytes) {
        snprintf(err, errlen,
                 "profile: recv_buffers * max_packet (%llu "
                 "bytes) does not fit in sram_bytes (%llu)",
                 (unsigned long long)rxbytes,
                 (unsigned long long)cfg->sram_bytes);
        if (cfg->sock_fd >= 0)
            close(cfg->sock_fd);
        return VS_ECONFIG;
    }
    struct emu_node *n = calloc(1, sizeof *n);
    if (!n) {
        if (cfg->sock_fd >= 0)
            close(cfg->sock_fd);
        return VS_ENOMEM;
    }
    n->cfg = *cfg;
    if (!n->cfg.hello_interval)
        n->cfg.hello_interval = 20 * HW_MS;
    n->cl = cl;
    n->self = cfg->node;
    vs_pool_init(&n->task_pool, sizeof(struct emu__task));
    n->nnodes = cl->n;
    n->fd = -1;
    n->epoch_ns = cfg->epoch_ns ? cfg->epoch_ns : emu__mono_ns();
    n->nic = (struct hw_nic){.ops = &emu_nic_ops,
                             .node = n->self,
                             .nnodes = n->nnodes,
                             .max_packet = cfg->max_packet,
                             .page_size = cfg->page_size,
                             .send_buffers = cfg->send_buffers,
                             .unreliable = cfg->unreliable,
                             .rto = cfg->rto,
                             .max_retries = cfg->max_retries,
                             .ack_delay = cfg->ack_delay,
                             .window = cfg->window,
                             .utlb_entries = cfg->utlb_entries};
    n->host =
        (struct hw_host){&emu__host_ops, n->self, n->nnodes, cfg->page_size};
    pthread_mutex_init(&n->pio_m, NULL);
    pthread_cond_init(&n->pio_c, NULL);
    pthread_mutex_init(&n->wait_m, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->wait_c, &ca);
    pthread_cond_init(&n->ctl_c, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&n->ctl_m, NULL);
    int rc = open_socket(n, err, errlen);
    if (rc)
        goto fail;
    const struct emu_faults *fd = &cfg->faults;
    if (fd->ndowns < 0 || fd->ndowns > EMU_MAX_DOWNS) {
        snprintf(err, errlen, "option --faults: %d down intervals (at most "
                              "%d)", fd->ndowns, EMU_MAX_DOWNS);
        rc = VS_ECONFIG;
        goto fail;
    }
    for (int i = 0; i < fd->ndowns; i++) {
        const struct emu_down *d = &fd->downs[i];
        if (d->a < 0 || d->a >= n->nnodes || d->b >= n->nnodes ||
            d->a == d->b || d->from < 0 || d->to <= d->from) {
            snprintf(err, errlen, "option --faults: down interval %d (nodes "
                                  "%d, %d) does not fit %s's %d nodes",
                     i, d->a, d->b, n->cl->path, n->nnodes);
            rc = VS_ECONFIG;
            goto fail;
        }
    }
    n->rx_raw_len =
        EMU_WIRE_HDR +
        (cfg->max_packet > EMU_CTRL_MAX ? cfg->max_packet : EMU_CTRL_MAX);
    n->rx_raw = malloc(RX_MMSG * n->rx_raw_len);
    n->tx_raw = malloc(cfg->max_packet);
    const struct emu_faults *f = &cfg->faults;
    n->faulty = f->drop > 0 || f->corrupt > 0 || f->dup > 0 || f->reorder > 0;
    vs_rng_seed(n->rng,
                f->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(n->self + 1)));
    n->rx_mem = malloc(rxbytes);
    n->rx_free = calloc(cfg->recv_buffers, sizeof *n->rx_free);
    n->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
    if (!n->rx_raw || !n->tx_raw || !n->rx_mem || !n->rx_free || !n->loop ||
        emu__ctrl_init(n)) {
        snprintf(err, errlen, "node %d: out of memory", n->self);
        rc = VS_ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < cfg->recv_buffers; i++)
        n->rx_free[n->nrx_free++] = n->rx_mem + (size_t)i * cfg->max_packet;
    n->sram_used = n->sram_base = rxbytes; /* the receive buffers */
    n->st.sram_peak = rxbytes;
    ev_set_userdata(n->loop, n);
    ev_set_invoke_pending_cb(n->loop, invoke_timed);
    ev_io_init(&n->rx_w, rx_cb, n->fd, EV_READ);
    n->rx_w.data = n;
    ev_io_start(n->loop, &n->rx_w);
    ev_async_init(&n->async_w, async_cb);
    n->async_w.data = n;
    ev_async_start(n->loop, &n->async_w);
    double tick = (double)n->cfg.hello_interval / 1e12;
    ev_timer_init(&n->ctl_w, ctl_cb, tick, tick);
    n->ctl_w.data = n;
    ev_timer_start(n->loop, &n->ctl_w);
    *out = n;
    return VS_OK;
fail:
    emu_node_close(n);
    return rc;
}

hw_nic *emu_nic(emu_node *n)
{
    return &n->nic;
}
hw_host *emu_host(emu_node *n)
{
    return &n->host;
}
const struct emu_stats *emu_node_stats(emu_node *n)
{
    n->st.loop_cpu_ns = n->loop_cpu_done;
    clockid_t cid;
    struct timespec ts;
    if (n->running && !pthread_getcpuclockid(n->thread, &cid) &&
        !clock_gettime(cid, &ts))
        n->st.loop_cpu_ns +=
            (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return &n->st;
}

int emu_node_start(emu_node *n)
{
    if (n->running)
        return VS_OK;
    atomic_store(&n->stop, 0);
    /* Greet at once rather than a tick later. */
    emu__ctrl_tick(n);
    n->running = 1;
    if (pthread_create(&n->thread, NULL, loop_main, n)) {
        n->running = 0;
        return VS_EIO;
    }
    return VS_OK;
}

void emu_node_stop(emu_node *n)
{
    if (!n->running)
        return;
    atomic_store(&n->stop, 1);
    ev_async_send(n->loop, &n->async_w);
    pthread_join(n->thread, NULL);
    n->running = 0;
}

void emu_node_close(emu_node *n)
{
    if (!n)
        return;
    emu_node_stop(n);
    /* Whatever the firmware allocated, it freed when it halted. */
    VS_INV(n->sram_used == n->sram_base,
           "resources: node %d: %llu bytes of SRAM still allocated after "
           "the firmware halted",
           n->self, (unsigned long long)(n->sram_used - n->sram_base));
    while (n->timers) {
        struct emu__timer *t = n->timers;
        n->timers = t->next;
        if (n->loop)
            ev_timer_stop(n->loop, &t->w);
        free(t);
    }
    while (n->held) { /* held back by the shim, never sent */
        struct emu__held *h = n->held;
        n->held = h->next;
        if (n->loop)
            ev_timer_stop(n->loop, &h->w);
        free(h);
    }
    while (n->tq_head) {
        struct emu__task *t = n->tq_head;
        n->tq_head = t->next;
        free(t);
    }
    vs_pool_drain(&n->task_pool);
    if (n->loop)
        ev_loop_destroy(n->loop);
    if (n->fd >= 0)
        close(n->fd);
    emu__ctrl_fini(n);
    free(n->rx_raw);
    free(n->tx_raw);
    free(n->rx_mem);
    free(n->rx_free);
    pthread_mutex_destroy(&n->pio_m);
    pthread_cond_destroy(&n->pio_c);
    pthread_mutex_destroy(&n->wait_m);
    pthread_cond_destroy(&n->wait_c);
    pthread_mutex_destroy(&n->ctl_m);
    pthread_cond_destroy(&n->ctl_c);
    free(n);
}
