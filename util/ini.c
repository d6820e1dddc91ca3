/* The INI reader of util/ini.h. */
#include "util/ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

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
    char buf[1024], section[64] = "";
    int line = 0, rc = VS_OK;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: line longer than %zu characters",
                     path, line, sizeof buf - 2);
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
    fclose(f);
    return rc;
}
