/*
 * msg — NX-style message passing over VMMC (libs/msg).
 *
 * The library sits above the public VMMC API (vmmc/vmmc.h) and below
 * applications and an MPI subset.  One context per process, on a VMMC
 * context the caller opened; ranks are node ids 0..size-1.  Everything
 * blocks in simulated time inside VMMC waits: a process that waits for a
 * message sleeps until the NIC writes its memory.
 *
 * Point to point: blocking and non-blocking send and receive, matched on
 * (source, tag) with MSG_ANY_SOURCE / MSG_ANY_TAG wildcards; messages
 * between a pair of ranks never overtake each other (MPI's rule: of two
 * messages from one sender that both match a receive, the first one sent
 * is received first).  Messages that arrive before their receive is posted
 * wait in an unexpected queue.  Two protocols, chosen by size:
 *   - eager (len <= eager_limit): the sender copies the message into a
 *     slot of the receiver's per-sender ring, imported once at msg_init,
 *     with credits for flow control; msg_send returns as soon as the bytes
 *     are copied out of the user's buffer.
 *   - rendezvous (len > eager_limit): request-to-send, then the receiver
 *     exports its own receive buffer and answers clear-to-send, and the
 *     sender's single vmmc_send writes straight into it: no copy on
 *     either side.
 * docs/msg.md describes the protocol and the measured crossover.
 *
 * Collectives (all ranks call them in the same order with matching
 * arguments): barrier, broadcast, reduce, allreduce, gather, scatter,
 * allgather, alltoall, alltoallv; built from point-to-point messages on a
 * context of their own, so they never match user messages.
 *
 * Every function returns 0 (VS_OK) or a negative vs_err (util/err.h);
 * msg_errmsg() then says which call failed and why.  Misuse (a bad rank or
 * tag, a NULL buffer with a non-zero length, a length above MSG_MAX_LEN,
 * which is what a negative int count converts to) returns VS_EINVAL and
 * touches no memory.  A receive whose buffer is too small gets the first
 * bytes of the message and VS_ERANGE in its status.
 *
 * Resources: msg uses VMMC export ids [export_base, export_base + size]
 * (one ring export, one rendezvous export per peer), up to two imports per
 * peer, and no notifications (it leaves the context's notification queue
 * to the application).  Sizes above 32 ranks run out of VMMC imports.
 */
#ifndef LIBS_MSG_MSG_H
#define LIBS_MSG_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "vmmc/vmmc.h"

#define MSG_ANY_SOURCE (-1)
#define MSG_ANY_TAG (-1)
#define MSG_TAG_MAX 0x7fffffff
/* The longest message or collective block, in bytes. */
#define MSG_MAX_LEN ((size_t)0x7fffffff)

typedef struct msg_ctx msg_ctx;
/* A pending non-blocking operation: allocated by msg_isend/msg_irecv,
 * freed (and the caller's pointer set to NULL) by the msg_wait or msg_test
 * that sees it complete.  NULL stands for "no request" (MPI_REQUEST_NULL):
 * waiting on it returns at once with an empty status. */
typedef struct msg_req msg_req;

/* Parameters; every rank must pass the same values. */
struct msg_params {
    /* Largest message sent eagerly, in bytes (0..65536).  Larger ones use
     * the rendezvous.  Default MSG_DEFAULT_EAGER_LIMIT (see docs/msg.md
     * for the measurement behind it). */
    size_t eager_limit;
    /* Slots in each per-sender ring, i.e. the sender's credits (2..1024). */
    unsigned ring_slots;
    /* Host memory-copy rate charged for the eager copies and the
     * reductions, MB/s (1..100000). */
    unsigned copy_MBps;
    /* First VMMC export id msg may use; it uses size + 1 ids. */
    int export_base;
    /* Ranks are nodes 0..nranks-1 (0: every node).  Nodes above take no
     * part and must not call msg_init. */
    int nranks;
    /* 1: a receiver keeps a rendezvous export of a user buffer for the
     * next message from the same peer into the same memory (no export or
     * import per message: a registration cache); 0: withdraw it after each
     * message. */
    int cache_exports;
};

