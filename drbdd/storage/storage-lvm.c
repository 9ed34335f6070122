/* LVM storage drivers, thick ("lvm") and thin ("lvm-thin"): lvs/vgs reports, lvcreate, zeroing removal, thin snapshots. */
#include <assert.h>
#include <math.h>
#include <stdio.h>

#include "drbdd/storage/storage-internal.h"
#include "exec.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

/* Our LVs carry one of these tags, so that probes list only what drbdd made. */
#define TAG_VOLUME "drbdd"
#define TAG_SNAPSHOT "drbdd-snap"
/* Snapshots also name their volume: LVM forgets the origin when it is removed, as a revert does. */
#define TAG_SNAPSHOT_OF "drbdd-volume="
#define REVERT_SUFFIX ".revert"
#define LV_FIELDS "lv_name,vg_name,lv_size,pool_lv,origin,data_percent,metadata_percent,lv_attr,lv_tags"
#define VG_FIELDS "vg_name,vg_size,vg_free,vg_extent_size"
#define LVM_NAME_MAX 127
#define ZERO_KIB_PER_SEC (50 * 1024) /* slowest zeroing we allow for before timing out */

typedef struct LvmLv {
        char *name, *vg, *pool, *origin;
        char *volume;                          /* snapshots: the TAG_SNAPSHOT_OF value */
        uint64_t size_kib;
        double data_percent, metadata_percent; /* NAN when not reported */
        char attr[11];
        bool ours, snapshot;                   /* tagged TAG_VOLUME / TAG_SNAPSHOT */
} LvmLv;

typedef struct LvmLvs {
        LvmLv *lv;
        size_t n;
} LvmLvs;

static void lv_done(LvmLv *lv) {
        free(lv->name);
        free(lv->vg);
        free(lv->pool);
        free(lv->origin);
        free(lv->volume);
}

static void lvs_done(LvmLvs *l) {
        for (size_t i = 0; i < l->n; i++)
                lv_done(&l->lv[i]);
        free(l->lv);
        *l = (LvmLvs) {};
}

