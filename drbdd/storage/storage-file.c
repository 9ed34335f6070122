/* File storage driver ("file", for development and tests): sparse <dir>/<name>.img on a loop device, linked as /dev/drbdd/<name>. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "drbdd/storage/storage-internal.h"
#include "exec.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

#define IMG_SUFFIX ".img"

typedef struct Loops {
        char **dev; /* "/dev/loopN" */
        size_t n;
} Loops;

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static void loops_done(Loops *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->dev[i]);
        free(l->dev);
        *l = (Loops) {};
}

/* Attaching an image: shared by file_attach() and the commands it is shown as.
 * Direct I/O: no second copy of the data in the page cache, and writes reach
 * the file in the order DRBD issued them. */
#define LOSETUP_ATTACH_ARGV(path) { "losetup", "--find", "--show", "--direct-io=on", (path), NULL }

static char *file_path(const StoragePool *p, const char *name) {
        char *s;
        return asprintf(&s, "%s/%s" IMG_SUFFIX, p->directory, name) < 0 ? NULL : s;
}

static int file_device_path(const StoragePool *p, const char *name, char **ret_path) {
        char *s;
        if (asprintf(&s, "%s/%s", storage_get_link_directory(), name) < 0)
                return -ENOMEM;
        *ret_path = s;
        return 0;
}

static bool loop_name_ok(const char *s) {
        size_t n;
        if (!startswith(s, "/dev/loop"))
                return false;
        s += strlen("/dev/loop");
        n = strspn(s, "0123456789");
        return n >= 1 && n <= 7 && s[n] == 0;
}

/* The loop devices whose backing file is `file`, from `losetup --json` (untrusted). */
static int loops_parse(const char *out, const char *file, Loops *ret, char **ret_msg) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *e = NULL;
        json_t *a, *el;
        Loops l = {};
        size_t i;

        /* losetup prints nothing at all when no device matches. */
        if (out[strspn(out, " \t\n")] == 0) {
                *ret = l;
                return 0;
        }
        j = json_parse(out, strlen(out), &e);
        if (!j)
                return storage_msgf(ret_msg, -EBADMSG, "losetup printed malformed JSON: %s", strna(e));
        a = json_object_get(j, "loopdevices");
        if (!json_is_array(a))
                return storage_msgf(ret_msg, -EBADMSG, "losetup printed JSON without loopdevices");
        json_array_foreach(a, i, el) {
                const char *name = json_get_str(el, "name", NULL), *back = json_get_str(el, "back-file", NULL);
                if (!json_is_object(el) || !name || !loop_name_ok(name)) {
                        loops_done(&l);
                        return storage_msgf(ret_msg, -EBADMSG, "losetup printed an invalid device");
                }
                if (!back || !streq(back, file))
                        continue;
                char **d = reallocarray(l.dev, l.n + 1, sizeof *d);
                if (!d || !(d[l.n] = strdup(name))) {
                        if (d)
                                l.dev = d;
                        loops_done(&l);
                        return -ENOMEM;
                }
                l.dev = d;
                l.n++;
        }
        *ret = l;
        return 0;
}

static int loops_of(const char *file, Loops *ret, char **ret_msg) {
        _cleanup_free_ char *out = NULL;
        char *argv[] = { "losetup", "--json", "--list", "--output", "NAME,BACK-FILE", "--associated", (char *) file, NULL };
        int r = storage_run(argv, STORAGE_LOSETUP_TIMEOUT_MS, &out, ret_msg);
        if (r < 0)
                return r;
        return loops_parse(out, file, ret, ret_msg);
}

static bool loops_have(const Loops *l, const char *dev) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->dev[i], dev))
                        return true;
        return false;
}

/* Claimed exclusively (by DRBD, a mount, ...)? Other errors: let losetup report them. */
static bool loop_busy(const char *dev) {
        int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return errno == EBUSY;
        close(fd);
        return false;
}

