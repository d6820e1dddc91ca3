/*
 * The NIC/host profile loader (nicmodel/profile.c over util/ini.c): the
 * shipped configs/myrinet.ini loads and its units convert (ns -> ps, MB/s ->
 * bytes/ps, MHz -> cycle), and every kind of bad profile -- unknown,
 * missing, duplicate, out-of-range, non-numeric or non-integer key, a key
 * outside any section, a malformed header, a page size that is not a power
 * of two, a missing file -- fails with VS_ECONFIG and a message naming the
 * file, the line and the field.  Bad profiles are myrinet.ini with one line
 * changed, written to a temporary file, so the expected line is known.
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nicmodel/profile.h"
#include "tests/harness.h"
#include "tests/suites.h"
#include "util/err.h"

/* ---- Helpers ---- */

/* Records a failure unless hay starts with prefix. */
static void expect_prefix(const char *hay, const char *prefix, unsigned line)
{
    char msg[1536];
    snprintf(msg, sizeof msg, "expected \"%s\" to start with \"%s\"", hay,
             prefix);
    CU_assertImplementation(strncmp(hay, prefix, strlen(prefix)) == 0, line,
                            msg, __FILE__, "", CU_FALSE);
}
#define EXPECT_PREFIX(hay, prefix) expect_prefix((hay), (prefix), __LINE__)

/* Records a failure, showing err, unless rc is VS_OK. */
static void expect_ok(int rc, const char *err, unsigned line)
{
    char msg[1536];
    snprintf(msg, sizeof msg, "expected VS_OK, got %d: \"%s\"", rc, err);
    CU_assertImplementation(rc == VS_OK, line, msg, __FILE__, "", CU_FALSE);
}
#define EXPECT_OK(rc, err) expect_ok((rc), (err), __LINE__)

/* The shipped profile's text (malloc'd). */
static char *shipped(void) { return th_read_file(TH_PROFILE); }

/* The shipped profile with the first line starting with `start` replaced
 * by repl (malloc'd). */
static char *edited(const char *start, const char *repl)
{
    char *t = shipped();
    int line = th_find_line(t, start, 1);
    CU_ASSERT_FATAL(line > 0);
    char *out = th_edit_line(t, line, repl);
    free(t);
    return out;
}

/* Writes text to a new temporary file, loads it as a profile and removes
 * the file.  path receives the file's name (for the expected messages). */
static int load_text(const char *text, char path[static TH_PATH_LEN],
                     struct nicm_profile *p, char *err, size_t errlen)
{
    th_write_tmp(path, "profile", text);
    err[0] = 0;
    int rc = nicm_profile_load(p, path, err, errlen);
    unlink(path);
    return rc;
}

/* Loads `text`, which must fail: checks VS_ECONFIG, that the message starts
 * with "PATH:LINE: " + what (or "PATH: " + what for line 0) and contains
 * also. */
static void expect_bad(const char *text, int line, const char *what,
                       const char *also, unsigned at)
{
    struct nicm_profile p;
    char path[TH_PATH_LEN], err[1024], want[256];
    int rc = load_text(text, path, &p, err, sizeof err);
    char msg[1200];
    snprintf(msg, sizeof msg, "load returned %d, expected VS_ECONFIG (%d); "
                              "err \"%s\"",
             rc, VS_ECONFIG, err);
    CU_assertImplementation(rc == VS_ECONFIG, at, msg, __FILE__, "",
                            CU_FALSE);
    if (line > 0)
        snprintf(want, sizeof want, "%s:%d: %s", path, line, what);
    else
        snprintf(want, sizeof want, "%s: %s", path, what);
    expect_prefix(err, want, at);
    if (also)
        th_expect_has(err, also, 1, __FILE__, at);
    CU_assertImplementation(strchr(err, '\n') == NULL, at,
                            "the error is one line", __FILE__, "", CU_FALSE);
}
#define EXPECT_BAD(text, line, what, also)                                  \
    expect_bad((text), (line), (what), (also), __LINE__)

/* Replaces the line starting with `start` by repl, then expects the load to
 * fail on the line of the replacement, found by scanning the new text for
 * repl_start (the replacement's own beginning). */
static void bad_edit(const char *start, const char *repl,
                     const char *repl_start, const char *what,
                     const char *also, unsigned at)
{
    char *t = edited(start, repl);
    int line = th_find_line(t, repl_start, 1);
    CU_ASSERT_FATAL(line > 0);
    expect_bad(t, line, what, also, at);
    free(t);
}

