/* Loads kernel modules with libkmod: lookup, blacklist check, probe-insert with options, clear errors. */
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "modules.h"

struct KmodLoader {
        struct kmod_ctx *ctx;
        KmodInsertFn insert_fn;
        void *insert_userdata;
};

static inline void kmod_module_unref_listp(struct kmod_list **l) {
        if (*l)
                kmod_module_unref_list(*l);
}

static inline void kmod_module_unrefp(struct kmod_module **m) {
        if (*m)
                kmod_module_unref(*m);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(KmodLoader *, kmod_loader_free);

/* libkmod logs to stderr by default; a library logs at debug level only. */
static void kmod_log_debug(void *data, int priority, const char *file, int line, const char *fn, const char *format,
                           va_list args) {
        _cleanup_free_ char *msg = NULL;

        if (log_get_max_level() < LOG_DEBUG)
                return;
        if (vasprintf(&msg, format, args) < 0)
                return;
        msg[strcspn(msg, "\n")] = 0;
        log_debug("libkmod: %s", msg);
}

int kmod_loader_new(const char *modules_dir, const char *const *config_paths, KmodLoader **ret) {
        _cleanup_(kmod_loader_freep) KmodLoader *l = NULL;
        struct stat st;

        if (!modules_dir) {
                modules_dir = getenv(KMOD_MODULES_DIR_ENV);
                if (modules_dir && !*modules_dir)
                        modules_dir = NULL;
        }
        if (modules_dir && (stat(modules_dir, &st) < 0 || !S_ISDIR(st.st_mode)))
                return -ENOENT;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->ctx = kmod_new(modules_dir, config_paths);
        if (!l->ctx)
                return -ENOMEM;
        kmod_set_log_fn(l->ctx, kmod_log_debug, NULL);
        *ret = TAKE_PTR(l);
        return 0;
}

KmodLoader *kmod_loader_free(KmodLoader *l) {
        if (!l)
                return NULL;
        kmod_unref(l->ctx);
        free(l);
        return NULL;
}

void kmod_loader_set_insert_fn(KmodLoader *l, KmodInsertFn fn, void *userdata) {
        l->insert_fn = fn;
        l->insert_userdata = userdata;
}

static void set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static void set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
}

/* Module names and options reach the kernel and our messages: printable
 * ASCII only, bounded. */
static bool printable(const char *s, size_t max) {
        size_t n = 0;
        for (; *s; s++, n++)
                if (*s < ' ' || *s > '~' || n >= max)
                        return false;
        return true;
}

static int lookup(KmodLoader *l, const char *name, struct kmod_list **ret) {
        struct kmod_list *list = NULL;
        int r = kmod_module_new_from_lookup(l->ctx, name, &list);
        if (r < 0)
                return r;
        if (!list)
                return -ENOENT;
        *ret = list;
        return 0;
}

static bool is_loaded(struct kmod_module *mod) {
        int state = kmod_module_get_initstate(mod);
        return state == KMOD_MODULE_BUILTIN || state == KMOD_MODULE_LIVE || state == KMOD_MODULE_COMING;
}

/* Whether the blacklist filter removed mod from the lookup result. */
static bool in_list(const struct kmod_list *list, struct kmod_module *mod) {
        const struct kmod_list *it;
        kmod_list_foreach(it, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *m = kmod_module_get_module(it);
                if (streq(kmod_module_get_name(m), kmod_module_get_name(mod)))
                        return true;
        }
        return false;
}

static int insert_one(KmodLoader *l, struct kmod_module *mod, bool blacklisted, const char *options,
                      char **ret_error) {
        const char *mname = kmod_module_get_name(mod);
        const char *path;
        int r;

        if (is_loaded(mod))
                return 1;
        if (blacklisted) {
                set_error(ret_error, "Module '%s' is blacklisted in the modprobe configuration", mname);
                return -EACCES;
        }

        if (l->insert_fn)
                r = l->insert_fn(mname, options, l->insert_userdata);
        else
                r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, options, NULL, NULL, NULL);
        if (r == KMOD_PROBE_APPLY_BLACKLIST) { /* a dependency is blacklisted */
                set_error(ret_error, "Module '%s' or a dependency is blacklisted", mname);
                return -EACCES;
        }
        if (r > 0)
                r = -EIO; /* other positive filter codes: not expected with our flags */
        if (r == -EEXIST)
                return 1; /* loaded meanwhile */
        if (r >= 0)
                return 0;

        path = kmod_module_get_path(mod);
        if (r == -ENOENT && options && *options && path && access(path, R_OK) >= 0) {
                /* The kernel answers an unknown parameter with ENOENT. */
                set_error(ret_error, "Failed to load module '%s' with options '%s': unknown parameter", mname,
                          options);
                return -EINVAL;
        }
        if (r == -EPERM)
                set_error(ret_error, "Failed to load module '%s': operation not permitted "
                          "(not root, or module loading disabled)", mname);
        else
                set_error(ret_error, "Failed to load module '%s'%s%s%s from %s: %s", mname,
                          options && *options ? " with options '" : "", options && *options ? options : "",
                          options && *options ? "'" : "", strna(path), strerror(-r));
        return r;
}

