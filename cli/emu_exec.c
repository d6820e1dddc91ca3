/*
 * vmmcsim emu --nodes N exec PROGRAM [args] and vmmcsim emu-node ... exec
 * PROGRAM [args]: a program built by build/vmmcsim-cc (MPI, sockets, RPC,
 * shared virtual memory) on the emulated backend, one OS process per node.
 *
 * What vmmcsim exec does per simulated node, done once per node process:
 * the program is loaded once with dlopen (each node is its own process, so
 * its globals are its own without a private copy), its main(argc, argv)
 * runs on the node's host thread in place of a workload's main, then
 * node_end() runs the libraries' end-of-program work and closes the node's
 * VMMC context, before the node finishes with its peers.  main's return
 * value (or exit()'s status) is the node's result: non-zero fails the node
 * and with it the run.
 *
 * exit() inside the program: vmmcsim-cc links it with --wrap=exit, and
 * __wrap_exit (cli/exec.c) first asks cli__emu_exec_exit() here, which
 * jumps back to this node's runner when called on the thread running the
 * program, so the node still closes its context, finishes its protocol
 * with its peers and reports the status.
 *
 * The launcher loads the program before it forks its node processes, so a
 * program that cannot be loaded is bad input said once; each node process
 * then has its own copy of the loaded program's data (fork).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_int.h"
#include "cli/emu_cli.h"
#include "libs/mpi/mpi_rt.h"
#include "libs/node/node.h"
#include "util/err.h"

/* Workload options after exec PROGRAM are the program's: none here. */
static int exec_parse(struct wl_opts *o, int argc, char **argv, char *err,
                      size_t errlen)
{
    (void)o;
    (void)argv;
    if (argc) {
        snprintf(err, errlen, "unexpected arguments");
        return VS_EINVAL;
    }
    return VS_OK;
}

static void exec_main(struct wl_env *env)
{
    (void)env; /* never called: cli__emu_run_node calls the program */
}

const struct wl_def cli__emu_exec_def = {
    "exec", "a program built by vmmcsim-cc", exec_parse, exec_main, 1};

static struct {
    void *dl;
    int (*main)(int, char **);
} P;

/* The runner of the program on this thread (NULL elsewhere), and the
 * status exit() was called with. */
static _Thread_local jmp_buf *exit_jb;
static _Thread_local int exit_status;

int cli__emu_exec_load(struct cli__emu_opts *o)
{
    const char *prog = o->prog;
    struct stat st;
    errno = 0;
    if (stat(prog, &st) || !S_ISREG(st.st_mode))
        return cli__error(o->cmd_prefix, "exec: %s: %s", prog,
                          errno ? strerror(errno) : "not a regular file");
    /* A path without a slash would be looked up in the library path. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", strchr(prog, '/') ? "" : "./", prog);
    P.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!P.dl) {
        const char *e = dlerror();
        return cli__error(o->cmd_prefix,
                          "exec: %s: not a program built by vmmcsim-cc (%s)",
                          prog, e ? e : "cannot load it");
    }
    *(void **)&P.main = dlsym(P.dl, "main");
    if (!P.main) {
        cli__emu_exec_unload();
        return cli__error(o->cmd_prefix, "exec: %s: has no main()", prog);
    }
    return 0;
}

void cli__emu_exec_unload(void)
{
    if (P.dl)
        dlclose(P.dl);
    P.dl = NULL;
    P.main = NULL;
}

void cli__emu_exec_exit(int status)
{
    if (!exit_jb)
        return;
    exit_status = status & 0xff;
    longjmp(*exit_jb, 1);
}

int cli__emu_exec_run(const struct cli__emu_opts *o, int node, char *why,
                      size_t len)
{
    why[0] = 0;
    /* The profile's [msg] section for MPI, as vmmcsim exec does. */
    struct msg_params mp;
    msg_params_default(&mp);
    if (o->prof.msg_eager_limit_set)
        mp.eager_limit = o->prof.msg_eager_limit;
    if (o->prof.msg_ring_slots)
        mp.ring_slots = o->prof.msg_ring_slots;
    if (o->prof.msg_copy_MBps)
        mp.copy_MBps = o->prof.msg_copy_MBps;
    mpi_rt_configure(&mp);
    /* A fresh argv: the program may change its own. */
    char **argv = calloc((size_t)o->pargc + 1, sizeof *argv);
    if (!argv) {
        snprintf(why, len, "node %d: out of memory", node);
        mpi_rt_configure(NULL);
        return 1;
    }
    for (int i = 0; i < o->pargc; i++)
        argv[i] = o->pargv[i];
    static jmp_buf jb; /* static: one program per node process */
    volatile int status = 0, exited = 0;
    exit_jb = &jb;
    if (setjmp(jb) == 0) {
        status = P.main(o->pargc, argv);
    } else {
        status = exit_status;
        exited = 1;
    }
    /* The libraries' end-of-program work, then the node's VMMC context (a
     * hook that calls exit() comes back to the setjmp above). */
    int rc = node_end();
    exit_jb = NULL;
    fflush(NULL);
    free(argv);
    mpi_rt_configure(NULL);
    int st = status & 0xff;
    if (st)
        snprintf(why, len, "node %d: %s %s with status %d", node, o->prog,
                 exited ? "exited" : "returned", st);
    else if (rc) {
        snprintf(why, len, "node %d: %s: closing VMMC: %s", node, o->prog,
                 vs_strerror(rc));
        st = 1;
    }
    return st;
}
