/* Unit tests for drbdd/storage/storage*.c: exact command sequences per backend (exec recording), failures, hostile output, probe_all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <sys/stat.h>

#include "drbdd/storage/storage.h"
#include "exec.h"
#include "json-util.h"
#include "macro.h"

/* ---- canned command output -------------------------------------------------- */

typedef struct Rule {
        const char *prefix; /* matched against the recorded command line */
        int status;
        const char *out, *err;
        int ret;            /* as if spawning failed: -ETIMEDOUT, -ENOENT */
} Rule;

static const Rule *rules;
static char *dynamic_out; /* for big generated outputs */

static int responder(char *const argv[], void *userdata, ExecResult *ret) {
        _cleanup_free_ char *line = exec_argv_to_string(argv);
        for (const Rule *r = rules; r && r->prefix; r++)
                if (startswith(line, r->prefix)) {
                        ret->status = r->status;
                        ret->out = strdup(r->out == (const char *) 1 ? dynamic_out : r->out ? r->out : "");
                        ret->err = strdup(r->err ? r->err : "");
                        return r->ret;
                }
        return 0;
}

static void record(const Rule *rs) {
        rules = rs;
        exec_record_start(responder, NULL);
}

static void expect_log(const char *want) {
        _cleanup_free_ char *log = exec_record_stop();
        rules = NULL;
        assert_string_equal(log, want);
}

#define LV(name, vg, size, pool, origin, attr, tags)                                                          \
        "{\"lv_name\":\"" name "\", \"vg_name\":\"" vg "\", \"lv_size\":\"" size "\", \"pool_lv\":\"" pool   \
        "\", \"origin\":\"" origin "\", \"data_percent\":\"\", \"metadata_percent\":\"\", \"lv_attr\":\"" attr \
        "\", \"lv_tags\":\"" tags "\"}"
#define THINPOOL(name, vg, size, dp, mp, attr)                                                                 \
        "{\"lv_name\":\"" name "\", \"vg_name\":\"" vg "\", \"lv_size\":\"" size                              \
        "\", \"pool_lv\":\"\", \"origin\":\"\", \"data_percent\":\"" dp "\", \"metadata_percent\":\"" mp      \
        "\", \"lv_attr\":\"" attr "\", \"lv_tags\":\"\"}"
#define LVS(...) "  {\n      \"report\": [\n          {\n              \"lv\": [" __VA_ARGS__ "]}]}\n"
#define VGS(...) "{\"report\":[{\"vg\":[" __VA_ARGS__ "]}]}"
#define VG(name, size, free) "{\"vg_name\":\"" name "\", \"vg_size\":\"" size "\", \"vg_free\":\"" free "\", \"vg_extent_size\":\"4096.00\"}"

#define FIELDS "lv_name,vg_name,lv_size,pool_lv,origin,data_percent,metadata_percent,lv_attr,lv_tags"
#define LOOKUP "lvs --reportformat json --units k --nosuffix -o " FIELDS " -S "
#define PROBE_LVS "lvs --reportformat json --units k --nosuffix -o " FIELDS " "
#define PROBE_VGS "vgs --reportformat json --units k --nosuffix -o vg_name,vg_size,vg_free,vg_extent_size "

#define POOL_ROW THINPOOL("pool0", "vg0", "1048576.00", "12.50", "3.00", "twi-aotz--")
#define VOL(name, size) LV(name, "vg0", size, "", "", "-wi-a-----", "drbdd")
#define TVOL(name, size, origin) LV(name, "vg0", size, "pool0", origin, "Vwi-a-tz--", "drbdd")
#define TSNAP(name, vol) LV(name, "vg0", "65536.00", "pool0", vol, "Vwi---tz-k", "drbdd-snap,drbdd-volume=" vol)

static StoragePool *pool_from(const char *json) {
        _cleanup_json_ json_t *j = json_loads(json, 0, NULL);
        _cleanup_free_ char *msg = NULL;
        StoragePool *p = NULL;
        assert_non_null(j);
        assert_int_equal(storage_pool_new(j, &p, &msg), 0);
        assert_null(msg);
        return p;
}

static StoragePool *thick(void) {
        return pool_from("{\"name\":\"fast\",\"driver\":\"lvm\",\"volume-group\":\"vg0\",\"node\":\"alpha\"}");
}

static StoragePool *thin(void) {
        return pool_from("{\"name\":\"thin\",\"driver\":\"lvm-thin\",\"volume-group\":\"vg0\",\"thin-pool\":\"pool0\"}");
}

/* ---- pools and names ---------------------------------------------------------- */

static void test_driver_strings(void **state) {
        for (int d = 0; d < _STORAGE_DRIVER_MAX; d++)
                assert_int_equal(storage_driver_from_string(storage_driver_to_string((StorageDriver) d)), d);
        assert_null(storage_driver_to_string(_STORAGE_DRIVER_MAX));
        assert_int_equal(storage_driver_from_string("zfs"), -EINVAL);
        assert_int_equal(storage_driver_from_string(NULL), -EINVAL);
}

static void expect_pool_invalid(const char *json, const char *msg_part) {
        _cleanup_json_ json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
        _cleanup_free_ char *msg = NULL;
        StoragePool *p = NULL;
        assert_non_null(j);
        assert_int_equal(storage_pool_new(j, &p, &msg), -EINVAL);
        assert_null(p);
        assert_non_null(msg);
        if (!strstr(msg, msg_part))
                fail_msg("message '%s' lacks '%s'", msg, msg_part);
}

static void test_pool_new(void **state) {
        StoragePool *p = thick();
        assert_string_equal(p->name, "fast");
        assert_int_equal(p->driver, STORAGE_DRIVER_LVM);
        assert_string_equal(p->volume_group, "vg0");
        assert_null(p->thin_pool);
        storage_pool_free(p);

        p = thin();
        assert_int_equal(p->driver, STORAGE_DRIVER_LVM_THIN);
        assert_string_equal(p->thin_pool, "pool0");
        storage_pool_free(p);

        p = pool_from("{\"name\":\"dev\",\"driver\":\"file\",\"directory\":\"/var/lib/drbdd/volumes/\"}");
        assert_string_equal(p->directory, "/var/lib/drbdd/volumes");
        storage_pool_free(p);
        assert_null(storage_pool_free(NULL));

        expect_pool_invalid("[1]", "not a JSON object");
        expect_pool_invalid("{\"driver\":\"lvm\",\"volume-group\":\"vg0\"}", "pool");
        expect_pool_invalid("{\"name\":\"a b\",\"driver\":\"lvm\",\"volume-group\":\"vg0\"}", "pool");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"zfs\"}", "driver must be");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":7}", "driver must be");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"lvm\"}", "needs 'volume-group'");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"lvm\",\"volume-group\":\"-vg\"}", "must not start with '-'");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"lvm\",\"volume-group\":\"vg/x\"}", "use only");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"lvm\",\"volume-group\":\"vg; rm -rf /\"}", "use only");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"lvm\",\"volume-group\":\"..\"}", "invalid volume group");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"lvm-thin\",\"volume-group\":\"vg0\"}", "needs 'thin-pool'");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"lvm-thin\",\"volume-group\":\"vg0\",\"thin-pool\":\"x_tmeta\"}",
                            "reserves");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"file\"}", "missing");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"file\",\"directory\":\"rel/dir\"}", "absolute");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"file\",\"directory\":\"/a/../etc\"}", "absolute");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"file\",\"directory\":\"/\"}", "absolute");
        expect_pool_invalid("{\"name\":\"pp\",\"driver\":\"file\",\"directory\":\"/a b\"}", "absolute");
}

