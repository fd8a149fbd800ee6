/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-aws-transport.h"

#include "assay-sigv4.h"

#include <stdio.h>
#include <string.h>

/*
 * The transport against an in-process SoupServer on 127.0.0.1 that answers from a
 * script, one action per request, and checks every request's signature with the
 * low-level signer.
 */

typedef enum
{
  ACTION_ANSWER, /* status, optional Retry-After, body */
  ACTION_RESET,  /* close the connection without an answer */
  ACTION_STALL,  /* never answer */
  ACTION_STALL_BODY, /* send the headers and a part of the body, then nothing */
  ACTION_SKEW,   /* refuse unless X-Amz-Date is an hour ahead */
} ActionKind;

typedef struct
{
  ActionKind kind;
  guint status;
  const char *retry_after;
  const char *body;
  gsize body_len; /* 0: strlen (body) */
} Action;

typedef struct
{
  SoupServer *server;
  GUri *base;
  AssayCredentials *creds;
  AssayAwsTransport *transport;
  AssayAwsRetryPolicy policy;

  const Action *script;
  guint n_script;
  guint requests;            /* requests the server received */
  guint signed_ok;           /* of which carried a valid signature */
  GPtrArray *amz_dates;      /* X-Amz-Date of each request */
  GPtrArray *stalled;        /* SoupServerMessages kept paused */

  /* The outcome of run_send(). */
  GMainLoop *loop;
  GBytes *answer;
  SoupMessage *message;
  GError *error;
  GPtrArray *progress;       /* goffset values as pointers */
} Fixture;

/* ---------------------------------------------------------------------------------------- */
/* The server */

static GDateTime *
parse_amz_date (const char *value)
{
  int y, mo, d, h, mi, s;

  if (value == NULL || sscanf (value, "%4d%2d%2dT%2d%2d%2dZ", &y, &mo, &d, &h, &mi, &s) != 6)
    return NULL;
  return g_date_time_new_utc (y, mo, d, h, mi, s);
}

