/*
 * Reading a NIC/host profile (nicmodel/profile.h): a table of keys, each
 * with its section, unit conversion and allowed range.
 */
#include "nicmodel/profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/ini.h"

enum kind { K_NS, K_MBPS, K_U32, K_U64, K_DOUBLE, K_NAME };

struct key {
    const char *section, *name;
    enum kind kind;
    size_t off;
    double min, max;
    int optional;
};

#define F(field) offsetof(struct nicm_profile, field)

static const struct key keys[] = {
    {"host", "cpu_mhz", K_DOUBLE, F(host_cpu_mhz), 1, 1e6, 0},
#define HOST_KEY_(name, key)                                                \
    {"host", key, K_NS, F(host_cost) + name * sizeof(hw_time_t), 0, 1e9, 0},
    HW_HOST_COSTS(HOST_KEY_)
#undef HOST_KEY_
    {"host", "page_size", K_U32, F(page_size), 512, 1 << 24, 0},
    {"pci", "pio_write_ns", K_NS, F(pio_write_word), 0, 1e6, 0},
    {"pci", "pio_read_ns", K_NS, F(pio_read_word), 0, 1e6, 0},
    {"pci", "dma_setup_ns", K_NS, F(dma_setup), 0, 1e9, 0},
    {"pci", "dma_MBps", K_MBPS, F(dma_bytes_per_ps), 0.001, 1e7, 0},
    {"nic", "clock_mhz", K_DOUBLE, F(nic_clock_mhz), 1, 1e5, 0},
    {"nic", "sram_bytes", K_U64, F(sram_bytes), 4096, 1ULL << 40, 0},
    {"nic", "recv_buffers", K_U32, F(recv_buffers), 1, 65536, 0},
    {"nic", "send_buffers", K_U32, F(send_buffers), 1, 65536, 0},
    {"nic", "max_packet", K_U32, F(max_packet), 64, 1 << 24, 0},
    {"nic", "wire_overhead_bytes", K_U32, F(wire_overhead_bytes), 0, 4096, 0},
    {"nic", "net_dma_setup_ns", K_NS, F(net_dma_setup), 0, 1e9, 0},
    {"nic", "utlb_entries", K_U32, F(utlb_entries), 1, 1 << 20, 0},
#define FW_KEY_(name, key)                                                  \
    {"firmware", key, K_U32, F(fw_cycles) + name * sizeof(uint32_t), 0, 1e7, 0},
    HW_FW_COSTS(FW_KEY_)
#undef FW_KEY_
    {"reliability", "enabled", K_U32, F(reliable), 0, 1, 0},
    {"reliability", "rto_ns", K_NS, F(rto), 1, 1e12, 0},
    {"reliability", "max_retries", K_U32, F(max_retries), 1, 1000, 0},
    {"reliability", "ack_delay_ns", K_NS, F(ack_delay), 0, 1e9, 0},
    {"reliability", "window", K_U32, F(window), 1, 65536, 0},
    {"fabric", "switch_delay_ns", K_NS, F(switch_delay), 0, 1e9, 0},
    {"fabric", "switch_buffer_bytes", K_U64, F(switch_buffer), 0, 1ULL << 40,
     1},
    {"reference", "latency_us", K_DOUBLE, F(ref_latency_us), 0, 1e9, 1},
    {"reference", "bandwidth_MBps", K_DOUBLE, F(ref_bandwidth_MBps), 0, 1e9, 1},
    {"reference", "platform", K_NAME, F(ref_platform), 0, 0, 1},
    {"faults", "drop", K_DOUBLE, F(fault_drop), 0, 1, 1},
    {"faults", "corrupt", K_DOUBLE, F(fault_corrupt), 0, 1, 1},
    {"faults", "dup", K_DOUBLE, F(fault_dup), 0, 1, 1},
    {"faults", "reorder", K_DOUBLE, F(fault_reorder), 0, 1, 1},
    {"faults", "reorder_delay_max_ns", K_NS, F(fault_reorder_delay_max), 0,
     1e9, 1},
    {"msg", "eager_limit", K_U32, F(msg_eager_limit), 0, 65536, 1},
    {"msg", "ring_slots", K_U32, F(msg_ring_slots), 2, 1024, 1},
    {"msg", "copy_MBps", K_U32, F(msg_copy_MBps), 1, 100000, 1},
};
#define NKEYS (sizeof keys / sizeof *keys)

struct load {
    struct nicm_profile *p;
    const char *path;
    int seen[NKEYS];
};

