/*
 * libs/sock: Berkeley stream sockets over VMMC, in the spirit of the SHRIMP
 * sockets library.  Each simulated node's program calls it from its own
 * host process (hw_self() says which node); the node's state lives here,
 * keyed by node, over the node's one VMMC context (libs/node).
 *
 * Two faces:
 *   - this API (vs_sock_*), for built-in code and tests;
 *   - the POSIX calls (socket, connect, read, poll, getaddrinfo, ...) of a
 *     program built with build/vmmcsim-cc, which links it with
 *     --wrap=socket,... so its calls land in libs/sock/posix.c (same
 *     semantics, errno set).
 *
 * Handles are real file descriptor numbers, reserved (opened on /dev/null)
 * so they never collide with the program's own files.
 *
 * Errors: unlike the rest of vmmcsim, every vs_sock_* call returns a
 * non-negative result or a NEGATIVE errno value from <errno.h> (-EPIPE,
 * -ECONNREFUSED, -EAGAIN, ...): a socket program's contract is errno, and
 * the POSIX face turns -e into errno = e and -1.  No call crashes on
 * misuse: a closed or unknown handle gives -EBADF, a call in the wrong
 * state the errno Linux gives (see docs/sock.md for the table).
 *
 * Blocking calls wait in simulated time (vmmc_wait_until), never spin.
 * Writes never raise SIGPIPE (as with MSG_NOSIGNAL): they return -EPIPE.
 *
 * Addresses: node K is "nodeK", IPv4 10.0.0.0 + K + 1 (node 0 is
 * 10.0.0.1, node 255 is 10.0.1.0); vs_sock_node_addr / vs_sock_addr_node
 * convert.  "localhost", 127.0.0.1 and INADDR_ANY name the node itself for
 * bind; connecting to the node itself is refused (-ECONNREFUSED).
 */
#ifndef LIBS_SOCK_SOCK_H
#define LIBS_SOCK_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Flags of vs_sock_send / vs_sock_recv (and the socket's O_NONBLOCK). */
#define VS_SOCK_DONTWAIT 0x1

/* Shut-down directions (as SHUT_RD, SHUT_WR, SHUT_RDWR). */
#define VS_SOCK_SHUT_RD 0
#define VS_SOCK_SHUT_WR 1
#define VS_SOCK_SHUT_RDWR 2

/* Readiness bits of vs_sock_poll (the values of POLLIN, POLLOUT, POLLERR,
 * POLLHUP, POLLNVAL on Linux). */
#define VS_SOCK_POLLIN 0x001
#define VS_SOCK_POLLOUT 0x004
#define VS_SOCK_POLLERR 0x008
#define VS_SOCK_POLLHUP 0x010
#define VS_SOCK_POLLNVAL 0x020

/* Most sockets and connections one node may have open at once. */
#define VS_SOCK_MAX_SOCKETS 64
#define VS_SOCK_MAX_CONNS 32

/* IPv4 address (host byte order) of node k; node of an address, or -1 if
 * it is no node's. */
uint32_t vs_sock_node_addr(int node);
int vs_sock_addr_node(uint32_t addr);

/* A new unconnected stream socket: its handle (>= 0), -EMFILE, -ENOMEM,
 * -EINVAL off a simulated node. */
int vs_sock_socket(void);
/* Binds to port (host order; 0: an ephemeral port).  -EADDRINUSE,
 * -EINVAL (already bound, or not a fresh socket), -EBADF. */
int vs_sock_bind(int s, int port);
/* Listens (binding an ephemeral port if unbound); backlog < 1 means 1,
 * at most VS_SOCK_MAX_CONNS.  -EINVAL if connected, -EBADF. */
int vs_sock_listen(int s, int backlog);
/* The next connection: a new handle, *peer_node and *peer_port filled if
 * not NULL.  Blocks unless non-blocking: -EAGAIN.  -EINVAL if s does not
 * listen. */
int vs_sock_accept(int s, int *peer_node, int *peer_port);
/* Connects to port of node.  0; -EINPROGRESS on a non-blocking socket
 * (poll for VS_SOCK_POLLOUT, then vs_sock_error); -ECONNREFUSED if nobody
 * listens there (about 4 ms of simulated time for a node whose
 * library never started or has ended); -ETIMEDOUT; -EISCONN, -EALREADY,
 * -EINVAL (listening), -ENETUNREACH (no such node). */
int vs_sock_connect(int s, int node, int port);
/* Sends up to len bytes: the count sent (all of them when blocking, unless
 * an error comes first and nothing was sent), -EAGAIN, -EPIPE (we shut
 * down writing, or the peer closed), -ENOTCONN, -ECONNRESET. */
ssize_t vs_sock_send(int s, const void *buf, size_t len, int flags);
/* Receives up to len bytes: the count (> 0), 0 at end of stream (the peer
 * shut down or closed and everything was read), -EAGAIN, -ENOTCONN. */
ssize_t vs_sock_recv(int s, void *buf, size_t len, int flags);
int vs_sock_shutdown(int s, int how);
/* Closes the handle (sending end of stream to the peer).  -EBADF. */
int vs_sock_close(int s);
/* Sets or clears non-blocking mode; vs_sock_nonblock(s, -1) returns it. */
int vs_sock_nonblock(int s, int on);
/* The pending error of the socket (0 if none), cleared by reading it:
 * SO_ERROR. */
int vs_sock_error(int s);
/* Local and peer (node, port).  -ENOTCONN for the peer of an unconnected
 * socket. */
int vs_sock_name(int s, int *node, int *port);
int vs_sock_peer(int s, int *node, int *port);
/* 1 if s is a socket handle of the calling node, else 0. */
int vs_sock_is(int s);

struct vs_sock_pollfd {
    int s;
    short events, revents;
};
/* Readiness of n sockets: waits up to timeout (< 0: forever, 0: no wait)
 * for one to be ready; returns how many have revents != 0.  A handle that
 * is not a socket gets VS_SOCK_POLLNVAL; a negative one is skipped. */
int vs_sock_poll(struct vs_sock_pollfd *p, size_t n, int64_t timeout_ps);

/* Counters of the calling node's library. */
struct vs_sock_stats {
    uint64_t records_sent, bytes_copied, zc_reads, zc_bytes, zc_declined;
    uint64_t connects, accepts, refused;
};
void vs_sock_get_stats(struct vs_sock_stats *out);

/* Closes every socket of the calling node and releases its state (what
 * the node_at_end hook does when the program ends). */
void vs_sock_end(void);
/* Forgets every node's state (between runs in one process). */
void vs_sock_reset(void);

#endif
