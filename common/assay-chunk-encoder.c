/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-chunk-encoder.h"

#include <lzma.h>

#define THREADS_MAX 16384 /* liblzma's LZMA_THREADS_MAX, not in its public headers */

#define INPUT_BUFFER_SIZE (1024 * 1024)

/* With threads = 0, as many threads as CPUs while liblzma's estimate stays below this. */
#define AUTO_THREADS_MEMORY (G_GUINT64_CONSTANT (1) << 30)

struct _AssayChunkEncoder
{
  GObject parent_instance;

  GInputStream *input;
  guint preset;
  guint threads;
  gsize chunk_size;
  guint64 block_size;

  lzma_stream strm;
  guint8 *inbuf;
  gboolean started;
  gboolean input_eof;
  gboolean done;
  gboolean failed;

  guint64 bytes_read;
  guint64 bytes_written;
  guint chunks;
};

G_DEFINE_FINAL_TYPE (AssayChunkEncoder, assay_chunk_encoder, G_TYPE_OBJECT)

static void
assay_chunk_encoder_dispose (GObject *object)
{
  AssayChunkEncoder *self = ASSAY_CHUNK_ENCODER (object);

  g_clear_object (&self->input);

  G_OBJECT_CLASS (assay_chunk_encoder_parent_class)->dispose (object);
}

static void
assay_chunk_encoder_finalize (GObject *object)
{
  AssayChunkEncoder *self = ASSAY_CHUNK_ENCODER (object);

  lzma_end (&self->strm);
  g_clear_pointer (&self->inbuf, g_free);

  G_OBJECT_CLASS (assay_chunk_encoder_parent_class)->finalize (object);
}

static void
assay_chunk_encoder_class_init (AssayChunkEncoderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = assay_chunk_encoder_dispose;
  object_class->finalize = assay_chunk_encoder_finalize;
}

static void
assay_chunk_encoder_init (AssayChunkEncoder *self)
{
  self->strm = (lzma_stream) LZMA_STREAM_INIT;
}

static gboolean
preset_is_valid (guint preset)
{
  return (preset & ~(LZMA_PRESET_LEVEL_MASK | LZMA_PRESET_EXTREME)) == 0 &&
         (preset & LZMA_PRESET_LEVEL_MASK) <= 9;
}

/* The block size liblzma 5.4 would pick for the preset, fixed here so that the stream
 * does not depend on a default that another release might change. */
static guint64
block_size_for_preset (guint preset)
{
  lzma_options_lzma opt;

  if (lzma_lzma_preset (&opt, preset))
    g_assert_not_reached (); /* preset_is_valid () was checked */

  return MAX ((guint64) opt.dict_size * 3, G_GUINT64_CONSTANT (1) << 20);
}

static void
fill_mt_options (AssayChunkEncoder *self,
                 lzma_mt           *mt,
                 guint              threads)
{
  *mt = (lzma_mt){
    .flags = 0,
    .threads = threads,
    .block_size = self->block_size,
    .timeout = 0, /* lzma_code () waits for the threads; a timeout never changes the output */
    .preset = self->preset,
    .filters = NULL,
    .check = LZMA_CHECK_CRC64,
  };
}

static guint
auto_threads (AssayChunkEncoder *self)
{
  guint threads = CLAMP (lzma_cputhreads (), 1, 64);
  lzma_mt mt;

  for (; threads > 1; threads--)
    {
      fill_mt_options (self, &mt, threads);
      if (lzma_stream_encoder_mt_memusage (&mt) <= AUTO_THREADS_MEMORY)
        break;
    }
  return threads;
}

/**
 * assay_chunk_encoder_new:
 * @input: the data to compress, read from its current position to its end
 * @preset: 0-9, may be ORed with %ASSAY_CHUNK_PRESET_EXTREME
 * @threads: compression threads, 0 = the number of CPUs (does not change the output)
 * @chunk_size: 1 to %ASSAY_CHUNK_SIZE_MAX, 0 = %ASSAY_CHUNK_SIZE_DEFAULT
 *
 * Nothing is read before the first assay_chunk_encoder_next().
 *
 * Returns: (transfer full): a new encoder
 */
AssayChunkEncoder *
assay_chunk_encoder_new (GInputStream *input,
                         guint         preset,
                         guint         threads,
                         gsize         chunk_size)
{
  AssayChunkEncoder *self;

  g_return_val_if_fail (G_IS_INPUT_STREAM (input), NULL);
  g_return_val_if_fail (preset_is_valid (preset), NULL);
  g_return_val_if_fail (threads <= THREADS_MAX, NULL);
  g_return_val_if_fail (chunk_size <= ASSAY_CHUNK_SIZE_MAX, NULL);

  self = g_object_new (ASSAY_TYPE_CHUNK_ENCODER, NULL);
  self->input = g_object_ref (input);
  self->preset = preset;
  self->chunk_size = chunk_size > 0 ? chunk_size : ASSAY_CHUNK_SIZE_DEFAULT;
  self->block_size = block_size_for_preset (preset);
  self->threads = threads > 0 ? threads : auto_threads (self);

  return self;
}

