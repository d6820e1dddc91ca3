/*
 * Joining and finishing a run of emulated nodes (emu/emu.h).
 *
 * Join: from the moment its NIC thread starts (the firmware is booted by
 * then), a node sends HELLO every hello_interval to each peer it has not
 * heard from and answers every HELLO with HELLO_ACK; it has joined when it
 * has heard from every peer.  Packets that come before that are the
 * firmware's business like any other.  While joining, a datagram from a
 * node speaking another packet version, from an address or id that is not
 * in the cluster file, or for another cluster fails the join with a message
 * saying so; after it, such datagrams are only counted.
 *
 * Finish: when its program is done a node sends FIN, with a result record,
 * every hello_interval to each peer that has not acknowledged it (FIN_ACK)
 * or not sent its own FIN yet, and answers every FIN.  It is done when it
 * has every peer's FIN and every acknowledgement (or, having every FIN,
 * after a linger of ten intervals: an acknowledgement lost while its sender
 * exited).  A peer from which nothing at all came for the link's
 * unreachable bound (at least a second) fails the finish: a live NIC
 * thread answers FINs even while its program still runs, so only a dead
 * or cut-off node stays silent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu/emu_int.h"
#include "util/err.h"

#define LINGER_TICKS 10

int emu__ctrl_init(struct emu_node *n)
{
    size_t k = (size_t)n->nnodes;
    n->heard = calloc(k, 1);
    n->fin_from = calloc(k, 1);
    n->fin_acked = calloc(k, 1);
    n->send_errno = calloc(k, sizeof *n->send_errno);
    n->last_heard = calloc(k, sizeof *n->last_heard);
    n->results = calloc(k, sizeof *n->results);
    if (!n->heard || !n->fin_from || !n->fin_acked || !n->send_errno ||
        !n->last_heard || !n->results)
        return VS_ENOMEM;
    n->heard[n->self] = 1;
    n->nheard = 1;
    n->joined = n->nheard == n->nnodes;
    return VS_OK;
}

void emu__ctrl_fini(struct emu_node *n)
{
    free(n->heard);
    free(n->fin_from);
    free(n->fin_acked);
    free(n->send_errno);
    free(n->last_heard);
    free(n->results);
}

static void mark_heard(struct emu_node *n, int k)
{
    pthread_mutex_lock(&n->ctl_m);
    if (!n->heard[k]) {
        n->heard[k] = 1;
        if (++n->nheard == n->nnodes) {
            n->joined = 1;
            pthread_cond_broadcast(&n->ctl_c);
        }
    }
    pthread_mutex_unlock(&n->ctl_m);
}

void emu__ctrl_mismatch(struct emu_node *n, const char *fmt, ...)
{
    pthread_mutex_lock(&n->ctl_m);
    if (!n->joined && !n->join_rc) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(n->join_msg, sizeof n->join_msg, fmt, ap);
        va_end(ap);
        n->join_rc = VS_ECONFIG;
        pthread_cond_broadcast(&n->ctl_c);
    }
    pthread_mutex_unlock(&n->ctl_m);
}

/* The longest a live peer may stay silent at the end of the run. */
static hw_time_t dead_bound(const struct emu_node *n)
{
    hw_time_t rto = n->cfg.rto > 0 ? n->cfg.rto : 2 * HW_MS;
    unsigned retries = n->cfg.max_retries ? n->cfg.max_retries : 8;
    hw_time_t b = (hw_time_t)retries * 4 * rto;
    return b > 1000 * HW_MS ? b : 1000 * HW_MS;
}

/* Decides whether the finish is over; with resend, sends the FINs still
 * unacknowledged.  Loop thread (or before it starts). */
