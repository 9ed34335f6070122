/* bench-agent-pass: the node agent's reconcile pass over N healthy
 * resources, with recorded commands. An algorithmic measure, not a kernel
 * one: no DRBD, no LVM. The real agent code runs one pass after another on a
 * real SQLite store; exec's recording mode answers `lvs`/`vgs` from a
 * simulated volume group (lvcreate/lvremove change it) and every other
 * command with success; the kernel's state is events2 lines saying that
 * every resource of the store is up, connected and UpToDate.
 *
 *   bench-agent-pass N [N ...]
 *
 * For each N: the first pass (creates everything), then passes until one
 * runs no command, then one more steady pass; prints for the steady pass its
 * time, its commands and the store writes it made, side by side.
 * Exits 1 if a steady pass is not reached or it ran a command or wrote to
 * the store (tests/integration/test-agent-pass.sh relies on that). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drbdd/agent/agent-internal.h"
#include "exec.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "thread.h"

#define POOL_KIB (1024ULL * 1024 * 1024) /* a 1 TiB simulated volume group */

/* ---- the simulated volume group ---------------------------------------------- */

typedef struct Sim {
        json_t *lvs; /* name -> size in KiB */
} Sim;

static const char *arg_after(char *const argv[], const char *opt) {
        for (size_t i = 0; argv[i]; i++)
                if (streq(argv[i], opt) && argv[i + 1])
                        return argv[i + 1];
        return NULL;
}

static char *lvs_json(Sim *sim) {
        _cleanup_(json_decrefp) json_t *rows = json_array();
        const char *name;
        json_t *v;
        json_object_foreach(sim->lvs, name, v) {
                char size[32];
                snprintf(size, sizeof size, "%lld.00", (long long) json_integer_value(v));
                json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "lv_name", name,
                                                      "vg_name", "vg0", "lv_size", size, "pool_lv", "", "origin", "",
                                                      "data_percent", "", "metadata_percent", "", "lv_attr",
                                                      "-wi-a-----", "lv_tags", "drbdd"));
        }
        _cleanup_(json_decrefp) json_t *rep = json_pack("{s:[{s:O}]}", "report", "lv", rows);
        return json_dumps(rep, JSON_COMPACT);
}

static int responder(char *const argv[], void *userdata, ExecResult *ret) {
        Sim *sim = userdata;
        if (streq(argv[0], "lvs")) {
                ret->out = lvs_json(sim);
        } else if (streq(argv[0], "vgs")) {
                uint64_t used = 0;
                const char *name;
                json_t *v;
                json_object_foreach(sim->lvs, name, v)
                        used += (uint64_t) json_integer_value(v);
                if (asprintf(&ret->out,
                             "{\"report\":[{\"vg\":[{\"vg_name\":\"vg0\", \"vg_size\":\"%llu.00\", \"vg_free\":\"%llu.00\", "
                             "\"vg_extent_size\":\"4096.00\"}]}]}",
                             (unsigned long long) POOL_KIB, (unsigned long long) (POOL_KIB - used)) < 0)
                        ret->out = NULL;
        } else if (streq(argv[0], "lvcreate")) {
                const char *name = arg_after(argv, "--name"), *size = arg_after(argv, "--size");
                if (name && size)
                        json_object_set_new(sim->lvs, name, json_integer(strtoll(size, NULL, 10)));
        } else if (streq(argv[0], "lvremove")) {
                for (size_t i = 1; argv[i]; i++) {
                        const char *slash = strrchr(argv[i], '/');
                        json_object_del(sim->lvs, slash ? slash + 1 : argv[i]);
                }
        }
        ret->status = 0;
        return 0;
}

/* ---- the kernel: every desired resource up and UpToDate ----------------------- */

/* Every resource here has two replicas (n1, n2; node-ids 0 and 1): the
 * peer of n1's replica is n2 with the other id. */
static void apply(Agent *a, const char *line) {
        Events2Event ev;
        if (events2_parse_line(line, &ev) >= 0)
                drbd_state_apply(a->state, &ev);
        else
                fprintf(stderr, "bench-agent-pass: bad events2 line: %s\n", line);
}

