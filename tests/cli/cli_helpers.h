/*
 * Helpers for the tests of the vmmcsim command line (tests/cli/): running
 * "vmmcsim ARGS..." through cli_main() in a child with its exit status,
 * stdout and stderr kept, and checking the one-line error of bad input.
 */
#ifndef TESTS_CLI_CLI_HELPERS_H
#define TESTS_CLI_CLI_HELPERS_H

/* What one run of the command left behind. */
struct cli_result {
    int status; /* exit status: 0 ok, 1 the run failed, 2 bad input */
    char out[16384];
    char err[8192];
};

/* Runs "vmmcsim ARGS..." (NULL-terminated) through cli_main in a child. */
void run_cli(struct cli_result *r, ...) __attribute__((sentinel));

/* Bad input: exit status 2, nothing on stdout, and exactly one line on
 * stderr that starts with start and contains every one of the
 * NULL-terminated strings.  Failures are recorded at file:line. */
void cli_expect_bad(const struct cli_result *r, const char *start,
                    const char *file, unsigned line, ...)
    __attribute__((sentinel));
#define CLI_EXPECT_BAD(r, start, ...)                                       \
    cli_expect_bad((r), (start), __FILE__, __LINE__, __VA_ARGS__)

#endif
