/* Read side of the service: listings with derived fields (sizes, devices),
 * the exact .res text a node will run (its commands: service-plan.c). */
#include <stdio.h>

#include "drbdd/drbd/render.h"
#include "drbdd/model/names.h"
#include "drbdd/model/sizing.h"
#include "drbdd/store/store-cache.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "service-internal.h"
#include "utf8.h"

static json_t *find_by(json_t *arr, const char *k1, const char *v1, const char *k2, const char *v2) {
        json_t *e;
        size_t i;
        json_array_foreach(arr, i, e)
                if (streq(json_get_str(e, k1, ""), v1) && (!k2 || streq(json_get_str(e, k2, ""), v2)))
                        return e;
        return NULL;
}

/* ---- health ---- */

int service_replica_health(const json_t *kernel, json_t **ret) {
        _cleanup_(json_decrefp) json_t *h = json_array();
        json_t *d, *c, *pd;
        size_t i, k;
        bool no_quorum = false, diskless = false;
        if (!h)
                return -ENOMEM;
        if (!json_is_object(kernel)) {
                *ret = TAKE_PTR(h);
                return 0;
        }
        const char *susp = json_get_str(kernel, "suspended", "no");
        json_array_foreach(json_object_get(kernel, "devices"), i, d) {
                bool client = json_get_bool(d, "client", false);
                no_quorum = no_quorum || json_is_false(json_object_get(d, "quorum"));
                diskless = diskless || (!client && streq(json_get_str(d, "disk", ""), "Diskless"));
        }
        if (no_quorum)
                json_array_append_printf(h, "quorum lost");
        if (*susp && !streq(susp, "no"))
                json_array_append_printf(h, "suspended(%s)", susp);
        if (diskless)
                json_array_append_printf(h, "diskless");
        json_array_foreach(json_object_get(kernel, "connections"), i, c) {
                const char *peer = json_get_str(c, "name", "?"), *cs = json_get_str(c, "connection", "Unknown");
                if (streq(cs, "StandAlone"))
                        json_array_append_printf(h, "split brain?(%s StandAlone)", peer);
                else if (!streq(cs, "Connected"))
                        json_array_append_printf(h, "degraded(%s %s)", peer, cs);
                json_array_foreach(json_object_get(c, "peer-devices"), k, pd) {
                        int64_t oos = json_get_int(pd, "out-of-sync-kib", 0), size = 0;
                        json_t *dev;
                        size_t j;
                        const char *pdisk = json_get_str(pd, "peer-disk", "");
                        json_array_foreach(json_object_get(kernel, "devices"), j, dev)
                                if (json_get_int(dev, "volume", -1) == json_get_int(pd, "volume", -2))
                                        size = json_get_int(dev, "size-kib", 0);
                        if (oos > 0 && size > 0)
                                json_array_append_printf(h, "out-of-sync %.1f%%(%s)", 100.0 * (double) MIN(oos, size) / (double) size,
                                           peer);
                        else if (oos > 0)
                                json_array_append_printf(h, "out-of-sync %lld KiB(%s)", (long long) oos, peer);
                        if (streq(cs, "Connected") && *pdisk && !streq(pdisk, "UpToDate") &&
                            !(streq(pdisk, "Diskless") && json_get_bool(pd, "peer-client", false)))
                                json_array_append_printf(h, "peer %s(%s)", pdisk, peer);
                }
        }
        *ret = TAKE_PTR(h);
        return 0;
}

/* Everything about one resource definition, loaded once. */
typedef struct RdView {
        json_t *rd, *rg, *replicas, *nodes, *pools;
} RdView;

static void rd_view_done(RdView *v) {
        json_decref(v->rd);
        json_decref(v->rg);
        json_decref(v->replicas);
        json_decref(v->nodes);
        json_decref(v->pools);
        *v = (RdView) {};
}

