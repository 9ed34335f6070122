/* The node agent: desired vs observed, idempotent steps, retries with
 * backoff, crash-safe ordering (see docs/agent.md). */
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "thread.h"
#include "agent-internal.h"
#include "agent-metrics.h"
#include "drbdd/model/sizing.h"
#include "drbdd/model/options.h"
#include "drbdd/plan/plan.h"
#include "exec.h"
#include "fault.h"
#include "fileio.h"
#include "json-util.h"
#include "kmod/drbd-version.h"
#include "kmod/events2.h"
#include "kmod/modules.h"
#include "drbdd/metrics/metrics-event.h"
#include "log.h"
#include "macro.h"
#include "drbdd/storage/storage.h"

#define RECONCILE_DELAY_USEC (100 * 1000ULL)
#define API_WAIT_STEP_USEC (20 * 1000ULL)  /* a pass waiting for API calls in flight looks again */
#define API_WAIT_MAX_USEC (2000 * 1000ULL) /* and waits at most this long (never starved) */
#define OBSERVE_DELAY_USEC (300 * 1000ULL)
#define PERIODIC_USEC (30 * 1000000ULL)
#define BACKOFF_MIN_USEC (1000000ULL)
#define BACKOFF_MAX_USEC (60 * 1000000ULL)
#define EVENTS_RESTART_USEC (2 * 1000000ULL)
#define STORAGE_PROBE_MAX_AGE_USEC (5 * 60 * 1000000ULL) /* an idle node probes its storage this often */
#define DRBDADM_TIMEOUT_MS (120 * 1000)


static void schedule(Agent *a, sd_event_source **src, uint64_t delay, sd_event_time_handler_t fn);
static void status_publish(Agent *a);
static int on_reconcile(sd_event_source *s, uint64_t usec, void *userdata);
static int on_observe(sd_event_source *s, uint64_t usec, void *userdata);

/* On the agent's thread: a pass soon; something changed, so it probes the
 * storage again. */
static void kick_here(Agent *a) {
        a->probe_due = true;
        schedule(a, &a->reconcile_timer, RECONCILE_DELAY_USEC, on_reconcile);
}

/* Any thread. */
void agent_kick(Agent *a) {
        if (a && a->kick_fd >= 0)
                (void) eventfd_write(a->kick_fd, 1);
}

/* ---- running drbdadm ------------------------------------------------------ */

/* Runs a command; on failure fills *ret_msg with "CMD exited N: stderr". */
int agent_run_command(char *const argv[], char **ret_msg) {
        ExecOptions o = { .timeout_ms = DRBDADM_TIMEOUT_MS };
        _cleanup_free_ char *cmd = exec_argv_to_string(argv);
        log_debug("agent: %s", cmd ? cmd : argv[0]);
        int r = exec_run_checked(argv, &o, NULL, ret_msg);
        if (r < 0)
                log_debug("agent: failed: %s", ret_msg && *ret_msg ? *ret_msg : strerror(-r));
        return r;
}

int agent_drbdadm(Agent *a, const char *verb, const char *arg1, const char *arg2, const char *target, char **ret_msg) {
        const char *argv[10];
        size_t n = 0;
        argv[n++] = "drbdadm";
        argv[n++] = "-c";
        argv[n++] = a->conf_path;
        argv[n++] = verb;
        if (arg1)
                argv[n++] = arg1;
        if (arg2)
                argv[n++] = arg2;
        argv[n++] = target;
        argv[n] = NULL;
        return agent_run_command((char *const *) argv, ret_msg);
}

/* ---- observed state bookkeeping ------------------------------------------- */

json_t *agent_obs_of(Agent *a, const char *rd) {
        json_t *o = json_object_get(a->obs, rd);
        if (!o) {
                o = json_pack("{s:s, s:s, s:{}}", "resource", rd, "state", "Creating", "md");
                json_object_set_new(a->obs, rd, o);
        }
        return o;
}

/* Writes rd's observed object to the store if it changed. */
int agent_obs_save(Agent *a, const char *rd, json_t *o) {
        _cleanup_free_ char *msg = NULL;
        int r = service_observed_put(a->service, a->node, rd, o, &msg);
        if (r < 0)
                log_warning("Failed to record the state of '%s': %s", rd, msg ? msg : strerror(-r));
        return r;
}

static int obs_forget(Agent *a, const char *rd) {
        int r = service_observed_put(a->service, a->node, rd, NULL, NULL);
        if (r >= 0)
                json_object_del(a->obs, rd);
        return r;
}

static int obs_load(Agent *a) {
        _cleanup_free_ char *prefix = NULL;
        StoreKVList l;
        if (asprintf(&prefix, SERVICE_KEY_OBSERVED "%s/", a->node) < 0)
                return -ENOMEM;
        int r = store_range(a->store, prefix, &l);
        if (r < 0)
                return r;
        json_object_clear(a->obs);
        for (size_t i = 0; i < l.n; i++) {
                json_t *j = json_parse(l.items[i].value, l.items[i].value_len, NULL);
                if (json_is_object(j))
                        json_object_set_new(a->obs, l.items[i].key + strlen(prefix), j);
                else
                        json_decref(j);
        }
        store_kv_list_done(&l);
        return 0;
}

/* ---- files ------------------------------------------------------------------ */

static char *res_path(Agent *a, const char *rd) {
        char *p;
        return asprintf(&p, "%s/%s.res", a->res_dir, rd) < 0 ? NULL : p;
}

/* The node-wide options (--drbd-option) as a "common { }" section in the
 * kernel's dialect, or "" when there are none. Values were validated. */
