/* Unit tests for drbdd/plan/plan.c: the create path as steps, their bookkeeping, and the recorded commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "drbdd/plan/plan.h"
#include "exec.h"
#include "json-util.h"
#include "macro.h"

#include <unistd.h>

#define CONF "/var/lib/drbdd/drbd.conf"
#define RES "/var/lib/drbdd/res/r1.res"

static json_t *desired(const char *driver, const char *dialect, bool diskless) {
        json_t *d = json_pack("{s:s, s:{s:i, s:b}, s:s, s:i, s:{s:s, s:s, s:s, s:s}, s:[{s:i, s:s, s:i, s:i}], s:s, "
                              "s:i, s:b}",
                              "name", "r1", "replica", "node-id", 1, "diskless", diskless, "dialect", dialect,
                              "peer-slots", 7, "pool", "name", "pool1", "driver", driver, "volume-group", "vg",
                              "thin-pool", "tp", "volumes", "volume", 0, "storage-name", "r1_00000", "backing-kib",
                              65536, "usable-kib", 65000, "config", "resource r1 {}\n", "diskful-peers", 1,
                              "two-primaries", false);
        assert_non_null(d);
        if (!streq(driver, "lvm-thin"))
                json_object_del(json_object_get(d, "pool"), "thin-pool");
        return d;
}

static json_t *fresh_observed(void) {
        return json_pack("{s:s, s:s, s:{}}", "resource", "r1", "state", "Creating", "md");
}

typedef struct Fixture {
        json_t *d, *o;
        StoragePool *pool;
        StorageReport report;
        Plan plan;
        json_t *record;
        int saves;
} Fixture;

static void fixture_done(Fixture *f) {
        json_decref(f->d);
        json_decref(f->o);
        storage_pool_free(f->pool);
        storage_report_done(&f->report);
        plan_done(&f->plan);
        json_decref(f->record);
}

static int count_save(void *userdata, json_t *o) {
        ((Fixture *) userdata)->saves++;
        return 0;
}

/* Plans with the given kernel state and records; returns plan_execute()'s result. */
static int plan_and_record(Fixture *f, const DrbdResource *k, char **ret_msg) {
        PlanInput in = { .desired = f->d, .observed = f->o, .kernel = k, .pool = f->pool, .report = &f->report,
                         .conf_path = CONF, .res_path = RES, .node = "n1" };
        assert_int_equal(plan_replica(&in, &f->plan), 0);
        f->record = json_array();
        PlanExecutor x = { .pools = &f->pool, .n_pools = 1, .save = count_save, .userdata = f, .record = f->record };
        return plan_execute(&f->plan, f->o, &x, ret_msg);
}

static void fixture_init(Fixture *f, const char *driver, const char *dialect, bool diskless) {
        *f = (Fixture) { .d = desired(driver, dialect, diskless), .o = fresh_observed() };
        assert_int_equal(storage_pool_new(json_object_get(f->d, "pool"), &f->pool, NULL), 0);
}

static void assert_record(json_t *rec, const char *const want[]) {
        size_t n = 0;
        for (; want[n]; n++) {
                assert_true(n < json_array_size(rec));
                assert_string_equal(json_string_value(json_array_get(rec, n)), want[n]);
        }
        assert_int_equal(json_array_size(rec), n);
}

static void report_volume(StorageReport *r, const char *name, uint64_t kib) {
        r->volumes = calloc(1, sizeof *r->volumes);
        assert_non_null(r->volumes);
        r->volumes[0] = (StorageVolume) { .name = strdup(name), .size_kib = kib, .active = true };
        r->n_volumes = 1;
}

static void test_kind_strings(void **state) {
        for (int k = 0; k < _PLAN_STEP_KIND_MAX; k++)
                assert_int_equal(plan_step_kind_from_string(plan_step_kind_to_string(k)), k);
        assert_int_equal(plan_step_kind_from_string("nope"), -EINVAL);
        assert_null(plan_step_kind_to_string(_PLAN_STEP_KIND_MAX));
}

/* A new replica on thick LVM: what the agent runs, in its order; the
 * bookkeeping is applied but nothing is saved in recording mode. */
