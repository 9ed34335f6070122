/* Unit tests for iscsi-export/lio.c against a FAKE configfs (a temporary directory tree that imitates the kernel's default groups), with injected faults; proof on real LIO is tests/lab/test-iscsi.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "macro.h"
#include "iscsi-export/lio.h"

#define PREFIX "iqn.2026-11.org.drbd.drbdd"
#define INIT_A "iqn.2026-11.org.drbd.lab:vm2"
#define INIT_B "iqn.1993-08.org.debian:01:6251ab25714e"

typedef struct Fake {
        char dir[64];
        char root[96];
        char lock[96];
        LioConfig cfg;
        char *log;          /* successful mutations, one per line, root-relative */
        size_t log_len;
        char **auto_paths;  /* what the "kernel" created on mkdir */
        /* fault: the next op of kind fail_op on a path ending in fail_suffix */
        const char *fail_op, *fail_suffix;
        int fail_errno;
} Fake;

static Fake *F;

static const char *rel(const char *path) {
        size_t n = strlen(F->root);
        return strncmp(path, F->root, n) == 0 ? path + n + (path[n] == '/') : path;
}

static void log_op(const char *op, const char *path) {
        char line[1024];
        int n = snprintf(line, sizeof line, "%s %s\n", op, rel(path));
        F->log = realloc(F->log, F->log_len + (size_t) n + 1);
        memcpy(F->log + F->log_len, line, (size_t) n + 1);
        F->log_len += (size_t) n;
}

static void log_reset(void) {
        free(F->log);
        F->log = NULL;
        F->log_len = 0;
}

static int injected(const char *op, const char *path) {
        size_t n, m;
        if (!F->fail_op || !streq(op, F->fail_op))
                return 0;
        n = strlen(path);
        m = strlen(F->fail_suffix);
        if (n < m || !streq(path + n - m, F->fail_suffix))
                return 0;
        F->fail_op = NULL;
        return -F->fail_errno;
}

static void mk_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = lio_path(dir, name, NULL);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
        assert_int_equal(lio_strv_push(&F->auto_paths, p), 0);
}

static void mk_dir(const char *dir, const char *name) {
        _cleanup_free_ char *p = lio_path(dir, name, NULL);
        assert_int_equal(mkdir(p, 0755), 0);
        assert_int_equal(lio_strv_push(&F->auto_paths, p), 0);
}

static int count_parts(const char *r) {
        int n = 1;
        for (; *r; r++)
                n += *r == '/';
        return n;
}

/* What the kernel creates inside a new configfs directory. */
static void kernel_children(const char *path) {
        const char *r = rel(path), *base = strrchr(path, '/') + 1;
        int depth = count_parts(r);
        _cleanup_free_ char *parent = strndup(path, (size_t) (base - 1 - path));
        const char *pbase = strrchr(parent, '/') + 1;

        if (startswith(r, "core/") && depth == 3) {
                mk_file(path, "control", "");
                mk_file(path, "enable", "0\n");
                mk_file(path, "udev_path", "\n");
                mk_file(path, "info", "Status: DEACTIVATED\n");
                mk_dir(path, "attrib");
                mk_dir(path, "pr");
                mk_dir(path, "alua");
                mk_dir(path, "statistics");
                mk_dir(path, "wwn");
                _cleanup_free_ char *wwn = lio_path(path, "wwn", NULL);
                mk_file(wwn, "vpd_unit_serial", "T10 VPD Unit Serial Number: \n");
        } else if (streq(r, "iscsi")) {
                mk_dir(path, "discovery_auth");
                mk_file(path, "lio_version", "Datera Inc. iSCSI Target v4.1.0\n");
        } else if (startswith(r, "iscsi/") && depth == 2) {
                mk_dir(path, "fabric_statistics");
        } else if (startswith(r, "iscsi/") && depth == 3 && startswith(base, "tpgt_")) {
                static const char *dirs[] = { "lun", "acls", "np", "attrib", "auth", "param" };
                for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                        mk_dir(path, dirs[i]);
                mk_file(path, "enable", "0\n");
                _cleanup_free_ char *attrib = lio_path(path, "attrib", NULL);
                mk_file(attrib, "authentication", "0\n");
                mk_file(attrib, "generate_node_acls", "0\n");
                mk_file(attrib, "cache_dynamic_acls", "0\n");
                mk_file(attrib, "demo_mode_write_protect", "1\n");
        } else if (streq(pbase, "lun") && depth == 5) {
                mk_dir(path, "statistics");
                mk_file(path, "alua_tg_pt_offline", "0\n");
        } else if (streq(pbase, "acls") && depth == 5) {
                mk_dir(path, "attrib");
                mk_dir(path, "param");
                mk_dir(path, "fabric_statistics");
                mk_dir(path, "auth");
                _cleanup_free_ char *auth = lio_path(path, "auth", NULL);
                mk_file(auth, "userid", "\n");
                mk_file(auth, "password", "\n");
                mk_file(auth, "userid_mutual", "\n");
                mk_file(auth, "password_mutual", "\n");
                char info[300];
                snprintf(info, sizeof info, "No active iSCSI Session for Initiator Endpoint: %s\n", base);
                mk_file(path, "info", info);
                mk_file(path, "cmdsn_depth", "64\n");
        } else if (depth == 6 && startswith(base, "lun_")) {
                mk_file(path, "write_protect", "0\n");
        } else if (streq(pbase, "np") && depth == 5) {
                mk_file(path, "iser", "0\n");
        }
}

