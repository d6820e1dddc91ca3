/*
 * Fuzzing the option values vmmcsim run parses itself (cli/cli_run.c):
 * --faults SPEC, --seed N, --max-time T, --fault-list L and --nodes N,
 * through cli_main() with --dry-run, so nothing is loaded or run.  The
 * first byte chooses the option ('f' --faults, 's' --seed, 't' --max-time,
 * 'l' --fault-list, 'n' --nodes; another byte by its value mod 5); each
 * following line is one value, given as one more such option before the
 * workload (--faults items of several options add up).  Checked: the
 * command line is accepted (0) or refused as bad input (2), and nothing
 * it allocated is left behind; --seed and --max-time, whose rules are
 * short, are accepted exactly when their values follow them.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fuzz/fuzz.h"

#define MAX_VALUES 8

/* --seed: decimal digits, at most 2^64 - 1. */
static int good_seed(const char *s)
{
    uint64_t v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return 1;
}

/* --max-time: a number with a unit, from 1 ps (the simulator's tick) to
 * 9e18 ps. */
static int good_time(const char *s)
{
    static const struct {
        const char *unit;
        double ps;
    } units[] = {{"s", 1e12}, {"ms", 1e9}, {"us", 1e6}, {"ns", 1e3}};
    char *end;
    double v = strtod(s, &end);
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (end != s && !strcmp(end, units[i].unit))
            return v * units[i].ps >= 1 && v * units[i].ps <= 9e18;
    return 0;
}

int fuzz_faults(const uint8_t *data, size_t size)
{
    static const char *const opts[] = {"--faults", "--seed", "--max-time",
                                       "--fault-list", "--nodes"};
    if (!size)
        return 0;
    static const char letters[] = "fstln"; /* opts[i] by its letter */
    const char *letter = memchr(letters, data[0], 5);
    const char *opt = opts[letter ? letter - letters : data[0] % 5];
    char *buf, *values[MAX_VALUES];
    int n = fuzz__words(data + 1, size - 1, &buf, values, MAX_VALUES);
    char *argv[3 + 2 * MAX_VALUES + 2];
    int argc = 0;
    argv[argc++] = "vmmcsim";
    argv[argc++] = "run";
    argv[argc++] = "--dry-run";
    for (int i = 0; i < n; i++) {
        argv[argc++] = (char *)opt;
        argv[argc++] = values[i];
    }
    argv[argc++] = "pingpong";
    argv[argc] = NULL;
    fuzz__cli_begin();
    int rc = cli_main(argc, argv);
    fuzz__cli_end();
    FUZZ_CHECK(rc == 0 || rc == 2);
    if (opt[2] == 's' || opt[2] == 'm') {
        int good = 1;
        for (int i = 0; i < n; i++)
            good &= opt[2] == 's' ? good_seed(values[i]) : good_time(values[i]);
        FUZZ_CHECK(rc == (good ? 0 : 2));
    }
    free(buf);
    return 0;
}

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_faults(data, size);
}
#endif
