/*
 * VMMC end to end on the simulated cluster: data arrives intact for every
 * size and alignment, notifications keep their order and reach handlers,
 * every protection violation is refused with no byte changed (both by the
 * library and, with the library's checks bypassed, by the NICs), imports
 * of missing exports fail cleanly, and all pairs of a 16-node two-switch
 * cluster talk.  Each scenario runs in a child process (tests/harness.h).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "util/err.h"
#include "vmmc/vmmc.h"
#include "vmmc/vmmc_int.h"
#include "tests/vmmc/helpers.h"

/* ---- data integrity across sizes and alignments ---- */

static const size_t sizes[] = {1,    3,    4,     7,     100,   4095,
                               4096, 4097, 8191,  12289, 65537, 1 << 20};
#define NSIZES (sizeof sizes / sizeof *sizes)
#define BIG (4u << 20)
#define GUARD 0xEE

static size_t region_off(size_t i)
{
    size_t off = 5; /* deliberately unaligned */
    for (size_t k = 0; k < i; k++)
        off += sizes[k] + 3;
    return off;
}

static void data_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    if (h->node == 1) {
        unsigned char *buf = malloc(BIG);
        memset(buf, GUARD, BIG);
        TH_EXPECT_RC(vmmc_export(c.ctx, 0, buf, BIG, VMMC_PERM_WRITE), VS_OK);
        ctl_signal(&c, 1);
        unsigned char *want = malloc(1 << 20);
        for (size_t i = 0; i < NSIZES; i++) {
            struct vmmc_notification n;
            TH_EXPECT_RC(vmmc_notify_wait(c.ctx, &n, 100 * HW_MS), VS_OK);
            TH_CHECK(n.export_id == 0 && n.src_node == 0 &&
                         n.offset == region_off(i) && n.len == sizes[i],
                     "notification %zu: export %d src %d off %llu len %llu",
                     i, n.export_id, n.src_node,
                     (unsigned long long)n.offset, (unsigned long long)n.len);
            th_pattern(want, sizes[i], (uint32_t)i);
            TH_CHECK(!memcmp(buf + region_off(i), want, sizes[i]),
                     "message %zu (%zu bytes) arrived corrupted", i,
                     sizes[i]);
        }
        /* Every byte outside the messages is untouched. */
        size_t bad = 0, pos = 0;
        for (size_t i = 0; i < NSIZES; i++) {
            bad += th_count_ne(buf, pos, region_off(i), GUARD);
            pos = region_off(i) + sizes[i];
        }
        bad += th_count_ne(buf, pos, BIG, GUARD);
        TH_CHECK(bad == 0, "%zu bytes outside the messages changed", bad);
        free(want);
        ctl_close(&c);
        free(buf);
    } else {
        ctl_await(&c, 1);
        vmmc_import_t imp;
        size_t len = 0;
        TH_EXPECT_RC(vmmc_import(c.ctx, 1, 0, &imp, &len), VS_OK);
        TH_CHECK(len == BIG, "import length %zu", len);
        unsigned char *src = malloc((1 << 20) + 64);
        for (size_t i = 0; i < NSIZES; i++) {
            unsigned char *s = src + 13; /* not page aligned */
            th_pattern(s, sizes[i], (uint32_t)i);
            TH_EXPECT_RC(vmmc_send_sync(c.ctx, imp, region_off(i), s,
                                        sizes[i], VMMC_SEND_NOTIFY),
                         VS_OK);
        }
        ctl_close(&c);
        free(src);
    }
}

static void test_data_intact(void) { th_run_nodes(NULL, data_node); }

/* ---- notifications: order, poll, handlers ---- */

struct seen {
    int n, early;
    uint64_t offs[16];
    const unsigned char *data;
};

static void on_note(vmmc_ctx *ctx, const struct vmmc_notification *n,
                    void *arg)
{
    (void)ctx;
    struct seen *s = arg;
    if (s->n < 16)
        s->offs[s->n] = n->offset;
    s->n++;
    if (s->data && s->data[n->offset] != 0x88) /* first byte of the word */
        s->early++;
}

