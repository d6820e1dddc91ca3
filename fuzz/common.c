/* Helpers shared by the fuzz harnesses (fuzz/fuzz.h). */
#define _GNU_SOURCE
#include "fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

void fuzz__fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: fuzz property broken: %s\n", file, line, what);
    abort();
}

const char *fuzz__file(const uint8_t *data, size_t size)
{
    /* One memfd for the whole process: the parsers open the path afresh,
     * so each sees the file from its start. */
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("vmmcsim-fuzz", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    for (size_t off = 0; off < size;) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);
        FUZZ_CHECK(n > 0);
        off += (size_t)n;
    }
    return path;
}

int fuzz__words(const uint8_t *data, size_t size, char **buf, char **words,
                int max)
{
    char *b = malloc(size + 1);
    FUZZ_CHECK(b != NULL);
    memcpy(b, data, size);
    b[size] = 0;
    int n = 0;
    /* A final separator ends the last word and starts none, so a text
     * file of one word per line gives just its words. */
    for (size_t start = 0, i = 0; i <= size && n < max; i++)
        if (i == size ? start < size : b[i] == '\n' || b[i] == 0) {
            b[i] = 0;
            words[n++] = b + start;
            start = i + 1;
        }
    *buf = b;
    return n;
}

static enum log_level saved_levels[LOG_NMODULES_];

void fuzz__cli_begin(void)
{
    memcpy(saved_levels, log__levels, sizeof saved_levels);
    memset(log__levels, 0, sizeof log__levels);
    unsetenv("VMMCSIM_LOG");
}

void fuzz__cli_end(void)
{
    memcpy(log__levels, saved_levels, sizeof log__levels);
}
