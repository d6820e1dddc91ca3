/*
 * matmul: C = A x B for n x n doubles in shared virtual memory.  Each node
 * fills and computes a block of rows; everything else it needs (all of B)
 * it reads from the shared region, page faults bringing the pages from
 * their homes.  Node 0 then checks C, bit for bit, against the same
 * product computed serially in private memory; exit status 1 if they
 * differ.
 *
 *   build/vmmcsim-cc -O2 -o build/svm-matmul examples/svm/matmul.c
 *   build/vmmcsim exec -n 4 --platform configs/myrinet-16.xml \
 *       build/svm-matmul [n]          (default n = 128)
 */
#include <stdio.h>
#include <stdlib.h>

#include "examples/svm/report.h"

#define PAGE 4096

static double a_init(int i, int j)
{
    return (double)((i * 7 + j * 3) % 17) - 8;
}
static double b_init(int i, int j)
{
    return (double)((i * 5 + j * 11) % 13) / 4;
}

static size_t round_page(size_t n)
{
    return (n + PAGE - 1) / PAGE * PAGE;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 128;
    if (n < 1 || n > 1024) {
        fprintf(stderr, "matmul: n must be 1..1024\n");
        return 2;
    }
    size_t mat = round_page((size_t)n * n * sizeof(double));
    char *base;
    int rc = svm_init(3 * mat + 2 * PAGE, (void **)&base);
    if (rc) {
        fprintf(stderr, "matmul: svm_init: %s\n", svm_errmsg());
        return 2;
    }
    double *A = (double *)base, *B = (double *)(base + mat),
           *C = (double *)(base + 2 * mat);
    void *stats = base + 3 * mat;
    int me = svm_node(), nn = svm_nnodes();
    int lo = (int)((long)n * me / nn), hi = (int)((long)n * (me + 1) / nn);

    for (int i = lo; i < hi; i++)
        for (int j = 0; j < n; j++) {
            A[(size_t)i * n + j] = a_init(i, j);
            B[(size_t)i * n + j] = b_init(i, j);
        }
    svm_barrier();

    struct svm_stats s0, s1;
    svm_get_stats(&s0);
    double t0 = svm_wtime();
    for (int i = lo; i < hi; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int k = 0; k < n; k++)
                sum += A[(size_t)i * n + k] * B[(size_t)k * n + j];
            C[(size_t)i * n + j] = sum;
        }
    charge(2.0 * n * n * (hi - lo), FLOP_NS);
    svm_barrier();
    double t = svm_wtime() - t0;
    svm_get_stats(&s1);

    int ok = 1;
    if (me == 0) {
        double *a = malloc(sizeof *a * (size_t)n * n),
               *b = malloc(sizeof *b * (size_t)n * n);
        if (!a || !b)
            return 3;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                a[(size_t)i * n + j] = a_init(i, j);
                b[(size_t)i * n + j] = b_init(i, j);
            }
        for (int i = 0; i < n && ok; i++)
            for (int j = 0; j < n && ok; j++) {
                double sum = 0;
                for (int k = 0; k < n; k++)
                    sum += a[(size_t)i * n + k] * b[(size_t)k * n + j];
                if (sum != C[(size_t)i * n + j]) {
                    fprintf(stderr, "matmul: C[%d][%d] = %g, want %g\n", i, j,
                            C[(size_t)i * n + j], sum);
                    ok = 0;
                }
            }
        free(a);
        free(b);
    }
    s1 = stats_since(&s0, &s1);
    report("matmul", n, stats, &s1, t, ok);
    svm_finalize();
    return ok ? 0 : 1;
}
