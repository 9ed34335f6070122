/* The metrics registry and its Prometheus text rendering. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>

#include "drbdd/metrics/metrics.h"
#include "macro.h"
#include "thread.h"

typedef struct Sample {
        char *key;          /* rendered label set: "" or {a="x",b="y"} */
        double value;       /* gauge, counter; histogram: sum */
        uint64_t count;     /* histogram */
        uint64_t *buckets;  /* histogram: per bucket (not cumulative), n_buckets */
} Sample;

struct MetricsFamily {
        Metrics *metrics;
        char *name, *help;
        MetricsType type;
        char *labels[METRICS_LABELS_MAX + 1];
        size_t n_labels;
        double *bounds;
        size_t n_buckets;
        Sample *samples; /* sorted by key */
        size_t n_samples, allocated;
};

typedef struct Collector {
        MetricsCollectFn fn;
        void *userdata;
} Collector;

struct Metrics {
        pthread_mutex_t lock;
        MetricsFamily **families;
        size_t n_families;
        Collector *collectors;
        size_t n_collectors;
        uint64_t last_render;
};

static const char *const type_table[_METRICS_TYPE_MAX] = {
        [METRICS_GAUGE] = "gauge",
        [METRICS_COUNTER] = "counter",
        [METRICS_HISTOGRAM] = "histogram",
};

const char *metrics_type_to_string(MetricsType t) {
        return (unsigned) t < _METRICS_TYPE_MAX ? type_table[t] : NULL;
}

int metrics_type_from_string(const char *s) {
        for (unsigned i = 0; s && i < _METRICS_TYPE_MAX; i++)
                if (streq(type_table[i], s))
                        return (int) i;
        return -EINVAL;
}

int metrics_new(Metrics **ret) {
        pthread_mutexattr_t attr;
        Metrics *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&m->lock, &attr);
        pthread_mutexattr_destroy(&attr);
        *ret = m;
        return 0;
}

static void family_free(MetricsFamily *f) {
        if (!f)
                return;
        metrics_family_reset(f);
        free(f->samples);
        free(f->name);
        free(f->help);
        for (size_t i = 0; i < f->n_labels; i++)
                free(f->labels[i]);
        free(f->bounds);
        free(f);
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_families; i++)
                family_free(m->families[i]);
        free(m->families);
        free(m->collectors);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

static bool name_valid(const char *s, bool label) {
        if (!s || !*s || strlen(s) > 200)
                return false;
        for (const char *p = s; *p; p++) {
                bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (!label && *p == ':');
                if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
                        return false;
        }
        return !label || (!streq(s, "le") && !startswith(s, "__"));
}

static bool same_shape(const MetricsFamily *f, MetricsType type, const char *const *labels, size_t n_labels) {
        if (f->type != type || f->n_labels != n_labels)
                return false;
        for (size_t i = 0; i < n_labels; i++)
                if (!streq(f->labels[i], labels[i]))
                        return false;
        return true;
}

