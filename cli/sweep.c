/*
 * vmmcsim sweep: one scenario under many seeds (each seed a different fault
 * schedule, message sizes and contents), run as independent simulations in
 * worker processes, with invariants checked on every run:
 *   liveness   the run ended by itself: no deadlock, no wait past its bound,
 *              no simulated-time limit (a workload that gives up waiting is
 *              a liveness failure too);
 *   delivery   what the workload counted: every message delivered exactly
 *              once, nothing corrupt or duplicated, every byte verified,
 *              no send failed;
 *   simulator  no packet left in the fabric that was neither delivered nor
 *              dropped; no crash (a failed internal assertion, such as
 *              simulated time going backwards, kills the worker).
 * A failing seed prints the one command that reproduces it exactly.
 * Output: a summary, --json, and --junit FILE (one test case per seed).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/sweep.h"

const char *const sweep_kinds[SWEEP_NKINDS] = {
    "liveness", "delivery", "protection", "resources", "simulator", "input"};

#define bad(...) cli__error("sweep: ", __VA_ARGS__)

static int parse_range(const char *s, uint64_t *a, uint64_t *b)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long x = strtoull(s, &end, 10), y = x;
    if (*end == '-') {
        const char *t = end + 1;
        if (*t < '0' || *t > '9')
            return -1;
        y = strtoull(t, &end, 10);
    }
    if (*end || errno)
        return -1;
    *a = x;
    *b = y;
    return 0;
}

/* A top-level number of the run's JSON; -1 when absent. */
static double jnum(const char *json, const char *key)
{
    int found;
    double v = cli__json_num(json, key, &found);
    return found ? v : -1;
}

/* The string value of "key" in a run's JSON, unescaped into buf; "" when
 * absent. */
static void jstr(const char *json, const char *key, char *buf, size_t len)
{
    char pat[64];
    size_t n = 0;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (p)
        for (p += strlen(pat); *p && *p != '"' && n + 1 < len; p++) {
            if (*p == '\\' && p[1])
                p++;
            buf[n++] = *p;
        }
    buf[n] = 0;
}

void sweep__judge(struct sweep_result *r, const char *out, const char *err)
{
    const char *nl;
    char what[200];
    r->invariant = NULL;
    if (r->status >= 128) {
        r->invariant = "simulator";
        snprintf(r->message, sizeof r->message,
                 "the worker died (signal %d)", r->status - 128);
        return;
    }
    /* A violated invariant the simulator checked while running: its kind
     * is the first word of the message ("resources: ..."). */
    jstr(out, "first_violation", what, sizeof what);
    if (!*what && (nl = strstr(err, "invariant violated: ")))
        snprintf(what, sizeof what, "%.*s", (int)strcspn(nl + 20, "\n"),
                 nl + 20);
    if (*what) {
        r->invariant = "simulator";
        for (int k = 0; k < SWEEP_NKINDS; k++) {
            size_t kl = strlen(sweep_kinds[k]);
            if (!strncmp(what, sweep_kinds[k], kl) && what[kl] == ':')
                r->invariant = sweep_kinds[k];
        }
        snprintf(r->message, sizeof r->message, "%s", what);
        return;
    }
    if (r->status != 0) {
        r->invariant = r->status == 2 ? "input" : "liveness";
        nl = strchr(err, '\n');
        snprintf(r->message, sizeof r->message, "exit %d: %.*s", r->status,
                 (int)(nl ? nl - err : (long)strlen(err)), err);
        return;
    }
    if (jnum(out, "packets_in_flight") > 0) {
        r->invariant = "simulator";
        snprintf(r->message, sizeof r->message,
                 "%.0f packets neither delivered nor dropped",
                 jnum(out, "packets_in_flight"));
        return;
    }
    if (jnum(out, "bytes_outside_changed") > 0) {
        r->invariant = "protection";
        snprintf(r->message, sizeof r->message,
                 "%.0f bytes outside every message's range changed",
                 jnum(out, "bytes_outside_changed"));
        return;
    }
    double sent = jnum(out, "messages_sent");
    if (sent < 0)
        return; /* the workload counts no messages */
    double got = jnum(out, "messages_delivered");
    double corrupt = jnum(out, "corrupt_delivered");
    double dups = jnum(out, "duplicates_delivered");
    double errs = jnum(out, "send_errors");
    double bytes = jnum(out, "bytes_delivered");
    double verified = jnum(out, "bytes_verified");
    if (got != sent || corrupt != 0 || dups != 0 || errs != 0 ||
        (verified > 0 && verified != bytes)) {
        r->invariant = "delivery";
        snprintf(r->message, sizeof r->message,
                 "%.0f sent, %.0f delivered, %.0f corrupt, %.0f duplicated, "
                 "%.0f send errors, %.0f of %.0f bytes verified",
                 sent, got, corrupt, dups, errs, verified, bytes);
    }
}