static char *common_section(Agent *a) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return NULL;
        if (json_object_size(a->drbd_options) > 0) {
                fputs("common {\n", f);
                for (OptionSection sec = 0; sec < _OPTION_SECTION_MAX; sec++) {
                        bool open = false;
                        const char *name, *key;
                        json_t *v;
                        json_object_foreach(a->drbd_options, name, v) {
                                OptionSection s;
                                if (drbd_option_section(name, a->kernel.dialect, &s, &key) < 0) {
                                        log_warning("DRBD option %s does not exist in DRBD %s: ignored", name,
                                                    drbd_dialect_to_string(a->kernel.dialect));
                                        continue;
                                }
                                if (s != sec)
                                        continue;
                                if (!open)
                                        fprintf(f, "\t%s {\n", option_section_to_string(sec));
                                open = true;
                                fprintf(f, "\t\t%s %s;\n", key, json_string_value(v));
                        }
                        if (open)
                                fputs("\t}\n", f);
                }
                fputs("}\n", f);
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

static int files_setup(Agent *a) {
        _cleanup_free_ char *conf = NULL, *common = common_section(a);
        int r;
        if (!common)
                return -ENOMEM;
        if ((r = fileio_mkdir_p(a->res_dir, 0700)) < 0)
                return log_error_errno(r, "Failed to create %s: %s", a->res_dir, strerror(-r));
        if (asprintf(&conf,
                     "# Generated by drbdd: the resources this node runs. Do not edit.\n"
                     "global {\n\tusage-count no;\n}\n"
                     "%s"
                     "include \"%s/*.res\";\n", common, a->res_dir) < 0)
                return -ENOMEM;
        if ((r = fileio_write_if_changed(a->conf_path, conf, 0600)) < 0)
                return log_error_errno(r, "Failed to write %s: %s", a->conf_path, strerror(-r));
        if (a->drbd_include) {
                _cleanup_free_ char *inc = NULL, *dir = strdup(a->drbd_include);
                char *slash = dir ? strrchr(dir, '/') : NULL;
                if (slash) {
                        *slash = 0;
                        (void) fileio_mkdir_p(dir, 0755);
                }
                if (asprintf(&inc, "# Generated by drbdd.\ninclude \"%s/*.res\";\n", a->res_dir) < 0)
                        return -ENOMEM;
                if ((r = fileio_write_if_changed(a->drbd_include, inc, 0644)) < 0)
                        log_warning_errno(r, "Failed to write %s: %s", a->drbd_include, strerror(-r));
        }
        (void) fileio_mkdir_p("/run/lock", 0755);
        return 0;
}

/* ---- kernel state ----------------------------------------------------------- */

static const char *kernel_state_summary(const DrbdResource *k, char *buf, size_t len) {
        if (!k)
                return "Down";
        const char *worst = NULL;
        for (size_t i = 0; i < k->n_devices; i++) {
                const DrbdDevice *d = &k->devices[i];
                if (d->has_disk && d->disk != DRBD_DISK_UPTODATE) {
                        worst = drbd_disk_state_to_string(d->disk);
                        break;
                }
        }
        for (size_t c = 0; c < k->n_connections; c++)
                for (size_t v = 0; v < k->connections[c].n_peer_devices; v++) {
                        const DrbdPeerDevice *pd = &k->connections[c].peer_devices[v];
                        if (pd->has_replication && drbd_repl_state_is_resync(pd->replication)) {
                                double p;
                                if (drbd_peer_device_sync_progress(k, pd, &p) >= 0)
                                        snprintf(buf, len, "%s(%.1f%%)", drbd_repl_state_to_string(pd->replication), p);
                                else
                                        snprintf(buf, len, "%s", drbd_repl_state_to_string(pd->replication));
                                return buf;
                        }
                }
        snprintf(buf, len, "%s", worst ? worst : (k->n_devices ? "UpToDate" : "Unknown"));
        return buf;
}

static json_t *kernel_state_json(const DrbdResource *k) {
        json_t *o = json_object(), *devs = json_array(), *conns = json_array();
        json_object_set_new(o, "role", json_string(k->has_role ? drbd_role_to_string(k->role) : "Unknown"));
        if (k->suspended[0])
                json_object_set_new(o, "suspended", json_string(k->suspended));
        for (size_t i = 0; i < k->n_devices; i++) {
                const DrbdDevice *d = &k->devices[i];
                json_t *dj = json_pack("{s:i}", "volume", d->volume);
                if (d->has_minor)
                        json_object_set_new(dj, "minor", json_integer(d->minor));
                if (d->has_disk)
                        json_object_set_new(dj, "disk", json_string(drbd_disk_state_to_string(d->disk)));
                if (d->has_client)
                        json_object_set_new(dj, "client", json_boolean(d->client));
                if (d->has_quorum)
                        json_object_set_new(dj, "quorum", json_boolean(d->quorum));
                if (d->has_size)
                        json_object_set_new(dj, "size-kib", json_integer((json_int_t) d->size_kib));
                json_array_append_new(devs, dj);
        }
        for (size_t c = 0; c < k->n_connections; c++) {
                const DrbdConnection *cn = &k->connections[c];
                json_t *cj = json_pack("{s:i, s:s}", "peer-node-id", cn->peer_node_id, "name", cn->conn_name);
                if (cn->has_connection)
                        json_object_set_new(cj, "connection", json_string(drbd_conn_state_to_string(cn->connection)));
                if (cn->has_peer_role)
                        json_object_set_new(cj, "peer-role", json_string(drbd_role_to_string(cn->peer_role)));
                json_t *pds = json_array();
                for (size_t v = 0; v < cn->n_peer_devices; v++) {
                        const DrbdPeerDevice *pd = &cn->peer_devices[v];
                        json_t *pj = json_pack("{s:i}", "volume", pd->volume);
                        if (pd->has_replication)
                                json_object_set_new(pj, "replication", json_string(drbd_repl_state_to_string(pd->replication)));
                        if (pd->has_peer_disk)
                                json_object_set_new(pj, "peer-disk", json_string(drbd_disk_state_to_string(pd->peer_disk)));
                        if (pd->has_peer_client)
                                json_object_set_new(pj, "peer-client", json_boolean(pd->peer_client));
                        if (pd->has_out_of_sync)
                                json_object_set_new(pj, "out-of-sync-kib", json_integer((json_int_t) pd->out_of_sync_kib));
                        double p;
                        if (drbd_peer_device_sync_progress(k, pd, &p) >= 0)
                                json_object_set_new(pj, "done", json_real(p));
                        json_array_append_new(pds, pj);
                }
                json_object_set_new(cj, "peer-devices", pds);
                json_array_append_new(conns, cj);
        }
        json_object_set_new(o, "devices", devs);
        json_object_set_new(o, "connections", conns);
        return o;
}

static bool all_devices_in(const DrbdResource *k, DrbdDiskState st) {
        if (!k || k->n_devices == 0)
                return false;
        for (size_t i = 0; i < k->n_devices; i++)
                if (!k->devices[i].has_disk || k->devices[i].disk != st)
                        return false;
        return true;
}

/* Every peer of k is connected and holds no good data yet (diskful peers
 * Inconsistent, clients Diskless): the moment to skip the initial sync. */
static bool all_peers_fresh(const DrbdResource *k, int64_t peers) {
        if (peers < 1 || k->n_connections != (size_t) peers)
                return false;
        for (size_t c = 0; c < k->n_connections; c++) {
                const DrbdConnection *cn = &k->connections[c];
                if (!cn->has_connection || cn->connection != DRBD_CONN_CONNECTED || cn->n_peer_devices != k->n_devices)
                        return false;
                for (size_t v = 0; v < cn->n_peer_devices; v++) {
                        const DrbdPeerDevice *pd = &cn->peer_devices[v];
                        if (!pd->has_peer_disk ||
                            (pd->peer_disk != DRBD_DISK_INCONSISTENT && pd->peer_disk != DRBD_DISK_DISKLESS))
                                return false;
                        if (pd->has_replication && pd->replication != DRBD_REPL_ESTABLISHED)
                                return false;
                }
        }
        return true;
}

/* Some connected peer holds data (UpToDate, Outdated or Consistent): this
 * replica must sync from it, never force itself Primary over it. */
static bool any_peer_has_data(const DrbdResource *k) {
        for (size_t c = 0; c < k->n_connections; c++)
                for (size_t v = 0; v < k->connections[c].n_peer_devices; v++) {
                        const DrbdPeerDevice *pd = &k->connections[c].peer_devices[v];
                        if (pd->has_peer_disk && (pd->peer_disk == DRBD_DISK_UPTODATE ||
                                                  pd->peer_disk == DRBD_DISK_OUTDATED ||
                                                  pd->peer_disk == DRBD_DISK_CONSISTENT))
                                return true;
                }
        return false;
}

/* Connected to a peer that has a disk: the handshake compared our data with its. */
static bool diskful_peer_connected(const DrbdResource *k) {
        for (size_t c = 0; k && c < k->n_connections; c++) {
                const DrbdConnection *cn = &k->connections[c];
                if (!cn->has_connection || cn->connection != DRBD_CONN_CONNECTED)
                        continue;
                for (size_t v = 0; v < cn->n_peer_devices; v++)
                        if (cn->peer_devices[v].has_peer_disk && cn->peer_devices[v].peer_disk != DRBD_DISK_DISKLESS &&
                            cn->peer_devices[v].peer_disk != DRBD_DISK_DUNKNOWN)
                                return true;
        }
        return false;
}

/* Refreshes the kernel part of every observed object; writes changed ones. */
static void observe_all(Agent *a) {
        const char *rd;
        json_t *o;
        void *tmp;
        json_object_foreach_safe(a->obs, tmp, rd, o) {
                const DrbdResource *k = drbd_state_find_resource(a->state, rd);
                char buf[64];
                _cleanup_(json_decrefp) json_t *before = json_deep_copy(o);
                if (k)
                        json_object_set_new(o, "kernel", kernel_state_json(k));
                else
                        json_object_del(o, "kernel");
                /* After this node brought the resource up, DRBD's own "UpToDate" is
                 * only what the disk held when it went down (a node back from a
                 * power-off says so too): until a peer with a disk connected, it
                 * is "Connecting", never ready, never promoted (apply_replica). */
                bool unseen = json_is_false(json_object_get(o, "peer-seen"));
                if (unseen && diskful_peer_connected(k)) {
                        json_object_set_new(o, "peer-seen", json_true());
                        unseen = false;
                }
                if (!json_object_get(o, "error")) {
                        const char *st = kernel_state_summary(k, buf, sizeof buf);
                        json_object_set_new(o, "state", json_string(unseen && streq(st, "UpToDate") ? "Connecting" : st));
                }
                if (!json_equal(before, o))
                        agent_obs_save(a, rd, o);
        }
}

/* ---- one replica ------------------------------------------------------------ */

static StoragePool *pool_for(StoragePool **pools, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(pools[i]->name, name))
                        return pools[i];
        return NULL;
}

