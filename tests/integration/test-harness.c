/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "test-servers.h"

/*
 * The integration harness itself: the servers start, answer and stop, and the SigV4
 * proxy forwards a request signed by hand here (the textbook algorithm, independent of
 * Assay's signer) and refuses unsigned and badly signed ones.
 */

static char *
sha256_hex (const char *data,
            gsize       len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}

static void
hmac (const guint8 *key,
      gsize         key_len,
      const char   *data,
      guint8        out[32])
{
  g_autoptr(GHmac) h = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
  gsize len = 32;

  g_hmac_update (h, (const guchar *) data, strlen (data));
  g_hmac_get_digest (h, out, &len);
}

/* Signs @message (no query, @body) for @service with the test credentials, or with
 * @secret when set. Signs host, x-amz-date, x-amz-content-sha256 and, when present,
 * content-type and x-amz-target. */
static void
sign (SoupMessage *message,
      const char  *service,
      const char  *body,
      const char  *secret)
{
  SoupMessageHeaders *headers = soup_message_get_request_headers (message);
  GUri *uri = soup_message_get_uri (message);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *amz_date = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  g_autofree char *day = g_date_time_format (now, "%Y%m%d");
  g_autofree char *host = g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));
  g_autofree char *payload_hash = sha256_hex (body, strlen (body));
  g_autoptr(GString) canonical = g_string_new (NULL);
  g_autoptr(GString) signed_headers = g_string_new (NULL);
  g_autofree char *scope = NULL;
  g_autofree char *string_to_sign = NULL;
  g_autofree char *canonical_hash = NULL;
  g_autofree char *key0 = NULL;
  g_autofree char *signature = NULL;
  g_autofree char *authorization = NULL;
  const char *content_type = soup_message_headers_get_one (headers, "Content-Type");
  const char *target = soup_message_headers_get_one (headers, "X-Amz-Target");
  guint8 k[32];

  soup_message_headers_replace (headers, "X-Amz-Date", amz_date);
  soup_message_headers_replace (headers, "X-Amz-Content-SHA256", payload_hash);

  g_string_append_printf (canonical, "%s\n%s\n\n", soup_message_get_method (message),
                          g_uri_get_path (uri));
  if (content_type != NULL)
    {
      g_string_append_printf (canonical, "content-type:%s\n", content_type);
      g_string_append (signed_headers, "content-type;");
    }
  g_string_append_printf (canonical, "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n",
                          host, payload_hash, amz_date);
  g_string_append (signed_headers, "host;x-amz-content-sha256;x-amz-date");
  if (target != NULL)
    {
      g_string_append_printf (canonical, "x-amz-target:%s\n", target);
      g_string_append (signed_headers, ";x-amz-target");
    }
  g_string_append_printf (canonical, "\n%s\n%s", signed_headers->str, payload_hash);

  scope = g_strdup_printf ("%s/%s/%s/aws4_request", day, ASSAY_TEST_REGION, service);
  canonical_hash = sha256_hex (canonical->str, canonical->len);
  string_to_sign = g_strdup_printf ("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope,
                                    canonical_hash);
  key0 = g_strconcat ("AWS4", secret != NULL ? secret : ASSAY_TEST_SECRET_ACCESS_KEY, NULL);
  hmac ((const guint8 *) key0, strlen (key0), day, k);
  hmac (k, 32, ASSAY_TEST_REGION, k);
  hmac (k, 32, service, k);
  hmac (k, 32, "aws4_request", k);
  {
    g_autoptr(GHmac) h = g_hmac_new (G_CHECKSUM_SHA256, k, 32);

    g_hmac_update (h, (const guchar *) string_to_sign, -1);
    signature = g_strdup (g_hmac_get_string (h));
  }
  authorization = g_strdup_printf ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                   "Signature=%s", ASSAY_TEST_ACCESS_KEY_ID, scope,
                                   signed_headers->str, signature);
  soup_message_headers_replace (headers, "Authorization", authorization);
}

static GBytes *
send (SoupMessage *message,
      guint        expected_status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(GError) error = NULL;
  GBytes *body;

  body = soup_session_send_and_read (session, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (message), ==, expected_status);

  return body;
}

static gboolean
bytes_contain (GBytes     *bytes,
               const char *needle)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  return g_strstr_len (data, len, needle) != NULL;
}

static void
test_s3rver (void)
{
  g_autoptr(AssayTestServer) s3 = assay_test_server_start_s3rver ();
  g_autofree char *uri = g_strdup_printf ("%s/%s", assay_test_server_get_url (s3),
                                          ASSAY_TEST_BUCKET);
  g_autoptr(SoupMessage) message = soup_message_new ("GET", uri);
  g_autoptr(GBytes) body = NULL;

  g_assert_cmpuint (assay_test_server_get_port (s3), >, 0);
  /* The bucket exists from the start; s3rver accepts an unsigned request. */
  body = send (message, 200);
  g_assert_true (bytes_contain (body, "<ListBucketResult"));
}

