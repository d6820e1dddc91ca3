/*
 * VMMC-2 features end to end: remote fetch (bytes land in local memory;
 * the owner's NIC and the local NIC refuse unpermitted or out-of-bounds
 * reads without touching memory), transfer redirection (the next data for
 * a range goes to another buffer; earlier data lands in the export), and
 * API misuse by a user program (an error code and a message naming the
 * call, and the simulation goes on).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/harness.h"
#include "tests/vmmc/helpers.h"
#include "util/err.h"
#include "vmmc/vmmc.h"
#include "vmmc/vmmc_int.h"

#define PAGE 4096
#define GUARD 0xEE

/* ---- remote fetch ---- */

#define RSIZE (256 * 1024)

static void fetch_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    if (h->node == 1) {
        unsigned char *r = malloc(RSIZE), *w = calloc(1, PAGE);
        th_pattern(r, RSIZE, 42);
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, r, RSIZE,
                                 VMMC_PERM_READ | VMMC_PERM_WRITE),
                     VS_OK);
        TH_EXPECT_RC(vmmc_export(c.ctx, 2, w, PAGE, VMMC_PERM_WRITE), VS_OK);
        ctl_signal(&c, 1);
        ctl_await(&c, 2);
        TH_EXPECT_RC(vmmc_unexport(c.ctx, 1), VS_OK);
        ctl_signal(&c, 3);
        ctl_await(&c, 4);
        ctl_close(&c);
        free(r);
        free(w);
        return;
    }
    ctl_await(&c, 1);
    vmmc_import_t ir = ctl_import(&c, 1), iw = ctl_import(&c, 2);
    unsigned char *want = malloc(RSIZE);
    th_pattern(want, RSIZE, 42);
    unsigned char *dst = malloc(RSIZE + 64);
    static const struct {
        size_t off, len;
    } cases[] = {{0, 1}, {5, 4097}, {100, 100000}, {0, RSIZE}, {RSIZE - 3, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(dst, GUARD, RSIZE + 64);
        vmmc_req req;
        TH_EXPECT_RC(vmmc_fetch(c.ctx, ir, cases[i].off, dst + 7,
                                cases[i].len, &req),
                     VS_OK);
        TH_EXPECT_RC(vmmc_wait(c.ctx, &req), VS_OK);
        TH_CHECK(!memcmp(dst + 7, want + cases[i].off, cases[i].len),
                 "fetch %zu (%zu bytes at %zu) brought wrong bytes", i,
                 cases[i].len, cases[i].off);
        size_t bad = th_count_ne(dst, 0, 7, GUARD) +
                     th_count_ne(dst, 7 + cases[i].len, RSIZE + 64, GUARD);
        TH_CHECK(bad == 0, "fetch %zu wrote %zu bytes outside dst", i, bad);
    }
    /* Refusals change no byte of the destination. */
    memset(dst, GUARD, RSIZE + 64);
    vmmc_req req;
    TH_EXPECT_RC(vmmc_fetch(c.ctx, ir, RSIZE - 4, dst, 8, &req), VS_ERANGE);
    TH_EXPECT_RC(vmmc_fetch(c.ctx, iw, 0, dst, 8, &req), VS_EPERM);
    TH_EXPECT_RC(vmmc_fetch(c.ctx, 33, 0, dst, 8, &req), VS_EBADF);
    /* With the library's checks bypassed, the NIC refuses the same. */
    struct vmmc__cmd cmd = {.op = VMMC__OP_FETCH,
                            .handle = (uint32_t)iw,
                            .addr = (uintptr_t)dst,
                            .len = 8};
    TH_EXPECT_RC(vmmc__post_raw(c.ctx, &cmd, &req), VS_OK);
    TH_EXPECT_RC(vmmc_wait(c.ctx, &req), VS_EPERM);
    cmd.handle = (uint32_t)ir;
    cmd.off = RSIZE - 4;
    TH_EXPECT_RC(vmmc__post_raw(c.ctx, &cmd, &req), VS_OK);
    TH_EXPECT_RC(vmmc_wait(c.ctx, &req), VS_ERANGE);
    ctl_signal(&c, 2);
    ctl_await(&c, 3);
    /* The owner withdrew the export: its NIC refuses the read. */
    TH_EXPECT_RC(vmmc_fetch(c.ctx, ir, 0, dst, 4096, &req), VS_OK);
    TH_EXPECT_RC(vmmc_wait(c.ctx, &req), VS_ENOENT);
    size_t changed = th_count_ne(dst, 0, RSIZE + 64, GUARD);
    TH_CHECK(changed == 0, "refused fetches changed %zu bytes", changed);
    TH_CHECK(strstr(vmmc_errmsg(c.ctx), "vmmc_fetch") != NULL,
             "errmsg '%s' does not name vmmc_fetch", vmmc_errmsg(c.ctx));
    ctl_signal(&c, 4);
    ctl_close(&c);
    free(want);
    free(dst);
}