void agent_msgf(char **ret_msg, const char *fmt, ...) {
        va_list ap;
        if (!ret_msg)
                return;
        va_start(ap, fmt);
        if (vasprintf(ret_msg, fmt, ap) < 0)
                *ret_msg = NULL;
        va_end(ap);
}

/* Records the configuration the kernel now runs: its hash, and whether it
 * allows two primaries (WaitReady of a second attached host waits for
 * every attached host's "two-primaries"). */
static void obs_applied(json_t *o, const char *hash, json_t *desired) {
        json_object_set_new(o, "applied", json_string(hash));
        json_object_set_new(o, "two-primaries", json_boolean(json_get_bool(desired, "two-primaries", false)));
}

static bool any_primary(const DrbdResource *k) {
        if (k->has_role && k->role == DRBD_ROLE_PRIMARY)
                return true;
        for (size_t c = 0; c < k->n_connections; c++)
                if (k->connections[c].has_peer_role && k->connections[c].peer_role == DRBD_ROLE_PRIMARY)
                        return true;
        return false;
}

/* Some peer device of k is (about to be) resyncing. */
static bool resync_running(const DrbdResource *k) {
        for (size_t c = 0; k && c < k->n_connections; c++)
                for (size_t v = 0; v < k->connections[c].n_peer_devices; v++) {
                        const DrbdPeerDevice *pd = &k->connections[c].peer_devices[v];
                        if (pd->has_replication && pd->replication != DRBD_REPL_ESTABLISHED &&
                            pd->replication != DRBD_REPL_OFF)
                                return true;
                }
        return false;
}

/* The DRBD device size of volume "rd/N" of desired d, in KiB, from sysfs
 * (works on a Secondary too, which 8.4 refuses to open, and runs no command). */
static int device_kib(json_t *d, const char *vnr, uint64_t *ret) {
        json_t *vol = NULL, *vv;
        size_t i;
        const char *slash = strchr(vnr, '/');
        json_array_foreach(json_object_get(d, "volumes"), i, vv)
                if (slash && json_get_int(vv, "volume", -1) == atoll(slash + 1))
                        vol = vv;
        if (!vol)
                return -ENOENT;
        char sys[96];
        _cleanup_free_ char *out = NULL;
        snprintf(sys, sizeof sys, "/sys/block/drbd%lld/size", (long long) json_get_int(vol, "minor", 0));
        int r = fileio_read_full(sys, 64, &out, NULL);
        if (r < 0)
                return r;
        *ret = strtoull(out, NULL, 10) / 2; /* 512-byte sectors */
        return 0;
}

/* Grows the DRBD device after the backing volumes grew. DRBD 8.4 needs a
 * Primary for this: when there is none, the initial-sync source promotes
 * for the moment of the resize. The device must reach the usable size; until
 * the peers' backing has grown too, this stays pending and is retried. */
static int resize_pending(Agent *a, json_t *d, json_t *o, const DrbdResource *k, char **ret_msg) {
        json_t *pend = json_object_get(o, "resize-pending"), *want;
        const char *vnr;
        void *tmp;
        bool v9 = streq(json_get_str(d, "dialect", "9"), "9");
        int r;
        if (json_object_size(pend) == 0)
                return 0;
        if (!v9 && !json_get_bool(d, "initial-sync-source", false)) {
                json_object_del(o, "resize-pending"); /* the other node resizes */
                return agent_obs_save(a, json_get_str(d, "name", ""), o);
        }
        /* Not before the volume has good data somewhere: the initial sync
         * (or zeroed start) comes first, and 8.4 cannot promote for the
         * resize until then ("Need access to UpToDate data"); nor during a
         * resync. A restore or clone that Cinder grows at once lands here. */
        if (!json_get_bool(o, "initial-sync", false) || resync_running(k))
                return 0; /* DRBD: "Resize not allowed during resync"; the sync's end brings a pass */
        json_object_foreach_safe(pend, tmp, vnr, want) {
                bool promoted = false;
                /* DRBD 9 resizes cluster-wide: when a peer already did, the device has
                 * the size and another resize would only be one more cluster-wide
                 * state change (refused during the new area's resync). The
                 * initial-sync source always runs it (one node that surely does). */
                uint64_t now_kib = 0;
                if (v9 && !json_get_bool(d, "initial-sync-source", false) && device_kib(d, vnr, &now_kib) >= 0 &&
                    now_kib >= (uint64_t) json_integer_value(want)) {
                        json_object_del(pend, vnr);
                        continue;
                }
                if (!v9 && !any_primary(k)) {
                        if ((r = agent_drbdadm(a, "primary", NULL, NULL, json_get_str(d, "name", ""), ret_msg)) < 0)
                                return r;
                        promoted = true;
                }
                r = agent_drbdadm(a, "resize", NULL, NULL, vnr, ret_msg);
                if (promoted) {
                        _cleanup_free_ char *m2 = NULL;
                        (void) agent_drbdadm(a, "secondary", NULL, NULL, json_get_str(d, "name", ""), &m2);
                }
                if (r < 0)
                        return r;
                fault_point("grow:after-resize");
                /* Did the device reach the size? */
                uint64_t have = 0;
                if ((r = device_kib(d, vnr, &have)) < 0) {
                        agent_msgf(ret_msg, "cannot read the size of %s: %s", vnr, strerror(-r));
                        return r;
                }
                if (have < (uint64_t) json_integer_value(want)) {
                        agent_msgf(ret_msg, "%s is %llu KiB; waiting for the peers' backing to grow to %lld KiB", vnr,
                                 (unsigned long long) have, (long long) json_integer_value(want));
                        return -EAGAIN;
                }
                json_object_del(pend, vnr);
        }
        json_object_del(o, "resize-pending");
        return agent_obs_save(a, json_get_str(d, "name", ""), o);
}

