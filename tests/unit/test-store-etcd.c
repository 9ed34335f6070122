/* Unit tests for the etcd store backend against a real etcd: behaviour as the SQLite backend, plus outages, compaction, auth and TLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"
#include "drbdd/store/store-etcd.h"
#include "drbdd/store/store.h"

/* ---- a real etcd ---- */

typedef struct Etcd {
        char dir[64];
        char client[64]; /* http(s)://127.0.0.1:PORT */
        char peer[64];
        const char *extra[16]; /* more etcd arguments */
        pid_t pid;
} Etcd;

static Etcd etcd_main;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *) &a, &l) < 0)
                return -1;
        close(fd);
        return ntohs(a.sin_port);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

/* Runs argv quietly; returns its exit status, or -1. */
static int run(const char *const *argv) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                dup2(null, 1);
                dup2(null, 2);
                setenv("ETCDCTL_API", "3", 1);
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

static bool log_says_ready(const Etcd *e) {
        char path[128], line[4096];
        bool ready = false;
        snprintf(path, sizeof path, "%s/etcd.log", e->dir);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        while (!ready && fgets(line, sizeof line, f))
                ready = strstr(line, "ready to serve client requests") != NULL;
        fclose(f);
        return ready;
}

/* Starts etcd on its data dir (kept across restarts) and waits until it serves. */
static int etcd_start(Etcd *e) {
        char data[128], logp[128], name_peer[128];
        snprintf(data, sizeof data, "%s/data", e->dir);
        snprintf(logp, sizeof logp, "%s/etcd.log", e->dir);
        snprintf(name_peer, sizeof name_peer, "default=%s", e->peer);
        unlink(logp);

        const char *argv[48] = {
                "etcd", "--data-dir", data, "--listen-client-urls", e->client, "--advertise-client-urls", e->client,
                "--listen-peer-urls", e->peer, "--initial-advertise-peer-urls", e->peer, "--initial-cluster",
                name_peer,
        };
        size_t n = 13;
        for (size_t i = 0; e->extra[i]; i++)
                argv[n++] = e->extra[i];

        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Never outlive the test, even when it crashes. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                dup2(fd, 1);
                dup2(fd, 2);
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        e->pid = pid;
        for (int64_t deadline = now_ms() + 20000; now_ms() < deadline; sleep_ms(50)) {
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        e->pid = 0;
                        return -ECHILD;
                }
                if (log_says_ready(e))
                        return 0;
        }
        return -ETIMEDOUT;
}

static void etcd_kill(Etcd *e) {
        if (e->pid <= 0)
                return;
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        e->pid = 0;
}

static int etcd_new(Etcd *e, bool tls) {
        strcpy(e->dir, "/tmp/test-store-etcd-XXXXXX");
        if (!mkdtemp(e->dir))
                return -errno;
        int port = free_port(), peer = free_port();
        if (port < 0 || peer < 0 || port == peer)
                return -EADDRNOTAVAIL;
        snprintf(e->client, sizeof e->client, "%s://127.0.0.1:%d", tls ? "https" : "http", port);
        snprintf(e->peer, sizeof e->peer, "http://127.0.0.1:%d", peer);
        return 0;
}

