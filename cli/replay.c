/*
 * vmmcsim replay [options] TRACE...: replays a SimGrid time-independent
 * trace (what `smpirun -trace-ti` records) on the simulated cluster, rank
 * i on node i, and prints the simulated time and, per rank, the time it
 * spent computing, communicating and waiting (docs/replay.md).
 *
 * Every trace file is read and checked before the simulation starts
 * (libs/replay): bad input exits 2 naming file:line and the field.  A
 * replay that cannot finish (a receive nobody sends to, a rank stopped by
 * an error) ends in the simulator's deadlock detection and exits 1 naming
 * each rank's trace line; so does a replay that ends with messages nobody
 * received.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/cluster.h"
#include "libs/replay/replay.h"
#include "sim/engine.h"
#include "util/err.h"
#include "util/inv.h"
#include "util/log.h"
#include "vmmc/vmmc.h"

#define bad(...) cli__error("replay: ", __VA_ARGS__)
#define DEFAULT_PLATFORM "myrinet-16.xml"
#define DEFAULT_PROFILE "myrinet.ini"
/* msg imports two regions per peer (libs/msg/msg.h). */
#define MAX_RANKS (VMMC_MAX_IMPORTS / 2)

struct replay_cli {
    const char *platform, *profile;
    int json;
    struct replay_trace trace;
    struct replay_exec x;
    uint64_t events;
    double wall_s;
};

static void node_main(hw_host *h, void *arg)
{
    struct replay_cli *c = arg;
    replay_node_main(h, &c->x);
}

static double host_speed(void *arg, int node)
{
    (void)arg;
    return sim_host_speed((size_t)node);
}

static void report(const struct cl_report *rep, void *arg)
{
    struct replay_cli *c = arg;
    c->events = rep->events;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vmmcsim replay [--platform FILE] [--profile FILE] "
               "[--seed N]\n"
               "                      [--max-time T] [--json] [--log SPEC] "
               "TRACE...\n"
               "Replays a SimGrid time-independent trace (smpirun -trace-ti) "
               "on the\n"
               "simulated cluster: rank i runs on node i of the platform.  "
               "TRACE is an\n"
               "index file (one trace file per line, relative to its folder), "
               "one file\n"
               "per rank in rank order, or one file with every rank's lines.\n"
               "Computation takes flops / the host's speed in the platform "
               "file.\n"
               "Defaults: --platform configs/" DEFAULT_PLATFORM
               " --profile configs/" DEFAULT_PROFILE " --seed 1\n"
               "Prints the simulated time and, per rank, its compute, "
               "communication and\n"
               "wait times (a table, or one JSON object with --json).\n"
               "Exit status: 0 ok, 1 the replay failed (a deadlock, unmatched "
               "messages),\n"
               "2 bad input (the line and field are named).\n");
}

/* ---- Output ---- */

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static double sec(hw_time_t t)
{
    return (double)t / 1e12;
}

struct totals {
    hw_time_t start, end;
    uint64_t p2p, p2p_bytes, sent, received, eager, rndv, self;
};

static void add_up(const struct replay_cli *c, struct totals *s)
{
    const struct replay_trace *t = &c->trace;
    memset(s, 0, sizeof *s);
    for (int r = 0; r < t->nranks; r++) {
        const struct replay_rank_result *x = &c->x.res[r];
        if (r == 0 || x->start < s->start)
            s->start = x->start;
        if (x->end > s->end)
            s->end = x->end;
        s->p2p += t->ranks[r].sends;
        s->p2p_bytes += t->ranks[r].send_bytes;
        s->eager += x->msg.eager_sent;
        s->rndv += x->msg.rndv_sent;
        s->self += x->msg.self_sent;
        s->received += x->msg.received;
    }
    s->sent = s->eager + s->rndv + s->self;
}

