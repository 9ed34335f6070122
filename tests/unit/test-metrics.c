/* Unit tests for drbdd/metrics/metrics.c (registry, text format) and the
 * agent's mapping of events2 state to drbd_* series (agent-metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "drbdd/agent/agent-metrics.h"
#include "drbdd/metrics/metrics.h"
#include "kmod/events2.h"
#include "macro.h"

static char *render(Metrics *m) {
        char *t = NULL;
        size_t n = 0;
        assert_int_equal(metrics_render(m, &t, &n), 0);
        assert_int_equal(strlen(t), n);
        return t;
}

/* Whether text has line as a whole line. */
static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)); p++)
                if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
                        return true;
        return false;
}

#define assert_line(text, line)                                                            \
        do {                                                                               \
                if (!has_line(text, line))                                                 \
                        { fprintf(stderr, "--- got:\n%s\n", text); fail_msg("missing line: %s", line); }            \
        } while (0)

static void test_type_strings(void **state) {
        for (int t = 0; t < _METRICS_TYPE_MAX; t++)
                assert_int_equal(metrics_type_from_string(metrics_type_to_string(t)), t);
        assert_null(metrics_type_to_string(_METRICS_TYPE_MAX));
        assert_int_equal(metrics_type_from_string("summary"), -EINVAL);
}

static void test_format_value(void **state) {
        char b[64];
        metrics_format_value(1, b, sizeof b);
        assert_string_equal(b, "1");
        metrics_format_value(0.25, b, sizeof b);
        assert_string_equal(b, "0.25");
        metrics_format_value(0.0005, b, sizeof b);
        assert_string_equal(b, "0.0005");
        metrics_format_value(1099511627776.0, b, sizeof b);
        assert_string_equal(b, "1099511627776");
        metrics_format_value(NAN, b, sizeof b);
        assert_string_equal(b, "NaN");
        metrics_format_value(-INFINITY, b, sizeof b);
        assert_string_equal(b, "-Inf");
        metrics_format_value(0.1 + 0.2, b, sizeof b);
        assert_true(strtod(b, NULL) == 0.1 + 0.2); /* round-trips */
}