static void etcd_destroy(Etcd *e) {
        etcd_kill(e);
        if (e->dir[0])
                nftw(e->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        *e = (Etcd) {};
}

static int group_setup(void **state) {
        /* Say what is missing rather than fail with a bare "GROUP SETUP". */
        if (system("command -v etcd >/dev/null 2>&1") != 0) {
                fprintf(stderr, "test-store-etcd: 'etcd' not found on PATH: install Debian's etcd-server (make deps)\n");
                return -1;
        }
        if (etcd_new(&etcd_main, false) < 0)
                return -1;
        /* Room for test_big_values' 4 MiB value (etcd's default is 1.5 MiB). */
        etcd_main.extra[0] = "--max-request-bytes=5242880";
        return etcd_start(&etcd_main) < 0 ? -1 : 0;
}

static int group_teardown(void **state) {
        etcd_destroy(&etcd_main);
        return 0;
}

/* ---- per test: a handle on a wiped store ---- */

typedef struct Fixture {
        char url[256];
        Store *s;
        int64_t base; /* revision after the wipe: the tests count from here */
} Fixture;

static int64_t revision(Store *s) {
        int64_t rev = -1;
        assert_int_equal(store_revision(s, &rev), 0);
        return rev;
}

static void wipe(Store *s) {
        StoreKVList l = {};
        assert_int_equal(store_range(s, "", &l), 0);
        for (size_t i = 0; i < l.n; i += STORE_TXN_OPS_MAX) {
                StoreOp ops[STORE_TXN_OPS_MAX];
                size_t n = MIN(l.n - i, (size_t) STORE_TXN_OPS_MAX);
                for (size_t j = 0; j < n; j++)
                        ops[j] = (StoreOp) { .type = STORE_OP_DELETE, .key = l.items[i + j].key };
                assert_int_equal(store_txn(s, NULL, 0, ops, n, NULL), 0);
        }
        store_kv_list_done(&l);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        snprintf(f->url, sizeof f->url, "etcd:%s", etcd_main.client);
        assert_int_equal(store_open(f->url, &f->s), 0);
        wipe(f->s);
        f->base = revision(f->s);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        store_close(f->s);
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

static bool fd_wait(int fd, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, timeout_ms);
        assert_true(r >= 0);
        return r > 0 && (p.revents & POLLIN);
}

/* Reads from w until n events arrived (or timeout); appends to *all. */
static void watch_collect(StoreWatch *w, size_t n, int timeout_ms, StoreEventList *all) {
        int64_t deadline = now_ms() + timeout_ms;
        while (all->n < n && now_ms() < deadline) {
                if (!fd_wait(store_watch_fd(w), (int) MAX(deadline - now_ms(), 1)))
                        continue;
                StoreEventList ev = {};
                assert_int_equal(store_watch_read(w, &ev), 0);
                if (ev.n == 0)
                        continue;
                all->items = reallocarray(all->items, all->n + ev.n, sizeof *all->items);
                assert_non_null(all->items);
                memcpy(all->items + all->n, ev.items, ev.n * sizeof *ev.items);
                all->n += ev.n;
                free(ev.items);
        }
        if (all->n != n)
                fail_msg("watch: %zu events, expected %zu", all->n, n);
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

/* ---- tests ---- */

static void test_open_locations(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        char path[256], url[512];

        const char *bad[] = {
                "etcd:", "etcd:127.0.0.1:2379", "etcd:ftp://h:21", "etcd:http://", "etcd:http://h/v3",
                "etcd:http://user:pw@h:2379", "etcd:http://h:2379,", "etcd:,http://h:2379", "etcd:http://h?x=1",
                "etcd:http://h?timeout-ms=0", "etcd:http://h?timeout-ms=5s", "etcd:http://h?timeout-ms=1&timeout-ms=2",
                "etcd:http://h?cacert=/etc/hostname", /* TLS options without https */
                "etcd:https://h?cert=/etc/hostname", /* cert without key */
                "etcd:https://h?user=u",             /* user without password */
                "etcd:http://h?user=%00", "etcd:http://h?user=%zz", "etcd:http://h?user=", "etcd:http://h?&",
                "etcd:http://h?connect-timeout-ms=-1", NULL,
        };
        for (size_t i = 0; bad[i]; i++)
                if (store_open(bad[i], &s) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(store_open("etcd:https://h?cacert=/nonexistent/ca.pem", &s), -ENOENT);
        assert_int_equal(store_open("etcd:http://h?user=u&password-file=/nonexistent", &s), -ENOENT);
        assert_null(s);

        /* Good ones; opening does not contact etcd. */
        snprintf(path, sizeof path, "%s/pw", etcd_main.dir);
        FILE *p = fopen(path, "we");
        assert_non_null(p);
        fputs("secret\n", p);
        fclose(p);
        snprintf(url, sizeof url,
                 "etcd:https://h1:2379/,http://[::1]:2379,http://h3?cacert=/etc/hostname&cert=/etc/hostname&key=%%2Fetc%%2Fhostname"
                 "&user=drbdd&password-file=%s&timeout-ms=100&connect-timeout-ms=100",
                 path);
        assert_int_equal(store_open(url, &s), 0);
        s = store_close(s);
        assert_int_equal(store_open("etcd:http://127.0.0.1:1", &s), 0);
        store_close(s);
        assert_non_null(f->s);
}

static void test_put_get_range_delete(void **state) {
        Fixture *f = *state;
        int64_t rev, b = f->base;

        assert_value(f->s, "a/1", NULL);
        assert_int_equal(put(f->s, "a/2", "two", NULL), 0);
        assert_int_equal(put(f->s, "a/1", "one", NULL), 0);
        assert_int_equal(put(f->s, "b/1", "bee", NULL), 0);
        assert_int_equal(put(f->s, "a", "bare", NULL), 0);
        assert_int_equal(put(f->s, "a/10", "ten", &rev), 0);
        assert_int_equal(rev, b + 5);

        assert_value(f->s, "a/1", "one");
        assert_keys(f->s, "a/", (const char *[]) { "a/1", "a/10", "a/2", NULL });
        assert_keys(f->s, "a", (const char *[]) { "a", "a/1", "a/10", "a/2", NULL });
        assert_keys(f->s, "", (const char *[]) { "a", "a/1", "a/10", "a/2", "b/1", NULL });
        assert_keys(f->s, "c", (const char *[]) { NULL });

        StoreKVList l = {};
        assert_int_equal(store_range(f->s, "a/", &l), 0);
        assert_int_equal(l.revision, b + 5);
        assert_string_equal(l.items[1].value, "ten");
        assert_int_equal(l.items[1].value_len, 3);
        store_kv_list_done(&l);

        assert_int_equal(put(f->s, "a/1", "uno", NULL), 0);
        assert_value(f->s, "a/1", "uno");

        /* Deleting an absent key succeeds and creates no revision. */
        assert_int_equal(del(f->s, STORE_OP_DELETE, "a/1", &rev), 0);
        assert_int_equal(rev, b + 7);
        assert_value(f->s, "a/1", NULL);
        assert_int_equal(del(f->s, STORE_OP_DELETE, "a/1", &rev), 0);
        assert_int_equal(rev, b + 7);
        assert_int_equal(revision(f->s), b + 7);

        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "a/", &rev), 0);
        assert_int_equal(rev, b + 8);
        assert_keys(f->s, "", (const char *[]) { "a", "b/1", NULL });
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "a/", &rev), 0);
        assert_int_equal(rev, b + 8);

        /* Empty value: the gateway leaves the field out. */
        assert_int_equal(put(f->s, "empty", "", NULL), 0);
        assert_value(f->s, "empty", "");
}