static int fake_mkdir(const char *path, void *u) {
        int r = injected("mkdir", path);
        if (r < 0)
                return r;
        if (mkdir(path, 0755) < 0)
                return -errno;
        log_op("mkdir", path);
        kernel_children(path);
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

/* configfs removes default groups and attributes with their directory, and
 * refuses (ENOTEMPTY) while user-made items remain. */
static int fake_rmdir(const char *path, void *u) {
        _cleanup_(lio_strv_freep) char **l = NULL;
        int r = injected("rmdir", path);
        if (r < 0)
                return r;
        if (!lio_fs_is_dir(path))
                return -ENOENT;
        assert_int_equal(lio_fs_list(path, false, false, &l), 0);
        for (char **e = l; *e; e++) {
                _cleanup_free_ char *p = lio_path(path, *e, NULL);
                if (!lio_strv_contains(F->auto_paths, p))
                        return -ENOTEMPTY;
        }
        for (char **e = l; *e; e++) {
                _cleanup_free_ char *p = lio_path(path, *e, NULL);
                nftw(p, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        }
        if (rmdir(path) < 0)
                return -errno;
        log_op("rmdir", path);
        return 0;
}

static int fake_symlink(const char *target, const char *linkpath, void *u) {
        int r = injected("symlink", linkpath);
        if (r < 0)
                return r;
        if (symlink(target, linkpath) < 0)
                return -errno;
        log_op("symlink", linkpath);
        return 0;
}

static int fake_unlink(const char *path, void *u) {
        int r = injected("unlink", path);
        if (r < 0)
                return r;
        if (unlink(path) < 0)
                return -errno;
        log_op("unlink", path);
        return 0;
}

static int fake_write(const char *path, const char *value, void *u) {
        int r = injected("write", path);
        if (r < 0)
                return r;
        r = lio_fs_real_write(path, value, NULL);
        if (r < 0)
                return r;
        log_op("write", path);
        /* Like the kernel: control does not show in udev_path; info does. */
        if (startswith(value, "udev_path=")) {
                _cleanup_free_ char *dir = strndup(path, (size_t) (strrchr(path, '/') - path));
                _cleanup_free_ char *info = lio_path(dir, "info", NULL), *text = NULL;
                assert_true(asprintf(&text, "Status: DEACTIVATED  Max Queue Depth: 0\niBlock device:   UDEV PATH: %s  readonly: 0\n",
                                     value + strlen("udev_path=")) > 0);
                assert_int_equal(lio_fs_real_write(info, text, NULL), 0);
        }
        return 0;
}

static int fake_probe(const char *path, void *u) {
        if (startswith(path, "/dev/missing"))
                return -ENOENT;
        if (startswith(path, "/dev/busy"))
                return -EBUSY;
        if (startswith(path, "/dev/secondary"))
                return -EMEDIUMTYPE;
        return 0;
}

static const LioFsOps fake_ops = {
        .mkdir = fake_mkdir,
        .rmdir = fake_rmdir,
        .symlink = fake_symlink,
        .unlink = fake_unlink,
        .write = fake_write,
        .probe_device = fake_probe,
};

static int setup(void **state) {
        _cleanup_free_ char *core = NULL;

        F = calloc(1, sizeof *F);
        assert_non_null(F);
        strcpy(F->dir, "/tmp/test-lio-XXXXXX");
        assert_non_null(mkdtemp(F->dir));
        snprintf(F->root, sizeof F->root, "%s/target", F->dir);
        snprintf(F->lock, sizeof F->lock, "%s/lock", F->dir);
        assert_int_equal(mkdir(F->root, 0755), 0);
        core = lio_path(F->root, "core", NULL);
        assert_int_equal(mkdir(core, 0755), 0);
        F->auto_paths = calloc(1, sizeof(char *));
        F->cfg = (LioConfig) { .root = F->root, .iqn_prefix = PREFIX, .lock_path = F->lock, .lock_timeout_ms = 2000 };
        lio_fs_set_ops(&fake_ops, NULL);
        *state = F;
        return 0;
}

static int teardown(void **state) {
        lio_fs_set_ops(NULL, NULL);
        nftw(F->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        lio_strv_free(F->auto_paths);
        free(F->log);
        free(F);
        F = NULL;
        return 0;
}

static char *read_rel(const char *r) {
        _cleanup_free_ char *p = lio_path(F->root, r, NULL);
        char *v = NULL;
        if (lio_fs_read(p, &v) < 0)
                return NULL;
        return v;
}

static void assert_attr(const char *r, const char *want) {
        _cleanup_free_ char *v = read_rel(r);
        if (!v || !streq(v, want))
                fail_msg("%s: want '%s', have '%s'", r, want, strna(v));
}

/* Attribute files must hold the exact bytes (no newline). */
static void assert_raw(const char *r, const char *want) {
        _cleanup_free_ char *p = lio_path(F->root, r, NULL);
        char buf[512] = "";
        FILE *f = fopen(p, "re");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        assert_string_equal(buf, want);
}

static bool exists_rel(const char *r) {
        _cleanup_free_ char *p = lio_path(F->root, r, NULL);
        return lio_fs_exists(p);
}

static const LioAcl acl_a = { .initiator = INIT_A, .userid = "vm2user", .password = "labsecret12345" };
static const LioAcl acl_b = { .initiator = INIT_B, .userid = "debuser", .password = "debsecret123456",
                              .mutual_userid = "target1", .mutual_password = "mutualsecret99" };

static int ensure(const char *vol, const char *dev, const char *portal, const LioAcl *acls, size_t n) {
        const char *portals[] = { portal };
        LioExport e = {
                .volume = vol, .device = dev, .portals = portal ? portals : NULL, .n_portals = portal ? 1 : 0,
                .acls = acls, .n_acls = n,
        };
        return lio_export_ensure(&F->cfg, &e);
}

#define TGT "iscsi/" PREFIX ":vol1/tpgt_1"

static void test_create_tree(void **state) {
        LioAcl both[] = { acl_a, acl_b };
        char serial[LIO_SERIAL_LEN + 1];
        _cleanup_free_ char *link = NULL, *lp = lio_path(F->root, TGT "/lun/lun_0/drbdd", NULL);

        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.1", both, 2), 0);
        lio_serial_from_iqn(PREFIX ":vol1", serial);
        assert_attr("core/iblock_7788/vol1/udev_path", "/dev/drbd1000");
        assert_raw("core/iblock_7788/vol1/control", "udev_path=/dev/drbd1000");
        assert_raw("core/iblock_7788/vol1/udev_path", "/dev/drbd1000");
        assert_attr("core/iblock_7788/vol1/wwn/vpd_unit_serial", serial);
        assert_attr("core/iblock_7788/vol1/enable", "1");
        assert_attr(TGT "/enable", "1");
        assert_attr(TGT "/attrib/authentication", "1");
        assert_attr(TGT "/attrib/generate_node_acls", "0");
        assert_true(exists_rel(TGT "/np/10.99.0.1:3260"));
        assert_int_equal(lio_fs_readlink(lp, &link), 0);
        assert_true(strstr(link, "core/iblock_7788/vol1") != NULL);
        assert_raw(TGT "/acls/" INIT_A "/auth/userid", "vm2user");
        assert_raw(TGT "/acls/" INIT_A "/auth/password", "labsecret12345");
        assert_raw(TGT "/acls/" INIT_A "/auth/userid_mutual", "NULL");
        assert_raw(TGT "/acls/" INIT_B "/auth/userid_mutual", "target1");
        assert_raw(TGT "/acls/" INIT_B "/auth/password_mutual", "mutualsecret99");
        assert_true(exists_rel(TGT "/acls/" INIT_A "/lun_0/drbdd"));
        /* Order: backstore configured and enabled before the LUN links it,
         * serial before enable; the TPG enabled last. */
        assert_true(strstr(F->log, "write core/iblock_7788/vol1/wwn/vpd_unit_serial") <
                    strstr(F->log, "write core/iblock_7788/vol1/enable"));
        assert_true(strstr(F->log, "write core/iblock_7788/vol1/enable") < strstr(F->log, "symlink " TGT "/lun/lun_0/drbdd"));
        assert_non_null(strstr(F->log, "write " TGT "/enable\n"));
        assert_null(strstr(strstr(F->log, "write " TGT "/enable\n") + 1, "\n" "mkdir"));
}

static void test_idempotent(void **state) {
        LioAcl both[] = { acl_a, acl_b };

        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.1", both, 2), 0);
        log_reset();
        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.1", both, 2), 0);
        /* Nothing to do means nothing written. */
        if (F->log)
                fail_msg("second ensure changed configfs:\n%s", F->log);
}

static void test_remove_order(void **state) {
        _cleanup_(lio_strv_freep) char **iscsi = NULL, **core = NULL;
        _cleanup_free_ char *iscsi_dir = lio_path(F->root, "iscsi", NULL), *core_dir = lio_path(F->root, "core", NULL);
        const char *want =
                "write " TGT "/enable\n"
                "unlink " TGT "/acls/" INIT_A "/lun_0/drbdd\n"
                "rmdir " TGT "/acls/" INIT_A "/lun_0\n"
                "rmdir " TGT "/acls/" INIT_A "\n"
                "unlink " TGT "/lun/lun_0/drbdd\n"
                "rmdir " TGT "/lun/lun_0\n"
                "rmdir " TGT "/np/10.99.0.1:3260\n"
                "rmdir " TGT "\n"
                "rmdir iscsi/" PREFIX ":vol1\n"
                "rmdir core/iblock_7788/vol1\n"
                "rmdir core/iblock_7788\n";

        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.1", &acl_a, 1), 0);
        log_reset();
        assert_int_equal(lio_export_remove(&F->cfg, "vol1"), 1);
        assert_string_equal(F->log, want);
        assert_int_equal(lio_fs_list(iscsi_dir, false, false, &iscsi), 0);
        for (char **e = iscsi; *e; e++)
                assert_false(startswith(*e, PREFIX));
        assert_int_equal(lio_fs_list(core_dir, false, false, &core), 0);
        assert_int_equal(lio_strv_length(core), 0);
        log_reset();
        assert_int_equal(lio_export_remove(&F->cfg, "vol1"), 0);
        assert_null(F->log);
}

static void test_invalid_input(void **state) {
        LioAcl bad = acl_a, mutual_same = acl_b;

        assert_int_equal(ensure("Vol1", "/dev/drbd1000", NULL, NULL, 0), -EINVAL);
        assert_non_null(strstr(lio_error_last(), "upper-case"));
        assert_int_equal(ensure("vol/1", "/dev/drbd1000", NULL, NULL, 0), -EINVAL);
        assert_int_equal(ensure("vol1", "/dev/../etc/passwd", NULL, NULL, 0), -EINVAL);
        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.1:99999", NULL, 0), -EINVAL);
        assert_non_null(strstr(lio_error_last(), "port"));
        bad.password = "short";
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, &bad, 1), -EINVAL);
        assert_non_null(strstr(lio_error_last(), "at least 12"));
        bad = acl_a;
        bad.initiator = "iqn.2026-11.org.x:a\nb";
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, &bad, 1), -EINVAL);
        mutual_same.mutual_password = mutual_same.password;
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, &mutual_same, 1), -EINVAL);
        assert_non_null(strstr(lio_error_last(), "differ"));
        bad = acl_b;
        bad.mutual_password = NULL;
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, &bad, 1), -EINVAL);
        assert_null(F->log); /* nothing touched */
}