static void notify_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    if (h->node == 1) {
        unsigned char *a = calloc(1, 4096), *b = calloc(1, 4096),
                      *d = calloc(1, 4096);
        uint32_t *done = aligned_alloc(64, 64);
        *done = 0;
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, a, 4096, VMMC_PERM_WRITE), VS_OK);
        TH_EXPECT_RC(vmmc_export(c.ctx, 2, b, 4096, VMMC_PERM_WRITE), VS_OK);
        TH_EXPECT_RC(vmmc_export(c.ctx, 3, d, 4096, VMMC_PERM_WRITE), VS_OK);
        TH_EXPECT_RC(vmmc_export(c.ctx, 4, done, 64, VMMC_PERM_WRITE), VS_OK);
        struct seen seen = {0};
        TH_EXPECT_RC(vmmc_notify_set_handler(c.ctx, 3, on_note, &seen),
                     VS_OK);
        TH_EXPECT_RC(vmmc_notify_enable(c.ctx, 3), VS_OK);
        TH_EXPECT_RC(vmmc_notify_enable(c.ctx, 77), VS_EINVAL);
        TH_EXPECT_RC(vmmc_notify_enable(c.ctx, 5), VS_ENOENT);
        ctl_signal(&c, 1);
        /* Phase 1: 20 records alternating between exports 1 and 2, polled
         * in arrival order. */
        for (int i = 0; i < 20; i++) {
            struct vmmc_notification n;
            TH_EXPECT_RC(vmmc_notify_wait(c.ctx, &n, 100 * HW_MS), VS_OK);
            TH_CHECK(n.export_id == 1 + i % 2 && n.offset == (uint64_t)i * 8 &&
                         n.len == 8,
                     "record %d: export %d offset %llu len %llu", i,
                     n.export_id, (unsigned long long)n.offset,
                     (unsigned long long)n.len);
        }
        struct vmmc_notification none;
        TH_EXPECT_RC(vmmc_notify_poll(c.ctx, &none), 0);
        /* Phase 2: 5 records for export 3 go to its handler, in order,
         * from inside library waits (the interrupt wakes the process), and
         * each only once its message's bytes are in memory. */
        seen.data = d;
        TH_EXPECT_RC(vmmc_wait_u32(c.ctx, done, 7, 100 * HW_MS), VS_OK);
        static const uint32_t never = 0;
        for (int spins = 0; seen.n < 5 && spins < 100; spins++)
            TH_EXPECT_RC(vmmc_wait_u32(c.ctx, &never, 1, 20 * HW_US),
                         VS_ETIMEDOUT);
        TH_CHECK(seen.n == 5, "handler called %d times, expected 5", seen.n);
        TH_CHECK(seen.early == 0, "%d notifications came before their data",
                 seen.early);
        for (int i = 0; i < 5 && i < seen.n; i++)
            TH_CHECK(seen.offs[i] == (uint64_t)i * 16,
                     "handler call %d had offset %llu", i,
                     (unsigned long long)seen.offs[i]);
        TH_EXPECT_RC(vmmc_notify_poll(c.ctx, &none), 0);
        ctl_signal(&c, 2);
        ctl_close(&c);
        free(a);
        free(b);
        free(d);
        free(done);
    } else {
        ctl_await(&c, 1);
        vmmc_import_t ia = ctl_import(&c, 1), ib = ctl_import(&c, 2);
        vmmc_import_t id = ctl_import(&c, 3), idone = ctl_import(&c, 4);
        uint64_t word = 0x1122334455667788ull;
        for (int i = 0; i < 20; i++)
            TH_EXPECT_RC(vmmc_send(c.ctx, i % 2 ? ib : ia, (size_t)i * 8,
                                   &word, 8, VMMC_SEND_NOTIFY, NULL),
                         VS_OK);
        for (int i = 0; i < 5; i++)
            TH_EXPECT_RC(vmmc_send(c.ctx, id, (size_t)i * 16, &word, 16 / 2,
                                   VMMC_SEND_NOTIFY, NULL),
                         VS_OK);
        uint32_t seven = 7;
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, idone, 0, &seven, 4, 0), VS_OK);
        TH_EXPECT_RC(vmmc_flush(c.ctx), VS_OK);
        ctl_await(&c, 2);
        ctl_close(&c);
    }
}