static void test_revisions(void **state) {
        Fixture *f = *state;
        StoreKV kv = {};
        int64_t rev, b = f->base;

        assert_int_equal(put(f->s, "k", "v1", &rev), 0);
        assert_int_equal(rev, b + 1);
        assert_int_equal(store_get(f->s, "k", &kv), 0);
        assert_int_equal(kv.create_rev, b + 1);
        assert_int_equal(kv.mod_rev, b + 1);
        assert_int_equal(kv.version, 1);
        assert_int_equal(kv.lease, 0);
        store_kv_done(&kv);

        assert_int_equal(put(f->s, "other", "x", NULL), 0);
        assert_int_equal(put(f->s, "k", "v2", &rev), 0);
        assert_int_equal(store_get(f->s, "k", &kv), 0);
        assert_int_equal(kv.create_rev, b + 1);
        assert_int_equal(kv.mod_rev, b + 3);
        assert_int_equal(kv.version, 2);
        store_kv_done(&kv);

        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "m/1", .value = "a" },
                { .type = STORE_OP_PUT, .key = "m/2", .value = "b" },
                { .type = STORE_OP_DELETE, .key = "other" },
        };
        assert_int_equal(store_txn(f->s, NULL, 0, ops, ELEMENTSOF(ops), &rev), 0);
        assert_int_equal(rev, b + 4);
        StoreKVList l = {};
        assert_int_equal(store_range(f->s, "m/", &l), 0);
        assert_int_equal(l.n, 2);
        for (size_t i = 0; i < l.n; i++) {
                assert_int_equal(l.items[i].create_rev, b + 4);
                assert_int_equal(l.items[i].mod_rev, b + 4);
                assert_int_equal(l.items[i].version, 1);
        }
        store_kv_list_done(&l);

        assert_int_equal(del(f->s, STORE_OP_DELETE, "k", NULL), 0);
        assert_int_equal(put(f->s, "k", "v3", &rev), 0);
        assert_int_equal(rev, b + 6);
        assert_int_equal(store_get(f->s, "k", &kv), 0);
        assert_int_equal(kv.create_rev, b + 6);
        assert_int_equal(kv.version, 1);
        store_kv_done(&kv);

        rev = -1;
        assert_int_equal(store_txn(f->s, NULL, 0, NULL, 0, &rev), 0);
        assert_int_equal(rev, b + 6);
        assert_int_equal(revision(f->s), b + 6);
}

static void test_compare(void **state) {
        Fixture *f = *state;
        int64_t rev, r1;

        assert_int_equal(put(f->s, "rd/r1", "port=7000", &r1), 0);
        assert_int_equal(put(f->s, "unrelated", "x", NULL), 0);

        StoreCompare c = { .key = "rd/r1", .target = STORE_CMP_MOD_REV, .rev = r1 };
        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "rd/r1", .value = "port=7001" },
                { .type = STORE_OP_PUT, .key = "side", .value = "effect" },
        };
        assert_int_equal(store_txn(f->s, &c, 1, ops, ELEMENTSOF(ops), &rev), 0);
        assert_int_equal(rev, r1 + 2);
        assert_value(f->s, "rd/r1", "port=7001");

        assert_int_equal(del(f->s, STORE_OP_DELETE, "side", NULL), 0);
        int64_t before = revision(f->s);
        ops[0].value = "port=7002";
        assert_int_equal(store_txn(f->s, &c, 1, ops, ELEMENTSOF(ops), &rev), -EAGAIN);
        assert_value(f->s, "rd/r1", "port=7001");
        assert_value(f->s, "side", NULL);
        assert_int_equal(revision(f->s), before);

        /* create_rev == 0 and mod_rev == 0: the key must be absent (etcd omits zero fields). */
        StoreCompare absent = { .key = "minor/1000", .target = STORE_CMP_CREATE_REV, .rev = 0 };
        StoreOp claim = { .type = STORE_OP_PUT, .key = "minor/1000", .value = "r1" };
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, &rev), 0);
        claim.value = "r2";
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, NULL), -EAGAIN);
        assert_value(f->s, "minor/1000", "r1");
        absent.target = STORE_CMP_MOD_REV;
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, NULL), -EAGAIN);
        absent.key = claim.key = "minor/1001";
        assert_int_equal(store_txn(f->s, &absent, 1, &claim, 1, NULL), 0);

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
                { .key = "unrelated", .target = STORE_CMP_CREATE_REV, .rev = r1 + 1 },
                { .key = "nothing", .target = STORE_CMP_MOD_REV, .rev = 5 },
        };
        store_kv_done(&kv);
        StoreOp wipe_rd = { .type = STORE_OP_DELETE_PREFIX, .key = "rd/" };
        assert_int_equal(store_txn(f->s, many, ELEMENTSOF(many), &wipe_rd, 1, NULL), -EAGAIN);
        assert_value(f->s, "rd/r1", "port=7001");
        assert_int_equal(revision(f->s), cur);
        many[2].rev = 0;
        assert_int_equal(store_txn(f->s, many, ELEMENTSOF(many), &wipe_rd, 1, &rev), 0);
        assert_int_equal(rev, cur + 1);
        assert_value(f->s, "rd/r1", NULL);

        /* Compares only. */
        assert_int_equal(store_txn(f->s, many + 1, 1, NULL, 0, &rev), 0);
        assert_int_equal(rev, cur + 1);
}

static void test_two_handles(void **state) {
        Fixture *f = *state;
        Store *a = f->s, *b = NULL;
        StoreKV kv = {};

        assert_int_equal(store_open(f->url, &b), 0);
        StoreCompare c = { .key = "alloc/minor/1000", .target = STORE_CMP_CREATE_REV, .rev = 0 };
        StoreOp oa = { .type = STORE_OP_PUT, .key = "alloc/minor/1000", .value = "vol-a" };
        StoreOp ob = { .type = STORE_OP_PUT, .key = "alloc/minor/1000", .value = "vol-b" };
        assert_int_equal(store_txn(a, &c, 1, &oa, 1, NULL), 0);
        assert_int_equal(store_txn(b, &c, 1, &ob, 1, NULL), -EAGAIN);
        assert_value(b, "alloc/minor/1000", "vol-a");

        assert_int_equal(store_get(a, "alloc/minor/1000", &kv), 0);
        StoreCompare m = { .key = "alloc/minor/1000", .target = STORE_CMP_MOD_REV, .rev = kv.mod_rev };
        store_kv_done(&kv);
        ob.value = "vol-b2";
        oa.value = "vol-a2";
        assert_int_equal(store_txn(b, &m, 1, &ob, 1, NULL), 0);
        assert_int_equal(store_txn(a, &m, 1, &oa, 1, NULL), -EAGAIN);
        assert_value(a, "alloc/minor/1000", "vol-b2");
        assert_int_equal(revision(a), revision(b));
        store_close(b);
}

