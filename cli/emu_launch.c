/*
 * vmmcsim emu --nodes N ...: starts N emulated nodes as processes of this
 * machine on loopback and watches them.
 *
 * It binds N UDP sockets on 127.0.0.1 (ports the system picks, or
 * --base-port P..P+N-1), writes the cluster file naming them into a fresh
 * temporary directory, maps the memory the nodes share (the workloads'
 * result record and the host lock, cli/emu_cli.h) and forks one process per
 * node (no exec: the shared memory is at one address in all), each with its
 * socket and its stdout and stderr on pipes, all in one new process group,
 * each killed by the kernel if the launcher dies (PR_SET_PDEATHSIG).
 *
 * It forwards node 0's stdout as the run's output and every other line
 * with "node K: " in front, on stderr.  A node that fails (exits non-zero or
 * dies) fails the run: the others get a grace period (the link's
 * unreachable bound and two seconds) to fail on their own and say why,
 * then SIGTERM (a node then says what it was doing and what its link saw)
 * and SIGKILL half a second later.  --timeout does the same to every node
 * still running, and so does a signal to the launcher.  At the end it
 * kills what is left of the process group, removes the directory and
 * prints one line per node that failed, the first cause first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/emu_cli.h"
#include "util/err.h"

#define bad(...) cli__error(o->cmd_prefix, __VA_ARGS__)

struct child {
    pid_t pid;
    int out, err; /* read ends, -1 once at their end */
    char line[2][1024];
    size_t len[2];
    int exited, status; /* waitpid's */
    char why[160];      /* why the launcher stopped it, or "" */
    int64_t term_at;    /* when it was asked to stop (SIGTERM), in ms */
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forwards a child's output: node 0's stdout as it is, every other line
 * with "node K: " in front, on stderr. */
