/*
 * vmmcsim exec and build/vmmcsim-cc: an ordinary C program (examples/ring.c)
 * is built by the wrapper and runs once per simulated node with its own
 * globals; exit() ends its node only and fails the run with that node's
 * status; a call the project does not provide fails at link time naming
 * it; bad input exits 2 with one line.  The programs run in a real vmmcsim
 * process (the one beside this test runner), as a user would run them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli/exec_helpers.h"
#include "tests/harness.h"

static char out[65536];

static void test_exec_ring(void)
{
    char prog[PATH_MAX];
    CU_ASSERT_EQUAL_FATAL(th_build_program("examples/ring.c", prog), 0);
    int rc = th_sh(out, sizeof out, "%s exec -n 8 --platform %s %s",
                   th_vmmcsim(), TH_PLATFORM_8, prog);
    CU_ASSERT_EQUAL(rc, 0);
    for (int i = 0; i < 8; i++) {
        char line[128];
        snprintf(line, sizeof line,
                 "node %d of 8: %d from node %d at 77.144 us, main ran 1 "
                 "time(s) here\n",
                 i, (i + 7) % 8, (i + 7) % 8);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, line));
    }
    /* Three of the eight nodes; node 1 exits 7 at its end. */
    rc = th_sh(out, sizeof out, "%s exec -n 3 --platform %s %s 7",
               th_vmmcsim(), TH_PLATFORM_8, prog);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "node 2 of 3: 1 from node 1"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "vmmcsim: exec: node 1 exited with status 7\n"));
    CU_ASSERT_PTR_NULL(strstr(out, "node 0 exited"));
    unlink(prog);
}

static void test_exec_bad_input(void)
{
    char prog[PATH_MAX];
    CU_ASSERT_EQUAL_FATAL(th_build_program("examples/ring.c", prog), 0);
    CU_ASSERT_EQUAL(th_sh(out, sizeof out, "%s exec -n 9 --platform %s %s",
                          th_vmmcsim(), TH_PLATFORM_8, prog),
                    2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "has 8 host(s); the run asks for 9"));
    CU_ASSERT_EQUAL(th_sh(out, sizeof out, "%s exec %s", th_vmmcsim(), prog),
                    2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "-n N is required"));
    CU_ASSERT_EQUAL(th_sh(out, sizeof out, "%s exec -n 0 %s", th_vmmcsim(),
                          prog),
                    2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "option -n: '0'"));
    CU_ASSERT_EQUAL(
        th_sh(out, sizeof out, "%s exec -n 2 %s", th_vmmcsim(), TH_PROFILE),
        2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not a program built by vmmcsim-cc"));
    CU_ASSERT_EQUAL(th_sh(out, sizeof out, "%s exec -n 2 /nonexistent",
                          th_vmmcsim()),
                    2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "/nonexistent: No such file"));
    unlink(prog);
}

/* A function the project does not provide: the link fails and says which. */
static void test_cc_unknown_call(void)
{
    char src[TH_PATH_LEN];
    th_write_tmp_c(src, "cc",
                   "void vmmcsim_no_such_call(void);\n"
                   "int main(void) { vmmcsim_no_such_call(); return 0; }\n");
    int rc = th_sh(out, sizeof out, "%s -o %s.so %s", th_vmmcsim_cc(), src,
                   src);
    CU_ASSERT_NOT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmmcsim_no_such_call"));
    unlink(src);
}

/* A program keeping 4 MiB on its stack runs, as it would on Linux: exec
 * gives each node an 8 MiB stack (the host processes of vmmcsim run get
 * 256 KiB; a 256 KiB one would overflow here). */
static void test_exec_big_stack(void)
{
    char src[TH_PATH_LEN], prog[PATH_MAX];
    const char *text =
        "#include <stdio.h>\n"
        "#include <string.h>\n"
        "static unsigned sum(volatile unsigned char *b, size_t n)\n"
        "{ unsigned s = 0; for (size_t i = 0; i < n; i += 4096) s += b[i];"
        " return s; }\n"
        "int main(void) {\n"
        "    unsigned char big[4 << 20];\n"
        "    memset(big, 1, sizeof big);\n"
        "    printf(\"stack sum %u\\n\", sum(big, sizeof big));\n"
        "    return 0;\n"
        "}\n";
    th_write_tmp_c(src, "stack", text);
    CU_ASSERT_EQUAL_FATAL(th_build_program(src, prog), 0);
    int rc = th_sh(out, sizeof out, "%s exec -n 2 --platform %s %s",
                   th_vmmcsim(), TH_PLATFORM_8, prog);
    CU_ASSERT_EQUAL(rc, 0);
    const char *first = strstr(out, "stack sum 1024\n");
    CU_ASSERT_PTR_NOT_NULL(first);
    CU_ASSERT_PTR_NOT_NULL(first ? strstr(first + 1, "stack sum 1024\n")
                                 : NULL);
    unlink(src);
    unlink(prog);
}

/* ---- MPI programs (examples/mpi/) ---- */

/* Builds examples/mpi/NAME.c and runs it on n nodes of the 16-node
 * platform; returns the exit status, output in out. */
static int run_mpi(const char *name, int n, char *prog)
{
    char src[128];
    snprintf(src, sizeof src, "examples/mpi/%s.c", name);
    if (!*prog && th_build_program(src, prog))
        return -1;
    return th_sh(out, sizeof out, "%s exec -n %d --platform %s %s",
                 th_vmmcsim(), n, TH_PLATFORM_16, prog);
}

/* Every call of the subset, checked by the program itself, on 2, 3 and 16
 * ranks. */
