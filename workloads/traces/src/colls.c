/*
 * colls: the trace source of workloads/traces/colls/ (see ../README.md).
 * Every collective SimGrid's trace replay knows, each after a little
 * computation: barrier, bcast (small and large), reduce, allreduce,
 * alltoall, gather, scatter, allgather, alltoallv, gatherv, scatterv,
 * allgatherv, reduce_scatter, scan and exscan, with several roots and
 * datatypes.  Rank 0 checks a few results.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef SMPI_H
#define WORK(flops) smpi_execute_flops(flops)
#else
#define WORK(flops) ((void)(flops))
#endif

int main(int argc, char **argv)
{
    int rank, size, bad = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int *a = calloc(4096, sizeof(int)), *b = calloc(4096 * 16, sizeof(int));
    int *cnt = calloc(size, sizeof(int)), *dsp = calloc(size, sizeof(int));
    double x = rank + 1, y = 0;

    WORK(3e5);
    MPI_Barrier(MPI_COMM_WORLD);
    a[0] = rank == 1 ? 42 : 0;
    MPI_Bcast(a, 1, MPI_INT, 1, MPI_COMM_WORLD);
    bad |= a[0] != 42;
    WORK(2e5 * (rank + 1));
    MPI_Bcast(b, 4096, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Reduce(&x, &y, 1, MPI_DOUBLE, MPI_SUM, 2, MPI_COMM_WORLD);
    bad |= rank == 2 && y != size * (size + 1) / 2.0;
    WORK(1e5);
    MPI_Allreduce(a, b, 256, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Alltoall(a, 16, MPI_INT, b, 16, MPI_INT, MPI_COMM_WORLD);
    WORK(1e5);
    MPI_Gather(a, 100, MPI_INT, b, 100, MPI_INT, 3, MPI_COMM_WORLD);
    MPI_Scatter(b, 300, MPI_INT, a, 300, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Allgather(a, 8, MPI_DOUBLE, b, 8, MPI_DOUBLE, MPI_COMM_WORLD);
    WORK(2e5);
    /* Rank i sends 10 (i + j + 1) ints to rank j: symmetric counts. */
    for (int i = 0; i < size; i++) {
        cnt[i] = 10 * (rank + i + 1);
        dsp[i] = i ? dsp[i - 1] + cnt[i - 1] : 0;
    }
    MPI_Alltoallv(a, cnt, dsp, MPI_INT, b, cnt, dsp, MPI_INT, MPI_COMM_WORLD);
    for (int i = 0; i < size; i++) {
        cnt[i] = 10 * (i + 1);
        dsp[i] = i ? dsp[i - 1] + cnt[i - 1] : 0;
    }
    MPI_Gatherv(a, cnt[rank], MPI_INT, b, cnt, dsp, MPI_INT, 0, MPI_COMM_WORLD);
    WORK(1e5);
    MPI_Scatterv(b, cnt, dsp, MPI_INT, a, cnt[rank], MPI_INT, size - 1,
                 MPI_COMM_WORLD);
    MPI_Allgatherv(a, cnt[rank], MPI_INT, b, cnt, dsp, MPI_INT,
                   MPI_COMM_WORLD);
    MPI_Reduce_scatter(b, a, cnt, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    WORK(1e5);
    MPI_Scan(&x, &y, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    bad |= y != (rank + 1) * (rank + 2) / 2.0;
    MPI_Exscan(&x, &y, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    int all = 0;
    MPI_Reduce(&bad, &all, 1, MPI_INT, MPI_LOR, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("colls: %d ranks, %s\n", size, all ? "FAILED" : "ok");
    free(a);
    free(b);
    free(cnt);
    free(dsp);
    MPI_Finalize();
    return all;
}