static bool lvm_token_ok(const char *s) {
        size_t n = strnlen(s, LVM_NAME_MAX + 1);
        if (n == 0 || n > LVM_NAME_MAX || s[0] == '-')
                return false;
        for (; *s; s++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-", *s))
                        return false;
        return true;
}

/* "65536.00" (KiB, from --units k --nosuffix) -> 65536; fractions round up. */
static int parse_kib(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        bool frac = false;
        const char *p = s;

        if (!*p || strlen(p) > 32)
                return -EBADMSG;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (p == s)
                return -EBADMSG;
        if (*p == '.') {
                p++;
                if (!(*p >= '0' && *p <= '9'))
                        return -EBADMSG;
                for (; *p >= '0' && *p <= '9'; p++)
                        if (*p != '0')
                                frac = true;
        }
        if (*p)
                return -EBADMSG;
        if (frac) {
                if (v == UINT64_MAX)
                        return -EBADMSG;
                v++;
        }
        *ret = v;
        return 0;
}

/* "" -> NAN (not applicable); "12.34" -> 12.34 within 0..100. */
static int parse_percent(const char *s, double *ret) {
        char *end;
        double d;

        if (!*s) {
                *ret = NAN;
                return 0;
        }
        if (strlen(s) > 16 || !(*s >= '0' && *s <= '9') || strspn(s, "0123456789.") != strlen(s))
                return -EBADMSG;
        errno = 0;
        d = strtod(s, &end);
        if (errno || *end || !(d >= 0.0 && d <= 100.0))
                return -EBADMSG;
        *ret = d;
        return 0;
}

static bool tags_have(const char *tags, const char *tag) {
        size_t l = strlen(tag);
        for (const char *p = tags; *p;) {
                size_t n = strcspn(p, ",");
                if (n == l && strncmp(p, tag, l) == 0)
                        return true;
                p += n;
                if (*p)
                        p++;
        }
        return false;
}

/* The value of the first tag "PREFIXvalue", NULL if none (or OOM). */
static char *tags_value(const char *tags, const char *prefix) {
        size_t l = strlen(prefix);
        for (const char *p = tags; *p;) {
                size_t n = strcspn(p, ",");
                if (n > l && strncmp(p, prefix, l) == 0)
                        return strndup(p + l, n - l);
                p += n;
                if (*p)
                        p++;
        }
        return NULL;
}

/* Collects the rows of kind ("lv" or "vg") of an LVM JSON report into a new array. */
static int report_rows(const char *out, const char *kind, json_t **ret, char **ret_msg) {
        _cleanup_json_ json_t *j = NULL, *rows = NULL;
        _cleanup_free_ char *e = NULL;
        json_t *report, *el;
        size_t i;

        j = json_parse(out, strlen(out), &e);
        if (!j)
                return storage_msgf(ret_msg, -EBADMSG, "%ss printed malformed JSON: %s", kind, strna(e));
        report = json_object_get(j, "report");
        if (!json_is_array(report))
                return storage_msgf(ret_msg, -EBADMSG, "%ss printed JSON without a report", kind);
        if (!(rows = json_array()))
                return -ENOMEM;
        json_array_foreach(report, i, el) {
                json_t *a = json_object_get(el, kind), *row;
                size_t k;
                if (!json_is_object(el) || (a && !json_is_array(a)))
                        return storage_msgf(ret_msg, -EBADMSG, "%ss printed a malformed report", kind);
                json_array_foreach(a, k, row) {
                        if (!json_is_object(row))
                                return storage_msgf(ret_msg, -EBADMSG, "%ss printed a malformed row", kind);
                        if (json_array_append(rows, row) < 0)
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(rows);
        return 0;
}

static const char *row_str(json_t *row, const char *key, bool *bad) {
        json_t *v = json_object_get(row, key);
        if (!json_is_string(v)) {
                *bad = true;
                return "";
        }
        return json_string_value(v);
}

static int lv_from_row(json_t *row, LvmLv *ret) {
        bool bad = false;
        const char *name = row_str(row, "lv_name", &bad), *vg = row_str(row, "vg_name", &bad),
                   *size = row_str(row, "lv_size", &bad), *pool = row_str(row, "pool_lv", &bad),
                   *origin = row_str(row, "origin", &bad), *dp = row_str(row, "data_percent", &bad),
                   *mp = row_str(row, "metadata_percent", &bad), *attr = row_str(row, "lv_attr", &bad),
                   *tags = row_str(row, "lv_tags", &bad);
        LvmLv lv = {};
        size_t al = strlen(attr);

        if (bad || !lvm_token_ok(name) || !lvm_token_ok(vg) || (*pool && !lvm_token_ok(pool)) ||
            (*origin && !lvm_token_ok(origin)) || al < 8 || al > 10 || strlen(tags) > 4096)
                return -EBADMSG;
        if (parse_kib(size, &lv.size_kib) < 0 || parse_percent(dp, &lv.data_percent) < 0 ||
            parse_percent(mp, &lv.metadata_percent) < 0)
                return -EBADMSG;
        memset(lv.attr, '-', 10);
        memcpy(lv.attr, attr, al);
        lv.ours = tags_have(tags, TAG_VOLUME);
        lv.snapshot = tags_have(tags, TAG_SNAPSHOT);
        lv.name = strdup(name);
        lv.vg = strdup(vg);
        lv.pool = *pool ? strdup(pool) : NULL;
        lv.origin = *origin ? strdup(origin) : NULL;
        lv.volume = lv.snapshot ? tags_value(tags, TAG_SNAPSHOT_OF) : NULL;
        if (lv.volume && !lvm_token_ok(lv.volume)) {
                free(lv.volume);
                lv.volume = NULL;
        }
        if (!lv.name || !lv.vg || (*pool && !lv.pool) || (*origin && !lv.origin)) {
                lv_done(&lv);
                return -ENOMEM;
        }
        *ret = lv;
        return 0;
}

static int parse_lvs(const char *out, LvmLvs *ret, char **ret_msg) {
        _cleanup_json_ json_t *rows = NULL;
        LvmLvs l = {};
        json_t *row;
        size_t i;
        int r;

        if ((r = report_rows(out, "lv", &rows, ret_msg)) < 0)
                return r;
        if (json_array_size(rows) > 0 && !(l.lv = calloc(json_array_size(rows), sizeof *l.lv)))
                return -ENOMEM;
        json_array_foreach(rows, i, row) {
                if ((r = lv_from_row(row, &l.lv[l.n])) < 0) {
                        lvs_done(&l);
                        return r == -ENOMEM ? r : storage_msgf(ret_msg, r, "lvs printed an invalid row");
                }
                l.n++;
        }
        *ret = l;
        return 0;
}

static LvmLv *lvs_find(const LvmLvs *l, const char *vg, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->lv[i].name, name) && streq(l->lv[i].vg, vg))
                        return &l->lv[i];
        return NULL;
}

static bool lv_active(const LvmLv *lv) {
        return lv->attr[4] == 'a';
}

static bool lv_open(const LvmLv *lv) {
        return lv->attr[5] == 'o';
}

/* ---- probe ---------------------------------------------------------------- */

static int lvm_probe(StoragePool *const *pools, size_t n, StorageReport *reports) {
        _cleanup_free_ char **argv_lvs = NULL, **argv_vgs = NULL, *lvs_msg = NULL, *vgs_msg = NULL;
        _cleanup_json_ json_t *vg_rows = NULL;
        LvmLvs lvs = {};
        ExecOptions opts = { .timeout_ms = STORAGE_LVM_TIMEOUT_MS };
        ExecResult res_lvs = {}, res_vgs = {};
        int r_lvs = 0, r_vgs = 0, r;
        size_t k = 0;

        argv_lvs = calloc(n + 9, sizeof(char *));
        argv_vgs = calloc(n + 9, sizeof(char *));
        if (!argv_lvs || !argv_vgs)
                return -ENOMEM;
        memcpy(argv_lvs, (char *[]) { "lvs", "--reportformat", "json", "--units", "k", "--nosuffix", "-o", LV_FIELDS },
               8 * sizeof(char *));
        memcpy(argv_vgs, (char *[]) { "vgs", "--reportformat", "json", "--units", "k", "--nosuffix", "-o", VG_FIELDS },
               8 * sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                for (size_t j = 0; j < k; j++)
                        dup = dup || streq(argv_lvs[8 + j], pools[i]->volume_group);
                if (!dup) {
                        argv_lvs[8 + k] = argv_vgs[8 + k] = pools[i]->volume_group;
                        k++;
                }
        }

        /* A missing VG makes both exit 5 but still report the others: parse stdout whatever the status. */
        r = exec_run(argv_lvs, &opts, &res_lvs);
        if (r < 0)
                r_lvs = storage_msgf(&lvs_msg, r, "lvs: %s", strerror(-r));
        else if ((r_lvs = parse_lvs(res_lvs.out, &lvs, &lvs_msg)) < 0 && res_lvs.status != 0) {
                free(lvs_msg);
                lvs_msg = storage_command_error(argv_lvs, res_lvs.status, res_lvs.err);
                r_lvs = -EIO;
        }
        r = exec_run(argv_vgs, &opts, &res_vgs);
        if (r < 0)
                r_vgs = storage_msgf(&vgs_msg, r, "vgs: %s", strerror(-r));
        else if ((r_vgs = report_rows(res_vgs.out, "vg", &vg_rows, &vgs_msg)) < 0 && res_vgs.status != 0) {
                free(vgs_msg);
                vgs_msg = storage_command_error(argv_vgs, res_vgs.status, res_vgs.err);
                r_vgs = -EIO;
        }

        for (size_t i = 0; i < n; i++) {
                StoragePool *p = pools[i];
                StorageReport *rep = &reports[i];
                json_t *vg = NULL, *row;
                size_t j;

                *rep = (StorageReport) { .data_percent = NAN, .metadata_percent = NAN };
                if (r_vgs < 0 || r_lvs < 0) {
                        rep->error = r_vgs < 0 ? r_vgs : r_lvs;
                        rep->message = strdup(strna(r_vgs < 0 ? vgs_msg : lvs_msg));
                        continue;
                }
                json_array_foreach(vg_rows, j, row)
                        if (streq(json_get_str(row, "vg_name", ""), p->volume_group))
                                vg = row;
                if (!vg) {
                        _cleanup_free_ char *detail =
                                res_vgs.status != 0 ? storage_command_error(argv_vgs, res_vgs.status, res_vgs.err) : NULL;
                        rep->error = storage_msgf(&rep->message, -ENOENT, "volume group '%s' not found%s%s",
                                                  p->volume_group, detail ? ": " : "", detail ? detail : "");
                        continue;
                }
                /* Thick and thin LVs alike are sized in whole extents of the VG. */
                if (parse_kib(json_get_str(vg, "vg_extent_size", ""), &rep->extent_kib) < 0 || rep->extent_kib == 0) {
                        rep->error = storage_msgf(&rep->message, -EBADMSG, "vgs printed an invalid row");
                        continue;
                }
                if (p->driver == STORAGE_DRIVER_LVM) {
                        if (parse_kib(json_get_str(vg, "vg_size", ""), &rep->total_kib) < 0 ||
                            parse_kib(json_get_str(vg, "vg_free", ""), &rep->free_kib) < 0) {
                                rep->error = storage_msgf(&rep->message, -EBADMSG, "vgs printed an invalid row");
                                continue;
                        }
                } else {
                        LvmLv *tp = lvs_find(&lvs, p->volume_group, p->thin_pool);
                        if (!tp || tp->attr[0] != 't') {
                                rep->error = storage_msgf(&rep->message, -ENOENT, "thin pool '%s/%s' not found",
                                                          p->volume_group, p->thin_pool);
                                continue;
                        }
                        rep->total_kib = tp->size_kib;
                        rep->data_percent = tp->data_percent;
                        rep->metadata_percent = tp->metadata_percent;
                        rep->zeroing = tp->attr[7] == 'z';
                        double used = isnan(tp->data_percent) ? 0 : ceil((double) tp->size_kib * tp->data_percent / 100.0);
                        rep->free_kib = used >= (double) tp->size_kib ? 0 : tp->size_kib - (uint64_t) used;
                }
                for (j = 0; j < lvs.n; j++) {
                        const LvmLv *lv = &lvs.lv[j];
                        bool mine;
                        if (!streq(lv->vg, p->volume_group))
                                continue;
                        if (p->driver == STORAGE_DRIVER_LVM_THIN) {
                                if (!streq_ptr(lv->pool, p->thin_pool))
                                        continue;
                                rep->virtual_kib += lv->size_kib;
                                mine = lv->ours || lv->snapshot;
                        } else
                                mine = (lv->ours || lv->snapshot) && !lv->pool;
                        if (!mine)
                                continue;
                        const char *origin = lv->volume ? lv->volume : lv->origin;
                        char *nm = strdup(lv->name), *og = origin ? strdup(origin) : NULL;
                        if (!nm || (origin && !og) ||
                            storage_report_add(rep, nm, lv->size_kib, og, lv->snapshot, lv_active(lv)) < 0) {
                                if (!nm || (origin && !og)) {
                                        free(nm);
                                        free(og);
                                }
                                rep->error = -ENOMEM;
                                break;
                        }
                }
                storage_report_sort(rep);
        }
        lvs_done(&lvs);
        exec_result_done(&res_lvs);
        exec_result_done(&res_vgs);
        return 0;
}

/* ---- helpers for the operations ------------------------------------------- */

/* Reports the named LVs of p's VG (those that exist) with one `lvs -S`. */
static int lvm_lookup(StoragePool *p, const char *const names[], LvmLvs *ret, char **ret_msg) {
        _cleanup_free_ char *sel = NULL, *out = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        f = open_memstream(&sel, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; names[i]; i++)
                fprintf(f, "%slv_name=%s", i > 0 ? " || " : "", names[i]);
        if (fclose(f) != 0)
                return -ENOMEM;
        char *argv[] = { "lvs", "--reportformat", "json", "--units", "k", "--nosuffix", "-o", LV_FIELDS, "-S", sel,
                         p->volume_group, NULL };
        if ((r = storage_run(argv, STORAGE_LVM_TIMEOUT_MS, &out, ret_msg)) < 0)
                return r;
        return parse_lvs(out, ret, ret_msg);
}

static char *lv_arg(const StoragePool *p, const char *name) {
        char *s;
        return asprintf(&s, "%s/%s", p->volume_group, name) < 0 ? NULL : s;
}

static int lvm_device_path(const StoragePool *p, const char *name, char **ret_path) {
        char *s;
        if (asprintf(&s, "/dev/%s/%s", p->volume_group, name) < 0)
                return -ENOMEM;
        *ret_path = s;
        return 0;
}

static int return_path(const StoragePool *p, const char *name, char **ret_path) {
        return ret_path ? lvm_device_path(p, name, ret_path) : 0;
}

/* Checks that lv was made by us as a volume (want_snapshot false) or a
 * snapshot, and lives where p keeps its volumes. */
static int check_ours(const StoragePool *p, const LvmLv *lv, bool want_snapshot, char **ret_msg) {
        bool thin = p->driver == STORAGE_DRIVER_LVM_THIN;

        if (!lv->ours && !lv->snapshot)
                return storage_msgf(ret_msg, -EEXIST, "logical volume '%s/%s' exists and was not made by drbdd",
                                    lv->vg, lv->name);
        if (thin ? !streq_ptr(lv->pool, p->thin_pool) : lv->pool != NULL)
                return storage_msgf(ret_msg, -EEXIST, "logical volume '%s/%s' is not in %s '%s'", lv->vg, lv->name,
                                    thin ? "thin pool" : "thick pool", thin ? p->thin_pool : p->volume_group);
        if (lv->snapshot && !want_snapshot)
                return storage_msgf(ret_msg, -EINVAL, "'%s/%s' is a snapshot, not a volume", lv->vg, lv->name);
        if (!lv->snapshot && want_snapshot)
                return storage_msgf(ret_msg, -EINVAL, "'%s/%s' is a volume, not a snapshot", lv->vg, lv->name);
        return 0;
}

static int lvm_activate(StoragePool *p, const char *name, char **ret_msg) {
        _cleanup_free_ char *a = lv_arg(p, name);
        if (!a)
                return -ENOMEM;
        char *argv[] = { "lvchange", "--activate", "y", "--ignoreactivationskip", a, NULL };
        return storage_run(argv, STORAGE_LVM_TIMEOUT_MS, NULL, ret_msg);
}

static int lvm_lvremove(StoragePool *p, const char *name, char **ret_msg) {
        _cleanup_free_ char *a = lv_arg(p, name);
        if (!a)
                return -ENOMEM;
        char *argv[] = { "lvremove", "--yes", a, NULL };
        return storage_run(argv, STORAGE_LVM_TIMEOUT_MS, NULL, ret_msg);
}

/* A new thin snapshot `name` of `source`: a volume (active, activated at boot) or a
 * snapshot (tagged with its volume; inactive, LVM's activation skip: no device-mapper
 * table per snapshot). */
static int thin_snapshot(StoragePool *p, const char *source, const char *name, bool as_snapshot, char **ret_msg) {
        _cleanup_free_ char *a = lv_arg(p, source), *of = NULL;
        if (!a || asprintf(&of, TAG_SNAPSHOT_OF "%s", source) < 0)
                return -ENOMEM;
        char *volume[] = { "lvcreate", "--yes", "--snapshot", "--setactivationskip", "n", "--activate", "y",
                           "--addtag", TAG_VOLUME, "--name", (char *) name, a, NULL };
        char *snapshot[] = { "lvcreate", "--yes", "--snapshot", "--addtag", TAG_SNAPSHOT, "--addtag", of,
                             "--name", (char *) name, a, NULL };
        return storage_run(as_snapshot ? snapshot : volume, STORAGE_LVM_TIMEOUT_MS, NULL, ret_msg);
}

/* ---- operations ----------------------------------------------------------- */

#define LVCREATE_ARGV_MAX 20

/* The lvcreate of a new volume; size is the caller's buffer for the size
 * argument. Shared by lvm_create() and lvm_create_commands(), so that what
 * show-commands prints is what runs. */
static void lvcreate_argv(const StoragePool *p, const char *name, uint64_t size_kib, char size[static 32],
                          char *argv[static LVCREATE_ARGV_MAX]) {
        snprintf(size, 32, "%lluk", (unsigned long long) size_kib);
        char *thick_argv[] = { "lvcreate", "--yes", "--wipesignatures", "y", "--zero", "y", "--addtag", TAG_VOLUME,
                               "--size", size, "--name", (char *) name, p->volume_group, NULL };
        /* A new thin volume reads zeros: nothing to wipe (and no block to provision for it). */
        char *thin_argv[] = { "lvcreate", "--yes", "--wipesignatures", "n", "--addtag", TAG_VOLUME, "--type", "thin",
                              "--virtualsize", size, "--thinpool", p->thin_pool, "--name", (char *) name,
                              p->volume_group, NULL };
        static_assert(ELEMENTSOF(thin_argv) <= LVCREATE_ARGV_MAX, "lvcreate argv");
        if (p->driver == STORAGE_DRIVER_LVM_THIN)
                memcpy(argv, thin_argv, sizeof thin_argv);
        else
                memcpy(argv, thick_argv, sizeof thick_argv);
}

/* The lvextend of a grown volume (buffers as lvcreate_argv()). */
static void lvextend_argv(const StoragePool *p, const char *name, uint64_t size_kib, char size[static 32],
                          char lv[static 300], char *argv[static 5]) {
        snprintf(size, 32, "%lluk", (unsigned long long) size_kib);
        snprintf(lv, 300, "%s/%s", p->volume_group, name);
        char *a[] = { "lvextend", "--size", size, lv, NULL };
        memcpy(argv, a, sizeof a);
}

static int lvm_create_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out) {
        char size[32], *argv[LVCREATE_ARGV_MAX];
        lvcreate_argv(p, name, size_kib, size, argv);
        return storage_commands_add(out, argv);
}

