/*
 * The vmmcsim command: parses the command line, runs a workload on the
 * simulated cluster (cli/cluster.c) and prints the results as a table, CSV
 * or JSON.  Bad input exits 2 with one line naming the file, line and
 * field (or the option); a failed run exits 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/cluster.h"
#include "util/err.h"
#include "util/inv.h"
#include "util/log.h"
#include "workloads/wl.h"

#define DEFAULT_PLATFORM "myrinet-2.xml"
#define DEFAULT_PROFILE "myrinet.ini"

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

struct cli {
    const char *platform, *profile;
    char platform_buf[PATH_MAX], profile_buf[PATH_MAX];
    enum fmt fmt;
    int stats;
    int dry_run; /* --dry-run: check the command line, run nothing */
    hw_time_t max_time;
    const struct wl_def *wl;
    struct wl_opts wopts;
    struct wl_shared sh;
    double wall_s;
    char *stats_text; /* --stats output, printed after the rows */
    size_t stats_len;
    hw_time_t end_time;
    uint64_t events, packets;
    uint64_t retransmissions, timeouts, peer_failures, refused;
    uint64_t utlb_hits, utlb_misses;
    uint64_t in_flight; /* packets neither delivered nor dropped at the end */
    /* --faults: the parsed spec (items are owned here) and what happened. */
    struct cl_faults faults;
    struct cl_link_down *downs;
    struct cl_nic_down *nic_downs;
    int faults_active;
    struct nicm_fault_stats fstats;
    struct nicm_fault_pick *picks; /* --fault-list */
    int nodes;                     /* --nodes */
    const char *timeline;          /* --timeline FILE */
    const struct nicm_profile *prof; /* the run's, once cl_run loaded it */
    struct wl_latency lat;         /* message latencies (alltoall) */
    int nnodes;                    /* the run's */
    char *fault_log;               /* --record-faults: "drop@1.5,..." */
    enum nicm_fabric fabric;       /* --fabric packet|flow */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vmmcsim run [--platform FILE] [--profile FILE] [--seed N]\n"
            "                   [--csv | --json] [--stats] [--log SPEC]\n"
            "                   [--max-time T] [--faults SPEC] [--dry-run]\n"
            "                   [--fabric packet|flow]\n"
            "                   WORKLOAD [workload options]\n"
            "       vmmcsim sweep --seeds A-B [--jobs N] [--json] [--junit FILE]\n"
            "                     [--shrink] [--results FILE]\n"
            "                     [run options] WORKLOAD [workload options]\n"
            "       vmmcsim sweep --emit-slurm DIR [--tasks N] --seeds A-B ...\n"
            "       vmmcsim sweep --merge DIR [--json] [--junit FILE]\n"
            "       vmmcsim bench --baseline FILE [--update-baseline]\n"
            "                     [run options] [WORKLOAD [workload options]]\n"
            "       vmmcsim exec -n N [--platform FILE] [--profile FILE] PROGRAM "
            "[args]\n"
            "                     (a C program built by build/vmmcsim-cc)\n"
            "       vmmcsim replay [--platform FILE] [--json] TRACE...\n"
            "                     (a SimGrid time-independent trace)\n"
            "       vmmcsim emu --nodes N [options] WORKLOAD [options]\n"
            "       vmmcsim emu-node --cluster FILE --id K [options] WORKLOAD ...\n"
            "                     (WORKLOAD or exec PROGRAM [args]: emulated "
            "NICs,\n"
            "                     real time: vmmcsim emu --help)\n"
            "       vmmcsim --help\n"
            "\n"
            "Runs real VMMC code on a simulated cluster and prints what it "
            "measured.\n"
            "Defaults: --platform configs/" DEFAULT_PLATFORM
            " --profile configs/" DEFAULT_PROFILE " --seed 1\n"
            "\n"
            "Workloads:\n");
    for (const struct wl_def *const *w = wl_all(); *w; w++)
        fprintf(f, "  %-10s %s\n", (*w)->name, (*w)->summary);
    fprintf(f,
            "\nWorkload options:\n"
            "  --sizes A,B,...  message sizes in bytes (K, M suffixes; >= 4);\n"
            "                   default 4 B to 1 MiB in powers of two\n"
            "  --iters N        pingpong: timed round trips per size (20)\n"
            "  --count N        bandwidth: messages per size (automatic)\n"
            "  --bidir          bandwidth: stream both ways at once\n"
            "  --verify         check every byte that arrives\n"
            "  --src-span B     send from successive pages of a B-byte buffer\n"
            "                   (UTLB studies; pingpong, bandwidth)\n"
            "\nRun options:\n"
            "  --csv            print size_bytes,latency_us,bandwidth_MBps rows\n"
            "  --json           print one JSON object\n"
            "  --stats          also print per-NIC engine and link statistics\n"
            "                   (with --json: \"nics\" and \"links\" members)\n"
            "  --timeline FILE  write every NIC engine's and link's busy\n"
            "                   intervals as Chrome trace events (Perfetto)\n"
            "  --dry-run        check the command line (workload options too),\n"
            "                   then exit 0 without reading files or running\n"
            "  --log SPEC       e.g. vmmc=debug,nicm=info (or VMMCSIM_LOG)\n"
            "  --max-time T     stop past simulated time T (e.g. 500ms)\n"
            "  --faults SPEC    inject faults in the fabric, a comma list of:\n"
            "                     drop=P corrupt=P dup=P reorder=P  probability\n"
            "                       per packet per link (over the profile's\n"
            "                       [faults]); reorder_delay_max=T (20us)\n"
            "                     down=LINK@T1-T2   a platform link is down in\n"
            "                       [T1, T2) (T2 empty: for good)\n"
            "                     nicdown=NODE@T1-T2  a NIC drops all it sends\n"
            "                       and receives\n"
            "                   e.g. drop=0.01,down=sw0_link_1_DOWN@5ms-6ms;\n"
            "                   --seed seeds them\n"
            "  --fault-list L   faults on chosen packets instead of the\n"
            "                   probabilities: KIND@NODE.N[hHOP][c],... (KIND\n"
            "                   drop, corrupt, dup, reorder; the node's Nth\n"
            "                   packet on link HOP of its route; c: its copy)\n"
            "  --record-faults  --json lists every injected fault that way\n"
            "                   (\"fault_list\")\n"
            "  --nodes N        run on the first N hosts of the platform\n"
            "  --fabric MODE    packet (default): the packet-level fabric;\n"
            "                   flow: SimGrid's flow-level network model\n"
            "                   (docs/fabric-flow.md; no --faults)\n"
            "\nExit status: 0 ok, 1 the run failed, 2 bad input.\n");
}

