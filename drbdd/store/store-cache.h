/* A read-through cache in front of a remote store: while the store cannot be
 * reached, reads are answered from the last state read (so operators still
 * see the last-known state), while writes fail fast as before. */
#pragma once

#include "store.h"

/* Wraps inner (taking ownership: closing the cache closes inner). Reads
 * that succeed refresh the cache; reads that fail with -EHOSTUNREACH or
 * -ETIMEDOUT are answered from the cache when it holds the key (a key read
 * as absent reads as absent, -ENOENT) or a range read of a covering prefix. With share (another cache made here), the two
 * share what was read: handles used on different threads (each with its own
 * inner handle) answer from one last-known state. The shared state is
 * locked; each handle belongs to one thread at a time, as any Store. NULL
 * share: a cache of its own. */
int store_cache_new_shared(Store *inner, Store *share, Store **ret);

/* How many reads on this handle were answered from the cache (the store
 * unreachable) since it was made; 0 for a store that is no cache. A caller
 * compares the count before and after its reads to know whether what it
 * shows is the last-known state rather than the current one. */
uint64_t store_cache_stale_reads(Store *s);
