/* API call metrics: the dispatcher's call observer feeds two families. */
#include "bus-error.h"
#include "bus-metrics.h"
#include "bus.h"
#include "macro.h"

static MetricsFamily *bus_metrics_requests, *bus_metrics_seconds;

/* "org.drbd.drbdd1.Error.NotFound" -> "NotFound"; a bounded label set. */
static const char *result_name(int r) {
        if (r == BUS_REPLY_DEFERRED)
                return "deferred";
        if (r >= 0)
                return "ok";
        const char *e = bus_error_from_errno(r), *dot = strrchr(e, '.');
        return dot ? dot + 1 : e;
}

static void on_call(const char *method, int result, uint64_t usec, void *userdata) {
        (void) metrics_add(bus_metrics_requests, METRICS_LABELS(method, result_name(result)), 1);
        if (result != BUS_REPLY_DEFERRED)
                (void) metrics_observe(bus_metrics_seconds, METRICS_LABELS(method), (double) usec / 1e6);
}

int bus_metrics_register(Metrics *m) {
        static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
        int r;
        if ((r = metrics_family_new(m, "drbdd_api_requests_total", METRICS_COUNTER,
                                    "D-Bus API calls answered, by method and result (ok, deferred, or the "
                                    "org.drbd.drbdd1.Error name)", METRICS_LABELS("method", "result"), NULL, 0,
                                    &bus_metrics_requests)) < 0 ||
            (r = metrics_family_new(m, "drbdd_api_request_duration_seconds", METRICS_HISTOGRAM,
                                    "D-Bus API calls from dispatch to reply (deferred ones not included), by method",
                                    METRICS_LABELS("method"), buckets, ELEMENTSOF(buckets),
                                    &bus_metrics_seconds)) < 0)
                return r;
        bus_set_call_observer(on_call, NULL);
        return 0;
}
