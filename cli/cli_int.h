/* Internal to cli/: running the vmmcsim command in a child process. */
#ifndef CLI_CLI_INT_H
#define CLI_CLI_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "hw/hw.h"

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

/* Reads the baseline file path as vmmcsim bench does (cli/baseline.c) and
 * forgets it: 0, or -1 with the reason in why (the fuzz harness and its
 * regression suite call this). */
int cli__baseline_check(const char *path, char *why, size_t wl);

/* A --seed value: digits only (no blank, no sign), at most 2^64 - 1.
 * 0, or -1 for anything else. */
int cli__parse_seed(const char *v, uint64_t *out);
/* A time like 500ms, 20us, 1.5s, 100ns: at least one picosecond (the
 * simulator's tick), at most about 100 days.  0, or -1. */
int cli__parse_time(const char *s, hw_time_t *out);

/* configs/NAME, from the working directory or beside the binary's
 * folder (the defaults of --platform and --profile), in buf. */
const char *cli__default_config(const char *name, char *buf, size_t len);

#endif
