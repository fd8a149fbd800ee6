/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-id.h"
#include "assay-util.h"

#include <string.h>

static const char * const prefixes[] = {
  [ASSAY_ID_JOB] = "job-",
  [ASSAY_ID_FILE] = "file-",
  [ASSAY_ID_RESULT] = "result-",
  [ASSAY_ID_PROCESSOR] = "processor-",
};

const char *
assay_id_kind_prefix (AssayIdKind kind)
{
  g_return_val_if_fail (kind <= ASSAY_ID_PROCESSOR, NULL);

  return prefixes[kind];
}

/**
 * assay_id_new:
 * Returns: (transfer full): a fresh id, the kind's prefix followed by a lowercase
 * random (version 4) UUID drawn from the kernel's CSPRNG.
 */
char *
assay_id_new (AssayIdKind kind)
{
  guint8 b[16];

  g_return_val_if_fail (kind <= ASSAY_ID_PROCESSOR, NULL);

  assay_random_bytes (b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
  b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */

  return g_strdup_printf ("%s%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                          "%02x%02x%02x%02x%02x%02x",
                          prefixes[kind], b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                          b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static gboolean
is_lower_hex (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A lowercase UUID of version 4 and the RFC 4122 variant. */
static gboolean
is_uuid_v4 (const char *s)
{
  if (strlen (s) != 36)
    return FALSE;
  for (guint i = 0; i < 36; i++)
    {
      if (i == 8 || i == 13 || i == 18 || i == 23)
        {
          if (s[i] != '-')
            return FALSE;
        }
      else if (!is_lower_hex (s[i]))
        return FALSE;
    }
  return s[14] == '4' && strchr ("89ab", s[19]) != NULL;
}

gboolean
assay_id_is_valid (AssayIdKind  kind,
                   const char  *id)
{
  const char *prefix;

  g_return_val_if_fail (kind <= ASSAY_ID_PROCESSOR, FALSE);

  if (id == NULL)
    return FALSE;
  prefix = prefixes[kind];
  return g_str_has_prefix (id, prefix) && is_uuid_v4 (id + strlen (prefix));
}

/**
 * assay_client_id_is_valid:
 * Checks the form only: `client-04` and 128 more lowercase hex digits. Whether the
 * point lies on P-256 is for assay_key_new_from_client_id() to say.
 */
gboolean
assay_client_id_is_valid (const char *id)
{
  if (id == NULL || strlen (id) != ASSAY_CLIENT_ID_LEN || !g_str_has_prefix (id, "client-04"))
    return FALSE;
  for (const char *p = id + 7; *p; p++)
    if (!is_lower_hex (*p))
      return FALSE;
  return TRUE;
}

/* A semver numeric identifier: digits, no leading zero unless it is "0". */
static gboolean
is_numeric_identifier (const char *s,
                       gsize       len)
{
  if (len == 0 || (len > 1 && s[0] == '0'))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
  return TRUE;
}

static gboolean
is_prerelease_identifier (const char *s,
                          gsize       len)
{
  gboolean all_digits = TRUE;

  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isalnum (s[i]) && s[i] != '-')
        return FALSE;
      all_digits = all_digits && g_ascii_isdigit (s[i]);
    }
  return !all_digits || is_numeric_identifier (s, len);
}

/**
 * assay_version_is_valid:
 * `MAJOR.MINOR.PATCH[-pre]` as semver 2.0 defines it. Build metadata (`+…`) is not
 * part of the protocol's form and is refused.
 */
gboolean
assay_version_is_valid (const char *version)
{
  const char *p;

  if (version == NULL || strlen (version) > 64)
    return FALSE;

  p = version;
  for (guint part = 0; part < 3; part++)
    {
      const char *start = p;

      while (g_ascii_isdigit (*p))
        p++;
      if (!is_numeric_identifier (start, p - start))
        return FALSE;
      if (part < 2 && *p++ != '.')
        return FALSE;
    }
  if (*p == '\0')
    return TRUE;
  if (*p++ != '-')
    return FALSE;
  for (;;)
    {
      const char *start = p;

      while (*p != '\0' && *p != '.')
        p++;
      if (!is_prerelease_identifier (start, p - start))
        return FALSE;
      if (*p == '\0')
        return TRUE;
      p++;
    }
}

static gboolean
looks_like_ipv4 (const char *s)
{
  guint dots = 0;

  for (; *s; s++)
    {
      if (*s == '.')
        dots++;
      else if (!g_ascii_isdigit (*s))
        return FALSE;
    }
  return dots == 3;
}

/**
 * assay_bucket_is_valid:
 * The S3 general purpose bucket naming rules: 3 to 63 lowercase letters, digits, dots
 * and hyphens, beginning and ending with a letter or digit, no two adjacent dots, not
 * an IP address, none of the reserved prefixes and suffixes.
 */
gboolean
assay_bucket_is_valid (const char *bucket)
{
  gsize len;

  if (bucket == NULL)
    return FALSE;
  len = strlen (bucket);
  if (len < 3 || len > 63)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = bucket[i];

      if (!(g_ascii_islower (c) || g_ascii_isdigit (c) || c == '.' || c == '-'))
        return FALSE;
    }
  if (!g_ascii_isalnum (bucket[0]) || !g_ascii_isalnum (bucket[len - 1]))
    return FALSE;
  if (strstr (bucket, "..") != NULL || looks_like_ipv4 (bucket))
    return FALSE;
  if (g_str_has_prefix (bucket, "xn--") || g_str_has_prefix (bucket, "sthree-") ||
      g_str_has_suffix (bucket, "-s3alias") || g_str_has_suffix (bucket, "--ol-s3"))
    return FALSE;
  return TRUE;
}

/* Lowercase letters, digits and dashes (`eu-west-1`, `us-gov-east-1`, `local`). */
gboolean
assay_region_is_valid (const char *region)
{
  gsize len;

  if (region == NULL)
    return FALSE;
  len = strlen (region);
  if (len == 0 || len > 32 || region[0] == '-' || region[len - 1] == '-')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!(g_ascii_islower (region[i]) || g_ascii_isdigit (region[i]) || region[i] == '-'))
      return FALSE;
  return TRUE;
}
