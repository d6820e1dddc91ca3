/*
 * One action of a SimGrid time-independent trace (libs/replay/replay.h):
 * its fields, mandatory and optional, their ranges, the bytes it moves,
 * and which request a wait or test completes.  load.c reads the files and
 * hands each line here.
 *
 * The facts come from SimGrid 3.32: src/smpi/internals/smpi_replay.cpp
 * (each action's fields, the datatype default, the request storage) and
 * src/smpi/mpi/smpi_datatype.cpp (datatype ids and sizes).
 */
#define _POSIX_C_SOURCE 200809L
#include "libs/replay/replay.h"
#include "libs/replay/replay_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "vmmc/vmmc.h"

static const char *const OP_NAMES[] = {
#define REPLAY_OP_NAME_(name, text) text,
    REPLAY_OPS(REPLAY_OP_NAME_)
#undef REPLAY_OP_NAME_
};

const char *replay_op_name(int op)
{
    return op >= 0 && op < REPLAY_NOPS ? OP_NAMES[op] : "?";
}

/* ---- Datatypes ---- */

/* SimGrid 3.32's predefined datatypes by trace id (Datatype::encode is the
 * id of CREATE_MPI_DATATYPE in smpi_datatype.cpp), with their sizes on
 * LP64 and the msg type a reduction over them uses (-1: reduce bytes).
 * Id -1 is what SimGrid writes for a derived datatype; it decodes to
 * MPI_DATATYPE_NULL, of size 0, and so does the replay. */
#define DT_DOUBLE REPLAY__DT_DOUBLE
#define DT_BYTE REPLAY__DT_BYTE
#define DT_MAX 59
static const struct {
    int8_t size;
    int8_t mt;
} DTYPES[DT_MAX + 1] = {
    [0] = {8, MSG_DOUBLE},  /* DOUBLE */
    [1] = {4, MSG_INT32},   /* INT */
    [2] = {1, MSG_INT8},    /* CHAR */
    [3] = {2, MSG_INT16},   /* SHORT */
    [4] = {8, MSG_INT64},   /* LONG */
    [5] = {4, MSG_FLOAT},   /* FLOAT */
    [6] = {1, MSG_UINT8},   /* BYTE */
    [7] = {8, MSG_INT64},   /* LONG_LONG */
    [8] = {1, MSG_INT8},    /* SIGNED_CHAR */
    [9] = {1, MSG_UINT8},   /* UNSIGNED_CHAR */
    [10] = {2, MSG_UINT16}, /* UNSIGNED_SHORT */
    [11] = {4, MSG_UINT32}, /* UNSIGNED */
    [12] = {8, MSG_UINT64}, /* UNSIGNED_LONG */
    [13] = {8, MSG_UINT64}, /* UNSIGNED_LONG_LONG */
    [14] = {16, -1},        /* LONG_DOUBLE */
    [15] = {4, MSG_INT32},  /* WCHAR */
    [16] = {1, MSG_UINT8},  /* C_BOOL */
    [17] = {1, MSG_INT8},   /* INT8_T */
    [18] = {2, MSG_INT16},  /* INT16_T */
    [19] = {4, MSG_INT32},  /* INT32_T */
    [20] = {8, MSG_INT64},  /* INT64_T */
    [21] = {1, MSG_UINT8},  /* UINT8_T */
    [22] = {2, MSG_UINT16}, /* UINT16_T */
    [23] = {4, MSG_UINT32}, /* UINT32_T */
    [24] = {8, MSG_UINT64}, /* UINT64_T */
    [25] = {8, -1},         /* C_FLOAT_COMPLEX */
    [26] = {16, -1},        /* C_DOUBLE_COMPLEX */
    [27] = {32, -1},        /* C_LONG_DOUBLE_COMPLEX */
    [28] = {8, MSG_INT64},  /* AINT */
    [29] = {8, MSG_INT64},  /* OFFSET */
    [30] = {8, -1},         /* FLOAT_INT */
    [31] = {16, -1},        /* LONG_INT */
    [32] = {16, -1},        /* DOUBLE_INT */
    [33] = {8, -1},         /* SHORT_INT */
    [34] = {8, -1},         /* 2INT */
    [35] = {8, -1},         /* 2FLOAT */
    [36] = {16, -1},        /* 2DOUBLE */
    [37] = {16, -1},        /* 2LONG */
    [38] = {4, MSG_FLOAT},  /* REAL */
    [39] = {4, MSG_FLOAT},  /* REAL4 */
    [40] = {8, MSG_DOUBLE}, /* REAL8 */
    [41] = {16, -1},        /* REAL16 */
    [42] = {8, -1},         /* COMPLEX8 */
    [43] = {16, -1},        /* COMPLEX16 */
    [44] = {16, -1},        /* COMPLEX32 (double_double in SimGrid) */
    [45] = {4, MSG_INT32},  /* INTEGER1 (an int in SimGrid) */
    [46] = {2, MSG_INT16},  /* INTEGER2 */
    [47] = {4, MSG_INT32},  /* INTEGER4 */
    [48] = {8, MSG_INT64},  /* INTEGER8 */
    [49] = {16, -1},        /* INTEGER16 */
    [50] = {32, -1},        /* LONG_DOUBLE_INT */
    [51] = {1, MSG_UINT8},  /* CXX_BOOL */
    [52] = {8, -1},         /* CXX_FLOAT_COMPLEX */
    [53] = {16, -1},        /* CXX_DOUBLE_COMPLEX */
    [54] = {32, -1},        /* CXX_LONG_DOUBLE_COMPLEX */
    [55] = {0, -1},         /* UB */
    [56] = {0, -1},         /* LB */
    [57] = {1, MSG_UINT8},  /* PACKED */
    [58] = {8, MSG_UINT64}, /* PTR */
    [59] = {8, MSG_INT64},  /* COUNT */
};