static void test_names(void **state) {
        static const char *const good[] = { "vol1", "r1_00000", "a.b-c+d_e", "X", "_x", NULL };
        static const char *const bad[] = { "", "-x", ".", "..", "a/b", "a b", "a\nb", "snapshot1", "pvmove0",
                                           "x_tdata", "x_rimage_0", "\xc3\xa9", NULL };
        char longname[102];

        for (size_t i = 0; good[i]; i++)
                assert_int_equal(storage_name_validate(good[i], NULL), 0);
        for (size_t i = 0; bad[i]; i++) {
                _cleanup_free_ char *msg = NULL;
                assert_int_equal(storage_name_validate(bad[i], &msg), -EINVAL);
                assert_non_null(msg);
                assert_null(strchr(msg, '\n'));
        }
        assert_int_equal(storage_name_validate(NULL, NULL), -EINVAL);
        memset(longname, 'a', 101);
        longname[101] = 0;
        assert_int_equal(storage_name_validate(longname, NULL), -EINVAL);
        longname[100] = 0;
        assert_int_equal(storage_name_validate(longname, NULL), 0);

        /* Front functions validate before any command runs. */
        StoragePool *p = thin();
        _cleanup_free_ char *msg = NULL;
        record(NULL);
        assert_int_equal(storage_create(p, "../etc", 1024, NULL, &msg), -EINVAL);
        assert_int_equal(storage_create(p, "ok", 0, NULL, NULL), -EINVAL);
        assert_int_equal(storage_remove(p, "-rf", NULL), -EINVAL);
        assert_int_equal(storage_snapshot_create(p, "v", "v", NULL), -EINVAL);
        assert_int_equal(storage_clone(p, "v", "v", NULL, NULL), -EINVAL);
        assert_int_equal(storage_revert(p, "v", "a/b", NULL), -EINVAL);
        expect_log("");
        storage_pool_free(p);
}

static void test_device_path(void **state) {
        StoragePool *p = thick();
        _cleanup_free_ char *a = NULL, *b = NULL;
        record(NULL);
        assert_int_equal(storage_device_path(p, "vol1", &a), 0);
        assert_string_equal(a, "/dev/vg0/vol1");
        assert_int_equal(storage_device_path(p, "a/b", &b), -EINVAL);
        expect_log("");
        storage_pool_free(p);
}

/* ---- thick LVM ------------------------------------------------------------------ */