static int rd_view_load(Service *s, const char *rd, RdView *v, char **ret_msg) {
        _cleanup_free_ char *rk = service_key_rd(rd), *resp = NULL, *rgk = NULL;
        char *m = NULL;
        int r;
        *v = (RdView) {};
        if (name_validate(NAME_RESOURCE, rd, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        if (!rk || asprintf(&resp, KEY_RES "%s/", rd) < 0)
                return -ENOMEM;
        r = service_obj_get(s, rk, &v->rd, NULL);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "resource definition '%s' not found", rd);
        if (r < 0 || (r = service_obj_range(s, resp, &v->replicas)) < 0 || (r = service_obj_range(s, KEY_NODES, &v->nodes)) < 0 ||
            (r = service_obj_range(s, KEY_POOLS, &v->pools)) < 0)
                goto fail;
        if (!(rgk = service_key_rg(json_get_str(v->rd, "resource-group", DEFAULT_RG))))
                return -ENOMEM;
        r = service_obj_get(s, rgk, &v->rg, NULL);
        if (r == -ENOENT)
                v->rg = json_object();
        else if (r < 0)
                goto fail;
        return 0;
fail:
        rd_view_done(v);
        return service_read_failed(ret_msg, r);
}

/* What views of many resources need, read once (five ranges) instead of
 * five reads per resource: a listing or the agent's desired state costs the
 * same number of store round trips for 1 resource as for 1,500 (with etcd
 * in the lab each one is milliseconds). The ranges are not one snapshot, no
 * more than the per-resource reads were; a resource missing from one of
 * them is skipped as deleted meanwhile. */
typedef struct ViewSet {
        json_t *rds;              /* name -> definition */
        json_t *replicas;         /* definition name -> [replica] */
        json_t *rgs;              /* name -> group */
        json_t *nodes, *pools;    /* all, as service_obj_range() reads them */
} ViewSet;

static void view_set_done(ViewSet *vs) {
        json_decref(vs->rds);
        json_decref(vs->replicas);
        json_decref(vs->rgs);
        json_decref(vs->nodes);
        json_decref(vs->pools);
        *vs = (ViewSet) {};
}

static int view_set_load(Service *s, ViewSet *vs, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *rds = NULL, *res = NULL, *rgs = NULL;
        json_t *e;
        size_t i;
        int r;
        *vs = (ViewSet) {};
        if ((r = service_obj_range(s, KEY_RDS, &rds)) < 0 || (r = service_obj_range(s, KEY_RES, &res)) < 0 ||
            (r = service_obj_range(s, KEY_RGS, &rgs)) < 0 || (r = service_obj_range(s, KEY_NODES, &vs->nodes)) < 0 ||
            (r = service_obj_range(s, KEY_POOLS, &vs->pools)) < 0) {
                view_set_done(vs);
                return service_read_failed(ret_msg, r);
        }
        if ((r = service_index_by(rds, "name", NULL, &vs->rds)) < 0 || (r = service_index_by(rgs, "name", NULL, &vs->rgs)) < 0 ||
            !(vs->replicas = json_object())) {
                view_set_done(vs);
                return r < 0 ? r : -ENOMEM;
        }
        json_array_foreach(res, i, e) {
                const char *rd = json_get_str(e, "resource-definition", "");
                json_t *l = json_object_get(vs->replicas, rd);
                if (!l && (json_object_set_new(vs->replicas, rd, l = json_array()) < 0 || !l)) {
                        view_set_done(vs);
                        return -ENOMEM;
                }
                json_array_append(l, e);
        }
        return 0;
}

/* rd's view out of vs, as rd_view_load() reads it: -ENOENT (no message)
 * when rd is not in it. */
static int rd_view_from(ViewSet *vs, const char *rd, RdView *v) {
        *v = (RdView) {};
        json_t *o = json_object_get(vs->rds, rd), *l = json_object_get(vs->replicas, rd);
        if (!o)
                return -ENOENT;
        json_t *rg = json_object_get(vs->rgs, json_get_str(o, "resource-group", DEFAULT_RG));
        v->rd = json_incref(o);
        v->replicas = l ? json_incref(l) : json_array();
        v->nodes = json_incref(vs->nodes);
        v->pools = json_incref(vs->pools);
        v->rg = rg ? json_incref(rg) : json_object();
        if (!v->replicas || !v->rg) {
                rd_view_done(v);
                return -ENOMEM;
        }
        return 0;
}

static DrbdDialect rd_view_dialect(RdView *v) {
        json_t *e;
        size_t i;
        json_array_foreach(v->replicas, i, e) {
                json_t *n = find_by(v->nodes, "name", json_get_str(e, "node", ""), NULL, NULL);
                if (n && service_node_dialect(n) == DRBD_DIALECT_84)
                        return DRBD_DIALECT_84;
        }
        return DRBD_DIALECT_9;
}

/* Per-volume detail of a replica: sizes and devices. New reference. */
static json_t *replica_volumes(RdView *v, json_t *res) {
        json_t *out = json_array(), *vol;
        size_t i;
        json_t *node = find_by(v->nodes, "name", json_get_str(res, "node", ""), NULL, NULL);
        json_t *pool = find_by(v->pools, "node", json_get_str(res, "node", ""), "name",
                               json_get_str(res, "storage-pool", ""));
        bool diskless = json_get_bool(res, "diskless", false);
        unsigned slots = service_rd_peer_slots(v->rd, rd_view_dialect(v));
        (void) node;
        json_array_foreach(json_object_get(v->rd, "volumes"), i, vol) {
                unsigned vnr = (unsigned) json_get_int(vol, "volume", 0);
                int64_t minor = json_get_int(vol, "minor", 0);
                uint64_t req = (uint64_t) json_get_int(vol, "size-kib", 0);
                char dev[32];
                snprintf(dev, sizeof dev, "/dev/drbd%lld", (long long) minor);
                json_t *o = json_pack("{s:i, s:I, s:s, s:I}", "volume", vnr, "minor", (json_int_t) minor, "device",
                                      dev, "requested-kib", (json_int_t) req);
                if (!diskless && pool) {
                        Sizing z;
                        _cleanup_free_ char *path = service_pool_volume_path(pool, json_get_str(v->rd, "name", ""), vnr);
                        if (sizing_compute(req, slots, service_pool_extent_kib(pool), &z) >= 0) {
                                json_object_set_new(o, "backing-kib", json_integer((json_int_t) z.backing_kib));
                                json_object_set_new(o, "usable-kib", json_integer((json_int_t) z.usable_kib));
                                json_object_set_new(o, "metadata-kib", json_integer((json_int_t) z.md_kib));
                        }
                        if (path)
                                json_object_set_new(o, "backing-device", json_string(path));
                }
                json_array_append_new(out, o);
        }
        return out;
}

/* Every observed object, by "node/rd" (new reference): one read for a whole
 * listing, and one the read cache can answer as a whole in an outage. */
static int observed_all(Service *s, json_t **ret) {
        _cleanup_(json_decrefp) json_t *m = json_object();
        StoreKVList l;
        int r;
        if (!m)
                return -ENOMEM;
        if ((r = store_range(s->store, SERVICE_KEY_OBSERVED, &l)) < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                json_t *j = json_parse(l.items[i].value, l.items[i].value_len, NULL);
                if (!json_is_object(j)) {
                        log_warning("Skipping corrupt object in store at '%s'", l.items[i].key);
                        json_decref(j);
                        continue;
                }
                json_object_set_new(m, l.items[i].key + strlen(SERVICE_KEY_OBSERVED), j);
        }
        store_kv_list_done(&l);
        *ret = TAKE_PTR(m);
        return 0;
}

/* The observed object of rd on node (new reference): from all (observed_all())
 * when given, else read. -ENOENT: never reported. */
static int observed_get(Service *s, json_t *all, const char *node, const char *rd, json_t **ret) {
        _cleanup_free_ char *k = NULL;
        if (asprintf(&k, "%s/%s", node, rd) < 0)
                return -ENOMEM;
        if (all) {
                json_t *o = json_object_get(all, k);
                if (!o)
                        return -ENOENT;
                *ret = json_incref(o);
                return 0;
        }
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, SERVICE_KEY_OBSERVED "%s", k) < 0)
                return -ENOMEM;
        return service_obj_get(s, key, ret, NULL);
}

