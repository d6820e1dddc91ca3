/*
 * vmmcsim bench --baseline FILE: compares a run's key figures (latency and
 * bandwidth per size, completion time, retransmissions, packets) with a
 * stored baseline and exits 1 naming each figure that moved, by how much.
 * Simulated figures are deterministic, so the default tolerance is zero (a
 * figure must match to the three decimals the run prints); a baseline may
 * give any metric a relative tolerance.  --update-baseline writes the file
 * from the run.  The baseline also stores the run's arguments, so
 * `vmmcsim bench --baseline FILE` alone re-runs and checks it.
 *
 * The file is a small JSON object this program writes:
 *   {"args":["--platform","configs/myrinet-2.xml","pingpong"],
 *    "metrics":[{"name":"latency_us@4","value":9.798,"tolerance":0}, ...]}
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

#define MAX_METRICS 256
#define MAX_ARGS 64

struct metric {
    char name[64];
    double value, tolerance;
};

struct figures {
    struct metric m[MAX_METRICS];
    int n;
};

#define bad(...) cli__error("bench: ", __VA_ARGS__)

static void add(struct figures *f, const char *name, double v)
{
    if (f->n == MAX_METRICS)
        return;
    snprintf(f->m[f->n].name, sizeof f->m[f->n].name, "%s", name);
    f->m[f->n].value = v;
    f->m[f->n].tolerance = 0;
    f->n++;
}

/* The figures of a run's --json output. */
static int extract(const char *json, struct figures *f)
{
    f->n = 0;
    const char *p = strstr(json, "\"rows\":[");
    if (!p)
        return -1;
    for (p = strchr(p, '{'); p && *p == '{';) {
        unsigned long long size;
        double lat, bw;
        if (sscanf(p, "{\"size_bytes\":%llu,\"latency_us\":%lf,"
                      "\"bandwidth_MBps\":%lf}",
                   &size, &lat, &bw) != 3)
            return -1;
        char name[64];
        snprintf(name, sizeof name, "latency_us@%llu", size);
        add(f, name, lat);
        snprintf(name, sizeof name, "bandwidth_MBps@%llu", size);
        add(f, name, bw);
        p = strchr(p, '}');
        p = p && p[1] == ',' ? p + 2 : NULL;
    }
    static const char *const keys[] = {"sim_time_us", "retransmissions",
                                        "packets", "messages_delivered"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        int found;
        double v = cli__json_num(json, keys[i], &found);
        if (found)
            add(f, keys[i], v);
    }
    return f->n ? 0 : -1;
}

/* ---- The baseline file ---- */

struct baseline {
    char *args[MAX_ARGS];
    int nargs;
    struct figures f;
};

static void free_baseline(struct baseline *b)
{
    for (int i = 0; i < b->nargs; i++)
        free(b->args[i]);
    b->nargs = 0;
}

/* Reads a JSON string at *p (after the opening quote), unescaping \" and
 * \\; returns a malloc'd copy or NULL. */
static char *read_str(const char **p)
{
    const char *s = *p;
    size_t cap = strlen(s) + 1, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    while (*s && *s != '"') {
        if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
            s++;
        out[n++] = *s++;
    }
    if (*s != '"') {
        free(out);
        return NULL;
    }
    out[n] = 0;
    *p = s + 1;
    return out;
}

static int load(const char *path, struct baseline *b, char *why, size_t wl)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(why, wl, "cannot open: %s", strerror(errno));
        return -1;
    }
    static char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, fp);
    int more = fgetc(fp) != EOF;
    fclose(fp);
    text[len] = 0;
    if (more) { /* never judge a run on half a file */
        snprintf(why, wl, "larger than %zu bytes (a baseline holds a few "
                          "figures; is this the right file?)",
                 sizeof text - 1);
        return -1;
    }
    const char *p = strstr(text, "\"args\":[");
    if (!p) {
        snprintf(why, wl, "no \"args\" list");
        return -1;
    }
    p += 8;
    while (*p == '"' && b->nargs < MAX_ARGS) {
        p++;
        char *a = read_str(&p);
        if (!a) {
            snprintf(why, wl, "an unterminated string in \"args\"");
            return -1;
        }
        b->args[b->nargs++] = a;
        if (*p == ',')
            p++;
    }
    if (*p != ']') {
        snprintf(why, wl, "\"args\" is not a list of strings");
        return -1;
    }
    p = strstr(p, "\"metrics\":[");
    if (!p) {
        snprintf(why, wl, "no \"metrics\" list");
        return -1;
    }
    b->f.n = 0;
    for (p = strchr(p, '{'); p; p = strchr(p + 1, '{')) {
        struct metric *m = &b->f.m[b->f.n];
        int used = 0;
        if (b->f.n == MAX_METRICS ||
            sscanf(p, "{\"name\":\"%63[^\"]\",\"value\":%lf,\"tolerance\":%lf}%n",
                   m->name, &m->value, &m->tolerance, &used) != 3 ||
            !used || !isfinite(m->value) || !(m->tolerance >= 0)) {
            snprintf(why, wl, "metric %d is malformed (want "
                              "{\"name\":...,\"value\":...,\"tolerance\":...})",
                     b->f.n + 1);
            return -1;
        }
        b->f.n++;
    }
    if (!b->f.n) {
        snprintf(why, wl, "the \"metrics\" list is empty");
        return -1;
    }
    return 0;
}

