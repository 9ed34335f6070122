/* Unit tests for drbdd/store: the front-end and the SQLite backend, including races, watches, leases and faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"
#include "drbdd/store/store-cache.h"
#include "drbdd/store/store-sqlite.h"
#include "drbdd/store/store.h"

typedef struct Fixture {
        char dir[64];
        char path[128];
        char url[160];
        Store *s;
} Fixture;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
        assert_int_equal(store_open(f->url, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        store_sqlite_set_fault(NULL, 0);
        store_close(f->s);
        nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

/* ---- helpers ---- */

static int put_lease(Store *s, const char *key, const char *value, int64_t lease, int64_t *ret_rev) {
        StoreOp op = { .type = STORE_OP_PUT, .key = key, .value = value, .lease = lease };
        return store_txn(s, NULL, 0, &op, 1, ret_rev);
}

static int put(Store *s, const char *key, const char *value, int64_t *ret_rev) {
        return put_lease(s, key, value, 0, ret_rev);
}

static int del(Store *s, StoreOpType type, const char *key, int64_t *ret_rev) {
        StoreOp op = { .type = type, .key = key };
        return store_txn(s, NULL, 0, &op, 1, ret_rev);
}

static int64_t revision(Store *s) {
        int64_t rev = -1;
        assert_int_equal(store_revision(s, &rev), 0);
        return rev;
}

/* value NULL: the key must be absent. */
static void assert_value(Store *s, const char *key, const char *value) {
        StoreKV kv = {};
        int r = store_get(s, key, &kv);
        if (!value) {
                assert_int_equal(r, -ENOENT);
                assert_null(kv.key);
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(kv.key, key);
        assert_string_equal(kv.value, value);
        assert_int_equal(kv.value_len, strlen(value));
        store_kv_done(&kv);
}

static void assert_keys(Store *s, const char *prefix, const char *const *keys) {
        StoreKVList l = {};
        size_t n = 0;
        assert_int_equal(store_range(s, prefix, &l), 0);
        for (; keys[n]; n++) {
                if (n >= l.n)
                        fail_msg("range '%s': missing key '%s'", prefix, keys[n]);
                assert_string_equal(l.items[n].key, keys[n]);
        }
        if (l.n != n)
                fail_msg("range '%s': %zu keys, expected %zu", prefix, l.n, n);
        store_kv_list_done(&l);
}

static bool fd_readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, 0);
        assert_true(r >= 0);
        return r > 0 && (p.revents & POLLIN);
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- tests ---- */

