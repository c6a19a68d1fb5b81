/* Unit tests of core: arena, UTF-8, strict numbers, diagnostics. */
#include <string.h>

#include "core/core.h"
#include "test.h"

static void test_arena(void)
{
    struct core_arena *a = core_arena_create(64);
    char *p = core_arena_alloc(a, 10);
    CHECK(p != NULL);
    CHECK(((uintptr_t)p & 15u) == 0);
    char *q = core_arena_alloc(a, 1000); /* larger than a chunk */
    CHECK(q != NULL && q != p);
    CHECK(core_arena_used_B(a) >= 1010);
    core_arena_reset(a);
    CHECK(core_arena_used_B(a) == 0);
    CHECK(core_arena_alloc(a, 8) != NULL);
    core_arena_destroy(a);
    core_arena_destroy(NULL);
}

static void test_utf8(void)
{
    const unsigned char ok[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    CHECK(core_utf8_check(ok, sizeof ok - 1) == sizeof ok - 1);
    const unsigned char overlong[] = "a\xc0\xaf";
    CHECK(core_utf8_check(overlong, 3) == 1);
    const unsigned char surrogate[] = "\xed\xa0\x80";
    CHECK(core_utf8_check(surrogate, 3) == 0);
    const unsigned char truncated[] = "ab\xe2\x82";
    CHECK(core_utf8_check(truncated, 4) == 2);
    const unsigned char big[] = "\xf4\x90\x80\x80";
    CHECK(core_utf8_check(big, 4) == 0);
}

static void test_numbers(void)
{
    double v;
    int64_t i;
    CHECK(core_parse_double("15.6e12", &v) == 0 && v == 15.6e12);
    CHECK(core_parse_double("4096x", &v) != 0);
    CHECK(core_parse_double("inf", &v) != 0);
    CHECK(core_parse_double("nan", &v) != 0);
    CHECK(core_parse_double("1e999", &v) != 0);
    CHECK(core_parse_double(" 1", &v) != 0);
    CHECK(core_parse_double("0x10", &v) != 0);
    CHECK(core_parse_i64("-12", &i) == 0 && i == -12);
    CHECK(core_parse_i64("12.0", &i) != 0);
    CHECK(core_parse_i64("99999999999999999999", &i) != 0);
}

static void test_diag(void)
{
    struct us_diag d;
    char line[1024];
    CHECK(core_diag_set(&d, "job.yaml", 4, 7, "parallel.tp", "%d does not divide heads (%d)", 96,
                        128) == US_EINPUT);
    us_diag_format(&d, line, sizeof line);
    CHECK_STR(line, "job.yaml:4:7: parallel.tp: 96 does not divide heads (128)");
    core_diag_set(&d, NULL, 0, 0, NULL, "plain");
    us_diag_format(&d, line, sizeof line);
    CHECK_STR(line, "plain");
}

static void test_buf(void)
{
    struct core_buf b;
    core_buf_init(&b);
    for (int k = 0; k < 1000; k++)
        core_buf_printf(&b, "%d,", k);
    CHECK(b.len > 2000 && b.data[b.len] == '\0');
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    core_buf_fini(&b);
}

int main(void)
{
    test_arena();
    test_utf8();
    test_numbers();
    test_diag();
    test_buf();
    return test_summary("core");
}
