/* Unit tests for drbdd/model/names.c: name rules, hostile input, messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "utf8.h"
#include "drbdd/model/names.h"

static void assert_valid(NameKind k, const char *name) {
        _cleanup_free_ char *msg = NULL;
        int r = name_validate(k, name, &msg);
        if (r != 0)
                fail_msg("expected valid %s name '%s', got: %s", name_kind_to_string(k), name, msg);
        assert_null(msg);
}

/* Asserts rejection and returns the message (caller frees); checks the message is one
 * printable line. */
static char *assert_invalid(NameKind k, const char *name) {
        char *msg = NULL;
        assert_int_equal(name_validate(k, name, &msg), -EINVAL);
        assert_non_null(msg);
        /* One line of UTF-8 that sd-bus sends: escaping changes nothing. */
        {
                _cleanup_free_ char *e = utf8_escape(msg, SIZE_MAX);
                assert_string_equal(e, msg);
        }
        /* Without ret_msg: same verdict, no allocation. */
        assert_int_equal(name_validate(k, name, NULL), -EINVAL);
        return msg;
}

static void assert_invalid_msg(NameKind k, const char *name, const char *expected_substring) {
        _cleanup_free_ char *msg = assert_invalid(k, name);
        if (!strstr(msg, expected_substring))
                fail_msg("message '%s' does not contain '%s'", msg, expected_substring);
}

static void test_kind_round_trip(void **state) {
        for (int k = 0; k < _NAME_KIND_MAX; k++) {
                const char *s = name_kind_to_string((NameKind) k);
                assert_non_null(s);
                assert_int_equal(name_kind_from_string(s), k);
        }
        assert_null(name_kind_to_string(_NAME_KIND_MAX));
        assert_null(name_kind_to_string((NameKind) -1));
        assert_int_equal(name_kind_from_string("bogus"), -EINVAL);
        assert_int_equal(name_kind_from_string(""), -EINVAL);
        assert_int_equal(name_kind_from_string(NULL), -EINVAL);
        assert_string_equal(name_kind_to_string(NAME_RESOURCE), "resource");
}

