/* A replica's plan: computed from desired, observed, kernel and storage state; run or recorded by one executor. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drbdd/plan/plan.h"
#include "exec.h"
#include "fault.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

#define PLAN_COMMAND_TIMEOUT_MS (120 * 1000)

static const char *const kind_table[_PLAN_STEP_KIND_MAX] = {
        [PLAN_FAIL] = "fail",
        [PLAN_SAVE] = "save",
        [PLAN_WRITE_CONFIG] = "write-config",
        [PLAN_COMMAND] = "command",
        [PLAN_VOLUME_CREATE] = "volume-create",
        [PLAN_VOLUME_RESIZE] = "volume-resize",
        [PLAN_VOLUME_ATTACH] = "volume-attach",
        [PLAN_VOLUME_REMOVE] = "volume-remove",
        [PLAN_UNLINK] = "unlink",
        [PLAN_FORGET] = "forget",
};

const char *plan_step_kind_to_string(PlanStepKind k) {
        return k >= 0 && k < _PLAN_STEP_KIND_MAX ? kind_table[k] : NULL;
}

int plan_step_kind_from_string(const char *s) {
        for (int k = 0; s && k < _PLAN_STEP_KIND_MAX; k++)
                if (streq(kind_table[k], s))
                        return k;
        return -EINVAL;
}

static void step_done(PlanStep *s) {
        for (char **a = s->argv; a && *a; a++)
                free(*a);
        free(s->argv);
        free(s->path);
        free(s->text);
        free(s->pool);
        free(s->volume);
        free(s->volume_nr);
        free(s->message);
        json_decref(s->desired_volume);
        json_decref(s->before);
        json_decref(s->after);
}

void plan_done(Plan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_steps; i++)
                step_done(&p->steps[i]);
        free(p->steps);
        *p = (Plan) {};
}

static PlanStep *step_add(Plan *p, PlanStepKind kind) {
        PlanStep *n = realloc(p->steps, (p->n_steps + 1) * sizeof *n);
        if (!n)
                return NULL;
        p->steps = n;
        n = &p->steps[p->n_steps++];
        *n = (PlanStep) { .kind = kind };
        return n;
}

/* drbdadm -c CONF VERB [ARG1] [ARG2] TARGET, as the agent always ran it. */
static PlanStep *step_drbdadm(Plan *p, const char *conf, const char *verb, const char *arg1, const char *arg2,
                              const char *target) {
        const char *v[] = { "drbdadm", "-c", conf, verb, arg1, arg2, target };
        PlanStep *s = step_add(p, PLAN_COMMAND);
        size_t n = 0;
        if (!s || !(s->argv = calloc(ELEMENTSOF(v) + 1, sizeof *s->argv)))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                if (v[i] && !(s->argv[n++] = strdup(v[i])))
                        return NULL;
        return s;
}

static bool md_done(json_t *o, const char *sname) {
        return json_is_true(json_object_get(json_object_get(o, "md"), sname));
}

static const StorageVolume *report_find(const StorageReport *r, const char *name) {
        for (size_t i = 0; r && i < r->n_volumes; i++)
                if (streq(r->volumes[i].name, name))
                        return &r->volumes[i];
        return NULL;
}

static int plan_fail(Plan *p, int error, const char *fmt, ...) _printf_(3, 4);
static int plan_fail(Plan *p, int error, const char *fmt, ...) {
        PlanStep *s = step_add(p, PLAN_FAIL);
        va_list ap;
        if (!s)
                return -ENOMEM;
        s->error = error;
        va_start(ap, fmt);
        int r = vasprintf(&s->message, fmt, ap);
        va_end(ap);
        return r < 0 ? (s->message = NULL, -ENOMEM) : 0;
}

