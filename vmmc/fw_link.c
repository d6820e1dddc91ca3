/*
 * The reliable link of the VMMC firmware (VMMC-2's reliable data link
 * between NICs).  Each pair of NICs has a link per direction:
 *   - every packet but a bare ACK gets the next sequence number of its link;
 *     the sender keeps it in SRAM until a cumulative acknowledgement covers
 *     it;
 *   - the receiver takes packets strictly in order: a duplicate or a packet
 *     after a gap is dropped and answered with an immediate ACK;
 *     acknowledgements otherwise ride on the next packet going back, or go
 *     alone after ack_delay, or at once when half a window has come in;
 *   - when nothing is acknowledged for the retransmission timeout, the
 *     sender sends every unacknowledged packet again (go-back-N).  The
 *     timeout adapts to the link's measured round trip (Jacobson's
 *     estimator, Karn's rule: no samples from resent packets), between the
 *     profile's rto (the floor) and 4 times that, doubling at each
 *     timeout; so queueing behind a busy receiver is not mistaken for
 *     loss.  After max_retries timeouts in a row the peer is unreachable
 *     (at most max_retries * 4 * rto after the last progress): what waits
 *     on it fails with
 *     VS_EUNREACH, and the link starts a new epoch, so a later send
 *     re-establishes it (the receiver resets on the epoch's SYN packet);
 *     Two bare duplicate ACKs (the receiver saw a gap) resend the oldest
 *     packet at once (fast retransmit).
 *   - a packet the receiver refused (protection) still counts as received;
 *     its acknowledgement carries the refusal so the send fails with it.
 * With the profile's reliability disabled, packets carry no sequence and
 * nothing is acknowledged: the cost of the protocol can be measured.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmmc/fw_int.h"

#define DEFAULT_RTO (2 * HW_MS)
#define DEFAULT_RETRIES 8u

static int seq_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static int epoch_newer(uint8_t a, uint8_t b) { return (int8_t)(a - b) > 0; }

int fw__link_init(struct vmmc_fw *fw)
{
    vs_pool_init(&fw->ctrl_pool, sizeof(struct fw_pkt));
    int n = fw->nic->nnodes;
    fw->reliable = !fw->nic->unreliable;
    fw->rto_min = fw->nic->rto > 0 ? fw->nic->rto : DEFAULT_RTO;
    fw->rto_max = 4 * fw->rto_min;
    fw->window = fw->nic->window ? fw->nic->window : 6;
    fw->max_retries =
        fw->nic->max_retries ? fw->nic->max_retries : DEFAULT_RETRIES;
    fw->ack_delay = fw->nic->ack_delay > 0 ? fw->nic->ack_delay : 0;
    fw->conns = fw->ops->sram_alloc(fw->nic, (size_t)n * sizeof *fw->conns);
    if (!fw->conns)
        return VS_ENOSRAM;
    return VS_OK;
}

void fw__conn_init(struct vmmc_fw *fw, int i)
{
    struct fw_conn *c = &fw->conns[i];
    c->fw = fw;
    c->node = i;
    c->epoch = 1;
    c->syn = 1;
    c->rto = fw->rto_min;
}

static void timer_off(struct vmmc_fw *fw, void **timer)
{
    if (*timer) {
        fw->ops->timer_cancel(fw->nic, *timer);
        *timer = NULL;
    }
}

void fw__link_fini(struct vmmc_fw *fw)
{
    if (!fw->conns)
        return;
    int n = fw->nic->nnodes;
    for (int i = 0; i < n; i++) {
        struct fw_conn *c = &fw->conns[i];
        timer_off(fw, &c->rto_timer);
        timer_off(fw, &c->ack_timer);
        while (c->unacked) {
            struct fw_pkt *p = c->unacked;
            c->unacked = p->next;
            p->job = NULL; /* the jobs go with the send queue */
            p->sending = 0;
            fw__pkt_free(p);
        }
    }
    fw->ops->sram_free(fw->nic, fw->conns, (size_t)n * sizeof *fw->conns);
    fw->conns = NULL;
}

