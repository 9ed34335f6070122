/* The /metrics HTTP endpoint: libmicrohttpd on a socket drbdd binds itself. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "drbdd/metrics/metrics-http.h"
#include "log.h"
#include "macro.h"

struct MetricsHttp {
        Metrics *metrics;
        struct MHD_Daemon *daemon;
        MetricsFamily *requests;
        unsigned port;
};

static enum MHD_Result reply(struct MHD_Connection *c, MetricsHttp *h, unsigned code, const char *type, char *body,
                             size_t len, bool must_free) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, must_free ? MHD_RESPMEM_MUST_FREE
                                                                                         : MHD_RESPMEM_PERSISTENT);
        char code_s[16];
        if (!resp) {
                if (must_free)
                        free(body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result r = MHD_queue_response(c, code, resp);
        MHD_destroy_response(resp);
        snprintf(code_s, sizeof code_s, "%u", code);
        (void) metrics_add(h->requests, METRICS_LABELS(code_s), 1);
        return r;
}

#define TEXT(s) (char *) (s), sizeof(s) - 1

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        MetricsHttp *h = cls;
        static int first;

        if (!*con_cls) {
                /* First call: headers are in. Answer at once; a body is not
                 * read (the connection is closed after the reply). */
                *con_cls = &first;
        }
        if (*upload_data_size) {
                *upload_data_size = 0; /* discard */
                return MHD_YES;
        }
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return reply(c, h, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                             TEXT("Method not allowed: only GET and HEAD of /metrics\n"), false);
        if (!streq(url, "/metrics"))
                return reply(c, h, MHD_HTTP_NOT_FOUND, "text/plain", TEXT("Not found: metrics are at /metrics\n"),
                             false);
        char *text = NULL;
        size_t len = 0;
        if (metrics_render(h->metrics, &text, &len) < 0)
                return reply(c, h, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", TEXT("Out of memory\n"), false);
        return reply(c, h, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len, true);
}

static int listen_on(const char *address, unsigned port, int *ret_fd) {
        struct sockaddr_storage ss = {};
        socklen_t sl;
        struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
        int one = 1;

        if (port > 65535)
                return -EINVAL;
        if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t) port);
                sl = sizeof *in4;
        } else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                sl = sizeof *in6;
        } else
                return -EINVAL;
        _cleanup_close_ int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ss.ss_family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, (struct sockaddr *) &ss, sl) < 0 || listen(fd, 64) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof buf, fmt, ap);
        buf[strcspn(buf, "\n")] = 0;
        log_debug("metrics HTTP: %s", buf);
}

int metrics_http_start(Metrics *m, const char *address, unsigned port, MetricsHttp **ret) {
        _cleanup_close_ int fd = -1;
        int r;

        if (!m || !address || !ret)
                return -EINVAL;
        MetricsHttp *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->metrics = m;
        if ((r = metrics_family_new(m, "drbdd_metrics_http_requests_total", METRICS_COUNTER,
                                    "HTTP requests to the metrics endpoint by status code",
                                    METRICS_LABELS("code"), NULL, 0, &h->requests)) < 0 ||
            (r = listen_on(address, port, &fd)) < 0) {
                free(h);
                return r;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *) &ss, &sl) == 0)
                h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                          : ((struct sockaddr_in *) &ss)->sin_port);
        /* One internal thread (epoll): requests are served one after
         * another; a render takes the registry lock only while it copies. */
        h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
                                     0, NULL, NULL, on_request, h,
                                     MHD_OPTION_LISTEN_SOCKET, fd,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_HTTP_CONNECTIONS_MAX,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) METRICS_HTTP_MEMORY_MAX,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) METRICS_HTTP_IDLE_SEC,
                                     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                     MHD_OPTION_END);
        if (!h->daemon) {
                free(h);
                return -ENOMEM; /* MHD says no more; the socket was fine */
        }
        TAKE_FD(fd); /* the daemon owns it now */
        *ret = h;
        return 0;
}

MetricsHttp *metrics_http_stop(MetricsHttp *h) {
        if (!h)
                return NULL;
        if (h->daemon)
                MHD_stop_daemon(h->daemon); /* closes the listening socket too */
        free(h);
        return NULL;
}

unsigned metrics_http_port(const MetricsHttp *h) { return h ? h->port : 0; }
