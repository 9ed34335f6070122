/* Rendering of DRBD resource configuration (.res) for DRBD 9 and DRBD 8.4
 * from a plain description. Inputs are expected validated (names, options);
 * the renderer re-checks the few things that could corrupt the syntax and
 * refuses rather than emits a broken file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drbdd/model/options.h"

typedef struct RenderVolume {
        unsigned vnr;             /* volume number within the resource */
        unsigned minor;           /* /dev/drbd<minor>, same on every host */
} RenderVolume;

typedef struct RenderHost {
        const char *name;         /* node name (the "on NAME" host name) */
        const char *address;      /* IPv4 "10.0.0.1" or IPv6 "fd00::1" */
        uint16_t port;            /* TCP port of this resource */
        unsigned node_id;         /* 0..31 (DRBD 9) */
        bool diskless;            /* diskless client or tie-breaker */
        const char *const *disks; /* per volume (same order as volumes): backing device path; ignored if diskless */
} RenderHost;

typedef struct RenderOption {
        const char *name;         /* "net/protocol" etc. (validated) */
        const char *value;
} RenderOption;

typedef struct RenderResource {
        const char *name;
        DrbdDialect dialect;
        const char *secret;       /* shared secret, [A-Za-z0-9+/=]{8,64}; NULL = no auth */
        unsigned peer_slots;      /* DRBD 9 bitmap slots, 0 = default; checked (<= 31) but not
                                   * written: drbd-utils has no .res keyword for it, it is
                                   * given to "drbdadm create-md --max-peers=N" */
        bool quorum;              /* DRBD 9: quorum majority + on-no-quorum io-error */
        bool two_primaries;       /* dual-primary window: net allow-two-primaries yes, whatever
                                   * the options say */
        const RenderVolume *volumes;
        size_t n_volumes;
        const RenderHost *hosts;
        size_t n_hosts;
        const RenderOption *options;
        size_t n_options;
} RenderResource;

/* Renders the resource to a newly allocated string (*ret_text). Returns 0,
 * or -EINVAL with a message (*ret_msg, if given): more than 2 hosts or a
 * diskless host or a DRBD-9-only option with DRBD 8.4, no hosts, no volumes,
 * a name/address/path/secret containing characters that would break the
 * syntax, duplicate node ids. For DRBD 9 the layout is: options, net (with
 * cram-hmac-alg sha256 and shared-secret when secret is set), one "on" section
 * per host (node-id, address, volumes with device minor, disk or "disk none",
 * meta-disk internal) and a connection-mesh of all hosts. */
int drbd_render_res(const RenderResource *r, char **ret_text, char **ret_msg);
