/* DRBD internal metadata size and backing-volume sizing with extent rounding. */
#include <assert.h>
#include <errno.h>

#include "macro.h"
#include "drbdd/model/sizing.h"

/* Computed in 128 bits, saturating at UINT64_MAX: large enough never to fit. */
uint64_t drbd_md_kib(uint64_t dev_kib, unsigned peer_slots) {
        unsigned __int128 bits, words, bitmap_bytes, bitmap_kib, total;

        bits = ((unsigned __int128) dev_kib + 3) / 4;           /* one bit per 4 KiB */
        words = (bits + 63) / 64;                                /* per peer, 64-bit words */
        bitmap_bytes = words * 8 * peer_slots;
        bitmap_kib = (bitmap_bytes + 4095) / 4096 * 4;           /* total rounded to 4 KiB */
        total = bitmap_kib + DRBD_AL_KIB + DRBD_SUPERBLOCK_KIB;  /* both 4 KiB aligned */
        if (total > UINT64_MAX)
                return UINT64_MAX;
        return (uint64_t) total;
}

/* Usable size of a backing device, or 0 if the metadata does not fit. */
static uint64_t usable_kib(uint64_t backing_kib, unsigned peer_slots) {
        uint64_t md = drbd_md_kib(backing_kib, peer_slots);
        return backing_kib > md ? backing_kib - md : 0;
}

int sizing_compute(uint64_t requested_kib, unsigned peer_slots, uint64_t extent_kib, Sizing *ret) {
        uint64_t md, backing;

        if (!ret || requested_kib == 0 || extent_kib == 0)
                return -EINVAL;
        if (peer_slots < 1 || peer_slots > DRBD_MAX_PEERS)
                return -EINVAL;

        /* The answer is the smallest multiple m of extent_kib with m >= requested + md(m).
         * Iterating b = roundup(requested + md(b)) from b = 0 never passes m (md is monotone)
         * and stops exactly there; md grows by at most 31/32768 of the size, so this takes a
         * handful of rounds, not one per extent. */
        backing = 0;
        for (;;) {
                uint64_t next;

                md = drbd_md_kib(backing, peer_slots);
                if (requested_kib > UINT64_MAX - md)
                        return -ERANGE;
                next = requested_kib + md;
                if (next % extent_kib) {
                        uint64_t add = extent_kib - next % extent_kib;
                        if (next > UINT64_MAX - add)
                                return -ERANGE;
                        next += add;
                }
                if (next == backing)
                        break;
                backing = next;
        }
        assert(usable_kib(backing, peer_slots) >= requested_kib);

        *ret = (Sizing) {
                .requested_kib = requested_kib,
                .peer_slots = peer_slots,
                .md_kib = drbd_md_kib(backing, peer_slots),
                .backing_kib = backing,
                .usable_kib = usable_kib(backing, peer_slots),
        };
        return 0;
}
