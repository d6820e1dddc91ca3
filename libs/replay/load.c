/*
 * Loading a SimGrid time-independent trace (libs/replay/replay.h): the
 * input forms, the line syntax, and the checks that need every rank's
 * actions.  actions.c parses each action.
 *
 * The forms, as `smpirun -trace-ti` and `smpirun -replay` use them
 * (SimGrid 3.32, src/smpi/internals/smpi_deployment.cpp): an index file
 * lists one trace file per line, rank 0's first; an index of one line
 * names a shared file holding every rank's lines.  The line syntax is
 * src/xbt/xbt_replay.cpp's: a line is trimmed, a blank one or one starting
 * with '#' is skipped, fields are split on runs of blanks and tabs, and
 * the first field is the rank the line belongs to.
 */
#define _POSIX_C_SOURCE 200809L
#include "libs/replay/replay.h"
#include "libs/replay/replay_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

int replay__failf(struct replay__parser *P, const char *fmt, ...)
{
    int n = snprintf(P->err, P->errlen, "%s:%ld: ", P->file, P->line);
    if (n < 0 || (size_t)n >= P->errlen)
        return VS_ECONFIG;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err + n, P->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return VS_ECONFIG;
}

int replay__oom(struct replay__parser *P)
{
    snprintf(P->err, P->errlen, "out of memory reading %s",
             P->file ? P->file : "the trace");
    return VS_ENOMEM;
}

int replay__grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int plain_fail(struct replay__parser *P, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int plain_fail(struct replay__parser *P, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err, P->errlen, fmt, ap);
    va_end(ap);
    return VS_ECONFIG;
}

/* ---- Lines ---- */

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* Trims the line (len bytes) and splits it into P->tok; P->ntok = 0 for a
 * blank line or a comment. */
static int split(struct replay__parser *P, char *line, size_t len)
{
    P->ntok = 0;
    if (strlen(line) != len)
        return replay__failf(P, "a NUL byte in the line");
    char *end = line + len;
    while (end > line && blank(end[-1]))
        *--end = 0;
    while (blank(*line))
        line++;
    if (!*line || *line == '#')
        return 0;
    for (char *p = line; *p;) {
        if (replay__grow((void **)&P->tok, &P->tokcap, (size_t)P->ntok + 1,
                         sizeof *P->tok))
            return replay__oom(P);
        P->tok[P->ntok++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
    }
    return 0;
}

/* The rank a line is for: its first field, 0..max. */
static int line_rank(struct replay__parser *P, int max, int32_t *rank)
{
    const char *s = P->tok[0];
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > max)
        return replay__failf(P,
                             "field 1 (rank) is '%s': not a rank (0 to "
                             "%d)",
                             s, max);
    if (P->ntok < 2)
        return replay__failf(P, "'%s': no action after the rank", s);
    *rank = (int32_t)v;
    return 0;
}

static int open_file(struct replay__parser *P, const char *file, FILE **f)
{
    *f = fopen(file, "r");
    P->file = file;
    P->line = 0;
    if (!*f)
        return plain_fail(P, "%s: %s", file, strerror(errno));
    return 0;
}

/* Whether file is a trace (its first line is a rank number and an
 * action) and then, in *ranks, its highest rank + 1; else an index. */
static int sniff(struct replay__parser *P, const char *file, int *is_trace,
                 int *ranks)
{
    FILE *f;
    int rc = open_file(P, file, &f);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    *is_trace = *ranks = 0;
    int seen = 0;
    while (!rc && (n = getline(&buf, &cap, f)) >= 0) {
        P->line++;
        if ((rc = split(P, buf, (size_t)n)) || !P->ntok)
            continue;
        if (!seen) {
            const char *s = P->tok[0];
            size_t d = strspn(s, "0123456789");
            seen = 1;
            if (!d || s[d] || P->ntok < 2)
                break; /* not "RANK ACTION": an index */
            *is_trace = 1;
        }
        int32_t r;
        if (!(rc = line_rank(P, REPLAY__MAX_RANKS - 1, &r)) && r >= *ranks)
            *ranks = r + 1;
    }
    if (!rc && !seen)
        rc = plain_fail(P, "%s: %s", file,
                        ferror(f) ? strerror(errno)
                                  : "no line: neither a trace nor an index "
                                    "of trace files");
    free(buf);
    fclose(f);
    return rc;
}

