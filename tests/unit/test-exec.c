/* Unit tests for lib/exec.c: real runs, exit codes, timeouts, input, missing commands, recording mode, quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "exec.h"
#include "macro.h"

#define ARGV(...) ((char *const[]) { __VA_ARGS__, NULL })

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;
        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void test_true_false(void **state) {
        ExecResult r;

        assert_int_equal(exec_run(ARGV("true"), NULL, &r), 0);
        assert_int_equal(r.status, 0);
        assert_non_null(r.out);
        assert_non_null(r.err);
        assert_string_equal(r.out, "");
        assert_int_equal(r.out_len, 0);
        exec_result_done(&r);
        assert_null(r.out);

        assert_int_equal(exec_run(ARGV("false"), NULL, &r), 0);
        assert_int_equal(r.status, 1);
        exec_result_done(&r);
        exec_result_done(NULL);
}

static void test_output_and_status(void **state) {
        ExecResult r;

        assert_int_equal(exec_run(ARGV("sh", "-c", "echo x; echo y >&2; exit 3"), NULL, &r), 0);
        assert_int_equal(r.status, 3);
        assert_string_equal(r.out, "x\n");
        assert_int_equal(r.out_len, 2);
        assert_string_equal(r.err, "y\n");
        assert_int_equal(r.err_len, 2);
        exec_result_done(&r);

        /* Arguments are passed as they are: no shell sees them. */
        assert_int_equal(exec_run(ARGV("printf", "%s|", "a b", "$HOME", "'q'", ";ls", ""), NULL, &r), 0);
        assert_string_equal(r.out, "a b|$HOME|'q'|;ls||");
        exec_result_done(&r);

        /* Killed by a signal: 128 + N. */
        assert_int_equal(exec_run(ARGV("sh", "-c", "kill -TERM $$"), NULL, &r), 0);
        assert_int_equal(r.status, 128 + SIGTERM);
        exec_result_done(&r);

        /* Output is capped per stream. */
        ExecOptions o = { .max_output = 10 };
        assert_int_equal(exec_run(ARGV("sh", "-c", "printf 0123456789abcdef; printf 0123456789abcdef >&2"), &o, &r), 0);
        assert_int_equal(r.out_len, 10);
        assert_string_equal(r.out, "0123456789");
        assert_string_equal(r.err, "0123456789");
        exec_result_done(&r);

        /* More output than a pipe holds, on both streams at once. */
        assert_int_equal(exec_run(ARGV("sh", "-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2"), NULL, &r), 0);
        assert_int_equal(r.out_len, 300000);
        assert_int_equal(r.err_len, 200000);
        exec_result_done(&r);
}

static void test_timeout(void **state) {
        ExecResult r;
        ExecOptions o = { .timeout_ms = 200 };

        uint64_t t0 = now_ms();
        assert_int_equal(exec_run(ARGV("sleep", "5"), &o, &r), -ETIMEDOUT);
        uint64_t took = now_ms() - t0;
        assert_true(took >= 190);
        assert_true(took < 2000);
        assert_int_equal(r.status, 128 + SIGKILL);
        exec_result_done(&r);

        /* Output before the timeout is kept. */
        assert_int_equal(exec_run(ARGV("sh", "-c", "echo started; sleep 5"), &o, &r), -ETIMEDOUT);
        assert_string_equal(r.out, "started\n");
        exec_result_done(&r);

        /* A command that closes its output and keeps running still times out. */
        t0 = now_ms();
        assert_int_equal(exec_run(ARGV("sh", "-c", "exec >&- 2>&-; sleep 5"), &o, &r), -ETIMEDOUT);
        assert_true(now_ms() - t0 < 2000);
        exec_result_done(&r);

        /* Helpers of the command die with it (own process group). */
        t0 = now_ms();
        assert_int_equal(exec_run(ARGV("sh", "-c", "sleep 5 & sleep 5; wait"), &o, &r), -ETIMEDOUT);
        assert_true(now_ms() - t0 < 2000);
        exec_result_done(&r);
}

static void test_input(void **state) {
        ExecResult r;
        const char text[] = "hello\nworld";
        ExecOptions o = { .input = text, .input_len = strlen(text) };

        assert_int_equal(exec_run(ARGV("cat"), &o, &r), 0);
        assert_int_equal(r.status, 0);
        assert_string_equal(r.out, text);
        exec_result_done(&r);

        /* More than a pipe buffer in both directions. */
        size_t n = 1u << 20;
        char *big = malloc(n);
        assert_non_null(big);
        for (size_t i = 0; i < n; i++)
                big[i] = (char) ('a' + i % 26);
        o = (ExecOptions) { .input = big, .input_len = n };
        assert_int_equal(exec_run(ARGV("cat"), &o, &r), 0);
        assert_int_equal(r.out_len, n);
        assert_memory_equal(r.out, big, n);
        exec_result_done(&r);

        /* A command that never reads its input: no SIGPIPE for us, none left pending.
         * (SIGPIPE may be ignored by whoever started us; a daemon must not rely on that.) */
        signal(SIGPIPE, SIG_DFL);
        assert_int_equal(exec_run(ARGV("true"), &o, &r), 0);
        assert_int_equal(r.status, 0);
        exec_result_done(&r);
        /* Closes stdin at once but keeps running: our write surely hits a closed pipe. */
        assert_int_equal(exec_run(ARGV("sh", "-c", "exec 0<&-; sleep 0.2; echo done"), &o, &r), 0);
        assert_int_equal(r.status, 0);
        assert_string_equal(r.out, "done\n");
        exec_result_done(&r);
        sigset_t pending;
        sigpending(&pending);
        assert_false(sigismember(&pending, SIGPIPE));
        free(big);

        /* No input: stdin is at EOF, not inherited. */
        assert_int_equal(exec_run(ARGV("cat"), NULL, &r), 0);
        assert_string_equal(r.out, "");
        exec_result_done(&r);
}

