/* The node agent's metrics: this node's DRBD state as the events2 stream
 * reported it (drbd-reactor's names and labels), reconcile passes, replicas,
 * storage pools, and resources stuck in a transient state. */
#include <math.h>

#include "agent-internal.h"
#include "agent-metrics.h"
#include "exec.h"
#include "json-util.h"
#include "log.h"
#include "thread.h"

#define FAMILY(m, name, type, help, ...)                                                                  \
        ({                                                                                                \
                MetricsFamily *_f = NULL;                                                                 \
                (void) metrics_family_new(m, name, type, help, METRICS_LABELS(__VA_ARGS__), NULL, 0, &_f); \
                metrics_family_reset(_f);                                                                 \
                _f;                                                                                       \
        })
#define GAUGE(m, name, help, ...) FAMILY(m, name, METRICS_GAUGE, help, __VA_ARGS__)
#define COUNTER(m, name, help, ...) FAMILY(m, name, METRICS_COUNTER, help, __VA_ARGS__)

/* An enumeration in both forms: NAME{labels, NAME="<state>"} 1 for the
 * current state and 0 for the others (drbd-reactor's form), and
 * NAME_code{labels} with the state's number (docs/metrics.md). base holds
 * the object's label values and one free slot before the NULL. */
typedef const char *(*EnumName)(int v);
static void set_enum(MetricsFamily *f, MetricsFamily *code, const char **base, size_t n_base, EnumName name,
                     int max, int value) {
        for (int v = 0; v < max; v++) {
                base[n_base] = name(v);
                (void) metrics_set(f, base, v == value);
        }
        base[n_base] = NULL;
        (void) metrics_set(code, base, value);
}

static const char *role_name(int v) { return drbd_role_to_string((DrbdRole) v); }
static const char *conn_name(int v) { return drbd_conn_state_to_string((DrbdConnState) v); }
static const char *disk_name(int v) { return drbd_disk_state_to_string((DrbdDiskState) v); }
static const char *repl_name(int v) { return drbd_repl_state_to_string((DrbdReplState) v); }

