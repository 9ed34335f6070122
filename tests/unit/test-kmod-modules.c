/* Unit tests for kmod/modules.c: lookup in a fake modules tree, blacklist, insert failures through the test hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "exec.h"
#include "fileio.h"
#include "macro.h"
#include "kmod/modules.h"

#define FAKE_KVER "9.9.9-drbdd-test"

/* Shared fixture: <tmp>/lib/modules/<kver> indexed by the real depmod, and
 * <tmp>/modprobe.d with a blacklist. Empty .ko files are enough for the
 * index; they are never inserted (the hook replaces insertion). */
static char tmpdir[] = "/tmp/test-kmod-modules.XXXXXX";
static char moddir[512], confdir[512];

static const char *const fake_modules[] = {
        "kernel/drivers/block/drbd/drbd.ko",  "kernel/drivers/md/dm-thin-pool.ko",
        "kernel/drivers/md/dm-snapshot.ko",   "kernel/drivers/block/loop.ko",
        "kernel/drivers/target/target_core_mod.ko", "kernel/drivers/target/iscsi/iscsi_target_mod.ko",
        "kernel/drivers/target/target_core_iblock.ko", "kernel/misc/fake_black.ko",
        "kernel/misc/fake_plain.ko",
};

static int setup_tree(void **state) {
        char path[1024];
        int r;

        assert_non_null(mkdtemp(tmpdir));
        snprintf(moddir, sizeof(moddir), "%s/lib/modules/%s", tmpdir, FAKE_KVER);
        snprintf(confdir, sizeof(confdir), "%s/modprobe.d", tmpdir);
        for (size_t i = 0; i < ELEMENTSOF(fake_modules); i++) {
                snprintf(path, sizeof(path), "%s/%s", moddir, fake_modules[i]);
                *strrchr(path, '/') = 0;
                assert_int_equal(fileio_mkdir_p(path, 0755), 0);
                snprintf(path, sizeof(path), "%s/%s", moddir, fake_modules[i]);
                assert_int_equal(fileio_write_atomic(path, "", 0, 0644), 0);
        }
        assert_int_equal(fileio_mkdir_p(confdir, 0755), 0);
        snprintf(path, sizeof(path), "%s/test.conf", confdir);
        assert_int_equal(fileio_write_atomic(path, "blacklist fake_black\n", 21, 0644), 0);

        const char *depmods[] = { "depmod", "/usr/sbin/depmod", "/sbin/depmod" };
        for (size_t i = 0; i < ELEMENTSOF(depmods); i++) {
                char *argv[] = { (char *) depmods[i], (char *) "-b", tmpdir, (char *) FAKE_KVER, NULL };
                ExecResult res;
                r = exec_run(argv, NULL, &res);
                int status = res.status;
                exec_result_done(&res);
                if (r == -ENOENT)
                        continue;
                assert_int_equal(r, 0);
                assert_int_equal(status, 0);
                *state = (void *) 1;
                return 0;
        }
        *state = NULL; /* no depmod: tests that need the index skip */
        return 0;
}

static int teardown_tree(void **state) {
        char *argv[] = { (char *) "rm", (char *) "-rf", tmpdir, NULL };
        ExecResult res;
        (void) exec_run(argv, NULL, &res);
        exec_result_done(&res);
        return 0;
}

/* Records what would have been inserted; answers with a chosen errno. */
typedef struct Recorder {
        char log[1024];
        int answer;
} Recorder;

static int record_insert(const char *name, const char *options, void *userdata) {
        Recorder *rec = userdata;
        size_t n = strlen(rec->log);
        snprintf(rec->log + n, sizeof(rec->log) - n, "%s(%s);", name, options ?: "");
        return rec->answer;
}

static KmodLoader *new_loader(Recorder *rec) {
        const char *conf[] = { confdir, NULL };
        KmodLoader *l = NULL;
        assert_int_equal(kmod_loader_new(moddir, conf, &l), 0);
        kmod_loader_set_insert_fn(l, record_insert, rec);
        return l;
}

static void test_missing_dir(void **state) {
        KmodLoader *l = NULL;
        assert_int_equal(kmod_loader_new("/nonexistent/modules/dir", NULL, &l), -ENOENT);
        assert_null(l);
        assert_null(kmod_loader_free(NULL));
}

static void test_not_found(void **state) {
        Recorder rec = {};
        KmodLoader *l;
        _cleanup_free_ char *err = NULL;

        if (!*state)
                skip();
        l = new_loader(&rec);
        assert_int_equal(kmod_loader_load(l, "no_such_module", NULL, &err), -ENOENT);
        assert_non_null(strstr(err, "'no_such_module' not found"));
        assert_non_null(strstr(err, FAKE_KVER));
        assert_int_equal(kmod_loader_is_loaded(l, "no_such_module"), -ENOENT);
        assert_string_equal(rec.log, "");
        kmod_loader_free(l);
}

