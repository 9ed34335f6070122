/* Small helpers shared by the daemon's threads (API workers, cluster,
 * keep-alive, etcd watches and probes). */
#pragma once

#include <pthread.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds. */
uint64_t thread_monotonic_usec(void);

/* pthread_create() with every signal blocked in the new thread: signals are
 * the main loop's business (sd-event's signalfd). Returns 0 or -errno. */
int thread_start(pthread_t *ret, void *(*fn)(void *), void *arg);
