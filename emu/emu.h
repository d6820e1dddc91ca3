/*
 * emu/ — the emulated NIC: the hardware port (hw/hw.h) in real time, for
 * one node per OS process.  The NIC side runs in a libev event loop on its
 * own thread (the "NIC processor": every firmware upcall runs there, one at
 * a time); host-DMA is memcpy between the process's memory and a malloc'd
 * SRAM; packets travel in UDP datagrams between node processes, on one
 * machine over loopback or across machines, addressed from a cluster file.
 * The host side (the VMMC user library and the workload) runs on another
 * thread of the same process.  docs/emu.md says how and why.
 *
 * Layering: emu/ sits beside nicmodel/ under the hardware port.  It uses
 * hw/ and util/ only; cli/ passes it the few numbers of a profile it needs
 * (struct emu_config), so it never includes nicmodel/, sim/ or cli/.  It is
 * the only layer that includes <ev.h>.
 */
#ifndef EMU_EMU_H
#define EMU_EMU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hw/hw.h"

/* ---- The datagram format (emu/wire.c) ----
 *
 * Every datagram is a 24-byte header, big-endian, then a payload:
 *    0  magic    u32  EMU_WIRE_MAGIC ("VMEU")
 *    4  version  u8   EMU_WIRE_VERSION
 *    5  type     u8   enum emu_pkt_type
 *    6  reserved u16  0
 *    8  src      u16  sending node id
 *   10  dst      u16  receiving node id
 *   12  len      u32  payload bytes (the datagram is 24 + len bytes)
 *   16  cluster  u32  the cluster's id (a CRC of its cluster file)
 *   20  crc      u32  CRC-32 (IEEE) of bytes 0..19 and the payload
 * The magic and the version come first and are checked first, so a later
 * version may change everything after them.  A DATA payload is one firmware
 * packet, byte for byte. */
#define EMU_WIRE_MAGIC 0x564d4555u
#define EMU_WIRE_VERSION 1
#define EMU_WIRE_HDR 24
/* The largest payload of a control datagram (a FIN's result record). */
#define EMU_CTRL_MAX 1024

enum emu_pkt_type {
    EMU_PKT_DATA = 1, /* a firmware packet */
    EMU_PKT_HELLO,    /* join: "I am up", answered by HELLO_ACK */
    EMU_PKT_HELLO_ACK,
    EMU_PKT_FIN, /* end: "my program is done" + its result record */
    EMU_PKT_FIN_ACK,
    EMU_PKT_NTYPES_
};

struct emu_wire_hdr {
    uint8_t version, type;
    uint16_t src, dst;
    uint32_t len;
    uint32_t cluster;
};

/* Why a datagram did not parse (0: it did). */
#define EMU_WIRE_ERRORS(X)                                                     \
    X(EMU_WIRE_OK, "ok")                                                       \
    X(EMU_WIRE_SHORT, "shorter than the header")                               \
    X(EMU_WIRE_BAD_MAGIC, "bad magic")                                         \
    X(EMU_WIRE_BAD_VERSION, "another packet version")                          \
    X(EMU_WIRE_BAD_LENGTH, "length field and datagram size differ")            \
    X(EMU_WIRE_BAD_CHECKSUM, "checksum mismatch")                              \
    X(EMU_WIRE_BAD_TYPE, "unknown packet type")

enum emu_wire_status {
#define EMU_WIRE_ENUM_(name, text) name,
    EMU_WIRE_ERRORS(EMU_WIRE_ENUM_)
#undef EMU_WIRE_ENUM_
        EMU_WIRE_NSTATUS
};

const char *emu_wire_strerror(int status);
/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): start with crc = 0. */
uint32_t emu_crc32(uint32_t crc, const void *data, size_t len);
/* Writes the header for h (h->len bytes of payload follow) into
 * hdr[EMU_WIRE_HDR], with the checksum over it and payload. */
void emu_wire_header(unsigned char hdr[EMU_WIRE_HDR],
                     const struct emu_wire_hdr *h, const void *payload);
/* Parses a datagram of len bytes: fills *h and returns EMU_WIRE_OK (the
 * payload is buf + EMU_WIRE_HDR, h->len bytes), or why not.  Never reads
 * past len.  On EMU_WIRE_BAD_VERSION, h->version holds the version found. */
int emu_wire_decode(const void *buf, size_t len, struct emu_wire_hdr *h);

/* ---- The cluster file (emu/cluster.c) ----
 *
 * One node a line, "ID HOST PORT"; '#' starts a comment; blank lines are
 * ignored.  The ids must be exactly 0..N-1, each once; HOST is a name or a
 * numeric IPv4/IPv6 address, PORT 1..65535; every (HOST, PORT) once. */
