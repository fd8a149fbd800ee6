/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-inspection.h"

#include <libsoup/soup.h>

#include <signal.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* ---- helpers ---- */

static JsonNode *
inspect_data (const void *data,
              gsize       len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = assay_inspect_bytes (bytes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));

  return node;
}

static void
assert_sha256 (JsonObject *object,
               const void *data,
               gsize       len)
{
  g_autofree char *expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);

  g_assert_cmpstr (json_object_get_string_member (object, "sha256"), ==, expected);
}

static void
assert_text (JsonObject *object,
             gint64      lines,
             gint64      words,
             const char *encoding,
             gint64      longest_line)
{
  JsonObject *text;

  g_assert_true (json_object_has_member (object, "text"));
  text = json_object_get_object_member (object, "text");
  g_assert_cmpint (json_object_get_int_member (text, "lines"), ==, lines);
  g_assert_cmpint (json_object_get_int_member (text, "words"), ==, words);
  g_assert_cmpstr (json_object_get_string_member (text, "encoding"), ==, encoding);
  g_assert_cmpint (json_object_get_int_member (text, "longest_line"), ==, longest_line);
  g_assert_cmpuint (json_object_get_size (text), ==, 4);
}

/* The top list is sorted by count then byte, and agrees with a count made here. */
static void
assert_histogram (JsonObject   *object,
                  const guint8 *data,
                  gsize         len)
{
  guint64 counts[256] = { 0 };
  guint distinct = 0;
  JsonArray *top = json_object_get_array_member (object, "byte_histogram_top");
  gint64 previous_count = G_MAXINT64;
  gint64 previous_byte = -1;

  for (gsize i = 0; i < len; i++)
    if (counts[data[i]]++ == 0)
      distinct++;

  g_assert_cmpuint (json_array_get_length (top), ==, MIN (distinct, 5));
  for (guint i = 0; i < json_array_get_length (top); i++)
    {
      JsonObject *entry = json_array_get_object_element (top, i);
      gint64 byte = json_object_get_int_member (entry, "byte");
      gint64 count = json_object_get_int_member (entry, "count");

      g_assert_cmpint (byte, >=, 0);
      g_assert_cmpint (byte, <=, 255);
      g_assert_cmpint (count, ==, (gint64) counts[byte]);
      g_assert_true (count < previous_count || (count == previous_count && byte > previous_byte));
      /* and no byte left out counts more */
      for (guint b = 0; b < 256; b++)
        if ((gint64) counts[b] > count)
          {
            gboolean listed = FALSE;

            for (guint j = 0; j < i; j++)
              listed |= json_object_get_int_member (json_array_get_object_element (top, j),
                                                    "byte") == b;
            g_assert_true (listed);
          }
      previous_count = count;
      previous_byte = byte;
    }
}

static GBytes *
convert (GConverter   *converter,
         const guint8 *data,
         gsize         len)
{
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (memory, converter);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_output_stream_write_all (out, data, len, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (out, NULL, &error));
  g_assert_no_error (error);

  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
}

static guint32
crc32 (const guint8 *data,
       gsize         len,
       guint32       crc)
{
  crc = ~crc;
  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (guint k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }

  return ~crc;
}

static void
append_be32 (GByteArray *array,
             guint32     value)
{
  guint8 be[4] = { value >> 24, value >> 16, value >> 8, value };

  g_byte_array_append (array, be, 4);
}

static void
append_png_chunk (GByteArray   *png,
                  const char   *type,
                  const guint8 *data,
                  gsize         len)
{
  guint32 crc = crc32 ((const guint8 *) type, 4, 0);

  crc = crc32 (data, len, crc);
  append_be32 (png, len);
  g_byte_array_append (png, (const guint8 *) type, 4);
  g_byte_array_append (png, data, len);
  append_be32 (png, crc);
}

