/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-chunks.h"

G_BEGIN_DECLS

/*
 * AssayChunkDecoder:
 * Takes the chunks of one .xz stream in order (push) and writes the decompressed bytes to
 * a GOutputStream as it goes; finish() says the stream was complete. Strict: exactly one
 * .xz stream, integrity check CRC64 or SHA-256, nothing after it (no stream padding, no
 * second stream). Uses liblzma's multi-threaded decoder, which falls back to one thread
 * when the threads would need more than the memory limit, and to the single-threaded
 * decoder if it cannot start.
 *
 * Errors (ASSAY_CHUNK_ERROR) name the chunk (0-based, as in the object names) being
 * decoded when the problem was found; a corrupt byte is found at the latest at the end of
 * its xz block, so it may lie in an earlier chunk. Corrupt data, a check mismatch, a
 * truncated stream (at finish), trailing data, an over-large output or chunk, and the
 * memory limit are each their own code. The bytes already written are then not to be
 * trusted (they are never more than @max_output), and the decoder refuses further use.
 *
 * Memory: a 1 MiB output buffer plus liblzma's state, capped by the memory limit.
 * Cancellation is checked between buffers. Not thread-safe.
 */
#define ASSAY_TYPE_CHUNK_DECODER (assay_chunk_decoder_get_type ())

G_DECLARE_FINAL_TYPE (AssayChunkDecoder, assay_chunk_decoder, ASSAY, CHUNK_DECODER, GObject)

AssayChunkDecoder *assay_chunk_decoder_new               (GOutputStream           *output,
                                                          const AssayChunkLimits  *limits);
gboolean           assay_chunk_decoder_push              (AssayChunkDecoder       *self,
                                                          GBytes                  *chunk,
                                                          GCancellable            *cancellable,
                                                          GError                 **error);
gboolean           assay_chunk_decoder_finish            (AssayChunkDecoder       *self,
                                                          GCancellable            *cancellable,
                                                          GError                 **error);
guint64            assay_chunk_decoder_get_bytes_written (AssayChunkDecoder       *self);
guint64            assay_chunk_decoder_get_bytes_read    (AssayChunkDecoder       *self);
guint              assay_chunk_decoder_get_chunks        (AssayChunkDecoder       *self);

G_END_DECLS
