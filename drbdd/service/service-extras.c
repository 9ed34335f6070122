/* What a node agent reads beside its replicas (snapshots, reverts, exports,
 * sources of new volumes) and the auxiliary observed states it reports. */
#include <stdio.h>

#include "drbdd/model/names.h"
#include "json-util.h"
#include "macro.h"
#include "service-internal.h"

/* ---- node agent side ---------------------------------------------------------- */

int service_node_extras(Service *s, const char *node, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *snaps = NULL, *reverts = NULL, *exports = NULL, *rds = NULL;
        json_t *snap_out = json_object(), *rev_out = json_object(), *exp_out = json_object(), *src_out = json_object();
        json_t *e, *n;
        size_t i, j;
        int r;
        _cleanup_(json_decrefp) json_t *out = json_pack("{s:o, s:o, s:o, s:o}", "snapshots", snap_out, "reverts", rev_out,
                                                        "exports", exp_out, "sources", src_out);
        if (!out)
                return -ENOMEM;
        if ((r = service_obj_range(s, KEY_SNAPS, &snaps)) < 0 || (r = service_obj_range(s, KEY_REVERT, &reverts)) < 0 ||
            (r = service_obj_range(s, KEY_EXPORT, &exports)) < 0 || (r = service_obj_range(s, KEY_RDS, &rds)) < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(snaps, i, e)
                json_array_foreach(json_object_get(e, "nodes"), j, n)
                        if (streq(json_get_str(n, "node", ""), node)) {
                                char k[300];
                                snprintf(k, sizeof k, "%s/%s", json_get_str(e, "resource-definition", ""),
                                         json_get_str(e, "name", ""));
                                json_object_set(snap_out, k, e);
                        }
        json_array_foreach(reverts, i, e) {
                /* Progress of every node, for the barrier. */
                json_t *prog = json_object();
                json_array_foreach(json_object_get(e, "nodes"), j, n) {
                        json_t *ob = service_observed_get(s, SERVICE_KEY_OBSERVED_REVERT, json_string_value(n) ?: "",
                                              json_get_str(e, "resource-definition", ""));
                        json_object_set_new(prog, json_string_value(n) ?: "", ob ? ob : json_object());
                }
                json_object_set_new(e, "progress", prog);
                json_object_set(rev_out, json_get_str(e, "resource-definition", ""), e);
        }
        json_array_foreach(exports, i, e)
                if (streq(json_get_str(e, "node", ""), node))
                        json_object_set(exp_out, json_get_str(e, "resource-definition", ""), e);
        json_array_foreach(rds, i, e)
                if (json_object_get(e, "source"))
                        json_object_set(src_out, json_get_str(e, "name", ""), json_object_get(e, "source"));
        *ret = TAKE_PTR(out);
        return 0;
}

int service_observed_aux_put(Service *s, const char *prefix, const char *node, const char *name, json_t *state,
                             char **ret_msg) {
        _cleanup_free_ char *k = service_key_under(prefix, node, name);
        _cleanup_(service_txn_done) Txn t = {};
        int r;
        if (!k)
                return -ENOMEM;
        if (!startswith(prefix, SERVICE_KEY_OBSERVED_SNAP) && !startswith(prefix, SERVICE_KEY_OBSERVED_REVERT) &&
            !startswith(prefix, SERVICE_KEY_OBSERVED_EXPORT))
                return -EINVAL;
        if (state) {
                _cleanup_(json_decrefp) json_t *cur = NULL;
                if (service_obj_get(s, k, &cur, NULL) >= 0 && json_equal(cur, state))
                        return 0;
        }
        if ((r = state ? service_txn_put_json(&t, k, state) : service_txn_delete(&t, k)) < 0)
                return r;
        return service_txn_commit(s, &t, ret_msg);
}

int service_observed_aux_list(Service *s, const char *prefix, const char *node, json_t **ret) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s%s/", prefix, node) < 0)
                return -ENOMEM;
        StoreKVList l;
        int r = store_range(s->store, p, &l);
        if (r < 0)
                return r;
        json_t *o = json_object();
        for (size_t i = 0; o && i < l.n; i++)
                json_object_set_new(o, l.items[i].key + strlen(p), json_string(l.items[i].value));
        store_kv_list_done(&l);
        *ret = o;
        return o ? 0 : -ENOMEM;
}

Store *service_store(Service *s) {
        return s->store;
}
