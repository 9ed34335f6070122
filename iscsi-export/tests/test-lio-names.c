/* Unit tests for iscsi-export/lio-names.c: IQN, initiator, volume, CHAP, device path and portal validation; serials; attribute stripping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "iscsi-export/lio-names.h"

#define SERIAL_VOL1 "3569f9ae-5904-8945-b005-bc71bfddcff2"

static void expect_ok(int r, char *msg) {
        if (r < 0)
                fail_msg("unexpected error: %s", strna(msg));
        free(msg);
}

static void expect_bad(int r, char *msg, const char *needle) {
        assert_int_equal(r, -EINVAL);
        assert_non_null(msg);
        if (needle && !strstr(msg, needle))
                fail_msg("message '%s' lacks '%s'", msg, needle);
        assert_null(strchr(msg, '\n'));
        free(msg);
}

/* The call sets msg: evaluate it before looking at msg. */
#define EXPECT_OK(expr)                    \
        do {                               \
                msg = NULL;                \
                int r_ = (expr);           \
                expect_ok(r_, msg);        \
        } while (0)
#define EXPECT_BAD(expr, needle)           \
        do {                               \
                msg = NULL;                \
                int r_ = (expr);           \
                expect_bad(r_, msg, needle); \
        } while (0)

static void test_iqn(void **state) {
        static const char *good[] = {
                "iqn.2026-11.org.drbd.drbdd:vol1",
                "iqn.1993-08.org.debian:01:6251ab25714e",
                "iqn.2003-01.org.linux-iscsi.host.x8664:sn.abcdef",
                "iqn.2026-11.org.drbd",
        };
        static const struct {
                const char *iqn, *needle;
        } bad[] = {
                { "", "empty" },
                { "iqn.2026-11.Org.drbd:x", "upper-case" },
                { "eui.2026-11.org.drbd:x", "iqn." },
                { "iqn.26-11.org.drbd:x", "date" },
                { "iqn.2026-13.org.drbd:x", "date" },
                { "iqn.2026-11org.drbd:x", "date" },
                { "iqn.2026-11.:x", "naming authority" },
                { "iqn.2026-11.org..drbd:x", "empty label" },
                { "iqn.2026-11.org.drbd:", "empty identifier" },
                { "iqn.2026-11.org.drbd:a/b", "'/'" },
                { "iqn.2026-11.org.drbd:a..b", "\"..\"" },
                { "iqn.2026-11.org.drbd:a\nb", "control character" },
                { "iqn.2026-11.org.drbd:a b", "a space" },
                { "iqn.2026-11.org.drbd:a_b", "'_'" },
        };
        char *msg = NULL, big[300];

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                msg = NULL;
                EXPECT_OK(lio_iqn_validate("IQN", good[i], &msg));
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                msg = NULL;
                EXPECT_BAD(lio_iqn_validate("IQN", bad[i].iqn, &msg), bad[i].needle);
        }
        msg = NULL;
        EXPECT_BAD(lio_iqn_validate("IQN", NULL, &msg), "empty");
        memset(big, 'a', sizeof big);
        memcpy(big, "iqn.2026-11.org.x:", 18);
        big[sizeof big - 1] = '\0';
        msg = NULL;
        EXPECT_BAD(lio_iqn_validate("IQN", big, &msg), "223");
        /* No message wanted: still a clean -EINVAL. */
        assert_int_equal(lio_iqn_validate("IQN", "x", NULL), -EINVAL);
}

static void test_initiator(void **state) {
        char *msg = NULL;

        EXPECT_OK(lio_initiator_validate("eui.02004567A425678D", &msg));
        msg = NULL;
        EXPECT_OK(lio_initiator_validate("naa.52004567BA64678D52004567BA64678D", &msg));
        msg = NULL;
        EXPECT_OK(lio_initiator_validate("iqn.2026-11.org.drbd.lab:vm2", &msg));
        msg = NULL;
        EXPECT_BAD(lio_initiator_validate("eui.0200456", &msg), "16");
        msg = NULL;
        EXPECT_BAD(lio_initiator_validate("eui.0200456742567XYZ", &msg), "hex");
        msg = NULL;
        EXPECT_BAD(lio_initiator_validate("../../core", &msg), NULL);
}

