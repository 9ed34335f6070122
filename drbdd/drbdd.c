/* drbdd: the volume service daemon. Reads its configuration, opens the
 * cluster store, serves the D-Bus API on the system bus. */
#include <arpa/inet.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "drbdd/agent/agent.h"
#include "drbdd/service/service-relay.h"
#include "drbdd/bus/bus-metrics.h"
#include "drbdd/bus/manager-bus.h"
#include "drbdd/cluster/cluster.h"
#include "drbdd/store/store-cache.h"
#include "drbdd/model/names.h"
#include "drbdd/model/options.h"
#include "drbdd/metrics/metrics-event.h"
#include "drbdd/metrics/metrics-http.h"
#include "drbdd/service/service.h"
#include "drbdd/store/store.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

#ifndef DRBDD_VERSION
#define DRBDD_VERSION "0.1.0"
#endif

#define DEFAULT_CONFIG "/etc/drbdd/drbdd.conf"
#define DEFAULT_STATE_DIR "/var/lib/drbdd"

typedef struct Config {
        char *node_name;
        char *store_url;
        char *state_dir;
        uid_t *uids;
        size_t n_uids;
        ServiceConfig svc;
        int agent;          /* -1 auto, 0 no, 1 yes */
        char *drbd_include;
        char *modules_dir;
        json_t *drbd_options; /* node-wide DRBD options: {"net/ping-timeout": "30"} */
        unsigned lease_ttl, grace;
        unsigned max_waits, max_waits_per_user; /* 0: the defaults */
        unsigned api_workers;
        int metrics;              /* -1 default (on; a busy port is only a warning), 0 no, 1 yes */
        char *metrics_address;    /* NULL: 127.0.0.1 */
        int metrics_port;         /* -1: METRICS_PORT_DEFAULT */
        unsigned metrics_stuck_after;
} Config;

#define METRICS_ADDRESS_DEFAULT "127.0.0.1"
#define METRICS_PORT_DEFAULT 9944
#define METRICS_STUCK_AFTER_DEFAULT 600

#define API_WORKERS_DEFAULT 4
#define API_WORKERS_MAX 64

static void config_done(Config *c) {
        free(c->node_name);
        free(c->store_url);
        free(c->state_dir);
        free(c->uids);
        free(c->drbd_include);
        free(c->modules_dir);
        free(c->metrics_address);
        json_decref(c->drbd_options);
}

/* "NAME=VALUE [NAME=VALUE...]": whitelisted DRBD options (drbdd/model/options.h),
 * each validated like a resource group's, so nothing can inject into a config. */
