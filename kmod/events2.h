/* Parser for `drbdsetup events2` lines, a stream line splitter, and the observed DRBD state they describe. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest line accepted from drbdsetup (the splitter drops longer ones). */
#define EVENTS2_LINE_MAX 4096
/* Longest resource / connection name (DRBD itself allows fewer). */
#define EVENTS2_NAME_MAX 128
/* Longest helper name, suspend-reason list or timestamp. */
#define EVENTS2_WORD_MAX 64

/* ---- vocabulary: every enum has a string table (to_string returns NULL
 * for out-of-range values, from_string returns the value or -EINVAL). ---- */

typedef enum Events2Action {
        EVENTS2_EXISTS,   /* "exists": row of the initial dump */
        EVENTS2_CREATE,   /* "create" */
        EVENTS2_DESTROY,  /* "destroy" */
        EVENTS2_CHANGE,   /* "change" */
        EVENTS2_CALL,     /* "call": a usermode helper is started */
        EVENTS2_RESPONSE, /* "response": the helper returned */
        EVENTS2_RENAME,   /* "rename": resource renamed (new_name:) */
        _EVENTS2_ACTION_MAX,
} Events2Action;

typedef enum Events2Object {
        EVENTS2_RESOURCE,    /* "resource" */
        EVENTS2_CONNECTION,  /* "connection" */
        EVENTS2_DEVICE,      /* "device" */
        EVENTS2_PEER_DEVICE, /* "peer-device" */
        EVENTS2_PATH,        /* "path" (DRBD 9) */
        EVENTS2_HELPER,      /* "helper" (call / response only) */
        EVENTS2_END_OF_DUMP, /* "-" ("exists -": initial dump complete) */
        _EVENTS2_OBJECT_MAX,
} Events2Object;

typedef enum DrbdRole {
        DRBD_ROLE_UNKNOWN,   /* "Unknown" */
        DRBD_ROLE_PRIMARY,   /* "Primary" */
        DRBD_ROLE_SECONDARY, /* "Secondary" */
        _DRBD_ROLE_MAX,
} DrbdRole;

typedef enum DrbdConnState {
        DRBD_CONN_STANDALONE,      /* "StandAlone" */
        DRBD_CONN_DISCONNECTING,   /* "Disconnecting" */
        DRBD_CONN_UNCONNECTED,     /* "Unconnected" */
        DRBD_CONN_TIMEOUT,         /* "Timeout" */
        DRBD_CONN_BROKEN_PIPE,     /* "BrokenPipe" */
        DRBD_CONN_NETWORK_FAILURE, /* "NetworkFailure" */
        DRBD_CONN_PROTOCOL_ERROR,  /* "ProtocolError" */
        DRBD_CONN_CONNECTING,      /* "Connecting" */
        DRBD_CONN_TEAR_DOWN,       /* "TearDown" */
        DRBD_CONN_CONNECTED,       /* "Connected" */
        _DRBD_CONN_MAX,
} DrbdConnState;

typedef enum DrbdDiskState {
        DRBD_DISK_DISKLESS,     /* "Diskless" */
        DRBD_DISK_ATTACHING,    /* "Attaching" */
        DRBD_DISK_DETACHING,    /* "Detaching" */
        DRBD_DISK_FAILED,       /* "Failed" */
        DRBD_DISK_NEGOTIATING,  /* "Negotiating" */
        DRBD_DISK_INCONSISTENT, /* "Inconsistent" */
        DRBD_DISK_OUTDATED,     /* "Outdated" */
        DRBD_DISK_DUNKNOWN,     /* "DUnknown" */
        DRBD_DISK_CONSISTENT,   /* "Consistent" */
        DRBD_DISK_UPTODATE,     /* "UpToDate" */
        _DRBD_DISK_MAX,
} DrbdDiskState;

