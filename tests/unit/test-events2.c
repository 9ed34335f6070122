/* Unit tests for kmod/events2.c: line parser (real 8.4 and 9 output, hostile input), state model, splitter, JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "json-util.h"
#include "macro.h"
#include "kmod/events2.h"

/* Captured in the lab: Debian 12, DRBD 8.4.11, drbd-utils 9.22,
 * `drbdsetup events2 --timestamps --statistics all` on the sync target
 * while the peer was made primary (--force), shortened where repetitive. */
static const char *const stream_84[] = {
        "2026-11-21T08:37:57.750792+00:00 exists -",
        "2026-11-21T08:37:58.284314+00:00 create resource name:r0 role:Secondary suspended:no write-ordering:flush",
        "2026-11-21T08:37:58.340587+00:00 create device name:r0 volume:0 minor:0 disk:Diskless size:0 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no blocked:no",
        "2026-11-21T08:37:58.685165+00:00 change device name:r0 volume:0 minor:0 disk:Attaching size:0 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:1 blocked:upper",
        "2026-11-21T08:37:58.714379+00:00 change device name:r0 volume:0 minor:0 disk:Inconsistent size:32728 read:0 written:0 al-writes:8 bm-writes:0 upper-pending:0 lower-pending:2 al-suspended:yes blocked:no",
        "2026-11-21T08:37:58.823268+00:00 create connection name:r0 peer-node-id:0 conn-name:peer connection:StandAlone role:Unknown congested:no",
        "2026-11-21T08:37:58.823268+00:00 create peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Off peer-disk:DUnknown resync-suspended:no received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:37:58.827854+00:00 change connection name:r0 peer-node-id:0 conn-name:peer connection:Unconnected",
        "2026-11-21T08:37:58.831614+00:00 change connection name:r0 peer-node-id:0 conn-name:peer connection:Connecting",
        "2026-11-21T08:37:59.402207+00:00 change connection name:r0 peer-node-id:0 conn-name:peer connection:Connected",
        "2026-11-21T08:37:59.423912+00:00 change connection name:r0 peer-node-id:0 conn-name:peer role:Secondary",
        "2026-11-21T08:37:59.423912+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Established peer-disk:Inconsistent received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:38:01.159447+00:00 change connection name:r0 peer-node-id:0 conn-name:peer role:Primary",
        "2026-11-21T08:38:01.159447+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 peer-disk:UpToDate received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:38:01.167824+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:WFBitMapT received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:38:01.173531+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:WFSyncUUID received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:38:01.277224+00:00 call helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:before-resync-target",
        "2026-11-21T08:38:01.321490+00:00 response helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:before-resync-target status:0",
        "2026-11-21T08:38:01.322315+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:SyncTarget received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:38:05.000000+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 received:20000 sent:0 out-of-sync:12728 pending:0 unacked:0",
};

/* The tail of the same capture: sync finished. */
static const char *const stream_84_done[] = {
        "2026-11-21T08:38:09.557115+00:00 call helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:after-resync-target",
        "2026-11-21T08:38:09.607691+00:00 response helper name:r0 peer-node-id:0 conn-name:peer volume:0 minor:0 helper:after-resync-target status:0",
        "2026-11-21T08:38:09.609944+00:00 change device name:r0 volume:0 minor:0 disk:UpToDate size:32728 read:0 written:32728 al-writes:8 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no",
        "2026-11-21T08:38:09.609944+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Established received:32728 sent:0 out-of-sync:0 pending:0 unacked:0",
};

/* DRBD 9 (`drbdsetup events2 --now --full` on a 3-node cluster with a
 * diskless client), as documented and printed by drbd-utils 9.x. */
static const char *const dump_9[] = {
        "exists resource name:vol-1 role:Primary suspended:no write-ordering:flush may_promote:no promotion_score:10102",
        "exists connection name:vol-1 peer-node-id:1 conn-name:beta connection:Connected role:Secondary congested:no ap-in-flight:0 rs-in-flight:0",
        "exists connection name:vol-1 peer-node-id:2 conn-name:gamma connection:Connected role:Secondary congested:no ap-in-flight:0 rs-in-flight:0",
        "exists path name:vol-1 peer-node-id:1 conn-name:beta local:ipv4:10.0.0.1:7000 peer:ipv4:10.0.0.2:7000 established:yes",
        "exists path name:vol-1 peer-node-id:2 conn-name:gamma local:ipv6:[fd00::1]:7000 peer:ipv6:[fd00::3]:7000 established:yes",
        "exists device name:vol-1 volume:0 minor:1000 backing_dev:/dev/vg/vol-1_00000 disk:UpToDate client:no quorum:yes open:yes size:1048576 read:1234 written:5678 al-writes:12 bm-writes:3 upper-pending:0 lower-pending:0 al-suspended:no blocked:no",
        "exists peer-device name:vol-1 peer-node-id:1 conn-name:beta volume:0 replication:SyncSource peer-disk:Inconsistent peer-client:no resync-suspended:no received:0 sent:389120 out-of-sync:659456 pending:0 unacked:0 done:37.12 eta:61 dbdt1:6400.00",
        "exists peer-device name:vol-1 peer-node-id:2 conn-name:gamma volume:0 replication:Established peer-disk:Diskless peer-client:yes resync-suspended:no received:0 sent:0 out-of-sync:0 pending:0 unacked:0",
        "exists -",
};

