/*
 * replay — SimGrid time-independent (TI) trace replay over libs/msg
 * (libs/replay).
 *
 * A TI trace is what `smpirun -trace-ti` writes: per MPI rank, the list of
 * MPI calls the rank made ("0 send 1 7 256 6": rank 0 sends 256 elements
 * of datatype 6, MPI_BYTE, to rank 1 with tag 7) and the computation
 * between them in flops ("0 compute 2e+06").  docs/replay.md gives every
 * action and how it is replayed; the semantics are SimGrid 3.32's
 * (src/smpi/internals/smpi_replay.cpp).
 *
 * Two halves:
 *   - replay_load() reads and checks every trace file before anything is
 *     simulated: an unknown action, a malformed line, a rank, size,
 *     datatype or tag out of range, a wait with no request before it,
 *     ranks that call different collectives (or the same ones with other
 *     roots or sizes) are errors naming file:line and the field.
 *   - replay_node_main() replays one rank's actions in the host process
 *     of the node with the same number, over VMMC and msg only: msg
 *     point-to-point and collectives carry the bytes, the host's CPU is
 *     charged for the computation (flops / the host's speed).
 *
 * Layer: libs/ (above vmmc/ and hw/, below cli/).  Nothing here knows the
 * simulator; the host speed comes from the caller.
 */
#ifndef LIBS_REPLAY_REPLAY_H
#define LIBS_REPLAY_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "libs/msg/msg.h"

/* Every action SimGrid 3.32's replay registers (smpi_replay_init), in the
 * spelling of the trace. */
#define REPLAY_OPS(X)                                                          \
    X(REPLAY_INIT, "init")                                                     \
    X(REPLAY_FINALIZE, "finalize")                                             \
    X(REPLAY_COMM_SIZE, "comm_size")                                           \
    X(REPLAY_COMM_SPLIT, "comm_split")                                         \
    X(REPLAY_COMM_DUP, "comm_dup")                                             \
    X(REPLAY_SEND, "send")                                                     \
    X(REPLAY_ISEND, "isend")                                                   \
    X(REPLAY_RECV, "recv")                                                     \
    X(REPLAY_IRECV, "irecv")                                                   \
    X(REPLAY_TEST, "test")                                                     \
    X(REPLAY_SENDRECV, "sendRecv")                                             \
    X(REPLAY_WAIT, "wait")                                                     \
    X(REPLAY_WAITALL, "waitall")                                               \
    X(REPLAY_BARRIER, "barrier")                                               \
    X(REPLAY_BCAST, "bcast")                                                   \
    X(REPLAY_REDUCE, "reduce")                                                 \
    X(REPLAY_ALLREDUCE, "allreduce")                                           \
    X(REPLAY_ALLTOALL, "alltoall")                                             \
    X(REPLAY_ALLTOALLV, "alltoallv")                                           \
    X(REPLAY_GATHER, "gather")                                                 \
    X(REPLAY_SCATTER, "scatter")                                               \
    X(REPLAY_GATHERV, "gatherv")                                               \
    X(REPLAY_SCATTERV, "scatterv")                                             \
    X(REPLAY_ALLGATHER, "allgather")                                           \
    X(REPLAY_ALLGATHERV, "allgatherv")                                         \
    X(REPLAY_REDUCESCATTER, "reducescatter")                                   \
    X(REPLAY_SCAN, "scan")                                                     \
    X(REPLAY_EXSCAN, "exscan")                                                 \
    X(REPLAY_COMPUTE, "compute")                                               \
    X(REPLAY_SLEEP, "sleep")                                                   \
    X(REPLAY_LOCATION, "location")

enum replay_op {
#define REPLAY_OP_ENUM_(name, text) name,
    REPLAY_OPS(REPLAY_OP_ENUM_)
#undef REPLAY_OP_ENUM_
        REPLAY_NOPS
};

/* The action's name as the trace spells it ("?" if op is out of range). */
const char *replay_op_name(int op);

/* Tags at or above this are the replay's own (the variable-size
 * collectives msg lacks are built from point-to-point messages with
 * them); a trace tag must be below. */
#define REPLAY_TAG_BASE (MSG_TAG_MAX - 0xffff)

/* One parsed action.  Sizes are bytes (the trace's count times its
 * datatype's size). */