/* MPI wildcards as SimGrid 3.32 writes them: MPI_ANY_TAG is -444; a
 * receive from MPI_ANY_SOURCE gets -333 (MPI_UNDEFINED, what the rank of
 * MPI_ANY_SOURCE's pid comes out as); -555 is MPI_ANY_SOURCE itself. */
#define SG_ANY_TAG (-444)
#define SG_UNDEFINED (-333)
#define SG_ANY_SOURCE (-555)

/* ---- Fields ---- */

/* The i-th field after the action name (tokens 3, 4, ... of the line). */
static const char *field(const struct replay__parser *P, int i)
{
    return P->tok[2 + i];
}

static int nfields(const struct replay__parser *P)
{
    return P->ntok - 2;
}

static int bad_field(struct replay__parser *P, int i, const char *name,
                     const char *what)
{
    /* Fields are numbered on the whole line: 1 the rank, 2 the action. */
    return replay__failf(P, "%s: field %d (%s) is '%s': %s", P->tok[1], i + 3,
                         name, field(P, i), what);
}

/* A whole-token decimal integer in [lo, hi]. */
static int get_int(struct replay__parser *P, int i, const char *name, long lo,
                   long hi, int32_t *out)
{
    const char *s = field(P, i);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno)
        return bad_field(P, i, name, "not an integer");
    if (v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof what, "out of range (%ld to %ld)", lo, hi);
        return bad_field(P, i, name, what);
    }
    *out = (int32_t)v;
    return 0;
}

/* A finite number (SimGrid parses counts as doubles and truncates them:
 * "1e+06" is a count). */
static int get_num(struct replay__parser *P, int i, const char *name,
                   double *out)
{
    const char *s = field(P, i);
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return bad_field(P, i, name, "not a number");
    *out = v;
    return 0;
}

