/* iSCSI exports through LIO configfs: the object tree of one volume, built and torn down in kernel order under a lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lio.h"

/* Paths and settings of one call. */
typedef struct Ctx {
        char *root;
        const char *prefix;
        const char *lock_path;
        unsigned lock_timeout_ms;
        char *hba;       /* root/core/iblock_N */
        char *hba_name;  /* iblock_N */
} Ctx;

/* The configfs paths of one volume's export. */
typedef struct Paths {
        char *iqn, *so, *target, *tpg, *lun, *lun_link, *np, *acls;
} Paths;

static void ctx_done(Ctx *c) {
        free(c->root);
        free(c->hba);
        free(c->hba_name);
}

static void paths_done(Paths *p) {
        free(p->iqn);
        free(p->so);
        free(p->target);
        free(p->tpg);
        free(p->lun);
        free(p->lun_link);
        free(p->np);
        free(p->acls);
}

static const char *env_or(const char *v, const char *env, const char *def) {
        const char *e;
        if (v)
                return v;
        e = getenv(env);
        return e && *e ? e : def;
}

const char *lio_config_prefix(const LioConfig *cfg) {
        return env_or(cfg ? cfg->iqn_prefix : NULL, "DRBDD_ISCSI_IQN_PREFIX", LIO_DEFAULT_IQN_PREFIX);
}

static int ctx_init(const LioConfig *cfg, Ctx *c) {
        static const LioConfig none = {};
        _cleanup_free_ char *msg = NULL;
        const char *root;
        size_t n;
        int r;

        if (!cfg)
                cfg = &none;
        *c = (Ctx) {};
        lio_error_clear();
        root = env_or(cfg->root, "DRBDD_CONFIGFS_ROOT", LIO_DEFAULT_ROOT);
        if (root[0] != '/' || strstr(root, ".."))
                return lio_error_set(-EINVAL, "configfs root '%s' is not an absolute normalised path", root);
        c->root = strdup(root);
        if (!c->root)
                return -ENOMEM;
        n = strlen(c->root);
        while (n > 1 && c->root[n - 1] == '/')
                c->root[--n] = '\0';
        c->prefix = lio_config_prefix(cfg);
        r = lio_iqn_validate("IQN prefix", c->prefix, &msg);
        if (r < 0)
                return lio_error_set(r, "%s", msg ? msg : "invalid IQN prefix");
        c->lock_path = env_or(cfg->lock_path, "DRBDD_ISCSI_LOCK", LIO_DEFAULT_LOCK);
        c->lock_timeout_ms = cfg->lock_timeout_ms ? cfg->lock_timeout_ms : 30000;
        if (asprintf(&c->hba_name, "iblock_%u", cfg->hba_index ? cfg->hba_index : LIO_DEFAULT_HBA) < 0) {
                c->hba_name = NULL;
                return -ENOMEM;
        }
        c->hba = lio_path(c->root, "core", c->hba_name, NULL);
        return c->hba ? 0 : -ENOMEM;
}

static int paths_init(const Ctx *c, const char *volume, Paths *p) {
        _cleanup_free_ char *msg = NULL;
        int r;

        *p = (Paths) {};
        r = lio_target_iqn(c->prefix, volume, &p->iqn, &msg);
        if (r < 0)
                return lio_error_set(r, "%s", msg ? msg : "invalid volume name");
        p->so = lio_path(c->hba, volume, NULL);
        p->target = lio_path(c->root, "iscsi", p->iqn, NULL);
        p->tpg = lio_path(c->root, "iscsi", p->iqn, LIO_TPG, NULL);
        p->lun = lio_path(c->root, "iscsi", p->iqn, LIO_TPG, "lun", LIO_LUN, NULL);
        p->lun_link = lio_path(c->root, "iscsi", p->iqn, LIO_TPG, "lun", LIO_LUN, LIO_LINK, NULL);
        p->np = lio_path(c->root, "iscsi", p->iqn, LIO_TPG, "np", NULL);
        p->acls = lio_path(c->root, "iscsi", p->iqn, LIO_TPG, "acls", NULL);
        if (!p->so || !p->target || !p->tpg || !p->lun || !p->lun_link || !p->np || !p->acls)
                return -ENOMEM;
        return 0;
}

/* ---- locking ------------------------------------------------------------ */

