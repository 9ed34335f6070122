/* The steps that bring one replica on a node to its desired state: computed
 * by a pure function, run (agent) or recorded (show-commands) by one executor. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "drbdd/storage/storage.h"
#include "kmod/events2.h"

typedef enum PlanStepKind {
        PLAN_FAIL,          /* stop with error and message (a pool not usable here) */
        PLAN_SAVE,          /* bookkeeping only: the "after" patch, saved */
        PLAN_WRITE_CONFIG,  /* the .res file: text to path (0600) unless it holds it already */
        PLAN_COMMAND,       /* run argv */
        PLAN_VOLUME_CREATE, /* create the backing volume (empty, or from a snapshot / clone source) */
        PLAN_VOLUME_RESIZE, /* grow the backing volume */
        PLAN_VOLUME_ATTACH, /* activate the LV / attach the loop device (after a reboot) */
        PLAN_VOLUME_REMOVE, /* remove (and wipe) a backing volume */
        PLAN_UNLINK,        /* remove the .res file (path); absent is fine */
        PLAN_FORGET,        /* delete the observed object: the replica is gone from this node */
        _PLAN_STEP_KIND_MAX,
} PlanStepKind;

const char *plan_step_kind_to_string(PlanStepKind k);
int plan_step_kind_from_string(const char *s); /* PlanStepKind or -EINVAL */

/* One step. The bookkeeping around it: "before" is merged into the observed
 * object and saved before the action (a failed save fails the step), "after"
 * once it succeeded (failed save fails the step unless after_unchecked); a
 * JSON merge patch (RFC 7386: null deletes). Then the fault point, if any. */
typedef struct PlanStep {
        PlanStepKind kind;
        char **argv;        /* COMMAND: NULL-terminated, owned */
        char *path, *text;  /* WRITE_CONFIG */
        char *pool;         /* VOLUME_*: the pool's name */
        char *volume;       /* VOLUME_*: the storage name (rd_NNNNN) */
        uint64_t size_kib;  /* VOLUME_CREATE, VOLUME_RESIZE */
        json_t *desired_volume; /* VOLUME_CREATE: the desired volume (its source, if any) */
        char *volume_nr;    /* journal field VOLUME while the step runs; NULL for none */
        json_t *before, *after;
        bool after_unchecked;
        bool after_unsaved; /* "after" is applied, not saved (the next save carries it) */
        int error;          /* FAIL: negative errno */
        char *message;      /* FAIL: why; other kinds: logged (info) after the step */
        bool warning;       /* ... at warning level */
        const char *fault;  /* fault point after the step (static string) */
} PlanStep;

typedef struct Plan {
        PlanStep *steps;
        size_t n_steps;
        bool ends_pass;     /* the replica is done for this pass after the plan (its kernel state comes next) */
} Plan;

void plan_done(Plan *p);

/* What the plan is computed from; nothing else is read. */
typedef struct PlanInput {
        json_t *desired;             /* one entry of service_node_desired()'s "resources" */
        json_t *observed;            /* the replica's bookkeeping on this node (its observed object) */
        const DrbdResource *kernel;  /* the kernel's state of the resource; NULL when it is not up */
        const StoragePool *pool;     /* the replica's pool; NULL when diskless or not usable here */
        const StorageReport *report; /* the pool's probe (volumes found); with pool */
        const char *conf_path;       /* the drbdadm configuration (drbdadm -c) */
        const char *res_path;        /* the resource's .res file */
        const char *node;            /* this node's name (for the log) */
} PlanInput;

/* The create path of a replica: bookkeeping, .res, backing volumes (create,
 * grow, attach), metadata, and bringing it up when the kernel does not run
 * it. A pure function of *in. Returns 0 with *ret (release with plan_done()),
 * or -ENOMEM. */
int plan_replica(const PlanInput *in, Plan *ret);

/* What the initial sync depends on in the kernel's state of the resource. */
typedef struct PlanSyncFacts {
        size_t devices;        /* volumes the kernel runs */
        bool all_inconsistent; /* every local disk Inconsistent (and at least one) */
        bool peers_fresh;      /* every peer connected, none holding good data yet */
        bool peer_has_data;    /* a connected peer holds data (UpToDate, Outdated, Consistent) */
} PlanSyncFacts;

/* The kernel state right after "up" on every replica, all peers connected:
 * what show-commands assumes to show the initial sync. */
#define PLAN_SYNC_FACTS_FRESH(n) ((PlanSyncFacts) { .devices = (n), .all_inconsistent = true, .peers_fresh = true })

/* The initial sync of a running replica: once per resource, from the
 * definition's sync source, when nothing holds good data yet; a zeroed start
 * (every diskful replica reads zeros) makes all UpToDate at once with a new
 * current UUID instead. Pure; 0 with *ret (plan_done()), or -ENOMEM. */
int plan_initial_sync(json_t *desired, json_t *observed, const PlanSyncFacts *k, const char *conf_path, Plan *ret);

/* The backing volumes of resource rd found by the probes (named rd_NNNNN,
 * exactly: not another resource's with rd as prefix), each removed in turn
 * (fault point delete:after-remove). Pure; appends to *p; 0 or -ENOMEM. */
int plan_remove_backing(const char *rd, StoragePool *const *pools, const StorageReport *reports, size_t n_pools,
                        Plan *p);

/* Takes down and removes a replica this node no longer runs, in the order
 * down (when the kernel runs it; delete:after-down) → backing volumes → .res
 * → observed object. Pure; 0 with *ret (plan_done()), or -ENOMEM. */
int plan_teardown(const char *rd, bool in_kernel, StoragePool *const *pools, const StorageReport *reports,
                  size_t n_pools, const char *res_path, const char *node, Plan *ret);

typedef struct PlanExecutor {
        StoragePool *const *pools; /* the node's pools, found by name */
        size_t n_pools;
        /* Persists the observed object; < 0 fails a checked save. */
        int (*save)(void *userdata, json_t *observed);
        /* Creates a volume that may come from a snapshot or clone source;
         * NULL: storage_create(). */
        int (*volume_create)(void *userdata, StoragePool *p, json_t *desired_volume, const char *name,
                             uint64_t size_kib, char **ret_msg);
        /* Deletes the observed object (PLAN_FORGET). */
        int (*forget)(void *userdata);
        void *userdata;
        /* Recording mode: non-NULL, a JSON array that receives one display
         * line per command (exec_argv_to_string()) or "# ..." for work done in
         * C; nothing runs, nothing is saved, no fault point fires. */
        json_t *record;
} PlanExecutor;

/* Runs (or records) the steps in order, applying their bookkeeping to
 * observed. Stops at the first failure: negative errno and *ret_msg. */
int plan_execute(const Plan *plan, json_t *observed, const PlanExecutor *x, char **ret_msg);

/* The hash of a .res text recorded as "applied" on the observed object
 * (16 hex digits): the kernel runs that configuration. */
#define PLAN_HASH_MAX 17
void plan_config_hash(const char *text, char ret[static PLAN_HASH_MAX]);

/* Applies an RFC 7386 merge patch to the object o. 0 or -ENOMEM. */
int plan_merge_patch(json_t *o, json_t *patch);