static void test_notifications(void) { th_run_nodes(NULL, notify_node); }

/* ---- protection ---- */

#define PAGE 4096
#define FILL 0x5A

static int raw_send(vmmc_ctx *ctx, uint32_t imp, uint64_t off,
                    const void *src, uint64_t len)
{
    struct vmmc__cmd cmd = {.op = VMMC__OP_SEND,
                            .handle = imp,
                            .addr = (uintptr_t)src,
                            .len = len,
                            .off = off};
    vmmc_req req;
    int rc = vmmc__post_raw(ctx, &cmd, &req);
    if (rc)
        return rc;
    return vmmc_wait(ctx, &req);
}

static void protect_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    if (h->node == 1) {
        unsigned char *w = aligned_alloc(PAGE, 3 * PAGE);
        memset(w, FILL, 3 * PAGE);
        /* Export 1: the middle page, writable.  Export 2: read-only. */
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, w + PAGE, PAGE, VMMC_PERM_WRITE),
                     VS_OK);
        TH_EXPECT_RC(vmmc_export(c.ctx, 2, w, PAGE, VMMC_PERM_READ), VS_OK);
        TH_EXPECT_RC(vmmc_export(c.ctx, 2, w, PAGE, VMMC_PERM_READ),
                     VS_EEXIST);
        TH_EXPECT_RC(vmmc_export(c.ctx, 64, w, PAGE, VMMC_PERM_WRITE),
                     VS_EINVAL);
        TH_EXPECT_RC(vmmc_export(c.ctx, 5, w, 0, VMMC_PERM_WRITE), VS_EINVAL);
        TH_EXPECT_RC(vmmc_export(c.ctx, 5, w, PAGE, 0), VS_EINVAL);
        ctl_signal(&c, 1);
        ctl_await(&c, 2); /* node 0 tried every violation */
        TH_EXPECT_RC(vmmc_unexport(c.ctx, 1), VS_OK);
        TH_EXPECT_RC(vmmc_unexport(c.ctx, 1), VS_ENOENT);
        ctl_signal(&c, 3);
        ctl_await(&c, 4); /* node 0 wrote to the withdrawn export */
        /* Re-export the same id: the old import (older generation) must
         * still be refused. */
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, w + PAGE, PAGE, VMMC_PERM_WRITE),
                     VS_OK);
        ctl_signal(&c, 5);
        ctl_await(&c, 6);
        size_t changed = th_count_ne(w, 0, 3 * PAGE, FILL);
        TH_CHECK(changed == 0, "%zu bytes changed by refused transfers",
                 changed);
        ctl_signal(&c, 7);
        ctl_close(&c);
        free(w);
    } else {
        ctl_await(&c, 1);
        vmmc_import_t iw;
        size_t len;
        TH_EXPECT_RC(vmmc_import(c.ctx, 1, 1, &iw, &len), VS_OK);
        TH_CHECK(len == PAGE, "import length %zu", len);
        vmmc_import_t iro = ctl_import(&c, 2);
        unsigned char *src = aligned_alloc(PAGE, 4 * PAGE);
        memset(src, 0xC3, 4 * PAGE);
        /* The library refuses at once. */
        TH_EXPECT_RC(vmmc_send(c.ctx, iw, 1, src, PAGE, 0, NULL), VS_ERANGE);
        TH_EXPECT_RC(vmmc_send(c.ctx, iw, PAGE, src, 1, 0, NULL), VS_ERANGE);
        TH_EXPECT_RC(vmmc_send(c.ctx, iw, (size_t)-1, src, 2, 0, NULL),
                     VS_ERANGE);
        TH_EXPECT_RC(vmmc_send(c.ctx, iro, 0, src, 4, 0, NULL), VS_EPERM);
        TH_EXPECT_RC(vmmc_send(c.ctx, 40, 0, src, 4, 0, NULL), VS_EBADF);
        TH_EXPECT_RC(vmmc_send(c.ctx, -1, 0, src, 4, 0, NULL), VS_EBADF);
        /* Map the source pages with a legal send first, so only the
         * checks under test can fail below. */
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, iw, 0, src, 0, 0), VS_OK);
        unsigned char mapped_probe = 0;
        (void)mapped_probe;
        /* The NIC refuses the same things with the library bypassed. */
        TH_EXPECT_RC(raw_send(c.ctx, (uint32_t)iw, 1, src, PAGE), VS_ERANGE);
        TH_EXPECT_RC(raw_send(c.ctx, (uint32_t)iw, PAGE + 8, src, 4),
                     VS_ERANGE);
        TH_EXPECT_RC(raw_send(c.ctx, (uint32_t)iw, UINT64_MAX - 1, src, 4),
                     VS_ERANGE);
        TH_EXPECT_RC(raw_send(c.ctx, (uint32_t)iro, 0, src, 4), VS_EPERM);
        TH_EXPECT_RC(raw_send(c.ctx, 40, 0, src, 4), VS_EBADF);
        TH_EXPECT_RC(raw_send(c.ctx, 1000, 0, src, 4), VS_EBADF);
        /* A source page the NIC has no translation for. */
        unsigned char *unmapped = aligned_alloc(PAGE, PAGE);
        TH_EXPECT_RC(raw_send(c.ctx, (uint32_t)iw, 0, unmapped, 16),
                     VS_EFAULT);
        free(unmapped);
        ctl_signal(&c, 2);
        ctl_await(&c, 3);
        /* The export is withdrawn; this node does not know yet.  The
         * receiving NIC refuses the data; its acknowledgement carries the
         * refusal, so the send fails, and a NACK revokes the import. */
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, iw, 0, src, 64, 0), VS_ENOENT);
        h->ops->compute(h, 200 * HW_US); /* the NACK comes back */
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, iw, 0, src, 64, 0), VS_ENOENT);
        ctl_signal(&c, 4);
        ctl_await(&c, 5);
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, iw, 0, src, 64, 0), VS_ENOENT);
        /* A fresh import of the new export works. */
        TH_EXPECT_RC(vmmc_unimport(c.ctx, iw), VS_OK);
        TH_EXPECT_RC(vmmc_unimport(c.ctx, iw), VS_EBADF);
        ctl_import(&c, 1);
        ctl_signal(&c, 6);
        ctl_await(&c, 7);
        ctl_close(&c);
        free(src);
    }
}

