/*
 * Internal to the VMMC firmware (vmmc/fw*.c): its state in NIC SRAM and the
 * functions its parts share.
 *   fw.c       boot, the host command queue, exports, imports, translation
 *   fw_send.c  the send pipeline: messages into packets, host-DMA staging
 *   fw_link.c  the reliable link between NICs: sequence numbers,
 *              acknowledgements, retransmission, unreachable peers
 *   fw_recv.c  arriving packets: protection checks, delivery into host
 *              memory, notifications
 */
#ifndef VMMC_FW_INT_H
#define VMMC_FW_INT_H

#include "util/pool.h"
#include "vmmc/fw.h"
#include "vmmc/vmmc_int.h"

#define HDR sizeof(struct vmmc__hdr)

enum imp_state { IMP_FREE, IMP_PENDING, IMP_VALID, IMP_REVOKED };

/* A posted transfer redirection: the next bytes arriving for
 * [off, off+len) of the export go to buf instead. */
struct fw_redirect {
    int active;
    uint64_t off, len, buf;
    uint64_t directed; /* bytes sent to buf so far (DMA started) */
    uint64_t landed;   /* bytes whose DMA completed */
    uint32_t slot, seq;
};

struct fw_export {
    int valid;
    uint32_t gen;
    uint64_t base, len;
    uint32_t perms;
    struct fw_redirect redir;
};

/* A fetch this NIC asked for, keyed by its command slot. */
struct fw_fetch {
    int used;
    int node;
    uint32_t slot, seq;
    uint64_t dst, len, landed;
};

struct fw_import {
    enum imp_state state;
    int node;
    uint32_t export_id, gen, perms;
    uint64_t len;
    int revoked_status;
    uint32_t slot, seq; /* the IMPORT command while pending */
};

/* One send command, from the host's queue to its last acknowledgement. */
struct fw_job {
    struct fw_job *next;
    int fetch_reply;  /* answers a remote fetch: no host completion */
    uint32_t cookie;  /* fetch_reply: the requester's slot */
    uint64_t cmdseq;  /* fetch_reply: the requester's command */
    uint32_t slot, seq;
    int dst;
    uint32_t export_id, gen;
    uint64_t off, addr, len;
    uint16_t flags;
    uint64_t issued; /* bytes whose host-DMA has been started */
    uint64_t read;   /* bytes read from host memory */
    int pkts, acked; /* packets made, packets resolved (acked or failed) */
    int refs;        /* packet buffers that point here */
    int status;      /* first error seen */
    int queued;      /* still in the send queue */
    int completed;   /* completion posted to the host */
    int xlating;     /* a chunk waits for its translations */
};

/* One translation request of the UTLB (fw_utlb.c). */
typedef void (*fw_xlate_done)(void *arg, int status);

/* A packet buffer in SRAM.  Data packets come from a fixed pool (the send
 * window); control packets are allocated one by one. */
struct fw_pkt {
    struct fw_pkt *next; /* in its connection's unacknowledged list */
    struct vmmc_fw *fw;
    unsigned char *buf;
    size_t len; /* header + payload */
    int dst;
    uint32_t seq;
    struct fw_job *job; /* data packets */
    uint64_t msg_pos;   /* offset of the payload in its message */
    int pending_dmas;
    int pooled; /* one of the pool's buffers; busy or not: fw->pool_free */
    int sending; /* in the send-DMA engine */
    int done;    /* acknowledged (or given up): free when not sending */
    int reliable;
    int retx;           /* times sent again */
    hw_time_t sent_at;  /* first transmission, for round-trip samples */
};

