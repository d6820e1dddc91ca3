/*
 * alltoall: every node sends messages to every other node at once, with
 * sizes drawn log-uniformly from [--min-size, --max-size], --messages in
 * all (spread over the senders; each sender goes round the other nodes in
 * turn).  It is the reliability workload: with --verify every byte that
 * arrives is compared with what the sender wrote (the receiver regenerates
 * it from the seed), each message must arrive exactly once and in order
 * per sender, and the counters (messages sent and delivered, bytes
 * verified, corrupt and duplicate deliveries, send errors) go into the run's
 * statistics and --json.
 *
 * Each receiver gives every sender a ring of SLOTS message slots in its
 * export and hands back credits (how many it has consumed) through a small
 * export on the sender, so a slot is never overwritten before it is
 * checked.  Every message raises a notification; they arrive in order
 * per sender.
 *
 * Large clusters (more than DIRECT_MAX nodes, where three imports per peer
 * no longer fit in VMMC's 64): each receiver has only WIN groups of SLOTS
 * slots.  Sender src is at step r = (dst - src - 1) mod n of receiver dst
 * (the plan sends to src+1, src+2, ... in turn, round after round), and
 * uses group r mod WIN.  A group serves its turns -- (round t, step r) with
 * a message -- in the plan's order: the receiver grants a slot of the group
 * to the sender of a turn by writing t+1 into that sender's grant word for
 * (receiver, slot); the sender waits for it before sending into that slot,
 * and when the message has been taken the slot goes to the group's next
 * turn.  A grant waits only for turns earlier in the plan, so it cannot
 * deadlock.  Imports are made when first needed and kept in a small cache
 * (least recently used out), and the final barrier is a dissemination
 * barrier (log2 n rounds) instead of everyone to everyone.  The plan is the
 * same in both schemes.
 *
 * Protection (with --verify): the receive export sits between two guard
 * pages and every slot holds a canary byte where no message is; a message
 * may change only its own bytes of its slot.  When a message is taken, the
 * rest of its slot must still be canary, and the slot is refilled with it;
 * at the end the guards, every slot and the canary between the credit and
 * barrier words must be intact.  Changed bytes are
 * counted as bytes_outside_changed, which a sweep reports as a protection
 * failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/rng.h"
#include "vmmc/vmmc.h"
#include "workloads/wl.h"
#include "workloads/wl_int.h"

#define SLOTS 2   /* message slots per sender in each receiver */
#define DIRECT_MAX 22 /* up to here every peer is imported (3 (n-1) <= 64) */
#define WIN 4     /* above DIRECT_MAX: slot groups per receiver */
#define IMP_CACHE 48 /* above DIRECT_MAX: imports kept at once */
#define NSRC 8    /* source buffers in flight per sender */
#define GUARD 4096 /* bytes of guard on each side of the receive export */
#define CANARY 0xA5 /* where no message is, in a receive slot */
#define GUARD_BYTE 0x5A
#define SPILL 64 /* bytes past a message checked when it is taken */
/* Credit and barrier words sit WORD_STRIDE words apart in their exports,
 * with canary between them, so a write that spills past its word shows. */
#define WORD_STRIDE 4
#define WORD_BYTES (WORD_STRIDE * sizeof(uint32_t))

static int parse(struct wl_opts *o, int argc, char **argv, char *err,
                 size_t errlen)
{
    o->messages = 1000;
    o->min_size = 1;
    o->max_size = 64 * 1024;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    if (!rest) {
        snprintf(err, errlen, "out of memory");
        return VS_ENOMEM;
    }
    int rc = VS_OK;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a = argv[i];
        uint64_t *dst = !strcmp(a, "--messages")   ? &o->messages
                        : !strcmp(a, "--min-size") ? &o->min_size
                        : !strcmp(a, "--max-size") ? &o->max_size
                                                   : NULL;
        if (!dst) {
            rest[nrest++] = argv[i];
            continue;
        }
        uint64_t v = 0;
        uint64_t max = dst == &o->messages ? 100000000ull : 16ull << 20;
        if (i + 1 >= argc || wl_parse_u64(argv[i + 1], 1, max, &v)) {
            snprintf(err, errlen,
                     "option %s: expected a positive integer%s", a,
                     dst == &o->messages ? " up to 100000000"
                                         : " up to 16M bytes (K, M suffixes)");
            rc = VS_EINVAL;
            break;
        }
        *dst = v;
        i++;
    }
    if (!rc)
        rc = wl_parse_common(o, nrest, rest, err, errlen);
    free(rest);
    if (!rc && o->min_size > o->max_size) {
        snprintf(err, errlen, "option --min-size: %llu is above --max-size "
                              "%llu",
                 (unsigned long long)o->min_size,
                 (unsigned long long)o->max_size);
        rc = VS_EINVAL;
    }
    return rc;
}