int metrics_family_new(Metrics *m, const char *name, MetricsType type, const char *help,
                       const char *const *labels, const double *buckets, size_t n_buckets, MetricsFamily **ret) {
        size_t n_labels = 0;
        int r = 0;

        if (!m || !ret || !name_valid(name, false) || (unsigned) type >= _METRICS_TYPE_MAX)
                return -EINVAL;
        for (; labels && labels[n_labels]; n_labels++)
                if (n_labels >= METRICS_LABELS_MAX || !name_valid(labels[n_labels], true))
                        return -EINVAL;
        if ((type == METRICS_HISTOGRAM) != (n_buckets > 0) || n_buckets > METRICS_BUCKETS_MAX ||
            (n_buckets && !buckets))
                return -EINVAL;
        for (size_t i = 0; i < n_buckets; i++)
                if (isnan(buckets[i]) || isinf(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
                        return -EINVAL;

        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_families; i++)
                if (streq(m->families[i]->name, name)) {
                        if (same_shape(m->families[i], type, labels, n_labels))
                                *ret = m->families[i];
                        else
                                r = -EEXIST;
                        goto out;
                }
        if (m->n_families >= METRICS_FAMILIES_MAX) {
                r = -ENOSPC;
                goto out;
        }
        MetricsFamily **a = realloc(m->families, (m->n_families + 1) * sizeof *a);
        MetricsFamily *f = calloc(1, sizeof *f);
        if (a)
                m->families = a;
        if (!a || !f || !(f->name = strdup(name)) || !(f->help = strdup(help ? help : ""))) {
                family_free(f);
                r = -ENOMEM;
                goto out;
        }
        f->metrics = m;
        f->type = type;
        for (; f->n_labels < n_labels; f->n_labels++)
                if (!(f->labels[f->n_labels] = strdup(labels[f->n_labels]))) {
                        family_free(f);
                        r = -ENOMEM;
                        goto out;
                }
        if (n_buckets) {
                if (!(f->bounds = malloc(n_buckets * sizeof *f->bounds))) {
                        family_free(f);
                        r = -ENOMEM;
                        goto out;
                }
                memcpy(f->bounds, buckets, n_buckets * sizeof *f->bounds);
                f->n_buckets = n_buckets;
        }
        m->families[m->n_families++] = f;
        *ret = f;
out:
        pthread_mutex_unlock(&m->lock);
        return r;
}

/* ---- text building ---- */

typedef struct Buf {
        char *p;
        size_t len, size;
        bool oom;
} Buf;

static void buf_grow(Buf *b, size_t need) {
        if (b->oom || b->len + need + 1 <= b->size)
                return;
        size_t n = MAX(b->size * 2, b->len + need + 1);
        n = MAX(n, (size_t) 4096);
        char *p = realloc(b->p, n);
        if (!p) {
                b->oom = true;
                return;
        }
        b->p = p;
        b->size = n;
}

static void buf_put(Buf *b, const char *s, size_t n) {
        buf_grow(b, n);
        if (b->oom)
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
}

static void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Label values: backslash, double quote and newline escaped; HELP text:
 * backslash and newline. */
static void buf_escaped(Buf *b, const char *s, bool quote) {
        for (; *s; s++) {
                if (*s == '\\')
                        buf_puts(b, "\\\\");
                else if (*s == '\n')
                        buf_puts(b, "\\n");
                else if (*s == '"' && quote)
                        buf_puts(b, "\\\"");
                else
                        buf_put(b, s, 1);
        }
}

void metrics_format_value(double v, char *buf, size_t size) {
        if (isnan(v))
                snprintf(buf, size, "NaN");
        else if (isinf(v))
                snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        else if (v == floor(v) && fabs(v) < 9007199254740992.0)
                snprintf(buf, size, "%.0f", v);
        else {
                /* the shortest of these that reads back as v */
                for (int prec = 15; prec <= 17; prec++) {
                        snprintf(buf, size, "%.*g", prec, v);
                        if (strtod(buf, NULL) == v)
                                break;
                }
        }
}

/* ---- samples ---- */

static char *label_key(const MetricsFamily *f, const char *const *values) {
        Buf b = {};
        size_t n = 0;
        for (; values && values[n]; n++)
                ;
        if (n != f->n_labels)
                return NULL;
        if (n == 0)
                return strdup("");
        buf_puts(&b, "{");
        for (size_t i = 0; i < n; i++) {
                buf_puts(&b, i ? "," : "");
                buf_puts(&b, f->labels[i]);
                buf_puts(&b, "=\"");
                buf_escaped(&b, values[i], true);
                buf_puts(&b, "\"");
        }
        buf_puts(&b, "}");
        if (b.oom) {
                free(b.p);
                return NULL;
        }
        return b.p;
}

/* Finds or creates the sample; caller holds the lock. */
static int sample_get(MetricsFamily *f, const char *const *values, Sample **ret) {
        _cleanup_free_ char *key = label_key(f, values);
        size_t lo = 0, hi = f->n_samples;
        if (!key)
                return -EINVAL;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(f->samples[mid].key, key);
                if (c == 0) {
                        *ret = &f->samples[mid];
                        return 0;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (f->n_samples >= METRICS_SAMPLES_MAX)
                return -ENOSPC;
        if (f->n_samples == f->allocated) {
                size_t n = MAX(f->allocated * 2, (size_t) 8);
                Sample *s = realloc(f->samples, n * sizeof *s);
                if (!s)
                        return -ENOMEM;
                f->samples = s;
                f->allocated = n;
        }
        Sample s = { .key = key };
        if (f->n_buckets && !(s.buckets = calloc(f->n_buckets, sizeof *s.buckets)))
                return -ENOMEM;
        TAKE_PTR(key);
        memmove(&f->samples[lo + 1], &f->samples[lo], (f->n_samples - lo) * sizeof(Sample));
        f->samples[lo] = s;
        f->n_samples++;
        *ret = &f->samples[lo];
        return 0;
}

static int update(MetricsFamily *f, const char *const *values, double v, int op) {
        Sample *s;
        int r;
        if (!f)
                return -EINVAL;
        if ((op == 2) != (f->type == METRICS_HISTOGRAM))
                return -EINVAL;
        if (f->type == METRICS_COUNTER && (isnan(v) || (op == 1 && v < 0)))
                return -EINVAL;
        pthread_mutex_lock(&f->metrics->lock);
        r = sample_get(f, values, &s);
        if (r >= 0) {
                if (op == 0)
                        s->value = v;
                else if (op == 1)
                        s->value += v;
                else {
                        size_t i = 0;
                        while (i < f->n_buckets && v > f->bounds[i])
                                i++;
                        if (i < f->n_buckets)
                                s->buckets[i]++;
                        s->count++;
                        s->value += v;
                }
        }
        pthread_mutex_unlock(&f->metrics->lock);
        return r;
}

int metrics_set(MetricsFamily *f, const char *const *values, double v) { return update(f, values, v, 0); }
int metrics_add(MetricsFamily *f, const char *const *values, double delta) { return update(f, values, delta, 1); }
int metrics_observe(MetricsFamily *f, const char *const *values, double v) { return update(f, values, v, 2); }

void metrics_family_reset(MetricsFamily *f) {
        if (!f)
                return;
        pthread_mutex_lock(&f->metrics->lock);
        for (size_t i = 0; i < f->n_samples; i++) {
                free(f->samples[i].key);
                free(f->samples[i].buckets);
        }
        f->n_samples = 0;
        pthread_mutex_unlock(&f->metrics->lock);
}

int metrics_collector_add(Metrics *m, MetricsCollectFn fn, void *userdata) {
        if (!m || !fn)
                return -EINVAL;
        pthread_mutex_lock(&m->lock);
        Collector *c = realloc(m->collectors, (m->n_collectors + 1) * sizeof *c);
        if (c) {
                m->collectors = c;
                m->collectors[m->n_collectors++] = (Collector) { fn, userdata };
        }
        pthread_mutex_unlock(&m->lock);
        return c ? 0 : -ENOMEM;
}

void metrics_collect(Metrics *m) {
        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_collectors; i++)
                m->collectors[i].fn(m, m->collectors[i].userdata);
        pthread_mutex_unlock(&m->lock);
}

void metrics_collect_one(Metrics *m, MetricsCollectFn fn, void *userdata) {
        if (!m || !fn)
                return;
        pthread_mutex_lock(&m->lock);
        fn(m, userdata);
        pthread_mutex_unlock(&m->lock);
}

uint64_t metrics_last_render_usec(Metrics *m) {
        pthread_mutex_lock(&m->lock);
        uint64_t t = m->last_render;
        pthread_mutex_unlock(&m->lock);
        return t;
}

/* ---- rendering ---- */

static void render_line(Buf *b, const char *name, const char *suffix, const char *key, const char *le, double v) {
        char num[64];
        buf_puts(b, name);
        buf_puts(b, suffix);
        if (le) {
                size_t n = strlen(key);
                if (n) {
                        buf_put(b, key, n - 1);
                        buf_puts(b, ",");
                } else
                        buf_puts(b, "{");
                buf_puts(b, "le=\"");
                buf_puts(b, le);
                buf_puts(b, "\"}");
        } else
                buf_puts(b, key);
        metrics_format_value(v, num, sizeof num);
        buf_puts(b, " ");
        buf_puts(b, num);
        buf_puts(b, "\n");
}

static void render_family(Buf *b, const MetricsFamily *f) {
        if (f->n_samples == 0)
                return;
        buf_puts(b, "# HELP ");
        buf_puts(b, f->name);
        buf_puts(b, " ");
        buf_escaped(b, f->help, false);
        buf_puts(b, "\n# TYPE ");
        buf_puts(b, f->name);
        buf_puts(b, " ");
        buf_puts(b, metrics_type_to_string(f->type));
        buf_puts(b, "\n");
        for (size_t i = 0; i < f->n_samples; i++) {
                const Sample *s = &f->samples[i];
                if (f->type != METRICS_HISTOGRAM) {
                        render_line(b, f->name, "", s->key, NULL, s->value);
                        continue;
                }
                uint64_t cum = 0;
                char le[64];
                for (size_t k = 0; k < f->n_buckets; k++) {
                        cum += s->buckets[k];
                        metrics_format_value(f->bounds[k], le, sizeof le);
                        render_line(b, f->name, "_bucket", s->key, le, (double) cum);
                }
                render_line(b, f->name, "_bucket", s->key, "+Inf", (double) s->count);
                render_line(b, f->name, "_sum", s->key, NULL, s->value);
                render_line(b, f->name, "_count", s->key, NULL, (double) s->count);
        }
}

int metrics_render(Metrics *m, char **ret, size_t *ret_len) {
        Buf b = {};
        pthread_mutex_lock(&m->lock);
        m->last_render = thread_monotonic_usec();
        for (size_t i = 0; i < m->n_families; i++)
                render_family(&b, m->families[i]);
        pthread_mutex_unlock(&m->lock);
        buf_puts(&b, "");
        if (b.oom) {
                free(b.p);
                return -ENOMEM;
        }
        *ret = b.p;
        *ret_len = b.len;
        return 0;
}
