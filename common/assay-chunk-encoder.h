/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-chunks.h"

G_BEGIN_DECLS

/*
 * AssayChunkEncoder:
 * Reads a GInputStream and compresses it with liblzma's multi-threaded .xz encoder into
 * one .xz stream (check CRC64), handed out as chunks of exactly @chunk_size bytes (the
 * last one shorter, never empty). The chunks in order concatenate to a valid .xz file
 * whose content is exactly the input.
 *
 * Deterministic: the bytes depend only on the input, @preset, @chunk_size (which only
 * decides where the stream is cut) and the liblzma release. They do NOT depend on
 * @threads: the multi-threaded encoder is used for any thread count (1 too) with a fixed
 * block size, max (3 × the preset's dictionary size, 1 MiB) — 1 MiB at preset 0, 3 MiB at
 * 1, 12 MiB at 3, 24 MiB at 6 — and each block is compressed on its own, so one thread or
 * eight give the same stream: with liblzma 5.4.1 it is byte for byte what `xz -T2 -<p>`
 * writes (`xz -T1` differs: its single-threaded mode writes one block).
 * A resumed upload re-makes a stored chunk and compares it by MD5; that holds as long as
 * the liblzma release is the same, which is not promised across releases.
 *
 * Memory: one chunk being filled, a 1 MiB input buffer, and liblzma's own state (about
 * threads × (2 × block size + the preset's encoder memory)), whatever the input's size.
 * With @threads 0 the thread count is the number of CPUs (at most 64), reduced until
 * liblzma's estimate fits in 1 GiB; it never changes the output.
 *
 * Not thread-safe: call it from one thread at a time (typically a GTask thread).
 */
#define ASSAY_TYPE_CHUNK_ENCODER (assay_chunk_encoder_get_type ())

G_DECLARE_FINAL_TYPE (AssayChunkEncoder, assay_chunk_encoder, ASSAY, CHUNK_ENCODER, GObject)

AssayChunkEncoder *assay_chunk_encoder_new               (GInputStream       *input,
                                                          guint               preset,
                                                          guint               threads,
                                                          gsize               chunk_size);
GBytes            *assay_chunk_encoder_next              (AssayChunkEncoder  *self,
                                                          GCancellable       *cancellable,
                                                          GError            **error);
guint64            assay_chunk_encoder_get_bytes_read    (AssayChunkEncoder  *self);
guint64            assay_chunk_encoder_get_bytes_written (AssayChunkEncoder  *self);
guint              assay_chunk_encoder_get_chunks        (AssayChunkEncoder  *self);
guint              assay_chunk_encoder_get_threads       (AssayChunkEncoder  *self);
guint64            assay_chunk_encoder_get_block_size    (AssayChunkEncoder  *self);

G_END_DECLS
