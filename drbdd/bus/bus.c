/* Table-driven D-Bus dispatch: vtable generation, caller check, typed errors. */
#include <stdio.h>

#include "bus-error.h"
#include "bus-worker.h"
#include "bus.h"
#include "fault.h"
#include "log.h"
#include "macro.h"
#include "thread.h"
#include "utf8.h"

/* Characters of an error text that had to be escaped (see error_text()). */
#define BUS_ERROR_TEXT_MAX 1024

struct BusObject {
        const BusInterface *iface;
        const BusAccess *access;
        void *userdata;
        sd_bus_object_find_t find;
        sd_bus_node_enumerator_t enumerator;
        sd_bus_vtable *vtable;
        sd_bus_slot *slot, *enum_slot;
        BusWorkers *workers; /* NULL: every call on the loop */
};

int bus_caller_uid(sd_bus_message *m, uid_t *ret) {
        sd_bus_creds *c = NULL;
        int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID | SD_BUS_CREDS_AUGMENT, &c);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(c, ret);
        if (r < 0)
                r = sd_bus_creds_get_uid(c, ret);
        sd_bus_creds_unref(c);
        return r;
}

int bus_check_caller(sd_bus_message *m, const BusAccess *access) {
        uid_t uid;
        if (bus_caller_uid(m, &uid) < 0)
                return -EACCES;
        if (uid == 0)
                return 0;
        for (size_t i = 0; access && i < access->n_uids; i++)
                if (access->uids[i] == uid)
                        return 0;
        return -EACCES;
}

/* Objects below a fallback path (one per resource definition) exist only for
 * callers that pass the caller check: for anyone else find() reports no
 * object and the enumerator no child nodes. The bus policy lets anyone
 * introspect, and object paths carry names: Introspect of the parent and
 * probing PATH/NAME must not tell an existing name from a missing one. Such
 * a caller gets what D-Bus answers for a path that does not exist
 * (UnknownObject), whether NAME exists or not: AccessDenied for the names
 * that exist would tell them apart, and for every path it would break the
 * introspection the policy allows. sd-bus hands these callbacks no message:
 * the one being dispatched is sd_bus_get_current_message(); without one
 * (no caller to check) nothing is shown. */
static bool current_caller_allowed(sd_bus *bus, const BusObject *o) {
        sd_bus_message *m = sd_bus_get_current_message(bus);
        return m && bus_check_caller(m, o->access) >= 0;
}

static int object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                       sd_bus_error *error) {
        BusObject *o = userdata;
        if (!current_caller_allowed(bus, o))
                return 0;
        return o->find(bus, path, iface, o, found, error);
}

static int object_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        BusObject *o = userdata;
        if (!current_caller_allowed(bus, o)) {
                *ret_nodes = calloc(1, sizeof(char *));
                return *ret_nodes ? 0 : -ENOMEM;
        }
        return o->enumerator(bus, prefix, o->userdata, ret_nodes, error);
}

/* The text of the error reply for r and msg (NULL: a default for r). Caller
 * frees; NULL on OOM. sd-bus sends no error whose text is not UTF-8 as it
 * accepts it (utf8_is_valid()), and the caller would get no reply at all:
 * such a text is escaped here. Messages quote input with
 * utf8_quote_untrusted(), so this is only a safety net. */
static char *error_text(int r, const char *msg) {
        if (!msg && r == -EBADMSG)
                msg = "malformed arguments: a string is not valid UTF-8 (D-Bus refuses noncharacters such as U+FFFF "
                      "too), or an invalid object path or signature";
        if (!msg)
                msg = strerror(-r);
        if (utf8_is_valid(msg))
                return strdup(msg);
        char *text = utf8_escape(msg, BUS_ERROR_TEXT_MAX);
        log_notice("Error message is not valid UTF-8 (a bug: it quotes input unescaped); sent escaped: %s",
                   strna(text));
        return text;
}

static BusCallObserver bus_observer;
static void *bus_observer_userdata;

void bus_set_call_observer(BusCallObserver fn, void *userdata) {
        bus_observer = fn;
        bus_observer_userdata = userdata;
}

void bus_call_observed(const char *method, int result, uint64_t start_usec) {
        if (bus_observer && method)
                bus_observer(method, result, thread_monotonic_usec() - start_usec, bus_observer_userdata);
}

