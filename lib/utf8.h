/* UTF-8 as D-Bus carries it, and quoting untrusted input into messages. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many characters of untrusted input a message quotes. */
#define UTF8_QUOTE_MAX 64

/* Decodes the character s starts with (s[0] != '\0'). Returns its length in
 * bytes (1-4) and stores the code point in *ret_cp (if given), or -EILSEQ
 * when s starts with no well-formed character: a stray or missing
 * continuation byte, an overlong form, a surrogate, or above U+10FFFF. */
int utf8_decode(const char *s, uint32_t *ret_cp);

/* Whether s (not NULL) is UTF-8 that sd-bus accepts in a string:
 * well-formed, and without noncharacters (U+FDD0..U+FDEF and U+xFFFE,
 * U+xFFFF in every plane), which sd-bus refuses to send or to read. */
bool utf8_is_valid(const char *s);

/* s made safe to put in a message: one line of text that sd-bus sends.
 * Characters are kept; a control character (U+0000..U+001F, U+007F..U+009F)
 * or a noncharacter becomes "\xNN", "\uNNNN" or "\UNNNNNNNN", each byte
 * that starts no well-formed character becomes "\xNN". After max_chars
 * characters (an escape counts as one) s is cut, between two characters,
 * and "..." appended. Returns a newly allocated string (caller frees), or
 * NULL on OOM. */
char *utf8_escape(const char *s, size_t max_chars);

/* The one way to quote untrusted input (names, addresses, option keys and
 * values from D-Bus, the store or a subprocess) into a message:
 * utf8_escape(s, UTF8_QUOTE_MAX), and "(null)" for NULL. Caller frees;
 * NULL on OOM. */
char *utf8_quote_untrusted(const char *s);