static int on_key(void *arg, const char *section, const char *name,
                  const char *value, int line, char *err, size_t errlen)
{
    struct load *ld = arg;
    const struct key *k = NULL;
    size_t i;
    for (i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) {
            k = &keys[i];
            break;
        }
    if (!k) {
        snprintf(err, errlen, "%s:%d: [%s] %s: unknown key", ld->path, line,
                 section, name);
        return VS_ECONFIG;
    }
    if (ld->seen[i]) {
        snprintf(err, errlen, "%s:%d: [%s] %s: given twice (first on line %d)",
                 ld->path, line, section, name, ld->seen[i]);
        return VS_ECONFIG;
    }
    ld->seen[i] = line;
    if (k->kind == K_NAME) { /* a file name, as the command line gives it */
        size_t n = strlen(value);
        if (!n || n >= NICM_REF_PLATFORM_MAX || strchr(value, '/')) {
            snprintf(err, errlen, "%s:%d: [%s] %s: '%s' is not a file name "
                                  "(no directory, 1 to %d characters)",
                     ld->path, line, section, name, value,
                     NICM_REF_PLATFORM_MAX - 1);
            return VS_ECONFIG;
        }
        memcpy((char *)ld->p + k->off, value, n + 1);
        return VS_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(v)) {
        snprintf(err, errlen, "%s:%d: [%s] %s: '%s' is not a number",
                 ld->path, line, section, name, value);
        return VS_ECONFIG;
    }
    if (v < k->min || v > k->max) {
        snprintf(err, errlen, "%s:%d: [%s] %s: %s is out of range [%g, %g]",
                 ld->path, line, section, name, value, k->min, k->max);
        return VS_ECONFIG;
    }
    if ((k->kind == K_U32 || k->kind == K_U64) && v != floor(v)) {
        snprintf(err, errlen, "%s:%d: [%s] %s: '%s' must be an integer",
                 ld->path, line, section, name, value);
        return VS_ECONFIG;
    }
    char *dst = (char *)ld->p + k->off;
    switch (k->kind) {
    case K_NS:
        *(hw_time_t *)dst = (hw_time_t)llround(v * 1000.0);
        break;
    case K_MBPS: /* 1 MB/s = 1e6 bytes per 1e12 ps */
        *(double *)dst = v * 1e6 / 1e12;
        break;
    case K_U32:
        *(uint32_t *)dst = (uint32_t)v;
        break;
    case K_U64:
        *(uint64_t *)dst = (uint64_t)v;
        break;
    case K_DOUBLE:
        *(double *)dst = v;
        break;
    case K_NAME: /* above */
        break;
    }
    return VS_OK;
}

int nicm_profile_load(struct nicm_profile *p, const char *path, char *err,
                      size_t errlen)
{
    struct load ld = {.p = p, .path = path};
    memset(p, 0, sizeof *p);
    int rc = ini_parse(path, on_key, &ld, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < NKEYS; i++)
        if (!ld.seen[i] && !keys[i].optional) {
            snprintf(err, errlen, "%s: [%s] %s: missing (every key is "
                                  "required)",
                     path, keys[i].section, keys[i].name);
            return VS_ECONFIG;
        }
    if (p->page_size & (p->page_size - 1)) {
        int line = 0;
        for (size_t i = 0; i < NKEYS; i++)
            if (!strcmp(keys[i].name, "page_size"))
                line = ld.seen[i];
        snprintf(err, errlen, "%s:%d: [host] page_size: %u is not a power of "
                              "two",
                 path, line, p->page_size);
        return VS_ECONFIG;
    }
    uint64_t wire_max = (uint64_t)p->max_packet + p->wire_overhead_bytes;
    if (p->switch_buffer && p->switch_buffer < wire_max) {
        int line = 0;
        for (size_t i = 0; i < NKEYS; i++)
            if (keys[i].off == F(switch_buffer))
                line = ld.seen[i];
        snprintf(err, errlen, "%s:%d: [fabric] switch_buffer_bytes: %llu is "
                              "smaller than one packet on the wire ([nic] "
                              "max_packet + wire_overhead_bytes = %llu); 0 "
                              "means unlimited",
                 path, line, (unsigned long long)p->switch_buffer,
                 (unsigned long long)wire_max);
        return VS_ECONFIG;
    }
    p->cycle = (hw_time_t)llround(1e6 / p->nic_clock_mhz);
    for (size_t i = 0; i < NKEYS; i++) /* 0 is a valid eager limit */
        if (keys[i].off == F(msg_eager_limit))
            p->msg_eager_limit_set = ld.seen[i] != 0;
    return VS_OK;
}
