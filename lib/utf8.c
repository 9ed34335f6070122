/* UTF-8 validation as sd-bus does it, and escaping for messages. */
#include <stdint.h>

#include "macro.h"
#include "utf8.h"

int utf8_decode(const char *s, uint32_t *ret_cp) {
        const unsigned char *p = (const unsigned char *) s;
        uint32_t cp, min;
        int n;

        if (p[0] < 0x80) {
                n = 1, cp = p[0], min = 0;
        } else if ((p[0] & 0xe0) == 0xc0) {
                n = 2, cp = p[0] & 0x1f, min = 0x80;
        } else if ((p[0] & 0xf0) == 0xe0) {
                n = 3, cp = p[0] & 0x0f, min = 0x800;
        } else if ((p[0] & 0xf8) == 0xf0) {
                n = 4, cp = p[0] & 0x07, min = 0x10000;
        } else
                return -EILSEQ;
        for (int i = 1; i < n; i++) {
                /* Stops at the terminating NUL too. */
                if ((p[i] & 0xc0) != 0x80)
                        return -EILSEQ;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return -EILSEQ;
        if (ret_cp)
                *ret_cp = cp;
        return n;
}

static bool is_noncharacter(uint32_t cp) {
        return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
}

bool utf8_is_valid(const char *s) {
        while (*s) {
                uint32_t cp;
                int n = utf8_decode(s, &cp);
                if (n < 0 || is_noncharacter(cp))
                        return false;
                s += n;
        }
        return true;
}

char *utf8_escape(const char *s, size_t max_chars) {
        size_t len = strlen(s), i = 0, o = 0, k = 0;
        size_t chars = MIN(len, max_chars); /* every character takes at least one byte */
        char *q;

        /* At most 10 bytes per character ("\U0001fffe"), then "..." and the NUL. */
        if (chars > (SIZE_MAX - 4) / 10)
                return NULL;
        q = malloc(chars * 10 + 4);
        if (!q)
                return NULL;
        for (; s[i] && k < max_chars; k++) {
                uint32_t cp;
                int n = utf8_decode(s + i, &cp);
                if (n < 0) {
                        o += (size_t) sprintf(q + o, "\\x%02x", (unsigned) (unsigned char) s[i]);
                        n = 1;
                } else if (cp < 0x20 || cp == 0x7f)
                        o += (size_t) sprintf(q + o, "\\x%02x", (unsigned) cp);
                else if ((cp >= 0x80 && cp <= 0x9f) || is_noncharacter(cp))
                        o += (size_t) sprintf(q + o, cp > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned) cp);
                else {
                        memcpy(q + o, s + i, (size_t) n);
                        o += (size_t) n;
                }
                i += (size_t) n;
        }
        if (s[i]) {
                memcpy(q + o, "...", 3);
                o += 3;
        }
        q[o] = '\0';
        return q;
}

char *utf8_quote_untrusted(const char *s) {
        return s ? utf8_escape(s, UTF8_QUOTE_MAX) : strdup("(null)");
}
