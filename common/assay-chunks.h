/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The chunked .xz stream of PROTOCOL.md ("Chunks"): a file is compressed as ONE .xz
 * stream (integrity check CRC64) and the compressed bytes are cut into chunks of
 * chunk_size bytes (the last one shorter). AssayChunkEncoder makes the chunks,
 * AssayChunkDecoder checks and decompresses them. This header holds what both share.
 */

#define ASSAY_CHUNK_ERROR (assay_chunk_error_quark ())

typedef enum
{
  ASSAY_CHUNK_ERROR_CORRUPT,         /* not xz / bad check / bad data / a check other than
                                        CRC64 or SHA-256 */
  ASSAY_CHUNK_ERROR_TRUNCATED,       /* stream ended early at finish() */
  ASSAY_CHUNK_ERROR_TRAILING_DATA,   /* bytes after the end of the xz stream (padding,
                                        a second stream, garbage) */
  ASSAY_CHUNK_ERROR_TOO_LARGE,       /* output would exceed max_output (a bomb or a file
                                        over the limit) */
  ASSAY_CHUNK_ERROR_CHUNK_TOO_LARGE, /* one chunk over max_chunk_size */
  ASSAY_CHUNK_ERROR_MEMLIMIT,        /* liblzma would need more memory than allowed */
  ASSAY_CHUNK_ERROR_FAILED,          /* options / internal / used after an error */
} AssayChunkError;

/* Chunk sizes of the protocol: the default, and the most a chunk may be. */
#define ASSAY_CHUNK_SIZE_DEFAULT (8 * 1024 * 1024)
#define ASSAY_CHUNK_SIZE_MAX     (64 * 1024 * 1024)

/* The same bit as LZMA_PRESET_EXTREME, so that callers need not include <lzma.h>. */
#define ASSAY_CHUNK_PRESET_EXTREME (1u << 31)

/* Defaults of AssayChunkLimits, used where a field is 0. */
#define ASSAY_CHUNK_MAX_OUTPUT_DEFAULT (G_GUINT64_CONSTANT (64) << 30) /* 64 GiB */
#define ASSAY_CHUNK_MEMLIMIT_DEFAULT   (G_GUINT64_CONSTANT (512) << 20) /* 512 MiB */

/*
 * AssayChunkLimits:
 * @max_output: the most decompressed bytes the decoder writes; one byte more is
 *   %ASSAY_CHUNK_ERROR_TOO_LARGE. 0 = %ASSAY_CHUNK_MAX_OUTPUT_DEFAULT.
 * @max_chunk_size: the largest chunk push() accepts. 0 = %ASSAY_CHUNK_SIZE_MAX.
 * @memlimit: the most memory liblzma may use for decompressing (its hard limit,
 *   memlimit_stop; also the soft limit above which it uses fewer threads).
 *   0 = %ASSAY_CHUNK_MEMLIMIT_DEFAULT.
 * @threads: decoder threads. 0 = the number of CPUs.
 */
typedef struct
{
  guint64 max_output;
  gsize   max_chunk_size;
  guint64 memlimit;
  guint   threads;
} AssayChunkLimits;

GQuark assay_chunk_error_quark (void);

G_END_DECLS
