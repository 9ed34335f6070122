/* Ownership of resources by a Cinder volume (manage/unmanage). */
#include <stdio.h>

#include "drbdd/model/names.h"
#include "json-util.h"
#include "macro.h"
#include "service-internal.h"

/* ---- ownership (Cinder manage/unmanage) ------------------------------------------ */

int service_rd_manage(Service *s, const char *rd, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { "owner", "volume-id", NULL };
        const char *owner = NULL, *vid = NULL;
        int r;
        if ((r = check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = opts_check_keys(options, allowed, ret_msg)) < 0 ||
            (r = opt_string(options, "owner", &owner, ret_msg)) < 0 || (r = opt_string(options, "volume-id", &vid, ret_msg)) < 0)
                return r;
        if (!owner || !chars_ok(owner, "-_.", 1, 64))
                return msgf(ret_msg, -EINVAL, "option 'owner' is required (1-64 of A-Z a-z 0-9 - _ .)");
        if (vid && !chars_ok(vid, "-_.", 1, 128))
                return msgf(ret_msg, -EINVAL, "invalid 'volume-id' (1-128 of A-Z a-z 0-9 - _ .)");
        _cleanup_free_ char *rk = key_rd(rd);
        if (!rk)
                return -ENOMEM;
        for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
                _cleanup_(json_decrefp) json_t *rdo = NULL;
                _cleanup_(txn_done) Txn t = {};
                int64_t rev;
                if ((r = rd_load(s, rd, &rdo, &rev, ret_msg)) < 0)
                        return r;
                json_t *cur = json_object_get(rdo, "owner");
                if (cur)
                        return msgf(ret_msg, -EEXIST, "'%s' is already managed by '%s'%s%s", rd, json_get_str(cur, "owner", "?"),
                                    json_object_get(cur, "volume-id") ? " as volume " : "",
                                    json_get_str(cur, "volume-id", ""));
                json_object_set_new(rdo, "owner", vid ? json_pack("{s:s, s:s}", "owner", owner, "volume-id", vid)
                                                      : json_pack("{s:s}", "owner", owner));
                if ((r = txn_require_rev(&t, rk, rev)) < 0 || (r = txn_put_json(&t, rk, rdo)) < 0)
                        return r;
                r = txn_commit(s, &t, ret_msg);
                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                service_notify(s, "resource-definition", rd, "modified");
                return 0;
        }
        return msgf(ret_msg, -EBUSY, "'%s' is being changed concurrently; try again", rd);
}

int service_rd_unmanage(Service *s, const char *rd, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { NULL };
        int r;
        if ((r = check_name(NAME_RESOURCE, rd, ret_msg)) < 0 || (r = opts_check_keys(options, allowed, ret_msg)) < 0)
                return r;
        _cleanup_free_ char *rk = key_rd(rd);
        if (!rk)
                return -ENOMEM;
        for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
                _cleanup_(json_decrefp) json_t *rdo = NULL;
                _cleanup_(txn_done) Txn t = {};
                int64_t rev;
                if ((r = rd_load(s, rd, &rdo, &rev, ret_msg)) < 0)
                        return r;
                if (!json_object_get(rdo, "owner"))
                        return 0; /* not owned: nothing to clear */
                json_object_del(rdo, "owner");
                if ((r = txn_require_rev(&t, rk, rev)) < 0 || (r = txn_put_json(&t, rk, rdo)) < 0)
                        return r;
                r = txn_commit(s, &t, ret_msg);
                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                service_notify(s, "resource-definition", rd, "modified");
                return 0;
        }
        return msgf(ret_msg, -EBUSY, "'%s' is being changed concurrently; try again", rd);
}
