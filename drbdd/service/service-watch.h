/* Observed-state changes for the layers above the service: which resources'
 * observed state an agent (of any node) changed, without the caller knowing
 * store keys or store watches. WaitReady (drbdd/bus/wait-ready.c) re-checks
 * its waiters on them. */
#pragma once

#include "service.h"

typedef struct ServiceWatch ServiceWatch;

/* Called once per changed observed object, with its resource's name
 * (borrowed, valid during the call). */
typedef void (*ServiceWatchFn)(const char *rd, void *userdata);

/* Starts reporting observed-state changes from now (the store's current
 * revision). s must outlive the watch. Returns 0, or a negative errno from
 * the store; *ret is written on success only. */
int service_watch_observed(Service *s, ServiceWatch **ret);
/* Readable while changes may be pending (for poll or sd-event). */
int service_watch_fd(ServiceWatch *w);
/* Reports the pending changes through fn; never blocks. Returns 0,
 * -ESTALE when changes were lost (the store compacted them away: the caller
 * re-checks everything and opens a new watch), or another negative errno
 * from the store. */
int service_watch_read(ServiceWatch *w, ServiceWatchFn fn, void *userdata);
/* Stops watching; accepts NULL. Returns NULL. */
ServiceWatch *service_watch_close(ServiceWatch *w);