static void test_volume(void **state) {
        char *msg = NULL;

        EXPECT_OK(lio_volume_validate("vol1", &msg));
        msg = NULL;
        EXPECT_OK(lio_volume_validate("volume-3f1c2a4e-0b7d-4c55-a9e1-7d2b8c9e0f11", &msg));
        msg = NULL;
        EXPECT_BAD(lio_volume_validate("Vol1", &msg), "upper-case");
        msg = NULL;
        EXPECT_BAD(lio_volume_validate("a/b", &msg), "'/'");
        msg = NULL;
        EXPECT_BAD(lio_volume_validate("..", &msg), NULL);
        msg = NULL;
        EXPECT_BAD(lio_volume_validate("-x", &msg), "start");
        msg = NULL;
        EXPECT_BAD(lio_volume_validate("a:b", &msg), "':'");
        msg = NULL;
        EXPECT_BAD(lio_volume_validate("x\n", &msg), "control");
        msg = NULL;
        EXPECT_BAD(lio_volume_validate("", &msg), "empty");
}

static void test_chap(void **state) {
        char *msg = NULL;

        EXPECT_OK(lio_chap_user_validate("CHAP user", "user-1@site.a", &msg));
        msg = NULL;
        EXPECT_BAD(lio_chap_user_validate("CHAP user", "us er", &msg), "a space");
        msg = NULL;
        EXPECT_BAD(lio_chap_user_validate("CHAP user", "NULL", &msg), "reserved");
        msg = NULL;
        EXPECT_OK(lio_chap_secret_validate("CHAP password", "labsecret12345", &msg));
        msg = NULL;
        EXPECT_BAD(lio_chap_secret_validate("CHAP password", "short", &msg), "at least 12");
        msg = NULL;
        /* A secret is never echoed. */
        EXPECT_BAD(lio_chap_secret_validate("CHAP password", "secret%with@url", &msg), "character 7");
        msg = NULL;
        assert_int_equal(lio_chap_secret_validate("CHAP password", "topsecret/value", &msg), -EINVAL);
        assert_null(strstr(msg, "topsecret"));
        free(msg);
        msg = NULL;
        EXPECT_BAD(lio_chap_secret_validate("CHAP password", "NULLNULLNULLNULL", &msg), "NULL");
}

static void test_device(void **state) {
        char *msg = NULL;

        EXPECT_OK(lio_device_validate("/dev/drbd1000", &msg));
        msg = NULL;
        EXPECT_OK(lio_device_validate("/dev/drbd/by-res/vol1/0", &msg));
        msg = NULL;
        EXPECT_OK(lio_device_validate("/dev/mapper/vg-lv_1", &msg));
        msg = NULL;
        EXPECT_BAD(lio_device_validate("/dev/../etc/passwd", &msg), "normalised");
        msg = NULL;
        EXPECT_BAD(lio_device_validate("/etc/passwd", &msg), "/dev/");
        msg = NULL;
        EXPECT_BAD(lio_device_validate("/dev/sda,readonly=1", &msg), "','");
        msg = NULL;
        EXPECT_BAD(lio_device_validate("/dev/sda\n", &msg), "control");
        msg = NULL;
        EXPECT_BAD(lio_device_validate("/dev//sda", &msg), "normalised");
        msg = NULL;
        EXPECT_BAD(lio_device_validate("/dev/", &msg), NULL);
}

static void test_portal(void **state) {
        static const struct {
                const char *in, *out;
        } good[] = {
                { "10.99.0.1", "10.99.0.1:3260" },
                { "10.99.0.1:3261", "10.99.0.1:3261" },
                { "0.0.0.0:3260", "0.0.0.0:3260" },
                { "[fd00::1]", "[fd00::1]:3260" },
                { "[fd00:0:0::1]:860", "[fd00::1]:860" },
                { "fd00:0::1", "[fd00::1]:3260" },
                { "[::]:3260", "[::]:3260" },
        };
        static const char *bad[] = {
                "", "10.99.0", "10.99.0.1:0", "10.99.0.1:65536", "10.99.0.1:x", "[fd00::1", "[fd00::1]x",
                "host.example:3260", "10.99.0.1:3260/../x", "[10.0.0.1]:3260", "10.99.0.1:+3260",
        };
        char out[LIO_PORTAL_MAX], *msg;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                msg = NULL;
                EXPECT_OK(lio_portal_canonical(good[i].in, out, &msg));
                assert_string_equal(out, good[i].out);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                msg = NULL;
                EXPECT_BAD(lio_portal_canonical(bad[i], out, &msg), NULL);
        }
}

