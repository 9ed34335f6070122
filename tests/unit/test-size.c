/* Unit tests for drbdd/model/size.c: unit parsing, bounds, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "utf8.h"
#include "drbdd/model/size.h"

static void assert_parse(const char *s, uint64_t expected) {
        _cleanup_free_ char *msg = NULL;
        uint64_t kib = 0;
        int r = size_parse_kib(s, &kib, &msg);
        if (r != 0)
                fail_msg("'%s' failed: %s", s, msg);
        if (kib != expected)
                fail_msg("'%s' parsed as %llu KiB, expected %llu", s, (unsigned long long) kib,
                         (unsigned long long) expected);
}

static void assert_parse_fails(const char *s, int error, const char *substring) {
        _cleanup_free_ char *msg = NULL;
        uint64_t kib = 12345;

        assert_int_equal(size_parse_kib(s, &kib, &msg), error);
        assert_int_equal(kib, 12345); /* untouched on failure */
        assert_non_null(msg);
        if (substring && !strstr(msg, substring))
                fail_msg("message for '%s' is '%s', expected to contain '%s'", s ?: "(null)", msg, substring);
        /* One line of UTF-8 that sd-bus sends: escaping changes nothing. */
        {
                _cleanup_free_ char *e = utf8_escape(msg, SIZE_MAX);
                assert_string_equal(e, msg);
        }
        assert_int_equal(size_parse_kib(s, &kib, NULL), error);
}

static void test_parse_units(void **state) {
        assert_parse("4096K", 4096);
        assert_parse("4096KiB", 4096);
        assert_parse("4096kb", 4096);
        assert_parse("512M", 512 * 1024);
        assert_parse("512MiB", 512 * 1024);
        assert_parse("512mib", 512 * 1024);
        assert_parse("10G", 10ULL << 20);
        assert_parse("10g", 10ULL << 20);
        assert_parse("10GiB", 10ULL << 20);
        assert_parse("10GB", 10ULL << 20); /* binary, like LVM */
        assert_parse("10 GiB", 10ULL << 20);
        assert_parse("1T", 1ULL << 30);
        assert_parse("1P", 1ULL << 40);
        assert_parse("1E", 1ULL << 50);
        assert_parse("0G", 0);
        assert_parse("007M", 7 * 1024);
}

static void test_parse_fraction(void **state) {
        assert_parse("1.5G", 1572864);
        assert_parse("1.50 GiB", 1572864);
        assert_parse("0.5M", 512);
        assert_parse("1.5K", 2);      /* rounded up */
        assert_parse("0.001K", 1);    /* rounded up */
        assert_parse("0.1M", 103);    /* 102.4 -> 103 */
        assert_parse("2.000000T", 2ULL << 30);
        assert_parse_fails("1.0000001G", -EINVAL, "decimal places");
        assert_parse_fails("1.G", -EINVAL, "digits expected after '.'");
        assert_parse_fails(".5G", -EINVAL, "expected a number");
        assert_parse_fails("1,5G", -EINVAL, "unknown unit");
}

static void test_parse_hostile(void **state) {
        size_t n = 1024 * 1024;
        _cleanup_free_ char *big = malloc(n + 1);

        assert_parse_fails("10", -EINVAL, "a unit is required");
        assert_parse_fails("-1G", -EINVAL, "no sign");
        assert_parse_fails("+1G", -EINVAL, "no sign");
        assert_parse_fails("99999999999999999999G", -ERANGE, "too large");
        assert_parse_fails("18446744073709551615G", -ERANGE, "too large");
        assert_parse_fails("16384E", -ERANGE, "too large");
        assert_parse_fails("1e9G", -EINVAL, "unknown unit");
        assert_parse_fails("", -EINVAL, "empty");
        assert_parse_fails(NULL, -EINVAL, "missing");
        assert_parse_fails("G", -EINVAL, "expected a number");
        assert_parse_fails(" 1G", -EINVAL, NULL);
        assert_parse_fails("1G ", -EINVAL, "unknown unit");
        assert_parse_fails("1  G", -EINVAL, "unknown unit");
        assert_parse_fails("1X", -EINVAL, "unknown unit");
        assert_parse_fails("1B", -EINVAL, "unknown unit");
        assert_parse_fails("1GiBB", -EINVAL, "unknown unit");
        assert_parse_fails("1Gi", -EINVAL, "unknown unit");
        assert_parse_fails("1G;rm", -EINVAL, "unknown unit");
        assert_parse_fails("1G\n", -EINVAL, "'1G\\x0a'");
        assert_parse_fails("0x10G", -EINVAL, "unknown unit");
        assert_parse_fails("1\xc3\xa9", -EINVAL, "unknown unit");

        assert_non_null(big);
        memset(big, '9', n);
        big[n] = '\0';
        assert_parse_fails(big, -EINVAL, "too long");
}