static int lvm_resize_commands(const StoragePool *p, const char *name, uint64_t size_kib, json_t *out) {
        char size[32], lv[300], *argv[5];
        lvextend_argv(p, name, size_kib, size, lv, argv);
        return storage_commands_add(out, argv);
}

static int lvm_create(StoragePool *p, const char *name, uint64_t size_kib, char **ret_path, char **ret_msg) {
        bool thin = p->driver == STORAGE_DRIVER_LVM_THIN;
        LvmLvs lvs = {};
        char size[32];
        int r;

        if ((r = lvm_lookup(p, (const char *[]) { name, thin ? p->thin_pool : NULL, NULL }, &lvs, ret_msg)) < 0)
                return r;
        if (thin) {
                const LvmLv *tp = lvs_find(&lvs, p->volume_group, p->thin_pool);
                if (!tp || tp->attr[0] != 't')
                        r = storage_msgf(ret_msg, -ENOENT, "thin pool '%s/%s' not found", p->volume_group, p->thin_pool);
                else if (tp->attr[7] != 'z')
                        /* Without zeroing, a partly written new block shows the rest of a removed volume's block. */
                        r = storage_msgf(ret_msg, -EINVAL,
                                         "thin pool '%s/%s' does not zero new blocks, so removed volumes' data could "
                                         "reappear; enable it: lvchange --zero y %s/%s",
                                         p->volume_group, p->thin_pool, p->volume_group, p->thin_pool);
                if (r < 0)
                        goto finish;
        }
        const LvmLv *lv = lvs_find(&lvs, p->volume_group, name);
        if (lv) {
                if ((r = check_ours(p, lv, false, ret_msg)) < 0)
                        goto finish;
                if (lv->size_kib < size_kib) {
                        r = storage_msgf(ret_msg, -EEXIST,
                                         "volume '%s/%s' exists with %llu KiB, less than the %llu KiB requested",
                                         p->volume_group, name, (unsigned long long) lv->size_kib,
                                         (unsigned long long) size_kib);
                        goto finish;
                }
                if (!lv_active(lv) && (r = lvm_activate(p, name, ret_msg)) < 0)
                        goto finish;
                r = return_path(p, name, ret_path);
                goto finish;
        }

        char *argv[LVCREATE_ARGV_MAX];
        lvcreate_argv(p, name, size_kib, size, argv);
        if ((r = storage_run(argv, STORAGE_LVM_TIMEOUT_MS, NULL, ret_msg)) < 0)
                goto finish;
        r = return_path(p, name, ret_path);
finish:
        lvs_done(&lvs);
        return r;
}