int cli__baseline_check(const char *path, char *why, size_t wl)
{
    struct baseline *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, wl, "out of memory");
        return -1;
    }
    int rc = load(path, b, why, wl);
    free_baseline(b);
    free(b);
    return rc;
}

static int save(const char *path, char **args, int nargs,
                const struct figures *f)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return bad("--baseline %s: cannot write: %s", path, strerror(errno));
    fputs("{\"args\":[", fp);
    for (int i = 0; i < nargs; i++) {
        fputs(i ? ",\"" : "\"", fp);
        for (const char *s = args[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                fputc('\\', fp);
            fputc(*s, fp);
        }
        fputc('"', fp);
    }
    fputs("],\n \"metrics\":[\n", fp);
    for (int i = 0; i < f->n; i++)
        fprintf(fp, "  {\"name\":\"%s\",\"value\":%.3f,\"tolerance\":0}%s\n",
                f->m[i].name, f->m[i].value, i + 1 < f->n ? "," : "");
    fputs(" ]}\n", fp);
    if (fclose(fp))
        return bad("--baseline %s: write failed", path);
    return 0;
}

/* Same to the printed precision, or within the relative tolerance. */
static int matches(double base, double now, double tol)
{
    if (tol == 0)
        return llround(base * 1000) == llround(now * 1000);
    return fabs(now - base) <= tol * fabs(base);
}

int cli_bench(int argc, char **argv)
{
    const char *path = NULL;
    int update = 0;
    char *rest[MAX_ARGS];
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--baseline")) {
            if (i + 1 >= argc)
                return bad("--baseline: missing file name");
            path = argv[++i];
        } else if (!strcmp(argv[i], "--update-baseline")) {
            update = 1;
        } else if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "--csv")) {
            return bad("%s: bench chooses the run's output", argv[i]);
        } else if (nrest < MAX_ARGS) {
            rest[nrest++] = argv[i];
        } else {
            return bad("too many arguments");
        }
    }
    if (!path)
        return bad("--baseline FILE is required");
    struct baseline b = {0};
    char why[256];
    if (!update || !nrest) {
        if (load(path, &b, why, sizeof why)) {
            free_baseline(&b);
            return bad("--baseline %s: %s", path, why);
        }
        if (!nrest) { /* the baseline's own arguments */
            for (int i = 0; i < b.nargs; i++)
                rest[nrest++] = b.args[i];
        }
    }
    char *run_argv[MAX_ARGS + 4];
    int n = 0;
    run_argv[n++] = "vmmcsim";
    run_argv[n++] = "run";
    run_argv[n++] = "--json";
    for (int i = 0; i < nrest; i++)
        run_argv[n++] = rest[i];
    run_argv[n] = NULL;
    /* --json of a large cluster lists every NIC and link: room for it. */
    static char out[8u << 20], err[8192];
    int rc = cli__run_child(n, run_argv, out, sizeof out, err, sizeof err);
    if (rc == 0 && strlen(out) == sizeof out - 1) {
        free_baseline(&b);
        return bad("the run printed more than %zu bytes; cannot read its "
                   "figures", sizeof out - 1);
    }
    if (rc != 0) {
        fputs(err, stderr);
        free_baseline(&b);
        return rc == 2 ? 2 : 1;
    }
    static struct figures now;
    if (extract(out, &now)) {
        free_baseline(&b);
        return bad("the run printed no figures");
    }
    if (update) {
        rc = save(path, rest, nrest, &now);
        if (!rc)
            printf("bench: wrote %d figures to %s\n", now.n, path);
        free_baseline(&b);
        return rc;
    }
    int moved = 0;
    for (int i = 0; i < b.f.n; i++) {
        const struct metric *m = &b.f.m[i];
        const struct metric *x = NULL;
        for (int k = 0; k < now.n; k++)
            if (!strcmp(now.m[k].name, m->name))
                x = &now.m[k];
        if (!x) {
            printf("REGRESSION %s: in the baseline, not in this run\n",
                   m->name);
            moved++;
        } else if (!matches(m->value, x->value, m->tolerance)) {
            double pct = m->value ? 100 * (x->value - m->value) / m->value : 0;
            printf("REGRESSION %s: %.3f, baseline %.3f (%+.2f%%, tolerance "
                   "%.2f%%)\n",
                   m->name, x->value, m->value, pct, 100 * m->tolerance);
            moved++;
        }
    }
    printf("bench: %d of %d figures match %s\n", b.f.n - moved, b.f.n, path);
    free_baseline(&b);
    return moved ? 1 : 0;
}