/* The default eager limit: above it, the two copies of the eager protocol
 * cost more than the rendezvous handshake.  Measured on configs/myrinet.ini
 * with configs/myrinet-2.xml (`make bench`, build/bench/msg.csv; one-way
 * latency, half a round trip): eager 61.90 us vs rendezvous 62.46 us at
 * 1024 bytes, 63.49 vs 63.24 at 1056 bytes, so the curves cross at about
 * 1046 bytes.  (Streams favour eager up to about 4 KiB: 76.4 vs 76.0 MB/s
 * at 4096 bytes, 77.4 vs 84.2 at 6144; see docs/msg.md.) */
#define MSG_DEFAULT_EAGER_LIMIT 1024
#define MSG_DEFAULT_RING_SLOTS 8
/* A 166 MHz Pentium's memcpy (libc, data in the L2 cache): an estimate. */
#define MSG_DEFAULT_COPY_MBPS 80

void msg_params_default(struct msg_params *p);

/* What a completed receive (or a probe) found. */
struct msg_status {
    int source;   /* the sender's rank */
    int tag;      /* the message's tag */
    size_t count; /* bytes received (probe: the message's length) */
    int error;    /* 0, or VS_ERANGE if the message was truncated */
};

/* Opens msg on vmmc context vc (which stays the caller's).  p NULL means
 * the defaults.  Collective: every rank calls it; it imports every peer's
 * ring and waits (up to about a second of simulated time) for peers that
 * have not exported theirs yet.  VS_EINVAL for bad parameters, VS_ECONFIG
 * if the ranks disagree on them. */
int msg_init(vmmc_ctx *vc, const struct msg_params *p, msg_ctx **out);
/* Collective: flushes what is in flight, waits for every rank, withdraws
 * the exports, drops the imports and frees the context.  VS_EBUSY (and
 * nothing done) if a request has not completed yet. */
int msg_finalize(msg_ctx *ctx);

int msg_rank(const msg_ctx *ctx);
int msg_size(const msg_ctx *ctx);
/* The parameters in force (defaults filled in). */
const struct msg_params *msg_params(const msg_ctx *ctx);
/* A one-line description of the last error, naming the call; "" if none. */
const char *msg_errmsg(const msg_ctx *ctx);

/* ---- Point to point ---- */

/* Blocking: returns when buf may be reused (eager: once copied; rendezvous:
 * once the receiver has the data).  tag in 0..MSG_TAG_MAX; dst may be the
 * caller itself. */
int msg_send(msg_ctx *ctx, const void *buf, size_t len, int dst, int tag);
/* Blocking: returns when the message is in buf.  src/tag may be
 * wildcards; st (may be NULL) says what arrived.  A message longer than
 * cap fills buf and returns VS_ERANGE. */
int msg_recv(msg_ctx *ctx, void *buf, size_t cap, int src, int tag,
             struct msg_status *st);
/* Non-blocking: buf must stay untouched until the request completes. */
int msg_isend(msg_ctx *ctx, const void *buf, size_t len, int dst, int tag,
              msg_req **req);
int msg_irecv(msg_ctx *ctx, void *buf, size_t cap, int src, int tag,
              msg_req **req);
/* A send and a receive at once (no deadlock between two ranks that both
 * call it); returns the first error. */
int msg_sendrecv(msg_ctx *ctx, const void *sbuf, size_t slen, int dst, int stag,
                 void *rbuf, size_t rcap, int src, int rtag,
                 struct msg_status *st);

/* Blocks until *req completes; frees it and sets *req to NULL.  Returns
 * the request's error (VS_ERANGE for a truncated receive). */
int msg_wait(msg_ctx *ctx, msg_req **req, struct msg_status *st);
/* Makes progress without blocking; *flag = 1 and as msg_wait if *req
 * completed, *flag = 0 otherwise. */
int msg_test(msg_ctx *ctx, msg_req **req, int *flag, struct msg_status *st);
/* Waits for all n requests (NULL entries are skipped); sts (may be NULL)
 * gets one status each.  Returns the first error. */
int msg_waitall(msg_ctx *ctx, size_t n, msg_req **reqs, struct msg_status *sts);
/* Waits for one of n requests; *index says which (n if all are NULL). */
int msg_waitany(msg_ctx *ctx, size_t n, msg_req **reqs, size_t *index,
                struct msg_status *st);
