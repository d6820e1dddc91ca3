/*
 * Internal to cli/emu_cli.c (options, one node) and cli/emu_launch.c (the
 * launcher of local node processes): the emulator's commands.
 */
#ifndef CLI_EMU_CLI_H
#define CLI_EMU_CLI_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#include "emu/emu.h"
#include "nicmodel/profile.h"
#include "workloads/wl.h"

#define CLI__EMU_MAX_LOCAL 64 /* node processes one launcher starts */

enum cli__emu_fmt { CLI__EMU_TABLE, CLI__EMU_CSV, CLI__EMU_JSON };

/* The command line of emu or emu-node, parsed. */
struct cli__emu_opts {
    const char *cmd_prefix; /* "emu: " or "emu-node: " in messages */
    int launcher;           /* emu (1) or emu-node (0) */
    int nodes;
    long base_port;
    hw_time_t join_timeout, timeout, spin;
    int timeout_set;
    const char *timeout_text;
    const char *profile;
    char profile_buf[PATH_MAX];
    const char *cluster;
    int id;
    enum cli__emu_fmt fmt;
    int kill_node;
    hw_time_t kill_after;
    const char *kill_text;
    struct emu_faults faults; /* --faults (the seed is --seed) */
    char down_item[EMU_MAX_DOWNS][256]; /* the down items, for messages */
    const struct wl_def *wl; /* &cli__emu_exec_def for exec PROGRAM */
    struct wl_opts wopts;
    const char *prog; /* exec PROGRAM [args]: the program, or NULL */
    int pargc;        /* its argc and argv, argv[0] the program */
    char **pargv;
    struct nicm_profile prof;
};

/* The memory the launcher's node processes share (mapped before they fork,
 * so at one address in all): the workloads' result record, and after it,
 * at CLI__EMU_LOCK_OFF, the host lock. */
struct cli__emu_observer {
    atomic_int started; /* nodes whose program has started */
    struct wl_shared sh;
};
#define CLI__EMU_LOCK_OFF ((sizeof(struct cli__emu_observer) + 63) / 64 * 64)

/* One node to run. */
struct cli__emu_node {
    struct cli__emu_opts *o;
    const struct emu_cluster *cl;
    int id, sock_fd; /* sock_fd: a bound socket, or -1 */
    int64_t epoch_ns;
    struct cli__emu_observer *obs; /* the launcher's shared memory, or NULL */
    struct emu_hostlock *lock;
};

/* Parses the command line (o->launcher and o->cmd_prefix set), the
 * workload's options and the profile.  Returns 0, 2 (bad input, printed)
 * or -1 (--help printed). */
int cli__emu_parse(struct cli__emu_opts *o, int argc, char **argv);
/* The profile's [msg] section into the workloads' record, as vmmcsim run
 * does. */
void cli__emu_msg_conf(struct wl_shared *sh, const struct nicm_profile *p);
/* Runs one node to its end; returns its exit status (node 0 prints the
 * results). */
int cli__emu_run_node(struct cli__emu_node *x);

/* ---- exec PROGRAM [args] (cli/emu_exec.c) ---- */

/* The workload that stands for a program (its main is never called). */
extern const struct wl_def cli__emu_exec_def;
/* Loads o->prog (once per process, before the launcher forks).  Returns
 * 0 or 2 (bad input, printed). */
int cli__emu_exec_load(struct cli__emu_opts *o);
void cli__emu_exec_unload(void);
/* Runs the program's main on the calling thread (the node's host, after
 * emu_host_enter), then node_end(); returns its status (0 to 255), and
 * when not 0, why, as "node K: ...". */
int cli__emu_exec_run(const struct cli__emu_opts *o, int node, char *why,
                      size_t len);
/* From __wrap_exit (cli/exec.c): on the thread running a program, jumps
 * back to cli__emu_exec_run; returns elsewhere. */
void cli__emu_exec_exit(int status);

#endif
