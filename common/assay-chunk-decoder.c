/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-chunk-decoder.h"

#include <lzma.h>

#define THREADS_MAX 16384 /* liblzma's LZMA_THREADS_MAX, not in its public headers */

#define OUTPUT_BUFFER_SIZE (1024 * 1024)

/* Exactly one stream, told its check type; no LZMA_CONCATENATED (a second stream or
 * padding is trailing data), no LZMA_FAIL_FAST (its error codes vary with timing, and a
 * truncated stream could then be reported as corrupt). */
#define DECODER_FLAGS (LZMA_TELL_ANY_CHECK)

struct _AssayChunkDecoder
{
  GObject parent_instance;

  GOutputStream *output;
  AssayChunkLimits limits;

  lzma_stream strm;
  guint8 *outbuf;
  gboolean started;
  gboolean stream_end;
  gboolean finished;
  GError *failure; /* the first error; then every call fails */

  guint chunks;
  guint64 bytes_read;
  guint64 bytes_written;
};

G_DEFINE_FINAL_TYPE (AssayChunkDecoder, assay_chunk_decoder, G_TYPE_OBJECT)

static void
assay_chunk_decoder_dispose (GObject *object)
{
  AssayChunkDecoder *self = ASSAY_CHUNK_DECODER (object);

  g_clear_object (&self->output);

  G_OBJECT_CLASS (assay_chunk_decoder_parent_class)->dispose (object);
}

static void
assay_chunk_decoder_finalize (GObject *object)
{
  AssayChunkDecoder *self = ASSAY_CHUNK_DECODER (object);

  lzma_end (&self->strm);
  g_clear_pointer (&self->outbuf, g_free);
  g_clear_error (&self->failure);

  G_OBJECT_CLASS (assay_chunk_decoder_parent_class)->finalize (object);
}

static void
assay_chunk_decoder_class_init (AssayChunkDecoderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = assay_chunk_decoder_dispose;
  object_class->finalize = assay_chunk_decoder_finalize;
}

static void
assay_chunk_decoder_init (AssayChunkDecoder *self)
{
  self->strm = (lzma_stream) LZMA_STREAM_INIT;
}

/**
 * assay_chunk_decoder_new:
 * @output: where the decompressed bytes go; not closed by the decoder
 * @limits: (nullable): the limits, a 0 field or %NULL meaning its default
 *
 * Returns: (transfer full): a new decoder
 */
AssayChunkDecoder *
assay_chunk_decoder_new (GOutputStream          *output,
                         const AssayChunkLimits *limits)
{
  AssayChunkDecoder *self;
  AssayChunkLimits l = { 0 };

  g_return_val_if_fail (G_IS_OUTPUT_STREAM (output), NULL);

  if (limits != NULL)
    l = *limits;
  if (l.max_output == 0)
    l.max_output = ASSAY_CHUNK_MAX_OUTPUT_DEFAULT;
  if (l.max_chunk_size == 0)
    l.max_chunk_size = ASSAY_CHUNK_SIZE_MAX;
  if (l.memlimit == 0)
    l.memlimit = ASSAY_CHUNK_MEMLIMIT_DEFAULT;
  if (l.threads == 0)
    l.threads = MAX (lzma_cputhreads (), 1);
  l.threads = MIN (l.threads, THREADS_MAX);

  self = g_object_new (ASSAY_TYPE_CHUNK_DECODER, NULL);
  self->output = g_object_ref (output);
  self->limits = l;

  return self;
}

static const char *
plural (guint64     n,
        const char *one,
        const char *many)
{
  return n == 1 ? one : many;
}

static char *
format_size (guint64 size)
{
  return g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
}

/* Records the first error of the decoder; every later call fails. */
static gboolean
fail (AssayChunkDecoder  *self,
      GError            **error,
      GError             *local_error)
{
  g_assert (self->failure == NULL);

  self->failure = g_error_copy (local_error);
  g_propagate_error (error, local_error);
  lzma_end (&self->strm);
  g_clear_pointer (&self->outbuf, g_free);
  return FALSE;
}

