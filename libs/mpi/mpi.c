/*
 * libs/mpi: vmmcsim's MPI subset (include/mpi.h), a thin layer over
 * libs/msg.  Each simulated node's program calls it from its own host
 * process; hw_self() says which node is calling, and the node's state
 * (its VMMC and msg contexts) is kept per node.  Counts and types become
 * byte lengths and msg's element types; MPI_COMM_WORLD is every node the
 * run has.  Errors are fatal, as MPI's default error handler: one line
 * naming the call and the rank, then the run stops (status 1).
 */
#define VMMCSIM_MPI_IMPL
#include "include/mpi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/hw.h"
#include "libs/mpi/mpi_rt.h"
#include "libs/msg/msg.h"
#include "libs/node/node.h"
#include "util/err.h"
#include "vmmc/vmmc.h"

struct node {
    vmmc_ctx *vc;
    msg_ctx *mc;
    int initialized, finalized;
};

static struct {
    struct node *nodes;
    int nnodes;
    struct msg_params params;
    int have_params;
} M;

void mpi_rt_configure(const struct msg_params *p)
{
    if (p) {
        M.params = *p;
        M.have_params = 1;
    } else {
        M.have_params = 0;
    }
}

void mpi_rt_reset(void)
{
    free(M.nodes);
    M.nodes = NULL;
    M.nnodes = 0;
}

/* ---- Errors ---- */

static int node_id(void)
{
    hw_host *h = hw_self();
    return h ? h->node : -1;
}

