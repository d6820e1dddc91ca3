/*
 * vmmcsim emu-node, and what every node process runs (the launcher, vmmcsim
 * emu, is cli/emu_launch.c): the workloads on emulated NICs (emu/), in real
 * time, one OS process per node.
 *
 * A node process opens its emulated NIC, boots the VMMC firmware on it,
 * joins its peers, runs the workload's main on its own thread (the host),
 * then finishes with its peers (each hands over a result record) and node 0
 * prints the results as `vmmcsim run` does.
 *
 * The workloads were written for the simulator, where all nodes run in one
 * process and share one struct wl_shared (node 0 reads what the others wrote
 * there: the bandwidth receiver's arrival times, the all-to-all counters).
 * The launcher gives its node processes the same: the record lives in
 * memory the processes share, and the emulator's host lock makes the host
 * programs take turns between blocking calls, as simulated processes do, so
 * their unsynchronised updates of it stay whole.  A lone emu-node has its
 * own record; node 0 then adds up the delivery counters the others report
 * at the end, but rows that combine several nodes' clocks (bandwidth,
 * alltoall) are only node 0's view.  docs/emu.md has the details.
 *
 * This is the command-line side: it may use every layer (it reads the
 * profile with nicmodel/ and hands emu/ the numbers).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/emu_cli.h"
#include "emu/emu.h"
#include "nicmodel/profile.h"
#include "util/err.h"
#include "util/inv.h"
#include "util/log.h"
#include "vmmc/fw.h"
#include "workloads/wl.h"

#define bad(...) cli__error(o->cmd_prefix, __VA_ARGS__)

#define DEFAULT_PROFILE "myrinet.ini"
#define DEFAULT_JOIN_TIMEOUT (5000 * HW_MS)
#define DEFAULT_TIMEOUT (300000 * HW_MS)
/* How long a node whose program failed waits for its peers to finish. */
#define EXEC_FAIL_FINISH (5000 * HW_MS)

/* What a node hands node 0 at the end (in its FIN). */
struct node_result {
    int32_t node, failed;
    char error[256];
    struct wl_counters ctr;
    uint64_t retransmits, timeouts, peer_failures, refused;
    uint64_t utlb_hits, utlb_misses;
    uint64_t tx, rx, malformed, unknown;
    uint64_t fault[4]; /* injected by the shim: drop, corrupt, dup, reorder */
    uint64_t loop_busy_ns, loop_sys_ns, loop_syscalls; /* the NIC thread */
    uint64_t loop_cpu_ns;
    uint64_t down_drops; /* DATA datagrams lost to down intervals */
};

_Static_assert(sizeof(struct node_result) <= EMU_CTRL_MAX,
               "a node's result record must fit in a FIN");

/* ---- Options ---- */