static int lock_take(const Ctx *c, bool exclusive, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct timespec pause = { .tv_nsec = 20 * 1000 * 1000 };
        unsigned waited = 0;

        fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return lio_error_set(-errno, "cannot open lock file %s: %s", c->lock_path, strerror(errno));
        for (;;) {
                if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
                        break;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return lio_error_set(-errno, "cannot lock %s: %s", c->lock_path, strerror(errno));
                if (waited >= c->lock_timeout_ms)
                        return lio_error_set(-ETIMEDOUT, "another iSCSI export operation has held %s for %u ms", c->lock_path, waited);
                nanosleep(&pause, NULL);
                waited += 20;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- kernel presence ---------------------------------------------------- */

static int check_core(const Ctx *c) {
        if (lio_fs_is_dir(c->root))
                return 0;
        return lio_error_set(-ENOPKG, "LIO configfs %s does not exist: kernel module target_core_mod not loaded "
                             "or configfs not mounted (modprobe target_core_mod)", c->root);
}

/* mkdir of an iblock HBA makes the kernel look for the iblock backend. */
static int ensure_hba(const Ctx *c) {
        _cleanup_free_ char *core = lio_path(c->root, "core", NULL);
        int r;

        if (!core)
                return -ENOMEM;
        if (!lio_fs_is_dir(core))
                return lio_error_set(-ENOPKG, "%s does not exist: kernel module target_core_mod not loaded (modprobe target_core_mod)", core);
        r = lio_fs_mkdir(c->hba);
        if (r == -ENOENT || r == -EINVAL || r == -ENODEV)
                return lio_error_set(-ENOPKG, "cannot create %s: kernel module target_core_iblock missing (modprobe target_core_iblock)", c->hba);
        if (r < 0)
                return lio_error_set(r, "cannot create %s: %s", c->hba, strerror(-r));
        return 0;
}

/* mkdir of the fabric directory makes the kernel load iscsi_target_mod. */
static int ensure_fabric(const Ctx *c) {
        _cleanup_free_ char *iscsi = lio_path(c->root, "iscsi", NULL);
        int r;

        if (!iscsi)
                return -ENOMEM;
        if (lio_fs_is_dir(iscsi))
                return 0;
        r = lio_fs_mkdir(iscsi);
        if (r == -ENOENT || r == -EINVAL || r == -ENODEV)
                return lio_error_set(-ENOPKG, "cannot create %s: kernel module iscsi_target_mod missing (modprobe iscsi_target_mod)", iscsi);
        if (r < 0)
                return lio_error_set(r, "cannot create %s: %s", iscsi, strerror(-r));
        return 0;
}

/* ---- input validation --------------------------------------------------- */

static int validate_acl(const LioAcl *a) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (!a)
                return lio_error_set(-EINVAL, "no ACL given");
        r = lio_initiator_validate(a->initiator, &msg);
        if (r >= 0)
                r = lio_chap_user_validate("CHAP user", a->userid, &msg);
        if (r >= 0)
                r = lio_chap_secret_validate("CHAP password", a->password, &msg);
        if (r >= 0 && (a->mutual_userid || a->mutual_password)) {
                r = lio_chap_user_validate("mutual CHAP user", a->mutual_userid, &msg);
                if (r >= 0)
                        r = lio_chap_secret_validate("mutual CHAP password", a->mutual_password, &msg);
                if (r >= 0 && streq(a->password, a->mutual_password))
                        return lio_error_set(-EINVAL, "mutual CHAP password must differ from the CHAP password (RFC 3720 8.2.1)");
        }
        if (r < 0)
                return lio_error_set(r, "%s", msg ? msg : "invalid ACL");
        return 0;
}

/* Canonical portals of e, NULL-terminated. */
static int export_portals(const LioExport *e, char ***ret) {
        _cleanup_(lio_strv_freep) char **l = calloc(1, sizeof(char *));
        char canon[LIO_PORTAL_MAX];
        int r;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < MAX(e->n_portals, (size_t) 1); i++) {
                _cleanup_free_ char *msg = NULL;
                const char *p = e->n_portals ? e->portals[i] : LIO_DEFAULT_PORTAL;
                r = lio_portal_canonical(p, canon, &msg);
                if (r < 0)
                        return lio_error_set(r, "%s", msg ? msg : "invalid portal");
                if (lio_strv_contains(l, canon))
                        continue;
                r = lio_strv_push(&l, canon);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int validate_export(const LioExport *e) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (!e)
                return lio_error_set(-EINVAL, "no export given");
        r = lio_volume_validate(e->volume, &msg);
        if (r >= 0)
                r = lio_device_validate(e->device, &msg);
        if (r < 0)
                return lio_error_set(r, "%s", msg ? msg : "invalid export");
        for (size_t i = 0; i < e->n_acls; i++) {
                r = validate_acl(&e->acls[i]);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(e->acls[j].initiator, e->acls[i].initiator))
                                return lio_error_set(-EINVAL, "initiator %s listed twice", e->acls[i].initiator);
        }
        return 0;
}

/* ---- backstore ---------------------------------------------------------- */

static int device_error(const char *device, int r) {
        switch (r) {
        case -ENOENT:
        case -ENXIO:
        case -ENODEV:
                return lio_error_set(-ENOENT, "device %s does not exist", device);
        case -ENOTBLK:
                return lio_error_set(-EINVAL, "%s is not a block device", device);
        case -EBUSY:
                return lio_error_set(-EBUSY, "device %s is in exclusive use (mounted, an LVM physical volume, "
                                     "held by device-mapper, or exported already)", device);
        case -EMEDIUMTYPE:
        case -EROFS:
                return lio_error_set(-EBUSY, "device %s cannot be opened for writing: %s (a DRBD device must be Primary)",
                                     device, strerror(-r));
        default:
                return lio_error_set(r, "cannot open device %s: %s", device, strerror(-r));
        }
}