/* ---- Acknowledgements going out ---- */

/* Puts the current acknowledgement of the link from h's destination into
 * h, which makes a pending bare ACK unnecessary. */
static void fill_ack(struct vmmc_fw *fw, struct fw_conn *c,
                     struct vmmc__hdr *h)
{
    if (!fw->reliable || c->rx_epoch == 0)
        return;
    h->flags |= VMMC__PF_ACK;
    h->ack = c->expected;
    h->ack_epoch = c->rx_epoch;
    /* The latest refusal rides on every acknowledgement, whatever the
     * packet, so the ack that covers a refused packet always says so. */
    if (c->has_refused) {
        h->flags |= VMMC__PF_REFUSED;
        h->refused_seq = c->refused_seq;
        h->refused_status = (int8_t)c->refused_status;
    }
    c->ack_pending = 0;
    c->rx_since_ack = 0;
    timer_off(fw, &c->ack_timer);
}

static void send_bare_ack(struct vmmc_fw *fw, struct fw_conn *c)
{
    if (c->rx_epoch == 0)
        return;
    struct vmmc__hdr h = {.type = VMMC__PKT_ACK,
                          .src = (uint16_t)fw->nic->node};
    fw__charge(fw, HW_FW_CTRL, 1);
    fw->st.acks_sent++;
    fw__link_ctrl(fw, c->node, &h);
}

static void ack_fire(void *arg)
{
    struct fw_conn *c = arg;
    c->ack_timer = NULL;
    if (c->ack_pending)
        send_bare_ack(c->fw, c);
}

static void schedule_ack(struct vmmc_fw *fw, struct fw_conn *c, int now)
{
    c->ack_pending = 1;
    /* Do not let a stream wait for the timer: once half a window has
     * arrived unacknowledged, acknowledge at once. */
    if (++c->rx_since_ack >= (fw->window + 1) / 2)
        now = 1;
    if (now || fw->ack_delay == 0) {
        send_bare_ack(fw, c);
        return;
    }
    if (!c->ack_timer)
        c->ack_timer = fw->ops->timer_start(fw->nic, fw->ack_delay, ack_fire,
                                            c);
}

/* ---- Sending ---- */

static void link_sent(void *arg, int status)
{
    struct fw_pkt *p = arg;
    struct vmmc_fw *fw = p->fw;
    (void)status;
    p->sending = 0;
    if (p->done) {
        fw__pkt_free(p);
        fw__pump(fw); /* a buffer is free again */
    }
}

static void transmit(struct vmmc_fw *fw, struct fw_pkt *p)
{
    struct vmmc__hdr *h = (struct vmmc__hdr *)p->buf;
    fill_ack(fw, fw__conn(fw, p->dst), h);
    p->sending = 1;
    int rc = fw->ops->net_send(fw->nic, p->dst, p->buf, p->len, link_sent, p);
    if (rc) {
        /* The port refused the packet (no route): it is lost like a
         * dropped one; the retransmission timer deals with it. */
        LOG(VMMC, WARN, "node %d: send to node %d refused: %s",
            fw->nic->node, p->dst, vs_strerror(rc));
        p->sending = 0;
    }
}

static void rto_fire(void *arg);

static void rto_start(struct vmmc_fw *fw, struct fw_conn *c)
{
    if (!c->rto_timer)
        c->rto_timer = fw->ops->timer_start(fw->nic, c->rto, rto_fire, c);
}

