/* Sizing of DRBD backing volumes: internal metadata (bitmap per peer slot,
 * activity log, superblock) and storage extent rounding, so that the usable
 * size DRBD exposes is never below what was requested. */
#pragma once

#include <stdint.h>

#define DRBD_AL_KIB 32u          /* activity log, default 1 stripe x 32 KiB */
#define DRBD_SUPERBLOCK_KIB 4u   /* superblock */
#define DRBD_MAX_PEERS 31u

typedef struct Sizing {
        uint64_t requested_kib;  /* what was asked for */
        unsigned peer_slots;     /* bitmap slots (max-peers) */
        uint64_t md_kib;         /* internal metadata for backing_kib */
        uint64_t backing_kib;    /* size of the backing LV/file, extent aligned */
        uint64_t usable_kib;     /* backing_kib - md_kib: what DRBD exposes; >= requested */
} Sizing;

/* Internal metadata needed for a device whose backing size is dev_kib with
 * peer_slots bitmaps: per peer one bit per 4 KiB, rounded to 4 KiB in total,
 * plus 32 KiB AL and 4 KiB superblock, 4 KiB aligned.
 * Example: 100 GiB (104857600 KiB), 7 slots -> 22436 KiB. */
uint64_t drbd_md_kib(uint64_t dev_kib, unsigned peer_slots);

/* Computes backing and usable sizes for requested_kib with peer_slots
 * (1..31) on storage allocating in extent_kib units (e.g. 4096 for LVM's
 * 4 MiB extents, 4 for FILE). Returns 0, or -EINVAL for bad arguments,
 * -ERANGE on overflow. */
int sizing_compute(uint64_t requested_kib, unsigned peer_slots, uint64_t extent_kib, Sizing *ret);
