/*
 * Internal to emu/: one emulated node.  Three kinds of state, by who may
 * touch it:
 *   - the NIC side (firmware upcalls, SRAM, receive buffers, timers, the
 *     counters): the loop thread only, once emu_node_start ran;
 *   - programmed I/O from the host: a ring under pio_m, applied to SRAM by
 *     the loop thread, which rings the doorbell after each write;
 *   - wake-ups of the host: gen (bumped after every write of host memory
 *     and every interrupt) and a condition variable under wait_m;
 *   - join and finish: under ctl_m, signalled on ctl_c.
 */
#ifndef EMU_EMU_INT_H
#define EMU_EMU_INT_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>

#include "emu/emu.h"
#include "util/pool.h"

struct emu__task { /* a completion upcall waiting for the NIC processor */
    struct emu__task *next;
    hw_done_fn fn;
    void *arg;
    int status;
};

struct emu__timer {
    ev_timer w;
    struct emu_node *n;
    hw_upcall_fn fn;
    void *arg;
    struct emu__timer *prev, *next; /* the live timers */
    int firing, cancelled;
};

/* One programmed-I/O transfer (or a piece of one). */
#define EMU__PIO_BYTES 64
#define EMU__PIO_RING 256
struct emu__pio {
    unsigned char *nic;  /* SRAM address */
    unsigned char *host; /* read: where the bytes go */
    uint32_t len;
    uint8_t read, bell; /* bell: the last piece of a write */
    unsigned char data[EMU__PIO_BYTES];
};

/* A datagram the fault shim holds back (reorder). */
struct emu__held {
    ev_timer w;
    struct emu_node *n;
    struct emu__held *prev, *next;
    int dst;
    size_t len;
    unsigned char data[]; /* header and payload */
};

struct emu__result {
    int have;
    size_t len;
    unsigned char data[EMU_CTRL_MAX];
};

struct emu_node {
    hw_nic nic;
    hw_host host;
    struct emu_config cfg;
    const struct emu_cluster *cl;
    int self, nnodes;
    int fd;
    int64_t epoch_ns;
    struct ev_loop *loop;
    ev_io rx_w;
    ev_async async_w;
    ev_timer ctl_w;
    pthread_t thread;
    int running;

    /* ---- The NIC side: the loop thread only ---- */
    hw_rx_fn rx_fn;
    void *rx_arg;
    hw_upcall_fn bell_fn;
    void *bell_arg;
    void *window;
    struct emu__task *tq_head, *tq_tail;
    struct vs_pool task_pool; /* util/pool.h */
    int in_upcall;
    unsigned char *rx_mem;   /* recv_buffers receive buffers */
    unsigned char **rx_free; /* free ones, a stack */
    unsigned nrx_free;
    int rx_paused;         /* the socket is not read: no buffer free */
    unsigned char *rx_raw; /* datagrams as they arrive (RX_MMSG of them) */
    size_t rx_raw_len;
    uint64_t sram_used, sram_base;
    struct emu__timer *timers;
    struct emu_stats st;
    uint64_t loop_cpu_done; /* CPU time of NIC threads that ended */
    int faulty;            /* cfg.faults has a non-zero probability */
    uint64_t rng[4];       /* the fault shim's generator */
    unsigned char *tx_raw; /* a corrupted datagram as it leaves */
    struct emu__held *held; /* datagrams the shim holds back */

    /* ---- Host to NIC: programmed I/O ---- */
    pthread_mutex_t pio_m;
    pthread_cond_t pio_c;
    struct emu__pio pio[EMU__PIO_RING];
    unsigned pio_head, pio_count;
    uint64_t reads_posted, reads_done;

    /* ---- NIC to host: wake-ups ---- */
    atomic_uint_fast64_t gen;
    atomic_int host_waiting;
    atomic_int irq_pending;
    pthread_mutex_t wait_m;
    pthread_cond_t wait_c;
    hw_upcall_fn irq_fn; /* the host thread only */
    void *irq_arg;

    /* ---- Join and finish: under ctl_m ---- */
    pthread_mutex_t ctl_m;
    pthread_cond_t ctl_c;
    atomic_int stop;
    int joined;           /* every peer answered */
    unsigned char *heard; /* per node: it greeted or answered us */
    int nheard;
    int *send_errno; /* per node: the last send error (0: none) */
    int join_rc;     /* a mismatch seen while joining */
    char join_msg[512];
    int finish_req, finishing, finish_rc, finish_done;
    char finish_msg[512];
    hw_time_t finish_start, all_fin_at;
    unsigned char *fin_from, *fin_acked;
    hw_time_t *last_heard;
    struct emu__result *results; /* per node */
};

/* ---- nic.c ---- */
/* Sends one datagram of type to node dst (from the loop thread, or before
 * it starts).  DATA datagrams pass the fault shim (cfg.faults) first; they
 * are only sent from firmware upcalls, on the loop thread. */
void emu__send(struct emu_node *n, int type, int dst, const void *payload,
               size_t len);
/* The NIC wrote host memory or interrupted: wake the host if it waits. */
void emu__notify_host(struct emu_node *n);
/* Runs the doorbell upcall (the PIO drain, on the loop thread). */
void emu__ring_bell(struct emu_node *n);
int64_t emu__mono_ns(void);

/* ---- ctrl.c: join and finish, on the loop thread ---- */
/* A control datagram from node src (already checked). */
void emu__ctrl_rx(struct emu_node *n, const struct emu_wire_hdr *h,
                  const unsigned char *payload);
/* A datagram that did not belong: while joining, this fails the join. */
void emu__ctrl_mismatch(struct emu_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void emu__ctrl_tick(struct emu_node *n);
void emu__ctrl_async(struct emu_node *n);
int emu__ctrl_init(struct emu_node *n);
void emu__ctrl_fini(struct emu_node *n);

/* ---- host.c ---- */
extern const struct hw_host_ops emu__host_ops;
/* Applies the queued programmed I/O (loop thread). */
void emu__pio_drain(struct emu_node *n);

#endif