static void test_fetch(void) { th_run_nodes(NULL, fetch_node); }

/* ---- transfer redirection ---- */

#define ESIZE (64 * 1024)
#define FILL 0x11

static void redirect_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    unsigned char *msg = malloc(16384);
    th_pattern(msg, 16384, 7);
    if (h->node == 1) {
        unsigned char *e = malloc(ESIZE), *b = malloc(3 * PAGE);
        memset(e, FILL, ESIZE);
        memset(b, GUARD, 3 * PAGE);
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, e, ESIZE, VMMC_PERM_WRITE), VS_OK);
        vmmc_req rq;
        /* Errors first. */
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 1, ESIZE - 8, 16, b, &rq),
                     VS_ERANGE);
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 9, 0, 16, b, &rq), VS_ENOENT);
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 1, 0, 0, b, &rq), VS_EINVAL);
        ctl_signal(&c, 1);
        ctl_await(&c, 2); /* message A landed before any redirection */
        TH_CHECK(!memcmp(e, msg, 100), "message A did not land in the export");
        /* Redirect [4096, 12288) into b + 100. */
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 1, PAGE, 2 * PAGE, b + 100, &rq),
                     VS_OK);
        vmmc_req busy;
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 1, 0, 8, b, &busy), VS_OK);
        TH_EXPECT_RC(vmmc_wait(c.ctx, &busy), VS_EBUSY);
        ctl_signal(&c, 3);
        TH_EXPECT_RC(vmmc_wait(c.ctx, &rq), VS_OK); /* B's middle is in b */
        ctl_await(&c, 4);                          /* B and C were sent */
        TH_CHECK(!memcmp(b + 100, msg + PAGE, 2 * PAGE),
                 "redirected bytes are wrong");
        size_t bad = th_count_ne(b, 0, 100, GUARD) +
                     th_count_ne(b, 100 + 2 * PAGE, 3 * PAGE, GUARD);
        TH_CHECK(bad == 0, "%zu bytes around the redirection changed", bad);
        /* B outside the range, then C (after the redirection was used up)
         * everywhere, landed in the export. */
        TH_CHECK(!memcmp(e, msg, PAGE) &&
                     !memcmp(e + 3 * PAGE, msg + 3 * PAGE, PAGE),
                 "the unredirected parts of message B are wrong");
        /* Message C went to [PAGE, 3 PAGE) again, into the export. */
        TH_CHECK(!memcmp(e + PAGE, msg + 8000, 2 * PAGE),
                 "message C did not land in the export");
        /* A pending redirection ends when the export is withdrawn. */
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 1, 0, 8, b, &rq), VS_OK);
        TH_EXPECT_RC(vmmc_unexport(c.ctx, 1), VS_OK);
        TH_EXPECT_RC(vmmc_wait(c.ctx, &rq), VS_ENOENT);
        ctl_signal(&c, 5);
        ctl_close(&c);
        free(e);
        free(b);
    } else {
        ctl_await(&c, 1);
        vmmc_import_t ie = ctl_import(&c, 1);
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, ie, 0, msg, 100, 0), VS_OK);
        ctl_signal(&c, 2);
        ctl_await(&c, 3);
        /* B: 16 KiB at 0, of which [4096, 12288) is redirected. */
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, ie, 0, msg, 4 * PAGE, 0), VS_OK);
        /* C: the same range again; the redirection is used up. */
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, ie, PAGE, msg + 8000, 2 * PAGE, 0),
                     VS_OK);
        ctl_signal(&c, 4);
        ctl_await(&c, 5);
        ctl_close(&c);
    }
    free(msg);
}