static void test_missing_command(void **state) {
        ExecResult r;
        char dir[] = "/tmp/test-exec-XXXXXX", path[64];

        assert_int_equal(exec_run(ARGV("drbdd-no-such-command"), NULL, &r), -ENOENT);
        exec_result_done(&r);
        assert_int_equal(exec_run(ARGV("/nonexistent/lvcreate"), NULL, &r), -ENOENT);
        exec_result_done(&r);

        /* Exit 127 from a command that exists is just a status. */
        assert_int_equal(exec_run(ARGV("sh", "-c", "exit 127"), NULL, &r), 0);
        assert_int_equal(r.status, 127);
        exec_result_done(&r);

        /* Not executable. */
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/script", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
        close(fd);
        assert_int_equal(exec_run(ARGV(path), NULL, &r), -EACCES);
        exec_result_done(&r);
        unlink(path);
        rmdir(dir);

        char *const empty[] = { NULL };
        assert_int_equal(exec_run(empty, NULL, &r), -EINVAL);
        assert_int_equal(exec_run(NULL, NULL, &r), -EINVAL);
}

static void test_run_checked(void **state) {
        char *out = NULL, *err = NULL;

        assert_int_equal(exec_run_checked(ARGV("sh", "-c", "echo fine"), NULL, &out, &err), 0);
        assert_string_equal(out, "fine\n");
        assert_null(err);
        free(out);
        out = NULL;

        assert_int_equal(exec_run_checked(ARGV("sh", "-c", "echo out; echo 'bad thing' >&2; exit 2"), NULL, &out, &err), -EIO);
        assert_null(out);
        assert_string_equal(err, "sh exited 2: bad thing");
        free(err);
        err = NULL;

        assert_int_equal(exec_run_checked(ARGV("drbdd-no-such-command"), NULL, NULL, &err), -ENOENT);
        assert_non_null(strstr(err, "not found"));
        free(err);
        err = NULL;

        ExecOptions o = { .timeout_ms = 100 };
        assert_int_equal(exec_run_checked(ARGV("sleep", "5"), &o, NULL, &err), -ETIMEDOUT);
        assert_string_equal(err, "sleep timed out");
        free(err);

        assert_int_equal(exec_run_checked(ARGV("false"), NULL, NULL, NULL), -EIO);
}

static void test_no_fd_leak(void **state) {
        int before = count_fds();
        ExecResult r;
        ExecOptions o = { .timeout_ms = 100, .input = "x", .input_len = 1 };
        for (int i = 0; i < 5; i++) {
                assert_int_equal(exec_run(ARGV("cat"), &o, &r), 0);
                exec_result_done(&r);
                assert_int_equal(exec_run(ARGV("sleep", "5"), &o, &r), -ETIMEDOUT);
                exec_result_done(&r);
                assert_int_equal(exec_run(ARGV("drbdd-no-such-command"), &o, &r), -ENOENT);
                exec_result_done(&r);
        }
        assert_int_equal(count_fds(), before);
}

static void test_record_plain(void **state) {
        ExecResult r;

        exec_record_start(NULL, NULL);
        assert_int_equal(exec_run(ARGV("lvcreate", "-n", "vol 1", "-L", "10M", "vg0"), NULL, &r), 0);
        assert_int_equal(r.status, 0);
        assert_string_equal(r.out, "");
        assert_string_equal(r.err, "");
        exec_result_done(&r);
        /* Nothing is really run. */
        assert_int_equal(exec_run(ARGV("drbdd-no-such-command", "--force"), NULL, &r), 0);
        exec_result_done(&r);
        char *out = NULL;
        assert_int_equal(exec_run_checked(ARGV("drbdadm", "up", "r0"), NULL, &out, NULL), 0);
        assert_string_equal(out, "");
        free(out);

        _cleanup_free_ char *log = exec_record_stop();
        assert_string_equal(log, "lvcreate -n 'vol 1' -L 10M vg0\n"
                                 "drbdd-no-such-command --force\n"
                                 "drbdadm up r0\n");

        /* Real runs again. */
        assert_int_equal(exec_run(ARGV("sh", "-c", "echo real"), NULL, &r), 0);
        assert_string_equal(r.out, "real\n");
        exec_result_done(&r);

        /* An empty recording is an empty string. */
        exec_record_start(NULL, NULL);
        _cleanup_free_ char *empty = exec_record_stop();
        assert_string_equal(empty, "");
}

