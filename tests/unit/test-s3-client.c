/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-s3-client.h"

#include <string.h>

/* The S3 client without a server: key encoding, addressing, the XML readers and the
 * mapping of S3's error codes. Requests against servers are in tests/integration/test-s3.c. */

static AssayAwsTransport *
make_transport (const char *region)
{
  g_autoptr(AssayCredentials) credentials =
    assay_credentials_new ("AKIDEXAMPLE", "secret", NULL, "the unit test's credentials");

  return assay_aws_transport_new (credentials, region, NULL);
}

static GBytes *
bytes (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

static void
test_encode_key (void)
{
  static const struct
  {
    const char *key;
    const char *encoded;
  } cases[] = {
    { "file-1a026c06-e99c-4f2f-842c-cb01c51849af/000000",
      "file-1a026c06-e99c-4f2f-842c-cb01c51849af/000000" },
    { "results/result-x", "results/result-x" },
    { "a b+c", "a%20b%2Bc" },
    { "dir//x~y_z.-", "dir//x~y_z.-" },
    { "ü/%/?#&=", "%C3%BC/%25/%3F%23%26%3D" },
    { "*'()!$,;:@", "%2A%27%28%29%21%24%2C%3B%3A%40" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *encoded = assay_s3_encode_key (cases[i].key);

      g_assert_cmpstr (encoded, ==, cases[i].encoded);
    }
}

static char *
uri_string (AssayS3Client *client,
            const char    *key,
            const char    *query)
{
  g_autoptr(GUri) uri = assay_s3_client_dup_uri (client, key, query);

  g_assert_nonnull (uri);
  return g_uri_to_string (uri);
}

static void
test_addressing (void)
{
  g_autoptr(AssayAwsTransport) transport = make_transport ("eu-west-1");
  g_autoptr(AssayAwsTransport) china = make_transport ("cn-north-1");
  g_autoptr(AssayS3Client) path = NULL;
  g_autoptr(AssayS3Client) aws = NULL;
  g_autoptr(AssayS3Client) dotted = NULL;
  g_autoptr(AssayS3Client) vhost = NULL;
  g_autoptr(AssayS3Client) prefixed = NULL;
  g_autoptr(AssayS3Client) cn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *s = NULL;

  path = assay_s3_client_new (transport, "assay-test", "http://127.0.0.1:9000",
                              ASSAY_S3_ADDRESSING_AUTO, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_s3_client_get_bucket (path), ==, "assay-test");
  g_assert_cmpstr (assay_s3_client_get_endpoint (path), ==, "http://127.0.0.1:9000/assay-test");
  g_assert_true (assay_s3_client_get_transport (path) == transport);
  s = uri_string (path, "file-x/000001", NULL);
  g_assert_cmpstr (s, ==, "http://127.0.0.1:9000/assay-test/file-x/000001");
  g_clear_pointer (&s, g_free);
  s = uri_string (path, "a b", NULL);
  g_assert_cmpstr (s, ==, "http://127.0.0.1:9000/assay-test/a%20b");
  g_clear_pointer (&s, g_free);
  s = uri_string (path, NULL, "list-type=2&prefix=a%2Fb");
  g_assert_cmpstr (s, ==, "http://127.0.0.1:9000/assay-test?list-type=2&prefix=a%2Fb");
  g_clear_pointer (&s, g_free);

  aws = assay_s3_client_new (transport, "assay-test", NULL, ASSAY_S3_ADDRESSING_AUTO, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_s3_client_get_endpoint (aws), ==,
                   "https://assay-test.s3.eu-west-1.amazonaws.com");
  s = uri_string (aws, "file-x/000001", NULL);
  g_assert_cmpstr (s, ==, "https://assay-test.s3.eu-west-1.amazonaws.com/file-x/000001");
  g_clear_pointer (&s, g_free);
  s = uri_string (aws, NULL, NULL);
  g_assert_cmpstr (s, ==, "https://assay-test.s3.eu-west-1.amazonaws.com/");
  g_clear_pointer (&s, g_free);

  /* TLS certificates do not cover dotted bucket names as host names: path-style. */
  dotted = assay_s3_client_new (transport, "assay.example.org", NULL, ASSAY_S3_ADDRESSING_AUTO,
                                &error);
  g_assert_no_error (error);
  s = uri_string (dotted, "k", NULL);
  g_assert_cmpstr (s, ==, "https://s3.eu-west-1.amazonaws.com/assay.example.org/k");
  g_clear_pointer (&s, g_free);

  vhost = assay_s3_client_new (transport, "assay-test", "http://localhost:9000/",
                               ASSAY_S3_ADDRESSING_VIRTUAL_HOST, &error);
  g_assert_no_error (error);
  s = uri_string (vhost, "k", NULL);
  g_assert_cmpstr (s, ==, "http://assay-test.localhost:9000/k");
  g_clear_pointer (&s, g_free);

  prefixed = assay_s3_client_new (transport, "assay-test", "https://storage.example.org/s3/",
                                  ASSAY_S3_ADDRESSING_PATH, &error);
  g_assert_no_error (error);
  s = uri_string (prefixed, "k", NULL);
  g_assert_cmpstr (s, ==, "https://storage.example.org/s3/assay-test/k");
  g_clear_pointer (&s, g_free);

  cn = assay_s3_client_new (china, "assay-test", NULL, ASSAY_S3_ADDRESSING_AUTO, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_s3_client_get_endpoint (cn), ==,
                   "https://assay-test.s3.cn-north-1.amazonaws.com.cn");

  g_assert_finalize_object (g_steal_pointer (&path));
  g_assert_finalize_object (g_steal_pointer (&aws));
  g_assert_finalize_object (g_steal_pointer (&dotted));
  g_assert_finalize_object (g_steal_pointer (&vhost));
  g_assert_finalize_object (g_steal_pointer (&prefixed));
  g_assert_finalize_object (g_steal_pointer (&cn));
}

static void
test_bad_names (void)
{
  g_autoptr(AssayAwsTransport) transport = make_transport ("eu-west-1");
  static const char * const buckets[] = {
    "ab", "Assay-Test", "assay_test", "-assay", "assay-", "as..say", "192.168.1.1",
    "a-bucket-name-that-is-much-too-long-for-s3-which-allows-63-chars",
  };
  static const char * const endpoints[] = {
    "ftp://127.0.0.1", "127.0.0.1:9000", "http://", "http://h/?x=1", "http://user@h/",
  };

  for (guint i = 0; i < G_N_ELEMENTS (buckets); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayS3Client) client =
        assay_s3_client_new (transport, buckets[i], "http://127.0.0.1:9000",
                             ASSAY_S3_ADDRESSING_AUTO, &error);

      g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID);
      g_assert_null (client);
      g_assert_nonnull (strstr (error->message, buckets[i]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (endpoints); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayS3Client) client =
        assay_s3_client_new (transport, "assay-test", endpoints[i], ASSAY_S3_ADDRESSING_AUTO,
                             &error);

      g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID);
      g_assert_null (client);
    }
}

