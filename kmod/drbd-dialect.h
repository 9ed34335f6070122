/* The DRBD dialects drbdd speaks (8.4 and 9): what a kernel reports
 * (drbd-version.h) and what options, rendering and placement depend on. */
#pragma once

typedef enum DrbdDialect {
        DRBD_DIALECT_84,
        DRBD_DIALECT_9,
        _DRBD_DIALECT_MAX,
} DrbdDialect;

const char *drbd_dialect_to_string(DrbdDialect d); /* "8.4", "9" */
int drbd_dialect_from_string(const char *s);       /* or -EINVAL */
