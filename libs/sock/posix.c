/*
 * libs/sock POSIX face: what an unchanged socket program calls.  Programs
 * built with build/vmmcsim-cc are linked with --wrap=socket,--wrap=read,...
 * so their own calls to these functions land in the __wrap_ functions
 * below, while libc, SimGrid and the simulator keep the real ones.  Calls
 * on descriptors that are not sockets of the calling node, and every call
 * made outside a simulated node, go to the real function (this file is not
 * linked with --wrap, so calling read() here calls libc's).
 *
 * Addresses: node K is "nodeK", IPv4 10.0.0.0 + K + 1 (sock.h).  Errors
 * become errno and -1, as the real calls report them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hw/hw.h"
#include "libs/sock/sock.h"

int __wrap_socket(int domain, int type, int protocol);
int __wrap_bind(int fd, const struct sockaddr *addr, socklen_t len);
int __wrap_listen(int fd, int backlog);
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *addr, socklen_t alen);
ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *addr, socklen_t *alen);
ssize_t __wrap_read(int fd, void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
int __wrap_close(int fd);
int __wrap_shutdown(int fd, int how);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int __wrap_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
                  struct timeval *tv);
int __wrap_fcntl(int fd, int cmd, ...);
int __wrap_setsockopt(int fd, int level, int name, const void *val,
                      socklen_t len);
int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int __wrap_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);
void __wrap_freeaddrinfo(struct addrinfo *ai);
int __wrap_gethostname(char *name, size_t len);

static int on_node(void)
{
    return hw_self() != NULL;
}

static int sock_fd(int fd)
{
    return on_node() && vs_sock_is(fd);
}

static int ret(int rc)
{
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return rc;
}

static ssize_t sret(ssize_t rc)
{
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

/* ---- Addresses ---- */

static int node_count(void)
{
    hw_host *h = hw_self();
    return h ? h->nnodes : 0;
}

static int self_node(void)
{
    hw_host *h = hw_self();
    return h ? h->node : -1;
}

/* The node an IPv4 address (network order) names for connect: -1 none,
 * -2 loopback. */
static int addr_node(uint32_t net)
{
    uint32_t a = ntohl(net);
    if ((a >> 24) == 127)
        return -2;
    int k = vs_sock_addr_node(a);
    return k >= 0 && k < node_count() ? k : -1;
}

static void fill_addr(struct sockaddr *addr, socklen_t *len, int node, int port)
{
    if (!addr || !len)
        return;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(vs_sock_node_addr(node))};
    memcpy(addr, &sa, *len < sizeof sa ? *len : sizeof sa);
    *len = sizeof sa;
}

static int get_in(const struct sockaddr *addr, socklen_t len,
                  struct sockaddr_in *out)
{
    if (!addr)
        return -EFAULT;
    if (len < sizeof *out)
        return -EINVAL;
    memcpy(out, addr, sizeof *out);
    if (out->sin_family != AF_INET)
        return -EAFNOSUPPORT;
    return 0;
}

/* ---- Sockets ---- */

int __wrap_socket(int domain, int type, int protocol)
{
    if (!on_node())
        return socket(domain, type, protocol);
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (domain != AF_INET)
        return ret(-EAFNOSUPPORT);
    if (base != SOCK_STREAM)
        return ret(-ESOCKTNOSUPPORT);
    if (protocol && protocol != IPPROTO_TCP)
        return ret(-EPROTONOSUPPORT);
    int s = vs_sock_socket();
    if (s >= 0 && (type & SOCK_NONBLOCK))
        vs_sock_nonblock(s, 1);
    return ret(s);
}

int __wrap_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (!sock_fd(fd))
        return bind(fd, addr, len);
    struct sockaddr_in sa;
    int rc = get_in(addr, len, &sa);
    if (rc)
        return ret(rc);
    uint32_t a = ntohl(sa.sin_addr.s_addr);
    if (a != INADDR_ANY && (a >> 24) != 127 &&
        vs_sock_addr_node(a) != self_node())
        return ret(-EADDRNOTAVAIL);
    return ret(vs_sock_bind(fd, ntohs(sa.sin_port)));
}

int __wrap_listen(int fd, int backlog)
{
    if (!sock_fd(fd))
        return listen(fd, backlog);
    return ret(vs_sock_listen(fd, backlog));
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (!sock_fd(fd))
        return accept4(fd, addr, len, flags);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return ret(-EINVAL);
    int node = 0, port = 0;
    int s = vs_sock_accept(fd, &node, &port);
    if (s < 0)
        return ret(s);
    if (flags & SOCK_NONBLOCK)
        vs_sock_nonblock(s, 1);
    fill_addr(addr, len, node, port);
    return s;
}

