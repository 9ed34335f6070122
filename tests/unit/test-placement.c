/* Unit tests for drbdd/service/placement: choice by free space under failure-domain rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "drbdd/service/placement.h"
#include "macro.h"

/* A candidate set that owns its property objects. */
typedef struct Set {
        PlaceCandidate *c;
        size_t n;
        char **names;
} Set;

/* props: "key=value,key=value" or "" */
static json_t *props_parse(const char *props) {
        json_t *o = json_object();
        char *copy = strdup(props), *save = NULL;
        assert_non_null(o);
        assert_non_null(copy);
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(kv, '=');
                assert_non_null(eq);
                *eq = 0;
                json_object_set_new(o, kv, json_string(eq + 1));
        }
        free(copy);
        return o;
}

static void set_add(Set *s, const char *node, const char *pool, const char *props, uint64_t free_kib) {
        s->c = realloc(s->c, (s->n + 1) * sizeof *s->c);
        s->names = realloc(s->names, (s->n + 1) * 2 * sizeof *s->names);
        assert_non_null(s->c);
        assert_non_null(s->names);
        s->names[2 * s->n] = strdup(node);
        s->names[2 * s->n + 1] = strdup(pool);
        s->c[s->n] = (PlaceCandidate) { .node = s->names[2 * s->n], .pool = s->names[2 * s->n + 1],
                                        .properties = props_parse(props), .free_kib = free_kib };
        s->n++;
}

static void set_done(Set *s) {
        for (size_t i = 0; i < s->n; i++) {
                json_decref(s->c[i].properties);
                free(s->names[2 * i]);
                free(s->names[2 * i + 1]);
        }
        free(s->c);
        free(s->names);
        *s = (Set) {};
}

/* keys: "site,rack" -> ["site","rack"]; NULL -> NULL */
static json_t *keys(const char *list) {
        if (!list)
                return NULL;
        json_t *a = json_array();
        char *copy = strdup(list), *save = NULL;
        for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save))
                json_array_append_new(a, json_string(k));
        free(copy);
        return a;
}

/* Runs placement_select and returns the chosen "node/pool" joined by spaces
 * (static buffer) or the error as "E<errno>". */
static const char *place(Set *s, json_t *fixed, unsigned need, const char *same, const char *diff) {
        static char out[4096];
        size_t idx[64];
        json_t *js = keys(same), *jd = keys(diff);
        assert_true(need <= 64);
        for (size_t i = 0; i < ELEMENTSOF(idx); i++)
                idx[i] = (size_t) -1;
        int r = placement_select(s->c, s->n, fixed, need, js, jd, idx);
        json_decref(js);
        json_decref(jd);
        if (r < 0) {
                snprintf(out, sizeof out, "E%d", -r);
                return out;
        }
        out[0] = 0;
        for (unsigned i = 0; i < need; i++) {
                assert_true(idx[i] < s->n);
                size_t l = strlen(out);
                snprintf(out + l, sizeof out - l, "%s%s/%s", i ? " " : "", s->c[idx[i]].node, s->c[idx[i]].pool);
        }
        return out;
}

static void test_most_free(void **state) {
        Set s = {};
        set_add(&s, "a", "p", "", 100);
        set_add(&s, "b", "p", "", 300);
        set_add(&s, "c", "p", "", 200);
        set_add(&s, "d", "p", "", 50);
        assert_string_equal(place(&s, NULL, 1, NULL, NULL), "b/p");
        assert_string_equal(place(&s, NULL, 2, NULL, NULL), "b/p c/p");
        assert_string_equal(place(&s, NULL, 4, NULL, NULL), "b/p c/p a/p d/p");
        assert_string_equal(place(&s, NULL, 5, NULL, NULL), "E28"); /* ENOSPC */
        set_done(&s);
}

static void test_distinct_nodes(void **state) {
        Set s = {};
        /* Two pools on one node are one node: never two replicas there. */
        set_add(&s, "a", "fast", "", 500);
        set_add(&s, "a", "slow", "", 400);
        set_add(&s, "b", "p", "", 100);
        assert_string_equal(place(&s, NULL, 2, NULL, NULL), "a/fast b/p");
        assert_string_equal(place(&s, NULL, 3, NULL, NULL), "E28");
        set_done(&s);
}

static void test_need_zero(void **state) {
        Set s = {};
        size_t idx[1] = { 77 };
        set_add(&s, "a", "p", "", 100);
        assert_int_equal(placement_select(s.c, s.n, NULL, 0, NULL, NULL, idx), 0);
        assert_int_equal(idx[0], 77); /* untouched */
        assert_int_equal(placement_select(NULL, 0, NULL, 0, NULL, NULL, idx), 0);
        /* Nothing to choose from */
        assert_int_equal(placement_select(NULL, 0, NULL, 1, NULL, NULL, idx), -ENOSPC);
        set_done(&s);
}

