/* Unit tests for drbdd/model/sizing.c: metadata formula, worked examples, property sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "drbdd/model/sizing.h"

#define GIB (1ULL << 20)
#define TIB (1ULL << 30)

static void test_md_formula(void **state) {
        /* The worked example: 3200 KiB bitmap per peer x 7 + 32 KiB AL + 4 KiB SB. */
        assert_int_equal(drbd_md_kib(100 * GIB, 7), 22436);
        assert_int_equal(drbd_md_kib(100 * GIB, 1), 3200 + 36);
        /* Tiny: a partial word and a partial page still cost a 4 KiB page. */
        assert_int_equal(drbd_md_kib(0, 1), 36);
        assert_int_equal(drbd_md_kib(4, 1), 40);
        assert_int_equal(drbd_md_kib(4096, 31), 40); /* 1024 bits = 128 bytes x 31 = 3968 bytes */
        assert_int_equal(drbd_md_kib(4096, 32), 40); /* 4096 bytes exactly */
        assert_int_equal(drbd_md_kib(4097, 32), 44); /* one more word per peer */
        /* 64-bit word rounding per peer: 257 bits are 5 words = 40 bytes per peer. */
        assert_int_equal(drbd_md_kib(1028, 31), 36 + 4);
        assert_int_equal(drbd_md_kib(1 * TIB, 1), 32768 + 36);
        /* No intermediate overflow at the top of the range. */
        assert_int_equal(drbd_md_kib(UINT64_MAX, 31), 31 * (1ULL << 49) + 36);
        assert_int_equal(drbd_md_kib(UINT64_MAX, UINT32_MAX), UINT64_MAX); /* saturates */
        /* Monotone in both arguments. */
        for (uint64_t d = 0; d < 200000; d += 997) {
                assert_true(drbd_md_kib(d + 997, 7) >= drbd_md_kib(d, 7));
                assert_true(drbd_md_kib(d, 8) >= drbd_md_kib(d, 7));
        }
}

typedef struct Example {
        uint64_t requested, extent;
        unsigned peers;
        uint64_t backing, md, usable;
} Example;

static void test_examples(void **state) {
        /* Expected values from an independent brute-force computation (linear scan). */
        static const Example ex[] = {
                { 1 * GIB, 4096, 1, 1052672, 72, 1052600 },
                { 1 * GIB, 4, 1, 1048648, 72, 1048576 },
                { 100 * GIB, 4096, 7, 104882176, 22444, 104859732 },
                { 100 * GIB, 4, 7, 104880044, 22444, 104857600 },
                { 10 * TIB, 4096, 31, 10747588608ULL, 10167740, 10737420868ULL },
                { 10 * TIB, 4, 31, 10747585976ULL, 10167736, 10737418240ULL },
                { 4096, 4, 1, 4136, 40, 4096 },
                { 4096, 4096, 1, 8192, 40, 8152 },
                { 4096, 1, 31, 4140, 44, 4096 },
                { 1, 1, 1, 41, 40, 1 },
                { 1 * GIB, 3, 2, 1048680, 104, 1048576 },
        };

        for (size_t i = 0; i < ELEMENTSOF(ex); i++) {
                Sizing s;
                assert_int_equal(sizing_compute(ex[i].requested, ex[i].peers, ex[i].extent, &s), 0);
                assert_int_equal(s.requested_kib, ex[i].requested);
                assert_int_equal(s.peer_slots, ex[i].peers);
                assert_int_equal(s.backing_kib, ex[i].backing);
                assert_int_equal(s.md_kib, ex[i].md);
                assert_int_equal(s.usable_kib, ex[i].usable);
        }
}

