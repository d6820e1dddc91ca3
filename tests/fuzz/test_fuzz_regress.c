/*
 * Replays tests/fuzz-regress/: every file under NAME/ goes through the
 * fuzz harness fuzz_NAME() (fuzz/fuzz.h), the entry point and checks that
 * `make fuzz` runs under libFuzzer, here in the normal build.  Each file
 * runs in a child: a broken check aborts it, and under ASan a memory error
 * or a leak fails it.  The files are findings of `make fuzz` kept after
 * their fix, and hand-written corner cases (an empty file, no final
 * newline, a very long line, NUL bytes).
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "tests/harness.h"
#include "tests/suites.h"

#define REGRESS_DIR "tests/fuzz-regress"
#define REGRESS_MAX_INPUT (1 << 20)
#define REGRESS_MAX_FILES 256

typedef int (*harness_fn)(const uint8_t *data, size_t size);

struct input {
    harness_fn fn;
    const uint8_t *data;
    size_t size;
};

static int replay_child(void *arg)
{
    const struct input *in = arg;
    return in->fn(in->data, in->size);
}

static int by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void fail(const char *msg)
{
    CU_assertImplementation(CU_FALSE, 0, msg, REGRESS_DIR, "", CU_FALSE);
}

/* The files of dir, sorted (so failures come in a fixed order); returns
 * how many, -1 if dir cannot be read. */
static int list_dir(const char *dir, char **names, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    return n;
}

/* Feeds every file of tests/fuzz-regress/name/ to fn, each in a child. */
static void replay(const char *name, harness_fn fn)
{
    char dir[128], msg[1024];
    snprintf(dir, sizeof dir, "%s/%s", REGRESS_DIR, name);
    char *names[REGRESS_MAX_FILES];
    int n = list_dir(dir, names, REGRESS_MAX_FILES);
    if (n < 1) {
        snprintf(msg, sizeof msg, "%s: no regression input to replay", dir);
        fail(msg);
        return;
    }
    static uint8_t data[REGRESS_MAX_INPUT];
    static char out[4096], err[4096];
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        size_t size = f ? fread(data, 1, sizeof data, f) : 0;
        if (!f || ferror(f) || !feof(f)) {
            snprintf(msg, sizeof msg, "%s: cannot read (or over %d bytes)",
                     path, REGRESS_MAX_INPUT);
            fail(msg);
        } else {
            struct input in = {fn, data, size};
            int rc = th_capture(replay_child, &in, out, sizeof out, err,
                                sizeof err);
            if (rc != 0) {
                /* The harness's own line (FILE:LINE: fuzz property
                 * broken: ...), or the sanitizer's report. */
                const char *why = strstr(err, "fuzz property");
                while (why && why > err && why[-1] != '\n')
                    why--;
                if (!why)
                    why = strstr(err, "ERROR:");
                snprintf(msg, sizeof msg, "%s: the harness exited %d: %.300s",
                         path, rc, why ? why : err);
                fail(msg);
            }
        }
        if (f)
            fclose(f);
        free(names[i]);
    }
}

#define REPLAY_TEST_(name)                                                  \
    static void test_##name(void) { replay(#name, fuzz_##name); }
REPLAY_TEST_(ini)
REPLAY_TEST_(profile)
REPLAY_TEST_(faults)
REPLAY_TEST_(cmdline)
REPLAY_TEST_(baseline)
REPLAY_TEST_(platform)
REPLAY_TEST_(trace)
#undef REPLAY_TEST_

void register_fuzz_regress_tests(void)
{
    CU_pSuite s = th_suite("fuzz-regress");
    th_add(s, "ini: tests/fuzz-regress/ini/", test_ini);
    th_add(s, "profile: tests/fuzz-regress/profile/", test_profile);
    th_add(s, "faults: tests/fuzz-regress/faults/", test_faults);
    th_add(s, "cmdline: tests/fuzz-regress/cmdline/", test_cmdline);
    th_add(s, "baseline: tests/fuzz-regress/baseline/", test_baseline);
    th_add(s, "platform: tests/fuzz-regress/platform/", test_platform);
    th_add(s, "trace: tests/fuzz-regress/trace/", test_trace);
}
