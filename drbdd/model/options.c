/* Whitelist of operator-settable DRBD options with typed values, per dialect. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "utf8.h"
#include "drbdd/model/options.h"

static const char *const option_section_table[_OPTION_SECTION_MAX] = {
        [OPTION_SECTION_NET] = "net",
        [OPTION_SECTION_DISK] = "disk",
        [OPTION_SECTION_OPTIONS] = "options",
};

const char *option_section_to_string(OptionSection s) {
        return (unsigned) s < _OPTION_SECTION_MAX ? option_section_table[s] : NULL;
}

int option_section_from_string(const char *s) {
        for (unsigned i = 0; s && i < _OPTION_SECTION_MAX; i++)
                if (streq(s, option_section_table[i]))
                        return (int) i;
        return -EINVAL;
}

#define D84 (1u << DRBD_DIALECT_84)
#define D9 (1u << DRBD_DIALECT_9)
#define WORDS(...) ((const char *const[]) { __VA_ARGS__, NULL })

#define NET OPTION_SECTION_NET
#define DISK OPTION_SECTION_DISK
#define OPTS OPTION_SECTION_OPTIONS

/* Ranges from DRBD's drbd_limits.h (the narrower of 8.4 and 9 where they differ),
 * and never wider than drbd-utils' parsers accept: tests/unit/test-render.c renders
 * every option at both bounds and has drbdadm parse it. cram-hmac-alg and
 * shared-secret are absent on purpose: drbdd owns them. */
