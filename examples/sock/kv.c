/*
 * kv: a small key-value server and its clients, an ordinary socket
 * program (<sys/socket.h>, poll, non-blocking descriptors, getaddrinfo).
 *
 *   build/vmmcsim-cc -O2 -o kv examples/sock/kv.c
 *   build/vmmcsim exec -n 8 --platform configs/myrinet-8.xml kv --clients 7
 *                      [--keys M]
 *
 * Node 0 serves every other node on port 7000 with one poll() loop over
 * non-blocking sockets.  The protocol is text lines:
 *   SET key value  -> OK          GET key -> VALUE value | NOTFOUND
 *   DEL key        -> DELETED | NOTFOUND    QUIT -> BYE (then close)
 * Each client sets M keys of its own, reads them back, deletes the even
 * ones, reads all of them again and checks every answer against what it
 * must be; it prints one line and exits 1 on the first wrong answer.  The
 * server stops after the last QUIT and prints what it served.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT "7000"
#define LINE 256
#define MAXCLI 64
#define NBUCKET 4096

/* ---- The store: chained hash table ---- */

struct item {
    char *key, *val;
    struct item *next;
};
static struct item *table[NBUCKET];
static long nkeys;

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % NBUCKET;
}

static struct item **find(const char *key)
{
    struct item **p = &table[hash(key)];
    while (*p && strcmp((*p)->key, key))
        p = &(*p)->next;
    return p;
}

static void set(const char *key, const char *val)
{
    struct item **p = find(key);
    if (*p) {
        free((*p)->val);
        (*p)->val = strdup(val);
        return;
    }
    struct item *it = calloc(1, sizeof *it);
    it->key = strdup(key);
    it->val = strdup(val);
    *p = it;
    nkeys++;
}

static int del(const char *key)
{
    struct item **p = find(key), *it = *p;
    if (!it)
        return 0;
    *p = it->next;
    free(it->key);
    free(it->val);
    free(it);
    nkeys--;
    return 1;
}

/* ---- Server ---- */

struct client {
    int fd;
    char in[LINE * 4];
    size_t inlen;
    char out[LINE * 8];
    size_t outlen;
    int quit;
};

static void reply(struct client *c, const char *fmt, const char *arg)
{
    int n = snprintf(c->out + c->outlen, sizeof c->out - c->outlen, fmt, arg);
    if (n > 0 && (size_t)n < sizeof c->out - c->outlen)
        c->outlen += (size_t)n;
}

static long requests;

static void handle(struct client *c, char *line)
{
    char *cmd = strtok(line, " "), *key = strtok(NULL, " "),
         *val = strtok(NULL, "");
    requests++;
    if (cmd && !strcmp(cmd, "SET") && key && val) {
        set(key, val);
        reply(c, "OK\n", "");
    } else if (cmd && !strcmp(cmd, "GET") && key) {
        struct item *it = *find(key);
        if (it)
            reply(c, "VALUE %s\n", it->val);
        else
            reply(c, "NOTFOUND\n", "");
    } else if (cmd && !strcmp(cmd, "DEL") && key) {
        reply(c, del(key) ? "DELETED\n" : "NOTFOUND\n", "");
    } else if (cmd && !strcmp(cmd, "QUIT")) {
        reply(c, "BYE\n", "");
        c->quit = 1;
    } else {
        reply(c, "ERROR\n", "");
    }
}

static int serve(int nclients)
{
    struct addrinfo hints = {.ai_family = AF_INET,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *res;
    if (getaddrinfo(NULL, PORT, &hints, &res))
        return 1;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, res->ai_addr, res->ai_addrlen) || listen(ls, 16)) {
        perror("kv: bind/listen");
        return 1;
    }
    freeaddrinfo(res);
    fcntl(ls, F_SETFL, fcntl(ls, F_GETFL) | O_NONBLOCK);
    static struct client cl[MAXCLI];
    int ncl = 0, done = 0;
    struct pollfd pf[MAXCLI + 1];
    while (done < nclients) {
        int n = 0;
        pf[n++] =
            (struct pollfd){.fd = ncl < nclients ? ls : -1, .events = POLLIN};
        for (int i = 0; i < ncl; i++)
            pf[n++] = (struct pollfd){
                .fd = cl[i].fd,
                .events = (short)(POLLIN | (cl[i].outlen ? POLLOUT : 0))};
        if (poll(pf, (nfds_t)n, -1) < 0) {
            perror("kv: poll");
            return 1;
        }
        if (pf[0].revents & POLLIN) {
            int fd;
            while (ncl < MAXCLI && (fd = accept(ls, NULL, NULL)) >= 0) {
                fcntl(fd, F_SETFL, O_NONBLOCK);
                cl[ncl++] = (struct client){.fd = fd};
            }
        }
        for (int i = 0; i < ncl && i + 1 < n; i++) {
            struct client *c = &cl[i];
            if (c->fd < 0)
                continue;
            if (pf[i + 1].revents & POLLIN) {
                ssize_t k =
                    read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen - 1);
                if (k > 0)
                    c->inlen += (size_t)k;
                else if (k == 0 || errno != EAGAIN)
                    c->quit = 2; /* gone without QUIT */
                char *nl;
                c->in[c->inlen] = 0;
                while ((nl = memchr(c->in, '\n', c->inlen))) {
                    *nl = 0;
                    handle(c, c->in);
                    size_t used = (size_t)(nl + 1 - c->in);
                    memmove(c->in, nl + 1, c->inlen - used);
                    c->inlen -= used;
                }
            }
            if (c->outlen) {
                ssize_t k = write(c->fd, c->out, c->outlen);
                if (k > 0) {
                    memmove(c->out, c->out + k, c->outlen - (size_t)k);
                    c->outlen -= (size_t)k;
                }
            }
            if (c->quit && !c->outlen) {
                close(c->fd);
                c->fd = -1;
                done++;
            }
        }
    }
    close(ls);
    printf("kv server: %d clients, %ld requests, %ld keys left\n", nclients,
           requests, nkeys);
    for (int b = 0; b < NBUCKET; b++)
        while (table[b])
            del(table[b]->key);
    return 0;
}