#define RACE_KEYS 40

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

        StoreKVList l = {};
        int by_parent = 0;
        assert_int_equal(store_range(f->s, "alloc/minor/", &l), 0);
        assert_int_equal(l.n, RACE_KEYS);
        for (size_t i = 0; i < l.n; i++) {
                assert_int_equal(l.items[i].version, 1);
                by_parent += streq(l.items[i].value, "parent");
        }
        assert_int_equal(by_parent, parent_wins);
        assert_int_equal(l.revision, f->base + RACE_KEYS);
        store_kv_list_done(&l);
}

static void test_prefix_odd_bytes(void **state) {
        Fixture *f = *state;
        const char *keys[] = { "a%b/1", "a%bc", "a_b/1", "aXb/1", "a\\b", "a%", "a", "a*", "a?", NULL };
        for (size_t i = 0; keys[i]; i++)
                assert_int_equal(put(f->s, keys[i], keys[i], NULL), 0);
        assert_keys(f->s, "a%b", (const char *[]) { "a%b/1", "a%bc", NULL });
        assert_keys(f->s, "a%", (const char *[]) { "a%", "a%b/1", "a%bc", NULL });
        assert_keys(f->s, "a_", (const char *[]) { "a_b/1", NULL });
        assert_keys(f->s, "a*", (const char *[]) { "a*", NULL });
        assert_keys(f->s, "%", (const char *[]) { NULL });
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "a%b", NULL), 0);
        assert_keys(f->s, "a%", (const char *[]) { "a%", NULL });

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

        const char *nasty[] = { "key\nwith\nnewlines", "\x01\x02\x1b[31m", "caf\xc3\xa9", "bad\xc3\x28utf8",
                                "{\"json\": \"in a key\"}", "\"\\\"", NULL };
        for (size_t i = 0; nasty[i]; i++) {
                assert_int_equal(put(f->s, nasty[i], nasty[i], NULL), 0);
                assert_value(f->s, nasty[i], nasty[i]);
        }
        char key[STORE_KEY_MAX + 1];
        memset(key, 'k', STORE_KEY_MAX);
        key[STORE_KEY_MAX] = 0;
        assert_int_equal(put(f->s, key, "max", NULL), 0);
        assert_value(f->s, key, "max");
}

static void test_big_values(void **state) {
        Fixture *f = *state;
        size_t n = 1u << 20;
        char *v = malloc(STORE_VALUE_MAX + 1);
        StoreKV kv = {};
        assert_non_null(v);

        for (size_t i = 0; i < n; i++)
                v[i] = (char) (1 + i % 255);
        v[n] = 0;
        assert_int_equal(put(f->s, "big", v, NULL), 0);
        assert_int_equal(store_get(f->s, "big", &kv), 0);
        assert_int_equal(kv.value_len, n);
        assert_memory_equal(kv.value, v, n + 1);
        store_kv_done(&kv);

        StoreWatch *w = NULL;
        StoreEventList ev = {};
        assert_int_equal(store_watch_open(f->s, "big", f->base, &w), 0);
        watch_collect(w, 1, 5000, &ev);
        assert_int_equal(ev.items[0].kv.value_len, n);
        assert_memory_equal(ev.items[0].kv.value, v, n + 1);
        store_event_list_done(&ev);
        store_watch_close(w);

        /* Beyond etcd's --max-request-bytes (5 MiB here): -E2BIG, nothing written. */
        memset(v, 'v', STORE_VALUE_MAX);
        v[STORE_VALUE_MAX] = 0;
        assert_int_equal(put(f->s, "huge", v, NULL), -E2BIG);
        assert_value(f->s, "huge", NULL);
        free(v);
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
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 0);
        assert_false(fd_wait(fd, 200));

        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "w/a", .value = "A" },
                { .type = STORE_OP_PUT, .key = "w/b", .value = "B" },
                { .type = STORE_OP_PUT, .key = "x/other", .value = "X" },
        };
        assert_int_equal(store_txn(f->s, NULL, 0, ops, ELEMENTSOF(ops), &r1), 0);
        assert_true(fd_wait(fd, 3000));
        assert_int_equal(put(f->s, "w/a", "A2", &r2), 0);
        assert_int_equal(del(f->s, STORE_OP_DELETE, "w/a", &r3), 0);
        assert_int_equal(put(f->s, "wx", "not under w/", NULL), 0);
        assert_int_equal(del(f->s, STORE_OP_DELETE_PREFIX, "w/", &r4), 0);

        watch_collect(w, 6, 3000, &ev);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "w/a", "A", r1);
        assert_event(&ev.items[1], STORE_EVENT_PUT, "w/b", "B", r1);
        assert_event(&ev.items[2], STORE_EVENT_PUT, "w/a", "A2", r2);
        assert_int_equal(ev.items[2].kv.create_rev, r1);
        assert_int_equal(ev.items[2].kv.version, 2);
        assert_event(&ev.items[3], STORE_EVENT_DELETE, "w/a", NULL, r3);
        assert_event(&ev.items[4], STORE_EVENT_DELETE, "w/b", NULL, r4);
        assert_event(&ev.items[5], STORE_EVENT_DELETE, "w/old", NULL, r4);
        store_event_list_done(&ev);

        /* Drained: quiet fd, nothing more. */
        assert_false(fd_wait(fd, 200));
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 0);

        /* A failed txn wakes nobody. */
        StoreCompare never = { .key = "w/c", .target = STORE_CMP_MOD_REV, .rev = 1 };
        assert_int_equal(store_txn(f->s, &never, 1, ops, 1, NULL), -EAGAIN);
        assert_false(fd_wait(fd, 300));

        /* From the base revision: the whole history under the prefix; the watch outlives its store. */
        StoreWatch *w0 = NULL;
        Store *b = NULL;
        assert_int_equal(store_open(f->url, &b), 0);
        assert_int_equal(store_watch_open(b, "w/", f->base, &w0), 0);
        b = store_close(b);
        watch_collect(w0, 7, 3000, &ev);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "w/old", "before", f->base + 1);
        for (size_t i = 1; i < ev.n; i++)
                assert_true(ev.items[i].kv.mod_rev >= ev.items[i - 1].kv.mod_rev);
        store_event_list_done(&ev);
        store_watch_close(w0);

        /* From a future revision: only what comes after it. */
        StoreWatch *wf = NULL;
        int64_t cur = revision(f->s);
        assert_int_equal(store_watch_open(f->s, "", cur + 2, &wf), 0);
        assert_int_equal(put(f->s, "z/1", "1", NULL), 0);
        assert_int_equal(put(f->s, "z/2", "2", NULL), 0);
        assert_int_equal(put(f->s, "z/3", "3", NULL), 0);
        watch_collect(wf, 1, 3000, &ev);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "z/3", "3", cur + 3);
        store_event_list_done(&ev);
        assert_false(fd_wait(store_watch_fd(wf), 200));

        store_watch_close(wf);
        assert_null(store_watch_close(w));
        assert_null(store_watch_close(NULL));
}