static const char list_page[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
  "<Name>assay-test</Name><Prefix>file-x/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
  "<IsTruncated>true</IsTruncated>"
  "<Contents><Key>file-x/000000</Key><LastModified>2025-09-25T11:21:51.690Z</LastModified>"
  "<ETag>&quot;9E107D9D372BB6826BD81D3542A419D6&quot;</ETag><Size>8388608</Size>"
  "<Owner><ID>x</ID></Owner><StorageClass>STANDARD</StorageClass></Contents>"
  "<Contents><Key>file-x/a&amp;b &lt;c&gt;</Key><Size>0</Size>"
  "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm></Contents>"
  "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
  "</ListBucketResult>";

static void
test_parse_list (void)
{
  g_autoptr(GBytes) body = bytes (list_page);
  g_autoptr(GBytes) last = bytes ("<ListBucketResult><IsTruncated>false</IsTruncated>"
                                  "<KeyCount>0</KeyCount></ListBucketResult>");
  g_autoptr(AssayObjectList) list = NULL;
  g_autoptr(AssayObjectList) empty = NULL;
  g_autoptr(GError) error = NULL;
  AssayObjectInfo *info;
  g_autoptr(GDateTime) expected = g_date_time_new_utc (2025, 9, 25, 11, 21, 51.690);

  list = assay_s3_parse_list_objects (body, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->objects->len, ==, 2);
  g_assert_cmpstr (list->next_token, ==, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  info = g_ptr_array_index (list->objects, 0);
  g_assert_cmpstr (info->key, ==, "file-x/000000");
  g_assert_cmpuint (info->size, ==, 8388608);
  g_assert_cmpstr (info->etag, ==, "9e107d9d372bb6826bd81d3542a419d6");
  g_assert_nonnull (info->modified);
  g_assert_true (g_date_time_equal (info->modified, expected));
  info = g_ptr_array_index (list->objects, 1);
  g_assert_cmpstr (info->key, ==, "file-x/a&b <c>");
  g_assert_cmpuint (info->size, ==, 0);
  g_assert_null (info->etag);
  g_assert_null (info->modified);

  empty = assay_s3_parse_list_objects (last, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->objects->len, ==, 0);
  g_assert_null (empty->next_token);
}

static void
test_parse_list_malformed (void)
{
  static const char * const documents[] = {
    "",
    "   ",
    "this is not XML",
    "<html><body>502 Bad Gateway</body></html>",
    "<ListBucketResult><IsTruncated>false</IsTruncated>",                   /* truncated */
    "<ListBucketResult><IsTruncated>fal",
    "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult><Extra/>",
    "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>trailing",
    "<ListBucketResult></ListBucketResult>",                                 /* no IsTruncated */
    "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
    "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",  /* no token */
    "<ListBucketResult><IsTruncated>false</IsTruncated><IsTruncated>true</IsTruncated>"
    "</ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents>"
    "</ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents>"
    "</ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Key>j</Key>"
    "<Size>1</Size></Contents></ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>-1</Size>"
    "</Contents></ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1e3</Size>"
    "</Contents></ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key>"
    "<Size>99999999999999999999999</Size></Contents></ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size>"
    "<LastModified>yesterday</LastModified></Contents></ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key></Key><Size>1</Size>"
    "</Contents></ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&bogus;</Key><Size>1</Size>"
    "</Contents></ListBucketResult>",
    "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>\xff\xfe</Key><Size>1</Size>"
    "</Contents></ListBucketResult>",
    "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
    "<a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q><r></r></q></p></o></n></m></l></k></j>"
    "</i></h></g></f></e></d></c></b></a>",
  };

  for (guint i = 0; i < G_N_ELEMENTS (documents); i++)
    {
      g_autoptr(GBytes) body = bytes (documents[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayObjectList) list = NULL;

      list = assay_s3_parse_list_objects (body, &error);
      g_test_message ("document %u: %s", i, error != NULL ? error->message : "(accepted)");
      g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_null (list);
    }

  /* Every prefix of a good page is refused, never read past. */
  for (gsize len = 0; len < strlen (list_page); len++)
    {
      g_autoptr(GBytes) body = g_bytes_new (list_page, len);
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayObjectList) list = assay_s3_parse_list_objects (body, &error);

      g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED);
      g_assert_null (list);
    }
}

static void
test_parse_error (void)
{
  g_autoptr(GBytes) body =
    bytes ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed"
           "</Code><Message>The authorization header is malformed; the region 'us-east-1' is "
           "wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region>"
           "<RequestId>X</RequestId></Error>");
  g_autoptr(GBytes) no_code = bytes ("<Error><Message>m</Message></Error>");
  g_autoptr(GBytes) other = bytes ("<CopyObjectResult><ETag>x</ETag></CopyObjectResult>");
  g_autoptr(GBytes) truncated = bytes ("<Error><Code>NoSuchKey</Code>");
  g_autofree char *code = NULL;
  g_autofree char *message = NULL;
  g_autofree char *region = NULL;

  g_assert_true (assay_s3_parse_error (body, &code, &message, &region));
  g_assert_cmpstr (code, ==, "AuthorizationHeaderMalformed");
  g_assert_true (g_str_has_prefix (message, "The authorization header is malformed"));
  g_assert_cmpstr (region, ==, "eu-west-1");

  g_assert_false (assay_s3_parse_error (no_code, NULL, NULL, NULL));
  g_assert_false (assay_s3_parse_error (other, NULL, NULL, NULL));
  g_assert_false (assay_s3_parse_error (truncated, NULL, NULL, NULL));
  g_assert_false (assay_s3_parse_error (NULL, NULL, NULL, NULL));
}

