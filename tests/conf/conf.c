/* The conformance suite's fixture (tests/conf/conf.h): the runner, the
 * simulator and emulator backends, and the helpers bodies use. */
#define _GNU_SOURCE
#include "tests/conf/conf.h"

#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cluster.h"
#include "emu/emu.h"
#include "nicmodel/profile.h"
#include "tests/harness.h"
#include "util/err.h"
#include "util/inv.h"
#include "vmmc/fw.h"

/* ---- The runner ---- */

/* What the child hands back besides its failure messages (a shared
 * mapping). */
struct conf_shared {
    struct conf_result res;
    int rc;
    char err[512];
};

static void add_fw_stats(struct conf_result *r, const struct vmmc_fw_stats *s)
{
    r->packets_out += s->packets_out;
    r->retransmits += s->retransmits;
    r->timeouts += s->timeouts;
    r->dup_drops += s->dup_drops;
    r->malformed += s->malformed;
    r->peer_failures += s->peer_failures;
}

/* In the child: writes every CUnit failure recorded after the first
 * `skip` to fd, each a NUL-terminated "file:line: condition". */
static void send_failures(int fd, unsigned skip)
{
    unsigned i = 0;
    for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext, i++) {
        if (i < skip)
            continue;
        char msg[1200];
        const char *file = f->strFileName ? f->strFileName : "?";
        const char *cond = f->strCondition ? f->strCondition : "?";
        /* TH_CHECK's messages start with their file and line already. */
        int n = !strncmp(cond, file, strlen(file))
                    ? snprintf(msg, sizeof msg, "%s", cond)
                    : snprintf(msg, sizeof msg, "%s:%u: %s", file,
                               f->uiLineNumber, cond);
        if (n < 0)
            continue;
        size_t len = strlen(msg) + 1;
        if (write(fd, msg, len) != (ssize_t)len)
            _exit(99);
    }
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void conf_run(const struct conf_backend *b, const struct conf_case *c,
              struct conf_result *res)
{
    CU_ASSERT_FATAL(c->nodes >= 2 && c->nodes <= CONF_MAX_NODES);
    struct conf_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(sh != MAP_FAILED);
    memset(sh, 0, sizeof *sh);
    int fds[2];
    CU_ASSERT_FATAL(pipe(fds) == 0);
    unsigned before = CU_get_number_of_failure_records();
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sh->rc = b->run(c, &sh->res, sh->err, sizeof sh->err);
        if (vs_inv_count())
            th__fail(__FILE__, __LINE__, "%s: %llu invariant violation(s): %s",
                     b->name, (unsigned long long)vs_inv_count(),
                     vs_inv_first());
        send_failures(fds[1], before);
        fflush(NULL);
        _exit(0);
    }
    close(fds[1]);
    char buf[65536];
    size_t len = 0;
    double deadline = mono_s() + CONF_CHILD_LIMIT_S;
    int killed = 0;
    for (;;) {
        double left = deadline - mono_s();
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf - 1)
            break;
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char where[64];
    snprintf(where, sizeof where, "conf-%s", b->name);
    for (size_t off = 0; off < len;) {
        const char *msg = buf + off;
        size_t ml = strnlen(msg, len - off);
        CU_assertImplementation(CU_FALSE, 0, msg, where, "", CU_FALSE);
        off += ml + 1;
    }
    if (killed) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "%s: the scenario ran longer than %d s and was killed",
                 b->name, CONF_CHILD_LIMIT_S);
        CU_assertImplementation(CU_FALSE, 0, msg, where, "", CU_FALSE);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: the scenario child died (status %d)",
                 b->name, status);
        CU_assertImplementation(CU_FALSE, 0, msg, where, "", CU_FALSE);
    } else if (sh->rc != 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: the run failed (%d): %s", b->name,
                 sh->rc, sh->err);
        CU_assertImplementation(CU_FALSE, 0, msg, where, "", CU_FALSE);
    } else if (!sh->res.completed) {
        CU_assertImplementation(CU_FALSE, 0, "the run did not complete", where,
                                "", CU_FALSE);
    }
    if (res)
        *res = sh->res;
    munmap(sh, sizeof *sh);
}

/* ---- The simulator ---- */

/* Where sim_report adds up (cl_run hands the callback the node
 * programs' argument, not one of its own). */
static struct conf_result *sim_acc;

static void sim_report(const struct cl_report *rep, void *arg)
{
    (void)arg;
    struct conf_result *r = sim_acc;
    for (int i = 0; i < rep->nnodes; i++)
        add_fw_stats(r, vmmc_fw_stats(rep->fws[i]));
}

