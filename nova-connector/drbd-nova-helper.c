/* drbd-nova-helper: the compute-node side of drbdd (docs/nova.md).
 *
 * One pass every --interval seconds and at every libvirt lifecycle event:
 * which domains (running or defined) use which DRBD devices, reported to the
 * local drbdd (ReportDomains); a device that grew is resized in the running
 * domains that use it (online extend reaches the guest); a dual-primary
 * window this node holds without any domain using the volume for longer than
 * --window-grace is closed by detaching this node (the safety net for a
 * migration that ended without its detach); attach-created clients no
 * domain references and running-disklessly cases are reported. libvirt or
 * drbdd unreachable: it logs once and retries at the next pass. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domain-disks.h"
#include "drbdd/client/client.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

#define VERSION "1.0"

typedef struct Helper {
        const char *uri, *node, *nova_host;
        unsigned interval, window_grace, orphan_grace;
        bool once;
        virConnectPtr conn;
        int lifecycle_cb;
        DrbddClient *drbdd;
        bool warned_libvirt, warned_drbdd, rescan, quit;
        char *last_report;       /* JSON of the last report sent */
        time_t last_report_time;
        json_t *since;           /* "window:RD" / "orphan:RD" -> first time seen (integer) */
        json_t *alarmed;         /* keys already logged: "diskless:RD:DOMAIN" */
} Helper;

static void usage(FILE *f) {
        fputs("Usage: drbd-nova-helper [OPTION]...\n"
              "The compute-node helper of drbdd: tells drbdd which libvirt domains use which\n"
              "DRBD volumes, grows a running domain's disk when its volume grew, closes a\n"
              "dual-primary window that a finished live migration left open, and reports\n"
              "orphaned clients and domains running disklessly beside local storage.\n\n"
              "  -c, --connect=URI        libvirt connection (default qemu:///system)\n"
              "  -n, --node=NAME          this node's name in drbdd (default: host name)\n"
              "      --nova-host=NAME     Nova's CONF.host here, when it differs from the node\n"
              "                           name: set as the node's nova-host property\n"
              "  -i, --interval=SECONDS   time between passes (default 5)\n"
              "      --window-grace=SECONDS  close a dual-primary window no domain here uses\n"
              "                           any more after this long (default 60; ten times\n"
              "                           that when no domain here ever used it)\n"
              "      --orphan-grace=SECONDS  report a client no domain references after this\n"
              "                           long (default 600)\n"
              "      --once               one pass, print what was seen as JSON, exit\n"
              "  -v, --verbose            log debug messages\n"
              "  -h, --help               this help\n"
              "      --version            the version\n\n"
              "Exit status: 0 stopped by SIGTERM/SIGINT (or --once done), 1 error, 2 usage.\n"
              "See drbd-nova-helper(8).\n",
              f);
}

static int parse_seconds(const char *s, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || *s == '-' || v < min || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* ---- connections ---- */

static void on_lifecycle(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque) {
        (void) c, (void) event, (void) detail;
        Helper *h = opaque;
        log_debug("libvirt: domain %s event %d", virDomainGetName(d), event);
        h->rescan = true;
}

static void libvirt_silent(void *u, virErrorPtr e) {
        (void) u, (void) e; /* errors are read with virGetLastErrorMessage() where they matter */
}

static void libvirt_drop(Helper *h) {
        if (!h->conn)
                return;
        if (h->lifecycle_cb >= 0)
                virConnectDomainEventDeregisterAny(h->conn, h->lifecycle_cb);
        h->lifecycle_cb = -1;
        virConnectClose(h->conn);
        h->conn = NULL;
}

static bool libvirt_ready(Helper *h) {
        if (h->conn && virConnectIsAlive(h->conn) == 1)
                return true;
        libvirt_drop(h);
        h->conn = virConnectOpen(h->uri);
        if (!h->conn) {
                if (!h->warned_libvirt)
                        log_warning("libvirt at %s is not reachable (%s); retrying every pass", h->uri,
                                    virGetLastErrorMessage());
                h->warned_libvirt = true;
                return false;
        }
        h->lifecycle_cb = virConnectDomainEventRegisterAny(h->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), h, NULL);
        virConnectSetKeepAlive(h->conn, 5, 3);
        log_info("connected to libvirt at %s", h->uri);
        h->warned_libvirt = false;
        return true;
}

