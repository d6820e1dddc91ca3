/*
 * sockbench: ping-pong latency and streaming bandwidth of stream sockets
 * between two simulated nodes, written against <sys/socket.h> alone (plus
 * the simulated clock).  Build it with build/vmmcsim-cc and run
 *
 *   build/vmmcsim exec -n 2 sockbench [--sizes 4,64,1K,...] [--iters N]
 *                                     [--stream BYTES]
 *
 * Node 1 listens on port 5001; node 0 finds it with getaddrinfo("node1")
 * and connects.  Per size: latency is half the round trip of a message of
 * that size and its echo (after two warm-up rounds), bandwidth the rate of
 * a one-way stream of --stream bytes (16 to 2000 messages) written and
 * read in messages of that size, until the reader's one-byte reply.  Every
 * byte is checked.  Node 0 prints size_bytes,latency_us,bandwidth_MBps.
 * Times are simulated (hw_self()'s clock): wall-clock time means nothing
 * inside the simulator.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hw/hw.h"

#define PORT "5001"
#define MAXSIZES 64

static double now_us(void)
{
    hw_host *h = hw_self();
    return (double)h->ops->now(h) / (double)HW_US;
}

static int full_write(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0) {
            perror("sockbench: write");
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int full_read(int fd, unsigned char *p, size_t n)
{
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k <= 0) {
            fprintf(stderr, "sockbench: read: %s\n",
                    k ? "error" : "unexpected end of stream");
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static unsigned char pattern(size_t i, unsigned round)
{
    return (unsigned char)(i * 7 + round * 13 + 1);
}

static int check(const unsigned char *p, size_t n, unsigned round)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(i, round)) {
            fprintf(stderr,
                    "sockbench: byte %zu of round %u is %u, "
                    "expected %u\n",
                    i, round, p[i], pattern(i, round));
            return -1;
        }
    return 0;
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    if (*end || !v) {
        fprintf(stderr, "sockbench: bad size '%s'\n", s);
        exit(2);
    }
    return v;
}

static int connect_to(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM},
                    *res;
    int rc = getaddrinfo(host, PORT, &hints, &res);
    if (rc) {
        fprintf(stderr, "sockbench: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    /* The listener may not be up yet: retry a refused connection. */
    for (int t = 0; fd >= 0 && t < 100; t++) {
        if (connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
    }
    perror("sockbench: connect");
    freeaddrinfo(res);
    return -1;
}

static int listen_once(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(atoi(PORT)),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1)) {
        perror("sockbench: bind/listen");
        return -1;
    }
    int fd = accept(ls, NULL, NULL);
    close(ls);
    return fd;
}

int main(int argc, char **argv)
{
    size_t sizes[MAXSIZES], nsizes = 0, stream = 1 << 20;
    int iters = 20;
    const char *list = "4,64,256,1K,4K,16K,64K,256K,1M";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            list = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stream") && i + 1 < argc)
            stream = parse_size(argv[++i]);
        else {
            fprintf(stderr, "usage: sockbench [--sizes LIST] [--iters N] "
                            "[--stream BYTES]\n");
            return 2;
        }
    }
    char *copy = strdup(list);
    for (char *t = strtok(copy, ","); t && nsizes < MAXSIZES;
         t = strtok(NULL, ","))
        sizes[nsizes++] = parse_size(t);
    free(copy);
    char host[64];
    gethostname(host, sizeof host);
    int me = strcmp(host, "node0") == 0   ? 0
             : strcmp(host, "node1") == 0 ? 1
                                          : 2;
    if (me == 2 || iters < 1)
        return 0; /* other nodes (or nothing to time) */
    int fd = me == 0 ? connect_to("node1") : listen_once();
    if (fd < 0)
        return 1;
    size_t max = 0;
    for (size_t i = 0; i < nsizes; i++)
        max = sizes[i] > max ? sizes[i] : max;
    unsigned char *buf = malloc(max), *out = malloc(max);
    if (me == 0)
        printf("size_bytes,latency_us,bandwidth_MBps\n");
    for (size_t si = 0; si < nsizes; si++) {
        size_t n = sizes[si];
        for (size_t i = 0; i < n; i++)
            out[i] = pattern(i, (unsigned)si);
        double t0 = 0;
        for (int it = 0; it < iters + 2; it++) {
            if (it == 2)
                t0 = now_us();
            if (me == 0) {
                if (full_write(fd, out, n) || full_read(fd, buf, n))
                    return 1;
            } else {
                if (full_read(fd, buf, n) || full_write(fd, buf, n))
                    return 1;
            }
            if (check(buf, n, (unsigned)si))
                return 1;
        }
        double lat = (now_us() - t0) / iters / 2;
        size_t count = stream / n < 16 ? 16 : stream / n;
        if (count > 2000) /* small messages: enough to be steady */
            count = 2000;
        unsigned char ack = 0;
        t0 = now_us();
        for (size_t k = 0; k < count; k++) {
            if (me == 0 ? full_write(fd, out, n) : full_read(fd, buf, n))
                return 1;
            if (me == 1 && (k == 0 || k + 1 == count) &&
                check(buf, n, (unsigned)si))
                return 1;
        }
        if (me == 1 ? full_write(fd, &ack, 1) : full_read(fd, &ack, 1))
            return 1;
        double bw = (double)(count * n) / (now_us() - t0);
        if (me == 0)
            printf("%zu,%.3f,%.3f\n", n, lat, bw);
    }
    close(fd);
    free(buf);
    free(out);
    return 0;
}
