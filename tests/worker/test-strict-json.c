/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The strict JSON check that guards what the worker splices into a result envelope. */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "assay-strict-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

static gboolean
check (const char *text,
       gsize       len,
       GError    **error)
{
  return assay_strict_json_check_object (text, len, error);
}

static void
test_accepts (void)
{
  static const char * const good[] = {
    "{}",
    "{ }",
    "{\"a\":1}",
    "{\"a\":-0,\"b\":0.1,\"c\":4.469,\"d\":1E+400,\"e\":-12.5e-3,\"f\":12345678901234567890}",
    "{\"a\":[],\"b\":[ 1 , 2 ],\"c\":{\"d\":{}},\"e\":[[[]]]}",
    "{\"a\":true,\"b\":false,\"c\":null}",
    "{\"\":\"\",\"a\\u0000b\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
    "{\"a\":\"\\u00e9\\uD83D\\uDE00 é 😀 \x7f\"}",
    "{\n\t\"a\" :\r\n 1\n}",
    /* the same name in different objects; names that differ only after unescaping */
    "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}",
    "{\"a\":1,\"A\":2,\"a\\u0000\":3}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonParser) parser = json_parser_new ();

      g_test_message ("%s", good[i]);
      g_assert_true (check (good[i], strlen (good[i]), &error));
      g_assert_no_error (error);
      /* and json-glib, a reader of envelopes, agrees */
      g_assert_true (json_parser_load_from_data (parser, good[i], -1, NULL));
    }
}

static void
test_refuses (void)
{
  static const struct
  {
    const char *text;
    gssize len; /* -1: strlen */
    const char *reason;
  } bad[] = {
    { "", -1, "expected an object, found the end" },
    { " {}", -1, "expected an object at byte 0" },
    { "{} ", -1, "something after the object at byte 2" },
    { "[]", -1, "expected an object at byte 0" },
    { "\"a\"", -1, "expected an object" },
    { "{\"a\":1}{}", -1, "something after the object at byte 7" },
    { "{\"a\":1", -1, "expected “,” or “}”, found the end" },
    { "{\"a\":1,}", -1, "expected a member name at byte 7" },
    { "{\"a\":[1,]}", -1, "expected a value at byte 8" },
    { "{\"a\" 1}", -1, "expected “:” at byte 5" },
    { "{a:1}", -1, "expected a member name at byte 1" },
    { "{'a':1}", -1, "expected a member name at byte 1" },
    { "/* c */{}", -1, "expected an object at byte 0" },
    { "{\"a\":1/* c */}", -1, "expected “,” or “}” at byte 6" },
    { "{\"a\":0x10}", -1, "expected “,” or “}” at byte 6" },
    { "{\"a\":01}", -1, "expected “,” or “}” at byte 6" },
    { "{\"a\":.5}", -1, "expected a value at byte 5" },
    { "{\"a\":1.}", -1, "expected a digit at byte 7" },
    { "{\"a\":1e}", -1, "expected a digit at byte 7" },
    { "{\"a\":+1}", -1, "expected a value at byte 5" },
    { "{\"a\":- 1}", -1, "expected a digit at byte 6" },
    { "{\"a\":NaN}", -1, "expected a value at byte 5" },
    { "{\"a\":Infinity}", -1, "expected a value at byte 5" },
    { "{\"a\":True}", -1, "expected a value at byte 5" },
    { "{\"a\":nul}", -1, "expected a value at byte 5" },
    { "{\"a\":\"x\ty\"}", -1, "a control character in a string (it must be escaped) at byte 7" },
    { "{\"a\":\"\\x41\"}", -1, "an escape that JSON does not have at byte 7" },
    { "{\"a\":\"\\'\"}", -1, "an escape that JSON does not have at byte 7" },
    { "{\"a\":\"\\u12\"}", -1, "expected four hex digits after \\u at byte 10" },
    { "{\"a\":\"\\ud800\"}", -1, "expected the low surrogate escape of a pair at byte 12" },
    { "{\"a\":\"\\ud800\\u0041\"}", -1, "expected the low surrogate escape of a pair" },
    { "{\"a\":\"\\udc00\"}", -1, "an unpaired low surrogate escape at byte 12" },
    { "{\"a\":\"unterminated}", -1, "expected the end of the string, found the end" },
    { "{\"a\":1,\"a\":2}", -1, "a member name that the object already has at byte 7" },
    { "{\"a\":1,\"\\u0061\":2}", -1, "a member name that the object already has at byte 7" },
    { "{\"a\":\"\xff\"}", -1, "bytes that are not UTF-8 at byte 6" },
    { "{\"a\":\"\xed\xa0\x80\"}", -1, "bytes that are not UTF-8 at byte 6" },
    { "{\"a\":\"\xc0\xaf\"}", -1, "bytes that are not UTF-8 at byte 6" },
    { "{\"a\":1}\0", 8, "a NUL byte at byte 7" },
    { "\xef\xbb\xbf{}", -1, "a byte order mark at byte 0" },
    { "{\"a\":\f1}", -1, "expected a value at byte 5" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize len = bad[i].len < 0 ? strlen (bad[i].text) : (gsize) bad[i].len;

      g_assert_false (check (bad[i].text, len, &error));
      g_assert_error (error, ASSAY_STRICT_JSON_ERROR, ASSAY_STRICT_JSON_ERROR_INVALID);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, bad[i].reason));
    }
}

/* Deep nesting is refused at the limit, without recursing further. */
static void
test_depth (void)
{
  for (guint depth = ASSAY_STRICT_JSON_MAX_DEPTH; depth <= ASSAY_STRICT_JSON_MAX_DEPTH + 1;
       depth++)
    {
      g_autoptr(GString) text = g_string_new ("{\"a\":");
      g_autoptr(GError) error = NULL;

      for (guint i = 1; i < depth; i++)
        g_string_append_c (text, '[');
      for (guint i = 1; i < depth; i++)
        g_string_append_c (text, ']');
      g_string_append_c (text, '}');
      g_assert_cmpint (check (text->str, text->len, &error), ==,
                       depth <= ASSAY_STRICT_JSON_MAX_DEPTH);
      if (depth > ASSAY_STRICT_JSON_MAX_DEPTH)
        g_assert_nonnull (strstr (error->message, "nested more than"));
    }

  {
    /* a megabyte of "[": refused at once */
    gsize len = 1 << 20;
    g_autofree char *text = g_malloc (len);
    g_autoptr(GError) error = NULL;

    memset (text, '[', len);
    text[0] = '{';
    g_assert_false (check (text, len, &error));
  }
}

static void
test_trim (void)
{
  const char *text = " \t\r\n{\"a\": 1 }\n\n ";
  gsize len = strlen (text);
  const char *blank = " \n";
  gsize blank_len = 2;

  assay_strict_json_trim (&text, &len);
  g_assert_cmpmem (text, len, "{\"a\": 1 }", 9);
  assay_strict_json_trim (&blank, &blank_len);
  g_assert_cmpuint (blank_len, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/worker/strict-json/accepts", test_accepts);
  g_test_add_func ("/worker/strict-json/refuses", test_refuses);
  g_test_add_func ("/worker/strict-json/depth", test_depth);
  g_test_add_func ("/worker/strict-json/trim", test_trim);

  return g_test_run ();
}
