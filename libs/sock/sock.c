/*
 * libs/sock: the socket calls (vs_sock_*) over the core (core.c): socket
 * handles, ports, listen/accept backlogs, connect, send and receive with
 * flow control, shutdown, close and poll.  See sock.h for the contracts
 * and docs/sock.md for the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "libs/sock/sock_int.h"

uint32_t vs_sock_node_addr(int node)
{
    return 0x0A000000u + (uint32_t)node + 1u;
}

int vs_sock_addr_node(uint32_t addr)
{
    if (addr <= 0x0A000000u || addr > 0x0A000000u + 65536u)
        return -1;
    return (int)(addr - 0x0A000001u);
}

struct sk_sock *sk__sock(struct sk_node *n, int s)
{
    if (!n || s < 0)
        return NULL;
    for (int i = 0; i < SK_MAXSOCK; i++)
        if (n->sock[i].kind != SK_K_FREE && n->sock[i].fd == s)
            return &n->sock[i];
    return NULL;
}

int vs_sock_is(int s)
{
    return sk__sock(sk__node_peek(), s) != NULL;
}

/* The calling node and socket s, or an errno in *err. */
static struct sk_sock *get(int s, struct sk_node **np, int *err)
{
    struct sk_node *n = sk__node_peek();
    struct sk_sock *k = sk__sock(n, s);
    *np = n;
    *err = k ? 0 : -EBADF;
    if (k)
        sk__charge_call(n);
    return k;
}

int vs_sock_socket(void)
{
    int err = 0;
    struct sk_node *n = sk__node(&err);
    if (!n)
        return err;
    sk__charge_call(n);
    for (int i = 0; i < SK_MAXSOCK; i++) {
        struct sk_sock *k = &n->sock[i];
        if (k->kind != SK_K_FREE)
            continue;
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        *k = (struct sk_sock){.fd = fd, .kind = SK_K_FRESH, .conn = -1};
        return fd;
    }
    return -EMFILE;
}

/* Whether port is taken on this node: by a bound fresh or listening
 * socket (for bind), or by any socket at all (for ephemeral ports). */
static int port_used(struct sk_node *n, int port, int any)
{
    for (int i = 0; i < SK_MAXSOCK; i++) {
        const struct sk_sock *k = &n->sock[i];
        if (k->kind != SK_K_FREE && k->bound && k->port == port &&
            (any || k->kind != SK_K_CONN))
            return 1;
    }
    return 0;
}

static int ephemeral(struct sk_node *n)
{
    for (int t = 0; t < 16384; t++) {
        int p = n->next_port++;
        if (n->next_port > 65535)
            n->next_port = 49152;
        if (!port_used(n, p, 1))
            return p;
    }
    return -EADDRINUSE;
}

int vs_sock_bind(int s, int port)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (k->kind != SK_K_FRESH || k->bound || port < 0 || port > 65535)
        return -EINVAL;
    if (port == 0)
        port = ephemeral(n);
    else if (port_used(n, port, 0))
        return -EADDRINUSE;
    if (port < 0)
        return port;
    k->port = port;
    k->bound = 1;
    return 0;
}

int vs_sock_listen(int s, int backlog)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (k->kind != SK_K_FRESH && k->kind != SK_K_LISTEN)
        return -EINVAL;
    if (!k->bound) {
        int p = ephemeral(n);
        if (p < 0)
            return p;
        k->port = p;
        k->bound = 1;
    }
    k->kind = SK_K_LISTEN;
    k->backlog = backlog < 1 ? 1 : backlog > SK_MAXCONN ? SK_MAXCONN : backlog;
    sk__progress(n);
    return 0;
}

/* The oldest connection in listener l's backlog, or -1. */
static int backlog_head(struct sk_node *n, int l)
{
    int best = -1;
    for (int c = 0; c < SK_MAXCONN; c++)
        if (n->conn[c].state != SK_FREE && n->conn[c].listener == l &&
            (best < 0 || n->conn[c].arrival < n->conn[best].arrival))
            best = c;
    return best;
}

static int accept_ready(struct sk_node *n, void *arg)
{
    struct sk_sock *k = arg;
    return k->kind != SK_K_LISTEN || backlog_head(n, (int)(k - n->sock)) >= 0;
}

