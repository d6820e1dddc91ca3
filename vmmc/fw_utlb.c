/*
 * The UTLB of the VMMC firmware (in the spirit of Chen, Bilas, Damianakis,
 * Dubnicki, Li, "UTLB: A Mechanism for Address Translation on Network
 * Interfaces", ASPLOS 1998): the sender's NIC translates the virtual pages
 * of a host process through a table in that process's pinned host memory
 * (filled by the library's driver part when it pins pages) and caches
 * entries in SRAM.  A page with no entry is not pinned: the transfer fails
 * with VS_EFAULT.  Translation requests are served strictly in order, so a
 * job's chunks and a peer's messages keep their order.
 *
 * Modelling choices, so that results do not depend on where the OS put the
 * simulated program's memory (the simulator runs it at real addresses):
 * the cache is fully associative with least-recently-used replacement (its
 * hits and misses depend only on the sequence of pages used), and a miss
 * costs exactly one host-DMA of a table entry (the table is treated as a
 * perfect hash; probing the simulator's own table costs nothing).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "vmmc/fw_int.h"

struct fw_utlb_line {
    uint64_t vpage_plus1; /* 0: free */
    uint64_t paddr;
    uint64_t used; /* clock of the last use */
};

struct fw_xlate_req {
    struct fw_xlate_req *next;
    struct vmmc_fw *fw;
    uint64_t gen; /* the cache generation it started in */
    uint64_t page, last; /* next page to translate, last page */
    fw_xlate_done done;
    void *arg;
};

/* The simulator's index of the cache: vpage -> line, open addressing.
 * It has no simulated cost. */
static size_t idx_cap(const struct vmmc_fw *fw) { return fw->utlb_index_cap; }

static size_t idx_hash(const struct vmmc_fw *fw, uint64_t page)
{
    return (size_t)((page * 0x9E3779B97F4A7C15ull) >> 32) &
           (idx_cap(fw) - 1);
}

int fw__utlb_init(struct vmmc_fw *fw)
{
    vs_pool_init(&fw->xq_pool, sizeof(struct fw_xlate_req));
    fw->utlb_lines = fw->nic->utlb_entries ? fw->nic->utlb_entries : 256;
    fw->utlb = fw->ops->sram_alloc(fw->nic,
                                   (size_t)fw->utlb_lines * sizeof *fw->utlb);
    fw->utlb_probe = fw->ops->sram_alloc(fw->nic, sizeof *fw->utlb_probe);
    /* A power of two, so probing masks instead of dividing. */
    fw->utlb_index_cap = 2;
    while (fw->utlb_index_cap < 2u * (size_t)fw->utlb_lines)
        fw->utlb_index_cap *= 2;
    fw->utlb_index = calloc(idx_cap(fw), sizeof *fw->utlb_index);
    return fw->utlb && fw->utlb_probe && fw->utlb_index ? VS_OK : VS_ENOSRAM;
}

void fw__utlb_fini(struct vmmc_fw *fw)
{
    while (fw->xq) {
        struct fw_xlate_req *r = fw->xq;
        fw->xq = r->next;
        vs_pool_put(&fw->xq_pool, r);
    }
    vs_pool_drain(&fw->xq_pool);
    if (fw->utlb)
        fw->ops->sram_free(fw->nic, fw->utlb,
                           (size_t)fw->utlb_lines * sizeof *fw->utlb);
    fw->ops->sram_free(fw->nic, fw->utlb_probe, sizeof *fw->utlb_probe);
    free(fw->utlb_index);
    fw->utlb = NULL;
    fw->utlb_probe = NULL;
    fw->utlb_index = NULL;
}

void fw__utlb_flush(struct vmmc_fw *fw)
{
    fw->utlb_gen++; /* lookups in flight must not refill the cache */
    memset(fw->utlb, 0, (size_t)fw->utlb_lines * sizeof *fw->utlb);
    memset(fw->utlb_index, 0, idx_cap(fw) * sizeof *fw->utlb_index);
}

/* The index slot of page (holding line + 1), or of the free slot where it
 * would go. */
