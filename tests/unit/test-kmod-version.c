/* Unit tests for kmod/drbd-version.c: /proc/drbd and sysfs parsing, capabilities, detection under a fake root, JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "exec.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "kmod/drbd-version.h"

/* As read from Debian 12's kernel (6.1) in the lab. */
static const char proc_84[] =
        "version: 8.4.11 (api:1/proto:86-101)\n"
        "srcversion: F73C670A7EC572DB9CF3E5B \n"
        " 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n"
        "    ns:14832 nr:0 dw:0 dr:14832 al:8 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:17896\n"
        "\t[=========>..........] sync'ed: 50.0% (17896/32728)K\n";

/* DRBD 9 from LINBIT's out-of-tree module. */
static const char proc_9[] =
        "version: 9.2.8 (api:2/proto:86-122)\n"
        "GIT-hash: e163b05a76254c0f51f999970e861d72bb16409a build by root@node1, 2024-03-01 10:00:00\n"
        "Transports (api:20): tcp (9.2.8)\n";

static DrbdKernelInfo parse_ok(const char *text) {
        DrbdKernelInfo info;
        int r = drbd_version_parse_proc(text, strlen(text), &info);
        if (r != 0)
                fail_msg("'%s' rejected: %d", text, r);
        return info;
}

static void test_string_table(void **state) {
        for (int s = 0; s < _DRBD_VERSION_SOURCE_MAX; s++) {
                const char *str = drbd_version_source_to_string((DrbdVersionSource) s);
                assert_non_null(str);
                assert_int_equal(drbd_version_source_from_string(str), s);
        }
        assert_null(drbd_version_source_to_string(_DRBD_VERSION_SOURCE_MAX));
        assert_int_equal(drbd_version_source_from_string("kernel"), -EINVAL);
        assert_int_equal(drbd_version_source_from_string(NULL), -EINVAL);
}

static void test_proc_84(void **state) {
        DrbdKernelInfo i = parse_ok(proc_84);
        assert_string_equal(i.version, "8.4.11");
        assert_int_equal(i.major, 8);
        assert_int_equal(i.minor, 4);
        assert_int_equal(i.patch, 11);
        assert_true(i.has_api);
        assert_int_equal(i.api, 1);
        assert_true(i.has_proto);
        assert_int_equal(i.proto_min, 86);
        assert_int_equal(i.proto_max, 101);
        assert_string_equal(i.srcversion, "F73C670A7EC572DB9CF3E5B");
        assert_int_equal(i.source, DRBD_VERSION_SOURCE_PROC);
        assert_int_equal(i.dialect, DRBD_DIALECT_84);
        assert_int_equal(i.max_peers, 1);
        assert_false(i.diskless_clients);
        assert_false(i.quorum);
}

static void test_proc_9(void **state) {
        DrbdKernelInfo i = parse_ok(proc_9);
        assert_string_equal(i.version, "9.2.8");
        assert_int_equal(i.api, 2);
        assert_int_equal(i.proto_max, 122);
        assert_string_equal(i.srcversion, "e163b05a76254c0f51f999970e861d72bb16409a");
        assert_int_equal(i.dialect, DRBD_DIALECT_9);
        assert_int_equal(i.max_peers, 31);
        assert_true(i.diskless_clients);
        assert_true(i.quorum);

        /* Quorum arrived in 9.0.8. */
        assert_false(parse_ok("version: 9.0.7 (api:2/proto:86-112)\n").quorum);
        assert_true(parse_ok("version: 9.0.8 (api:2/proto:86-112)\n").quorum);
        assert_true(parse_ok("version: 9.1.0 (api:2/proto:86-121)\n").quorum);
        assert_true(parse_ok("version: 9.0.0 (api:2/proto:86-110)\n").diskless_clients);

        /* Suffixes, missing api part, no trailing newline, CRLF-free. */
        DrbdKernelInfo rc = parse_ok("version: 9.2.0-rc.7 (api:2/proto:86-121)");
        assert_string_equal(rc.version, "9.2.0-rc.7");
        assert_int_equal(rc.patch, 0);
        DrbdKernelInfo bare = parse_ok("version: 8.4.10\n");
        assert_false(bare.has_api);
        assert_false(bare.has_proto);
        assert_string_equal(bare.srcversion, "");
}

