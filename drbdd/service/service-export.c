/* iSCSI exports of resources as desired state; the node agents act. */
#include <stdio.h>

#include "drbdd/model/names.h"
#include "json-util.h"
#include "macro.h"
#include "service-internal.h"

#define ISCSI_PORT 3260
#define ISCSI_IQN_PREFIX "iqn.2026-11.org.drbd.drbdd" /* = LIO_DEFAULT_IQN_PREFIX (iscsi-export/lio.h) */

/* ---- iSCSI exports ----------------------------------------------------------- */

/* rd's name in LIO and in its target IQN: lower case, '_' as '-' (IQNs
 * allow only a-z 0-9 . - :), e.g. CV_1f2e... -> cv-1f2e.... Not one-to-one:
 * iqn_taken() refuses a second rd with the same target name. */
static void iscsi_volume_name(const char *rd, char *buf, size_t n) {
        size_t i = 0;
        for (; rd[i] && i + 1 < n; i++)
                buf[i] = rd[i] == '_' ? '-' : (rd[i] >= 'A' && rd[i] <= 'Z') ? (char) (rd[i] - 'A' + 'a') : rd[i];
        buf[i] = 0;
}

static int iqn_taken(Service *s, const char *rd, const char *iqn, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *l = NULL;
        json_t *e;
        size_t i;
        int r = service_obj_range(s, KEY_EXPORT, &l);
        if (r < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(l, i, e)
                if (!streq(json_get_str(e, "resource-definition", ""), rd) && streq(json_get_str(e, "iqn", ""), iqn))
                        return service_msgf(ret_msg, -EEXIST, "'%s' would get the iSCSI target %s, which '%s' already has "
                                    "(target names are lower case, '_' becomes '-')", rd, iqn,
                                    json_get_str(e, "resource-definition", ""));
        return 0;
}

static int check_initiator(const char *ini, char **ret_msg) {
        if (!ini || !(startswith(ini, "iqn.") || startswith(ini, "eui.") || startswith(ini, "naa.")) ||
            !service_chars_ok(ini, ".-:", 5, 223))
                return service_msgf(ret_msg, -EINVAL, "invalid initiator name: expected iqn./eui./naa. form (RFC 3720)");
        return 0;
}

static int check_portal(const char *p, char **ret_msg) {
        if (!service_chars_ok(p, ".:[]", 1, 64))
                return service_msgf(ret_msg, -EINVAL, "invalid portal: expected ADDRESS[:PORT]");
        return 0;
}

typedef struct ExportChange {
        const char *rd, *ini, *user, *pw, *want_node;
        json_t *portals;
        json_t *ret; /* the export's target, from the last build */
} ExportChange;

/* Export of rd: {"resource-definition", "node", "iqn", "portals" [], "acls"
 * {initiator: {userid, password}}, "set-primary" (bool)}. */
static int export_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        ExportChange *c = userdata;
        const char *rd = c->rd, *ini = c->ini, *user = c->user, *pw = c->pw, *want_node = c->want_node;
        json_t *portals = c->portals, *e;
        _cleanup_free_ char *ek = service_key_under(KEY_EXPORT, rd, NULL), *rk = service_key_rd(rd);
        size_t i;
        int r;
        if (!ek || !rk)
                return -ENOMEM;
        _cleanup_(json_decrefp) json_t *rdo = NULL, *reps = NULL, *cur = NULL, *nodeo = NULL;
        int64_t rev, cur_rev = 0;
        const char *node = NULL;
        if ((r = service_rd_load(s, rd, &rdo, &rev, ret_msg)) < 0 || (r = service_replicas_load(s, rd, &reps, ret_msg)) < 0)
                return r;
        if (json_array_size(json_object_get(rdo, "volumes")) != 1)
                return service_msgf(ret_msg, -EINVAL, "iSCSI export needs exactly one volume ('%s' has %zu)", rd,
                            json_array_size(json_object_get(rdo, "volumes")));
        r = service_obj_get(s, ek, &cur, &cur_rev);
        if (r < 0 && r != -ENOENT)
                return service_read_failed(ret_msg, r);
        if (cur)
                node = json_get_str(cur, "node", "");
        else {
                /* The wanted node, else the Primary, else the first diskful replica. */
                const char *prim = json_get_str(rdo, "primary", NULL);
                json_array_foreach(reps, i, e) {
                        const char *n = json_get_str(e, "node", "");
                        if (json_get_bool(e, "diskless", false))
                                continue;
                        if (want_node ? streq(n, want_node) : (prim ? streq(n, prim) : !node))
                                node = n;
                }
                if (!node && want_node)
                        return service_msgf(ret_msg, -EINVAL, "'%s' has no diskful replica on node '%s'", rd, want_node);
                if (!node)
                        return service_msgf(ret_msg, -EINVAL, "'%s' has no diskful replica to export from", rd);
        }
        if (want_node && !streq(want_node, node))
                return service_msgf(ret_msg, -EBUSY, "'%s' is already exported from node '%s'", rd, node);
        const char *prim = json_get_str(rdo, "primary", NULL);
        if (prim && !streq(prim, node))
                return service_msgf(ret_msg, -EBUSY, "'%s' is asked to be Primary on node '%s', not on the export node '%s'",
                            rd, prim, node);
        _cleanup_free_ char *nk = service_key_node(node);
        if (!nk)
                return -ENOMEM;
        if ((r = service_obj_get(s, nk, &nodeo, NULL)) < 0)
                return service_read_failed(ret_msg, r);
        _cleanup_(json_decrefp) json_t *o = cur ? json_deep_copy(cur) : json_object();
        if (!o)
                return -ENOMEM;
        if (!cur) {
                char iqn[300], vol[64];
                iscsi_volume_name(rd, vol, sizeof vol);
                snprintf(iqn, sizeof iqn, "%s:%s", ISCSI_IQN_PREFIX, vol);
                if ((r = iqn_taken(s, rd, iqn, ret_msg)) < 0)
                        return r;
                json_object_set_new(o, "lio-volume", json_string(vol));
                json_object_set_new(o, "resource-definition", json_string(rd));
                json_object_set_new(o, "node", json_string(node));
                json_object_set_new(o, "iqn", json_string(iqn));
                json_object_set_new(o, "iqn-prefix", json_string(ISCSI_IQN_PREFIX));
                json_object_set_new(o, "acls", json_object());
                json_object_set_new(o, "set-primary", json_boolean(!prim));
        }
        if (portals && json_array_size(portals))
                json_object_set(o, "portals", portals);
        else if (!json_object_get(o, "portals")) {
                char p[128];
                snprintf(p, sizeof p, "%s:%d", json_get_str(nodeo, "address", "0.0.0.0"), ISCSI_PORT);
                json_object_set_new(o, "portals", json_pack("[s]", p));
        }
        json_object_set_new(json_object_get(o, "acls"), ini, json_pack("{s:s, s:s}", "userid", user, "password", pw));
        if (json_get_bool(o, "set-primary", false))
                json_object_set_new(rdo, "primary", json_string(node));
        if ((r = service_txn_require_rev(t, rk, rev)) < 0 || (r = service_txn_require_rev(t, ek, cur_rev)) < 0 ||
            (r = service_txn_put_json(t, ek, o)) < 0 || (r = service_txn_put_json(t, rk, rdo)) < 0)
                return r;
        if ((r = service_txn_notify(t, "export", rd, cur ? "modified" : "created")) < 0)
                return r;
        json_decref(c->ret);
        c->ret = json_pack("{s:s, s:O, s:i, s:s}", "target-iqn", json_get_str(o, "iqn", ""), "target-portals",
                           json_object_get(o, "portals"), "target-lun", 0, "node", node);
        return c->ret ? TXN_COMMIT : -ENOMEM;
}

