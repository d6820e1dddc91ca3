/* Internal to cli/: running the vmmcsim command in a child process. */
#ifndef CLI_CLI_INT_H
#define CLI_CLI_INT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Forks a child that runs cli_main(argc, argv) with stdout and stderr
 * going to out and err; returns its pid, or -1. */
pid_t cli__spawn(int argc, char **argv, FILE *out, FILE *err);

/* Prints "vmmcsim: error: WHO<message>" on one line of stderr; returns 2,
 * the exit status of bad input. */
int cli__error(const char *who, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads all of f (from its start) into buf, NUL-terminated. */
void cli__slurp(FILE *f, char *buf, size_t len);

/* The number after the first "key": in the JSON a run prints; *found (if
 * not NULL) says whether the key is there (0 is returned if not). */
double cli__json_num(const char *json, const char *key, int *found);

/* Runs cli_main(argc, argv) in a forked child with stdout and stderr
 * captured into out and err (NUL-terminated, truncated to their sizes).
 * Returns the child's exit status, 128 + signal if it died, or -1 if it
 * could not be started. */
int cli__run_child(int argc, char **argv, char *out, size_t outlen, char *err,
                   size_t errlen);

#endif
