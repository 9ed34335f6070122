/* etcd store backend: the v3 JSON gateway over libcurl, with endpoint failover, TLS, auth tokens and a watch thread per watch. */
#include <assert.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#include "thread.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "store-etcd.h"

/*
 * Requests are POSTs of JSON bodies to /v3/... on one endpoint at a time;
 * keys and values travel base64-encoded and int64 fields as JSON strings (we
 * accept numbers too). The gateway leaves out zero-valued fields, so a
 * missing field reads as 0, false or "".
 *
 * Failover: a request goes to the endpoint that answered last, then to the
 * others in order when it could not be delivered (connection refused, connect
 * timeout, TLS failure) or the member said it is unavailable. A request that
 * was sent but whose answer got lost is only retried elsewhere when repeating
 * it is harmless (reads, keepalive, revoke); a txn or grant reports
 * -EHOSTUNREACH instead.
 *
 * Threads: a Store belongs to one thread at a time (as with SQLite). Each
 * watch runs its stream in its own thread with its own curl handles; the
 * configuration, the auth token and the preferred endpoint are shared with the
 * store handle through a reference-counted EtcdConfig, so a watch may outlive
 * the handle that opened it.
 */

#define PASSWORD_MAX 4096
#define TIMEOUT_MS_MAX 600000
#define WATCH_BACKOFF_MIN_MS 100
#define WATCH_BACKOFF_MAX_MS 2000
#define BREAKER_HOLD_USEC 2000000ULL  /* fast failure lasts this long without a probe saying more */
#define PROBE_INTERVAL_MS 200

/* gRPC status codes that etcd's gateway passes on. */
enum {
        GRPC_INVALID_ARGUMENT = 3,
        GRPC_DEADLINE_EXCEEDED = 4,
        GRPC_NOT_FOUND = 5,
        GRPC_PERMISSION_DENIED = 7,
        GRPC_RESOURCE_EXHAUSTED = 8,
        GRPC_FAILED_PRECONDITION = 9,
        GRPC_OUT_OF_RANGE = 11,
        GRPC_UNAVAILABLE = 14,
        GRPC_UNAUTHENTICATED = 16,
};

/* ---- base64 (RFC 4648 with padding, as Go's StdEncoding) ------------------ */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const void *data, size_t n) {
        const unsigned char *p = data;
        char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t) p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                *o++ = b64_alphabet[(v >> 18) & 63];
                *o++ = b64_alphabet[(v >> 12) & 63];
                *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? b64_alphabet[v & 63] : '=';
        }
        *o = 0;
        return out;
}

static int b64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* Decodes into a new NUL-terminated buffer; -EBADMSG for bad input or a
 * result longer than max. */