static void test_device_errors(void **state) {
        assert_int_equal(ensure("vol1", "/dev/missing0", NULL, NULL, 0), -ENOENT);
        assert_non_null(strstr(lio_error_last(), "does not exist"));
        assert_int_equal(ensure("vol1", "/dev/busy0", NULL, NULL, 0), -EBUSY);
        assert_non_null(strstr(lio_error_last(), "exclusive use"));
        assert_int_equal(ensure("vol1", "/dev/secondary0", NULL, NULL, 0), -EBUSY);
        assert_non_null(strstr(lio_error_last(), "Primary"));
        assert_false(exists_rel("core/iblock_7788/vol1"));
        /* The kernel's own EBUSY when iblock opens the device. */
        F->fail_op = "write";
        F->fail_suffix = "vol1/enable";
        F->fail_errno = EBUSY;
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, &acl_a, 1), -EBUSY);
        assert_non_null(strstr(lio_error_last(), "/dev/drbd1000 is in exclusive use"));
        assert_false(exists_rel("core/iblock_7788/vol1"));
        assert_false(exists_rel("iscsi/" PREFIX ":vol1"));
}

static void test_rollback(void **state) {
        F->fail_op = "mkdir";
        F->fail_suffix = "np/10.99.0.7:3260";
        F->fail_errno = EADDRNOTAVAIL;
        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.7", &acl_a, 1), -EADDRNOTAVAIL);
        assert_non_null(strstr(lio_error_last(), "not configured on this host"));
        assert_false(exists_rel("core/iblock_7788/vol1"));
        assert_false(exists_rel("iscsi/" PREFIX ":vol1"));
        /* An existing export is not rolled back on a later failure. */
        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.1", &acl_a, 1), 0);
        F->fail_op = "mkdir";
        F->fail_suffix = "np/10.99.0.7:3260";
        F->fail_errno = EADDRINUSE;
        assert_int_equal(ensure("vol1", "/dev/drbd1000", "10.99.0.7", &acl_a, 1), -EADDRINUSE);
        assert_true(exists_rel("core/iblock_7788/vol1"));
}