static void test_protection(void) { th_run_nodes(NULL, protect_node); }

/* ---- imports that must fail ---- */

static void import_node(hw_host *h, void *arg)
{
    (void)arg;
    vmmc_ctx *ctx;
    TH_EXPECT_RC(vmmc_open(&ctx, h), VS_OK);
    static uint32_t word;
    if (h->node == 1) {
        TH_EXPECT_RC(vmmc_export(ctx, 9, &word, sizeof word, VMMC_PERM_WRITE),
                     VS_OK);
        h->ops->compute(h, 5 * HW_MS); /* stay exported a while */
    } else {
        vmmc_import_t imp;
        h->ops->compute(h, 1 * HW_MS);
        TH_EXPECT_RC(vmmc_import(ctx, 1, 42, &imp, NULL), VS_ENOENT);
        TH_EXPECT_RC(vmmc_import(ctx, 7, 9, &imp, NULL), VS_EINVAL);
        TH_EXPECT_RC(vmmc_import(ctx, -1, 9, &imp, NULL), VS_EINVAL);
        TH_EXPECT_RC(vmmc_import(ctx, 1, 64, &imp, NULL), VS_EINVAL);
        /* Failed imports leave no trace: a good one still works. */
        TH_EXPECT_RC(vmmc_import(ctx, 1, 9, &imp, NULL), VS_OK);
        uint32_t v = 0xfeedu;
        TH_EXPECT_RC(vmmc_send_sync(ctx, imp, 0, &v, 4, 0), VS_OK);
    }
    TH_EXPECT_RC(vmmc_close(ctx), VS_OK);
    if (h->node == 1)
        TH_CHECK(word == 0xfeedu, "the good import's write did not land");
}

