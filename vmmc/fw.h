/*
 * The VMMC NIC control program ("firmware"): boots on a NIC through the
 * NIC side of the hardware port and serves the VMMC user library of the
 * node's host process.  A backend loads it once per NIC before the host
 * processes start.
 */
#ifndef VMMC_FW_H
#define VMMC_FW_H

#include "hw/hw.h"

typedef struct vmmc_fw vmmc_fw;

/* Firmware counters, also folded into vmmc_get_stats(). */
struct vmmc_fw_stats {
    uint64_t cmds, packets_out, packets_in, bytes_out, bytes_in;
    uint64_t refused_in, refused_out, nacks_in, notifications, interrupts;
    uint64_t sram_failures; /* SRAM exhausted, handled */
    /* The reliable link. */
    uint64_t retransmits;   /* packets sent again */
    uint64_t fast_retransmits; /* of which on duplicate ACKs */
    uint64_t timeouts;      /* retransmission timer expiries */
    uint64_t acks_sent;     /* bare acknowledgement packets */
    uint64_t dup_drops;     /* arrivals already received (duplicates) */
    uint64_t ooo_drops;     /* arrivals ahead of a gap */
    uint64_t stale_drops;   /* arrivals from an abandoned epoch */
    uint64_t malformed;     /* arrivals that did not parse */
    uint64_t peer_failures; /* peers declared unreachable */
    /* The UTLB translation cache. */
    uint64_t utlb_hits, utlb_misses, utlb_lookups, utlb_evictions;
};

/* Loads the firmware on nic: allocates its tables in SRAM and registers its
 * upcalls.  VS_ENOSRAM if the NIC's SRAM is too small. */
int vmmc_fw_boot(vmmc_fw **out, hw_nic *nic);
/* Stops it and frees its SRAM; no upcall of it runs afterwards. */
void vmmc_fw_halt(vmmc_fw *fw);
const struct vmmc_fw_stats *vmmc_fw_stats(const vmmc_fw *fw);
/* Checks the invariants of a firmware whose process closed its context:
 * nothing of it is left (exports, imports, fetches, queued sends, packet
 * buffers, unacknowledged packets).  Violations go to util/inv.h. */
void vmmc_fw_audit(const vmmc_fw *fw);

#endif
