/*
 * Fuzzing the INI reader (util/ini.c): any bytes as a file.  Checked: each
 * key comes with its section, trimmed, on a line of the file, in file
 * order; a comment never reaches a key or value; an error is one line that
 * names the file (and a line it has); a file with a NUL byte is refused
 * (it is not text).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "util/err.h"
#include "util/ini.h"

struct walk {
    int lines; /* the file's lines, a last one without '\n' included */
    int last;  /* the line of the previous key */
};

static int trimmed(const char *s)
{
    size_t n = strlen(s);
    return !n || (!isspace((unsigned char)s[0]) &&
                  !isspace((unsigned char)s[n - 1]));
}

/* A comment starts at # or ; after white space (or at the start of the
 * line, where no key or value starts: a value starting with # follows
 * '='). */
static int has_comment(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((*p == '#' || *p == ';') && p > s && isspace((unsigned char)p[-1]))
            return 1;
    return 0;
}

static int on_key(void *arg, const char *section, const char *key,
                  const char *value, int line, char *err, size_t errlen)
{
    struct walk *w = arg;
    FUZZ_CHECK(line > w->last && line <= w->lines);
    w->last = line;
    FUZZ_CHECK(*section && *key);
    FUZZ_CHECK(trimmed(section) && trimmed(key) && trimmed(value));
    FUZZ_CHECK(!strchr(key, '='));
    FUZZ_CHECK(key[0] != '#' && key[0] != ';');
    FUZZ_CHECK(!has_comment(key) && !has_comment(value));
    /* A caller refusing a key stops the reader with its message. */
    if (!strcmp(key, "refuse")) {
        FUZZ_CHECK(errlen > 0);
        err[0] = 'x';
        err[1] = 0;
        return VS_EINVAL;
    }
    return VS_OK;
}

int fuzz_ini(const uint8_t *data, size_t size)
{
    struct walk w = {0, 0};
    for (size_t i = 0; i < size; i++)
        w.lines += data[i] == '\n' || i + 1 == size;
    const char *path = fuzz__file(data, size);
    char err[256] = "";
    int rc = ini_parse(path, on_key, &w, err, sizeof err);
    FUZZ_CHECK(rc == VS_OK || rc == VS_ECONFIG || rc == VS_EINVAL);
    if (rc == VS_ECONFIG) {
        size_t n = strlen(path);
        FUZZ_CHECK(!strncmp(err, path, n));
        FUZZ_CHECK(!strchr(err, '\n'));
        /* "PATH:LINE: ...": a line the file has. */
        if (err[n] == ':' && isdigit((unsigned char)err[n + 1]))
            FUZZ_CHECK(atoi(err + n + 1) >= 1 && atoi(err + n + 1) <= w.lines);
    }
    if (memchr(data, 0, size))
        FUZZ_CHECK(rc != VS_OK);
    return 0;
}

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_ini(data, size);
}
#endif
