/* Resource definitions, volume definitions and resources (replicas):
 * allocation of ports, minors and node-ids in store transactions, capacity
 * checks, autoplace with tie-breaker, spawn. */
#include <stdio.h>
#include <sys/random.h>

#include "drbdd/model/names.h"
#include "drbdd/model/size.h"
#include "drbdd/model/sizing.h"
#include "fault.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "placement.h"
#include "service-internal.h"



static int make_secret(char **ret) {
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        unsigned char raw[24];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw)
                return -EIO;
        char *s = malloc(33);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < 32; i++) {
                size_t bit = i * 6;
                unsigned v = ((unsigned) raw[bit / 8] << 8 | (bit / 8 + 1 < sizeof raw ? raw[bit / 8 + 1] : 0)) >>
                             (10 - bit % 8);
                s[i] = b64[v & 63];
        }
        s[32] = 0;
        *ret = s;
        return 0;
}

static bool key_exists(Service *s, const char *key) {
        StoreKV kv;
        if (store_get(s->store, key, &kv) < 0)
                return false;
        store_kv_done(&kv);
        return true;
}

/* Finds a number in [min,max] whose allocation key under prefix is free,
 * starting at *hint, and not taken by t already. The transaction must require
 * the key to be absent: this is only a hint. */
static int alloc_find(Service *s, const Txn *t, const char *prefix, unsigned min, unsigned max, unsigned *hint,
                      unsigned *ret, char **ret_key) {
        unsigned span = max - min + 1;
        for (unsigned i = 0; i < span; i++) {
                unsigned v = min + (*hint - min + i) % span;
                char *k;
                if (asprintf(&k, "%s%06u", prefix, v) < 0)
                        return -ENOMEM;
                if (!service_txn_has_key(t, k) && !key_exists(s, k)) {
                        *hint = v == max ? min : v + 1;
                        *ret = v;
                        *ret_key = k;
                        return 0;
                }
                free(k);
        }
        return -ENOSPC;
}

/* Step: takes number want (0: any free one in [min,max], from *hint) under
 * prefix for owner: the key must not exist and gets owner as its value.
 * -EEXIST when want is taken, -ENOSPC when none is free; what names the
 * number in the messages ("port", "minor"), what_free in the latter. */
static int alloc_take(Service *s, Txn *t, const char *prefix, unsigned min, unsigned max, unsigned *hint, unsigned want,
                      const char *what, const char *what_free, const char *owner, unsigned *ret, char **ret_msg) {
        _cleanup_free_ char *k = NULL;
        unsigned v = want;
        int r;
        if (want) {
                if (asprintf(&k, "%s%06u", prefix, want) < 0)
                        return -ENOMEM;
                if (service_txn_has_key(t, k) || key_exists(s, k))
                        return service_msgf(ret_msg, -EEXIST, "%s %u is already in use", what, want);
        } else {
                r = alloc_find(s, t, prefix, min, max, hint, &v, &k);
                if (r == -ENOSPC)
                        return service_msgf(ret_msg, r, "no free %s left in the range %u-%u", what_free, min, max);
                if (r < 0)
                        return r;
        }
        if ((r = service_txn_require_rev(t, k, 0)) < 0 || (r = service_txn_put(t, k, owner)) < 0)
                return r;
        *ret = v;
        return 0;
}

/* Reads the resource group of rd (or the implicit default group). */
static int rg_load(Service *s, const char *name, json_t **ret, int64_t *ret_rev, char **ret_msg) {
        _cleanup_free_ char *k = service_key_rg(name);
        if (!k)
                return -ENOMEM;
        int r = service_obj_get(s, k, ret, ret_rev);
        if (r == -ENOENT && streq(name, DEFAULT_RG)) {
                *ret = json_pack("{s:s, s:i, s:i, s:b, s:[], s:[], s:[], s:{}}", "name", DEFAULT_RG, "place-count",
                                 2, "peer-slots", 7, "diskless-on-remaining", 0, "storage-pools",
                                 "replicas-on-same", "replicas-on-different", "drbd-options");
                if (ret_rev)
                        *ret_rev = 0;
                return *ret ? 0 : -ENOMEM;
        }
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "resource group '%s' not found", name);
        if (r < 0)
                return service_read_failed(ret_msg, r);
        return 0;
}


/* ---- resource definitions ------------------------------------------------- */

/* ---- drafts: a definition changed by steps of one transaction ------------- */

void service_rd_draft_done(RdDraft *d) {
        json_decref(d->rd);
        json_decref(d->orig);
        json_decref(d->replicas);
        *d = (RdDraft) {};
}

int service_rd_draft_load(Service *s, Txn *t, const char *name, RdDraft *d, char **ret_msg) {
        _cleanup_free_ char *rk = service_key_rd(name);
        int r;
        *d = (RdDraft) { .name = name };
        if (!rk)
                return -ENOMEM;
        if ((r = service_rd_load(s, name, &d->rd, &d->rev, ret_msg)) < 0 ||
            (r = service_replicas_load(s, name, &d->replicas, ret_msg)) < 0)
                return r;
        if (!(d->orig = json_deep_copy(d->rd)))
                return -ENOMEM;
        return service_txn_require_rev(t, rk, d->rev);
}

int service_rd_draft_put(Txn *t, const RdDraft *d) {
        _cleanup_free_ char *rk = service_key_rd(d->name);
        if (!rk)
                return -ENOMEM;
        if (d->orig && json_equal(d->orig, d->rd))
                return 0;
        return service_txn_put_json(t, rk, d->rd);
}

