/* The log sink of util/log.h: per-module levels and a stamped stderr line. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

enum log_level log__levels[LOG_NMODULES_];

static log_stamp_fn log_stamp;
static const char *const log_mod_names[LOG_NMODULES_] = {
    [LOG_SIM] = "sim", [LOG_NICM] = "nicm", [LOG_VMMC] = "vmmc",
    [LOG_WL] = "wl", [LOG_CLI] = "cli",
};
static const char *const log_lvl_names[] = {"off", "error", "warn", "info",
                                            "debug"};

void log_set_stamp(log_stamp_fn fn) { log_stamp = fn; }

static int log_level_by_name(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof log_lvl_names / sizeof *log_lvl_names; i++)
        if (strlen(log_lvl_names[i]) == n && !strncmp(s, log_lvl_names[i], n))
            return (int)i;
    return -1;
}

int log_parse_levels(const char *spec)
{
    while (spec && *spec) {
        const char *end = strchr(spec, ',');
        size_t len = end ? (size_t)(end - spec) : strlen(spec);
        const char *eq = memchr(spec, '=', len);
        if (!eq)
            return VS_EINVAL;
        size_t mlen = (size_t)(eq - spec);
        int lvl = log_level_by_name(eq + 1, len - mlen - 1);
        if (lvl < 0)
            return VS_EINVAL;
        int found = 0;
        for (int m = 0; m < LOG_NMODULES_; m++) {
            if ((mlen == 3 && !strncmp(spec, "all", 3)) ||
                (strlen(log_mod_names[m]) == mlen &&
                 !strncmp(spec, log_mod_names[m], mlen))) {
                log__levels[m] = (enum log_level)lvl;
                found = 1;
            }
        }
        if (!found)
            return VS_EINVAL;
        spec = end ? end + 1 : NULL;
    }
    return VS_OK;
}

void log__emit(enum log_module m, enum log_level l, const char *fmt, ...)
{
    char stamp[64] = "";
    if (log_stamp)
        log_stamp(stamp, sizeof stamp);
    fprintf(stderr, "%s[%s/%s] ", stamp, log_mod_names[m], log_lvl_names[l]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