static void test_modules_missing(void **state) {
        LioConfig cfg = F->cfg;
        char missing[128];

        snprintf(missing, sizeof missing, "%s/nonexistent", F->dir);
        cfg.root = missing;
        LioExport e = { .volume = "vol1", .device = "/dev/drbd1000" };
        assert_int_equal(lio_export_ensure(&cfg, &e), -ENOPKG);
        assert_non_null(strstr(lio_error_last(), "target_core_mod"));
        assert_int_equal(lio_export_list(&cfg, &(char **) { NULL }), -ENOPKG);

        F->fail_op = "mkdir";
        F->fail_suffix = "core/iblock_7788";
        F->fail_errno = EINVAL;
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, NULL, 0), -ENOPKG);
        assert_non_null(strstr(lio_error_last(), "target_core_iblock"));

        F->fail_op = "mkdir";
        F->fail_suffix = "/iscsi";
        F->fail_errno = ENOENT;
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, NULL, 0), -ENOPKG);
        assert_non_null(strstr(lio_error_last(), "iscsi_target_mod"));
        assert_false(exists_rel("core/iblock_7788/vol1"));
}

static void test_conflict(void **state) {
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, NULL, 0), 0);
        assert_int_equal(ensure("vol1", "/dev/drbd1001", NULL, NULL, 0), -EEXIST);
        assert_non_null(strstr(lio_error_last(), "/dev/drbd1000"));
}

