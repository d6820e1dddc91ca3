/*
 * The cluster file of the emulator (emu/emu.h): which node listens where.
 * "ID HOST PORT" a line, '#' comments.  Every error names the file and
 * the line; hosts are resolved once, here.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"
#include "util/err.h"

#define MAX_NODES 65535 /* ids are 16-bit on the wire */
#define MAX_FILE (1 << 20)

void emu_cluster_free(struct emu_cluster *c)
{
    free(c->peers);
    c->peers = NULL;
    c->n = 0;
}

/* The next blank-separated token of *s on the line, NUL-terminated in
 * place; NULL at the end of the line. */
static char *token(char **s)
{
    char *p = *s;
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    if (!*p)
        return NULL;
    char *t = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\r')
        p++;
    if (*p)
        *p++ = 0;
    *s = p;
    return t;
}

/* A decimal number in [min, max], digits only. */
static int number(const char *t, long min, long max, long *out)
{
    if (!*t || strlen(t) > 9)
        return -1;
    long v = 0;
    for (const char *p = t; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int by_address(const void *x, const void *y)
{
    const struct emu_peer *a = x, *b = y;
    int c = strcmp(a->host, b->host);
    if (c)
        return c;
    return (a->port > b->port) - (a->port < b->port);
}

static int resolve(struct emu_peer *p, const char *path, char *err,
                   size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    char port[16];
    snprintf(port, sizeof port, "%u", p->port);
    int rc = getaddrinfo(p->host, port, &hints, &res);
    if (rc || !res) {
        snprintf(err, errlen,
                 "%s:%d: cannot resolve host '%s' of node %d: "
                 "%s",
                 path, p->line, p->host, p->id,
                 rc ? gai_strerror(rc) : "no address");
        if (res)
            freeaddrinfo(res);
        return VS_ECONFIG;
    }
    /* IPv4 first when a name has both: loopback names usually do. */
    struct addrinfo *pick = res;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    memcpy(&p->addr, pick->ai_addr, pick->ai_addrlen);
    p->addrlen = pick->ai_addrlen;
    freeaddrinfo(res);
    return VS_OK;
}

int emu_cluster_parse(struct emu_cluster *c, const char *path, const char *text,
                      char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    size_t tlen = strlen(text);
    char *buf = malloc(tlen + 1);
    int cap = 16, count = 0, rc = VS_OK;
    struct emu_peer *list = malloc((size_t)cap * sizeof *list);
    int *first_line = calloc(MAX_NODES, sizeof *first_line);
    if (!buf || !list || !first_line) {
        free(buf);
        free(list);
        free(first_line);
        return VS_ENOMEM;
    }
    memcpy(buf, text, tlen + 1);
    int lineno = 0;
    for (char *line = buf, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = line;
        char *tid = token(&s), *thost = token(&s), *tport = token(&s);
        char *extra = token(&s);
        if (!tid)
            continue;
        if (!thost || !tport) {
            snprintf(err, errlen, "%s:%d: want 'ID HOST PORT', got '%s%s%s'",
                     path, lineno, tid, thost ? " " : "", thost ? thost : "");
            rc = VS_ECONFIG;
            goto out;
        }
        long id, port;
        if (number(tid, 0, MAX_NODES - 1, &id)) {
            snprintf(err, errlen, "%s:%d: bad node id '%s' (want 0..%d)", path,
                     lineno, tid, MAX_NODES - 1);
            rc = VS_ECONFIG;
            goto out;
        }
        if (number(tport, 1, 65535, &port)) {
            snprintf(err, errlen, "%s:%d: bad port '%s' (want 1..65535)", path,
                     lineno, tport);
            rc = VS_ECONFIG;
            goto out;
        }
        if (extra) {
            snprintf(err, errlen,
                     "%s:%d: unexpected '%s' after the port "
                     "(want 'ID HOST PORT')",
                     path, lineno, extra);
            rc = VS_ECONFIG;
            goto out;
        }
        if (strlen(thost) >= sizeof list->host) {
            snprintf(err, errlen,
                     "%s:%d: host name longer than %zu "
                     "characters",
                     path, lineno, sizeof list->host - 1);
            rc = VS_ECONFIG;
            goto out;
        }
        if (first_line[id]) {
            snprintf(err, errlen,
                     "%s:%d: duplicate node id %ld (also on "
                     "line %d)",
                     path, lineno, id, first_line[id]);
            rc = VS_ECONFIG;
            goto out;
        }
        first_line[id] = lineno;
        if (count == cap) {
            struct emu_peer *l = realloc(list, (size_t)cap * 2 * sizeof *l);
            if (!l) {
                rc = VS_ENOMEM;
                goto out;
            }
            list = l;
            cap *= 2;
        }
        struct emu_peer *p = &list[count++];
        memset(p, 0, sizeof *p);
        p->id = (int)id;
        p->line = lineno;
        p->port = (unsigned)port;
        snprintf(p->host, sizeof p->host, "%s", thost);
        snprintf(p->label, sizeof p->label, "%s:%u", p->host, p->port);
    }
    if (!count) {
        snprintf(err, errlen,
                 "%s: no node listed (want lines 'ID HOST "
                 "PORT')",
                 path);
        rc = VS_ECONFIG;
        goto out;
    }
    c->peers = calloc((size_t)count, sizeof *c->peers);
    if (!c->peers) {
        rc = VS_ENOMEM;
        goto out;
    }
    c->n = count;
    for (int i = 0; i < count; i++) {
        if (list[i].id >= count) {
            int missing = 0;
            while (missing < count && first_line[missing])
                missing++;
            snprintf(err, errlen,
                     "%s:%d: node id %d is out of range: the "
                     "file lists %d node(s), so the ids are "
                     "0..%d (node %d is missing)",
                     path, list[i].line, list[i].id, count, count - 1, missing);
            rc = VS_ECONFIG;
            goto out;
        }
        c->peers[list[i].id] = list[i];
    }
    /* Two nodes at one address: sort by (host, port) and compare
     * neighbours. */
    qsort(list, (size_t)count, sizeof *list, by_address);
    for (int i = 1; i < count; i++)
        if (!by_address(&list[i - 1], &list[i])) {
            const struct emu_peer *a = &list[i - 1], *b = &list[i];
            if (a->line > b->line) {
                const struct emu_peer *t = a;
                a = b;
                b = t;
            }
            snprintf(err, errlen,
                     "%s:%d: node %d has the address of node "
                     "%d (line %d): %s",
                     path, b->line, b->id, a->id, a->line, a->label);
            rc = VS_ECONFIG;
            goto out;
        }
    uint32_t crc = 0;
    for (int i = 0; i < count && !rc; i++) {
        char entry[300];
        int len = snprintf(entry, sizeof entry, "%d %s %u\n", i,
                           c->peers[i].host, c->peers[i].port);
        crc = emu_crc32(crc, entry, (size_t)len);
        rc = resolve(&c->peers[i], path, err, errlen);
    }
    c->id = crc;
    for (int i = 1; i < count && !rc; i++)
        if (c->peers[i].addr.ss_family != c->peers[0].addr.ss_family) {
            snprintf(err, errlen,
                     "%s:%d: node %d's address is %s but node "
                     "0's is %s: use one address family",
                     path, c->peers[i].line, i,
                     c->peers[i].addr.ss_family == AF_INET6 ? "IPv6" : "IPv4",
                     c->peers[0].addr.ss_family == AF_INET6 ? "IPv6" : "IPv4");
            rc = VS_ECONFIG;
        }
out:
    free(buf);
    free(list);
    free(first_line);
    if (rc)
        emu_cluster_free(c);
    return rc;
}

int emu_cluster_load(struct emu_cluster *c, const char *path, char *err,
                     size_t errlen)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open the cluster file: %s", path,
                 strerror(errno));
        return VS_ECONFIG;
    }
    char *text = malloc(MAX_FILE + 1);
    if (!text) {
        fclose(f);
        return VS_ENOMEM;
    }
    size_t n = fread(text, 1, MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > MAX_FILE) {
        snprintf(err, errlen, "%s: %s", path,
                 bad ? "cannot read the cluster file"
                     : "the cluster file is larger than 1 MiB");
        free(text);
        return VS_ECONFIG;
    }
    text[n] = 0;
    if (memchr(text, 0, n)) {
        snprintf(err, errlen, "%s: not a text file (a NUL byte)", path);
        free(text);
        return VS_ECONFIG;
    }
    int rc = emu_cluster_parse(c, path, text, err, errlen);
    free(text);
    return rc;
}