/* ---- The plan: who sends what to whom, the same on every node ---- */

struct msg {
    int dst;
    uint32_t size;
    uint32_t k; /* index among the messages of this (src, dst) pair */
};

/* How many messages sender src sends in all. */
static uint64_t plan_len(const struct wl_opts *o, int src, int n)
{
    return o->messages / (uint64_t)n +
           ((uint64_t)src < o->messages % (uint64_t)n ? 1 : 0);
}

/* The size of sender src's message j: the (j+1)th draw of its splitmix64
 * counter, computed directly (the counter moves by a constant a draw). */
static uint32_t plan_size(const struct wl_opts *o, int src, uint64_t j)
{
    uint64_t s = o->seed * 1000003u + (uint64_t)src +
                 j * 0x9E3779B97F4A7C15ull;
    double lo = (double)o->min_size, hi = (double)o->max_size + 1;
    double u = vs_unit(vs_splitmix64(&s));
    uint64_t size = (uint64_t)(lo * pow(hi / lo, u));
    if (size < o->min_size)
        size = o->min_size;
    if (size > o->max_size)
        size = o->max_size;
    return (uint32_t)size;
}

/* Receiver dst's step of sender src: src's messages j with
 * j mod (n-1) == step go to dst. */
static int step_of(int dst, int src, int n) { return (dst - src - 1 + n) % n; }

/* How many messages src sends to dst: those j = step + k (n-1) < plan_len. */
static uint32_t pair_count(const struct wl_opts *o, int src, int dst, int n)
{
    uint64_t m = plan_len(o, src, n), r = (uint64_t)step_of(dst, src, n);
    return m > r ? (uint32_t)((m - 1 - r) / (uint64_t)(n - 1) + 1) : 0;
}

/* Sender src's messages, in the order it sends them. */
static struct msg *make_plan(const struct wl_opts *o, int src, int n,
                             uint64_t *count)
{
    uint64_t m = plan_len(o, src, n);
    struct msg *plan = calloc(m ? m : 1, sizeof *plan);
    if (!plan)
        return NULL;
    for (uint64_t j = 0; j < m; j++) {
        uint32_t r = (uint32_t)(j % (uint64_t)(n - 1));
        int dst = (src + 1 + (int)r) % n;
        plan[j] = (struct msg){dst, plan_size(o, src, j),
                               (uint32_t)(j / (uint64_t)(n - 1))};
    }
    *count = m;
    return plan;
}

static void content(unsigned char *buf, uint32_t size, const struct wl_opts *o,
                    int src, int dst, uint32_t k)
{
    wl_pattern(buf, size,
               o->seed ^ ((uint64_t)src << 40) ^ ((uint64_t)dst << 24), k);
}

/* ---- One node ---- */