static void test_registry(void **state) {
        Metrics *m = NULL;
        MetricsFamily *g, *c, *h, *again, *empty;
        static const double buckets[] = { 0.1, 1 };
        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_new(m, "t_gauge", METRICS_GAUGE, "A gauge\nwith \\ newline",
                                            METRICS_LABELS("name", "volume"), NULL, 0, &g), 0);
        assert_int_equal(metrics_family_new(m, "t_total", METRICS_COUNTER, "A counter", NULL, NULL, 0, &c), 0);
        assert_int_equal(metrics_family_new(m, "t_seconds", METRICS_HISTOGRAM, "A histogram", METRICS_LABELS("m"),
                                            buckets, 2, &h), 0);
        assert_int_equal(metrics_family_new(m, "t_empty", METRICS_GAUGE, "never set", NULL, NULL, 0, &empty), 0);
        /* same shape: the same family; another shape: refused */
        assert_int_equal(metrics_family_new(m, "t_total", METRICS_COUNTER, "x", NULL, NULL, 0, &again), 0);
        assert_ptr_equal(again, c);
        assert_int_equal(metrics_family_new(m, "t_total", METRICS_GAUGE, "x", NULL, NULL, 0, &again), -EEXIST);
        assert_int_equal(metrics_family_new(m, "t_gauge", METRICS_GAUGE, "x", METRICS_LABELS("name"), NULL, 0, &again),
                         -EEXIST);
        /* bad names, labels, buckets */
        assert_int_equal(metrics_family_new(m, "1abc", METRICS_GAUGE, "", NULL, NULL, 0, &again), -EINVAL);
        assert_int_equal(metrics_family_new(m, "a-b", METRICS_GAUGE, "", NULL, NULL, 0, &again), -EINVAL);
        assert_int_equal(metrics_family_new(m, "ok", METRICS_GAUGE, "", METRICS_LABELS("le"), NULL, 0, &again), -EINVAL);
        assert_int_equal(metrics_family_new(m, "ok", METRICS_GAUGE, "", METRICS_LABELS("a:b"), NULL, 0, &again),
                         -EINVAL);
        assert_int_equal(metrics_family_new(m, "ok", METRICS_HISTOGRAM, "", NULL, NULL, 0, &again), -EINVAL);
        static const double bad[] = { 1, 0.5 };
        assert_int_equal(metrics_family_new(m, "ok", METRICS_HISTOGRAM, "", NULL, bad, 2, &again), -EINVAL);
        assert_int_equal(metrics_family_new(m, "ok", METRICS_GAUGE, "", NULL, buckets, 2, &again), -EINVAL);

        /* label values are escaped; wrong label count refused */
        assert_int_equal(metrics_set(g, METRICS_LABELS("r\"0\\\n", "0"), 2.5), 0);
        assert_int_equal(metrics_set(g, METRICS_LABELS("a", "1"), 1), 0);
        assert_int_equal(metrics_add(g, METRICS_LABELS("a", "1"), -3), 0);
        assert_int_equal(metrics_set(g, METRICS_LABELS("a"), 1), -EINVAL);
        assert_int_equal(metrics_set(g, NULL, 1), -EINVAL);
        assert_int_equal(metrics_add(c, NULL, 5), 0);
        assert_int_equal(metrics_add(c, NULL, -1), -EINVAL); /* counters only go up */
        assert_int_equal(metrics_set(c, NULL, NAN), -EINVAL);
        assert_int_equal(metrics_observe(c, NULL, 1), -EINVAL); /* not a histogram */
        assert_int_equal(metrics_set(h, METRICS_LABELS("x"), 1), -EINVAL);
        assert_int_equal(metrics_observe(h, METRICS_LABELS("Get"), 0.05), 0);
        assert_int_equal(metrics_observe(h, METRICS_LABELS("Get"), 0.1), 0); /* le is inclusive */
        assert_int_equal(metrics_observe(h, METRICS_LABELS("Get"), 0.5), 0);
        assert_int_equal(metrics_observe(h, METRICS_LABELS("Get"), 7), 0);

        _cleanup_free_ char *t = render(m);
        assert_line(t, "# HELP t_gauge A gauge\\nwith \\\\ newline");
        assert_line(t, "# TYPE t_gauge gauge");
        assert_line(t, "t_gauge{name=\"r\\\"0\\\\\\n\",volume=\"0\"} 2.5");
        assert_line(t, "t_gauge{name=\"a\",volume=\"1\"} -2");
        assert_line(t, "# TYPE t_total counter");
        assert_line(t, "t_total 5");
        assert_line(t, "# TYPE t_seconds histogram");
        assert_line(t, "t_seconds_bucket{m=\"Get\",le=\"0.1\"} 2");
        assert_line(t, "t_seconds_bucket{m=\"Get\",le=\"1\"} 3");
        assert_line(t, "t_seconds_bucket{m=\"Get\",le=\"+Inf\"} 4");
        assert_line(t, "t_seconds_sum{m=\"Get\"} 7.65");
        assert_line(t, "t_seconds_count{m=\"Get\"} 4");
        assert_null(strstr(t, "t_empty")); /* no samples: not rendered */
        /* families in registration order */
        assert_true(strstr(t, "t_gauge") < strstr(t, "t_total") && strstr(t, "t_total") < strstr(t, "t_seconds"));

        metrics_family_reset(g);
        _cleanup_free_ char *t2 = render(m);
        assert_null(strstr(t2, "t_gauge"));
        assert_true(has_line(t2, "t_total 5"));
        metrics_free(m);
}

static void collect_twice(Metrics *m, void *userdata) {
        MetricsFamily *f;
        (*(int *) userdata)++;
        assert_int_equal(metrics_family_new(m, "t_collected", METRICS_GAUGE, "", NULL, NULL, 0, &f), 0);
        assert_int_equal(metrics_set(f, NULL, *(int *) userdata), 0);
}

static void test_collectors(void **state) {
        Metrics *m = NULL;
        int n = 0;
        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_last_render_usec(m), 0);
        assert_int_equal(metrics_collector_add(m, collect_twice, &n), 0);
        metrics_collect(m);
        metrics_collect(m);
        assert_int_equal(n, 2);
        _cleanup_free_ char *t = render(m);
        assert_line(t, "t_collected 2");
        assert_true(metrics_last_render_usec(m) > 0);
        metrics_free(m);
}

