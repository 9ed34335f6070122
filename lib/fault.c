/* Fault injection: SIGKILL at named points listed in $DRBDD_FAULT. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "log.h"

void fault_point(const char *point) {
        const char *list = getenv("DRBDD_FAULT");
        size_t n = strlen(point);
        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                if (len == n && strncmp(p, point, n) == 0) {
                        log_notice("fault injection: killing drbdd at '%s'", point);
                        raise(SIGKILL);
                }
                p = end ? end + 1 : NULL;
        }
}

void fault_stall(const char *point) {
        const char *list = getenv("DRBDD_STALL");
        size_t n = strlen(point);
        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                if (len > n + 1 && strncmp(p, point, n) == 0 && p[n] == '=') {
                        long ms = strtol(p + n + 1, NULL, 10);
                        if (ms > 0 && ms <= 600000) {
                                log_notice("fault injection: stalling %ld ms at '%s'", ms, point);
                                struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
                                while (nanosleep(&ts, &ts) < 0)
                                        ;
                        }
                }
                p = end ? end + 1 : NULL;
        }
}
