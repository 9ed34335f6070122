/* The drbdd D-Bus API: argument parsing and replies around service_*(). */
#include <stdio.h>

#include "bus-json.h"
#include "drbdd/cluster/cluster.h"
#include "drbdd/model/size.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "bus-worker.h"
#include "manager-bus.h"
#include "resource-bus.h"

#ifndef DRBDD_VERSION
#define DRBDD_VERSION "0.1.0"
#endif

struct ManagerBus {
        sd_bus *bus;
        Service *service;
        BusObject *manager, *rd;
        BusWorkers *workers;
        ManagerBusAgent agent; /* kick == NULL: none */
        Cluster *cluster;
        WaitReady *wait; /* pending WaitReady calls (wait-ready.c) */
};

/* The Service of the thread: a worker's own, else the loop's. */
Service *manager_bus_service(ManagerBus *mb) {
        Service *w = bus_worker_context();
        return w ? w : mb->service;
}
sd_bus *manager_bus_sd_bus(ManagerBus *mb) { return mb->bus; }
WaitReady *manager_bus_wait_ready(ManagerBus *mb) { return mb->wait; }

void manager_bus_set_wait_limits(ManagerBus *mb, unsigned max_total, unsigned max_per_user) {
        wait_ready_set_limits(mb->wait, max_total, max_per_user);
}

void manager_bus_set_cluster(ManagerBus *mb, Cluster *cluster) {
        if (mb)
                mb->cluster = cluster;
}

void manager_bus_set_agent(ManagerBus *mb, const ManagerBusAgent *agent) {
        if (mb)
                mb->agent = agent ? *agent : (ManagerBusAgent) {};
}

static Service *svc(void *userdata) {
        return manager_bus_service(userdata);
}


static int bytes_to_kib(uint64_t bytes, uint64_t *ret, char **ret_msg) {
        uint64_t kib = bytes / 1024 + (bytes % 1024 ? 1 : 0);
        char *m = NULL;
        if (size_check_bounds(kib, &m) < 0) {
                if (ret_msg)
                        *ret_msg = m;
                else
                        free(m);
                return -EINVAL;
        }
        *ret = kib;
        return 0;
}


static int list_reply(ManagerBus *mb, const char *kind, const char *filter, sd_bus_message *reply, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *l = NULL;
        int r = service_list(svc(mb), kind, filter, &l, ret_msg);
        return r < 0 ? r : bus_append_json_dict_list(reply, l);
}

static int rd_path(const char *name, char **ret) {
        return sd_bus_path_encode(DRBDD_BUS_RD_PREFIX, name, ret);
}

/* ---- handlers ------------------------------------------------------------- */

static int method_get_version(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        ManagerBus *mb = u;
        (void) mb;
        return sd_bus_message_append(reply, "s", DRBDD_VERSION);
}

static int method_create_node(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name, *address;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &name, &address)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_node_create(svc(u), name, address, o, ret_msg);
}

static int method_delete_node(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name;
        int r = sd_bus_message_read(m, "s", &name);
        return r < 0 ? r : service_node_delete(svc(u), name, ret_msg);
}

static int method_set_node_property(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name, *key, *value;
        int r = sd_bus_message_read(m, "sss", &name, &key, &value);
        return r < 0 ? r : service_node_set_property(svc(u), name, key, value, ret_msg);
}

static int method_list_nodes(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        return list_reply(u, "node", NULL, reply, ret_msg);
}

static int method_create_pool(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *node, *pool, *driver;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "sss", &node, &pool, &driver)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_pool_create(svc(u), node, pool, driver, o, ret_msg);
}

static int method_delete_pool(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *node, *pool;
        int r = sd_bus_message_read(m, "ss", &node, &pool);
        return r < 0 ? r : service_pool_delete(svc(u), node, pool, ret_msg);
}

static int method_list_pools(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *node;
        int r = sd_bus_message_read(m, "s", &node);
        return r < 0 ? r : list_reply(u, "storage-pool", node, reply, ret_msg);
}