static void test_thick_create(void **state) {
        StoragePool *p = thick();
        _cleanup_free_ char *path = NULL;

        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, &path, NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\n"
                   "lvcreate --yes --wipesignatures y --zero y --addtag drbdd --size 65536k --name vol1 vg0\n");
        assert_string_equal(path, "/dev/vg0/vol1");

        /* Exists, large enough (extent rounding): nothing to do. */
        record((const Rule[]) { { LOOKUP, 0, LVS(VOL("vol1", "69632.00")), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65537, NULL, NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");

        /* Exists but inactive (e.g. after a reboot without autoactivation). */
        record((const Rule[]) { { LOOKUP, 0, LVS(LV("vol1", "vg0", "65536.00", "", "", "-wi-------", "drbdd")), NULL, 0 },
                                {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\nlvchange --activate y --ignoreactivationskip vg0/vol1\n");

        /* Too small, or not ours: refused, nothing changed. */
        _cleanup_free_ char *m1 = NULL, *m2 = NULL;
        record((const Rule[]) { { LOOKUP, 0, LVS(VOL("vol1", "4096.00")), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, &m1), -EEXIST);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");
        assert_non_null(strstr(m1, "4096 KiB, less than the 65536 KiB"));
        record((const Rule[]) { { LOOKUP, 0, LVS(LV("vol1", "vg0", "65536.00", "", "", "-wi-a-----", "")), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, &m2), -EEXIST);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");
        assert_non_null(strstr(m2, "not made by drbdd"));
        storage_pool_free(p);
}

static void test_thick_create_fails(void **state) {
        StoragePool *p = thick();
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL, *path = NULL;

        record((const Rule[]) {
                { LOOKUP, 0, LVS(), NULL, 0 },
                { "lvcreate", 5, "", "  Volume group \"vg0\" has insufficient free space (10 extents): 25 required.\n", 0 },
                {} });
        assert_int_equal(storage_create(p, "vol1", 102400, &path, &m1), -ENOSPC);
        assert_null(path);
        assert_string_equal(m1, "lvcreate exited 5: Volume group \"vg0\" has insufficient free space (10 extents): 25 required.");
        _cleanup_free_ char *log = exec_record_stop();

        record((const Rule[]) {
                { LOOKUP, 0, LVS(), NULL, 0 },
                { "lvcreate", 5, "", "  WARNING: something.\n\n  Failed to activate new LV vg0/vol1.\n", 0 },
                {} });
        assert_int_equal(storage_create(p, "vol1", 1024, NULL, &m2), -EIO);
        assert_string_equal(m2, "lvcreate exited 5: WARNING: something.; Failed to activate new LV vg0/vol1.");
        free(exec_record_stop());

        /* The lookup itself fails: the VG is missing. */
        record((const Rule[]) { { LOOKUP, 5, "", "  Volume group \"vg0\" not found\n  Cannot process volume group vg0\n", 0 },
                                {} });
        assert_int_equal(storage_create(p, "vol1", 1024, NULL, &m3), -EIO);
        assert_string_equal(m3, "lvs exited 5: Volume group \"vg0\" not found; Cannot process volume group vg0");
        expect_log(LOOKUP "lv_name=vol1 vg0\n");

        /* Timeouts are reported as such. */
        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, { "lvcreate", 0, NULL, NULL, -ETIMEDOUT }, {} });
        assert_int_equal(storage_create(p, "vol1", 1024, NULL, &m4), -ETIMEDOUT);
        assert_string_equal(m4, "lvcreate timed out after 120 s");
        free(exec_record_stop());
        storage_pool_free(p);
}

/* What show-commands prints for a create / grow is exactly the mutating
 * command storage_create() / storage_resize() run (same argv builders). */
static void assert_last_line(const char *log, json_t *shown) {
        const char *last = json_string_value(json_array_get(shown, json_array_size(shown) - 1));
        assert_non_null(last);
        char want[512];
        snprintf(want, sizeof want, "%s\n", last);
        assert_true(strlen(log) >= strlen(want));
        assert_string_equal(log + strlen(log) - strlen(want), want);
}

static void test_commands_shown_are_run(void **state) {
        StoragePool *tk = thick(), *tn = thin();
        _cleanup_json_ json_t *a = json_array(), *b = json_array(), *c = json_array();

        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, {} });
        assert_int_equal(storage_create(tk, "vol1", 65536, NULL, NULL), 0);
        _cleanup_free_ char *l1 = exec_record_stop();
        assert_int_equal(storage_create_commands(tk, "vol1", 65536, a), 0);
        assert_int_equal(json_array_size(a), 1);
        assert_last_line(l1, a);

        record((const Rule[]) { { LOOKUP, 0, LVS(POOL_ROW), NULL, 0 }, {} });
        assert_int_equal(storage_create(tn, "vol1", 65536, NULL, NULL), 0);
        _cleanup_free_ char *l2 = exec_record_stop();
        assert_int_equal(storage_create_commands(tn, "vol1", 65536, b), 0);
        assert_last_line(l2, b);

        record((const Rule[]) { { LOOKUP, 0, LVS(VOL("vol1", "65536.00")), NULL, 0 }, {} });
        assert_int_equal(storage_resize(tk, "vol1", 131072, NULL), 0);
        _cleanup_free_ char *l3 = exec_record_stop();
        assert_int_equal(storage_resize_commands(tk, "vol1", 131072, c), 0);
        assert_last_line(l3, c);
        rules = NULL;

        /* Nothing runs to show them; bad names are refused. */
        uint64_t n = exec_command_count();
        assert_int_equal(storage_create_commands(tk, "-bad", 65536, a), -EINVAL);
        assert_int_equal(storage_create_commands(tk, "vol1", 0, a), -EINVAL);
        assert_int_equal(exec_command_count(), n);
        storage_pool_free(tk);
        storage_pool_free(tn);
}

static void test_thick_remove(void **state) {
        StoragePool *p = thick();
        _cleanup_free_ char *msg = NULL;

        record((const Rule[]) { { LOOKUP, 0, LVS(VOL("vol1", "65536.00")), NULL, 0 }, {} });
        assert_int_equal(storage_remove(p, "vol1", NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\n"
                   "blkdiscard --zeroout /dev/vg0/vol1\n"
                   "lvremove --yes vg0/vol1\n");

        /* Inactive: activated to be zeroed. */
        record((const Rule[]) { { LOOKUP, 0, LVS(LV("vol1", "vg0", "65536.00", "", "", "-wi-------", "drbdd")), NULL, 0 },
                                {} });
        assert_int_equal(storage_remove(p, "vol1", NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\n"
                   "lvchange --activate y --ignoreactivationskip vg0/vol1\n"
                   "blkdiscard --zeroout /dev/vg0/vol1\n"
                   "lvremove --yes vg0/vol1\n");

        /* Absent: done. */
        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, {} });
        assert_int_equal(storage_remove(p, "vol1", NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");

        /* Open (DRBD still attached): nothing is zeroed. */
        record((const Rule[]) { { LOOKUP, 0, LVS(LV("vol1", "vg0", "65536.00", "", "", "-wi-ao----", "drbdd")), NULL, 0 },
                                {} });
        assert_int_equal(storage_remove(p, "vol1", &msg), -EBUSY);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");
        assert_non_null(strstr(msg, "is open"));

        /* Zeroing fails: the LV stays. */
        _cleanup_free_ char *m2 = NULL;
        record((const Rule[]) { { LOOKUP, 0, LVS(VOL("vol1", "65536.00")), NULL, 0 },
                                { "blkdiscard", 1, "", "blkdiscard: cannot open /dev/vg0/vol1: Device or resource busy\n", 0 },
                                {} });
        assert_int_equal(storage_remove(p, "vol1", &m2), -EIO);
        expect_log(LOOKUP "lv_name=vol1 vg0\nblkdiscard --zeroout /dev/vg0/vol1\n");
        assert_string_equal(m2, "blkdiscard exited 1: blkdiscard: cannot open /dev/vg0/vol1: Device or resource busy");
        storage_pool_free(p);
}

static void test_thick_resize(void **state) {
        StoragePool *p = thick();
        _cleanup_free_ char *msg = NULL;

        record((const Rule[]) { { LOOKUP, 0, LVS(VOL("vol1", "65536.00")), NULL, 0 }, {} });
        assert_int_equal(storage_resize(p, "vol1", 131072, NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\nlvextend --size 131072k vg0/vol1\n");

        /* Never shrinks. */
        record((const Rule[]) { { LOOKUP, 0, LVS(VOL("vol1", "65536.00")), NULL, 0 }, {} });
        assert_int_equal(storage_resize(p, "vol1", 1024, NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");

        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, {} });
        assert_int_equal(storage_resize(p, "vol1", 131072, &msg), -ENOENT);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");
        assert_string_equal(msg, "volume 'vg0/vol1' not found");
        storage_pool_free(p);
}

static void test_thick_unsupported(void **state) {
        StoragePool *p = thick();
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL, *m5 = NULL;

        record(NULL);
        assert_int_equal(storage_snapshot_create(p, "vol1", "s1", &m1), -EOPNOTSUPP);
        assert_int_equal(storage_snapshot_remove(p, "s1", &m2), -EOPNOTSUPP);
        assert_int_equal(storage_volume_from_snapshot(p, "s1", "vol2", NULL, &m3), -EOPNOTSUPP);
        assert_int_equal(storage_clone(p, "vol1", "vol2", NULL, &m4), -EOPNOTSUPP);
        assert_int_equal(storage_revert(p, "vol1", "s1", &m5), -EOPNOTSUPP);
        expect_log("");
        assert_string_equal(m1, "storage pool 'fast' (lvm) does not support snapshots (snapshots and clones need an "
                                "lvm-thin pool)");
        assert_non_null(strstr(m4, "does not support clones"));
        storage_pool_free(p);
}

static void test_attach_lvm(void **state) {
        StoragePool *p = thin();
        _cleanup_free_ char *path = NULL, *msg = NULL;

        record((const Rule[]) { { LOOKUP, 0, LVS(LV("v", "vg0", "65536.00", "pool0", "", "Vwi---tz--", "drbdd")), NULL, 0 },
                                {} });
        assert_int_equal(storage_attach(p, "v", &path, NULL), 0);
        expect_log(LOOKUP "lv_name=v vg0\nlvchange --activate y --ignoreactivationskip vg0/v\n");
        assert_string_equal(path, "/dev/vg0/v");

        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "v")), NULL, 0 }, {} });
        assert_int_equal(storage_attach(p, "s1", NULL, &msg), -EINVAL);
        expect_log(LOOKUP "lv_name=s1 vg0\n");
        assert_string_equal(msg, "'vg0/s1' is a snapshot, not a volume");
        storage_pool_free(p);
}

/* ---- LVM thin --------------------------------------------------------------------- */

static void test_thin_create_remove(void **state) {
        StoragePool *p = thin();
        _cleanup_free_ char *path = NULL, *m1 = NULL, *m2 = NULL, *m3 = NULL;

        record((const Rule[]) { { LOOKUP, 0, LVS(POOL_ROW), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, &path, NULL), 0);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=pool0' vg0\n"
                   "lvcreate --yes --wipesignatures n --addtag drbdd --type thin --virtualsize 65536k --thinpool pool0 "
                   "--name vol1 vg0\n");
        assert_string_equal(path, "/dev/vg0/vol1");

        record((const Rule[]) { { LOOKUP, 0, LVS(POOL_ROW "," TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, NULL), 0);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=pool0' vg0\n");

        /* A thick LV of that name, or one in another thin pool, is not ours to reuse. */
        record((const Rule[]) { { LOOKUP, 0, LVS(POOL_ROW "," VOL("vol1", "65536.00")), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, &m1), -EEXIST);
        free(exec_record_stop());
        assert_string_equal(m1, "logical volume 'vg0/vol1' is not in thin pool 'pool0'");

        /* No thin pool; a pool that does not zero new blocks is refused. */
        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, &m2), -ENOENT);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=pool0' vg0\n");
        assert_string_equal(m2, "thin pool 'vg0/pool0' not found");
        record((const Rule[]) {
                { LOOKUP, 0, LVS(THINPOOL("pool0", "vg0", "1048576.00", "1.00", "1.00", "twi-aot---")), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, &m3), -EINVAL);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=pool0' vg0\n");
        assert_non_null(strstr(m3, "does not zero new blocks"));

        /* Remove: no zeroing needed (docs/storage.md), just lvremove. */
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_remove(p, "vol1", NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\nlvremove --yes vg0/vol1\n");

        /* Resize. */
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_resize(p, "vol1", 1048576, NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\nlvextend --size 1048576k vg0/vol1\n");

        /* A snapshot is not removed as a volume. */
        _cleanup_free_ char *m4 = NULL;
        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "vol1")), NULL, 0 }, {} });
        assert_int_equal(storage_remove(p, "s1", &m4), -EINVAL);
        expect_log(LOOKUP "lv_name=s1 vg0\n");
        storage_pool_free(p);
}

static void test_thin_snapshots(void **state) {
        StoragePool *p = thin();
        _cleanup_free_ char *path = NULL, *path2 = NULL, *m1 = NULL, *m2 = NULL, *m3 = NULL;

        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_snapshot_create(p, "vol1", "s1", NULL), 0);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=s1' vg0\n"
                   "lvcreate --yes --snapshot --addtag drbdd-snap --addtag drbdd-volume=vol1 --name s1 vg0/vol1\n");

        /* Again: exists. After a revert LVM no longer knows the origin, the tag still does. */
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "s1") "," TSNAP("s1", "vol1")), NULL, 0 }, {} });
        assert_int_equal(storage_snapshot_create(p, "vol1", "s1", NULL), 0);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=s1' vg0\n");
        record((const Rule[]) { { LOOKUP, 0,
                                  LVS(TVOL("vol1", "65536.00", "s1") "," LV("s1", "vg0", "65536.00", "pool0", "",
                                                                            "Vwi---tz-k", "drbdd-volume=vol1,drbdd-snap")),
                                  NULL, 0 },
                                {} });
        assert_int_equal(storage_snapshot_create(p, "vol1", "s1", NULL), 0);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=s1' vg0\n");

        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol2", "65536.00", "") "," TSNAP("s1", "vol1")), NULL, 0 }, {} });
        assert_int_equal(storage_snapshot_create(p, "vol2", "s1", &m1), -EEXIST);
        expect_log(LOOKUP "'lv_name=vol2 || lv_name=s1' vg0\n");
        assert_string_equal(m1, "snapshot 'vg0/s1' exists, of 'vol1'");

        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, {} });
        assert_int_equal(storage_snapshot_create(p, "vol1", "s1", &m2), -ENOENT);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=s1' vg0\n");

        /* Remove: absent is fine; a volume is not a snapshot. */
        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "vol1")), NULL, 0 }, {} });
        assert_int_equal(storage_snapshot_remove(p, "s1", NULL), 0);
        expect_log(LOOKUP "lv_name=s1 vg0\nlvremove --yes vg0/s1\n");
        record((const Rule[]) { { LOOKUP, 0, LVS(), NULL, 0 }, {} });
        assert_int_equal(storage_snapshot_remove(p, "s1", NULL), 0);
        expect_log(LOOKUP "lv_name=s1 vg0\n");
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_snapshot_remove(p, "vol1", &m3), -EINVAL);
        expect_log(LOOKUP "lv_name=vol1 vg0\n");

        /* Volume from snapshot: an active thin snapshot of the snapshot. */
        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "vol1")), NULL, 0 }, {} });
        assert_int_equal(storage_volume_from_snapshot(p, "s1", "vol2", &path, NULL), 0);
        expect_log(LOOKUP "'lv_name=s1 || lv_name=vol2' vg0\n"
                   "lvcreate --yes --snapshot --setactivationskip n --activate y --addtag drbdd --name vol2 vg0/s1\n");
        assert_string_equal(path, "/dev/vg0/vol2");
        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "vol1") "," TVOL("vol2", "65536.00", "s1")), NULL, 0 }, {} });
        assert_int_equal(storage_volume_from_snapshot(p, "s1", "vol2", NULL, NULL), 0);
        expect_log(LOOKUP "'lv_name=s1 || lv_name=vol2' vg0\n");
        _cleanup_free_ char *m4 = NULL, *m5 = NULL;
        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "vol1") "," TVOL("vol2", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_volume_from_snapshot(p, "s1", "vol2", NULL, &m4), -EEXIST);
        free(exec_record_stop());
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_volume_from_snapshot(p, "vol1", "vol2", NULL, &m5), -EINVAL);
        free(exec_record_stop());
        assert_string_equal(m5, "'vg0/vol1' is a volume, not a snapshot");

        /* Clone: the same, from a volume. */
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_clone(p, "vol1", "vol3", &path2, NULL), 0);
        expect_log(LOOKUP "'lv_name=vol1 || lv_name=vol3' vg0\n"
                   "lvcreate --yes --snapshot --setactivationskip n --activate y --addtag drbdd --name vol3 vg0/vol1\n");
        assert_string_equal(path2, "/dev/vg0/vol3");
        storage_pool_free(p);
}