static void test_open_errors(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        char url[256];

        assert_int_equal(store_open(NULL, &s), -EINVAL);
        assert_int_equal(store_open("", &s), -EINVAL);
        assert_int_equal(store_open("/var/lib/drbdd/store.db", &s), -EINVAL);
        assert_int_equal(store_open(":/x", &s), -EINVAL);
        assert_int_equal(store_open("sqlite:", &s), -EINVAL);
        assert_int_equal(store_open("SQLITE:/x", &s), -EINVAL);
        assert_int_equal(store_open("sqlite::memory:", &s), -EINVAL);
        assert_int_equal(store_open("nosuch:/x", &s), -EPROTONOSUPPORT);
        assert_int_equal(store_open("sqlit:/x", &s), -EPROTONOSUPPORT);
        assert_int_equal(store_open("sqlite3:/x", &s), -EPROTONOSUPPORT);

        /* Missing parent directory: not created. */
        snprintf(url, sizeof url, "sqlite:%s/missing/store.db", f->dir);
        assert_int_equal(store_open(url, &s), -ENOENT);
        snprintf(url, sizeof url, "%s/missing", f->dir);
        assert_int_equal(access(url, F_OK), -1);

        /* A directory. */
        snprintf(url, sizeof url, "sqlite:%s", f->dir);
        assert_int_equal(store_open(url, &s), -EISDIR);

        /* Not an SQLite file. */
        char junk[200];
        snprintf(junk, sizeof junk, "%s/junk.db", f->dir);
        FILE *j = fopen(junk, "we");
        assert_non_null(j);
        for (int i = 0; i < 512; i++)
                fputs("this is not a database ", j);
        fclose(j);
        snprintf(url, sizeof url, "sqlite:%s", junk);
        assert_int_equal(store_open(url, &s), -EIO);

        /* A newer schema than we know. */
        sqlite3 *db;
        char newer[200];
        snprintf(newer, sizeof newer, "%s/newer.db", f->dir);
        assert_int_equal(sqlite3_open(newer, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        snprintf(url, sizeof url, "sqlite:%s", newer);
        assert_int_equal(store_open(url, &s), -EPROTO);

        assert_null(s);
        assert_null(store_close(NULL));
}

static void test_open_close_reopen(void **state) {
        Fixture *f = *state;
        int64_t rev;

        assert_int_equal(revision(f->s), 0);
        assert_int_equal(put(f->s, "node/alpha", "10.0.0.1", &rev), 0);
        assert_int_equal(rev, 1);
        assert_int_equal(put(f->s, "node/beta", "10.0.0.2", &rev), 0);
        assert_int_equal(rev, 2);
        f->s = store_close(f->s);
        assert_null(f->s);

        assert_int_equal(store_open(f->url, &f->s), 0);
        assert_int_equal(revision(f->s), 2);
        assert_value(f->s, "node/alpha", "10.0.0.1");
        assert_value(f->s, "node/beta", "10.0.0.2");
        assert_int_equal(put(f->s, "node/gamma", "10.0.0.3", &rev), 0);
        assert_int_equal(rev, 3);

        /* A second handle on the same file sees the same data. */
        Store *b = NULL;
        assert_int_equal(store_open(f->url, &b), 0);
        assert_int_equal(revision(b), 3);
        assert_value(b, "node/gamma", "10.0.0.3");
        store_close(b);
}

static void test_file_mode(void **state) {
        Fixture *f = *state;
        char path[200];
        struct stat st;
        mode_t old = umask(0);
        Store *s = NULL;

        /* Even with a permissive umask the file holding secrets is 0600, and so are the WAL files. */
        snprintf(path, sizeof path, "sqlite:%s/secret.db", f->dir);
        assert_int_equal(store_open(path, &s), 0);
        umask(old);
        assert_int_equal(put(s, "rd/r1/secret", "s3cr3t", NULL), 0);

        snprintf(path, sizeof path, "%s/secret.db", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        snprintf(path, sizeof path, "%s/secret.db-wal", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        snprintf(path, sizeof path, "%s/secret.db-shm", f->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        store_close(s);

        /* The fixture's store too. */
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 0077, 0);
}

/* Runs the sqlite3 program (another process, as an operator or a backup
 * script would) on PATH with SQL; returns its first output line in OUT. */
static void outside_sqlite3(const char *path, const char *sql, char *out, size_t size) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                close(p[0]);
                execlp("sqlite3", "sqlite3", path, sql, (char *) NULL);
                fprintf(stderr, "sqlite3 not found: install Debian's sqlite3 (make deps)\n");
                _exit(127);
        }
        close(p[1]);
        ssize_t n = read(p[0], out, size - 1);
        close(p[0]);
        out[n > 0 ? n : 0] = 0;
        out[strcspn(out, "\n")] = 0;
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* Whether this process holds a POSIX lock on PATH (in /proc/locks). */
static bool holds_posix_lock(const char *path) {
        struct stat st;
        char line[256], pid[32];
        bool found = false;

        assert_int_equal(stat(path, &st), 0);
        snprintf(pid, sizeof pid, " %d ", (int) getpid());
        FILE *l = fopen("/proc/locks", "re");
        assert_non_null(l);
        while (!found && fgets(line, sizeof line, l)) {
                char ino[32];
                snprintf(ino, sizeof ino, ":%lu ", (unsigned long) st.st_ino);
                found = strstr(line, "POSIX") && strstr(line, pid) && strstr(line, ino);
        }
        fclose(l);
        return found;
}

/* An outside reader must not take the WAL away from us. Closing any
 * descriptor of the database drops all of this process's POSIX locks on it;
 * without them the reader thinks it is the last user, deletes -wal and -shm,
 * and later commits go into a deleted file (lost at the next crash). */
static void test_outside_reader(void **state) {
        Fixture *f = *state;
        char wal[200], out[64];
        Store *b = NULL;

        snprintf(wal, sizeof wal, "%s-wal", f->path);
        assert_int_equal(put(f->s, "before", "1", NULL), 0);
        assert_true(holds_posix_lock(f->path));
        /* A second handle in this process, opened and closed, takes nothing. */
        assert_int_equal(store_open(f->url, &b), 0);
        assert_int_equal(put(b, "second", "1", NULL), 0);
        store_close(b);
        assert_true(holds_posix_lock(f->path));

        outside_sqlite3(f->path, "PRAGMA integrity_check", out, sizeof out);
        assert_string_equal(out, "ok");
        assert_int_equal(access(wal, F_OK), 0);
        assert_true(holds_posix_lock(f->path));

        /* A commit after the reader is in the file others see. */
        assert_int_equal(put(f->s, "after", "1", NULL), 0);
        outside_sqlite3(f->path, "select count(*) from kv where key in ('before', 'second', 'after')", out, sizeof out);
        assert_string_equal(out, "3");
}

static void test_put_get_range_delete(void **state) {
        Fixture *f = *state;
        int64_t rev;

        assert_value(f->s, "a/1", NULL);
        assert_int_equal(put(f->s, "a/2", "two", NULL), 0);
        assert_int_equal(put(f->s, "a/1", "one", NULL), 0);
        assert_int_equal(put(f->s, "b/1", "bee", NULL), 0);
        assert_int_equal(put(f->s, "a", "bare", NULL), 0);
        assert_int_equal(put(f->s, "a/10", "ten", &rev), 0);
        assert_int_equal(rev, 5);

        assert_value(f->s, "a/1", "one");
        assert_value(f->s, "a/2", "two");
        assert_keys(f->s, "a/", (const char *[]) { "a/1", "a/10", "a/2", NULL });
        assert_keys(f->s, "a", (const char *[]) { "a", "a/1", "a/10", "a/2", NULL });
        assert_keys(f->s, "", (const char *[]) { "a", "a/1", "a/10", "a/2", "b/1", NULL });
        assert_keys(f->s, "c", (const char *[]) { NULL });

        StoreKVList l = {};
        assert_int_equal(store_range(f->s, "a/", &l), 0);
        assert_int_equal(l.revision, 5);
        assert_string_equal(l.items[1].value, "ten");
        assert_int_equal(l.items[1].value_len, 3);
        store_kv_list_done(&l);
        assert_int_equal(l.n, 0);
        assert_null(l.items);

        /* Overwrite. */
        assert_int_equal(put(f->s, "a/1", "uno", NULL), 0);
        assert_value(f->s, "a/1", "uno");

        /* Delete; deleting an absent key succeeds and creates no revision. */
        assert_int_equal(del(f->s, STORE_OP_DELETE, "a/1", &rev), 0);
        assert_int_equal(rev, 7);
        assert_value(f->s, "a/1", NULL);
        assert_int_equal(del(f->s, STORE_OP_DELETE, "a/1", &rev), 0);
        assert_int_equal(rev, 7);
        assert_int_equal(revision(f->s), 7);

        /* Delete by prefix: "a/" leaves "a". */
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "a/", &rev), 0);
        assert_int_equal(rev, 8);
        assert_keys(f->s, "", (const char *[]) { "a", "b/1", NULL });
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "a/", &rev), 0);
        assert_int_equal(rev, 8);

        /* Empty value. */
        assert_int_equal(put(f->s, "empty", "", NULL), 0);
        assert_value(f->s, "empty", "");
}

static void test_revisions(void **state) {
        Fixture *f = *state;
        StoreKV kv = {};
        int64_t rev;

        assert_int_equal(put(f->s, "k", "v1", &rev), 0);
        assert_int_equal(rev, 1);
        assert_int_equal(store_get(f->s, "k", &kv), 0);
        assert_int_equal(kv.create_rev, 1);
        assert_int_equal(kv.mod_rev, 1);
        assert_int_equal(kv.version, 1);
        assert_int_equal(kv.lease, 0);
        store_kv_done(&kv);

        assert_int_equal(put(f->s, "other", "x", NULL), 0);
        assert_int_equal(put(f->s, "k", "v2", &rev), 0);
        assert_int_equal(rev, 3);
        assert_int_equal(store_get(f->s, "k", &kv), 0);
        assert_int_equal(kv.create_rev, 1);
        assert_int_equal(kv.mod_rev, 3);
        assert_int_equal(kv.version, 2);
        store_kv_done(&kv);

        /* Several keys in one txn share one revision. */
        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "m/1", .value = "a" },
                { .type = STORE_OP_PUT, .key = "m/2", .value = "b" },
                { .type = STORE_OP_DELETE, .key = "other" },
        };
        assert_int_equal(store_txn(f->s, NULL, 0, ops, ELEMENTSOF(ops), &rev), 0);
        assert_int_equal(rev, 4);
        StoreKVList l = {};
        assert_int_equal(store_range(f->s, "m/", &l), 0);
        assert_int_equal(l.n, 2);
        for (size_t i = 0; i < l.n; i++) {
                assert_int_equal(l.items[i].create_rev, 4);
                assert_int_equal(l.items[i].mod_rev, 4);
                assert_int_equal(l.items[i].version, 1);
        }
        assert_int_equal(l.revision, 4);
        store_kv_list_done(&l);

        /* Delete and re-create: a new life, version starts again. */
        assert_int_equal(del(f->s, STORE_OP_DELETE, "k", NULL), 0);
        assert_int_equal(put(f->s, "k", "v3", &rev), 0);
        assert_int_equal(rev, 6);
        assert_int_equal(store_get(f->s, "k", &kv), 0);
        assert_int_equal(kv.create_rev, 6);
        assert_int_equal(kv.mod_rev, 6);
        assert_int_equal(kv.version, 1);
        store_kv_done(&kv);

        /* An empty txn succeeds and creates no revision. */
        rev = -1;
        assert_int_equal(store_txn(f->s, NULL, 0, NULL, 0, &rev), 0);
        assert_int_equal(rev, 6);
        assert_int_equal(store_txn(f->s, NULL, 0, NULL, 0, NULL), 0);
        assert_int_equal(revision(f->s), 6);
}