static void print_json(const struct replay_cli *c, const char *traces,
                       uint64_t seed)
{
    const struct replay_trace *t = &c->trace;
    struct totals s;
    add_up(c, &s);
    printf("{\"command\":\"replay\",\"trace\":");
    json_str(traces);
    printf(",\"form\":\"%s\",\"platform\":", t->form);
    json_str(c->platform);
    printf(",\"profile\":");
    json_str(c->profile);
    printf(",\"seed\":%" PRIu64 ",\"ranks\":%d,\"actions\":%zu"
           ",\"sim_time_s\":%.9f,\"p2p_messages\":%" PRIu64
           ",\"p2p_bytes\":%" PRIu64 ",\"messages_sent\":%" PRIu64
           ",\"messages_received\":%" PRIu64 ",\"eager_sent\":%" PRIu64
           ",\"rndv_sent\":%" PRIu64 ",\"self_sent\":%" PRIu64
           ",\"wall_s\":%.6f,\"actions_per_s\":%.1f,\"events\":%" PRIu64
           ",\"rank_stats\":[",
           seed, t->nranks, t->total_actions, sec(s.end - s.start), s.p2p,
           s.p2p_bytes, s.sent, s.received, s.eager, s.rndv, s.self, c->wall_s,
           c->wall_s > 0 ? (double)t->total_actions / c->wall_s : 0.0,
           c->events);
    for (int r = 0; r < t->nranks; r++) {
        const struct replay_rank_result *x = &c->x.res[r];
        printf("%s{\"rank\":%d,\"trace\":", r ? "," : "", r);
        json_str(t->ranks[r].file);
        printf(",\"actions\":%zu,\"compute_s\":%.9f,\"comm_s\":%.9f"
               ",\"wait_s\":%.9f,\"start_s\":%.9f,\"end_s\":%.9f}",
               x->done, sec(x->compute), sec(x->comm), sec(x->wait),
               sec(x->start - s.start), sec(x->end - s.start));
    }
    printf("]}\n");
}

static void print_table(const struct replay_cli *c, const char *traces,
                        uint64_t seed)
{
    const struct replay_trace *t = &c->trace;
    struct totals s;
    add_up(c, &s);
    printf("vmmcsim replay of %s (%s, %d ranks, %zu actions) on %s, "
           "profile %s, seed %" PRIu64 "\n",
           traces, t->form, t->nranks, t->total_actions, c->platform,
           c->profile, seed);
    printf("%6s %8s %12s %12s %12s %12s  %s\n", "rank", "actions", "compute_ms",
           "comm_ms", "wait_ms", "end_ms", "trace");
    for (int r = 0; r < t->nranks; r++) {
        const struct replay_rank_result *x = &c->x.res[r];
        printf("%6d %8zu %12.6f %12.6f %12.6f %12.6f  %s\n", r, x->done,
               sec(x->compute) * 1e3, sec(x->comm) * 1e3, sec(x->wait) * 1e3,
               sec(x->end - s.start) * 1e3, t->ranks[r].file);
    }
    printf("\nsimulated time: %.6f ms (first rank's start to last rank's "
           "end)\n",
           sec(s.end - s.start) * 1e3);
    printf("messages: %" PRIu64 " point-to-point in the trace (%" PRIu64
           " bytes); msg sent %" PRIu64 " (eager %" PRIu64
           ", rendezvous %" PRIu64 ", to self %" PRIu64 "), received %" PRIu64
           "\n",
           s.p2p, s.p2p_bytes, s.sent, s.eager, s.rndv, s.self, s.received);
    printf("replayed %zu actions in %.3f s of wall time (%.0f actions/s, "
           "%" PRIu64 " events)\n",
           t->total_actions, c->wall_s,
           c->wall_s > 0 ? (double)t->total_actions / c->wall_s : 0.0,
           c->events);
}

/* ---- Failures ---- */

static void print_where(const struct replay_cli *c, int blocked_only)
{
    for (int r = 0; r < c->trace.nranks; r++) {
        int st = c->x.res[r].state;
        if (blocked_only && (st == REPLAY_ST_DONE || st == REPLAY_ST_FAILED))
            continue;
        char where[700];
        replay_where(&c->trace, c->x.res, r, where, sizeof where);
        fprintf(stderr, "vmmcsim: replay:   %s\n", where);
    }
}

/* After the run: every rank's errors, a deadlock, a trace not consumed,
 * messages nobody received.  Returns the exit status. */
