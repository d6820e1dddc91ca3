/*
 * libs/node: what the libraries on one node share.
 *
 * A node's process has one VMMC context (vmmc_open: one per process), and
 * every library a program uses on that node (MPI, sockets, RPC, shared
 * virtual memory) must go through it.  Under vmmcsim exec every node runs in
 * one OS process, so "the process's context" is kept per node here, keyed by
 * hw_self(), and opened on first use.
 *
 * VMMC export ids are the libraries' rendezvous: a peer imports "node K's
 * export 40", so each library owns a fixed range of ids on every node, the
 * same everywhere, whatever order a program initialises them in:
 *
 *      0 .. 32   libs/msg (and MPI over it): export_base 0, nranks + 1 ids
 *     40 .. 47   libs/sock
 *     48 .. 55   libs/svm
 *     56 .. 59   libs/rpc
 *     60 .. 63   programs that call VMMC themselves
 */
#ifndef LIBS_NODE_NODE_H
#define LIBS_NODE_NODE_H

#include "vmmc/vmmc.h"

#define NODE_EXPORT_MSG 0
#define NODE_EXPORT_SOCK 40
#define NODE_EXPORT_SVM 48
#define NODE_EXPORT_RPC 56
#define NODE_EXPORT_USER 60

/* The calling node's VMMC context, opened on first use (on hw_self()).
 * NULL if the caller is not on a simulated or emulated node, or if
 * vmmc_open failed (then *err, if not NULL, is the vs_err). */
vmmc_ctx *node_vmmc(int *err);

/* Registers fn(arg) to run on this node when its program ends (returns
 * from main or calls exit), before the context is closed; the last
 * registered runs first.  Libraries flush and release what they hold here.
 * VS_ENOMEM, or VS_EINVAL off a node. */
int node_at_end(void (*fn)(void *arg), void *arg);

/* Ends the calling node: runs the at-end functions, then closes the
 * context (returning vmmc_close's result).  vmmcsim exec calls it after a
 * node's main; a no-op (0) if nothing was opened. */
int node_end(void);

/* Runs the calling node's at-end functions now (as node_end does, last
 * registered first) but leaves the context open, so that a program whose
 * nodes end together can wait for its peers' end work before any context
 * closes; a later node_end then only closes.  A no-op off a node. */
void node_run_at_end(void);

/* Forgets every node's state (between runs in one process). */
void node_reset(void);

#endif
