/* Storage pools: parsing and validation, the front functions that dispatch to the drivers, shared helpers. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "drbdd/storage/storage-internal.h"
#include "drbdd/model/names.h"
#include "exec.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "utf8.h"

#define STORAGE_NAME_MAX 100   /* leaves room for the ".revert" of a revert under LVM's 127 */
#define STORAGE_VG_NAME_MAX 127
#define STORAGE_DIR_MAX 200
#define STORAGE_ERR_MAX 400

static const char *const driver_table[_STORAGE_DRIVER_MAX] = {
        [STORAGE_DRIVER_LVM] = "lvm",
        [STORAGE_DRIVER_LVM_THIN] = "lvm-thin",
        [STORAGE_DRIVER_FILE] = "file",
};

static const StorageOps *const driver_ops[_STORAGE_DRIVER_MAX] = {
        [STORAGE_DRIVER_LVM] = &storage_lvm_ops,
        [STORAGE_DRIVER_LVM_THIN] = &storage_lvm_thin_ops,
        [STORAGE_DRIVER_FILE] = &storage_file_ops,
};

static char *link_directory = NULL;

const char *storage_driver_to_string(StorageDriver d) {
        if ((unsigned) d >= _STORAGE_DRIVER_MAX)
                return NULL;
        return driver_table[d];
}

int storage_driver_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < _STORAGE_DRIVER_MAX; i++)
                if (streq(s, driver_table[i]))
                        return (int) i;
        return -EINVAL;
}

void storage_set_link_directory(const char *dir) {
        free(link_directory);
        link_directory = dir ? strdup(dir) : NULL;
}

const char *storage_get_link_directory(void) {
        return link_directory ? link_directory : "/dev/drbdd";
}

int storage_msgf(char **ret_msg, int error, const char *fmt, ...) {
        va_list ap;

        if (!ret_msg)
                return error;
        va_start(ap, fmt);
        if (vasprintf(ret_msg, fmt, ap) < 0)
                *ret_msg = NULL;
        va_end(ap);
        return error;
}

char *storage_command_error(char *const argv[], int status, const char *err) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        bool first = true;

        if (!f)
                return NULL;
        fprintf(f, "%s exited %d: ", argv[0], status);
        /* LVM indents its messages and may print several; keep them all, on one line. */
        for (const char *p = err ? err : ""; *p;) {
                size_t n = strcspn(p, "\n");
                const char *s = p, *e = p + n;
                while (s < e && (*s == ' ' || *s == '\t'))
                        s++;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                        e--;
                if (e > s) {
                        if (!first)
                                fputs("; ", f);
                        for (; s < e; s++)
                                fputc((unsigned char) *s < 0x20 ? '?' : *s, f);
                        first = false;
                }
                p += n;
                if (*p)
                        p++;
        }
        if (first)
                fputs("(no error output)", f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        if (len > STORAGE_ERR_MAX)
                strcpy(buf + STORAGE_ERR_MAX - 3, "...");
        return buf;
}

int storage_run(char *const argv[], uint64_t timeout_ms, char **ret_out, char **ret_msg) {
        ExecOptions opts = { .timeout_ms = timeout_ms };
        ExecResult res;
        int r;

        r = exec_run(argv, &opts, &res);
        if (r == -ETIMEDOUT)
                r = storage_msgf(ret_msg, r, "%s timed out after %llu s", argv[0],
                                 (unsigned long long) (timeout_ms / 1000));
        else if (r == -ENOENT)
                r = storage_msgf(ret_msg, r, "%s: command not found", argv[0]);
        else if (r < 0)
                r = storage_msgf(ret_msg, r, "%s: %s", argv[0], strerror(-r));
        else if (res.status != 0) {
                /* LVM's "Volume group "vg" has insufficient free space (...)". */
                r = strcasestr(res.err, "insufficient free space") ? -ENOSPC : -EIO;
                if (ret_msg)
                        *ret_msg = storage_command_error(argv, res.status, res.err);
        }
        if (r < 0) {
                _cleanup_free_ char *cmd = exec_argv_to_string(argv);
                log_debug("storage: command failed (%s): %s", strna(cmd), strerror(-r));
                exec_result_done(&res);
                return r;
        }
        if (ret_out)
                *ret_out = TAKE_PTR(res.out);
        exec_result_done(&res);
        return 0;
}

/* ---- names ---------------------------------------------------------------- */

