/* Cluster duties done by the leader: re-placement, tie-breakers, garbage. */
#include <stdio.h>

#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "service-internal.h"

static void note(json_t *done, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(json_t *done, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        log_info("leader: %s", buf);
        json_array_append_new(done, json_string(buf));
}

static bool in(json_t *names, const char *name) {
        json_t *e;
        size_t i;
        json_array_foreach(names, i, e)
                if (streq(json_string_value(e), name))
                        return true;
        return false;
}

static int gc_alloc(Service *s, const char *prefix, json_t *done) {
        StoreKVList l;
        int r = store_range(s->store, prefix, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                _cleanup_free_ char *rk = key_rd(l.items[i].value);
                StoreKV kv;
                if (!rk)
                        break;
                if (store_get(s->store, rk, &kv) >= 0) {
                        store_kv_done(&kv);
                        continue;
                }
                /* Delete only if unchanged since we looked (not just allocated by a racing create). */
                StoreCompare cmp = { .key = l.items[i].key, .target = STORE_CMP_MOD_REV, .rev = l.items[i].mod_rev };
                StoreOp op = { .type = STORE_OP_DELETE, .key = l.items[i].key };
                if (store_txn(s->store, &cmp, 1, &op, 1, NULL) >= 0)
                        note(done, "freed %s (its resource '%s' is gone)", l.items[i].key, l.items[i].value);
        }
        store_kv_list_done(&l);
        return 0;
}

int service_leader_duties(Service *s, json_t *lost, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *rds = NULL, *nodes = NULL, *done = json_array();
        json_t *rd, *e;
        size_t i, j;
        int r;

        if (!done)
                return -ENOMEM;
        if ((r = obj_range(s, KEY_RDS, &rds)) < 0 || (r = obj_range(s, KEY_NODES, &nodes)) < 0)
                return read_failed(ret_msg, r);
        json_array_foreach(rds, i, rd) {
                const char *name = json_get_str(rd, "name", "");
                _cleanup_(json_decrefp) json_t *replicas = NULL;
                _cleanup_free_ char *prefix = NULL;
                if (asprintf(&prefix, KEY_RES "%s/", name) < 0)
                        return -ENOMEM;
                if (obj_range(s, prefix, &replicas) < 0 || json_array_size(json_object_get(rd, "volumes")) == 0)
                        continue;
                unsigned diskful = 0, on_lost = 0, all9 = 1;
                json_t *tiebreaker = NULL;
                json_array_foreach(replicas, j, e) {
                        const char *node = json_get_str(e, "node", "");
                        json_t *n = NULL, *x;
                        size_t k;
                        json_array_foreach(nodes, k, x)
                                if (streq(json_get_str(x, "name", ""), node))
                                        n = x;
                        if (!n || node_dialect(n) != DRBD_DIALECT_9)
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
                        if (r >= 0 && obj_range(s, prefix, &after) >= 0 &&
                            json_array_size(after) > json_array_size(replicas))
                                note(done, "re-placed '%s': %u replica(s) on lost nodes", name, on_lost);
                        else if (r < 0)
                                log_warning("leader: cannot re-place '%s': %s", name, m ? m : strerror(-r));
                        continue;
                }
                if (!all9)
                        continue;
                if (diskful == 2 && json_array_size(replicas) == 2) {
                        _cleanup_free_ char *m = NULL;
                        _cleanup_(json_decrefp) json_t *o = json_pack("{s:i}", "place-count", 2);
                        _cleanup_(json_decrefp) json_t *after = NULL;
                        if (service_autoplace(s, name, o, &m) >= 0 && obj_range(s, prefix, &after) >= 0 &&
                            json_array_size(after) > json_array_size(replicas))
                                note(done, "added a tie-breaker to '%s'", name);
                } else if (tiebreaker && diskful != 2) {
                        const char *node = json_get_str(tiebreaker, "node", "");
                        if (service_resource_delete(s, name, node, NULL) >= 0)
                                note(done, "removed the tie-breaker of '%s' on '%s' (%u diskful replicas)", name, node,
                                     diskful);
                }
        }
        (void) gc_alloc(s, KEY_ALLOC_MINOR, done);
        (void) gc_alloc(s, KEY_ALLOC_PORT, done);
        if (ret)
                *ret = TAKE_PTR(done);
        return 0;
}
