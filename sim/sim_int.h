/* Internal to sim/: the SimGrid host behind node index i. */
#ifndef SIM_SIM_INT_H
#define SIM_SIM_INT_H

#include <stddef.h>

#include <simgrid/forward.h>

sg_host_t sim__host(size_t i);

/* The order of host and link names (sim/platform.c): runs of digits
 * compare as numbers, so node-2 comes before node-10.  Negative, 0 or
 * positive like strcmp. */
int sim__natural_cmp(const char *a, const char *b);

#endif