static GBytes *
error_body (const char *code)
{
  g_autofree char *xml = g_strdup_printf ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                          "<Error><Code>%s</Code><Message>the message of %s"
                                          "</Message><RequestId>R</RequestId></Error>",
                                          code, code);

  return bytes (xml);
}

static void
test_error_mapping (void)
{
  static const struct
  {
    guint status;
    const char *code; /* NULL: no body */
    const char *key;
    AssayS3Error error;
    AssayStoreError store;
  } cases[] = {
    { 404, "NoSuchKey", "k", ASSAY_S3_ERROR_NO_SUCH_KEY, ASSAY_STORE_ERROR_NOT_FOUND },
    { 404, "NoSuchBucket", "k", ASSAY_S3_ERROR_NO_SUCH_BUCKET, ASSAY_STORE_ERROR_NOT_FOUND },
    { 404, NULL, "k", ASSAY_S3_ERROR_NO_SUCH_KEY, ASSAY_STORE_ERROR_NOT_FOUND },
    { 404, NULL, NULL, ASSAY_S3_ERROR_NO_SUCH_BUCKET, ASSAY_STORE_ERROR_NOT_FOUND },
    { 403, "AccessDenied", "k", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_STORE_ERROR_ACCESS_DENIED },
    { 403, "InvalidAccessKeyId", "k", ASSAY_S3_ERROR_ACCESS_DENIED,
      ASSAY_STORE_ERROR_ACCESS_DENIED },
    { 403, "SignatureDoesNotMatch", "k", ASSAY_S3_ERROR_ACCESS_DENIED,
      ASSAY_STORE_ERROR_ACCESS_DENIED },
    { 400, "ExpiredToken", "k", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_STORE_ERROR_ACCESS_DENIED },
    { 403, NULL, "k", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_STORE_ERROR_ACCESS_DENIED },
    { 503, "SlowDown", "k", ASSAY_S3_ERROR_THROTTLED, ASSAY_STORE_ERROR_THROTTLED },
    { 400, "Throttling", "k", ASSAY_S3_ERROR_THROTTLED, ASSAY_STORE_ERROR_THROTTLED },
    { 429, NULL, "k", ASSAY_S3_ERROR_THROTTLED, ASSAY_STORE_ERROR_THROTTLED },
    { 403, "RequestTimeTooSkewed", "k", ASSAY_S3_ERROR_CLOCK_SKEW,
      ASSAY_STORE_ERROR_ACCESS_DENIED },
    { 500, "InternalError", "k", ASSAY_S3_ERROR_INTERNAL, ASSAY_STORE_ERROR_UNAVAILABLE },
    { 502, NULL, "k", ASSAY_S3_ERROR_INTERNAL, ASSAY_STORE_ERROR_UNAVAILABLE },
    { 400, "BadDigest", "k", ASSAY_S3_ERROR_BAD_DIGEST, ASSAY_STORE_ERROR_CORRUPT },
    { 400, "InvalidDigest", "k", ASSAY_S3_ERROR_BAD_DIGEST, ASSAY_STORE_ERROR_CORRUPT },
    { 400, "InvalidArgument", "k", ASSAY_S3_ERROR_INVALID, ASSAY_STORE_ERROR_INVALID },
    { 409, "SomethingNew", "k", ASSAY_S3_ERROR_FAILED, ASSAY_STORE_ERROR_FAILED },
    { 400, "SomethingNew", "k", ASSAY_S3_ERROR_INVALID, ASSAY_STORE_ERROR_INVALID },
    { 400, NULL, "k", ASSAY_S3_ERROR_INVALID, ASSAY_STORE_ERROR_INVALID },
    { 301, "PermanentRedirect", NULL, ASSAY_S3_ERROR_WRONG_REGION, ASSAY_STORE_ERROR_INVALID },
    { 409, "BucketAlreadyExists", NULL, ASSAY_S3_ERROR_BUCKET_EXISTS, ASSAY_STORE_ERROR_FAILED },
    { 409, "BucketAlreadyOwnedByYou", NULL, ASSAY_S3_ERROR_BUCKET_ALREADY_OWNED,
      ASSAY_STORE_ERROR_FAILED },
    { 412, NULL, "k", ASSAY_S3_ERROR_PRECONDITION_FAILED, ASSAY_STORE_ERROR_CONDITION_FAILED },
    { 501, "NotImplemented", "k", ASSAY_S3_ERROR_UNSUPPORTED, ASSAY_STORE_ERROR_FAILED },
    { 200, "InternalError", "k", ASSAY_S3_ERROR_INTERNAL, ASSAY_STORE_ERROR_UNAVAILABLE },
    { 200, "SomethingNew", "k", ASSAY_S3_ERROR_INTERNAL, ASSAY_STORE_ERROR_UNAVAILABLE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) body = cases[i].code != NULL ? error_body (cases[i].code) : NULL;
      g_autoptr(GError) error = NULL;

      error = assay_s3_error_new_from_answer (cases[i].status, NULL, body, "profile “dev”",
                                              "assay-test", cases[i].key);
      g_assert_nonnull (error);
      g_test_message ("%u %s → %s", cases[i].status, cases[i].code, error->message);
      g_assert_error (error, ASSAY_S3_ERROR, (gint) cases[i].error);
      g_assert_cmpint (assay_s3_error_to_store_error (error), ==, cases[i].store);
      if (cases[i].code != NULL)
        g_assert_nonnull (strstr (error->message, cases[i].code));
      if (cases[i].error == ASSAY_S3_ERROR_ACCESS_DENIED)
        g_assert_nonnull (strstr (error->message, "profile “dev”"));
      if (cases[i].key != NULL && cases[i].error != ASSAY_S3_ERROR_NO_SUCH_BUCKET)
        g_assert_nonnull (strstr (error->message, "s3://assay-test/k"));
    }
}