int cli__error(const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vmmcsim: error: %s", who);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

#define bad(...) cli__error("", __VA_ARGS__)

/* Finds configs/NAME: in the working directory, else next to the binary
 * (build/../configs). */
const char *cli__default_config(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "configs/%s", name);
    if (access(buf, R_OK) == 0)
        return buf;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        snprintf(buf, len, "%s/../configs/%s", dirname(exe), name);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    snprintf(buf, len, "configs/%s", name);
    return buf;
}

int cli__parse_seed(const char *v, uint64_t *out)
{
    char *end;
    /* Digits only: strtoull would skip blanks, then take a sign (" -5" is
     * 2^64 - 5). */
    if (!(*v >= '0' && *v <= '9'))
        return -1;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    if (errno || *end)
        return -1;
    *out = s;
    return 0;
}

int cli__parse_time(const char *s, hw_time_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mult;
    if (!strcmp(end, "s"))
        mult = 1e12;
    else if (!strcmp(end, "ms"))
        mult = 1e9;
    else if (!strcmp(end, "us"))
        mult = 1e6;
    else if (!strcmp(end, "ns"))
        mult = 1e3;
    else
        return -1;
    /* At least one picosecond, the simulator's tick: a smaller time would
     * round to 0, which --max-time and reorder_delay_max read as "none". */
    if (end == s || errno || !(v * mult >= 1) || v * mult > 9e18)
        return -1;
    *out = (hw_time_t)(v * mult);
    return 0;
}

/* ---- --faults ---- */

/* A time of a down interval: a number with a unit (ns, us, ms, s), or 0.
 * Returns the first character after it, or NULL. */
static const char *scan_time(const char *s, hw_time_t *out)
{
    if (!(*s >= '0' && *s <= '9') && *s != '.')
        return NULL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0))
        return NULL;
    const char *u = end;
    while (*u >= 'a' && *u <= 'z')
        u++;
    size_t ul = (size_t)(u - end);
    double mult;
    if (ul == 2 && !strncmp(end, "ns", 2))
        mult = 1e3;
    else if (ul == 2 && !strncmp(end, "us", 2))
        mult = 1e6;
    else if (ul == 2 && !strncmp(end, "ms", 2))
        mult = 1e9;
    else if (ul == 1 && *end == 's')
        mult = 1e12;
    else if (ul == 0 && v == 0)
        mult = 0;
    else
        return NULL;
    if (v * mult > 9e18)
        return NULL;
    *out = (hw_time_t)(v * mult);
    return u;
}

/* The length of the time token at s, for messages: up to the next '-' that
 * follows a unit or the end. */
static int time_token_len(const char *s)
{
    const char *p = s;
    while (*p && !(*p == '-' && p > s && p[-1] >= 'a' && p[-1] <= 'z'))
        p++;
    return (int)(p - s);
}

/* "T1-T2" (T2 empty: for good) of the down item item.  Returns 0 or 2 after
 * printing the error. */
static int parse_interval(const char *item, const char *s, hw_time_t *from,
                          hw_time_t *to)
{
    const char *p = scan_time(s, from);
    if (!p)
        return bad("option --faults: %s: bad time '%.*s' (want a number "
                   "with ns, us, ms or s, like 5ms)",
                   item, time_token_len(s), s);
    if (*p != '-')
        return bad("option --faults: %s: want T1-T2 after '@' (T2 empty: "
                   "down for good)",
                   item);
    if (!*++p) {
        *to = HW_TIME_NEVER;
        return 0;
    }
    const char *q = scan_time(p, to);
    if (!q || *q)
        return bad("option --faults: %s: bad time '%s' (want a number with "
                   "ns, us, ms or s, like 5ms)",
                   item, p);
    if (*to <= *from)
        return bad("option --faults: %s: the interval ends before it "
                   "starts",
                   item);
    return 0;
}

