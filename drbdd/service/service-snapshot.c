/* Snapshots, restore, clone and revert as desired state (docs/snapshots.md);
 * the node agents act. */
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "drbdd/model/names.h"
#include "fault.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "service-internal.h"

#define SNAP_MAX_LEN 48 /* "<rd>_<nnnnn>.<snap>" must stay within LVM's name limit */



static int check_snap_name(const char *snap, char **ret_msg) {
        int r = service_check_name(NAME_RESOURCE, snap, ret_msg);
        if (r < 0)
                return r;
        if (strlen(snap) > SNAP_MAX_LEN)
                return service_msgf(ret_msg, -EINVAL, "snapshot name '%s' is too long (at most %d characters)", snap, SNAP_MAX_LEN);
        if (streq(snap, "revert"))
                return service_msgf(ret_msg, -EINVAL, "'revert' is reserved and cannot name a snapshot");
        return 0;
}

static char *key_snap(const char *rd, const char *snap) {
        char *k;
        return asprintf(&k, KEY_SNAPS "%s/%s", rd, snap) < 0 ? NULL : k;
}





static void iso_now(char *buf, size_t len) {
        time_t t = time(NULL);
        struct tm tm;
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* Diskful replicas of rd; -EINVAL unless all are on lvm-thin pools. */
static int diskful_on_thin(Service *s, const char *rd, json_t *replicas, json_t **ret_nodes, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *nodes = json_array();
        json_t *e;
        size_t i;
        if (!nodes)
                return -ENOMEM;
        json_array_foreach(replicas, i, e) {
                if (json_get_bool(e, "diskless", false))
                        continue;
                const char *node = json_get_str(e, "node", ""), *pool = json_get_str(e, "storage-pool", "");
                _cleanup_free_ char *pk = service_key_pool(node, pool);
                _cleanup_(json_decrefp) json_t *p = NULL;
                int r;
                if (!pk)
                        return -ENOMEM;
                if ((r = service_obj_get(s, pk, &p, NULL)) < 0)
                        return service_read_failed(ret_msg, r);
                if (!streq(json_get_str(p, "driver", ""), "lvm-thin"))
                        return service_msgf(ret_msg, -EINVAL,
                                    "snapshots need lvm-thin pools: the replica of '%s' on node '%s' is in storage pool "
                                    "'%s' (%s)", rd, node, pool, json_get_str(p, "driver", "?"));
                json_array_append_new(nodes, json_pack("{s:s, s:s}", "node", node, "storage-pool", pool));
        }
        if (json_array_size(nodes) == 0)
                return service_msgf(ret_msg, -EINVAL, "'%s' has no diskful replica to snapshot", rd);
        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

/* Rds whose creation still reads from rd (and snap, if given): their
 * "source" names it and not every diskful replica has its backing yet. */
static int readers_pending(Service *s, const char *rd, const char *snap, char **ret_name) {
        _cleanup_(json_decrefp) json_t *rds = NULL;
        json_t *e;
        size_t i;
        int r = service_obj_range(s, KEY_RDS, &rds);
        if (r < 0)
                return r;
        json_array_foreach(rds, i, e) {
                json_t *src = json_object_get(e, "source");
                if (!src || !streq(json_get_str(src, "resource", ""), rd) ||
                    (snap && !streq(json_get_str(src, "snapshot", ""), snap)))
                        continue;
                _cleanup_(json_decrefp) json_t *reps = NULL;
                const char *name = json_get_str(e, "name", "");
                if (service_replicas_load(s, name, &reps, NULL) < 0)
                        continue;
                json_t *x;
                size_t j;
                json_array_foreach(reps, j, x) {
                        if (json_get_bool(x, "diskless", false))
                                continue;
                        _cleanup_(json_decrefp) json_t *o =
                                service_observed_get(s, SERVICE_KEY_OBSERVED, json_get_str(x, "node", ""), name);
                        json_t *md = json_object_get(o, "md"), *v;
                        const char *k;
                        bool done = json_object_size(md) == json_array_size(json_object_get(e, "volumes"));
                        json_object_foreach(md, k, v)
                                done = done && json_is_true(v);
                        if (!done) {
                                *ret_name = strdup(name);
                                return 1;
                        }
                }
        }
        return 0;
}

/* ---- snapshots ------------------------------------------------------------ */

typedef struct SnapChange {
        const char *rd, *snap;
} SnapChange;

static int snapshot_create_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const SnapChange *c = userdata;
        const char *rd = c->rd, *snap = c->snap;
        _cleanup_free_ char *sk = key_snap(rd, snap), *rk = service_key_rd(rd), *name = NULL;
        _cleanup_(json_decrefp) json_t *x = NULL;
        int r;
        if (!sk || !rk || asprintf(&name, "%s/%s", rd, snap) < 0)
                return -ENOMEM;
        if (service_obj_get(s, sk, &x, NULL) >= 0)
                return service_msgf(ret_msg, -EEXIST, "snapshot '%s' of '%s' already exists", snap, rd);
        _cleanup_(json_decrefp) json_t *rdo = NULL, *reps = NULL, *nodes = NULL, *vols = json_array();
        int64_t rev;
        json_t *v;
        size_t i;
        char when[32];
        if (!vols)
                return -ENOMEM;
        if ((r = service_rd_load(s, rd, &rdo, &rev, ret_msg)) < 0 || (r = service_replicas_load(s, rd, &reps, ret_msg)) < 0)
                return r;
        if (json_array_size(json_object_get(rdo, "volumes")) == 0)
                return service_msgf(ret_msg, -EINVAL, "'%s' has no volumes to snapshot", rd);
        if ((r = diskful_on_thin(s, rd, reps, &nodes, ret_msg)) < 0)
                return r;
        json_array_foreach(json_object_get(rdo, "volumes"), i, v)
                json_array_append_new(vols, json_pack("{s:I, s:I}", "volume", json_get_int(v, "volume", 0),
                                                      "size-kib", json_get_int(v, "size-kib", 0)));
        iso_now(when, sizeof when);
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s, s:s, s:O, s:O, s:s}", "name", snap,
                                                      "resource-definition", rd, "nodes", nodes, "volumes",
                                                      vols, "created", when);
        if (!o)
                return -ENOMEM;
        /* Guarded by rd's revision: no replica or volume changes under us. */
        if ((r = service_txn_require_rev(t, rk, rev)) < 0 || (r = service_txn_require_rev(t, sk, 0)) < 0 ||
            (r = service_txn_put_json(t, sk, o)) < 0)
                return r;
        if ((r = service_txn_notify(t, "snapshot", name, "created")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_snapshot_create(Service *s, const char *rd, const char *snap, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { NULL };
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = check_snap_name(snap, ret_msg)) < 0 ||
            (r = service_opts_check_keys(options, allowed, ret_msg)) < 0)
                return r;
        return service_txn_run(s, snapshot_create_build, &(SnapChange) { rd, snap }, ret_msg, "'%s'", rd);
}

