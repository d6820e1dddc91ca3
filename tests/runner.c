/*
 * The test runner: registers every suite, runs all of them or the one
 * named on the command line, prints CUnit's summary and exits non-zero on
 * any failure.  Runs from the repository root (it moves there if started
 * elsewhere) because the tests read configs/.
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/suites.h"
#include "util/layout.h"

static const th_register_fn suites[] = {
#define TH_SUITE_(fn) fn,
    TH_SUITES(TH_SUITE_)
#undef TH_SUITE_
};

static void find_root(void)
{
    if (access(TH_PROFILE, R_OK) == 0)
        return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = 0;
    char *dir = dirname(exe);
    char up[PATH_MAX + 4];
    snprintf(up, sizeof up, "%s/..", dir);
    if (chdir(up) != 0)
        perror("chdir");
}

int main(int argc, char **argv)
{
    vs_stable_layout(argv);
    find_root();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (size_t i = 0; i < sizeof suites / sizeof *suites; i++)
        suites[i]();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (argc > 1) {
        CU_pSuite s = CU_get_suite(argv[1]);
        if (!s) {
            fprintf(stderr, "no suite named '%s'; suites:", argv[1]);
            for (CU_pSuite p = CU_get_registry()->pSuite; p; p = p->pNext)
                fprintf(stderr, " %s", p->pName);
            fprintf(stderr, "\n");
            CU_cleanup_registry();
            return 2;
        }
        CU_basic_run_suite(s);
    } else {
        CU_basic_run_tests();
    }
    unsigned failed = CU_get_number_of_failures() +
                      CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "no test ran\n");
        return 1;
    }
    return failed ? 1 : 0;
}
