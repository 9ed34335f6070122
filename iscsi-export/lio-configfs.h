/* Primitive configfs operations (mkdir, rmdir, symlink, attribute reads and writes) behind a replaceable ops table, and the library's last-error message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Every mutation of configfs and the probe of the block device go through
 * this table, so unit tests can imitate what the kernel does on mkdir (it
 * creates default groups and attributes) and inject faults (-EBUSY from an
 * attribute write). Each returns 0 or a negative errno. */
typedef struct LioFsOps {
        int (*mkdir)(const char *path, void *userdata);
        int (*rmdir)(const char *path, void *userdata);
        int (*symlink)(const char *target, const char *linkpath, void *userdata);
        int (*unlink)(const char *path, void *userdata);
        /* One write(2) of exactly value, no newline (configfs keeps it). */
        int (*write)(const char *path, const char *value, void *userdata);
        /* Is path a block device that nobody holds exclusively? -ENOENT,
         * -ENOTBLK, -EBUSY, or the open(2) error. */
        int (*probe_device)(const char *path, void *userdata);
} LioFsOps;

/* Installs ops (NULL: the real system calls). Not thread-safe; for tests. */
void lio_fs_set_ops(const LioFsOps *ops, void *userdata);

/* The real operations, for test doubles that wrap them. */
int lio_fs_real_mkdir(const char *path, void *userdata);
int lio_fs_real_rmdir(const char *path, void *userdata);
int lio_fs_real_symlink(const char *target, const char *linkpath, void *userdata);
int lio_fs_real_unlink(const char *path, void *userdata);
int lio_fs_real_write(const char *path, const char *value, void *userdata);
int lio_fs_real_probe_device(const char *path, void *userdata);

/* mkdir; an existing directory is success (returns 0, or 1 when created). */
int lio_fs_mkdir(const char *path);
/* rmdir; a missing directory is success (returns 0, or 1 when removed). */
int lio_fs_rmdir(const char *path);
int lio_fs_symlink(const char *target, const char *linkpath);
/* unlink; a missing entry is success. */
int lio_fs_unlink(const char *path);
int lio_fs_write(const char *path, const char *value);
int lio_fs_probe_device(const char *path);

/* Reads an attribute (at most one page), stripped with lio_attr_strip().
 * Caller frees *ret. -ENOENT when missing. */
int lio_fs_read(const char *path, char **ret);
/* Writes value unless the attribute already reads back as value. */
int lio_fs_ensure_value(const char *path, const char *value);
/* Reads a symlink; caller frees *ret. */
int lio_fs_readlink(const char *path, char **ret);
bool lio_fs_is_dir(const char *path);
bool lio_fs_exists(const char *path);

/* Lists the entries of a directory (no "." and ".."), sorted, NULL-terminated;
 * caller frees with lio_strv_free(). A missing directory gives an empty list
 * when missing_ok, else -ENOENT. only_dirs skips attributes and links. */
int lio_fs_list(const char *dir, bool only_dirs, bool missing_ok, char ***ret);

void lio_strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, lio_strv_free);
size_t lio_strv_length(char *const *l);
/* Appends a copy of s; -ENOMEM on failure. */
int lio_strv_push(char ***l, const char *s);
bool lio_strv_contains(char *const *l, const char *s);

/* "root/a/b/c" from NULL-terminated parts; NULL on OOM. */
char *lio_path(const char *first, ...) __attribute__((sentinel));

/* The last error of a library call on this thread: a one-line message with
 * context, e.g. "device /dev/drbd1000 is in exclusive use (mounted, held by
 * device-mapper or exported elsewhere)". Empty when none. */
const char *lio_error_last(void);
void lio_error_clear(void);
/* Records the message and returns -abs(error) (error 0 is taken as -EIO). */
int lio_error_set(int error, const char *fmt, ...) _printf_(2, 3);