/* A valid 8×8 RGB PNG. */
static GBytes *
make_png (void)
{
  static const guint8 signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  static const guint8 ihdr[] = { 0, 0, 0, 8, 0, 0, 0, 8, 8, 2, 0, 0, 0 };
  g_autoptr(GByteArray) png = g_byte_array_new ();
  g_autoptr(GZlibCompressor) zlib = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, -1);
  g_autoptr(GBytes) idat = NULL;
  guint8 raw[8 * (1 + 8 * 3)];

  for (guint y = 0; y < 8; y++)
    {
      raw[y * 25] = 0; /* filter: none */
      for (guint x = 0; x < 8; x++)
        {
          raw[y * 25 + 1 + x * 3] = x * 32;
          raw[y * 25 + 2 + x * 3] = y * 32;
          raw[y * 25 + 3 + x * 3] = 128;
        }
    }
  idat = convert (G_CONVERTER (zlib), raw, sizeof raw);

  g_byte_array_append (png, signature, sizeof signature);
  append_png_chunk (png, "IHDR", ihdr, sizeof ihdr);
  append_png_chunk (png, "IDAT", g_bytes_get_data (idat, NULL), g_bytes_get_size (idat));
  append_png_chunk (png, "IEND", NULL, 0);

  return g_byte_array_free_to_bytes (g_steal_pointer (&png));
}

static GBytes *
utf16_with_bom (const char *utf8,
                gboolean    big_endian)
{
  g_autoptr(GError) error = NULL;
  glong n_units = 0;
  g_autofree gunichar2 *units = g_utf8_to_utf16 (utf8, -1, NULL, &n_units, &error);
  GByteArray *out = g_byte_array_new ();

  g_assert_no_error (error);
  g_byte_array_append (out, (const guint8 *) (big_endian ? "\xfe\xff" : "\xff\xfe"), 2);
  for (glong i = 0; i < n_units; i++)
    {
      guint8 pair[2];

      pair[big_endian ? 0 : 1] = units[i] >> 8;
      pair[big_endian ? 1 : 0] = units[i] & 0xff;
      g_byte_array_append (out, pair, 2);
    }

  return g_byte_array_free_to_bytes (out);
}

/* ---- the library ---- */

static void
test_inspection_empty (void)
{
  g_autoptr(JsonNode) node = inspect_data ("", 0);
  JsonObject *object = json_node_get_object (node);

  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "sha256"), ==,
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_assert_cmpstr (json_object_get_string_member (object, "mime"), ==, "application/x-empty");
  g_assert_cmpfloat (json_object_get_double_member (object, "entropy"), ==, 0.0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object,
                                                                         "byte_histogram_top")),
                    ==, 0);
  assert_text (object, 0, 0, "ascii", 0);
}

static void
test_inspection_one_byte (void)
{
  g_autoptr(JsonNode) letter = inspect_data ("A", 1);
  g_autoptr(JsonNode) nul = inspect_data ("\0", 1);
  JsonObject *object = json_node_get_object (letter);
  JsonArray *top = json_object_get_array_member (object, "byte_histogram_top");

  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, 1);
  assert_sha256 (object, "A", 1);
  g_assert_cmpfloat (json_object_get_double_member (object, "entropy"), ==, 0.0);
  g_assert_cmpuint (json_array_get_length (top), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (top, 0), "byte"),
                   ==, 'A');
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (top, 0), "count"),
                   ==, 1);
  assert_text (object, 1, 1, "ascii", 1);

  /* A NUL byte is not text. */
  object = json_node_get_object (nul);
  assert_sha256 (object, "\0", 1);
  g_assert_false (json_object_has_member (object, "text"));
}

static void
test_inspection_ascii (void)
{
  const char *text = "Hello world\n"
                     "second  line here\r\n"
                     "\n"
                     "  tabs\tand  spaces  \n"
                     "last";
  g_autoptr(JsonNode) node = inspect_data (text, strlen (text));
  JsonObject *object = json_node_get_object (node);

  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, strlen (text));
  assert_sha256 (object, text, strlen (text));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (object, "mime"), "text/"));
  assert_text (object, 5, 9, "ascii", 20);
  assert_histogram (object, (const guint8 *) text, strlen (text));
  g_assert_cmpfloat (json_object_get_double_member (object, "entropy"), >, 3.0);
  g_assert_cmpfloat (json_object_get_double_member (object, "entropy"), <, 4.5);
}

