/* drbdctl: the operator's command line for drbdd. Reaches the daemon only
 * through D-Bus (drbdd/client). Nouns and verbs follow LINSTOR's client. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "drbdd/client/client.h"
#include "drbdd/model/size.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "table.h"
#include "utf8.h"

#ifndef DRBDD_VERSION
#define DRBDD_VERSION "0.1.0"
#endif

/* Exit codes scripts can rely on (also in --help and the man page). */
enum {
        EXIT_OK = 0,
        EXIT_FAILURE_ = 1,
        EXIT_USAGE = 2,
        EXIT_NOT_FOUND = 3,
        EXIT_EXISTS = 4,
        EXIT_INVALID = 5,
        EXIT_NO_SPACE = 6,
        EXIT_BUSY = 7,
        EXIT_UNAVAILABLE = 8,
        EXIT_ACCESS = 9,
        EXIT_TIMEOUT = 10,
};

static struct {
        bool json;
        uint64_t timeout_usec;
} arg = { .timeout_usec = 120ULL * 1000000 };

/* ---- parsed command line of one command ------------------------------------ */

typedef struct Flag {
        const char *name;   /* long name without "--" */
        char type;          /* 's' string, 'S' repeatable string, 'b' boolean, 'u' number, 'z' size */
        const char *help;
} Flag;

typedef struct Cmd Cmd;
typedef struct Args {
        const Cmd *cmd;
        char **pos;         /* positional arguments */
        size_t n_pos;
        json_t *flags;      /* name -> value (string/bool/int/array) */
} Args;

typedef int (*CmdFn)(DrbddClient *c, Args *a);

struct Cmd {
        const char *noun, *noun_alias;
        const char *verb, *verb_alias;
        const char *synopsis;   /* positional part */
        size_t min_pos, max_pos;
        const Flag *flags;
        CmdFn fn;
        const char *help;
};

static int usage_error(const Cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const Cmd *cmd, const char *fmt, ...) {
        va_list ap;
        fputs("drbdctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        if (cmd)
                fprintf(stderr, "\nUsage: drbdctl %s %s %s (see 'drbdctl %s %s --help')\n", cmd->noun, cmd->verb,
                        cmd->synopsis, cmd->noun, cmd->verb);
        else
                fputs("\nSee 'drbdctl --help'.\n", stderr);
        return EXIT_USAGE;
}

static int exit_code(int r) {
        switch (r) {
        case -ENOENT: return EXIT_NOT_FOUND;
        case -EEXIST: return EXIT_EXISTS;
        case -EINVAL: case -ERANGE: return EXIT_INVALID;
        case -ENOSPC: return EXIT_NO_SPACE;
        case -EBUSY: return EXIT_BUSY;
        case -EHOSTUNREACH: return EXIT_UNAVAILABLE;
        case -EACCES: return EXIT_ACCESS;
        case -ETIMEDOUT: return EXIT_TIMEOUT;
        default: return EXIT_FAILURE_;
        }
}

/* Calls drbdd; prints a one-line error and returns an exit code on failure. */
static int call(DrbddClient *c, const char *method, const char *sig, json_t *args, json_t **ret) {
        _cleanup_free_ char *msg = NULL;
        int r = drbdd_client_call(c, NULL, method, sig, args, ret, &msg, NULL);
        json_decref(args);
        if (r < 0) {
                fprintf(stderr, "drbdctl: %s\n", msg ? msg : strerror(-r));
                return exit_code(r);
        }
        return EXIT_OK;
}

static json_t *flag(Args *a, const char *name) {
        return json_object_get(a->flags, name);
}

/* DRBD options given as --drbd-option net/protocol=C. */
static int drbd_options(Args *a, json_t **ret) {
        json_t *list = flag(a, "drbd-option"), *e;
        size_t i;
        if (!list)
                return 0;
        json_t *o = json_object();
        json_array_foreach(list, i, e) {
                const char *s = json_string_value(e), *eq = strchr(s, '=');
                if (!eq) {
                        json_decref(o);
                        return usage_error(a->cmd, "--drbd-option expects SECTION/KEY=VALUE, e.g. net/protocol=C");
                }
                _cleanup_free_ char *k = strndup(s, (size_t) (eq - s));
                json_object_set_new(o, k, json_string(eq + 1));
        }
        *ret = o;
        return 0;
}

static int copy_flag(Args *a, json_t *opts, const char *flagname, const char *optname) {
        json_t *v = flag(a, flagname);
        if (v)
                json_object_set(opts, optname, v);
        return 0;
}

/* ---- output --------------------------------------------------------------- */

static void print_json(json_t *j) {
        _cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s ? s : "null");
}

/* Prints {"key": value} for a single result. */
static void print_json_field(const char *key, json_t *value) {
        _cleanup_(json_decrefp) json_t *o = json_pack("{s:O}", key, value);
        print_json(o);
}

static const char *fmt_kib(json_t *o, const char *key, char *buf, size_t len) {
        json_t *v = json_object_get(o, key);
        if (!json_is_integer(v))
                return "";
        return size_format_kib((uint64_t) json_integer_value(v), buf, len);
}

static char *join_strings(json_t *arr) {
        _cleanup_free_ char *out = strdup("");
        json_t *e;
        size_t i;
        json_array_foreach(arr, i, e) {
                char *n;
                if (asprintf(&n, "%s%s%s", out, i ? "," : "", json_string_value(e) ?: "") < 0)
                        return NULL;
                free(out);
                out = n;
        }
        return TAKE_PTR(out);
}

static char *join_object(json_t *obj) {
        _cleanup_free_ char *out = strdup("");
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
                char *n;
                if (asprintf(&n, "%s%s%s=%s", out, *out ? "," : "", k, json_string_value(v) ?: "") < 0)
                        return NULL;
                free(out);
                out = n;
        }
        return TAKE_PTR(out);
}

/* Calls a List/Get method whose first result is a list. With --output json
 * the list is printed here and *ret_list is NULL; otherwise *ret_list
 * points into *ret (owned by the caller) for the table. */
static int list_call(DrbddClient *c, const char *method, const char *sig, json_t *args, json_t **ret, json_t **ret_list) {
        int r = call(c, method, sig, args, ret);
        json_t *e;
        size_t i;
        *ret_list = NULL;
        if (r)
                return r;
        /* drbdd answered from its last-known state (store unreachable). */
        json_array_foreach(json_array_get(*ret, 0), i, e)
                if (json_get_bool(e, "stale", false)) {
                        fprintf(stderr, "drbdctl: cluster store unavailable: showing the last-known state\n");
                        break;
                }
        if (arg.json)
                print_json(json_array_get(*ret, 0));
        else
                *ret_list = json_array_get(*ret, 0);
        return 0;
}

/* Prints and frees a table. */
static int table_emit(Table *t) {
        table_print(t, stdout);
        table_free(t);
        return 0;
}

/* ---- node ----------------------------------------------------------------- */