static int parse_time(const char *s, hw_time_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mult = !strcmp(end, "s")    ? 1e12
                  : !strcmp(end, "ms") ? 1e9
                  : !strcmp(end, "us") ? 1e6
                  : !strcmp(end, "ns") ? 1e3
                                       : 0;
    if (end == s || errno || !mult || !(v * mult >= 0) || v * mult > 9e18)
        return -1;
    *out = (hw_time_t)(v * mult);
    return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    if (!(*s >= '0' && *s <= '9'))
        return -1;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_probability(const struct cli__emu_opts *o,
                             const char *item, const char *v, double *out)
{
    char *end;
    errno = 0;
    double p = strtod(v, &end);
    if (!*v || end == v || *end || errno || !(p >= 0 && p <= 1))
        return bad("option --faults: %s: '%s' is not a probability in "
                   "[0, 1]",
                   item, v);
    *out = p;
    return 0;
}

/* A node number: digits only. */
static int parse_node(const char *s, size_t len, int *out)
{
    long v = 0;
    if (!len || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = (int)v;
    return 0;
}

/* down=A-B@T1-T2 (the link between nodes A and B, both ways) or
 * nicdown=K@T1-T2 (everything node K sends or is sent), T2 empty: for
 * good; times in real time since the run's start.  Returns 0 or 2 after
 * printing the error, which names the item. */
static int parse_down(struct cli__emu_opts *o, const char *item,
                      const char *key, const char *v)
{
    struct emu_faults *f = &o->faults;
    int nic = key[0] == 'n';
    const char *at = strrchr(v, '@');
    if (!at || at == v)
        return bad("option --faults: %s: want %s", item,
                   nic ? "nicdown=NODE@T1-T2" : "down=A-B@T1-T2 (the link "
                                                "between nodes A and B)");
    if (f->ndowns == EMU_MAX_DOWNS)
        return bad("option --faults: %s: more than %d down and nicdown "
                   "items",
                   item, EMU_MAX_DOWNS);
    struct emu_down d = {.b = -1};
    const char *dash = nic ? NULL : memchr(v, '-', (size_t)(at - v));
    if (nic ? parse_node(v, (size_t)(at - v), &d.a)
            : !dash || parse_node(v, (size_t)(dash - v), &d.a) ||
                  parse_node(dash + 1, (size_t)(at - dash - 1), &d.b))
        return bad("option --faults: %s: '%.*s' is not %s", item,
                   (int)(at - v), v,
                   nic ? "a node number" : "a link A-B between two nodes");
    if (!nic && d.a == d.b)
        return bad("option --faults: %s: a link joins two different nodes",
                   item);
    char t1[64];
    const char *iv = at + 1, *mid = strchr(iv, '-');
    if (!mid || (size_t)(mid - iv) >= sizeof t1)
        return bad("option --faults: %s: want T1-T2 after '@' (T2 empty: "
                   "down for good)",
                   item);
    snprintf(t1, sizeof t1, "%.*s", (int)(mid - iv), iv);
    if (parse_time(t1, &d.from))
        return bad("option --faults: %s: bad time '%s' (want a number with "
                   "ns, us, ms or s, like 5ms)",
                   item, t1);
    d.to = HW_TIME_NEVER;
    if (mid[1] && parse_time(mid + 1, &d.to))
        return bad("option --faults: %s: bad time '%s' (want a number with "
                   "ns, us, ms or s, like 5ms)",
                   item, mid + 1);
    if (d.to <= d.from)
        return bad("option --faults: %s: the interval ends before it starts",
                   item);
    snprintf(o->down_item[f->ndowns], sizeof o->down_item[0], "%s", item);
    f->downs[f->ndowns++] = d;
    return 0;
}

/* --faults SPEC, the items of vmmcsim run --faults that apply to datagrams:
 * drop, corrupt, dup, reorder (probabilities), reorder_delay_max (a time).
 * Returns 0 or 2 after printing the error, which names the item. */
static int parse_faults(struct cli__emu_opts *o, const char *spec)
{
    struct emu_faults *f = &o->faults;
    const char *s = spec;
    for (;;) {
        size_t n = strcspn(s, ",");
        char item[256], key[256];
        snprintf(item, sizeof item, "%.*s", (int)(n < 255 ? n : 255), s);
        const char *eq = strchr(item, '=');
        if (!n)
            return bad("option --faults: empty item (want a comma list like "
                       "drop=0.01,dup=0.001)");
        if (!eq)
            return bad("option --faults: '%s' is not KEY=VALUE", item);
        snprintf(key, sizeof key, "%.*s", (int)(eq - item), item);
        const char *v = eq + 1;
        int rc = 0;
        if (!strcmp(key, "drop"))
            rc = parse_probability(o, item, v, &f->drop);
        else if (!strcmp(key, "corrupt"))
            rc = parse_probability(o, item, v, &f->corrupt);
        else if (!strcmp(key, "dup"))
            rc = parse_probability(o, item, v, &f->dup);
        else if (!strcmp(key, "reorder"))
            rc = parse_probability(o, item, v, &f->reorder);
        else if (!strcmp(key, "reorder_delay_max")) {
            if (parse_time(v, &f->reorder_delay_max) ||
                f->reorder_delay_max <= 0)
                rc = bad("option --faults: %s: '%s' is not a time like 2ms",
                         item, v);
        } else if (!strcmp(key, "down") || !strcmp(key, "nicdown"))
            rc = parse_down(o, item, key, v);
        else
            rc = bad("option --faults: unknown key '%s' in '%s' (keys: drop, "
                     "corrupt, dup, reorder, reorder_delay_max, down, "
                     "nicdown)",
                     key, item);
        if (rc)
            return rc;
        if (!s[n])
            return 0;
        s += n + 1;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vmmcsim emu --nodes N [--base-port P] [--join-timeout T]\n"
            "                   [--timeout T] [--kill-node K@T] [options]\n"
            "                   WORKLOAD [workload options]\n"
            "       vmmcsim emu-node --cluster FILE --id K [--join-timeout T]\n"
            "                   [--timeout T] [options] WORKLOAD [workload "
            "options]\n"
            "       vmmcsim emu --nodes N [options] exec PROGRAM [args]\n"
            "       vmmcsim emu-node --cluster FILE --id K [options] exec "
            "PROGRAM [args]\n"
            "\n"
            "Runs a workload on emulated NICs in real time, one process per "
            "node, packets\n"
            "in UDP datagrams.  emu starts N processes on this machine "
            "(loopback) and\n"
            "prints node 0's results; emu-node runs one node of the cluster "
            "FILE\n"
            "describes ('ID HOST PORT' per line, ids 0..N-1), for runs across "
            "machines.\n"
            "exec PROGRAM runs a program built by vmmcsim-cc (MPI, sockets, "
            "RPC, SVM)\n"
            "instead of a workload, its main on every node; everything after "
            "PROGRAM\n"
            "is its arguments.  Node 0's output is the run's; a node whose "
            "program\n"
            "returns or exits non-zero fails the run.\n"
            "\n"
            "Options:\n"
            "  --profile FILE     NIC numbers (buffers, SRAM, link timers); "
            "default\n"
            "                     configs/" DEFAULT_PROFILE "\n"
            "  --join-timeout T   give up when a peer has not answered in T "
            "(5s)\n"
            "  --timeout T        emu: kill the run after T (300s); emu-node: "
            "give up\n"
            "                     waiting for the peers at the end after T\n"
            "  --spin T           a waiting host spins T before it sleeps (0)\n"
            "  --seed N, --csv, --json, --log SPEC   as for vmmcsim run\n"
            "  --faults SPEC      drop=P,corrupt=P,dup=P,reorder=P,"
            "reorder_delay_max=T:\n"
            "                     faults on each node's sent datagrams, "
            "seeded by --seed\n"
            "                     and the node (reorder holds up to T, 2ms);\n"
            "                     down=A-B@T1-T2: the link between nodes A "
            "and B,\n"
            "                     nicdown=K@T1-T2: node K's NIC, lose every "
            "data\n"
            "                     datagram in [T1, T2) of real time since "
            "the start\n"
            "                     (T2 empty: for good)\n"
            "  --base-port P      emu: nodes listen on 127.0.0.1:P..P+N-1 "
            "(default:\n"
            "                     ports the system picks)\n"
            "  --kill-node K@T    emu (tests): SIGKILL node K, T after every "
            "node started\n"
            "\nExit status: 0 every node succeeded, 1 the run failed, 2 bad "
            "input.\n");
}

/* Parses the command line of emu (o->launcher) or emu-node, the workload's
 * options and the profile.  Returns 0, 2 (bad input, printed) or -1
 * (--help printed). */
int cli__emu_parse(struct cli__emu_opts *o, int argc, char **argv)
{
    o->join_timeout = DEFAULT_JOIN_TIMEOUT;
    o->timeout = DEFAULT_TIMEOUT;
    o->kill_node = -1;
    o->id = -1;
    uint64_t seed = 1;
    char **wargv = calloc((size_t)argc + 1, sizeof *wargv);
    int wargc = 0, rc = 2;
    if (!wargv)
        return bad("out of memory");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rc = -1;
            goto out;
        }
        if (!strcmp(a, "--csv") || !strcmp(a, "--json")) {
            o->fmt = a[2] == 'c' ? CLI__EMU_CSV : CLI__EMU_JSON;
            continue;
        }
        static const char *const valued[] = {
            "--nodes",     "--base-port", "--join-timeout", "--timeout",
            "--spin",      "--profile",   "--seed",         "--log",
            "--kill-node", "--cluster",   "--id",           "--faults",
            NULL};
        int k = 0;
        while (valued[k] && strcmp(valued[k], a))
            k++;
        /* As for vmmcsim run: these options anywhere, the rest after the
         * workload's name is the workload's. */
        if (!valued[k] && o->wl) {
            wargv[wargc++] = argv[i];
            continue;
        }
        if (a[0] != '-') {
            if (!strcmp(a, "exec")) { /* the rest is the program's */
                if (i + 1 >= argc) {
                    bad("exec: no program given (want exec PROGRAM "
                        "[args])");
                    goto out;
                }
                o->wl = &cli__emu_exec_def;
                o->prog = argv[i + 1];
                o->pargc = argc - i - 1;
                o->pargv = argv + i + 1;
                break;
            }
            if (!(o->wl = wl_find(a))) {
                bad("unknown workload '%s' (see vmmcsim --help)", a);
                goto out;
            }
            continue;
        }
        int launcher_only = k == 0 || k == 1 || k == 8;
        int node_only = k == 9 || k == 10;
        if (!valued[k] || (launcher_only && !o->launcher) ||
            (node_only && o->launcher)) {
            bad("unknown option '%s' (see vmmcsim %s --help)", a,
                o->launcher ? "emu" : "emu-node");
            goto out;
        }
        if (i + 1 >= argc) {
            bad("option %s: missing value", a);
            goto out;
        }
        const char *v = argv[++i];
        long num;
        if (k == 0) {
            if (parse_long(v, 1, CLI__EMU_MAX_LOCAL, &num)) {
                bad("option --nodes: '%s' is not a node count from 1 to %d", v,
                    CLI__EMU_MAX_LOCAL);
                goto out;
            }
            o->nodes = (int)num;
        } else if (k == 1) {
            if (parse_long(v, 1, 65535, &o->base_port)) {
                bad("option --base-port: '%s' is not a port (1..65535)", v);
                goto out;
            }
        } else if (k >= 2 && k <= 4) {
            hw_time_t *t = k == 2   ? &o->join_timeout
                           : k == 3 ? &o->timeout
                                    : &o->spin;
            if (parse_time(v, t) || (k != 4 && *t < HW_MS)) {
                bad("option %s: '%s' is not a time like %s", a, v,
                    k == 4 ? "20us" : "5s (at least 1ms)");
                goto out;
            }
            if (k == 3) {
                o->timeout_set = 1;
                o->timeout_text = v;
            }
        } else if (k == 5) {
            o->profile = v;
        } else if (k == 6) {
            if (cli__parse_seed(v, &seed)) {
                bad("option --seed: '%s' is not a non-negative integer", v);
                goto out;
            }
        } else if (k == 7) {
            if (log_parse_levels(v)) {
                bad("option --log: bad spec '%s' (want e.g. vmmc=debug)", v);
                goto out;
            }
        } else if (k == 8) {
            const char *at = strchr(v, '@');
            char node[16];
            if (!at || at == v || (size_t)(at - v) >= sizeof node ||
                (snprintf(node, sizeof node, "%.*s", (int)(at - v), v),
                 parse_long(node, 0, CLI__EMU_MAX_LOCAL - 1, &num)) ||
                parse_time(at + 1, &o->kill_after)) {
                bad("option --kill-node: '%s' is not NODE@TIME (like "
                    "1@300ms)",
                    v);
                goto out;
            }
            o->kill_node = (int)num;
            o->kill_text = v;
        } else if (k == 11) {
            if (parse_faults(o, v))
                goto out;
        } else if (k == 9) {
            o->cluster = v;
        } else {
            if (parse_long(v, 0, 65534, &num)) {
                bad("option --id: '%s' is not a node id", v);
                goto out;
            }
            o->id = (int)num;
        }
    }
    if (!o->wl) {
        bad("no workload given (see vmmcsim --help)");
        goto out;
    }
    if (o->prog && o->fmt != CLI__EMU_TABLE) {
        bad("--csv and --json are for workloads; exec prints the program's "
            "own output");
        goto out;
    }
    if (o->launcher && !o->nodes) {
        bad("--nodes N is required");
        goto out;
    }
    if (!o->launcher && (!o->cluster || o->id < 0)) {
        bad("--cluster FILE and --id K are required");
        goto out;
    }
    if (o->launcher && o->nodes < o->wl->min_nodes) {
        bad("%s needs at least %d nodes; --nodes is %d", o->wl->name,
            o->wl->min_nodes, o->nodes);
        goto out;
    }
    for (int i = 0; o->launcher && i < o->faults.ndowns; i++) {
        const struct emu_down *d = &o->faults.downs[i];
        int k = d->a >= o->nodes ? d->a : d->b;
        if (k >= o->nodes) {
            bad("option --faults: %s: node %d is out of range (--nodes is "
                "%d: 0..%d)",
                o->down_item[i], k, o->nodes, o->nodes - 1);
            goto out;
        }
    }
    if (o->kill_node >= o->nodes) {
        bad("option --kill-node: node %d is out of range (0..%d)", o->kill_node,
            o->nodes - 1);
        goto out;
    }
    if (o->base_port && o->base_port + o->nodes - 1 > 65535) {
        bad("option --base-port: %ld + %d nodes runs past port 65535",
            o->base_port, o->nodes);
        goto out;
    }
    char err[1024] = "";
    if (o->wl->parse(&o->wopts, wargc, wargv, err, sizeof err)) {
        bad("%s: %s", o->wl->name, err);
        goto out;
    }
    o->wopts.seed = seed;
    o->faults.seed = seed;
    if (!o->profile)
        o->profile = cli__default_config(DEFAULT_PROFILE, o->profile_buf,
                                         sizeof o->profile_buf);
    if (nicm_profile_load(&o->prof, o->profile, err, sizeof err)) {
        bad("%s", err);
        goto out;
    }
    if (o->prog && cli__emu_exec_load(o))
        goto out;
    rc = 0;
out:
    free(wargv);
    return rc;
}