int vs_sock_accept(int s, int *peer_node, int *peer_port)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (k->kind != SK_K_LISTEN)
        return -EINVAL;
    sk__progress(n);
    int l = (int)(k - n->sock);
    if (backlog_head(n, l) < 0) {
        if (k->nonblock)
            return -EAGAIN;
        int rc = sk__block(n, accept_ready, k, -1);
        if (rc)
            return rc;
        if (k->kind != SK_K_LISTEN)
            return -EBADF;
    }
    int c = backlog_head(n, l);
    int fd = vs_sock_socket();
    if (fd < 0)
        return fd;
    struct sk_sock *a = sk__sock(n, fd);
    struct sk_conn *cn = &n->conn[c];
    a->kind = SK_K_CONN;
    a->conn = c;
    a->port = cn->lport;
    a->bound = 1;
    cn->listener = -1;
    cn->sock = fd;
    n->st.accepts++;
    if (peer_node)
        *peer_node = cn->peer;
    if (peer_port)
        *peer_port = cn->pport;
    return fd;
}

static int connect_done(struct sk_node *n, void *arg)
{
    return n->conn[*(int *)arg].state != SK_CONNECTING;
}

/* A connection that failed: the socket is fresh again, its error given. */
static int connect_failed(struct sk_node *n, struct sk_sock *k)
{
    struct sk_conn *cn = &n->conn[k->conn];
    int e = cn->err ? cn->err : ECONNREFUSED;
    sk__conn_release(n, k->conn);
    k->conn = -1;
    k->kind = SK_K_FRESH;
    return -e;
}

int vs_sock_connect(int s, int node, int port)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (k->kind == SK_K_LISTEN)
        return -EINVAL;
    if (k->kind == SK_K_CONN) {
        sk__progress(n);
        int st = n->conn[k->conn].state;
        if (st == SK_CONNECTING)
            return -EALREADY;
        if (st == SK_FAILED)
            return connect_failed(n, k);
        return -EISCONN;
    }
    if (port <= 0 || port > 65535)
        return -EINVAL;
    if (node < 0 || node >= n->nn)
        return -ENETUNREACH;
    if (node == n->me) {
        n->st.refused++;
        return -ECONNREFUSED;
    }
    int rc = sk__import(n, node, SK_IMPORT_TRIES);
    if (rc) {
        n->st.refused++;
        return rc;
    }
    int lport = k->bound ? k->port : ephemeral(n);
    if (lport < 0)
        return lport;
    int c = sk__conn_alloc(n);
    if (c < 0)
        return c;
    struct sk_conn *cn = &n->conn[c];
    cn->state = SK_CONNECTING;
    cn->sock = s;
    cn->peer = node;
    cn->pport = port;
    cn->lport = lport;
    k->kind = SK_K_CONN;
    k->conn = c;
    k->port = lport;
    k->bound = 1;
    n->st.connects++;
    struct sk_ctl rec = {.type = SK_C_CONNECT,
                         .port = (uint32_t)port,
                         .src_slot = (uint32_t)c,
                         .sport = (uint32_t)lport};
    rc = sk__queue_ctl(n, node, &rec);
    if (rc) {
        sk__conn_release(n, c);
        k->kind = SK_K_FRESH;
        k->conn = -1;
        return rc;
    }
    if (k->nonblock)
        return -EINPROGRESS;
    rc = sk__block(n, connect_done, &c, SK_CONNECT_TIMEOUT);
    if (rc == -ETIMEDOUT) {
        sk__conn_close(n, c);
        k->kind = SK_K_FRESH;
        k->conn = -1;
        return -ETIMEDOUT;
    }
    if (cn->state == SK_FAILED) {
        if (cn->err == ECONNREFUSED)
            n->st.refused++;
        return connect_failed(n, k);
    }
    return 0;
}

/* The connection of socket k once established: its slot, or -errno. */
static int wait_established(struct sk_node *n, struct sk_sock *k)
{
    if (k->kind != SK_K_CONN)
        return -ENOTCONN;
    int c = k->conn;
    if (n->conn[c].state == SK_CONNECTING) {
        if (k->nonblock)
            return -EAGAIN;
        int rc = sk__block(n, connect_done, &c, -1);
        if (rc)
            return rc;
    }
    if (n->conn[c].state == SK_FAILED)
        return connect_failed(n, k);
    return c;
}

struct tx_wait {
    int c;
};

static int tx_ready(struct sk_node *n, void *arg)
{
    struct sk_conn *cn = &n->conn[((struct tx_wait *)arg)->c];
    return cn->peer_closed || cn->err || sk__tx_room(cn, SK_R_DATA) ||
           cn->peer_rd_valid;
}