/* Calls drbdd; on an unreachable drbdd drops the connection (reconnects next time). */
static int call(Helper *h, const char *method, const char *sig, json_t *args, json_t **ret) {
        _cleanup_free_ char *msg = NULL;
        int r;
        if (!h->drbdd && (r = drbdd_client_open(NULL, &h->drbdd)) < 0) {
                json_decref(args);
                if (!h->warned_drbdd)
                        log_warning("drbdd is not reachable on the system bus (%s); retrying every pass", strerror(-r));
                h->warned_drbdd = true;
                return r;
        }
        r = drbdd_client_call(h->drbdd, NULL, method, sig, args, ret, &msg, NULL);
        json_decref(args);
        if (r == -EHOSTUNREACH || r == -ECONNRESET || r == -ENOTCONN) {
                if (!h->warned_drbdd)
                        log_warning("drbdd is not reachable (%s); retrying every pass", msg ? msg : strerror(-r));
                h->warned_drbdd = true;
                h->drbdd = drbdd_client_free(h->drbdd);
                return r;
        }
        if (h->warned_drbdd && r >= 0)
                log_info("drbdd is reachable again");
        if (r >= 0)
                h->warned_drbdd = false;
        if (r < 0 && r != -EHOSTUNREACH)
                log_warning("drbdd %s: %s", method, msg ? msg : strerror(-r));
        return r;
}

/* ---- one pass ---- */

typedef struct Use {
        const char *rd;      /* borrowed from the volume list */
        char *domain;
        char *target;
        char *device;        /* as the domain names it */
        bool running;
} Use;

/* The resource whose volume device is dev (a /dev/drbdN path, or a link to
 * one such as /dev/drbd/by-res/RD/0), borrowed from vds, or NULL. */
static const char *rd_of_device(json_t *vds, const char *dev) {
        char real[PATH_MAX];
        const char *d = realpath(dev, real) ? real : dev;
        json_t *v;
        size_t i;
        json_array_foreach(vds, i, v)
                if (streq(json_get_str(v, "device", ""), d) || streq(json_get_str(v, "device", ""), dev))
                        return json_get_str(v, "resource-definition", NULL);
        return NULL;
}

static uint64_t device_bytes(const char *dev) {
        char real[PATH_MAX], path[PATH_MAX + 32];
        unsigned long long sectors = 0;
        if (!realpath(dev, real))
                return 0;
        const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
        snprintf(path, sizeof path, "/sys/class/block/%s/size", base);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%llu", &sectors) != 1)
                sectors = 0;
        fclose(f);
        return (uint64_t) sectors * 512;
}

static void uses_free(Use *u, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(u[i].domain);
                free(u[i].target);
                free(u[i].device);
        }
        free(u);
}

/* Every DRBD disk of every domain (running or defined). */
static int collect_uses(Helper *h, json_t *vds, Use **ret, size_t *ret_n) {
        virDomainPtr *doms = NULL;
        Use *out = NULL;
        size_t n = 0;
        int nd = virConnectListAllDomains(h->conn, &doms, 0);
        if (nd < 0)
                return log_warning_errno(-EIO, "libvirt: cannot list domains: %s", virGetLastErrorMessage());
        for (int i = 0; i < nd; i++) {
                char *xml = virDomainGetXMLDesc(doms[i], 0);
                DomainDisk *disks = NULL;
                size_t nk = 0;
                bool running = virDomainIsActive(doms[i]) == 1;
                if (xml && domain_disks_parse(xml, &disks, &nk) == 0)
                        for (size_t k = 0; k < nk; k++) {
                                const char *rd = rd_of_device(vds, disks[k].source);
                                Use *g = rd ? realloc(out, (n + 1) * sizeof *out) : NULL;
                                if (!g)
                                        continue;
                                out = g;
                                out[n++] = (Use) { .rd = rd, .domain = strdup(virDomainGetName(doms[i])),
                                                   .target = TAKE_PTR(disks[k].target),
                                                   .device = TAKE_PTR(disks[k].source), .running = running };
                        }
                domain_disks_free(disks, nk);
                free(xml);
                virDomainFree(doms[i]);
        }
        free(doms);
        *ret = out;
        *ret_n = n;
        return 0;
}

