/* Replica placement: depth-first choice by free space under failure domains. */
#include <stdlib.h>

#include "json-util.h"
#include "macro.h"
#include "placement.h"

typedef struct Ctx {
        const PlaceCandidate *c;
        size_t n;
        const size_t *order;
        json_t *same, *diff;
        unsigned need;
        json_t *chosen_props; /* array: fixed + chosen so far */
        size_t *out;
        unsigned depth;
        unsigned long budget; /* bounds the search on large clusters */
} Ctx;

static bool has_keys(json_t *props, json_t *keys) {
        json_t *k;
        size_t i;
        json_array_foreach(keys, i, k)
                if (!json_is_string(json_object_get(props, json_string_value(k))))
                        return false;
        return true;
}

static bool compatible(Ctx *x, json_t *props) {
        json_t *k, *other;
        size_t i, j;
        json_array_foreach(x->chosen_props, j, other) {
                json_array_foreach(x->same, i, k) {
                        const char *key = json_string_value(k);
                        if (!streq_ptr(json_get_str(props, key, NULL), json_get_str(other, key, NULL)))
                                return false;
                }
                json_array_foreach(x->diff, i, k) {
                        const char *key = json_string_value(k);
                        if (streq_ptr(json_get_str(props, key, NULL), json_get_str(other, key, NULL)))
                                return false;
                }
        }
        return true;
}

static bool search(Ctx *x, size_t start) {
        if (x->depth == x->need)
                return true;
        for (size_t oi = start; oi < x->n; oi++) {
                /* Once spent, the budget stays at 0 so every level gives up. */
                if (x->budget == 0)
                        return false;
                x->budget--;
                const PlaceCandidate *c = &x->c[x->order[oi]];
                bool dup = false;
                for (unsigned d = 0; d < x->depth && !dup; d++)
                        dup = streq(x->c[x->out[d]].node, c->node);
                if (dup || !compatible(x, c->properties))
                        continue;
                json_array_append(x->chosen_props, c->properties);
                x->out[x->depth++] = x->order[oi];
                if (search(x, oi + 1))
                        return true;
                x->depth--;
                json_array_remove(x->chosen_props, json_array_size(x->chosen_props) - 1);
        }
        return false;
}

static const PlaceCandidate *sort_base;
static int by_free_desc(const void *a, const void *b) {
        const PlaceCandidate *x = &sort_base[*(const size_t *) a], *y = &sort_base[*(const size_t *) b];
        if (x->free_kib != y->free_kib)
                return x->free_kib > y->free_kib ? -1 : 1;
        int r = strcmp(x->node, y->node);
        return r ? r : strcmp(x->pool, y->pool);
}

int placement_select(const PlaceCandidate *c, size_t n, json_t *fixed, unsigned need, json_t *same, json_t *diff,
                     size_t *ret_idx) {
        _cleanup_free_ size_t *order = NULL;
        _cleanup_(json_decrefp) json_t *chosen = json_array();
        _cleanup_(json_decrefp) json_t *empty = json_array();
        size_t m = 0;

        if (!chosen || !empty)
                return -ENOMEM;
        if (need == 0)
                return 0;
        if (!(order = calloc(n ? n : 1, sizeof *order)))
                return -ENOMEM;
        same = json_is_array(same) ? same : empty;
        diff = json_is_array(diff) ? diff : empty;
        for (size_t i = 0; i < n; i++)
                if (has_keys(c[i].properties, same) && has_keys(c[i].properties, diff))
                        order[m++] = i;
        sort_base = c;
        qsort(order, m, sizeof *order, by_free_desc);
        if (json_is_array(fixed)) {
                json_t *p;
                size_t i;
                json_array_foreach(fixed, i, p)
                        json_array_append(chosen, p);
        }
        Ctx x = { .c = c, .n = m, .order = order, .same = same, .diff = diff, .need = need,
                  .chosen_props = chosen, .out = ret_idx, .budget = 100000 };
        return search(&x, 0) ? 0 : -ENOSPC;
}