/* The backing volumes and their metadata (diskful replicas). */
static int plan_volumes(const PlanInput *in, Plan *p) {
        json_t *d = in->desired, *o = in->observed, *v;
        const char *rd = json_get_str(d, "name", "");
        const char *pname = json_get_str(json_object_get(d, "pool"), "name", "");
        bool v9 = streq(json_get_str(d, "dialect", "9"), "9");
        size_t i;

        if (!in->pool)
                return plan_fail(p, -ENOENT, "storage pool '%s' is not usable on this node", pname);
        if (in->report->error < 0)
                return plan_fail(p, in->report->error, "storage pool '%s': %s", pname,
                                 in->report->message ? in->report->message : strerror(-in->report->error));
        json_array_foreach(json_object_get(d, "volumes"), i, v) {
                const char *sname = json_get_str(v, "storage-name", "");
                uint64_t backing = (uint64_t) json_get_int(v, "backing-kib", 0);
                const StorageVolume *sv = report_find(in->report, sname);
                char vnr[300], vol[24];
                bool md = md_done(o, sname);
                PlanStep *s = NULL;
                snprintf(vnr, sizeof vnr, "%s/%lld", rd, (long long) json_get_int(v, "volume", 0));
                snprintf(vol, sizeof vol, "%lld", (long long) json_get_int(v, "volume", 0));
                if (!sv) {
                        /* Recorded first: whatever a crash leaves is known to be ours. */
                        if (!(s = step_add(p, PLAN_VOLUME_CREATE)) ||
                            !(s->before = json_pack("{s:{s:b}}", "md", sname, false)))
                                return -ENOMEM;
                        s->desired_volume = json_incref(v);
                        s->fault = "create:after-backing";
                        md = false;
                } else if (sv->size_kib < backing) {
                        /* Recorded first: after a crash the DRBD resize still happens. */
                        if (!(s = step_add(p, PLAN_VOLUME_RESIZE)) ||
                            !(s->before = json_pack("{s:{s:I}}", "resize-pending", vnr,
                                                    (json_int_t) json_get_int(v, "usable-kib", 0))))
                                return -ENOMEM;
                        s->fault = "grow:after-backing";
                } else if (in->pool->driver == STORAGE_DRIVER_FILE || !sv->active) {
                        /* After a reboot: activate the LV / re-attach the loop device. */
                        if (!(s = step_add(p, PLAN_VOLUME_ATTACH)))
                                return -ENOMEM;
                }
                if (s) {
                        s->size_kib = backing;
                        if (!(s->pool = strdup(in->pool->name)) || !(s->volume = strdup(sname)) ||
                            !(s->volume_nr = strdup(vol)))
                                return -ENOMEM;
                }
                if (!md) {
                        char slots[32];
                        snprintf(slots, sizeof slots, "--max-peers=%lld", (long long) json_get_int(d, "peer-slots", 7));
                        if (!(s = step_drbdadm(p, in->conf_path, "create-md", "--force", v9 ? slots : NULL, vnr)) ||
                            !(s->after = json_pack("{s:{s:b}}", "md", sname, true)) || !(s->volume_nr = strdup(vol)))
                                return -ENOMEM;
                        s->fault = "create:after-md";
                }
        }
        return 0;
}

void plan_config_hash(const char *text, char ret[static PLAN_HASH_MAX]) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *) text; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        snprintf(ret, PLAN_HASH_MAX, "%016llx", (unsigned long long) h);
}

/* Not running in the kernel: up (8.4 clients: never attached). */
static int plan_up(const PlanInput *in, Plan *p) {
        json_t *d = in->desired;
        const char *rd = json_get_str(d, "name", "");
        bool diskless = json_get_bool(json_object_get(d, "replica"), "diskless", false);
        bool v9 = streq(json_get_str(d, "dialect", "9"), "9");
        char hash[32];
        PlanStep *s;

        plan_config_hash(json_get_str(d, "config", ""), hash);
        if (diskless && !v9) {
                /* DRBD 8.4's "up" always attaches; a diskless client is
                 * the resource and its minors, connected, never attached. */
                if (!(s = step_drbdadm(p, in->conf_path, "new-resource", NULL, NULL, rd)))
                        return -ENOMEM;
                s->fault = "attach:after-new-resource";
                if (!(s = step_drbdadm(p, in->conf_path, "new-minor", NULL, NULL, rd)))
                        return -ENOMEM;
                s->fault = "attach:after-new-minor";
                if (!(s = step_drbdadm(p, in->conf_path, "connect", NULL, NULL, rd)))
                        return -ENOMEM;
        } else if (!(s = step_drbdadm(p, in->conf_path, "up", NULL, NULL, rd)))
                return -ENOMEM;
        /* Up on this node (first time, or after a reboot): its data is
         * trusted only once a peer connected (the agent's observe_all). */
        s->after = json_pack("{s:b, s:s, s:b}", "peer-seen", diskless || json_get_int(d, "diskful-peers", 0) == 0,
                             "applied", hash, "two-primaries", json_get_bool(d, "two-primaries", false));
        s->after_unchecked = true;
        s->fault = "create:after-up";
        if (!s->after || asprintf(&s->message, "'%s' is up on node '%s'%s", rd, in->node, diskless ? " (diskless)" : "") < 0)
                return -ENOMEM;
        p->ends_pass = true;
        return 0;
}