struct node {
    struct wl_env *env;
    const struct wl_opts *o;
    int me, n;
    int windowed;        /* n > DIRECT_MAX: WIN slot groups, lazy imports */
    size_t ngroups;      /* slot groups in the receive export */
    size_t ncredit;      /* words in export 1 (n, + n SLOTS grants) */
    vmmc_ctx *ctx;
    unsigned char *in;   /* export 0: ngroups * SLOTS slots of max_size */
    unsigned char *in_raw; /* in, with a guard before and after */
    uint32_t *credit;    /* export 1: credit[d] = messages d has consumed;
                            windowed: then grant[d SLOTS + q] = t + 1, slot
                            q of d's group is ours for round t */
    uint32_t *bar;       /* export 2: barrier words */
    uint32_t *cred_out;  /* what this node sends as credits */
    uint32_t *bar_out;
    vmmc_import_t *imp, *imp_credit, *imp_bar; /* direct: every peer's */
    uint32_t *grant_out; /* windowed: the grant words sent, per slot */
    uint32_t rounds;     /* windowed: the most messages from one sender */
    struct wgroup {
        uint32_t t;      /* the next turn to grant: round t, step r */
        int r;
        struct {
            int src;     /* -1: free */
            uint32_t t;
        } owner[SLOTS];
    } grp[WIN];
    struct imp_entry {
        int peer, id;
        vmmc_import_t h;
        uint64_t used;
    } cache[IMP_CACHE];  /* windowed: imports held */
    int ncache;
    uint64_t clock;
    struct msg *plan;    /* this node's sends */
    uint64_t nplan, next;
    uint32_t *sent_to;   /* per destination */
    /* What this node must receive, per source (sizes: plan_size). */
    uint32_t *expect_n, *got;
    uint64_t expect_total, got_total;
    unsigned char *src_buf[NSRC];
    vmmc_req req[NSRC];
    int req_live[NSRC];
    unsigned next_buf;
    unsigned char *want;
};

/* Receiver rcv's slot group for sender src. */
static size_t group_of(const struct node *s, int rcv, int src)
{
    return s->windowed ? (size_t)(step_of(rcv, src, s->n) % WIN)
                       : (size_t)src;
}

/* Direct: where message k of src to rcv goes in rcv's receive export. */
static size_t slot_off(const struct node *s, int rcv, int src, uint32_t k)
{
    return (group_of(s, rcv, src) * SLOTS + k % SLOTS) * s->o->max_size;
}

/* Windowed: the slot of dst's group granted to my round-t message, or -1. */
static int granted_slot(const struct node *s, int dst, uint32_t t)
{
    const volatile uint32_t *g =
        &s->credit[((size_t)s->n + (size_t)dst * SLOTS) * WORD_STRIDE];
    for (int q = 0; q < SLOTS; q++)
        if (g[q * WORD_STRIDE] == t + 1)
            return q;
    return -1;
}

static int can_send(void *arg)
{
    const struct node *s = arg;
    if (s->next >= s->nplan)
        return 0;
    const struct msg *m = &s->plan[s->next];
    if (s->windowed)
        return granted_slot(s, m->dst, m->k) >= 0;
    const volatile uint32_t *c = &s->credit[m->dst * WORD_STRIDE];
    return s->sent_to[m->dst] < *c + SLOTS;
}

/* The handle of peer's export id: imported at setup (direct) or from the
 * cache, importing it now and dropping the least recently used. */
static int peer_import(struct node *s, int peer, int id, vmmc_import_t *out)
{
    if (!s->windowed) {
        *out = (id == 0 ? s->imp : id == 1 ? s->imp_credit : s->imp_bar)[peer];
        return VS_OK;
    }
    struct imp_entry *e = NULL;
    for (int i = 0; i < s->ncache; i++) {
        struct imp_entry *c = &s->cache[i];
        if (c->peer == peer && c->id == id) {
            c->used = ++s->clock;
            *out = c->h;
            return VS_OK;
        }
        if (!e || c->used < e->used)
            e = c;
    }
    if (s->ncache < IMP_CACHE) {
        e = &s->cache[s->ncache++];
    } else if (e->peer >= 0) {
        /* Sends already posted through it are not affected: the NIC
         * checked them against the import when it took them. */
        int rc = vmmc_unimport(s->ctx, e->h);
        if (rc)
            return rc;
    }
    e->peer = -1;
    e->used = ++s->clock;
    int rc = wl_import_retry(s->env, s->ctx, peer, id, &e->h);
    if (rc)
        return rc;
    e->peer = peer;
    e->id = id;
    *out = e->h;
    return VS_OK;
}

/* A 4-byte word to peer's export id at off (credits, grants, barrier). */
static void send_word(struct node *s, int peer, int id, size_t off,
                      const uint32_t *word)
{
    vmmc_import_t h;
    int rc = peer_import(s, peer, id, &h);
    if (rc) {
        wl_fail(s->env, "import from node %d: %s", peer, vs_strerror(rc));
        return;
    }
    if (vmmc_send(s->ctx, h, off, word, 4, 0, NULL))
        s->env->sh->ctr.send_errors++;
}