typedef struct Calls {
        int n;
} Calls;

static int responder(char *const argv[], void *userdata, ExecResult *ret) {
        Calls *c = userdata;
        c->n++;
        if (streq(argv[0], "lvcreate")) {
                ret->status = 5;
                ret->err = strdup("  Volume group \"vg0\" has insufficient free space\n");
                ret->err_len = strlen(ret->err);
                return 0;
        }
        if (streq(argv[0], "drbdsetup"))
                return -ETIMEDOUT;
        ret->out = strdup("ok\n");
        ret->out_len = 3;
        return 0;
}

static void test_record_responder(void **state) {
        Calls calls = {};
        ExecResult r;
        char *out = NULL, *err = NULL;

        exec_record_start(responder, &calls);
        assert_int_equal(exec_run(ARGV("lvs", "--noheadings"), NULL, &r), 0);
        assert_string_equal(r.out, "ok\n");
        assert_string_equal(r.err, "");
        exec_result_done(&r);

        assert_int_equal(exec_run_checked(ARGV("lvcreate", "-L", "1T", "vg0"), NULL, &out, &err), -EIO);
        assert_null(out);
        assert_string_equal(err, "lvcreate exited 5: Volume group \"vg0\" has insufficient free space");
        free(err);
        err = NULL;

        assert_int_equal(exec_run(ARGV("drbdsetup", "events2", "--now"), NULL, &r), -ETIMEDOUT);
        exec_result_done(&r);
        assert_int_equal(exec_run_checked(ARGV("drbdsetup", "status"), NULL, NULL, &err), -ETIMEDOUT);
        assert_string_equal(err, "drbdsetup timed out");
        free(err);

        _cleanup_free_ char *log = exec_record_stop();
        assert_int_equal(calls.n, 4);
        assert_string_equal(log, "lvs --noheadings\n"
                                 "lvcreate -L 1T vg0\n"
                                 "drbdsetup events2 --now\n"
                                 "drbdsetup status\n");
}

static void assert_quoted(char *const argv[], const char *expected) {
        _cleanup_free_ char *s = exec_argv_to_string(argv);
        assert_non_null(s);
        assert_string_equal(s, expected);
}

static void test_argv_to_string(void **state) {
        assert_quoted(ARGV("drbdadm", "-c", "/etc/drbd.d/r0.res", "up", "r0"), "drbdadm -c /etc/drbd.d/r0.res up r0");
        assert_quoted(ARGV("a=b", "x,y", "u@h:1", "+1", "50%"), "a=b x,y u@h:1 +1 50%");
        assert_quoted(ARGV("two words"), "'two words'");
        assert_quoted(ARGV("echo", ""), "echo ''");
        assert_quoted(ARGV("it's"), "'it'\\''s'");
        assert_quoted(ARGV("$(rm -rf /)", "`id`", "a;b", "a|b", "a&b", "*"), "'$(rm -rf /)' '`id`' 'a;b' 'a|b' 'a&b' '*'");
        assert_quoted(ARGV("back\\slash", "dq\"", "new\nline", "tab\t"), "'back\\slash' 'dq\"' 'new\nline' 'tab\t'");
        assert_quoted(ARGV("''"), "''\\'''\\'''");
        assert_quoted((char *const[]) { NULL }, "");
}

/* DRBDD_EXEC_LOG: commands run for real are logged, recorded ones are not.
 * In a child, since the log is opened once per process. */
static void test_command_log(void **state) {
        char path[] = "/tmp/test-exec-log-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                ExecResult res;
                setenv("DRBDD_EXEC_LOG", path, 1);
                int r = exec_run(ARGV("true", "a b", "c"), NULL, &res);
                exec_result_done(&res);
                exec_record_start(NULL, NULL);
                (void) exec_run(ARGV("lvcreate", "--not-run"), NULL, &res);
                exec_result_done(&res);
                free(exec_record_stop());
                r = r < 0 ? r : exec_run(ARGV("sh", "-c", "exit 3"), NULL, &res);
                exec_result_done(&res);
                _exit(r < 0 ? 1 : 0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char buf[256] = {};
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(read(fd, buf, sizeof buf - 1) >= 0);
        close(fd);
        unlink(path);
        assert_string_equal(buf, "true 'a b' c\nsh -c 'exit 3'\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_true_false),
                cmocka_unit_test(test_output_and_status),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_input),
                cmocka_unit_test(test_missing_command),
                cmocka_unit_test(test_run_checked),
                cmocka_unit_test(test_no_fd_leak),
                cmocka_unit_test(test_record_plain),
                cmocka_unit_test(test_record_responder),
                cmocka_unit_test(test_argv_to_string),
                cmocka_unit_test(test_command_log),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