/* A migration (or another job) runs on some domain of this host. */
static bool any_job(Helper *h) {
        virDomainPtr *doms = NULL;
        bool job = false;
        int nd = virConnectListAllDomains(h->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        for (int i = 0; i < nd; i++) {
                virDomainJobInfo info;
                if (virDomainGetJobInfo(doms[i], &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE)
                        job = true;
                virDomainFree(doms[i]);
        }
        free(doms);
        return job || nd < 0;
}

static void report(Helper *h, Use *u, size_t n, json_t *seen) {
        _cleanup_(json_decrefp) json_t *map = json_object();
        for (size_t i = 0; i < n && map; i++) {
                if (!u[i].running)
                        continue;
                json_t *l = json_object_get(map, u[i].rd);
                if (!l)
                        json_object_set_new(map, u[i].rd, l = json_array());
                bool dup = false;
                json_t *e;
                size_t j;
                json_array_foreach(l, j, e)
                        dup = dup || streq(json_string_value(e), u[i].domain);
                if (!dup)
                        json_array_append_new(l, json_string(u[i].domain));
        }
        _cleanup_free_ char *text = map ? json_dumps(map, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        json_object_set(seen, "reported", map);
        if (!text)
                return;
        /* Again after a minute even when unchanged: drbdd may have restarted on another store. */
        if (h->last_report && streq(h->last_report, text) && time(NULL) - h->last_report_time < 60)
                return;
        if (call(h, "ReportDomains", "sa{sv}", json_pack("[s,O]", h->node, map), NULL) < 0)
                return;
        free(h->last_report);
        h->last_report = TAKE_PTR(text);
        h->last_report_time = time(NULL);
        log_info("reported to drbdd: %s", h->last_report);
}

/* Online extend: the guest sees the volume's new size. */
static void grow(Helper *h, Use *u, size_t n, json_t *seen) {
        for (size_t i = 0; i < n; i++) {
                if (!u[i].running)
                        continue;
                virDomainPtr d = virDomainLookupByName(h->conn, u[i].domain);
                virDomainBlockInfo info;
                uint64_t have = device_bytes(u[i].device);
                if (d && have && virDomainGetBlockInfo(d, u[i].target, &info, 0) == 0 && info.capacity < have) {
                        if (virDomainBlockResize(d, u[i].target, have, VIR_DOMAIN_BLOCK_RESIZE_BYTES) == 0) {
                                log_notice("grew disk %s of domain %s to %llu bytes ('%s' grew)", u[i].target,
                                           u[i].domain, (unsigned long long) have, u[i].rd);
                                json_array_append_new(json_object_get(seen, "resized"),
                                                      json_pack("{s:s, s:s, s:I}", "domain", u[i].domain, "disk",
                                                                u[i].target, "bytes", (json_int_t) have));
                        } else
                                log_warning("cannot grow disk %s of domain %s to %llu bytes: %s", u[i].target,
                                            u[i].domain, (unsigned long long) have, virGetLastErrorMessage());
                }
                if (d)
                        virDomainFree(d);
        }
}

static bool used_here(Use *u, size_t n, const char *rd, bool running_only) {
        for (size_t i = 0; i < n; i++)
                if (streq(u[i].rd, rd) && (u[i].running || !running_only))
                        return true;
        return false;
}

/* Seconds since key was first seen in this state (starting the clock now). */
static long held_for(Helper *h, const char *key) {
        json_t *t = json_object_get(h->since, key);
        if (!t)
                json_object_set_new(h->since, key, t = json_integer((json_int_t) time(NULL)));
        return (long) (time(NULL) - json_integer_value(t));
}

/* The resource group of rd (borrowed from *groups), loading the lists on
 * first use; NULL when drbdd cannot say. */
static json_t *group_of(Helper *h, const char *rd, json_t **rds, json_t **groups) {
        const char *group = NULL;
        json_t *x;
        size_t j;
        if ((!*rds && call(h, "ListResourceDefinitions", "", NULL, rds) < 0) ||
            (!*groups && call(h, "ListResourceGroups", "", NULL, groups) < 0))
                return NULL;
        json_array_foreach(json_array_get(*rds, 0), j, x)
                if (streq(json_get_str(x, "name", ""), rd))
                        group = json_get_str(x, "resource-group", NULL);
        json_array_foreach(json_array_get(*groups, 0), j, x)
                if (group && streq(json_get_str(x, "name", ""), group))
                        return x;
        return NULL;
}

static void check_replicas(Helper *h, Use *u, size_t n, json_t *seen) {
        _cleanup_(json_decrefp) json_t *res = NULL, *pools = NULL, *rds = NULL, *groups = NULL, *keep = json_object();
        json_t *rows, *e;
        size_t i;
        if (!keep || call(h, "ListResources", "s", json_pack("[s]", ""), &res) < 0)
                return;
        rows = json_array_get(res, 0);
        bool job = false, job_known = false;
        json_array_foreach(rows, i, e) {
                const char *rd = json_get_str(e, "resource-definition", ""), *node = json_get_str(e, "node", "");
                char key[512];
                if (!streq(node, h->node))
                        continue;
                /* The window's safety net. A domain here used the volume
                 * while the window was open (a migration came or went) and
                 * none does now: the migration ended or failed, and after
                 * window-grace this node's attachment goes. A window no
                 * domain here ever used is Nova before a migration starts
                 * (pre-live-migration connects the volume first): only after
                 * ten times that. */
                if (json_get_bool(e, "attached", false) && json_get_bool(e, "window", false)) {
                        char mark[512];
                        snprintf(mark, sizeof mark, "used:%s", rd);
                        snprintf(key, sizeof key, "window:%s", rd);
                        json_object_set(keep, mark, json_true());
                        if (used_here(u, n, rd, true)) {
                                json_object_set(h->alarmed, mark, json_true());
                                json_object_del(h->since, key);
                        } else {
                                bool was_used = json_object_get(h->alarmed, mark) != NULL;
                                long grace = (long) h->window_grace * (was_used ? 1 : 10);
                                if (!job_known)
                                        job = any_job(h), job_known = true;
                                json_object_set(keep, key, json_true());
                                long t = job ? (json_object_del(h->since, key), 0) : held_for(h, key);
                                if (!job && t >= grace) {
                                        log_warning("closing the dual-primary window of '%s': attached here, but no "
                                                    "domain here %s for %ld s (a migration that %s without its "
                                                    "detach)", rd, was_used ? "has used it" : "used it", t,
                                                    was_used ? "ended" : "never started");
                                        if (call(h, "Detach", "ssa{sv}", json_pack("[s,s,{}]", rd, h->node), NULL) >= 0)
                                                json_array_append_new(json_object_get(seen, "windows-closed"),
                                                                      json_string(rd));
                                }
                        }
                }
                /* Orphaned clients: made by an attach, referenced by no domain here. */
                if (json_get_bool(e, "attach-created", false) && !used_here(u, n, rd, false)) {
                        snprintf(key, sizeof key, "orphan:%s", rd);
                        json_object_set(keep, key, json_true());
                        long t = held_for(h, key);
                        if (t >= (long) h->orphan_grace &&
                            json_get_bool(group_of(h, rd, &rds, &groups), "remove-orphans", false)) {
                                log_warning("detaching orphaned client '%s': attached here %ld s ago or more, no "
                                            "domain here references it, and its resource group allows removing "
                                            "orphans", rd, t);
                                if (call(h, "Detach", "ssa{sv}", json_pack("[s,s,{}]", rd, h->node), NULL) >= 0)
                                        json_array_append_new(json_object_get(seen, "orphans-removed"),
                                                              json_string(rd));
                        } else if (t >= (long) h->orphan_grace) {
                                json_array_append_new(json_object_get(seen, "orphans"), json_string(rd));
                                snprintf(key, sizeof key, "orphan-logged:%s", rd);
                                if (!json_object_get(h->alarmed, key))
                                        log_warning("orphaned client: '%s' was attached here %ld s ago or more and "
                                                    "no domain here references it (detach it: drbdctl resource "
                                                    "detach %s %s)", rd, t, h->node, rd);
                                json_object_set(h->alarmed, key, json_true());
                                json_object_set(keep, key, json_true());
                        }
                }
                /* Running disklessly beside local storage of the resource's group. */
                if (json_get_bool(e, "diskless", false) && used_here(u, n, rd, true)) {
                        if (!pools && call(h, "ListStoragePools", "s", json_pack("[s]", h->node), &pools) < 0)
                                continue;
                        json_t *x, *g = group_of(h, rd, &rds, &groups), *p;
                        size_t j, k;
                        bool local = false;
                        json_array_foreach(json_array_get(pools, 0), j, p) {
                                json_t *wanted = json_object_get(g, "storage-pools");
                                bool ok = json_array_size(wanted) == 0;
                                json_array_foreach(wanted, k, x)
                                        ok = ok || streq(json_string_value(x), json_get_str(p, "name", ""));
                                local = local || ok;
                        }
                        if (!local)
                                continue;
                        json_array_append_new(json_object_get(seen, "running-disklessly"), json_string(rd));
                        snprintf(key, sizeof key, "diskless:%s", rd);
                        json_object_set(keep, key, json_true());
                        if (!json_object_get(h->alarmed, key))
                                log_warning("running disklessly: a domain here uses '%s' through a diskless client "
                                            "although this node has a storage pool of its resource group (make "
                                            "it diskful: drbdctl resource toggle-disk %s %s)", rd, h->node, rd);
                        json_object_set(h->alarmed, key, json_true());
                }
        }
        /* Forget clocks and alarms of states that ended. */
        const char *k;
        void *tmp;
        json_object_foreach_safe(h->since, tmp, k, e)
                if (!json_object_get(keep, k))
                        json_object_del(h->since, k);
        json_object_foreach_safe(h->alarmed, tmp, k, e)
                if (!json_object_get(keep, k))
                        json_object_del(h->alarmed, k);
}

static int pass(Helper *h) {
        _cleanup_(json_decrefp) json_t *vdl = NULL;
        Use *u = NULL;
        size_t n = 0;
        h->rescan = false;
        if (!libvirt_ready(h))
                return -EHOSTUNREACH;
        if (call(h, "ListVolumeDefinitions", "s", json_pack("[s]", ""), &vdl) < 0)
                return -EHOSTUNREACH;
        if (collect_uses(h, json_array_get(vdl, 0), &u, &n) < 0)
                return -EIO;
        _cleanup_(json_decrefp) json_t *seen = json_pack("{s:[], s:[], s:[], s:[], s:[], s:[]}", "uses", "resized",
                                                         "windows-closed", "orphans", "orphans-removed",
                                                         "running-disklessly");
        for (size_t i = 0; i < n && seen; i++)
                json_array_append_new(json_object_get(seen, "uses"),
                                      json_pack("{s:s, s:s, s:s, s:s, s:b}", "resource", u[i].rd, "domain",
                                                u[i].domain, "disk", u[i].target, "device", u[i].device,
                                                "running", u[i].running));
        if (seen) {
                report(h, u, n, seen);
                grow(h, u, n, seen);
                check_replicas(h, u, n, seen);
        }
        if (h->once && seen)
                json_dumpf(seen, stdout, JSON_INDENT(2) | JSON_SORT_KEYS), fputc('\n', stdout);
        uses_free(u, n);
        return 0;
}

/* ---- main loop ---- */

static void on_signal(int watch, int fd, int events, void *opaque) {
        (void) watch, (void) events;
        Helper *h = opaque;
        struct signalfd_siginfo si;
        if (read(fd, &si, sizeof si) == (ssize_t) sizeof si)
                log_info("got signal %u: stopping", si.ssi_signo);
        h->quit = true;
}

static void on_timer(int timer, void *opaque) {
        (void) timer;
        ((Helper *) opaque)->rescan = true;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "connect", required_argument, NULL, 'c' },
                { "node", required_argument, NULL, 'n' },
                { "nova-host", required_argument, NULL, 'N' },
                { "interval", required_argument, NULL, 'i' },
                { "window-grace", required_argument, NULL, 'W' },
                { "orphan-grace", required_argument, NULL, 'O' },
                { "once", no_argument, NULL, '1' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        Helper h = { .uri = "qemu:///system", .interval = 5, .window_grace = 60, .orphan_grace = 600,
                     .lifecycle_cb = -1 };
        struct utsname un;
        int c;
        while ((c = getopt_long(argc, argv, "c:n:i:vh", opts, NULL)) >= 0) {
                switch (c) {
                case 'c': h.uri = optarg; break;
                case 'n': h.node = optarg; break;
                case 'N': h.nova_host = optarg; break;
                case 'i':
                        if (parse_seconds(optarg, 1, 3600, &h.interval) < 0)
                                return fprintf(stderr, "drbd-nova-helper: --interval wants 1..3600 seconds, not '%s'\n", optarg), 2;
                        break;
                case 'W':
                        if (parse_seconds(optarg, 0, 86400, &h.window_grace) < 0)
                                return fprintf(stderr, "drbd-nova-helper: --window-grace wants 0..86400 seconds, not '%s'\n", optarg), 2;
                        break;
                case 'O':
                        if (parse_seconds(optarg, 0, 864000, &h.orphan_grace) < 0)
                                return fprintf(stderr, "drbd-nova-helper: --orphan-grace wants 0..864000 seconds, not '%s'\n", optarg), 2;
                        break;
                case '1': h.once = true; break;
                case 'v': log_set_max_level(LOG_DEBUG); break;
                case 'h': usage(stdout); return 0;
                case 'V': puts("drbd-nova-helper " VERSION); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc)
                return fprintf(stderr, "drbd-nova-helper: unexpected argument '%s'\n", argv[optind]), usage(stderr), 2;
        if (!h.node) {
                if (uname(&un) < 0)
                        return fprintf(stderr, "drbd-nova-helper: no --node and no host name\n"), 1;
                h.node = un.nodename;
        }
        log_set_prefix("drbd-nova-helper");
        h.since = json_object();
        h.alarmed = json_object();
        virSetErrorFunc(NULL, libvirt_silent);
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0 || !h.since || !h.alarmed)
                return fprintf(stderr, "drbd-nova-helper: cannot initialise libvirt\n"), 1;
        if (h.nova_host && call(&h, "SetNodeProperty", "sss", json_pack("[s,s,s]", h.node, "nova-host", h.nova_host),
                                NULL) < 0 && h.once)
                return 1;
        if (h.once) {
                int r = pass(&h);
                libvirt_drop(&h);
                drbdd_client_free(h.drbdd);
                return r < 0 ? 1 : 0;
        }
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0 || virEventAddHandle(sfd, VIR_EVENT_HANDLE_READABLE, on_signal, &h, NULL) < 0 ||
            virEventAddTimeout((int) h.interval * 1000, on_timer, &h, NULL) < 0)
                return fprintf(stderr, "drbd-nova-helper: cannot set up the event loop\n"), 1;
        log_info("node %s, libvirt %s, a pass every %u s", h.node, h.uri, h.interval);
        h.rescan = true;
        while (!h.quit) {
                if (h.rescan)
                        (void) pass(&h);
                if (h.quit)
                        break;
                if (virEventRunDefaultImpl() < 0)
                        break;
        }
        log_info("stopped");
        libvirt_drop(&h);
        drbdd_client_free(h.drbdd);
        json_decref(h.since);
        json_decref(h.alarmed);
        free(h.last_report);
        return 0;
}
