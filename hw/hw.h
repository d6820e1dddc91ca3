/*
 * The hardware port: the contract between the VMMC code (vmmc/) and whatever
 * plays the machine (nicmodel/ on the simulator, emu/ on the emulator).  It is
 * the line real hardware would draw.  Two small ops tables, both filled by a
 * backend:
 *
 *   hw_host_ops  used by the VMMC user library in a host process: programmed
 *                I/O into the NIC's SRAM, blocking until the NIC has written
 *                host memory or interrupted, charging host CPU time, the clock.
 *   hw_nic_ops   used by the NIC firmware: host-DMA between host memory and
 *                SRAM, network send-DMA of a packet, a receive upcall per
 *                packet, timers, processor cycles, SRAM allocation.
 *
 * Every firmware upcall (packet arrived, DMA done, send done, timer, doorbell)
 * runs "on the NIC processor": one at a time, in the order the backend queued
 * them, never nested.  Host ops run in the host process and may block it.
 * This header includes nothing from any backend and no engine headers.
 */
#ifndef HW_HW_H
#define HW_HW_H

#include <stddef.h>
#include <stdint.h>

/* Simulated or real time in picoseconds.  One type for the whole project. */
typedef int64_t hw_time_t;
#define HW_PS ((hw_time_t)1)
#define HW_NS ((hw_time_t)1000)
#define HW_US ((hw_time_t)1000000)
#define HW_MS ((hw_time_t)1000000000)
#define HW_TIME_NEVER INT64_MAX

/* Firmware work classes.  The firmware charges the NIC processor per handler
 * by class; the backend turns each into cycles from its profile. */
#define HW_FW_COSTS(X)                                                      \
    X(HW_FW_CMD, "cmd_cycles")             /* decode one host command */    \
    X(HW_FW_SEND_PKT, "send_pkt_cycles")   /* build + launch one packet */  \
    X(HW_FW_RECV_PKT, "recv_pkt_cycles")   /* parse + check one packet */   \
    X(HW_FW_XLATE_PAGE, "xlate_page_cycles") /* translate one page */       \
    X(HW_FW_DMA_DONE, "dma_done_cycles")   /* handle a DMA completion */    \
    X(HW_FW_COMPLETE, "complete_cycles")   /* post a completion to host */  \
    X(HW_FW_NOTIFY, "notify_cycles")       /* raise a notification */       \
    X(HW_FW_CTRL, "ctrl_cycles")           /* a control packet */        \
    X(HW_FW_ACK, "ack_cycles")             /* process an acknowledgement */

enum hw_fw_cost {
#define HW_FW_COST_ENUM_(name, key) name,
    HW_FW_COSTS(HW_FW_COST_ENUM_)
#undef HW_FW_COST_ENUM_
    HW_FW_NCOSTS
};

/* Host software costs the VMMC user library charges to its process. */
#define HW_HOST_COSTS(X)                                                    \
    X(HW_HOST_CALL, "lib_call_ns")       /* enter/leave a library call */   \
    X(HW_HOST_SYSCALL, "syscall_ns")     /* a driver call (pin, export) */  \
    X(HW_HOST_INTERRUPT, "interrupt_ns") /* take an interrupt + handler */  \
    X(HW_HOST_POLL, "poll_detect_ns")    /* a spinning poll sees a write */

enum hw_host_cost {
#define HW_HOST_COST_ENUM_(name, key) name,
    HW_HOST_COSTS(HW_HOST_COST_ENUM_)
#undef HW_HOST_COST_ENUM_
    HW_HOST_NCOSTS
};

typedef struct hw_host hw_host;
typedef struct hw_nic hw_nic;

/* Completion of an asynchronous NIC operation; status is 0 or a vs_err. */
typedef void (*hw_done_fn)(void *arg, int status);
/* A packet arrived from node src; it sits in an SRAM receive buffer of len
 * bytes that the firmware owns until it calls ops->rx_release(). */
typedef void (*hw_rx_fn)(void *arg, void *pkt, size_t len, int src);
/* Generic upcall with no payload (doorbell, timer). */
typedef void (*hw_upcall_fn)(void *arg);
/* Host-side predicate for hw_host_ops.wait. */
typedef int (*hw_ready_fn)(void *arg);

enum hw_dma_dir { HW_DMA_TO_NIC, HW_DMA_TO_HOST };

