/* Kernel module loading through libkmod (modprobe semantics, blacklist honoured) for the modules drbdd needs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Environment variable naming the modules directory (the directory that
 * holds modules.dep, normally /lib/modules/$(uname -r)); tests and the lab
 * point it at an unpacked kernel tree. */
#define KMOD_MODULES_DIR_ENV "DRBDD_MODULES_DIR"

typedef struct KmodLoader KmodLoader;

/* Replaces the final insertion step (tests inject failures with it): called
 * with the module's name and options instead of letting libkmod insert it.
 * Return 0 or a negative errno as init_module(2) would. */
typedef int (*KmodInsertFn)(const char *name, const char *options, void *userdata);

/* Creates a loader. modules_dir NULL means $DRBDD_MODULES_DIR, or libkmod's
 * default (/lib/modules/`uname -r`) when unset. config_paths (NULL-terminated,
 * or NULL for the defaults /etc/modprobe.d, /run/modprobe.d, /lib/modprobe.d
 * ...) is where blacklists and options are read. Caller frees with
 * kmod_loader_free(). Returns 0, -ENOMEM, or -ENOENT if modules_dir does not
 * exist. */
int kmod_loader_new(const char *modules_dir, const char *const *config_paths, KmodLoader **ret);
KmodLoader *kmod_loader_free(KmodLoader *l); /* NULL-safe; returns NULL */

/* Test hook: see KmodInsertFn. NULL restores the real insertion. */
void kmod_loader_set_insert_fn(KmodLoader *l, KmodInsertFn fn, void *userdata);

/* Loads module `name` (a module name or alias, '-' and '_' alike) with its
 * dependencies, like `modprobe name options`, but refuses a module that is
 * blacklisted in the modprobe configuration. options (NULL or "") are
 * parameters such as "usermode_helper=/bin/true"; they only take effect if
 * the module is not loaded yet.
 * Returns 0 when inserted now, 1 when it was already loaded or built in
 * (options not applied), or a negative errno:
 *   -ENOENT  no such module in the modules dir
 *   -EACCES  the module is blacklisted
 *   -EPERM   not allowed to load modules (not root, modules_disabled, ...)
 *   -EINVAL  the kernel refused the options (unknown parameter)
 *   -ENOEXEC the module file is not valid for this kernel
 *   others   as init_module(2)
 * On failure *ret_error (if given) receives a message naming the module,
 * e.g. "Module 'drbd' not found in /lib/modules/6.1.0-13-amd64"; the caller
 * frees it. */
int kmod_loader_load(KmodLoader *l, const char *name, const char *options, char **ret_error);

/* 1 when the module is loaded (or built in), 0 when not, -ENOENT when the
 * modules dir has no such module. */
int kmod_loader_is_loaded(KmodLoader *l, const char *name);

/* One-shot convenience: a loader on $DRBDD_MODULES_DIR (or the default),
 * kmod_loader_load(), the message logged at debug level. Same returns. */
int kmod_load(const char *name, const char *options);

/* Module sets drbdd needs on a node. */
typedef enum KmodSet {
        KMOD_SET_DRBD = 1u << 0,    /* drbd */
        KMOD_SET_STORAGE = 1u << 1, /* dm_thin_pool, dm_snapshot, loop */
        KMOD_SET_ISCSI = 1u << 2,   /* target_core_mod, iscsi_target_mod, target_core_iblock */
        KMOD_SET_ALL = KMOD_SET_DRBD | KMOD_SET_STORAGE | KMOD_SET_ISCSI,
} KmodSet;

#define KMOD_DRBDD_MODULES_MAX 7

/* Outcome per module: r as returned by kmod_loader_load(). */
typedef struct KmodResult {
        const char *name; /* static string */
        int r;
} KmodResult;

/* Loads every module of the given sets (KmodSet bits), drbd with
 * drbd_options (e.g. "usermode_helper=/bin/true"; NULL for none). Tries all
 * of them even after a failure. results (may be NULL) must have room for
 * KMOD_DRBDD_MODULES_MAX entries; *ret_n (may be NULL) gets how many were
 * written. Returns 0 when all are loaded, else the first failure's negative
 * errno, with its message in *ret_error (if given; caller frees). */
int kmod_load_drbdd_modules(KmodLoader *l, unsigned sets, const char *drbd_options, KmodResult *results,
                            size_t *ret_n, char **ret_error);

/* Module parameters of an already loaded module cannot be given at load
 * time (kmod_loader_load() returns 1 and ignores them); those the module
 * declares writable can still be set in sysfs. Sets
 * <sysfs_root>/module/<module>/parameters/<param> (sysfs_root NULL: /sys)
 * to value unless it already holds it (a trailing newline ignored).
 * Returns 0 when it already held value, 1 when written, or a negative
 * errno: -ENOENT no such module or parameter, -EACCES/-EPERM/-EROFS the
 * parameter is read-only, -EINVAL bad name or refused value; *ret_old (if
 * given, caller frees) receives the previous value on success. */
int kmod_module_param_set(const char *sysfs_root, const char *module, const char *param, const char *value,
                          char **ret_old);