/* Recomputes the signature of @msg as received and compares it with its Authorization. */
static gboolean
signature_is_valid (Fixture           *f,
                    SoupServerMessage *msg)
{
  SoupMessageHeaders *hdrs = soup_server_message_get_request_headers (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  const char *auth = soup_message_headers_get_one (hdrs, "Authorization");
  const char *payload_hash = soup_message_headers_get_one (hdrs, "X-Amz-Content-Sha256");
  g_autoptr(GDateTime) time = parse_amz_date (soup_message_headers_get_one (hdrs, "X-Amz-Date"));
  g_autoptr(GArray) headers = g_array_new (FALSE, FALSE, sizeof (AssaySigv4Header));
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(AssaySigv4Result) result = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *body_hash = NULL;
  g_auto(GStrv) names = NULL;
  const char *signed_headers;
  const char *end;
  AssaySigv4Request request = { 0 };

  if (auth == NULL || time == NULL || payload_hash == NULL)
    return FALSE;
  if (soup_message_headers_get_one (hdrs, "X-Amz-Security-Token") == NULL)
    return FALSE;

  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  body_hash = assay_sigv4_sha256_hex (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  if (strcmp (body_hash, payload_hash) != 0)
    return FALSE;

  signed_headers = strstr (auth, "SignedHeaders=");
  if (signed_headers == NULL)
    return FALSE;
  signed_headers += strlen ("SignedHeaders=");
  end = strchr (signed_headers, ',');
  if (end == NULL)
    return FALSE;
  {
    g_autofree char *list = g_strndup (signed_headers, end - signed_headers);

    names = g_strsplit (list, ";", -1);
  }
  for (guint i = 0; names[i] != NULL; i++)
    {
      AssaySigv4Header header;
      const char *value;

      /* Added by the signer itself. */
      if (strcmp (names[i], "x-amz-date") == 0 || strcmp (names[i], "x-amz-security-token") == 0 ||
          strcmp (names[i], "x-amz-content-sha256") == 0)
        continue;
      value = soup_message_headers_get_list (hdrs, names[i]);
      if (value == NULL)
        return FALSE;
      header.name = names[i];
      header.value = value;
      g_array_append_val (headers, header);
    }

  request.method = soup_server_message_get_method (msg);
  request.path = g_uri_get_path (uri);
  request.query = g_uri_get_query (uri);
  request.headers = (const AssaySigv4Header *) headers->data;
  request.n_headers = headers->len;
  request.payload_hash = payload_hash;
  request.credentials = f->creds;
  request.region = "us-test-1";
  request.service = "s3";
  request.time = time;
  request.add_content_sha256 = TRUE;
  result = assay_sigv4_sign (&request, NULL);
  return result != NULL && strcmp (result->authorization, auth) == 0;
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  Fixture *f = user_data;
  SoupMessageHeaders *hdrs = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  const char *amz_date = soup_message_headers_get_one (hdrs, "X-Amz-Date");
  const Action *action;

  g_assert_cmpuint (f->requests, <, f->n_script);
  action = &f->script[f->requests++];
  g_ptr_array_add (f->amz_dates, g_strdup (amz_date));
  if (signature_is_valid (f, msg))
    f->signed_ok++;

  switch (action->kind)
    {
    case ACTION_ANSWER:
      soup_server_message_set_status (msg, action->status, NULL);
      if (action->retry_after != NULL)
        soup_message_headers_replace (response, "Retry-After", action->retry_after);
      if (action->body != NULL)
        soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_STATIC,
                                          action->body,
                                          action->body_len ? action->body_len
                                                           : strlen (action->body));
      break;

    case ACTION_RESET:
      {
        g_autoptr(GIOStream) stream = soup_server_message_steal_connection (msg);

        g_io_stream_close (stream, NULL, NULL);
      }
      break;

    case ACTION_STALL:
      g_ptr_array_add (f->stalled, g_object_ref (msg));
      soup_server_message_pause (msg);
      break;

    case ACTION_STALL_BODY:
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_message_headers_set_encoding (response, SOUP_ENCODING_CHUNKED);
      soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC,
                                action->body, strlen (action->body));
      g_ptr_array_add (f->stalled, g_object_ref (msg));
      break;

    case ACTION_SKEW:
      {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
        g_autoptr(GDateTime) server_now = g_date_time_add_hours (now, 1);
        g_autoptr(GDateTime) sent = parse_amz_date (amz_date);
        GTimeSpan skew = g_date_time_difference (server_now, sent);

        if (ABS (skew) > 5 * 60 * G_TIME_SPAN_SECOND)
          {
            g_autofree char *date = soup_date_time_to_string (server_now, SOUP_DATE_HTTP);
            static const char body[] =
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestTimeTooSkewed"
              "</Code><Message>The difference between the request time and the current time "
              "is too large.</Message></Error>";

            soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, NULL);
            soup_server_message_set_response (msg, "application/xml", SOUP_MEMORY_STATIC, body,
                                              strlen (body));
            soup_message_headers_replace (response, "Date", date);
          }
        else
          {
            soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
            soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "in time",
                                              7);
          }
      }
      break;

    default:
      g_assert_not_reached ();
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Fixture */

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, server_cb, f, NULL);
  soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  g_assert_nonnull (uris);
  f->base = g_uri_ref (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  f->creds = assay_credentials_new ("AKIDTEST", "secret/test+key", "session-token", "test");
  f->policy = (AssayAwsRetryPolicy) {
    .max_attempts = 4,
    .base_delay_ms = 10,
    .max_delay_ms = 2000,
    .connect_timeout_s = 2,
    .idle_timeout_s = 1,
  };
  f->amz_dates = g_ptr_array_new_with_free_func (g_free);
  f->stalled = g_ptr_array_new_with_free_func (g_object_unref);
  f->progress = g_ptr_array_new ();
  f->loop = g_main_loop_new (NULL, FALSE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->transport != NULL)
    g_assert_finalize_object (f->transport);
  soup_server_disconnect (f->server);
  g_ptr_array_unref (f->stalled);
  g_assert_finalize_object (f->server);
  g_uri_unref (f->base);
  assay_credentials_unref (f->creds);
  g_ptr_array_unref (f->amz_dates);
  g_ptr_array_unref (f->progress);
  g_clear_pointer (&f->answer, g_bytes_unref);
  g_clear_object (&f->message);
  g_clear_error (&f->error);
  g_main_loop_unref (f->loop);
  /* Let the sockets' last callbacks run. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
set_script (Fixture      *f,
            const Action *script,
            guint         n)
{
  f->script = script;
  f->n_script = n;
  f->requests = 0;
  f->signed_ok = 0;
  g_ptr_array_set_size (f->amz_dates, 0);
  g_ptr_array_set_size (f->progress, 0);
  g_clear_pointer (&f->answer, g_bytes_unref);
  g_clear_object (&f->message);
  g_clear_error (&f->error);
  if (f->transport == NULL)
    f->transport = assay_aws_transport_new (f->creds, "us-test-1", &f->policy);
}

static GUri *
uri_for (Fixture    *f,
         const char *path)
{
  return g_uri_parse_relative (f->base, path, SOUP_HTTP_URI_FLAGS, NULL);
}

static void
progress_cb (goffset  current,
             goffset  total,
             gpointer user_data)
{
  Fixture *f = user_data;

  if (total >= 0)
    g_assert_cmpint (current, <=, total);
  g_ptr_array_add (f->progress, GSIZE_TO_POINTER ((gsize) current));
}

static void
send_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fixture *f = user_data;

  f->answer = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &f->message,
                                               &f->error);
  g_main_loop_quit (f->loop);
}

static void
download_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Fixture *f = user_data;

  f->answer = assay_aws_transport_download_finish (ASSAY_AWS_TRANSPORT (object), result,
                                                   &f->message, &f->error);
  g_main_loop_quit (f->loop);
}

static void
run_send (Fixture              *f,
          const char           *method,
          const char           *path,
          GBytes               *body,
          AssayAwsClassifyFunc  classify,
          GCancellable         *cancellable)
{
  g_autoptr(GUri) uri = uri_for (f, path);
  g_autoptr(GHashTable) headers = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (headers, "Content-Type", "application/octet-stream");
  g_hash_table_insert (headers, "X-Amz-Meta-Origin", "assay  test");
  assay_aws_transport_send_async (f->transport, "s3", method, uri, headers, body, NULL, classify,
                                  progress_cb, f, cancellable, send_done_cb, f);
  g_main_loop_run (f->loop);
}

static GBytes *
run_download (Fixture              *f,
              const char           *path,
              AssayAwsClassifyFunc  classify)
{
  g_autoptr(GUri) uri = uri_for (f, path);
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();

  assay_aws_transport_download_async (f->transport, "s3", uri, NULL, output, classify,
                                      progress_cb, f, NULL, download_done_cb, f);
  g_main_loop_run (f->loop);
  g_output_stream_close (output, NULL, NULL);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
}

static AssayAwsAnswer
classify_cb (SoupMessage *message,
             GBytes      *body)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (body, &size);
  g_autofree char *text = g_strndup (data ? data : "", size);

  if (strstr (text, "<Code>SlowDown</Code>") != NULL || strstr (text, "ThrottlingException"))
    return ASSAY_AWS_ANSWER_RETRY;
  if (strstr (text, "<Code>RequestTimeTooSkewed</Code>") != NULL)
    return ASSAY_AWS_ANSWER_CLOCK_SKEW;
  return ASSAY_AWS_ANSWER_DONE;
}

static void
assert_answer (Fixture    *f,
               guint       status,
               const char *body)
{
  g_assert_no_error (f->error);
  g_assert_nonnull (f->answer);
  g_assert_nonnull (f->message);
  g_assert_cmpuint (soup_message_get_status (f->message), ==, status);
  g_assert_cmpmem (g_bytes_get_data (f->answer, NULL), g_bytes_get_size (f->answer), body,
                   strlen (body));
}

/* ---------------------------------------------------------------------------------------- */
/* Tests */

static void
test_retry_5xx (Fixture       *f,
                gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_ANSWER, 500, NULL, "<Error><Code>InternalError</Code></Error>" },
    { ACTION_ANSWER, 200, NULL, "done" },
  };

  set_script (f, script, G_N_ELEMENTS (script));
  run_send (f, "GET", "/bucket/some%20key?list-type=2&prefix=a%2Fb", NULL, NULL, NULL);
  assert_answer (f, 200, "done");
  g_assert_cmpuint (f->requests, ==, 2);
  /* Every attempt signed, and signed as libsoup sent it. */
  g_assert_cmpuint (f->signed_ok, ==, 2);
}