static int dispatch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusObject *o = userdata;
        uint64_t start = thread_monotonic_usec();
        const char *member = sd_bus_message_get_member(m);
        const BusMethod *meth = NULL;
        _cleanup_free_ char *msg = NULL;
        sd_bus_message *reply = NULL;
        int r;

        for (const BusMethod *x = o->iface->methods; x->name && !meth; x++)
                if (streq(x->name, member))
                        meth = x;
        if (!meth)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_METHOD, "unknown method %s", member);
        if (!(meth->flags & BUS_METHOD_ANY_CALLER) && bus_check_caller(m, o->access) < 0) {
                log_notice("Refused %s from %s: caller not allowed", member, strna(sd_bus_message_get_sender(m)));
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                         "access denied: the caller's user is not allowed to use drbdd");
        }
        if ((r = sd_bus_message_new_method_return(m, &reply)) < 0)
                return r;
        if (getenv("DRBDD_STALL")) {
                char point[128];
                snprintf(point, sizeof point, "bus:%s", member);
                fault_stall(point);
        }
        if (o->workers && !(meth->flags & BUS_METHOD_ON_LOOP)) {
                r = bus_workers_submit(o->workers, m, reply, meth, o->userdata);
                sd_bus_message_unref(reply);
                return r < 0 ? r : 1; /* answered when the worker is done */
        }
        r = meth->handler(m, o->userdata, reply, &msg);
        if (r < 0 || r == BUS_REPLY_DEFERRED)
                bus_call_observed(member, r, start);
        if (r < 0) {
                _cleanup_free_ char *text = error_text(r, msg);
                sd_bus_message_unref(reply);
                log_debug("%s failed: %s", member, text ? text : strerror(-r));
                return sd_bus_error_setf(error, bus_error_from_errno(r), "%s", text ? text : strerror(-r));
        }
        if (r == BUS_REPLY_DEFERRED) {
                sd_bus_message_unref(reply);
                return 1;
        }
        r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        /* Put the reply on the wire now: the work the call triggers (a
         * reconcile pass) must never delay or, in a crash, swallow it. */
        if (r >= 0)
                (void) sd_bus_flush(sd_bus_message_get_bus(m));
        bus_call_observed(member, 0, start);
        return r < 0 ? r : 1;
}

void bus_object_set_workers(BusObject *o, BusWorkers *w) {
        o->workers = w;
}

int bus_reply_error(sd_bus_message *m, int r, const char *msg) {
        _cleanup_free_ char *text = error_text(r, msg);
        return sd_bus_reply_method_errorf(m, bus_error_from_errno(r), "%s", text ? text : strerror(-r));
}

int bus_object_add(sd_bus *bus, const char *path, bool fallback, const BusInterface *iface, const BusAccess *access,
                   void *userdata, sd_bus_object_find_t find, sd_bus_node_enumerator_t enumerator, BusObject **ret) {
        size_t nm = 0, ns = 0, k = 0;
        int r;

        for (const BusMethod *x = iface->methods; x->name; x++)
                nm++;
        for (const BusSignal *x = iface->signals; x && x->name; x++)
                ns++;
        BusObject *o = calloc(1, sizeof *o);
        if (!o)
                return -ENOMEM;
        o->iface = iface;
        o->access = access;
        o->userdata = userdata;
        o->find = find;
        o->enumerator = enumerator;
        /* Unused union areas must be zero, hence calloc (see sd-bus-vtable.h). */
        o->vtable = calloc(nm + ns + 2, sizeof(sd_bus_vtable));
        if (!o->vtable) {
                free(o);
                return -ENOMEM;
        }
        o->vtable[k++] = (sd_bus_vtable) SD_BUS_VTABLE_START(0);
        for (const BusMethod *x = iface->methods; x->name; x++) {
                sd_bus_vtable *v = &o->vtable[k++];
                v->type = _SD_BUS_VTABLE_METHOD;
                v->flags = SD_BUS_VTABLE_UNPRIVILEGED;
                v->x.method.member = x->name;
                v->x.method.signature = x->in;
                v->x.method.result = x->out;
                v->x.method.handler = dispatch;
                v->x.method.names = x->names;
        }
        for (const BusSignal *x = iface->signals; x && x->name; x++) {
                sd_bus_vtable *v = &o->vtable[k++];
                v->type = _SD_BUS_VTABLE_SIGNAL;
                v->x.signal.member = x->name;
                v->x.signal.signature = x->sig;
                v->x.signal.names = x->names;
        }
        o->vtable[k].type = _SD_BUS_VTABLE_END;

        if (fallback)
                r = sd_bus_add_fallback_vtable(bus, &o->slot, path, iface->name, o->vtable,
                                               find ? object_find : NULL, o);
        else
                r = sd_bus_add_object_vtable(bus, &o->slot, path, iface->name, o->vtable, o);
        if (r >= 0 && enumerator)
                r = sd_bus_add_node_enumerator(bus, &o->enum_slot, path, object_enumerate, o);
        if (r < 0) {
                bus_object_free(o);
                return r;
        }
        *ret = o;
        return 0;
}

BusObject *bus_object_free(BusObject *o) {
        if (!o)
                return NULL;
        sd_bus_slot_unref(o->slot);
        sd_bus_slot_unref(o->enum_slot);
        free(o->vtable);
        free(o);
        return NULL;
}

void *bus_object_get_userdata(BusObject *o) {
        return o->userdata;
}
