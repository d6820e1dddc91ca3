/*
 * The fault model of nicmodel/ (nicm_set_faults in nicmodel/nicm.h): its
 * configuration, the down intervals of links and NICs, and the random
 * generator the fabric draws from.  The generator is xoshiro256**, seeded
 * through splitmix64, one stream per cluster; the fabric draws from it in
 * event order and only for non-zero probabilities, so a given seed gives the
 * same run byte for byte and a cluster without faults never draws.  What a
 * fault does to a packet is in fabric.c (links, arrival) and nic.c (send).
 */
#include <stdlib.h>
#include <string.h>

#include "nicmodel/nic_int.h"
#include "util/err.h"
#include "util/rng.h"

int nicm__chance(struct nicm_cluster *cl, double p)
{
    if (!(p > 0))
        return 0;
    /* 53 random bits: a uniform double in [0, 1). */
    return vs_unit(vs_rng_next(cl->faults.rng)) < p;
}

uint64_t nicm__draw_below(struct nicm_cluster *cl, uint64_t n)
{
    /* The modulo bias is below 2^-40 for every n the model uses. */
    return vs_rng_next(cl->faults.rng) % n;
}

static int in_interval(hw_time_t t, hw_time_t from, hw_time_t to)
{
    return t >= from && (to == HW_TIME_NEVER || t < to);
}

int nicm__link_down(const struct nicm_cluster *cl, size_t link, hw_time_t t)
{
    const struct nicm__faults *f = &cl->faults;
    for (size_t i = 0; i < f->ndowns; i++)
        if (f->downs[i].link == link &&
            in_interval(t, f->downs[i].from, f->downs[i].to))
            return 1;
    return 0;
}

int nicm__nic_down(const struct nicm_cluster *cl, int node, hw_time_t t)
{
    const struct nicm__faults *f = &cl->faults;
    for (size_t i = 0; i < f->nnic_downs; i++)
        if (f->nic_downs[i].node == node &&
            in_interval(t, f->nic_downs[i].from, f->nic_downs[i].to))
            return 1;
    return 0;
}

static int probability_ok(double p) { return p >= 0 && p <= 1; }

static int interval_ok(hw_time_t from, hw_time_t to)
{
    return from >= 0 && to > from;
}

static int pick_cmp(const void *x, const void *y)
{
    const struct nicm_fault_pick *a = x, *b = y;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    if (a->nth != b->nth)
        return a->nth < b->nth ? -1 : 1;
    return a->hop != b->hop   ? a->hop - b->hop
           : a->copy != b->copy ? a->copy - b->copy
                                : (int)a->kind - (int)b->kind;
}

int nicm_set_faults(nicm_cluster *cl, const struct nicm_faults *f)
{
    if (!f || !probability_ok(f->drop) || !probability_ok(f->corrupt) ||
        !probability_ok(f->dup) || !probability_ok(f->reorder) ||
        f->reorder_delay_max < 0 || (f->ndowns && !f->downs) ||
        (f->nnic_downs && !f->nic_downs) || (f->npicks && !f->picks))
        return VS_EINVAL;
    for (size_t i = 0; i < f->npicks; i++)
        if (f->picks[i].node < 0 || f->picks[i].node >= cl->nnodes ||
            f->picks[i].nth < 1 || f->picks[i].hop < 0 ||
            (unsigned)f->picks[i].kind >= NICM_FAULT_KINDS)
            return VS_EINVAL;
    for (size_t i = 0; i < f->ndowns; i++)
        if (f->downs[i].link >= cl->topo.nlinks ||
            !interval_ok(f->downs[i].from, f->downs[i].to))
            return VS_EINVAL;
    for (size_t i = 0; i < f->nnic_downs; i++)
        if (f->nic_downs[i].node < 0 || f->nic_downs[i].node >= cl->nnodes ||
            !interval_ok(f->nic_downs[i].from, f->nic_downs[i].to))
            return VS_EINVAL;
    struct nicm_link_down *downs = NULL;
    struct nicm_nic_down *nic_downs = NULL;
    if (f->ndowns && !(downs = malloc(f->ndowns * sizeof *downs)))
        return VS_ENOMEM;
    if (f->nnic_downs &&
        !(nic_downs = malloc(f->nnic_downs * sizeof *nic_downs))) {
        free(downs);
        return VS_ENOMEM;
    }
    struct nicm_fault_pick *picks = NULL;
    size_t *pick_next = NULL;
    if (f->npicks &&
        (!(picks = malloc(f->npicks * sizeof *picks)) ||
         !(pick_next = calloc((size_t)cl->nnodes, sizeof *pick_next)))) {
        free(picks);
        free(downs);
        free(nic_downs);
        return VS_ENOMEM;
    }
    if (picks) {
        memcpy(picks, f->picks, f->npicks * sizeof *picks);
        qsort(picks, f->npicks, sizeof *picks, pick_cmp);
        /* Each node starts at its first pick. */
        for (int node = 0, i = 0; node < cl->nnodes; node++) {
            while ((size_t)i < f->npicks && picks[i].node < node)
                i++;
            pick_next[node] = (size_t)i;
        }
    }
    if (downs)
        memcpy(downs, f->downs, f->ndowns * sizeof *downs);
    if (nic_downs)
        memcpy(nic_downs, f->nic_downs, f->nnic_downs * sizeof *nic_downs);
    struct nicm__faults *cf = &cl->faults;
    nicm__faults_free(cl);
    cf->drop = f->drop;
    cf->corrupt = f->corrupt;
    cf->dup = f->dup;
    cf->reorder = f->reorder;
    cf->reorder_delay_max = f->reorder_delay_max
                                ? f->reorder_delay_max
                                : NICM_REORDER_DELAY_DEFAULT;
    cf->downs = downs;
    cf->ndowns = f->ndowns;
    cf->nic_downs = nic_downs;
    cf->nnic_downs = f->nnic_downs;
    cf->picks = picks;
    cf->npicks = f->npicks;
    cf->pick_next = pick_next;
    cf->record = f->record;
    cf->active = f->drop > 0 || f->corrupt > 0 || f->dup > 0 ||
                 f->reorder > 0 || f->ndowns || f->nnic_downs || f->npicks;
    vs_rng_seed(cf->rng, f->seed);
    return VS_OK;
}