struct replay_action {
    uint8_t op;               /* enum replay_op */
    uint8_t dtype;            /* enum msg_dtype of reductions */
    int32_t line;             /* in the rank's file */
    int32_t peer;             /* send: destination; recv: source (-1: any);
                               * sendRecv: destination */
    int32_t peer2;            /* sendRecv: source */
    int32_t tag;              /* send, recv: the tag (-1: any) */
    int32_t root;             /* rooted collectives */
    int32_t slot;             /* isend, irecv: the request's number (-1 else) */
    int32_t ksrc, kdst, ktag; /* isend, irecv, wait, test: SimGrid's key
                               * of the request, (source, destination,
                               * tag) as written */
    int64_t len;              /* bytes: p2p message (recv: < 0 is "unknown",
                               * probed), sendRecv's send, collective block
                               * or vector (see docs/replay.md) */
    int64_t len2;  /* sendRecv's receive; reductions' element count */
    double amount; /* compute: flops; sleep: seconds; reductions:
                    * comp_size flops */
    uint32_t vec;  /* v-collectives: first of nranks (alltoallv: 2 *
                    * nranks) byte counts in the rank's vector pool */
};

struct replay_rank {
    char *file; /* the file its actions came from, as opened */
    struct replay_action *acts;
    size_t nacts, cap;
    int64_t *vec; /* byte counts of the v-collectives */
    size_t nvec, vcap;
    /* What replaying needs, found while parsing. */
    size_t nslots;    /* isend + irecv actions */
    int64_t max_send; /* bytes */
    int64_t max_recv;
    int64_t max_irecv;
    uint64_t sends; /* point-to-point messages the rank sends */
    uint64_t send_bytes;
};

struct replay_trace {
    int nranks;
    struct replay_rank *ranks;
    size_t total_actions;
    /* The form the input had: "index", "per-rank" or "shared". */
    const char *form;
};

/* Reads TRACE arguments as `vmmcsim replay` takes them: one index file
 * (one trace path per line, relative to the index file's folder), one
 * file per rank in rank order, or one file holding the lines of every
 * rank (SimGrid's shared form; also a one-rank trace).  Parses and checks
 * every action.  Returns 0, or VS_ECONFIG / VS_ENOMEM with one line in
 * err naming the file, line and field.  On error nothing is left to
 * free; on success replay_free() frees t. */
int replay_load(struct replay_trace *t, int nfiles, char *const *files,
                char *err, size_t errlen);
void replay_free(struct replay_trace *t);

/* ---- Replaying ---- */

enum replay_state {
    REPLAY_ST_IDLE,     /* not started (setup) */
    REPLAY_ST_RUNNING,  /* inside its trace: acts[cur] in progress */
    REPLAY_ST_DRAINING, /* waiting for requests its trace left pending */
    REPLAY_ST_CLOSING,  /* trace done, in msg_finalize */
    REPLAY_ST_DONE,
    REPLAY_ST_FAILED /* error says why */
};

/* What one rank did; times are simulated picoseconds. */
struct replay_rank_result {
    int state;            /* enum replay_state */
    size_t cur;           /* the action in progress (RUNNING, FAILED) */
    size_t done;          /* actions replayed */
    hw_time_t start, end; /* the trace's first action, its end */
    hw_time_t compute;    /* compute, sleep and comp_size */
    hw_time_t comm;       /* point-to-point calls and collectives */
    hw_time_t wait;       /* wait, waitall, test, the final drain */
    struct msg_stats msg; /* msg's counters at the end of the trace */
    char error[400];
};

struct replay_exec {
    const struct replay_trace *trace;
    /* The speed of node's host in flops per second (> 0), called from the
     * node's host process. */
    double (*host_speed)(void *arg, int node);
    void *speed_arg;
    /* trace->nranks entries, zeroed by the caller. */
    struct replay_rank_result *res;
};

/* Replays rank h->node of x->trace in the calling host process: opens
 * VMMC and msg (every rank of the trace must run it), waits for every
 * rank at a barrier, then runs the actions and finally waits for the
 * requests the trace left pending (as SimGrid does).  Nodes numbered
 * above the trace's ranks return at once.  Results and errors go to
 * x->res[rank]; an error stops the rank (it still closes what it
 * opened). */
void replay_node_main(hw_host *h, struct replay_exec *x);

/* The sends of t that no receive of t takes, matched as MPI does per
 * pair of ranks (source, tag, order).  Returns how many; the first is
 * described in buf ("FILE:LINE: rank 0's send to rank 1 with tag 3 has no
 * matching receive ...").  With receives from any source the matching is
 * not sure: returns 0. */
size_t replay_unmatched(const struct replay_trace *t, char *buf, size_t len);

/* One line describing where rank r stands (for failure reports):
 * "rank 1 (FILE:LINE recv from 0 tag 3)" or "rank 1 (finished its trace)"
 * into buf. */
void replay_where(const struct replay_trace *t,
                  const struct replay_rank_result *res, int r, char *buf,
                  size_t len);

#endif
