/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-inspection.h"

/* libmagic is the library of file(1) (https://www.darwinsys.com/file/): Debian builds it from
 * the `file` source package as libmagic1, with magic.h and libmagic.pc in libmagic-dev and the
 * compiled database in libmagic-mgc. It is not ImageMagick's MagickCore nor a Python "magic"
 * module. The MIME type comes from it alone: there is no fallback on names or extensions. */
#include <magic.h>

#include <errno.h>
#include <math.h>
#include <string.h>

/*
 * The inspection of some content, as a JSON object:
 *
 *   {
 *     "size": 1234,                    bytes
 *     "sha256": "…",                   64 lowercase hex digits
 *     "mime": "text/plain",            libmagic's MAGIC_MIME_TYPE answer on the first
 *                                      ASSAY_INSPECTION_MAGIC_BYTES bytes
 *     "entropy": 4.271,                Shannon entropy of the bytes, in bits per byte (0–8),
 *                                      rounded to 3 decimals
 *     "byte_histogram_top": [          the (at most) 5 most frequent bytes, most frequent
 *       {"byte": 101, "count": 87},    first, equal counts by byte value; bytes that do not
 *       …                              occur are not listed
 *     ],
 *     "text": {                        only for text (below), otherwise absent
 *       "lines": 12,                   lines end at LF or CRLF; a last line without one counts
 *       "words": 80,                   runs of characters between white space
 *       "encoding": "utf-8",           "ascii", "utf-8", "utf-16le", "utf-16be", or else
 *                                      libmagic's MAGIC_MIME_ENCODING answer
 *       "longest_line": 72             in characters (code points), without the line end
 *     }
 *   }
 *
 * Content is text when it is valid UTF-8 (plain ASCII included), or valid UTF-16 that starts
 * with a byte order mark, and holds no control characters other than BEL, BS, TAB, LF, VT, FF,
 * CR and ESC (so NUL bytes make it binary); or else when libmagic calls it text/…: then it is
 * counted as UTF-16 or UTF-8 if libmagic says so and it decodes, or else one byte a character.
 * A UTF-8 byte order mark is not counted as a character.
 */

G_DEFINE_QUARK (assay-inspection-error-quark, assay_inspection_error)

#define READ_BUFFER_SIZE (64 * 1024)

typedef struct
{
  guint64  lines;    /* ended lines */
  guint64  words;
  guint64  line_len; /* characters on the current line */
  guint64  longest;
  gboolean unicode;  /* characters are code points, not bytes of an unknown encoding */
  gboolean in_word;
  gboolean pending_cr;
} TextCounter;

typedef struct
{
  gboolean    valid; /* everything so far decodes */
  gboolean    text;  /* and holds only text characters */
  gboolean    ascii; /* and no byte is above 0x7f */
  guint       need;  /* continuation bytes still to come */
  guint8      lo;    /* bounds of the next continuation byte */
  guint8      hi;
  gunichar    ch;
  guint64     chars;
  TextCounter counter;
} Utf8Decoder;

typedef enum
{
  UTF16_UNKNOWN, /* fewer than two bytes seen */
  UTF16_NONE,    /* no byte order mark */
  UTF16_LE,
  UTF16_BE,
} Utf16Order;

typedef struct
{
  Utf16Order  order;
  gboolean    valid;
  gboolean    text;
  gboolean    have_byte; /* the first byte of a code unit is in `byte` */
  guint8      byte;
  gunichar    high;      /* a high surrogate waiting for its low one, or 0 */
  TextCounter counter;
} Utf16Decoder;

struct _AssayInspector
{
  GChecksum   *sha256;
  guint64      size;
  guint64      counts[256];
  GByteArray  *prefix; /* the first ASSAY_INSPECTION_MAGIC_BYTES bytes, for libmagic */
  Utf8Decoder  utf8;
  Utf16Decoder utf16;
  TextCounter  bytes; /* one byte, one character: for other encodings libmagic calls text */
  gboolean     finished;
};

/* One libmagic handle for the process, loaded on first use: loading the database costs more
 * than most inspections. A handle is not safe to share between threads, hence the lock. */
static GMutex magic_lock;
static magic_t magic_cookie;

