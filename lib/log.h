/* Logging to stderr (or the journal via stderr under systemd), with levels. */
#pragma once

#include <syslog.h>
#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Parse "debug", "info", "notice", "warning", "err"; returns level or -EINVAL. */
int log_level_from_string(const char *s);
void log_set_prefix(const char *prefix);

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