/* The device of a backstore: its udev_path attribute, or what iblock's
 * info says (objects made by other tools may lack udev_path). */
static char *backstore_device(const char *so) {
        _cleanup_free_ char *udev = lio_path(so, "udev_path", NULL), *info = lio_path(so, "info", NULL), *v = NULL;
        char *dev = NULL;

        if (!udev || !info)
                return NULL;
        if (lio_fs_read(udev, &v) >= 0 && *v)
                return TAKE_PTR(v);
        free(v);
        v = NULL;
        if (lio_fs_read(info, &v) >= 0 && lio_info_udev_path(v, &dev) >= 0)
                return dev;
        return NULL;
}

static int backstore_ensure(const Ctx *c, const Paths *p, const char *device) {
        _cleanup_free_ char *udev = lio_path(p->so, "udev_path", NULL), *enable = lio_path(p->so, "enable", NULL),
                            *control = lio_path(p->so, "control", NULL),
                            *wwn = lio_path(p->so, "wwn", "vpd_unit_serial", NULL), *cur = NULL, *en = NULL,
                            *ctl = NULL;
        char serial[LIO_SERIAL_LEN + 1];
        bool created = false;
        int r;

        if (!udev || !enable || !control || !wwn)
                return -ENOMEM;
        r = ensure_hba(c);
        if (r < 0)
                return r;

        if (lio_fs_is_dir(p->so)) {
                cur = backstore_device(p->so);
                if (cur && !streq(cur, device))
                        return lio_error_set(-EEXIST, "volume backstore %s is bound to %s, not %s: remove the export first",
                                             p->so, cur, device);
                if (lio_fs_read(enable, &en) >= 0 && streq(en, "1"))
                        return 0;
                /* Left half-configured by an interrupted run: finish it. */
        } else {
                r = lio_fs_probe_device(device);
                if (r < 0)
                        return device_error(device, r);
                r = lio_fs_mkdir(p->so);
                if (r < 0)
                        return lio_error_set(r, "cannot create backstore %s: %s", p->so, strerror(-r));
                created = true;
        }

        if (asprintf(&ctl, "udev_path=%s", device) < 0) {
                ctl = NULL;
                r = -ENOMEM;
                goto fail;
        }
        r = lio_fs_write(control, ctl);
        if (r < 0) {
                lio_error_set(r, "cannot set %s: %s", control, strerror(-r));
                goto fail;
        }
        /* control configures iblock; the generic udev_path attribute is
         * what tools (and show) read back. */
        r = lio_fs_write(udev, device);
        if (r < 0) {
                lio_error_set(r, "cannot set %s: %s", udev, strerror(-r));
                goto fail;
        }
        /* Before the first LUN links it: the kernel refuses to change the
         * serial of an exported device. */
        lio_serial_from_iqn(p->iqn, serial);
        r = lio_fs_write(wwn, serial);
        if (r < 0) {
                lio_error_set(r, "cannot set unit serial %s: %s", wwn, strerror(-r));
                goto fail;
        }
        /* iblock opens the device exclusively here. */
        r = lio_fs_write(enable, "1");
        if (r < 0) {
                device_error(device, r);
                r = r == -ENXIO || r == -ENODEV ? -ENOENT : r;
                goto fail;
        }
        return 0;
fail:
        if (created)
                (void) lio_fs_rmdir(p->so);
        return r == -EMEDIUMTYPE || r == -EROFS ? -EBUSY : r;
}

/* ---- target side -------------------------------------------------------- */

/* Does the symlink at path point at configfs object suffix ("core/iblock_N/vol")? */
static bool link_points_at(const char *path, const char *suffix) {
        _cleanup_free_ char *t = NULL;
        size_t n, m;

        if (lio_fs_readlink(path, &t) < 0)
                return false;
        n = strlen(t);
        m = strlen(suffix);
        return n >= m && streq(t + n - m, suffix) && (n == m || t[n - m - 1] == '/');
}

/* Makes dir hold exactly one link named LIO_LINK to target (suffix
 * identifies it); -EEXIST when a link to something else is there. */
static int ensure_link(const char *dir, const char *target, const char *suffix) {
        _cleanup_(lio_strv_freep) char **l = NULL;
        _cleanup_free_ char *link = lio_path(dir, LIO_LINK, NULL);
        int r;

        if (!link)
                return -ENOMEM;
        r = lio_fs_list(dir, false, false, &l);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", dir, strerror(-r));
        for (char **e = l; *e; e++) {
                _cleanup_free_ char *path = lio_path(dir, *e, NULL);
                struct stat st;
                if (!path)
                        return -ENOMEM;
                if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
                        continue;
                if (link_points_at(path, suffix))
                        return 0;
                return lio_error_set(-EEXIST, "%s links to another object than %s", path, suffix);
        }
        r = lio_fs_symlink(target, link);
        if (r < 0)
                return lio_error_set(r, "cannot link %s to %s: %s", link, target, strerror(-r));
        return 0;
}

