/*
 * Fuzzing the baseline reader of vmmcsim bench (cli/baseline.c) through
 * cli__baseline_check(): any bytes as a baseline file.  Checked: it reads
 * the file or says why not, and frees what it read either way.
 */
#include <string.h>

#include "cli/cli_int.h"
#include "fuzz/fuzz.h"

int fuzz_baseline(const uint8_t *data, size_t size)
{
    const char *path = fuzz__file(data, size);
    char why[256] = "";
    int rc = cli__baseline_check(path, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc)
        FUZZ_CHECK(why[0] && !strchr(why, '\n'));
    return 0;
}

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_baseline(data, size);
}
#endif