static int snapshot_delete_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const SnapChange *c = userdata;
        const char *rd = c->rd, *snap = c->snap;
        _cleanup_free_ char *sk = key_snap(rd, snap), *reader = NULL, *name = NULL;
        int r;
        if (!sk || asprintf(&name, "%s/%s", rd, snap) < 0)
                return -ENOMEM;
        _cleanup_(json_decrefp) json_t *o = NULL, *rev_o = NULL;
        _cleanup_free_ char *rvk = service_key_under(KEY_REVERT, rd, NULL);
        int64_t rev;
        if (!rvk)
                return -ENOMEM;
        r = service_obj_get(s, sk, &o, &rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "snapshot '%s' of '%s' not found", snap, rd);
        if (r < 0)
                return service_read_failed(ret_msg, r);
        if ((r = readers_pending(s, rd, snap, &reader)) < 0)
                return service_read_failed(ret_msg, r);
        if (r > 0)
                return service_msgf(ret_msg, -EBUSY, "snapshot '%s' of '%s' is being restored into '%s'; try again later",
                            snap, rd, reader);
        if (service_obj_get(s, rvk, &rev_o, NULL) >= 0 && streq(json_get_str(rev_o, "snapshot", ""), snap) &&
            service_revert_running(s, rev_o))
                return service_msgf(ret_msg, -EBUSY, "'%s' is being reverted to snapshot '%s'; try again later", rd, snap);
        if ((r = service_txn_require_rev(t, sk, rev)) < 0 || (r = service_txn_delete(t, sk)) < 0)
                return r;
        if ((r = service_txn_notify(t, "snapshot", name, "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_snapshot_delete(Service *s, const char *rd, const char *snap, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_check_name(NAME_RESOURCE, snap, ret_msg)) < 0)
                return r;
        return service_txn_run(s, snapshot_delete_build, &(SnapChange){rd, snap}, ret_msg, "snapshot '%s' of '%s'",
                               snap, rd);
}

/* Adds "state" ("ready" when every node reports it, "failed" when one
 * failed, else "pending") and per-node states. */
static void snapshot_decorate(Service *s, json_t *o) {
        const char *rd = json_get_str(o, "resource-definition", ""), *snap = json_get_str(o, "name", "");
        json_t *per = json_object(), *n;
        size_t i, ready = 0;
        bool failed = false;
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "%s/%s", rd, snap) < 0)
                name = NULL;
        json_array_foreach(json_object_get(o, "nodes"), i, n) {
                const char *node = json_get_str(n, "node", "");
                _cleanup_(json_decrefp) json_t *ob =
                        name ? service_observed_get(s, SERVICE_KEY_OBSERVED_SNAP, node, name) : NULL;
                const char *st = json_get_str(ob, "state", "pending");
                json_object_set_new(per, node, json_string(st));
                if (streq(st, "ready"))
                        ready++;
                else if (streq(st, "failed")) {
                        failed = true;
                        json_object_set_new(o, "error", json_pack("s+++", node, ": ", json_get_str(ob, "error", "?"), ""));
                }
        }
        json_object_set_new(o, "node-states", per);
        json_object_set_new(o, "state", json_string(ready == json_array_size(json_object_get(o, "nodes")) ? "ready"
                                                    : failed                                               ? "failed"
                                                                                                            : "pending"));
}

