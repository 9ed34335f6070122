/* Private to drbdd/agent: the Agent struct and the helpers that the
 * snapshot (agent-snapshot.c) and export (agent-export.c) parts share with
 * the reconcile loop (agent.c). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "kmod/drbd-version.h"
#include "kmod/events2.h"
#include "drbdd/storage/storage.h"

struct Agent {
        Store *store;     /* the agent's own handle: used on its thread only */
        Service *service; /* on store; its changes reach the loop through drbdd's relay */
        sd_event *event;  /* the agent thread's own loop */

        /* the thread (docs/architecture.md, "Threads") */
        pthread_t thread;
        bool thread_running;
        int kick_fd; /* eventfd: agent_kick() and agent_free() from other threads */
        sd_event_source *kick_source, *metrics_source;
        atomic_bool stop;
        pthread_mutex_t status_lock;
        json_t *status; /* agent_status()'s answer, published by the agent thread (under status_lock) */

        char *node, *state_dir, *res_dir, *conf_path, *drbd_include, *modules_dir;
        bool load_modules;
        json_t *drbd_options; /* node-wide, for the config's common section (own reference) */
        bool (*api_busy)(void *userdata);
        void *api_busy_userdata;
        uint64_t busy_since; /* when a pass first waited for API calls in flight, 0 = not waiting */

        DrbdKernelInfo kernel;
        bool have_kernel;

        /* events2 stream */
        pid_t events_pid;
        int events_fd;
        sd_event_source *events_source, *events_restart;
        Events2Splitter splitter;
        DrbdState *state;
        bool dump_complete;

        /* store watch */
        StoreWatch *watch;
        sd_event_source *watch_source;

        sd_event_source *reconcile_timer, *observe_timer;
        /* the last storage probe (agent.c storage_fresh()) */
        StoragePool **pools;
        StorageReport *reports;
        size_t n_pools;
        json_t *probed_pools; /* the pools it probed, as desired then */
        uint64_t last_probe_usec;
        bool probe_due;       /* something may have changed since */
        json_t *obs;      /* rd -> observed/bookkeeping object, as last written */
        json_t *backoff;  /* rd -> {"failures", "next-usec"} */

        uint64_t passes, commands_last_pass, commands_total_start, last_pass_usec, store_writes_last_pass;
        char *last_error;

        /* agent-metrics.c (NULL/0 without metrics) */
        struct Metrics *metrics;
        struct MetricsFamily *metrics_pass_seconds, *metrics_errors;
        json_t *metrics_pools;     /* pool -> {total-kib, free-kib, provisioned-kib} of the last pass */
        json_t *metrics_desired;   /* the last pass's desired replicas of this node */
        json_t *metrics_transient; /* rd -> {state, since}: when it entered its transient state */
        unsigned metrics_stuck_after_sec;

        /* agent-snapshot.c, agent-export.c */
        json_t *extras;   /* service_node_extras() of this pass; NULL if unreadable */
        bool iscsi_modules_loaded;
};

/* agent.c */
/* With a->kernel set (have_kernel): the files, this node's observed state,
 * the kernel report. agent_start() after detecting the module; the
 * recorded-commands bench (tests/bench/bench-agent-pass.c) with a kernel of
 * its own. */
int agent_begin(Agent *a);
/* One reconcile pass on the calling thread (the agent's, or a bench's). */
int agent_reconcile(Agent *a);
/* Runs one command (argv, timeout); on failure *ret_msg = "CMD exited N: stderr". */
int agent_run_command(char *const argv[], char **ret_msg);
/* drbdadm -c <our config> VERB [ARG1] [ARG2] TARGET. */
int agent_drbdadm(Agent *a, const char *verb, const char *arg1, const char *arg2, const char *target, char **ret_msg);
/* rd's observed/bookkeeping object (created on first use); and its write-back. */
json_t *agent_obs_of(Agent *a, const char *rd);
int agent_obs_save(Agent *a, const char *rd, json_t *o);

/* agent-snapshot.c */
/* Reads this pass's snapshot/revert/export/source desired state into a->extras. */
void agent_extras_load(Agent *a);
/* Creates the backing volume v of desired replica d in p: from the snapshot
 * or clone source of a restored/cloned resource, else empty. */
int agent_volume_create(Agent *a, json_t *d, StoragePool *p, json_t *v, uint64_t backing_kib, char **ret_msg);
/* Revert of desired replica d: 1 = hold (do not apply this pass), 0 = go on,
 * < 0 error with *ret_msg. */
int agent_revert_step(Agent *a, json_t *d, StoragePool **pools, size_t n_pools, char **ret_msg);
/* Takes the snapshots this node owes, removes those no longer wanted. */
void agent_snapshot_pass(Agent *a, StoragePool **pools, size_t n_pools, StorageReport *reports);

/* agent-export.c */
/* Makes this node's LIO exports match the desired ones (res: the node's desired replicas). */
void agent_export_pass(Agent *a, json_t *res);

/* Sets *ret_msg to a newly allocated message (left NULL when memory runs
 * out: the caller's error code still tells what failed). */
void agent_msgf(char **ret_msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