static void test_compare(void **state) {
        Fixture *f = *state;
        int64_t rev, r1;

        assert_int_equal(put(f->s, "rd/r1", "port=7000", &r1), 0);
        assert_int_equal(put(f->s, "unrelated", "x", NULL), 0);

        /* Update guarded by mod_rev: succeeds with the right one. */
        StoreCompare c = { .key = "rd/r1", .target = STORE_CMP_MOD_REV, .rev = r1 };
        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "rd/r1", .value = "port=7001" },
                { .type = STORE_OP_PUT, .key = "side", .value = "effect" },
        };
        assert_int_equal(store_txn(f->s, &c, 1, ops, ELEMENTSOF(ops), &rev), 0);
        assert_int_equal(rev, 3);
        assert_value(f->s, "rd/r1", "port=7001");

        /* Same txn again: mod_rev moved on, nothing applied, revision unchanged. */
        assert_int_equal(del(f->s, STORE_OP_DELETE, "side", NULL), 0);
        int64_t before = revision(f->s);
        ops[0].value = "port=7002";
        assert_int_equal(store_txn(f->s, &c, 1, ops, ELEMENTSOF(ops), &rev), -EAGAIN);
        assert_value(f->s, "rd/r1", "port=7001");
        assert_value(f->s, "side", NULL);
        assert_int_equal(revision(f->s), before);

        /* create_rev == 0: the key must be absent. */
        StoreCompare absent = { .key = "minor/1000", .target = STORE_CMP_CREATE_REV, .rev = 0 };
        StoreOp claim = { .type = STORE_OP_PUT, .key = "minor/1000", .value = "r1" };
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, &rev), 0);
        claim.value = "r2";
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, NULL), -EAGAIN);
        assert_value(f->s, "minor/1000", "r1");
        /* mod_rev == 0 also means absent. */
        absent.target = STORE_CMP_MOD_REV;
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, NULL), -EAGAIN);
        absent.key = "minor/1001";
        claim.key = "minor/1001";
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, NULL), 0);

        /* create_rev of an existing key. */
        StoreCompare created = { .key = "minor/1000", .target = STORE_CMP_CREATE_REV, .rev = rev };
        StoreOp upd = { .type = STORE_OP_PUT, .key = "minor/1000", .value = "r1b" };
        assert_int_equal(store_txn(f->s, &created, 1, &upd, 1, NULL), 0);
        created.rev = rev + 1;
        assert_int_equal(store_txn(f->s, &created, 1, &upd, 1, NULL), -EAGAIN);

        /* One failing compare among several: nothing applied. */
        int64_t cur = revision(f->s);
        StoreKV kv = {};
        assert_int_equal(store_get(f->s, "rd/r1", &kv), 0);
        StoreCompare many[] = {
                { .key = "rd/r1", .target = STORE_CMP_MOD_REV, .rev = kv.mod_rev },
                { .key = "unrelated", .target = STORE_CMP_CREATE_REV, .rev = 2 },
                { .key = "nothing", .target = STORE_CMP_MOD_REV, .rev = 5 },
        };
        store_kv_done(&kv);
        StoreOp wipe = { .type = STORE_OP_DELETE_PREFIX, .key = "rd/" };
        assert_int_equal(store_txn(f->s, many, ELEMENTSOF(many), &wipe, 1, NULL), -EAGAIN);
        assert_value(f->s, "rd/r1", "port=7001");
        assert_int_equal(revision(f->s), cur);
        many[2].rev = 0;
        assert_int_equal(store_txn(f->s, many, ELEMENTSOF(many), &wipe, 1, &rev), 0);
        assert_int_equal(rev, cur + 1);
        assert_value(f->s, "rd/r1", NULL);

        /* Compares only: a read-only check. */
        assert_int_equal(store_txn(f->s, many + 1, 1, NULL, 0, &rev), 0);
        assert_int_equal(rev, cur + 1);
}

static void test_two_handles(void **state) {
        Fixture *f = *state;
        Store *a = f->s, *b = NULL;
        StoreKV kv = {};

        assert_int_equal(store_open(f->url, &b), 0);

        /* Allocation: both see the minor free, both try to claim it. */
        assert_int_equal(store_get(a, "alloc/minor/1000", &kv), -ENOENT);
        assert_int_equal(store_get(b, "alloc/minor/1000", &kv), -ENOENT);
        StoreCompare c = { .key = "alloc/minor/1000", .target = STORE_CMP_CREATE_REV, .rev = 0 };
        StoreOp oa = { .type = STORE_OP_PUT, .key = "alloc/minor/1000", .value = "vol-a" };
        StoreOp ob = { .type = STORE_OP_PUT, .key = "alloc/minor/1000", .value = "vol-b" };
        assert_int_equal(store_txn(a, &c, 1, &oa, 1, NULL), 0);
        assert_int_equal(store_txn(b, &c, 1, &ob, 1, NULL), -EAGAIN);
        assert_value(a, "alloc/minor/1000", "vol-a");
        assert_value(b, "alloc/minor/1000", "vol-a");

        /* Read-modify-write on mod_rev: both read the same revision, the second writer loses. */
        assert_int_equal(store_get(a, "alloc/minor/1000", &kv), 0);
        int64_t seen = kv.mod_rev;
        store_kv_done(&kv);
        StoreCompare m = { .key = "alloc/minor/1000", .target = STORE_CMP_MOD_REV, .rev = seen };
        oa.value = "vol-a2";
        ob.value = "vol-b2";
        assert_int_equal(store_txn(b, &m, 1, &ob, 1, NULL), 0);
        assert_int_equal(store_txn(a, &m, 1, &oa, 1, NULL), -EAGAIN);
        assert_value(a, "alloc/minor/1000", "vol-b2");
        assert_int_equal(revision(a), revision(b));

        store_close(b);
}