static void
test_slow_down (Fixture       *f,
                gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_ANSWER, 503, NULL,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
      "<Message>Please reduce your request rate.</Message></Error>" },
    { ACTION_ANSWER, 503, NULL, "<Error><Code>SlowDown</Code></Error>" },
    { ACTION_ANSWER, 200, NULL, "" },
  };
  g_autoptr(GBytes) body = g_bytes_new_static ("object", 6);

  set_script (f, script, G_N_ELEMENTS (script));
  run_send (f, "PUT", "/bucket/key", body, classify_cb, NULL);
  assert_answer (f, 200, "");
  g_assert_cmpuint (f->requests, ==, 3);
  g_assert_cmpuint (f->signed_ok, ==, 3);
}

static void
test_retry_after (Fixture       *f,
                  gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_ANSWER, 429, "1", "Too Many Requests" },
    { ACTION_ANSWER, 200, NULL, "later" },
  };
  gint64 start;

  set_script (f, script, G_N_ELEMENTS (script));
  start = g_get_monotonic_time ();
  run_send (f, "GET", "/bucket/key", NULL, NULL, NULL);
  assert_answer (f, 200, "later");
  /* The policy's base delay is 10 ms: only Retry-After makes it wait a second. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);
  g_assert_cmpuint (f->requests, ==, 2);
}

static void
test_throttling_json (Fixture       *f,
                      gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_ANSWER, 400, NULL,
      "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\","
      "\"message\":\"Rate of requests exceeds the allowed throughput.\"}" },
    { ACTION_ANSWER, 200, NULL, "{}" },
    /* Without the classifier, a 400 is an answer for the client to map. */
    { ACTION_ANSWER, 400, NULL, "{\"__type\":\"ThrottlingException\"}" },
  };

  set_script (f, script, G_N_ELEMENTS (script));
  run_send (f, "POST", "/", NULL, classify_cb, NULL);
  assert_answer (f, 200, "{}");
  g_assert_cmpuint (f->requests, ==, 2);

  g_clear_pointer (&f->answer, g_bytes_unref);
  g_clear_object (&f->message);
  run_send (f, "POST", "/", NULL, NULL, NULL);
  assert_answer (f, 400, "{\"__type\":\"ThrottlingException\"}");
  g_assert_cmpuint (f->requests, ==, 3);
}