static Events2Event parse_ok(const char *line) {
        Events2Event e;
        int r = events2_parse_line(line, &e);
        if (r != 0)
                fail_msg("rejected (%d): %s", r, line);
        return e;
}

static DrbdState *state_from(const char *const *lines, size_t n, DrbdState *s) {
        if (!s)
                assert_int_equal(drbd_state_new(&s), 0);
        for (size_t i = 0; i < n; i++) {
                Events2Event e = parse_ok(lines[i]);
                int r = drbd_state_apply(s, &e);
                if (r != 0)
                        fail_msg("not applied (%d): %s", r, lines[i]);
        }
        return s;
}

static void test_string_tables(void **state) {
#define ROUND_TRIP(to, from, max)                                         \
        for (int i = 0; i < (max); i++) {                                 \
                const char *str = to(i);                                  \
                assert_non_null(str);                                     \
                assert_int_equal(from(str), i);                           \
        }                                                                 \
        assert_null(to(max));                                             \
        assert_null(to(-1));                                              \
        assert_int_equal(from(NULL), -EINVAL);                            \
        assert_int_equal(from(""), -EINVAL);
        ROUND_TRIP(events2_action_to_string, events2_action_from_string, _EVENTS2_ACTION_MAX);
        ROUND_TRIP(events2_object_to_string, events2_object_from_string, _EVENTS2_OBJECT_MAX);
        ROUND_TRIP(drbd_role_to_string, drbd_role_from_string, _DRBD_ROLE_MAX);
        ROUND_TRIP(drbd_conn_state_to_string, drbd_conn_state_from_string, _DRBD_CONN_MAX);
        ROUND_TRIP(drbd_disk_state_to_string, drbd_disk_state_from_string, _DRBD_DISK_MAX);
        ROUND_TRIP(drbd_repl_state_to_string, drbd_repl_state_from_string, _DRBD_REPL_MAX);
#undef ROUND_TRIP
        assert_string_equal(events2_object_to_string(EVENTS2_END_OF_DUMP), "-");
        assert_string_equal(events2_object_to_string(EVENTS2_PEER_DEVICE), "peer-device");
        assert_string_equal(drbd_disk_state_to_string(DRBD_DISK_DUNKNOWN), "DUnknown");
        assert_string_equal(drbd_repl_state_to_string(DRBD_REPL_WF_BITMAP_S), "WFBitMapS");
        assert_int_equal(drbd_disk_state_from_string("uptodate"), -EINVAL); /* case matters */
        assert_true(drbd_repl_state_is_resync(DRBD_REPL_PAUSED_SYNC_T));
        assert_false(drbd_repl_state_is_resync(DRBD_REPL_ESTABLISHED));
        assert_false(drbd_repl_state_is_resync(DRBD_REPL_VERIFY_S));
}