static int node_create(DrbddClient *c, Args *a) {
        json_t *opts = json_object(), *props = json_object(), *e;
        size_t i;
        json_array_foreach(flag(a, "property"), i, e) {
                const char *s = json_string_value(e), *eq = strchr(s, '=');
                if (!eq) {
                        json_decref(opts);
                        json_decref(props);
                        return usage_error(a->cmd, "--property expects KEY=VALUE");
                }
                _cleanup_free_ char *k = strndup(s, (size_t) (eq - s));
                json_object_set_new(props, k, json_string(eq + 1));
        }
        json_object_set_new(opts, "properties", props);
        copy_flag(a, opts, "drbd-version", "drbd-version");
        return call(c, "CreateNode", "ssa{sv}", json_pack("[s,s,o]", a->pos[0], a->pos[1], opts), NULL);
}

static int node_delete(DrbddClient *c, Args *a) {
        return call(c, "DeleteNode", "s", json_pack("[s]", a->pos[0]), NULL);
}

static int node_set_property(DrbddClient *c, Args *a) {
        return call(c, "SetNodeProperty", "sss", json_pack("[s,s,s]", a->pos[0], a->pos[1], a->n_pos > 2 ? a->pos[2] : ""),
                    NULL);
}

static int node_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "ListNodes", "", NULL, &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("Node", "Address", "DRBD", "Properties", NULL);
        json_array_foreach(l, i, e) {
                _cleanup_free_ char *props = join_object(json_object_get(e, "properties"));
                /* The kernel's full version once the node's agent reported it (9.2.19), else the dialect. */
                const char *kv = json_get_str(json_object_get(e, "kernel"), "version", NULL);
                table_add(t, json_get_str(e, "name", ""), json_get_str(e, "address", ""),
                          kv ? kv : json_get_str(e, "drbd-version", ""), props ? props : "", NULL);
        }
        return table_emit(t);
}

/* ---- storage pools -------------------------------------------------------- */

static int sp_create(DrbddClient *c, Args *a) {
        const char *driver = a->pos[0], *where = a->pos[3];
        json_t *opts = json_object();
        if (streq(driver, "file"))
                json_object_set_new(opts, "directory", json_string(where));
        else if (streq(driver, "lvm-thin")) {
                const char *slash = strchr(where, '/');
                if (!slash) {
                        json_decref(opts);
                        return usage_error(a->cmd, "lvm-thin pools are given as VG/THINPOOL");
                }
                json_object_set_new(opts, "volume-group", json_stringn(where, (size_t) (slash - where)));
                json_object_set_new(opts, "thin-pool", json_string(slash + 1));
        } else
                json_object_set_new(opts, "volume-group", json_string(where));
        json_t *cap = flag(a, "capacity");
        if (cap)
                json_object_set_new(opts, "capacity", json_integer(json_integer_value(cap) * 1024));
        return call(c, "CreateStoragePool", "sssa{sv}", json_pack("[s,s,s,o]", a->pos[1], a->pos[2], driver, opts), NULL);
}

static int sp_delete(DrbddClient *c, Args *a) {
        return call(c, "DeleteStoragePool", "ss", json_pack("[s,s]", a->pos[0], a->pos[1]), NULL);
}

static int sp_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *node = flag(a, "node");
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "ListStoragePools", "s", json_pack("[s]", node ? json_string_value(node) : ""), &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("StoragePool", "Node", "Driver", "PoolName", "FreeCapacity", "TotalCapacity", NULL);
        json_array_foreach(l, i, e) {
                char f[32], tot[32], where[256];
                const char *d = json_get_str(e, "driver", "");
                if (streq(d, "file"))
                        snprintf(where, sizeof where, "%s", json_get_str(e, "directory", ""));
                else if (streq(d, "lvm-thin"))
                        snprintf(where, sizeof where, "%s/%s", json_get_str(e, "volume-group", ""),
                                 json_get_str(e, "thin-pool", ""));
                else
                        snprintf(where, sizeof where, "%s", json_get_str(e, "volume-group", ""));
                table_add(t, json_get_str(e, "name", ""), json_get_str(e, "node", ""), d, where,
                          fmt_kib(e, "free-kib", f, sizeof f), fmt_kib(e, "capacity-kib", tot, sizeof tot), NULL);
        }
        return table_emit(t);
}

/* ---- resource groups ------------------------------------------------------ */

static json_t *rg_options(Args *a, int *ret_err) {
        json_t *opts = json_object(), *drbd = NULL;
        copy_flag(a, opts, "place-count", "place-count");
        copy_flag(a, opts, "storage-pool", "storage-pools");
        copy_flag(a, opts, "replicas-on-same", "replicas-on-same");
        copy_flag(a, opts, "replicas-on-different", "replicas-on-different");
        copy_flag(a, opts, "diskless-on-remaining", "diskless-on-remaining");
        copy_flag(a, opts, "peer-slots", "peer-slots");
        copy_flag(a, opts, "auto-diskful", "auto-diskful");
        copy_flag(a, opts, "remove-orphans", "remove-orphans");
        copy_flag(a, opts, "auto-diskful-cleanup", "auto-diskful-allow-cleanup");
        if (flag(a, "no-auto-diskful-cleanup"))
                json_object_set_new(opts, "auto-diskful-allow-cleanup", json_false());
        if ((*ret_err = drbd_options(a, &drbd)) != 0) {
                json_decref(opts);
                return NULL;
        }
        if (drbd)
                json_object_set_new(opts, "drbd-options", drbd);
        return opts;
}

static int rg_create(DrbddClient *c, Args *a) {
        int err;
        json_t *o = rg_options(a, &err);
        return o ? call(c, "CreateResourceGroup", "sa{sv}", json_pack("[s,o]", a->pos[0], o), NULL) : err;
}

static int rg_modify(DrbddClient *c, Args *a) {
        int err;
        json_t *o = rg_options(a, &err);
        return o ? call(c, "ModifyResourceGroup", "sa{sv}", json_pack("[s,o]", a->pos[0], o), NULL) : err;
}

static int rg_delete(DrbddClient *c, Args *a) {
        return call(c, "DeleteResourceGroup", "s", json_pack("[s]", a->pos[0]), NULL);
}

static int rg_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "ListResourceGroups", "", NULL, &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("ResourceGroup", "PlaceCount", "StoragePools", "ReplicasOnSame", "ReplicasOnDifferent",
                             "DisklessOnRemaining", "DrbdOptions", NULL);
        json_array_foreach(l, i, e) {
                char cnt[16];
                snprintf(cnt, sizeof cnt, "%lld", (long long) json_get_int(e, "place-count", 0));
                _cleanup_free_ char *p = join_strings(json_object_get(e, "storage-pools")),
                                    *s = join_strings(json_object_get(e, "replicas-on-same")),
                                    *d = join_strings(json_object_get(e, "replicas-on-different")),
                                    *o = join_object(json_object_get(e, "drbd-options"));
                table_add(t, json_get_str(e, "name", ""), cnt, p ?: "", s ?: "", d ?: "",
                          json_get_bool(e, "diskless-on-remaining", false) ? "yes" : "no", o ?: "", NULL);
        }
        return table_emit(t);
}