static void kernel_all_up(Agent *a, json_t *desired) {
        json_t *e, *v;
        size_t i, k;
        char line[512];
        drbd_state_reset(a->state);
        json_array_foreach(json_object_get(desired, "resources"), i, e) {
                const char *rd = json_get_str(e, "name", "");
                long long peer = json_get_int(json_object_get(e, "replica"), "node-id", 0) == 0 ? 1 : 0;
                snprintf(line, sizeof line, "exists resource name:%s role:Secondary suspended:no", rd);
                apply(a, line);
                snprintf(line, sizeof line,
                         "exists connection name:%s peer-node-id:%lld conn-name:n2 connection:Connected role:Secondary",
                         rd, peer);
                apply(a, line);
                json_array_foreach(json_object_get(e, "volumes"), k, v) {
                        long long vnr = json_get_int(v, "volume", (json_int_t) k);
                        snprintf(line, sizeof line,
                                 "exists device name:%s volume:%lld minor:%lld disk:UpToDate client:no quorum:yes", rd,
                                 vnr, (long long) json_get_int(v, "minor", 0));
                        apply(a, line);
                        snprintf(line, sizeof line,
                                 "exists peer-device name:%s peer-node-id:%lld conn-name:n2 volume:%lld "
                                 "replication:Established peer-disk:UpToDate peer-client:no",
                                 rd, peer, vnr);
                        apply(a, line);
                }
        }
        apply(a, "exists -");
        a->dump_complete = true;
}

/* ---- one N -------------------------------------------------------------------- */

typedef struct Figures {
        unsigned n;
        double setup_s, first_ms, steady_ms;
        uint64_t first_cmds, steady_cmds;
        int64_t steady_writes;
        unsigned passes_to_steady;
        bool ok;
} Figures;

static double now_ms(void) {
        return (double) thread_monotonic_usec() / 1000.0;
}

static int pass(Agent *a, Store *st, Service *svc, double *ret_ms, uint64_t *ret_cmds, int64_t *ret_writes) {
        _cleanup_(json_decrefp) json_t *desired = NULL;
        _cleanup_free_ char *msg = NULL;
        int r;
        /* The kernel as the last pass left it: everything desired is up. */
        if ((r = service_node_desired(svc, "n1", &desired, &msg)) < 0) {
                fprintf(stderr, "bench-agent-pass: desired state: %s\n", msg ? msg : strerror(-r));
                return r;
        }
        kernel_all_up(a, desired);
        uint64_t c0 = exec_command_count(), w0 = store_writes(st);
        double t0 = now_ms();
        r = agent_reconcile(a);
        *ret_ms = now_ms() - t0;
        *ret_cmds = exec_command_count() - c0;
        *ret_writes = (int64_t) (store_writes(st) - w0);
        return r;
}

static int one(unsigned n, Figures *f) {
        char dir[] = "/tmp/bench-agent-pass.XXXXXX", url[128], state[160];
        ServiceConfig cfg;
        Store *st = NULL;
        Service *svc = NULL;
        Agent *a = NULL;
        Sim sim = { .lvs = json_object() };
        _cleanup_(json_decrefp) json_t *pool = json_pack("{s:s}", "volume-group", "vg0");
        _cleanup_(json_decrefp) json_t *rg = json_pack("{s:i, s:[s]}", "place-count", 2, "storage-pools", "pool1");
        _cleanup_free_ char *msg = NULL, *log = NULL;
        int r = -1;

        *f = (Figures) { .n = n };
        if (!mkdtemp(dir))
                return -errno;
        snprintf(url, sizeof url, "sqlite:%s/store.db", dir);
        snprintf(state, sizeof state, "%s/state", dir);
        mkdir(state, 0700);
        service_config_defaults(&cfg);
        cfg.node_name = "n1";
        cfg.port_min = 7000; /* one port per resource */
        cfg.port_max = 29999;
        double t0 = now_ms();
        if (store_open(url, &st) < 0 || service_new(st, &cfg, &svc) < 0)
                goto out;
        if (service_node_create(svc, "n1", "10.0.0.1", NULL, &msg) < 0 ||
            service_node_create(svc, "n2", "10.0.0.2", NULL, &msg) < 0 ||
            service_pool_create(svc, "n1", "pool1", "lvm", pool, &msg) < 0 ||
            service_pool_create(svc, "n2", "pool1", "lvm", pool, &msg) < 0 ||
            service_pool_report(svc, "n1", "pool1", POOL_KIB, POOL_KIB, 4096, &msg) < 0 ||
            service_pool_report(svc, "n2", "pool1", POOL_KIB, POOL_KIB, 4096, &msg) < 0 ||
            service_rg_create(svc, "two", rg, &msg) < 0) {
                fprintf(stderr, "bench-agent-pass: setup: %s\n", msg ? msg : "?");
                goto out;
        }
        for (unsigned i = 0; i < n; i++) {
                char name[32];
                snprintf(name, sizeof name, "b%u", i);
                if (service_spawn(svc, "two", name, 4096, NULL, &msg) < 0) {
                        fprintf(stderr, "bench-agent-pass: spawn %s: %s\n", name, msg ? msg : "?");
                        goto out;
                }
        }
        f->setup_s = (now_ms() - t0) / 1000.0;

        AgentConfig ac = { .node_name = "n1", .state_dir = state };
        if (agent_new(st, svc, &ac, &a) < 0)
                goto out;
        /* A DRBD 9 kernel, as drbd_kernel_info_detect() would report it. */
        const char *proc = "version: 9.2.19 (api:2/proto:86-122)\nGIT-hash: 0 build by bench\n";
        if (drbd_version_parse_proc(proc, strlen(proc), &a->kernel) < 0)
                goto out;
        a->have_kernel = true;
        if (agent_begin(a) < 0)
                goto out;
        exec_record_start(responder, &sim);
        double ms;
        uint64_t cmds;
        int64_t writes;
        /* The first pass creates; later ones finish what waits for the
         * kernel (initial sync, bookkeeping) until one runs no command. */
        if (pass(a, st, svc, &ms, &cmds, &writes) < 0)
                goto out_rec;
        f->first_ms = ms;
        f->first_cmds = cmds;
        for (f->passes_to_steady = 1; f->passes_to_steady < 10 && cmds > 0; f->passes_to_steady++)
                if (pass(a, st, svc, &ms, &cmds, &writes) < 0)
                        goto out_rec;
        if (pass(a, st, svc, &ms, &cmds, &writes) < 0)
                goto out_rec;
        f->steady_ms = ms;
        f->steady_cmds = cmds;
        f->steady_writes = writes;
        f->ok = true;
        r = 0;
out_rec:
        log = exec_record_stop();
        if (!f->ok && log) {
                size_t l = strlen(log);
                fprintf(stderr, "bench-agent-pass: last commands:\n%s\n", l > 2000 ? log + l - 2000 : log);
        }
out:
        agent_free(a);
        service_free(svc);
        store_close(st);
        json_decref(sim.lvs);
        _cleanup_free_ char *rm = NULL;
        if (asprintf(&rm, "%s/store.db", dir) >= 0)
                unlink(rm);
        return r;
}

