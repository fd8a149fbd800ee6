/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-strict-json.h"

#include <string.h>

G_DEFINE_QUARK (assay-strict-json-error-quark, assay_strict_json_error)

typedef struct
{
  const char *start;
  const char *p;
  const char *end;
  guint depth;
  GError **error;
} Reader;

static gboolean read_value (Reader *r);

static gboolean
invalid (Reader     *r,
         const char *what)
{
  if (r->p >= r->end)
    g_set_error (r->error, ASSAY_STRICT_JSON_ERROR, ASSAY_STRICT_JSON_ERROR_INVALID,
                 "%s, found the end", what);
  else
    g_set_error (r->error, ASSAY_STRICT_JSON_ERROR, ASSAY_STRICT_JSON_ERROR_INVALID,
                 "%s at byte %" G_GSIZE_FORMAT, what, (gsize) (r->p - r->start));
  return FALSE;
}

static gboolean
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
skip_space (Reader *r)
{
  while (r->p < r->end && is_space (*r->p))
    r->p++;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The four hex digits after "\u". */
static gboolean
read_hex4 (Reader   *r,
           gunichar *out)
{
  gunichar value = 0;

  for (guint i = 0; i < 4; i++, r->p++)
    {
      int digit = r->p < r->end ? hex_value (*r->p) : -1;

      if (digit < 0)
        return invalid (r, "expected four hex digits after \\u");
      value = value * 16 + (gunichar) digit;
    }
  *out = value;
  return TRUE;
}

/* A string, at its opening quote. @decoded (nullable) receives its value, in UTF-8. */
static gboolean
read_string (Reader  *r,
             GString *decoded)
{
  r->p++;
  for (;;)
    {
      const char *run = r->p;
      char c;

      while (r->p < r->end && *r->p != '"' && *r->p != '\\' && (guchar) *r->p >= 0x20)
        r->p++;
      if (decoded != NULL)
        g_string_append_len (decoded, run, r->p - run);
      if (r->p >= r->end)
        return invalid (r, "expected the end of the string");
      c = *r->p;
      if (c == '"')
        {
          r->p++;
          return TRUE;
        }
      if (c != '\\')
        return invalid (r, "a control character in a string (it must be escaped)");

      r->p++;
      if (r->p >= r->end)
        return invalid (r, "expected an escape");
      c = *r->p++;
      switch (c)
        {
        case '"':
        case '\\':
        case '/':
          if (decoded != NULL)
            g_string_append_c (decoded, c);
          break;
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          if (decoded != NULL)
            g_string_append_c (decoded, c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n'
                                      : c == 'r' ? '\r' : '\t');
          break;
        case 'u':
          {
            gunichar unit, low;

            if (!read_hex4 (r, &unit))
              return FALSE;
            if (unit >= 0xdc00 && unit <= 0xdfff)
              return invalid (r, "an unpaired low surrogate escape");
            if (unit >= 0xd800 && unit <= 0xdbff)
              {
                if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
                  return invalid (r, "expected the low surrogate escape of a pair");
                r->p += 2;
                if (!read_hex4 (r, &low))
                  return FALSE;
                if (low < 0xdc00 || low > 0xdfff)
                  return invalid (r, "expected the low surrogate escape of a pair");
                unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
              }
            if (decoded != NULL)
              g_string_append_unichar (decoded, unit);
          }
          break;
        default:
          r->p--;
          return invalid (r, "an escape that JSON does not have");
        }
    }
}

static gboolean
read_digits (Reader *r)
{
  const char *first = r->p;

  while (r->p < r->end && g_ascii_isdigit (*r->p))
    r->p++;
  return r->p > first || invalid (r, "expected a digit");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static gboolean
read_number (Reader *r)
{
  if (*r->p == '-')
    r->p++;
  if (r->p < r->end && *r->p == '0')
    r->p++;
  else if (r->p < r->end && *r->p >= '1' && *r->p <= '9')
    read_digits (r);
  else
    return invalid (r, "expected a digit");
  if (r->p < r->end && *r->p == '.')
    {
      r->p++;
      if (!read_digits (r))
        return FALSE;
    }
  if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
    {
      r->p++;
      if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
        r->p++;
      if (!read_digits (r))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_literal (Reader     *r,
              const char *word)
{
  gsize len = strlen (word);

  if ((gsize) (r->end - r->p) < len || memcmp (r->p, word, len) != 0)
    return invalid (r, "expected a value");
  r->p += len;
  return TRUE;
}

static gboolean
enter (Reader *r)
{
  if (++r->depth > ASSAY_STRICT_JSON_MAX_DEPTH)
    return invalid (r, "nested more than " G_STRINGIFY (ASSAY_STRICT_JSON_MAX_DEPTH) " deep");
  r->p++;
  skip_space (r);
  return TRUE;
}

static gboolean
read_object (Reader *r)
{
  g_autoptr(GHashTable) names = NULL;

  if (!enter (r))
    return FALSE;
  if (r->p < r->end && *r->p == '}')
    goto done;
  names = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                 (GDestroyNotify) g_bytes_unref, NULL);
  for (;;)
    {
      GString *name = g_string_new (NULL);
      const char *at = r->p;
      GBytes *key;

      if (r->p >= r->end || *r->p != '"')
        {
          g_string_free (name, TRUE);
          return invalid (r, "expected a member name");
        }
      if (!read_string (r, name))
        {
          g_string_free (name, TRUE);
          return FALSE;
        }
      key = g_string_free_to_bytes (name);
      if (!g_hash_table_add (names, key))
        {
          r->p = at;
          return invalid (r, "a member name that the object already has");
        }
      skip_space (r);
      if (r->p >= r->end || *r->p != ':')
        return invalid (r, "expected “:”");
      r->p++;
      skip_space (r);
      if (!read_value (r))
        return FALSE;
      skip_space (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          skip_space (r);
          continue;
        }
      if (r->p < r->end && *r->p == '}')
        break;
      return invalid (r, "expected “,” or “}”");
    }
done:
  r->p++;
  r->depth--;
  return TRUE;
}

static gboolean
read_array (Reader *r)
{
  if (!enter (r))
    return FALSE;
  if (r->p < r->end && *r->p == ']')
    goto done;
  for (;;)
    {
      if (!read_value (r))
        return FALSE;
      skip_space (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          skip_space (r);
          continue;
        }
      if (r->p < r->end && *r->p == ']')
        break;
      return invalid (r, "expected “,” or “]”");
    }
done:
  r->p++;
  r->depth--;
  return TRUE;
}

static gboolean
read_value (Reader *r)
{
  if (r->p >= r->end)
    return invalid (r, "expected a value");
  switch (*r->p)
    {
    case '{':
      return read_object (r);
    case '[':
      return read_array (r);
    case '"':
      return read_string (r, NULL);
    case 't':
      return read_literal (r, "true");
    case 'f':
      return read_literal (r, "false");
    case 'n':
      return read_literal (r, "null");
    default:
      if (*r->p == '-' || g_ascii_isdigit (*r->p))
        return read_number (r);
      return invalid (r, "expected a value");
    }
}

/**
 * assay_strict_json_check_object:
 * @text: (array length=len): the bytes, without surrounding white space
 * Returns: whether @text is exactly one JSON object, strictly (see assay-strict-json.h);
 *   otherwise %FALSE with @error saying what and where
 */
gboolean
assay_strict_json_check_object (const char  *text,
                                gsize        len,
                                GError     **error)
{
  Reader r = { text, text, text + len, 0, error };
  const char *bad;

  g_return_val_if_fail (text != NULL || len == 0, FALSE);

  if (len == 0)
    return invalid (&r, "expected an object");
  if (!g_utf8_validate_len (text, len, &bad))
    {
      r.p = bad;
      return invalid (&r, *bad == '\0' ? "a NUL byte" : "bytes that are not UTF-8");
    }
  if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    return invalid (&r, "a byte order mark");
  if (*text != '{')
    return invalid (&r, "expected an object");
  if (!read_object (&r))
    return FALSE;
  if (r.p != r.end)
    return invalid (&r, "something after the object");
  return TRUE;
}

/* Moves *@text and shrinks *@len past JSON white space (space, tab, LF, CR) at both ends. */
void
assay_strict_json_trim (const char **text,
                        gsize       *len)
{
  g_return_if_fail (text != NULL && len != NULL);

  while (*len > 0 && is_space (**text))
    {
      (*text)++;
      (*len)--;
    }
  while (*len > 0 && is_space ((*text)[*len - 1]))
    (*len)--;
}