static int lvm_remove(StoragePool *p, const char *name, char **ret_msg) {
        LvmLvs lvs = {};
        int r;

        if ((r = lvm_lookup(p, (const char *[]) { name, NULL }, &lvs, ret_msg)) < 0)
                return r;
        const LvmLv *lv = lvs_find(&lvs, p->volume_group, name);
        if (!lv)
                goto finish; /* already gone */
        if ((r = check_ours(p, lv, false, ret_msg)) < 0)
                goto finish;
        if (lv_open(lv)) {
                r = storage_msgf(ret_msg, -EBUSY, "volume '%s/%s' is open (still attached, e.g. to DRBD)",
                                 p->volume_group, name);
                goto finish;
        }
        if (p->driver == STORAGE_DRIVER_LVM) {
                /* Thick extents go back to the VG as they are: zero them first, or the next volume
                 * placed on them could read this one's data. BLKZEROOUT uses the device's
                 * write-zeroes offload where it has one; blkdiscard opens with O_EXCL, so it
                 * refuses a device that DRBD (or anything) claimed meanwhile. */
                _cleanup_free_ char *dev = NULL;
                if (!lv_active(lv) && (r = lvm_activate(p, name, ret_msg)) < 0)
                        goto finish;
                if ((r = lvm_device_path(p, name, &dev)) < 0)
                        goto finish;
                char *argv[] = { "blkdiscard", "--zeroout", dev, NULL };
                if ((r = storage_run(argv, 60 * 1000 + lv->size_kib / ZERO_KIB_PER_SEC * 1000, NULL, ret_msg)) < 0)
                        goto finish;
        }
        /* Thin: removal unmaps the blocks; a new thin volume reads unmapped blocks as zeros and the
         * pool zeroes blocks it provisions (checked at create), so nothing remains readable. */
        r = lvm_lvremove(p, name, ret_msg);
finish:
        lvs_done(&lvs);
        return r;
}

