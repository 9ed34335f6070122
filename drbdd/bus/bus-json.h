/* Conversion between D-Bus values and JSON, shared by the daemon (a{sv}
 * options in, aa{sv} listings out) and the client library. */
#pragma once

#include <jansson.h>
#include <systemd/sd-bus.h>

/* Reads one complete value at the current position of m into a new JSON
 * value: basic types map to strings/integers/booleans/reals, arrays to arrays,
 * dictionaries (keys of any basic type, stringified) to objects, variants to
 * their content, structs to arrays. Object paths and signatures become
 * strings. Unsigned 64-bit values above INT64_MAX are refused (-ERANGE).
 * Returns 0 (and 0 with *ret NULL at the end of the message/container) or a
 * negative errno. Nesting deeper than 32 levels is refused (-EINVAL). */
int bus_read_json(sd_bus_message *m, json_t **ret);

/* Reads the remaining values of m into a new JSON array. */
int bus_read_all_json(sd_bus_message *m, json_t **ret);

/* Appends j as the content of a variant: string "s", integer "x", boolean
 * "b", real "d", object "a{sv}", array of strings "as", of objects "aa{sv}",
 * of integers "ax", otherwise "av". JSON null becomes an empty string. */
int bus_append_json_variant(sd_bus_message *m, json_t *j);

/* Appends an object as "a{sv}" (NULL appends an empty dictionary). */
int bus_append_json_dict(sd_bus_message *m, json_t *obj);

/* Appends one value j as D-Bus single complete type sig (e.g. "s", "t",
 * "u", "b", "as", "a{sv}", "a{ss}", "aa{sv}", "v"). -EINVAL when j does not
 * fit sig. *ret_sig_end receives the position after the type in sig. */
int bus_append_json_typed(sd_bus_message *m, const char *sig, json_t *j, const char **ret_sig_end);

/* Reads an a{sv} argument into a new JSON object; -EINVAL with the message
 * "malformed options dictionary" (newly allocated in *ret_msg) otherwise. */
int bus_read_options(sd_bus_message *m, json_t **ret, char **ret_msg);

/* Appends an array of objects as "aa{sv}". */
int bus_append_json_dict_list(sd_bus_message *m, json_t *arr);
