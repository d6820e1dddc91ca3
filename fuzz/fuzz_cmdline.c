/*
 * Fuzzing the vmmcsim command line (cli/cli_run.c, cli/sweep.c and the
 * workloads' option parsers in workloads/).  The input is the arguments,
 * one a line (or separated by NUL bytes).
 *
 * Normally they follow "vmmcsim run --dry-run", so the whole command line,
 * the workload's options included, is parsed and nothing runs: the result
 * must be 0 or 2 (bad input).  The words after the first one that names a
 * workload also go straight to that workload's parser, which must then
 * give options within their documented ranges, and, for --sizes, every
 * size of the list it was given.
 *
 * When the first word is "sweep", the rest follows "vmmcsim sweep" and is
 * then closed by "--jobs 0 --jobs 0": whatever came before (an option
 * missing its value takes the first "--jobs" at most), the sweep's own
 * option loop ends on a bad --jobs, so its parsing is fuzzed while no
 * worker starts and no --junit, --results or Slurm file is written.  (This
 * relies on that loop only recording what it reads.)  It also leaves out
 * the checks a sweep makes after its loop (--seeds given, a workload
 * given); `vmmcsim bench`, which runs the scenario, is not fuzzed.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fuzz/fuzz.h"
#include "workloads/wl.h"

#define MAX_WORDS 48

/* How many sizes a --sizes value lists: its non-empty comma items. */
static int count_sizes(const char *v)
{
    int n = 0;
    for (const char *p = v; *p; p++)
        n += *p != ',' && (p == v || p[-1] == ',');
    return n;
}

/* words[0..n) straight to the parser of the first workload named. */
static void check_workload(char **words, int n)
{
    int at = 0;
    while (at < n && !wl_find(words[at]))
        at++;
    if (at == n)
        return;
    const struct wl_def *wl = wl_find(words[at]);
    char **args = words + at + 1;
    int nargs = n - at - 1;
    struct wl_opts o;
    memset(&o, 0, sizeof o);
    char err[1024] = "";
    if (wl->parse(&o, nargs, args, err, sizeof err)) {
        FUZZ_CHECK(err[0] && !strchr(err, '\n'));
        return;
    }
    /* The ranges of wl_parse_common and alltoall's own options; another
     * workload gets only the check above until its ranges are added. */
    if (strcmp(wl->name, "pingpong") && strcmp(wl->name, "bandwidth") &&
        strcmp(wl->name, "alltoall"))
        return;
    FUZZ_CHECK(o.nsizes >= 1 && o.nsizes <= WL_MAX_SIZES);
    for (int i = 0; i < o.nsizes; i++)
        FUZZ_CHECK(o.sizes[i] >= 4 && o.sizes[i] <= 64ull << 20);
    FUZZ_CHECK(o.iters >= 1 && o.iters <= 1000000);
    FUZZ_CHECK(o.count >= 0 && o.count <= 1000000);
    FUZZ_CHECK(!o.src_span || (o.src_span >= 4096 && o.src_span <= 1ull << 30));
    if (!strcmp(wl->name, "alltoall")) {
        FUZZ_CHECK(o.messages >= 1 && o.messages <= 100000000);
        FUZZ_CHECK(o.min_size >= 1 && o.min_size <= o.max_size);
        FUZZ_CHECK(o.max_size <= 16u << 20);
    }
    /* pingpong and bandwidth hand every word to wl_parse_common: in a
     * parse that succeeded each "--sizes" is an option (a value after it
     * is never a size), so the last one's list is the sizes.  (alltoall
     * first takes its own options out, with their values, wherever they
     * are: --sizes may then stand before one of those.) */
    if (!strcmp(wl->name, "alltoall"))
        return;
    for (int i = nargs - 2; i >= 0; i--)
        if (!strcmp(args[i], "--sizes")) {
            FUZZ_CHECK(o.nsizes == count_sizes(args[i + 1]));
            break;
        }
}

static int asks_help(char **words, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(words[i], "--help") || !strcmp(words[i], "-h"))
            return 1;
    return 0;
}

int fuzz_cmdline(const uint8_t *data, size_t size)
{
    char *buf, *words[MAX_WORDS];
    int n = fuzz__words(data, size, &buf, words, MAX_WORDS);
    char *argv[MAX_WORDS + 8];
    int argc = 0, sweep = n > 0 && !strcmp(words[0], "sweep");
    argv[argc++] = "vmmcsim";
    if (sweep) {
        argv[argc++] = "sweep";
        for (int i = 1; i < n; i++)
            argv[argc++] = words[i];
        argv[argc++] = "--jobs";
        argv[argc++] = "0";
        argv[argc++] = "--jobs";
        argv[argc++] = "0";
    } else {
        argv[argc++] = "run";
        argv[argc++] = "--dry-run";
        for (int i = 0; i < n; i++)
            argv[argc++] = words[i];
    }
    argv[argc] = NULL;
    fuzz__cli_begin();
    int rc = cli_main(argc, argv);
    fuzz__cli_end();
    /* A sweep that got past its option loop would have started workers;
     * only its --help leaves that loop early with 0. */
    FUZZ_CHECK(sweep ? rc == 2 || (rc == 0 && asks_help(words, n))
                     : rc == 0 || rc == 2);
    if (!sweep)
        check_workload(words, n);
    free(buf);
    return 0;
}

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_cmdline(data, size);
}
#endif
