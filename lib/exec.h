/* The one way to run external commands: argv (never a shell), timeout,
 * captured output, and a recording mode for tests and dry runs. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ExecResult {
        int status;        /* exit code; 128+N when killed by signal N */
        char *out;         /* captured stdout, NUL-terminated, owned */
        size_t out_len;
        char *err;         /* captured stderr, NUL-terminated, owned */
        size_t err_len;
} ExecResult;

typedef struct ExecOptions {
        uint64_t timeout_ms; /* 0 = 30 s default */
        const char *input;   /* fed to stdin, may be NULL */
        size_t input_len;
        size_t max_output;   /* per stream; 0 = 16 MiB */
} ExecOptions;

/* A responder replaces real execution in recording mode: it fills *ret (the
 * callee allocates out/err or leaves them NULL) and returns 0, or a negative
 * errno to simulate a failure to spawn / a timeout. */
typedef int (*ExecResponder)(char *const argv[], void *userdata, ExecResult *ret);

/* With DRBDD_EXEC_LOG=PATH in the environment, every command started for
 * real (not recorded) is appended to PATH, quoted as exec_argv_to_string()
 * does, one per line: the command log the lab compares with show-commands. */

/* Runs argv[0] (looked up in PATH) with the given arguments. Returns 0 when
 * the command ran to completion, whatever its exit status (in ret->status);
 * -ETIMEDOUT when it was killed on timeout; -ENOENT when it does not exist;
 * other negative errno on failure to spawn. ret is always initialised and
 * must be released with exec_result_done(). */
int exec_run(char *const argv[], const ExecOptions *opts, ExecResult *ret);

/* Convenience: run and fold a non-zero exit into -EIO; on failure *ret_err
 * (if given) receives a newly allocated one-line message with stderr. */
int exec_run_checked(char *const argv[], const ExecOptions *opts, char **ret_out, char **ret_err);

void exec_result_done(ExecResult *r);

/* Recording mode, for the calling thread only: every command it runs is
 * appended (shell-quoted, one per line) to an internal log and, if responder
 * is NULL, reported as exit 0 with no output. exec_record_stop() returns the
 * log (caller frees) and restores real runs. Other threads keep running
 * their commands for real. */
void exec_record_start(ExecResponder responder, void *userdata);
char *exec_record_stop(void);
/* Quote argv for display (never for execution). Caller frees. */
char *exec_argv_to_string(char *const argv[]);

/* Starts argv as a long-lived child whose stdout is read through *ret_fd
 * (non-blocking, O_CLOEXEC); stderr goes to the daemon's stderr. Returns 0
 * with *ret_pid, or negative errno. Counts as one command. In recording mode
 * nothing runs and -ENOTSUP is returned. */
int exec_spawn_reader(char *const argv[], pid_t *ret_pid, int *ret_fd);

/* Number of commands the calling thread started through this module so far
 * (exec_run and exec_spawn_reader, real or recorded): lets the agent (one
 * thread) report, and tests check, how many commands a reconcile needed. */
uint64_t exec_command_count(void);
