/* Validation and formatting of IQNs, volume names, CHAP credentials, device paths, portals and unit serials for LIO configfs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "lio-names.h"
#include "utf8.h"

/* Sets *ret_msg to "invalid WHAT 'VALUE': REASON" (value omitted when secret). */
_printf_(5, 6) static int fail(const char *what, const char *value, bool secret, char **ret_msg, const char *fmt, ...) {
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
        if (secret || !value)
                r = asprintf(ret_msg, "invalid %s: %s", what, reason);
        else {
                q = utf8_quote_untrusted(value);
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

static void describe(unsigned char c, char *buf, size_t len) {
        if (c < 0x20 || c == 0x7f)
                snprintf(buf, len, "control character 0x%02x", c);
        else if (c >= 0x80)
                snprintf(buf, len, "non-ASCII byte 0x%02x", c);
        else if (c == ' ')
                snprintf(buf, len, "a space");
        else
                snprintf(buf, len, "'%c'", c);
}

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* The date part "YYYY-MM" at s; s has at least 7 characters checked by caller. */
static bool valid_date(const char *s) {
        int month;

        for (int i = 0; i < 4; i++)
                if (!is_digit(s[i]))
                        return false;
        if (s[4] != '-' || !is_digit(s[5]) || !is_digit(s[6]))
                return false;
        month = (s[5] - '0') * 10 + (s[6] - '0');
        return month >= 1 && month <= 12 && strncmp(s, "1900", 4) > 0;
}

int lio_iqn_validate(const char *what, const char *iqn, char **ret_msg) {
        size_t n, label = 0, i;
        const char *colon;
        char d[32];

        if (!iqn || !*iqn)
                return fail(what, NULL, false, ret_msg, "empty");
        n = strnlen(iqn, LIO_IQN_MAX + 1);
        if (n > LIO_IQN_MAX)
                return fail(what, iqn, false, ret_msg, "longer than %d bytes", LIO_IQN_MAX);
        for (i = 0; i < n; i++) {
                char c = iqn[i];
                if (is_upper(c))
                        return fail(what, iqn, false, ret_msg, "upper-case letter '%c' (IQNs are lower case)", c);
                if (!is_lower(c) && !is_digit(c) && c != '.' && c != '-' && c != ':') {
                        describe((unsigned char) c, d, sizeof d);
                        return fail(what, iqn, false, ret_msg, "%s is not allowed (use a-z 0-9 . - :)", d);
                }
        }
        if (strncmp(iqn, "iqn.", 4) != 0)
                return fail(what, iqn, false, ret_msg, "does not start with \"iqn.\"");
        if (n < 4 + 7 + 2 || !valid_date(iqn + 4) || iqn[11] != '.')
                return fail(what, iqn, false, ret_msg, "no date \"YYYY-MM.\" after \"iqn.\"");

        /* Reversed domain name: labels of [a-z0-9-] up to the first ':'. */
        colon = strchr(iqn + 12, ':');
        for (i = 12; i < n && iqn + i != colon; i++) {
                char c = iqn[i];
                if (c == '.') {
                        if (label == 0)
                                return fail(what, iqn, false, ret_msg, "empty label in the domain part");
                        label = 0;
                        continue;
                }
                if (c == '-' && label == 0)
                        return fail(what, iqn, false, ret_msg, "a domain label must not start with '-'");
                label++;
        }
        if (label == 0)
                return fail(what, iqn, false, ret_msg, "no naming authority (reversed domain name) after the date");
        if (colon) {
                if (colon[1] == '\0')
                        return fail(what, iqn, false, ret_msg, "empty identifier after ':'");
                if (strstr(colon, ".."))
                        return fail(what, iqn, false, ret_msg, "\"..\" is not allowed");
        }
        return 0;
}

int lio_initiator_validate(const char *name, char **ret_msg) {
        const char *what = "initiator name";
        size_t n;

        if (!name || !*name)
                return fail(what, NULL, false, ret_msg, "empty");
        if (strncmp(name, "eui.", 4) == 0 || strncmp(name, "naa.", 4) == 0) {
                bool naa = name[0] == 'n';
                n = strnlen(name + 4, 33);
                if (!(n == 16 || (naa && n == 32)))
                        return fail(what, name, false, ret_msg, "%s names carry %s hex digits",
                                    naa ? "naa." : "eui.", naa ? "16 or 32" : "16");
                for (size_t i = 0; i < n; i++)
                        if (!is_hex(name[4 + i]))
                                return fail(what, name, false, ret_msg, "not a hex digit at position %zu", 5 + i);
                return 0;
        }
        return lio_iqn_validate("initiator IQN", name, ret_msg);
}

int lio_volume_validate(const char *volume, char **ret_msg) {
        const char *what = "volume name";
        size_t n;
        char d[32];

        if (!volume || !*volume)
                return fail(what, NULL, false, ret_msg, "empty");
        n = strnlen(volume, LIO_VOLUME_MAX + 1);
        if (n > LIO_VOLUME_MAX)
                return fail(what, volume, false, ret_msg, "longer than %d characters", LIO_VOLUME_MAX);
        for (size_t i = 0; i < n; i++) {
                char c = volume[i];
                if (is_upper(c))
                        return fail(what, volume, false, ret_msg, "upper-case letter '%c' (it becomes part of an IQN, which is lower case)", c);
                if (!is_lower(c) && !is_digit(c) && c != '.' && c != '-') {
                        describe((unsigned char) c, d, sizeof d);
                        return fail(what, volume, false, ret_msg, "%s is not allowed (use a-z 0-9 . -)", d);
                }
        }
        if (!is_lower(volume[0]) && !is_digit(volume[0]))
                return fail(what, volume, false, ret_msg, "must start with a letter or a digit");
        if (strstr(volume, ".."))
                return fail(what, volume, false, ret_msg, "\"..\" is not allowed");
        return 0;
}

int lio_chap_user_validate(const char *what, const char *user, char **ret_msg) {
        size_t n;
        char d[32];

        if (!user || !*user)
                return fail(what, NULL, false, ret_msg, "empty");
        n = strnlen(user, LIO_CHAP_USER_MAX + 1);
        if (n > LIO_CHAP_USER_MAX)
                return fail(what, user, false, ret_msg, "longer than %d characters", LIO_CHAP_USER_MAX);
        for (size_t i = 0; i < n; i++) {
                char c = user[i];
                if (!is_lower(c) && !is_upper(c) && !is_digit(c) && !strchr("._:@-", c)) {
                        describe((unsigned char) c, d, sizeof d);
                        return fail(what, user, false, ret_msg, "%s is not allowed (use A-Z a-z 0-9 . _ : @ -)", d);
                }
        }
        if (streq(user, "NULL")) /* the kernel reads "NULL" as "clear" */
                return fail(what, user, false, ret_msg, "\"NULL\" is reserved by LIO");
        return 0;
}

int lio_chap_secret_validate(const char *what, const char *secret, char **ret_msg) {
        size_t n;

        if (!secret || !*secret)
                return fail(what, NULL, true, ret_msg, "empty");
        n = strnlen(secret, LIO_CHAP_SECRET_MAX + 1);
        if (n > LIO_CHAP_SECRET_MAX)
                return fail(what, NULL, true, ret_msg, "longer than %d characters", LIO_CHAP_SECRET_MAX);
        if (n < LIO_CHAP_SECRET_MIN)
                return fail(what, NULL, true, ret_msg, "%zu characters, at least %d are required", n, LIO_CHAP_SECRET_MIN);
        for (size_t i = 0; i < n; i++) {
                char c = secret[i];
                /* The character is not echoed: it is part of a secret. */
                if (!is_lower(c) && !is_upper(c) && !is_digit(c) && !strchr("-_.+=~!#^*,", c))
                        return fail(what, NULL, true, ret_msg, "character %zu is not allowed (use A-Z a-z 0-9 - _ . + = ~ ! # ^ * ,)", i + 1);
        }
        if (strncmp(secret, "NULL", 4) == 0)
                return fail(what, NULL, true, ret_msg, "must not start with \"NULL\" (LIO reads that as \"clear\")");
        return 0;
}

int lio_device_validate(const char *path, char **ret_msg) {
        const char *what = "device path";
        size_t n;
        char d[32];

        if (!path || !*path)
                return fail(what, NULL, false, ret_msg, "empty");
        n = strnlen(path, LIO_DEVICE_MAX + 1);
        if (n > LIO_DEVICE_MAX)
                return fail(what, path, false, ret_msg, "longer than %d characters", LIO_DEVICE_MAX);
        for (size_t i = 0; i < n; i++) {
                char c = path[i];
                if (!is_lower(c) && !is_upper(c) && !is_digit(c) && !strchr("._+:/-", c)) {
                        describe((unsigned char) c, d, sizeof d);
                        return fail(what, path, false, ret_msg, "%s is not allowed (use A-Z a-z 0-9 . _ + : / -)", d);
                }
        }
        if (strncmp(path, "/dev/", 5) != 0 || n < 6)
                return fail(what, path, false, ret_msg, "not a device under /dev/");
        if (strstr(path, "//") || strstr(path, "/./") || strstr(path, "..") || path[n - 1] == '/' ||
            (n >= 2 && streq(path + n - 2, "/.")))
                return fail(what, path, false, ret_msg, "not a normalised path (\"//\", \"/./\", \"..\" or a trailing '/')");
        return 0;
}

static int parse_port(const char *s, unsigned *ret) {
        unsigned long v = 0;

        if (!*s || strlen(s) > 5)
                return -EINVAL;
        for (; *s; s++) {
                if (!is_digit(*s))
                        return -EINVAL;
                v = v * 10 + (unsigned) (*s - '0');
        }
        if (v < 1 || v > 65535)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int lio_portal_canonical(const char *portal, char ret[static LIO_PORTAL_MAX], char **ret_msg) {
        const char *what = "portal";
        char host[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
        const char *port_s = NULL, *colon;
        unsigned port = LIO_ISCSI_PORT;
        unsigned char addr[16];
        size_t n;
        bool v6;

        if (!portal || !*portal)
                return fail(what, NULL, false, ret_msg, "empty");
        n = strnlen(portal, LIO_PORTAL_MAX + 1);
        if (n >= LIO_PORTAL_MAX)
                return fail(what, portal, false, ret_msg, "too long");

        if (portal[0] == '[') {
                const char *end = strchr(portal, ']');
                if (!end || (size_t) (end - portal - 1) >= sizeof host)
                        return fail(what, portal, false, ret_msg, "no closing ']'");
                memcpy(host, portal + 1, (size_t) (end - portal - 1));
                host[end - portal - 1] = '\0';
                if (end[1] == ':')
                        port_s = end + 2;
                else if (end[1] != '\0')
                        return fail(what, portal, false, ret_msg, "garbage after ']'");
                v6 = true;
        } else {
                colon = strchr(portal, ':');
                if (colon && strchr(colon + 1, ':')) {
                        /* Several colons: a bare IPv6 address, no port. */
                        if (n >= sizeof host)
                                return fail(what, portal, false, ret_msg, "too long");
                        memcpy(host, portal, n + 1);
                        v6 = true;
                } else {
                        size_t hl = colon ? (size_t) (colon - portal) : n;
                        if (hl >= sizeof host)
                                return fail(what, portal, false, ret_msg, "too long");
                        memcpy(host, portal, hl);
                        host[hl] = '\0';
                        port_s = colon ? colon + 1 : NULL;
                        v6 = false;
                }
        }
        if (port_s && parse_port(port_s, &port) < 0)
                return fail(what, portal, false, ret_msg, "port must be 1..65535");
        if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
                return fail(what, portal, false, ret_msg, "not an %s address", v6 ? "IPv6" : "IPv4");
        if (!inet_ntop(v6 ? AF_INET6 : AF_INET, addr, canon, sizeof canon))
                return fail(what, portal, false, ret_msg, "cannot format the address");
        snprintf(ret, LIO_PORTAL_MAX, v6 ? "[%s]:%u" : "%s:%u", canon, port);
        return 0;
}

int lio_target_iqn(const char *prefix, const char *volume, char **ret, char **ret_msg) {
        _cleanup_free_ char *iqn = NULL;
        int r;

        r = lio_iqn_validate("IQN prefix", prefix, ret_msg);
        if (r < 0)
                return r;
        r = lio_volume_validate(volume, ret_msg);
        if (r < 0)
                return r;
        if (asprintf(&iqn, "%s:%s", prefix, volume) < 0) {
                iqn = NULL;
                return -ENOMEM;
        }
        r = lio_iqn_validate("target IQN", iqn, ret_msg);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(iqn);
        return 0;
}

const char *lio_target_iqn_volume(const char *prefix, const char *iqn) {
        size_t n;

        if (!prefix || !iqn)
                return NULL;
        n = strlen(prefix);
        if (strncmp(iqn, prefix, n) != 0 || iqn[n] != ':')
                return NULL;
        if (lio_volume_validate(iqn + n + 1, NULL) < 0)
                return NULL;
        return iqn + n + 1;
}

void lio_serial_from_iqn(const char *iqn, char ret[static LIO_SERIAL_LEN + 1]) {
        /* FNV-1a, 128 bits, over a fixed namespace and the IQN: stable
         * across versions, nodes and architectures. Not cryptographic; the
         * names are not chosen by an adversary. */
        const unsigned __int128 prime = ((unsigned __int128) 1 << 88) + 0x13b;
        unsigned __int128 h = ((unsigned __int128) 0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
        const char *ns = "org.drbd.drbdd.iscsi-serial:";
        uint8_t b[16];

        for (const char *p = ns; *p; p++)
                h = (h ^ (uint8_t) *p) * prime;
        for (const char *p = iqn; *p; p++)
                h = (h ^ (uint8_t) *p) * prime;
        for (int i = 15; i >= 0; i--, h >>= 8)
                b[i] = (uint8_t) h;
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x80); /* version 8: custom */
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); /* variant RFC 9562 */
        snprintf(ret, LIO_SERIAL_LEN + 1,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

char *lio_attr_strip(char *s) {
        static const char label[] = "T10 VPD Unit Serial Number: ";
        size_t n;

        if (!s)
                return NULL;
        if (strncmp(s, label, sizeof label - 1) == 0)
                memmove(s, s + sizeof label - 1, strlen(s + sizeof label - 1) + 1);
        n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = '\0';
        return s;
}

int lio_info_udev_path(const char *info, char **ret) {
        static const char label[] = "UDEV PATH: ";
        const char *p;
        char *path;
        size_t n;

        if (!info)
                return -ENOENT;
        p = strstr(info, label);
        if (!p)
                return -ENOENT;
        p += sizeof label - 1;
        n = strcspn(p, " \t\r\n");
        if (n == 0)
                return -ENOENT;
        path = strndup(p, n);
        if (!path)
                return -ENOMEM;
        if (lio_device_validate(path, NULL) < 0) {
                free(path);
                return -EINVAL;
        }
        *ret = path;
        return 0;
}
