/*
 * Test harness: CUnit registration helpers, and running a program on a
 * simulated cluster in a child process.  SimGrid can load one platform per
 * OS process, so every simulated scenario forks; checks made inside the
 * simulation (TH_CHECK) travel back through a pipe and become CUnit
 * failures in the parent, with their file and line.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <CUnit/CUnit.h>
#include <stddef.h>

#include "cli/cluster.h"
#include "hw/hw.h"

#define TH_PLATFORM_2 "configs/myrinet-2.xml"
#define TH_PLATFORM_8 "configs/myrinet-8.xml"
#define TH_PLATFORM_16 "configs/myrinet-16.xml"
#define TH_PROFILE "configs/myrinet.ini"

/* A suite registration function, listed in tests/runner.c. */
typedef void (*th_register_fn)(void);

/* Adds a suite with the given tests (NULL-terminated name/function pairs). */
CU_pSuite th_suite(const char *name);
void th_add(CU_pSuite s, const char *name, CU_TestFunc fn);

/* Inside a simulated node program (child process): records a failure. */
void th__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define TH_CHECK(cond, ...)                                                 \
    do {                                                                    \
        if (!(cond))                                                        \
            th__fail(__FILE__, __LINE__, __VA_ARGS__);                      \
    } while (0)
/* Shorthand: a VMMC call must return want. */
#define TH_EXPECT_RC(call, want)                                            \
    do {                                                                    \
        int th_rc_ = (call);                                                \
        TH_CHECK(th_rc_ == (want), "%s returned %d (%s), expected %d", #call,\
                 th_rc_, vs_strerror(th_rc_), (int)(want));                 \
    } while (0)

struct th_sim {
    const char *platform; /* default TH_PLATFORM_2 */
    const char *profile;  /* default TH_PROFILE */
    void (*node_main)(hw_host *h, void *arg);
    void *arg;
    hw_time_t max_time; /* default 10 s simulated */
    const struct cl_faults *faults; /* NULL: none beyond the profile's */
    uint64_t seed;
    /* Out (copied back from the child): */
    int rc;             /* cl_run's result */
    hw_time_t end_time; /* when the last node returned */
    char err[512];
    /* A small blob the node programs may fill (th_out()) and the parent
     * reads after the run. */
    unsigned char out[4096];
};

/* Runs the scenario in a child; records CUnit failures for every TH_CHECK
 * that failed, a crash, or a non-zero cl_run result (unless allow_fail).
 * Returns the number of failures. */
int th_run_sim(struct th_sim *s, int allow_fail);
/* Inside the child: the blob that travels back in th_sim.out. */
unsigned char *th_out(void);
hw_time_t th_end_time(void);

/* Runs f(arg) in a child with stdout and stderr captured (each truncated to
 * outlen); returns the child's exit status (or 128+signal). */
int th_capture(int (*f)(void *arg), void *arg, char *out, size_t outlen,
               char *errout, size_t errlen);

/* ---- The vmmcsim command ---- */

/* The most arguments th_cli() passes on. */
#define TH_CLI_MAX_ARGS 30

/* Runs "vmmcsim ARGS..." through cli_main() in a child (th_capture), args
 * being NULL-terminated and without the program name.  The child runs
 * without VMMCSIM_LOG, so stderr holds only what the command itself says.
 * Returns the exit status (0 ok, 1 the run failed, 2 bad input), or -1 with
 * a message in errout if there are more than TH_CLI_MAX_ARGS arguments. */
int th_cli(const char *const *args, char *out, size_t outlen, char *errout,
           size_t errlen);

/* The number after the first "key": in JSON text, or -1 if there is none
 * (the output's numbers are never negative). */
double th_json_num(const char *json, const char *key);

/* ---- Checks with messages that show the values ---- */

/* Records a failure at file:line unless got == want; the message names
 * what and both numbers. */
void th_expect_eq(long long got, long long want, const char *what,
                  const char *file, int line);
#define TH_EXPECT_EQ(got, want)                                             \
    th_expect_eq((long long)(got), (long long)(want), #got, __FILE__,      \
                 __LINE__)

/* Records a failure at file:line unless needle occurs in hay (want 1) or
 * does not (want 0); the message shows both. */
void th_expect_has(const char *hay, const char *needle, int want,
                   const char *file, unsigned line);
#define TH_EXPECT_HAS(hay, needle)                                          \
    th_expect_has((hay), (needle), 1, __FILE__, __LINE__)
#define TH_EXPECT_HAS_NOT(hay, needle)                                      \
    th_expect_has((hay), (needle), 0, __FILE__, __LINE__)

/* ---- Text files (profiles, platforms) ---- */

/* The size of a path filled in by th_write_tmp() and th_write_profile(). */
#define TH_PATH_LEN 64

/* The whole of a file, NUL-terminated (malloc'd); a fatal failure if it
 * cannot be read. */
char *th_read_file(const char *path);

/* Writes text to a new temporary file /tmp/vmmcsim-TAG-XXXXXX and fills in
 * path with its name; a fatal failure if it cannot.  The caller unlinks
 * it. */
void th_write_tmp(char path[static TH_PATH_LEN], const char *tag,
                  const char *text);
/* As th_write_tmp(), a C source: the name ends in .c (vmmcsim-cc needs it). */
void th_write_tmp_c(char path[static TH_PATH_LEN], const char *tag,
                    const char *text);

/* As th_write_tmp(), with the shipped profile (TH_PROFILE), a newline and
 * extra as the text. */
void th_write_profile(char path[static TH_PATH_LEN], const char *tag,
                      const char *extra);

/* The 1-based number of the nth line (n >= 1) whose text, after leading
 * blanks, starts with start; 0 if there is none. */
int th_find_line(const char *text, const char *start, int nth);

/* text with its line number `line` replaced by repl (malloc'd); a fatal
 * failure if text has fewer lines. */
char *th_edit_line(const char *text, int line, const char *repl);

#endif
