/* Client library for the drbdd D-Bus API, used by drbdctl and the Cinder
 * driver's C extension. Calls are generic: a method name, its in-signature
 * and the arguments as a JSON array; results come back as a JSON array. */
#pragma once

#include <jansson.h>
#include <stdint.h>

typedef struct DrbddClient DrbddClient;

/* Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured), or to
 * address when non-NULL. Returns 0 or negative errno (-EHOSTUNREACH when no
 * bus can be reached). */
int drbdd_client_open(const char *address, DrbddClient **ret);
DrbddClient *drbdd_client_free(DrbddClient *c);
void drbdd_client_set_timeout(DrbddClient *c, uint64_t usec);

/* Calls org.drbd.drbdd1.Manager.<method> (or, with path non-NULL, the
 * ResourceDefinition interface on that object). args: JSON array matching
 * sig (NULL for none). On success returns 0 and, if ret, a new JSON array of
 * the results. On failure returns a negative errno derived from the typed
 * error (-ENOENT NotFound, -EEXIST Exists, -EINVAL InvalidArgument/InvalidArgs,
 * -ENOSPC NoSpace, -EBUSY Busy, -EHOSTUNREACH Unavailable or drbdd not
 * running, -EACCES AccessDenied, -ETIMEDOUT) and, if ret_msg, a newly
 * allocated message; if ret_error_name, the D-Bus error name. */
int drbdd_client_call(DrbddClient *c, const char *path, const char *method, const char *sig, json_t *args,
                      json_t **ret, char **ret_msg, char **ret_error_name);