int main(int argc, char **argv) {
        Figures f[8];
        int n = 0, rc = 0;
        if (argc < 2 || argc > 9) {
                fprintf(stderr, "Usage: bench-agent-pass N [N ...] (at most 8)\n");
                return 2;
        }
        log_set_max_level(LOG_WARNING);
        for (int i = 1; i < argc; i++, n++) {
                char *end;
                long v = strtol(argv[i], &end, 10);
                if (*end || v < 0 || v > 100000) {
                        fprintf(stderr, "bench-agent-pass: invalid N '%s'\n", argv[i]);
                        return 2;
                }
                if (one((unsigned) v, &f[n]) < 0 || !f[n].ok || f[n].steady_cmds || f[n].steady_writes)
                        rc = 1;
        }
        printf("node agent reconcile pass, recorded commands (algorithmic: no kernel, no LVM; SQLite store):\n");
        printf("  %-34s", "healthy resources");
        for (int i = 0; i < n; i++)
                printf(" %10u", f[i].n);
        printf("\n  %-34s", "steady pass (ms)");
        for (int i = 0; i < n; i++)
                printf(" %10.1f", f[i].steady_ms);
        printf("\n  %-34s", "steady pass: commands");
        for (int i = 0; i < n; i++)
                printf(" %10llu", (unsigned long long) f[i].steady_cmds);
        printf("\n  %-34s", "steady pass: store writes");
        for (int i = 0; i < n; i++)
                printf(" %10lld", (long long) f[i].steady_writes);
        printf("\n  %-34s", "steady pass per resource (ms)");
        for (int i = 0; i < n; i++)
                printf(" %10.3f", f[i].n ? f[i].steady_ms / f[i].n : 0.0);
        printf("\n  %-34s", "first pass (ms, creates all)");
        for (int i = 0; i < n; i++)
                printf(" %10.1f", f[i].first_ms);
        printf("\n  %-34s", "passes until one ran no command");
        for (int i = 0; i < n; i++)
                printf(" %10u", f[i].passes_to_steady);
        printf("\n");
        /* Per resource, the largest N against the smallest non-zero one:
         * 1.0 is linear growth of the pass with N. */
        for (int i = 0; i < n - 1; i++)
                if (f[i].n && f[i].steady_ms > 0 && f[n - 1].n > f[i].n) {
                        printf("  per-resource ratio, N=%u vs N=%u: %.2f\n", f[n - 1].n, f[i].n,
                               (f[n - 1].steady_ms / f[n - 1].n) / (f[i].steady_ms / f[i].n));
                        break;
                }
        return rc;
}
