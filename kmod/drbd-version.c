/* Reads and parses the DRBD kernel module version and derives what that version can do. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drbd-version.h"
#include "json-util.h"
#include "macro.h"

/* The header of /proc/drbd is in the first lines; a huge per-device table
 * after it (8.4) is never needed. */
#define DRBD_PROC_READ_MAX 4096

static const char *const source_table[_DRBD_VERSION_SOURCE_MAX] = {
        [DRBD_VERSION_SOURCE_PROC] = "proc",
        [DRBD_VERSION_SOURCE_SYSFS] = "sysfs",
};

const char *drbd_version_source_to_string(DrbdVersionSource s) {
        return (unsigned) s < _DRBD_VERSION_SOURCE_MAX ? source_table[s] : NULL;
}

int drbd_version_source_from_string(const char *s) {
        for (unsigned i = 0; s && i < _DRBD_VERSION_SOURCE_MAX; i++)
                if (streq(s, source_table[i]))
                        return (int) i;
        return -EINVAL;
}

/* Decimal number of 1..4 digits at *p; advances *p. */
static int parse_small(const char **p, unsigned *ret) {
        unsigned v = 0, n = 0;
        while (**p >= '0' && **p <= '9' && n < 5) {
                v = v * 10 + (unsigned) (**p - '0');
                (*p)++;
                n++;
        }
        if (n == 0 || n > 4)
                return -EINVAL;
        *ret = v;
        return 0;
}

static bool expect(const char **p, const char *lit) {
        size_t n = strlen(lit);
        if (strncmp(*p, lit, n) != 0)
                return false;
        *p += n;
        return true;
}

static bool version_char(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
               c == '-' || c == '_' || c == '~' || c == '+';
}

/* "8.4.11" or "9.2.8-rc.1" at *p, up to a space, '(' or end of line. */
static int parse_version_token(const char **p, DrbdKernelInfo *info) {
        const char *start = *p, *q = *p;
        size_t n;

        if (parse_small(&q, &info->major) < 0 || !expect(&q, ".") || parse_small(&q, &info->minor) < 0 ||
            !expect(&q, ".") || parse_small(&q, &info->patch) < 0)
                return -EINVAL;
        /* Optional suffix: "-rc.1", "~beta", "+git" ... */
        if (*q == '-' || *q == '~' || *q == '+' || *q == '_')
                while (version_char(*q))
                        q++;
        if (*q && *q != ' ' && *q != '\n')
                return -EINVAL;
        n = (size_t) (q - start);
        if (n >= sizeof(info->version))
                return -EINVAL;
        memcpy(info->version, start, n);
        info->version[n] = 0;
        *p = q;
        return 0;
}

static int derive_capabilities(DrbdKernelInfo *info) {
        if (info->major == 8 && info->minor == 4) {
                info->dialect = DRBD_DIALECT_84;
                info->max_peers = 1;
                info->diskless_clients = false;
                info->quorum = false;
        } else if (info->major == 9) {
                info->dialect = DRBD_DIALECT_9;
                info->max_peers = 31;
                info->diskless_clients = true;
                /* Quorum arrived with 9.0.8. */
                info->quorum = info->minor > 0 || info->patch >= 8;
        } else
                return -EOPNOTSUPP;
        return 0;
}

/* Copies a bounded token of printable characters after "key: " on a line. */
static void copy_token(const char *p, const char *end, char *dst, size_t size) {
        size_t n = 0;
        while (p < end && *p == ' ')
                p++;
        while (p + n < end && p[n] > ' ' && p[n] <= '~' && n + 1 < size)
                n++;
        /* A token that does not fit or holds odd bytes is left out. */
        if (p + n < end && p[n] > ' ')
                n = 0;
        memcpy(dst, p, n);
        dst[n] = 0;
}