/* A count of elements: an integer >= 0 (allow_unknown: < 0 gives -1). */
static int get_count(struct replay__parser *P, int i, const char *name,
                     int allow_unknown, int64_t *out)
{
    double v;
    int rc = get_num(P, i, name, &v);
    if (rc)
        return rc;
    v = trunc(v);
    if (v < 0 && allow_unknown) {
        *out = -1;
        return 0;
    }
    if (v < 0)
        return bad_field(P, i, name, "a negative count");
    if (v > (double)MSG_MAX_LEN)
        return bad_field(P, i, name, "too large");
    *out = (int64_t)v;
    return 0;
}

static int get_amount(struct replay__parser *P, int i, const char *name,
                      double *out)
{
    int rc = get_num(P, i, name, out);
    if (!rc && *out < 0)
        rc = bad_field(P, i, name, "negative");
    return rc;
}

/* The datatype at field i, or the rank's default if the line ends
 * before it. */
static int get_dtype(struct replay__parser *P, int i, int me, int *out)
{
    if (i >= nfields(P)) {
        *out = P->rs[me].default_dt;
        return 0;
    }
    int32_t id;
    int rc = get_int(P, i, "datatype", -1, DT_MAX, &id);
    if (rc)
        return replay__failf(P,
                             "%s: field %d (datatype) is '%s': not a SimGrid "
                             "datatype id (-1 to %d)",
                             P->tok[1], i + 3, field(P, i), DT_MAX);
    *out = id;
    return 0;
}

static int64_t dt_size(int id)
{
    return id < 0 ? 0 : DTYPES[id].size;
}

/* count elements of datatype id, in bytes, at most MSG_MAX_LEN. */
static int bytes_of(struct replay__parser *P, int i, const char *name,
                    int64_t count, int id, int64_t *out)
{
    int64_t b = count * dt_size(id);
    if (b > (int64_t)MSG_MAX_LEN)
        return bad_field(P, i, name, "more bytes than msg can move");
    *out = b;
    return 0;
}

static int check_nfields(struct replay__parser *P, int mandatory, int optional)
{
    int n = nfields(P);
    if (n < mandatory)
        return replay__failf(P, "%s: %d field(s) after the action, %d expected",
                             P->tok[1], n, mandatory);
    if (optional >= 0 && n > mandatory + optional)
        return replay__failf(P,
                             "%s: %d fields after the action, at most %d "
                             "expected",
                             P->tok[1], n, mandatory + optional);
    return 0;
}

/* ---- The request storage (SimGrid's RequestStorage, statically) ---- */

/* Which request SimGrid's replay would pick: the oldest live one with the
 * key.  -1 if none. */
static long q_find(const struct replay__rstate *s, int32_t src, int32_t dst,
                   int32_t tag)
{
    for (size_t i = 0; i < s->nq; i++)
        if (s->q[i].src == src && s->q[i].dst == dst && s->q[i].tag == tag)
            return (long)i;
    return -1;
}

static void q_remove(struct replay__rstate *s, size_t i)
{
    memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof *s->q);
    s->nq--;
}

static int q_add(struct replay__parser *P, struct replay__rstate *s,
                 struct replay__qent e)
{
    if (replay__grow((void **)&s->q, &s->qcap, s->nq + 1, sizeof *s->q))
        return replay__oom(P);
    s->q[s->nq++] = e;
    return 0;
}

/* ---- Actions ---- */

static void need(int64_t *max, int64_t v)
{
    if (v > *max)
        *max = v;
}

/* A rank (0..n-1), or for receives also a wildcard (becomes -1). */
static int get_peer(struct replay__parser *P, int i, const char *name,
                    int any_ok, int32_t *raw, int32_t *out)
{
    int n = P->t->nranks;
    int rc = get_int(P, i, name, INT_MIN, INT_MAX, raw);
    if (rc)
        return rc;
    if (*raw >= 0 && *raw < n) {
        *out = *raw;
        return 0;
    }
    if (any_ok && (*raw == SG_UNDEFINED || *raw == SG_ANY_SOURCE)) {
        *out = MSG_ANY_SOURCE;
        return 0;
    }
    char what[96];
    snprintf(what, sizeof what, "not a rank (0 to %d%s)", n - 1,
             any_ok ? ", or -333 / -555 for any source" : "");
    return bad_field(P, i, name, what);
}

