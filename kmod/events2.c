/* drbdsetup events2: strict line parser, stream splitter and the observed-state model. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events2.h"
#include "json-util.h"
#include "macro.h"

/* Most tokens on one line; drbdsetup prints about 20 with --statistics. */
#define EVENTS2_TOKENS_MAX 128
#define EVENTS2_KEY_MAX 64

/* ---- string tables ---- */

static const char *const action_table[_EVENTS2_ACTION_MAX] = {
        [EVENTS2_EXISTS] = "exists",     [EVENTS2_CREATE] = "create",
        [EVENTS2_DESTROY] = "destroy",   [EVENTS2_CHANGE] = "change",
        [EVENTS2_CALL] = "call",         [EVENTS2_RESPONSE] = "response",
        [EVENTS2_RENAME] = "rename",
};

static const char *const object_table[_EVENTS2_OBJECT_MAX] = {
        [EVENTS2_RESOURCE] = "resource",       [EVENTS2_CONNECTION] = "connection",
        [EVENTS2_DEVICE] = "device",           [EVENTS2_PEER_DEVICE] = "peer-device",
        [EVENTS2_PATH] = "path",               [EVENTS2_HELPER] = "helper",
        [EVENTS2_END_OF_DUMP] = "-",
};

static const char *const role_table[_DRBD_ROLE_MAX] = {
        [DRBD_ROLE_UNKNOWN] = "Unknown",
        [DRBD_ROLE_PRIMARY] = "Primary",
        [DRBD_ROLE_SECONDARY] = "Secondary",
};

static const char *const conn_table[_DRBD_CONN_MAX] = {
        [DRBD_CONN_STANDALONE] = "StandAlone",
        [DRBD_CONN_DISCONNECTING] = "Disconnecting",
        [DRBD_CONN_UNCONNECTED] = "Unconnected",
        [DRBD_CONN_TIMEOUT] = "Timeout",
        [DRBD_CONN_BROKEN_PIPE] = "BrokenPipe",
        [DRBD_CONN_NETWORK_FAILURE] = "NetworkFailure",
        [DRBD_CONN_PROTOCOL_ERROR] = "ProtocolError",
        [DRBD_CONN_CONNECTING] = "Connecting",
        [DRBD_CONN_TEAR_DOWN] = "TearDown",
        [DRBD_CONN_CONNECTED] = "Connected",
};

static const char *const disk_table[_DRBD_DISK_MAX] = {
        [DRBD_DISK_DISKLESS] = "Diskless",
        [DRBD_DISK_ATTACHING] = "Attaching",
        [DRBD_DISK_DETACHING] = "Detaching",
        [DRBD_DISK_FAILED] = "Failed",
        [DRBD_DISK_NEGOTIATING] = "Negotiating",
        [DRBD_DISK_INCONSISTENT] = "Inconsistent",
        [DRBD_DISK_OUTDATED] = "Outdated",
        [DRBD_DISK_DUNKNOWN] = "DUnknown",
        [DRBD_DISK_CONSISTENT] = "Consistent",
        [DRBD_DISK_UPTODATE] = "UpToDate",
};

static const char *const repl_table[_DRBD_REPL_MAX] = {
        [DRBD_REPL_OFF] = "Off",
        [DRBD_REPL_ESTABLISHED] = "Established",
        [DRBD_REPL_STARTING_SYNC_S] = "StartingSyncS",
        [DRBD_REPL_STARTING_SYNC_T] = "StartingSyncT",
        [DRBD_REPL_WF_BITMAP_S] = "WFBitMapS",
        [DRBD_REPL_WF_BITMAP_T] = "WFBitMapT",
        [DRBD_REPL_WF_SYNC_UUID] = "WFSyncUUID",
        [DRBD_REPL_SYNC_SOURCE] = "SyncSource",
        [DRBD_REPL_SYNC_TARGET] = "SyncTarget",
        [DRBD_REPL_VERIFY_S] = "VerifyS",
        [DRBD_REPL_VERIFY_T] = "VerifyT",
        [DRBD_REPL_PAUSED_SYNC_S] = "PausedSyncS",
        [DRBD_REPL_PAUSED_SYNC_T] = "PausedSyncT",
        [DRBD_REPL_AHEAD] = "Ahead",
        [DRBD_REPL_BEHIND] = "Behind",
};

static int table_lookup(const char *const *table, unsigned n, const char *s) {
        for (unsigned i = 0; s && i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

#define DEFINE_STRING_TABLE(prefix, type, table, max)                    \
        const char *prefix##_to_string(type v) {                         \
                return (unsigned) v < (max) ? table[v] : NULL;           \
        }                                                                \
        int prefix##_from_string(const char *s) {                        \
                return table_lookup(table, (max), s);                    \
        }

DEFINE_STRING_TABLE(events2_action, Events2Action, action_table, _EVENTS2_ACTION_MAX)
DEFINE_STRING_TABLE(events2_object, Events2Object, object_table, _EVENTS2_OBJECT_MAX)
DEFINE_STRING_TABLE(drbd_role, DrbdRole, role_table, _DRBD_ROLE_MAX)
DEFINE_STRING_TABLE(drbd_conn_state, DrbdConnState, conn_table, _DRBD_CONN_MAX)
DEFINE_STRING_TABLE(drbd_disk_state, DrbdDiskState, disk_table, _DRBD_DISK_MAX)
DEFINE_STRING_TABLE(drbd_repl_state, DrbdReplState, repl_table, _DRBD_REPL_MAX)