static int lvm_resize(StoragePool *p, const char *name, uint64_t size_kib, char **ret_msg) {
        LvmLvs lvs = {};
        char size[32];
        int r;

        if ((r = lvm_lookup(p, (const char *[]) { name, NULL }, &lvs, ret_msg)) < 0)
                return r;
        const LvmLv *lv = lvs_find(&lvs, p->volume_group, name);
        if (!lv)
                r = storage_msgf(ret_msg, -ENOENT, "volume '%s/%s' not found", p->volume_group, name);
        else if ((r = check_ours(p, lv, false, ret_msg)) >= 0 && lv->size_kib < size_kib) {
                char lvname[300], *argv[5];
                lvextend_argv(p, name, size_kib, size, lvname, argv);
                r = storage_run(argv, STORAGE_LVM_TIMEOUT_MS, NULL, ret_msg);
        }
        lvs_done(&lvs);
        return r;
}

static int lvm_attach(StoragePool *p, const char *name, char **ret_path, char **ret_msg) {
        LvmLvs lvs = {};
        int r;

        if ((r = lvm_lookup(p, (const char *[]) { name, NULL }, &lvs, ret_msg)) < 0)
                return r;
        const LvmLv *lv = lvs_find(&lvs, p->volume_group, name);
        if (!lv)
                r = storage_msgf(ret_msg, -ENOENT, "volume '%s/%s' not found", p->volume_group, name);
        else if ((r = check_ours(p, lv, false, ret_msg)) >= 0 && (lv_active(lv) || (r = lvm_activate(p, name, ret_msg)) >= 0))
                r = return_path(p, name, ret_path);
        lvs_done(&lvs);
        return r;
}