static int b64_decode(const char *in, size_t n, size_t max, char **ret, size_t *ret_len) {
        if (n % 4 != 0)
                return -EBADMSG;
        size_t pad = 0;
        if (n > 0 && in[n - 1] == '=')
                pad = n > 1 && in[n - 2] == '=' ? 2 : 1;
        size_t out_len = n / 4 * 3 - pad;
        if (out_len > max)
                return -EBADMSG;
        char *out = malloc(out_len + 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        for (size_t i = 0; i < n; i += 4) {
                uint32_t v = 0;
                for (size_t j = 0; j < 4; j++) {
                        int d = b64_value(in[i + j]);
                        if (d < 0) {
                                /* '=' only as the padding counted above. */
                                if (in[i + j] != '=' || i + 4 != n || j < 4 - pad) {
                                        free(out);
                                        return -EBADMSG;
                                }
                                d = 0;
                        }
                        v = v << 6 | (uint32_t) d;
                }
                unsigned char b[3] = { (unsigned char) (v >> 16), (unsigned char) (v >> 8), (unsigned char) v };
                for (size_t j = 0; j < 3 && o < out_len; j++)
                        out[o++] = (char) b[j];
        }
        out[out_len] = 0;
        *ret = out;
        *ret_len = out_len;
        return 0;
}

/* ---- reply parsing ---------------------------------------------------------- */

static json_t *parse_object(const char *buf, size_t len) {
        if (!buf || len == 0 || len > STORE_ETCD_REPLY_MAX)
                return NULL;
        json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
        if (j && !json_is_object(j)) {
                json_decref(j);
                return NULL;
        }
        return j;
}

/* An int64 field: a JSON string of decimal digits (what the gateway sends) or
 * a number; missing or null is 0. */
static int get_int64(const json_t *o, const char *field, int64_t *ret) {
        const json_t *v = json_object_get(o, field);

        if (!v || json_is_null(v)) {
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v)) {
                *ret = (int64_t) json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                return -EBADMSG;
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n == 0 || n > 20 || strlen(s) != n)
                return -EBADMSG;
        for (size_t i = (s[0] == '-'); i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
        if (s[0] == '-' && n == 1)
                return -EBADMSG;
        errno = 0;
        char *end;
        long long x = strtoll(s, &end, 10);
        if (errno != 0 || *end != 0)
                return -EBADMSG;
        *ret = (int64_t) x;
        return 0;
}

static int get_uint64(const json_t *o, const char *field, int64_t *ret) {
        int64_t v;
        int r = get_int64(o, field, &v);
        if (r < 0)
                return r;
        if (v < 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static bool get_true(const json_t *o, const char *field) {
        return json_is_true(json_object_get(o, field));
}

/* A base64 bytes field; missing means empty unless required. */
static int get_bytes(const json_t *o, const char *field, size_t max, bool required, char **ret, size_t *ret_len) {
        const json_t *v = json_object_get(o, field);
        if (!v || json_is_null(v)) {
                if (required)
                        return -EBADMSG;
                char *e = strdup("");
                if (!e)
                        return -ENOMEM;
                *ret = e;
                *ret_len = 0;
                return 0;
        }
        if (!json_is_string(v))
                return -EBADMSG;
        return b64_decode(json_string_value(v), json_string_length(v), max, ret, ret_len);
}

static int get_header_revision(const json_t *root, int64_t *ret) {
        const json_t *h = json_object_get(root, "header");
        if (!h) {
                *ret = 0;
                return 0;
        }
        if (!json_is_object(h))
                return -EBADMSG;
        return get_uint64(h, "revision", ret);
}

/* A mvccpb.KeyValue. Deleted ones (in watch events) carry the key and the
 * delete's revision only. */
static int parse_kv(const json_t *o, bool deleted, StoreKV *ret) {
        StoreKV kv = {};
        size_t key_len;
        int r;

        if (!json_is_object(o))
                return -EBADMSG;
        r = get_bytes(o, "key", STORE_KEY_MAX, true, &kv.key, &key_len);
        if (r < 0)
                return r;
        /* Keys are C strings in our API. */
        if (key_len == 0 || memchr(kv.key, 0, key_len)) {
                r = -EBADMSG;
                goto fail;
        }
        r = get_uint64(o, "mod_revision", &kv.mod_rev);
        if (r < 0)
                goto fail;
        if (kv.mod_rev <= 0) {
                r = -EBADMSG;
                goto fail;
        }
        if (!deleted) {
                r = get_bytes(o, "value", STORE_VALUE_MAX, false, &kv.value, &kv.value_len);
                if (r < 0)
                        goto fail;
                if ((r = get_uint64(o, "create_revision", &kv.create_rev)) < 0 ||
                    (r = get_uint64(o, "version", &kv.version)) < 0 || (r = get_uint64(o, "lease", &kv.lease)) < 0)
                        goto fail;
        }
        *ret = kv;
        return 0;
fail:
        store_kv_done(&kv);
        return r;
}

static int errno_from_grpc(int64_t code, const char *msg) {
        if (!msg)
                msg = "";
        switch (code) {
        case GRPC_INVALID_ARGUMENT:
                if (strstr(msg, "too large") || strstr(msg, "too many"))
                        return -E2BIG;
                if (strstr(msg, "authentication failed") || strstr(msg, "user name is empty"))
                        return -EACCES;
                return -EINVAL;
        case GRPC_DEADLINE_EXCEEDED:
                return -ETIMEDOUT;
        case GRPC_NOT_FOUND:
                return -ENOENT;
        case GRPC_PERMISSION_DENIED:
                return -EACCES;
        case GRPC_RESOURCE_EXHAUSTED:
                /* gRPC's own "received message larger than max", or etcd's "database space exceeded". */
                return strstr(msg, "larger than") ? -E2BIG : -ENOSPC;
        case GRPC_FAILED_PRECONDITION:
                return strstr(msg, "auth") || strstr(msg, "root") ? -EACCES : -EIO;
        case GRPC_OUT_OF_RANGE:
                return -ESTALE;
        case GRPC_UNAVAILABLE:
                /* "request timed out": it may still be applied. */
                return strstr(msg, "timed out") ? -ETIMEDOUT : -EHOSTUNREACH;
        case GRPC_UNAUTHENTICATED:
                return strstr(msg, "invalid auth token") ? -EKEYEXPIRED : -EACCES;
        default:
                return -EIO;
        }
}

static int error_from_json(const json_t *root) {
        const json_t *e = json_object_get(root, "error");
        int64_t code;

        if (json_is_string(e)) {
                /* Unary: {"error": "...", "code": N, "message": "..."} */
                if (get_int64(root, "code", &code) < 0 || code <= 0)
                        return -EBADMSG;
                const json_t *m = json_object_get(root, "message");
                return errno_from_grpc(code, json_is_string(m) ? json_string_value(m) : json_string_value(e));
        }
        if (json_is_object(e)) {
                /* Streams: {"error": {"grpc_code": N, "message": "...", ...}} */
                if (get_int64(e, "grpc_code", &code) < 0 || code <= 0)
                        return -EBADMSG;
                const json_t *m = json_object_get(e, "message");
                return errno_from_grpc(code, json_is_string(m) ? json_string_value(m) : NULL);
        }
        return -EBADMSG;
}

int etcd_parse_error(const char *buf, size_t len) {
        _cleanup_json_ json_t *root = parse_object(buf, len);
        if (!root)
                return -EBADMSG;
        return error_from_json(root);
}

static int kv_compare(const void *a, const void *b) {
        return strcmp(((const StoreKV *) a)->key, ((const StoreKV *) b)->key);
}

int etcd_parse_range(const char *buf, size_t len, StoreKVList *ret) {
        _cleanup_json_ json_t *root = parse_object(buf, len);
        StoreKVList l = {};
        int r;

        if (!root)
                return -EBADMSG;
        r = get_header_revision(root, &l.revision);
        if (r < 0)
                return r;
        const json_t *kvs = json_object_get(root, "kvs");
        if (kvs && !json_is_array(kvs))
                return -EBADMSG;
        size_t n = kvs ? json_array_size(kvs) : 0;
        if (n > 0) {
                l.items = calloc(n, sizeof *l.items);
                if (!l.items)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                r = parse_kv(json_array_get(kvs, i), false, l.items + i);
                if (r < 0) {
                        store_kv_list_done(&l);
                        return r;
                }
                l.n++;
        }
        /* etcd sorts by key bytes; make sure, since callers rely on it. */
        if (l.n > 1)
                qsort(l.items, l.n, sizeof *l.items, kv_compare);
        *ret = l;
        return 0;
}

int etcd_parse_txn(const char *buf, size_t len, int64_t *ret_rev) {
        _cleanup_json_ json_t *root = parse_object(buf, len);
        int64_t rev;
        int r;

        if (!root)
                return -EBADMSG;
        r = get_header_revision(root, &rev);
        if (r < 0)
                return r;
        const json_t *s = json_object_get(root, "succeeded");
        if (s && !json_is_boolean(s))
                return -EBADMSG;
        if (!json_is_true(s))
                return -EAGAIN;
        if (rev <= 0)
                return -EBADMSG;
        *ret_rev = rev;
        return 0;
}

int etcd_parse_header(const char *buf, size_t len, int64_t *ret_rev) {
        _cleanup_json_ json_t *root = parse_object(buf, len);
        int64_t rev;
        int r;

        if (!root)
                return -EBADMSG;
        if (!json_is_object(json_object_get(root, "header")))
                return -EBADMSG;
        r = get_header_revision(root, &rev);
        if (r < 0)
                return r;
        *ret_rev = rev;
        return 0;
}

int etcd_parse_lease(const char *buf, size_t len, int64_t *ret_id, int64_t *ret_ttl) {
        _cleanup_json_ json_t *root = parse_object(buf, len);
        int64_t id, ttl;
        int r;

        if (!root)
                return -EBADMSG;
        const json_t *o = root;
        const json_t *result = json_object_get(root, "result");
        if (result) {
                if (!json_is_object(result))
                        return -EBADMSG;
                o = result;
        } else if (json_is_object(json_object_get(root, "error")))
                return error_from_json(root);
        /* LeaseGrantResponse has a string "error" of its own. */
        const json_t *e = json_object_get(o, "error");
        if (e && (!json_is_string(e) || json_string_length(e) > 0))
                return -EIO;
        if ((r = get_int64(o, "ID", &id)) < 0 || (r = get_int64(o, "TTL", &ttl)) < 0)
                return r;
        if (id < 0)
                return -EBADMSG;
        if (ttl <= 0)
                return -ENOENT;
        *ret_id = id;
        *ret_ttl = ttl;
        return 0;
}

int etcd_parse_auth(const char *buf, size_t len, char **ret_token) {
        _cleanup_json_ json_t *root = parse_object(buf, len);
        if (!root)
                return -EBADMSG;
        const json_t *t = json_object_get(root, "token");
        if (!json_is_string(t))
                return -EBADMSG;
        const char *s = json_string_value(t);
        size_t n = json_string_length(t);
        /* It goes into an HTTP header: printable ASCII only. */
        if (n == 0 || n > 4096 || strlen(s) != n)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] > '~')
                        return -EBADMSG;
        char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        *ret_token = c;
        return 0;
}

void etcd_watch_reply_done(EtcdWatchReply *r) {
        if (!r)
                return;
        store_event_list_done(&r->events);
        *r = (EtcdWatchReply) {};
}

static int cancel_reason_errno(const char *reason) {
        if (!reason)
                return -EIO;
        if (strstr(reason, "invalid auth token"))
                return -EKEYEXPIRED;
        if (strstr(reason, "PermissionDenied") || strstr(reason, "permission denied") ||
            strstr(reason, "Unauthenticated") || strstr(reason, "user name is empty"))
                return -EACCES;
        return -EIO;
}

int etcd_parse_watch(const char *buf, size_t len, EtcdWatchReply *ret) {
        _cleanup_json_ json_t *root = parse_object(buf, len);
        EtcdWatchReply w = {};
        int r;

        if (!root)
                return -EBADMSG;
        if (json_object_get(root, "error")) {
                r = error_from_json(root);
                if (r == -EBADMSG)
                        return r;
                w.error = r;
                *ret = w;
                return 0;
        }
        const json_t *res = json_object_get(root, "result");
        if (!json_is_object(res))
                return -EBADMSG;
        r = get_header_revision(res, &w.revision);
        if (r < 0)
                return r;
        w.created = get_true(res, "created");
        w.canceled = get_true(res, "canceled");
        r = get_uint64(res, "compact_revision", &w.compact_revision);
        if (r < 0)
                return r;
        if (w.canceled && w.compact_revision == 0) {
                const json_t *reason = json_object_get(res, "cancel_reason");
                w.error = cancel_reason_errno(json_is_string(reason) ? json_string_value(reason) : NULL);
        }

        const json_t *events = json_object_get(res, "events");
        if (events && !json_is_array(events))
                return -EBADMSG;
        size_t n = events ? json_array_size(events) : 0;
        if (n > 0) {
                w.events.items = calloc(n, sizeof *w.events.items);
                if (!w.events.items)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                const json_t *e = json_array_get(events, i);
                StoreEvent *ev = w.events.items + i;
                if (!json_is_object(e)) {
                        r = -EBADMSG;
                        goto fail;
                }
                const json_t *type = json_object_get(e, "type");
                if (!type || json_is_null(type) || (json_is_string(type) && streq(json_string_value(type), "PUT")) ||
                    (json_is_integer(type) && json_integer_value(type) == 0))
                        ev->type = STORE_EVENT_PUT;
                else if ((json_is_string(type) && streq(json_string_value(type), "DELETE")) ||
                         (json_is_integer(type) && json_integer_value(type) == 1))
                        ev->type = STORE_EVENT_DELETE;
                else {
                        r = -EBADMSG;
                        goto fail;
                }
                r = parse_kv(json_object_get(e, "kv"), ev->type == STORE_EVENT_DELETE, &ev->kv);
                if (r < 0)
                        goto fail;
                w.events.n++;
                /* Revision order is what watchers rely on. */
                if (i > 0 && ev->kv.mod_rev < ev[-1].kv.mod_rev) {
                        r = -EBADMSG;
                        goto fail;
                }
        }
        *ret = w;
        return 0;
fail:
        etcd_watch_reply_done(&w);
        return r;
}

/* ---- configuration ----------------------------------------------------------- */

typedef struct EtcdConfig {
        atomic_uint n_ref;
        char *location;                /* as opened: handles of one location share this */
        struct EtcdConfig *next_open;  /* in the registry of open locations */
        char **endpoints; /* without trailing '/' */
        size_t n_endpoints;
        char *cacert, *cert, *key;
        char *user, *password;
        long connect_timeout_ms, timeout_ms;

        pthread_mutex_t lock; /* guards token, preferred and probe_started */
        char *token;
        size_t preferred; /* index of the endpoint that answered last */

        /* Unreachable etcd: requests fail at once until down_until (monotonic
         * µs), which a probe thread pushes on while etcd does not answer and
         * clears when it does (see etcd_call()). */
        _Atomic uint64_t down_until;
        pthread_t probe;       /* joined before the configuration is freed */
        bool probe_started;    /* under lock */
        atomic_bool probe_done, probe_stop;
} EtcdConfig;

/* Every handle (and the keep-alive's, and every API worker's) of one
 * location shares one configuration: the token, the endpoint that answered
 * last and the fast-failure state are the process's knowledge of that etcd,
 * so one handle's timeout spares the others theirs. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static EtcdConfig *registry;

static void config_unref(EtcdConfig *c) {
        if (!c)
                return;
        pthread_mutex_lock(&registry_lock);
        bool last = atomic_fetch_sub(&c->n_ref, 1) == 1;
        if (last)
                for (EtcdConfig **p = &registry; *p; p = &(*p)->next_open)
                        if (*p == c) {
                                *p = c->next_open;
                                break;
                        }
        pthread_mutex_unlock(&registry_lock);
        if (!last)
                return;
        if (c->probe_started) {
                atomic_store(&c->probe_stop, true); /* also aborts its transfer */
                pthread_join(c->probe, NULL);
        }
        for (size_t i = 0; i < c->n_endpoints; i++)
                free(c->endpoints[i]);
        free(c->endpoints);
        free(c->cacert);
        free(c->cert);
        free(c->key);
        free(c->user);
        if (c->password) {
                explicit_bzero(c->password, strlen(c->password));
                free(c->password);
        }
        free(c->token);
        free(c->location);
        pthread_mutex_destroy(&c->lock);
        free(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdConfig *, config_unref);

