/* drbdd client library: generic D-Bus calls with JSON in and out. */
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "client.h"
#include "drbdd/bus/bus-error.h"
#include "drbdd/bus/bus-json.h"
#include "macro.h"

#define BUS_NAME "org.drbd.drbdd1"
#define BUS_PATH "/org/drbd/drbdd1"
#define MANAGER_IFACE "org.drbd.drbdd1.Manager"
#define RD_IFACE "org.drbd.drbdd1.ResourceDefinition"

struct DrbddClient {
        sd_bus *bus;
        uint64_t timeout_usec;
};

int drbdd_client_open(const char *address, DrbddClient **ret) {
        DrbddClient *c = calloc(1, sizeof *c);
        int r;
        if (!c)
                return -ENOMEM;
        c->timeout_usec = 120ULL * 1000000;
        if (address) {
                if ((r = sd_bus_new(&c->bus)) >= 0 && (r = sd_bus_set_address(c->bus, address)) >= 0 &&
                    (r = sd_bus_set_bus_client(c->bus, 1)) >= 0)
                        r = sd_bus_start(c->bus);
        } else
                r = sd_bus_open_system(&c->bus);
        if (r < 0) {
                drbdd_client_free(c);
                return r == -ENOMEM ? r : -EHOSTUNREACH;
        }
        *ret = c;
        return 0;
}

DrbddClient *drbdd_client_free(DrbddClient *c) {
        if (!c)
                return NULL;
        sd_bus_flush_close_unref(c->bus);
        free(c);
        return NULL;
}

void drbdd_client_set_timeout(DrbddClient *c, uint64_t usec) {
        c->timeout_usec = usec;
}

static int set_out(char **dst, const char *v) {
        if (dst)
                *dst = v ? strdup(v) : NULL;
        return 0;
}

int drbdd_client_call(DrbddClient *c, const char *path, const char *method, const char *sig, json_t *args,
                      json_t **ret, char **ret_msg, char **ret_error_name) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, BUS_NAME, path ? path : BUS_PATH, path ? RD_IFACE : MANAGER_IFACE,
                                           method);
        if (r < 0)
                goto out;
        const char *p = sig ? sig : "";
        for (size_t i = 0; *p; i++) {
                json_t *a = json_array_get(args, i);
                if (!a || (r = bus_append_json_typed(m, p, a, &p)) < 0) {
                        r = -EINVAL;
                        set_out(ret_msg, "arguments do not match the method's signature");
                        goto out;
                }
        }
        r = sd_bus_call(c->bus, m, c->timeout_usec, &err, &reply);
        if (r < 0) {
                if (sd_bus_error_is_set(&err)) {
                        r = bus_error_to_errno(err.name);
                        set_out(ret_msg, err.message ? err.message : err.name);
                        set_out(ret_error_name, err.name);
                        if (streq(err.name, "org.freedesktop.DBus.Error.ServiceUnknown") && ret_msg) {
                                free(*ret_msg);
                                *ret_msg = strdup("drbdd is not running (no owner of org.drbd.drbdd1 on the system bus)");
                        }
                } else
                        set_out(ret_msg, strerror(-r));
                goto out;
        }
        if (ret && (r = bus_read_all_json(reply, ret)) < 0)
                set_out(ret_msg, "malformed reply from drbdd");
out:
        sd_bus_error_free(&err);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}