static gboolean
start (AssayChunkEncoder  *self,
       GError            **error)
{
  lzma_mt mt;
  lzma_ret ret;

  fill_mt_options (self, &mt, self->threads);
  ret = lzma_stream_encoder_mt (&self->strm, &mt);
  if (ret != LZMA_OK)
    {
      g_set_error (error, ASSAY_CHUNK_ERROR, ASSAY_CHUNK_ERROR_FAILED,
                   "cannot start the xz encoder (preset %u, %u threads): %s",
                   self->preset & LZMA_PRESET_LEVEL_MASK, self->threads,
                   ret == LZMA_MEM_ERROR ? "out of memory" : "unsupported options");
      return FALSE;
    }

  self->inbuf = g_malloc (INPUT_BUFFER_SIZE);
  self->started = TRUE;
  return TRUE;
}

/* Fills @buf (chunk_size bytes) as far as the stream goes. Returns the length, or -1. */
static gssize
fill_chunk (AssayChunkEncoder  *self,
            guint8             *buf,
            GCancellable       *cancellable,
            GError            **error)
{
  self->strm.next_out = buf;
  self->strm.avail_out = self->chunk_size;

  while (self->strm.avail_out > 0)
    {
      lzma_ret ret;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return -1;

      if (self->strm.avail_in == 0 && !self->input_eof)
        {
          gssize n =
              g_input_stream_read (self->input, self->inbuf, INPUT_BUFFER_SIZE, cancellable, error);

          if (n < 0)
            return -1;
          if (n == 0)
            self->input_eof = TRUE;
          self->strm.next_in = self->inbuf;
          self->strm.avail_in = (gsize) n;
          self->bytes_read += (guint64) n;
        }

      ret = lzma_code (&self->strm, self->input_eof ? LZMA_FINISH : LZMA_RUN);
      if (ret == LZMA_STREAM_END)
        {
          self->done = TRUE;
          break;
        }
      if (ret != LZMA_OK)
        {
          g_set_error (error, ASSAY_CHUNK_ERROR, ASSAY_CHUNK_ERROR_FAILED,
                       "the xz encoder failed after %" G_GUINT64_FORMAT " input bytes: %s",
                       self->bytes_read,
                       ret == LZMA_MEM_ERROR ? "out of memory" : "internal error");
          return -1;
        }
    }

  return (gssize) (self->chunk_size - self->strm.avail_out);
}

/**
 * assay_chunk_encoder_next:
 *
 * Reads and compresses input until a chunk is full or the stream has ended. Errors
 * from the input stream (including %G_IO_ERROR_CANCELLED) are passed on; after any
 * error the encoder only fails.
 *
 * Returns: (transfer full) (nullable): the next chunk, exactly chunk_size bytes except
 * the last; %NULL without an error once the stream has ended.
 */
GBytes *
assay_chunk_encoder_next (AssayChunkEncoder  *self,
                          GCancellable       *cancellable,
                          GError            **error)
{
  g_autofree guint8 *buf = NULL;
  gssize len;

  g_return_val_if_fail (ASSAY_IS_CHUNK_ENCODER (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->failed)
    {
      g_set_error_literal (error, ASSAY_CHUNK_ERROR, ASSAY_CHUNK_ERROR_FAILED,
                           "the xz encoder stopped after an earlier error");
      return NULL;
    }
  if (self->done)
    return NULL;

  if (!self->started && !start (self, error))
    {
      self->failed = TRUE;
      return NULL;
    }

  buf = g_malloc (self->chunk_size);
  len = fill_chunk (self, buf, cancellable, error);
  if (len < 0)
    {
      self->failed = TRUE;
      lzma_end (&self->strm);
      g_clear_pointer (&self->inbuf, g_free);
      return NULL;
    }
  if (self->done)
    {
      lzma_end (&self->strm);
      g_clear_pointer (&self->inbuf, g_free);
    }
  if (len == 0)
    return NULL; /* the previous chunk ended exactly at the end of the stream */

  if ((gsize) len < self->chunk_size)
    buf = g_realloc (buf, (gsize) len);
  self->bytes_written += (guint64) len;
  self->chunks++;

  return g_bytes_new_take (g_steal_pointer (&buf), (gsize) len);
}

/* Input bytes read so far. */
guint64
assay_chunk_encoder_get_bytes_read (AssayChunkEncoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_ENCODER (self), 0);

  return self->bytes_read;
}

/* Compressed bytes handed out in chunks so far. */
guint64
assay_chunk_encoder_get_bytes_written (AssayChunkEncoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_ENCODER (self), 0);

  return self->bytes_written;
}

/* Chunks handed out so far. */
guint
assay_chunk_encoder_get_chunks (AssayChunkEncoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_ENCODER (self), 0);

  return self->chunks;
}

/* The thread count in use (the resolved one when 0 was asked for). */
guint
assay_chunk_encoder_get_threads (AssayChunkEncoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_ENCODER (self), 0);

  return self->threads;
}

/* The uncompressed size of each xz block (the last one may be shorter). */
guint64
assay_chunk_encoder_get_block_size (AssayChunkEncoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_ENCODER (self), 0);

  return self->block_size;
}