/* ---- One node ---- */

static void stamp(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, len, "[%lld.%06ld pid %d]", (long long)ts.tv_sec,
             ts.tv_nsec / 1000, (int)getpid());
}

/* Whether a workload error ("node K: ...", as wl_fail writes it) is this
 * node's; one that names no node is node 0's. */
static int error_is_mine(const char *error, int id)
{
    int k;
    if (sscanf(error, "node %d:", &k) != 1)
        k = 0;
    return k == id;
}

static void fill_result(struct node_result *r, int id,
                        const struct wl_shared *sh, int own_fail,
                        const vmmc_fw *fw, emu_node *n)
{
    memset(r, 0, sizeof *r);
    r->node = id;
    r->failed = own_fail;
    if (own_fail)
        snprintf(r->error, sizeof r->error, "%s", sh->error);
    r->ctr = sh->ctr;
    const struct vmmc_fw_stats *f = vmmc_fw_stats(fw);
    r->retransmits = f->retransmits;
    r->timeouts = f->timeouts;
    r->peer_failures = f->peer_failures;
    r->refused = f->refused_in;
    r->utlb_hits = f->utlb_hits;
    r->utlb_misses = f->utlb_misses;
    const struct emu_stats *s = emu_node_stats(n);
    r->tx = s->tx_datagrams;
    r->rx = s->rx_datagrams;
    for (int i = 1; i < EMU_WIRE_NSTATUS; i++)
        r->malformed += s->rx_bad[i];
    r->unknown = s->rx_unknown + s->rx_foreign;
    r->fault[0] = s->fault_drop;
    r->fault[1] = s->fault_corrupt;
    r->fault[2] = s->fault_dup;
    r->fault[3] = s->fault_reorder;
    r->loop_busy_ns = s->loop_busy_ns;
    r->loop_sys_ns = s->loop_sys_ns;
    r->loop_syscalls = s->loop_syscalls;
    r->loop_cpu_ns = s->loop_cpu_ns;
    r->down_drops = s->fault_down;
}

