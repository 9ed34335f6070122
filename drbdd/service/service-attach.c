/* Attachments and the dual-primary window (docs/nova.md).
 *
 * rd's "attached" list names the nodes whose hosts use the volume. It lives
 * in the definition so that every attach and detach of rd is a transaction
 * guarded by one revision: two hosts attaching at once cannot both miss
 * each other and open a window nobody checked. The window itself is not
 * stored: it is open exactly while the list has two or more nodes, so it
 * can never be left open by a forgotten step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drbdd/model/names.h"
#include "json-util.h"
#include "utf8.h"
#include "macro.h"
#include "service-internal.h"

bool service_rd_attached(json_t *rd, const char *node) {
        json_t *e;
        size_t i;
        json_array_foreach(json_object_get(rd, "attached"), i, e)
                if (streq(json_string_value(e) ?: "", node))
                        return true;
        return false;
}

bool service_rd_window_open(json_t *rd) {
        return json_array_size(json_object_get(rd, "attached")) >= 2;
}

/* The protocol rd's configuration uses: its own option, else its group's, else C
 * (copied: the group's object is gone when this returns). */
static int rd_protocol(Service *s, json_t *rd, char ret[static 2], char **ret_msg) {
        const char *p = json_string_value(json_object_get(json_object_get(rd, "drbd-options"), "net/protocol"));
        _cleanup_(json_decrefp) json_t *rg = NULL;
        _cleanup_free_ char *k = NULL;
        int r;
        if (p) {
                snprintf(ret, 2, "%s", p);
                return 0;
        }
        if (!(k = service_key_rg(json_get_str(rd, "resource-group", DEFAULT_RG))))
                return -ENOMEM;
        r = service_obj_get(s, k, &rg, NULL);
        if (r < 0 && r != -ENOENT)
                return service_read_failed(ret_msg, r);
        p = json_string_value(json_object_get(json_object_get(rg, "drbd-options"), "net/protocol"));
        snprintf(ret, 2, "%s", p ?: "C"); /* validated against the whitelist: A, B or C */
        return 0;
}

/* Two hosts Primary at once is safe only with synchronous replication
 * (protocol C: a write completes once every peer has it) and DRBD 9. */
static int check_window(Service *s, const char *rd_name, json_t *rd, json_t *replicas, const char *node,
                        char **ret_msg) {
        const char *other = json_string_value(json_array_get(json_object_get(rd, "attached"), 0));
        char proto[2];
        json_t *e;
        size_t i;
        int r;
        if ((r = rd_protocol(s, rd, proto, ret_msg)) < 0)
                return r;
        if (!streq(proto, "C"))
                return service_msgf(ret_msg, -EBUSY, "'%s' is attached on node '%s'; attaching it on '%s' too needs two "
                            "primaries, which drbdd allows only with protocol C ('%s' uses %s)", rd_name, other, node,
                            rd_name, proto);
        _cleanup_(json_decrefp) json_t *nodes = json_array();
        if (!nodes)
                return -ENOMEM;
        json_array_foreach(replicas, i, e)
                json_array_append_new(nodes, json_string(json_get_str(e, "node", "")));
        if (!service_replica_of(replicas, node))
                json_array_append_new(nodes, json_string(node));
        json_array_foreach(nodes, i, e) {
                _cleanup_free_ char *nk = service_key_node(json_string_value(e));
                _cleanup_(json_decrefp) json_t *n = NULL;
                if (!nk)
                        return -ENOMEM;
                if ((r = service_obj_get(s, nk, &n, NULL)) < 0 && r != -ENOENT)
                        return service_read_failed(ret_msg, r);
                if (r < 0 || service_node_dialect(n) != DRBD_DIALECT_9)
                        return service_msgf(ret_msg, -EBUSY, "'%s' is attached on node '%s'; attaching it on '%s' too needs "
                                    "two primaries, which needs DRBD 9 on every node of '%s' ('%s' %s)", rd_name,
                                    other, node, rd_name, json_string_value(e),
                                    r < 0 ? "is not defined" : "does not run DRBD 9");
        }
        return 0;
}

