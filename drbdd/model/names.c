/* Validation of resource, node, pool and property names against DRBD, LVM and LINSTOR rules. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "utf8.h"
#include "drbdd/model/names.h"

static const char *const name_kind_table[_NAME_KIND_MAX] = {
        [NAME_RESOURCE] = "resource",
        [NAME_NODE] = "node",
        [NAME_POOL] = "pool",
        [NAME_PROPERTY] = "property",
};

const char *name_kind_to_string(NameKind k) {
        if ((unsigned) k >= _NAME_KIND_MAX)
                return NULL;
        return name_kind_table[k];
}

int name_kind_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < _NAME_KIND_MAX; i++)
                if (streq(s, name_kind_table[i]))
                        return (int) i;
        return -EINVAL;
}

/* Sets *ret_msg (if given) to "invalid KIND name 'NAME': REASON" and returns -EINVAL. */
_printf_(4, 5) static int name_fail(const char *what, const char *name, char **ret_msg, const char *fmt, ...) {
        _cleanup_free_ char *q = NULL, *reason = NULL;
        va_list ap;
        int r;

        if (!ret_msg)
                return -EINVAL;

        va_start(ap, fmt);
        r = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        if (!name)
                r = asprintf(ret_msg, "invalid %s: %s", what, reason);
        else {
                q = utf8_quote_untrusted(name);
                if (!q)
                        return -ENOMEM;
                r = asprintf(ret_msg, "invalid %s '%s': %s", what, q, reason);
        }
        if (r < 0) {
                *ret_msg = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

/* Describes the character p starts with for a message: "'/'", "control character 0x0a",
 * "non-ASCII character U+00E9", "invalid UTF-8 byte 0xff". */
static void describe_char(const char *p, char *buf, size_t len) {
        unsigned char c = (unsigned char) *p;
        uint32_t cp;

        if (c < 0x20 || c == 0x7f)
                snprintf(buf, len, "control character 0x%02x", c);
        else if (c >= 0x80 && utf8_decode(p, &cp) > 0)
                snprintf(buf, len, "non-ASCII character U+%04X", (unsigned) cp);
        else if (c >= 0x80)
                snprintf(buf, len, "invalid UTF-8 byte 0x%02x", c);
        else if (c == ' ')
                snprintf(buf, len, "a space");
        else
                snprintf(buf, len, "'%c'", c);
}

static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

/* Resource and pool names: 2..48 of [A-Za-z0-9_-], starting with a letter or '_'. */
static int validate_identifier(const char *what, const char *name, char **ret_msg) {
        char d[32];
        size_t n;

        for (n = 0; name[n]; n++) {
                char c = name[n];
                if (!is_alnum(c) && c != '_' && c != '-') {
                        describe_char(name + n, d, sizeof d);
                        return name_fail(what, name, ret_msg, "%s is not allowed (use A-Z a-z 0-9 _ -)", d);
                }
        }
        if (!is_alpha(name[0]) && name[0] != '_')
                return name_fail(what, name, ret_msg, "must start with a letter or '_'");
        if (n < 2)
                return name_fail(what, name, ret_msg, "too short (at least 2 characters)");
        if (n > 48)
                return name_fail(what, name, ret_msg, "too long (%zu characters, at most 48)", n);
        return 0;
}

/* Node names: DNS host names, and not all digits (LINSTOR, and not to be taken for an address). */
static int validate_node(const char *what, const char *name, char **ret_msg) {
        size_t n, label = 0;
        bool only_digits = true;
        char d[32];

        for (n = 0; name[n]; n++) {
                char c = name[n];
                if (c == '.') {
                        if (label == 0)
                                return name_fail(what, name, ret_msg, "empty label (leading, trailing or double '.')");
                        if (name[n - 1] == '-')
                                return name_fail(what, name, ret_msg, "a label must not end with '-'");
                        label = 0;
                        continue;
                }
                if (!is_alnum(c) && c != '-') {
                        describe_char(name + n, d, sizeof d);
                        return name_fail(what, name, ret_msg, "%s is not allowed (use A-Z a-z 0-9 - and '.' between labels)", d);
                }
                if (c == '-' && label == 0)
                        return name_fail(what, name, ret_msg, "a label must not start with '-'");
                if (!is_digit(c))
                        only_digits = false;
                if (++label > 63)
                        return name_fail(what, name, ret_msg, "a label is longer than 63 characters");
        }
        if (label == 0)
                return name_fail(what, name, ret_msg, "empty label (leading, trailing or double '.')");
        if (name[n - 1] == '-')
                return name_fail(what, name, ret_msg, "a label must not end with '-'");
        if (n > 253)
                return name_fail(what, name, ret_msg, "too long (%zu characters, at most 253)", n);
        if (only_digits)
                return name_fail(what, name, ret_msg, "must not consist of digits only");
        return 0;
}

/* Property keys: 1..64 of [A-Za-z0-9_/.-], starting with a letter; '/' separates non-empty
 * segments that are not "." or ".." (keys end up in store paths). */
static int validate_property(const char *what, const char *name, char **ret_msg) {
        const char *seg;
        size_t n;
        char d[32];

        for (n = 0; name[n]; n++) {
                char c = name[n];
                if (!is_alnum(c) && !strchr("_/.-", c)) {
                        describe_char(name + n, d, sizeof d);
                        return name_fail(what, name, ret_msg, "%s is not allowed (use A-Z a-z 0-9 _ - . /)", d);
                }
        }
        if (!is_alpha(name[0]))
                return name_fail(what, name, ret_msg, "must start with a letter");
        if (n > 64)
                return name_fail(what, name, ret_msg, "too long (%zu characters, at most 64)", n);

        seg = name;
        for (;;) {
                size_t len = strcspn(seg, "/");
                if (len == 0)
                        return name_fail(what, name, ret_msg, "empty segment between '/'");
                if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                        return name_fail(what, name, ret_msg, "'.' and '..' are not allowed as segments");
                if (!seg[len])
                        break;
                seg += len + 1;
        }
        return 0;
}

int name_validate(NameKind kind, const char *name, char **ret_msg) {
        char what[32];

        if ((unsigned) kind >= _NAME_KIND_MAX) {
                if (ret_msg)
                        *ret_msg = strdup("invalid name kind");
                return -EINVAL;
        }
        snprintf(what, sizeof what, kind == NAME_PROPERTY ? "%s key" : "%s name", name_kind_table[kind]);

        if (!name)
                return name_fail(what, NULL, ret_msg, "missing");
        if (!name[0])
                return name_fail(what, name, ret_msg, "empty");

        switch (kind) {
        case NAME_RESOURCE:
        case NAME_POOL:
                return validate_identifier(what, name, ret_msg);
        case NAME_NODE:
                return validate_node(what, name, ret_msg);
        case NAME_PROPERTY:
                return validate_property(what, name, ret_msg);
        default:
                return -EINVAL;
        }
}

int name_property_value_validate(const char *value, char **ret_msg) {
        const char *what = "property value";
        char d[32];
        size_t n;

        if (!value)
                return name_fail(what, NULL, ret_msg, "missing");
        if (!value[0])
                return name_fail(what, value, ret_msg, "empty");
        for (n = 0; value[n]; n++) {
                unsigned char c = (unsigned char) value[n];
                if (c <= 0x20 || c >= 0x7f || strchr("\"'`{};#\\", c)) {
                        describe_char(value + n, d, sizeof d);
                        return name_fail(what, value, ret_msg, "%s is not allowed (printable ASCII without quotes, braces, ';', '#', '\\')", d);
                }
        }
        if (n > 64)
                return name_fail(what, value, ret_msg, "too long (%zu characters, at most 64)", n);
        return 0;
}