/* The link to one peer NIC, both directions. */
struct fw_conn {
    struct vmmc_fw *fw;
    int node;
    /* Sending side. */
    uint8_t epoch;
    int syn; /* the next packet opens the epoch */
    uint32_t next_seq, una;
    struct fw_pkt *unacked, *unacked_tail;
    void *rto_timer;
    unsigned retries;
    hw_time_t srtt, rttvar, rto; /* round-trip estimate and current RTO */
    unsigned inflight; /* data packets to this peer not yet resolved */
    unsigned dupacks;  /* bare ACKs in a row that acknowledged nothing */
    /* Receiving side. */
    uint8_t rx_epoch;
    uint32_t expected;
    int ack_pending;
    unsigned rx_since_ack; /* in-order arrivals not yet acknowledged */
    void *ack_timer;
    int has_refused;
    uint32_t refused_seq;
    int32_t refused_status;
};

struct fw_pending_note {
    struct fw_pending_note *next;
    struct vmmc_notification rec;
};

struct vmmc_fw {
    hw_nic *nic;
    const struct hw_nic_ops *ops;
    struct vmmc__window *win;
    int opened, ever_opened;
    uint64_t compl_ring, notify_ring; /* host addresses */
    uint32_t cmd_head;
    struct fw_export exports[VMMC_MAX_EXPORTS];
    struct fw_import imports[VMMC_MAX_IMPORTS];
    struct fw_fetch fetches[VMMC__CMDQ_LEN];
    /* The UTLB: the host table's address and the SRAM cache. */
    uint64_t utlb_table;
    struct fw_utlb_line *utlb;
    struct vmmc__utlb_entry *utlb_probe; /* where a lookup DMA lands */
    uint32_t *utlb_index; /* the simulator's vpage -> line map (no cost) */
    size_t utlb_index_cap; /* its slots: a power of two, >= 2 lines */
    unsigned utlb_lines; /* cache entries (fully associative) */
    uint64_t utlb_clock;
    uint64_t utlb_gen; /* bumped when the cache is flushed */
    struct fw_xlate_req *xq, *xq_tail; /* translations in order */
    int xq_busy;
    struct fw_job *sendq, *sendq_tail;
    struct fw_pkt *pool;
    unsigned npool;
    uint64_t *pool_free; /* bit i set: pool[i] is free (fw__pool_busy) */
    size_t payload_max;
    struct fw_conn *conns; /* one per node */
    int reliable;
    hw_time_t rto_min, rto_max, ack_delay;
    unsigned window;        /* data packets in flight per peer */
    unsigned char *blocked; /* scratch for the pump, one per node */
    /* Jobs queued per destination and how many destinations have some,
     * so the pump stops looking once every one of them waits (made at
     * the first send; UINT_MAX destinations if that failed: no stop). */
    uint32_t *dst_jobs;
    unsigned sendq_ndst;
    unsigned max_retries;
    struct vmmc__compl *compl_scratch;
    struct vmmc__notify_rec *note_scratch;
    uint32_t note_head;
    struct fw_pending_note *notes, *notes_tail;
    /* Free lists of what the firmware makes per packet: control packets
     * (fw_link.c), receive states (fw_recv.c), translation requests
     * (fw_utlb.c); each is zeroed when taken, as calloc would. */
    struct vs_pool ctrl_pool, rx_pool, xq_pool;
    struct vmmc_fw_stats st;
};

/* fw.c */
void fw__charge(struct vmmc_fw *fw, enum hw_fw_cost c, uint32_t n);
void fw__complete(struct vmmc_fw *fw, uint32_t slot, uint32_t seq, int status,
                  uint64_t aux, uint64_t aux2, uint32_t aux3);
void fw__noop_done(void *arg, int status);
uint64_t fw__npages(uint64_t addr, uint64_t len, uint64_t ps);
void fw__import_reply(struct vmmc_fw *fw, const struct vmmc__hdr *h);
/* A peer became unreachable: fail what waits on it. */
void fw__peer_failed(struct vmmc_fw *fw, int node);

/* fw_link.c: the link to node i, set up the first time it is used (an
 * untouched entry costs the simulator no memory: 1024 nodes have 1024
 * entries each). */
void fw__conn_init(struct vmmc_fw *fw, int i);
static inline struct fw_conn *fw__conn(struct vmmc_fw *fw, int i)
{
    struct fw_conn *c = &fw->conns[i];
    if (!c->fw)
        fw__conn_init(fw, i);
    return c;
}

