/*
 * Stable memory layout for deterministic runs.  Simulated programs run at
 * their real addresses: where malloc puts a buffer decides how its pages
 * split into packets and where its translations land in the NIC's cache.
 * With address-space layout randomisation, that changes from run to run,
 * and so would the results.  vs_stable_layout() turns randomisation off for
 * this process by re-executing it once with ADDR_NO_RANDOMIZE (Linux), so
 * the same inputs give the same output byte for byte.  Set VMMCSIM_ASLR=1
 * to keep randomisation (for example under valgrind, which does not follow
 * the re-exec).  The re-executed process also asks glibc's malloc for
 * transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1) unless
 * VMMCSIM_NO_THP is set or the user chose that tunable.
 */
#ifndef UTIL_LAYOUT_H
#define UTIL_LAYOUT_H

#include <stddef.h>

/* Call first in main(); returns only if no re-exec was needed or it could
 * not be done. */
void vs_stable_layout(char **argv);

/* The GLIBC_TUNABLES value that asks glibc's malloc for transparent huge
 * pages (madvise mode, Debian's default), given the current value cur and
 * VMMCSIM_NO_THP off (either may be NULL): written into out, and 1; 0 if
 * the environment stays as it is (off is set and not "0", cur already
 * chooses glibc.malloc.hugetlb, or out is too small). */
int vs_thp_tunables(const char *cur, const char *off, char *out,
                    size_t outlen);

#endif
