/*
 * vmmcsim bench --baseline: the shipped baselines (configs/baselines/) match
 * the current model exactly, so a change that moves a calibrated figure
 * fails here unless its baseline is updated in the same change; a moved
 * figure is named with how much it moved; --update-baseline writes a file
 * that then matches; a bad baseline file is a one-line error, exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

static char out[65536], err[8192];

static int bench(const char *const *args)
{
    return th_cli(args, out, sizeof out, err, sizeof err);
}

static void test_shipped_baselines(void)
{
    static const char *const files[] = {
        "configs/baselines/myrinet-pingpong.json",
        "configs/baselines/myrinet-bandwidth.json",
        "configs/baselines/myrinet8-alltoall-faults.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        const char *args[] = {"bench", "--baseline", files[i], NULL};
        int rc = bench(args);
        if (rc)
            fprintf(stderr, "\n%s: %s%s", files[i], out, err);
        CU_ASSERT_EQUAL(rc, 0);
        TH_EXPECT_HAS(out, "figures match");
        TH_EXPECT_HAS_NOT(out, "REGRESSION");
    }
}

static void test_moved_figure_named(void)
{
    /* The shipped profile with a slower firmware command decode. */
    char *text = th_read_file(TH_PROFILE);
    int line = th_find_line(text, "cmd_cycles", 1);
    CU_ASSERT_FATAL(line > 0);
    char *edited = th_edit_line(text, line, "cmd_cycles = 80");
    char prof[TH_PATH_LEN];
    th_write_tmp(prof, "baseline", edited);
    const char *args[] = {"bench", "--baseline",
                          "configs/baselines/myrinet-pingpong.json",
                          "--profile", prof, "pingpong", NULL};
    CU_ASSERT_EQUAL(bench(args), 1);
    TH_EXPECT_HAS(out, "REGRESSION latency_us@4: ");
    TH_EXPECT_HAS(out, "baseline 9.798 (+");
    unlink(prof);
    free(text);
    free(edited);
}

static void test_update_then_match(void)
{
    char path[TH_PATH_LEN];
    th_write_tmp(path, "baseline", "");
    const char *w[] = {"bench", "--baseline", path, "--update-baseline",
                       "pingpong", "--sizes", "4,4096", NULL};
    CU_ASSERT_EQUAL(bench(w), 0);
    TH_EXPECT_HAS(out, "wrote 7 figures"); /* 2 sizes x 2, time, retransmissions, packets */
    const char *r[] = {"bench", "--baseline", path, NULL};
    CU_ASSERT_EQUAL(bench(r), 0);
    TH_EXPECT_HAS(out, "7 of 7 figures match");
    unlink(path);
}

static void test_bad_baseline(void)
{
    char path[TH_PATH_LEN];
    th_write_tmp(path, "baseline",
                 "{\"args\":[\"pingpong\"],\"metrics\":[{\"name\":\"x\"}]}");
    const char *a[] = {"bench", "--baseline", path, NULL};
    CU_ASSERT_EQUAL(bench(a), 2);
    TH_EXPECT_HAS(err, "vmmcsim: error: bench: --baseline ");
    TH_EXPECT_HAS(err, path);
    TH_EXPECT_HAS(err, "metric 1 is malformed");
    unlink(path);
    const char *b[] = {"bench", "--baseline", "/nonexistent/b.json", NULL};
    CU_ASSERT_EQUAL(bench(b), 2);
    TH_EXPECT_HAS(err, "/nonexistent/b.json: cannot open");
    /* A file over 64 KiB is refused, not read in part. */
    size_t big = 70000;
    char *text = malloc(big + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    memset(text, ' ', big);
    memcpy(text, "{\"args\":[\"pingpong\"],\"metrics\":[", 32);
    text[big] = 0;
    th_write_tmp(path, "baseline", text);
    free(text);
    const char *d[] = {"bench", "--baseline", path, NULL};
    CU_ASSERT_EQUAL(bench(d), 2);
    TH_EXPECT_HAS(err, "larger than 65535 bytes");
    unlink(path);
    const char *c[] = {"bench", "pingpong", NULL};
    CU_ASSERT_EQUAL(bench(c), 2);
    TH_EXPECT_HAS(err, "--baseline FILE is required");
}

void register_baseline_tests(void);
void register_baseline_tests(void)
{
    CU_pSuite s = th_suite("baseline");
    th_add(s, "shipped baselines match the model", test_shipped_baselines);
    th_add(s, "a moved figure is named, with how much",
           test_moved_figure_named);
    th_add(s, "--update-baseline writes a matching file",
           test_update_then_match);
    th_add(s, "a bad baseline file is an error", test_bad_baseline);
}
