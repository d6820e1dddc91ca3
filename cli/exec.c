/*
 * vmmcsim exec -n N [options] PROGRAM [args]: runs an ordinary C program,
 * built by build/vmmcsim-cc, once on each of N simulated nodes, with MPI
 * (and the other libraries) over the real VMMC stack and the NIC model.
 *
 * Privatization.  On a real cluster each node's process has its own global
 * and static variables; here every instance runs in one OS process (one
 * SimGrid actor each).  vmmcsim-cc builds the program as a shared object
 * and exec loads a separate copy of it per node: the dynamic loader treats
 * each copy (a distinct file) as a distinct library, with its own data and
 * bss.  What the program shares is what it reaches outside itself: libc's
 * own state (the stdio buffers, rand(), strtok()), as with SimGrid's SMPI.
 *
 * exit() inside the program ends only its node: vmmcsim-cc links the
 * program with --wrap=exit, and __wrap_exit() jumps back to where exec
 * started that node's main() (or, on the emulator, to where
 * cli/emu_exec.c started it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/cluster.h"
#include "cli/emu_cli.h"
#include "libs/mpi/mpi_rt.h"
#include "libs/node/node.h"
#include "nicmodel/profile.h"
#include "util/err.h"
#include "util/log.h"

#define bad(...) cli__error("exec: ", __VA_ARGS__)
#define MAX_NODES 4096

struct instance {
    void *dl;
    int (*main)(int, char **);
    char **argv;
    int status, done, exited;
    jmp_buf jb;
};

static struct exec {
    int n;
    int argc; /* the program's, argv[0] included */
    char **argv;
    struct instance *inst;
    int active;
} X;

void __wrap_exit(int status) __attribute__((noreturn));

/* Only the programs exec loads are linked to this (vmmcsim's own exit()
 * is libc's). */
void __wrap_exit(int status)
{
    /* On the emulator (vmmcsim emu ... exec): back to the node's runner
     * if this is the thread running the program. */
    cli__emu_exec_exit(status);
    hw_host *h = hw_self();
    if (!X.active || !h || h->node >= X.n)
        exit(status);
    struct instance *in = &X.inst[h->node];
    in->status = status & 0xff;
    in->exited = 1;
    longjmp(in->jb, 1);
}

static void node_main(hw_host *h, void *arg)
{
    (void)arg;
    struct instance *in = &X.inst[h->node];
    /* A fresh argv per node: programs may change theirs. */
    for (int i = 0; i < X.argc; i++)
        in->argv[i] = X.argv[i];
    in->argv[X.argc] = NULL;
    if (setjmp(in->jb) == 0)
        in->status = in->main(X.argc, in->argv);
    /* The libraries' end-of-program work, then the node's VMMC context
     * (a hook that calls exit() comes back to the setjmp above). */
    int rc = node_end();
    if (rc && !in->status) {
        fprintf(stderr, "vmmcsim: exec: node %d: closing VMMC: %s\n",
                h->node, vs_strerror(rc));
        in->status = 1;
    }
    in->done = 1;
    fflush(NULL);
}

/* Copies src to dst (a new file). */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY), out = -1, rc = -1;
    if (in >= 0)
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0700);
    if (in >= 0 && out >= 0) {
        char buf[65536];
        ssize_t n;
        rc = 0;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) {
                rc = -1;
                break;
            }
        if (n < 0)
            rc = -1;
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out))
        rc = -1;
    return rc;
}

/* Loads one private copy of the program per node. */
static int load(const char *prog)
{
    char dir[] = "/tmp/vmmcsim-exec-XXXXXX", path[PATH_MAX];
    if (!mkdtemp(dir))
        return bad("cannot make a temporary folder: %s", strerror(errno));
    int rc = 0;
    for (int i = 0; i < X.n && !rc; i++) {
        struct instance *in = &X.inst[i];
        snprintf(path, sizeof path, "%s/node-%d.so", dir, i);
        if (copy_file(prog, path)) {
            rc = bad("%s: cannot copy it for node %d: %s", prog, i,
                     strerror(errno));
            break;
        }
        in->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        unlink(path); /* the mapping stays */
        if (!in->dl) {
            /* dlerror() names the private copy: say what is wrong with it. */
            const char *e = dlerror(), *why = e ? strstr(e, ".so: ") : NULL;
            rc = bad("%s: not a program built by vmmcsim-cc (%s)", prog,
                     why ? why + 5 : e ? e : "cannot load it");
            break;
        }
        *(void **)&in->main = dlsym(in->dl, "main");
        if (!in->main)
            rc = bad("%s: has no main()", prog);
        in->argv = calloc((size_t)X.argc + 1, sizeof *in->argv);
        if (!rc && !in->argv)
            rc = bad("out of memory");
    }
    rmdir(dir);
    return rc;
}

