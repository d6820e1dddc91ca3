/*
 * What the VMMC user library and the NIC firmware share: the layout of the
 * host-visible SRAM window (command queue), the completion and notification
 * records the NIC writes into host memory by DMA, and the packet header.
 * Internal to vmmc/ (and its tests).
 */
#ifndef VMMC_VMMC_INT_H
#define VMMC_VMMC_INT_H

#include <stdint.h>

#include "vmmc/vmmc.h"

#define VMMC__CMDQ_LEN 32   /* command slots; also completion slots */
#define VMMC__NOTIFY_LEN 64 /* notification ring in host memory */

/* The UTLB: each process's translation table lives in its own (pinned)
 * host memory, written by the library's driver part when it pins pages;
 * the NIC caches entries in SRAM and reads the table by DMA on a miss.
 * Open addressing, linear probing, keyed by virtual page number + 1.
 * The pages of an aligned group of VMMC__UTLB_GROUP have neighbouring
 * slots (the group is hashed, the page's place in it is kept), so a
 * process that pins buffers touches a few pages of its 1 MiB table, not
 * all of them.  Groups collide as a whole, so probe runs are longer than
 * with pages hashed one by one (about 300 slots at the 50% fill limit
 * with many small regions): probing costs the simulator, not the
 * simulated NIC, which reads one entry a miss. */
#define VMMC__UTLB_SLOTS 65536u
#define VMMC__UTLB_MAX_PROBES 1024u
#define VMMC__UTLB_GROUP 16u

struct vmmc__utlb_entry {
    uint64_t vpage_plus1; /* 0: empty */
    uint64_t paddr;       /* the page's physical address */
};

static inline uint32_t vmmc__utlb_hash(uint64_t vpage)
{
    uint64_t group = vpage / VMMC__UTLB_GROUP;
    return (uint32_t)(((group * 0x9E3779B97F4A7C15ull) >> 40) *
                          VMMC__UTLB_GROUP +
                      vpage % VMMC__UTLB_GROUP) %
           VMMC__UTLB_SLOTS;
}

enum vmmc__op {
    VMMC__OP_OPEN = 1, /* addr: completions, off: notifications, len: UTLB */
    VMMC__OP_RESERVED_2,
    VMMC__OP_RESERVED_3,
    VMMC__OP_EXPORT,   /* handle: id; addr, len; aux: perms */
    VMMC__OP_UNEXPORT, /* handle: id */
    VMMC__OP_IMPORT,   /* off: node; handle: remote export id */
    VMMC__OP_UNIMPORT, /* handle: import handle */
    VMMC__OP_SEND,     /* handle: import; off; addr; len; flags */
    VMMC__OP_FETCH,    /* handle: import; off; addr: local dst; len */
    VMMC__OP_REDIRECT, /* handle: export id; off; len; addr: local buffer */
};

/* One command, written by the host with a single PIO write.  The slot is
 * valid when seq equals the next sequence number the firmware expects. */
struct vmmc__cmd {
    uint32_t seq;
    uint16_t op;
    uint16_t flags;
    uint32_t handle;
    uint32_t aux;
    uint64_t addr;
    uint64_t len;
    uint64_t off;
};

/* The window the firmware publishes in SRAM and the host maps. */
struct vmmc__window {
    struct vmmc__cmd cmdq[VMMC__CMDQ_LEN];
    uint32_t notify_consumed;             /* written by the host */
    uint8_t notify_enabled[VMMC_MAX_EXPORTS]; /* written by the host */
};

/* Written by the NIC into host memory, one per command slot. */
struct vmmc__compl {
    uint32_t seq; /* the command's seq once complete */
    int32_t status;
    uint64_t aux; /* import: handle; */
    uint64_t aux2; /* import: export length */
    uint32_t aux3; /* import: perms */
    uint32_t pad;
};

/* Written by the NIC into the host's notification ring. */
struct vmmc__notify_rec {
    uint32_t seq; /* ring position + 1 once written */
    int32_t export_id;
    int32_t src;
    uint32_t pad;
    uint64_t offset, len;
};

enum vmmc__pkt_type {
    VMMC__PKT_DATA = 1,
    VMMC__PKT_IMPORT_REQ,
    VMMC__PKT_IMPORT_REP,
    VMMC__PKT_NACK, /* revokes the sender's imports of a refused export */
    VMMC__PKT_ACK,  /* a bare acknowledgement (never sequenced) */
    VMMC__PKT_FETCH_REQ,  /* read export_id/gen [off, off+msg_len) */
    VMMC__PKT_FETCH_DATA, /* a piece of the answer, at off in the fetch */
    VMMC__PKT_FETCH_REP,  /* a refused fetch: status */
};
#define VMMC__PKT_LAST_TYPE VMMC__PKT_FETCH_REP

enum vmmc__pkt_flags {
    VMMC__PF_LAST = 1,     /* last packet of a message */
    VMMC__PF_NOTIFY = 2,   /* notify the receiver when it has landed */
    VMMC__PF_ACK = 4,      /* ack and ack_epoch are valid */
    VMMC__PF_SYN = 8,      /* first packet of a new epoch (seq 0) */
    VMMC__PF_REFUSED = 16, /* refused_seq was refused with status */
};

/* The header at the start of every packet (64 bytes). */
struct vmmc__hdr {
    uint8_t type;
    uint8_t flags;
    uint16_t src;
    uint8_t epoch;      /* the sender's link epoch (1..255, wraps) */
    uint8_t ack_epoch;  /* the epoch ack refers to */
    int8_t refused_status; /* with PF_REFUSED: why refused_seq was refused */
    uint8_t pad;
    uint32_t seq;       /* position in the link (reliable packets) */
    uint32_t ack;       /* every seq before this one has arrived */
    int32_t status;     /* import replies, NACKs, fetch replies */
    uint32_t refused_seq;
    uint32_t export_id;
    uint32_t gen;       /* export generation the sender imported */
    uint32_t len;       /* payload bytes */
    uint32_t cookie;    /* import handle for the request/reply */
    uint64_t off;       /* offset of this payload in the export */
    uint64_t msg_off;   /* offset of the whole message (notifications) */
    uint64_t msg_len;   /* or, in an import reply, the export length */
};

/* Posts a raw command (no library-side checks): lets tests prove that the
 * NIC itself refuses what the library would have refused. */
int vmmc__post_raw(vmmc_ctx *ctx, const struct vmmc__cmd *cmd, vmmc_req *req);

#endif