static void test_redirect(void) { th_run_nodes(NULL, redirect_node); }

/* ---- API misuse ---- */

static void misuse_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    if (h->node == 1) {
        unsigned char *e = calloc(1, PAGE), *ro = calloc(1, PAGE);
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, e, PAGE, VMMC_PERM_WRITE), VS_OK);
        TH_EXPECT_RC(vmmc_export(c.ctx, 2, ro, PAGE, VMMC_PERM_READ), VS_OK);
        ctl_signal(&c, 1);
        ctl_await(&c, 2);
        /* The misuse on node 0 did not stop the good send. */
        TH_CHECK(e[0] == 0xAB && e[PAGE - 1] == 0xAB,
                 "the good send after the misuse did not land");
        size_t bad = th_count_ne(ro, 0, PAGE, 0);
        TH_CHECK(bad == 0, "%zu bytes of the read-only export changed", bad);
        ctl_signal(&c, 3);
        ctl_close(&c);
        free(e);
        free(ro);
        return;
    }
    ctl_await(&c, 1);
    vmmc_import_t ie = ctl_import(&c, 1), iro = ctl_import(&c, 2);
    unsigned char *src = malloc(PAGE);
    memset(src, 0xAB, PAGE);
    static const struct {
        const char *call;
        int want;
    } expect[] = {
        {"vmmc_send", VS_EBADF},  /* a bad handle */
        {"vmmc_send", VS_EINVAL}, /* a length that overflows */
        {"vmmc_send", VS_ERANGE}, /* a negative offset */
        {"vmmc_send", VS_ERANGE}, /* past the end */
        {"vmmc_send", VS_EPERM},  /* not granted write access */
        {"vmmc_import", VS_ENOENT}, /* nothing exported there */
        {"vmmc_import", VS_EINVAL}, /* no such node */
        {"vmmc_unimport", VS_EBADF},
        {"vmmc_export", VS_EINVAL},
        {"vmmc_unexport", VS_ENOENT},
    };
    vmmc_import_t junk;
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
        int rc;
        switch (i) {
        case 0: rc = vmmc_send(c.ctx, 12345, 0, src, 8, 0, NULL); break;
        case 1: rc = vmmc_send(c.ctx, ie, 0, src, SIZE_MAX, 0, NULL); break;
        case 2: rc = vmmc_send(c.ctx, ie, (size_t)-8, src, 8, 0, NULL); break;
        case 3: rc = vmmc_send(c.ctx, ie, PAGE - 4, src, 8, 0, NULL); break;
        case 4: rc = vmmc_send(c.ctx, iro, 0, src, 8, 0, NULL); break;
        case 5: rc = vmmc_import(c.ctx, 1, 40, &junk, NULL); break;
        case 6: rc = vmmc_import(c.ctx, 5, 1, &junk, NULL); break;
        case 7: rc = vmmc_unimport(c.ctx, 50); break;
        case 8: rc = vmmc_export(c.ctx, -1, src, 8, VMMC_PERM_WRITE); break;
        default: rc = vmmc_unexport(c.ctx, 33); break;
        }
        TH_CHECK(rc == expect[i].want, "case %zu: %s returned %d (%s), "
                                       "expected %d",
                 i, expect[i].call, rc, vs_strerror(rc), expect[i].want);
        TH_CHECK(strstr(vmmc_errmsg(c.ctx), expect[i].call) != NULL,
                 "case %zu: message '%s' does not name %s", i,
                 vmmc_errmsg(c.ctx), expect[i].call);
    }
    /* Life goes on: a good send works. */
    TH_EXPECT_RC(vmmc_send_sync(c.ctx, ie, 0, src, PAGE, 0), VS_OK);
    ctl_signal(&c, 2);
    ctl_await(&c, 3);
    ctl_close(&c);
    free(src);
}

