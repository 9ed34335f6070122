/* DRBD kernel module version detection (/proc/drbd, /sys/module/drbd/version) and the capabilities it implies. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "drbd-dialect.h"

typedef enum DrbdVersionSource {
        DRBD_VERSION_SOURCE_PROC,  /* "proc": /proc/drbd, with api and protocol range */
        DRBD_VERSION_SOURCE_SYSFS, /* "sysfs": /sys/module/drbd/version, version only */
        _DRBD_VERSION_SOURCE_MAX,
} DrbdVersionSource;

const char *drbd_version_source_to_string(DrbdVersionSource s);
int drbd_version_source_from_string(const char *s);

typedef struct DrbdKernelInfo {
        char version[32]; /* as the kernel prints it: "8.4.11", "9.2.8-rc.1" */
        unsigned major, minor, patch;
        bool has_api, has_proto;
        unsigned api;                  /* genetlink API: 1 for 8.4, 2 for 9 */
        unsigned proto_min, proto_max; /* wire protocol range */
        char srcversion[48];           /* "srcversion:" (8.4) or "GIT-hash:" (9); "" if absent */
        DrbdVersionSource source;

        /* Derived from the version. */
        DrbdDialect dialect;   /* DRBD_DIALECT_84 or DRBD_DIALECT_9 */
        unsigned max_peers;    /* peers per resource: 1 (8.4), 31 (9) */
        bool diskless_clients; /* diskless replicas (clients): 9 only */
        bool quorum;           /* quorum / tie-breakers: 9.0.8 onwards */
} DrbdKernelInfo;

/* Parses the contents of /proc/drbd (only the header lines matter:
 * "version: 8.4.11 (api:1/proto:86-101)" then "srcversion: ..." or
 * "GIT-hash: ..."). The text comes from a file and is not trusted: lengths
 * are bounded and numbers range-checked. Returns 0, -EINVAL when malformed,
 * -EOPNOTSUPP for versions other than 8.4 and 9.x. *ret written on success. */
int drbd_version_parse_proc(const char *text, size_t len, DrbdKernelInfo *ret);

/* Same for /sys/module/drbd/version ("8.4.11\n"): no api/proto fields. */
int drbd_version_parse_sysfs(const char *text, size_t len, DrbdKernelInfo *ret);

/* Reads <root>/proc/drbd, falling back to <root>/sys/module/drbd/version.
 * root NULL or "" means "/" (tests point it at a fake tree). Returns 0,
 * -ENOENT when DRBD is not loaded (neither file exists), the parse errors
 * above, or another negative errno from reading. */
int drbd_kernel_info_detect(const char *root, DrbdKernelInfo *ret);

/* {"version": "8.4.11", "major": 8, "minor": 4, "patch": 11, "api": 1,
 *  "proto_min": 86, "proto_max": 101, "srcversion": "...", "source": "proc",
 *  "dialect": "8.4", "max_peers": 1, "diskless_clients": false,
 *  "quorum": false}; absent values left out. New reference in *ret.
 * Returns 0 or -ENOMEM. */
int drbd_kernel_info_to_json(const DrbdKernelInfo *info, json_t **ret);
