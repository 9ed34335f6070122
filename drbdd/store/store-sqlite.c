/* SQLite store backend: one WAL database file holding keys, the revision counter, watch history and leases. */
#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "store-sqlite.h"

/*
 * Concurrency: every write is one BEGIN IMMEDIATE transaction, so writers
 * through any number of handles or processes are serialised by SQLite's file
 * locks (waiting up to BUSY_TIMEOUT_MS, then -EBUSY); compares are evaluated
 * under that lock. Multi-statement reads run in a deferred transaction, which
 * in WAL mode is a consistent snapshot.
 *
 * A Store and the watches opened on it belong to one thread at a time; use
 * one Store per thread. Watches of any handle in this process are woken
 * through their eventfd when a commit of this process may concern them;
 * commits of other processes are seen on the next store_watch_read(), so a
 * watcher sharing the file with another process also reads on a timer.
 *
 * Expired leases are reaped lazily, at the start of get, range, txn,
 * revision, watch_read and the lease calls: the deletes only appear once one
 * of them runs.
 */

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000
#define WATCH_BATCH 1000 /* events per watch_read, whole revisions only */

static const char schema_sql[] =
        "CREATE TABLE meta ("
        " id INTEGER PRIMARY KEY CHECK (id = 0),"
        " revision INTEGER NOT NULL,"     /* current store revision */
        " compact_rev INTEGER NOT NULL);" /* history up to here is gone */
        "INSERT INTO meta VALUES (0, 0, 0);"
        "CREATE TABLE kv ("
        " key TEXT NOT NULL PRIMARY KEY," /* BINARY collation: sorted by bytes */
        " value BLOB NOT NULL,"
        " create_rev INTEGER NOT NULL,"
        " mod_rev INTEGER NOT NULL,"
        " version INTEGER NOT NULL,"
        " lease INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX kv_lease ON kv (lease);"
        "CREATE TABLE history ("
        " id INTEGER PRIMARY KEY," /* order of changes inside a revision */
        " rev INTEGER NOT NULL,"
        " type INTEGER NOT NULL," /* StoreEventType */
        " key TEXT NOT NULL,"
        " value BLOB, create_rev INTEGER, version INTEGER, lease INTEGER);" /* PUT only */
        "CREATE INDEX history_rev ON history (rev);"
        "CREATE TABLE leases ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused; starts at 1 */
        " ttl INTEGER NOT NULL,"                 /* seconds */
        " expires_at INTEGER NOT NULL);"         /* CLOCK_REALTIME, ms */
        "CREATE INDEX leases_expiry ON leases (expires_at);"
        "PRAGMA user_version = 1;";

/*
 * Prefix ranges are "key >= prefix AND key < end", never LIKE, so '%' and '_'
 * in keys are plain bytes. When a prefix has no successor (empty, or only
 * 0xff bytes) end is bound as an empty BLOB, which sorts after every TEXT
 * value and so stands for "no upper bound".
 */
typedef enum Stmt {
        STMT_META_GET,
        STMT_META_SET_REV,
        STMT_META_SET_COMPACT,
        STMT_HISTORY_COMPACT,
        STMT_KV_GET,
        STMT_KV_REVS,
        STMT_KV_RANGE,
        STMT_KV_PUT,
        STMT_KV_DELETE,
        STMT_KV_DELETE_RANGE,
        STMT_HISTORY_ADD,
        STMT_HISTORY_ADD_RANGE_DELETES,
        STMT_HISTORY_READ,
        STMT_LEASE_ANY_EXPIRED,
        STMT_LEASE_ALIVE,
        STMT_LEASE_ADD,
        STMT_LEASE_EXTEND,
        STMT_HISTORY_ADD_LEASE_DELETES,
        STMT_KV_DELETE_LEASED,
        STMT_LEASE_DELETE,
        _STMT_MAX,
} Stmt;