static int portal_error(const char *path, const char *portal, int r) {
        if (r == -EADDRNOTAVAIL)
                return lio_error_set(r, "cannot listen on portal %s: address not configured on this host", portal);
        if (r == -EADDRINUSE)
                return lio_error_set(r, "cannot listen on portal %s: port in use by another program", portal);
        return lio_error_set(r, "cannot create portal %s: %s", path, strerror(-r));
}

static int portals_ensure(const Paths *p, char *const *want) {
        _cleanup_(lio_strv_freep) char **have = NULL;
        int r;

        r = lio_fs_list(p->np, true, false, &have);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", p->np, strerror(-r));
        for (char **h = have; *h; h++) {
                char canon[LIO_PORTAL_MAX];
                _cleanup_free_ char *path = NULL;
                if (lio_portal_canonical(*h, canon, NULL) >= 0 && lio_strv_contains(want, canon) && streq(canon, *h))
                        continue;
                path = lio_path(p->np, *h, NULL);
                if (!path)
                        return -ENOMEM;
                r = lio_fs_rmdir(path);
                if (r < 0)
                        return lio_error_set(r, "cannot remove portal %s: %s", path, strerror(-r));
        }
        for (char *const *w = want; *w; w++) {
                _cleanup_free_ char *path = lio_path(p->np, *w, NULL);
                if (!path)
                        return -ENOMEM;
                r = lio_fs_mkdir(path);
                if (r < 0)
                        return portal_error(path, *w, r);
        }
        return 0;
}

static int write_attr(const char *dir, const char *sub, const char *name, const char *value) {
        _cleanup_free_ char *path = lio_path(dir, sub, name, NULL);
        int r;

        if (!path)
                return -ENOMEM;
        r = lio_fs_ensure_value(path, value);
        if (r < 0)
                return lio_error_set(r, "cannot write %s: %s", path, strerror(-r));
        return 0;
}

static int acl_ensure_locked(const Paths *p, const LioAcl *a) {
        _cleanup_free_ char *acl = lio_path(p->acls, a->initiator, NULL), *mlun = NULL, *suffix = NULL;
        bool mutual = a->mutual_userid && a->mutual_password;
        int r;

        if (!acl)
                return -ENOMEM;
        mlun = lio_path(acl, LIO_LUN, NULL);
        suffix = lio_path(LIO_TPG, "lun", LIO_LUN, NULL);
        if (!mlun || !suffix)
                return -ENOMEM;
        r = lio_fs_mkdir(acl);
        if (r < 0)
                return lio_error_set(r, "cannot create ACL %s: %s", acl, strerror(-r));
        r = lio_fs_mkdir(mlun);
        if (r < 0)
                return lio_error_set(r, "cannot create mapped LUN %s: %s", mlun, strerror(-r));
        r = ensure_link(mlun, p->lun, suffix);
        if (r < 0)
                return r;
        /* Values without a trailing newline: configfs keeps it and CHAP_N
         * would never match. "NULL" clears the mutual pair. */
        r = write_attr(acl, "auth", "userid", a->userid);
        if (r >= 0)
                r = write_attr(acl, "auth", "password", a->password);
        if (r >= 0)
                r = write_attr(acl, "auth", "userid_mutual", mutual ? a->mutual_userid : "NULL");
        if (r >= 0)
                r = write_attr(acl, "auth", "password_mutual", mutual ? a->mutual_password : "NULL");
        return r;
}

/* Removes mapped LUNs (their links first), then the ACL itself. */
static int acl_remove_locked(const char *acl) {
        _cleanup_(lio_strv_freep) char **mluns = NULL;
        int r;

        r = lio_fs_list(acl, true, true, &mluns);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", acl, strerror(-r));
        for (char **m = mluns; *m; m++) {
                _cleanup_(lio_strv_freep) char **links = NULL;
                _cleanup_free_ char *mlun = NULL;
                if (!startswith(*m, "lun_"))
                        continue;
                mlun = lio_path(acl, *m, NULL);
                if (!mlun)
                        return -ENOMEM;
                r = lio_fs_list(mlun, false, true, &links);
                if (r < 0)
                        return lio_error_set(r, "cannot list %s: %s", mlun, strerror(-r));
                for (char **l = links; *l; l++) {
                        _cleanup_free_ char *path = lio_path(mlun, *l, NULL);
                        struct stat st;
                        if (!path)
                                return -ENOMEM;
                        if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
                                continue;
                        r = lio_fs_unlink(path);
                        if (r < 0)
                                return lio_error_set(r, "cannot unlink %s: %s", path, strerror(-r));
                }
                r = lio_fs_rmdir(mlun);
                if (r < 0)
                        return lio_error_set(r, "cannot remove mapped LUN %s: %s", mlun, strerror(-r));
        }
        r = lio_fs_rmdir(acl);
        if (r < 0)
                return lio_error_set(r, "cannot remove ACL %s: %s", acl, strerror(-r));
        return r;
}