static int get_tag(struct replay__parser *P, int i, int any_ok, int32_t *raw,
                   int32_t *out)
{
    int rc = get_int(P, i, "tag", INT_MIN, INT_MAX, raw);
    if (rc)
        return rc;
    if (*raw >= 0 && *raw < REPLAY_TAG_BASE) {
        *out = *raw;
        return 0;
    }
    if (any_ok && *raw == SG_ANY_TAG) {
        *out = MSG_ANY_TAG;
        return 0;
    }
    char what[96];
    snprintf(what, sizeof what, "not a tag (0 to %d%s)", REPLAY_TAG_BASE - 1,
             any_ok ? ", or -444 for any tag" : "");
    return bad_field(P, i, "tag", what);
}

/* Appends k byte counts to the rank's vector pool; *first gets where. */
static int vec_add(struct replay__parser *P, struct replay_rank *rk, size_t k,
                   uint32_t *first)
{
    if (rk->nvec + k > UINT32_MAX)
        return replay__failf(P, "%s: too many counts in this trace", P->tok[1]);
    if (replay__grow((void **)&rk->vec, &rk->vcap, rk->nvec + k,
                     sizeof *rk->vec))
        return replay__oom(P);
    *first = (uint32_t)rk->nvec;
    memset(rk->vec + rk->nvec, 0, k * sizeof *rk->vec);
    rk->nvec += k;
    return 0;
}

/* n counts from field i on, in bytes of datatype id, into the pool at
 * first; *sum gets their total. */
static int get_counts(struct replay__parser *P, struct replay_rank *rk, int i,
                      const char *name, int id, uint32_t first, int64_t *sum)
{
    *sum = 0;
    for (int k = 0; k < P->t->nranks; k++) {
        int64_t c, b;
        int rc = get_count(P, i + k, name, 0, &c);
        if (!rc)
            rc = bytes_of(P, i + k, name, c, id, &b);
        if (rc)
            return rc;
        rk->vec[first + (uint32_t)k] = b;
        *sum += b;
        if (*sum > (int64_t)MSG_MAX_LEN)
            return bad_field(P, i + k, name,
                             "the counts add up to more "
                             "bytes than msg can move");
    }
    return 0;
}

/* A reduction over count elements of datatype id (len bytes): msg's type
 * if it has the same size, else bytes. */
static void reduction(struct replay_action *a, int id)
{
    int mt = id >= 0 ? DTYPES[id].mt : -1;
    if (mt >= 0 && dt_size(id) > 0 &&
        msg_dtype_size((enum msg_dtype)mt) == (size_t)dt_size(id)) {
        a->dtype = (uint8_t)mt;
        a->len2 = a->len / dt_size(id);
    } else {
        a->dtype = MSG_UINT8;
        a->len2 = a->len;
    }
}

static int root_of(struct replay__parser *P, int i, int32_t *root)
{
    *root = 0;
    if (i >= nfields(P))
        return 0;
    return get_int(P, i, "root", 0, P->t->nranks - 1, root);
}

