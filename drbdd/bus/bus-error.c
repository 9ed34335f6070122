/* Typed D-Bus errors: one table maps errno to names and back. */
#include <errno.h>

#include "bus-error.h"
#include "macro.h"

static const struct {
        int error;
        const char *name;
} table[] = {
        { ENOENT, BUS_ERROR_NOT_FOUND },
        { EEXIST, BUS_ERROR_EXISTS },
        { EINVAL, BUS_ERROR_INVALID_ARGUMENT },
        { ENOSPC, BUS_ERROR_NO_SPACE },
        { EBUSY, BUS_ERROR_BUSY },
        { EHOSTUNREACH, BUS_ERROR_UNAVAILABLE },
        { EACCES, BUS_ERROR_ACCESS_DENIED },
        { ETIMEDOUT, BUS_ERROR_TIMEOUT },
        { EIO, BUS_ERROR_FAILED },
        /* Further errno values folded onto the names above. */
        { ERANGE, BUS_ERROR_INVALID_ARGUMENT },
        { E2BIG, BUS_ERROR_INVALID_ARGUMENT },
        { EPERM, BUS_ERROR_ACCESS_DENIED },
        { ECONNREFUSED, BUS_ERROR_UNAVAILABLE },
        { EAGAIN, BUS_ERROR_BUSY },
        { ENODEV, BUS_ERROR_NOT_FOUND },
        /* sd-bus could not read the call's arguments: a string that is not
         * UTF-8 as sd-bus accepts it (libdbus sends noncharacters such as
         * U+FFFF), an invalid object path or signature. */
        { EBADMSG, BUS_ERROR_INVALID_ARGUMENT },
        /* Standard errors sd-bus or the bus daemon send. */
        { EINVAL, "org.freedesktop.DBus.Error.InvalidArgs" },
        { EACCES, "org.freedesktop.DBus.Error.AccessDenied" },
        { EHOSTUNREACH, "org.freedesktop.DBus.Error.ServiceUnknown" },
        { EHOSTUNREACH, "org.freedesktop.DBus.Error.NameHasNoOwner" },
        { ETIMEDOUT, "org.freedesktop.DBus.Error.NoReply" },
        { ETIMEDOUT, "org.freedesktop.DBus.Error.Timeout" },
        { EOPNOTSUPP, "org.freedesktop.DBus.Error.UnknownMethod" },
        { EOPNOTSUPP, "org.freedesktop.DBus.Error.UnknownObject" },
        { ENOMEM, "org.freedesktop.DBus.Error.NoMemory" },
};

const char *bus_error_from_errno(int error) {
        if (error < 0)
                error = -error;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].error == error)
                        return table[i].name;
        return BUS_ERROR_FAILED;
}

int bus_error_to_errno(const char *name) {
        if (!name)
                return -EIO;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(table[i].name, name))
                        return -table[i].error;
        return -EIO;
}
