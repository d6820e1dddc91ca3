/*
 * stencil: Jacobi relaxation of the Laplace equation on an N x N grid,
 * rows split among the ranks, one halo row exchanged with each neighbour
 * per iteration (MPI_Sendrecv); the boundary is fixed (top edge 1.0).
 * At the end rank 0 gathers the grid and compares it, bit for bit, with
 * the same iterations done serially; MPI_Allreduce gives the residual.
 * Exit status 1 if they differ.
 *
 *   build/vmmcsim-cc -O2 -o build/mpi-stencil examples/mpi/stencil.c
 *   build/vmmcsim exec -n 4 --platform configs/myrinet-8.xml build/mpi-stencil
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 64
#define ITERS 100

static double grid[N][N], next[N][N]; /* each rank uses its rows only */

static void boundary(double g[N][N])
{
    for (int j = 0; j < N; j++)
        g[0][j] = 1.0;
}

static void sweep(double g[N][N], double h[N][N], int lo, int hi)
{
    for (int i = lo; i < hi; i++) {
        if (i == 0 || i == N - 1)
            continue;
        for (int j = 1; j < N - 1; j++)
            h[i][j] = 0.25 * (g[i - 1][j] + g[i + 1][j] + g[i][j - 1] +
                              g[i][j + 1]);
    }
    for (int i = lo; i < hi; i++)
        if (i != 0 && i != N - 1)
            for (int j = 1; j < N - 1; j++)
                g[i][j] = h[i][j];
}

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (N % size) {
        if (rank == 0)
            fprintf(stderr, "stencil: %d ranks do not divide %d rows\n",
                    size, N);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    int rows = N / size, lo = rank * rows, hi = lo + rows;
    boundary(grid);
    double t0 = MPI_Wtime();
    for (int it = 0; it < ITERS; it++) {
        int up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
        int down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
        /* My first row up, the row below mine from below; and back. */
        MPI_Sendrecv(grid[lo], N, MPI_DOUBLE, up, 0,
                     hi < N ? grid[hi] : next[0], N, MPI_DOUBLE, down, 0,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Sendrecv(grid[hi - 1], N, MPI_DOUBLE, down, 1,
                     lo > 0 ? grid[lo - 1] : next[0], N, MPI_DOUBLE, up, 1,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        sweep(grid, next, lo, hi);
    }
    double local = 0, total;
    for (int i = lo; i < hi; i++)
        for (int j = 0; j < N; j++)
            local += grid[i][j];
    MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double elapsed = MPI_Wtime() - t0;
    /* Everyone's rows to rank 0, then the serial run to compare with. */
    static double all[N][N];
    MPI_Gather(grid[lo], rows * N, MPI_DOUBLE, all, rows * N, MPI_DOUBLE, 0,
               MPI_COMM_WORLD);
    int bad = 0;
    if (rank == 0) {
        static double ser[N][N], tmp[N][N];
        boundary(ser);
        for (int it = 0; it < ITERS; it++)
            sweep(ser, tmp, 0, N);
        bad = memcmp(ser, all, sizeof ser) != 0;
        double sum = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                sum += ser[i][j];
        printf("stencil: %d ranks, %dx%d, %d iterations, sum %.12f, "
               "serial sum %.12f, grid %s the serial one, %.3f ms "
               "simulated\n",
               size, N, N, ITERS, total, sum,
               bad ? "DIFFERS FROM" : "matches", elapsed * 1e3);
        if (fabs(sum - total) > 1e-9 * fabs(sum))
            bad = 1;
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return bad;
}