static void test_insert_and_options(void **state) {
        Recorder rec = {};
        KmodLoader *l;

        if (!*state)
                skip();
        l = new_loader(&rec);
        assert_int_equal(kmod_loader_load(l, "fake_plain", "a=1 b=x", NULL), 0);
        /* '-' and '_' are the same in module names. */
        assert_int_equal(kmod_loader_load(l, "fake-plain", NULL, NULL), 0);
        assert_string_equal(rec.log, "fake_plain(a=1 b=x);fake_plain();");
        assert_int_equal(kmod_loader_is_loaded(l, "fake_plain"), 0);
        kmod_loader_free(l);
}

static void test_blacklist(void **state) {
        Recorder rec = {};
        KmodLoader *l;
        _cleanup_free_ char *err = NULL;

        if (!*state)
                skip();
        l = new_loader(&rec);
        assert_int_equal(kmod_loader_load(l, "fake_black", NULL, &err), -EACCES);
        assert_non_null(strstr(err, "'fake_black' is blacklisted"));
        assert_string_equal(rec.log, ""); /* never attempted */
        kmod_loader_free(l);
}

static void test_insert_failures(void **state) {
        Recorder rec = {};
        KmodLoader *l;

        if (!*state)
                skip();
        l = new_loader(&rec);

        _cleanup_free_ char *e1 = NULL;
        rec.answer = -EPERM;
        assert_int_equal(kmod_loader_load(l, "fake_plain", NULL, &e1), -EPERM);
        assert_non_null(strstr(e1, "'fake_plain'"));
        assert_non_null(strstr(e1, "not permitted"));

        /* The kernel's answer to an unknown parameter is ENOENT. */
        _cleanup_free_ char *e2 = NULL;
        rec.answer = -ENOENT;
        assert_int_equal(kmod_loader_load(l, "fake_plain", "bogus=1", &e2), -EINVAL);
        assert_non_null(strstr(e2, "unknown parameter"));
        assert_non_null(strstr(e2, "bogus=1"));

        _cleanup_free_ char *e3 = NULL;
        rec.answer = -ENOEXEC;
        assert_int_equal(kmod_loader_load(l, "fake_plain", NULL, &e3), -ENOEXEC);
        assert_non_null(strstr(e3, "'fake_plain'"));
        assert_non_null(strstr(e3, "fake_plain.ko"));

        /* Loaded by someone else between our check and the insert. */
        rec.answer = -EEXIST;
        assert_int_equal(kmod_loader_load(l, "fake_plain", NULL, NULL), 1);
        kmod_loader_free(l);
}

static void test_invalid_arguments(void **state) {
        Recorder rec = {};
        KmodLoader *l;
        _cleanup_free_ char *err = NULL;

        if (!*state)
                skip();
        l = new_loader(&rec);
        assert_int_equal(kmod_loader_load(l, "", NULL, NULL), -EINVAL);
        assert_int_equal(kmod_loader_load(l, NULL, NULL, NULL), -EINVAL);
        assert_int_equal(kmod_loader_load(l, "fake\nplain", NULL, &err), -EINVAL);
        assert_int_equal(kmod_loader_load(l, "fake_plain", "a=1\n", NULL), -EINVAL);
        assert_int_equal(kmod_loader_load(NULL, "fake_plain", NULL, NULL), -EINVAL);
        assert_string_equal(rec.log, "");
        kmod_loader_free(l);
}

static void test_drbdd_set(void **state) {
        Recorder rec = {};
        KmodResult results[KMOD_DRBDD_MODULES_MAX];
        size_t n = 0;
        KmodLoader *l;
        _cleanup_free_ char *err = NULL;

        if (!*state)
                skip();
        l = new_loader(&rec);
        /* Modules the build host happens to have loaded answer 1 without an
         * insert: compare only against what is not loaded here. */
        assert_int_equal(kmod_load_drbdd_modules(l, KMOD_SET_ALL, "usermode_helper=/bin/true", results, &n, &err), 0);
        assert_null(err);
        assert_int_equal(n, 7);
        const char *want[] = { "drbd", "dm_thin_pool", "dm_snapshot", "loop",
                               "target_core_mod", "iscsi_target_mod", "target_core_iblock" };
        for (size_t i = 0; i < n; i++) {
                char entry[128];
                assert_string_equal(results[i].name, want[i]);
                assert_true(results[i].r == 0 || results[i].r == 1);
                snprintf(entry, sizeof(entry), "%s(%s);", want[i], i == 0 ? "usermode_helper=/bin/true" : "");
                if (results[i].r == 0)
                        assert_non_null(strstr(rec.log, entry));
                else
                        assert_null(strstr(rec.log, entry));
        }

        /* Only the DRBD set; a failure is reported, the others still tried. */
        rec.log[0] = 0;
        rec.answer = -EPERM;
        n = 0;
        int r = kmod_load_drbdd_modules(l, KMOD_SET_DRBD | KMOD_SET_ISCSI, NULL, results, &n, &err);
        assert_int_equal(n, 4);
        assert_string_equal(results[0].name, "drbd");
        assert_string_equal(results[3].name, "target_core_iblock");
        if (r < 0) {
                assert_int_equal(r, -EPERM);
                assert_non_null(err);
                assert_non_null(strstr(err, "not permitted"));
        }
        kmod_loader_free(l);
}