bool drbd_repl_state_is_resync(DrbdReplState r) {
        switch (r) {
        case DRBD_REPL_STARTING_SYNC_S:
        case DRBD_REPL_STARTING_SYNC_T:
        case DRBD_REPL_WF_BITMAP_S:
        case DRBD_REPL_WF_BITMAP_T:
        case DRBD_REPL_WF_SYNC_UUID:
        case DRBD_REPL_SYNC_SOURCE:
        case DRBD_REPL_SYNC_TARGET:
        case DRBD_REPL_PAUSED_SYNC_S:
        case DRBD_REPL_PAUSED_SYNC_T:
                return true;
        default:
                return false;
        }
}

/* Resync and online verify both report progress. */
static bool repl_state_has_progress(DrbdReplState r) {
        return drbd_repl_state_is_resync(r) || r == DRBD_REPL_VERIFY_S || r == DRBD_REPL_VERIFY_T;
}

/* ---- value parsers (all strict: no signs, spaces or trailing junk) ---- */

static int parse_u64(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!*s || strlen(s) > 20)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        if (v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret) {
        uint64_t v;
        int r = parse_u64(s, max, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

static int parse_int(const char *s, int *ret) {
        uint64_t v;
        bool neg = *s == '-';
        int r = parse_u64(s + neg, (uint64_t) INT32_MAX + neg, &v);
        if (r < 0)
                return r;
        *ret = neg ? (int) -(int64_t) v : (int) v;
        return 0;
}

static int parse_yes_no(const char *s, bool *ret) {
        if (streq(s, "yes"))
                *ret = true;
        else if (streq(s, "no"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* "37.12": percent with up to 6 decimals, 0 .. 100. Parsed without strtod
 * so that the locale cannot change the meaning. */
static int parse_percent(const char *s, double *ret) {
        uint64_t ip = 0, frac = 0, scale = 1;
        const char *p = s;
        unsigned n;

        for (n = 0; *p >= '0' && *p <= '9'; p++, n++)
                ip = ip * 10 + (uint64_t) (*p - '0');
        if (n == 0 || n > 3)
                return -EINVAL;
        if (*p == '.') {
                p++;
                for (n = 0; *p >= '0' && *p <= '9'; p++, n++) {
                        frac = frac * 10 + (uint64_t) (*p - '0');
                        scale *= 10;
                }
                if (n == 0 || n > 6)
                        return -EINVAL;
        }
        if (*p)
                return -EINVAL;
        double v = (double) ip + (double) frac / (double) scale;
        if (v > 100.0)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Resource and connection names: printable, no spaces, bounded. */
static int parse_name(const char *s, char *ret, size_t size) {
        size_t n = strlen(s);
        if (n == 0 || n >= size)
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (*p <= ' ' || *p > '~')
                        return -EINVAL;
        memcpy(ret, s, n + 1);
        return 0;
}

/* "no" or a comma-separated list of lower-case words (suspend reasons). */
static int parse_word_list(const char *s, char *ret, size_t size) {
        size_t n = strlen(s);
        if (n == 0 || n >= size || s[0] == ',' || s[n - 1] == ',' || strstr(s, ",,"))
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == ','))
                        return -EINVAL;
        memcpy(ret, s, n + 1);
        return 0;
}

static bool digits(const char *s, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* 2024-01-02T03:04:05[.123456](Z|+01:00) as printed by --timestamps. */
static bool is_timestamp(const char *s) {
        if (strlen(s) >= EVENTS2_WORD_MAX)
                return false;
        if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
            s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
            !digits(s + 17, 2))
                return false;
        s += 19;
        if (*s == '.') {
                unsigned n = 0;
                for (s++; *s >= '0' && *s <= '9'; s++)
                        n++;
                if (n == 0 || n > 9)
                        return false;
        }
        if (streq(s, "Z"))
                return true;
        return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2) && s[6] == 0;
}

/* ---- line parser ---- */

typedef enum FieldType {
        FT_NAME,
        FT_UINT,
        FT_U64,
        FT_INT,
        FT_YES_NO,
        FT_WORDS,
        FT_PERCENT,
        FT_ROLE,
        FT_CONN,
        FT_DISK,
        FT_REPL,
} FieldType;

typedef struct FieldSpec {
        const char *key;
        Events2Field field; /* or 0 for a statistic: */
        Events2Stat stat;
        FieldType type;
        unsigned max; /* FT_UINT */
        size_t offset;
        size_t size; /* FT_NAME, FT_WORDS: buffer size */
} FieldSpec;

#define F(key, field, type, max, member)                                                  \
        { key, field, 0, type, max, offsetof(Events2Event, member), sizeof(((Events2Event *) 0)->member) }
#define S(key, stat, type, member)                                                        \
        { key, 0, stat, type, 0, offsetof(Events2Event, member), sizeof(((Events2Event *) 0)->member) }

static const FieldSpec field_specs[] = {
        F("name", EVENTS2_F_NAME, FT_NAME, 0, name),
        F("peer-node-id", EVENTS2_F_PEER_NODE_ID, FT_UINT, 31, peer_node_id),
        F("conn-name", EVENTS2_F_CONN_NAME, FT_NAME, 0, conn_name),
        F("volume", EVENTS2_F_VOLUME, FT_UINT, 65535, volume),
        F("minor", EVENTS2_F_MINOR, FT_UINT, (1u << 20) - 1, minor),
        F("role", EVENTS2_F_ROLE, FT_ROLE, 0, role),
        F("suspended", EVENTS2_F_SUSPENDED, FT_WORDS, 0, suspended),
        F("connection", EVENTS2_F_CONNECTION, FT_CONN, 0, connection),
        F("disk", EVENTS2_F_DISK, FT_DISK, 0, disk),
        F("client", EVENTS2_F_CLIENT, FT_YES_NO, 0, client),
        F("quorum", EVENTS2_F_QUORUM, FT_YES_NO, 0, quorum),
        F("open", EVENTS2_F_OPEN, FT_YES_NO, 0, open),
        F("size", EVENTS2_F_SIZE, FT_U64, 0, size_kib),
        F("replication", EVENTS2_F_REPLICATION, FT_REPL, 0, replication),
        F("peer-disk", EVENTS2_F_PEER_DISK, FT_DISK, 0, peer_disk),
        F("peer-client", EVENTS2_F_PEER_CLIENT, FT_YES_NO, 0, peer_client),
        F("resync-suspended", EVENTS2_F_RESYNC_SUSPENDED, FT_WORDS, 0, resync_suspended),
        F("done", EVENTS2_F_DONE, FT_PERCENT, 0, done),
        F("out-of-sync", EVENTS2_F_OUT_OF_SYNC, FT_U64, 0, out_of_sync_kib),
        F("helper", EVENTS2_F_HELPER, FT_WORDS, 0, helper),
        F("status", EVENTS2_F_STATUS, FT_INT, 0, status),
        F("new_name", EVENTS2_F_NEW_NAME, FT_NAME, 0, new_name),
        F("may_promote", EVENTS2_F_MAY_PROMOTE, FT_YES_NO, 0, may_promote),
        F("promotion_score", EVENTS2_F_PROMOTION_SCORE, FT_UINT, UINT32_MAX, promotion_score),
        S("read", EVENTS2_S_READ, FT_U64, read_kib),
        S("written", EVENTS2_S_WRITTEN, FT_U64, written_kib),
        S("al-writes", EVENTS2_S_AL_WRITES, FT_U64, al_writes),
        S("bm-writes", EVENTS2_S_BM_WRITES, FT_U64, bm_writes),
        S("upper-pending", EVENTS2_S_UPPER_PENDING, FT_U64, upper_pending),
        S("lower-pending", EVENTS2_S_LOWER_PENDING, FT_U64, lower_pending),
        S("al-suspended", EVENTS2_S_AL_SUSPENDED, FT_YES_NO, al_suspended),
        S("congested", EVENTS2_S_CONGESTED, FT_YES_NO, congested),
        S("ap-in-flight", EVENTS2_S_AP_IN_FLIGHT, FT_U64, ap_in_flight),
        S("rs-in-flight", EVENTS2_S_RS_IN_FLIGHT, FT_U64, rs_in_flight),
        S("received", EVENTS2_S_RECEIVED, FT_U64, received_kib),
        S("sent", EVENTS2_S_SENT, FT_U64, sent_kib),
        S("pending", EVENTS2_S_PENDING, FT_U64, pending),
        S("unacked", EVENTS2_S_UNACKED, FT_U64, unacked),
};
#undef F
#undef S

static int parse_enum(const char *v, int (*from_string)(const char *), void *dst) {
        int r = from_string(v);
        if (r < 0)
                return r;
        *(int *) dst = r; /* all state enums are int-sized */
        return 0;
}

static int parse_field(const FieldSpec *f, const char *v, Events2Event *e) {
        void *dst = (char *) e + f->offset;

        switch (f->type) {
        case FT_NAME:
                return parse_name(v, dst, f->size);
        case FT_WORDS:
                return parse_word_list(v, dst, f->size);
        case FT_UINT:
                return parse_uint(v, f->max, dst);
        case FT_U64:
                return parse_u64(v, UINT64_MAX, dst);
        case FT_INT:
                return parse_int(v, dst);
        case FT_YES_NO:
                return parse_yes_no(v, dst);
        case FT_PERCENT:
                return parse_percent(v, dst);
        case FT_ROLE:
                return parse_enum(v, drbd_role_from_string, dst);
        case FT_CONN:
                return parse_enum(v, drbd_conn_state_from_string, dst);
        case FT_DISK:
                return parse_enum(v, drbd_disk_state_from_string, dst);
        case FT_REPL:
                return parse_enum(v, drbd_repl_state_from_string, dst);
        }
        return -EINVAL;
}

static bool key_valid(const char *k) {
        size_t n = strlen(k);
        if (n == 0 || n > EVENTS2_KEY_MAX)
                return false;
        for (; *k; k++)
                if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '-' || *k == '_'))
                        return false;
        return true;
}

/* Which fields each object needs so that the state can place it. */
static uint32_t required_fields(Events2Object o) {
        switch (o) {
        case EVENTS2_RESOURCE:
                return EVENTS2_F_NAME;
        case EVENTS2_CONNECTION:
        case EVENTS2_PATH:
                return EVENTS2_F_NAME | EVENTS2_F_PEER_NODE_ID;
        case EVENTS2_DEVICE:
                return EVENTS2_F_NAME | EVENTS2_F_VOLUME;
        case EVENTS2_PEER_DEVICE:
                return EVENTS2_F_NAME | EVENTS2_F_PEER_NODE_ID | EVENTS2_F_VOLUME;
        case EVENTS2_HELPER:
                return EVENTS2_F_NAME | EVENTS2_F_HELPER;
        default:
                return 0;
        }
}

static bool action_fits_object(Events2Action a, Events2Object o) {
        switch (o) {
        case EVENTS2_HELPER:
                return a == EVENTS2_CALL || a == EVENTS2_RESPONSE;
        case EVENTS2_END_OF_DUMP:
                return a == EVENTS2_EXISTS;
        case EVENTS2_RESOURCE:
                return a != EVENTS2_CALL && a != EVENTS2_RESPONSE;
        default:
                return a != EVENTS2_CALL && a != EVENTS2_RESPONSE && a != EVENTS2_RENAME;
        }
}

int events2_parse_line(const char *line, Events2Event *ret) {
        char buf[EVENTS2_LINE_MAX + 1];
        char *tokens[EVENTS2_TOKENS_MAX];
        unsigned n_tokens = 0, i = 0;
        Events2Event e = {};
        size_t len;
        int r;

        if (!line || !ret)
                return -EINVAL;
        len = strnlen(line, EVENTS2_LINE_MAX + 1);
        if (len > EVENTS2_LINE_MAX)
                return -EINVAL;
        memcpy(buf, line, len + 1);
        if (len > 0 && buf[len - 1] == '\r')
                buf[--len] = 0;
        for (size_t k = 0; k < len; k++)
                if ((unsigned char) buf[k] < ' ' || (unsigned char) buf[k] > '~')
                        return -EINVAL;

        for (char *p = buf; *p;) {
                while (*p == ' ')
                        *p++ = 0;
                if (!*p)
                        break;
                if (n_tokens >= EVENTS2_TOKENS_MAX)
                        return -EINVAL;
                tokens[n_tokens++] = p;
                while (*p && *p != ' ')
                        p++;
        }

        if (n_tokens > 0 && tokens[0][0] >= '0' && tokens[0][0] <= '9') {
                if (!is_timestamp(tokens[0]))
                        return -EINVAL;
                strcpy(e.timestamp, tokens[0]); /* length checked by is_timestamp() */
                e.fields |= EVENTS2_F_TIMESTAMP;
                i++;
        }
        if (n_tokens < i + 2)
                return -EINVAL;
        r = events2_action_from_string(tokens[i++]);
        if (r < 0)
                return r;
        e.action = (Events2Action) r;
        r = events2_object_from_string(tokens[i++]);
        if (r < 0)
                return r;
        e.object = (Events2Object) r;
        if (!action_fits_object(e.action, e.object))
                return -EINVAL;
        if (e.object == EVENTS2_END_OF_DUMP && i != n_tokens)
                return -EINVAL;

        for (; i < n_tokens; i++) {
                char *key = tokens[i], *colon = strchr(key, ':');
                const FieldSpec *spec = NULL;

                if (!colon)
                        return -EINVAL;
                *colon = 0;
                if (!key_valid(key))
                        return -EINVAL;
                for (size_t k = 0; k < ELEMENTSOF(field_specs); k++)
                        if (streq(field_specs[k].key, key)) {
                                spec = &field_specs[k];
                                break;
                        }
                if (!spec)
                        continue; /* other statistics and fields of newer versions */
                if ((e.fields & spec->field) || (e.stats & spec->stat))
                        return -EINVAL;
                r = parse_field(spec, colon + 1, &e);
                if (r < 0)
                        return r;
                e.fields |= spec->field;
                e.stats |= spec->stat;
        }

        uint32_t need = required_fields(e.object);
        if (e.action == EVENTS2_RENAME)
                need |= EVENTS2_F_NEW_NAME;
        if ((e.fields & need) != need)
                return -EINVAL;

        *ret = e;
        return 0;
}

/* ---- splitter ---- */

void events2_splitter_init(Events2Splitter *s) {
        s->len = 0;
        s->overlong = false;
        s->has_nul = false;
        s->dropped = 0;
}

uint64_t events2_splitter_dropped(const Events2Splitter *s) {
        return s->dropped;
}

static int splitter_emit(Events2Splitter *s, Events2LineFn cb, void *userdata) {
        bool drop = s->overlong || s->has_nul;
        size_t len = s->len;

        s->len = 0;
        s->overlong = s->has_nul = false;
        if (drop) {
                s->dropped++;
                return 0;
        }
        if (len > 0 && s->buf[len - 1] == '\r')
                len--;
        if (len == 0)
                return 0;
        s->buf[len] = 0;
        return cb(s->buf, len, userdata);
}

int events2_splitter_feed(Events2Splitter *s, const void *data, size_t len, Events2LineFn cb, void *userdata) {
        const char *p = data, *end = p + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = (size_t) ((nl ? nl : end) - p);

                if (!s->overlong) {
                        if (n > EVENTS2_LINE_MAX - s->len) {
                                s->overlong = true;
                                s->len = 0;
                        } else {
                                if (memchr(p, 0, n))
                                        s->has_nul = true;
                                memcpy(s->buf + s->len, p, n);
                                s->len += n;
                        }
                }
                if (!nl)
                        break;
                p = nl + 1;
                int r = splitter_emit(s, cb, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int events2_splitter_finish(Events2Splitter *s, Events2LineFn cb, void *userdata) {
        if (s->len == 0 && !s->overlong && !s->has_nul)
                return 0;
        return splitter_emit(s, cb, userdata);
}

/* ---- observed state ---- */

struct DrbdState {
        DrbdResource *resources; /* sorted by name */
        size_t n_resources;
        bool dump_complete;
};

static void connection_done(DrbdConnection *c) {
        free(c->peer_devices);
        c->peer_devices = NULL;
        c->n_peer_devices = 0;
}

static void resource_done(DrbdResource *r) {
        for (size_t i = 0; i < r->n_connections; i++)
                connection_done(&r->connections[i]);
        free(r->connections);
        free(r->devices);
        r->connections = NULL;
        r->devices = NULL;
        r->n_connections = r->n_devices = 0;
}

int drbd_state_new(DrbdState **ret) {
        DrbdState *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void drbd_state_reset(DrbdState *s) {
        for (size_t i = 0; i < s->n_resources; i++)
                resource_done(&s->resources[i]);
        free(s->resources);
        s->resources = NULL;
        s->n_resources = 0;
        s->dump_complete = false;
}

DrbdState *drbd_state_free(DrbdState *s) {
        if (!s)
                return NULL;
        drbd_state_reset(s);
        free(s);
        return NULL;
}

bool drbd_state_dump_complete(const DrbdState *s) {
        return s->dump_complete;
}

size_t drbd_state_n_resources(const DrbdState *s) {
        return s->n_resources;
}

const DrbdResource *drbd_state_resource(const DrbdState *s, size_t i) {
        return i < s->n_resources ? &s->resources[i] : NULL;
}

/* Binary searches: index of the element, or ~insertion point (negative). */
static ssize_t resource_search(const DrbdState *s, const char *name) {
        size_t lo = 0, hi = s->n_resources;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(s->resources[mid].name, name);
                if (c == 0)
                        return (ssize_t) mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return ~(ssize_t) lo;
}

#define DEFINE_KEY_SEARCH(fname, ctype, etype, arr, count, keyfield)           \
        static ssize_t fname(const ctype *p, unsigned key) {                  \
                size_t lo = 0, hi = p->count;                                 \
                while (lo < hi) {                                             \
                        size_t mid = (lo + hi) / 2;                           \
                        const etype *x = &p->arr[mid];                        \
                        if (x->keyfield == key)                               \
                                return (ssize_t) mid;                         \
                        if (x->keyfield < key)                                \
                                lo = mid + 1;                                 \
                        else                                                  \
                                hi = mid;                                     \
                }                                                             \
                return ~(ssize_t) lo;                                         \
        }

DEFINE_KEY_SEARCH(connection_search, DrbdResource, DrbdConnection, connections, n_connections, peer_node_id)
DEFINE_KEY_SEARCH(device_search, DrbdResource, DrbdDevice, devices, n_devices, volume)
DEFINE_KEY_SEARCH(peer_device_search, DrbdConnection, DrbdPeerDevice, peer_devices, n_peer_devices, volume)

const DrbdResource *drbd_state_find_resource(const DrbdState *s, const char *name) {
        ssize_t i = name ? resource_search(s, name) : -1;
        return i >= 0 ? &s->resources[i] : NULL;
}

const DrbdConnection *drbd_resource_find_connection(const DrbdResource *r, unsigned peer_node_id) {
        ssize_t i = connection_search(r, peer_node_id);
        return i >= 0 ? &r->connections[i] : NULL;
}

const DrbdDevice *drbd_resource_find_device(const DrbdResource *r, unsigned volume) {
        ssize_t i = device_search(r, volume);
        return i >= 0 ? &r->devices[i] : NULL;
}

const DrbdPeerDevice *drbd_connection_find_peer_device(const DrbdConnection *c, unsigned volume) {
        ssize_t i = peer_device_search(c, volume);
        return i >= 0 ? &c->peer_devices[i] : NULL;
}

/* Makes room for one more element (realloc to n + 1); the logical content is
 * unchanged, so a failure leaves the state as it was. */
static int reserve(void **arr, size_t n, size_t size) {
        void *p = realloc(*arr, (n + 1) * size);
        if (!p)
                return -ENOMEM;
        *arr = p;
        return 0;
}

/* Inserts at pos into an array reserved for n + 1 elements. */
static void *insert_at(void *arr, size_t *n, size_t pos, size_t size) {
        char *a = arr;
        memmove(a + (pos + 1) * size, a + pos * size, (*n - pos) * size);
        memset(a + pos * size, 0, size);
        (*n)++;
        return a + pos * size;
}

static void remove_at(void *arr, size_t *n, size_t pos, size_t size) {
        char *a = arr;
        memmove(a + pos * size, a + (pos + 1) * size, (*n - pos - 1) * size);
        (*n)--;
}

static void apply_resource_fields(DrbdResource *r, const Events2Event *e) {
        if (e->fields & EVENTS2_F_ROLE) {
                r->role = e->role;
                r->has_role = true;
        }
        if (e->fields & EVENTS2_F_SUSPENDED)
                memcpy(r->suspended, e->suspended, sizeof(r->suspended));
        if (e->fields & EVENTS2_F_MAY_PROMOTE) {
                r->may_promote = e->may_promote;
                r->has_may_promote = true;
        }
        if (e->fields & EVENTS2_F_PROMOTION_SCORE) {
                r->promotion_score = e->promotion_score;
                r->has_promotion_score = true;
        }
}

/* Statistics: each one present on the line replaces the value kept. */
#define STAT(obj, e, bit, member)                     \
        do {                                          \
                if ((e)->stats & (bit)) {             \
                        (obj)->member = (e)->member;  \
                        (obj)->stats |= (bit);        \
                }                                     \
        } while (0)

static void apply_connection_fields(DrbdConnection *c, const Events2Event *e) {
        if (e->fields & EVENTS2_F_CONN_NAME)
                memcpy(c->conn_name, e->conn_name, sizeof(c->conn_name));
        if (e->fields & EVENTS2_F_CONNECTION) {
                c->connection = e->connection;
                c->has_connection = true;
        }
        if (e->fields & EVENTS2_F_ROLE) {
                c->peer_role = e->role;
                c->has_peer_role = true;
        }
        STAT(c, e, EVENTS2_S_CONGESTED, congested);
        STAT(c, e, EVENTS2_S_AP_IN_FLIGHT, ap_in_flight);
        STAT(c, e, EVENTS2_S_RS_IN_FLIGHT, rs_in_flight);
}

static void apply_device_fields(DrbdDevice *d, const Events2Event *e) {
        if (e->fields & EVENTS2_F_MINOR) {
                d->minor = e->minor;
                d->has_minor = true;
        }
        if (e->fields & EVENTS2_F_DISK) {
                d->disk = e->disk;
                d->has_disk = true;
        }
        if (e->fields & EVENTS2_F_CLIENT) {
                d->client = e->client;
                d->has_client = true;
        }
        if (e->fields & EVENTS2_F_QUORUM) {
                d->quorum = e->quorum;
                d->has_quorum = true;
        }
        if (e->fields & EVENTS2_F_OPEN) {
                d->open = e->open;
                d->has_open = true;
        }
        if (e->fields & EVENTS2_F_SIZE) {
                d->size_kib = e->size_kib;
                d->has_size = true;
        }
        STAT(d, e, EVENTS2_S_READ, read_kib);
        STAT(d, e, EVENTS2_S_WRITTEN, written_kib);
        STAT(d, e, EVENTS2_S_AL_WRITES, al_writes);
        STAT(d, e, EVENTS2_S_BM_WRITES, bm_writes);
        STAT(d, e, EVENTS2_S_UPPER_PENDING, upper_pending);
        STAT(d, e, EVENTS2_S_LOWER_PENDING, lower_pending);
        STAT(d, e, EVENTS2_S_AL_SUSPENDED, al_suspended);
}

static void apply_peer_device_fields(DrbdPeerDevice *pd, const Events2Event *e) {
        if (e->fields & EVENTS2_F_REPLICATION) {
                pd->replication = e->replication;
                pd->has_replication = true;
                if (!repl_state_has_progress(e->replication))
                        pd->has_done = false;
        }
        if (e->fields & EVENTS2_F_PEER_DISK) {
                pd->peer_disk = e->peer_disk;
                pd->has_peer_disk = true;
        }
        if (e->fields & EVENTS2_F_PEER_CLIENT) {
                pd->peer_client = e->peer_client;
                pd->has_peer_client = true;
        }
        if (e->fields & EVENTS2_F_RESYNC_SUSPENDED)
                memcpy(pd->resync_suspended, e->resync_suspended, sizeof(pd->resync_suspended));
        if (e->fields & EVENTS2_F_DONE) {
                pd->done = e->done;
                pd->has_done = true;
        }
        if (e->fields & EVENTS2_F_OUT_OF_SYNC) {
                pd->out_of_sync_kib = e->out_of_sync_kib;
                pd->has_out_of_sync = true;
        }
        STAT(pd, e, EVENTS2_S_RECEIVED, received_kib);
        STAT(pd, e, EVENTS2_S_SENT, sent_kib);
        STAT(pd, e, EVENTS2_S_PENDING, pending);
        STAT(pd, e, EVENTS2_S_UNACKED, unacked);
}
#undef STAT

static int state_destroy(DrbdState *s, const Events2Event *e) {
        ssize_t ri = resource_search(s, e->name), i;
        DrbdResource *r;

        if (ri < 0)
                return 0; /* already gone: nothing to do */
        r = &s->resources[ri];
        switch (e->object) {
        case EVENTS2_RESOURCE:
                resource_done(r);
                remove_at(s->resources, &s->n_resources, (size_t) ri, sizeof(*r));
                break;
        case EVENTS2_CONNECTION:
                i = connection_search(r, e->peer_node_id);
                if (i >= 0) {
                        connection_done(&r->connections[i]);
                        remove_at(r->connections, &r->n_connections, (size_t) i, sizeof(DrbdConnection));
                }
                break;
        case EVENTS2_DEVICE:
                i = device_search(r, e->volume);
                if (i >= 0)
                        remove_at(r->devices, &r->n_devices, (size_t) i, sizeof(DrbdDevice));
                break;
        case EVENTS2_PEER_DEVICE:
                i = connection_search(r, e->peer_node_id);
                if (i >= 0) {
                        DrbdConnection *c = &r->connections[i];
                        ssize_t k = peer_device_search(c, e->volume);
                        if (k >= 0)
                                remove_at(c->peer_devices, &c->n_peer_devices, (size_t) k, sizeof(DrbdPeerDevice));
                }
                break;
        default:
                break;
        }
        return 0;
}

static int state_rename(DrbdState *s, const Events2Event *e) {
        ssize_t from = resource_search(s, e->name), to;
        DrbdResource moved;

        if (from < 0)
                return 0;
        if (streq(e->name, e->new_name))
                return 0;
        if (resource_search(s, e->new_name) >= 0)
                return -EINVAL; /* two resources would share a name */
        moved = s->resources[from];
        remove_at(s->resources, &s->n_resources, (size_t) from, sizeof(moved));
        memcpy(moved.name, e->new_name, sizeof(moved.name));
        to = resource_search(s, moved.name);
        *(DrbdResource *) insert_at(s->resources, &s->n_resources, (size_t) ~to, sizeof(moved)) = moved;
        return 0;
}

/* exists / create / change: find or create the object and its parents.
 * All allocations happen before the first visible change. */
static int state_upsert(DrbdState *s, const Events2Event *e) {
        DrbdResource fresh = {}, *r;
        ssize_t ri = resource_search(s, e->name);
        int rc;

        if (ri >= 0)
                r = &s->resources[ri];
        else {
                if (s->n_resources >= DRBD_STATE_RESOURCES_MAX)
                        return -ENOSPC;
                rc = reserve((void **) &s->resources, s->n_resources, sizeof(DrbdResource));
                if (rc < 0)
                        return rc;
                memcpy(fresh.name, e->name, sizeof(fresh.name));
                r = &fresh;
        }

        switch (e->object) {
        case EVENTS2_RESOURCE:
                apply_resource_fields(r, e);
                break;

        case EVENTS2_DEVICE: {
                ssize_t di = device_search(r, e->volume);
                DrbdDevice *d;
                if (di < 0) {
                        if (r->n_devices >= DRBD_STATE_VOLUMES_MAX)
                                return -ENOSPC; /* fresh has nothing allocated yet */
                        rc = reserve((void **) &r->devices, r->n_devices, sizeof(DrbdDevice));
                        if (rc < 0)
                                return rc;
                        d = insert_at(r->devices, &r->n_devices, (size_t) ~di, sizeof(DrbdDevice));
                        d->volume = e->volume;
                } else
                        d = &r->devices[di];
                apply_device_fields(d, e);
                break;
        }

        case EVENTS2_CONNECTION:
        case EVENTS2_PEER_DEVICE: {
                ssize_t ci = connection_search(r, e->peer_node_id), pi = 0;
                DrbdConnection *c = ci >= 0 ? &r->connections[ci] : NULL;
                DrbdPeerDevice *pd;
                bool need_pd = e->object == EVENTS2_PEER_DEVICE;

                if (need_pd) {
                        pi = c ? peer_device_search(c, e->volume) : -1;
                        if (pi < 0 && c && c->n_peer_devices >= DRBD_STATE_VOLUMES_MAX) {
                                if (r == &fresh)
                                        resource_done(&fresh);
                                return -ENOSPC;
                        }
                }
                if (!c) {
                        rc = reserve((void **) &r->connections, r->n_connections, sizeof(DrbdConnection));
                        if (rc < 0) {
                                if (r == &fresh)
                                        resource_done(&fresh);
                                return rc;
                        }
                }
                if (need_pd && pi < 0) {
                        /* The peer-device array of a new connection starts empty. */
                        DrbdPeerDevice **arr = c ? &c->peer_devices : NULL;
                        DrbdPeerDevice *tmp = NULL;
                        rc = reserve((void **) (arr ? arr : &tmp), c ? c->n_peer_devices : 0, sizeof(DrbdPeerDevice));
                        if (rc < 0) {
                                if (r == &fresh)
                                        resource_done(&fresh);
                                return rc;
                        }
                        if (!c) {
                                c = insert_at(r->connections, &r->n_connections, (size_t) ~ci, sizeof(DrbdConnection));
                                c->peer_node_id = e->peer_node_id;
                                c->peer_devices = tmp;
                        }
                } else if (!c) {
                        c = insert_at(r->connections, &r->n_connections, (size_t) ~ci, sizeof(DrbdConnection));
                        c->peer_node_id = e->peer_node_id;
                }

                if (!need_pd) {
                        apply_connection_fields(c, e);
                        break;
                }
                if (e->fields & EVENTS2_F_CONN_NAME)
                        memcpy(c->conn_name, e->conn_name, sizeof(c->conn_name));
                if (pi < 0) {
                        pd = insert_at(c->peer_devices, &c->n_peer_devices, (size_t) ~pi, sizeof(DrbdPeerDevice));
                        pd->volume = e->volume;
                } else
                        pd = &c->peer_devices[pi];
                apply_peer_device_fields(pd, e);
                break;
        }

        default:
                break;
        }

        if (r == &fresh)
                *(DrbdResource *) insert_at(s->resources, &s->n_resources, (size_t) ~ri, sizeof(DrbdResource)) = fresh;
        return 0;
}

int drbd_state_apply(DrbdState *s, const Events2Event *e) {
        uint32_t need;

        if (!s || !e || (unsigned) e->action >= _EVENTS2_ACTION_MAX || (unsigned) e->object >= _EVENTS2_OBJECT_MAX)
                return -EINVAL;
        if (e->object == EVENTS2_END_OF_DUMP) {
                if (e->action == EVENTS2_EXISTS)
                        s->dump_complete = true;
                return 0;
        }
        need = required_fields(e->object);
        if ((e->fields & need) != need || (e->action == EVENTS2_RENAME && !(e->fields & EVENTS2_F_NEW_NAME)))
                return -EINVAL;
        /* Events may be built by hand: bounds as the parser enforces them. */
        if (strnlen(e->name, sizeof(e->name)) >= sizeof(e->name) ||
            strnlen(e->new_name, sizeof(e->new_name)) >= sizeof(e->new_name) ||
            strnlen(e->conn_name, sizeof(e->conn_name)) >= sizeof(e->conn_name) ||
            strnlen(e->suspended, sizeof(e->suspended)) >= sizeof(e->suspended) ||
            strnlen(e->resync_suspended, sizeof(e->resync_suspended)) >= sizeof(e->resync_suspended) ||
            e->peer_node_id > 31 || e->volume > 65535 || !e->name[0])
                return -EINVAL;

        if (e->action == EVENTS2_EXISTS && s->dump_complete)
                drbd_state_reset(s); /* a new initial dump begins */

        switch (e->object) {
        case EVENTS2_HELPER:
        case EVENTS2_PATH:
                return 0;
        default:
                break;
        }
        switch (e->action) {
        case EVENTS2_DESTROY:
                return state_destroy(s, e);
        case EVENTS2_RENAME:
                return e->object == EVENTS2_RESOURCE ? state_rename(s, e) : -EINVAL;
        case EVENTS2_EXISTS:
        case EVENTS2_CREATE:
        case EVENTS2_CHANGE:
                return state_upsert(s, e);
        default:
                return -EINVAL;
        }
}

int drbd_peer_device_sync_progress(const DrbdResource *r, const DrbdPeerDevice *pd, double *ret) {
        const DrbdDevice *d;

        if (!pd || !pd->has_replication || !repl_state_has_progress(pd->replication))
                return -ENODATA;
        if (pd->has_done) {
                *ret = pd->done;
                return 0;
        }
        d = r ? drbd_resource_find_device(r, pd->volume) : NULL;
        if (!pd->has_out_of_sync || !d || !d->has_size || d->size_kib == 0)
                return -ENODATA;
        if (pd->out_of_sync_kib >= d->size_kib)
                *ret = 0.0;
        else /* two decimals, like DRBD 9's done: */
                *ret = (double) ((d->size_kib - pd->out_of_sync_kib) * 10000 / d->size_kib) / 100.0;
        return 0;
}

/* ---- JSON ---- */

static int json_set(json_t *o, const char *key, json_t *v) {
        return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static int json_set_opt_str(json_t *o, const char *key, bool has, const char *v) {
        return has && v ? json_set(o, key, json_string(v)) : 0;
}

static int peer_device_to_json(const DrbdResource *r, const DrbdPeerDevice *pd, json_t **ret) {
        _cleanup_json_ json_t *o = json_object();
        double progress;
        int rc = o ? 0 : -ENOMEM;

        if (rc >= 0)
                rc = json_set(o, "volume", json_integer(pd->volume));
        if (rc >= 0)
                rc = json_set_opt_str(o, "replication", pd->has_replication, drbd_repl_state_to_string(pd->replication));
        if (rc >= 0)
                rc = json_set_opt_str(o, "peer_disk", pd->has_peer_disk, drbd_disk_state_to_string(pd->peer_disk));
        if (rc >= 0 && pd->has_peer_client)
                rc = json_set(o, "peer_client", json_boolean(pd->peer_client));
        if (rc >= 0)
                rc = json_set_opt_str(o, "resync_suspended", pd->resync_suspended[0], pd->resync_suspended);
        if (rc >= 0 && pd->has_out_of_sync)
                rc = json_set(o, "out_of_sync_kib", json_integer((json_int_t) MIN(pd->out_of_sync_kib, (uint64_t) INT64_MAX)));
        if (rc >= 0 && drbd_peer_device_sync_progress(r, pd, &progress) >= 0)
                rc = json_set(o, "sync_progress", json_real(progress));
        if (rc < 0)
                return rc;
        *ret = TAKE_PTR(o);
        return 0;
}

static int connection_to_json(const DrbdResource *r, const DrbdConnection *c, json_t **ret) {
        _cleanup_json_ json_t *o = json_object(), *pds = json_array();
        int rc = o && pds ? 0 : -ENOMEM;

        if (rc >= 0)
                rc = json_set(o, "peer_node_id", json_integer(c->peer_node_id));
        if (rc >= 0)
                rc = json_set_opt_str(o, "conn_name", c->conn_name[0], c->conn_name);
        if (rc >= 0)
                rc = json_set_opt_str(o, "connection", c->has_connection, drbd_conn_state_to_string(c->connection));
        if (rc >= 0)
                rc = json_set_opt_str(o, "peer_role", c->has_peer_role, drbd_role_to_string(c->peer_role));
        for (size_t i = 0; rc >= 0 && i < c->n_peer_devices; i++) {
                json_t *pd = NULL;
                rc = peer_device_to_json(r, &c->peer_devices[i], &pd);
                if (rc >= 0 && json_array_append_new(pds, pd) < 0)
                        rc = -ENOMEM;
        }
        if (rc >= 0)
                rc = json_set(o, "peer_devices", TAKE_PTR(pds));
        if (rc < 0)
                return rc;
        *ret = TAKE_PTR(o);
        return 0;
}

static int device_to_json(const DrbdDevice *d, json_t **ret) {
        _cleanup_json_ json_t *o = json_object();
        int rc = o ? 0 : -ENOMEM;

        if (rc >= 0)
                rc = json_set(o, "volume", json_integer(d->volume));
        if (rc >= 0 && d->has_minor)
                rc = json_set(o, "minor", json_integer(d->minor));
        if (rc >= 0)
                rc = json_set_opt_str(o, "disk", d->has_disk, drbd_disk_state_to_string(d->disk));
        if (rc >= 0 && d->has_client)
                rc = json_set(o, "client", json_boolean(d->client));
        if (rc >= 0 && d->has_quorum)
                rc = json_set(o, "quorum", json_boolean(d->quorum));
        if (rc >= 0 && d->has_open)
                rc = json_set(o, "open", json_boolean(d->open));
        if (rc >= 0 && d->has_size)
                rc = json_set(o, "size_kib", json_integer((json_int_t) MIN(d->size_kib, (uint64_t) INT64_MAX)));
        if (rc < 0)
                return rc;
        *ret = TAKE_PTR(o);
        return 0;
}

static int resource_to_json(const DrbdResource *r, json_t **ret) {
        _cleanup_json_ json_t *o = json_object(), *devs = json_array(), *conns = json_array();
        int rc = o && devs && conns ? 0 : -ENOMEM;

        if (rc >= 0)
                rc = json_set(o, "name", json_string(r->name));
        if (rc >= 0)
                rc = json_set_opt_str(o, "role", r->has_role, drbd_role_to_string(r->role));
        if (rc >= 0)
                rc = json_set_opt_str(o, "suspended", r->suspended[0], r->suspended);
        if (rc >= 0 && r->has_may_promote)
                rc = json_set(o, "may_promote", json_boolean(r->may_promote));
        for (size_t i = 0; rc >= 0 && i < r->n_devices; i++) {
                json_t *d = NULL;
                rc = device_to_json(&r->devices[i], &d);
                if (rc >= 0 && json_array_append_new(devs, d) < 0)
                        rc = -ENOMEM;
        }
        for (size_t i = 0; rc >= 0 && i < r->n_connections; i++) {
                json_t *c = NULL;
                rc = connection_to_json(r, &r->connections[i], &c);
                if (rc >= 0 && json_array_append_new(conns, c) < 0)
                        rc = -ENOMEM;
        }
        if (rc >= 0)
                rc = json_set(o, "devices", TAKE_PTR(devs));
        if (rc >= 0)
                rc = json_set(o, "connections", TAKE_PTR(conns));
        if (rc < 0)
                return rc;
        *ret = TAKE_PTR(o);
        return 0;
}

int drbd_state_to_json(const DrbdState *s, json_t **ret) {
        _cleanup_json_ json_t *o = json_object(), *res = json_array();
        int rc = o && res ? 0 : -ENOMEM;

        if (rc >= 0)
                rc = json_set(o, "dump_complete", json_boolean(s->dump_complete));
        for (size_t i = 0; rc >= 0 && i < s->n_resources; i++) {
                json_t *r = NULL;
                rc = resource_to_json(&s->resources[i], &r);
                if (rc >= 0 && json_array_append_new(res, r) < 0)
                        rc = -ENOMEM;
        }
        if (rc >= 0)
                rc = json_set(o, "resources", TAKE_PTR(res));
        if (rc < 0)
                return rc;
        *ret = TAKE_PTR(o);
        return 0;
}
