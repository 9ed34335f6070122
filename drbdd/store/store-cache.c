/* Read-through cache over a remote store for last-known state in outages. */
#include <pthread.h>
#include <stdio.h>

#include "log.h"
#include "macro.h"
#include "store-cache.h"

/* What was read; shared by the handles made with store_cache_new_shared()
 * (drbdd's API workers, each on a store handle of its own, answer from one
 * last-known state). */
typedef struct CacheData {
        pthread_mutex_t lock; /* guards all below */
        unsigned n_ref;
        StoreKVList data;   /* sorted copy of everything read, by key; value NULL:
                             * the key was read as absent */
        char **prefixes;    /* prefixes read completely at least once */
        size_t n_prefixes;
} CacheData;

typedef struct CacheStore {
        Store base;
        Store *inner;
        CacheData *d;
        uint64_t n_stale;   /* reads answered from the cache, ever */
} CacheStore;

static const StoreOps cache_ops;

static bool unreachable(int r) {
        return r == -EHOSTUNREACH || r == -ETIMEDOUT || r == -ECONNREFUSED;
}

/* Copies src, or records key as absent when src is NULL. */
static int kv_copy(const StoreKV *src, const char *key, StoreKV *dst) {
        if (!src) {
                *dst = (StoreKV) { .key = strdup(key) };
                return dst->key ? 0 : -ENOMEM;
        }
        *dst = *src;
        dst->key = strdup(src->key);
        if (!src->value) {
                dst->value = NULL;
                return dst->key ? 0 : -ENOMEM;
        }
        dst->value = malloc(src->value_len + 1);
        if (!dst->key || !dst->value) {
                free(dst->key);
                free(dst->value);
                return -ENOMEM;
        }
        memcpy(dst->value, src->value, src->value_len);
        dst->value[src->value_len] = 0;
        return 0;
}