int plan_replica(const PlanInput *in, Plan *ret) {
        _cleanup_(plan_done) Plan p = {};
        json_t *d = in->desired, *o = in->observed;
        bool diskless = json_get_bool(json_object_get(d, "replica"), "diskless", false);
        PlanStep *s;
        int r;

        /* The observed object exists before anything is created: whatever a
         * crash leaves behind is then known to be ours and can be cleaned up. */
        if (!json_object_get(o, "stored") || !json_is_integer(json_object_get(o, "node-id"))) {
                if (!(s = step_add(&p, PLAN_SAVE)) ||
                    !(s->after = json_pack("{s:b, s:I}", "stored", true, "node-id",
                                           json_get_int(json_object_get(d, "replica"), "node-id", -1))))
                        return -ENOMEM;
        }
        if (!(s = step_add(&p, PLAN_WRITE_CONFIG)) || !(s->path = strdup(in->res_path)) ||
            !(s->text = strdup(json_get_str(d, "config", ""))))
                return -ENOMEM;
        if (!diskless && (r = plan_volumes(in, &p)) < 0)
                return r;
        if (!in->kernel && (r = plan_up(in, &p)) < 0)
                return r;
        *ret = p;
        p = (Plan) {};
        return 0;
}

int plan_initial_sync(json_t *d, json_t *o, const PlanSyncFacts *k, const char *conf, Plan *ret) {
        _cleanup_(plan_done) Plan p = {};
        const char *rd = json_get_str(d, "name", "");
        bool diskless = json_get_bool(json_object_get(d, "replica"), "diskless", false);
        PlanStep *s;

        /* Initial sync: once per resource, from the lowest node-id diskful
         * replica, when nothing holds good data yet. When every diskful
         * replica starts out reading zeros, no sync: once all peers are
         * connected, a new current UUID with a cleared bitmap makes them
         * UpToDate together (copying zeros would take as long as the
         * volume is big, and fill the peers' thin pools). */
        if (!diskless && json_get_bool(d, "initial-sync-source", false) && !json_get_bool(o, "initial-sync", false) &&
            k->all_inconsistent) {
                /* With no peer at all there is nothing to wait for (nor to sync): the
                 * plain path makes the lone replica UpToDate at once. */
                bool zeroed = json_get_bool(d, "zeroed", false) && !json_get_bool(o, "full-sync", false) &&
                              json_get_int(d, "peers", -1) > 0;
                /* A zeroed start waits for every peer; their connection events bring the next pass. */
                bool start = !zeroed || k->peers_fresh;
                s = NULL;
                if (zeroed && start) {
                        json_t *v;
                        size_t i;
                        json_array_foreach(json_object_get(d, "volumes"), i, v) {
                                char target[EVENTS2_NAME_MAX + 32];
                                snprintf(target, sizeof target, "%s/%lld", rd, (long long) json_get_int(v, "volume", 0));
                                if (!(s = step_drbdadm(&p, conf, "new-current-uuid", "--clear-bitmap", NULL, target)))
                                        return -ENOMEM;
                        }
                        if (s) {
                                s->fault = "create:after-new-uuid";
                                if (asprintf(&s->message, "'%s' starts out zeroed on every replica: UpToDate "
                                             "without an initial sync", rd) < 0)
                                        return (s->message = NULL), -ENOMEM;
                        }
                } else if (!zeroed && k->peer_has_data) {
                        /* A safety net: the service names a source only among the first
                         * replicas, but a peer with data wins over any such claim. */
                        if (!(s = step_add(&p, PLAN_SAVE)) ||
                            asprintf(&s->message, "'%s': a peer already holds data; no forced initial sync from "
                                     "this node", rd) < 0)
                                return s ? (s->message = NULL), -ENOMEM : -ENOMEM;
                        s->warning = true;
                        start = true;
                } else if (!zeroed) {
                        if (!(s = step_drbdadm(&p, conf, "primary", "--force", NULL, rd)) ||
                            !(s->after = json_pack("{s:n}", "full-sync")))
                                return -ENOMEM;
                        s->after_unsaved = true;
                        s->fault = "create:after-primary";
                        if (!json_get_bool(d, "primary", false) &&
                            !(s = step_drbdadm(&p, conf, "secondary", NULL, NULL, rd)))
                                return -ENOMEM;
                }
                if (start) {
                        if (!(s = step_add(&p, PLAN_SAVE)) || !(s->after = json_pack("{s:b}", "initial-sync", true)))
                                return -ENOMEM;
                        s->after_unchecked = true;
                }
        } else if (!json_get_bool(o, "initial-sync", false) && !k->all_inconsistent && !diskless && k->devices) {
                if (!(s = step_add(&p, PLAN_SAVE)) ||
                    !(s->after = json_pack("{s:b, s:n}", "initial-sync", true, "full-sync")))
                        return -ENOMEM;
                s->after_unchecked = true;
        }
        *ret = p;
        p = (Plan) {};
        return 0;
}

