/* Private to drbdd/bus: the Manager's methods on one resource beyond its
 * definition and replicas (resource-bus.c): snapshots, restore, clone,
 * revert, WaitReady, iSCSI exports and ownership; and the few ManagerBus
 * accessors they use. */
#pragma once

#include "bus.h"
#include "manager-bus.h"
#include "wait-ready.h"

Service *manager_bus_service(ManagerBus *mb);
sd_bus *manager_bus_sd_bus(ManagerBus *mb);
WaitReady *manager_bus_wait_ready(ManagerBus *mb);

int resource_bus_create_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_delete_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_list_snapshots(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_restore_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_revert_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_clone_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_wait_ready(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_export_iscsi(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_unexport_iscsi(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_list_exports(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_manage_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);
int resource_bus_unmanage_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg);

/* Rows for manager_methods[]; expanded where P is SD_BUS_PARAM. */
#define RESOURCE_BUS_METHODS                                                                                          \
        { "CreateSnapshot", "ssa{sv}", "", P(resource) P(snapshot) P(options), resource_bus_create_snapshot, 0 },            \
        { "DeleteSnapshot", "ss", "", P(resource) P(snapshot), resource_bus_delete_snapshot, 0 },                            \
        { "ListSnapshots", "s", "aa{sv}", P(resource) P(snapshots), resource_bus_list_snapshots, 0 },                        \
        { "RestoreSnapshot", "sssa{sv}", "o", P(resource) P(snapshot) P(new_resource) P(options) P(path),              \
          resource_bus_restore_snapshot, 0 },                                                                                \
        { "RevertToSnapshot", "ss", "", P(resource) P(snapshot), resource_bus_revert_snapshot, 0 },                          \
        { "CloneResource", "ssa{sv}", "o", P(resource) P(new_resource) P(options) P(path), resource_bus_clone_resource, 0 }, \
        { "WaitReady", "sst", "a{sv}", P(resource) P(node) P(timeout) P(replica), resource_bus_wait_ready,                   \
          BUS_METHOD_ON_LOOP },                                                                                        \
        { "ExportIscsi", "sa{sv}", "a{sv}", P(resource) P(options) P(export), resource_bus_export_iscsi, 0 },                \
        { "UnexportIscsi", "sa{sv}", "", P(resource) P(options), resource_bus_unexport_iscsi, 0 },                           \
        { "ListExports", "s", "aa{sv}", P(resource) P(exports), resource_bus_list_exports, 0 },                              \
        { "ManageResource", "sa{sv}", "", P(resource) P(options), resource_bus_manage_resource, 0 },                         \
        { "UnmanageResource", "sa{sv}", "", P(resource) P(options), resource_bus_unmanage_resource, 0 },