/* The line "key = ..." becomes "key = value"; the load must fail on that
 * line with a message starting with what. */
static void bad_value(const char *key, const char *value, const char *what,
                      unsigned at)
{
    char repl[128];
    snprintf(repl, sizeof repl, "%s = %s", key, value);
    bad_edit(key, repl, key, what, NULL, at);
}
#define BAD_VALUE(key, value, what) bad_value((key), (value), (what), __LINE__)

/* ---- The shipped profile ---- */

static void test_shipped_loads(void)
{
    struct nicm_profile p;
    char err[512] = "";
    int rc = nicm_profile_load(&p, TH_PROFILE, err, sizeof err);
    EXPECT_OK(rc, err);
    CU_ASSERT_FATAL(rc == VS_OK);
    CU_ASSERT_STRING_EQUAL(err, "");
    /* MB/s -> bytes per picosecond */
    CU_ASSERT_DOUBLE_EQUAL(p.dma_bytes_per_ps, 110e6 / 1e12, 1e-15);
    /* 33 MHz -> 30303 ps per cycle (rounded) */
    CU_ASSERT_DOUBLE_EQUAL(p.nic_clock_mhz, 33.0, 1e-12);
    CU_ASSERT_EQUAL(p.cycle, 30303);
    /* ns -> ps */
    CU_ASSERT_EQUAL(p.pio_write_word, 120000);
    CU_ASSERT_EQUAL(p.pio_read_word, 450000);
    CU_ASSERT_EQUAL(p.dma_setup, 500000);
    CU_ASSERT_EQUAL(p.net_dma_setup, 120000);
    CU_ASSERT_EQUAL(p.switch_delay, 300000);
    CU_ASSERT_EQUAL(p.host_cost[HW_HOST_CALL], 150000);
    CU_ASSERT_EQUAL(p.host_cost[HW_HOST_SYSCALL], 5000000);
    CU_ASSERT_EQUAL(p.host_cost[HW_HOST_INTERRUPT], 15000000);
    CU_ASSERT_EQUAL(p.host_cost[HW_HOST_POLL], 200000);
    /* integers and cycle counts as written */
    CU_ASSERT_EQUAL(p.page_size, 4096);
    CU_ASSERT_EQUAL(p.sram_bytes, 1048576);
    CU_ASSERT_EQUAL(p.recv_buffers, 16);
    CU_ASSERT_EQUAL(p.send_buffers, 16);
    CU_ASSERT_EQUAL(p.max_packet, 4160);
    CU_ASSERT_EQUAL(p.wire_overhead_bytes, 8);
    CU_ASSERT_EQUAL(p.fw_cycles[HW_FW_CMD], 67);
    CU_ASSERT_EQUAL(p.fw_cycles[HW_FW_RECV_PKT], 55);
    CU_ASSERT_EQUAL(p.fw_cycles[HW_FW_CTRL], 30);
    CU_ASSERT_DOUBLE_EQUAL(p.host_cpu_mhz, 166.0, 1e-12);
    /* [reference] */
    CU_ASSERT_DOUBLE_EQUAL(p.ref_latency_us, 9.8, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.ref_bandwidth_MBps, 108.4, 1e-12);
    CU_ASSERT_STRING_EQUAL(p.ref_platform, "myrinet-2.xml");
}

/* Loads the shipped profile with one line replaced; expects success. */
static void load_edited(const char *start, const char *repl,
                        struct nicm_profile *p, unsigned at)
{
    char path[TH_PATH_LEN], err[512];
    char *t = edited(start, repl);
    int rc = load_text(t, path, p, err, sizeof err);
    free(t);
    expect_ok(rc, err, at);
    CU_ASSERT_FATAL(rc == VS_OK);
}

/* Other values convert the same way (not just the shipped ones), rounding
 * to the nearest picosecond. */