static int add_drbd_options(Config *c, const char *value) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;
        if (!copy)
                return -ENOMEM;
        if (!c->drbd_options && !(c->drbd_options = json_object()))
                return -ENOMEM;
        for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
                _cleanup_free_ char *m = NULL;
                char *eq = strchr(t, '=');
                if (!eq)
                        return log_error_errno(-EINVAL, "Invalid drbd-option '%s': expected SECTION/KEY=VALUE, e.g. "
                                               "net/ping-timeout=30", t);
                *eq = 0;
                if (drbd_option_validate(t, eq + 1, &m) < 0)
                        return log_error_errno(-EINVAL, "Invalid drbd-option: %s", m ? m : t);
                if (json_object_set_new(c->drbd_options, t, json_string(eq + 1)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int set_str(char **dst, const char *v) {
        char *d = strdup(v);
        if (!d)
                return -ENOMEM;
        free(*dst);
        *dst = d;
        return 0;
}

static int parse_range(const char *v, unsigned lo, unsigned hi, unsigned *ret_a, unsigned *ret_b) {
        unsigned a, b;
        int n = 0;
        if (sscanf(v, "%u-%u%n", &a, &b, &n) != 2 || v[n] || a > b || a < lo || b > hi)
                return -EINVAL;
        *ret_a = a;
        *ret_b = b;
        return 0;
}

/* Adds users from a comma/space separated list of names or numeric uids. */
static int add_users(Config *c, const char *list) {
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;
        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
                struct passwd *pw = getpwnam(t);
                char *end;
                unsigned long uid;
                if (pw)
                        uid = pw->pw_uid;
                else {
                        errno = 0;
                        uid = strtoul(t, &end, 10);
                        if (errno || *end || end == t)
                                return log_error_errno(-EINVAL, "Unknown user '%s' in allowed users", t);
                }
                uid_t *n = realloc(c->uids, (c->n_uids + 1) * sizeof *n);
                if (!n)
                        return -ENOMEM;
                c->uids = n;
                c->uids[c->n_uids++] = (uid_t) uid;
        }
        return 0;
}

static int config_set(Config *c, const char *key, const char *value) {
        int r;
        if (streq(key, "node-name")) {
                _cleanup_free_ char *m = NULL;
                if (name_validate(NAME_NODE, value, &m) < 0)
                        return log_error_errno(-EINVAL, "%s", m);
                return set_str(&c->node_name, value);
        }
        if (streq(key, "store"))
                return set_str(&c->store_url, value);
        if (streq(key, "state-dir"))
                return set_str(&c->state_dir, value);
        if (streq(key, "allowed-users"))
                return add_users(c, value);
        if (streq(key, "port-range")) {
                if ((r = parse_range(value, 1, 65535, &c->svc.port_min, &c->svc.port_max)) < 0)
                        return log_error_errno(r, "Invalid port-range '%s': expected e.g. 7000-7999", value);
                return 0;
        }
        if (streq(key, "minor-range")) {
                if ((r = parse_range(value, 0, 1048575, &c->svc.minor_min, &c->svc.minor_max)) < 0)
                        return log_error_errno(r, "Invalid minor-range '%s': expected e.g. 1000-49999", value);
                return 0;
        }
        if (streq(key, "agent")) {
                if (streq(value, "auto"))
                        c->agent = -1;
                else if (streq(value, "yes"))
                        c->agent = 1;
                else if (streq(value, "no"))
                        c->agent = 0;
                else
                        return log_error_errno(-EINVAL, "Invalid agent '%s': expected yes, no or auto", value);
                return 0;
        }
        if (streq(key, "lease-ttl") || streq(key, "grace-period")) {
                char *end;
                unsigned long v = strtoul(value, &end, 10);
                if (*end || end == value || v < 1 || v > 86400)
                        return log_error_errno(-EINVAL, "Invalid %s '%s': expected seconds (1-86400)", key, value);
                if (streq(key, "lease-ttl"))
                        c->lease_ttl = (unsigned) v;
                else
                        c->grace = (unsigned) v;
                return 0;
        }
        if (streq(key, "api-workers")) {
                char *end;
                unsigned long v = strtoul(value, &end, 10);
                if (*end || end == value || v > API_WORKERS_MAX)
                        return log_error_errno(-EINVAL, "Invalid api-workers '%s': expected 0-%d", value,
                                               API_WORKERS_MAX);
                c->api_workers = (unsigned) v;
                return 0;
        }
        if (streq(key, "max-waits") || streq(key, "max-waits-per-user")) {
                char *end;
                unsigned long v = strtoul(value, &end, 10);
                if (*end || end == value || v < 1 || v > 1000000)
                        return log_error_errno(-EINVAL, "Invalid %s '%s': expected a number of calls (1-1000000)", key,
                                               value);
                *(streq(key, "max-waits") ? &c->max_waits : &c->max_waits_per_user) = (unsigned) v;
                return 0;
        }
        if (streq(key, "metrics")) {
                if (!streq(value, "yes") && !streq(value, "no"))
                        return log_error_errno(-EINVAL, "Invalid metrics '%s': expected yes or no", value);
                c->metrics = streq(value, "yes");
                return 0;
        }
        if (streq(key, "metrics-address")) {
                unsigned char a[16];
                if (inet_pton(AF_INET, value, a) != 1 && inet_pton(AF_INET6, value, a) != 1)
                        return log_error_errno(-EINVAL, "Invalid metrics-address '%s': expected a numeric IPv4 or "
                                               "IPv6 address, e.g. 127.0.0.1", value);
                if (c->metrics < 0)
                        c->metrics = 1;
                return set_str(&c->metrics_address, value);
        }
        if (streq(key, "metrics-port") || streq(key, "metrics-stuck-after")) {
                bool port = streq(key, "metrics-port");
                char *end;
                unsigned long v = strtoul(value, &end, 10);
                if (*end || end == value || (port && v > 65535) || (!port && (v < 1 || v > 86400 * 30)))
                        return log_error_errno(-EINVAL, "Invalid %s '%s': expected %s", key, value,
                                               port ? "a TCP port (0-65535; 0: any free one)"
                                                    : "seconds (1-2592000)");
                if (port) {
                        c->metrics_port = (int) v;
                        if (c->metrics < 0)
                                c->metrics = 1;
                } else
                        c->metrics_stuck_after = (unsigned) v;
                return 0;
        }
        if (streq(key, "drbd-include"))
                return set_str(&c->drbd_include, value);
        if (streq(key, "modules-dir"))
                return set_str(&c->modules_dir, value);
        if (streq(key, "drbd-options"))
                return add_drbd_options(c, value);
        if (streq(key, "log-level")) {
                int l = log_level_from_string(value);
                if (l < 0)
                        return log_error_errno(-EINVAL, "Invalid log-level '%s'", value);
                log_set_max_level(l);
                return 0;
        }
        return log_error_errno(-EINVAL, "Unknown configuration key '%s'", key);
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        char *e = s + strlen(s);
        while (e > s && strchr(" \t\r\n", e[-1]))
                *--e = 0;
        return s;
}

static int config_load(Config *c, const char *path, bool must_exist) {
        _cleanup_free_ char *text = NULL;
        int r = fileio_read_full(path, 1 << 20, &text, NULL);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to read configuration %s: %s", path, strerror(-r));
        unsigned line = 0;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                line++;
                char *s = strip(l);
                if (!*s || *s == '#' || *s == '[')
                        continue;
                char *eq = strchr(s, '=');
                if (!eq)
                        return log_error_errno(-EINVAL, "%s:%u: expected 'key = value'", path, line);
                *eq = 0;
                if ((r = config_set(c, strip(s), strip(eq + 1))) < 0)
                        return log_error_errno(r, "%s:%u: invalid setting", path, line);
        }
        return 0;
}

