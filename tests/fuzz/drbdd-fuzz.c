/* drbdd-fuzz: D-Bus fuzzing of a running drbdd, live (a seeded stream of mutated calls) or from a corpus. */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <systemd/sd-bus.h>

#include "json-util.h"
#include "macro.h"
#include "drbdd/model/options.h"

/* A call is a JSON object, the corpus format (tests/fuzz/corpus/dbus/):
 *   method, signature, args    as build/drbdd-call takes them
 *   path, interface            optional; default /org/drbd/drbdd1 and the Manager
 *                              interface (ResourceDefinition below .../resource/)
 *   expect                     optional: "return" or the error name the reply must have
 *   known-defect               optional: why this call fails today; replay counts it
 *                              as XFAIL, and as a failure once it passes (drop the mark)
 * Arguments are marshalled by the signature as drbdd-call does, with three additions:
 * strings are copied as they are (sd-bus refuses to send noncharacters such as U+FFFF,
 * which D-Bus allows), a "t" may be a decimal string (values above 2^63), and
 * {"@variant": SIG, "@value": V} is a variant of type SIG. */

#define BUS_NAME "org.drbd.drbdd1"
#define ROOT_PATH "/org/drbd/drbdd1"
#define RD_PREFIX "/org/drbd/drbdd1/resource"
#define MANAGER_IFACE "org.drbd.drbdd1.Manager"
#define RD_IFACE "org.drbd.drbdd1.ResourceDefinition"
#define WAIT_MAX_USEC (3600ULL * 1000000)
#define HISTORY 64
#define SAVE_MAX 12 /* corpus files saved per kind of finding */

static volatile sig_atomic_t interrupted;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ----------------------------------------- */

typedef struct Rng {
        uint64_t s[4];
} Rng;

