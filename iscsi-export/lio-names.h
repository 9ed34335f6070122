/* Validation and formatting of what becomes LIO configfs paths and values: IQNs, volume names, CHAP credentials, device paths, portals, unit serials. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 3720 3.2.6.3.1: at most 223 bytes. */
#define LIO_IQN_MAX 223
#define LIO_VOLUME_MAX 64
#define LIO_CHAP_USER_MAX 255   /* the kernel keeps 256 bytes with the NUL */
#define LIO_CHAP_SECRET_MIN 12  /* RFC 3720 8.2.1: 96 bits; Windows insists on 12 */
#define LIO_CHAP_SECRET_MAX 255
#define LIO_DEVICE_MAX 255
#define LIO_ISCSI_PORT 3260
/* "[" + INET6_ADDRSTRLEN + "]:65535" */
#define LIO_PORTAL_MAX 64
/* "xxxxxxxx-xxxx-8xxx-yxxx-xxxxxxxxxxxx" */
#define LIO_SERIAL_LEN 36

/* Every validator returns 0, or -EINVAL and (when ret_msg is given) a newly
 * allocated one-line reason the caller frees, e.g.
 * "invalid initiator IQN 'iqn.2026-11.Org.x': upper-case letter 'O' (IQNs are lower case)".
 * Hostile input (NULL, empty, huge, control characters, '/', "..") is
 * rejected and never echoed raw: at most 64 printable characters. */

/* "iqn.YYYY-MM.reverse.domain[:identifier]" in lower case; the identifier may
 * hold [a-z0-9.:-]. what names the role for the message ("target IQN"). */
int lio_iqn_validate(const char *what, const char *iqn, char **ret_msg);

/* An initiator name: an IQN as above, "eui." + 16 hex digits or "naa." + 16
 * or 32 hex digits (RFC 3720, RFC 3980). */
int lio_initiator_validate(const char *name, char **ret_msg);

/* Volume names: 1..64 of [a-z0-9.-], starting with a letter or digit, no
 * "..": they end up in the target IQN and as a configfs directory name. */
int lio_volume_validate(const char *volume, char **ret_msg);

/* CHAP user names: 1..255 of [A-Za-z0-9._:@-]. Secrets: 12..255 of
 * [A-Za-z0-9] and "-_.+=~!#^*,": safe in an iscsi:// URL and any initiator
 * config file. what is "CHAP user" / "CHAP password" / "mutual CHAP ...". */
int lio_chap_user_validate(const char *what, const char *user, char **ret_msg);
int lio_chap_secret_validate(const char *what, const char *secret, char **ret_msg);

/* Block device paths: absolute under /dev/, 6..255 of [A-Za-z0-9._+:/-],
 * no "//", "/./" or "..", no trailing '/'. Written as "udev_path=..." into
 * a comma-separated control file, hence no ',' or '='. */
int lio_device_validate(const char *path, char **ret_msg);

/* Parses "A.B.C.D", "A.B.C.D:PORT", "[v6]", "[v6]:PORT" or a bare IPv6
 * address (port LIO_ISCSI_PORT when missing) and writes the canonical
 * configfs directory name ("10.0.0.1:3260", "[fd00::1]:3260") into ret
 * (LIO_PORTAL_MAX bytes). Also parses names read back from configfs. */
int lio_portal_canonical(const char *portal, char ret[static LIO_PORTAL_MAX], char **ret_msg);

/* The target IQN of a volume: "<prefix>:<volume>". Both are validated; the
 * result is checked as an IQN. Caller frees *ret. */
int lio_target_iqn(const char *prefix, const char *volume, char **ret, char **ret_msg);

/* If iqn is "<prefix>:<volume>" with a valid volume name, returns a pointer
 * to the volume part inside iqn; otherwise NULL. */
const char *lio_target_iqn_volume(const char *prefix, const char *iqn);

/* The unit serial (VPD page 0x80) of an export: a UUID-shaped hash
 * (RFC 9562 version 8) of the target IQN. Depends on nothing else, so every
 * node of a cluster exports a volume with the same serial and WWN, and
 * multipath on the initiator sees one disk. Writes LIO_SERIAL_LEN+1 bytes. */
void lio_serial_from_iqn(const char *iqn, char ret[static LIO_SERIAL_LEN + 1]);

/* Value of a configfs attribute as read: trailing whitespace removed, and
 * for vpd_unit_serial the kernel's "T10 VPD Unit Serial Number: " label.
 * Modifies s in place and returns it. */
char *lio_attr_strip(char *s);

/* The device path in an iblock backstore's "info" attribute, which reads
 * e.g. "Status: ACTIVATED  Max Queue Depth: 0 ... \niBlock device: dm-0
 * UDEV PATH: /dev/lab/vol1  readonly: 0\n...". Caller frees *ret; -ENOENT
 * when there is none, -EINVAL when it is not a valid device path. */
int lio_info_udev_path(const char *info, char **ret);