static void test_create_thick(void **state) {
        _cleanup_(fixture_done) Fixture f;
        fixture_init(&f, "lvm", "9", false);
        assert_int_equal(plan_and_record(&f, NULL, NULL), 0);
        assert_record(f.record, (const char *const[]) {
                "# write (mode 0600) " RES,
                "lvcreate --yes --wipesignatures y --zero y --addtag drbdd --size 65536k --name r1_00000 vg",
                "drbdadm -c " CONF " create-md --force --max-peers=7 r1/0",
                "drbdadm -c " CONF " up r1",
                NULL });
        assert_true(f.plan.ends_pass);
        assert_int_equal(f.saves, 0);
        assert_int_equal(f.plan.n_steps, 5);
        assert_int_equal(f.plan.steps[0].kind, PLAN_SAVE);
        assert_int_equal(f.plan.steps[2].kind, PLAN_VOLUME_CREATE);
        assert_string_equal(f.plan.steps[2].fault, "create:after-backing");
        assert_string_equal(f.plan.steps[3].fault, "create:after-md");
        assert_string_equal(f.plan.steps[4].fault, "create:after-up");
        assert_true(json_is_true(json_object_get(f.o, "stored")));
        assert_int_equal(json_get_int(f.o, "node-id", -1), 1);
        assert_true(json_is_true(json_object_get(json_object_get(f.o, "md"), "r1_00000")));
        assert_true(json_is_false(json_object_get(f.o, "peer-seen")));
        assert_non_null(json_object_get(f.o, "applied"));
}

static void test_create_thin_84(void **state) {
        _cleanup_(fixture_done) Fixture f;
        fixture_init(&f, "lvm-thin", "8.4", false);
        assert_int_equal(plan_and_record(&f, NULL, NULL), 0);
        assert_record(f.record, (const char *const[]) {
                "# write (mode 0600) " RES,
                "lvcreate --yes --wipesignatures n --addtag drbdd --type thin --virtualsize 65536k --thinpool tp --name r1_00000 vg",
                "drbdadm -c " CONF " create-md --force r1/0",
                "drbdadm -c " CONF " up r1",
                NULL });
}

/* 8.4 client: never attached, so no "up". */
static void test_client_84(void **state) {
        _cleanup_(fixture_done) Fixture f;
        fixture_init(&f, "lvm", "8.4", true);
        assert_int_equal(plan_and_record(&f, NULL, NULL), 0);
        assert_record(f.record, (const char *const[]) {
                "# write (mode 0600) " RES,
                "drbdadm -c " CONF " new-resource r1",
                "drbdadm -c " CONF " new-minor r1",
                "drbdadm -c " CONF " connect r1",
                NULL });
        assert_true(json_is_true(json_object_get(f.o, "peer-seen")));
}

/* Running, metadata made, volume smaller than wanted: grow it (bookkeeping first). */
static void test_grow(void **state) {
        _cleanup_(fixture_done) Fixture f;
        DrbdResource k = {};
        fixture_init(&f, "lvm", "9", false);
        json_object_set_new(f.o, "stored", json_true());
        json_object_set_new(f.o, "node-id", json_integer(1));
        json_object_set_new(json_object_get(f.o, "md"), "r1_00000", json_true());
        report_volume(&f.report, "r1_00000", 32768);
        assert_int_equal(plan_and_record(&f, &k, NULL), 0);
        assert_record(f.record, (const char *const[]) {
                "# write (mode 0600) " RES,
                "lvextend --size 65536k vg/r1_00000",
                NULL });
        assert_false(f.plan.ends_pass);
        assert_int_equal(json_get_int(json_object_get(f.o, "resize-pending"), "r1/0", 0), 65000);
}