static void test_parse_lines(void **state) {
        Events2Event e;

        e = parse_ok("exists resource name:r0 role:Secondary suspended:no");
        assert_int_equal(e.action, EVENTS2_EXISTS);
        assert_int_equal(e.object, EVENTS2_RESOURCE);
        assert_string_equal(e.name, "r0");
        assert_int_equal(e.role, DRBD_ROLE_SECONDARY);
        assert_string_equal(e.suspended, "no");
        assert_int_equal(e.fields, EVENTS2_F_NAME | EVENTS2_F_ROLE | EVENTS2_F_SUSPENDED);

        e = parse_ok("change connection name:r0 peer-node-id:1 conn-name:peer connection:Connected role:Secondary");
        assert_int_equal(e.action, EVENTS2_CHANGE);
        assert_int_equal(e.object, EVENTS2_CONNECTION);
        assert_int_equal(e.peer_node_id, 1);
        assert_string_equal(e.conn_name, "peer");
        assert_int_equal(e.connection, DRBD_CONN_CONNECTED);
        assert_int_equal(e.role, DRBD_ROLE_SECONDARY);

        e = parse_ok("exists device name:r0 volume:0 minor:1000 disk:UpToDate client:no quorum:yes");
        assert_int_equal(e.minor, 1000);
        assert_int_equal(e.disk, DRBD_DISK_UPTODATE);
        assert_true(e.fields & EVENTS2_F_CLIENT);
        assert_false(e.client);
        assert_true(e.quorum);
        assert_false(e.fields & EVENTS2_F_SIZE);

        e = parse_ok("exists peer-device name:r0 peer-node-id:1 conn-name:peer volume:0 replication:SyncTarget "
                     "peer-disk:UpToDate resync-suspended:user,peer done:37.12");
        assert_int_equal(e.replication, DRBD_REPL_SYNC_TARGET);
        assert_int_equal(e.peer_disk, DRBD_DISK_UPTODATE);
        assert_string_equal(e.resync_suspended, "user,peer");
        assert_true(e.fields & EVENTS2_F_DONE);
        assert_float_equal(e.done, 37.12, 1e-9);

        e = parse_ok("exists -");
        assert_int_equal(e.object, EVENTS2_END_OF_DUMP);
        assert_int_equal(e.fields, 0);

        e = parse_ok("2026-11-21T08:38:01.321490+00:00 response helper name:r0 peer-node-id:0 conn-name:peer "
                     "volume:0 minor:0 helper:before-resync-target status:0");
        assert_string_equal(e.timestamp, "2026-11-21T08:38:01.321490+00:00");
        assert_true(e.fields & EVENTS2_F_TIMESTAMP);
        assert_int_equal(e.action, EVENTS2_RESPONSE);
        assert_string_equal(e.helper, "before-resync-target");
        assert_int_equal(e.status, 0);

        e = parse_ok("rename resource name:old new_name:new");
        assert_string_equal(e.new_name, "new");
        e = parse_ok("destroy resource name:r0");
        assert_int_equal(e.action, EVENTS2_DESTROY);
        e = parse_ok("response helper name:r0 helper:fence-peer status:-1");
        assert_int_equal(e.status, -1);
        e = parse_ok("2024-01-02T03:04:05Z change resource name:x role:Primary");
        assert_string_equal(e.timestamp, "2024-01-02T03:04:05Z");
        /* Tolerated: CR line ending, repeated spaces, unknown keys (also empty values). */
        e = parse_ok("change device name:r0  volume:3 disk:Failed future-key: other_key:a:b:c\r");
        assert_int_equal(e.volume, 3);
        assert_int_equal(e.disk, DRBD_DISK_FAILED);
        e = parse_ok("change peer-device name:r0 peer-node-id:31 volume:65535 done:100");
        assert_float_equal(e.done, 100.0, 0);
        e = parse_ok("change device name:r0 volume:0 size:18446744073709551615");
        assert_true(e.size_kib == UINT64_MAX);

        for (size_t i = 0; i < ELEMENTSOF(stream_84); i++)
                parse_ok(stream_84[i]);
        for (size_t i = 0; i < ELEMENTSOF(dump_9); i++)
                parse_ok(dump_9[i]);
}