static EtcdConfig *config_ref(EtcdConfig *c) {
        atomic_fetch_add(&c->n_ref, 1);
        return c;
}

/* The configuration of an open location, referenced; NULL if none. */
static EtcdConfig *config_find(const char *location) {
        EtcdConfig *found = NULL;
        pthread_mutex_lock(&registry_lock);
        for (EtcdConfig *c = registry; c && !found; c = c->next_open)
                if (streq(c->location, location))
                        found = config_ref(c);
        pthread_mutex_unlock(&registry_lock);
        return found;
}

static int config_register(EtcdConfig *c, const char *location) {
        c->location = strdup(location);
        if (!c->location)
                return -ENOMEM;
        pthread_mutex_lock(&registry_lock);
        c->next_open = registry;
        registry = c;
        pthread_mutex_unlock(&registry_lock);
        return 0;
}

static size_t config_preferred(EtcdConfig *c) {
        pthread_mutex_lock(&c->lock);
        size_t p = c->preferred;
        pthread_mutex_unlock(&c->lock);
        return p;
}

static void config_set_preferred(EtcdConfig *c, size_t p) {
        pthread_mutex_lock(&c->lock);
        c->preferred = p;
        pthread_mutex_unlock(&c->lock);
}

static bool host_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_' || c == ':' || c == '[' || c == ']' || c == '%';
}

/* Validates one endpoint and returns a copy without a trailing '/'. */
static int endpoint_parse(const char *s, size_t n, bool *https, char **ret) {
        size_t skip;
        if (n >= 7 && strncmp(s, "http://", 7) == 0) {
                skip = 7;
                *https = false;
        } else if (n >= 8 && strncmp(s, "https://", 8) == 0) {
                skip = 8;
                *https = true;
        } else
                return -EINVAL;
        if (n > skip && s[n - 1] == '/')
                n--;
        if (n == skip || n > 512)
                return -EINVAL;
        for (size_t i = skip; i < n; i++)
                if (!host_char_ok(s[i]))
                        return -EINVAL;
        char *e = strndup(s, n);
        if (!e)
                return -ENOMEM;
        *ret = e;
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static int percent_decode(const char *s, size_t n, char **ret) {
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '%') {
                        *o++ = s[i];
                        continue;
                }
                int hi = i + 2 < n ? unhex(s[i + 1]) : -1;
                int lo = i + 2 < n ? unhex(s[i + 2]) : -1;
                /* No %00: values are C strings. */
                if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
                        *o++ = (char) (hi << 4 | lo);
                        i += 2;
                        continue;
                }
                free(out);
                return -EINVAL;
        }
        *o = 0;
        *ret = out;
        return 0;
}

static int parse_timeout(const char *v, long *ret) {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != 0 || x <= 0 || x > TIMEOUT_MS_MAX)
                return -EINVAL;
        *ret = x;
        return 0;
}