static int remove_backing(const char *rd, StoragePool **pools, size_t n_pools, StorageReport *reports, char **ret_msg);
static int teardown(Agent *a, const char *rd, StoragePool **pools, size_t n_pools, StorageReport *reports, char **ret_msg);

/* DRBD 9: peers that left rd's configuration (their replicas were removed)
 * are forgotten, so that their bitmap slots in this node's metadata are
 * free again. The node-ids the last applied configuration had are kept in
 * the observed object ("peer-ids"). */
static int forget_gone_peers(Agent *a, json_t *d, json_t *o, char **ret_msg) {
        const char *rd = json_get_str(d, "name", "");
        json_t *was = json_object_get(o, "peer-ids"), *now = json_object_get(d, "peer-ids"), *x, *y;
        size_t i, j;
        if (!json_is_array(now))
                return 0;
        json_array_foreach(was, i, x) {
                bool still = false;
                json_array_foreach(now, j, y)
                        still = still || json_integer_value(x) == json_integer_value(y);
                if (still)
                        continue;
                char id[16];
                _cleanup_free_ char *m = NULL;
                snprintf(id, sizeof id, "%lld", (long long) json_integer_value(x));
                /* Fails harmlessly when the slot is free already (e.g. the peer never had a disk). */
                if (agent_run_command((char *const[]) { (char *) "drbdsetup", (char *) "forget-peer", (char *) rd, id, NULL }, &m) < 0)
                        log_debug("'%s': forget-peer %s: %s", rd, id, m ? m : "failed");
                else
                        log_info("'%s': forgot removed peer node-id %s (its bitmap slot is free)", rd, id);
        }
        if (!json_equal(was, now)) {
                json_object_set(o, "peer-ids", now);
                return agent_obs_save(a, rd, o);
        }
        (void) ret_msg;
        return 0;
}

/* What the plan executor needs of the agent for one replica. */
typedef struct ReplicaRun {
        Agent *a;
        json_t *d;
        const char *rd;
} ReplicaRun;

static int replica_save(void *userdata, json_t *o) {
        ReplicaRun *c = userdata;
        return agent_obs_save(c->a, c->rd, o);
}

static int replica_volume_create(void *userdata, StoragePool *p, json_t *v, const char *name, uint64_t size_kib,
                                 char **ret_msg) {
        ReplicaRun *c = userdata;
        /* empty, or from a snapshot / clone source (agent-snapshot.c) */
        return agent_volume_create(c->a, c->d, p, v, size_kib, ret_msg);
}

/* Brings one desired replica to its desired state. Returns 0 or negative
 * errno with *ret_msg. Each step is idempotent and recorded before the next,
 * so a kill at any point resumes correctly. */