static int target_ensure(const Ctx *c, const Paths *p, const LioExport *e, char *const *portals) {
        _cleanup_free_ char *suffix = lio_path("core", c->hba_name, e->volume, NULL);
        _cleanup_free_ char *enable = lio_path(p->tpg, "enable", NULL);
        int r;

        if (!suffix || !enable)
                return -ENOMEM;
        r = ensure_fabric(c);
        if (r < 0)
                return r;
        r = lio_fs_mkdir(p->target);
        if (r >= 0)
                r = lio_fs_mkdir(p->tpg);
        if (r < 0)
                return lio_error_set(r, "cannot create target %s: %s", p->tpg, strerror(-r));
        r = lio_fs_mkdir(p->lun);
        if (r < 0)
                return lio_error_set(r, "cannot create LUN %s: %s", p->lun, strerror(-r));
        r = ensure_link(p->lun, p->so, suffix);
        if (r < 0)
                return r;
        r = portals_ensure(p, portals);
        if (r < 0)
                return r;
        /* CHAP for everyone, and only initiators with an ACL. */
        r = write_attr(p->tpg, "attrib", "authentication", "1");
        if (r >= 0)
                r = write_attr(p->tpg, "attrib", "generate_node_acls", "0");
        if (r >= 0)
                r = write_attr(p->tpg, "attrib", "cache_dynamic_acls", "0");
        if (r >= 0)
                r = write_attr(p->tpg, "attrib", "demo_mode_write_protect", "1");
        if (r < 0)
                return r;
        for (size_t i = 0; i < e->n_acls; i++) {
                r = acl_ensure_locked(p, &e->acls[i]);
                if (r < 0)
                        return r;
        }
        if (e->prune_acls) {
                _cleanup_(lio_strv_freep) char **have = NULL;
                r = lio_fs_list(p->acls, true, false, &have);
                if (r < 0)
                        return lio_error_set(r, "cannot list %s: %s", p->acls, strerror(-r));
                for (char **h = have; *h; h++) {
                        _cleanup_free_ char *acl = NULL;
                        bool keep = false;
                        for (size_t i = 0; i < e->n_acls; i++)
                                keep = keep || streq(e->acls[i].initiator, *h);
                        if (keep)
                                continue;
                        acl = lio_path(p->acls, *h, NULL);
                        if (!acl)
                                return -ENOMEM;
                        r = acl_remove_locked(acl);
                        if (r < 0)
                                return r;
                }
        }
        r = lio_fs_ensure_value(enable, "1");
        if (r < 0)
                return lio_error_set(r, "cannot enable %s: %s", p->tpg, strerror(-r));
        return 0;
}

/* ---- removal ------------------------------------------------------------ */

/* Unlinks the symlinks in dir, then removes it. */
static int remove_linked_dir(const char *dir, const char *what) {
        _cleanup_(lio_strv_freep) char **links = NULL;
        int r;

        r = lio_fs_list(dir, false, true, &links);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", dir, strerror(-r));
        for (char **l = links; *l; l++) {
                _cleanup_free_ char *path = lio_path(dir, *l, NULL);
                struct stat st;
                if (!path)
                        return -ENOMEM;
                if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
                        continue;
                r = lio_fs_unlink(path);
                if (r < 0)
                        return lio_error_set(r, "cannot unlink %s: %s", path, strerror(-r));
        }
        r = lio_fs_rmdir(dir);
        if (r < 0)
                return lio_error_set(r, "cannot remove %s %s: %s", what, dir, strerror(-r));
        return r;
}