#define REVERT_LOOKUP LOOKUP "'lv_name=vol1 || lv_name=s1 || lv_name=vol1.revert' vg0\n"

static void test_thin_revert(void **state) {
        StoragePool *p = thin();
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL;

        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "") "," TSNAP("s1", "vol1")), NULL, 0 }, {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", NULL), 0);
        expect_log(REVERT_LOOKUP
                   "lvcreate --yes --snapshot --setactivationskip n --activate y --addtag drbdd --name vol1.revert vg0/s1\n"
                   "lvremove --yes vg0/vol1\n"
                   "lvrename vg0 vol1.revert vol1\n");

        /* Resumed after a crash between the steps. */
        record((const Rule[]) { { LOOKUP, 0,
                                  LVS(TVOL("vol1", "65536.00", "") "," TSNAP("s1", "vol1") "," TVOL("vol1.revert", "65536.00", "s1")),
                                  NULL, 0 },
                                {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", NULL), 0);
        expect_log(REVERT_LOOKUP "lvremove --yes vg0/vol1\nlvrename vg0 vol1.revert vol1\n");
        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "vol1") "," TVOL("vol1.revert", "65536.00", "s1")), NULL, 0 }, {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", NULL), 0);
        expect_log(REVERT_LOOKUP "lvrename vg0 vol1.revert vol1\n");
        /* A leftover of a revert to another snapshot is replaced. */
        record((const Rule[]) { { LOOKUP, 0,
                                  LVS(TVOL("vol1", "65536.00", "") "," TSNAP("s1", "vol1") "," TVOL("vol1.revert", "65536.00", "s0")),
                                  NULL, 0 },
                                {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", NULL), 0);
        expect_log(REVERT_LOOKUP
                   "lvremove --yes vg0/vol1.revert\n"
                   "lvcreate --yes --snapshot --setactivationskip n --activate y --addtag drbdd --name vol1.revert vg0/s1\n"
                   "lvremove --yes vg0/vol1\n"
                   "lvrename vg0 vol1.revert vol1\n");

        /* Refusals: open volume, no snapshot, nothing to revert. */
        record((const Rule[]) { { LOOKUP, 0,
                                  LVS(LV("vol1", "vg0", "65536.00", "pool0", "", "Vwi-aotz--", "drbdd") "," TSNAP("s1", "vol1")),
                                  NULL, 0 },
                                {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", &m1), -EBUSY);
        expect_log(REVERT_LOOKUP);
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "")), NULL, 0 }, {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", &m2), -ENOENT);
        expect_log(REVERT_LOOKUP);
        assert_string_equal(m2, "snapshot 'vg0/s1' not found");
        record((const Rule[]) { { LOOKUP, 0, LVS(TSNAP("s1", "vol1")), NULL, 0 }, {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", &m3), -ENOENT);
        expect_log(REVERT_LOOKUP);

        /* A failing step stops the sequence: the volume is not removed. */
        _cleanup_free_ char *m4 = NULL;
        record((const Rule[]) { { LOOKUP, 0, LVS(TVOL("vol1", "65536.00", "") "," TSNAP("s1", "vol1")), NULL, 0 },
                                { "lvcreate", 5, "", "  Cannot create new thin volume, free space in thin pool vg0/pool0 reached threshold.\n", 0 },
                                {} });
        assert_int_equal(storage_revert(p, "vol1", "s1", &m4), -EIO);
        expect_log(REVERT_LOOKUP
                   "lvcreate --yes --snapshot --setactivationskip n --activate y --addtag drbdd --name vol1.revert vg0/s1\n");
        assert_non_null(strstr(m4, "lvcreate exited 5: Cannot create new thin volume"));
        storage_pool_free(p);
}

/* ---- hostile or broken output ----------------------------------------------------------- */

static void test_bad_output(void **state) {
        static const char *const garbage[] = {
                "not json",
                "",
                "[]",
                "{\"report\": 5}",
                "{\"report\": [ {\"lv\": {}} ]}",
                "{\"report\": [ {\"lv\": [ 7 ]} ]}",
                LVS("{\"lv_name\": 5}"),
                LVS(LV("vol1", "vg0", "abc", "", "", "-wi-a-----", "drbdd")),
                LVS(LV("vol1", "vg0", "-5", "", "", "-wi-a-----", "drbdd")),
                LVS(LV("vol1", "vg0", "99999999999999999999999", "", "", "-wi-a-----", "drbdd")),
                LVS(LV("vol1", "vg0", "1.", "", "", "-wi-a-----", "drbdd")),
                LVS(LV("vol1", "vg0", "1024.00", "", "", "-w", "drbdd")),
                LVS(LV("vol/1", "vg0", "1024.00", "", "", "-wi-a-----", "drbdd")),
                LVS(LV("vol1", "vg0", "1024.00", "../x", "", "-wi-a-----", "drbdd")),
                LVS(LV("vol1", "vg0", "1024.00", "", "", "-wi-a-----", "drbdd") "," LV("vol1", "vg0", "1024.00", "", "", "-wi-a-----", "drbdd") "x"),
                NULL,
        };
        StoragePool *p = thick();

        for (size_t i = 0; garbage[i]; i++) {
                _cleanup_free_ char *msg = NULL;
                const Rule rs[] = { { LOOKUP, 0, garbage[i], NULL, 0 }, {} };
                record(rs);
                int r = storage_create(p, "vol1", 1024, NULL, &msg);
                if (r != -EBADMSG)
                        fail_msg("garbage %zu: got %d (%s)", i, r, strna(msg));
                expect_log(LOOKUP "lv_name=vol1 vg0\n");
                assert_non_null(msg);
        }
        /* A huge percentage, an LV of another VG (ignored). */
        _cleanup_free_ char *msg = NULL;
        record((const Rule[]) { { LOOKUP, 0, LVS(LV("vol1", "other", "1024.00", "", "", "-wi-a-----", "drbdd")), NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 1024, NULL, NULL), 0);
        expect_log(LOOKUP "lv_name=vol1 vg0\nlvcreate --yes --wipesignatures y --zero y --addtag drbdd --size 1024k --name vol1 vg0\n");
        storage_pool_free(p);
}

/* ---- probe ------------------------------------------------------------------------- */

static void test_probe_all(void **state) {
        StoragePool *pools[4] = {
                thick(),
                thin(),
                pool_from("{\"name\":\"other\",\"driver\":\"lvm\",\"volume-group\":\"vg1\"}"),
                pool_from("{\"name\":\"thin2\",\"driver\":\"lvm-thin\",\"volume-group\":\"vg1\",\"thin-pool\":\"tp\"}"),
        };
        StorageReport rep[4];
        const Rule rs[] = {
                { PROBE_LVS, 0,
                  LVS(POOL_ROW "," TVOL("t1", "65536.00", "") "," TSNAP("s1", "t1") ","
                      LV("foreign", "vg0", "1024.00", "pool0", "", "Vwi-a-tz--", "") ","
                      VOL("v1", "4096.00") "," LV("root", "vg0", "8192.00", "", "", "-wi-ao----", "") ","
                      LV("v2", "vg1", "2048.50", "", "", "-wi-------", "drbdd") ","
                      THINPOOL("tp", "vg1", "2048.00", "100.00", "50.00", "twi-aot---")),
                  NULL, 0 },
                { PROBE_VGS, 0, VGS(VG("vg0", "2093056.00", "1822720.00") "," VG("vg1", "10240.00", "0")), NULL, 0 },
                {},
        };

        record(rs);
        assert_int_equal(storage_probe_all(pools, 4, rep), 0);
        expect_log(PROBE_LVS "vg0 vg1\n" PROBE_VGS "vg0 vg1\n");

        assert_int_equal(rep[0].error, 0);
        assert_int_equal(rep[0].total_kib, 2093056);
        assert_int_equal(rep[0].free_kib, 1822720);
        assert_int_equal(rep[0].n_volumes, 1);
        assert_string_equal(rep[0].volumes[0].name, "v1");
        assert_int_equal(rep[0].volumes[0].size_kib, 4096);
        assert_true(rep[0].volumes[0].active);
        assert_true(isnan(rep[0].data_percent));

        assert_int_equal(rep[1].error, 0);
        assert_int_equal(rep[1].total_kib, 1048576);
        assert_int_equal(rep[1].free_kib, 1048576 - 131072);
        assert_true(fabs(rep[1].data_percent - 12.5) < 1e-9);
        assert_true(fabs(rep[1].metadata_percent - 3.0) < 1e-9);
        assert_int_equal(rep[1].virtual_kib, 65536 + 65536 + 1024);
        assert_true(rep[1].zeroing);
        assert_int_equal(rep[1].n_volumes, 2);
        assert_string_equal(rep[1].volumes[0].name, "s1");
        assert_true(rep[1].volumes[0].snapshot);
        assert_false(rep[1].volumes[0].active);
        assert_string_equal(rep[1].volumes[0].origin, "t1");
        assert_string_equal(rep[1].volumes[1].name, "t1");
        assert_false(rep[1].volumes[1].snapshot);
        assert_null(rep[1].volumes[1].origin);

        assert_int_equal(rep[2].error, 0);
        assert_int_equal(rep[2].n_volumes, 1);
        assert_int_equal(rep[2].volumes[0].size_kib, 2049); /* rounded up */
        assert_false(rep[2].volumes[0].active);

        assert_int_equal(rep[3].error, 0);
        assert_int_equal(rep[3].free_kib, 0);
        assert_false(rep[3].zeroing);
        for (size_t i = 0; i < 4; i++) {
                storage_report_done(&rep[i]);
                storage_pool_free(pools[i]);
        }
}

/* After a restart with many volumes and pools, probing costs two commands. */
static void test_probe_constant_commands(void **state) {
        enum { N_POOLS = 40, N_VOLS = 2000 };
        StoragePool *pools[N_POOLS];
        StorageReport rep[N_POOLS];
        FILE *f;
        size_t len;

        for (size_t i = 0; i < N_POOLS; i++) {
                char json[256];
                snprintf(json, sizeof json,
                         i % 2 ? "{\"name\":\"pool%zu\",\"driver\":\"lvm\",\"volume-group\":\"vg%zu\"}"
                               : "{\"name\":\"pool%zu\",\"driver\":\"lvm-thin\",\"volume-group\":\"vg%zu\",\"thin-pool\":\"tp\"}",
                         i, i);
                pools[i] = pool_from(json);
        }
        f = open_memstream(&dynamic_out, &len);
        fputs("{\"report\":[{\"lv\":[", f);
        for (size_t i = 0; i < N_POOLS; i += 2)
                fprintf(f, "%s" THINPOOL("tp", "vg%zu", "1048576.00", "1.00", "1.00", "twi-aotz--"), i ? "," : "", i);
        for (size_t v = 0; v < N_VOLS; v++) {
                size_t i = v % N_POOLS;
                fprintf(f, ",{\"lv_name\":\"r%zu_00000\",\"vg_name\":\"vg%zu\",\"lv_size\":\"1024.00\",\"pool_lv\":\"%s\","
                           "\"origin\":\"\",\"data_percent\":\"\",\"metadata_percent\":\"\",\"lv_attr\":\"%s\",\"lv_tags\":\"drbdd\"}",
                        v, i, i % 2 ? "" : "tp", i % 2 ? "-wi-a-----" : "Vwi-a-tz--");
        }
        fputs("]}]}", f);
        fclose(f);
        _cleanup_free_ char *vgs = NULL;
        f = open_memstream(&vgs, &len);
        fputs("{\"report\":[{\"vg\":[", f);
        for (size_t i = 0; i < N_POOLS; i++)
                fprintf(f, "%s{\"vg_name\":\"vg%zu\",\"vg_size\":\"1048576.00\",\"vg_free\":\"0\",\"vg_extent_size\":\"4096.00\"}", i ? "," : "", i);
        fputs("]}]}", f);
        fclose(f);

        const Rule rs[] = { { PROBE_LVS, 0, (const char *) 1, NULL, 0 }, { PROBE_VGS, 0, vgs, NULL, 0 }, {} };
        record(rs);
        assert_int_equal(storage_probe_all(pools, N_POOLS, rep), 0);
        _cleanup_free_ char *log = exec_record_stop();
        size_t lines = 0;
        for (const char *c = log; *c; c++)
                lines += *c == '\n';
        assert_int_equal(lines, 2);
        size_t total = 0;
        for (size_t i = 0; i < N_POOLS; i++) {
                assert_int_equal(rep[i].error, 0);
                assert_int_equal(rep[i].n_volumes, N_VOLS / N_POOLS);
                total += rep[i].n_volumes;
                storage_report_done(&rep[i]);
                storage_pool_free(pools[i]);
        }
        assert_int_equal(total, N_VOLS);
        free(dynamic_out);
        dynamic_out = NULL;

        /* No LVM pool: no command at all. */
        StoragePool *fp = pool_from("{\"name\":\"ff\",\"driver\":\"file\",\"directory\":\"/nonexistent/dir\"}");
        record(NULL);
        assert_int_equal(storage_probe(fp, &rep[0]), -ENOENT);
        expect_log("");
        storage_report_done(&rep[0]);
        storage_pool_free(fp);
}

static void test_probe_failures(void **state) {
        StoragePool *pools[3] = {
                thick(),
                pool_from("{\"name\":\"gone\",\"driver\":\"lvm\",\"volume-group\":\"nosuch\"}"),
                pool_from("{\"name\":\"tt\",\"driver\":\"lvm-thin\",\"volume-group\":\"vg0\",\"thin-pool\":\"missing\"}"),
        };
        StorageReport rep[3];

        /* One VG missing: both commands exit 5 but still report the rest. */
        const Rule partial[] = {
                { PROBE_LVS, 5, LVS(VOL("v1", "4096.00")), "  Volume group \"nosuch\" not found\n", 0 },
                { PROBE_VGS, 5, VGS(VG("vg0", "2093056.00", "1822720.00")), "  Volume group \"nosuch\" not found\n", 0 },
                {},
        };
        record(partial);
        assert_int_equal(storage_probe_all(pools, 3, rep), 0);
        expect_log(PROBE_LVS "vg0 nosuch\n" PROBE_VGS "vg0 nosuch\n");
        assert_int_equal(rep[0].error, 0);
        assert_int_equal(rep[0].n_volumes, 1);
        assert_int_equal(rep[1].error, -ENOENT);
        assert_string_equal(rep[1].message,
                            "volume group 'nosuch' not found: vgs exited 5: Volume group \"nosuch\" not found");
        assert_int_equal(rep[2].error, -ENOENT);
        assert_string_equal(rep[2].message, "thin pool 'vg0/missing' not found");
        for (size_t i = 0; i < 3; i++)
                storage_report_done(&rep[i]);

        /* Garbage: every LVM pool gets -EBADMSG. */
        record((const Rule[]) { { PROBE_LVS, 0, "{\"report\":[{\"lv\":[{\"lv_name\":\"", NULL, 0 }, { PROBE_VGS, 0, VGS(), NULL, 0 }, {} });
        assert_int_equal(storage_probe_all(pools, 3, rep), 0);
        free(exec_record_stop());
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(rep[i].error, -EBADMSG);
                assert_non_null(strstr(rep[i].message, "lvs printed malformed JSON"));
                storage_report_done(&rep[i]);
        }

        /* Failure without output: -EIO with stderr. */
        record((const Rule[]) { { PROBE_LVS, 5, "", "  Locking failed.\n", 0 }, { PROBE_VGS, 5, "", "  Locking failed.\n", 0 }, {} });
        assert_int_equal(storage_probe(pools[0], &rep[0]), -EIO);
        free(exec_record_stop());
        assert_string_equal(rep[0].message, "vgs exited 5: Locking failed.");
        storage_report_done(&rep[0]);

        /* lvm missing. */
        record((const Rule[]) { { "", 0, NULL, NULL, -ENOENT }, {} });
        assert_int_equal(storage_probe(pools[0], &rep[0]), -ENOENT);
        free(exec_record_stop());
        storage_report_done(&rep[0]);
        storage_report_done(NULL);
        for (size_t i = 0; i < 3; i++)
                storage_pool_free(pools[i]);
}

/* ---- file ----------------------------------------------------------------------------- */

typedef struct FileEnv {
        char dir[64];
        char links[96];
        char img[128];
        char *json;
} FileEnv;

static int file_setup(void **state) {
        FileEnv *e = calloc(1, sizeof *e);
        strcpy(e->dir, "/tmp/test-storage.XXXXXX");
        assert_non_null(mkdtemp(e->dir));
        snprintf(e->links, sizeof e->links, "%s/links", e->dir);
        snprintf(e->img, sizeof e->img, "%s/vol1.img", e->dir);
        assert_true(asprintf(&e->json, "{\"name\":\"dev\",\"driver\":\"file\",\"directory\":\"%s\"}", e->dir) > 0);
        storage_set_link_directory(e->links);
        *state = e;
        return 0;
}

static int file_teardown(void **state) {
        FileEnv *e = *state;
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
        assert_int_equal(system(cmd), 0);
        storage_set_link_directory(NULL);
        free(e->json);
        free(e);
        return 0;
}

static char *readlink_str(const char *path) {
        char buf[256];
        ssize_t n = readlink(path, buf, sizeof buf - 1);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}

static void test_file_lifecycle(void **state) {
        FileEnv *e = *state;
        StoragePool *p = pool_from(e->json);
        _cleanup_free_ char *path = NULL, *want = NULL, *list_loop7 = NULL, *link = NULL, *msg = NULL, *t1 = NULL,
                            *t2 = NULL, *t3 = NULL;
        struct stat st;

        assert_true(asprintf(&list_loop7,
                             "{\n   \"loopdevices\": [\n      {\"name\": \"/dev/loop4242\", \"back-file\": \"%s\"},\n"
                             "      {\"name\": \"/dev/loop9\", \"back-file\": \"/elsewhere/vol1.img\"}\n   ]\n}\n",
                             e->img) > 0);
        assert_true(asprintf(&link, "%s/vol1", e->links) > 0);

        /* Create: sparse file, a loop device with direct I/O, the link. */
        record((const Rule[]) { { "losetup --json", 0, "", NULL, 0 }, { "losetup --find", 0, "/dev/loop4242\n", NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, &path, NULL), 0);
        assert_true(asprintf(&want,
                             "losetup --json --list --output NAME,BACK-FILE --associated %s\n"
                             "losetup --find --show --direct-io=on %s\n",
                             e->img, e->img) > 0);
        expect_log(want);
        assert_string_equal(path, link);
        assert_int_equal(stat(e->img, &st), 0);
        assert_int_equal(st.st_size, 65536 * 1024);
        assert_true(st.st_blocks < 64);
        assert_int_equal(st.st_mode & 0777, 0600);
        t1 = readlink_str(link);
        assert_string_equal(t1, "/dev/loop4242");

        /* Again: the file and a loop device with our file exist; the link is kept. */
        free(want);
        record((const Rule[]) { { "losetup --json", 0, list_loop7, NULL, 0 }, {} });
        assert_int_equal(storage_create(p, "vol1", 65536, NULL, NULL), 0);
        assert_true(asprintf(&want, "losetup --json --list --output NAME,BACK-FILE --associated %s\n", e->img) > 0);
        expect_log(want);

        /* A smaller existing file is refused. */
        record(NULL);
        assert_int_equal(storage_create(p, "vol1", 131072, NULL, &msg), -EEXIST);
        expect_log("");

        /* Stale link (after a reboot the loop device is another): re-pointed. */
        assert_int_equal(unlink(link), 0);
        assert_int_equal(symlink("/dev/loop1", link), 0);
        record((const Rule[]) { { "losetup --json", 0, "", NULL, 0 }, { "losetup --find", 0, "/dev/loop4243\n", NULL, 0 }, {} });
        assert_int_equal(storage_attach(p, "vol1", NULL, NULL), 0);
        free(want);
        assert_true(asprintf(&want,
                             "losetup --json --list --output NAME,BACK-FILE --associated %s\n"
                             "losetup --find --show --direct-io=on %s\n",
                             e->img, e->img) > 0);
        expect_log(want);
        t2 = readlink_str(link);
        assert_string_equal(t2, "/dev/loop4243");

        /* Resize: grow the file, tell the loop device. */
        record((const Rule[]) { { "losetup --json", 0, list_loop7, NULL, 0 }, {} });
        assert_int_equal(storage_resize(p, "vol1", 131072, NULL), 0);
        free(want);
        assert_true(asprintf(&want,
                             "losetup --json --list --output NAME,BACK-FILE --associated %s\n"
                             "losetup --set-capacity /dev/loop4242\n",
                             e->img) > 0);
        expect_log(want);
        assert_int_equal(stat(e->img, &st), 0);
        assert_int_equal(st.st_size, 131072 * 1024);
        record(NULL);
        assert_int_equal(storage_resize(p, "vol1", 1024, NULL), 0);
        expect_log("");

        /* Probe: no command. */
        StorageReport rep;
        record(NULL);
        assert_int_equal(storage_probe(p, &rep), 0);
        expect_log("");
        assert_int_equal(rep.n_volumes, 1);
        assert_string_equal(rep.volumes[0].name, "vol1");
        assert_int_equal(rep.volumes[0].size_kib, 131072);
        assert_true(rep.volumes[0].active);
        assert_true(rep.total_kib > 0);
        storage_report_done(&rep);

        /* Snapshots: not supported. */
        _cleanup_free_ char *m2 = NULL;
        record(NULL);
        assert_int_equal(storage_snapshot_create(p, "vol1", "s1", &m2), -EOPNOTSUPP);
        assert_int_equal(storage_clone(p, "vol1", "vol2", NULL, NULL), -EOPNOTSUPP);
        expect_log("");
        assert_string_equal(m2, "storage pool 'dev' (file) does not support snapshots (snapshots and clones need an "
                                "lvm-thin pool)");

        /* Remove: detach, unlink the link and the (punched) file. Twice. */
        record((const Rule[]) { { "losetup --json", 0, list_loop7, NULL, 0 }, {} });
        assert_int_equal(storage_remove(p, "vol1", NULL), 0);
        free(want);
        assert_true(asprintf(&want,
                             "losetup --json --list --output NAME,BACK-FILE --associated %s\n"
                             "losetup --detach /dev/loop4242\n",
                             e->img) > 0);
        expect_log(want);
        assert_int_equal(lstat(e->img, &st), -1);
        assert_int_equal(lstat(link, &st), -1);
        record(NULL);
        assert_int_equal(storage_remove(p, "vol1", NULL), 0);
        expect_log("");

        /* Gone: attach and resize say so. */
        _cleanup_free_ char *m3 = NULL;
        record(NULL);
        assert_int_equal(storage_attach(p, "vol1", NULL, &m3), -ENOENT);
        assert_int_equal(storage_resize(p, "vol1", 1024, NULL), -ENOENT);
        expect_log("");
        t3 = NULL;
        storage_pool_free(p);
}

static void test_file_failures(void **state) {
        FileEnv *e = *state;
        StoragePool *p = pool_from(e->json);
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;

        /* losetup fails: the file stays (a later attach or create retries). */
        record((const Rule[]) { { "losetup --json", 0, "", NULL, 0 },
                                { "losetup --find", 1, "", "losetup: /x: failed to set up loop device: No such device\n", 0 },
                                {} });
        assert_int_equal(storage_create(p, "vol1", 1024, NULL, &m1), -EIO);
        free(exec_record_stop());
        assert_string_equal(m1, "losetup exited 1: losetup: /x: failed to set up loop device: No such device");

        static const char *const garbage[] = {
                "garbage", "{}", "{\"loopdevices\": 3}", "{\"loopdevices\": [ {\"name\": \"/dev/sda\", \"back-file\": \"x\"} ]}",
                "{\"loopdevices\": [ {\"name\": \"/dev/loop1; rm\", \"back-file\": \"x\"} ]}", "{\"loopdevices\": [ 1 ]}", NULL,
        };
        for (size_t i = 0; garbage[i]; i++) {
                _cleanup_free_ char *m = NULL;
                record((const Rule[]) { { "losetup --json", 0, garbage[i], NULL, 0 }, {} });
                int r = storage_attach(p, "vol1", NULL, &m);
                free(exec_record_stop());
                if (r != -EBADMSG)
                        fail_msg("garbage %zu: %d %s", i, r, strna(m));
        }
        record((const Rule[]) { { "losetup --json", 0, "", NULL, 0 }, { "losetup --find", 0, "/etc/passwd\n", NULL, 0 }, {} });
        assert_int_equal(storage_attach(p, "vol1", NULL, &m2), -EBADMSG);
        free(exec_record_stop());

        /* Not a regular file under our name. */
        _cleanup_free_ char *odd = NULL;
        assert_true(asprintf(&odd, "%s/odd.img", e->dir) > 0);
        assert_int_equal(mkdir(odd, 0700), 0);
        record(NULL);
        assert_int_equal(storage_create(p, "odd", 1024, NULL, &m3), -EEXIST);
        assert_int_equal(storage_remove(p, "odd", NULL), -EEXIST);
        expect_log("");

        /* Missing directory. */
        StoragePool *q = pool_from("{\"name\":\"xx\",\"driver\":\"file\",\"directory\":\"/nonexistent/drbdd\"}");
        record(NULL);
        assert_int_equal(storage_create(q, "vol1", 1024, NULL, &m4), -ENOENT);
        expect_log("");
        storage_pool_free(q);
        storage_pool_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_driver_strings),
                cmocka_unit_test(test_pool_new),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_device_path),
                cmocka_unit_test(test_thick_create),
                cmocka_unit_test(test_thick_create_fails),
                cmocka_unit_test(test_thick_remove),
                cmocka_unit_test(test_thick_resize),
                cmocka_unit_test(test_commands_shown_are_run),
                cmocka_unit_test(test_thick_unsupported),
                cmocka_unit_test(test_attach_lvm),
                cmocka_unit_test(test_thin_create_remove),
                cmocka_unit_test(test_thin_snapshots),
                cmocka_unit_test(test_thin_revert),
                cmocka_unit_test(test_bad_output),
                cmocka_unit_test(test_probe_all),
                cmocka_unit_test(test_probe_constant_commands),
                cmocka_unit_test(test_probe_failures),
                cmocka_unit_test_setup_teardown(test_file_lifecycle, file_setup, file_teardown),
                cmocka_unit_test_setup_teardown(test_file_failures, file_setup, file_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
