/* The test harness of tests/harness.h. */
#define _POSIX_C_SOURCE 200809L
#include "tests/harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cluster.h"
#include "util/err.h"
#include "util/inv.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* Children leave with _exit(), which skips LeakSanitizer's exit check, so
 * they run it themselves: a leak makes the child fail. */
static int leak_check(void) { return __lsan_do_recoverable_leak_check() ? 1 : 0; }
#else
static int leak_check(void) { return 0; }
#endif

CU_pSuite th_suite(const char *name)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    if (!s) {
        fprintf(stderr, "cannot add suite %s\n", name);
        exit(2);
    }
    return s;
}

void th_add(CU_pSuite s, const char *name, CU_TestFunc fn)
{
    if (!CU_add_test(s, name, fn)) {
        fprintf(stderr, "cannot add test %s\n", name);
        exit(2);
    }
}

static int fail_fd = -1;
static struct th_sim *shared;

void th__fail(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (fail_fd < 0) {
        CU_assertImplementation(CU_FALSE, (unsigned)line, msg, file, "",
                                CU_FALSE);
        return;
    }
    size_t len = strlen(msg) + 1;
    if (write(fail_fd, msg, len) != (ssize_t)len)
        _exit(99);
}

unsigned char *th_out(void) { return shared->out; }
hw_time_t th_end_time(void) { return shared->end_time; }

int th_run_sim(struct th_sim *s, int allow_fail)
{
    struct th_sim *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(sh != MAP_FAILED);
    *sh = *s;
    if (!sh->platform)
        sh->platform = TH_PLATFORM_2;
    if (!sh->profile)
        sh->profile = TH_PROFILE;
    if (!sh->max_time)
        sh->max_time = 10 * HW_MS * 1000;
    int fds[2];
    CU_ASSERT_FATAL(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        fail_fd = fds[1];
        shared = sh;
        struct cl_run r = {.platform = sh->platform,
                           .profile = sh->profile,
                           .node_main = sh->node_main,
                           .arg = sh->arg,
                           .max_time = sh->max_time,
                           .faults = sh->faults,
                           .seed = sh->seed};
        sh->rc = cl_run(&r, sh->err, sizeof sh->err);
        /* The simulator's invariants hold in every run, failed or not. */
        if (vs_inv_count())
            th__fail(__FILE__, __LINE__, "%llu invariant violation(s): %s",
                     (unsigned long long)vs_inv_count(), vs_inv_first());
        /* A run that failed may leave in-flight hardware state behind;
         * only a clean run must free everything. */
        _exit(sh->rc == 0 && leak_check() ? 97 : 0);
    }
    close(fds[1]);
    int failures = 0;
    char buf[65536];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0)
            len += (size_t)n;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    for (size_t off = 0; off < len;) {
        const char *msg = buf + off;
        size_t ml = strnlen(msg, len - off);
        CU_assertImplementation(CU_FALSE, 0, msg, "simulation", "", CU_FALSE);
        failures++;
        off += ml + 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "the simulation child died (status %d%s)", status,
                 WIFEXITED(status) && WEXITSTATUS(status) == 97
                     ? ": LeakSanitizer found leaks"
                     : "");
        CU_assertImplementation(CU_FALSE, 0, msg, "simulation", "", CU_FALSE);
        failures++;
    } else if (sh->rc && !allow_fail) {
        char msg[700];
        snprintf(msg, sizeof msg, "cl_run failed: %s: %s",
                 vs_strerror(sh->rc), sh->err);
        CU_assertImplementation(CU_FALSE, 0, msg, "simulation", "", CU_FALSE);
        failures++;
    }
    s->rc = sh->rc;
    s->end_time = sh->end_time;
    memcpy(s->err, sh->err, sizeof s->err);
    memcpy(s->out, sh->out, sizeof s->out);
    munmap(sh, sizeof *sh);
    return failures;
}

static void read_all(int fd, char *out, size_t outlen)
{
    size_t len = 0;
    ssize_t n;
    char sink[4096];
    for (;;) {
        if (out && len + 1 < outlen)
            n = read(fd, out + len, outlen - 1 - len);
        else
            n = read(fd, sink, sizeof sink);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out && len + 1 < outlen && (size_t)n <= outlen - 1 - len)
            len += (size_t)n;
    }
    if (out && outlen)
        out[len] = 0;
}