static void
test_inspection_line_ends (void)
{
  const struct
  {
    const char *text;
    gint64      lines, words, longest;
  } cases[] = {
    { "\n", 1, 0, 0 },
    { "a", 1, 1, 1 },
    { "a\n", 1, 1, 1 },
    { "a\nb", 2, 2, 1 },
    { "ab\r\ncd\r\n", 2, 2, 2 },
    { "a\rb\n", 1, 2, 3 },       /* a lone CR is a character, and white space */
    { "\r", 1, 0, 1 },
    { "one two\tthree\n\n  four  \n", 3, 4, 13 },
    { "\xef\xbb\xbfno bom\n", 1, 2, 6 }, /* the UTF-8 byte order mark is not counted */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) node = inspect_data (cases[i].text, strlen (cases[i].text));

      g_test_message ("case %u", i);
      assert_text (json_node_get_object (node), cases[i].lines, cases[i].words,
                   i == G_N_ELEMENTS (cases) - 1 ? "utf-8" : "ascii", cases[i].longest);
    }
}

static void
test_inspection_utf8 (void)
{
  const char *text = "héllo wörld ✓\n"
                     "日本語 テキスト\n";
  g_autoptr(JsonNode) node = inspect_data (text, strlen (text));
  JsonObject *object = json_node_get_object (node);

  assert_sha256 (object, text, strlen (text));
  g_assert_cmpstr (json_object_get_string_member (object, "mime"), ==, "text/plain");
  assert_text (object, 2, 5, "utf-8", 13);
  assert_histogram (object, (const guint8 *) text, strlen (text));
}

static void
test_inspection_utf8_invalid (void)
{
  /* overlong, surrogate, truncated: none of them is UTF-8, so none is counted as such */
  const char *texts[] = { "ab \xc0\xaf cd\n", "ab \xed\xa0\x80 cd\n", "abc \xe2\x9c" };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(JsonNode) node = inspect_data (texts[i], strlen (texts[i]));
      JsonObject *object = json_node_get_object (node);
      JsonObject *text;

      if (!json_object_has_member (object, "text"))
        continue; /* libmagic did not call it text either */
      text = json_object_get_object_member (object, "text");
      g_assert_cmpstr (json_object_get_string_member (text, "encoding"), !=, "utf-8");
      g_assert_cmpstr (json_object_get_string_member (text, "encoding"), !=, "ascii");
    }
}

static void
test_inspection_utf16 (void)
{
  const char *text = "hi there 😀\n"
                     "line two\n";
  g_autoptr(GBytes) le = utf16_with_bom (text, FALSE);
  g_autoptr(GBytes) be = utf16_with_bom (text, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) le_node = assay_inspect_bytes (le, &error);
  g_autoptr(JsonNode) be_node = NULL;
  JsonObject *object;

  g_assert_no_error (error);
  object = json_node_get_object (le_node);
  assert_sha256 (object, g_bytes_get_data (le, NULL), g_bytes_get_size (le));
  g_assert_cmpstr (json_object_get_string_member (object, "mime"), ==, "text/plain");
  assert_text (object, 2, 5, "utf-16le", 10);

  be_node = assay_inspect_bytes (be, &error);
  g_assert_no_error (error);
  assert_text (json_node_get_object (be_node), 2, 5, "utf-16be", 10);
}

static void
test_inspection_latin1 (void)
{
  /* "café crème" in ISO-8859-1: not UTF-8, but text to libmagic, one byte a character */
  const char *text = "caf\xe9 cr\xe8me\n";
  g_autoptr(JsonNode) node = inspect_data (text, strlen (text));
  JsonObject *object = json_node_get_object (node);

  const char *lines = "caf\xe9\r\nd\xe9j\xe0 vu\rok\n";
  g_autoptr(JsonNode) lines_node = inspect_data (lines, strlen (lines));

  g_assert_cmpstr (json_object_get_string_member (object, "mime"), ==, "text/plain");
  assert_text (object, 1, 2, "iso-8859-1", 10);

  /* CRLF ends a line, a lone CR is a character (and white space) */
  assert_text (json_node_get_object (lines_node), 2, 4, "iso-8859-1", 10);
}

