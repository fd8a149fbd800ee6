/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-s3-client.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-servers.h"

/*
 * The S3 client against s3rver, behind the SigV4 proxy: botocore checks the signature of
 * every request Assay sends (the last test asserts that none was refused). The AWS CLI
 * reads what Assay writes and the other way round. Failures come from a wrong secret,
 * an endpoint that does not answer, and an in-process server that answers garbage.
 */

static AssayTestServer *s3rver;
static AssayTestServer *proxy;

#define MIB (1024 * 1024)

/* ------------------------------------------------------------------------------------- */
/* Helpers                                                                                */

static AssayS3Client *
make_client_full (const char *endpoint,
                  const char *bucket,
                  const char *secret,
                  const char *source,
                  guint       max_attempts,
                  guint       connect_timeout_s)
{
  g_autoptr(AssayCredentials) credentials =
    assay_credentials_new (ASSAY_TEST_ACCESS_KEY_ID, secret, NULL, source);
  AssayAwsRetryPolicy policy = {
    .max_attempts = max_attempts,
    .base_delay_ms = 5,
    .max_delay_ms = 50,
    .connect_timeout_s = connect_timeout_s,
    .idle_timeout_s = 30,
  };
  g_autoptr(AssayAwsTransport) transport = assay_aws_transport_new (credentials, ASSAY_TEST_REGION,
                                                                   &policy);
  g_autoptr(GError) error = NULL;
  AssayS3Client *client;

  client = assay_s3_client_new (transport, bucket, endpoint, ASSAY_S3_ADDRESSING_AUTO, &error);
  g_assert_no_error (error);
  return client;
}

static AssayS3Client *
make_client (void)
{
  return make_client_full (assay_test_server_get_url (proxy), ASSAY_TEST_BUCKET,
                           ASSAY_TEST_SECRET_ACCESS_KEY, "the integration test's credentials",
                           3, 5);
}

static void
store_result_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static char *
put_sync (AssayS3Client    *client,
          const char       *key,
          GBytes           *data,
          GHashTable       *metadata,
          AssayS3PutFlags   flags,
          GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_s3_client_put_object_async (client, key, data, metadata, flags, NULL, NULL, NULL,
                                    store_result_cb, &result);
  return assay_s3_client_put_object_finish (client, wait_result (&result), error);
}

static AssayObjectInfo *
get_sync (AssayS3Client  *client,
          const char     *key,
          GBytes        **out_data,
          GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  AssayObjectInfo *info;

  assay_s3_client_get_object_async (client, key, output, NULL, NULL, NULL, store_result_cb,
                                    &result);
  info = assay_s3_client_get_object_finish (client, wait_result (&result), error);
  g_assert_true (g_output_stream_close (output, NULL, NULL));
  if (out_data != NULL)
    *out_data = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
  return info;
}

static AssayObjectInfo *
head_sync (AssayS3Client  *client,
           const char     *key,
           GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_s3_client_head_object_async (client, key, NULL, store_result_cb, &result);
  return assay_s3_client_head_object_finish (client, wait_result (&result), error);
}

static gboolean
delete_sync (AssayS3Client  *client,
             const char     *key,
             GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_s3_client_delete_object_async (client, key, NULL, store_result_cb, &result);
  return assay_s3_client_delete_object_finish (client, wait_result (&result), error);
}

static AssayObjectList *
list_sync (AssayS3Client  *client,
           const char     *prefix,
           const char     *token,
           guint           max_keys,
           GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_s3_client_list_objects_async (client, prefix, token, max_keys, NULL, store_result_cb,
                                      &result);
  return assay_s3_client_list_objects_finish (client, wait_result (&result), error);
}

static gboolean
copy_sync (AssayS3Client  *client,
           const char     *source_key,
           const char     *key,
           GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_s3_client_copy_object_async (client, source_key, key, NULL, store_result_cb, &result);
  return assay_s3_client_copy_object_finish (client, wait_result (&result), error);
}

static gboolean
create_bucket_sync (AssayS3Client  *client,
                    gboolean       *out_created,
                    GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_s3_client_create_bucket_async (client, NULL, store_result_cb, &result);
  return assay_s3_client_create_bucket_finish (client, wait_result (&result), out_created, error);
}

