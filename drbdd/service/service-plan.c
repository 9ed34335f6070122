/* show-commands: the agent's own plan for a replica not yet created (then its initial sync), recorded instead of run. */
#include <stdio.h>

#include "drbdd/plan/plan.h"
#include "drbdd/storage/storage.h"
#include "json-util.h"
#include "macro.h"
#include "service-internal.h"

/* Where a node's agent keeps its files by default (drbdd --state-dir). */
#define AGENT_STATE_DIR "/var/lib/drbdd"

int service_plan_commands(Service *s, const char *rd, const char *node, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *desired = NULL, *out = json_array(), *observed = NULL;
        _cleanup_free_ char *res_path = NULL, *text = NULL;
        _cleanup_(plan_done) Plan plan = {};
        StoragePool *pool = NULL;
        StorageReport report = {};
        int r;

        if (!out)
                return -ENOMEM;
        /* Rendering validates the names and finds the replica; then exactly
         * what the node's agent gets (service_node_desired()). */
        if ((r = service_render_config(s, rd, node, &text, ret_msg)) < 0 ||
            (r = service_node_desired(s, node, &desired, ret_msg)) < 0)
                return r;
        json_t *d = json_array_find(json_object_get(desired, "resources"), "name", rd);
        if (!d)
                return service_msgf(ret_msg, -ENOENT, "resource '%s' has no replica with volumes on node '%s'", rd, node);
        json_t *pj = json_object_get(d, "pool");
        if (json_is_object(pj) && (r = storage_pool_new(pj, &pool, ret_msg)) < 0) /* none for a client */
                return r;
        /* A replica not created yet: no bookkeeping, nothing in the kernel,
         * the pool as configured with none of its volumes. */
        observed = json_pack("{s:s, s:s, s:{}}", "resource", rd, "state", "Creating", "md");
        if (!observed || asprintf(&res_path, "%s/res/%s.res", AGENT_STATE_DIR, rd) < 0) {
                storage_pool_free(pool);
                return -ENOMEM;
        }
        PlanInput in = { .desired = d, .observed = observed, .pool = pool, .report = &report,
                         .conf_path = AGENT_STATE_DIR "/drbd.conf", .res_path = res_path, .node = node };
        PlanExecutor x = { .pools = &pool, .n_pools = pool ? 1 : 0, .record = out };
        if ((r = plan_replica(&in, &plan)) >= 0)
                r = plan_execute(&plan, observed, &x, ret_msg);
        /* Then, once every replica is up and connected, the initial sync (if
         * this replica is the source), in a later pass of the agent. */
        if (r >= 0) {
                _cleanup_(plan_done) Plan sync = {};
                PlanSyncFacts facts = PLAN_SYNC_FACTS_FRESH(json_array_size(json_object_get(d, "volumes")));
                if (json_get_bool(json_object_get(d, "replica"), "diskless", false))
                        facts = (PlanSyncFacts) {};
                if ((r = plan_initial_sync(d, observed, &facts, in.conf_path, &sync)) >= 0)
                        r = plan_execute(&sync, observed, &x, ret_msg);
        }
        storage_pool_free(pool);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}
