/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-sigv4.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define SUITE_CASES 38

static char *
suite_dir (void)
{
  const char *shared = g_getenv ("ASSAY_SHARED_DIR");

  if (shared == NULL)
    g_error ("ASSAY_SHARED_DIR is not set: run the tests with “meson test”");
  return g_build_filename (shared, "vectors", "sigv4", NULL);
}

static char *
read_case_file (const char *dir,
                const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

/* request.txt: the request line, header lines (an indented line continues the previous
 * header's value), an empty line and the body. */
typedef struct
{
  char *request_line;
  char *method;
  char *path;
  char *query;
  GPtrArray *raw_lines; /* the header lines as written */
  GArray *headers;      /* AssaySigv4Header pointing into names/values */
  GPtrArray *names;
  GPtrArray *values;
  char *body;
} ParsedRequest;

static void
parsed_request_free (ParsedRequest *req)
{
  g_free (req->request_line);
  g_free (req->method);
  g_free (req->path);
  g_free (req->query);
  g_ptr_array_unref (req->raw_lines);
  g_array_unref (req->headers);
  g_ptr_array_unref (req->names);
  g_ptr_array_unref (req->values);
  g_free (req->body);
  g_free (req);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ParsedRequest, parsed_request_free)

static ParsedRequest *
parse_request (const char *text)
{
  ParsedRequest *req = g_new0 (ParsedRequest, 1);
  const char *p = text;
  const char *eol = strchr (p, '\n');
  const char *first_space;
  const char *last_space;
  g_autofree char *target = NULL;
  char *question;

  g_assert_nonnull (eol);
  req->request_line = g_strndup (p, eol - p);
  first_space = strchr (req->request_line, ' ');
  last_space = strrchr (req->request_line, ' ');
  g_assert_true (first_space != NULL && last_space > first_space);
  req->method = g_strndup (req->request_line, first_space - req->request_line);
  target = g_strndup (first_space + 1, last_space - first_space - 1);
  question = strchr (target, '?');
  if (question != NULL)
    {
      req->query = g_strdup (question + 1);
      *question = '\0';
    }
  req->path = g_strdup (target);

  req->raw_lines = g_ptr_array_new_with_free_func (g_free);
  req->names = g_ptr_array_new_with_free_func (g_free);
  req->values = g_ptr_array_new_with_free_func (g_free);
  p = eol + 1;
  while (*p != '\0')
    {
      g_autofree char *line = NULL;

      eol = strchr (p, '\n');
      line = eol ? g_strndup (p, eol - p) : g_strdup (p);
      p = eol ? eol + 1 : p + strlen (p);
      if (line[0] == '\0')
        break;
      if (line[0] == ' ' || line[0] == '\t')
        {
          char *previous;

          g_assert_cmpuint (req->values->len, >, 0);
          previous = g_ptr_array_steal_index (req->values, req->values->len - 1);
          g_ptr_array_add (req->values, g_strconcat (previous, "\n", line, NULL));
          g_free (previous);
        }
      else
        {
          const char *colon = strchr (line, ':');

          g_assert_nonnull (colon);
          g_ptr_array_add (req->names, g_strndup (line, colon - line));
          g_ptr_array_add (req->values, g_strdup (colon + 1));
        }
      g_ptr_array_add (req->raw_lines, g_steal_pointer (&line));
    }
  req->body = g_strdup (p);

  req->headers = g_array_new (FALSE, FALSE, sizeof (AssaySigv4Header));
  for (guint i = 0; i < req->names->len; i++)
    {
      AssaySigv4Header header = { req->names->pdata[i], req->values->pdata[i] };

      g_array_append_val (req->headers, header);
    }
  return req;
}

static void
check_case (const char *dir)
{
  g_autofree char *context_text = read_case_file (dir, "context.json");
  g_autofree char *request_text = read_case_file (dir, "request.txt");
  g_autofree char *expected_creq = read_case_file (dir, "header-canonical-request.txt");
  g_autofree char *expected_sts = read_case_file (dir, "header-string-to-sign.txt");
  g_autofree char *expected_sig = read_case_file (dir, "header-signature.txt");
  g_autofree char *expected_signed = read_case_file (dir, "header-signed-request.txt");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ParsedRequest) parsed = NULL;
  g_autoptr(AssayCredentials) creds = NULL;
  g_autoptr(GDateTime) time = NULL;
  g_autoptr(AssaySigv4Result) result = NULL;
  g_autoptr(GString) signed_request = NULL;
  g_autofree char *payload_hash = NULL;
  JsonObject *context;
  JsonObject *cred_obj;
  AssaySigv4Request request = { 0 };

  json_parser_load_from_data (parser, context_text, -1, &error);
  g_assert_no_error (error);
  context = json_node_get_object (json_parser_get_root (parser));
  cred_obj = json_object_get_object_member (context, "credentials");
  creds = assay_credentials_new (json_object_get_string_member (cred_obj, "access_key_id"),
                                 json_object_get_string_member (cred_obj, "secret_access_key"),
                                 json_object_get_string_member_with_default (cred_obj, "token",
                                                                             NULL),
                                 "test suite");
  time = g_date_time_new_from_iso8601 (json_object_get_string_member (context, "timestamp"),
                                       NULL);
  g_assert_nonnull (time);

  parsed = parse_request (request_text);
  payload_hash = assay_sigv4_sha256_hex ((const guint8 *) parsed->body, strlen (parsed->body));

  request.method = parsed->method;
  request.path = parsed->path;
  request.query = parsed->query;
  request.headers = (const AssaySigv4Header *) parsed->headers->data;
  request.n_headers = parsed->headers->len;
  request.payload_hash = payload_hash;
  request.credentials = creds;
  request.region = json_object_get_string_member (context, "region");
  request.service = json_object_get_string_member (context, "service");
  request.time = time;
  request.normalize_path = json_object_get_boolean_member (context, "normalize");
  request.double_encode_path = TRUE;
  request.add_content_sha256 = json_object_get_boolean_member (context, "sign_body");
  request.omit_session_token =
    json_object_get_boolean_member_with_default (context, "omit_session_token", FALSE);

  result = assay_sigv4_sign (&request, &error);
  g_assert_no_error (error);
  g_assert_nonnull (result);

  g_assert_cmpstr (result->canonical_request, ==, expected_creq);
  g_assert_cmpstr (result->string_to_sign, ==, expected_sts);
  g_assert_cmpstr (result->signature, ==, expected_sig);

  signed_request = g_string_new (parsed->request_line);
  g_string_append_c (signed_request, '\n');
  for (guint i = 0; i < parsed->raw_lines->len; i++)
    g_string_append_printf (signed_request, "%s\n", (char *) parsed->raw_lines->pdata[i]);
  for (guint i = 0; result->added_headers[i] != NULL; i += 2)
    g_string_append_printf (signed_request, "%s:%s\n", result->added_headers[i],
                            result->added_headers[i + 1]);
  g_string_append_c (signed_request, '\n');
  g_string_append (signed_request, parsed->body);
  g_assert_cmpstr (signed_request->str, ==, expected_signed);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
test_suite (void)
{
  g_autofree char *root = suite_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (root, 0, &error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (root, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (root, names->pdata[i], NULL);

      g_test_message ("case %s", (char *) names->pdata[i]);
      check_case (path);
    }
  g_assert_cmpuint (names->len, ==, SUITE_CASES);
}

static void
test_uri_encode (void)
{
  g_autofree char *a = assay_sigv4_uri_encode ("a b/c~d+e=f%", -1, FALSE);
  g_autofree char *b = assay_sigv4_uri_encode ("a b/c", -1, TRUE);
  g_autofree char *c = assay_sigv4_uri_encode ("\xe1\x88\xb4", -1, FALSE);

  g_assert_cmpstr (a, ==, "a%20b%2Fc~d%2Be%3Df%25");
  g_assert_cmpstr (b, ==, "a%20b/c");
  g_assert_cmpstr (c, ==, "%E1%88%B4");
}

static void
test_canonical_path (void)
{
  static const struct
  {
    const char *path;
    gboolean normalize;
    gboolean double_encode;
    const char *expected;
  } cases[] = {
    /* Other services: the wire path encoded once more. */
    { "/a%20b/c", TRUE, TRUE, "/a%2520b/c" },
    { "/a/./b/../c//", TRUE, TRUE, "/a/c/" },
    { "", TRUE, TRUE, "/" },
    { "/a/b/..", TRUE, TRUE, "/a/" },
    /* S3: the wire path as it is, neither normalised nor encoded twice. */
    { "/bucket/a%20b", FALSE, FALSE, "/bucket/a%20b" },
    { "/bucket//a/../b", FALSE, FALSE, "/bucket//a/../b" },
    { "/bucket/a+b!", FALSE, FALSE, "/bucket/a%2Bb%21" },
    { "/bucket/%E1%88%b4", FALSE, FALSE, "/bucket/%E1%88%B4" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = assay_sigv4_canonical_path (cases[i].path, cases[i].normalize,
                                                         cases[i].double_encode);

      g_assert_cmpstr (got, ==, cases[i].expected);
    }
}

static void
test_canonical_query (void)
{
  static const struct
  {
    const char *query;
    const char *expected;
  } cases[] = {
    { NULL, "" },
    { "", "" },
    { "list-type=2&prefix=a%2Fb&delimiter=%2F", "delimiter=%2F&list-type=2&prefix=a%2Fb" },
    { "uploads", "uploads=" },
    { "b=2&a=2&a=1", "a=1&a=2&b=2" },
    { "k=a+b&k2=a b", "k=a%2Bb&k2=a%20b" },
    { "x=%7e%41", "x=~A" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = assay_sigv4_canonical_query (cases[i].query);

      g_assert_cmpstr (got, ==, cases[i].expected);
    }
}

static void
test_no_host (void)
{
  g_autoptr(AssayCredentials) creds = assay_credentials_new ("AKID", "SECRET", NULL, NULL);
  g_autoptr(GDateTime) time = g_date_time_new_utc (2015, 8, 30, 12, 36, 0);
  g_autoptr(GError) error = NULL;
  AssaySigv4Header headers[] = { { "Content-Type", "text/plain" } };
  AssaySigv4Request request = {
    .method = "GET",
    .path = "/",
    .headers = headers,
    .n_headers = G_N_ELEMENTS (headers),
    .payload_hash = ASSAY_SIGV4_EMPTY_PAYLOAD_HASH,
    .credentials = creds,
    .region = "us-east-1",
    .service = "s3",
    .time = time,
  };
  AssaySigv4Result *result = assay_sigv4_sign (&request, &error);

  g_assert_null (result);
  g_assert_error (error, ASSAY_SIGV4_ERROR, ASSAY_SIGV4_ERROR_INVALID);
}

/* assay_sigv4_sign_message() must sign what libsoup sends: the same signature as the
 * low-level signer over the message's wire form. */
static void
test_sign_message (void)
{
  g_autoptr(AssayCredentials) creds =
    assay_credentials_new ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN",
                           NULL);
  g_autoptr(GDateTime) time = g_date_time_new_utc (2015, 8, 30, 12, 36, 0);
  g_autoptr(GDateTime) later = g_date_time_new_utc (2015, 8, 30, 13, 36, 0);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssaySigv4Result) expected = NULL;
  SoupMessageHeaders *hdrs;
  const char *hash = "UNSIGNED-PAYLOAD";
  AssaySigv4Header headers[] = {
    { "Content-Type", "application/octet-stream" },
    { "Host", "127.0.0.1:9000" },
  };
  AssaySigv4Request request = {
    .method = "PUT",
    .path = "/bucket/a%20b",
    .query = "partNumber=1&uploadId=x",
    .headers = headers,
    .n_headers = G_N_ELEMENTS (headers),
    .payload_hash = hash,
    .credentials = creds,
    .region = "eu-west-1",
    .service = "s3",
    .time = later,
    .add_content_sha256 = TRUE,
  };

  msg = soup_message_new ("PUT", "http://127.0.0.1:9000/bucket/a%20b?partNumber=1&uploadId=x");
  hdrs = soup_message_get_request_headers (msg);
  soup_message_headers_append (hdrs, "Content-Type", "application/octet-stream");

  /* Signed twice: the second signature replaces the first, as for a retry. */
  g_assert_true (assay_sigv4_sign_message (msg, creds, "eu-west-1", "s3", hash, time, &error));
  g_assert_no_error (error);
  g_assert_true (assay_sigv4_sign_message (msg, creds, "eu-west-1", "s3", hash, later, &error));
  g_assert_no_error (error);

  expected = assay_sigv4_sign (&request, &error);
  g_assert_no_error (error);

  g_assert_cmpstr (soup_message_headers_get_one (hdrs, "Host"), ==, "127.0.0.1:9000");
  g_assert_cmpstr (soup_message_headers_get_one (hdrs, "X-Amz-Date"), ==, "20150830T133600Z");
  g_assert_cmpstr (soup_message_headers_get_one (hdrs, "X-Amz-Content-Sha256"), ==, hash);
  g_assert_cmpstr (soup_message_headers_get_one (hdrs, "X-Amz-Security-Token"), ==, "TOKEN");
  g_assert_cmpstr (soup_message_headers_get_list (hdrs, "Authorization"), ==,
                   expected->authorization);
  g_assert_true (g_str_has_prefix (expected->authorization,
                                   "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/"
                                   "s3/aws4_request, SignedHeaders=content-type;host;"
                                   "x-amz-content-sha256;x-amz-date;x-amz-security-token, "));
  g_assert_true (strstr (expected->canonical_request, "\n/bucket/a%20b\n") != NULL);

  /* Another service: the path double-encoded, no content hash header. */
  g_clear_object (&msg);
  msg = soup_message_new ("POST", "https://dynamodb.eu-west-1.amazonaws.com/");
  g_assert_true (assay_sigv4_sign_message (msg, creds, "eu-west-1", "dynamodb", NULL, time,
                                           &error));
  hdrs = soup_message_get_request_headers (msg);
  g_assert_cmpstr (soup_message_headers_get_one (hdrs, "Host"), ==,
                   "dynamodb.eu-west-1.amazonaws.com");
  g_assert_null (soup_message_headers_get_one (hdrs, "X-Amz-Content-Sha256"));
  g_assert_nonnull (soup_message_headers_get_one (hdrs, "Authorization"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/sigv4/suite", test_suite);
  g_test_add_func ("/common/sigv4/uri-encode", test_uri_encode);
  g_test_add_func ("/common/sigv4/canonical-path", test_canonical_path);
  g_test_add_func ("/common/sigv4/canonical-query", test_canonical_query);
  g_test_add_func ("/common/sigv4/no-host", test_no_host);
  g_test_add_func ("/common/sigv4/sign-message", test_sign_message);

  return g_test_run ();
}