static int parse_p2p(struct replay__parser *P, int me, struct replay_action *a)
{
    struct replay__rstate *s = &P->rs[me];
    struct replay_rank *rk = &P->t->ranks[me];
    int is_recv = a->op == REPLAY_RECV || a->op == REPLAY_IRECV;
    int32_t raw_peer, raw_tag;
    int64_t count = 0;
    int id = 0, rc = check_nfields(P, 3, 1);
    if (!rc)
        rc = get_peer(P, 0, is_recv ? "source" : "destination", is_recv,
                      &raw_peer, &a->peer);
    if (!rc)
        rc = get_tag(P, 1, is_recv, &raw_tag, &a->tag);
    if (!rc)
        rc = get_count(P, 2, "size", is_recv, &count);
    if (!rc)
        rc = get_dtype(P, 3, me, &id);
    if (!rc && count >= 0)
        rc = bytes_of(P, 2, "size", count, id, &a->len);
    if (rc)
        return rc;
    if (count < 0)
        a->len = -1; /* probed when replayed */
    if (!is_recv) {
        need(&rk->max_send, a->len);
        rk->sends++;
        rk->send_bytes += (uint64_t)a->len;
    } else if (a->op == REPLAY_RECV) {
        need(&rk->max_recv, a->len);
    } else {
        need(&rk->max_irecv, a->len);
    }
    if (a->op == REPLAY_ISEND || a->op == REPLAY_IRECV) {
        if (rk->nslots >= INT32_MAX)
            return replay__failf(P, "%s: too many requests", P->tok[1]);
        a->slot = (int32_t)rk->nslots++;
        /* SimGrid's key: (sender, receiver, tag) as the trace writes
         * them (a wait names its request so). */
        a->ksrc = is_recv ? raw_peer : me;
        a->kdst = is_recv ? me : raw_peer;
        a->ktag = raw_tag;
        struct replay__qent e = {a->ksrc, a->kdst, a->ktag};
        return q_add(P, s, e);
    }
    return 0;
}

static int parse_wait_test(struct replay__parser *P, int me,
                           struct replay_action *a)
{
    struct replay__rstate *s = &P->rs[me];
    int rc = check_nfields(P, 3, 0);
    if (!rc)
        rc = get_int(P, 0, "source", INT_MIN, INT_MAX, &a->ksrc);
    if (!rc)
        rc = get_int(P, 1, "destination", INT_MIN, INT_MAX, &a->kdst);
    if (!rc)
        rc = get_int(P, 2, "tag", INT_MIN, INT_MAX, &a->ktag);
    if (rc)
        return rc;
    /* Which request the wait finds depends on the replay (a test that
     * completed one drops it later): the engine keeps the storage.  Here
     * only SimGrid's assertion ("action wait not preceded by any irecv or
     * isend"), with waits removing what they find and tests nothing. */
    if (a->op == REPLAY_WAIT && s->nq == 0)
        return replay__failf(P,
                             "wait: no isend or irecv is pending on "
                             "rank %d",
                             me);
    long i = q_find(s, a->ksrc, a->kdst, a->ktag);
    if (i >= 0 && a->op == REPLAY_WAIT)
        q_remove(s, (size_t)i);
    return 0;
}

static int parse_sendrecv(struct replay__parser *P, int me,
                          struct replay_action *a)
{
    struct replay_rank *rk = &P->t->ranks[me];
    int32_t raw;
    int64_t sc = 0, rcnt = 0;
    int d1 = 0, d2 = 0;
    int rc = check_nfields(P, 6, 0);
    if (!rc)
        rc = get_count(P, 0, "send count", 0, &sc);
    if (!rc)
        rc = get_peer(P, 1, "destination", 0, &raw, &a->peer);
    if (!rc)
        rc = get_count(P, 2, "receive count", 0, &rcnt);
    if (!rc)
        rc = get_peer(P, 3, "source", 1, &raw, &a->peer2);
    if (!rc)
        rc = get_dtype(P, 4, me, &d1);
    if (!rc)
        rc = get_dtype(P, 5, me, &d2);
    if (!rc)
        rc = bytes_of(P, 0, "send count", sc, d1, &a->len);
    if (!rc)
        rc = bytes_of(P, 2, "receive count", rcnt, d2, &a->len2);
    if (rc)
        return rc;
    a->tag = 0; /* SimGrid's replay sends and receives with tag 0 */
    need(&rk->max_send, a->len);
    need(&rk->max_recv, a->len2);
    rk->sends++;
    rk->send_bytes += (uint64_t)a->len;
    return 0;
}

/* bcast, reduce, allreduce, scan, exscan: one size, maybe a comp_size, a
 * root and a datatype. */