static int thin_snapshot_create(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg) {
        LvmLvs lvs = {};
        int r;

        if ((r = lvm_lookup(p, (const char *[]) { volume, snapshot, NULL }, &lvs, ret_msg)) < 0)
                return r;
        const LvmLv *vol = lvs_find(&lvs, p->volume_group, volume), *snap = lvs_find(&lvs, p->volume_group, snapshot);
        if (!vol)
                r = storage_msgf(ret_msg, -ENOENT, "volume '%s/%s' not found", p->volume_group, volume);
        else if ((r = check_ours(p, vol, false, ret_msg)) < 0)
                ;
        else if (snap) {
                const char *of = snap->volume ? snap->volume : snap->origin;
                if ((r = check_ours(p, snap, true, ret_msg)) >= 0 && !streq_ptr(of, volume))
                        r = storage_msgf(ret_msg, -EEXIST, "snapshot '%s/%s' exists, of '%s'", p->volume_group,
                                         snapshot, strna(of));
        } else
                r = thin_snapshot(p, volume, snapshot, true, ret_msg);
        lvs_done(&lvs);
        return r;
}

static int thin_snapshot_remove(StoragePool *p, const char *snapshot, char **ret_msg) {
        LvmLvs lvs = {};
        int r;

        if ((r = lvm_lookup(p, (const char *[]) { snapshot, NULL }, &lvs, ret_msg)) < 0)
                return r;
        const LvmLv *snap = lvs_find(&lvs, p->volume_group, snapshot);
        if (snap && (r = check_ours(p, snap, true, ret_msg)) >= 0)
                r = lvm_lvremove(p, snapshot, ret_msg);
        lvs_done(&lvs);
        return r;
}