static void test_parse_bad(void **state) {
        static const char *const bad[] = {
                "",
                " ",
                "exists",
                "exists resource",                                   /* no name */
                "bogus resource name:r0",
                "exists thing name:r0",
                "EXISTS resource name:r0",
                "exists - name:r0",                                  /* end marker has no fields */
                "change -",
                "call resource name:r0",                             /* call is for helpers */
                "change helper name:r0 helper:x",
                "rename device name:r0 volume:0 new_name:x",
                "rename resource name:r0",                           /* new_name missing */
                "exists resource name: role:Primary",                /* empty name */
                "exists resource name:r0 role:Master",               /* unknown state word */
                "exists resource name:r0 role:primary",
                "exists resource name:r0 role:Primary role:Secondary", /* duplicate */
                "exists resource name:r0 name:r1",
                "exists resource name:r0 garbage",                   /* no colon */
                "exists resource name:r0 :x",                        /* empty key */
                "exists resource name:r0 Key:x",                     /* key charset */
                "exists resource name:r0 k!y:x",
                "exists resource name:r0 suspended:yes,",            /* word list */
                "exists resource name:r0 suspended:,user",
                "exists resource name:r0 suspended:user,,quorum",
                "exists resource name:r0 suspended:User",
                "exists connection name:r0 conn-name:peer",          /* peer-node-id missing */
                "exists connection name:r0 peer-node-id:32",         /* out of range */
                "exists connection name:r0 peer-node-id:-1",
                "exists connection name:r0 peer-node-id:+1",
                "exists connection name:r0 peer-node-id:1x",
                "exists connection name:r0 peer-node-id:",
                "exists connection name:r0 peer-node-id:0x1",
                "exists device name:r0",                             /* volume missing */
                "exists device name:r0 volume:65536",
                "exists device name:r0 volume:0 minor:1048576",
                "exists device name:r0 volume:0 client:maybe",
                "exists device name:r0 volume:0 size:18446744073709551616", /* overflow */
                "exists device name:r0 volume:0 size:99999999999999999999999",
                "exists peer-device name:r0 peer-node-id:1 volume:0 done:100.01",
                "exists peer-device name:r0 peer-node-id:1 volume:0 done:1000",
                "exists peer-device name:r0 peer-node-id:1 volume:0 done:37.",
                "exists peer-device name:r0 peer-node-id:1 volume:0 done:.5",
                "exists peer-device name:r0 peer-node-id:1 volume:0 done:3,5",
                "exists peer-device name:r0 peer-node-id:1 volume:0 done:1.1234567",
                "exists peer-device name:r0 volume:0",               /* peer-node-id missing */
                "call helper name:r0",                               /* helper missing */
                "response helper name:r0 helper:x status:4294967296",
                "2026-11-21 exists -",                               /* bad timestamps */
                "2026-11-21T08:38:01 exists -",
                "2026-11-21T08:38:01.+00:00 exists -",
                "2026-11-21T08:38:01.1234567890+00:00 exists -",
                "2026-11-21T08:38:01.123+0000 exists -",
                "2026-11-21T08:38:01.123+00:00",                     /* timestamp only */
                "1 exists -",
                "exists resource name:r\tx",                         /* control characters */
                "exists resource name:r0\x1b[31m",
                "exists resource name:r0\n",
                "exists resource name:r\xc3\xa9",                    /* non-ASCII */
                "exists resource name:r0\r\r",
        };
        Events2Event e;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                memset(&e, 0xaa, sizeof(e));
                if (events2_parse_line(bad[i], &e) != -EINVAL)
                        fail_msg("accepted: '%s'", bad[i]);
                assert_int_equal(((unsigned char *) &e)[0], 0xaa); /* untouched */
        }
        assert_int_equal(events2_parse_line(NULL, &e), -EINVAL);
        assert_int_equal(events2_parse_line("exists -", NULL), -EINVAL);

        /* Names: up to EVENTS2_NAME_MAX characters. */
        char line[EVENTS2_LINE_MAX + 64];
        char name[EVENTS2_NAME_MAX + 2];
        memset(name, 'n', sizeof(name));
        name[EVENTS2_NAME_MAX] = 0;
        snprintf(line, sizeof(line), "exists resource name:%s", name);
        assert_string_equal(parse_ok(line).name, name);
        name[EVENTS2_NAME_MAX] = 'n';
        name[EVENTS2_NAME_MAX + 1] = 0;
        snprintf(line, sizeof(line), "exists resource name:%s", name);
        assert_int_equal(events2_parse_line(line, &e), -EINVAL);

        /* Line length: EVENTS2_LINE_MAX is fine, one more is not. */
        int n = snprintf(line, sizeof(line), "exists resource name:r0 x:");
        memset(line + n, 'y', sizeof(line) - (size_t) n);
        line[EVENTS2_LINE_MAX] = 0;
        assert_int_equal(events2_parse_line(line, &e), 0);
        line[EVENTS2_LINE_MAX] = 'y';
        line[EVENTS2_LINE_MAX + 1] = 0;
        assert_int_equal(events2_parse_line(line, &e), -EINVAL);

        /* Too many tokens. */
        n = snprintf(line, sizeof(line), "exists resource name:r0");
        for (int i = 0; i < 200 && n < EVENTS2_LINE_MAX - 8; i++)
                n += snprintf(line + n, sizeof(line) - (size_t) n, " k:%d", i);
        assert_int_equal(events2_parse_line(line, &e), -EINVAL);
}

