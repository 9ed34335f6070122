/* Sizes: parsing and formatting with binary units, and the bounds a volume
 * size must respect. All sizes inside drbdd are in KiB. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SIZE_MIN_KIB (4ULL * 1024)                   /* 4 MiB */
#define SIZE_MAX_KIB (1ULL << 40)                    /* 1 PiB */

/* Parses "10G", "10GiB", "512M", "512MiB", "4096K", "1T", "1P" (binary
 * multiples, case-insensitive, optional "B"/"iB"; decimal "GB" also taken as
 * binary to match LVM) and bare numbers with explicit unit only: a bare
 * number is rejected with a message asking for a unit. "1.5G" is allowed
 * (rounded up to KiB). Returns 0 and *ret_kib, or -EINVAL / -ERANGE with a
 * message (if ret_msg). Bounds are NOT checked here. */
int size_parse_kib(const char *s, uint64_t *ret_kib, char **ret_msg);

/* Checks SIZE_MIN_KIB <= kib <= SIZE_MAX_KIB; -ERANGE with message. */
int size_check_bounds(uint64_t kib, char **ret_msg);

/* Formats kib to buf as the largest exact-ish unit, e.g. "10 GiB", "1.50 GiB",
 * "512 MiB", "4 KiB". Returns buf. */
char *size_format_kib(uint64_t kib, char *buf, size_t len);
