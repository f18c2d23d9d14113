/*
 * file_read.h - whole-file reads through zlib, gzip-compressed and raw files alike.
 *
 * For the programs around the extension (mlpscale-load, the benchmark), which read dataset
 * files; the server never reads files through the core.
 */
#ifndef MLP_FILE_READ_H
#define MLP_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/*
 * Reads path whole into a malloc'd *data of *len bytes.  A missing file or a directory is
 * MLP_ERR_INVALID_ARGUMENT, a read error MLP_ERR_IO, gzip data that ends early or is damaged
 * MLP_ERR_DATA_CORRUPTED; every message starts with the path.
 */
MlpStatus	mlp_read_file(const char *path, uint8_t **data, size_t *len, MlpError *err);

/* zlib prefixes its messages with "path: "; callers add their own, so this drops it. */
const char *mlp_strip_path(const char *msg, const char *path);

#endif