/* Windowed: slot q of group g goes to the group's next turn that has a
 * message, in the plan's order (round by round, step by step). */
static void grant_next(struct node *s, int g, int q)
{
    struct wgroup *G = &s->grp[g];
    G->owner[q].src = -1;
    for (;;) {
        if (G->r > s->n - 2) {
            G->r = g;
            G->t++;
        }
        if (G->t >= s->rounds)
            return; /* the group is done */
        int src = ((s->me - 1 - G->r) % s->n + s->n) % s->n;
        uint32_t t = G->t;
        G->r += WIN;
        if (s->expect_n[src] > t) {
            G->owner[q].src = src;
            G->owner[q].t = t;
            uint32_t *w = &s->grant_out[(size_t)g * SLOTS + (size_t)q];
            *w = t + 1;
            send_word(s, src, 1,
                      ((size_t)s->n + (size_t)s->me * SLOTS + (size_t)q) *
                          WORD_BYTES,
                      w);
            return;
        }
    }
}

static int node_setup(struct node *s)
{
    struct wl_env *env = s->env;
    const struct wl_opts *o = s->o;
    int n = s->n, rc;
    s->windowed = n > DIRECT_MAX;
    s->ngroups = s->windowed ? WIN : (size_t)n;
    s->ncredit = s->windowed ? (size_t)n * (1 + SLOTS) : (size_t)n;
    size_t slots = s->ngroups * SLOTS * o->max_size;
    s->in_raw = wl_alloc_pages_raw(slots + 2 * GUARD); /* filled below */
    s->in = s->in_raw ? s->in_raw + GUARD : NULL;
    s->credit = wl_alloc_pages(s->ncredit * WORD_BYTES);
    s->bar = wl_alloc_pages((size_t)n * WORD_BYTES);
    s->cred_out = wl_alloc_pages((size_t)n * sizeof *s->cred_out);
    s->bar_out = wl_alloc_pages(sizeof *s->bar_out);
    s->grant_out = wl_alloc_pages(WIN * SLOTS * sizeof *s->grant_out);
    if (!s->windowed) {
        s->imp = calloc((size_t)n, sizeof *s->imp);
        s->imp_credit = calloc((size_t)n, sizeof *s->imp_credit);
        s->imp_bar = calloc((size_t)n, sizeof *s->imp_bar);
    }
    s->sent_to = calloc((size_t)n, sizeof *s->sent_to);
    s->expect_n = calloc((size_t)n, sizeof *s->expect_n);
    s->got = calloc((size_t)n, sizeof *s->got);
    /* The expected bytes, only for --verify (64 KiB a node otherwise). */
    s->want = o->verify ? malloc(o->max_size) : NULL;
    if (!s->in || !s->credit || !s->bar || !s->cred_out || !s->bar_out ||
        !s->grant_out ||
        (!s->windowed && (!s->imp || !s->imp_credit || !s->imp_bar)) ||
        !s->sent_to || !s->expect_n || !s->got || (o->verify && !s->want)) {
        wl_fail(env, "out of memory for %zu bytes of message slots", slots);
        return -1;
    }
    memset(s->in_raw, GUARD_BYTE, GUARD);
    memset(s->in, CANARY, slots);
    memset(s->in + slots, GUARD_BYTE, GUARD);
    for (size_t i = 0; i < s->ncredit; i++)
        memset(&s->credit[i * WORD_STRIDE + 1], CANARY, WORD_BYTES - 4);
    for (int i = 0; i < n; i++)
        memset(&s->bar[i * WORD_STRIDE + 1], CANARY, WORD_BYTES - 4);
    for (int i = 0; i < NSRC; i++)
        if (!(s->src_buf[i] = wl_alloc_send(o->max_size))) {
            wl_fail(env, "out of memory");
            return -1;
        }
    /* My plan, and how many messages each sender has for me (their
     * sizes are computed when they arrive). */
    s->plan = make_plan(o, s->me, n, &s->nplan);
    if (!s->plan) {
        wl_fail(env, "out of memory for the plan");
        return -1;
    }
    /* Latencies: when each of my messages was issued, where its receivers
     * can read it (one OS process: the simulator). */
    struct wl_latency *lat = env->sh->lat;
    if (lat && !lat->issue) {
        lat->issue = calloc((size_t)n, sizeof *lat->issue);
        lat->nissue = lat->issue ? n : 0;
    }
    if (lat && lat->issue && s->me < lat->nissue)
        lat->issue[s->me] = calloc(s->nplan ? s->nplan : 1, sizeof(double));
    for (int src = 0; src < n; src++)
        if (src != s->me) {
            s->expect_n[src] = pair_count(o, src, s->me, n);
            s->expect_total += s->expect_n[src];
            if (s->expect_n[src] > s->rounds)
                s->rounds = s->expect_n[src];
        }
    if ((rc = vmmc_open(&s->ctx, env->host))) {
        wl_fail(env, "vmmc_open: %s", vs_strerror(rc));
        return -1;
    }
    if ((rc = vmmc_export(s->ctx, 0, s->in, slots, VMMC_PERM_WRITE)) ||
        (rc = vmmc_export(s->ctx, 1, s->credit, s->ncredit * WORD_BYTES,
                          VMMC_PERM_WRITE)) ||
        (rc = vmmc_export(s->ctx, 2, s->bar, (size_t)n * WORD_BYTES,
                          VMMC_PERM_WRITE))) {
        wl_fail(env, "vmmc_export: %s", vs_strerror(rc));
        return -1;
    }
    if (s->windowed) {
        /* Every slot to the first turns of its group. */
        for (int g = 0; g < WIN; g++) {
            s->grp[g].r = g;
            for (int q = 0; q < SLOTS; q++)
                grant_next(s, g, q);
        }
        return env->sh->failed ? -1 : 0;
    }
    for (int k = 1; k < n; k++) {
        int p = (s->me + k) % n;
        if ((rc = wl_import_retry(env, s->ctx, p, 0, &s->imp[p])) ||
            (rc = wl_import_retry(env, s->ctx, p, 1, &s->imp_credit[p])) ||
            (rc = wl_import_retry(env, s->ctx, p, 2, &s->imp_bar[p]))) {
            wl_fail(env, "import from node %d: %s", p, vs_strerror(rc));
            return -1;
        }
    }
    return 0;
}