G_GNUC_PRINTF (4, 5)
static gboolean
fail_with (AssayChunkDecoder  *self,
           GError            **error,
           AssayChunkError     code,
           const char         *format,
           ...)
{
  GError *local_error;
  va_list args;

  va_start (args, format);
  local_error = g_error_new_valist (ASSAY_CHUNK_ERROR, code, format, args);
  va_end (args);

  return fail (self, error, local_error);
}

static gboolean
check_usable (AssayChunkDecoder  *self,
              GError            **error)
{
  if (self->failure != NULL)
    {
      g_set_error (error, ASSAY_CHUNK_ERROR, ASSAY_CHUNK_ERROR_FAILED,
                   "the xz decoder stopped after an earlier error: %s", self->failure->message);
      return FALSE;
    }
  if (self->finished)
    {
      g_set_error_literal (error, ASSAY_CHUNK_ERROR, ASSAY_CHUNK_ERROR_FAILED,
                           "the xz decoder has already finished");
      return FALSE;
    }
  return TRUE;
}

static gboolean
start (AssayChunkDecoder  *self,
       GError            **error)
{
  uint64_t physmem = lzma_physmem ();
  lzma_mt mt = {
    .flags = DECODER_FLAGS,
    .threads = self->limits.threads,
    .timeout = 0,
    .memlimit_stop = self->limits.memlimit,
    /* liblzma's advice for the soft limit is a quarter of the RAM */
    .memlimit_threading =
        physmem > 0 ? MIN (self->limits.memlimit, physmem / 4) : self->limits.memlimit,
  };
  lzma_ret ret;

  ret = lzma_stream_decoder_mt (&self->strm, &mt);
  if (ret != LZMA_OK)
    {
      g_debug ("the multi-threaded xz decoder did not start (%d); using one thread", ret);
      ret = lzma_stream_decoder (&self->strm, self->limits.memlimit, DECODER_FLAGS);
    }
  if (ret != LZMA_OK)
    return fail_with (self, error, ASSAY_CHUNK_ERROR_FAILED, "cannot start the xz decoder: %s",
                      ret == LZMA_MEM_ERROR ? "out of memory" : "unsupported options");

  self->outbuf = g_malloc (OUTPUT_BUFFER_SIZE);
  self->started = TRUE;
  return TRUE;
}

static const char *
check_name (lzma_check check)
{
  switch ((int) check)
    {
    case LZMA_CHECK_NONE:
      return "none";
    case LZMA_CHECK_CRC32:
      return "CRC32";
    case LZMA_CHECK_CRC64:
      return "CRC64";
    case LZMA_CHECK_SHA256:
      return "SHA-256";
    default:
      return "unknown";
    }
}

/* Maps a liblzma error found while decoding chunk @chunk (or at finish) to an error. */
static gboolean
fail_lzma (AssayChunkDecoder  *self,
           lzma_ret            ret,
           guint               chunk,
           gboolean            at_finish,
           GError            **error)
{
  g_autofree char *where = NULL;

  if (at_finish)
    where = g_strdup_printf ("at the end of the stream (after %u %s)", self->chunks,
                             plural (self->chunks, "chunk", "chunks"));
  else
    where = g_strdup_printf ("in chunk %u", chunk);

  switch (ret)
    {
    case LZMA_FORMAT_ERROR:
      return fail_with (self, error, ASSAY_CHUNK_ERROR_CORRUPT,
                        "corrupt xz stream, found %s: not in the .xz format (xz)", where);

    case LZMA_OPTIONS_ERROR:
      return fail_with (self, error, ASSAY_CHUNK_ERROR_CORRUPT,
                        "corrupt xz stream, found %s: unsupported options in a header (xz)", where);

    case LZMA_DATA_ERROR:
      return fail_with (self, error, ASSAY_CHUNK_ERROR_CORRUPT,
                        "corrupt xz stream, found %s: compressed data is corrupt (xz)", where);

    case LZMA_BUF_ERROR:
      if (at_finish)
        return fail_with (self, error, ASSAY_CHUNK_ERROR_TRUNCATED,
                          "truncated xz stream: it ends early, after %u %s (%" G_GUINT64_FORMAT
                          " compressed %s)",
                          self->chunks, plural (self->chunks, "chunk", "chunks"), self->bytes_read,
                          plural (self->bytes_read, "byte", "bytes"));
      return fail_with (self, error, ASSAY_CHUNK_ERROR_FAILED, "the xz decoder made no progress %s",
                        where);

    case LZMA_MEMLIMIT_ERROR:
      {
        /* the single-threaded decoder tells what it would need, the threaded one not */
        guint64 usage = lzma_memusage (&self->strm);
        g_autofree char *need = format_size (usage);
        g_autofree char *limit = format_size (self->limits.memlimit);

        if (usage > self->limits.memlimit)
          return fail_with (self, error, ASSAY_CHUNK_ERROR_MEMLIMIT,
                            "decompressing the xz stream needs %s of memory, more than the "
                            "limit of %s (found %s)",
                            need, limit, where);
        return fail_with (self, error, ASSAY_CHUNK_ERROR_MEMLIMIT,
                          "decompressing the xz stream needs more memory than the limit of %s "
                          "(found %s)",
                          limit, where);
      }

    case LZMA_MEM_ERROR:
      return fail_with (self, error, ASSAY_CHUNK_ERROR_FAILED,
                        "the xz decoder ran out of memory %s", where);

    default:
      return fail_with (self, error, ASSAY_CHUNK_ERROR_FAILED,
                        "the xz decoder failed %s (liblzma error %d)", where, (int) ret);
    }
}

