/*
 * ring: the trace source of workloads/traces/ring/ (see ../README.md).
 * A token goes around the ranks with blocking MPI_Send / MPI_Recv, three
 * laps per size, each hop preceded by some computation; the sizes cross
 * msg's eager limit (1 KiB) and use three datatypes.  Rank 0 checks that
 * the token came back with every rank's increment.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SMPI_H /* under smpicc: a fixed amount of simulated computation */
#define WORK(flops) smpi_execute_flops(flops)
#else
#define WORK(flops) ((void)(flops))
#endif

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int counts[3] = {2, 256, 8192};
    const MPI_Datatype types[3] = {MPI_INT, MPI_BYTE, MPI_DOUBLE};
    double *buf = calloc(8192, sizeof *buf);
    int left = (rank + size - 1) % size, right = (rank + 1) % size;
    int bad = 0;
    for (int s = 0; s < 3; s++) {
        for (int lap = 0; lap < 3; lap++) {
            int tag = 10 * s + lap;
            if (rank == 0) {
                memset(buf, 0, 8192 * sizeof *buf);
                WORK(2e5);
                MPI_Send(buf, counts[s], types[s], right, tag, MPI_COMM_WORLD);
                MPI_Recv(buf, counts[s], types[s], left, tag, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                if (types[s] == MPI_INT && ((int *)buf)[0] != size - 1)
                    bad = 1;
            } else {
                MPI_Recv(buf, counts[s], types[s], left, tag, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                if (types[s] == MPI_INT)
                    ((int *)buf)[0]++;
                WORK(1e5 * (rank + 1));
                MPI_Send(buf, counts[s], types[s], right, tag, MPI_COMM_WORLD);
            }
        }
    }
    if (rank == 0)
        printf("ring: %d ranks, %s\n", size, bad ? "FAILED" : "ok");
    free(buf);
    MPI_Finalize();
    return bad;
}