int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!sock_fd(fd))
        return accept(fd, addr, len);
    return __wrap_accept4(fd, addr, len, 0);
}

int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (!sock_fd(fd))
        return connect(fd, addr, len);
    struct sockaddr_in sa;
    int rc = get_in(addr, len, &sa);
    if (rc)
        return ret(rc);
    int node = addr_node(sa.sin_addr.s_addr);
    if (node == -2)
        node = self_node(); /* refused: see sock.h */
    if (node == -1)
        return ret(-ENETUNREACH);
    return ret(vs_sock_connect(fd, node, ntohs(sa.sin_port)));
}

static int sock_flags(int flags, int *out)
{
    if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_WAITALL | MSG_MORE))
        return -EOPNOTSUPP;
    *out = (flags & MSG_DONTWAIT) ? VS_SOCK_DONTWAIT : 0;
    return 0;
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
    if (!sock_fd(fd))
        return send(fd, buf, len, flags);
    int f, rc = sock_flags(flags, &f);
    if (rc)
        return ret(rc);
    return sret(vs_sock_send(fd, buf, len, f));
}

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
    if (!sock_fd(fd))
        return recv(fd, buf, len, flags);
    int f, rc = sock_flags(flags, &f);
    if (rc)
        return ret(rc);
    if (!(flags & MSG_WAITALL) || f)
        return sret(vs_sock_recv(fd, buf, len, f));
    size_t got = 0;
    while (got < len) {
        ssize_t k = vs_sock_recv(fd, (char *)buf + got, len - got, 0);
        if (k < 0 && !got)
            return sret(k);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *addr, socklen_t alen)
{
    if (!sock_fd(fd))
        return sendto(fd, buf, len, flags, addr, alen);
    if (addr)
        return ret(-EISCONN);
    return __wrap_send(fd, buf, len, flags);
}

ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *addr, socklen_t *alen)
{
    if (!sock_fd(fd))
        return recvfrom(fd, buf, len, flags, addr, alen);
    ssize_t k = __wrap_recv(fd, buf, len, flags);
    if (k >= 0 && addr && alen) {
        int node = 0, port = 0;
        if (vs_sock_peer(fd, &node, &port) == 0)
            fill_addr(addr, alen, node, port);
    }
    return k;
}

ssize_t __wrap_read(int fd, void *buf, size_t len)
{
    if (!sock_fd(fd))
        return read(fd, buf, len);
    return sret(vs_sock_recv(fd, buf, len, 0));
}

ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
    if (!sock_fd(fd))
        return write(fd, buf, len);
    return sret(vs_sock_send(fd, buf, len, 0));
}

int __wrap_close(int fd)
{
    if (!sock_fd(fd))
        return close(fd);
    return ret(vs_sock_close(fd));
}

int __wrap_shutdown(int fd, int how)
{
    if (!sock_fd(fd))
        return shutdown(fd, how);
    return ret(vs_sock_shutdown(fd, how));
}

int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *ptr = NULL;
    int iarg = 0;
    switch (cmd) {
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
    case F_GETOWN_EX:
    case F_SETOWN_EX:
        ptr = va_arg(ap, void *);
        break;
    case F_GETFD:
    case F_GETFL:
    case F_GETOWN:
    case F_GETSIG:
    case F_GETLEASE:
    case F_GETPIPE_SZ:
#ifdef F_GET_SEALS
    case F_GET_SEALS:
#endif
        break;
    default:
        iarg = va_arg(ap, int);
        break;
    }
    va_end(ap);
    if (!sock_fd(fd))
        return ptr ? fcntl(fd, cmd, ptr) : fcntl(fd, cmd, iarg);
    switch (cmd) {
    case F_GETFL:
        return O_RDWR | (vs_sock_nonblock(fd, -1) > 0 ? O_NONBLOCK : 0);
    case F_SETFL:
        vs_sock_nonblock(fd, (iarg & O_NONBLOCK) != 0);
        return 0;
    case F_GETFD:
        return fcntl(fd, cmd);
    case F_SETFD:
        return fcntl(fd, cmd, iarg);
    default:
        return ret(-EINVAL);
    }
}

/* Options a program may set; they change nothing here (docs/sock.md). */
int __wrap_setsockopt(int fd, int level, int name, const void *val,
                      socklen_t len)
{
    if (!sock_fd(fd))
        return setsockopt(fd, level, name, val, len);
    if (!val)
        return ret(-EFAULT);
    if (level == SOL_SOCKET &&
        (name == SO_REUSEADDR || name == SO_REUSEPORT || name == SO_KEEPALIVE ||
         name == SO_SNDBUF || name == SO_RCVBUF || name == SO_LINGER))
        return len < sizeof(int) ? ret(-EINVAL) : 0;
    if (level == IPPROTO_TCP && name == TCP_NODELAY)
        return len < sizeof(int) ? ret(-EINVAL) : 0;
    return ret(-ENOPROTOOPT);
}