static void test_ties_deterministic(void **state) {
        Set s = {};
        /* Equal free space: by node name, then pool name, whatever the input order. */
        set_add(&s, "delta", "p", "", 100);
        set_add(&s, "bravo", "z", "", 100);
        set_add(&s, "charlie", "p", "", 100);
        set_add(&s, "bravo", "a", "", 100);
        set_add(&s, "alpha", "p", "", 50);
        assert_string_equal(place(&s, NULL, 2, NULL, NULL), "bravo/a charlie/p");
        assert_string_equal(place(&s, NULL, 4, NULL, NULL), "bravo/a charlie/p delta/p alpha/p");
        /* Same answer on every call (no hidden state). */
        for (int i = 0; i < 5; i++)
                assert_string_equal(place(&s, NULL, 2, NULL, NULL), "bravo/a charlie/p");
        set_done(&s);

        Set t = {};
        set_add(&t, "charlie", "p", "", 100);
        set_add(&t, "bravo", "a", "", 100);
        set_add(&t, "alpha", "p", "", 50);
        set_add(&t, "delta", "p", "", 100);
        set_add(&t, "bravo", "z", "", 100);
        assert_string_equal(place(&t, NULL, 2, NULL, NULL), "bravo/a charlie/p");
        set_done(&t);
}

static void test_replicas_on_different(void **state) {
        Set s = {};
        set_add(&s, "a1", "p", "site=a,rack=1", 1000);
        set_add(&s, "a2", "p", "site=a,rack=2", 900);
        set_add(&s, "b1", "p", "site=b,rack=1", 500);
        set_add(&s, "c1", "p", "site=c,rack=3", 100);
        assert_string_equal(place(&s, NULL, 2, NULL, "site"), "a1/p b1/p");
        assert_string_equal(place(&s, NULL, 3, NULL, "site"), "a1/p b1/p c1/p");
        assert_string_equal(place(&s, NULL, 4, NULL, "site"), "E28");
        /* Two keys: different site and different rack. */
        assert_string_equal(place(&s, NULL, 2, NULL, "site,rack"), "a1/p c1/p");
        /* a1 + c1 leave no third: back off to a2. */
        assert_string_equal(place(&s, NULL, 3, NULL, "site,rack"), "a2/p b1/p c1/p");
        /* Racks only: a1 and b1 share rack 1. */
        assert_string_equal(place(&s, NULL, 3, NULL, "rack"), "a1/p a2/p c1/p");
        set_done(&s);
}

static void test_replicas_on_same(void **state) {
        Set s = {};
        set_add(&s, "a1", "p", "site=a", 1000);
        set_add(&s, "b1", "p", "site=b", 900);
        set_add(&s, "a2", "p", "site=a", 800);
        set_add(&s, "b2", "p", "site=b", 700);
        set_add(&s, "b3", "p", "site=b", 10);
        assert_string_equal(place(&s, NULL, 2, "site", NULL), "a1/p a2/p");
        /* Only site b has three nodes. */
        assert_string_equal(place(&s, NULL, 3, "site", NULL), "b1/p b2/p b3/p");
        assert_string_equal(place(&s, NULL, 4, "site", NULL), "E28");
        set_done(&s);
}

static void test_same_and_different(void **state) {
        Set s = {};
        set_add(&s, "a1", "p", "site=a,rack=1", 1000);
        set_add(&s, "a2", "p", "site=a,rack=1", 900);
        set_add(&s, "a3", "p", "site=a,rack=2", 800);
        set_add(&s, "b1", "p", "site=b,rack=1", 700);
        /* Same site, different racks. */
        assert_string_equal(place(&s, NULL, 2, "site", "rack"), "a1/p a3/p");
        assert_string_equal(place(&s, NULL, 3, "site", "rack"), "E28");
        set_done(&s);
}

static void test_fixed_replicas(void **state) {
        Set s = {};
        set_add(&s, "a2", "p", "site=a", 1000);
        set_add(&s, "b1", "p", "site=b", 500);
        set_add(&s, "c1", "p", "site=c", 100);
        json_t *fixed = json_pack("[{s:s}]", "site", "a");

        /* An existing replica in site a: a2 is out for replicas-on-different. */
        assert_string_equal(place(&s, fixed, 1, NULL, "site"), "b1/p");
        assert_string_equal(place(&s, fixed, 2, NULL, "site"), "b1/p c1/p");
        assert_string_equal(place(&s, fixed, 3, NULL, "site"), "E28");
        /* ... and the only choice for replicas-on-same. */
        assert_string_equal(place(&s, fixed, 1, "site", NULL), "a2/p");
        assert_string_equal(place(&s, fixed, 2, "site", NULL), "E28");
        /* Fixed replicas do not matter without rules. */
        assert_string_equal(place(&s, fixed, 2, NULL, NULL), "a2/p b1/p");
        json_decref(fixed);

        /* Two fixed replicas in sites b and c leave only site a. */
        fixed = json_pack("[{s:s}, {s:s}]", "site", "b", "site", "c");
        assert_string_equal(place(&s, fixed, 1, NULL, "site"), "a2/p");
        json_decref(fixed);

        /* A fixed replica lacking the key: nobody can share its value. */
        fixed = json_pack("[{}]");
        assert_string_equal(place(&s, fixed, 1, "site", NULL), "E28");
        json_decref(fixed);
        set_done(&s);
}