static int parse_probability(const char *item, const char *v, double *out)
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

/* One item of --faults, KEY=VALUE, n bytes at s.  Returns 0 or 2 after
 * printing the error. */
static int parse_fault_item(struct cli *c, const char *s, size_t n)
{
    /* The item, then a second copy of it for the link name. */
    char *item = malloc(2 * n + 2);
    if (!item)
        return bad("out of memory");
    memcpy(item, s, n);
    item[n] = 0;
    char *copy = item + n + 1;
    memcpy(copy, item, n + 1);
    int keep = 0, rc = 0;
    char *eq = strchr(copy, '=');
    if (!n) {
        rc = bad("option --faults: empty item (want a comma list like "
                 "drop=0.01,dup=0.001)");
        goto out;
    }
    if (!eq) {
        rc = bad("option --faults: '%s' is not KEY=VALUE", item);
        goto out;
    }
    *eq = 0;
    const char *key = copy, *v = eq + 1;
    struct cl_faults *f = &c->faults;
    if (!strcmp(key, "drop")) {
        rc = parse_probability(item, v, &f->drop);
    } else if (!strcmp(key, "corrupt")) {
        rc = parse_probability(item, v, &f->corrupt);
    } else if (!strcmp(key, "dup")) {
        rc = parse_probability(item, v, &f->dup);
    } else if (!strcmp(key, "reorder")) {
        rc = parse_probability(item, v, &f->reorder);
    } else if (!strcmp(key, "reorder_delay_max")) {
        if (cli__parse_time(v, &f->reorder_delay_max))
            rc = bad("option --faults: %s: '%s' is not a time like 20us",
                     item, v);
    } else if (!strcmp(key, "down") || !strcmp(key, "nicdown")) {
        char *at = strrchr(eq + 1, '@');
        if (!at || at == eq + 1) {
            rc = bad("option --faults: %s: want %s=%s@T1-T2", item, key,
                     key[0] == 'd' ? "LINK" : "NODE");
            goto out;
        }
        *at = 0;
        hw_time_t from, to;
        if ((rc = parse_interval(item, at + 1, &from, &to)))
            goto out;
        if (key[0] == 'd') {
            struct cl_link_down *d =
                realloc(c->downs, (c->faults.ndowns + 1) * sizeof *d);
            if (!d) {
                rc = bad("out of memory");
                goto out;
            }
            c->downs = d;
            d[c->faults.ndowns++] = (struct cl_link_down){item, eq + 1, from,
                                                          to};
            keep = 1;
        } else {
            char *end;
            errno = 0;
            long node = strtol(eq + 1, &end, 10);
            if (*end || errno || node < 0 || node > INT_MAX ||
                !(eq[1] >= '0' && eq[1] <= '9')) {
                rc = bad("option --faults: %s: '%s' is not a node number",
                         item, eq + 1);
                goto out;
            }
            struct cl_nic_down *d =
                realloc(c->nic_downs, (c->faults.nnic_downs + 1) * sizeof *d);
            if (!d) {
                rc = bad("out of memory");
                goto out;
            }
            c->nic_downs = d;
            d[c->faults.nnic_downs++] =
                (struct cl_nic_down){item, (int)node, from, to};
            keep = 1;
        }
        c->faults.downs = c->downs;
        c->faults.nic_downs = c->nic_downs;
    } else {
        rc = bad("option --faults: unknown key '%s' in '%s' (keys: drop, "
                 "corrupt, dup, reorder, reorder_delay_max, down, nicdown)",
                 key, item);
    }
out:
    if (!keep)
        free(item);
    return rc;
}

/* --faults SPEC: a comma list of items.  Returns 0 or 2. */
static int parse_faults(struct cli *c, const char *spec)
{
    const char *s = spec;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        int rc = parse_fault_item(c, s, n);
        if (rc)
            return rc;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

/* --fault-list drop@NODE.NTH,corrupt@...,dup@...,reorder@... (may be
 * empty: no fault at all). */
static int parse_fault_list(struct cli *c, const char *spec)
{
    size_t n = *spec ? 1 : 0;
    for (const char *s = spec; *s; s++)
        n += *s == ',';
    c->picks = calloc(n ? n : 1, sizeof *c->picks);
    if (!c->picks)
        return bad("out of memory");
    const char *s = spec;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(s, ",");
        char item[128];
        snprintf(item, sizeof item, "%.*s", (int)(len < 100 ? len : 100), s);
        struct nicm_fault_pick *p = &c->picks[i];
        const char *at = memchr(s, '@', len);
        int k = 0;
        while (at && k < NICM_FAULT_KINDS &&
               ((size_t)(at - s) != strlen(nicm_fault_kind_name(k)) ||
                strncmp(s, nicm_fault_kind_name(k), (size_t)(at - s))))
            k++;
        char *end = NULL;
        long node = -1, hop = 0;
        unsigned long long nth = 0;
        int copy = 0;
        if (at && k < NICM_FAULT_KINDS && at[1] >= '0' && at[1] <= '9') {
            errno = 0;
            node = strtol(at + 1, &end, 10);
            if (*end == '.' && end[1] >= '0' && end[1] <= '9')
                nth = strtoull(end + 1, &end, 10);
            else
                end = NULL;
            if (end && *end == 'h' && end[1] >= '0' && end[1] <= '9')
                hop = strtol(end + 1, &end, 10);
            if (end && *end == 'c') {
                copy = 1;
                end++;
            }
        }
        if (!end || end != s + len || errno || node > 1000000 || nth < 1 ||
            hop > 1000)
            return bad("option --fault-list: '%s' is not KIND@NODE.N[hHOP][c]"
                       " (KIND drop, corrupt, dup or reorder; the node's Nth "
                       "packet, from 1; on link HOP of its route, from 0; c: "
                       "its duplicate)",
                       item);
        *p = (struct nicm_fault_pick){(enum nicm_fault_kind)k, (int)node,
                                      (uint64_t)nth, (int)hop, copy};
        s += len + (s[len] == ',');
    }
    c->faults.picks = c->picks;
    c->faults.npicks = n;
    c->faults.has_picks = 1;
    return 0;
}