static size_t find(CacheData *c, const char *key, bool *found) {
        size_t lo = 0, hi = c->data.n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int k = strcmp(c->data.items[mid].key, key);
                if (k == 0) {
                        *found = true;
                        return mid;
                }
                if (k < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

/* Remembers kv, or key as absent when kv is NULL. */
static void cache_put(CacheData *c, const StoreKV *kv, const char *key) {
        bool found;
        size_t i = find(c, kv ? kv->key : key, &found);
        StoreKV copy;
        if (kv_copy(kv, key, &copy) < 0)
                return;
        if (found) {
                store_kv_done(&c->data.items[i]);
                c->data.items[i] = copy;
                return;
        }
        StoreKV *n = realloc(c->data.items, (c->data.n + 1) * sizeof *n);
        if (!n) {
                store_kv_done(&copy);
                return;
        }
        c->data.items = n;
        memmove(&n[i + 1], &n[i], (c->data.n - i) * sizeof *n);
        n[i] = copy;
        c->data.n++;
}

static void cache_drop_prefix(CacheData *c, const char *prefix) {
        size_t l = strlen(prefix), w = 0;
        for (size_t i = 0; i < c->data.n; i++) {
                if (strncmp(c->data.items[i].key, prefix, l) == 0)
                        store_kv_done(&c->data.items[i]);
                else
                        c->data.items[w++] = c->data.items[i];
        }
        c->data.n = w;
}

static bool prefix_known(CacheData *c, const char *key) {
        for (size_t i = 0; i < c->n_prefixes; i++)
                if (startswith(key, c->prefixes[i]))
                        return true;
        return false;
}

static int cache_get(Store *s, const char *key, StoreKV *ret) {
        CacheStore *c = (CacheStore *) s;
        CacheData *d = c->d;
        int r = store_get(c->inner, key, ret);
        if (r >= 0 || r == -ENOENT) {
                /* An absent key is remembered too: in an outage it reads as
                 * absent (a replica never reported stays "planned") rather
                 * than failing the whole read. */
                pthread_mutex_lock(&d->lock);
                cache_put(d, r >= 0 ? ret : NULL, key);
                pthread_mutex_unlock(&d->lock);
                return r;
        }
        if (!unreachable(r))
                return r;
        bool found;
        pthread_mutex_lock(&d->lock);
        size_t i = find(d, key, &found);
        if (found && d->data.items[i].value)
                r = kv_copy(&d->data.items[i], NULL, ret);
        else if (found || prefix_known(d, key))
                r = -ENOENT;
        pthread_mutex_unlock(&d->lock);
        if (r >= 0 || r == -ENOENT)
                c->n_stale++;
        return r;
}

static int cache_range(Store *s, const char *prefix, StoreKVList *ret) {
        CacheStore *c = (CacheStore *) s;
        CacheData *d = c->d;
        int r = store_range(c->inner, prefix, ret);
        if (r >= 0) {
                pthread_mutex_lock(&d->lock);
                cache_drop_prefix(d, prefix);
                for (size_t i = 0; i < ret->n; i++)
                        cache_put(d, &ret->items[i], NULL);
                if (!prefix_known(d, prefix)) {
                        char **n = realloc(d->prefixes, (d->n_prefixes + 1) * sizeof *n);
                        if (n && (n[d->n_prefixes] = strdup(prefix))) {
                                d->prefixes = n;
                                d->n_prefixes++;
                        } else if (n)
                                d->prefixes = n;
                }
                pthread_mutex_unlock(&d->lock);
                return r;
        }
        if (!unreachable(r))
                return r;
        pthread_mutex_lock(&d->lock);
        if (!prefix_known(d, prefix)) {
                pthread_mutex_unlock(&d->lock);
                return r;
        }
        *ret = (StoreKVList) { .revision = d->data.revision };
        size_t l = strlen(prefix);
        bool found;
        r = 0;
        /* Sorted: the prefix's keys are one run starting where it would be. */
        for (size_t i = find(d, prefix, &found); i < d->data.n && r >= 0; i++) {
                if (strncmp(d->data.items[i].key, prefix, l) != 0)
                        break;
                if (!d->data.items[i].value)
                        continue; /* read as absent */
                StoreKV *n = realloc(ret->items, (ret->n + 1) * sizeof *n);
                if (!n || kv_copy(&d->data.items[i], NULL, &n[ret->n]) < 0) {
                        if (n)
                                ret->items = n;
                        store_kv_list_done(ret);
                        r = -ENOMEM;
                        break;
                }
                ret->items = n;
                ret->n++;
        }
        pthread_mutex_unlock(&d->lock);
        if (r >= 0) {
                c->n_stale++;
                log_debug("store unreachable: answered range '%s' from the cache", prefix);
        }
        return r;
}

static int cache_txn(Store *s, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops, int64_t *ret_rev) {
        return store_txn(((CacheStore *) s)->inner, cmp, n_cmp, ops, n_ops, ret_rev);
}
static int cache_watch_open(Store *s, const char *prefix, int64_t from_rev, StoreWatch **ret) {
        return store_watch_open(((CacheStore *) s)->inner, prefix, from_rev, ret);
}
static int cache_lease_grant(Store *s, int64_t ttl, int64_t *ret) { return store_lease_grant(((CacheStore *) s)->inner, ttl, ret); }
static int cache_lease_keepalive(Store *s, int64_t id) { return store_lease_keepalive(((CacheStore *) s)->inner, id); }
static int cache_lease_revoke(Store *s, int64_t id) { return store_lease_revoke(((CacheStore *) s)->inner, id); }
static int cache_revision(Store *s, int64_t *ret) { return store_revision(((CacheStore *) s)->inner, ret); }

static void data_unref(CacheData *d) {
        pthread_mutex_lock(&d->lock);
        bool last = --d->n_ref == 0;
        pthread_mutex_unlock(&d->lock);
        if (!last)
                return;
        store_kv_list_done(&d->data);
        for (size_t i = 0; i < d->n_prefixes; i++)
                free(d->prefixes[i]);
        free(d->prefixes);
        pthread_mutex_destroy(&d->lock);
        free(d);
}

static void cache_close(Store *s) {
        CacheStore *c = (CacheStore *) s;
        store_close(c->inner);
        data_unref(c->d);
        free(c);
}

static int cache_open(const char *location, Store **ret) {
        return -EOPNOTSUPP; /* made with store_cache_new_shared() only */
}

static const StoreOps cache_ops = {
        .scheme = "cache",
        .open = cache_open,
        .close = cache_close,
        .get = cache_get,
        .range = cache_range,
        .txn = cache_txn,
        .watch_open = cache_watch_open,
        .lease_grant = cache_lease_grant,
        .lease_keepalive = cache_lease_keepalive,
        .lease_revoke = cache_lease_revoke,
        .revision = cache_revision,
};

int store_cache_new_shared(Store *inner, Store *share, Store **ret) {
        if (share && share->ops != &cache_ops)
                return -EINVAL;
        CacheStore *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (share) {
                c->d = ((CacheStore *) share)->d;
                pthread_mutex_lock(&c->d->lock);
                c->d->n_ref++;
                pthread_mutex_unlock(&c->d->lock);
        } else {
                c->d = calloc(1, sizeof *c->d);
                if (!c->d) {
                        free(c);
                        return -ENOMEM;
                }
                pthread_mutex_init(&c->d->lock, NULL);
                c->d->n_ref = 1;
        }
        c->base.ops = &cache_ops;
        c->inner = inner;
        *ret = &c->base;
        return 0;
}

uint64_t store_cache_stale_reads(Store *s) {
        return s && s->ops == &cache_ops ? ((CacheStore *) s)->n_stale : 0;
}