/* Up to date: only the (idempotent) .res write. */
static void test_nothing_to_do(void **state) {
        _cleanup_(fixture_done) Fixture f;
        DrbdResource k = {};
        fixture_init(&f, "lvm", "9", false);
        json_object_set_new(f.o, "stored", json_true());
        json_object_set_new(f.o, "node-id", json_integer(1));
        json_object_set_new(json_object_get(f.o, "md"), "r1_00000", json_true());
        report_volume(&f.report, "r1_00000", 65536);
        assert_int_equal(plan_and_record(&f, &k, NULL), 0);
        assert_int_equal(f.plan.n_steps, 1);
        assert_int_equal(f.plan.steps[0].kind, PLAN_WRITE_CONFIG);
}

/* A pool that failed its probe fails the replica after the bookkeeping
 * and the .res (as before the plan existed); real mode saves once. */
static void test_pool_error(void **state) {
        _cleanup_(fixture_done) Fixture f;
        _cleanup_free_ char *msg = NULL;
        char dir[] = "/tmp/test-plan-XXXXXX";
        char res[64];
        fixture_init(&f, "lvm", "9", false);
        f.report.error = -EIO;
        f.report.message = strdup("vgs exited 5");
        assert_non_null(mkdtemp(dir));
        snprintf(res, sizeof res, "%s/r1.res", dir);
        PlanInput in = { .desired = f.d, .observed = f.o, .pool = f.pool, .report = &f.report, .conf_path = CONF,
                         .res_path = res, .node = "n1" };
        assert_int_equal(plan_replica(&in, &f.plan), 0);
        PlanExecutor x = { .pools = &f.pool, .n_pools = 1, .save = count_save, .userdata = &f };
        exec_record_start(NULL, NULL); /* nothing may run */
        assert_int_equal(plan_execute(&f.plan, f.o, &x, &msg), -EIO);
        _cleanup_free_ char *ran = exec_record_stop();
        assert_string_equal(ran, "");
        assert_string_equal(msg, "storage pool 'pool1': vgs exited 5");
        assert_int_equal(f.saves, 1);
        assert_int_equal(access(res, F_OK), 0);
        unlink(res);
        rmdir(dir);
}

/* Initial sync on the source: forced primary (full sync) for thick, a new
 * UUID per volume for a zeroed start once all peers are connected; nothing
 * again once done; nothing on a non-source. */
static void test_initial_sync(void **state) {
        _cleanup_(json_decrefp) json_t *d = desired("lvm", "9", false), *o = fresh_observed(), *rec = json_array();
        PlanExecutor x = { .record = rec };
        PlanSyncFacts fresh = PLAN_SYNC_FACTS_FRESH(1);
        Plan p = {};

        json_object_set_new(d, "initial-sync-source", json_true());
        json_object_set_new(d, "peers", json_integer(1));
        assert_int_equal(plan_initial_sync(d, o, &fresh, CONF, &p), 0);
        assert_int_equal(plan_execute(&p, o, &x, NULL), 0);
        plan_done(&p);
        assert_record(rec, (const char *const[]) {
                "drbdadm -c " CONF " primary --force r1",
                "drbdadm -c " CONF " secondary r1",
                NULL });
        assert_true(json_is_true(json_object_get(o, "initial-sync")));
        /* Done: never again. */
        json_array_clear(rec);
        assert_int_equal(plan_initial_sync(d, o, &fresh, CONF, &p), 0);
        assert_int_equal(p.n_steps, 0);
        plan_done(&p);

        /* Zeroed (thin everywhere): waits for the peers, then a new UUID. */
        json_object_del(o, "initial-sync");
        json_object_set_new(d, "zeroed", json_true());
        PlanSyncFacts waiting = { .devices = 1, .all_inconsistent = true };
        assert_int_equal(plan_initial_sync(d, o, &waiting, CONF, &p), 0);
        assert_int_equal(p.n_steps, 0);
        plan_done(&p);
        assert_int_equal(plan_initial_sync(d, o, &fresh, CONF, &p), 0);
        assert_int_equal(plan_execute(&p, o, &x, NULL), 0);
        assert_string_equal(p.steps[0].fault, "create:after-new-uuid");
        plan_done(&p);
        assert_record(rec, (const char *const[]) { "drbdadm -c " CONF " new-current-uuid --clear-bitmap r1/0", NULL });

        /* A peer holds data: no forced start, but marked done. */
        json_object_del(o, "initial-sync");
        json_object_set_new(d, "zeroed", json_false());
        json_array_clear(rec);
        PlanSyncFacts data = { .devices = 1, .all_inconsistent = true, .peer_has_data = true };
        assert_int_equal(plan_initial_sync(d, o, &data, CONF, &p), 0);
        assert_int_equal(plan_execute(&p, o, &x, NULL), 0);
        plan_done(&p);
        assert_int_equal(json_array_size(rec), 0);
        assert_true(json_is_true(json_object_get(o, "initial-sync")));

        /* Not the source: nothing until its disk left Inconsistent. */
        json_object_del(o, "initial-sync");
        json_object_set_new(d, "initial-sync-source", json_false());
        assert_int_equal(plan_initial_sync(d, o, &fresh, CONF, &p), 0);
        assert_int_equal(p.n_steps, 0);
        plan_done(&p);
}

