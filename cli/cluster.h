/*
 * Running host programs on a simulated cluster: the glue that loads a
 * platform and a profile, builds the NIC model, boots the VMMC firmware on
 * every NIC and starts one host process per node.  Used by the vmmcsim
 * command and by the tests.  One run per OS process (SimGrid's rule).
 */
#ifndef CLI_CLUSTER_H
#define CLI_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "nicmodel/nicm.h"
#include "vmmc/fw.h"

struct cl_run;

/* Faults from the command line (vmmcsim run --faults), over the profile's
 * [faults]: a probability or delay below 0 was not given and the profile's
 * stands.  Down intervals name a link by its platform name and a node by its
 * number; cl_run resolves and checks them once the platform is loaded.
 * item is the spec item ("down=sw0_link_1_DOWN@5ms-"), for messages. */
struct cl_link_down {
    const char *item, *link;
    hw_time_t from, to; /* to = HW_TIME_NEVER: down for good */
};

struct cl_nic_down {
    const char *item;
    int node;
    hw_time_t from, to;
};

struct cl_faults {
    double drop, corrupt, dup, reorder;
    hw_time_t reorder_delay_max;
    const struct cl_link_down *downs;
    size_t ndowns;
    const struct cl_nic_down *nic_downs;
    size_t nnic_downs;
    /* --fault-list: faults on chosen packets instead of the probabilities
     * (which are then all 0, the profile's too); --record-faults. */
    const struct nicm_fault_pick *picks;
    size_t npicks;
    int has_picks, record;
};

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
    int nodes; /* run on the first this many hosts (0: all of them) */
    const char *timeline; /* --timeline FILE: Chrome trace events (or NULL) */
    hw_time_t max_time; /* 0: no limit */
    /* Called after the simulation, before teardown (may be NULL); also
     * after a run that stopped with VS_EDEADLK or VS_ETIMEDOUT. */
    void (*report)(const struct cl_report *rep, void *arg);
    /* Faults over the profile's (NULL: the profile's alone), and the seed
     * of the fault generator. */
    const struct cl_faults *faults;
    uint64_t seed;
    /* --fabric: packet (0, the default) or flow (nicm_set_fabric). */
    enum nicm_fabric fabric;
    /* Stack of each host process, KiB (0: sim_opts' default, 256 KiB). */
    unsigned stack_kib;
    /* Filled by cl_run. */
    struct nicm_profile prof;
    int nnodes;
    int faults_active; /* faults were configured (profile or faults) */
};

/* Returns 0; VS_ECONFIG for bad input (err names the file, line and field,
 * or the --faults item: an unknown link name, a node out of range);
 * VS_EDEADLK / VS_ETIMEDOUT / VS_ENOMEM for a run that failed. */
int cl_run(struct cl_run *r, char *err, size_t errlen);

#endif