static int parse_simple_coll(struct replay__parser *P, int me,
                             struct replay_action *a)
{
    struct replay_rank *rk = &P->t->ranks[me];
    int has_comp = a->op != REPLAY_BCAST;
    int has_root = a->op == REPLAY_BCAST || a->op == REPLAY_REDUCE;
    int64_t count = 0;
    int id = 0, rc = check_nfields(P, 1 + has_comp, 1 + has_root);
    if (!rc)
        rc = get_count(P, 0, "count", 0, &count);
    if (!rc && has_comp)
        rc = get_amount(P, 1, "comp_size", &a->amount);
    if (!rc && has_root)
        rc = root_of(P, 1 + has_comp, &a->root);
    if (!rc)
        rc = get_dtype(P, 1 + has_comp + has_root, me, &id);
    if (!rc)
        rc = bytes_of(P, 0, "count", count, id, &a->len);
    if (rc)
        return rc;
    reduction(a, id);
    need(&rk->max_send, a->len);
    need(&rk->max_recv, a->len);
    return 0;
}

/* alltoall, gather, scatter, allgather: send and receive counts, maybe a
 * root, two datatypes.  len is the block every rank moves: what the root
 * receives (gather) or sends (scatter), else what the rank sends
 * (gather, scatter) or receives (alltoall, allgather: the counts that are
 * significant even with MPI_IN_PLACE). */
static int parse_block_coll(struct replay__parser *P, int me,
                            struct replay_action *a)
{
    struct replay_rank *rk = &P->t->ranks[me];
    int n = P->t->nranks;
    int has_root = a->op == REPLAY_GATHER || a->op == REPLAY_SCATTER;
    int64_t sc = 0, rcnt = 0, sb = 0, rb = 0;
    int d1 = 0, d2 = 0, rc = check_nfields(P, 2, 2 + has_root);
    if (!rc)
        rc = get_count(P, 0, "send count", 0, &sc);
    if (!rc)
        rc = get_count(P, 1, "receive count", 0, &rcnt);
    if (!rc && has_root)
        rc = root_of(P, 2, &a->root);
    if (!rc)
        rc = get_dtype(P, 2 + has_root, me, &d1);
    if (!rc)
        rc = get_dtype(P, 3 + has_root, me, &d2);
    if (!rc)
        rc = bytes_of(P, 0, "send count", sc, d1, &sb);
    if (!rc)
        rc = bytes_of(P, 1, "receive count", rcnt, d2, &rb);
    if (rc)
        return rc;
    int root = a->root == me;
    switch (a->op) {
    case REPLAY_GATHER:
        a->len = root ? rb : sb;
        break;
    case REPLAY_SCATTER:
        a->len = root ? sb : rb;
        break;
    default:
        a->len = rb;
        break;
    }
    if (a->len > (int64_t)MSG_MAX_LEN / n)
        return replay__failf(
            P,
            "%s: %d blocks of %lld bytes are more than msg can "
            "move",
            P->tok[1], n, (long long)a->len);
    int64_t all = a->len * n;
    switch (a->op) {
    case REPLAY_GATHER:
        need(&rk->max_send, a->len);
        need(&rk->max_recv, root ? all : 0);
        break;
    case REPLAY_SCATTER:
        need(&rk->max_send, root ? all : 0);
        need(&rk->max_recv, a->len);
        break;
    case REPLAY_ALLGATHER:
        need(&rk->max_send, a->len);
        need(&rk->max_recv, all);
        break;
    default:
        need(&rk->max_send, all);
        need(&rk->max_recv, all);
        break;
    }
    return 0;
}

