/* Turning off address-space randomisation for stable layouts (layout.h). */
#define _GNU_SOURCE
#include "util/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

/* Asks glibc's malloc for transparent huge pages (madvise mode, the
 * Debian default) in the re-executed process, unless the user set that
 * tunable.  A large cluster's state is gigabytes touched a few words at a
 * time; with 4 KiB pages most of its events miss the TLB (docs/speed.md:
 * a third less wall time at 1024 nodes).  Addresses, hence results, are
 * the same. */
static void ask_huge_pages(void)
{
    static const char tun[] = "glibc.malloc.hugetlb=1";
    const char *cur = getenv("GLIBC_TUNABLES");
    if (getenv("VMMCSIM_NO_THP") || (cur && strstr(cur, "glibc.malloc.hugetlb")))
        return;
    if (!cur || !*cur) {
        setenv("GLIBC_TUNABLES", tun, 1);
        return;
    }
    size_t n = strlen(cur) + sizeof tun + 1;
    char *v = malloc(n);
    if (!v)
        return;
    snprintf(v, n, "%s:%s", cur, tun);
    setenv("GLIBC_TUNABLES", v, 1);
    free(v);
}

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
    ask_huge_pages();
    execv("/proc/self/exe", argv);
    /* Could not re-execute: go on with randomisation; results may then
     * depend on where buffers land. */
    personality((unsigned long)p);
    fprintf(stderr, "vmmcsim: warning: could not turn off address "
                    "randomisation; results may vary between runs\n");
}