/* The paths an index lists, one per line, relative to its folder. */
static int read_index(struct replay__parser *P, const char *index,
                      char ***paths, int *npaths)
{
    FILE *f;
    int rc = open_file(P, index, &f);
    if (rc)
        return rc;
    const char *slash = strrchr(index, '/');
    size_t dirlen = slash ? (size_t)(slash - index) + 1 : 0;
    char *buf = NULL, **v = NULL;
    size_t cap = 0, vcap = 0;
    ssize_t n;
    int k = 0;
    while (!rc && (n = getline(&buf, &cap, f)) >= 0) {
        P->line++;
        if (strlen(buf) != (size_t)n) {
            rc = replay__failf(P, "a NUL byte in the line");
            break;
        }
        char *s = buf, *e = buf + n;
        while (e > s && blank(e[-1]))
            *--e = 0;
        while (blank(*s))
            s++;
        if (!*s)
            continue;
        if (k >= REPLAY__MAX_RANKS) {
            rc =
                replay__failf(P, "more than %d trace files", REPLAY__MAX_RANKS);
            break;
        }
        size_t dl = *s == '/' ? 0 : dirlen, len = strlen(s);
        char *p = malloc(dl + len + 1);
        if (!p || replay__grow((void **)&v, &vcap, (size_t)k + 1, sizeof *v)) {
            free(p);
            rc = replay__oom(P);
            break;
        }
        memcpy(p, index, dl);
        memcpy(p + dl, s, len + 1);
        v[k++] = p;
        /* A file the index names but that is not there: say where the
         * index names it. */
        struct stat st;
        if (access(p, R_OK) || stat(p, &st)) {
            rc = replay__failf(P, "the trace file %s it lists: %s", p,
                               strerror(errno));
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = replay__failf(P, "the trace file %s it lists is not a "
                                  "regular file",
                               p);
            break;
        }
    }
    free(buf);
    fclose(f);
    if (!rc && !k)
        rc = plain_fail(P, "%s: an index listing no trace file", index);
    if (rc) {
        for (int i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    *paths = v;
    *npaths = k;
    return 0;
}

/* Parses file: every line is for rank `only`, or (only < 0, the shared
 * form) for the rank its first field names. */
static int parse_file(struct replay__parser *P, const char *file, int only)
{
    FILE *f;
    int rc = open_file(P, file, &f);
    if (rc)
        return rc;
    struct replay_trace *t = P->t;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!rc && (n = getline(&buf, &cap, f)) >= 0) {
        P->line++;
        if ((rc = split(P, buf, (size_t)n)) || !P->ntok)
            continue;
        int32_t r;
        if ((rc = line_rank(P, t->nranks - 1, &r)))
            break;
        if (only >= 0 && r != only) {
            rc = replay__failf(P,
                               "field 1 (rank) is %d, but this file "
                               "holds rank %d's actions (trace files go "
                               "in rank order)",
                               (int)r, only);
            break;
        }
        struct replay_rank *rk = &t->ranks[r];
        if (replay__grow((void **)&rk->acts, &rk->cap, rk->nacts + 1,
                         sizeof *rk->acts)) {
            rc = replay__oom(P);
            break;
        }
        struct replay_action *a = &rk->acts[rk->nacts];
        memset(a, 0, sizeof *a);
        a->line = P->line > INT32_MAX ? INT32_MAX : (int32_t)P->line;
        if ((rc = replay__parse_action(P, r, a)))
            break;
        struct replay__rstate *s = &P->rs[r];
        if (replay__is_collective(a->op)) {
            if (replay__grow((void **)&s->coll, &s->collcap, s->ncoll + 1,
                             sizeof *s->coll)) {
                rc = replay__oom(P);
                break;
            }
            s->coll[s->ncoll++] = rk->nacts;
        }
        rk->nacts++;
        t->total_actions++;
    }
    if (!rc && ferror(f))
        rc = replay__failf(P, "read error: %s", strerror(errno));
    free(buf);
    fclose(f);
    return rc;
}

/* ---- Collectives: every rank calls the same ones ---- */

static const struct replay_action *coll_act(const struct replay__parser *P,
                                            int r, size_t k)
{
    return &P->t->ranks[r].acts[P->rs[r].coll[k]];
}

/* "FILE:LINE" of rank r's k-th collective. */
static const char *coll_where(const struct replay__parser *P, int r, size_t k,
                              char *buf, size_t len)
{
    snprintf(buf, len, "%s:%d", P->t->ranks[r].file,
             (int)coll_act(P, r, k)->line);
    return buf;
}

static int rooted(int op)
{
    return op == REPLAY_BCAST || op == REPLAY_REDUCE || op == REPLAY_GATHER ||
           op == REPLAY_SCATTER || op == REPLAY_GATHERV ||
           op == REPLAY_SCATTERV;
}

/* Rank i sends `sent` bytes to rank j in collective k, which expects
 * `expected`: an error unless they agree. */
static int sizes_agree(struct replay__parser *P, size_t k, int i, int j,
                       int64_t sent, int64_t expected)
{
    if (sent == expected)
        return 0;
    char wi[600], wj[600];
    const struct replay_action *a = coll_act(P, i, k);
    return plain_fail(
        P,
        "%s: rank %d's %s sends %lld bytes to rank %d, "
        "whose %s (%s) expects %lld: the ranks disagree on "
        "the sizes of collective call %zu",
        coll_where(P, i, k, wi, sizeof wi), i, replay_op_name(a->op),
        (long long)sent, j, replay_op_name(coll_act(P, j, k)->op),
        coll_where(P, j, k, wj, sizeof wj), (long long)expected, k + 1);
}

/* The sizes of collective k, the same call on every rank. */
static int check_sizes(struct replay__parser *P, size_t k)
{
    int n = P->t->nranks, rc = 0;
    const struct replay_action *a0 = coll_act(P, 0, k);
    switch (a0->op) {
    case REPLAY_BARRIER:
        return 0;
    case REPLAY_REDUCESCATTER:
        for (int i = 1; i < n && !rc; i++)
            for (int j = 0; j < n && !rc; j++)
                rc = sizes_agree(
                    P, k, i, 0,
                    P->t->ranks[i].vec[coll_act(P, i, k)->vec + (uint32_t)j],
                    P->t->ranks[0].vec[a0->vec + (uint32_t)j]);
        return rc;
    case REPLAY_ALLTOALLV:
        for (int i = 0; i < n && !rc; i++)
            for (int j = 0; j < n && !rc; j++)
                rc = sizes_agree(
                    P, k, i, j,
                    P->t->ranks[i].vec[coll_act(P, i, k)->vec + (uint32_t)j],
                    P->t->ranks[j]
                        .vec[coll_act(P, j, k)->vec + (uint32_t)(n + i)]);
        return rc;
    case REPLAY_GATHERV:
    case REPLAY_SCATTERV: {
        int root = a0->root;
        const struct replay_action *ar = coll_act(P, root, k);
        for (int i = 0; i < n && !rc; i++) {
            int64_t theirs = coll_act(P, i, k)->len,
                    roots = P->t->ranks[root].vec[ar->vec + (uint32_t)i];
            rc = a0->op == REPLAY_GATHERV
                     ? sizes_agree(P, k, i, root, theirs, roots)
                     : sizes_agree(P, k, root, i, roots, theirs);
        }
        return rc;
    }
    case REPLAY_ALLGATHERV:
        for (int i = 0; i < n && !rc; i++)
            for (int j = 0; j < n && !rc; j++)
                rc = sizes_agree(
                    P, k, i, j, coll_act(P, i, k)->len,
                    P->t->ranks[j].vec[coll_act(P, j, k)->vec + (uint32_t)i]);
        return rc;
    default: /* one size, or one block size, for all */
        for (int i = 1; i < n && !rc; i++) {
            const struct replay_action *a = coll_act(P, i, k);
            if (a->len == a0->len)
                continue;
            char wi[600], w0[600];
            int block = a0->op == REPLAY_ALLTOALL || a0->op == REPLAY_GATHER ||
                        a0->op == REPLAY_SCATTER || a0->op == REPLAY_ALLGATHER;
            rc = plain_fail(
                P,
                "%s: rank %d's %s moves %lld bytes%s, but "
                "rank 0's (%s) %lld: the ranks disagree on "
                "the size of collective call %zu",
                coll_where(P, i, k, wi, sizeof wi), i, replay_op_name(a->op),
                (long long)a->len, block ? " per block" : "",
                coll_where(P, 0, k, w0, sizeof w0), (long long)a0->len, k + 1);
        }
        return rc;
    }
}

/* Every rank calls the same collectives in the same order, with the same
 * roots and matching sizes (MPI's rule; a trace that breaks it would
 * deadlock or mismatch when replayed). */
static int check_collectives(struct replay__parser *P)
{
    int n = P->t->nranks;
    char w0[600], wr[600];
    size_t n0 = P->rs[0].ncoll;
    for (int r = 1; r < n; r++) {
        size_t nr = P->rs[r].ncoll, m = nr < n0 ? nr : n0;
        for (size_t k = 0; k < m; k++) {
            const struct replay_action *a = coll_act(P, 0, k),
                                       *b = coll_act(P, r, k);
            if (a->op != b->op)
                return plain_fail(P,
                                  "%s: rank %d's collective call %zu is "
                                  "%s, but rank 0's (%s) is %s: the "
                                  "ranks call collectives in different "
                                  "orders",
                                  coll_where(P, r, k, wr, sizeof wr), r, k + 1,
                                  replay_op_name(b->op),
                                  coll_where(P, 0, k, w0, sizeof w0),
                                  replay_op_name(a->op));
            if (rooted(a->op) && a->root != b->root)
                return plain_fail(P,
                                  "%s: rank %d's %s has root %d, but "
                                  "rank 0's (%s) has root %d",
                                  coll_where(P, r, k, wr, sizeof wr), r,
                                  replay_op_name(b->op), (int)b->root,
                                  coll_where(P, 0, k, w0, sizeof w0),
                                  (int)a->root);
        }
        if (nr != n0) {
            int more = nr > n0 ? r : 0, less = nr > n0 ? 0 : r;
            return plain_fail(P,
                              "%s: rank %d's collective call %zu (%s) "
                              "has no counterpart: rank %d makes %zu "
                              "collective call(s) (%s)",
                              coll_where(P, more, m, wr, sizeof wr), more,
                              m + 1, replay_op_name(coll_act(P, more, m)->op),
                              less, m, P->t->ranks[less].file);
        }
    }
    for (size_t k = 0; k < n0; k++) {
        int rc = check_sizes(P, k);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- Loading ---- */

void replay_free(struct replay_trace *t)
{
    for (int i = 0; t->ranks && i < t->nranks; i++) {
        free(t->ranks[i].file);
        free(t->ranks[i].acts);
        free(t->ranks[i].vec);
    }
    free(t->ranks);
    memset(t, 0, sizeof *t);
}

static int load(struct replay__parser *P, int npaths, char *const *paths)
{
    struct replay_trace *t = P->t;
    int nranks = npaths, rc;
    if (npaths == 1) {
        int is_trace;
        if ((rc = sniff(P, paths[0], &is_trace, &nranks)))
            return rc;
        if (!is_trace)
            return plain_fail(P,
                              "%s: not a trace file (its first line is "
                              "not a rank and an action)",
                              paths[0]);
    }
    t->ranks = calloc((size_t)nranks, sizeof *t->ranks);
    P->rs = calloc((size_t)nranks, sizeof *P->rs);
    if (!t->ranks || !P->rs)
        return replay__oom(P);
    t->nranks = nranks;
    for (int r = 0; r < nranks; r++) {
        P->rs[r].default_dt = REPLAY__DT_BYTE;
        if (!(t->ranks[r].file = strdup(paths[npaths == 1 ? 0 : r])))
            return replay__oom(P);
    }
    for (int i = 0; i < npaths; i++)
        if ((rc = parse_file(P, paths[i], npaths == 1 ? -1 : i)))
            return rc;
    return check_collectives(P);
}

int replay_load(struct replay_trace *t, int nfiles, char *const *files,
                char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    struct replay__parser P = {.t = t, .err = err, .errlen = errlen};
    char **listed = NULL;
    int nlisted = 0, rc;
    if (nfiles < 1) {
        snprintf(err, errlen, "no trace file given");
        return VS_ECONFIG;
    }
    if (nfiles > REPLAY__MAX_RANKS) {
        snprintf(err, errlen, "%d trace files: at most %d ranks", nfiles,
                 REPLAY__MAX_RANKS);
        return VS_ECONFIG;
    }
    t->form = nfiles > 1 ? "per-rank" : "shared";
    if (nfiles == 1) {
        int is_trace, ranks;
        rc = sniff(&P, files[0], &is_trace, &ranks);
        if (!rc && !is_trace) {
            t->form = "index";
            rc = read_index(&P, files[0], &listed, &nlisted);
        }
        if (rc)
            goto out;
    }
    rc = listed ? load(&P, nlisted, listed) : load(&P, nfiles, files);
out:
    if (P.rs)
        for (int r = 0; r < t->nranks; r++) {
            free(P.rs[r].q);
            free(P.rs[r].coll);
        }
    free(P.rs);
    free(P.tok);
    for (int i = 0; i < nlisted; i++)
        free(listed[i]);
    free(listed);
    if (rc)
        replay_free(t);
    return rc;
}