static const char *const stmt_sql[_STMT_MAX] = {
        [STMT_META_GET] = "SELECT revision, compact_rev FROM meta WHERE id = 0",
        [STMT_META_SET_REV] = "UPDATE meta SET revision = ?1 WHERE id = 0",
        [STMT_META_SET_COMPACT] = "UPDATE meta SET compact_rev = ?1 WHERE id = 0 AND compact_rev < ?1",
        [STMT_HISTORY_COMPACT] = "DELETE FROM history WHERE rev <= ?1",
        [STMT_KV_GET] = "SELECT value, create_rev, mod_rev, version, lease FROM kv WHERE key = ?1",
        [STMT_KV_REVS] = "SELECT create_rev, mod_rev FROM kv WHERE key = ?1",
        [STMT_KV_RANGE] = "SELECT key, value, create_rev, mod_rev, version, lease FROM kv "
                          "WHERE key >= ?1 AND key < ?2 ORDER BY key",
        [STMT_KV_PUT] = "INSERT INTO kv (key, value, create_rev, mod_rev, version, lease) "
                        "VALUES (?1, ?2, ?3, ?3, 1, ?4) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, "
                        "version = version + 1, lease = excluded.lease "
                        "RETURNING create_rev, version",
        [STMT_KV_DELETE] = "DELETE FROM kv WHERE key = ?1",
        [STMT_KV_DELETE_RANGE] = "DELETE FROM kv WHERE key >= ?1 AND key < ?2",
        [STMT_HISTORY_ADD] = "INSERT INTO history (rev, type, key, value, create_rev, version, lease) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [STMT_HISTORY_ADD_RANGE_DELETES] = "INSERT INTO history (rev, type, key) "
                                           "SELECT ?1, ?2, key FROM kv WHERE key >= ?3 AND key < ?4 ORDER BY key",
        [STMT_HISTORY_READ] = "SELECT rev, type, key, value, create_rev, version, lease FROM history "
                              "WHERE rev > ?1 AND rev <= ?2 AND key >= ?3 AND key < ?4 ORDER BY rev, id",
        [STMT_LEASE_ANY_EXPIRED] = "SELECT EXISTS (SELECT 1 FROM leases WHERE expires_at <= ?1)",
        [STMT_LEASE_ALIVE] = "SELECT 1 FROM leases WHERE id = ?1 AND expires_at > ?2",
        [STMT_LEASE_ADD] = "INSERT INTO leases (ttl, expires_at) VALUES (?1, ?2 + ?1 * 1000)",
        [STMT_LEASE_EXTEND] = "UPDATE leases SET expires_at = ?2 + ttl * 1000 WHERE id = ?1 AND expires_at > ?2",
        /* The leases to drop: lease ?id (revoke; 0 = none) and every expired one. */
        [STMT_HISTORY_ADD_LEASE_DELETES] = "INSERT INTO history (rev, type, key) SELECT ?1, ?2, key FROM kv "
                                           "WHERE lease IN (SELECT id FROM leases WHERE id = ?3 OR expires_at <= ?4) "
                                           "ORDER BY key",
        [STMT_KV_DELETE_LEASED] = "DELETE FROM kv WHERE lease IN "
                                  "(SELECT id FROM leases WHERE id = ?1 OR expires_at <= ?2)",
        [STMT_LEASE_DELETE] = "DELETE FROM leases WHERE id = ?1 OR expires_at <= ?2",
};

typedef struct SqliteStore {
        Store base;
        unsigned n_ref; /* the handle plus its open watches */
        sqlite3 *db;
        char *path;
        dev_t dev; /* identify the file for watch wake-ups */
        ino_t ino;
        sqlite3_stmt *stmts[_STMT_MAX];
} SqliteStore;

typedef struct SqliteWatch {
        StoreWatch base;
        SqliteStore *store; /* reference */
        char *prefix;
        int64_t rev; /* every event up to here has been delivered */
        int fd;      /* eventfd */
        struct SqliteWatch *prev, *next;
} SqliteWatch;

/* Every open watch of the process, so that a commit through any handle wakes them. */
static pthread_mutex_t watches_lock = PTHREAD_MUTEX_INITIALIZER;
static SqliteWatch *watches;

/* Armed fault (tests): point is one of fault_points[] or NULL. */
static const char *const fault_points[] = { "begin", "commit", "open" };
static struct {
        const char *point;
        int error;
} fault;

static int fault_fire(const char *point) {
        if (!fault.point || !streq(fault.point, point))
                return 0;
        fault.point = NULL;
        log_debug("SQLite store: injected fault at %s: %s", point, strerror(-fault.error));
        return fault.error;
}

int store_sqlite_set_fault(const char *point, int error) {
        if (!point) {
                fault.point = NULL;
                return 0;
        }
        if (error >= 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(fault_points); i++)
                if (streq(fault_points[i], point)) {
                        fault.point = fault_points[i];
                        fault.error = error;
                        return 0;
                }
        return -EINVAL;
}

static int64_t now_ms(void) {
        struct timespec ts;
        /* Wall clock: expiry times are shared with other processes and survive restarts. */
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int errno_from_sqlite(sqlite3 *db, int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_CANTOPEN: {
                int e = db ? sqlite3_system_errno(db) : 0;
                return e > 0 ? -e : -EIO;
        }
        default:
                return -EIO;
        }
}

static int sqlite_error(SqliteStore *s, int rc, const char *what) {
        int r = errno_from_sqlite(s->db, rc);
        log_debug("SQLite store %s: %s failed: %s (%d)", s->path, what, sqlite3_errmsg(s->db), rc);
        return r;
}

static void stmt_resetp(sqlite3_stmt **st) {
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_stmt_ _cleanup_(stmt_resetp)

/* Statements are prepared on first use and kept for the life of the handle. */
static int stmt_get(SqliteStore *s, Stmt id, sqlite3_stmt **ret) {
        if (!s->stmts[id]) {
                int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL);
                if (rc != SQLITE_OK)
                        return sqlite_error(s, rc, stmt_sql[id]);
        }
        *ret = s->stmts[id];
        return 0;
}

