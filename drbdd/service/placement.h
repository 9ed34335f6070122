/* Replica placement: choose nodes for new replicas by free space under
 * failure-domain rules. Pure: no store access, unit-tested on its own. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PlaceCandidate {
        const char *node;
        const char *pool;
        json_t *properties;      /* node properties (object of strings) */
        uint64_t free_kib;
} PlaceCandidate;

/* Chooses `need` distinct candidates (by node) such that, together with the
 * properties of the existing diskful replicas (`fixed`, array of property
 * objects), every key in `same` has one value across all of them and every key
 * in `diff` has pairwise different values; a node lacking a key named in
 * either list is not eligible. Prefers the most free space. Writes `need`
 * indexes into ret_idx (caller-sized). Returns 0 or -ENOSPC. */
int placement_select(const PlaceCandidate *c, size_t n, json_t *fixed, unsigned need, json_t *same, json_t *diff,
                     size_t *ret_idx);