int plan_remove_backing(const char *rd, StoragePool *const *pools, const StorageReport *reports, size_t n_pools,
                        Plan *p) {
        size_t plen = strlen(rd);
        for (size_t i = 0; i < n_pools; i++)
                for (size_t j = 0; j < reports[i].n_volumes; j++) {
                        const char *name = reports[i].volumes[j].name;
                        PlanStep *s;
                        /* rd_NNNNN: exactly our naming, not another resource's prefix */
                        if (strncmp(name, rd, plen) || name[plen] != '_' || strlen(name + plen + 1) != 5 ||
                            strspn(name + plen + 1, "0123456789") != 5)
                                continue;
                        if (!(s = step_add(p, PLAN_VOLUME_REMOVE)) || !(s->pool = strdup(pools[i]->name)) ||
                            !(s->volume = strdup(name)))
                                return -ENOMEM;
                        s->fault = "delete:after-remove";
                }
        return 0;
}

int plan_teardown(const char *rd, bool in_kernel, StoragePool *const *pools, const StorageReport *reports,
                  size_t n_pools, const char *res_path, const char *node, Plan *ret) {
        _cleanup_(plan_done) Plan p = {};
        PlanStep *s;
        int r;

        if (in_kernel) {
                if (!(s = step_add(&p, PLAN_COMMAND)) ||
                    !(s->argv = calloc(4, sizeof *s->argv)) || !(s->argv[0] = strdup("drbdsetup")) ||
                    !(s->argv[1] = strdup("down")) || !(s->argv[2] = strdup(rd)))
                        return -ENOMEM;
                s->fault = "delete:after-down";
        }
        if ((r = plan_remove_backing(rd, pools, reports, n_pools, &p)) < 0)
                return r;
        if (!(s = step_add(&p, PLAN_UNLINK)) || !(s->path = strdup(res_path)) ||
            asprintf(&s->message, "'%s' is removed from node '%s'", rd, node) < 0)
                return -ENOMEM;
        if (!step_add(&p, PLAN_FORGET))
                return -ENOMEM;
        *ret = p;
        p = (Plan) {};
        return 0;
}

/* ---- the executor ----------------------------------------------------------------- */

