/* Unit tests for lib/utf8.c: decoding, sd-bus's notion of valid, quoting untrusted input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "utf8.h"

/* What every quoted string must be: UTF-8 sd-bus sends, one line, no control characters. */
static bool is_safe(const char *s) {
        if (!utf8_is_valid(s))
                return false;
        while (*s) {
                uint32_t cp;
                s += utf8_decode(s, &cp);
                if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                        return false;
        }
        return true;
}

static void assert_safe(const char *q) {
        assert_non_null(q);
        if (!is_safe(q))
                fail_msg("not safe: '%s'", q);
}

static size_t count_chars(const char *s) {
        size_t k = 0;
        for (; *s; k++) {
                int n = utf8_decode(s, NULL);
                s += n > 0 ? n : 1;
        }
        return k;
}

static void test_decode(void **state) {
        static const struct {
                const char *s;
                int len;
                uint32_t cp;
        } good[] = {
                { "a", 1, 'a' },
                { "\x7f", 1, 0x7f },
                { "\xc2\x80", 2, 0x80 },
                { "\xc3\xa9", 2, 0xe9 },
                { "\xdf\xbf", 2, 0x7ff },
                { "\xe0\xa0\x80", 3, 0x800 },
                { "\xe2\x82\xac", 3, 0x20ac },
                { "\xed\x9f\xbf", 3, 0xd7ff },
                { "\xee\x80\x80", 3, 0xe000 },
                { "\xef\xbf\xbf", 3, 0xffff },
                { "\xf0\x90\x80\x80", 4, 0x10000 },
                { "\xf0\x9f\x98\x80", 4, 0x1f600 },
                { "\xf4\x8f\xbf\xbf", 4, 0x10ffff },
        };
        static const char *const bad[] = {
                "\x80",             /* stray continuation */
                "\xbf",
                "\xc3",             /* cut short by the NUL */
                "\xe2\x82",
                "\xf0\x9f\x98",
                "\xc3(",            /* continuation missing */
                "\xe2(\xac",
                "\xc0\xaf",         /* overlong '/' */
                "\xc1\xbf",
                "\xe0\x80\xaf",
                "\xe0\x9f\xbf",     /* overlong U+07FF */
                "\xf0\x80\x80\xaf",
                "\xf0\x8f\xbf\xbf", /* overlong U+FFFF */
                "\xed\xa0\x80",     /* surrogates */
                "\xed\xbf\xbf",
                "\xf4\x90\x80\x80", /* above U+10FFFF */
                "\xf7\xbf\xbf\xbf",
                "\xf8\x88\x80\x80\x80",
                "\xfe",
                "\xff",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                uint32_t cp = 0;
                assert_int_equal(utf8_decode(good[i].s, &cp), good[i].len);
                assert_int_equal(cp, good[i].cp);
                assert_int_equal(utf8_decode(good[i].s, NULL), good[i].len);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint32_t cp = 0xdead;
                if (utf8_decode(bad[i], &cp) != -EILSEQ)
                        fail_msg("bad[%zu] decoded", i);
                assert_int_equal(cp, 0xdead); /* written only on success */
        }
}

static void test_is_valid(void **state) {
        static const char *const valid[] = {
                "", "abc", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "a\nb\tc\x1b[31m",
                "\xef\xbf\xbd",     /* U+FFFD, the replacement character */
                "\xef\xb7\x8f",     /* U+FDCF, just below the noncharacters */
                "\xef\xb7\xb0",     /* U+FDF0, just above */
                "\xf4\x8f\xbf\xbd", /* U+10FFFD */
        };
        static const char *const invalid[] = {
                "\xef\xbf\xbf",     /* U+FFFF */
                "ab\xef\xbf\xbe",   /* U+FFFE */
                "\xef\xb7\x90",     /* U+FDD0 */
                "\xef\xb7\xaf",     /* U+FDEF */
                "\xf0\x9f\xbf\xbf", /* U+1FFFF */
                "\xf4\x8f\xbf\xbe", /* U+10FFFE */
                "caf\xc3",
                "caf\xe9",          /* Latin-1 */
                "\xed\xa0\x80",
                "a\xc0\xafz",
        };
        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                if (!utf8_is_valid(valid[i]))
                        fail_msg("valid[%zu] refused", i);
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                if (utf8_is_valid(invalid[i]))
                        fail_msg("invalid[%zu] accepted", i);
}

