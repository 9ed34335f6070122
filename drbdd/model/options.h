/* DRBD options that operators may set on resource groups and resource
 * definitions: a whitelist of keys per section with typed values, so that no
 * value can ever inject text into a generated .res file. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kmod/drbd-dialect.h"

typedef enum OptionSection {
        OPTION_SECTION_NET,     /* net { } */
        OPTION_SECTION_DISK,    /* disk { } */
        OPTION_SECTION_OPTIONS, /* resource options { } */
        _OPTION_SECTION_MAX,
} OptionSection;

const char *option_section_to_string(OptionSection s); /* "net", "disk", "options" */
int option_section_from_string(const char *s);

/* Options are addressed as "section/key", e.g. "net/protocol",
 * "disk/on-io-error", "options/quorum". Validates the key against the
 * whitelist and the value against the key's type (boolean yes/no, integer in
 * range with optional unit suffix where DRBD takes one, or one of a fixed set
 * of words). Returns 0, -EINVAL with a message (if ret_msg) such as
 * "unknown DRBD option 'net/foo'" or "invalid value for net/protocol: 'D'
 * (expected one of A, B, C)". The message never echoes control characters. */
int drbd_option_validate(const char *name, const char *value, char **ret_msg);

/* Whether the option exists in the given dialect (e.g. options/quorum is
 * DRBD 9 only). Unknown names return false. */
bool drbd_option_supported(const char *name, DrbdDialect d);

/* Splits "net/protocol" into section and key (pointer into name). */
int drbd_option_split(const char *name, OptionSection *ret_section, const char **ret_key);

/* Iterate the whitelist (for --help and completion): returns the i-th option
 * name or NULL past the end. */
const char *drbd_option_name(unsigned i);

/* Where a whitelisted option goes in the given dialect (e.g. "net/fencing" is
 * written into disk { } for DRBD 8.4) and its bare key ("fencing", pointer
 * into static storage). Returns 0, or -EINVAL if unknown or not supported
 * by the dialect. */
int drbd_option_section(const char *name, DrbdDialect d, OptionSection *ret_section, const char **ret_key);

/* Position of the option in the whitelist (the canonical rendering order),
 * or -EINVAL if unknown. */
int drbd_option_index(const char *name);

typedef enum OptionType {
        OPT_BOOL,        /* yes | no */
        OPT_WORD,        /* one of words */
        OPT_INT,         /* decimal in [min, max] of the option's base unit */
        OPT_INT_OR_WORD, /* either */
        OPT_HEX,         /* min..max hex digits (cpu-mask) */
} OptionType;

/* Base unit of an integer option, which decides what a k/M/G suffix means. As in
 * drbd_limits.h: '1' bytes, 'k' KiB, 's' 512-byte sectors; 0 = a count, no suffix. */
typedef enum OptionScale {
        SCALE_NONE = 0,
        SCALE_BYTES = '1',
        SCALE_KIB = 'k',
        SCALE_SECTORS = 's',
} OptionScale;

/* One row of the whitelist. */
typedef struct OptionDef {
        const char *name;         /* "section/key" */
        OptionSection section;    /* where DRBD 9 takes it; the name's prefix */
        OptionSection section_84; /* where DRBD 8.4 takes it */
        OptionType type;
        uint64_t min, max;        /* OPT_INT*: range in the base unit; OPT_HEX: digits */
        OptionScale scale;
        const char *const *words; /* NULL-terminated, or NULL */
        unsigned dialects;        /* bit (1u << DrbdDialect) per dialect that knows it */
} OptionDef;

/* The i-th row of the whitelist (static storage), or NULL past the end: lets
 * tests derive boundary values from the table itself. */
const OptionDef *drbd_option_def(unsigned i);
