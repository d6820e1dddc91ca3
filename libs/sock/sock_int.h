/*
 * Internals of libs/sock shared by its files: the exported area's layout,
 * the records on the wire, the per-node state and the progress engine.
 * Not for users (they include libs/sock/sock.h).
 *
 * Files: core.c (node state, area, sends, progress, blocking, connection
 * setup and end), sock.c (the vs_sock_* calls), zc.c (zero-copy reads
 * through transfer redirection), posix.c (the POSIX face and addresses).
 */
#ifndef LIBS_SOCK_SOCK_INT_H
#define LIBS_SOCK_SOCK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "libs/node/node.h"
#include "libs/sock/sock.h"
#include "vmmc/vmmc.h"

#define SK_EXPORT_AREA (NODE_EXPORT_SOCK + 0) /* inbox, credits, rings */
#define SK_EXPORT_ZC (NODE_EXPORT_SOCK + 1)   /* zero-copy landing zone */

#define SK_MAXCONN VS_SOCK_MAX_CONNS
#define SK_MAXSOCK VS_SOCK_MAX_SOCKETS
#define SK_NSLOT 16u   /* ring slots per connection (a power of two) */
#define SK_SLOT 4096u  /* one page: a record never crosses a page */
#define SK_TRAILER 32u /* struct sk_trailer */
#define SK_PAYLOAD (SK_SLOT - SK_TRAILER)
#define SK_RESERVE 2u /* slots only FIN and CLOSE may take */
#define SK_REPORT 4u  /* report consumed slots once this many are unreported */
#define SK_INB 8u     /* inbox slots per source node */
#define SK_CTL 64u    /* struct sk_ctl */
#define SK_COPY_MBPS 80 /* host memcpy rate charged for copies (as libs/msg)   \
                         */
#define SK_ZC_MIN 4096u /* reads at least this large may go zero-copy */
#define SK_ZC_MAX (1u << 20) /* the landing zone: larger reads are cut */

/* Waiting for a node's library to start (its area to be exported): retry
 * this often, this many times (with the imports: about 4 ms). */
#define SK_IMPORT_RETRY (20 * HW_US)
#define SK_IMPORT_TRIES 100
#define SK_CONNECT_TIMEOUT (100 * HW_MS)
/* At the end of a program: how long to wait for peers to close. */
#define SK_LINGER (50 * HW_MS)

/* Records in a connection's ring. */
enum sk_type {
    SK_R_DATA = 1, /* len bytes of the stream */
    SK_R_FIN,      /* the peer shut down writing: end of stream */
    SK_R_CLOSE,    /* the peer closed: nothing more comes, not even credits */
    SK_R_RDPOST,   /* reader posted a read: a = seq, b/c = stream position
                    * (low/high), d = length; payload: zone generation */
    SK_R_ZC,       /* writer sent c bytes zero-copy for RDPOST a */
    SK_R_DECLINE,  /* writer will not serve RDPOST a (b = 1: its write was
                    * smaller than SK_ZC_MIN) */
};

/* At the very end of each slot, the payload right before it: one vmmc_send
 * carries both and the trailer lands last (VMMC delivers a peer's bytes in
 * order), so seq == k + 1 in slot k % SK_NSLOT means record k is whole. */
struct sk_trailer {
    uint32_t len, type, a, b, c, d;
    uint32_t credit; /* records of the other direction consumed so far */
    uint32_t seq;
};

/* Inbox records (connection setup), one 64-byte slot each. */
enum sk_ctl_type {
    SK_C_CONNECT = 1, /* port, src_slot, sport */
    SK_C_ACCEPT,      /* dst_slot (the connector's), src_slot (acceptor's) */
    SK_C_REFUSE,      /* dst_slot, status = errno */
};

struct sk_ctl {
    uint32_t type, port, src_slot, dst_slot, sport, status;
    uint32_t pad[9];
    uint32_t seq;
};

enum sk_conn_state { SK_FREE = 0, SK_CONNECTING, SK_EST, SK_FAILED };

struct sk_conn {
    int state;
    int sock;     /* owning socket, -1 while in a listener's backlog */
    int listener; /* the listening socket whose backlog holds it, or -1 */
    uint64_t arrival;
    int peer, peer_slot, lport, pport;
    int err; /* errno to report (connect failure, reset) */
    /* Sending. */
    uint32_t tx_seq, cred_seen;
    unsigned char *stage; /* SK_NSLOT * SK_SLOT, a copy of our ring there */
    vmmc_req req[SK_NSLOT];
    unsigned char req_busy[SK_NSLOT];
    /* Receiving. */
    uint32_t rx_rd, rx_off, rx_scan, rx_reported;
    uint32_t cred_word;
    vmmc_req cred_req;
    int cred_busy;
    int peer_fin, peer_closed, local_closed, fin_sent, close_sent;
    /* Zero copy: our pending RDPOST (reader) and the peer's (writer). */
    uint32_t zc_seq;      /* RDPOSTs we sent */
    int zc_pending;       /* a redirection is posted for zc_seq */
    uint32_t zc_done_len; /* SK_R_ZC for zc_seq scanned: its length */
    int zc_answered;      /* ZC or DECLINE for zc_seq scanned */
    int zc_small;         /* ... a DECLINE because the write was small */
    uint32_t zc_declines; /* small-write declines in a row */
    uint32_t zc_skip;     /* eligible reads still to do without a post */
    int peer_rd_valid;    /* the peer posted a read not yet answered */
    uint32_t peer_rd_seq, peer_rd_len, peer_rd_gen;
    uint64_t peer_rd_pos;
    uint64_t tx_bytes, rx_bytes; /* stream positions */
};