typedef enum DrbdReplState {
        DRBD_REPL_OFF,             /* "Off" */
        DRBD_REPL_ESTABLISHED,     /* "Established" */
        DRBD_REPL_STARTING_SYNC_S, /* "StartingSyncS" */
        DRBD_REPL_STARTING_SYNC_T, /* "StartingSyncT" */
        DRBD_REPL_WF_BITMAP_S,     /* "WFBitMapS" */
        DRBD_REPL_WF_BITMAP_T,     /* "WFBitMapT" */
        DRBD_REPL_WF_SYNC_UUID,    /* "WFSyncUUID" */
        DRBD_REPL_SYNC_SOURCE,     /* "SyncSource" */
        DRBD_REPL_SYNC_TARGET,     /* "SyncTarget" */
        DRBD_REPL_VERIFY_S,        /* "VerifyS" */
        DRBD_REPL_VERIFY_T,        /* "VerifyT" */
        DRBD_REPL_PAUSED_SYNC_S,   /* "PausedSyncS" */
        DRBD_REPL_PAUSED_SYNC_T,   /* "PausedSyncT" */
        DRBD_REPL_AHEAD,           /* "Ahead" */
        DRBD_REPL_BEHIND,          /* "Behind" */
        _DRBD_REPL_MAX,
} DrbdReplState;

const char *events2_action_to_string(Events2Action a);
int events2_action_from_string(const char *s);
const char *events2_object_to_string(Events2Object o);
int events2_object_from_string(const char *s);
const char *drbd_role_to_string(DrbdRole r);
int drbd_role_from_string(const char *s);
const char *drbd_conn_state_to_string(DrbdConnState c);
int drbd_conn_state_from_string(const char *s);
const char *drbd_disk_state_to_string(DrbdDiskState d);
int drbd_disk_state_from_string(const char *s);
const char *drbd_repl_state_to_string(DrbdReplState r);
int drbd_repl_state_from_string(const char *s);

/* True for the replication states in which a resync is running or about to
 * (StartingSync*, WFBitMap*, WFSyncUUID, Sync*, PausedSync*). */
bool drbd_repl_state_is_resync(DrbdReplState r);

/* ---- one parsed line ---- */

/* Which optional fields a line carried (Events2Event.fields). A "change"
 * carries only what changed; only present fields are applied to the state. */
typedef enum Events2Field {
        EVENTS2_F_NAME             = 1u << 0,  /* name: */
        EVENTS2_F_PEER_NODE_ID     = 1u << 1,  /* peer-node-id: (0..31) */
        EVENTS2_F_CONN_NAME        = 1u << 2,  /* conn-name: */
        EVENTS2_F_VOLUME           = 1u << 3,  /* volume: (0..65535) */
        EVENTS2_F_MINOR            = 1u << 4,  /* minor: (0..1048575) */
        EVENTS2_F_ROLE             = 1u << 5,  /* role: (peer's role on connection lines) */
        EVENTS2_F_SUSPENDED        = 1u << 6,  /* suspended: no | reason[,reason] */
        EVENTS2_F_CONNECTION       = 1u << 7,  /* connection: */
        EVENTS2_F_DISK             = 1u << 8,  /* disk: */
        EVENTS2_F_CLIENT           = 1u << 9,  /* client: yes|no (DRBD 9) */
        EVENTS2_F_QUORUM           = 1u << 10, /* quorum: yes|no (DRBD 9) */
        EVENTS2_F_OPEN             = 1u << 11, /* open: yes|no (DRBD 9.1+) */
        EVENTS2_F_SIZE             = 1u << 12, /* size: KiB (--statistics) */
        EVENTS2_F_REPLICATION      = 1u << 13, /* replication: */
        EVENTS2_F_PEER_DISK        = 1u << 14, /* peer-disk: */
        EVENTS2_F_PEER_CLIENT      = 1u << 15, /* peer-client: yes|no */
        EVENTS2_F_RESYNC_SUSPENDED = 1u << 16, /* resync-suspended: no | reason[,reason] */
        EVENTS2_F_DONE             = 1u << 17, /* done: percent, e.g. 37.12 */
        EVENTS2_F_OUT_OF_SYNC      = 1u << 18, /* out-of-sync: KiB (--statistics) */
        EVENTS2_F_HELPER           = 1u << 19, /* helper: */
        EVENTS2_F_STATUS           = 1u << 20, /* status: helper exit status */
        EVENTS2_F_NEW_NAME         = 1u << 21, /* new_name: (rename) */
        EVENTS2_F_MAY_PROMOTE      = 1u << 22, /* may_promote: yes|no (DRBD 9) */
        EVENTS2_F_PROMOTION_SCORE  = 1u << 23, /* promotion_score: */
        EVENTS2_F_TIMESTAMP        = 1u << 24, /* leading timestamp (--timestamps) */
} Events2Field;