int service_rd_create_step(Service *s, Txn *t, const char *name, json_t *options, RdDraft *d, char **ret_msg) {
        static const char *const allowed[] = { "resource-group", "port", "peer-slots", "drbd-options", NULL };
        const char *group = DEFAULT_RG;
        uint64_t port = 0, slots = 0;
        json_t *drbd = NULL;
        int r;

        *d = (RdDraft) { .name = name };
        if ((r = service_check_name(NAME_RESOURCE, name, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_string(options, "resource-group", &group, ret_msg)) < 0 ||
            (r = service_check_name(NAME_RESOURCE, group, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "port", 1, 65535, &port, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "peer-slots", 1, DRBD_MAX_PEERS, &slots, ret_msg)) < 0 ||
            (r = service_opt_drbd_options(options, "drbd-options", &drbd, ret_msg)) < 0)
                return r;
        if (port && (port < s->cfg.port_min || port > s->cfg.port_max))
                return service_msgf(ret_msg, -EINVAL, "port %llu is outside the configured range %u-%u",
                            (unsigned long long) port, s->cfg.port_min, s->cfg.port_max);

        _cleanup_(json_decrefp) json_t *rg = NULL;
        int64_t rg_rev;
        if ((r = rg_load(s, group, &rg, &rg_rev, ret_msg)) < 0)
                return r;
        if (!slots)
                slots = (uint64_t) json_get_int(rg, "peer-slots", s->cfg.default_peer_slots);

        _cleanup_free_ char *secret = NULL, *rk = service_key_rd(name), *rgk = service_key_rg(group);
        if (!rk || !rgk)
                return -ENOMEM;
        if (key_exists(s, rk))
                return service_msgf(ret_msg, -EEXIST, "resource definition '%s' already exists", name);
        if ((r = make_secret(&secret)) < 0)
                return service_msgf(ret_msg, r, "cannot generate a shared secret: %s", strerror(-r));
        unsigned p;
        if ((r = alloc_take(s, t, KEY_ALLOC_PORT, s->cfg.port_min, s->cfg.port_max, &s->next_port, (unsigned) port,
                            "port", "TCP port", name, &p, ret_msg)) < 0)
                return r;
        /* Own DRBD options only; the group's are merged when rendering. */
        d->rd = json_pack("{s:s, s:s, s:i, s:s, s:I, s:[], s:o}", "name", name, "resource-group", group, "port", p,
                          "secret", secret, "peer-slots", (json_int_t) slots, "volumes", "drbd-options",
                          drbd ? json_deep_copy(drbd) : json_object());
        d->replicas = json_array();
        if (!d->rd || !d->replicas)
                return -ENOMEM;
        if ((r = service_txn_require_rev(t, rk, 0)) < 0 || (rg_rev && (r = service_txn_require_rev(t, rgk, rg_rev)) < 0) ||
            (r = service_txn_notify(t, "resource-definition", name, "created")) < 0)
                return r;
        return 0;
}

typedef struct RdCreate {
        const char *name;
        json_t *options;
} RdCreate;

static int rd_create_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const RdCreate *c = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        int r;
        if ((r = service_rd_create_step(s, t, c->name, c->options, &d, ret_msg)) < 0 ||
            (r = service_rd_draft_put(t, &d)) < 0)
                return r;
        return TXN_COMMIT;
}

int service_rd_create(Service *s, const char *name, json_t *options, char **ret_msg) {
        return service_txn_run(s, rd_create_build, &(RdCreate){name, options}, ret_msg, "resource definition '%s'",
                               name);
}

static int rd_options_apply(json_t *rd, void *userdata, char **ret_msg) {
        json_t *drbd = userdata, *cur = json_object_get(rd, "drbd-options"), *v;
        const char *k;
        if (!json_is_object(cur)) {
                cur = json_object();
                json_object_set_new(rd, "drbd-options", cur);
        }
        json_object_foreach(drbd, k, v) {
                if (json_string_length(v) == 0)
                        json_object_del(cur, k);
                else
                        json_object_set(cur, k, v);
        }
        return 1;
}

int service_rd_modify(Service *s, const char *name, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "drbd-options", NULL };
        _cleanup_(json_decrefp) json_t *none = json_object();
        _cleanup_free_ char *rk = NULL, *what = NULL;
        json_t *drbd = NULL;
        int r;

        if ((r = service_check_name(NAME_RESOURCE, name, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_drbd_options(options, "drbd-options", &drbd, ret_msg)) < 0)
                return r;
        if (!none || !(rk = service_key_rd(name)) || asprintf(&what, "resource definition '%s'", name) < 0)
                return -ENOMEM;
        r = service_obj_modify(s, rk, what, rd_options_apply, drbd ? drbd : none, ret_msg);
        if (r >= 0)
                service_notify(s, "resource-definition", name, "modified");
        return r;
}

