/* Store front-end: URL dispatch to a backend, argument checks shared by all backends, release helpers. */
#include <assert.h>

#include "log.h"
#include "macro.h"
#include "store-etcd.h"
#include "store.h"

/* One line per backend; the etcd backend adds itself here. */
static const StoreOps *const backends[] = {
        &store_sqlite_ops,
        &store_etcd_ops,
};

static bool scheme_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

int store_open(const char *url, Store **ret) {
        assert(ret);

        if (!url)
                return -EINVAL;
        const char *colon = strchr(url, ':');
        if (!colon || colon == url || colon[1] == 0)
                return -EINVAL;
        size_t n = (size_t) (colon - url);
        for (size_t i = 0; i < n; i++)
                if (!scheme_char_ok(url[i]))
                        return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
                const StoreOps *ops = backends[i];
                if (strlen(ops->scheme) != n || strncmp(ops->scheme, url, n) != 0)
                        continue;

                Store *s = NULL;
                int r = ops->open(colon + 1, &s);
                if (r < 0)
                        return log_debug_errno(r, "Failed to open %s store '%s': %m", ops->scheme, colon + 1);
                assert(s && s->ops == ops);
                *ret = s;
                return 0;
        }
        return -EPROTONOSUPPORT;
}

Store *store_close(Store *s) {
        if (s)
                s->ops->close(s);
        return NULL;
}

static bool key_ok(const char *key) {
        if (!key)
                return false;
        size_t l = strnlen(key, STORE_KEY_MAX + 1);
        return l > 0 && l <= STORE_KEY_MAX;
}

int store_get(Store *s, const char *key, StoreKV *ret) {
        assert(s);
        assert(ret);
        if (!key_ok(key))
                return -EINVAL;
        return s->ops->get(s, key, ret);
}

int store_range(Store *s, const char *prefix, StoreKVList *ret) {
        assert(s);
        assert(ret);
        if (!prefix || strnlen(prefix, STORE_KEY_MAX + 1) > STORE_KEY_MAX)
                return -EINVAL;
        return s->ops->range(s, prefix, ret);
}

/* Two ops writing the same key, or one writing a key that another deletes by
 * prefix, are rejected: etcd refuses such txns, so SQLite must too. */
static bool ops_overlap(const StoreOp *a, const StoreOp *b) {
        if (a->type == STORE_OP_DELETE_PREFIX)
                return startswith(b->key, a->key);
        if (b->type == STORE_OP_DELETE_PREFIX)
                return startswith(a->key, b->key);
        return streq(a->key, b->key);
}

static int txn_validate(const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops) {
        if ((n_cmp > 0 && !cmp) || (n_ops > 0 && !ops))
                return -EINVAL;
        if (n_cmp > STORE_TXN_OPS_MAX || n_ops > STORE_TXN_OPS_MAX)
                return -E2BIG;

        for (size_t i = 0; i < n_cmp; i++) {
                if (!key_ok(cmp[i].key) || cmp[i].rev < 0)
                        return -EINVAL;
                if (cmp[i].target != STORE_CMP_MOD_REV && cmp[i].target != STORE_CMP_CREATE_REV)
                        return -EINVAL;
        }
        for (size_t i = 0; i < n_ops; i++) {
                const StoreOp *o = ops + i;
                if (!key_ok(o->key))
                        return -EINVAL;
                switch (o->type) {
                case STORE_OP_PUT:
                        if (!o->value || o->lease < 0)
                                return -EINVAL;
                        if (strnlen(o->value, STORE_VALUE_MAX + 1) > STORE_VALUE_MAX)
                                return -E2BIG;
                        break;
                case STORE_OP_DELETE:
                case STORE_OP_DELETE_PREFIX:
                        break;
                default:
                        return -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (ops_overlap(ops + j, o))
                                return -EINVAL;
        }
        return 0;
}

int store_txn(Store *s, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops, int64_t *ret_rev) {
        assert(s);
        int r = txn_validate(cmp, n_cmp, ops, n_ops);
        if (r < 0)
                return r;
        r = s->ops->txn(s, cmp, n_cmp, ops, n_ops, ret_rev);
        if (r >= 0 && n_ops)
                s->n_writes++;
        return r;
}

uint64_t store_writes(Store *s) {
        return s ? s->n_writes : 0;
}

int store_watch_open(Store *s, const char *prefix, int64_t from_rev, StoreWatch **ret) {
        assert(s);
        assert(ret);
        if (!prefix || strnlen(prefix, STORE_KEY_MAX + 1) > STORE_KEY_MAX || from_rev < 0)
                return -EINVAL;
        if (!s->ops->watch_open)
                return -EOPNOTSUPP;
        return s->ops->watch_open(s, prefix, from_rev, ret);
}

int store_watch_fd(StoreWatch *w) {
        assert(w);
        return w->ops->watch_fd(w);
}

int store_watch_read(StoreWatch *w, StoreEventList *ret) {
        assert(w);
        assert(ret);
        return w->ops->watch_read(w, ret);
}

StoreWatch *store_watch_close(StoreWatch *w) {
        if (w)
                w->ops->watch_close(w);
        return NULL;
}

int store_lease_grant(Store *s, int64_t ttl_sec, int64_t *ret_id) {
        assert(s);
        assert(ret_id);
        if (ttl_sec <= 0 || ttl_sec > STORE_LEASE_TTL_MAX)
                return -EINVAL;
        if (!s->ops->lease_grant)
                return -EOPNOTSUPP;
        return s->ops->lease_grant(s, ttl_sec, ret_id);
}

int store_lease_keepalive(Store *s, int64_t id) {
        assert(s);
        if (id <= 0)
                return -ENOENT;
        if (!s->ops->lease_keepalive)
                return -EOPNOTSUPP;
        return s->ops->lease_keepalive(s, id);
}

int store_lease_revoke(Store *s, int64_t id) {
        assert(s);
        if (id <= 0)
                return -ENOENT;
        if (!s->ops->lease_revoke)
                return -EOPNOTSUPP;
        return s->ops->lease_revoke(s, id);
}

int store_revision(Store *s, int64_t *ret) {
        assert(s);
        assert(ret);
        return s->ops->revision(s, ret);
}

void store_kv_done(StoreKV *kv) {
        if (!kv)
                return;
        free(kv->key);
        free(kv->value);
        *kv = (StoreKV) {};
}

void store_kv_list_done(StoreKVList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                store_kv_done(l->items + i);
        free(l->items);
        *l = (StoreKVList) {};
}

void store_event_list_done(StoreEventList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                store_kv_done(&l->items[i].kv);
        free(l->items);
        *l = (StoreEventList) {};
}