static gboolean
head_bucket_sync (AssayS3Client  *client,
                  GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_s3_client_head_bucket_async (client, NULL, store_result_cb, &result);
  return assay_s3_client_head_bucket_finish (client, wait_result (&result), error);
}

static GBytes *
random_bytes (gsize size)
{
  guint8 *data = g_malloc (size + 4);

  for (gsize i = 0; i < size; i += 4)
    {
      guint32 r = g_test_rand_int ();
      memcpy (data + i, &r, 4);
    }
  return g_bytes_new_take (data, size);
}

static char *
md5_hex (GBytes *data)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_MD5, data);
}

/* ------------------------------------------------------------------------------------- */
/* Against s3rver behind the proxy                                                        */

static void
test_round_trip (void)
{
  static const gsize sizes[] = { 0, 1, 8 * MIB };
  g_autoptr(AssayS3Client) client = make_client ();
  const char *sizes_path = "/" ASSAY_TEST_BUCKET "/sizes/";
  guint puts_before = assay_test_server_count_requests (proxy, "PUT", sizes_path);

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GBytes) data = random_bytes (sizes[i]);
      g_autoptr(GBytes) back = NULL;
      g_autoptr(GBytes) nothing = NULL;
      g_autofree char *key = g_strdup_printf ("sizes/%zu", sizes[i]);
      g_autofree char *md5 = md5_hex (data);
      g_autofree char *etag = NULL;
      g_autoptr(AssayObjectInfo) info = NULL;
      g_autoptr(AssayObjectInfo) head = NULL;
      g_autoptr(AssayObjectInfo) gone = NULL;
      g_autoptr(AssayObjectInfo) gone_get = NULL;
      g_autoptr(GError) error = NULL;

      etag = put_sync (client, key, data, NULL, ASSAY_S3_PUT_NONE, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (etag, ==, md5);

      info = get_sync (client, key, &back, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (back, data));
      g_assert_cmpstr (info->key, ==, key);
      g_assert_cmpuint (info->size, ==, sizes[i]);
      g_assert_cmpstr (info->etag, ==, md5);
      g_assert_nonnull (info->modified);

      head = head_sync (client, key, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (head->size, ==, sizes[i]);
      g_assert_cmpstr (head->etag, ==, md5);

      g_assert_true (delete_sync (client, key, &error));
      g_assert_no_error (error);
      gone = head_sync (client, key, &error);
      g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_NO_SUCH_KEY);
      g_assert_null (gone);
      g_clear_error (&error);
      gone_get = get_sync (client, key, &nothing, &error);
      g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_NO_SUCH_KEY);
      g_assert_null (gone_get);
      g_assert_cmpuint (g_bytes_get_size (nothing), ==, 0); /* the error body is not the output */
      g_clear_error (&error);

      /* Deleting what is not there succeeds, as in S3. */
      g_assert_true (delete_sync (client, key, &error));
      g_assert_no_error (error);
    }

  g_assert_cmpuint (assay_test_server_count_requests (proxy, "PUT", sizes_path), ==,
                    puts_before + G_N_ELEMENTS (sizes));
  g_assert_finalize_object (g_steal_pointer (&client));
}

static void
test_unsigned_payload (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(GBytes) data = random_bytes (100000);
  g_autoptr(GBytes) back = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  etag = put_sync (client, "unsigned/object", data, NULL, ASSAY_S3_PUT_UNSIGNED_PAYLOAD, &error);
  g_assert_no_error (error);
  info = get_sync (client, "unsigned/object", &back, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, data));
}

