/*
 * subset: every call of vmmcsim's MPI subset, each checked against what
 * MPI says it must do, on any number of ranks.  Prints one line per
 * failed check and a summary on rank 0; exit status 1 if any failed.
 *
 *   build/vmmcsim-cc -o build/mpi-subset examples/mpi/subset.c
 *   build/vmmcsim exec -n 3 --platform configs/myrinet-8.xml build/mpi-subset
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, failed, checks;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        checks++;                                                           \
        if (!(cond)) {                                                      \
            failed++;                                                       \
            printf("rank %d: FAILED %s: ", rank, #cond);                   \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
        }                                                                   \
    } while (0)

static void point_to_point(void)
{
    int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    /* Non-blocking ring, then wait for both. */
    int out = rank * 10, in = -1;
    MPI_Request rq[2];
    MPI_Status st[2];
    MPI_Irecv(&in, 1, MPI_INT, prev, 5, MPI_COMM_WORLD, &rq[0]);
    MPI_Isend(&out, 1, MPI_INT, next, 5, MPI_COMM_WORLD, &rq[1]);
    MPI_Waitall(2, rq, st);
    CHECK(in == prev * 10, "got %d", in);
    CHECK(st[0].MPI_SOURCE == prev && st[0].MPI_TAG == 5, "status %d %d",
          st[0].MPI_SOURCE, st[0].MPI_TAG);
    CHECK(rq[0] == MPI_REQUEST_NULL && rq[1] == MPI_REQUEST_NULL,
          "requests not reset");
    /* Order: two messages with the same tag arrive in the order sent;
     * wildcards match them. */
    if (rank == 0) {
        int *seen = calloc(size, sizeof *seen);
        for (int m = 0; m < 2 * (size - 1); m++) {
            long v;
            MPI_Status s, p;
            int count;
            MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &p);
            MPI_Get_count(&p, MPI_LONG, &count);
            CHECK(count == 1 && p.MPI_TAG == 7, "probe %d %d", count,
                  p.MPI_TAG);
            MPI_Recv(&v, 1, MPI_LONG, MPI_ANY_SOURCE, MPI_ANY_TAG,
                     MPI_COMM_WORLD, &s);
            int i = s.MPI_SOURCE;
            CHECK(i == p.MPI_SOURCE, "probe said %d, recv got %d",
                  p.MPI_SOURCE, i);
            CHECK(i > 0 && i < size && v == i * 100 + seen[i],
                  "from %d got %ld", i, v);
            if (i > 0 && i < size)
                seen[i]++;
        }
        free(seen);
        int flag = 1;
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, 7, MPI_COMM_WORLD, &flag, &s);
        CHECK(flag == 0, "a message left over");
    } else {
        for (long k = 0; k < 2; k++) {
            long v = rank * 100 + k;
            MPI_Send(&v, 1, MPI_LONG, 0, 7, MPI_COMM_WORLD);
        }
    }
    /* Test until done; MPI_PROC_NULL is a no-op. */
    double d = 1.5, e = 0;
    MPI_Request r;
    MPI_Irecv(&e, 1, MPI_DOUBLE, prev, 9, MPI_COMM_WORLD, &r);
    MPI_Send(&d, 1, MPI_DOUBLE, next, 9, MPI_COMM_WORLD);
    int flag = 0;
    while (!flag)
        MPI_Test(&r, &flag, MPI_STATUS_IGNORE);
    CHECK(e == 1.5, "got %g", e);
    MPI_Send(&d, 1, MPI_DOUBLE, MPI_PROC_NULL, 0, MPI_COMM_WORLD);
    MPI_Status s;
    MPI_Recv(&e, 1, MPI_DOUBLE, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &s);
    CHECK(s.MPI_SOURCE == MPI_PROC_NULL, "proc null status %d",
          s.MPI_SOURCE);
    /* Waitany over one real request and a null one. */
    int z = -1, idx = -1;
    MPI_Request two[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    MPI_Irecv(&z, 1, MPI_INT, prev, 11, MPI_COMM_WORLD, &two[1]);
    MPI_Send(&rank, 1, MPI_INT, next, 11, MPI_COMM_WORLD);
    MPI_Waitany(2, two, &idx, MPI_STATUS_IGNORE);
    CHECK(idx == 1 && z == prev, "waitany %d %d", idx, z);
}