static int parse_size_arg(Args *a, const char *s, uint64_t *ret_bytes) {
        _cleanup_free_ char *m = NULL;
        uint64_t kib;
        if (size_parse_kib(s, &kib, &m) < 0) {
                fprintf(stderr, "drbdctl: %s\n", m ? m : "invalid size");
                return EXIT_INVALID;
        }
        if (kib > UINT64_MAX / 1024) {
                fprintf(stderr, "drbdctl: size too large\n");
                return EXIT_INVALID;
        }
        *ret_bytes = kib * 1024;
        return 0;
}

static int rg_spawn(DrbddClient *c, Args *a) {
        uint64_t bytes;
        int r = parse_size_arg(a, a->pos[2], &bytes);
        if (r)
                return r;
        json_t *opts = json_object();
        copy_flag(a, opts, "place-count", "place-count");
        return call(c, "SpawnResources", "ssta{sv}",
                    json_pack("[s,s,I,o]", a->pos[0], a->pos[1], (json_int_t) bytes, opts), NULL);
}

/* ---- resource definitions ------------------------------------------------- */

static int rd_create(DrbddClient *c, Args *a) {
        json_t *opts = json_object(), *drbd = NULL;
        int r;
        copy_flag(a, opts, "resource-group", "resource-group");
        copy_flag(a, opts, "port", "port");
        copy_flag(a, opts, "peer-slots", "peer-slots");
        if ((r = drbd_options(a, &drbd)) != 0) {
                json_decref(opts);
                return r;
        }
        if (drbd)
                json_object_set_new(opts, "drbd-options", drbd);
        return call(c, "CreateResourceDefinition", "sa{sv}", json_pack("[s,o]", a->pos[0], opts), NULL);
}

static int rd_modify(DrbddClient *c, Args *a) {
        json_t *opts = json_object(), *drbd = NULL;
        int r;
        if ((r = drbd_options(a, &drbd)) != 0) {
                json_decref(opts);
                return r;
        }
        if (drbd)
                json_object_set_new(opts, "drbd-options", drbd);
        return call(c, "ModifyResourceDefinition", "sa{sv}", json_pack("[s,o]", a->pos[0], opts), NULL);
}

static int rd_delete(DrbddClient *c, Args *a) {
        return call(c, "DeleteResourceDefinition", "s", json_pack("[s]", a->pos[0]), NULL);
}

static int rd_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "ListResourceDefinitions", "", NULL, &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("ResourceName", "ResourceGroup", "Port", "Volumes", "PeerSlots", NULL);
        json_array_foreach(l, i, e) {
                char port[16], vols[16], slots[16];
                snprintf(port, sizeof port, "%lld", (long long) json_get_int(e, "port", 0));
                snprintf(vols, sizeof vols, "%zu", json_array_size(json_object_get(e, "volumes")));
                snprintf(slots, sizeof slots, "%lld", (long long) json_get_int(e, "peer-slots", 0));
                table_add(t, json_get_str(e, "name", ""), json_get_str(e, "resource-group", ""), port, vols, slots, NULL);
        }
        return table_emit(t);
}

/* ---- volume definitions --------------------------------------------------- */

static int vd_create(DrbddClient *c, Args *a) {
        uint64_t bytes;
        _cleanup_(json_decrefp) json_t *res = NULL;
        int r = parse_size_arg(a, a->pos[1], &bytes);
        if (r)
                return r;
        json_t *opts = json_object();
        copy_flag(a, opts, "minor", "minor");
        r = call(c, "CreateVolumeDefinition", "sta{sv}", json_pack("[s,I,o]", a->pos[0], (json_int_t) bytes, opts), &res);
        if (r == 0 && arg.json)
                print_json_field("volume", json_array_get(res, 0));
        return r;
}

static int parse_vnr(Args *a, const char *s, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || end == s || v > 65535 || *s == '-') {
                _cleanup_free_ char *q = utf8_quote_untrusted(s);
                return usage_error(a->cmd, "invalid volume number '%s'", strna(q));
        }
        *ret = (unsigned) v;
        return 0;
}

static int vd_set_size(DrbddClient *c, Args *a) {
        unsigned vnr;
        uint64_t bytes;
        int r;
        if ((r = parse_vnr(a, a->pos[1], &vnr)) || (r = parse_size_arg(a, a->pos[2], &bytes)))
                return r;
        return call(c, "ResizeVolumeDefinition", "sut", json_pack("[s,i,I]", a->pos[0], vnr, (json_int_t) bytes), NULL);
}

static int vd_delete(DrbddClient *c, Args *a) {
        unsigned vnr;
        int r = parse_vnr(a, a->pos[1], &vnr);
        return r ? r : call(c, "DeleteVolumeDefinition", "su", json_pack("[s,i]", a->pos[0], vnr), NULL);
}

static int vd_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "ListVolumeDefinitions", "s", json_pack("[s]", a->n_pos ? a->pos[0] : ""), &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("ResourceName", "VolumeNr", "VolumeMinor", "Size", "Device", NULL);
        json_array_foreach(l, i, e) {
                char vnr[16], minor[16], size[32];
                snprintf(vnr, sizeof vnr, "%lld", (long long) json_get_int(e, "volume", 0));
                snprintf(minor, sizeof minor, "%lld", (long long) json_get_int(e, "minor", 0));
                table_add(t, json_get_str(e, "resource-definition", ""), vnr, minor, fmt_kib(e, "size-kib", size, sizeof size),
                          json_get_str(e, "device", ""), NULL);
        }
        return table_emit(t);
}

/* ---- resources ------------------------------------------------------------ */

static int r_create(DrbddClient *c, Args *a) {
        json_t *ap = flag(a, "auto-place");
        json_t *opts = json_object();
        if (ap) {
                /* LINSTOR style: r c RESOURCE --auto-place N */
                if (a->n_pos != 1) {
                        json_decref(opts);
                        return usage_error(a->cmd, "with --auto-place give only the resource name");
                }
                json_object_set(opts, "place-count", ap);
                return call(c, "AutoPlace", "sa{sv}", json_pack("[s,o]", a->pos[0], opts), NULL);
        }
        if (a->n_pos != 2) {
                json_decref(opts);
                return usage_error(a->cmd, "expected NODE RESOURCE (or RESOURCE --auto-place N)");
        }
        copy_flag(a, opts, "diskless", "diskless");
        copy_flag(a, opts, "storage-pool", "storage-pool");
        return call(c, "CreateResource", "ssa{sv}", json_pack("[s,s,o]", a->pos[1], a->pos[0], opts), NULL);
}

static int r_toggle_disk(DrbddClient *c, Args *a) {
        json_t *opts = json_object();
        copy_flag(a, opts, "diskless", "diskless");
        copy_flag(a, opts, "storage-pool", "storage-pool");
        return call(c, "ToggleDisk", "ssa{sv}", json_pack("[s,s,o]", a->pos[1], a->pos[0], opts), NULL);
}

