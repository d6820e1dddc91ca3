/* The simulated-cluster runner of cli/cluster.h. */
#include "cli/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/engine.h"
#include "util/err.h"
#include "util/log.h"

struct node_arg {
    struct cl_run *r;
    nicm_cluster *cl;
    int node;
};

static void node_proc(sim_proc *p, void *arg)
{
    struct node_arg *na = arg;
    (void)p;
    na->r->node_main(nicm_host(na->cl, na->node), na->r->arg);
}

static int route_fn(void *arg, int a, int b, size_t *out, int max)
{
    (void)arg;
    return sim_route((size_t)a, (size_t)b, out, max);
}

static void stamp(char *buf, size_t len)
{
    sim_proc *p = sim_proc_self();
    snprintf(buf, len, "[%12.6f us]%s", (double)sim_now() / 1e6,
             p ? "" : " ");
}

/* The faults of the run: the profile's [faults], what r->faults overrides,
 * down intervals resolved against the loaded platform. */
static int apply_faults(struct cl_run *r, nicm_cluster *cl, char *err,
                        size_t errlen)
{
    const struct cl_faults *cf = r->faults;
    struct nicm_faults f = {.drop = r->prof.fault_drop,
                            .corrupt = r->prof.fault_corrupt,
                            .dup = r->prof.fault_dup,
                            .reorder = r->prof.fault_reorder,
                            .reorder_delay_max =
                                r->prof.fault_reorder_delay_max,
                            .seed = r->seed};
    struct nicm_link_down *downs = NULL;
    struct nicm_nic_down *nic_downs = NULL;
    int rc = VS_OK;
    if (cf) {
        if (cf->drop >= 0)
            f.drop = cf->drop;
        if (cf->corrupt >= 0)
            f.corrupt = cf->corrupt;
        if (cf->dup >= 0)
            f.dup = cf->dup;
        if (cf->reorder >= 0)
            f.reorder = cf->reorder;
        if (cf->reorder_delay_max >= 0)
            f.reorder_delay_max = cf->reorder_delay_max;
        downs = calloc(cf->ndowns ? cf->ndowns : 1, sizeof *downs);
        nic_downs = calloc(cf->nnic_downs ? cf->nnic_downs : 1,
                           sizeof *nic_downs);
        if (!downs || !nic_downs) {
            rc = VS_ENOMEM;
            goto out;
        }
        size_t nlinks = sim_link_count();
        for (size_t i = 0; i < cf->ndowns; i++) {
            const struct cl_link_down *d = &cf->downs[i];
            size_t l = 0;
            while (l < nlinks && strcmp(sim_link_name(l), d->link))
                l++;
            if (l == nlinks) {
                snprintf(err, errlen, "option --faults: %s: no link named "
                                      "'%s' in %s%s%s%s",
                         d->item, d->link, r->platform,
                         nlinks ? " (its links are named like '" : "",
                         nlinks ? sim_link_name(nlinks - 1) : "",
                         nlinks ? "')" : "");
                rc = VS_ECONFIG;
                goto out;
            }
            downs[i] = (struct nicm_link_down){l, d->from, d->to};
        }
        for (size_t i = 0; i < cf->nnic_downs; i++) {
            const struct cl_nic_down *d = &cf->nic_downs[i];
            if (d->node < 0 || d->node >= r->nnodes) {
                snprintf(err, errlen, "option --faults: %s: node %d is out "
                                      "of range (%s has %d nodes, 0..%d)",
                         d->item, d->node, r->platform, r->nnodes,
                         r->nnodes - 1);
                rc = VS_ECONFIG;
                goto out;
            }
            nic_downs[i] = (struct nicm_nic_down){d->node, d->from, d->to};
        }
        if (cf->has_picks) {
            for (size_t i = 0; i < cf->npicks; i++)
                if (cf->picks[i].node >= r->nnodes) {
                    snprintf(err, errlen, "option --fault-list: %s@%d.%llu: "
                                          "node %d is out of range (the run "
                                          "has %d nodes)",
                             nicm_fault_kind_name(cf->picks[i].kind),
                             cf->picks[i].node,
                             (unsigned long long)cf->picks[i].nth,
                             cf->picks[i].node, r->nnodes);
                    rc = VS_ECONFIG;
                    goto out;
                }
            f.drop = f.corrupt = f.dup = f.reorder = 0;
            f.picks = cf->picks;
            f.npicks = cf->npicks;
        }
        f.record = cf->record;
        f.downs = downs;
        f.ndowns = cf->ndowns;
        f.nic_downs = nic_downs;
        f.nnic_downs = cf->nnic_downs;
    }
    rc = nicm_set_faults(cl, &f);
    if (rc == VS_EINVAL) {
        snprintf(err, errlen, "option --faults: a probability is outside "
                              "[0, 1] or an interval is empty");
        rc = VS_ECONFIG;
    }
    r->faults_active = rc == VS_OK && nicm_faults_active(cl);
out:
    free(downs);
    free(nic_downs);
    return rc;
}

