/* jansson helpers: cleanup, typed getters with defaults, dumping. */
#pragma once

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>

#include "macro.h"

/* jansson provides json_decrefp() for cleanup. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Getters return the default when the key is missing or of the wrong type. */
const char *json_get_str(const json_t *o, const char *key, const char *def);
/* The first object of array arr whose string field key equals value
 * (borrowed), or NULL. */
json_t *json_array_find(json_t *arr, const char *key, const char *value);
int64_t json_get_int(const json_t *o, const char *key, int64_t def);
bool json_get_bool(const json_t *o, const char *key, bool def);

/* Appends the formatted string (cut at 511 bytes) to array arr; returns it
 * (owned by arr) or NULL on failure. */
const char *json_array_append_printf(json_t *arr, const char *fmt, ...) _printf_(2, 3);
const char *json_array_append_vprintf(json_t *arr, const char *fmt, va_list ap) _printf_(2, 0);

/* Parses text of the given length; NULL (and *ret_error set, if given, to a
 * newly allocated message) on failure. */
json_t *json_parse(const char *text, size_t len, char **ret_error);
/* Compact, key-sorted dump. Caller frees. */
char *json_dump_compact(const json_t *j);