static int list_resources(Service *s, const char *filter, json_t *out, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *rds = NULL, *usage = NULL, *obs_all = NULL;
        _cleanup_(view_set_done) ViewSet vs = {};
        json_t *rd;
        size_t i;
        int r;
        if (service_obj_range(s, SERVICE_KEY_USAGE, &usage) < 0)
                usage = json_array(); /* a listing without it rather than none */
        /* A whole listing reads the observed states in one go; one resource
         * reads its replicas' own. Unreadable (store unreachable and never
         * read before): each replica's state shows "Unknown". */
        if (!filter && (r = observed_all(s, &obs_all)) < 0 && r == -ENOMEM)
                return r;
        if (filter) {
                char *m = NULL;
                if (name_validate(NAME_RESOURCE, filter, &m) < 0)
                        return service_msg_take(ret_msg, -EINVAL, m);
                if (!(rds = json_pack("[{s:s}]", "name", filter)))
                        return -ENOMEM;
        } else if ((r = service_obj_range(s, KEY_RDS, &rds)) < 0)
                return service_read_failed(ret_msg, r);
        if (!filter && (r = view_set_load(s, &vs, ret_msg)) < 0)
                return r;
        json_array_foreach(rds, i, rd) {
                _cleanup_(rd_view_done) RdView v = {};
                json_t *res;
                size_t j;
                r = filter ? rd_view_load(s, json_get_str(rd, "name", ""), &v, ret_msg)
                           : rd_view_from(&vs, json_get_str(rd, "name", ""), &v);
                if (r == -ENOENT && !filter)
                        continue; /* deleted meanwhile */
                if (r < 0)
                        return r;
                json_array_foreach(v.replicas, j, res) {
                        json_t *o = json_deep_copy(res);
                        json_object_set_new(o, "port", json_integer(json_get_int(v.rd, "port", 0)));
                        json_object_set_new(o, "volumes", replica_volumes(&v, res));
                        json_object_set_new(o, "drbd-version",
                                            json_string(drbd_dialect_to_string(rd_view_dialect(&v))));
                        json_t *n = find_by(v.nodes, "name", json_get_str(res, "node", ""), NULL, NULL);
                        json_object_set_new(o, "address", json_string(json_get_str(n, "address", "")));
                        json_object_set_new(o, "attached", json_boolean(service_rd_attached(v.rd, json_get_str(res, "node", ""))));
                        json_object_set_new(o, "window", json_boolean(service_rd_window_open(v.rd)));
                        json_t *ub = service_usage_domains(usage, json_get_str(res, "node", ""), json_get_str(v.rd, "name", ""));
                        json_object_set_new(o, "used-by", ub ? json_incref(ub) : json_array());
                        _cleanup_(json_decrefp) json_t *obs = NULL;
                        int k = filter || obs_all ? observed_get(s, obs_all, json_get_str(res, "node", ""),
                                                                 json_get_str(v.rd, "name", ""), &obs)
                                                  : -EHOSTUNREACH;
                        if (k == -ENOMEM)
                                return k;
                        if (k >= 0) {
                                json_t *health = NULL;
                                json_object_set_new(o, "state", json_string(json_get_str(obs, "state", "unknown")));
                                if (service_replica_health(json_object_get(obs, "kernel"), &health) < 0)
                                        return -ENOMEM;
                                json_object_set_new(o, "health", health);
                                json_object_set(o, "observed", obs);
                        } else
                                /* never reported, or not readable now (store unreachable) */
                                json_object_set_new(o, "state", json_string(k == -ENOENT ? "planned" : "Unknown"));
                        json_array_append_new(out, o);
                }
        }
        return 0;
}