static int read_password(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char buf[PASSWORD_MAX + 2];

        if (!f)
                return -errno;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        if (ferror(f))
                return -EIO;
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        n = strlen(buf);
        int r = (n == 0 || n > PASSWORD_MAX) ? -EINVAL : 0;
        char *p = r == 0 ? strdup(buf) : NULL;
        explicit_bzero(buf, sizeof buf);
        if (r < 0)
                return r;
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int option_set(char **field, char *value) {
        if (*field) {
                free(value);
                return -EINVAL; /* given twice */
        }
        *field = value;
        return 0;
}

static int config_parse(const char *location, EtcdConfig **ret) {
        _cleanup_(config_unrefp) EtcdConfig *c = NULL;
        _cleanup_free_ char *password_file = NULL, *connect_timeout = NULL, *timeout = NULL;
        bool any_https = false;
        int r;

        if (!location || !*location)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        atomic_init(&c->n_ref, 1);
        pthread_mutex_init(&c->lock, NULL);
        c->connect_timeout_ms = STORE_ETCD_CONNECT_TIMEOUT_MS;
        c->timeout_ms = STORE_ETCD_TIMEOUT_MS;

        const char *q = strchr(location, '?');
        size_t elen = q ? (size_t) (q - location) : strlen(location);
        c->endpoints = calloc(STORE_ETCD_ENDPOINTS_MAX, sizeof *c->endpoints);
        if (!c->endpoints)
                return -ENOMEM;
        for (const char *p = location, *end = location + elen; p <= end;) {
                const char *comma = memchr(p, ',', (size_t) (end - p));
                size_t n = comma ? (size_t) (comma - p) : (size_t) (end - p);
                bool https;
                if (c->n_endpoints == STORE_ETCD_ENDPOINTS_MAX)
                        return -EINVAL;
                r = endpoint_parse(p, n, &https, &c->endpoints[c->n_endpoints]);
                if (r < 0)
                        return r;
                c->n_endpoints++;
                any_https |= https;
                p += n + 1;
        }

        for (const char *p = q ? q + 1 : NULL; p && *p;) {
                size_t n = strcspn(p, "&");
                const char *eq = memchr(p, '=', n);
                if (!eq || eq == p)
                        return -EINVAL;
                size_t name_len = (size_t) (eq - p);
                char *value;
                r = percent_decode(eq + 1, n - name_len - 1, &value);
                if (r < 0)
                        return r;
                if (!*value) {
                        free(value);
                        return -EINVAL;
                }
#define OPT(name) (name_len == strlen(name) && strncmp(p, name, name_len) == 0)
                if (OPT("cacert"))
                        r = option_set(&c->cacert, value);
                else if (OPT("cert"))
                        r = option_set(&c->cert, value);
                else if (OPT("key"))
                        r = option_set(&c->key, value);
                else if (OPT("user"))
                        r = option_set(&c->user, value);
                else if (OPT("password-file"))
                        r = option_set(&password_file, value);
                else if (OPT("connect-timeout-ms"))
                        r = option_set(&connect_timeout, value);
                else if (OPT("timeout-ms"))
                        r = option_set(&timeout, value);
                else {
                        free(value);
                        r = -EINVAL;
                }
#undef OPT
                if (r < 0)
                        return r;
                p += n;
                if (*p == '&')
                        p++;
        }

        if ((connect_timeout && parse_timeout(connect_timeout, &c->connect_timeout_ms) < 0) ||
            (timeout && parse_timeout(timeout, &c->timeout_ms) < 0))
                return -EINVAL;
        if (!!c->cert != !!c->key || !!c->user != !!password_file)
                return -EINVAL;
        if ((c->cacert || c->cert) && !any_https)
                return -EINVAL;
        if (c->user && (strchr(c->user, '\n') || strlen(c->user) > 256))
                return -EINVAL;
        if (password_file) {
                r = read_password(password_file, &c->password);
                if (r < 0)
                        return r;
        }
        const char *files[] = { c->cacert, c->cert, c->key };
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i] && access(files[i], R_OK) < 0)
                        return -errno;

        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- HTTP --------------------------------------------------------------------- */

typedef struct Http {
        CURL *curl;
        char *buf; /* reply body, NUL-terminated */
        size_t len, cap;
        bool overflow;
        const atomic_bool *cancel; /* aborts a transfer when set (watch threads) */
} Http;

static void http_done(Http *h) {
        if (h->curl)
                curl_easy_cleanup(h->curl);
        free(h->buf);
        *h = (Http) {};
}

static int buf_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n) {
        if (n > STORE_ETCD_REPLY_MAX - *len)
                return -EBADMSG;
        if (*len + n + 1 > *cap) {
                size_t c = MAX(*cap * 2, *len + n + 1);
                c = MAX(c, (size_t) 4096);
                c = MIN(c, (size_t) STORE_ETCD_REPLY_MAX + 1);
                char *b = realloc(*buf, c);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *cap = c;
        }
        memcpy(*buf + *len, p, n);
        *len += n;
        (*buf)[*len] = 0;
        return 0;
}

static size_t http_write(char *p, size_t size, size_t nmemb, void *userdata) {
        Http *h = userdata;
        size_t n = size * nmemb;
        if (buf_append(&h->buf, &h->len, &h->cap, p, n) < 0) {
                h->overflow = true;
                return 0;
        }
        return n;
}

static int http_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        const atomic_bool *cancel = userdata;
        return cancel && atomic_load(cancel) ? 1 : 0;
}

static void curl_global_once(void) {
        (void) curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Options shared by every request and by watch streams. */
static int curl_setup(CURL *curl, const EtcdConfig *c, const char *url, struct curl_slist *headers, const char *body,
                      size_t body_len, long timeout_ms) {
        curl_easy_reset(curl); /* keeps the connection cache */
        if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK)
                return -EINVAL;
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never through $http_proxy */
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        /* A short total timeout (the probe's) shortens the connect too. */
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                         timeout_ms > 0 ? MIN(c->connect_timeout_ms, timeout_ms) : c->connect_timeout_ms);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
        /* Notices a silently dead peer of an idle watch stream. */
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 10L);
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 5L);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
        if (c->cacert)
                curl_easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
        if (c->cert) {
                curl_easy_setopt(curl, CURLOPT_SSLCERT, c->cert);
                curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key);
        }
        return 0;
}

static int headers_new(const char *token, struct curl_slist **ret) {
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        /* No "Expect: 100-continue" round trip for large bodies. */
        if (h)
                h = curl_slist_append(h, "Expect:") ?: (curl_slist_free_all(h), NULL);
        if (h && token) {
                _cleanup_free_ char *a = NULL;
                if (asprintf(&a, "Authorization: %s", token) < 0)
                        a = NULL;
                struct curl_slist *n = a ? curl_slist_append(h, a) : NULL;
                if (!n)
                        curl_slist_free_all(h);
                h = n;
        }
        if (!h)
                return -ENOMEM;
        *ret = h;
        return 0;
}

static bool curl_code_not_delivered(CURLcode rc) {
        switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
                return true;
        default:
                return false;
        }
}

/* Turns the outcome of a transfer into: 0, -ECONNREFUSED (never delivered: try
 * another endpoint), -ECONNRESET (delivered, answer lost), -ETIMEDOUT,
 * -EBADMSG (reply too large), -ECANCELED, -ENOMEM, -EIO. */
