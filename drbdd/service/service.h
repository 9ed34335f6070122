/* The volume service: the object model (nodes, storage pools, resource
 * groups, resource definitions with volumes, resources) kept in the cluster
 * store, with validation, allocation of minors/ports/node-ids inside store
 * transactions, sizing and autoplace. Knows nothing of D-Bus.
 *
 * Every mutating function validates all input before it touches the store,
 * and writes with one transaction (retried on revision conflicts), so a
 * failed call leaves the store unchanged. Options arrive as a JSON object
 * (the bus layer converts a{sv}); unknown option keys are refused.
 * Errors: negative errno (-EINVAL, -ENOENT, -EEXIST, -EBUSY, -ENOSPC,
 * -EHOSTUNREACH, -EIO) and, via ret_msg, a newly allocated one-line message
 * for the operator. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "drbdd/store/store.h"

typedef struct Service Service;

typedef struct ServiceConfig {
        const char *node_name;     /* this node (for logs, local agent) */
        unsigned minor_min, minor_max;
        unsigned port_min, port_max;
        unsigned default_peer_slots;
} ServiceConfig;

void service_config_defaults(ServiceConfig *c);

/* The clock the leader's timed duties (auto-diskful) read: time() unless a
 * test sets another (NULL: time() again). */
#include <time.h>
void service_set_clock(Service *s, time_t (*now)(time_t *));

/* Takes no ownership of store (which must outlive the service). */
int service_new(Store *store, const ServiceConfig *cfg, Service **ret);
Service *service_free(Service *s);

/* Called after every committed change: kind ("node", "storage-pool",
 * "resource-group", "resource-definition", "volume-definition", "resource"),
 * name (e.g. "r1" or "r1/alpha"), action ("created", "deleted", "modified"). */
typedef void (*ServiceChangeFn)(const char *kind, const char *name, const char *action, void *userdata);
void service_set_change_callback(Service *s, ServiceChangeFn fn, void *userdata);
/* Calls s's change callback: for a change made through another Service on
 * the same store on another thread (drbdd's cluster thread), replayed on
 * the thread that owns s. */
void service_notify(Service *s, const char *kind, const char *name, const char *action);

/* Nodes. options: "properties" (object of strings), "drbd-version" ("9" or
 * "8.4"; default "9"). */
int service_node_create(Service *s, const char *name, const char *address, json_t *options, char **ret_msg);
int service_node_delete(Service *s, const char *name, char **ret_msg);
/* value NULL or "" deletes the property. */
int service_node_set_property(Service *s, const char *name, const char *key, const char *value, char **ret_msg);

/* Storage pools. driver: "lvm", "lvm-thin", "file". options: "volume-group",
 * "thin-pool", "directory", "capacity" (bytes; declared size until the node
 * agent reports the real one). */
int service_pool_create(Service *s, const char *node, const char *pool, const char *driver, json_t *options, char **ret_msg);
int service_pool_delete(Service *s, const char *node, const char *pool, char **ret_msg);

/* Resource groups. options: "place-count" (1..16), "storage-pools" (array of
 * names), "replicas-on-same", "replicas-on-different" (arrays of property
 * keys), "diskless-on-remaining" (bool), "drbd-options" (object of
 * "section/key": "value"), "peer-slots" (1..31). */
int service_rg_create(Service *s, const char *name, json_t *options, char **ret_msg);
int service_rg_modify(Service *s, const char *name, json_t *options, char **ret_msg);
int service_rg_delete(Service *s, const char *name, char **ret_msg);

/* Resource definitions. options: "resource-group" (default "DfltRscGrp"),
 * "port", "peer-slots", "drbd-options". */
int service_rd_create(Service *s, const char *name, json_t *options, char **ret_msg);
int service_rd_modify(Service *s, const char *name, json_t *options, char **ret_msg);
int service_rd_delete(Service *s, const char *name, char **ret_msg);

/* Volume definitions. size in KiB. options: "minor". *ret_vnr = new volume number. */
int service_vd_create(Service *s, const char *rd, uint64_t size_kib, json_t *options, unsigned *ret_vnr, char **ret_msg);
int service_vd_resize(Service *s, const char *rd, unsigned vnr, uint64_t size_kib, char **ret_msg);
int service_vd_delete(Service *s, const char *rd, unsigned vnr, char **ret_msg);

