/*
 * workloads/ — programs that run on the simulated cluster, one instance per
 * node, over the public VMMC API only.  Each workload has a name, parses its
 * own options, and fills rows of results (node 0 usually measures).
 */
#ifndef WL_WL_H
#define WL_WL_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"

#define WL_MAX_SIZES 64

/* One result row: message size, latency, bandwidth. */
struct wl_row {
    uint64_t size;
    double latency_us;
    double bandwidth_MBps;
};

struct wl_opts {
    uint64_t sizes[WL_MAX_SIZES];
    int nsizes;
    int iters;    /* pingpong round trips per size (after warm-up) */
    int count;    /* bandwidth: messages per size (0 = automatic) */
    int bidir;    /* bandwidth: both directions at once */
    int verify;   /* check every received byte */
    uint64_t seed;
    uint64_t src_span; /* send from successive places of a buffer this big
                        * (0: always the same buffer); for UTLB studies */
    /* alltoall */
    uint64_t messages;           /* in total, over all senders */
    uint64_t min_size, max_size; /* message sizes, log-uniform */
};

/* Delivery counters of workloads that check what arrives (alltoall). */
struct wl_counters {
    int present;
    uint64_t messages_sent, messages_delivered, bytes_delivered;
    uint64_t bytes_verified;
    uint64_t corrupt_delivered, duplicates_delivered, send_errors;
    /* Protection: bytes of the receive buffers that changed although no
     * message was allowed to write them (guards around the export, the
     * part of a slot past the message in it). */
    uint64_t bytes_outside_changed;
};

/* The profile's [msg] section: the message-passing library's parameters on
 * this machine (0 / eager_set 0: the library's default). */
struct wl_msg_conf {
    int eager_set;
    uint32_t eager_limit, ring_slots, copy_MBps;
};

/* Message latencies by size class, for percentiles (workloads/common.c):
 * class k holds sizes in [2^k, 2^(k+1)) (class 0 also size 0).  Recorded
 * when the runner provides one (the simulator: every node in one OS
 * process). */
#define WL_LAT_CLASSES 40
struct wl_latency {
    double *us[WL_LAT_CLASSES];
    size_t n[WL_LAT_CLASSES], cap[WL_LAT_CLASSES];
    double **issue; /* alltoall: per sender, when it issued each message */
    int nissue;
};

/* What all instances of one run share (the simulator runs them in one OS
 * process; node 0 writes the rows). */
struct wl_shared {
    const struct wl_opts *opts;
    struct wl_msg_conf msg;
    struct wl_latency *lat; /* NULL: latencies are not recorded */
    struct wl_row rows[WL_MAX_SIZES];
    int nrows;
    int failed; /* set by any node that found an error */
    char error[256];
    struct wl_counters ctr;
    double starts[2][WL_MAX_SIZES]; /* bandwidth: stream start, by sender */
    double marks[2][WL_MAX_SIZES];  /* bandwidth: stream landed, by sender */
};

struct wl_env {
    hw_host *host;
    int node, nnodes;
    struct wl_shared *sh;
};

struct wl_def {
    const char *name;
    const char *summary;
    /* Options after the workload name; errors go to err as
     * "option --x: ..." and return VS_EINVAL. */
    int (*parse)(struct wl_opts *o, int argc, char **argv, char *err,
                 size_t errlen);
    void (*main)(struct wl_env *env);
    int min_nodes;
};

const struct wl_def *wl_find(const char *name);
const struct wl_def *const *wl_all(void);

/* Helpers shared by the workloads (workloads/common.c). */
void wl_fail(struct wl_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int wl_parse_common(struct wl_opts *o, int argc, char **argv, char *err,
                    size_t errlen);
/* Zeroed memory on whole pages (4 KiB aligned, size rounded up), so what a
 * workload measures does not depend on where malloc puts its buffers. */
void *wl_alloc_pages(size_t size);
/* The same for a buffer mostly sent from, whose pages cost memory only
 * once written (util/zpages.h); freed with wl_free_send and the same
 * size. */
void *wl_alloc_send(size_t size);
void wl_free_send(void *p, size_t size);
/* Whole pages as wl_alloc_pages, but the first size bytes are not
 * cleared: for a buffer the caller fills at once.  Freed with free(). */
void *wl_alloc_pages_raw(size_t size);

/* Parses a decimal count with an optional K or M suffix within [min, max];
 * returns 0 or -1. */
int wl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Fills data with a pattern determined by (seed, tag). */
void wl_pattern(void *data, size_t len, uint64_t seed, uint32_t tag);

/* Records one message's latency; the size class of a size. */
void wl_latency_add(struct wl_latency *l, uint64_t size, double us);
int wl_latency_class(uint64_t size);
/* The q-quantile (0..1) of class k, sorting its samples (nearest rank). */
double wl_latency_quantile(struct wl_latency *l, int k, double q);
void wl_latency_free(struct wl_latency *l);

#endif
