/*
 * vmmcsim sweep --shrink: reduces the first failing seed of a sweep to a
 * smaller scenario that still fails with the same invariant, and prints it
 * as one command.  In order:
 *   1. faults: the run is replayed with every fault it injected written out
 *      as a list of chosen packets (--record-faults, then --fault-list: the
 *      same faults on the same packets); if that still fails, the faults are
 *      removed in halves, then quarters, ... then one at a time;
 *   2. --messages, then --max-size (and --min-size with it): halved while
 *      the failure stays, then the gap to the last that failed is bisected;
 *   3. --nodes: the fewest of the platform's nodes that still fail;
 *   4. the fault list is recorded again (a smaller run injects fewer of
 *      them) and removed one at a time once more.
 * Every step is a full deterministic run of the candidate; a candidate is
 * kept only if it fails with the same invariant.  At most SHRINK_RUNS runs.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "cli/sweep.h"

#define SHRINK_RUNS 400
#define OUT_MAX (32u << 20) /* a recorded fault list can be long */

struct shrink {
    uint64_t seed;
    const char *kind; /* the invariant that must keep failing */
    char **args;      /* the candidate scenario; strings owned when own[i] */
    char *own;
    int nargs, cap;
    int runs;
    uint64_t min_size; /* --min-size as given (0: none) */
    FILE *log;
    char *out, err[4096];
};

static int find_arg(const struct shrink *s, const char *name)
{
    for (int i = 0; i + 1 < s->nargs; i++)
        if (!strcmp(s->args[i], name))
            return i;
    return -1;
}

static int set_arg(struct shrink *s, int i, char *v /* owned */)
{
    if (s->own[i])
        free(s->args[i]);
    s->args[i] = v;
    s->own[i] = 1;
    return 0;
}

static int grow(struct shrink *s, int more)
{
    if (s->nargs + more <= s->cap)
        return 0;
    int cap = (s->nargs + more) * 2;
    char **a = realloc(s->args, (size_t)cap * sizeof *a);
    if (!a)
        return -1;
    s->args = a;
    char *o = realloc(s->own, (size_t)cap);
    if (!o)
        return -1;
    s->own = o;
    s->cap = cap;
    return 0;
}

/* Inserts "name value" before the workload's name (run options first). */
static int add_option(struct shrink *s, int at, const char *name, char *value)
{
    if (grow(s, 2))
        return -1;
    memmove(s->args + at + 2, s->args + at,
            (size_t)(s->nargs - at) * sizeof *s->args);
    memmove(s->own + at + 2, s->own + at, (size_t)(s->nargs - at));
    s->args[at] = (char *)name;
    s->own[at] = 0;
    s->args[at + 1] = value;
    s->own[at + 1] = 1;
    s->nargs += 2;
    return 0;
}

static void remove_args(struct shrink *s, int at, int n)
{
    for (int i = at; i < at + n; i++)
        if (s->own[i])
            free(s->args[i]);
    memmove(s->args + at, s->args + at + n,
            (size_t)(s->nargs - at - n) * sizeof *s->args);
    memmove(s->own + at, s->own + at + n, (size_t)(s->nargs - at - n));
    s->nargs -= n;
}

/* Runs the candidate (with extra arguments appended); 1 if it fails with
 * the same invariant, 0 if not, -1 when out of runs. */
static int fails(struct shrink *s, const char *extra)
{
    if (s->runs >= SHRINK_RUNS)
        return -1;
    s->runs++;
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
    int n = s->nargs + 6;
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        return -1;
    v[0] = "vmmcsim";
    v[1] = "run";
    v[2] = "--json";
    v[3] = "--seed";
    v[4] = seed;
    int k = 5;
    if (extra)
        v[k++] = (char *)extra;
    for (int i = 0; i < s->nargs; i++)
        v[k++] = s->args[i];
    struct sweep_result r = {.seed = s->seed};
    r.status = cli__run_child(k, v, s->out, OUT_MAX, s->err, sizeof s->err);
    free(v);
    if (r.status < 0)
        return -1;
    sweep__judge(&r, s->out, s->err);
    return r.invariant && !strcmp(r.invariant, s->kind);
}

/* ---- Faults ---- */

static int is_random_item(const char *item, size_t n)
{
    static const char *const keys[] = {"drop=", "corrupt=", "dup=",
                                       "reorder="};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (n >= strlen(keys[i]) && !strncmp(item, keys[i], strlen(keys[i])))
            return 1;
    return 0;
}

/* The --faults spec without its probabilities (down intervals stay). */
static char *strip_random(const char *spec)
{
    char *out = malloc(strlen(spec) + 1);
    if (!out)
        return NULL;
    size_t len = 0;
    for (const char *p = spec; *p;) {
        size_t n = strcspn(p, ",");
        if (!is_random_item(p, n)) {
            if (len)
                out[len++] = ',';
            memcpy(out + len, p, n);
            len += n;
        }
        p += n + (p[n] == ',');
    }
    out[len] = 0;
    return out;
}

struct picks {
    char **item; /* "drop@3.17", pointers into text */
    size_t n;
    char *text;
};

