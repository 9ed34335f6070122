/* The /metrics HTTP endpoint (libmicrohttpd, one thread of its own). */
#pragma once

#include "drbdd/metrics/metrics.h"

typedef struct MetricsHttp MetricsHttp;

/* Limits against hostile clients: connections at once, memory per
 * connection (request line and headers must fit: larger requests get 431
 * or 414), seconds a connection may sit idle (a slowloris client that
 * trickles bytes slower than that is dropped). */
#define METRICS_HTTP_CONNECTIONS_MAX 32
#define METRICS_HTTP_MEMORY_MAX (16 * 1024)
#define METRICS_HTTP_IDLE_SEC 5

/* Serves m on http://address:port/metrics. address is a numeric IPv4 or
 * IPv6 address (no name lookup); port 0 picks a free one (see
 * metrics_http_port()). Only GET and HEAD of /metrics answer 200; other
 * paths 404, other methods 405. Rendering runs on the server's thread; it
 * only reads the registry under its lock. Returns 0, -EINVAL (address),
 * -EADDRINUSE and other bind errors (errno of the failed bind), -ENOMEM. */
int metrics_http_start(Metrics *m, const char *address, unsigned port, MetricsHttp **ret);
/* Stops the server thread and frees h. NULL-safe; returns NULL. */
MetricsHttp *metrics_http_stop(MetricsHttp *h);
/* The bound port. */
unsigned metrics_http_port(const MetricsHttp *h);