/* A new volume `name` from `source` (a snapshot or a volume): a thin snapshot of it, active. */
static int thin_copy(StoragePool *p, const char *source, bool source_is_snapshot, const char *name, char **ret_path,
                     char **ret_msg) {
        LvmLvs lvs = {};
        int r;

        if ((r = lvm_lookup(p, (const char *[]) { source, name, NULL }, &lvs, ret_msg)) < 0)
                return r;
        const LvmLv *src = lvs_find(&lvs, p->volume_group, source), *lv = lvs_find(&lvs, p->volume_group, name);
        if (!src)
                r = storage_msgf(ret_msg, -ENOENT, "%s '%s/%s' not found", source_is_snapshot ? "snapshot" : "volume",
                                 p->volume_group, source);
        else if ((r = check_ours(p, src, source_is_snapshot, ret_msg)) < 0)
                ;
        else if (lv) {
                if ((r = check_ours(p, lv, false, ret_msg)) < 0)
                        ;
                else if (!streq_ptr(lv->origin, source))
                        r = storage_msgf(ret_msg, -EEXIST, "volume '%s/%s' exists, not made from '%s'",
                                         p->volume_group, name, source);
                else if (lv_active(lv) || (r = lvm_activate(p, name, ret_msg)) >= 0)
                        r = return_path(p, name, ret_path);
        } else if ((r = thin_snapshot(p, source, name, false, ret_msg)) >= 0)
                r = return_path(p, name, ret_path);
        lvs_done(&lvs);
        return r;
}