struct emu_peer {
    int id;
    int line; /* in the file, for messages */
    char host[256];
    unsigned port;
    struct sockaddr_storage addr; /* resolved */
    socklen_t addrlen;
    char label[300]; /* "host:port" */
};

struct emu_cluster {
    char path[512];
    int n;
    struct emu_peer *peers; /* by id */
    uint32_t id;            /* CRC of the entries: which cluster this is */
};

/* Parses text (the contents of path, which is only named in messages) and
 * resolves every host.  Returns 0, or VS_ECONFIG with "PATH:LINE: ..." in
 * err, or VS_ENOMEM.  emu_cluster_free() afterwards in every case. */
int emu_cluster_parse(struct emu_cluster *c, const char *path, const char *text,
                      char *err, size_t errlen);
/* Reads the file and parses it as above. */
int emu_cluster_load(struct emu_cluster *c, const char *path, char *err,
                     size_t errlen);
void emu_cluster_free(struct emu_cluster *c);

/* ---- The host lock (emu/host.c) ----
 *
 * Optional, for node processes of one machine that share memory with each
 * other (the launcher's runs): a robust, process-shared lock that a node's
 * host program holds while it runs and releases whenever it blocks in a
 * port call (wait, compute), so host programs run one at a time between
 * blocking points, as on the simulator.  Memory the programs share without
 * synchronisation of their own (the workloads' result record) then stays
 * consistent.  It lives in memory shared by the processes. */
struct emu_hostlock;
size_t emu_hostlock_size(void);
/* Initialises a lock in (shared) memory of emu_hostlock_size() bytes.
 * Returns 0 or VS_EIO. */
int emu_hostlock_init(struct emu_hostlock *l);
/* Takes and gives back the lock (emu_host_enter/leave and the host ops do
 * this for a node); a process that died holding it does not keep it. */
void emu_hostlock_acquire(struct emu_hostlock *l);
void emu_hostlock_release(struct emu_hostlock *l);

/* ---- A node ---- */

#define EMU_MAX_DOWNS 16

/* The fault shim (emu/nic.c): what happens to the firmware's packets (DATA
 * datagrams) on the sending side, in the NIC thread, just before they go
 * to the socket.  Probabilities per datagram, drawn in this order: drop (it
 * is not sent); corrupt (one bit of the payload flipped after the checksum
 * was computed, so the receiver discards and counts it); dup (sent twice);
 * reorder (held for 1 ps .. reorder_delay_max of real time, then sent, so
 * later datagrams overtake it).  Decisions come from a xoshiro256**
 * generator seeded from seed and the node id: the same seed makes the same
 * decisions for the same sequence of sends (the timing is real). */
struct emu_faults {
    double drop, corrupt, dup, reorder;
    hw_time_t reorder_delay_max; /* <= 0: EMU_REORDER_DELAY_DEFAULT */
    uint64_t seed;
    /* Down intervals, in real time since the node's epoch (cfg.epoch_ns:
     * the run's start, shared by the node processes of one machine):
     * while one holds, every DATA datagram between nodes a and b (both
     * ways), or (b < 0) every DATA datagram node a sends or is sent, is
     * lost.  The sender checks, so both ends agree on one machine.  HELLO
     * and FIN are left alone (they have their own resends).  to =
     * HW_TIME_NEVER: for good. */
    struct emu_down {
        int a, b;
        hw_time_t from, to;
    } downs[EMU_MAX_DOWNS];
    int ndowns;
};
#define EMU_REORDER_DELAY_DEFAULT (2 * HW_MS)

/* What a node needs to know.  The NIC numbers come from a profile, which
 * cli/ reads (emu/ does not include nicmodel/). */
struct emu_config {
    int node;                          /* this node's id */
    const struct emu_cluster *cluster; /* every node's address */
    int sock_fd; /* a bound UDP socket to use and close (-1: bind the
                    cluster file's address of this node) */
    /* The NIC. */
    size_t page_size, max_packet;
    unsigned send_buffers, recv_buffers, utlb_entries;
    uint64_t sram_bytes;
    /* The firmware's reliable link. */
    int unreliable;
    hw_time_t rto, ack_delay;
    unsigned max_retries, window;
    /* The run. */
    hw_time_t join_timeout;   /* emu_node_join gives up after this */
    hw_time_t hello_interval; /* HELLO and FIN resend period (0: 20 ms) */
    hw_time_t spin;           /* a waiting host spins this long first */
    int64_t epoch_ns;         /* CLOCK_MONOTONIC nanoseconds that are time 0 (0:
                                 when the node opens); nodes of one machine that
                                 compare times share it */
    struct emu_hostlock *hostlock; /* NULL: none */
    struct emu_faults faults;      /* all zero: none */
};

