/* Helpers for tests that build programs with vmmcsim-cc and run them with
 * the vmmcsim binary beside the test runner (tests/cli/exec_helpers.c). */
#ifndef TESTS_CLI_EXEC_HELPERS_H
#define TESTS_CLI_EXEC_HELPERS_H

#include <stddef.h>

/* The vmmcsim binary and compiler wrapper of this build. */
const char *th_vmmcsim(void);
const char *th_vmmcsim_cc(void);

/* Runs a shell command (printf-style) with stdout and stderr into out;
 * returns its exit status (128 + signal if it died). */
int th_sh(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Builds src with vmmcsim-cc into a temporary file named in path
 * (PATH_MAX); 0, or the compiler's status (its output is printed). */
int th_build_program(const char *src, char *path);

#endif