static void test_watch_many(void **state) {
        Fixture *f = *state;
        StoreWatch *w = NULL;
        StoreEventList ev = {};
        StoreOp ops[STORE_TXN_OPS_MAX];
        char names[STORE_TXN_OPS_MAX][32];

        assert_int_equal(store_watch_open(f->s, "b/", f->base, &w), 0);
        for (int t = 0; t < 10; t++) {
                for (int i = 0; i < STORE_TXN_OPS_MAX; i++) {
                        snprintf(names[i], sizeof names[i], "b/%02d/%03d", t, i);
                        ops[i] = (StoreOp) { .type = STORE_OP_PUT, .key = names[i], .value = "v" };
                }
                assert_int_equal(store_txn(f->s, NULL, 0, ops, STORE_TXN_OPS_MAX, NULL), 0);
        }
        watch_collect(w, 10 * STORE_TXN_OPS_MAX, 5000, &ev);
        for (size_t i = 0; i < ev.n; i++)
                assert_int_equal(ev.items[i].kv.mod_rev, f->base + 1 + (int64_t) (i / STORE_TXN_OPS_MAX));
        store_event_list_done(&ev);
        store_watch_close(w);
}

static void compact(int64_t rev) {
        char r[32];
        snprintf(r, sizeof r, "%" PRId64, rev);
        assert_int_equal(run((const char *[]) { "etcdctl", "--endpoints", etcd_main.client, "compact", r, NULL }), 0);
}

static void test_watch_stale(void **state) {
        Fixture *f = *state;
        StoreWatch *w = NULL;
        StoreEventList ev = {};
        int64_t b = f->base;

        for (int i = 0; i < 5; i++)
                assert_int_equal(put(f->s, "s/k", "v", NULL), 0);
        compact(b + 3);

        /* Behind the compaction: -ESTALE, for good. */
        assert_int_equal(store_watch_open(f->s, "s/", b, &w), 0);
        assert_true(fd_wait(store_watch_fd(w), 3000));
        assert_int_equal(store_watch_read(w, &ev), -ESTALE);
        assert_int_equal(store_watch_read(w, &ev), -ESTALE);
        assert_true(fd_wait(store_watch_fd(w), 0));
        store_watch_close(w);

        /* From the compacted revision itself: events b+4 and b+5 are still there. */
        assert_int_equal(store_watch_open(f->s, "s/", b + 3, &w), 0);
        watch_collect(w, 2, 3000, &ev);
        assert_int_equal(ev.items[0].kv.mod_rev, b + 4);
        assert_int_equal(ev.items[0].kv.version, 4);
        assert_int_equal(ev.items[1].kv.mod_rev, b + 5);
        store_event_list_done(&ev);
        store_watch_close(w);
}

