/*
 * The workloads end to end through the vmmcsim command: the calibrated
 * Myrinet profile reproduces the published VMMC figures (one-word latency
 * 9.8 us, peak bandwidth 108.4 MB/s, IPPS'97) within 5%, the curves have
 * the right shape, results are identical from run to run, and --verify
 * checks every byte.  Simulated time is deterministic, so these are exact
 * checks, not timings.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

struct rows {
    int n;
    double size[64], lat[64], bw[64];
};

/* Runs "vmmcsim ARGV... OPT" (argv NULL-terminated); says why on stderr if
 * it fails.  Returns the exit status. */
static int run_with(const char *const *argv, const char *opt, char *out,
                    size_t outlen)
{
    /* Room for one more than th_cli takes: too many are refused, not cut. */
    const char *args[TH_CLI_MAX_ARGS + 2];
    int i = 0;
    while (*argv && i < TH_CLI_MAX_ARGS)
        args[i++] = *argv++;
    args[i++] = opt;
    args[i] = NULL;
    char err[4096];
    int rc = th_cli(args, out, outlen, err, sizeof err);
    if (rc)
        fprintf(stderr, "vmmcsim failed (%d): %s\n", rc, err);
    return rc;
}

/* Runs vmmcsim with argv (CSV output) and parses the rows. */
static int csv_run(const char *const *argv, struct rows *r, char *out,
                   size_t outlen)
{
    int rc = run_with(argv, "--csv", out, outlen);
    memset(r, 0, sizeof *r);
    const char *line = strchr(out, '\n');
    if (strncmp(out, "size_bytes,latency_us,bandwidth_MBps\n", 37) != 0)
        return -1;
    while (line && line[1] && r->n < 64) {
        line++;
        if (sscanf(line, "%lf,%lf,%lf", &r->size[r->n], &r->lat[r->n],
                   &r->bw[r->n]) == 3)
            r->n++;
        line = strchr(line, '\n');
    }
    return rc;
}

static void test_latency_calibration(void)
{
    static char out[8192];
    struct rows r;
    const char *argv[] = {"run", "pingpong", NULL};
    CU_ASSERT_EQUAL_FATAL(csv_run(argv, &r, out, sizeof out), 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 19); /* 4 B .. 1 MiB */
    CU_ASSERT_EQUAL(r.size[0], 4);
    /* One-word latency: 9.8 us published, within 5%. */
    CU_ASSERT(r.lat[0] > 9.8 * 0.95 && r.lat[0] < 9.8 * 1.05);
    /* Latency grows with size once the wire and DMA dominate. */
    for (int i = 1; i < r.n; i++)
        CU_ASSERT(r.lat[i] > r.lat[i - 1]);
    /* 1 MiB takes at least what 110 MB/s of PCI allows. */
    CU_ASSERT(r.lat[r.n - 1] >= 1048576 / 110.0);
}

static void test_bandwidth_calibration(void)
{
    static char out[8192];
    struct rows r;
    const char *argv[] = {"run", "bandwidth", NULL};
    CU_ASSERT_EQUAL_FATAL(csv_run(argv, &r, out, sizeof out), 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 19);
    double peak = 0;
    for (int i = 0; i < r.n; i++)
        if (r.bw[i] > peak)
            peak = r.bw[i];
    /* Peak 108.4 MB/s published, within 5%. */
    CU_ASSERT(peak > 108.4 * 0.95 && peak < 108.4 * 1.05);
    /* Limited by PCI/DMA (110 MB/s), far from the 160 MB/s link. */
    CU_ASSERT(peak <= 110.0);
    /* Bandwidth rises with size at first. */
    CU_ASSERT(r.bw[0] < r.bw[6] && r.bw[6] < r.bw[10]);
}

static void test_deterministic(void)
{
    static char a[8192], b[8192];
    struct rows ra, rb;
    const char *argv[] = {"run",     "bandwidth", "--bidir", "--sizes",
                          "4,4096,65536", NULL};
    CU_ASSERT_EQUAL(csv_run(argv, &ra, a, sizeof a), 0);
    CU_ASSERT_EQUAL(csv_run(argv, &rb, b, sizeof b), 0);
    CU_ASSERT_EQUAL(ra.n, 3);
    CU_ASSERT_STRING_EQUAL(a, b);
    const char *pp[] = {"run", "pingpong", "--sizes", "4,1000,100000", NULL};
    CU_ASSERT_EQUAL(csv_run(pp, &ra, a, sizeof a), 0);
    CU_ASSERT_EQUAL(csv_run(pp, &rb, b, sizeof b), 0);
    CU_ASSERT_STRING_EQUAL(a, b);
}