static void picks_free(struct picks *p)
{
    free(p->item);
    free(p->text);
    *p = (struct picks){0};
}

/* The "fault_list" of the last run's JSON, split at commas. */
static int picks_read(struct shrink *s, struct picks *p)
{
    picks_free(p);
    const char *f = strstr(s->out, "\"fault_list\":\"");
    if (!f)
        return -1;
    f += 14;
    size_t len = strcspn(f, "\"");
    p->text = strndup(f, len);
    p->item = calloc(len / 2 + 2, sizeof *p->item);
    if (!p->text || !p->item)
        return -1;
    for (char *save, *t = strtok_r(p->text, ",", &save); t;
         t = strtok_r(NULL, ",", &save))
        p->item[p->n++] = t;
    return 0;
}

/* Sets the scenario's --fault-list to the items not masked out. */
static int picks_apply(struct shrink *s, const struct picks *p,
                       const unsigned char *gone)
{
    size_t len = 1;
    for (size_t i = 0; i < p->n; i++)
        len += strlen(p->item[i]) + 1;
    char *spec = malloc(len), *w = spec;
    if (!spec)
        return -1;
    *w = 0;
    for (size_t i = 0; i < p->n; i++)
        if (!gone || !gone[i])
            w += sprintf(w, "%s%s", w == spec ? "" : ",", p->item[i]);
    int at = find_arg(s, "--fault-list");
    return set_arg(s, at + 1, spec);
}

/* Removes faults in chunks while the failure stays; keeps the rest. */
static int shrink_picks(struct shrink *s, struct picks *p, int only_single)
{
    unsigned char *gone = calloc(p->n ? p->n : 1, 1);
    if (!gone)
        return -1;
    for (size_t chunk = only_single ? 1 : (p->n + 1) / 2; chunk >= 1;
         chunk /= 2) {
        for (size_t i = 0; i < p->n; i += chunk) {
            size_t took = 0;
            for (size_t j = i; j < i + chunk && j < p->n; j++)
                if (!gone[j]) {
                    gone[j] = 2; /* tentatively */
                    took++;
                }
            if (!took)
                continue;
            if (picks_apply(s, p, gone)) {
                free(gone);
                return -1;
            }
            int f = fails(s, NULL);
            for (size_t j = i; j < i + chunk && j < p->n; j++)
                if (gone[j] == 2)
                    gone[j] = f == 1 ? 1 : 0;
            if (f < 0)
                break;
        }
        if (chunk == 1 || s->runs >= SHRINK_RUNS)
            break;
    }
    /* Keep what is left, compacted. */
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if (!gone[i])
            p->item[k++] = p->item[i];
    p->n = k;
    free(gone);
    return picks_apply(s, p, NULL);
}

/* Replaces random faults by the list of what this seed injected; 1 if the
 * list reproduces the failure, 0 if not (the scenario is unchanged). */
static int to_list(struct shrink *s, struct picks *p)
{
    int at = find_arg(s, "--faults");
    if (find_arg(s, "--fault-list") >= 0)
        return 0;
    if (fails(s, "--record-faults") != 1 || picks_read(s, p))
        return 0;
    char *saved = at >= 0 ? strdup(s->args[at + 1]) : NULL;
    if (at >= 0) {
        char *rest = strip_random(s->args[at + 1]);
        if (!rest || !saved) {
            free(rest);
            free(saved);
            return 0;
        }
        if (*rest) {
            set_arg(s, at + 1, rest);
        } else {
            free(rest);
            remove_args(s, at, 2);
        }
    }
    if (add_option(s, 0, "--fault-list", strdup("")) || picks_apply(s, p, NULL))
        return 0;
    if (fails(s, NULL) == 1) {
        free(saved);
        return 1;
    }
    /* The list does not fail the same way: back to the random faults. */
    remove_args(s, find_arg(s, "--fault-list"), 2);
    if (saved) {
        int now = find_arg(s, "--faults");
        if (now >= 0)
            set_arg(s, now + 1, saved);
        else
            add_option(s, 0, "--faults", saved);
    }
    picks_free(p);
    return 0;
}

/* ---- Numbers ---- */

static int parse_size(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end == 'K' || *end == 'k')
        x <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        x <<= 20, end++;
    if (*end || !x)
        return -1;
    *out = x;
    return 0;
}

static int set_number(struct shrink *s, int at, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    char *d = strdup(buf);
    return d ? set_arg(s, at + 1, d) : -1;
}

/* The smallest value of option name in [lo, its value] that still fails
 * (halving, then bisecting the last gap).  A hook keeps other options
 * consistent (--min-size under --max-size). */
