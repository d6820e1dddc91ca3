/* The record of violated invariants (util/inv.h). */
#include "util/inv.h"

#include <stdarg.h>
#include <stdio.h>

static uint64_t count;
static char first[256];

void vs_inv_fail(const char *file, int line, const char *fmt, ...)
{
    if (count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(first, sizeof first, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof first)
            snprintf(first + n, sizeof first - (size_t)n, " (%s:%d)", file,
                     line);
        fprintf(stderr, "vmmcsim: invariant violated: %s\n", first);
    }
}

uint64_t vs_inv_count(void) { return count; }
const char *vs_inv_first(void) { return first; }

void vs_inv_reset(void)
{
    count = 0;
    first[0] = 0;
}