static void fatal(int code, const char *call, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* MPI_ERRORS_ARE_FATAL: the whole job stops, as mpirun would stop it. */
static void fatal(int code, const char *call, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(NULL);
    char what[MPI_MAX_ERROR_STRING];
    int len;
    MPI_Error_string(code, what, &len);
    fprintf(stderr, "vmmcsim: MPI error on rank %d: %s: %s (%s)\n",
            node_id(), call, msg, what);
    fflush(stderr);
    _exit(1);
}

static struct node *self(const char *call)
{
    hw_host *h = hw_self();
    if (!h)
        fatal(MPI_ERR_OTHER, call, "called outside a simulated node (run "
                                   "the program with vmmcsim exec)");
    if (!M.nodes) {
        M.nodes = calloc((size_t)h->nnodes, sizeof *M.nodes);
        if (!M.nodes)
            fatal(MPI_ERR_INTERN, call, "out of memory");
        M.nnodes = h->nnodes;
    }
    return &M.nodes[h->node];
}

/* The node's state once MPI_Init has run (and MPI_Finalize has not). */
static struct node *live(const char *call)
{
    struct node *n = self(call);
    if (!n->initialized)
        fatal(MPI_ERR_OTHER, call, "called before MPI_Init");
    if (n->finalized)
        fatal(MPI_ERR_OTHER, call, "called after MPI_Finalize");
    return n;
}

static void check_comm(MPI_Comm comm, const char *call)
{
    if (comm != MPI_COMM_WORLD)
        fatal(MPI_ERR_COMM, call, "communicator %d: only MPI_COMM_WORLD "
                                  "exists here",
              comm);
}

/* The element size of an MPI type, and msg's type for reductions. */
static size_t type_size(MPI_Datatype t, enum msg_dtype *mt)
{
    static const struct {
        size_t size;
        enum msg_dtype m;
    } T[] = {
        [MPI_CHAR] = {1, MSG_INT8},
        [MPI_SIGNED_CHAR] = {1, MSG_INT8},
        [MPI_UNSIGNED_CHAR] = {1, MSG_UINT8},
        [MPI_BYTE] = {1, MSG_UINT8},
        [MPI_SHORT] = {2, MSG_INT16},
        [MPI_UNSIGNED_SHORT] = {2, MSG_UINT16},
        [MPI_INT] = {4, MSG_INT32},
        [MPI_UNSIGNED] = {4, MSG_UINT32},
        [MPI_LONG] = {8, MSG_INT64},
        [MPI_UNSIGNED_LONG] = {8, MSG_UINT64},
        [MPI_LONG_LONG] = {8, MSG_INT64},
        [MPI_UNSIGNED_LONG_LONG] = {8, MSG_UINT64},
        [MPI_FLOAT] = {4, MSG_FLOAT},
        [MPI_DOUBLE] = {8, MSG_DOUBLE},
        [MPI_INT8_T] = {1, MSG_INT8},
        [MPI_UINT8_T] = {1, MSG_UINT8},
        [MPI_INT16_T] = {2, MSG_INT16},
        [MPI_UINT16_T] = {2, MSG_UINT16},
        [MPI_INT32_T] = {4, MSG_INT32},
        [MPI_UINT32_T] = {4, MSG_UINT32},
        [MPI_INT64_T] = {8, MSG_INT64},
        [MPI_UINT64_T] = {8, MSG_UINT64},
    };
    if (t <= 0 || t >= (int)(sizeof T / sizeof *T) || !T[t].size)
        return 0;
    if (mt)
        *mt = T[t].m;
    return T[t].size;
}

static size_t bytes(int count, MPI_Datatype t, const char *call,
                    enum msg_dtype *mt)
{
    size_t sz = type_size(t, mt);
    if (!sz)
        fatal(MPI_ERR_TYPE, call, "datatype %d is not one of the basic "
                                  "types",
              t);
    if (count < 0)
        fatal(MPI_ERR_COUNT, call, "count %d is negative", count);
    return (size_t)count * sz;
}

static enum msg_op op_of(MPI_Op op, const char *call)
{
    switch (op) {
    case MPI_MAX: return MSG_MAX;
    case MPI_MIN: return MSG_MIN;
    case MPI_SUM: return MSG_SUM;
    case MPI_PROD: return MSG_PROD;
    case MPI_LAND: return MSG_LAND;
    case MPI_BAND: return MSG_BAND;
    case MPI_LOR: return MSG_LOR;
    case MPI_BOR: return MSG_BOR;
    case MPI_LXOR: return MSG_LXOR;
    case MPI_BXOR: return MSG_BXOR;
    default:
        fatal(MPI_ERR_OP, call, "operation %d is not a predefined one", op);
    }
}

/* A msg error is fatal, with msg's own description of it. */
static int check(struct node *n, int rc, const char *call)
{
    if (rc == VS_OK)
        return MPI_SUCCESS;
    int code = rc == VS_ERANGE ? MPI_ERR_TRUNCATE
               : rc == VS_EINVAL ? MPI_ERR_ARG
                                 : MPI_ERR_OTHER;
    const char *why = n->mc ? msg_errmsg(n->mc) : "";
    fatal(code, call, "%s", *why ? why : vs_strerror(rc));
}

static void check_rank(struct node *n, int rank, int any, const char *call)
{
    int size = msg_size(n->mc);
    if (!(rank >= 0 && rank < size) && !(any && rank == MPI_ANY_SOURCE) &&
        rank != MPI_PROC_NULL)
        fatal(MPI_ERR_RANK, call, "rank %d is not in 0..%d", rank, size - 1);
}

static void check_tag(int tag, int any, const char *call)
{
    if (!(tag >= 0 && tag <= MPI_TAG_UB) && !(any && tag == MPI_ANY_TAG))
        fatal(MPI_ERR_TAG, call, "tag %d is not in 0..%d", tag, MPI_TAG_UB);
}

static void put_status(MPI_Status *st, const struct msg_status *ms)
{
    if (!st)
        return;
    st->MPI_SOURCE = ms->source;
    st->MPI_TAG = ms->tag;
    st->MPI_ERROR = ms->error == VS_ERANGE ? MPI_ERR_TRUNCATE : MPI_SUCCESS;
    st->vmmcsim_bytes = ms->count;
}

static void empty_status(MPI_Status *st)
{
    if (st)
        *st = (MPI_Status){MPI_PROC_NULL, MPI_ANY_TAG, MPI_SUCCESS, 0};
}

/* ---- Environment ---- */

int MPI_Init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct node *n = self("MPI_Init");
    if (n->initialized)
        fatal(MPI_ERR_OTHER, "MPI_Init", "called twice");
    int rc = VS_OK;
    n->vc = node_vmmc(&rc);
    if (!n->vc)
        fatal(MPI_ERR_OTHER, "MPI_Init", "vmmc_open: %s", vs_strerror(rc));
    rc = msg_init(n->vc, M.have_params ? &M.params : NULL, &n->mc);
    if (rc)
        fatal(MPI_ERR_OTHER, "MPI_Init", "msg_init: %s", vs_strerror(rc));
    n->initialized = 1;
    return MPI_SUCCESS;
}

