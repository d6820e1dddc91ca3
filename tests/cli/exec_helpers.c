/* Building and running programs for the exec tests (exec_helpers.h). */
#define _GNU_SOURCE
#include "tests/cli/exec_helpers.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *beside_runner(const char *name, char *buf)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return name;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return name;
    *slash = 0;
    snprintf(buf, PATH_MAX, "%.*s/%s", PATH_MAX - 64, exe, name);
    return buf;
}

const char *th_vmmcsim(void)
{
    static char buf[PATH_MAX];
    return beside_runner("vmmcsim", buf);
}

const char *th_vmmcsim_cc(void)
{
    static char buf[PATH_MAX];
    return beside_runner("vmmcsim-cc", buf);
}

int th_sh(char *out, size_t len, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (!p)
        return -1;
    while (n + 1 < len) {
        size_t k = fread(out + n, 1, len - 1 - n, p);
        if (!k)
            break;
        n += k;
    }
    out[n] = 0;
    char sink[4096]; /* the rest, so the command does not block */
    while (fread(sink, 1, sizeof sink, p))
        ;
    int st = pclose(p);
    if (st < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int th_build_program(const char *src, char *path)
{
    static int count;
    char out[8192];
    snprintf(path, PATH_MAX, "/tmp/vmmcsim-prog-%d-%d", (int)getpid(),
             ++count);
    int rc = th_sh(out, sizeof out, "%s -O2 -o %s %s", th_vmmcsim_cc(), path,
                   src);
    if (rc)
        fprintf(stderr, "vmmcsim-cc %s failed (%d):\n%s\n", src, rc, out);
    return rc;
}
