/* API workers: method calls that need the store run on worker threads, so a
 * slow store delays only the calls that need it, never the event loop (which
 * keeps serving GetVersion, Introspect, WaitReady, signals, the cluster and
 * the agent).
 *
 * Threading rules (sd-bus objects are not thread-safe):
 * - The loop thread owns the bus: it receives the call, checks the caller,
 *   creates the reply message, takes the references, and later sends the
 *   reply and drops the references. A worker only reads the call's arguments
 *   and appends to the reply, messages no other thread touches meanwhile.
 * - Each worker has a context of its own (drbdd: a Service on a store handle
 *   of its own), found with bus_worker_context().
 * - Work that must happen on the loop (the Changed signal, waking the agent,
 *   re-checking WaitReady) is queued with bus_worker_on_loop() and runs on the
 *   loop, in order, just before the call's reply is sent. */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus.h"

/* Starts n worker threads, worker i with contexts[i] (not owned). */
int bus_workers_new(sd_event *event, void **contexts, unsigned n, BusWorkers **ret);
/* Finishes the calls being run (their replies are dropped), stops the
 * threads; calls still queued are answered Unavailable. */
BusWorkers *bus_workers_free(BusWorkers *w);

/* The calling worker's context; NULL on any other thread. */
void *bus_worker_context(void);

/* From a worker's call: runs fn(arg) on the loop before the call's reply is
 * sent, then free_fn(arg). Elsewhere: runs fn(arg) now. */
void bus_worker_on_loop(void (*fn)(void *arg), void *arg, void (*free_fn)(void *arg));

/* Calls submitted and not answered yet (any thread: it is atomic). */
unsigned bus_workers_in_flight(BusWorkers *w);

/* Queues a call for a worker (the loop thread only). m and reply are
 * referenced until the answer is sent. */
int bus_workers_submit(BusWorkers *w, sd_bus_message *m, sd_bus_message *reply, const BusMethod *meth,
                       void *userdata);