struct totals {
    struct wl_counters ctr;
    uint64_t retransmits, timeouts, peer_failures, refused;
    uint64_t utlb_hits, utlb_misses, tx, rx, malformed, unknown;
    uint64_t fault[4];
    uint64_t loop_busy_ns, loop_sys_ns, loop_syscalls, loop_cpu_ns;
    uint64_t down_drops;
};

static const char *const fault_name[4] = {"dropped", "corrupted",
                                          "duplicated", "reordered"};

static int faults_on(const struct emu_faults *f)
{
    return f->drop > 0 || f->corrupt > 0 || f->dup > 0 || f->reorder > 0 ||
           f->ndowns > 0;
}

static void print_rows(const struct cli__emu_opts *o,
                       const struct wl_shared *sh, const struct totals *t,
                       const struct node_result *all, int nnodes,
                       double wall_s, const char *where)
{
    if (o->fmt == CLI__EMU_CSV) {
        printf("size_bytes,latency_us,bandwidth_MBps\n");
        for (int i = 0; i < sh->nrows; i++)
            printf("%" PRIu64 ",%.3f,%.3f\n", sh->rows[i].size,
                   sh->rows[i].latency_us, sh->rows[i].bandwidth_MBps);
        return;
    }
    const struct wl_counters *k = &t->ctr;
    if (o->fmt == CLI__EMU_JSON) {
        printf("{\"workload\":\"%s\",\"backend\":\"emu\",\"profile\":\"%s\","
               "\"seed\":%" PRIu64 ",\"nodes\":%d,\"rows\":[",
               o->wl->name, o->profile, o->wopts.seed, nnodes);
        for (int i = 0; i < sh->nrows; i++)
            printf("%s{\"size_bytes\":%" PRIu64 ",\"latency_us\":%.3f,"
                   "\"bandwidth_MBps\":%.3f}",
                   i ? "," : "", sh->rows[i].size, sh->rows[i].latency_us,
                   sh->rows[i].bandwidth_MBps);
        printf("]");
        if (k->present)
            printf(
                ",\"messages_sent\":%" PRIu64 ",\"messages_delivered\":%" PRIu64
                ",\"bytes_delivered\":%" PRIu64 ",\"bytes_verified\":%" PRIu64
                ",\"corrupt_delivered\":%" PRIu64
                ",\"duplicates_delivered\":%" PRIu64 ",\"send_errors\":%" PRIu64
                ",\"bytes_outside_changed\":%" PRIu64,
                k->messages_sent, k->messages_delivered, k->bytes_delivered,
                k->bytes_verified, k->corrupt_delivered,
                k->duplicates_delivered, k->send_errors,
                k->bytes_outside_changed);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf(",\"retransmissions\":%" PRIu64 ",\"timeouts\":%" PRIu64
               ",\"peer_failures\":%" PRIu64 ",\"refused\":%" PRIu64
               ",\"utlb_hits\":%" PRIu64 ",\"utlb_misses\":%" PRIu64
               ",\"datagrams_sent\":%" PRIu64 ",\"datagrams_received\":%" PRIu64
               ",\"datagrams_malformed\":%" PRIu64
               ",\"datagrams_unknown\":%" PRIu64,
               t->retransmits, t->timeouts, t->peer_failures, t->refused,
               t->utlb_hits, t->utlb_misses, t->tx, t->rx, t->malformed,
               t->unknown);
        printf(",\"faults_dropped\":%" PRIu64 ",\"faults_corrupted\":%" PRIu64
               ",\"faults_duplicated\":%" PRIu64
               ",\"faults_reordered\":%" PRIu64 ",\"faults_by_node\":[",
               t->fault[0], t->fault[1], t->fault[2], t->fault[3]);
        for (int i = 0; i < nnodes; i++)
            printf("%s{\"node\":%d,\"dropped\":%" PRIu64
                   ",\"corrupted\":%" PRIu64 ",\"duplicated\":%" PRIu64
                   ",\"reordered\":%" PRIu64 "}",
                   i ? "," : "", i, all[i].fault[0], all[i].fault[1],
                   all[i].fault[2], all[i].fault[3]);
        printf("],\"faults_down_dropped\":%" PRIu64, t->down_drops);
        printf(",\"nic_loop_busy_ns\":%" PRIu64
               ",\"nic_loop_syscall_ns\":%" PRIu64
               ",\"nic_loop_syscalls\":%" PRIu64
               ",\"nic_loop_cpu_ns\":%" PRIu64,
               t->loop_busy_ns, t->loop_sys_ns, t->loop_syscalls,
               t->loop_cpu_ns);
        printf(",\"wall_s\":%.6f,\"peak_rss_kb\":%ld}\n", wall_s,
               ru.ru_maxrss);
        return;
    }
    printf("vmmcsim emu %s%s %s, profile %s, seed %" PRIu64 "\n", o->wl->name,
           o->wopts.bidir ? " (bidirectional)" : "", where, o->profile,
           o->wopts.seed);
    printf("%12s %12s %15s\n", "size_bytes", "latency_us", "bandwidth_MBps");
    for (int i = 0; i < sh->nrows; i++)
        printf("%12" PRIu64 " %12.3f %15.3f\n", sh->rows[i].size,
               sh->rows[i].latency_us, sh->rows[i].bandwidth_MBps);
    if (k->present)
        printf("\nmessages: %" PRIu64 " sent, %" PRIu64 " delivered, %" PRIu64
               " bytes verified, %" PRIu64 " corrupt, %" PRIu64
               " duplicated, %" PRIu64 " send errors, %" PRIu64
               " bytes changed outside every message\n",
               k->messages_sent, k->messages_delivered, k->bytes_verified,
               k->corrupt_delivered, k->duplicates_delivered, k->send_errors,
               k->bytes_outside_changed);
    printf("reliable link: %" PRIu64 " retransmissions, %" PRIu64
           " timeouts, %" PRIu64 " peers declared unreachable\n",
           t->retransmits, t->timeouts, t->peer_failures);
    printf("datagrams dropped: %" PRIu64 " malformed, %" PRIu64
           " from unknown nodes\n",
           t->malformed, t->unknown);
    if (faults_on(&o->faults)) {
        printf("faults injected: %" PRIu64 " dropped, %" PRIu64
               " corrupted, %" PRIu64 " duplicated, %" PRIu64
               " reordered, %" PRIu64 " lost to down intervals\n",
               t->fault[0], t->fault[1], t->fault[2], t->fault[3],
               t->down_drops);
        for (int i = 0; i < nnodes; i++) {
            printf("  node %d:", i);
            for (int j = 0; j < 4; j++)
                printf("%s %" PRIu64 " %s", j ? "," : "", all[i].fault[j],
                       fault_name[j]);
            printf("\n");
        }
    }
    printf("\nreal time: %.3f s on %d node processes\n", wall_s, nnodes);
}