static int conf_sim_run(const struct conf_case *c, struct conf_result *res,
                        char *err, size_t errlen)
{
    struct cl_faults f = {.drop = c->drop,
                          .corrupt = c->corrupt,
                          .dup = c->dup,
                          .reorder = 0,
                          .reorder_delay_max = -1};
    int faulty = c->drop > 0 || c->corrupt > 0 || c->dup > 0;
    struct cl_run r = {.platform =
                           c->nodes == 2 ? TH_PLATFORM_2 : TH_PLATFORM_8,
                       .profile = TH_PROFILE,
                       .node_main = c->node_main,
                       .arg = c->arg,
                       .nodes = c->nodes,
                       .max_time = 600 * HW_MS * 1000,
                       .report = sim_report,
                       .faults = faulty ? &f : NULL,
                       .seed = c->seed};
    sim_acc = res;
    int rc = cl_run(&r, err, errlen);
    res->completed = rc == 0;
    return rc;
}

const struct conf_backend conf_sim = {"sim", conf_sim_run};

/* ---- The emulator: every node in this process ---- */

struct emu_host_arg {
    emu_node *n;
    const struct conf_case *c;
};

static void *emu_host_main(void *arg)
{
    struct emu_host_arg *a = arg;
    emu_host_enter(a->n);
    a->c->node_main(emu_host(a->n), a->c->arg);
    emu_host_leave(a->n);
    return NULL;
}

/* A UDP socket bound to a loopback port the system picks; its port. */
static int bind_loopback(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &al)) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int conf_emu_run(const struct conf_case *c, struct conf_result *res,
                        char *err, size_t errlen)
{
    int n = c->nodes, rc = 0;
    static struct nicm_profile prof;
    rc = nicm_profile_load(&prof, TH_PROFILE, err, errlen);
    if (rc)
        return rc;
    int fds[CONF_MAX_NODES];
    char text[256];
    size_t tl = 0;
    for (int i = 0; i < n; i++) {
        unsigned port = 0;
        fds[i] = bind_loopback(&port);
        if (fds[i] < 0) {
            snprintf(err, errlen, "binding a loopback socket: %s",
                     strerror(errno));
            return VS_EIO;
        }
        tl += (size_t)snprintf(text + tl, sizeof text - tl, "%d 127.0.0.1 %u\n",
                               i, port);
    }
    struct emu_cluster cl;
    rc = emu_cluster_parse(&cl, "conf-emu", text, err, errlen);
    if (rc) {
        emu_cluster_free(&cl);
        return rc;
    }
    struct emu_hostlock *lock =
        aligned_alloc(64, (emu_hostlock_size() + 63) / 64 * 64);
    if (!lock || emu_hostlock_init(lock)) {
        snprintf(err, errlen, "the host lock");
        return VS_EIO;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t epoch = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    emu_node *nodes[CONF_MAX_NODES] = {0};
    vmmc_fw *fws[CONF_MAX_NODES] = {0};
    for (int i = 0; i < n && !rc; i++) {
        struct emu_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.node = i;
        cfg.cluster = &cl;
        cfg.sock_fd = fds[i];
        cfg.page_size = prof.page_size;
        cfg.max_packet = prof.max_packet;
        cfg.send_buffers = prof.send_buffers;
        cfg.recv_buffers = prof.recv_buffers;
        cfg.utlb_entries = prof.utlb_entries;
        cfg.sram_bytes = prof.sram_bytes;
        cfg.unreliable = !prof.reliable;
        cfg.rto = prof.rto;
        cfg.ack_delay = prof.ack_delay;
        /* A loaded machine may stall a NIC thread for a while; the
         * suite's scenarios never lose a peer, so give the link more
         * patience than the profile's (this is not what is tested). */
        cfg.max_retries = prof.max_retries < 40 ? 40 : prof.max_retries;
        cfg.window = prof.window;
        cfg.join_timeout = 20 * HW_MS * 1000;
        cfg.epoch_ns = epoch;
        cfg.hostlock = lock;
        cfg.faults = (struct emu_faults){.drop = c->drop,
                                         .corrupt = c->corrupt,
                                         .dup = c->dup,
                                         .seed = c->seed};
        fds[i] = -1;
        rc = emu_node_open(&nodes[i], &cfg, err, errlen);
        if (!rc)
            rc = vmmc_fw_boot(&fws[i], emu_nic(nodes[i]));
        if (!rc)
            rc = emu_node_start(nodes[i]);
    }
    for (int i = 0; i < n && !rc; i++)
        rc = emu_node_join(nodes[i], err, errlen);
    if (!rc) {
        pthread_t th[CONF_MAX_NODES];
        struct emu_host_arg args[CONF_MAX_NODES];
        int started = 0;
        for (int i = 0; i < n; i++) {
            args[i] = (struct emu_host_arg){nodes[i], c};
            if (pthread_create(&th[i], NULL, emu_host_main, &args[i])) {
                snprintf(err, errlen, "pthread_create failed");
                rc = VS_EIO;
                break;
            }
            started++;
        }
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        res->completed = !rc;
    }
    for (int i = 0; i < n; i++) {
        if (!nodes[i])
            continue;
        emu_node_stop(nodes[i]);
        if (fws[i]) {
            if (!rc)
                vmmc_fw_audit(fws[i]);
            add_fw_stats(res, vmmc_fw_stats(fws[i]));
            vmmc_fw_halt(fws[i]);
        }
        const struct emu_stats *st = emu_node_stats(nodes[i]);
        res->injected_drop += st->fault_drop;
        res->injected_corrupt += st->fault_corrupt;
        res->injected_dup += st->fault_dup;
        emu_node_close(nodes[i]);
    }
    free(lock);
    emu_cluster_free(&cl);
    return rc;
}

const struct conf_backend conf_emu = {"emu", conf_emu_run};

/* ---- Helpers for bodies ---- */

int conf_import(vmmc_ctx *ctx, int node, int id, vmmc_import_t *out,
                size_t *len)
{
    hw_host *h = vmmc_host(ctx);
    hw_time_t t0 = h->ops->now(h);
    for (;;) {
        int rc = vmmc_import(ctx, node, id, out, len);
        if (rc != VS_ENOENT || h->ops->now(h) - t0 > CONF_TIMEOUT)
            return rc;
        h->ops->compute(h, 200 * HW_US);
    }
}

struct at_least {
    const volatile uint32_t *w;
    uint32_t v;
};

static int reached(void *arg)
{
    const struct at_least *a = arg;
    return *a->w >= a->v;
}

/* Waits on the port itself: vmmc_wait_until would also return, at once
 * and again, while notifications are queued for vmmc_notify_poll, and a
 * loop around it would spin holding the host (on the emulator, the host
 * lock, so the peers it waits for could not run). */
static void await_word(struct conf_sync *s, const uint32_t *w, uint32_t v,
                       const char *what, int peer)
{
    struct at_least a = {w, v};
    hw_host *h = vmmc_host(s->ctx);
    int rc = h->ops->wait(h, reached, &a, CONF_TIMEOUT);
    TH_CHECK(rc == VS_OK && reached(&a),
             "node %d: waiting for %s %u from node %d: %s (the word is %u)",
             s->me, what, (unsigned)v, peer, vs_strerror(rc), (unsigned)*w);
}

void conf_sync_open(struct conf_sync *s, hw_host *h)
{
    vmmc_ctx *ctx = NULL;
    TH_EXPECT_RC(vmmc_open(&ctx, h), VS_OK);
    conf_sync_attach(s, h, ctx);
}

void conf_sync_attach(struct conf_sync *s, hw_host *h, vmmc_ctx *ctx)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->me = h->node;
    s->n = h->nnodes;
    s->slots = aligned_alloc(64, CONF_MAX_NODES * 64);
    s->src = aligned_alloc(64, 64);
    memset(s->slots, 0, CONF_MAX_NODES * 64);
    memset(s->src, 0, 64);
    TH_EXPECT_RC(vmmc_export(s->ctx, CONF_SYNC_ID, s->slots,
                             CONF_MAX_NODES * 64, VMMC_PERM_WRITE),
                 VS_OK);
    for (int k = 0; k < s->n && k < CONF_MAX_NODES; k++) {
        s->peer[k] = -1;
        if (k != s->me)
            TH_EXPECT_RC(
                conf_import(s->ctx, k, CONF_SYNC_ID, &s->peer[k], NULL), VS_OK);
    }
}