int th_capture(int (*f)(void *arg), void *arg, char *out, size_t outlen,
               char *errout, size_t errlen)
{
    char tmpl_o[] = "/tmp/vmmcsim-test-XXXXXX";
    char tmpl_e[] = "/tmp/vmmcsim-test-XXXXXX";
    int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e);
    if (fo < 0 || fe < 0)
        return -1;
    unlink(tmpl_o);
    unlink(tmpl_e);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        int rc = f(arg);
        fflush(NULL);
        if (rc == 0 && leak_check())
            rc = 97;
        _exit(rc);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    read_all(fo, out, outlen);
    read_all(fe, errout, errlen);
    close(fo);
    close(fe);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- The vmmcsim command ---- */

struct cli_call {
    int argc;
    char *argv[TH_CLI_MAX_ARGS + 2];
};

static int cli_child(void *arg)
{
    struct cli_call *c = arg;
    unsetenv("VMMCSIM_LOG"); /* no debug lines in the captured stderr */
    return cli_main(c->argc, c->argv);
}

int th_cli(const char *const *args, char *out, size_t outlen, char *errout,
           size_t errlen)
{
    struct cli_call c = {.argc = 1, .argv = {"vmmcsim"}};
    for (; *args; args++) {
        if (c.argc > TH_CLI_MAX_ARGS) {
            if (out && outlen)
                out[0] = 0;
            if (errout && errlen)
                snprintf(errout, errlen, "th_cli: more than %d arguments",
                         TH_CLI_MAX_ARGS);
            return -1;
        }
        c.argv[c.argc++] = (char *)*args;
    }
    c.argv[c.argc] = NULL;
    return th_capture(cli_child, &c, out, outlen, errout, errlen);
}

double th_json_num(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* ---- Checks ---- */

void th_expect_eq(long long got, long long want, const char *what,
                  const char *file, int line)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s = %lld, expected %lld", what, got, want);
    CU_assertImplementation(got == want ? CU_TRUE : CU_FALSE,
                            (unsigned)line, msg, file, "", CU_FALSE);
}

void th_expect_has(const char *hay, const char *needle, int want,
                   const char *file, unsigned line)
{
    char msg[1536];
    snprintf(msg, sizeof msg, "expected \"%s\" %sin \"%.1200s\"", needle,
             want ? "" : "not ", hay);
    CU_assertImplementation((strstr(hay, needle) != NULL) == !!want, line,
                            msg, file, "", CU_FALSE);
}

/* ---- Text files ---- */

char *th_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, len = 0, n;
    char *buf = f ? malloc(cap) : NULL;
    while (buf && (n = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
        len += n;
        if (len == cap - 1) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    if (f)
        fclose(f);
    if (buf)
        buf[len] = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    return buf;
}

/* th_write_tmp(), the name ending in suffix. */
static void write_tmp(char path[static TH_PATH_LEN], const char *tag,
                      const char *suffix, const char *text)
{
    snprintf(path, TH_PATH_LEN, "/tmp/vmmcsim-%s-XXXXXX%s", tag, suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    CU_ASSERT_FATAL(fd >= 0);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    close(fd);
    CU_ASSERT_FATAL(n == (ssize_t)len);
}

void th_write_tmp(char path[static TH_PATH_LEN], const char *tag,
                  const char *text)
{
    write_tmp(path, tag, "", text);
}

void th_write_tmp_c(char path[static TH_PATH_LEN], const char *tag,
                    const char *text)
{
    write_tmp(path, tag, ".c", text);
}

void th_write_profile(char path[static TH_PATH_LEN], const char *tag,
                      const char *extra)
{
    char *base = th_read_file(TH_PROFILE);
    size_t bl = strlen(base), el = strlen(extra);
    char *text = malloc(bl + 1 + el + 1);
    if (text) {
        memcpy(text, base, bl);
        text[bl] = '\n';
        memcpy(text + bl + 1, extra, el + 1);
    }
    free(base);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    th_write_tmp(path, tag, text);
    free(text);
}

int th_find_line(const char *text, const char *start, int nth)
{
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (!strncmp(q, start, strlen(start)) && --nth == 0)
            return line;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

char *th_edit_line(const char *text, int line, const char *repl)
{
    const char *p = text;
    for (int i = 1; i < line && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    const char *e = strchr(p, '\n');
    if (!e)
        e = p + strlen(p);
    size_t head = (size_t)(p - text), rl = strlen(repl), tail = strlen(e);
    char *out = malloc(head + rl + tail + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    memcpy(out, text, head);
    memcpy(out + head, repl, rl);
    memcpy(out + head + rl, e, tail + 1);
    return out;
}