#define RACE_KEYS 40

/* Claims alloc/minor/<i> for each i unless taken; returns the number won, or -1. */
static int race_worker(const char *url, const char *me) {
        Store *s = NULL;
        int wins = 0;
        if (store_open(url, &s) < 0)
                return -1;
        for (int i = 0; i < RACE_KEYS; i++) {
                char key[64];
                StoreKV kv = {};
                snprintf(key, sizeof key, "alloc/minor/%d", 1000 + i);
                int r = store_get(s, key, &kv);
                if (r == 0) {
                        store_kv_done(&kv);
                        continue;
                }
                if (r != -ENOENT)
                        goto fail;
                StoreCompare c = { .key = key, .target = STORE_CMP_CREATE_REV, .rev = 0 };
                StoreOp o = { .type = STORE_OP_PUT, .key = key, .value = me };
                r = store_txn(s, &c, 1, &o, 1, NULL);
                if (r == 0)
                        wins++;
                else if (r != -EAGAIN)
                        goto fail;
        }
        store_close(s);
        return wins;
fail:
        store_close(s);
        return -1;
}

static void test_two_processes(void **state) {
        Fixture *f = *state;

        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int w = race_worker(f->url, "child");
                _exit(w < 0 ? 255 : w);
        }
        int parent_wins = race_worker(f->url, "parent");
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        int child_wins = WEXITSTATUS(status);
        assert_int_not_equal(child_wins, 255);
        assert_true(parent_wins >= 0);
        assert_int_equal(parent_wins + child_wins, RACE_KEYS);

        /* Every minor claimed exactly once, by whoever reported the win. */
        StoreKVList l = {};
        int by_parent = 0;
        assert_int_equal(store_range(f->s, "alloc/minor/", &l), 0);
        assert_int_equal(l.n, RACE_KEYS);
        for (size_t i = 0; i < l.n; i++) {
                assert_int_equal(l.items[i].version, 1);
                by_parent += streq(l.items[i].value, "parent");
        }
        assert_int_equal(by_parent, parent_wins);
        assert_int_equal(l.revision, RACE_KEYS);
        store_kv_list_done(&l);
}

static void test_prefix_wildcards(void **state) {
        Fixture *f = *state;
        const char *keys[] = { "a%b/1", "a%bc", "a_b/1", "aXb/1", "axb/1", "a\\b", "a%", "a", NULL };
        for (size_t i = 0; keys[i]; i++)
                assert_int_equal(put(f->s, keys[i], keys[i], NULL), 0);

        assert_keys(f->s, "a%b", (const char *[]) { "a%b/1", "a%bc", NULL });
        assert_keys(f->s, "a%", (const char *[]) { "a%", "a%b/1", "a%bc", NULL });
        assert_keys(f->s, "a_b", (const char *[]) { "a_b/1", NULL });
        assert_keys(f->s, "a_", (const char *[]) { "a_b/1", NULL });
        assert_keys(f->s, "a\\", (const char *[]) { "a\\b", NULL });
        assert_keys(f->s, "%", (const char *[]) { NULL });
        assert_keys(f->s, "_", (const char *[]) { NULL });

        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "a_", NULL), 0);
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "a%b", NULL), 0);
        assert_keys(f->s, "", (const char *[]) { "a", "a%", "aXb/1", "a\\b", "axb/1", NULL });

        /* Bytes >= 0x80 sort after ASCII; a prefix ending in 0xff has no simple successor. */
        const char *high[] = { "\x7f", "\xfe", "\xfe\xff", "\xff", "\xff\x01", "\xff\xff", "\xff\xff\xff", NULL };
        for (size_t i = 0; high[i]; i++)
                assert_int_equal(put(f->s, high[i], "h", NULL), 0);
        assert_keys(f->s, "\xff", (const char *[]) { "\xff", "\xff\x01", "\xff\xff", "\xff\xff\xff", NULL });
        assert_keys(f->s, "\xff\xff", (const char *[]) { "\xff\xff", "\xff\xff\xff", NULL });
        assert_keys(f->s, "\xfe", (const char *[]) { "\xfe", "\xfe\xff", NULL });
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "\xff", NULL), 0);
        assert_keys(f->s, "\xfe", (const char *[]) { "\xfe", "\xfe\xff", NULL });
        assert_value(f->s, "\xff", NULL);
        assert_value(f->s, "\x7f", "h");
}