static void
test_inspection_random (void)
{
  gsize len = 1024 * 1024;
  g_autofree guint8 *data = g_malloc (len);
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;

  for (gsize i = 0; i < len; i += 4)
    {
      guint32 r = g_test_rand_int ();

      memcpy (data + i, &r, 4);
    }
  node = inspect_data (data, len);
  object = json_node_get_object (node);

  assert_sha256 (object, data, len);
  g_assert_cmpfloat (json_object_get_double_member (object, "entropy"), >, 7.9);
  g_assert_cmpfloat (json_object_get_double_member (object, "entropy"), <=, 8.0);
  g_assert_false (json_object_has_member (object, "text"));
  assert_histogram (object, data, len);
}

static void
test_inspection_zeros (void)
{
  gsize len = 100000;
  g_autofree guint8 *data = g_malloc0 (len);
  g_autoptr(JsonNode) node = inspect_data (data, len);
  JsonObject *object = json_node_get_object (node);
  JsonArray *top = json_object_get_array_member (object, "byte_histogram_top");

  g_assert_cmpfloat (json_object_get_double_member (object, "entropy"), ==, 0.0);
  g_assert_cmpuint (json_array_get_length (top), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (top, 0), "count"),
                   ==, len);
  g_assert_false (json_object_has_member (object, "text"));
}

static void
test_inspection_png (void)
{
  g_autoptr(GBytes) png = make_png ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = assay_inspect_bytes (png, &error);
  JsonObject *object;

  g_assert_no_error (error);
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "mime"), ==, "image/png");
  g_assert_false (json_object_has_member (object, "text"));
}

static void
test_inspection_gzip (void)
{
  const char *text = "The quick brown fox jumps over the lazy dog.\n";
  g_autoptr(GZlibCompressor) gzip = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1);
  g_autoptr(GBytes) compressed = convert (G_CONVERTER (gzip), (const guint8 *) text,
                                          strlen (text));
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = assay_inspect_bytes (compressed, &error);
  JsonObject *object;

  g_assert_no_error (error);
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "mime"), ==, "application/gzip");
  g_assert_false (json_object_has_member (object, "text"));
}

/* Pieces of any size, cutting characters and code units in two, give the same inspection. */
static void
test_inspection_pieces (void)
{
  g_autoptr(GBytes) utf16 = utf16_with_bom ("pièces 😀 détachées\r\nune deux\n", FALSE);
  const char *utf8 = "pièces 😀 détachées\r\nune deux\n";
  GBytes *contents[] = { utf16, g_bytes_new_static (utf8, strlen (utf8)) };

  for (guint c = 0; c < G_N_ELEMENTS (contents); c++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (contents[c], &len);
      g_autoptr(JsonNode) whole = NULL;
      g_autofree char *expected = NULL;

      whole = assay_inspect_bytes (contents[c], NULL);
      expected = assay_inspection_to_string (whole);
      g_assert_nonnull (strstr (expected, "\"text\""));

      for (gsize piece = 1; piece <= 7; piece++)
        {
          g_autoptr(AssayInspector) inspector = assay_inspector_new ();
          g_autoptr(JsonNode) node = NULL;
          g_autoptr(GError) error = NULL;
          g_autofree char *json = NULL;

          for (gsize off = 0; off < len; off += piece)
            assay_inspector_update (inspector, data + off, MIN (piece, len - off));
          g_assert_cmpuint (assay_inspector_get_size (inspector), ==, len);
          node = assay_inspector_finish (inspector, &error);
          g_assert_no_error (error);
          json = assay_inspection_to_string (node);
          g_assert_cmpstr (json, ==, expected);
        }
    }
  g_bytes_unref (contents[1]);
}

