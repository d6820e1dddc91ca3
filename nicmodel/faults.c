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

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

int nicm__chance(struct nicm_cluster *cl, double p)
{
    if (!(p > 0))
        return 0;
    /* 53 random bits: a uniform double in [0, 1). */
    double u = (double)(next(cl->faults.rng) >> 11) * 0x1.0p-53;
    return u < p;
}

uint64_t nicm__draw_below(struct nicm_cluster *cl, uint64_t n)
{
    /* The modulo bias is below 2^-40 for every n the model uses. */
    return next(cl->faults.rng) % n;
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

int nicm_set_faults(nicm_cluster *cl, const struct nicm_faults *f)
{
    if (!f || !probability_ok(f->drop) || !probability_ok(f->corrupt) ||
        !probability_ok(f->dup) || !probability_ok(f->reorder) ||
        f->reorder_delay_max < 0 || (f->ndowns && !f->downs) ||
        (f->nnic_downs && !f->nic_downs))
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
    cf->active = f->drop > 0 || f->corrupt > 0 || f->dup > 0 ||
                 f->reorder > 0 || f->ndowns || f->nnic_downs;
    uint64_t s = f->seed;
    for (int i = 0; i < 4; i++)
        cf->rng[i] = splitmix64(&s);
    return VS_OK;
}

void nicm__faults_free(struct nicm_cluster *cl)
{
    free(cl->faults.downs);
    free(cl->faults.nic_downs);
    cl->faults.downs = NULL;
    cl->faults.nic_downs = NULL;
    cl->faults.ndowns = cl->faults.nnic_downs = 0;
    cl->faults.active = 0;
}

int nicm_faults_active(nicm_cluster *cl) { return cl->faults.active; }

const struct nicm_fault_stats *nicm_fault_stats(nicm_cluster *cl)
{
    return &cl->faults.st;
}
