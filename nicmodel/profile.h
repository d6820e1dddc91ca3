/*
 * The NIC/host profile: every cost of the simulated hardware, read from an
 * INI file (the .ini files in configs/).  All keys are required, so a profile says every
 * number it relies on; each has a range, and an unknown, missing or
 * out-of-range key is an error naming the file, line and field.  The only
 * optional sections are [reference], [faults] (every key of [faults]
 * defaults to 0: no faults) and [msg] (the message-passing library's
 * parameters; the library's defaults where absent).
 */
#ifndef NICM_PROFILE_H
#define NICM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"

struct nicm_profile {
    /* [host] */
    double host_cpu_mhz;
    hw_time_t host_cost[HW_HOST_NCOSTS]; /* lib_call_ns, syscall_ns, ... */
    uint32_t page_size;
    /* [pci] */
    hw_time_t pio_write_word; /* per 32-bit word */
    hw_time_t pio_read_word;
    hw_time_t dma_setup;
    double dma_bytes_per_ps; /* sustained host-DMA rate */
    /* [nic] */
    double nic_clock_mhz;
    hw_time_t cycle; /* derived: one NIC processor cycle */
    uint64_t sram_bytes;
    uint32_t recv_buffers;
    uint32_t send_buffers;
    uint32_t max_packet;          /* firmware packet, header + payload */
    uint32_t wire_overhead_bytes; /* route, type and CRC bytes on the wire */
    hw_time_t net_dma_setup;      /* per packet, send-DMA and receive-DMA */
    uint32_t utlb_entries;        /* translation cache entries in SRAM */
    /* [firmware] cycles per work class */
    uint32_t fw_cycles[HW_FW_NCOSTS];
    /* [reliability] the firmware's link protocol */
    uint32_t reliable;     /* enabled: 1 (0: no acks or retransmission) */
    hw_time_t rto;
    uint32_t max_retries;
    hw_time_t ack_delay;
    uint32_t window;
    /* [fabric] */
    hw_time_t switch_delay; /* cut-through routing delay per switch */
    /* optional: bytes of buffer per switch output port (0: unlimited) */
    uint64_t switch_buffer;
    /* [reference] optional published figures to compare with (0: none),
     * and the file name of the platform they were measured on ("": any) */
    double ref_latency_us;
    double ref_bandwidth_MBps;
#define NICM_REF_PLATFORM_MAX 64
    char ref_platform[NICM_REF_PLATFORM_MAX];
    /* [faults] optional fault injection (nicm_set_faults; 0: none), applied
     * by the cluster runner with the run's seed */
    double fault_drop, fault_corrupt, fault_dup, fault_reorder;
    hw_time_t fault_reorder_delay_max; /* 0: the model's default */
    /* [msg] optional parameters of the message-passing library (libs/msg)
     * on this machine, which MPI programs run with (vmmcsim exec); a key
     * not given (0) keeps the library's default: eager_limit (bytes; above
     * it the zero-copy rendezvous), ring_slots (eager credits per peer),
     * copy_MBps (the host's memcpy rate charged for eager copies). */
    uint32_t msg_eager_limit, msg_ring_slots, msg_copy_MBps;
    int msg_eager_limit_set;
};

/* Loads a profile.  Returns 0, or VS_ECONFIG with "FILE:LINE: [sec] key: ..."
 * in err. */
int nicm_profile_load(struct nicm_profile *p, const char *path, char *err,
                      size_t errlen);

#endif