static void free_faults(struct cli *c)
{
    free(c->picks);
    free(c->fault_log);
    for (size_t i = 0; i < c->faults.ndowns; i++)
        free((char *)c->downs[i].item);
    for (size_t i = 0; i < c->faults.nnic_downs; i++)
        free((char *)c->nic_downs[i].item);
    free(c->downs);
    free(c->nic_downs);
}

static void node_main(hw_host *h, void *arg)
{
    struct cli *c = arg;
    if (c->prof) { /* the profile's [msg], for workloads over libs/msg */
        c->sh.msg = (struct wl_msg_conf){c->prof->msg_eager_limit_set,
                                         c->prof->msg_eager_limit,
                                         c->prof->msg_ring_slots,
                                         c->prof->msg_copy_MBps};
    }
    struct wl_env env = {h, h->node, h->nnodes, &c->sh};
    c->wl->main(&env);
}

/* ---- Output ---- */

struct refs {
    double latency_us, bandwidth_MBps;
};

static void print_stats(FILE *out, const struct cl_report *rep)
{
    double t = (double)rep->end_time;
    fprintf(out, "\nper-NIC engines (busy share of %.3f us simulated):\n",
           t / 1e6);
    fprintf(out, "  node   cpu%%  hdma%%  sdma%%  rdma%%  bus%%  pkts_out  pkts_in  "
           "sram_peak\n");
    for (int i = 0; i < rep->nnodes; i++) {
        const struct nicm_node_stats *s = nicm_node_stats(rep->cluster, i);
        fprintf(out, "  %4d %6.1f %6.1f %6.1f %6.1f %5.1f %9" PRIu64 " %8" PRIu64
               " %10" PRIu64 "\n",
               i, 100.0 * (double)s->cpu_busy / t,
               100.0 * (double)s->hdma_busy / t,
               100.0 * (double)s->sdma_busy / t,
               100.0 * (double)s->rdma_busy / t,
               100.0 * (double)s->bus_busy / t, s->pkts_sent, s->pkts_recv,
               s->sram_peak);
    }
    for (int i = 0; i < rep->nnodes; i++) {
        const struct vmmc_fw_stats *f = vmmc_fw_stats(rep->fws[i]);
        if (f->refused_in || f->refused_out || f->sram_failures)
            fprintf(out, "  node %d firmware: refused_in %" PRIu64
                   " refused_out %" PRIu64 " sram_failures %" PRIu64 "\n",
                   i, f->refused_in, f->refused_out, f->sram_failures);
    }
    fprintf(out, "\nreliable link per node:\n  node  retransmits  timeouts  "
                 "acks_sent  dup_drops  ooo_drops  stale_drops  "
                 "peer_failures\n");
    for (int i = 0; i < rep->nnodes; i++) {
        const struct vmmc_fw_stats *f = vmmc_fw_stats(rep->fws[i]);
        fprintf(out, "  %4d %12" PRIu64 " %9" PRIu64 " %10" PRIu64
                     " %10" PRIu64 " %10" PRIu64 " %12" PRIu64 " %14" PRIu64
                     "\n",
                i, f->retransmits, f->timeouts, f->acks_sent, f->dup_drops,
                f->ooo_drops, f->stale_drops, f->peer_failures);
    }
}

