/*
 * The vmmcsim command line (cli/cli_run.c), called through cli_main() in a
 * child process with stdout and stderr captured: exit status 2 and a
 * one-line error naming the option, file, line and field for every kind of
 * bad input (missing or unknown workload, unknown option, bad --seed,
 * --sizes, --max-time, a missing profile, a malformed platform XML, a bad
 * profile value, a platform with too few hosts); exit 1 for a run that
 * failed; --help; and the exact CSV output, which must be deterministic.
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tests/harness.h"
#include "tests/suites.h"

/* ---- Helpers ---- */

static void expect_has(const char *hay, const char *needle, unsigned line)
{
    char msg[1536];
    snprintf(msg, sizeof msg, "expected \"%s\" in \"%.1200s\"", needle, hay);
    CU_assertImplementation(strstr(hay, needle) != NULL, line, msg, __FILE__,
                            "", CU_FALSE);
}
#define EXPECT_HAS(hay, needle) expect_has((hay), (needle), __LINE__)

struct call {
    int argc;
    char *argv[32];
};

struct result {
    int status;
    char out[16384];
    char err[8192];
};

static int call_child(void *arg)
{
    struct call *c = arg;
    unsetenv("VMMCSIM_LOG"); /* no debug lines in the captured stderr */
    return cli_main(c->argc, c->argv);
}

/* Runs "vmmcsim ARGS..." (NULL-terminated) through cli_main in a child. */
static void run_cli(struct result *r, ...) __attribute__((sentinel));
static void run_cli(struct result *r, ...)
{
    struct call c = {.argc = 1, .argv = {"vmmcsim"}};
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        CU_ASSERT_FATAL(c.argc < 31);
        c.argv[c.argc++] = (char *)a;
    }
    va_end(ap);
    c.argv[c.argc] = NULL;
    memset(r, 0, sizeof *r);
    r->status = th_capture(call_child, &c, r->out, sizeof r->out, r->err,
                           sizeof r->err);
}

/* Bad input: exit status 2, nothing on stdout, and exactly one line on
 * stderr that starts "vmmcsim: error: " and contains every one of the
 * NULL-terminated strings. */
static void expect_bad_input(const struct result *r, unsigned line, ...)
    __attribute__((sentinel));
static void expect_bad_input(const struct result *r, unsigned line, ...)
{
    char msg[1536];
    snprintf(msg, sizeof msg, "exit status %d, expected 2; stderr \"%.1200s\"",
             r->status, r->err);
    CU_assertImplementation(r->status == 2, line, msg, __FILE__, "",
                            CU_FALSE);
    snprintf(msg, sizeof msg, "stdout not empty: \"%.1200s\"", r->out);
    CU_assertImplementation(r->out[0] == 0, line, msg, __FILE__, "",
                            CU_FALSE);
    size_t len = strlen(r->err);
    snprintf(msg, sizeof msg, "stderr is not one error line: \"%.1200s\"",
             r->err);
    CU_assertImplementation(len > 0 && strchr(r->err, '\n') ==
                                           r->err + len - 1 &&
                                !strncmp(r->err, "vmmcsim: error: ", 16),
                            line, msg, __FILE__, "", CU_FALSE);
    va_list ap;
    va_start(ap, line);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL)
        expect_has(r->err, s, line);
    va_end(ap);
}
#define EXPECT_BAD_INPUT(r, ...) expect_bad_input((r), __LINE__, __VA_ARGS__)

/* A temporary file holding text; path receives its name. */
static void write_tmp(char path[static 64], const char *suffix_tag,
                      const char *text)
{
    snprintf(path, 64, "/tmp/vmmcsim-cli-%s-XXXXXX", suffix_tag);
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    size_t len = strlen(text);
    CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
    close(fd);
}

/* The 1-based number of the first line of text that starts with start
 * (after leading blanks), or 0. */