int MPI_Finalize(void)
{
    struct node *n = live("MPI_Finalize");
    int rc = msg_finalize(n->mc);
    if (rc == VS_EBUSY)
        fatal(MPI_ERR_REQUEST, "MPI_Finalize", "a request has not "
                                               "completed (wait for it "
                                               "first)");
    check(n, rc, "MPI_Finalize");
    n->mc = NULL;
    /* The node's VMMC context is shared with the other libraries
     * (libs/node); vmmcsim exec closes it when the program ends. */
    rc = vmmc_flush(n->vc);
    n->vc = NULL;
    n->finalized = 1;
    if (rc)
        fatal(MPI_ERR_OTHER, "MPI_Finalize", "vmmc_flush: %s",
              vs_strerror(rc));
    return MPI_SUCCESS;
}

int MPI_Initialized(int *flag)
{
    *flag = self("MPI_Initialized")->initialized;
    return MPI_SUCCESS;
}

int MPI_Finalized(int *flag)
{
    *flag = self("MPI_Finalized")->finalized;
    return MPI_SUCCESS;
}

int MPI_Abort(MPI_Comm comm, int errorcode)
{
    (void)comm;
    fflush(NULL);
    fprintf(stderr, "vmmcsim: MPI_Abort on rank %d with code %d\n", node_id(),
            errorcode);
    fflush(stderr);
    _exit(errorcode & 0xff ? errorcode & 0xff : 1);
}

int MPI_Comm_rank(MPI_Comm comm, int *rank)
{
    struct node *n = live("MPI_Comm_rank");
    check_comm(comm, "MPI_Comm_rank");
    *rank = msg_rank(n->mc);
    return MPI_SUCCESS;
}

int MPI_Comm_size(MPI_Comm comm, int *size)
{
    struct node *n = live("MPI_Comm_size");
    check_comm(comm, "MPI_Comm_size");
    *size = msg_size(n->mc);
    return MPI_SUCCESS;
}

int MPI_Get_processor_name(char *name, int *resultlen)
{
    int len = snprintf(name, MPI_MAX_PROCESSOR_NAME, "node-%d", node_id());
    *resultlen = len;
    return MPI_SUCCESS;
}

int MPI_Error_string(int errorcode, char *string, int *resultlen)
{
    static const char *const names[] = {
        [MPI_SUCCESS] = "success",
        [MPI_ERR_BUFFER] = "invalid buffer",
        [MPI_ERR_COUNT] = "invalid count",
        [MPI_ERR_TYPE] = "invalid datatype",
        [MPI_ERR_TAG] = "invalid tag",
        [MPI_ERR_COMM] = "invalid communicator",
        [MPI_ERR_RANK] = "invalid rank",
        [MPI_ERR_REQUEST] = "invalid request",
        [MPI_ERR_ROOT] = "invalid root",
        [MPI_ERR_OP] = "invalid operation",
        [MPI_ERR_ARG] = "invalid argument",
        [MPI_ERR_TRUNCATE] = "message truncated",
        [MPI_ERR_OTHER] = "other error",
        [MPI_ERR_INTERN] = "internal error",
    };
    const char *s = errorcode >= 0 &&
                            errorcode < (int)(sizeof names / sizeof *names) &&
                            names[errorcode]
                        ? names[errorcode]
                        : "unknown error";
    *resultlen = snprintf(string, MPI_MAX_ERROR_STRING, "%s", s);
    return MPI_SUCCESS;
}

double MPI_Wtime(void)
{
    hw_host *h = hw_self();
    return h ? (double)h->ops->now(h) * 1e-12 : 0.0;
}

double MPI_Wtick(void) { return 1e-12; }