/* --stats --json: the same figures as members of the run's object. */
static void print_stats_json(FILE *out, const struct cl_report *rep)
{
    double t = (double)rep->end_time;
    fputs(",\"nics\":[", out);
    for (int i = 0; i < rep->nnodes; i++) {
        const struct nicm_node_stats *s = nicm_node_stats(rep->cluster, i);
        const struct vmmc_fw_stats *f = vmmc_fw_stats(rep->fws[i]);
        fprintf(out,
                "%s{\"node\":%d,\"cpu_busy_us\":%.6f,\"hdma_busy_us\":%.6f,"
                "\"sdma_busy_us\":%.6f,\"rdma_busy_us\":%.6f,"
                "\"bus_busy_us\":%.6f,\"packets_out\":%" PRIu64
                ",\"packets_in\":%" PRIu64 ",\"wire_bytes_out\":%" PRIu64
                ",\"host_dma_bytes\":%" PRIu64 ",\"sram_peak\":%" PRIu64
                ",\"retransmits\":%" PRIu64 ",\"timeouts\":%" PRIu64 "}",
                i ? "," : "", i, (double)s->cpu_busy / 1e6,
                (double)s->hdma_busy / 1e6, (double)s->sdma_busy / 1e6,
                (double)s->rdma_busy / 1e6, (double)s->bus_busy / 1e6,
                s->pkts_sent, s->pkts_recv, s->wire_bytes_sent,
                s->host_dma_bytes, s->sram_peak, f->retransmits, f->timeouts);
    }
    fputs("],\"links\":[", out);
    size_t nl = nicm_link_count(rep->cluster);
    for (size_t l = 0; l < nl; l++) {
        const struct nicm_link_stats *s = nicm_link_stats(rep->cluster, l);
        fprintf(out,
                "%s{\"link\":%zu,\"name\":\"%s\",\"busy_us\":%.6f,"
                "\"utilisation\":%.6f,\"packets\":%" PRIu64
                ",\"bytes\":%" PRIu64 ",\"max_wait_us\":%.6f}",
                l ? "," : "", l, nicm_link_name(rep->cluster, l),
                (double)s->busy / 1e6, t > 0 ? (double)s->busy / t : 0,
                s->pkts, s->bytes, (double)s->max_wait / 1e6);
    }
    fputs("]", out);
}

static void report(const struct cl_report *rep, void *arg)
{
    struct cli *c = arg;
    c->end_time = rep->end_time;
    c->events = rep->events;
    c->in_flight = nicm_packets_in_flight(rep->cluster);
    for (int i = 0; i < rep->nnodes; i++) {
        const struct vmmc_fw_stats *f = vmmc_fw_stats(rep->fws[i]);
        c->packets += nicm_node_stats(rep->cluster, i)->pkts_sent;
        c->retransmissions += f->retransmits;
        c->timeouts += f->timeouts;
        c->peer_failures += f->peer_failures;
        c->refused += f->refused_in;
        c->utlb_hits += f->utlb_hits;
        c->utlb_misses += f->utlb_misses;
    }
    c->fstats = *nicm_fault_stats(rep->cluster);
    c->nnodes = rep->nnodes;
    if (c->faults.record) {
        size_t n, len = 0;
        const struct nicm_fault_pick *log = nicm_fault_log(rep->cluster, &n);
        FILE *f = open_memstream(&c->fault_log, &len);
        if (f) {
            for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s%s@%d.%" PRIu64, i ? "," : "",
                        nicm_fault_kind_name(log[i].kind), log[i].node,
                        log[i].nth);
                if (log[i].hop)
                    fprintf(f, "h%d", log[i].hop);
                if (log[i].copy)
                    fputc('c', f);
            }
            fclose(f);
        }
    }
    if (c->stats && c->fmt == FMT_JSON) {
        FILE *f = open_memstream(&c->stats_text, &c->stats_len);
        if (f) {
            print_stats_json(f, rep);
            fclose(f);
        }
    }
    if (c->stats && c->fmt == FMT_TABLE) {
        FILE *f = open_memstream(&c->stats_text, &c->stats_len);
        if (f) {
            print_stats(f, rep);
            fclose(f);
        }
    }
}

/* Latency percentiles per size class: JSON members or table lines. */
static void print_latencies(struct cli *c, int json)
{
    struct wl_latency *l = &c->lat;
    int first = 1;
    for (int k = 0; k < WL_LAT_CLASSES; k++) {
        if (!l->n[k])
            continue;
        uint64_t lo = k ? 1ull << k : 0, hi = (1ull << (k + 1)) - 1;
        double p50 = wl_latency_quantile(l, k, 0.50),
               p90 = wl_latency_quantile(l, k, 0.90),
               p99 = wl_latency_quantile(l, k, 0.99),
               mx = wl_latency_quantile(l, k, 1.0);
        if (json)
            printf("%s{\"size_from\":%" PRIu64 ",\"size_to\":%" PRIu64
                   ",\"messages\":%zu,\"p50_us\":%.3f,\"p90_us\":%.3f,"
                   "\"p99_us\":%.3f,\"max_us\":%.3f}",
                   first ? ",\"latency_by_size\":[" : ",", lo, hi, l->n[k],
                   p50, p90, p99, mx);
        else
            printf("%s  %8" PRIu64 " - %-8" PRIu64 " %9zu %10.3f %10.3f "
                   "%10.3f %10.3f\n",
                   first ? "\nmessage latency (issue to delivery, us) by "
                           "size:\n      bytes from - to   messages        "
                           "p50        p90        p99        max\n"
                         : "",
                   lo, hi, l->n[k], p50, p90, p99, mx);
        first = 0;
    }
    if (json && !first)
        printf("]");
}