static void test_resource_valid(void **state) {
        assert_valid(NAME_RESOURCE, "r0");
        assert_valid(NAME_RESOURCE, "_x");
        assert_valid(NAME_RESOURCE, "volume-1a2b_3C");
        assert_valid(NAME_RESOURCE, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv"); /* 48 */
        assert_valid(NAME_POOL, "drbdpool");
        assert_valid(NAME_POOL, "thin_pool-2");
}

static void test_resource_invalid(void **state) {
        assert_invalid_msg(NAME_RESOURCE, "a/b",
                           "invalid resource name 'a/b': '/' is not allowed (use A-Z a-z 0-9 _ -)");
        assert_invalid_msg(NAME_RESOURCE, "a", "too short");
        assert_invalid_msg(NAME_RESOURCE, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvw", "too long (49");
        assert_invalid_msg(NAME_RESOURCE, "1abc", "must start with a letter or '_'");
        assert_invalid_msg(NAME_RESOURCE, "-abc", "must start");
        assert_invalid_msg(NAME_RESOURCE, "..", "'.' is not allowed");
        assert_invalid_msg(NAME_RESOURCE, "a.b", "'.'");
        assert_invalid_msg(NAME_RESOURCE, "a;b", "';'");
        assert_invalid_msg(NAME_RESOURCE, "a}b", "'}'");
        assert_invalid_msg(NAME_RESOURCE, "a\"b", "'\"'");
        assert_invalid_msg(NAME_RESOURCE, "a b", "a space");
        assert_invalid_msg(NAME_RESOURCE, "ab\n", "control character 0x0a");
        assert_invalid_msg(NAME_RESOURCE, "ab\x1b[31m", "control character 0x1b");
        assert_invalid_msg(NAME_RESOURCE, "r\xc3\xa9sum\xc3\xa9", "non-ASCII character U+00E9");
        assert_invalid_msg(NAME_RESOURCE, "x\xf0\x9f\x98\x80", "non-ASCII character U+1F600");
        assert_invalid_msg(NAME_RESOURCE, "x\xff", "invalid UTF-8 byte 0xff");
        assert_invalid_msg(NAME_RESOURCE, "", "empty");
        assert_invalid_msg(NAME_RESOURCE, NULL, "invalid resource name: missing");
        assert_invalid_msg(NAME_POOL, "pool/x", "invalid pool name 'pool/x'");
        assert_invalid_msg(NAME_POOL, "../etc", "invalid pool name");
}

static void test_message_sanitized(void **state) {
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL;

        /* The control character is not echoed, only escaped and described. */
        m1 = assert_invalid(NAME_RESOURCE, "ab\ncd");
        assert_string_equal(m1, "invalid resource name 'ab\\x0acd': control character 0x0a is not allowed "
                                "(use A-Z a-z 0-9 _ -)");
        m2 = assert_invalid(NAME_NODE, "host\x7f");
        assert_non_null(strstr(m2, "'host\\x7f'"));
        /* Characters are echoed as given (utf8_quote_untrusted(), tested in test-utf8.c), bytes that are
         * none escaped. */
        m3 = assert_invalid(NAME_NODE, "n\xc3\xb6" "de\xff");
        assert_non_null(strstr(m3, "'n\xc3\xb6" "de\\xff'"));
}

static void test_huge(void **state) {
        size_t n = 1024 * 1024;
        _cleanup_free_ char *big = malloc(n + 1), *msg = NULL, *q = NULL;

        assert_non_null(big);
        memset(big, 'a', n);
        big[n] = '\0';
        for (int k = 0; k < _NAME_KIND_MAX; k++) {
                _cleanup_free_ char *m = assert_invalid((NameKind) k, big);
                /* Echo truncated to 64 characters plus "...". */
                assert_true(strlen(m) < 200);
                assert_non_null(strstr(m, "..."));
        }
        assert_int_equal(name_property_value_validate(big, &msg), -EINVAL);
        assert_true(strlen(msg) < 200);

        big[100] = '/';
        q = assert_invalid(NAME_RESOURCE, big);
        assert_non_null(strstr(q, "'/'"));
}

static void test_node(void **state) {
        char label63[64], label64[65], long_name[300];

        assert_valid(NAME_NODE, "alpha");
        assert_valid(NAME_NODE, "node-1");
        assert_valid(NAME_NODE, "node-1.example.com");
        assert_valid(NAME_NODE, "1node");
        assert_valid(NAME_NODE, "a");
        assert_valid(NAME_NODE, "x1.2");

        memset(label63, 'a', 63);
        label63[63] = '\0';
        assert_valid(NAME_NODE, label63);
        memset(label64, 'a', 64);
        label64[64] = '\0';
        assert_invalid_msg(NAME_NODE, label64, "longer than 63");

        /* 4 labels of 63 + 3 dots = 255 > 253 */
        snprintf(long_name, sizeof long_name, "%s.%s.%s.%s", label63, label63, label63, label63);
        assert_invalid_msg(NAME_NODE, long_name, "too long (255");
        /* 61+1+63+1+63+1+63 = 253 is fine */
        snprintf(long_name, sizeof long_name, "%.61s.%s.%s.%s", label63, label63, label63, label63);
        assert_int_equal(strlen(long_name), 253);
        assert_valid(NAME_NODE, long_name);

        assert_invalid_msg(NAME_NODE, "-alpha", "must not start with '-'");
        assert_invalid_msg(NAME_NODE, "alpha-", "must not end with '-'");
        assert_invalid_msg(NAME_NODE, "alpha-.b", "must not end with '-'");
        assert_invalid_msg(NAME_NODE, "a.-b", "must not start with '-'");
        assert_invalid_msg(NAME_NODE, ".alpha", "empty label");
        assert_invalid_msg(NAME_NODE, "alpha.", "empty label");
        assert_invalid_msg(NAME_NODE, "a..b", "empty label");
        assert_invalid_msg(NAME_NODE, "..", "empty label");
        assert_invalid_msg(NAME_NODE, "12345", "digits only");
        assert_invalid_msg(NAME_NODE, "10.0.0.1", "digits only");
        assert_invalid_msg(NAME_NODE, "node_1", "'_' is not allowed");
        assert_invalid_msg(NAME_NODE, "a/b", "'/'");
        assert_invalid_msg(NAME_NODE, "a;b", "';'");
        assert_invalid_msg(NAME_NODE, "a}", "'}'");
        assert_invalid_msg(NAME_NODE, "a\n", "control character");
        assert_invalid_msg(NAME_NODE, "n\xc3\xb6" "de", "non-ASCII");
        assert_invalid_msg(NAME_NODE, "", "empty");
        assert_invalid_msg(NAME_NODE, NULL, "invalid node name: missing");
}

static void test_property_key(void **state) {
        assert_valid(NAME_PROPERTY, "site");
        assert_valid(NAME_PROPERTY, "Aux/rack");
        assert_valid(NAME_PROPERTY, "Aux/rack.row-2_b");
        assert_valid(NAME_PROPERTY, "s");
        assert_valid(NAME_PROPERTY, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"); /* 64 */
        assert_invalid_msg(NAME_PROPERTY, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm", "too long");
        assert_invalid_msg(NAME_PROPERTY, "1site", "must start with a letter");
        assert_invalid_msg(NAME_PROPERTY, "_site", "must start with a letter");
        assert_invalid_msg(NAME_PROPERTY, "/site", "must start with a letter");
        assert_invalid_msg(NAME_PROPERTY, "Aux//rack", "empty segment");
        assert_invalid_msg(NAME_PROPERTY, "Aux/", "empty segment");
        assert_invalid_msg(NAME_PROPERTY, "Aux/../etc", "'..'");
        assert_invalid_msg(NAME_PROPERTY, "Aux/./x", "'.'");
        assert_invalid_msg(NAME_PROPERTY, "a b", "a space");
        assert_invalid_msg(NAME_PROPERTY, "a:b", "':'");
        assert_invalid_msg(NAME_PROPERTY, "a\tb", "control character 0x09");
        assert_invalid_msg(NAME_PROPERTY, "", "invalid property key '': empty");
}

static void test_property_value(void **state) {
        const char *bad[] = { "", "a b", "a;b", "a}", "{a", "a\"b", "a'b", "a#b", "a\\b", "a\nb", "caf\xc3\xa9",
                              "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm" };

        assert_int_equal(name_property_value_validate("rack-1", NULL), 0);
        assert_int_equal(name_property_value_validate("eu-west/az1:row=2", NULL), 0);
        assert_int_equal(name_property_value_validate("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *msg = NULL;
                assert_int_equal(name_property_value_validate(bad[i], &msg), -EINVAL);
                assert_non_null(msg);
                assert_true(startswith(msg, "invalid property value"));
                /* One line of UTF-8 that sd-bus sends: escaping changes nothing. */
                {
                        _cleanup_free_ char *e = utf8_escape(msg, SIZE_MAX);
                        assert_string_equal(e, msg);
                }
        }
        assert_int_equal(name_property_value_validate(NULL, NULL), -EINVAL);
}

static void test_bad_kind(void **state) {
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(name_validate(_NAME_KIND_MAX, "r0", &msg), -EINVAL);
        assert_non_null(msg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kind_round_trip),
                cmocka_unit_test(test_resource_valid),
                cmocka_unit_test(test_resource_invalid),
                cmocka_unit_test(test_message_sanitized),
                cmocka_unit_test(test_huge),
                cmocka_unit_test(test_node),
                cmocka_unit_test(test_property_key),
                cmocka_unit_test(test_property_value),
                cmocka_unit_test(test_bad_kind),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
