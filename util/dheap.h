/*
 * A deterministic heap: where a block falls within its pages depends only
 * on the sequence of calls this heap has seen, never on what the rest of
 * the process allocated before.  For the libraries' buffers that VMMC
 * reads or writes (messages, staging buffers): VMMC splits a transfer at
 * the pages of its buffer and translates and pins page by page, so with
 * malloc the simulated times moved with the length of the platform's path,
 * stdout being a file or a pipe, or the huge-page setting (docs/design.md,
 * "Deterministic results").
 *
 * Blocks up to 1 KiB come from size classes of 16 bytes carved from 64 MiB
 * mappings; larger ones start 16 bytes into a run of whole pages of their
 * own, and from 1 MiB on a mapping of their own.  A block given back is
 * reused by the next request of its class (or page count); nothing is
 * merged.  Alignment 16 bytes.  Thread-safe.  Blocks are not the C
 * library's: give them back with vs_dheap_free only.
 */
#ifndef UTIL_DHEAP_H
#define UTIL_DHEAP_H

#include <stddef.h>

/* size bytes (0: a minimal block), not cleared; NULL if out of memory. */
void *vs_dheap_alloc(size_t size);
/* size bytes on whole pages of their own, page aligned (for areas that
 * are exported or DMA'd into at fixed offsets), not cleared; NULL if out
 * of memory. */
void *vs_dheap_pages(size_t size);
/* Gives p back (NULL: nothing). */
void vs_dheap_free(void *p);

#endif