static char *
sniff (const guint8  *data,
       gsize          len,
       int            flags,
       GError       **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&magic_lock);
  const char *answer;

  if (magic_cookie == NULL)
    {
      magic_t cookie = magic_open (flags);

      if (cookie == NULL)
        {
          int saved_errno = errno;

          g_set_error (error, ASSAY_INSPECTION_ERROR, ASSAY_INSPECTION_ERROR_MAGIC,
                       "Could not open libmagic: %s", g_strerror (saved_errno));
          return NULL;
        }
      if (magic_load (cookie, NULL) != 0)
        {
          g_set_error (error, ASSAY_INSPECTION_ERROR, ASSAY_INSPECTION_ERROR_MAGIC,
                       "Could not load libmagic’s database: %s",
                       magic_error (cookie) ? magic_error (cookie) : "unknown error");
          magic_close (cookie);
          return NULL;
        }
      magic_cookie = cookie;
    }

  if (magic_setflags (magic_cookie, flags) != 0)
    {
      g_set_error (error, ASSAY_INSPECTION_ERROR, ASSAY_INSPECTION_ERROR_MAGIC,
                   "libmagic does not take flags %#x", (guint) flags);
      return NULL;
    }

  answer = magic_buffer (magic_cookie, len > 0 ? data : (const guint8 *) "", len);
  if (answer == NULL)
    {
      g_set_error (error, ASSAY_INSPECTION_ERROR, ASSAY_INSPECTION_ERROR_MAGIC,
                   "libmagic failed: %s",
                   magic_error (magic_cookie) ? magic_error (magic_cookie) : "unknown error");
      return NULL;
    }

  return g_strdup (answer);
}

/* As libmagic's own text test: BEL, BS, TAB, LF, VT, FF, CR and ESC are the only control
 * characters text holds. */
static inline gboolean
is_text_char (gunichar ch)
{
  if (ch < 0x20)
    return (ch >= 0x07 && ch <= 0x0d) || ch == 0x1b;

  return ch != 0x7f;
}

static inline gboolean
is_space (const TextCounter *counter,
          gunichar           ch)
{
  if (ch < 0x80)
    return g_ascii_isspace (ch);

  return counter->unicode && g_unichar_isspace (ch);
}

static inline void
text_counter_end_line (TextCounter *counter)
{
  counter->lines++;
  counter->longest = MAX (counter->longest, counter->line_len);
  counter->line_len = 0;
  counter->in_word = FALSE;
}

static inline void
text_counter_add (TextCounter *counter,
                  gunichar     ch)
{
  if (counter->pending_cr)
    {
      counter->pending_cr = FALSE;
      if (ch == '\n')
        {
          text_counter_end_line (counter);
          return;
        }
      counter->line_len++; /* a lone CR is a character of its line */
    }

  if (ch == '\n')
    {
      text_counter_end_line (counter);
      return;
    }

  if (ch == '\r')
    {
      counter->pending_cr = TRUE;
      counter->in_word = FALSE;
      return;
    }

  counter->line_len++;
  if (is_space (counter, ch))
    counter->in_word = FALSE;
  else if (!counter->in_word)
    {
      counter->in_word = TRUE;
      counter->words++;
    }
}

static void
text_counter_finish (TextCounter *counter)
{
  if (counter->pending_cr)
    {
      counter->pending_cr = FALSE;
      counter->line_len++;
    }
  if (counter->line_len > 0)
    text_counter_end_line (counter);
}

static inline void
utf8_emit (Utf8Decoder *d,
           gunichar     ch)
{
  if (d->chars++ == 0 && ch == 0xfeff)
    return; /* the byte order mark */

  if (!is_text_char (ch))
    d->text = FALSE;
  text_counter_add (&d->counter, ch);
}