static void test_list_orphans(void **state) {
        _cleanup_(lio_strv_freep) char **l = NULL, **removed = NULL, **after = NULL;
        _cleanup_free_ char *foreign_t = lio_path(F->root, "iscsi", "iqn.2003-01.org.linux-iscsi.other:x", NULL);
        _cleanup_free_ char *foreign_h = lio_path(F->root, "core", "iblock_0", NULL);
        char *keep[] = { "vol2", NULL };

        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, NULL, 0), 0);
        assert_int_equal(ensure("vol2", "/dev/drbd1001", NULL, NULL, 0), 0);
        assert_int_equal(ensure("vol3", "/dev/drbd1002", NULL, NULL, 0), 0);
        assert_int_equal(mkdir(foreign_t, 0755), 0);
        assert_int_equal(mkdir(foreign_h, 0755), 0);
        assert_int_equal(lio_export_list(&F->cfg, &l), 0);
        assert_int_equal(lio_strv_length(l), 3);
        assert_string_equal(l[0], "vol1");
        assert_string_equal(l[2], "vol3");
        assert_int_equal(lio_remove_orphans(&F->cfg, keep, &removed), 0);
        assert_int_equal(lio_strv_length(removed), 2);
        assert_string_equal(removed[0], "vol1");
        assert_string_equal(removed[1], "vol3");
        assert_int_equal(lio_export_list(&F->cfg, &after), 0);
        assert_int_equal(lio_strv_length(after), 1);
        assert_string_equal(after[0], "vol2");
        assert_true(lio_fs_is_dir(foreign_t));
        assert_true(lio_fs_is_dir(foreign_h));
}

