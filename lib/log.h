/* Logging to stderr (or the journal via stderr under systemd), with levels. */
#pragma once

#include <syslog.h>
#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Parse "debug", "info", "notice", "warning", "err"; returns level or -EINVAL. */
int log_level_from_string(const char *s);
void log_set_prefix(const char *prefix);

/* Where messages go: stderr (plain lines), or the journal with structured
 * fields. auto: the journal when stderr is the journal's stream
 * (JOURNAL_STREAM, i.e. a systemd service), else stderr. */
typedef enum LogTarget { LOG_TARGET_AUTO, LOG_TARGET_CONSOLE, LOG_TARGET_JOURNAL } LogTarget;
void log_set_target(LogTarget t);
/* From $DRBDD_LOG_TARGET (console, journal, auto; unset: auto). Returns 0 or
 * -EINVAL for another value (the target stays auto). */
int log_set_target_from_env(void);

/* Structured journal fields added to the messages this thread logs while
 * they are set, e.g. log_field_set("RESOURCE", "vol1"), so that
 * `journalctl RESOURCE=vol1` finds them. key: upper case, digits and '_'
 * (journald's rule); value NULL removes the field. At most LOG_FIELDS_MAX
 * per thread; values are cut at 256 bytes. log_field_set_default() sets a
 * field for every thread (e.g. NODE=), which a thread's own field of the
 * same key overrides. Console output is unchanged. */
#define LOG_FIELDS_MAX 4
void log_field_set(const char *key, const char *value);
void log_fields_clear(void);
void log_field_set_default(const char *key, const char *value);

/* Logs and returns -abs(error) (or 0 if error == 0), so callers can write
 * `return log_error_errno(r, "Failed to ...: %s", ...);`. */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal(level, error, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)   (void) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    (void) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  (void) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) (void) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   (void) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, e, __VA_ARGS__)