/* ---- Point to point ---- */

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag,
             MPI_Comm comm)
{
    struct node *n = live("MPI_Send");
    check_comm(comm, "MPI_Send");
    size_t len = bytes(count, type, "MPI_Send", NULL);
    check_rank(n, dest, 0, "MPI_Send");
    check_tag(tag, 0, "MPI_Send");
    if (dest == MPI_PROC_NULL)
        return MPI_SUCCESS;
    return check(n, msg_send(n->mc, buf, len, dest, tag), "MPI_Send");
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag,
             MPI_Comm comm, MPI_Status *status)
{
    struct node *n = live("MPI_Recv");
    check_comm(comm, "MPI_Recv");
    size_t len = bytes(count, type, "MPI_Recv", NULL);
    check_rank(n, source, 1, "MPI_Recv");
    check_tag(tag, 1, "MPI_Recv");
    if (source == MPI_PROC_NULL) {
        empty_status(status);
        return MPI_SUCCESS;
    }
    struct msg_status ms;
    int rc = msg_recv(n->mc, buf, len, source, tag, &ms);
    put_status(status, &ms);
    return check(n, rc, "MPI_Recv");
}

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
              int tag, MPI_Comm comm, MPI_Request *request)
{
    struct node *n = live("MPI_Isend");
    check_comm(comm, "MPI_Isend");
    size_t len = bytes(count, type, "MPI_Isend", NULL);
    check_rank(n, dest, 0, "MPI_Isend");
    check_tag(tag, 0, "MPI_Isend");
    *request = MPI_REQUEST_NULL;
    if (dest == MPI_PROC_NULL)
        return MPI_SUCCESS;
    msg_req *r = NULL;
    int rc = msg_isend(n->mc, buf, len, dest, tag, &r);
    *request = (MPI_Request)r;
    return check(n, rc, "MPI_Isend");
}

int MPI_Irecv(void *buf, int count, MPI_Datatype type, int source, int tag,
              MPI_Comm comm, MPI_Request *request)
{
    struct node *n = live("MPI_Irecv");
    check_comm(comm, "MPI_Irecv");
    size_t len = bytes(count, type, "MPI_Irecv", NULL);
    check_rank(n, source, 1, "MPI_Irecv");
    check_tag(tag, 1, "MPI_Irecv");
    *request = MPI_REQUEST_NULL;
    if (source == MPI_PROC_NULL)
        return MPI_SUCCESS;
    msg_req *r = NULL;
    int rc = msg_irecv(n->mc, buf, len, source, tag, &r);
    *request = (MPI_Request)r;
    return check(n, rc, "MPI_Irecv");
}

int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 int dest, int sendtag, void *recvbuf, int recvcount,
                 MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm,
                 MPI_Status *status)
{
    MPI_Request rr, sr;
    MPI_Irecv(recvbuf, recvcount, recvtype, source, recvtag, comm, &rr);
    MPI_Isend(sendbuf, sendcount, sendtype, dest, sendtag, comm, &sr);
    MPI_Wait(&sr, MPI_STATUS_IGNORE);
    return MPI_Wait(&rr, status);
}

int MPI_Wait(MPI_Request *request, MPI_Status *status)
{
    struct node *n = live("MPI_Wait");
    msg_req *r = (msg_req *)*request;
    if (!r) {
        empty_status(status);
        return MPI_SUCCESS;
    }
    struct msg_status ms = {0};
    int rc = msg_wait(n->mc, &r, &ms);
    *request = (MPI_Request)r;
    put_status(status, &ms);
    return check(n, rc, "MPI_Wait");
}

int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[])
{
    live("MPI_Waitall");
    if (count < 0)
        fatal(MPI_ERR_COUNT, "MPI_Waitall", "count %d is negative", count);
    for (int i = 0; i < count; i++)
        MPI_Wait(&requests[i], statuses ? &statuses[i] : MPI_STATUS_IGNORE);
    return MPI_SUCCESS;
}

int MPI_Waitany(int count, MPI_Request requests[], int *index,
                MPI_Status *status)
{
    struct node *n = live("MPI_Waitany");
    if (count < 0)
        fatal(MPI_ERR_COUNT, "MPI_Waitany", "count %d is negative", count);
    size_t idx = 0;
    struct msg_status ms = {0};
    int rc = msg_waitany(n->mc, (size_t)count, (msg_req **)requests, &idx,
                         &ms);
    if (idx >= (size_t)count) {
        *index = MPI_UNDEFINED;
        empty_status(status);
        return MPI_SUCCESS;
    }
    *index = (int)idx;
    put_status(status, &ms);
    return check(n, rc, "MPI_Waitany");
}

int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status)
{
    struct node *n = live("MPI_Test");
    msg_req *r = (msg_req *)*request;
    if (!r) {
        *flag = 1;
        empty_status(status);
        return MPI_SUCCESS;
    }
    struct msg_status ms = {0};
    int rc = msg_test(n->mc, &r, flag, &ms);
    *request = (MPI_Request)r;
    if (*flag)
        put_status(status, &ms);
    return check(n, rc, "MPI_Test");
}

