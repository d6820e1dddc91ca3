/*
 * vmmcsim replay (cli/replay.c, libs/replay): SimGrid time-independent
 * traces recorded from real MPI programs (workloads/traces/) replay with
 * every message delivered, the same simulated times run after run and in
 * all three input forms, and the computation charged at the host's speed;
 * bad traces are refused before anything is simulated, naming file:line
 * and the field (exit 2); traces whose sends and receives do not match
 * end with an error naming the rank and its trace line (exit 1), never a
 * hang.  Each run goes through cli_main() in a child process.
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/cli/cli_helpers.h"
#include "tests/harness.h"
#include "tests/suites.h"

/* The checked-in traces (workloads/traces/README.md says how they were
 * recorded): name, ranks, actions, point-to-point messages. */
static const struct {
    const char *name;
    int ranks;
    int actions;
    int p2p;
} TRACES[] = {
    {"ring", 4, 116, 36},
    {"halo", 4, 220, 52},
    {"colls", 8, 216, 0},
};

/* A guard: a replay that hangs would stop here instead. */
#define MAX_TIME "20s"

static void index_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "workloads/traces/%s/%s.txt", name, name);
}

/* The JSON from "rank_stats" on: every per-rank figure, no wall time. */
static const char *rank_stats(const char *json)
{
    const char *p = strstr(json, "\"rank_stats\"");
    return p ? p : "";
}

/* The number after "key": in the text from p on (-1 if none). */
static double num_after(const char *p, const char *key)
{
    return th_json_num(p, key);
}

/* Every rank's compute + comm + wait is its whole time from start to
 * end: the three categories split the replay's time exactly. */
static void check_categories(const char *json, int ranks)
{
    const char *p = rank_stats(json);
    for (int r = 0; r < ranks; r++) {
        char key[32];
        snprintf(key, sizeof key, "{\"rank\":%d,", r);
        const char *q = strstr(p, key);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        double sum = num_after(q, "compute_s") + num_after(q, "comm_s") +
                     num_after(q, "wait_s");
        double span = num_after(q, "end_s") - num_after(q, "start_s");
        CU_ASSERT(fabs(sum - span) < 5e-9);
        CU_ASSERT(num_after(q, "comm_s") > 0);
    }
}

/* Each checked-in trace: delivered in full, deterministic. */
static void test_replay_recorded(void)
{
    for (size_t i = 0; i < sizeof TRACES / sizeof TRACES[0]; i++) {
        char index[128];
        index_path(TRACES[i].name, index, sizeof index);
        struct cli_result a, b;
        run_cli(&a, "replay", "--platform", TH_PLATFORM_8, "--max-time",
                MAX_TIME, "--json", index, (char *)NULL);
        run_cli(&b, "replay", "--platform", TH_PLATFORM_8, "--max-time",
                MAX_TIME, "--json", index, (char *)NULL);
        TH_EXPECT_EQ(a.status, 0);
        TH_EXPECT_EQ(b.status, 0);
        if (a.status || b.status) {
            fprintf(stderr, "%s: %s\n", TRACES[i].name, a.err);
            continue;
        }
        TH_EXPECT_EQ(th_json_num(a.out, "ranks"), TRACES[i].ranks);
        TH_EXPECT_EQ(th_json_num(a.out, "actions"), TRACES[i].actions);
        TH_EXPECT_EQ(th_json_num(a.out, "p2p_messages"), TRACES[i].p2p);
        /* Every message msg sent (the trace's and the collectives') was
         * received. */
        double sent = th_json_num(a.out, "messages_sent");
        TH_EXPECT_EQ(sent, th_json_num(a.out, "messages_received"));
        CU_ASSERT(sent >= TRACES[i].p2p && sent > 0);
        /* Deterministic: the same times to the picosecond. */
        CU_ASSERT(th_json_num(a.out, "sim_time_s") > 0);
        CU_ASSERT_EQUAL(th_json_num(a.out, "sim_time_s"),
                        th_json_num(b.out, "sim_time_s"));
        CU_ASSERT_STRING_EQUAL(rank_stats(a.out), rank_stats(b.out));
        for (int r = 0; r < TRACES[i].ranks; r++) {
            char key[32];
            snprintf(key, sizeof key, "{\"rank\":%d,", r);
            const char *q = strstr(rank_stats(a.out), key);
            CU_ASSERT_PTR_NOT_NULL(q);
        }
        check_categories(a.out, TRACES[i].ranks);
    }
}

