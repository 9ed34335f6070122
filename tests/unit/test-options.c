/* Unit tests for drbdd/model/options.c: whitelist, typed values, dialects, string tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "utf8.h"
#include "drbdd/model/options.h"

static void assert_ok(const char *name, const char *value) {
        _cleanup_free_ char *msg = NULL;
        if (drbd_option_validate(name, value, &msg) != 0)
                fail_msg("%s=%s rejected: %s", name, value, msg);
        assert_null(msg);
}

static void assert_bad(const char *name, const char *value, const char *expected_msg) {
        _cleanup_free_ char *msg = NULL;

        if (drbd_option_validate(name, value, &msg) != -EINVAL)
                fail_msg("%s=%s accepted", name ?: "(null)", value ?: "(null)");
        assert_non_null(msg);
        /* One line of UTF-8 that sd-bus sends: escaping changes nothing. */
        {
                _cleanup_free_ char *e = utf8_escape(msg, SIZE_MAX);
                assert_string_equal(e, msg);
        }
        if (expected_msg && !strstr(msg, expected_msg))
                fail_msg("message '%s' lacks '%s'", msg, expected_msg);
        assert_int_equal(drbd_option_validate(name, value, NULL), -EINVAL);
}

static void test_string_tables(void **state) {
        for (int d = 0; d < _DRBD_DIALECT_MAX; d++) {
                assert_non_null(drbd_dialect_to_string((DrbdDialect) d));
                assert_int_equal(drbd_dialect_from_string(drbd_dialect_to_string((DrbdDialect) d)), d);
        }
        for (int s = 0; s < _OPTION_SECTION_MAX; s++) {
                assert_non_null(option_section_to_string((OptionSection) s));
                assert_int_equal(option_section_from_string(option_section_to_string((OptionSection) s)), s);
        }
        assert_string_equal(drbd_dialect_to_string(DRBD_DIALECT_84), "8.4");
        assert_string_equal(drbd_dialect_to_string(DRBD_DIALECT_9), "9");
        assert_string_equal(option_section_to_string(OPTION_SECTION_OPTIONS), "options");
        assert_null(drbd_dialect_to_string(_DRBD_DIALECT_MAX));
        assert_null(option_section_to_string(_OPTION_SECTION_MAX));
        assert_int_equal(drbd_dialect_from_string("9.0"), -EINVAL);
        assert_int_equal(drbd_dialect_from_string(NULL), -EINVAL);
        assert_int_equal(option_section_from_string("handlers"), -EINVAL);
        assert_int_equal(option_section_from_string(NULL), -EINVAL);
}

static void test_whitelist_consistent(void **state) {
        const char *name;
        unsigned n = 0;

        for (unsigned i = 0; (name = drbd_option_name(i)); i++, n++) {
                OptionSection sec;
                const char *key;

                /* Each name splits, is unique, indexes to itself, and is supported somewhere. */
                assert_int_equal(drbd_option_split(name, &sec, &key), 0);
                assert_true(strlen(key) > 0);
                assert_int_equal(drbd_option_index(name), (int) i);
                for (unsigned j = 0; j < i; j++)
                        assert_string_not_equal(drbd_option_name(j), name);
                assert_true(drbd_option_supported(name, DRBD_DIALECT_9) || drbd_option_supported(name, DRBD_DIALECT_84));
                /* The name's prefix is the DRBD 9 section. */
                if (drbd_option_supported(name, DRBD_DIALECT_9)) {
                        OptionSection s9;
                        assert_int_equal(drbd_option_section(name, DRBD_DIALECT_9, &s9, NULL), 0);
                        assert_int_equal(s9, sec);
                }
        }
        assert_true(n >= 40);
        assert_null(drbd_option_name(n));
        assert_null(drbd_option_name(UINT32_MAX));
}

static void test_owned_by_drbdd(void **state) {
        assert_bad("net/cram-hmac-alg", "sha1", "unknown DRBD option 'net/cram-hmac-alg'");
        assert_bad("net/shared-secret", "x", "unknown DRBD option");
        assert_bad("handlers/fence-peer", "/bin/sh", "unknown DRBD option");
        assert_bad("net/foo", "1", "unknown DRBD option 'net/foo'");
        assert_bad("protocol", "C", "unknown DRBD option");
        assert_bad("net/", "C", "unknown");
        assert_bad("", "C", "unknown");
        assert_bad(NULL, "C", "unknown DRBD option '(null)'");
        assert_bad("net/protocol\n", "C", "unknown DRBD option 'net/protocol\\x0a'");
        assert_bad("NET/protocol", "C", "unknown");
}