static void test_conversions(void)
{
    struct nicm_profile p;
    load_edited("clock_mhz", "clock_mhz = 40", &p, __LINE__);
    CU_ASSERT_EQUAL(p.cycle, 25000);
    load_edited("clock_mhz", "clock_mhz = 66", &p, __LINE__);
    CU_ASSERT_EQUAL(p.cycle, 15152); /* 15151.5 rounds up */
    load_edited("pio_write_ns", "pio_write_ns = 120.4", &p, __LINE__);
    CU_ASSERT_EQUAL(p.pio_write_word, 120400);
    load_edited("pio_read_ns", "pio_read_ns = 450.0007", &p, __LINE__);
    CU_ASSERT_EQUAL(p.pio_read_word, 450001); /* 450000.7 ps rounds up */
    load_edited("dma_MBps", "dma_MBps = 1e3", &p, __LINE__);
    CU_ASSERT_DOUBLE_EQUAL(p.dma_bytes_per_ps, 1e-3, 1e-15);
    load_edited("sram_bytes", "sram_bytes = 4294967296", &p, __LINE__);
    CU_ASSERT_EQUAL(p.sram_bytes, 4294967296ULL); /* needs 64 bits */
}

/* [reference] keys are optional: without them the figures are 0. */
static void test_reference_optional(void)
{
    struct nicm_profile p;
    char path[TH_PATH_LEN], err[512] = "";
    char *t = edited("latency_us", "");
    char *t2 =
        th_edit_line(t, th_find_line(t, "bandwidth_MBps", 1), "# gone");
    char *t3 = th_edit_line(t2, th_find_line(t2, "platform", 1), "# gone");
    EXPECT_OK(load_text(t3, path, &p, err, sizeof err), err);
    CU_ASSERT_DOUBLE_EQUAL(p.ref_latency_us, 0.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(p.ref_bandwidth_MBps, 0.0, 0.0);
    CU_ASSERT_STRING_EQUAL(p.ref_platform, "");
    free(t);
    free(t2);
    free(t3);
}

/* [reference] platform is a file name (the figures are compared only on
 * the platform of that name): a path, an empty value or one too long for
 * it are refused on their line. */
static void test_reference_platform_name(void)
{
    BAD_VALUE("platform", "configs/myrinet-2.xml",
              "[reference] platform: 'configs/myrinet-2.xml' is not a file "
              "name");
    bad_edit("platform", "platform =", "platform",
             "[reference] platform: '' is not a file name", NULL, __LINE__);
    char name[NICM_REF_PLATFORM_MAX + 1], what[160];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(what, sizeof what, "[reference] platform: '%s' is not a file "
                                "name", name);
    BAD_VALUE("platform", name, what);
    /* the longest that fits */
    name[NICM_REF_PLATFORM_MAX - 1] = 0;
    struct nicm_profile p;
    char line[128];
    snprintf(line, sizeof line, "platform = %s", name);
    load_edited("platform", line, &p, __LINE__);
    CU_ASSERT_STRING_EQUAL(p.ref_platform, name);
}

/* The upper bound of a range is allowed, one past it is not. */
static void test_range_bounds(void)
{
    struct nicm_profile p;
    char path[TH_PATH_LEN], err[512] = "";
    char *t = edited("recv_buffers", "recv_buffers = 65536");
    EXPECT_OK(load_text(t, path, &p, err, sizeof err), err);
    CU_ASSERT_EQUAL(p.recv_buffers, 65536);
    free(t);
    BAD_VALUE("recv_buffers", "65537",
              "[nic] recv_buffers: 65537 is out of range");
}

/* ---- Bad profiles ---- */

static void test_unknown_key(void)
{
    bad_edit("cpu_mhz", "cpu_mhx = 166", "cpu_mhx",
             "[host] cpu_mhx: unknown key", NULL, __LINE__);
}

static void test_unknown_section(void)
{
    /* The first key of a misspelt section is unknown there. */
    bad_edit("[fabric]", "[fabrik]", "switch_delay_ns",
             "[fabrik] switch_delay_ns: unknown key", NULL, __LINE__);
}

static void test_missing_key(void)
{
    char *t = edited("switch_delay_ns", "");
    EXPECT_BAD(t, 0, "[fabric] switch_delay_ns: missing", NULL);
    free(t);
    t = edited("ctrl_cycles", "# ctrl_cycles = 30");
    EXPECT_BAD(t, 0, "[firmware] ctrl_cycles: missing", NULL);
    free(t);
}

static void test_out_of_range(void)
{
    BAD_VALUE("recv_buffers", "0", "[nic] recv_buffers: 0 is out of range");
    BAD_VALUE("dma_setup_ns", "-5", "[pci] dma_setup_ns: -5 is out of range");
    BAD_VALUE("page_size", "256", "[host] page_size: 256 is out of range");
}

static void test_not_a_number(void)
{
    BAD_VALUE("dma_MBps", "fast", "[pci] dma_MBps: 'fast' is not a number");
    BAD_VALUE("clock_mhz", "33MHz", "[nic] clock_mhz: '33MHz' is not a number");
    bad_edit("clock_mhz", "clock_mhz =", "clock_mhz",
             "[nic] clock_mhz: '' is not a number", NULL, __LINE__);
    BAD_VALUE("clock_mhz", "inf", "[nic] clock_mhz: 'inf' is not a number");
    BAD_VALUE("clock_mhz", "nan", "[nic] clock_mhz: 'nan' is not a number");
}

static void test_duplicate_key(void)
{
    char *t = edited("pio_read_ns", "pio_write_ns = 450");
    int first = th_find_line(t, "pio_write_ns", 1);
    int second = th_find_line(t, "pio_write_ns", 2);
    CU_ASSERT_FATAL(first > 0 && second > first);
    char also[64];
    snprintf(also, sizeof also, "(first on line %d)", first);
    EXPECT_BAD(t, second, "[pci] pio_write_ns: given twice", also);
    free(t);
}

static void test_not_integer(void)
{
    BAD_VALUE("send_buffers", "2.5",
              "[nic] send_buffers: '2.5' must be an integer");
    BAD_VALUE("sram_bytes", "1048576.5",
              "[nic] sram_bytes: '1048576.5' must be an integer");
}

static void test_key_outside_section(void)
{
    char *t = shipped();
    char *t2 = th_edit_line(t, 1, "cpu_mhz = 166");
    CU_ASSERT_EQUAL(th_find_line(t2, "cpu_mhz", 1), 1);
    EXPECT_BAD(t2, 1, "key 'cpu_mhz' outside any [section]", NULL);
    free(t);
    free(t2);
}

static void test_malformed_section(void)
{
    bad_edit("[pci]", "[pci", "[pci", "malformed section header '[pci'",
             NULL, __LINE__);
    bad_edit("[pci]", "[pci] x", "[pci]",
             "malformed section header '[pci] x'", NULL, __LINE__);
    bad_edit("[pci]", "[]", "[]", "malformed section header '[]'", NULL,
             __LINE__);
    bad_edit("[pci]", "[ ]", "[ ]", "malformed section header '[ ]'", NULL,
             __LINE__);
}

static void test_not_key_value(void)
{
    bad_edit("max_packet", "max_packet 4144", "max_packet",
             "expected 'key = value', got 'max_packet 4144'", NULL,
             __LINE__);
}

static void test_page_size_power_of_two(void)
{
    BAD_VALUE("page_size", "3000",
              "[host] page_size: 3000 is not a power of two");
}

static void test_missing_file(void)
{
    struct nicm_profile p;
    char err[512] = "";
    const char *path = "/nonexistent-vmmcsim-dir/profile.ini";
    CU_ASSERT_EQUAL(nicm_profile_load(&p, path, err, sizeof err), VS_ECONFIG);
    EXPECT_PREFIX(err, "/nonexistent-vmmcsim-dir/profile.ini: cannot open");
    TH_EXPECT_HAS(err, "No such file");
}

void register_profile_tests(void)
{
    CU_pSuite s = th_suite("profile");
    th_add(s, "shipped myrinet.ini loads and converts units",
           test_shipped_loads);
    th_add(s, "other values convert too", test_conversions);
    th_add(s, "[reference] keys are optional", test_reference_optional);
    th_add(s, "[reference] platform is a file name",
           test_reference_platform_name);
    th_add(s, "range bounds are inclusive", test_range_bounds);
    th_add(s, "unknown key", test_unknown_key);
    th_add(s, "unknown section", test_unknown_section);
    th_add(s, "missing key", test_missing_key);
    th_add(s, "out-of-range value", test_out_of_range);
    th_add(s, "not a number", test_not_a_number);
    th_add(s, "duplicate key", test_duplicate_key);
    th_add(s, "non-integer for an integer key", test_not_integer);
    th_add(s, "key outside any section", test_key_outside_section);
    th_add(s, "malformed section header", test_malformed_section);
    th_add(s, "line without '='", test_not_key_value);
    th_add(s, "page_size not a power of two", test_page_size_power_of_two);
    th_add(s, "missing file", test_missing_file);
}