int drbd_version_parse_proc(const char *text, size_t len, DrbdKernelInfo *ret) {
        char buf[DRBD_PROC_READ_MAX + 1];
        DrbdKernelInfo info = { .source = DRBD_VERSION_SOURCE_PROC };
        const char *p, *eol;
        int r;

        if (!text || !ret)
                return -EINVAL;
        len = MIN(len, (size_t) DRBD_PROC_READ_MAX);
        memcpy(buf, text, len);
        buf[len] = 0;
        if (strlen(buf) != len) /* embedded NUL */
                return -EINVAL;

        p = buf;
        if (!expect(&p, "version: "))
                return -EINVAL;
        r = parse_version_token(&p, &info);
        if (r < 0)
                return r;
        if (expect(&p, " (api:")) {
                if (parse_small(&p, &info.api) < 0 || !expect(&p, "/proto:") ||
                    parse_small(&p, &info.proto_min) < 0 || !expect(&p, "-") ||
                    parse_small(&p, &info.proto_max) < 0 || !expect(&p, ")") ||
                    info.proto_min > info.proto_max)
                        return -EINVAL;
                info.has_api = info.has_proto = true;
        }
        while (*p == ' ')
                p++;
        if (*p && *p != '\n')
                return -EINVAL;

        /* Following lines: pick srcversion / GIT-hash, ignore the rest. */
        for (; *p; p = eol) {
                if (*p == '\n')
                        p++;
                eol = strchrnul(p, '\n');
                if (startswith(p, "srcversion:"))
                        copy_token(p + strlen("srcversion:"), eol, info.srcversion, sizeof(info.srcversion));
                else if (startswith(p, "GIT-hash:"))
                        copy_token(p + strlen("GIT-hash:"), eol, info.srcversion, sizeof(info.srcversion));
        }

        r = derive_capabilities(&info);
        if (r < 0)
                return r;
        *ret = info;
        return 0;
}

int drbd_version_parse_sysfs(const char *text, size_t len, DrbdKernelInfo *ret) {
        char buf[64];
        DrbdKernelInfo info = { .source = DRBD_VERSION_SOURCE_SYSFS };
        const char *p = buf;
        int r;

        if (!text || !ret)
                return -EINVAL;
        if (len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, text, len);
        buf[len] = 0;
        if (strlen(buf) != len)
                return -EINVAL;
        r = parse_version_token(&p, &info);
        if (r < 0)
                return r;
        if (*p == '\n')
                p++;
        if (*p)
                return -EINVAL;
        r = derive_capabilities(&info);
        if (r < 0)
                return r;
        *ret = info;
        return 0;
}

/* Reads up to max bytes of a file (procfs files may report size 0). */
static int read_head(const char *path, char *buf, size_t max, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = 0;

        if (fd < 0)
                return -errno;
        while (len < max) {
                ssize_t n = read(fd, buf + len, max - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        *ret_len = len;
        return 0;
}

int drbd_kernel_info_detect(const char *root, DrbdKernelInfo *ret) {
        char path[4096], buf[DRBD_PROC_READ_MAX];
        size_t len = 0;
        int r;

        if (!root || !*root)
                root = "";
        if ((size_t) snprintf(path, sizeof(path), "%s/proc/drbd", root) >= sizeof(path))
                return -ENAMETOOLONG;
        r = read_head(path, buf, sizeof(buf), &len);
        if (r >= 0)
                return drbd_version_parse_proc(buf, len, ret);
        if (r != -ENOENT)
                return r;

        if ((size_t) snprintf(path, sizeof(path), "%s/sys/module/drbd/version", root) >= sizeof(path))
                return -ENAMETOOLONG;
        r = read_head(path, buf, 63, &len);
        if (r < 0)
                return r;
        return drbd_version_parse_sysfs(buf, len, ret);
}

int drbd_kernel_info_to_json(const DrbdKernelInfo *info, json_t **ret) {
        _cleanup_json_ json_t *o = NULL;

        o = json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:i, s:b, s:b}",
                      "version", info->version,
                      "major", (int) info->major,
                      "minor", (int) info->minor,
                      "patch", (int) info->patch,
                      "source", strna(drbd_version_source_to_string(info->source)),
                      "dialect", strna(drbd_dialect_to_string(info->dialect)),
                      "max_peers", (int) info->max_peers,
                      "diskless_clients", (int) info->diskless_clients,
                      "quorum", (int) info->quorum);
        if (!o)
                return -ENOMEM;
        if (info->has_api && json_object_set_new(o, "api", json_integer(info->api)) < 0)
                return -ENOMEM;
        if (info->has_proto &&
            (json_object_set_new(o, "proto_min", json_integer(info->proto_min)) < 0 ||
             json_object_set_new(o, "proto_max", json_integer(info->proto_max)) < 0))
                return -ENOMEM;
        if (info->srcversion[0] && json_object_set_new(o, "srcversion", json_string(info->srcversion)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
