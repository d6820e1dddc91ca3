/*
 * vmmcsim's MPI subset: the header an MPI C program includes when it is
 * built with build/vmmcsim-cc and run with vmmcsim exec.  The calls are
 * implemented in libs/mpi over libs/msg (NX-style message passing over
 * VMMC); MPI_Wtime() is the simulated clock.  docs/mpi.md lists the subset
 * and how it maps onto msg.
 *
 * Calls outside the subset fail at compile time: the common ones are
 * declared below with an error naming them, every other one is undeclared
 * (vmmcsim-cc makes an implicit declaration an error), and the link
 * refuses any symbol the project does not define.  Only MPI_COMM_WORLD
 * exists.  Errors are fatal (MPI_ERRORS_ARE_FATAL): the call prints one
 * line naming itself and the rank, and the run stops with status 1.
 */
#ifndef VMMCSIM_MPI_H
#define VMMCSIM_MPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPI_VERSION 1
#define MPI_SUBVERSION 3

typedef int MPI_Comm;
typedef int MPI_Datatype;
typedef int MPI_Op;
typedef struct vmmcsim_mpi_request *MPI_Request;

typedef struct MPI_Status {
    int MPI_SOURCE;
    int MPI_TAG;
    int MPI_ERROR;
    size_t vmmcsim_bytes; /* what arrived; see MPI_Get_count */
} MPI_Status;

#define MPI_COMM_NULL 0
#define MPI_COMM_WORLD 1

#define MPI_REQUEST_NULL ((MPI_Request)0)
#define MPI_STATUS_IGNORE ((MPI_Status *)0)
#define MPI_STATUSES_IGNORE ((MPI_Status *)0)
#define MPI_IN_PLACE ((void *)-1)

#define MPI_ANY_SOURCE (-1)
#define MPI_ANY_TAG (-1)
#define MPI_PROC_NULL (-2)
#define MPI_UNDEFINED (-32766)
#define MPI_TAG_UB 0x7fffffff
#define MPI_MAX_PROCESSOR_NAME 64
#define MPI_MAX_ERROR_STRING 256

/* Error classes. */
#define MPI_SUCCESS 0
#define MPI_ERR_BUFFER 1
#define MPI_ERR_COUNT 2
#define MPI_ERR_TYPE 3
#define MPI_ERR_TAG 4
#define MPI_ERR_COMM 5
#define MPI_ERR_RANK 6
#define MPI_ERR_REQUEST 7
#define MPI_ERR_ROOT 8
#define MPI_ERR_OP 10
#define MPI_ERR_ARG 13
#define MPI_ERR_TRUNCATE 15
#define MPI_ERR_OTHER 16
#define MPI_ERR_INTERN 17

/* The basic datatypes (C, on this LP64 machine). */
#define MPI_DATATYPE_NULL 0
#define MPI_CHAR 1
#define MPI_SIGNED_CHAR 2
#define MPI_UNSIGNED_CHAR 3
#define MPI_BYTE 4
#define MPI_SHORT 5
#define MPI_UNSIGNED_SHORT 6
#define MPI_INT 7
#define MPI_UNSIGNED 8
#define MPI_LONG 9
#define MPI_UNSIGNED_LONG 10
#define MPI_LONG_LONG 11
#define MPI_LONG_LONG_INT MPI_LONG_LONG
#define MPI_UNSIGNED_LONG_LONG 12
#define MPI_FLOAT 13
#define MPI_DOUBLE 14
#define MPI_INT8_T 15
#define MPI_UINT8_T 16
#define MPI_INT16_T 17
#define MPI_UINT16_T 18
#define MPI_INT32_T 19
#define MPI_UINT32_T 20
#define MPI_INT64_T 21
#define MPI_UINT64_T 22

/* Reduction operators. */
#define MPI_OP_NULL 0
#define MPI_MAX 1
#define MPI_MIN 2
#define MPI_SUM 3
#define MPI_PROD 4
#define MPI_LAND 5
#define MPI_BAND 6
#define MPI_LOR 7
#define MPI_BOR 8
#define MPI_LXOR 9
#define MPI_BXOR 10