static int thin_volume_from_snapshot(StoragePool *p, const char *snapshot, const char *name, char **ret_path,
                                     char **ret_msg) {
        return thin_copy(p, snapshot, true, name, ret_path, ret_msg);
}

static int thin_clone(StoragePool *p, const char *source, const char *name, char **ret_path, char **ret_msg) {
        return thin_copy(p, source, false, name, ret_path, ret_msg);
}

/* Revert by swapping names, not `lvconvert --merge`: a merge consumes the snapshot and is
 * deferred until the origin is next activated; the swap keeps the snapshot, finishes now,
 * and every step can be repeated after a crash (the state is read back each time):
 *   1. VOL.revert = new thin snapshot of SNAP (unless it exists, made from SNAP)
 *   2. remove VOL (if still there)
 *   3. rename VOL.revert to VOL */
static int thin_revert(StoragePool *p, const char *volume, const char *snapshot, char **ret_msg) {
        _cleanup_free_ char *tmp = NULL;
        LvmLvs lvs = {};
        int r;

        if (asprintf(&tmp, "%s" REVERT_SUFFIX, volume) < 0)
                return -ENOMEM;
        if ((r = lvm_lookup(p, (const char *[]) { volume, snapshot, tmp, NULL }, &lvs, ret_msg)) < 0)
                return r;
        const LvmLv *vol = lvs_find(&lvs, p->volume_group, volume), *snap = lvs_find(&lvs, p->volume_group, snapshot),
                    *t = lvs_find(&lvs, p->volume_group, tmp);
        if (!snap) {
                r = storage_msgf(ret_msg, -ENOENT, "snapshot '%s/%s' not found", p->volume_group, snapshot);
                goto finish;
        }
        if ((r = check_ours(p, snap, true, ret_msg)) < 0 || (vol && (r = check_ours(p, vol, false, ret_msg)) < 0) ||
            (t && (r = check_ours(p, t, false, ret_msg)) < 0))
                goto finish;
        if (vol && lv_open(vol)) {
                r = storage_msgf(ret_msg, -EBUSY, "volume '%s/%s' is open (still attached, e.g. to DRBD)",
                                 p->volume_group, volume);
                goto finish;
        }
        if (!vol && !t) {
                r = storage_msgf(ret_msg, -ENOENT, "volume '%s/%s' not found", p->volume_group, volume);
                goto finish;
        }
        if (t && !streq_ptr(t->origin, snapshot)) {
                /* Left over from an interrupted revert to another snapshot. */
                if ((r = lvm_lvremove(p, tmp, ret_msg)) < 0)
                        goto finish;
                t = NULL;
        }
        if (!t && (r = thin_snapshot(p, snapshot, tmp, false, ret_msg)) < 0)
                goto finish;
        if (vol && (r = lvm_lvremove(p, volume, ret_msg)) < 0)
                goto finish;
        char *argv[] = { "lvrename", p->volume_group, tmp, (char *) volume, NULL };
        r = storage_run(argv, STORAGE_LVM_TIMEOUT_MS, NULL, ret_msg);
finish:
        lvs_done(&lvs);
        return r;
}

const StorageOps storage_lvm_ops = {
        .probe = lvm_probe,
        .create = lvm_create,
        .remove = lvm_remove,
        .resize = lvm_resize,
        .attach = lvm_attach,
        .device_path = lvm_device_path,
        .create_commands = lvm_create_commands,
        .resize_commands = lvm_resize_commands,
        /* Snapshots and clones of thick LVs: not supported (docs/storage.md). */
};

const StorageOps storage_lvm_thin_ops = {
        .probe = lvm_probe,
        .create = lvm_create,
        .remove = lvm_remove,
        .resize = lvm_resize,
        .attach = lvm_attach,
        .device_path = lvm_device_path,
        .create_commands = lvm_create_commands,
        .resize_commands = lvm_resize_commands,
        .snapshot_create = thin_snapshot_create,
        .snapshot_remove = thin_snapshot_remove,
        .volume_from_snapshot = thin_volume_from_snapshot,
        .clone = thin_clone,
        .revert = thin_revert,
};