/* Writes what the decoder produced, never past max_output. */
static gboolean
write_output (AssayChunkDecoder  *self,
              gsize               len,
              GCancellable       *cancellable,
              GError            **error)
{
  guint64 room = self->limits.max_output - self->bytes_written;
  gboolean too_large = len > room;
  gsize n = too_large ? (gsize) room : len;
  gsize written = 0;
  GError *local_error = NULL;

  if (n > 0 && !g_output_stream_write_all (self->output, self->outbuf, n, &written, cancellable,
                                           &local_error))
    {
      self->bytes_written += written;
      return fail (self, error, local_error);
    }
  self->bytes_written += written;

  if (too_large)
    {
      g_autofree char *limit = g_format_size_full (
          self->limits.max_output, G_FORMAT_SIZE_IEC_UNITS | G_FORMAT_SIZE_LONG_FORMAT);

      return fail_with (self, error, ASSAY_CHUNK_ERROR_TOO_LARGE,
                        "the decompressed data is larger than the limit of %s", limit);
    }
  return TRUE;
}

/* Runs the decoder over strm's input. With LZMA_RUN it returns once the input is used up
 * and the decoder has nothing more to give; with LZMA_FINISH once the stream has ended. */
static gboolean
run (AssayChunkDecoder  *self,
     lzma_action         action,
     guint               chunk,
     GCancellable       *cancellable,
     GError            **error)
{
  for (;;)
    {
      guint64 room = self->limits.max_output - self->bytes_written;
      gsize avail = OUTPUT_BUFFER_SIZE;
      GError *local_error = NULL;
      lzma_ret ret;

      /* One byte more than the limit allows is enough to know that it is exceeded. */
      if (room < OUTPUT_BUFFER_SIZE)
        avail = (gsize) room + 1;

      if (g_cancellable_set_error_if_cancelled (cancellable, &local_error))
        return fail (self, error, local_error);

      self->strm.next_out = self->outbuf;
      self->strm.avail_out = avail;
      ret = lzma_code (&self->strm, action);

      if (self->strm.avail_out < avail &&
          !write_output (self, avail - self->strm.avail_out, cancellable, error))
        return FALSE;

      switch (ret)
        {
        case LZMA_OK:
          if (action == LZMA_RUN && self->strm.avail_in == 0 && self->strm.avail_out > 0)
            return TRUE;
          break;

        case LZMA_GET_CHECK:
          {
            lzma_check check = lzma_get_check (&self->strm);

            if (check != LZMA_CHECK_CRC64 && check != LZMA_CHECK_SHA256)
              return fail_with (self, error, ASSAY_CHUNK_ERROR_CORRUPT,
                                "the xz stream uses the integrity check “%s”; only CRC64 and "
                                "SHA-256 are accepted",
                                check_name (check));
          }
          break;

        case LZMA_STREAM_END:
          self->stream_end = TRUE;
          if (self->strm.avail_in > 0)
            return fail_with (self, error, ASSAY_CHUNK_ERROR_TRAILING_DATA,
                              "chunk %u has %zu %s after the end of the xz stream (only one "
                              "stream is allowed, without padding)",
                              chunk, (gsize) self->strm.avail_in,
                              plural (self->strm.avail_in, "byte", "bytes"));
          lzma_end (&self->strm);
          g_clear_pointer (&self->outbuf, g_free);
          return TRUE;

        default:
          return fail_lzma (self, ret, chunk, action == LZMA_FINISH, error);
        }
    }
}

