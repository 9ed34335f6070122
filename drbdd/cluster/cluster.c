/* Cluster membership (leased liveness keys), leader election (a leased key
 * created only when absent) and the leader's periodic duties. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "cluster.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

struct Cluster {
        Store *store;
        Service *service;
        sd_event *event;
        char *node;
        unsigned ttl, grace, duty;
        int64_t lease;          /* 0 = none yet */
        bool leader;
        char *leader_name;
        json_t *missing_since;  /* node -> monotonic seconds first seen missing (leader only) */
        json_t *alive;          /* last seen alive nodes */
        sd_event_source *timer, *duty_timer;
        uint64_t last_duty;     /* when the last pass ended */
        LeaderPass *pass;       /* the leader's pass in progress */

        /* Lease renewal on a thread with its own store handle, so that a
         * busy loop or a slow store call on it cannot cost the lease. It
         * renews only while the loop has shown life (loop_beat) within
         * stall_usec: a hung daemon must still lose its lease. */
        Store *ka_store;            /* NULL: renew on the loop instead */
        pthread_t ka_thread;
        pthread_mutex_t ka_lock;
        pthread_cond_t ka_cond;
        bool ka_stop;
        _Atomic int64_t ka_lease;   /* the lease to renew, 0 = none */
        _Atomic int64_t ka_lost;    /* a lease the store no longer knows */
        _Atomic uint64_t loop_beat; /* monotonic µs of the loop's last timer */
        uint64_t stall_usec;
};

/* A slice of leader duties runs at most this long, then the loop serves the
 * API (and the liveness timer) for at least DUTY_GAP_USEC. */
#define DUTY_SLICE_USEC 20000ULL
#define DUTY_GAP_USEC 10000ULL

static uint64_t now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec;
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void *keepalive_thread(void *userdata) {
        Cluster *c = userdata;
        uint64_t period = (uint64_t) c->ttl * 1000000ULL / 3;
        bool stalled = false;
        pthread_mutex_lock(&c->ka_lock);
        while (!c->ka_stop) {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                uint64_t ns = (uint64_t) until.tv_nsec + (period % 1000000ULL) * 1000ULL;
                until.tv_sec += (time_t) (period / 1000000ULL + ns / 1000000000ULL);
                until.tv_nsec = (long) (ns % 1000000000ULL);
                while (!c->ka_stop && pthread_cond_timedwait(&c->ka_cond, &c->ka_lock, &until) == 0)
                        ;
                if (c->ka_stop)
                        break;
                pthread_mutex_unlock(&c->ka_lock);
                int64_t lease = atomic_load(&c->ka_lease);
                bool alive = now_usec() - atomic_load(&c->loop_beat) < c->stall_usec;
                if (!alive && !stalled)
                        log_warning("cluster: the event loop has not run for %llu s; no longer renewing the liveness "
                                    "lease", (unsigned long long) (c->stall_usec / 1000000ULL));
                stalled = !alive;
                if (lease && alive) {
                        int r = store_lease_keepalive(c->ka_store, lease);
                        if (r == -ENOENT)
                                atomic_store(&c->ka_lost, lease);
                        else if (r < 0)
                                log_debug("cluster: lease renewal failed: %s", strerror(-r));
                }
                pthread_mutex_lock(&c->ka_lock);
        }
        pthread_mutex_unlock(&c->ka_lock);
        return NULL;
}

/* Starts the renewal thread on a handle of its own; without one the loop
 * renews (as before), and says so. */
static void keepalive_start(Cluster *c, const char *store_url) {
        sigset_t all, old;
        int r;
        if (!store_url)
                return;
        if ((r = store_open(store_url, &c->ka_store)) < 0) {
                log_warning("cluster: cannot open a second store handle for lease renewal (%s); renewing on the "
                            "event loop", strerror(-r));
                return;
        }
        pthread_mutex_init(&c->ka_lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&c->ka_cond, &attr);
        pthread_condattr_destroy(&attr);
        atomic_store(&c->loop_beat, now_usec());
        /* Signals stay with the main thread (sd-event's signalfd). */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&c->ka_thread, NULL, keepalive_thread, c);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                log_warning("cluster: cannot start the lease renewal thread (%s); renewing on the event loop",
                            strerror(-r));
                pthread_cond_destroy(&c->ka_cond);
                pthread_mutex_destroy(&c->ka_lock);
                c->ka_store = store_close(c->ka_store);
        }
}