/* Statistics a line carried (Events2Event.stats; --statistics). Sizes in
 * KiB, in-flight amounts in 512-byte sectors, as drbdsetup prints them. */
typedef enum Events2Stat {
        EVENTS2_S_READ          = 1u << 0,  /* device read: (KiB) */
        EVENTS2_S_WRITTEN       = 1u << 1,  /* device written: (KiB) */
        EVENTS2_S_AL_WRITES     = 1u << 2,  /* device al-writes: */
        EVENTS2_S_BM_WRITES     = 1u << 3,  /* device bm-writes: */
        EVENTS2_S_UPPER_PENDING = 1u << 4,  /* device upper-pending: */
        EVENTS2_S_LOWER_PENDING = 1u << 5,  /* device lower-pending: */
        EVENTS2_S_AL_SUSPENDED  = 1u << 6,  /* device al-suspended: yes|no */
        EVENTS2_S_CONGESTED     = 1u << 7,  /* connection congested: yes|no */
        EVENTS2_S_AP_IN_FLIGHT  = 1u << 8,  /* connection ap-in-flight: (sectors) */
        EVENTS2_S_RS_IN_FLIGHT  = 1u << 9,  /* connection rs-in-flight: (sectors) */
        EVENTS2_S_RECEIVED      = 1u << 10, /* peer-device received: (KiB) */
        EVENTS2_S_SENT          = 1u << 11, /* peer-device sent: (KiB) */
        EVENTS2_S_PENDING       = 1u << 12, /* peer-device pending: */
        EVENTS2_S_UNACKED       = 1u << 13, /* peer-device unacked: */
} Events2Stat;

/* A parsed line: plain data, no pointers, safe to copy. Fields not in
 * `fields` are zero. */
typedef struct Events2Event {
        Events2Action action;
        Events2Object object;
        uint32_t fields; /* Events2Field bits */
        uint32_t stats;  /* Events2Stat bits */
        char timestamp[EVENTS2_WORD_MAX];   /* "2024-01-02T03:04:05.123456+00:00" */
        char name[EVENTS2_NAME_MAX + 1];    /* resource */
        char conn_name[EVENTS2_NAME_MAX + 1];
        char new_name[EVENTS2_NAME_MAX + 1];
        unsigned peer_node_id;
        unsigned volume;
        unsigned minor;
        DrbdRole role;
        char suspended[EVENTS2_WORD_MAX];        /* "no" or e.g. "user,quorum" */
        DrbdConnState connection;
        DrbdDiskState disk;
        bool client, quorum, open, peer_client, may_promote;
        uint64_t size_kib;
        DrbdReplState replication;
        DrbdDiskState peer_disk;
        char resync_suspended[EVENTS2_WORD_MAX]; /* "no" or e.g. "user,peer" */
        double done;                             /* 0.0 .. 100.0 */
        uint64_t out_of_sync_kib;
        char helper[EVENTS2_WORD_MAX];           /* e.g. "before-resync-target" */
        int status;
        unsigned promotion_score;
        /* statistics (Events2Stat) */
        uint64_t read_kib, written_kib, al_writes, bm_writes, upper_pending, lower_pending;
        bool al_suspended, congested;
        uint64_t ap_in_flight, rs_in_flight; /* sectors */
        uint64_t received_kib, sent_kib, pending, unacked;
} Events2Event;

