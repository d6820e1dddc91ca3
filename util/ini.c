/* The INI reader of util/ini.h. */
#include "util/ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* The longest line, its newline not counted: a config line longer than
 * this is a mistake (a pasted blob, a binary file). */
#define INI_MAX_LINE 1022

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int ini_parse(const char *path, ini_key_fn fn, void *arg, char *err,
              size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return VS_ECONFIG;
    }
    char *buf = NULL, section[64] = "";
    size_t cap = 0;
    ssize_t got;
    int line = 0, rc = VS_OK;
    /* getline gives the line's true length: a NUL byte inside it cannot
     * hide the rest of the line, nor make one long line look like two. */
    while ((got = getline(&buf, &cap, f)) > 0) {
        line++;
        size_t len = (size_t)got;
        if (buf[len - 1] == '\n')
            buf[--len] = 0;
        if (memchr(buf, 0, len)) {
            snprintf(err, errlen, "%s:%d: a NUL byte (not a text file)", path,
                     line);
            rc = VS_ECONFIG;
            break;
        }
        if (len > INI_MAX_LINE) {
            snprintf(err, errlen, "%s:%d: line longer than %d characters",
                     path, line, INI_MAX_LINE);
            rc = VS_ECONFIG;
            break;
        }
        /* A comment starts at # or ; at line start or after whitespace. */
        for (char *p = buf; *p; p++)
            if ((*p == '#' || *p == ';') &&
                (p == buf || isspace((unsigned char)p[-1]))) {
                *p = 0;
                break;
            }
        char *s = trim(buf);
        if (!*s)
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1] != 0 ||
                s + 1 + strspn(s + 1, " \t") == close || /* [] or [ ] */
                (size_t)(close - s - 1) >= sizeof section) {
                snprintf(err, errlen, "%s:%d: malformed section header '%s'",
                         path, line, s);
                rc = VS_ECONFIG;
                break;
            }
            *close = 0;
            snprintf(section, sizeof section, "%s", trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value', got '%s'",
                     path, line, s);
            rc = VS_ECONFIG;
            break;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        if (!*key) {
            snprintf(err, errlen, "%s:%d: missing key before '='", path, line);
            rc = VS_ECONFIG;
            break;
        }
        if (!section[0]) {
            snprintf(err, errlen, "%s:%d: key '%s' outside any [section]",
                     path, line, key);
            rc = VS_ECONFIG;
            break;
        }
        rc = fn(arg, section, key, value, line, err, errlen);
        if (rc)
            break;
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = VS_ECONFIG;
    }
    free(buf);
    fclose(f);
    return rc;
}