static void
test_parallel (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  GBytes *data[8];
  GAsyncResult *results[8] = { NULL };

  for (guint i = 0; i < G_N_ELEMENTS (data); i++)
    {
      g_autofree char *key = g_strdup_printf ("parallel/%u", i);

      data[i] = random_bytes (MIB + i);
      assay_s3_client_put_object_async (client, key, data[i], NULL, ASSAY_S3_PUT_NONE, NULL, NULL,
                                        NULL, store_result_cb, &results[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (data); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *etag = assay_s3_client_put_object_finish (client, wait_result (&results[i]),
                                                                 &error);

      g_assert_no_error (error);
      g_clear_object (&results[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (data); i++)
    {
      g_autofree char *key = g_strdup_printf ("parallel/%u", i);
      g_autoptr(GBytes) back = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayObjectInfo) info = get_sync (client, key, &back, &error);

      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (back, data[i]));
      g_bytes_unref (data[i]);
    }
}

static void
test_metadata (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) bad = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GBytes) data = random_bytes (4096);
  g_autoptr(AssayObjectInfo) head = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *refused = NULL;

  g_hash_table_insert (metadata, "assay-job", "job-9dfbe20e-2efd-4f62-b51e-9b230f60429b");
  g_hash_table_insert (metadata, "Origin", "Assay test: a=b, c;d");
  etag = put_sync (client, "file-meta/000000", data, metadata, ASSAY_S3_PUT_NONE, &error);
  g_assert_no_error (error);

  head = head_sync (client, "file-meta/000000", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (head->metadata), ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (head->metadata, "assay-job"), ==,
                   "job-9dfbe20e-2efd-4f62-b51e-9b230f60429b");
  g_assert_cmpstr (g_hash_table_lookup (head->metadata, "origin"), ==, "Assay test: a=b, c;d");

  info = get_sync (client, "file-meta/000000", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-job"), ==,
                   "job-9dfbe20e-2efd-4f62-b51e-9b230f60429b");

  /* Values that cannot go in a header are refused before anything is sent. */
  g_hash_table_insert (bad, "note", "caf\xc3\xa9");
  refused = put_sync (client, "file-meta/000001", data, bad, ASSAY_S3_PUT_NONE, &error);
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID);
  g_assert_null (refused);
}

static void
test_list (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(AssayObjectList) none = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *other_etag = NULL;
  g_autoptr(GBytes) other = random_bytes (3);
  guint pages = 0;

  for (guint i = 0; i < 25; i++)
    {
      g_autofree char *key = g_strdup_printf ("list/obj-%02u", i);
      g_autoptr(GBytes) data = random_bytes (i);
      g_autofree char *etag = put_sync (client, key, data, NULL, ASSAY_S3_PUT_NONE, &error);

      g_assert_no_error (error);
    }
  other_etag = put_sync (client, "listx/outside", other, NULL, ASSAY_S3_PUT_NONE, &error);
  g_assert_no_error (error);

  do
    {
      g_autoptr(AssayObjectList) page = list_sync (client, "list/", token, 10, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (page->objects->len, ==, pages < 2 ? 10 : 5);
      for (guint i = 0; i < page->objects->len; i++)
        {
          AssayObjectInfo *info = g_ptr_array_index (page->objects, i);
          g_autofree char *expected = g_strdup_printf ("list/obj-%02u", seen->len);

          g_assert_cmpstr (info->key, ==, expected);
          g_assert_cmpuint (info->size, ==, seen->len);
          g_assert_nonnull (info->etag);
          g_ptr_array_add (seen, g_strdup (info->key));
        }
      g_free (token);
      token = g_strdup (page->next_token);
      pages++;
      g_assert_cmpuint (pages, <=, 3);
    }
  while (token != NULL);
  g_assert_cmpuint (pages, ==, 3);
  g_assert_cmpuint (seen->len, ==, 25);

  none = list_sync (client, "nothing-here/", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->objects->len, ==, 0);
  g_assert_null (none->next_token);
}

static void
test_copy (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GBytes) data = random_bytes (300000);
  g_autoptr(GBytes) back = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  g_hash_table_insert (metadata, "assay-job", "job-1");
  etag = put_sync (client, "copy/source", data, metadata, ASSAY_S3_PUT_NONE, &error);
  g_assert_no_error (error);

  g_assert_true (copy_sync (client, "copy/source", "copy/target copy", &error));
  g_assert_no_error (error);
  info = get_sync (client, "copy/target copy", &back, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, data));
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-job"), ==, "job-1");

  g_assert_false (copy_sync (client, "copy/missing", "copy/other", &error));
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_NO_SUCH_KEY);
}

