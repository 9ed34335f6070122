/* The volume service core: store access, transactions, option parsing, and
 * the node, storage-pool and resource-group objects. */
#include <arpa/inet.h>
#include <stdio.h>

#include "drbdd/model/names.h"
#include "drbdd/model/size.h"
#include "drbdd/model/sizing.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "service-internal.h"
#include "utf8.h"

void service_config_defaults(ServiceConfig *c) {
        *c = (ServiceConfig) {
                .node_name = "localhost",
                .minor_min = 1000, .minor_max = 49999,
                .port_min = 7000, .port_max = 7999,
                .default_peer_slots = 7,
        };
}

int service_new(Store *store, const ServiceConfig *cfg, Service **ret) {
        Service *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->store = store;
        if (cfg)
                s->cfg = *cfg;
        else
                service_config_defaults(&s->cfg);
        s->next_minor = s->cfg.minor_min;
        s->next_port = s->cfg.port_min;
        s->now = time;
        if (!(s->since = json_object())) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

Service *service_free(Service *s) {
        if (s)
                json_decref(s->since);
        free(s);
        return NULL;
}

void service_set_clock(Service *s, time_t (*now)(time_t *)) {
        s->now = now ? now : time;
}

void service_set_change_callback(Service *s, ServiceChangeFn fn, void *userdata) {
        s->change_fn = fn;
        s->change_userdata = userdata;
}

void service_notify(Service *s, const char *kind, const char *name, const char *action) {
        if (s->change_fn)
                s->change_fn(kind, name, action, s->change_userdata);
}

int service_msgf(char **ret_msg, int error, const char *fmt, ...) {
        if (ret_msg) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(ret_msg, fmt, ap) < 0)
                        *ret_msg = NULL;
                va_end(ap);
        }
        return error;
}

int service_msg_take(char **ret_msg, int error, char *msg) {
        if (ret_msg)
                *ret_msg = msg;
        else
                free(msg);
        return error;
}

static char *keyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *keyf(const char *fmt, ...) {
        char *k;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&k, fmt, ap) < 0)
                k = NULL;
        va_end(ap);
        return k;
}

char *service_key_node(const char *node) { return keyf(KEY_NODES "%s", node); }
char *service_key_pool(const char *node, const char *pool) { return keyf(KEY_POOLS "%s/%s", node, pool); }
char *service_key_rg(const char *rg) { return keyf(KEY_RGS "%s", rg); }
char *service_key_rd(const char *rd) { return keyf(KEY_RDS "%s", rd); }
char *service_key_res(const char *rd, const char *node) { return keyf(KEY_RES "%s/%s", rd, node); }

char *service_key_under(const char *prefix, const char *a, const char *b) {
        return b ? keyf("%s%s/%s", prefix, a, b) : keyf("%s%s", prefix, a);
}

bool service_chars_ok(const char *v, const char *extra, size_t min, size_t max) {
        size_t n = v ? strlen(v) : 0;
        if (n < min || n > max)
                return false;
        for (const char *p = v; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(extra, *p)))
                        return false;
        return true;
}

json_t *service_observed_get(Service *s, const char *prefix, const char *node, const char *name) {
        _cleanup_free_ char *k = service_key_under(prefix, node, name);
        json_t *o = NULL;
        if (!k || service_obj_get(s, k, &o, NULL) < 0)
                return NULL;
        return o;
}

int service_obj_get(Service *s, const char *key, json_t **ret, int64_t *ret_rev) {
        StoreKV kv;
        int r = store_get(s->store, key, &kv);
        if (r < 0)
                return r;
        json_t *j = json_parse(kv.value, kv.value_len, NULL);
        int64_t rev = kv.mod_rev;
        store_kv_done(&kv);
        if (!json_is_object(j)) {
                json_decref(j);
                return log_error_errno(-EIO, "Corrupt object in store at '%s'", key);
        }
        *ret = j;
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

int service_obj_range(Service *s, const char *prefix, json_t **ret) {
        StoreKVList l;
        int r = store_range(s->store, prefix, &l);
        if (r < 0)
                return r;
        json_t *a = json_array();
        for (size_t i = 0; a && i < l.n; i++) {
                json_t *j = json_parse(l.items[i].value, l.items[i].value_len, NULL);
                if (!json_is_object(j)) {
                        log_warning("Skipping corrupt object in store at '%s'", l.items[i].key);
                        json_decref(j);
                        continue;
                }
                json_array_append_new(a, j);
        }
        store_kv_list_done(&l);
        if (!a)
                return -ENOMEM;
        *ret = a;
        return 0;
}

int service_check_name(int kind, const char *name, char **ret_msg) {
        char *m = NULL;
        if (name_validate((NameKind) kind, name, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        return 0;
}

int service_read_failed(char **ret_msg, int r) {
        if (r == -EHOSTUNREACH || r == -ETIMEDOUT || r == -ECONNREFUSED)
                return service_msgf(ret_msg, -EHOSTUNREACH, "cluster store unavailable");
        return service_msgf(ret_msg, r == -EBADMSG ? -EIO : r, "cannot read the cluster store: %s", strerror(-r));
}

int service_rd_load(Service *s, const char *rd, json_t **ret, int64_t *ret_rev, char **ret_msg) {
        _cleanup_free_ char *k = service_key_rd(rd);
        if (!k)
                return -ENOMEM;
        int r = service_obj_get(s, k, ret, ret_rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "resource definition '%s' not found", rd);
        return r < 0 ? service_read_failed(ret_msg, r) : 0;
}

int service_node_load(Service *s, const char *node, json_t **ret, int64_t *ret_rev, char **ret_msg) {
        _cleanup_free_ char *k = service_key_node(node);
        if (!k)
                return -ENOMEM;
        int r = service_obj_get(s, k, ret, ret_rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "node '%s' not found", node);
        return r < 0 ? service_read_failed(ret_msg, r) : 0;
}

int service_replicas_load(Service *s, const char *rd, json_t **ret, char **ret_msg) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, KEY_RES "%s/", rd) < 0)
                return -ENOMEM;
        int r = service_obj_range(s, p, ret);
        return r < 0 ? service_read_failed(ret_msg, r) : 0;
}

