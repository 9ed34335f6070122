/* Rendering of DRBD .res files for DRBD 9 and 8.4, refusing anything that could break the syntax. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "drbdd/drbd/render.h"
#include "drbdd/model/names.h"
#include "drbdd/model/options.h"
#include "utf8.h"

#define RENDER_MAX_HOSTS_9 32
#define RENDER_MAX_HOSTS_84 2
#define RENDER_MAX_NODE_ID 31
#define RENDER_MAX_VNR 65535
#define RENDER_MAX_MINOR ((1u << 20) - 1)
#define RENDER_DISK_PATH_MAX 255

/* Sets *ret_msg to "cannot render resource 'NAME': REASON" and returns -EINVAL. */
_printf_(3, 4) static int render_fail(const RenderResource *r, char **ret_msg, const char *fmt, ...) {
        _cleanup_free_ char *q = NULL, *reason = NULL;
        va_list ap;
        int k;

        if (!ret_msg)
                return -EINVAL;
        va_start(ap, fmt);
        k = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        q = utf8_quote_untrusted(r ? r->name : NULL);
        if (!q)
                return -ENOMEM;
        if (asprintf(ret_msg, "cannot render resource '%s': %s", q, reason) < 0) {
                *ret_msg = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

/* Same, quoting an untrusted value into the reason as "WHAT 'VALUE' REASON". */
static int render_fail_value(const RenderResource *r, char **ret_msg, const char *what, const char *value,
                             const char *reason) {
        _cleanup_free_ char *q = NULL;

        if (!ret_msg)
                return -EINVAL;
        q = utf8_quote_untrusted(value);
        if (!q)
                return -ENOMEM;
        return render_fail(r, ret_msg, "%s '%s' %s", what, q, reason);
}

static bool address_is_valid(const char *a, bool *ret_ipv6) {
        unsigned char buf[sizeof(struct in6_addr)];
        bool v6;

        if (!a || !a[0] || strnlen(a, 64) >= 64 || strspn(a, "0123456789abcdefABCDEF.:") != strlen(a))
                return false;
        v6 = strchr(a, ':') != NULL;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, a, buf) != 1)
                return false;
        *ret_ipv6 = v6;
        return true;
}

