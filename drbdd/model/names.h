/* Validation of object names: what may become a DRBD resource name, an LVM
 * volume name, a file name and a store key, with clear messages. */
#pragma once

#include <stdbool.h>

typedef enum NameKind {
        NAME_RESOURCE,       /* resource definitions, resource groups, snapshots */
        NAME_NODE,           /* node names: DNS host names */
        NAME_POOL,           /* storage pool names */
        NAME_PROPERTY,       /* node property keys, e.g. "site", "Aux/rack" */
        _NAME_KIND_MAX,
} NameKind;

const char *name_kind_to_string(NameKind k);   /* "resource", "node", ... */
int name_kind_from_string(const char *s);      /* NameKind or -EINVAL */

/* Returns 0 if name is valid for kind, else -EINVAL and (if ret_msg) a newly
 * allocated one-line message naming the problem, e.g.
 * "invalid resource name 'a/b': '/' is not allowed (use A-Z a-z 0-9 _ -)".
 * Hostile input (NULL, empty, huge, control characters, non-ASCII) is
 * rejected; the message quotes it with utf8_quote_untrusted() (lib/utf8.h). */
int name_validate(NameKind kind, const char *name, char **ret_msg);

/* Values of node properties (site/rack labels): printable ASCII without
 * quotes, braces, ';', '#', whitespace; 1..64 chars. Same contract. */
int name_property_value_validate(const char *value, char **ret_msg);