static char **run_argv_for(char **args, int nargs, char *seed)
{
    char **v = calloc((size_t)nargs + 6, sizeof *v);
    if (!v)
        return NULL;
    v[0] = "vmmcsim";
    v[1] = "run";
    v[2] = "--json";
    v[3] = "--seed";
    v[4] = seed;
    for (int i = 0; i < nargs; i++)
        v[5 + i] = args[i];
    return v;
}

int sweep__run_one(char **args, int nargs, struct sweep_result *r)
{
    static char out[8u << 20], err[4096]; /* --json of a large cluster */
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, r->seed);
    char **v = run_argv_for(args, nargs, seed);
    if (!v)
        return -1;
    r->status = cli__run_child(nargs + 5, v, out, sizeof out, err, sizeof err);
    free(v);
    if (r->status < 0)
        return -1;
    r->done = 1;
    sweep__judge(r, out, err);
    return 0;
}

struct worker {
    pid_t pid;
    size_t idx;
    FILE *out, *err;
};

static int start(struct sweep *sw, struct worker *w, size_t idx)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, sw->res[idx].seed);
    w->out = tmpfile();
    w->err = tmpfile();
    if (!w->out || !w->err)
        return -1;
    sw->run_argv[sw->seed_pos] = seed;
    w->pid = cli__spawn(sw->run_argc, sw->run_argv, w->out, w->err);
    sw->run_argv[sw->seed_pos] = "0";
    w->idx = idx;
    return w->pid > 0 ? 0 : -1;
}

const char *sweep__program(void)
{
    /* This very binary when it is vmmcsim (the tests run sweeps from
     * their own executable). */
    static char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        /* Rebuilt while it runs: the path is still the one to print. */
        if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
            exe[n - 10] = 0;
        const char *base = strrchr(exe, '/');
        if (base && !strcmp(base + 1, "vmmcsim"))
            return exe;
    }
    return "vmmcsim";
}

void sweep__reproducer(char **args, int nargs, uint64_t seed, FILE *f)
{
    fprintf(f, "%s run --seed %" PRIu64, sweep__program(), seed);
    for (int i = 0; i < nargs; i++)
        fprintf(f, " %s", args[i]);
}

static int run_all(struct sweep *sw)
{
    struct worker *ws = calloc((size_t)sw->jobs, sizeof *ws);
    static char out[8u << 20], err[4096]; /* --json of a large cluster */
    if (!ws)
        return bad("out of memory");
    size_t next = 0, finished = 0;
    int running = 0;
    while (finished < sw->nres) {
        while (running < sw->jobs && next < sw->nres) {
            int slot = 0;
            while (ws[slot].pid)
                slot++;
            if (start(sw, &ws[slot], next)) {
                free(ws);
                return bad("cannot start a worker: %s", strerror(errno));
            }
            next++;
            running++;
        }
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < sw->jobs; i++) {
            if (ws[i].pid != pid)
                continue;
            struct sweep_result *r = &sw->res[ws[i].idx];
            r->done = 1;
            r->status = WIFEXITED(status)    ? WEXITSTATUS(status)
                        : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                              : 255;
            cli__slurp(ws[i].out, out, sizeof out);
            cli__slurp(ws[i].err, err, sizeof err);
            sweep__judge(r, out, err);
            fclose(ws[i].out);
            fclose(ws[i].err);
            ws[i].pid = 0;
            running--;
            finished++;
        }
    }
    free(ws);
    return 0;
}

static void xml_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int write_junit(const struct sweep *sw, size_t failures)
{
    FILE *f = fopen(sw->junit, "w");
    if (!f)
        return bad("--junit %s: cannot write: %s", sw->junit, strerror(errno));
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuite name=\"vmmcsim sweep\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"0\" time=\"%.3f\">\n",
            sw->nres, failures, sw->wall);
    for (size_t i = 0; i < sw->nres; i++) {
        const struct sweep_result *r = &sw->res[i];
        fprintf(f, "  <testcase classname=\"sweep\" name=\"seed %" PRIu64
                   "\"",
                r->seed);
        if (!r->invariant) {
            fputs("/>\n", f);
            continue;
        }
        fprintf(f, ">\n    <failure type=\"%s\" message=\"", r->invariant);
        xml_escape(f, r->message);
        fputs("\">reproduce: ", f);
        char cmd[4096];
        FILE *m = fmemopen(cmd, sizeof cmd, "w");
        if (m) {
            sweep__reproducer(SWEEP_ARGS(sw), SWEEP_NARGS(sw), r->seed, m);
            fclose(m);
            xml_escape(f, cmd);
        }
        fputs("</failure>\n  </testcase>\n", f);
    }
    fputs("</testsuite>\n", f);
    if (fclose(f))
        return bad("--junit %s: write failed", sw->junit);
    return 0;
}