static void test_misuse(void) { th_run_nodes(NULL, misuse_node); }

/* ---- review findings, kept as regressions ---- */

/* Overlapping messages inside a redirected range still complete it, and
 * closing with a redirection pending returns instead of waiting forever. */
static void redirect_overlap_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    unsigned char *msg = malloc(PAGE);
    memset(msg, 0x77, PAGE);
    if (h->node == 1) {
        unsigned char *e = calloc(1, 4 * PAGE), *b = calloc(1, PAGE);
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, e, 4 * PAGE, VMMC_PERM_WRITE),
                     VS_OK);
        vmmc_req rq;
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 1, 0, PAGE, b, &rq), VS_OK);
        ctl_signal(&c, 1);
        TH_EXPECT_RC(vmmc_wait(c.ctx, &rq), VS_OK);
        TH_CHECK(b[0] == 0x77 && b[PAGE - 1] == 0x77,
                 "the redirected page is wrong");
        ctl_await(&c, 2);
        /* Pending at close. */
        TH_EXPECT_RC(vmmc_redirect(c.ctx, 1, 0, PAGE, b, &rq), VS_OK);
        ctl_signal(&c, 3);
        ctl_close(&c);
        free(e);
        free(b);
    } else {
        ctl_await(&c, 1);
        vmmc_import_t ie = ctl_import(&c, 1);
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, ie, 0, msg, PAGE / 2, 0), VS_OK);
        TH_EXPECT_RC(vmmc_send_sync(c.ctx, ie, 0, msg, PAGE, 0), VS_OK);
        ctl_signal(&c, 2);
        ctl_await(&c, 3);
        ctl_close(&c);
    }
    free(msg);
}

static void test_redirect_overlap(void)
{
    th_run_nodes(NULL, redirect_overlap_node);
}

/* A send to a withdrawn export fails with the refusal even when the fabric
 * drops packets (the bare ACK that carried the refusal may be lost; every
 * later acknowledgement carries it too). */
static void refused_lossy_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    static uint32_t word[16];
    uint32_t v = 1;
    for (uint32_t round = 0; round < 20; round++) {
        if (h->node == 1) {
            TH_EXPECT_RC(vmmc_export(c.ctx, 1, word, sizeof word,
                                     VMMC_PERM_WRITE),
                         VS_OK);
            ctl_signal(&c, 3 * round + 1);
            ctl_await(&c, 3 * round + 2);
            TH_EXPECT_RC(vmmc_unexport(c.ctx, 1), VS_OK);
            ctl_signal(&c, 3 * round + 3);
        } else {
            ctl_await(&c, 3 * round + 1);
            vmmc_import_t ie = ctl_import(&c, 1);
            ctl_signal(&c, 3 * round + 2);
            ctl_await(&c, 3 * round + 3);
            int rc = vmmc_send_sync(c.ctx, ie, 0, &v, 4, 0);
            TH_CHECK(rc == VS_ENOENT, "round %u: a send to a withdrawn "
                                      "export returned %d (%s)",
                     round, rc, vs_strerror(rc));
            vmmc_unimport(c.ctx, ie);
        }
    }
    ctl_close(&c);
}

static void test_refused_under_loss(void)
{
    struct cl_faults f = {.drop = 0.1, .corrupt = -1, .dup = -1,
                          .reorder = -1, .reorder_delay_max = -1};
    struct th_sim s = {.node_main = refused_lossy_node, .faults = &f,
                       .seed = 5};
    th_run_sim(&s, 0);
}

/* ---- a full UTLB table ---- */

#define RESV_PAGES 262144u /* 1 GiB of address space, never touched */

/* Pins a region of 1 to 256 pages at a random place of resv (x: the
 * generator's state), counting the pages not pinned before in *pinned. */
