/* Primitive configfs operations behind a replaceable ops table, and the thread's last error message. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "lio-configfs.h"
#include "lio-names.h"

#define ATTR_MAX 4096 /* configfs shows at most a page */

static __thread char error_buf[1024];

const char *lio_error_last(void) { return error_buf; }
void lio_error_clear(void) { error_buf[0] = '\0'; }

int lio_error_set(int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(error_buf, sizeof error_buf, fmt, ap);
        va_end(ap);
        log_debug("lio: %s", error_buf);
        if (error == 0)
                return -EIO;
        return error < 0 ? error : -error;
}

int lio_fs_real_mkdir(const char *path, void *userdata) {
        return RET_NERRNO(mkdir(path, 0755));
}

int lio_fs_real_rmdir(const char *path, void *userdata) {
        return RET_NERRNO(rmdir(path));
}

int lio_fs_real_symlink(const char *target, const char *linkpath, void *userdata) {
        return RET_NERRNO(symlink(target, linkpath));
}

int lio_fs_real_unlink(const char *path, void *userdata) {
        return RET_NERRNO(unlink(path));
}

int lio_fs_real_write(const char *path, const char *value, void *userdata) {
        _cleanup_close_ int fd = -1;
        size_t n = strlen(value);
        ssize_t w;

        /* No O_CREAT: configfs attributes exist or the object is wrong. */
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* configfs hands each write(2) to the attribute's store function:
         * the whole value in one call, or it sees a fragment. */
        w = write(fd, value, n);
        if (w < 0)
                return -errno;
        if ((size_t) w != n)
                return -EIO;
        return 0;
}

int lio_fs_real_probe_device(const char *path, void *userdata) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        /* O_EXCL on a block device claims it like LIO's iblock does: EBUSY
         * when mounted, a PV/dm member, or exported already. */
        fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        return 0;
}

static const LioFsOps real_ops = {
        .mkdir = lio_fs_real_mkdir,
        .rmdir = lio_fs_real_rmdir,
        .symlink = lio_fs_real_symlink,
        .unlink = lio_fs_real_unlink,
        .write = lio_fs_real_write,
        .probe_device = lio_fs_real_probe_device,
};
static const LioFsOps *ops = &real_ops;
static void *ops_userdata = NULL;

void lio_fs_set_ops(const LioFsOps *o, void *userdata) {
        ops = o ? o : &real_ops;
        ops_userdata = o ? userdata : NULL;
}

int lio_fs_mkdir(const char *path) {
        int r = ops->mkdir(path, ops_userdata);
        if (r == -EEXIST && lio_fs_is_dir(path))
                return 0;
        return r < 0 ? r : 1;
}

int lio_fs_rmdir(const char *path) {
        int r = ops->rmdir(path, ops_userdata);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

int lio_fs_symlink(const char *target, const char *linkpath) {
        return ops->symlink(target, linkpath, ops_userdata);
}

int lio_fs_unlink(const char *path) {
        int r = ops->unlink(path, ops_userdata);
        return r == -ENOENT ? 0 : r;
}

int lio_fs_write(const char *path, const char *value) {
        return ops->write(path, value, ops_userdata);
}

int lio_fs_probe_device(const char *path) {
        return ops->probe_device(path, ops_userdata);
}

int lio_fs_read(const char *path, char **ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        buf = malloc(ATTR_MAX + 1);
        if (!buf)
                return -ENOMEM;
        while (len < ATTR_MAX) {
                ssize_t n = read(fd, buf + len, ATTR_MAX - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        /* A NUL inside is not an attribute value we wrote. */
        if (strlen(buf) != len)
                return -EBADMSG;
        lio_attr_strip(buf);
        *ret = TAKE_PTR(buf);
        return 0;
}

int lio_fs_ensure_value(const char *path, const char *value) {
        _cleanup_free_ char *cur = NULL;

        if (lio_fs_read(path, &cur) >= 0 && streq(cur, value))
                return 0;
        return lio_fs_write(path, value);
}

int lio_fs_readlink(const char *path, char **ret) {
        char buf[4096];
        ssize_t n;

        n = readlink(path, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

bool lio_fs_is_dir(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool lio_fs_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int lio_fs_list(const char *dir, bool only_dirs, bool missing_ok, char ***ret) {
        _cleanup_(lio_strv_freep) char **l = NULL;
        DIR *d;
        struct dirent *e;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT && missing_ok) {
                        l = calloc(1, sizeof(char *));
                        if (!l)
                                return -ENOMEM;
                        *ret = TAKE_PTR(l);
                        return 0;
                }
                return -errno;
        }
        l = calloc(1, sizeof(char *));
        if (!l) {
                closedir(d);
                return -ENOMEM;
        }
        while ((e = readdir(d))) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                if (only_dirs) {
                        struct stat st;
                        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                                continue;
                }
                r = lio_strv_push(&l, e->d_name);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return r;
        qsort(l, lio_strv_length(l), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return 0;
}

void lio_strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

size_t lio_strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

int lio_strv_push(char ***l, const char *s) {
        size_t n = lio_strv_length(*l);
        char **nl, *c;

        c = strdup(s);
        if (!c)
                return -ENOMEM;
        nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[n] = c;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

bool lio_strv_contains(char *const *l, const char *s) {
        if (l)
                for (; *l; l++)
                        if (streq(*l, s))
                                return true;
        return false;
}

char *lio_path(const char *first, ...) {
        va_list ap;
        size_t len = 0;
        const char *p;
        char *s, *q;

        va_start(ap, first);
        for (p = first; p; p = va_arg(ap, const char *))
                len += strlen(p) + 1;
        va_end(ap);
        s = malloc(len + 1);
        if (!s)
                return NULL;
        q = s;
        va_start(ap, first);
        for (p = first; p; p = va_arg(ap, const char *)) {
                if (q != s)
                        *q++ = '/';
                q = stpcpy(q, p);
        }
        va_end(ap);
        *q = '\0';
        return s;
}
