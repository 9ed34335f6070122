/* Cluster membership (leased liveness keys), leader election (a leased key
 * created only when absent) and the leader's duties, off the event loop.
 *
 * Threads: the cluster thread registers, elects and runs the leader's duties
 * on a store handle and a Service of its own; the keep-alive thread renews
 * the lease on a third handle, so neither a busy loop nor a slow duty costs
 * the lease. The loop only beats (loop_beat), replays the cluster thread's
 * change notifications on its own Service (so the agent, WaitReady and the
 * Changed signal see them), and reads the status. Both threads act only
 * while the loop has beaten within stall_usec: a hung daemon must lose its
 * lease, and must not renew or re-register it. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "thread.h"
#include "cluster.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "drbdd/metrics/metrics.h"
#include "drbdd/service/service-relay.h"

/* A slice of leader duties runs at most this long; then the thread looks at
 * its lease and the clock again, and yields the store for DUTY_GAP_USEC. */
#define DUTY_SLICE_USEC 20000ULL
#define DUTY_GAP_USEC 10000ULL

typedef struct Renewer {
        Store *store; /* its own handle */
        pthread_t thread;
        bool running;
} Renewer;

struct Cluster {
        Service *service; /* the loop's: notifications are replayed on it */
        sd_event *event;
        char *node;
        unsigned ttl, grace, duty;
        uint64_t stall_usec;
        void (*on_registered)(void *userdata);
        void *userdata;

        /* loop side */
        sd_event_source *beat, *notify_source;
        int notify_fd;
        ServiceRelay *relay; /* the cluster thread's changes, replayed on the loop */
        bool registered_told; /* on_registered called */

        /* shared: under lock */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;
        bool leader;
        char *leader_name;
        json_t *alive;         /* last seen alive nodes */
        json_t *missing_since; /* node -> monotonic seconds first seen missing (leader only) */
        json_t *alarms;        /* the last complete leader pass's (service_leader_pass_alarms), or NULL */

        _Atomic int64_t lease;      /* 0 = none */
        _Atomic int64_t lost_lease; /* a lease the store no longer knows (renewer -> cluster thread) */
        _Atomic uint64_t loop_beat; /* monotonic µs of the loop's last beat */
        _Atomic int store_up;          /* last liveness/election round reached the store: 1, 0, -1 = not yet */
        _Atomic uint64_t store_usec;   /* and how long it took */
        MetricsFamily *store_seconds;  /* histogram of those rounds (set before cluster_start) */

        /* cluster thread only */
        Store *store;
        Service *svc;
        LeaderPass *pass;
        uint64_t last_duty; /* when the last pass ended, seconds */
        pthread_t thread;
        bool thread_running;

        Renewer renewer;
};

static uint64_t now_sec(void) {
        return thread_monotonic_usec() / 1000000ULL;
}

static bool loop_alive(Cluster *c) {
        return thread_monotonic_usec() - atomic_load(&c->loop_beat) < c->stall_usec;
}

/* Waits on c->cond up to usec (lock held), or until stop. */
static void wait_locked(Cluster *c, uint64_t usec) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t) until.tv_nsec + (usec % 1000000ULL) * 1000ULL;
        until.tv_sec += (time_t) (usec / 1000000ULL + ns / 1000000000ULL);
        until.tv_nsec = (long) (ns % 1000000000ULL);
        while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &until) == 0)
                ;
}

/* ---- the keep-alive thread ---- */