static int r_autoplace(DrbddClient *c, Args *a) {
        json_t *opts = json_object();
        copy_flag(a, opts, "place-count", "place-count");
        return call(c, "AutoPlace", "sa{sv}", json_pack("[s,o]", a->pos[0], opts), NULL);
}

static int r_delete(DrbddClient *c, Args *a) {
        return call(c, "DeleteResource", "ss", json_pack("[s,s]", a->pos[1], a->pos[0]), NULL);
}

static int r_attach(DrbddClient *c, Args *a) {
        return call(c, "Attach", "ssa{sv}", json_pack("[s,s,{}]", a->pos[1], a->pos[0]), NULL);
}

static int r_detach(DrbddClient *c, Args *a) {
        return call(c, "Detach", "ssa{sv}", json_pack("[s,s,{}]", a->pos[1], a->pos[0]), NULL);
}

static int r_config(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        int r = call(c, "GetResourceConfig", "ss", json_pack("[s,s]", a->pos[1], a->pos[0]), &res);
        if (r)
                return r;
        if (arg.json)
                print_json_field("config", json_array_get(res, 0));
        else
                fputs(json_string_value(json_array_get(res, 0)) ?: "", stdout);
        return 0;
}

static int r_commands(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "GetResourceCommands", "ss", json_pack("[s,s]", a->pos[1], a->pos[0]), &res, &l);
        if (r || !l)
                return r;
        json_array_foreach(l, i, e)
                puts(json_string_value(e));
        return 0;
}

static const char *replica_kind(json_t *e) {
        if (json_get_bool(e, "tie-breaker", false))
                return "TieBreaker";
        return json_get_bool(e, "diskless", false) ? "Diskless" : "Diskful";
}

/* The state column: the observed state, marked when it is only the
 * last-known one, then its health problems ("UpToDate, degraded(vm2
 * Connecting), out-of-sync 3.1%(vm2)", "UpToDate (stale)"). */
static char *state_with_health(json_t *e) {
        char *s = NULL;
        if (asprintf(&s, "%s%s", json_get_str(e, "state", ""), json_get_bool(e, "stale", false) ? " (stale)" : "") < 0)
                return NULL;
        json_t *h;
        size_t i;
        json_array_foreach(json_object_get(e, "health"), i, h) {
                char *n;
                if (!s || asprintf(&n, "%s, %s", s, json_string_value(h) ?: "?") < 0)
                        break;
                free(s);
                s = n;
        }
        return s;
}

static int r_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "ListResources", "s", json_pack("[s]", a->n_pos ? a->pos[0] : ""), &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("ResourceName", "Node", "Port", "NodeId", "Kind", "StoragePool", "Minors", "State", "Attached", NULL);
        json_array_foreach(l, i, e) {
                char port[16], id[16];
                _cleanup_free_ char *minors = strdup("");
                json_t *v;
                size_t j;
                json_array_foreach(json_object_get(e, "volumes"), j, v) {
                        char *n;
                        if (asprintf(&n, "%s%s%lld", minors, j ? "," : "", (long long) json_get_int(v, "minor", 0)) >= 0) {
                                free(minors);
                                minors = n;
                        }
                }
                snprintf(port, sizeof port, "%lld", (long long) json_get_int(e, "port", 0));
                snprintf(id, sizeof id, "%lld", (long long) json_get_int(e, "node-id", 0));
                _cleanup_free_ char *state = state_with_health(e);
                /* Attached: the domains using it when the compute helper reported them, else "yes". */
                _cleanup_free_ char *used = strdup(json_get_bool(e, "attached", false) ? "yes" : "");
                json_array_foreach(json_object_get(e, "used-by"), j, v) {
                        char *n;
                        bool first = j == 0;
                        if (asprintf(&n, "%s%s%s", first ? "" : used, first ? "" : ",", json_string_value(v) ?: "") >= 0) {
                                free(used);
                                used = n;
                        }
                }
                table_add(t, json_get_str(e, "resource-definition", ""), json_get_str(e, "node", ""), port, id,
                          replica_kind(e), json_get_str(e, "storage-pool", ""), minors ?: "", state ?: "", used, NULL);
        }
        return table_emit(t);
}

static int v_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        int r = call(c, "ListResources", "s", json_pack("[s]", a->n_pos ? a->pos[0] : ""), &res);
        if (r)
                return r;
        json_t *l = json_array_get(res, 0), *e, *v;
        size_t i, j;
        if (arg.json) {
                _cleanup_(json_decrefp) json_t *out = json_array();
                json_array_foreach(l, i, e)
                        json_array_foreach(json_object_get(e, "volumes"), j, v) {
                                json_t *o = json_deep_copy(v);
                                json_object_set(o, "node", json_object_get(e, "node"));
                                json_object_set(o, "resource-definition", json_object_get(e, "resource-definition"));
                                json_object_set(o, "storage-pool", json_object_get(e, "storage-pool"));
                                json_object_set(o, "state", json_object_get(e, "state"));
                                if (json_get_bool(e, "stale", false))
                                        json_object_set_new(o, "stale", json_true());
                                json_array_append_new(out, o);
                        }
                print_json(out);
                return 0;
        }
        Table *t = table_new("Node", "Resource", "StoragePool", "VolNr", "MinorNr", "DeviceName", "Requested", "Usable",
                             "Backing", "Metadata", "State", NULL);
        json_array_foreach(l, i, e)
                json_array_foreach(json_object_get(e, "volumes"), j, v) {
                        char vnr[16], minor[16], rq[32], us[32], bk[32], md[32];
                        snprintf(vnr, sizeof vnr, "%lld", (long long) json_get_int(v, "volume", 0));
                        snprintf(minor, sizeof minor, "%lld", (long long) json_get_int(v, "minor", 0));
                        _cleanup_free_ char *state = NULL;
                        if (asprintf(&state, "%s%s", json_get_str(e, "state", ""),
                                     json_get_bool(e, "stale", false) ? " (stale)" : "") < 0)
                                state = NULL;
                        table_add(t, json_get_str(e, "node", ""), json_get_str(e, "resource-definition", ""),
                                  json_get_bool(e, "diskless", false) ? "(diskless)" : json_get_str(e, "storage-pool", ""),
                                  vnr, minor, json_get_str(v, "device", ""), fmt_kib(v, "requested-kib", rq, sizeof rq),
                                  fmt_kib(v, "usable-kib", us, sizeof us), fmt_kib(v, "backing-kib", bk, sizeof bk),
                                  fmt_kib(v, "metadata-kib", md, sizeof md), state ?: "", NULL);
                }
        return table_emit(t);
}

static int node_status(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        int r = call(c, "GetNodeStatus", "", NULL, &res);
        if (r)
                return r;
        print_json(json_array_get(res, 0));
        return 0;
}

static int r_set_primary(DrbddClient *c, Args *a) {
        return call(c, "SetPrimary", "ss", json_pack("[s,s]", a->pos[1], flag(a, "clear") ? "" : a->pos[0]), NULL);
}

