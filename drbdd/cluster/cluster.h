/* Cluster membership and leader duties: each drbdd keeps a leased liveness
 * key; one drbdd, elected through a leased key, re-places replicas of nodes
 * lost past a grace period, keeps tie-breakers right (DRBD 9) and collects
 * garbage. With SQLite (one node) this is trivially the local node.
 * All of it runs on two threads of its own with their own store handles
 * (cluster.c); the loop only beats, replays changes and reads the status. */
#pragma once

#include <jansson.h>
#include <systemd/sd-event.h>

#include "drbdd/service/service.h"
#include "drbdd/store/store.h"

#define CLUSTER_KEY_ALIVE SERVICE_KEY_ALIVE
#define CLUSTER_KEY_LEADER "/drbdd/leader"

typedef struct Cluster Cluster;

typedef struct ClusterConfig {
        const char *node_name;
        unsigned lease_ttl_sec;   /* liveness lease, default 10 */
        unsigned grace_sec;       /* a node missing this long is lost, default 60 */
        unsigned duty_sec;        /* how often the leader runs its duties, default 5 */
        const char *store_url;    /* the cluster threads open their own handles */
        const ServiceConfig *service_config; /* for the cluster thread's Service */
        unsigned stall_sec;       /* renew only while the loop ran within this,
                                   * default 6 * lease_ttl_sec */
        /* Called on the loop once, when this node first registered in the
         * store (drbdd's readiness); may be NULL. */
        void (*on_registered)(void *userdata);
        void *userdata;
} ClusterConfig;

/* The threads open their own handles of cfg->store_url; service is the
 * loop's Service, on which the threads' changes are replayed. */
int cluster_new(Service *service, sd_event *event, const ClusterConfig *cfg, Cluster **ret);
Cluster *cluster_free(Cluster *c);
/* Starts liveness and leader election; failures to reach the store are
 * retried in the background (never fatal). */
int cluster_start(Cluster *c);
typedef struct Metrics Metrics;
/* Registers the cluster's metrics and its collector (leader, node liveness,
 * store reachability and latency, docs/metrics.md). Call before
 * cluster_start(); m must outlive c. Returns 0 or negative errno. */
int cluster_metrics_register(Cluster *c, Metrics *m);

/* {"node", "leader", "is-leader", "alive": [...], "lost": {node: seconds}} */
int cluster_status(Cluster *c, json_t **ret);