/* In a store outage the read cache answers reads with the last state read:
 * every object of such a listing says so ("stale": true), so neither an
 * operator nor a program takes it for the current state. */
static void mark_stale(Service *s, uint64_t stale_before, json_t *out) {
        json_t *e;
        size_t i;
        if (store_cache_stale_reads(s->store) == stale_before)
                return;
        json_array_foreach(out, i, e)
                json_object_set_new(e, "stale", json_true());
}

static int list_objects(Service *s, const char *kind, const char *filter, json_t *out, char **ret_msg);

int service_list(Service *s, const char *kind, const char *filter, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *out = json_array();
        uint64_t stale_before = store_cache_stale_reads(s->store);
        int r;

        if (!out)
                return -ENOMEM;
        if (filter && !*filter)
                filter = NULL;
        r = streq(kind, "resource") ? list_resources(s, filter, out, ret_msg) : list_objects(s, kind, filter, out, ret_msg);
        if (r < 0)
                return r;
        mark_stale(s, stale_before, out);
        *ret = TAKE_PTR(out);
        return 0;
}

static int list_objects(Service *s, const char *kind, const char *filter, json_t *out, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *all = NULL, *used_all = NULL;
        json_t *e;
        size_t i;
        int r;

        const char *prefix = streq(kind, "node")                  ? KEY_NODES
                             : streq(kind, "storage-pool")        ? KEY_POOLS
                             : streq(kind, "resource-group")      ? KEY_RGS
                             : streq(kind, "resource-definition") ? KEY_RDS
                             : streq(kind, "volume-definition")   ? KEY_RDS
                                                                  : NULL;
        if (!prefix)
                return service_msgf(ret_msg, -EINVAL, "unknown object kind");
        if ((r = service_obj_range(s, prefix, &all)) < 0)
                return service_read_failed(ret_msg, r);
        if (streq(kind, "storage-pool")) {
                _cleanup_(json_decrefp) json_t *nodes = NULL;
                /* Without them, pools show nothing allocated rather than no list. */
                if (service_obj_range(s, KEY_NODES, &nodes) < 0 || service_pools_used_kib(s, nodes, all, &used_all) < 0)
                        used_all = NULL;
        }
        json_array_foreach(all, i, e) {
                if (streq(kind, "storage-pool")) {
                        if (filter && !streq(json_get_str(e, "node", ""), filter))
                                continue;
                        uint64_t used = service_pools_used_get(used_all, json_get_str(e, "node", ""), json_get_str(e, "name", "")),
                                 cap = (uint64_t) json_get_int(e, "capacity-kib", 0);
                        json_object_set_new(e, "allocated-kib", json_integer((json_int_t) used));
                        json_object_set_new(e, "free-kib", json_integer((json_int_t) (cap > used ? cap - used : 0)));
                        json_array_append(out, e);
                } else if (streq(kind, "volume-definition")) {
                        json_t *v;
                        size_t j;
                        if (filter && !streq(json_get_str(e, "name", ""), filter))
                                continue;
                        json_array_foreach(json_object_get(e, "volumes"), j, v) {
                                json_t *o = json_deep_copy(v);
                                char dev[32];
                                snprintf(dev, sizeof dev, "/dev/drbd%lld", (long long) json_get_int(v, "minor", 0));
                                json_object_set_new(o, "resource-definition", json_string(json_get_str(e, "name", "")));
                                json_object_set_new(o, "device", json_string(dev));
                                json_array_append_new(out, o);
                        }
                } else {
                        if (filter && !streq(json_get_str(e, "name", ""), filter))
                                continue;
                        json_object_del(e, "secret"); /* only ever in the generated .res */
                        json_array_append(out, e);
                }
        }
        if (filter && json_array_size(out) == 0 && !streq(kind, "storage-pool") && !streq(kind, "volume-definition")) {
                /* filter is not validated here (any name can match nothing). */
                _cleanup_free_ char *q = utf8_quote_untrusted(filter);
                return q ? service_msgf(ret_msg, -ENOENT, "%s '%s' not found", kind, q) : -ENOMEM;
        }
        return 0;
}