static void collectives(void)
{
    int n = size, *a = malloc(4 * n * sizeof *a), *b = malloc(4 * n * sizeof *b);
    /* Bcast from the last rank. */
    int v = rank == n - 1 ? 4242 : 0;
    MPI_Bcast(&v, 1, MPI_INT, n - 1, MPI_COMM_WORLD);
    CHECK(v == 4242, "bcast %d", v);
    /* Reduce and Allreduce, several ops and types. */
    long s = rank + 1, sum = 0;
    MPI_Reduce(&s, &sum, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        CHECK(sum == (long)n * (n + 1) / 2, "reduce sum %ld", sum);
    double x[2] = {rank, -rank}, mx[2];
    MPI_Allreduce(x, mx, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    CHECK(mx[0] == n - 1 && mx[1] == 0, "allreduce max %g %g", mx[0], mx[1]);
    unsigned bits = 1u << (rank % 32), all;
    MPI_Allreduce(&bits, &all, 1, MPI_UNSIGNED, MPI_BOR, MPI_COMM_WORLD);
    CHECK(all == (n >= 32 ? ~0u : (1u << n) - 1), "bor %x", all);
    float f = 2, prod;
    MPI_Allreduce(&f, &prod, 1, MPI_FLOAT, MPI_PROD, MPI_COMM_WORLD);
    CHECK(prod == (float)(1 << (n < 24 ? n : 0)) || n >= 24, "prod %g", prod);
    int mine = rank, minv;
    MPI_Allreduce(&mine, &minv, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    CHECK(minv == 0, "min %d", minv);
    /* Gather / Scatter / Allgather of two ints per rank. */
    int two[2] = {rank, rank * rank};
    MPI_Gather(two, 2, MPI_INT, a, 2, MPI_INT, 1 % n, MPI_COMM_WORLD);
    if (rank == 1 % n)
        for (int i = 0; i < n; i++)
            CHECK(a[2 * i] == i && a[2 * i + 1] == i * i, "gather %d", i);
    for (int i = 0; i < 2 * n; i++)
        a[i] = i * 3;
    int got[2];
    MPI_Scatter(a, 2, MPI_INT, got, 2, MPI_INT, 0, MPI_COMM_WORLD);
    CHECK(got[0] == 6 * rank && got[1] == 6 * rank + 3, "scatter %d %d",
          got[0], got[1]);
    MPI_Allgather(two, 2, MPI_INT, b, 2, MPI_INT, MPI_COMM_WORLD);
    for (int i = 0; i < n; i++)
        CHECK(b[2 * i] == i && b[2 * i + 1] == i * i, "allgather %d", i);
    /* Alltoall: block j of mine goes to rank j. */
    for (int j = 0; j < n; j++)
        a[j] = rank * 1000 + j;
    MPI_Alltoall(a, 1, MPI_INT, b, 1, MPI_INT, MPI_COMM_WORLD);
    for (int i = 0; i < n; i++)
        CHECK(b[i] == i * 1000 + rank, "alltoall from %d: %d", i, b[i]);
    /* Alltoallv: rank i sends i+1 ints to everyone. */
    int *sc = malloc(n * sizeof *sc), *sd = malloc(n * sizeof *sd),
        *rc = malloc(n * sizeof *rc), *rd = malloc(n * sizeof *rd);
    int *sv = malloc(n * (n + 1) * sizeof *sv), *rv = malloc(n * (n + 1) *
                                                            sizeof *rv);
    for (int j = 0, off = 0; j < n; j++) {
        sc[j] = rank + 1;
        sd[j] = j * (rank + 1);
        rc[j] = j + 1;
        rd[j] = off;
        off += j + 1;
        for (int k = 0; k <= rank; k++)
            sv[j * (rank + 1) + k] = rank * 100 + j * 10 + k;
    }
    MPI_Alltoallv(sv, sc, sd, MPI_INT, rv, rc, rd, MPI_INT, MPI_COMM_WORLD);
    for (int i = 0; i < n; i++)
        for (int k = 0; k <= i; k++)
            CHECK(rv[rd[i] + k] == i * 100 + rank * 10 + k,
                  "alltoallv from %d [%d]: %d", i, k, rv[rd[i] + k]);
    free(sc);
    free(sd);
    free(rc);
    free(rd);
    free(sv);
    free(rv);
    free(a);
    free(b);
}

int main(int argc, char **argv)
{
    int flag = 1;
    MPI_Initialized(&flag);
    CHECK(flag == 0, "initialized before MPI_Init");
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double t0 = MPI_Wtime();
    point_to_point();
    collectives();
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(MPI_Wtime() > t0, "time stood still");
    int total;
    MPI_Reduce(&failed, &total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("subset: %d ranks, %d checks on rank 0, %s\n", size, checks,
               total ? "FAILED" : "all passed");
    MPI_Bcast(&total, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    MPI_Finalized(&flag);
    return total || !flag ? 1 : 0;
}
