/* The agent's part of snapshots: taking them with I/O suspended, removing
 * unwanted ones, creating restored/cloned volumes, and the revert barrier
 * (docs/snapshots.md). */
#include <stdio.h>

#include "agent-internal.h"
#include "fault.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

void agent_extras_load(Agent *a) {
        _cleanup_free_ char *msg = NULL;
        json_decref(a->extras);
        a->extras = NULL;
        if (service_node_extras(a->service, a->node, &a->extras, &msg) < 0) {
                log_warning("Snapshots and exports postponed: %s", msg ? msg : "cannot read the cluster store");
                a->extras = NULL; /* never remove anything on a read failure */
        }
}

static json_t *extra(Agent *a, const char *kind, const char *key) {
        return json_object_get(json_object_get(a->extras, kind), key);
}

static StoragePool *pool_named(StoragePool **pools, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(pools[i]->name, name))
                        return pools[i];
        return NULL;
}

/* "<rd>_<vnr:05>" and "<rd>_<vnr:05>.<snap>". */
static void vol_name(char *buf, size_t len, const char *rd, int64_t vnr) {
        snprintf(buf, len, "%s_%05lld", rd, (long long) vnr);
}

static void snap_name(char *buf, size_t len, const char *rd, int64_t vnr, const char *snap) {
        snprintf(buf, len, "%s_%05lld.%s", rd, (long long) vnr, snap);
}

/* The pool of our node in a source's or snapshot's node list, or NULL. */
static const char *my_pool(Agent *a, json_t *nodes) {
        json_t *n;
        size_t i;
        json_array_foreach(nodes, i, n)
                if (streq(json_get_str(n, "node", ""), a->node))
                        return json_get_str(n, "storage-pool", NULL);
        return NULL;
}

/* drbdadm suspend-io around fn, when rd runs in the kernel here: writes in
 * flight complete, new ones wait, so every volume is cut at one point. */
static bool suspend(Agent *a, const char *rd) {
        _cleanup_free_ char *m = NULL;
        if (!drbd_state_find_resource(a->state, rd))
                return false;
        if (agent_drbdadm(a, "suspend-io", NULL, NULL, rd, &m) < 0) {
                log_warning("Failed to suspend I/O of '%s' for a snapshot: %s", rd, m ? m : "?");
                return false;
        }
        fault_point("snapshot:after-suspend");
        return true;
}

static void resume(Agent *a, const char *rd, bool suspended) {
        _cleanup_free_ char *m = NULL;
        if (suspended && agent_drbdadm(a, "resume-io", NULL, NULL, rd, &m) < 0)
                log_error("Failed to resume I/O of '%s' after a snapshot: %s", rd, m ? m : "?");
}

int agent_volume_create(Agent *a, json_t *d, StoragePool *p, json_t *v, uint64_t backing_kib, char **ret_msg) {
        const char *rd = json_get_str(d, "name", "");
        const char *sname = json_get_str(v, "storage-name", "");
        int64_t vnr = json_get_int(v, "volume", 0);
        json_t *src = extra(a, "sources", rd);
        const char *pool = src ? my_pool(a, json_object_get(src, "nodes")) : NULL;
        char from[300];
        int r;

        if (!pool || !streq(pool, p->name))
                return storage_create(p, sname, backing_kib, NULL, ret_msg);
        const char *srd = json_get_str(src, "resource", "");
        if (streq(json_get_str(src, "kind", ""), "snapshot")) {
                snap_name(from, sizeof from, srd, vnr, json_get_str(src, "snapshot", ""));
                log_info("Creating '%s' from snapshot '%s'", sname, from);
                r = storage_volume_from_snapshot(p, from, sname, NULL, ret_msg);
        } else {
                vol_name(from, sizeof from, srd, vnr);
                log_info("Creating '%s' as a clone of '%s'", sname, from);
                bool s = suspend(a, srd);
                r = storage_clone(p, from, sname, NULL, ret_msg);
                resume(a, srd, s);
        }
        if (r < 0)
                return r;
        /* The source may be smaller (metadata for fewer peers); never shrinks. */
        return storage_resize(p, sname, backing_kib, ret_msg);
}

/* ---- revert ---------------------------------------------------------------------- */

static json_t *progress(json_t *rev, const char *node) {
        return json_object_get(json_object_get(rev, "progress"), node);
}