static int check_run(struct replay_cli *c, int run, const char *err)
{
    const struct replay_trace *t = &c->trace;
    int failed = 0;
    for (int r = 0; r < t->nranks; r++)
        if (c->x.res[r].state == REPLAY_ST_FAILED) {
            fprintf(stderr, "vmmcsim: replay: rank %d failed: %s\n", r,
                    c->x.res[r].error);
            failed = 1;
        }
    if (run == VS_EDEADLK || run == VS_ETIMEDOUT) {
        /* "deadlock at t=... us: every process is blocked ...": the
         * simulator's words up to the first colon say when. */
        const char *colon = strchr(err, ':');
        int n = colon ? (int)(colon - err) : (int)strlen(err);
        fprintf(stderr,
                "vmmcsim: replay: %.*s: %s; where each rank "
                "stands:\n",
                n, err,
                run == VS_EDEADLK
                    ? "no rank can go on (the trace's sends, receives or "
                      "collectives do not match)"
                    : "the replay ran past --max-time");
        print_where(c, failed);
        return 1;
    }
    if (run) {
        fprintf(stderr, "vmmcsim: replay: run failed: %s: %s\n",
                vs_strerror(run), err);
        return 1;
    }
    if (failed)
        return 1;
    if (vs_inv_count()) {
        fprintf(stderr,
                "vmmcsim: replay: run failed: %" PRIu64
                " invariant violation(s), the first: %s\n",
                vs_inv_count(), vs_inv_first());
        return 1;
    }
    for (int r = 0; r < t->nranks; r++)
        if (c->x.res[r].state != REPLAY_ST_DONE ||
            c->x.res[r].done != t->ranks[r].nacts) {
            fprintf(stderr,
                    "vmmcsim: replay: rank %d replayed %zu of its "
                    "%zu actions\n",
                    r, c->x.res[r].done, t->ranks[r].nacts);
            return 1;
        }
    struct totals s;
    add_up(c, &s);
    if (s.sent != s.received) {
        char why[800];
        size_t k = replay_unmatched(t, why, sizeof why);
        fprintf(stderr,
                "vmmcsim: replay: %" PRIu64 " message(s) sent, %" PRIu64
                " received: %" PRIu64 " never received%s%s\n",
                s.sent, s.received, s.sent - s.received, k ? "; " : "",
                k ? why : "");
        return 1;
    }
    return 0;
}

/* ---- The command ---- */

int cli_replay(int argc, char **argv)
{
    struct replay_cli c = {0};
    char pbuf[PATH_MAX], fbuf[PATH_MAX], err[1024] = "";
    struct cl_run r = {0};
    uint64_t seed = 1;
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-')
            break;
        if (!strcmp(a, "--json")) {
            c.json = 1;
            continue;
        }
        if (!v)
            return bad("option %s: missing value", a);
        i++;
        if (!strcmp(a, "--platform")) {
            c.platform = v;
        } else if (!strcmp(a, "--profile")) {
            c.profile = v;
        } else if (!strcmp(a, "--seed")) {
            if (cli__parse_seed(v, &seed))
                return bad("option --seed: '%s' is not a non-negative "
                           "integer",
                           v);
        } else if (!strcmp(a, "--max-time")) {
            if (cli__parse_time(v, &r.max_time))
                return bad("option --max-time: '%s' is not a time like "
                           "500ms",
                           v);
        } else if (!strcmp(a, "--log")) {
            if (log_parse_levels(v))
                return bad("option --log: bad spec '%s'", v);
        } else {
            return bad("unknown option '%s' (see vmmcsim replay --help)", a);
        }
    }
    if (i >= argc)
        return bad("no trace given (see vmmcsim replay --help)");
    int rc = replay_load(&c.trace, argc - i, argv + i, err, sizeof err);
    if (rc)
        return bad("%s", err);
    const char *traces = argv[i];
    char label[PATH_MAX + 64];
    if (argc - i > 1) {
        snprintf(label, sizeof label, "%s ... (%d files)", argv[i], argc - i);
        traces = label;
    }
    rc = 2;
    if (c.trace.nranks > MAX_RANKS) {
        bad("the trace has %d ranks; msg runs at most %d (two VMMC imports "
            "per peer)",
            c.trace.nranks, MAX_RANKS);
        goto out;
    }
    c.platform = c.platform
                     ? c.platform
                     : cli__default_config(DEFAULT_PLATFORM, pbuf, sizeof pbuf);
    c.profile = c.profile
                    ? c.profile
                    : cli__default_config(DEFAULT_PROFILE, fbuf, sizeof fbuf);
    c.x = (struct replay_exec){.trace = &c.trace, .host_speed = host_speed};
    c.x.res = calloc((size_t)c.trace.nranks, sizeof *c.x.res);
    if (!c.x.res) {
        bad("out of memory");
        goto out;
    }
    r.platform = c.platform;
    r.profile = c.profile;
    r.node_main = node_main;
    r.arg = &c;
    r.min_nodes = c.trace.nranks;
    r.nodes = c.trace.nranks;
    r.report = report;
    r.seed = seed;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int run = cl_run(&r, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c.wall_s = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fflush(NULL);
    if (run == VS_ECONFIG) {
        bad("%s", err);
        goto out;
    }
    rc = check_run(&c, run, err);
    if (rc == 0) {
        if (c.json)
            print_json(&c, traces, seed);
        else
            print_table(&c, traces, seed);
    }
out:
    fflush(stdout);
    free(c.x.res);
    replay_free(&c.trace);
    return rc;
}
