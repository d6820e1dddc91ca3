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

/* Call first in main(); returns only if no re-exec was needed or it could
 * not be done. */
void vs_stable_layout(char **argv);

#endif