/* fw_utlb.c */
int fw__utlb_init(struct vmmc_fw *fw);
void fw__utlb_fini(struct vmmc_fw *fw);
/* Translates every page of [addr, addr+len) of the host process through
 * the UTLB cache, reading its table by DMA on a miss; then done(arg, 0),
 * or done(arg, VS_EFAULT) if a page is not pinned.  Requests complete in
 * the order they were made; done may run before fw__xlate returns. */
void fw__xlate(struct vmmc_fw *fw, uint64_t addr, uint64_t len,
               fw_xlate_done done, void *arg);
/* Forgets every cached translation (the process detached). */
void fw__utlb_flush(struct vmmc_fw *fw);

/* fw_send.c */
/* Checks a send or fetch command against its import (valid, not revoked,
 * permission perm, bounds, a plausible buffer): 0 and *out, or the error. */
int fw__check_import(struct vmmc_fw *fw, const struct vmmc__cmd *c,
                     uint32_t perm, struct fw_import **out);
int fw__send_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c);
/* Queues the answer to a remote fetch: len bytes of host memory at addr
 * to node dst. */
int fw__fetch_reply(struct vmmc_fw *fw, int dst, uint64_t addr, uint64_t len,
                    uint32_t cookie, uint64_t cmdseq);
void fw__pump(struct vmmc_fw *fw);
/* A data packet is resolved: acknowledged (status 0), refused by the
 * receiver, or given up on. */
void fw__pkt_resolved(struct fw_pkt *p, int status);
void fw__pkt_free(struct fw_pkt *p);
void fw__fail_jobs_to(struct vmmc_fw *fw, int node, int status);

/* fw_link.c */
int fw__link_init(struct vmmc_fw *fw);
void fw__link_fini(struct vmmc_fw *fw);
/* Sends a packet on the link to p->dst: sequenced and kept until
 * acknowledged when the link is reliable. */
void fw__link_send(struct vmmc_fw *fw, struct fw_pkt *p);
/* Sends a header-only control packet (reliable unless an ACK). */
int fw__link_ctrl(struct vmmc_fw *fw, int dst, const struct vmmc__hdr *h);
/* Sequencing of an arriving packet: whether it is the next in order (1)
 * or must be dropped (0). */
int fw__link_rx(struct vmmc_fw *fw, const struct vmmc__hdr *h);
/* Applies the acknowledgement an arriving packet carries.  The receive
 * path does this after it has started the packet's own work, so that
 * bookkeeping stays off the data's critical path. */
void fw__link_rx_ack(struct vmmc_fw *fw, const struct vmmc__hdr *h);
/* Records that the in-order packet h was refused with status why. */
void fw__link_refused(struct vmmc_fw *fw, const struct vmmc__hdr *h, int why);

/* fw_recv.c (fetch and redirection commands are served there too) */
int fw__fetch_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c);
int fw__redirect_cmd(struct vmmc_fw *fw, const struct vmmc__cmd *c);
void fw__fail_fetches_to(struct vmmc_fw *fw, int node, int status);
void fw__recv_init(struct vmmc_fw *fw);
void fw__on_rx(void *arg, void *pkt, size_t len, int src);
void fw__deliver_notes(struct vmmc_fw *fw);

/* Whether pool[i] is in use, and marking it so: the pool's one record of
 * which buffers are free (a bitmap, so taking the first free one is a
 * find-first-set). */
static inline int fw__pool_busy(const struct vmmc_fw *fw, unsigned i)
{
    return !(fw->pool_free[i / 64] >> (i % 64) & 1);
}

static inline void fw__pool_mark(struct vmmc_fw *fw, unsigned i, int busy)
{
    if (busy)
        fw->pool_free[i / 64] &= ~(1ull << (i % 64));
    else
        fw->pool_free[i / 64] |= 1ull << (i % 64);
}

#endif