/* UTF-8 as RFC 3629 has it: no overlong forms, no surrogates, nothing above U+10FFFF. */
static inline void
utf8_feed (Utf8Decoder *d,
           guint8       b)
{
  if (d->need == 0)
    {
      if (b < 0x80)
        {
          utf8_emit (d, b);
          return;
        }

      d->ascii = FALSE;
      d->lo = 0x80;
      d->hi = 0xbf;
      if (b >= 0xc2 && b <= 0xdf)
        {
          d->need = 1;
          d->ch = b & 0x1f;
        }
      else if (b >= 0xe0 && b <= 0xef)
        {
          d->need = 2;
          d->ch = b & 0x0f;
          if (b == 0xe0)
            d->lo = 0xa0;
          else if (b == 0xed)
            d->hi = 0x9f;
        }
      else if (b >= 0xf0 && b <= 0xf4)
        {
          d->need = 3;
          d->ch = b & 0x07;
          if (b == 0xf0)
            d->lo = 0x90;
          else if (b == 0xf4)
            d->hi = 0x8f;
        }
      else
        d->valid = FALSE;
      return;
    }

  if (b < d->lo || b > d->hi)
    {
      d->valid = FALSE;
      return;
    }

  d->ch = (d->ch << 6) | (b & 0x3f);
  d->lo = 0x80;
  d->hi = 0xbf;
  if (--d->need == 0)
    utf8_emit (d, d->ch);
}

static inline void
utf16_emit (Utf16Decoder *d,
            gunichar      ch)
{
  if (!is_text_char (ch))
    d->text = FALSE;
  text_counter_add (&d->counter, ch);
}

static inline void
utf16_feed (Utf16Decoder *d,
            guint8        b,
            guint64       offset)
{
  guint unit;

  if (d->order == UTF16_UNKNOWN)
    {
      if (offset == 0)
        d->byte = b;
      else if (d->byte == 0xff && b == 0xfe)
        d->order = UTF16_LE;
      else if (d->byte == 0xfe && b == 0xff)
        d->order = UTF16_BE;
      else
        d->order = UTF16_NONE;
      return;
    }

  if (!d->have_byte)
    {
      d->byte = b;
      d->have_byte = TRUE;
      return;
    }

  d->have_byte = FALSE;
  unit = d->order == UTF16_LE ? (guint) d->byte | ((guint) b << 8) : ((guint) d->byte << 8) | b;

  if (d->high != 0)
    {
      if (unit >= 0xdc00 && unit <= 0xdfff)
        utf16_emit (d, 0x10000 + ((d->high - 0xd800) << 10) + (unit - 0xdc00));
      else
        d->valid = FALSE;
      d->high = 0;
    }
  else if (unit >= 0xd800 && unit <= 0xdbff)
    d->high = unit;
  else if (unit >= 0xdc00 && unit <= 0xdfff)
    d->valid = FALSE;
  else
    utf16_emit (d, unit);
}

static void
count_bytes (guint64      *counts,
             const guint8 *data,
             gsize         len)
{
  /* Four tables, so that runs of one byte value do not wait on a single counter. */
  guint64 tables[4][256] = { { 0 } };
  gsize i = 0;

  for (; i + 4 <= len; i += 4)
    {
      tables[0][data[i]]++;
      tables[1][data[i + 1]]++;
      tables[2][data[i + 2]]++;
      tables[3][data[i + 3]]++;
    }
  for (; i < len; i++)
    tables[0][data[i]]++;

  for (guint b = 0; b < 256; b++)
    counts[b] += tables[0][b] + tables[1][b] + tables[2][b] + tables[3][b];
}

/* text_counter_add() for bytes, without branches on what binary content makes random. */
static void
count_text (TextCounter  *counter,
            const guint8 *data,
            gsize         len)
{
  TextCounter local = *counter;

  for (gsize i = 0; i < len; i++)
    {
      guint8 b = data[i];
      gboolean space;

      if (G_UNLIKELY (b == '\n' || b == '\r' || local.pending_cr))
        {
          text_counter_add (&local, b);
          continue;
        }

      space = g_ascii_isspace (b);
      local.line_len++;
      local.words += !space & !local.in_word;
      local.in_word = !space;
    }
  *counter = local;
}

static void
utf8_feed_all (Utf8Decoder  *decoder,
               const guint8 *data,
               gsize         len)
{
  Utf8Decoder local = *decoder;

  for (gsize i = 0; i < len && local.valid; i++)
    utf8_feed (&local, data[i]);
  *decoder = local;
}

static void
utf16_feed_all (Utf16Decoder *decoder,
                const guint8 *data,
                gsize         len,
                guint64       offset)
{
  Utf16Decoder local = *decoder;

  for (gsize i = 0; i < len && local.valid && local.order != UTF16_NONE; i++)
    utf16_feed (&local, data[i], offset + i);
  *decoder = local;
}

