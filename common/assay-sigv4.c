/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-sigv4.h"

#include "assay-util.h"

#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-sigv4"

#define ALGORITHM "AWS4-HMAC-SHA256"

G_DEFINE_QUARK (assay-sigv4-error-quark, assay_sigv4_error)

void
assay_sigv4_result_free (AssaySigv4Result *result)
{
  if (result == NULL)
    return;
  g_free (result->canonical_request);
  g_free (result->string_to_sign);
  g_free (result->signature);
  g_free (result->signed_headers);
  g_free (result->amz_date);
  g_free (result->authorization);
  g_strfreev (result->added_headers);
  g_free (result);
}

char *
assay_sigv4_sha256_hex (const guint8 *data,
                        gsize         len)
{
  struct sha256_ctx ctx;
  guint8 digest[SHA256_DIGEST_SIZE];

  sha256_init (&ctx);
  sha256_update (&ctx, len, data);
  sha256_digest (&ctx, sizeof digest, digest);
  return assay_hex_encode (digest, sizeof digest);
}

static gboolean
is_unreserved (guchar c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/**
 * assay_sigv4_uri_encode:
 * Percent-encodes every byte of @str but the unreserved characters A-Za-z0-9-._~ (and
 * '/' when @keep_slash), with uppercase hex digits, as SigV4 requires.
 */
char *
assay_sigv4_uri_encode (const char *str,
                        gssize      len,
                        gboolean    keep_slash)
{
  static const char hex[] = "0123456789ABCDEF";
  GString *out;

  g_return_val_if_fail (str != NULL, NULL);

  if (len < 0)
    len = (gssize) strlen (str);
  out = g_string_sized_new ((gsize) len + 16);
  for (gssize i = 0; i < len; i++)
    {
      guchar c = (guchar) str[i];

      if (is_unreserved (c) || (keep_slash && c == '/'))
        {
          g_string_append_c (out, (char) c);
        }
      else
        {
          g_string_append_c (out, '%');
          g_string_append_c (out, hex[c >> 4]);
          g_string_append_c (out, hex[c & 0xf]);
        }
    }
  return g_string_free (out, FALSE);
}

/* Decodes %XX escapes; a '%' not followed by two hex digits stays as it is. '+' is
 * literal (SigV4 is not form encoding). The result may hold any byte but NUL. */
static GString *
uri_decode (const char *str,
            gsize       len)
{
  GString *out = g_string_sized_new (len);

  for (gsize i = 0; i < len; i++)
    {
      if (str[i] == '%' && i + 2 < len && g_ascii_isxdigit (str[i + 1]) &&
          g_ascii_isxdigit (str[i + 2]))
        {
          char c = (char) (g_ascii_xdigit_value (str[i + 1]) << 4 |
                           g_ascii_xdigit_value (str[i + 2]));

          if (c != '\0')
            {
              g_string_append_c (out, c);
              i += 2;
              continue;
            }
        }
      g_string_append_c (out, str[i]);
    }
  return out;
}

/* RFC 3986 remove_dot_segments, and empty segments ("//") dropped, as the SigV4
 * normalisation does. A trailing slash is kept. */
static char *
normalize_path (const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();
  GString *out = g_string_new ("/");
  gboolean trailing = FALSE;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *seg = parts[i];
      gboolean last = parts[i + 1] == NULL;

      if (seg[0] == '\0')
        {
          trailing = last && i > 0;
          continue;
        }
      if (strcmp (seg, ".") == 0)
        {
          trailing = last;
          continue;
        }
      if (strcmp (seg, "..") == 0)
        {
          if (stack->len > 0)
            g_ptr_array_remove_index (stack, stack->len - 1);
          trailing = last;
          continue;
        }
      g_ptr_array_add (stack, (gpointer) seg);
      trailing = FALSE;
    }

  for (guint i = 0; i < stack->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, '/');
      g_string_append (out, g_ptr_array_index (stack, i));
    }
  if (trailing && stack->len > 0)
    g_string_append_c (out, '/');
  return g_string_free (out, FALSE);
}

