/* Running the vmmcsim command in a child process (cli/cli_int.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

void cli__slurp(FILE *f, char *buf, size_t len)
{
    rewind(f);
    size_t n = len ? fread(buf, 1, len - 1, f) : 0;
    if (len)
        buf[n] = 0;
}

pid_t cli__spawn(int argc, char **argv, FILE *out, FILE *err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        int rc = cli_main(argc, argv);
        fflush(NULL);
        _exit(rc);
    }
    return pid;
}

int cli__run_child(int argc, char **argv, char *out, size_t outlen, char *err,
                   size_t errlen)
{
    FILE *fo = tmpfile(), *fe = tmpfile();
    pid_t pid = fo && fe ? cli__spawn(argc, argv, fo, fe) : -1;
    int status = 0;
    if (pid > 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    if (pid > 0) {
        cli__slurp(fo, out, outlen);
        cli__slurp(fe, err, errlen);
    }
    if (fo)
        fclose(fo);
    if (fe)
        fclose(fe);
    if (pid <= 0)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

double cli__json_num(const char *json, const char *key, int *found)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (found)
        *found = p != NULL;
    return p ? strtod(p + strlen(pat), NULL) : 0;
}
