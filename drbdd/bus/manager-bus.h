/* The drbdd D-Bus API: the manager object /org/drbd/drbdd1 and one object
 * per resource definition below /org/drbd/drbdd1/resource/. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus.h"
#include "drbdd/service/service.h"

#define DRBDD_BUS_NAME "org.drbd.drbdd1"
#define DRBDD_BUS_PATH "/org/drbd/drbdd1"
#define DRBDD_BUS_MANAGER_IFACE "org.drbd.drbdd1.Manager"
#define DRBDD_BUS_RD_IFACE "org.drbd.drbdd1.ResourceDefinition"
#define DRBDD_BUS_RD_PREFIX "/org/drbd/drbdd1/resource"

typedef struct ManagerBus ManagerBus;

/* Registers the objects on bus and hooks service change notifications to
 * the Changed signal. Neither bus nor service is owned. */
int manager_bus_new(sd_bus *bus, Service *service, const BusAccess *access, ManagerBus **ret);
ManagerBus *manager_bus_free(ManagerBus *mb);

/* The node agent as the bus sees it (drbdd wires it; the bus layer knows
 * no agent type): kick asks it for a pass soon after an API change, status
 * fills GetNodeStatus (a new object in *ret). Both are called on the loop
 * and must not wait for the agent. */
typedef struct ManagerBusAgent {
        void (*kick)(void *userdata);
        int (*status)(void *userdata, json_t **ret);
        void *userdata;
} ManagerBusAgent;
/* NULL (or never called): this drbdd runs as a controller only. The table
 * is copied. */
void manager_bus_set_agent(ManagerBus *mb, const ManagerBusAgent *agent);

struct Cluster;
/* Cluster membership whose status GetNodeStatus includes. */
void manager_bus_set_cluster(ManagerBus *mb, struct Cluster *cluster);

/* Runs the calls that need the store on n worker threads, worker i with
 * services[i] (its own Service on its own store handle; not owned, kept
 * until manager_bus_free()). Needs the bus attached to its event loop. */
int manager_bus_start_workers(ManagerBus *mb, Service **services, unsigned n);

/* True while calls run on the API workers or wait for their answer to be
 * sent (for AgentConfig.api_busy; any thread). */
bool manager_bus_api_busy(void *mb);

/* Bounds on pending WaitReady calls, in total and per caller user (0 = the
 * defaults, 4096 and 1024; drbdd.conf max-waits, max-waits-per-user). */
void manager_bus_set_wait_limits(ManagerBus *mb, unsigned max_total, unsigned max_per_user);

/* Appends the object path of resource definition name ("o"). */
int manager_bus_append_rd_path(sd_bus_message *reply, const char *name);

/* The interface tables, exposed for tests and documentation generation. */
extern const BusInterface manager_bus_interface;
extern const BusInterface manager_bus_rd_interface;