int kmod_loader_load(KmodLoader *l, const char *name, const char *options, char **ret_error) {
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL, *allowed = NULL;
        struct kmod_list *it;
        int r, result = 1;

        if (!l || !name || !*name || !printable(name, 64) || (options && !printable(options, 1024))) {
                set_error(ret_error, "Invalid module name or options");
                return -EINVAL;
        }
        r = lookup(l, name, &list);
        if (r == -ENOENT) {
                set_error(ret_error, "Module '%s' not found in %s", name, strna(kmod_get_dirname(l->ctx)));
                return r;
        }
        if (r < 0) {
                set_error(ret_error, "Failed to look up module '%s': %s", name, strerror(-r));
                return r;
        }
        r = kmod_module_apply_filter(l->ctx, KMOD_FILTER_BLACKLIST, list, &allowed);
        if (r < 0) {
                set_error(ret_error, "Failed to apply the module blacklist to '%s': %s", name, strerror(-r));
                return r;
        }
        /* An alias may resolve to several modules: modprobe loads them all. */
        kmod_list_foreach(it, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *mod = kmod_module_get_module(it);
                r = insert_one(l, mod, !in_list(allowed, mod), options, ret_error);
                if (r < 0)
                        return r;
                if (r == 0)
                        result = 0;
        }
        return result;
}

int kmod_loader_is_loaded(KmodLoader *l, const char *name) {
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        struct kmod_list *it;
        int r;

        if (!l || !name || !printable(name, 64))
                return -EINVAL;
        r = lookup(l, name, &list);
        if (r < 0)
                return r;
        kmod_list_foreach(it, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *mod = kmod_module_get_module(it);
                if (!is_loaded(mod))
                        return 0;
        }
        return 1;
}

int kmod_load(const char *name, const char *options) {
        _cleanup_(kmod_loader_freep) KmodLoader *l = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = kmod_loader_new(NULL, NULL, &l);
        if (r < 0)
                return log_debug_errno(r, "Failed to set up libkmod for module '%s': %s", strna(name), strerror(-r));
        r = kmod_loader_load(l, name, options, &err);
        if (r < 0)
                return log_debug_errno(r, "%s", strna(err));
        return r;
}

static const struct {
        const char *name;
        KmodSet set;
} drbdd_modules[KMOD_DRBDD_MODULES_MAX] = {
        { "drbd", KMOD_SET_DRBD },
        { "dm_thin_pool", KMOD_SET_STORAGE },
        { "dm_snapshot", KMOD_SET_STORAGE },
        { "loop", KMOD_SET_STORAGE },
        { "target_core_mod", KMOD_SET_ISCSI },
        { "iscsi_target_mod", KMOD_SET_ISCSI },
        { "target_core_iblock", KMOD_SET_ISCSI },
};

int kmod_load_drbdd_modules(KmodLoader *l, unsigned sets, const char *drbd_options, KmodResult *results,
                            size_t *ret_n, char **ret_error) {
        size_t n = 0;
        int first = 0;

        for (size_t i = 0; i < ELEMENTSOF(drbdd_modules); i++) {
                _cleanup_free_ char *err = NULL;
                const char *name = drbdd_modules[i].name;
                int r;

                if (!(sets & drbdd_modules[i].set))
                        continue;
                r = kmod_loader_load(l, name, drbdd_modules[i].set == KMOD_SET_DRBD ? drbd_options : NULL, &err);
                if (results)
                        results[n] = (KmodResult) { .name = name, .r = r };
                n++;
                if (r < 0 && first == 0) {
                        first = r;
                        if (ret_error)
                                *ret_error = TAKE_PTR(err);
                }
        }
        if (ret_n)
                *ret_n = n;
        return first;
}

int kmod_module_param_set(const char *sysfs_root, const char *module, const char *param, const char *value,
                          char **ret_old) {
        _cleanup_free_ char *path = NULL, *old = NULL;
        char buf[4096];
        ssize_t n;
        int fd;

        if (!module || !param || !value || !*module || !*param || strchr(module, '/') || strchr(param, '/') ||
            strstr(module, "..") || strstr(param, "..") || strchr(value, '\n'))
                return -EINVAL;
        if (asprintf(&path, "%s/module/%s/parameters/%s", sysfs_root ? sysfs_root : "/sys", module, param) < 0)
                return -ENOMEM;
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (!(old = strdup(buf)))
                return -ENOMEM;
        if (streq(old, value)) {
                if (ret_old)
                        *ret_old = TAKE_PTR(old);
                return 0;
        }
        if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0) /* as "echo v >" does */
                return -errno;
        n = write(fd, value, strlen(value));
        int r = n < 0 ? -errno : (size_t) n != strlen(value) ? -EIO : 0;
        close(fd);
        if (r < 0)
                return r;
        if (ret_old)
                *ret_old = TAKE_PTR(old);
        return 1;
}
