/* Subprocess execution: fork/exec with pipes, poll loop, timeout, recording. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "exec.h"
#include "log.h"
#include "macro.h"

/* Per thread: the agent's counts and recordings are its own, and a dry run
 * (recording) on one thread never turns another thread's real runs into
 * recorded ones. */
static _Thread_local uint64_t exec_count;

static _Thread_local struct {
        bool active;
        ExecResponder responder;
        void *userdata;
        char *log;
        size_t len;
} rec;

/* The command log (DRBDD_EXEC_LOG): every command started for real, one
 * quoted line each, appended, so that a test can compare what ran with
 * what show-commands printed. Opened at the first command run while the
 * variable is set; one write(2) per line under a lock. */
static pthread_mutex_t command_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int command_log_fd = -1;

static void command_log(char *const argv[]) {
        const char *path = getenv("DRBDD_EXEC_LOG");
        _cleanup_free_ char *line = NULL, *nl = NULL;
        if (!path || !*path)
                return;
        line = exec_argv_to_string(argv);
        if (!line || asprintf(&nl, "%s\n", line) < 0)
                return;
        pthread_mutex_lock(&command_log_lock);
        if (command_log_fd < 0)
                command_log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (command_log_fd >= 0)
                (void) !write(command_log_fd, nl, strlen(nl));
        pthread_mutex_unlock(&command_log_lock);
}

void exec_result_done(ExecResult *r) {
        if (!r)
                return;
        free(r->out);
        free(r->err);
        *r = (ExecResult) {};
}

static bool is_plain(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *s))
                        return false;
        return true;
}

char *exec_argv_to_string(char *const argv[]) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        for (size_t i = 0; argv[i]; i++) {
                if (i > 0)
                        fputc(' ', f);
                if (is_plain(argv[i]))
                        fputs(argv[i], f);
                else {
                        fputc('\'', f);
                        for (const char *p = argv[i]; *p; p++)
                                if (*p == '\'')
                                        fputs("'\\''", f);
                                else
                                        fputc(*p, f);
                        fputc('\'', f);
                }
        }
        fclose(f);
        return buf;
}

void exec_record_start(ExecResponder responder, void *userdata) {
        free(rec.log);
        rec.active = true;
        rec.responder = responder;
        rec.userdata = userdata;
        rec.log = NULL;
        rec.len = 0;
}

char *exec_record_stop(void) {
        char *l = rec.log ? rec.log : strdup("");
        rec = (typeof(rec)) {};
        return l;
}