static void test_proc_bad(void **state) {
        static const char *const bad[] = {
                "",
                "\n",
                "version:\n",
                "version: \n",
                "Version: 8.4.11 (api:1/proto:86-101)\n",
                "version: 8.4 (api:1/proto:86-101)\n",
                "version: 8.4.x (api:1/proto:86-101)\n",
                "version: 8..11\n",
                "version: 8.4.11 (api:1/proto:101-86)\n",  /* inverted range */
                "version: 8.4.11 (api:1/proto:86-101\n",   /* unclosed */
                "version: 8.4.11 (api:/proto:86-101)\n",
                "version: 8.4.11 (api:99999/proto:86-101)\n",
                "version: 88888.4.11\n",
                "version: 8.4.11 junk\n",
                "version: 8.4.11;rm -rf /\n",
                "version: 8.4.11-\x01\n",
                "version: 9.2.8-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", /* too long */
                " version: 8.4.11\n",
                "srcversion: X\nversion: 8.4.11\n",
        };
        DrbdKernelInfo i = {};

        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                if (drbd_version_parse_proc(bad[k], strlen(bad[k]), &i) != -EINVAL)
                        fail_msg("accepted: '%s'", bad[k]);
        /* Embedded NUL, NULL arguments. */
        assert_int_equal(drbd_version_parse_proc("version: 8.4.11\0x", 17, &i), -EINVAL);
        assert_int_equal(drbd_version_parse_proc(NULL, 0, &i), -EINVAL);
        assert_int_equal(drbd_version_parse_proc(proc_84, strlen(proc_84), NULL), -EINVAL);
        /* Unsupported but well-formed versions. */
        static const char v83[] = "version: 8.3.16 (api:88/proto:86-97)\n", v10[] = "version: 10.0.0\n";
        assert_int_equal(drbd_version_parse_proc(v83, strlen(v83), &i), -EOPNOTSUPP);
        assert_int_equal(drbd_version_parse_proc(v10, strlen(v10), &i), -EOPNOTSUPP);
        assert_string_equal(i.version, ""); /* never written on failure */
}

static void test_proc_hostile_lines(void **state) {
        /* An overlong srcversion / GIT-hash is left out, not copied in part. */
        char text[8192];
        size_t n = (size_t) snprintf(text, sizeof(text), "version: 8.4.11 (api:1/proto:86-101)\nsrcversion: ");
        memset(text + n, 'A', 5000);
        text[n + 5000] = '\n';
        text[n + 5001] = 0;
        DrbdKernelInfo i = parse_ok(text);
        assert_string_equal(i.srcversion, "");
        /* The header must be in the first 4 KiB: a long tail is ignored. */
        assert_int_equal(drbd_version_parse_proc(text, strlen(text), &i), 0);
        i = parse_ok("version: 8.4.11 (api:1/proto:86-101)\nsrcversion: \x7f\x01zz\n");
        assert_string_equal(i.srcversion, "");
}

static void test_sysfs(void **state) {
        DrbdKernelInfo i;
        assert_int_equal(drbd_version_parse_sysfs("8.4.11\n", 7, &i), 0);
        assert_string_equal(i.version, "8.4.11");
        assert_int_equal(i.source, DRBD_VERSION_SOURCE_SYSFS);
        assert_false(i.has_api);
        assert_int_equal(i.dialect, DRBD_DIALECT_84);
        assert_int_equal(drbd_version_parse_sysfs("9.1.19", 6, &i), 0);
        assert_int_equal(i.dialect, DRBD_DIALECT_9);
        assert_int_equal(drbd_version_parse_sysfs("9.1.19\n\n", 8, &i), -EINVAL);
        assert_int_equal(drbd_version_parse_sysfs("9.1.19 x\n", 9, &i), -EINVAL);
        assert_int_equal(drbd_version_parse_sysfs("", 0, &i), -EINVAL);
        assert_int_equal(drbd_version_parse_sysfs("7.0.0\n", 6, &i), -EOPNOTSUPP);
        char big[100];
        memset(big, '9', sizeof(big));
        assert_int_equal(drbd_version_parse_sysfs(big, sizeof(big), &i), -EINVAL);
}

