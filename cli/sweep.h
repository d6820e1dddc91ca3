/* Internal to cli/: the state of one sweep, shared by the local sweep
 * (sweep.c), its distribution over Slurm (sweep_dist.c) and the shrinker
 * (shrink.c). */
#ifndef CLI_SWEEP_H
#define CLI_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sweep_result {
    uint64_t seed;
    int done, status; /* exit status, or 128 + signal */
    const char *invariant; /* NULL: passed; else one of sweep_kinds */
    char message[256];
};

/* The invariants a run is judged by, in report order. */
#define SWEEP_NKINDS 6
extern const char *const sweep_kinds[SWEEP_NKINDS];

struct sweep {
    uint64_t first, last;
    int jobs, json, shrink, tasks;
    const char *junit, *results, *emit_dir, *merge_dir;
    /* "vmmcsim" "run" "--json" "--seed" S, then the scenario's arguments. */
    char **run_argv;
    int run_argc, seed_pos;
    struct sweep_result *res;
    size_t nres;
    double wall; /* seconds, of the runs */
};

/* The scenario's arguments (run options, workload and its options). */
#define SWEEP_ARGS(sw) ((sw)->run_argv + (sw)->seed_pos + 1)
#define SWEEP_NARGS(sw) ((sw)->run_argc - (sw)->seed_pos - 1)

/* Judges one finished run by its exit status and output; fills r. */
void sweep__judge(struct sweep_result *r, const char *out, const char *err);
/* Runs one seed of the scenario with the given arguments in a child;
 * fills r (seed already set). */
int sweep__run_one(char **args, int nargs, struct sweep_result *r);
/* Prints the command that reproduces a seed of the scenario given by args. */
void sweep__reproducer(char **args, int nargs, uint64_t seed, FILE *f);
/* Summary (or --json), failing seeds with reproducers, --junit; returns the
 * exit status: 0 all passed, 1 a seed failed, 2 bad input. */
int sweep__report(struct sweep *sw);
/* The name of the vmmcsim binary to print in commands. */
const char *sweep__program(void);

/* sweep_dist.c: --results FILE, --emit-slurm DIR, --merge DIR. */
int sweep__write_results(const struct sweep *sw);
int sweep__emit_slurm(struct sweep *sw);
int sweep__merge(struct sweep *sw);

/* shrink.c: --shrink, on the first failing seed. */
int sweep__shrink(struct sweep *sw);

#endif
