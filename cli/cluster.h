/*
 * Running host programs on a simulated cluster: the glue that loads a
 * platform and a profile, builds the NIC model, boots the VMMC firmware on
 * every NIC and starts one host process per node.  Used by the vmmcsim
 * command and by the tests.  One run per OS process (SimGrid's rule).
 */
#ifndef CLI_CLUSTER_H
#define CLI_CLUSTER_H

#include <stddef.h>

#include "hw/hw.h"
#include "nicmodel/nicm.h"
#include "vmmc/fw.h"

struct cl_run;

/* What a finished run looked like, for reports. */
struct cl_report {
    int nnodes;
    hw_time_t end_time;
    uint64_t events;
    nicm_cluster *cluster;
    vmmc_fw *const *fws;
    const struct nicm_profile *profile;
};

struct cl_run {
    const char *platform;
    const char *profile;
    /* The program of every node; runs in that node's host process. */
    void (*node_main)(hw_host *h, void *arg);
    void *arg;
    int min_nodes;
    hw_time_t max_time; /* 0: no limit */
    /* Called after the simulation, before teardown (may be NULL). */
    void (*report)(const struct cl_report *rep, void *arg);
    /* Filled by cl_run. */
    struct nicm_profile prof;
    int nnodes;
};

/* Returns 0; VS_ECONFIG for bad input (err names the file, line and field);
 * VS_EDEADLK / VS_ETIMEDOUT / VS_ENOMEM for a run that failed. */
int cl_run(struct cl_run *r, char *err, size_t errlen);

#endif