static int pin_random(vmmc_ctx *ctx, char *resv, uint8_t *seen, uint64_t *x,
                      unsigned *pinned)
{
    static const unsigned sizes[] = {1, 2, 16, 64, 256};
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    unsigned n = sizes[(*x >> 33) % 5];
    unsigned first = (unsigned)((*x >> 40) % (RESV_PAGES - n));
    int rc = vmmc_pin(ctx, resv + (size_t)first * PAGE, (size_t)n * PAGE);
    if (rc == VS_OK)
        for (unsigned i = first; i < first + n; i++)
            if (!(seen[i / 8] & (1u << (i % 8)))) {
                seen[i / 8] |= (uint8_t)(1u << (i % 8));
                (*pinned)++;
            }
    return rc;
}

/* Node 0 pins 30,000 pages in a few thousand small regions scattered over
 * 1 GiB (the table's slots then form long probe runs: it groups 16 pages),
 * then sends 64 KiB from a fresh buffer: its pages are entered behind those
 * runs, and the NIC must still find them.  Then it pins until the table
 * says no: not before 31,000 pages (half its 65,536 slots is the limit). */
static void utlb_full_node(hw_host *h, void *arg)
{
    (void)arg;
    struct ctl c;
    if (!ctl_open_pair(&c, h))
        return;
    enum { LEN = 65536 };
    if (h->node == 1) {
        unsigned char *e = calloc(1, LEN);
        TH_EXPECT_RC(vmmc_export(c.ctx, 1, e, LEN, VMMC_PERM_WRITE), VS_OK);
        ctl_signal(&c, 1);
        ctl_await(&c, 2);
        unsigned char *want = malloc(LEN);
        th_pattern(want, LEN, 99);
        TH_CHECK(!memcmp(e, want, LEN), "the bytes sent after the UTLB "
                                        "table filled up are wrong");
        ctl_signal(&c, 3);
        ctl_close(&c);
        free(want);
        free(e);
        return;
    }
    char *resv = mmap(NULL, (size_t)RESV_PAGES * PAGE, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint8_t *seen = calloc(RESV_PAGES / 8, 1);
    TH_CHECK(resv != MAP_FAILED && seen, "cannot reserve address space");
    if (resv == MAP_FAILED || !seen) {
        free(seen);
        ctl_close(&c);
        return;
    }
    uint64_t x = 12345;
    unsigned pinned = 0;
    int rc = VS_OK;
    while (rc == VS_OK && pinned < 30000)
        rc = pin_random(c.ctx, resv, seen, &x, &pinned);
    TH_EXPECT_RC(rc, VS_OK);
    unsigned char *msg = malloc(LEN);
    th_pattern(msg, LEN, 99);
    ctl_await(&c, 1);
    vmmc_import_t ie = ctl_import(&c, 1);
    TH_EXPECT_RC(vmmc_send_sync(c.ctx, ie, 0, msg, LEN, 0), VS_OK);
    ctl_signal(&c, 2);
    ctl_await(&c, 3);
    free(msg);
    while (rc == VS_OK && pinned < 40000)
        rc = pin_random(c.ctx, resv, seen, &x, &pinned);
    TH_CHECK(rc == VS_ENOSPC, "pinning until the table is full returned "
                              "%d (%s)", rc, vs_strerror(rc));
    TH_CHECK(pinned >= 31000, "the UTLB table took only %u pages", pinned);
    ctl_close(&c);
    munmap(resv, (size_t)RESV_PAGES * PAGE);
    free(seen);
}

static void test_utlb_full(void) { th_run_nodes(NULL, utlb_full_node); }

void register_vmmc2_tests(void);
void register_vmmc2_tests(void)
{
    CU_pSuite s = th_suite("vmmc2");
    th_add(s, "remote fetch: bytes, bounds, permissions", test_fetch);
    th_add(s, "transfer redirection", test_redirect);
    th_add(s, "API misuse: error, message naming the call", test_misuse);
    th_add(s, "redirection: overlapping messages, close while pending",
           test_redirect_overlap);
    th_add(s, "a refused send fails with the refusal under packet loss",
           test_refused_under_loss);
    th_add(s, "UTLB table: 30,000 pages in scattered regions, then full",
           test_utlb_full);
}