int service_export_iscsi(Service *s, const char *rd, json_t *options, json_t **ret, char **ret_msg) {
        static const char *const allowed[] = { "initiator", "chap-username", "chap-password", "portals", "node", NULL };
        const char *ini = NULL, *user = NULL, *pw = NULL, *want_node = NULL;
        json_t *portals = json_object_get(options, "portals"), *e;
        size_t i;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_string(options, "initiator", &ini, ret_msg)) < 0 ||
            (r = service_opt_string(options, "chap-username", &user, ret_msg)) < 0 ||
            (r = service_opt_string(options, "chap-password", &pw, ret_msg)) < 0 ||
            (r = service_opt_string(options, "node", &want_node, ret_msg)) < 0)
                return r;
        if (!ini)
                return service_msgf(ret_msg, -EINVAL, "option 'initiator' is required");
        if ((r = check_initiator(ini, ret_msg)) < 0)
                return r;
        if (!user || !pw)
                return service_msgf(ret_msg, -EINVAL, "CHAP is required: give 'chap-username' and 'chap-password'");
        if (!service_chars_ok(user, "-_.:@", 1, 255) || streq(user, "NULL"))
                return service_msgf(ret_msg, -EINVAL, "invalid CHAP user name (1-255 of A-Z a-z 0-9 - _ . : @)");
        if (!service_chars_ok(pw, "-_.+=~!#^*,", 12, 255) || startswith(pw, "NULL"))
                return service_msgf(ret_msg, -EINVAL, "invalid CHAP secret: 12-255 of A-Z a-z 0-9 - _ . + = ~ ! # ^ * ,");
        if (portals && !json_is_array(portals))
                return service_msgf(ret_msg, -EINVAL, "option 'portals' must be an array of strings");
        json_array_foreach(portals, i, e)
                if (!json_is_string(e) || (r = check_portal(json_string_value(e), ret_msg)) < 0)
                        return r < 0 ? r : service_msgf(ret_msg, -EINVAL, "option 'portals' must be an array of strings");
        if (want_node && (r = service_check_name(NAME_NODE, want_node, ret_msg)) < 0)
                return r;

        ExportChange c = { .rd = rd, .ini = ini, .user = user, .pw = pw, .want_node = want_node, .portals = portals };
        if ((r = service_txn_run(s, export_build, &c, ret_msg, "'%s'", rd)) < 0) {
                json_decref(c.ret);
                return r;
        }
        *ret = c.ret;
        return 0;
}