/* Points the link at dev, atomically (symlink + rename). */
static int link_set(const char *name, const char *dev, char **ret_msg) {
        _cleanup_free_ char *link = NULL, *tmp = NULL;
        const char *dir = storage_get_link_directory();

        if (file_device_path(NULL, name, &link) < 0 || asprintf(&tmp, "%s/.%s.new", dir, name) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return storage_msgf(ret_msg, -errno, "cannot create %s: %m", dir);
        (void) unlink(tmp);
        if (symlink(dev, tmp) < 0)
                return storage_msgf(ret_msg, -errno, "cannot create link %s: %m", tmp);
        if (rename(tmp, link) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return storage_msgf(ret_msg, r, "cannot create link %s: %s", link, strerror(-r));
        }
        return 0;
}

/* What the link points to, NULL if there is no link. */
static char *link_get(const char *name) {
        _cleanup_free_ char *link = NULL;
        char buf[256];
        ssize_t n;

        if (file_device_path(NULL, name, &link) < 0)
                return NULL;
        n = readlink(link, buf, sizeof buf - 1);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}

static int lstat_image(const char *path, struct stat *st, const char *name, char **ret_msg) {
        if (lstat(path, st) < 0) {
                if (errno == ENOENT)
                        return storage_msgf(ret_msg, -ENOENT, "volume '%s' not found (%s)", name, path);
                return storage_msgf(ret_msg, -errno, "cannot stat %s: %m", path);
        }
        if (!S_ISREG(st->st_mode))
                return storage_msgf(ret_msg, -EEXIST, "%s exists and is not a regular file", path);
        return 0;
}

/* ---- operations ----------------------------------------------------------- */

static int file_probe(StoragePool *const *pools, size_t n, StorageReport *reports) {
        for (size_t i = 0; i < n; i++) {
                const StoragePool *p = pools[i];
                StorageReport *rep = &reports[i];
                _cleanup_(closedirp) DIR *d = NULL;
                struct statvfs sv;
                struct dirent *de;

                *rep = (StorageReport) {};
                rep->data_percent = rep->metadata_percent = NAN;
                if (statvfs(p->directory, &sv) < 0 || !(d = opendir(p->directory))) {
                        rep->error = storage_msgf(&rep->message, errno == ENOENT ? -ENOENT : -errno,
                                                  "directory %s: %m", p->directory);
                        continue;
                }
                rep->total_kib = (uint64_t) sv.f_blocks * sv.f_frsize / 1024;
                rep->extent_kib = 4;
                rep->free_kib = (uint64_t) sv.f_bavail * sv.f_frsize / 1024;
                while ((de = readdir(d))) {
                        size_t l = strlen(de->d_name);
                        struct stat st;
                        _cleanup_free_ char *name = NULL, *link = NULL;

                        if (l <= strlen(IMG_SUFFIX) || !streq(de->d_name + l - strlen(IMG_SUFFIX), IMG_SUFFIX))
                                continue;
                        if (!(name = strndup(de->d_name, l - strlen(IMG_SUFFIX)))) {
                                rep->error = -ENOMEM;
                                break;
                        }
                        if (storage_name_validate(name, NULL) < 0 ||
                            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                                continue;
                        link = link_get(name);
                        if (storage_report_add(rep, TAKE_PTR(name), ((uint64_t) st.st_size + 1023) / 1024, NULL, false,
                                               link != NULL) < 0) {
                                rep->error = -ENOMEM;
                                break;
                        }
                }
                storage_report_sort(rep);
        }
        return 0;
}

static int file_attach(StoragePool *p, const char *name, char **ret_path, char **ret_msg) {
        _cleanup_free_ char *path = file_path(p, name), *cur = NULL, *out = NULL;
        Loops loops = {};
        const char *dev;
        struct stat st;
        int r;

        if (!path)
                return -ENOMEM;
        if ((r = lstat_image(path, &st, name, ret_msg)) < 0)
                return r;
        if ((r = loops_of(path, &loops, ret_msg)) < 0)
                return r;
        cur = link_get(name);
        if (cur && loops_have(&loops, cur))
                dev = cur; /* all in place */
        else if (loops.n > 0)
                dev = loops.dev[0];
        else {
                char *argv[] = LOSETUP_ATTACH_ARGV(path);
                if ((r = storage_run(argv, STORAGE_LOSETUP_TIMEOUT_MS, &out, ret_msg)) < 0)
                        goto finish;
                out[strcspn(out, "\n")] = 0;
                if (!loop_name_ok(out)) {
                        r = storage_msgf(ret_msg, -EBADMSG, "losetup printed no loop device name");
                        goto finish;
                }
                dev = out;
        }
        if (!(cur && streq(cur, dev)) && (r = link_set(name, dev, ret_msg)) < 0)
                goto finish;
        r = ret_path ? file_device_path(p, name, ret_path) : 0;
finish:
        loops_done(&loops);
        return r;
}

static int file_create(StoragePool *p, const char *name, uint64_t size_kib, char **ret_path, char **ret_msg) {
        _cleanup_free_ char *path = file_path(p, name);
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (!path)
                return -ENOMEM;
        if (stat(p->directory, &st) < 0 || !S_ISDIR(st.st_mode))
                return storage_msgf(ret_msg, -ENOENT, "directory %s of storage pool '%s' does not exist",
                                    p->directory, p->name);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
                return storage_msgf(ret_msg, -errno, "cannot create %s: %m", path);
        if (fd < 0) {
                if ((r = lstat_image(path, &st, name, ret_msg)) < 0)
                        return r;
                if ((uint64_t) st.st_size < size_kib * 1024)
                        return storage_msgf(ret_msg, -EEXIST, "volume '%s' exists with %llu KiB, less than the %llu KiB requested",
                                            name, (unsigned long long) st.st_size / 1024, (unsigned long long) size_kib);
        } else if (ftruncate(fd, (off_t) (size_kib * 1024)) < 0) {
                /* Sparse: reads zeros until written. */
                r = storage_msgf(ret_msg, errno == EFBIG || errno == ENOSPC ? -ENOSPC : -errno,
                                 "cannot size %s to %llu KiB: %m", path, (unsigned long long) size_kib);
                (void) unlink(path);
                return r;
        }
        return file_attach(p, name, ret_path, ret_msg);
}

static int file_remove(StoragePool *p, const char *name, char **ret_msg) {
        _cleanup_free_ char *path = file_path(p, name), *link = NULL, *cur = NULL;
        _cleanup_close_ int fd = -1;
        Loops loops = {};
        struct stat st;
        int r = 0;

        if (!path || file_device_path(p, name, &link) < 0)
                return -ENOMEM;
        if (lstat(path, &st) < 0) {
                if (errno != ENOENT)
                        return storage_msgf(ret_msg, -errno, "cannot stat %s: %m", path);
        } else if (!S_ISREG(st.st_mode))
                return storage_msgf(ret_msg, -EEXIST, "%s exists and is not a regular file", path);
        else {
                if ((r = loops_of(path, &loops, ret_msg)) < 0)
                        return r;
                for (size_t i = 0; i < loops.n; i++)
                        if (loop_busy(loops.dev[i])) {
                                r = storage_msgf(ret_msg, -EBUSY, "volume '%s' is open (%s still attached, e.g. to DRBD)",
                                                 name, loops.dev[i]);
                                goto finish;
                        }
                for (size_t i = 0; i < loops.n; i++) {
                        char *argv[] = { "losetup", "--detach", loops.dev[i], NULL };
                        if ((r = storage_run(argv, STORAGE_LOSETUP_TIMEOUT_MS, NULL, ret_msg)) < 0)
                                goto finish;
                }
        }
        if ((cur = link_get(name)) && unlink(link) < 0 && errno != ENOENT) {
                r = storage_msgf(ret_msg, -errno, "cannot remove %s: %m", link);
                goto finish;
        }
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) {
                if (errno != ENOENT)
                        r = storage_msgf(ret_msg, -errno, "cannot open %s: %m", path);
                goto finish; /* already gone */
        }
        /* Deallocate before unlinking: should anything still hold the file open, the data
         * is gone all the same. A new sparse file reads zeros wherever it was not written. */
        if (fstat(fd, &st) == 0 && st.st_size > 0 &&
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, st.st_size) < 0)
                log_debug("storage: cannot punch %s (%m), unlinking it anyway", path);
        if (unlink(path) < 0 && errno != ENOENT)
                r = storage_msgf(ret_msg, -errno, "cannot remove %s: %m", path);
finish:
        loops_done(&loops);
        return r;
}