static int apply_replica(Agent *a, json_t *d, StoragePool **pools, size_t n_pools, StorageReport *reports, char **ret_msg) {
        const char *rd = json_get_str(d, "name", "");
        json_t *o = agent_obs_of(a, rd);
        const DrbdResource *k = drbd_state_find_resource(a->state, rd);
        bool diskless = json_get_bool(json_object_get(d, "replica"), "diskless", false);
        bool v9 = streq(json_get_str(d, "dialect", "9"), "9");
        _cleanup_free_ char *path = res_path(a, rd);
        char hash[32];
        int r;

        if (!path)
                return -ENOMEM;
        /* Deleted and placed here again (e.g. the leader's tie-breaker right
         * after a removal) before this node tore the old replica down: a new
         * replica with another node-id. The old one goes first, disk and all
         * (its data lives on the others); the next pass brings up the new one. */
        json_int_t want_id = json_get_int(json_object_get(d, "replica"), "node-id", -1);
        json_t *had_id = json_object_get(o, "node-id");
        if (json_is_integer(had_id) && json_integer_value(had_id) != want_id) {
                log_notice("'%s' was placed here anew (node-id %lld, was %lld): removing the old replica first", rd,
                           (long long) want_id, (long long) json_integer_value(had_id));
                if ((r = teardown(a, rd, pools, n_pools, reports, ret_msg)) < 0)
                        return r;
                agent_kick(a); /* a fresh probe of the storage, then the new replica */
                return 0;
        }
        /* The create path (bookkeeping, .res, backing, metadata, up) is a
         * plan computed from desired, observed, kernel and storage state and
         * run by the executor that show-commands records with. */
        const char *pname = json_get_str(json_object_get(d, "pool"), "name", "");
        const StoragePool *pool = diskless ? NULL : pool_for(pools, n_pools, pname);
        const StorageReport *rep = NULL;
        for (size_t i = 0; pool && i < n_pools; i++)
                if (pools[i] == pool)
                        rep = &reports[i];
        PlanInput in = { .desired = d, .observed = o, .kernel = k, .pool = pool, .report = rep,
                         .conf_path = a->conf_path, .res_path = path, .node = a->node };
        _cleanup_(plan_done) Plan plan = {};
        ReplicaRun run_ctx = { .a = a, .d = d, .rd = rd };
        PlanExecutor x = { .pools = pools, .n_pools = n_pools, .save = replica_save,
                           .volume_create = replica_volume_create, .userdata = &run_ctx };
        if ((r = plan_replica(&in, &plan)) < 0 || (r = plan_execute(&plan, o, &x, ret_msg)) < 0)
                return r;
        if (plan.ends_pass)
                return 0; /* the kernel state arrives through events2 */
        plan_config_hash(json_get_str(d, "config", ""), hash);
        /* A client or tie-breaker made diskful (toggle-disk), and nobody uses it
         * here: down and up again, so that it joins like any new replica with
         * its disk attached before it connects. Attaching it live while
         * connected to two diskful peers hung in DRBD 9.2.19 in the lab (both
         * handshakes wanted the fresh bitmap written at once). In use, it
         * attaches live. */
        if (v9 && !diskless && !streq(json_get_str(o, "applied", ""), hash) && all_devices_in(k, DRBD_DISK_DISKLESS) &&
            !(k->has_role && k->role == DRBD_ROLE_PRIMARY)) {
                log_info("'%s' gets its disk here: down and up again with it", rd);
                if ((r = agent_drbdadm(a, "down", NULL, NULL, rd, ret_msg)) < 0 || (r = agent_drbdadm(a, "up", NULL, NULL, rd, ret_msg)) < 0)
                        return r;
                obs_applied(o, hash, d);
                agent_obs_save(a, rd, o);
                return 0; /* the new state arrives through events2 */
        }
        if (!streq(json_get_str(o, "applied", ""), hash)) {
                /* 8.4's adjust would try to attach a diskless client: it stays as connected. */
                if ((diskless && !v9 ? 0 : (r = agent_drbdadm(a, "adjust", NULL, NULL, rd, ret_msg))) < 0)
                        return r;
                obs_applied(o, hash, d);
                agent_obs_save(a, rd, o);
        }
        if (v9 && !diskless && (r = forget_gone_peers(a, d, o, ret_msg)) < 0)
                return r;
        /* Made diskless (toggle-disk): once the kernel has detached, the
         * backing volumes go. */
        if (diskless && v9 && json_object_size(json_object_get(o, "md")) > 0 && all_devices_in(k, DRBD_DISK_DISKLESS)) {
                if ((r = remove_backing(rd, pools, n_pools, reports, ret_msg)) < 0)
                        return r;
                json_object_set_new(o, "md", json_object());
                json_object_del(o, "initial-sync");
                agent_obs_save(a, rd, o);
                log_info("'%s' is diskless on this node now: its backing volumes are removed", rd);
        }
        /* A DRBD 8.4 diskless client interrupted half-way up (a crash between
         * its steps): finish it; each step is done only when missing. */
        if (diskless && !v9) {
                if (k->n_devices < json_array_size(json_object_get(d, "volumes"))) {
                        if ((r = agent_drbdadm(a, "new-minor", NULL, NULL, rd, ret_msg)) < 0)
                                return r;
                        return 0; /* the new state arrives through events2 */
                }
                if (k->n_connections == 0 ||
                    (k->connections[0].has_connection && k->connections[0].connection == DRBD_CONN_STANDALONE)) {
                        if ((r = agent_drbdadm(a, "connect", NULL, NULL, rd, ret_msg)) < 0)
                                return r;
                        return 0;
                }
        }
        /* Only drbdd suspends I/O (for a snapshot, within one pass): a
         * suspension found at the start of a pass was left by a crash. */
        if (strstr(k->suspended, "user")) {
                log_notice("Resuming I/O of '%s', left suspended by an interrupted snapshot", rd);
                if ((r = agent_drbdadm(a, "resume-io", NULL, NULL, rd, ret_msg)) < 0)
                        return r;
        }
        if ((r = resize_pending(a, d, o, k, ret_msg)) < 0)
                return r;
        /* Initial sync (plan_initial_sync()): from what the kernel shows. */
        PlanSyncFacts facts = { .devices = k->n_devices, .all_inconsistent = all_devices_in(k, DRBD_DISK_INCONSISTENT),
                                .peers_fresh = all_peers_fresh(k, json_get_int(d, "peers", -1)),
                                .peer_has_data = any_peer_has_data(k) };
        _cleanup_(plan_done) Plan sync = {};
        if ((r = plan_initial_sync(d, o, &facts, a->conf_path, &sync)) < 0 ||
            (r = plan_execute(&sync, o, &x, ret_msg)) < 0)
                return r;
        /* Role wanted by the operator (8.4 has no auto-promote). */
        bool want_primary = json_get_bool(d, "primary", false);
        if (want_primary && k->has_role && k->role != DRBD_ROLE_PRIMARY &&
            json_is_false(json_object_get(o, "peer-seen"))) {
                /* Back from a reboot (or just up) and no peer seen yet: its "UpToDate"
                 * may be stale, and a Primary on stale data is a split brain. The
                 * connection event brings the next pass. */
                log_info("'%s' is wanted Primary here, but waits until a peer connected (its data may be "
                         "stale after a restart)", rd);
        } else if (want_primary && k->has_role && k->role != DRBD_ROLE_PRIMARY) {
                if ((r = agent_drbdadm(a, "primary", NULL, NULL, rd, ret_msg)) < 0)
                        return r;
                json_object_set_new(o, "promoted", json_true());
                agent_obs_save(a, rd, o);
        } else if (!want_primary && json_get_bool(o, "promoted", false) && k->has_role && k->role == DRBD_ROLE_PRIMARY) {
                if ((r = agent_drbdadm(a, "secondary", NULL, NULL, rd, ret_msg)) < 0)
                        return r;
                json_object_del(o, "promoted");
                agent_obs_save(a, rd, o);
        }
        return 0;
}

/* Removes rd's backing volumes (named rd_NNNNN) from every pool here. */
static int remove_backing(const char *rd, StoragePool **pools, size_t n_pools, StorageReport *reports, char **ret_msg) {
        _cleanup_(plan_done) Plan plan = {};
        PlanExecutor x = { .pools = pools, .n_pools = n_pools };
        int r = plan_remove_backing(rd, pools, reports, n_pools, &plan);
        return r < 0 ? r : plan_execute(&plan, NULL, &x, ret_msg);
}

static int replica_forget(void *userdata) {
        ReplicaRun *c = userdata;
        return obs_forget(c->a, c->rd);
}

/* Takes down and removes a resource this node no longer runs (plan_teardown()). */
static int teardown(Agent *a, const char *rd, StoragePool **pools, size_t n_pools, StorageReport *reports, char **ret_msg) {
        _cleanup_free_ char *path = res_path(a, rd);
        _cleanup_(plan_done) Plan plan = {};
        ReplicaRun c = { .a = a, .rd = rd };
        PlanExecutor x = { .pools = pools, .n_pools = n_pools, .forget = replica_forget, .userdata = &c };
        int r;
        if (!path)
                return -ENOMEM;
        if ((r = plan_teardown(rd, drbd_state_find_resource(a->state, rd), pools, reports, n_pools, path, a->node,
                               &plan)) < 0)
                return r;
        return plan_execute(&plan, NULL, &x, ret_msg);
}

/* ---- a reconcile pass --------------------------------------------------------- */

static bool backoff_skip(Agent *a, const char *rd, uint64_t now) {
        json_t *b = json_object_get(a->backoff, rd);
        return b && (uint64_t) json_get_int(b, "next-usec", 0) > now;
}

static uint64_t backoff_fail(Agent *a, const char *rd, uint64_t now) {
        json_t *b = json_object_get(a->backoff, rd);
        int64_t n = b ? json_get_int(b, "failures", 0) + 1 : 1;
        uint64_t delay = BACKOFF_MIN_USEC << MIN(n - 1, 6);
        if (delay > BACKOFF_MAX_USEC)
                delay = BACKOFF_MAX_USEC;
        json_object_set_new(a->backoff, rd, json_pack("{s:I, s:I}", "failures", (json_int_t) n, "next-usec",
                                                      (json_int_t) (now + delay)));
        return delay;
}

static void record_error(Agent *a, const char *rd, int r, const char *msg) {
        json_t *o = agent_obs_of(a, rd);
        char when[32];
        time_t t = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        log_error("Failed to reconcile '%s' on node '%s': %s", rd, a->node, msg ? msg : strerror(-r));
        agent_metrics_error(a, rd);
        json_object_set_new(o, "error", json_string(msg ? msg : strerror(-r)));
        json_object_set_new(o, "error-at", json_string(when));
        json_object_set_new(o, "state", json_string("Error"));
        agent_obs_save(a, rd, o);
}

