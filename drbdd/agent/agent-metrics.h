/* Private to drbdd/agent (and its unit test): the agent's metrics collector
 * (agent-metrics.c). The public entry is agent_metrics_register() (agent.h). */
#pragma once

#include "agent-internal.h"
#include "drbdd/metrics/metrics.h"

/* Renders this node's DRBD state (NULL: none yet) into m's drbd_* families,
 * replacing what they held. Runs under the registry lock (a collector). */
void agent_metrics_drbd(Metrics *m, const DrbdState *st);
/* Whether an observed state ("SyncTarget(12.0%)", "Connecting", ...) is
 * transient: anything but UpToDate, Error, and Diskless of a client. */
bool agent_state_is_transient(const char *state, bool diskless);
/* After a pass: pool capacity and the desired replicas, for the collector. */
void agent_metrics_pass(Agent *a, StoragePool **pools, size_t n_pools, const StorageReport *reports, json_t *desired);
/* The collector: the agent thread runs it on its own loop (with the
 * registry locked), since it reads the agent's state. */
void agent_metrics_collect(Metrics *m, void *userdata);
/* A failed attempt on rd. */
void agent_metrics_error(Agent *a, const char *rd);