static void test_errors(void **state) {
        Sizing s = { .backing_kib = 777 };

        assert_int_equal(sizing_compute(GIB, 0, 4096, &s), -EINVAL);
        assert_int_equal(sizing_compute(GIB, 32, 4096, &s), -EINVAL);
        assert_int_equal(sizing_compute(GIB, UINT32_MAX, 4096, &s), -EINVAL);
        assert_int_equal(sizing_compute(GIB, 1, 0, &s), -EINVAL);
        assert_int_equal(sizing_compute(0, 1, 4096, &s), -EINVAL);
        assert_int_equal(sizing_compute(GIB, 1, 4096, NULL), -EINVAL);
        assert_int_equal(sizing_compute(UINT64_MAX, 1, 4, &s), -ERANGE);
        assert_int_equal(sizing_compute(UINT64_MAX - 100, 31, 1, &s), -ERANGE);
        /* One huge extent suffices; two would overflow. */
        assert_int_equal(sizing_compute(UINT64_MAX / 2, 1, UINT64_MAX - 1, &s), 0);
        assert_int_equal(s.backing_kib, UINT64_MAX - 1);
        s.backing_kib = 777;
        assert_int_equal(sizing_compute(UINT64_MAX / 2, 1, 1ULL << 63, &s), -ERANGE);
        /* Fits before rounding, overflows when rounded up to the extent. */
        assert_int_equal(sizing_compute(UINT64_MAX - (UINT64_MAX >> 5), 1, 1ULL << 62, &s), -ERANGE);
        assert_int_equal(s.backing_kib, 777); /* untouched */
        /* Large but representable. */
        assert_int_equal(sizing_compute(1ULL << 62, 31, 4096, &s), 0);
        assert_true(s.usable_kib >= 1ULL << 62);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) {
        /* xorshift64*: deterministic, so failures reproduce. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dULL;
}

static void check_invariants(uint64_t req, unsigned peers, uint64_t extent) {
        Sizing s;

        if (sizing_compute(req, peers, extent, &s) != 0)
                fail_msg("sizing_compute(%llu, %u, %llu) failed", (unsigned long long) req, peers,
                         (unsigned long long) extent);
        assert_true(s.usable_kib >= req);
        assert_int_equal(s.backing_kib % extent, 0);
        assert_int_equal(s.md_kib, drbd_md_kib(s.backing_kib, peers));
        assert_int_equal(s.usable_kib, s.backing_kib - s.md_kib);
        /* Minimal: one extent less would not suffice. */
        if (s.backing_kib > extent) {
                uint64_t smaller = s.backing_kib - extent;
                uint64_t md = drbd_md_kib(smaller, peers);
                if (smaller > md && smaller - md >= req)
                        fail_msg("not minimal: req=%llu peers=%u extent=%llu backing=%llu",
                                 (unsigned long long) req, peers, (unsigned long long) extent,
                                 (unsigned long long) s.backing_kib);
        }
}

static void test_property_sweep(void **state) {
        static const uint64_t extents[] = { 1, 2, 3, 4, 8, 64, 1024, 4096, 8192, 32768, 1 << 20 };

        for (unsigned i = 0; i < 20000; i++) {
                /* Sizes spread over magnitudes: 1 KiB .. 2^52 KiB. */
                uint64_t req = (rnd() >> (12 + rnd() % 52)) + 1;
                unsigned peers = 1 + (unsigned) (rnd() % DRBD_MAX_PEERS);
                uint64_t extent = i % 3 == 0 ? 1 + rnd() % 100000 : extents[rnd() % ELEMENTSOF(extents)];
                check_invariants(req, peers, extent);
        }
}

static void test_brute_force_small(void **state) {
        /* Against the definition: the smallest multiple of extent that suffices. */
        for (unsigned i = 0; i < 300; i++) {
                uint64_t req = 1 + rnd() % 2000000;
                unsigned peers = 1 + (unsigned) (rnd() % DRBD_MAX_PEERS);
                uint64_t extent = 1 + rnd() % 5000, b;
                Sizing s;

                assert_int_equal(sizing_compute(req, peers, extent, &s), 0);
                for (b = (req + extent - 1) / extent * extent;; b += extent)
                        if (b > drbd_md_kib(b, peers) && b - drbd_md_kib(b, peers) >= req)
                                break;
                assert_int_equal(s.backing_kib, b);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_md_formula),
                cmocka_unit_test(test_examples),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_property_sweep),
                cmocka_unit_test(test_brute_force_small),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