static void test_state_84_stream(void **state) {
        _cleanup_json_ json_t *j = NULL;
        DrbdState *s = state_from(stream_84, ELEMENTSOF(stream_84), NULL);
        const DrbdResource *r;
        const DrbdConnection *c;
        const DrbdDevice *d;
        const DrbdPeerDevice *pd;
        double progress = -1;

        assert_true(drbd_state_dump_complete(s));
        assert_int_equal(drbd_state_n_resources(s), 1);
        r = drbd_state_resource(s, 0);
        assert_non_null(r);
        assert_null(drbd_state_resource(s, 1));
        assert_ptr_equal(drbd_state_find_resource(s, "r0"), r);
        assert_null(drbd_state_find_resource(s, "r1"));
        assert_int_equal(r->role, DRBD_ROLE_SECONDARY);

        d = drbd_resource_find_device(r, 0);
        assert_non_null(d);
        assert_int_equal(d->disk, DRBD_DISK_INCONSISTENT);
        assert_int_equal(d->size_kib, 32728);
        assert_false(d->has_client); /* 8.4 never says */

        c = drbd_resource_find_connection(r, 0);
        assert_non_null(c);
        assert_string_equal(c->conn_name, "peer");
        assert_int_equal(c->connection, DRBD_CONN_CONNECTED);
        assert_int_equal(c->peer_role, DRBD_ROLE_PRIMARY);
        pd = drbd_connection_find_peer_device(c, 0);
        assert_non_null(pd);
        assert_int_equal(pd->replication, DRBD_REPL_SYNC_TARGET);
        assert_int_equal(pd->peer_disk, DRBD_DISK_UPTODATE);
        assert_int_equal(pd->out_of_sync_kib, 12728);
        assert_false(pd->has_done);
        /* 8.4 prints no done:, progress comes from out-of-sync / size. */
        assert_int_equal(drbd_peer_device_sync_progress(r, pd, &progress), 0);
        assert_float_equal(progress, 61.10, 0.001);

        assert_int_equal(drbd_state_to_json(s, &j), 0);
        json_t *jpd = json_array_get(json_object_get(json_array_get(json_object_get(
                                json_array_get(json_object_get(j, "resources"), 0), "connections"), 0), "peer_devices"), 0);
        assert_string_equal(json_get_str(jpd, "replication", NULL), "SyncTarget");
        assert_float_equal(json_real_value(json_object_get(jpd, "sync_progress")), 61.10, 0.001);

        /* Sync finished: progress gone, disk UpToDate. */
        state_from(stream_84_done, ELEMENTSOF(stream_84_done), s);
        r = drbd_state_find_resource(s, "r0");
        pd = drbd_connection_find_peer_device(drbd_resource_find_connection(r, 0), 0);
        assert_int_equal(pd->replication, DRBD_REPL_ESTABLISHED);
        assert_int_equal(drbd_resource_find_device(r, 0)->disk, DRBD_DISK_UPTODATE);
        assert_int_equal(drbd_peer_device_sync_progress(r, pd, &progress), -ENODATA);
        drbd_state_free(s);
}

static void test_state_9_dump(void **state) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *dump = NULL;
        DrbdState *s = state_from(dump_9, ELEMENTSOF(dump_9), NULL);
        const DrbdResource *r = drbd_state_find_resource(s, "vol-1");
        double progress;

        assert_non_null(r);
        assert_int_equal(r->n_connections, 2);
        assert_int_equal(r->connections[0].peer_node_id, 1);
        assert_int_equal(r->connections[1].peer_node_id, 2);
        assert_true(r->has_may_promote);
        assert_false(r->may_promote);
        const DrbdDevice *d = drbd_resource_find_device(r, 0);
        assert_int_equal(d->minor, 1000);
        assert_true(d->has_client && !d->client);
        assert_true(d->has_quorum && d->quorum);
        assert_true(d->has_open && d->open);
        const DrbdPeerDevice *pd = drbd_connection_find_peer_device(&r->connections[0], 0);
        assert_true(pd->has_done);
        assert_int_equal(drbd_peer_device_sync_progress(r, pd, &progress), 0);
        assert_float_equal(progress, 37.12, 1e-9); /* done: wins over the derived value */
        pd = drbd_connection_find_peer_device(&r->connections[1], 0);
        assert_int_equal(pd->peer_disk, DRBD_DISK_DISKLESS);
        assert_true(pd->peer_client);

        assert_int_equal(drbd_state_to_json(s, &j), 0);
        dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
        assert_string_equal(dump,
                "{\"dump_complete\":true,\"resources\":[{\"connections\":["
                "{\"conn_name\":\"beta\",\"connection\":\"Connected\",\"peer_devices\":[{\"out_of_sync_kib\":659456,"
                "\"peer_client\":false,\"peer_disk\":\"Inconsistent\",\"replication\":\"SyncSource\","
                "\"resync_suspended\":\"no\",\"sync_progress\":37.12,\"volume\":0}],\"peer_node_id\":1,\"peer_role\":\"Secondary\"},"
                "{\"conn_name\":\"gamma\",\"connection\":\"Connected\",\"peer_devices\":[{\"out_of_sync_kib\":0,"
                "\"peer_client\":true,\"peer_disk\":\"Diskless\",\"replication\":\"Established\","
                "\"resync_suspended\":\"no\",\"volume\":0}],\"peer_node_id\":2,\"peer_role\":\"Secondary\"}],"
                "\"devices\":[{\"client\":false,\"disk\":\"UpToDate\",\"minor\":1000,\"open\":true,\"quorum\":true,"
                "\"size_kib\":1048576,\"volume\":0}],\"may_promote\":false,\"name\":\"vol-1\",\"role\":\"Primary\","
                "\"suspended\":\"no\"}]}");
        drbd_state_free(s);
}