/* gatherv, scatterv, allgatherv, reducescatter, alltoallv. */
static int parse_vector_coll(struct replay__parser *P, int me,
                             struct replay_action *a)
{
    struct replay_rank *rk = &P->t->ranks[me];
    int n = P->t->nranks, nf = nfields(P), d1 = 0, d2 = 0, rc;
    int64_t c = 0, sum = 0, sum2 = 0;
    switch (a->op) {
    case REPLAY_GATHERV: /* send recvcounts[n] [root [dt1 [dt2]]] */
    case REPLAY_ALLGATHERV: {
        int dti = n + 1;
        if (a->op == REPLAY_GATHERV) {
            rc = check_nfields(P, n + 1, 3);
            if (!rc)
                rc = root_of(P, n + 1, &a->root);
            dti = n + 2;
        } else {
            /* SimGrid's allgatherv takes, after the counts, nothing, the
             * datatypes, n displacements, or the datatypes and n
             * displacements, told apart by the number of fields. */
            rc = check_nfields(P, n + 1, -1);
            if (!rc && nf >= 2 * n + 2) {
                if (nf < 2 * n + 3)
                    rc = replay__failf(
                        P,
                        "allgatherv: %d fields: the datatypes and "
                        "%d displacements need %d",
                        nf, n, 2 * n + 3);
            } else if (!rc && nf >= n + 4) {
                if (nf < 2 * n + 1)
                    rc =
                        replay__failf(P,
                                      "allgatherv: %d fields: %d displacements "
                                      "need %d",
                                      nf, n, 2 * n + 1);
                dti = nf; /* no datatypes: the defaults */
            }
        }
        if (!rc)
            rc = get_dtype(P, dti, me, &d1);
        if (!rc)
            rc = get_dtype(P, dti + 1, me, &d2);
        if (!rc)
            rc = get_count(P, 0, "send count", 0, &c);
        if (!rc)
            rc = bytes_of(P, 0, "send count", c, d1, &a->len);
        if (!rc)
            rc = vec_add(P, rk, (size_t)n, &a->vec);
        if (!rc)
            rc = get_counts(P, rk, 1, "receive counts", d2, a->vec, &sum);
        if (rc)
            return rc;
        need(&rk->max_send, a->len);
        if (a->op == REPLAY_ALLGATHERV || a->root == me)
            need(&rk->max_recv, sum);
        return 0;
    }
    case REPLAY_SCATTERV: /* sendcounts[n] recv [root [dt1 [dt2]]] */
        rc = check_nfields(P, n + 1, 3);
        if (!rc)
            rc = root_of(P, n + 1, &a->root);
        if (!rc)
            rc = get_dtype(P, n + 2, me, &d1);
        if (!rc)
            rc = get_dtype(P, n + 3, me, &d2);
        if (!rc)
            rc = get_count(P, n, "receive count", 0, &c);
        if (!rc)
            rc = bytes_of(P, n, "receive count", c, d2, &a->len);
        if (!rc)
            rc = vec_add(P, rk, (size_t)n, &a->vec);
        if (!rc)
            rc = get_counts(P, rk, 0, "send counts", d1, a->vec, &sum);
        if (rc)
            return rc;
        need(&rk->max_recv, a->len);
        if (a->root == me)
            need(&rk->max_send, sum);
        return 0;
    case REPLAY_REDUCESCATTER: /* recvcounts[n] comp [dt] */
        rc = check_nfields(P, n + 1, 1);
        if (!rc)
            rc = get_amount(P, n, "comp_size", &a->amount);
        if (!rc)
            rc = get_dtype(P, n + 1, me, &d1);
        if (!rc)
            rc = vec_add(P, rk, (size_t)n, &a->vec);
        if (!rc)
            rc = get_counts(P, rk, 0, "receive counts", d1, a->vec, &sum);
        if (rc)
            return rc;
        a->len = sum;
        reduction(a, d1);
        need(&rk->max_send, sum);
        need(&rk->max_recv, sum);
        return 0;
    default: /* alltoallv: sendsize sendcounts[n] recvsize recvcounts[n]
              * [dt1 [dt2]] */
        rc = check_nfields(P, 2 * n + 2, 2);
        if (!rc)
            rc = get_dtype(P, 2 * n + 2, me, &d1);
        if (!rc)
            rc = get_dtype(P, 2 * n + 3, me, &d2);
        if (!rc)
            rc = get_count(P, 0, "send buffer size", 0, &c);
        if (!rc)
            rc = get_count(P, n + 1, "receive buffer size", 0, &c);
        if (!rc)
            rc = vec_add(P, rk, 2 * (size_t)n, &a->vec);
        if (!rc)
            rc = get_counts(P, rk, 1, "send counts", d1, a->vec, &sum);
        if (!rc)
            rc = get_counts(P, rk, n + 2, "receive counts", d2,
                            a->vec + (uint32_t)n, &sum2);
        if (rc)
            return rc;
        need(&rk->max_send, sum);
        need(&rk->max_recv, sum2);
        return 0;
    }
}