static void test_escape(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "ok", "ok" },
                { "", "" },
                { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
                { "a\nb\xff", "a\\x0ab\\xff" },
                { "\x1b[31mred", "\\x1b[31mred" },
                { "del\x7f", "del\\x7f" },
                { "c1\xc2\x85\xc2\x9b", "c1\\u0085\\u009b" },
                { "\xc2\xa0", "\xc2\xa0" },                           /* U+00A0 is no control character */
                { "x\xef\xbf\xbfy", "x\\uffffy" },                    /* noncharacters, which sd-bus refuses */
                { "\xef\xb7\x90", "\\ufdd0" },
                { "\xf0\x9f\xbf\xbf", "\\U0001ffff" },
                { "\xed\xa0\x80", "\\xed\\xa0\\x80" },                /* a surrogate: every byte */
                { "caf\xc3", "caf\\xc3" },                            /* cut short */
                { "\xc3(", "\\xc3(" },
                { "\xc0\xaf", "\\xc0\\xaf" },                         /* overlong */
                { "\xe9t\xe9", "\\xe9t\\xe9" },                       /* Latin-1 */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *q = utf8_quote_untrusted(cases[i].in);
                assert_safe(q);
                assert_string_equal(q, cases[i].out);
        }
        _cleanup_free_ char *n = utf8_quote_untrusted(NULL);
        assert_string_equal(n, "(null)");
}

/* A character of every width after every ASCII prefix up to past the
 * limit: the quote is cut between characters, after exactly
 * UTF8_QUOTE_MAX of them. */
static void test_cut_at_character(void **state) {
        static const char *const chars[] = { "x", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
        for (size_t c = 0; c < ELEMENTSOF(chars); c++)
                for (size_t prefix = 0; prefix <= UTF8_QUOTE_MAX + 2; prefix++)
                        for (size_t reps = 1; reps <= 3; reps++) {
                                char in[256] = "", want[256] = "";
                                size_t total = prefix + reps;
                                memset(in, 'a', prefix);
                                for (size_t r = 0; r < reps; r++)
                                        strcat(in, chars[c]);
                                /* The first UTF8_QUOTE_MAX characters of in, then "..." if there is more. */
                                memset(want, 'a', MIN(prefix, (size_t) UTF8_QUOTE_MAX));
                                for (size_t r = 0; r < reps && prefix + r < UTF8_QUOTE_MAX; r++)
                                        strcat(want, chars[c]);
                                if (total > UTF8_QUOTE_MAX)
                                        strcat(want, "...");
                                _cleanup_free_ char *q = utf8_quote_untrusted(in);
                                assert_safe(q);
                                if (!streq(q, want))
                                        fail_msg("char %zu, prefix %zu, reps %zu: got '%s', want '%s'", c, prefix,
                                                 reps, q, want);
                        }
        /* Escapes count as one character each, and are never cut either. */
        char ctl[100];
        memset(ctl, '\n', sizeof ctl - 1);
        ctl[sizeof ctl - 1] = '\0';
        _cleanup_free_ char *q = utf8_quote_untrusted(ctl);
        assert_int_equal(strlen(q), UTF8_QUOTE_MAX * 4 + 3);
        assert_true(startswith(q, "\\x0a\\x0a"));
        assert_true(streq(q + UTF8_QUOTE_MAX * 4 - 4, "\\x0a..."));
}

/* Hostile bytes of any kind: the quote is always safe and bounded. */
static void test_random_bytes(void **state) {
        static const unsigned char pieces[] = { 0x00, 0x01, 0x0a, 0x1b, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xc3, 0xe2,
                                                0xed, 0xef, 0xf0, 0xf4, 0xf8, 0xff, 0x82, 0xac, 0xa9, 'a', '\'' };
        uint32_t seed = 12345;
        char buf[400];

        for (int round = 0; round < 20000; round++) {
                size_t len = 0, want = (size_t) (round % 300);
                while (len < want) {
                        seed = seed * 1103515245u + 12345u;
                        /* Mostly the interesting bytes, sometimes any byte. */
                        unsigned char b = (seed >> 16) % 4 ? pieces[(seed >> 8) % ELEMENTSOF(pieces)]
                                                           : (unsigned char) (seed >> 3);
                        if (b)
                                buf[len++] = (char) b;
                }
                buf[len] = '\0';
                _cleanup_free_ char *q = utf8_quote_untrusted(buf);
                assert_safe(q);
                assert_true(count_chars(q) <= UTF8_QUOTE_MAX * 10 + 3);
                assert_true(strlen(q) <= UTF8_QUOTE_MAX * 10 + 3);
                /* Valid input that needs no escape comes back unchanged (when short enough). */
                if (is_safe(buf) && count_chars(buf) <= UTF8_QUOTE_MAX)
                        assert_string_equal(q, buf);
        }
}

static void test_escape_unbounded(void **state) {
        size_t n = 100000;
        _cleanup_free_ char *big = malloc(n + 1), *q = NULL;
        assert_non_null(big);
        memset(big, 'z', n);
        big[n] = '\0';
        big[n / 2] = '\xff';
        q = utf8_escape(big, SIZE_MAX);
        assert_non_null(q);
        assert_int_equal(strlen(q), n + 3);
        assert_true(utf8_is_valid(q));
        q = (free(q), utf8_escape(big, 0));
        assert_string_equal(q, "...");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode),
                cmocka_unit_test(test_is_valid),
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_cut_at_character),
                cmocka_unit_test(test_random_bytes),
                cmocka_unit_test(test_escape_unbounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
