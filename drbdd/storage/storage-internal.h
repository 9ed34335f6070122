/* Helpers shared by the storage drivers (storage.c, storage-lvm.c, storage-file.c); not a public API. */
#pragma once

#include <stdint.h>

#include "drbdd/storage/storage.h"
#include "macro.h"

extern const StorageOps storage_lvm_ops;
extern const StorageOps storage_lvm_thin_ops;
extern const StorageOps storage_file_ops;

/* Timeouts of the commands we run. */
#define STORAGE_LVM_TIMEOUT_MS (120 * 1000ULL)
#define STORAGE_LOSETUP_TIMEOUT_MS (30 * 1000ULL)

/* Sets *ret_msg (if not NULL) to the formatted message; returns error. */
int storage_msgf(char **ret_msg, int error, const char *fmt, ...) _printf_(3, 4);

/* Runs argv with the timeout. On success (exit 0) returns 0 and *ret_out
 * (optional) gets stdout. Otherwise: -EIO with "CMD exited N: <stderr>" (all
 * non-empty lines of stderr, trimmed, joined by "; ", at most 400 chars;
 * -ENOSPC instead of -EIO when LVM says "insufficient free space"),
 * -ETIMEDOUT "CMD timed out after N s", -ENOENT "CMD: command not found". */
int storage_run(char *const argv[], uint64_t timeout_ms, char **ret_out, char **ret_msg);

/* Appends argv, quoted for display (exec_argv_to_string()), to out. -ENOMEM. */
int storage_commands_add(json_t *out, char *const argv[]);

/* The message part of a failed command: "CMD exited N: <stderr>" for res. */
char *storage_command_error(char *const argv[], int status, const char *err);

/* Sorts a report's volumes by name. */
void storage_report_sort(StorageReport *r);
/* Appends a volume to r (takes name and origin); -ENOMEM. */
int storage_report_add(StorageReport *r, char *name, uint64_t size_kib, char *origin, bool snapshot, bool active);
