/*
 * The conformance suite's fixture: test bodies are written once against
 * the VMMC API (vmmc/vmmc.h) and the hardware port (hw/hw.h), and run on
 * either backend.  A body is a node program, the same function on every
 * node; the fixture starts the nodes, runs the body on each, waits for all
 * of them and turns every TH_CHECK that failed into a CUnit failure of the
 * test that ran it.
 *
 * Two implementations:
 *   - conf_sim: the simulator (cl_run on configs/myrinet-2.xml or -8.xml
 *     with configs/myrinet.ini); time is simulated;
 *   - conf_emu: the emulator, every node in one process: one emu_node per
 *     node (its own loopback UDP socket, NIC thread and firmware) and one
 *     host thread per node, taking turns through a host lock as the
 *     simulator's processes do; time is real.
 * Either way the scenario runs in a forked child, so a crash or a hang
 * (the parent kills a child that runs longer than CONF_CHILD_LIMIT_S)
 * is a test failure, not the end of the runner.
 *
 * Bodies must not depend on time: no timing assertions, and every wait
 * gets CONF_TIMEOUT, which a passing test never reaches (on the emulator
 * a wait that returns early costs nothing; only a broken run waits long).
 * Nodes step through phases with conf_sync_* below, never with sleeps.
 * The body's argument is shared by the nodes (one process on both
 * backends).
 */
#ifndef TESTS_CONF_CONF_H
#define TESTS_CONF_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "tests/vmmc/helpers.h"
#include "vmmc/vmmc.h"

/* A wait that should end long before this means the run is broken. */
#define CONF_TIMEOUT (20 * HW_MS * 1000)
/* The parent kills a scenario child after this many seconds of real
 * time. */
#define CONF_CHILD_LIMIT_S 120
#define CONF_MAX_NODES 4

struct conf_case {
    int nodes; /* 2..CONF_MAX_NODES */
    void (*node_main)(hw_host *h, void *arg);
    void *arg;
    /* Faults injected on every node's (link's) packets; 0: none. */
    double drop, corrupt, dup;
    uint64_t seed;
};

/* What the run's firmware counted, summed over the nodes (copied back
 * from the child). */
struct conf_result {
    int completed; /* the backend ran every node to its end */
    uint64_t packets_out, retransmits, timeouts, dup_drops, malformed;
    uint64_t peer_failures;
    /* Datagrams (emulator) the fault shim dropped, corrupted, duplicated;
     * 0 on the simulator, whose fabric does not report per-run counts
     * here. */
    uint64_t injected_drop, injected_corrupt, injected_dup;
};

struct conf_backend {
    const char *name;
    /* Runs c to its end in the calling process (the fixture's child);
     * TH_CHECK failures become CUnit failure records of this process.
     * Returns 0, or non-zero with err set when the run itself failed. */
    int (*run)(const struct conf_case *c, struct conf_result *res, char *err,
               size_t errlen);
};

extern const struct conf_backend conf_sim, conf_emu;

/* Runs c on backend b in a child and reports every failure as a CUnit
 * failure of the current test.  res (may be NULL) receives the counters. */
void conf_run(const struct conf_backend *b, const struct conf_case *c,
              struct conf_result *res);

/* ---- Helpers for bodies ---- */

/* Byte patterns and counts of changed bytes: th_pattern and th_count_ne
 * of tests/vmmc/helpers.h, which this header includes. */
/* vmmc_import, retried while the peer has not exported yet (VS_ENOENT),
 * up to CONF_TIMEOUT. */
int conf_import(vmmc_ctx *ctx, int node, int id, vmmc_import_t *out,
                size_t *len);

/* Phase words: every node exports CONF_SYNC_ID (one 64-byte slot per
 * node) and imports every other node's; conf_sync_signal(s, peer, p)
 * writes phase p into this node's slot at peer; conf_sync_await(s, peer,
 * p) waits until peer wrote p here.  conf_sync_all is a barrier over every
 * node. */
#define CONF_SYNC_ID 62
struct conf_sync {
    vmmc_ctx *ctx;
    int me, n;
    uint32_t *slots; /* exported: slot k (16 words apart) from node k */
    uint32_t *src;   /* a word to send from */
    vmmc_import_t peer[CONF_MAX_NODES];
    uint32_t barrier; /* barriers passed */
};
/* Opens VMMC on h (the context is s->ctx) and sets up the phase words. */
void conf_sync_open(struct conf_sync *s, hw_host *h);
void conf_sync_signal(struct conf_sync *s, int peer, uint32_t phase);
void conf_sync_await(struct conf_sync *s, int peer, uint32_t phase);
void conf_sync_all(struct conf_sync *s);
/* As conf_sync_open on a context the caller opened and closes (the
 * library bodies use the node's, libs/node's node_vmmc()): end with
 * conf_sync_all, close the context (node_end()), then conf_sync_free. */
void conf_sync_attach(struct conf_sync *s, hw_host *h, vmmc_ctx *ctx);
void conf_sync_free(struct conf_sync *s);
/* A barrier, then vmmc_close (so no node withdraws its exports while a
 * peer may still use them). */
void conf_sync_close(struct conf_sync *s);

#endif