/* Binds a key: text with explicit length, copied. */
static int bind_key(sqlite3_stmt *st, int i, const char *key) {
        return sqlite3_bind_text(st, i, key, (int) strlen(key), SQLITE_TRANSIENT);
}

/* Binds prefix to ?lo and the smallest string above every key with that prefix to ?lo+1. */
static int bind_prefix(sqlite3_stmt *st, int lo, const char *prefix) {
        size_t n = strlen(prefix);
        char end[STORE_KEY_MAX + 1];
        int rc;

        assert(n <= STORE_KEY_MAX);
        rc = sqlite3_bind_text(st, lo, prefix, (int) n, SQLITE_TRANSIENT);
        if (rc != SQLITE_OK)
                return rc;
        memcpy(end, prefix, n);
        while (n > 0 && (unsigned char) end[n - 1] == 0xff)
                n--;
        if (n == 0)
                return sqlite3_bind_zeroblob(st, lo + 1, 0);
        end[n - 1] = (char) ((unsigned char) end[n - 1] + 1);
        return sqlite3_bind_text(st, lo + 1, end, (int) n, SQLITE_TRANSIENT);
}

/* Runs a statement that returns no rows (bindings done), then resets it. */
static int stmt_run(SqliteStore *s, sqlite3_stmt *st, int64_t *ret_changes) {
        _cleanup_stmt_ sqlite3_stmt *guard = st;
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return sqlite_error(s, rc, sqlite3_sql(st));
        if (ret_changes)
                *ret_changes = sqlite3_changes64(s->db);
        return 0;
}

/* Copies a BLOB/TEXT column into a NUL-terminated buffer. */
static int column_dup(sqlite3_stmt *st, int col, char **ret, size_t *ret_len) {
        const void *p = sqlite3_column_blob(st, col);
        int n = sqlite3_column_bytes(st, col);
        if (n < 0 || (n > 0 && !p))
                return -ENOMEM;
        char *b = malloc((size_t) n + 1);
        if (!b)
                return -ENOMEM;
        if (n > 0)
                memcpy(b, p, (size_t) n);
        b[n] = 0;
        *ret = b;
        if (ret_len)
                *ret_len = (size_t) n;
        return 0;
}

/* ---- transactions -------------------------------------------------------- */

static void txn_rollback(SqliteStore *s) {
        if (!sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int txn_exec(SqliteStore *s, const char *sql) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                int r = sqlite_error(s, rc, sql);
                txn_rollback(s);
                return r;
        }
        return 0;
}

static int read_begin(SqliteStore *s) {
        return txn_exec(s, "BEGIN");
}

static void read_end(SqliteStore *s) {
        /* Nothing was written: a failure to end only matters for the lock, so roll back. */
        if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                txn_rollback(s);
}

static int meta_get(SqliteStore *s, int64_t *ret_rev, int64_t *ret_compact) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = stmt_get(s, STMT_META_GET, &st);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return rc == SQLITE_DONE ? -EIO : sqlite_error(s, rc, "reading revision");
        *ret_rev = sqlite3_column_int64(st, 0);
        if (ret_compact)
                *ret_compact = sqlite3_column_int64(st, 1);
        return 0;
}

static int compact_locked(SqliteStore *s, int64_t upto) {
        sqlite3_stmt *st = NULL;
        int r;

        if (upto <= 0)
                return 0;
        r = stmt_get(s, STMT_META_SET_COMPACT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, upto);
        int64_t changed;
        r = stmt_run(s, st, &changed);
        if (r < 0 || changed == 0)
                return r;
        r = stmt_get(s, STMT_HISTORY_COMPACT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, upto);
        return stmt_run(s, st, NULL);
}

static void watches_notify(SqliteStore *s) {
        pthread_mutex_lock(&watches_lock);
        for (SqliteWatch *w = watches; w; w = w->next)
                if (w->store->dev == s->dev && w->store->ino == s->ino)
                        (void) eventfd_write(w->fd, 1);
        pthread_mutex_unlock(&watches_lock);
}

/* Work done inside a write transaction: changes get revision rev; *changed is
 * set when something was written that needs that new revision. */
typedef int (*WriteFunc)(SqliteStore *s, int64_t rev, void *userdata, bool *changed);

/* Writers of this process (drbdd's API workers, each on a handle of its
 * own) queue here for their turn rather than in SQLite's busy handler, which
 * polls the file lock with sleeps of 1, 2, 5, 10 ... 100 ms: with four
 * clients creating at once, the waiting writers slept while the lock was
 * free, and four clients created no faster than one. Writers of other
 * processes still meet the file lock (BUSY_TIMEOUT_MS). Each commit is as
 * durable as before: one transaction, synced (synchronous=FULL) before
 * COMMIT returns. */