/**
 * assay_chunk_decoder_push:
 * @chunk: the next chunk of the stream
 *
 * Decompresses @chunk and writes what it can to the output stream.
 *
 * Returns: %TRUE, or %FALSE with @error set; then the decoder refuses further use.
 */
gboolean
assay_chunk_decoder_push (AssayChunkDecoder  *self,
                          GBytes             *chunk,
                          GCancellable       *cancellable,
                          GError            **error)
{
  gconstpointer data;
  gsize len;
  guint index;

  g_return_val_if_fail (ASSAY_IS_CHUNK_DECODER (self), FALSE);
  g_return_val_if_fail (chunk != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_usable (self, error))
    return FALSE;

  index = self->chunks++;
  data = g_bytes_get_data (chunk, &len);
  self->bytes_read += len;

  if (len > self->limits.max_chunk_size)
    {
      g_autofree char *size = format_size (len);
      g_autofree char *limit = format_size (self->limits.max_chunk_size);

      return fail_with (self, error, ASSAY_CHUNK_ERROR_CHUNK_TOO_LARGE,
                        "chunk %u is %s (%zu bytes), more than the limit of %s", index, size, len,
                        limit);
    }
  if (len == 0)
    return TRUE;
  if (self->stream_end)
    return fail_with (self, error, ASSAY_CHUNK_ERROR_TRAILING_DATA,
                      "chunk %u comes after the end of the xz stream (%zu %s of trailing "
                      "data; only one stream is allowed, without padding)",
                      index, len, plural (len, "byte", "bytes"));

  if (!self->started && !start (self, error))
    return FALSE;

  self->strm.next_in = data;
  self->strm.avail_in = len;
  return run (self, LZMA_RUN, index, cancellable, error);
}

/**
 * assay_chunk_decoder_finish:
 *
 * Says that all chunks were pushed: decompresses what is left, checks that the stream was
 * complete, and flushes the output stream (it is not closed).
 *
 * Returns: %TRUE when the whole stream was valid and written
 */
gboolean
assay_chunk_decoder_finish (AssayChunkDecoder  *self,
                            GCancellable       *cancellable,
                            GError            **error)
{
  GError *local_error = NULL;

  g_return_val_if_fail (ASSAY_IS_CHUNK_DECODER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_usable (self, error))
    return FALSE;

  if (!self->started)
    return fail_with (self, error, ASSAY_CHUNK_ERROR_TRUNCATED,
                      "truncated xz stream: no data (%u %s, none with data)", self->chunks,
                      plural (self->chunks, "chunk", "chunks"));

  if (!self->stream_end)
    {
      self->strm.next_in = NULL;
      self->strm.avail_in = 0;
      if (!run (self, LZMA_FINISH, self->chunks > 0 ? self->chunks - 1 : 0, cancellable, error))
        return FALSE;
    }

  if (!g_output_stream_flush (self->output, cancellable, &local_error))
    return fail (self, error, local_error);

  self->finished = TRUE;
  return TRUE;
}

/* Decompressed bytes written to the output stream so far (never more than max_output). */
guint64
assay_chunk_decoder_get_bytes_written (AssayChunkDecoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_DECODER (self), 0);

  return self->bytes_written;
}

/* Compressed bytes pushed so far. */
guint64
assay_chunk_decoder_get_bytes_read (AssayChunkDecoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_DECODER (self), 0);

  return self->bytes_read;
}

/* Chunks pushed so far. */
guint
assay_chunk_decoder_get_chunks (AssayChunkDecoder *self)
{
  g_return_val_if_fail (ASSAY_IS_CHUNK_DECODER (self), 0);

  return self->chunks;
}
