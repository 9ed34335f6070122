/* Unit tests for drbdd/service against a real SQLite store: objects, allocation, sizing, autoplace, rollback, faults, rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drbdd/service/service-internal.h"
#include "drbdd/service/service.h"
#include "drbdd/store/store-sqlite.h"
#include "drbdd/store/store.h"
#include "json-util.h"
#include "macro.h"
#include "utf8.h"

#define GIB (1024ULL * 1024)              /* in KiB */
#define CAP(g) ((json_int_t) ((g) * GIB * 1024)) /* capacity option in bytes */

typedef struct Fixture {
        char dir[64];
        char url[160];
        Store *st;
        Service *s;
        unsigned changes;
} Fixture;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

static void on_change(const char *kind, const char *name, const char *action, void *userdata) {
        Fixture *f = userdata;
        assert_non_null(kind);
        assert_non_null(name);
        assert_non_null(action);
        f->changes++;
}

static int setup_with(void **state, const ServiceConfig *cfg) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-service-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof f->url, "sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(f->url, &f->st), 0);
        assert_int_equal(service_new(f->st, cfg, &f->s), 0);
        service_set_change_callback(f->s, on_change, f);
        *state = f;
        return 0;
}

static int setup(void **state) {
        ServiceConfig c;
        service_config_defaults(&c);
        return setup_with(state, &c);
}

/* Tiny allocation ranges: two ports, two minors. */
static int setup_tiny(void **state) {
        ServiceConfig c;
        service_config_defaults(&c);
        c.port_min = 7000;
        c.port_max = 7001;
        c.minor_min = 1000;
        c.minor_max = 1001;
        return setup_with(state, &c);
}