static void test_leases(void **state) {
        Fixture *f = *state;
        int64_t id = 0, id2 = 0, rev;
        StoreKV kv = {};

        assert_int_equal(store_lease_grant(f->s, 0, &id), -EINVAL);
        assert_int_equal(store_lease_grant(f->s, 60, &id), 0);
        assert_true(id > 0);
        assert_int_equal(store_lease_grant(f->s, 60, &id2), 0);
        assert_true(id2 > 0 && id2 != id);
        assert_int_equal(revision(f->s), f->base);

        assert_int_equal(put_lease(f->s, "node/alpha/alive", "1", id, NULL), 0);
        assert_int_equal(put_lease(f->s, "node/alpha/addr", "10.0.0.1", id, NULL), 0);
        assert_int_equal(put_lease(f->s, "node/beta/alive", "1", id2, NULL), 0);
        assert_int_equal(put(f->s, "node/alpha/config", "keep", NULL), 0);
        assert_int_equal(store_get(f->s, "node/alpha/alive", &kv), 0);
        assert_int_equal(kv.lease, id);
        store_kv_done(&kv);

        StoreOp ops[] = {
                { .type = STORE_OP_PUT, .key = "x/1", .value = "v" },
                { .type = STORE_OP_PUT, .key = "x/2", .value = "v", .lease = id ^ 0x7ff },
        };
        int64_t before = revision(f->s);
        assert_int_equal(store_txn(f->s, NULL, 0, ops, 2, NULL), -ENOENT);
        assert_value(f->s, "x/1", NULL);
        assert_int_equal(revision(f->s), before);

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
        watch_collect(w, 2, 3000, &ev);
        assert_int_equal(ev.items[0].type, STORE_EVENT_DELETE);
        assert_int_equal(ev.items[1].type, STORE_EVENT_DELETE);
        assert_int_equal(ev.items[0].kv.mod_rev, rev);
        assert_int_equal(ev.items[1].kv.mod_rev, rev);
        store_event_list_done(&ev);
        store_watch_close(w);

        assert_int_equal(store_lease_revoke(f->s, id), -ENOENT);
        assert_int_equal(store_lease_keepalive(f->s, id), -ENOENT);
        assert_int_equal(put_lease(f->s, "node/alpha/alive", "1", id, NULL), -ENOENT);
        assert_int_equal(store_lease_revoke(f->s, 0), -ENOENT);

        assert_int_equal(put(f->s, "node/beta/alive", "1", NULL), 0);
        assert_int_equal(store_lease_revoke(f->s, id2), 0);
        assert_value(f->s, "node/beta/alive", "1");
}

static void test_lease_expiry(void **state) {
        Fixture *f = *state;
        int64_t a = 0, b = 0;

        /* etcd rounds TTLs up to its minimum (about 2 s with default timing). */
        assert_int_equal(store_lease_grant(f->s, 1, &a), 0);
        assert_int_equal(store_lease_grant(f->s, 1, &b), 0);
        assert_int_equal(put_lease(f->s, "live/a", "1", a, NULL), 0);
        assert_int_equal(put_lease(f->s, "live/b", "1", b, NULL), 0);

        /* b is kept alive, a is not. */
        int64_t start = now_ms();
        while (now_ms() - start < 6000) {
                assert_int_equal(store_lease_keepalive(f->s, b), 0);
                StoreKV kv = {};
                int r = store_get(f->s, "live/a", &kv);
                if (r == -ENOENT)
                        break;
                assert_int_equal(r, 0);
                store_kv_done(&kv);
                sleep_ms(250);
        }
        assert_value(f->s, "live/a", NULL);
        assert_value(f->s, "live/b", "1");
        assert_int_equal(store_lease_keepalive(f->s, a), -ENOENT);
        assert_int_equal(put_lease(f->s, "live/a", "1", a, NULL), -ENOENT);

        /* Without keepalive, b goes too. */
        start = now_ms();
        StoreKV kv = {};
        while (store_get(f->s, "live/b", &kv) == 0 && now_ms() - start < 6000) {
                store_kv_done(&kv);
                sleep_ms(250);
        }
        assert_value(f->s, "live/b", NULL);
        assert_int_equal(store_lease_keepalive(f->s, b), -ENOENT);
}

/* A listener that accepts connections (the kernel does) but never answers. */
static int blackhole(int *ret_port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        *ret_port = ntohs(a.sin_port);
        return fd;
}

static void test_unreachable_and_failover(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreKV kv = {};
        char url[256];
        int64_t id, rev;
        int dead = free_port();

        /* Nothing listens: every call fails fast with -EHOSTUNREACH. */
        snprintf(url, sizeof url, "etcd:http://127.0.0.1:%d,http://127.0.0.1:%d", dead, dead);
        assert_int_equal(store_open(url, &s), 0);
        int64_t t0 = now_ms();
        assert_int_equal(store_get(s, "k", &kv), -EHOSTUNREACH);
        assert_int_equal(put(s, "k", "v", NULL), -EHOSTUNREACH);
        assert_int_equal(store_revision(s, &rev), -EHOSTUNREACH);
        assert_int_equal(store_lease_grant(s, 10, &id), -EHOSTUNREACH);
        assert_true(now_ms() - t0 < 1000);
        s = store_close(s);

        /* An endpoint that accepts but never answers: -ETIMEDOUT after timeout-ms. */
        int port, hole = blackhole(&port);
        snprintf(url, sizeof url, "etcd:http://127.0.0.1:%d?timeout-ms=300", port);
        assert_int_equal(store_open(url, &s), 0);
        t0 = now_ms();
        assert_int_equal(put(s, "k", "v", NULL), -ETIMEDOUT);
        int64_t took = now_ms() - t0;
        assert_true(took >= 250 && took < 2000);
        s = store_close(s);
        close(hole);

        /* Failover: the dead endpoint first, then the live one; and the other way round. */
        snprintf(url, sizeof url, "etcd:http://127.0.0.1:%d,%s", dead, etcd_main.client);
        assert_int_equal(store_open(url, &s), 0);
        assert_int_equal(put(s, "fo/1", "v", NULL), 0);
        assert_value(s, "fo/1", "v");
        s = store_close(s);
        snprintf(url, sizeof url, "etcd:%s,http://127.0.0.1:%d", etcd_main.client, dead);
        assert_int_equal(store_open(url, &s), 0);
        assert_value(s, "fo/1", "v");
        store_close(s);
        assert_value(f->s, "fo/1", "v");
}

/* An etcd that takes connections but does not answer (stopped, overloaded,
 * restarting): one request waits its timeout, the ones after it fail at once
 * instead of each blocking the caller's loop again; a probe notices etcd
 * answering again within a fraction of a second. */