static void
test_inspection_to_string (void)
{
  const char *text = "abcdefgh";
  g_autoptr(JsonNode) node = inspect_data (text, strlen (text));
  g_autofree char *json = assay_inspection_to_string (node);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reparsed = NULL;

  /* 8 distinct bytes: exactly 3 bits, written without noise digits */
  g_assert_nonnull (strstr (json, "\"entropy\":3.0,"));
  g_assert_true (g_str_has_prefix (json, "{\"size\":8,\"sha256\":\""));
  g_assert_null (strchr (json, '\n'));

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  g_assert_true (json_node_equal (json_parser_get_root (parser), node));

  /* and a value with decimals keeps 3 at most */
  {
    const char *mixed = "aaaaaaab";
    g_autoptr(JsonNode) mixed_node = inspect_data (mixed, strlen (mixed));
    g_autofree char *mixed_json = assay_inspection_to_string (mixed_node);

    g_assert_nonnull (strstr (mixed_json, "\"entropy\":0.544,"));
  }
}

static void
test_inspection_file (void)
{
  const char *text = "a file\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(GFileIOStream) io = NULL;
  g_autoptr(GFile) file = g_file_new_tmp ("assay-inspection-XXXXXX", &io, &error);
  g_autoptr(GFile) missing = g_file_new_for_path ("/nonexistent/assay-inspection");
  g_autoptr(JsonNode) from_file = NULL;
  g_autoptr(JsonNode) from_data = inspect_data (text, strlen (text));
  g_autoptr(JsonNode) none = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_replace_contents (file, text, strlen (text), NULL, FALSE,
                                          G_FILE_CREATE_NONE, NULL, NULL, &error));
  g_assert_no_error (error);

  from_file = assay_inspect_file (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (from_file, from_data));

  none = assay_inspect_file (missing, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  g_file_delete (file, NULL, NULL);
}

/* ---- the program ---- */

typedef struct
{
  GFile *file;
  char  *path;
  GBytes *content;
} SampleFixture;

static void
sample_setup (SampleFixture *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GFileIOStream) io = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < 400; i++)
    g_string_append_printf (text, "line %u: the measurement was %u.%02u units\n", i, i * 7,
                            i % 100);
  fixture->content = g_string_free_to_bytes (g_steal_pointer (&text));
  fixture->file = g_file_new_tmp ("assay-inspect-XXXXXX.txt", &io, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_replace_contents (fixture->file, g_bytes_get_data (fixture->content, NULL),
                                          g_bytes_get_size (fixture->content), NULL, FALSE,
                                          G_FILE_CREATE_NONE, NULL, NULL, &error));
  g_assert_no_error (error);
  fixture->path = g_file_get_path (fixture->file);
}

static void
sample_teardown (SampleFixture *fixture,
                 gconstpointer  user_data)
{
  g_file_delete (fixture->file, NULL, NULL);
  g_clear_object (&fixture->file);
  g_clear_pointer (&fixture->path, g_free);
  g_clear_pointer (&fixture->content, g_bytes_unref);
}

/* Runs assay-inspect with @args; returns its exit status and what it printed. */
static int
run_inspect (const char * const *args,
             char              **out,
             char              **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) ASSAY_INSPECT_PATH);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                               &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));

  return g_subprocess_get_exit_status (process);
}