static int file_resize(StoragePool *p, const char *name, uint64_t size_kib, char **ret_msg) {
        _cleanup_free_ char *path = file_path(p, name);
        _cleanup_close_ int fd = -1;
        Loops loops = {};
        struct stat st;
        int r;

        if (!path)
                return -ENOMEM;
        if ((r = lstat_image(path, &st, name, ret_msg)) < 0)
                return r;
        if ((uint64_t) st.st_size >= size_kib * 1024)
                return 0; /* never shrinks */
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || ftruncate(fd, (off_t) (size_kib * 1024)) < 0)
                return storage_msgf(ret_msg, errno == EFBIG || errno == ENOSPC ? -ENOSPC : -errno,
                                    "cannot grow %s to %llu KiB: %m", path, (unsigned long long) size_kib);
        /* The loop device keeps its old size until told. */
        if ((r = loops_of(path, &loops, ret_msg)) < 0)
                return r;
        for (size_t i = 0; i < loops.n && r >= 0; i++) {
                char *argv[] = { "losetup", "--set-capacity", loops.dev[i], NULL };
                r = storage_run(argv, STORAGE_LOSETUP_TIMEOUT_MS, NULL, ret_msg);
        }
        loops_done(&loops);
        return r;
}

/* The image is made in C (never a shell), so it is shown as a comment; its
 * loop device is attached by the command file_attach() runs. */
static int file_create_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out) {
        _cleanup_free_ char *path = file_path(p, name), *note = NULL;
        if (!path || asprintf(&note, "# create %s (mode 0600, sparse, %llu KiB)", path, (unsigned long long) size_kib) < 0)
                return -ENOMEM;
        char *argv[] = LOSETUP_ATTACH_ARGV(path);
        int r = json_array_append_new(out, json_string(note));
        return r < 0 ? -ENOMEM : storage_commands_add(out, argv);
}

static int file_resize_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out) {
        _cleanup_free_ char *path = file_path(p, name), *note = NULL;
        if (!path || asprintf(&note, "# grow %s to %llu KiB, then losetup --set-capacity on its loop device", path,
                              (unsigned long long) size_kib) < 0)
                return -ENOMEM;
        return json_array_append_new(out, json_string(note)) < 0 ? -ENOMEM : 0;
}

const StorageOps storage_file_ops = {
        .create_commands = file_create_commands,
        .resize_commands = file_resize_commands,
        .probe = file_probe,
        .create = file_create,
        .remove = file_remove,
        .resize = file_resize,
        .attach = file_attach,
        .device_path = file_device_path,
};