static int version_cmd(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        printf("drbdctl %s\n", DRBDD_VERSION);
        int r = call(c, "GetVersion", "", NULL, &res);
        if (r == 0)
                printf("drbdd %s\n", json_string_value(json_array_get(res, 0)) ?: "?");
        return r;
}

/* ---- the command table ---------------------------------------------------- */


/* ---- snapshots, clones, readiness, exports, ownership ---------------------- */

static int print_result_or(json_t *res, int r) {
        if (r == 0 && arg.json)
                print_json(json_array_get(res, 0));
        return r;
}

static json_t *restore_options(Args *a) {
        json_t *opts = json_object();
        copy_flag(a, opts, "resource-group", "resource-group");
        copy_flag(a, opts, "place-count", "place-count");
        return opts;
}

static int snap_create(DrbddClient *c, Args *a) {
        return call(c, "CreateSnapshot", "ssa{sv}", json_pack("[s,s,{}]", a->pos[0], a->pos[1]), NULL);
}

static int snap_delete(DrbddClient *c, Args *a) {
        return call(c, "DeleteSnapshot", "ss", json_pack("[s,s]", a->pos[0], a->pos[1]), NULL);
}

static int snap_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e, *n;
        size_t i, j;
        int r = list_call(c, "ListSnapshots", "s", json_pack("[s]", a->n_pos ? a->pos[0] : ""), &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("ResourceName", "SnapshotName", "Nodes", "Volumes", "Created", "State", NULL);
        json_array_foreach(l, i, e) {
                _cleanup_free_ char *nodes = strdup(""), *vols = strdup("");
                json_array_foreach(json_object_get(e, "nodes"), j, n) {
                        char *x;
                        if (asprintf(&x, "%s%s%s", nodes, j ? "," : "", json_get_str(n, "node", "")) >= 0) {
                                free(nodes);
                                nodes = x;
                        }
                }
                json_array_foreach(json_object_get(e, "volumes"), j, n) {
                        char *x, sz[32];
                        if (asprintf(&x, "%s%s%lld:%s", vols, j ? "," : "", (long long) json_get_int(n, "volume", 0),
                                     fmt_kib(n, "size-kib", sz, sizeof sz)) >= 0) {
                                free(vols);
                                vols = x;
                        }
                }
                table_add(t, json_get_str(e, "resource-definition", ""), json_get_str(e, "name", ""), nodes ?: "",
                          vols ?: "", json_get_str(e, "created", ""), json_get_str(e, "state", ""), NULL);
        }
        return table_emit(t);
}

static int snap_restore(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        int r = call(c, "RestoreSnapshot", "sssa{sv}", json_pack("[s,s,s,o]", a->pos[0], a->pos[1], a->pos[2], restore_options(a)),
                     &res);
        return print_result_or(res, r);
}

static int snap_revert(DrbddClient *c, Args *a) {
        return call(c, "RevertToSnapshot", "ss", json_pack("[s,s]", a->pos[0], a->pos[1]), NULL);
}

static int rd_clone(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        int r = call(c, "CloneResource", "ssa{sv}", json_pack("[s,s,o]", a->pos[0], a->pos[1], restore_options(a)), &res);
        return print_result_or(res, r);
}

static int r_wait_ready(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *t = flag(a, "timeout");
        uint64_t sec = t ? (uint64_t) json_integer_value(t) : 60;
        /* The daemon answers when ready; give the call itself a little longer. */
        drbdd_client_set_timeout(c, (sec + 10) * 1000000ULL);
        int r = call(c, "WaitReady", "sst", json_pack("[s,s,I]", a->pos[1], a->pos[0], (json_int_t) (sec * 1000000ULL)), &res);
        if (r)
                return r;
        json_t *row = json_array_get(res, 0);
        if (arg.json)
                print_json(row);
        else
                printf("%s on %s is ready: %s %s\n", a->pos[1], a->pos[0], json_get_str(row, "state", ""),
                       json_get_str(json_array_get(json_object_get(row, "volumes"), 0), "device", ""));
        return 0;
}

static int export_create(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        _cleanup_free_ char *pw = NULL;
        size_t len = 0;
        json_t *pf = flag(a, "chap-password-file");
        const char *env = getenv("DRBDCTL_CHAP_PASSWORD");
        if (pf) {
                if (fileio_read_full(json_string_value(pf), 4096, &pw, &len) < 0)
                        return usage_error(a->cmd, "cannot read --chap-password-file %s", json_string_value(pf));
                while (len && (pw[len - 1] == '\n' || pw[len - 1] == '\r'))
                        pw[--len] = 0;
        } else if (env)
                pw = strdup(env);
        if (!flag(a, "initiator") || !flag(a, "chap-username") || !pw)
                return usage_error(a->cmd, "give --initiator, --chap-username and the secret in --chap-password-file "
                                           "or $DRBDCTL_CHAP_PASSWORD");
        json_t *opts = json_object();
        copy_flag(a, opts, "initiator", "initiator");
        copy_flag(a, opts, "chap-username", "chap-username");
        copy_flag(a, opts, "portal", "portals");
        copy_flag(a, opts, "node", "node");
        json_object_set_new(opts, "chap-password", json_string(pw));
        int r = call(c, "ExportIscsi", "sa{sv}", json_pack("[s,o]", a->pos[0], opts), &res);
        if (r)
                return r;
        json_t *x = json_array_get(res, 0);
        if (arg.json)
                print_json(x);
        else {
                _cleanup_free_ char *portals = join_strings(json_object_get(x, "target-portals"));
                printf("%s exported from %s: %s LUN %lld at %s\n", a->pos[0], json_get_str(x, "node", ""),
                       json_get_str(x, "target-iqn", ""), (long long) json_get_int(x, "target-lun", 0), portals ?: "");
        }
        return 0;
}

static int export_delete(DrbddClient *c, Args *a) {
        json_t *opts = json_object();
        copy_flag(a, opts, "initiator", "initiator");
        return call(c, "UnexportIscsi", "sa{sv}", json_pack("[s,o]", a->pos[0], opts), NULL);
}

static int export_list(DrbddClient *c, Args *a) {
        _cleanup_(json_decrefp) json_t *res = NULL;
        json_t *l, *e;
        size_t i;
        int r = list_call(c, "ListExports", "s", json_pack("[s]", a->n_pos ? a->pos[0] : ""), &res, &l);
        if (r || !l)
                return r;
        Table *t = table_new("ResourceName", "Node", "TargetIQN", "Portals", "Initiators", "State", NULL);
        json_array_foreach(l, i, e) {
                _cleanup_free_ char *portals = join_strings(json_object_get(e, "portals")), *inis = strdup("");
                const char *k;
                json_t *v;
                json_object_foreach(json_object_get(e, "acls"), k, v) {
                        char *x;
                        if (asprintf(&x, "%s%s%s", inis, *inis ? "," : "", k) >= 0) {
                                free(inis);
                                inis = x;
                        }
                }
                table_add(t, json_get_str(e, "resource-definition", ""), json_get_str(e, "node", ""),
                          json_get_str(e, "iqn", ""), portals ?: "", inis ?: "", json_get_str(e, "state", ""), NULL);
        }
        return table_emit(t);
}

