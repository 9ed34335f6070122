/* Logging to stderr or the journal (with structured fields), with a level
 * filter and a program prefix. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

typedef struct LogField {
        char key[32];
        char value[257];
} LogField;

static int max_level = LOG_INFO;
static const char *log_prefix = NULL;
static LogTarget log_target = LOG_TARGET_AUTO;
static __thread LogField log_fields[LOG_FIELDS_MAX];
static LogField log_default_field; /* one, set before threads start */

void log_set_target(LogTarget t) { log_target = t; }

int log_set_target_from_env(void) {
        const char *e = getenv("DRBDD_LOG_TARGET");
        if (!e || streq(e, "auto"))
                log_target = LOG_TARGET_AUTO;
        else if (streq(e, "console"))
                log_target = LOG_TARGET_CONSOLE;
        else if (streq(e, "journal"))
                log_target = LOG_TARGET_JOURNAL;
        else
                return -EINVAL;
        return 0;
}

static bool key_ok(const char *k) {
        if (!k || !*k || strlen(k) >= sizeof log_fields[0].key || *k == '_')
                return false;
        for (; *k; k++)
                if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
                        return false;
        return true;
}

static void field_put(LogField *f, const char *key, const char *value) {
        snprintf(f->key, sizeof f->key, "%s", key);
        snprintf(f->value, sizeof f->value, "%s", value);
}

void log_field_set(const char *key, const char *value) {
        LogField *free_slot = NULL;
        if (!key_ok(key))
                return;
        for (size_t i = 0; i < LOG_FIELDS_MAX; i++) {
                if (streq(log_fields[i].key, key)) {
                        if (value)
                                field_put(&log_fields[i], key, value);
                        else
                                log_fields[i].key[0] = 0;
                        return;
                }
                if (!log_fields[i].key[0] && !free_slot)
                        free_slot = &log_fields[i];
        }
        if (value && free_slot)
                field_put(free_slot, key, value);
}

void log_fields_clear(void) {
        for (size_t i = 0; i < LOG_FIELDS_MAX; i++)
                log_fields[i].key[0] = 0;
}

void log_field_set_default(const char *key, const char *value) {
        if (!key_ok(key))
                return;
        if (value)
                field_put(&log_default_field, key, value);
        else
                log_default_field.key[0] = 0;
}

/* Is stderr the journal's stream (systemd sets JOURNAL_STREAM=dev:ino)? */
static bool stderr_is_journal(void) {
        static int cached = -1;
        if (cached < 0) {
                const char *e = getenv("JOURNAL_STREAM");
                unsigned long long dev, ino;
                struct stat st;
                cached = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                         (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        }
        return cached;
}

/* Sends one entry; 0 or negative errno (then the caller writes to stderr). */
static int journal_send(int level, int error, const char *file, int line, const char *msg) {
        char fields[LOG_FIELDS_MAX + 1][300], prio[16], errno_s[24], code_file[300], code_line[24], ident[64];
        struct iovec iov[LOG_FIELDS_MAX + 8];
        char *message = NULL;
        size_t n = 0, nf = 0;
        bool have_default = false;
        if (asprintf(&message, "MESSAGE=%s", msg) < 0)
                return -ENOMEM;
        iov[n++] = (struct iovec) { message, strlen(message) };
        snprintf(prio, sizeof prio, "PRIORITY=%d", level & 7);
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        snprintf(code_file, sizeof code_file, "CODE_FILE=%s", file);
        iov[n++] = (struct iovec) { code_file, strlen(code_file) };
        snprintf(code_line, sizeof code_line, "CODE_LINE=%d", line);
        iov[n++] = (struct iovec) { code_line, strlen(code_line) };
        snprintf(ident, sizeof ident, "SYSLOG_IDENTIFIER=%s", log_prefix ? log_prefix : "drbdd");
        iov[n++] = (struct iovec) { ident, strlen(ident) };
        if (error > 0) {
                snprintf(errno_s, sizeof errno_s, "ERRNO=%d", error);
                iov[n++] = (struct iovec) { errno_s, strlen(errno_s) };
        }
        for (size_t i = 0; i < LOG_FIELDS_MAX; i++) {
                if (!log_fields[i].key[0])
                        continue;
                have_default = have_default || streq(log_fields[i].key, log_default_field.key);
                snprintf(fields[nf], sizeof fields[nf], "%.31s=%.256s", log_fields[i].key, log_fields[i].value);
                iov[n++] = (struct iovec) { fields[nf], strlen(fields[nf]) };
                nf++;
        }
        if (log_default_field.key[0] && !have_default) {
                snprintf(fields[nf], sizeof fields[nf], "%.31s=%.256s", log_default_field.key, log_default_field.value);
                iov[n++] = (struct iovec) { fields[nf], strlen(fields[nf]) };
        }
        int r = sd_journal_sendv(iov, (int) n);
        free(message);
        return r;
}


void log_set_max_level(int level) { max_level = level; }
int log_get_max_level(void) { return max_level; }
void log_set_prefix(const char *prefix) { log_prefix = prefix; }

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (names[i] && streq(names[i], s))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        return -EINVAL;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        int saved = errno;
        if (error < 0)
                error = -error;
        if (level <= max_level) {
                static const char *const tags[] = { "emerg", "alert", "crit", "error",
                                                    "warning", "notice", "info", "debug" };
                char buf[4096];
                va_list ap;
                va_start(ap, fmt);
                errno = error;
                vsnprintf(buf, sizeof buf, fmt, ap);
                va_end(ap);
                if ((log_target == LOG_TARGET_JOURNAL || (log_target == LOG_TARGET_AUTO && stderr_is_journal())) &&
                    journal_send(level, error, file, line, buf) >= 0) {
                        errno = saved;
                        return -error;
                }
                if (log_prefix)
                        fprintf(stderr, "%s: ", log_prefix);
                if (level >= LOG_DEBUG)
                        fprintf(stderr, "<%s:%d> ", file, line);
                else if (level != LOG_INFO && level != LOG_NOTICE)
                        fprintf(stderr, "%s: ", tags[level & 7]);
                fprintf(stderr, "%s\n", buf);
        }
        errno = saved;
        return -error;
}
