/* Helpers for the command-line tests (tests/cli/cli_helpers.h). */
#include "tests/cli/cli_helpers.h"

#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tests/harness.h"

void run_cli(struct cli_result *r, ...)
{
    const char *args[TH_CLI_MAX_ARGS + 1];
    int n = 0;
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        CU_ASSERT_FATAL(n < TH_CLI_MAX_ARGS);
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;
    memset(r, 0, sizeof *r);
    r->status = th_cli(args, r->out, sizeof r->out, r->err, sizeof r->err);
}

void cli_expect_bad(const struct cli_result *r, const char *start,
                    const char *file, unsigned line, ...)
{
    char msg[1536];
    snprintf(msg, sizeof msg, "exit status %d, expected 2; stderr \"%.1200s\"",
             r->status, r->err);
    CU_assertImplementation(r->status == 2, line, msg, file, "", CU_FALSE);
    snprintf(msg, sizeof msg, "stdout not empty: \"%.1200s\"", r->out);
    CU_assertImplementation(r->out[0] == 0, line, msg, file, "", CU_FALSE);
    size_t len = strlen(r->err);
    snprintf(msg, sizeof msg,
             "stderr is not one line starting \"%s\": \"%.1200s\"", start,
             r->err);
    CU_assertImplementation(len > 0 &&
                                strchr(r->err, '\n') == r->err + len - 1 &&
                                !strncmp(r->err, start, strlen(start)),
                            line, msg, file, "", CU_FALSE);
    va_list ap;
    va_start(ap, line);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL)
        th_expect_has(r->err, s, 1, file, line);
    va_end(ap);
}
