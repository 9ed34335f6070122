/* The node agent: makes this node's part of the desired state real (kernel
 * modules, backing volumes, DRBD configuration and devices), watches the
 * kernel's DRBD state through one long-lived `drbdsetup events2` stream,
 * writes the observed state back, and converges again after any crash. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "drbdd/service/service.h"
#include "drbdd/store/store.h"

typedef struct Agent Agent;

typedef struct AgentConfig {
        const char *node_name;
        const char *state_dir;     /* .res files in <state_dir>/res, top config <state_dir>/drbd.conf */
        const char *drbd_include;  /* file written so the default drbdadm config sees our resources
                                    * (e.g. /etc/drbd.d/drbdd.res); NULL: none */
        const char *modules_dir;   /* libkmod modules dir override; NULL: the running kernel's */
        bool load_modules;
        json_t *drbd_options;      /* node-wide options for the common section of the config:
                                    * {"net/ping-timeout": "30"}, validated; NULL: none (borrowed) */
        /* True while API calls are in flight on other threads (drbdd's API
         * workers): a pass waits for them, at most 2 s, so that it never acts
         * on a half-done call and a call's reply goes out before the work it
         * causes. NULL: never waits. */
        bool (*api_busy)(void *userdata);
        void *api_busy_userdata;
} AgentConfig;

/* Creates the agent; nothing runs until agent_start() and agent_run().
 * store and service are the agent's own (its thread is the only one to use
 * them once it runs; route service's change notifications to the loop with a
 * ServiceRelay) and must outlive it. */
int agent_new(Store *store, Service *service, const AgentConfig *cfg, Agent **ret);
/* Stops the agent's thread (a command in flight finishes first) and frees. */
Agent *agent_free(Agent *a);

/* On the calling thread: loads modules, detects the DRBD version (reported
 * on the node object) and reads this node's observed state. Returns 0, or
 * negative errno with a logged message (no usable DRBD: the caller runs
 * without an agent). */
int agent_start(Agent *a);

/* Starts the agent's thread with its own event loop: the events2 stream,
 * the store watch and the reconcile passes run there, so the API's loop
 * never waits for a command or for the agent. Returns 0 or negative errno. */
int agent_run(Agent *a);

/* Status for the API and drbdctl: kernel info, passes, commands run, last
 * pass duration, resources in error, as of the agent's last pass or state
 * change. Any thread. *ret is a new object. */
int agent_status(Agent *a, json_t **ret);

typedef struct Metrics Metrics;
/* Exports the agent's metrics through m (docs/metrics.md): this node's DRBD
 * state from the events2 stream (drbd-reactor's names), reconcile passes and
 * errors, commands, replicas desired and observed, storage pools, replicas
 * in a transient state and the stuck-transient alarm (in a transient state
 * stuck_after_sec or longer). Call before agent_run(): its collector runs
 * on the agent's thread. m must outlive a. Returns 0 or negative errno. */
int agent_metrics_register(Agent *a, Metrics *m, unsigned stuck_after_sec);

/* Forces a reconcile pass soon (e.g. after an API call). Any thread. */
void agent_kick(Agent *a);