static void write_under(const char *root, const char *rel, const char *content) {
        char path[1024], dir[1024];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        snprintf(dir, sizeof(dir), "%s", path);
        *strrchr(dir, '/') = 0;
        assert_int_equal(fileio_mkdir_p(dir, 0755), 0);
        assert_int_equal(fileio_write_atomic(path, content, strlen(content), 0644), 0);
}

static void rm_rf(const char *path) {
        char *argv[] = { (char *) "rm", (char *) "-rf", (char *) path, NULL };
        ExecResult res;
        (void) exec_run(argv, NULL, &res);
        exec_result_done(&res);
}

static void test_detect_root(void **state) {
        char root[] = "/tmp/test-kmod-version.XXXXXX";
        DrbdKernelInfo i;

        assert_non_null(mkdtemp(root));
        /* Not loaded. */
        assert_int_equal(drbd_kernel_info_detect(root, &i), -ENOENT);
        /* sysfs only. */
        write_under(root, "sys/module/drbd/version", "8.4.11\n");
        assert_int_equal(drbd_kernel_info_detect(root, &i), 0);
        assert_int_equal(i.source, DRBD_VERSION_SOURCE_SYSFS);
        /* /proc/drbd wins. */
        write_under(root, "proc/drbd", proc_9);
        assert_int_equal(drbd_kernel_info_detect(root, &i), 0);
        assert_int_equal(i.source, DRBD_VERSION_SOURCE_PROC);
        assert_string_equal(i.version, "9.2.8");
        /* Garbage in /proc/drbd is an error, not a fallback. */
        write_under(root, "proc/drbd", "hello\n");
        assert_int_equal(drbd_kernel_info_detect(root, &i), -EINVAL);
        rm_rf(root);
        /* The host itself: either DRBD is there or it is not. */
        int r = drbd_kernel_info_detect(NULL, &i);
        assert_true(r == 0 || r == -ENOENT);
}

static void test_json(void **state) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *s = NULL;
        DrbdKernelInfo i = parse_ok(proc_84);

        assert_int_equal(drbd_kernel_info_to_json(&i, &j), 0);
        s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, "{\"api\":1,\"dialect\":\"8.4\",\"diskless_clients\":false,\"major\":8,"
                               "\"max_peers\":1,\"minor\":4,\"patch\":11,\"proto_max\":101,\"proto_min\":86,"
                               "\"quorum\":false,\"source\":\"proc\",\"srcversion\":\"F73C670A7EC572DB9CF3E5B\","
                               "\"version\":\"8.4.11\"}");

        json_decref(TAKE_PTR(j));
        assert_int_equal(drbd_version_parse_sysfs("9.1.2", 5, &i), 0);
        assert_int_equal(drbd_kernel_info_to_json(&i, &j), 0);
        assert_null(json_object_get(j, "api"));
        assert_null(json_object_get(j, "srcversion"));
        assert_string_equal(json_get_str(j, "dialect", NULL), "9");
        assert_int_equal(json_get_int(j, "max_peers", 0), 31);
        assert_true(json_get_bool(j, "quorum", false));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_string_table),
                cmocka_unit_test(test_proc_84),
                cmocka_unit_test(test_proc_9),
                cmocka_unit_test(test_proc_bad),
                cmocka_unit_test(test_proc_hostile_lines),
                cmocka_unit_test(test_sysfs),
                cmocka_unit_test(test_detect_root),
                cmocka_unit_test(test_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
