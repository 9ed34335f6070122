/* Pending WaitReady calls: grouped per replica, re-checked only when a change
 * concerns them, dropped when their caller leaves, bounded. See wait-ready.h. */
#include <stdio.h>
#include <time.h>

#include "bus-json.h"
#include "bus.h"
#include "drbdd/service/service-watch.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "wait-ready.h"

#define WAIT_MAX_USEC (3600ULL * 1000000)
#define WAIT_POLL_USEC (2ULL * 1000000) /* safety net besides change events */
#define WAIT_POLL_GROUPS 16             /* groups the safety net re-checks per tick */
#define WAIT_BATCH_GROUPS 64            /* groups re-checked per loop iteration */

typedef struct Group Group;

/* One pending call. */
typedef struct Call {
        struct Call *prev, *next;
        Group *group;
        sd_bus_message *msg;
        uid_t uid;
        sd_event_source *timer;
} Call;

/* The calls waiting for one replica: one readiness check answers them all. */
struct Group {
        Group *prev, *next;
        WaitReady *wr;
        char *rd, *node;
        Call *calls;
        bool dirty;
};

struct WaitReady {
        sd_bus *bus;
        Service *service;
        Group *head, *tail; /* the safety net takes from the head, re-queues at the tail */
        size_t n_calls, n_groups, n_dirty;
        unsigned max_total, max_per_user;
        sd_bus_slot *leave_match;
        ServiceWatch *watch; /* observed-state changes, through the service */
        sd_event_source *watch_source, *poll, *defer;
};

/* ---- groups and calls ---- */

static void call_free(Call *c) {
        sd_event_source_disable_unref(c->timer);
        sd_bus_message_unref(c->msg);
        free(c);
}

static void group_remove(Group *g) {
        WaitReady *wr = g->wr;
        while (g->calls) {
                Call *c = g->calls;
                g->calls = c->next;
                call_free(c);
                wr->n_calls--;
        }
        if (g->dirty)
                wr->n_dirty--;
        *(g->prev ? &g->prev->next : &wr->head) = g->next;
        *(g->next ? &g->next->prev : &wr->tail) = g->prev;
        wr->n_groups--;
        free(g->rd);
        free(g->node);
        free(g);
}

static void call_remove(Call *c) {
        Group *g = c->group;
        *(c->prev ? &c->prev->next : &g->calls) = c->next;
        if (c->next)
                c->next->prev = c->prev;
        call_free(c);
        g->wr->n_calls--;
        if (!g->calls)
                group_remove(g);
}

static void group_append(WaitReady *wr, Group *g) {
        g->next = NULL;
        g->prev = wr->tail;
        *(wr->tail ? &wr->tail->next : &wr->head) = g;
        wr->tail = g;
}

static Group *group_find(WaitReady *wr, const char *rd, const char *node) {
        for (Group *g = wr->head; g; g = g->next)
                if (streq(g->rd, rd) && streq(g->node, node))
                        return g;
        return NULL;
}

/* Stops watching while nothing is pending. */
static void wait_ready_idle(WaitReady *wr) {
        if (wr->head)
                return;
        wr->watch_source = sd_event_source_disable_unref(wr->watch_source);
        wr->watch = service_watch_close(wr->watch);
        wr->poll = sd_event_source_disable_unref(wr->poll);
        wr->defer = sd_event_source_disable_unref(wr->defer);
}

/* ---- answering ---- */

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

/* One readiness check for the whole group: 1 = answered and removed (ready,
 * or failed, e.g. the replica is gone), 0 = still waiting (the state in
 * *ret_msg, if given). */
static int group_try(Group *g, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *row = NULL;
        _cleanup_free_ char *msg = NULL;
        int r = service_resource_ready(g->wr->service, g->rd, g->node, &row, &msg);
        if (r == 0) {
                if (ret_msg)
                        *ret_msg = TAKE_PTR(msg);
                return 0;
        }
        for (Call *c = g->calls; c; c = c->next) {
                int q = r > 0 ? reply_row(c->msg, row) : bus_reply_error(c->msg, r, msg);
                if (q < 0)
                        log_debug("WaitReady: reply failed: %s", strerror(-q));
        }
        group_remove(g);
        return 1;
}

static void mark_dirty(Group *g) {
        if (g->dirty)
                return;
        g->dirty = true;
        g->wr->n_dirty++;
        if (g->wr->defer)
                sd_event_source_set_enabled(g->wr->defer, SD_EVENT_ONESHOT);
}

/* Re-checks up to WAIT_BATCH_GROUPS marked groups per loop iteration, so a
 * burst of changes never holds the loop (and the API) for long. */
static int on_defer(sd_event_source *s, void *userdata) {
        WaitReady *wr = userdata;
        unsigned done = 0;
        for (Group *g = wr->head, *next; g && wr->n_dirty > 0 && done < WAIT_BATCH_GROUPS; g = next) {
                next = g->next;
                if (!g->dirty)
                        continue;
                g->dirty = false;
                wr->n_dirty--;
                done++;
                (void) group_try(g, NULL);
        }
        if (wr->n_dirty > 0)
                sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        wait_ready_idle(wr);
        return 0;
}