static void
test_connection_reset (Fixture       *f,
                       gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_RESET },
    { ACTION_RESET },
    { ACTION_ANSWER, 200, NULL, "survived" },
  };

  set_script (f, script, G_N_ELEMENTS (script));
  run_send (f, "GET", "/bucket/key", NULL, NULL, NULL);
  assert_answer (f, 200, "survived");
  g_assert_cmpuint (f->requests, ==, 3);
  g_assert_cmpuint (f->signed_ok, ==, 3);
}

static void
test_stall (Fixture       *f,
            gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_STALL },
    { ACTION_STALL },
  };
  gint64 start;

  f->policy.max_attempts = 2;
  set_script (f, script, G_N_ELEMENTS (script));
  start = g_get_monotonic_time ();
  run_send (f, "GET", "/bucket/key", NULL, NULL, NULL);
  g_assert_error (f->error, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (f->error->message, "no progress for 1 s"));
  g_assert_nonnull (strstr (f->error->message, "2 attempts"));
  g_assert_null (f->answer);
  g_assert_cmpuint (f->requests, ==, 2);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC - 100000);
}

static void
test_exhausted (Fixture       *f,
                gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_ANSWER, 500, NULL, "a" },
    { ACTION_ANSWER, 502, NULL, "b" },
    { ACTION_ANSWER, 503, NULL, "c" },
  };

  f->policy.max_attempts = 3;
  set_script (f, script, G_N_ELEMENTS (script));
  run_send (f, "GET", "/bucket/key", NULL, NULL, NULL);
  g_assert_error (f->error, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_RETRIES);
  g_test_message ("%s", f->error->message);
  g_assert_nonnull (strstr (f->error->message, "after 3 attempts"));
  g_assert_nonnull (strstr (f->error->message, "503 Service Unavailable"));
  g_assert_nonnull (strstr (f->error->message, "/bucket/key"));
  /* The last answer is still there for the client to map. */
  g_assert_nonnull (f->message);
  g_assert_cmpuint (soup_message_get_status (f->message), ==, 503);
  g_assert_cmpuint (f->requests, ==, 3);
}

