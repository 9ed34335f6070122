/* Table-driven D-Bus objects: an interface is a const table of methods and
 * signals; one dispatcher checks the caller, routes the call, and turns a
 * negative errno plus message into a typed org.drbd.drbdd1.Error.* reply.
 * The sd-bus vtable (and so the Introspect XML) is generated from the same
 * table, so what is introspected is exactly what is dispatched. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* A handler reads its arguments from m and appends its results to reply
 * (already created, of the method's out-signature). It returns >= 0, or a
 * negative errno and optionally a newly allocated message in *ret_msg. */
typedef int (*BusHandler)(sd_bus_message *m, void *userdata, sd_bus_message *reply, char **ret_msg);

/* A handler returns BUS_REPLY_DEFERRED when it will answer later itself: it
 * keeps a reference to m (sd_bus_message_ref) and eventually replies with
 * sd_bus_reply_method_return()/bus_reply_error(); the dispatcher then sends
 * nothing and the prepared reply is dropped. The event loop stays free. */
#define BUS_REPLY_DEFERRED 0x7d0000

/* Replies to call m with the typed error for negative errno r and msg (or
 * strerror), escaped if it is not UTF-8 that sd-bus sends. For deferred
 * replies. */
int bus_reply_error(sd_bus_message *m, int r, const char *msg);

enum {
        BUS_METHOD_ANY_CALLER = 1 << 0, /* no uid check (read-only, harmless) */
        BUS_METHOD_ON_LOOP = 1 << 1,    /* runs on the event loop even with workers
                                         * (uses loop-owned state, or no store) */
};

typedef struct BusMethod {
        const char *name;
        const char *in;        /* in-signature */
        const char *out;       /* out-signature */
        const char *names;     /* SD_BUS_PARAM(a) ... for in then out args */
        BusHandler handler;
        unsigned flags;
} BusMethod;

typedef struct BusSignal {
        const char *name;
        const char *sig;
        const char *names;
} BusSignal;

typedef struct BusInterface {
        const char *name;
        const BusMethod *methods;  /* terminated by a row with name NULL */
        const BusSignal *signals;  /* terminated by a row with name NULL, may be NULL */
} BusInterface;

/* Who may call: uids allowed besides root. */
typedef struct BusAccess {
        const uid_t *uids;
        size_t n_uids;
} BusAccess;

typedef struct BusObject BusObject;
typedef struct BusWorkers BusWorkers;

/* Registers iface at path (or as a fallback below path when fallback is set,
 * with find/enumerate callbacks as in sd-bus: find gets the BusObject as
 * userdata, enumerator gets userdata). userdata is passed to the handlers.
 * find and enumerator run only for callers that pass bus_check_caller(): to
 * anyone else the objects below path do not exist (see bus.c). The
 * BusObject lives until bus_object_free(). */
int bus_object_add(sd_bus *bus, const char *path, bool fallback, const BusInterface *iface, const BusAccess *access,
                   void *userdata, sd_bus_object_find_t find, sd_bus_node_enumerator_t enumerator,
                   BusObject **ret);
BusObject *bus_object_free(BusObject *o);

/* From now on, calls without BUS_METHOD_ON_LOOP run on workers (bus-worker.h). */
void bus_object_set_workers(BusObject *o, BusWorkers *w);

/* Observer of answered method calls (drbdd's metrics): method name, the
 * handler's result (>= 0, BUS_REPLY_DEFERRED or a negative errno) and the
 * time from dispatch to the reply being sent. Called on the event loop.
 * NULL: none. */
typedef void (*BusCallObserver)(const char *method, int result, uint64_t usec, void *userdata);
void bus_set_call_observer(BusCallObserver fn, void *userdata);
/* Reports one call to the observer, if any (bus.c and bus-worker.c). */
void bus_call_observed(const char *method, int result, uint64_t start_usec);

/* The (effective) uid of the sender of m. */
int bus_caller_uid(sd_bus_message *m, uid_t *ret);

/* Checks that the sender of m runs as root or as one of access's uids.
 * Returns 0, or -EACCES. */
int bus_check_caller(sd_bus_message *m, const BusAccess *access);

/* The userdata given to bus_object_add() (for find callbacks, which receive
 * the BusObject itself). */
void *bus_object_get_userdata(BusObject *o);
