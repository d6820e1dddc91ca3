/*
 * Loading a SimGrid platform file and reading hosts, links and routes off
 * it (sim/engine.h).  Hosts are numbered in natural name order (node-2 before
 * node-10) so node ids do not depend on SimGrid's hash order.  A platform is
 * checked first in a child process, because SimGrid aborts on a bad file and
 * a user must get a one-line error and exit status 2 instead.
 */
#define _POSIX_C_SOURCE 200809L
#include "sim/engine.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/link.h>
#include <xbt/config.h>
#include <xbt/dynar.h>

#include "sim/sim_int.h"
#include "util/err.h"

static sg_host_t *P_hosts;
static size_t P_nhosts;
static sg_link_t *P_links;
static size_t P_nlinks;

/* Natural order (sim/sim_int.h): runs of digits compare as numbers.
 * Names equal but for leading zeros (node-1, node-01) then fall back to
 * strcmp: the order must be total, or qsort would number such hosts in
 * SimGrid's own order, which varies. */
int sim__natural_cmp(const char *a, const char *b)
{
    const char *a0 = a, *b0 = b;
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t la = 0, lb = 0;
            while (isdigit((unsigned char)a[la]))
                la++;
            while (isdigit((unsigned char)b[lb]))
                lb++;
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c)
                return c;
            a += la;
            b += lb;
        } else {
            if (*a != *b)
                return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    if (*a || *b)
        return (unsigned char)*a - (unsigned char)*b;
    return strcmp(a0, b0);
}

static int host_cmp(const void *x, const void *y)
{
    return sim__natural_cmp(sg_host_get_name(*(const sg_host_t *)x),
                            sg_host_get_name(*(const sg_host_t *)y));
}

static int link_cmp(const void *x, const void *y)
{
    return sim__natural_cmp(sg_link_get_name(*(const sg_link_t *)x),
                            sg_link_get_name(*(const sg_link_t *)y));
}

void sim_platform_load(const char *path, int *argc, char **argv)
{
    int zero = 1;
    char *noargv[] = {"vmmcsim", NULL};
    if (!argc) {
        argc = &zero;
        argv = noargv;
    }
    simgrid_init(argc, argv);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer cannot follow SimGrid's hand-made stack switches
     * (raw contexts); with one thread per actor it sees real stacks. */
    sg_cfg_set_string("contexts/factory", "thread");
#endif
    simgrid_load_platform(path);
    P_nhosts = sg_host_count();
    P_hosts = sg_host_list();
    qsort(P_hosts, P_nhosts, sizeof *P_hosts, host_cmp);
    P_nlinks = sg_link_count();
    P_links = sg_link_list();
    qsort(P_links, P_nlinks, sizeof *P_links, link_cmp);
    for (size_t i = 0; i < P_nlinks; i++)
        sg_link_set_data(P_links[i], (void *)(uintptr_t)(i + 1));
}

size_t sim_host_count(void) { return P_nhosts; }
sg_host_t sim__host(size_t i) { return P_hosts[i]; }
const char *sim_host_name(size_t i) { return sg_host_get_name(P_hosts[i]); }
double sim_host_speed(size_t i) { return sg_host_get_speed(P_hosts[i]); }
size_t sim_link_count(void) { return P_nlinks; }
const char *sim_link_name(size_t i) { return sg_link_get_name(P_links[i]); }
double sim_link_bandwidth(size_t i) { return sg_link_get_bandwidth(P_links[i]); }
int sim_link_shared(size_t i) { return sg_link_is_shared(P_links[i]); }

sim_time_t sim_link_latency(size_t i)
{
    return (sim_time_t)llround(sg_link_get_latency(P_links[i]) * 1e12);
}

/* A limiter link: SimGrid's <cluster limiter_link=...> (and the fat-tree,
 * torus and dragonfly clusters) add one per node and per switch, named
 * "..._limiter", to every route through it.  It caps what the node or
 * switch moves in total, a flow-model notion with no cable behind it, so
 * the packet fabric skips it: a route is the cables it crosses
 * (docs/fabric.md). */
int sim_link_is_limiter(size_t i)
{
    const char *name = sg_link_get_name(P_links[i]);
    size_t n = strlen(name), k = strlen("_limiter");
    return n >= k && !strcmp(name + n - k, "_limiter");
}

int sim_route(size_t a, size_t b, size_t *links, int max)
{
    xbt_dynar_t d = xbt_dynar_new(sizeof(sg_link_t), NULL);
    sg_host_get_route(P_hosts[a], P_hosts[b], d);
    int total = (int)xbt_dynar_length(d), n = 0;
    for (int i = 0; i < total; i++) {
        sg_link_t l = xbt_dynar_get_as(d, (unsigned)i, sg_link_t);
        size_t li = (size_t)(uintptr_t)sg_link_get_data(l) - 1;
        if (sim_link_is_limiter(li))
            continue;
        if (n == max) {
            xbt_dynar_free(&d);
            return -1;
        }
        links[n++] = li;
    }
    xbt_dynar_free(&d);
    return n;
}

/* Keeps the useful part of SimGrid's error line: drops the
 * "[0.000000] ./src/...cpp:95: [xbt_exception/ERROR] " prefix. */
static void simgrid_message(const char *text, char *out, size_t outlen)
{
    const char *best = NULL;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *tag = strstr(line, "/ERROR] ");
        if (!tag || (nl && tag > nl))
            tag = strstr(line, "/CRITICAL] ");
        if (tag && (!nl || tag < nl)) {
            const char *msg = strchr(tag, ']') + 2;
            if (strncmp(msg, "Exiting now", 11) != 0 && !best)
                best = msg;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!best)
        best = text;
    size_t n = strcspn(best, "\n");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, best, n);
    out[n] = 0;
}

int sim_platform_check(const char *path, int *nhosts, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open platform file: %s", path,
                 strerror(errno));
        return VS_ECONFIG;
    }
    fclose(f);
    int errpipe[2], outpipe[2];
    if (pipe(errpipe) || pipe(outpipe)) {
        snprintf(err, errlen, "%s: pipe: %s", path, strerror(errno));
        return VS_ECONFIG;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: fork: %s", path, strerror(errno));
        return VS_ECONFIG;
    }
    if (pid == 0) {
        close(errpipe[0]);
        close(outpipe[0]);
        dup2(errpipe[1], 2);
        sim_platform_load(path, NULL, NULL);
        int n = (int)sim_host_count();
        if (write(outpipe[1], &n, sizeof n) != sizeof n)
            _exit(3);
        _exit(0);
    }
    close(errpipe[1]);
    close(outpipe[1]);
    static char text[16384];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof text - 1 &&
           (r = read(errpipe[0], text + len, sizeof text - 1 - len)) > 0)
        len += (size_t)r;
    text[len] = 0;
    int n = -1;
    if (read(outpipe[0], &n, sizeof n) != sizeof n)
        n = -1;
    close(errpipe[0]);
    close(outpipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n < 0) {
        char msg[512];
        simgrid_message(text, msg, sizeof msg);
        snprintf(err, errlen, "%s: bad platform: %s", path,
                 msg[0] ? msg : "SimGrid could not load it");
        return VS_ECONFIG;
    }
    if (n < 1) {
        snprintf(err, errlen, "%s: the platform has no host", path);
        return VS_ECONFIG;
    }
    if (nhosts)
        *nhosts = n;
    return VS_OK;
}
