/* D-Bus <-> JSON conversion with sd-bus, generic over signatures. */
#include <inttypes.h>
#include <stdio.h>

#include "bus-json.h"
#include "macro.h"

#define MAX_DEPTH 32

static int read_value(sd_bus_message *m, unsigned depth, json_t **ret);

static int read_container(sd_bus_message *m, char type, const char *contents, unsigned depth, json_t **ret) {
        int r;
        if ((r = sd_bus_message_enter_container(m, type, contents)) <= 0)
                return r < 0 ? r : -EINVAL;
        json_t *out = NULL;
        if (type == SD_BUS_TYPE_VARIANT) {
                r = read_value(m, depth + 1, &out);
        } else if (type == SD_BUS_TYPE_ARRAY && contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN) {
                out = json_object();
                for (;;) {
                        char et;
                        const char *ec;
                        r = sd_bus_message_peek_type(m, &et, &ec);
                        if (r <= 0)
                                break;
                        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, ec);
                        if (r <= 0)
                                break;
                        json_t *k = NULL, *v = NULL;
                        if ((r = read_value(m, depth + 1, &k)) < 0 || !k ||
                            (r = read_value(m, depth + 1, &v)) < 0 || !v) {
                                json_decref(k);
                                json_decref(v);
                                r = r < 0 ? r : -EINVAL;
                                break;
                        }
                        char buf[32];
                        const char *key = json_is_string(k) ? json_string_value(k) : buf;
                        if (!json_is_string(k))
                                snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
                        json_object_set_new(out, key, v);
                        json_decref(k);
                        if ((r = sd_bus_message_exit_container(m)) < 0)
                                break;
                }
        } else {
                out = json_array();
                for (;;) {
                        json_t *v = NULL;
                        r = read_value(m, depth + 1, &v);
                        if (r < 0 || !v)
                                break;
                        json_array_append_new(out, v);
                }
        }
        if (r < 0) {
                json_decref(out);
                return r;
        }
        if ((r = sd_bus_message_exit_container(m)) < 0) {
                json_decref(out);
                return r;
        }
        *ret = out;
        return 0;
}

static int read_value(sd_bus_message *m, unsigned depth, json_t **ret) {
        const char *contents;
        char type;
        int r;

        *ret = NULL;
        if (depth > MAX_DEPTH)
                return -EINVAL;
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r;
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
        } v;
        switch (type) {
        case SD_BUS_TYPE_ARRAY:
        case SD_BUS_TYPE_VARIANT:
        case SD_BUS_TYPE_STRUCT:
        case SD_BUS_TYPE_DICT_ENTRY:
                return read_container(m, type, contents, depth, ret);
        case SD_BUS_TYPE_UNIX_FD:
                return -EINVAL;
        }
        if ((r = sd_bus_message_read_basic(m, type, &v)) < 0)
                return r;
        switch (type) {
        case SD_BUS_TYPE_BYTE: *ret = json_integer(v.y); break;
        case SD_BUS_TYPE_BOOLEAN: *ret = json_boolean(v.b); break;
        case SD_BUS_TYPE_INT16: *ret = json_integer(v.n); break;
        case SD_BUS_TYPE_UINT16: *ret = json_integer(v.q); break;
        case SD_BUS_TYPE_INT32: *ret = json_integer(v.i); break;
        case SD_BUS_TYPE_UINT32: *ret = json_integer(v.u); break;
        case SD_BUS_TYPE_INT64: *ret = json_integer(v.x); break;
        case SD_BUS_TYPE_UINT64:
                if (v.t > INT64_MAX)
                        return -ERANGE;
                *ret = json_integer((json_int_t) v.t);
                break;
        case SD_BUS_TYPE_DOUBLE: *ret = json_real(v.d); break;
        default: *ret = json_string(v.s); break; /* s, o, g */
        }
        return *ret ? 1 : -ENOMEM;
}

int bus_read_json(sd_bus_message *m, json_t **ret) {
        int r = read_value(m, 0, ret);
        return r < 0 ? r : 0;
}

int bus_read_all_json(sd_bus_message *m, json_t **ret) {
        json_t *a = json_array();
        if (!a)
                return -ENOMEM;
        for (;;) {
                json_t *v = NULL;
                int r = read_value(m, 0, &v);
                if (r < 0) {
                        json_decref(a);
                        return r;
                }
                if (!v)
                        break;
                json_array_append_new(a, v);
        }
        *ret = a;
        return 0;
}

static const char *array_sig(json_t *a) {
        json_t *e;
        size_t i;
        bool str = true, obj = true, num = true;
        json_array_foreach(a, i, e) {
                str = str && json_is_string(e);
                obj = obj && json_is_object(e);
                num = num && json_is_integer(e);
        }
        return str ? "s" : obj ? "a{sv}" : num ? "x" : "v";
}