static int method_create_rg(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_rg_create(svc(u), name, o, ret_msg);
}

static int method_modify_rg(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_rg_modify(svc(u), name, o, ret_msg);
}

static int method_delete_rg(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name;
        int r = sd_bus_message_read(m, "s", &name);
        return r < 0 ? r : service_rg_delete(svc(u), name, ret_msg);
}

static int method_list_rgs(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        return list_reply(u, "resource-group", NULL, reply, ret_msg);
}

int manager_bus_append_rd_path(sd_bus_message *reply, const char *name) {
        _cleanup_free_ char *p = NULL;
        int r = rd_path(name, &p);
        return r < 0 ? r : sd_bus_message_append(reply, "o", p);
}

static int method_spawn(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rg, *name;
        uint64_t bytes, kib;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "sst", &rg, &name, &bytes)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = bytes_to_kib(bytes, &kib, ret_msg)) < 0 || (r = service_spawn(svc(u), rg, name, kib, o, ret_msg)) < 0)
                return r;
        return manager_bus_append_rd_path(reply, name);
}

static int method_create_rd(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = service_rd_create(svc(u), name, o, ret_msg)) < 0)
                return r;
        return manager_bus_append_rd_path(reply, name);
}

static int method_modify_rd(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &name)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_rd_modify(svc(u), name, o, ret_msg);
}

static int method_delete_rd(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *name;
        int r = sd_bus_message_read(m, "s", &name);
        return r < 0 ? r : service_rd_delete(svc(u), name, ret_msg);
}

static int method_list_rds(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        return list_reply(u, "resource-definition", NULL, reply, ret_msg);
}

static int method_create_vd(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        uint64_t bytes, kib;
        unsigned vnr = 0;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "st", &rd, &bytes)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = bytes_to_kib(bytes, &kib, ret_msg)) < 0 || (r = service_vd_create(svc(u), rd, kib, o, &vnr, ret_msg)) < 0)
                return r;
        return sd_bus_message_append(reply, "u", vnr);
}

static int method_resize_vd(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        uint32_t vnr;
        uint64_t bytes, kib;
        int r;
        if ((r = sd_bus_message_read(m, "sut", &rd, &vnr, &bytes)) < 0 || (r = bytes_to_kib(bytes, &kib, ret_msg)) < 0)
                return r;
        return service_vd_resize(svc(u), rd, vnr, kib, ret_msg);
}

static int method_delete_vd(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        uint32_t vnr;
        int r = sd_bus_message_read(m, "su", &rd, &vnr);
        return r < 0 ? r : service_vd_delete(svc(u), rd, vnr, ret_msg);
}

static int method_list_vds(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        int r = sd_bus_message_read(m, "s", &rd);
        return r < 0 ? r : list_reply(u, "volume-definition", rd, reply, ret_msg);
}

static int method_create_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &node)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_resource_create(svc(u), rd, node, o, ret_msg);
}

static int method_delete_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        int r = sd_bus_message_read(m, "ss", &rd, &node);
        return r < 0 ? r : service_resource_delete(svc(u), rd, node, ret_msg);
}

static int method_toggle_disk(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &node)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_resource_toggle_disk(svc(u), rd, node, o, ret_msg);
}

static int method_attach(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &node)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_resource_attach(svc(u), rd, node, o, ret_msg);
}

static int method_detach(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &node)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_resource_detach(svc(u), rd, node, o, ret_msg);
}

static int method_report_domains(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *node;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &node)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_usage_report(svc(u), node, o, ret_msg);
}

static int method_autoplace(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_autoplace(svc(u), rd, o, ret_msg);
}

static int method_list_resources(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        int r = sd_bus_message_read(m, "s", &rd);
        return r < 0 ? r : list_reply(u, "resource", rd, reply, ret_msg);
}