/* Node 0: adds up every node's record and prints; returns 1 if another
 * node reported a failure. */
static int report(struct cli__emu_node *x, const struct node_result *all,
                  const struct wl_shared *sh, double wall_s)
{
    struct cli__emu_opts *o = x->o;
    struct totals t;
    memset(&t, 0, sizeof t);
    t.ctr = sh->ctr;
    int failed = 0;
    for (int k = 0; k < x->cl->n; k++) {
        struct node_result res = all[k];
        if (res.node != k)
            continue; /* none came (or not of this build) */
        /* Under the launcher a program's failure is its own node's: the
         * launcher names that node (a workload's fails the run's record,
         * so node 0's too). */
        if (res.failed && k != x->id && !(x->obs && o->prog)) {
            failed = 1;
            if (!x->obs) /* the launcher reports it otherwise */
                fprintf(stderr, "vmmcsim: node %d failed: %s\n", k, res.error);
        }
        if (!x->obs && k != x->id) {
            struct wl_counters *c = &t.ctr;
            c->present |= res.ctr.present;
            c->messages_sent += res.ctr.messages_sent;
            c->messages_delivered += res.ctr.messages_delivered;
            c->bytes_delivered += res.ctr.bytes_delivered;
            c->bytes_verified += res.ctr.bytes_verified;
            c->corrupt_delivered += res.ctr.corrupt_delivered;
            c->duplicates_delivered += res.ctr.duplicates_delivered;
            c->send_errors += res.ctr.send_errors;
            c->bytes_outside_changed += res.ctr.bytes_outside_changed;
        }
        t.retransmits += res.retransmits;
        t.timeouts += res.timeouts;
        t.peer_failures += res.peer_failures;
        t.refused += res.refused;
        t.utlb_hits += res.utlb_hits;
        t.utlb_misses += res.utlb_misses;
        t.tx += res.tx;
        t.rx += res.rx;
        t.malformed += res.malformed;
        t.unknown += res.unknown;
        t.loop_busy_ns += res.loop_busy_ns;
        t.loop_sys_ns += res.loop_sys_ns;
        t.loop_syscalls += res.loop_syscalls;
        t.loop_cpu_ns += res.loop_cpu_ns;
        t.down_drops += res.down_drops;
        for (int j = 0; j < 4; j++)
            t.fault[j] += res.fault[j];
    }
    if (failed || sh->failed)
        return 1;
    if (o->prog) /* the program's output is the run's */
        return 0;
    char where[600];
    if (x->obs)
        snprintf(where, sizeof where, "on %d local node processes", x->cl->n);
    else
        snprintf(where, sizeof where, "on the %d nodes of %s", x->cl->n,
                 x->cl->path);
    print_rows(o, sh, &t, all, x->cl->n, wall_s, where);
    if (!x->obs && o->fmt == CLI__EMU_TABLE && x->cl->n > 1 &&
        strcmp(o->wl->name, "pingpong"))
        printf("note: rows that combine several nodes' measurements need "
               "the nodes to share\nmemory (vmmcsim emu); here they are "
               "node 0's alone (docs/emu.md)\n");
    return 0;
}