static int curl_result(CURL *curl, CURLcode rc, bool overflow, const char *url) {
        curl_off_t pretransfer = 0;

        if (rc == CURLE_OK)
                return 0;
        log_debug("etcd: POST %s: %s", url, curl_easy_strerror(rc));
        if (curl_code_not_delivered(rc))
                return -ECONNREFUSED;
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
                /* Before the request went out (connect or TLS handshake), it is like unreachable. */
                (void) curl_easy_getinfo(curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
                return pretransfer == 0 ? -ECONNREFUSED : -ETIMEDOUT;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return -ECONNRESET;
        case CURLE_WRITE_ERROR:
                return overflow ? -EBADMSG : -EIO;
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

/* One POST to one endpoint, within timeout_ms; the reply is in h->buf. */
static int http_post(const EtcdConfig *c, Http *h, const char *endpoint, const char *path, const char *body,
                     size_t body_len, const char *token, long timeout_ms, long *ret_status) {
        _cleanup_free_ char *url = NULL;
        struct curl_slist *headers = NULL;
        long status = 0;
        int r;

        if (!h->curl) {
                h->curl = curl_easy_init();
                if (!h->curl)
                        return -ENOMEM;
        }
        /* Do not keep the memory of one huge reply for the life of the handle. */
        if (h->cap > (4u << 20)) {
                free(h->buf);
                h->buf = NULL;
                h->cap = 0;
        }
        h->len = 0;
        h->overflow = false;
        if (h->buf)
                h->buf[0] = 0;
        if (asprintf(&url, "%s%s", endpoint, path) < 0)
                return -ENOMEM;
        r = headers_new(token, &headers);
        if (r < 0)
                return r;
        r = curl_setup(h->curl, c, url, headers, body, body_len, timeout_ms);
        if (r >= 0) {
                curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_write);
                curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
                if (h->cancel) {
                        curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, http_progress);
                        curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, (void *) h->cancel);
                        curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
                }
                CURLcode rc = curl_easy_perform(h->curl);
                r = curl_result(h->curl, rc, h->overflow, url);
                if (r >= 0)
                        (void) curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        }
        /* The handle must not keep pointers to what we free now. */
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(headers);
        if (r < 0)
                return r;
        *ret_status = status;
        return 0;
}

/* Error of a non-200 reply. */
static int http_error(const Http *h, long status) {
        int r = etcd_parse_error(h->buf, h->len);
        if (r != -EBADMSG)
                return r;
        log_debug("etcd: HTTP status %ld without an etcd error body", status);
        return status >= 500 ? -EIO : -EPROTO;
}

/* Sends body to the endpoints in turn (starting with the preferred one) until
 * one answers. idempotent: a request whose answer got lost may be repeated
 * on the next endpoint. timeout-ms bounds the whole request, not each
 * endpoint's try: with several endpoints down or hung a caller still has its
 * answer (or its error) within timeout-ms. A big request gets 1 ms more per
 * KiB it sends (1 s per MiB): a value of several MiB takes its time to
 * upload and store, and is no sign of a hung etcd. */
static int post_any(EtcdConfig *c, Http *h, const char *path, const char *body, size_t body_len, bool idempotent,
                    const char *token) {
        size_t start = config_preferred(c);
        uint64_t deadline = thread_monotonic_usec() + ((uint64_t) c->timeout_ms + body_len / 1024) * 1000;
        int r = -EHOSTUNREACH;

        for (size_t i = 0; i < c->n_endpoints; i++) {
                size_t ep = (start + i) % c->n_endpoints;
                uint64_t now = thread_monotonic_usec();
                long status = 0;

                if (now + 1000 > deadline)
                        break; /* r: why the last endpoint failed */
                r = http_post(c, h, c->endpoints[ep], path, body, body_len, token, (long) ((deadline - now) / 1000),
                              &status);
                if (r == -ECONNREFUSED || (r == -ECONNRESET && idempotent)) {
                        r = -EHOSTUNREACH;
                        continue;
                }
                if (r == -ECONNRESET)
                        return -EHOSTUNREACH;
                if (r < 0)
                        return r;
                if (ep != start)
                        config_set_preferred(c, ep);
                if (status == 200)
                        return 0;
                r = http_error(h, status);
                if (r == -EHOSTUNREACH && idempotent)
                        continue; /* this member has no leader; another may */
                return r;
        }
        return r;
}

static int authenticate(EtcdConfig *c, Http *h) {
        _cleanup_json_ json_t *req = json_pack("{s:s, s:s}", "name", c->user, "password", c->password);
        _cleanup_free_ char *body = NULL, *token = NULL;
        int r;

        if (!req)
                return -ENOMEM;
        body = json_dumps(req, JSON_COMPACT);
        if (!body)
                return -ENOMEM;
        r = post_any(c, h, "/v3/auth/authenticate", body, strlen(body), true, NULL);
        explicit_bzero(body, strlen(body));
        if (r < 0) {
                log_debug("etcd: authentication as '%s' failed: %s", c->user, strerror(-r));
                return r == -EINVAL || r == -EKEYEXPIRED ? -EACCES : r;
        }
        r = etcd_parse_auth(h->buf, h->len, &token);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        free(c->token);
        c->token = TAKE_PTR(token);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* A copy of the current token, authenticating first if there is none. */
static int token_get(EtcdConfig *c, Http *h, char **ret) {
        for (int i = 0; i < 2; i++) {
                pthread_mutex_lock(&c->lock);
                char *t = c->token ? strdup(c->token) : NULL;
                bool have = c->token;
                pthread_mutex_unlock(&c->lock);
                if (have) {
                        if (!t)
                                return -ENOMEM;
                        *ret = t;
                        return 0;
                }
                if (i == 0) {
                        int r = authenticate(c, h);
                        if (r < 0)
                                return r;
                }
        }
        return -EACCES;
}

/* Forgets token, unless someone already replaced it. */
static void token_invalidate(EtcdConfig *c, const char *token) {
        pthread_mutex_lock(&c->lock);
        if (streq_ptr(c->token, token)) {
                free(c->token);
                c->token = NULL;
        }
        pthread_mutex_unlock(&c->lock);
}

/* ---- fast failure while etcd cannot be reached ---------------------------------
 * Requests run on the caller's thread, for drbdd the API's event loop. When
 * etcd does not answer (all endpoints refused, timed out, or had no leader)
 * every further request would block that loop for up to timeout-ms again, so
 * the "breaker" opens: requests fail at once with -EHOSTUNREACH (the read
 * cache answers reads) while a probe thread asks the endpoints for their
 * status every PROBE_INTERVAL_MS (off the loop, so it may wait the full
 * timeout: a slow etcd that answers counts as back). The first answer from
 * a member that has a leader closes it; recovery after an etcd restart takes
 * one probe interval, not a request timeout per call. */

static bool breaker_open(EtcdConfig *c) {
        uint64_t until = atomic_load(&c->down_until);
        return until && thread_monotonic_usec() < until;
}

/* 1: a member answered and has a leader; 0: not yet. */
static int probe_once(EtcdConfig *c, Http *h) {
        for (size_t i = 0; i < c->n_endpoints; i++) {
                long status = 0;
                if (http_post(c, h, c->endpoints[i], "/v3/maintenance/status", "{}", 2, NULL,
                              c->timeout_ms, &status) < 0)
                        continue;
                if (status != 200)
                        return 1; /* answers (e.g. wants auth): let requests find out */
                _cleanup_json_ json_t *j = json_loadb(h->buf, h->len, 0, NULL);
                const char *leader = json_string_value(json_object_get(j, "leader"));
                if (leader && !streq(leader, "0"))
                        return 1;
        }
        return 0;
}

/* Runs until etcd answers or the last handle closes (config_unref() joins
 * it); holds no reference. */
static void *probe_thread(void *userdata) {
        EtcdConfig *c = userdata;
        Http h = { .cancel = &c->probe_stop };
        while (!atomic_load(&c->probe_stop)) {
                if (probe_once(c, &h) > 0) {
                        atomic_store(&c->down_until, 0);
                        log_info("etcd: reachable again");
                        break;
                }
                atomic_store(&c->down_until, thread_monotonic_usec() + BREAKER_HOLD_USEC);
                for (int i = 0; i < PROBE_INTERVAL_MS / 10 && !atomic_load(&c->probe_stop); i++) {
                        struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000L };
                        nanosleep(&ts, NULL);
                }
        }
        http_done(&h);
        atomic_store(&c->probe_done, true);
        return NULL;
}