static const OptionDef option_table[] = {
        /* net */
        { "net/protocol", NET, NET, OPT_WORD, .words = WORDS("A", "B", "C"), .dialects = D84 | D9 },
        { "net/timeout", NET, NET, OPT_INT, 1, 600, .dialects = D84 | D9 },
        { "net/max-epoch-size", NET, NET, OPT_INT, 1, 20000, .dialects = D84 | D9 },
        { "net/max-buffers", NET, NET, OPT_INT, 32, 131072, .dialects = D84 | D9 },
        { "net/connect-int", NET, NET, OPT_INT, 1, 120, .dialects = D84 | D9 },
        { "net/ping-int", NET, NET, OPT_INT, 1, 120, .dialects = D84 | D9 },
        { "net/ping-timeout", NET, NET, OPT_INT, 1, 300, .dialects = D84 | D9 },
        { "net/ko-count", NET, NET, OPT_INT, 0, 200, .dialects = D84 | D9 },
        { "net/sndbuf-size", NET, NET, OPT_INT, 0, 10 << 20, SCALE_BYTES, .dialects = D84 | D9 },
        { "net/rcvbuf-size", NET, NET, OPT_INT, 0, 10 << 20, SCALE_BYTES, .dialects = D84 | D9 },
        { "net/allow-two-primaries", NET, NET, OPT_BOOL, .dialects = D84 | D9 },
        { "net/always-asbp", NET, NET, OPT_BOOL, .dialects = D84 | D9 },
        { "net/tcp-cork", NET, NET, OPT_BOOL, .dialects = D84 | D9 },
        { "net/after-sb-0pri", NET, NET, OPT_WORD,
          .words = WORDS("disconnect", "discard-younger-primary", "discard-older-primary", "discard-zero-changes",
                         "discard-least-changes", "discard-local", "discard-remote"),
          .dialects = D84 | D9 },
        { "net/after-sb-1pri", NET, NET, OPT_WORD,
          .words = WORDS("disconnect", "consensus", "violently-as0p", "discard-secondary", "call-pri-lost-after-sb"),
          .dialects = D84 | D9 },
        { "net/after-sb-2pri", NET, NET, OPT_WORD,
          .words = WORDS("disconnect", "violently-as0p", "call-pri-lost-after-sb"), .dialects = D84 | D9 },
        { "net/rr-conflict", NET, NET, OPT_WORD, .words = WORDS("disconnect", "call-pri-lost", "violently"),
          .dialects = D84 | D9 },
        { "net/verify-alg", NET, NET, OPT_WORD, .words = WORDS("crc32c", "sha1", "sha256", "md5"), .dialects = D84 | D9 },
        { "net/csums-alg", NET, NET, OPT_WORD, .words = WORDS("crc32c", "sha1", "sha256", "md5"), .dialects = D84 | D9 },
        { "net/data-integrity-alg", NET, NET, OPT_WORD, .words = WORDS("crc32c", "sha1", "sha256", "md5"),
          .dialects = D84 | D9 },
        { "net/on-congestion", NET, NET, OPT_WORD, .words = WORDS("block", "pull-ahead", "disconnect"),
          .dialects = D84 | D9 },
        { "net/congestion-fill", NET, NET, OPT_INT, 0, 10 << 21, SCALE_SECTORS, .dialects = D84 | D9 },
        { "net/congestion-extents", NET, NET, OPT_INT, 67, 65534, .dialects = D84 | D9 },
        { "net/fencing", NET, DISK, OPT_WORD, .words = WORDS("dont-care", "resource-only", "resource-and-stonith"),
          .dialects = D84 | D9 },

        /* disk (in DRBD 9 the resource-level disk section also takes the peer-device
         * options resync-rate and c-*) */
        { "disk/on-io-error", DISK, DISK, OPT_WORD, .words = WORDS("pass_on", "call-local-io-error", "detach"),
          .dialects = D84 | D9 },
        { "disk/disk-timeout", DISK, DISK, OPT_INT, 0, 6000, .dialects = D84 | D9 },
        { "disk/resync-rate", DISK, DISK, OPT_INT, 1, 4 << 20, SCALE_KIB, .dialects = D84 | D9 },
        { "disk/c-plan-ahead", DISK, DISK, OPT_INT, 0, 300, .dialects = D84 | D9 },
        { "disk/c-delay-target", DISK, DISK, OPT_INT, 1, 100, .dialects = D84 | D9 },
        { "disk/c-fill-target", DISK, DISK, OPT_INT, 0, 1 << 20, SCALE_SECTORS, .dialects = D84 | D9 },
        { "disk/c-max-rate", DISK, DISK, OPT_INT, 250, 4 << 20, SCALE_KIB, .dialects = D84 | D9 },
        { "disk/c-min-rate", DISK, DISK, OPT_INT, 0, 4 << 20, SCALE_KIB, .dialects = D84 | D9 },
        { "disk/al-extents", DISK, DISK, OPT_INT, 67, 65534, .dialects = D84 | D9 },
        { "disk/al-updates", DISK, DISK, OPT_BOOL, .dialects = D84 | D9 },
        { "disk/disk-barrier", DISK, DISK, OPT_BOOL, .dialects = D84 | D9 },
        { "disk/disk-flushes", DISK, DISK, OPT_BOOL, .dialects = D84 | D9 },
        { "disk/md-flushes", DISK, DISK, OPT_BOOL, .dialects = D84 | D9 },
        { "disk/disk-drain", DISK, DISK, OPT_BOOL, .dialects = D84 | D9 },
        { "disk/read-balancing", DISK, DISK, OPT_WORD,
          .words = WORDS("prefer-local", "prefer-remote", "round-robin", "least-pending", "when-congested-remote",
                         "32K-striping", "64K-striping", "128K-striping", "256K-striping", "512K-striping",
                         "1M-striping"),
          .dialects = D84 | D9 },
        { "disk/rs-discard-granularity", DISK, DISK, OPT_INT, 0, 1 << 20, SCALE_BYTES, .dialects = D9 },
        { "disk/discard-zeroes-if-aligned", DISK, DISK, OPT_BOOL, .dialects = D9 },

        /* resource options */
        /* 31: drbd-utils 9.22 refuses longer ("Value is too long"); the kernel's
         * cpu_mask attribute is a 32-byte string in 8.4 and 9 alike. */
        { "options/cpu-mask", OPTS, OPTS, OPT_HEX, 1, 31, .dialects = D84 | D9 },
        { "options/on-no-data-accessible", OPTS, OPTS, OPT_WORD, .words = WORDS("io-error", "suspend-io"),
          .dialects = D84 | D9 },
        { "options/auto-promote", OPTS, OPTS, OPT_BOOL, .dialects = D9 },
        { "options/quorum", OPTS, OPTS, OPT_INT_OR_WORD, 1, 32, .words = WORDS("off", "majority", "all"), .dialects = D9 },
        { "options/quorum-minimum-redundancy", OPTS, OPTS, OPT_INT_OR_WORD, 1, 32,
          .words = WORDS("off", "majority", "all"), .dialects = D9 },
        { "options/on-no-quorum", OPTS, OPTS, OPT_WORD, .words = WORDS("io-error", "suspend-io"), .dialects = D9 },
};