int cl_run(struct cl_run *r, char *err, size_t errlen)
{
    int nhosts = 0;
    int rc = nicm_profile_load(&r->prof, r->profile, err, errlen);
    if (rc)
        return rc;
    rc = sim_platform_check(r->platform, &nhosts, err, errlen);
    if (rc)
        return rc;
    if (r->nodes > nhosts) {
        snprintf(err, errlen, "%s has %d host(s); the run asks for %d nodes",
                 r->platform, nhosts, r->nodes);
        return VS_ECONFIG;
    }
    if (r->nodes)
        nhosts = r->nodes;
    if (nhosts < r->min_nodes) {
        snprintf(err, errlen, "%s: the platform has %d host(s); this needs "
                              "at least %d",
                 r->platform, nhosts, r->min_nodes);
        return VS_ECONFIG;
    }
    sim_reset();
    sim_platform_load(r->platform, NULL, NULL);
    log_set_stamp(stamp);
    r->nnodes = (int)sim_host_count();
    if (r->nodes && r->nodes < r->nnodes)
        r->nnodes = r->nodes; /* the first hosts, in the platform's order */
    size_t nlinks = sim_link_count();
    double *bw = calloc(nlinks ? nlinks : 1, sizeof *bw);
    hw_time_t *lat = calloc(nlinks ? nlinks : 1, sizeof *lat);
    const char **names = calloc(nlinks ? nlinks : 1, sizeof *names);
    vmmc_fw **fws = calloc((size_t)r->nnodes, sizeof *fws);
    struct node_arg *args = calloc((size_t)r->nnodes, sizeof *args);
    nicm_cluster *cl = NULL;
    FILE *tl = NULL;
    if (!bw || !lat || !names || !fws || !args) {
        rc = VS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nlinks; i++) {
        bw[i] = sim_link_bandwidth(i);
        lat[i] = sim_link_latency(i);
        names[i] = sim_link_name(i);
    }
    struct nicm_topo topo = {.nnodes = r->nnodes,
                             .nlinks = nlinks,
                             .link_bw = bw,
                             .link_lat = lat,
                             .link_name = names,
                             .route = route_fn};
    rc = nicm_cluster_create(&cl, &r->prof, &topo, err, errlen);
    if (rc)
        goto out;
    rc = apply_faults(r, cl, err, errlen);
    if (rc)
        goto out;
    rc = nicm_set_fabric(cl, r->fabric, err, errlen);
    if (rc)
        goto out;
    if (r->timeline) {
        tl = fopen(r->timeline, "w");
        if (!tl) {
            snprintf(err, errlen, "option --timeline: %s: cannot write: %s",
                     r->timeline, strerror(errno));
            rc = VS_ECONFIG;
            goto out;
        }
        nicm_timeline_start(cl, tl);
    }
    for (int i = 0; i < r->nnodes; i++) {
        rc = vmmc_fw_boot(&fws[i], nicm_nic(cl, i));
        if (rc) {
            snprintf(err, errlen, "%s: the firmware does not fit in the "
                                  "NIC's SRAM ([nic] sram_bytes)",
                     r->profile);
            rc = VS_ECONFIG;
            goto out;
        }
        args[i] = (struct node_arg){r, cl, i};
        char name[32];
        snprintf(name, sizeof name, "node-%d", i);
        sim_proc *p = sim_proc_create((size_t)i, name, node_proc, &args[i]);
        if (!p) {
            rc = VS_ENOMEM;
            goto out;
        }
        nicm_bind_proc(cl, i, p);
    }
    /* Progress only where somebody watches: stderr is a terminal (and
     * VMMCSIM_PROGRESS is not 0). */
    const char *pe = getenv("VMMCSIM_PROGRESS");
    struct sim_opts so = {.max_time = r->max_time,
                          .stack_kib = r->stack_kib,
                          .progress = isatty(STDERR_FILENO) &&
                                      !(pe && !strcmp(pe, "0"))};
    rc = sim_run(&so, err, errlen);
    if (rc == 0) /* every process ended: what they closed left nothing */
        for (int i = 0; i < r->nnodes; i++)
            vmmc_fw_audit(fws[i]);
    /* A run that stopped (deadlock, time limit) is reported too: what it
     * did up to there is what a failure report needs. */
    if (r->report && (rc == 0 || rc == VS_EDEADLK || rc == VS_ETIMEDOUT)) {
        struct cl_report rep = {r->nnodes, sim_procs_end(), sim_events_processed(),
                                cl, fws, &r->prof};
        r->report(&rep, r->arg);
    }
out:
    log_set_stamp(NULL);
    if (tl) {
        int bad = nicm_timeline_finish(cl);
        if (fclose(tl) || bad) {
            if (!rc) {
                snprintf(err, errlen, "option --timeline: %s: write failed",
                         r->timeline);
                rc = VS_ECONFIG;
            }
        }
    }
    /* The event queue first: it may still hold events that live inside
     * the NIC model (a run stopped early), and must not read them after
     * the model is freed. */
    sim_shutdown();
    for (int i = 0; fws && i < r->nnodes; i++)
        vmmc_fw_halt(fws[i]);
    nicm_cluster_destroy(cl);
    free(bw);
    free(lat);
    free(names);
    free(fws);
    free(args);
    return rc;
}