/* Resources (replicas). options: "diskless" (bool), "storage-pool". A
 * create on the node of rd's tie-breaker turns that into a client, or (not
 * diskless) into a diskful replica as service_resource_toggle_disk().
 * A diskful one beyond the metadata's peer slots is -EINVAL. */
int service_resource_create(Service *s, const char *rd, const char *node, json_t *options, char **ret_msg);
int service_resource_delete(Service *s, const char *rd, const char *node, char **ret_msg);
/* Attachments: a host (node) uses rd through its replica there. Attach
 * records node in rd's "attached" list, creating a diskless client marked
 * "attach-created" when node has no replica (a tie-breaker there is used as
 * it is). With two or more hosts attached the dual-primary window is open:
 * every host's configuration allows two primaries (live migration,
 * multiattach). Refused (-EBUSY, rd unchanged) when the window would be
 * needed and is unsafe: a DRBD 8.4 node among rd's, or a protocol other than
 * C. Detach removes node from the list, and the replica with it if its
 * attach created it; the window closes when one host is left. Both are one
 * transaction and idempotent. No options are taken yet (a{sv} for later). */
int service_resource_attach(Service *s, const char *rd, const char *node, json_t *options, char **ret_msg);
int service_resource_detach(Service *s, const char *rd, const char *node, json_t *options, char **ret_msg);
/* The compute helper's report of which libvirt domains on node use which
 * resources (resources: object of resource name -> array of domain names;
 * at most 4096 resources, 64 domains each, names 1..255 bytes without
 * control characters). Replaces node's previous report; ListResources shows
 * it per replica ("used-by"). */
int service_usage_report(Service *s, const char *node, json_t *resources, char **ret_msg);
/* Makes the replica on node diskful (options "storage-pool", else as for
 * create) or diskless ("diskless": true); without options it flips. One
 * change of the replica: same node-id, no moment without it. DRBD 9 only;
 * the last diskful replica cannot become diskless (-EINVAL). 0 when it
 * already is as asked. */
int service_resource_toggle_disk(Service *s, const char *rd, const char *node, json_t *options, char **ret_msg);
/* Places replicas per the resource group (options: "place-count" overrides
 * it); adds a diskless tie-breaker when exactly two diskful replicas result
 * on DRBD 9 nodes. -ENOSPC with a message when it cannot be satisfied. */
int service_autoplace(Service *s, const char *rd, json_t *options, char **ret_msg);
/* Resource definition + one volume + autoplace in one store transaction:
 * all of it or, on any error or a crash, nothing. */
int service_spawn(Service *s, const char *rg, const char *rd, uint64_t size_kib, json_t *options, char **ret_msg);

/* Listing: kind is one of "node", "storage-pool", "resource-group",
 * "resource-definition", "volume-definition", "resource". filter: a name to
 * restrict to (resource definition for volumes/resources, node for pools), or
 * NULL. *ret is a new JSON array of objects. */
int service_list(Service *s, const char *kind, const char *filter, json_t **ret, char **ret_msg);

/* The exact .res text node would run for rd (newly allocated). */
int service_render_config(Service *s, const char *rd, const char *node, char **ret_text, char **ret_msg);
/* The commands node would run to create rd's replica, one string each (JSON
 * array of strings, new reference). Nothing is executed. */
int service_plan_commands(Service *s, const char *rd, const char *node, json_t **ret, char **ret_msg);

/* ---- node agent interface ------------------------------------------------ */

/* Observed state lives apart from desired state, under
 * SERVICE_KEY_OBSERVED "<node>/<resource>", written only by that node. */
#define SERVICE_KEY_OBSERVED "/drbdd/obs/"
/* The compute helper's report per node: SERVICE_KEY_USAGE "<node>". */
#define SERVICE_KEY_USAGE "/drbdd/usage/"

/* A node's liveness: SERVICE_KEY_ALIVE "<node>", a key under its drbdd's
 * lease (drbdd/cluster/); gone when that drbdd stops or loses the store. */
#define SERVICE_KEY_ALIVE "/drbdd/alive/"