/* Counters of the emulated NIC (read them after emu_node_stop). */
struct emu_stats {
    uint64_t tx_datagrams, tx_bytes, tx_dropped; /* dropped: EAGAIN etc. */
    uint64_t tx_errors;                          /* other send errors */
    uint64_t rx_datagrams, rx_bytes;
    uint64_t rx_bad[EMU_WIRE_NSTATUS]; /* did not parse, by reason */
    uint64_t rx_unknown; /* from an address or id not in the cluster */
    uint64_t rx_foreign; /* another cluster's id, or not for us */
    uint64_t rx_stalls;  /* the socket was left unread: no buffer free */
    uint64_t host_dmas, host_dma_bytes, pio_writes, pio_bytes;
    uint64_t fw_upcalls, timers, host_wakeups, interrupts;
    uint64_t charged[HW_FW_NCOSTS]; /* what the firmware charged, by class */
    uint64_t sram_peak;
    /* Faults the shim injected into this node's sends, by kind. */
    uint64_t fault_drop, fault_corrupt, fault_dup, fault_reorder;
    /* DATA datagrams not sent because a down interval held. */
    uint64_t fault_down;
    /* The NIC thread's own cost (CLOCK_MONOTONIC, nanoseconds): time in
     * the loop's callbacks (everything but waiting for an event), and of
     * it the time inside sendmsg/recvmmsg calls (loop_syscalls of them,
     * a last read that finds the socket empty included). */
    uint64_t loop_busy_ns, loop_sys_ns, loop_syscalls;
    /* The NIC thread's CPU time (user and system, waiting in epoll
     * included), as of the emu_node_stats call. */
    uint64_t loop_cpu_ns;
};

typedef struct emu_node emu_node;

/* Opens the node: its socket (bound), SRAM with the receive buffers, the
 * event loop (not running yet).  Returns 0, or VS_ECONFIG (the port is in
 * use, the address is not local: err names the cluster file's line),
 * VS_ENOMEM, VS_EIO with err. */
int emu_node_open(emu_node **out, const struct emu_config *cfg, char *err,
                  size_t errlen);
/* The two sides of the port.  Boot the firmware on the NIC (vmmc_fw_boot)
 * before emu_node_start; halt it after emu_node_stop. */
hw_nic *emu_nic(emu_node *n);
hw_host *emu_host(emu_node *n);
/* Starts the NIC thread (the event loop); from now on the firmware runs
 * there and the node greets its peers.  Returns 0 or VS_EIO.  A NIC that
 * emu_node_stop stopped may be started again: meanwhile it was dead to the
 * network (datagrams queued in the socket, then dropped). */
int emu_node_start(emu_node *n);
/* Blocks until every peer has answered (HELLO), or cfg->join_timeout
 * passes (VS_ETIMEDOUT, err names the nodes that never joined), or a
 * datagram shows a mismatch (VS_ECONFIG: another packet version, an
 * unknown node, another cluster; err says which). */
int emu_node_join(emu_node *n, char *err, size_t errlen);
/* Makes the calling thread the node's host: hw_self() returns the host
 * there, and it holds the host lock (if any) until emu_host_leave. */
void emu_host_enter(emu_node *n);
void emu_host_leave(emu_node *n);
/* The end of the run: tells every peer this node's program is done,
 * handing it result (len <= EMU_CTRL_MAX bytes), and blocks until every
 * peer's program is done too.  Fails with VS_EUNREACH (err names the
 * node) if a peer stops answering for the link's unreachable bound (at
 * least a second), VS_ETIMEDOUT after timeout (< 0: none). */
int emu_node_finish(emu_node *n, const void *result, size_t len,
                    hw_time_t timeout, char *err, size_t errlen);
/* Node k's result record after emu_node_finish (NULL if none). */
const void *emu_node_result(emu_node *n, int k, size_t *len);
/* Stops the NIC thread; no upcall runs afterwards (until a new start). */
void emu_node_stop(emu_node *n);
const struct emu_stats *emu_node_stats(emu_node *n);
/* Frees the node (after emu_node_stop and the firmware's halt).  SRAM the
 * firmware did not free is an invariant violation (util/inv.h). */
void emu_node_close(emu_node *n);

/* The monotonic clock in picoseconds since the node's epoch. */
hw_time_t emu_now(const emu_node *n);

#endif