static int rd_manage(DrbddClient *c, Args *a) {
        json_t *opts = json_object();
        copy_flag(a, opts, "owner", "owner");
        copy_flag(a, opts, "volume-id", "volume-id");
        if (!json_object_get(opts, "owner"))
                json_object_set_new(opts, "owner", json_string("cinder"));
        return call(c, "ManageResource", "sa{sv}", json_pack("[s,o]", a->pos[0], opts), NULL);
}

static int rd_unmanage(DrbddClient *c, Args *a) {
        return call(c, "UnmanageResource", "sa{sv}", json_pack("[s,{}]", a->pos[0]), NULL);
}

static const Flag F_NONE[] = { {} };
static const Flag F_RESTORE[] = {
        { "resource-group", 's', "resource group of the new resource (default: the source's)" },
        { "place-count", 'u', "diskful replicas of the new resource (default: as the source)" },
        {}
};
static const Flag F_WAIT[] = { { "timeout", 'u', "seconds to wait (default 60)" }, {} };
static const Flag F_EXPORT[] = {
        { "initiator", 's', "initiator IQN allowed to log in" },
        { "chap-username", 's', "CHAP user name" },
        { "chap-password-file", 's', "file holding the CHAP secret (else $DRBDCTL_CHAP_PASSWORD)" },
        { "portal", 'S', "ADDRESS[:PORT] to listen on (default: the node's address:3260); repeatable" },
        { "node", 's', "node to export from (default: the Primary or first diskful replica)" },
        {}
};
static const Flag F_UNEXPORT[] = { { "initiator", 's', "revoke only this initiator (else remove the target)" }, {} };
static const Flag F_MANAGE[] = {
        { "owner", 's', "owner name (default cinder)" },
        { "volume-id", 's', "the owner's id of the volume" },
        {}
};

static const Flag F_NODE_CREATE[] = {
        { "property", 'S', "KEY=VALUE node property (e.g. site=a, rack=r1); repeatable" },
        { "drbd-version", 's', "DRBD version of the node: 9 (default) or 8.4" },
        {} };
static const Flag F_SP_CREATE[] = { { "capacity", 'z', "declared capacity (e.g. 100G) until the node reports it" }, {} };
static const Flag F_SP_LIST[] = { { "node", 's', "only pools on this node" }, {} };
static const Flag F_RG[] = {
        { "place-count", 'u', "number of diskful replicas (default 2)" },
        { "storage-pool", 'S', "storage pool to place in; repeatable" },
        { "replicas-on-same", 'S', "node property all replicas must share; repeatable" },
        { "replicas-on-different", 'S', "node property replicas must differ in; repeatable" },
        { "diskless-on-remaining", 'b', "add diskless replicas on all other nodes" },
        { "peer-slots", 'u', "metadata bitmap slots (1-31, default 7)" },
        { "drbd-option", 'S', "SECTION/KEY=VALUE DRBD option (e.g. net/protocol=C); empty VALUE unsets" },
        { "auto-diskful", 'u', "minutes a domain may run through a diskless client beside a pool of the group before that client is made diskful (0: never)" },
        { "auto-diskful-cleanup", 'b', "then remove a diskful replica no host uses if the group has more than place-count (default)" },
        { "no-auto-diskful-cleanup", 'b', "keep the extra diskful replica" },
        { "remove-orphans", 'b', "let drbd-nova-helper detach clients no domain references (default: report only)" },
        {} };
static const Flag F_SPAWN[] = { { "place-count", 'u', "override the group's replica count" }, {} };
static const Flag F_RD_CREATE[] = {
        { "resource-group", 's', "resource group (default DfltRscGrp)" },
        { "port", 'u', "TCP port instead of an allocated one" },
        { "peer-slots", 'u', "metadata bitmap slots (1-31)" },
        { "drbd-option", 'S', "SECTION/KEY=VALUE DRBD option; repeatable" },
        {} };
static const Flag F_RD_MODIFY[] = { { "drbd-option", 'S', "SECTION/KEY=VALUE DRBD option; empty VALUE unsets" }, {} };
static const Flag F_VD_CREATE[] = { { "minor", 'u', "DRBD minor instead of an allocated one" }, {} };
static const Flag F_R_CREATE[] = {
        { "diskless", 'b', "a diskless client replica" },
        { "storage-pool", 's', "storage pool on the node" },
        { "auto-place", 'u', "place N replicas automatically (give only RESOURCE)" },
        {} };
static const Flag F_R_TOGGLE[] = {
        { "storage-pool", 's', "make it diskful in this pool" },
        { "diskless", 'b', "make it diskless" },
        {} };
static const Flag F_R_PRIMARY[] = { { "clear", 'b', "no node is asked to be Primary any more" }, {} };
static const Flag F_R_AP[] = { { "place-count", 'u', "override the group's replica count" }, {} };