/* ---- The subset ---- */

int MPI_Init(int *argc, char ***argv);
int MPI_Finalize(void);
int MPI_Initialized(int *flag);
int MPI_Finalized(int *flag);
int MPI_Abort(MPI_Comm comm, int errorcode);
int MPI_Comm_rank(MPI_Comm comm, int *rank);
int MPI_Comm_size(MPI_Comm comm, int *size);
int MPI_Get_processor_name(char *name, int *resultlen);
int MPI_Error_string(int errorcode, char *string, int *resultlen);
double MPI_Wtime(void);
double MPI_Wtick(void);

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag,
             MPI_Comm comm);
int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag,
             MPI_Comm comm, MPI_Status *status);
int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
              int tag, MPI_Comm comm, MPI_Request *request);
int MPI_Irecv(void *buf, int count, MPI_Datatype type, int source, int tag,
              MPI_Comm comm, MPI_Request *request);
int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 int dest, int sendtag, void *recvbuf, int recvcount,
                 MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm,
                 MPI_Status *status);
int MPI_Wait(MPI_Request *request, MPI_Status *status);
int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[]);
int MPI_Waitany(int count, MPI_Request requests[], int *index,
                MPI_Status *status);
int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status);
int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status *status);
int MPI_Iprobe(int source, int tag, MPI_Comm comm, int *flag,
               MPI_Status *status);
int MPI_Get_count(const MPI_Status *status, MPI_Datatype type, int *count);
int MPI_Type_size(MPI_Datatype type, int *size);

int MPI_Barrier(MPI_Comm comm);
int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root,
              MPI_Comm comm);
int MPI_Reduce(const void *sendbuf, void *recvbuf, int count,
               MPI_Datatype type, MPI_Op op, int root, MPI_Comm comm);
int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count,
                  MPI_Datatype type, MPI_Op op, MPI_Comm comm);
int MPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
               void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
               MPI_Comm comm);
int MPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                MPI_Comm comm);
int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                  void *recvbuf, int recvcount, MPI_Datatype recvtype,
                  MPI_Comm comm);
int MPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype,
                 MPI_Comm comm);
int MPI_Alltoallv(const void *sendbuf, const int sendcounts[],
                  const int sdispls[], MPI_Datatype sendtype, void *recvbuf,
                  const int recvcounts[], const int rdispls[],
                  MPI_Datatype recvtype, MPI_Comm comm);

/* ---- Outside the subset: a call is a compile-time error naming it ---- */

#if defined(__GNUC__) && !defined(VMMCSIM_MPI_IMPL)
#define VMMCSIM_MPI_MISSING(name)                                           \
    int name() __attribute__((error(#name " is not in vmmcsim's MPI subset "  \
                                          "(see docs/mpi.md)")));
