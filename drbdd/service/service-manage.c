/* Ownership of resources by a Cinder volume (manage/unmanage). */
#include <stdio.h>

#include "drbdd/model/names.h"
#include "json-util.h"
#include "macro.h"
#include "service-internal.h"

/* ---- ownership (Cinder manage/unmanage) ------------------------------------------ */

typedef struct ManageChange {
        const char *rd, *owner, *vid;
} ManageChange;

/* Sets the owner (owner != NULL) or clears it. */
static int manage_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const ManageChange *c = userdata;
        _cleanup_free_ char *rk = service_key_rd(c->rd);
        _cleanup_(json_decrefp) json_t *rdo = NULL;
        int64_t rev;
        int r;
        if (!rk)
                return -ENOMEM;
        if ((r = service_rd_load(s, c->rd, &rdo, &rev, ret_msg)) < 0)
                return r;
        json_t *cur = json_object_get(rdo, "owner");
        if (!c->owner) {
                if (!cur)
                        return TXN_NOTHING; /* not owned: nothing to clear */
                json_object_del(rdo, "owner");
        } else if (cur)
                return service_msgf(ret_msg, -EEXIST, "'%s' is already managed by '%s'%s%s", c->rd,
                            json_get_str(cur, "owner", "?"), json_object_get(cur, "volume-id") ? " as volume " : "",
                            json_get_str(cur, "volume-id", ""));
        else
                json_object_set_new(rdo, "owner", c->vid ? json_pack("{s:s, s:s}", "owner", c->owner, "volume-id", c->vid)
                                                         : json_pack("{s:s}", "owner", c->owner));
        if ((r = service_txn_require_rev(t, rk, rev)) < 0 || (r = service_txn_put_json(t, rk, rdo)) < 0 ||
            (r = service_txn_notify(t, "resource-definition", c->rd, "modified")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_rd_manage(Service *s, const char *rd, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "owner", "volume-id", NULL };
        const char *owner = NULL, *vid = NULL;
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = service_opt_string(options, "owner", &owner, ret_msg)) < 0 || (r = service_opt_string(options, "volume-id", &vid, ret_msg)) < 0)
                return r;
        if (!owner || !service_chars_ok(owner, "-_.", 1, 64))
                return service_msgf(ret_msg, -EINVAL, "option 'owner' is required (1-64 of A-Z a-z 0-9 - _ .)");
        if (vid && !service_chars_ok(vid, "-_.", 1, 128))
                return service_msgf(ret_msg, -EINVAL, "invalid 'volume-id' (1-128 of A-Z a-z 0-9 - _ .)");
        return service_txn_run(s, manage_build, &(ManageChange) { rd, owner, vid }, ret_msg, "'%s'", rd);
}

int service_rd_unmanage(Service *s, const char *rd, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { NULL };
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = service_opts_check_keys(options, allowed, ret_msg)) < 0)
                return r;
        return service_txn_run(s, manage_build, &(ManageChange) { rd, NULL, NULL }, ret_msg, "'%s'", rd);
}