int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    if (!sock_fd(fd))
        return getsockopt(fd, level, name, val, len);
    if (!val || !len)
        return ret(-EFAULT);
    if (*len < sizeof(int))
        return ret(-EINVAL);
    int v;
    if (level == SOL_SOCKET && name == SO_ERROR)
        v = vs_sock_error(fd);
    else if (level == SOL_SOCKET && name == SO_TYPE)
        v = SOCK_STREAM;
    else
        return ret(-ENOPROTOOPT);
    memcpy(val, &v, sizeof v);
    *len = sizeof v;
    return 0;
}

int __wrap_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!sock_fd(fd))
        return getsockname(fd, addr, len);
    if (!addr || !len)
        return ret(-EFAULT);
    int node, port;
    int rc = vs_sock_name(fd, &node, &port);
    if (rc)
        return ret(rc);
    fill_addr(addr, len, node, port);
    return 0;
}

int __wrap_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!sock_fd(fd))
        return getpeername(fd, addr, len);
    if (!addr || !len)
        return ret(-EFAULT);
    int node, port;
    int rc = vs_sock_peer(fd, &node, &port);
    if (rc)
        return ret(rc);
    fill_addr(addr, len, node, port);
    return 0;
}

/* ---- poll ---- */

int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    if (!on_node())
        return poll(fds, nfds, timeout);
    /* Even with no socket among fds, the wait is in simulated time (a
     * real wait would stop every node). */
    nfds_t nsock = 0;
    for (nfds_t i = 0; i < nfds; i++)
        nsock += fds[i].fd >= 0 && vs_sock_is(fds[i].fd);
    struct vs_sock_pollfd *p = calloc(nfds ? nfds : 1, sizeof *p);
    if (!p)
        return ret(-ENOMEM);
    int others = nsock < nfds;
    for (nfds_t i = 0; i < nfds; i++) {
        int is = fds[i].fd >= 0 && vs_sock_is(fds[i].fd);
        p[i].s = is ? fds[i].fd : -1;
        p[i].events = fds[i].events;
    }
    hw_host *h = hw_self();
    hw_time_t end = timeout < 0 ? HW_TIME_NEVER
                                : h->ops->now(h) + (hw_time_t)timeout * HW_MS;
    int rc;
    for (;;) {
        hw_time_t t = h->ops->now(h),
                  slice = end == HW_TIME_NEVER ? -1 : end - t;
        /* Other descriptors are looked at every simulated millisecond. */
        if (others && (slice < 0 || slice > HW_MS))
            slice = HW_MS;
        if (slice < 0 && end != HW_TIME_NEVER)
            slice = 0;
        rc = vs_sock_poll(p, nfds, slice);
        if (rc < 0)
            break;
        int ready = rc;
        for (nfds_t i = 0; i < nfds; i++) {
            if (p[i].s >= 0) {
                fds[i].revents = p[i].revents;
                continue;
            }
            fds[i].revents = 0;
            if (fds[i].fd >= 0 && others) {
                struct pollfd one = fds[i];
                if (poll(&one, 1, 0) > 0) {
                    fds[i].revents = one.revents;
                    ready++;
                }
            }
        }
        rc = ready;
        if (ready || h->ops->now(h) >= end)
            break;
    }
    free(p);
    return ret(rc);
}

