/* Internal to libs/replay: the parser state shared by actions.c (one
 * action's fields) and load.c (files, input forms, whole-trace checks). */
#ifndef LIBS_REPLAY_REPLAY_INT_H
#define LIBS_REPLAY_REPLAY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "libs/replay/replay.h"

/* The most ranks a trace may name (msg runs at most 32; this bounds what
 * a typo in a rank field can make the parser allocate). */
#define REPLAY__MAX_RANKS 4096

/* SimGrid's datatype ids of MPI_DOUBLE and MPI_BYTE, the two defaults. */
#define REPLAY__DT_DOUBLE 0
#define REPLAY__DT_BYTE 6

/* A request SimGrid's replay keeps in its per-rank storage, keyed by
 * (source, destination, tag) as the trace writes them. */
struct replay__qent {
    int32_t src, dst, tag;
};

/* What parsing one rank needs to remember between its lines. */
struct replay__rstate {
    int default_dt;         /* SimGrid's datatype default: byte, or double */
    struct replay__qent *q; /* pending requests, oldest first */
    size_t nq, qcap;
    size_t *coll; /* indices of the rank's collective actions */
    size_t ncoll, collcap;
};

struct replay__parser {
    struct replay_trace *t;
    struct replay__rstate *rs; /* t->nranks */
    const char *file;
    long line;
    char **tok; /* the current line's fields: rank, action, ... */
    int ntok;
    size_t tokcap;
    char *err;
    size_t errlen;
};

/* "FILE:LINE: " and the message into P->err; returns VS_ECONFIG. */
int replay__failf(struct replay__parser *P, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "out of memory" into P->err; returns VS_ENOMEM. */
int replay__oom(struct replay__parser *P);
/* Grows *p (*cap elements of sz bytes) to hold n; 0, or -1 out of memory. */
int replay__grow(void **p, size_t *cap, size_t n, size_t sz);

/* Parses the current line (P->tok) as an action of rank me into a (zeroed
 * by the caller; a->line set): its fields, its bytes, its request slot.
 * Returns 0 or VS_ECONFIG / VS_ENOMEM with P->err set. */
int replay__parse_action(struct replay__parser *P, int me,
                         struct replay_action *a);

/* 1 for the collective actions (barrier .. exscan). */
int replay__is_collective(int op);

#endif