static void shrink_number(struct shrink *s, const char *name, uint64_t lo,
                          void (*hook)(struct shrink *, uint64_t))
{
    int at = find_arg(s, name);
    uint64_t cur;
    if (at < 0 || parse_size(s->args[at + 1], &cur) || cur <= lo)
        return;
    uint64_t start = cur, bad = lo - 1; /* bad: known not to fail (or none) */
    char *orig = strdup(s->args[at + 1]);
    while (cur > lo) {
        uint64_t next = cur / 2 > lo ? cur / 2 : lo;
        if (next <= bad)
            break;
        set_number(s, at, next);
        if (hook)
            hook(s, next);
        int f = fails(s, NULL);
        if (f == 1) {
            cur = next;
            continue;
        }
        bad = next;
        if (f < 0)
            break;
    }
    while (cur - bad > 1 && s->runs < SHRINK_RUNS) {
        uint64_t mid = bad + (cur - bad) / 2;
        set_number(s, at, mid);
        if (hook)
            hook(s, mid);
        int f = fails(s, NULL);
        if (f == 1)
            cur = mid;
        else
            bad = mid;
    }
    if (cur == start && orig)
        set_arg(s, at + 1, orig); /* as the user wrote it */
    else {
        free(orig);
        set_number(s, at, cur);
    }
    if (hook)
        hook(s, cur);
    if (cur != start)
        fprintf(s->log, "shrink: %s %" PRIu64 " -> %" PRIu64 "\n", name,
                start, cur);
}

/* --min-size as given, but never above --max-size. */
static void min_under_max(struct shrink *s, uint64_t max)
{
    int at = find_arg(s, "--min-size");
    if (at >= 0 && s->min_size)
        set_number(s, at, s->min_size < max ? s->min_size : max);
}

/* ---- The shrinker ---- */

int sweep__shrink(struct sweep *sw)
{
    const struct sweep_result *r = NULL;
    for (size_t i = 0; i < sw->nres && !r; i++)
        if (sw->res[i].invariant)
            r = &sw->res[i];
    if (!r)
        return 0;
    struct shrink s = {.seed = r->seed, .kind = r->invariant,
                       .log = sw->json ? stderr : stdout};
    struct picks p = {0};
    s.out = malloc(OUT_MAX);
    if (!s.out || grow(&s, SWEEP_NARGS(sw) + 8)) {
        free(s.out);
        free(s.args);
        free(s.own);
        return cli__error("sweep: ", "--shrink: out of memory");
    }
    for (int i = 0; i < SWEEP_NARGS(sw); i++) {
        s.args[i] = SWEEP_ARGS(sw)[i];
        s.own[i] = 0;
    }
    s.nargs = SWEEP_NARGS(sw);
    fprintf(s.log, "shrink: seed %" PRIu64 " fails (%s); reducing it (at "
                   "most %d runs)\n",
            s.seed, s.kind, SHRINK_RUNS);
    fflush(s.log);

    int listed = to_list(&s, &p);
    if (listed) {
        size_t before = p.n;
        shrink_picks(&s, &p, 0);
        fprintf(s.log, "shrink: faults %zu -> %zu (as --fault-list)\n", before,
                p.n);
    } else {
        fprintf(s.log, "shrink: faults stay random (replayed as a list they "
                       "do not fail the same way)\n");
    }
    shrink_number(&s, "--messages", 1, NULL);
    int mat = find_arg(&s, "--min-size");
    if (mat >= 0 && parse_size(s.args[mat + 1], &s.min_size))
        s.min_size = 0;
    shrink_number(&s, "--max-size", 1, min_under_max);
    /* Nodes: from the run's count down (a run's JSON says how many). */
    if (find_arg(&s, "--nodes") < 0 && fails(&s, NULL) == 1) {
        const char *n = strstr(s.out, "\"nodes\":");
        uint64_t nodes = n ? strtoull(n + 8, NULL, 10) : 0;
        if (nodes > 2 && !add_option(&s, 0, "--nodes", NULL) &&
            !set_number(&s, 0, nodes)) {
            shrink_number(&s, "--nodes", 2, NULL);
            if (strtoull(s.args[1], NULL, 10) == nodes)
                remove_args(&s, 0, 2); /* all of them: say nothing */
        }
    }
    if (listed && fails(&s, "--record-faults") == 1 && !picks_read(&s, &p)) {
        size_t before = p.n;
        picks_apply(&s, &p, NULL);
        shrink_picks(&s, &p, 1);
        if (p.n != before)
            fprintf(s.log, "shrink: faults %zu -> %zu once the run is "
                           "smaller\n",
                    before, p.n);
    }
    /* The result, checked once more as printed. */
    int ok = fails(&s, NULL);
    if (ok == 1 || s.runs >= SHRINK_RUNS) {
        fprintf(s.log, "shrink: %d runs; the smallest reproducer found fails "
                       "the same way (%s):\n  ",
                s.runs, s.kind);
        sweep__reproducer(s.args, s.nargs, s.seed, s.log);
        fputc('\n', s.log);
    } else {
        fprintf(s.log, "shrink: the reduced scenario no longer fails (a "
                       "nondeterministic run?); the seed's own reproducer "
                       "stands\n");
    }
    fflush(s.log);
    picks_free(&p);
    for (int i = 0; i < s.nargs; i++)
        if (s.own[i])
            free(s.args[i]);
    free(s.args);
    free(s.own);
    free(s.out);
    return 0;
}