static int method_get_config(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        _cleanup_free_ char *text = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &node)) < 0 ||
            (r = service_render_config(svc(u), rd, node, &text, ret_msg)) < 0)
                return r;
        return sd_bus_message_append(reply, "s", text);
}

static int method_get_commands(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        _cleanup_(json_decrefp) json_t *l = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &node)) < 0 ||
            (r = service_plan_commands(svc(u), rd, node, &l, ret_msg)) < 0)
                return r;
        return bus_append_json_typed(reply, "as", l, NULL);
}

static int method_get_node_status(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        ManagerBus *mb = u;
        _cleanup_(json_decrefp) json_t *st = NULL;
        int r;
        if (!mb->agent.status)
                st = json_pack("{s:s}", "agent", "none (controller only: no DRBD on this node)");
        else if ((r = mb->agent.status(mb->agent.userdata, &st)) < 0)
                return r;
        if (!st)
                return -ENOMEM;
        json_t *cs = NULL;
        if (mb->cluster && cluster_status(mb->cluster, &cs) >= 0)
                json_object_set_new(st, "cluster", cs);
        return bus_append_json_dict(reply, st);
}

static int method_set_primary(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        int r = sd_bus_message_read(m, "ss", &rd, &node);
        return r < 0 ? r : service_rd_set_primary(svc(u), rd, node, ret_msg);
}

#define P SD_BUS_PARAM
static const BusMethod manager_methods[] = {
        { "GetNodeStatus", "", "a{sv}", P(status), method_get_node_status, BUS_METHOD_ON_LOOP },
        { "SetPrimary", "ss", "", P(resource) P(node), method_set_primary, 0 },
        { "GetVersion", "", "s", P(version), method_get_version, BUS_METHOD_ANY_CALLER | BUS_METHOD_ON_LOOP },
        { "CreateNode", "ssa{sv}", "", P(name) P(address) P(options), method_create_node, 0 },
        { "DeleteNode", "s", "", P(name), method_delete_node, 0 },
        { "SetNodeProperty", "sss", "", P(name) P(key) P(value), method_set_node_property, 0 },
        { "ListNodes", "", "aa{sv}", P(nodes), method_list_nodes, 0 },
        { "CreateStoragePool", "sssa{sv}", "", P(node) P(pool) P(driver) P(options), method_create_pool, 0 },
        { "DeleteStoragePool", "ss", "", P(node) P(pool), method_delete_pool, 0 },
        { "ListStoragePools", "s", "aa{sv}", P(node) P(pools), method_list_pools, 0 },
        { "CreateResourceGroup", "sa{sv}", "", P(name) P(options), method_create_rg, 0 },
        { "ModifyResourceGroup", "sa{sv}", "", P(name) P(options), method_modify_rg, 0 },
        { "DeleteResourceGroup", "s", "", P(name), method_delete_rg, 0 },
        { "ListResourceGroups", "", "aa{sv}", P(groups), method_list_rgs, 0 },
        { "SpawnResources", "ssta{sv}", "o", P(group) P(name) P(size) P(options) P(path), method_spawn, 0 },
        { "CreateResourceDefinition", "sa{sv}", "o", P(name) P(options) P(path), method_create_rd, 0 },
        { "ModifyResourceDefinition", "sa{sv}", "", P(name) P(options), method_modify_rd, 0 },
        { "DeleteResourceDefinition", "s", "", P(name), method_delete_rd, 0 },
        { "ListResourceDefinitions", "", "aa{sv}", P(definitions), method_list_rds, 0 },
        { "CreateVolumeDefinition", "sta{sv}", "u", P(resource) P(size) P(options) P(volume), method_create_vd, 0 },
        { "ResizeVolumeDefinition", "sut", "", P(resource) P(volume) P(size), method_resize_vd, 0 },
        { "DeleteVolumeDefinition", "su", "", P(resource) P(volume), method_delete_vd, 0 },
        { "ListVolumeDefinitions", "s", "aa{sv}", P(resource) P(volumes), method_list_vds, 0 },
        { "CreateResource", "ssa{sv}", "", P(resource) P(node) P(options), method_create_resource, 0 },
        { "DeleteResource", "ss", "", P(resource) P(node), method_delete_resource, 0 },
        { "ToggleDisk", "ssa{sv}", "", P(resource) P(node) P(options), method_toggle_disk, 0 },
        { "Attach", "ssa{sv}", "", P(resource) P(node) P(options), method_attach, 0 },
        { "Detach", "ssa{sv}", "", P(resource) P(node) P(options), method_detach, 0 },
        { "ReportDomains", "sa{sv}", "", P(node) P(resources), method_report_domains, 0 },
        { "AutoPlace", "sa{sv}", "", P(resource) P(options), method_autoplace, 0 },
        { "ListResources", "s", "aa{sv}", P(resource) P(resources), method_list_resources, 0 },
        { "GetResourceConfig", "ss", "s", P(resource) P(node) P(config), method_get_config, 0 },
        { "GetResourceCommands", "ss", "as", P(resource) P(node) P(commands), method_get_commands, 0 },
        RESOURCE_BUS_METHODS
        {}
};