static void test_hostile_keys(void **state) {
        Fixture *f = *state;
        StoreKV kv = {};
        char key[STORE_KEY_MAX + 2];

        /* Empty, NULL and overlong keys. */
        assert_int_equal(store_get(f->s, "", &kv), -EINVAL);
        assert_int_equal(store_get(f->s, NULL, &kv), -EINVAL);
        assert_int_equal(put(f->s, "", "v", NULL), -EINVAL);
        assert_int_equal(del(f->s, STORE_OP_DELETE, "", NULL), -EINVAL);
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "", NULL), -EINVAL);
        memset(key, 'k', sizeof key);
        key[STORE_KEY_MAX] = 0;
        assert_int_equal(put(f->s, key, "max", NULL), 0);
        assert_value(f->s, key, "max");
        key[STORE_KEY_MAX] = 'k';
        key[STORE_KEY_MAX + 1] = 0;
        assert_int_equal(put(f->s, key, "too long", NULL), -EINVAL);
        assert_int_equal(store_get(f->s, key, &kv), -EINVAL);
        StoreKVList l = {};
        assert_int_equal(store_range(f->s, key, &l), -EINVAL);
        assert_int_equal(store_range(f->s, NULL, &l), -EINVAL);

        /* Content that would hurt if pasted into SQL, plus control bytes and broken UTF-8. */
        const char *nasty[] = {
                "'; DROP TABLE kv; --", "\" OR 1=1 --", "key\nwith\nnewlines", "\x01\x02\x1b[31m",
                "caf\xc3\xa9", "bad\xc3\x28utf8", "\xff\xfe", "x' || (SELECT value FROM kv) || '", NULL,
        };
        for (size_t i = 0; nasty[i]; i++) {
                assert_int_equal(put(f->s, nasty[i], nasty[i], NULL), 0);
                assert_value(f->s, nasty[i], nasty[i]);
        }
        assert_int_equal(del(f->s, STORE_OP_DELETE, nasty[0], NULL), 0);
        assert_value(f->s, nasty[0], NULL);
        assert_value(f->s, nasty[1], nasty[1]);

        /* Malformed txns. */
        StoreOp bad_type = { .type = (StoreOpType) 42, .key = "k" };
        assert_int_equal(store_txn(f->s, NULL, 0, &bad_type, 1, NULL), -EINVAL);
        StoreOp no_value = { .type = STORE_OP_PUT, .key = "k" };
        assert_int_equal(store_txn(f->s, NULL, 0, &no_value, 1, NULL), -EINVAL);
        StoreOp neg_lease = { .type = STORE_OP_PUT, .key = "k", .value = "v", .lease = -1 };
        assert_int_equal(store_txn(f->s, NULL, 0, &neg_lease, 1, NULL), -EINVAL);
        assert_int_equal(store_txn(f->s, NULL, 1, NULL, 0, NULL), -EINVAL);
        assert_int_equal(store_txn(f->s, NULL, 0, NULL, 1, NULL), -EINVAL);
        StoreCompare bad_cmp = { .key = "k", .target = (StoreCompareTarget) 9, .rev = 0 };
        assert_int_equal(store_txn(f->s, &bad_cmp, 1, NULL, 0, NULL), -EINVAL);
        StoreCompare neg_cmp = { .key = "k", .target = STORE_CMP_MOD_REV, .rev = -1 };
        assert_int_equal(store_txn(f->s, &neg_cmp, 1, NULL, 0, NULL), -EINVAL);
        StoreCompare empty_cmp = { .key = "", .target = STORE_CMP_MOD_REV, .rev = 0 };
        assert_int_equal(store_txn(f->s, &empty_cmp, 1, NULL, 0, NULL), -EINVAL);

        /* Two ops on one key, or a key under a prefix deleted in the same txn. */
        StoreOp dup[] = {
                { .type = STORE_OP_PUT, .key = "d/1", .value = "a" },
                { .type = STORE_OP_PUT, .key = "d/1", .value = "b" },
        };
        assert_int_equal(store_txn(f->s, NULL, 0, dup, 2, NULL), -EINVAL);
        StoreOp under[] = {
                { .type = STORE_OP_PUT, .key = "d/1", .value = "a" },
                { .type = STORE_OP_DELETE_PREFIX, .key = "d/" },
        };
        assert_int_equal(store_txn(f->s, NULL, 0, under, 2, NULL), -EINVAL);
        assert_value(f->s, "d/1", NULL);

        /* Too many ops. */
        StoreOp *many = calloc(STORE_TXN_OPS_MAX + 1, sizeof *many);
        char (*names)[16] = calloc(STORE_TXN_OPS_MAX + 1, sizeof *names);
        assert_non_null(many);
        assert_non_null(names);
        for (size_t i = 0; i <= STORE_TXN_OPS_MAX; i++) {
                snprintf(names[i], sizeof names[i], "many/%zu", i);
                many[i] = (StoreOp) { .type = STORE_OP_PUT, .key = names[i], .value = "x" };
        }
        assert_int_equal(store_txn(f->s, NULL, 0, many, STORE_TXN_OPS_MAX + 1, NULL), -E2BIG);
        assert_int_equal(store_txn(f->s, NULL, 0, many, STORE_TXN_OPS_MAX, NULL), 0);
        assert_keys(f->s, "many/127", (const char *[]) { "many/127", NULL });
        free(many);
        free(names);
}

static void test_big_values(void **state) {
        Fixture *f = *state;
        size_t n = 1u << 20;
        char *v = malloc(STORE_VALUE_MAX + 2);
        StoreKV kv = {};
        assert_non_null(v);

        /* 1 MiB of every non-NUL byte value. */
        for (size_t i = 0; i < n; i++)
                v[i] = (char) (1 + i % 255);
        v[n] = 0;
        assert_int_equal(put(f->s, "big", v, NULL), 0);
        f->s = store_close(f->s);
        assert_int_equal(store_open(f->url, &f->s), 0);
        assert_int_equal(store_get(f->s, "big", &kv), 0);
        assert_int_equal(kv.value_len, n);
        assert_memory_equal(kv.value, v, n + 1);
        store_kv_done(&kv);

        StoreWatch *w = NULL;
        StoreEventList ev = {};
        assert_int_equal(store_watch_open(f->s, "big", 0, &w), 0);
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 1);
        assert_int_equal(ev.items[0].kv.value_len, n);
        assert_memory_equal(ev.items[0].kv.value, v, n + 1);
        store_event_list_done(&ev);
        store_watch_close(w);

        /* The limit exactly, and one byte more. */
        memset(v, 'v', STORE_VALUE_MAX + 1);
        v[STORE_VALUE_MAX + 1] = 0;
        assert_int_equal(put(f->s, "huge", v, NULL), -E2BIG);
        assert_value(f->s, "huge", NULL);
        v[STORE_VALUE_MAX] = 0;
        assert_int_equal(put(f->s, "huge", v, NULL), 0);
        assert_int_equal(store_get(f->s, "huge", &kv), 0);
        assert_int_equal(kv.value_len, STORE_VALUE_MAX);
        store_kv_done(&kv);
        free(v);
}

static void assert_event(const StoreEvent *e, StoreEventType type, const char *key, const char *value, int64_t mod_rev) {
        assert_int_equal(e->type, type);
        assert_string_equal(e->kv.key, key);
        assert_int_equal(e->kv.mod_rev, mod_rev);
        if (value)
                assert_string_equal(e->kv.value, value);
        else
                assert_null(e->kv.value);
}