static void help(void) {
        printf("Usage: drbdd [OPTIONS]\n\n"
               "The drbdd volume service: keeps the desired state of replicated DRBD\n"
               "volumes in the cluster store and serves the org.drbd.drbdd1 D-Bus API\n"
               "on the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured).\n\n"
               "Options:\n"
               "  -c, --config=FILE        configuration file (default " DEFAULT_CONFIG ")\n"
               "  -n, --node-name=NAME     this node's name (default: host name)\n"
               "      --store=URL          cluster store: sqlite:PATH (default\n"
               "                           sqlite:STATE_DIR/store.db)\n"
               "      --state-dir=DIR      state directory (default " DEFAULT_STATE_DIR ")\n"
               "      --allow-user=USERS   users (names or uids, comma separated) allowed to\n"
               "                           call the API besides root; repeatable\n"
               "      --port-range=A-B     TCP ports for DRBD resources (default 7000-7999)\n"
               "      --minor-range=A-B    DRBD minors (default 1000-49999)\n"
               "      --agent=yes|no|auto  run the node agent that makes this node's replicas\n"
               "                           real (default auto: when DRBD is available)\n"
               "      --drbd-include=FILE  file that makes drbdadm's default config include\n"
               "                           drbdd's resources (default /etc/drbd.d/drbdd.res)\n"
               "      --modules-dir=DIR    kernel modules directory for libkmod\n"
               "      --drbd-option=SECTION/KEY=VALUE\n"
               "                           a DRBD option this node's agent applies to every\n"
               "                           resource unless its group or definition sets it\n"
               "                           (e.g. net/ping-timeout=30); repeatable\n"
               "      --lease-ttl=SEC      liveness lease of this node (default 10)\n"
               "      --grace-period=SEC   a node gone this long is lost and the leader\n"
               "                           re-places its replicas (default 60)\n"
               "      --api-workers=N      threads that run API calls needing the store, each\n"
               "                           on its own store handle (default 4; 0: all on\n"
               "                           the event loop)\n"
               "      --max-waits=N        pending WaitReady calls at most (default 4096)\n"
               "      --max-waits-per-user=N\n"
               "                           of them from one caller user (default 1024)\n"
               "      --metrics=yes|no     serve Prometheus metrics on /metrics (default yes)\n"
               "      --metrics-address=IP address of the metrics endpoint (default " METRICS_ADDRESS_DEFAULT ")\n"
               "      --metrics-port=PORT  its TCP port (default 9944; 0: any free one)\n"
               "      --metrics-stuck-after=SEC\n"
               "                           a replica in a transient state this long raises the\n"
               "                           stuck-transient alarm (default 600)\n"
               "      --log-level=LEVEL    err, warning, notice, info, debug (default info)\n"
               "  -h, --help               show this help\n"
               "  -V, --version            show the version\n\n"
               "The configuration file holds 'key = value' lines with the long option\n"
               "names as keys (node-name, store, state-dir, allowed-users, port-range,\n"
               "minor-range, log-level). Options given on the command line win.\n");
}

