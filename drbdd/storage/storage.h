/* Node-local storage for the agent: LVM (thick), LVM thin and file pools behind one small ops table. */
#pragma once

/* Every operation is idempotent, so the reconcile loop may simply repeat it:
 * creating a volume that exists (large enough) and removing one that is gone
 * both succeed. Every external command runs through exec_run() with an argv
 * and a timeout. Errors: negative errno, and via ret_msg (if not NULL) a newly
 * allocated one-line message for the operator, which for a failed command
 * carries its stderr ("lvcreate exited 5: Volume group "vg" has insufficient
 * free space ..."). ret_msg is written only on failure, ret_* values only on
 * success. The common errors:
 *   -EINVAL      invalid pool description or name
 *   -ENOENT      volume / snapshot / volume group / thin pool not found
 *   -EEXIST      the name is taken by something else (other size, not ours)
 *   -EBUSY       the volume is open (e.g. still attached to DRBD)
 *   -EOPNOTSUPP  the driver cannot do this (snapshots on thick LVM or files)
 *   -EIO         a command failed; -ETIMEDOUT it timed out
 *   -EBADMSG     a command printed output that does not parse
 * Wipe policy, snapshots and revert, loop devices: docs/storage.md. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum StorageDriver {
        STORAGE_DRIVER_LVM,
        STORAGE_DRIVER_LVM_THIN,
        STORAGE_DRIVER_FILE,
        _STORAGE_DRIVER_MAX,
} StorageDriver;

const char *storage_driver_to_string(StorageDriver d); /* "lvm", "lvm-thin", "file"; NULL if invalid */
int storage_driver_from_string(const char *s);         /* StorageDriver or -EINVAL */

/* One volume (or snapshot) found by a probe. */
typedef struct StorageVolume {
        char *name;
        uint64_t size_kib;
        char *origin;   /* lvm-thin: what it was snapshotted or cloned from, NULL if none */
        bool snapshot;  /* a snapshot made by snapshot_create(), not a volume */
        bool active;    /* LVM: the LV is active; file: the /dev/drbdd link exists */
} StorageVolume;

/* What a probe saw of one pool. Owned by the caller: storage_report_done(). */
typedef struct StorageReport {
        int error;              /* 0, or negative errno if this pool could not be probed */
        char *message;          /* with error: why (owned) */
        uint64_t total_kib;     /* lvm: VG size; lvm-thin: thin pool data size; file: file system */
        uint64_t free_kib;      /* lvm: VG free; lvm-thin: unused pool data; file: available */
        uint64_t extent_kib;    /* allocation granularity: the VG's extent size (lvm, lvm-thin), 4 (file) */
        /* lvm-thin only (NAN elsewhere) */
        double data_percent, metadata_percent;
        uint64_t virtual_kib;   /* sum of the sizes of all thin volumes in the pool */
        bool zeroing;           /* the pool zeroes new blocks (required, docs/storage.md) */
        /* Our volumes and snapshots: LVs tagged "drbdd" / "drbdd-snap", or the
         * directory's *.img files. Sorted by name. */
        StorageVolume *volumes;
        size_t n_volumes;
} StorageReport;

void storage_report_done(StorageReport *r);

typedef struct StorageOps StorageOps;

/* A pool as configured. Read-only for users; made by storage_pool_new(). */
typedef struct StoragePool {
        char *name;
        StorageDriver driver;
        char *volume_group;  /* lvm, lvm-thin */
        char *thin_pool;     /* lvm-thin: the thin pool LV in volume_group */
        char *directory;     /* file: where <name>.img files live */
        const StorageOps *ops;
} StoragePool;

/* The backend of a driver. NULL entries mean "not supported" (the front
 * functions then return -EOPNOTSUPP with a message). Names are validated by
 * the front functions before they reach the ops. */