static int record(char *const argv[], ExecResult *ret) {
        _cleanup_free_ char *line = exec_argv_to_string(argv);
        if (!line)
                return -ENOMEM;
        size_t l = strlen(line);
        char *n = realloc(rec.log, rec.len + l + 2);
        if (!n)
                return -ENOMEM;
        rec.log = n;
        memcpy(rec.log + rec.len, line, l);
        rec.len += l;
        rec.log[rec.len++] = '\n';
        rec.log[rec.len] = 0;
        int r = rec.responder ? rec.responder(argv, rec.userdata, ret) : 0;
        /* Like a real run, out and err are never NULL. */
        if (!ret->out && !(ret->out = strdup("")))
                return -ENOMEM;
        if (!ret->err && !(ret->err = strdup("")))
                return -ENOMEM;
        return r;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct Buf {
        char *data;
        size_t len, cap;
} Buf;

static int buf_read(Buf *b, int fd, size_t max) {
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : -errno;
        if (n == 0)
                return 0;
        size_t keep = b->len >= max ? 0 : MIN((size_t) n, max - b->len);
        if (b->len + keep + 1 > b->cap) {
                size_t cap = MAX(b->cap * 2, b->len + keep + 1);
                char *d = realloc(b->data, cap);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, tmp, keep);
        b->len += keep;
        b->data[b->len] = 0;
        return 1;
}

static char *buf_take(Buf *b, size_t *ret_len) {
        if (!b->data)
                b->data = strdup("");
        *ret_len = b->len;
        return TAKE_PTR(b->data);
}

/* Waits for pid until deadline; false if it is still running then. */
static bool wait_until(pid_t pid, uint64_t deadline, int *ret_status) {
        for (;;) {
                pid_t k = waitpid(pid, ret_status, WNOHANG);
                if (k == pid || (k < 0 && errno != EINTR))
                        return true;
                if (now_ms() >= deadline)
                        return false;
                (void) nanosleep(&(struct timespec) { 0, 5 * 1000 * 1000 }, NULL);
        }
}

int exec_run(char *const argv[], const ExecOptions *opts, ExecResult *ret) {
        static const ExecOptions defaults = {};
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, ex[2] = { -1, -1 };
        int r;

        *ret = (ExecResult) {};
        if (!opts)
                opts = &defaults;
        if (!argv || !argv[0])
                return -EINVAL;
        exec_count++;
        if (rec.active)
                return record(argv, ret);
        command_log(argv);

        /* ex carries errno from a failed execvp(); it closes unread when exec succeeds. */
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
            pipe2(ex, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail_pipes;
        }

        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                goto fail_pipes;
        }
        if (pid == 0) {
                /* Child: own process group so a timeout kills helpers too. */
                setpgid(0, 0);
                sigset_t ss;
                sigemptyset(&ss);
                sigprocmask(SIG_SETMASK, &ss, NULL);
                signal(SIGPIPE, SIG_DFL);
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(127);
                execvp(argv[0], argv);
                int e = errno;
                (void) !write(ex[1], &e, sizeof e);
                _exit(e == ENOENT ? 127 : 126);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        close(ex[1]);
        in[0] = out[1] = err[1] = ex[1] = -1;

        int exec_errno = 0;
        ssize_t n_ex;
        while ((n_ex = read(ex[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
                ;
        close(ex[0]);
        ex[0] = -1;
        if (n_ex == (ssize_t) sizeof exec_errno && exec_errno > 0) {
                /* Not run at all: no output to collect. */
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                r = -exec_errno;
                goto fail_pipes;
        }

        /* A child that exits without reading its input must not kill us with
         * SIGPIPE: block it while we write, and swallow one we caused. */
        sigset_t pipe_set, old_mask;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
        sigset_t pending;
        sigpending(&pending);
        bool pipe_was_pending = sigismember(&pending, SIGPIPE);

        size_t max = opts->max_output ? opts->max_output : 16u << 20;
        uint64_t deadline = now_ms() + (opts->timeout_ms ? opts->timeout_ms : 30000);
        size_t written = 0;
        Buf bo = {}, be = {};
        bool timed_out = false;

        fcntl(in[1], F_SETFL, O_NONBLOCK);
        if (!opts->input || opts->input_len == 0) {
                close(in[1]);
                in[1] = -1;
        }
        r = 0;
        while (out[0] >= 0 || err[0] >= 0) {
                struct pollfd p[3] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
                uint64_t t = now_ms();
                if (t >= deadline) {
                        timed_out = true;
                        break;
                }
                int n = poll(p, 3, (int) (deadline - t));
                if (n < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        int *fd = i == 0 ? &out[0] : &err[0];
                        if (*fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                                int k = buf_read(i == 0 ? &bo : &be, *fd, max);
                                if (k <= 0) {
                                        close(*fd);
                                        *fd = -1;
                                        if (k < 0)
                                                r = k;
                                }
                        }
                }
                if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
                        ssize_t w = write(in[1], opts->input + written, opts->input_len - written);
                        if (w > 0)
                                written += (size_t) w;
                        if (w < 0 && errno != EAGAIN && errno != EINTR)
                                written = opts->input_len;
                        if (written >= opts->input_len) {
                                close(in[1]);
                                in[1] = -1;
                        }
                }
        }
        if (!pipe_was_pending) {
                sigpending(&pending);
                if (sigismember(&pending, SIGPIPE))
                        (void) sigtimedwait(&pipe_set, NULL, &(struct timespec) {});
        }
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

        /* The child may have closed its output and still run: the deadline holds for it too. */
        int status = 0;
        if (!timed_out && r == 0 && !wait_until(pid, deadline, &status))
                timed_out = true;
        if (timed_out || r < 0) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
        }
        ret->out = buf_take(&bo, &ret->out_len);
        ret->err = buf_take(&be, &ret->err_len);
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        for (int *fd = (int[]) { out[0], err[0], in[1], -2 }; *fd != -2; fd++)
                if (*fd >= 0)
                        close(*fd);
        if (timed_out)
                return -ETIMEDOUT;
        if (r < 0)
                return r;
        return 0;

fail_pipes:
        for (int *fd = (int[]) { in[0], in[1], out[0], out[1], err[0], err[1], ex[0], ex[1], -2 }; *fd != -2; fd++)
                if (*fd >= 0)
                        close(*fd);
        return r;
}

/* The output folded onto one line ("; " between lines, tabs as spaces),
 * at most 600 characters: what an operator needs to see in one message. */
static char *first_line(const char *s) {
        char *out = malloc(601);
        size_t n = 0;
        if (!out)
                return NULL;
        while (*s == '\n' || *s == ' ')
                s++;
        for (; *s && n < 600; s++) {
                if (*s == '\n') {
                        while (s[1] == '\n' || s[1] == ' ' || s[1] == '\t')
                                s++;
                        if (s[1] && n + 2 <= 600) {
                                out[n++] = ';';
                                out[n++] = ' ';
                        }
                } else
                        out[n++] = *s == '\t' ? ' ' : ((unsigned char) *s < 0x20 ? '?' : *s);
        }
        out[n] = 0;
        return out;
}

int exec_run_checked(char *const argv[], const ExecOptions *opts, char **ret_out, char **ret_err) {
        ExecResult res;
        int r = exec_run(argv, opts, &res);
        _cleanup_free_ char *cmd = exec_argv_to_string(argv);
        char *msg = NULL;

        if (r == -ETIMEDOUT)
                r = asprintf(&msg, "%s timed out", argv[0]) < 0 ? -ENOMEM : -ETIMEDOUT;
        else if (r == -ENOENT)
                r = asprintf(&msg, "%s: command not found", argv[0]) < 0 ? -ENOMEM : -ENOENT;
        else if (r < 0)
                r = asprintf(&msg, "%s: %s", argv[0], strerror(-r)) < 0 ? -ENOMEM : r;
        else if (res.status != 0) {
                _cleanup_free_ char *line = first_line(res.err && *res.err ? res.err : (res.out ? res.out : ""));
                r = asprintf(&msg, "%s exited %d: %s", argv[0], res.status, line ? line : "") < 0 ? -ENOMEM : -EIO;
        }
        if (r < 0) {
                log_debug("command failed: %s: %s", cmd ? cmd : argv[0], msg ? msg : "");
                if (ret_err)
                        *ret_err = msg;
                else
                        free(msg);
                exec_result_done(&res);
                return r;
        }
        if (ret_out)
                *ret_out = TAKE_PTR(res.out);
        exec_result_done(&res);
        return 0;
}

int exec_spawn_reader(char *const argv[], pid_t *ret_pid, int *ret_fd) {
        int p[2];
        if (!argv || !argv[0])
                return -EINVAL;
        exec_count++;
        if (rec.active) {
                _cleanup_free_ char *line = exec_argv_to_string(argv);
                (void) line;
                return -ENOTSUP;
        }
        command_log(argv);
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                sigset_t ss;
                sigemptyset(&ss);
                sigprocmask(SIG_SETMASK, &ss, NULL);
                signal(SIGPIPE, SIG_DFL);
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (dup2(p[1], 1) < 0 || (devnull >= 0 && dup2(devnull, 0) < 0))
                        _exit(127);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        *ret_pid = pid;
        *ret_fd = p[0];
        return 0;
}

uint64_t exec_command_count(void) {
        return exec_count;
}
