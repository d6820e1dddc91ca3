/* Running the vmmcsim command in a child process (cli/cli_int.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static void slurp(FILE *f, char *buf, size_t len)
{
    rewind(f);
    size_t n = len ? fread(buf, 1, len - 1, f) : 0;
    if (len)
        buf[n] = 0;
}

int cli__run_child(int argc, char **argv, char *out, size_t outlen, char *err,
                   size_t errlen)
{
    FILE *fo = tmpfile(), *fe = tmpfile();
    if (!fo || !fe) {
        if (fo)
            fclose(fo);
        if (fe)
            fclose(fe);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fclose(fo);
        fclose(fe);
        return -1;
    }
    if (pid == 0) {
        dup2(fileno(fo), 1);
        dup2(fileno(fe), 2);
        int rc = cli_main(argc, argv);
        fflush(NULL);
        _exit(rc);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    slurp(fo, out, outlen);
    slurp(fe, err, errlen);
    fclose(fo);
    fclose(fe);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}