static int tpg_remove(const char *tpg) {
        _cleanup_free_ char *enable = lio_path(tpg, "enable", NULL), *acls = lio_path(tpg, "acls", NULL),
                            *luns = lio_path(tpg, "lun", NULL), *np = lio_path(tpg, "np", NULL);
        _cleanup_(lio_strv_freep) char **l = NULL;
        int r;

        if (!enable || !acls || !luns || !np)
                return -ENOMEM;
        /* Disabled first: no login can race the teardown; the kernel ends
         * the sessions that exist. */
        if (lio_fs_exists(enable)) {
                _cleanup_free_ char *cur = NULL;
                if (lio_fs_read(enable, &cur) < 0 || !streq(cur, "0")) {
                        r = lio_fs_write(enable, "0");
                        if (r < 0 && r != -ENOENT)
                                return lio_error_set(r, "cannot disable %s: %s", tpg, strerror(-r));
                }
        }
        r = lio_fs_list(acls, true, true, &l);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", acls, strerror(-r));
        for (char **a = l; *a; a++) {
                _cleanup_free_ char *acl = lio_path(acls, *a, NULL);
                if (!acl)
                        return -ENOMEM;
                r = acl_remove_locked(acl);
                if (r < 0)
                        return r;
        }
        lio_strv_free(TAKE_PTR(l));
        r = lio_fs_list(luns, true, true, &l);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", luns, strerror(-r));
        for (char **a = l; *a; a++) {
                _cleanup_free_ char *lun = lio_path(luns, *a, NULL);
                if (!lun)
                        return -ENOMEM;
                r = remove_linked_dir(lun, "LUN");
                if (r < 0)
                        return r;
        }
        lio_strv_free(TAKE_PTR(l));
        r = lio_fs_list(np, true, true, &l);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", np, strerror(-r));
        for (char **a = l; *a; a++) {
                _cleanup_free_ char *portal = lio_path(np, *a, NULL);
                if (!portal)
                        return -ENOMEM;
                r = lio_fs_rmdir(portal);
                if (r < 0)
                        return lio_error_set(r, "cannot remove portal %s: %s", portal, strerror(-r));
        }
        r = lio_fs_rmdir(tpg);
        if (r < 0)
                return lio_error_set(r, "cannot remove TPG %s: %s", tpg, strerror(-r));
        return 0;
}

static int remove_locked(const Ctx *c, const Paths *p) {
        _cleanup_(lio_strv_freep) char **tpgs = NULL;
        bool removed = false;
        int r;

        if (lio_fs_is_dir(p->target)) {
                r = lio_fs_list(p->target, true, true, &tpgs);
                if (r < 0)
                        return lio_error_set(r, "cannot list %s: %s", p->target, strerror(-r));
                for (char **t = tpgs; *t; t++) {
                        _cleanup_free_ char *tpg = NULL;
                        if (!startswith(*t, "tpgt_"))
                                continue;
                        tpg = lio_path(p->target, *t, NULL);
                        if (!tpg)
                                return -ENOMEM;
                        r = tpg_remove(tpg);
                        if (r < 0)
                                return r;
                }
                r = lio_fs_rmdir(p->target);
                if (r < 0)
                        return lio_error_set(r, "cannot remove target %s: %s", p->target, strerror(-r));
                removed = true;
        }
        r = lio_fs_rmdir(p->so);
        if (r == -EBUSY)
                return lio_error_set(r, "backstore %s is still in use (linked as a LUN elsewhere)", p->so);
        if (r < 0)
                return lio_error_set(r, "cannot remove backstore %s: %s", p->so, strerror(-r));
        removed = removed || r > 0;
        /* The HBA goes with its last backstore. */
        r = lio_fs_rmdir(c->hba);
        if (r < 0 && r != -ENOTEMPTY && r != -EBUSY)
                log_debug("lio: cannot remove %s: %s", c->hba, strerror(-r));
        return removed ? 1 : 0;
}

/* ---- public API ---------------------------------------------------------- */

int lio_export_ensure(const LioConfig *cfg, const LioExport *e) {
        _cleanup_(ctx_done) Ctx c = {};
        _cleanup_(paths_done) Paths p = {};
        _cleanup_(lio_strv_freep) char **portals = NULL;
        _cleanup_close_ int lock = -1;
        bool existed;
        int r;

        r = ctx_init(cfg, &c);
        if (r < 0)
                return r;
        r = validate_export(e);
        if (r < 0)
                return r;
        r = export_portals(e, &portals);
        if (r < 0)
                return r;
        r = paths_init(&c, e->volume, &p);
        if (r < 0)
                return r;
        r = lock_take(&c, true, &lock);
        if (r < 0)
                return r;
        r = check_core(&c);
        if (r < 0)
                return r;
        existed = lio_fs_exists(p.so) || lio_fs_exists(p.target);
        r = backstore_ensure(&c, &p, e->device);
        if (r >= 0)
                r = target_ensure(&c, &p, e, portals);
        if (r < 0 && !existed) {
                /* All or nothing for a new export; keep the first message. */
                char saved[1024];
                snprintf(saved, sizeof saved, "%s", lio_error_last());
                if (remove_locked(&c, &p) < 0)
                        log_debug("lio: rollback of %s incomplete: %s", e->volume, lio_error_last());
                lio_error_set(r, "%s", saved);
        }
        return r < 0 ? r : 0;
}

int lio_export_remove(const LioConfig *cfg, const char *volume) {
        _cleanup_(ctx_done) Ctx c = {};
        _cleanup_(paths_done) Paths p = {};
        _cleanup_close_ int lock = -1;
        int r;

        r = ctx_init(cfg, &c);
        if (r >= 0)
                r = paths_init(&c, volume, &p);
        if (r >= 0)
                r = lock_take(&c, true, &lock);
        if (r >= 0)
                r = check_core(&c);
        if (r < 0)
                return r;
        return remove_locked(&c, &p);
}