void fw__link_send(struct vmmc_fw *fw, struct fw_pkt *p)
{
    struct fw_conn *c = fw__conn(fw, p->dst);
    struct vmmc__hdr *h = (struct vmmc__hdr *)p->buf;
    h->epoch = c->epoch;
    if (fw->reliable && p->reliable) {
        if (c->syn) {
            h->flags |= VMMC__PF_SYN;
            c->syn = 0;
        }
        p->seq = h->seq = c->next_seq++;
        p->retx = 0;
        p->sent_at = fw->ops->now(fw->nic);
        p->next = NULL;
        if (c->unacked_tail)
            c->unacked_tail->next = p;
        else
            c->unacked = p;
        c->unacked_tail = p;
        rto_start(fw, c);
    } else {
        p->done = 1; /* freed once the send-DMA has read it */
    }
    transmit(fw, p);
    if (p->done && !p->sending)
        fw__pkt_free(p);
}

int fw__link_ctrl(struct vmmc_fw *fw, int dst, const struct vmmc__hdr *h)
{
    struct fw_pkt *p = vs_pool_get0(&fw->ctrl_pool);
    unsigned char *buf = p ? fw->ops->sram_alloc(fw->nic, HDR) : NULL;
    if (!buf) {
        vs_pool_put(&fw->ctrl_pool, p);
        fw->st.sram_failures++;
        return VS_ENOSRAM;
    }
    memcpy(buf, h, HDR);
    p->fw = fw;
    p->buf = buf;
    p->len = HDR;
    p->dst = dst;
    p->reliable = h->type != VMMC__PKT_ACK;
    fw__link_send(fw, p);
    return VS_OK;
}

/* Gives up on a peer: everything unacknowledged fails, and the link
 * starts a new epoch for whoever sends next. */
static void link_fail(struct vmmc_fw *fw, struct fw_conn *c)
{
    fw->st.peer_failures++;
    LOG(VMMC, WARN, "node %d: node %d unreachable after %u timeouts",
        fw->nic->node, c->node, c->retries);
    timer_off(fw, &c->rto_timer);
    struct fw_pkt *p = c->unacked;
    c->unacked = c->unacked_tail = NULL;
    c->epoch = (uint8_t)(c->epoch == 255 ? 1 : c->epoch + 1); /* 0: none */
    c->syn = 1;
    c->next_seq = c->una = 0;
    c->retries = 0;
    c->srtt = c->rttvar = 0;
    c->rto = fw->rto_min;
    while (p) {
        struct fw_pkt *next = p->next;
        p->done = 1;
        if (p->job)
            fw__pkt_resolved(p, VS_EUNREACH);
        if (!p->sending)
            fw__pkt_free(p);
        p = next;
    }
    fw__peer_failed(fw, c->node);
    fw__pump(fw);
}

static void rto_fire(void *arg)
{
    struct fw_conn *c = arg;
    struct vmmc_fw *fw = c->fw;
    c->rto_timer = NULL;
    if (!c->unacked)
        return;
    fw__charge(fw, HW_FW_CTRL, 1);
    fw->st.timeouts++;
    c->dupacks = 0;
    if (++c->retries > fw->max_retries) {
        link_fail(fw, c);
        return;
    }
    for (struct fw_pkt *p = c->unacked; p; p = p->next) {
        if (p->sending)
            break; /* still queued: resending what follows would put it
                    * on the wire out of order */
        fw__charge(fw, HW_FW_SEND_PKT, 1);
        fw->st.retransmits++;
        p->retx++;
        transmit(fw, p);
    }
    c->rto = 2 * c->rto < fw->rto_max ? 2 * c->rto : fw->rto_max;
    rto_start(fw, c);
}

/* ---- Acknowledgements coming in ---- */

/* Jacobson's estimator: srtt += (m - srtt) / 8, rttvar += (|m - srtt| -
 * rttvar) / 4, rto = srtt + 4 rttvar, kept within [rto_min, rto_max]. */