static int parse_argv(int argc, char **argv, Config *c) {
        enum { ARG_STORE = 0x100, ARG_STATE_DIR, ARG_ALLOW_USER, ARG_PORT_RANGE, ARG_MINOR_RANGE, ARG_LOG_LEVEL,
               ARG_AGENT, ARG_DRBD_INCLUDE, ARG_MODULES_DIR, ARG_LEASE_TTL, ARG_GRACE,
               ARG_DRBD_OPTION, ARG_MAX_WAITS, ARG_MAX_WAITS_PER_USER, ARG_API_WORKERS, ARG_METRICS,
               ARG_METRICS_ADDRESS, ARG_METRICS_PORT, ARG_METRICS_STUCK_AFTER };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "node-name", required_argument, NULL, 'n' },
                { "store", required_argument, NULL, ARG_STORE },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "allow-user", required_argument, NULL, ARG_ALLOW_USER },
                { "port-range", required_argument, NULL, ARG_PORT_RANGE },
                { "minor-range", required_argument, NULL, ARG_MINOR_RANGE },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "agent", required_argument, NULL, ARG_AGENT },
                { "drbd-include", required_argument, NULL, ARG_DRBD_INCLUDE },
                { "modules-dir", required_argument, NULL, ARG_MODULES_DIR },
                { "drbd-option", required_argument, NULL, ARG_DRBD_OPTION },
                { "lease-ttl", required_argument, NULL, ARG_LEASE_TTL },
                { "grace-period", required_argument, NULL, ARG_GRACE },
                { "api-workers", required_argument, NULL, ARG_API_WORKERS },
                { "max-waits", required_argument, NULL, ARG_MAX_WAITS },
                { "max-waits-per-user", required_argument, NULL, ARG_MAX_WAITS_PER_USER },
                { "metrics", required_argument, NULL, ARG_METRICS },
                { "metrics-address", required_argument, NULL, ARG_METRICS_ADDRESS },
                { "metrics-port", required_argument, NULL, ARG_METRICS_PORT },
                { "metrics-stuck-after", required_argument, NULL, ARG_METRICS_STUCK_AFTER },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        const char *config = NULL;
        int o, r;

        /* First pass: find the config file, so the command line overrides it. */
        opterr = 0;
        while ((o = getopt_long(argc, argv, "c:n:hV", opts, NULL)) >= 0)
                if (o == 'c')
                        config = optarg;
        if ((r = config_load(c, config ? config : DEFAULT_CONFIG, config != NULL)) < 0)
                return r;
        optind = 0;
        opterr = 1;
        while ((o = getopt_long(argc, argv, "c:n:hV", opts, NULL)) >= 0) {
                const char *key = NULL;
                switch (o) {
                case 'c': continue;
                case 'h': help(); return 0;
                case 'V': puts("drbdd " DRBDD_VERSION); return 0;
                case 'n': key = "node-name"; break;
                case ARG_STORE: key = "store"; break;
                case ARG_STATE_DIR: key = "state-dir"; break;
                case ARG_ALLOW_USER: key = "allowed-users"; break;
                case ARG_PORT_RANGE: key = "port-range"; break;
                case ARG_MINOR_RANGE: key = "minor-range"; break;
                case ARG_LOG_LEVEL: key = "log-level"; break;
                case ARG_AGENT: key = "agent"; break;
                case ARG_DRBD_INCLUDE: key = "drbd-include"; break;
                case ARG_MODULES_DIR: key = "modules-dir"; break;
                case ARG_DRBD_OPTION: key = "drbd-options"; break;
                case ARG_LEASE_TTL: key = "lease-ttl"; break;
                case ARG_GRACE: key = "grace-period"; break;
                case ARG_API_WORKERS: key = "api-workers"; break;
                case ARG_MAX_WAITS: key = "max-waits"; break;
                case ARG_MAX_WAITS_PER_USER: key = "max-waits-per-user"; break;
                case ARG_METRICS: key = "metrics"; break;
                case ARG_METRICS_ADDRESS: key = "metrics-address"; break;
                case ARG_METRICS_PORT: key = "metrics-port"; break;
                case ARG_METRICS_STUCK_AFTER: key = "metrics-stuck-after"; break;
                default: return -EINVAL;
                }
                if ((r = config_set(c, key, optarg)) < 0)
                        return r;
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'; see drbdd --help", argv[optind]);
        return 1;
}

