/* Readiness of a replica for its host (drbdctl r wait-ready, WaitReady). */
#include <stdio.h>

#include "drbdd/model/names.h"
#include "json-util.h"
#include "macro.h"
#include "service-internal.h"

/* ---- readiness ----------------------------------------------------------------- */

/* Diskless: every volume has a Connected peer whose disk is UpToDate. */
static bool diskless_ready(json_t *k) {
        json_t *d, *c, *pd;
        size_t i, j, l;
        if (json_array_size(json_object_get(k, "devices")) == 0)
                return false;
        json_array_foreach(json_object_get(k, "devices"), i, d) {
                bool ok = false;
                json_array_foreach(json_object_get(k, "connections"), j, c) {
                        if (!streq(json_get_str(c, "connection", ""), "Connected"))
                                continue;
                        json_array_foreach(json_object_get(c, "peer-devices"), l, pd)
                                ok = ok || (json_get_int(pd, "volume", -1) == json_get_int(d, "volume", -2) &&
                                            streq(json_get_str(pd, "peer-disk", ""), "UpToDate"));
                }
                if (!ok)
                        return false;
        }
        return true;
}

int service_resource_ready(Service *s, const char *rd, const char *node, json_t **ret_row, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *l = NULL;
        json_t *e, *row = NULL;
        size_t i;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_check_name(NAME_NODE, node, ret_msg)) < 0 ||
            (r = service_list(s, "resource", rd, &l, ret_msg)) < 0)
                return r;
        json_array_foreach(l, i, e)
                if (streq(json_get_str(e, "node", ""), node))
                        row = e;
        if (!row)
                return service_msgf(ret_msg, -ENOENT, "'%s' has no replica on node '%s'", rd, node);
        /* Until every node brought its reverted replica up again, the
         * observed state may still be the one from before the revert. */
        _cleanup_free_ char *rvk = service_key_under(KEY_REVERT, rd, NULL);
        _cleanup_(json_decrefp) json_t *rev_o = NULL;
        if (!rvk)
                return -ENOMEM;
        if (service_obj_get(s, rvk, &rev_o, NULL) >= 0 && service_revert_running(s, rev_o))
                return service_msgf(ret_msg, 0, "'%s' is being reverted to snapshot '%s'", rd, json_get_str(rev_o, "snapshot", ""));
        json_t *ob = json_object_get(row, "observed"), *k = json_object_get(ob, "kernel");
        const char *st = json_get_str(row, "state", "planned");
        /* Diskful: UpToDate, and the agent has seen the volume's (initial)
         * sync start since its metadata was last made: a revert forgets
         * "initial-sync" before the state stops saying UpToDate. */
        bool ready = json_get_bool(row, "diskless", false)
                             ? diskless_ready(k)
                             : (k && streq(st, "UpToDate") && json_get_bool(ob, "initial-sync", false));
        if (!ready) {
                const char *err = json_get_str(ob, "error", NULL);
                return service_msgf(ret_msg, 0, "'%s' on node '%s' is %s%s%s", rd, node, st, err ? ": " : "", err ? err : "");
        }
        /* An attached host during the dual-primary window: ready once every
         * attached host's kernel allows two primaries, else its open would
         * fail to promote while another host is Primary. */
        if (json_get_bool(row, "attached", false) && json_get_bool(row, "window", false))
                json_array_foreach(l, i, e)
                        if (json_get_bool(e, "attached", false) &&
                            !json_get_bool(json_object_get(e, "observed"), "two-primaries", false))
                                return service_msgf(ret_msg, 0, "'%s' waits for node '%s' to allow two primaries", rd,
                                            json_get_str(e, "node", ""));
        *ret_row = json_incref(row);
        return 1;
}