int service_snapshot_list(Service *s, const char *rd, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *l = NULL, *rdo = NULL;
        _cleanup_free_ char *prefix = NULL;
        json_t *e;
        size_t i;
        int r;
        if (rd && *rd) {
                if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_rd_load(s, rd, &rdo, NULL, ret_msg)) < 0)
                        return r;
                if (asprintf(&prefix, KEY_SNAPS "%s/", rd) < 0)
                        return -ENOMEM;
        } else if (!(prefix = strdup(KEY_SNAPS)))
                return -ENOMEM;
        if ((r = service_obj_range(s, prefix, &l)) < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(l, i, e)
                snapshot_decorate(s, e);
        *ret = TAKE_PTR(l);
        return 0;
}

static int snapshot_load(Service *s, const char *rd, const char *snap, json_t **ret, char **ret_msg) {
        _cleanup_free_ char *sk = key_snap(rd, snap);
        if (!sk)
                return -ENOMEM;
        int r = service_obj_get(s, sk, ret, NULL);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "snapshot '%s' of '%s' not found", snap, rd);
        return r < 0 ? service_read_failed(ret_msg, r) : 0;
}

/* ---- restore and clone ------------------------------------------------------ */

typedef struct RdFrom {
        const char *new_rd, *fault; /* fault: "<restore|clone>:before-commit" */
        json_t *src_rdo, *vols, *nodes, *source, *options;
} RdFrom;