static void
test_inspect_exec (SampleFixture *fixture,
                   gconstpointer  user_data)
{
  const char *args[] = { fixture->path, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) expected = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object;

  g_assert_cmpint (run_inspect (args, &out, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_true (g_str_has_suffix (out, "}\n"));
  g_assert_true (strchr (out, '\n') == out + strlen (out) - 1); /* one line */

  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  assert_sha256 (object, g_bytes_get_data (fixture->content, NULL),
                 g_bytes_get_size (fixture->content));
  g_assert_cmpint (json_object_get_int_member (object, "size"), ==,
                   g_bytes_get_size (fixture->content));
  assert_text (object, 400, 400 * 7, "ascii",
               strlen ("line 399: the measurement was 2793.99 units"));

  expected = assay_inspect_bytes (fixture->content, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (json_parser_get_root (parser), expected));
}

static void
test_inspect_exec_errors (void)
{
  const char *missing[] = { "/nonexistent/assay-inspect-sample", NULL };
  const char *directory[] = { "/", NULL };
  const char *nothing[] = { NULL };
  const char *version[] = { "--version", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run_inspect (missing, &out, &err), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "/nonexistent/assay-inspect-sample"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_inspect (directory, &out, &err), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, !=, "");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_inspect (nothing, &out, &err), ==, 2);
  g_assert_cmpstr (out, ==, "");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_inspect (version, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "assay-inspect " PACKAGE_VERSION "\n");
}

static guint
post (SoupSession  *session,
      const char   *url,
      GBytes       *body,
      gboolean      chunked,
      gboolean      expect_continue,
      char        **response)
{
  g_autoptr(SoupMessage) msg = soup_message_new (SOUP_METHOD_POST, url);
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GError) error = NULL;

  if (chunked)
    {
      g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (body);

      soup_message_set_request_body (msg, "application/octet-stream", stream, -1);
    }
  else
    soup_message_set_request_body_from_bytes (msg, "application/octet-stream", body);
  if (expect_continue)
    soup_message_headers_set_expectations (soup_message_get_request_headers (msg),
                                           SOUP_EXPECTATION_CONTINUE);

  answer = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  if (response != NULL)
    *response = g_strndup (g_bytes_get_data (answer, NULL), g_bytes_get_size (answer));
  if (soup_message_get_status (msg) == SOUP_STATUS_OK)
    g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (msg),
                                                            NULL),
                     ==, "application/json");

  return soup_message_get_status (msg);
}

/* A failed assertion aborts the test: the server must not outlive it. */
static void
die_with_parent (gpointer user_data)
{
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGTERM);
#endif
}

static guint
count_entries (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;

  return n;
}

