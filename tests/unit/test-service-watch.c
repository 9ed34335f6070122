/* Unit tests for drbdd/service/service-watch.c: observed-state changes by
 * resource name, on a real SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "drbdd/service/service-watch.h"
#include "drbdd/service/service.h"
#include "drbdd/store/store.h"
#include "json-util.h"
#include "macro.h"

typedef struct Fixture {
        char dir[64];
        char url[160];
        Store *st;
        Service *s;
        char seen[256]; /* reported names, each followed by ' ' */
} Fixture;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        ServiceConfig c;
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-service-watch-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof f->url, "sqlite:%s/store.db", f->dir);
        assert_int_equal(store_open(f->url, &f->st), 0);
        service_config_defaults(&c);
        assert_int_equal(service_new(f->st, &c, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        service_free(f->s);
        store_close(f->st);
        nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static void on_rd(const char *rd, void *userdata) {
        Fixture *f = userdata;
        assert_true(strlen(f->seen) + strlen(rd) + 2 < sizeof f->seen);
        strcat(f->seen, rd);
        strcat(f->seen, " ");
}

static void put_raw(Fixture *f, const char *key) {
        StoreOp op = { .type = STORE_OP_PUT, .key = key, .value = "{}" };
        assert_int_equal(store_txn(f->st, NULL, 0, &op, 1, NULL), 0);
}

static void observe(Fixture *f, const char *node, const char *rd) {
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s}", "state", "UpToDate");
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(service_observed_put(f->s, node, rd, o, &msg), 0);
}

static bool readable(ServiceWatch *w) {
        struct pollfd p = { .fd = service_watch_fd(w), .events = POLLIN };
        return poll(&p, 1, 1000) == 1;
}

/* Each observed object written or deleted after the watch opened is
 * reported by its resource's name; other keys and earlier changes are not. */
static void test_observed_changes(void **state) {
        Fixture *f = *state;
        ServiceWatch *w = NULL;
        observe(f, "alpha", "before");
        assert_int_equal(service_watch_observed(f->s, &w), 0);
        assert_non_null(w);
        assert_true(service_watch_fd(w) >= 0);

        observe(f, "alpha", "r1");
        observe(f, "beta", "r2");
        assert_int_equal(service_observed_put(f->s, "alpha", "r1", NULL, NULL), 0);
        assert_true(readable(w));
        assert_int_equal(service_watch_read(w, on_rd, f), 0);
        assert_string_equal(f->seen, "r1 r2 r1 ");

        /* Not observed state, or not shaped "<node>/<rd>": nothing. */
        f->seen[0] = 0;
        put_raw(f, "/drbdd/rd/r3");
        put_raw(f, "/drbdd/obs-snap/alpha/r3");
        put_raw(f, SERVICE_KEY_OBSERVED "nodeonly");
        put_raw(f, SERVICE_KEY_OBSERVED "alpha/");
        (void) readable(w);
        assert_int_equal(service_watch_read(w, on_rd, f), 0);
        assert_string_equal(f->seen, "");

        assert_null(service_watch_close(w));
        assert_null(service_watch_close(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_observed_changes, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