void nicm__faults_free(struct nicm_cluster *cl)
{
    struct nicm__faults *f = &cl->faults;
    free(f->downs);
    free(f->nic_downs);
    free(f->picks);
    free(f->pick_next);
    f->downs = NULL;
    f->nic_downs = NULL;
    f->picks = NULL;
    f->pick_next = NULL;
    f->ndowns = f->nnic_downs = f->npicks = 0;
    f->active = 0;
}

void nicm__faults_destroy(struct nicm_cluster *cl)
{
    nicm__faults_free(cl);
    free(cl->faults.log);
    cl->faults.log = NULL;
    cl->faults.nlog = cl->faults.log_cap = 0;
}

void nicm__pick(struct nicm_cluster *cl, struct nicm__pkt *p)
{
    struct nicm__faults *f = &cl->faults;
    int node = p->src->nic.node;
    size_t i = f->pick_next[node];
    /* A node's packets are counted in order: its cursor only moves on. */
    while (i < f->npicks && f->picks[i].node == node &&
           f->picks[i].nth < p->nth)
        i++;
    p->pick_lo = (uint32_t)i;
    for (; i < f->npicks && f->picks[i].node == node &&
           f->picks[i].nth == p->nth;
         i++)
        ;
    p->pick_n = (uint32_t)(i - p->pick_lo);
    f->pick_next[node] = i;
}

int nicm__picked(const struct nicm_cluster *cl, const struct nicm__pkt *p,
                 enum nicm_fault_kind k, int hop)
{
    for (uint32_t i = 0; i < p->pick_n; i++) {
        const struct nicm_fault_pick *q = &cl->faults.picks[p->pick_lo + i];
        if (q->kind == k && q->hop == hop && q->copy == (int)p->is_copy)
            return 1;
    }
    return 0;
}

void nicm__fault_log(struct nicm_cluster *cl, const struct nicm__pkt *p,
                     enum nicm_fault_kind k)
{
    struct nicm__faults *f = &cl->faults;
    if (!f->record)
        return;
    if (f->nlog == f->log_cap) {
        size_t cap = f->log_cap ? 2 * f->log_cap : 256;
        struct nicm_fault_pick *l = realloc(f->log, cap * sizeof *l);
        if (!l)
            return; /* the log is a report: a short one is not fatal */
        f->log = l;
        f->log_cap = cap;
    }
    /* Past faults_enter the packet counts the link it crossed. */
    int hop = k == NICM_FAULT_DROP || k == NICM_FAULT_CORRUPT ? p->hop
                                                               : p->hop - 1;
    f->log[f->nlog++] = (struct nicm_fault_pick){k, p->src->nic.node, p->nth,
                                                 hop, p->is_copy};
}

const struct nicm_fault_pick *nicm_fault_log(nicm_cluster *cl, size_t *n)
{
    *n = cl->faults.nlog;
    return cl->faults.log;
}

const char *nicm_fault_kind_name(enum nicm_fault_kind k)
{
    static const char *const names[NICM_FAULT_KINDS] = {"drop", "corrupt",
                                                        "dup", "reorder"};
    return (unsigned)k < NICM_FAULT_KINDS ? names[k] : "?";
}

int nicm_faults_active(nicm_cluster *cl) { return cl->faults.active; }

const struct nicm_fault_stats *nicm_fault_stats(nicm_cluster *cl)
{
    return &cl->faults.st;
}