static void test_watch(void **state) {
        Fixture *f = *state;
        StoreWatch *w = NULL;
        StoreEventList ev = {};
        int64_t r1, r2, r3, r4;

        assert_int_equal(put(f->s, "w/old", "before", NULL), 0);
        assert_int_equal(store_watch_open(f->s, "w/", revision(f->s), &w), 0);
        int fd = store_watch_fd(w);
        assert_true(fd >= 0);

        /* Nothing yet; once read, the fd is quiet. */
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 0);
        assert_false(fd_readable(fd));

        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "w/a", .value = "A" },
                { .type = STORE_OP_PUT, .key = "w/b", .value = "B" },
                { .type = STORE_OP_PUT, .key = "x/other", .value = "X" },
        };
        assert_int_equal(store_txn(f->s, NULL, 0, ops, ELEMENTSOF(ops), &r1), 0);
        assert_true(fd_readable(fd));
        assert_int_equal(put(f->s, "w/a", "A2", &r2), 0);
        assert_int_equal(del(f->s, STORE_OP_DELETE, "w/a", &r3), 0);
        assert_int_equal(put(f->s, "wx", "not under w/", NULL), 0);
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "w/", &r4), 0);

        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_false(fd_readable(fd));
        assert_int_equal(ev.n, 6);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "w/a", "A", r1);
        assert_event(&ev.items[1], STORE_EVENT_PUT, "w/b", "B", r1);
        assert_event(&ev.items[2], STORE_EVENT_PUT, "w/a", "A2", r2);
        assert_int_equal(ev.items[2].kv.create_rev, r1);
        assert_int_equal(ev.items[2].kv.version, 2);
        assert_int_equal(ev.items[2].kv.value_len, 2);
        assert_event(&ev.items[3], STORE_EVENT_DELETE, "w/a", NULL, r3);
        assert_event(&ev.items[4], STORE_EVENT_DELETE, "w/b", NULL, r4);
        assert_event(&ev.items[5], STORE_EVENT_DELETE, "w/old", NULL, r4);
        store_event_list_done(&ev);
        assert_int_equal(ev.n, 0);

        /* Read again: nothing new. */
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 0);

        /* A commit through another handle on the same file wakes the watch. */
        Store *b = NULL;
        assert_int_equal(store_open(f->url, &b), 0);
        assert_int_equal(put(b, "w/c", "C", &r1), 0);
        assert_true(fd_readable(fd));
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 1);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "w/c", "C", r1);
        assert_int_equal(ev.items[0].kv.create_rev, r1);
        assert_int_equal(ev.items[0].kv.version, 1);
        store_event_list_done(&ev);

        /* A failed txn wakes nobody. */
        StoreCompare never = { .key = "w/c", .target = STORE_CMP_MOD_REV, .rev = 1 };
        assert_int_equal(store_txn(b, &never, 1, ops, 1, NULL), -EAGAIN);
        assert_false(fd_readable(fd));
        store_close(b);

        /* A second watch from 0 replays the whole history under its prefix. */
        StoreWatch *w0 = NULL;
        assert_int_equal(store_watch_open(f->s, "w/", 0, &w0), 0);
        assert_true(fd_readable(store_watch_fd(w0)));
        assert_int_equal(store_watch_read(w0, &ev), 0);
        assert_int_equal(ev.n, 8);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "w/old", "before", 1);
        assert_event(&ev.items[7], STORE_EVENT_PUT, "w/c", "C", r1);
        for (size_t i = 1; i < ev.n; i++)
                assert_true(ev.items[i].kv.mod_rev >= ev.items[i - 1].kv.mod_rev);
        store_event_list_done(&ev);

        /* A watch from a future revision sees only what comes after it. */
        StoreWatch *wf = NULL;
        int64_t cur = revision(f->s);
        assert_int_equal(store_watch_open(f->s, "", cur + 2, &wf), 0);
        assert_int_equal(put(f->s, "z/1", "1", NULL), 0);
        assert_int_equal(put(f->s, "z/2", "2", NULL), 0);
        assert_int_equal(put(f->s, "z/3", "3", NULL), 0);
        assert_int_equal(store_watch_read(wf, &ev), 0);
        assert_int_equal(ev.n, 1);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "z/3", "3", cur + 3);
        store_event_list_done(&ev);

        assert_int_equal(store_watch_open(f->s, "w/", -1, &wf), -EINVAL);
        store_watch_close(wf);
        store_watch_close(w0);
        assert_null(store_watch_close(w));
        assert_null(store_watch_close(NULL));
}

static void test_watch_batches(void **state) {
        Fixture *f = *state;
        StoreWatch *w = NULL;
        StoreEventList ev = {};
        StoreOp ops[STORE_TXN_OPS_MAX];
        char names[STORE_TXN_OPS_MAX][32];

        assert_int_equal(store_watch_open(f->s, "b/", 0, &w), 0);
        /* 10 revisions of 128 events: more than one read's worth. */
        for (int t = 0; t < 10; t++) {
                for (int i = 0; i < STORE_TXN_OPS_MAX; i++) {
                        snprintf(names[i], sizeof names[i], "b/%02d/%03d", t, i);
                        ops[i] = (StoreOp) { .type = STORE_OP_PUT, .key = names[i], .value = "v" };
                }
                assert_int_equal(store_txn(f->s, NULL, 0, ops, STORE_TXN_OPS_MAX, NULL), 0);
        }
        size_t total = 0, reads = 0;
        int64_t last = 0;
        while (fd_readable(store_watch_fd(w))) {
                assert_int_equal(store_watch_read(w, &ev), 0);
                reads++;
                /* Never splits a revision. */
                assert_int_equal(ev.n % STORE_TXN_OPS_MAX, 0);
                for (size_t i = 0; i < ev.n; i++) {
                        assert_true(ev.items[i].kv.mod_rev >= last);
                        last = ev.items[i].kv.mod_rev;
                }
                total += ev.n;
                store_event_list_done(&ev);
                assert_true(reads < 10);
        }
        assert_int_equal(total, 10 * STORE_TXN_OPS_MAX);
        assert_true(reads >= 2);
        store_watch_close(w);
}

static void test_watch_stale(void **state) {
        Fixture *f = *state;
        StoreWatch *w = NULL, *w2 = NULL;
        StoreEventList ev = {};

        for (int i = 0; i < 5; i++)
                assert_int_equal(put(f->s, "s/k", "v", NULL), 0);
        assert_int_equal(store_watch_open(f->s, "s/", 0, &w), 0);

        assert_int_equal(store_sqlite_compact(f->s, 6), -EINVAL);
        assert_int_equal(store_sqlite_compact(f->s, -1), -EINVAL);
        assert_int_equal(store_sqlite_compact(f->s, 3), 0);
        assert_int_equal(store_watch_read(w, &ev), -ESTALE);
        assert_int_equal(ev.n, 0);
        assert_int_equal(store_watch_read(w, &ev), -ESTALE);
        store_watch_close(w);

        /* From the compacted revision itself: events 4 and 5 are still there. */
        assert_int_equal(store_watch_open(f->s, "s/", 3, &w), 0);
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 2);
        assert_int_equal(ev.items[0].kv.mod_rev, 4);
        assert_int_equal(ev.items[0].kv.version, 4);
        assert_int_equal(ev.items[1].kv.mod_rev, 5);
        store_event_list_done(&ev);

        assert_int_equal(store_watch_open(f->s, "s/", 2, &w2), 0);
        assert_int_equal(store_watch_read(w2, &ev), -ESTALE);
        store_watch_close(w2);

        /* Compaction never goes backwards, and survives reopening. */
        assert_int_equal(store_sqlite_compact(f->s, 1), 0);
        f->s = store_close(f->s); /* w keeps the database open */
        assert_int_equal(store_open(f->url, &f->s), 0);
        assert_int_equal(store_watch_open(f->s, "s/", 2, &w2), 0);
        assert_int_equal(store_watch_read(w2, &ev), -ESTALE);
        store_watch_close(w2);

        /* The watch outlived its store handle. */
        assert_int_equal(put(f->s, "s/k", "v6", NULL), 0);
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 1);
        assert_string_equal(ev.items[0].kv.value, "v6");
        store_event_list_done(&ev);
        store_watch_close(w);
}