/* New rd with volumes of the given sizes and diskful replicas on nodes
 * ([{node, storage-pool}]), created from source; more replicas by
 * autoplace when place-count asks for more. One transaction. */
static int rd_from_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        static const char *const allowed[] = { "resource-group", "place-count", NULL };
        const RdFrom *c = userdata;
        const char *group = json_get_str(c->src_rdo, "resource-group", DEFAULT_RG);
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        uint64_t count = 0;
        json_t *v, *n;
        size_t i;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, c->new_rd, ret_msg)) < 0 || (r = service_opts_check_keys(c->options, allowed, ret_msg)) < 0 ||
            (r = service_opt_string(c->options, "resource-group", &group, ret_msg)) < 0 ||
            (r = service_check_name(NAME_RESOURCE, group, ret_msg)) < 0 ||
            (r = service_opt_uint(c->options, "place-count", 1, 16, &count, ret_msg)) < 0)
                return r;
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s, s:I}", "resource-group", group, "peer-slots",
                                                      json_get_int(c->src_rdo, "peer-slots", 7));
        _cleanup_(json_decrefp) json_t *ao = count ? json_pack("{s:I}", "place-count", (json_int_t) count) : json_object();
        if (!o || !ao)
                return -ENOMEM;
        if ((r = service_rd_create_step(s, t, c->new_rd, o, &d, ret_msg)) < 0)
                return r;
        /* The agents read it when they create the backing volumes. */
        if (json_object_set(d.rd, "source", c->source) < 0)
                return -ENOMEM;
        json_array_foreach(c->vols, i, v)
                if ((r = service_vd_create_step(s, t, &d, (uint64_t) json_get_int(v, "size-kib", 0), 0, NULL,
                                                ret_msg)) < 0)
                        return r;
        json_array_foreach(c->nodes, i, n) {
                if (count && i >= count)
                        break;
                if ((r = service_resource_create_step(s, t, &d, json_get_str(n, "node", ""),
                                                      json_get_str(n, "storage-pool", ""), false, ret_msg)) < 0)
                        return r;
        }
        /* Tie-breaker, and more replicas if asked for (they sync from the others). */
        if ((r = service_autoplace_step(s, t, &d, ao, NULL, ret_msg)) < 0 || (r = service_rd_draft_put(t, &d)) < 0)
                return r;
        fault_point(c->fault);
        return TXN_COMMIT;
}

static int rd_from(Service *s, RdFrom *c, const char *kind, char **ret_msg) {
        char before[64], after[64];
        int r;
        snprintf(before, sizeof before, "%s:before-commit", kind);
        snprintf(after, sizeof after, "%s:after-commit", kind);
        c->fault = before;
        if ((r = service_txn_run(s, rd_from_build, c, ret_msg, "'%s'", c->new_rd)) < 0)
                return r;
        fault_point(after);
        return 0;
}

int service_snapshot_restore(Service *s, const char *rd, const char *snap, const char *new_rd, json_t *options,
                             char **ret_msg) {
        _cleanup_(json_decrefp) json_t *so = NULL, *rdo = NULL, *src = NULL;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_check_name(NAME_RESOURCE, snap, ret_msg)) < 0 ||
            (r = service_rd_load(s, rd, &rdo, NULL, ret_msg)) < 0 || (r = snapshot_load(s, rd, snap, &so, ret_msg)) < 0)
                return r;
        /* A pending snapshot is fine: the agents take it before they create
         * the new volumes from it (they retry until it exists). */
        snapshot_decorate(s, so);
        if (streq(json_get_str(so, "state", ""), "failed"))
                return service_msgf(ret_msg, -EIO, "snapshot '%s' of '%s' failed: %s", snap, rd, json_get_str(so, "error", "?"));
        if (!(src = json_pack("{s:s, s:s, s:s, s:O}", "kind", "snapshot", "resource", rd, "snapshot", snap, "nodes",
                              json_object_get(so, "nodes"))))
                return -ENOMEM;
        RdFrom c = { .new_rd = new_rd, .src_rdo = rdo, .vols = json_object_get(so, "volumes"),
                     .nodes = json_object_get(so, "nodes"), .source = src, .options = options };
        return rd_from(s, &c, "restore", ret_msg);
}