typedef struct ObjModify {
        const char *key, *what;
        ObjModifyFn modify;
        void *userdata;
} ObjModify;

static int obj_modify_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const ObjModify *m = userdata;
        _cleanup_(json_decrefp) json_t *obj = NULL;
        int64_t rev;
        int r = service_obj_get(s, m->key, &obj, &rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "%s not found", m->what);
        if (r < 0)
                return service_read_failed(ret_msg, r);
        if ((r = m->modify(obj, m->userdata, ret_msg)) <= 0)
                return r;
        if ((r = service_txn_require_rev(t, m->key, rev)) < 0 || (r = service_txn_put_json(t, m->key, obj)) < 0)
                return r;
        return 1;
}

int service_obj_modify(Service *s, const char *key, const char *what, ObjModifyFn modify, void *userdata, char **ret_msg) {
        return service_txn_run(s, obj_modify_build, &(ObjModify) { key, what, modify, userdata }, ret_msg, "%s", what);
}

/* ---- transactions --------------------------------------------------------- */

void service_txn_done(Txn *t) {
        for (size_t i = 0; i < t->n_owned; i++)
                free(t->owned[i]);
        free(t->owned);
        free(t->cmp);
        free(t->ops);
        free(t->notes);
        *t = (Txn) {};
}

static const char *txn_own(Txn *t, const char *str) {
        char *d = strdup(str);
        char **n = d ? realloc(t->owned, (t->n_owned + 1) * sizeof *n) : NULL;
        if (!n) {
                free(d);
                return NULL;
        }
        t->owned = n;
        t->owned[t->n_owned++] = d;
        return d;
}

int service_txn_require_rev(Txn *t, const char *key, int64_t mod_rev) {
        const char *k = txn_own(t, key);
        StoreCompare *n = k ? realloc(t->cmp, (t->n_cmp + 1) * sizeof *n) : NULL;
        if (!n)
                return -ENOMEM;
        t->cmp = n;
        t->cmp[t->n_cmp++] = (StoreCompare) { .key = k, .target = STORE_CMP_MOD_REV, .rev = mod_rev };
        return 0;
}