static void fill_config(struct emu_config *cfg, const struct cli__emu_node *x)
{
    const struct nicm_profile *p = &x->o->prof;
    memset(cfg, 0, sizeof *cfg);
    cfg->node = x->id;
    cfg->cluster = x->cl;
    cfg->sock_fd = x->sock_fd;
    cfg->page_size = p->page_size;
    cfg->max_packet = p->max_packet;
    cfg->send_buffers = p->send_buffers;
    cfg->recv_buffers = p->recv_buffers;
    cfg->utlb_entries = p->utlb_entries;
    cfg->sram_bytes = p->sram_bytes;
    cfg->unreliable = !p->reliable;
    cfg->rto = p->rto;
    cfg->ack_delay = p->ack_delay;
    cfg->max_retries = p->max_retries;
    cfg->window = p->window;
    cfg->join_timeout = x->o->join_timeout;
    cfg->spin = x->o->spin;
    cfg->epoch_ns = x->epoch_ns;
    /* Programs (exec) share no memory across nodes: no need to take
     * turns. */
    cfg->hostlock = x->o->prog ? NULL : x->lock;
    cfg->faults = x->o->faults;
}

void cli__emu_msg_conf(struct wl_shared *sh, const struct nicm_profile *p)
{
    sh->msg = (struct wl_msg_conf){p->msg_eager_limit_set, p->msg_eager_limit,
                                   p->msg_ring_slots, p->msg_copy_MBps};
}