int sweep__report(struct sweep *sw)
{
    /* The first bad seed being a configuration error means the scenario
     * itself is wrong: report it as bad input. */
    if (sw->res[0].invariant && !strcmp(sw->res[0].invariant, "input")) {
        fprintf(stderr, "vmmcsim: error: sweep: the scenario does not run: "
                        "%s\n",
                sw->res[0].message);
        return 2;
    }
    size_t by_kind[SWEEP_NKINDS] = {0}, failures = 0;
    double rate = sw->wall > 0 ? (double)sw->nres / sw->wall : 0;
    for (size_t i = 0; i < sw->nres; i++) {
        const struct sweep_result *r = &sw->res[i];
        if (!r->invariant)
            continue;
        failures++;
        for (int k = 0; k < SWEEP_NKINDS; k++)
            by_kind[k] += !strcmp(r->invariant, sweep_kinds[k]);
        if (!sw->json) {
            printf("seed %" PRIu64 " FAILED (%s): %s\n  reproduce: ", r->seed,
                   r->invariant, r->message);
            sweep__reproducer(SWEEP_ARGS(sw), SWEEP_NARGS(sw), r->seed,
                              stdout);
            printf("\n");
        }
    }
    if (sw->json) {
        printf("{\"seeds\":%zu,\"passed\":%zu,\"failed\":%zu,\"failures\":{",
               sw->nres, sw->nres - failures, failures);
        for (int k = 0; k < SWEEP_NKINDS; k++)
            printf("%s\"%s\":%zu", k ? "," : "", sweep_kinds[k], by_kind[k]);
        printf("},\"failed_seeds\":[");
        int first = 1;
        for (size_t i = 0; i < sw->nres; i++)
            if (sw->res[i].invariant) {
                printf("%s%" PRIu64, first ? "" : ",", sw->res[i].seed);
                first = 0;
            }
        printf("],\"wall_s\":%.3f,\"runs_per_s\":%.2f}\n", sw->wall, rate);
    } else {
        printf("sweep: %zu seeds (%" PRIu64 "-%" PRIu64 "), %zu passed, %zu "
               "failed (",
               sw->nres, sw->first, sw->last, sw->nres - failures, failures);
        for (int k = 0; k < SWEEP_NKINDS; k++)
            printf("%s%s %zu", k ? ", " : "", sweep_kinds[k], by_kind[k]);
        printf("); %.1f runs/s\n", rate);
        printf("%zu passed, %zu failed\n", sw->nres - failures, failures);
    }
    if (sw->junit && write_junit(sw, failures))
        return 2;
    return failures ? 1 : 0;
}

static void usage(void)
{
    printf("usage: vmmcsim sweep --seeds A-B [--jobs N] [--json] "
           "[--junit FILE] [--shrink]\n"
           "                     [--results FILE] [run options] WORKLOAD "
           "[workload options]\n"
           "       vmmcsim sweep --emit-slurm DIR [--tasks N] --seeds A-B "
           "[run options] WORKLOAD ...\n"
           "       vmmcsim sweep --merge DIR [--json] [--junit FILE]\n"
           "Invariants: liveness, delivery, protection, resources, "
           "simulator.\n"
           "Exit status: 0 every seed passed, 1 a seed failed, 2 bad "
           "input.\n");
}

static int dir_arg(const char *opt, const char *v, const char **out)
{
    if (!v || !*v)
        return bad("%s: missing directory name", opt);
    *out = v;
    return 0;
}