/**
 * assay_sigv4_canonical_path:
 * @path: the path as sent on the wire (percent-encoded)
 *
 * The canonical URI. With @double_encode (every service but S3) the wire path is
 * encoded once more, so "%20" becomes "%2520". Without it (S3), the path is decoded
 * and encoded once, so that it matches what S3 computes from the wire path.
 */
char *
assay_sigv4_canonical_path (const char *path,
                            gboolean    normalize,
                            gboolean    double_encode)
{
  g_autofree char *normal = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  if (path[0] == '\0')
    path = "/";
  normal = normalize ? normalize_path (path) : g_strdup (path);

  if (double_encode)
    return assay_sigv4_uri_encode (normal, -1, TRUE);
  else
    {
      g_autoptr(GString) decoded = uri_decode (normal, strlen (normal));

      return assay_sigv4_uri_encode (decoded->str, (gssize) decoded->len, TRUE);
    }
}

typedef struct
{
  char *key;
  char *value;
} QueryParam;

static int
query_param_compare (gconstpointer a,
                     gconstpointer b)
{
  const QueryParam *pa = a;
  const QueryParam *pb = b;
  int cmp = strcmp (pa->key, pb->key);

  return cmp != 0 ? cmp : strcmp (pa->value, pb->value);
}

static void
query_param_clear (gpointer data)
{
  QueryParam *param = data;

  g_free (param->key);
  g_free (param->value);
}

/**
 * assay_sigv4_canonical_query:
 * @query: (nullable): the query as on the wire, without '?'
 *
 * Each name and value decoded and encoded again by the SigV4 rules, sorted by encoded
 * name then value, joined as name=value&…; a name without '=' gets an empty value.
 */
char *
assay_sigv4_canonical_query (const char *query)
{
  g_autoptr(GArray) params = NULL;
  g_auto(GStrv) pairs = NULL;
  GString *out;

  if (query == NULL || query[0] == '\0')
    return g_strdup ("");

  params = g_array_new (FALSE, FALSE, sizeof (QueryParam));
  g_array_set_clear_func (params, query_param_clear);
  pairs = g_strsplit (query, "&", -1);
  for (guint i = 0; pairs[i] != NULL; i++)
    {
      const char *pair = pairs[i];
      const char *eq = strchr (pair, '=');
      gsize key_len = eq ? (gsize) (eq - pair) : strlen (pair);
      const char *value = eq ? eq + 1 : "";
      g_autoptr(GString) key_raw = NULL;
      g_autoptr(GString) value_raw = NULL;
      QueryParam param;

      if (pair[0] == '\0')
        continue;
      key_raw = uri_decode (pair, key_len);
      value_raw = uri_decode (value, strlen (value));
      param.key = assay_sigv4_uri_encode (key_raw->str, (gssize) key_raw->len, FALSE);
      param.value = assay_sigv4_uri_encode (value_raw->str, (gssize) value_raw->len, FALSE);
      g_array_append_val (params, param);
    }
  g_array_sort (params, query_param_compare);

  out = g_string_new (NULL);
  for (guint i = 0; i < params->len; i++)
    {
      const QueryParam *param = &g_array_index (params, QueryParam, i);

      if (i > 0)
        g_string_append_c (out, '&');
      g_string_append_printf (out, "%s=%s", param->key, param->value);
    }
  return g_string_free (out, FALSE);
}

/* Trims the value and collapses every inner run of whitespace (folded lines included)
 * into one space. */
static void
append_canonical_value (GString    *out,
                        const char *value)
{
  gboolean pending_space = FALSE;
  gboolean started = FALSE;

  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        {
          pending_space = started;
          continue;
        }
      if (pending_space)
        g_string_append_c (out, ' ');
      g_string_append_c (out, *p);
      pending_space = FALSE;
      started = TRUE;
    }
}