static void clear_error(Agent *a, const char *rd) {
        json_t *o = json_object_get(a->obs, rd);
        json_object_del(a->backoff, rd);
        if (o && json_object_get(o, "error")) {
                json_object_del(o, "error");
                json_object_del(o, "error-at");
                agent_obs_save(a, rd, o);
        }
}

static void report_kernel(Agent *a);

static void storage_cache_drop(Agent *a) {
        for (size_t p = 0; p < a->n_pools; p++) {
                storage_report_done(&a->reports[p]);
                storage_pool_free(a->pools[p]);
        }
        free(a->pools);
        free(a->reports);
        a->pools = NULL;
        a->reports = NULL;
        a->n_pools = 0;
        json_decref(a->probed_pools);
        a->probed_pools = NULL;
}

/* Makes a->pools/reports current for the pools pj describes. The storage is
 * probed only when something may have changed it: a kick (a change in the
 * store, an API call, a kernel event), a pass that ran commands, a pool that
 * failed its last probe, other pools, or a probe older than
 * STORAGE_PROBE_MAX_AGE_USEC; otherwise the last probe's reports are used
 * again, and a pass over unchanged resources runs no command at all. */
static int storage_fresh(Agent *a, json_t *pj) {
        uint64_t now = thread_monotonic_usec();
        bool failed = false;
        json_t *e;
        size_t i;
        for (size_t p = 0; p < a->n_pools; p++)
                failed = failed || a->reports[p].error < 0;
        if (a->probed_pools && !a->probe_due && !failed && json_equal(pj, a->probed_pools) &&
            now - a->last_probe_usec < STORAGE_PROBE_MAX_AGE_USEC)
                return 0;
        storage_cache_drop(a);
        a->pools = calloc(json_array_size(pj) + 1, sizeof *a->pools);
        a->reports = calloc(json_array_size(pj) + 1, sizeof *a->reports);
        if (!a->pools || !a->reports || !(a->probed_pools = json_deep_copy(pj))) {
                storage_cache_drop(a);
                return -ENOMEM;
        }
        json_array_foreach(pj, i, e) {
                _cleanup_free_ char *pm = NULL;
                if (storage_pool_new(e, &a->pools[a->n_pools], &pm) < 0) {
                        log_warning("Storage pool '%s' unusable: %s", json_get_str(e, "name", "?"), pm ? pm : "?");
                        continue;
                }
                a->n_pools++;
        }
        /* Also keeps the capacity that placement uses current. */
        if (a->n_pools && storage_probe_all(a->pools, a->n_pools, a->reports) < 0) {
                storage_cache_drop(a);
                return -ENOMEM;
        }
        a->probe_due = false;
        a->last_probe_usec = now;
        for (size_t p = 0; p < a->n_pools; p++)
                if (a->reports[p].error >= 0)
                        (void) service_pool_report(a->service, a->node, a->pools[p]->name, a->reports[p].total_kib,
                                                   a->reports[p].free_kib, a->reports[p].extent_kib, NULL);
        return 0;
}

int agent_reconcile(Agent *a) {
        _cleanup_(json_decrefp) json_t *desired = NULL;
        _cleanup_free_ char *msg = NULL;
        uint64_t start = thread_monotonic_usec(), cmds = exec_command_count(), writes = store_writes(a->store), next_retry = 0;
        json_t *e, *res;
        size_t i;
        int r;

        if (!a->dump_complete)
                return 0; /* wait for the kernel's initial state */
        report_kernel(a); /* no write unless it changed: the node may be new */
        r = service_node_desired(a->service, a->node, &desired, &msg);
        if (r < 0) {
                /* Never tear anything down on a read failure. */
                log_warning("Reconcile postponed: %s", msg ? msg : strerror(-r));
                free(a->last_error);
                a->last_error = msg ? strdup(msg) : NULL;
                schedule(a, &a->reconcile_timer, BACKOFF_MIN_USEC * 5, on_reconcile);
                return r;
        }
        res = json_object_get(desired, "resources");

        /* Storage pools of this node, probed with one command set (one lvs,
         * one vgs) when something may have changed: see storage_fresh(). */
        json_t *pj = json_object_get(desired, "pools");
        if ((r = storage_fresh(a, pj)) < 0)
                return r;
        StoragePool **pools = a->pools;
        StorageReport *reports = a->reports;
        size_t n_pools = a->n_pools;
        uint64_t cmds_after_probe = exec_command_count();

        agent_extras_load(a); /* snapshots, reverts, exports, sources */
        agent_export_pass(a, res);
        uint64_t now = thread_monotonic_usec();
        json_array_foreach(res, i, e) {
                const char *rd = json_get_str(e, "name", "");
                _cleanup_free_ char *m = NULL;
                if (backoff_skip(a, rd, now))
                        continue;
                log_field_set("RESOURCE", rd); /* journal fields: journalctl RESOURCE=rd */
                r = agent_revert_step(a, e, pools, n_pools, &m); /* > 0: held for a revert */
                if (r == 0)
                        r = apply_replica(a, e, pools, n_pools, reports, &m);
                else if (r > 0)
                        r = 0;
                if (r < 0) {
                        record_error(a, rd, r, m);
                        uint64_t d = backoff_fail(a, rd, now);
                        next_retry = next_retry ? MIN(next_retry, d) : d;
                } else
                        clear_error(a, rd);
                log_fields_clear();
        }
        /* Everything known to be ours but no longer desired goes away. */
        const char *rd;
        json_t *o;
        void *tmp;
        _cleanup_(json_decrefp) json_t *wanted = json_object(); /* a set: O(1) per lookup */
        if (!wanted)
                return -ENOMEM;
        json_array_foreach(res, i, e)
                json_object_set_new(wanted, json_get_str(e, "name", ""), json_true());
        json_object_foreach_safe(a->obs, tmp, rd, o) {
                if (json_object_get(wanted, rd) || backoff_skip(a, rd, now))
                        continue;
                _cleanup_free_ char *m = NULL;
                _cleanup_free_ char *name = strdup(rd);
                if (!name)
                        return -ENOMEM;
                log_field_set("RESOURCE", name);
                r = teardown(a, name, pools, n_pools, reports, &m);
                if (r < 0) {
                        record_error(a, name, r, m);
                        uint64_t d = backoff_fail(a, name, now);
                        next_retry = next_retry ? MIN(next_retry, d) : d;
                }
                log_fields_clear();
        }
        agent_snapshot_pass(a, pools, n_pools, reports);
        a->last_pass_usec = thread_monotonic_usec() - start;
        agent_metrics_pass(a, pools, n_pools, reports, res);
        /* What this pass did may have changed the storage: look again. */
        if (exec_command_count() != cmds_after_probe)
                a->probe_due = true;
        a->passes++;
        a->commands_last_pass = exec_command_count() - cmds;
        a->store_writes_last_pass = store_writes(a->store) - writes;
        a->last_pass_usec = thread_monotonic_usec() - start;
        log_debug("Reconcile pass %llu: %llu commands, %llu us", (unsigned long long) a->passes,
                  (unsigned long long) a->commands_last_pass, (unsigned long long) a->last_pass_usec);
        observe_all(a);
        schedule(a, &a->reconcile_timer, next_retry ? next_retry : PERIODIC_USEC, on_reconcile);
        return 0;
}