static void print_rows(struct cli *c)
{
    const struct wl_shared *sh = &c->sh;
    if (c->fmt == FMT_CSV) {
        printf("size_bytes,latency_us,bandwidth_MBps\n");
        for (int i = 0; i < sh->nrows; i++)
            printf("%" PRIu64 ",%.3f,%.3f\n", sh->rows[i].size,
                   sh->rows[i].latency_us, sh->rows[i].bandwidth_MBps);
        return;
    }
    if (c->fmt == FMT_JSON) {
        printf("{\"workload\":\"%s\",\"platform\":\"%s\",\"profile\":\"%s\","
               "\"seed\":%" PRIu64 ",\"nodes\":%d,\"rows\":[",
               c->wl->name, c->platform, c->profile, c->wopts.seed, c->nnodes);
        for (int i = 0; i < sh->nrows; i++)
            printf("%s{\"size_bytes\":%" PRIu64 ",\"latency_us\":%.3f,"
                   "\"bandwidth_MBps\":%.3f}",
                   i ? "," : "", sh->rows[i].size, sh->rows[i].latency_us,
                   sh->rows[i].bandwidth_MBps);
        printf("]");
        const struct wl_counters *k = &sh->ctr;
        if (k->present)
            printf(",\"messages_sent\":%" PRIu64
                   ",\"messages_delivered\":%" PRIu64
                   ",\"bytes_delivered\":%" PRIu64
                   ",\"bytes_verified\":%" PRIu64
                   ",\"corrupt_delivered\":%" PRIu64
                   ",\"duplicates_delivered\":%" PRIu64
                   ",\"send_errors\":%" PRIu64
                   ",\"bytes_outside_changed\":%" PRIu64,
                   k->messages_sent, k->messages_delivered,
                   k->bytes_delivered, k->bytes_verified,
                   k->corrupt_delivered, k->duplicates_delivered,
                   k->send_errors, k->bytes_outside_changed);
        printf(",\"retransmissions\":%" PRIu64 ",\"timeouts\":%" PRIu64
               ",\"peer_failures\":%" PRIu64 ",\"refused\":%" PRIu64
               ",\"utlb_hits\":%" PRIu64 ",\"utlb_misses\":%" PRIu64
               ",\"packets_in_flight\":%" PRIu64,
               c->retransmissions, c->timeouts, c->peer_failures, c->refused,
               c->utlb_hits, c->utlb_misses, c->in_flight);
        const struct nicm_fault_stats *fs = &c->fstats;
        printf(",\"faults_injected\":{\"drop\":%" PRIu64
               ",\"corrupt\":%" PRIu64 ",\"dup\":%" PRIu64
               ",\"reorder\":%" PRIu64 ",\"link_down\":%" PRIu64
               ",\"nic_down\":%" PRIu64 ",\"crc_discards\":%" PRIu64 "}",
               fs->dropped, fs->corrupted, fs->duplicated, fs->reordered,
               fs->link_down_drops, fs->nic_down_drops, fs->crc_discards);
        if (c->fault_log)
            printf(",\"fault_list\":\"%s\"", c->fault_log);
        if (c->stats_text) /* --stats: per NIC and per link */
            fputs(c->stats_text, stdout);
        print_latencies(c, 1);
        printf(",\"fabric\":\"%s\"", nicm_fabric_name(c->fabric));
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf(",\"sim_time_us\":%.3f,\"wall_s\":%.6f,\"events\":%" PRIu64
               ",\"packets\":%" PRIu64 ",\"peak_rss_kb\":%ld}\n",
               (double)c->end_time / 1e6, c->wall_s, c->events, c->packets,
               ru.ru_maxrss);
        return;
    }
    printf("vmmcsim %s%s on %s, profile %s, seed %" PRIu64 "\n",
           c->wl->name, c->wopts.bidir ? " (bidirectional)" : "",
           c->platform, c->profile, c->wopts.seed);
    printf("%12s %12s %15s\n", "size_bytes", "latency_us", "bandwidth_MBps");
    for (int i = 0; i < sh->nrows; i++)
        printf("%12" PRIu64 " %12.3f %15.3f\n", sh->rows[i].size,
               sh->rows[i].latency_us, sh->rows[i].bandwidth_MBps);
}

/* The published figures the profile names, next to what we got: compared
 * (the difference in %) only on the platform they were measured on, when
 * the profile names it. */
static void print_reference(const struct cli *c, const struct nicm_profile *p)
{
    const struct wl_shared *sh = &c->sh;
    if (c->fmt != FMT_TABLE || !sh->nrows)
        return;
    const char *base = strrchr(c->platform, '/');
    base = base ? base + 1 : c->platform;
    int other = p->ref_platform[0] && strcmp(base, p->ref_platform);
    if (!strcmp(c->wl->name, "pingpong") && p->ref_latency_us > 0 &&
        sh->rows[0].size == 4) {
        double v = sh->rows[0].latency_us;
        if (other)
            printf("\none-word (4 B) latency: simulated %.2f us (published "
                   "%.2f us, on %s)\n",
                   v, p->ref_latency_us, p->ref_platform);
        else
            printf("\none-word (4 B) latency: simulated %.2f us, published "
                   "%.2f us (%+.1f%%)\n",
                   v, p->ref_latency_us,
                   100.0 * (v - p->ref_latency_us) / p->ref_latency_us);
    }
    if (!strcmp(c->wl->name, "bandwidth") && !c->wopts.bidir &&
        p->ref_bandwidth_MBps > 0) {
        double best = 0;
        uint64_t at = 0;
        for (int i = 0; i < sh->nrows; i++)
            if (sh->rows[i].bandwidth_MBps > best) {
                best = sh->rows[i].bandwidth_MBps;
                at = sh->rows[i].size;
            }
        if (other)
            printf("\npeak bandwidth: simulated %.1f MB/s (at %" PRIu64
                   " B; published %.1f MB/s, on %s)\n",
                   best, at, p->ref_bandwidth_MBps, p->ref_platform);
        else
            printf("\npeak bandwidth: simulated %.1f MB/s (at %" PRIu64
                   " B), published %.1f MB/s (%+.1f%%)\n",
                   best, at, p->ref_bandwidth_MBps,
                   100.0 * (best - p->ref_bandwidth_MBps) /
                       p->ref_bandwidth_MBps);
    }
}