/* The node registered in the cluster store, and the bus name is ours: ready
 * for systemd (Type=notify) and for whoever waits on the unit. */
static void on_registered(void *userdata) {
        const Config *c = userdata;
        log_info("drbdd %s on node '%s' ready, store %s", DRBDD_VERSION, c->node_name, c->store_url);
        (void) sd_notify(0, "READY=1");
}

/* Opens the store at url; a remote one behind a read cache that serves the
 * last-known state while the store cannot be reached (shared with share's
 * cache, when given). */
static int open_store(const char *url, Store *share, Store **ret) {
        Store *store = NULL, *cached = NULL;
        int r = store_open(url, &store);
        if (r < 0)
                return r;
        if (startswith(url, "sqlite:")) {
                *ret = store;
                return 0;
        }
        if ((r = store_cache_new_shared(store, share, &cached)) < 0) {
                store_close(store);
                return r;
        }
        *ret = cached;
        return 0;
}

/* The registry with build info and the API call metrics; the agent and the
 * cluster add theirs as they come up (docs/metrics.md). */
static int metrics_start(Config *c, Metrics **ret) {
        MetricsFamily *f;
        int r;
        if ((r = metrics_new(ret)) < 0 ||
            (r = metrics_family_new(*ret, "drbdd_build_info", METRICS_GAUGE, "drbdd's version (value 1)",
                                    METRICS_LABELS("version", "node"), NULL, 0, &f)) < 0 ||
            (r = metrics_set(f, METRICS_LABELS(DRBDD_VERSION, c->node_name), 1)) < 0 ||
            (r = bus_metrics_register(*ret)) < 0)
                return log_error_errno(r, "Failed to set up metrics: %s", strerror(-r));
        return 0;
}

/* Starts collecting on the loop and serving /metrics. A busy default port
 * is only a warning (several drbdd on one host, e.g. in tests); an address
 * or port that was asked for must work. */