static gboolean
is_valid_header_name (const char *name)
{
  if (name == NULL || name[0] == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    {
      if ((guchar) *p <= ' ' || *p == ':' || (guchar) *p >= 0x7f)
        return FALSE;
    }
  return TRUE;
}

typedef struct
{
  char *name; /* lowercase */
  GString *values;
} CanonicalHeader;

static void
canonical_header_clear (gpointer data)
{
  CanonicalHeader *header = data;

  g_free (header->name);
  g_string_free (header->values, TRUE);
}

static int
canonical_header_compare (gconstpointer a,
                          gconstpointer b)
{
  return strcmp (((const CanonicalHeader *) a)->name, ((const CanonicalHeader *) b)->name);
}

static void
add_canonical_header (GArray     *headers,
                      const char *lower_name,
                      const char *value)
{
  CanonicalHeader header;

  for (guint i = 0; i < headers->len; i++)
    {
      CanonicalHeader *existing = &g_array_index (headers, CanonicalHeader, i);

      if (strcmp (existing->name, lower_name) == 0)
        {
          g_string_append_c (existing->values, ',');
          append_canonical_value (existing->values, value);
          return;
        }
    }
  header.name = g_strdup (lower_name);
  header.values = g_string_new (NULL);
  append_canonical_value (header.values, value);
  g_array_append_val (headers, header);
}

static gboolean
is_skipped_header (const char *lower_name,
                   gboolean    add_content_sha256)
{
  static const char *const skipped[] = {
    "authorization", "x-amz-date", "x-amz-security-token", "user-agent", "connection",
    "expect", "transfer-encoding", "x-amzn-trace-id",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (skipped); i++)
    {
      if (strcmp (lower_name, skipped[i]) == 0)
        return TRUE;
    }
  return add_content_sha256 && strcmp (lower_name, "x-amz-content-sha256") == 0;
}

static void
hmac_sha256 (const guint8 *key,
             gsize         key_len,
             const char   *data,
             guint8        out[SHA256_DIGEST_SIZE])
{
  struct hmac_sha256_ctx ctx;

  hmac_sha256_set_key (&ctx, key_len, key);
  hmac_sha256_update (&ctx, strlen (data), (const guint8 *) data);
  hmac_sha256_digest (&ctx, SHA256_DIGEST_SIZE, out);
  assay_wipe (&ctx, sizeof ctx);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service), "aws4_request") */
static char *
compute_signature (const char *secret,
                   const char *date,
                   const char *region,
                   const char *service,
                   const char *string_to_sign)
{
  gsize secret_len = strlen (secret);
  gsize key_len = secret_len + 4;
  guint8 *key = g_malloc (key_len);
  guint8 k1[SHA256_DIGEST_SIZE];
  guint8 k2[SHA256_DIGEST_SIZE];
  guint8 signature[SHA256_DIGEST_SIZE];

  memcpy (key, "AWS4", 4);
  memcpy (key + 4, secret, secret_len);
  hmac_sha256 (key, key_len, date, k1);
  assay_wipe (key, key_len);
  g_free (key);

  hmac_sha256 (k1, sizeof k1, region, k2);
  hmac_sha256 (k2, sizeof k2, service, k1);
  hmac_sha256 (k1, sizeof k1, "aws4_request", k2);
  hmac_sha256 (k2, sizeof k2, string_to_sign, signature);
  assay_wipe (k1, sizeof k1);
  assay_wipe (k2, sizeof k2);

  return assay_hex_encode (signature, sizeof signature);
}