/* Keys that need encoding: each request's path and query must be canonicalised the way
 * botocore does it, or the proxy refuses it. */
static void
test_odd_keys (void)
{
  static const char * const keys[] = {
    "odd/a b+c=d&e;f,g:h@i$j!k'l(m)n*o",
    "odd/ünïcödé/日本語",
    "odd/percent%20not-a-space%2F",
    "odd/tilde~under_score-dash.dot",
    /* Not "odd//x" nor "odd/x/": s3rver's router and file store lose them. */
  };
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(AssayObjectList) list = NULL;
  g_autoptr(GError) error = NULL;
  guint refused = assay_test_server_count_refused (proxy);

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autoptr(GBytes) data = random_bytes (17 + i);
      g_autoptr(GBytes) back = NULL;
      g_autofree char *etag = NULL;
      g_autoptr(AssayObjectInfo) info = NULL;

      etag = put_sync (client, keys[i], data, NULL, ASSAY_S3_PUT_NONE, &error);
      g_assert_no_error (error);
      info = get_sync (client, keys[i], &back, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (back, data));
    }

  list = list_sync (client, "odd/", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->objects->len, ==, G_N_ELEMENTS (keys));
  for (guint i = 0; i < list->objects->len; i++)
    {
      AssayObjectInfo *info = g_ptr_array_index (list->objects, i);

      g_assert_true (g_strv_contains (keys, info->key));
    }

  /* A prefix that needs encoding in the query. */
  g_clear_pointer (&list, assay_object_list_free);
  list = list_sync (client, "odd/a b+c=d&", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->objects->len, ==, 1);

  g_assert_cmpuint (assay_test_server_count_refused (proxy), ==, refused);
}

static void
test_errors (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(AssayObjectInfo) head = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  info = get_sync (client, "missing/key", NULL, &error);
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_NO_SUCH_KEY);
  g_assert_nonnull (strstr (error->message, "s3://" ASSAY_TEST_BUCKET "/missing/key"));
  g_assert_cmpint (assay_s3_error_to_store_error (error), ==, ASSAY_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  head = head_sync (client, "missing/key", &error);
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_NO_SUCH_KEY);
  g_clear_error (&error);

  etag = put_sync (client, "a/../b", data, NULL, ASSAY_S3_PUT_NONE, &error);
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID);
  g_assert_null (etag);
}

static void
test_bucket (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(AssayS3Client) other = make_client_full (assay_test_server_get_url (proxy),
                                                     "assay-other-bucket",
                                                     ASSAY_TEST_SECRET_ACCESS_KEY, "the test",
                                                     3, 5);
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  gboolean created = TRUE;

  g_assert_true (head_bucket_sync (client, &error));
  g_assert_no_error (error);
  g_assert_true (create_bucket_sync (client, &created, &error));
  g_assert_no_error (error);
  g_assert_false (created);

  g_assert_false (head_bucket_sync (other, &error));
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_NO_SUCH_BUCKET);
  g_clear_error (&error);
  etag = put_sync (other, "k", data, NULL, ASSAY_S3_PUT_NONE, &error);
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_NO_SUCH_BUCKET);
  g_clear_error (&error);

  g_assert_true (create_bucket_sync (other, &created, &error));
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_true (head_bucket_sync (other, &error));
  g_assert_no_error (error);
  g_assert_true (create_bucket_sync (other, &created, &error));
  g_assert_no_error (error);
  g_assert_false (created);
}

/* ------------------------------------------------------------------------------------- */
/* The AWS CLI (Debian's v2, /usr/bin/aws) reads and writes the same objects             */

static GSubprocessLauncher *
aws_launcher (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY,
                                TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_DEFAULT_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_CONFIG_FILE", "/nonexistent", TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_EC2_METADATA_DISABLED", "true", TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_PAGER", "", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "AWS_PROFILE");
  g_subprocess_launcher_unsetenv (launcher, "AWS_SESSION_TOKEN");
  return launcher;
}

