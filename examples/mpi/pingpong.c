/*
 * pingpong: MPI ping-pong between ranks 0 and 1 (the others wait at the
 * barrier).  For each size, 0 bytes to 256 KiB, rank 0 sends, rank 1
 * returns the message, and rank 0 checks every byte and the count the
 * status reports, then prints the half round-trip time from MPI_Wtime
 * (simulated time) and the bandwidth.  Exit status 1 on a wrong byte.
 *
 *   build/vmmcsim-cc -O2 -o build/mpi-pingpong examples/mpi/pingpong.c
 *   build/vmmcsim exec -n 2 build/mpi-pingpong
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITERS 10

int main(int argc, char **argv)
{
    static const int sizes[] = {0, 1, 4, 1024, 1025, 4096, 65536, 262144};
    int rank, size, bad = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        fprintf(stderr, "pingpong needs 2 ranks\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    unsigned char *buf = malloc(262144), *want = malloc(262144);
    if (rank == 0)
        printf("%10s %12s %12s\n", "bytes", "latency_us", "MB/s");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int n = sizes[s];
        for (int i = 0; i < n; i++)
            want[i] = (unsigned char)(i * 7 + n);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int it = 0; it < ITERS && rank < 2; it++) {
            MPI_Status st;
            int count;
            if (rank == 0) {
                memcpy(buf, want, (size_t)n);
                MPI_Send(buf, n, MPI_BYTE, 1, it, MPI_COMM_WORLD);
                memset(buf, 0, (size_t)n);
                MPI_Recv(buf, n, MPI_BYTE, 1, it, MPI_COMM_WORLD, &st);
                MPI_Get_count(&st, MPI_BYTE, &count);
                if (count != n || memcmp(buf, want, (size_t)n) ||
                    st.MPI_SOURCE != 1 || st.MPI_TAG != it)
                    bad++;
            } else {
                MPI_Recv(buf, n, MPI_BYTE, 0, it, MPI_COMM_WORLD, &st);
                MPI_Send(buf, n, MPI_BYTE, 0, it, MPI_COMM_WORLD);
            }
        }
        double us = (MPI_Wtime() - t0) * 1e6 / ITERS / 2;
        if (rank == 0)
            printf("%10d %12.3f %12.3f\n", n, us, us > 0 ? n / us : 0.0);
    }
    if (rank == 0)
        printf("pingpong: %s\n", bad ? "WRONG DATA" : "all bytes checked");
    free(buf);
    free(want);
    MPI_Finalize();
    return bad ? 1 : 0;
}