static int txn_add(Txn *t, StoreOpType type, const char *key, const char *value) {
        const char *k = txn_own(t, key), *v = NULL;
        if (!k || (value && !(v = txn_own(t, value))))
                return -ENOMEM;
        StoreOp *n = realloc(t->ops, (t->n_ops + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        t->ops = n;
        t->ops[t->n_ops++] = (StoreOp) { .type = type, .key = k, .value = v };
        return 0;
}

int service_txn_put(Txn *t, const char *key, const char *value) { return txn_add(t, STORE_OP_PUT, key, value); }
int service_txn_delete(Txn *t, const char *key) { return txn_add(t, STORE_OP_DELETE, key, NULL); }
int service_txn_delete_prefix(Txn *t, const char *prefix) { return txn_add(t, STORE_OP_DELETE_PREFIX, prefix, NULL); }

int service_txn_put_json(Txn *t, const char *key, json_t *value) {
        _cleanup_free_ char *text = json_dump_compact(value);
        if (!text)
                return -ENOMEM;
        return service_txn_put(t, key, text);
}

int service_txn_commit(Service *s, Txn *t, char **ret_msg) {
        int r = store_txn(s->store, t->cmp, t->n_cmp, t->ops, t->n_ops, NULL);
        if (r == -EAGAIN || r >= 0)
                return r;
        if (r == -ETIMEDOUT)
                return service_msgf(ret_msg, -EHOSTUNREACH,
                            "cluster store unavailable: no answer in time (the change may or may not have been made)");
        if (r == -EHOSTUNREACH || r == -ECONNREFUSED)
                return service_msgf(ret_msg, -EHOSTUNREACH, "cluster store unavailable: it cannot be reached; try again later");
        if (r == -ENOSPC)
                return service_msgf(ret_msg, r, "cluster store is full");
        return service_msgf(ret_msg, -EIO, "cluster store write failed: %s", strerror(-r));
}

bool service_txn_has_key(const Txn *t, const char *key) {
        for (size_t i = 0; i < t->n_cmp; i++)
                if (streq(t->cmp[i].key, key))
                        return true;
        for (size_t i = 0; i < t->n_ops; i++)
                if (streq(t->ops[i].key, key))
                        return true;
        return false;
}

int service_txn_notify(Txn *t, const char *kind, const char *name, const char *action) {
        const char *n = txn_own(t, name);
        TxnNote *a = n ? realloc(t->notes, (t->n_notes + 1) * sizeof *a) : NULL;
        if (!a)
                return -ENOMEM;
        t->notes = a;
        t->notes[t->n_notes++] = (TxnNote) { kind, n, action };
        return 0;
}

int service_txn_run(Service *s, TxnBuildFn build, void *userdata, char **ret_msg, const char *what_fmt, ...) {
        for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
                _cleanup_(service_txn_done) Txn t = {};
                int r = build(s, &t, userdata, ret_msg);
                if (r == TXN_NOTHING)
                        return 0;
                if (r >= 0)
                        r = service_txn_commit(s, &t, ret_msg);
                if (r == -EAGAIN) {
                        if (ret_msg) {
                                free(*ret_msg);
                                *ret_msg = NULL;
                        }
                        continue;
                }
                if (r < 0)
                        return r;
                for (size_t i = 0; i < t.n_notes; i++)
                        service_notify(s, t.notes[i].kind, t.notes[i].name, t.notes[i].action);
                return 0;
        }
        _cleanup_free_ char *what = NULL;
        va_list ap;
        va_start(ap, what_fmt);
        if (vasprintf(&what, what_fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what)
                return -ENOMEM;
        return service_msgf(ret_msg, -EBUSY, "%s is being changed concurrently; try again", what);
}

/* ---- options -------------------------------------------------------------- */

int service_opts_check_keys(json_t *opts, const char *const *allowed, char **ret_msg) {
        const char *key;
        json_t *v;
        if (!opts)
                return 0;
        if (!json_is_object(opts))
                return service_msgf(ret_msg, -EINVAL, "options must be a dictionary");
        json_object_foreach(opts, key, v) {
                bool ok = false;
                for (const char *const *a = allowed; *a && !ok; a++)
                        ok = streq(*a, key);
                if (!ok) {
                        _cleanup_free_ char *q = utf8_quote_untrusted(key);
                        return q ? service_msgf(ret_msg, -EINVAL, "unknown option '%s'", q) : -ENOMEM;
                }
        }
        return 0;
}

int service_opt_string(json_t *opts, const char *key, const char **ret, char **ret_msg) {
        json_t *v = json_object_get(opts, key);
        if (!v)
                return 0;
        if (!json_is_string(v))
                return service_msgf(ret_msg, -EINVAL, "option '%s' must be a string", key);
        *ret = json_string_value(v);
        return 0;
}

int service_opt_uint(json_t *opts, const char *key, uint64_t min, uint64_t max, uint64_t *ret, char **ret_msg) {
        json_t *v = json_object_get(opts, key);
        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) < min ||
            (uint64_t) json_integer_value(v) > max)
                return service_msgf(ret_msg, -EINVAL, "option '%s' must be an integer from %llu to %llu", key,
                            (unsigned long long) min, (unsigned long long) max);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

int service_opt_bool(json_t *opts, const char *key, bool *ret, char **ret_msg) {
        json_t *v = json_object_get(opts, key);
        if (!v)
                return 0;
        if (!json_is_boolean(v))
                return service_msgf(ret_msg, -EINVAL, "option '%s' must be a boolean", key);
        *ret = json_is_true(v);
        return 0;
}

int service_opt_names(json_t *opts, const char *key, int name_kind, json_t **ret, char **ret_msg) {
        json_t *v = json_object_get(opts, key), *e;
        size_t i;
        if (!v)
                return 0;
        if (!json_is_array(v) || json_array_size(v) > 64)
                return service_msgf(ret_msg, -EINVAL, "option '%s' must be a list of at most 64 names", key);
        json_array_foreach(v, i, e) {
                char *m = NULL;
                if (!json_is_string(e))
                        return service_msgf(ret_msg, -EINVAL, "option '%s' must be a list of names", key);
                if (name_validate(name_kind, json_string_value(e), &m) < 0)
                        return service_msg_take(ret_msg, -EINVAL, m);
        }
        *ret = v;
        return 0;
}

int service_opt_drbd_options(json_t *opts, const char *key, json_t **ret, char **ret_msg) {
        json_t *v = json_object_get(opts, key), *e;
        const char *k;
        if (!v)
                return 0;
        if (!json_is_object(v))
                return service_msgf(ret_msg, -EINVAL, "option '%s' must be a dictionary of DRBD options", key);
        json_object_foreach(v, k, e) {
                char *m = NULL;
                if (!json_is_string(e))
                        return service_msgf(ret_msg, -EINVAL, "DRBD option values must be strings");
                /* An empty value removes an inherited option on modify. */
                if (json_string_length(e) == 0 && drbd_option_index(k) >= 0)
                        continue;
                if (drbd_option_validate(k, json_string_value(e), &m) < 0)
                        return service_msg_take(ret_msg, -EINVAL, m);
        }
        *ret = v;
        return 0;
}

/* ---- shared derivations ---------------------------------------------------- */

DrbdDialect service_node_dialect(json_t *node) {
        return streq(json_get_str(node, "drbd-version", "9"), "8.4") ? DRBD_DIALECT_84 : DRBD_DIALECT_9;
}

bool service_node_runs_drbd9(Service *s, json_t *node) {
        const char *dialect = json_get_str(json_object_get(node, "kernel"), "dialect", "");
        _cleanup_free_ char *k = NULL;
        StoreKV kv;
        if (!streq(dialect, "9") || asprintf(&k, SERVICE_KEY_ALIVE "%s", json_get_str(node, "name", "")) < 0)
                return false;
        if (store_get(s->store, k, &kv) < 0)
                return false;
        store_kv_done(&kv);
        return true;
}

uint64_t service_pool_extent_kib(json_t *pool) {
        /* What the node's agent measured (the VG's extent size), once it reported. */
        json_int_t reported = json_get_int(pool, "extent-kib", 0);
        if (reported > 0)
                return (uint64_t) reported;
        if (streq(json_get_str(pool, "driver", ""), "file"))
                return 4;
        return 4096; /* LVM's default extent of 4 MiB: thin volumes' sizes are rounded to it too */
}

char *service_pool_volume_path(json_t *pool, const char *rd, unsigned vnr) {
        const char *d = json_get_str(pool, "driver", "");
        char *p;
        int r;
        if (streq(d, "file"))
                r = asprintf(&p, "%s/%s_%05u.img", json_get_str(pool, "directory", "/var/lib/drbdd/volumes"), rd, vnr);
        else
                r = asprintf(&p, "/dev/%s/%s_%05u", json_get_str(pool, "volume-group", "drbdpool"), rd, vnr);
        return r < 0 ? NULL : p;
}

unsigned service_rd_peer_slots(json_t *rd, DrbdDialect d) {
        if (d == DRBD_DIALECT_84)
                return 1;
        return (unsigned) json_get_int(rd, "peer-slots", 7);
}

int service_index_by(json_t *arr, const char *k1, const char *k2, json_t **ret) {
        _cleanup_(json_decrefp) json_t *m = json_object();
        json_t *e;
        size_t i;
        if (!m)
                return -ENOMEM;
        json_array_foreach(arr, i, e) {
                _cleanup_free_ char *k = NULL;
                if (asprintf(&k, "%s%s%s", json_get_str(e, k1, ""), k2 ? "/" : "", k2 ? json_get_str(e, k2, "") : "") < 0 ||
                    json_object_set(m, k, e) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

int service_pools_used_kib(Service *s, json_t *nodes, json_t *pools, json_t **ret) {
        _cleanup_(json_decrefp) json_t *res = NULL, *rds = NULL, *by_rd = NULL, *by_node = NULL, *by_pool = NULL,
                                       *used = json_object();
        json_t *e;
        size_t i;
        int k;

        if (!used)
                return -ENOMEM;
        if ((k = service_obj_range(s, KEY_RES, &res)) < 0 || (k = service_obj_range(s, KEY_RDS, &rds)) < 0)
                return k;
        if ((k = service_index_by(rds, "name", NULL, &by_rd)) < 0 ||
            (k = service_index_by(nodes, "name", NULL, &by_node)) < 0 ||
            (k = service_index_by(pools, "node", "name", &by_pool)) < 0)
                return k;
        json_array_foreach(res, i, e) {
                const char *node = json_get_str(e, "node", "");
                _cleanup_free_ char *pk = NULL;
                if (json_get_bool(e, "diskless", false))
                        continue;
                if (asprintf(&pk, "%s/%s", node, json_get_str(e, "storage-pool", "")) < 0)
                        return -ENOMEM;
                json_t *p = json_object_get(by_pool, pk), *n = json_object_get(by_node, node),
                       *rd = json_object_get(by_rd, json_get_str(e, "resource-definition", "")), *v;
                if (!p || !n || !rd)
                        continue; /* counts for no known pool */
                uint64_t sum = (uint64_t) json_get_int(used, pk, 0);
                size_t j;
                json_array_foreach(json_object_get(rd, "volumes"), j, v) {
                        Sizing z;
                        if (sizing_compute((uint64_t) json_get_int(v, "size-kib", 0), service_rd_peer_slots(rd, service_node_dialect(n)),
                                           service_pool_extent_kib(p), &z) >= 0)
                                sum += z.backing_kib;
                }
                if (json_object_set_new(used, pk, json_integer((json_int_t) sum)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(used);
        return 0;
}

uint64_t service_pools_used_get(json_t *used, const char *node, const char *pool) {
        _cleanup_free_ char *k = NULL;
        if (asprintf(&k, "%s/%s", node, pool) < 0)
                return 0;
        return (uint64_t) json_get_int(used, k, 0);
}

/* ---- nodes ---------------------------------------------------------------- */

static int validate_address(const char *a, char **ret_msg) {
        unsigned char buf[16];
        if (!a || strlen(a) > 45 || (inet_pton(AF_INET, a, buf) != 1 && inet_pton(AF_INET6, a, buf) != 1)) {
                _cleanup_free_ char *q = utf8_quote_untrusted(a);
                if (!q)
                        return -ENOMEM;
                return service_msgf(ret_msg, -EINVAL, "invalid address '%s': expected an IPv4 or IPv6 address", q);
        }
        return 0;
}

static int validate_properties(json_t *props, char **ret_msg) {
        const char *k;
        json_t *v;
        if (!props)
                return 0;
        if (!json_is_object(props) || json_object_size(props) > 64)
                return service_msgf(ret_msg, -EINVAL, "properties must be a dictionary of at most 64 strings");
        json_object_foreach(props, k, v) {
                char *m = NULL;
                if (name_validate(NAME_PROPERTY, k, &m) < 0)
                        return service_msg_take(ret_msg, -EINVAL, m);
                if (!json_is_string(v))
                        return service_msgf(ret_msg, -EINVAL, "property '%s' must be a string", k);
                if (name_property_value_validate(json_string_value(v), &m) < 0)
                        return service_msg_take(ret_msg, -EINVAL, m);
        }
        return 0;
}

typedef struct ObjCreate {
        const char *key;
        json_t *obj;
        const char *kind, *name;
        const char *what; /* "node", "resource group": "<what> '<name>' already exists" */
} ObjCreate;

/* A new object at key, which must not exist. */
static int obj_create_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const ObjCreate *c = userdata;
        StoreKV kv;
        int r;
        if (store_get(s->store, c->key, &kv) >= 0) {
                store_kv_done(&kv);
                return service_msgf(ret_msg, -EEXIST, "%s '%s' already exists", c->what, c->name);
        }
        if ((r = service_txn_require_rev(t, c->key, 0)) < 0 || (r = service_txn_put_json(t, c->key, c->obj)) < 0 ||
            (r = service_txn_notify(t, c->kind, c->name, "created")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_node_create(Service *s, const char *name, const char *address, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "properties", "drbd-version", NULL };
        const char *version = "9";
        char *m = NULL;
        int r;

        if (name_validate(NAME_NODE, name, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        if ((r = validate_address(address, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_string(options, "drbd-version", &version, ret_msg)) < 0 ||
            (r = validate_properties(json_object_get(options, "properties"), ret_msg)) < 0)
                return r;
        if (drbd_dialect_from_string(version) < 0)
                return service_msgf(ret_msg, -EINVAL, "invalid drbd-version: expected '9' or '8.4'");

        _cleanup_free_ char *key = service_key_node(name);
        json_t *props = json_object_get(options, "properties");
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "name", name, "address", address,
                                                      "drbd-version", version, "properties",
                                                      props ? json_incref(props) : json_object());
        if (!key || !o)
                return -ENOMEM;
        return service_txn_run(s, obj_create_build, &(ObjCreate) { key, o, "node", name, "node" }, ret_msg,
                       "node '%s'", name);
}


static int node_delete_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const char *name = userdata;
        _cleanup_(json_decrefp) json_t *node = NULL, *res = NULL;
        _cleanup_free_ char *key = service_key_node(name), *pools = NULL;
        int64_t rev;
        json_t *e;
        size_t i;
        int r;
        if (!key || asprintf(&pools, KEY_POOLS "%s/", name) < 0)
                return -ENOMEM;
        r = service_obj_get(s, key, &node, &rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "node '%s' not found", name);
        if (r < 0 || (r = service_obj_range(s, KEY_RES, &res)) < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(res, i, e)
                if (streq(json_get_str(e, "node", ""), name))
                        return service_msgf(ret_msg, -EBUSY, "node '%s' still holds a replica of '%s'; delete it first",
                                    name, json_get_str(e, "resource-definition", "?"));
        if ((r = service_txn_require_rev(t, key, rev)) < 0 || (r = service_txn_delete(t, key)) < 0 ||
            (r = service_txn_delete_prefix(t, pools)) < 0 || (r = service_txn_notify(t, "node", name, "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_node_delete(Service *s, const char *name, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_NODE, name, ret_msg)) < 0)
                return r;
        return service_txn_run(s, node_delete_build, (void *) name, ret_msg, "node '%s'", name);
}

typedef struct PropertyChange {
        const char *key, *value;
} PropertyChange;

static int property_apply(json_t *node, void *userdata, char **ret_msg) {
        const PropertyChange *c = userdata;
        json_t *props = json_object_get(node, "properties");
        if (!json_is_object(props)) {
                props = json_object();
                json_object_set_new(node, "properties", props);
        }
        if (c->value && *c->value)
                json_object_set_new(props, c->key, json_string(c->value));
        else
                json_object_del(props, c->key);
        return 1;
}

int service_node_set_property(Service *s, const char *name, const char *key, const char *value, char **ret_msg) {
        _cleanup_free_ char *k = NULL, *what = NULL;
        char *m = NULL;
        int r;

        if ((r = service_check_name(NAME_NODE, name, ret_msg)) < 0 || (r = service_check_name(NAME_PROPERTY, key, ret_msg)) < 0)
                return r;
        if (value && *value && name_property_value_validate(value, &m) < 0)
                return service_msg_take(ret_msg, -EINVAL, m);
        if (!(k = service_key_node(name)) || asprintf(&what, "node '%s'", name) < 0)
                return -ENOMEM;
        r = service_obj_modify(s, k, what, property_apply, &(PropertyChange) { key, value }, ret_msg);
        if (r >= 0)
                service_notify(s, "node", name, "modified");
        return r;
}

/* ---- storage pools -------------------------------------------------------- */

static bool is_safe_path(const char *p) {
        if (!p || p[0] != '/' || strlen(p) > 200 || strstr(p, ".."))
                return false;
        for (; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.+-", *p))
                        return false;
        return true;
}

typedef struct PoolChange {
        const char *node, *pool;
        json_t *obj;
} PoolChange;

static int pool_create_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const PoolChange *c = userdata;
        _cleanup_free_ char *nk = service_key_node(c->node), *pk = service_key_pool(c->node, c->pool), *nm = NULL;
        _cleanup_(json_decrefp) json_t *n = NULL;
        int64_t nrev;
        StoreKV kv;
        int r;
        if (!nk || !pk || asprintf(&nm, "%s/%s", c->node, c->pool) < 0)
                return -ENOMEM;
        if ((r = service_node_load(s, c->node, &n, &nrev, ret_msg)) < 0)
                return r;
        if (store_get(s->store, pk, &kv) >= 0) {
                store_kv_done(&kv);
                return service_msgf(ret_msg, -EEXIST, "storage pool '%s' already exists on node '%s'", c->pool, c->node);
        }
        if ((r = service_txn_require_rev(t, nk, nrev)) < 0 || (r = service_txn_require_rev(t, pk, 0)) < 0 ||
            (r = service_txn_put_json(t, pk, c->obj)) < 0 || (r = service_txn_notify(t, "storage-pool", nm, "created")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_pool_create(Service *s, const char *node, const char *pool, const char *driver, json_t *options,
                        char **ret_msg) {
        static const char *const allowed[] = { "volume-group", "thin-pool", "directory", "capacity", NULL };
        const char *vg = NULL, *thin = NULL, *dir = NULL;
        uint64_t capacity = 0;
        int r;

        if ((r = service_check_name(NAME_NODE, node, ret_msg)) < 0 || (r = service_check_name(NAME_POOL, pool, ret_msg)) < 0)
                return r;
        if (!driver || (!streq(driver, "lvm") && !streq(driver, "lvm-thin") && !streq(driver, "file")))
                return service_msgf(ret_msg, -EINVAL, "invalid storage driver: expected lvm, lvm-thin or file");
        if ((r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_string(options, "volume-group", &vg, ret_msg)) < 0 ||
            (r = service_opt_string(options, "thin-pool", &thin, ret_msg)) < 0 ||
            (r = service_opt_string(options, "directory", &dir, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "capacity", 0, SIZE_MAX_KIB * 1024 * 64, &capacity, ret_msg)) < 0)
                return r;
        if (streq(driver, "file")) {
                if (!dir || !is_safe_path(dir))
                        return service_msgf(ret_msg, -EINVAL, "file pools need option 'directory': an absolute path of "
                                                      "A-Z a-z 0-9 / _ . + - without '..'");
        } else {
                if (!vg || (r = service_check_name(NAME_POOL, vg, NULL)) < 0)
                        return service_msgf(ret_msg, -EINVAL, "%s pools need option 'volume-group' (a valid LVM name)", driver);
                if (streq(driver, "lvm-thin") && (!thin || service_check_name(NAME_POOL, thin, NULL) < 0))
                        return service_msgf(ret_msg, -EINVAL, "lvm-thin pools need option 'thin-pool' (a valid LVM name)");
        }

        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "node", node, "name", pool, "driver",
                                                      driver, "capacity-kib", (json_int_t) (capacity / 1024));
        if (!o)
                return -ENOMEM;
        if (vg)
                json_object_set_new(o, "volume-group", json_string(vg));
        if (thin)
                json_object_set_new(o, "thin-pool", json_string(thin));
        if (dir)
                json_object_set_new(o, "directory", json_string(dir));
        return service_txn_run(s, pool_create_build, &(PoolChange) { node, pool, o }, ret_msg, "node '%s'", node);
}

static int pool_delete_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const PoolChange *c = userdata;
        _cleanup_(json_decrefp) json_t *res = NULL, *p = NULL;
        _cleanup_free_ char *pk = service_key_pool(c->node, c->pool), *nm = NULL;
        int64_t rev;
        json_t *e;
        size_t i;
        int r;
        if (!pk || asprintf(&nm, "%s/%s", c->node, c->pool) < 0)
                return -ENOMEM;
        r = service_obj_get(s, pk, &p, &rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "storage pool '%s' not found on node '%s'", c->pool, c->node);
        if (r < 0 || (r = service_obj_range(s, KEY_RES, &res)) < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(res, i, e)
                if (streq(json_get_str(e, "node", ""), c->node) && streq(json_get_str(e, "storage-pool", ""), c->pool))
                        return service_msgf(ret_msg, -EBUSY, "storage pool '%s' on '%s' still holds '%s'", c->pool, c->node,
                                    json_get_str(e, "resource-definition", "?"));
        if ((r = service_txn_require_rev(t, pk, rev)) < 0 || (r = service_txn_delete(t, pk)) < 0 ||
            (r = service_txn_notify(t, "storage-pool", nm, "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_pool_delete(Service *s, const char *node, const char *pool, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_NODE, node, ret_msg)) < 0 || (r = service_check_name(NAME_POOL, pool, ret_msg)) < 0)
                return r;
        return service_txn_run(s, pool_delete_build, &(PoolChange){node, pool, NULL}, ret_msg, "storage pool '%s'",
                               pool);
}

/* ---- resource groups ------------------------------------------------------ */

/* Applies options onto rg (which may already hold values). */
static int rg_apply(json_t *rg, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "place-count", "storage-pools", "replicas-on-same",
                                               "replicas-on-different", "diskless-on-remaining",
                                               "drbd-options", "peer-slots", "auto-diskful",
                                               "auto-diskful-allow-cleanup", "remove-orphans", NULL };
        uint64_t count = (uint64_t) json_get_int(rg, "place-count", 2);
        uint64_t auto_diskful = (uint64_t) json_get_int(rg, "auto-diskful", 0);
        bool cleanup = json_get_bool(rg, "auto-diskful-allow-cleanup", true);
        bool orphans = json_get_bool(rg, "remove-orphans", false);
        uint64_t slots = (uint64_t) json_get_int(rg, "peer-slots", 7);
        bool dor = json_get_bool(rg, "diskless-on-remaining", false);
        json_t *pools = NULL, *same = NULL, *diff = NULL, *drbd = NULL;
        int r;

        if ((r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "place-count", 1, 16, &count, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "peer-slots", 1, DRBD_MAX_PEERS, &slots, ret_msg)) < 0 ||
            (r = service_opt_bool(options, "diskless-on-remaining", &dor, ret_msg)) < 0 ||
            (r = service_opt_names(options, "storage-pools", NAME_POOL, &pools, ret_msg)) < 0 ||
            (r = service_opt_names(options, "replicas-on-same", NAME_PROPERTY, &same, ret_msg)) < 0 ||
            (r = service_opt_names(options, "replicas-on-different", NAME_PROPERTY, &diff, ret_msg)) < 0 ||
            (r = service_opt_drbd_options(options, "drbd-options", &drbd, ret_msg)) < 0 ||
            (r = service_opt_uint(options, "auto-diskful", 0, 525600, &auto_diskful, ret_msg)) < 0 ||
            (r = service_opt_bool(options, "auto-diskful-allow-cleanup", &cleanup, ret_msg)) < 0 ||
            (r = service_opt_bool(options, "remove-orphans", &orphans, ret_msg)) < 0)
                return r;
        if (slots < count - 1)
                return service_msgf(ret_msg, -EINVAL, "peer-slots (%llu) must be at least place-count - 1 (%llu)",
                            (unsigned long long) slots, (unsigned long long) (count - 1));
        json_object_set_new(rg, "place-count", json_integer((json_int_t) count));
        json_object_set_new(rg, "peer-slots", json_integer((json_int_t) slots));
        json_object_set_new(rg, "diskless-on-remaining", json_boolean(dor));
        json_object_set_new(rg, "auto-diskful", json_integer((json_int_t) auto_diskful));
        json_object_set_new(rg, "auto-diskful-allow-cleanup", json_boolean(cleanup));
        json_object_set_new(rg, "remove-orphans", json_boolean(orphans));
        if (pools)
                json_object_set(rg, "storage-pools", pools);
        if (same)
                json_object_set(rg, "replicas-on-same", same);
        if (diff)
                json_object_set(rg, "replicas-on-different", diff);
        if (drbd) {
                json_t *cur = json_object_get(rg, "drbd-options"), *v;
                const char *k;
                if (!json_is_object(cur)) {
                        cur = json_object();
                        json_object_set_new(rg, "drbd-options", cur);
                }
                json_object_foreach(drbd, k, v) {
                        if (json_string_length(v) == 0)
                                json_object_del(cur, k);
                        else
                                json_object_set(cur, k, v);
                }
        }
        for (const char *const *k = (const char *const[]) { "storage-pools", "replicas-on-same",
                                                             "replicas-on-different", NULL };
             *k; k++)
                if (!json_object_get(rg, *k))
                        json_object_set_new(rg, *k, json_array());
        if (!json_object_get(rg, "drbd-options"))
                json_object_set_new(rg, "drbd-options", json_object());
        return 0;
}

int service_rg_create(Service *s, const char *name, json_t *options, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *rg = NULL;
        _cleanup_free_ char *k = NULL;
        int r;

        if ((r = service_check_name(NAME_RESOURCE, name, ret_msg)) < 0)
                return r;
        if (!(rg = json_pack("{s:s}", "name", name)) || !(k = service_key_rg(name)))
                return -ENOMEM;
        if ((r = rg_apply(rg, options, ret_msg)) < 0)
                return r;
        return service_txn_run(s, obj_create_build,
                       &(ObjCreate) { k, rg, "resource-group", name, "resource group" }, ret_msg,
                       "resource group '%s'", name);
}

typedef struct RgChange {
        const char *name;
        json_t *options;
} RgChange;

static int rg_modify_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const RgChange *c = userdata;
        _cleanup_(json_decrefp) json_t *rg = NULL;
        _cleanup_free_ char *k = service_key_rg(c->name);
        int64_t rev;
        int r;
        if (!k)
                return -ENOMEM;
        r = service_obj_get(s, k, &rg, &rev);
        if (r == -ENOENT && streq(c->name, DEFAULT_RG)) {
                if (!(rg = json_pack("{s:s}", "name", c->name)))
                        return -ENOMEM;
                rev = 0;
        } else if (r == -ENOENT)
                return service_msgf(ret_msg, r, "resource group '%s' not found", c->name);
        else if (r < 0)
                return service_read_failed(ret_msg, r);
        if ((r = rg_apply(rg, c->options, ret_msg)) < 0)
                return r;
        if ((r = service_txn_require_rev(t, k, rev)) < 0 || (r = service_txn_put_json(t, k, rg)) < 0 ||
            (r = service_txn_notify(t, "resource-group", c->name, "modified")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_rg_modify(Service *s, const char *name, json_t *options, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_RESOURCE, name, ret_msg)) < 0)
                return r;
        return service_txn_run(s, rg_modify_build, &(RgChange) { name, options }, ret_msg, "resource group '%s'", name);
}

static int rg_delete_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const RgChange *c = userdata;
        _cleanup_(json_decrefp) json_t *rg = NULL, *rds = NULL;
        _cleanup_free_ char *k = service_key_rg(c->name);
        int64_t rev;
        json_t *e;
        size_t i;
        int r;
        if (!k)
                return -ENOMEM;
        r = service_obj_get(s, k, &rg, &rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "resource group '%s' not found", c->name);
        if (r < 0 || (r = service_obj_range(s, KEY_RDS, &rds)) < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(rds, i, e)
                if (streq(json_get_str(e, "resource-group", ""), c->name))
                        return service_msgf(ret_msg, -EBUSY, "resource group '%s' is used by '%s'", c->name,
                                    json_get_str(e, "name", "?"));
        if ((r = service_txn_require_rev(t, k, rev)) < 0 || (r = service_txn_delete(t, k)) < 0 ||
            (r = service_txn_notify(t, "resource-group", c->name, "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_rg_delete(Service *s, const char *name, char **ret_msg) {
        int r;
        if ((r = service_check_name(NAME_RESOURCE, name, ret_msg)) < 0)
                return r;
        return service_txn_run(s, rg_delete_build, &(RgChange) { name, NULL }, ret_msg, "resource group '%s'", name);
}

static int kernel_apply(json_t *node, void *userdata, char **ret_msg) {
        json_t *info = userdata;
        const char *dialect = json_get_str(info, "dialect", NULL);
        json_t *old = json_object_get(node, "kernel");
        if (old && json_equal(old, info) && dialect && streq(json_get_str(node, "drbd-version", ""), dialect))
                return 0;
        json_object_set(node, "kernel", info);
        if (dialect && drbd_dialect_from_string(dialect) >= 0)
                json_object_set_new(node, "drbd-version", json_string(dialect));
        return 1;
}

int service_node_report_kernel(Service *s, const char *name, json_t *info, char **ret_msg) {
        _cleanup_free_ char *k = service_key_node(name), *what = NULL;
        if (!k || asprintf(&what, "node '%s'", name) < 0)
                return -ENOMEM;
        int r = service_obj_modify(s, k, what, kernel_apply, info, ret_msg);
        if (r > 0)
                r = 0;
        return r;
}

typedef struct Capacity {
        uint64_t total, free, extent;
} Capacity;

static int capacity_apply(json_t *p, void *userdata, char **ret_msg) {
        const Capacity *c = userdata;
        if ((uint64_t) json_get_int(p, "capacity-kib", -1) == c->total &&
            (uint64_t) json_get_int(p, "reported-free-kib", -1) == c->free &&
            (!c->extent || (uint64_t) json_get_int(p, "extent-kib", -1) == c->extent))
                return 0;
        json_object_set_new(p, "capacity-kib", json_integer((json_int_t) c->total));
        json_object_set_new(p, "reported-free-kib", json_integer((json_int_t) c->free));
        if (c->extent)
                json_object_set_new(p, "extent-kib", json_integer((json_int_t) c->extent));
        return 1;
}

int service_pool_report(Service *s, const char *node, const char *pool, uint64_t total_kib, uint64_t free_kib,
                        uint64_t extent_kib, char **ret_msg) {
        _cleanup_free_ char *k = service_key_pool(node, pool), *what = NULL;
        if (!k || asprintf(&what, "storage pool '%s' on '%s'", pool, node) < 0)
                return -ENOMEM;
        return service_obj_modify(s, k, what, capacity_apply, &(Capacity) { total_kib, free_kib, extent_kib }, ret_msg);
}
