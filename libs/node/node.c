/*
 * libs/node: the per-node VMMC context and end-of-program hooks the
 * libraries share (node.h).  State is an array indexed by node id, sized by
 * the first caller's hw_host.nnodes and grown if a later run has more.
 */
#include "libs/node/node.h"

#include <stdlib.h>

#include "hw/hw.h"
#include "util/err.h"

struct at_end {
    void (*fn)(void *arg);
    void *arg;
    struct at_end *next; /* registered earlier */
};

struct node_state {
    vmmc_ctx *vc;
    struct at_end *ends; /* last registered first */
};

static struct {
    struct node_state *nodes;
    int n;
} N;

static struct node_state *state(void)
{
    hw_host *h = hw_self();
    if (!h || h->node < 0 || h->nnodes <= h->node)
        return NULL;
    if (N.n < h->nnodes) {
        struct node_state *p = realloc(N.nodes, (size_t)h->nnodes * sizeof *p);
        if (!p)
            return NULL;
        for (int i = N.n; i < h->nnodes; i++)
            p[i] = (struct node_state){0};
        N.nodes = p;
        N.n = h->nnodes;
    }
    return &N.nodes[h->node];
}

vmmc_ctx *node_vmmc(int *err)
{
    struct node_state *s = state();
    int rc = VS_EINVAL;
    if (s && s->vc)
        return s->vc;
    if (s)
        rc = vmmc_open(&s->vc, hw_self());
    if (s && rc == 0)
        return s->vc;
    if (s)
        s->vc = NULL;
    if (err)
        *err = rc;
    return NULL;
}

int node_at_end(void (*fn)(void *arg), void *arg)
{
    struct node_state *s = state();
    if (!s || !fn)
        return VS_EINVAL;
    struct at_end *e = malloc(sizeof *e);
    if (!e)
        return VS_ENOMEM;
    *e = (struct at_end){fn, arg, s->ends};
    s->ends = e;
    return VS_OK;
}

/* Runs and drops the at-end functions; the node's state after them (the
 * array may have moved), or NULL off a node. */
static struct node_state *run_ends(void)
{
    struct node_state *s = state();
    /* A hook may register another (or open the context): take the list
     * each time round. */
    while (s && s->ends) {
        struct at_end *e = s->ends;
        s->ends = e->next;
        e->fn(e->arg);
        free(e);
        s = state(); /* the array may have moved */
    }
    return s;
}

void node_run_at_end(void)
{
    (void)run_ends();
}

int node_end(void)
{
    struct node_state *s = run_ends();
    if (!s)
        return VS_OK;
    int rc = VS_OK;
    if (s->vc) {
        rc = vmmc_close(s->vc);
        s->vc = NULL;
    }
    return rc;
}

void node_reset(void)
{
    for (int i = 0; i < N.n; i++) {
        struct at_end *e = N.nodes[i].ends;
        while (e) {
            struct at_end *next = e->next;
            free(e);
            e = next;
        }
    }
    free(N.nodes);
    N.nodes = NULL;
    N.n = 0;
}