static void
test_clock_skew (Fixture       *f,
                 gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_SKEW },
    { ACTION_SKEW },
    { ACTION_SKEW },
  };
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) first = NULL;
  g_autoptr(GDateTime) second = NULL;
  gint64 offset;

  f->policy.max_attempts = 1; /* the clock correction does not need a retry budget */
  set_script (f, script, G_N_ELEMENTS (script));
  g_assert_cmpint (assay_aws_transport_get_clock_offset (f->transport), ==, 0);
  run_send (f, "GET", "/bucket/key", NULL, classify_cb, NULL);
  assert_answer (f, 200, "in time");
  g_assert_cmpuint (f->requests, ==, 2);
  g_assert_cmpuint (f->signed_ok, ==, 2);

  offset = assay_aws_transport_get_clock_offset (f->transport);
  g_assert_cmpint (offset, >=, 3600 - 5);
  g_assert_cmpint (offset, <=, 3600 + 5);
  first = parse_amz_date (f->amz_dates->pdata[0]);
  second = parse_amz_date (f->amz_dates->pdata[1]);
  g_assert_cmpint (ABS (g_date_time_difference (first, now)), <, 10 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (ABS (g_date_time_difference (second, now) - G_TIME_SPAN_HOUR), <,
                   10 * G_TIME_SPAN_SECOND);

  /* The next request starts from the corrected clock. */
  g_clear_pointer (&f->answer, g_bytes_unref);
  g_clear_object (&f->message);
  run_send (f, "GET", "/bucket/key", NULL, classify_cb, NULL);
  assert_answer (f, 200, "in time");
  g_assert_cmpuint (f->requests, ==, 3);
}

static void
test_unreachable (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *uri_string = NULL;
  g_autofree char *expected = NULL;
  guint16 port;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, &error);
  g_assert_no_error (error);

  set_script (f, NULL, 0);
  uri_string = g_strdup_printf ("http://127.0.0.1:%u/bucket/key", port);
  uri = g_uri_parse (uri_string, SOUP_HTTP_URI_FLAGS, &error);
  g_assert_no_error (error);
  assay_aws_transport_send_async (f->transport, "s3", "GET", uri, NULL, NULL, NULL, NULL, NULL,
                                  NULL, NULL, send_done_cb, f);
  g_main_loop_run (f->loop);

  g_assert_error (f->error, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_UNREACHABLE);
  g_test_message ("%s", f->error->message);
  expected = g_strdup_printf ("cannot connect to http://127.0.0.1:%u (s3): Connection refused",
                              port);
  g_assert_true (g_str_has_prefix (f->error->message, expected));
  g_assert_nonnull (strstr (f->error->message, "4 attempts"));
  g_assert_null (f->message);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_STALL },
    { ACTION_ANSWER, 429, "30", "wait" },
  };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) during_delay = g_cancellable_new ();
  g_autoptr(GCancellable) already = g_cancellable_new ();

  f->policy.idle_timeout_s = 30;
  f->policy.max_delay_ms = 60000;
  set_script (f, script, G_N_ELEMENTS (script));

  /* While waiting for an answer. */
  g_timeout_add (200, cancel_cb, cancellable);
  run_send (f, "GET", "/bucket/key", NULL, NULL, cancellable);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (f->answer);
  g_assert_cmpuint (f->requests, ==, 1);

  /* While waiting to retry (Retry-After: 30). */
  g_clear_error (&f->error);
  g_clear_object (&f->message);
  g_timeout_add (300, cancel_cb, during_delay);
  run_send (f, "GET", "/bucket/key", NULL, NULL, during_delay);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (f->requests, ==, 2);

  /* Before it starts. */
  g_clear_error (&f->error);
  g_clear_object (&f->message);
  g_cancellable_cancel (already);
  run_send (f, "GET", "/bucket/key", NULL, NULL, already);
  g_assert_error (f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (f->requests, ==, 2);
}

