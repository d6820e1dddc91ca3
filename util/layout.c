/* Turning off address-space randomisation for stable layouts (layout.h). */
#define _GNU_SOURCE
#include "util/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

int vs_thp_tunables(const char *cur, const char *off, char *out,
                    size_t outlen)
{
    static const char tun[] = "glibc.malloc.hugetlb=1";
    if ((off && *off && *off != '0') ||
        (cur && strstr(cur, "glibc.malloc.hugetlb")))
        return 0;
    int n = cur && *cur ? snprintf(out, outlen, "%s:%s", cur, tun)
                        : snprintf(out, outlen, "%s", tun);
    return n > 0 && (size_t)n < outlen;
}

/* Asks glibc's malloc for transparent huge pages in the re-executed
 * process (vs_thp_tunables).  A large cluster's state is gigabytes touched
 * a few words at a time; with 4 KiB pages most of its events miss the TLB
 * (docs/speed.md).  Addresses, hence results, are the same. */
static void ask_huge_pages(void)
{
    char v[1024];
    if (vs_thp_tunables(getenv("GLIBC_TUNABLES"), getenv("VMMCSIM_NO_THP"),
                        v, sizeof v))
        setenv("GLIBC_TUNABLES", v, 1);
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
