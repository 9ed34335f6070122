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
int msgf(char **ret_msg, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Carries a message from a validator that allocated one. */
int msg_take(char **ret_msg, int error, char *msg);

/* name_validate() with the message carried to *ret_msg: 0 or -EINVAL. */
int check_name(int name_kind, const char *name, char **ret_msg);
/* Turns a failed store read into the operator's message: -EHOSTUNREACH
 * ("cluster store unavailable"), -EIO for -EBADMSG (a malformed etcd reply:
 * the D-Bus layer answers -EBADMSG with InvalidArgument, which is for
 * arguments sd-bus could not read), or the error itself. */
int read_failed(char **ret_msg, int r);
/* The resource definition object (-ENOENT with "not found" message). */
int rd_load(Service *s, const char *rd, json_t **ret, int64_t *ret_rev, char **ret_msg);
/* All replica objects of rd. */
int replicas_load(Service *s, const char *rd, json_t **ret, char **ret_msg);

/* Read-modify-write of the object at key, retried on revision conflicts.
 * modify() returns < 0 (error, message in *ret_msg), 0 (nothing to change:
 * no write) or 1 (write obj back). -ENOENT with "<what> not found" when the
 * key is absent. Returns 0 when written, the modify error, or a store error. */
typedef int (*ObjModifyFn)(json_t *obj, void *userdata, char **ret_msg);
int obj_modify(Service *s, const char *key, const char *what, ObjModifyFn modify, void *userdata, char **ret_msg);

/* Keys, newly allocated. */
char *key_node(const char *node);
char *key_pool(const char *node, const char *pool);
char *key_rg(const char *rg);
char *key_rd(const char *rd);
char *key_res(const char *rd, const char *node);

/* Reads a JSON object at key. -ENOENT if absent, -EIO if not an object. */
int obj_get(Service *s, const char *key, json_t **ret, int64_t *ret_rev);
/* All JSON objects under prefix, as an array; each gets "_rev" removed. */
int obj_range(Service *s, const char *prefix, json_t **ret);

/* A transaction under construction; strings are owned by it. */
typedef struct Txn {
        StoreCompare *cmp;
        size_t n_cmp;
        StoreOp *ops;
        size_t n_ops;
        char **owned;
        size_t n_owned;
} Txn;

void txn_done(Txn *t);
int txn_require_rev(Txn *t, const char *key, int64_t mod_rev); /* 0 = absent */
int txn_put_json(Txn *t, const char *key, json_t *value);
int txn_put(Txn *t, const char *key, const char *value);
int txn_delete(Txn *t, const char *key);
int txn_delete_prefix(Txn *t, const char *prefix);
/* Commits; -EAGAIN on conflict. Translates store errors into messages. */
int txn_commit(Service *s, Txn *t, char **ret_msg);

void service_notify(Service *s, const char *kind, const char *name, const char *action);

/* Option helpers: all return 0 when the key is absent (leaving *ret alone). */
int opts_check_keys(json_t *opts, const char *const *allowed, char **ret_msg);
int opt_string(json_t *opts, const char *key, const char **ret, char **ret_msg);
int opt_uint(json_t *opts, const char *key, uint64_t min, uint64_t max, uint64_t *ret, char **ret_msg);
int opt_bool(json_t *opts, const char *key, bool *ret, char **ret_msg);
/* Array of names validated with name_validate(kind). */
int opt_names(json_t *opts, const char *key, int name_kind, json_t **ret, char **ret_msg);
/* Object of DRBD options validated against the whitelist. */
int opt_drbd_options(json_t *opts, const char *key, json_t **ret, char **ret_msg);

/* Node's DRBD dialect from its object. */
DrbdDialect node_dialect(json_t *node);
/* The node's drbdd is alive (its liveness key exists) and its kernel reported
 * DRBD 9: a node that may take a tie-breaker. */
bool node_runs_drbd9(Service *s, json_t *node);
/* Extent of a pool in KiB by driver. */
uint64_t pool_extent_kib(json_t *pool);
/* Backing device path of volume vnr of rd on pool (newly allocated). */
char *pool_volume_path(json_t *pool, const char *rd, unsigned vnr);
/* Backing KiB allocated on every pool from the desired state, in one read
 * of all replicas and definitions (not one per pool): *ret (new reference)
 * maps "node/pool" to KiB; read it with pools_used_get(). nodes and pools
 * are all node and pool objects; a replica on a pool or node not among them
 * counts nowhere. Returns 0 or a store error. */
int pools_used_kib(Service *s, json_t *nodes, json_t *pools, json_t **ret);
/* KiB allocated on node/pool in used (from pools_used_kib()); 0 if none. */
uint64_t pools_used_get(json_t *used, const char *node, const char *pool);
/* Peer slots that bitmaps are sized for, for rd on a node of dialect d. */
unsigned rd_peer_slots(json_t *rd, DrbdDialect d);

/* ---- replicas (service-rd.c) ---- */
typedef struct NewReplica {
        const char *node;
        const char *pool;    /* NULL for diskless */
        bool tiebreaker;
        bool attach_created; /* a client made by an attach: its detach removes it */
} NewReplica;
/* Writes new replicas of rd in one transaction guarded by rd's revision,
 * allocating node-ids; also writes rd back when rd_changed (the caller
 * changed it). -EAGAIN on conflict (caller retries). */
int replicas_commit(Service *s, const char *rd_name, json_t *rd, int64_t rd_rev, bool rd_changed, json_t *existing,
                    const NewReplica *add, size_t n_add, char **ret_msg);
/* Adds the removal of replica res (read at res_rev) to t; its node-id stays held. */
int replica_delete_ops(Txn *t, const char *rd_name, json_t *res, int64_t res_rev);
/* The replica of replicas on node (borrowed), or NULL. */
json_t *replica_of(json_t *replicas, const char *node);
/* Checks DRBD 8.4 limits for the set of nodes after adding n_new replicas
 * (one of which may be on new_node). */
int check_dialect_limits(Service *s, json_t *replicas, const char *new_node, size_t n_new, bool new_diskless,
                         char **ret_msg);
/* Turns the tie-breaker on node into an ordinary diskless client (a host
 * attaches there, or the leader no longer needs it as a tie-breaker while a
 * host uses it): same replica, same node-id, one modify. -EAGAIN when it
 * is gone meanwhile. */
int tiebreaker_to_client(Service *s, const char *rd_name, const char *node, bool attach_created, char **ret_msg);

/* ---- attachments (service-attach.c) ---- */
/* A host uses rd through its replica on node (rd's "attached" list). */
bool rd_attached(json_t *rd, const char *node);
/* The dual-primary window is open: two or more hosts are attached. */
bool rd_window_open(json_t *rd);
/* The domains node's compute helper reported using rd (borrowed from usage,
 * all SERVICE_KEY_USAGE objects), or NULL. */
json_t *usage_domains(json_t *usage, const char *node, const char *rd);

/* Checks that rd may be deleted (-EBUSY while it has snapshots or a clone or
 * restore still reads from it) and adds the deletion of its export and
 * revert state to t (service-snapshot.c). */
int rd_delete_extras(Service *s, const char *rd, Txn *t, char **ret_msg);