struct StorageOps {
        /* Probes pools[0..n) (all with this same probe function) at once and
         * fills reports[i]; returns < 0 only when nothing could be reported. */
        int (*probe)(StoragePool *const *pools, size_t n, StorageReport *reports);
        int (*create)(StoragePool *p, const char *name, uint64_t size_kib, char **ret_path, char **ret_msg);
        int (*remove)(StoragePool *p, const char *name, char **ret_msg);
        int (*resize)(StoragePool *p, const char *name, uint64_t size_kib, char **ret_msg);
        int (*attach)(StoragePool *p, const char *name, char **ret_path, char **ret_msg);
        int (*snapshot_create)(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg);
        int (*snapshot_remove)(StoragePool *p, const char *snapshot, char **ret_msg);
        int (*volume_from_snapshot)(StoragePool *p, const char *snapshot, const char *name, char **ret_path,
                                    char **ret_msg);
        int (*clone)(StoragePool *p, const char *source, const char *name, char **ret_path, char **ret_msg);
        int (*revert)(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg);
        int (*device_path)(const StoragePool *p, const char *name, char **ret_path);
        /* What create / resize of a volume that is absent / smaller runs,
         * built by the same code: one display line per command (a "# ..."
         * line for work done in C) appended to the JSON array out. */
        int (*create_commands)(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out);
        int (*resize_commands)(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out);
};

/* Builds a pool from its JSON description as the service stores it:
 * {"name", "driver": "lvm"|"lvm-thin"|"file", "volume-group", "thin-pool",
 * "directory"}; other keys are ignored. Validates names (LVM-safe) and the
 * directory (absolute, no "..", safe characters). *ret owned by the caller. */
int storage_pool_new(const json_t *pool, StoragePool **ret, char **ret_msg);
StoragePool *storage_pool_free(StoragePool *p);

/* Volume and snapshot names: 1..100 of A-Z a-z 0-9 _ + . -, no leading '-',
 * not "." or "..", none of LVM's reserved names or suffixes. 0 or -EINVAL. */
int storage_name_validate(const char *name, char **ret_msg);

/* Probes every pool with as few commands as possible: for all LVM and LVM
 * thin pools together exactly one `lvs` and one `vgs` (none if there is no
 * LVM pool), whatever the number of pools and volumes; file pools need no
 * command. reports[i] belongs to pools[i]; each carries its own error. The
 * caller releases each report with storage_report_done(). Returns 0, or
 * -ENOMEM (then no report needs releasing). */
int storage_probe_all(StoragePool *const *pools, size_t n, StorageReport *reports);
/* One pool; returns report->error (the report must be released either way). */
int storage_probe(StoragePool *p, StorageReport *ret);

/* Creates a volume of at least size_kib (LVM rounds up to extents) and
 * activates / attaches it; *ret_path (optional, owned) is its device. An
 * existing volume of ours at least as large is success; a smaller one is
 * -EEXIST (grow it with storage_resize()). */
int storage_create(StoragePool *p, const char *name, uint64_t size_kib, char **ret_path, char **ret_msg);
/* The commands storage_create() / storage_resize() run for a volume that is
 * absent / smaller (no probe, nothing run): display lines appended to the
 * JSON array out (show-commands). 0, -EINVAL (name, size), -ENOMEM. */
int storage_create_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out);
int storage_resize_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out);
/* Removes a volume so that its data can never be read through a later
 * volume (docs/storage.md). Absent: 0. Open: -EBUSY. */
int storage_remove(StoragePool *p, const char *name, char **ret_msg);
/* Grows a volume to at least size_kib; never shrinks (a smaller size is 0). */
int storage_resize(StoragePool *p, const char *name, uint64_t size_kib, char **ret_msg);
/* Makes the device of an existing volume present (LVM: activates; file:
 * attaches a loop device and the /dev/drbdd link, keeping a correct one). */
int storage_attach(StoragePool *p, const char *name, char **ret_path, char **ret_msg);
/* The device path a volume has when present, without running anything:
 * /dev/VG/NAME or /dev/drbdd/NAME. *ret_path owned by the caller. */
int storage_device_path(const StoragePool *p, const char *name, char **ret_path);

/* lvm-thin only; -EOPNOTSUPP otherwise. */
int storage_snapshot_create(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg);
int storage_snapshot_remove(StoragePool *p, const char *snapshot, char **ret_msg);
/* A new active volume with the snapshot's contents; the snapshot remains. */
int storage_volume_from_snapshot(StoragePool *p, const char *snapshot, const char *name, char **ret_path,
                                 char **ret_msg);
/* A new active volume with source's current contents (lvm-thin only). */
int storage_clone(StoragePool *p, const char *source, const char *name, char **ret_path, char **ret_msg);
/* Makes volume's contents those of snapshot; the snapshot remains. The
 * volume must not be open (-EBUSY). */
int storage_revert(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg);

/* Where the file driver puts its links (default "/dev/drbdd"), for tests. */
void storage_set_link_directory(const char *dir);
const char *storage_get_link_directory(void);
