/*
 * Fuzzing the profile reader (nicmodel/profile.c) through
 * nicm_profile_load(): any bytes as a profile.  Checked: a profile that
 * loads has every number within its range (the model divides by some and
 * sizes buffers with others); an error is one line naming the file.
 */
#include <string.h>

#include "fuzz/fuzz.h"
#include "nicmodel/profile.h"
#include "util/err.h"

static void check_loaded(const struct nicm_profile *p)
{
    FUZZ_CHECK(p->host_cpu_mhz >= 1 && p->nic_clock_mhz >= 1);
    FUZZ_CHECK(p->page_size >= 512 && !(p->page_size & (p->page_size - 1)));
    FUZZ_CHECK(p->cycle >= 1);
    FUZZ_CHECK(p->dma_bytes_per_ps > 0);
    FUZZ_CHECK(p->sram_bytes >= 4096);
    FUZZ_CHECK(p->recv_buffers >= 1 && p->send_buffers >= 1);
    FUZZ_CHECK(p->max_packet >= 64 && p->utlb_entries >= 1);
    FUZZ_CHECK(p->reliable <= 1 && p->rto >= 1 && p->max_retries >= 1);
    FUZZ_CHECK(p->window >= 1);
    for (int i = 0; i < HW_HOST_NCOSTS; i++)
        FUZZ_CHECK(p->host_cost[i] >= 0);
    const double probs[] = {p->fault_drop, p->fault_corrupt, p->fault_dup,
                            p->fault_reorder};
    for (size_t i = 0; i < sizeof probs / sizeof *probs; i++)
        FUZZ_CHECK(probs[i] >= 0 && probs[i] <= 1);
    FUZZ_CHECK(p->fault_reorder_delay_max >= 0);
}

int fuzz_profile(const uint8_t *data, size_t size)
{
    const char *path = fuzz__file(data, size);
    struct nicm_profile p;
    char err[512] = "";
    int rc = nicm_profile_load(&p, path, err, sizeof err);
    FUZZ_CHECK(rc == VS_OK || rc == VS_ECONFIG);
    if (rc == VS_OK) {
        check_loaded(&p);
    } else {
        FUZZ_CHECK(!strncmp(err, path, strlen(path)));
        FUZZ_CHECK(!strchr(err, '\n'));
    }
    return 0;
}

#ifdef VS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_profile(data, size);
}
#endif