static void test_import_errors(void) { th_run_nodes(NULL, import_node); }

/* ---- 16 nodes, two switches, all pairs ---- */

#define NN 16
#define SLOT 256

static void allpairs_node(hw_host *h, void *arg)
{
    (void)arg;
    int me = h->node, n = h->nnodes;
    TH_CHECK(n == NN, "expected %d nodes, got %d", NN, n);
    vmmc_ctx *ctx;
    TH_EXPECT_RC(vmmc_open(&ctx, h), VS_OK);
    unsigned char *in = calloc(NN, SLOT);
    uint32_t *count = aligned_alloc(64, 64);
    memset(count, 0, 64);
    TH_EXPECT_RC(vmmc_export(ctx, 0, in, NN * SLOT, VMMC_PERM_WRITE), VS_OK);
    unsigned char *out = malloc(SLOT);
    th_pattern(out, SLOT, (uint32_t)me);
    for (int k = 1; k < n; k++) {
        int peer = (me + k) % n;
        vmmc_import_t imp;
        TH_EXPECT_RC(th_import_retry(ctx, h, peer, 0, &imp), VS_OK);
        TH_EXPECT_RC(vmmc_send(ctx, imp, (size_t)me * SLOT, out, SLOT,
                               VMMC_SEND_NOTIFY, NULL),
                     VS_OK);
    }
    TH_EXPECT_RC(vmmc_flush(ctx), VS_OK);
    unsigned char want[SLOT];
    for (int k = 1; k < n; k++) {
        struct vmmc_notification note;
        TH_EXPECT_RC(vmmc_notify_wait(ctx, &note, 100 * HW_MS), VS_OK);
        TH_CHECK(note.len == SLOT && note.offset == (uint64_t)note.src_node * SLOT,
                 "node %d: odd notification from %d", me, note.src_node);
    }
    for (int p = 0; p < n; p++) {
        if (p == me)
            continue;
        th_pattern(want, SLOT, (uint32_t)p);
        TH_CHECK(!memcmp(in + p * SLOT, want, SLOT),
                 "node %d: data from node %d is wrong", me, p);
    }
    /* Stay exported until everyone is done. */
    h->ops->compute(h, 2 * HW_MS);
    TH_EXPECT_RC(vmmc_close(ctx), VS_OK);
    free(in);
    free(out);
    free(count);
}

static void test_allpairs_16(void)
{
    th_run_nodes(TH_PLATFORM_16, allpairs_node);
}

/* ---- a program that blocks forever is reported, not hung ---- */

static void deadlock_node(hw_host *h, void *arg)
{
    (void)arg;
    vmmc_ctx *ctx;
    TH_EXPECT_RC(vmmc_open(&ctx, h), VS_OK);
    static uint32_t never;
    vmmc_wait_u32(ctx, &never, 1, -1);
}

static void test_deadlock_reported(void)
{
    struct th_sim s = {.node_main = deadlock_node};
    th_run_sim(&s, 1);
    CU_ASSERT_EQUAL(s.rc, VS_EDEADLK);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.err, "deadlock"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s.err, "node-0"));
}

void register_vmmc_tests(void);
void register_vmmc_tests(void)
{
    CU_pSuite s = th_suite("vmmc");
    th_add(s, "data intact, 1 B to 1 MiB, unaligned", test_data_intact);
    th_add(s, "notification order, poll and handlers", test_notifications);
    th_add(s, "protection violations change no byte", test_protection);
    th_add(s, "import of a missing export fails cleanly", test_import_errors);
    th_add(s, "16 nodes on two switches, all pairs", test_allpairs_16);
    th_add(s, "a deadlocked program is reported", test_deadlock_reported);
}