/* ---- configuration -------------------------------------------------------- */

static char *render_disk_path(json_t *pool, const char *rd, unsigned vnr) {
        char *p;
        /* File pools are attached through a loop device; the agent keeps a
         * stable link to it so the configuration does not change with it. */
        if (streq(json_get_str(pool, "driver", ""), "file"))
                return asprintf(&p, "/dev/drbdd/%s_%05u", rd, vnr) < 0 ? NULL : p;
        return service_pool_volume_path(pool, rd, vnr);
}

static int render_config_view(RdView *vp, const char *rd, const char *node, char **ret_text, char **ret_msg);

int service_render_config(Service *s, const char *rd, const char *node, char **ret_text, char **ret_msg) {
        _cleanup_(rd_view_done) RdView v = {};
        char *m = NULL;
        int r;

        if (name_validate(NAME_NODE, node, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        if ((r = rd_view_load(s, rd, &v, ret_msg)) < 0)
                return r;
        return render_config_view(&v, rd, node, ret_text, ret_msg);
}

/* rd's configuration for node, from its view. */
static int render_config_view(RdView *vp, const char *rd, const char *node, char **ret_text, char **ret_msg) {
        RdView v = *vp;
        if (!find_by(v.replicas, "node", node, NULL, NULL))
                return service_msgf(ret_msg, -ENOENT, "'%s' has no replica on node '%s'", rd, node);
        json_t *vols = json_object_get(v.rd, "volumes");
        size_t nv = json_array_size(vols), nh = json_array_size(v.replicas), i, j;
        if (nv == 0)
                return service_msgf(ret_msg, -EINVAL, "'%s' has no volumes yet", rd);

        _cleanup_free_ RenderVolume *rv = calloc(nv, sizeof *rv);
        _cleanup_free_ RenderHost *rh = calloc(nh, sizeof *rh);
        _cleanup_free_ const char **disks = calloc(nv * nh, sizeof *disks);
        _cleanup_(json_decrefp) json_t *keep = json_array(), *opts = json_object();
        if (!rv || !rh || !disks || !keep || !opts)
                return -ENOMEM;
        json_t *e;
        json_array_foreach(vols, i, e)
                rv[i] = (RenderVolume) { .vnr = (unsigned) json_get_int(e, "volume", 0),
                                         .minor = (unsigned) json_get_int(e, "minor", 0) };
        json_array_foreach(v.replicas, i, e) {
                const char *nn = json_get_str(e, "node", "");
                json_t *n = find_by(v.nodes, "name", nn, NULL, NULL);
                json_t *pool = find_by(v.pools, "node", nn, "name", json_get_str(e, "storage-pool", ""));
                bool diskless = json_get_bool(e, "diskless", false);
                if (!n)
                        return service_msgf(ret_msg, -EIO, "node '%s' of '%s' is missing from the store", nn, rd);
                if (!diskless && !pool)
                        return service_msgf(ret_msg, -EIO, "storage pool of '%s' on '%s' is missing from the store", rd, nn);
                for (j = 0; j < nv && !diskless; j++) {
                        _cleanup_free_ char *path = render_disk_path(pool, rd, rv[j].vnr);
                        json_t *str = json_string_nocheck(path ?: "");
                        char *p = (char *) json_string_value(str);
                        json_array_append_new(keep, str);
                        disks[i * nv + j] = p;
                }
                rh[i] = (RenderHost) { .name = nn, .address = json_get_str(n, "address", ""),
                                       .port = (uint16_t) json_get_int(v.rd, "port", 0),
                                       .node_id = (unsigned) json_get_int(e, "node-id", 0), .diskless = diskless,
                                       .disks = diskless ? NULL : &disks[i * nv] };
        }
        /* Group options first, the definition's own override them. */
        json_object_update(opts, json_object_get(v.rg, "drbd-options")); /* no-op when absent */
        json_object_update(opts, json_object_get(v.rd, "drbd-options"));
        size_t no = json_object_size(opts);
        _cleanup_free_ RenderOption *ro = calloc(no + 1, sizeof *ro);
        const char *k;
        i = 0;
        if (!ro)
                return -ENOMEM;
        json_object_foreach(opts, k, e)
                ro[i++] = (RenderOption) { .name = k, .value = json_string_value(e) };

        DrbdDialect d = rd_view_dialect(&v);
        RenderResource res = {
                .name = rd, .dialect = d, .secret = json_get_str(v.rd, "secret", NULL),
                .peer_slots = service_rd_peer_slots(v.rd, d), .quorum = d == DRBD_DIALECT_9 && nh >= 3,
                .two_primaries = d == DRBD_DIALECT_9 && service_rd_window_open(v.rd),
                .volumes = rv, .n_volumes = nv, .hosts = rh, .n_hosts = nh, .options = ro, .n_options = i,
        };
        return drbd_render_res(&res, ret_text, ret_msg);
}

/* ---- node agent interface ------------------------------------------------- */

int service_node_desired(Service *s, const char *node, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *out = json_array(), *pools = NULL;
        _cleanup_(view_set_done) ViewSet vs = {};
        _cleanup_free_ char *pprefix = NULL;
        json_t *e;
        int r;

        if (!out)
                return -ENOMEM;
        if (asprintf(&pprefix, KEY_POOLS "%s/", node) < 0)
                return -ENOMEM;
        char *m = NULL;
        if (name_validate(NAME_NODE, node, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        /* Any read failure fails the whole read: a resource left out would
         * be torn down by the agent (seen in the lab: with etcd unreachable,
         * a resource whose group was never read through the cache lost its
         * volumes on every node). */
        if ((r = view_set_load(s, &vs, ret_msg)) < 0)
                return r;
        if ((r = service_obj_range(s, pprefix, &pools)) < 0)
                return service_read_failed(ret_msg, r);
        json_t *per_rd;
        const char *rdname;
        json_object_foreach(vs.replicas, rdname, per_rd) {
                e = find_by(per_rd, "node", node, NULL, NULL);
                if (!e)
                        continue;
                _cleanup_(rd_view_done) RdView v = {};
                _cleanup_free_ char *text = NULL;
                r = rd_view_from(&vs, rdname, &v);
                if (r == -ENOENT)
                        continue; /* deleted meanwhile */
                if (r < 0)
                        return r;
                if (json_array_size(json_object_get(v.rd, "volumes")) == 0)
                        continue; /* nothing to run yet */
                if ((r = render_config_view(&v, rdname, node, &text, ret_msg)) < 0)
                        return r;
                DrbdDialect d = rd_view_dialect(&v);
                json_t *pool = find_by(v.pools, "node", node, "name", json_get_str(e, "storage-pool", ""));
                bool diskless = json_get_bool(e, "diskless", false);
                int64_t my_id = json_get_int(e, "node-id", 0), lowest = 1000;
                json_t *x;
                size_t j;
                /* A new rd (not restored or cloned) whose diskful replicas
                 * all start out reading zeros needs no initial sync. */
                bool zeroed = !json_object_get(v.rd, "source");
                json_array_foreach(v.replicas, j, x) {
                        if (json_get_bool(x, "diskless", false))
                                continue;
                        lowest = MIN(lowest, json_get_int(x, "node-id", 0));
                        json_t *xp = find_by(v.pools, "node", json_get_str(x, "node", ""), "name",
                                             json_get_str(x, "storage-pool", ""));
                        const char *drv = json_get_str(xp, "driver", "");
                        zeroed = zeroed && (streq(drv, "lvm-thin") || streq(drv, "file"));
                }
                _cleanup_(json_decrefp) json_t *peer_ids = json_array();
                json_int_t diskful_peers = 0;
                if (!peer_ids)
                        return -ENOMEM;
                json_array_foreach(v.replicas, j, x)
                        if (json_get_int(x, "node-id", -1) != my_id) {
                                json_array_append_new(peer_ids, json_integer(json_get_int(x, "node-id", 0)));
                                diskful_peers += !json_get_bool(x, "diskless", false);
                        }
                /* Fixed when the first diskful replicas were placed; resources made
                 * before that was recorded fall back to the lowest node-id. */
                int64_t source = json_get_int(v.rd, "sync-source-id", lowest);
                json_t *vols = replica_volumes(&v, e), *vol;
                json_array_foreach(vols, j, vol) {
                        char sn[128];
                        snprintf(sn, sizeof sn, "%s_%05lld", rdname, (long long) json_get_int(vol, "volume", 0));
                        json_object_set_new(vol, "storage-name", json_string(sn));
                        json_object_set(vol, "size-kib", json_object_get(vol, "requested-kib"));
                }
                json_array_append_new(out, json_pack("{s:s, s:O, s:s, s:i, s:I, s:O?, s:o, s:s, s:b, s:b, s:b, s:I, s:O, s:I}",
                        "name", rdname, "replica", e, "dialect", drbd_dialect_to_string(d),
                        "peer-slots", service_rd_peer_slots(v.rd, d), "port", json_get_int(v.rd, "port", 0),
                        "pool", diskless ? NULL : pool, "volumes", vols, "config", text,
                        "initial-sync-source", !diskless && my_id == source,
                        "primary", streq(json_get_str(v.rd, "primary", ""), node),
                        "zeroed", zeroed, "peers", (json_int_t) json_array_size(v.replicas) - 1,
                        "peer-ids", peer_ids, "diskful-peers", diskful_peers));
                json_object_set_new(json_array_get(out, json_array_size(out) - 1), "two-primaries",
                                    json_boolean(d == DRBD_DIALECT_9 && service_rd_window_open(v.rd)));
        }
        *ret = json_pack("{s:O, s:O}", "resources", out, "pools", pools);
        return *ret ? 0 : -ENOMEM;
}

int service_observed_put(Service *s, const char *node, const char *rd, json_t *state, char **ret_msg) {
        _cleanup_free_ char *k = NULL;
        _cleanup_(service_txn_done) Txn t = {};
        int r;
        if (asprintf(&k, SERVICE_KEY_OBSERVED "%s/%s", node, rd) < 0)
                return -ENOMEM;
        if ((r = state ? service_txn_put_json(&t, k, state) : service_txn_delete(&t, k)) < 0)
                return r;
        if ((r = service_txn_commit(s, &t, ret_msg)) < 0)
                return r;
        char name[300];
        snprintf(name, sizeof name, "%s/%s", rd, node);
        service_notify(s, "resource", name, state ? "observed" : "forgotten");
        return 0;
}