static void test_bounds(void **state) {
        _cleanup_free_ char *m1 = NULL, *m2 = NULL;

        assert_int_equal(size_check_bounds(SIZE_MIN_KIB, NULL), 0);
        assert_int_equal(size_check_bounds(SIZE_MAX_KIB, NULL), 0);
        assert_int_equal(size_check_bounds(10ULL << 20, NULL), 0);
        assert_int_equal(size_check_bounds(SIZE_MIN_KIB - 1, &m1), -ERANGE);
        assert_string_equal(m1, "size 4095 KiB is below the minimum of 4 MiB");
        assert_int_equal(size_check_bounds(SIZE_MAX_KIB + 1, &m2), -ERANGE);
        assert_string_equal(m2, "size 1099511627777 KiB exceeds the maximum of 1 PiB");
        assert_int_equal(size_check_bounds(0, NULL), -ERANGE);
        assert_int_equal(size_check_bounds(UINT64_MAX, NULL), -ERANGE);
}

static void test_format(void **state) {
        char buf[32];

        assert_string_equal(size_format_kib(0, buf, sizeof buf), "0 KiB");
        assert_string_equal(size_format_kib(4, buf, sizeof buf), "4 KiB");
        assert_string_equal(size_format_kib(1023, buf, sizeof buf), "1023 KiB");
        assert_string_equal(size_format_kib(1024, buf, sizeof buf), "1 MiB");
        assert_string_equal(size_format_kib(512 * 1024, buf, sizeof buf), "512 MiB");
        assert_string_equal(size_format_kib(10ULL << 20, buf, sizeof buf), "10 GiB");
        assert_string_equal(size_format_kib(1572864, buf, sizeof buf), "1.50 GiB");
        assert_string_equal(size_format_kib(1ULL << 40, buf, sizeof buf), "1 PiB");
        assert_string_equal(size_format_kib(UINT64_MAX, buf, sizeof buf), "18446744073709551615 KiB");
        assert_string_equal(size_format_kib(UINT64_MAX - 1023, buf, sizeof buf), "18014398509481983 MiB");
        assert_string_equal(size_format_kib((1ULL << 20) + 1, buf, sizeof buf), "1048577 KiB");
        assert_string_equal(size_format_kib((1ULL << 20) + 10 * 1024, buf, sizeof buf), "1.01 GiB");
        assert_string_equal(size_format_kib(1536, buf, sizeof buf), "1.50 MiB");
        assert_string_equal(size_format_kib(104857600 + 22436, buf, sizeof buf), "100.02 GiB");
        /* Truncation is safe. */
        assert_string_equal(size_format_kib(10ULL << 20, buf, 4), "10 ");
}

static void test_round_trip(void **state) {
        /* Exact formats parse back to the same size. */
        uint64_t sizes[] = { 4, 1024, 4096, 512 * 1024, 10ULL << 20, 3ULL << 30, 1ULL << 40 };
        char buf[32];

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                uint64_t kib;
                assert_int_equal(size_parse_kib(size_format_kib(sizes[i], buf, sizeof buf), &kib, NULL), 0);
                assert_int_equal(kib, sizes[i]);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_units),
                cmocka_unit_test(test_parse_fraction),
                cmocka_unit_test(test_parse_hostile),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
