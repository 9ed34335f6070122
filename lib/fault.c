/* Fault injection: SIGKILL at named points listed in $DRBDD_FAULT. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

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