static const BusSignal manager_signals[] = {
        { "Changed", "sss", P(kind) P(name) P(action) },
        {}
};

const BusInterface manager_bus_interface = { DRBDD_BUS_MANAGER_IFACE, manager_methods, manager_signals };

/* ---- per resource-definition objects -------------------------------------- */

static int rd_name_from_message(sd_bus_message *m, char **ret) {
        int r = sd_bus_path_decode(sd_bus_message_get_path(m), DRBDD_BUS_RD_PREFIX, ret);
        return r <= 0 ? -ENOENT : 0;
}

static int rd_method_get_info(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        _cleanup_free_ char *name = NULL;
        _cleanup_(json_decrefp) json_t *l = NULL;
        int r;
        if ((r = rd_name_from_message(m, &name)) < 0 ||
            (r = service_list(svc(u), "resource-definition", name, &l, ret_msg)) < 0)
                return r;
        return bus_append_json_dict(reply, json_array_get(l, 0));
}

static int rd_method_delete(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        _cleanup_free_ char *name = NULL;
        int r = rd_name_from_message(m, &name);
        return r < 0 ? r : service_rd_delete(svc(u), name, ret_msg);
}

static int rd_method_autoplace(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        _cleanup_free_ char *name = NULL;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = rd_name_from_message(m, &name)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_autoplace(svc(u), name, o, ret_msg);
}

static const BusMethod rd_methods[] = {
        { "GetInfo", "", "a{sv}", P(info), rd_method_get_info, 0 },
        { "AutoPlace", "a{sv}", "", P(options), rd_method_autoplace, 0 },
        { "Delete", "", "", "", rd_method_delete, 0 },
        {}
};
#undef P

const BusInterface manager_bus_rd_interface = { DRBDD_BUS_RD_IFACE, rd_methods, NULL };

/* rd_find() and rd_enumerate() run only for callers that may list resource
 * definitions (bus.c checks them first, as for the methods): to anyone else
 * no resource object exists. */
static int rd_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found, sd_bus_error *error) {
        ManagerBus *mb = bus_object_get_userdata(userdata);
        _cleanup_free_ char *name = NULL;
        _cleanup_(json_decrefp) json_t *l = NULL;
        if (sd_bus_path_decode(path, DRBDD_BUS_RD_PREFIX, &name) <= 0)
                return 0;
        if (service_list(mb->service, "resource-definition", name, &l, NULL) < 0)
                return 0;
        *found = userdata;
        return 1;
}

