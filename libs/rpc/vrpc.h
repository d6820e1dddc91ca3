/*
 * libs/rpc: ONC/Sun RPC (RFC 5531) over VMMC, with libtirpc's XDR and
 * rpcgen's stubs unchanged.
 *
 * vrpc_clnt_create() returns a real libtirpc CLIENT *, so the client stubs
 * rpcgen writes (add_1(&arg, clnt)) call through it as through a
 * clnttcp_create() handle; clnt_call, clnt_control, clnt_geterr,
 * clnt_perror, clnt_freeres and clnt_destroy all work on it.  The server
 * side is an SVCXPRT * whose transport is VMMC: register the dispatch
 * function rpcgen writes (rpcgen -m, or the _svc.c file without its main)
 * with vrpc_svc_register() and serve with vrpc_svc_run().  svc_getargs,
 * svc_sendreply, svc_freeargs and the svcerr_* replies are libtirpc's.
 *
 * The libraries of a node share its VMMC context (libs/node/node.h); this
 * one uses export ids NODE_EXPORT_RPC (calls arriving at a server) and
 * NODE_EXPORT_RPC + 1 (replies arriving at a client).  Everything is kept
 * per node (hw_self()), never in libtirpc's global tables, because under
 * vmmcsim exec all nodes run in one OS process.  A node's state is freed
 * when its program ends (node_at_end).
 *
 * Errors on the client side are the clnt_stat values a libtirpc program
 * expects (see docs/rpc.md): RPC_PROGUNAVAIL, RPC_PROGVERSMISMATCH,
 * RPC_PROCUNAVAIL, RPC_CANTDECODEARGS, RPC_TIMEDOUT (in simulated time),
 * RPC_CANTSEND, RPC_CANTRECV (the server's program ended during the call),
 * never a hang.  A failed create returns NULL with rpc_createerr set
 * (clnt_pcreateerror prints it) and vrpc_errmsg() naming the call.
 */
#ifndef LIBS_RPC_VRPC_H
#define LIBS_RPC_VRPC_H

#include <rpc/rpc.h>

#include "hw/hw.h"

/* A client handle for program prog, version vers on server_node, from the
 * calling node.  The first handle of a node to a server imports the
 * server's call area, waiting up to about a second of simulated time for
 * the server to call vrpc_svc_create().  NULL on failure, with
 * rpc_createerr.cf_stat RPC_UNKNOWNHOST (no such node, or the calling
 * node itself), RPC_SYSTEMERROR (no server there; cf_error.re_errno
 * ECONNREFUSED) or RPC_FAILED (not on a node, out of memory).  The handle
 * is the caller's: clnt_destroy() frees it. */
CLIENT *vrpc_clnt_create(int server_node, rpcprog_t prog, rpcvers_t vers);

/* The calling node's server transport: exports the call area on the first
 * call, then returns the same handle.  NULL on failure (vrpc_errmsg()). */
SVCXPRT *vrpc_svc_create(void);

/* Registers rpcgen's dispatch function for (prog, vers) on the calling
 * node.  0, VS_EEXIST (another function is registered for the pair),
 * VS_EINVAL (NULL argument, not this node's transport), VS_ENOMEM. */
int vrpc_svc_register(SVCXPRT *xprt, rpcprog_t prog, rpcvers_t vers,
                      void (*dispatch)(struct svc_req *, SVCXPRT *));
/* Forgets (prog, vers) on the calling node: later calls get
 * RPC_PROGUNAVAIL or RPC_PROGVERSMISMATCH.  VS_ENOENT if not there. */
int vrpc_svc_unregister(rpcprog_t prog, rpcvers_t vers);

/* Serves calls on the calling node until a procedure calls
 * vrpc_svc_exit().  0, or a negative vs_err (no transport). */
int vrpc_svc_run(void);
/* Makes the node's vrpc_svc_run() return after the current call. */
void vrpc_svc_exit(void);
/* Serves at most one call, waiting up to timeout (< 0: forever) of
 * simulated time: 1 if one was served, 0 if the time passed. */
int vrpc_svc_poll(hw_time_t timeout);

/* Counters of the calling node. */
struct vrpc_stats {
    unsigned long calls, replies; /* as a client: calls sent, replies taken */
    unsigned long served;         /* as a server: calls dispatched */
    unsigned long chunks_out, chunks_in, credit_writes;
};
void vrpc_get_stats(struct vrpc_stats *out);

/* The calling node's last error message, naming the call; "" if none. */
const char *vrpc_errmsg(void);

#endif
