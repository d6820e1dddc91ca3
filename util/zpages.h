/*
 * Zeroed, page-aligned blocks from mappings of huge pages that nobody
 * clears: the kernel hands out zero pages, so a block costs memory only
 * where it is written (a page that is only read maps the kernel's zero
 * page), and taking one costs no memset.  For large blocks a simulated
 * host or NIC keeps for a whole run (send buffers, UTLB tables).  A block
 * given back is kept for the next of the same size (cleared then); the
 * mappings go when the last block is given back.  Under AddressSanitizer
 * they are plain heap blocks, so overruns are still caught.  Thread-safe.
 */
#ifndef UTIL_ZPAGES_H
#define UTIL_ZPAGES_H

#include <stddef.h>

/* size bytes (rounded up to whole 4 KiB pages), zeroed; NULL if out of
 * memory. */
void *vs_zpages_alloc(size_t size);
/* Gives back p (NULL: nothing) of the size it was taken with. */
void vs_zpages_free(void *p, size_t size);

/* size bytes, zeroed, on a mapping of their own with ordinary pages: only
 * the pages written cost memory, for large blocks written sparsely (a
 * huge page of the arena above would become memory whole).  A heap block
 * under AddressSanitizer.  NULL if out of memory. */
void *vs_map_zeroed(size_t size);
/* Gives back p (NULL: nothing) of the size it was taken with. */
void vs_unmap_zeroed(void *p, size_t size);

#endif