void agent_metrics_drbd(Metrics *m, const DrbdState *st) {
        MetricsFamily *res_n = GAUGE(m, "drbd_resource_resources", "Number of DRBD resources on this node", NULL);
        MetricsFamily *role = GAUGE(m, "drbd_resource_role", "DRBD role of the resource (1 for the current one)",
                                    "name", "drbd_resource_role");
        MetricsFamily *role_c = GAUGE(m, "drbd_resource_role_code", "DRBD role: 0 Unknown, 1 Primary, 2 Secondary",
                                      "name");
        MetricsFamily *susp = GAUGE(m, "drbd_resource_suspended", "Boolean whether the resource's I/O is suspended",
                                    "name");
        MetricsFamily *mayp = GAUGE(m, "drbd_resource_maypromote",
                                    "Boolean whether the resource may be promoted to Primary", "name");
        MetricsFamily *score = GAUGE(m, "drbd_resource_promotionscore",
                                     "The promotion score (higher is better) for the resource", "name");
        MetricsFamily *cstate = GAUGE(m, "drbd_connection_state", "DRBD connection state (1 for the current one)",
                                      "name", "conn_name", "peer_node_id", "drbd_connection_state");
        MetricsFamily *cstate_c = GAUGE(m, "drbd_connection_state_code",
                                        "DRBD connection state as a number (docs/metrics.md)", "name", "conn_name",
                                        "peer_node_id");
        MetricsFamily *congested = GAUGE(m, "drbd_connection_congested",
                                         "Boolean whether the TCP send buffer of the data connection is more than "
                                         "80% filled", "name", "conn_name", "peer_node_id");
        MetricsFamily *apif = GAUGE(m, "drbd_connection_apinflight_bytes",
                                    "Application requests in flight (not completed)", "name", "conn_name",
                                    "peer_node_id");
        MetricsFamily *rsif = GAUGE(m, "drbd_connection_rsinflight_bytes", "Resync requests in flight", "name",
                                    "conn_name", "peer_node_id");
        MetricsFamily *oos = GAUGE(m, "drbd_peerdevice_outofsync_bytes",
                                   "Bytes out of sync with this peer, according to the bitmap DRBD has for it",
                                   "name", "conn_name", "peer_node_id", "volume");
        MetricsFamily *sent = COUNTER(m, "drbd_peerdevice_sent_bytes_total", "Bytes sent to this peer", "name",
                                      "conn_name", "peer_node_id", "volume");
        MetricsFamily *recv = COUNTER(m, "drbd_peerdevice_received_bytes_total", "Bytes received from this peer",
                                      "name", "conn_name", "peer_node_id", "volume");
        MetricsFamily *sent_r = COUNTER(m, "drbd_peerdevice_sent_bytes",
                                        "Bytes sent to this peer (drbd-reactor's name; same as "
                                        "drbd_peerdevice_sent_bytes_total)", "name", "conn_name", "peer_node_id",
                                        "volume");
        MetricsFamily *recv_r = COUNTER(m, "drbd_peerdevice_received_bytes",
                                        "Bytes received from this peer (drbd-reactor's name; same as "
                                        "drbd_peerdevice_received_bytes_total)", "name", "conn_name",
                                        "peer_node_id", "volume");
        MetricsFamily *repl = GAUGE(m, "drbd_peerdevice_replication_state",
                                    "DRBD replication state with this peer (1 for the current one)", "name",
                                    "conn_name", "peer_node_id", "volume", "drbd_peerdevice_replication_state");
        MetricsFamily *repl_c = GAUGE(m, "drbd_peerdevice_replication_state_code",
                                      "DRBD replication state as a number (docs/metrics.md)", "name", "conn_name",
                                      "peer_node_id", "volume");
        MetricsFamily *pdisk = GAUGE(m, "drbd_peerdevice_peerdisk_state",
                                     "The peer's disk state as this node sees it (1 for the current one)", "name",
                                     "conn_name", "peer_node_id", "volume", "drbd_peerdevice_peerdisk_state");
        MetricsFamily *pdisk_c = GAUGE(m, "drbd_peerdevice_peerdisk_state_code",
                                       "The peer's disk state as a number (docs/metrics.md)", "name", "conn_name",
                                       "peer_node_id", "volume");
        MetricsFamily *done = GAUGE(m, "drbd_peerdevice_resync_done_ratio",
                                    "Progress of a running resync with this peer, 0 to 1", "name", "conn_name",
                                    "peer_node_id", "volume");
        MetricsFamily *dstate = GAUGE(m, "drbd_device_state", "DRBD disk state (1 for the current one)", "name",
                                      "volume", "minor", "drbd_device_state");
        MetricsFamily *dstate_c = GAUGE(m, "drbd_device_state_code", "DRBD disk state as a number (docs/metrics.md)",
                                        "name", "volume", "minor");
        MetricsFamily *client = GAUGE(m, "drbd_device_client",
                                      "Boolean whether this device is a client (intentionally diskless)", "name",
                                      "volume", "minor");
        MetricsFamily *udl = GAUGE(m, "drbd_device_unintentionaldiskless",
                                   "Boolean whether the device is diskless without being a client", "name", "volume",
                                   "minor");
        MetricsFamily *quorum = GAUGE(m, "drbd_device_quorum", "Boolean whether this device has DRBD quorum", "name",
                                      "volume", "minor");
        MetricsFamily *open = GAUGE(m, "drbd_device_open", "Boolean whether this device is opened", "name", "volume",
                                    "minor");
        MetricsFamily *size = GAUGE(m, "drbd_device_size_bytes", "Device size in bytes", "name", "volume", "minor");
        MetricsFamily *rd = COUNTER(m, "drbd_device_read_bytes_total", "Net data read from the local disk", "name",
                                    "volume", "minor");
        MetricsFamily *wr = COUNTER(m, "drbd_device_written_bytes_total", "Net data written to the local disk",
                                    "name", "volume", "minor");
        MetricsFamily *alw = COUNTER(m, "drbd_device_alwrites_total",
                                     "Updates of the activity log area of the metadata", "name", "volume", "minor");
        MetricsFamily *bmw = COUNTER(m, "drbd_device_bmwrites_total", "Updates of the bitmap area of the metadata",
                                     "name", "volume", "minor");
        MetricsFamily *upp = GAUGE(m, "drbd_device_upperpending",
                                   "Block I/O requests forwarded to DRBD but not yet answered", "name", "volume",
                                   "minor");
        MetricsFamily *lop = GAUGE(m, "drbd_device_lowerpending",
                                   "Open requests to the local I/O subsystem issued by DRBD", "name", "volume",
                                   "minor");
        MetricsFamily *als = GAUGE(m, "drbd_device_alsuspended", "Boolean whether the activity log is suspended",
                                   "name", "volume", "minor");

        size_t n = st ? drbd_state_n_resources(st) : 0;
        (void) metrics_set(res_n, NULL, (double) n);
        for (size_t i = 0; i < n; i++) {
                const DrbdResource *r = drbd_state_resource(st, i);
                const char *lv[6] = { r->name };
                set_enum(role, role_c, lv, 1, role_name, _DRBD_ROLE_MAX, r->has_role ? (int) r->role : 0);
                (void) metrics_set(susp, lv, r->suspended[0] && !streq(r->suspended, "no"));
                if (r->has_may_promote)
                        (void) metrics_set(mayp, lv, r->may_promote);
                if (r->has_promotion_score)
                        (void) metrics_set(score, lv, r->promotion_score);

                for (size_t k = 0; k < r->n_devices; k++) {
                        const DrbdDevice *d = &r->devices[k];
                        char vol[16], minor[16] = "";
                        snprintf(vol, sizeof vol, "%u", d->volume);
                        if (d->has_minor)
                                snprintf(minor, sizeof minor, "%u", d->minor);
                        const char *dv[5] = { r->name, vol, minor };
                        if (d->has_disk)
                                set_enum(dstate, dstate_c, dv, 3, disk_name, _DRBD_DISK_MAX, (int) d->disk);
                        (void) metrics_set(client, dv, d->has_client && d->client);
                        (void) metrics_set(udl, dv, d->has_disk && d->disk == DRBD_DISK_DISKLESS &&
                                                            !(d->has_client && d->client));
                        if (d->has_quorum)
                                (void) metrics_set(quorum, dv, d->quorum);
                        if (d->has_open)
                                (void) metrics_set(open, dv, d->open);
                        if (d->has_size)
                                (void) metrics_set(size, dv, (double) d->size_kib * 1024);
                        if (d->stats & EVENTS2_S_READ)
                                (void) metrics_set(rd, dv, (double) d->read_kib * 1024);
                        if (d->stats & EVENTS2_S_WRITTEN)
                                (void) metrics_set(wr, dv, (double) d->written_kib * 1024);
                        if (d->stats & EVENTS2_S_AL_WRITES)
                                (void) metrics_set(alw, dv, (double) d->al_writes);
                        if (d->stats & EVENTS2_S_BM_WRITES)
                                (void) metrics_set(bmw, dv, (double) d->bm_writes);
                        if (d->stats & EVENTS2_S_UPPER_PENDING)
                                (void) metrics_set(upp, dv, (double) d->upper_pending);
                        if (d->stats & EVENTS2_S_LOWER_PENDING)
                                (void) metrics_set(lop, dv, (double) d->lower_pending);
                        if (d->stats & EVENTS2_S_AL_SUSPENDED)
                                (void) metrics_set(als, dv, d->al_suspended);
                }

                for (size_t k = 0; k < r->n_connections; k++) {
                        const DrbdConnection *c = &r->connections[k];
                        char peer[16];
                        snprintf(peer, sizeof peer, "%u", c->peer_node_id);
                        const char *cv[6] = { r->name, c->conn_name, peer };
                        if (c->has_connection)
                                set_enum(cstate, cstate_c, cv, 3, conn_name, _DRBD_CONN_MAX, (int) c->connection);
                        if (c->stats & EVENTS2_S_CONGESTED)
                                (void) metrics_set(congested, cv, c->congested);
                        if (c->stats & EVENTS2_S_AP_IN_FLIGHT)
                                (void) metrics_set(apif, cv, (double) c->ap_in_flight * 512);
                        if (c->stats & EVENTS2_S_RS_IN_FLIGHT)
                                (void) metrics_set(rsif, cv, (double) c->rs_in_flight * 512);
                        for (size_t v = 0; v < c->n_peer_devices; v++) {
                                const DrbdPeerDevice *pd = &c->peer_devices[v];
                                char vol[16];
                                double p;
                                snprintf(vol, sizeof vol, "%u", pd->volume);
                                const char *pv[6] = { r->name, c->conn_name, peer, vol };
                                if (pd->has_out_of_sync)
                                        (void) metrics_set(oos, pv, (double) pd->out_of_sync_kib * 1024);
                                if (pd->stats & EVENTS2_S_SENT) {
                                        (void) metrics_set(sent, pv, (double) pd->sent_kib * 1024);
                                        (void) metrics_set(sent_r, pv, (double) pd->sent_kib * 1024);
                                }
                                if (pd->stats & EVENTS2_S_RECEIVED) {
                                        (void) metrics_set(recv, pv, (double) pd->received_kib * 1024);
                                        (void) metrics_set(recv_r, pv, (double) pd->received_kib * 1024);
                                }
                                if (pd->has_replication)
                                        set_enum(repl, repl_c, pv, 4, repl_name, _DRBD_REPL_MAX, (int) pd->replication);
                                if (pd->has_peer_disk)
                                        set_enum(pdisk, pdisk_c, pv, 4, disk_name, _DRBD_DISK_MAX, (int) pd->peer_disk);
                                if (drbd_peer_device_sync_progress(r, pd, &p) >= 0)
                                        (void) metrics_set(done, pv, round(p * 100.0) / 10000.0);
                        }
                }
        }
}