static void
test_aws_cli (void)
{
  g_autoptr(AssayS3Client) client = make_client ();
  g_autoptr(GBytes) ours = random_bytes (8 * MIB);
  g_autoptr(GBytes) theirs = random_bytes (9 * MIB); /* above the CLI's 8 MiB: multipart */
  g_autoptr(GBytes) from_cli = NULL;
  g_autoptr(GBytes) back = NULL;
  g_autoptr(GSubprocessLauncher) reader = NULL;
  g_autoptr(GSubprocessLauncher) writer = NULL;
  g_autoptr(GSubprocess) get = NULL;
  g_autoptr(GSubprocess) put = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *file = NULL;
  const char *endpoint = assay_test_server_get_url (proxy);
  int fd;

  if (!g_file_test ("/usr/bin/aws", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no AWS CLI at /usr/bin/aws: run ./run deps");
      return;
    }

  /* Assay writes, the CLI reads. */
  etag = put_sync (client, "interop/from-assay", ours, NULL, ASSAY_S3_PUT_NONE, &error);
  g_assert_no_error (error);
  reader = aws_launcher (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  get = g_subprocess_launcher_spawn (reader, &error, "/usr/bin/aws", "--endpoint-url", endpoint,
                                     "s3", "cp", "--no-progress",
                                     "s3://" ASSAY_TEST_BUCKET "/interop/from-assay", "-", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate (get, NULL, NULL, &from_cli, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (get));
  g_assert_cmpint (g_subprocess_get_exit_status (get), ==, 0);
  g_assert_true (g_bytes_equal (from_cli, ours));

  /* The CLI writes (in parts), Assay reads. */
  fd = g_file_open_tmp ("assay-interop-XXXXXX", &file, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (file, g_bytes_get_data (theirs, NULL),
                                      (gssize) g_bytes_get_size (theirs), &error));
  writer = aws_launcher (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  put = g_subprocess_launcher_spawn (writer, &error, "/usr/bin/aws", "--endpoint-url", endpoint,
                                     "s3", "cp", "--no-progress", file,
                                     "s3://" ASSAY_TEST_BUCKET "/interop/from-cli", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (put, NULL, &error));
  g_assert_no_error (error);
  g_remove (file);

  info = get_sync (client, "interop/from-cli", &back, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, theirs));
  g_assert_cmpuint (info->size, ==, 9 * MIB);
  g_test_message ("the CLI's object has the ETag %s", info->etag);
}

/* ------------------------------------------------------------------------------------- */
/* Failures                                                                               */

static void
test_wrong_secret (void)
{
  g_autoptr(AssayTestServer) strict = assay_test_server_start_proxy (s3rver, "s3");
  g_autoptr(AssayS3Client) client =
    make_client_full (assay_test_server_get_url (strict), ASSAY_TEST_BUCKET, "not-the-secret",
                      "the test's deliberately wrong credentials", 3, 5);
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  etag = put_sync (client, "refused/object", data, NULL, ASSAY_S3_PUT_NONE, &error);
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_ACCESS_DENIED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "the test's deliberately wrong credentials"));
  g_assert_nonnull (strstr (error->message, "SignatureDoesNotMatch"));
  g_assert_cmpint (assay_s3_error_to_store_error (error), ==, ASSAY_STORE_ERROR_ACCESS_DENIED);
  g_clear_error (&error);

  /* HEAD has no body: the status alone says it. */
  info = head_sync (client, "refused/object", &error);
  g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (error->message, "the test's deliberately wrong credentials"));

  /* Refused once each, not retried; nothing reached s3rver. */
  g_assert_cmpuint (assay_test_server_count_refused (strict), ==, 2);
  g_assert_cmpuint (assay_test_server_count_requests (strict, NULL, NULL), ==, 0);
}

static guint16
closed_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);
  return ntohs (addr.sin_port);
}

static void
test_unreachable (void)
{
  guint16 port = closed_port ();
  g_autofree char *endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_autofree char *where = g_strdup_printf ("127.0.0.1:%u", port);
  g_autoptr(AssayS3Client) client = make_client_full (endpoint, ASSAY_TEST_BUCKET,
                                                      ASSAY_TEST_SECRET_ACCESS_KEY, "the test",
                                                      2, 2);
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  gint64 start = g_get_monotonic_time ();

  etag = put_sync (client, "k", data, NULL, ASSAY_S3_PUT_NONE, &error);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (error->domain == ASSAY_AWS_ERROR);
  g_assert_nonnull (strstr (error->message, where));
  g_assert_cmpint (assay_s3_error_to_store_error (error), ==, ASSAY_STORE_ERROR_UNAVAILABLE);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
}

