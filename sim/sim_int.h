/* Internal to sim/: the SimGrid host behind node index i. */
#ifndef SIM_SIM_INT_H
#define SIM_SIM_INT_H

#include <stddef.h>

#include <simgrid/forward.h>

sg_host_t sim__host(size_t i);

#endif
