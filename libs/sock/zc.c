/*
 * libs/sock zero copy: a large blocking read that finds nothing arrived
 * posts itself to the writer, and the writer's next large write goes
 * straight into the reader's buffer through transfer redirection
 * (vmmc_redirect), with no copy on either side.
 *
 * Reader (sk__zc_read): redirects the first len bytes of its landing zone
 * (export SK_EXPORT_ZC) into buf, then sends RDPOST{seq, P, len, zone
 * generation}, P being its stream position.  It waits for the first of:
 * the writer's ZC{seq, k} (k bytes are in buf), data or end of stream in
 * the ring (the writer sent before it saw the post: the post is void),
 * or DECLINE{seq}.  A redirection that did not complete (k < len, or
 * none) is withdrawn by exporting the zone anew, which bumps its
 * generation so a writer never writes into a zone with a stale import.
 *
 * Writer (sk__zc_serve, called from send when a post is pending): serves
 * it only if its stream position is P (nothing of its own is in flight
 * ahead of the post) and it has at least SK_ZC_MIN bytes: it sends
 * k = min(len, posted) bytes into the zone, then ZC{seq, k} through the
 * ring (VMMC delivers a peer's bytes in order, so the data is in place
 * when the record is seen), and waits for the data to leave its buffer.
 * Otherwise it answers DECLINE.  A post is answered at most once.
 */
#include <errno.h>
#include <string.h>

#include "libs/sock/sock_int.h"

struct zc_wait {
    int c;
};

static int zc_ready(struct sk_node *n, void *arg)
{
    struct sk_conn *cn = &n->conn[((struct zc_wait *)arg)->c];
    return cn->zc_answered || cn->rx_rd != cn->rx_scan || cn->err ||
           cn->state != SK_EST;
}

/* Withdraws a redirection that may not complete: the zone is exported
 * anew (the pending redirection ends with VS_ENOENT). */
static int zone_reset(struct sk_node *n, vmmc_req *req)
{
    vmmc_unexport(n->vc, SK_EXPORT_ZC);
    vmmc_wait(n->vc, req);
    n->zc_exported = 0;
    if (vmmc_export(n->vc, SK_EXPORT_ZC, n->zc_zone, SK_ZC_MAX,
                    VMMC_PERM_WRITE))
        return -EIO;
    n->zc_exported = 1;
    n->zc_gen++;
    return 0;
}

ssize_t sk__zc_read(struct sk_node *n, int c, void *buf, size_t len)
{
    struct sk_conn *cn = &n->conn[c];
    if (cn->state != SK_EST || cn->peer_fin || cn->rx_rd != cn->rx_scan ||
        !sk__tx_room(cn, SK_R_RDPOST))
        return 0;
    if (cn->zc_skip) { /* the writer's writes have been small lately */
        cn->zc_skip--;
        return 0;
    }
    if (!n->zc_exported) {
        if (vmmc_export(n->vc, SK_EXPORT_ZC, n->zc_zone, SK_ZC_MAX,
                        VMMC_PERM_WRITE))
            return 0; /* no zero copy on this node: plain reads */
        n->zc_exported = 1;
        n->zc_gen++;
    }
    if (len > SK_ZC_MAX)
        len = SK_ZC_MAX;
    vmmc_req req;
    if (vmmc_redirect(n->vc, SK_EXPORT_ZC, 0, len, buf, &req))
        return 0;
    cn->zc_seq++;
    cn->zc_pending = 1;
    cn->zc_answered = 0;
    cn->zc_small = 0;
    cn->zc_done_len = 0;
    uint32_t gen = n->zc_gen;
    int rc = sk__send_record(n, c, SK_R_RDPOST, &gen, 4, cn->zc_seq,
                             (uint32_t)cn->rx_bytes,
                             (uint32_t)(cn->rx_bytes >> 32), (uint32_t)len);
    struct zc_wait w = {c};
    if (rc == 0)
        rc = sk__block(n, zc_ready, &w, -1);
    cn->zc_pending = 0;
    uint32_t k = cn->zc_answered ? cn->zc_done_len : 0;
    if (rc == 0 && k == len) {
        rc = vmmc_wait(n->vc, &req) ? -EIO : 0;
    } else {
        int zr = zone_reset(n, &req);
        if (!rc)
            rc = zr;
    }
    if (rc)
        return rc;
    if (!k) {
        /* Declined for a small write: after two in a row, skip 1, 3, 7,
         * then 15 eligible reads before posting again, so a peer that
         * writes small messages into large reads costs little. */
        if (cn->zc_small && cn->zc_declines < 5)
            cn->zc_declines++;
        cn->zc_skip = cn->zc_small ? (1u << (cn->zc_declines - 1)) - 1 : 0;
        n->st.zc_declined++;
        return 0;
    }
    cn->zc_declines = 0;
    cn->rx_bytes += k;
    n->st.zc_reads++;
    n->st.zc_bytes += k;
    return (ssize_t)k;
}

void sk__zc_serve(struct sk_node *n, int c, const unsigned char *buf,
                  size_t len, size_t *sent)
{
    struct sk_conn *cn = &n->conn[c];
    *sent = 0;
    if (!cn->peer_rd_valid)
        return;
    cn->peer_rd_valid = 0;
    size_t k = len < cn->peer_rd_len ? len : cn->peer_rd_len;
    int p = cn->peer;
    int ok = cn->peer_rd_pos == cn->tx_bytes && k >= SK_ZC_MIN &&
             sk__tx_room(cn, SK_R_ZC) && !cn->peer_closed;
    if (ok && n->zc_imp[p] >= 0 && n->zc_imp_gen[p] != cn->peer_rd_gen) {
        vmmc_unimport(n->vc, n->zc_imp[p]);
        n->zc_imp[p] = -1;
    }
    if (ok && n->zc_imp[p] < 0) {
        size_t zlen = 0;
        if (vmmc_import(n->vc, p, SK_EXPORT_ZC, &n->zc_imp[p], &zlen) ||
            zlen < k) {
            if (n->zc_imp[p] >= 0)
                vmmc_unimport(n->vc, n->zc_imp[p]);
            n->zc_imp[p] = -1;
            ok = 0;
        } else {
            n->zc_imp_gen[p] = cn->peer_rd_gen;
        }
    }
    vmmc_req req;
    if (ok && vmmc_send(n->vc, n->zc_imp[p], 0, buf, k, 0, &req))
        ok = 0;
    if (!ok) {
        if (sk__tx_room(cn, SK_R_DECLINE) && !cn->peer_closed)
            sk__send_record(n, c, SK_R_DECLINE, NULL, 0, cn->peer_rd_seq,
                            len < SK_ZC_MIN, 0, 0);
        return;
    }
    int rc = sk__send_record(n, c, SK_R_ZC, NULL, 0, cn->peer_rd_seq, 0,
                             (uint32_t)k, 0);
    int wrc = vmmc_wait(n->vc, &req);
    if (rc || wrc)
        return; /* the connection is broken (send_record said so) */
    cn->tx_bytes += k;
    *sent = k;
}
