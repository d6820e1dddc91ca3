/*
 * The UTLB of the VMMC firmware (Chen, Bilas, Damianakis, Dubnicki, Li,
 * "UTLB: A Mechanism for Address Translation on Network Interfaces",
 * ASPLOS 1998, in spirit): the sender's NIC translates the virtual pages of
 * a host process through a table in that process's pinned host memory
 * (filled by the library's driver part when it pins pages) and caches
 * entries in SRAM.  The cache is set-associative (4 ways, least recently
 * used replaced); a miss reads the table entry by host-DMA, probing on like
 * the host's open addressing.  A page with no entry is not pinned: the
 * transfer fails with VS_EFAULT.  Translation requests are served strictly
 * in order, so a job's chunks and a peer's messages keep their order.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "vmmc/fw_int.h"

#define WAYS 4u

struct fw_utlb_line {
    uint64_t vpage_plus1;
    uint64_t paddr;
    uint64_t used; /* clock of the last use */
};

struct fw_xlate_req {
    struct fw_xlate_req *next;
    struct vmmc_fw *fw;
    uint64_t page, last; /* next page to translate, last page */
    uint32_t probe;      /* host table slot being read, probes so far */
    uint32_t probes;
    fw_xlate_done done;
    void *arg;
};

int fw__utlb_init(struct vmmc_fw *fw)
{
    unsigned n = fw->nic->utlb_entries ? fw->nic->utlb_entries : 256;
    fw->utlb_ways = n < WAYS ? n : WAYS;
    fw->utlb_sets = n / fw->utlb_ways;
    fw->utlb = fw->ops->sram_alloc(
        fw->nic, (size_t)fw->utlb_sets * fw->utlb_ways * sizeof *fw->utlb);
    fw->utlb_probe = fw->ops->sram_alloc(fw->nic, sizeof *fw->utlb_probe);
    return fw->utlb && fw->utlb_probe ? VS_OK : VS_ENOSRAM;
}

void fw__utlb_fini(struct vmmc_fw *fw)
{
    while (fw->xq) {
        struct fw_xlate_req *r = fw->xq;
        fw->xq = r->next;
        free(r);
    }
    if (fw->utlb)
        fw->ops->sram_free(fw->nic, fw->utlb,
                           (size_t)fw->utlb_sets * fw->utlb_ways *
                               sizeof *fw->utlb);
    fw->ops->sram_free(fw->nic, fw->utlb_probe, sizeof *fw->utlb_probe);
    fw->utlb = NULL;
    fw->utlb_probe = NULL;
}

void fw__utlb_flush(struct vmmc_fw *fw)
{
    memset(fw->utlb, 0,
           (size_t)fw->utlb_sets * fw->utlb_ways * sizeof *fw->utlb);
}

static struct fw_utlb_line *set_of(struct vmmc_fw *fw, uint64_t page)
{
    return &fw->utlb[(page % fw->utlb_sets) * fw->utlb_ways];
}

static int cache_lookup(struct vmmc_fw *fw, uint64_t page)
{
    struct fw_utlb_line *set = set_of(fw, page);
    fw__charge(fw, HW_FW_XLATE_PAGE, 1);
    for (unsigned w = 0; w < fw->utlb_ways; w++)
        if (set[w].vpage_plus1 == page + 1) {
            set[w].used = ++fw->utlb_clock;
            fw->st.utlb_hits++;
            return 1;
        }
    return 0;
}

static void cache_insert(struct vmmc_fw *fw, uint64_t page, uint64_t paddr)
{
    struct fw_utlb_line *set = set_of(fw, page), *victim = &set[0];
    for (unsigned w = 0; w < fw->utlb_ways; w++) {
        if (!set[w].vpage_plus1) {
            victim = &set[w];
            break;
        }
        if (set[w].used < victim->used)
            victim = &set[w];
    }
    if (victim->vpage_plus1)
        fw->st.utlb_evictions++;
    victim->vpage_plus1 = page + 1;
    victim->paddr = paddr;
    victim->used = ++fw->utlb_clock;
}

static void serve(struct vmmc_fw *fw);

static void lookup_done(void *arg, int status)
{
    struct fw_xlate_req *r = arg;
    struct vmmc_fw *fw = r->fw;
    (void)status;
    fw__charge(fw, HW_FW_DMA_DONE, 1);
    struct vmmc__utlb_entry e = *fw->utlb_probe;
    if (e.vpage_plus1 == r->page + 1) {
        cache_insert(fw, r->page, e.paddr);
        r->page++;
        r->probes = 0;
    } else if (e.vpage_plus1 == 0 ||
               ++r->probes >= VMMC__UTLB_MAX_PROBES) {
        r->page = UINT64_MAX; /* not pinned */
    } else {
        r->probe = (r->probe + 1) % VMMC__UTLB_SLOTS; /* next slot */
        fw->xq_busy = 1;
        int rc = fw->ops->host_dma(
            fw->nic, HW_DMA_TO_NIC,
            (void *)(uintptr_t)(fw->utlb_table + r->probe * sizeof e),
            fw->utlb_probe, sizeof e, lookup_done, r);
        assert(rc == VS_OK);
        (void)rc;
        return;
    }
    fw->xq_busy = 0;
    serve(fw);
}

/* Works on the head request until it misses (a DMA goes out) or ends. */
static void serve(struct vmmc_fw *fw)
{
    while (fw->xq && !fw->xq_busy) {
        struct fw_xlate_req *r = fw->xq;
        int status = VS_OK;
        if (r->page == UINT64_MAX) {
            status = VS_EFAULT;
        } else {
            while (r->page <= r->last && cache_lookup(fw, r->page))
                r->page++;
            if (r->page <= r->last) {
                if (!fw->utlb_table) {
                    status = VS_EFAULT;
                } else {
                    fw->st.utlb_misses++;
                    fw->st.utlb_lookups++;
                    fw->xq_busy = 1;
                    r->probe = vmmc__utlb_hash(r->page);
                    r->probes = 0;
                    int rc = fw->ops->host_dma(
                        fw->nic, HW_DMA_TO_NIC,
                        (void *)(uintptr_t)(fw->utlb_table +
                                            r->probe *
                                                sizeof(struct vmmc__utlb_entry)),
                        fw->utlb_probe, sizeof(struct vmmc__utlb_entry),
                        lookup_done, r);
                    assert(rc == VS_OK);
                    (void)rc;
                    return;
                }
            }
        }
        fw->xq = r->next;
        if (!fw->xq)
            fw->xq_tail = NULL;
        fw_xlate_done done = r->done;
        void *arg = r->arg;
        free(r);
        done(arg, status);
    }
}

void fw__xlate(struct vmmc_fw *fw, uint64_t addr, uint64_t len,
               fw_xlate_done done, void *arg)
{
    uint64_t ps = fw->nic->page_size;
    if (len == 0) {
        done(arg, VS_OK);
        return;
    }
    struct fw_xlate_req *r = calloc(1, sizeof *r);
    if (!r) {
        fw->st.sram_failures++;
        done(arg, VS_ENOSRAM);
        return;
    }
    r->fw = fw;
    r->page = addr / ps;
    r->last = (addr + len - 1) / ps;
    r->done = done;
    r->arg = arg;
    if (fw->xq_tail)
        fw->xq_tail->next = r;
    else
        fw->xq = r;
    fw->xq_tail = r;
    serve(fw);
}