static int rd_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        ManagerBus *mb = userdata;
        _cleanup_(json_decrefp) json_t *l = NULL;
        json_t *e;
        size_t i, k = 0;
        int r = service_list(mb->service, "resource-definition", NULL, &l, NULL);
        if (r < 0)
                return r;
        char **nodes = calloc(json_array_size(l) + 1, sizeof *nodes);
        if (!nodes)
                return -ENOMEM;
        json_array_foreach(l, i, e)
                if (rd_path(json_get_str(e, "name", ""), &nodes[k]) >= 0)
                        k++;
        *ret_nodes = nodes;
        return 0;
}

/* ---- setup ---------------------------------------------------------------- */

static void on_change(const char *kind, const char *name, const char *action, void *userdata) {
        ManagerBus *mb = userdata;
        /* The agent's own reports need no new pass (that would loop). */
        if (!streq(action, "observed") && !streq(action, "forgotten") && mb->agent.kick)
                mb->agent.kick(mb->agent.userdata);
        wait_ready_changed(mb->wait, kind, name);
        int r = sd_bus_emit_signal(mb->bus, DRBDD_BUS_PATH, DRBDD_BUS_MANAGER_IFACE, "Changed", "sss", kind, name, action);
        if (r < 0)
                log_warning_errno(r, "Failed to emit Changed signal for %s '%s': %m", kind, name);
}

/* A worker Service's change: replayed on the loop before the reply. */
typedef struct Change {
        ManagerBus *mb;
        char *kind, *name, *action;
} Change;

static void change_free(void *p) {
        Change *c = p;
        free(c->kind);
        free(c->name);
        free(c->action);
        free(c);
}

static void change_replay(void *p) {
        Change *c = p;
        on_change(c->kind, c->name, c->action, c->mb);
}

static void on_worker_change(const char *kind, const char *name, const char *action, void *userdata) {
        Change *c = calloc(1, sizeof *c);
        if (!c || !(c->kind = strdup(kind)) || !(c->name = strdup(name)) || !(c->action = strdup(action))) {
                if (c)
                        change_free(c);
                log_warning("Out of memory: a change notification of %s '%s' is lost", kind, name);
                return;
        }
        c->mb = userdata;
        bus_worker_on_loop(change_replay, c, change_free);
}

bool manager_bus_api_busy(void *mb) {
        return mb && bus_workers_in_flight(((ManagerBus *) mb)->workers) > 0;
}

int manager_bus_start_workers(ManagerBus *mb, Service **services, unsigned n) {
        int r;
        if (n == 0)
                return 0;
        for (unsigned i = 0; i < n; i++)
                service_set_change_callback(services[i], on_worker_change, mb);
        if ((r = bus_workers_new(sd_bus_get_event(mb->bus), (void **) services, n, &mb->workers)) < 0)
                return r;
        bus_object_set_workers(mb->manager, mb->workers);
        bus_object_set_workers(mb->rd, mb->workers);
        return 0;
}

int manager_bus_new(sd_bus *bus, Service *service, const BusAccess *access, ManagerBus **ret) {
        ManagerBus *mb = calloc(1, sizeof *mb);
        int r;
        if (!mb)
                return -ENOMEM;
        mb->bus = bus;
        mb->service = service;
        if ((r = wait_ready_new(bus, service, &mb->wait)) < 0 ||
            (r = bus_object_add(bus, DRBDD_BUS_PATH, false, &manager_bus_interface, access, mb, NULL, NULL, &mb->manager)) < 0 ||
            (r = bus_object_add(bus, DRBDD_BUS_RD_PREFIX, true, &manager_bus_rd_interface, access, mb, rd_find, rd_enumerate,
                                &mb->rd)) < 0) {
                manager_bus_free(mb);
                return r;
        }
        service_set_change_callback(service, on_change, mb);
        *ret = mb;
        return 0;
}

ManagerBus *manager_bus_free(ManagerBus *mb) {
        if (!mb)
                return NULL;
        /* Workers first: their answers may still queue loop work. */
        mb->workers = bus_workers_free(mb->workers);
        wait_ready_free(mb->wait);
        bus_object_free(mb->manager);
        bus_object_free(mb->rd);
        free(mb);
        return NULL;
}