/* "SyncTarget(37.1%)" -> "SyncTarget": a bounded label value. */
static void state_word(const char *s, char *buf, size_t size) {
        snprintf(buf, size, "%s", s);
        buf[strcspn(buf, "(")] = 0;
}

bool agent_state_is_transient(const char *state, bool diskless) {
        char w[64];
        state_word(state, w, sizeof w);
        if (streq(w, "UpToDate") || streq(w, "Error"))
                return false;
        return !(diskless && streq(w, "Diskless"));
}

void agent_metrics_collect(Metrics *m, void *userdata) {
        Agent *a = userdata;
        uint64_t now = thread_monotonic_usec();

        agent_metrics_drbd(m, a->dump_complete ? a->state : NULL);

        MetricsFamily *passes = COUNTER(m, "drbdd_agent_reconcile_passes_total", "Reconcile passes of the node agent",
                                        NULL);
        MetricsFamily *last = GAUGE(m, "drbdd_agent_reconcile_last_duration_seconds",
                                    "Duration of the agent's last reconcile pass", NULL);
        MetricsFamily *cmds = COUNTER(m, "drbdd_agent_commands_total",
                                      "External commands (drbdadm, lvm, ...) the agent ran", NULL);
        MetricsFamily *kread = GAUGE(m, "drbdd_agent_kernel_state_read",
                                     "1 once the agent has read the kernel's DRBD state (events2 initial dump)", NULL);
        MetricsFamily *inerr = GAUGE(m, "drbdd_agent_resource_error",
                                     "1 while the agent's last attempt on the resource failed", "resource");
        MetricsFamily *desired = GAUGE(m, "drbdd_replicas_desired",
                                       "Replicas the desired state places on this node, by kind", "node", "kind");
        MetricsFamily *observed = GAUGE(m, "drbdd_replicas_observed",
                                        "Replicas on this node by observed state", "node", "state");
        MetricsFamily *trans = GAUGE(m, "drbdd_resource_transient_seconds",
                                     "How long a replica on this node has been in a transient state (anything but "
                                     "UpToDate, a client's Diskless or Error)", "resource", "state");
        MetricsFamily *stuck = GAUGE(m, "drbdd_alarm_stuck_transient",
                                     "1 while a replica has been in a transient state longer than "
                                     "metrics-stuck-after", "resource", "state");
        MetricsFamily *ptotal = GAUGE(m, "drbdd_storage_pool_total_bytes", "Capacity of a storage pool on this node",
                                      "node", "pool");
        MetricsFamily *pfree = GAUGE(m, "drbdd_storage_pool_free_bytes", "Free space of a storage pool on this node",
                                     "node", "pool");
        MetricsFamily *pprov = GAUGE(m, "drbdd_storage_pool_provisioned_bytes",
                                     "Space promised to volumes in a storage pool on this node (thin pools: the "
                                     "virtual size of all thin volumes)", "node", "pool");

        (void) metrics_set(passes, NULL, (double) a->passes);
        (void) metrics_set(last, NULL, (double) a->last_pass_usec / 1e6);
        (void) metrics_set(cmds, NULL, (double) (exec_command_count() - a->commands_total_start));
        (void) metrics_set(kread, NULL, a->dump_complete);

        json_t *e, *o;
        const char *rd;
        size_t i;
        json_object_foreach(a->metrics_pools, rd, e) {
                (void) metrics_set(ptotal, METRICS_LABELS(a->node, rd), (double) json_get_int(e, "total-kib", 0) * 1024);
                (void) metrics_set(pfree, METRICS_LABELS(a->node, rd), (double) json_get_int(e, "free-kib", 0) * 1024);
                (void) metrics_set(pprov, METRICS_LABELS(a->node, rd),
                                   (double) json_get_int(e, "provisioned-kib", 0) * 1024);
        }
        static const char *const kinds[] = { "diskful", "diskless", "tie-breaker" };
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                (void) metrics_set(desired, METRICS_LABELS(a->node, kinds[k]), 0);
        json_array_foreach(a->metrics_desired, i, e) {
                json_t *rep = json_object_get(e, "replica");
                const char *kind = json_get_bool(rep, "tie-breaker", false) ? "tie-breaker"
                                   : json_get_bool(rep, "diskless", false)  ? "diskless"
                                                                            : "diskful";
                (void) metrics_add(desired, METRICS_LABELS(a->node, kind), 1);
        }

        /* Transient states: since when, kept across collections. */
        _cleanup_(json_decrefp) json_t *diskless_by_rd = json_object();
        json_array_foreach(a->metrics_desired, i, e)
                json_object_set_new(diskless_by_rd, json_get_str(e, "name", ""),
                                    json_boolean(json_get_bool(json_object_get(e, "replica"), "diskless", false)));
        json_object_foreach(a->obs, rd, o) {
                char w[64];
                const char *state = json_get_str(o, "state", "Unknown");
                bool diskless = json_is_true(json_object_get(diskless_by_rd, rd));
                state_word(state, w, sizeof w);
                (void) metrics_add(observed, METRICS_LABELS(a->node, w), 1);
                (void) metrics_set(inerr, METRICS_LABELS(rd), json_object_get(o, "error") != NULL);
                json_t *t = json_object_get(a->metrics_transient, rd);
                if (!agent_state_is_transient(state, diskless)) {
                        json_object_del(a->metrics_transient, rd);
                        continue;
                }
                if (!t || !streq(json_get_str(t, "state", ""), w)) {
                        t = json_pack("{s:s, s:I}", "state", w, "since", (json_int_t) now);
                        json_object_set_new(a->metrics_transient, rd, t);
                }
                double secs = (double) (now - (uint64_t) json_get_int(t, "since", (json_int_t) now)) / 1e6;
                (void) metrics_set(trans, METRICS_LABELS(rd, w), secs);
                (void) metrics_set(stuck, METRICS_LABELS(rd, w), secs >= a->metrics_stuck_after_sec);
        }
        /* Forget resources that are gone. */
        void *tmp;
        json_object_foreach_safe(a->metrics_transient, tmp, rd, o)
                if (!json_object_get(a->obs, rd))
                        json_object_del(a->metrics_transient, rd);
}