static void keepalive_stop(Cluster *c) {
        if (!c->ka_store)
                return;
        pthread_mutex_lock(&c->ka_lock);
        c->ka_stop = true;
        pthread_cond_signal(&c->ka_cond);
        pthread_mutex_unlock(&c->ka_lock);
        pthread_join(c->ka_thread, NULL);
        pthread_cond_destroy(&c->ka_cond);
        pthread_mutex_destroy(&c->ka_lock);
        c->ka_store = store_close(c->ka_store);
}

static int put_with_lease(Cluster *c, const char *key, bool only_if_absent) {
        _cleanup_free_ char *v = NULL;
        StoreCompare cmp = { .key = key, .target = STORE_CMP_CREATE_REV, .rev = 0 };
        if (asprintf(&v, "{\"node\":\"%s\"}", c->node) < 0)
                return -ENOMEM;
        StoreOp op = { .type = STORE_OP_PUT, .key = key, .value = v, .lease = c->lease };
        return store_txn(c->store, only_if_absent ? &cmp : NULL, only_if_absent ? 1 : 0, &op, 1, NULL);
}

/* Keeps our lease alive; on loss (outage longer than the TTL) starts over. */
static int liveness(Cluster *c) {
        _cleanup_free_ char *key = NULL;
        int r;
        if (asprintf(&key, CLUSTER_KEY_ALIVE "%s", c->node) < 0)
                return -ENOMEM;
        if (c->lease) {
                /* With the renewal thread, the loop only learns of a loss. */
                if (c->ka_store)
                        r = atomic_load(&c->ka_lost) == c->lease ? -ENOENT : 0;
                else
                        r = store_lease_keepalive(c->store, c->lease);
                if (r >= 0)
                        return 0;
                if (r != -ENOENT)
                        return r; /* store unreachable: try again later, keep the lease id */
                log_notice("cluster: liveness lease expired; registering again");
                c->lease = 0;
                atomic_store(&c->ka_lease, 0);
                c->leader = false;
        }
        if ((r = store_lease_grant(c->store, c->ttl, &c->lease)) < 0) {
                c->lease = 0;
                return r;
        }
        if ((r = put_with_lease(c, key, false)) < 0)
                return r;
        atomic_store(&c->ka_lease, c->lease);
        log_info("cluster: node '%s' registered (lease %llx, %us)", c->node, (unsigned long long) c->lease, c->ttl);
        return 0;
}