AssaySigv4Result *
assay_sigv4_sign (const AssaySigv4Request  *request,
                  GError                  **error)
{
  g_autoptr(AssaySigv4Result) result = NULL;
  g_autoptr(GArray) headers = NULL;
  g_autoptr(GDateTime) utc = NULL;
  g_autoptr(GString) canonical = NULL;
  g_autoptr(GString) signed_headers = NULL;
  g_autoptr(GStrvBuilder) added = NULL;
  g_autofree char *date = NULL;
  g_autofree char *scope = NULL;
  g_autofree char *path = NULL;
  g_autofree char *query = NULL;
  g_autofree char *creq_hash = NULL;
  const char *token;
  gboolean has_host = FALSE;

  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (request->method != NULL, NULL);
  g_return_val_if_fail (request->path != NULL, NULL);
  g_return_val_if_fail (request->headers != NULL || request->n_headers == 0, NULL);
  g_return_val_if_fail (request->payload_hash != NULL, NULL);
  g_return_val_if_fail (request->credentials != NULL, NULL);
  g_return_val_if_fail (request->region != NULL, NULL);
  g_return_val_if_fail (request->service != NULL, NULL);
  g_return_val_if_fail (request->time != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  token = assay_credentials_get_session_token (request->credentials);
  if (token != NULL && token[0] == '\0')
    token = NULL;

  result = g_new0 (AssaySigv4Result, 1);
  utc = g_date_time_to_utc (request->time);
  result->amz_date = g_date_time_format (utc, "%Y%m%dT%H%M%SZ");
  date = g_date_time_format (utc, "%Y%m%d");
  scope = g_strdup_printf ("%s/%s/%s/aws4_request", date, request->region, request->service);

  /* The headers: the request's own, then the ones the signer adds. */
  headers = g_array_new (FALSE, FALSE, sizeof (CanonicalHeader));
  g_array_set_clear_func (headers, canonical_header_clear);
  for (gsize i = 0; i < request->n_headers; i++)
    {
      const AssaySigv4Header *header = &request->headers[i];
      g_autofree char *lower = NULL;

      if (!is_valid_header_name (header->name) || header->value == NULL)
        {
          g_set_error (error, ASSAY_SIGV4_ERROR, ASSAY_SIGV4_ERROR_INVALID,
                       "Cannot sign a request with the header “%s”",
                       header->name ? header->name : "(null)");
          return NULL;
        }
      lower = g_ascii_strdown (header->name, -1);
      if (is_skipped_header (lower, request->add_content_sha256))
        continue;
      if (strcmp (lower, "host") == 0)
        has_host = TRUE;
      add_canonical_header (headers, lower, header->value);
    }
  if (!has_host)
    {
      g_set_error_literal (error, ASSAY_SIGV4_ERROR, ASSAY_SIGV4_ERROR_INVALID,
                           "Cannot sign a request without a Host header");
      return NULL;
    }
  add_canonical_header (headers, "x-amz-date", result->amz_date);
  if (token != NULL && !request->omit_session_token)
    add_canonical_header (headers, "x-amz-security-token", token);
  if (request->add_content_sha256)
    add_canonical_header (headers, "x-amz-content-sha256", request->payload_hash);
  g_array_sort (headers, canonical_header_compare);

  path = assay_sigv4_canonical_path (request->path, request->normalize_path,
                                     request->double_encode_path);
  query = assay_sigv4_canonical_query (request->query);

  canonical = g_string_new (NULL);
  signed_headers = g_string_new (NULL);
  g_string_append_printf (canonical, "%s\n%s\n%s\n", request->method, path, query);
  for (guint i = 0; i < headers->len; i++)
    {
      const CanonicalHeader *header = &g_array_index (headers, CanonicalHeader, i);

      g_string_append_printf (canonical, "%s:%s\n", header->name, header->values->str);
      if (i > 0)
        g_string_append_c (signed_headers, ';');
      g_string_append (signed_headers, header->name);
    }
  g_string_append_printf (canonical, "\n%s\n%s", signed_headers->str, request->payload_hash);

  creq_hash = assay_sigv4_sha256_hex ((const guint8 *) canonical->str, canonical->len);
  result->string_to_sign = g_strdup_printf (ALGORITHM "\n%s\n%s\n%s",
                                            result->amz_date, scope, creq_hash);
  result->signature = compute_signature (
    assay_credentials_get_secret_access_key (request->credentials), date, request->region,
    request->service, result->string_to_sign);
  result->authorization = g_strdup_printf (
    ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
    assay_credentials_get_access_key_id (request->credentials), scope, signed_headers->str,
    result->signature);
  result->canonical_request = g_string_free (g_steal_pointer (&canonical), FALSE);
  result->signed_headers = g_string_free (g_steal_pointer (&signed_headers), FALSE);

  added = g_strv_builder_new ();
  if (token != NULL)
    {
      g_strv_builder_add (added, "X-Amz-Security-Token");
      g_strv_builder_add (added, token);
    }
  g_strv_builder_add (added, "X-Amz-Date");
  g_strv_builder_add (added, result->amz_date);
  if (request->add_content_sha256)
    {
      g_strv_builder_add (added, "x-amz-content-sha256");
      g_strv_builder_add (added, request->payload_hash);
    }
  g_strv_builder_add (added, "Authorization");
  g_strv_builder_add (added, result->authorization);
  result->added_headers = g_strv_builder_end (added);

  return g_steal_pointer (&result);
}

/* The Host header libsoup would send for @uri. */
static char *
host_for_uri (GUri *uri)
{
  const char *host = g_uri_get_host (uri);
  const char *scheme = g_uri_get_scheme (uri);
  int port = g_uri_get_port (uri);
  int default_port = g_ascii_strcasecmp (scheme, "https") == 0 ? 443 : 80;
  g_autofree char *bracketed = NULL;

  if (strchr (host, ':') != NULL)
    host = bracketed = g_strdup_printf ("[%s]", host);
  if (port > 0 && port != default_port)
    return g_strdup_printf ("%s:%d", host, port);
  return g_strdup (host);
}

gboolean
assay_sigv4_sign_message (SoupMessage       *msg,
                          AssayCredentials  *creds,
                          const char        *region,
                          const char        *service,
                          const char        *payload_hash,
                          GDateTime         *now,
                          GError           **error)
{
  SoupMessageHeaders *hdrs;
  SoupMessageHeadersIter iter;
  g_autoptr(GArray) headers = NULL;
  g_autoptr(AssaySigv4Result) result = NULL;
  g_autoptr(GUri) wire = NULL;
  g_autofree char *wire_string = NULL;
  GUri *uri;
  const char *name;
  const char *value;
  gboolean s3;
  AssaySigv4Request request = { 0 };

  g_return_val_if_fail (SOUP_IS_MESSAGE (msg), FALSE);
  g_return_val_if_fail (creds != NULL, FALSE);
  g_return_val_if_fail (region != NULL, FALSE);
  g_return_val_if_fail (service != NULL, FALSE);
  g_return_val_if_fail (now != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  s3 = g_strcmp0 (service, "s3") == 0;
  uri = soup_message_get_uri (msg);
  if (uri == NULL || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error_literal (error, ASSAY_SIGV4_ERROR, ASSAY_SIGV4_ERROR_INVALID,
                           "Cannot sign a request without a host");
      return FALSE;
    }
  /* The path and query exactly as libsoup will send them: percent-encoded. */
  if ((g_uri_get_flags (uri) & (G_URI_FLAGS_ENCODED_PATH | G_URI_FLAGS_ENCODED_QUERY)) !=
      (G_URI_FLAGS_ENCODED_PATH | G_URI_FLAGS_ENCODED_QUERY))
    {
      wire_string = g_uri_to_string (uri);
      wire = g_uri_parse (wire_string, SOUP_HTTP_URI_FLAGS, error);
      if (wire == NULL)
        return FALSE;
      uri = wire;
    }

  hdrs = soup_message_get_request_headers (msg);
  soup_message_headers_remove (hdrs, "Authorization");
  soup_message_headers_remove (hdrs, "X-Amz-Date");
  soup_message_headers_remove (hdrs, "X-Amz-Security-Token");
  if (s3)
    soup_message_headers_remove (hdrs, "X-Amz-Content-Sha256");
  if (soup_message_headers_get_one (hdrs, "Host") == NULL)
    {
      g_autofree char *host = host_for_uri (uri);

      soup_message_headers_replace (hdrs, "Host", host);
    }

  headers = g_array_new (FALSE, FALSE, sizeof (AssaySigv4Header));
  soup_message_headers_iter_init (&iter, hdrs);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      AssaySigv4Header header = { name, value };

      g_array_append_val (headers, header);
    }

  request.method = soup_message_get_method (msg);
  request.path = g_uri_get_path (uri);
  request.query = g_uri_get_query (uri);
  request.headers = (const AssaySigv4Header *) headers->data;
  request.n_headers = headers->len;
  request.payload_hash = payload_hash ? payload_hash : ASSAY_SIGV4_EMPTY_PAYLOAD_HASH;
  request.credentials = creds;
  request.region = region;
  request.service = service;
  request.time = now;
  request.normalize_path = !s3;
  request.double_encode_path = !s3;
  request.add_content_sha256 = s3;

  result = assay_sigv4_sign (&request, error);
  if (result == NULL)
    return FALSE;

  for (guint i = 0; result->added_headers[i] != NULL; i += 2)
    soup_message_headers_append (hdrs, result->added_headers[i], result->added_headers[i + 1]);

  return TRUE;
}
