/* Private to drbdd/service: store keys, the service struct, transaction
 * builder and option helpers shared by the service's files. */
#pragma once

#include <jansson.h>
#include <stdarg.h>
#include <time.h>

#include "drbdd/model/options.h"
#include "drbdd/store/store.h"
#include "service.h"

#define KEY_ROOT "/drbdd/"
#define KEY_NODES KEY_ROOT "nodes/"
#define KEY_POOLS KEY_ROOT "pools/"
#define KEY_RGS KEY_ROOT "rg/"
#define KEY_RDS KEY_ROOT "rd/"
#define KEY_RES KEY_ROOT "res/"
#define KEY_ALLOC_MINOR KEY_ROOT "alloc/minor/"
#define KEY_ALLOC_PORT KEY_ROOT "alloc/port/"
#define KEY_ALLOC_NODEID KEY_ROOT "alloc/node-id/"
#define KEY_SNAPS KEY_ROOT "snap/"
#define KEY_REVERT KEY_ROOT "revert/"
#define KEY_EXPORT KEY_ROOT "export/"

#define DEFAULT_RG "DfltRscGrp"
#define TXN_RETRIES 200

struct Service {
        Store *store;
        ServiceConfig cfg;
        ServiceChangeFn change_fn;
        void *change_userdata;
        unsigned next_minor, next_port; /* allocation hints, not authoritative */
        json_t *since;                  /* leader: "rd/node" -> when a domain was first seen running
                                         * disklessly there (auto-diskful); in memory only */
        time_t (*now)(time_t *);        /* time(), or a test's clock */
};