static void test_grant_revoke(void **state) {
        _cleanup_(lio_export_info_freep) LioExportInfo *info = NULL;
        LioAcl upd = acl_a;

        assert_int_equal(lio_acl_ensure(&F->cfg, "vol1", &acl_a), -ENOENT);
        assert_non_null(strstr(lio_error_last(), "not exported"));
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, NULL, 0), 0);
        assert_int_equal(lio_acl_ensure(&F->cfg, "vol1", &acl_a), 0);
        assert_int_equal(lio_acl_ensure(&F->cfg, "vol1", &acl_b), 0);
        upd.password = "newsecret123456";
        assert_int_equal(lio_acl_ensure(&F->cfg, "vol1", &upd), 0);
        assert_raw(TGT "/acls/" INIT_A "/auth/password", "newsecret123456");
        assert_int_equal(lio_export_show(&F->cfg, "vol1", &info), 0);
        assert_int_equal(info->n_acls, 2);
        assert_string_equal(info->acls[0].initiator, INIT_B);
        assert_string_equal(info->acls[0].mutual_userid, "target1");
        assert_string_equal(info->acls[1].userid, "vm2user");
        assert_null(info->acls[1].mutual_userid);
        assert_false(info->acls[1].session);
        assert_int_equal(lio_acl_remove(&F->cfg, "vol1", INIT_A), 1);
        assert_int_equal(lio_acl_remove(&F->cfg, "vol1", INIT_A), 0);
        assert_false(exists_rel(TGT "/acls/" INIT_A));
        assert_int_equal(lio_acl_remove(&F->cfg, "vol1", "../../lun"), -EINVAL);
}