static const Cmd commands[] = {
        { "node", "n", "create", "c", "NODE ADDRESS", 2, 2, F_NODE_CREATE, node_create, "Define a node with its replication address." },
        { "node", "n", "list", "l", "", 0, 0, F_NONE, node_list, "List nodes." },
        { "node", "n", "delete", "d", "NODE", 1, 1, F_NONE, node_delete, "Delete a node that holds no replicas." },
        { "node", "n", "status", "st", "", 0, 0, F_NONE, node_status, "Show the local drbdd's node agent: kernel DRBD version, reconcile passes, commands." },
        { "node", "n", "set-property", "sp", "NODE KEY [VALUE]", 2, 3, F_NONE, node_set_property, "Set (or, without VALUE, unset) a node property." },
        { "storage-pool", "sp", "create", "c", "lvm|lvm-thin|file NODE POOL VG|VG/THINPOOL|DIRECTORY", 4, 4, F_SP_CREATE, sp_create, "Define a storage pool on a node." },
        { "storage-pool", "sp", "list", "l", "", 0, 0, F_SP_LIST, sp_list, "List storage pools with capacity." },
        { "storage-pool", "sp", "delete", "d", "NODE POOL", 2, 2, F_NONE, sp_delete, "Delete an unused storage pool." },
        { "resource-group", "rg", "create", "c", "NAME", 1, 1, F_RG, rg_create, "Define a resource group (class of service)." },
        { "resource-group", "rg", "modify", "m", "NAME", 1, 1, F_RG, rg_modify, "Change a resource group." },
        { "resource-group", "rg", "list", "l", "", 0, 0, F_NONE, rg_list, "List resource groups." },
        { "resource-group", "rg", "delete", "d", "NAME", 1, 1, F_NONE, rg_delete, "Delete an unused resource group." },
        { "resource-group", "rg", "spawn", "s", "GROUP RESOURCE SIZE", 3, 3, F_SPAWN, rg_spawn, "Create a resource with one volume of SIZE and place it per the group." },
        { "resource-definition", "rd", "create", "c", "NAME", 1, 1, F_RD_CREATE, rd_create, "Define a resource (allocates its TCP port and secret)." },
        { "resource-definition", "rd", "modify", "m", "NAME", 1, 1, F_RD_MODIFY, rd_modify, "Change a resource's DRBD options." },
        { "resource-definition", "rd", "list", "l", "", 0, 0, F_NONE, rd_list, "List resource definitions." },
        { "resource-definition", "rd", "delete", "d", "NAME", 1, 1, F_NONE, rd_delete, "Delete a resource with all its volumes and replicas." },
        { "volume-definition", "vd", "create", "c", "RESOURCE SIZE", 2, 2, F_VD_CREATE, vd_create, "Add a volume of SIZE (e.g. 10G) to a resource (allocates its minor)." },
        { "volume-definition", "vd", "set-size", "size", "RESOURCE VOLNR SIZE", 3, 3, F_NONE, vd_set_size, "Grow a volume." },
        { "volume-definition", "vd", "list", "l", "[RESOURCE]", 0, 1, F_NONE, vd_list, "List volume definitions." },
        { "volume-definition", "vd", "delete", "d", "RESOURCE VOLNR", 2, 2, F_NONE, vd_delete, "Delete a volume." },
        { "resource", "r", "create", "c", "NODE RESOURCE | RESOURCE --auto-place N", 1, 2, F_R_CREATE, r_create, "Place a replica on a node, or N replicas automatically." },
        { "resource", "r", "auto-place", "ap", "RESOURCE", 1, 1, F_R_AP, r_autoplace, "Place replicas per the resource group." },
        { "resource", "r", "list", "l", "[RESOURCE]", 0, 1, F_NONE, r_list, "List replicas with node-ids, ports and minors." },
        { "resource", "r", "delete", "d", "NODE RESOURCE", 2, 2, F_NONE, r_delete, "Remove a replica from a node." },
        { "resource", "r", "attach", "at", "NODE RESOURCE", 2, 2, F_NONE, r_attach, "Record that a host on NODE uses the resource (creates a diskless client if NODE has no replica; two hosts open the dual-primary window)." },
        { "resource", "r", "detach", "dt", "NODE RESOURCE", 2, 2, F_NONE, r_detach, "End NODE's use of the resource (removes the client its attach created; closes the window)." },
        { "resource", "r", "toggle-disk", "td", "NODE RESOURCE", 2, 2, F_R_TOGGLE, r_toggle_disk, "Make a diskless replica diskful or a diskful one diskless, in place (DRBD 9)." },
        { "resource", "r", "set-primary", "primary", "NODE RESOURCE", 2, 2, F_R_PRIMARY, r_set_primary, "Ask for the replica on NODE to be Primary (used with DRBD 8.4, which cannot auto-promote)." },
        { "resource", "r", "show-config", "sc", "NODE RESOURCE", 2, 2, F_NONE, r_config, "Show the exact DRBD configuration NODE will run." },
        { "resource", "r", "show-commands", "cmd", "NODE RESOURCE", 2, 2, F_NONE, r_commands, "Show the commands NODE would run to create its replica." },
        { "volume", "v", "list", "l", "[RESOURCE]", 0, 1, F_NONE, v_list, "List replica volumes with requested, usable and backing sizes." },
        { "resource-definition", "rd", "clone", "cl", "SOURCE NEW", 2, 2, F_RESTORE, rd_clone, "Create NEW with SOURCE's current content (lvm-thin pools; same nodes)." },
        { "resource-definition", "rd", "manage", "mg", "NAME", 1, 1, F_MANAGE, rd_manage, "Mark a resource as owned (e.g. by Cinder)." },
        { "resource-definition", "rd", "unmanage", "um", "NAME", 1, 1, F_NONE, rd_unmanage, "Clear a resource's owner; the data stays." },
        { "resource", "r", "wait-ready", "wr", "NODE RESOURCE", 2, 2, F_WAIT, r_wait_ready, "Wait until the replica on NODE is ready for I/O." },
        { "snapshot", "s", "create", "c", "RESOURCE SNAPSHOT", 2, 2, F_NONE, snap_create, "Take a consistent snapshot of every diskful replica (lvm-thin pools)." },
        { "snapshot", "s", "list", "l", "[RESOURCE]", 0, 1, F_NONE, snap_list, "List snapshots with their state (ready when every node has taken it)." },
        { "snapshot", "s", "delete", "d", "RESOURCE SNAPSHOT", 2, 2, F_NONE, snap_delete, "Delete a snapshot." },
        { "snapshot", "s", "restore", "r", "RESOURCE SNAPSHOT NEW", 3, 3, F_RESTORE, snap_restore, "Create resource NEW with the snapshot's content." },
        { "snapshot", "s", "revert", "rv", "RESOURCE SNAPSHOT", 2, 2, F_NONE, snap_revert, "Roll every replica back to the snapshot (resource not in use)." },
        { "export", "e", "create", "c", "RESOURCE", 1, 1, F_EXPORT, export_create, "Export over iSCSI (LIO) with CHAP for an initiator." },
        { "export", "e", "list", "l", "[RESOURCE]", 0, 1, F_NONE, export_list, "List iSCSI exports." },
        { "export", "e", "delete", "d", "RESOURCE", 1, 1, F_UNEXPORT, export_delete, "Revoke an initiator, or remove the export." },
        { "version", NULL, NULL, NULL, "", 0, 0, F_NONE, version_cmd, "Show client and daemon versions." },
};

static void main_help(void) {
        printf("Usage: drbdctl [OPTIONS] OBJECT VERB [ARGS...]\n\n"
               "Manage replicated DRBD volumes through the drbdd service (D-Bus org.drbd.drbdd1).\n\n"
               "Objects and verbs (short forms in parentheses):\n");
        const char *last = NULL;
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                const Cmd *c = &commands[i];
                if (!last || !streq(last, c->noun))
                        printf("  %s%s%s%s\n", c->noun, c->noun_alias ? " (" : "", c->noun_alias ?: "",
                               c->noun_alias ? ")" : "");
                last = c->noun;
                if (c->verb)
                        printf("      %-14s %-5s %s\n", c->verb, c->verb_alias, c->help);
        }
        printf("\nOptions:\n"
               "  -o, --output=FORMAT  table (default) or json\n"
               "  -t, --timeout=SEC    how long to wait for drbdd (default 120)\n"
               "  -h, --help           show help; 'drbdctl OBJECT VERB --help' for a command\n"
               "  -V, --version        show the version\n\n"
               "Sizes take binary units: 512M, 10G, 1.5T (KiB, MiB, GiB, TiB, PiB).\n\n"
               "Exit status: 0 success, 1 failure, 2 usage error, 3 not found, 4 already exists,\n"
               "5 invalid argument, 6 no space / cannot place, 7 busy, 8 drbdd or the cluster\n"
               "store unavailable, 9 access denied, 10 timeout.\n\n"
               "Environment: DBUS_SYSTEM_BUS_ADDRESS selects the bus drbdd runs on.\n");
}

