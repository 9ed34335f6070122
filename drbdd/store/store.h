/* The cluster store: a key-value map with revisions, transactions that
 * compare on revision, watches and leases. Backends (SQLite, etcd) sit behind
 * StoreOps; no caller may depend on which one is in use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits every backend enforces (the front-end checks them before a backend
 * runs): keys are 1..STORE_KEY_MAX bytes (-EINVAL otherwise), values at most
 * STORE_VALUE_MAX bytes (-E2BIG), a txn has at most STORE_TXN_OPS_MAX
 * compares and as many ops (-E2BIG; etcd's default --max-txn-ops). */
#define STORE_KEY_MAX 1024
#define STORE_VALUE_MAX (8u << 20)
#define STORE_TXN_OPS_MAX 128
#define STORE_LEASE_TTL_MAX (366 * 24 * 3600)

typedef struct Store Store;
typedef struct StoreWatch StoreWatch;

typedef struct StoreKV {
        char *key;          /* owned */
        char *value;        /* owned, NUL-terminated (value_len excludes NUL) */
        size_t value_len;
        int64_t create_rev; /* revision that created the key */
        int64_t mod_rev;    /* revision of the last change */
        int64_t version;    /* number of changes since creation, 1 for new */
        int64_t lease;      /* lease id, 0 = none */
} StoreKV;

typedef struct StoreKVList {
        StoreKV *items;     /* owned, sorted by key */
        size_t n;
        int64_t revision;   /* store revision at which the range was read */
} StoreKVList;

typedef enum StoreCompareTarget {
        STORE_CMP_MOD_REV,    /* key's mod_rev == rev (0 = key absent) */
        STORE_CMP_CREATE_REV, /* key's create_rev == rev (0 = key absent) */
} StoreCompareTarget;

typedef struct StoreCompare {
        const char *key;
        StoreCompareTarget target;
        int64_t rev;
} StoreCompare;

typedef enum StoreOpType {
        STORE_OP_PUT,
        STORE_OP_DELETE,        /* deleting an absent key is not an error */
        STORE_OP_DELETE_PREFIX, /* every key starting with key */
} StoreOpType;

typedef struct StoreOp {
        StoreOpType type;
        const char *key;
        const char *value;      /* PUT only; NUL-terminated */
        int64_t lease;          /* PUT only; 0 = none */
} StoreOp;

typedef enum StoreEventType {
        STORE_EVENT_PUT,
        STORE_EVENT_DELETE,
} StoreEventType;

typedef struct StoreEvent {
        StoreEventType type;
        StoreKV kv;             /* for DELETE: key and mod_rev (the delete's revision) only */
} StoreEvent;

typedef struct StoreEventList {
        StoreEvent *items;      /* owned, in revision order */
        size_t n;
} StoreEventList;

typedef struct StoreOps {
        const char *scheme;     /* "sqlite", "etcd" */
        int (*open)(const char *location, Store **ret);
        void (*close)(Store *s);
        int (*get)(Store *s, const char *key, StoreKV *ret);
        int (*range)(Store *s, const char *prefix, StoreKVList *ret);
        int (*txn)(Store *s, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops, int64_t *ret_rev);
        int (*watch_open)(Store *s, const char *prefix, int64_t from_rev, StoreWatch **ret);
        int (*watch_fd)(StoreWatch *w);
        int (*watch_read)(StoreWatch *w, StoreEventList *ret);
        void (*watch_close)(StoreWatch *w);
        int (*lease_grant)(Store *s, int64_t ttl_sec, int64_t *ret_id);
        int (*lease_keepalive)(Store *s, int64_t id);
        int (*lease_revoke)(Store *s, int64_t id);
        int (*revision)(Store *s, int64_t *ret);
} StoreOps;

/* Every backend's Store starts with this header. */
struct Store {
        const StoreOps *ops;
        uint64_t n_writes; /* store_writes(); backends calloc their struct */
};
struct StoreWatch {
        const StoreOps *ops;
};

/* Opens a store from a URL: "sqlite:/var/lib/drbdd/store.db" or
 * "etcd:http://127.0.0.1:2379" (backend permitting). Returns 0 or negative
 * errno: -EPROTONOSUPPORT for an unknown scheme, -EINVAL for a bad URL. */
int store_open(const char *url, Store **ret);
Store *store_close(Store *s); /* accepts NULL; returns NULL */

/* Returns 0 and fills *ret (release with store_kv_done), -ENOENT if absent. */
int store_get(Store *s, const char *key, StoreKV *ret);
/* All keys starting with prefix, sorted. ret released with store_kv_list_done. */
int store_range(Store *s, const char *prefix, StoreKVList *ret);
/* Atomically: if every compare holds, apply every op. Returns 0 when applied
 * (*ret_rev = new store revision, if given), -EAGAIN when a compare failed
 * (nothing applied), other negative errno on failure (-EIO, -ENOSPC,
 * -EHOSTUNREACH when the store cannot be reached).
 * Also: -EINVAL for a bad key or two ops touching the same key (a PUT/DELETE
 * of a key under a DELETE_PREFIX of the same txn counts), -E2BIG (limits
 * above), -ENOENT for a PUT with an unknown or expired lease, -EBUSY when the
 * store stayed locked by another writer.
 * Revisions as in etcd: every applied txn that changes something creates one
 * new revision shared by all its changes; a txn that changes nothing (no ops,
 * or only deletes of absent keys) creates none and *ret_rev is the current
 * revision. A new store is at revision 0, so a key's mod_rev is always >= 1. */
int store_txn(Store *s, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops, int64_t *ret_rev);
/* Transactions with ops applied through this handle so far (a handle
 * belongs to one thread: the agent counts its own writes with it). */
uint64_t store_writes(Store *s);
/* Watch changes under prefix with revision > from_rev. watch_fd becomes
 * readable when events may be pending; watch_read never blocks and returns 0
 * with possibly n == 0. -ESTALE when from_rev was compacted away: the caller
 * does a fresh range and opens a new watch. */
int store_watch_open(Store *s, const char *prefix, int64_t from_rev, StoreWatch **ret);
int store_watch_fd(StoreWatch *w);
int store_watch_read(StoreWatch *w, StoreEventList *ret);
StoreWatch *store_watch_close(StoreWatch *w);
/* Leases: keys put with a lease vanish when it expires or is revoked (the
 * deletes show up in watches). ttl_sec is 1..STORE_LEASE_TTL_MAX (-EINVAL).
 * keepalive and revoke return -ENOENT for an unknown or expired lease. */
int store_lease_grant(Store *s, int64_t ttl_sec, int64_t *ret_id);
int store_lease_keepalive(Store *s, int64_t id);
int store_lease_revoke(Store *s, int64_t id);
/* Current store revision. */
int store_revision(Store *s, int64_t *ret);

void store_kv_done(StoreKV *kv);
void store_kv_list_done(StoreKVList *l);
void store_event_list_done(StoreEventList *l);

/* Backends, for store_open(). */
extern const StoreOps store_sqlite_ops;
