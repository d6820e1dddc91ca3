/*
 * libs/node: one VMMC context per node shared by the libraries, the
 * end-of-program hooks (last registered first), node_run_at_end running
 * them with the context left open, and node_end closing the context.
 */
#include <CUnit/CUnit.h>

#include "libs/node/node.h"
#include "tests/harness.h"
#include "tests/vmmc/helpers.h"

static int order[2][4], norder[2];

static void hook(void *arg)
{
    hw_host *h = hw_self();
    int n = h->node;
    if (norder[n] < 4)
        order[n][norder[n]++] = (int)(intptr_t)arg;
    /* The context is still open while the hooks run. */
    int err = 0;
    TH_CHECK(node_vmmc(&err) != NULL, "node %d: no context in a hook", n);
}

static void node_main(hw_host *h, void *arg)
{
    (void)arg;
    int err = 0;
    vmmc_ctx *a = node_vmmc(&err), *b = node_vmmc(&err);
    TH_CHECK(a && a == b, "node %d: node_vmmc gave %p then %p", h->node,
             (void *)a, (void *)b);
    TH_CHECK(vmmc_node(a) == h->node, "node %d: context of node %d",
             h->node, vmmc_node(a));
    TH_EXPECT_RC(node_at_end(hook, (void *)(intptr_t)1), VS_OK);
    TH_EXPECT_RC(node_at_end(hook, (void *)(intptr_t)2), VS_OK);
    TH_EXPECT_RC(node_at_end(NULL, NULL), VS_EINVAL);
    /* The hooks run now, once, and the context stays open. */
    node_run_at_end();
    TH_CHECK(norder[h->node] == 2 && order[h->node][0] == 2 &&
                 order[h->node][1] == 1,
             "node %d: hooks ran %d times, order %d,%d", h->node,
             norder[h->node], order[h->node][0], order[h->node][1]);
    TH_CHECK(node_vmmc(&err) == a,
             "node %d: the context changed after node_run_at_end", h->node);
    TH_EXPECT_RC(node_at_end(hook, (void *)(intptr_t)3), VS_OK);
    TH_EXPECT_RC(node_end(), VS_OK);
    TH_CHECK(norder[h->node] == 3 && order[h->node][2] == 3,
             "node %d: hooks ran %d times, last %d", h->node, norder[h->node],
             order[h->node][2]);
    /* After the end: nothing left to run; a new context opens afresh
     * (the firmware restarts its command queue) and works. */
    TH_EXPECT_RC(node_end(), VS_OK);
    vmmc_ctx *c = node_vmmc(&err);
    TH_CHECK(c != NULL, "node %d: reopening failed: %d", h->node, err);
    static uint32_t word[2];
    TH_EXPECT_RC(vmmc_export(c, 5, &word[h->node], sizeof word[0],
                             VMMC_PERM_WRITE), VS_OK);
    vmmc_import_t imp;
    TH_EXPECT_RC(th_import_retry(c, h, 1 - h->node, 5, &imp), VS_OK);
    uint32_t v = 100u + (uint32_t)h->node;
    TH_EXPECT_RC(vmmc_send_sync(c, imp, 0, &v, sizeof v, 0), VS_OK);
    TH_EXPECT_RC(vmmc_wait_u32(c, &word[h->node], 101u - (uint32_t)h->node,
                               -1), VS_OK);
    TH_EXPECT_RC(node_end(), VS_OK);
}

static void test_node(void)
{
    node_reset();
    th_run_nodes(NULL, node_main);
    node_reset();
}

static void test_node_off_node(void)
{
    int err = 0;
    CU_ASSERT_PTR_NULL(node_vmmc(&err));
    CU_ASSERT_EQUAL(err, VS_EINVAL);
    CU_ASSERT_EQUAL(node_at_end(hook, NULL), VS_EINVAL);
    node_run_at_end();
    CU_ASSERT_EQUAL(node_end(), VS_OK);
}

void register_node_tests(void);
void register_node_tests(void)
{
    CU_pSuite s = th_suite("node");
    th_add(s, "libs/node: one context per node, hooks last-first, close",
           test_node);
    th_add(s, "libs/node: off a node every call refuses", test_node_off_node);
}