static void test_env_override(void **state) {
        Recorder rec = {};
        KmodLoader *l = NULL;
        _cleanup_free_ char *err = NULL;

        if (!*state)
                skip();
        assert_int_equal(setenv(KMOD_MODULES_DIR_ENV, moddir, 1), 0);
        assert_int_equal(kmod_loader_new(NULL, NULL, &l), 0);
        kmod_loader_set_insert_fn(l, record_insert, &rec);
        assert_int_equal(kmod_loader_load(l, "nope", NULL, &err), -ENOENT);
        assert_non_null(strstr(err, moddir));
        kmod_loader_free(l);
        assert_int_equal(setenv(KMOD_MODULES_DIR_ENV, "/nonexistent", 1), 0);
        assert_int_equal(kmod_loader_new(NULL, NULL, &l), -ENOENT);
        /* One-shot helper: no such module in the overridden dir. */
        assert_int_equal(setenv(KMOD_MODULES_DIR_ENV, moddir, 1), 0);
        assert_int_equal(kmod_load("no_such_module", NULL), -ENOENT);
        unsetenv(KMOD_MODULES_DIR_ENV);
}

/* Parameters of a module that was loaded already: set through (a fake) sysfs. */
static void test_param_set(void **state) {
        char root[] = "/tmp/test-kmod-sysfs.XXXXXX", path[512];
        _cleanup_free_ char *old = NULL, *now = NULL;
        size_t len;

        assert_non_null(mkdtemp(root));
        snprintf(path, sizeof path, "%s/module/drbd/parameters", root);
        assert_int_equal(fileio_mkdir_p(path, 0755), 0);
        snprintf(path, sizeof path, "%s/module/drbd/parameters/usermode_helper", root);
        assert_int_equal(fileio_write_atomic(path, "/sbin/drbdadm\n", 14, 0644), 0);

        assert_int_equal(kmod_module_param_set(root, "drbd", "usermode_helper", "/bin/true", &old), 1);
        assert_string_equal(old, "/sbin/drbdadm");
        assert_int_equal(fileio_read_full(path, 4096, &now, &len), 0);
        assert_string_equal(now, "/bin/true");
        free(old);
        old = NULL;
        /* Already right (sysfs adds a newline): nothing written. */
        assert_int_equal(fileio_write_atomic(path, "/bin/true\n", 10, 0644), 0);
        assert_int_equal(kmod_module_param_set(root, "drbd", "usermode_helper", "/bin/true", &old), 0);
        assert_string_equal(old, "/bin/true");

        assert_int_equal(kmod_module_param_set(root, "nodrbd", "usermode_helper", "/bin/true", NULL), -ENOENT);
        assert_int_equal(kmod_module_param_set(root, "drbd", "nosuch", "/bin/true", NULL), -ENOENT);
        assert_int_equal(kmod_module_param_set(root, "drbd", "../../x", "/bin/true", NULL), -EINVAL);
        assert_int_equal(kmod_module_param_set(root, "drbd", "usermode_helper", "a\nb", NULL), -EINVAL);
        /* A read-only parameter (mode 0444; root ignores modes, so a directory stands in). */
        snprintf(path, sizeof path, "%s/module/drbd/parameters/ro", root);
        assert_int_equal(fileio_mkdir_p(path, 0755), 0);
        assert_true(kmod_module_param_set(root, "drbd", "ro", "x", NULL) < 0);

        char *argv[] = { (char *) "rm", (char *) "-rf", root, NULL };
        ExecResult res;
        assert_int_equal(exec_run(argv, NULL, &res), 0);
        exec_result_done(&res);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_missing_dir),
                cmocka_unit_test(test_not_found),
                cmocka_unit_test(test_insert_and_options),
                cmocka_unit_test(test_blacklist),
                cmocka_unit_test(test_insert_failures),
                cmocka_unit_test(test_invalid_arguments),
                cmocka_unit_test(test_drbdd_set),
                cmocka_unit_test(test_env_override),
                cmocka_unit_test(test_param_set),
        };
        return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