int service_rd_clone(Service *s, const char *rd, const char *new_rd, json_t *options, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *rdo = NULL, *reps = NULL, *nodes = NULL, *src = NULL;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_rd_load(s, rd, &rdo, NULL, ret_msg)) < 0 ||
            (r = service_replicas_load(s, rd, &reps, ret_msg)) < 0)
                return r;
        if (json_array_size(json_object_get(rdo, "volumes")) == 0)
                return service_msgf(ret_msg, -EINVAL, "'%s' has no volumes to clone", rd);
        if ((r = diskful_on_thin(s, rd, reps, &nodes, ret_msg)) < 0)
                return r;
        if (!(src = json_pack("{s:s, s:s, s:O}", "kind", "clone", "resource", rd, "nodes", nodes)))
                return -ENOMEM;
        RdFrom c = { .new_rd = new_rd, .src_rdo = rdo, .vols = json_object_get(rdo, "volumes"), .nodes = nodes,
                     .source = src, .options = options };
        return rd_from(s, &c, "clone", ret_msg);
}

/* ---- revert ----------------------------------------------------------------- */

/* A revert is finished when every node reports phase "up" for its id. */
bool service_revert_running(Service *s, json_t *cur) {
        const char *rd = json_get_str(cur, "resource-definition", "");
        json_t *e;
        size_t i;
        if (!cur)
                return false;
        json_array_foreach(json_object_get(cur, "nodes"), i, e) {
                _cleanup_(json_decrefp) json_t *ob =
                        service_observed_get(s, SERVICE_KEY_OBSERVED_REVERT, json_string_value(e) ?: "", rd);
                if (json_get_int(ob, "id", -1) != json_get_int(cur, "id", 0) || !streq(json_get_str(ob, "phase", ""), "up"))
                        return true;
        }
        return false;
}

static bool obs_in_use(json_t *ob) {
        json_t *k = json_object_get(ob, "kernel"), *c;
        size_t i;
        if (streq(json_get_str(k, "role", ""), "Primary"))
                return true;
        json_array_foreach(json_object_get(k, "connections"), i, c)
                if (streq(json_get_str(c, "peer-role", ""), "Primary"))
                        return true;
        return false;
}