static void put_word(struct conf_sync *s, int peer, size_t word, uint32_t v)
{
    *s->src = v;
    TH_EXPECT_RC(vmmc_send_sync(s->ctx, s->peer[peer],
                                (size_t)s->me * 64 + word * 4, s->src, 4, 0),
                 VS_OK);
}

void conf_sync_signal(struct conf_sync *s, int peer, uint32_t phase)
{
    put_word(s, peer, 0, phase);
}

void conf_sync_await(struct conf_sync *s, int peer, uint32_t phase)
{
    await_word(s, &s->slots[peer * 16], phase, "phase", peer);
}

void conf_sync_all(struct conf_sync *s)
{
    s->barrier++;
    for (int k = 0; k < s->n; k++)
        if (k != s->me)
            put_word(s, k, 1, s->barrier);
    for (int k = 0; k < s->n; k++)
        if (k != s->me)
            await_word(s, &s->slots[k * 16 + 1], s->barrier, "barrier", k);
}

void conf_sync_close(struct conf_sync *s)
{
    conf_sync_all(s);
    TH_EXPECT_RC(vmmc_close(s->ctx), VS_OK);
    free(s->slots);
    free(s->src);
}

void conf_sync_free(struct conf_sync *s)
{
    free(s->slots);
    free(s->src);
    s->slots = s->src = NULL;
}
