/*
 * libs/svm internals: one struct svm_node per simulated node (all nodes of
 * a vmmcsim exec run live in one OS process), the message transport
 * (comm.c), the page protocol and trap handler (page.c) and the API with
 * locks and barriers (svm.c).
 */
#ifndef LIBS_SVM_SVM_INT_H
#define LIBS_SVM_SVM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "libs/svm/svm.h"
#include "vmmc/vmmc.h"

#define SVM__EXP_HOME 0   /* + NODE_EXPORT_SVM: this node's home pages */
#define SVM__EXP_CTRL 1   /* + NODE_EXPORT_SVM: flags, acks, mailboxes */
#define SVM__MBOX 65536   /* one mailbox: one message from one peer */
#define SVM__COPY_MBPS 80 /* host memcpy/compare rate (as libs/msg) */
/* How long svm_init waits (simulated) for a peer to export its areas. */
#define SVM__JOIN_WAIT ((hw_time_t)10000 * HW_MS)

/* Page states on one node. */
enum { SVM__INVALID = 0, SVM__READ, SVM__WRITE };

/* Message types. */
enum {
    SVM__M_INIT = 1, /* a = size (low), b = size (high) -> node 0 */
    SVM__M_INITREP,  /* a = status */
    SVM__M_DIFF,     /* page diffs for the home */
    SVM__M_ACQ,      /* a = lock -> manager */
    SVM__M_REL,      /* a = lock, payload: write-notice bitmap */
    SVM__M_GRANT,    /* a = lock, payload: write-notice bitmap (or none) */
    SVM__M_ARRIVE,   /* payload: bitmap of pages this node wrote */
    SVM__M_BREL,     /* payload: per page 0, writer + 1, or 0xff */
};

struct svm__hdr {
    uint32_t type, len; /* len: payload bytes after the header */
    uint32_t a, b;
};

struct svm__msg { /* an outgoing message, queued per destination */
    struct svm__msg *next;
    size_t len; /* header + payload */
    struct svm__hdr h;
    /* payload follows */
};

struct svm__lock { /* at the lock's manager (id % nnodes) */
    int holder;    /* -1 if free */
    int *queue, qhead, qlen;
    uint8_t *notices; /* bitmap of pages released in epoch, or NULL */
    uint64_t epoch;   /* barriers passed by the releasers of notices */
};

struct svm_node {
    int me, n;
    vmmc_ctx *vc;
    hw_host *h;
    char errmsg[256];
    struct svm_stats st;

    /* The region as this node sees it. */
    uint8_t *base;
    size_t size, pg, npages, chunk; /* chunk: pages per home */
    uint8_t *state;                 /* per page: SVM__INVALID/READ/WRITE */
    uint8_t **twin;                 /* per page: the twin or NULL */
    uint32_t *dirty; /* pages in state WRITE, in the order they became so */
    size_t ndirty;
    uint8_t *w_own; /* bitmap: pages this node wrote since the barrier */
    uint8_t *known; /* bitmap: write notices to pass on at lock release */
    size_t bmlen;   /* bitmap bytes */

    /* Transport: the control export and imports of every peer. */
    uint8_t *ctrl;
    size_t ctrl_len;
    vmmc_import_t *imp_home, *imp_ctrl;
    int exported; /* bit 0 home, bit 1 ctrl */
    uint32_t *sent, *consumed, *flagval, *ackval;
    struct svm__msg **qhead, **qtail;       /* outgoing, per destination */
    struct svm__msg *self_head, *self_tail; /* messages to this node */
    int (*cond)(struct svm_node *s);        /* what svm__wait waits for */

    /* Locks this node manages and its own lock state. */
    struct svm__lock *locks;
    uint8_t held[SVM_MAX_LOCKS];
    int want_lock, granted;
    uint8_t *grant_bits;
    int grant_has_bits;

    /* Barriers: node 0 counts arrivals and sums the write notices. */
    int arrived;
    uint8_t *summary;
    uint64_t brel_count, epoch;
    uint8_t *brel_buf;

    /* svm_init's size check. */
    int init_count, init_status, init_done;
    uint64_t init_size;
};

/* The calling node's state (NULL if not on a node or not initialised). */
struct svm_node *svm__self(void);
/* Every node's state, for the trap handler; n in *n. */
struct svm_node **svm__all(int *n);
int svm__err(struct svm_node *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void svm__charge_bytes(struct svm_node *s, size_t n);
void svm__charge(struct svm_node *s, enum hw_host_cost c, unsigned count);

static inline int svm__home_of(const struct svm_node *s, size_t page)
{
    return (int)(page / s->chunk);
}
static inline void svm__bm_set(uint8_t *bm, size_t i)
{
    bm[i >> 3] |= (uint8_t)(1u << (i & 7));
}
static inline int svm__bm_get(const uint8_t *bm, size_t i)
{
    return (bm[i >> 3] >> (i & 7)) & 1;
}

/* comm.c */
int svm__comm_open(struct svm_node *s);
void svm__comm_close(struct svm_node *s);
/* Queues a message (copied) for dst (this node included). */
int svm__send(struct svm_node *s, int dst, uint32_t type, uint32_t a,
              uint32_t b, const void *payload, size_t len);
/* Queues an already built message (header filled but for len). */
void svm__send_built(struct svm_node *s, int dst, struct svm__msg *m);
struct svm__msg *svm__msg_new(uint32_t type, size_t cap);
/* Sends what can be sent and handles what arrived until cond(s) holds. */
int svm__wait(struct svm_node *s, int (*cond)(struct svm_node *s));
/* Condition: every message this node sent has been handled. */
int svm__all_acked(struct svm_node *s);
/* Handles one arrived message (svm.c, page.c). */
void svm__handle(struct svm_node *s, int src, const struct svm__hdr *h,
                 const uint8_t *payload);

/* page.c */
int svm__pages_open(struct svm_node *s);
void svm__pages_close(struct svm_node *s);
/* Sends the diffs of the dirty pages (those in filter, or all if NULL) to
 * their homes, waits until applied; they become read-only. */
int svm__flush(struct svm_node *s, const uint8_t *filter);
void svm__invalidate(struct svm_node *s, size_t page);
void svm__apply_diffs(struct svm_node *s, const uint8_t *p, size_t len);
int svm__install_handler(void);

#endif