struct hw_host_ops {
    hw_time_t (*now)(hw_host *h);
    /* Blocks the host process for dt of CPU time. */
    void (*compute)(hw_host *h, hw_time_t dt);
    /* The cost of a class of host software work, from the profile. */
    hw_time_t (*cost)(hw_host *h, enum hw_host_cost c);
    /* Programmed-I/O write of len bytes into NIC SRAM at nic_dst (inside the
     * window).  Blocks the host for the bus time; the bytes are visible to
     * the NIC when it returns, and the firmware's doorbell upcall is queued
     * on the NIC processor. */
    void (*pio_write)(hw_host *h, void *nic_dst, const void *src, size_t len);
    /* Programmed-I/O read from NIC SRAM; blocks for the bus time. */
    void (*pio_read)(hw_host *h, void *dst, const void *nic_src, size_t len);
    /* Blocks until ready(arg) is true.  ready is evaluated now and again
     * whenever the NIC has written this host's memory or interrupted it.
     * Pending interrupts run the registered handler first, in the host
     * process.  timeout < 0 waits forever.  Returns 0, or VS_ETIMEDOUT.
     * ready may be evaluated outside the host process (by the backend, to
     * decide whether to wake it): it must only read memory. */
    int (*wait)(hw_host *h, hw_ready_fn ready, void *arg, hw_time_t timeout);
    /* As wait, for a ready(arg) that only the NIC writing host memory in
     * [addr, addr+len) (or an interrupt handler) can make true: a backend
     * may leave it unevaluated after other writes.  Optional (NULL: use
     * wait). */
    int (*wait_on)(hw_host *h, hw_ready_fn ready, void *arg,
                   hw_time_t timeout, const void *addr, size_t len);
    void (*set_irq_handler)(hw_host *h, hw_upcall_fn fn, void *arg);
    /* The host's mapping of the NIC SRAM window the firmware published. */
    void *(*window)(hw_host *h);
};

struct hw_host {
    const struct hw_host_ops *ops;
    int node;   /* This host's node id, 0..nnodes-1. */
    int nnodes; /* Nodes in the cluster. */
    size_t page_size; /* Host page size. */
};

struct hw_nic_ops {
    /* The processor's local time: the start of the running handler plus
     * what it has charged so far.  Everything a handler starts, starts then. */
    hw_time_t (*now)(hw_nic *n);
    void (*charge)(hw_nic *n, enum hw_fw_cost c, uint32_t count);
    /* Queues a transfer on the host-DMA engine (across the PCI bus).  The
     * bytes move when it completes; done then runs on the NIC processor.
     * Returns 0 or VS_EINVAL. */
    int (*host_dma)(hw_nic *n, enum hw_dma_dir dir, void *host, void *sram,
                    size_t len, hw_done_fn done, void *arg);
    /* Queues len bytes of SRAM at pkt (header and payload) on the network
     * send-DMA engine for node dst.  done runs when the SRAM buffer may be
     * reused.  Returns 0, VS_EINVAL (too large, bad node). */
    int (*net_send)(hw_nic *n, int dst, const void *pkt, size_t len,
                    hw_done_fn done, void *arg);
    void (*set_rx)(hw_nic *n, hw_rx_fn fn, void *arg);
    void (*rx_release)(hw_nic *n, void *pkt);
    /* The upcall queued after each host PIO write into the window. */
    void (*set_doorbell)(hw_nic *n, hw_upcall_fn fn, void *arg);
    /* One-shot timer; returns a handle valid until it fires or is
     * cancelled (NULL if out of memory). */
    void *(*timer_start)(hw_nic *n, hw_time_t delay, hw_upcall_fn fn,
                         void *arg);
    void (*timer_cancel)(hw_nic *n, void *timer);
    /* SRAM: NULL when the NIC's SRAM is exhausted (an error the firmware
     * handles).  Memory is zeroed. */
    void *(*sram_alloc)(hw_nic *n, size_t len);
    void (*sram_free)(hw_nic *n, void *p, size_t len);
    /* Publishes the host-visible window (the host maps it). */
    void (*set_window)(hw_nic *n, void *window);
    /* Interrupts the host (its handler runs in the host process). */
    void (*raise_irq)(hw_nic *n);
};

struct hw_nic {
    const struct hw_nic_ops *ops;
    int node;
    int nnodes;
    size_t max_packet; /* Largest packet (header + payload) on the wire. */
    size_t page_size;  /* Host page size for translation. */
    unsigned send_buffers; /* SRAM packet buffers the firmware may use. */
    /* Parameters of the firmware's reliable link protocol (0: defaults). */
    int unreliable;        /* 1: no sequencing, acknowledgements, retries */
    hw_time_t rto;         /* retransmission timeout */
    unsigned max_retries;  /* timeouts in a row before a peer is unreachable */
    hw_time_t ack_delay;   /* an acknowledgement waits this long for a ride */
    unsigned window;       /* data packets in flight per peer */
    unsigned utlb_entries; /* translation cache entries in SRAM */
};

/* The host the calling process runs on: what a program started on a node
 * (vmmcsim exec) opens VMMC with, and how a library finds its node.  The
 * backend that runs host processes registers how to tell (hw/self.c);
 * NULL outside a host process. */
hw_host *hw_self(void);
void hw_set_self(hw_host *(*fn)(void));

#endif