int replay__is_collective(int op)
{
    return op >= REPLAY_BARRIER && op <= REPLAY_EXSCAN;
}

int replay__parse_action(struct replay__parser *P, int me,
                         struct replay_action *a)
{
    struct replay__rstate *s = &P->rs[me];
    int op = 0;
    while (op < REPLAY_NOPS && strcmp(OP_NAMES[op], P->tok[1]))
        op++;
    if (op == REPLAY_NOPS)
        return replay__failf(
            P,
            "unknown action '%s' (field 2; SimGrid's replay "
            "knows init, finalize, send, isend, recv, irecv, "
            "test, wait, waitall, sendRecv, compute, sleep, the "
            "collectives, ...: see docs/replay.md)",
            P->tok[1]);
    a->op = (uint8_t)op;
    a->slot = -1;
    switch (op) {
    case REPLAY_INIT: {
        int rc = check_nfields(P, 0, 1);
        /* SimGrid: "init" with a field makes MPI_DOUBLE the default
         * datatype (MPE traces), without one MPI_BYTE (TAU traces). */
        if (!rc)
            s->default_dt = nfields(P) ? DT_DOUBLE : DT_BYTE;
        return rc;
    }
    case REPLAY_FINALIZE:
    case REPLAY_BARRIER:
        return check_nfields(P, 0, 0);
    case REPLAY_COMM_SIZE:
    case REPLAY_COMM_SPLIT:
    case REPLAY_COMM_DUP:
        return 0; /* no-ops in SimGrid too */
    case REPLAY_WAITALL: {
        /* SimGrid waits for every pending request, whatever the count
         * field says, and empties the storage. */
        int rc = check_nfields(P, 0, 1);
        if (!rc)
            s->nq = 0;
        return rc;
    }
    case REPLAY_SEND:
    case REPLAY_ISEND:
    case REPLAY_RECV:
    case REPLAY_IRECV:
        return parse_p2p(P, me, a);
    case REPLAY_TEST:
    case REPLAY_WAIT:
        return parse_wait_test(P, me, a);
    case REPLAY_SENDRECV:
        return parse_sendrecv(P, me, a);
    case REPLAY_BCAST:
    case REPLAY_REDUCE:
    case REPLAY_ALLREDUCE:
    case REPLAY_SCAN:
    case REPLAY_EXSCAN:
        return parse_simple_coll(P, me, a);
    case REPLAY_ALLTOALL:
    case REPLAY_GATHER:
    case REPLAY_SCATTER:
    case REPLAY_ALLGATHER:
        return parse_block_coll(P, me, a);
    case REPLAY_ALLTOALLV:
    case REPLAY_GATHERV:
    case REPLAY_SCATTERV:
    case REPLAY_ALLGATHERV:
    case REPLAY_REDUCESCATTER:
        return parse_vector_coll(P, me, a);
    case REPLAY_COMPUTE:
    case REPLAY_SLEEP: {
        int rc = check_nfields(P, 1, 0);
        return rc ? rc
                  : get_amount(P, 0, op == REPLAY_COMPUTE ? "flops" : "seconds",
                               &a->amount);
    }
    default: { /* location FILE LINE */
        int32_t line;
        int rc = check_nfields(P, 2, 0);
        return rc ? rc : get_int(P, 1, "line", INT_MIN, INT_MAX, &line);
    }
    }
}