/* ---- event plumbing ------------------------------------------------------------ */

static void schedule(Agent *a, sd_event_source **src, uint64_t delay, sd_event_time_handler_t fn) {
        uint64_t now;
        sd_event_now(a->event, CLOCK_MONOTONIC, &now);
        if (*src) {
                uint64_t cur;
                int enabled;
                if (sd_event_source_get_enabled(*src, &enabled) >= 0 && enabled != SD_EVENT_OFF &&
                    sd_event_source_get_time(*src, &cur) >= 0 && cur <= now + delay)
                        return; /* already due sooner */
                sd_event_source_set_time(*src, now + delay);
                sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
                return;
        }
        sd_event_add_time(a->event, src, CLOCK_MONOTONIC, now + delay, 10000, fn, a);
}

static int on_reconcile(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        /* A call on an API worker may be halfway through what this pass
         * would act on, and its reply must go out first: wait for it. */
        if (a->api_busy && a->api_busy(a->api_busy_userdata)) {
                if (!a->busy_since)
                        a->busy_since = usec;
                if (usec - a->busy_since < API_WAIT_MAX_USEC) {
                        schedule(a, &a->reconcile_timer, API_WAIT_STEP_USEC, on_reconcile);
                        return 0;
                }
        }
        a->busy_since = 0;
        agent_reconcile(a);
        status_publish(a);
        return 0;
}

static int on_observe(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        observe_all(a);
        return 0;
}

static int events_start(Agent *a);

static int on_events_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        events_start(userdata);
        return 0;
}

static int on_events_line(const char *line, size_t len, void *userdata) {
        Agent *a = userdata;
        Events2Event ev;
        if (events2_parse_line(line, &ev) < 0) {
                log_debug("Ignoring unparsable events2 line");
                return 0;
        }
        bool was_complete = drbd_state_dump_complete(a->state);
        drbd_state_apply(a->state, &ev);
        if (!was_complete && drbd_state_dump_complete(a->state)) {
                a->dump_complete = true;
                log_info("Kernel DRBD state read: %zu resource(s)", drbd_state_n_resources(a->state));
                status_publish(a);
                kick_here(a);
        } else if (a->dump_complete) {
                schedule(a, &a->observe_timer, OBSERVE_DELAY_USEC, on_observe);
                kick_here(a);
        }
        return 0;
}

static void events_stop(Agent *a) {
        a->events_source = sd_event_source_unref(a->events_source);
        if (a->events_fd >= 0)
                close(a->events_fd);
        a->events_fd = -1;
        if (a->events_pid > 0) {
                kill(a->events_pid, SIGTERM);
                waitpid(a->events_pid, NULL, 0);
        }
        a->events_pid = 0;
}

static int on_events_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Agent *a = userdata;
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n > 0) {
                        events2_splitter_feed(&a->splitter, buf, (size_t) n, on_events_line, a);
                        continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                break; /* EOF or error: the stream ended */
        }
        log_warning("drbdsetup events2 ended; restarting it");
        events_stop(a);
        schedule(a, &a->events_restart, EVENTS_RESTART_USEC, on_events_restart);
        return 0;
}

static int events_start(Agent *a) {
        int r;
        events_stop(a);
        drbd_state_reset(a->state);
        events2_splitter_init(&a->splitter);
        a->dump_complete = false;
        r = exec_spawn_reader((char *const[]) { "drbdsetup", "events2", "--statistics", "all", NULL }, &a->events_pid, &a->events_fd);
        if (r < 0) {
                log_warning_errno(r, "Failed to start drbdsetup events2: %s", strerror(-r));
                schedule(a, &a->events_restart, EVENTS_RESTART_USEC, on_events_restart);
                return r;
        }
        return sd_event_add_io(a->event, &a->events_source, a->events_fd, EPOLLIN, on_events_io, a);
}

static int watch_open(Agent *a);

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Agent *a = userdata;
        StoreEventList l;
        int r = store_watch_read(a->watch, &l);
        if (r == -ESTALE) {
                watch_open(a);
                kick_here(a);
                return 0;
        }
        if (r < 0)
                return 0;
        bool relevant = false;
        for (size_t i = 0; i < l.n && !relevant; i++)
                relevant = !startswith(l.items[i].kv.key, SERVICE_KEY_OBSERVED);
        store_event_list_done(&l);
        if (relevant)
                kick_here(a);
        return 0;
}

static int watch_open(Agent *a) {
        int64_t rev = 0;
        int r;
        a->watch_source = sd_event_source_unref(a->watch_source);
        a->watch = store_watch_close(a->watch);
        if ((r = store_revision(a->store, &rev)) < 0 || (r = store_watch_open(a->store, "/drbdd/", rev, &a->watch)) < 0)
                return log_warning_errno(r, "Failed to watch the cluster store: %s", strerror(-r));
        return sd_event_add_io(a->event, &a->watch_source, store_watch_fd(a->watch), EPOLLIN, on_watch, a);
}

/* ---- lifecycle ------------------------------------------------------------------ */