/* ---- The run command ---- */

static int take_value(int argc, char **argv, int *i, const char **out)
{
    if (*i + 1 >= argc)
        return -1;
    *out = argv[++*i];
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    static struct cli c;
    memset(&c, 0, sizeof c);
    c.wopts.seed = 1;
    c.faults.drop = c.faults.corrupt = c.faults.dup = c.faults.reorder = -1;
    c.faults.reorder_delay_max = -1;
    char **wargv = calloc((size_t)argc + 1, sizeof *wargv);
    int wargc = 0;
    if (!wargv)
        return bad("out of memory");
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--platform") || !strcmp(a, "--profile") ||
            !strcmp(a, "--seed") || !strcmp(a, "--log") ||
            !strcmp(a, "--max-time")) {
            if (take_value(argc, argv, &i, &v)) {
                rc = bad("option %s: missing value", a);
                goto out;
            }
            if (a[2] == 'p' && a[4] == 'a')
                c.platform = v;
            else if (a[2] == 'p')
                c.profile = v;
            else if (a[2] == 's') {
                if (cli__parse_seed(v, &c.wopts.seed)) {
                    rc = bad("option --seed: '%s' is not a non-negative "
                             "integer",
                             v);
                    goto out;
                }
            } else if (a[2] == 'l') {
                if (log_parse_levels(v)) {
                    rc = bad("option --log: bad spec '%s' (want e.g. "
                             "vmmc=debug,nicm=info)",
                             v);
                    goto out;
                }
            } else if (cli__parse_time(v, &c.max_time)) {
                rc = bad("option --max-time: '%s' is not a time like 500ms",
                         v);
                goto out;
            }
        } else if (!strcmp(a, "--faults")) {
            if (take_value(argc, argv, &i, &v)) {
                rc = bad("option %s: missing value", a);
                goto out;
            }
            if ((rc = parse_faults(&c, v)))
                goto out;
            rc = 2;
        } else if (!strcmp(a, "--csv")) {
            c.fmt = FMT_CSV;
        } else if (!strcmp(a, "--json")) {
            c.fmt = FMT_JSON;
        } else if (!strcmp(a, "--stats")) {
            c.stats = 1;
        } else if (!strcmp(a, "--dry-run")) {
            c.dry_run = 1;
        } else if (!strcmp(a, "--timeline")) {
            if (take_value(argc, argv, &i, &v) || !*v) {
                rc = bad("option --timeline: missing file name");
                goto out;
            }
            c.timeline = v;
        } else if (!strcmp(a, "--fabric")) {
            if (take_value(argc, argv, &i, &v)) {
                rc = bad("option --fabric: missing value (packet or flow)");
                goto out;
            }
            if (nicm_fabric_parse(v, &c.fabric)) {
                rc = bad("option --fabric: '%s' is not packet or flow", v);
                goto out;
            }
        } else if (!strcmp(a, "--record-faults")) {
            c.faults.record = 1;
        } else if (!strcmp(a, "--fault-list") || !strcmp(a, "--nodes")) {
            if (take_value(argc, argv, &i, &v)) {
                rc = bad("option %s: missing value", a);
                goto out;
            }
            if (a[2] == 'f') {
                if (c.faults.has_picks) {
                    rc = bad("option --fault-list: given twice");
                    goto out;
                }
                if ((rc = parse_fault_list(&c, v)))
                    goto out;
                rc = 2;
            } else {
                char *end;
                long k = strtol(v, &end, 10);
                if (!*v || *end || k < 1 || k > 1000000) {
                    rc = bad("option --nodes: '%s' is not a node count", v);
                    goto out;
                }
                c.nodes = (int)k;
            }
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!c.wl) {
            if (a[0] == '-') {
                rc = bad("unknown option '%s' (see vmmcsim --help)", a);
                goto out;
            }
            c.wl = wl_find(a);
            if (!c.wl) {
                rc = bad("unknown workload '%s' (see vmmcsim --help)", a);
                goto out;
            }
        } else {
            wargv[wargc++] = argv[i];
        }
    }
    if (!c.wl) {
        rc = bad("no workload given (see vmmcsim --help)");
        goto out;
    }
    char err[1024] = "";
    if (c.wl->parse(&c.wopts, wargc, wargv, err, sizeof err)) {
        rc = bad("%s: %s", c.wl->name, err);
        goto out;
    }
    if (c.dry_run) { /* the whole command line parsed: that was all */
        rc = 0;
        goto out;
    }
    c.sh.opts = &c.wopts;
    c.sh.lat = &c.lat;
    if (!c.platform)
        c.platform = cli__default_config(DEFAULT_PLATFORM, c.platform_buf,
                                    sizeof c.platform_buf);
    if (!c.profile)
        c.profile = cli__default_config(DEFAULT_PROFILE, c.profile_buf,
                                   sizeof c.profile_buf);
    struct cl_run r = {.platform = c.platform,
                       .profile = c.profile,
                       .node_main = node_main,
                       .arg = &c,
                       .min_nodes = c.wl->min_nodes,
                       .nodes = c.nodes,
                       .timeline = c.timeline,
                       .max_time = c.max_time,
                       .report = report,
                       .faults = &c.faults,
                       .seed = c.wopts.seed,
                       .fabric = c.fabric};
    c.prof = &r.prof;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Rows first, then the run's summary from the report callback. */
    int run = cl_run(&r, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c.faults_active = r.faults_active;
    c.wall_s = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (run == VS_ECONFIG) {
        rc = bad("%s", err);
        goto out;
    }
    if (run) {
        /* --json still says what the failed run was (for the shrinker). */
        if (c.fmt == FMT_JSON && c.nnodes) {
            printf("{\"failed\":true,\"nodes\":%d", c.nnodes);
            if (c.fault_log)
                printf(",\"fault_list\":\"%s\"", c.fault_log);
            printf("}\n");
        }
        fprintf(stderr, "vmmcsim: run failed: %s: %s\n", vs_strerror(run),
                err);
        rc = 1;
        goto out;
    }
    if (vs_inv_count()) {
        fprintf(stderr, "vmmcsim: run failed: %" PRIu64 " invariant "
                        "violation(s), the first: %s\n",
                vs_inv_count(), vs_inv_first());
        rc = 1;
        goto out;
    }
    if (c.sh.failed) {
        fprintf(stderr, "vmmcsim: workload %s failed: %s\n", c.wl->name,
                c.sh.error);
        rc = 1;
        goto out;
    }
    print_rows(&c);
    print_reference(&c, &r.prof);
    if (c.fmt == FMT_TABLE && c.sh.ctr.present) {
        const struct wl_counters *k = &c.sh.ctr;
        printf("\nmessages: %" PRIu64 " sent, %" PRIu64 " delivered, %" PRIu64
               " bytes verified, %" PRIu64 " corrupt, %" PRIu64
               " duplicated, %" PRIu64 " send errors, %" PRIu64
               " bytes changed outside every message\n",
               k->messages_sent, k->messages_delivered, k->bytes_verified,
               k->corrupt_delivered, k->duplicates_delivered, k->send_errors,
               k->bytes_outside_changed);
    }
    if (c.fmt == FMT_TABLE)
        printf("reliable link: %" PRIu64 " retransmissions, %" PRIu64
               " timeouts, %" PRIu64 " peers declared unreachable\n",
               c.retransmissions, c.timeouts, c.peer_failures);
    if (c.fmt == FMT_TABLE && (c.stats || c.faults_active)) {
        const struct nicm_fault_stats *fs = &c.fstats;
        printf("faults injected: %" PRIu64 " dropped, %" PRIu64
               " corrupted (%" PRIu64 " discarded by CRC), %" PRIu64
               " duplicated, %" PRIu64 " reordered, %" PRIu64
               " link-down drops, %" PRIu64 " NIC-down drops\n",
               fs->dropped, fs->corrupted, fs->crc_discards, fs->duplicated,
               fs->reordered, fs->link_down_drops, fs->nic_down_drops);
    }
    if (c.stats_text && c.fmt == FMT_TABLE)
        fputs(c.stats_text, stdout);
    if (c.fmt == FMT_TABLE && c.stats)
        print_latencies(&c, 0);
    if (c.fmt == FMT_TABLE)
        printf("\nsimulated %.3f ms in %.2f s of wall time (%" PRIu64
               " events)\n",
               (double)c.end_time / 1e9, c.wall_s, c.events);
    rc = 0;
out:
    fflush(stdout);
    free(c.stats_text);
    wl_latency_free(&c.lat);
    free_faults(&c);
    free(wargv);
    return rc;
}

int cli_main(int argc, char **argv)
{
    const char *env = getenv("VMMCSIM_LOG");
    if (env && log_parse_levels(env))
        return bad("VMMCSIM_LOG: bad spec '%s' (want e.g. vmmc=debug)", env);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 2, argv + 2);
    if (!strcmp(argv[1], "sweep"))
        return cli_sweep(argc - 2, argv + 2);
    if (!strcmp(argv[1], "bench"))
        return cli_bench(argc - 2, argv + 2);
    if (!strcmp(argv[1], "exec"))
        return cli_exec(argc - 2, argv + 2);
    if (!strcmp(argv[1], "replay"))
        return cli_replay(argc - 2, argv + 2);
    if (!strcmp(argv[1], "emu"))
        return cli_emu(argc - 2, argv + 2);
    if (!strcmp(argv[1], "emu-node"))
        return cli_emu_node(argc - 2, argv + 2);
    return bad("unknown command '%s' (see vmmcsim --help)", argv[1]);
}