void agent_metrics_pass(Agent *a, StoragePool **pools, size_t n_pools, const StorageReport *reports, json_t *desired) {
        if (!a->metrics)
                return;
        json_t *p = json_object();
        for (size_t i = 0; p && i < n_pools; i++) {
                const StorageReport *rep = &reports[i];
                if (rep->error < 0)
                        continue;
                uint64_t prov = 0;
                if (rep->virtual_kib)
                        prov = rep->virtual_kib;
                else
                        for (size_t k = 0; k < rep->n_volumes; k++)
                                prov += rep->volumes[k].size_kib;
                json_object_set_new(p, pools[i]->name, json_pack("{s:I, s:I, s:I}", "total-kib",
                                                                 (json_int_t) rep->total_kib, "free-kib",
                                                                 (json_int_t) rep->free_kib, "provisioned-kib",
                                                                 (json_int_t) prov));
        }
        json_decref(a->metrics_pools);
        a->metrics_pools = p;
        json_decref(a->metrics_desired);
        a->metrics_desired = json_incref(desired);
        (void) metrics_observe(a->metrics_pass_seconds, NULL, (double) a->last_pass_usec / 1e6);
}

void agent_metrics_error(Agent *a, const char *rd) {
        if (a->metrics_errors)
                (void) metrics_add(a->metrics_errors, METRICS_LABELS(rd), 1);
}

int agent_metrics_register(Agent *a, Metrics *m, unsigned stuck_after_sec) {
        static const double buckets[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
        int r;
        if (!(a->metrics_transient = json_object()))
                return -ENOMEM;
        a->metrics = m;
        a->metrics_stuck_after_sec = stuck_after_sec;
        if ((r = metrics_family_new(m, "drbdd_agent_reconcile_duration_seconds", METRICS_HISTOGRAM,
                                    "Reconcile passes of the node agent by duration", NULL, buckets,
                                    ELEMENTSOF(buckets), &a->metrics_pass_seconds)) < 0 ||
            (r = metrics_family_new(m, "drbdd_agent_reconcile_errors_total", METRICS_COUNTER,
                                    "Failed attempts of the node agent, by resource", METRICS_LABELS("resource"),
                                    NULL, 0, &a->metrics_errors)) < 0)
                return r;
        return 0; /* collected on the agent's thread (agent_run) */
}