VMMCSIM_MPI_MISSING(MPI_Init_thread)
VMMCSIM_MPI_MISSING(MPI_Query_thread)
VMMCSIM_MPI_MISSING(MPI_Comm_split)
VMMCSIM_MPI_MISSING(MPI_Comm_dup)
VMMCSIM_MPI_MISSING(MPI_Comm_free)
VMMCSIM_MPI_MISSING(MPI_Comm_create)
VMMCSIM_MPI_MISSING(MPI_Comm_group)
VMMCSIM_MPI_MISSING(MPI_Comm_compare)
VMMCSIM_MPI_MISSING(MPI_Comm_set_errhandler)
VMMCSIM_MPI_MISSING(MPI_Group_incl)
VMMCSIM_MPI_MISSING(MPI_Group_free)
VMMCSIM_MPI_MISSING(MPI_Type_contiguous)
VMMCSIM_MPI_MISSING(MPI_Type_vector)
VMMCSIM_MPI_MISSING(MPI_Type_indexed)
VMMCSIM_MPI_MISSING(MPI_Type_create_struct)
VMMCSIM_MPI_MISSING(MPI_Type_commit)
VMMCSIM_MPI_MISSING(MPI_Type_free)
VMMCSIM_MPI_MISSING(MPI_Op_create)
VMMCSIM_MPI_MISSING(MPI_Op_free)
VMMCSIM_MPI_MISSING(MPI_Ssend)
VMMCSIM_MPI_MISSING(MPI_Bsend)
VMMCSIM_MPI_MISSING(MPI_Rsend)
VMMCSIM_MPI_MISSING(MPI_Issend)
VMMCSIM_MPI_MISSING(MPI_Ibsend)
VMMCSIM_MPI_MISSING(MPI_Irsend)
VMMCSIM_MPI_MISSING(MPI_Buffer_attach)
VMMCSIM_MPI_MISSING(MPI_Buffer_detach)
VMMCSIM_MPI_MISSING(MPI_Send_init)
VMMCSIM_MPI_MISSING(MPI_Recv_init)
VMMCSIM_MPI_MISSING(MPI_Start)
VMMCSIM_MPI_MISSING(MPI_Startall)
VMMCSIM_MPI_MISSING(MPI_Request_free)
VMMCSIM_MPI_MISSING(MPI_Cancel)
VMMCSIM_MPI_MISSING(MPI_Testall)
VMMCSIM_MPI_MISSING(MPI_Testany)
VMMCSIM_MPI_MISSING(MPI_Testsome)
VMMCSIM_MPI_MISSING(MPI_Waitsome)
VMMCSIM_MPI_MISSING(MPI_Sendrecv_replace)
VMMCSIM_MPI_MISSING(MPI_Scan)
VMMCSIM_MPI_MISSING(MPI_Exscan)
VMMCSIM_MPI_MISSING(MPI_Reduce_scatter)
VMMCSIM_MPI_MISSING(MPI_Reduce_scatter_block)
VMMCSIM_MPI_MISSING(MPI_Gatherv)
VMMCSIM_MPI_MISSING(MPI_Scatterv)
VMMCSIM_MPI_MISSING(MPI_Allgatherv)
VMMCSIM_MPI_MISSING(MPI_Ibarrier)
VMMCSIM_MPI_MISSING(MPI_Ibcast)
VMMCSIM_MPI_MISSING(MPI_Ireduce)
VMMCSIM_MPI_MISSING(MPI_Iallreduce)
VMMCSIM_MPI_MISSING(MPI_Ialltoall)
VMMCSIM_MPI_MISSING(MPI_Pack)
VMMCSIM_MPI_MISSING(MPI_Unpack)
VMMCSIM_MPI_MISSING(MPI_Pack_size)
VMMCSIM_MPI_MISSING(MPI_Cart_create)
VMMCSIM_MPI_MISSING(MPI_Cart_coords)
VMMCSIM_MPI_MISSING(MPI_Cart_rank)
VMMCSIM_MPI_MISSING(MPI_Cart_shift)
VMMCSIM_MPI_MISSING(MPI_Dims_create)
VMMCSIM_MPI_MISSING(MPI_Win_create)
VMMCSIM_MPI_MISSING(MPI_Win_fence)
VMMCSIM_MPI_MISSING(MPI_Win_free)
VMMCSIM_MPI_MISSING(MPI_Put)
VMMCSIM_MPI_MISSING(MPI_Get)
VMMCSIM_MPI_MISSING(MPI_Accumulate)
VMMCSIM_MPI_MISSING(MPI_File_open)
VMMCSIM_MPI_MISSING(MPI_File_close)
VMMCSIM_MPI_MISSING(MPI_Comm_spawn)
VMMCSIM_MPI_MISSING(MPI_Attr_get)
VMMCSIM_MPI_MISSING(MPI_Comm_get_attr)
#undef VMMCSIM_MPI_MISSING
#endif

#ifdef __cplusplus
}
#endif

#endif