/* Opens the export of volume for ACL changes: lock held, TPG present. */
static int acl_begin(const LioConfig *cfg, const char *volume, Ctx *c, Paths *p, int *lock) {
        int r;

        r = ctx_init(cfg, c);
        if (r >= 0)
                r = paths_init(c, volume, p);
        if (r >= 0)
                r = lock_take(c, true, lock);
        if (r >= 0)
                r = check_core(c);
        if (r < 0)
                return r;
        if (!lio_fs_is_dir(p->tpg) || !lio_fs_is_dir(p->lun))
                return lio_error_set(-ENOENT, "volume %s is not exported (no %s)", volume, p->lun);
        return 0;
}

int lio_acl_ensure(const LioConfig *cfg, const char *volume, const LioAcl *acl) {
        _cleanup_(ctx_done) Ctx c = {};
        _cleanup_(paths_done) Paths p = {};
        _cleanup_close_ int lock = -1;
        _cleanup_free_ char *dir = NULL;
        bool existed;
        int r;

        r = validate_acl(acl);
        if (r < 0)
                return r;
        r = acl_begin(cfg, volume, &c, &p, &lock);
        if (r < 0)
                return r;
        dir = lio_path(p.acls, acl->initiator, NULL);
        if (!dir)
                return -ENOMEM;
        existed = lio_fs_exists(dir);
        r = acl_ensure_locked(&p, acl);
        if (r < 0 && !existed) {
                char saved[1024];
                snprintf(saved, sizeof saved, "%s", lio_error_last());
                (void) acl_remove_locked(dir);
                lio_error_set(r, "%s", saved);
        }
        return r < 0 ? r : 0;
}

