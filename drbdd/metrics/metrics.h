/* The metrics registry: metric families with labelled samples, rendered in
 * the Prometheus text format (version 0.0.4) for /metrics. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Thread model: every function here may be called from any thread. One
 * recursive mutex guards the registry, so a render (on the HTTP thread)
 * sees either none or all of a collector's updates (collectors run inside
 * metrics_collect(), under the lock, on the event loop); an API worker's
 * metrics_add() waits at most for one render or one collection. */

typedef enum MetricsType {
        METRICS_GAUGE,     /* "gauge" */
        METRICS_COUNTER,   /* "counter" */
        METRICS_HISTOGRAM, /* "histogram" */
        _METRICS_TYPE_MAX,
} MetricsType;

const char *metrics_type_to_string(MetricsType t);
int metrics_type_from_string(const char *s);

typedef struct Metrics Metrics;
typedef struct MetricsFamily MetricsFamily;

/* Limits against a runaway collector: samples of one family, families. */
#define METRICS_SAMPLES_MAX 65536
#define METRICS_FAMILIES_MAX 512
#define METRICS_LABELS_MAX 8
#define METRICS_BUCKETS_MAX 32

/* New empty registry; free with metrics_free() (NULL-safe, returns NULL). */
int metrics_new(Metrics **ret);
Metrics *metrics_free(Metrics *m);

/* Registers a family and returns it in *ret (owned by the registry, valid
 * until metrics_free()). name and labels must be valid Prometheus names
 * ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without ':' and not "le"), labels a
 * NULL-terminated list (NULL for none). Registering the same name again
 * with the same type and labels returns the existing family; with another
 * type or labels it is -EEXIST. A histogram needs buckets (upper bounds,
 * increasing, +Inf implied; n_buckets 1..METRICS_BUCKETS_MAX), other types
 * pass NULL, 0. Returns 0, -EINVAL, -EEXIST, -ENOSPC or -ENOMEM. */
int metrics_family_new(Metrics *m, const char *name, MetricsType type, const char *help,
                       const char *const *labels, const double *buckets, size_t n_buckets, MetricsFamily **ret);

/* Sample updates. values: one label value per label name, in order (any
 * bytes; escaped when rendered); NULL for a family without labels.
 * metrics_set() sets a gauge (or a counter's current total, as read from
 * elsewhere), metrics_add() adds to a gauge or counter (a counter refuses
 * a negative delta), metrics_observe() adds one observation to a histogram.
 * Return 0, -EINVAL (wrong type, NaN for a counter), -ENOSPC or -ENOMEM. */
int metrics_set(MetricsFamily *f, const char *const *values, double v);
int metrics_add(MetricsFamily *f, const char *const *values, double delta);
int metrics_observe(MetricsFamily *f, const char *const *values, double v);

/* Removes every sample of the family (a collector that recomputes a family
 * from scratch calls this first, so series of gone objects disappear). */
void metrics_family_reset(MetricsFamily *f);

/* Convenience: label values as a compound literal, e.g.
 * metrics_set(f, METRICS_LABELS("r0", "0"), 1). */
#define METRICS_LABELS(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* A collector recomputes families from state that only its thread may read
 * (the agent's DRBD state on the agent's thread). It runs with the registry
 * locked: inside metrics_collect() on the thread that runs the registered
 * collectors, or by metrics_collect_one() on a thread of its own. */
typedef void (*MetricsCollectFn)(Metrics *m, void *userdata);
int metrics_collector_add(Metrics *m, MetricsCollectFn fn, void *userdata);
/* Runs every collector, in registration order, under the lock. Call it
 * from the thread that owns the collectors' state. */
void metrics_collect(Metrics *m);
/* Runs one collector that is not registered, under the lock, on the
 * calling thread (which owns its state). */
void metrics_collect_one(Metrics *m, MetricsCollectFn fn, void *userdata);
/* Monotonic usec of the last metrics_render(), 0 if never. */
uint64_t metrics_last_render_usec(Metrics *m);

/* Renders every family that has samples, in registration order (a family
 * without samples is left out, HELP and TYPE too). *ret is malloc'ed, NUL-terminated,
 * owned by the caller; *ret_len its length. Returns 0 or -ENOMEM. */
int metrics_render(Metrics *m, char **ret, size_t *ret_len);

/* Appends v in the text format's float syntax ("1", "0.25", "NaN", "+Inf")
 * to buf (size at least 32). Exposed for tests. */
void metrics_format_value(double v, char *buf, size_t size);