/* *flag = 1 if all n requests completed (then as msg_waitall). */
int msg_testall(msg_ctx *ctx, size_t n, msg_req **reqs, int *flag,
                struct msg_status *sts);

/* Blocks until a message matching (src, tag) has arrived and describes it
 * (count is its full length) without receiving it. */
int msg_probe(msg_ctx *ctx, int src, int tag, struct msg_status *st);
/* The same without blocking: *flag = 0 if there is none yet. */
int msg_iprobe(msg_ctx *ctx, int src, int tag, int *flag,
               struct msg_status *st);

/* ---- Collectives ---- */

enum msg_dtype {
    MSG_INT8,
    MSG_UINT8,
    MSG_INT16,
    MSG_UINT16,
    MSG_INT32,
    MSG_UINT32,
    MSG_INT64,
    MSG_UINT64,
    MSG_FLOAT,
    MSG_DOUBLE,
    MSG_NDTYPES
};

/* Reduction operators; all are commutative and associative (floating
 * point sums are combined in the same order on every rank, so allreduce
 * gives every rank the same bits).  The logical and bitwise ones take
 * integer types only. */
enum msg_op {
    MSG_SUM,
    MSG_PROD,
    MSG_MAX,
    MSG_MIN,
    MSG_LAND,
    MSG_LOR,
    MSG_LXOR,
    MSG_BAND,
    MSG_BOR,
    MSG_BXOR,
    MSG_NOPS
};

/* The size of one element of t in bytes; 0 for an unknown type. */
size_t msg_dtype_size(enum msg_dtype t);

/* Dissemination barrier: returns once every rank has entered it. */
int msg_barrier(msg_ctx *ctx);
/* Binomial tree from root: len bytes of root's buf into everyone's buf. */
int msg_bcast(msg_ctx *ctx, void *buf, size_t len, int root);
/* Binomial tree: root's rbuf = op over the ranks' sbuf (count elements of
 * t).  rbuf is only written at root and may equal sbuf there. */
int msg_reduce(msg_ctx *ctx, const void *sbuf, void *rbuf, size_t count,
               enum msg_dtype t, enum msg_op op, int root);
/* Recursive doubling (any number of ranks): every rbuf gets the result;
 * rbuf may equal sbuf. */
int msg_allreduce(msg_ctx *ctx, const void *sbuf, void *rbuf, size_t count,
                  enum msg_dtype t, enum msg_op op);
/* Binomial tree: block i of root's rbuf (len bytes each) = rank i's sbuf.
 * rbuf (size * len bytes) is only used at root. */
int msg_gather(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf,
               int root);
/* Binomial tree: rank i's rbuf = block i of root's sbuf (len bytes). */
int msg_scatter(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf,
                int root);
/* Bruck's algorithm (log2 steps, any size): block i of every rbuf = rank
 * i's sbuf. */
int msg_allgather(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf);
/* Pairwise exchange: block j of rank i's rbuf = block i of rank j's sbuf. */
int msg_alltoall(msg_ctx *ctx, const void *sbuf, size_t len, void *rbuf);
/* The same with per-rank byte counts and displacements (MPI_Alltoallv in
 * bytes): rank i sends scounts[j] bytes at sbuf + sdispls[j] to rank j,
 * which must expect rcounts[i] == that at rbuf + rdispls[i]. */
int msg_alltoallv(msg_ctx *ctx, const void *sbuf, const size_t *scounts,
                  const size_t *sdispls, void *rbuf, const size_t *rcounts,
                  const size_t *rdispls);

/* ---- Counters ---- */

struct msg_stats {
    uint64_t eager_sent, rndv_sent, self_sent; /* messages by protocol */
    uint64_t received;         /* messages delivered to receives */
    uint64_t unexpected;       /* of those, how many waited unmatched */
    uint64_t bytes_copied;     /* by the eager copies (both ends) */
    uint64_t bytes_zero_copy;  /* moved by rendezvous straight to the user */
    uint64_t credit_updates;   /* explicit credit messages sent */
    uint64_t exports, imports; /* rendezvous registrations made */
};
void msg_get_stats(const msg_ctx *ctx, struct msg_stats *out);

#endif
