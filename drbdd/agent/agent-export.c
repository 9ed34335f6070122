/* The agent's part of iSCSI exports: LIO targets (iscsi-export/lio.h) for
 * the exports desired on this node, once its replica is Primary; targets of
 * ours that are no longer desired are removed (docs/snapshots.md). */
#include <stdio.h>

#include "agent-internal.h"
#include "iscsi-export/lio.h"
#include "json-util.h"
#include "kmod/modules.h"
#include "log.h"
#include "macro.h"

/* The export's observed state; once exported, with the initiators whose ACLs
 * are in place (a client may log in only after its ACL exists). */
static void status_put(Agent *a, const char *rd, const char *state, const char *error, json_t *ex) {
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:s}", "state", state);
        if (o && error)
                json_object_set_new(o, "error", json_string(error));
        if (o && ex) {
                json_t *inis = json_array(), *v;
                const char *ini;
                json_object_foreach(json_object_get(ex, "acls"), ini, v)
                        json_array_append_new(inis, json_string(ini));
                json_object_set_new(o, "initiators", inis);
        }
        if (o)
                (void) service_observed_aux_put(a->service, SERVICE_KEY_OBSERVED_EXPORT, a->node, rd, o, NULL);
}

static void load_modules(Agent *a) {
        KmodLoader *l = NULL;
        _cleanup_free_ char *err = NULL;
        int r;
        if (a->iscsi_modules_loaded || !a->load_modules)
                return;
        if ((r = kmod_loader_new(a->modules_dir, NULL, &l)) >= 0) {
                r = kmod_load_drbdd_modules(l, KMOD_SET_ISCSI, NULL, NULL, NULL, &err);
                kmod_loader_free(l);
        }
        if (r < 0)
                log_warning("Loading the iSCSI target modules: %s", err ? err : strerror(-r));
        a->iscsi_modules_loaded = true;
}

static json_t *desired_of(json_t *res, const char *rd) {
        return json_array_find(res, "name", rd);
}

static int export_one(Agent *a, const char *rd, json_t *ex, json_t *d, char **ret_msg) {
        const DrbdResource *k = drbd_state_find_resource(a->state, rd);
        json_t *vol = json_array_get(json_object_get(d, "volumes"), 0), *e;
        const char *ini;
        size_t n_portals = json_array_size(json_object_get(ex, "portals")), n_acls = json_object_size(json_object_get(ex, "acls"));
        _cleanup_free_ const char **portals = calloc(n_portals + 1, sizeof *portals);
        _cleanup_free_ LioAcl *acls = calloc(n_acls + 1, sizeof *acls);
        char dev[64];
        size_t i = 0;
        if (!portals || !acls)
                return -ENOMEM;
        if (!d || !vol) {
                agent_msgf(ret_msg, "this node has no replica of '%s' to export", rd);
                return -ENOENT;
        }
        if (!k || !k->has_role || k->role != DRBD_ROLE_PRIMARY) {
                agent_msgf(ret_msg, "waiting for '%s' to become Primary on this node", rd);
                return -EAGAIN;
        }
        snprintf(dev, sizeof dev, "/dev/drbd%lld", (long long) json_get_int(vol, "minor", 0));
        json_array_foreach(json_object_get(ex, "portals"), i, e)
                portals[i] = json_string_value(e);
        i = 0;
        json_object_foreach(json_object_get(ex, "acls"), ini, e)
                acls[i++] = (LioAcl) { .initiator = ini, .userid = json_get_str(e, "userid", ""),
                                       .password = json_get_str(e, "password", "") };
        LioConfig cfg = { .iqn_prefix = json_get_str(ex, "iqn-prefix", NULL) };
        LioExport x = { .volume = json_get_str(ex, "lio-volume", rd), .device = dev, .portals = portals, .n_portals = n_portals, .acls = acls,
                        .n_acls = n_acls, .prune_acls = true };
        load_modules(a);
        int r = lio_export_ensure(&cfg, &x);
        if (r < 0)
                agent_msgf(ret_msg, "%s", lio_error_last() ?: strerror(-r));
        return r;
}

void agent_export_pass(Agent *a, json_t *res) {
        json_t *want = json_object_get(a->extras, "exports"), *ex;
        _cleanup_(json_decrefp) json_t *seen = NULL;
        const char *rd;
        int r;
        if (!a->extras || service_observed_aux_list(a->service, SERVICE_KEY_OBSERVED_EXPORT, a->node, &seen) < 0)
                return;
        if (json_object_size(want) == 0 && json_object_size(seen) == 0)
                return; /* this node never exported: leave configfs alone */
        json_object_foreach(want, rd, ex) {
                _cleanup_free_ char *m = NULL;
                r = export_one(a, rd, ex, desired_of(res, rd), &m);
                if (r == -EAGAIN)
                        status_put(a, rd, "waiting", m, NULL);
                else if (r < 0) {
                        log_error("Failed to export '%s' over iSCSI on node '%s': %s", rd, a->node, m ? m : strerror(-r));
                        status_put(a, rd, "failed", m ? m : strerror(-r), NULL);
                } else
                        status_put(a, rd, "exported", NULL, ex);
        }
        /* Ours (our IQN prefix / HBA) but not wanted here any more. */
        char **have = NULL;
        LioConfig cfg = {};
        if (lio_export_list(&cfg, &have) >= 0) {
                for (char **v = have; v && *v; v++) {
                        bool wanted = false;
                        json_object_foreach(want, rd, ex)
                                wanted = wanted || streq(json_get_str(ex, "lio-volume", rd), *v);
                        if (wanted)
                                continue;
                        log_info("Removing the iSCSI export of '%s' (no longer wanted on this node)", *v);
                        if ((r = lio_export_remove(&cfg, *v)) < 0)
                                log_error("Failed to remove the iSCSI export of '%s': %s", *v, lio_error_last() ?: strerror(-r));
                }
                lio_strv_free(have);
        }
        json_t *x;
        json_object_foreach(seen, rd, x)
                if (!json_object_get(want, rd))
                        (void) service_observed_aux_put(a->service, SERVICE_KEY_OBSERVED_EXPORT, a->node, rd, NULL, NULL);
}