ssize_t vs_sock_send(int s, const void *buf, size_t len, int flags)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    int c = wait_established(n, k);
    if (c < 0)
        return c;
    if (k->shut_wr)
        return -EPIPE;
    if (!buf && len)
        return -EFAULT;
    int nb = k->nonblock || (flags & VS_SOCK_DONTWAIT);
    struct sk_conn *cn = &n->conn[c];
    sk__progress(n);
    size_t sent = 0;
    const unsigned char *p = buf;
    while (sent < len || !len) {
        if (cn->peer_closed || cn->err)
            break;
        if (cn->peer_rd_valid) {
            size_t z = 0;
            sk__zc_serve(n, c, p + sent, len - sent, &z);
            sent += z;
            if (sent == len && len)
                break;
        }
        if (!len)
            break;
        if (!sk__tx_room(cn, SK_R_DATA)) {
            if (nb) /* a non-blocking send returns what it could */
                break;
            struct tx_wait w = {c};
            int rc = sk__block(n, tx_ready, &w, -1);
            if (rc)
                return sent ? (ssize_t)sent : rc;
            continue;
        }
        size_t chunk = len - sent < SK_PAYLOAD ? len - sent : SK_PAYLOAD;
        int rc = sk__send_record(n, c, SK_R_DATA, p + sent, (uint32_t)chunk, 0,
                                 0, 0, 0);
        if (rc)
            break;
        sent += chunk;
        cn->tx_bytes += chunk;
        /* A blocking send writes everything: room may come back. */
        if (!nb && sent < len && !sk__tx_room(cn, SK_R_DATA))
            sk__progress(n);
    }
    if (sent || !len)
        return (ssize_t)sent;
    if (cn->peer_closed)
        return -EPIPE;
    if (cn->err)
        return -cn->err;
    return -EAGAIN;
}

/* Copies arrived stream bytes into buf: the count. */
static size_t rx_copy(struct sk_node *n, int c, unsigned char *buf, size_t len)
{
    struct sk_conn *cn = &n->conn[c];
    size_t got = 0;
    while (got < len && cn->rx_rd != cn->rx_scan) {
        volatile struct sk_trailer *t = sk__rx_trailer(n, c, cn->rx_rd);
        uint32_t type = t->type, tlen = t->len;
        if (type == SK_R_FIN || type == SK_R_CLOSE)
            break;
        if (type == SK_R_DATA) {
            size_t k = tlen - cn->rx_off;
            if (k > len - got)
                k = len - got;
            memcpy(buf + got,
                   sk__rx_payload(n, c, cn->rx_rd, tlen) + cn->rx_off, k);
            got += k;
            cn->rx_off += (uint32_t)k;
            if (cn->rx_off < tlen)
                break;
        }
        cn->rx_rd++;
        cn->rx_off = 0;
    }
    sk__charge_copy(n, got);
    cn->rx_bytes += got;
    return got;
}

static int rx_ready(struct sk_node *n, void *arg)
{
    struct sk_conn *cn = &n->conn[*(int *)arg];
    return cn->rx_rd != cn->rx_scan || cn->err || cn->state != SK_EST;
}

ssize_t vs_sock_recv(int s, void *buf, size_t len, int flags)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    int c = wait_established(n, k);
    if (c < 0)
        return c;
    if (!buf && len)
        return -EFAULT;
    if (k->shut_rd || !len)
        return 0;
    int nb = k->nonblock || (flags & VS_SOCK_DONTWAIT);
    struct sk_conn *cn = &n->conn[c];
    sk__progress(n);
    int tried_zc = 0;
    for (;;) {
        size_t got = rx_copy(n, c, buf, len);
        if (got) {
            sk__report_credit(n, c, 0);
            return (ssize_t)got;
        }
        if (cn->rx_rd != cn->rx_scan) /* FIN or CLOSE: end of stream */
            return 0;
        if (cn->err)
            return -cn->err;
        if (nb)
            return -EAGAIN;
        if (len >= SK_ZC_MIN && !tried_zc) {
            tried_zc = 1; /* once per call: a declined post is not retried */
            ssize_t z = sk__zc_read(n, c, buf, len);
            if (z)
                return z;
            continue;
        }
        int rc = sk__block(n, rx_ready, &c, -1);
        if (rc)
            return rc;
    }
}