int lio_acl_remove(const LioConfig *cfg, const char *volume, const char *initiator) {
        _cleanup_(ctx_done) Ctx c = {};
        _cleanup_(paths_done) Paths p = {};
        _cleanup_close_ int lock = -1;
        _cleanup_free_ char *dir = NULL, *msg = NULL;
        int r;

        r = lio_initiator_validate(initiator, &msg);
        if (r < 0)
                return lio_error_set(r, "%s", msg ? msg : "invalid initiator");
        r = acl_begin(cfg, volume, &c, &p, &lock);
        if (r < 0)
                return r;
        dir = lio_path(p.acls, initiator, NULL);
        if (!dir)
                return -ENOMEM;
        if (!lio_fs_exists(dir))
                return 0;
        r = acl_remove_locked(dir);
        return r < 0 ? r : 1;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_locked(const Ctx *c, char ***ret) {
        _cleanup_(lio_strv_freep) char **out = calloc(1, sizeof(char *)), **targets = NULL, **bs = NULL;
        _cleanup_free_ char *iscsi = lio_path(c->root, "iscsi", NULL);
        int r;

        if (!out || !iscsi)
                return -ENOMEM;
        r = lio_fs_list(iscsi, true, true, &targets);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", iscsi, strerror(-r));
        for (char **t = targets; *t; t++) {
                const char *vol = lio_target_iqn_volume(c->prefix, *t);
                if (vol && !lio_strv_contains(out, vol) && (r = lio_strv_push(&out, vol)) < 0)
                        return r;
        }
        r = lio_fs_list(c->hba, true, true, &bs);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", c->hba, strerror(-r));
        for (char **b = bs; *b; b++)
                if (lio_volume_validate(*b, NULL) >= 0 && !lio_strv_contains(out, *b) && (r = lio_strv_push(&out, *b)) < 0)
                        return r;
        qsort(out, lio_strv_length(out), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(out);
        return 0;
}

int lio_export_list(const LioConfig *cfg, char ***ret) {
        _cleanup_(ctx_done) Ctx c = {};
        _cleanup_close_ int lock = -1;
        int r;

        r = ctx_init(cfg, &c);
        if (r >= 0)
                r = lock_take(&c, false, &lock);
        if (r >= 0)
                r = check_core(&c);
        if (r < 0)
                return r;
        return list_locked(&c, ret);
}

void lio_export_info_free(LioExportInfo *i) {
        if (!i)
                return;
        free(i->volume);
        free(i->iqn);
        free(i->device);
        free(i->serial);
        lio_strv_free(i->portals);
        for (size_t k = 0; k < i->n_acls; k++) {
                free(i->acls[k].initiator);
                free(i->acls[k].userid);
                free(i->acls[k].mutual_userid);
        }
        free(i->acls);
        free(i);
}

static char *read_or_null(const char *dir, const char *a, const char *b) {
        _cleanup_free_ char *path = lio_path(dir, a, b, NULL);
        char *v = NULL;

        if (!path || lio_fs_read(path, &v) < 0)
                return NULL;
        return v;
}

static bool read_is(const char *dir, const char *a, const char *value) {
        _cleanup_free_ char *v = read_or_null(dir, a, NULL);
        return v && streq(v, value);
}

static int show_acls(const Paths *p, LioExportInfo *info) {
        _cleanup_(lio_strv_freep) char **l = NULL;
        int r;

        r = lio_fs_list(p->acls, true, true, &l);
        if (r < 0)
                return lio_error_set(r, "cannot list %s: %s", p->acls, strerror(-r));
        info->acls = calloc(lio_strv_length(l) + 1, sizeof(LioAclInfo));
        if (!info->acls)
                return -ENOMEM;
        for (char **a = l; *a; a++) {
                _cleanup_free_ char *dir = lio_path(p->acls, *a, NULL), *sess = NULL;
                LioAclInfo *ai = &info->acls[info->n_acls];
                if (!dir)
                        return -ENOMEM;
                ai->initiator = strdup(*a);
                if (!ai->initiator)
                        return -ENOMEM;
                info->n_acls++;
                ai->userid = read_or_null(dir, "auth", "userid");
                ai->mutual_userid = read_or_null(dir, "auth", "userid_mutual");
                if (ai->mutual_userid && (!*ai->mutual_userid || streq(ai->mutual_userid, "NULL"))) {
                        free(ai->mutual_userid);
                        ai->mutual_userid = NULL;
                }
                /* "No active iSCSI Session for Initiator Endpoint: ..." or
                 * "InitiatorName: ..." followed by session details. */
                sess = read_or_null(dir, "info", NULL);
                ai->session = sess && startswith(sess, "InitiatorName:");
        }
        return 0;
}

int lio_export_show(const LioConfig *cfg, const char *volume, LioExportInfo **ret) {
        _cleanup_(ctx_done) Ctx c = {};
        _cleanup_(paths_done) Paths p = {};
        _cleanup_(lio_export_info_freep) LioExportInfo *info = NULL;
        _cleanup_(lio_strv_freep) char **np = NULL;
        _cleanup_free_ char *suffix = NULL;
        _cleanup_close_ int lock = -1;
        int r;

        r = ctx_init(cfg, &c);
        if (r >= 0)
                r = paths_init(&c, volume, &p);
        if (r >= 0)
                r = lock_take(&c, false, &lock);
        if (r >= 0)
                r = check_core(&c);
        if (r < 0)
                return r;
        info = calloc(1, sizeof *info);
        suffix = lio_path("core", c.hba_name, volume, NULL);
        if (!info || !suffix || !(info->volume = strdup(volume)) || !(info->iqn = strdup(p.iqn)))
                return -ENOMEM;
        info->backstore = lio_fs_is_dir(p.so);
        info->target = lio_fs_is_dir(p.target);
        if (!info->backstore && !info->target)
                return lio_error_set(-ENOENT, "volume %s is not exported", volume);
        if (info->backstore) {
                info->device = backstore_device(p.so);
                info->serial = read_or_null(p.so, "wwn", "vpd_unit_serial");
                info->backstore_enabled = read_is(p.so, "enable", "1");
        }
        info->portals = calloc(1, sizeof(char *));
        if (!info->portals)
                return -ENOMEM;
        if (info->target) {
                info->tpg_enabled = read_is(p.tpg, "enable", "1");
                info->lun = link_points_at(p.lun_link, suffix);
                r = lio_fs_list(p.np, true, true, &np);
                if (r < 0)
                        return lio_error_set(r, "cannot list %s: %s", p.np, strerror(-r));
                for (char **n = np; *n; n++) {
                        char canon[LIO_PORTAL_MAX];
                        /* Names from configfs are input too. */
                        if (lio_portal_canonical(*n, canon, NULL) < 0)
                                continue;
                        r = lio_strv_push(&info->portals, canon);
                        if (r < 0)
                                return r;
                }
                r = show_acls(&p, info);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(info);
        return 0;
}

int lio_remove_orphans(const LioConfig *cfg, char *const *keep, char ***ret_removed) {
        _cleanup_(ctx_done) Ctx c = {};
        _cleanup_(lio_strv_freep) char **all = NULL, **removed = calloc(1, sizeof(char *));
        _cleanup_close_ int lock = -1;
        char first_msg[1024] = "";
        int r, first = 0;

        if (!removed)
                return -ENOMEM;
        r = ctx_init(cfg, &c);
        if (r >= 0)
                r = lock_take(&c, true, &lock);
        if (r >= 0)
                r = check_core(&c);
        if (r >= 0)
                r = list_locked(&c, &all);
        if (r < 0)
                return r;
        for (char **v = all; *v; v++) {
                _cleanup_(paths_done) Paths p = {};
                if (lio_strv_contains(keep, *v))
                        continue;
                r = paths_init(&c, *v, &p);
                if (r >= 0)
                        r = remove_locked(&c, &p);
                if (r < 0) {
                        if (first == 0) {
                                first = r;
                                snprintf(first_msg, sizeof first_msg, "%s", lio_error_last());
                        }
                        continue;
                }
                r = lio_strv_push(&removed, *v);
                if (r < 0)
                        return r;
        }
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed);
        if (first < 0)
                return lio_error_set(first, "%s", first_msg);
        return 0;
}