static int find_line(const char *text, const char *start)
{
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (!strncmp(q, start, strlen(start)))
            return line;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

/* stderr without the warning an ASan build prints when SimGrid switches
 * stacks (harmless: its own text says so); any real sanitizer report stays.
 */
static void strip_asan_noise(const char *in, char *out, size_t outlen)
{
    static const char *const noise[] = {
        "WARNING: ASan is ignoring requested __asan_handle_no_return",
        "False positive error reports may follow",
        "For details see https://github.com/google/sanitizers/issues/189",
    };
    size_t len = 0;
    out[0] = 0;
    for (const char *p = in; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        int skip = 0;
        for (size_t i = 0; i < sizeof noise / sizeof *noise; i++) {
            const char *hit = strstr(p, noise[i]);
            if (hit && hit < p + n &&
                (hit == p || (p[0] == '=' && p[1] == '=')))
                skip = 1;
        }
        if (!skip && len + n < outlen) {
            memcpy(out + len, p, n);
            out[len += n] = 0;
        }
        p += n;
    }
}

/* Parses a CSV field as a number > 0 (the whole field). */
static int positive_number(const char *s, size_t n)
{
    char buf[64], *end;
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    double v = strtod(buf, &end);
    return *end == 0 && v > 0;
}

static void run_csv(struct result *r)
{
    run_cli(r, "run", "pingpong", "--csv", "--sizes", "4,1024", "--iters",
            "3", (char *)NULL);
}

/* ---- Bad input ---- */

static void test_no_arguments(void)
{
    struct result r;
    run_cli(&r, (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    EXPECT_HAS(r.err, "usage: vmmcsim run");
    CU_ASSERT_STRING_EQUAL(r.out, "");
}

static void test_unknown_command(void)
{
    struct result r;
    run_cli(&r, "frob", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "unknown command 'frob'", (char *)NULL);
}

static void test_no_workload(void)
{
    struct result r;
    run_cli(&r, "run", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "no workload given", (char *)NULL);
    run_cli(&r, "run", "--csv", "--seed", "3", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "no workload given", (char *)NULL);
}

static void test_unknown_workload(void)
{
    struct result r;
    run_cli(&r, "run", "nosuch", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "unknown workload 'nosuch'", (char *)NULL);
}

static void test_unknown_option(void)
{
    struct result r;
    /* before the workload: a run option */
    run_cli(&r, "run", "--bogus", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "unknown option '--bogus'", (char *)NULL);
    /* after it: a workload option */
    run_cli(&r, "run", "pingpong", "--bogus", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "pingpong", "unknown workload option '--bogus'",
                     (char *)NULL);
}

static void test_missing_option_value(void)
{
    struct result r;
    run_cli(&r, "run", "pingpong", "--seed", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --seed: missing value", (char *)NULL);
    run_cli(&r, "run", "pingpong", "--sizes", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --sizes: missing value", (char *)NULL);
}

static void test_bad_seed(void)
{
    struct result r;
    run_cli(&r, "run", "--seed", "abc", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --seed", "'abc'", (char *)NULL);
    run_cli(&r, "run", "--seed", "-1", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --seed", "'-1'", (char *)NULL);
    run_cli(&r, "run", "--seed", "", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --seed", "''", (char *)NULL);
    run_cli(&r, "run", "--seed", "99999999999999999999999", "pingpong",
            (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --seed", (char *)NULL);
}

static void test_bad_sizes(void)
{
    struct result r;
    run_cli(&r, "run", "pingpong", "--sizes", "1", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --sizes", "'1'", (char *)NULL);
    run_cli(&r, "run", "pingpong", "--sizes", "4,x", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --sizes", "'x'", (char *)NULL);
    run_cli(&r, "run", "pingpong", "--sizes", "65M", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --sizes", "'65M'", (char *)NULL);
    run_cli(&r, "run", "pingpong", "--iters", "0", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --iters", (char *)NULL);
}

static void test_bad_max_time(void)
{
    struct result r;
    run_cli(&r, "run", "--max-time", "xyz", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --max-time", "'xyz'", (char *)NULL);
    run_cli(&r, "run", "--max-time", "500", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --max-time", "'500'", (char *)NULL);
    run_cli(&r, "run", "--max-time", "-5ms", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --max-time", "'-5ms'", (char *)NULL);
}

static void test_bad_log_spec(void)
{
    struct result r;
    run_cli(&r, "run", "--log", "vmmc=loud", "pingpong", (char *)NULL);
    EXPECT_BAD_INPUT(&r, "option --log", "'vmmc=loud'", (char *)NULL);
}

static void test_missing_profile(void)
{
    struct result r;
    run_cli(&r, "run", "pingpong", "--profile", "/nonexistent.ini",
            (char *)NULL);
    EXPECT_BAD_INPUT(&r, "/nonexistent.ini", "cannot open", (char *)NULL);
}

static void test_missing_platform(void)
{
    struct result r;
    run_cli(&r, "run", "pingpong", "--platform", "/nonexistent.xml",
            (char *)NULL);
    EXPECT_BAD_INPUT(&r, "/nonexistent.xml", "cannot open", (char *)NULL);
}

static void test_malformed_platform(void)
{
    static const char xml[] =
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
        "<platform version=\"4.1\">\n"
        "  <zone id=\"world\" routing=\"Full\">\n"
        "    <host id=\"node-0\" speed=\"1Gf\"/>\n"
        "    <bogus/>\n"
        "  </zone>\n"
        "</platform>\n";
    char path[64], where[128];
    write_tmp(path, "xml", xml);
    int line = find_line(xml, "<bogus/>");
    CU_ASSERT_FATAL(line > 0);
    snprintf(where, sizeof where, "Parse error at %s:%d", path, line);
    struct result r;
    run_cli(&r, "run", "pingpong", "--platform", path, (char *)NULL);
    unlink(path);
    /* The message starts with the file, then SimGrid's file:line. */
    char start[96];
    snprintf(start, sizeof start, "vmmcsim: error: %s: ", path);
    EXPECT_BAD_INPUT(&r, start, where, (char *)NULL);
}

static void test_one_host_platform(void)
{
    static const char xml[] =
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
        "<platform version=\"4.1\">\n"
        "  <zone id=\"world\" routing=\"Full\">\n"
        "    <host id=\"node-0\" speed=\"1Gf\"/>\n"
        "  </zone>\n"
        "</platform>\n";
    char path[64];
    write_tmp(path, "xml", xml);
    struct result r;
    run_cli(&r, "run", "pingpong", "--platform", path, (char *)NULL);
    unlink(path);
    EXPECT_BAD_INPUT(&r, path, "1 host", "at least 2", (char *)NULL);
}

static void test_bad_profile_value(void)
{
    FILE *f = fopen(TH_PROFILE, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char text[16384], bad[16384 + 64];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    /* The line "dma_MBps = 110 ..." becomes "dma_MBps = 0" (below its
     * minimum); the line numbers stay the same. */
    const char *p = text;
    int line = find_line(text, "dma_MBps");
    CU_ASSERT_FATAL(line > 0);
    for (int i = 1; i < line; i++)
        p = strchr(p, '\n') + 1;
    const char *e = strchr(p, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    snprintf(bad, sizeof bad, "%.*sdma_MBps = 0%s", (int)(p - text), text,
             e);
    CU_ASSERT_EQUAL_FATAL(find_line(bad, "dma_MBps = 0\n"), line);
    char path[64], want[128];
    write_tmp(path, "ini", bad);
    struct result r;
    run_cli(&r, "run", "pingpong", "--profile", path, (char *)NULL);
    unlink(path);
    snprintf(want, sizeof want, "vmmcsim: error: %s:%d: [pci] dma_MBps: ",
             path, line);
    EXPECT_BAD_INPUT(&r, want, "out of range", (char *)NULL);
}

/* ---- Good runs ---- */

static void test_help(void)
{
    struct result r;
    run_cli(&r, "--help", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    EXPECT_HAS(r.out, "usage: vmmcsim run");
    EXPECT_HAS(r.out, "pingpong");
    EXPECT_HAS(r.out, "bandwidth");
    CU_ASSERT_STRING_EQUAL(r.err, "");
    /* also as an option of run, even after other options */
    run_cli(&r, "run", "--csv", "--help", (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 0);
    EXPECT_HAS(r.out, "pingpong");
    EXPECT_HAS(r.out, "bandwidth");
    CU_ASSERT_STRING_EQUAL(r.err, "");
}

static void test_csv_output(void)
{
    static struct result r;
    run_csv(&r);
    CU_ASSERT_EQUAL(r.status, 0);
    char err[sizeof r.err];
    strip_asan_noise(r.err, err, sizeof err);
    CU_ASSERT_STRING_EQUAL(err, "");
    static const char header[] = "size_bytes,latency_us,bandwidth_MBps\n";
    CU_ASSERT_FATAL(!strncmp(r.out, header, strlen(header)));
    const char *p = r.out + strlen(header);
    static const char *const sizes[] = {"4", "1024"};
    for (int row = 0; row < 2; row++) {
        const char *nl = strchr(p, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
        const char *c1 = memchr(p, ',', (size_t)(nl - p));
        CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
        const char *c2 = memchr(c1 + 1, ',', (size_t)(nl - c1 - 1));
        CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
        CU_ASSERT(memchr(c2 + 1, ',', (size_t)(nl - c2 - 1)) == NULL);
        CU_ASSERT_EQUAL((size_t)(c1 - p), strlen(sizes[row]));
        CU_ASSERT(!strncmp(p, sizes[row], strlen(sizes[row])));
        CU_ASSERT(positive_number(c1 + 1, (size_t)(c2 - c1 - 1)));
        CU_ASSERT(positive_number(c2 + 1, (size_t)(nl - c2 - 1)));
        p = nl + 1;
    }
    /* exactly two rows: nothing after them */
    CU_ASSERT_STRING_EQUAL(p, "");
}

static void test_csv_deterministic(void)
{
    static struct result a, b;
    run_csv(&a);
    run_csv(&b);
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_EQUAL(b.status, 0);
    CU_ASSERT(a.out[0] != 0);
    CU_ASSERT_STRING_EQUAL(a.out, b.out);
}

static void test_run_failed_exit_1(void)
{
    /* A 1 us simulated-time limit stops the run before it is done. */
    struct result r;
    run_cli(&r, "run", "--max-time", "1us", "pingpong", "--sizes", "4",
            (char *)NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    char err[sizeof r.err];
    strip_asan_noise(r.err, err, sizeof err);
    /* one line, naming the time limit */
    CU_ASSERT(!strncmp(err, "vmmcsim: run failed: ", 21));
    CU_ASSERT(err[0] && strchr(err, '\n') == err + strlen(err) - 1);
    EXPECT_HAS(err, "time limit");
    CU_ASSERT_STRING_EQUAL(r.out, "");
}

void register_cli_tests(void)
{
    CU_pSuite s = th_suite("cli");
    th_add(s, "no arguments prints usage, exit 2", test_no_arguments);
    th_add(s, "unknown command", test_unknown_command);
    th_add(s, "run without a workload", test_no_workload);
    th_add(s, "unknown workload", test_unknown_workload);
    th_add(s, "unknown option", test_unknown_option);
    th_add(s, "option without its value", test_missing_option_value);
    th_add(s, "bad --seed", test_bad_seed);
    th_add(s, "bad --sizes / --iters", test_bad_sizes);
    th_add(s, "bad --max-time", test_bad_max_time);
    th_add(s, "bad --log spec", test_bad_log_spec);
    th_add(s, "missing profile file", test_missing_profile);
    th_add(s, "missing platform file", test_missing_platform);
    th_add(s, "malformed platform XML names file:line", test_malformed_platform);
    th_add(s, "one-host platform for pingpong", test_one_host_platform);
    th_add(s, "out-of-range profile value names file:line:key",
           test_bad_profile_value);
    th_add(s, "--help lists the workloads", test_help);
    th_add(s, "CSV output format", test_csv_output);
    th_add(s, "CSV output is deterministic", test_csv_deterministic);
    th_add(s, "a run that fails exits 1", test_run_failed_exit_1);
}