static void rtt_sample(struct vmmc_fw *fw, struct fw_conn *c, hw_time_t m)
{
    if (m < 0)
        return;
    if (c->srtt == 0) {
        c->srtt = m;
        c->rttvar = m / 2;
    } else {
        hw_time_t err = m > c->srtt ? m - c->srtt : c->srtt - m;
        c->rttvar += (err - c->rttvar) / 4;
        c->srtt += (m - c->srtt) / 8;
    }
    hw_time_t rto = c->srtt + 4 * c->rttvar;
    c->rto = rto < fw->rto_min   ? fw->rto_min
             : rto > fw->rto_max ? fw->rto_max
                                 : rto;
}

static void apply_ack(struct vmmc_fw *fw, struct fw_conn *c,
                      const struct vmmc__hdr *h)
{
    if (h->ack_epoch != c->epoch || c->syn)
        return;
    if (!c->unacked)
        return;
    if (!seq_before(c->unacked->seq, h->ack)) {
        /* A bare ACK that does not move: the receiver got something out
         * of order, so the oldest packet is probably lost and the receiver
         * dropped what followed it.  On the second such ACK, go back N at
         * once instead of waiting for the timer (fast retransmit, once per
         * loss). */
        if (h->type == VMMC__PKT_ACK && h->ack == c->unacked->seq &&
            ++c->dupacks == 2) {
            for (struct fw_pkt *p = c->unacked; p; p = p->next) {
                if (p->sending)
                    break; /* keep wire order: the rest goes next time */
                fw__charge(fw, HW_FW_SEND_PKT, 1);
                fw->st.retransmits++;
                fw->st.fast_retransmits++;
                p->retx++;
                transmit(fw, p);
            }
        }
        return;
    }
    c->dupacks = 0;
    fw__charge(fw, HW_FW_ACK, 1);
    int refused = (h->flags & VMMC__PF_REFUSED) != 0;
    if (c->unacked->retx == 0)
        rtt_sample(fw, c, fw->ops->now(fw->nic) - c->unacked->sent_at);
    while (c->unacked && seq_before(c->unacked->seq, h->ack)) {
        struct fw_pkt *p = c->unacked;
        c->unacked = p->next;
        if (!c->unacked)
            c->unacked_tail = NULL;
        p->done = 1;
        if (p->job)
            fw__pkt_resolved(p, refused && p->seq == h->refused_seq
                                    ? h->refused_status
                                    : VS_OK);
        if (!p->sending)
            fw__pkt_free(p);
    }
    c->una = h->ack;
    c->retries = 0;
    timer_off(fw, &c->rto_timer);
    if (c->unacked)
        rto_start(fw, c);
    fw__pump(fw);
}

int fw__link_rx(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    if (!fw->reliable)
        return h->type != VMMC__PKT_ACK;
    struct fw_conn *c = fw__conn(fw, h->src);
    if (h->type == VMMC__PKT_ACK)
        return 0;
    if (h->epoch != c->rx_epoch) {
        if ((h->flags & VMMC__PF_SYN) && h->seq == 0 &&
            (c->rx_epoch == 0 || epoch_newer(h->epoch, c->rx_epoch))) {
            c->rx_epoch = h->epoch;
            c->expected = 0;
            c->has_refused = 0;
        } else {
            fw->st.stale_drops++;
            return 0;
        }
    }
    if (h->seq == c->expected) {
        c->expected++;
        schedule_ack(fw, c, 0);
        return 1;
    }
    if (seq_before(h->seq, c->expected))
        fw->st.dup_drops++;
    else
        fw->st.ooo_drops++;
    schedule_ack(fw, c, 1);
    return 0;
}

void fw__link_rx_ack(struct vmmc_fw *fw, const struct vmmc__hdr *h)
{
    if (fw->reliable && (h->flags & VMMC__PF_ACK))
        apply_ack(fw, fw__conn(fw, h->src), h);
}

void fw__link_refused(struct vmmc_fw *fw, const struct vmmc__hdr *h, int why)
{
    if (!fw->reliable)
        return;
    struct fw_conn *c = fw__conn(fw, h->src);
    c->has_refused = 1;
    c->refused_seq = h->seq;
    c->refused_status = why;
    schedule_ack(fw, c, 1);
}