/* Bytes of [p, p+len) that are not b (a word at a time while they are). */
static uint64_t changed(const unsigned char *p, size_t len, unsigned char b)
{
    uint64_t n = 0, w = 0x0101010101010101ull * b, v;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&v, p + i, 8);
        if (v != w)
            for (int k = 0; k < 8; k++)
                n += p[i + k] != b;
    }
    for (; i < len; i++)
        n += p[i] != b;
    return n;
}

/* At the end: the guards and every slot (all taken) are intact. */
static void check_untouched(struct node *s)
{
    size_t slots = s->ngroups * SLOTS * s->o->max_size;
    uint64_t n = changed(s->in_raw, GUARD, GUARD_BYTE) +
                 changed(s->in, slots, CANARY) +
                 changed(s->in + slots, GUARD, GUARD_BYTE);
    for (size_t i = 0; i < s->ncredit; i++)
        n += changed((unsigned char *)&s->credit[i * WORD_STRIDE + 1],
                     WORD_BYTES - 4, CANARY);
    for (int i = 0; i < s->n; i++)
        n += changed((unsigned char *)&s->bar[i * WORD_STRIDE + 1],
                     WORD_BYTES - 4, CANARY);
    s->env->sh->ctr.bytes_outside_changed += n;
}

static int send_next(struct node *s)
{
    const struct msg *m = &s->plan[s->next];
    struct wl_counters *ctr = &s->env->sh->ctr;
    unsigned b = s->next_buf;
    s->next_buf = (b + 1) % NSRC;
    if (s->req_live[b]) {
        int rc = vmmc_wait(s->ctx, &s->req[b]);
        s->req_live[b] = 0;
        if (rc)
            ctr->send_errors++;
    }
    vmmc_import_t h;
    int rc = peer_import(s, m->dst, 0, &h);
    if (rc) {
        wl_fail(s->env, "import from node %d: %s", m->dst, vs_strerror(rc));
        s->next++;
        return rc;
    }
    uint32_t k = s->sent_to[m->dst]++;
    /* The bytes matter only to a receiver that checks them. */
    if (s->o->verify)
        content(s->src_buf[b], m->size, s->o, s->me, m->dst, k);
    struct wl_latency *lat = s->env->sh->lat;
    if (lat && lat->issue && lat->issue[s->me])
        lat->issue[s->me][s->next] = (double)s->env->host->ops->now(s->env->host);
    size_t off = slot_off(s, m->dst, s->me, k);
    if (s->windowed)
        off = (group_of(s, m->dst, s->me) * SLOTS +
               (size_t)granted_slot(s, m->dst, m->k)) *
              s->o->max_size;
    rc = vmmc_send(s->ctx, h, off, s->src_buf[b], m->size, VMMC_SEND_NOTIFY,
                   &s->req[b]);
    s->next++;
    if (rc) {
        ctr->send_errors++;
        return rc;
    }
    s->req_live[b] = 1;
    ctr->messages_sent++;
    return 0;
}