static void mark_rd(WaitReady *wr, const char *rd, size_t rd_len, const char *node) {
        for (Group *g = wr->head; g; g = g->next)
                if (rd ? (strlen(g->rd) == rd_len && memcmp(g->rd, rd, rd_len) == 0) : streq(g->node, node))
                        mark_dirty(g);
}

void wait_ready_changed(WaitReady *wr, const char *kind, const char *name) {
        if (!wr || !wr->head || !kind || !name)
                return;
        /* "resource" changes are named "rd/node"; the others by rd. A
         * node's removal answers its waiters (the replica is gone). */
        if (streq(kind, "node"))
                mark_rd(wr, NULL, 0, name);
        else if (streq(kind, "resource-definition") || streq(kind, "volume-definition") || streq(kind, "resource") ||
                 streq(kind, "snapshot") || streq(kind, "export"))
                mark_rd(wr, name, strcspn(name, "/"), NULL);
}

/* ---- sources: the observed-state watch, the safety net, callers leaving ---- */

static int wait_ready_arm(WaitReady *wr);

static void on_observed(const char *rd, void *userdata) {
        mark_rd(userdata, rd, strlen(rd), NULL);
}

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WaitReady *wr = userdata;
        int r = service_watch_read(wr->watch, on_observed, wr);
        if (r == -ESTALE) {
                /* Compacted: reopen from now and re-check everything once. */
                wr->watch_source = sd_event_source_disable_unref(wr->watch_source);
                wr->watch = service_watch_close(wr->watch);
                for (Group *g = wr->head; g; g = g->next)
                        mark_dirty(g);
                (void) wait_ready_arm(wr);
        }
        return 0;
}

/* The safety net (changes this daemon cannot see, e.g. another node's API
 * deleting a replica): a few groups per tick, round robin. */
static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        WaitReady *wr = userdata;
        for (unsigned i = 0; i < WAIT_POLL_GROUPS && i < wr->n_groups && wr->head; i++) {
                Group *g = wr->head;
                mark_dirty(g);
                if (wr->n_groups > 1) {
                        wr->head = g->next;
                        wr->head->prev = NULL;
                        group_append(wr, g);
                }
        }
        sd_event_source_set_time(s, usec + WAIT_POLL_USEC);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* NameOwnerChanged(name, old, "") for a unique name: that caller left the
 * bus; nobody is there to answer, so its calls go. */
static int on_leave(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        WaitReady *wr = userdata;
        const char *name, *old, *new;
        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || new[0] != 0 || name[0] != ':')
                return 0;
        size_t dropped = 0;
        for (Group *g = wr->head, *gnext; g; g = gnext) {
                gnext = g->next;
                bool last = false;
                for (Call *c = g->calls, *cnext; c && !last; c = cnext) {
                        cnext = c->next;
                        if (!streq_ptr(sd_bus_message_get_sender(c->msg), name))
                                continue;
                        last = !c->prev && !c->next; /* removing it frees the group */
                        call_remove(c);
                        dropped++;
                }
        }
        if (dropped)
                log_debug("WaitReady: dropped %zu pending call(s) of %s, which left the bus", dropped, name);
        wait_ready_idle(wr);
        return 0;
}

static int wait_ready_arm(WaitReady *wr) {
        sd_event *e = sd_bus_get_event(wr->bus);
        uint64_t now;
        int r;
        if (!e)
                return -ENXIO;
        if (!wr->watch && service_watch_observed(wr->service, &wr->watch) >= 0 &&
            sd_event_add_io(e, &wr->watch_source, service_watch_fd(wr->watch), EPOLLIN, on_watch, wr) < 0)
                wr->watch = service_watch_close(wr->watch); /* the safety net still covers it */
        if (!wr->defer) {
                if ((r = sd_event_add_defer(e, &wr->defer, on_defer, wr)) < 0)
                        return r;
                sd_event_source_set_enabled(wr->defer, wr->n_dirty ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        }
        if (!wr->poll) {
                sd_event_now(e, CLOCK_MONOTONIC, &now);
                return sd_event_add_time(e, &wr->poll, CLOCK_MONOTONIC, now + WAIT_POLL_USEC, 100000, on_poll, wr);
        }
        return 0;
}

static int on_call_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Call *c = userdata;
        Group *g = c->group;
        WaitReady *wr = g->wr;
        _cleanup_free_ char *msg = NULL, *full = NULL;
        /* Last look first: if it is ready now, the whole group gets it. */
        if (group_try(g, &msg)) {
                wait_ready_idle(wr);
                return 0;
        }
        if (asprintf(&full, "timed out waiting for '%s' on node '%s' to be ready: %s", g->rd, g->node,
                     msg ? msg : "not ready") < 0)
                full = NULL;
        (void) bus_reply_error(c->msg, -ETIMEDOUT, full);
        call_remove(c);
        wait_ready_idle(wr);
        return 0;
}