static void rng_seed(Rng *r, uint64_t seed) {
        for (int i = 0; i < 4; i++) {
                uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                r->s[i] = z ^ (z >> 31);
        }
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(Rng *r) {
        uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return out;
}

static uint64_t below(Rng *r, uint64_t n) {
        return n ? rnd(r) % n : 0;
}

static bool chance(Rng *r, unsigned percent) {
        return below(r, 100) < percent;
}

#define PICK(r, arr) ((arr)[below((r), ELEMENTSOF(arr))])

/* ---- byte strings ------------------------------------------------------------------------ */

typedef struct Str {
        char *p;
        size_t n, cap;
} Str;

static void str_add(Str *s, const void *p, size_t n) {
        if (s->n + n + 1 > s->cap) {
                s->cap = MAX(s->cap * 2, s->n + n + 1);
                s->p = realloc(s->p, s->cap);
                if (!s->p)
                        abort();
        }
        memcpy(s->p + s->n, p, n);
        s->n += n;
        s->p[s->n] = '\0';
}

static void str_adds(Str *s, const char *p) {
        str_add(s, p, strlen(p));
}

static void str_rep(Str *s, char c, size_t n) {
        for (size_t i = 0; i < n; i++)
                str_add(s, &c, 1);
}

/* Appends code point cp as UTF-8 (the caller never passes surrogates). */
static void str_cp(Str *s, uint32_t cp) {
        unsigned char b[4];
        size_t n;
        if (cp < 0x80) {
                b[0] = (unsigned char) cp;
                n = 1;
        } else if (cp < 0x800) {
                b[0] = (unsigned char) (0xc0 | (cp >> 6));
                b[1] = (unsigned char) (0x80 | (cp & 0x3f));
                n = 2;
        } else if (cp < 0x10000) {
                b[0] = (unsigned char) (0xe0 | (cp >> 12));
                b[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
                b[2] = (unsigned char) (0x80 | (cp & 0x3f));
                n = 3;
        } else {
                b[0] = (unsigned char) (0xf0 | (cp >> 18));
                b[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
                b[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
                b[3] = (unsigned char) (0x80 | (cp & 0x3f));
                n = 4;
        }
        str_add(s, b, n);
}

static json_t *str_json(Str *s) {
        json_t *j = json_stringn(s->p ? s->p : "", s->n);
        free(s->p);
        *s = (Str) {};
        if (!j)
                abort(); /* only valid UTF-8 without NUL is ever built */
        return j;
}

/* ---- marshalling: JSON by signature ---------------------------------------------------- */

/* Length of the single complete type at sig, 0 if none or malformed. */
static size_t type_len(const char *sig) {
        if (!*sig)
                return 0;
        if (*sig == 'a') {
                size_t n = type_len(sig + 1);
                return n ? n + 1 : 0;
        }
        if (*sig == '(' || *sig == '{') {
                char close = *sig == '(' ? ')' : '}';
                size_t n = 1;
                while (sig[n] && sig[n] != close) {
                        size_t k = type_len(sig + n);
                        if (!k)
                                return 0;
                        n += k;
                }
                return sig[n] ? n + 1 : 0;
        }
        return strchr("ybnqiuxtdsogvh", *sig) ? 1 : 0;
}

static const char *array_sig(json_t *a) {
        bool str = true, obj = true, num = true;
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
                str = str && json_is_string(e);
                obj = obj && json_is_object(e);
                num = num && json_is_integer(e);
        }
        return str ? "as" : obj ? "aa{sv}" : num ? "ax" : "av";
}

static int append_typed(sd_bus_message *m, const char *sig, size_t len, json_t *j);

static int append_string(sd_bus_message *m, char type, json_t *j) {
        char *space;
        int r;
        if (!json_is_string(j))
                return -EINVAL;
        if (type != 's')
                return sd_bus_message_append_basic(m, type, json_string_value(j));
        if (strlen(json_string_value(j)) != json_string_length(j))
                return -EINVAL; /* D-Bus strings cannot hold NUL */
        r = sd_bus_message_append_string_space(m, json_string_length(j), &space);
        if (r >= 0)
                memcpy(space, json_string_value(j), json_string_length(j));
        return r;
}

static int append_variant(sd_bus_message *m, json_t *j) {
        const char *sig;
        int r;
        if (json_is_object(j) && json_object_size(j) == 2 && json_is_string(json_object_get(j, "@variant")) &&
            json_object_get(j, "@value"))
                sig = json_string_value(json_object_get(j, "@variant")), j = json_object_get(j, "@value");
        else if (json_is_object(j))
                sig = "a{sv}";
        else if (json_is_array(j))
                sig = array_sig(j);
        else if (json_is_string(j))
                sig = "s";
        else if (json_is_integer(j))
                sig = "x";
        else if (json_is_boolean(j))
                sig = "b";
        else if (json_is_real(j))
                sig = "d";
        else
                return -EINVAL;
        if (type_len(sig) != strlen(sig) || !*sig)
                return -EINVAL;
        if ((r = sd_bus_message_open_container(m, 'v', sig)) < 0 || (r = append_typed(m, sig, strlen(sig), j)) < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_integer(sd_bus_message *m, char t, json_t *j) {
        union {
                uint8_t y;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
        } u;
        uint64_t v;
        if (json_is_integer(j))
                v = (uint64_t) json_integer_value(j);
        else if (json_is_string(j) && (t == 't' || t == 'x')) {
                char *end;
                errno = 0;
                v = strtoull(json_string_value(j), &end, 10);
                if (errno || *end || !json_string_value(j)[0])
                        return -EINVAL;
        } else
                return -EINVAL;
        /* Truncated to the type's width on purpose: the fuzzer sends every bit pattern. */
        switch (t) {
        case 'y': u.y = (uint8_t) v; break;
        case 'n': u.n = (int16_t) v; break;
        case 'q': u.q = (uint16_t) v; break;
        case 'i': u.i = (int32_t) v; break;
        case 'u': u.u = (uint32_t) v; break;
        case 'x': u.x = (int64_t) v; break;
        default: u.t = v; break;
        }
        return sd_bus_message_append_basic(m, t, &u);
}

/* Appends j as the single complete type sig[0..len). */
static int append_typed(sd_bus_message *m, const char *sig, size_t len, json_t *j) {
        char inner[256];
        int r;

        switch (sig[0]) {
        case 's': case 'o': case 'g':
                return append_string(m, sig[0], j);
        case 'b': {
                int b;
                if (!json_is_boolean(j) && !json_is_integer(j))
                        return -EINVAL;
                b = json_is_boolean(j) ? json_is_true(j) : (int) json_integer_value(j);
                return sd_bus_message_append_basic(m, 'b', &b);
        }
        case 'y': case 'n': case 'q': case 'i': case 'u': case 'x': case 't':
                return append_integer(m, sig[0], j);
        case 'd': {
                double d;
                if (!json_is_number(j))
                        return -EINVAL;
                d = json_number_value(j);
                return sd_bus_message_append_basic(m, 'd', &d);
        }
        case 'v':
                return append_variant(m, j);
        case 'a':
        case '(':
                if (len - 1 >= sizeof inner)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }

        if (sig[0] == '(') {
                size_t i = 0;
                const char *p = sig + 1;
                memcpy(inner, sig + 1, len - 2);
                inner[len - 2] = '\0';
                if (!json_is_array(j))
                        return -EINVAL;
                if ((r = sd_bus_message_open_container(m, 'r', inner)) < 0)
                        return r;
                for (size_t k; *p != ')'; p += k, i++)
                        if ((r = append_typed(m, p, k = type_len(p), json_array_get(j, i))) < 0)
                                return r;
                return sd_bus_message_close_container(m);
        }

        memcpy(inner, sig + 1, len - 1);
        inner[len - 1] = '\0';
        if ((r = sd_bus_message_open_container(m, 'a', inner)) < 0)
                return r;
        if (inner[0] == '{') {
                char entry[256];
                const char *k;
                json_t *v;
                size_t kl = type_len(inner + 1), vl = type_len(inner + 1 + kl);
                snprintf(entry, sizeof entry, "%.*s", (int) (len - 3), inner + 1);
                if (!json_is_object(j))
                        return -EINVAL;
                json_object_foreach(j, k, v) {
                        _cleanup_(json_decrefp) json_t *key = NULL;
                        if (json_is_null(v))
                                continue;
                        if (kl != 1)
                                return -EINVAL;
                        /* Keys of integer types are written as decimal strings. */
                        key = strchr("ybnqiuxt", inner[1]) ? json_integer(strtoll(k, NULL, 10)) : json_string(k);
                        if (!key)
                                return -EINVAL;
                        if ((r = sd_bus_message_open_container(m, 'e', entry)) < 0 ||
                            (r = append_typed(m, inner + 1, 1, key)) < 0 ||
                            (r = append_typed(m, inner + 1 + kl, vl, v)) < 0 ||
                            (r = sd_bus_message_close_container(m)) < 0)
                                return r;
                }
        } else if (inner[0] == 'y' && json_is_string(j)) {
                for (size_t i = 0; i < json_string_length(j); i++)
                        if ((r = sd_bus_message_append_basic(m, 'y', json_string_value(j) + i)) < 0)
                                return r;
        } else {
                json_t *v;
                size_t i;
                if (!json_is_array(j))
                        return -EINVAL;
                json_array_foreach(j, i, v)
                        if ((r = append_typed(m, inner, len - 1, v)) < 0)
                                return r;
        }
        return sd_bus_message_close_container(m);
}

/* ---- the methods drbdd exports, from its introspection data -------------------------------- */

typedef struct Method {
        char *iface, *name, *in;
        char *arg[16]; /* names of the in-arguments */
        size_t n_args;
        bool on_rd;    /* only on the per-resource-definition objects */
        bool standard; /* org.freedesktop.DBus.*: on every object */
} Method;

static char *xml_attr(const char *tag, const char *attr) {
        char key[32];
        const char *p, *e;
        snprintf(key, sizeof key, " %s=\"", attr);
        p = strstr(tag, key);
        if (!p)
                return NULL;
        p += strlen(key);
        e = strchr(p, '"');
        return e ? strndup(p, (size_t) (e - p)) : NULL;
}

/* Adds the methods of the introspection XML (sd-bus's format: one element per line). */
static int methods_parse(const char *xml, bool on_rd, Method **methods, size_t *n) {
        _cleanup_free_ char *iface = NULL;
        Method *cur = NULL;

        for (const char *line = xml; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                _cleanup_free_ char *tag = strndup(line, strcspn(line, "\n"));
                const char *t = tag + strspn(tag, " \t");
                if (startswith(t, "<interface ")) {
                        free(iface);
                        iface = xml_attr(t, "name");
                } else if (startswith(t, "<method ") && iface) {
                        _cleanup_free_ char *name = xml_attr(t, "name");
                        bool dup = false;
                        for (size_t i = 0; i < *n && !dup; i++)
                                dup = streq((*methods)[i].iface, iface) && streq((*methods)[i].name, name ?: "");
                        cur = NULL;
                        if (dup || !name)
                                continue;
                        *methods = realloc(*methods, (*n + 1) * sizeof **methods);
                        if (!*methods)
                                return -ENOMEM;
                        cur = &(*methods)[(*n)++];
                        *cur = (Method) { .iface = strdup(iface), .name = TAKE_PTR(name), .in = strdup(""),
                                          .on_rd = on_rd, .standard = startswith(iface, "org.freedesktop.DBus.") };
                        if (strstr(t, "/>"))
                                cur = NULL;
                } else if (startswith(t, "</method>"))
                        cur = NULL;
                else if (startswith(t, "<arg ") && cur) {
                        _cleanup_free_ char *type = xml_attr(t, "type"), *dir = xml_attr(t, "direction"),
                                            *aname = xml_attr(t, "name");
                        char *in;
                        if (!type || (dir && !streq(dir, "in")))
                                continue;
                        if (asprintf(&in, "%s%s", cur->in, type) < 0)
                                return -ENOMEM;
                        free(cur->in);
                        cur->in = in;
                        if (cur->n_args < ELEMENTSOF(cur->arg))
                                cur->arg[cur->n_args++] = aname ? TAKE_PTR(aname) : strdup("");
                }
        }
        return 0;
}

/* ---- the run --------------------------------------------------------------------------- */

typedef struct Fuzz Fuzz;

typedef struct Call {
        Fuzz *f;
        json_t *desc;
        uint64_t index;
        uint64_t sent, bound;
        bool background; /* outside the window: a WaitReady that may legitimately wait long,
                          * or a call whose reply is late */
        bool done;
        bool dropped;  /* our connection was closed before the reply (dbus-daemon refused the message) */
        char *result;  /* "return" or the error name */
        char *message; /* the error message */
        char *finding; /* NULL when the reply is fine */
        sd_bus_slot *slot;
        struct Call *next;
} Call;

struct Fuzz {
        sd_bus *bus;
        pid_t pid;
        Rng rng;
        uint64_t seed;
        uint64_t timeout_usec;
        unsigned window;
        const char *findings_dir;
        bool verbose;

        Method *methods;
        size_t n_methods;
        uint64_t *method_calls;

        uint64_t n_calls, n_replies, n_findings, n_dropped, n_cancelled;
        unsigned n_pending, n_background;
        json_t *by_reply;   /* reply name -> count */
        json_t *by_finding; /* "Method: finding kind" -> { count, first, files } */
        json_t *history[HISTORY]; /* the last calls sent, by index */
        uint64_t last_index;
        bool dead;
        Call *calls; /* pending */
};

static bool drbdd_alive(Fuzz *f) {
        char path[64], buf[512];
        _cleanup_fclose_ FILE *fp = NULL;
        const char *p;

        if (f->pid <= 0)
                return true;
        snprintf(path, sizeof path, "/proc/%d/stat", (int) f->pid);
        fp = fopen(path, "re");
        if (!fp || !fgets(buf, sizeof buf, fp))
                return false;
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Whether a reply is acceptable: a method return, a typed drbdd error other than the
 * catch-all Failed, or one of the standard errors sd-bus gives for calls that do not fit
 * (wrong signature, no such method, object, interface or property). */
static char *judge(const char *name, const char *message, uint64_t elapsed, uint64_t bound) {
        static const char *const standard_ok[] = {
                "org.freedesktop.DBus.Error.InvalidArgs",      "org.freedesktop.DBus.Error.UnknownMethod",
                "org.freedesktop.DBus.Error.UnknownObject",    "org.freedesktop.DBus.Error.UnknownInterface",
                "org.freedesktop.DBus.Error.UnknownProperty",  "org.freedesktop.DBus.Error.PropertyReadOnly",
        };
        char *out = NULL;

        if (streq(name, "return"))
                return NULL;
        if (startswith(name, "org.drbd.drbdd1.Error.") && !streq(name, "org.drbd.drbdd1.Error.Failed"))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(standard_ok); i++)
                if (streq(name, standard_ok[i]))
                        return NULL;
        if (streq(name, "org.freedesktop.DBus.Error.NoReply") && elapsed + 50000 >= bound) {
                if (asprintf(&out, "no reply within %.1f s", (double) bound / 1e6) < 0)
                        abort();
        } else if (asprintf(&out, "%s: %.200s", name, message ?: "") < 0)
                abort();
        return out;
}

/* The kind of a finding, for grouping: "no reply within 5.0 s", "drbdd died", or the error
 * name with the constant start of its message (up to a quote, which starts an echo). */
static char *finding_kind(const Call *c) {
        size_t n = strcspn(c->finding, "'\"");
        return strndup(c->finding, MIN(n, (size_t) 100));
}

static void save_json(const char *path, json_t *j) {
        if (json_dump_file(j, path, JSON_INDENT(2) | JSON_ENSURE_ASCII) < 0)
                fprintf(stderr, "drbdd-fuzz: cannot write %s\n", path);
}

static json_int_t counter_add(json_t *o, const char *key) {
        json_t *n = json_object_get(o, key);
        json_int_t v = (n ? json_integer_value(n) : 0) + 1;
        json_object_set_new(o, key, json_integer(v));
        return v;
}

/* Counts the finding under its kind and method; the first call of each method (at most
 * SAVE_MAX per kind) is saved as a corpus file. */
static void record_finding(Fuzz *f, Call *c) {
        _cleanup_free_ char *kind = finding_kind(c);
        const char *method = json_string_value(json_object_get(c->desc, "method"));
        char path[4096];
        json_t *g;

        f->n_findings++;
        g = json_object_get(f->by_finding, kind);
        if (!g) {
                g = json_pack("{s:I,s:I,s:{},s:[]}", "count", (json_int_t) 0, "first", (json_int_t) c->index,
                              "methods", "files");
                json_object_set_new(f->by_finding, kind, g);
        }
        counter_add(g, "count");
        if (counter_add(json_object_get(g, "methods"), method) > 1 || f->verbose)
                return;
        {
                _cleanup_free_ char *d = json_dumps(c->desc, JSON_COMPACT | JSON_ENSURE_ASCII);
                fprintf(stderr, "FINDING call %" PRIu64 ": %.400s -> %s\n", c->index, d ?: "?", c->finding);
        }
        if (!f->findings_dir || json_array_size(json_object_get(g, "files")) >= SAVE_MAX)
                return;
        (void) mkdir(f->findings_dir, 0755);
        snprintf(path, sizeof path, "%s/%06" PRIu64 "-%s.json", f->findings_dir, c->index, method);
        _cleanup_(json_decrefp) json_t *out = json_deep_copy(c->desc);
        json_object_set_new(out, "finding", json_string(c->finding));
        json_object_set_new(out, "seed", json_integer((json_int_t) f->seed));
        json_object_set_new(out, "call", json_integer((json_int_t) c->index));
        save_json(path, out);
        json_array_append_new(json_object_get(g, "files"), json_string(path));
        if (streq(c->finding, "drbdd died")) {
                /* The culprit may be any call in flight or an earlier one: keep the last
                 * calls sent, oldest first. */
                snprintf(path, sizeof path, "%s/%06" PRIu64 "-history.jsonl", f->findings_dir, c->index);
                _cleanup_fclose_ FILE *h = fopen(path, "we");
                for (uint64_t i = f->last_index + 1; h && i <= f->last_index + HISTORY; i++) {
                        json_t *e = f->history[i % HISTORY];
                        if (e)
                                json_dumpf(e, h, JSON_COMPACT | JSON_ENSURE_ASCII), fputc('\n', h);
                }
                json_array_append_new(json_object_get(g, "files"), json_string(path));
        }
}

static void call_free(Call *c) {
        if (!c)
                return;
        sd_bus_slot_unref(c->slot);
        json_decref(c->desc);
        free(c->result);
        free(c->message);
        free(c->finding);
        free(c);
}

static void call_unlink(Fuzz *f, Call *c) {
        for (Call **p = &f->calls; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        if (c->background)
                f->n_background--;
        else
                f->n_pending--;
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        Fuzz *f = c->f;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint64_t elapsed = now_usec() - c->sent;

        c->done = true;
        c->result = strdup(e ? e->name : "return");
        c->message = e && e->message ? strdup(e->message) : NULL;
        if (e && streq(e->name, "org.freedesktop.DBus.Error.NoReply") && !sd_bus_is_open(f->bus)) {
                /* Our own connection is gone (dbus-daemon drops a client that sends a message it
                 * finds invalid): not drbdd's fault, but the generator's. */
                _cleanup_free_ char *d = json_dumps(c->desc, JSON_COMPACT | JSON_ENSURE_ASCII);
                fprintf(stderr, "DROPPED call %" PRIu64 " (our bus connection closed before its reply): %.400s\n",
                        c->index, d ?: "?");
                f->n_dropped++;
                c->dropped = true;
                free(c->result);
                c->result = strdup("(connection dropped by dbus-daemon)");
                return 0;
        }
        if (f->dead)
                return 0; /* the calls in flight when drbdd died: nothing more to learn */
        f->n_replies++;
        counter_add(f->by_reply, c->result);
        c->finding = judge(c->result, c->message, elapsed, c->bound);
        if (!drbdd_alive(f)) {
                /* Any call in flight may have killed it: the finding goes with the history. */
                free(c->finding);
                c->finding = strdup("drbdd died");
                f->dead = true;
        }
        if (c->finding)
                record_finding(f, c);
        if (f->verbose) {
                _cleanup_free_ char *d = json_dumps(c->desc, JSON_COMPACT | JSON_ENSURE_ASCII);
                fprintf(stderr, "%s call %" PRIu64 ": %.300s -> %s%s%.200s\n", c->finding ? "FINDING" : "reply",
                        c->index, d ?: "?", c->finding ?: c->result, c->message ? ": " : "", c->message ?: "");
        }
        return 0;
}

static int bus_connect(Fuzz *f) {
        sd_bus_flush_close_unref(f->bus);
        f->bus = NULL;
        int r = sd_bus_open_system(&f->bus);
        if (r < 0)
                fprintf(stderr, "drbdd-fuzz: cannot connect to the system bus: %s\n", strerror(-r));
        return r;
}

static bool is_rd_path(const char *path) {
        return startswith(path, RD_PREFIX "/");
}

/* Builds and sends the call; NULL if it cannot even be marshalled (a corpus error). */
static Call *call_send(Fuzz *f, json_t *desc, uint64_t index, char **ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *method = json_string_value(json_object_get(desc, "method"));
        const char *sig = json_string_value(json_object_get(desc, "signature"));
        json_t *args = json_object_get(desc, "args");
        const char *path = json_string_value(json_object_get(desc, "path")) ?: ROOT_PATH;
        const char *iface = json_string_value(json_object_get(desc, "interface"));
        Call *c;
        size_t i = 0;
        int r;

        if (!iface)
                iface = is_rd_path(path) ? RD_IFACE : MANAGER_IFACE;
        if (!method || !sig || !json_is_array(args)) {
                *ret_error = strdup("needs \"method\", \"signature\" and \"args\" (an array)");
                return NULL;
        }
        r = sd_bus_message_new_method_call(f->bus, &m, BUS_NAME, path, iface, method);
        for (const char *p = sig; r >= 0 && *p; i++) {
                size_t k = type_len(p);
                if (!k || i >= json_array_size(args)) {
                        r = -EINVAL;
                        break;
                }
                r = append_typed(m, p, k, json_array_get(args, i));
                p += k;
        }
        if (r >= 0 && i != json_array_size(args))
                r = -EINVAL;
        if (r < 0) {
                if (asprintf(ret_error, "cannot marshal the call by its signature '%s': %s", sig, strerror(-r)) < 0)
                        *ret_error = NULL;
                return NULL;
        }

        c = calloc(1, sizeof *c);
        if (!c)
                abort();
        *c = (Call) { .f = f, .desc = json_incref(desc), .index = index, .bound = f->timeout_usec };
        if (streq(method, "WaitReady") && streq(sig, "sst")) {
                json_t *t = json_array_get(args, 2);
                uint64_t w = json_is_integer(t) ? (uint64_t) json_integer_value(t) : UINT64_MAX;
                if (w <= WAIT_MAX_USEC) {
                        c->bound += w;
                        c->background = w > f->timeout_usec;
                }
        }
        c->sent = now_usec();
        r = sd_bus_call_async(f->bus, &c->slot, m, on_reply, c, c->bound);
        if (r < 0) {
                call_free(c);
                if (asprintf(ret_error, "cannot send: %s", strerror(-r)) < 0)
                        *ret_error = NULL;
                return NULL;
        }
        json_decref(f->history[index % HISTORY]);
        f->history[index % HISTORY] = json_incref(desc);
        f->last_index = index;
        c->next = f->calls;
        f->calls = c;
        if (c->background)
                f->n_background++;
        else
                f->n_pending++;
        f->n_calls++;
        return c;
}

/* Runs the bus until something happened or max_usec passed; reaps finished calls (the
 * caller's own call is kept when keep is set). Reconnects after a dropped connection. */
static void pump(Fuzz *f, uint64_t max_usec, Call *keep) {
        int r;

        do
                r = sd_bus_process(f->bus, NULL);
        while (r > 0);
        if (r == 0)
                (void) sd_bus_wait(f->bus, max_usec);
        do
                r = sd_bus_process(f->bus, NULL);
        while (r > 0);

        for (Call *c = f->calls, *next; c; c = next) {
                next = c->next;
                if (!c->done && !c->background && now_usec() - c->sent > f->timeout_usec / 4) {
                        /* Waiting for a reply that may never come: let the stream go on
                         * meanwhile (its own timeout still catches it). */
                        c->background = true;
                        f->n_pending--;
                        f->n_background++;
                }
                if (!c->done || c == keep)
                        continue;
                call_unlink(f, c);
                call_free(c);
        }
        if (!sd_bus_is_open(f->bus) || r < 0) {
                /* The bus closed on us: sd-bus has answered every pending call with NoReply
                 * (counted as dropped); start over on a new connection. */
                do
                        r = sd_bus_process(f->bus, NULL);
                while (r > 0);
                for (Call *c = f->calls, *next; c; c = next) {
                        next = c->next;
                        if (c == keep) {
                                c->done = true;
                                c->dropped |= !c->result;
                                continue;
                        }
                        call_unlink(f, c);
                        call_free(c);
                }
                if (keep && !keep->result)
                        keep->result = strdup("(connection dropped by dbus-daemon)");
                if (bus_connect(f) < 0)
                        f->dead = true;
        }
}

/* ---- generation ------------------------------------------------------------------------- */

static const char *const node_names[] = { "alpha", "beta", "gamma", "delta" };
static const char *const rd_names[] = { "fz0", "fz1", "fz2", "fz3", "fz4", "fz5" };
static const char *const group_names[] = { "g0", "g1", "DfltRscGrp" };
static const char *const pool_names[] = { "p1", "p2" };
static const char *const snapshot_names[] = { "s0", "s1" };
static const char *const drivers[] = { "lvm", "lvm-thin", "file" };
static const char *const addresses[] = { "10.0.0.1", "10.0.0.2", "10.0.0.9", "fd00::1", "::1", "192.168.255.255" };

typedef enum Kind {
        K_ANY,
        K_NODE,
        K_RD,
        K_GROUP,
        K_POOL,
        K_SNAPSHOT,
        K_DRIVER,
        K_ADDRESS,
        K_KEY,
        K_VALUE,
        K_IFACE,
        K_PROPERTY,
        K_SIZE,
        K_VOLUME,
        K_TIMEOUT,
} Kind;

/* What an argument means, from its name and its method's. */
static Kind arg_kind(const Method *m, const char *arg) {
        if (streq(arg, "node"))
                return K_NODE;
        if (streq(arg, "resource") || streq(arg, "new_resource"))
                return K_RD;
        if (streq(arg, "group"))
                return K_GROUP;
        if (streq(arg, "pool"))
                return K_POOL;
        if (streq(arg, "snapshot"))
                return K_SNAPSHOT;
        if (streq(arg, "driver"))
                return K_DRIVER;
        if (streq(arg, "address"))
                return K_ADDRESS;
        if (streq(arg, "key"))
                return K_KEY;
        if (streq(arg, "value"))
                return K_VALUE;
        if (streq(arg, "size"))
                return K_SIZE;
        if (streq(arg, "volume"))
                return K_VOLUME;
        if (streq(arg, "timeout"))
                return K_TIMEOUT;
        if (streq(arg, "interface_name") || streq(arg, "interface"))
                return K_IFACE;
        if (streq(arg, "property_name") || streq(arg, "property"))
                return K_PROPERTY;
        if (streq(arg, "name"))
                return strstr(m->name, "Node") ? K_NODE : strstr(m->name, "ResourceGroup") ? K_GROUP : K_RD;
        return K_ANY;
}

static const char *valid_word(Rng *r, Kind k) {
        static const char *const keys[] = { "site", "rack", "Aux/zone", "room" };
        static const char *const values[] = { "a", "b", "rack-1", "x.y" };
        static const char *const ifaces[] = { MANAGER_IFACE, RD_IFACE, "org.freedesktop.DBus.Properties" };
        switch (k) {
        case K_NODE: return PICK(r, node_names);
        case K_RD: return PICK(r, rd_names);
        case K_GROUP: return PICK(r, group_names);
        case K_POOL: return PICK(r, pool_names);
        case K_SNAPSHOT: return PICK(r, snapshot_names);
        case K_DRIVER: return PICK(r, drivers);
        case K_ADDRESS: return PICK(r, addresses);
        case K_KEY: return PICK(r, keys);
        case K_VALUE: return PICK(r, values);
        case K_IFACE: return PICK(r, ifaces);
        case K_PROPERTY: return "Version";
        default: return PICK(r, rd_names);
        }
}

/* Code points that are valid UTF-8 but interesting: noncharacters (U+FFFF, which sd-bus
 * refuses and D-Bus allows), BOM, bidi overrides, zero width, combining, 2..4 bytes. */
static const uint32_t odd_cps[] = {
        0xffff, 0xfffe, 0xfdd0, 0xfdef, 0x1ffff, 0x10ffff, 0x10fffe, 0xfeff, 0x202e, 0x200b, 0x0301,
        0x00e4, 0x00df, 0x03a9, 0x0430, 0x20ac, 0x4e2d, 0xff10, 0xfffd, 0x1f600, 0x1d538, 0x0085, 0x2028,
};

/* A multibyte character straddling byte 'limit': the bytes before it are a valid prefix
 * of the argument's kind, so only the cut would be wrong. */
static json_t *gen_straddle(Rng *r, Kind k, size_t limit) {
        static const uint32_t by_size[3][4] = {
                { 0x00e4, 0x00e9, 0x03a9, 0x0430 },
                { 0xffff, 0x20ac, 0x4e2d, 0xfeff },
                { 0x1f600, 0x10ffff, 0x1ffff, 0x1d538 },
        };
        size_t size = 2 + below(r, 3), start = limit - size + 1 + below(r, size - 1);
        const char *prefix = k == K_ADDRESS ? PICK(r, addresses) : valid_word(r, k);
        Str s = {};

        str_adds(&s, prefix);
        if (s.n > start)
                s.n = start, s.p[start] = '\0';
        str_rep(&s, k == K_ADDRESS ? (strchr(prefix, ':') ? ':' : '.') : 'a', start - s.n);
        if (k == K_ADDRESS && below(r, 2))
                for (size_t i = strlen(prefix); i < start; i++)
                        s.p[i] = "0123456789"[below(r, 10)];
        str_cp(&s, PICK(r, by_size[size - 2]));
        if (chance(r, 30))
                str_rep(&s, 'z', 1 + below(r, 8));
        return str_json(&s);
}

static json_t *gen_hostile_string(Rng *r, Kind k) {
        static const char *const fixed[] = {
                "", " ", "a b", "-lead", "..", ".", "../etc", "/", "a/b", "a/../b", "\\", "x;rm -rf /", "$(id)", "`id`",
                "r}", "r{", "r\"q", "r'q", "r#c", "%s%s%n%x", "\n", "a\nb", "\t", "\r\n", "\x01", "\x1b[31m", "\x7f",
                "NULL", "null", "0", "-1", "1.2.3.4", "999.1.1.1", "10.0.0.1:7000", "[::1]", "localhost", "*", "?",
                "alpha.", ".alpha", "ALPHA", "a..b", "_", "__", "DfltRscGrp ", "fz0 ", " fz0", "fz0\n",
                "' OR 1=1 --", "resource x {", "handlers { fence-peer \"/bin/sh\"; }",
        };
        static const size_t limits[] = { 16, 31, 32, 45, 47, 48, 49, 63, 64, 65, 253, 254, 255, 256 };
        Str s = {};

        switch (below(r, 10)) {
        case 0:
        case 1:
                return json_string(PICK(r, fixed));
        case 2: {
                /* Lengths around the limits, rarely 64 KiB or 1 MiB. */
                size_t n = chance(r, 3) ? (chance(r, 20) ? 1u << 20 : 1u << 16) : PICK(r, limits) + below(r, 3) - 1;
                str_adds(&s, valid_word(r, k));
                str_rep(&s, PICK(r, ((const char[]) { 'a', '1', '.', '-', 'Z' })), n > s.n ? n - s.n : 0);
                return str_json(&s);
        }
        case 3:
        case 4: {
                /* Half of them at the limits of the argument's own kind. */
                static const size_t address_limits[] = { 15, 39, 44, 45, 46 };
                static const size_t name_limits[] = { 48, 49, 63, 64, 253, 254 };
                static const size_t key_limits[] = { 64, 65 };
                size_t limit = PICK(r, limits);
                if (below(r, 2))
                        limit = k == K_ADDRESS                        ? PICK(r, address_limits)
                                : k == K_KEY || k == K_VALUE          ? PICK(r, key_limits)
                                : k >= K_NODE && k <= K_SNAPSHOT      ? PICK(r, name_limits)
                                                                      : limit;
                return gen_straddle(r, k, limit);
        }
        case 5:
                /* An odd code point alone, before, inside or after a valid word. */
                switch (below(r, 4)) {
                case 0: str_cp(&s, PICK(r, odd_cps)); break;
                case 1: str_cp(&s, PICK(r, odd_cps)); str_adds(&s, valid_word(r, k)); break;
                case 2: str_adds(&s, valid_word(r, k)); str_cp(&s, PICK(r, odd_cps)); break;
                default: {
                        const char *w = valid_word(r, k);
                        size_t at = below(r, strlen(w) + 1);
                        str_add(&s, w, at);
                        str_cp(&s, PICK(r, odd_cps));
                        str_adds(&s, w + at);
                }
                }
                return str_json(&s);
        case 6:
                /* A valid word with one edit. */
                str_adds(&s, valid_word(r, k));
                switch (below(r, 4)) {
                case 0: str_adds(&s, PICK(r, ((const char *const[]) { "x", "-", ".", "/", ";", " ", "\n" }))); break;
                case 1: if (s.n) s.p[below(r, s.n)] ^= 0x20; break;
                case 2: if (s.n) s.p[--s.n] = '\0'; break;
                default: {
                        _cleanup_free_ char *copy = strdup(s.p ?: "");
                        str_adds(&s, copy ?: "");
                }
                }
                return str_json(&s);
        case 7:
                /* A valid value of another kind. */
                return json_string(valid_word(r, (Kind) below(r, K_PROPERTY + 1)));
        case 8:
                /* Random printable ASCII and code points. */
                for (size_t i = 0, n = 1 + below(r, 70); i < n; i++)
                        if (chance(r, 80))
                                str_cp(&s, 0x20 + (uint32_t) below(r, 0x5f));
                        else
                                str_cp(&s, chance(r, 50) ? PICK(r, odd_cps) : 0x80 + (uint32_t) below(r, 0xd000));
                return str_json(&s);
        default:
                /* Control characters around a valid word. */
                str_cp(&s, 1 + (uint32_t) below(r, 31));
                str_adds(&s, valid_word(r, k));
                str_cp(&s, 1 + (uint32_t) below(r, 31));
                return str_json(&s);
        }
}

static uint64_t gen_boundary_u64(Rng *r) {
        static const uint64_t v[] = {
                0, 1, 2, 7, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
                4194303, 4194304, 4194305, 1ULL << 30, (1ULL << 30) + 1, 1ULL << 40, 1ULL << 50, (1ULL << 50) + 1,
                1ULL << 60, (1ULL << 63) - 1, 1ULL << 63, UINT64_MAX - 1, UINT64_MAX, WAIT_MAX_USEC, WAIT_MAX_USEC + 1,
                1000000, 7000, 7999, 65534, 31, 32, 33, 1048575, 1048576, 1099511627776ULL * 1024 - 1,
        };
        switch (below(r, 4)) {
        case 0: return rnd(r);
        case 1: return PICK(r, v) - 1;
        default: return PICK(r, v);
        }
}

/* JSON for an integer of type t: "t" above 2^63 as a decimal string. */
static json_t *int_json(char t, uint64_t v) {
        char buf[32];
        switch (t) {
        case 'y': return json_integer((uint8_t) v);
        case 'n': return json_integer((int16_t) v);
        case 'q': return json_integer((uint16_t) v);
        case 'i': return json_integer((int32_t) v);
        case 'u': return json_integer((uint32_t) v);
        case 'x': return json_integer((json_int_t) v);
        default:
                if (v <= INT64_MAX)
                        return json_integer((json_int_t) v);
                snprintf(buf, sizeof buf, "%" PRIu64, v);
                return json_string(buf);
        }
}

static uint64_t valid_int(Rng *r, Kind k) {
        switch (k) {
        case K_SIZE: return PICK(r, ((const uint64_t[]) { 4ULL << 20, 1ULL << 30, 10ULL << 30, (1ULL << 30) + 1 }));
        case K_VOLUME: return below(r, 3);
        case K_TIMEOUT: return PICK(r, ((const uint64_t[]) { 0, 1, 1000, 500000, 2000000 }));
        default: return below(r, 100);
        }
}

static json_t *gen_variant(Rng *r, unsigned depth);
static json_t *gen_options(Rng *r, bool mutate, unsigned depth);

static json_t *typed_variant(const char *sig, json_t *value) {
        return json_pack("{s:s,s:o}", "@variant", sig, "@value", value);
}

static json_t *gen_variant(Rng *r, unsigned depth) {
        switch (below(r, 14)) {
        case 0: return json_string(valid_word(r, (Kind) below(r, K_PROPERTY + 1)));
        case 1: return gen_hostile_string(r, K_ANY);
        case 2: return json_integer((json_int_t) gen_boundary_u64(r));
        case 3: return typed_variant("t", int_json('t', gen_boundary_u64(r)));
        case 4: return typed_variant("u", int_json('u', gen_boundary_u64(r)));
        case 5: return typed_variant(PICK(r, ((const char *const[]) { "y", "n", "q", "i" })), json_integer(-1));
        case 6: return json_boolean(below(r, 2));
        case 7: return json_real(PICK(r, ((const double[]) { 0.5, -1.0, 1e308, 3.0, 1e-300 })));
        case 8: return json_pack("[s,s]", valid_word(r, K_POOL), valid_word(r, K_NODE));
        case 9: return json_pack("[I,I]", (json_int_t) gen_boundary_u64(r), (json_int_t) -1);
        case 10: return typed_variant("ay", json_pack("[i,i,i]", 0, 255, 10));
        case 11: return typed_variant("(ss)", json_pack("[s,s]", "a", "b"));
        case 12: return typed_variant("a{ss}", json_pack("{s:s}", "site", "a"));
        default: return depth < 4 ? gen_options(r, true, depth + 1) : json_object();
        }
}

static json_t *gen_drbd_options(Rng *r, bool mutate) {
        json_t *o = json_object();
        size_t n_defs = 0;

        while (drbd_option_def((unsigned) n_defs))
                n_defs++;
        for (size_t i = 0, n = 1 + below(r, 3); i < n; i++) {
                const OptionDef *d = drbd_option_def((unsigned) below(r, n_defs));
                char v[80];
                switch (d->type) {
                case OPT_BOOL:
                        snprintf(v, sizeof v, "%s", below(r, 2) ? "yes" : "no");
                        break;
                case OPT_WORD:
                case OPT_INT_OR_WORD:
                        if (d->words && (d->type == OPT_WORD || below(r, 2))) {
                                size_t nw = 0;
                                while (d->words[nw])
                                        nw++;
                                snprintf(v, sizeof v, "%s", d->words[below(r, nw)]);
                                break;
                        }
                        __attribute__((fallthrough));
                case OPT_INT:
                        snprintf(v, sizeof v, "%" PRIu64,
                                 below(r, 3) == 0 ? d->min
                                 : below(r, 2)    ? d->max
                                                  : d->min + below(r, d->max - d->min + 1));
                        if (mutate && chance(r, 30))
                                snprintf(v, sizeof v, "%" PRIu64, below(r, 2) ? d->max + 1 : d->min - 1);
                        break;
                case OPT_HEX: {
                        size_t len = d->min + below(r, d->max - d->min + 1) + (mutate && chance(r, 30) ? 1 : 0);
                        for (size_t k = 0; k < len && k < sizeof v - 1; k++)
                                v[k] = "0123456789abcdefABCDEF"[below(r, 22)];
                        v[MIN(len, sizeof v - 1)] = '\0';
                        break;
                }
                default:
                        snprintf(v, sizeof v, "x");
                }
                if (mutate && chance(r, 20))
                        json_object_set_new(o, d->name, gen_hostile_string(r, K_VALUE));
                else if (mutate && chance(r, 10))
                        json_object_set_new(o, d->name, gen_variant(r, 3));
                else
                        json_object_set_new(o, d->name, json_string(v));
        }
        if (mutate && chance(r, 30)) {
                json_t *k = gen_hostile_string(r, K_KEY);
                json_object_set_new(o, json_string_value(k), json_string("C"));
                json_decref(k);
        }
        return o;
}

/* An options dictionary (a{sv}) with keys drbdd knows and plausible values; mutated, with
 * wrong types, unknown or hostile keys, hostile values, or far too many entries. */
static json_t *gen_options(Rng *r, bool mutate, unsigned depth) {
        static const char *const keys[] = {
                "place-count", "storage-pools", "storage-pool", "replicas-on-same", "replicas-on-different",
                "diskless-on-remaining", "peer-slots", "drbd-options", "resource-group", "port", "diskless",
                "properties", "drbd-version", "volume-group", "thin-pool", "directory", "capacity", "initiator",
                "chap-username", "chap-password", "portals", "node", "owner", "exclude-nodes", "size",
        };
        json_t *o = json_object();

        for (size_t i = 0, n = below(r, 4); i < n; i++) {
                const char *k = PICK(r, keys);
                json_t *v;
                if (streq(k, "place-count"))
                        v = json_integer(1 + (json_int_t) below(r, 3));
                else if (streq(k, "peer-slots"))
                        v = json_integer(1 + (json_int_t) below(r, 31));
                else if (streq(k, "port"))
                        v = json_integer(7000 + (json_int_t) below(r, 1000));
                else if (streq(k, "capacity") || streq(k, "size"))
                        v = json_integer((json_int_t) valid_int(r, K_SIZE));
                else if (streq(k, "diskless") || streq(k, "diskless-on-remaining"))
                        v = json_boolean(below(r, 2));
                else if (streq(k, "storage-pools") || streq(k, "exclude-nodes"))
                        v = json_pack("[s]", valid_word(r, streq(k, "storage-pools") ? K_POOL : K_NODE));
                else if (streq(k, "replicas-on-same") || streq(k, "replicas-on-different"))
                        v = json_pack("[s]", "site");
                else if (streq(k, "portals"))
                        v = json_pack("[s]", "10.0.0.1:3260");
                else if (streq(k, "properties"))
                        v = json_pack("{s:s}", valid_word(r, K_KEY), valid_word(r, K_VALUE));
                else if (streq(k, "drbd-options"))
                        v = gen_drbd_options(r, mutate && chance(r, 50));
                else if (streq(k, "drbd-version"))
                        v = json_string(below(r, 2) ? "9" : "8.4");
                else if (streq(k, "storage-pool"))
                        v = json_string(valid_word(r, K_POOL));
                else if (streq(k, "resource-group"))
                        v = json_string(valid_word(r, K_GROUP));
                else if (streq(k, "node"))
                        v = json_string(valid_word(r, K_NODE));
                else if (streq(k, "directory"))
                        v = json_string("/var/lib/drbdd-fuzz");
                else if (streq(k, "initiator"))
                        v = json_string("iqn.2024-01.org.example:host1");
                else if (streq(k, "chap-password"))
                        v = json_string("secret-secret-12");
                else
                        v = json_string(PICK(r, ((const char *const[]) { "vg", "thin", "user1", "cinder" })));
                json_object_set_new(o, k, v);
        }
        if (!mutate)
                return o;

        switch (below(r, 8)) {
        case 0: /* a known key with a value of another type */
                json_object_set_new(o, PICK(r, keys), gen_variant(r, depth));
                break;
        case 1: { /* a hostile key */
                json_t *k = gen_hostile_string(r, K_KEY);
                json_object_set_new(o, json_string_value(k), gen_variant(r, depth));
                json_decref(k);
                break;
        }
        case 2: /* a known key with a hostile string */
                json_object_set_new(o, PICK(r, keys), gen_hostile_string(r, K_ANY));
                break;
        case 3: /* a known key with a boundary number, typed */
                json_object_set_new(o, PICK(r, keys),
                                    typed_variant(PICK(r, ((const char *const[]) { "t", "u", "x", "i", "y", "d" })),
                                                  json_integer((json_int_t) gen_boundary_u64(r) & 0x7fffffff)));
                break;
        case 4: { /* many entries */
                size_t n = PICK(r, ((const size_t[]) { 63, 64, 65, 1000, 5000 }));
                json_t *big = json_object();
                for (size_t i = 0; i < n; i++) {
                        char k[32];
                        snprintf(k, sizeof k, "k%zu", i);
                        json_object_set_new(big, k, json_string("v"));
                }
                json_object_set_new(o, below(r, 2) ? "properties" : "drbd-options", big);
                break;
        }
        case 5: { /* (only at the top: one level more and dbus-daemon drops the connection)
                   * deep nesting: dictionaries as deep as dbus-daemon lets through (64 containers,
                   * 3 per level: 21 levels with the outer one), or arrays around drbdd's limit of
                   * 32 levels (a signature holds at most 32 arrays) */
                json_t *v = json_string("y");
                if (depth > 0) {
                        json_object_set_new(o, "drbd-options", gen_drbd_options(r, true));
                        break;
                }
                if (below(r, 2)) {
                        for (size_t i = 0, n = 8 + below(r, 13); i < n; i++)
                                v = json_pack("{s:o}", "x", v);
                } else {
                        char sig[40];
                        size_t n = 28 + below(r, 5);
                        memset(sig, 'a', n);
                        sig[n] = 's', sig[n + 1] = '\0';
                        for (size_t i = 0; i < n; i++)
                                v = json_pack("[o]", v);
                        v = typed_variant(sig, v);
                }
                json_object_set_new(o, PICK(r, keys), v);
                break;
        }
        case 6: /* drbd options, mutated */
                json_object_set_new(o, "drbd-options", gen_drbd_options(r, true));
                break;
        default: /* properties, mutated */
                json_object_set_new(o, "properties", json_pack("{s:o}", below(r, 2) ? "site" : "Aux/../x",
                                                               gen_hostile_string(r, K_VALUE)));
        }
        return o;
}

/* One argument of the single complete type sig[0..len), inside depth containers. */
static json_t *gen_arg(Rng *r, const char *sig, size_t len, Kind k, bool mutate, unsigned depth) {
        char t = sig[0];

        if (t == 's')
                return mutate ? gen_hostile_string(r, k) : json_string(valid_word(r, k));
        if (strchr("ynqiuxt", t))
                return int_json(t, mutate ? gen_boundary_u64(r) : valid_int(r, k));
        if (t == 'b')
                return json_boolean(below(r, 2));
        if (t == 'd')
                return json_real(mutate ? -1e308 : 1.0);
        if (t == 'o')
                return json_string(mutate ? "/" : ROOT_PATH);
        if (t == 'g')
                return json_string(mutate ? "a{sv}" : "s");
        if (t == 'v')
                return gen_variant(r, depth + 1);
        if (len == 5 && startswith(sig, "a{sv}"))
                return gen_options(r, mutate, depth);
        if (t == 'a' && sig[1] == '{') {
                json_t *o = json_object();
                json_object_set_new(o, "site", gen_arg(r, sig + 3, len - 4, K_VALUE, mutate, depth + 1));
                return o;
        }
        if (t == 'a') {
                json_t *a = json_array();
                for (size_t i = 0, n = mutate ? below(r, 5) : 1; i < n; i++)
                        json_array_append_new(a, gen_arg(r, sig + 1, len - 1, k, mutate, depth + 1));
                return a;
        }
        if (t == '(') {
                json_t *a = json_array();
                for (const char *p = sig + 1; *p != ')'; p += type_len(p))
                        json_array_append_new(a, gen_arg(r, p, type_len(p), K_ANY, mutate, depth + 1));
                return a;
        }
        return json_null();
}

static const char *const any_types[] = { "s", "t", "u", "x", "i", "b", "d", "y", "n", "q", "o", "g", "v",
                                         "as", "a{sv}", "a{ss}", "(ss)", "ay", "aa{sv}", "at" };

/* A signature other than the method's: one type dropped, added, replaced or two swapped. */
static char *mutate_signature(Rng *r, const char *in) {
        const char *types[16];
        size_t lens[16], n = 0;
        Str s = {};

        for (const char *p = in; *p && n < 14; p += lens[n++]) {
                types[n] = p;
                lens[n] = type_len(p);
        }
        switch (below(r, 5)) {
        case 0:
                if (n) {
                        size_t i = below(r, n);
                        memmove(&types[i], &types[i + 1], (n - i - 1) * sizeof *types);
                        memmove(&lens[i], &lens[i + 1], (n - i - 1) * sizeof *lens);
                        n--;
                        break;
                }
                __attribute__((fallthrough));
        case 1: {
                size_t i = below(r, n + 1);
                memmove(&types[i + 1], &types[i], (n - i) * sizeof *types);
                memmove(&lens[i + 1], &lens[i], (n - i) * sizeof *lens);
                types[i] = PICK(r, any_types);
                lens[i] = strlen(types[i]);
                n++;
                break;
        }
        case 2:
                if (n) {
                        size_t i = below(r, n);
                        types[i] = PICK(r, any_types);
                        lens[i] = strlen(types[i]);
                        break;
                }
                __attribute__((fallthrough));
        case 3:
                if (n >= 2) {
                        size_t i = below(r, n - 1);
                        const char *t = types[i];
                        size_t l = lens[i];
                        types[i] = types[i + 1], lens[i] = lens[i + 1];
                        types[i + 1] = t, lens[i + 1] = l;
                        break;
                }
                __attribute__((fallthrough));
        default:
                n = below(r, 4);
                for (size_t i = 0; i < n; i++) {
                        types[i] = PICK(r, any_types);
                        lens[i] = strlen(types[i]);
                }
        }
        str_adds(&s, "");
        for (size_t i = 0; i < n; i++)
                str_add(&s, types[i], lens[i]);
        if (streq(s.p, in))
                str_adds(&s, "s");
        return s.p;
}

static char *rd_object_path(Rng *r, bool mutate) {
        _cleanup_(json_decrefp) json_t *name = mutate ? gen_hostile_string(r, K_RD) : json_string(valid_word(r, K_RD));
        char *path = NULL;
        if (strlen(json_string_value(name)) != json_string_length(name) || json_string_length(name) > 4096 ||
            sd_bus_path_encode(RD_PREFIX, json_string_value(name), &path) < 0)
                return strdup(RD_PREFIX "/fz0");
        return path;
}

/* The next call of the stream, from the PRNG alone (never from replies), so a seed
 * always gives the same calls in the same order. */
static json_t *gen_call(Fuzz *f) {
        Rng *r = &f->rng;
        const Method *m = &f->methods[below(r, f->n_methods)];
        unsigned mode = (unsigned) below(r, 100);
        _cleanup_free_ char *sig = NULL, *path = NULL;
        const char *method = m->name, *iface = m->iface;
        json_t *args = json_array(), *desc;
        size_t mutated = SIZE_MAX, mutated2 = SIZE_MAX;

        f->method_calls[m - f->methods]++;
        if (m->on_rd || (m->standard && below(r, 2)))
                path = rd_object_path(r, mode < 10);
        if (mode < 15) { /* valid */
        } else if (mode < 75) { /* valid with one or two arguments mutated */
                mutated = below(r, m->n_args + (m->on_rd ? 1 : 0));
                if (chance(r, 25))
                        mutated2 = below(r, m->n_args + 1);
        } else if (mode < 87) { /* wrong signature */
                sig = mutate_signature(r, m->in);
        } else if (mode < 93) { /* no such method, interface or object */
                static const char *const methods[] = { "NoSuchMethod", "createnode", "Create", "_", "CreateNodeX",
                                                       "ListNodes2" };
                static const char *const ifaces[] = { "org.drbd.drbdd1.Nope", RD_IFACE, MANAGER_IFACE,
                                                      "org.drbd.drbdd2.Manager" };
                static const char *const paths[] = { "/", "/org/drbd", RD_PREFIX, "/org/drbd/drbdd1/nope/x" };
                switch (below(r, 4)) {
                case 0: method = PICK(r, methods); break;
                case 1: iface = PICK(r, ifaces); break;
                case 2: free(path); path = strdup(PICK(r, paths)); break;
                default: free(path); path = rd_object_path(r, true);
                }
        } else { /* everything mutated */
                mutated = SIZE_MAX - 1;
        }

        if (!sig)
                sig = strdup(m->in);
        for (const char *p = sig; *p; p += type_len(p)) {
                size_t i = json_array_size(args);
                Kind k = streq(sig, m->in) && i < m->n_args ? arg_kind(m, m->arg[i]) : K_ANY;
                bool mut = mutated == SIZE_MAX - 1 || i == mutated || i == mutated2 ||
                           (!streq(sig, m->in) && chance(r, 30));
                json_array_append_new(args, gen_arg(r, p, type_len(p), k, mut, 0));
        }
        if (m->on_rd && mutated == m->n_args) {
                free(path);
                path = rd_object_path(r, true);
        }
        desc = json_pack("{s:s,s:s,s:o}", "method", method, "signature", sig, "args", args);
        if (path && !streq(path, ROOT_PATH))
                json_object_set_new(desc, "path", json_string(path));
        if (!streq(iface, path && is_rd_path(path) ? RD_IFACE : MANAGER_IFACE))
                json_object_set_new(desc, "interface", json_string(iface));
        return desc;
}

/* ---- setup and modes ---------------------------------------------------------------------- */

/* The objects the stream works on (names from the pools above); Exists is fine, so a
 * second run on the same state works too. */
#define SETUP_POOL(node, pool) \
        "CreateStoragePool", "sssa{sv}", "[\"" node "\", \"" pool "\", \"lvm\", " \
        "{\"volume-group\": \"vg\", \"capacity\": 107374182400}]"
static const struct {
        const char *method, *sig, *args;
} setup_calls[] = {
        { "CreateNode", "ssa{sv}", "[\"alpha\", \"10.0.0.1\", {\"properties\": {\"site\": \"a\"}}]" },
        { "CreateNode", "ssa{sv}", "[\"beta\", \"10.0.0.2\", {\"properties\": {\"site\": \"b\"}}]" },
        { "CreateNode", "ssa{sv}", "[\"gamma\", \"10.0.0.3\", {}]" },
        { SETUP_POOL("alpha", "p1") },
        { SETUP_POOL("beta", "p1") },
        { "CreateStoragePool", "sssa{sv}", "[\"gamma\", \"p2\", \"file\", {\"directory\": \"/var/lib/drbdd-fuzz\"}]" },
        { "CreateResourceGroup", "sa{sv}", "[\"g0\", {\"place-count\": 2}]" },
        { "CreateResourceDefinition", "sa{sv}", "[\"fz0\", {}]" },
        { "CreateVolumeDefinition", "sta{sv}", "[\"fz0\", 1073741824, {}]" },
        { "CreateResource", "ssa{sv}", "[\"fz0\", \"alpha\", {\"storage-pool\": \"p1\"}]" },
        { "CreateResource", "ssa{sv}", "[\"fz0\", \"beta\", {\"storage-pool\": \"p1\"}]" },
        { "SpawnResources", "ssta{sv}", "[\"g0\", \"fz1\", 1073741824, {}]" },
};

/* Sends one call and waits for its reply (replay and setup). NULL (and *ret_error) if the
 * call could not be sent. */
static Call *call_run(Fuzz *f, json_t *desc, uint64_t index, char **ret_error) {
        Call *c = call_send(f, desc, index, ret_error);
        while (c && !c->done && !interrupted)
                pump(f, 100000, c);
        if (c && !c->done) {
                *ret_error = strdup("interrupted");
                call_unlink(f, c);
                call_free(c);
                return NULL;
        }
        if (c)
                call_unlink(f, c);
        return c;
}

static int setup(Fuzz *f) {
        for (size_t i = 0; i < ELEMENTSOF(setup_calls); i++) {
                _cleanup_(json_decrefp) json_t *d = json_pack("{s:s,s:s,s:o}", "method", setup_calls[i].method,
                                                              "signature", setup_calls[i].sig, "args",
                                                              json_loads(setup_calls[i].args, 0, NULL));
                _cleanup_free_ char *err = NULL;
                Call *c = d ? call_run(f, d, 0, &err) : NULL;
                bool ok = c && (streq(c->result, "return") || streq(c->result, "org.drbd.drbdd1.Error.Exists"));
                if (!ok)
                        fprintf(stderr, "drbdd-fuzz: setup call %s%s failed: %s%s%s\n", setup_calls[i].method,
                                setup_calls[i].args, c ? c->result : strna(err), c && c->message ? ": " : "",
                                c && c->message ? c->message : "");
                call_free(c);
                if (!ok)
                        return -EIO;
        }
        /* Setup replies count neither as calls nor as replies. */
        f->n_calls = f->n_replies = 0;
        json_object_clear(f->by_reply);
        return 0;
}

static int introspect(Fuzz *f, const char *path, bool on_rd) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *xml;
        int r = sd_bus_call_method(f->bus, BUS_NAME, path, "org.freedesktop.DBus.Introspectable", "Introspect", &e,
                                   &reply, "");
        if (r < 0 || (r = sd_bus_message_read(reply, "s", &xml)) < 0) {
                fprintf(stderr, "drbdd-fuzz: cannot introspect %s: %s\n", path, e.message ?: strerror(-r));
                return r;
        }
        return methods_parse(xml, on_rd, &f->methods, &f->n_methods);
}

static void print_counts(json_t *o, const char *indent) {
        const char *k;
        json_t *v;
        /* Largest first. */
        for (;;) {
                const char *best = NULL;
                json_int_t bn = -1;
                json_object_foreach(o, k, v)
                        if (json_is_integer(v) && json_integer_value(v) > bn)
                                best = k, bn = json_integer_value(v);
                if (!best)
                        break;
                printf("%s%9lld  %s\n", indent, (long long) bn, best);
                json_object_set_new(o, best, json_null());
        }
}

static int run_live(Fuzz *f, uint64_t duration_usec) {
        uint64_t start = now_usec(), end = start + duration_usec, last_report = start;
        size_t n_ifaces = 0;

        if (introspect(f, ROOT_PATH, false) < 0)
                return 2;
        for (size_t i = 0; i < ELEMENTSOF(rd_names); i++) {
                _cleanup_free_ char *p = NULL;
                if (sd_bus_path_encode(RD_PREFIX, rd_names[i], &p) >= 0 && introspect(f, p, true) >= 0)
                        break;
        }
        for (size_t i = 0; i < f->n_methods; i++) {
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = streq(f->methods[i].iface, f->methods[j].iface);
                n_ifaces += !seen;
                /* On the per-definition objects only what is not also on the root. */
                if (f->methods[i].on_rd && !streq(f->methods[i].iface, RD_IFACE))
                        f->methods[i].on_rd = false;
        }
        f->method_calls = calloc(f->n_methods + 1, sizeof *f->method_calls);
        bool has_rd = false, has_manager = false;
        for (size_t i = 0; i < f->n_methods; i++)
                has_rd |= streq(f->methods[i].iface, RD_IFACE),
                        has_manager |= streq(f->methods[i].iface, MANAGER_IFACE);
        if (!has_rd || !has_manager) {
                fprintf(stderr, "drbdd-fuzz: introspection lacks the %s interface\n",
                        has_rd ? MANAGER_IFACE : RD_IFACE);
                return 2;
        }
        printf("drbdd-fuzz live: seed %" PRIu64 " (repeat with SEED=%" PRIu64 "), %zu methods on %zu interfaces, "
               "%" PRIu64 " s, reply bound %.1f s, up to %u calls in flight\n",
               f->seed, f->seed, f->n_methods, n_ifaces, duration_usec / 1000000, (double) f->timeout_usec / 1e6,
               f->window);
        fflush(stdout);

        for (uint64_t index = 1; !f->dead && !interrupted; index++) {
                uint64_t now = now_usec();
                if (now >= end)
                        break;
                if (now - last_report >= 10000000) {
                        printf("  [%4" PRIu64 " s] %" PRIu64 " calls, %" PRIu64 " findings\n", (now - start) / 1000000,
                               f->n_calls, f->n_findings);
                        fflush(stdout);
                        last_report = now;
                }
                while (f->n_pending >= f->window && !f->dead && !interrupted)
                        pump(f, 100000, NULL);
                if (f->dead || interrupted)
                        break;
                _cleanup_(json_decrefp) json_t *desc = gen_call(f);
                _cleanup_free_ char *err = NULL;
                if (!call_send(f, desc, index, &err)) {
                        /* The generator made something sd-bus will not marshal: its bug, not drbdd's. */
                        _cleanup_free_ char *d = json_dumps(desc, JSON_COMPACT | JSON_ENSURE_ASCII);
                        fprintf(stderr, "drbdd-fuzz: not sent (%s): %.300s\n", err ?: "?", d ?: "");
                        f->n_dropped++;
                }
                pump(f, 0, NULL);
        }
        /* Wait for what is still in flight, up to the reply bound; a WaitReady that may
         * legitimately wait longer is let go. */
        for (bool waiting = true; waiting && !f->dead && !interrupted;) {
                waiting = false;
                for (Call *c = f->calls; c && !waiting; c = c->next)
                        waiting = !c->done && c->sent + MIN(c->bound, f->timeout_usec) + 1000000 > now_usec();
                if (waiting)
                        pump(f, 100000, NULL);
        }
        for (Call *c = f->calls, *next; c; c = next) {
                next = c->next;
                f->n_cancelled += !c->done;
                call_unlink(f, c);
                call_free(c);
        }

        uint64_t secs = MAX((now_usec() - start) / 1000000, 1);
        size_t covered = 0;
        for (size_t i = 0; i < f->n_methods; i++)
                covered += f->method_calls[i] > 0;
        printf("\ndrbdd-fuzz live summary: seed %" PRIu64 ", %" PRIu64 " s%s\n", f->seed, secs,
               interrupted ? " (interrupted)" : "");
        printf("  calls:    %" PRIu64 " (%" PRIu64 "/s), %zu of %zu methods called\n", f->n_calls, f->n_calls / secs,
               covered, f->n_methods);
        printf("  replies:  %" PRIu64 "\n", f->n_replies);
        print_counts(f->by_reply, "    ");
        if (f->n_dropped)
                printf("  not delivered (refused by sd-bus or dbus-daemon, a generator bug): %" PRIu64 "\n",
                       f->n_dropped);
        if (f->n_cancelled)
                printf("  still waiting at the end (WaitReady, not counted): %" PRIu64 "\n", f->n_cancelled);
        printf("  findings: %" PRIu64 "%s\n", f->n_findings, f->dead ? " (drbdd died: stopped)" : "");
        const char *k;
        json_t *g;
        json_object_foreach(f->by_finding, k, g) {
                json_t *methods = json_object_get(g, "methods"), *file;
                size_t i;
                printf("    %6lld x %s\n", (long long) json_integer_value(json_object_get(g, "count")), k);
                printf("             first: call %lld; %zu methods:",
                       (long long) json_integer_value(json_object_get(g, "first")), json_object_size(methods));
                const char *mk;
                i = 0;
                json_object_foreach(methods, mk, file)
                        if (i++ < 12)
                                printf(" %s", mk);
                printf("%s\n", i > 12 ? " ..." : "");
                json_array_foreach(json_object_get(g, "files"), i, file)
                        if (i < 3)
                                printf("             %s\n", json_string_value(file));
                if (json_array_size(json_object_get(g, "files")) > 3)
                        printf("             and %zu more in %s\n", json_array_size(json_object_get(g, "files")) - 3,
                               f->findings_dir);
        }
        fflush(stdout);
        return f->n_findings ? 1 : 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Files to replay: the arguments, directories expanded to their *.json, sorted. */
static int collect(char **argv, int argc, char ***ret, size_t *n) {
        for (int i = 0; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "drbdd-fuzz: %s: %s\n", argv[i], strerror(errno));
                        return -errno;
                }
                if (!S_ISDIR(st.st_mode)) {
                        *ret = realloc(*ret, (*n + 1) * sizeof **ret);
                        (*ret)[(*n)++] = strdup(argv[i]);
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                size_t first = *n;
                while (d && (de = readdir(d))) {
                        size_t l = strlen(de->d_name);
                        char *p;
                        if (l < 6 || !streq(de->d_name + l - 5, ".json"))
                                continue;
                        if (asprintf(&p, "%s/%s", argv[i], de->d_name) < 0)
                                return -ENOMEM;
                        *ret = realloc(*ret, (*n + 1) * sizeof **ret);
                        (*ret)[(*n)++] = p;
                }
                if (d)
                        closedir(d);
                qsort(*ret + first, *n - first, sizeof **ret, cmp_str);
        }
        return 0;
}

static int run_replay(Fuzz *f, char **argv, int argc, bool strict) {
        char **files = NULL;
        size_t n = 0, ok = 0, failed = 0, xfail = 0, xpass = 0;

        if (collect(argv, argc, &files, &n) < 0)
                return 2;
        if (n == 0) {
                fprintf(stderr, "drbdd-fuzz: no corpus files\n");
                return 2;
        }
        for (size_t i = 0; i < n && !interrupted; i++) {
                _cleanup_(json_decrefp) json_t *desc = json_load_file(files[i], 0, NULL);
                _cleanup_free_ char *err = NULL, *problem = NULL;
                const char *known = json_string_value(json_object_get(desc, "known-defect"));
                const char *expect = json_string_value(json_object_get(desc, "expect"));
                const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
                Call *c = desc ? call_run(f, desc, i + 1, &err) : NULL;

                if (!desc)
                        problem = strdup("not a JSON object");
                else if (!c)
                        problem = TAKE_PTR(err);
                else if (c->dropped)
                        problem = strdup("dbus-daemon dropped the connection: the call is not valid D-Bus "
                                         "(nesting deeper than 64 containers?), so it never reached drbdd");
                else if (c->finding)
                        problem = strdup(c->finding);
                else if (expect && !streq(expect, c->result) && asprintf(&problem, "expected %s", expect) < 0)
                        abort();
                if (known && !strict) {
                        if (problem) {
                                printf("  XFAIL %s: %s (known defect: %s)\n", base, problem, known);
                                xfail++;
                        } else {
                                printf("  XPASS %s: %s; the known defect is fixed: remove \"known-defect\" from "
                                       "the file\n", base, c->result);
                                xpass++;
                        }
                } else if (problem) {
                        printf("  FAIL  %s: %s%s%s\n", base, problem, c && c->message ? " -- " : "",
                               c && c->message ? c->message : "");
                        failed++;
                } else {
                        printf("  ok    %s: %s\n", base, c->result);
                        ok++;
                }
                call_free(c);
                if (f->dead) {
                        printf("  drbdd died: stopping\n");
                        failed++;
                        break;
                }
        }
        printf("drbdd-fuzz replay: %zu files, %zu ok, %zu failed, %zu known defects (XFAIL), %zu fixed (XPASS)\n", n,
               ok, failed, xfail, xpass);
        for (size_t i = 0; i < n; i++)
                free(files[i]);
        free(files);
        return failed || xpass || interrupted ? 1 : 0;
}

static void on_signal(int sig) {
        interrupted = 1;
}

static void usage(void) {
        fprintf(stderr,
                "usage: drbdd-fuzz live [--seed=N] [--duration=SECONDS] [OPTIONS]\n"
                "       drbdd-fuzz replay [--strict] [OPTIONS] FILE|DIR...\n"
                "Fuzzes the drbdd on the system bus (DBUS_SYSTEM_BUS_ADDRESS): live, a seeded stream of\n"
                "mutated calls to every method it exports; replay, the calls of a corpus.\n"
                "  --timeout=SECONDS   a reply must arrive within this (default 5)\n"
                "  --pid=PID           drbdd's pid, checked after every reply (default: asked from the bus)\n"
                "  --findings=DIR      where live saves calls with findings (one JSON file each)\n"
                "  --window=N          live: calls in flight (default 4)\n"
                "  --strict            replay: known defects fail like any other case\n"
                "  --verbose           print every call and its reply\n"
                "Exit status: 0 clean, 1 findings or failures, 2 usage or setup errors.\n");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "seed", required_argument, NULL, 's' },     { "duration", required_argument, NULL, 'd' },
                { "timeout", required_argument, NULL, 't' },  { "pid", required_argument, NULL, 'p' },
                { "findings", required_argument, NULL, 'f' }, { "window", required_argument, NULL, 'w' },
                { "strict", no_argument, NULL, 'S' },         { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },           {},
        };
        Fuzz f = { .timeout_usec = 5000000, .window = 4, .by_reply = json_object(), .by_finding = json_object() };
        uint64_t duration = 60;
        bool strict = false;
        const char *mode;
        int o, r;

        if (argc < 2 || (!streq(argv[1], "live") && !streq(argv[1], "replay"))) {
                usage();
                return 2;
        }
        mode = argv[1];
        argv++, argc--;
        f.seed = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 20);
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (o) {
                case 's': f.seed = strtoull(optarg, NULL, 10); break;
                case 'd': duration = strtoull(optarg, NULL, 10); break;
                case 't': f.timeout_usec = (uint64_t) (strtod(optarg, NULL) * 1e6); break;
                case 'p': f.pid = (pid_t) atoi(optarg); break;
                case 'f': f.findings_dir = optarg; break;
                case 'w': f.window = (unsigned) MAX(atoi(optarg), 1); break;
                case 'S': strict = true; break;
                case 'v': f.verbose = true; break;
                default: usage(); return 2;
                }
        }
        if (f.timeout_usec == 0 || (streq(mode, "replay") && optind >= argc)) {
                usage();
                return 2;
        }
        rng_seed(&f.rng, f.seed);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);

        if (bus_connect(&f) < 0)
                return 2;
        if (f.pid <= 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                uint32_t pid = 0;
                if (sd_bus_call_method(f.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetConnectionUnixProcessID", &e, &reply, "s", BUS_NAME) < 0 ||
                    sd_bus_message_read(reply, "u", &pid) < 0) {
                        fprintf(stderr, "drbdd-fuzz: drbdd is not on the bus: %s\n", e.message ?: "?");
                        return 2;
                }
                f.pid = (pid_t) pid;
        }
        if (setup(&f) < 0)
                return 2;
        if (streq(mode, "live"))
                r = run_live(&f, duration * 1000000);
        else
                r = run_replay(&f, argv + optind, argc - optind, strict);

        for (size_t i = 0; i < HISTORY; i++)
                json_decref(f.history[i]);
        for (size_t i = 0; i < f.n_methods; i++) {
                free(f.methods[i].iface), free(f.methods[i].name), free(f.methods[i].in);
                for (size_t k = 0; k < f.methods[i].n_args; k++)
                        free(f.methods[i].arg[k]);
        }
        free(f.methods);
        free(f.method_calls);
        json_decref(f.by_reply);
        json_decref(f.by_finding);
        sd_bus_flush_close_unref(f.bus);
        return r;
}