static int election(Cluster *c) {
        StoreKV kv;
        int r = store_get(c->store, CLUSTER_KEY_LEADER, &kv);
        if (r == -ENOENT) {
                r = put_with_lease(c, CLUSTER_KEY_LEADER, true);
                if (r == -EAGAIN)
                        return 0; /* someone else won */
                if (r < 0)
                        return r;
                log_info("cluster: '%s' is now the leader", c->node);
                json_object_clear(c->missing_since);
                c->leader = true;
                free(c->leader_name);
                c->leader_name = strdup(c->node);
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *j = json_parse(kv.value, kv.value_len, NULL);
        bool mine = kv.lease == c->lease && c->lease != 0;
        store_kv_done(&kv);
        free(c->leader_name);
        c->leader_name = strdup(json_get_str(j, "node", "?"));
        if (c->leader && !mine)
                log_notice("cluster: no longer the leader ('%s' is)", c->leader_name);
        c->leader = mine;
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
        json_decref(c->alive);
        c->alive = json_incref(alive);
        if ((r = service_list(c->service, "node", NULL, &nodes, &msg)) < 0)
                return r;
        uint64_t now = now_sec();
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
        r = service_leader_pass_new(c->service, lost, &c->pass, &msg);
        if (r < 0)
                log_warning("cluster: leader duties failed: %s", msg ? msg : strerror(-r));
        return r;
}

static int on_duty(sd_event_source *s, uint64_t usec, void *userdata);

static void duty_schedule(Cluster *c, uint64_t delay_usec) {
        uint64_t now;
        sd_event_now(c->event, CLOCK_MONOTONIC, &now);
        if (c->duty_timer) {
                sd_event_source_set_time(c->duty_timer, now + delay_usec);
                sd_event_source_set_enabled(c->duty_timer, SD_EVENT_ONESHOT);
        } else if (sd_event_add_time(c->event, &c->duty_timer, CLOCK_MONOTONIC, now + delay_usec, 1000, on_duty, c) < 0)
                log_warning("cluster: cannot schedule the leader's duties");
}

/* One slice of the pass in progress; the next one after a gap. */
static int on_duty(sd_event_source *s, uint64_t usec, void *userdata) {
        Cluster *c = userdata;
        _cleanup_(json_decrefp) json_t *done = json_array();
        if (!c->pass)
                return 0;
        if (!c->leader || !done || service_leader_pass_run(c->pass, DUTY_SLICE_USEC, done) <= 0) {
                c->pass = service_leader_pass_free(c->pass);
                c->last_duty = now_sec();
                return 0;
        }
        duty_schedule(c, DUTY_GAP_USEC);
        return 0;
}

static void schedule(Cluster *c, uint64_t delay_usec);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Cluster *c = userdata;
        atomic_store(&c->loop_beat, now_usec());
        int r = liveness(c);
        if (r >= 0)
                r = election(c);
        if (r < 0)
                log_debug("cluster: store not reachable (%s); retrying", strerror(-r));
        /* A new pass of duties starts c->duty seconds after the last one
         * ended; it runs in slices beside the API (on_duty). */
        if (r >= 0 && c->leader && !c->pass && now_sec() - c->last_duty >= c->duty && duties_start(c) >= 0)
                duty_schedule(c, 0);
        schedule(c, (uint64_t) c->ttl * 1000000ULL / 3);
        return 0;
}

static void schedule(Cluster *c, uint64_t delay_usec) {
        uint64_t now;
        sd_event_now(c->event, CLOCK_MONOTONIC, &now);
        if (c->timer) {
                sd_event_source_set_time(c->timer, now + delay_usec);
                sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        } else
                sd_event_add_time(c->event, &c->timer, CLOCK_MONOTONIC, now + delay_usec, 100000, on_timer, c);
}

int cluster_new(Store *store, Service *service, sd_event *event, const ClusterConfig *cfg, Cluster **ret) {
        Cluster *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->store = store;
        c->service = service;
        c->event = sd_event_ref(event);
        c->node = strdup(cfg->node_name);
        c->ttl = cfg->lease_ttl_sec ? cfg->lease_ttl_sec : 10;
        c->grace = cfg->grace_sec ? cfg->grace_sec : 60;
        c->duty = cfg->duty_sec ? cfg->duty_sec : 5;
        c->missing_since = json_object();
        if (!c->node || !c->missing_since) {
                cluster_free(c);
                return -ENOMEM;
        }
        /* A loop stalled this long (6 TTLs, 60 s by default: far beyond any
         * store timeout) is hung. */
        c->stall_usec = (uint64_t) (cfg->stall_sec ? cfg->stall_sec : 6 * c->ttl) * 1000000ULL;
        keepalive_start(c, cfg->store_url);
        *ret = c;
        return 0;
}

Cluster *cluster_free(Cluster *c) {
        if (!c)
                return NULL;
        keepalive_stop(c);
        /* Leave cleanly: others see us gone at once, a new leader is elected. */
        if (c->lease)
                (void) store_lease_revoke(c->store, c->lease);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->duty_timer);
        service_leader_pass_free(c->pass);
        sd_event_unref(c->event);
        json_decref(c->missing_since);
        json_decref(c->alive);
        free(c->leader_name);
        free(c->node);
        free(c);
        return NULL;
}

int cluster_start(Cluster *c) {
        schedule(c, 0);
        return 0;
}

int cluster_status(Cluster *c, json_t **ret) {
        json_t *o = json_pack("{s:s, s:s?, s:b, s:O?, s:O}", "node", c->node, "leader", c->leader_name, "is-leader",
                              c->leader, "alive", c->alive, "missing-since", c->missing_since);
        *ret = o;
        return o ? 0 : -ENOMEM;
}
