/* Typed D-Bus errors of the drbdd API and their mapping to errno. */
#pragma once

#define BUS_ERROR_PREFIX "org.drbd.drbdd1.Error."
#define BUS_ERROR_NOT_FOUND BUS_ERROR_PREFIX "NotFound"
#define BUS_ERROR_EXISTS BUS_ERROR_PREFIX "Exists"
#define BUS_ERROR_INVALID_ARGUMENT BUS_ERROR_PREFIX "InvalidArgument"
#define BUS_ERROR_NO_SPACE BUS_ERROR_PREFIX "NoSpace"
#define BUS_ERROR_BUSY BUS_ERROR_PREFIX "Busy"
#define BUS_ERROR_UNAVAILABLE BUS_ERROR_PREFIX "Unavailable"
#define BUS_ERROR_ACCESS_DENIED BUS_ERROR_PREFIX "AccessDenied"
#define BUS_ERROR_TIMEOUT BUS_ERROR_PREFIX "Timeout"
#define BUS_ERROR_FAILED BUS_ERROR_PREFIX "Failed"

/* Name of the typed error for a negative errno (never NULL). */
const char *bus_error_from_errno(int error);
/* Negative errno for an error name, including the standard
 * org.freedesktop.DBus.Error.* ones (InvalidArgs -> -EINVAL,
 * ServiceUnknown/NoReply -> -EHOSTUNREACH, AccessDenied -> -EACCES,
 * UnknownMethod -> -EOPNOTSUPP); -EIO for anything else. */
int bus_error_to_errno(const char *name);