/* Teardown: down when running, our volumes only (not r10's), .res, forget. */
static void test_teardown(void **state) {
        _cleanup_(json_decrefp) json_t *pj = json_pack("{s:s, s:s, s:s}", "name", "pool1", "driver", "lvm",
                                                       "volume-group", "vg"), *rec = json_array();
        StoragePool *pool = NULL;
        StorageReport rep = {};
        Plan p = {};
        assert_int_equal(storage_pool_new(pj, &pool, NULL), 0);
        rep.volumes = calloc(3, sizeof *rep.volumes);
        assert_non_null(rep.volumes);
        rep.volumes[0] = (StorageVolume) { .name = strdup("r1_00000"), .size_kib = 4096 };
        rep.volumes[1] = (StorageVolume) { .name = strdup("r1_00001"), .size_kib = 4096 };
        rep.volumes[2] = (StorageVolume) { .name = strdup("r10_00000"), .size_kib = 4096 };
        rep.n_volumes = 3;
        assert_int_equal(plan_teardown("r1", true, &pool, &rep, 1, RES, "n1", &p), 0);
        PlanExecutor x = { .pools = &pool, .n_pools = 1, .record = rec };
        assert_int_equal(plan_execute(&p, NULL, &x, NULL), 0);
        assert_record(rec, (const char *const[]) {
                "drbdsetup down r1",
                "# remove r1_00000 of pool pool1 (wiped, docs/storage.md)",
                "# remove r1_00001 of pool pool1 (wiped, docs/storage.md)",
                "# remove " RES,
                NULL });
        assert_string_equal(p.steps[0].fault, "delete:after-down");
        assert_string_equal(p.steps[1].fault, "delete:after-remove");
        assert_int_equal(p.steps[p.n_steps - 1].kind, PLAN_FORGET);
        plan_done(&p);
        /* Not in the kernel: no down. */
        assert_int_equal(plan_teardown("r1", false, &pool, &rep, 1, RES, "n1", &p), 0);
        assert_int_equal(p.steps[0].kind, PLAN_VOLUME_REMOVE);
        plan_done(&p);
        storage_report_done(&rep);
        storage_pool_free(pool);
}

static void test_merge_patch(void **state) {
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:i, s:{s:b}}", "a", 1, "md", "x", false);
        _cleanup_(json_decrefp) json_t *p = json_pack("{s:n, s:{s:b, s:b}, s:{s:i}}", "a", "md", "x", true, "y", false,
                                                      "rp", "r/0", 5);
        _cleanup_(json_decrefp) json_t *want = json_pack("{s:{s:b, s:b}, s:{s:i}}", "md", "x", true, "y", false, "rp",
                                                         "r/0", 5);
        assert_int_equal(plan_merge_patch(o, p), 0);
        assert_true(json_equal(o, want));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kind_strings),
                cmocka_unit_test(test_create_thick),
                cmocka_unit_test(test_create_thin_84),
                cmocka_unit_test(test_client_84),
                cmocka_unit_test(test_grow),
                cmocka_unit_test(test_nothing_to_do),
                cmocka_unit_test(test_pool_error),
                cmocka_unit_test(test_initial_sync),
                cmocka_unit_test(test_teardown),
                cmocka_unit_test(test_merge_patch),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
