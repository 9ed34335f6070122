/* API call metrics: calls by method and result, and their latency. */
#pragma once

#include "drbdd/metrics/metrics.h"

/* Registers drbdd_api_requests_total{method,result} and
 * drbdd_api_request_duration_seconds{method} (histogram) and makes the
 * dispatcher report every answered call to them. m must outlive the bus.
 * Returns 0 or negative errno. */
int bus_metrics_register(Metrics *m);
