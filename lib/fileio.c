/* File helpers: atomic writes (temp + fsync + rename), reads, mkdir -p. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = NULL, *dircopy = strdup(path);
        _cleanup_close_ int fd = -1, dfd = -1;
        if (!dircopy || asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = 0;
        if (fchmod(fd, mode) < 0)
                r = -errno;
        for (size_t off = 0; r == 0 && off < len;) {
                ssize_t n = write(fd, (const char *) data + off, len - off);
                if (n < 0) {
                        if (errno != EINTR)
                                r = -errno;
                } else
                        off += (size_t) n;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

int fileio_read_full(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        cap = MAX(cap * 2, len + 4096 + 1);
                        char *n = realloc(buf, cap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                }
                ssize_t k = read(fd, buf + len, cap - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = strdup("")))
                return -ENOMEM;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* Creates one directory; an existing directory is fine, anything else in the way is -ENOTDIR. */
static int mkdir_one(const char *path, mode_t mode) {
        struct stat st;
        if (mkdir(path, mode) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fileio_mkdir_p(const char *path, mode_t mode) {
        if (!path || !*path)
                return -EINVAL;
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/' && s[-1] != '/') {
                        *s = 0;
                        int r = mkdir_one(p, mode);
                        if (r < 0)
                                return r;
                        *s = '/';
                }
        return mkdir_one(p, mode);
}

int fileio_write_if_changed(const char *path, const char *text, mode_t mode) {
        _cleanup_free_ char *cur = NULL;
        size_t len;
        if (fileio_read_full(path, 1 << 20, &cur, &len) >= 0 && len == strlen(text) && memcmp(cur, text, len) == 0)
                return 0;
        int r = fileio_write_atomic(path, text, strlen(text), mode);
        return r < 0 ? r : 1;
}