int plan_merge_patch(json_t *o, json_t *patch) {
        const char *k;
        json_t *v;
        json_object_foreach(patch, k, v) {
                if (json_is_null(v))
                        json_object_del(o, k);
                else if (json_is_object(v)) {
                        json_t *t = json_object_get(o, k);
                        if (!json_is_object(t) && json_object_set_new(o, k, t = json_object()) < 0)
                                return -ENOMEM;
                        if (plan_merge_patch(t, v) < 0)
                                return -ENOMEM;
                } else if (json_object_set(o, k, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static StoragePool *pool_find(const PlanExecutor *x, const char *name) {
        for (size_t i = 0; i < x->n_pools; i++)
                if (streq(x->pools[i]->name, name))
                        return x->pools[i];
        return NULL;
}

static int record_line(json_t *out, const char *fmt, ...) _printf_(2, 3);
static int record_line(json_t *out, const char *fmt, ...) {
        _cleanup_free_ char *l = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&l, fmt, ap);
        va_end(ap);
        return r < 0 || json_array_append_new(out, json_string(l)) < 0 ? -ENOMEM : 0;
}

static int step_action(const PlanStep *s, const PlanExecutor *x, char **ret_msg) {
        StoragePool *pool = s->pool ? pool_find(x, s->pool) : NULL;
        int r;

        if (s->pool && !pool) {
                if (ret_msg)
                        *ret_msg = strdup("storage pool not usable on this node");
                return -ENOENT;
        }
        switch (s->kind) {
        case PLAN_FAIL:
                if (ret_msg)
                        *ret_msg = s->message ? strdup(s->message) : NULL;
                return s->error;
        case PLAN_SAVE:
                return 0;
        case PLAN_WRITE_CONFIG:
                if (x->record)
                        return record_line(x->record, "# write (mode 0600) %s", s->path);
                if ((r = fileio_write_if_changed(s->path, s->text, 0600)) < 0 && r != -ENOMEM && ret_msg &&
                    asprintf(ret_msg, "cannot write %s: %s", s->path, strerror(-r)) < 0)
                        *ret_msg = NULL;
                return r;
        case PLAN_COMMAND: {
                _cleanup_free_ char *cmd = exec_argv_to_string(s->argv);
                if (!cmd)
                        return -ENOMEM;
                if (x->record)
                        return json_array_append_new(x->record, json_string(cmd)) < 0 ? -ENOMEM : 0;
                ExecOptions o = { .timeout_ms = PLAN_COMMAND_TIMEOUT_MS };
                log_debug("agent: %s", cmd);
                r = exec_run_checked(s->argv, &o, NULL, ret_msg);
                if (r < 0)
                        log_debug("agent: failed: %s", ret_msg && *ret_msg ? *ret_msg : strerror(-r));
                return r;
        }
        case PLAN_VOLUME_CREATE:
                if (x->record)
                        return storage_create_commands(pool, s->volume, s->size_kib, x->record);
                if (x->volume_create)
                        return x->volume_create(x->userdata, pool, s->desired_volume, s->volume, s->size_kib, ret_msg);
                return storage_create(pool, s->volume, s->size_kib, NULL, ret_msg);
        case PLAN_VOLUME_RESIZE:
                if (x->record)
                        return storage_resize_commands(pool, s->volume, s->size_kib, x->record);
                return storage_resize(pool, s->volume, s->size_kib, ret_msg);
        case PLAN_VOLUME_ATTACH:
                if (x->record)
                        return record_line(x->record, "# attach %s of pool %s", s->volume, s->pool);
                return storage_attach(pool, s->volume, NULL, ret_msg);
        case PLAN_VOLUME_REMOVE:
                if (x->record)
                        return record_line(x->record, "# remove %s of pool %s (wiped, docs/storage.md)", s->volume,
                                           s->pool);
                return storage_remove(pool, s->volume, ret_msg);
        case PLAN_UNLINK:
                if (x->record)
                        return record_line(x->record, "# remove %s", s->path);
                return unlink(s->path) < 0 && errno != ENOENT ? -errno : 0;
        case PLAN_FORGET:
                return x->record || !x->forget ? 0 : x->forget(x->userdata);
        default:
                assert(!"unknown plan step");
                return -EINVAL;
        }
}

static int save(const PlanExecutor *x, json_t *o) {
        return x->record || !x->save ? 0 : x->save(x->userdata, o);
}

int plan_execute(const Plan *plan, json_t *o, const PlanExecutor *x, char **ret_msg) {
        int r;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const PlanStep *s = &plan->steps[i];
                if (!x->record)
                        log_field_set("VOLUME", s->volume_nr); /* the caller clears it on an early return */
                if (s->before && ((r = plan_merge_patch(o, s->before)) < 0 || (r = save(x, o)) < 0))
                        return r;
                if ((r = step_action(s, x, ret_msg)) < 0)
                        return r;
                if (s->after) {
                        if ((r = plan_merge_patch(o, s->after)) < 0)
                                return r;
                        r = s->after_unsaved ? 0 : save(x, o);
                        if (r < 0 && !s->after_unchecked)
                                return r;
                }
                if (x->record)
                        continue;
                if (s->message && s->kind != PLAN_FAIL) {
                        if (s->warning)
                                log_warning("%s", s->message);
                        else
                                log_info("%s", s->message);
                }
                if (s->fault)
                        fault_point(s->fault);
        }
        if (!x->record)
                log_field_set("VOLUME", NULL);
        return 0;
}
