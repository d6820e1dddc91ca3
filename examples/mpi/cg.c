/*
 * cg: conjugate gradients on the 1-D Poisson matrix (2 on the diagonal,
 * -1 beside it), n unknowns split in blocks among the ranks.  The
 * matrix-vector product needs one value from each neighbour
 * (MPI_Sendrecv); every dot product is an MPI_Allreduce.  The right-hand
 * side is made from a known solution, so the error can be checked.
 * Exit status 1 if CG does not reach it.
 *
 *   build/vmmcsim-cc -O2 -o build/mpi-cg examples/mpi/cg.c -lm
 *   build/vmmcsim exec -n 8 --platform configs/myrinet-8.xml build/mpi-cg
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define N 512

static int rank, size, lo, m;

/* y = A x on my block (x with one halo value each side). */
static void matvec(const double *x, double *y)
{
    double left = 0, right = 0;
    int up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
    int down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
    MPI_Sendrecv(&x[0], 1, MPI_DOUBLE, up, 0, &right, 1, MPI_DOUBLE, down, 0,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&x[m - 1], 1, MPI_DOUBLE, down, 1, &left, 1, MPI_DOUBLE, up,
                 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    for (int i = 0; i < m; i++) {
        double l = i > 0 ? x[i - 1] : left, r = i < m - 1 ? x[i + 1] : right;
        y[i] = 2 * x[i] - l - r;
    }
}

static double dot(const double *a, const double *b)
{
    double s = 0, t;
    for (int i = 0; i < m; i++)
        s += a[i] * b[i];
    MPI_Allreduce(&s, &t, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return t;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (N % size)
        MPI_Abort(MPI_COMM_WORLD, 2);
    m = N / size;
    lo = rank * m;
    double *x = calloc(m, sizeof *x), *r = malloc(m * sizeof *r),
           *p = malloc(m * sizeof *p), *q = malloc(m * sizeof *q),
           *want = malloc(m * sizeof *want), *b = malloc(m * sizeof *b);
    for (int i = 0; i < m; i++)
        want[i] = sin(0.01 * (lo + i)) + 1.0;
    matvec(want, b); /* b = A want */
    for (int i = 0; i < m; i++)
        r[i] = p[i] = b[i];
    double rr = dot(r, r), bb = rr, t0 = MPI_Wtime();
    int it = 0;
    while (it < 4 * N && rr > 1e-24 * bb) {
        matvec(p, q);
        double alpha = rr / dot(p, q);
        for (int i = 0; i < m; i++) {
            x[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        double rr2 = dot(r, r);
        for (int i = 0; i < m; i++)
            p[i] = r[i] + rr2 / rr * p[i];
        rr = rr2;
        it++;
    }
    double err = 0, e;
    for (int i = 0; i < m; i++)
        err = fmax(err, fabs(x[i] - want[i]));
    MPI_Reduce(&err, &e, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    int bad = 0;
    if (rank == 0) {
        bad = !(e < 1e-6);
        printf("cg: %d ranks, n = %d, %d iterations, max error %.3g (%s), "
               "%.3f ms simulated\n",
               size, N, it, e, bad ? "WRONG" : "ok",
               (MPI_Wtime() - t0) * 1e3);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(x);
    free(r);
    free(p);
    free(q);
    free(want);
    free(b);
    MPI_Finalize();
    return bad;
}