static void breaker_trip(EtcdConfig *c, int error) {
        if (atomic_exchange(&c->down_until, thread_monotonic_usec() + BREAKER_HOLD_USEC) == 0)
                log_warning("etcd: not reachable (%s); failing requests at once until it answers", strerror(-error));
        pthread_mutex_lock(&c->lock);
        if (c->probe_started && atomic_load(&c->probe_done)) {
                pthread_join(c->probe, NULL); /* finished: reap it, start anew */
                c->probe_started = false;
        }
        if (!c->probe_started) {
                atomic_store(&c->probe_done, false);
                /* Without a probe, the hold time alone bounds the fast failure. */
                c->probe_started = thread_start(&c->probe, probe_thread, c) == 0;
        }
        pthread_mutex_unlock(&c->lock);
}

/* One request with authentication: on an expired token, authenticates again
 * and repeats once. The reply is in h->buf. */
static int etcd_call(EtcdConfig *c, Http *h, const char *path, const json_t *req, bool idempotent) {
        _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
        int r;

        if (!body)
                return -ENOMEM;
        if (breaker_open(c))
                return -EHOSTUNREACH;
        for (int attempt = 0;; attempt++) {
                _cleanup_free_ char *token = NULL;
                if (c->user) {
                        r = token_get(c, h, &token);
                        if (r == -EHOSTUNREACH || r == -ETIMEDOUT)
                                breaker_trip(c, r);
                        if (r < 0)
                                return r;
                }
                r = post_any(c, h, path, body, strlen(body), idempotent, token);
                if (r == -EKEYEXPIRED && c->user && attempt == 0) {
                        token_invalidate(c, token);
                        continue;
                }
                if (r == -EHOSTUNREACH || r == -ETIMEDOUT)
                        breaker_trip(c, r);
                return r == -EKEYEXPIRED ? -EACCES : r;
        }
}

/* ---- requests ----------------------------------------------------------------- */

typedef struct EtcdStore {
        Store base;
        EtcdConfig *cfg;
        Http http;
} EtcdStore;

static json_t *json_b64(const char *p, size_t n) {
        char *e = b64_encode(p, n);
        if (!e)
                return NULL;
        json_t *j = json_string(e);
        free(e);
        return j;
}

static json_t *json_int64(int64_t v) {
        char s[32];
        snprintf(s, sizeof s, "%" PRId64, v);
        return json_string(s);
}

/* The [key, range_end) that covers every key starting with prefix. An empty
 * prefix becomes "\0" (etcd's smallest key); without a successor (only 0xff
 * bytes) range_end is "\0", etcd's "no upper bound". */
static int prefix_range(const char *prefix, json_t **ret_key, json_t **ret_end) {
        size_t n = strlen(prefix);
        char end[STORE_KEY_MAX + 1];

        assert(n <= STORE_KEY_MAX);
        memcpy(end, prefix, n);
        while (n > 0 && (unsigned char) end[n - 1] == 0xff)
                n--;
        if (n == 0) {
                end[0] = 0;
                n = 1;
        } else
                end[n - 1] = (char) ((unsigned char) end[n - 1] + 1);
        *ret_key = *prefix ? json_b64(prefix, strlen(prefix)) : json_b64("", 1);
        *ret_end = json_b64(end, n);
        if (!*ret_key || !*ret_end) {
                json_decref(*ret_key);
                json_decref(*ret_end);
                return -ENOMEM;
        }
        return 0;
}

static int etcd_get(Store *store, const char *key, StoreKV *ret) {
        EtcdStore *s = (EtcdStore *) store;
        _cleanup_json_ json_t *req = json_pack("{s:o}", "key", json_b64(key, strlen(key)));
        StoreKVList l = {};
        int r;

        if (!req)
                return -ENOMEM;
        r = etcd_call(s->cfg, &s->http, "/v3/kv/range", req, true);
        if (r < 0)
                return r;
        r = etcd_parse_range(s->http.buf, s->http.len, &l);
        if (r < 0)
                return r;
        if (l.n == 0)
                r = -ENOENT;
        else if (l.n > 1 || !streq(l.items[0].key, key))
                r = -EBADMSG;
        else {
                *ret = l.items[0];
                l.items[0] = (StoreKV) {};
        }
        store_kv_list_done(&l);
        return r;
}

static int etcd_range(Store *store, const char *prefix, StoreKVList *ret) {
        EtcdStore *s = (EtcdStore *) store;
        json_t *k, *e;
        StoreKVList l = {};
        int r;

        r = prefix_range(prefix, &k, &e);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *req = json_pack("{s:o, s:o}", "key", k, "range_end", e);
        if (!req)
                return -ENOMEM;
        r = etcd_call(s->cfg, &s->http, "/v3/kv/range", req, true);
        if (r < 0)
                return r;
        r = etcd_parse_range(s->http.buf, s->http.len, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++)
                if (!startswith(l.items[i].key, prefix)) {
                        store_kv_list_done(&l);
                        return -EBADMSG;
                }
        *ret = l;
        return 0;
}

static json_t *txn_compare(const StoreCompare *c) {
        bool mod = c->target == STORE_CMP_MOD_REV;
        return json_pack("{s:o, s:s, s:s, s:o}", "key", json_b64(c->key, strlen(c->key)), "target",
                         mod ? "MOD" : "CREATE", "result", "EQUAL", mod ? "mod_revision" : "create_revision",
                         json_int64(c->rev));
}

static json_t *txn_op(const StoreOp *o) {
        json_t *k, *e;

        switch (o->type) {
        case STORE_OP_PUT:
                return json_pack("{s:{s:o, s:o, s:o}}", "request_put", "key", json_b64(o->key, strlen(o->key)),
                                 "value", json_b64(o->value, strlen(o->value)), "lease", json_int64(o->lease));
        case STORE_OP_DELETE:
                return json_pack("{s:{s:o}}", "request_delete_range", "key", json_b64(o->key, strlen(o->key)));
        case STORE_OP_DELETE_PREFIX:
                if (prefix_range(o->key, &k, &e) < 0)
                        return NULL;
                return json_pack("{s:{s:o, s:o}}", "request_delete_range", "key", k, "range_end", e);
        default:
                return NULL;
        }
}