/* Parses one line (without its newline; a trailing '\r' is tolerated) into
 * *ret. Unknown field names with well-formed values (statistics such as
 * read:, sent:, future additions) are skipped; known fields are validated
 * (names printable and bounded, numbers in range, state words from the
 * tables above); a repeated field, a field the object type requires that is
 * missing, control characters, or lines longer than EVENTS2_LINE_MAX give
 * -EINVAL. *ret is written only on success. Never allocates. */
int events2_parse_line(const char *line, Events2Event *ret);

/* ---- stream splitter ---- */

/* Turns arbitrary chunks of a byte stream (partial reads of a long-lived
 * `drbdsetup events2` pipe) into complete lines. Lines longer than
 * EVENTS2_LINE_MAX or containing NUL bytes are dropped whole and counted.
 * Embed it (no allocation); initialise with events2_splitter_init(). */
typedef struct Events2Splitter {
        char buf[EVENTS2_LINE_MAX + 1];
        size_t len;
        bool overlong;  /* discarding until the next newline */
        bool has_nul;   /* the current line contains a NUL byte */
        uint64_t dropped;
} Events2Splitter;

/* Called for each complete line: NUL-terminated, without '\n' (a '\r'
 * before it is removed too), valid only during the call. A negative return
 * stops feeding and is passed on. */
typedef int (*Events2LineFn)(const char *line, size_t len, void *userdata);

void events2_splitter_init(Events2Splitter *s);
/* Consumes all of data (len may be 0). Returns 0, or the first negative
 * value returned by cb (the rest of data is then not consumed). */
int events2_splitter_feed(Events2Splitter *s, const void *data, size_t len, Events2LineFn cb, void *userdata);
/* At end of stream: yields a final line that had no newline (unless it was
 * dropped) and resets the buffer. Returns 0 or cb's negative value. */
int events2_splitter_finish(Events2Splitter *s, Events2LineFn cb, void *userdata);
/* Number of lines dropped (overlong or containing NUL) so far. */
uint64_t events2_splitter_dropped(const Events2Splitter *s);

/* ---- observed state ---- */

/* Read-only views; the state owns them. Pointers stay valid until the next
 * drbd_state_apply() / drbd_state_reset() / drbd_state_free(). Optional
 * values have a has_* flag. */
typedef struct DrbdPeerDevice {
        unsigned volume;
        bool has_replication, has_peer_disk, has_peer_client, has_done, has_out_of_sync;
        DrbdReplState replication;
        DrbdDiskState peer_disk;
        bool peer_client;
        char resync_suspended[EVENTS2_WORD_MAX]; /* "" when never reported */
        double done;                             /* reported by DRBD 9 during resync */
        uint64_t out_of_sync_kib;
        uint32_t stats; /* Events2Stat bits seen */
        uint64_t received_kib, sent_kib, pending, unacked;
} DrbdPeerDevice;

typedef struct DrbdConnection {
        unsigned peer_node_id;
        char conn_name[EVENTS2_NAME_MAX + 1];
        bool has_connection, has_peer_role;
        DrbdConnState connection;
        DrbdRole peer_role;
        uint32_t stats; /* Events2Stat bits seen */
        bool congested;
        uint64_t ap_in_flight, rs_in_flight; /* sectors */
        DrbdPeerDevice *peer_devices; /* sorted by volume */
        size_t n_peer_devices;
} DrbdConnection;

typedef struct DrbdDevice {
        unsigned volume;
        bool has_minor, has_disk, has_client, has_quorum, has_open, has_size;
        unsigned minor;
        DrbdDiskState disk;
        bool client, quorum, open;
        uint64_t size_kib;
        uint32_t stats; /* Events2Stat bits seen */
        uint64_t read_kib, written_kib, al_writes, bm_writes, upper_pending, lower_pending;
        bool al_suspended;
} DrbdDevice;