int agent_new(Store *store, Service *service, const AgentConfig *cfg, Agent **ret) {
        Agent *a = calloc(1, sizeof *a);
        int r;
        if (!a)
                return -ENOMEM;
        a->store = store;
        a->service = service;
        a->events_fd = -1;
        a->kick_fd = -1;
        pthread_mutex_init(&a->status_lock, NULL);
        atomic_init(&a->stop, false);
        a->load_modules = cfg->load_modules;
        a->api_busy = cfg->api_busy;
        a->api_busy_userdata = cfg->api_busy_userdata;
        a->drbd_options = json_incref(cfg->drbd_options);
        a->node = strdup(cfg->node_name);
        a->state_dir = strdup(cfg->state_dir);
        a->drbd_include = cfg->drbd_include ? strdup(cfg->drbd_include) : NULL;
        a->modules_dir = cfg->modules_dir ? strdup(cfg->modules_dir) : NULL;
        a->obs = json_object();
        a->backoff = json_object();
        if (!a->node || !a->state_dir || !a->obs || !a->backoff || asprintf(&a->res_dir, "%s/res", cfg->state_dir) < 0 ||
            asprintf(&a->conf_path, "%s/drbd.conf", cfg->state_dir) < 0 || drbd_state_new(&a->state) < 0) {
                agent_free(a);
                return -ENOMEM;
        }
        a->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (a->kick_fd < 0 || (r = sd_event_new(&a->event)) < 0) {
                r = a->kick_fd < 0 ? -errno : r;
                agent_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

Agent *agent_free(Agent *a) {
        if (!a)
                return NULL;
        if (a->thread_running) {
                /* A command in flight finishes first (at most its timeout). */
                atomic_store(&a->stop, true);
                agent_kick(a);
                pthread_join(a->thread, NULL);
        }
        events_stop(a);
        sd_event_source_unref(a->events_restart);
        sd_event_source_unref(a->reconcile_timer);
        sd_event_source_unref(a->observe_timer);
        sd_event_source_unref(a->watch_source);
        sd_event_source_unref(a->kick_source);
        sd_event_source_unref(a->metrics_source);
        store_watch_close(a->watch);
        drbd_state_free(a->state);
        json_decref(a->obs);
        json_decref(a->backoff);
        json_decref(a->extras);
        json_decref(a->metrics_pools);
        json_decref(a->metrics_desired);
        json_decref(a->metrics_transient);
        json_decref(a->status);
        storage_cache_drop(a);
        sd_event_unref(a->event);
        if (a->kick_fd >= 0)
                close(a->kick_fd);
        pthread_mutex_destroy(&a->status_lock);
        free(a->node);
        free(a->state_dir);
        free(a->res_dir);
        free(a->conf_path);
        json_decref(a->drbd_options);
        free(a->drbd_include);
        free(a->modules_dir);
        free(a->last_error);
        free(a);
        return NULL;
}

static void report_kernel(Agent *a) {
        _cleanup_(json_decrefp) json_t *info = NULL;
        _cleanup_free_ char *msg = NULL;
        if (!a->have_kernel || drbd_kernel_info_to_json(&a->kernel, &info) < 0)
                return;
        int r = service_node_report_kernel(a->service, a->node, info, &msg);
        if (r == -ENOENT) {
                if (!a->passes)
                        log_notice("Node '%s' is not defined yet; define it with 'drbdctl node create %s ADDRESS'",
                                   a->node, a->node);
        } else if (r < 0)
                log_warning("Failed to report the kernel's DRBD version: %s", msg ? msg : strerror(-r));
}

#define DRBD_USERMODE_HELPER "/bin/true"

/* drbd was loaded before drbdd started, so its load-time parameter did not
 * apply: set it through sysfs (the parameter is writable), and say so. */
static void usermode_helper_fix(void) {
        _cleanup_free_ char *old = NULL;
        int r = kmod_module_param_set(NULL, "drbd", "usermode_helper", DRBD_USERMODE_HELPER, &old);
        if (r == 1)
                log_notice("drbd was loaded before drbdd started: set its usermode_helper from '%s' to '%s' "
                           "through sysfs", old, DRBD_USERMODE_HELPER);
        else if (r < 0)
                log_warning("drbd was loaded before drbdd started and its usermode_helper cannot be set to '%s' "
                            "(%s): DRBD will call its own helper; unload drbd before starting drbdd",
                            DRBD_USERMODE_HELPER, strerror(-r));
}

int agent_start(Agent *a) {
        int r;
        if (a->load_modules) {
                KmodLoader *l = NULL;
                _cleanup_free_ char *err = NULL;
                KmodResult res[KMOD_DRBDD_MODULES_MAX];
                size_t n = 0;
                if ((r = kmod_loader_new(a->modules_dir, NULL, &l)) >= 0) {
                        /* No handlers are configured by drbdd, so DRBD's usermode helper is not needed. */
                        r = kmod_load_drbdd_modules(l, KMOD_SET_DRBD | KMOD_SET_STORAGE,
                                                    "usermode_helper=" DRBD_USERMODE_HELPER, res, &n, &err);
                        kmod_loader_free(l);
                }
                if (r < 0)
                        log_warning("Loading kernel modules: %s", err ? err : strerror(-r));
                for (size_t i = 0; i < n; i++)
                        if (streq(res[i].name, "drbd") && res[i].r == 1)
                                usermode_helper_fix();
        }
        r = drbd_kernel_info_detect(NULL, &a->kernel);
        if (r < 0)
                return log_error_errno(r, "No usable DRBD kernel module on this node: %s", strerror(-r));
        a->have_kernel = true;
        log_info("DRBD %s in the kernel (dialect %s)", a->kernel.version, drbd_dialect_to_string(a->kernel.dialect));
        return agent_begin(a);
}

int agent_begin(Agent *a) {
        int r;
        if ((r = files_setup(a)) < 0)
                return r;
        if ((r = obs_load(a)) < 0)
                return log_error_errno(r, "Failed to read this node's observed state: %s", strerror(-r));
        report_kernel(a);
        status_publish(a);
        return 0;
}

/* ---- the agent's thread ---------------------------------------------------------- */

static int on_kick(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Agent *a = userdata;
        eventfd_t v;
        (void) eventfd_read(a->kick_fd, &v);
        if (atomic_load(&a->stop))
                return sd_event_exit(a->event, 0);
        kick_here(a);
        return 0;
}

static void *agent_main(void *userdata) {
        Agent *a = userdata;
        a->commands_total_start = exec_command_count(); /* counted per thread */
        watch_open(a);
        (void) events_start(a); /* retried on a timer when it fails */
        int r = sd_event_loop(a->event);
        if (r < 0)
                log_error_errno(r, "The node agent's event loop failed: %s", strerror(-r));
        events_stop(a);
        return NULL;
}

int agent_run(Agent *a) {
        int r;
        if ((r = sd_event_add_io(a->event, &a->kick_source, a->kick_fd, EPOLLIN, on_kick, a)) < 0)
                return log_error_errno(r, "Failed to set up the node agent: %s", strerror(-r));
        /* The metrics collector reads the agent's state: it runs on its thread. */
        if (a->metrics && (r = metrics_event_attach_fn(a->metrics, a->event, agent_metrics_collect, a,
                                                       &a->metrics_source)) < 0)
                return log_error_errno(r, "Failed to set up the node agent's metrics: %s", strerror(-r));
        if ((r = thread_start(&a->thread, agent_main, a)) < 0)
                return log_error_errno(r, "Failed to start the node agent's thread: %s", strerror(-r));
        a->thread_running = true;
        return 0;
}

/* On the agent's thread: what agent_status() answers from any thread. */
static void status_publish(Agent *a) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:i}", "node", a->node, "passes",
                              (json_int_t) a->passes, "commands-last-pass", (json_int_t) a->commands_last_pass,
                              "store-writes-last-pass", (json_int_t) a->store_writes_last_pass, "commands-total",
                              (json_int_t) (exec_command_count() - a->commands_total_start), "last-pass-usec",
                              (json_int_t) a->last_pass_usec, "kernel-state-read", a->dump_complete, "resources",
                              (int) json_object_size(a->obs));
        json_t *k = NULL;
        if (!o)
                return; /* the last one stays */
        if (a->have_kernel && drbd_kernel_info_to_json(&a->kernel, &k) >= 0)
                json_object_set_new(o, "kernel", k);
        if (a->last_error)
                json_object_set_new(o, "last-error", json_string(a->last_error));
        pthread_mutex_lock(&a->status_lock);
        json_decref(a->status);
        a->status = o;
        pthread_mutex_unlock(&a->status_lock);
}

int agent_status(Agent *a, json_t **ret) {
        pthread_mutex_lock(&a->status_lock);
        json_t *o = a->status ? json_deep_copy(a->status) : json_object();
        pthread_mutex_unlock(&a->status_lock);
        *ret = o;
        return o ? 0 : -ENOMEM;
}
