/*
 * The fuzz harnesses of `make fuzz`, one per parser of outside input.
 * Each fuzz_NAME() (fuzz/fuzz_NAME.c) feeds one input to its parser and
 * aborts, through FUZZ_CHECK, when something the parser promises does not
 * hold.  Built with clang and -DVS_LIBFUZZER, each file also defines
 * LLVMFuzzerTestOneInput, so build-fuzz/fuzz_NAME is a libFuzzer binary;
 * in the normal build the regression suite (tests/fuzz/) calls fuzz_NAME()
 * on every file of tests/fuzz-regress/NAME/.
 *
 * A harness leaves no state behind (log levels, files, memory), never
 * exits the process, and writes nothing but an in-memory file.
 */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int fuzz_ini(const uint8_t *data, size_t size);
int fuzz_profile(const uint8_t *data, size_t size);
int fuzz_faults(const uint8_t *data, size_t size);
int fuzz_cmdline(const uint8_t *data, size_t size);
int fuzz_baseline(const uint8_t *data, size_t size);
int fuzz_platform(const uint8_t *data, size_t size);
int fuzz_trace(const uint8_t *data, size_t size);

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif

/* ---- Helpers (fuzz/common.c) ---- */

/* A path that reads back data: an in-memory file (memfd), rewritten on
 * every call, named /proc/self/fd/N. */
const char *fuzz__file(const uint8_t *data, size_t size);

/* Splits a copy of data into at most max words at every '\n' and NUL;
 * returns how many.  words[] point into *buf, which the caller frees. */
int fuzz__words(const uint8_t *data, size_t size, char **buf, char **words,
                int max);

/* The command line's global state: the log levels (--log) and
 * VMMCSIM_LOG, cleared by begin and put back by end. */
void fuzz__cli_begin(void);
void fuzz__cli_end(void);

/* Prints the broken property with the harness's file and line, then
 * aborts: libFuzzer keeps the input as a crash. */
void fuzz__fail(const char *what, const char *file, int line)
    __attribute__((noreturn));
#define FUZZ_CHECK(cond)                                                    \
    do {                                                                    \
        if (!(cond))                                                        \
            fuzz__fail(#cond, __FILE__, __LINE__);                          \
    } while (0)

#endif