static void forward(struct child *c, int k, int which, const char *buf,
                    size_t n)
{
    if (which == 0 && k == 0) {
        fwrite(buf, 1, n, stdout);
        fflush(stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = buf[i];
        int flush = ch == '\n' || c->len[which] + 2 >= sizeof c->line[0];
        if (ch != '\n')
            c->line[which][c->len[which]++] = ch;
        if (flush) {
            fprintf(stderr, "node %d: %.*s\n", k, (int)c->len[which],
                    c->line[which]);
            c->len[which] = 0;
        }
    }
    if (!n && c->len[which]) { /* at the end: the last, unfinished line */
        fprintf(stderr, "node %d: %.*s\n", k, (int)c->len[which],
                c->line[which]);
        c->len[which] = 0;
    }
}

/* Stops a child: SIGKILL at once (kill), or SIGTERM, so that it says what
 * it was doing, and SIGKILL half a second later (watch() does that). */
static void stop_child(struct child *c, const char *why, int kill_now,
                       int64_t now)
{
    if (c->exited || c->pid <= 0 || (c->term_at && !kill_now))
        return;
    if (!c->why[0] && why)
        snprintf(c->why, sizeof c->why, "%s", why);
    if (kill_now) {
        kill(c->pid, SIGKILL);
    } else {
        kill(c->pid, SIGTERM);
        c->term_at = now;
    }
}

/* Watches the children until each has exited and said all it had to say;
 * kills them on --kill-node, on a failure (after a grace period in which
 * the others may fail on their own and say why), at --timeout, and on a
 * signal to the launcher. */
static void watch(struct cli__emu_opts *o, struct child *ch, int n,
                  struct cli__emu_observer *obs, int *first_failed,
                  int *timed_out)
{
    char why_fail[128], why_timeout[128], why_kill[128];
    snprintf(why_timeout, sizeof why_timeout,
             "still running after --timeout %s: stopped",
             o->timeout_text ? o->timeout_text : "300s");
    snprintf(why_kill, sizeof why_kill, "was killed by --kill-node %s",
             o->kill_text ? o->kill_text : "");
    int64_t start = mono_ms(), kill_at = 0, fail_at = 0;
    int64_t deadline = start + o->timeout / HW_MS;
    int64_t rto = o->prof.rto > 0 ? o->prof.rto / HW_MS : 2;
    int64_t grace = (int64_t)o->prof.max_retries * 4 * rto + 2000;
    *first_failed = -1;
    *timed_out = 0;
    for (;;) {
        struct pollfd pfd[2 * CLI__EMU_MAX_LOCAL];
        int idx[2 * CLI__EMU_MAX_LOCAL], np = 0, live = 0;
        for (int k = 0; k < n; k++) {
            live += !ch[k].exited;
            for (int w = 0; w < 2; w++) {
                int fd = w ? ch[k].err : ch[k].out;
                if (fd < 0)
                    continue;
                pfd[np] = (struct pollfd){fd, POLLIN, 0};
                idx[np++] = 2 * k + w;
            }
        }
        if (!live && !np)
            return;
        poll(pfd, (nfds_t)np, 20);
        for (int i = 0; i < np; i++) {
            if (!pfd[i].revents)
                continue;
            struct child *c = &ch[idx[i] / 2];
            int w = idx[i] % 2;
            char buf[4096];
            ssize_t r = read(pfd[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            forward(c, idx[i] / 2, w, buf, r > 0 ? (size_t)r : 0);
            if (r <= 0) {
                close(pfd[i].fd);
                *(w ? &c->err : &c->out) = -1;
            }
        }
        int64_t now = mono_ms();
        for (int k = 0; k < n; k++) {
            struct child *c = &ch[k];
            if (c->exited || waitpid(c->pid, &c->status, WNOHANG) != c->pid)
                continue;
            c->exited = 1;
            int ok = WIFEXITED(c->status) && !WEXITSTATUS(c->status);
            /* The first to fail on its own (or by --kill-node), not one
             * the launcher stopped. */
            if (!ok && *first_failed < 0 && !c->term_at) {
                *first_failed = k;
                fail_at = now;
                snprintf(why_fail, sizeof why_fail,
                         "stopped: the run failed when node %d did", k);
            }
        }
        if (o->kill_node >= 0 && !kill_at && atomic_load(&obs->started) == n)
            kill_at = now + o->kill_after / HW_MS;
        if (kill_at && now >= kill_at) {
            stop_child(&ch[o->kill_node], why_kill, 1, now);
            kill_at = INT64_MAX;
        }
        for (int k = 0; k < n; k++) {
            struct child *c = &ch[k];
            if (c->term_at && now - c->term_at > 500)
                stop_child(c, NULL, 1, now);
            else if (got_signal)
                stop_child(c, "stopped: the launcher was interrupted", 0, now);
            else if (fail_at && now - fail_at > grace)
                stop_child(c, why_fail, 0, now);
            else if (now > deadline) {
                *timed_out = 1;
                stop_child(c, why_timeout, 0, now);
            }
        }
    }
}

/* Binds n loopback UDP sockets, on base.. or on ports the system picks,
 * and writes the cluster file naming them.  Returns 0 or 2. */
static int make_cluster(struct cli__emu_opts *o, int *fds, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return bad("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# vmmcsim emu: %d node processes on loopback\n", o->nodes);
    for (int k = 0; k < o->nodes; k++) {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)(o->base_port ? o->base_port + k : 0));
        socklen_t al = sizeof a;
        fds[k] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fds[k] < 0 || bind(fds[k], (struct sockaddr *)&a, sizeof a) ||
            getsockname(fds[k], (struct sockaddr *)&a, &al)) {
            int e = errno;
            fclose(f);
            if (o->base_port)
                return bad("option --base-port: cannot listen on "
                           "127.0.0.1:%ld for node %d: %s",
                           o->base_port + k, k,
                           e == EADDRINUSE ? "the port is in use"
                                           : strerror(e));
            return bad("cannot open a UDP socket on 127.0.0.1: %s",
                       strerror(e));
        }
        fprintf(f, "%d 127.0.0.1 %u\n", k, (unsigned)ntohs(a.sin_port));
    }
    if (fclose(f))
        return bad("cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* The child's side of a fork: node k. */
static void child_main(struct cli__emu_opts *o, struct emu_cluster *cl, int k,
                       int *fds, int (*pipes)[2][2], const struct child *ch,
                       pid_t pgid, pid_t parent, struct cli__emu_observer *obs,
                       int64_t epoch)
{
    setpgid(0, pgid);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    dup2(pipes[k][0][1], 1);
    dup2(pipes[k][1][1], 2);
    for (int j = 0; j < o->nodes; j++) {
        for (int w = 0; w < 2; w++)
            for (int e = 0; e < 2; e++)
                if (pipes[j][w][e] >= 0)
                    close(pipes[j][w][e]);
        if (j != k && fds[j] >= 0)
            close(fds[j]);
        if (j < k) { /* the read ends of the nodes forked before */
            if (ch[j].out >= 0)
                close(ch[j].out);
            if (ch[j].err >= 0)
                close(ch[j].err);
        }
    }
    struct emu_hostlock *lock =
        (struct emu_hostlock *)((char *)obs + CLI__EMU_LOCK_OFF);
    struct cli__emu_node x = {o, cl, k, fds[k], epoch, obs, lock};
    int status = cli__emu_run_node(&x);
    fflush(NULL);
    exit(status);
}

static void describe(const struct child *c, char *buf, size_t len)
{
    if (c->why[0])
        snprintf(buf, len, "%s", c->why);
    else if (WIFEXITED(c->status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(c->status));
    else if (WIFSIGNALED(c->status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(c->status),
                 strsignal(WTERMSIG(c->status)));
    else
        snprintf(buf, len, "ended with wait status %d", c->status);
}

/* Forks node 0..N-1 (they all share obs and start the clock at one
 * epoch); returns how many were forked (a fork that fails stops the
 * others). */
static int spawn(struct cli__emu_opts *o, struct emu_cluster *cl, int *fds,
                 int (*pipes)[2][2], struct child *ch,
                 struct cli__emu_observer *obs, pid_t *pgid)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t epoch = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    pid_t parent = getpid();
    fflush(NULL);
    int k;
    for (k = 0; k < o->nodes; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "vmmcsim: emu: fork: %s\n", strerror(errno));
            for (int j = 0; j < k; j++)
                stop_child(&ch[j], "killed: the launcher could not fork", 1, 0);
            break;
        }
        if (pid == 0)
            child_main(o, cl, k, fds, pipes, ch, *pgid, parent, obs, epoch);
        if (!*pgid)
            *pgid = pid;
        setpgid(pid, *pgid); /* also here: no race with a kill(-pgid) */
        ch[k].pid = pid;
        ch[k].out = pipes[k][0][0];
        ch[k].err = pipes[k][1][0];
        pipes[k][0][0] = pipes[k][1][0] = -1;
        close(pipes[k][0][1]);
        close(pipes[k][1][1]);
        pipes[k][0][1] = pipes[k][1][1] = -1;
        close(fds[k]);
        fds[k] = -1;
    }
    for (int j = k; j < o->nodes; j++)
        ch[j].exited = 1; /* never forked */
    return k;
}

static int child_ok(const struct child *c)
{
    return !c->why[0] && WIFEXITED(c->status) && !WEXITSTATUS(c->status);
}

/* One line per node that failed, the cause first; returns the exit
 * status: 0 all succeeded, 2 each failure was bad input, else 1. */
static int summarize(const struct cli__emu_opts *o, const struct child *ch,
                     int started, int first, int timed_out)
{
    int all_bad_input = started == o->nodes, failures = started < o->nodes;
    for (int k = 0; k < started; k++) {
        const struct child *c = &ch[k];
        if (child_ok(c))
            continue;
        failures++;
        all_bad_input &=
            !c->why[0] && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 2;
    }
    if (!failures)
        return 0;
    char why[256];
    if (first >= 0) {
        describe(&ch[first], why, sizeof why);
        fprintf(stderr, "vmmcsim: emu: run failed: node %d %s\n", first, why);
    } else if (timed_out) {
        fprintf(stderr,
                "vmmcsim: emu: run failed: still running after "
                "--timeout %s\n",
                o->timeout_text ? o->timeout_text : "300s");
    } else if (got_signal) {
        fprintf(stderr,
                "vmmcsim: emu: run failed: interrupted by signal "
                "%d\n",
                (int)got_signal);
    } else {
        fprintf(stderr, "vmmcsim: emu: run failed\n");
    }
    for (int k = 0; k < started; k++) {
        if (k == first || child_ok(&ch[k]))
            continue;
        describe(&ch[k], why, sizeof why);
        fprintf(stderr, "vmmcsim: emu: node %d %s\n", k, why);
    }
    return all_bad_input ? 2 : 1;
}

int cli_emu(int argc, char **argv)
{
    static struct cli__emu_opts ob;
    struct cli__emu_opts *o = &ob;
    memset(o, 0, sizeof *o);
    o->cmd_prefix = "emu: ";
    o->launcher = 1;
    int rc = cli__emu_parse(o, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    int fds[CLI__EMU_MAX_LOCAL], pipes[CLI__EMU_MAX_LOCAL][2][2];
    struct child ch[CLI__EMU_MAX_LOCAL];
    memset(ch, 0, sizeof ch);
    for (int k = 0; k < CLI__EMU_MAX_LOCAL; k++) {
        fds[k] = -1;
        pipes[k][0][0] = pipes[k][0][1] = pipes[k][1][0] = pipes[k][1][1] = -1;
    }
    struct emu_cluster cl;
    memset(&cl, 0, sizeof cl);
    struct cli__emu_observer *obs = MAP_FAILED;
    size_t obs_len = CLI__EMU_LOCK_OFF + emu_hostlock_size();
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], path[PATH_MAX + 16], err[1024];
    snprintf(dir, sizeof dir, "%s/vmmcsim-emu-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        cli__emu_exec_unload();
        return bad("cannot make a directory in %s: %s",
                   tmp && *tmp ? tmp : "/tmp", strerror(errno));
    }
    snprintf(path, sizeof path, "%s/cluster", dir);
    rc = 2;
    if (make_cluster(o, fds, path))
        goto out;
    if (emu_cluster_load(&cl, path, err, sizeof err)) {
        bad("%s", err);
        goto out;
    }
    rc = 1;
    obs = mmap(NULL, obs_len, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (obs == MAP_FAILED ||
        emu_hostlock_init(
            (struct emu_hostlock *)((char *)obs + CLI__EMU_LOCK_OFF))) {
        fprintf(stderr, "vmmcsim: emu: cannot map shared memory: %s\n",
                strerror(errno));
        goto out;
    }
    obs->sh.opts = &o->wopts;
    cli__emu_msg_conf(&obs->sh, &o->prof);
    for (int k = 0; k < o->nodes; k++)
        if (pipe(pipes[k][0]) || pipe(pipes[k][1])) {
            fprintf(stderr, "vmmcsim: emu: pipe: %s\n", strerror(errno));
            goto out;
        }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pid_t pgid = 0;
    int started = spawn(o, &cl, fds, pipes, ch, obs, &pgid);
    int first = -1, timed_out = 0;
    watch(o, ch, o->nodes, obs, &first, &timed_out);
    if (pgid)
        kill(-pgid, SIGKILL); /* anything of the group still there */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    rc = summarize(o, ch, started, first, timed_out);
out:
    for (int k = 0; k < CLI__EMU_MAX_LOCAL; k++) {
        if (fds[k] >= 0)
            close(fds[k]);
        for (int w = 0; w < 2; w++)
            for (int e = 0; e < 2; e++)
                if (pipes[k][w][e] >= 0)
                    close(pipes[k][w][e]);
    }
    if (obs != MAP_FAILED)
        munmap(obs, obs_len);
    emu_cluster_free(&cl);
    unlink(path);
    rmdir(dir);
    fflush(stdout);
    cli__emu_exec_unload();
    return rc;
}