static void cmd_help(const Cmd *c) {
        printf("Usage: drbdctl %s %s %s%s\n\n%s\n", c->noun, c->verb ?: "", c->synopsis,
               c->flags[0].name ? " [OPTIONS]" : "", c->help);
        printf("\nAliases: %s %s\n", c->noun_alias ?: c->noun, c->verb_alias ?: "");
        if (c->flags[0].name) {
                printf("\nOptions:\n");
                for (const Flag *f = c->flags; f->name; f++) {
                        const char *meta = f->type == 'b' ? "" : f->type == 'u' ? "=N" : f->type == 'z' ? "=SIZE" : "=VALUE";
                        char left[64];
                        snprintf(left, sizeof left, "--%s%s", f->name, meta);
                        printf("  %-28s %s\n", left, f->help);
                }
        }
}

static bool matches(const char *word, const char *name, const char *alias) {
        return word && ((name && streq(word, name)) || (alias && streq(word, alias)));
}

/* Parses the arguments after the verb into a. Returns 0 or an exit code. */
static int parse_cmd_args(const Cmd *c, int argc, char **argv, Args *a) {
        a->cmd = c;
        a->flags = json_object();
        a->pos = calloc((size_t) argc + 1, sizeof(char *));
        if (!a->flags || !a->pos)
                return EXIT_FAILURE_;
        for (int i = 0; i < argc; i++) {
                char *s = argv[i];
                if (streq(s, "--")) {
                        while (++i < argc)
                                a->pos[a->n_pos++] = argv[i];
                        break;
                }
                if (!startswith(s, "--") || strlen(s) == 2) {
                        a->pos[a->n_pos++] = s;
                        continue;
                }
                _cleanup_free_ char *name = strdup(s + 2);
                char *value = strchr(name, '=');
                if (value)
                        *value++ = 0;
                const Flag *f = NULL;
                for (const Flag *x = c->flags; x->name && !f; x++)
                        if (streq(x->name, name))
                                f = x;
                if (!f) {
                        _cleanup_free_ char *q = utf8_quote_untrusted(name);
                        return usage_error(c, "unknown option '--%s'", strna(q));
                }
                if (f->type == 'b') {
                        if (value)
                                return usage_error(c, "option --%s takes no value", f->name);
                        json_object_set_new(a->flags, f->name, json_true());
                        continue;
                }
                if (!value) {
                        if (i + 1 >= argc)
                                return usage_error(c, "option --%s needs a value", f->name);
                        value = argv[++i];
                }
                json_t *v;
                if (f->type == 'u') {
                        char *end;
                        errno = 0;
                        unsigned long long n = strtoull(value, &end, 10);
                        if (errno || *end || end == value || *value == '-' || n > INT64_MAX)
                                return usage_error(c, "option --%s needs a non-negative number", f->name);
                        v = json_integer((json_int_t) n);
                } else if (f->type == 'z') {
                        _cleanup_free_ char *m = NULL;
                        uint64_t kib;
                        if (size_parse_kib(value, &kib, &m) < 0)
                                return usage_error(c, "option --%s: %s", f->name, m ? m : "invalid size");
                        v = json_integer((json_int_t) kib);
                } else
                        v = json_string(value);
                if (!v)
                        return usage_error(c, "option --%s: value is not valid UTF-8", f->name);
                if (f->type == 'S') {
                        json_t *l = json_object_get(a->flags, f->name);
                        if (!l)
                                json_object_set_new(a->flags, f->name, l = json_array());
                        json_array_append_new(l, v);
                } else
                        json_object_set_new(a->flags, f->name, v);
        }
        if (a->n_pos < c->min_pos || a->n_pos > c->max_pos)
                return usage_error(c, "expected %s", *c->synopsis ? c->synopsis : "no arguments");
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "output", required_argument, NULL, 'o' },
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        int o;

        /* Global options come before the object; stop at the first word. */
        while ((o = getopt_long(argc, argv, "+o:t:hV", opts, NULL)) >= 0) {
                switch (o) {
                case 'o':
                        if (streq(optarg, "json"))
                                arg.json = true;
                        else if (!streq(optarg, "table"))
                                return usage_error(NULL, "--output must be 'table' or 'json'");
                        break;
                case 't': {
                        char *end;
                        unsigned long s = strtoul(optarg, &end, 10);
                        if (*end || end == optarg || s == 0 || s > 86400)
                                return usage_error(NULL, "--timeout needs seconds (1-86400)");
                        arg.timeout_usec = s * 1000000ULL;
                        break;
                }
                case 'h': main_help(); return 0;
                case 'V': printf("drbdctl %s\n", DRBDD_VERSION); return 0;
                default: return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                main_help();
                return EXIT_USAGE;
        }
        const char *noun = argv[optind], *verb = optind + 1 < argc ? argv[optind + 1] : NULL;
        const Cmd *cmd = NULL;
        bool noun_known = false;
        for (size_t i = 0; i < ELEMENTSOF(commands) && !cmd; i++) {
                if (!matches(noun, commands[i].noun, commands[i].noun_alias))
                        continue;
                noun_known = true;
                if (!commands[i].verb || matches(verb, commands[i].verb, commands[i].verb_alias))
                        cmd = &commands[i];
        }
        if (!noun_known) {
                _cleanup_free_ char *q = utf8_quote_untrusted(noun);
                return usage_error(NULL, "unknown object '%s'", strna(q));
        }
        if (!cmd) {
                bool want_help = !verb || streq(verb, "--help") || streq(verb, "-h");
                FILE *out = want_help ? stdout : stderr;
                _cleanup_free_ char *q = utf8_quote_untrusted(verb);
                if (!want_help)
                        fprintf(stderr, "drbdctl: unknown verb '%s' for '%s'\n", strna(q), noun);
                fprintf(out, "Verbs for %s:\n", noun);
                for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                        if (matches(noun, commands[i].noun, commands[i].noun_alias))
                                fprintf(out, "  %-14s %-5s %s %s\n", commands[i].verb, commands[i].verb_alias,
                                        commands[i].synopsis, "");
                return want_help ? 0 : EXIT_USAGE;
        }
        int rest = optind + (cmd->verb ? 2 : 1);
        for (int i = rest; i < argc; i++)
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        cmd_help(cmd);
                        return 0;
                }
        Args a = {};
        int r = parse_cmd_args(cmd, argc - rest, argv + rest, &a);
        if (r) {
                json_decref(a.flags);
                free(a.pos);
                return r;
        }
        DrbddClient *c = NULL;
        if ((r = drbdd_client_open(NULL, &c)) < 0) {
                fprintf(stderr, "drbdctl: cannot connect to the system bus: %s\n", strerror(-r));
                json_decref(a.flags);
                free(a.pos);
                return EXIT_UNAVAILABLE;
        }
        drbdd_client_set_timeout(c, arg.timeout_usec);
        r = cmd->fn(c, &a);
        drbdd_client_free(c);
        json_decref(a.flags);
        free(a.pos);
        return r;
}
