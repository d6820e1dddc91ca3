/*
 * What the SVM example programs share: the cost model of their own
 * computation and the end-of-run report (included by matmul.c, sor.c and
 * radix.c; not a library).
 *
 * Simulated time does not see C code run, so each program charges its
 * computation with svm_compute(): FLOP_NS per floating-point operation
 * and KEY_NS per key step of the sort, the order of a 1990s Pentium node
 * (about 20 Mflop/s), an assumption of these examples, not a measurement.
 *
 * report() gathers every node's protocol counters through the shared
 * region (a slot per node in the page at stats), and node 0 prints one
 * line a script can read:
 *
 *   svm-result,APP,NODES,SIZE,TIME_US,READ_FAULTS,WRITE_FAULTS,FETCHES,
 *   DIFFS,DIFF_BYTES,MSGS,MSG_BYTES,LOCK_ACQUIRES,LOCK_WAIT_US,
 *   BARRIERS,BARRIER_WAIT_US,CHECK
 *
 * (counts summed over the nodes, waits summed too), then a short summary.
 */
#ifndef EXAMPLES_SVM_REPORT_H
#define EXAMPLES_SVM_REPORT_H

#include <stdio.h>
#include <string.h>

#include "libs/svm/svm.h"

#define FLOP_NS 50
#define KEY_NS 20

/* Charges n operations of ns nanoseconds each. */
static void charge(double n, int ns)
{
    svm_compute((hw_time_t)(n * ns) * HW_NS);
}

/* b - a for the counters report() prints. */
static struct svm_stats stats_since(const struct svm_stats *a,
                                    const struct svm_stats *b)
{
    struct svm_stats d = *b;
    d.read_faults -= a->read_faults;
    d.write_faults -= a->write_faults;
    d.fetches -= a->fetches;
    d.diffs -= a->diffs;
    d.diff_bytes -= a->diff_bytes;
    d.msgs -= a->msgs;
    d.msg_bytes -= a->msg_bytes;
    d.lock_acquires -= a->lock_acquires;
    d.lock_wait -= a->lock_wait;
    d.barriers -= a->barriers;
    d.barrier_wait -= a->barrier_wait;
    return d;
}

/* Collective.  stats: a shared page (at least 64 * nodes bytes per
 * struct svm_stats) that nothing else uses; st: this node's counters for
 * the timed part; t: its duration in seconds (node 0's is printed). */
static void report(const char *app, long size, void *stats,
                   const struct svm_stats *st, double t, int ok)
{
    struct svm_stats *all = stats;
    int me = svm_node(), n = svm_nnodes();
    memcpy(&all[me], st, sizeof *st);
    svm_barrier();
    if (me != 0)
        return;
    struct svm_stats s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < n; i++) {
        s.read_faults += all[i].read_faults;
        s.write_faults += all[i].write_faults;
        s.fetches += all[i].fetches;
        s.diffs += all[i].diffs;
        s.diff_bytes += all[i].diff_bytes;
        s.msgs += all[i].msgs;
        s.msg_bytes += all[i].msg_bytes;
        s.lock_acquires += all[i].lock_acquires;
        s.lock_wait += all[i].lock_wait;
        s.barriers += all[i].barriers;
        s.barrier_wait += all[i].barrier_wait;
    }
    printf("svm-result,%s,%d,%ld,%.3f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
           "%llu,%.3f,%llu,%.3f,%s\n",
           app, n, size, t * 1e6, (unsigned long long)s.read_faults,
           (unsigned long long)s.write_faults, (unsigned long long)s.fetches,
           (unsigned long long)s.diffs, (unsigned long long)s.diff_bytes,
           (unsigned long long)s.msgs, (unsigned long long)s.msg_bytes,
           (unsigned long long)s.lock_acquires,
           (double)s.lock_wait / (double)HW_US, (unsigned long long)s.barriers,
           (double)s.barrier_wait / (double)HW_US, ok ? "ok" : "MISMATCH");
    printf("%s (size %ld) on %d node(s): %.3f ms simulated, %llu page "
           "faults, %llu diffs, result %s\n",
           app, size, n, t * 1e3,
           (unsigned long long)(s.read_faults + s.write_faults),
           (unsigned long long)s.diffs,
           ok ? "matches the serial computation" : "DIFFERS");
}

#endif