/* A listening socket whose queue is full: connections to it hang in SYN-SENT. */
static void
test_connect_timeout (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int fillers[4];
  g_autofree char *endpoint = NULL;
  g_autofree char *where = NULL;
  g_autoptr(AssayS3Client) client = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  gint64 start, elapsed;

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  g_assert_cmpint (listen (fd, 0), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (fillers); i++)
    {
      fillers[i] = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect (fillers[i], (struct sockaddr *) &addr, sizeof addr);
    }

  endpoint = g_strdup_printf ("http://127.0.0.1:%u", ntohs (addr.sin_port));
  where = g_strdup_printf ("127.0.0.1:%u", ntohs (addr.sin_port));
  client = make_client_full (endpoint, ASSAY_TEST_BUCKET, ASSAY_TEST_SECRET_ACCESS_KEY, "the test",
                             1, 1);
  start = g_get_monotonic_time ();
  etag = put_sync (client, "k", data, NULL, ASSAY_S3_PUT_NONE, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_nonnull (error);
  g_test_message ("after %" G_GINT64_FORMAT " ms: %s", elapsed / 1000, error->message);
  g_assert_error (error, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_UNREACHABLE);
  g_assert_nonnull (strstr (error->message, where));
  g_assert_cmpint (elapsed, <, 5 * G_USEC_PER_SEC);

  for (guint i = 0; i < G_N_ELEMENTS (fillers); i++)
    close (fillers[i]);
  close (fd);
}

/* An in-process server that answers what the test says. */
typedef struct
{
  guint       status;
  const char *body;
  const char *etag; /* NULL: none */
  guint       requests;
} Answer;

static void
answer_cb (SoupServer        *server,
           SoupServerMessage *message,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  Answer *answer = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);

  answer->requests++;
  soup_server_message_set_status (message, answer->status, NULL);
  if (answer->etag != NULL)
    soup_message_headers_replace (headers, "ETag", answer->etag);
  soup_server_message_set_response (message, "application/xml", SOUP_MEMORY_STATIC, answer->body,
                                    strlen (answer->body));
}