static void
test_proxy_s3 (void)
{
  g_autoptr(AssayTestServer) s3 = assay_test_server_start_s3rver ();
  g_autoptr(AssayTestServer) proxy = assay_test_server_start_proxy (s3, "s3");
  g_autofree char *bucket_uri = g_strdup_printf ("%s/%s", assay_test_server_get_url (proxy),
                                                 ASSAY_TEST_BUCKET);
  g_autofree char *object_uri = g_strdup_printf ("%s/dir/object", bucket_uri);
  g_autoptr(SoupMessage) put = soup_message_new ("PUT", object_uri);
  g_autoptr(SoupMessage) get = soup_message_new ("GET", object_uri);
  g_autoptr(SoupMessage) unsigned_get = soup_message_new ("GET", bucket_uri);
  g_autoptr(SoupMessage) bad_get = soup_message_new ("GET", object_uri);
  g_autoptr(SoupMessage) bad_body = soup_message_new ("PUT", object_uri);
  g_autoptr(GBytes) content = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) other = g_bytes_new_static ("HELLO", 5);
  g_autoptr(GBytes) body = NULL;

  g_assert_cmpuint (assay_test_server_get_port (proxy), !=, assay_test_server_get_port (s3));

  sign (put, "s3", "hello", NULL);
  soup_message_set_request_body_from_bytes (put, "application/octet-stream", content);
  g_clear_pointer (&body, g_bytes_unref);
  body = send (put, 200);

  sign (get, "s3", "", NULL);
  g_clear_pointer (&body, g_bytes_unref);
  body = send (get, 200);
  g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body), "hello", 5);

  g_assert_cmpuint (assay_test_server_count_refused (proxy), ==, 0);
  g_assert_cmpuint (assay_test_server_count_requests (proxy, "PUT", NULL), ==, 1);
  g_assert_cmpuint (assay_test_server_count_requests (proxy, NULL, "/" ASSAY_TEST_BUCKET "/dir/"),
                    ==, 2);
  g_assert_cmpuint (assay_test_server_count_requests (proxy, "GET", "/other"), ==, 0);

  /* Refused: no signature, a wrong secret, a body that is not the one signed. */
  g_clear_pointer (&body, g_bytes_unref);
  body = send (unsigned_get, 403);
  g_assert_true (bytes_contain (body, "<Code>AccessDenied</Code>"));

  sign (bad_get, "s3", "", "not-the-secret");
  g_clear_pointer (&body, g_bytes_unref);
  body = send (bad_get, 403);
  g_assert_true (bytes_contain (body, "<Code>SignatureDoesNotMatch</Code>"));

  sign (bad_body, "s3", "hello", NULL);
  soup_message_set_request_body_from_bytes (bad_body, "application/octet-stream", other);
  g_clear_pointer (&body, g_bytes_unref);
  body = send (bad_body, 403);

  g_assert_cmpuint (assay_test_server_count_refused (proxy), ==, 3);
  g_assert_cmpuint (assay_test_server_count_requests (proxy, NULL, NULL), ==, 2);

  assay_test_server_reset_counts (proxy);
  g_assert_cmpuint (assay_test_server_count_refused (proxy), ==, 0);
  g_assert_cmpuint (assay_test_server_count_requests (proxy, NULL, NULL), ==, 0);
}

static void
test_proxy_dynalite (void)
{
  g_autoptr(AssayTestServer) db = assay_test_server_start_dynalite ();
  g_autoptr(AssayTestServer) proxy = assay_test_server_start_proxy (db, "dynamodb");
  g_autofree char *uri = g_strdup_printf ("%s/", assay_test_server_get_url (proxy));
  g_autoptr(SoupMessage) list = soup_message_new ("POST", uri);
  g_autoptr(SoupMessage) bad = soup_message_new ("POST", uri);
  g_autoptr(GBytes) request = g_bytes_new_static ("{}", 2);
  g_autoptr(GBytes) body = NULL;

  soup_message_headers_replace (soup_message_get_request_headers (list), "X-Amz-Target",
                                "DynamoDB_20120810.ListTables");
  soup_message_headers_replace (soup_message_get_request_headers (list), "Content-Type",
                                "application/x-amz-json-1.0");
  sign (list, "dynamodb", "{}", NULL);
  soup_message_set_request_body_from_bytes (list, "application/x-amz-json-1.0", request);
  body = send (list, 200);
  g_assert_true (bytes_contain (body, "\"TableNames\":[]"));

  soup_message_headers_replace (soup_message_get_request_headers (bad), "X-Amz-Target",
                                "DynamoDB_20120810.ListTables");
  soup_message_headers_replace (soup_message_get_request_headers (bad), "Content-Type",
                                "application/x-amz-json-1.0");
  sign (bad, "dynamodb", "{}", "not-the-secret");
  soup_message_set_request_body_from_bytes (bad, "application/x-amz-json-1.0", request);
  g_clear_pointer (&body, g_bytes_unref);
  body = send (bad, 403);
  g_assert_true (bytes_contain (body, "InvalidSignatureException"));

  g_assert_cmpuint (assay_test_server_count_requests (proxy, "POST", "/"), ==, 1);
  g_assert_cmpuint (assay_test_server_count_refused (proxy), ==, 1);
}

static void
test_stop (void)
{
  AssayTestServer *s3 = assay_test_server_start_s3rver ();
  guint16 port = assay_test_server_get_port (s3);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  assay_test_server_stop (s3);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/integration/harness/s3rver", test_s3rver);
  g_test_add_func ("/integration/harness/proxy-s3", test_proxy_s3);
  g_test_add_func ("/integration/harness/proxy-dynalite", test_proxy_dynalite);
  g_test_add_func ("/integration/harness/stop", test_stop);

  return g_test_run ();
}