/* Sets *ret_msg (if non-NULL) to a formatted message; returns error. */
int service_msgf(char **ret_msg, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Carries a message from a validator that allocated one. */
int service_msg_take(char **ret_msg, int error, char *msg);

/* name_validate() with the message carried to *ret_msg: 0 or -EINVAL. */
int service_check_name(int name_kind, const char *name, char **ret_msg);
/* Turns a failed store read into the operator's message: -EHOSTUNREACH
 * ("cluster store unavailable"), -EIO for -EBADMSG (a malformed etcd reply:
 * the D-Bus layer answers -EBADMSG with InvalidArgument, which is for
 * arguments sd-bus could not read), or the error itself. */
int service_read_failed(char **ret_msg, int r);
/* The resource definition object (-ENOENT with "not found" message). */
int service_rd_load(Service *s, const char *rd, json_t **ret, int64_t *ret_rev, char **ret_msg);
/* The node object (-ENOENT with "node '<node>' not found"). */
int service_node_load(Service *s, const char *node, json_t **ret, int64_t *ret_rev, char **ret_msg);
/* All replica objects of rd. */
int service_replicas_load(Service *s, const char *rd, json_t **ret, char **ret_msg);

/* Read-modify-write of the object at key, retried on revision conflicts.
 * modify() returns < 0 (error, message in *ret_msg), 0 (nothing to change:
 * no write) or 1 (write obj back). -ENOENT with "<what> not found" when the
 * key is absent. Returns 0 when written, the modify error, or a store error. */
typedef int (*ObjModifyFn)(json_t *obj, void *userdata, char **ret_msg);
int service_obj_modify(Service *s, const char *key, const char *what, ObjModifyFn modify, void *userdata, char **ret_msg);

/* Keys, newly allocated. */
char *service_key_node(const char *node);
char *service_key_pool(const char *node, const char *pool);
char *service_key_rg(const char *rg);
char *service_key_rd(const char *rd);
char *service_key_res(const char *rd, const char *node);
/* prefix<a>/<b>, or prefix<a> when b is NULL. */
char *service_key_under(const char *prefix, const char *a, const char *b);
/* The observed object at prefix<node>/<name> (new reference); NULL when absent. */
json_t *service_observed_get(Service *s, const char *prefix, const char *node, const char *name);

/* Reads a JSON object at key. -ENOENT if absent, -EIO if not an object. */
int service_obj_get(Service *s, const char *key, json_t **ret, int64_t *ret_rev);
/* All JSON objects under prefix, as an array; each gets "_rev" removed. */
int service_obj_range(Service *s, const char *prefix, json_t **ret);

/* A change to announce (service_notify) once the transaction is committed. */
typedef struct TxnNote {
        const char *kind, *name, *action; /* name owned by the Txn, the others static */
} TxnNote;

/* A transaction under construction; strings are owned by it. */
typedef struct Txn {
        StoreCompare *cmp;
        size_t n_cmp;
        StoreOp *ops;
        size_t n_ops;
        char **owned;
        size_t n_owned;
        TxnNote *notes;
        size_t n_notes;
} Txn;

void service_txn_done(Txn *t);
int service_txn_require_rev(Txn *t, const char *key, int64_t mod_rev); /* 0 = absent */
int service_txn_put_json(Txn *t, const char *key, json_t *value);
int service_txn_put(Txn *t, const char *key, const char *value);
int service_txn_delete(Txn *t, const char *key);
int service_txn_delete_prefix(Txn *t, const char *prefix);
/* t already compares or writes key (an allocation taken by an earlier step). */
bool service_txn_has_key(const Txn *t, const char *key);
/* Announces the change once t is committed (name is copied). */
int service_txn_notify(Txn *t, const char *kind, const char *name, const char *action);
/* Commits; -EAGAIN on conflict. Translates store errors into messages. */
int service_txn_commit(Service *s, Txn *t, char **ret_msg);

/* Builds one transaction into t from fresh store reads, by composing steps
 * that add their compares, writes and notes. Returns < 0 (an error, message
 * in *ret_msg; -EAGAIN: read again), TXN_NOTHING (nothing to write) or
 * TXN_COMMIT (commit t). */
typedef int (*TxnBuildFn)(Service *s, Txn *t, void *userdata, char **ret_msg);
#define TXN_NOTHING 0
#define TXN_COMMIT 1
/* The one retry loop of every mutation: builds, commits, announces t's notes;
 * on a conflict builds again from fresh reads, up to TXN_RETRIES times, then
 * -EBUSY "<what> is being changed concurrently; try again" (what from
 * what_fmt). Returns 0 or build's / the commit's error. */
int service_txn_run(Service *s, TxnBuildFn build, void *userdata, char **ret_msg, const char *what_fmt, ...)
        __attribute__((format(printf, 5, 6)));

void service_notify(Service *s, const char *kind, const char *name, const char *action);

/* v has min..max characters, each a letter, a digit or one of extra. */
bool service_chars_ok(const char *v, const char *extra, size_t min, size_t max);

/* Option helpers: all return 0 when the key is absent (leaving *ret alone). */
int service_opts_check_keys(json_t *opts, const char *const *allowed, char **ret_msg);
int service_opt_string(json_t *opts, const char *key, const char **ret, char **ret_msg);
int service_opt_uint(json_t *opts, const char *key, uint64_t min, uint64_t max, uint64_t *ret, char **ret_msg);
int service_opt_bool(json_t *opts, const char *key, bool *ret, char **ret_msg);
/* Array of names validated with name_validate(kind). */
int service_opt_names(json_t *opts, const char *key, int name_kind, json_t **ret, char **ret_msg);
/* Object of DRBD options validated against the whitelist. */
int service_opt_drbd_options(json_t *opts, const char *key, json_t **ret, char **ret_msg);

/* Node's DRBD dialect from its object. */
DrbdDialect service_node_dialect(json_t *node);
/* The node's drbdd is alive (its liveness key exists) and its kernel reported
 * DRBD 9: a node that may take a tie-breaker. */
bool service_node_runs_drbd9(Service *s, json_t *node);
/* Extent of a pool in KiB by driver. */
uint64_t service_pool_extent_kib(json_t *pool);
/* Backing device path of volume vnr of rd on pool (newly allocated). */
char *service_pool_volume_path(json_t *pool, const char *rd, unsigned vnr);
/* Indexes the objects of arr (borrowed references kept alive by the index)
 * by their field k1, or "k1/k2" when k2 is given, into *ret (new object).
 * Returns 0 or -ENOMEM. */
int service_index_by(json_t *arr, const char *k1, const char *k2, json_t **ret);
/* Backing KiB allocated on every pool from the desired state, in one read
 * of all replicas and definitions (not one per pool): *ret (new reference)
 * maps "node/pool" to KiB; read it with service_pools_used_get(). nodes and pools
 * are all node and pool objects; a replica on a pool or node not among them
 * counts nowhere. Returns 0 or a store error. */
int service_pools_used_kib(Service *s, json_t *nodes, json_t *pools, json_t **ret);
/* KiB allocated on node/pool in used (from service_pools_used_kib()); 0 if none. */
uint64_t service_pools_used_get(json_t *used, const char *node, const char *pool);
/* Peer slots that bitmaps are sized for, for rd on a node of dialect d. */
unsigned service_rd_peer_slots(json_t *rd, DrbdDialect d);

/* ---- steps of one transaction (service-rd.c) ---- */
/* A resource definition as the steps of one transaction read and change it.
 * Each step validates, reads what it needs, changes rd and replicas here
 * and adds its compares, writes and notes to the Txn; service_rd_draft_put() adds
 * the definition's own write last. All owned by the draft. */
typedef struct RdDraft {
        const char *name; /* borrowed */
        json_t *rd;       /* the definition as it will be written */
        json_t *orig;     /* as read (NULL: a new definition) */
        json_t *replicas; /* its replicas, those added by earlier steps included */
        int64_t rev;      /* rd's revision as read; 0 for a new one */
} RdDraft;
void service_rd_draft_done(RdDraft *d);
/* Reads rd and its replicas; t requires rd's revision. */
int service_rd_draft_load(Service *s, Txn *t, const char *name, RdDraft *d, char **ret_msg);
/* Adds the write of d's definition to t, unless it is unchanged. */
int service_rd_draft_put(Txn *t, const RdDraft *d);

/* A new definition (options as service_rd_create: validated here) with its
 * port allocated: requires the name and the port key to be absent and the
 * group unchanged. -EEXIST when the name or an explicit port is taken. */
int service_rd_create_step(Service *s, Txn *t, const char *name, json_t *options, RdDraft *d, char **ret_msg);
/* A volume of size_kib (already validated) with its minor allocated (the
 * given one when minor_opt != 0): requires the minor key to be absent. */
int service_vd_create_step(Service *s, Txn *t, RdDraft *d, uint64_t size_kib, unsigned minor_opt, unsigned *ret_vnr,
                   char **ret_msg);

typedef struct NewReplica {
        const char *node;
        const char *pool;    /* NULL for diskless */
        bool tiebreaker;
        bool attach_created; /* a client made by an attach: its detach removes it */
} NewReplica;
/* New replicas of d, allocating node-ids (each key compared); may set rd's
 * sync-source-id. The replicas join d->replicas. */
int service_replicas_add_step(Service *s, Txn *t, RdDraft *d, const NewReplica *add, size_t n_add, char **ret_msg);
/* A replica of d on node (want_pool or the group's choice; diskless: none),
 * after the node, dialect, peer-slot and capacity checks. */
int service_resource_create_step(Service *s, Txn *t, RdDraft *d, const char *node, const char *want_pool, bool diskless,
                         char **ret_msg);
/* Places replicas of d as the group (options: place-count) asks, none on the
 * nodes in excluded (may be NULL); a tie-breaker where it votes. Returns 1
 * when it added replicas, 0 when none were needed. */
int service_autoplace_step(Service *s, Txn *t, RdDraft *d, json_t *options, json_t *excluded, char **ret_msg);
/* Adds the removal of replica res (read at res_rev) to t; its node-id stays held. */
int service_replica_delete_ops(Txn *t, const char *rd_name, json_t *res, int64_t res_rev);
/* The replica of replicas on node (borrowed), or NULL. */
json_t *service_replica_of(json_t *replicas, const char *node);
/* Checks DRBD 8.4 limits for the set of nodes after adding n_new replicas
 * (one of which may be on new_node). */
int service_check_dialect_limits(Service *s, json_t *replicas, const char *new_node, size_t n_new, bool new_diskless,
                         char **ret_msg);
/* Turns the tie-breaker on node into an ordinary diskless client (a host
 * attaches there, or the leader no longer needs it as a tie-breaker while a
 * host uses it): same replica, same node-id, one modify. The step returns
 * -ENOENT (no message) when the replica is gone meanwhile; the call is
 * one transaction of its own. */
int service_tiebreaker_to_client_step(Service *s, Txn *t, const char *rd_name, const char *node, bool attach_created,
                              char **ret_msg);
int service_tiebreaker_to_client(Service *s, const char *rd_name, const char *node, bool attach_created, char **ret_msg);

/* ---- attachments (service-attach.c) ---- */
/* A host uses rd through its replica on node (rd's "attached" list). */
bool service_rd_attached(json_t *rd, const char *node);
/* The dual-primary window is open: two or more hosts are attached. */
bool service_rd_window_open(json_t *rd);
/* The domains node's compute helper reported using rd (borrowed from usage,
 * all SERVICE_KEY_USAGE objects), or NULL. */
json_t *service_usage_domains(json_t *usage, const char *node, const char *rd);

/* Checks that rd may be deleted (-EBUSY while it has snapshots or a clone or
 * restore still reads from it) and adds the deletion of its export and
 * revert state to t (service-snapshot.c). */
int service_rd_delete_extras(Service *s, const char *rd, Txn *t, char **ret_msg);
/* A revert of rd (its revert object cur) has not finished on every node
 * (service-snapshot.c). */
bool service_revert_running(Service *s, json_t *cur);
