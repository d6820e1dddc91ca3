/*
 * Internals of libs/msg shared by its files: the context, requests, the
 * ring message header and the transport's entry points.  Not for users
 * (they include libs/msg/msg.h).
 *
 * Files: transport.c (rings, credits, progress, blocking, init and
 * finalize), p2p.c (requests, matching, rendezvous), wait.c (the public
 * point-to-point calls: checks, wait/test, probe), coll.c (collectives),
 * reduce.c (reduction kernels).
 */
#ifndef LIBS_MSG_MSG_INT_H
#define LIBS_MSG_MSG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "libs/msg/msg.h"

/* Contexts of messages: user point-to-point and collectives never match
 * each other. */
enum { MSG__CTX_USER = 0, MSG__CTX_COLL = 1 };

/* Ring message types. */
enum msg__type {
    MSG__T_EAGER = 1, /* tag, context, len bytes of payload before the header */
    MSG__T_RTS,       /* request to send: tag, context, size = length, id */
    MSG__T_CTS,       /* clear to send: id, len bytes at offset size of the
                       * receiver's export for me, tag = its epoch */
    MSG__T_FIN,       /* the data of rendezvous id was sent (it precedes) */
    MSG__T_DONE,      /* the receiver has the data of rendezvous id */
};

/* Flags of a CTS or FIN. */
enum { MSG__F_ERR = 1 }; /* tag carries a vs_err: the transfer failed */

/* The header of a ring message.  It sits at the very end of its slot and
 * the payload right before it, so one vmmc_send carries both and the
 * header lands last: a receiver that sees the expected seq in it has the
 * whole message (VMMC delivers a connection's bytes in order). */
struct msg__hdr {
    uint64_t size;   /* RTS: message length; CTS: offset in the export */
    uint32_t len;    /* EAGER: payload bytes; CTS: bytes to send */
    int32_t tag;     /* EAGER, RTS: tag; CTS: export epoch; F_ERR: error */
    uint32_t id;     /* RTS, CTS, FIN, DONE: the sender's rendezvous id */
    uint32_t credit; /* messages the sender consumed from the receiver */
    uint8_t type;
    uint8_t context;
    uint16_t flags;
    uint32_t seq; /* 1 + the message's index on this ring: written last */
};
#define MSG__HDR ((size_t)sizeof(struct msg__hdr))

enum msg__kind { MSG__SEND = 1, MSG__RECV };

enum msg__state {
    MSG__QUEUED = 1, /* send: eager message or RTS waiting for a slot */
    MSG__WAIT_CTS,   /* send: RTS sent */
    MSG__DATA,       /* send: data and FIN sent, waiting for DONE */
    MSG__SELF_WAIT,  /* send: large message to self, not yet received */
    MSG__POSTED,     /* recv: in the posted queue */
    MSG__RNDV_WAIT,  /* recv: matched an RTS; my export for the peer is
                      * busy with another buffer */
    MSG__RNDV_GO,    /* recv: CTS queued or sent, waiting for FIN */
    MSG__DONE,
};

/* A ring message waiting for a free slot at its destination. */
struct msg__out {
    struct msg__out *next;
    struct msg__hdr hdr;
    const void *data; /* EAGER: the payload (hdr.len bytes) */
    msg_req *req;     /* EAGER, RTS: the send it belongs to */
    int owned;        /* malloc'd by the transport (control messages) */
};

struct msg_req {
    int kind, state;
    int peer; /* send: destination; recv: source (MSG_ANY_SOURCE until
               * matched) */
    int tag, context;
    const void *sbuf;
    void *rbuf;
    size_t len;  /* send: length; recv: capacity */
    size_t xfer; /* rendezvous: bytes that move */
    uint32_t id; /* rendezvous id (the sender's) */
    struct msg_status st;
    struct msg__out out; /* the send's eager message or RTS */
    vmmc_req vreq;       /* send: the rendezvous data transfer */
    int vreq_live;
    msg_req *next;          /* posted queue or a peer's rendezvous list */
    msg_req *lnext, *lprev; /* every live request of the context */
};

/* A message that arrived before a receive matched it. */
struct msg__unexp {
    struct msg__unexp *next;
    int src, tag, context;
    int type;      /* MSG__T_EAGER (data), MSG__T_RTS (id), or 0: from self */
    size_t len;    /* the message's full length */
    uint32_t id;   /* RTS: the sender's rendezvous id */
    void *data;    /* EAGER: a copy of the payload */
    msg_req *sreq; /* from self: the send, still pending */
};

