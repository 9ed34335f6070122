/* jansson helpers used across the project. */
#include <stdarg.h>
#include <stdio.h>

#include "json-util.h"

const char *json_get_str(const json_t *o, const char *key, const char *def) {
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? json_string_value(v) : def;
}

json_t *json_array_find(json_t *arr, const char *key, const char *value) {
        json_t *e;
        size_t i;
        json_array_foreach(arr, i, e)
                if (streq(json_get_str(e, key, ""), value))
                        return e;
        return NULL;
}

int64_t json_get_int(const json_t *o, const char *key, int64_t def) {
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? (int64_t) json_integer_value(v) : def;
}

bool json_get_bool(const json_t *o, const char *key, bool def) {
        json_t *v = json_object_get(o, key);
        return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *json_parse(const char *text, size_t len, char **ret_error) {
        json_error_t e;
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
        if (!j && ret_error)
                if (asprintf(ret_error, "line %d: %s", e.line, e.text) < 0)
                        *ret_error = NULL;
        return j;
}

char *json_dump_compact(const json_t *j) {
        return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

const char *json_array_append_vprintf(json_t *arr, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof buf, fmt, ap);
        json_t *s = json_string(buf);
        if (!s || json_array_append_new(arr, s) < 0)
                return NULL;
        return json_string_value(s);
}

const char *json_array_append_printf(json_t *arr, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        const char *s = json_array_append_vprintf(arr, fmt, ap);
        va_end(ap);
        return s;
}
