/* D-Bus methods for snapshots, restore, clone, revert, exports, ownership,
 * and WaitReady, which answers later without blocking the event loop. */
#include <stdio.h>
#include <time.h>

#include "bus-json.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "snapshot-bus.h"

#define WAIT_MAX_USEC (3600ULL * 1000000)
#define WAIT_POLL_USEC (2ULL * 1000000) /* safety net besides change events */

static Service *svc(void *u) {
        return manager_bus_service(u);
}


int method_create_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &snap)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_snapshot_create(svc(u), rd, snap, o, ret_msg);
}

int method_delete_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap;
        int r = sd_bus_message_read(m, "ss", &rd, &snap);
        return r < 0 ? r : service_snapshot_delete(svc(u), rd, snap, ret_msg);
}

int method_list_snapshots(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *l = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = service_snapshot_list(svc(u), rd, &l, ret_msg)) < 0)
                return r;
        return bus_append_json_dict_list(reply, l);
}

int method_restore_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap, *new_rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "sss", &rd, &snap, &new_rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = service_snapshot_restore(svc(u), rd, snap, new_rd, o, ret_msg)) < 0)
                return r;
        return manager_bus_append_rd_path(reply, new_rd);
}

int method_revert_snapshot(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *snap;
        int r = sd_bus_message_read(m, "ss", &rd, &snap);
        return r < 0 ? r : service_snapshot_revert(svc(u), rd, snap, ret_msg);
}

int method_clone_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *new_rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "ss", &rd, &new_rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = service_rd_clone(svc(u), rd, new_rd, o, ret_msg)) < 0)
                return r;
        return manager_bus_append_rd_path(reply, new_rd);
}

int method_export_iscsi(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL, *res = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0 ||
            (r = service_export_iscsi(svc(u), rd, o, &res, ret_msg)) < 0)
                return r;
        /* target-lun is "u" as documented; the rest by JSON type. */
        if ((r = sd_bus_message_open_container(reply, 'a', "{sv}")) < 0)
                return r;
        const char *k;
        json_t *v;
        json_object_foreach(res, k, v) {
                if ((r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 || (r = sd_bus_message_append(reply, "s", k)) < 0)
                        return r;
                if (streq(k, "target-lun"))
                        r = sd_bus_message_append(reply, "v", "u", (uint32_t) json_integer_value(v));
                else
                        r = bus_append_json_variant(reply, v);
                if (r < 0 || (r = sd_bus_message_close_container(reply)) < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

int method_unexport_iscsi(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_unexport_iscsi(svc(u), rd, o, ret_msg);
}

int method_list_exports(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *l = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = service_export_list(svc(u), rd, &l, ret_msg)) < 0)
                return r;
        return bus_append_json_dict_list(reply, l);
}

int method_manage_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_rd_manage(svc(u), rd, o, ret_msg);
}

int method_unmanage_resource(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        const char *rd;
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "s", &rd)) < 0 || (r = bus_read_options(m, &o, ret_msg)) < 0)
                return r;
        return service_rd_unmanage(svc(u), rd, o, ret_msg);
}

/* ---- WaitReady ------------------------------------------------------------------
 * A call that is not ready at once stays pending: the call message is kept
 * (referenced) and answered when a re-check finds the replica ready, or
 * with Timeout when its timer fires. Re-checks run after every change this
 * daemon commits (service change callback), after every change of observed
 * state in the store (a watch, which also sees other nodes' agents), and
 * every WAIT_POLL_USEC as a safety net. */

typedef struct Waiter {
        struct Waiter *next;
        sd_bus_message *call;
        char *rd, *node;
        sd_event_source *timer;
        ManagerBus *mb;
} Waiter;

struct Waiters {
        Waiter *head;
        StoreWatch *watch;
        sd_event_source *watch_source, *poll;
};

static void waiter_free(Waiter *w) {
        sd_event_source_disable_unref(w->timer);
        sd_bus_message_unref(w->call);
        free(w->rd);
        free(w->node);
        free(w);
}

static void waiters_unlink(Waiters *ws, Waiter *w) {
        for (Waiter **p = &ws->head; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        return;
                }
}

static void waiters_idle(Waiters *ws) {
        if (ws->head)
                return;
        ws->watch_source = sd_event_source_disable_unref(ws->watch_source);
        ws->watch = store_watch_close(ws->watch);
        ws->poll = sd_event_source_disable_unref(ws->poll);
}

Waiters *waiters_free(Waiters *ws) {
        if (!ws)
                return NULL;
        while (ws->head) {
                Waiter *w = ws->head;
                ws->head = w->next;
                (void) bus_reply_error(w->call, -EHOSTUNREACH, "drbdd is shutting down");
                waiter_free(w);
        }
        waiters_idle(ws);
        free(ws);
        return NULL;
}