static void test_mpi_subset(void)
{
    char prog[PATH_MAX] = "";
    const int ns[] = {2, 3, 16};
    for (int i = 0; i < 3; i++) {
        int rc = run_mpi("subset", ns[i], prog);
        CU_ASSERT_EQUAL(rc, 0);
        char want[64];
        snprintf(want, sizeof want, "subset: %d ranks, ", ns[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "all passed\n"));
        CU_ASSERT_PTR_NULL(strstr(out, "FAILED"));
        if (rc)
            fprintf(stderr, "%s", out);
    }
    unlink(prog);
}

/* Drops the sanitizers' own lines ("==PID==..."), which name the process. */
static void drop_sanitizer_lines(char *s)
{
    char *w = s;
    for (char *line = s; *line;) {
        size_t n = strcspn(line, "\n");
        int keep = strncmp(line, "==", 2) != 0 &&
                   strncmp(line, "False positive", 14) != 0 &&
                   strncmp(line, "For details see", 15) != 0;
        if (keep) {
            memmove(w, line, n);
            w += n;
            if (line[n])
                *w++ = '\n';
        }
        line += n + (line[n] != 0);
    }
    *w = 0;
}

/* The three applications check their own numbers: data, the stencil's grid
 * bit for bit against a serial run, CG's error against the known answer. */
static void test_mpi_programs(void)
{
    char pp[PATH_MAX] = "", st[PATH_MAX] = "", cg[PATH_MAX] = "";
    CU_ASSERT_EQUAL(run_mpi("pingpong", 2, pp), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "pingpong: all bytes checked"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "    262144 "));
    CU_ASSERT_EQUAL(run_mpi("stencil", 4, st), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "grid matches the serial one"));
    CU_ASSERT_EQUAL(run_mpi("stencil", 16, st), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "stencil: 16 ranks"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "grid matches the serial one"));
    const int ns[] = {2, 8, 16};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(run_mpi("cg", ns[i], cg), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "(ok)"));
    }
    /* The same run twice: the same simulated times, to the digit. */
    static char first[sizeof out];
    run_mpi("cg", 8, cg);
    drop_sanitizer_lines(out);
    memcpy(first, out, sizeof out);
    run_mpi("cg", 8, cg);
    drop_sanitizer_lines(out);
    CU_ASSERT_STRING_EQUAL(out, first);
    /* A program's own abort: its code is the run's status. */
    CU_ASSERT_EQUAL(run_mpi("stencil", 3, st), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "MPI_Abort on rank 0 with code 2"));
    unlink(pp);
    unlink(st);
    unlink(cg);
}

/* Misuse is fatal, naming the call, the rank and the reason; a call
 * outside the subset does not compile, naming the call. */
static void test_mpi_errors(void)
{
    char src[TH_PATH_LEN], prog[PATH_MAX];
    const char *text =
        "#include <mpi.h>\n"
        "int main(int argc, char **argv) {\n"
        "    int x = 1, r;\n"
        "    MPI_Init(&argc, &argv);\n"
        "    MPI_Comm_rank(MPI_COMM_WORLD, &r);\n"
        "    if (argc > 1 && r == 1) MPI_Send(&x, 1, MPI_INT, 5, 0, "
        "MPI_COMM_WORLD);\n"
        "    if (argc > 2 && r == 0) MPI_Send(&x, -1, MPI_INT, 1, 0, "
        "MPI_COMM_WORLD);\n"
        "    MPI_Finalize();\n"
        "    return 0;\n"
        "}\n";
    th_write_tmp_c(src, "mpi", text);
    CU_ASSERT_EQUAL_FATAL(th_build_program(src, prog), 0);
    CU_ASSERT_EQUAL(
        th_sh(out, sizeof out, "%s exec -n 2 %s", th_vmmcsim(), prog), 0);
    CU_ASSERT_EQUAL(
        th_sh(out, sizeof out, "%s exec -n 2 %s x", th_vmmcsim(), prog), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmmcsim: MPI error on rank 1: "
                                       "MPI_Send: rank 5 is not in 0..1 "
                                       "(invalid rank)"));
    CU_ASSERT_EQUAL(
        th_sh(out, sizeof out, "%s exec -n 2 %s x y", th_vmmcsim(), prog), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "MPI_Send: count -1 is negative"));
    unlink(prog);
    /* Outside the subset. */
    unlink(src);
    text = "#include <mpi.h>\n"
           "int main(int argc, char **argv) {\n"
           "    MPI_Comm c;\n"
           "    MPI_Init(&argc, &argv);\n"
           "    MPI_Comm_split(MPI_COMM_WORLD, 0, 0, &c);\n"
           "    return MPI_Finalize();\n"
           "}\n";
    th_write_tmp_c(src, "mpi", text);
    CU_ASSERT_NOT_EQUAL(th_sh(out, sizeof out, "%s -o %s %s",
                              th_vmmcsim_cc(), prog, src),
                        0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "MPI_Comm_split is not in vmmcsim's MPI subset"));
    unlink(src);
    unlink(prog);
}

void register_exec_tests(void);
void register_exec_tests(void)
{
    CU_pSuite s = th_suite("exec");
    th_add(s, "a program runs on every node with its own globals",
           test_exec_ring);
    th_add(s, "bad exec input", test_exec_bad_input);
    th_add(s, "a program with 4 MiB on its stack runs", test_exec_big_stack);
    th_add(s, "a call the project lacks fails at link time",
           test_cc_unknown_call);
    th_add(s, "MPI: every call of the subset on 2, 3 and 16 ranks",
           test_mpi_subset);
    th_add(s, "MPI: ping-pong, stencil and CG check their results",
           test_mpi_programs);
    th_add(s, "MPI: misuse is fatal and named; outside the subset fails "
              "to compile",
           test_mpi_errors);
}