int vs_sock_shutdown(int s, int how)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (how != VS_SOCK_SHUT_RD && how != VS_SOCK_SHUT_WR &&
        how != VS_SOCK_SHUT_RDWR)
        return -EINVAL;
    if (k->kind != SK_K_CONN || n->conn[k->conn].state != SK_EST)
        return -ENOTCONN;
    struct sk_conn *cn = &n->conn[k->conn];
    if (how != VS_SOCK_SHUT_WR)
        k->shut_rd = 1;
    if (how != VS_SOCK_SHUT_RD && !k->shut_wr) {
        k->shut_wr = 1;
        if (!cn->fin_sent && !cn->peer_closed)
            sk__send_record(n, k->conn, SK_R_FIN, NULL, 0, 0, 0, 0, 0);
        cn->fin_sent = 1;
    }
    return 0;
}

int vs_sock_close(int s)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (k->kind == SK_K_LISTEN) {
        int l = (int)(k - n->sock);
        for (int c = 0; c < SK_MAXCONN; c++)
            if (n->conn[c].state != SK_FREE && n->conn[c].listener == l)
                sk__conn_close(n, c);
    } else if (k->kind == SK_K_CONN) {
        sk__conn_close(n, k->conn);
    }
    int fd = k->fd;
    *k = (struct sk_sock){0};
    close(fd);
    sk__progress(n);
    return 0;
}

int vs_sock_nonblock(int s, int on)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (on >= 0)
        k->nonblock = !!on;
    return k->nonblock;
}

int vs_sock_error(int s)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    sk__progress(n);
    if (k->kind == SK_K_CONN && n->conn[k->conn].state == SK_FAILED)
        return connect_failed(n, k) * -1;
    if (k->kind == SK_K_CONN && n->conn[k->conn].err) {
        int e = n->conn[k->conn].err;
        n->conn[k->conn].err = 0;
        return e;
    }
    return 0;
}

int vs_sock_name(int s, int *node, int *port)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (node)
        *node = n->me;
    if (port)
        *port = k->bound ? k->port : 0;
    return 0;
}

int vs_sock_peer(int s, int *node, int *port)
{
    struct sk_node *n;
    int err;
    struct sk_sock *k = get(s, &n, &err);
    if (!k)
        return err;
    if (k->kind != SK_K_CONN || n->conn[k->conn].state != SK_EST)
        return -ENOTCONN;
    if (node)
        *node = n->conn[k->conn].peer;
    if (port)
        *port = n->conn[k->conn].pport;
    return 0;
}

/* ---- poll ---- */

static short revents(struct sk_node *n, int s, short events)
{
    struct sk_sock *k = sk__sock(n, s);
    if (!k)
        return VS_SOCK_POLLNVAL;
    short r = 0;
    if (k->kind == SK_K_LISTEN) {
        if (backlog_head(n, (int)(k - n->sock)) >= 0)
            r |= VS_SOCK_POLLIN;
    } else if (k->kind == SK_K_CONN) {
        struct sk_conn *cn = &n->conn[k->conn];
        if (cn->state == SK_FAILED)
            r |= VS_SOCK_POLLERR | VS_SOCK_POLLOUT | VS_SOCK_POLLHUP;
        else if (cn->state == SK_EST) {
            if (cn->rx_rd != cn->rx_scan || k->shut_rd)
                r |= VS_SOCK_POLLIN;
            if (cn->err)
                r |= VS_SOCK_POLLERR;
            if (cn->peer_closed || cn->err)
                r |= VS_SOCK_POLLHUP | VS_SOCK_POLLOUT;
            else if (!k->shut_wr && sk__tx_room(cn, SK_R_DATA))
                r |= VS_SOCK_POLLOUT;
        }
    } else {
        r |= VS_SOCK_POLLOUT | VS_SOCK_POLLHUP; /* as Linux: not connected */
    }
    return r & (events | VS_SOCK_POLLERR | VS_SOCK_POLLHUP | VS_SOCK_POLLNVAL);
}

struct poll_arg {
    struct vs_sock_pollfd *p;
    size_t n;
    int ready;
};

static int poll_ready(struct sk_node *n, void *arg)
{
    struct poll_arg *a = arg;
    a->ready = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->p[i].s < 0) {
            a->p[i].revents = 0;
            continue;
        }
        a->p[i].revents = revents(n, a->p[i].s, a->p[i].events);
        a->ready += a->p[i].revents != 0;
    }
    return a->ready > 0;
}

int vs_sock_poll(struct vs_sock_pollfd *p, size_t np, int64_t timeout_ps)
{
    int err = 0;
    struct sk_node *n = sk__node(&err);
    if (!n)
        return err;
    if (!p && np)
        return -EFAULT;
    sk__charge_call(n);
    struct poll_arg a = {p, np, 0};
    int rc = sk__block(n, poll_ready, &a, timeout_ps);
    if (rc && rc != -ETIMEDOUT)
        return rc;
    return a.ready;
}