static void test_auto_compaction(void **state) {
        Fixture *f = *state;
        StoreWatch *w = NULL;
        StoreEventList ev = {};
        int64_t rev = 0;

        assert_int_equal(store_watch_open(f->s, "", 0, &w), 0);
        for (int i = 0; i < STORE_SQLITE_HISTORY_KEEP + 5; i++) {
                char v[32];
                snprintf(v, sizeof v, "%d", i);
                assert_int_equal(put(f->s, "c", v, &rev), 0);
        }
        assert_int_equal(rev, STORE_SQLITE_HISTORY_KEEP + 5);
        assert_int_equal(store_watch_read(w, &ev), -ESTALE);
        store_watch_close(w);
        assert_int_equal(store_watch_open(f->s, "", 5, &w), 0);
        size_t total = 0;
        for (int i = 0; i < 20 && fd_readable(store_watch_fd(w)); i++) {
                assert_int_equal(store_watch_read(w, &ev), 0);
                total += ev.n;
                store_event_list_done(&ev);
        }
        assert_int_equal(total, STORE_SQLITE_HISTORY_KEEP);
        store_watch_close(w);
}

static void test_leases(void **state) {
        Fixture *f = *state;
        int64_t id = 0, id2 = 0, rev;
        StoreKV kv = {};

        assert_int_equal(store_lease_grant(f->s, 0, &id), -EINVAL);
        assert_int_equal(store_lease_grant(f->s, -5, &id), -EINVAL);
        assert_int_equal(store_lease_grant(f->s, 60, &id), 0);
        assert_true(id > 0);
        assert_int_equal(store_lease_grant(f->s, 60, &id2), 0);
        assert_true(id2 > 0 && id2 != id);
        assert_int_equal(revision(f->s), 0); /* granting is not a change of keys */

        assert_int_equal(put_lease(f->s, "node/alpha/alive", "1", id, NULL), 0);
        assert_int_equal(put_lease(f->s, "node/alpha/addr", "10.0.0.1", id, NULL), 0);
        assert_int_equal(put_lease(f->s, "node/beta/alive", "1", id2, NULL), 0);
        assert_int_equal(put(f->s, "node/alpha/config", "keep", NULL), 0);
        assert_int_equal(store_get(f->s, "node/alpha/alive", &kv), 0);
        assert_int_equal(kv.lease, id);
        store_kv_done(&kv);

        /* Unknown lease: -ENOENT, and the whole txn is not applied. */
        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "x/1", .value = "v" },
                { .type = STORE_OP_PUT, .key = "x/2", .value = "v", .lease = id + 1000 },
        };
        int64_t before = revision(f->s);
        assert_int_equal(store_txn(f->s, NULL, 0, ops, 2, NULL), -ENOENT);
        assert_value(f->s, "x/1", NULL);
        assert_int_equal(revision(f->s), before);

        /* Revoke: its keys go, in one revision, visible to watches as deletes. */
        StoreWatch *w = NULL;
        StoreEventList ev = {};
        assert_int_equal(store_watch_open(f->s, "node/", before, &w), 0);
        assert_int_equal(store_lease_keepalive(f->s, id), 0);
        assert_int_equal(store_lease_revoke(f->s, id), 0);
        rev = revision(f->s);
        assert_int_equal(rev, before + 1);
        assert_value(f->s, "node/alpha/alive", NULL);
        assert_value(f->s, "node/alpha/addr", NULL);
        assert_value(f->s, "node/alpha/config", "keep");
        assert_value(f->s, "node/beta/alive", "1");
        assert_true(fd_readable(store_watch_fd(w)));
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 2);
        assert_event(&ev.items[0], STORE_EVENT_DELETE, "node/alpha/addr", NULL, rev);
        assert_event(&ev.items[1], STORE_EVENT_DELETE, "node/alpha/alive", NULL, rev);
        store_event_list_done(&ev);
        store_watch_close(w);

        assert_int_equal(store_lease_revoke(f->s, id), -ENOENT);
        assert_int_equal(store_lease_keepalive(f->s, id), -ENOENT);
        assert_int_equal(put_lease(f->s, "node/alpha/alive", "1", id, NULL), -ENOENT);
        assert_int_equal(store_lease_revoke(f->s, 0), -ENOENT);
        assert_int_equal(store_lease_keepalive(f->s, -3), -ENOENT);

        /* Overwriting without a lease detaches the key; a lease without keys revokes cleanly. */
        assert_int_equal(put(f->s, "node/beta/alive", "1", NULL), 0);
        assert_int_equal(store_lease_revoke(f->s, id2), 0);
        assert_value(f->s, "node/beta/alive", "1");

        /* Ids are not reused, even across reopening. */
        f->s = store_close(f->s);
        assert_int_equal(store_open(f->url, &f->s), 0);
        int64_t id3 = 0;
        assert_int_equal(store_lease_grant(f->s, 60, &id3), 0);
        assert_true(id3 > id2);
}

static void test_lease_expiry(void **state) {
        Fixture *f = *state;
        int64_t a = 0, b = 0;
        Store *other = NULL;

        assert_int_equal(store_lease_grant(f->s, 1, &a), 0);
        assert_int_equal(store_lease_grant(f->s, 1, &b), 0);
        assert_int_equal(put_lease(f->s, "live/a", "1", a, NULL), 0);
        assert_int_equal(put_lease(f->s, "live/b", "1", b, NULL), 0);
        int64_t rev = revision(f->s);

        /* b is kept alive, a is not. */
        sleep_ms(600);
        assert_int_equal(store_lease_keepalive(f->s, b), 0);
        sleep_ms(600);
        /* Another handle reaps it: the daemon that granted it may be gone. */
        assert_int_equal(store_open(f->url, &other), 0);
        assert_value(other, "live/a", NULL);
        assert_value(other, "live/b", "1");
        assert_int_equal(revision(other), rev + 1);
        assert_int_equal(store_lease_keepalive(f->s, a), -ENOENT);
        assert_int_equal(put_lease(f->s, "live/a", "1", a, NULL), -ENOENT);

        sleep_ms(1100);
        assert_int_equal(store_lease_keepalive(f->s, b), -ENOENT);
        assert_value(f->s, "live/b", NULL);
        assert_int_equal(revision(f->s), rev + 2);
        store_close(other);
}

