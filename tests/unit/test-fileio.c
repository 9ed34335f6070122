/* Unit tests for lib/fileio.c: atomic writes with mode, whole-file reads with a limit, mkdir -p. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

typedef struct Fixture {
        char dir[64];
        mode_t umask;
} Fixture;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-fileio-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        /* Modes asked for are modes obtained. */
        f->umask = umask(0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        umask(f->umask);
        nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static char *path_in(const Fixture *f, const char *name) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
        return p;
}

static int count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *e;
        int n = 0;
        assert_non_null(d);
        while ((e = readdir(d)))
                if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static void assert_mode(const char *path, mode_t mode) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, mode);
}

static void test_write_atomic(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "r0.res");
        char *buf = NULL;
        size_t len = 0;
        const char text[] = "resource r0 {\n\tnet { shared-secret \"s3cr3t\"; }\n}\n";

        assert_int_equal(fileio_write_atomic(p, text, strlen(text), 0600), 0);
        assert_mode(p, 0600);
        assert_int_equal(fileio_read_full(p, 1 << 20, &buf, &len), 0);
        assert_int_equal(len, strlen(text));
        assert_string_equal(buf, text);
        free(buf);

        /* Replacing: new content and new mode, and no temporary file left behind. */
        assert_int_equal(fileio_write_atomic(p, "short\n", 6, 0640), 0);
        assert_mode(p, 0640);
        assert_int_equal(fileio_read_full(p, 1 << 20, &buf, &len), 0);
        assert_string_equal(buf, "short\n");
        free(buf);
        assert_int_equal(count_entries(f->dir), 1);

        /* Empty content; binary content with NUL bytes. */
        assert_int_equal(fileio_write_atomic(p, "", 0, 0600), 0);
        assert_int_equal(fileio_read_full(p, 10, &buf, &len), 0);
        assert_int_equal(len, 0);
        assert_string_equal(buf, "");
        free(buf);
        const char bin[] = { 'a', 0, 'b', 0, (char) 0xff };
        assert_int_equal(fileio_write_atomic(p, bin, sizeof bin, 0600), 0);
        assert_int_equal(fileio_read_full(p, 10, &buf, &len), 0);
        assert_int_equal(len, sizeof bin);
        assert_memory_equal(buf, bin, sizeof bin);
        assert_int_equal(buf[len], 0);
        free(buf);

        /* A missing directory fails cleanly and creates nothing. */
        _cleanup_free_ char *missing = path_in(f, "nodir/r0.res");
        assert_int_equal(fileio_write_atomic(missing, "x", 1, 0600), -ENOENT);
        assert_int_equal(count_entries(f->dir), 1);

        /* Where a directory stands, nothing is replaced and no temp file stays. */
        _cleanup_free_ char *d = path_in(f, "adir");
        assert_int_equal(mkdir(d, 0700), 0);
        assert_true(fileio_write_atomic(d, "x", 1, 0600) < 0);
        assert_int_equal(count_entries(f->dir), 2);
}

static void test_write_if_changed(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "r1.res");
        assert_int_equal(fileio_write_if_changed(p, "a\n", 0600), 1);
        assert_mode(p, 0600);
        assert_int_equal(fileio_write_if_changed(p, "a\n", 0600), 0);
        assert_int_equal(fileio_write_if_changed(p, "ab\n", 0600), 1);
        assert_int_equal(fileio_write_if_changed(p, "ab\n", 0600), 0);
        assert_int_equal(count_entries(f->dir), 1);
}

static void test_read_full(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "data");
        char *buf = NULL;
        size_t len = 0, n = 100000;

        char *big = malloc(n);
        assert_non_null(big);
        for (size_t i = 0; i < n; i++)
                big[i] = (char) ('0' + i % 10);
        assert_int_equal(fileio_write_atomic(p, big, n, 0600), 0);

        /* Larger than several read chunks. */
        assert_int_equal(fileio_read_full(p, n, &buf, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(buf, big, n);
        assert_int_equal(buf[n], 0);
        free(buf);

        /* One byte over the limit: -EFBIG, and *ret untouched. */
        buf = (char *) "untouched";
        len = 42;
        assert_int_equal(fileio_read_full(p, n - 1, &buf, &len), -EFBIG);
        assert_string_equal(buf, "untouched");
        assert_int_equal(len, 42);
        assert_int_equal(fileio_read_full(p, 0, &buf, &len), -EFBIG);
        assert_int_equal(fileio_read_full(p, 4096, &buf, &len), -EFBIG);

        /* ret_len is optional. */
        assert_int_equal(fileio_write_atomic(p, "abc", 3, 0600), 0);
        buf = NULL;
        assert_int_equal(fileio_read_full(p, 3, &buf, NULL), 0);
        assert_string_equal(buf, "abc");
        free(buf);
        assert_int_equal(fileio_read_full(p, 2, &buf, NULL), -EFBIG);

        _cleanup_free_ char *missing = path_in(f, "missing");
        assert_int_equal(fileio_read_full(missing, 10, &buf, &len), -ENOENT);
        assert_int_equal(fileio_read_full(f->dir, 10, &buf, &len), -EISDIR);
        free(big);
}

static void test_mkdir_p(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *deep = path_in(f, "var/lib/drbdd");
        _cleanup_free_ char *mid = path_in(f, "var/lib");
        struct stat st;

        assert_int_equal(fileio_mkdir_p(deep, 0700), 0);
        assert_int_equal(stat(deep, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_mode(deep, 0700);
        assert_mode(mid, 0700);

        /* Existing: fine, and modes of existing directories are left alone. */
        assert_int_equal(chmod(mid, 0755), 0);
        assert_int_equal(fileio_mkdir_p(deep, 0700), 0);
        assert_mode(mid, 0755);

        /* Trailing and doubled slashes. */
        _cleanup_free_ char *slashes = path_in(f, "a//b/c/");
        assert_int_equal(fileio_mkdir_p(slashes, 0750), 0);
        _cleanup_free_ char *c = path_in(f, "a/b/c");
        assert_mode(c, 0750);

        /* A file in the way. */
        _cleanup_free_ char *file = path_in(f, "file");
        _cleanup_free_ char *under = path_in(f, "file/sub");
        assert_int_equal(fileio_write_atomic(file, "x", 1, 0600), 0);
        assert_int_equal(fileio_mkdir_p(file, 0700), -ENOTDIR);
        assert_int_equal(fileio_mkdir_p(under, 0700), -ENOTDIR);

        assert_int_equal(fileio_mkdir_p("", 0700), -EINVAL);
        assert_int_equal(fileio_mkdir_p("/", 0700), 0);
        assert_int_equal(fileio_mkdir_p("/proc/drbdd-test", 0700), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_if_changed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_full, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