/* What a node says when it is stopped by SIGTERM (the launcher stops the
 * others that way when a node fails or the run is past --timeout): which
 * phase it was in and what its firmware's link saw, written from the
 * signal handler, so by hand. */
static volatile sig_atomic_t term_node;
static const char *volatile term_what = "starting";
static const struct vmmc_fw_stats *volatile term_fw;

static size_t put_str(char *b, size_t n, size_t cap, const char *s)
{
    while (*s && n < cap)
        b[n++] = *s++;
    return n;
}

static size_t put_u64(char *b, size_t n, size_t cap, uint64_t v)
{
    char t[24];
    int k = 0;
    do
        t[k++] = (char)('0' + v % 10);
    while (v /= 10);
    while (k && n < cap)
        b[n++] = t[--k];
    return n;
}

static void on_term(int sig)
{
    (void)sig;
    char b[400];
    size_t n = 0, cap = sizeof b - 1;
    n = put_str(b, n, cap, "vmmcsim: node ");
    n = put_u64(b, n, cap, (uint64_t)term_node);
    n = put_str(b, n, cap, ": stopped while ");
    n = put_str(b, n, cap, term_what);
    const struct vmmc_fw_stats *f = term_fw;
    if (f) {
        /* Counters of the running firmware: only ever incremented, read
         * whole on this machine; a report, not an invariant. */
        n = put_str(b, n, cap, "; its link had declared a peer unreachable ");
        n = put_u64(b, n, cap, f->peer_failures);
        n = put_str(b, n, cap, " time(s) after ");
        n = put_u64(b, n, cap, f->timeouts);
        n = put_str(b, n, cap, " retransmission time-out(s)");
    }
    b[n++] = '\n';
    ssize_t w = write(2, b, n);
    (void)w;
    _exit(1);
}

