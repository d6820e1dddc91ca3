/* Turning off address-space randomisation for stable layouts (layout.h). */
#define _GNU_SOURCE
#include "util/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <unistd.h>

void vs_stable_layout(char **argv)
{
    const char *keep = getenv("VMMCSIM_ASLR");
    if (keep && *keep && *keep != '0')
        return;
    int p = personality(0xffffffff);
    if (p == -1 || (p & ADDR_NO_RANDOMIZE))
        return;
    if (personality((unsigned long)p | ADDR_NO_RANDOMIZE) == -1)
        return;
    execv("/proc/self/exe", argv);
    /* Could not re-execute: go on with randomisation; results may then
     * depend on where buffers land. */
    personality((unsigned long)p);
    fprintf(stderr, "vmmcsim: warning: could not turn off address "
                    "randomisation; results may vary between runs\n");
}
