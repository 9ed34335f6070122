/* DRBD dialect names, both ways (drbd-dialect.h). */
#include <errno.h>

#include "drbd-dialect.h"
#include "macro.h"

static const char *const drbd_dialect_table[_DRBD_DIALECT_MAX] = {
        [DRBD_DIALECT_84] = "8.4",
        [DRBD_DIALECT_9] = "9",
};

const char *drbd_dialect_to_string(DrbdDialect d) {
        return (unsigned) d < _DRBD_DIALECT_MAX ? drbd_dialect_table[d] : NULL;
}

int drbd_dialect_from_string(const char *s) {
        for (unsigned i = 0; s && i < _DRBD_DIALECT_MAX; i++)
                if (streq(s, drbd_dialect_table[i]))
                        return (int) i;
        return -EINVAL;
}