static pthread_mutex_t process_writer = PTHREAD_MUTEX_INITIALIZER;

static int write_txn_locked(SqliteStore *s, WriteFunc f, void *userdata, int64_t *ret_rev);

/* Runs f in BEGIN IMMEDIATE ... COMMIT, bumping the revision if f changed
 * anything. On any failure everything is rolled back. */
static int write_txn(SqliteStore *s, WriteFunc f, void *userdata, int64_t *ret_rev) {
        int r = fault_fire("begin");
        if (r < 0)
                return r;
        pthread_mutex_lock(&process_writer);
        r = write_txn_locked(s, f, userdata, ret_rev);
        pthread_mutex_unlock(&process_writer);
        return r;
}

static int write_txn_locked(SqliteStore *s, WriteFunc f, void *userdata, int64_t *ret_rev) {
        int64_t rev = 0;
        bool changed = false;
        int r;

        r = txn_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;

        r = meta_get(s, &rev, NULL);
        if (r >= 0)
                r = f(s, rev + 1, userdata, &changed);
        if (r >= 0 && changed) {
                sqlite3_stmt *st = NULL;
                r = stmt_get(s, STMT_META_SET_REV, &st);
                if (r >= 0) {
                        sqlite3_bind_int64(st, 1, rev + 1);
                        r = stmt_run(s, st, NULL);
                }
                if (r >= 0)
                        r = compact_locked(s, rev + 1 - STORE_SQLITE_HISTORY_KEEP);
        }
        if (r >= 0)
                r = fault_fire("commit");
        if (r < 0) {
                txn_rollback(s);
                return r;
        }
        r = txn_exec(s, "COMMIT");
        if (r < 0)
                return r;

        if (changed) {
                rev++;
                watches_notify(s);
        }
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

/* ---- leases --------------------------------------------------------------- */

typedef struct LeaseDrop {
        int64_t id; /* lease to revoke, 0 = none */
        int64_t now;
} LeaseDrop;

/* Deletes lease d->id and every expired lease, with their keys. */
static int leases_drop_locked(SqliteStore *s, int64_t rev, void *userdata, bool *changed) {
        const LeaseDrop *d = userdata;
        sqlite3_stmt *st = NULL;
        int64_t n;
        int r;

        r = stmt_get(s, STMT_HISTORY_ADD_LEASE_DELETES, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rev);
        sqlite3_bind_int(st, 2, STORE_EVENT_DELETE);
        sqlite3_bind_int64(st, 3, d->id);
        sqlite3_bind_int64(st, 4, d->now);
        r = stmt_run(s, st, &n);
        if (r < 0)
                return r;
        if (n > 0)
                *changed = true;

        r = stmt_get(s, STMT_KV_DELETE_LEASED, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, d->id);
        sqlite3_bind_int64(st, 2, d->now);
        r = stmt_run(s, st, NULL);
        if (r < 0)
                return r;

        r = stmt_get(s, STMT_LEASE_DELETE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, d->id);
        sqlite3_bind_int64(st, 2, d->now);
        return stmt_run(s, st, NULL);
}

static int lease_alive_locked(SqliteStore *s, int64_t id, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = stmt_get(s, STMT_LEASE_ALIVE, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 0;
        if (rc == SQLITE_DONE)
                return -ENOENT;
        return sqlite_error(s, rc, "looking up lease");
}

/* Deletes expired leases and their keys, in a transaction of their own and
 * only when the cheap check finds one. */
static int reap_expired(SqliteStore *s) {
        LeaseDrop d = { .id = 0, .now = now_ms() };
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = stmt_get(s, STMT_LEASE_ANY_EXPIRED, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, d.now);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return sqlite_error(s, rc, "looking for expired leases");
        bool any = sqlite3_column_int(st, 0) != 0;
        stmt_resetp(&st);
        if (!any)
                return 0;
        return write_txn(s, leases_drop_locked, &d, NULL);
}

typedef struct LeaseArgs {
        int64_t id, ttl, now;
} LeaseArgs;

static int lease_grant_locked(SqliteStore *s, int64_t rev, void *userdata, bool *changed) {
        LeaseArgs *a = userdata;
        sqlite3_stmt *st = NULL;
        int r = stmt_get(s, STMT_LEASE_ADD, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, a->ttl);
        sqlite3_bind_int64(st, 2, a->now);
        r = stmt_run(s, st, NULL);
        if (r < 0)
                return r;
        a->id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

static int lease_keepalive_locked(SqliteStore *s, int64_t rev, void *userdata, bool *changed) {
        const LeaseArgs *a = userdata;
        sqlite3_stmt *st = NULL;
        int64_t n;
        int r = stmt_get(s, STMT_LEASE_EXTEND, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, a->id);
        sqlite3_bind_int64(st, 2, a->now);
        r = stmt_run(s, st, &n);
        if (r < 0)
                return r;
        return n > 0 ? 0 : -ENOENT;
}

static int lease_revoke_locked(SqliteStore *s, int64_t rev, void *userdata, bool *changed) {
        const LeaseArgs *a = userdata;
        int r = lease_alive_locked(s, a->id, a->now);
        if (r < 0)
                return r;
        return leases_drop_locked(s, rev, &(LeaseDrop) { .id = a->id, .now = a->now }, changed);
}

static int sqlite_lease_grant(Store *store, int64_t ttl_sec, int64_t *ret_id) {
        SqliteStore *s = (SqliteStore *) store;
        LeaseArgs a = { .ttl = ttl_sec, .now = now_ms() };
        int r = write_txn(s, lease_grant_locked, &a, NULL);
        if (r < 0)
                return r;
        *ret_id = a.id;
        return 0;
}

static int sqlite_lease_keepalive(Store *store, int64_t id) {
        SqliteStore *s = (SqliteStore *) store;
        int r = reap_expired(s);
        if (r < 0)
                return r;
        return write_txn(s, lease_keepalive_locked, &(LeaseArgs) { .id = id, .now = now_ms() }, NULL);
}

static int sqlite_lease_revoke(Store *store, int64_t id) {
        SqliteStore *s = (SqliteStore *) store;
        return write_txn(s, lease_revoke_locked, &(LeaseArgs) { .id = id, .now = now_ms() }, NULL);
}

/* ---- reads ---------------------------------------------------------------- */

static int sqlite_revision(Store *store, int64_t *ret) {
        SqliteStore *s = (SqliteStore *) store;
        int r = reap_expired(s);
        if (r < 0)
                return r;
        return meta_get(s, ret, NULL);
}

static int sqlite_get(Store *store, const char *key, StoreKV *ret) {
        SqliteStore *s = (SqliteStore *) store;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *k = NULL, *v = NULL;
        size_t len;
        int r;

        r = reap_expired(s);
        if (r < 0)
                return r;
        r = stmt_get(s, STMT_KV_GET, &st);
        if (r < 0)
                return r;
        bind_key(st, 1, key);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_error(s, rc, "get");
        k = strdup(key);
        if (!k)
                return -ENOMEM;
        r = column_dup(st, 0, &v, &len);
        if (r < 0)
                return r;
        *ret = (StoreKV) {
                .key = TAKE_PTR(k),
                .value = TAKE_PTR(v),
                .value_len = len,
                .create_rev = sqlite3_column_int64(st, 1),
                .mod_rev = sqlite3_column_int64(st, 2),
                .version = sqlite3_column_int64(st, 3),
                .lease = sqlite3_column_int64(st, 4),
        };
        return 0;
}

static int range_locked(SqliteStore *s, const char *prefix, StoreKVList *l) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        size_t cap = 0;
        int r, rc;

        r = meta_get(s, &l->revision, NULL);
        if (r < 0)
                return r;
        r = stmt_get(s, STMT_KV_RANGE, &st);
        if (r < 0)
                return r;
        rc = bind_prefix(st, 1, prefix);
        if (rc != SQLITE_OK)
                return sqlite_error(s, rc, "range");
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (l->n == cap) {
                        cap = MAX(cap * 2, 16u);
                        StoreKV *n = reallocarray(l->items, cap, sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        l->items = n;
                }
                StoreKV *kv = l->items + l->n;
                *kv = (StoreKV) {
                        .create_rev = sqlite3_column_int64(st, 2),
                        .mod_rev = sqlite3_column_int64(st, 3),
                        .version = sqlite3_column_int64(st, 4),
                        .lease = sqlite3_column_int64(st, 5),
                };
                l->n++; /* so that store_kv_list_done() frees partial items */
                r = column_dup(st, 0, &kv->key, NULL);
                if (r < 0)
                        return r;
                r = column_dup(st, 1, &kv->value, &kv->value_len);
                if (r < 0)
                        return r;
        }
        if (rc != SQLITE_DONE)
                return sqlite_error(s, rc, "range");
        return 0;
}

static int sqlite_range(Store *store, const char *prefix, StoreKVList *ret) {
        SqliteStore *s = (SqliteStore *) store;
        StoreKVList l = {};
        int r;

        r = reap_expired(s);
        if (r < 0)
                return r;
        r = read_begin(s);
        if (r < 0)
                return r;
        r = range_locked(s, prefix, &l);
        read_end(s);
        if (r < 0) {
                store_kv_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

/* ---- txn ------------------------------------------------------------------ */

typedef struct TxnArgs {
        const StoreCompare *cmp;
        size_t n_cmp;
        const StoreOp *ops;
        size_t n_ops;
        int64_t now;
} TxnArgs;

static int compare_locked(SqliteStore *s, const StoreCompare *c) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t create_rev = 0, mod_rev = 0;
        int r = stmt_get(s, STMT_KV_REVS, &st);
        if (r < 0)
                return r;
        bind_key(st, 1, c->key);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                create_rev = sqlite3_column_int64(st, 0);
                mod_rev = sqlite3_column_int64(st, 1);
        } else if (rc != SQLITE_DONE)
                return sqlite_error(s, rc, "compare");
        return (c->target == STORE_CMP_MOD_REV ? mod_rev : create_rev) == c->rev ? 0 : -EAGAIN;
}

static int history_add(SqliteStore *s, int64_t rev, StoreEventType type, const char *key, const char *value,
                       int64_t create_rev, int64_t version, int64_t lease) {
        sqlite3_stmt *st = NULL;
        int r = stmt_get(s, STMT_HISTORY_ADD, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rev);
        sqlite3_bind_int(st, 2, type);
        bind_key(st, 3, key);
        if (type == STORE_EVENT_PUT) {
                sqlite3_bind_blob(st, 4, value, (int) strlen(value), SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, create_rev);
                sqlite3_bind_int64(st, 6, version);
                sqlite3_bind_int64(st, 7, lease);
        }
        return stmt_run(s, st, NULL);
}

static int put_locked(SqliteStore *s, int64_t rev, const StoreOp *o, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t create_rev, version;
        int r;

        if (o->lease != 0) {
                r = lease_alive_locked(s, o->lease, now);
                if (r < 0)
                        return r;
        }
        r = stmt_get(s, STMT_KV_PUT, &st);
        if (r < 0)
                return r;
        bind_key(st, 1, o->key);
        /* A non-NULL pointer keeps an empty value a zero-length BLOB, not NULL. */
        sqlite3_bind_blob(st, 2, o->value, (int) strlen(o->value), SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, rev);
        sqlite3_bind_int64(st, 4, o->lease);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return sqlite_error(s, rc, "put");
        create_rev = sqlite3_column_int64(st, 0);
        version = sqlite3_column_int64(st, 1);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return sqlite_error(s, rc, "put");
        stmt_resetp(&st);
        return history_add(s, rev, STORE_EVENT_PUT, o->key, o->value, create_rev, version, o->lease);
}

static int delete_locked(SqliteStore *s, int64_t rev, const StoreOp *o, bool *changed) {
        sqlite3_stmt *st = NULL;
        int64_t n;
        int r, rc;

        if (o->type == STORE_OP_DELETE) {
                r = stmt_get(s, STMT_KV_DELETE, &st);
                if (r < 0)
                        return r;
                bind_key(st, 1, o->key);
                r = stmt_run(s, st, &n);
                if (r < 0 || n == 0)
                        return r;
                *changed = true;
                return history_add(s, rev, STORE_EVENT_DELETE, o->key, NULL, 0, 0, 0);
        }

        r = stmt_get(s, STMT_HISTORY_ADD_RANGE_DELETES, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rev);
        sqlite3_bind_int(st, 2, STORE_EVENT_DELETE);
        rc = bind_prefix(st, 3, o->key);
        if (rc != SQLITE_OK) {
                stmt_resetp(&st);
                return sqlite_error(s, rc, "delete prefix");
        }
        r = stmt_run(s, st, &n);
        if (r < 0 || n == 0)
                return r;
        *changed = true;

        r = stmt_get(s, STMT_KV_DELETE_RANGE, &st);
        if (r < 0)
                return r;
        rc = bind_prefix(st, 1, o->key);
        if (rc != SQLITE_OK) {
                stmt_resetp(&st);
                return sqlite_error(s, rc, "delete prefix");
        }
        return stmt_run(s, st, NULL);
}

static int txn_locked(SqliteStore *s, int64_t rev, void *userdata, bool *changed) {
        const TxnArgs *a = userdata;
        int r;

        for (size_t i = 0; i < a->n_cmp; i++) {
                r = compare_locked(s, a->cmp + i);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < a->n_ops; i++) {
                const StoreOp *o = a->ops + i;
                if (o->type == STORE_OP_PUT) {
                        r = put_locked(s, rev, o, a->now);
                        *changed = true;
                } else
                        r = delete_locked(s, rev, o, changed);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int sqlite_txn(Store *store, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops,
                      int64_t *ret_rev) {
        SqliteStore *s = (SqliteStore *) store;
        TxnArgs a = { cmp, n_cmp, ops, n_ops, 0 };
        int r;

        /* Expired leases go first, in their own revision, so compares see them gone. */
        r = reap_expired(s);
        if (r < 0)
                return r;
        a.now = now_ms();
        return write_txn(s, txn_locked, &a, ret_rev);
}

static int compact_store_locked(SqliteStore *s, int64_t rev, void *userdata, bool *changed) {
        int64_t upto = *(const int64_t *) userdata;
        if (upto >= rev) /* rev is the next revision */
                return -EINVAL;
        return compact_locked(s, upto);
}

int store_sqlite_compact(Store *store, int64_t rev) {
        if (!store || store->ops != &store_sqlite_ops || rev < 0)
                return -EINVAL;
        return write_txn((SqliteStore *) store, compact_store_locked, &rev, NULL);
}

/* ---- watches -------------------------------------------------------------- */

static void store_unref(SqliteStore *s);

static int sqlite_watch_open(Store *store, const char *prefix, int64_t from_rev, StoreWatch **ret) {
        SqliteStore *s = (SqliteStore *) store;
        SqliteWatch *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->base.ops = &store_sqlite_ops;
        w->rev = from_rev;
        w->prefix = strdup(prefix);
        w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!w->prefix || w->fd < 0) {
                int r = w->fd < 0 ? -errno : -ENOMEM;
                if (w->fd >= 0)
                        close(w->fd);
                free(w->prefix);
                free(w);
                return r;
        }
        /* Readable from the start: history may already hold events after from_rev. */
        (void) eventfd_write(w->fd, 1);

        w->store = s;
        s->n_ref++;
        pthread_mutex_lock(&watches_lock);
        w->next = watches;
        if (watches)
                watches->prev = w;
        watches = w;
        pthread_mutex_unlock(&watches_lock);

        *ret = &w->base;
        return 0;
}

static int sqlite_watch_fd(StoreWatch *ww) {
        return ((SqliteWatch *) ww)->fd;
}

static int watch_read_locked(SqliteWatch *w, StoreEventList *l, int64_t *ret_rev, bool *ret_more) {
        SqliteStore *s = w->store;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t rev, compact_rev, last = w->rev;
        size_t cap = 0;
        int r, rc;

        r = meta_get(s, &rev, &compact_rev);
        if (r < 0)
                return r;
        if (w->rev < compact_rev)
                return -ESTALE;
        r = stmt_get(s, STMT_HISTORY_READ, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, w->rev);
        sqlite3_bind_int64(st, 2, rev);
        rc = bind_prefix(st, 3, w->prefix);
        if (rc != SQLITE_OK)
                return sqlite_error(s, rc, "watch");
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t row_rev = sqlite3_column_int64(st, 0);
                if (l->n >= WATCH_BATCH && row_rev != last) {
                        /* Batch full: stop at a revision boundary, deliver the rest next time. */
                        *ret_more = true;
                        *ret_rev = last;
                        return 0;
                }
                if (l->n == cap) {
                        cap = MAX(cap * 2, 16u);
                        StoreEvent *n = reallocarray(l->items, cap, sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        l->items = n;
                }
                StoreEvent *e = l->items + l->n;
                int type = sqlite3_column_int(st, 1);
                *e = (StoreEvent) {
                        .type = type == STORE_EVENT_PUT ? STORE_EVENT_PUT : STORE_EVENT_DELETE,
                        .kv.mod_rev = row_rev,
                };
                l->n++;
                r = column_dup(st, 2, &e->kv.key, NULL);
                if (r < 0)
                        return r;
                if (e->type == STORE_EVENT_PUT) {
                        r = column_dup(st, 3, &e->kv.value, &e->kv.value_len);
                        if (r < 0)
                                return r;
                        e->kv.create_rev = sqlite3_column_int64(st, 4);
                        e->kv.version = sqlite3_column_int64(st, 5);
                        e->kv.lease = sqlite3_column_int64(st, 6);
                }
                last = row_rev;
        }
        if (rc != SQLITE_DONE)
                return sqlite_error(s, rc, "watch");
        *ret_more = false;
        *ret_rev = MAX(rev, w->rev);
        return 0;
}

static int sqlite_watch_read(StoreWatch *ww, StoreEventList *ret) {
        SqliteWatch *w = (SqliteWatch *) ww;
        SqliteStore *s = w->store;
        StoreEventList l = {};
        eventfd_t v;
        int64_t rev = 0;
        bool more = false;
        int r;

        /* Drain first: a commit racing with the query below re-arms the fd. */
        (void) eventfd_read(w->fd, &v);

        r = reap_expired(s);
        if (r < 0)
                return r;
        r = read_begin(s);
        if (r < 0)
                return r;
        r = watch_read_locked(w, &l, &rev, &more);
        read_end(s);
        if (r < 0) {
                store_event_list_done(&l);
                return r;
        }
        w->rev = rev;
        if (more)
                (void) eventfd_write(w->fd, 1);
        *ret = l;
        return 0;
}

static void sqlite_watch_close(StoreWatch *ww) {
        SqliteWatch *w = (SqliteWatch *) ww;
        if (!w)
                return;
        pthread_mutex_lock(&watches_lock);
        if (w->prev)
                w->prev->next = w->next;
        else
                watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        pthread_mutex_unlock(&watches_lock);
        close(w->fd);
        free(w->prefix);
        store_unref(w->store);
        free(w);
}

/* ---- open/close ----------------------------------------------------------- */

static void store_unref(SqliteStore *s) {
        if (!s || --s->n_ref > 0)
                return;
        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmts[i]);
        sqlite3_close(s->db);
        free(s->path);
        free(s);
}

static void sqlite_close(Store *store) {
        store_unref((SqliteStore *) store);
}

static int schema_init(SqliteStore *s) {
        sqlite3_stmt *st = NULL;
        int r, rc;

        /* Persistent in the file; needs no transaction open. */
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                sqlite3_finalize(st);
                return sqlite_error(s, rc, "PRAGMA journal_mode=WAL");
        }
        bool wal = streq_ptr((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        if (!wal) {
                log_debug("SQLite store %s: cannot use WAL journal", s->path);
                return -EOPNOTSUPP;
        }
        /* FULL: a commit that returned is on disk, even after power loss. */
        r = txn_exec(s, "PRAGMA synchronous=FULL");
        if (r < 0)
                return r;

        /* Two processes may open a new file at once: decide under the write lock. */
        r = txn_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                sqlite3_finalize(st);
                r = sqlite_error(s, rc, "PRAGMA user_version");
                txn_rollback(s);
                return r;
        }
        int version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (version == 0)
                r = txn_exec(s, schema_sql);
        else if (version != SCHEMA_VERSION) {
                log_debug("SQLite store %s: unknown schema version %d", s->path, version);
                r = -EPROTO;
        }
        if (r < 0) {
                txn_rollback(s);
                return r;
        }
        return txn_exec(s, "COMMIT");
}

/* Checks that LOCATION is a regular file we may read and write, creating it
 * with mode 0600 when it does not exist. It never opens an existing file:
 * another SQLite handle of this process may hold it, and closing any
 * descriptor of a file drops all of the process's POSIX locks on it,
 * SQLite's included (see sqlite_open()). A file it creates itself (O_EXCL)
 * is new, so no handle can hold it yet. */
static int create_private(const char *location, struct stat *st) {
        for (unsigned attempt = 0; attempt < 3; attempt++) {
                if (stat(location, st) == 0) {
                        if (S_ISDIR(st->st_mode))
                                return -EISDIR;
                        if (!S_ISREG(st->st_mode))
                                return -EINVAL;
                        if (faccessat(AT_FDCWD, location, R_OK | W_OK, AT_EACCESS) < 0)
                                return -errno;
                        return 0;
                }
                if (errno != ENOENT)
                        return -errno;

                _cleanup_close_ int fd = open(location, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
                if (fd >= 0)
                        return fstat(fd, st) < 0 ? -errno : 0;
                if (errno != EEXIST)
                        return -errno;
                /* Created by someone else in between: look again. */
        }
        return -EBUSY;
}

static int sqlite_open(const char *location, Store **ret) {
        SqliteStore *s;
        struct stat st;
        int r, rc;

        if (!location || !*location || streq(location, ":memory:"))
                return -EINVAL;
        r = fault_fire("open");
        if (r < 0)
                return r;

        /* Create it ourselves: SQLite would use 0644, and the store holds secrets.
         * The -wal and -shm files inherit this file's mode. A missing parent
         * directory is -ENOENT, not created.
         * Only SQLite may open and close the file from here on: closing any
         * descriptor of a file drops all of this process's POSIX locks on it,
         * SQLite's included. Without them the next outside reader (sqlite3
         * store.db ..., a backup) believes it is the last user and deletes
         * -wal and -shm under us, and every commit from then on is lost at
         * the next crash. */
        r = create_private(location, &st);
        if (r < 0)
                return r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->base.ops = &store_sqlite_ops;
        s->n_ref = 1;
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->path = strdup(location);
        if (!s->path) {
                store_unref(s);
                return -ENOMEM;
        }
        rc = sqlite3_open_v2(location, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = s->db ? sqlite_error(s, rc, "open") : -ENOMEM;
                store_unref(s);
                return r;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

        r = schema_init(s);
        /* The file we checked must be the one SQLite opened (not replaced in
         * between), or the watches would match the wrong handles. */
        if (r >= 0 && (stat(location, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino))
                r = -ESTALE;
        if (r < 0) {
                store_unref(s);
                return r;
        }
        *ret = &s->base;
        return 0;
}

const StoreOps store_sqlite_ops = {
        .scheme = "sqlite",
        .open = sqlite_open,
        .close = sqlite_close,
        .get = sqlite_get,
        .range = sqlite_range,
        .txn = sqlite_txn,
        .watch_open = sqlite_watch_open,
        .watch_fd = sqlite_watch_fd,
        .watch_read = sqlite_watch_read,
        .watch_close = sqlite_watch_close,
        .lease_grant = sqlite_lease_grant,
        .lease_keepalive = sqlite_lease_keepalive,
        .lease_revoke = sqlite_lease_revoke,
        .revision = sqlite_revision,
};
