/*
 * halo: the trace source of workloads/traces/halo/ (see ../README.md).
 * A periodic 1-D halo exchange: every iteration posts MPI_Irecv from both
 * neighbours and MPI_Isend to both, computes its interior, then completes
 * the four requests with MPI_Waitall (even iterations) or one MPI_Wait
 * each (odd ones, after an MPI_Test of the first).  Halos alternate
 * between 512 B (eager in msg) and 4 KiB (rendezvous); the end is one
 * MPI_Sendrecv shift and an MPI_Allreduce of a checksum.  argv[1], if
 * given, is the number of iterations (6; `make bench` records a longer
 * run).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef SMPI_H
#define WORK(flops) smpi_execute_flops(flops)
#else
#define WORK(flops) ((void)(flops))
#endif

#define ITERS 6

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int iters = argc > 1 ? atoi(argv[1]) : ITERS;
    int left = (rank + size - 1) % size, right = (rank + 1) % size;
    double *out_l = calloc(512, sizeof(double)), *out_r = calloc(512, sizeof(double));
    double *in_l = calloc(512, sizeof(double)), *in_r = calloc(512, sizeof(double));
    for (int it = 0; it < iters; it++) {
        int n = it % 2 ? 512 : 64; /* doubles: 4 KiB or 512 B */
        MPI_Request q[4];
        out_l[0] = out_r[0] = rank + it;
        MPI_Irecv(in_l, n, MPI_DOUBLE, left, 1, MPI_COMM_WORLD, &q[0]);
        MPI_Irecv(in_r, n, MPI_DOUBLE, right, 2, MPI_COMM_WORLD, &q[1]);
        MPI_Isend(out_l, n, MPI_DOUBLE, left, 2, MPI_COMM_WORLD, &q[2]);
        MPI_Isend(out_r, n, MPI_DOUBLE, right, 1, MPI_COMM_WORLD, &q[3]);
        WORK(5e5);
        if (it % 2 == 0) {
            MPI_Waitall(4, q, MPI_STATUSES_IGNORE);
        } else {
            int flag;
            MPI_Test(&q[0], &flag, MPI_STATUS_IGNORE);
            for (int k = 0; k < 4; k++)
                MPI_Wait(&q[k], MPI_STATUS_IGNORE);
        }
        WORK(1e5);
    }
    double mine = in_l[0] + in_r[0], got = 0, sum = 0;
    MPI_Sendrecv(&mine, 1, MPI_DOUBLE, right, 0, &got, 1, MPI_DOUBLE, left, 0,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Allreduce(&got, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("halo: %d ranks, checksum %g\n", size, sum);
    free(out_l);
    free(out_r);
    free(in_l);
    free(in_r);
    MPI_Finalize();
    return 0;
}