AssayInspector *
assay_inspector_new (void)
{
  AssayInspector *self = g_new0 (AssayInspector, 1);

  self->sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  self->prefix = g_byte_array_new ();
  self->utf8.valid = self->utf8.text = self->utf8.ascii = TRUE;
  self->utf8.counter.unicode = TRUE;
  self->utf16.order = UTF16_UNKNOWN;
  self->utf16.valid = self->utf16.text = TRUE;
  self->utf16.counter.unicode = TRUE;

  return self;
}

void
assay_inspector_free (AssayInspector *self)
{
  if (self == NULL)
    return;

  g_checksum_free (self->sha256);
  g_byte_array_unref (self->prefix);
  g_free (self);
}

void
assay_inspector_update (AssayInspector *self,
                        const guint8   *data,
                        gsize           len)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (!self->finished);

  if (len == 0)
    return;

  g_checksum_update (self->sha256, data, len);

  if (self->prefix->len < ASSAY_INSPECTION_MAGIC_BYTES)
    g_byte_array_append (self->prefix, data,
                         MIN (len, ASSAY_INSPECTION_MAGIC_BYTES - self->prefix->len));

  /* One pass per measure, each on a local copy of its state that the compiler can keep in
   * registers (through self, every store could alias the data). */
  count_bytes (self->counts, data, len);
  count_text (&self->bytes, data, len);
  if (self->utf8.valid)
    utf8_feed_all (&self->utf8, data, len);
  if (self->utf16.valid && self->utf16.order != UTF16_NONE)
    utf16_feed_all (&self->utf16, data, len, self->size);

  self->size += len;
}

guint64
assay_inspector_get_size (AssayInspector *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->size;
}

static double
entropy (const guint64 *counts,
         guint64        size)
{
  double sum = 0.0;

  if (size == 0)
    return 0.0;

  for (guint i = 0; i < 256; i++)
    if (counts[i] > 0)
      {
        double p = (double) counts[i] / (double) size;

        sum -= p * log2 (p);
      }

  /* Rounded to 3 decimals, and never "-0" nor above 8 from rounding errors. */
  return CLAMP (round (sum * 1000.0) / 1000.0, 0.0, 8.0);
}

static int
compare_by_count (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  const guint64 *counts = user_data;
  guint8 x = *(const guint8 *) a;
  guint8 y = *(const guint8 *) b;

  if (counts[x] != counts[y])
    return counts[x] > counts[y] ? -1 : 1;

  return (int) x - (int) y;
}

static void
add_text (JsonBuilder       *builder,
          const TextCounter *counter,
          const char        *encoding)
{
  json_builder_set_member_name (builder, "text");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "lines");
  json_builder_add_int_value (builder, (gint64) counter->lines);
  json_builder_set_member_name (builder, "words");
  json_builder_add_int_value (builder, (gint64) counter->words);
  json_builder_set_member_name (builder, "encoding");
  json_builder_add_string_value (builder, encoding);
  json_builder_set_member_name (builder, "longest_line");
  json_builder_add_int_value (builder, (gint64) counter->longest);
  json_builder_end_object (builder);
}

