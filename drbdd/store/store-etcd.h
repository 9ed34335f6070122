/* etcd store backend (v3 JSON gateway over libcurl): location syntax, limits, and the reply parsers (public for fuzzing). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * Location (after "etcd:"): one or more endpoints separated by ',', then
 * optional options as a URL query:
 *
 *   etcd:http://127.0.0.1:2379
 *   etcd:https://h1:2379,https://h2:2379?cacert=/etc/drbdd/ca.pem&cert=/etc/drbdd/c.pem
 *        &key=/etc/drbdd/c.key&user=drbdd&password-file=/etc/drbdd/etcd.pw
 *
 * Endpoints are http:// or https:// with a host and an optional port; no
 * user info, path, query or fragment. At most STORE_ETCD_ENDPOINTS_MAX.
 * Options (each at most once; values may be %-encoded):
 *   cacert=PATH             CA bundle to verify servers (default: system CAs)
 *   cert=PATH, key=PATH     TLS client certificate and its key (both or neither)
 *   user=NAME               etcd user; needs password-file
 *   password-file=PATH      file whose first line is the password (read at open)
 *   connect-timeout-ms=N    per endpoint, default 500
 *   timeout-ms=N            whole request over all endpoints, default 750
 * TLS options need at least one https:// endpoint. Opening validates the
 * location and reads the password file, but does not contact etcd: the first
 * call does. Returns -EINVAL for a bad location, or the errno of reading a file.
 *
 * Errors of the calls, beyond those in store.h: -EHOSTUNREACH when no endpoint
 * could be reached (connection refused, connect timeout, TLS handshake
 * failure) or the cluster reported itself unavailable (no leader);
 * -ETIMEDOUT when a request was sent but no answer came within timeout-ms
 * (a txn may or may not have been applied); -EACCES for failed
 * authentication or a permission denied by etcd; -EBADMSG for a reply that is
 * not what etcd sends (bad JSON, types, base64, sizes, a key with a NUL byte).
 *
 * Revisions are etcd's own: a fresh etcd is at revision 1, not 0.
 */

#define STORE_ETCD_ENDPOINTS_MAX 16
/* Defaults. A request (over all endpoints) gives up after timeout-ms, so
 * an API call that meets a hung or unreachable etcd fails within 1 s (the
 * first one; the breaker fails the rest at once) rather than holding its
 * caller: an etcd in good health answers in milliseconds, and one that takes
 * close to a second is better reported as unavailable. */
#define STORE_ETCD_CONNECT_TIMEOUT_MS 500
#define STORE_ETCD_TIMEOUT_MS 750
/* Largest reply (or watch line) accepted; larger ones fail with -EBADMSG. */
#define STORE_ETCD_REPLY_MAX (256u << 20)
/* Events queued in a watch that the caller does not read; beyond, the watch
 * reports -ESTALE and the caller starts over from a fresh range. */
#define STORE_ETCD_WATCH_QUEUE_MAX 100000

extern const StoreOps store_etcd_ops;

/*
 * Reply parsers. Input is untrusted bytes of the given length (not
 * NUL-terminated). They never crash on any input; they return 0 or a negative
 * errno, -EBADMSG for anything malformed, and write out-parameters only on
 * success (owned by the caller).
 */

/* An error body ({"error": "...", "code": N} or {"error": {"grpc_code": N, ...}})
 * as negative errno: NotFound -ENOENT, InvalidArgument -EINVAL (-E2BIG for
 * "too large"/"too many"), PermissionDenied and Unauthenticated -EACCES
 * (-EKEYEXPIRED for an invalid auth token, so callers can re-authenticate),
 * Unavailable -EHOSTUNREACH, DeadlineExceeded -ETIMEDOUT, ResourceExhausted
 * -ENOSPC (-E2BIG for a message over gRPC's limit), OutOfRange (compacted) -ESTALE, anything else -EIO. -EBADMSG if
 * the body is not an error body at all. */
int etcd_parse_error(const char *buf, size_t len);

/* RangeResponse: kvs sorted by key and the header revision. */
int etcd_parse_range(const char *buf, size_t len, StoreKVList *ret);
/* TxnResponse: 0 and *ret_rev = header revision when it succeeded, -EAGAIN when not. */
int etcd_parse_txn(const char *buf, size_t len, int64_t *ret_rev);
/* Any response with a header (deleterange, revoke): its revision. */
int etcd_parse_header(const char *buf, size_t len, int64_t *ret_rev);
/* LeaseGrantResponse, or a LeaseKeepAliveResponse (wrapped in "result", as
 * the gateway streams it): lease id and remaining TTL. -ENOENT when the TTL
 * is not positive (an unknown or expired lease). */
int etcd_parse_lease(const char *buf, size_t len, int64_t *ret_id, int64_t *ret_ttl);
/* AuthenticateResponse: the token (owned by the caller). */
int etcd_parse_auth(const char *buf, size_t len, char **ret_token);

/* One line of the /v3/watch stream. */
typedef struct EtcdWatchReply {
        bool created;
        bool canceled;
        int64_t compact_revision; /* > 0: start revision was compacted */
        int64_t revision;         /* header revision, 0 if absent */
        int error;                /* negative errno for an error line or a cancel (not compaction) */
        StoreEventList events;    /* owned */
} EtcdWatchReply;

int etcd_parse_watch(const char *buf, size_t len, EtcdWatchReply *ret);
void etcd_watch_reply_done(EtcdWatchReply *r);