static void test_limits(void **state) {
        Metrics *m = NULL;
        MetricsFamily *f;
        char name[32], v[32];
        assert_int_equal(metrics_new(&m), 0);
        for (int i = 0; i < METRICS_FAMILIES_MAX; i++) {
                snprintf(name, sizeof name, "f%d", i);
                assert_int_equal(metrics_family_new(m, name, METRICS_GAUGE, "", NULL, NULL, 0, &f), 0);
        }
        assert_int_equal(metrics_family_new(m, "one_more", METRICS_GAUGE, "", NULL, NULL, 0, &f), -ENOSPC);
        assert_int_equal(metrics_family_new(m, "f0", METRICS_GAUGE, "", NULL, NULL, 0, &f), 0);
        metrics_free(m);

        assert_int_equal(metrics_new(&m), 0);
        assert_int_equal(metrics_family_new(m, "many", METRICS_GAUGE, "", METRICS_LABELS("i"), NULL, 0, &f), 0);
        for (int i = 0; i < METRICS_SAMPLES_MAX; i++) {
                snprintf(v, sizeof v, "%d", i);
                assert_int_equal(metrics_set(f, METRICS_LABELS(v), i), 0);
        }
        assert_int_equal(metrics_set(f, METRICS_LABELS("x"), 1), -ENOSPC);
        assert_int_equal(metrics_set(f, METRICS_LABELS("7"), 1), 0); /* existing ones still update */
        metrics_free(m);
}

/* ---- events2 state -> drbd_* series ---- */

/* Captured in the lab: Debian 12, DRBD 8.4.11, drbd-utils 9.22 (the same
 * capture as test-events2.c's stream_84, its end: sync finished). */
static const char *const lines_84[] = {
        "2026-11-21T08:37:57.750792+00:00 exists -",
        "2026-11-21T08:37:58.284314+00:00 create resource name:r0 role:Secondary suspended:no write-ordering:flush",
        "2026-11-21T08:37:58.340587+00:00 create device name:r0 volume:0 minor:0 disk:Diskless size:0 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no blocked:no",
        "2026-11-21T08:37:58.714379+00:00 change device name:r0 volume:0 minor:0 disk:Inconsistent size:32728 read:0 written:0 al-writes:8 bm-writes:0 upper-pending:0 lower-pending:2 al-suspended:yes blocked:no",
        "2026-11-21T08:37:58.823268+00:00 create connection name:r0 peer-node-id:0 conn-name:peer connection:StandAlone role:Unknown congested:no",
        "2026-11-21T08:37:58.823268+00:00 create peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Off peer-disk:DUnknown resync-suspended:no received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:37:59.402207+00:00 change connection name:r0 peer-node-id:0 conn-name:peer connection:Connected",
        "2026-11-21T08:38:01.322315+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:SyncTarget received:0 sent:0 out-of-sync:32728 pending:0 unacked:0",
        "2026-11-21T08:38:05.000000+00:00 change peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 received:20000 sent:0 out-of-sync:12728 pending:0 unacked:0",
};

/* DRBD 9 as drbd-utils 9.x prints it (test-events2.c's dump_9). */
static const char *const lines_9[] = {
        "exists resource name:vol-1 role:Primary suspended:no write-ordering:flush may_promote:no promotion_score:10102",
        "exists connection name:vol-1 peer-node-id:1 conn-name:beta connection:Connected role:Secondary congested:no ap-in-flight:8 rs-in-flight:16",
        "exists connection name:vol-1 peer-node-id:2 conn-name:gamma connection:Connecting role:Unknown congested:yes ap-in-flight:0 rs-in-flight:0",
        "exists device name:vol-1 volume:0 minor:1000 backing_dev:/dev/vg/vol-1_00000 disk:UpToDate client:no quorum:yes open:yes size:1048576 read:1234 written:5678 al-writes:12 bm-writes:3 upper-pending:1 lower-pending:2 al-suspended:no blocked:no",
        "exists peer-device name:vol-1 peer-node-id:1 conn-name:beta volume:0 replication:SyncSource peer-disk:Inconsistent peer-client:no resync-suspended:no received:0 sent:389120 out-of-sync:659456 pending:0 unacked:0 done:37.12 eta:61 dbdt1:6400.00",
        "exists peer-device name:vol-1 peer-node-id:2 conn-name:gamma volume:0 replication:Off peer-disk:DUnknown peer-client:no resync-suspended:no received:0 sent:0 out-of-sync:4096 pending:0 unacked:0",
        "exists resource name:vol-2 role:Secondary suspended:quorum may_promote:no promotion_score:0",
        "exists device name:vol-2 volume:0 minor:1001 disk:Diskless client:no quorum:no open:no",
        "exists resource name:vol-3 role:Secondary suspended:no may_promote:yes promotion_score:1",
        "exists device name:vol-3 volume:0 minor:1002 disk:Diskless client:yes quorum:yes open:yes size:1048576 read:4 written:0",
        "exists -",
};