int bus_append_json_dict(sd_bus_message *m, json_t *obj) {
        const char *k;
        json_t *v;
        int r;
        if ((r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}")) < 0)
                return r;
        json_object_foreach(obj, k, v) {
                if (json_is_null(v))
                        continue;
                if ((r = sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) < 0 ||
                    (r = sd_bus_message_append_basic(m, SD_BUS_TYPE_STRING, k)) < 0 ||
                    (r = bus_append_json_variant(m, v)) < 0 || (r = sd_bus_message_close_container(m)) < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

int bus_append_json_variant(sd_bus_message *m, json_t *j) {
        int r;
        if (json_is_object(j)) {
                if ((r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, "a{sv}")) < 0 ||
                    (r = bus_append_json_dict(m, j)) < 0)
                        return r;
                return sd_bus_message_close_container(m);
        }
        if (json_is_array(j)) {
                const char *es = array_sig(j);
                char full[16];
                snprintf(full, sizeof full, "a%s", es);
                if ((r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, full)) < 0 ||
                    (r = bus_append_json_typed(m, full, j, NULL)) < 0)
                        return r;
                return sd_bus_message_close_container(m);
        }
        if (json_is_string(j))
                return sd_bus_message_append(m, "v", "s", json_string_value(j));
        if (json_is_integer(j))
                return sd_bus_message_append(m, "v", "x", (int64_t) json_integer_value(j));
        if (json_is_boolean(j))
                return sd_bus_message_append(m, "v", "b", (int) json_is_true(j));
        if (json_is_real(j))
                return sd_bus_message_append(m, "v", "d", json_real_value(j));
        return sd_bus_message_append(m, "v", "s", "");
}

/* Length of the single complete type at sig. */
static size_t type_len(const char *sig) {
        if (!*sig)
                return 0;
        if (*sig == 'a')
                return 1 + type_len(sig + 1);
        if (*sig == '(' || *sig == '{') {
                char close = *sig == '(' ? ')' : '}';
                size_t n = 1;
                while (sig[n] && sig[n] != close)
                        n += type_len(sig + n) ?: 1;
                return sig[n] ? n + 1 : n;
        }
        return 1;
}

int bus_append_json_typed(sd_bus_message *m, const char *sig, json_t *j, const char **ret_sig_end) {
        size_t len = type_len(sig);
        char t = *sig;
        int r;
        if (!len)
                return -EINVAL;
        if (ret_sig_end)
                *ret_sig_end = sig + len;
        switch (t) {
        case 's':
        case 'o':
        case 'g':
                if (!json_is_string(j))
                        return -EINVAL;
                return sd_bus_message_append_basic(m, t, json_string_value(j));
        case 'b': {
                if (!json_is_boolean(j))
                        return -EINVAL;
                int b = json_is_true(j);
                return sd_bus_message_append_basic(m, t, &b);
        }
        case 'y': case 'n': case 'q': case 'i': case 'u': case 'x': case 't': {
                if (!json_is_integer(j))
                        return -EINVAL;
                json_int_t v = json_integer_value(j);
                union { uint8_t y; int16_t n; uint16_t q; int32_t i; uint32_t u; int64_t x; uint64_t t; } u;
                bool neg_ok = t == 'n' || t == 'i' || t == 'x';
                if (v < 0 && !neg_ok)
                        return -ERANGE;
                switch (t) {
                case 'y': if (v > UINT8_MAX) return -ERANGE; u.y = (uint8_t) v; break;
                case 'n': if (v < INT16_MIN || v > INT16_MAX) return -ERANGE; u.n = (int16_t) v; break;
                case 'q': if (v > UINT16_MAX) return -ERANGE; u.q = (uint16_t) v; break;
                case 'i': if (v < INT32_MIN || v > INT32_MAX) return -ERANGE; u.i = (int32_t) v; break;
                case 'u': if (v > UINT32_MAX) return -ERANGE; u.u = (uint32_t) v; break;
                case 'x': u.x = v; break;
                default: u.t = (uint64_t) v; break;
                }
                return sd_bus_message_append_basic(m, t, &u);
        }
        case 'd': {
                if (!json_is_number(j))
                        return -EINVAL;
                double d = json_number_value(j);
                return sd_bus_message_append_basic(m, t, &d);
        }
        case 'v':
                return bus_append_json_variant(m, j);
        case 'a': {
                char inner[256];
                size_t il = len - 1;
                if (il >= sizeof inner)
                        return -EINVAL;
                memcpy(inner, sig + 1, il);
                inner[il] = 0;
                if ((r = sd_bus_message_open_container(m, 'a', inner)) < 0)
                        return r;
                if (inner[0] == '{') {
                        const char *k;
                        json_t *v;
                        char ks[2] = { inner[1], 0 };
                        const char *vs = inner + 2;
                        if (!json_is_object(j))
                                return -EINVAL;
                        char entry[256];
                        snprintf(entry, sizeof entry, "%.*s", (int) (il - 2), inner + 1);
                        json_object_foreach(j, k, v) {
                                if ((r = sd_bus_message_open_container(m, 'e', entry)) < 0)
                                        return r;
                                if (ks[0] == 's')
                                        r = sd_bus_message_append_basic(m, 's', k);
                                else
                                        return -EINVAL;
                                if (r < 0 || (r = bus_append_json_typed(m, vs, v, NULL)) < 0 ||
                                    (r = sd_bus_message_close_container(m)) < 0)
                                        return r;
                        }
                } else {
                        json_t *v;
                        size_t i;
                        if (!json_is_array(j))
                                return -EINVAL;
                        json_array_foreach(j, i, v)
                                if ((r = bus_append_json_typed(m, inner, v, NULL)) < 0)
                                        return r;
                }
                return sd_bus_message_close_container(m);
        }
        default:
                return -EINVAL;
        }
}

int bus_read_options(sd_bus_message *m, json_t **ret, char **ret_msg) {
        json_t *j = NULL;
        int r = bus_read_json(m, &j);
        if (r < 0 || !json_is_object(j)) {
                json_decref(j);
                if (ret_msg)
                        *ret_msg = strdup("malformed options dictionary");
                return -EINVAL;
        }
        *ret = j;
        return 0;
}

int bus_append_json_dict_list(sd_bus_message *m, json_t *arr) {
        json_t *e;
        size_t i;
        int r;
        if ((r = sd_bus_message_open_container(m, 'a', "a{sv}")) < 0)
                return r;
        json_array_foreach(arr, i, e)
                if ((r = bus_append_json_dict(m, e)) < 0)
                        return r;
        return sd_bus_message_close_container(m);
}