static void finish_check(struct emu_node *n, int resend)
{
    hw_time_t now = emu_now(n);
    pthread_mutex_lock(&n->ctl_m);
    if (!n->finishing || n->finish_done) {
        pthread_mutex_unlock(&n->ctl_m);
        return;
    }
    int all_from = 1, all_acked = 1, dead = -1;
    hw_time_t quiet_max = 0;
    for (int k = 0; k < n->nnodes; k++) {
        all_from &= n->fin_from[k];
        all_acked &= n->fin_acked[k];
        if (k == n->self || (n->fin_from[k] && n->fin_acked[k]))
            continue;
        hw_time_t since = n->last_heard[k] > n->finish_start ? n->last_heard[k]
                                                             : n->finish_start;
        if (now - since > dead_bound(n) && now - since > quiet_max) {
            quiet_max = now - since;
            dead = k;
        }
    }
    if (all_from && !n->all_fin_at)
        n->all_fin_at = now > 0 ? now : 1;
    if (all_from && (all_acked || now - n->all_fin_at >
                                      LINGER_TICKS * n->cfg.hello_interval)) {
        n->finish_done = 1;
        n->finish_rc = VS_OK;
        pthread_cond_broadcast(&n->ctl_c);
    } else if (dead >= 0) {
        n->finish_done = 1;
        n->finish_rc = VS_EUNREACH;
        snprintf(n->finish_msg, sizeof n->finish_msg,
                 "node %d (%s) stopped answering: nothing came from it for "
                 "%.0f ms at the end of the run",
                 dead, n->cl->peers[dead].label, (double)quiet_max / 1e9);
        pthread_cond_broadcast(&n->ctl_c);
    }
    int done = n->finish_done;
    pthread_mutex_unlock(&n->ctl_m);
    if (!resend || done)
        return;
    const struct emu__result *mine = &n->results[n->self];
    for (int k = 0; k < n->nnodes; k++) {
        /* To a peer still running too: its answers show it is alive. */
        pthread_mutex_lock(&n->ctl_m);
        int need = k != n->self && (!n->fin_acked[k] || !n->fin_from[k]);
        pthread_mutex_unlock(&n->ctl_m);
        if (need)
            emu__send(n, EMU_PKT_FIN, k, mine->data, mine->len);
    }
}

void emu__ctrl_rx(struct emu_node *n, const struct emu_wire_hdr *h,
                  const unsigned char *payload)
{
    int src = h->src;
    switch (h->type) {
    case EMU_PKT_HELLO:
        mark_heard(n, src);
        emu__send(n, EMU_PKT_HELLO_ACK, src, NULL, 0);
        break;
    case EMU_PKT_HELLO_ACK:
        mark_heard(n, src);
        break;
    case EMU_PKT_FIN:
        if (h->len > EMU_CTRL_MAX) {
            n->st.rx_bad[EMU_WIRE_BAD_LENGTH]++;
            return;
        }
        mark_heard(n, src); /* it joined, or it could not be done */
        pthread_mutex_lock(&n->ctl_m);
        if (!n->fin_from[src]) { /* the first copy: later ones resend it */
            n->fin_from[src] = 1;
            n->results[src].have = 1;
            n->results[src].len = h->len;
            memcpy(n->results[src].data, payload, h->len);
        }
        pthread_mutex_unlock(&n->ctl_m);
        emu__send(n, EMU_PKT_FIN_ACK, src, NULL, 0);
        finish_check(n, 0);
        break;
    case EMU_PKT_FIN_ACK:
        pthread_mutex_lock(&n->ctl_m);
        n->fin_acked[src] = 1;
        pthread_mutex_unlock(&n->ctl_m);
        finish_check(n, 0);
        break;
    default:
        break;
    }
}

void emu__ctrl_tick(struct emu_node *n)
{
    for (int k = 0; k < n->nnodes; k++) {
        pthread_mutex_lock(&n->ctl_m);
        int need = !n->joined && !n->heard[k];
        pthread_mutex_unlock(&n->ctl_m);
        if (need)
            emu__send(n, EMU_PKT_HELLO, k, NULL, 0);
    }
    finish_check(n, 1);
}

void emu__ctrl_async(struct emu_node *n)
{
    pthread_mutex_lock(&n->ctl_m);
    int start = n->finish_req && !n->finishing;
    if (start) {
        n->finishing = 1;
        n->finish_start = emu_now(n);
        n->fin_from[n->self] = n->fin_acked[n->self] = 1;
    }
    pthread_mutex_unlock(&n->ctl_m);
    if (start)
        finish_check(n, 1);
}

/* The absolute CLOCK_MONOTONIC time dt from now. */
static struct timespec deadline_ts(hw_time_t dt)
{
    int64_t ns = emu__mono_ns() + dt / HW_NS;
    return (struct timespec){(time_t)(ns / 1000000000),
                             (long)(ns % 1000000000)};
}