/* Captured in the lab (tests/lab/test-metrics.sh): DRBD 9.2.19, Debian 12's
 * drbd-utils, `drbdsetup events2 --now --statistics all`; vm3 is a client
 * of m1 and Primary (a writer has it open), vm2 is powered off. */
static const char *const lines_9_lab[] = {
        "exists resource name:m1 role:Primary suspended:no force-io-failures:no write-ordering:none may_promote:no promotion_score:1",
        "exists connection name:m1 peer-node-id:1 conn-name:vm2 connection:Connecting role:Unknown congested:no ap-in-flight:0 rs-in-flight:0",
        "exists connection name:m1 peer-node-id:0 conn-name:vm1 connection:Connected role:Secondary congested:no ap-in-flight:0 rs-in-flight:0",
        "exists device name:m1 volume:0 minor:1000 backing_dev:none disk:Diskless client:yes quorum:yes size:102340 read:0 written:0 al-writes:0 bm-writes:0 upper-pending:0 lower-pending:0 al-suspended:no blocked:no",
        "exists peer-device name:m1 peer-node-id:1 conn-name:vm2 volume:0 replication:Off peer-disk:DUnknown peer-client:no resync-suspended:no received:0 sent:0 out-of-sync:0 pending:0 unacked:0",
        "exists path name:m1 peer-node-id:1 conn-name:vm2 local:ipv4:10.99.0.3:7000 peer:ipv4:10.99.0.2:7000 established:no",
        "exists peer-device name:m1 peer-node-id:0 conn-name:vm1 volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no received:0 sent:41648 out-of-sync:0 pending:0 unacked:0",
        "exists path name:m1 peer-node-id:0 conn-name:vm1 local:ipv4:10.99.0.3:7000 peer:ipv4:10.99.0.1:7000 established:yes",
        "exists -",
};

static char *drbd_render(const char *const *lines, size_t n) {
        DrbdState *st = NULL;
        Metrics *m = NULL;
        assert_int_equal(drbd_state_new(&st), 0);
        for (size_t i = 0; i < n; i++) {
                Events2Event e;
                assert_int_equal(events2_parse_line(lines[i], &e), 0);
                assert_int_equal(drbd_state_apply(st, &e), 0);
        }
        assert_int_equal(metrics_new(&m), 0);
        agent_metrics_drbd(m, st);
        char *t = render(m);
        metrics_free(m);
        drbd_state_free(st);
        return t;
}

static void test_drbd_84(void **state) {
        _cleanup_free_ char *t = drbd_render(lines_84, ELEMENTSOF(lines_84));
        assert_line(t, "drbd_resource_resources 1");
        assert_line(t, "drbd_resource_role{name=\"r0\",drbd_resource_role=\"Secondary\"} 1");
        assert_line(t, "drbd_resource_role{name=\"r0\",drbd_resource_role=\"Primary\"} 0");
        assert_line(t, "drbd_resource_role_code{name=\"r0\"} 2");
        assert_line(t, "drbd_resource_suspended{name=\"r0\"} 0");
        assert_null(strstr(t, "drbd_resource_maypromote")); /* 8.4 does not say */
        assert_line(t, "drbd_device_state{name=\"r0\",volume=\"0\",minor=\"0\",drbd_device_state=\"Inconsistent\"} 1");
        assert_line(t, "drbd_device_state{name=\"r0\",volume=\"0\",minor=\"0\",drbd_device_state=\"UpToDate\"} 0");
        assert_line(t, "drbd_device_state_code{name=\"r0\",volume=\"0\",minor=\"0\"} 5");
        assert_line(t, "drbd_device_size_bytes{name=\"r0\",volume=\"0\",minor=\"0\"} 33513472");
        assert_line(t, "drbd_device_lowerpending{name=\"r0\",volume=\"0\",minor=\"0\"} 2");
        assert_line(t, "drbd_device_alwrites_total{name=\"r0\",volume=\"0\",minor=\"0\"} 8");
        assert_line(t, "drbd_device_alsuspended{name=\"r0\",volume=\"0\",minor=\"0\"} 1");
        assert_line(t, "drbd_device_unintentionaldiskless{name=\"r0\",volume=\"0\",minor=\"0\"} 0");
        assert_line(t, "drbd_connection_state{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",drbd_connection_state=\"Connected\"} 1");
        assert_line(t, "drbd_connection_state{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",drbd_connection_state=\"StandAlone\"} 0");
        assert_line(t, "drbd_connection_state_code{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\"} 9");
        assert_line(t, "drbd_connection_congested{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\"} 0");
        assert_line(t, "drbd_peerdevice_outofsync_bytes{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",volume=\"0\"} 13033472");
        assert_line(t, "drbd_peerdevice_received_bytes_total{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",volume=\"0\"} 20480000");
        assert_line(t, "drbd_peerdevice_received_bytes{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",volume=\"0\"} 20480000");
        assert_line(t, "drbd_peerdevice_replication_state{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",volume=\"0\",drbd_peerdevice_replication_state=\"SyncTarget\"} 1");
        assert_line(t, "drbd_peerdevice_replication_state_code{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",volume=\"0\"} 8");
        /* 8.4 has no done: the progress comes from out-of-sync and size */
        assert_line(t, "drbd_peerdevice_resync_done_ratio{name=\"r0\",conn_name=\"peer\",peer_node_id=\"0\",volume=\"0\"} 0.611");
        assert_line(t, "# TYPE drbd_peerdevice_sent_bytes_total counter");
        assert_line(t, "# TYPE drbd_device_read_bytes_total counter");
}