static void test_state_lifecycle(void **state) {
        static const char *const create[] = {
                "create resource name:b role:Secondary suspended:no",
                "create resource name:a role:Secondary suspended:no",
                "create device name:a volume:1 minor:11 disk:Diskless client:yes",
                "create device name:a volume:0 minor:10 disk:Diskless client:no",
                "create connection name:a peer-node-id:5 conn-name:e connection:StandAlone role:Unknown",
                "create connection name:a peer-node-id:2 conn-name:b connection:StandAlone role:Unknown",
                "create peer-device name:a peer-node-id:2 conn-name:b volume:0 replication:Off peer-disk:DUnknown",
        };
        DrbdState *s = state_from(create, ELEMENTSOF(create), NULL);
        const DrbdResource *r;
        Events2Event e;

        assert_false(drbd_state_dump_complete(s));
        assert_int_equal(drbd_state_n_resources(s), 2);
        assert_string_equal(drbd_state_resource(s, 0)->name, "a"); /* sorted */
        r = drbd_state_find_resource(s, "a");
        assert_int_equal(r->devices[0].volume, 0);
        assert_int_equal(r->devices[1].volume, 1);
        assert_int_equal(r->connections[0].peer_node_id, 2);

        /* change: only the fields present change. */
        e = parse_ok("change resource name:a role:Primary");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        r = drbd_state_find_resource(s, "a");
        assert_int_equal(r->role, DRBD_ROLE_PRIMARY);
        assert_string_equal(r->suspended, "no");
        e = parse_ok("change peer-device name:a peer-node-id:2 volume:0 replication:SyncSource done:5.5");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        r = drbd_state_find_resource(s, "a");
        const DrbdPeerDevice *pd = drbd_connection_find_peer_device(drbd_resource_find_connection(r, 2), 0);
        assert_true(pd->has_done);
        assert_int_equal(pd->peer_disk, DRBD_DISK_DUNKNOWN);
        /* Leaving resync clears done. */
        e = parse_ok("change peer-device name:a peer-node-id:2 volume:0 replication:Established");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        r = drbd_state_find_resource(s, "a");
        pd = drbd_connection_find_peer_device(drbd_resource_find_connection(r, 2), 0);
        assert_false(pd->has_done);

        /* A change for an unknown object creates it with its parents. */
        e = parse_ok("change peer-device name:c peer-node-id:7 volume:4 replication:Established");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        r = drbd_state_find_resource(s, "c");
        assert_non_null(r);
        assert_non_null(drbd_connection_find_peer_device(drbd_resource_find_connection(r, 7), 4));
        assert_false(r->has_role);

        /* destroy: children, then parents; unknown objects are no-ops. */
        e = parse_ok("destroy peer-device name:a peer-node-id:2 volume:0");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        r = drbd_state_find_resource(s, "a");
        assert_int_equal(drbd_resource_find_connection(r, 2)->n_peer_devices, 0);
        e = parse_ok("destroy connection name:a peer-node-id:2");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        e = parse_ok("destroy device name:a volume:1");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        r = drbd_state_find_resource(s, "a");
        assert_int_equal(r->n_connections, 1);
        assert_int_equal(r->n_devices, 1);
        assert_null(drbd_resource_find_device(r, 1));
        e = parse_ok("destroy device name:zzz volume:1");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        e = parse_ok("destroy connection name:a peer-node-id:9");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        e = parse_ok("destroy resource name:a");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        assert_null(drbd_state_find_resource(s, "a"));
        assert_int_equal(drbd_state_n_resources(s), 2);

        /* rename keeps the order sorted and refuses to merge. */
        e = parse_ok("rename resource name:c new_name:0first");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        assert_string_equal(drbd_state_resource(s, 0)->name, "0first");
        e = parse_ok("rename resource name:0first new_name:b");
        assert_int_equal(drbd_state_apply(s, &e), -EINVAL);
        e = parse_ok("rename resource name:nothere new_name:x");
        assert_int_equal(drbd_state_apply(s, &e), 0);

        /* Helpers and paths are accepted and change nothing. */
        e = parse_ok("call helper name:b volume:0 helper:fence-peer");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        e = parse_ok("exists path name:b peer-node-id:1 established:yes");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        assert_int_equal(drbd_state_n_resources(s), 2);

        /* A new dump after a complete one starts from scratch. */
        e = parse_ok("exists -");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        assert_true(drbd_state_dump_complete(s));
        e = parse_ok("exists resource name:only role:Secondary");
        assert_int_equal(drbd_state_apply(s, &e), 0);
        assert_false(drbd_state_dump_complete(s));
        assert_int_equal(drbd_state_n_resources(s), 1);
        assert_non_null(drbd_state_find_resource(s, "only"));

        drbd_state_reset(s);
        assert_int_equal(drbd_state_n_resources(s), 0);
        drbd_state_free(s);
        assert_null(drbd_state_free(NULL));
}