static int teardown(void **state) {
        Fixture *f = *state;
        store_sqlite_set_fault(NULL, 0);
        service_free(f->s);
        store_close(f->st);
        nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

/* ---- helpers ---- */

/* Asserts success; shows the service's message otherwise. */
#define OK(call)                                                                         \
        do {                                                                             \
                char *_m = NULL;                                                         \
                char **ret_msg = &_m;                                                    \
                int _r = (call);                                                         \
                if (_r < 0)                                                              \
                        fail_msg("%s: %d (%s)", #call, _r, _m ? _m : "no message");      \
                free(_m);                                                                \
        } while (0)

/* Asserts the error, that a message came with it, and returns nothing. */
#define FAILS(err, call)                                                                 \
        do {                                                                             \
                char *_m = NULL;                                                         \
                char **ret_msg = &_m;                                                    \
                int _r = (call);                                                         \
                if (_r != (err))                                                         \
                        fail_msg("%s: got %d (%s), wanted %d", #call, _r, _m ? _m : "-", \
                                 (err));                                                 \
                assert_non_null(_m);                                                     \
                assert_true(strlen(_m) > 0);                                             \
                /* else sd-bus would send no reply at all */                             \
                if (!utf8_is_valid(_m))                                                  \
                        fail_msg("%s: message is not valid UTF-8: %s", #call, _m);       \
                free(_m);                                                                \
        } while (0)

static int64_t revision(Fixture *f) {
        int64_t rev = -1;
        assert_int_equal(store_revision(f->st, &rev), 0);
        return rev;
}

static json_t *list(Fixture *f, const char *kind, const char *filter) {
        json_t *l = NULL;
        OK(service_list(f->s, kind, filter, &l, ret_msg));
        assert_true(json_is_array(l));
        return l;
}

static size_t count(Fixture *f, const char *kind, const char *filter) {
        json_t *l = list(f, kind, filter);
        size_t n = json_array_size(l);
        json_decref(l);
        return n;
}

static size_t alloc_keys(Fixture *f, const char *prefix) {
        StoreKVList l;
        assert_int_equal(store_range(f->st, prefix, &l), 0);
        size_t n = l.n;
        store_kv_list_done(&l);
        return n;
}

/* A node that is only defined: no drbdd ever ran there. */
static void node_defined(Fixture *f, const char *name, const char *addr, const char *version, const char *site) {
        json_t *o = json_pack("{s:{}}", "properties");
        if (version)
                json_object_set_new(o, "drbd-version", json_string(version));
        if (site)
                json_object_set_new(json_object_get(o, "properties"), "site", json_string(site));
        OK(service_node_create(f->s, name, addr, o, ret_msg));
        json_decref(o);
}

/* The node's drbdd runs: its liveness key exists and its kernel reported the dialect. */
static void node_up(Fixture *f, const char *name, const char *version) {
        json_t *k = json_pack("{s:s, s:s}", "version", version && streq(version, "8.4") ? "8.4.11" : "9.2.19",
                              "dialect", version ? version : "9");
        OK(service_node_report_kernel(f->s, name, k, ret_msg));
        json_decref(k);
        char key[256];
        snprintf(key, sizeof key, SERVICE_KEY_ALIVE "%s", name);
        StoreOp op = { .type = STORE_OP_PUT, .key = key, .value = "{}" };
        assert_int_equal(store_txn(f->st, NULL, 0, &op, 1, NULL), 0);
}

static void node(Fixture *f, const char *name, const char *addr, const char *version, const char *site) {
        node_defined(f, name, addr, version, site);
        node_up(f, name, version);
}

static void lvm_pool(Fixture *f, const char *nodename, const char *pool, unsigned gib) {
        json_t *o = json_pack("{s:s, s:I}", "volume-group", "drbdpool", "capacity", CAP(gib));
        OK(service_pool_create(f->s, nodename, pool, "lvm", o, ret_msg));
        json_decref(o);
}

/* The replica of rd on node from service_list("resource"), new reference or NULL. */
static json_t *replica(Fixture *f, const char *rd, const char *nodename) {
        json_t *l = list(f, "resource", rd), *e, *found = NULL;
        size_t i;
        json_array_foreach(l, i, e)
                if (streq(json_get_str(e, "node", ""), nodename))
                        found = json_incref(e);
        json_decref(l);
        return found;
}

typedef struct Kinds {
        unsigned diskful, diskless, tiebreaker;
} Kinds;

static Kinds kinds(Fixture *f, const char *rd) {
        json_t *l = list(f, "resource", rd), *e;
        size_t i;
        Kinds k = {};
        json_array_foreach(l, i, e) {
                if (!json_get_bool(e, "diskless", false))
                        k.diskful++;
                else if (json_get_bool(e, "tie-breaker", false))
                        k.tiebreaker++;
                else
                        k.diskless++;
        }
        json_decref(l);
        return k;
}

static bool replica_on_node(Fixture *f, const char *rd, const char *nodename) {
        json_t *r = replica(f, rd, nodename);
        json_decref(r);
        return r != NULL;
}

static bool on_node(Fixture *f, const char *rd, const char *nodename, bool diskless) {
        json_t *r = replica(f, rd, nodename);
        bool ok = r && json_get_bool(r, "diskless", false) == diskless;
        json_decref(r);
        return ok;
}

/* ---- objects ---- */

static void test_nodes(void **state) {
        Fixture *f = *state;
        json_t *o = json_pack("{s:{s:s, s:s}}", "properties", "site", "a", "rack", "r1");
        OK(service_node_create(f->s, "alpha", "10.0.0.1", o, ret_msg));
        json_decref(o);
        OK(service_node_create(f->s, "beta", "fd00::2", NULL, ret_msg));
        FAILS(-EEXIST, service_node_create(f->s, "alpha", "10.0.0.9", NULL, ret_msg));

        json_t *l = list(f, "node", NULL);
        assert_int_equal(json_array_size(l), 2);
        json_t *a = json_array_get(l, 0);
        assert_string_equal(json_get_str(a, "name", ""), "alpha");
        assert_string_equal(json_get_str(a, "address", ""), "10.0.0.1");
        assert_string_equal(json_get_str(a, "drbd-version", ""), "9");
        assert_string_equal(json_get_str(json_object_get(a, "properties"), "site", ""), "a");
        json_decref(l);
        assert_int_equal(count(f, "node", "beta"), 1);
        FAILS(-ENOENT, service_list(f->s, "node", "nosuch", &l, ret_msg));

        OK(service_node_set_property(f->s, "beta", "site", "b", ret_msg));
        l = list(f, "node", "beta");
        assert_string_equal(json_get_str(json_object_get(json_array_get(l, 0), "properties"), "site", ""), "b");
        json_decref(l);
        OK(service_node_set_property(f->s, "beta", "site", NULL, ret_msg));
        l = list(f, "node", "beta");
        assert_null(json_object_get(json_object_get(json_array_get(l, 0), "properties"), "site"));
        json_decref(l);
        FAILS(-ENOENT, service_node_set_property(f->s, "nosuch", "site", "x", ret_msg));

        OK(service_node_delete(f->s, "beta", ret_msg));
        FAILS(-ENOENT, service_node_delete(f->s, "beta", ret_msg));
        assert_int_equal(count(f, "node", NULL), 1);
        assert_true(f->changes >= 5);
}

static void test_pools(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "alpha2", "10.0.0.2", NULL, NULL);
        lvm_pool(f, "alpha", "lvm1", 100);
        json_t *o = json_pack("{s:s, s:s}", "volume-group", "vg", "thin-pool", "thin");
        OK(service_pool_create(f->s, "alpha", "thin1", "lvm-thin", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:s}", "directory", "/var/lib/drbdd/images");
        OK(service_pool_create(f->s, "alpha", "file1", "file", o, ret_msg));
        OK(service_pool_create(f->s, "alpha2", "file1", "file", o, ret_msg));
        FAILS(-EEXIST, service_pool_create(f->s, "alpha", "file1", "file", o, ret_msg));
        FAILS(-ENOENT, service_pool_create(f->s, "nosuch", "file1", "file", o, ret_msg));
        json_decref(o);

        assert_int_equal(count(f, "storage-pool", NULL), 4);
        assert_int_equal(count(f, "storage-pool", "alpha"), 3); /* not alpha2's */
        assert_int_equal(count(f, "storage-pool", "alpha2"), 1);
        json_t *l = list(f, "storage-pool", "alpha"), *e;
        size_t i;
        bool seen = false;
        json_array_foreach(l, i, e)
                if (streq(json_get_str(e, "name", ""), "lvm1")) {
                        seen = true;
                        assert_int_equal(json_get_int(e, "capacity-kib", 0), 100 * GIB);
                        assert_int_equal(json_get_int(e, "free-kib", 0), 100 * GIB);
                        assert_int_equal(json_get_int(e, "allocated-kib", -1), 0);
                        assert_string_equal(json_get_str(e, "driver", ""), "lvm");
                }
        assert_true(seen);
        json_decref(l);

        OK(service_pool_delete(f->s, "alpha", "thin1", ret_msg));
        FAILS(-ENOENT, service_pool_delete(f->s, "alpha", "thin1", ret_msg));
        /* Deleting a node takes its pools along, and only its own. */
        OK(service_node_delete(f->s, "alpha", ret_msg));
        assert_int_equal(count(f, "storage-pool", NULL), 1);
}

static void test_resource_groups(void **state) {
        Fixture *f = *state;
        json_t *o = json_pack("{s:i, s:[s], s:[s], s:b, s:{s:s}}", "place-count", 3, "storage-pools", "pool1",
                              "replicas-on-different", "site", "diskless-on-remaining", 1, "drbd-options",
                              "net/protocol", "C");
        OK(service_rg_create(f->s, "gold", o, ret_msg));
        FAILS(-EEXIST, service_rg_create(f->s, "gold", o, ret_msg));
        json_decref(o);

        json_t *l = list(f, "resource-group", "gold"), *g = json_array_get(l, 0);
        assert_int_equal(json_get_int(g, "place-count", 0), 3);
        assert_true(json_get_bool(g, "diskless-on-remaining", false));
        assert_string_equal(json_string_value(json_array_get(json_object_get(g, "replicas-on-different"), 0)), "site");
        assert_string_equal(json_get_str(json_object_get(g, "drbd-options"), "net/protocol", ""), "C");
        json_decref(l);

        o = json_pack("{s:i, s:{s:s}}", "place-count", 2, "drbd-options", "net/protocol", "");
        OK(service_rg_modify(f->s, "gold", o, ret_msg));
        FAILS(-ENOENT, service_rg_modify(f->s, "nosuch", o, ret_msg));
        json_decref(o);
        l = list(f, "resource-group", "gold");
        g = json_array_get(l, 0);
        assert_int_equal(json_get_int(g, "place-count", 0), 2);
        assert_true(json_get_bool(g, "diskless-on-remaining", false)); /* kept */
        assert_null(json_object_get(json_object_get(g, "drbd-options"), "net/protocol"));
        json_decref(l);

        /* In use: cannot delete. */
        o = json_pack("{s:s}", "resource-group", "gold");
        OK(service_rd_create(f->s, "r1", o, ret_msg));
        json_decref(o);
        FAILS(-EBUSY, service_rg_delete(f->s, "gold", ret_msg));
        OK(service_rd_delete(f->s, "r1", ret_msg));
        OK(service_rg_delete(f->s, "gold", ret_msg));
        FAILS(-ENOENT, service_rg_delete(f->s, "gold", ret_msg));
        assert_int_equal(count(f, "resource-group", NULL), 0);
}

static void test_definitions_and_resources(void **state) {
        Fixture *f = *state;
        unsigned vnr = 99;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);

        OK(service_rd_create(f->s, "r1", NULL, ret_msg));
        FAILS(-EEXIST, service_rd_create(f->s, "r1", NULL, ret_msg));
        OK(service_vd_create(f->s, "r1", 10 * GIB, NULL, &vnr, ret_msg));
        assert_int_equal(vnr, 0);
        OK(service_vd_create(f->s, "r1", 1 * GIB, NULL, &vnr, ret_msg));
        assert_int_equal(vnr, 1);
        FAILS(-ENOENT, service_vd_create(f->s, "nosuch", GIB, NULL, NULL, ret_msg));

        json_t *l = list(f, "resource-definition", NULL), *e;
        assert_int_equal(json_array_size(l), 1);
        e = json_array_get(l, 0);
        assert_string_equal(json_get_str(e, "resource-group", ""), "DfltRscGrp");
        assert_null(json_object_get(e, "secret")); /* never listed */
        assert_int_equal(json_array_size(json_object_get(e, "volumes")), 2);
        json_decref(l);
        l = list(f, "volume-definition", "r1");
        assert_int_equal(json_array_size(l), 2);
        assert_string_equal(json_get_str(json_array_get(l, 0), "device", ""), "/dev/drbd1000");
        assert_string_equal(json_get_str(json_array_get(l, 1), "device", ""), "/dev/drbd1001");
        json_decref(l);

        OK(service_resource_create(f->s, "r1", "alpha", NULL, ret_msg));
        FAILS(-EEXIST, service_resource_create(f->s, "r1", "alpha", NULL, ret_msg));
        FAILS(-ENOENT, service_resource_create(f->s, "r1", "nosuch", NULL, ret_msg));
        FAILS(-ENOENT, service_resource_create(f->s, "nosuch", "alpha", NULL, ret_msg));
        json_t *o = json_pack("{s:s}", "storage-pool", "nopool");
        FAILS(-ENOENT, service_resource_create(f->s, "r1", "beta", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:b}", "diskless", 1);
        OK(service_resource_create(f->s, "r1", "beta", o, ret_msg));
        json_decref(o);
        assert_true(on_node(f, "r1", "alpha", false));
        assert_true(on_node(f, "r1", "beta", true));
        json_t *r = replica(f, "r1", "alpha");
        assert_string_equal(json_get_str(r, "storage-pool", ""), "pool1");
        assert_string_equal(json_get_str(r, "address", ""), "10.0.0.1");
        assert_int_equal(json_get_int(r, "port", 0), 7000);
        json_decref(r);

        /* Busy objects. */
        FAILS(-EBUSY, service_node_delete(f->s, "alpha", ret_msg));
        FAILS(-EBUSY, service_pool_delete(f->s, "alpha", "pool1", ret_msg));

        /* Volumes grow, never shrink. */
        OK(service_vd_resize(f->s, "r1", 1, 2 * GIB, ret_msg));
        FAILS(-EINVAL, service_vd_resize(f->s, "r1", 1, GIB, ret_msg));
        FAILS(-ENOENT, service_vd_resize(f->s, "r1", 7, 2 * GIB, ret_msg));
        OK(service_vd_delete(f->s, "r1", 1, ret_msg));
        FAILS(-ENOENT, service_vd_delete(f->s, "r1", 1, ret_msg));
        assert_int_equal(count(f, "volume-definition", "r1"), 1);

        OK(service_resource_delete(f->s, "r1", "beta", ret_msg));
        FAILS(-ENOENT, service_resource_delete(f->s, "r1", "beta", ret_msg));
        assert_int_equal(count(f, "resource", "r1"), 1);
        OK(service_rd_delete(f->s, "r1", ret_msg));
        FAILS(-ENOENT, service_rd_delete(f->s, "r1", ret_msg));
        FAILS(-ENOENT, service_list(f->s, "resource", "r1", &l, ret_msg));
        assert_int_equal(count(f, "resource", NULL), 0);
        /* Everything the definition held is released. */
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/"), 0);
        assert_int_equal(alloc_keys(f, "/drbdd/res/"), 0);
        OK(service_node_delete(f->s, "alpha", ret_msg));
}

/* ---- allocation ---- */

static unsigned rd_port(Fixture *f, const char *rd) {
        json_t *l = list(f, "resource-definition", rd);
        unsigned p = (unsigned) json_get_int(json_array_get(l, 0), "port", 0);
        json_decref(l);
        return p;
}

static unsigned vd_minor(Fixture *f, const char *rd, unsigned vnr) {
        json_t *l = list(f, "volume-definition", rd), *e;
        size_t i;
        unsigned m = 0;
        json_array_foreach(l, i, e)
                if (json_get_int(e, "volume", -1) == vnr)
                        m = (unsigned) json_get_int(e, "minor", 0);
        json_decref(l);
        return m;
}

static unsigned node_id(Fixture *f, const char *rd, const char *nodename) {
        json_t *r = replica(f, rd, nodename);
        assert_non_null(r);
        unsigned id = (unsigned) json_get_int(r, "node-id", 99);
        json_decref(r);
        return id;
}

static void test_allocation(void **state) {
        Fixture *f = *state;
        OK(service_rd_create(f->s, "r1", NULL, ret_msg));
        OK(service_rd_create(f->s, "r2", NULL, ret_msg));
        OK(service_rd_create(f->s, "r3", NULL, ret_msg));
        assert_int_equal(rd_port(f, "r1"), 7000);
        assert_int_equal(rd_port(f, "r2"), 7001);
        assert_int_equal(rd_port(f, "r3"), 7002);
        OK(service_vd_create(f->s, "r1", GIB, NULL, NULL, ret_msg));
        OK(service_vd_create(f->s, "r1", GIB, NULL, NULL, ret_msg));
        OK(service_vd_create(f->s, "r2", GIB, NULL, NULL, ret_msg));
        assert_int_equal(vd_minor(f, "r1", 0), 1000);
        assert_int_equal(vd_minor(f, "r1", 1), 1001);
        assert_int_equal(vd_minor(f, "r2", 0), 1002);

        /* Explicit port and minor: taken ones are refused, out of range invalid. */
        json_t *o = json_pack("{s:i}", "port", 7001);
        FAILS(-EEXIST, service_rd_create(f->s, "r4", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:i}", "port", 9000);
        FAILS(-EINVAL, service_rd_create(f->s, "r4", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:i}", "port", 7500);
        OK(service_rd_create(f->s, "r4", o, ret_msg));
        json_decref(o);
        assert_int_equal(rd_port(f, "r4"), 7500);
        o = json_pack("{s:i}", "minor", 1001);
        FAILS(-EEXIST, service_vd_create(f->s, "r4", GIB, o, NULL, ret_msg));
        json_decref(o);
        o = json_pack("{s:i}", "minor", 5);
        FAILS(-EINVAL, service_vd_create(f->s, "r4", GIB, o, NULL, ret_msg));
        json_decref(o);

        /* Node-ids: 0, 1, 2; a freed one is held (the peers' metadata may
         * still have its bitmap slot) and reused only when no other is left. */
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        node(f, "delta", "10.0.0.4", NULL, NULL);
        o = json_pack("{s:b}", "diskless", 1);
        OK(service_resource_create(f->s, "r1", "alpha", o, ret_msg));
        OK(service_resource_create(f->s, "r1", "beta", o, ret_msg));
        OK(service_resource_create(f->s, "r1", "gamma", o, ret_msg));
        assert_int_equal(node_id(f, "r1", "alpha"), 0);
        assert_int_equal(node_id(f, "r1", "beta"), 1);
        assert_int_equal(node_id(f, "r1", "gamma"), 2);
        OK(service_resource_delete(f->s, "r1", "beta", ret_msg));
        OK(service_resource_create(f->s, "r1", "delta", o, ret_msg));
        assert_int_equal(node_id(f, "r1", "delta"), 3);
        for (int i = 4; i <= 31; i++) {
                char name[16], addr[32];
                snprintf(name, sizeof name, "n%02d", i);
                snprintf(addr, sizeof addr, "10.0.1.%d", i);
                node_defined(f, name, addr, NULL, NULL);
                OK(service_resource_create(f->s, "r1", name, o, ret_msg));
                assert_int_equal(node_id(f, "r1", name), i);
        }
        node_defined(f, "last", "10.0.2.1", NULL, NULL);
        OK(service_resource_create(f->s, "r1", "last", o, ret_msg));
        assert_int_equal(node_id(f, "r1", "last"), 1);
        node_defined(f, "toomany", "10.0.2.2", NULL, NULL);
        FAILS(-ENOSPC, service_resource_create(f->s, "r1", "toomany", o, ret_msg));
        json_decref(o);
}

static void test_allocation_exhaustion(void **state) {
        Fixture *f = *state;
        char *m = NULL;
        OK(service_rd_create(f->s, "r1", NULL, ret_msg));
        OK(service_rd_create(f->s, "r2", NULL, ret_msg));
        int64_t rev = revision(f);
        assert_int_equal(service_rd_create(f->s, "r3", NULL, &m), -ENOSPC);
        assert_non_null(strstr(m, "7000-7001"));
        free(m);
        assert_int_equal(revision(f), rev);
        /* A freed port is reused. */
        OK(service_rd_delete(f->s, "r1", ret_msg));
        OK(service_rd_create(f->s, "r3", NULL, ret_msg));
        assert_int_equal(rd_port(f, "r3"), 7000);

        OK(service_vd_create(f->s, "r2", GIB, NULL, NULL, ret_msg));
        OK(service_vd_create(f->s, "r3", GIB, NULL, NULL, ret_msg));
        rev = revision(f);
        m = NULL;
        assert_int_equal(service_vd_create(f->s, "r3", GIB, NULL, NULL, &m), -ENOSPC);
        assert_non_null(strstr(m, "1000-1001"));
        free(m);
        assert_int_equal(revision(f), rev);
        /* Freed minors are reused, by volume delete and by definition delete. */
        OK(service_vd_delete(f->s, "r2", 0, ret_msg));
        OK(service_vd_create(f->s, "r3", GIB, NULL, NULL, ret_msg));
        assert_int_equal(vd_minor(f, "r3", 1), 1000);
        OK(service_rd_delete(f->s, "r3", ret_msg));
        OK(service_vd_create(f->s, "r2", GIB, NULL, NULL, ret_msg));
        OK(service_vd_create(f->s, "r2", GIB, NULL, NULL, ret_msg));
        assert_int_equal(count(f, "volume-definition", "r2"), 2);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/minor/"), 2);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/port/"), 1);
}

/* ---- sizing ---- */

static void check_volume_sizes(json_t *vol, uint64_t requested, uint64_t extent) {
        uint64_t req = (uint64_t) json_get_int(vol, "requested-kib", 0);
        uint64_t use = (uint64_t) json_get_int(vol, "usable-kib", 0);
        uint64_t back = (uint64_t) json_get_int(vol, "backing-kib", 0);
        uint64_t md = (uint64_t) json_get_int(vol, "metadata-kib", 0);
        assert_int_equal(req, requested);
        assert_true(use >= req);
        assert_true(md > 0);
        assert_int_equal(back, use + md);
        assert_int_equal(back % extent, 0);
        assert_true(back - req < md + extent); /* no more than needed */
}

static void test_sizing_fields(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        json_t *o = json_pack("{s:s, s:s}", "volume-group", "vg", "thin-pool", "thin");
        OK(service_pool_create(f->s, "beta", "pool1", "lvm-thin", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:s}", "directory", "/srv/images");
        OK(service_pool_create(f->s, "gamma", "pool1", "file", o, ret_msg));
        json_decref(o);

        OK(service_rd_create(f->s, "r1", NULL, ret_msg));
        OK(service_vd_create(f->s, "r1", 10 * GIB + 3, NULL, NULL, ret_msg));
        OK(service_resource_create(f->s, "r1", "alpha", NULL, ret_msg));
        OK(service_resource_create(f->s, "r1", "beta", NULL, ret_msg));
        OK(service_resource_create(f->s, "r1", "gamma", NULL, ret_msg));

        json_t *r = replica(f, "r1", "alpha"), *v = json_array_get(json_object_get(r, "volumes"), 0);
        check_volume_sizes(v, 10 * GIB + 3, 4096);
        assert_string_equal(json_get_str(v, "backing-device", ""), "/dev/drbdpool/r1_00000");
        assert_string_equal(json_get_str(v, "device", ""), "/dev/drbd1000");
        uint64_t alpha_backing = (uint64_t) json_get_int(v, "backing-kib", 0);
        json_decref(r);
        /* Thin volumes are sized in whole VG extents too (LVM rounds their size). */
        r = replica(f, "r1", "beta");
        check_volume_sizes(json_array_get(json_object_get(r, "volumes"), 0), 10 * GIB + 3, 4096);
        json_decref(r);
        /* Once the agent reported the VG's real extent size, that is used. */
        OK(service_pool_report(f->s, "beta", "pool1", 100 * GIB, 100 * GIB, 32768, ret_msg));
        r = replica(f, "r1", "beta");
        check_volume_sizes(json_array_get(json_object_get(r, "volumes"), 0), 10 * GIB + 3, 32768);
        json_decref(r);
        r = replica(f, "r1", "gamma");
        v = json_array_get(json_object_get(r, "volumes"), 0);
        check_volume_sizes(v, 10 * GIB + 3, 4);
        assert_string_equal(json_get_str(v, "backing-device", ""), "/srv/images/r1_00000.img");
        json_decref(r);

        /* The pool accounts for the backing size. */
        json_t *l = list(f, "storage-pool", "alpha");
        assert_int_equal(json_get_int(json_array_get(l, 0), "allocated-kib", 0), alpha_backing);
        assert_int_equal(json_get_int(json_array_get(l, 0), "free-kib", 0), 100 * GIB - alpha_backing);
        json_decref(l);

        /* Diskless replicas have no backing sizes. */
        node(f, "delta", "10.0.0.4", NULL, NULL);
        o = json_pack("{s:b}", "diskless", 1);
        OK(service_resource_create(f->s, "r1", "delta", o, ret_msg));
        json_decref(o);
        r = replica(f, "r1", "delta");
        v = json_array_get(json_object_get(r, "volumes"), 0);
        assert_null(json_object_get(v, "backing-kib"));
        assert_int_equal(json_get_int(v, "requested-kib", 0), 10 * GIB + 3);
        json_decref(r);

        /* Capacity: a pool too small refuses the replica and the growth. */
        node(f, "small", "10.0.0.5", NULL, NULL);
        lvm_pool(f, "small", "pool1", 10);
        FAILS(-ENOSPC, service_resource_create(f->s, "r1", "small", NULL, ret_msg));
        FAILS(-ENOSPC, service_vd_resize(f->s, "r1", 0, 200 * GIB, ret_msg));
}

/* ---- autoplace ---- */

static void spawn_setup(Fixture *f, const char *rd, unsigned gib) {
        OK(service_rd_create(f->s, rd, NULL, ret_msg));
        OK(service_vd_create(f->s, rd, gib * GIB, NULL, NULL, ret_msg));
}

static void test_autoplace_tiebreaker(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        spawn_setup(f, "r1", 10);
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        Kinds k = kinds(f, "r1");
        assert_int_equal(k.diskful, 2);
        assert_int_equal(k.tiebreaker, 1);
        assert_int_equal(k.diskless, 0);
        assert_true(on_node(f, "r1", "alpha", false));
        assert_true(on_node(f, "r1", "beta", false));
        assert_true(on_node(f, "r1", "gamma", true));
        /* Placing again is a no-op. */
        int64_t rev = revision(f);
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        assert_int_equal(revision(f), rev);

        /* Three diskful replicas need no tie-breaker. */
        lvm_pool(f, "gamma", "pool1", 100);
        spawn_setup(f, "r2", 1);
        json_t *o = json_pack("{s:i}", "place-count", 3);
        OK(service_autoplace(f->s, "r2", o, ret_msg));
        json_decref(o);
        k = kinds(f, "r2");
        assert_int_equal(k.diskful, 3);
        assert_int_equal(k.tiebreaker + k.diskless, 0);

        /* A tie-breaker lands only on a node that can vote: its drbdd alive, its kernel DRBD 9. */
        node_defined(f, "aaa-ghost", "10.0.0.9", NULL, NULL); /* defined, never started; sorts first */
        node(f, "delta", "10.0.0.4", NULL, NULL);
        spawn_setup(f, "r3", 1);
        o = json_pack("{s:[s]}", "exclude-nodes", "gamma");
        OK(service_autoplace(f->s, "r3", o, ret_msg));
        json_decref(o);
        assert_false(replica_on_node(f, "r3", "aaa-ghost"));
        assert_true(on_node(f, "r3", "delta", true));
        /* Once the ghost's drbdd reports a DRBD 9 kernel and is alive, it may take one. */
        node_up(f, "aaa-ghost", NULL);
        spawn_setup(f, "r4", 1);
        o = json_pack("{s:[s]}", "exclude-nodes", "gamma");
        OK(service_autoplace(f->s, "r4", o, ret_msg));
        json_decref(o);
        assert_true(on_node(f, "r4", "aaa-ghost", true));

        /* No volumes yet: refused. */
        OK(service_rd_create(f->s, "empty", NULL, ret_msg));
        FAILS(-EINVAL, service_autoplace(f->s, "empty", NULL, ret_msg));
        FAILS(-ENOENT, service_autoplace(f->s, "nosuch", NULL, ret_msg));
}

/* The leader's duties in slices: with no budget, one resource per run,
 * then the garbage step; the end result is the same as a whole pass. */
static void test_leader_pass_slices(void **state) {
        Fixture *f = *state;
        char name[16];
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        for (int i = 0; i < 6; i++) {
                snprintf(name, sizeof name, "r%d", i);
                spawn_setup(f, name, 1);
                OK(service_resource_create(f->s, name, "alpha", NULL, ret_msg));
                OK(service_resource_create(f->s, name, "beta", NULL, ret_msg));
                assert_int_equal(kinds(f, name).tiebreaker, 0);
        }
        LeaderPass *p = NULL;
        json_t *done = json_array();
        OK(service_leader_pass_new(f->s, NULL, &p, ret_msg));
        /* Created after the pass began: not in this pass. */
        spawn_setup(f, "late", 1);
        OK(service_resource_create(f->s, "late", "alpha", NULL, ret_msg));
        OK(service_resource_create(f->s, "late", "beta", NULL, ret_msg));
        int runs = 0;
        while (service_leader_pass_run(p, 0, done) > 0) {
                runs++;
                /* After k runs exactly k resources have their tie-breaker. */
                unsigned with = 0;
                for (int i = 0; i < 6; i++) {
                        snprintf(name, sizeof name, "r%d", i);
                        with += kinds(f, name).tiebreaker;
                }
                assert_int_equal(with, runs);
        }
        assert_int_equal(runs, 6);
        assert_int_equal(service_leader_pass_run(p, 0, done), 0);
        assert_int_equal(json_array_size(done), 6);
        assert_int_equal(kinds(f, "late").tiebreaker, 0);
        service_leader_pass_free(p);
        json_decref(done);

        /* The next (whole) pass picks up the late one and finds nothing else. */
        json_t *d2 = NULL;
        OK(service_leader_duties(f->s, NULL, &d2, ret_msg));
        assert_int_equal(json_array_size(d2), 1);
        assert_int_equal(kinds(f, "late").tiebreaker, 1);
        json_decref(d2);
}

/* A host attached through the tie-breaker keeps it when a third diskful
 * replica comes: the leader makes it a client that the host's detach
 * removes, instead of deleting it under the host (tests/lab/test-drbd9.sh
 * `window` does the same live with a replica removed). An unattached
 * tie-breaker of another resource goes as before. */
static void test_leader_attached_tiebreaker(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        spawn_setup(f, "r1", 1);
        spawn_setup(f, "r2", 1);
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        OK(service_autoplace(f->s, "r2", NULL, ret_msg));
        json_t *tb = replica(f, "r1", "gamma");
        assert_non_null(tb);
        assert_true(json_get_bool(tb, "tie-breaker", false));
        json_decref(tb);
        OK(service_resource_attach(f->s, "r1", "gamma", NULL, ret_msg));
        tb = replica(f, "r1", "gamma");
        assert_true(json_get_bool(tb, "tie-breaker", false)); /* used as it is */
        assert_true(json_get_bool(tb, "attached", false));
        assert_false(json_get_bool(tb, "attach-created", false));
        json_decref(tb);

        node(f, "delta", "10.0.0.4", NULL, NULL);
        lvm_pool(f, "delta", "pool1", 100);
        OK(service_resource_create(f->s, "r1", "delta", NULL, ret_msg));
        OK(service_resource_create(f->s, "r2", "delta", NULL, ret_msg));
        json_t *done = NULL;
        OK(service_leader_duties(f->s, NULL, &done, ret_msg));
        json_decref(done);
        json_t *c = replica(f, "r1", "gamma");
        assert_non_null(c);
        assert_false(json_get_bool(c, "tie-breaker", false));
        assert_true(json_get_bool(c, "diskless", false));
        assert_true(json_get_bool(c, "attached", false));
        assert_true(json_get_bool(c, "attach-created", false));
        json_decref(c);
        assert_false(replica_on_node(f, "r2", "gamma"));
        assert_int_equal(kinds(f, "r1").diskful, 3);

        /* The host leaves: its client goes; deleting under it was refused before. */
        FAILS(-EBUSY, service_resource_delete(f->s, "r1", "gamma", ret_msg));
        OK(service_resource_detach(f->s, "r1", "gamma", NULL, ret_msg));
        assert_false(replica_on_node(f, "r1", "gamma"));
        OK(service_leader_duties(f->s, NULL, &done, ret_msg));
        json_decref(done);
        assert_false(replica_on_node(f, "r1", "gamma"));
}

static time_t test_clock;
static time_t test_now(time_t *t) {
        if (t)
                *t = test_clock;
        return test_clock;
}

static void put_observed(Fixture *f, const char *rd, const char *node, const char *state) {
        json_t *o = json_pack("{s:s}", "state", state);
        OK(service_observed_put(f->s, node, rd, o, ret_msg));
        json_decref(o);
}

/* auto-diskful: a domain running through a diskless client beside a pool of
 * the group for the group's minutes gets a diskful replica there; once all
 * are UpToDate, an unused diskful replica beyond place-count goes (unless
 * the group keeps it). Nothing happens before the time, for tie-breakers,
 * or without a report of a domain using it. */
static void test_leader_auto_diskful(void **state) {
        Fixture *f = *state;
        json_t *done = NULL, *o;
        test_clock = 1000000;
        service_set_clock(f->s, test_now);
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        lvm_pool(f, "gamma", "pool1", 100);
        o = json_pack("{s:i, s:i, s:[s]}", "place-count", 2, "auto-diskful", 5, "storage-pools", "pool1");
        OK(service_rg_create(f->s, "gold", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:i, s:i, s:b, s:[s]}", "place-count", 2, "auto-diskful", 5, "auto-diskful-allow-cleanup", 0,
                      "storage-pools", "pool1");
        OK(service_rg_create(f->s, "keep", o, ret_msg));
        json_decref(o);
        const char *rds[] = { "r1", "r2" }, *groups[] = { "gold", "keep" };
        for (int i = 0; i < 2; i++) {
                o = json_pack("{s:s}", "resource-group", groups[i]);
                OK(service_rd_create(f->s, rds[i], o, ret_msg));
                json_decref(o);
                OK(service_vd_create(f->s, rds[i], GIB, NULL, NULL, ret_msg));
                OK(service_resource_create(f->s, rds[i], "alpha", NULL, ret_msg));
                OK(service_resource_create(f->s, rds[i], "beta", NULL, ret_msg));
                OK(service_resource_attach(f->s, rds[i], "gamma", NULL, ret_msg)); /* a client */
        }
        OK(service_leader_duties(f->s, NULL, &done, ret_msg));
        json_decref(done);
        assert_true(on_node(f, "r1", "gamma", true)); /* no domain reported: nothing */
        o = json_pack("{s:[s], s:[s]}", "r1", "instance-1", "r2", "instance-2");
        OK(service_usage_report(f->s, "gamma", o, ret_msg));
        json_decref(o);
        OK(service_leader_duties(f->s, NULL, &done, ret_msg)); /* the clock starts */
        json_decref(done);
        test_clock += 4 * 60;
        OK(service_leader_duties(f->s, NULL, &done, ret_msg));
        json_decref(done);
        assert_true(on_node(f, "r1", "gamma", true));
        test_clock += 60;
        OK(service_leader_duties(f->s, NULL, &done, ret_msg));
        json_decref(done);
        for (int i = 0; i < 2; i++) {
                assert_true(on_node(f, rds[i], "gamma", false));
                json_t *g = replica(f, rds[i], "gamma");
                assert_true(json_get_bool(g, "auto-diskful", false));
                assert_false(json_get_bool(g, "attach-created", false));
                assert_true(json_get_bool(g, "attached", false));
                json_decref(g);
                assert_int_equal(kinds(f, rds[i]).diskful, 3);
        }
        /* Three diskful, place-count 2: not before all are UpToDate. */
        OK(service_leader_duties(f->s, NULL, &done, ret_msg));
        json_decref(done);
        assert_int_equal(kinds(f, "r1").diskful, 3);
        for (int i = 0; i < 2; i++)
                for (const char *const *n = (const char *const[]) { "alpha", "beta", "gamma", NULL }; *n; n++)
                        put_observed(f, rds[i], *n, "UpToDate");
        OK(service_leader_duties(f->s, NULL, &done, ret_msg));
        json_decref(done);
        assert_int_equal(kinds(f, "r1").diskful, 2);
        assert_false(replica_on_node(f, "r1", "alpha")); /* unused, not the new one */
        assert_true(on_node(f, "r1", "gamma", false));
        assert_int_equal(kinds(f, "r2").diskful, 3); /* its group keeps the extra replica */
        /* The host leaves: the replica that is diskful now keeps its data. */
        OK(service_resource_detach(f->s, "r1", "gamma", NULL, ret_msg));
        assert_true(on_node(f, "r1", "gamma", false));
        assert_int_equal(kinds(f, "r1").diskful, 2);
        service_set_clock(f->s, NULL);
}

static void test_autoplace_drbd84(void **state) {
        Fixture *f = *state;
        node(f, "old", "10.0.0.1", "8.4", NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "old", "pool1", 500); /* most free: always chosen */
        lvm_pool(f, "beta", "pool1", 100);
        lvm_pool(f, "gamma", "pool1", 50);

        /* Two replicas with an 8.4 node: no tie-breaker (8.4 has no diskless). */
        spawn_setup(f, "r1", 1);
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        Kinds k = kinds(f, "r1");
        assert_int_equal(k.diskful, 2);
        assert_int_equal(k.tiebreaker + k.diskless, 0);
        assert_true(on_node(f, "r1", "old", false));
        assert_true(on_node(f, "r1", "beta", false));
        json_t *r = replica(f, "r1", "old");
        assert_string_equal(json_get_str(r, "drbd-version", ""), "8.4");
        json_decref(r);

        /* Three replicas with an 8.4 node: refused, nothing written. */
        spawn_setup(f, "r2", 1);
        int64_t rev = revision(f);
        json_t *o = json_pack("{s:i}", "place-count", 3);
        FAILS(-EINVAL, service_autoplace(f->s, "r2", o, ret_msg));
        json_decref(o);
        assert_int_equal(revision(f), rev);
        assert_int_equal(count(f, "resource", "r2"), 0);

        /* Manual third replica refused as well; a diskless client as the
         * second of two 8.4 hosts is fine. */
        o = json_pack("{s:b}", "diskless", 1);
        FAILS(-EINVAL, service_resource_create(f->s, "r1", "gamma", o, ret_msg));
        OK(service_resource_create(f->s, "r2", "beta", NULL, ret_msg));
        OK(service_resource_create(f->s, "r2", "old", o, ret_msg));
        json_decref(o);
}

static void test_autoplace_diskless_on_remaining(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        node(f, "delta", "10.0.0.4", NULL, NULL);
        node(f, "old", "10.0.0.5", "8.4", NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        json_t *o = json_pack("{s:b}", "diskless-on-remaining", 1);
        OK(service_rg_create(f->s, "everywhere", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:s}", "resource-group", "everywhere");
        OK(service_rd_create(f->s, "r1", o, ret_msg));
        json_decref(o);
        OK(service_vd_create(f->s, "r1", GIB, NULL, NULL, ret_msg));
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        Kinds k = kinds(f, "r1");
        assert_int_equal(k.diskful, 2);
        assert_int_equal(k.diskless, 2); /* gamma, delta; not the 8.4 node */
        assert_int_equal(k.tiebreaker, 0);
        assert_true(on_node(f, "r1", "gamma", true));
        assert_true(on_node(f, "r1", "delta", true));
        assert_null(replica(f, "r1", "old"));
}

static void test_autoplace_failure_domains(void **state) {
        Fixture *f = *state;
        char *m = NULL;
        node(f, "a1", "10.0.0.1", NULL, "a");
        node(f, "a2", "10.0.0.2", NULL, "a");
        node(f, "nosite", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "a1", "pool1", 100);
        lvm_pool(f, "a2", "pool1", 100);
        lvm_pool(f, "nosite", "pool1", 900);
        json_t *o = json_pack("{s:[s]}", "replicas-on-different", "site");
        OK(service_rg_create(f->s, "geo", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:s}", "resource-group", "geo");
        OK(service_rd_create(f->s, "r1", o, ret_msg));
        json_decref(o);
        OK(service_vd_create(f->s, "r1", GIB, NULL, NULL, ret_msg));
        int64_t rev = revision(f);
        assert_int_equal(service_autoplace(f->s, "r1", NULL, &m), -ENOSPC);
        assert_non_null(strstr(m, "cannot place"));
        assert_non_null(strstr(m, "site"));
        free(m);
        assert_int_equal(revision(f), rev);
        assert_int_equal(count(f, "resource", "r1"), 0);

        /* One more site makes it possible; the site-less node stays out. */
        node(f, "b1", "10.0.0.4", NULL, "b");
        lvm_pool(f, "b1", "pool1", 10);
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        assert_true(on_node(f, "r1", "b1", false));
        assert_true(on_node(f, "r1", "a1", false) || on_node(f, "r1", "a2", false));
        assert_false(on_node(f, "r1", "nosite", false));

        /* replicas-on-same: the two nodes of site a. */
        o = json_pack("{s:[s]}", "replicas-on-same", "site");
        OK(service_rg_create(f->s, "local", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:s}", "resource-group", "local");
        OK(service_rd_create(f->s, "r2", o, ret_msg));
        json_decref(o);
        OK(service_vd_create(f->s, "r2", GIB, NULL, NULL, ret_msg));
        OK(service_autoplace(f->s, "r2", NULL, ret_msg));
        assert_true(on_node(f, "r2", "a1", false));
        assert_true(on_node(f, "r2", "a2", false));
}

static void test_autoplace_capacity(void **state) {
        Fixture *f = *state;
        node(f, "small", "10.0.0.1", NULL, NULL);
        node(f, "large", "10.0.0.2", NULL, NULL);
        node(f, "medium", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "small", "pool1", 10);
        lvm_pool(f, "large", "pool1", 50);
        lvm_pool(f, "medium", "pool1", 30);
        spawn_setup(f, "r1", 5);
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        assert_true(on_node(f, "r1", "large", false));
        assert_true(on_node(f, "r1", "medium", false));
        assert_true(on_node(f, "r1", "small", true)); /* the tie-breaker */

        /* large has 45 GiB left, medium 25, small 10: a 20 GiB volume goes
         * to large and medium; a 28 GiB one fits on large only. */
        spawn_setup(f, "r2", 20);
        OK(service_autoplace(f->s, "r2", NULL, ret_msg));
        assert_true(on_node(f, "r2", "large", false));
        assert_true(on_node(f, "r2", "medium", false));
        spawn_setup(f, "r3", 20);
        FAILS(-ENOSPC, service_autoplace(f->s, "r3", NULL, ret_msg));
        json_t *o = json_pack("{s:i}", "place-count", 1);
        OK(service_autoplace(f->s, "r3", o, ret_msg));
        json_decref(o);
        assert_true(on_node(f, "r3", "large", false));
        assert_int_equal(kinds(f, "r3").diskful, 1);
}

static void test_spawn(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, "a");
        node(f, "beta", "10.0.0.2", NULL, "a");
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        OK(service_rg_create(f->s, "plain", NULL, ret_msg));
        json_t *o = json_pack("{s:i, s:[s]}", "place-count", 2, "replicas-on-different", "site");
        OK(service_rg_create(f->s, "geo", o, ret_msg));
        json_decref(o);

        OK(service_spawn(f->s, "plain", "ok1", 2 * GIB, NULL, ret_msg));
        assert_int_equal(kinds(f, "ok1").diskful, 2);
        size_t allocs = alloc_keys(f, "/drbdd/alloc/");
        assert_int_equal(allocs, 1 + 1 + 2); /* port, minor, two node-ids */

        /* Placement fails: no definition, no port or minor left behind. */
        char *m = NULL;
        assert_int_equal(service_spawn(f->s, "geo", "bad", 2 * GIB, NULL, &m), -ENOSPC);
        assert_non_null(strstr(m, "cannot place"));
        free(m);
        FAILS(-ENOENT, service_list(f->s, "resource-definition", "bad", &o, ret_msg));
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/"), allocs);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/port/"), 1);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/minor/"), 1);
        assert_int_equal(count(f, "resource-definition", NULL), 1);

        /* Too big for any pool: rolled back as well. */
        FAILS(-ENOSPC, service_spawn(f->s, "plain", "huge", 500 * GIB, NULL, ret_msg));
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/"), allocs);
        /* Unknown group: nothing created. */
        FAILS(-ENOENT, service_spawn(f->s, "nosuch", "r9", GIB, NULL, ret_msg));
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/"), allocs);
        /* Existing name: the existing definition is untouched. */
        FAILS(-EEXIST, service_spawn(f->s, "plain", "ok1", GIB, NULL, ret_msg));
        assert_int_equal(kinds(f, "ok1").diskful, 2);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/"), allocs);
}

/* ---- one transaction per call ---- */

typedef struct Conflicts {
        int64_t rev;     /* the revision of the key the build compares */
        int fail_first;  /* attempts that compare a wrong revision (conflict) */
        int attempts;
} Conflicts;

static int conflicting_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        Conflicts *c = userdata;
        int r;
        c->attempts++;
        if ((r = service_txn_require_rev(t, "/drbdd/test/k", c->attempts <= c->fail_first ? c->rev + 1000 : c->rev)) < 0 ||
            (r = service_txn_put(t, "/drbdd/test/k", "v")) < 0 || (r = service_txn_notify(t, "test", "k", "modified")) < 0)
                return r;
        return TXN_COMMIT;
}

static int nothing_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        int *attempts = userdata;
        (*attempts)++;
        return service_txn_notify(t, "test", "k", "modified") < 0 ? -ENOMEM : TXN_NOTHING;
}

/* service_txn_run: a conflict builds again from fresh reads; only the committed
 * attempt's notes are announced; endless conflicts end in -EBUSY with the
 * one message; TXN_NOTHING writes and announces nothing. */
static void test_txn_run(void **state) {
        Fixture *f = *state;
        Conflicts c = { .rev = 0, .fail_first = 3 };
        unsigned changes = f->changes;
        int64_t rev = revision(f);
        OK(service_txn_run(f->s, conflicting_build, &c, ret_msg, "key '%s'", "k"));
        assert_int_equal(c.attempts, 4);
        assert_int_equal(f->changes, changes + 1);
        assert_int_equal(revision(f), rev + 1);

        StoreKV kv;
        assert_int_equal(store_get(f->st, "/drbdd/test/k", &kv), 0);
        c = (Conflicts) { .rev = kv.mod_rev, .fail_first = 1000 };
        store_kv_done(&kv);
        char *m = NULL;
        assert_int_equal(service_txn_run(f->s, conflicting_build, &c, &m, "key '%s'", "k"), -EBUSY);
        assert_string_equal(m, "key 'k' is being changed concurrently; try again");
        free(m);
        assert_int_equal(c.attempts, TXN_RETRIES);
        assert_int_equal(f->changes, changes + 1);
        assert_int_equal(revision(f), rev + 1);

        int attempts = 0;
        OK(service_txn_run(f->s, nothing_build, &attempts, ret_msg, "key '%s'", "k"));
        assert_int_equal(attempts, 1);
        assert_int_equal(f->changes, changes + 1);
        assert_int_equal(revision(f), rev + 1);
}

/* Spawn, restore and clone each commit once: one store revision for the
 * definition, its volume, its replicas and all their allocation keys. */
static void test_create_one_revision(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        for (const char *const *n = (const char *const[]) { "alpha", "beta", "gamma", NULL }; *n; n++) {
                json_t *o = json_pack("{s:s, s:s, s:I}", "volume-group", "vg", "thin-pool", "tp", "capacity", CAP(100));
                OK(service_pool_create(f->s, *n, "thin", "lvm-thin", o, ret_msg));
                json_decref(o);
        }
        OK(service_rg_create(f->s, "gold", NULL, ret_msg));

        int64_t rev = revision(f);
        OK(service_spawn(f->s, "gold", "r1", GIB, NULL, ret_msg));
        assert_int_equal(revision(f), rev + 1);
        assert_int_equal(kinds(f, "r1").diskful, 2);
        assert_int_equal(kinds(f, "r1").tiebreaker, 1);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/node-id/r1/"), 3);

        OK(service_snapshot_create(f->s, "r1", "s1", NULL, ret_msg));
        rev = revision(f);
        OK(service_snapshot_restore(f->s, "r1", "s1", "r2", NULL, ret_msg));
        assert_int_equal(revision(f), rev + 1);
        assert_int_equal(kinds(f, "r2").diskful, 2);
        assert_int_equal(kinds(f, "r2").tiebreaker, 1);
        rev = revision(f);
        OK(service_rd_clone(f->s, "r1", "r3", NULL, ret_msg));
        assert_int_equal(revision(f), rev + 1);
        assert_int_equal(kinds(f, "r3").diskful, 2);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/node-id/r3/"), 3);

        /* The last step failing (autoplace finds no pool its group allows)
         * leaves nothing: the port, minor, replicas and node-ids of the
         * earlier steps were only in the transaction. */
        json_t *o = json_pack("{s:[s]}", "storage-pools", "nopool");
        OK(service_rg_create(f->s, "narrow", o, ret_msg));
        json_decref(o);
        size_t allocs = alloc_keys(f, "/drbdd/alloc/");
        rev = revision(f);
        FAILS(-EEXIST, service_rd_clone(f->s, "r1", "r2", NULL, ret_msg));
        o = json_pack("{s:s, s:i}", "resource-group", "narrow", "place-count", 3);
        FAILS(-ENOSPC, service_snapshot_restore(f->s, "r1", "s1", "r4", o, ret_msg));
        FAILS(-ENOSPC, service_rd_clone(f->s, "r1", "r4", o, ret_msg));
        json_decref(o);
        assert_int_equal(revision(f), rev);
        assert_int_equal(alloc_keys(f, "/drbdd/alloc/"), allocs);
        assert_int_equal(count(f, "resource-definition", NULL), 3);
}

/* ---- validation and faults ---- */

static void test_validation_leaves_store_unchanged(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        OK(service_rg_create(f->s, "gold", NULL, ret_msg));
        spawn_setup(f, "r1", 1);
        OK(service_resource_create(f->s, "r1", "alpha", NULL, ret_msg));
        unsigned changes = f->changes;
        int64_t rev = revision(f);
        char long_name[300];
        memset(long_name, 'x', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = 0;

        json_t *opt_unknown = json_pack("{s:b}", "no-such-option", 1);
        json_t *opt_not_object = json_pack("[i]", 1);
        json_t *props_bad = json_pack("{s:{s:s}}", "properties", "site", "a b;c");
        json_t *props_not_str = json_pack("{s:{s:i}}", "properties", "site", 1);
        json_t *version_bad = json_pack("{s:s}", "drbd-version", "7");
        json_t *count_bad = json_pack("{s:i}", "place-count", 0);
        json_t *count_huge = json_pack("{s:i}", "place-count", 17);
        json_t *count_str = json_pack("{s:s}", "place-count", "2");
        json_t *slots_small = json_pack("{s:i, s:i}", "place-count", 4, "peer-slots", 2);
        json_t *pools_bad = json_pack("{s:[s]}", "storage-pools", "a/b");
        json_t *dor_bad = json_pack("{s:s}", "diskless-on-remaining", "yes");
        json_t *drbd_bad = json_pack("{s:{s:s}}", "drbd-options", "net/protocol", "Q");
        json_t *drbd_unknown = json_pack("{s:{s:s}}", "drbd-options", "net/no-such", "1");
        json_t *port_bad = json_pack("{s:i}", "port", 70000);
        json_t *diskless_pool = json_pack("{s:b, s:s}", "diskless", 1, "storage-pool", "pool1");
        json_t *no_vg = json_pack("{}");
        json_t *thin_no_pool = json_pack("{s:s}", "volume-group", "vg");
        json_t *dir_rel = json_pack("{s:s}", "directory", "relative/dir");
        json_t *dir_dots = json_pack("{s:s}", "directory", "/srv/../etc");

        FAILS(-EINVAL, service_node_create(f->s, "bad name", "10.0.0.9", NULL, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, NULL, "10.0.0.9", NULL, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, long_name, "10.0.0.9", NULL, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0", NULL, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", "host.example.com", NULL, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", NULL, NULL, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0.9", opt_unknown, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0.9", opt_not_object, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0.9", props_bad, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0.9", props_not_str, ret_msg));
        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0.9", version_bad, ret_msg));
        FAILS(-EINVAL, service_node_set_property(f->s, "alpha", "bad key!", "x", ret_msg));
        FAILS(-EINVAL, service_node_set_property(f->s, "alpha", "site", "a\nb", ret_msg));
        FAILS(-EINVAL, service_node_delete(f->s, "../alpha", ret_msg));

        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p2", "zfs", no_vg, ret_msg));
        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p2", NULL, no_vg, ret_msg));
        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p2", "lvm", no_vg, ret_msg));
        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p2", "lvm-thin", thin_no_pool, ret_msg));
        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p2", "file", dir_rel, ret_msg));
        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p2", "file", dir_dots, ret_msg));
        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p/2", "lvm", thin_no_pool, ret_msg));
        FAILS(-EINVAL, service_pool_create(f->s, "alpha", "p2", "lvm", opt_unknown, ret_msg));
        FAILS(-EINVAL, service_pool_delete(f->s, "alpha", "", ret_msg));

        FAILS(-EINVAL, service_rg_create(f->s, "silver", count_bad, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", count_huge, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", count_str, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", slots_small, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", pools_bad, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", dor_bad, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", drbd_bad, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", drbd_unknown, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "silver", opt_unknown, ret_msg));
        FAILS(-EINVAL, service_rg_create(f->s, "sil ver", NULL, ret_msg));
        FAILS(-EINVAL, service_rg_modify(f->s, "gold", count_bad, ret_msg));
        FAILS(-EINVAL, service_rg_modify(f->s, "gold", drbd_bad, ret_msg));
        FAILS(-EINVAL, service_rg_modify(f->s, "gold", slots_small, ret_msg));

        FAILS(-EINVAL, service_rd_create(f->s, "r2", port_bad, ret_msg));
        FAILS(-EINVAL, service_rd_create(f->s, "r2", drbd_bad, ret_msg));
        FAILS(-EINVAL, service_rd_create(f->s, "r2", opt_unknown, ret_msg));
        FAILS(-EINVAL, service_rd_create(f->s, "r 2", NULL, ret_msg));
        FAILS(-EINVAL, service_rd_modify(f->s, "r1", drbd_bad, ret_msg));
        FAILS(-EINVAL, service_rd_modify(f->s, "r1", port_bad, ret_msg));
        FAILS(-EINVAL, service_rd_delete(f->s, "", ret_msg));

        FAILS(-EINVAL, service_vd_create(f->s, "r1", 1, NULL, NULL, ret_msg));           /* below 4 MiB */
        FAILS(-EINVAL, service_vd_create(f->s, "r1", UINT64_MAX, NULL, NULL, ret_msg));  /* above 1 PiB */
        FAILS(-EINVAL, service_vd_create(f->s, "r1", GIB, opt_unknown, NULL, ret_msg));
        FAILS(-EINVAL, service_vd_resize(f->s, "r1", 0, 1, ret_msg));
        FAILS(-EINVAL, service_vd_resize(f->s, "r1", 0, GIB / 2, ret_msg)); /* shrink */

        FAILS(-EINVAL, service_resource_create(f->s, "r1", "beta", diskless_pool, ret_msg));
        FAILS(-EINVAL, service_resource_create(f->s, "r1", "beta", opt_unknown, ret_msg));
        FAILS(-EINVAL, service_resource_create(f->s, "r1", "be ta", NULL, ret_msg));
        FAILS(-EINVAL, service_resource_delete(f->s, "r1", "", ret_msg));
        FAILS(-EINVAL, service_autoplace(f->s, "r1", count_bad, ret_msg));
        FAILS(-EINVAL, service_autoplace(f->s, "r1", opt_unknown, ret_msg));
        FAILS(-EINVAL, service_spawn(f->s, "gold", "r3", 1, NULL, ret_msg));
        FAILS(-EINVAL, service_spawn(f->s, "gold", "r3", GIB, opt_unknown, ret_msg));
        FAILS(-EINVAL, service_spawn(f->s, "gold", "r3", GIB, count_bad, ret_msg));
        FAILS(-EINVAL, service_spawn(f->s, "go ld", "r3", GIB, NULL, ret_msg));

        /* Multibyte characters across every length limit: messages quote them whole. */
        static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
        for (size_t c = 0; c < ELEMENTSOF(chars); c++)
                for (size_t n = 40; n < 70; n++) {
                        char s[300];
                        memset(s, n % 2 ? '1' : 'a', n);
                        strcpy(s + n, chars[c]);
                        json_t *key = json_pack("{s:i}", s, 1);
                        json_t *val = json_pack("{s:{s:s}}", "properties", "site", s);
                        json_t *drbd = json_pack("{s:{s:s}}", "drbd-options", "net/protocol", s);
                        assert_true(key && val && drbd);
                        FAILS(-EINVAL, service_node_create(f->s, "gamma", s, NULL, ret_msg));
                        FAILS(-EINVAL, service_node_create(f->s, s, "10.0.0.9", NULL, ret_msg));
                        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0.9", key, ret_msg));
                        FAILS(-EINVAL, service_node_create(f->s, "gamma", "10.0.0.9", val, ret_msg));
                        FAILS(-EINVAL, service_node_set_property(f->s, "alpha", s, "x", ret_msg));
                        FAILS(-EINVAL, service_node_set_property(f->s, "alpha", "site", s, ret_msg));
                        FAILS(-EINVAL, service_rd_create(f->s, s, NULL, ret_msg));
                        FAILS(-EINVAL, service_rd_modify(f->s, "r1", drbd, ret_msg));
                        FAILS(-EINVAL, service_pool_create(f->s, "alpha", s, "lvm", no_vg, ret_msg));
                        FAILS(-ENOENT, service_list(f->s, "node", s, NULL, ret_msg));
                        json_decref(key);
                        json_decref(val);
                        json_decref(drbd);
                }

        json_t *l = NULL;
        char *text = NULL;
        FAILS(-EINVAL, service_list(f->s, "nonsense", NULL, &l, ret_msg));
        FAILS(-EINVAL, service_list(f->s, "resource", "bad name", &l, ret_msg));
        FAILS(-EINVAL, service_render_config(f->s, "r1", "bad name", &text, ret_msg));
        FAILS(-EINVAL, service_render_config(f->s, "bad name", "alpha", &text, ret_msg));
        FAILS(-EINVAL, service_plan_commands(f->s, "r1", "bad name", &l, ret_msg));

        assert_int_equal(revision(f), rev);
        assert_int_equal(f->changes, changes);
        /* A NULL ret_msg is fine too. */
        assert_int_equal(service_node_create(f->s, "bad name", "10.0.0.9", NULL, NULL), -EINVAL);
        assert_int_equal(service_rg_create(f->s, "silver", count_bad, NULL), -EINVAL);

        json_decref(opt_unknown);
        json_decref(opt_not_object);
        json_decref(props_bad);
        json_decref(props_not_str);
        json_decref(version_bad);
        json_decref(count_bad);
        json_decref(count_huge);
        json_decref(count_str);
        json_decref(slots_small);
        json_decref(pools_bad);
        json_decref(dor_bad);
        json_decref(drbd_bad);
        json_decref(drbd_unknown);
        json_decref(port_bad);
        json_decref(diskless_pool);
        json_decref(no_vg);
        json_decref(thin_no_pool);
        json_decref(dir_rel);
        json_decref(dir_dots);
}

/* Arms a one-shot commit fault, runs call, which must fail with a message
 * and leave the store at the same revision. */
#define COMMIT_FAULT(call)                                                                 \
        do {                                                                               \
                char *_m = NULL;                                                           \
                char **ret_msg = &_m;                                                      \
                int64_t _rev = revision(f);                                                \
                unsigned _changes = f->changes;                                            \
                assert_int_equal(store_sqlite_set_fault("commit", -EIO), 0);               \
                int _r = (call);                                                           \
                store_sqlite_set_fault(NULL, 0);                                           \
                if (_r >= 0)                                                               \
                        fail_msg("%s succeeded despite a commit fault", #call);            \
                assert_non_null(_m);                                                       \
                free(_m);                                                                  \
                assert_int_equal(revision(f), _rev);                                       \
                assert_int_equal(f->changes, _changes);                                    \
        } while (0)

static void test_commit_fault(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        OK(service_rg_create(f->s, "gold", NULL, ret_msg));
        spawn_setup(f, "r1", 1);

        COMMIT_FAULT(service_node_create(f->s, "delta", "10.0.0.4", NULL, ret_msg));
        assert_int_equal(count(f, "node", NULL), 3);
        COMMIT_FAULT(service_node_set_property(f->s, "alpha", "site", "a", ret_msg));
        COMMIT_FAULT(service_node_delete(f->s, "gamma", ret_msg));
        json_t *vg = json_pack("{s:s}", "volume-group", "vg");
        COMMIT_FAULT(service_pool_create(f->s, "gamma", "pool1", "lvm", vg, ret_msg));
        json_decref(vg);
        COMMIT_FAULT(service_pool_delete(f->s, "beta", "pool1", ret_msg));
        COMMIT_FAULT(service_rg_create(f->s, "silver", NULL, ret_msg));
        COMMIT_FAULT(service_rg_modify(f->s, "gold", NULL, ret_msg));
        COMMIT_FAULT(service_rg_delete(f->s, "gold", ret_msg));
        COMMIT_FAULT(service_rd_create(f->s, "r2", NULL, ret_msg));
        COMMIT_FAULT(service_rd_modify(f->s, "r1", NULL, ret_msg));
        COMMIT_FAULT(service_vd_create(f->s, "r1", GIB, NULL, NULL, ret_msg));
        COMMIT_FAULT(service_vd_resize(f->s, "r1", 0, 2 * GIB, ret_msg));
        COMMIT_FAULT(service_resource_create(f->s, "r1", "alpha", NULL, ret_msg));
        COMMIT_FAULT(service_autoplace(f->s, "r1", NULL, ret_msg));
        COMMIT_FAULT(service_spawn(f->s, "gold", "r3", GIB, NULL, ret_msg));
        assert_int_equal(count(f, "resource", "r1"), 0);
        assert_int_equal(count(f, "resource-definition", NULL), 1);

        /* The store works again afterwards. */
        OK(service_autoplace(f->s, "r1", NULL, ret_msg));
        COMMIT_FAULT(service_resource_delete(f->s, "r1", "gamma", ret_msg));
        COMMIT_FAULT(service_vd_delete(f->s, "r1", 0, ret_msg));
        COMMIT_FAULT(service_rd_delete(f->s, "r1", ret_msg));
        assert_int_equal(kinds(f, "r1").diskful, 2);

        /* "begin" fails the same way. */
        int64_t rev = revision(f);
        char *m = NULL;
        assert_int_equal(store_sqlite_set_fault("begin", -EIO), 0);
        assert_true(service_rd_create(f->s, "r4", NULL, &m) < 0);
        store_sqlite_set_fault(NULL, 0);
        assert_non_null(m);
        free(m);
        assert_int_equal(revision(f), rev);
}

/* A failed store read is the daemon's failure: -EBADMSG (a malformed etcd
 * reply) must not reach D-Bus, where it means arguments sd-bus could not read. */
static void test_read_failed(void **state) {
        static const struct {
                int in, out;
        } cases[] = {
                { -EBADMSG, -EIO }, { -EIO, -EIO }, { -ENOMEM, -ENOMEM },
                { -ETIMEDOUT, -EHOSTUNREACH }, { -ECONNREFUSED, -EHOSTUNREACH }, { -EHOSTUNREACH, -EHOSTUNREACH },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *m = NULL;
                assert_int_equal(service_read_failed(&m, cases[i].in), cases[i].out);
                assert_non_null(m);
                assert_true(startswith(m, "cannot read the cluster store") || streq(m, "cluster store unavailable"));
        }
}

/* ---- rendering and plans ---- */

/* Runs tests/golden/check-drbdadm.sh on text; skips when the parser is missing. */
static void check_with_drbdadm(Fixture *f, const char *dialect, const char *text) {
        char path[128], cmd[512];
        snprintf(path, sizeof path, "%s/check-%s.res", f->dir, dialect);
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
        snprintf(cmd, sizeof cmd, "sh tests/golden/check-drbdadm.sh %s %s", dialect, path);
        if (access("tests/golden/check-drbdadm.sh", R_OK) < 0) {
                print_message("skipped: tests/golden/check-drbdadm.sh not found (run from the source tree)\n");
                return;
        }
        int st = system(cmd);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) == 77) {
                print_message("skipped: no drbdadm for DRBD %s\n", dialect);
                return;
        }
        if (WEXITSTATUS(st) != 0)
                fail_msg("drbdadm rejected:\n%s", text);
}

static void test_render_config(void **state) {
        Fixture *f = *state;
        char *text = NULL;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        json_t *o = json_pack("{s:{s:s, s:s}}", "drbd-options", "net/protocol", "C", "net/timeout", "90");
        OK(service_rg_create(f->s, "gold", o, ret_msg));
        json_decref(o);
        OK(service_spawn(f->s, "gold", "r1", 10 * GIB, NULL, ret_msg));
        OK(service_vd_create(f->s, "r1", GIB, NULL, NULL, ret_msg));
        o = json_pack("{s:{s:s}}", "drbd-options", "net/timeout", "100");
        OK(service_rd_modify(f->s, "r1", o, ret_msg));
        json_decref(o);

        const char *nodes[] = { "alpha", "beta", "gamma" };
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                OK(service_render_config(f->s, "r1", nodes[i], &text, ret_msg));
                assert_non_null(strstr(text, "resource \"r1\""));
                assert_non_null(strstr(text, "shared-secret"));
                assert_non_null(strstr(text, "device minor 1000;"));
                assert_non_null(strstr(text, "device minor 1001;"));
                assert_non_null(strstr(text, "/dev/drbdpool/r1_00000"));
                assert_non_null(strstr(text, "disk none")); /* the tie-breaker */
                assert_non_null(strstr(text, "10.0.0.1"));
                assert_non_null(strstr(text, "10.0.0.3"));
                assert_non_null(strstr(text, "quorum"));
                assert_non_null(strstr(text, "timeout 100;")); /* the definition's value wins */
                assert_null(strstr(text, "timeout 90;"));
                check_with_drbdadm(f, "9", text);
                free(text);
                text = NULL;
        }
        FAILS(-ENOENT, service_render_config(f->s, "r1", "delta", &text, ret_msg));
        FAILS(-ENOENT, service_render_config(f->s, "nosuch", "alpha", &text, ret_msg));
        OK(service_rd_create(f->s, "novol", NULL, ret_msg));
        FAILS(-ENOENT, service_render_config(f->s, "novol", "alpha", &text, ret_msg));

        /* DRBD 8.4 pair. */
        node(f, "old", "10.0.0.5", "8.4", NULL);
        lvm_pool(f, "old", "pool1", 100);
        spawn_setup(f, "legacy", 1);
        OK(service_resource_create(f->s, "legacy", "old", NULL, ret_msg));
        OK(service_resource_create(f->s, "legacy", "alpha", NULL, ret_msg));
        OK(service_render_config(f->s, "legacy", "old", &text, ret_msg));
        assert_null(strstr(text, "disk none"));
        check_with_drbdadm(f, "8.4", text);
        free(text);
}

/* The desired state an agent reads: a new rd whose diskful replicas all sit
 * on thin pools starts "zeroed" (no initial sync); thick pools and
 * restored/cloned rds do not. */
static json_t *desired_of(Fixture *f, const char *nodename, const char *rd) {
        json_t *all = NULL, *e, *found = NULL;
        size_t i;
        OK(service_node_desired(f->s, nodename, &all, ret_msg));
        json_array_foreach(json_object_get(all, "resources"), i, e)
                if (streq(json_get_str(e, "name", ""), rd))
                        found = json_incref(e);
        json_decref(all);
        assert_non_null(found);
        return found;
}

static bool desired_zeroed(Fixture *f, const char *nodename, const char *rd) {
        json_t *d = desired_of(f, nodename, rd);
        assert_true(json_is_boolean(json_object_get(d, "zeroed"))); /* always stated */
        bool z = json_is_true(json_object_get(d, "zeroed"));
        json_decref(d);
        return z;
}

static void replica_in_pool(Fixture *f, const char *rd, const char *nodename, const char *pool) {
        json_t *o = json_pack("{s:s}", "storage-pool", pool);
        OK(service_resource_create(f->s, rd, nodename, o, ret_msg));
        json_decref(o);
}

static bool desired_source(Fixture *f, const char *nodename, const char *rd) {
        json_t *d = desired_of(f, nodename, rd);
        bool b = json_is_true(json_object_get(d, "initial-sync-source"));
        json_decref(d);
        return b;
}

/* The initial-sync source is fixed when the first diskful replicas are
 * placed: a replica added later (here with the freed lowest node-id) never
 * becomes one, or its empty disk would overwrite the data. */
static void test_sync_source_fixed(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        lvm_pool(f, "gamma", "pool1", 100);
        spawn_setup(f, "r1", 1);
        replica_in_pool(f, "r1", "alpha", "pool1");
        replica_in_pool(f, "r1", "beta", "pool1");
        assert_true(desired_source(f, "alpha", "r1"));
        assert_false(desired_source(f, "beta", "r1"));
        OK(service_resource_delete(f->s, "r1", "alpha", ret_msg));
        assert_false(desired_source(f, "beta", "r1"));
        /* Every id but 0 taken, so gamma gets the freed node-id 0, and still is no source. */
        for (int i = 2; i <= 31; i++) {
                char name[16], addr[32];
                json_t *o = json_pack("{s:b}", "diskless", 1);
                snprintf(name, sizeof name, "c%02d", i);
                snprintf(addr, sizeof addr, "10.0.1.%d", i);
                node_defined(f, name, addr, NULL, NULL);
                OK(service_resource_create(f->s, "r1", name, o, ret_msg));
                json_decref(o);
        }
        replica_in_pool(f, "r1", "gamma", "pool1");
        assert_int_equal(node_id(f, "r1", "gamma"), 0);
        assert_false(desired_source(f, "gamma", "r1"));
        assert_false(desired_source(f, "beta", "r1"));
}

static bool is_tiebreaker(Fixture *f, const char *rd, const char *nodename) {
        json_t *r = replica(f, rd, nodename);
        bool b = json_get_bool(r, "tie-breaker", false);
        json_decref(r);
        return b;
}

/* toggle-disk: one change of the replica, same node-id; limits. */
static void test_toggle_disk(void **state) {
        Fixture *f = *state;
        json_t *o;
        node(f, "alpha", "10.0.0.1", NULL, NULL);
        node(f, "beta", "10.0.0.2", NULL, NULL);
        node(f, "gamma", "10.0.0.3", NULL, NULL);
        lvm_pool(f, "alpha", "pool1", 100);
        lvm_pool(f, "beta", "pool1", 100);
        lvm_pool(f, "gamma", "pool3", 100);
        o = json_pack("{s:i, s:[s]}", "place-count", 2, "storage-pools", "pool1");
        OK(service_rg_create(f->s, "two", o, ret_msg));
        json_decref(o);
        OK(service_spawn(f->s, "two", "r1", GIB, NULL, ret_msg));
        assert_true(is_tiebreaker(f, "r1", "gamma"));
        int64_t id = node_id(f, "r1", "gamma");

        /* Attaching on the tie-breaker's node turns it into a client. */
        o = json_pack("{s:b}", "diskless", 1);
        OK(service_resource_create(f->s, "r1", "gamma", o, ret_msg));
        json_decref(o);
        assert_true(on_node(f, "r1", "gamma", true));
        assert_false(is_tiebreaker(f, "r1", "gamma"));
        assert_int_equal(node_id(f, "r1", "gamma"), id);
        /* A diskful create there says what to use instead. */
        char *m = NULL;
        assert_int_equal(service_resource_create(f->s, "r1", "gamma", NULL, &m), -EEXIST);
        assert_non_null(strstr(m, "toggle-disk"));
        free(m);

        /* Client -> diskful (in a pool the group does not list: named), then back. */
        o = json_pack("{s:s}", "storage-pool", "pool3");
        OK(service_resource_toggle_disk(f->s, "r1", "gamma", o, ret_msg));
        json_decref(o);
        assert_true(on_node(f, "r1", "gamma", false));
        assert_int_equal(node_id(f, "r1", "gamma"), id);
        json_t *d = desired_of(f, "gamma", "r1");
        assert_string_equal(json_get_str(json_object_get(d, "pool"), "name", ""), "pool3");
        assert_false(json_get_bool(d, "initial-sync-source", true)); /* it joins: syncs from the others */
        json_decref(d);
        int64_t rev = revision(f);
        o = json_pack("{s:s}", "storage-pool", "pool3");
        OK(service_resource_toggle_disk(f->s, "r1", "gamma", o, ret_msg)); /* already so: no change */
        json_decref(o);
        assert_int_equal(revision(f), rev);
        OK(service_resource_toggle_disk(f->s, "r1", "gamma", NULL, ret_msg)); /* flips */
        assert_true(on_node(f, "r1", "gamma", true));
        assert_int_equal(node_id(f, "r1", "gamma"), id);

        /* A diskful create on a tie-breaker's node makes it that replica (LINSTOR does so too). */
        OK(service_spawn(f->s, "two", "r2", GIB, NULL, ret_msg));
        assert_true(is_tiebreaker(f, "r2", "gamma"));
        id = node_id(f, "r2", "gamma");
        o = json_pack("{s:s}", "storage-pool", "pool3");
        OK(service_resource_create(f->s, "r2", "gamma", o, ret_msg));
        json_decref(o);
        assert_true(on_node(f, "r2", "gamma", false));
        assert_false(is_tiebreaker(f, "r2", "gamma"));
        assert_int_equal(node_id(f, "r2", "gamma"), id);

        /* Never the last diskful replica; bad input leaves the store alone. */
        o = json_pack("{s:b}", "diskless", 1);
        OK(service_resource_toggle_disk(f->s, "r1", "beta", o, ret_msg));
        rev = revision(f);
        FAILS(-EINVAL, service_resource_toggle_disk(f->s, "r1", "alpha", o, ret_msg));
        json_decref(o);
        FAILS(-ENOENT, service_resource_toggle_disk(f->s, "r1", "delta", NULL, ret_msg));
        FAILS(-ENOENT, service_resource_toggle_disk(f->s, "nosuch", "alpha", NULL, ret_msg));
        o = json_pack("{s:b, s:s}", "diskless", 1, "storage-pool", "pool1");
        FAILS(-EINVAL, service_resource_toggle_disk(f->s, "r1", "beta", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:s}", "storage-pool", "nosuch");
        FAILS(-ENOENT, service_resource_toggle_disk(f->s, "r1", "beta", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:i}", "bogus", 1);
        FAILS(-EINVAL, service_resource_toggle_disk(f->s, "r1", "beta", o, ret_msg));
        json_decref(o);
        FAILS(-EINVAL, service_resource_toggle_disk(f->s, "r1", "bad/name", NULL, ret_msg));
        assert_int_equal(revision(f), rev);

        /* Peer slots: 1 slot means at most 2 diskful replicas. */
        o = json_pack("{s:i}", "peer-slots", 1);
        OK(service_rd_create(f->s, "ps", o, ret_msg));
        json_decref(o);
        OK(service_vd_create(f->s, "ps", GIB, NULL, NULL, ret_msg));
        replica_in_pool(f, "ps", "alpha", "pool1");
        replica_in_pool(f, "ps", "beta", "pool1");
        o = json_pack("{s:s}", "storage-pool", "pool3");
        m = NULL;
        assert_int_equal(service_resource_create(f->s, "ps", "gamma", o, &m), -EINVAL);
        assert_non_null(strstr(m, "peer slot"));
        free(m);
        json_decref(o);
        o = json_pack("{s:b}", "diskless", 1);
        OK(service_resource_create(f->s, "ps", "gamma", o, ret_msg)); /* a client needs no slot */
        json_decref(o);
        FAILS(-EINVAL, service_resource_toggle_disk(f->s, "ps", "gamma", NULL, ret_msg));
        o = json_pack("{s:i}", "peer-slots", 1);
        OK(service_rd_create(f->s, "ps3", o, ret_msg));
        json_decref(o);
        OK(service_vd_create(f->s, "ps3", GIB, NULL, NULL, ret_msg));
        o = json_pack("{s:i}", "place-count", 3);
        FAILS(-EINVAL, service_autoplace(f->s, "ps3", o, ret_msg));
        json_decref(o);

        /* DRBD 8.4: not supported. */
        node(f, "old", "10.0.0.8", "8.4", NULL);
        lvm_pool(f, "old", "pool1", 100);
        OK(service_rd_create(f->s, "r84", NULL, ret_msg));
        OK(service_vd_create(f->s, "r84", GIB, NULL, NULL, ret_msg));
        replica_in_pool(f, "r84", "old", "pool1");
        replica_in_pool(f, "r84", "alpha", "pool1");
        FAILS(-EINVAL, service_resource_toggle_disk(f->s, "r84", "alpha", NULL, ret_msg));
}

static void test_node_desired_zeroed(void **state) {
        Fixture *f = *state;
        node(f, "alpha", "10.0.0.1", "8.4", NULL);
        node(f, "beta", "10.0.0.2", "8.4", NULL);
        node(f, "gamma", "10.0.0.3", "8.4", NULL);
        const char *thin[] = { "alpha", "beta" };
        for (size_t i = 0; i < ELEMENTSOF(thin); i++) {
                json_t *o = json_pack("{s:s, s:s, s:I}", "volume-group", "vg", "thin-pool", "thin", "capacity", CAP(100));
                OK(service_pool_create(f->s, thin[i], "tp", "lvm-thin", o, ret_msg));
                json_decref(o);
        }
        lvm_pool(f, "gamma", "thick", 100);
        json_t *o = json_pack("{s:i, s:[s]}", "place-count", 2, "storage-pools", "tp");
        OK(service_rg_create(f->s, "thin", o, ret_msg));
        json_decref(o);
        OK(service_spawn(f->s, "thin", "t1", GIB, NULL, ret_msg));
        json_t *a = desired_of(f, "alpha", "t1"), *b = desired_of(f, "beta", "t1");
        assert_true(json_get_bool(a, "zeroed", false));
        assert_true(json_get_bool(b, "zeroed", false));
        assert_int_equal(json_get_int(a, "peers", -1), 1);
        /* exactly one side starts the volume */
        assert_true(json_get_bool(a, "initial-sync-source", false) != json_get_bool(b, "initial-sync-source", false));
        json_decref(a);
        json_decref(b);

        /* One diskful replica on a thick pool: its extents hold whatever
         * was there, so the volume is synced. */
        OK(service_rd_create(f->s, "mixed", NULL, ret_msg));
        OK(service_vd_create(f->s, "mixed", GIB, NULL, NULL, ret_msg));
        replica_in_pool(f, "mixed", "alpha", "tp");
        replica_in_pool(f, "mixed", "gamma", "thick");
        assert_false(desired_zeroed(f, "alpha", "mixed"));

        /* A clone carries its source's data: synced as well. */
        o = json_pack("{s:s}", "resource-group", "thin");
        OK(service_rd_clone(f->s, "t1", "t1c", o, ret_msg));
        json_decref(o);
        assert_false(desired_zeroed(f, "alpha", "t1c"));
}

/* Does some line of the plan contain every one of the NULL-terminated words? */
static void assert_plan(Fixture *f, const char *node, const char *const want[]) {
        _cleanup_(json_decrefp) json_t *plan = NULL;
        size_t n = 0;
        OK(service_plan_commands(f->s, "r1", node, &plan, ret_msg));
        for (; want[n]; n++) {
                assert_true(n < json_array_size(plan));
                assert_string_equal(json_string_value(json_array_get(plan, n)), want[n]);
        }
        assert_int_equal(json_array_size(plan), n);
}

static void test_plan_commands(void **state) {
        Fixture *f = *state;
        json_t *plan = NULL, *o;
        node(f, "lvm", "10.0.0.1", NULL, NULL);
        node(f, "thin", "10.0.0.2", NULL, NULL);
        node(f, "file", "10.0.0.3", NULL, NULL);
        node(f, "client", "10.0.0.4", NULL, NULL);
        lvm_pool(f, "lvm", "pool1", 100);
        o = json_pack("{s:s, s:s}", "volume-group", "vg", "thin-pool", "tp");
        OK(service_pool_create(f->s, "thin", "pool1", "lvm-thin", o, ret_msg));
        json_decref(o);
        o = json_pack("{s:s}", "directory", "/srv/images");
        OK(service_pool_create(f->s, "file", "pool1", "file", o, ret_msg));
        json_decref(o);
        spawn_setup(f, "r1", 1);
        OK(service_resource_create(f->s, "r1", "lvm", NULL, ret_msg));
        OK(service_resource_create(f->s, "r1", "thin", NULL, ret_msg));
        OK(service_resource_create(f->s, "r1", "file", NULL, ret_msg));
        o = json_pack("{s:b}", "diskless", 1);
        OK(service_resource_create(f->s, "r1", "client", o, ret_msg));
        json_decref(o);

        /* The agent's own plan, recorded: exactly its commands, in its order
         * (lvm holds node-id 0, the initial-sync source of a thick volume). */
        assert_plan(f, "lvm", (const char *const[]) {
                "# write (mode 0600) /var/lib/drbdd/res/r1.res",
                "lvcreate --yes --wipesignatures y --zero y --addtag drbdd --size 1052672k --name r1_00000 drbdpool",
                "drbdadm -c /var/lib/drbdd/drbd.conf create-md --force --max-peers=7 r1/0",
                "drbdadm -c /var/lib/drbdd/drbd.conf up r1",
                "drbdadm -c /var/lib/drbdd/drbd.conf primary --force r1",
                "drbdadm -c /var/lib/drbdd/drbd.conf secondary r1",
                NULL });
        assert_plan(f, "thin", (const char *const[]) {
                "# write (mode 0600) /var/lib/drbdd/res/r1.res",
                "lvcreate --yes --wipesignatures n --addtag drbdd --type thin --virtualsize 1052672k --thinpool tp "
                "--name r1_00000 vg",
                "drbdadm -c /var/lib/drbdd/drbd.conf create-md --force --max-peers=7 r1/0",
                "drbdadm -c /var/lib/drbdd/drbd.conf up r1",
                NULL });
        assert_plan(f, "file", (const char *const[]) {
                "# write (mode 0600) /var/lib/drbdd/res/r1.res",
                "# create /srv/images/r1_00000.img (mode 0600, sparse, 1048840 KiB)",
                "losetup --find --show --direct-io=on /srv/images/r1_00000.img",
                "drbdadm -c /var/lib/drbdd/drbd.conf create-md --force --max-peers=7 r1/0",
                "drbdadm -c /var/lib/drbdd/drbd.conf up r1",
                NULL });
        assert_plan(f, "client", (const char *const[]) {
                "# write (mode 0600) /var/lib/drbdd/res/r1.res",
                "drbdadm -c /var/lib/drbdd/drbd.conf up r1",
                NULL });

        FAILS(-ENOENT, service_plan_commands(f->s, "r1", "nosuch", &plan, ret_msg));
        FAILS(-ENOENT, service_plan_commands(f->s, "nosuch", "lvm", &plan, ret_msg));
}

/* Health words from an observed object's kernel part, as the agent writes it. */
static char *health_of(const char *kernel_json) {
        _cleanup_(json_decrefp) json_t *k = kernel_json ? json_loads(kernel_json, 0, NULL) : NULL, *h = NULL;
        assert_true(!kernel_json || k);
        assert_int_equal(service_replica_health(k, &h), 0);
        return json_dumps(h, JSON_COMPACT);
}

static void test_replica_health(void **state) {
        struct { const char *kernel, *want; } cases[] = {
                { NULL, "[]" },
                { "{\"role\":\"Primary\",\"suspended\":\"no\",\"devices\":[{\"volume\":0,\"disk\":\"UpToDate\",\"client\":false,"
                  "\"quorum\":true,\"size-kib\":1048576}],\"connections\":[{\"peer-node-id\":1,\"name\":\"vm2\",\"connection\":"
                  "\"Connected\",\"peer-devices\":[{\"volume\":0,\"replication\":\"Established\",\"peer-disk\":\"UpToDate\","
                  "\"out-of-sync-kib\":0}]},{\"peer-node-id\":2,\"name\":\"vm3\",\"connection\":\"Connected\",\"peer-devices\":"
                  "[{\"volume\":0,\"peer-disk\":\"Diskless\",\"peer-client\":true}]}]}",
                  "[]" },
                /* power-off of vm2: degraded, out of sync growing */
                { "{\"devices\":[{\"volume\":0,\"disk\":\"UpToDate\",\"quorum\":true,\"size-kib\":1000}],\"connections\":"
                  "[{\"name\":\"vm2\",\"connection\":\"Connecting\",\"peer-devices\":[{\"volume\":0,\"peer-disk\":\"DUnknown\","
                  "\"out-of-sync-kib\":125}]}]}",
                  "[\"degraded(vm2 Connecting)\",\"out-of-sync 12.5%(vm2)\"]" },
                /* quorum lost, I/O suspended, StandAlone towards vm3 */
                { "{\"suspended\":\"quorum\",\"devices\":[{\"volume\":0,\"disk\":\"Outdated\",\"quorum\":false}],"
                  "\"connections\":[{\"name\":\"vm3\",\"connection\":\"StandAlone\",\"peer-devices\":[]}]}",
                  "[\"quorum lost\",\"suspended(quorum)\",\"split brain?(vm3 StandAlone)\"]" },
                /* a diskful replica that lost its disk; a connected peer resyncing */
                { "{\"devices\":[{\"volume\":0,\"disk\":\"Diskless\",\"client\":false,\"quorum\":true}],\"connections\":"
                  "[{\"name\":\"vm2\",\"connection\":\"Connected\",\"peer-devices\":[{\"volume\":0,\"peer-disk\":\"Inconsistent\","
                  "\"out-of-sync-kib\":7}]}]}",
                  "[\"diskless\",\"out-of-sync 7 KiB(vm2)\",\"peer Inconsistent(vm2)\"]" },
                /* a client is not "diskless" */
                { "{\"devices\":[{\"volume\":0,\"disk\":\"Diskless\",\"client\":true,\"quorum\":true}],\"connections\":[]}",
                  "[]" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = health_of(cases[i].kernel);
                assert_string_equal(got, cases[i].want);
        }
}

/* ---- pool usage reads once for all pools ---- */

/* Counts the reads that reach the store (the SQLite store behind). */
typedef struct Counting {
        Store base;
        Store *real;
        unsigned reads;
} Counting;

static int cnt_get(Store *s, const char *key, StoreKV *ret) {
        Counting *c = (Counting *) s;
        c->reads++;
        return store_get(c->real, key, ret);
}
static int cnt_range(Store *s, const char *prefix, StoreKVList *ret) {
        Counting *c = (Counting *) s;
        c->reads++;
        return store_range(c->real, prefix, ret);
}
static int cnt_txn(Store *s, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops, int64_t *ret_rev) {
        return store_txn(((Counting *) s)->real, cmp, n_cmp, ops, n_ops, ret_rev);
}
static int cnt_revision(Store *s, int64_t *ret) {
        return store_revision(((Counting *) s)->real, ret);
}
static void cnt_close(Store *s) {
        free(s);
}
static const StoreOps counting_ops = {
        .scheme = "counting", .close = cnt_close, .get = cnt_get, .range = cnt_range, .txn = cnt_txn,
        .revision = cnt_revision,
};

/* Reads of one storage-pool listing; also checks that the pools' allocated
 * KiB add up to what the replicas' volumes say. */
static unsigned pool_list_reads(Fixture *f, Counting *c) {
        unsigned before = c->reads;
        json_t *l = list(f, "storage-pool", NULL), *e;
        unsigned reads = c->reads - before;
        json_t *r = list(f, "resource", NULL);
        int64_t alloc = 0, backing = 0;
        size_t i, j;
        json_array_foreach(l, i, e)
                alloc += json_get_int(e, "allocated-kib", 0);
        json_array_foreach(r, i, e) {
                json_t *v;
                json_array_foreach(json_object_get(e, "volumes"), j, v)
                        backing += json_get_int(v, "backing-kib", 0);
        }
        assert_true(backing > 0);
        assert_int_equal(alloc, backing);
        json_decref(l);
        json_decref(r);
        return reads;
}

/* f's Service, now on a counting store in front of f's SQLite store. */
static Counting *counting_service(Fixture *f) {
        Counting *c = calloc(1, sizeof *c);
        assert_non_null(c);
        *c = (Counting) { .base.ops = &counting_ops, .real = f->st };
        ServiceConfig cfg;
        service_config_defaults(&cfg);
        service_free(f->s);
        assert_int_equal(service_new(&c->base, &cfg, &f->s), 0);
        return c;
}

static void test_pool_usage_reads(void **state) {
        Fixture *f = *state;
        Counting *c = counting_service(f);
        for (unsigned n = 0; n < 4; n++) {
                char name[16], addr[16];
                snprintf(name, sizeof name, "n%u", n);
                snprintf(addr, sizeof addr, "10.0.0.%u", n + 1);
                node(f, name, addr, NULL, NULL);
                lvm_pool(f, name, "pool1", 100);
        }
        for (unsigned i = 0; i < 12; i++) {
                char rd[16];
                snprintf(rd, sizeof rd, "r%u", i);
                OK(service_rd_create(f->s, rd, NULL, ret_msg));
                OK(service_vd_create(f->s, rd, (i + 1) * GIB, NULL, NULL, ret_msg));
                OK(service_autoplace(f->s, rd, NULL, ret_msg));
        }
        unsigned small = pool_list_reads(f, c);
        /* Twice the pools and replicas: the listing reads as often as before
         * (it read every replica once per pool, and each one's definition). */
        for (unsigned n = 4; n < 8; n++) {
                char name[16], addr[16];
                snprintf(name, sizeof name, "n%u", n);
                snprintf(addr, sizeof addr, "10.0.0.%u", n + 1);
                node(f, name, addr, NULL, NULL);
                lvm_pool(f, name, "pool1", 100);
        }
        unsigned before = c->reads;
        for (unsigned i = 12; i < 24; i++) {
                char rd[16];
                snprintf(rd, sizeof rd, "r%u", i);
                OK(service_rd_create(f->s, rd, NULL, ret_msg));
                OK(service_vd_create(f->s, rd, GIB, NULL, NULL, ret_msg));
                unsigned mark = c->reads;
                OK(service_autoplace(f->s, rd, NULL, ret_msg));
                /* Placement over 8 pools: a fixed number of reads, not some per pool. */
                assert_in_range(c->reads - mark, 1, 12);
        }
        assert_true(c->reads > before);
        assert_int_equal(pool_list_reads(f, c), small);
        service_free(f->s);
        f->s = NULL;
        free(c);
}

/* The agent's desired state and the resource listing read the store a
 * fixed number of times, however many resources there are (they read each
 * resource's definition, replicas, group, nodes and pools, twice for the
 * desired state: ~11 reads a resource, milliseconds each on etcd). */
static unsigned many_reads(Fixture *f, Counting *c) {
        _cleanup_(json_decrefp) json_t *desired = NULL;
        unsigned before = c->reads;
        OK(service_node_desired(f->s, "n0", &desired, ret_msg));
        json_decref(list(f, "resource", NULL));
        return c->reads - before;
}

static void add_resources(Fixture *f, unsigned from, unsigned to) {
        for (unsigned i = from; i < to; i++) {
                char rd[16];
                snprintf(rd, sizeof rd, "r%u", i);
                OK(service_rd_create(f->s, rd, NULL, ret_msg));
                OK(service_vd_create(f->s, rd, GIB, NULL, NULL, ret_msg));
                OK(service_autoplace(f->s, rd, NULL, ret_msg));
        }
}

static void test_many_resource_reads(void **state) {
        Fixture *f = *state;
        Counting *c = counting_service(f);
        node(f, "n0", "10.0.0.1", NULL, NULL);
        lvm_pool(f, "n0", "pool1", 100);
        node(f, "n1", "10.0.0.2", NULL, NULL);
        lvm_pool(f, "n1", "pool1", 100);
        add_resources(f, 0, 3);
        unsigned small = many_reads(f, c);
        add_resources(f, 3, 12);
        _cleanup_(json_decrefp) json_t *desired = NULL;
        OK(service_node_desired(f->s, "n0", &desired, ret_msg));
        assert_int_equal(json_array_size(json_object_get(desired, "resources")), 12);
        assert_int_equal(many_reads(f, c), small);
        service_free(f->s);
        f->s = NULL;
        free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pools, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resource_groups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_definitions_and_resources, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allocation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allocation_exhaustion, setup_tiny, teardown),
                cmocka_unit_test_setup_teardown(test_sizing_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(test_autoplace_tiebreaker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leader_pass_slices, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leader_attached_tiebreaker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leader_auto_diskful, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sync_source_fixed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_toggle_disk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_autoplace_drbd84, setup, teardown),
                cmocka_unit_test_setup_teardown(test_autoplace_diskless_on_remaining, setup, teardown),
                cmocka_unit_test_setup_teardown(test_autoplace_failure_domains, setup, teardown),
                cmocka_unit_test_setup_teardown(test_autoplace_capacity, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spawn, setup, teardown),
                cmocka_unit_test_setup_teardown(test_txn_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_one_revision, setup, teardown),
                cmocka_unit_test_setup_teardown(test_validation_leaves_store_unchanged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_commit_fault, setup, teardown),
                cmocka_unit_test(test_read_failed),
                cmocka_unit_test_setup_teardown(test_render_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plan_commands, setup, teardown),
                cmocka_unit_test_setup_teardown(test_node_desired_zeroed, setup, teardown),
                cmocka_unit_test(test_replica_health),
                cmocka_unit_test_setup_teardown(test_pool_usage_reads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many_resource_reads, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
