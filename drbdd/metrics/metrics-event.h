/* Runs the registry's collectors on an sd-event loop. */
#pragma once

#include <systemd/sd-event.h>

#include "drbdd/metrics/metrics.h"

/* Collection period while someone scrapes (a render within the last
 * minute), and otherwise. */
#define METRICS_COLLECT_USEC 1000000ULL
#define METRICS_COLLECT_IDLE_USEC 15000000ULL

/* Runs metrics_collect(m) now and then periodically on event (the thread
 * that owns the collectors' state): every second while the endpoint is
 * scraped, every 15 s otherwise, so a scrape sees state at most about a
 * second old. The timer source is returned in *ret (unref it before
 * freeing m). Returns 0 or negative errno. */
int metrics_event_attach(Metrics *m, sd_event *event, sd_event_source **ret);

/* The same for one collector that is not registered (fn, userdata), on the
 * loop of the thread that owns its state (the node agent's). */
int metrics_event_attach_fn(Metrics *m, sd_event *event, MetricsCollectFn fn, void *userdata,
                            sd_event_source **ret);