static int etcd_txn(Store *store, const StoreCompare *cmp, size_t n_cmp, const StoreOp *ops, size_t n_ops,
                    int64_t *ret_rev) {
        EtcdStore *s = (EtcdStore *) store;
        _cleanup_json_ json_t *req = json_object(), *compare = json_array(), *success = json_array();
        int64_t rev;
        int r;

        if (!req || !compare || !success)
                return -ENOMEM;
        for (size_t i = 0; i < n_cmp; i++)
                if (json_array_append_new(compare, txn_compare(cmp + i)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < n_ops; i++)
                if (json_array_append_new(success, txn_op(ops + i)) < 0)
                        return -ENOMEM;
        if (json_object_set(req, "compare", compare) < 0 || json_object_set(req, "success", success) < 0)
                return -ENOMEM;

        r = etcd_call(s->cfg, &s->http, "/v3/kv/txn", req, false);
        if (r < 0)
                return r;
        r = etcd_parse_txn(s->http.buf, s->http.len, &rev);
        if (r < 0)
                return r;
        if (ret_rev)
                *ret_rev = rev;
        return 0;
}

static int etcd_revision(Store *store, int64_t *ret) {
        EtcdStore *s = (EtcdStore *) store;
        /* A range of the single key "\0", which we never write: just the header. */
        _cleanup_json_ json_t *req = json_pack("{s:s}", "key", "AA==");
        int64_t rev;
        int r;

        if (!req)
                return -ENOMEM;
        r = etcd_call(s->cfg, &s->http, "/v3/kv/range", req, true);
        if (r < 0)
                return r;
        r = etcd_parse_header(s->http.buf, s->http.len, &rev);
        if (r < 0)
                return r;
        if (rev <= 0)
                return -EBADMSG;
        *ret = rev;
        return 0;
}

static int etcd_lease_grant(Store *store, int64_t ttl_sec, int64_t *ret_id) {
        EtcdStore *s = (EtcdStore *) store;
        _cleanup_json_ json_t *req = json_pack("{s:o}", "TTL", json_int64(ttl_sec));
        int64_t id, ttl;
        int r;

        if (!req)
                return -ENOMEM;
        r = etcd_call(s->cfg, &s->http, "/v3/lease/grant", req, false);
        if (r < 0)
                return r;
        r = etcd_parse_lease(s->http.buf, s->http.len, &id, &ttl);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        if (id <= 0)
                return -EBADMSG;
        *ret_id = id;
        return 0;
}

static int etcd_lease_keepalive(Store *store, int64_t id) {
        EtcdStore *s = (EtcdStore *) store;
        _cleanup_json_ json_t *req = json_pack("{s:o}", "ID", json_int64(id));
        int64_t got, ttl;
        int r;

        if (!req)
                return -ENOMEM;
        /* A bidirectional stream in gRPC; one request body gives one reply and the end. */
        r = etcd_call(s->cfg, &s->http, "/v3/lease/keepalive", req, true);
        if (r < 0)
                return r;
        r = etcd_parse_lease(s->http.buf, s->http.len, &got, &ttl);
        if (r < 0)
                return r;
        return got == id ? 0 : -EBADMSG;
}

static int etcd_lease_revoke(Store *store, int64_t id) {
        EtcdStore *s = (EtcdStore *) store;
        _cleanup_json_ json_t *req = json_pack("{s:o}", "ID", json_int64(id));
        int64_t rev;
        int r;

        if (!req)
                return -ENOMEM;
        r = etcd_call(s->cfg, &s->http, "/v3/lease/revoke", req, true);
        if (r < 0)
                return r;
        return etcd_parse_header(s->http.buf, s->http.len, &rev);
}

/* ---- watches ------------------------------------------------------------------- */

typedef struct EtcdWatch {
        StoreWatch base;
        EtcdConfig *cfg; /* reference */
        json_t *key, *range_end; /* base64, for the create request */
        int fd;                  /* eventfd */
        pthread_t thread;
        bool thread_started;
        CURLM *multi;
        atomic_bool stop;

        pthread_mutex_t lock; /* guards queue and error */
        StoreEventList queue;
        size_t queue_cap;
        int error; /* terminal, reported by every later watch_read */

        /* Owned by the thread: */
        CURL *curl;
        Http auth;
        int64_t next_rev;    /* start revision of the next (re)connect */
        char *line;          /* unparsed part of the stream */
        size_t line_len, line_cap, line_scan;
        long status;
        bool created;        /* this connection got its "created" reply */
        int conn_error;      /* why the callback aborted this connection */
        bool done;           /* terminal error set: stop */
} EtcdWatch;

static void watch_wake(EtcdWatch *w) {
        (void) eventfd_write(w->fd, 1);
}

static void watch_fail(EtcdWatch *w, int error) {
        pthread_mutex_lock(&w->lock);
        if (w->error == 0)
                w->error = error;
        watch_wake(w);
        pthread_mutex_unlock(&w->lock);
        w->done = true;
}

static int watch_queue(EtcdWatch *w, StoreEventList *ev) {
        int r = 0;

        pthread_mutex_lock(&w->lock);
        if (w->queue.n + ev->n > STORE_ETCD_WATCH_QUEUE_MAX)
                r = -ESTALE; /* the reader fell behind */
        else if (w->queue.n + ev->n > w->queue_cap) {
                size_t cap = MAX(w->queue_cap * 2, w->queue.n + ev->n);
                StoreEvent *n = reallocarray(w->queue.items, cap, sizeof *n);
                if (!n)
                        r = -ENOMEM;
                else {
                        w->queue.items = n;
                        w->queue_cap = cap;
                }
        }
        if (r == 0) {
                memcpy(w->queue.items + w->queue.n, ev->items, ev->n * sizeof *ev->items);
                w->queue.n += ev->n;
                ev->n = 0; /* moved */
                watch_wake(w); /* under the lock: readable exactly while the queue is not empty */
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

/* Handles one line of the stream; < 0 aborts the connection. */
static int watch_line(EtcdWatch *w, const char *line, size_t len) {
        EtcdWatchReply rep = {};
        int r;

        if (len == 0 || (len == 1 && line[0] == '\r'))
                return 0;
        r = etcd_parse_watch(line, len, &rep);
        if (r < 0) {
                log_debug("etcd: bad watch reply: %s", strerror(-r));
                watch_fail(w, r);
                return r;
        }
        if (rep.canceled && rep.compact_revision > 0) {
                log_debug("etcd: watch from %" PRId64 " compacted at %" PRId64, w->next_rev, rep.compact_revision);
                watch_fail(w, -ESTALE);
                etcd_watch_reply_done(&rep);
                return -ESTALE;
        }
        if (rep.error < 0) {
                r = rep.error;
                etcd_watch_reply_done(&rep);
                if (r == -EKEYEXPIRED || r == -EHOSTUNREACH || r == -ETIMEDOUT) {
                        w->conn_error = r; /* reconnect */
                        return r;
                }
                watch_fail(w, r);
                return r;
        }
        if (rep.created)
                w->created = true;

        /* After a reconnect, never deliver a revision twice. */
        size_t skip = 0;
        while (skip < rep.events.n && rep.events.items[skip].kv.mod_rev < w->next_rev)
                skip++;
        if (skip > 0) {
                for (size_t i = 0; i < skip; i++)
                        store_kv_done(&rep.events.items[i].kv);
                memmove(rep.events.items, rep.events.items + skip, (rep.events.n - skip) * sizeof *rep.events.items);
                rep.events.n -= skip;
        }
        if (rep.events.n > 0) {
                int64_t last = rep.events.items[rep.events.n - 1].kv.mod_rev;
                r = watch_queue(w, &rep.events);
                if (r < 0) {
                        etcd_watch_reply_done(&rep);
                        watch_fail(w, r);
                        return r;
                }
                w->next_rev = last + 1;
        }
        etcd_watch_reply_done(&rep);
        return 0;
}

static size_t watch_write(char *p, size_t size, size_t nmemb, void *userdata) {
        EtcdWatch *w = userdata;
        size_t n = size * nmemb;

        if (atomic_load(&w->stop))
                return 0;
        if (w->status == 0)
                (void) curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &w->status);
        if (buf_append(&w->line, &w->line_len, &w->line_cap, p, n) < 0) {
                watch_fail(w, -EBADMSG);
                return 0;
        }
        if (w->status != 200)
                return n; /* an error body, parsed when the transfer ends */

        size_t start = 0;
        for (size_t i = w->line_scan; i < w->line_len; i++) {
                if (w->line[i] != '\n')
                        continue;
                if (watch_line(w, w->line + start, i - start) < 0)
                        return 0;
                start = i + 1;
        }
        memmove(w->line, w->line + start, w->line_len - start);
        w->line_len -= start;
        w->line_scan = w->line_len;
        return n;
}

/* One connection of the stream, until it ends, fails or the watch stops.
 * Returns 0 or a negative errno saying why it ended. */
static int watch_connect(EtcdWatch *w, size_t ep) {
        EtcdConfig *c = w->cfg;
        _cleanup_free_ char *token = NULL, *body = NULL, *url = NULL;
        struct curl_slist *headers = NULL;
        CURLcode res = CURLE_OK;
        int r, running = 1;

        if (c->user) {
                r = token_get(c, &w->auth, &token);
                if (r < 0)
                        return r;
        }
        _cleanup_json_ json_t *req = json_pack("{s:{s:O, s:O, s:o}}", "create_request", "key", w->key, "range_end",
                                               w->range_end, "start_revision", json_int64(w->next_rev));
        if (!req)
                return -ENOMEM;
        body = json_dumps(req, JSON_COMPACT);
        if (!body || asprintf(&url, "%s/v3/watch", c->endpoints[ep]) < 0)
                return -ENOMEM;
        r = headers_new(token, &headers);
        if (r < 0)
                return r;
        r = curl_setup(w->curl, c, url, headers, body, strlen(body), 0);
        if (r < 0) {
                curl_slist_free_all(headers);
                return r;
        }
        curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, watch_write);
        curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
        w->line_len = w->line_scan = 0;
        w->status = 0;
        w->created = false;
        w->conn_error = 0;

        if (curl_multi_add_handle(w->multi, w->curl) != CURLM_OK) {
                curl_slist_free_all(headers);
                return -ENOMEM;
        }
        while (!atomic_load(&w->stop)) {
                CURLMsg *m;
                int q;
                if (curl_multi_perform(w->multi, &running) != CURLM_OK)
                        break;
                while ((m = curl_multi_info_read(w->multi, &q)))
                        if (m->msg == CURLMSG_DONE)
                                res = m->data.result;
                if (!running)
                        break;
                (void) curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
        }
        curl_multi_remove_handle(w->multi, w->curl);
        curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(headers);

        if (atomic_load(&w->stop) || w->done)
                return 0;
        r = w->conn_error;
        if (r == 0 && w->status != 0 && w->status != 200) {
                r = etcd_parse_error(w->line, w->line_len);
                if (r == -EBADMSG)
                        r = -EPROTO;
        }
        if (r == -EKEYEXPIRED)
                token_invalidate(c, token);
        if (r < 0)
                return r;
        r = curl_result(w->curl, res, false, url);
        return r < 0 ? r : -ECONNRESET; /* a stream that ended cleanly is reconnected too */
}

static void *watch_thread(void *userdata) {
        EtcdWatch *w = userdata;
        size_t ep = config_preferred(w->cfg);
        int backoff = 0, expired = 0;

        while (!atomic_load(&w->stop) && !w->done) {
                if (backoff > 0) {
                        (void) curl_multi_poll(w->multi, NULL, 0, backoff, NULL);
                        if (atomic_load(&w->stop))
                                break;
                }
                int r = watch_connect(w, ep);
                if (atomic_load(&w->stop) || w->done)
                        break;
                switch (r) {
                case -EKEYEXPIRED: /* watch_connect() dropped the token */
                        backoff = expired++ > 0 ? WATCH_BACKOFF_MAX_MS : 0;
                        continue;
                case -ECONNREFUSED:
                case -ECONNRESET:
                case -EHOSTUNREACH:
                case -ETIMEDOUT:
                case -ENOMEM:
                case -ECANCELED:
                        break;
                default:
                        log_debug("etcd: watch failed: %s", strerror(-r));
                        watch_fail(w, r);
                        continue;
                }
                expired = 0;
                if (w->created)
                        backoff = WATCH_BACKOFF_MIN_MS;
                else
                        backoff = MIN(MAX(backoff * 2, WATCH_BACKOFF_MIN_MS), WATCH_BACKOFF_MAX_MS);
                if (!w->created)
                        ep = (ep + 1) % w->cfg->n_endpoints;
        }
        return NULL;
}

static void watch_free(EtcdWatch *w) {
        if (w->multi)
                curl_multi_cleanup(w->multi);
        if (w->curl)
                curl_easy_cleanup(w->curl);
        http_done(&w->auth);
        store_event_list_done(&w->queue);
        free(w->line);
        json_decref(w->key);
        json_decref(w->range_end);
        if (w->fd >= 0)
                close(w->fd);
        pthread_mutex_destroy(&w->lock);
        config_unref(w->cfg);
        free(w);
}

static int etcd_watch_open(Store *store, const char *prefix, int64_t from_rev, StoreWatch **ret) {
        EtcdStore *s = (EtcdStore *) store;
        int r;

        if (from_rev == INT64_MAX)
                return -EINVAL;
        EtcdWatch *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->base.ops = &store_etcd_ops;
        w->fd = -1;
        pthread_mutex_init(&w->lock, NULL);
        atomic_init(&w->stop, false);
        w->cfg = config_ref(s->cfg);
        w->next_rev = from_rev + 1;
        w->auth.cancel = &w->stop;
        r = prefix_range(prefix, &w->key, &w->range_end);
        if (r < 0)
                goto fail;
        w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->fd < 0) {
                r = -errno;
                goto fail;
        }
        w->multi = curl_multi_init();
        w->curl = curl_easy_init();
        if (!w->multi || !w->curl) {
                r = -ENOMEM;
                goto fail;
        }
        /* The thread takes no signals: they are the daemon's main loop's business. */
        r = thread_start(&w->thread, watch_thread, w);
        if (r < 0)
                goto fail;
        w->thread_started = true;
        *ret = &w->base;
        return 0;
fail:
        watch_free(w);
        return r;
}