static void test_breaker(void **state) {
        Store *s = NULL;
        StoreKV kv = {};
        char url[256];
        int64_t rev;

        snprintf(url, sizeof url, "etcd:%s?timeout-ms=500", etcd_main.client);
        assert_int_equal(store_open(url, &s), 0);
        /* A loaded machine (make check with lab VMs beside it) can keep etcd
         * from answering a first request within 500 ms; this one only
         * prepares the test, so it may wait for the breaker's probe. */
        int r = -ETIMEDOUT;
        for (int i = 0; i < 50 && r < 0; i++)
                if ((r = put(s, "br/1", "v", NULL)) < 0)
                        sleep_ms(200);
        assert_int_equal(r, 0);

        assert_int_equal(kill(etcd_main.pid, SIGSTOP), 0);
        int64_t t0 = now_ms();
        assert_int_equal(put(s, "br/2", "v", NULL), -ETIMEDOUT);
        int64_t first = now_ms() - t0;
        t0 = now_ms();
        for (int i = 0; i < 20; i++) {
                assert_int_equal(store_get(s, "br/1", &kv), -EHOSTUNREACH);
                assert_int_equal(store_revision(s, &rev), -EHOSTUNREACH);
        }
        int64_t next = now_ms() - t0;
        /* Still failing at once well past the hold time: the probe keeps it open. */
        sleep_ms(2500);
        t0 = now_ms();
        assert_int_equal(put(s, "br/3", "v", NULL), -EHOSTUNREACH);
        int64_t later = now_ms() - t0;

        assert_int_equal(kill(etcd_main.pid, SIGCONT), 0);
        t0 = now_ms();
        while ((r = put(s, "br/4", "v", NULL)) == -EHOSTUNREACH && now_ms() - t0 < 5000)
                sleep_ms(10);
        int64_t back = now_ms() - t0;
        print_message("etcd stopped: first request %" PRId64 " ms, 40 more in %" PRId64 " ms, 2.5 s later %" PRId64
                      " ms; continued: requests work after %" PRId64 " ms\n", first, next, later, back);
        assert_int_equal(r, 0);
        assert_true(first >= 400 && first < 3000);
        assert_true(next < 200);
        assert_true(later < 50);
        assert_true(back < 2000);
        assert_value(s, "br/1", "v");
        store_close(s);
}

static void test_etcd_restart(void **state) {
        Fixture *f = *state;
        StoreWatch *w = NULL;
        StoreEventList ev = {};
        StoreKV kv = {};
        int64_t r1, r2, rev, id;

        assert_int_equal(store_watch_open(f->s, "rs/", f->base, &w), 0);
        assert_int_equal(put(f->s, "rs/1", "before", &r1), 0);
        watch_collect(w, 1, 3000, &ev);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "rs/1", "before", r1);
        store_event_list_done(&ev);

        etcd_kill(&etcd_main);
        int64_t t0 = now_ms();
        assert_int_equal(store_get(f->s, "rs/1", &kv), -EHOSTUNREACH);
        assert_int_equal(put(f->s, "rs/2", "down", NULL), -EHOSTUNREACH);
        assert_int_equal(store_revision(f->s, &rev), -EHOSTUNREACH);
        assert_int_equal(store_lease_grant(f->s, 10, &id), -EHOSTUNREACH);
        int64_t took = now_ms() - t0;
        print_message("etcd down: 4 calls failed in %" PRId64 " ms\n", took);
        assert_true(took < 3000);
        /* The watch is quiet meanwhile, not failed. */
        assert_int_equal(store_watch_read(w, &ev), 0);
        assert_int_equal(ev.n, 0);
        sleep_ms(1500);

        assert_int_equal(etcd_start(&etcd_main), 0);
        t0 = now_ms();
        /* Requests fail at once until the probe (every 200 ms) sees etcd back. */
        while (store_get(f->s, "rs/1", &kv) == -EHOSTUNREACH && now_ms() - t0 < 2000)
                sleep_ms(20);
        store_kv_done(&kv);
        print_message("etcd restarted: requests work again after %" PRId64 " ms\n", now_ms() - t0);
        assert_true(now_ms() - t0 < 2000);
        assert_value(f->s, "rs/1", "before");
        assert_int_equal(put(f->s, "rs/2", "after", &r2), 0);
        /* The watch resumed where it was: the new event only, no repeats. */
        watch_collect(w, 1, 8000, &ev);
        print_message("etcd restarted: watch resumed after %" PRId64 " ms\n", now_ms() - t0);
        assert_event(&ev.items[0], STORE_EVENT_PUT, "rs/2", "after", r2);
        store_event_list_done(&ev);
        store_watch_close(w);
}

/* ---- auth (its own etcd, with short-lived tokens) ---- */

static void write_file(const char *path, const char *text) {
        FILE *p = fopen(path, "we");
        assert_non_null(p);
        fputs(text, p);
        fclose(p);
}

