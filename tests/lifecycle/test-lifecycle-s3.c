/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The quarantine path on S3 + DynamoDB (s3rver, dynalite): an infected file is stored
 * under quarantine/ with its metadata and `x-amz-server-side-encryption: AES256` in the
 * PUT, the webhook is called, and a release completes the job with a result the client
 * decrypts. s3rver ignores the SSE header, so a loopback forwarder between the store and
 * s3rver records the headers of each PUT (s3rver does not check signatures; the
 * integration suite's sigv4-proxy does that elsewhere).
 */
#include "config.h"

#include "assay-aws-store.h"
#include "assay-credentials.h"
#include "assay-engine.h"
#include "assay-lifecycle.h"
#include "assay-quarantine.h"
#include "assay-worker.h"
#include "lifecycle-helpers.h"
#include "test-servers.h"
#include "worker-fixture.h"

#include <string.h>

#define BUCKET "assay-lifecycle-bucket"

/* ------------------------------------------------------------------------------------- */
/* The forwarder                                                                         */

typedef struct
{
  SoupServer *server;
  SoupSession *session;
  char *backend;
  char *url;
  GHashTable *sse;       /* path of a PUT → its x-amz-server-side-encryption ("" without) */
} Forwarder;

typedef struct
{
  Forwarder *forwarder;
  SoupServerMessage *message;
  gboolean head;
} Forward;

static gboolean
hop_header (const char *name)
{
  static const char * const hop[] = { "Host", "Content-Length", "Connection", "Transfer-Encoding",
                                      "Keep-Alive", NULL };

  for (guint i = 0; hop[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, hop[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
forwarded_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Forward *forward = data;
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *out = soup_server_message_get_response_headers (forward->message);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
  soup_message_headers_iter_init (&iter, soup_message_get_response_headers (message));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (!hop_header (name) || (forward->head && g_ascii_strcasecmp (name, "Content-Length") == 0))
      soup_message_headers_append (out, name, value);
  soup_server_message_set_status (forward->message, soup_message_get_status (message),
                                  soup_message_get_reason_phrase (message));
  if (!forward->head && g_bytes_get_size (body) > 0)
    soup_message_body_append_bytes (soup_server_message_get_response_body (forward->message),
                                    body);
  soup_server_message_unpause (forward->message);
  g_object_unref (forward->message);
  g_free (forward);
}

static void
forwarder_cb (SoupServer        *server,
              SoupServerMessage *message,
              const char        *path,
              GHashTable        *query,
              gpointer           data)
{
  Forwarder *f = data;
  GUri *uri = soup_server_message_get_uri (message);
  const char *method = soup_server_message_get_method (message);
  g_autofree char *url = g_strdup_printf ("%s%s%s%s", f->backend, g_uri_get_path (uri),
                                          g_uri_get_query (uri) ? "?" : "",
                                          g_uri_get_query (uri) ? g_uri_get_query (uri) : "");
  g_autoptr(SoupMessage) out = soup_message_new (method, url);
  SoupMessageHeaders *in = soup_server_message_get_request_headers (message);
  SoupMessageBody *request_body = soup_server_message_get_request_body (message);
  g_autoptr(GBytes) body = soup_message_body_flatten (request_body);
  SoupMessageHeadersIter iter;
  const char *name, *value;
  Forward *forward;

  g_assert_nonnull (out);
  if (g_str_equal (method, "PUT"))
    {
      const char *sse = soup_message_headers_get_one (in, "x-amz-server-side-encryption");

      g_hash_table_replace (f->sse, g_strdup (g_uri_get_path (uri)), g_strdup (sse ? sse : ""));
    }
  soup_message_headers_iter_init (&iter, in);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (!hop_header (name))
      soup_message_headers_append (soup_message_get_request_headers (out), name, value);
  if (g_bytes_get_size (body) > 0 || g_str_equal (method, "PUT"))
    soup_message_set_request_body_from_bytes (out, NULL, body);
  forward = g_new0 (Forward, 1);
  forward->forwarder = f;
  forward->message = g_object_ref (message);
  forward->head = g_str_equal (method, "HEAD");
  soup_server_message_pause (message);
  soup_session_send_and_read_async (f->session, out, G_PRIORITY_DEFAULT, NULL, forwarded_cb,
                                    forward);
}

static Forwarder *
forwarder_start (const char *backend)
{
  Forwarder *f = g_new0 (Forwarder, 1);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  f->backend = g_strdup (backend);
  f->session = soup_session_new ();
  f->sse = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, forwarder_cb, f, NULL);
  soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return f;
}

static void
forwarder_free (Forwarder *f)
{
  soup_server_disconnect (f->server);
  g_object_unref (f->server);
  g_object_unref (f->session);
  g_hash_table_unref (f->sse);
  g_free (f->backend);
  g_free (f->url);
  g_free (f);
}

/* ------------------------------------------------------------------------------------- */

#define ENGINE_OK                                                                   \
  "size=$(wc -c < \"$1\")\n"                                                       \
  "echo \"$ASSAY_JOB $size\" >> '@LOG@'\n"                                         \
  "printf '{\"engine\":\"test\",\"size\":%s}\\n' \"$size\"\n"

static void
test_quarantine_s3 (void)
{
  g_autoptr(AssayTestServer) s3rver = assay_test_server_start_s3rver ();
  g_autoptr(AssayTestServer) dynalite = assay_test_server_start_dynalite ();
  Forwarder *forwarder = forwarder_start (assay_test_server_get_url (s3rver));
  Receiver *receiver = receiver_start (0);
  g_autoptr(AssayCredentials) credentials = assay_credentials_new (
    ASSAY_TEST_ACCESS_KEY_ID, ASSAY_TEST_SECRET_ACCESS_KEY, NULL, "the test's credentials");
  g_autoptr(AssayAwsTransport) transport = assay_aws_transport_new (credentials,
                                                                    ASSAY_TEST_REGION, NULL);
  g_autoptr(AssayS3Client) s3 = NULL;
  g_autoptr(AssayDynamodbClient) dynamodb = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(AssayLifecycle) lifecycle = NULL;
  g_autoptr(AssayWorker) worker = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(AssayJob) released_job = NULL;
  g_autoptr(JsonObject) shown = NULL;
  g_autoptr(JsonObject) released = NULL;
  g_autoptr(JsonObject) envelope = NULL;
  g_autoptr(GPtrArray) stages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *day = g_date_time_format (now, "%Y-%m-%d");
  g_autofree char *key = NULL;
  g_autofree char *path = NULL;
  g_autofree char *file = NULL;
  g_autofree char *engine_command = NULL;
  g_autofree char *id = NULL;
  AssayLifecycleSettings settings = { .alert_webhook = receiver->url, .alert_retry_ms = 100 };
  AssayWorkerSettings worker_settings;
  g_autoptr(AssayEngine) engine = NULL;
  WorkerFixture fixture = { 0 };
  WorkerFixture *f = &fixture;

  worker_fixture_set_up (f, NULL);
  s3 = assay_s3_client_new (transport, BUCKET, forwarder->url, ASSAY_S3_ADDRESSING_PATH, &error);
  g_assert_no_error (error);
  dynamodb = assay_dynamodb_client_new (transport, assay_test_server_get_url (dynalite), &error);
  g_assert_no_error (error);
  g_clear_object (&f->store);
  f->store = ASSAY_STORE (assay_aws_store_new (s3, dynamodb, "lifecycle-jobs",
                                               "lifecycle-results"));
  assay_store_init_async (f->store, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  assay_store_init_finish (f->store, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  lifecycle = assay_lifecycle_new (f->store, &settings, &error);
  g_assert_no_error (error);
  assay_worker_settings_init (&worker_settings);
  worker_settings.work_dir = g_strdup (f->work_dir);
  worker_settings.poll_min_ms = 20;
  worker_settings.poll_max_ms = 200;
  worker_settings.lifecycle = g_object_ref (lifecycle);
  worker = assay_worker_new (f->store, &worker_settings);
  assay_worker_settings_clear (&worker_settings);
  engine_command = worker_fixture_engine (f, "engine.sh", ENGINE_OK);
  engine = assay_engine_new_exec (engine_command, &error);
  g_assert_no_error (error);
  {
    g_autoptr(AssayStage) scan = g_object_new (TEST_TYPE_SCAN, NULL);

    assay_worker_add_stage (worker, scan);
  }
  assay_worker_add_stage (worker, ASSAY_STAGE (engine));
  assay_worker_run_async (worker, NULL, worker_result_cb, &result);

  file = g_build_filename (f->dir, "eicar.com", NULL);
  g_file_set_contents (file, "a file with EICAR in it\n", -1, &error);
  g_assert_no_error (error);
  id = worker_fixture_submit (f, file, NULL);
  job = worker_fixture_wait_final (f, id, 30000);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "INFECTED");
  g_assert_cmpuint (worker_fixture_engine_runs (f, NULL), ==, 0);

  /* the quarantined object: its metadata on S3, and SSE requested in its PUT */
  key = g_strdup_printf ("quarantine/%s/%s", day, id);
  path = g_strdup_printf ("/%s/%s", BUCKET, key);
  g_assert_cmpstr (g_hash_table_lookup (forwarder->sse, path), ==, "AES256");
  info = _assay_store_head_sync (f->store, key, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->size, ==, 24);
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-job"), ==, id);
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-signature"), ==,
                   "Eicar-Test-Signature");
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-client"), ==,
                   assay_job_get_client (job));
  g_assert_nonnull (g_hash_table_lookup (info->metadata, "assay-quarantined"));
  g_assert_cmpuint (receiver->bodies->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (receiver->bodies, 0), id));

  assay_worker_stop (worker, 0);
  worker_wait_for (&result);
  assay_worker_run_finish (worker, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  /* show, then release: the original job completes on DynamoDB */
  shown = assay_quarantine_show (lifecycle, id, "carol", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (shown, "key"), ==, key);
  g_ptr_array_add (stages, g_object_ref (engine));
  released = assay_quarantine_release (lifecycle, id, stages, f->work_dir, "carol", &error);
  g_assert_no_error (error);
  released_job = worker_fixture_get_job (f, id);
  g_assert_cmpint (assay_job_get_status (released_job), ==, ASSAY_JOB_STATUS_PROCESSED);
  envelope = worker_fixture_open_result (f, released_job);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (envelope, "scan"),
                                                  "verdict"), ==, "released");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (envelope, "engine"),
                                               "size"), ==, 24);
  g_assert_cmpuint (worker_fixture_count_objects (f, "quarantine/2"), ==, 0);

  g_clear_object (&result);
  g_clear_object (&worker);
  g_clear_object (&lifecycle);
  worker_fixture_tear_down (f, NULL);
  receiver_free (receiver);
  forwarder_free (forwarder);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("ASSAY_CONFIG");
  g_test_add_func ("/lifecycle/s3/quarantine", test_quarantine_s3);
  return g_test_run ();
}