enum sk_kind { SK_K_FREE = 0, SK_K_FRESH, SK_K_LISTEN, SK_K_CONN };

struct sk_sock {
    int fd; /* the reserved descriptor (the handle) */
    int kind;
    int port, bound, nonblock, backlog;
    int conn; /* SK_K_CONN: the connection slot */
    int shut_rd, shut_wr;
    int err;
};

struct sk_pending_ctl {
    int dst;
    struct sk_ctl rec;
    struct sk_pending_ctl *next;
};

struct sk_node {
    hw_host *h;
    vmmc_ctx *vc;
    int me, nn;
    unsigned char *area;
    size_t area_len, off_inbcred, off_cred, off_ring;
    unsigned char *zc_zone;
    int zc_exported;
    uint32_t zc_gen;       /* times our landing zone was exported */
    vmmc_import_t *zc_imp; /* per node: its landing zone, or -1 */
    uint32_t *zc_imp_gen;  /* the generation zc_imp was taken at */
    vmmc_import_t *imp;    /* per node, -1 */
    /* Inbox: what each source sent us, and our reports back. */
    uint32_t *inb_next, *inb_reported, *inb_stage;
    vmmc_req *inb_req;
    unsigned char *inb_busy;
    /* Our records to each node's inbox. */
    uint32_t *ctl_sent, *ctl_cred_seen;
    struct sk_ctl *ctl_stage; /* nn * SK_INB */
    vmmc_req *ctl_req;
    unsigned char *ctl_busy;
    struct sk_pending_ctl *ctl_queue;
    struct sk_conn conn[SK_MAXCONN];
    struct sk_sock sock[SK_MAXSOCK];
    int next_port;
    uint64_t arrivals;
    int in_end;
    struct vs_sock_stats st;
};

/* The calling node's state, set up on first use (NULL off a node or if
 * the area cannot be exported: *err then has -errno). */
struct sk_node *sk__node(int *err);
/* The state if it exists (never creates it). */
struct sk_node *sk__node_peek(void);

void sk__charge_call(struct sk_node *n);
void sk__charge_copy(struct sk_node *n, size_t bytes);

/* Handles new inbox records, new ring records (control ones acted on),
 * credits, queued setup records. */
void sk__progress(struct sk_node *n);
/* Progress until done(arg) or timeout (< 0: forever): 0, or -ETIMEDOUT. */
int sk__block(struct sk_node *n, int (*done)(struct sk_node *, void *),
              void *arg, hw_time_t timeout);

/* The trailer of record k of our receive ring of connection c. */
volatile struct sk_trailer *sk__rx_trailer(struct sk_node *n, int c,
                                           uint32_t k);
/* Record k's payload (len bytes before its trailer). */
const unsigned char *sk__rx_payload(struct sk_node *n, int c, uint32_t k,
                                    uint32_t len);
/* Free sending slots of connection c for a record of this type. */
uint32_t sk__tx_room(const struct sk_conn *cn, int type);
/* Sends one record (payload len <= SK_PAYLOAD); the caller checked room.
 * 0 or -errno (the connection is then broken). */
int sk__send_record(struct sk_node *n, int c, int type, const void *payload,
                    uint32_t len, uint32_t a, uint32_t b, uint32_t cc,
                    uint32_t d);
/* Reports consumed records to the peer if enough are unreported (force:
 * any). */
void sk__report_credit(struct sk_node *n, int c, int force);

/* Connection setup. */
int sk__conn_alloc(struct sk_node *n);
void sk__conn_release(struct sk_node *n, int c);
int sk__import(struct sk_node *n, int node, int tries);
int sk__queue_ctl(struct sk_node *n, int dst, const struct sk_ctl *rec);
/* Sends our CLOSE (and gives up the slot once the peer's came). */
void sk__conn_close(struct sk_node *n, int c);

struct sk_sock *sk__sock(struct sk_node *n, int s);

/* Zero copy (zc.c). */
ssize_t sk__zc_read(struct sk_node *n, int c, void *buf, size_t len);
void sk__zc_serve(struct sk_node *n, int c, const unsigned char *buf,
                  size_t len, size_t *sent);
void sk__zc_decline_stale(struct sk_node *n, int c);

#endif