static void test_faults(void **state) {
        Fixture *f = *state;
        int64_t rev;
        Store *s = NULL;
        StoreWatch *w = NULL;
        StoreEventList ev = {};

        assert_int_equal(store_sqlite_set_fault("nowhere", -EIO), -EINVAL);
        assert_int_equal(store_sqlite_set_fault("commit", 0), -EINVAL);
        assert_int_equal(store_sqlite_set_fault(NULL, 0), 0);

        assert_int_equal(put(f->s, "k", "v1", &rev), 0);
        assert_int_equal(store_watch_open(f->s, "", rev, &w), 0);
        assert_int_equal(store_watch_read(w, &ev), 0);

        /* A commit that fails leaves nothing behind. */
        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "k", .value = "v2" },
                { .type = STORE_OP_PUT, .key = "k2", .value = "new" },
        };
        assert_int_equal(store_sqlite_set_fault("commit", -EIO), 0);
        assert_int_equal(store_txn(f->s, NULL, 0, ops, 2, NULL), -EIO);
        assert_value(f->s, "k", "v1");
        assert_value(f->s, "k2", NULL);
        assert_int_equal(revision(f->s), rev);
        assert_false(fd_readable(store_watch_fd(w)));
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 0);

        /* Disk full and a busy database. */
        assert_int_equal(store_sqlite_set_fault("commit", -ENOSPC), 0);
        assert_int_equal(store_txn(f->s, NULL, 0, ops, 2, NULL), -ENOSPC);
        assert_int_equal(store_sqlite_set_fault("begin", -EBUSY), 0);
        assert_int_equal(store_txn(f->s, NULL, 0, ops, 2, NULL), -EBUSY);
        assert_int_equal(store_sqlite_set_fault("commit", -EIO), 0);
        int64_t lease;
        assert_int_equal(store_lease_grant(f->s, 10, &lease), -EIO);
        assert_value(f->s, "k", "v1");
        assert_int_equal(revision(f->s), rev);

        /* One-shot: the next txn goes through. */
        assert_int_equal(store_txn(f->s, NULL, 0, ops, 2, &rev), 0);
        assert_value(f->s, "k", "v2");
        assert_value(f->s, "k2", "new");
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 2);
        assert_int_equal(ev.items[0].kv.mod_rev, rev);
        store_event_list_done(&ev);
        store_watch_close(w);

        /* Disarmed faults do not fire. */
        assert_int_equal(store_sqlite_set_fault("commit", -EIO), 0);
        assert_int_equal(store_sqlite_set_fault(NULL, 0), 0);
        assert_int_equal(put(f->s, "k3", "v", NULL), 0);

        assert_int_equal(store_sqlite_set_fault("open", -EACCES), 0);
        assert_int_equal(store_open(f->url, &s), -EACCES);
        assert_int_equal(store_open(f->url, &s), 0);
        store_close(s);

        /* A commit failure in the lease reaper leaves the keys; the next access reaps them. */
        assert_int_equal(store_lease_grant(f->s, 1, &lease), 0);
        assert_int_equal(put_lease(f->s, "leased", "v", lease, &rev), 0);
        sleep_ms(1100);
        assert_int_equal(store_sqlite_set_fault("commit", -EIO), 0);
        StoreKV kv = {};
        assert_int_equal(store_get(f->s, "leased", &kv), -EIO);
        assert_int_equal(revision(f->s), rev + 1);
        assert_value(f->s, "leased", NULL);
}

/* ---- the read cache (store-cache.c) ---- */

/* A store that can be switched unreachable: the SQLite store behind, or
 * -EHOSTUNREACH as the etcd backend answers when etcd cannot be reached. */
typedef struct Switch {
        Store base;
        Store *real;
        bool down;
} Switch;

static int sw_get(Store *s, const char *key, StoreKV *ret) {
        Switch *w = (Switch *) s;
        return w->down ? -EHOSTUNREACH : store_get(w->real, key, ret);
}
static int sw_range(Store *s, const char *prefix, StoreKVList *ret) {
        Switch *w = (Switch *) s;
        return w->down ? -EHOSTUNREACH : store_range(w->real, prefix, ret);
}
static int sw_txn(Store *s, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops, int64_t *ret_rev) {
        Switch *w = (Switch *) s;
        return w->down ? -EHOSTUNREACH : store_txn(w->real, cmp, n_cmp, ops, n_ops, ret_rev);
}
static void sw_close(Store *s) {
        free(s); /* the fixture closes the real store */
}
static const StoreOps switch_ops = {
        .scheme = "switch", .close = sw_close, .get = sw_get, .range = sw_range, .txn = sw_txn,
};

static void test_cache_outage(void **state) {
        Fixture *f = *state;
        Switch *w = calloc(1, sizeof *w);
        Store *c = NULL;
        StoreKVList l = {};
        assert_non_null(w);
        *w = (Switch) { .base.ops = &switch_ops, .real = f->s };
        assert_int_equal(store_cache_new_shared(&w->base, NULL, &c), 0);
        assert_int_equal(put(c, "a/1", "v1", NULL), 0);
        assert_int_equal(put(c, "a/gone", "old", NULL), 0);
        assert_int_equal(put(c, "b/1", "x", NULL), 0);
        assert_int_equal(put(c, "b/2", "y", NULL), 0);
        assert_value(c, "a/1", "v1");
        assert_value(c, "a/2", NULL);      /* read as absent */
        assert_value(c, "a/gone", "old");
        assert_int_equal(del(c, STORE_OP_DELETE, "a/gone", NULL), 0);
        assert_value(c, "a/gone", NULL);   /* gone since: the cache forgets the old value */
        assert_keys(c, "b/", (const char *const[]) { "b/1", "b/2", NULL });
        assert_int_equal(store_cache_stale_reads(c), 0);

        w->down = true;
        assert_value(c, "a/1", "v1");      /* the last-known value */
        assert_value(c, "a/2", NULL);      /* absent as last read, not unavailable */
        assert_value(c, "a/gone", NULL);
        assert_keys(c, "b/", (const char *const[]) { "b/1", "b/2", NULL });
        assert_int_equal(store_cache_stale_reads(c), 4);
        StoreKV kv = {};
        assert_int_equal(store_get(c, "a/3", &kv), -EHOSTUNREACH); /* never read */
        assert_int_equal(store_range(c, "a/", &l), -EHOSTUNREACH); /* never read whole */
        assert_int_equal(put(c, "a/4", "v", NULL), -EHOSTUNREACH); /* writes are never cached */
        assert_int_equal(store_cache_stale_reads(c), 4);

        w->down = false;
        assert_int_equal(del(c, STORE_OP_DELETE, "b/2", NULL), 0);
        assert_keys(c, "b/", (const char *const[]) { "b/1", NULL });
        assert_value(c, "a/4", NULL);
        w->down = true;
        assert_keys(c, "b/", (const char *const[]) { "b/1", NULL }); /* the range as last read */
        assert_value(c, "b/2", NULL);
        assert_int_equal(store_cache_stale_reads(c), 6);
        assert_int_equal(store_cache_stale_reads(f->s), 0); /* no cache: never stale */
        store_close(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_close_reopen, setup, teardown),
                cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_put_get_range_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_revisions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prefix_wildcards, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_big_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch_batches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch_stale, setup, teardown),
                cmocka_unit_test_setup_teardown(test_auto_compaction, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_outside_reader, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_outage, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
