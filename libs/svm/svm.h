/*
 * libs/svm: shared virtual memory across the nodes of a cluster, with
 * home-based lazy release consistency (HLRC), over the raw VMMC API.
 *
 * svm_init() (collective) maps a shared region on every node; a program
 * then reads and writes it with plain loads and stores.  The region is cut
 * into pages; every page has a home node (the pages are dealt out in equal
 * blocks: node 0 is home of the first block, node 1 of the next...).  A page
 * that is not valid on a node is protected; touching it traps (SIGSEGV) and
 * the library fetches the page from its home.  The first write to a page
 * after a synchronisation keeps a copy (a twin); at the next release the
 * changed bytes (a diff) go to the home.  Writes become visible to another
 * node when it synchronises after the writer: lock release -> acquire, or a
 * barrier.  Data races outside locks and barriers give unspecified values.
 *
 * Layering: libs/ over vmmc/ (node_vmmc() of libs/node).  Export ids
 * NODE_EXPORT_SVM + 0 (home pages) and + 1 (control area) on every node.
 * Simulated time includes the protocol's messages and the host CPU time of
 * traps, page protection changes, twins and diffs; it does not include the
 * program's own computation: charge that with svm_compute().
 *
 * Every function returns 0 or a negative vs_err (util/err.h) unless it says
 * otherwise; svm_errmsg() then says which call failed and why.  All of them
 * must be called on a simulated node (vmmcsim exec); elsewhere VS_EINVAL.
 * See docs/svm.md.
 */
#ifndef LIBS_SVM_SVM_H
#define LIBS_SVM_SVM_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "util/err.h"

#define SVM_MAX_LOCKS 256                /* lock ids 0..SVM_MAX_LOCKS-1 */
#define SVM_MAX_SIZE ((size_t)128 << 20) /* largest region, bytes */
#define SVM_MAX_NODES 254

/* Maps a shared region of size bytes (rounded up to whole pages) on every
 * node and returns this node's view of it in *base; the region starts
 * zeroed.  Collective: every node of the run calls it with the same size
 * (VS_EINVAL on every node otherwise).  VS_EINVAL: size 0 or above
 * SVM_MAX_SIZE, base NULL, more than SVM_MAX_NODES nodes; VS_EBUSY: called
 * before on this node (one region per run); VS_ETIMEDOUT: a node did not
 * join within 10 s of simulated time (its svm_init failed or was not
 * called); VS_ENOMEM. */
int svm_init(size_t size, void **base);

/* Collective end: a barrier, then the region is unmapped (its addresses
 * become invalid) and the library's exports withdrawn.  Called for you at
 * the end of the node's program if you do not.  VS_EINVAL if not
 * initialised. */
int svm_finalize(void);

/* Locks, by id (0..SVM_MAX_LOCKS-1).  Acquire blocks until the lock is
 * granted; after it, every write made before the lock's earlier releases
 * is visible.  VS_EINVAL: bad id or not initialised; VS_EDEADLK: this node
 * already holds it.  Release: VS_EPERM if this node does not hold it. */
int svm_lock_acquire(int id);
int svm_lock_release(int id);

/* Blocks until every node has called it; after it every write made before
 * any node's call is visible everywhere. */
int svm_barrier(void);

/* This node's id and the number of nodes (after svm_init), or VS_EINVAL. */
int svm_node(void);
int svm_nnodes(void);

/* The home node of the shared byte at addr (in this node's view), VS_ERANGE
 * if addr is outside the region, VS_EINVAL if not initialised. */
int svm_home(const void *addr);

/* Charges dt of the program's own computation to this node's CPU
 * (simulated time does not see plain C code run).  VS_EINVAL if dt < 0 or
 * off a node; works before svm_init too. */
int svm_compute(hw_time_t dt);

/* The simulated clock of this node, in seconds (as MPI_Wtime); 0 off a
 * node.  Works before svm_init too. */
double svm_wtime(void);

/* The protocol's counters on this node since svm_init. */
struct svm_stats {
    uint64_t read_faults;  /* traps on an invalid page by a load */
    uint64_t write_faults; /* traps by a store (invalid or read-only) */
    uint64_t fetches;      /* pages fetched from their home */
    uint64_t fetch_bytes;
    uint64_t twins;         /* twins made */
    uint64_t diffs;         /* page diffs sent to a home */
    uint64_t diff_bytes;    /* changed bytes in them (no headers) */
    uint64_t diffs_applied; /* page diffs applied here, as a home */
    uint64_t invalidations; /* pages invalidated by write notices */
    uint64_t msgs;          /* protocol messages sent (not fetches) */
    uint64_t msg_bytes;     /* their bytes, headers included */
    uint64_t lock_acquires, barriers;
    hw_time_t lock_wait;    /* simulated time spent in svm_lock_acquire */
    hw_time_t barrier_wait; /* simulated time spent in svm_barrier */
};
int svm_get_stats(struct svm_stats *out);

/* A one-line description of the last error this node's SVM calls
 * returned, naming the call; "" if none. */
const char *svm_errmsg(void);

#endif