static int metrics_serve(Config *c, Metrics *m, sd_event *event, sd_event_source **ret_collect,
                         MetricsHttp **ret_http) {
        const char *addr = c->metrics_address ? c->metrics_address : METRICS_ADDRESS_DEFAULT;
        unsigned port = c->metrics_port >= 0 ? (unsigned) c->metrics_port : METRICS_PORT_DEFAULT;
        int r = metrics_event_attach(m, event, ret_collect);
        if (r < 0)
                return log_error_errno(r, "Failed to set up metrics collection: %s", strerror(-r));
        r = metrics_http_start(m, addr, port, ret_http);
        if (r < 0 && c->metrics < 0) {
                log_warning("Failed to serve metrics on %s port %u: %s; running without /metrics", addr, port,
                            strerror(-r));
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to serve metrics on %s port %u: %s", addr, port, strerror(-r));
        log_info("Metrics on http://%s%s%s:%u/metrics", strchr(addr, ':') ? "[" : "", addr,
                 strchr(addr, ':') ? "]" : "", metrics_http_port(*ret_http));
        return 0;
}

/* The agent as the bus layer sees it (manager_bus_set_agent). */
static void bus_agent_kick(void *userdata) {
        agent_kick(userdata);
}

static int bus_agent_status(void *userdata, json_t **ret) {
        return agent_status(userdata, ret);
}

static int run(int argc, char **argv) {
        _cleanup_(config_done) Config c = {};
        int r;

        log_set_prefix("drbdd");
        if (log_set_target_from_env() < 0)
                return log_error_errno(-EINVAL, "Invalid DRBDD_LOG_TARGET '%s': expected console, journal or auto",
                                       getenv("DRBDD_LOG_TARGET"));
        service_config_defaults(&c.svc);
        c.agent = -1;
        c.api_workers = API_WORKERS_DEFAULT;
        c.metrics = -1;
        c.metrics_port = -1;
        c.metrics_stuck_after = METRICS_STUCK_AFTER_DEFAULT;
        if ((r = parse_argv(argc, argv, &c)) <= 0)
                return r;
        if (!c.node_name) {
                char host[256] = "";
                gethostname(host, sizeof host - 1);
                if ((r = set_str(&c.node_name, host)) < 0)
                        return r;
        }
        if (!c.state_dir && (r = set_str(&c.state_dir, DEFAULT_STATE_DIR)) < 0)
                return r;
        if ((r = fileio_mkdir_p(c.state_dir, 0700)) < 0)
                return log_error_errno(r, "Failed to create state directory %s: %s", c.state_dir, strerror(-r));
        if (!c.store_url && asprintf(&c.store_url, "sqlite:%s/store.db", c.state_dir) < 0)
                return -ENOMEM;
        c.svc.node_name = c.node_name;
        log_field_set_default("NODE", c.node_name); /* journal field of every message */

        Store *store = NULL;
        if ((r = open_store(c.store_url, NULL, &store)) < 0)
                return log_error_errno(r, "Failed to open cluster store %s: %s", c.store_url, strerror(-r));

        Service *service = NULL, *worker_svc[API_WORKERS_MAX] = {};
        Store *worker_store[API_WORKERS_MAX] = {};
        sd_bus *bus = NULL;
        sd_event *event = NULL;
        ManagerBus *mb = NULL;
        Agent *agent = NULL;
        Store *agent_store = NULL;
        Service *agent_svc = NULL;
        ServiceRelay *relay = NULL;
        Cluster *cluster = NULL;
        Metrics *metrics = NULL;
        MetricsHttp *http = NULL;
        sd_event_source *collect = NULL;
        BusAccess access = { .uids = c.uids, .n_uids = c.n_uids };
        sigset_t ss;

        if ((r = service_new(store, &c.svc, &service)) < 0)
                goto out;
        if (c.metrics != 0 && (r = metrics_start(&c, &metrics)) < 0)
                goto out;
        if ((r = sd_event_default(&event)) < 0)
                goto out;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        signal(SIGPIPE, SIG_IGN);
        if ((r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL)) < 0)
                goto out;
        if ((r = sd_bus_open_system(&bus)) < 0) {
                log_error_errno(r, "Failed to connect to the system bus: %s", strerror(-r));
                goto out;
        }
        if ((r = manager_bus_new(bus, service, &access, &mb)) < 0) {
                log_error_errno(r, "Failed to register D-Bus objects: %s", strerror(-r));
                goto out;
        }
        manager_bus_set_wait_limits(mb, c.max_waits, c.max_waits_per_user);
        if ((r = sd_bus_attach_event(bus, event, 0)) < 0)
                goto out;
        /* API calls that need the store run on workers, each with a store
         * handle of its own: a slow store delays only those calls. */
        for (unsigned i = 0; i < c.api_workers; i++) {
                if ((r = open_store(c.store_url, startswith(c.store_url, "sqlite:") ? NULL : store, &worker_store[i])) < 0 ||
                    (r = service_new(worker_store[i], &c.svc, &worker_svc[i])) < 0) {
                        log_error_errno(r, "Failed to open the store for API worker %u: %s", i, strerror(-r));
                        goto out;
                }
        }
        if ((r = manager_bus_start_workers(mb, worker_svc, c.api_workers)) < 0) {
                log_error_errno(r, "Failed to start the API workers: %s", strerror(-r));
                goto out;
        }
        if ((r = sd_bus_request_name(bus, DRBDD_BUS_NAME, 0)) < 0) {
                log_error_errno(r, "Failed to acquire bus name %s: %s%s", DRBDD_BUS_NAME, strerror(-r),
                                r == -EEXIST ? " (another drbdd is running)" : "");
                goto out;
        }
        if (c.agent != 0) {
                AgentConfig ac = { .node_name = c.node_name, .state_dir = c.state_dir,
                                   .drbd_include = c.drbd_include ? c.drbd_include : "/etc/drbd.d/drbdd.res",
                                   .modules_dir = c.modules_dir, .load_modules = true,
                                   .drbd_options = c.drbd_options,
                                   .api_busy = manager_bus_api_busy, .api_busy_userdata = mb };
                if (streq(ac.drbd_include, "none"))
                        ac.drbd_include = NULL;
                /* The agent's own thread, store handle and Service: the
                 * loop never waits for its commands. Its changes reach the
                 * loop's Service (WaitReady, Changed) through the relay. */
                if ((r = open_store(c.store_url, startswith(c.store_url, "sqlite:") ? NULL : store, &agent_store)) < 0 ||
                    (r = service_new(agent_store, &c.svc, &agent_svc)) < 0 ||
                    (r = service_relay_new(service, event, &relay)) < 0) {
                        log_error_errno(r, "Failed to open the store for the node agent: %s", strerror(-r));
                        goto out;
                }
                service_relay_attach(relay, agent_svc);
                if ((r = agent_new(agent_store, agent_svc, &ac, &agent)) < 0)
                        goto out;
                r = agent_start(agent);
                if (r < 0 && c.agent == 1)
                        goto out;
                if (r < 0) {
                        log_notice("No DRBD on this node: running as a controller only (no node agent)");
                        agent = agent_free(agent);
                        relay = service_relay_free(relay);
                        agent_svc = service_free(agent_svc);
                        agent_store = store_close(agent_store);
                }
                if (agent && metrics && (r = agent_metrics_register(agent, metrics, c.metrics_stuck_after)) < 0)
                        goto out;
                if (agent && (r = agent_run(agent)) < 0)
                        goto out;
                if (agent)
                        manager_bus_set_agent(mb, &(ManagerBusAgent) { .kick = bus_agent_kick,
                                                                     .status = bus_agent_status,
                                                                     .userdata = agent });
        }
        ClusterConfig cc = { .node_name = c.node_name, .lease_ttl_sec = c.lease_ttl, .grace_sec = c.grace,
                             .store_url = c.store_url, .service_config = &c.svc,
                             .on_registered = on_registered, .userdata = &c };
        if ((r = cluster_new(service, event, &cc, &cluster)) < 0 ||
            (metrics && (r = cluster_metrics_register(cluster, metrics)) < 0) || (r = cluster_start(cluster)) < 0)
                goto out;
        if (metrics && (r = metrics_serve(&c, metrics, event, &collect, &http)) < 0)
                goto out;
        manager_bus_set_cluster(mb, cluster);
        r = sd_event_loop(event);
        log_info("drbdd stopping");
        (void) sd_notify(0, "STOPPING=1");
out:
        if (r < 0 && r != -EEXIST)
                log_error_errno(r, "drbdd failed: %s", strerror(-r));
        http = metrics_http_stop(http); /* before what its renders read */
        bus_set_call_observer(NULL, NULL);
        sd_event_source_unref(collect);
        manager_bus_set_agent(mb, NULL);
        agent_free(agent); /* joins its thread: nothing uses its store or the relay after */
        service_relay_free(relay);
        service_free(agent_svc);
        store_close(agent_store);
        cluster_free(cluster);
        manager_bus_free(mb);
        if (bus)
                sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        for (unsigned i = 0; i < API_WORKERS_MAX; i++) {
                service_free(worker_svc[i]);
                store_close(worker_store[i]);
        }
        service_free(service);
        store_close(store);
        metrics_free(metrics);
        return r;
}

int main(int argc, char **argv) {
        int r = run(argc, argv);
        return r < 0 ? 1 : 0;
}
