/*
 * Fuzzing what vmmcsim itself makes of a platform file: the order of host
 * and link names (sim/platform.c), which numbers the nodes.  SimGrid
 * parses the XML itself (and aborts on a bad file, which is why
 * sim_platform_check loads it in a child), so its loader is not fuzzed
 * here.  The input is up to 16 names, one a line.  Checked: the order is
 * total and consistent (a name equals only itself, swapping the names
 * flips the sign, it is transitive), so sorting the hosts gives one
 * numbering whatever order SimGrid lists them in.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "sim/sim_int.h"

#define MAX_NAMES 16

static int sign(int x) { return (x > 0) - (x < 0); }

int fuzz_platform(const uint8_t *data, size_t size)
{
    char *buf, *names[MAX_NAMES];
    int n = fuzz__words(data, size, &buf, names, MAX_NAMES);
    int c[MAX_NAMES][MAX_NAMES];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            c[i][j] = sign(sim__natural_cmp(names[i], names[j]));
            FUZZ_CHECK((c[i][j] == 0) == !strcmp(names[i], names[j]));
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            FUZZ_CHECK(c[i][j] == -c[j][i]);
            for (int k = 0; k < n; k++)
                if (c[i][j] < 0 && c[j][k] < 0)
                    FUZZ_CHECK(c[i][k] < 0);
        }
    free(buf);
    return 0;
}

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_platform(data, size);
}
#endif
