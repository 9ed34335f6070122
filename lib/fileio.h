/* File helpers: atomic replace with mode, whole-file reads. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes data to a temporary file next to path, fsyncs it, renames it over
 * path and fsyncs the directory. The file is created with mode (e.g. 0600);
 * returns 0 or negative errno. Never leaves a partial file at path. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* fileio_write_atomic() of text unless path already holds exactly it (up to
 * 1 MiB compared). Returns 1 when written, 0 when unchanged, or negative errno. */
int fileio_write_if_changed(const char *path, const char *text, mode_t mode);

/* Reads a whole file (up to max bytes) into a NUL-terminated buffer the
 * caller frees. Returns 0 or negative errno (-EFBIG when larger than max). */
int fileio_read_full(const char *path, size_t max, char **ret, size_t *ret_len);

/* mkdir -p with mode for created directories. */
int fileio_mkdir_p(const char *path, mode_t mode);