int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status *status)
{
    struct node *n = live("MPI_Probe");
    check_comm(comm, "MPI_Probe");
    check_rank(n, source, 1, "MPI_Probe");
    check_tag(tag, 1, "MPI_Probe");
    if (source == MPI_PROC_NULL) {
        empty_status(status);
        return MPI_SUCCESS;
    }
    struct msg_status ms;
    int rc = msg_probe(n->mc, source, tag, &ms);
    put_status(status, &ms);
    return check(n, rc, "MPI_Probe");
}

int MPI_Iprobe(int source, int tag, MPI_Comm comm, int *flag,
               MPI_Status *status)
{
    struct node *n = live("MPI_Iprobe");
    check_comm(comm, "MPI_Iprobe");
    check_rank(n, source, 1, "MPI_Iprobe");
    check_tag(tag, 1, "MPI_Iprobe");
    if (source == MPI_PROC_NULL) {
        *flag = 1;
        empty_status(status);
        return MPI_SUCCESS;
    }
    struct msg_status ms;
    int rc = msg_iprobe(n->mc, source, tag, flag, &ms);
    if (*flag)
        put_status(status, &ms);
    return check(n, rc, "MPI_Iprobe");
}

int MPI_Get_count(const MPI_Status *status, MPI_Datatype type, int *count)
{
    size_t sz = type_size(type, NULL);
    if (!sz)
        fatal(MPI_ERR_TYPE, "MPI_Get_count", "datatype %d is not one of the "
                                             "basic types",
              type);
    *count = status->vmmcsim_bytes % sz ? MPI_UNDEFINED
                                        : (int)(status->vmmcsim_bytes / sz);
    return MPI_SUCCESS;
}

int MPI_Type_size(MPI_Datatype type, int *size)
{
    size_t sz = type_size(type, NULL);
    if (!sz)
        fatal(MPI_ERR_TYPE, "MPI_Type_size", "datatype %d is not one of the "
                                             "basic types",
              type);
    *size = (int)sz;
    return MPI_SUCCESS;
}

/* ---- Collectives ---- */

static void check_root(struct node *n, int root, const char *call)
{
    if (root < 0 || root >= msg_size(n->mc))
        fatal(MPI_ERR_ROOT, call, "root %d is not in 0..%d", root,
              msg_size(n->mc) - 1);
}

/* The send and receive sides of a collective must describe the same
 * bytes (the subset has no derived types, so the sizes must agree). */
static size_t block(int scount, MPI_Datatype stype, int rcount,
                    MPI_Datatype rtype, int need_recv, const char *call)
{
    size_t s = bytes(scount, stype, call, NULL);
    if (need_recv) {
        size_t r = bytes(rcount, rtype, call, NULL);
        if (r != s)
            fatal(MPI_ERR_TRUNCATE, call, "sending %zu bytes per rank but "
                                          "receiving %zu",
                  s, r);
    }
    return s;
}

int MPI_Barrier(MPI_Comm comm)
{
    struct node *n = live("MPI_Barrier");
    check_comm(comm, "MPI_Barrier");
    return check(n, msg_barrier(n->mc), "MPI_Barrier");
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root,
              MPI_Comm comm)
{
    struct node *n = live("MPI_Bcast");
    check_comm(comm, "MPI_Bcast");
    size_t len = bytes(count, type, "MPI_Bcast", NULL);
    check_root(n, root, "MPI_Bcast");
    return check(n, msg_bcast(n->mc, buf, len, root), "MPI_Bcast");
}

int MPI_Reduce(const void *sendbuf, void *recvbuf, int count,
               MPI_Datatype type, MPI_Op op, int root, MPI_Comm comm)
{
    struct node *n = live("MPI_Reduce");
    check_comm(comm, "MPI_Reduce");
    enum msg_dtype mt;
    bytes(count, type, "MPI_Reduce", &mt);
    check_root(n, root, "MPI_Reduce");
    if (sendbuf == MPI_IN_PLACE)
        sendbuf = recvbuf;
    return check(n,
                 msg_reduce(n->mc, sendbuf, recvbuf, (size_t)count, mt,
                            op_of(op, "MPI_Reduce"), root),
                 "MPI_Reduce");
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count,
                  MPI_Datatype type, MPI_Op op, MPI_Comm comm)
{
    struct node *n = live("MPI_Allreduce");
    check_comm(comm, "MPI_Allreduce");
    enum msg_dtype mt;
    bytes(count, type, "MPI_Allreduce", &mt);
    if (sendbuf == MPI_IN_PLACE)
        sendbuf = recvbuf;
    return check(n,
                 msg_allreduce(n->mc, sendbuf, recvbuf, (size_t)count, mt,
                               op_of(op, "MPI_Allreduce")),
                 "MPI_Allreduce");
}

int MPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
               void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
               MPI_Comm comm)
{
    struct node *n = live("MPI_Gather");
    check_comm(comm, "MPI_Gather");
    check_root(n, root, "MPI_Gather");
    int me = msg_rank(n->mc);
    size_t len = block(sendcount, sendtype, recvcount, recvtype, me == root,
                       "MPI_Gather");
    if (sendbuf == MPI_IN_PLACE)
        sendbuf = (char *)recvbuf + (size_t)me * len;
    return check(n, msg_gather(n->mc, sendbuf, len, recvbuf, root),
                 "MPI_Gather");
}

int MPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                MPI_Comm comm)
{
    struct node *n = live("MPI_Scatter");
    check_comm(comm, "MPI_Scatter");
    check_root(n, root, "MPI_Scatter");
    int me = msg_rank(n->mc);
    /* The receive side describes the block everywhere; the send side only
     * at the root. */
    size_t len = block(recvcount, recvtype, sendcount, sendtype, me == root,
                       "MPI_Scatter");
    return check(n, msg_scatter(n->mc, sendbuf, len, recvbuf, root),
                 "MPI_Scatter");
}

int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                  void *recvbuf, int recvcount, MPI_Datatype recvtype,
                  MPI_Comm comm)
{
    struct node *n = live("MPI_Allgather");
    check_comm(comm, "MPI_Allgather");
    size_t len = sendbuf == MPI_IN_PLACE
                     ? bytes(recvcount, recvtype, "MPI_Allgather", NULL)
                     : block(sendcount, sendtype, recvcount, recvtype, 1,
                             "MPI_Allgather");
    if (sendbuf == MPI_IN_PLACE)
        sendbuf = (char *)recvbuf + (size_t)msg_rank(n->mc) * len;
    return check(n, msg_allgather(n->mc, sendbuf, len, recvbuf),
                 "MPI_Allgather");
}

int MPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype,
                 MPI_Comm comm)
{
    struct node *n = live("MPI_Alltoall");
    check_comm(comm, "MPI_Alltoall");
    size_t len = block(sendcount, sendtype, recvcount, recvtype, 1,
                       "MPI_Alltoall");
    return check(n, msg_alltoall(n->mc, sendbuf, len, recvbuf),
                 "MPI_Alltoall");
}

int MPI_Alltoallv(const void *sendbuf, const int sendcounts[],
                  const int sdispls[], MPI_Datatype sendtype, void *recvbuf,
                  const int recvcounts[], const int rdispls[],
                  MPI_Datatype recvtype, MPI_Comm comm)
{
    struct node *n = live("MPI_Alltoallv");
    check_comm(comm, "MPI_Alltoallv");
    int size = msg_size(n->mc);
    size_t ss = type_size(sendtype, NULL), rs = type_size(recvtype, NULL);
    if (!ss || !rs)
        fatal(MPI_ERR_TYPE, "MPI_Alltoallv", "a datatype is not one of the "
                                             "basic types");
    size_t *v = malloc(4 * (size_t)size * sizeof *v);
    if (!v)
        fatal(MPI_ERR_INTERN, "MPI_Alltoallv", "out of memory");
    for (int i = 0; i < size; i++) {
        if (sendcounts[i] < 0 || recvcounts[i] < 0 || sdispls[i] < 0 ||
            rdispls[i] < 0)
            fatal(MPI_ERR_COUNT, "MPI_Alltoallv", "a count or displacement "
                                                  "for rank %d is negative",
                  i);
        v[i] = (size_t)sendcounts[i] * ss;
        v[size + i] = (size_t)sdispls[i] * ss;
        v[2 * size + i] = (size_t)recvcounts[i] * rs;
        v[3 * size + i] = (size_t)rdispls[i] * rs;
    }
    int rc = msg_alltoallv(n->mc, sendbuf, v, v + size, recvbuf, v + 2 * size,
                           v + 3 * size);
    free(v);
    return check(n, rc, "MPI_Alltoallv");
}