static void test_state_invalid_events(void **state) {
        DrbdState *s = NULL;
        Events2Event e = {};

        assert_int_equal(drbd_state_new(&s), 0);
        /* Hand-built events are checked as well. */
        e.action = EVENTS2_CREATE;
        e.object = EVENTS2_DEVICE;
        e.fields = EVENTS2_F_NAME;
        strcpy(e.name, "r0");
        assert_int_equal(drbd_state_apply(s, &e), -EINVAL); /* no volume */
        e.fields |= EVENTS2_F_VOLUME;
        e.volume = 70000;
        assert_int_equal(drbd_state_apply(s, &e), -EINVAL);
        e.volume = 0;
        e.name[0] = 0;
        assert_int_equal(drbd_state_apply(s, &e), -EINVAL);
        memset(e.name, 'x', sizeof(e.name)); /* unterminated */
        assert_int_equal(drbd_state_apply(s, &e), -EINVAL);
        e = (Events2Event) { .action = _EVENTS2_ACTION_MAX, .object = EVENTS2_RESOURCE, .fields = EVENTS2_F_NAME };
        strcpy(e.name, "r0");
        assert_int_equal(drbd_state_apply(s, &e), -EINVAL);
        e = (Events2Event) { .action = EVENTS2_CREATE, .object = EVENTS2_CONNECTION, .fields = EVENTS2_F_NAME | EVENTS2_F_PEER_NODE_ID, .peer_node_id = 32 };
        strcpy(e.name, "r0");
        assert_int_equal(drbd_state_apply(s, &e), -EINVAL);
        assert_int_equal(drbd_state_apply(NULL, &e), -EINVAL);
        assert_int_equal(drbd_state_n_resources(s), 0);

        /* Limits: volumes per resource and per connection. */
        char line[128];
        for (unsigned v = 0; v < DRBD_STATE_VOLUMES_MAX; v++) {
                snprintf(line, sizeof(line), "create device name:r0 volume:%u", v);
                e = parse_ok(line);
                assert_int_equal(drbd_state_apply(s, &e), 0);
                snprintf(line, sizeof(line), "create peer-device name:r0 peer-node-id:1 volume:%u", v);
                e = parse_ok(line);
                assert_int_equal(drbd_state_apply(s, &e), 0);
        }
        e = parse_ok("create device name:r0 volume:999");
        assert_int_equal(drbd_state_apply(s, &e), -ENOSPC);
        e = parse_ok("create peer-device name:r0 peer-node-id:1 volume:999");
        assert_int_equal(drbd_state_apply(s, &e), -ENOSPC);
        e = parse_ok("change device name:r0 volume:5 disk:UpToDate"); /* existing: fine */
        assert_int_equal(drbd_state_apply(s, &e), 0);
        drbd_state_reset(s);

        for (unsigned i = 0; i < DRBD_STATE_RESOURCES_MAX; i++) {
                snprintf(line, sizeof(line), "create resource name:r%u", i);
                e = parse_ok(line);
                assert_int_equal(drbd_state_apply(s, &e), 0);
        }
        e = parse_ok("create connection name:one-too-many peer-node-id:1");
        assert_int_equal(drbd_state_apply(s, &e), -ENOSPC);
        assert_null(drbd_state_find_resource(s, "one-too-many"));
        assert_int_equal(drbd_state_n_resources(s), DRBD_STATE_RESOURCES_MAX);
        drbd_state_free(s);
}

/* ---- splitter ---- */

typedef struct Collected {
        char text[16384];
        size_t n_lines;
        int fail_at; /* return -EIO at this line number (1-based), 0 = never */
} Collected;

static int collect(const char *line, size_t len, void *userdata) {
        Collected *c = userdata;
        size_t n = strlen(c->text);

        assert_int_equal(strlen(line), len);
        assert_null(memchr(line, '\n', len));
        c->n_lines++;
        if (c->fail_at && (int) c->n_lines == c->fail_at)
                return -EIO;
        snprintf(c->text + n, sizeof(c->text) - n, "[%s]", line);
        return 0;
}

