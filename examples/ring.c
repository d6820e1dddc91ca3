/*
 * ring: an ordinary C program over the raw VMMC API, for vmmcsim exec.
 * Every node exports a mailbox, imports its right neighbour's and writes
 * its number into it; each then waits for its left neighbour's.  A global
 * counts how often main() ran in this copy of the program: 1 on every node,
 * because each node has its own globals.
 *
 *   build/vmmcsim-cc -o build/ring examples/ring.c
 *   build/vmmcsim exec -n 8 --platform configs/myrinet-8.xml build/ring
 *
 * "ring STATUS" makes node 1 exit(STATUS) at the end.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vmmc/vmmc.h"

static int runs;              /* per node */
static uint32_t mailbox[16];  /* exported; [0] holds the left neighbour's */
static uint32_t outgoing;

int main(int argc, char **argv)
{
    vmmc_ctx *ctx;
    vmmc_import_t right;
    runs++;
    if (vmmc_open(&ctx, hw_self()))
        return 10;
    int me = vmmc_node(ctx), n = vmmc_nnodes(ctx);
    int rc = vmmc_export(ctx, 0, mailbox, sizeof mailbox, VMMC_PERM_WRITE);
    /* The neighbour may not have exported yet: ask again until it has. */
    while (!rc && (rc = vmmc_import(ctx, (me + 1) % n, 0, &right, NULL)) ==
                      VS_ENOENT) {
        hw_host *h = vmmc_host(ctx);
        h->ops->compute(h, 10 * HW_US);
    }
    if (rc) {
        fprintf(stderr, "node %d: %s\n", me, vmmc_errmsg(ctx));
        return 11;
    }
    outgoing = (uint32_t)me + 1;
    if (vmmc_send_sync(ctx, right, 0, &outgoing, sizeof outgoing, 0))
        return 12;
    uint32_t want = (uint32_t)((me + n - 1) % n) + 1;
    if (vmmc_wait_u32(ctx, &mailbox[0], want, 100 * HW_MS))
        return 13;
    hw_host *h = vmmc_host(ctx);
    printf("node %d of %d: %u from node %d at %.3f us, main ran %d time(s) "
           "here\n",
           me, n, mailbox[0] - 1, (me + n - 1) % n,
           (double)h->ops->now(h) / 1e6, runs);
    vmmc_close(ctx);
    if (argc > 1 && me == 1)
        exit(atoi(argv[1]));
    return 0;
}