static void
test_error_details (void)
{
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) html = bytes ("<html>gateway</html>");
  g_autoptr(GError) region = NULL;
  g_autoptr(GError) success = NULL;
  g_autoptr(GError) gateway = NULL;
  g_autoptr(GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");
  g_autoptr(GError) transport = g_error_new_literal (ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_UNREACHABLE,
                                                     "x");

  /* HEAD on a bucket in another region: no body, the region in a header. */
  soup_message_headers_replace (headers, "x-amz-bucket-region", "ap-south-1");
  region = assay_s3_error_new_from_answer (301, headers, empty, NULL, "assay-test", NULL);
  g_assert_error (region, ASSAY_S3_ERROR, ASSAY_S3_ERROR_WRONG_REGION);
  g_assert_nonnull (strstr (region->message, "ap-south-1"));

  success = assay_s3_error_new_from_answer (200, headers, empty, NULL, "assay-test", "k");
  g_assert_no_error (success);
  success = assay_s3_error_new_from_answer (204, NULL, NULL, NULL, "assay-test", "k");
  g_assert_no_error (success);

  gateway = assay_s3_error_new_from_answer (502, NULL, html, NULL, "assay-test", "k");
  g_assert_error (gateway, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INTERNAL);
  g_assert_nonnull (strstr (gateway->message, "502"));

  g_assert_cmpint (assay_s3_error_to_store_error (other), ==, ASSAY_STORE_ERROR_FAILED);
  g_assert_cmpint (assay_s3_error_to_store_error (transport), ==, ASSAY_STORE_ERROR_UNAVAILABLE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/s3/encode-key", test_encode_key);
  g_test_add_func ("/common/s3/addressing", test_addressing);
  g_test_add_func ("/common/s3/bad-names", test_bad_names);
  g_test_add_func ("/common/s3/parse-list", test_parse_list);
  g_test_add_func ("/common/s3/parse-list-malformed", test_parse_list_malformed);
  g_test_add_func ("/common/s3/parse-error", test_parse_error);
  g_test_add_func ("/common/s3/error-mapping", test_error_mapping);
  g_test_add_func ("/common/s3/error-details", test_error_details);

  return g_test_run ();
}
