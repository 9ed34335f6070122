/* Parsing and formatting of volume sizes in binary units; all sizes are KiB. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "utf8.h"
#include "drbdd/model/size.h"

#define SIZE_FRACTION_DIGITS_MAX 6

typedef struct SizeUnit {
        char letter;      /* upper case */
        const char *name; /* for formatting */
        unsigned shift;   /* log2 of the unit in KiB */
} SizeUnit;

static const SizeUnit size_units[] = {
        { 'K', "KiB", 0 },
        { 'M', "MiB", 10 },
        { 'G', "GiB", 20 },
        { 'T', "TiB", 30 },
        { 'P', "PiB", 40 },
        { 'E', "EiB", 50 },
};

_printf_(4, 5) static int size_fail(int error, const char *s, char **ret_msg, const char *fmt, ...) {
        _cleanup_free_ char *q = NULL, *reason = NULL;
        va_list ap;
        int r;

        if (!ret_msg)
                return error;
        va_start(ap, fmt);
        r = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        q = utf8_quote_untrusted(s);
        if (!q)
                return -ENOMEM;
        if (asprintf(ret_msg, "invalid size '%s': %s", q, reason) < 0) {
                *ret_msg = NULL;
                return -ENOMEM;
        }
        return error;
}

static const SizeUnit *size_unit_parse(const char *u) {
        /* "G", "GB" (taken as binary, like LVM), "GiB"; any case. */
        if (!u[0])
                return NULL;
        if (u[1] && strcasecmp(u + 1, "B") != 0 && strcasecmp(u + 1, "iB") != 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(size_units); i++)
                if ((u[0] & ~0x20) == size_units[i].letter)
                        return &size_units[i];
        return NULL;
}

int size_parse_kib(const char *s, uint64_t *ret_kib, char **ret_msg) {
        unsigned __int128 whole = 0, frac = 0, frac_scale = 1, kib;
        const SizeUnit *unit;
        const char *p;
        size_t n_whole = 0, n_frac = 0;

        if (!s)
                return size_fail(-EINVAL, NULL, ret_msg, "missing");
        if (!s[0])
                return size_fail(-EINVAL, s, ret_msg, "empty");
        if (strnlen(s, 64) >= 64)
                return size_fail(-EINVAL, s, ret_msg, "too long");
        if (s[0] == '-' || s[0] == '+')
                return size_fail(-EINVAL, s, ret_msg, "no sign allowed");

        p = s;
        for (; *p >= '0' && *p <= '9'; p++, n_whole++) {
                whole = whole * 10 + (unsigned) (*p - '0');
                if (whole > UINT64_MAX)
                        return size_fail(-ERANGE, s, ret_msg, "number too large");
        }
        if (n_whole == 0)
                return size_fail(-EINVAL, s, ret_msg, "expected a number followed by a unit, e.g. 10G or 512M");
        if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9'; p++, n_frac++) {
                        if (n_frac >= SIZE_FRACTION_DIGITS_MAX)
                                return size_fail(-EINVAL, s, ret_msg, "at most %d decimal places", SIZE_FRACTION_DIGITS_MAX);
                        frac = frac * 10 + (unsigned) (*p - '0');
                        frac_scale *= 10;
                }
                if (n_frac == 0)
                        return size_fail(-EINVAL, s, ret_msg, "digits expected after '.'");
        }
        if (*p == ' ')
                p++;
        if (!*p)
                return size_fail(-EINVAL, s, ret_msg, "a unit is required, e.g. 10G or 512M (K, M, G, T or P)");
        unit = size_unit_parse(p);
        if (!unit)
                return size_fail(-EINVAL, s, ret_msg, "unknown unit (use K, M, G, T or P, optionally with B or iB)");

        kib = (whole << unit->shift) + ((frac << unit->shift) + frac_scale - 1) / frac_scale;
        if (kib > UINT64_MAX)
                return size_fail(-ERANGE, s, ret_msg, "size too large");

        *ret_kib = (uint64_t) kib;
        return 0;
}

int size_check_bounds(uint64_t kib, char **ret_msg) {
        char a[32], b[32];

        if (kib >= SIZE_MIN_KIB && kib <= SIZE_MAX_KIB)
                return 0;
        if (ret_msg) {
                int r;
                if (kib < SIZE_MIN_KIB)
                        r = asprintf(ret_msg, "size %s is below the minimum of %s",
                                     size_format_kib(kib, a, sizeof a), size_format_kib(SIZE_MIN_KIB, b, sizeof b));
                else
                        r = asprintf(ret_msg, "size %s exceeds the maximum of %s",
                                     size_format_kib(kib, a, sizeof a), size_format_kib(SIZE_MAX_KIB, b, sizeof b));
                if (r < 0) {
                        *ret_msg = NULL;
                        return -ENOMEM;
                }
        }
        return -ERANGE;
}

char *size_format_kib(uint64_t kib, char *buf, size_t len) {
        if (!buf || len == 0)
                return buf;

        /* The largest unit that shows the size exactly, or to two decimals without looking
         * exact: 4095 KiB is "4095 KiB", not "4.00 MiB". */
        for (size_t i = ELEMENTSOF(size_units); i > 0; i--) {
                const SizeUnit *u = &size_units[i - 1];
                uint64_t unit_kib = UINT64_C(1) << u->shift;
                unsigned __int128 h;

                if (kib < unit_kib && i > 1)
                        continue;
                if ((kib & (unit_kib - 1)) == 0) {
                        snprintf(buf, len, "%" PRIu64 " %s", kib >> u->shift, u->name);
                        return buf;
                }
                /* Hundredths, rounded half up, in 128 bits so that large sizes cannot overflow. */
                h = ((unsigned __int128) kib * 100 + unit_kib / 2) >> u->shift;
                if (h % 100 != 0) {
                        snprintf(buf, len, "%" PRIu64 ".%02u %s", (uint64_t) (h / 100), (unsigned) (h % 100), u->name);
                        return buf;
                }
        }
        /* Not reached: KiB always shows the size exactly. */
        snprintf(buf, len, "%" PRIu64 " KiB", kib);
        return buf;
}