static bool lvm_chars_ok(const char *s) {
        for (; *s; s++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-", *s))
                        return false;
        return true;
}

static int lvm_name_check(const char *what, const char *name, size_t max, char **ret_msg) {
        /* Names LVM reserves for itself, as prefixes and as parts (lib/misc/lvm-string.c). */
        static const char *const reserved_prefix[] = { "snapshot", "pvmove", NULL };
        static const char *const reserved_part[] = { "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig",
                                                     "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta",
                                                     "_tdata", "_tmeta", "_vdata", "_vorigin", NULL };
        _cleanup_free_ char *q = NULL;

        if (!name || !*name)
                return storage_msgf(ret_msg, -EINVAL, "invalid %s: empty", what);
        q = utf8_quote_untrusted(name);
        if (!q)
                return -ENOMEM;
        if (strnlen(name, max + 1) > max)
                return storage_msgf(ret_msg, -EINVAL, "invalid %s '%s': longer than %zu characters", what, q, max);
        if (!lvm_chars_ok(name))
                return storage_msgf(ret_msg, -EINVAL, "invalid %s '%s': use only A-Z a-z 0-9 _ + . -", what, q);
        if (name[0] == '-')
                return storage_msgf(ret_msg, -EINVAL, "invalid %s '%s': must not start with '-'", what, q);
        if (streq(name, ".") || streq(name, ".."))
                return storage_msgf(ret_msg, -EINVAL, "invalid %s '%s'", what, q);
        for (size_t i = 0; reserved_prefix[i]; i++)
                if (startswith(name, reserved_prefix[i]))
                        return storage_msgf(ret_msg, -EINVAL, "invalid %s '%s': LVM reserves the prefix '%s'", what,
                                            q, reserved_prefix[i]);
        for (size_t i = 0; reserved_part[i]; i++)
                if (strstr(name, reserved_part[i]))
                        return storage_msgf(ret_msg, -EINVAL, "invalid %s '%s': LVM reserves '%s'", what, q,
                                            reserved_part[i]);
        return 0;
}

int storage_name_validate(const char *name, char **ret_msg) {
        return lvm_name_check("volume name", name, STORAGE_NAME_MAX, ret_msg);
}

static bool dir_is_safe(const char *p) {
        if (!p || p[0] != '/' || strnlen(p, STORAGE_DIR_MAX + 1) > STORAGE_DIR_MAX || strstr(p, "..") ||
            strstr(p, "//") || streq(p, "/"))
                return false;
        for (; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.+-", *p))
                        return false;
        return true;
}

/* ---- pools ---------------------------------------------------------------- */

StoragePool *storage_pool_free(StoragePool *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->volume_group);
        free(p->thin_pool);
        free(p->directory);
        free(p);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(StoragePool *, storage_pool_free);

static int dup_member(const json_t *o, const char *key, char **ret) {
        const char *s = json_get_str(o, key, NULL);
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int storage_pool_new(const json_t *pool, StoragePool **ret, char **ret_msg) {
        _cleanup_(storage_pool_freep) StoragePool *p = NULL;
        _cleanup_free_ char *q = NULL;
        const char *name, *driver;
        int d, r;

        if (!json_is_object(pool))
                return storage_msgf(ret_msg, -EINVAL, "invalid storage pool: not a JSON object");
        name = json_get_str(pool, "name", NULL);
        if ((r = name_validate(NAME_POOL, name, ret_msg)) < 0)
                return r;
        driver = json_get_str(pool, "driver", NULL);
        d = storage_driver_from_string(driver);
        if (d < 0)
                return storage_msgf(ret_msg, -EINVAL, "storage pool '%s': driver must be lvm, lvm-thin or file",
                                    name);

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->driver = (StorageDriver) d;
        p->ops = driver_ops[d];
        if (!(p->name = strdup(name)))
                return -ENOMEM;
        if (dup_member(pool, "volume-group", &p->volume_group) < 0 || dup_member(pool, "thin-pool", &p->thin_pool) < 0 ||
            dup_member(pool, "directory", &p->directory) < 0)
                return -ENOMEM;

        switch (p->driver) {
        case STORAGE_DRIVER_LVM_THIN:
                if (!p->thin_pool)
                        return storage_msgf(ret_msg, -EINVAL, "storage pool '%s': lvm-thin needs 'thin-pool'", name);
                if ((r = lvm_name_check("thin pool name", p->thin_pool, STORAGE_VG_NAME_MAX, ret_msg)) < 0)
                        return r;
                __attribute__((fallthrough));
        case STORAGE_DRIVER_LVM:
                if (!p->volume_group)
                        return storage_msgf(ret_msg, -EINVAL, "storage pool '%s': %s needs 'volume-group'", name,
                                            driver);
                if ((r = lvm_name_check("volume group name", p->volume_group, STORAGE_VG_NAME_MAX, ret_msg)) < 0)
                        return r;
                break;
        case STORAGE_DRIVER_FILE:
                if (!p->directory)
                        return storage_msgf(ret_msg, -EINVAL, "storage pool '%s': 'directory' missing", name);
                if (!dir_is_safe(p->directory)) {
                        if (!(q = utf8_quote_untrusted(p->directory)))
                                return -ENOMEM;
                        return storage_msgf(ret_msg, -EINVAL,
                                            "storage pool '%s': 'directory' '%s' must be an absolute path of "
                                            "A-Z a-z 0-9 / _ . + - without '..'",
                                            name, q);
                }
                /* A trailing '/' would make paths differ from what losetup reports. */
                size_t l = strlen(p->directory);
                if (l > 1 && p->directory[l - 1] == '/')
                        p->directory[l - 1] = 0;
                break;
        default:
                return -EINVAL;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- reports -------------------------------------------------------------- */

void storage_report_done(StorageReport *r) {
        if (!r)
                return;
        free(r->message);
        for (size_t i = 0; i < r->n_volumes; i++) {
                free(r->volumes[i].name);
                free(r->volumes[i].origin);
        }
        free(r->volumes);
        *r = (StorageReport) {};
}

int storage_report_add(StorageReport *r, char *name, uint64_t size_kib, char *origin, bool snapshot, bool active) {
        StorageVolume *v = reallocarray(r->volumes, r->n_volumes + 1, sizeof *v);
        if (!v) {
                free(name);
                free(origin);
                return -ENOMEM;
        }
        r->volumes = v;
        r->volumes[r->n_volumes++] = (StorageVolume) {
                .name = name, .size_kib = size_kib, .origin = origin, .snapshot = snapshot, .active = active,
        };
        return 0;
}

static int volume_cmp(const void *a, const void *b) {
        return strcmp(((const StorageVolume *) a)->name, ((const StorageVolume *) b)->name);
}

void storage_report_sort(StorageReport *r) {
        if (r->n_volumes > 1)
                qsort(r->volumes, r->n_volumes, sizeof *r->volumes, volume_cmp);
}

int storage_probe_all(StoragePool *const *pools, size_t n, StorageReport *reports) {
        _cleanup_free_ StoragePool **group = NULL;
        _cleanup_free_ StorageReport *sub = NULL;
        _cleanup_free_ size_t *index = NULL;
        _cleanup_free_ bool *done = NULL;

        if (n == 0)
                return 0;
        assert(pools && reports);
        group = calloc(n, sizeof *group);
        sub = calloc(n, sizeof *sub);
        index = calloc(n, sizeof *index);
        done = calloc(n, sizeof *done);
        if (!group || !sub || !index || !done)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                reports[i] = (StorageReport) {};

        /* Drivers sharing a probe function (lvm and lvm-thin) are probed together. */
        for (size_t i = 0; i < n; i++) {
                size_t k = 0;
                if (done[i])
                        continue;
                for (size_t j = i; j < n; j++)
                        if (!done[j] && pools[j]->ops->probe == pools[i]->ops->probe) {
                                index[k] = j;
                                group[k++] = pools[j];
                                done[j] = true;
                        }
                memset(sub, 0, k * sizeof *sub);
                int r = pools[i]->ops->probe(group, k, sub);
                for (size_t m = 0; m < k; m++) {
                        reports[index[m]] = sub[m];
                        if (r < 0 && reports[index[m]].error == 0)
                                reports[index[m]].error = r;
                }
        }
        return 0;
}

int storage_probe(StoragePool *p, StorageReport *ret) {
        int r = storage_probe_all(&p, 1, ret);
        return r < 0 ? r : ret->error;
}

/* ---- front functions ------------------------------------------------------ */

static int unsupported(const StoragePool *p, const char *what, char **ret_msg) {
        return storage_msgf(ret_msg, -EOPNOTSUPP, "storage pool '%s' (%s) does not support %s%s", p->name,
                            storage_driver_to_string(p->driver), what,
                            p->driver == STORAGE_DRIVER_FILE || p->driver == STORAGE_DRIVER_LVM
                                    ? " (snapshots and clones need an lvm-thin pool)"
                                    : "");
}

#define CHECK_NAME(n)                                              \
        do {                                                       \
                int _k_ = storage_name_validate((n), ret_msg);     \
                if (_k_ < 0)                                       \
                        return _k_;                                \
        } while (0)

int storage_create(StoragePool *p, const char *name, uint64_t size_kib, char **ret_path, char **ret_msg) {
        assert(p);
        CHECK_NAME(name);
        if (size_kib == 0 || size_kib > (UINT64_C(1) << 42)) /* 4 PiB */
                return storage_msgf(ret_msg, -EINVAL, "invalid size of volume '%s': %llu KiB", name,
                                    (unsigned long long) size_kib);
        return p->ops->create(p, name, size_kib, ret_path, ret_msg);
}

int storage_create_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out) {
        assert(p);
        if (storage_name_validate(name, NULL) < 0 || size_kib == 0 || size_kib > (UINT64_C(1) << 42))
                return -EINVAL;
        return p->ops->create_commands(p, name, size_kib, out);
}

int storage_resize_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out) {
        assert(p);
        if (storage_name_validate(name, NULL) < 0 || size_kib == 0 || size_kib > (UINT64_C(1) << 42))
                return -EINVAL;
        return p->ops->resize_commands(p, name, size_kib, out);
}

int storage_commands_add(json_t *out, char *const argv[]) {
        char *line = exec_argv_to_string(argv);
        if (!line || json_array_append_new(out, json_string(line)) < 0) {
                free(line);
                return -ENOMEM;
        }
        free(line);
        return 0;
}

int storage_remove(StoragePool *p, const char *name, char **ret_msg) {
        assert(p);
        CHECK_NAME(name);
        return p->ops->remove(p, name, ret_msg);
}

int storage_resize(StoragePool *p, const char *name, uint64_t size_kib, char **ret_msg) {
        assert(p);
        CHECK_NAME(name);
        if (size_kib == 0 || size_kib > (UINT64_C(1) << 42))
                return storage_msgf(ret_msg, -EINVAL, "invalid size of volume '%s': %llu KiB", name,
                                    (unsigned long long) size_kib);
        return p->ops->resize(p, name, size_kib, ret_msg);
}

int storage_attach(StoragePool *p, const char *name, char **ret_path, char **ret_msg) {
        assert(p);
        CHECK_NAME(name);
        return p->ops->attach(p, name, ret_path, ret_msg);
}

int storage_device_path(const StoragePool *p, const char *name, char **ret_path) {
        assert(p);
        if (storage_name_validate(name, NULL) < 0)
                return -EINVAL;
        return p->ops->device_path(p, name, ret_path);
}

int storage_snapshot_create(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg) {
        assert(p);
        CHECK_NAME(volume);
        CHECK_NAME(snapshot);
        if (!p->ops->snapshot_create)
                return unsupported(p, "snapshots", ret_msg);
        if (streq(volume, snapshot))
                return storage_msgf(ret_msg, -EINVAL, "snapshot '%s' would have its volume's name", snapshot);
        return p->ops->snapshot_create(p, volume, snapshot, ret_msg);
}

int storage_snapshot_remove(StoragePool *p, const char *snapshot, char **ret_msg) {
        assert(p);
        CHECK_NAME(snapshot);
        if (!p->ops->snapshot_remove)
                return unsupported(p, "snapshots", ret_msg);
        return p->ops->snapshot_remove(p, snapshot, ret_msg);
}

int storage_volume_from_snapshot(StoragePool *p, const char *snapshot, const char *name, char **ret_path,
                                 char **ret_msg) {
        assert(p);
        CHECK_NAME(snapshot);
        CHECK_NAME(name);
        if (!p->ops->volume_from_snapshot)
                return unsupported(p, "volumes from snapshots", ret_msg);
        if (streq(snapshot, name))
                return storage_msgf(ret_msg, -EINVAL, "volume '%s' would have its snapshot's name", name);
        return p->ops->volume_from_snapshot(p, snapshot, name, ret_path, ret_msg);
}

int storage_clone(StoragePool *p, const char *source, const char *name, char **ret_path, char **ret_msg) {
        assert(p);
        CHECK_NAME(source);
        CHECK_NAME(name);
        if (!p->ops->clone)
                return unsupported(p, "clones", ret_msg);
        if (streq(source, name))
                return storage_msgf(ret_msg, -EINVAL, "clone '%s' would have its source's name", name);
        return p->ops->clone(p, source, name, ret_path, ret_msg);
}

int storage_revert(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg) {
        assert(p);
        CHECK_NAME(volume);
        CHECK_NAME(snapshot);
        if (!p->ops->revert)
                return unsupported(p, "reverting to snapshots", ret_msg);
        if (streq(volume, snapshot))
                return storage_msgf(ret_msg, -EINVAL, "volume and snapshot have the same name '%s'", volume);
        return p->ops->revert(p, volume, snapshot, ret_msg);
}