/* What node must run: a JSON array with one object per replica on node:
 * {"name", "replica" (the resource object), "dialect" ("9"|"8.4"),
 *  "peer-slots", "port", "pool" (storage pool object or null if diskless),
 *  "volumes": [{"volume", "minor", "size-kib", "backing-kib", "usable-kib",
 *               "storage-name" (e.g. "r1_00000"), "device"}],
 *  "config" (the .res text), "initial-sync-source" (bool: this replica is
 *  the diskful one with the lowest node-id), "primary" (bool: the operator
 *  asked for this node to be Primary)}. Also, separately, the node's storage
 *  pools ("pools"). *ret = {"resources": [...], "pools": [...]} (new ref). */
int service_node_desired(Service *s, const char *node, json_t **ret, char **ret_msg);

/* Records what the node's kernel runs (from kmod/): sets the node's
 * "drbd-version" to its dialect ("9" or "8.4") and "kernel" to info, so
 * placement respects it. -ENOENT if the node is not defined. */
int service_node_report_kernel(Service *s, const char *node, json_t *info, char **ret_msg);

/* Observed state of rd on node (written by the agent): replace or delete
 * (state NULL). Announced through the change callback as kind "resource",
 * name "<rd>/<node>", action "observed" (or "forgotten"). */
int service_observed_put(Service *s, const char *node, const char *rd, json_t *state, char **ret_msg);

/* Asks for rd to be Primary on node (NULL or "" clears). The node's agent
 * promotes; others demote. */
int service_rd_set_primary(Service *s, const char *rd, const char *node, char **ret_msg);

/* Records the capacity the node agent measured for node/pool (KiB):
 * "capacity-kib" becomes total_kib, "reported-free-kib" free_kib, and
 * "extent-kib" (sizes are rounded to it) extent_kib unless 0. No write
 * when nothing changed. */
int service_pool_report(Service *s, const char *node, const char *pool, uint64_t total_kib, uint64_t free_kib,
                        uint64_t extent_kib, char **ret_msg);

/* Leader duties, run by the elected drbdd: re-places the diskful replicas
 * that sit on lost nodes (array of names; their replicas stay defined so the
 * data is not thrown away), keeps one diskless tie-breaker on resources with
 * exactly two diskful replicas on DRBD 9 nodes and removes it otherwise, and
 * drops allocation keys whose resource no longer exists. *ret (optional)
 * gets a JSON array of what was done, one string per action. */
int service_leader_duties(Service *s, json_t *lost_nodes, json_t **ret, char **ret_msg);

/* The same duties a slice at a time, so that the API and the lease renewal
 * never wait long behind them: a pass reads the node list and the names of
 * the resource definitions once, then each run handles resources (and at the
 * end the garbage) until budget_usec is spent, at least one step. Returns 1
 * while more is left, 0 when the pass is done; appends notes to done. */
typedef struct LeaderPass LeaderPass;
int service_leader_pass_new(Service *s, json_t *lost_nodes, LeaderPass **ret, char **ret_msg);
int service_leader_pass_run(LeaderPass *p, uint64_t budget_usec, json_t *done);
LeaderPass *service_leader_pass_free(LeaderPass *p);
/* What the pass has seen so far (borrowed; complete once run returned 0):
 * {"windows": {resource: epoch seconds the dual-primary window opened},
 *  "running-disklessly": [{"resource", "node"}]: a domain (as a compute
 * helper reported) uses a diskless replica on a node with a pool of the
 * resource's group}. */
json_t *service_leader_pass_alarms(LeaderPass *p);

/* ---- snapshots, restore, clone, revert (service-snapshot.c), readiness
 * (service-ready.c), exports (service-export.c), ownership (service-manage.c),
 * the agents' extras (service-extras.c); docs/snapshots.md. Same conventions
 * as above. */

/* Observed state written by the agents next to SERVICE_KEY_OBSERVED:
 * "<node>/<rd>/<snapshot>" {"state": "ready"|"failed", "error"};
 * "<node>/<rd>" {"id", "phase": "reverted"|"up"}; "<node>/<rd>"
 * {"state": "exported"|"waiting"|"failed", "error"}. */
#define SERVICE_KEY_OBSERVED_SNAP "/drbdd/obs-snap/"
#define SERVICE_KEY_OBSERVED_REVERT "/drbdd/obs-revert/"
#define SERVICE_KEY_OBSERVED_EXPORT "/drbdd/obs-export/"