static void
test_upload_progress (Fixture       *f,
                      gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_ANSWER, 200, NULL, "" },
  };
  gsize size = 3 * 1024 * 1024 + 17;
  guint8 *data_bytes = g_malloc (size);
  g_autoptr(GBytes) body = NULL;
  goffset last;

  for (gsize i = 0; i < size; i++)
    data_bytes[i] = (guint8) (i * 7);
  body = g_bytes_new_take (data_bytes, size);

  set_script (f, script, G_N_ELEMENTS (script));
  run_send (f, "PUT", "/bucket/big", body, NULL, NULL);
  assert_answer (f, 200, "");
  /* The server checked the payload hash against the body it received. */
  g_assert_cmpuint (f->signed_ok, ==, 1);
  g_assert_cmpuint (f->progress->len, >=, 1);
  last = (goffset) GPOINTER_TO_SIZE (f->progress->pdata[f->progress->len - 1]);
  g_assert_cmpint (last, ==, (goffset) size);
}

static void
test_download (Fixture       *f,
               gconstpointer  data)
{
  static char big[200 * 1024];
  static Action script[] = {
    { ACTION_ANSWER, 500, NULL, "oops" },
    { ACTION_ANSWER, 200, NULL, big, sizeof big },
    { ACTION_ANSWER, 404, NULL, "<Error><Code>NoSuchKey</Code></Error>" },
  };
  g_autoptr(GBytes) output = NULL;
  goffset last;

  for (gsize i = 0; i < sizeof big; i++)
    big[i] = (char) ('a' + i % 26);

  set_script (f, script, G_N_ELEMENTS (script));
  output = run_download (f, "/bucket/big", NULL);
  g_assert_no_error (f->error);
  g_assert_cmpuint (soup_message_get_status (f->message), ==, 200);
  g_assert_cmpuint (g_bytes_get_size (f->answer), ==, 0);
  g_assert_cmpmem (g_bytes_get_data (output, NULL), g_bytes_get_size (output), big, sizeof big);
  g_assert_cmpuint (f->requests, ==, 2);
  last = (goffset) GPOINTER_TO_SIZE (f->progress->pdata[f->progress->len - 1]);
  g_assert_cmpint (last, ==, (goffset) sizeof big);

  /* A non-2xx body is the answer; nothing goes to the output. */
  g_clear_pointer (&f->answer, g_bytes_unref);
  g_clear_pointer (&output, g_bytes_unref);
  g_clear_object (&f->message);
  output = run_download (f, "/bucket/missing", NULL);
  assert_answer (f, 404, "<Error><Code>NoSuchKey</Code></Error>");
  g_assert_cmpuint (g_bytes_get_size (output), ==, 0);
}

/* A body that stops after some bytes were written is not retried: they cannot be unwritten. */
static void
test_download_stall (Fixture       *f,
                     gconstpointer  data)
{
  static const Action script[] = {
    { ACTION_STALL_BODY, 0, NULL, "the first part" },
    { ACTION_ANSWER, 200, NULL, "never asked" },
  };
  g_autoptr(GBytes) output = NULL;

  set_script (f, script, G_N_ELEMENTS (script));
  output = run_download (f, "/bucket/key", NULL);
  g_assert_error (f->error, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_TIMEOUT);
  g_assert_cmpuint (f->requests, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (output, NULL), g_bytes_get_size (output), "the first part",
                   14);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/common/aws-transport/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("retry-5xx", test_retry_5xx);
  ADD ("slow-down", test_slow_down);
  ADD ("retry-after", test_retry_after);
  ADD ("throttling-json", test_throttling_json);
  ADD ("connection-reset", test_connection_reset);
  ADD ("stall", test_stall);
  ADD ("exhausted", test_exhausted);
  ADD ("clock-skew", test_clock_skew);
  ADD ("unreachable", test_unreachable);
  ADD ("cancel", test_cancel);
  ADD ("upload-progress", test_upload_progress);
  ADD ("download", test_download);
  ADD ("download-stall", test_download_stall);
#undef ADD

  return g_test_run ();
}
