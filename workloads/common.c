/* Option parsing, the registry and helpers shared by the workloads. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/zpages.h"
#include "workloads/wl.h"

extern const struct wl_def wl_pingpong, wl_bandwidth, wl_alltoall;
extern const struct wl_def wl_msgbench, wl_msgbench_eager, wl_msgbench_rndv;

static const struct wl_def *const all[] = {
    &wl_pingpong,       &wl_bandwidth,     &wl_alltoall, &wl_msgbench,
    &wl_msgbench_eager, &wl_msgbench_rndv, NULL};

const struct wl_def *const *wl_all(void) { return all; }

const struct wl_def *wl_find(const char *name)
{
    for (int i = 0; all[i]; i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    return NULL;
}

void wl_fail(struct wl_env *env, const char *fmt, ...)
{
    if (env->sh->failed)
        return;
    env->sh->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(env->sh->error, sizeof env->sh->error, "node %d: ",
                     env->node);
    vsnprintf(env->sh->error + n, sizeof env->sh->error - (size_t)n, fmt, ap);
    va_end(ap);
}

int wl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    if (*end || errno || v > max / mult || v * mult < min)
        return -1;
    *out = v * mult;
    return 0;
}

/* Default sizes: powers of two from 4 B to 1 MiB. */
static void default_sizes(struct wl_opts *o)
{
    o->nsizes = 0;
    for (uint64_t s = 4; s <= 1024 * 1024; s *= 2)
        o->sizes[o->nsizes++] = s;
}

int wl_parse_common(struct wl_opts *o, int argc, char **argv, char *err,
                    size_t errlen)
{
    default_sizes(o);
    o->iters = 20;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
        if (!strcmp(a, "--sizes")) {
            if (!v) {
                snprintf(err, errlen, "option --sizes: missing value");
                return VS_EINVAL;
            }
            o->nsizes = 0;
            char buf[1024];
            /* A longer list would be cut, maybe inside a number. */
            if (strlen(v) >= sizeof buf) {
                snprintf(err, errlen, "option --sizes: longer than %zu "
                                      "characters",
                         sizeof buf - 1);
                return VS_EINVAL;
            }
            snprintf(buf, sizeof buf, "%s", v);
            for (char *save, *t = strtok_r(buf, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                if (o->nsizes == WL_MAX_SIZES) {
                    snprintf(err, errlen, "option --sizes: more than %d sizes",
                             WL_MAX_SIZES);
                    return VS_EINVAL;
                }
                if (wl_parse_u64(t, 4, 64ull << 20, &x)) {
                    snprintf(err, errlen,
                             "option --sizes: '%s' is not a size between 4 "
                             "and 64M bytes",
                             t);
                    return VS_EINVAL;
                }
                o->sizes[o->nsizes++] = x;
            }
            if (!o->nsizes) {
                snprintf(err, errlen, "option --sizes: empty list");
                return VS_EINVAL;
            }
            i++;
        } else if (!strcmp(a, "--iters") || !strcmp(a, "--count")) {
            if (!v || wl_parse_u64(v, 1, 1000000, &x)) {
                snprintf(err, errlen,
                         "option %s: expected an integer from 1 to 1000000",
                         a);
                return VS_EINVAL;
            }
            if (a[2] == 'i')
                o->iters = (int)x;
            else
                o->count = (int)x;
            i++;
        } else if (!strcmp(a, "--bidir")) {
            o->bidir = 1;
        } else if (!strcmp(a, "--src-span")) {
            if (!v || wl_parse_u64(v, 4096, 1ull << 30, &x)) {
                snprintf(err, errlen, "option --src-span: expected a size "
                                      "from 4K to 1024M");
                return VS_EINVAL;
            }
            o->src_span = x;
            i++;
        } else if (!strcmp(a, "--verify")) {
            o->verify = 1;
        } else {
            snprintf(err, errlen, "unknown workload option '%s'", a);
            return VS_EINVAL;
        }
    }
    return VS_OK;
}

void wl_pattern(void *data, size_t len, uint64_t seed, uint32_t tag)
{
    /* One xorshift step per 8 bytes: verifying the contents of a long
     * all-to-all must not cost more than simulating it. */
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + tag + 1;
    unsigned char *p = data;
    size_t i = 0;
    for (; i < len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(p + i, &x, n);
    }
}

void *wl_alloc_pages(size_t size)
{
    unsigned char *p = wl_alloc_pages_raw(size); /* zero past size */
    if (p)
        memset(p, 0, size);
    return p;
}

/* Send buffers are zeroed pages that cost memory only once written
 * (util/zpages.h): a large all-to-all sending zeros (no --verify) neither
 * clears nor keeps 512 KiB a node, and reads them from cache. */
void *wl_alloc_send(size_t size) { return vs_zpages_alloc(size); }

void wl_free_send(void *p, size_t size) { vs_zpages_free(p, size); }

void *wl_alloc_pages_raw(size_t size)
{
    size_t rounded = (size + 4095) / 4096 * 4096;
    if (!rounded)
        rounded = 4096;
    unsigned char *p = aligned_alloc(4096, rounded);
    if (p) /* the caller fills size bytes; the rest of the page is zero */
        memset(p + size, 0, rounded - size);
    return p;
}

int wl_latency_class(uint64_t size)
{
    int k = 0;
    while (size > 1 && k < WL_LAT_CLASSES - 1) {
        size >>= 1;
        k++;
    }
    return k;
}

void wl_latency_add(struct wl_latency *l, uint64_t size, double us)
{
    int k = wl_latency_class(size);
    if (l->n[k] == l->cap[k]) {
        size_t cap = l->cap[k] ? 2 * l->cap[k] : 64;
        double *v = realloc(l->us[k], cap * sizeof *v);
        if (!v)
            return; /* a statistic, not a result: a sample fewer */
        l->us[k] = v;
        l->cap[k] = cap;
    }
    l->us[k][l->n[k]++] = us;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double wl_latency_quantile(struct wl_latency *l, int k, double q)
{
    size_t n = l->n[k];
    if (!n)
        return 0;
    qsort(l->us[k], n, sizeof *l->us[k], cmp_double);
    size_t i = (size_t)(q * (double)n + 0.999999);
    return l->us[k][i ? (i > n ? n : i) - 1 : 0];
}

void wl_latency_free(struct wl_latency *l)
{
    for (int k = 0; k < WL_LAT_CLASSES; k++)
        free(l->us[k]);
    for (int i = 0; l->issue && i < l->nissue; i++)
        free(l->issue[i]);
    free(l->issue);
    memset(l, 0, sizeof *l);
}