/* A consistent snapshot of every diskful replica of rd; all must be on
 * lvm-thin pools (-EINVAL otherwise). No options yet. -EEXIST if taken. */
int service_snapshot_create(Service *s, const char *rd, const char *snap, json_t *options, char **ret_msg);
/* -ENOENT when absent; -EBUSY while a restore or revert still reads it. */
int service_snapshot_delete(Service *s, const char *rd, const char *snap, char **ret_msg);
/* Snapshots of rd (all when rd is NULL or ""): {name, resource-definition,
 * nodes [{node, storage-pool}], volumes [{volume, size-kib}], created,
 * state ("ready"|"pending"|"failed"), node-states {node: state}}. */
int service_snapshot_list(Service *s, const char *rd, json_t **ret, char **ret_msg);
/* New rd with the snapshot's volumes and content, replicas on the snapshot's
 * nodes and pools. options: "resource-group", "place-count". A snapshot still
 * pending is fine (the agents wait for it); a failed one gives -EIO. One
 * store transaction, as spawn. */
int service_snapshot_restore(Service *s, const char *rd, const char *snap, const char *new_rd, json_t *options,
                             char **ret_msg);
/* New rd with rd's current content (thin clone per node); same options.
 * One store transaction, as spawn. */
int service_rd_clone(Service *s, const char *rd, const char *new_rd, json_t *options, char **ret_msg);
/* Rolls every replica of rd back to snap: -EBUSY while rd is Primary
 * anywhere, asked to be, or a revert runs. */
int service_snapshot_revert(Service *s, const char *rd, const char *snap, char **ret_msg);
/* 1 and *ret_row (its ListResources row) when the replica on node is usable
 * (diskful: UpToDate; diskless: every volume connected to an UpToDate
 * peer); 0 when not yet (ret_msg says its state); -ENOENT, -EINVAL. */
int service_resource_ready(Service *s, const char *rd, const char *node, json_t **ret_row, char **ret_msg);
/* iSCSI export of rd (one volume) from a node with a diskful replica, with an
 * ACL for options "initiator" + "chap-username"/"chap-password"; "portals"
 * (default: the node's address:3260), "node". Idempotent; *ret =
 * {target-iqn, target-portals, target-lun, node}. */
int service_export_iscsi(Service *s, const char *rd, json_t *options, json_t **ret, char **ret_msg);
/* Revokes options "initiator", or without it removes the export. -ENOENT. */
int service_unexport_iscsi(Service *s, const char *rd, json_t *options, char **ret_msg);
/* Exports (of rd, or all), without secrets, with the agent's "state". */
int service_export_list(Service *s, const char *rd, json_t **ret, char **ret_msg);
/* Ownership: options "owner" (required), "volume-id". -EEXIST if owned. */
int service_rd_manage(Service *s, const char *rd, json_t *options, char **ret_msg);
int service_rd_unmanage(Service *s, const char *rd, json_t *options, char **ret_msg);

/* For the node agent: {"snapshots": {"rd/snap": snapshot object} on node,
 * "reverts": {rd: revert request + "progress" {node: observed}}, "exports":
 * {rd: export object} from node, "sources": {rd: source of a restore or
 * clone}}. */
int service_node_extras(Service *s, const char *node, json_t **ret, char **ret_msg);
/* Writes (state NULL: deletes) prefix "<node>/<name>" for one of the
 * SERVICE_KEY_OBSERVED_* prefixes above; no write when unchanged. */
int service_observed_aux_put(Service *s, const char *prefix, const char *node, const char *name, json_t *state,
                             char **ret_msg);
/* Keys under prefix "<node>/" (names relative to it) -> raw value strings. */
int service_observed_aux_list(Service *s, const char *prefix, const char *node, json_t **ret);
/* The store the service works on (for watches). */
Store *service_store(Service *s);

/* Health of one replica from the kernel part of its observed object (what
 * `drbdctl r l` shows after the state): a list of short strings, e.g.
 * ["quorum lost", "degraded(vm2 Connecting)", "out-of-sync 12.5%(vm2)",
 * "split brain?(vm3 StandAlone)", "diskless", "suspended(quorum)",
 * "peer Outdated(vm2)"]; empty when healthy or unknown. *ret is a new
 * array. Returns 0 or -ENOMEM. */
int service_replica_health(const json_t *kernel, json_t **ret);