static int rd_delete_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const char *name = userdata;
        _cleanup_free_ char *rk = service_key_rd(name), *resp = NULL, *nidp = NULL;
        _cleanup_(json_decrefp) json_t *rd = NULL;
        int64_t rev;
        json_t *v;
        size_t i;
        int r;
        if (!rk || asprintf(&resp, KEY_RES "%s/", name) < 0 || asprintf(&nidp, KEY_ALLOC_NODEID "%s/", name) < 0)
                return -ENOMEM;
        if ((r = service_rd_load(s, name, &rd, &rev, ret_msg)) < 0)
                return r;
        if (json_array_size(json_object_get(rd, "attached")) > 0)
                return service_msgf(ret_msg, -EBUSY, "'%s' is attached on node '%s'; detach it first", name,
                            json_string_value(json_array_get(json_object_get(rd, "attached"), 0)));
        char pk[64];
        snprintf(pk, sizeof pk, KEY_ALLOC_PORT "%06d", (int) json_get_int(rd, "port", 0));
        if ((r = service_rd_delete_extras(s, name, t, ret_msg)) < 0)
                return r;
        if ((r = service_txn_require_rev(t, rk, rev)) < 0 || (r = service_txn_delete(t, rk)) < 0 || (r = service_txn_delete(t, pk)) < 0 ||
            (r = service_txn_delete_prefix(t, resp)) < 0 || (r = service_txn_delete_prefix(t, nidp)) < 0)
                return r;
        json_array_foreach(json_object_get(rd, "volumes"), i, v) {
                char mk[64];
                snprintf(mk, sizeof mk, KEY_ALLOC_MINOR "%06d", (int) json_get_int(v, "minor", 0));
                if ((r = service_txn_delete(t, mk)) < 0)
                        return r;
        }
        if ((r = service_txn_notify(t, "resource-definition", name, "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_rd_delete(Service *s, const char *name, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_RESOURCE, name, ret_msg)) < 0)
                return r;
        return service_txn_run(s, rd_delete_build, (void *) name, ret_msg, "resource definition '%s'", name);
}

/* ---- capacity ------------------------------------------------------------- */

/* Checks that every diskful replica of rd (the JSON list) has room on its pool
 * for extra_kib of requested size, given rd's volumes after the change. */
static int check_capacity(Service *s, json_t *rd, json_t *replicas, uint64_t extra_requested_kib, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *nodes = NULL, *pools = NULL, *used_all = NULL;
        json_t *r;
        size_t i;
        int k;
        if (extra_requested_kib == 0)
                return 0;
        if ((k = service_obj_range(s, KEY_NODES, &nodes)) < 0 || (k = service_obj_range(s, KEY_POOLS, &pools)) < 0 ||
            (k = service_pools_used_kib(s, nodes, pools, &used_all)) < 0)
                return service_read_failed(ret_msg, k);
        json_array_foreach(replicas, i, r) {
                if (json_get_bool(r, "diskless", false))
                        continue;
                const char *node = json_get_str(r, "node", ""), *pool = json_get_str(r, "storage-pool", "");
                _cleanup_free_ char *pk = service_key_pool(node, pool), *nk = service_key_node(node);
                _cleanup_(json_decrefp) json_t *p = NULL, *n = NULL;
                uint64_t used = service_pools_used_get(used_all, node, pool);
                Sizing z;
                if (!pk || !nk)
                        return -ENOMEM;
                if ((k = service_obj_get(s, pk, &p, NULL)) < 0 || (k = service_obj_get(s, nk, &n, NULL)) < 0)
                        return service_read_failed(ret_msg, k);
                uint64_t cap = (uint64_t) json_get_int(p, "capacity-kib", 0);
                if (cap == 0)
                        continue; /* capacity unknown until the node reports it */
                if ((k = sizing_compute(extra_requested_kib, service_rd_peer_slots(rd, service_node_dialect(n)), service_pool_extent_kib(p),
                                        &z)) < 0)
                        return service_msgf(ret_msg, k, "size out of range");
                if (used + z.backing_kib > cap) {
                        char need[32], free_[32];
                        return service_msgf(ret_msg, -ENOSPC, "not enough space in storage pool '%s' on node '%s': need %s, %s free",
                                    pool, node, size_format_kib(z.backing_kib, need, sizeof need),
                                    size_format_kib(cap > used ? cap - used : 0, free_, sizeof free_));
                }
        }
        return 0;
}

/* ---- volume definitions --------------------------------------------------- */

int service_vd_create_step(Service *s, Txn *t, RdDraft *d, uint64_t size_kib, unsigned minor_opt, unsigned *ret_vnr,
                           char **ret_msg) {
        unsigned minor, vnr = 0;
        json_t *v;
        size_t i;
        int r;

        json_t *vols = json_object_get(d->rd, "volumes");
        json_array_foreach(vols, i, v)
                vnr = MAX(vnr, (unsigned) json_get_int(v, "volume", 0) + 1);
        if (json_array_size(vols) >= 64)
                return service_msgf(ret_msg, -EINVAL, "resource definition '%s' already has 64 volumes", d->name);
        if ((r = check_capacity(s, d->rd, d->replicas, size_kib, ret_msg)) < 0)
                return r;
        if ((r = alloc_take(s, t, KEY_ALLOC_MINOR, s->cfg.minor_min, s->cfg.minor_max, &s->next_minor, minor_opt,
                            "minor", "minor", d->name, &minor, ret_msg)) < 0)
                return r;
        if (json_array_append_new(vols, json_pack("{s:i, s:I, s:i}", "volume", vnr, "size-kib", (json_int_t) size_kib,
                                                  "minor", minor)) < 0)
                return -ENOMEM;
        char name[80];
        snprintf(name, sizeof name, "%s/%u", d->name, vnr);
        if ((r = service_txn_notify(t, "volume-definition", name, "created")) < 0)
                return r;
        if (ret_vnr)
                *ret_vnr = vnr;
        return 0;
}

typedef struct VdChange {
        const char *rd;
        unsigned vnr, minor;
        uint64_t size_kib;
        unsigned *ret_vnr;
} VdChange;

static int vd_create_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        VdChange *c = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        int r;
        if ((r = service_rd_draft_load(s, t, c->rd, &d, ret_msg)) < 0 ||
            (r = service_vd_create_step(s, t, &d, c->size_kib, c->minor, &c->vnr, ret_msg)) < 0 ||
            (r = service_rd_draft_put(t, &d)) < 0)
                return r;
        return TXN_COMMIT;
}

int service_vd_create(Service *s, const char *rd_name, uint64_t size_kib, json_t *options, unsigned *ret_vnr,
                      char **ret_msg) {
        static const char *const allowed[] = { "minor", NULL };
        uint64_t minor_opt = 0;
        char *m = NULL;
        int r;

        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "minor", s->cfg.minor_min, s->cfg.minor_max, &minor_opt, ret_msg)) < 0)
                return r;
        if (size_check_bounds(size_kib, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        VdChange c = { .rd = rd_name, .minor = (unsigned) minor_opt, .size_kib = size_kib };
        if ((r = service_txn_run(s, vd_create_build, &c, ret_msg, "resource definition '%s'", rd_name)) < 0)
                return r;
        if (ret_vnr)
                *ret_vnr = c.vnr;
        return 0;
}

static json_t *find_volume(json_t *rd, unsigned vnr, size_t *ret_index) {
        json_t *v;
        size_t i;
        json_array_foreach(json_object_get(rd, "volumes"), i, v)
                if ((unsigned) json_get_int(v, "volume", -1) == vnr) {
                        if (ret_index)
                                *ret_index = i;
                        return v;
                }
        return NULL;
}

static int vd_resize_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const VdChange *c = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        int r;
        if ((r = service_rd_draft_load(s, t, c->rd, &d, ret_msg)) < 0)
                return r;
        json_t *v = find_volume(d.rd, c->vnr, NULL);
        if (!v)
                return service_msgf(ret_msg, -ENOENT, "volume %u of '%s' not found", c->vnr, c->rd);
        uint64_t cur = (uint64_t) json_get_int(v, "size-kib", 0);
        if (c->size_kib < cur)
                return service_msgf(ret_msg, -EINVAL, "volumes can only grow: '%s' volume %u is already larger", c->rd, c->vnr);
        if (c->size_kib == cur)
                return TXN_NOTHING;
        if ((r = check_capacity(s, d.rd, d.replicas, c->size_kib - cur, ret_msg)) < 0)
                return r;
        json_object_set_new(v, "size-kib", json_integer((json_int_t) c->size_kib));
        char name[80];
        snprintf(name, sizeof name, "%s/%u", c->rd, c->vnr);
        if ((r = service_rd_draft_put(t, &d)) < 0 ||
            (r = service_txn_notify(t, "volume-definition", name, "modified")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_vd_resize(Service *s, const char *rd_name, unsigned vnr, uint64_t size_kib, char **ret_msg) {
        char *m = NULL;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0)
                return r;
        if (size_check_bounds(size_kib, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        return service_txn_run(s, vd_resize_build, &(VdChange){.rd = rd_name, .vnr = vnr, .size_kib = size_kib},
                               ret_msg, "resource definition '%s'", rd_name);
}

static int vd_delete_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const VdChange *c = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        size_t idx;
        int r;
        if ((r = service_rd_draft_load(s, t, c->rd, &d, ret_msg)) < 0)
                return r;
        json_t *v = find_volume(d.rd, c->vnr, &idx);
        if (!v)
                return service_msgf(ret_msg, -ENOENT, "volume %u of '%s' not found", c->vnr, c->rd);
        char mk[64], name[80];
        snprintf(mk, sizeof mk, KEY_ALLOC_MINOR "%06d", (int) json_get_int(v, "minor", 0));
        snprintf(name, sizeof name, "%s/%u", c->rd, c->vnr);
        json_array_remove(json_object_get(d.rd, "volumes"), idx);
        if ((r = service_rd_draft_put(t, &d)) < 0 || (r = service_txn_delete(t, mk)) < 0 ||
            (r = service_txn_notify(t, "volume-definition", name, "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_vd_delete(Service *s, const char *rd_name, unsigned vnr, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0)
                return r;
        return service_txn_run(s, vd_delete_build, &(VdChange) { .rd = rd_name, .vnr = vnr }, ret_msg,
                       "resource definition '%s'", rd_name);
}

/* ---- resources ------------------------------------------------------------ */

/* Adds new replicas of d to t, allocating node-ids. A node-id whose replica
 * was removed stays held (its allocation key kept, empty): the survivors'
 * metadata may still hold its bitmap slot, so fresh ids come first and a
 * held one is reused only when none is left. The first diskful replicas of
 * rd fix its initial-sync source (the lowest of their node-ids) in rd
 * itself, so that a replica added later never counts as one (it would
 * overwrite the data). */
int service_replicas_add_step(Service *s, Txn *t, RdDraft *d, const NewReplica *add, size_t n_add, char **ret_msg) {
        _cleanup_free_ char *idp = NULL;
        bool used[DRBD_MAX_PEERS + 1] = {}, had_diskful = false;
        int64_t held_rev[DRBD_MAX_PEERS + 1] = {}, source = -1;
        bool clear_source = false;
        StoreKVList held = {};
        json_t *e;
        size_t i;
        int r;

        if (asprintf(&idp, KEY_ALLOC_NODEID "%s/", d->name) < 0)
                return -ENOMEM;
        json_array_foreach(d->replicas, i, e) {
                int64_t id = json_get_int(e, "node-id", -1);
                if (id >= 0 && id <= (int64_t) DRBD_MAX_PEERS)
                        used[id] = true;
                had_diskful = had_diskful || !json_get_bool(e, "diskless", false);
        }
        if ((r = store_range(s->store, idp, &held)) < 0)
                return service_read_failed(ret_msg, r);
        for (i = 0; i < held.n; i++) {
                unsigned id = (unsigned) strtoul(held.items[i].key + strlen(idp), NULL, 10);
                if (id <= DRBD_MAX_PEERS && held.items[i].value_len == 0)
                        held_rev[id] = held.items[i].mod_rev;
        }
        store_kv_list_done(&held);
        for (size_t k = 0; k < n_add; k++) {
                unsigned id = 0;
                while (id <= DRBD_MAX_PEERS && (used[id] || held_rev[id]))
                        id++;
                if (id > DRBD_MAX_PEERS) /* no fresh id left: the lowest held one */
                        for (id = 0; id <= DRBD_MAX_PEERS && used[id]; id++)
                                ;
                if (id > DRBD_MAX_PEERS)
                        return service_msgf(ret_msg, -ENOSPC, "resource '%s' already has 32 replicas", d->name);
                used[id] = true;
                if (add[k].pool && !had_diskful && (source < 0 || id < source))
                        source = id;
                /* The source's id freed and now reused: no replica is the source any more. */
                if (had_diskful && (int64_t) id == json_get_int(d->rd, "sync-source-id", -2))
                        source = -1, clear_source = true;
                _cleanup_free_ char *k_res = service_key_res(d->name, add[k].node), *k_id = NULL, *what = NULL;
                if (!k_res || asprintf(&k_id, KEY_ALLOC_NODEID "%s/%02u", d->name, id) < 0 ||
                    asprintf(&what, "%s/%s", d->name, add[k].node) < 0)
                        return -ENOMEM;
                json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:b, s:s}", "resource-definition", d->name, "node",
                                      add[k].node, "node-id", id, "diskless", add[k].pool == NULL, "tie-breaker",
                                      add[k].tiebreaker, "storage-pool", add[k].pool ? add[k].pool : "");
                /* Later steps of the transaction see it as existing. */
                if (!o || json_array_append_new(d->replicas, o) < 0 ||
                    (add[k].attach_created && json_object_set_new(o, "attach-created", json_true()) < 0))
                        return -ENOMEM;
                if ((r = service_txn_require_rev(t, k_res, 0)) < 0 || (r = service_txn_require_rev(t, k_id, held_rev[id])) < 0 ||
                    (r = service_txn_put_json(t, k_res, o)) < 0 || (r = service_txn_put(t, k_id, add[k].node)) < 0 ||
                    (r = service_txn_notify(t, "resource", what, "created")) < 0)
                        return r;
        }
        if ((source >= 0 || clear_source) && json_object_set_new(d->rd, "sync-source-id", json_integer(source)) < 0)
                return -ENOMEM;
        return 0;
}

json_t *service_replica_of(json_t *replicas, const char *node) {
        return json_array_find(replicas, "node", node);
}

static bool replica_on(json_t *replicas, const char *node) {
        return service_replica_of(replicas, node) != NULL;
}

int service_check_dialect_limits(Service *s, json_t *replicas, const char *new_node, size_t n_new, bool new_diskless,
                                char **ret_msg) {
        json_t *e;
        size_t i;
        const char *old84 = NULL;
        json_array_foreach(replicas, i, e) {
                _cleanup_free_ char *nk = service_key_node(json_get_str(e, "node", ""));
                _cleanup_(json_decrefp) json_t *n = NULL;
                if (nk && service_obj_get(s, nk, &n, NULL) >= 0 && service_node_dialect(n) == DRBD_DIALECT_84)
                        old84 = json_get_str(e, "node", "");
        }
        bool new84 = false;
        if (new_node) {
                _cleanup_free_ char *nk = service_key_node(new_node);
                _cleanup_(json_decrefp) json_t *n = NULL;
                new84 = nk && service_obj_get(s, nk, &n, NULL) >= 0 && service_node_dialect(n) == DRBD_DIALECT_84;
        }
        if ((old84 || new84) && json_array_size(replicas) + n_new > 2)
                return service_msgf(ret_msg, -EINVAL, "node '%s' runs DRBD 8.4, which supports at most 2 replicas per resource",
                            new84 ? new_node : old84);
        (void) new_diskless; /* 8.4 takes a diskless client as one of its two hosts */
        return 0;
}

/* Picks the pool for a diskful replica on node: the given one, else the
 * first of the group's pools present on the node, else the only pool. */
static int pick_pool(Service *s, json_t *rg, const char *node, const char *want, char **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *pools = NULL;
        _cleanup_free_ char *prefix = NULL;
        json_t *p, *g;
        size_t i, j;
        int r;
        if (asprintf(&prefix, KEY_POOLS "%s/", node) < 0)
                return -ENOMEM;
        if ((r = service_obj_range(s, prefix, &pools)) < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(pools, i, p) {
                const char *name = json_get_str(p, "name", "");
                if (want && streq(want, name))
                        return (*ret = strdup(name)) ? 0 : -ENOMEM;
                if (!want)
                        json_array_foreach(json_object_get(rg, "storage-pools"), j, g)
                                if (streq(json_string_value(g), name))
                                        return (*ret = strdup(name)) ? 0 : -ENOMEM;
        }
        if (want)
                return service_msgf(ret_msg, -ENOENT, "storage pool '%s' not found on node '%s'", want, node);
        if (json_array_size(pools) >= 1 && json_array_size(json_object_get(rg, "storage-pools")) == 0)
                return (*ret = strdup(json_get_str(json_array_get(pools, 0), "name", ""))) ? 0 : -ENOMEM;
        return service_msgf(ret_msg, -ENOENT, "node '%s' has no suitable storage pool; name one with --storage-pool", node);
}

static unsigned count_diskful(json_t *replicas) {
        json_t *e;
        size_t i;
        unsigned n = 0;
        json_array_foreach(replicas, i, e)
                n += !json_get_bool(e, "diskless", false);
        return n;
}

/* A diskful replica's metadata has one bitmap slot per diskful peer (DRBD 9;
 * 8.4 has one peer anyway): n diskful replicas need n - 1 peer slots. */
static int check_peer_slots(json_t *rd, const char *rd_name, unsigned diskful_after, char **ret_msg) {
        unsigned slots = service_rd_peer_slots(rd, DRBD_DIALECT_9);
        if (diskful_after <= slots + 1)
                return 0;
        return service_msgf(ret_msg, -EINVAL,
                    "'%s' cannot have %u diskful replicas: its metadata has %u peer slot(s), enough for %u "
                    "(set --peer-slots on the resource group before creating resources)",
                    rd_name, diskful_after, slots, slots + 1);
}

static uint64_t rd_requested_kib(json_t *rd);

int service_tiebreaker_to_client_step(Service *s, Txn *t, const char *rd_name, const char *node, bool attach_created,
                                      char **ret_msg) {
        _cleanup_free_ char *k = service_key_res(rd_name, node), *what = NULL;
        _cleanup_(json_decrefp) json_t *res = NULL;
        int64_t rev;
        int r;
        if (!k || asprintf(&what, "%s/%s", rd_name, node) < 0)
                return -ENOMEM;
        if ((r = service_obj_get(s, k, &res, &rev)) < 0)
                return r == -ENOENT ? r : service_read_failed(ret_msg, r);
        json_object_set_new(res, "tie-breaker", json_false());
        if (attach_created)
                json_object_set_new(res, "attach-created", json_true());
        if ((r = service_txn_require_rev(t, k, rev)) < 0 || (r = service_txn_put_json(t, k, res)) < 0 ||
            (r = service_txn_notify(t, "resource", what, "modified")) < 0)
                return r;
        return 0;
}

typedef struct ResourceChange {
        const char *rd, *node, *want_pool;
        bool diskless, explicit, attach_created;
} ResourceChange;

static int tiebreaker_to_client_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const ResourceChange *c = userdata;
        int r = service_tiebreaker_to_client_step(s, t, c->rd, c->node, c->attach_created, ret_msg);
        return r < 0 ? r : TXN_COMMIT;
}

int service_tiebreaker_to_client(Service *s, const char *rd_name, const char *node, bool attach_created, char **ret_msg) {
        ResourceChange c = { .rd = rd_name, .node = node, .attach_created = attach_created };
        return service_txn_run(s, tiebreaker_to_client_build, &c, ret_msg, "'%s'", rd_name);
}

int service_resource_create_step(Service *s, Txn *t, RdDraft *d, const char *node, const char *want_pool, bool diskless,
                                 char **ret_msg) {
        _cleanup_(json_decrefp) json_t *rg = NULL, *n = NULL;
        _cleanup_free_ char *pool = NULL;
        int r;
        if ((r = service_node_load(s, node, &n, NULL, ret_msg)) < 0)
                return r;
        json_t *have = service_replica_of(d->replicas, node);
        if (have)
                return service_msgf(ret_msg, -EEXIST, "'%s' already has a replica on node '%s'%s", d->name, node,
                            json_get_bool(have, "diskless", false) && !diskless
                                    ? " (diskless: make it diskful with 'drbdctl resource toggle-disk')"
                                    : "");
        if ((r = service_check_dialect_limits(s, d->replicas, node, 1, diskless, ret_msg)) < 0)
                return r;
        if (!diskless && (r = check_peer_slots(d->rd, d->name, count_diskful(d->replicas) + 1, ret_msg)) < 0)
                return r;
        if (!diskless) {
                if ((r = rg_load(s, json_get_str(d->rd, "resource-group", DEFAULT_RG), &rg, NULL, ret_msg)) < 0 ||
                    (r = pick_pool(s, rg, node, want_pool, &pool, ret_msg)) < 0)
                        return r;
                /* capacity: all volumes on the new pool */
                _cleanup_(json_decrefp) json_t *one = json_pack("[{s:s, s:s}]", "node", node, "storage-pool", pool);
                if ((r = check_capacity(s, d->rd, one, rd_requested_kib(d->rd), ret_msg)) < 0)
                        return r;
        }
        NewReplica add = { .node = node, .pool = pool };
        return service_replicas_add_step(s, t, d, &add, 1, ret_msg);
}

static int resource_create_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const ResourceChange *c = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        int r;
        if ((r = service_rd_draft_load(s, t, c->rd, &d, ret_msg)) < 0)
                return r;
        json_t *have = service_replica_of(d.replicas, c->node);
        if (have && json_get_bool(have, "tie-breaker", false)) {
                /* A client where the tie-breaker is: it becomes that client, in a
                 * transaction of its own. A diskful replica: it becomes that replica. */
                if (c->diskless) {
                        r = service_tiebreaker_to_client_step(s, t, c->rd, c->node, false, ret_msg);
                        return r == -ENOENT ? -EAGAIN : r < 0 ? r : TXN_COMMIT;
                }
                _cleanup_(json_decrefp) json_t *o = c->want_pool ? json_pack("{s:s}", "storage-pool", c->want_pool)
                                                                 : json_pack("{s:b}", "diskless", 0);
                if (!o)
                        return -ENOMEM;
                r = service_resource_toggle_disk(s, c->rd, c->node, o, ret_msg);
                return r < 0 ? r : TXN_NOTHING;
        }
        if ((r = service_resource_create_step(s, t, &d, c->node, c->want_pool, c->diskless, ret_msg)) < 0 ||
            (r = service_rd_draft_put(t, &d)) < 0)
                return r;
        return TXN_COMMIT;
}

int service_resource_create(Service *s, const char *rd_name, const char *node, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "diskless", "storage-pool", NULL };
        ResourceChange c = { .rd = rd_name, .node = node };
        int r;

        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0 || (r = service_check_name(NAME_NODE, node, ret_msg)) < 0 ||
            (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 || (r = service_opt_bool(options, "diskless", &c.diskless, ret_msg)) < 0 ||
            (r = service_opt_string(options, "storage-pool", &c.want_pool, ret_msg)) < 0 ||
            (c.want_pool && (r = service_check_name(NAME_POOL, c.want_pool, ret_msg)) < 0))
                return r;
        if (c.diskless && c.want_pool)
                return service_msgf(ret_msg, -EINVAL, "a diskless replica takes no storage pool");
        return service_txn_run(s, resource_create_build, &c, ret_msg, "'%s'", rd_name);
}

int service_replica_delete_ops(Txn *t, const char *rd_name, json_t *res, int64_t res_rev) {
        _cleanup_free_ char *k = service_key_res(rd_name, json_get_str(res, "node", ""));
        char idk[160];
        int r;
        if (!k)
                return -ENOMEM;
        snprintf(idk, sizeof idk, KEY_ALLOC_NODEID "%s/%02d", rd_name, (int) json_get_int(res, "node-id", 0));
        /* The node-id stays held (see service_replicas_commit). */
        if ((r = service_txn_require_rev(t, k, res_rev)) < 0 || (r = service_txn_delete(t, k)) < 0 || (r = service_txn_put(t, idk, "")) < 0)
                return r;
        return 0;
}

static int resource_delete_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const ResourceChange *c = userdata;
        _cleanup_free_ char *k = service_key_res(c->rd, c->node), *k_rd = service_key_rd(c->rd), *what = NULL;
        _cleanup_(json_decrefp) json_t *res = NULL, *rd = NULL;
        int64_t rev, rd_rev;
        int r;
        if (!k || !k_rd || asprintf(&what, "%s/%s", c->rd, c->node) < 0)
                return -ENOMEM;
        if ((r = service_rd_load(s, c->rd, &rd, &rd_rev, ret_msg)) < 0)
                return r;
        r = service_obj_get(s, k, &res, &rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "'%s' has no replica on node '%s'", c->rd, c->node);
        if (r < 0)
                return service_read_failed(ret_msg, r);
        /* A host uses the volume through it: only its detach removes it. */
        if (service_rd_attached(rd, c->node))
                return service_msgf(ret_msg, -EBUSY, "'%s' is attached on node '%s'; detach it first "
                            "(drbdctl resource detach %s %s)", c->rd, c->node, c->node, c->rd);
        /* Guarded by rd's revision too: an attach commits through rd. */
        if ((r = service_txn_require_rev(t, k_rd, rd_rev)) < 0 || (r = service_replica_delete_ops(t, c->rd, res, rev)) < 0 ||
            (r = service_txn_notify(t, "resource", what, "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_resource_delete(Service *s, const char *rd_name, const char *node, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0 || (r = service_check_name(NAME_NODE, node, ret_msg)) < 0)
                return r;
        return service_txn_run(s, resource_delete_build, &(ResourceChange){.rd = rd_name, .node = node}, ret_msg,
                               "'%s'", rd_name);
}

static int toggle_disk_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const ResourceChange *c = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        _cleanup_(json_decrefp) json_t *rg = NULL, *res = NULL;
        _cleanup_free_ char *pool = NULL, *k = service_key_res(c->rd, c->node), *what = NULL;
        int64_t res_rev;
        int r;
        if (!k || asprintf(&what, "%s/%s", c->rd, c->node) < 0)
                return -ENOMEM;
        if ((r = service_rd_draft_load(s, t, c->rd, &d, ret_msg)) < 0)
                return r;
        r = service_obj_get(s, k, &res, &res_rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "'%s' has no replica on node '%s'", c->rd, c->node);
        if (r < 0)
                return service_read_failed(ret_msg, r);
        bool is_diskless = json_get_bool(res, "diskless", false);
        bool want_diskless = c->explicit ? c->diskless : !is_diskless;
        if (want_diskless == is_diskless) {
                if (!c->want_pool || streq(c->want_pool, json_get_str(res, "storage-pool", "")))
                        return TXN_NOTHING; /* already so */
                return service_msgf(ret_msg, -EINVAL, "the replica of '%s' on '%s' is in pool '%s'; moving it to "
                            "another pool is not supported", c->rd, c->node, json_get_str(res, "storage-pool", ""));
        }
        json_t *e;
        size_t i;
        json_array_foreach(d.replicas, i, e) {
                _cleanup_free_ char *nk = service_key_node(json_get_str(e, "node", ""));
                _cleanup_(json_decrefp) json_t *n = NULL;
                if (nk && service_obj_get(s, nk, &n, NULL) >= 0 && service_node_dialect(n) == DRBD_DIALECT_84)
                        return service_msgf(ret_msg, -EINVAL, "'%s' has a replica on '%s', which runs DRBD 8.4: "
                                    "toggle-disk needs DRBD 9 on every node", c->rd, json_get_str(e, "node", ""));
        }
        if (want_diskless) {
                if (count_diskful(d.replicas) <= 1)
                        return service_msgf(ret_msg, -EINVAL, "the replica on '%s' is the only diskful one of '%s': "
                                    "its data would be gone", c->node, c->rd);
                json_object_set_new(res, "diskless", json_true());
                json_object_set_new(res, "storage-pool", json_string(""));
        } else {
                if ((r = check_peer_slots(d.rd, c->rd, count_diskful(d.replicas) + 1, ret_msg)) < 0 ||
                    (r = rg_load(s, json_get_str(d.rd, "resource-group", DEFAULT_RG), &rg, NULL, ret_msg)) < 0 ||
                    (r = pick_pool(s, rg, c->node, c->want_pool, &pool, ret_msg)) < 0)
                        return r;
                _cleanup_(json_decrefp) json_t *one = json_pack("[{s:s, s:s}]", "node", c->node, "storage-pool", pool);
                if ((r = check_capacity(s, d.rd, one, rd_requested_kib(d.rd), ret_msg)) < 0)
                        return r;
                json_object_set_new(res, "diskless", json_false());
                json_object_set_new(res, "storage-pool", json_string(pool));
        }
        json_object_set_new(res, "tie-breaker", json_false());
        /* rd is rewritten unchanged: its revision moves, so two toggles of one
         * resource at once conflict (neither can leave it without a diskful replica). */
        _cleanup_free_ char *rk = service_key_rd(c->rd);
        if (!rk)
                return -ENOMEM;
        if ((r = service_txn_put_json(t, rk, d.rd)) < 0 || (r = service_txn_require_rev(t, k, res_rev)) < 0 ||
            (r = service_txn_put_json(t, k, res)) < 0 || (r = service_txn_notify(t, "resource", what, "modified")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_resource_toggle_disk(Service *s, const char *rd_name, const char *node, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "diskless", "storage-pool", NULL };
        ResourceChange c = { .rd = rd_name, .node = node };
        int r;

        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0 || (r = service_check_name(NAME_NODE, node, ret_msg)) < 0 ||
            (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_bool(options, "diskless", &c.diskless, ret_msg)) < 0 ||
            (r = service_opt_string(options, "storage-pool", &c.want_pool, ret_msg)) < 0 ||
            (c.want_pool && (r = service_check_name(NAME_POOL, c.want_pool, ret_msg)) < 0))
                return r;
        if (c.diskless && c.want_pool)
                return service_msgf(ret_msg, -EINVAL, "a diskless replica takes no storage pool");
        c.explicit = json_object_get(options, "diskless") || c.want_pool;
        return service_txn_run(s, toggle_disk_build, &c, ret_msg, "'%s'", rd_name);
}

/* ---- autoplace ------------------------------------------------------------ */

static uint64_t rd_requested_kib(json_t *rd) {
        json_t *v;
        size_t i;
        uint64_t t = 0;
        json_array_foreach(json_object_get(rd, "volumes"), i, v)
                t += (uint64_t) json_get_int(v, "size-kib", 0);
        return t;
}

static uint64_t rd_backing_kib(json_t *rd, unsigned slots, uint64_t extent) {
        json_t *v;
        size_t i;
        uint64_t t = 0;
        json_array_foreach(json_object_get(rd, "volumes"), i, v) {
                Sizing z;
                if (sizing_compute((uint64_t) json_get_int(v, "size-kib", 0), slots, extent, &z) >= 0)
                        t += z.backing_kib;
        }
        return t;
}

static bool pool_allowed(json_t *rg, const char *pool) {
        json_t *g;
        size_t i;
        json_t *list = json_object_get(rg, "storage-pools");
        if (json_array_size(list) == 0)
                return true;
        json_array_foreach(list, i, g)
                if (streq(json_string_value(g), pool))
                        return true;
        return false;
}

static bool name_in(json_t *names, const char *name) {
        json_t *e;
        size_t i;
        json_array_foreach(names, i, e)
                if (streq(json_string_value(e), name))
                        return true;
        return false;
}

int service_autoplace_step(Service *s, Txn *t, RdDraft *d, json_t *options, json_t *excluded, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *rg = NULL, *nodes = NULL, *pools = NULL, *fixed = json_array(), *used_all = NULL;
        json_t *rd = d->rd, *replicas = d->replicas;
        const char *rd_name = d->name;
        _cleanup_free_ PlaceCandidate *cands = NULL;
        _cleanup_free_ size_t *chosen = NULL;
        _cleanup_free_ NewReplica *add = NULL;
        size_t n_cands = 0, n_add = 0, i, j;
        unsigned diskful = 0, diskless = 0;
        bool any84 = false;
        json_t *e, *p;
        int r;

        if (!fixed)
                return -ENOMEM;
        if ((r = rg_load(s, json_get_str(rd, "resource-group", DEFAULT_RG), &rg, NULL, ret_msg)) < 0)
                return r;
        uint64_t count = (uint64_t) json_get_int(rg, "place-count", 2);
        if ((r = service_opt_uint(options, "place-count", 1, 16, &count, ret_msg)) < 0)
                return r;
        if (json_array_size(json_object_get(rd, "volumes")) == 0)
                return service_msgf(ret_msg, -EINVAL, "'%s' has no volumes yet; add one with 'drbdctl vd c %s SIZE'",
                            rd_name, rd_name);
        if ((r = service_obj_range(s, KEY_NODES, &nodes)) < 0 || (r = service_obj_range(s, KEY_POOLS, &pools)) < 0 ||
            (r = service_pools_used_kib(s, nodes, pools, &used_all)) < 0)
                return service_read_failed(ret_msg, r);

        json_array_foreach(replicas, i, e) {
                if (name_in(excluded, json_get_str(e, "node", "")))
                        continue; /* on a lost node: does not count */
                if (json_get_bool(e, "diskless", false)) {
                        diskless++;
                        continue;
                }
                diskful++;
                json_array_foreach(nodes, j, p)
                        if (streq(json_get_str(p, "name", ""), json_get_str(e, "node", "")))
                                json_array_append(fixed, json_object_get(p, "properties"));
        }
        json_array_foreach(nodes, j, p)
                if (replica_on(replicas, json_get_str(p, "name", "")) && service_node_dialect(p) == DRBD_DIALECT_84)
                        any84 = true;

        unsigned need = count > diskful ? (unsigned) count - diskful : 0;
        /* Replicas on lost nodes stay defined and keep their slots. */
        if (need && (r = check_peer_slots(rd, rd_name, count_diskful(replicas) + need, ret_msg)) < 0)
                return r;
        if (!(cands = calloc(json_array_size(pools) + 1, sizeof *cands)) || !(chosen = calloc(need + 1, sizeof *chosen)) ||
            !(add = calloc(json_array_size(nodes) + 1, sizeof *add)))
                return -ENOMEM;
        json_array_foreach(pools, i, p) {
                const char *node = json_get_str(p, "node", ""), *pool = json_get_str(p, "name", "");
                json_t *n = NULL;
                json_array_foreach(nodes, j, e)
                        if (streq(json_get_str(e, "name", ""), node))
                                n = e;
                if (!n || replica_on(replicas, node) || !pool_allowed(rg, pool) || name_in(excluded, node))
                        continue;
                uint64_t cap = (uint64_t) json_get_int(p, "capacity-kib", 0),
                         used = service_pools_used_get(used_all, node, pool);
                uint64_t needed = rd_backing_kib(rd, service_rd_peer_slots(rd, service_node_dialect(n)), service_pool_extent_kib(p));
                if (cap < used + needed)
                        continue;
                cands[n_cands++] = (PlaceCandidate) { .node = node, .pool = pool,
                                                      .properties = json_object_get(n, "properties"),
                                                      .free_kib = cap - used };
        }
        r = placement_select(cands, n_cands, fixed, need, json_object_get(rg, "replicas-on-same"),
                             json_object_get(rg, "replicas-on-different"), chosen);
        if (r == -ENOSPC) {
                char need_s[32];
                _cleanup_free_ char *same = json_dumps(json_object_get(rg, "replicas-on-same"), JSON_COMPACT),
                                    *diff = json_dumps(json_object_get(rg, "replicas-on-different"), JSON_COMPACT);
                return service_msgf(ret_msg, -ENOSPC,
                            "cannot place %u more replica(s) of '%s': %zu node(s) have a suitable pool with %s free"
                            " (replicas-on-same=%s, replicas-on-different=%s)",
                            need, rd_name, n_cands,
                            size_format_kib(rd_requested_kib(rd), need_s, sizeof need_s), same ? same : "[]",
                            diff ? diff : "[]");
        }
        if (r < 0)
                return r;
        for (unsigned k = 0; k < need; k++) {
                add[n_add++] = (NewReplica) { .node = cands[chosen[k]].node, .pool = cands[chosen[k]].pool };
                json_array_foreach(nodes, j, p)
                        if (streq(json_get_str(p, "name", ""), cands[chosen[k]].node) &&
                            service_node_dialect(p) == DRBD_DIALECT_84)
                                any84 = true;
        }
        if (any84 && diskful + diskless + n_add > 2)
                return service_msgf(ret_msg, -EINVAL, "'%s' involves a DRBD 8.4 node, which supports at most 2 replicas",
                            rd_name);

        /* Diskless replicas: on all remaining nodes, or one tie-breaker. */
        bool dor = json_get_bool(rg, "diskless-on-remaining", false);
        if (!any84 && (dor || (diskful + n_add == 2 && diskless == 0))) {
                json_array_foreach(nodes, j, p) {
                        const char *node = json_get_str(p, "name", "");
                        bool taken = replica_on(replicas, node);
                        for (size_t k = 0; k < n_add && !taken; k++)
                                taken = streq(add[k].node, node);
                        /* A tie-breaker only where it can vote: a live node whose kernel
                         * runs DRBD 9 (a defined node that never started has neither). */
                        if (taken || service_node_dialect(p) != DRBD_DIALECT_9 || name_in(excluded, node) ||
                            (!dor && !service_node_runs_drbd9(s, p)))
                                continue;
                        add[n_add++] = (NewReplica) { .node = node, .pool = NULL, .tiebreaker = !dor };
                        if (!dor)
                                break;
                }
        }
        if (n_add == 0)
                return 0;
        if ((r = service_replicas_add_step(s, t, d, add, n_add, ret_msg)) < 0)
                return r;
        return 1;
}

typedef struct Autoplace {
        const char *rd;
        json_t *options, *excluded;
} Autoplace;

static int autoplace_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const Autoplace *a = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        int r;
        if ((r = service_rd_draft_load(s, t, a->rd, &d, ret_msg)) < 0 ||
            (r = service_autoplace_step(s, t, &d, a->options, a->excluded, ret_msg)) <= 0)
                return r;
        if ((r = service_rd_draft_put(t, &d)) < 0)
                return r;
        return TXN_COMMIT;
}

int service_autoplace(Service *s, const char *rd_name, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "place-count", "exclude-nodes", NULL };
        json_t *excluded = NULL;
        int r;

        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_names(options, "exclude-nodes", NAME_NODE, &excluded, ret_msg)) < 0)
                return r;
        return service_txn_run(s, autoplace_build, &(Autoplace){rd_name, options, excluded}, ret_msg, "'%s'", rd_name);
}

