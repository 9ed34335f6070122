/* The Manager's methods on one resource beyond its definition and replicas:
 * snapshots, restore, clone, revert, iSCSI exports, ownership, and WaitReady,
 * which answers later without blocking the event loop. */
#include <stdio.h>
#include <time.h>

#include "bus-json.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "resource-bus.h"


static Service *svc(void *u) {
        return manager_bus_service(u);
}


int resource_bus_create_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &snap)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_snapshot_create(svc(u), rd, snap, o, ret_msg);
}

int resource_bus_delete_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap;
        int r = sd_bus_message_read(m, "ss", &rd, &snap);
        return r < 0 ? r : service_snapshot_delete(svc(u), rd, snap, ret_msg);
}

int resource_bus_list_snapshots(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *l = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = service_snapshot_list(svc(u), rd, &l, ret_msg)) < 0)
                return r;
        return bus_append_json_dict_list(reply, l);
}

int resource_bus_restore_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap, *new_rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "sss", &rd, &snap, &new_rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = service_snapshot_restore(svc(u), rd, snap, new_rd, o, ret_msg)) < 0)
                return r;
        return manager_bus_append_rd_path(reply, new_rd);
}

int resource_bus_revert_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap;
        int r = sd_bus_message_read(m, "ss", &rd, &snap);
        return r < 0 ? r : service_snapshot_revert(svc(u), rd, snap, ret_msg);
}

int resource_bus_clone_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *new_rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &new_rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = service_rd_clone(svc(u), rd, new_rd, o, ret_msg)) < 0)
                return r;
        return manager_bus_append_rd_path(reply, new_rd);
}

int resource_bus_export_iscsi(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL, *res = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = service_export_iscsi(svc(u), rd, o, &res, ret_msg)) < 0)
                return r;
        /* target-lun is "u" as documented; the rest by JSON type. */
        if ((r = sd_bus_message_open_container(reply, 'a', "{sv}")) < 0)
                return r;
        const char *k;
        json_t *v;
        json_object_foreach(res, k, v) {
                if ((r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 || (r = sd_bus_message_append(reply, "s", k)) < 0)
                        return r;
                if (streq(k, "target-lun"))
                        r = sd_bus_message_append(reply, "v", "u", (uint32_t) json_integer_value(v));
                else
                        r = bus_append_json_variant(reply, v);
                if (r < 0 || (r = sd_bus_message_close_container(reply)) < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

int resource_bus_unexport_iscsi(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_unexport_iscsi(svc(u), rd, o, ret_msg);
}

int resource_bus_list_exports(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *l = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = service_export_list(svc(u), rd, &l, ret_msg)) < 0)
                return r;
        return bus_append_json_dict_list(reply, l);
}

int resource_bus_manage_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_rd_manage(svc(u), rd, o, ret_msg);
}

int resource_bus_unmanage_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_rd_unmanage(svc(u), rd, o, ret_msg);
}

/* ---- WaitReady (wait-ready.c) ---- */

int resource_bus_wait_ready(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        return wait_ready_method(manager_bus_wait_ready(u), m, reply, ret_msg);
}