JsonNode *
assay_inspector_finish (AssayInspector  *self,
                        GError         **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *mime = NULL;
  g_autofree char *magic_encoding = NULL;
  const TextCounter *text = NULL;
  const char *encoding = NULL;
  guint8 order[256];

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (!self->finished, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self->finished = TRUE;

  if (self->utf8.need > 0)
    self->utf8.valid = FALSE; /* cut in the middle of a character */
  if (self->utf16.order == UTF16_UNKNOWN)
    self->utf16.order = UTF16_NONE;
  if (self->utf16.have_byte || self->utf16.high != 0)
    self->utf16.valid = FALSE;
  text_counter_finish (&self->utf8.counter);
  text_counter_finish (&self->utf16.counter);
  text_counter_finish (&self->bytes);

  mime = sniff (self->prefix->data, self->prefix->len, MAGIC_MIME_TYPE, error);
  if (mime == NULL)
    return NULL;

  if (self->utf8.valid && self->utf8.text)
    {
      text = &self->utf8.counter;
      encoding = self->utf8.ascii ? "ascii" : "utf-8";
    }
  else if (self->utf16.order != UTF16_NONE && self->utf16.valid && self->utf16.text)
    {
      text = &self->utf16.counter;
      encoding = self->utf16.order == UTF16_LE ? "utf-16le" : "utf-16be";
    }
  else if (g_str_has_prefix (mime, "text/"))
    {
      magic_encoding = sniff (self->prefix->data, self->prefix->len, MAGIC_MIME_ENCODING, error);
      if (magic_encoding == NULL)
        return NULL;

      encoding = magic_encoding;
      if (g_str_has_prefix (encoding, "utf-16") && self->utf16.order != UTF16_NONE &&
          self->utf16.valid)
        text = &self->utf16.counter;
      else if ((g_str_equal (encoding, "utf-8") || g_str_equal (encoding, "us-ascii")) &&
               self->utf8.valid)
        text = &self->utf8.counter;
      else
        text = &self->bytes;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) self->size);
  json_builder_set_member_name (builder, "sha256");
  json_builder_add_string_value (builder, g_checksum_get_string (self->sha256));
  json_builder_set_member_name (builder, "mime");
  json_builder_add_string_value (builder, mime);
  json_builder_set_member_name (builder, "entropy");
  json_builder_add_double_value (builder, entropy (self->counts, self->size));

  for (guint i = 0; i < 256; i++)
    order[i] = (guint8) i;
  g_qsort_with_data (order, 256, sizeof order[0], compare_by_count, self->counts);
  json_builder_set_member_name (builder, "byte_histogram_top");
  json_builder_begin_array (builder);
  for (guint i = 0; i < ASSAY_INSPECTION_TOP_BYTES && self->counts[order[i]] > 0; i++)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "byte");
      json_builder_add_int_value (builder, order[i]);
      json_builder_set_member_name (builder, "count");
      json_builder_add_int_value (builder, (gint64) self->counts[order[i]]);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  if (text != NULL)
    add_text (builder, text, encoding);

  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

JsonNode *
assay_inspect_stream (GInputStream  *stream,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(AssayInspector) inspector = NULL;
  g_autofree guint8 *buffer = NULL;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  inspector = assay_inspector_new ();
  buffer = g_malloc (READ_BUFFER_SIZE);

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, READ_BUFFER_SIZE, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      assay_inspector_update (inspector, buffer, (gsize) n);
    }

  return assay_inspector_finish (inspector, error);
}

JsonNode *
assay_inspect_file (GFile         *file,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GFileInputStream) stream = NULL;

  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stream = g_file_read (file, cancellable, error);
  if (stream == NULL)
    return NULL;

  return assay_inspect_stream (G_INPUT_STREAM (stream), cancellable, error);
}

JsonNode *
assay_inspect_bytes (GBytes  *bytes,
                     GError **error)
{
  g_autoptr(AssayInspector) inspector = NULL;
  gsize len;
  const guint8 *data;

  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (bytes, &len);
  inspector = assay_inspector_new ();
  assay_inspector_update (inspector, data, len);

  return assay_inspector_finish (inspector, error);
}

static void
append_string (GString    *out,
               const char *str)
{
  g_autofree char *valid = g_utf8_make_valid (str, -1);

  g_string_append_c (out, '"');
  for (const char *p = valid; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, c);
        }
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, c);
    }
  g_string_append_c (out, '"');
}

/* The shortest of %.15g, %.16g and %.17g that reads back as the same double: json-glib
 * writes every double with %.17g, which shows 7.998 as 7.9980000000000002. */
static void
append_double (GString *out,
               double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }

  for (int digits = 15; digits <= 17; digits++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (buf, sizeof buf, format, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  g_string_append (out, buf);
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void
append_node (GString  *out,
             JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        gboolean first = TRUE;

        g_string_append_c (out, '{');
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            append_string (out, name);
            g_string_append_c (out, ':');
            append_node (out, member);
          }
        g_string_append_c (out, '}');
      }
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            append_node (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
      }
      break;

    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          append_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_STRING:
          append_string (out, json_node_get_string (node));
          break;
        default:
          g_assert_not_reached ();
        }
      break;

    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;

    default:
      g_assert_not_reached ();
    }
}

/* The inspection as compact JSON, on one line without a line end. */
char *
assay_inspection_to_string (JsonNode *inspection)
{
  GString *out;

  g_return_val_if_fail (inspection != NULL, NULL);

  out = g_string_new (NULL);
  append_node (out, inspection);

  return g_string_free (out, FALSE);
}
