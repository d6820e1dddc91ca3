/* Strings for the project-wide error codes of util/err.h. */
#include "util/err.h"

#include <stdio.h>

const char *vs_strerror(int err)
{
    switch (err) {
#define VS_ERR_CASE_(name, value, text)                                     \
    case value:                                                             \
        return text;
        VS_ERRORS(VS_ERR_CASE_)
#undef VS_ERR_CASE_
    default:
        return "unknown error";
    }
}

void vs_errmsg_vset(char *buf, size_t len, int err, const char *fmt,
                    va_list ap)
{
    int n = vsnprintf(buf, len, fmt, ap);
    if (n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (%s)", vs_strerror(err));
}