static void test_words_and_bools(void **state) {
        assert_ok("net/protocol", "A");
        assert_ok("net/protocol", "C");
        assert_bad("net/protocol", "D", "invalid value for net/protocol: 'D' (expected one of A, B, C)");
        assert_bad("net/protocol", "c", NULL);
        assert_ok("net/after-sb-0pri", "discard-zero-changes");
        assert_ok("net/after-sb-1pri", "discard-secondary");
        assert_ok("net/after-sb-2pri", "disconnect");
        assert_ok("net/rr-conflict", "call-pri-lost");
        assert_ok("net/csums-alg", "sha256");
        assert_bad("net/csums-alg", "sha512", "one of crc32c, sha1, sha256, md5");
        assert_ok("net/fencing", "resource-and-stonith");
        assert_ok("net/on-congestion", "pull-ahead");
        assert_ok("disk/on-io-error", "pass_on");
        assert_ok("disk/read-balancing", "1M-striping");
        assert_ok("options/on-no-quorum", "suspend-io");
        assert_ok("options/on-no-data-accessible", "io-error");
        assert_ok("net/allow-two-primaries", "yes");
        assert_ok("disk/disk-flushes", "no");
        assert_bad("net/allow-two-primaries", "true", "(expected yes or no)");
        assert_bad("net/allow-two-primaries", "YES", NULL);
        assert_bad("net/allow-two-primaries", "", NULL);
        assert_bad("net/allow-two-primaries", NULL, "'(null)'");
}

static void test_integers(void **state) {
        assert_ok("net/max-buffers", "32");
        assert_ok("net/max-buffers", "131072");
        assert_ok("net/max-buffers", "0008000");
        assert_bad("net/max-buffers", "31", "(expected an integer 32..131072)");
        assert_bad("net/max-buffers", "131073", NULL);
        assert_bad("net/max-buffers", "8k", NULL);  /* counts take no unit */
        assert_bad("net/max-buffers", "-1", NULL);
        assert_bad("net/max-buffers", "+100", NULL);
        assert_bad("net/max-buffers", "0x100", NULL);
        assert_bad("net/max-buffers", "1e3", NULL);
        assert_bad("net/max-buffers", "100.0", NULL);
        assert_bad("net/max-buffers", " 100", NULL);
        assert_bad("net/max-buffers", "99999999999999999999999", NULL);
        assert_ok("net/ko-count", "0");
        assert_ok("net/timeout", "600");
        assert_bad("net/timeout", "0", NULL);
        assert_ok("disk/al-extents", "6433");
        assert_bad("disk/al-extents", "65535", NULL);
        assert_ok("options/quorum", "majority");
        assert_ok("options/quorum", "2");
        assert_ok("options/quorum", "32");
        assert_bad("options/quorum", "0", "one of off, majority, all, or an integer 1..32");
        assert_bad("options/quorum", "33", NULL);
        assert_ok("options/quorum-minimum-redundancy", "off");
        assert_ok("options/cpu-mask", "ff");
        assert_ok("options/cpu-mask", "0123456789abcdefABCDEF");
        assert_bad("options/cpu-mask", "0xff", "hexadecimal");
        assert_bad("options/cpu-mask", "1,2", NULL);
        assert_bad("options/cpu-mask", "", NULL);
        /* drbd-utils refuses more than 31 digits ("Value is too long") */
        assert_ok("options/cpu-mask", "0123456789abcdef0123456789abcde");
        assert_bad("options/cpu-mask", "0123456789abcdef0123456789abcdef", "1..31 digits");
}

static void test_units(void **state) {
        /* bytes */
        assert_ok("net/sndbuf-size", "0");
        assert_ok("net/sndbuf-size", "10485760");
        assert_ok("net/sndbuf-size", "10M");
        assert_ok("net/sndbuf-size", "10m");
        assert_ok("net/sndbuf-size", "512k");
        assert_bad("net/sndbuf-size", "10485761", "(expected an integer 0..10485760 (bytes, optional suffix k, M or G))");
        assert_bad("net/sndbuf-size", "11M", NULL);
        assert_bad("net/sndbuf-size", "1G", NULL);
        assert_bad("net/sndbuf-size", "1T", NULL);
        assert_bad("net/sndbuf-size", "1MB", NULL);
        assert_bad("net/sndbuf-size", "1 M", NULL);
        assert_bad("net/sndbuf-size", "M", NULL);
        /* KiB */
        assert_ok("disk/resync-rate", "1");
        assert_ok("disk/resync-rate", "4G"); /* 4194304 KiB */
        assert_ok("disk/resync-rate", "100M");
        assert_bad("disk/resync-rate", "0", NULL);
        assert_bad("disk/resync-rate", "4194305", NULL);
        assert_bad("disk/resync-rate", "5G", NULL);
        assert_ok("disk/c-max-rate", "250k");
        assert_bad("disk/c-max-rate", "249", NULL);
        /* sectors */
        assert_ok("disk/c-fill-target", "512M"); /* 1048576 sectors */
        assert_bad("disk/c-fill-target", "513M", NULL);
        assert_ok("net/congestion-fill", "10G");
        assert_bad("net/congestion-fill", "11G", NULL);
        /* overflow with a unit */
        assert_bad("net/sndbuf-size", "99999999999999999G", NULL);
        assert_bad("net/sndbuf-size", "18446744073709551615G", NULL);
}