static void test_splitter_every_boundary(void **state) {
        static const char input[] =
                "exists resource name:r0 role:Secondary suspended:no\n"
                "exists connection name:r0 peer-node-id:0 conn-name:peer connection:Connecting role:Unknown\r\n"
                "\n"
                "exists -\n"
                "change peer-device name:r0 peer-node-id:0 volume:0 done:37.12";
        static const char want[] =
                "[exists resource name:r0 role:Secondary suspended:no]"
                "[exists connection name:r0 peer-node-id:0 conn-name:peer connection:Connecting role:Unknown]"
                "[exists -]"
                "[change peer-device name:r0 peer-node-id:0 volume:0 done:37.12]";
        size_t len = strlen(input);

        /* Two chunks split at every position, and three at every pair. */
        for (size_t a = 0; a <= len; a++) {
                for (size_t b = a; b <= len; b++) {
                        Events2Splitter sp;
                        Collected c = {};
                        events2_splitter_init(&sp);
                        assert_int_equal(events2_splitter_feed(&sp, input, a, collect, &c), 0);
                        assert_int_equal(events2_splitter_feed(&sp, input + a, b - a, collect, &c), 0);
                        assert_int_equal(events2_splitter_feed(&sp, input + b, len - b, collect, &c), 0);
                        assert_int_equal(events2_splitter_finish(&sp, collect, &c), 0);
                        if (!streq(c.text, want))
                                fail_msg("split at %zu/%zu: %s", a, b, c.text);
                        assert_int_equal(events2_splitter_dropped(&sp), 0);
                }
        }

        /* Byte by byte. */
        Events2Splitter sp;
        Collected c = {};
        events2_splitter_init(&sp);
        for (size_t i = 0; i < len; i++)
                assert_int_equal(events2_splitter_feed(&sp, input + i, 1, collect, &c), 0);
        assert_int_equal(events2_splitter_finish(&sp, collect, &c), 0);
        assert_string_equal(c.text, want);
        /* finish twice is harmless. */
        assert_int_equal(events2_splitter_finish(&sp, collect, &c), 0);
        assert_int_equal(c.n_lines, 4);
}

static void test_splitter_overlong_and_nul(void **state) {
        static char big[3 * EVENTS2_LINE_MAX];
        Events2Splitter sp;
        Collected c = {};

        /* Exactly EVENTS2_LINE_MAX is kept; one more is dropped whole, in
         * any chunking, and the next line is intact. */
        for (size_t chunk = 1; chunk <= 2 * EVENTS2_LINE_MAX; chunk = chunk * 3 + 1) {
                size_t n = 0;
                memset(big, 'a', EVENTS2_LINE_MAX);
                n += EVENTS2_LINE_MAX;
                big[n++] = '\n';
                memset(big + n, 'b', EVENTS2_LINE_MAX + 1);
                n += EVENTS2_LINE_MAX + 1;
                big[n++] = '\n';
                memcpy(big + n, "ok\n", 3);
                n += 3;

                memset(&c, 0, sizeof(c));
                events2_splitter_init(&sp);
                for (size_t off = 0; off < n; off += chunk)
                        assert_int_equal(events2_splitter_feed(&sp, big + off, MIN(chunk, n - off), collect, &c), 0);
                assert_int_equal(events2_splitter_finish(&sp, collect, &c), 0);
                assert_int_equal(c.n_lines, 2);
                assert_int_equal(events2_splitter_dropped(&sp), 1);
                assert_non_null(strstr(c.text, "[ok]"));
                assert_int_equal(strlen(c.text), EVENTS2_LINE_MAX + 2 + 4);
        }

        /* An overlong unterminated tail is dropped at finish. */
        memset(&c, 0, sizeof(c));
        events2_splitter_init(&sp);
        memset(big, 'c', sizeof(big));
        assert_int_equal(events2_splitter_feed(&sp, big, sizeof(big), collect, &c), 0);
        assert_int_equal(events2_splitter_finish(&sp, collect, &c), 0);
        assert_int_equal(c.n_lines, 0);
        assert_int_equal(events2_splitter_dropped(&sp), 1);

        /* A NUL byte spoils its line only. */
        static const char withnul[] = "exists res\0ource name:x\nexists -\n";
        memset(&c, 0, sizeof(c));
        events2_splitter_init(&sp);
        assert_int_equal(events2_splitter_feed(&sp, withnul, sizeof(withnul) - 1, collect, &c), 0);
        assert_string_equal(c.text, "[exists -]");
        assert_int_equal(events2_splitter_dropped(&sp), 1);
        /* A trailing partial line with NUL is dropped at finish. */
        assert_int_equal(events2_splitter_feed(&sp, "x\0y", 3, collect, &c), 0);
        assert_int_equal(events2_splitter_finish(&sp, collect, &c), 0);
        assert_int_equal(events2_splitter_dropped(&sp), 2);
}

static void test_splitter_callback_error(void **state) {
        Events2Splitter sp;
        Collected c = { .fail_at = 2 };

        events2_splitter_init(&sp);
        assert_int_equal(events2_splitter_feed(&sp, "a\nb\nc\n", 6, collect, &c), -EIO);
        assert_string_equal(c.text, "[a]");
        assert_int_equal(events2_splitter_feed(&sp, NULL, 0, collect, &c), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_string_tables),
                cmocka_unit_test(test_parse_lines),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_state_84_stream),
                cmocka_unit_test(test_state_9_dump),
                cmocka_unit_test(test_state_lifecycle),
                cmocka_unit_test(test_state_invalid_events),
                cmocka_unit_test(test_splitter_every_boundary),
                cmocka_unit_test(test_splitter_overlong_and_nul),
                cmocka_unit_test(test_splitter_callback_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
