/*
 * sor: red-black successive over-relaxation of the Laplace equation on an
 * (n+2) x (n+2) grid of doubles in shared virtual memory (the border is
 * fixed: 1.0 on the top edge, 0 elsewhere; the inside starts from a fixed
 * pattern).  Each node owns a block of
 * rows; a sweep updates the red points (i + j even), a barrier, then the
 * black ones, a barrier.  The rows at a block's edges share pages with
 * the neighbours' rows, so pages have several writers: the diffs merge
 * them at the home.  Node 0 then checks the grid, bit for bit, against the
 * same sweeps done serially in private memory (red-black order makes the
 * result independent of the split); exit status 1 if they differ.
 *
 *   build/vmmcsim-cc -O2 -o build/svm-sor examples/svm/sor.c
 *   build/vmmcsim exec -n 4 --platform configs/myrinet-16.xml \
 *       build/svm-sor [n [iterations]]     (default 128 and 10)
 */
#include <stdio.h>
#include <stdlib.h>

#include "examples/svm/report.h"

#define PAGE 4096
#define OMEGA 1.25

static void sweep(double *g, int w, int lo, int hi, int color)
{
    for (int i = lo; i < hi; i++)
        for (int j = 1 + (i + color + 1) % 2; j < w - 1; j += 2) {
            double *p = &g[(size_t)i * w + j];
            double avg = (p[-w] + p[w] + p[-1] + p[1]) / 4;
            *p += OMEGA * (avg - *p);
        }
}

/* The start: 1.0 on the top edge, a fixed pattern inside rows lo..hi-1,
 * 0 on the other edges. */
static void start(double *g, int w, int lo, int hi)
{
    if (lo == 1)
        for (int j = 0; j < w; j++)
            g[j] = 1.0;
    for (int i = lo; i < hi; i++)
        for (int j = 1; j < w - 1; j++)
            g[(size_t)i * w + j] = (double)((i * 31 + j * 17) % 100) / 100;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 128;
    int iters = argc > 2 ? atoi(argv[2]) : 10;
    if (n < 2 || n > 2048 || iters < 1) {
        fprintf(stderr, "sor: n must be 2..2048, iterations >= 1\n");
        return 2;
    }
    int w = n + 2;
    size_t bytes = ((size_t)w * w * sizeof(double) + PAGE - 1) / PAGE * PAGE;
    char *base;
    if (svm_init(bytes + 2 * PAGE, (void **)&base)) {
        fprintf(stderr, "sor: svm_init: %s\n", svm_errmsg());
        return 2;
    }
    double *g = (double *)base;
    int me = svm_node(), nn = svm_nnodes();
    /* Interior rows 1..n split among the nodes. */
    int lo = 1 + (int)((long)n * me / nn),
        hi = 1 + (int)((long)n * (me + 1) / nn);
    start(g, w, lo, hi);
    svm_barrier();

    struct svm_stats s0, s1;
    svm_get_stats(&s0);
    double t0 = svm_wtime();
    for (int it = 0; it < iters; it++)
        for (int color = 0; color < 2; color++) {
            sweep(g, w, lo, hi, color);
            charge(6.0 * (hi - lo) * n / 2, FLOP_NS);
            svm_barrier();
        }
    double t = svm_wtime() - t0;
    svm_get_stats(&s1);

    int ok = 1;
    if (me == 0) {
        double *h = calloc((size_t)w * w, sizeof *h);
        if (!h)
            return 3;
        start(h, w, 1, n + 1);
        for (int it = 0; it < iters; it++)
            for (int color = 0; color < 2; color++)
                sweep(h, w, 1, n + 1, color);
        for (size_t i = 0; i < (size_t)w * w && ok; i++)
            if (h[i] != g[i]) {
                fprintf(stderr, "sor: point %zu,%zu is %.17g, want %.17g\n",
                        i / (size_t)w, i % (size_t)w, g[i], h[i]);
                ok = 0;
            }
        free(h);
    }
    s1 = stats_since(&s0, &s1);
    report("sor", n, base + bytes, &s1, t, ok);
    svm_finalize();
    return ok ? 0 : 1;
}