int cli_sweep(int argc, char **argv)
{
    struct sweep sw = {.jobs = 2, .tasks = 4};
    int have_seeds = 0, args_from_dir = 0;
    sw.run_argv = calloc((size_t)argc + 8, sizeof *sw.run_argv);
    if (!sw.run_argv)
        return bad("out of memory");
    sw.run_argv[sw.run_argc++] = "vmmcsim";
    sw.run_argv[sw.run_argc++] = "run";
    sw.run_argv[sw.run_argc++] = "--json";
    sw.run_argv[sw.run_argc++] = "--seed";
    sw.seed_pos = sw.run_argc;
    sw.run_argv[sw.run_argc++] = "0";
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int before_workload = sw.run_argc == sw.seed_pos + 1;
        if (!strcmp(a, "--seeds")) {
            if (!v || parse_range(v, &sw.first, &sw.last)) {
                rc = bad("--seeds: expected A-B (or one seed), got '%s'",
                         v ? v : "");
                goto out;
            }
            if (sw.last < sw.first) {
                rc = bad("--seeds %s: the range is reversed", v);
                goto out;
            }
            if (sw.last - sw.first >= 10000000) {
                rc = bad("--seeds %s: more than 10000000 seeds", v);
                goto out;
            }
            have_seeds = 1;
            i++;
        } else if (!strcmp(a, "--jobs") || !strcmp(a, "--tasks")) {
            char *end;
            long j = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || j < 1 || j > (a[2] == 'j' ? 256 : 100000)) {
                rc = bad("%s: expected 1 to %d, got '%s'", a,
                         a[2] == 'j' ? 256 : 100000, v ? v : "");
                goto out;
            }
            *(a[2] == 'j' ? &sw.jobs : &sw.tasks) = (int)j;
            i++;
        } else if (!strcmp(a, "--junit") || !strcmp(a, "--results")) {
            if (!v || !*v) {
                rc = bad("%s: missing file name", a);
                goto out;
            }
            *(a[2] == 'j' ? &sw.junit : &sw.results) = v;
            i++;
        } else if (!strcmp(a, "--emit-slurm")) {
            if ((rc = dir_arg(a, v, &sw.emit_dir)))
                goto out;
            rc = 2;
            i++;
        } else if (!strcmp(a, "--merge")) {
            if ((rc = dir_arg(a, v, &sw.merge_dir)))
                goto out;
            rc = 2;
            i++;
        } else if (!strcmp(a, "--shrink") && before_workload) {
            sw.shrink = 1;
        } else if (!strcmp(a, "--json") && !sw.json && before_workload) {
            sw.json = 1; /* before the workload: the sweep's output */
        } else if ((!strcmp(a, "--help") || !strcmp(a, "-h")) &&
                   before_workload) {
            usage();
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--seed") || !strcmp(a, "--csv")) {
            rc = bad("%s: the sweep chooses the seed and the output", a);
            goto out;
        } else {
            sw.run_argv[sw.run_argc++] = argv[i];
        }
    }
    if (sw.merge_dir) {
        if (have_seeds || SWEEP_NARGS(&sw) || sw.emit_dir || sw.results ||
            sw.shrink) {
            rc = bad("--merge DIR takes only --json and --junit FILE (the "
                     "scenario is in DIR)");
            goto out;
        }
    } else {
        if (!have_seeds) {
            rc = bad("--seeds A-B is required");
            goto out;
        }
        if (!SWEEP_NARGS(&sw)) {
            rc = bad("no workload given");
            goto out;
        }
        for (int i = 0; i < SWEEP_NARGS(&sw); i++)
            if (strpbrk(SWEEP_ARGS(&sw)[i], "\n\t")) {
                rc = bad("argument '%s': tabs and newlines are not allowed "
                         "in a scenario",
                         SWEEP_ARGS(&sw)[i]);
                goto out;
            }
    }
    if (sw.emit_dir) {
        rc = sweep__emit_slurm(&sw);
        goto out;
    }
    if (sw.junit) { /* fail early on an unwritable file */
        FILE *f = fopen(sw.junit, "w");
        if (!f) {
            rc = bad("--junit %s: cannot write: %s", sw.junit,
                     strerror(errno));
            goto out;
        }
        fclose(f);
    }
    if (sw.merge_dir) {
        args_from_dir = 1;
        if ((rc = sweep__merge(&sw)))
            goto out;
        rc = sweep__report(&sw);
        goto out;
    }
    if (sw.results) { /* the same for the results file */
        FILE *f = fopen(sw.results, "w");
        if (!f) {
            rc = bad("--results %s: cannot write: %s", sw.results,
                     strerror(errno));
            goto out;
        }
        fclose(f);
    }
    sw.nres = (size_t)(sw.last - sw.first + 1);
    sw.res = calloc(sw.nres, sizeof *sw.res);
    if (!sw.res) {
        rc = bad("out of memory for %zu seeds", sw.nres);
        goto out;
    }
    for (size_t i = 0; i < sw.nres; i++)
        sw.res[i].seed = sw.first + i;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = run_all(&sw)))
        goto out;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sw.wall = (double)(t1.tv_sec - t0.tv_sec) +
              (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (sw.results && (rc = sweep__write_results(&sw)))
        goto out;
    rc = sweep__report(&sw);
    if (rc == 1 && sw.shrink) {
        fflush(stdout);
        int s = sweep__shrink(&sw);
        if (s == 2)
            rc = 2;
    }
out:
    fflush(stdout);
    /* The scenario's arguments were read from DIR (strdup'd); until then
     * they are the command line's own. */
    if (args_from_dir)
        for (int i = sw.seed_pos + 1; i < sw.run_argc; i++)
            free(sw.run_argv[i]);
    free(sw.res);
    free(sw.run_argv);
    return rc;
}
