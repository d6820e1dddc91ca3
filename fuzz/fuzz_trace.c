/*
 * Fuzzing the trace reader of vmmcsim replay (libs/replay/load.c): any
 * bytes as one trace file in SimGrid's shared form (the lines of every
 * rank).  Checked: the reader either accepts the trace or refuses it with
 * VS_ECONFIG and one line naming the file and a line it has (or, for an
 * index, a file it lists, as it spells it); an accepted
 * trace has at least one rank and no more actions than lines; everything
 * it allocated is freed (the leak check of the regression suite).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "libs/replay/replay.h"
#include "util/err.h"

/* A real file in a private folder: an input read as an index names files
 * beside it, which must not be anything but what the input says (an
 * in-memory file's folder, /proc/self/fd/, holds the process's files). */
static const char *trace_file(const uint8_t *data, size_t size)
{
    static char dir[] = "/tmp/vmmcsim-fuzz-trace-XXXXXX", path[64];
    if (!path[0]) {
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/trace", dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f))
        abort();
    return path;
}

int fuzz_trace(const uint8_t *data, size_t size)
{
    int lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || i + 1 == size;
    const char *path = trace_file(data, size);
    char *files[1] = {(char *)path};
    char err[512] = "";
    struct replay_trace t;
    memset(&t, 0, sizeof t);
    int rc = replay_load(&t, 1, files, err, sizeof err);
    FUZZ_CHECK(rc == VS_OK || rc == VS_ECONFIG);
    if (rc == VS_OK) {
        FUZZ_CHECK(t.nranks >= 1);
        FUZZ_CHECK(t.total_actions <= (size_t)lines);
        replay_free(&t);
        return 0;
    }
    FUZZ_CHECK(!strchr(err, '\n'));
    /* "PATH:LINE: ..." names a line the file has; other errors name the
     * file (or a rank and the file). */
    const char *p = strstr(err, path);
    if (!p) {
        /* Read as an index: the error is about a file it lists, and names
         * that file, as the input spells it. */
        size_t n = strcspn(err, ":");
        FUZZ_CHECK(n > 0 && n < size + 1 &&
                   memmem(data, size, err, n) != NULL);
        return 0;
    }
    p += strlen(path);
    if (*p == ':' && isdigit((unsigned char)p[1]))
        FUZZ_CHECK(atoi(p + 1) >= 1 && atoi(p + 1) <= lines);
    return 0;
}

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_trace(data, size);
}
#endif