static int snapshot_revert_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const SnapChange *c = userdata;
        const char *rd = c->rd, *snap = c->snap;
        _cleanup_free_ char *rvk = service_key_under(KEY_REVERT, rd, NULL), *rk = service_key_rd(rd);
        int r;
        if (!rvk || !rk)
                return -ENOMEM;
        _cleanup_(json_decrefp) json_t *rdo = NULL, *so = NULL, *reps = NULL, *cur = NULL, *nodes = json_array();
        int64_t rev, cur_rev = 0;
        json_t *e;
        size_t i;
        if (!nodes)
                return -ENOMEM;
        if ((r = service_rd_load(s, rd, &rdo, &rev, ret_msg)) < 0 || (r = snapshot_load(s, rd, snap, &so, ret_msg)) < 0 ||
            (r = service_replicas_load(s, rd, &reps, ret_msg)) < 0)
                return r;
        snapshot_decorate(s, so);
        if (!streq(json_get_str(so, "state", ""), "ready"))
                return service_msgf(ret_msg, -EBUSY, "snapshot '%s' of '%s' is not ready yet", snap, rd);
        if (json_object_get(rdo, "primary"))
                return service_msgf(ret_msg, -EBUSY, "'%s' is asked to be Primary on node '%s'; clear that first", rd,
                            json_get_str(rdo, "primary", ""));
        r = service_obj_get(s, rvk, &cur, &cur_rev);
        if (r < 0 && r != -ENOENT)
                return service_read_failed(ret_msg, r);
        if (service_revert_running(s, cur))
                return service_msgf(ret_msg, -EBUSY, "'%s' is still being reverted to snapshot '%s'", rd,
                            json_get_str(cur, "snapshot", "?"));
        /* Every diskful replica of the snapshot must still be there. */
        json_array_foreach(json_object_get(so, "nodes"), i, e) {
                bool found = false;
                json_t *x;
                size_t j;
                json_array_foreach(reps, j, x)
                        found = found || (streq(json_get_str(x, "node", ""), json_get_str(e, "node", "")) &&
                                          !json_get_bool(x, "diskless", false));
                if (!found)
                        return service_msgf(ret_msg, -EINVAL, "snapshot '%s' has no data for a replica any more: node '%s' "
                                    "no longer holds '%s'", snap, json_get_str(e, "node", ""), rd);
        }
        json_array_foreach(reps, i, e) {
                const char *node = json_get_str(e, "node", "");
                _cleanup_(json_decrefp) json_t *ob = service_observed_get(s, SERVICE_KEY_OBSERVED, node, rd);
                if (obs_in_use(ob))
                        return service_msgf(ret_msg, -EBUSY, "'%s' is in use (Primary) on node '%s' or its peers; "
                                    "detach it before reverting", rd, node);
                if (!json_get_bool(e, "diskless", false)) {
                        bool in_snap = false;
                        json_t *x;
                        size_t j;
                        json_array_foreach(json_object_get(so, "nodes"), j, x)
                                in_snap = in_snap || streq(json_get_str(x, "node", ""), node);
                        if (!in_snap)
                                return service_msgf(ret_msg, -EINVAL, "the replica of '%s' on node '%s' is newer than "
                                            "snapshot '%s'; delete it first", rd, node, snap);
                }
                json_array_append_new(nodes, json_string(node));
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s, s:s, s:I, s:O}", "resource-definition", rd,
                "snapshot", snap, "id", (json_int_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000, "nodes", nodes);
        if (!o)
                return -ENOMEM;
        if ((r = service_txn_require_rev(t, rk, rev)) < 0 || (r = service_txn_require_rev(t, rvk, cur_rev)) < 0 ||
            (r = service_txn_put_json(t, rvk, o)) < 0)
                return r;
        if ((r = service_txn_notify(t, "resource-definition", rd, "reverting")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_snapshot_revert(Service *s, const char *rd, const char *snap, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_check_name(NAME_RESOURCE, snap, ret_msg)) < 0)
                return r;
        return service_txn_run(s, snapshot_revert_build, &(SnapChange) { rd, snap }, ret_msg, "'%s'", rd);
}

/* ---- deleting a resource definition ------------------------------------------ */

int service_rd_delete_extras(Service *s, const char *rd, Txn *t, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *snaps = NULL;
        _cleanup_free_ char *prefix = NULL, *reader = NULL, *ek = service_key_under(KEY_EXPORT, rd, NULL),
                            *rvk = service_key_under(KEY_REVERT, rd, NULL);
        int r;
        if (!ek || !rvk || asprintf(&prefix, KEY_SNAPS "%s/", rd) < 0)
                return -ENOMEM;
        if ((r = service_obj_range(s, prefix, &snaps)) < 0)
                return service_read_failed(ret_msg, r);
        if (json_array_size(snaps) > 0)
                return service_msgf(ret_msg, -EBUSY, "'%s' has %zu snapshot(s) (e.g. '%s'); delete them first", rd,
                            json_array_size(snaps), json_get_str(json_array_get(snaps, 0), "name", "?"));
        if ((r = readers_pending(s, rd, NULL, &reader)) < 0)
                return service_read_failed(ret_msg, r);
        if (r > 0)
                return service_msgf(ret_msg, -EBUSY, "'%s' is being cloned into '%s'; try again later", rd, reader);
        if ((r = service_txn_delete(t, ek)) < 0 || (r = service_txn_delete(t, rvk)) < 0)
                return r;
        return 0;
}