typedef struct Spawn {
        const char *rg, *rd;
        uint64_t size_kib;
        json_t *options;
} Spawn;

/* Definition, volume and placement in one transaction: a crash or a failed
 * step leaves nothing, a commit everything. */
static int spawn_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const Spawn *c = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s}", "resource-group", c->rg);
        int r;
        if (!o)
                return -ENOMEM;
        if ((r = service_rd_create_step(s, t, c->rd, o, &d, ret_msg)) < 0 ||
            (r = service_vd_create_step(s, t, &d, c->size_kib, 0, NULL, ret_msg)) < 0 ||
            (r = service_autoplace_step(s, t, &d, c->options, NULL, ret_msg)) < 0 ||
            (r = service_rd_draft_put(t, &d)) < 0)
                return r;
        fault_point("spawn:before-commit");
        return TXN_COMMIT;
}

int service_spawn(Service *s, const char *rg, const char *rd, uint64_t size_kib, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "place-count", NULL };
        uint64_t count = 0;
        char *m = NULL;
        int r;

        if ((r = service_check_name(NAME_RESOURCE, rg, ret_msg)) < 0 || (r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 ||
            (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "place-count", 1, 16, &count, ret_msg)) < 0)
                return r;
        if (size_check_bounds(size_kib, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        if ((r = service_txn_run(s, spawn_build, &(Spawn) { rg, rd, size_kib, options }, ret_msg, "'%s'", rd)) < 0)
                return r;
        fault_point("spawn:after-commit");
        return 0;
}

typedef struct PrimaryChange {
        Service *s;
        const char *rd, *node;
} PrimaryChange;

static int primary_apply(json_t *rd, void *userdata, char **ret_msg) {
        const PrimaryChange *c = userdata;
        _cleanup_(json_decrefp) json_t *replicas = NULL;
        int r;
        if (!c->node || !*c->node) {
                json_object_del(rd, "primary");
                return 1;
        }
        if ((r = service_replicas_load(c->s, c->rd, &replicas, ret_msg)) < 0)
                return r;
        if (!replica_on(replicas, c->node))
                return service_msgf(ret_msg, -ENOENT, "'%s' has no replica on node '%s'", c->rd, c->node);
        json_object_set_new(rd, "primary", json_string(c->node));
        return 1;
}

int service_rd_set_primary(Service *s, const char *name, const char *node, char **ret_msg) {
        _cleanup_free_ char *rk = NULL, *what = NULL;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, name, ret_msg)) < 0 || (node && *node && (r = service_check_name(NAME_NODE, node, ret_msg)) < 0))
                return r;
        if (!(rk = service_key_rd(name)) || asprintf(&what, "resource definition '%s'", name) < 0)
                return -ENOMEM;
        r = service_obj_modify(s, rk, what, primary_apply, &(PrimaryChange) { s, name, node }, ret_msg);
        if (r >= 0)
                service_notify(s, "resource-definition", name, "modified");
        return r;
}