static size_t idx_find(const struct vmmc_fw *fw, uint64_t page)
{
    size_t i = idx_hash(fw, page), cap = idx_cap(fw);
    while (fw->utlb_index[i] &&
           fw->utlb[fw->utlb_index[i] - 1].vpage_plus1 != page + 1)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Removes slot i from the index, keeping the probe chains intact. */
static void idx_remove(struct vmmc_fw *fw, size_t i)
{
    size_t cap = idx_cap(fw);
    fw->utlb_index[i] = 0;
    for (size_t j = (i + 1) & (cap - 1); fw->utlb_index[j];
         j = (j + 1) & (cap - 1)) {
        uint32_t line = fw->utlb_index[j];
        fw->utlb_index[j] = 0;
        fw->utlb_index[idx_find(fw, fw->utlb[line - 1].vpage_plus1 - 1)] =
            line;
    }
}

static int cache_lookup(struct vmmc_fw *fw, uint64_t page)
{
    fw__charge(fw, HW_FW_XLATE_PAGE, 1);
    uint32_t line = fw->utlb_index[idx_find(fw, page)];
    if (!line)
        return 0;
    fw->utlb[line - 1].used = ++fw->utlb_clock;
    fw->st.utlb_hits++;
    return 1;
}

static void cache_insert(struct vmmc_fw *fw, uint64_t page, uint64_t paddr)
{
    struct fw_utlb_line *victim = &fw->utlb[0];
    for (unsigned w = 0; w < fw->utlb_lines; w++) {
        if (!fw->utlb[w].vpage_plus1) {
            victim = &fw->utlb[w];
            break;
        }
        if (fw->utlb[w].used < victim->used)
            victim = &fw->utlb[w];
    }
    if (victim->vpage_plus1) {
        fw->st.utlb_evictions++;
        idx_remove(fw, idx_find(fw, victim->vpage_plus1 - 1));
    }
    victim->vpage_plus1 = page + 1;
    victim->paddr = paddr;
    victim->used = ++fw->utlb_clock;
    fw->utlb_index[idx_find(fw, page)] = (uint32_t)(victim - fw->utlb) + 1;
}

/* What the host table says about page: 1 and *paddr if it is pinned. */
static int table_lookup(const struct vmmc_fw *fw, uint64_t page,
                        uint64_t *paddr)
{
    const struct vmmc__utlb_entry *t =
        (const struct vmmc__utlb_entry *)(uintptr_t)fw->utlb_table;
    uint32_t i = vmmc__utlb_hash(page);
    for (uint32_t n = 0; n < VMMC__UTLB_MAX_PROBES && t[i].vpage_plus1;
         n++, i = (i + 1) % VMMC__UTLB_SLOTS)
        if (t[i].vpage_plus1 == page + 1) {
            *paddr = t[i].paddr;
            return 1;
        }
    return 0;
}

static void serve(struct vmmc_fw *fw);

/* The table entry for the head request's page has been read by DMA. */
static void lookup_done(void *arg, int status)
{
    struct fw_xlate_req *r = arg;
    struct vmmc_fw *fw = r->fw;
    (void)status;
    fw__charge(fw, HW_FW_DMA_DONE, 1);
    uint64_t paddr;
    if (table_lookup(fw, r->page, &paddr)) {
        if (r->gen == fw->utlb_gen)
            cache_insert(fw, r->page, paddr);
        r->page++;
    } else {
        r->page = UINT64_MAX; /* not pinned */
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
                    /* One entry's worth of DMA from the process's table. */
                    int rc = fw->ops->host_dma(
                        fw->nic, HW_DMA_TO_NIC,
                        (void *)(uintptr_t)(fw->utlb_table +
                                            vmmc__utlb_hash(r->page) *
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
        vs_pool_put(&fw->xq_pool, r);
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
    struct fw_xlate_req *r = vs_pool_get0(&fw->xq_pool);
    if (!r) {
        fw->st.sram_failures++;
        done(arg, VS_ENOSRAM);
        return;
    }
    r->fw = fw;
    r->gen = fw->utlb_gen;
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
