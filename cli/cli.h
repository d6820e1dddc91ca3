/* The vmmcsim command line (cli/cli_run.c), callable from tests. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

/* Runs the vmmcsim command: prints results on stdout, errors on stderr.
 * Returns the process exit status: 0 ok, 1 the run failed, 2 bad input. */
int cli_main(int argc, char **argv);

/* vmmcsim sweep (cli/sweep.c): one scenario under many seeds, in worker
 * processes, with invariants checked on every run.  argv starts after the
 * word "sweep".  Returns 0 if every seed passed, 1 if one failed, 2 for
 * bad input. */
int cli_sweep(int argc, char **argv);

/* vmmcsim bench --baseline FILE [--update-baseline] [run options]
 * [WORKLOAD ...] (cli/baseline.c): 0 if every figure matches, 1 naming
 * those that moved, 2 for bad input. */
int cli_bench(int argc, char **argv);

/* vmmcsim exec -n N [options] PROGRAM [args] (cli/exec.c): a program built
 * by vmmcsim-cc on N simulated nodes.  0 if every node returned 0, 1 if one
 * did not or the run failed, 2 for bad input. */
int cli_exec(int argc, char **argv);

/* vmmcsim emu --nodes N [options] WORKLOAD [opts] (cli/emu_launch.c): the
 * workload on N emulated nodes, one local process each, in real time.  0 if
 * every node exited 0, 1 if one failed, hung or was killed, 2 for bad
 * input.  argv starts after the word "emu". */
int cli_emu(int argc, char **argv);

/* vmmcsim emu-node --cluster FILE --id K [options] WORKLOAD [opts]
 * (cli/emu_cli.c): one node of an emulated cluster, for runs across
 * machines.  0 ok, 1 the run failed, 2 bad input. */
int cli_emu_node(int argc, char **argv);

/* vmmcsim replay [options] TRACE... (cli/replay.c): a SimGrid
 * time-independent trace replayed on the simulated cluster, one rank per
 * node.  0 ok, 1 the replay failed (deadlock, unmatched messages), 2 bad
 * input (the trace's file, line and field are named). */
int cli_replay(int argc, char **argv);

#endif
