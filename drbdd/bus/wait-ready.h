/* Private to drbdd/bus: pending WaitReady calls (wait-ready.c).
 *
 * A WaitReady call that is not ready at once stays pending and is answered
 * later, without blocking the event loop. Calls for the same replica (rd,
 * node) share one group, so one readiness check answers them all. A group is
 * re-checked only when a change concerns its resource (a change this daemon
 * commits, or observed state in the store, which other nodes' agents write
 * too), plus a small round-robin share every WAIT_POLL_USEC as a safety net.
 * Calls of a caller that leaves the bus are dropped; pending calls are
 * bounded per caller user and in total (Busy beyond). */
#pragma once

#include <systemd/sd-bus.h>

#include "drbdd/service/service.h"

typedef struct WaitReady WaitReady;

#define WAIT_READY_MAX_DEFAULT 4096
#define WAIT_READY_MAX_PER_USER_DEFAULT 1024

/* Watches bus for callers that leave. Neither bus nor service is owned. */
int wait_ready_new(sd_bus *bus, Service *service, WaitReady **ret);
/* Fails every pending call with Unavailable and frees everything. */
WaitReady *wait_ready_free(WaitReady *wr);

/* Bounds on pending calls: in total and per caller user (0 = default). */
void wait_ready_set_limits(WaitReady *wr, unsigned max_total, unsigned max_per_user);

/* The handler of WaitReady (signature "sst"). */
int wait_ready_method(WaitReady *wr, sd_bus_message *m, sd_bus_message *reply, char **ret_msg);

/* A change this daemon committed (the service's change notification): marks
 * the groups it concerns for a re-check on the next loop iteration. */
void wait_ready_changed(WaitReady *wr, const char *kind, const char *name);

/* Pending calls and groups (for tests and status). */
size_t wait_ready_pending(WaitReady *wr, size_t *ret_groups);