/* select over poll: the same readiness, the same simulated-time wait. */
int __wrap_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
                  struct timeval *tv)
{
    if (!on_node())
        return select(nfds, rd, wr, ex, tv);
    if (nfds < 0 || nfds > FD_SETSIZE)
        return ret(-EINVAL);
    struct pollfd *p = calloc(nfds ? (size_t)nfds : 1, sizeof *p);
    if (!p)
        return ret(-ENOMEM);
    nfds_t n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((rd && FD_ISSET(fd, rd) ? POLLIN : 0) |
                           (wr && FD_ISSET(fd, wr) ? POLLOUT : 0) |
                           (ex && FD_ISSET(fd, ex) ? POLLPRI : 0));
        if (ev)
            p[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    int timeout = -1;
    if (tv) {
        if (tv->tv_sec < 0 || tv->tv_usec < 0) {
            free(p);
            return ret(-EINVAL);
        }
        long long ms =
            (long long)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
        timeout = ms > INT32_MAX ? INT32_MAX : (int)ms;
    }
    int rc = __wrap_poll(p, n, timeout);
    if (rc < 0) {
        free(p);
        return -1;
    }
    int count = 0;
    for (nfds_t i = 0; i < n; i++) {
        int fd = p[i].fd;
        short r = p[i].revents;
        if (r & POLLNVAL) {
            free(p);
            return ret(-EBADF);
        }
        if (rd && FD_ISSET(fd, rd) && !(r & (POLLIN | POLLHUP | POLLERR)))
            FD_CLR(fd, rd);
        if (wr && FD_ISSET(fd, wr) && !(r & (POLLOUT | POLLERR)))
            FD_CLR(fd, wr);
        if (ex && FD_ISSET(fd, ex) && !(r & POLLPRI))
            FD_CLR(fd, ex);
        count += (rd && FD_ISSET(fd, rd)) + (wr && FD_ISSET(fd, wr)) +
                 (ex && FD_ISSET(fd, ex));
    }
    free(p);
    return count;
}

/* ---- Names ---- */

/* Our addrinfo results, so freeaddrinfo frees only those (others are
 * libc's). */
struct ai_block {
    struct addrinfo ai;
    struct sockaddr_in sa;
    char name[32];
    struct ai_block *next;
};

static struct ai_block *ai_list;

/* Node K of "nodeK", or -1. */
static int parse_node_name(const char *s)
{
    if (strncmp(s, "node", 4) || !s[4])
        return -1;
    char *end;
    long k = strtol(s + 4, &end, 10);
    if (*end || k < 0 || k >= node_count() || s[4] == '+' || s[4] == '-' ||
        s[4] == ' ')
        return -1;
    return (int)k;
}

int __wrap_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res)
{
    if (!on_node())
        return getaddrinfo(node, service, hints, res);
    if (!res || (!node && !service))
        return EAI_NONAME;
    int family = hints ? hints->ai_family : AF_UNSPEC;
    int socktype = hints ? hints->ai_socktype : 0;
    int flags = hints ? hints->ai_flags : 0;
    if (family != AF_UNSPEC && family != AF_INET)
        return EAI_FAMILY;
    if (socktype != 0 && socktype != SOCK_STREAM)
        return EAI_SOCKTYPE;
    long port = 0;
    if (service) {
        char *end;
        port = strtol(service, &end, 10);
        if (*end || !*service || port < 0 || port > 65535)
            return EAI_SERVICE;
    }
    uint32_t addr; /* host order */
    char canon[32];
    int k = -1;
    struct in_addr in;
    if (!node) {
        addr = (flags & AI_PASSIVE) ? INADDR_ANY : INADDR_LOOPBACK;
    } else if (inet_pton(AF_INET, node, &in) == 1) {
        addr = ntohl(in.s_addr);
        k = vs_sock_addr_node(addr);
    } else if (flags & AI_NUMERICHOST) {
        return EAI_NONAME;
    } else if (!strcmp(node, "localhost")) {
        addr = INADDR_LOOPBACK;
    } else if ((k = parse_node_name(node)) >= 0) {
        addr = vs_sock_node_addr(k);
    } else {
        return EAI_NONAME;
    }
    if (k < 0 && addr == INADDR_LOOPBACK)
        k = self_node();
    if (k >= 0)
        snprintf(canon, sizeof canon, "node%d", k);
    else
        snprintf(canon, sizeof canon, "%s", node ? node : "0.0.0.0");
    struct ai_block *b = calloc(1, sizeof *b);
    if (!b)
        return EAI_MEMORY;
    b->sa.sin_family = AF_INET;
    b->sa.sin_port = htons((uint16_t)port);
    b->sa.sin_addr.s_addr = htonl(addr);
    snprintf(b->name, sizeof b->name, "%s", canon);
    b->ai.ai_family = AF_INET;
    b->ai.ai_socktype = SOCK_STREAM;
    b->ai.ai_protocol = IPPROTO_TCP;
    b->ai.ai_addrlen = sizeof b->sa;
    b->ai.ai_addr = (struct sockaddr *)&b->sa;
    b->ai.ai_canonname = (flags & AI_CANONNAME) ? b->name : NULL;
    b->next = ai_list;
    ai_list = b;
    *res = &b->ai;
    return 0;
}

void __wrap_freeaddrinfo(struct addrinfo *ai)
{
    for (struct ai_block **pp = &ai_list; *pp; pp = &(*pp)->next)
        if (&(*pp)->ai == ai) {
            struct ai_block *b = *pp;
            *pp = b->next;
            free(b);
            return;
        }
    if (ai)
        freeaddrinfo(ai);
}

int __wrap_gethostname(char *name, size_t len)
{
    if (!on_node())
        return gethostname(name, len);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "node%d", self_node());
    if (!name)
        return ret(-EFAULT);
    if ((size_t)n >= len)
        return ret(-ENAMETOOLONG);
    memcpy(name, buf, (size_t)n + 1);
    return 0;
}