/* ring: rank 0 computes 2e5 flops before each of its 9 sends; the
 * platform's hosts do 166 Mflop/s, so 1.8e6 / 166e6 s in all. */
static void test_replay_compute_time(void)
{
    struct cli_result r;
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--json",
            "workloads/traces/ring/ring.txt", (char *)NULL);
    TH_EXPECT_EQ(r.status, 0);
    const char *q = strstr(rank_stats(r.out), "{\"rank\":0,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(fabs(num_after(q, "compute_s") - 1.8e6 / 166e6) < 1e-9);
    q = strstr(rank_stats(r.out), "{\"rank\":3,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(fabs(num_after(q, "compute_s") - 9 * 4e5 / 166e6) < 1e-9);
}

/* Writes text to a temporary file named in path. */
static void tmp(char path[static TH_PATH_LEN], const char *text)
{
    th_write_tmp(path, "replay", text);
}

/* The index, the files one per rank, and one shared file: the same
 * replay. */
static void test_replay_forms(void)
{
    const char *dir = "workloads/traces/halo/";
    char *index = th_read_file("workloads/traces/halo/halo.txt");
    char files[4][256], *all = calloc(1, 1 << 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    int n = 0;
    for (char *line = strtok(index, "\n"); line && n < 4;
         line = strtok(NULL, "\n"))
        snprintf(files[n++], sizeof files[0], "%s%s", dir, line);
    TH_EXPECT_EQ(n, 4);
    /* The shared form: every rank's lines in one file, interleaved. */
    char *text[4];
    for (int i = 0; i < n; i++)
        text[i] = th_read_file(files[i]);
    char *at[4];
    for (int i = 0; i < n; i++)
        at[i] = text[i];
    for (int more = 1; more;) {
        more = 0;
        for (int i = 0; i < n; i++) {
            char *nl = strchr(at[i], '\n');
            if (!nl)
                continue;
            strncat(all, at[i], (size_t)(nl - at[i] + 1));
            at[i] = nl + 1;
            more = 1;
        }
    }
    char shared[TH_PATH_LEN];
    tmp(shared, all);
    struct cli_result a, b, c;
    run_cli(&a, "replay", "--platform", TH_PLATFORM_8, "--json",
            "workloads/traces/halo/halo.txt", (char *)NULL);
    run_cli(&b, "replay", "--platform", TH_PLATFORM_8, "--json", files[0],
            files[1], files[2], files[3], (char *)NULL);
    run_cli(&c, "replay", "--platform", TH_PLATFORM_8, "--json", shared,
            (char *)NULL);
    TH_EXPECT_EQ(a.status, 0);
    TH_EXPECT_EQ(b.status, 0);
    TH_EXPECT_EQ(c.status, 0);
    TH_EXPECT_HAS(a.out, "\"form\":\"index\"");
    TH_EXPECT_HAS(b.out, "\"form\":\"per-rank\"");
    TH_EXPECT_HAS(c.out, "\"form\":\"shared\"");
    CU_ASSERT_EQUAL(th_json_num(a.out, "sim_time_s"),
                    th_json_num(b.out, "sim_time_s"));
    CU_ASSERT_EQUAL(th_json_num(a.out, "sim_time_s"),
                    th_json_num(c.out, "sim_time_s"));
    TH_EXPECT_EQ(th_json_num(c.out, "actions"), 220);
    unlink(shared);
    for (int i = 0; i < n; i++)
        free(text[i]);
    free(all);
    free(index);
}

/* Non-blocking requests with SimGrid's rules: a wait finds its request by
 * (source, destination, tag), a test that completes one leaves nothing
 * for a later wait, waitall takes whatever is pending, the end of the
 * trace waits for the rest; wildcards, sendRecv, probed sizes, sleep and
 * a reduction's comp_size. */
static void test_replay_requests(void)
{
    char f0[TH_PATH_LEN], f1[TH_PATH_LEN], f2[TH_PATH_LEN];
    tmp(f0, "# rank 0\n"
            "0 init\n"
            "0 irecv 1 5 100 6\n"
            "0 irecv -333 6 200\n"
            "0 isend 2 7 3000 6\n"
            "0 test 1 0 5\n"
            "0 wait 1 0 5\n"
            "0 compute 1e6\n"
            "0 waitall 2\n"
            "0 sendRecv 10 1 10 2 6 6\n"
            "0 isend 1 9 64\n"
            "0 allreduce 4 5e5 0\n"
            "0 finalize\n");
    tmp(f1, "1 init\n"
            "1 send 0 5 100 6\n"
            "1 send 0 6 200 6\n"
            "1 sendRecv 10 2 10 0 6 6\n"
            "1\trecv   0 -444 -1\n"
            "1 allreduce 4 5e5 0\n"
            "1 finalize\n");
    tmp(f2, "2 init\n"
            "2 recv 0 7 3000 6\n"
            "2 sleep 0.001\n"
            "2 sendRecv 10 0 10 1 6 6\n"
            "2 allreduce 4 5e5 0\n"
            "2 finalize\n");
    struct cli_result r;
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--max-time", MAX_TIME,
            "--json", f0, f1, f2, (char *)NULL);
    TH_EXPECT_EQ(r.status, 0);
    if (r.status)
        fprintf(stderr, "%s", r.err);
    TH_EXPECT_EQ(th_json_num(r.out, "p2p_messages"), 7);
    TH_EXPECT_EQ(th_json_num(r.out, "messages_sent"),
                 th_json_num(r.out, "messages_received"));
    /* Rank 2 slept 1 ms and computed 5e5 flops after the allreduce. */
    const char *q = strstr(rank_stats(r.out), "{\"rank\":2,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(fabs(num_after(q, "compute_s") - (1e-3 + 5e5 / 166e6)) < 1e-9);
    /* Rank 0 waited for its requests. */
    q = strstr(rank_stats(r.out), "{\"rank\":0,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(num_after(q, "wait_s") > 0);
    check_categories(r.out, 3);
    unlink(f0);
    unlink(f1);
    unlink(f2);
}

/* SimGrid's request storage, seen in rank 0's end time.  Rank 1 sends
 * at once, then after 0.5 s; rank 0 must wait for the second message
 * before computing 1e6 flops (6.02 ms), so it ends at 0.506 s, not at
 * 0.5 s (which it would if its wait found the first, completed request
 * and the second were only waited for at the end of the trace). */
static void expect_second_wait_blocks(const char *rank0, unsigned line)
{
    char f0[TH_PATH_LEN], f1[TH_PATH_LEN];
    tmp(f0, rank0);
    tmp(f1, "1 send 0 5 4\n1 sleep 0.5\n1 send 0 5 4\n");
    struct cli_result r;
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--max-time", MAX_TIME,
            "--json", f0, f1, (char *)NULL);
    th_expect_eq(r.status, 0, "status", __FILE__, line);
    const char *q = strstr(rank_stats(r.out), "{\"rank\":0,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    double end = num_after(q, "end_s"), want = 0.5 + 1e6 / 166e6;
    CU_assertImplementation(end > want - 1e-6 && end < want + 1e-3, line,
                            "rank 0 ends after its second message", __FILE__,
                            "", CU_FALSE);
    unlink(f0);
    unlink(f1);
}

static void test_replay_storage(void)
{
    /* waitall empties the storage: the wait takes the second irecv. */
    expect_second_wait_blocks("0 irecv 1 5 4\n0 waitall\n0 irecv 1 5 4\n"
                              "0 wait 1 0 5\n0 compute 1e6\n",
                              __LINE__);
    /* A test completes the first irecv (its message came during the
     * sleep) and puts back an empty request; the next test drops it; the
     * wait then takes the second irecv. */
    expect_second_wait_blocks("0 irecv 1 5 4\n0 sleep 0.1\n0 test 1 0 5\n"
                              "0 test 1 0 5\n0 irecv 1 5 4\n0 wait 1 0 5\n"
                              "0 compute 1e6\n",
                              __LINE__);
    /* With one test only, the wait takes the empty request and returns
     * at once: the second irecv is waited for at the end. */
    char f0[TH_PATH_LEN], f1[TH_PATH_LEN];
    tmp(f0, "0 irecv 1 5 4\n0 sleep 0.1\n0 test 1 0 5\n0 irecv 1 5 4\n"
            "0 wait 1 0 5\n0 compute 1e6\n");
    tmp(f1, "1 send 0 5 4\n1 sleep 0.5\n1 send 0 5 4\n");
    struct cli_result r;
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--max-time", MAX_TIME,
            "--json", f0, f1, (char *)NULL);
    TH_EXPECT_EQ(r.status, 0);
    const char *q = strstr(rank_stats(r.out), "{\"rank\":0,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(num_after(q, "end_s") < 0.5 + 1e-3);
    CU_ASSERT(num_after(q, "wait_s") > 0.39);
    unlink(f0);
    unlink(f1);
}

/* One bad line in rank 1's file (rank 0's is fine): exit 2 naming it,
 * nothing simulated. */
static void expect_bad_trace(const char *rank1, const char *want1,
                             const char *want2, unsigned line)
{
    char f0[TH_PATH_LEN], f1[TH_PATH_LEN];
    tmp(f0, "0 init\n0 barrier\n0 finalize\n");
    tmp(f1, rank1);
    struct cli_result r;
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, f0, f1, (char *)NULL);
    char where[TH_PATH_LEN + 16];
    snprintf(where, sizeof where, "%s:", f1);
    cli_expect_bad(&r, "vmmcsim: error: replay: ", __FILE__, line, where, want1,
                   want2, (char *)NULL);
    unlink(f0);
    unlink(f1);
}
#define EXPECT_BAD_TRACE(text, w1, w2) expect_bad_trace(text, w1, w2, __LINE__)

static void test_replay_bad_input(void)
{
    EXPECT_BAD_TRACE("1 init\n1 frobnicate 0 1\n",
                     ":2: ", "unknown action 'frobnicate'");
    EXPECT_BAD_TRACE("1 init\n1 barrier\n1 send 0 3 abc\n",
                     ":3: send: ", "field 5 (size) is 'abc': not a number");
    EXPECT_BAD_TRACE("1 send 0 3\n", ":1: send: ", "2 field(s)");
    EXPECT_BAD_TRACE("1 barrier\n1 send 5 3 4\n",
                     ":2: send: ", "field 3 (destination) is '5': not a rank");
    EXPECT_BAD_TRACE("1 barrier\n1 send 0 2147483000 4\n",
                     ":2: send: ", "field 4 (tag)");
    EXPECT_BAD_TRACE("1 barrier\n1 send 0 1 4 77\n",
                     ":2: send: ", "field 6 (datatype) is '77'");
    EXPECT_BAD_TRACE("1 barrier\n1 compute -5\n",
                     ":2: compute: ", "(flops) is '-5': negative");
    EXPECT_BAD_TRACE("1 barrier\n1 wait 0 1 3\n",
                     ":2: wait: ", "no isend or irecv is pending");
    EXPECT_BAD_TRACE("1 barrier\n0 compute 1\n",
                     ":2: ", "this file holds rank 1's actions");
    EXPECT_BAD_TRACE("1 barrier\nx compute 1\n",
                     ":2: ", "field 1 (rank) is 'x'");
    EXPECT_BAD_TRACE("1 barrier\n1 barrier 3\n",
                     ":2: barrier: ", "at most 0 expected");
    /* Collectives: another order, another root, another size. */
    EXPECT_BAD_TRACE("1 bcast 4\n",
                     ":1: rank 1's collective call 1 is "
                     "bcast",
                     "different orders");
    struct cli_result r;
    char g0[TH_PATH_LEN], g1[TH_PATH_LEN];
    tmp(g0, "0 reduce 4 0 1\n0 bcast 8\n");
    tmp(g1, "1 reduce 4 0 0\n1 bcast 8\n");
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, g0, g1, (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: replay: ", "has root 0", "root 1",
                   (char *)NULL);
    unlink(g1);
    tmp(g1, "1 reduce 4 0 1\n1 bcast 4\n");
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, g0, g1, (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: replay: ",
                   ":2: rank 1's bcast "
                   "moves 4 bytes",
                   "disagree", (char *)NULL);
    unlink(g0);
    unlink(g1);
    /* A missing file, an empty one, too few hosts, too many ranks. */
    run_cli(&r, "replay", "/nonexistent/trace.txt", (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: replay: ",
                   "/nonexistent/trace.txt: No such file", (char *)NULL);
    tmp(g0, "\n# nothing\n");
    run_cli(&r, "replay", g0, (char *)NULL);
    CLI_EXPECT_BAD(&r,
                   "vmmcsim: error: replay: ", "neither a trace nor an index",
                   (char *)NULL);
    unlink(g0);
    run_cli(&r, "replay", "--platform", TH_PLATFORM_2,
            "workloads/traces/colls/colls.txt", (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: replay: ", "has 2 host(s)", "8 nodes",
                   (char *)NULL);
    tmp(g0, "40 init\n");
    run_cli(&r, "replay", g0, (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: replay: ", "41 ranks", "at most 32",
                   (char *)NULL);
    unlink(g0);
    run_cli(&r, "replay", "--json", (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: replay: ", "no trace given",
                   (char *)NULL);
    run_cli(&r, "replay", "--seed", "-1", "x", (char *)NULL);
    CLI_EXPECT_BAD(&r, "vmmcsim: error: replay: ", "option --seed",
                   (char *)NULL);
}

/* Sends and receives that do not match: an error naming the rank and the
 * line it is stuck on (exit 1) within the guard, not a hang. */
static void test_replay_mismatch(void)
{
    char f0[TH_PATH_LEN], f1[TH_PATH_LEN];
    struct cli_result r;
    /* A receive nobody sends to. */
    tmp(f0, "0 init\n0 send 1 3 4\n0 finalize\n");
    tmp(f1, "1 init\n1 recv 0 3 4\n1 recv 0 4 4\n1 finalize\n");
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--max-time", MAX_TIME,
            f0, f1, (char *)NULL);
    TH_EXPECT_EQ(r.status, 1);
    TH_EXPECT_HAS(r.err, "deadlock");
    char want[TH_PATH_LEN + 160];
    snprintf(want, sizeof want,
             "rank 1 at %s:3 (recv from 0, tag 4, 4 "
             "bytes)",
             f1);
    TH_EXPECT_HAS(r.err, want);
    TH_EXPECT_HAS(r.err, "rank 0 (its trace done");
    TH_EXPECT_EQ(strlen(r.out), 0);
    unlink(f1);
    /* A message nobody receives (eager: the send completes). */
    tmp(f1, "1 init\n1 finalize\n");
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--max-time", MAX_TIME,
            f0, f1, (char *)NULL);
    TH_EXPECT_EQ(r.status, 1);
    snprintf(want, sizeof want,
             "%s:2: rank 0's send to rank 1 with tag 3 "
             "has no matching receive",
             f0);
    TH_EXPECT_HAS(r.err, "1 never received");
    TH_EXPECT_HAS(r.err, want);
    unlink(f1);
    /* A receive shorter than the message. */
    tmp(f1, "1 init\n1 recv 0 3 2\n1 finalize\n");
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--max-time", MAX_TIME,
            f0, f1, (char *)NULL);
    TH_EXPECT_EQ(r.status, 1);
    snprintf(want, sizeof want,
             "rank 1 failed: %s:2: recv from 0, tag 3, "
             "2 bytes: a message from rank 0 is longer",
             f1);
    TH_EXPECT_HAS(r.err, want);
    unlink(f0);
    unlink(f1);
    /* Two ranks each waiting for the other's large (rendezvous) send. */
    tmp(f0, "0 send 1 1 100000\n0 recv 1 2 100000\n");
    tmp(f1, "1 send 0 2 100000\n1 recv 0 1 100000\n");
    run_cli(&r, "replay", "--platform", TH_PLATFORM_8, "--max-time", MAX_TIME,
            f0, f1, (char *)NULL);
    TH_EXPECT_EQ(r.status, 1);
    snprintf(want, sizeof want, "rank 0 at %s:1 (send to 1, tag 1", f0);
    TH_EXPECT_HAS(r.err, want);
    snprintf(want, sizeof want, "rank 1 at %s:1 (send to 0, tag 2", f1);
    TH_EXPECT_HAS(r.err, want);
    unlink(f0);
    unlink(f1);
}

void register_replay_tests(void)
{
    CU_pSuite s = th_suite("replay");
    th_add(s, "recorded traces: all delivered, deterministic",
           test_replay_recorded);
    th_add(s, "computation takes flops / host speed", test_replay_compute_time);
    th_add(s, "index, per-rank and shared forms agree", test_replay_forms);
    th_add(s, "requests, wildcards, sendRecv, sleep, comp_size",
           test_replay_requests);
    th_add(s, "SimGrid's request storage: waitall, test, wait",
           test_replay_storage);
    th_add(s, "bad traces: file, line and field, exit 2",
           test_replay_bad_input);
    th_add(s, "mismatched traces: rank and line, exit 1, no hang",
           test_replay_mismatch);
}