static int progress_put(Agent *a, const char *rd, int64_t id, const char *phase) {
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:I, s:s}", "id", (json_int_t) id, "phase", phase);
        _cleanup_free_ char *msg = NULL;
        int r = o ? service_observed_aux_put(a->service, SERVICE_KEY_OBSERVED_REVERT, a->node, rd, o, &msg) : -ENOMEM;
        if (r < 0)
                log_warning("Failed to record the revert of '%s': %s", rd, msg ? msg : strerror(-r));
        return r;
}

int agent_revert_step(Agent *a, json_t *d, StoragePool **pools, size_t n_pools, char **ret_msg) {
        const char *rd = json_get_str(d, "name", "");
        json_t *rev = extra(a, "reverts", rd), *n;
        size_t i;
        int r;
        if (!rev)
                return 0;
        bool member = false;
        json_array_foreach(json_object_get(rev, "nodes"), i, n)
                member = member || streq(json_string_value(n) ?: "", a->node);
        if (!member)
                return 0; /* replica added after the revert: it syncs normally */
        int64_t id = json_get_int(rev, "id", 0);
        json_t *mine = progress(rev, a->node);
        const char *phase = json_get_int(mine, "id", -1) == id ? json_get_str(mine, "phase", "") : "";
        if (streq(phase, "up"))
                return 0;

        if (!*phase) {
                /* 1. Down here, roll the backing volumes back, forget the metadata. */
                const DrbdResource *k = drbd_state_find_resource(a->state, rd);
                const char *snap = json_get_str(rev, "snapshot", "");
                if (k && k->has_role && k->role == DRBD_ROLE_PRIMARY) {
                        agent_msgf(ret_msg, "cannot revert '%s': it is Primary on this node", rd);
                        return -EBUSY;
                }
                if (k && (r = agent_run_command((char *const[]) { "drbdsetup", "down", (char *) rd, NULL }, ret_msg)) < 0)
                        return r;
                json_t *o = agent_obs_of(a, rd), *md = json_object_get(o, "md"), *v;
                if (!json_get_bool(json_object_get(d, "replica"), "diskless", false)) {
                        const char *pname = json_get_str(json_object_get(d, "pool"), "name", "");
                        StoragePool *p = pool_named(pools, n_pools, pname);
                        if (!p) {
                                agent_msgf(ret_msg, "storage pool '%s' is not usable on this node", pname);
                                return -ENOENT;
                        }
                        json_array_foreach(json_object_get(d, "volumes"), i, v) {
                                const char *sname = json_get_str(v, "storage-name", "");
                                char sn[300];
                                snap_name(sn, sizeof sn, rd, json_get_int(v, "volume", 0), snap);
                                log_info("Reverting '%s' to snapshot '%s'", sname, sn);
                                if ((r = storage_revert(p, sname, sn, ret_msg)) < 0 ||
                                    (r = storage_resize(p, sname, (uint64_t) json_get_int(v, "backing-kib", 0), ret_msg)) < 0)
                                        return r;
                                /* Fresh metadata on every node; one full sync follows. */
                                if (json_is_object(md))
                                        json_object_set_new(md, sname, json_false());
                        }
                }
                json_object_del(o, "initial-sync");
                /* The snapshots are not zeros: a full sync, even on thin pools. */
                json_object_set_new(o, "full-sync", json_true());
                json_object_del(o, "applied");
                json_object_del(o, "promoted");
                if ((r = agent_obs_save(a, rd, o)) < 0 || (r = progress_put(a, rd, id, "reverted")) < 0)
                        return r;
                return 1;
        }
        /* 2. Barrier: nobody comes up before every node has reverted, or an
         * old replica could sync its current data over the reverted ones. */
        json_array_foreach(json_object_get(rev, "nodes"), i, n) {
                json_t *pn = progress(rev, json_string_value(n) ?: "");
                if (json_get_int(pn, "id", -1) != id)
                        return 1; /* the peer's write kicks us again */
        }
        return progress_put(a, rd, id, "up") < 0 ? 1 : 0;
}

/* ---- snapshots ------------------------------------------------------------------- */

static const StorageVolume *report_has(const StorageReport *rep, const char *name) {
        for (size_t i = 0; rep && rep->error >= 0 && i < rep->n_volumes; i++)
                if (streq(rep->volumes[i].name, name))
                        return &rep->volumes[i];
        return NULL;
}