int emu_node_join(emu_node *n, char *err, size_t errlen)
{
    struct timespec ts = deadline_ts(n->cfg.join_timeout);
    pthread_mutex_lock(&n->ctl_m);
    int timed_out = 0;
    while (!n->joined && !n->join_rc && !timed_out)
        timed_out =
            pthread_cond_timedwait(&n->ctl_c, &n->ctl_m, &ts) == ETIMEDOUT;
    int rc = VS_OK;
    if (n->joined) {
        rc = VS_OK;
    } else if (n->join_rc) {
        rc = n->join_rc;
        snprintf(err, errlen, "node %d: %s", n->self, n->join_msg);
    } else {
        rc = VS_ETIMEDOUT;
        int k = snprintf(err, errlen, "node %d: ", n->self);
        int missing = 0;
        for (int i = 0; i < n->nnodes && k >= 0 && (size_t)k < errlen; i++)
            if (!n->heard[i])
                k += snprintf(err + k, errlen - (size_t)k, "%s%d",
                              missing++ ? ", " : "node(s) ", i);
        if (k >= 0 && (size_t)k < errlen)
            k += snprintf(err + k, errlen - (size_t)k,
                          " never joined within %.1f s:",
                          (double)n->cfg.join_timeout / 1e12);
        for (int i = 0; i < n->nnodes && k >= 0 && (size_t)k < errlen; i++)
            if (!n->heard[i])
                k += snprintf(
                    err + k, errlen - (size_t)k,
                    " node %d at %s (%s:%d)%s%s%s;", i, n->cl->peers[i].label,
                    n->cl->path, n->cl->peers[i].line,
                    n->send_errno[i] ? " (sending to it failed: " : "",
                    n->send_errno[i] ? strerror(n->send_errno[i]) : "",
                    n->send_errno[i] ? ")" : "");
        if (k > 0 && (size_t)k < errlen && err[k - 1] == ';')
            err[k - 1] = 0;
    }
    pthread_mutex_unlock(&n->ctl_m);
    return rc;
}

int emu_node_finish(emu_node *n, const void *result, size_t len,
                    hw_time_t timeout, char *err, size_t errlen)
{
    if (len > EMU_CTRL_MAX)
        return VS_EINVAL;
    pthread_mutex_lock(&n->ctl_m);
    struct emu__result *mine = &n->results[n->self];
    mine->have = 1;
    mine->len = len;
    if (len)
        memcpy(mine->data, result, len);
    n->finish_req = 1;
    pthread_mutex_unlock(&n->ctl_m);
    ev_async_send(n->loop, &n->async_w);
    struct timespec ts = deadline_ts(timeout);
    pthread_mutex_lock(&n->ctl_m);
    int timed_out = 0;
    while (!n->finish_done && !timed_out) {
        if (timeout < 0)
            pthread_cond_wait(&n->ctl_c, &n->ctl_m);
        else
            timed_out =
                pthread_cond_timedwait(&n->ctl_c, &n->ctl_m, &ts) == ETIMEDOUT;
    }
    int rc;
    if (n->finish_done) {
        rc = n->finish_rc;
        if (rc)
            snprintf(err, errlen, "node %d: %s", n->self, n->finish_msg);
    } else {
        rc = VS_ETIMEDOUT;
        int k = snprintf(err, errlen,
                         "node %d: the run did not end within "
                         "%.1f s; still waiting for",
                         n->self, (double)timeout / 1e12);
        for (int i = 0; i < n->nnodes && k >= 0 && (size_t)k < errlen; i++)
            if (!n->fin_from[i])
                k += snprintf(err + k, errlen - (size_t)k, " node %d", i);
    }
    pthread_mutex_unlock(&n->ctl_m);
    return rc;
}

const void *emu_node_result(emu_node *n, int k, size_t *len)
{
    if (k < 0 || k >= n->nnodes)
        return NULL;
    pthread_mutex_lock(&n->ctl_m);
    const struct emu__result *r = &n->results[k];
    const void *p = r->have ? r->data : NULL;
    *len = r->len;
    pthread_mutex_unlock(&n->ctl_m);
    return p;
}
