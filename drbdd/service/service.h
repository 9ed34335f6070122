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

/* Takes no ownership of store (which must outlive the service). */
int service_new(Store *store, const ServiceConfig *cfg, Service **ret);
Service *service_free(Service *s);

/* Called after every committed change: kind ("node", "storage-pool",
 * "resource-group", "resource-definition", "volume-definition", "resource"),
 * name (e.g. "r1" or "r1/alpha"), action ("created", "deleted", "modified"). */
typedef void (*ServiceChangeFn)(const char *kind, const char *name, const char *action, void *userdata);
void service_set_change_callback(Service *s, ServiceChangeFn fn, void *userdata);

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

/* Resources (replicas). options: "diskless" (bool), "storage-pool". */
int service_resource_create(Service *s, const char *rd, const char *node, json_t *options, char **ret_msg);
int service_resource_delete(Service *s, const char *rd, const char *node, char **ret_msg);
/* Places replicas per the resource group (options: "place-count" overrides
 * it); adds a diskless tie-breaker when exactly two diskful replicas result
 * on DRBD 9 nodes. -ENOSPC with a message when it cannot be satisfied. */
int service_autoplace(Service *s, const char *rd, json_t *options, char **ret_msg);
/* Resource definition + one volume + autoplace, undone if placement fails. */
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
 * (state NULL). */
int service_observed_put(Service *s, const char *node, const char *rd, json_t *state, char **ret_msg);

/* Asks for rd to be Primary on node (NULL or "" clears). The node's agent
 * promotes; others demote. */
int service_rd_set_primary(Service *s, const char *rd, const char *node, char **ret_msg);

/* Records the capacity the node agent measured for node/pool (KiB):
 * "capacity-kib" becomes total_kib, "reported-free-kib" free_kib. No write
 * when nothing changed. */
int service_pool_report(Service *s, const char *node, const char *pool, uint64_t total_kib, uint64_t free_kib,
                        char **ret_msg);