static void test_verify(void)
{
    static char out[8192];
    struct rows r;
    const char *pp[] = {"run",     "pingpong", "--verify", "--iters", "2",
                        "--sizes", "5,4097,70001", "--seed", "7", NULL};
    CU_ASSERT_EQUAL(csv_run(pp, &r, out, sizeof out), 0);
    CU_ASSERT_EQUAL(r.n, 3);
    const char *bw[] = {"run",     "bandwidth",       "--verify", "--bidir",
                        "--sizes", "6,8193,300000", "--count",  "5",
                        NULL};
    CU_ASSERT_EQUAL(csv_run(bw, &r, out, sizeof out), 0);
    CU_ASSERT_EQUAL(r.n, 3);
}

static void test_sixteen_nodes(void)
{
    static char out[8192];
    struct rows near, far;
    /* Nodes 0 and 1 share a switch on every platform; the numbers on the
     * 16-node platform for them equal the 2-node ones. */
    const char *a[] = {"run", "--platform", TH_PLATFORM_16, "pingpong",
                       "--sizes", "4,4096", NULL};
    const char *b[] = {"run", "pingpong", "--sizes", "4,4096", NULL};
    CU_ASSERT_EQUAL(csv_run(a, &far, out, sizeof out), 0);
    CU_ASSERT_EQUAL(csv_run(b, &near, out, sizeof out), 0);
    CU_ASSERT_EQUAL(far.n, 2);
    CU_ASSERT_DOUBLE_EQUAL(far.lat[0], near.lat[0], 1e-9);
}

/* Runs vmmcsim with argv and --json. */
static int json_run(const char *const *argv, char *out, size_t outlen)
{
    return run_with(argv, "--json", out, outlen);
}

static void test_utlb(void)
{
    static char hit[8192], miss[8192];
    /* 22 round trips from one page: all hits after the first.  From a
     * 16 MiB span (4096 pages, 4x what the 1024-entry cache covers): every
     * send misses and pays a host-DMA lookup. */
    const char *a[] = {"run", "pingpong", "--sizes", "4", "--src-span", "4K",
                       NULL};
    const char *b[] = {"run", "pingpong", "--sizes", "4", "--src-span",
                       "16M", NULL};
    CU_ASSERT_EQUAL_FATAL(json_run(a, hit, sizeof hit), 0);
    CU_ASSERT_EQUAL_FATAL(json_run(b, miss, sizeof miss), 0);
    double lat_hit = th_json_num(strstr(hit, "latency_us") - 1, "latency_us");
    double lat_miss = th_json_num(strstr(miss, "latency_us") - 1, "latency_us");
    CU_ASSERT(th_json_num(hit, "utlb_misses") <= 4);
    CU_ASSERT(th_json_num(miss, "utlb_hits") == 0);
    CU_ASSERT(th_json_num(miss, "utlb_misses") >= 44);
    /* A miss costs a host-DMA setup or more, and not absurdly more. */
    CU_ASSERT(lat_miss > lat_hit + 0.5 && lat_miss < lat_hit + 3);
}

/* Two separate processes (fresh address spaces) give the same bytes: the
 * simulator must not depend on where the OS puts memory. */
static void test_deterministic_processes(void)
{
    char exe[4096], cmd[4300], a[4096] = "", b[4096] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CU_ASSERT_FATAL(n > 0);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    CU_ASSERT_FATAL(slash != NULL);
    *slash = 0;
    snprintf(cmd, sizeof cmd,
             "'%s/vmmcsim' run --platform %s alltoall --messages 300 "
             "--max-size 64K --csv",
             exe, TH_PLATFORM_16);
    char *outs[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        FILE *f = popen(cmd, "r");
        CU_ASSERT_FATAL(f != NULL);
        size_t len = fread(outs[i], 1, sizeof a - 1, f);
        outs[i][len] = 0;
        CU_ASSERT_EQUAL(pclose(f), 0);
    }
    CU_ASSERT(strlen(a) > 40);
    CU_ASSERT_STRING_EQUAL(a, b);
}

void register_workload_tests(void);
void register_workload_tests(void)
{
    CU_pSuite s = th_suite("workloads");
    th_add(s, "one-word latency matches IPPS'97 within 5%",
           test_latency_calibration);
    th_add(s, "peak bandwidth matches IPPS'97 within 5%",
           test_bandwidth_calibration);
    th_add(s, "same inputs, same output", test_deterministic);
    th_add(s, "same output from separate processes",
           test_deterministic_processes);
    th_add(s, "--verify checks every byte", test_verify);
    th_add(s, "16-node platform runs the workloads", test_sixteen_nodes);
    th_add(s, "UTLB: a miss costs a host-DMA lookup", test_utlb);
}