struct msg__peer {
    /* ---- towards this peer ---- */
    vmmc_import_t ring_imp; /* its ring export */
    int imported;
    uint32_t sent;        /* ring messages written to it */
    uint32_t cred_view;   /* of those, how many it has consumed */
    uint32_t cred_word;   /* the credit word as last read */
    unsigned char *stage; /* ring_slots staging slots mirroring its ring */
    vmmc_req *stage_req;
    unsigned char *stage_live;
    struct msg__out *outq, *outq_tail;
    msg_req *rndv_sends;    /* sends of mine waiting for CTS or DONE */
    vmmc_import_t land_imp; /* its rendezvous export for me */
    int land_valid;
    uint32_t land_epoch;
    vmmc_req fin_req;
    int fin_live;
    /* ---- from this peer ---- */
    uint32_t recvd;    /* ring messages consumed */
    uint32_t reported; /* the consumed count the peer was last told */
    vmmc_req cred_req[2];
    int cred_live[2];
    unsigned cred_next;
    msg_req *rndv_active; /* rendezvous using my export for it */
    unsigned nactive;
    msg_req *rndv_q, *rndv_q_tail; /* matched, waiting for the export */
    void *exp_buf;                 /* what my export for it covers */
    size_t exp_len;
    int exported;
    uint32_t exp_epoch;
};

struct msg_ctx {
    vmmc_ctx *vc;
    hw_host *h;
    struct msg_params p;
    int rank, size;
    size_t slot;     /* bytes per ring slot */
    size_t ctl_len;  /* control words at the start of the ring export */
    size_t ring_len; /* the whole ring export */
    /* Export p.export_base: credit words (one per peer, written by it),
     * finalize words (likewise), then one ring per sender. */
    unsigned char *ring;
    unsigned char *stage; /* all staging slots */
    uint32_t *words;      /* sources of credit and finalize sends */
    struct msg__peer *peers;
    msg_req *posted, *posted_tail;
    struct msg__unexp *unexp, *unexp_tail;
    msg_req *live;
    uint32_t next_id;
    uint32_t coll_seq;
    int ring_exported;
    int closing;        /* finalize: consumed messages return no credits */
    uint32_t fin_phase; /* finalize: the peers' words waited for */
    int err;            /* a broken transport: every later call fails */
    struct msg_stats st;
    char errmsg[200];
};

/* ---- transport.c ---- */

/* Records why a call failed (naming it) and returns rc. */
int msg__fail(msg_ctx *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Charges host time for copying n bytes. */
void msg__charge_copy(msg_ctx *c, size_t n);
/* Charges the host time of one library operation (matching, a header). */
void msg__charge_op(msg_ctx *c);
/* Queues (or writes at once) a ring message to peer p.  data: EAGER
 * payload; req: the send it belongs to (uses req->out), or NULL for a
 * control message.  Returns 0 or a vs_err (the transport is then broken). */
int msg__post(msg_ctx *c, int p, const struct msg__hdr *h, const void *data,
              msg_req *req);
/* Drains arrived ring messages and writes queued ones.  Returns how many
 * things happened (0: nothing to do), or a vs_err. */
int msg__progress(msg_ctx *c);
/* Runs progress until cond(c, arg) holds, sleeping in simulated time
 * while nothing can happen. */
typedef int (*msg__cond_fn)(msg_ctx *c, void *arg);
int msg__wait(msg_ctx *c, msg__cond_fn cond, void *arg);

/* ---- p2p.c and wait.c ---- */

/* Called by the transport for each arrived message from peer p (payload:
 * the EAGER bytes, in the ring). */
int msg__deliver(msg_ctx *c, int p, const struct msg__hdr *h,
                 const unsigned char *payload);
/* The transport wrote the eager message or RTS of send r. */
void msg__written(msg_ctx *c, msg_req *r);
int msg__isend(msg_ctx *c, const void *buf, size_t len, int dst, int tag,
               int context, msg_req **out);
int msg__irecv(msg_ctx *c, void *buf, size_t cap, int src, int tag, int context,
               msg_req **out);
int msg__waitall(msg_ctx *c, size_t n, msg_req **reqs, struct msg_status *sts);
/* Frees what matching holds (unexpected messages, requests). */
void msg__p2p_free(msg_ctx *c);
/* Unlinks a request from the context and frees it. */
void msg__req_free(msg_ctx *c, msg_req *r);
/* The first unexpected message a receive (src, tag, context) matches;
 * removed from the queue if take. */
struct msg__unexp *msg__find_unexp(msg_ctx *c, int src, int tag, int context,
                                   int take);
/* 1 if some request has not completed. */
int msg__busy(const msg_ctx *c);

/* ---- reduce.c ---- */

/* 0 if op applies to t, VS_EINVAL otherwise. */
int msg__check_op(enum msg_dtype t, enum msg_op op);
/* inout[i] = a[i] op inout[i] when a_first, inout[i] op a[i] otherwise
 * (the left operand is always the lower ranks' data). */
void msg__reduce(void *inout, const void *a, size_t count, enum msg_dtype t,
                 enum msg_op op, int a_first);

#endif
