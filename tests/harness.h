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

#endif