static void receive(struct node *s, const struct vmmc_notification *note)
{
    struct wl_counters *ctr = &s->env->sh->ctr;
    int src = note->src_node;
    if (note->export_id != 0 || src < 0 || src >= s->n || src == s->me) {
        ctr->corrupt_delivered++;
        return;
    }
    uint32_t k = s->got[src];
    size_t base = group_of(s, s->me, src) * SLOTS * s->o->max_size;
    size_t want_off = slot_off(s, s->me, src, k);
    int wq = -1; /* windowed: the slot granted to this message */
    if (s->windowed) {
        const struct wgroup *G = &s->grp[group_of(s, s->me, src)];
        for (int q = 0; q < SLOTS; q++)
            if (G->owner[q].src == src && G->owner[q].t == k)
                wq = q;
        want_off = wq < 0 ? SIZE_MAX : base + (size_t)wq * s->o->max_size;
    }
    if (k >= s->expect_n[src] || note->offset != want_off) {
        /* A message nobody sent now: a second copy of an earlier one. */
        if (note->offset >= base &&
            note->offset < base + SLOTS * s->o->max_size && k > 0)
            ctr->duplicates_delivered++;
        else
            ctr->corrupt_delivered++;
        return;
    }
    int r = step_of(s->me, src, s->n);
    uint64_t j = (uint64_t)r + (uint64_t)k * (uint64_t)(s->n - 1);
    uint32_t size = plan_size(s->o, src, j);
    if (note->len != size) {
        ctr->corrupt_delivered++;
    } else if (s->o->verify) {
        unsigned char *slot = s->in + note->offset;
        content(s->want, size, s->o, src, s->me, k);
        if (memcmp(slot, s->want, size))
            ctr->corrupt_delivered++;
        else
            ctr->bytes_verified += size;
        /* Just past the message, where an overrun lands; the rest of the
         * slot is checked once at the end (refills never cover it). */
        size_t past = s->o->max_size - size < SPILL ? s->o->max_size - size
                                                    : SPILL;
        ctr->bytes_outside_changed += changed(slot + size, past, CANARY);
        memset(slot, CANARY, size + past);
    }
    struct wl_latency *lat = s->env->sh->lat;
    if (lat && lat->issue && src < lat->nissue && lat->issue[src]) {
        hw_host *h = s->env->host;
        double t0 = lat->issue[src][j];
        wl_latency_add(lat, size, ((double)h->ops->now(h) - t0) / 1e6);
    }
    s->got[src]++;
    s->got_total++;
    ctr->messages_delivered++;
    ctr->bytes_delivered += note->len;
    /* Give the slot back. */
    if (s->windowed) {
        grant_next(s, (int)group_of(s, s->me, src), wq);
        return;
    }
    s->cred_out[src] = s->got[src];
    send_word(s, src, 1, (size_t)s->me * WORD_BYTES, &s->cred_out[src]);
}