static void test_drbd_9(void **state) {
        _cleanup_free_ char *t = drbd_render(lines_9, ELEMENTSOF(lines_9));
        assert_line(t, "drbd_resource_resources 3");
        assert_line(t, "drbd_resource_role_code{name=\"vol-1\"} 1");
        assert_line(t, "drbd_resource_maypromote{name=\"vol-3\"} 1");
        assert_line(t, "drbd_resource_promotionscore{name=\"vol-1\"} 10102");
        assert_line(t, "drbd_resource_suspended{name=\"vol-2\"} 1");
        assert_line(t, "drbd_device_quorum{name=\"vol-2\",volume=\"0\",minor=\"1001\"} 0");
        assert_line(t, "drbd_device_quorum{name=\"vol-1\",volume=\"0\",minor=\"1000\"} 1");
        assert_line(t, "drbd_device_unintentionaldiskless{name=\"vol-2\",volume=\"0\",minor=\"1001\"} 1");
        assert_line(t, "drbd_device_unintentionaldiskless{name=\"vol-3\",volume=\"0\",minor=\"1002\"} 0");
        assert_line(t, "drbd_device_client{name=\"vol-3\",volume=\"0\",minor=\"1002\"} 1");
        assert_line(t, "drbd_device_open{name=\"vol-3\",volume=\"0\",minor=\"1002\"} 1");
        assert_line(t, "drbd_device_read_bytes_total{name=\"vol-1\",volume=\"0\",minor=\"1000\"} 1263616");
        assert_line(t, "drbd_device_written_bytes_total{name=\"vol-1\",volume=\"0\",minor=\"1000\"} 5814272");
        assert_line(t, "drbd_device_upperpending{name=\"vol-1\",volume=\"0\",minor=\"1000\"} 1");
        assert_line(t, "drbd_device_size_bytes{name=\"vol-1\",volume=\"0\",minor=\"1000\"} 1073741824");
        assert_line(t, "drbd_connection_apinflight_bytes{name=\"vol-1\",conn_name=\"beta\",peer_node_id=\"1\"} 4096");
        assert_line(t, "drbd_connection_rsinflight_bytes{name=\"vol-1\",conn_name=\"beta\",peer_node_id=\"1\"} 8192");
        assert_line(t, "drbd_connection_congested{name=\"vol-1\",conn_name=\"gamma\",peer_node_id=\"2\"} 1");
        assert_line(t, "drbd_connection_state{name=\"vol-1\",conn_name=\"gamma\",peer_node_id=\"2\",drbd_connection_state=\"Connecting\"} 1");
        assert_line(t, "drbd_peerdevice_sent_bytes_total{name=\"vol-1\",conn_name=\"beta\",peer_node_id=\"1\",volume=\"0\"} 398458880");
        assert_line(t, "drbd_peerdevice_outofsync_bytes{name=\"vol-1\",conn_name=\"gamma\",peer_node_id=\"2\",volume=\"0\"} 4194304");
        assert_line(t, "drbd_peerdevice_resync_done_ratio{name=\"vol-1\",conn_name=\"beta\",peer_node_id=\"1\",volume=\"0\"} 0.3712");
        assert_line(t, "drbd_peerdevice_peerdisk_state{name=\"vol-1\",conn_name=\"beta\",peer_node_id=\"1\",volume=\"0\",drbd_peerdevice_peerdisk_state=\"Inconsistent\"} 1");
        assert_line(t, "drbd_peerdevice_peerdisk_state_code{name=\"vol-1\",conn_name=\"gamma\",peer_node_id=\"2\",volume=\"0\"} 7");
        /* one series per state value of every enumeration */
        size_t n = 0;
        for (const char *p = t; (p = strstr(p, "\ndrbd_connection_state{")); p++)
                n++;
        assert_int_equal(n, 2 * _DRBD_CONN_MAX);
}