static void test_portals_and_prune(void **state) {
        _cleanup_(lio_export_info_freep) LioExportInfo *info = NULL;
        const char *two[] = { "10.99.0.1", "[fd00::1]:3261" }, *one[] = { "10.99.0.2:3260" };
        LioAcl both[] = { acl_a, acl_b };
        LioExport e = { .volume = "vol1", .device = "/dev/drbd1000", .portals = two, .n_portals = 2, .acls = both, .n_acls = 2 };

        assert_int_equal(lio_export_ensure(&F->cfg, &e), 0);
        assert_true(exists_rel(TGT "/np/[fd00::1]:3261"));
        e.portals = one;
        e.n_portals = 1;
        e.acls = &acl_b;
        e.n_acls = 1;
        e.prune_acls = true;
        assert_int_equal(lio_export_ensure(&F->cfg, &e), 0);
        assert_int_equal(lio_export_show(&F->cfg, "vol1", &info), 0);
        assert_int_equal(lio_strv_length(info->portals), 1);
        assert_string_equal(info->portals[0], "10.99.0.2:3260");
        assert_int_equal(info->n_acls, 1);
        assert_string_equal(info->acls[0].initiator, INIT_B);
        assert_true(info->backstore_enabled && info->tpg_enabled && info->lun);
        assert_string_equal(info->device, "/dev/drbd1000");
        /* Default portal when none is given. */
        e.portals = NULL;
        e.n_portals = 0;
        assert_int_equal(lio_export_ensure(&F->cfg, &e), 0);
        assert_true(exists_rel(TGT "/np/0.0.0.0:3260"));
}

static void test_half_created(void **state) {
        _cleanup_free_ char *hba = lio_path(F->root, "core", "iblock_7788", NULL), *so = lio_path(hba, "vol1", NULL);

        /* A run interrupted after mkdir of the backstore. */
        assert_int_equal(fake_mkdir(hba, NULL), 0);
        assert_int_equal(fake_mkdir(so, NULL), 0);
        assert_int_equal(ensure("vol1", "/dev/drbd1000", NULL, NULL, 0), 0);
        assert_attr("core/iblock_7788/vol1/enable", "1");
        assert_attr("core/iblock_7788/vol1/udev_path", "/dev/drbd1000");
}

static void test_show_missing(void **state) {
        LioExportInfo *info = NULL;

        assert_int_equal(lio_export_show(&F->cfg, "vol9", &info), -ENOENT);
        assert_null(info);
        assert_non_null(strstr(lio_error_last(), "not exported"));
}

static void test_lock(void **state) {
        _cleanup_close_ int fd = open(F->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        LioConfig cfg = F->cfg;
        LioExport e = { .volume = "vol1", .device = "/dev/drbd1000" };
        pid_t pids[4];

        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX), 0);
        cfg.lock_timeout_ms = 100;
        assert_int_equal(lio_export_ensure(&cfg, &e), -ETIMEDOUT);
        assert_non_null(strstr(lio_error_last(), "another iSCSI export operation"));
        assert_false(exists_rel("core/iblock_7788/vol1"));
        assert_int_equal(flock(fd, LOCK_UN), 0);

        /* Four processes ensure the same export at once: all succeed. */
        for (int i = 0; i < 4; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0)
                        _exit(lio_export_ensure(&F->cfg, &e) == 0 ? 0 : 1);
        }
        for (int i = 0; i < 4; i++) {
                int st;
                assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
                assert_true(WIFEXITED(st));
                assert_int_equal(WEXITSTATUS(st), 0);
        }
        assert_attr("core/iblock_7788/vol1/enable", "1");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_tree, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
                cmocka_unit_test_setup_teardown(test_device_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_modules_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_orphans, setup, teardown),
                cmocka_unit_test_setup_teardown(test_grant_revoke, setup, teardown),
                cmocka_unit_test_setup_teardown(test_portals_and_prune, setup, teardown),
                cmocka_unit_test_setup_teardown(test_half_created, setup, teardown),
                cmocka_unit_test_setup_teardown(test_show_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