static void barrier(struct node *s, uint32_t phase)
{
    *s->bar_out = phase;
    if (s->windowed) {
        /* Dissemination: in round k, tell me + 2^k and hear from me - 2^k
         * (word k of the barrier export). */
        for (int k = 0, d = 1; d < s->n && !s->env->sh->failed; k++, d *= 2) {
            send_word(s, (s->me + d) % s->n, 2, (size_t)k * WORD_BYTES,
                      s->bar_out);
            int rc = vmmc_wait_u32(s->ctx, &s->bar[k * WORD_STRIDE], phase,
                                   WL_TIMEOUT);
            if (rc) {
                wl_fail(s->env, "barrier: no word in round %d: %s", k,
                        vs_strerror(rc));
                return;
            }
        }
        return;
    }
    for (int k = 1; k < s->n; k++) {
        int p = (s->me + k) % s->n;
        if (vmmc_send(s->ctx, s->imp_bar[p], (size_t)s->me * WORD_BYTES,
                      s->bar_out, 4,
                      0, NULL))
            s->env->sh->ctr.send_errors++;
    }
    for (int k = 1; k < s->n; k++) {
        int p = (s->me + k) % s->n;
        int rc = vmmc_wait_u32(s->ctx, &s->bar[p * WORD_STRIDE], phase,
                               WL_TIMEOUT);
        if (rc) {
            wl_fail(s->env, "barrier: no word from node %d: %s", p,
                    vs_strerror(rc));
            return;
        }
    }
}

static void node_free(struct node *s)
{
    if (s->ctx) {
        s->env->host->ops->compute(s->env->host, HW_MS);
        vmmc_close(s->ctx);
    }
    for (int i = 0; i < NSRC; i++)
        wl_free_send(s->src_buf[i], s->o->max_size);
    free(s->in_raw);
    free(s->credit);
    free(s->bar);
    free(s->cred_out);
    free(s->bar_out);
    free(s->grant_out);
    free(s->imp);
    free(s->imp_credit);
    free(s->imp_bar);
    free(s->sent_to);
    free(s->expect_n);
    free(s->got);
    free(s->want);
    free(s->plan);
}

static void run(struct wl_env *env)
{
    struct node s = {.env = env, .o = env->sh->opts, .me = env->node,
                     .n = env->nnodes};
    hw_host *h = env->host;
    env->sh->ctr.present = 1;
    if (node_setup(&s))
        goto out;
    double t0 = (double)h->ops->now(h);
    while ((s.next < s.nplan || s.got_total < s.expect_total) &&
           !env->sh->failed) {
        int progress = 0;
        while (can_send(&s)) {
            send_next(&s);
            progress = 1;
        }
        struct vmmc_notification note;
        while (vmmc_notify_poll(s.ctx, &note) == 1) {
            receive(&s, &note);
            progress = 1;
        }
        if (progress)
            continue;
        int rc = vmmc_wait_until(s.ctx, can_send, &s, WL_TIMEOUT);
        if (rc) {
            wl_fail(env, "stuck: sent %llu of %llu, received %llu of %llu: %s",
                    (unsigned long long)s.next, (unsigned long long)s.nplan,
                    (unsigned long long)s.got_total,
                    (unsigned long long)s.expect_total, vs_strerror(rc));
            break;
        }
    }
    for (int b = 0; b < NSRC; b++)
        if (s.req_live[b] && vmmc_wait(s.ctx, &s.req[b]))
            env->sh->ctr.send_errors++;
    if (vmmc_flush(s.ctx))
        env->sh->ctr.send_errors++;
    double t1 = (double)h->ops->now(h);
    if (t0 < env->sh->starts[0][0] || env->sh->starts[0][0] == 0)
        env->sh->starts[0][0] = t0;
    if (t1 > env->sh->marks[0][0])
        env->sh->marks[0][0] = t1;
    if (!env->sh->failed)
        barrier(&s, 1);
    if (!env->sh->failed && s.o->verify)
        check_untouched(&s);
    if (env->node == 0 && !env->sh->failed) {
        /* Every node passed the barrier: the counters are final. */
        const struct wl_counters *c = &env->sh->ctr;
        double us = (env->sh->marks[0][0] - env->sh->starts[0][0]) / 1e6;
        struct wl_row *r = &env->sh->rows[env->sh->nrows++];
        uint64_t msgs = c->messages_delivered;
        r->size = msgs ? c->bytes_delivered / msgs : 0;
        r->latency_us = msgs ? us * s.n / (double)msgs : 0;
        r->bandwidth_MBps = us > 0 ? (double)c->bytes_delivered / us : 0;
    }
out:
    node_free(&s);
}

const struct wl_def wl_alltoall = {
    .name = "alltoall",
    .summary = "every node sends checked messages to every other at once",
    .parse = parse,
    .main = run,
    .min_nodes = 2,
};