static void test_injection(void **state) {
        static const char *const hostile[] = {
                "C;", "C }", "C}", "C\"", "\"C\"", "C\n", "C\nresource x {", "C #", "C\t", "C;\0",
                "8000;", "8000 }", "yes;", "majority; } handlers { fence-peer \"/bin/sh\"; }",
        };
        static const char *const names[] = { "net/protocol", "net/max-buffers", "net/tcp-cork", "options/quorum",
                                             "options/cpu-mask", "net/sndbuf-size" };
        size_t n = 1024 * 1024;
        _cleanup_free_ char *big = malloc(n + 1);

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                for (size_t j = 0; j < ELEMENTSOF(hostile); j++)
                        assert_bad(names[i], hostile[j], NULL);

        /* The message never echoes control characters. */
        assert_bad("net/protocol", "C\n}", "'C\\x0a}'");

        assert_non_null(big);
        memset(big, '1', n);
        big[n] = '\0';
        assert_bad("net/max-buffers", big, "...'");
        memset(big, 'f', n);
        assert_bad("options/cpu-mask", big, NULL);
        assert_bad("net/protocol", "\xc3\x84", "'\xc3\x84'");
}

static void test_dialects(void **state) {
        assert_true(drbd_option_supported("options/quorum", DRBD_DIALECT_9));
        assert_false(drbd_option_supported("options/quorum", DRBD_DIALECT_84));
        assert_false(drbd_option_supported("options/on-no-quorum", DRBD_DIALECT_84));
        assert_false(drbd_option_supported("options/auto-promote", DRBD_DIALECT_84));
        assert_false(drbd_option_supported("options/quorum-minimum-redundancy", DRBD_DIALECT_84));
        assert_false(drbd_option_supported("disk/rs-discard-granularity", DRBD_DIALECT_84));
        assert_false(drbd_option_supported("disk/discard-zeroes-if-aligned", DRBD_DIALECT_84));
        assert_true(drbd_option_supported("net/protocol", DRBD_DIALECT_84));
        assert_true(drbd_option_supported("net/fencing", DRBD_DIALECT_84));
        assert_false(drbd_option_supported("net/nope", DRBD_DIALECT_9));
        assert_false(drbd_option_supported(NULL, DRBD_DIALECT_9));
        assert_false(drbd_option_supported("net/protocol", _DRBD_DIALECT_MAX));
}

static void test_sections(void **state) {
        OptionSection s;
        const char *key;

        assert_int_equal(drbd_option_split("net/protocol", &s, &key), 0);
        assert_int_equal(s, OPTION_SECTION_NET);
        assert_string_equal(key, "protocol");
        assert_int_equal(drbd_option_split("disk/on-io-error", &s, &key), 0);
        assert_int_equal(s, OPTION_SECTION_DISK);
        assert_int_equal(drbd_option_split("protocol", &s, &key), -EINVAL);
        assert_int_equal(drbd_option_split("foo/bar", &s, &key), -EINVAL);
        assert_int_equal(drbd_option_split("net/", &s, &key), -EINVAL);
        assert_int_equal(drbd_option_split(NULL, &s, &key), -EINVAL);
        assert_int_equal(drbd_option_split("averyveryverylongsection/x", &s, &key), -EINVAL);

        /* fencing moved from disk (8.4) to net (9). */
        assert_int_equal(drbd_option_section("net/fencing", DRBD_DIALECT_9, &s, &key), 0);
        assert_int_equal(s, OPTION_SECTION_NET);
        assert_string_equal(key, "fencing");
        assert_int_equal(drbd_option_section("net/fencing", DRBD_DIALECT_84, &s, &key), 0);
        assert_int_equal(s, OPTION_SECTION_DISK);
        assert_int_equal(drbd_option_section("options/quorum", DRBD_DIALECT_84, &s, &key), -EINVAL);
        assert_int_equal(drbd_option_section("net/bogus", DRBD_DIALECT_9, &s, &key), -EINVAL);
        assert_int_equal(drbd_option_index("net/bogus"), -EINVAL);
        assert_int_equal(drbd_option_index("net/protocol"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_string_tables),
                cmocka_unit_test(test_whitelist_consistent),
                cmocka_unit_test(test_owned_by_drbdd),
                cmocka_unit_test(test_words_and_bools),
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_injection),
                cmocka_unit_test(test_dialects),
                cmocka_unit_test(test_sections),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