static void
test_malformed_answers (void)
{
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayS3Client) client = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static ("hello", 5);
  GSList *uris;
  g_autofree char *endpoint = NULL;
  Answer answer = { 0 };
  static const char * const garbage[] = {
    "", "this is not XML", "<ListBucketResult><IsTruncated>fal", "<html>oops</html>",
    "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
    "\xff\xfe<\x00L\x00",
  };

  soup_server_add_handler (server, NULL, answer_cb, &answer, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  endpoint = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  client = make_client_full (endpoint, ASSAY_TEST_BUCKET, ASSAY_TEST_SECRET_ACCESS_KEY,
                             "the garbage test's credentials", 3, 5);

  /* Listings that are not listings. */
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      g_autoptr(AssayObjectList) list = NULL;

      answer = (Answer) { 200, garbage[i], NULL, 0 };
      list = list_sync (client, "p/", NULL, 0, &error);
      g_test_message ("%s", error->message);
      g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED);
      g_assert_null (list);
      g_assert_cmpuint (answer.requests, ==, 1);
      g_clear_error (&error);
    }

  /* A copy whose 200 is truncated, and one whose 200 is an <Error> (retried). */
  {
    answer = (Answer) { 200, "<CopyObjectResult><ETag>&quot;abc", NULL, 0 };
    g_assert_false (copy_sync (client, "a", "b", &error));
    g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED);
    g_clear_error (&error);

    answer = (Answer) { 200, "<Error><Code>InternalError</Code><Message>late</Message></Error>",
                        NULL, 0 };
    g_assert_false (copy_sync (client, "a", "b", &error));
    g_test_message ("%s", error->message);
    g_assert_true (error->domain == ASSAY_S3_ERROR || error->domain == ASSAY_AWS_ERROR);
    g_assert_cmpuint (answer.requests, ==, 3); /* every attempt */
    g_clear_error (&error);

    answer = (Answer) { 200, "<Error><Code>AccessDenied</Code><Message>no</Message></Error>",
                        NULL, 0 };
    g_assert_false (copy_sync (client, "a", "b", &error));
    g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_ACCESS_DENIED);
    g_assert_cmpuint (answer.requests, ==, 1);
    g_clear_error (&error);
  }

  /* Error answers whose bodies are garbage: the status decides. */
  {
    g_autofree char *etag = NULL;
    g_autoptr(AssayObjectInfo) info = NULL;

    answer = (Answer) { 403, "<Error><Code>Acc", NULL, 0 };
    etag = put_sync (client, "k", data, NULL, ASSAY_S3_PUT_NONE, &error);
    g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_ACCESS_DENIED);
    g_assert_nonnull (strstr (error->message, "the garbage test's credentials"));
    g_clear_error (&error);

    answer = (Answer) { 500, "\x01\x02 not xml", NULL, 0 };
    info = get_sync (client, "k", NULL, &error);
    g_test_message ("%s", error->message);
    g_assert_nonnull (error);
    g_assert_null (info);
    g_assert_cmpuint (answer.requests, ==, 3);
    g_clear_error (&error);
  }

  /* Successes that do not hold what they should. */
  {
    g_autofree char *wrong = NULL;
    g_autofree char *none = NULL;
    g_autoptr(AssayObjectInfo) info = NULL;

    answer = (Answer) { 200, "", "\"00000000000000000000000000000000\"", 0 };
    wrong = put_sync (client, "k", data, NULL, ASSAY_S3_PUT_NONE, &error);
    g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BAD_DIGEST);
    g_assert_null (wrong);
    g_clear_error (&error);

    answer = (Answer) { 200, "", NULL, 0 };
    none = put_sync (client, "k", data, NULL, ASSAY_S3_PUT_NONE, &error);
    g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED);
    g_clear_error (&error);

    /* A GET whose bytes are not the ETag's MD5. */
    answer = (Answer) { 200, "tampered", "\"5d41402abc4b2a76b9719d911017c592\"", 0 };
    info = get_sync (client, "k", NULL, &error);
    g_assert_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BAD_DIGEST);
    g_assert_null (info);
    g_clear_error (&error);
  }

  soup_server_disconnect (server);
}

static void
test_proxy_refused_none (void)
{
  /* Every request of this program's clients passed botocore's check. */
  g_assert_cmpuint (assay_test_server_count_refused (proxy), ==, 0);
  g_assert_cmpuint (assay_test_server_count_requests (proxy, NULL, NULL), >, 50);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  s3rver = assay_test_server_start_s3rver ();
  proxy = assay_test_server_start_proxy (s3rver, "s3");

  g_test_add_func ("/integration/s3/round-trip", test_round_trip);
  g_test_add_func ("/integration/s3/unsigned-payload", test_unsigned_payload);
  g_test_add_func ("/integration/s3/parallel", test_parallel);
  g_test_add_func ("/integration/s3/metadata", test_metadata);
  g_test_add_func ("/integration/s3/list", test_list);
  g_test_add_func ("/integration/s3/copy", test_copy);
  g_test_add_func ("/integration/s3/odd-keys", test_odd_keys);
  g_test_add_func ("/integration/s3/errors", test_errors);
  g_test_add_func ("/integration/s3/bucket", test_bucket);
  g_test_add_func ("/integration/s3/aws-cli", test_aws_cli);
  g_test_add_func ("/integration/s3/wrong-secret", test_wrong_secret);
  g_test_add_func ("/integration/s3/unreachable", test_unreachable);
  g_test_add_func ("/integration/s3/connect-timeout", test_connect_timeout);
  g_test_add_func ("/integration/s3/malformed-answers", test_malformed_answers);
  g_test_add_func ("/integration/s3/proxy-refused-none", test_proxy_refused_none);

  status = g_test_run ();

  assay_test_server_stop (proxy);
  assay_test_server_stop (s3rver);
  return status;
}
