/* Cluster duties done by the leader: re-placement, tie-breakers, garbage. */
#include <stdio.h>
#include <time.h>

#include "thread.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "service-internal.h"

static void note(json_t *done, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(json_t *done, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        const char *s = json_array_append_vprintf(done, fmt, ap);
        va_end(ap);
        log_info("leader: %s", s ? s : "(out of memory)");
}

static bool in(json_t *names, const char *name) {
        json_t *e;
        size_t i;
        json_array_foreach(names, i, e)
                if (streq(json_string_value(e), name))
                        return true;
        return false;
}

/* Frees allocation keys under prefix whose resource no longer exists: two
 * ranges, not a read per key (the store may be etcd over the network). The
 * allocations are listed before the resources, so one made together with
 * a resource created in between is seen with it. */
static int gc_alloc(Service *s, const char *prefix, json_t *done) {
        StoreKVList l, rds;
        int r = store_range(s->store, prefix, &l);
        if (r < 0)
                return r;
        if ((r = store_range(s->store, KEY_RDS, &rds)) < 0) {
                store_kv_list_done(&l);
                return r;
        }
        _cleanup_(json_decrefp) json_t *names = json_object();
        for (size_t i = 0; names && i < rds.n; i++)
                json_object_set_new(names, rds.items[i].key + strlen(KEY_RDS), json_true());
        store_kv_list_done(&rds);
        for (size_t i = 0; names && i < l.n; i++) {
                if (!l.items[i].value || json_object_get(names, l.items[i].value))
                        continue;
                /* Delete only if unchanged since we looked (not just allocated by a racing create). */
                StoreCompare cmp = { .key = l.items[i].key, .target = STORE_CMP_MOD_REV, .rev = l.items[i].mod_rev };
                StoreOp op = { .type = STORE_OP_DELETE, .key = l.items[i].key };
                if (store_txn(s->store, &cmp, 1, &op, 1, NULL) >= 0)
                        note(done, "freed %s (its resource '%s' is gone)", l.items[i].key, l.items[i].value);
        }
        store_kv_list_done(&l);
        return names ? 0 : -ENOMEM;
}

/* The node has a storage pool the resource group may use. */
static bool node_has_group_pool(Service *s, const char *node, json_t *rg) {
        _cleanup_(json_decrefp) json_t *pools = NULL;
        _cleanup_free_ char *prefix = NULL;
        json_t *p, *g;
        size_t i, j;
        if (asprintf(&prefix, KEY_POOLS "%s/", node) < 0 || service_obj_range(s, prefix, &pools) < 0)
                return false;
        json_t *wanted = json_object_get(rg, "storage-pools");
        json_array_foreach(pools, i, p) {
                if (json_array_size(wanted) == 0)
                        return true;
                json_array_foreach(wanted, j, g)
                        if (streq(json_string_value(g) ?: "", json_get_str(p, "name", "")))
                                return true;
        }
        return false;
}

static bool observed_uptodate(Service *s, const char *rd, const char *node) {
        _cleanup_free_ char *k = NULL;
        _cleanup_(json_decrefp) json_t *o = NULL;
        return asprintf(&k, SERVICE_KEY_OBSERVED "%s/%s", node, rd) >= 0 && service_obj_get(s, k, &o, NULL) >= 0 &&
               streq(json_get_str(o, "state", ""), "UpToDate");
}

/* Diskful now: it holds data, so the detach that ends the attach must not
 * remove it any more. */
static int set_auto_diskful_mark(json_t *res, void *userdata, char **ret_msg) {
        json_object_set_new(res, "auto-diskful", json_true());
        json_object_del(res, "attach-created");
        return 1;
}

/* The group's auto-diskful (minutes): a domain that has run through a
 * diskless client for that long, on a node with a pool of the group, gets a
 * diskful replica there (toggle-disk, marked "auto-diskful"). Once every
 * diskful replica is UpToDate and there are more than place-count, one that
 * no host is attached to and no domain uses is removed, unless the group
 * says auto-diskful-allow-cleanup false. The clock lives in this Service
 * (a new leader starts it again: later, never sooner). */
static void leader_auto_diskful(Service *s, const char *name, json_t *rd, json_t *replicas, json_t *usage,
                                json_t *alarms, json_t *done) {
        _cleanup_(json_decrefp) json_t *rg = NULL;
        _cleanup_free_ char *rgk = service_key_rg(json_get_str(rd, "resource-group", DEFAULT_RG));
        json_t *e;
        size_t i;
        char key[400];
        /* Most resources have no domain using a client and no auto-diskful
         * replica: nothing to read for them (this runs every leader pass). */
        bool relevant = false;
        json_array_foreach(replicas, i, e)
                relevant = relevant || json_get_bool(e, "auto-diskful", false) ||
                           (json_get_bool(e, "diskless", false) &&
                            json_array_size(service_usage_domains(usage, json_get_str(e, "node", ""), name)) > 0);
        if (!relevant) {
                json_array_foreach(replicas, i, e) {
                        snprintf(key, sizeof key, "%s/%s", name, json_get_str(e, "node", ""));
                        json_object_del(s->since, key);
                }
                return;
        }
        if (!rgk || service_obj_get(s, rgk, &rg, NULL) < 0)
                return;
        json_int_t minutes = json_get_int(rg, "auto-diskful", 0);
        unsigned place = (unsigned) json_get_int(rg, "place-count", 2), diskful = 0, marked = 0, uptodate = 0;
        time_t now = s->now(NULL);
        json_array_foreach(replicas, i, e) {
                const char *node = json_get_str(e, "node", "");
                snprintf(key, sizeof key, "%s/%s", name, node);
                if (!json_get_bool(e, "diskless", false)) {
                        diskful++;
                        marked += json_get_bool(e, "auto-diskful", false);
                        json_object_del(s->since, key);
                        continue;
                }
                bool disklessly = json_array_size(service_usage_domains(usage, node, name)) > 0 &&
                                  node_has_group_pool(s, node, rg);
                if (disklessly && alarms)
                        json_array_append_new(json_object_get(alarms, "running-disklessly"),
                                              json_pack("{s:s, s:s}", "resource", name, "node", node));
                bool running = minutes > 0 && !json_get_bool(e, "tie-breaker", false) && disklessly;
                if (!running) {
                        json_object_del(s->since, key);
                        continue;
                }
                json_t *t = json_object_get(s->since, key);
                if (!t) {
                        json_object_set_new(s->since, key, json_integer((json_int_t) now));
                        continue;
                }
                if (now - (time_t) json_integer_value(t) < (time_t) minutes * 60)
                        continue;
                _cleanup_(json_decrefp) json_t *o = json_pack("{s:b}", "diskless", 0);
                _cleanup_free_ char *m = NULL, *rk = service_key_res(name, node);
                if (service_resource_toggle_disk(s, name, node, o, &m) < 0) {
                        log_warning("leader: auto-diskful of '%s' on '%s': %s", name, node, m ? m : "failed");
                        continue;
                }
                (void) service_obj_modify(s, rk, "replica", set_auto_diskful_mark, NULL, NULL);
                json_object_del(s->since, key);
                note(done, "made the client of '%s' on '%s' diskful: a domain ran through it for %lld min beside a "
                     "pool of the group (auto-diskful)", name, node, (long long) minutes);
                return; /* the next pass sees the new replica */
        }
        if (!marked || diskful <= place || !json_get_bool(rg, "auto-diskful-allow-cleanup", true))
                return;
        json_array_foreach(replicas, i, e)
                uptodate += !json_get_bool(e, "diskless", false) &&
                            observed_uptodate(s, name, json_get_str(e, "node", ""));
        if (uptodate < diskful)
                return;
        json_array_foreach(replicas, i, e) {
                const char *node = json_get_str(e, "node", "");
                if (json_get_bool(e, "diskless", false) || json_get_bool(e, "auto-diskful", false) ||
                    service_rd_attached(rd, node) || json_array_size(service_usage_domains(usage, node, name)) > 0)
                        continue;
                if (service_resource_delete(s, name, node, NULL) >= 0)
                        note(done, "removed the diskful replica of '%s' on '%s': %u diskful after auto-diskful, the "
                             "group places %u, and no host uses that one", name, node, diskful, place);
                return;
        }
}

/* One resource: re-place replicas on lost nodes, keep the tie-breaker right. */
static int leader_rd(Service *s, const char *name, json_t *lost, json_t *nodes, json_t *usage, json_t *alarms,
                     json_t *done) {
        _cleanup_(json_decrefp) json_t *rd = NULL, *replicas = NULL;
        _cleanup_free_ char *prefix = NULL, *rk = service_key_rd(name);
        json_t *e;
        size_t j;
        int r;
        if (!rk || asprintf(&prefix, KEY_RES "%s/", name) < 0)
                return -ENOMEM;
        if (service_obj_get(s, rk, &rd, NULL) < 0 || json_array_size(json_object_get(rd, "volumes")) == 0 ||
            service_obj_range(s, prefix, &replicas) < 0)
                return 0; /* deleted meanwhile, or nothing to place yet */
        unsigned diskful = 0, on_lost = 0, all9 = 1;
        json_t *tiebreaker = NULL;
        json_array_foreach(replicas, j, e) {
                const char *node = json_get_str(e, "node", "");
                json_t *n = NULL, *x;
                size_t k;
                json_array_foreach(nodes, k, x)
                        if (streq(json_get_str(x, "name", ""), node))
                                n = x;
                if (!n || service_node_dialect(n) != DRBD_DIALECT_9)
                        all9 = 0;
                if (json_get_bool(e, "tie-breaker", false))
                        tiebreaker = e;
                if (json_get_bool(e, "diskless", false))
                        continue;
                diskful++;
                if (in(lost, node))
                        on_lost++;
        }
        if (on_lost) {
                _cleanup_free_ char *m = NULL;
                _cleanup_(json_decrefp) json_t *o = json_pack("{s:O}", "exclude-nodes", lost);
                _cleanup_(json_decrefp) json_t *after = NULL;
                r = service_autoplace(s, name, o, &m);
                if (r >= 0 && service_obj_range(s, prefix, &after) >= 0 && json_array_size(after) > json_array_size(replicas))
                        note(done, "re-placed '%s': %u replica(s) on lost nodes", name, on_lost);
                else if (r < 0)
                        log_warning("leader: cannot re-place '%s': %s", name, m ? m : strerror(-r));
                return 0;
        }
        if (alarms && service_rd_window_open(rd))
                json_object_set_new(json_object_get(alarms, "windows"), name,
                                    json_integer(json_get_int(rd, "window-since", 0)));
        leader_auto_diskful(s, name, rd, replicas, usage, alarms, done);
        if (!all9)
                return 0;
        if (diskful == 2 && json_array_size(replicas) == 2) {
                _cleanup_free_ char *m = NULL;
                _cleanup_(json_decrefp) json_t *o = json_pack("{s:i}", "place-count", 2);
                _cleanup_(json_decrefp) json_t *after = NULL;
                if (service_autoplace(s, name, o, &m) >= 0 && service_obj_range(s, prefix, &after) >= 0 &&
                    json_array_size(after) > json_array_size(replicas))
                        note(done, "added a tie-breaker to '%s'", name);
        } else if (tiebreaker && diskful != 2) {
                const char *node = json_get_str(tiebreaker, "node", "");
                /* A host attached through it keeps it, as a client its detach removes. */
                if (service_rd_attached(rd, node)) {
                        if (service_tiebreaker_to_client(s, name, node, true, NULL) >= 0)
                                note(done, "made the tie-breaker of '%s' on '%s' a client (attached there; %u diskful "
                                     "replicas)", name, node, diskful);
                } else if (service_resource_delete(s, name, node, NULL) >= 0)
                        note(done, "removed the tie-breaker of '%s' on '%s' (%u diskful replicas)", name, node, diskful);
        }
        return 0;
}

struct LeaderPass {
        Service *service;
        json_t *lost, *nodes, *names; /* names of the resource definitions at the start */
        json_t *usage;                /* the compute helpers' reports */
        json_t *alarms;               /* what this pass saw: service_leader_pass_alarms() */
        size_t next;                  /* index into names; names.size = the garbage step */
};

int service_leader_pass_new(Service *s, json_t *lost_nodes, LeaderPass **ret, char **ret_msg) {
        StoreKVList l;
        int r;
        LeaderPass *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->service = s;
        p->lost = lost_nodes ? json_incref(lost_nodes) : json_array();
        p->names = json_array();
        p->alarms = json_pack("{s:{}, s:[]}", "windows", "running-disklessly");
        if (!p->lost || !p->names || !p->alarms) {
                service_leader_pass_free(p);
                return -ENOMEM;
        }
        if ((r = service_obj_range(s, KEY_NODES, &p->nodes)) < 0 || (r = service_obj_range(s, SERVICE_KEY_USAGE, &p->usage)) < 0 ||
            (r = store_range(s->store, KEY_RDS, &l)) < 0) {
                service_leader_pass_free(p);
                return service_read_failed(ret_msg, r);
        }
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(p->names, json_string(l.items[i].key + strlen(KEY_RDS)));
        store_kv_list_done(&l);
        *ret = p;
        return 0;
}

int service_leader_pass_run(LeaderPass *p, uint64_t budget_usec, json_t *done) {
        uint64_t start = thread_monotonic_usec();
        size_t n = json_array_size(p->names);
        do {
                if (p->next < n)
                        (void) leader_rd(p->service, json_string_value(json_array_get(p->names, p->next)), p->lost,
                                         p->nodes, p->usage, p->alarms, done);
                else if (p->next == n) {
                        (void) gc_alloc(p->service, KEY_ALLOC_MINOR, done);
                        (void) gc_alloc(p->service, KEY_ALLOC_PORT, done);
                } else
                        return 0;
                p->next++;
        } while (thread_monotonic_usec() - start < budget_usec);
        return p->next <= n;
}

json_t *service_leader_pass_alarms(LeaderPass *p) {
        return p->alarms;
}

LeaderPass *service_leader_pass_free(LeaderPass *p) {
        if (!p)
                return NULL;
        json_decref(p->lost);
        json_decref(p->nodes);
        json_decref(p->names);
        json_decref(p->usage);
        json_decref(p->alarms);
        free(p);
        return NULL;
}

int service_leader_duties(Service *s, json_t *lost, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *done = json_array();
        LeaderPass *p = NULL;
        int r;
        if (!done)
                return -ENOMEM;
        if ((r = service_leader_pass_new(s, lost, &p, ret_msg)) < 0)
                return r;
        while (service_leader_pass_run(p, UINT64_MAX, done) > 0)
                ;
        service_leader_pass_free(p);
        if (ret)
                *ret = TAKE_PTR(done);
        return 0;
}