static void test_missing_property_ineligible(void **state) {
        Set s = {};
        set_add(&s, "big", "p", "rack=1", 10000); /* no site */
        set_add(&s, "a1", "p", "site=a", 100);
        set_add(&s, "b1", "p", "site=b", 50);
        set_add(&s, "x", "p", "", 5000);
        assert_string_equal(place(&s, NULL, 2, NULL, "site"), "a1/p b1/p");
        assert_string_equal(place(&s, NULL, 1, "site", NULL), "a1/p");
        assert_string_equal(place(&s, NULL, 3, NULL, "site"), "E28");
        /* Without rules they are fine. */
        assert_string_equal(place(&s, NULL, 2, NULL, NULL), "big/p x/p");
        /* Empty rule lists are no rules. */
        assert_string_equal(place(&s, NULL, 2, "", ""), "big/p x/p");
        set_done(&s);
}

static void test_backtracking(void **state) {
        Set s = {};
        /* Greedy takes a1 (most free), but site a has no second node:
         * the search must back off and take site b's two nodes. */
        set_add(&s, "a1", "p", "site=a", 1000);
        set_add(&s, "b1", "p", "site=b", 500);
        set_add(&s, "b2", "p", "site=b", 400);
        assert_string_equal(place(&s, NULL, 2, "site", NULL), "b1/p b2/p");
        set_done(&s);

        /* Two different keys where the freest pair conflicts deeper down:
         * a1 then b1 leaves no node differing from both in rack. */
        Set t = {};
        set_add(&t, "a1", "p", "site=a,rack=1", 1000);
        set_add(&t, "b1", "p", "site=b,rack=2", 900);
        set_add(&t, "c1", "p", "site=c,rack=1", 800);
        set_add(&t, "c2", "p", "site=c,rack=3", 10);
        assert_string_equal(place(&t, NULL, 3, NULL, "site,rack"), "a1/p b1/p c2/p");
        set_done(&t);
}

static double elapsed(const struct timespec *a) {
        struct timespec b;
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (double) (b.tv_sec - a->tv_sec) + (double) (b.tv_nsec - a->tv_nsec) / 1e9;
}

static void test_large(void **state) {
        Set s = {};
        char node[32], props[64];
        struct timespec t0;

        /* 2000 nodes over 20 sites and 100 racks. */
        for (unsigned i = 0; i < 2000; i++) {
                snprintf(node, sizeof node, "n%04u", i);
                snprintf(props, sizeof props, "site=s%u,rack=r%u", i % 20, i % 100);
                set_add(&s, node, "p", props, 1000000 + (i * 7919u) % 100000);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        const char *r = place(&s, NULL, 3, NULL, "site");
        assert_true(r[0] != 'E');
        r = place(&s, NULL, 5, "site", "rack");
        assert_true(r[0] != 'E');
        /* Impossible: only 20 sites. Must give up fast, not explore C(2000,21). */
        assert_string_equal(place(&s, NULL, 21, NULL, "site"), "E28");
        /* Impossible: 20 nodes per rack. */
        assert_string_equal(place(&s, NULL, 20, "rack", NULL)[0] == 'E' ? "E" : "ok", "ok");
        assert_string_equal(place(&s, NULL, 21, "rack", NULL), "E28");
        assert_true(elapsed(&t0) < 5.0);
        set_done(&s);
}

static void test_large_backtracking(void **state) {
        Set s = {};
        char node[32], props[64];
        struct timespec t0;

        /* 300 sites with a single, roomy node each, and one site with two
         * small nodes: only that site can hold two replicas. */
        for (unsigned i = 0; i < 300; i++) {
                snprintf(node, sizeof node, "n%04u", i);
                snprintf(props, sizeof props, "site=s%u", i);
                set_add(&s, node, "p", props, 1000000 + i);
        }
        set_add(&s, "small1", "p", "site=shared", 10);
        set_add(&s, "small2", "p", "site=shared", 9);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_string_equal(place(&s, NULL, 2, "site", NULL), "small1/p small2/p");
        assert_true(elapsed(&t0) < 5.0);
        set_done(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_most_free),
                cmocka_unit_test(test_distinct_nodes),
                cmocka_unit_test(test_need_zero),
                cmocka_unit_test(test_ties_deterministic),
                cmocka_unit_test(test_replicas_on_different),
                cmocka_unit_test(test_replicas_on_same),
                cmocka_unit_test(test_same_and_different),
                cmocka_unit_test(test_fixed_replicas),
                cmocka_unit_test(test_missing_property_ineligible),
                cmocka_unit_test(test_backtracking),
                cmocka_unit_test(test_large),
                cmocka_unit_test(test_large_backtracking),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