static int reply_row(sd_bus_message *call, json_t *row) {
        sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = bus_append_json_dict(reply, row);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

/* 1 = answered (ready or failed), 0 = still waiting. */
static int waiter_try(Waiter *w) {
        _cleanup_(json_decrefp) json_t *row = NULL;
        _cleanup_free_ char *msg = NULL;
        int r = service_resource_ready(manager_bus_service(w->mb), w->rd, w->node, &row, &msg);
        if (r == 0)
                return 0;
        if (r > 0)
                r = reply_row(w->call, row);
        else
                r = bus_reply_error(w->call, r, msg);
        if (r < 0)
                log_debug("WaitReady: reply failed: %s", strerror(-r));
        return 1;
}

void waiters_check(ManagerBus *mb) {
        Waiters *ws = *manager_bus_waiters(mb);
        if (!ws)
                return;
        for (Waiter **p = &ws->head; *p;) {
                Waiter *w = *p;
                if (waiter_try(w)) {
                        *p = w->next;
                        waiter_free(w);
                } else
                        p = &w->next;
        }
        waiters_idle(ws);
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Waiter *w = userdata;
        Waiters *ws = *manager_bus_waiters(w->mb);
        _cleanup_(json_decrefp) json_t *row = NULL;
        _cleanup_free_ char *msg = NULL, *full = NULL;
        int r = service_resource_ready(manager_bus_service(w->mb), w->rd, w->node, &row, &msg);
        if (r > 0)
                (void) reply_row(w->call, row);
        else if (r < 0)
                (void) bus_reply_error(w->call, r, msg);
        else {
                if (asprintf(&full, "timed out waiting for '%s' on node '%s' to be ready: %s", w->rd, w->node,
                             msg ? msg : "not ready") < 0)
                        full = NULL;
                (void) bus_reply_error(w->call, -ETIMEDOUT, full);
        }
        waiters_unlink(ws, w);
        waiter_free(w);
        waiters_idle(ws);
        return 0;
}

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ManagerBus *mb = userdata;
        Waiters *ws = *manager_bus_waiters(mb);
        StoreEventList l;
        int r = store_watch_read(ws->watch, &l);
        if (r >= 0)
                store_event_list_done(&l);
        else if (r == -ESTALE) {
                /* Compacted: reopen from now; the check below reads fresh state. */
                int64_t rev = 0;
                ws->watch_source = sd_event_source_disable_unref(ws->watch_source);
                ws->watch = store_watch_close(ws->watch);
                if (store_revision(service_store(manager_bus_service(mb)), &rev) >= 0 &&
                    store_watch_open(service_store(manager_bus_service(mb)), SERVICE_KEY_OBSERVED, rev, &ws->watch) >= 0)
                        sd_event_add_io(sd_bus_get_event(manager_bus_sd_bus(mb)), &ws->watch_source,
                                        store_watch_fd(ws->watch), EPOLLIN, on_watch, mb);
        }
        waiters_check(mb);
        return 0;
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        ManagerBus *mb = userdata;
        waiters_check(mb);
        Waiters *ws = *manager_bus_waiters(mb);
        if (ws && ws->head && ws->poll) {
                sd_event_source_set_time(ws->poll, usec + WAIT_POLL_USEC);
                sd_event_source_set_enabled(ws->poll, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int waiters_arm(ManagerBus *mb, Waiters *ws) {
        sd_event *e = sd_bus_get_event(manager_bus_sd_bus(mb));
        Store *st = service_store(manager_bus_service(mb));
        uint64_t now;
        int64_t rev = 0;
        if (!e)
                return -ENXIO;
        if (!ws->watch && store_revision(st, &rev) >= 0 && store_watch_open(st, SERVICE_KEY_OBSERVED, rev, &ws->watch) >= 0 &&
            sd_event_add_io(e, &ws->watch_source, store_watch_fd(ws->watch), EPOLLIN, on_watch, mb) < 0)
                ws->watch = store_watch_close(ws->watch); /* the poll still covers it */
        if (!ws->poll) {
                sd_event_now(e, CLOCK_MONOTONIC, &now);
                return sd_event_add_time(e, &ws->poll, CLOCK_MONOTONIC, now + WAIT_POLL_USEC, 100000, on_poll, mb);
        }
        return 0;
}

int method_wait_ready(sd_bus_message *m, void *u, sd_bus_message *reply, char **ret_msg) {
        ManagerBus *mb = u;
        const char *rd, *node;
        uint64_t timeout;
        _cleanup_(json_decrefp) json_t *row = NULL;
        int r;
        if ((r = sd_bus_message_read(m, "sst", &rd, &node, &timeout)) < 0)
                return r;
        if (timeout > WAIT_MAX_USEC) {
                if (ret_msg)
                        *ret_msg = strdup("timeout is at most one hour (3600000000 µs)");
                return -EINVAL;
        }
        r = service_resource_ready(svc(u), rd, node, &row, ret_msg);
        if (r < 0)
                return r;
        if (r > 0)
                return bus_append_json_dict(reply, row);
        if (timeout == 0)
                return -ETIMEDOUT; /* ret_msg says the state */
        free(*ret_msg);
        *ret_msg = NULL;

        Waiters **wsp = manager_bus_waiters(mb);
        if (!*wsp && !(*wsp = calloc(1, sizeof **wsp)))
                return -ENOMEM;
        Waiter *w = calloc(1, sizeof *w);
        sd_event *e = sd_bus_get_event(manager_bus_sd_bus(mb));
        uint64_t now;
        if (!w || !(w->rd = strdup(rd)) || !(w->node = strdup(node))) {
                if (w)
                        waiter_free(w);
                return -ENOMEM;
        }
        w->mb = mb;
        w->call = sd_bus_message_ref(m);
        if (!e) {
                waiter_free(w);
                return -ENXIO;
        }
        sd_event_now(e, CLOCK_MONOTONIC, &now);
        if ((r = sd_event_add_time(e, &w->timer, CLOCK_MONOTONIC, now + timeout, 1000, on_wait_timeout, w)) < 0 ||
            (r = waiters_arm(mb, *wsp)) < 0) {
                waiter_free(w);
                return r;
        }
        w->next = (*wsp)->head;
        (*wsp)->head = w;
        return BUS_REPLY_DEFERRED;
}
