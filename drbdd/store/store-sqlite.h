/* SQLite store backend: what it offers beyond StoreOps (compaction, fault injection for tests). */
#pragma once

#include <stdint.h>

#include "store.h"

/* History kept for watches, in revisions; older events are compacted away
 * automatically on commit and a watch behind them gets -ESTALE. */
#define STORE_SQLITE_HISTORY_KEEP 10000

/* Drops watch history up to and including rev. Returns 0, -EINVAL if rev is
 * negative or beyond the current revision or s is not an SQLite store, other
 * negative errno on database errors. */
int store_sqlite_compact(Store *s, int64_t rev);

/* Fault injection (tests only, process-global): the next time any SQLite
 * store passes point, the operation fails with error (a negative errno) and
 * is rolled back. Points: "begin" (start of a write transaction), "commit"
 * (just before COMMIT), "open" (store open). One-shot; point NULL disarms.
 * Returns 0, or -EINVAL for an unknown point or a non-negative error. */
int store_sqlite_set_fault(const char *point, int error);