static void test_target_iqn(void **state) {
        char *iqn = NULL, *msg = NULL;

        assert_int_equal(lio_target_iqn("iqn.2026-11.org.drbd.drbdd", "vol1", &iqn, &msg), 0);
        assert_string_equal(iqn, "iqn.2026-11.org.drbd.drbdd:vol1");
        assert_string_equal(lio_target_iqn_volume("iqn.2026-11.org.drbd.drbdd", iqn), "vol1");
        assert_null(lio_target_iqn_volume("iqn.2026-11.org.drbd.drbd", iqn));
        assert_null(lio_target_iqn_volume("iqn.2026-11.org.drbd.drbdd", "iqn.2026-11.org.drbd.drbdd:a:b"));
        assert_null(lio_target_iqn_volume("iqn.2026-11.org.drbd.drbdd", "iqn.2026-11.org.drbd.drbddx:vol1"));
        free(iqn);
        EXPECT_BAD(lio_target_iqn("iqn.2026-11.org.drbd.drbdd", "Vol1", &iqn, &msg), "upper-case");
        msg = NULL;
        EXPECT_BAD(lio_target_iqn("IQN.x", "vol1", &iqn, &msg), "IQN prefix");
}

static void test_serial(void **state) {
        char a[LIO_SERIAL_LEN + 1], b[LIO_SERIAL_LEN + 1], c[LIO_SERIAL_LEN + 1];

        lio_serial_from_iqn("iqn.2026-11.org.drbd.drbdd:vol1", a);
        lio_serial_from_iqn("iqn.2026-11.org.drbd.drbdd:vol1", b);
        lio_serial_from_iqn("iqn.2026-11.org.drbd.drbdd:vol2", c);
        assert_string_equal(a, b);
        assert_string_not_equal(a, c);
        assert_int_equal(strlen(a), LIO_SERIAL_LEN);
        assert_int_equal(a[8], '-');
        assert_int_equal(a[14], '8'); /* version 8 */
        assert_true(strchr("89ab", a[19]) != NULL);
        /* Golden: the serial must never change between releases, or
         * multipath on initiators would see a new disk after an upgrade. */
        assert_string_equal(a, SERIAL_VOL1);
}

static void test_attr_strip(void **state) {
        char a[] = "T10 VPD Unit Serial Number: abc\n", b[] = "1\n", c[] = "", d[] = "x \t\r\n";

        assert_string_equal(lio_attr_strip(a), "abc");
        assert_string_equal(lio_attr_strip(b), "1");
        assert_string_equal(lio_attr_strip(c), "");
        assert_string_equal(lio_attr_strip(d), "x");
        assert_null(lio_attr_strip(NULL));
}

static void test_info_udev_path(void **state) {
        char *p = NULL;

        assert_int_equal(lio_info_udev_path("Status: ACTIVATED  Max Queue Depth: 0  SectorSize: 512\n"
                                            "        iBlock device: dm-0  UDEV PATH: /dev/lab/vol1  readonly: 0\n", &p), 0);
        assert_string_equal(p, "/dev/lab/vol1");
        free(p);
        assert_int_equal(lio_info_udev_path("UDEV PATH: /dev/lab/vol1\n", &p), 0);
        assert_string_equal(p, "/dev/lab/vol1");
        free(p);
        assert_int_equal(lio_info_udev_path("iBlock device:   UDEV PATH:   readonly: 0", &p), -ENOENT);
        assert_int_equal(lio_info_udev_path("UDEV PATH: /dev/../x", &p), -EINVAL);
        assert_int_equal(lio_info_udev_path("nothing", &p), -ENOENT);
        assert_int_equal(lio_info_udev_path(NULL, &p), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_iqn),         cmocka_unit_test(test_initiator), cmocka_unit_test(test_volume),
                cmocka_unit_test(test_chap),        cmocka_unit_test(test_device),    cmocka_unit_test(test_portal),
                cmocka_unit_test(test_target_iqn),  cmocka_unit_test(test_serial),    cmocka_unit_test(test_attr_strip),
                cmocka_unit_test(test_info_udev_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
