/*
 * The emulated backend (emu/) and its commands (vmmcsim emu, emu-node).
 *
 * Unit tests: the datagram decoder (every way a datagram can be bad is
 * counted as that, never trusted), the cluster file's errors, the host
 * lock.  In-process: two emulated nodes on loopback in this process; bad
 * datagrams are counted and dropped; a peer whose NIC stops makes a send
 * fail with VS_EUNREACH within the link's bound.  Through the
 * real vmmcsim binary: the three workloads on local node processes (sane
 * numbers, every all-to-all message delivered and verified; timings are
 * never asserted, real time is noisy), bad input, a node that never joins,
 * a peer that speaks another packet version or is not in the cluster file,
 * a node killed mid-run and a run past --timeout (the launcher names the
 * node, and no process of the run is left).  Programs built by vmmcsim-cc
 * (exec PROGRAM): MPI pingpong, the socket key-value store (also on two
 * emu-node processes), and a node's exit status failing the run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
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

#include "emu/emu.h"
#include "tests/cli/exec_helpers.h"
#include "tests/harness.h"
#include "tests/suites.h"
#include "util/err.h"
#include "util/inv.h"
#include "vmmc/fw.h"
#include "vmmc/vmmc.h"

static char out[65536];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A loopback UDP port nobody listens on now. */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    unsigned port = 0;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
        !getsockname(fd, (struct sockaddr *)&a, &al))
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- The decoder ---- */

static size_t make_datagram(unsigned char *buf, int type, int src, int dst,
                            const void *payload, size_t len)
{
    struct emu_wire_hdr h = {EMU_WIRE_VERSION, (uint8_t)type, (uint16_t)src,
                             (uint16_t)dst,    (uint32_t)len, 0x12345678u};
    emu_wire_header(buf, &h, payload);
    if (len)
        memcpy(buf + EMU_WIRE_HDR, payload, len);
    return EMU_WIRE_HDR + len;
}

static void test_wire_decode(void)
{
    /* The IEEE CRC-32 check value, and a split computation. */
    CU_ASSERT_EQUAL(emu_crc32(0, "123456789", 9), 0xCBF43926u);
    CU_ASSERT_EQUAL(emu_crc32(emu_crc32(0, "12345", 5), "6789", 4),
                    0xCBF43926u);
    unsigned char payload[100], buf[256];
    for (int i = 0; i < 100; i++)
        payload[i] = (unsigned char)(i * 7);
    size_t n = make_datagram(buf, EMU_PKT_DATA, 3, 1, payload, 100);
    struct emu_wire_hdr h;
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n, &h), EMU_WIRE_OK);
    CU_ASSERT_EQUAL(h.src, 3);
    CU_ASSERT_EQUAL(h.dst, 1);
    CU_ASSERT_EQUAL(h.len, 100);
    CU_ASSERT_EQUAL(h.type, EMU_PKT_DATA);
    CU_ASSERT_EQUAL(h.cluster, 0x12345678u);
    /* One flipped bit anywhere after the version: the checksum. */
    for (size_t at = 8; at < n; at += 13) {
        if (at >= 12 && at < 16)
            continue; /* the length field: a length error instead */
        buf[at] ^= 0x10;
        CU_ASSERT_EQUAL(emu_wire_decode(buf, n, &h), EMU_WIRE_BAD_CHECKSUM);
        buf[at] ^= 0x10;
    }
    buf[20] ^= 1; /* the checksum itself */
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n, &h), EMU_WIRE_BAD_CHECKSUM);
    buf[20] ^= 1;
    /* Another version, whatever follows: the version, and which. */
    buf[4] = 2;
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n, &h), EMU_WIRE_BAD_VERSION);
    CU_ASSERT_EQUAL(h.version, 2);
    CU_ASSERT_EQUAL(emu_wire_decode(buf, 6, &h), EMU_WIRE_BAD_VERSION);
    buf[4] = EMU_WIRE_VERSION;
    buf[0] ^= 0xff;
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n, &h), EMU_WIRE_BAD_MAGIC);
    buf[0] ^= 0xff;
    /* Cut short, or longer than it says. */
    CU_ASSERT_EQUAL(emu_wire_decode(buf, 3, &h), EMU_WIRE_SHORT);
    CU_ASSERT_EQUAL(emu_wire_decode(buf, EMU_WIRE_HDR - 1, &h), EMU_WIRE_SHORT);
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n - 1, &h), EMU_WIRE_BAD_LENGTH);
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n + 1, &h), EMU_WIRE_BAD_LENGTH);
    /* A well-formed datagram of a type nobody knows. */
    n = make_datagram(buf, 99, 0, 1, payload, 10);
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n, &h), EMU_WIRE_BAD_TYPE);
    n = make_datagram(buf, EMU_PKT_HELLO, 0, 1, NULL, 0);
    CU_ASSERT_EQUAL(emu_wire_decode(buf, n, &h), EMU_WIRE_OK);
    CU_ASSERT_STRING_EQUAL(emu_wire_strerror(EMU_WIRE_BAD_CHECKSUM),
                           "checksum mismatch");
}

/* ---- The cluster file ---- */

static int parse(const char *text, char *err)
{
    struct emu_cluster c;
    int rc = emu_cluster_parse(&c, "c.txt", text, err, 512);
    emu_cluster_free(&c);
    return rc;
}

