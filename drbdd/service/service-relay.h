/* Carries the change notifications of Services used on other threads (the
 * node agent's, the cluster thread's) to the Service of an sd-event loop,
 * whose change callback (WaitReady, the Changed signal, the agent's kick)
 * must run on that loop. */
#pragma once

#include <systemd/sd-event.h>

#include "service.h"

typedef struct ServiceRelay ServiceRelay;

/* target's callback runs on event's thread. target and event must outlive
 * the relay. Returns 0 or negative errno. */
int service_relay_new(Service *target, sd_event *event, ServiceRelay **ret);
/* Sets from's change callback: its changes, made on any thread, are queued
 * and replayed in order through service_notify(target, ...) on the loop.
 * from is used on one other thread; the relay must outlive its use. */
void service_relay_attach(ServiceRelay *r, Service *from);
/* Replays what is queued now (on the loop's thread). */
void service_relay_flush(ServiceRelay *r);
/* Drops what is still queued. */
ServiceRelay *service_relay_free(ServiceRelay *r);