static void test_drbd_9_lab(void **state) {
        _cleanup_free_ char *t = drbd_render(lines_9_lab, ELEMENTSOF(lines_9_lab));
        assert_line(t, "drbd_resource_role{name=\"m1\",drbd_resource_role=\"Primary\"} 1");
        assert_line(t, "drbd_resource_maypromote{name=\"m1\"} 0");
        assert_line(t, "drbd_resource_promotionscore{name=\"m1\"} 1");
        assert_line(t, "drbd_device_client{name=\"m1\",volume=\"0\",minor=\"1000\"} 1");
        assert_line(t, "drbd_device_unintentionaldiskless{name=\"m1\",volume=\"0\",minor=\"1000\"} 0");
        assert_line(t, "drbd_device_state{name=\"m1\",volume=\"0\",minor=\"1000\",drbd_device_state=\"Diskless\"} 1");
        assert_line(t, "drbd_device_quorum{name=\"m1\",volume=\"0\",minor=\"1000\"} 1");
        assert_line(t, "drbd_device_size_bytes{name=\"m1\",volume=\"0\",minor=\"1000\"} 104796160");
        assert_null(strstr(t, "drbd_device_open")); /* 9.2.19 does not say */
        assert_line(t, "drbd_connection_state{name=\"m1\",conn_name=\"vm2\",peer_node_id=\"1\",drbd_connection_state=\"Connected\"} 0");
        assert_line(t, "drbd_connection_state_code{name=\"m1\",conn_name=\"vm2\",peer_node_id=\"1\"} 7");
        assert_line(t, "drbd_connection_state_code{name=\"m1\",conn_name=\"vm1\",peer_node_id=\"0\"} 9");
        assert_line(t, "drbd_peerdevice_sent_bytes_total{name=\"m1\",conn_name=\"vm1\",peer_node_id=\"0\",volume=\"0\"} 42647552");
        assert_line(t, "drbd_peerdevice_replication_state{name=\"m1\",conn_name=\"vm2\",peer_node_id=\"1\",volume=\"0\",drbd_peerdevice_replication_state=\"Off\"} 1");
        assert_line(t, "drbd_peerdevice_outofsync_bytes{name=\"m1\",conn_name=\"vm2\",peer_node_id=\"1\",volume=\"0\"} 0");
}

static void test_drbd_none(void **state) {
        Metrics *m = NULL;
        assert_int_equal(metrics_new(&m), 0);
        agent_metrics_drbd(m, NULL);
        _cleanup_free_ char *t = render(m);
        assert_line(t, "drbd_resource_resources 0");
        assert_null(strstr(t, "drbd_device"));
        metrics_free(m);
}

static void test_transient(void **state) {
        assert_false(agent_state_is_transient("UpToDate", false));
        assert_false(agent_state_is_transient("Error", false));
        assert_false(agent_state_is_transient("Diskless", true));
        assert_true(agent_state_is_transient("Diskless", false));
        assert_true(agent_state_is_transient("SyncTarget(37.1%)", false));
        assert_true(agent_state_is_transient("Connecting", false));
        assert_true(agent_state_is_transient("Creating", false));
        assert_true(agent_state_is_transient("Down", false));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_type_strings), cmocka_unit_test(test_format_value),
                cmocka_unit_test(test_registry),     cmocka_unit_test(test_collectors),
                cmocka_unit_test(test_limits),       cmocka_unit_test(test_drbd_84),
                cmocka_unit_test(test_drbd_9),       cmocka_unit_test(test_drbd_9_lab),
                cmocka_unit_test(test_drbd_none),
                cmocka_unit_test(test_transient),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