static void test_cluster_file(void)
{
    char err[512];
    struct emu_cluster c;
    CU_ASSERT_EQUAL(emu_cluster_parse(&c, "c.txt",
                                      "# two nodes\n\n1 127.0.0.1 7001 # b\n"
                                      "  0\tlocalhost 7000\n",
                                      err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(c.n, 2);
    CU_ASSERT_STRING_EQUAL(c.peers[0].host, "localhost");
    CU_ASSERT_EQUAL(c.peers[0].line, 4);
    CU_ASSERT_EQUAL(c.peers[1].port, 7001);
    CU_ASSERT_STRING_EQUAL(c.peers[1].label, "127.0.0.1:7001");
    uint32_t id = c.id;
    emu_cluster_free(&c);
    /* The id depends on the entries, not on comments and order. */
    CU_ASSERT_EQUAL(emu_cluster_parse(&c, "d.txt",
                                      "0 localhost 7000\n1 127.0.0.1 7001\n",
                                      err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(c.id, id);
    emu_cluster_free(&c);

    CU_ASSERT_EQUAL(parse("0 h 1\n1 h 2\n1 h 3\n", err), VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:3: duplicate node id 1 (also on line 2)");
    CU_ASSERT_EQUAL(parse("0 127.0.0.1 99999\n", err), VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:1: bad port '99999' (want 1..65535)");
    CU_ASSERT_EQUAL(parse("0 127.0.0.1 -4\n", err), VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:1: bad port '-4'");
    CU_ASSERT_EQUAL(parse("0 127.0.0.1 5000\n2 127.0.0.1 5001\n", err),
                    VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:2: node id 2 is out of range");
    TH_EXPECT_HAS(err, "(node 1 is missing)");
    CU_ASSERT_EQUAL(parse("0 127.0.0.1\n", err), VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:1: want 'ID HOST PORT'");
    CU_ASSERT_EQUAL(parse("0 127.0.0.1 5000 extra\n", err), VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:1: unexpected 'extra' after the port");
    CU_ASSERT_EQUAL(parse("x 127.0.0.1 5000\n", err), VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:1: bad node id 'x'");
    CU_ASSERT_EQUAL(parse("# nothing\n\n", err), VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt: no node listed");
    CU_ASSERT_EQUAL(parse("0 127.0.0.1 5000\n1 127.0.0.1 5000\n", err),
                    VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:2: node 1 has the address of node 0 (line 1)");
    CU_ASSERT_EQUAL(
        parse("0 127.0.0.1 5000\n1 no-such-host.invalid 5000\n", err),
        VS_ECONFIG);
    TH_EXPECT_HAS(err, "c.txt:2: cannot resolve host 'no-such-host.invalid'");
}

/* ---- The host lock ---- */

/* Waits for pid up to 10 s (then kills it); its exit status, or -1. */
static int wait_child(pid_t pid)
{
    int status = 0;
    double t0 = now_s();
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_s() - t0 > 10) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(5000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_hostlock(void)
{
    size_t len = emu_hostlock_size() + sizeof(int);
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(mem != MAP_FAILED);
    struct emu_hostlock *l = mem;
    volatile int *shared = (volatile int *)((char *)mem + emu_hostlock_size());
    CU_ASSERT_EQUAL_FATAL(emu_hostlock_init(l), 0);
    /* Two processes add 20000 each to a shared word, under the lock: no
     * increment is lost. */
    *shared = 0;
    pid_t kids[2];
    fflush(NULL);
    for (int k = 0; k < 2; k++)
        if ((kids[k] = fork()) == 0) {
            for (int i = 0; i < 20000; i++) {
                emu_hostlock_acquire(l);
                int v = *shared;
                *shared = v + 1;
                emu_hostlock_release(l);
            }
            _exit(0);
        }
    CU_ASSERT_EQUAL(wait_child(kids[0]), 0);
    CU_ASSERT_EQUAL(wait_child(kids[1]), 0);
    CU_ASSERT_EQUAL(*shared, 40000);
    /* A process that dies holding it does not keep it. */
    pid_t a = fork();
    if (a == 0) {
        emu_hostlock_acquire(l);
        _exit(0);
    }
    CU_ASSERT_EQUAL(wait_child(a), 0);
    pid_t b = fork();
    if (b == 0) {
        emu_hostlock_acquire(l);
        emu_hostlock_release(l);
        _exit(7);
    }
    CU_ASSERT_EQUAL(wait_child(b), 7);
    munmap(mem, len);
}

/* ---- In-process: a peer whose NIC stops ---- */

#define RTO (5 * HW_MS)
#define RETRIES 3

static void fill_cfg(struct emu_config *cfg, const struct emu_cluster *cl,
                     int node)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->node = node;
    cfg->cluster = cl;
    cfg->sock_fd = -1;
    cfg->page_size = 4096;
    cfg->max_packet = 4160;
    cfg->send_buffers = 16;
    cfg->recv_buffers = 16;
    cfg->utlb_entries = 1024;
    cfg->sram_bytes = 1 << 20;
    cfg->rto = RTO;
    cfg->ack_delay = 20 * HW_US;
    cfg->max_retries = RETRIES;
    cfg->window = 6;
    cfg->join_timeout = 5000 * HW_MS;
}

/* Whether len bytes at buf become want within two seconds.  A send
 * completes when the receiving NIC acknowledged its packets, which may be
 * a moment before it has written them into the host's memory. */
static int lands(const volatile unsigned char *buf, const unsigned char *want,
                 size_t len)
{
    double t0 = now_s();
    for (;;) {
        size_t i = 0;
        while (i < len && buf[i] == want[i])
            i++;
        if (i == len)
            return 1;
        if (now_s() - t0 > 2)
            return 0;
        usleep(100);
    }
}

/* Node 1's host program: exports a buffer, waits to be told to close. */
struct peer {
    emu_node *n;
    unsigned char *buf;
    pthread_mutex_t m;
    pthread_cond_t c;
    int ready, quit, rc;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    vmmc_ctx *ctx = NULL;
    emu_host_enter(p->n);
    int rc = vmmc_open(&ctx, emu_host(p->n));
    if (!rc)
        rc = vmmc_export(ctx, 0, p->buf, 8192, VMMC_PERM_WRITE);
    pthread_mutex_lock(&p->m);
    p->ready = 1;
    p->rc = rc;
    pthread_cond_broadcast(&p->c);
    while (!p->quit)
        pthread_cond_wait(&p->c, &p->m);
    pthread_mutex_unlock(&p->m);
    if (ctx && vmmc_close(ctx))
        p->rc = -100;
    emu_host_leave(p->n);
    return NULL;
}

static void test_unreachable_peer(void)
{
    char text[128], err[512];
    snprintf(text, sizeof text, "0 127.0.0.1 %u\n1 127.0.0.1 %u\n", free_port(),
             free_port());
    struct emu_cluster cl;
    CU_ASSERT_EQUAL_FATAL(emu_cluster_parse(&cl, "mem", text, err, sizeof err),
                          0);
    uint64_t inv0 = vs_inv_count();
    emu_node *n[2] = {NULL, NULL};
    vmmc_fw *fw[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        struct emu_config cfg;
        fill_cfg(&cfg, &cl, i);
        CU_ASSERT_EQUAL_FATAL(emu_node_open(&n[i], &cfg, err, sizeof err), 0);
        CU_ASSERT_EQUAL_FATAL(vmmc_fw_boot(&fw[i], emu_nic(n[i])), 0);
        CU_ASSERT_EQUAL_FATAL(emu_node_start(n[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(emu_node_join(n[i], err, sizeof err), 0);
    struct peer p = {.n = n[1], .buf = calloc(1, 8192)};
    pthread_mutex_init(&p.m, NULL);
    pthread_cond_init(&p.c, NULL);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, peer_main, &p), 0);
    pthread_mutex_lock(&p.m);
    while (!p.ready)
        pthread_cond_wait(&p.c, &p.m);
    pthread_mutex_unlock(&p.m);
    CU_ASSERT_EQUAL(p.rc, 0);

    emu_host_enter(n[0]);
    CU_ASSERT_PTR_EQUAL(hw_self(), emu_host(n[0]));
    vmmc_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(vmmc_open(&ctx, emu_host(n[0])), 0);
    vmmc_import_t imp = -1;
    CU_ASSERT_EQUAL(vmmc_import(ctx, 1, 0, &imp, NULL), 0);
    unsigned char *src = malloc(8192);
    for (int i = 0; i < 8192; i++)
        src[i] = (unsigned char)(i * 31 + 7);
    /* Garbage to node 0 once it has joined: counted and dropped, never
     * given to the firmware, and the run goes on.  A firmware packet with
     * one bit flipped, one of another version, one from an address that
     * is not the node's it claims to be. */
    int junk = socket(AF_INET, SOCK_DGRAM, 0);
    CU_ASSERT_FATAL(junk >= 0);
    unsigned char dg[256];
    struct emu_wire_hdr h = {EMU_WIRE_VERSION, EMU_PKT_DATA, 1, 0, 100, cl.id};
    emu_wire_header(dg, &h, src);
    memcpy(dg + EMU_WIRE_HDR, src, 100);
    dg[EMU_WIRE_HDR + 50] ^= 4;
    sendto(junk, dg, EMU_WIRE_HDR + 100, 0,
           (const struct sockaddr *)&cl.peers[0].addr, cl.peers[0].addrlen);
    dg[EMU_WIRE_HDR + 50] ^= 4;
    emu_wire_header(dg, &h, src);
    sendto(junk, dg, EMU_WIRE_HDR + 100, 0,
           (const struct sockaddr *)&cl.peers[0].addr, cl.peers[0].addrlen);
    dg[4] = EMU_WIRE_VERSION + 1;
    sendto(junk, dg, EMU_WIRE_HDR + 100, 0,
           (const struct sockaddr *)&cl.peers[0].addr, cl.peers[0].addrlen);
    close(junk);
    /* Alive: the bytes land (two packets). */
    CU_ASSERT_EQUAL(vmmc_send_sync(ctx, imp, 0, src, 8192, 0), 0);
    CU_ASSERT(lands(p.buf, src, 8192));
    /* Node 1's NIC stops: the send fails as unreachable, within the bound
     * (RETRIES timeouts of at most 4 RTO) and some slack for a busy or
     * sanitized machine, but long before any workload time-out. */
    emu_node_stop(n[1]);
    double t0 = now_s();
    src[0] ^= 0xff;
    int rc = vmmc_send_sync(ctx, imp, 0, src, 4096, 0);
    double took = now_s() - t0;
    CU_ASSERT_EQUAL(rc, VS_EUNREACH);
    CU_ASSERT(took < (double)(RETRIES * 4 * RTO) / 1e12 + 2.0);
    CU_ASSERT(took >= (double)(RETRIES * RTO) / 1e12 * 0.9);
    CU_ASSERT_NOT_EQUAL(p.buf[0], src[0]);
    /* It comes back: the link starts a new epoch and delivers again. */
    CU_ASSERT_EQUAL(emu_node_start(n[1]), 0);
    CU_ASSERT_EQUAL(vmmc_send_sync(ctx, imp, 0, src, 4096, 0), 0);
    CU_ASSERT(lands(p.buf, src, 4096));
    CU_ASSERT_EQUAL(vmmc_close(ctx), 0);
    emu_host_leave(n[0]);
    CU_ASSERT_PTR_NULL(hw_self());

    pthread_mutex_lock(&p.m);
    p.quit = 1;
    pthread_cond_broadcast(&p.c);
    pthread_mutex_unlock(&p.m);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(p.rc, 0);
    CU_ASSERT(vmmc_fw_stats(fw[0])->peer_failures >= 1);
    for (int i = 0; i < 2; i++) {
        emu_node_stop(n[i]);
        vmmc_fw_audit(fw[i]);
        vmmc_fw_halt(fw[i]);
        const struct emu_stats *st = emu_node_stats(n[i]);
        CU_ASSERT(st->tx_datagrams > 0 && st->rx_datagrams > 0);
        CU_ASSERT_EQUAL(st->rx_bad[EMU_WIRE_BAD_CHECKSUM], i == 0);
        CU_ASSERT_EQUAL(st->rx_bad[EMU_WIRE_BAD_VERSION], i == 0);
        CU_ASSERT_EQUAL(st->rx_unknown, i == 0);
        CU_ASSERT_EQUAL(st->rx_foreign, 0);
        emu_node_close(n[i]);
    }
    CU_ASSERT_EQUAL(vs_inv_count(), inv0); /* SRAM all back, nothing left */
    pthread_mutex_destroy(&p.m);
    pthread_cond_destroy(&p.c);
    free(src);
    free(p.buf);
    emu_cluster_free(&cl);
}

/* ---- In-process: NIC-down intervals ---- */

#define DOWN_RETRIES 8
#define MS_PS (HW_MS)

/* Sleeps until node n's clock reads t. */
static void sleep_until(emu_node *n, hw_time_t t)
{
    while (emu_now(n) < t)
        usleep(1000);
}

/* Node 1's NIC is down (nicdown=1) twice, in real time since the nodes'
 * common epoch: from 1 s to 2.5 s, far longer than the link's unreachable
 * bound (DOWN_RETRIES timeouts of at most 4 RTO = 160 ms), so node 0's
 * send fails as unreachable within the bound and works again once the NIC
 * is back; and from 3 s for 20 ms, shorter than the bound, which node 0's
 * sends ride out with retransmissions and no error.  Only results are
 * asserted, and the time the failing send took (with 2 s of slack, as in
 * the unreachable-peer test). */
static void test_nic_down(void)
{
    char text[128], err[512];
    snprintf(text, sizeof text, "0 127.0.0.1 %u\n1 127.0.0.1 %u\n", free_port(),
             free_port());
    struct emu_cluster cl;
    CU_ASSERT_EQUAL_FATAL(emu_cluster_parse(&cl, "mem", text, err, sizeof err),
                          0);
    uint64_t inv0 = vs_inv_count();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t epoch = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    emu_node *n[2] = {NULL, NULL};
    vmmc_fw *fw[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        struct emu_config cfg;
        fill_cfg(&cfg, &cl, i);
        cfg.max_retries = DOWN_RETRIES;
        cfg.epoch_ns = epoch;
        cfg.faults.downs[0] = (struct emu_down){1, -1, 1000 * MS_PS,
                                                2500 * MS_PS};
        cfg.faults.downs[1] = (struct emu_down){1, -1, 3000 * MS_PS,
                                                3020 * MS_PS};
        cfg.faults.ndowns = 2;
        CU_ASSERT_EQUAL_FATAL(emu_node_open(&n[i], &cfg, err, sizeof err), 0);
        CU_ASSERT_EQUAL_FATAL(vmmc_fw_boot(&fw[i], emu_nic(n[i])), 0);
        CU_ASSERT_EQUAL_FATAL(emu_node_start(n[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(emu_node_join(n[i], err, sizeof err), 0);
    struct peer p = {.n = n[1], .buf = calloc(1, 8192)};
    pthread_mutex_init(&p.m, NULL);
    pthread_cond_init(&p.c, NULL);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, peer_main, &p), 0);
    pthread_mutex_lock(&p.m);
    while (!p.ready)
        pthread_cond_wait(&p.c, &p.m);
    pthread_mutex_unlock(&p.m);
    CU_ASSERT_EQUAL(p.rc, 0);

    emu_host_enter(n[0]);
    vmmc_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(vmmc_open(&ctx, emu_host(n[0])), 0);
    vmmc_import_t imp = -1;
    CU_ASSERT_EQUAL(vmmc_import(ctx, 1, 0, &imp, NULL), 0);
    unsigned char *src = malloc(4096);
    for (int i = 0; i < 4096; i++)
        src[i] = (unsigned char)(i * 13 + 1);
    CU_ASSERT_EQUAL(vmmc_send_sync(ctx, imp, 0, src, 4096, 0), 0);
    CU_ASSERT(lands(p.buf, src, 4096));
    /* The set-up must be over before the first interval starts. */
    hw_time_t ready_at = emu_now(n[0]);
    CU_ASSERT(ready_at < 950 * MS_PS);
    if (ready_at >= 950 * MS_PS)
        fprintf(stderr, "\nset-up took %.3f s, past the first interval\n",
                (double)ready_at / 1e12);

    /* Down for longer than the bound: unreachable, within the bound. */
    sleep_until(n[0], 1050 * MS_PS);
    src[0] ^= 0xff;
    double t0 = now_s();
    int rc = vmmc_send_sync(ctx, imp, 0, src, 4096, 0);
    double took = now_s() - t0;
    CU_ASSERT_EQUAL(rc, VS_EUNREACH);
    CU_ASSERT(took < (double)(DOWN_RETRIES * 4 * RTO) / 1e12 + 2.0);
    CU_ASSERT(took >= (double)(DOWN_RETRIES * RTO) / 1e12 * 0.9);
    CU_ASSERT_NOT_EQUAL(p.buf[0], src[0]);
    CU_ASSERT(emu_now(n[0]) < 2500 * MS_PS); /* failed while still down */
    /* Back: the link starts a new epoch and delivers. */
    sleep_until(n[0], 2550 * MS_PS);
    CU_ASSERT_EQUAL(vmmc_send_sync(ctx, imp, 0, src, 4096, 0), 0);
    CU_ASSERT(lands(p.buf, src, 4096));

    /* Down for 20 ms, shorter than the bound: every send completes. */
    sleep_until(n[0], 2990 * MS_PS);
    uint64_t lost0 = emu_node_stats(n[0])->fault_down +
                     emu_node_stats(n[1])->fault_down;
    uint64_t retx0 = vmmc_fw_stats(fw[0])->retransmits;
    int sends = 0, failed = 0;
    while (emu_now(n[0]) < 3100 * MS_PS && sends < 100000) {
        src[1] = (unsigned char)sends;
        failed += vmmc_send_sync(ctx, imp, 0, src, 4096, 0) != 0;
        sends++;
    }
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT(lands(p.buf, src, 4096));
    uint64_t lost = emu_node_stats(n[0])->fault_down +
                    emu_node_stats(n[1])->fault_down - lost0;
    CU_ASSERT(lost > 0);
    CU_ASSERT(vmmc_fw_stats(fw[0])->retransmits > retx0);
    CU_ASSERT_EQUAL(vmmc_close(ctx), 0);
    emu_host_leave(n[0]);

    pthread_mutex_lock(&p.m);
    p.quit = 1;
    pthread_cond_broadcast(&p.c);
    pthread_mutex_unlock(&p.m);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(p.rc, 0);
    /* One peer declared unreachable, in the long interval only. */
    CU_ASSERT_EQUAL(vmmc_fw_stats(fw[0])->peer_failures, 1);
    for (int i = 0; i < 2; i++) {
        emu_node_stop(n[i]);
        vmmc_fw_audit(fw[i]);
        vmmc_fw_halt(fw[i]);
        emu_node_close(n[i]);
    }
    CU_ASSERT_EQUAL(vs_inv_count(), inv0);
    pthread_mutex_destroy(&p.m);
    pthread_cond_destroy(&p.c);
    free(src);
    free(p.buf);
    emu_cluster_free(&cl);
}

/* ---- Through the vmmcsim binary ---- */

static void test_emu_pingpong(void)
{
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 2 --timeout 60s --json pingpong --sizes "
                   "4,4096 --iters 20",
                   th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "\"backend\":\"emu\"");
    TH_EXPECT_HAS(out, "{\"size_bytes\":4,\"latency_us\":");
    TH_EXPECT_HAS(out, "{\"size_bytes\":4096,\"latency_us\":");
    const char *row = strstr(out, "\"rows\":");
    for (int i = 0; row && i < 2; i++) {
        row = strstr(row, "\"latency_us\":");
        if (!row)
            break;
        double lat = strtod(row + 13, NULL);
        CU_ASSERT(lat > 0 && lat < 10000);
        row += 13;
    }
    CU_ASSERT_PTR_NOT_NULL(row);
    CU_ASSERT_EQUAL(th_json_num(out, "datagrams_malformed"), 0);
    /* The table, as vmmcsim run prints it. */
    rc = th_sh(out, sizeof out,
               "%s emu --nodes 2 --timeout 60s pingpong --sizes 64 --iters 5",
               th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "vmmcsim emu pingpong on 2 local node processes");
    TH_EXPECT_HAS(out, "  size_bytes   latency_us  bandwidth_MBps\n"
                       "          64 ");
    TH_EXPECT_HAS(out, "peers declared unreachable");
}

static void test_emu_bandwidth(void)
{
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 2 --timeout 60s bandwidth --sizes 64K "
                   "--count 50 --verify --csv",
                   th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    const char *row = strstr(out, "size_bytes,latency_us,bandwidth_MBps\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    unsigned long long size = 0;
    double lat = -1, bw = -1;
    CU_ASSERT_EQUAL(sscanf(row + 37, "%llu,%lf,%lf", &size, &lat, &bw), 3);
    CU_ASSERT_EQUAL(size, 65536);
    /* Bytes over the time from the first post on node 0 to the arrival on
     * node 1: both read one clock, so it is positive and finite. */
    CU_ASSERT(lat > 0 && lat < 100000);
    CU_ASSERT(bw > 0 && bw < 1e6);
}

static void test_emu_alltoall(void)
{
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 4 --timeout 60s --json alltoall "
                   "--messages 200 --verify",
                   th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(th_json_num(out, "messages_sent"), 200);
    CU_ASSERT_EQUAL(th_json_num(out, "messages_delivered"), 200);
    CU_ASSERT(th_json_num(out, "bytes_verified") > 0);
    CU_ASSERT_EQUAL(th_json_num(out, "bytes_verified"),
                    th_json_num(out, "bytes_delivered"));
    CU_ASSERT_EQUAL(th_json_num(out, "corrupt_delivered"), 0);
    CU_ASSERT_EQUAL(th_json_num(out, "duplicates_delivered"), 0);
    CU_ASSERT_EQUAL(th_json_num(out, "send_errors"), 0);
    CU_ASSERT_EQUAL(th_json_num(out, "bytes_outside_changed"), 0);
    CU_ASSERT_EQUAL(th_json_num(out, "nodes"), 4);
}

/* The fault shim: every message still arrives whole, the faults were
 * injected (corrupted datagrams are discarded by the receiver's checksum)
 * and the firmware's link retransmitted. */
static void test_emu_faults(void)
{
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 4 --timeout 60s --json --faults "
                   "drop=0.05,corrupt=0.01,dup=0.01 --seed 3 alltoall "
                   "--messages 200 --verify",
                   th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(th_json_num(out, "messages_sent"), 200);
    CU_ASSERT_EQUAL(th_json_num(out, "messages_delivered"), 200);
    CU_ASSERT(th_json_num(out, "bytes_verified") > 0);
    CU_ASSERT_EQUAL(th_json_num(out, "bytes_verified"),
                    th_json_num(out, "bytes_delivered"));
    CU_ASSERT_EQUAL(th_json_num(out, "corrupt_delivered"), 0);
    CU_ASSERT_EQUAL(th_json_num(out, "duplicates_delivered"), 0);
    CU_ASSERT_EQUAL(th_json_num(out, "send_errors"), 0);
    CU_ASSERT(th_json_num(out, "faults_dropped") > 0);
    CU_ASSERT(th_json_num(out, "faults_corrupted") > 0);
    CU_ASSERT(th_json_num(out, "faults_duplicated") > 0);
    CU_ASSERT_EQUAL(th_json_num(out, "faults_reordered"), 0);
    /* Corrupted datagrams were caught by the receivers' checksum (not
     * compared with faults_corrupted: each node's counters are read when
     * its own program ends, so a late one may be counted by one side). */
    CU_ASSERT(th_json_num(out, "datagrams_malformed") > 0);
    CU_ASSERT(th_json_num(out, "retransmissions") > 0);
    TH_EXPECT_HAS(out, "\"faults_by_node\":[{\"node\":0,");
    /* Reordering, in the table. */
    rc = th_sh(out, sizeof out,
               "%s emu --nodes 3 --timeout 60s --faults "
               "reorder=0.1,reorder_delay_max=1ms,drop=0.01 alltoall "
               "--messages 200 --verify",
               th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "messages: 200 sent, 200 delivered");
    TH_EXPECT_HAS(out, "0 corrupt, 0 duplicated, 0 send errors");
    TH_EXPECT_HAS(out, "faults injected: ");
    TH_EXPECT_HAS(out, "  node 2: ");
    TH_EXPECT_HAS_NOT(out, " 0 reordered\n  node 0");
    /* A link down for 20 ms every 250 ms (shorter than the unreachable
     * bound; so many that some fall inside the run however slow its
     * start): lost datagrams, retransmitted, and the run completes. */
    char downs[1024];
    size_t dl = 0;
    for (int k = 1; k <= 15; k++)
        dl += (size_t)snprintf(downs + dl, sizeof downs - dl,
                               "%sdown=0-1@%dms-%dms", k > 1 ? "," : "",
                               250 * k, 250 * k + 20);
    rc = th_sh(out, sizeof out,
               "%s emu --nodes 2 --timeout 60s --json --faults %s pingpong "
               "--sizes 4 --iters 10000",
               th_vmmcsim(), downs);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(th_json_num(out, "faults_down_dropped") > 0);
    CU_ASSERT(th_json_num(out, "retransmissions") > 0);
    CU_ASSERT_EQUAL(th_json_num(out, "peer_failures"), 0);
    /* Bad specs. */
    static const struct {
        const char *spec, *want;
    } bads[] = {
        {"drop=0.1,corrupt=2", "corrupt=2: '2' is not a probability"},
        {"dup=0.1,frob=1", "unknown key 'frob' in 'frob=1'"},
        {"drop", "'drop' is not KEY=VALUE"},
        {"drop=0.1,", "empty item"},
        {"reorder_delay_max=soon", "reorder_delay_max=soon: 'soon' is not "
                                   "a time"},
        {"down=0-2@1ms-2ms", "down=0-2@1ms-2ms: node 2 is out of range"},
        {"down=0@1ms-2ms", "down=0@1ms-2ms: '0' is not a link A-B"},
        {"down=1-1@1ms-", "a link joins two different nodes"},
        {"nicdown=x@1ms-2ms", "nicdown=x@1ms-2ms: 'x' is not a node number"},
        {"nicdown=1@2ms-1ms", "the interval ends before it starts"},
        {"nicdown=1@soon-", "bad time 'soon'"},
        {"nicdown=1", "nicdown=1: want nicdown=NODE@T1-T2"},
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        CU_ASSERT_EQUAL(th_sh(out, sizeof out,
                              "%s emu --nodes 2 --faults '%s' pingpong",
                              th_vmmcsim(), bads[i].spec),
                        2);
        TH_EXPECT_HAS(out, bads[i].want);
    }
    CU_ASSERT_EQUAL(th_sh(out, sizeof out,
                          "%s emu-node --cluster /nonexistent/c --id 0 "
                          "--faults drop=x pingpong",
                          th_vmmcsim()),
                    2);
    TH_EXPECT_HAS(out, "option --faults: drop=x: 'x' is not a probability");
}

/* Nodes 2 and 3 have nothing to do in a pingpong: they wait at the end
 * for nodes 0 and 1 (longer than the one second after which a silent peer
 * counts as dead), which must not count as silent. */
static void test_emu_idle_nodes_wait(void)
{
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 4 --timeout 60s --json pingpong --sizes 4 "
                   "--iters 15000",
                   th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS_NOT(out, "stopped answering");
    CU_ASSERT(th_json_num(out, "wall_s") > 0);
}

static void test_emu_bad_input(void)
{
    char path[TH_PATH_LEN];
    th_write_tmp(path, "emu-dup",
                 "0 127.0.0.1 5000\n1 127.0.0.1 5001\n"
                 "1 127.0.0.1 5002\n");
    CU_ASSERT_EQUAL(th_sh(out, sizeof out,
                          "%s emu-node --cluster %s --id 0 "
                          "pingpong",
                          th_vmmcsim(), path),
                    2);
    char want[128];
    snprintf(want, sizeof want, "%s:3: duplicate node id 1 (also on line 2)",
             path);
    TH_EXPECT_HAS(out, want);
    unlink(path);
    CU_ASSERT_EQUAL(th_sh(out, sizeof out,
                          "%s emu-node --cluster "
                          "/nonexistent/c --id 0 pingpong",
                          th_vmmcsim()),
                    2);
    TH_EXPECT_HAS(out, "/nonexistent/c: cannot open the cluster file");
    CU_ASSERT_EQUAL(
        th_sh(out, sizeof out, "%s emu --nodes 1 pingpong", th_vmmcsim()), 2);
    TH_EXPECT_HAS(out, "pingpong needs at least 2 nodes; --nodes is 1");
    CU_ASSERT_EQUAL(th_sh(out, sizeof out, "%s emu pingpong", th_vmmcsim()), 2);
    TH_EXPECT_HAS(out, "--nodes N is required");
    CU_ASSERT_EQUAL(th_sh(out, sizeof out, "%s emu --nodes 2 --frob pingpong",
                          th_vmmcsim()),
                    2);
    TH_EXPECT_HAS(out, "unknown option '--frob'");
    CU_ASSERT_EQUAL(th_sh(out, sizeof out,
                          "%s emu --nodes 2 pingpong --sizes "
                          "2",
                          th_vmmcsim()),
                    2);
    TH_EXPECT_HAS(out, "option --sizes");
    CU_ASSERT_EQUAL(th_sh(out, sizeof out,
                          "%s emu --nodes 2 --kill-node 2@1s pingpong",
                          th_vmmcsim()),
                    2);
    TH_EXPECT_HAS(out, "option --kill-node: node 2 is out of range");
    /* A port in use. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CU_ASSERT_FATAL(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
                    !getsockname(fd, (struct sockaddr *)&a, &al));
    char text[128];
    snprintf(text, sizeof text, "0 127.0.0.1 %u\n1 127.0.0.1 %u\n",
             ntohs(a.sin_port), free_port());
    th_write_tmp(path, "emu-inuse", text);
    CU_ASSERT_EQUAL(th_sh(out, sizeof out,
                          "%s emu-node --cluster %s --id 0 "
                          "pingpong",
                          th_vmmcsim(), path),
                    2);
    snprintf(want, sizeof want,
             "%s:1: node 0 cannot listen on 127.0.0.1:%u: "
             "the port is in use",
             path, ntohs(a.sin_port));
    TH_EXPECT_HAS(out, want);
    close(fd);
    unlink(path);
}

static void test_emu_never_joins(void)
{
    char path[TH_PATH_LEN], text[128];
    unsigned p1 = free_port();
    snprintf(text, sizeof text, "0 127.0.0.1 %u\n1 127.0.0.1 %u\n", free_port(),
             p1);
    th_write_tmp(path, "emu-join", text);
    double t0 = now_s();
    int rc = th_sh(out, sizeof out,
                   "%s emu-node --cluster %s --id 0 "
                   "--join-timeout 1s pingpong",
                   th_vmmcsim(), path);
    double took = now_s() - t0;
    CU_ASSERT_EQUAL(rc, 1);
    char want[128];
    snprintf(want, sizeof want,
             "node(s) 1 never joined within 1.0 s: node 1 "
             "at 127.0.0.1:%u (%s:2)",
             p1, path);
    TH_EXPECT_HAS(out, want);
    CU_ASSERT(took >= 0.9 && took < 10);
    unlink(path);
}

/* Starts "vmmcsim emu-node --cluster path --id 0 ..." with its output in
 * a temporary file; returns its pid. */
static pid_t start_node0(const char *path, FILE *log)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(log), 1);
        dup2(fileno(log), 2);
        execl(th_vmmcsim(), "vmmcsim", "emu-node", "--cluster", path, "--id",
              "0", "--join-timeout", "5s", "pingpong", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Node 0 joining hears from a stranger (bound elsewhere than the file
 * says) or from node 1's address with another packet version: it stops
 * with exit status 2 and says which, long before its join time-out. */
static void mismatch(int version, int from_node1, const char *want_text)
{
    char path[TH_PATH_LEN], text[128], err[512];
    unsigned p0 = free_port();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CU_ASSERT_FATAL(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
                    !getsockname(fd, (struct sockaddr *)&a, &al));
    unsigned mine = ntohs(a.sin_port);
    snprintf(text, sizeof text, "0 127.0.0.1 %u\n1 127.0.0.1 %u\n", p0,
             from_node1 ? mine : free_port());
    th_write_tmp(path, "emu-mismatch", text);
    struct emu_cluster cl;
    CU_ASSERT_EQUAL_FATAL(emu_cluster_parse(&cl, path, text, err, sizeof err),
                          0);
    FILE *log = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    double t0 = now_s();
    pid_t pid = start_node0(path, log);
    CU_ASSERT_FATAL(pid > 0);
    unsigned char buf[64];
    struct emu_wire_hdr h = {(uint8_t)version, EMU_PKT_HELLO, 1, 0, 0, cl.id};
    emu_wire_header(buf, &h, NULL);
    struct sockaddr_in to = a;
    to.sin_port = htons((uint16_t)p0);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0 && now_s() - t0 < 8) {
        sendto(fd, buf, EMU_WIRE_HDR, 0, (struct sockaddr *)&to, sizeof to);
        usleep(20000);
    }
    if (now_s() - t0 >= 8) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    double took = now_s() - t0;
    char got[4096];
    rewind(log);
    size_t n = fread(got, 1, sizeof got - 1, log);
    got[n] = 0;
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    TH_EXPECT_HAS(got, want_text);
    CU_ASSERT(took < 4); /* well before the 5 s join time-out */
    fclose(log);
    close(fd);
    unlink(path);
    emu_cluster_free(&cl);
}

static void test_emu_mismatch(void)
{
    char want[128];
    snprintf(want, sizeof want,
             "speaks emulator packet version %d; this "
             "node speaks %d",
             EMU_WIRE_VERSION + 1, EMU_WIRE_VERSION);
    mismatch(EMU_WIRE_VERSION + 1, 1, want);
    mismatch(EMU_WIRE_VERSION, 0,
             "a datagram from an unknown node: "
             "127.0.0.1:");
}

/* No process of the run whose command line holds "seed SEED " is left.
 * (The pattern's brackets keep pgrep's own shell from matching.) */
static void expect_none_left(const char *seed)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "pgrep -f -- '[s]eed %s '", seed);
    int rc = th_sh(out, sizeof out, "%s", cmd);
    CU_ASSERT_EQUAL(rc, 1); /* pgrep: no process matched */
    if (rc != 1)
        fprintf(stderr, "left behind: %s\n", out);
}

/* The receiver of a stream is killed: the launcher names it, the sender's
 * link declares it unreachable (within its bound, well inside the grace
 * the launcher gives the others before it stops them) and says so when it
 * is stopped, and nothing of the run is left. */
static void test_emu_kill_node(void)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%d%d", (int)getpid(), 91);
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 2 --timeout 60s --kill-node 1@200ms --seed "
                   "%s bandwidth --sizes 64K --count 1000000",
                   th_vmmcsim(), seed);
    CU_ASSERT_EQUAL(rc, 1);
    TH_EXPECT_HAS(out, "vmmcsim: emu: run failed: node 1 was killed by "
                       "--kill-node 1@200ms\n");
    TH_EXPECT_HAS(out, "vmmcsim: emu: node 0 stopped: the run failed when "
                       "node 1 did\n");
    const char *said = "node 0: vmmcsim: node 0: stopped while running "
                       "bandwidth; its link had declared a peer unreachable ";
    const char *p = strstr(out, said);
    CU_ASSERT_PTR_NOT_NULL(p);
    if (p)
        CU_ASSERT(strtol(p + strlen(said), NULL, 10) >= 1);
    expect_none_left(seed);
}

static void test_emu_timeout(void)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%d%d", (int)getpid(), 92);
    double t0 = now_s();
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 2 --timeout 1s --seed %s bandwidth "
                   "--sizes 64K --count 1000000",
                   th_vmmcsim(), seed);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT(now_s() - t0 < 20);
    TH_EXPECT_HAS(out, "vmmcsim: emu: run failed: still running after "
                       "--timeout 1s\n");
    TH_EXPECT_HAS(out, "vmmcsim: emu: node 0 still running after --timeout "
                       "1s: stopped\n");
    TH_EXPECT_HAS(out, "vmmcsim: emu: node 1 still running after --timeout "
                       "1s: stopped\n");
    TH_EXPECT_HAS(out, "node 1: vmmcsim: node 1: stopped while running "
                       "bandwidth");
    expect_none_left(seed);
}

/* ---- Programs built by vmmcsim-cc (vmmcsim emu ... exec) ---- */

static char mpi_pp[PATH_MAX], sock_kv[PATH_MAX], exit_prog[PATH_MAX];

static void test_emu_exec_mpi(void)
{
    CU_ASSERT_EQUAL_FATAL(th_build_program("examples/mpi/pingpong.c", mpi_pp),
                          0);
    /* Every size's bytes checked by rank 0; rank 2 waits at the barriers.
     * The times are real (MPI_Wtime is the emulator's clock): not
     * asserted. */
    int rc = th_sh(out, sizeof out, "%s emu --nodes 3 --timeout 60s exec %s",
                   th_vmmcsim(), mpi_pp);
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "     bytes   latency_us         MB/s\n");
    TH_EXPECT_HAS(out, "    262144 ");
    TH_EXPECT_HAS(out, "pingpong: all bytes checked\n");
    CU_ASSERT_PTR_NULL(strstr(out, "run failed"));
    /* Exactly one node prints the result, and it is node 0 (not
     * prefixed). */
    CU_ASSERT_PTR_NULL(strstr(out, "node 1: pingpong"));
    CU_ASSERT_PTR_NULL(strstr(out, "node 2: pingpong"));
    /* A program that cannot be loaded is bad input, said once. */
    rc = th_sh(out, sizeof out, "%s emu --nodes 2 exec /etc/hostname",
               th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 2);
    TH_EXPECT_HAS(out, "not a program built by vmmcsim-cc");
    rc = th_sh(out, sizeof out, "%s emu --nodes 2 exec", th_vmmcsim());
    CU_ASSERT_EQUAL(rc, 2);
    TH_EXPECT_HAS(out, "exec: no program given");
    rc = th_sh(out, sizeof out, "%s emu --nodes 2 --json exec %s", th_vmmcsim(),
               mpi_pp);
    CU_ASSERT_EQUAL(rc, 2);
    unlink(mpi_pp);
}

static void test_emu_exec_sock(void)
{
    CU_ASSERT_EQUAL_FATAL(th_build_program("examples/sock/kv.c", sock_kv), 0);
    /* Node 0 serves, nodes 1..3 are clients; the program's arguments
     * reach every node. */
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 4 --timeout 60s exec %s --clients 3 "
                   "--keys 8",
                   th_vmmcsim(), sock_kv);
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "kv server: 3 clients, ");
    for (int k = 1; k <= 3; k++) {
        char want[64];
        snprintf(want, sizeof want,
                 "node %d: client %d: 8 keys, every answer right\n", k, k);
        TH_EXPECT_HAS(out, want);
    }
    /* Bad arguments: every node's main returns 2, and the run fails. */
    rc = th_sh(out, sizeof out, "%s emu --nodes 2 --timeout 60s exec %s --frob",
               th_vmmcsim(), sock_kv);
    CU_ASSERT_EQUAL(rc, 1);
    TH_EXPECT_HAS(out, "usage: kv --clients N");
    TH_EXPECT_HAS(out, "returned with status 2");
    /* The same program on two emu-node processes, as across machines. */
    char path[TH_PATH_LEN], text[128], log1[TH_PATH_LEN + 8];
    unsigned p0 = free_port(), p1;
    do
        p1 = free_port();
    while (p1 == p0);
    snprintf(text, sizeof text, "0 127.0.0.1 %u\n1 127.0.0.1 %u\n", p0, p1);
    th_write_tmp(path, "emu-exec", text);
    snprintf(log1, sizeof log1, "%s.1", path);
    rc = th_sh(out, sizeof out,
               "(%s emu-node --cluster %s --id 1 --timeout 60s exec %s "
               "--keys 5 >%s 2>&1; echo \"node 1 status $?\" >>%s) & "
               "%s emu-node --cluster %s --id 0 --timeout 60s exec %s "
               "--keys 5; r=$?; wait; cat %s; exit $r",
               th_vmmcsim(), path, sock_kv, log1, log1, th_vmmcsim(), path,
               sock_kv, log1);
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "kv server: 1 clients, ");
    TH_EXPECT_HAS(out, "client 1: 5 keys, every answer right\n");
    TH_EXPECT_HAS(out, "node 1 status 0\n");
    unlink(log1);
    unlink(path);
    unlink(sock_kv);
}

static void test_emu_exec_status(void)
{
    char src[TH_PATH_LEN];
    /* argv: how (exit or return), the node, the status, after
     * MPI_Finalize (a node that leaves without it leaves its peers
     * waiting in theirs, as on the simulator, which reports a deadlock;
     * here --timeout would end it). */
    const char *text =
        "#include <mpi.h>\n"
        "#include <stdio.h>\n"
        "#include <stdlib.h>\n"
        "#include <string.h>\n"
        "static int level;\n"
        "int main(int argc, char **argv) {\n"
        "    int r;\n"
        "    MPI_Init(&argc, &argv);\n"
        "    MPI_Comm_rank(MPI_COMM_WORLD, &r);\n"
        "    MPI_Barrier(MPI_COMM_WORLD);\n"
        "    printf(\"rank %d level %d\\n\", r, level++);\n"
        "    MPI_Finalize();\n"
        "    if (argc > 3 && r == atoi(argv[2])) {\n"
        "        if (!strcmp(argv[1], \"exit\")) exit(atoi(argv[3]));\n"
        "        return atoi(argv[3]);\n"
        "    }\n"
        "    return 0;\n"
        "}\n";
    th_write_tmp_c(src, "emu-exit", text);
    CU_ASSERT_EQUAL_FATAL(th_build_program(src, exit_prog), 0);
    unlink(src);
    /* exit(0) on a node ends its program only: the run succeeds. */
    int rc = th_sh(out, sizeof out,
                   "%s emu --nodes 2 --timeout 60s exec %s "
                   "exit 1 0",
                   th_vmmcsim(), exit_prog);
    CU_ASSERT_EQUAL(rc, 0);
    TH_EXPECT_HAS(out, "rank 0 level 0\n");
    TH_EXPECT_HAS(out, "node 1: rank 1 level 0\n");
    /* exit(3) on node 2 of 3: the run fails naming it. */
    rc = th_sh(out, sizeof out,
               "%s emu --nodes 3 --timeout 60s exec %s "
               "exit 2 3",
               th_vmmcsim(), exit_prog);
    CU_ASSERT_EQUAL(rc, 1);
    TH_EXPECT_HAS(out, "node 2: vmmcsim: emu: node 2: ");
    TH_EXPECT_HAS(out, " exited with status 3\n");
    TH_EXPECT_HAS(out, "vmmcsim: emu: run failed: node 2 exited with "
                       "status 1\n");
    CU_ASSERT_PTR_NULL(strstr(out, "vmmcsim: emu: node 0 "));
    CU_ASSERT_PTR_NULL(strstr(out, "vmmcsim: emu: node 1 "));
    /* main returns 5 on node 0. */
    rc = th_sh(out, sizeof out,
               "%s emu --nodes 2 --timeout 60s exec %s "
               "return 0 5",
               th_vmmcsim(), exit_prog);
    CU_ASSERT_EQUAL(rc, 1);
    TH_EXPECT_HAS(out, "vmmcsim: emu: node 0: ");
    TH_EXPECT_HAS(out, " returned with status 5\n");
    TH_EXPECT_HAS(out, "vmmcsim: emu: run failed: node 0 exited with "
                       "status 1\n");
    unlink(exit_prog);
}

void register_emu_tests(void)
{
    CU_pSuite s = th_suite("emu");
    th_add(s, "datagram decoder", test_wire_decode);
    th_add(s, "cluster file", test_cluster_file);
    th_add(s, "host lock", test_hostlock);
    th_add(s, "in process: garbage dropped, a peer that stops",
           test_unreachable_peer);
    th_add(s, "in process: a NIC down longer and shorter than the bound",
           test_nic_down);
    th_add(s, "pingpong on 2 processes", test_emu_pingpong);
    th_add(s, "bandwidth on 2 processes", test_emu_bandwidth);
    th_add(s, "alltoall on 4 processes", test_emu_alltoall);
    th_add(s, "fault shim: drop, corrupt, dup, reorder", test_emu_faults);
    th_add(s, "idle nodes wait for busy ones", test_emu_idle_nodes_wait);
    th_add(s, "bad input", test_emu_bad_input);
    th_add(s, "a node that never joins", test_emu_never_joins);
    th_add(s, "version mismatch, unknown node", test_emu_mismatch);
    th_add(s, "a node killed mid-run", test_emu_kill_node);
    th_add(s, "a run past --timeout", test_emu_timeout);
    th_add(s, "exec: an MPI program", test_emu_exec_mpi);
    th_add(s, "exec: a socket program with arguments", test_emu_exec_sock);
    th_add(s, "exec: exit() and main's status per node",
           test_emu_exec_status);
}