typedef struct DrbdResource {
        char name[EVENTS2_NAME_MAX + 1];
        bool has_role, has_may_promote;
        DrbdRole role;
        char suspended[EVENTS2_WORD_MAX]; /* "no", a reason list, or "" */
        bool may_promote;
        bool has_promotion_score;
        unsigned promotion_score;
        DrbdConnection *connections; /* sorted by peer-node-id */
        size_t n_connections;
        DrbdDevice *devices; /* sorted by volume */
        size_t n_devices;
} DrbdResource;

typedef struct DrbdState DrbdState;

/* Limits against a hostile or runaway stream: apply() returns -ENOSPC
 * beyond them. */
#define DRBD_STATE_RESOURCES_MAX 4096
#define DRBD_STATE_VOLUMES_MAX 256

/* New empty state; caller frees with drbd_state_free() (NULL-safe, returns
 * NULL). Returns 0 or -ENOMEM. */
int drbd_state_new(DrbdState **ret);
DrbdState *drbd_state_free(DrbdState *s);
/* Forget everything (e.g. before restarting drbdsetup). */
void drbd_state_reset(DrbdState *s);

/* Applies one event. exists/create/change create missing objects (a change
 * for an unknown object means an event was missed: the object is created
 * rather than the event refused) and set the fields present; destroy
 * removes the object and its children. An "exists" row after a completed
 * dump starts a new dump: the state is reset first, so objects gone while
 * the stream was down do not linger. "exists -" marks the dump complete.
 * Helper call/response and path events are accepted and ignored. When the
 * replication state leaves resync, the done percentage is cleared.
 * Returns 0, -EINVAL (event lacks the keys its object needs), -ENOSPC
 * (limits above) or -ENOMEM. On error the state is unchanged. */
int drbd_state_apply(DrbdState *s, const Events2Event *e);

/* Whether "exists -" has been seen since the last reset. */
bool drbd_state_dump_complete(const DrbdState *s);
/* Enumerate resources (sorted by name); NULL past the end. */
size_t drbd_state_n_resources(const DrbdState *s);
const DrbdResource *drbd_state_resource(const DrbdState *s, size_t i);
/* Lookups; NULL when absent. */
const DrbdResource *drbd_state_find_resource(const DrbdState *s, const char *name);
const DrbdConnection *drbd_resource_find_connection(const DrbdResource *r, unsigned peer_node_id);
const DrbdDevice *drbd_resource_find_device(const DrbdResource *r, unsigned volume);
const DrbdPeerDevice *drbd_connection_find_peer_device(const DrbdConnection *c, unsigned volume);

/* Resync progress of a peer device in percent: DRBD 9's done: when
 * reported, otherwise derived from out-of-sync and the device's size (what
 * DRBD 8.4 offers with --statistics). Returns 0 and *ret, or -ENODATA when
 * no resync is running or the numbers are unknown. */
int drbd_peer_device_sync_progress(const DrbdResource *r, const DrbdPeerDevice *pd, double *ret);

/* JSON for drbdctl and the probe:
 *   {"dump_complete": true, "resources": [{"name": "r0", "role": "Primary",
 *    "suspended": "no", "devices": [{"volume": 0, "minor": 0, "disk":
 *    "UpToDate", "client": false, "quorum": true, "size_kib": 32728}],
 *    "connections": [{"peer_node_id": 1, "conn_name": "vm2", "connection":
 *    "Connected", "peer_role": "Secondary", "peer_devices": [{"volume": 0,
 *    "replication": "SyncSource", "peer_disk": "Inconsistent",
 *    "resync_suspended": "no", "out_of_sync_kib": 100, "sync_progress": 37.12}]}]}]}
 * Unknown optional values are left out. *ret is a new reference. Returns 0
 * or -ENOMEM. */
int drbd_state_to_json(const DrbdState *s, json_t **ret);