static void *renewer_main(void *userdata) {
        Cluster *c = userdata;
        uint64_t period = (uint64_t) c->ttl * 1000000ULL / 3;
        bool stalled = false;
        pthread_mutex_lock(&c->lock);
        while (!c->stop) {
                wait_locked(c, period);
                if (c->stop)
                        break;
                pthread_mutex_unlock(&c->lock);
                int64_t lease = atomic_load(&c->lease);
                bool alive = loop_alive(c);
                if (!alive && !stalled)
                        log_warning("cluster: the event loop has not run for %llu s; no longer renewing the liveness "
                                    "lease", (unsigned long long) (c->stall_usec / 1000000ULL));
                stalled = !alive;
                if (lease && alive) {
                        int r = store_lease_keepalive(c->renewer.store, lease);
                        if (r == -ENOENT)
                                atomic_store(&c->lost_lease, lease);
                        else if (r < 0)
                                log_debug("cluster: lease renewal failed: %s", strerror(-r));
                }
                pthread_mutex_lock(&c->lock);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

/* ---- the cluster thread ---- */

static int put_with_lease(Cluster *c, const char *key, int64_t lease, bool only_if_absent) {
        _cleanup_free_ char *v = NULL;
        StoreCompare cmp = { .key = key, .target = STORE_CMP_CREATE_REV, .rev = 0 };
        if (asprintf(&v, "{\"node\":\"%s\"}", c->node) < 0)
                return -ENOMEM;
        StoreOp op = { .type = STORE_OP_PUT, .key = key, .value = v, .lease = lease };
        return store_txn(c->store, only_if_absent ? &cmp : NULL, only_if_absent ? 1 : 0, &op, 1, NULL);
}

static void set_leader(Cluster *c, bool leader, const char *name) {
        pthread_mutex_lock(&c->lock);
        if (leader && !c->leader)
                json_object_clear(c->missing_since);
        c->leader = leader;
        free(c->leader_name);
        c->leader_name = name ? strdup(name) : NULL;
        pthread_mutex_unlock(&c->lock);
}

/* Registers when there is no lease (first, or the renewer found it gone). */
static int liveness(Cluster *c) {
        _cleanup_free_ char *key = NULL;
        int64_t lease = atomic_load(&c->lease);
        int r;
        if (asprintf(&key, CLUSTER_KEY_ALIVE "%s", c->node) < 0)
                return -ENOMEM;
        if (lease) {
                if (atomic_load(&c->lost_lease) != lease)
                        return 0;
                log_notice("cluster: liveness lease expired; registering again");
                atomic_store(&c->lease, 0);
                pthread_mutex_lock(&c->lock);
                bool was = c->leader;
                pthread_mutex_unlock(&c->lock);
                if (was)
                        set_leader(c, false, NULL);
        }
        if ((r = store_lease_grant(c->store, c->ttl, &lease)) < 0)
                return r;
        if ((r = put_with_lease(c, key, lease, false)) < 0)
                return r;
        atomic_store(&c->lease, lease);
        log_info("cluster: node '%s' registered (lease %llx, %us)", c->node, (unsigned long long) lease, c->ttl);
        (void) eventfd_write(c->notify_fd, 1); /* the loop tells on_registered */
        return 0;
}

static int election(Cluster *c) {
        int64_t lease = atomic_load(&c->lease);
        StoreKV kv;
        int r = store_get(c->store, CLUSTER_KEY_LEADER, &kv);
        if (r == -ENOENT) {
                r = put_with_lease(c, CLUSTER_KEY_LEADER, lease, true);
                if (r == -EAGAIN)
                        return 0; /* someone else won */
                if (r < 0)
                        return r;
                log_info("cluster: '%s' is now the leader", c->node);
                set_leader(c, true, c->node);
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *j = json_parse(kv.value, kv.value_len, NULL);
        bool mine = kv.lease == lease && lease != 0;
        store_kv_done(&kv);
        pthread_mutex_lock(&c->lock);
        bool was = c->leader;
        pthread_mutex_unlock(&c->lock);
        if (was && !mine)
                log_notice("cluster: no longer the leader ('%s' is)", json_get_str(j, "node", "?"));
        set_leader(c, mine, json_get_str(j, "node", "?"));
        return 0;
}

/* Starts a pass of the leader's duties: who is lost, then every resource. */
static int duties_start(Cluster *c) {
        StoreKVList l;
        _cleanup_(json_decrefp) json_t *nodes = NULL, *lost = json_array(), *alive = json_array();
        _cleanup_free_ char *msg = NULL;
        json_t *n;
        size_t i;
        int r;

        if (!lost || !alive)
                return -ENOMEM;
        if ((r = store_range(c->store, CLUSTER_KEY_ALIVE, &l)) < 0)
                return r;
        for (i = 0; i < l.n; i++)
                json_array_append_new(alive, json_string(l.items[i].key + strlen(CLUSTER_KEY_ALIVE)));
        store_kv_list_done(&l);
        if ((r = service_list(c->svc, "node", NULL, &nodes, &msg)) < 0)
                return r;
        uint64_t now = now_sec();
        pthread_mutex_lock(&c->lock);
        json_decref(c->alive);
        c->alive = json_incref(alive);
        json_array_foreach(nodes, i, n) {
                const char *name = json_get_str(n, "name", "");
                bool up = false;
                json_t *a;
                size_t k;
                json_array_foreach(alive, k, a)
                        up = up || streq(json_string_value(a), name);
                if (up) {
                        json_object_del(c->missing_since, name);
                        continue;
                }
                if (!json_object_get(c->missing_since, name))
                        json_object_set_new(c->missing_since, name, json_integer((json_int_t) now));
                if (now - (uint64_t) json_integer_value(json_object_get(c->missing_since, name)) >= c->grace)
                        json_array_append_new(lost, json_string(name));
        }
        pthread_mutex_unlock(&c->lock);
        r = service_leader_pass_new(c->svc, lost, &c->pass, &msg);
        if (r < 0)
                log_warning("cluster: leader duties failed: %s", msg ? msg : strerror(-r));
        return r;
}

static void *cluster_main(void *userdata) {
        Cluster *c = userdata;
        uint64_t period = (uint64_t) c->ttl * 1000000ULL / 3, next_tick = 0;
        pthread_mutex_lock(&c->lock);
        while (!c->stop) {
                pthread_mutex_unlock(&c->lock);
                uint64_t now = thread_monotonic_usec();
                if (!loop_alive(c))
                        c->pass = service_leader_pass_free(c->pass); /* and nothing else: see the top */
                else {
                        if (now >= next_tick) {
                                next_tick = now + period;
                                int r = liveness(c);
                                if (r >= 0)
                                        r = election(c);
                                uint64_t took = thread_monotonic_usec() - now;
                                atomic_store(&c->store_up, r >= 0);
                                atomic_store(&c->store_usec, took);
                                if (c->store_seconds && r >= 0)
                                        (void) metrics_observe(c->store_seconds, NULL, (double) took / 1e6);
                                if (r < 0)
                                        log_debug("cluster: store not reachable (%s); retrying", strerror(-r));
                                pthread_mutex_lock(&c->lock);
                                bool leader = c->leader;
                                pthread_mutex_unlock(&c->lock);
                                if (!leader)
                                        c->pass = service_leader_pass_free(c->pass);
                                else if (r >= 0 && !c->pass && now_sec() - c->last_duty >= c->duty)
                                        (void) duties_start(c);
                        }
                        if (c->pass) {
                                _cleanup_(json_decrefp) json_t *done = json_array();
                                if (!done || service_leader_pass_run(c->pass, DUTY_SLICE_USEC, done) <= 0) {
                                        pthread_mutex_lock(&c->lock);
                                        json_decref(c->alarms);
                                        c->alarms = json_deep_copy(service_leader_pass_alarms(c->pass));
                                        pthread_mutex_unlock(&c->lock);
                                        c->pass = service_leader_pass_free(c->pass);
                                        c->last_duty = now_sec();
                                }
                        }
                }
                now = thread_monotonic_usec();
                pthread_mutex_lock(&c->lock);
                if (!c->stop)
                        wait_locked(c, c->pass ? DUTY_GAP_USEC : next_tick > now ? next_tick - now : period);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

/* ---- the loop side ---- */

static int on_notes(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Cluster *c = userdata;
        eventfd_t v;
        (void) eventfd_read(c->notify_fd, &v);
        service_relay_flush(c->relay); /* the changes before the registration */
        if (!c->registered_told && atomic_load(&c->lease)) {
                c->registered_told = true;
                if (c->on_registered)
                        c->on_registered(c->userdata);
        }
        return 0;
}

static int on_beat(sd_event_source *s, uint64_t usec, void *userdata) {
        Cluster *c = userdata;
        atomic_store(&c->loop_beat, thread_monotonic_usec());
        sd_event_source_set_time(s, usec + (uint64_t) c->ttl * 1000000ULL / 3);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

int cluster_new(Service *service, sd_event *event, const ClusterConfig *cfg, Cluster **ret) {
        Cluster *c = calloc(1, sizeof *c);
        int r;
        if (!c)
                return -ENOMEM;
        c->service = service;
        c->event = sd_event_ref(event);
        c->notify_fd = -1;
        c->node = strdup(cfg->node_name);
        c->ttl = cfg->lease_ttl_sec ? cfg->lease_ttl_sec : 10;
        c->grace = cfg->grace_sec ? cfg->grace_sec : 60;
        c->duty = cfg->duty_sec ? cfg->duty_sec : 5;
        c->on_registered = cfg->on_registered;
        c->userdata = cfg->userdata;
        /* A loop stalled this long (6 TTLs, 60 s by default: far beyond any
         * store timeout) is hung. */
        c->stall_usec = (uint64_t) (cfg->stall_sec ? cfg->stall_sec : 6 * c->ttl) * 1000000ULL;
        c->missing_since = json_object();
        atomic_init(&c->store_up, -1);
        pthread_mutex_init(&c->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&c->cond, &attr);
        pthread_condattr_destroy(&attr);
        if (!c->node || !c->missing_since) {
                cluster_free(c);
                return -ENOMEM;
        }
        /* Handles of its own for each thread: a Store belongs to one thread. */
        if (!cfg->store_url)
                r = -EINVAL;
        else if ((r = store_open(cfg->store_url, &c->store)) >= 0 &&
                 (r = store_open(cfg->store_url, &c->renewer.store)) >= 0)
                r = service_new(c->store, cfg->service_config, &c->svc);
        if (r < 0) {
                log_error("cluster: cannot open the store for the cluster threads: %s", strerror(-r));
                cluster_free(c);
                return r;
        }
        c->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->notify_fd < 0 || (r = service_relay_new(service, event, &c->relay)) < 0 ||
            (r = sd_event_add_io(event, &c->notify_source, c->notify_fd, EPOLLIN, on_notes, c)) < 0) {
                r = c->notify_fd < 0 ? -errno : r;
                cluster_free(c);
                return r;
        }
        service_relay_attach(c->relay, c->svc);
        *ret = c;
        return 0;
}

Cluster *cluster_free(Cluster *c) {
        if (!c)
                return NULL;
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        if (c->thread_running)
                pthread_join(c->thread, NULL);
        if (c->renewer.running)
                pthread_join(c->renewer.thread, NULL);
        /* Leave cleanly: others see us gone at once, a new leader is elected. */
        int64_t lease = atomic_load(&c->lease);
        if (lease && c->store)
                (void) store_lease_revoke(c->store, lease);
        service_leader_pass_free(c->pass);
        service_free(c->svc);
        store_close(c->store);
        store_close(c->renewer.store);
        sd_event_source_disable_unref(c->beat);
        sd_event_source_disable_unref(c->notify_source);
        if (c->notify_fd >= 0)
                close(c->notify_fd);
        service_relay_free(c->relay);
        sd_event_unref(c->event);
        json_decref(c->missing_since);
        json_decref(c->alarms);
        json_decref(c->alive);
        free(c->leader_name);
        free(c->node);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

int cluster_start(Cluster *c) {
        uint64_t now;
        int r;
        atomic_store(&c->loop_beat, thread_monotonic_usec());
        sd_event_now(c->event, CLOCK_MONOTONIC, &now);
        if ((r = sd_event_add_time(c->event, &c->beat, CLOCK_MONOTONIC, now, 100000, on_beat, c)) < 0)
                return r;
        if ((r = thread_start(&c->thread, cluster_main, c)) < 0)
                return r;
        c->thread_running = true;
        if ((r = thread_start(&c->renewer.thread, renewer_main, c)) < 0)
                return r;
        c->renewer.running = true;
        return 0;
}

int cluster_status(Cluster *c, json_t **ret) {
        pthread_mutex_lock(&c->lock);
        json_t *o = json_pack("{s:s, s:s?, s:b, s:o?, s:o}", "node", c->node, "leader", c->leader_name, "is-leader",
                              c->leader, "alive", c->alive ? json_deep_copy(c->alive) : NULL, "missing-since",
                              json_deep_copy(c->missing_since));
        pthread_mutex_unlock(&c->lock);
        *ret = o;
        return o ? 0 : -ENOMEM;
}

/* ---- metrics ---- */

/* Runs on the loop inside metrics_collect(); reads the status under the lock. */
/* A dual-primary window open longer than this is an alarm (a live migration
 * takes seconds to minutes; a multiattach keeps it open on purpose). */
#define WINDOW_TOO_LONG_SEC 600

/* The leader's alarms from its last pass: dual-primary windows and domains
 * running disklessly beside local storage (docs/metrics.md, docs/nova.md). */
static void alarms_collect(Metrics *m, Cluster *c) {
        MetricsFamily *open, *too_long, *diskless;
        if (metrics_family_new(m, "drbdd_dual_primary_window_open_seconds", METRICS_GAUGE,
                               "How long a resource's dual-primary window (two hosts attached) has been open "
                               "(leader only)", METRICS_LABELS("resource"), NULL, 0, &open) < 0 ||
            metrics_family_new(m, "drbdd_alarm_dual_primary_window_too_long", METRICS_GAUGE,
                               "1 while a dual-primary window has been open longer than 600 s (leader only)",
                               METRICS_LABELS("resource"), NULL, 0, &too_long) < 0 ||
            metrics_family_new(m, "drbdd_alarm_running_disklessly", METRICS_GAUGE,
                               "1 while a domain uses a diskless replica on a node that has a storage pool of the "
                               "resource's group (leader only, from the compute helpers' reports)",
                               METRICS_LABELS("resource", "node"), NULL, 0, &diskless) < 0)
                return;
        metrics_family_reset(open);
        metrics_family_reset(too_long);
        metrics_family_reset(diskless);
        json_t *e;
        const char *name;
        size_t i;
        time_t now = time(NULL);
        json_object_foreach(c->leader && c->alarms ? json_object_get(c->alarms, "windows") : NULL, name, e) {
                double t = json_integer_value(e) > 0 && now > json_integer_value(e)
                                   ? (double) (now - json_integer_value(e)) : 0;
                (void) metrics_set(open, METRICS_LABELS(name), t);
                (void) metrics_set(too_long, METRICS_LABELS(name), t > WINDOW_TOO_LONG_SEC);
        }
        json_array_foreach(c->leader && c->alarms ? json_object_get(c->alarms, "running-disklessly") : NULL, i, e)
                (void) metrics_set(diskless, METRICS_LABELS(json_string_value(json_object_get(e, "resource")),
                                                            json_string_value(json_object_get(e, "node"))), 1);
}

static void cluster_collect(Metrics *m, void *userdata) {
        Cluster *c = userdata;
        MetricsFamily *leader, *leader_info, *up, *missing, *store_up, *store_sec;
        if (metrics_family_new(m, "drbdd_leader", METRICS_GAUGE, "1 if this drbdd is the cluster's leader",
                               METRICS_LABELS("node"), NULL, 0, &leader) < 0 ||
            metrics_family_new(m, "drbdd_leader_info", METRICS_GAUGE, "The leader as this drbdd sees it (value 1)",
                               METRICS_LABELS("leader"), NULL, 0, &leader_info) < 0 ||
            metrics_family_new(m, "drbdd_node_up", METRICS_GAUGE,
                               "1 if the node's liveness key exists, 0 if it is missing (only the leader reports, "
                               "every defined node)", METRICS_LABELS("node"), NULL, 0, &up) < 0 ||
            metrics_family_new(m, "drbdd_node_missing_seconds", METRICS_GAUGE,
                               "How long a defined node has been missing (leader only)", METRICS_LABELS("node"),
                               NULL, 0, &missing) < 0 ||
            metrics_family_new(m, "drbdd_store_up", METRICS_GAUGE,
                               "1 if the last liveness and election round reached the cluster store", NULL, NULL, 0,
                               &store_up) < 0 ||
            metrics_family_new(m, "drbdd_store_last_round_seconds", METRICS_GAUGE,
                               "Duration of the last liveness and election round with the store", NULL, NULL, 0,
                               &store_sec) < 0)
                return;
        metrics_family_reset(leader_info);
        metrics_family_reset(up);
        metrics_family_reset(missing);
        pthread_mutex_lock(&c->lock);
        (void) metrics_set(leader, METRICS_LABELS(c->node), c->leader);
        if (c->leader_name)
                (void) metrics_set(leader_info, METRICS_LABELS(c->leader_name), 1);
        json_t *e;
        const char *name;
        size_t i;
        /* Only the leader's view is current (its duties refresh it); a
         * former leader's would linger and hide a missing node. */
        json_array_foreach(c->leader ? c->alive : NULL, i, e)
                if (json_is_string(e))
                        (void) metrics_set(up, METRICS_LABELS(json_string_value(e)), 1);
        uint64_t now = now_sec();
        json_object_foreach(c->leader ? c->missing_since : NULL, name, e) {
                (void) metrics_set(up, METRICS_LABELS(name), 0);
                (void) metrics_set(missing, METRICS_LABELS(name), (double) (now - (uint64_t) json_integer_value(e)));
        }
        alarms_collect(m, c);
        pthread_mutex_unlock(&c->lock);
        int su = atomic_load(&c->store_up);
        if (su >= 0) {
                (void) metrics_set(store_up, NULL, su);
                (void) metrics_set(store_sec, NULL, (double) atomic_load(&c->store_usec) / 1e6);
        }
}

int cluster_metrics_register(Cluster *c, Metrics *m) {
        static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
        int r = metrics_family_new(m, "drbdd_store_round_seconds", METRICS_HISTOGRAM,
                                   "Liveness and election rounds with the cluster store that succeeded, by duration",
                                   NULL, buckets, ELEMENTSOF(buckets), &c->store_seconds);
        if (r < 0)
                return r;
        return metrics_collector_add(m, cluster_collect, c);
}