typedef struct UnexportChange {
        const char *rd, *ini;
} UnexportChange;

static int unexport_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const UnexportChange *c = userdata;
        const char *rd = c->rd, *ini = c->ini;
        _cleanup_free_ char *ek = service_key_under(KEY_EXPORT, rd, NULL), *rk = service_key_rd(rd);
        int r;
        if (!ek || !rk)
                return -ENOMEM;
        _cleanup_(json_decrefp) json_t *cur = NULL, *rdo = NULL;
        int64_t rev, rd_rev = 0;
        r = service_obj_get(s, ek, &cur, &rev);
        if (r == -ENOENT)
                return service_msgf(ret_msg, r, "'%s' is not exported", rd);
        if (r < 0)
                return service_read_failed(ret_msg, r);
        if (ini) {
                if (!json_object_get(json_object_get(cur, "acls"), ini))
                        return service_msgf(ret_msg, -ENOENT, "'%s' is not exported to '%s'", rd, ini);
                json_object_del(json_object_get(cur, "acls"), ini);
                r = service_txn_put_json(t, ek, cur);
        } else {
                r = service_txn_delete(t, ek);
                /* Give the Primary role back if the export took it. */
                if (r >= 0 && json_get_bool(cur, "set-primary", false) && service_obj_get(s, rk, &rdo, &rd_rev) >= 0 &&
                    streq(json_get_str(rdo, "primary", ""), json_get_str(cur, "node", ""))) {
                        json_object_del(rdo, "primary");
                        if ((r = service_txn_require_rev(t, rk, rd_rev)) >= 0)
                                r = service_txn_put_json(t, rk, rdo);
                }
        }
        if (r < 0 || (r = service_txn_require_rev(t, ek, rev)) < 0)
                return r;
        if ((r = service_txn_notify(t, "export", rd, ini ? "modified" : "deleted")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_unexport_iscsi(Service *s, const char *rd, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "initiator", NULL };
        const char *ini = NULL;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_string(options, "initiator", &ini, ret_msg)) < 0 || (ini && (r = check_initiator(ini, ret_msg)) < 0))
                return r;
        return service_txn_run(s, unexport_build, &(UnexportChange) { rd, ini }, ret_msg, "'%s'", rd);
}

int service_export_list(Service *s, const char *rd, json_t **ret, char **ret_msg) {
        _cleanup_(json_decrefp) json_t *l = NULL, *out = json_array();
        json_t *e;
        size_t i;
        int r;
        if (!out)
                return -ENOMEM;
        if ((r = service_obj_range(s, KEY_EXPORT, &l)) < 0)
                return service_read_failed(ret_msg, r);
        json_array_foreach(l, i, e) {
                if (rd && *rd && !streq(json_get_str(e, "resource-definition", ""), rd))
                        continue;
                json_t *o = json_deep_copy(e), *acl;
                const char *ini;
                json_object_foreach(json_object_get(o, "acls"), ini, acl)
                        json_object_del(acl, "password"); /* secrets stay in the store */
                _cleanup_(json_decrefp) json_t *ob =
                        service_observed_get(s, SERVICE_KEY_OBSERVED_EXPORT, json_get_str(e, "node", ""),
                                             json_get_str(e, "resource-definition", ""));
                json_object_set_new(o, "state", json_string(json_get_str(ob, "state", "pending")));
                if (json_object_get(ob, "error"))
                        json_object_set(o, "error", json_object_get(ob, "error"));
                if (json_object_get(ob, "initiators")) /* whose ACLs the node has in place */
                        json_object_set(o, "ready-initiators", json_object_get(ob, "initiators"));
                json_array_append_new(out, o);
        }
        *ret = TAKE_PTR(out);
        return 0;
}
