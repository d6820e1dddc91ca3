/*
 * vmmcsim exec and build/vmmcsim-cc: an ordinary C program (examples/ring.c)
 * is built by the wrapper and runs once per simulated node with its own
 * globals; exit() ends its node only and fails the run with that node's
 * status; a call the project does not provide fails at link time naming
 * it; bad input exits 2 with one line.  The programs run in a real vmmcsim
 * process (the one beside this test runner), as a user would run them.
 */
#define _GNU_SOURCE
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
    char src[] = "/tmp/vmmcsim-cc-XXXXXX.c";
    int fd = mkstemps(src, 2);
    CU_ASSERT_FATAL(fd >= 0);
    const char *text = "void vmmcsim_no_such_call(void);\n"
                       "int main(void) { vmmcsim_no_such_call(); return 0; }\n";
    CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = th_sh(out, sizeof out, "%s -o %s.so %s", th_vmmcsim_cc(), src,
                   src);
    CU_ASSERT_NOT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmmcsim_no_such_call"));
    unlink(src);
}

void register_exec_tests(void);
void register_exec_tests(void)
{
    CU_pSuite s = th_suite("exec");
    th_add(s, "a program runs on every node with its own globals",
           test_exec_ring);
    th_add(s, "bad exec input", test_exec_bad_input);
    th_add(s, "a call the project lacks fails at link time",
           test_cc_unknown_call);
}
