/* What the program runner (vmmcsim exec) tells libs/mpi before a run. */
#ifndef LIBS_MPI_MPI_RT_H
#define LIBS_MPI_MPI_RT_H

#include "libs/msg/msg.h"

/* The msg parameters MPI_Init uses (NULL: msg's defaults). */
void mpi_rt_configure(const struct msg_params *p);
/* Forgets every node's MPI state (between runs in one process). */
void mpi_rt_reset(void);

#endif