/* Runs one node; returns its exit status. */
int cli__emu_run_node(struct cli__emu_node *x)
{
    struct cli__emu_opts *o = x->o;
    static struct wl_shared priv;
    struct wl_shared *sh = x->obs ? &x->obs->sh : &priv;
    if (!x->obs) {
        memset(&priv, 0, sizeof priv);
        priv.opts = &o->wopts;
        cli__emu_msg_conf(&priv, &o->prof);
    }
    log_set_stamp(stamp);
    static char running[64];
    snprintf(running, sizeof running, "running %s",
             o->prog ? o->prog : o->wl->name);
    term_node = x->id;
    term_what = "starting";
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    struct emu_config cfg;
    fill_config(&cfg, x);
    char err[1024] = "";
    emu_node *n = NULL;
    vmmc_fw *fw = NULL;
    int status = 0;
    double wall_s = 0;
    int rc = emu_node_open(&n, &cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "vmmcsim: error: %s\n", err);
        return rc == VS_ECONFIG ? 2 : 1;
    }
    if (vmmc_fw_boot(&fw, emu_nic(n))) {
        fprintf(stderr,
                "vmmcsim: error: %s: the firmware does not fit in "
                "the NIC's SRAM ([nic] sram_bytes)\n",
                o->profile);
        status = 2;
        goto out;
    }
    term_fw = vmmc_fw_stats(fw);
    term_what = "joining its peers";
    if (emu_node_start(n)) {
        fprintf(stderr,
                "vmmcsim: error: node %d: cannot start the NIC "
                "thread\n",
                x->id);
        status = 1;
        goto out;
    }
    rc = emu_node_join(n, err, sizeof err);
    if (rc) {
        fprintf(stderr, "vmmcsim: error: %s\n", err);
        status = rc == VS_ECONFIG ? 2 : 1;
        goto out;
    }
    if (x->obs)
        atomic_fetch_add(&x->obs->started, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct wl_env env = {emu_host(n), x->id, x->cl->n, sh};
    term_what = running;
    emu_host_enter(n);
    char why[256] = "";
    int own_fail;
    if (o->prog) {
        own_fail = cli__emu_exec_run(o, x->id, why, sizeof why) != 0;
    } else {
        o->wl->main(&env);
        own_fail = sh->failed && (!x->obs || error_is_mine(sh->error, x->id));
    }
    /* The firmware's counters, read while its thread still runs (they only
     * grow; the record is a report, not an invariant). */
    struct node_result res;
    fill_result(&res, x->id, sh, own_fail, fw, n);
    if (o->prog && own_fail)
        snprintf(res.error, sizeof res.error, "%s", why);
    emu_host_leave(n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    wall_s = (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (own_fail) {
        if (o->prog)
            fprintf(stderr, "vmmcsim: emu: %s\n", res.error);
        else
            fprintf(stderr, "vmmcsim: workload %s failed: %s\n", o->wl->name,
                    res.error);
        fflush(stderr);
        status = 1;
    }
    term_what = "waiting for its peers to finish";
    hw_time_t fin_timeout = !x->obs && o->timeout_set ? o->timeout : -1;
    /* A failed program's peers may wait for it forever (an MPI_Recv from
     * it): its node says goodbye but does not wait for them long. */
    if (o->prog && own_fail &&
        (fin_timeout < 0 || fin_timeout > EXEC_FAIL_FINISH))
        fin_timeout = EXEC_FAIL_FINISH;
    rc = emu_node_finish(n, &res, sizeof res, fin_timeout, err, sizeof err);
    if (rc) {
        fprintf(stderr, "vmmcsim: error: %s\n", err);
        status = 1;
    }
out:
    term_what = "stopping";
    term_fw = NULL;
    emu_node_stop(n);
    if (fw) {
        if (!status)
            vmmc_fw_audit(fw);
        vmmc_fw_halt(fw);
    }
    /* Every node's record, before the node goes. */
    struct node_result *all = NULL;
    if (!status && x->id == 0 &&
        !(all = calloc((size_t)x->cl->n, sizeof *all))) {
        fprintf(stderr, "vmmcsim: node 0: out of memory\n");
        status = 1;
    }
    for (int k = 0; all && k < x->cl->n; k++) {
        size_t len;
        const void *r = emu_node_result(n, k, &len);
        all[k].node = -1;
        if (r && len == sizeof *all)
            memcpy(&all[k], r, sizeof *all);
    }
    emu_node_close(n); /* checks that the firmware left no SRAM behind */
    if (vs_inv_count()) {
        fprintf(stderr,
                "vmmcsim: node %d: run failed: %" PRIu64
                " invariant violation(s), the first: %s\n",
                x->id, vs_inv_count(), vs_inv_first());
        status = 1;
    }
    if (!status && all && report(x, all, sh, wall_s))
        status = 1;
    free(all);
    fflush(NULL);
    log_set_stamp(NULL);
    return status;
}

int cli_emu_node(int argc, char **argv)
{
    static struct cli__emu_opts o;
    memset(&o, 0, sizeof o);
    o.cmd_prefix = "emu-node: ";
    int rc = cli__emu_parse(&o, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct emu_cluster cl;
    char err[1024];
    if (emu_cluster_load(&cl, o.cluster, err, sizeof err)) {
        cli__emu_exec_unload();
        return cli__error("emu-node: ", "%s", err);
    }
    if (o.id >= cl.n) {
        emu_cluster_free(&cl);
        cli__emu_exec_unload();
        return cli__error("emu-node: ",
                          "option --id: node %d is not in %s "
                          "(ids 0..%d)",
                          o.id, o.cluster, cl.n - 1);
    }
    if (cl.n < o.wl->min_nodes) {
        int n = cl.n;
        emu_cluster_free(&cl);
        cli__emu_exec_unload();
        return cli__error("emu-node: ",
                          "%s needs at least %d nodes; %s "
                          "lists %d",
                          o.wl->name, o.wl->min_nodes, o.cluster, n);
    }
    struct cli__emu_node x = {&o, &cl, o.id, -1, 0, NULL, NULL};
    rc = cli__emu_run_node(&x);
    emu_cluster_free(&cl);
    cli__emu_exec_unload();
    return rc;
}