/* ^/dev/[A-Za-z0-9/_.+-]+$ without "..": a device node path, never anything to quote. */
static bool disk_path_is_valid(const char *p) {
        if (!p || !startswith(p, "/dev/") || !p[5] || strnlen(p, RENDER_DISK_PATH_MAX + 1) > RENDER_DISK_PATH_MAX)
                return false;
        if (strspn(p + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_.+-") != strlen(p + 5))
                return false;
        return !strstr(p, "..");
}

static bool secret_is_valid(const char *s) {
        size_t n = strnlen(s, 65);
        return n >= 8 && n <= 64 &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == n;
}

static int render_validate(const RenderResource *r, char **ret_msg) {
        bool is9;
        int k;

        if (!r)
                return render_fail(r, ret_msg, "no resource");
        if ((unsigned) r->dialect >= _DRBD_DIALECT_MAX)
                return render_fail(r, ret_msg, "unknown DRBD dialect %d", (int) r->dialect);
        is9 = r->dialect == DRBD_DIALECT_9;

        k = name_validate(NAME_RESOURCE, r->name, NULL);
        if (k < 0)
                return render_fail_value(r, ret_msg, "name", r->name, "is not a valid resource name");

        if (r->secret && !secret_is_valid(r->secret))
                return render_fail(r, ret_msg, "shared secret must be 8..64 characters of A-Z a-z 0-9 + / =");
        if (r->peer_slots > 31)
                return render_fail(r, ret_msg, "peer slots %u out of range 0..31", r->peer_slots);
        if (!is9 && r->quorum)
                return render_fail(r, ret_msg, "quorum needs DRBD 9");

        if (r->n_volumes == 0 || !r->volumes)
                return render_fail(r, ret_msg, "no volumes");
        for (size_t i = 0; i < r->n_volumes; i++) {
                if (r->volumes[i].vnr > RENDER_MAX_VNR)
                        return render_fail(r, ret_msg, "volume number %u out of range 0..%u", r->volumes[i].vnr,
                                           RENDER_MAX_VNR);
                if (r->volumes[i].minor > RENDER_MAX_MINOR)
                        return render_fail(r, ret_msg, "minor %u out of range 0..%u", r->volumes[i].minor,
                                           RENDER_MAX_MINOR);
                for (size_t j = 0; j < i; j++) {
                        if (r->volumes[j].vnr == r->volumes[i].vnr)
                                return render_fail(r, ret_msg, "duplicate volume number %u", r->volumes[i].vnr);
                        if (r->volumes[j].minor == r->volumes[i].minor)
                                return render_fail(r, ret_msg, "duplicate minor %u", r->volumes[i].minor);
                }
        }

        if (r->n_hosts == 0 || !r->hosts)
                return render_fail(r, ret_msg, "no hosts");
        if (r->n_hosts > (is9 ? RENDER_MAX_HOSTS_9 : RENDER_MAX_HOSTS_84))
                return render_fail(r, ret_msg, "%zu hosts, DRBD %s takes at most %d", r->n_hosts,
                                   drbd_dialect_to_string(r->dialect), is9 ? RENDER_MAX_HOSTS_9 : RENDER_MAX_HOSTS_84);
        for (size_t i = 0; i < r->n_hosts; i++) {
                const RenderHost *h = &r->hosts[i];
                bool v6, first_v6;

                if (name_validate(NAME_NODE, h->name, NULL) < 0)
                        return render_fail_value(r, ret_msg, "host name", h->name, "is not a valid node name");
                if (!address_is_valid(h->address, &v6))
                        return render_fail_value(r, ret_msg, "address", h->address, "is not an IPv4 or IPv6 address");
                if (i > 0 && address_is_valid(r->hosts[0].address, &first_v6) && v6 != first_v6)
                        return render_fail(r, ret_msg, "mixed IPv4 and IPv6 addresses");
                if (h->port == 0)
                        return render_fail(r, ret_msg, "port 0 on host '%s'", h->name);
                if (is9 && h->node_id > RENDER_MAX_NODE_ID)
                        return render_fail(r, ret_msg, "node-id %u of host '%s' out of range 0..%d", h->node_id,
                                           h->name, RENDER_MAX_NODE_ID);
                /* DRBD 8.4 takes "disk none" too: a diskless client as one of its two hosts. */
                if (!h->diskless) {
                        if (!h->disks)
                                return render_fail(r, ret_msg, "no backing disks for host '%s'", h->name);
                        for (size_t v = 0; v < r->n_volumes; v++)
                                if (!disk_path_is_valid(h->disks[v]))
                                        return render_fail_value(r, ret_msg, "disk", h->disks[v],
                                                                 "is not a plain /dev path");
                }
                for (size_t j = 0; j < i; j++) {
                        if (streq(r->hosts[j].name, h->name))
                                return render_fail(r, ret_msg, "duplicate host '%s'", h->name);
                        if (is9 && r->hosts[j].node_id == h->node_id)
                                return render_fail(r, ret_msg, "duplicate node-id %u (hosts '%s' and '%s')",
                                                   h->node_id, r->hosts[j].name, h->name);
                }
        }

        if (r->n_options > 0 && !r->options)
                return render_fail(r, ret_msg, "no options array");
        for (size_t i = 0; i < r->n_options; i++) {
                const RenderOption *o = &r->options[i];
                _cleanup_free_ char *m = NULL;

                k = drbd_option_validate(o->name, o->value, &m);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        return render_fail(r, ret_msg, "%s", m ?: "invalid option");
                if (!drbd_option_supported(o->name, r->dialect))
                        return render_fail(r, ret_msg, "option %s is not supported by DRBD %s", o->name,
                                           drbd_dialect_to_string(r->dialect));
                for (size_t j = 0; j < i; j++)
                        if (streq(r->options[j].name, o->name))
                                return render_fail(r, ret_msg, "option %s given twice", o->name);
        }
        return 0;
}

/* Value of option name: the operator's if given, else the default (may be NULL). */
static const char *option_value(const RenderResource *r, const char *name, const char *def) {
        for (size_t i = 0; i < r->n_options; i++)
                if (streq(r->options[i].name, name))
                        return r->options[i].value;
        return def;
}

static const char *option_default(const RenderResource *r, const char *name) {
        if (streq(name, "net/protocol"))
                return "C";
        if (r->quorum && streq(name, "options/quorum"))
                return "majority";
        if (r->quorum && streq(name, "options/on-no-quorum"))
                return "io-error";
        return NULL;
}

/* Writes "\tSECTION {\n ... \t}\n" with the options (operator or default) the dialect puts
 * there, in whitelist order; with the auth lines after the protocol in net. Omits an empty
 * section. */
static void render_section(FILE *f, const RenderResource *r, OptionSection section) {
        bool open = false;
        const char *name;

        for (unsigned i = 0; (name = drbd_option_name(i)); i++) {
                OptionSection s;
                const char *key, *value;

                if (drbd_option_section(name, r->dialect, &s, &key) < 0 || s != section)
                        continue;
                value = r->two_primaries && streq(name, "net/allow-two-primaries")
                                ? "yes"
                                : option_value(r, name, option_default(r, name));
                if (!value)
                        continue;
                if (!open) {
                        fprintf(f, "\t%s {\n", option_section_to_string(section));
                        open = true;
                }
                fprintf(f, "\t\t%s %s;\n", key, value);
                if (streq(name, "net/protocol") && r->secret)
                        fprintf(f, "\t\tcram-hmac-alg sha256;\n\t\tshared-secret \"%s\";\n", r->secret);
        }
        if (open)
                fputs("\t}\n", f);
}

static void render_host(FILE *f, const RenderResource *r, const RenderHost *h) {
        bool is9 = r->dialect == DRBD_DIALECT_9, v6 = strchr(h->address, ':');

        fprintf(f, "\ton \"%s\" {\n", h->name);
        if (is9)
                fprintf(f, "\t\tnode-id %u;\n", h->node_id);
        if (v6)
                fprintf(f, "\t\taddress ipv6 [%s]:%u;\n", h->address, (unsigned) h->port);
        else
                fprintf(f, "\t\taddress %s:%u;\n", h->address, (unsigned) h->port);
        for (size_t v = 0; v < r->n_volumes; v++) {
                fprintf(f, "\t\tvolume %u {\n", r->volumes[v].vnr);
                fprintf(f, "\t\t\tdevice minor %u;\n", r->volumes[v].minor);
                /* Quoted: drbdadm's bare words do not take '+', which device paths may hold. */
                if (h->diskless)
                        fprintf(f, "\t\t\tdisk none;\n");
                else
                        fprintf(f, "\t\t\tdisk \"%s\";\n", h->disks[v]);
                fprintf(f, "\t\t\tmeta-disk internal;\n");
                fprintf(f, "\t\t}\n");
        }
        fprintf(f, "\t}\n");
}

int drbd_render_res(const RenderResource *r, char **ret_text, char **ret_msg) {
        _cleanup_free_ char *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t len = 0;
        int k;

        if (!ret_text)
                return -EINVAL;
        k = render_validate(r, ret_msg);
        if (k < 0)
                return k;

        f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;

        fprintf(f, "# DRBD %s configuration of resource %s, generated by drbdd: do not edit.\n",
                drbd_dialect_to_string(r->dialect), r->name);
        fprintf(f, "resource \"%s\" {\n", r->name);
        render_section(f, r, OPTION_SECTION_OPTIONS);
        render_section(f, r, OPTION_SECTION_NET);
        render_section(f, r, OPTION_SECTION_DISK);
        for (size_t i = 0; i < r->n_hosts; i++)
                render_host(f, r, &r->hosts[i]);
        if (r->dialect == DRBD_DIALECT_9 && r->n_hosts > 1) {
                fputs("\tconnection-mesh {\n\t\thosts", f);
                for (size_t i = 0; i < r->n_hosts; i++)
                        fprintf(f, " \"%s\"", r->hosts[i].name);
                fputs(";\n\t}\n", f);
        }
        fputs("}\n", f);

        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        fclose(TAKE_PTR(f));
        *ret_text = TAKE_PTR(text);
        return 0;
}