typedef struct Attach {
        const char *rd, *node;
} Attach;

static int attach_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const Attach *a = userdata;
        _cleanup_(service_rd_draft_done) RdDraft d = {};
        _cleanup_(json_decrefp) json_t *n = NULL;
        _cleanup_free_ char *what = NULL;
        int r;
        if (asprintf(&what, "%s/%s", a->rd, a->node) < 0)
                return -ENOMEM;
        if ((r = service_rd_draft_load(s, t, a->rd, &d, ret_msg)) < 0)
                return r;
        if ((r = service_node_load(s, a->node, &n, NULL, ret_msg)) < 0)
                return r;
        if (service_rd_attached(d.rd, a->node))
                return TXN_NOTHING;
        if (json_array_size(json_object_get(d.rd, "volumes")) == 0)
                return service_msgf(ret_msg, -EINVAL, "'%s' has no volumes yet", a->rd);
        if (json_array_size(json_object_get(d.rd, "attached")) >= 1 &&
            (r = check_window(s, a->rd, d.rd, d.replicas, a->node, ret_msg)) < 0)
                return r;
        json_t *list = json_object_get(d.rd, "attached");
        if (!json_is_array(list))
                json_object_set_new(d.rd, "attached", list = json_array());
        if (!list || json_array_append_new(list, json_string(a->node)) < 0)
                return -ENOMEM;
        /* When the window opened (metrics: a window open too long). */
        if (json_array_size(list) == 2)
                json_object_set_new(d.rd, "window-since", json_integer((json_int_t) s->now(NULL)));
        if (!service_replica_of(d.replicas, a->node)) {
                NewReplica add = { .node = a->node, .attach_created = true };
                if ((r = service_check_dialect_limits(s, d.replicas, a->node, 1, true, ret_msg)) < 0 ||
                    (r = service_replicas_add_step(s, t, &d, &add, 1, ret_msg)) < 0)
                        return r;
        }
        if ((r = service_rd_draft_put(t, &d)) < 0 || (r = service_txn_notify(t, "resource", what, "attached")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_resource_attach(Service *s, const char *rd_name, const char *node, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { NULL };
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0 || (r = service_check_name(NAME_NODE, node, ret_msg)) < 0 ||
            (r = service_opts_check_keys(options, allowed, ret_msg)) < 0)
                return r;
        return service_txn_run(s, attach_build, &(Attach) { rd_name, node }, ret_msg, "'%s'", rd_name);
}

static int detach_build(Service *s, Txn *t, void *userdata, char **ret_msg) {
        const Attach *a = userdata;
        _cleanup_free_ char *rk = service_key_rd(a->rd), *k = service_key_res(a->rd, a->node), *what = NULL;
        _cleanup_(json_decrefp) json_t *rd = NULL, *res = NULL, *keep = json_array();
        int64_t rev, res_rev = 0;
        json_t *e;
        size_t i;
        int r;
        if (!rk || !k || !keep || asprintf(&what, "%s/%s", a->rd, a->node) < 0)
                return -ENOMEM;
        if ((r = service_rd_load(s, a->rd, &rd, &rev, ret_msg)) < 0)
                return r;
        if (!service_rd_attached(rd, a->node))
                return TXN_NOTHING;
        json_array_foreach(json_object_get(rd, "attached"), i, e)
                if (!streq(json_string_value(e) ?: "", a->node))
                        json_array_append(keep, e);
        json_object_set(rd, "attached", keep);
        if (json_array_size(keep) < 2)
                json_object_del(rd, "window-since");
        r = service_obj_get(s, k, &res, &res_rev);
        if (r < 0 && r != -ENOENT)
                return service_read_failed(ret_msg, r);
        /* Only a client: one made diskful since (toggle-disk, auto-diskful) holds data. */
        bool remove = r >= 0 && json_get_bool(res, "attach-created", false) && json_get_bool(res, "diskless", false);
        if ((r = service_txn_require_rev(t, rk, rev)) < 0 || (r = service_txn_put_json(t, rk, rd)) < 0 ||
            (remove && (r = service_replica_delete_ops(t, a->rd, res, res_rev)) < 0) ||
            (r = service_txn_notify(t, "resource", what, remove ? "deleted" : "detached")) < 0)
                return r;
        return TXN_COMMIT;
}

int service_resource_detach(Service *s, const char *rd_name, const char *node, json_t *options, char **ret_msg) {
        static const char *const allowed[] = { NULL };
        int r;
        if ((r = service_check_name(NAME_RESOURCE, rd_name, ret_msg)) < 0 || (r = service_check_name(NAME_NODE, node, ret_msg)) < 0 ||
            (r = service_opts_check_keys(options, allowed, ret_msg)) < 0)
                return r;
        return service_txn_run(s, detach_build, &(Attach) { rd_name, node }, ret_msg, "'%s'", rd_name);
}

/* ---- domains using replicas (reported by the compute helper) ---- */

#define USAGE_MAX_RESOURCES 4096
#define USAGE_MAX_DOMAINS 64
#define USAGE_MAX_NAME 255

/* A libvirt domain name as shown to operators: 1..255 bytes of UTF-8 that
 * sd-bus carries, no control characters. */
static bool domain_name_ok(const char *n) {
        size_t len = n ? strlen(n) : 0;
        if (len == 0 || len > USAGE_MAX_NAME || !utf8_is_valid(n))
                return false;
        for (const unsigned char *p = (const unsigned char *) n; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

json_t *service_usage_domains(json_t *usage, const char *node, const char *rd) {
        json_t *u;
        size_t i;
        json_array_foreach(usage, i, u)
                if (streq(json_get_str(u, "node", ""), node))
                        return json_object_get(json_object_get(u, "resources"), rd);
        return NULL;
}

int service_usage_report(Service *s, const char *node, json_t *resources, char **ret_msg) {
        const char *rd;
        json_t *doms, *d;
        size_t i;
        int r;
        if ((r = service_check_name(NAME_NODE, node, ret_msg)) < 0)
                return r;
        if (!json_is_object(resources))
                return service_msgf(ret_msg, -EINVAL, "the resources must be a map of resource name to domain names");
        if (json_object_size(resources) > USAGE_MAX_RESOURCES)
                return service_msgf(ret_msg, -EINVAL, "at most %d resources per report", USAGE_MAX_RESOURCES);
        json_object_foreach(resources, rd, doms) {
                if ((r = service_check_name(NAME_RESOURCE, rd, ret_msg)) < 0)
                        return r;
                if (!json_is_array(doms) || json_array_size(doms) > USAGE_MAX_DOMAINS)
                        return service_msgf(ret_msg, -EINVAL, "'%s': expected a list of at most %d domain names", rd,
                                    USAGE_MAX_DOMAINS);
                json_array_foreach(doms, i, d)
                        if (!domain_name_ok(json_string_value(d))) {
                                _cleanup_free_ char *q = utf8_quote_untrusted(json_string_value(d) ?: "");
                                return service_msgf(ret_msg, -EINVAL, "'%s': invalid domain name '%s'", rd, q ?: "");
                        }
        }
        _cleanup_free_ char *k = NULL;
        _cleanup_(json_decrefp) json_t *n = NULL, *o = NULL;
        _cleanup_(service_txn_done) Txn t = {};
        if (asprintf(&k, SERVICE_KEY_USAGE "%s", node) < 0)
                return -ENOMEM;
        if ((r = service_node_load(s, node, &n, NULL, ret_msg)) < 0)
                return r;
        if (!(o = json_pack("{s:s, s:O, s:I}", "node", node, "resources", resources, "reported", (json_int_t) time(NULL))))
                return -ENOMEM;
        if ((r = service_txn_put_json(&t, k, o)) < 0 || (r = service_txn_commit(s, &t, ret_msg)) < 0)
                return r;
        service_notify(s, "node", node, "usage");
        return 0;
}