static void test_auth(void **state) {
        Etcd e = {};
        char url[512], pw[128], bad[128], ctl_user[] = "root:rootpw";
        Store *s = NULL;
        StoreKV kv = {};
        StoreWatch *w = NULL;
        StoreEventList ev = {};

        assert_int_equal(etcd_new(&e, false), 0);
        e.extra[0] = "--auth-token-ttl=1";
        assert_int_equal(etcd_start(&e), 0);
#define CTL(...) run((const char *[]) { "etcdctl", "--endpoints", e.client, __VA_ARGS__, NULL })
        assert_int_equal(CTL("user", "add", ctl_user), 0);
        assert_int_equal(CTL("role", "add", "app"), 0);
        assert_int_equal(CTL("role", "grant-permission", "--prefix=true", "app", "readwrite", "app/"), 0);
        assert_int_equal(CTL("user", "add", "drbdd:pw\\ with&odd=chars"), 0);
        assert_int_equal(CTL("user", "grant-role", "drbdd", "app"), 0);
        assert_int_equal(CTL("auth", "enable"), 0);
#undef CTL
        snprintf(pw, sizeof pw, "%s/pw", e.dir);
        write_file(pw, "pw\\ with&odd=chars\n");
        snprintf(bad, sizeof bad, "%s/bad", e.dir);
        write_file(bad, "wrong");

        /* No credentials, wrong ones: -EACCES. */
        snprintf(url, sizeof url, "etcd:%s", e.client);
        assert_int_equal(store_open(url, &s), 0);
        assert_int_equal(store_get(s, "app/x", &kv), -EACCES);
        s = store_close(s);
        snprintf(url, sizeof url, "etcd:%s?user=drbdd&password-file=%s", e.client, bad);
        assert_int_equal(store_open(url, &s), 0);
        assert_int_equal(put(s, "app/x", "v", NULL), -EACCES);
        s = store_close(s);

        snprintf(url, sizeof url, "etcd:%s?user=drbdd&password-file=%s", e.client, pw);
        assert_int_equal(store_open(url, &s), 0);
        assert_int_equal(store_watch_open(s, "app/", 0, &w), 0);
        assert_int_equal(put(s, "app/x", "v", NULL), 0);
        assert_value(s, "app/x", "v");
        /* Outside the role's prefix. */
        assert_int_equal(put(s, "other", "v", NULL), -EACCES);
        assert_int_equal(store_get(s, "other", &kv), -EACCES);

        /* The token expires; the next call authenticates again by itself. */
        sleep_ms(2500);
        assert_value(s, "app/x", "v");
        assert_int_equal(put(s, "app/y", "w", NULL), 0);
        watch_collect(w, 2, 5000, &ev);
        assert_string_equal(ev.items[0].kv.key, "app/x");
        assert_string_equal(ev.items[1].kv.key, "app/y");
        store_event_list_done(&ev);
        store_watch_close(w);

        /* A watch where the user may not read fails for good. */
        assert_int_equal(store_watch_open(s, "other/", 0, &w), 0);
        assert_true(fd_wait(store_watch_fd(w), 5000));
        assert_int_equal(store_watch_read(w, &ev), -EACCES);
        store_watch_close(w);
        store_close(s);
        etcd_destroy(&e);
}

/* ---- TLS with client certificates ---- */

static void test_tls(void **state) {
        Etcd e = {};
        char script[4096], url[1024], cmd_dir[80];
        Store *s = NULL;
        StoreKV kv = {};
        StoreWatch *w = NULL;
        StoreEventList ev = {};

        assert_int_equal(etcd_new(&e, true), 0);
        snprintf(cmd_dir, sizeof cmd_dir, "%s", e.dir);
        snprintf(script, sizeof script,
                 "set -e; cd %s; exec >openssl.log 2>&1\n"
                 "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
                 "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca\n"
                 "for n in server client; do\n"
                 "  openssl req $ec -keyout $n.key -out $n.csr -subj /CN=$n\n"
                 "  printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' >$n.ext\n"
                 "  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile $n.ext\n"
                 "done\n",
                 cmd_dir);
        assert_int_equal(run((const char *[]) { "sh", "-c", script, NULL }), 0);

        char cert[128], key[128], ca[128];
        snprintf(ca, sizeof ca, "--trusted-ca-file=%s/ca.pem", e.dir);
        snprintf(cert, sizeof cert, "--cert-file=%s/server.pem", e.dir);
        snprintf(key, sizeof key, "--key-file=%s/server.key", e.dir);
        e.extra[0] = ca;
        e.extra[1] = cert;
        e.extra[2] = key;
        e.extra[3] = "--client-cert-auth";
        assert_int_equal(etcd_start(&e), 0);

        snprintf(url, sizeof url, "etcd:%s?cacert=%s/ca.pem&cert=%s/client.pem&key=%s/client.key", e.client, e.dir,
                 e.dir, e.dir);
        assert_int_equal(store_open(url, &s), 0);
        assert_int_equal(store_watch_open(s, "t/", 0, &w), 0);
        assert_int_equal(put(s, "t/1", "secure", NULL), 0);
        assert_value(s, "t/1", "secure");
        watch_collect(w, 1, 5000, &ev);
        assert_string_equal(ev.items[0].kv.value, "secure");
        store_event_list_done(&ev);
        store_watch_close(w);
        s = store_close(s);

        /* No client certificate, or a server we cannot verify: the endpoint is unusable. */
        snprintf(url, sizeof url, "etcd:%s?cacert=%s/ca.pem", e.client, e.dir);
        assert_int_equal(store_open(url, &s), 0);
        assert_int_equal(store_get(s, "t/1", &kv), -EHOSTUNREACH);
        s = store_close(s);
        snprintf(url, sizeof url, "etcd:%s?cacert=/etc/ssl/certs/ca-certificates.crt&cert=%s/client.pem&key=%s/client.key",
                 e.client, e.dir, e.dir);
        if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
                assert_int_equal(store_open(url, &s), 0);
                assert_int_equal(store_get(s, "t/1", &kv), -EHOSTUNREACH);
                s = store_close(s);
        }
        etcd_destroy(&e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_locations, setup, teardown),
                cmocka_unit_test_setup_teardown(test_put_get_range_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_revisions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prefix_odd_bytes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_big_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch_many, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch_stale, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreachable_and_failover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_breaker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_etcd_restart, setup, teardown),
                cmocka_unit_test(test_auth),
                cmocka_unit_test(test_tls),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