static void
test_inspect_serve (SampleFixture *fixture,
                    gconstpointer  user_data)
{
  const char *args[] = { fixture->path, NULL };
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *exec_out = NULL;
  g_autofree char *exec_err = NULL;
  g_autofree char *served = NULL;
  g_autofree char *chunked = NULL;
  g_autofree char *refused = NULL;
  g_autoptr(GBytes) too_large = NULL;
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autofree char *empty_exec = NULL;
  g_autofree char *empty_served = NULL;
  gsize limit = 64 * 1024;

  g_assert_cmpuint (g_bytes_get_size (fixture->content), <, limit);
  g_assert_cmpint (run_inspect (args, &exec_out, &exec_err), ==, 0);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  server = g_subprocess_launcher_spawn (launcher, &error, ASSAY_INSPECT_PATH, "--serve", ":0",
                                        "--max-size", "64K", NULL);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  url = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (url);
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));
  g_assert_false (g_str_has_suffix (url, ":0/"));

  /* the same JSON as exec mode, with a length and chunked */
  g_assert_cmpuint (post (session, url, fixture->content, FALSE, FALSE, &served), ==, 200);
  g_assert_cmpstr (served, ==, exec_out);
  g_assert_cmpuint (post (session, url, fixture->content, TRUE, FALSE, &chunked), ==, 200);
  g_assert_cmpstr (chunked, ==, exec_out);

  /* an empty body */
  {
    g_autoptr(JsonNode) node = inspect_data ("", 0);
    g_autofree char *json = assay_inspection_to_string (node);

    empty_exec = g_strconcat (json, "\n", NULL);
  }
  g_assert_cmpuint (post (session, url, empty, FALSE, FALSE, &empty_served), ==, 200);
  g_assert_cmpstr (empty_served, ==, empty_exec);

  /* one byte over the limit: refused, by length, by counting chunks, and before the body */
  {
    g_autofree guint8 *data = g_malloc0 (limit + 1);

    too_large = g_bytes_new_take (g_steal_pointer (&data), limit + 1);
  }
  g_assert_cmpuint (post (session, url, too_large, FALSE, FALSE, &refused), ==, 413);
  g_assert_nonnull (strstr (refused, "\"error\""));
  g_assert_cmpuint (post (session, url, too_large, TRUE, FALSE, NULL), ==, 413);
  g_assert_cmpuint (post (session, url, too_large, FALSE, TRUE, NULL), ==, 413);
  /* and exactly the limit is taken */
  {
    g_autoptr(GBytes) at_limit = g_bytes_new_from_bytes (too_large, 0, limit);

    g_assert_cmpuint (post (session, url, at_limit, FALSE, TRUE, NULL), ==, 200);
  }

  /* other methods and paths */
  {
    g_autoptr(SoupMessage) get = soup_message_new (SOUP_METHOD_GET, url);
    g_autoptr(GBytes) answer = soup_session_send_and_read (session, get, NULL, &error);
    g_autofree char *other_url = g_strconcat (url, "other", NULL);

    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (get), ==, 405);
    g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (get),
                                                   "Allow"),
                     ==, "POST");
    g_assert_cmpuint (post (session, other_url, fixture->content, FALSE, FALSE, NULL), ==, 404);
  }

  /* connections do not pile up (libsoup 3.2 keeps idle ones the client closed) */
  if (g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR))
    {
      g_autofree char *fd_dir = g_strdup_printf ("/proc/%s/fd",
                                                 g_subprocess_get_identifier (server));
      guint before = count_entries (fd_dir);
      guint after = G_MAXUINT;

      for (guint i = 0; i < 20; i++)
        {
          g_autoptr(SoupSession) client = soup_session_new (); /* a connection each */

          g_assert_cmpuint (post (client, url, fixture->content, FALSE, FALSE, NULL), ==, 200);
        }
      for (guint tries = 0; tries < 100 && after > before; tries++)
        {
          g_usleep (10000);
          after = count_entries (fd_dir);
        }
      g_assert_cmpuint (after, <=, before);
    }

  /* it still answers, and SIGTERM stops it cleanly */
  g_clear_pointer (&served, g_free);
  g_assert_cmpuint (post (session, url, fixture->content, FALSE, FALSE, &served), ==, 200);
  g_assert_cmpstr (served, ==, exec_out);

  g_subprocess_send_signal (server, SIGTERM);
  g_assert_true (g_subprocess_wait (server, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (server));
  g_assert_cmpint (g_subprocess_get_exit_status (server), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/worker/inspection/empty", test_inspection_empty);
  g_test_add_func ("/worker/inspection/one-byte", test_inspection_one_byte);
  g_test_add_func ("/worker/inspection/ascii", test_inspection_ascii);
  g_test_add_func ("/worker/inspection/line-ends", test_inspection_line_ends);
  g_test_add_func ("/worker/inspection/utf8", test_inspection_utf8);
  g_test_add_func ("/worker/inspection/utf8-invalid", test_inspection_utf8_invalid);
  g_test_add_func ("/worker/inspection/utf16", test_inspection_utf16);
  g_test_add_func ("/worker/inspection/latin1", test_inspection_latin1);
  g_test_add_func ("/worker/inspection/random", test_inspection_random);
  g_test_add_func ("/worker/inspection/zeros", test_inspection_zeros);
  g_test_add_func ("/worker/inspection/png", test_inspection_png);
  g_test_add_func ("/worker/inspection/gzip", test_inspection_gzip);
  g_test_add_func ("/worker/inspection/pieces", test_inspection_pieces);
  g_test_add_func ("/worker/inspection/to-string", test_inspection_to_string);
  g_test_add_func ("/worker/inspection/file", test_inspection_file);
  g_test_add ("/worker/inspect/exec", SampleFixture, NULL, sample_setup, test_inspect_exec,
              sample_teardown);
  g_test_add_func ("/worker/inspect/exec-errors", test_inspect_exec_errors);
  g_test_add ("/worker/inspect/serve", SampleFixture, NULL, sample_setup, test_inspect_serve,
              sample_teardown);

  return g_test_run ();
}