static int snap_take(Agent *a, json_t *so, StoragePool **pools, size_t n_pools, StorageReport *reports, char **ret_msg) {
        const char *rd = json_get_str(so, "resource-definition", ""), *snap = json_get_str(so, "name", "");
        const char *pname = my_pool(a, json_object_get(so, "nodes"));
        StoragePool *p = pname ? pool_named(pools, n_pools, pname) : NULL;
        StorageReport *rep = NULL;
        json_t *v;
        size_t i;
        int r = 0;
        if (!p) {
                agent_msgf(ret_msg, "storage pool '%s' is not usable on this node", pname ? pname : "?");
                return -ENOENT;
        }
        for (size_t k = 0; k < n_pools; k++)
                if (pools[k] == p)
                        rep = &reports[k];
        bool missing = false;
        json_array_foreach(json_object_get(so, "volumes"), i, v) {
                char sn[300];
                snap_name(sn, sizeof sn, rd, json_get_int(v, "volume", 0), snap);
                missing = missing || !report_has(rep, sn);
        }
        if (!missing)
                return 0;
        bool s = suspend(a, rd);
        json_array_foreach(json_object_get(so, "volumes"), i, v) {
                char sn[300], vn[300];
                int64_t vnr = json_get_int(v, "volume", 0);
                snap_name(sn, sizeof sn, rd, vnr, snap);
                vol_name(vn, sizeof vn, rd, vnr);
                if ((r = storage_snapshot_create(p, vn, sn, ret_msg)) < 0)
                        break;
        }
        resume(a, rd, s);
        if (r >= 0)
                log_info("Snapshot '%s' of '%s' taken%s", snap, rd, s ? " (I/O suspended)" : " (resource down)");
        return r;
}

/* "<rd>_<nnnnn>.<snap>" -> "rd/snap" (rd names hold no '.'), or false. */
static bool parse_snap_lv(const char *lv, char *key, size_t len) {
        const char *dot = strchr(lv, '.');
        if (!dot || dot - lv < 7 || dot[-6] != '_' || strspn(dot - 5, "0123456789") < 5 || !dot[1] || strchr(dot + 1, '.'))
                return false;
        snprintf(key, len, "%.*s/%s", (int) (dot - 6 - lv), lv, dot + 1);
        return true;
}

void agent_snapshot_pass(Agent *a, StoragePool **pools, size_t n_pools, StorageReport *reports) {
        json_t *want = json_object_get(a->extras, "snapshots"), *so, *x;
        _cleanup_(json_decrefp) json_t *seen = NULL;
        const char *key;
        int r;
        if (!a->extras || service_observed_aux_list(a->service, SERVICE_KEY_OBSERVED_SNAP, a->node, &seen) < 0)
                return;
        json_object_foreach(want, key, so) {
                const char *raw = json_string_value(json_object_get(seen, key));
                _cleanup_(json_decrefp) json_t *cur = raw ? json_parse(raw, strlen(raw), NULL) : NULL;
                _cleanup_free_ char *m = NULL;
                if (streq(json_get_str(cur, "state", ""), "ready"))
                        continue;
                r = snap_take(a, so, pools, n_pools, reports, &m);
                _cleanup_(json_decrefp) json_t *st = r < 0 ? json_pack("{s:s, s:s}", "state", "failed", "error", m ? m : strerror(-r))
                                                          : json_pack("{s:s}", "state", "ready");
                if (r < 0)
                        log_error("Failed to take snapshot '%s' on node '%s': %s", key, a->node, m ? m : strerror(-r));
                (void) service_observed_aux_put(a->service, SERVICE_KEY_OBSERVED_SNAP, a->node, key, st, NULL);
        }
        /* Snapshots nobody wants any more. */
        for (size_t i = 0; i < n_pools; i++)
                for (size_t j = 0; reports[i].error >= 0 && j < reports[i].n_volumes; j++) {
                        const StorageVolume *sv = &reports[i].volumes[j];
                        char k[300];
                        _cleanup_free_ char *m = NULL;
                        if (!sv->snapshot || !parse_snap_lv(sv->name, k, sizeof k) || json_object_get(want, k))
                                continue;
                        log_info("Removing snapshot volume '%s' (snapshot deleted)", sv->name);
                        if ((r = storage_snapshot_remove(pools[i], sv->name, &m)) < 0)
                                log_error("Failed to remove snapshot volume '%s': %s", sv->name, m ? m : strerror(-r));
                }
        json_object_foreach(seen, key, x)
                if (!json_object_get(want, key))
                        (void) service_observed_aux_put(a->service, SERVICE_KEY_OBSERVED_SNAP, a->node, key, NULL, NULL);
}
