/* iSCSI exports of block devices through LIO, written straight into configfs: ensure, grant, revoke, remove, list, show, orphan cleanup. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lio-configfs.h"
#include "lio-names.h"

#define LIO_DEFAULT_ROOT "/sys/kernel/config/target"
#define LIO_DEFAULT_IQN_PREFIX "iqn.2026-11.org.drbd.drbdd"
#define LIO_DEFAULT_LOCK "/run/lock/drbdd-iscsi.lock"
#define LIO_DEFAULT_PORTAL "0.0.0.0:3260"
/* Our backstores live under core/iblock_<LIO_DEFAULT_HBA>: an HBA of their
 * own, apart from the ones targetcli numbers from 0, so that listing and
 * orphan removal never touch objects this library did not create. */
#define LIO_DEFAULT_HBA 7788u
#define LIO_TPG "tpgt_1"
#define LIO_LUN "lun_0"
#define LIO_LINK "drbdd" /* name of our LUN and mapped-LUN symlinks */

/* Where and how to work. Every field may be 0/NULL for the default:
 * root: $DRBDD_CONFIGFS_ROOT, else LIO_DEFAULT_ROOT (unit tests point it at
 * a temporary tree); iqn_prefix: $DRBDD_ISCSI_IQN_PREFIX, else
 * LIO_DEFAULT_IQN_PREFIX; lock_path: $DRBDD_ISCSI_LOCK, else
 * LIO_DEFAULT_LOCK; lock_timeout_ms: 30 s. */
typedef struct LioConfig {
        const char *root;
        const char *iqn_prefix;
        const char *lock_path;
        unsigned lock_timeout_ms;
        unsigned hba_index;
} LioConfig;

/* One initiator allowed to log in, with CHAP (mandatory) and mutual CHAP
 * (optional: both mutual fields or neither; the mutual secret must differ). */
typedef struct LioAcl {
        const char *initiator;
        const char *userid;
        const char *password;
        const char *mutual_userid;
        const char *mutual_password;
} LioAcl;

/* The desired export of one volume. portals: canonicalised with
 * lio_portal_canonical(); none means LIO_DEFAULT_PORTAL. Portals not listed
 * are removed. ACLs not listed are removed only with prune_acls. */
typedef struct LioExport {
        const char *volume;
        const char *device;
        const char *const *portals;
        size_t n_portals;
        const LioAcl *acls;
        size_t n_acls;
        bool prune_acls;
} LioExport;

/* Errors of every call: -EINVAL invalid input; -ENOENT device or export
 * missing; -EEXIST the volume is exported from another device (or its LUN
 * points elsewhere); -EBUSY device in exclusive use, or an object still in
 * use; -ETIMEDOUT another operation held the lock too long; -ENOPKG configfs
 * or a kernel module (target_core_mod, target_core_iblock, iscsi_target_mod)
 * is missing; -EADDRNOTAVAIL / -EADDRINUSE a portal cannot listen; other
 * negative errno from the kernel. lio_error_last() then says what and why.
 * Mutations hold an exclusive flock on the lock file, reads a shared one. */

/* Creates what is missing and converges what exists: backstore (iblock on
 * device, unit serial from lio_serial_from_iqn()), target "<prefix>:<volume>",
 * TPG 1 with CHAP enforced and no generated ACLs, LUN 0, portals, ACLs with
 * mapped LUN 0, TPG enabled. Idempotent. When the export did not exist
 * before and a step fails, what was created is removed again. */
int lio_export_ensure(const LioConfig *cfg, const LioExport *e);

/* Tears an export down: TPG disabled first (no new logins, sessions end),
 * then mapped LUNs, ACLs, LUNs, portals, TPG, target, backstore. Returns 1
 * when something was removed, 0 when nothing existed. */
int lio_export_remove(const LioConfig *cfg, const char *volume);

/* Adds or updates one ACL of an existing export (-ENOENT without one). */
int lio_acl_ensure(const LioConfig *cfg, const char *volume, const LioAcl *acl);
/* Removes one ACL; 1 when removed, 0 when it did not exist. */
int lio_acl_remove(const LioConfig *cfg, const char *volume, const char *initiator);

/* Volumes with any object of ours (target with our prefix, or backstore in
 * our HBA), sorted. Caller frees with lio_strv_free(). */
int lio_export_list(const LioConfig *cfg, char ***ret);

typedef struct LioAclInfo {
        char *initiator;
        char *userid;          /* never the secret */
        char *mutual_userid;   /* NULL without mutual CHAP */
        bool session;          /* an iSCSI session is logged in */
} LioAclInfo;

typedef struct LioExportInfo {
        char *volume;
        char *iqn;
        char *device;          /* NULL without backstore */
        char *serial;
        bool backstore;        /* exists */
        bool backstore_enabled;
        bool target;
        bool tpg_enabled;
        bool lun;              /* LUN 0 linked to our backstore */
        char **portals;        /* canonical, NULL-terminated */
        LioAclInfo *acls;
        size_t n_acls;
} LioExportInfo;

/* What exists of one volume's export; -ENOENT when nothing. Caller frees
 * with lio_export_info_free(). */
int lio_export_show(const LioConfig *cfg, const char *volume, LioExportInfo **ret);
void lio_export_info_free(LioExportInfo *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(LioExportInfo *, lio_export_info_free);

/* Removes every export of ours whose volume is not in keep (NULL-terminated,
 * may be NULL). *ret_removed (if given) lists the removed volumes. Goes on
 * after a failure and returns the first error. */
int lio_remove_orphans(const LioConfig *cfg, char *const *keep, char ***ret_removed);

/* The IQN prefix in effect for cfg (static or cfg's string). */
const char *lio_config_prefix(const LioConfig *cfg);
