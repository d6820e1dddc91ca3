/*
 * libs/rpc internals: the per-node state and the VMMC channels that carry
 * RPC records between a client node and a server node (chan.c), shared by
 * the client handle (clnt.c) and the server transport (svc.c).
 *
 * Every node that takes part exports one "area" per role, the same shape:
 * NODE_EXPORT_RPC (as a server: calls come in) and NODE_EXPORT_RPC + 1 (as
 * a client: replies come in).  An area starts with one 16-byte word block
 * per peer node (a credit word and a closed word, written only by that
 * peer), then one ring of VRPC_RING slots of VRPC_SLOT bytes per peer node
 * (written only by that peer).  A record (one RPC call or reply, XDR
 * encoded) travels as chunks, one per slot, each a single vmmc_send with
 * the payload first and a 16-byte header last, at the slot's end; VMMC
 * delivers a connection's bytes in order, so a header with the expected
 * sequence number means the whole chunk is there.  The header also carries
 * how many chunks of the opposite direction its sender has consumed (a
 * piggybacked credit), so a small call and its reply are one send each.
 */
#ifndef LIBS_RPC_RPC_INT_H
#define LIBS_RPC_RPC_INT_H

#include <stdint.h>

#include "libs/node/node.h"
#include "libs/rpc/vrpc.h"
#include "vmmc/vmmc.h"

#define VRPC_RING 4u    /* slots per ring: chunks in flight per direction */
#define VRPC_SLOT 8192u /* bytes per slot, the header included */
#define VRPC_HDR 16u
#define VRPC_CHUNK (VRPC_SLOT - VRPC_HDR) /* payload bytes per chunk */
#define VRPC_MAX_RECORD (64u << 20)       /* the largest record either way */
#define VRPC_WORDS 16u                    /* bytes of the word block per peer */
/* In a header's total: filler for the rest of a record its sender gave up
 * (a timeout while the ring was full); the receiver drops the record. */
#define VRPC_ABANDONED 0x80000000u

#define VRPC_ID_SRV NODE_EXPORT_RPC       /* calls arrive here */
#define VRPC_ID_CLI (NODE_EXPORT_RPC + 1) /* replies arrive here */

struct vrpc__hdr {
    uint32_t seq;   /* chunk number in this ring, from 1 */
    uint32_t len;   /* payload bytes of this chunk */
    uint32_t total; /* bytes of the whole record */
    uint32_t ack;   /* chunks its sender consumed of the other direction */
};

/* One direction out and one in between this node and a peer, for one
 * role.  out writes into the peer's area (ring and word block for this
 * node); in reads this node's ring for the peer and returns credits
 * through the same import. */
struct vrpc__link {
    int peer;
    int imported;
    vmmc_import_t imp;
    size_t ring_off;  /* of this node's ring in the peer's area */
    size_t words_off; /* of this node's word block in the peer's area */
    /* out */
    uint32_t sent;             /* chunks sent */
    uint32_t acked;            /* chunks the peer consumed, as far as we know */
    volatile uint32_t *credit; /* in this node's area, written by the peer */
    volatile uint32_t *closed; /* in this node's area, written by the peer */
    unsigned char *stage;      /* VRPC_RING slots, send sources */
    vmmc_req req[VRPC_RING];
    int pending[VRPC_RING];
    /* in */
    unsigned char *ring; /* this node's ring for the peer */
    uint32_t consumed;   /* chunks released */
    uint32_t reported;   /* consumed count the peer has been told */
    uint32_t word_src;   /* source of credit and closed writes */
    vmmc_req word_req;
    int word_pending;
    uint32_t owe, owe_total; /* out: bytes of an abandoned record */
    uint32_t skip;           /* in: bytes of a record given up on */
    int broken;              /* a send failed: the peer is gone */
    uint32_t xid;            /* client role: last xid used */
};

/* A record received: either in place in its slot (one chunk) or copied
 * into buf (several). */
struct vrpc__rec {
    unsigned char *data;
    size_t len;
    int in_place; /* the last chunk still holds the ring slot */
};

struct vrpc__reg {
    rpcprog_t prog;
    rpcvers_t vers;
    void (*dispatch)(struct svc_req *, SVCXPRT *);
};

struct vrpc__node {
    int node, nnodes;
    vmmc_ctx *vc;
    hw_host *h;
    size_t area_len;
    unsigned char *area[2]; /* [0] calls in (server), [1] replies in (client) */
    struct vrpc__link *links[2]; /* [0] server role, [1] client role */
    unsigned char *enc;          /* encoding scratch */
    size_t enc_cap;
    /* server */
    SVCXPRT *xprt;
    struct vrpc__reg *regs;
    int nregs, exit_flag;
    struct vrpc_stats st;
    char errmsg[256];
};

/* The calling node's state, created on first use (NULL off a node or out
 * of memory). */
struct vrpc__node *vrpc__self(void);
int vrpc__fail(struct vrpc__node *n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Exports the area of a role (0 server, 1 client) if not yet done. */
int vrpc__area(struct vrpc__node *n, int role);
/* The link of a role to peer, importing the peer's area of the other
 * role on first use (retrying VS_ENOENT up to retry_for). */
int vrpc__link(struct vrpc__node *n, int role, int peer, hw_time_t retry_for,
               struct vrpc__link **out);
hw_time_t vrpc__now(struct vrpc__node *n);
/* Encodes with fn(xdrs, arg) into n->enc, growing it; the length in *len.
 * VS_EINVAL if fn fails even with VRPC_MAX_RECORD bytes. */
int vrpc__encode(struct vrpc__node *n, int (*fn)(XDR *, void *), void *arg,
                 size_t *len);
/* Sends a record; waits for credits until deadline.  VS_ETIMEDOUT,
 * VS_EUNREACH (the peer closed), or a vmmc error. */
int vrpc__send(struct vrpc__node *n, struct vrpc__link *l,
               const unsigned char *rec, size_t len, hw_time_t deadline);
/* 1 if the next chunk of l's in ring is there. */
int vrpc__ready(const struct vrpc__link *l);
/* Receives the next record (its first chunk must be there or arrive
 * before deadline).  VS_ETIMEDOUT, VS_EUNREACH (closed), VS_EIO (a bad
 * header), VS_ENOMEM. */
int vrpc__recv(struct vrpc__node *n, struct vrpc__link *l, struct vrpc__rec *r,
               hw_time_t deadline);
/* Releases a received record (its slot, or its copy). */
void vrpc__release(struct vrpc__node *n, struct vrpc__link *l,
                   struct vrpc__rec *r);

/* svc.c: the node's transport ends (at node end). */
void vrpc__svc_free(struct vrpc__node *n);

#endif