static void unload(void)
{
    for (int i = 0; X.inst && i < X.n; i++) {
        if (X.inst[i].dl)
            dlclose(X.inst[i].dl);
        free(X.inst[i].argv);
    }
    free(X.inst);
    X.inst = NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vmmcsim exec -n N [--platform FILE] [--profile FILE] "
            "[--seed S]\n"
            "                    [--max-time T] [--log SPEC] "
            "[--fabric packet|flow] PROGRAM [args]\n"
            "Runs PROGRAM (built by build/vmmcsim-cc) on the first N nodes "
            "of the\n"
            "platform, one instance per node, each with its own globals and "
            "an 8 MiB\n"
            "stack.\n"
            "Exit status: 0 every node returned 0, 1 a node failed or the "
            "run did,\n"
            "2 bad input.\n");
}

int cli_exec(int argc, char **argv)
{
    const char *platform = NULL, *profile = NULL, *prog = NULL;
    char pbuf[PATH_MAX], fbuf[PATH_MAX];
    struct cl_run r = {0};
    int i = 0, rc = 2;
    uint64_t seed = 1;
    memset(&X, 0, sizeof X);
    for (; i < argc && !prog; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-') {
            prog = a;
            break;
        }
        if (!v)
            return bad("option %s: missing value", a);
        i++;
        char *end;
        if (!strcmp(a, "-n")) {
            long n = strtol(v, &end, 10);
            if (*end || !*v || n < 1 || n > MAX_NODES)
                return bad("option -n: '%s' is not a node count (1 to %d)",
                           v, MAX_NODES);
            X.n = (int)n;
        } else if (!strcmp(a, "--platform")) {
            platform = v;
        } else if (!strcmp(a, "--profile")) {
            profile = v;
        } else if (!strcmp(a, "--seed")) {
            if (cli__parse_seed(v, &seed))
                return bad("option --seed: '%s' is not a non-negative "
                           "integer",
                           v);
        } else if (!strcmp(a, "--max-time")) {
            if (cli__parse_time(v, &r.max_time))
                return bad("option --max-time: '%s' is not a time like "
                           "500ms",
                           v);
        } else if (!strcmp(a, "--log")) {
            if (log_parse_levels(v))
                return bad("option --log: bad spec '%s'", v);
        } else if (!strcmp(a, "--fabric")) { /* docs/fabric-flow.md */
            if (nicm_fabric_parse(v, &r.fabric))
                return bad("option --fabric: '%s' is not packet or flow", v);
        } else {
            return bad("unknown option '%s' (see vmmcsim exec --help)", a);
        }
    }
    if (!X.n)
        return bad("-n N is required (the number of nodes)");
    if (!prog)
        return bad("no program given (see vmmcsim exec --help)");
    struct stat st;
    if (stat(prog, &st) || !S_ISREG(st.st_mode))
        return bad("%s: %s", prog,
                   errno ? strerror(errno) : "not a regular file");
    X.argc = argc - i;
    X.argv = argv + i;
    X.inst = calloc((size_t)X.n, sizeof *X.inst);
    if (!X.inst)
        return bad("out of memory");
    if ((rc = load(prog)))
        goto out;
    r.platform = platform ? platform
                          : cli__default_config("myrinet-2.xml", pbuf,
                                                sizeof pbuf);
    r.profile = profile ? profile
                        : cli__default_config("myrinet.ini", fbuf,
                                              sizeof fbuf);
    /* The profile's [msg] parameters for MPI (cl_run loads it again). */
    struct nicm_profile prof;
    char err[1024] = "";
    if (nicm_profile_load(&prof, r.profile, err, sizeof err)) {
        rc = bad("%s", err);
        goto out;
    }
    struct msg_params mp;
    msg_params_default(&mp);
    if (prof.msg_eager_limit_set)
        mp.eager_limit = prof.msg_eager_limit;
    if (prof.msg_ring_slots)
        mp.ring_slots = prof.msg_ring_slots;
    if (prof.msg_copy_MBps)
        mp.copy_MBps = prof.msg_copy_MBps;
    mpi_rt_reset();
    node_reset();
    mpi_rt_configure(&mp);
    r.node_main = node_main;
    /* A program written for a real machine may keep large arrays on its
     * stack: give it what Linux gives a main thread by default (ulimit -s).
     * Only the pages it touches cost memory. */
    r.stack_kib = 8192;
    r.min_nodes = X.n;
    r.nodes = X.n;
    r.seed = seed;
    X.active = 1;
    int run = cl_run(&r, err, sizeof err);
    X.active = 0;
    fflush(NULL);
    if (run == VS_ECONFIG) {
        rc = bad("%s", err);
        goto out;
    }
    if (run) {
        fprintf(stderr, "vmmcsim: exec: run failed: %s: %s\n",
                vs_strerror(run), err);
        rc = 1;
        goto out;
    }
    rc = 0;
    for (int k = 0; k < X.n; k++) {
        const struct instance *in = &X.inst[k];
        if (!in->done) {
            fprintf(stderr, "vmmcsim: exec: node %d did not finish\n", k);
            rc = 1;
        } else if (in->status) {
            fprintf(stderr, "vmmcsim: exec: node %d %s with status %d\n", k,
                    in->exited ? "exited" : "returned", in->status);
            rc = 1;
        }
    }
out:
    mpi_rt_configure(NULL);
    mpi_rt_reset();
    node_reset();
    unload();
    return rc;
}
