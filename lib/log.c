/* Logging to stderr with a level filter and a program prefix. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *log_prefix = NULL;

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