/* ---- API ---- */

int wait_ready_method(WaitReady *wr, sd_bus_message *m, sd_bus_message *reply, char **ret_msg) {
        const char *rd, *node;
        uint64_t timeout, now;
        _cleanup_(json_decrefp) json_t *row = NULL;
        uid_t uid = (uid_t) -1;
        int r;
        if ((r = sd_bus_message_read(m, "sst", &rd, &node, &timeout)) < 0)
                return r;
        if (timeout > WAIT_MAX_USEC) {
                *ret_msg = strdup("timeout is at most one hour (3600000000 µs)");
                return -EINVAL;
        }
        r = service_resource_ready(wr->service, rd, node, &row, ret_msg);
        if (r < 0)
                return r;
        if (r > 0)
                return bus_append_json_dict(reply, row);
        if (timeout == 0)
                return -ETIMEDOUT; /* ret_msg says the state */

        /* Bounded: in total, and per caller user (a user may open many
         * connections, so a per-connection bound would bound nothing). */
        (void) bus_caller_uid(m, &uid);
        free(*ret_msg);
        *ret_msg = NULL;
        if (wr->n_calls >= wr->max_total) {
                if (asprintf(ret_msg, "too many pending WaitReady calls (%u, this daemon's limit max-waits); "
                             "try again later", wr->max_total) < 0)
                        *ret_msg = NULL;
                return -EBUSY;
        }
        size_t mine = 0;
        for (Group *g = wr->head; g; g = g->next)
                for (Call *c = g->calls; c; c = c->next)
                        mine += c->uid == uid;
        if (mine >= wr->max_per_user) {
                if (asprintf(ret_msg, "too many pending WaitReady calls from user %u (%u, the limit "
                             "max-waits-per-user); try again later", (unsigned) uid, wr->max_per_user) < 0)
                        *ret_msg = NULL;
                return -EBUSY;
        }

        sd_event *e = sd_bus_get_event(wr->bus);
        if (!e)
                return -ENXIO;
        Group *g = group_find(wr, rd, node);
        bool new_group = !g;
        if (new_group) {
                g = calloc(1, sizeof *g);
                if (!g || !(g->rd = strdup(rd)) || !(g->node = strdup(node))) {
                        if (g) {
                                free(g->rd);
                                free(g);
                        }
                        return -ENOMEM;
                }
                g->wr = wr;
        }
        Call *c = calloc(1, sizeof *c);
        if (c) {
                c->group = g;
                c->uid = uid;
                c->msg = sd_bus_message_ref(m);
                sd_event_now(e, CLOCK_MONOTONIC, &now);
                r = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, now + timeout, 1000, on_call_timeout, c);
        } else
                r = -ENOMEM;
        if (r >= 0)
                r = wait_ready_arm(wr);
        if (r < 0) {
                if (c)
                        call_free(c);
                if (new_group) {
                        free(g->rd);
                        free(g->node);
                        free(g);
                }
                return r;
        }
        if (new_group) {
                group_append(wr, g);
                wr->n_groups++;
        }
        c->next = g->calls;
        if (c->next)
                c->next->prev = c;
        g->calls = c;
        wr->n_calls++;
        return BUS_REPLY_DEFERRED;
}

size_t wait_ready_pending(WaitReady *wr, size_t *ret_groups) {
        if (ret_groups)
                *ret_groups = wr ? wr->n_groups : 0;
        return wr ? wr->n_calls : 0;
}

void wait_ready_set_limits(WaitReady *wr, unsigned max_total, unsigned max_per_user) {
        wr->max_total = max_total ? max_total : WAIT_READY_MAX_DEFAULT;
        wr->max_per_user = max_per_user ? max_per_user : WAIT_READY_MAX_PER_USER_DEFAULT;
}

int wait_ready_new(sd_bus *bus, Service *service, WaitReady **ret) {
        WaitReady *wr = calloc(1, sizeof *wr);
        if (!wr)
                return -ENOMEM;
        wr->bus = bus;
        wr->service = service;
        wait_ready_set_limits(wr, 0, 0);
        /* Only disconnections (new owner ""), only from the bus itself. */
        int r = sd_bus_add_match_async(bus, &wr->leave_match,
                                       "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                       "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''",
                                       on_leave, NULL, wr);
        if (r < 0)
                log_warning_errno(r, "WaitReady: cannot watch callers leaving the bus (%m); their calls stay until "
                                     "they time out");
        *ret = wr;
        return 0;
}

WaitReady *wait_ready_free(WaitReady *wr) {
        if (!wr)
                return NULL;
        while (wr->head) {
                for (Call *c = wr->head->calls; c; c = c->next)
                        (void) bus_reply_error(c->msg, -EHOSTUNREACH, "drbdd is shutting down");
                group_remove(wr->head);
        }
        wait_ready_idle(wr);
        sd_bus_slot_unref(wr->leave_match);
        free(wr);
        return NULL;
}