static const OptionDef *option_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(option_table); i++)
                if (streq(option_table[i].name, name))
                        return &option_table[i];
        return NULL;
}

_printf_(2, 3) static int option_fail(char **ret_msg, const char *fmt, ...) {
        va_list ap;
        int r;

        if (!ret_msg)
                return -EINVAL;
        va_start(ap, fmt);
        r = vasprintf(ret_msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret_msg = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static bool word_in(const char *const *words, const char *v) {
        for (; *words; words++)
                if (streq(*words, v))
                        return true;
        return false;
}

/* Parses plain decimal digits with an optional k/K, m/M, g/G suffix (when the option has
 * a unit) into the option's base unit. Returns 0, -EINVAL (syntax) or -ERANGE. */
static int option_parse_int(const OptionDef *def, const char *v, uint64_t *ret) {
        uint64_t n = 0, unit_bytes = 1, base_bytes;
        const char *p = v;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (n > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                n = n * 10 + (uint64_t) (*p - '0');
        }
        if (*p) {
                if (def->scale == SCALE_NONE || p[1])
                        return -EINVAL;
                switch (*p) {
                case 'k': case 'K': unit_bytes = UINT64_C(1) << 10; break;
                case 'm': case 'M': unit_bytes = UINT64_C(1) << 20; break;
                case 'g': case 'G': unit_bytes = UINT64_C(1) << 30; break;
                default: return -EINVAL;
                }
                base_bytes = def->scale == SCALE_KIB ? 1024 : def->scale == SCALE_SECTORS ? 512 : 1;
                if (n > UINT64_MAX / unit_bytes)
                        return -ERANGE;
                n = n * unit_bytes / base_bytes; /* suffixes are multiples of every base unit */
        }
        *ret = n;
        return 0;
}

static const char *scale_unit_name(OptionScale s) {
        switch (s) {
        case SCALE_BYTES: return "bytes";
        case SCALE_KIB: return "KiB";
        case SCALE_SECTORS: return "sectors";
        default: return NULL;
        }
}

static int option_expected(const OptionDef *def, char **ret) {
        char buf[512] = "";
        size_t l = 0;

        if (def->type == OPT_BOOL)
                return asprintf(ret, "yes or no") < 0 ? -ENOMEM : 0;
        if (def->type == OPT_HEX)
                return asprintf(ret, "a hexadecimal CPU mask of %u..%u digits", (unsigned) def->min,
                                (unsigned) def->max) < 0 ? -ENOMEM : 0;
        if (def->words) {
                l += (size_t) snprintf(buf + l, sizeof buf - l, "one of ");
                for (size_t i = 0; def->words[i] && l < sizeof buf; i++)
                        l += (size_t) snprintf(buf + l, sizeof buf - l, "%s%s", i ? ", " : "", def->words[i]);
        }
        if (def->type == OPT_INT || def->type == OPT_INT_OR_WORD) {
                const char *u = scale_unit_name(def->scale);
                if (l < sizeof buf)
                        l += (size_t) snprintf(buf + l, sizeof buf - l, "%san integer %llu..%llu%s%s%s", l ? ", or " : "",
                                               (unsigned long long) def->min, (unsigned long long) def->max,
                                               u ? " (" : "", u ?: "", u ? ", optional suffix k, M or G)" : "");
        }
        return asprintf(ret, "%s", buf) < 0 ? -ENOMEM : 0;
}

int drbd_option_split(const char *name, OptionSection *ret_section, const char **ret_key) {
        const char *slash;
        char sec[16];
        int s;

        if (!name)
                return -EINVAL;
        slash = strchr(name, '/');
        if (!slash || (size_t) (slash - name) >= sizeof sec || !slash[1])
                return -EINVAL;
        memcpy(sec, name, (size_t) (slash - name));
        sec[slash - name] = '\0';
        s = option_section_from_string(sec);
        if (s < 0)
                return s;
        if (ret_section)
                *ret_section = (OptionSection) s;
        if (ret_key)
                *ret_key = slash + 1;
        return 0;
}

int drbd_option_validate(const char *name, const char *value, char **ret_msg) {
        _cleanup_free_ char *qn = NULL, *qv = NULL, *expected = NULL;
        const OptionDef *def;
        uint64_t n;
        bool ok = false;
        int r;

        def = option_find(name);
        if (!def) {
                qn = utf8_quote_untrusted(name);
                if (!qn)
                        return -ENOMEM;
                return option_fail(ret_msg, "unknown DRBD option '%s'", qn);
        }

        if (value && strnlen(value, 65) <= 64) {
                switch (def->type) {
                case OPT_BOOL:
                        ok = streq(value, "yes") || streq(value, "no");
                        break;
                case OPT_WORD:
                        ok = word_in(def->words, value);
                        break;
                case OPT_INT_OR_WORD:
                        if (word_in(def->words, value)) {
                                ok = true;
                                break;
                        }
                        __attribute__((fallthrough));
                case OPT_INT:
                        ok = option_parse_int(def, value, &n) >= 0 && n >= def->min && n <= def->max;
                        break;
                case OPT_HEX:
                        ok = strspn(value, "0123456789abcdefABCDEF") == strlen(value) &&
                             strlen(value) >= def->min && strlen(value) <= def->max;
                        break;
                }
        }
        if (ok)
                return 0;
        if (!ret_msg)
                return -EINVAL;

        qv = utf8_quote_untrusted(value);
        r = option_expected(def, &expected);
        if (!qv || r < 0)
                return -ENOMEM;
        return option_fail(ret_msg, "invalid value for %s: '%s' (expected %s)", def->name, qv, expected);
}

bool drbd_option_supported(const char *name, DrbdDialect d) {
        const OptionDef *def = option_find(name);
        return def && (unsigned) d < _DRBD_DIALECT_MAX && (def->dialects & (1u << d));
}

int drbd_option_section(const char *name, DrbdDialect d, OptionSection *ret_section, const char **ret_key) {
        const OptionDef *def = option_find(name);

        if (!def || (unsigned) d >= _DRBD_DIALECT_MAX || !(def->dialects & (1u << d)))
                return -EINVAL;
        if (ret_section)
                *ret_section = d == DRBD_DIALECT_84 ? def->section_84 : def->section;
        if (ret_key)
                *ret_key = strchr(def->name, '/') + 1;
        return 0;
}

int drbd_option_index(const char *name) {
        const OptionDef *def = option_find(name);
        return def ? (int) (def - option_table) : -EINVAL;
}

const char *drbd_option_name(unsigned i) {
        return i < ELEMENTSOF(option_table) ? option_table[i].name : NULL;
}

const OptionDef *drbd_option_def(unsigned i) {
        return i < ELEMENTSOF(option_table) ? &option_table[i] : NULL;
}