/* ---- Client ---- */

static char rbuf[LINE * 4];
static size_t rlen;

/* One reply line (without its newline) into line. */
static int get_line(int fd, char *line)
{
    for (;;) {
        char *nl = memchr(rbuf, '\n', rlen);
        if (nl) {
            size_t n = (size_t)(nl - rbuf);
            memcpy(line, rbuf, n);
            line[n] = 0;
            memmove(rbuf, nl + 1, rlen - n - 1);
            rlen -= n + 1;
            return 0;
        }
        ssize_t k = read(fd, rbuf + rlen, sizeof rbuf - rlen);
        if (k <= 0)
            return -1;
        rlen += (size_t)k;
    }
}

static int ask(int fd, const char *req, const char *want, int me)
{
    char line[LINE];
    size_t n = strlen(req);
    if (write(fd, req, n) != (ssize_t)n || get_line(fd, line)) {
        fprintf(stderr, "client %d: lost the server on '%s'\n", me, req);
        return -1;
    }
    if (strcmp(line, want)) {
        fprintf(stderr, "client %d: '%.*s' got '%s', expected '%s'\n", me,
                (int)n - 1, req, line, want);
        return -1;
    }
    return 0;
}

static int client(int me, int m)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM},
                    *res;
    int rc = getaddrinfo("node0", PORT, &hints, &res);
    if (rc) {
        fprintf(stderr, "client %d: node0: %s\n", me, gai_strerror(rc));
        return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    /* Until the server listens, connections are refused: retry. */
    while (connect(fd, res->ai_addr, res->ai_addrlen)) {
        if (errno != ECONNREFUSED) {
            perror("kv client: connect");
            return 1;
        }
    }
    freeaddrinfo(res);
    char req[LINE], want[LINE];
    for (int pass = 0; pass < 3; pass++)
        for (int j = 0; j < m; j++) {
            char key[64];
            snprintf(key, sizeof key, "c%d-k%d", me, j);
            snprintf(want, sizeof want, "VALUE v%d-%d", me, j * j + me);
            if (pass == 0) {
                snprintf(req, sizeof req, "SET %s v%d-%d\n", key, me,
                         j * j + me);
                strcpy(want, "OK");
            } else if (pass == 1) {
                snprintf(req, sizeof req, "GET %s\n", key);
            } else {
                if (j % 2 == 0 && (snprintf(req, sizeof req, "DEL %s\n", key),
                                   ask(fd, req, "DELETED", me)))
                    return 1;
                snprintf(req, sizeof req, "GET %s\n", key);
                if (j % 2 == 0)
                    strcpy(want, "NOTFOUND");
            }
            if (ask(fd, req, want, me))
                return 1;
        }
    if (ask(fd, "QUIT\n", "BYE", me))
        return 1;
    char line[LINE];
    if (get_line(fd, line) == 0) {
        fprintf(stderr, "client %d: data after BYE\n", me);
        return 1;
    }
    close(fd);
    printf("client %d: %d keys, every answer right\n", me, m);
    return 0;
}

int main(int argc, char **argv)
{
    int m = 50, nclients = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keys") && i + 1 < argc)
            m = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
            nclients = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: kv --clients N [--keys M]\n");
            return 2;
        }
    }
    char host[64];
    if (gethostname(host, sizeof host) || strncmp(host, "node", 4))
        return 1;
    int me = atoi(host + 4);
    /* Nodes 1..N are the clients; others (if any) stay idle. */
    if (me == 0)
        return serve(nclients);
    return me <= nclients ? client(me, m) : 0;
}