static int etcd_watch_fd(StoreWatch *ww) {
        return ((EtcdWatch *) ww)->fd;
}

static int etcd_watch_read(StoreWatch *ww, StoreEventList *ret) {
        EtcdWatch *w = (EtcdWatch *) ww;
        eventfd_t v;
        int r;

        /* The thread queues and wakes under the lock, so draining under it
         * leaves the fd readable exactly when something is pending. An error
         * is permanent: the fd stays readable. */
        pthread_mutex_lock(&w->lock);
        r = w->error;
        if (r == 0) {
                (void) eventfd_read(w->fd, &v);
                *ret = w->queue;
                w->queue = (StoreEventList) {};
                w->queue_cap = 0;
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

static void etcd_watch_close(StoreWatch *ww) {
        EtcdWatch *w = (EtcdWatch *) ww;
        if (!w)
                return;
        atomic_store(&w->stop, true);
        if (w->thread_started) {
                (void) curl_multi_wakeup(w->multi);
                pthread_join(w->thread, NULL);
        }
        watch_free(w);
}

/* ---- open/close ------------------------------------------------------------------ */

static void etcd_close(Store *store) {
        EtcdStore *s = (EtcdStore *) store;
        if (!s)
                return;
        http_done(&s->http);
        config_unref(s->cfg);
        free(s);
}

static int etcd_open(const char *location, Store **ret) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        EtcdConfig *c = NULL;
        int r;

        c = config_find(location);
        if (!c) {
                r = config_parse(location, &c);
                if (r >= 0 && (r = config_register(c, location)) < 0)
                        config_unref(c);
                if (r < 0)
                        return r;
        }
        pthread_once(&once, curl_global_once);
        EtcdStore *s = calloc(1, sizeof *s);
        if (!s) {
                config_unref(c);
                return -ENOMEM;
        }
        s->base.ops = &store_etcd_ops;
        s->cfg = c;
        *ret = &s->base;
        return 0;
}

const StoreOps store_etcd_ops = {
        .scheme = "etcd",
        .open = etcd_open,
        .close = etcd_close,
        .get = etcd_get,
        .range = etcd_range,
        .txn = etcd_txn,
        .watch_open = etcd_watch_open,
        .watch_fd = etcd_watch_fd,
        .watch_read = etcd_watch_read,
        .watch_close = etcd_watch_close,
        .lease_grant = etcd_lease_grant,
        .lease_keepalive = etcd_lease_keepalive,
        .lease_revoke = etcd_lease_revoke,
        .revision = etcd_revision,
};
