/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "worker-fixture.h"
#include "assay-chunk-encoder.h"
#include "assay-defs.h"
#include "assay-id.h"
#include "assay-local-store.h"
#include "assay-result.h"
#include "assay-time.h"

#include <glib/gstdio.h>
#include <string.h>

void
worker_result_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

void
worker_wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
timed_out_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context until @done says so or @timeout_ms pass. Returns: done's last */
gboolean
worker_wait_until (gboolean (*done) (gpointer data),
                   gpointer   data,
                   guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add (timeout_ms, timed_out_cb, &timed_out);
  guint tick = g_timeout_add (20, tick_cb, NULL);
  gboolean ok;

  while (!(ok = done (data)) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timeout);
  g_source_remove (tick);
  return ok;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* Runs the main context for @ms. */
void
worker_sleep (guint ms)
{
  worker_wait_until (never, NULL, ms);
}

static void
remove_tree (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) < 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* assay-worker refuses to start without virus definitions in the store: a tiny set, one
 * .ndb rule that no test file matches (tests/scan tests the scanning itself). */
static void
publish_definitions (WorkerFixture *f)
{
  g_autofree char *dir = g_build_filename (f->dir, "fixture-defs", NULL);
  g_autofree char *ndb = g_build_filename (dir, "fixture.ndb", NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(AssayDefsManifest) manifest = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (ndb, "Assay.Fixture.Never:0:*:6e657665722d6d617463682d31\n", -1, &error);
  g_assert_no_error (error);
  assay_defs_publish_async (f->store, dir, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  manifest = assay_defs_publish_finish (f->store, result, &error);
  g_assert_no_error (error);
}

void
worker_fixture_set_up (WorkerFixture *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *journal_dir = NULL;

  f->dir = g_dir_make_tmp ("assay-worker-test-XXXXXX", &error);
  g_assert_no_error (error);
  f->store_dir = g_build_filename (f->dir, "store", NULL);
  f->work_dir = g_build_filename (f->dir, "work", NULL);
  f->engine_log = g_build_filename (f->dir, "engine.log", NULL);
  journal_dir = g_build_filename (f->dir, "journal", NULL);
  f->store = ASSAY_STORE (assay_local_store_new (f->store_dir));
  f->key = assay_key_generate ();
  f->journal = assay_journal_new (journal_dir);
  g_file_set_contents (f->engine_log, "", 0, &error);
  g_assert_no_error (error);

  assay_store_init_async (f->store, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  assay_store_init_finish (f->store, result, &error);
  g_assert_no_error (error);
  publish_definitions (f);
}

/* Drops @object and waits for it to be finalized: a store's thread may still hold a
 * task (and so the store) for a moment after the task's callback ran. */
void
worker_finalize_object (gpointer object)
{
  gpointer weak = object;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_object_add_weak_pointer (object, &weak);
  g_object_unref (object);
  while (weak != NULL && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  if (weak != NULL)
    g_error ("%s %p is still referenced", G_OBJECT_TYPE_NAME (weak), weak);
}

void
worker_fixture_tear_down (WorkerFixture *f,
                          gconstpointer  data)
{
  worker_finalize_object (g_steal_pointer (&f->store));
  g_clear_object (&f->key);
  g_clear_object (&f->journal);
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->store_dir);
  g_free (f->work_dir);
  g_free (f->engine_log);
}

/**
 * worker_fixture_engine:
 * Writes an engine script: /bin/sh running @body, where @LOG@ stands for the engine
 * log. The engine sees the file as $1 and the job as $ASSAY_JOB.
 */
char *
worker_fixture_engine (WorkerFixture *f,
                       const char    *name,
                       const char    *body)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr(GString) text = g_string_new ("#!/bin/sh\n");
  g_autoptr(GError) error = NULL;

  g_string_append (text, body);
  g_string_replace (text, "@LOG@", f->engine_log, 0);
  g_string_replace (text, "@DIR@", f->dir, 0);
  g_file_set_contents (path, text->str, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
  return g_shell_quote (path);
}

/* A new file of @size pseudo-random bytes. */
char *
worker_fixture_file (WorkerFixture *f,
                     gsize          size)
{
  g_autofree char *name = g_strdup_printf ("file-%u", f->files++);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autofree guint8 *data = g_malloc (size + 1);
  g_autoptr(GRand) rand = g_rand_new_with_seed (f->files * 7919 + size);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int (rand);
  g_file_set_contents (path, (const char *) data, size, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

char *
worker_fixture_submit (WorkerFixture             *f,
                       const char                *path,
                       const AssaySubmitSettings *settings)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(AssaySubmitter) submitter = assay_submitter_new (f->store, f->key, f->journal, file,
                                                             settings);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *id;

  assay_submitter_run_async (submitter, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  id = assay_submitter_run_finish (submitter, result, &error);
  g_assert_no_error (error);
  return id;
}

/* The .xz chunks of @content (preset 0), @chunk_size bytes each. */
GPtrArray *
worker_xz_chunks (GBytes *content,
                  gsize   chunk_size)
{
  g_autoptr(GInputStream) input = g_memory_input_stream_new_from_bytes (content);
  g_autoptr(AssayChunkEncoder) encoder = assay_chunk_encoder_new (input, 0, 1, chunk_size);
  GPtrArray *chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GBytes *chunk;
  g_autoptr(GError) error = NULL;

  while ((chunk = assay_chunk_encoder_next (encoder, NULL, &error)) != NULL)
    g_ptr_array_add (chunks, chunk);
  g_assert_no_error (error);
  return chunks;
}

void
worker_fixture_put_chunk (WorkerFixture *f,
                          const char    *file,
                          guint          index,
                          GBytes        *data,
                          const char    *owner)
{
  g_autofree char *key = g_strdup_printf ("%s/%06u", file, index);
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  g_hash_table_insert (metadata, "assay-job", (gpointer) owner);
  assay_store_put_object_async (f->store, key, data, metadata, NULL, NULL, NULL,
                                worker_result_cb, &result);
  worker_wait_for (&result);
  etag = assay_store_put_object_finish (f->store, result, &error);
  g_assert_no_error (error);
}

/* Applies @update to job @id, unconditionally. */
void
worker_fixture_update (WorkerFixture *f,
                       const char    *id,
                       AssayUpdate   *update)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) item = NULL;

  assay_store_update_item_async (f->store, ASSAY_TABLE_JOBS, id, update, NULL, ASSAY_RETURN_NONE,
                                 NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  item = assay_store_update_item_finish (f->store, result, &error);
  g_assert_no_error (error);
}

/* A job put together by hand, as a client (or an attacker) could. Returns: its id */
char *
worker_fixture_craft (WorkerFixture     *f,
                      const WorkerCraft *craft)
{
  g_autofree char *file = assay_id_new (ASSAY_ID_FILE);
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GPtrArray) chunks = NULL;
  g_autoptr(GBytes) content = NULL;
  g_autoptr(AssayCondition) condition = assay_condition_not_exists ("id");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *now = assay_time_now ();
  JsonObject *item;
  const char *id;

  job = assay_job_new (craft->version ? craft->version : PACKAGE_VERSION,
                       craft->bucket ? craft->bucket : assay_store_get_bucket (f->store),
                       assay_store_get_region (f->store), file, f->key, &error);
  g_assert_no_error (error);
  id = assay_job_get_id (job);

  if (craft->chunks != NULL)
    chunks = g_ptr_array_ref (craft->chunks);
  else
    {
      content = craft->content ? g_bytes_ref (craft->content)
                               : g_bytes_new_static ("assay test file\n", 16);
      chunks = worker_xz_chunks (content, ASSAY_CHUNK_SIZE_DEFAULT);
    }
  for (guint i = 0; i < chunks->len; i++)
    if (i != craft->missing_chunk)
      worker_fixture_put_chunk (f, file, i, g_ptr_array_index (chunks, i),
                                craft->chunk_owner ? craft->chunk_owner : id);

  node = assay_job_to_item (job);
  item = json_node_get_object (node);
  json_object_set_member (item, "status", assay_value_string (craft->status ? craft->status
                                                                            : "UPLOADED"));
  json_object_set_member (item, "chunks",
                          assay_value_number (craft->chunks_count ? craft->chunks_count
                                                                  : chunks->len));
  if (craft->status == NULL || g_str_equal (craft->status, "UPLOADED"))
    json_object_set_member (item, "uploaded", assay_value_string (now));
  if (craft->tamper != NULL)
    craft->tamper (item, craft->tamper_data);

  assay_store_put_item_async (f->store, ASSAY_TABLE_JOBS, item, condition, NULL,
                              worker_result_cb, &result);
  worker_wait_for (&result);
  assay_store_put_item_finish (f->store, result, &error);
  g_assert_no_error (error);
  return g_strdup (id);
}

JsonObject *
worker_fixture_get_item (WorkerFixture *f,
                         AssayTable     table,
                         const char    *id)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *item;

  assay_store_get_item_async (f->store, table, id, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  item = assay_store_get_item_finish (f->store, result, &error);
  g_assert_no_error (error);
  return item;
}

AssayJob *
worker_fixture_get_job (WorkerFixture *f,
                        const char    *id)
{
  g_autoptr(JsonObject) item = worker_fixture_get_item (f, ASSAY_TABLE_JOBS, id);
  g_autoptr(GError) error = NULL;
  AssayJob *job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);

  g_assert_no_error (error);
  return job;
}

typedef struct
{
  WorkerFixture *f;
  const char *id;
  AssayJob *job;
} FinalWait;

static gboolean
job_is_final (gpointer data)
{
  FinalWait *wait = data;

  g_clear_object (&wait->job);
  wait->job = worker_fixture_get_job (wait->f, wait->id);
  return assay_job_status_is_final (assay_job_get_status (wait->job));
}

/* Returns: (transfer full): job @id once it is PROCESSED or ERROR (fails the test after
 * @timeout_ms) */
AssayJob *
worker_fixture_wait_final (WorkerFixture *f,
                           const char    *id,
                           guint          timeout_ms)
{
  FinalWait wait = { f, id, NULL };

  if (!worker_wait_until (job_is_final, &wait, timeout_ms))
    g_error ("job %s is still %s after %u ms", id,
             assay_job_status_to_string (assay_job_get_status (wait.job)), timeout_ms);
  return wait.job;
}

/* Returns: (transfer full): the decrypted envelope of @job's result, as the worker wrote
 * it */
GBytes *
worker_fixture_open_result_text (WorkerFixture *f,
                                 AssayJob      *job)
{
  g_autoptr(JsonObject) item = worker_fixture_get_item (f, ASSAY_TABLE_RESULTS,
                                                        assay_job_get_result (job));
  g_autoptr(AssayResult) result = NULL;
  g_autoptr(GBytes) object = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *plaintext;

  result = assay_result_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_result_get_job (result), ==, assay_job_get_id (job));
  g_assert_cmpstr (assay_result_get_client (result), ==, assay_key_get_client_id (f->key));
  if (assay_result_get_payload_object (result) != NULL)
    {
      g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
      g_autoptr(GAsyncResult) got = NULL;
      g_autoptr(AssayObjectInfo) info = NULL;

      assay_store_get_object_async (f->store, assay_result_get_payload_object (result), output,
                                    NULL, NULL, NULL, worker_result_cb, &got);
      worker_wait_for (&got);
      info = assay_store_get_object_finish (f->store, got, &error);
      g_assert_no_error (error);
      g_output_stream_close (output, NULL, NULL);
      object = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
    }
  plaintext = assay_result_decrypt (result, f->key, object, &error);
  g_assert_no_error (error);
  return plaintext;
}

/* Returns: (transfer full): the decrypted envelope of @job's result */
JsonObject *
worker_fixture_open_result (WorkerFixture *f,
                            AssayJob      *job)
{
  g_autoptr(GBytes) plaintext = worker_fixture_open_result_text (f, job);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, g_bytes_get_data (plaintext, NULL),
                              g_bytes_get_size (plaintext), &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* Every object whose key starts with @prefix. */
guint
worker_fixture_count_objects (WorkerFixture *f,
                              const char    *prefix)
{
  g_autofree char *token = NULL;
  guint count = 0;

  do
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayObjectList) list = NULL;

      assay_store_list_objects_async (f->store, prefix, token, 1000, NULL, worker_result_cb,
                                      &result);
      worker_wait_for (&result);
      list = assay_store_list_objects_finish (f->store, result, &error);
      g_assert_no_error (error);
      count += list->objects->len;
      g_free (token);
      token = g_strdup (list->next_token);
    }
  while (token != NULL);
  return count;
}

/* Entries in @dir, hidden ones too; 0 when it does not exist. */
guint
worker_count_files (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  guint count = 0;

  while (handle != NULL && g_dir_read_name (handle) != NULL)
    count++;
  return count;
}

/* The result items in the store (its tables/results directory). */
guint
worker_fixture_count_results (WorkerFixture *f)
{
  g_autofree char *dir = g_build_filename (f->store_dir, "tables", "results", NULL);
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;
  guint count = 0;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    if (g_str_has_prefix (name, "result-") && g_str_has_suffix (name, ".json"))
      count++;
  return count;
}

/* How often the test engine ran for @job (any job when %NULL). */
guint
worker_fixture_engine_runs (WorkerFixture *f,
                            const char    *job)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint count = 0;

  g_assert_true (g_file_get_contents (f->engine_log, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0' && (job == NULL || g_str_has_prefix (lines[i], job)))
      count++;
  return count;
}

struct _WorkerSlowClient
{
  WorkerFixture *f;
  AssayJob *job;
  GPtrArray *chunks;
  guint next;
  guint interval_ms;
  guint source;
  gboolean done;
};

static void slow_client_step (WorkerSlowClient *client);

static gboolean
slow_client_step_cb (gpointer data)
{
  WorkerSlowClient *client = data;

  client->source = 0;
  slow_client_step (client);
  return G_SOURCE_REMOVE;
}

static void
slow_client_updated_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      data)
{
  WorkerSlowClient *client = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;

  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  g_assert_no_error (error);
  if (client->next == client->chunks->len)
    {
      client->done = TRUE;
      return;
    }
  client->next++;
  client->source = g_timeout_add (client->interval_ms, slow_client_step_cb, client);
}

static void
slow_client_stored_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      data)
{
  WorkerSlowClient *client = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = NULL;

  etag = assay_store_put_object_finish (ASSAY_STORE (source), result, &error);
  g_assert_no_error (error);
  assay_update_set (update, "chunks", assay_value_number (client->next + 1));
  condition = assay_condition_and (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADING")),
    assay_condition_compare ("chunks", ASSAY_COMPARE_LT, assay_value_number (client->next + 1)),
    NULL);
  assay_store_update_item_async (client->f->store, ASSAY_TABLE_JOBS,
                                 assay_job_get_id (client->job), update, condition,
                                 ASSAY_RETURN_NONE, NULL, slow_client_updated_cb, client);
}

static void
slow_client_step (WorkerSlowClient *client)
{
  if (client->next < client->chunks->len)
    {
      g_autofree char *key = g_strdup_printf ("%s/%06u", assay_job_get_file (client->job),
                                              client->next);
      g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);

      g_hash_table_insert (metadata, "assay-job", (gpointer) assay_job_get_id (client->job));
      assay_store_put_object_async (client->f->store, key, client->chunks->pdata[client->next],
                                    metadata, NULL, NULL, NULL, slow_client_stored_cb, client);
    }
  else
    {
      g_autoptr(AssayUpdate) update = assay_update_new ();
      g_autoptr(AssayCondition) condition = NULL;
      g_autofree char *now = assay_time_now ();

      assay_update_set (update, "status", assay_value_string ("UPLOADED"));
      assay_update_set (update, "uploaded", assay_value_string (now));
      assay_update_set (update, "chunks", assay_value_number (client->chunks->len));
      condition = assay_condition_compare ("status", ASSAY_COMPARE_EQ,
                                           assay_value_string ("UPLOADING"));
      assay_store_update_item_async (client->f->store, ASSAY_TABLE_JOBS,
                                     assay_job_get_id (client->job), update, condition,
                                     ASSAY_RETURN_NONE, NULL, slow_client_updated_cb, client);
    }
}

/* Creates the job (UPLOADING, no chunk) now, and uploads as the main context runs. */
WorkerSlowClient *
worker_slow_client_start (WorkerFixture *f,
                          GBytes        *content,
                          gsize          chunk_size,
                          guint          interval_ms)
{
  WorkerSlowClient *client = g_new0 (WorkerSlowClient, 1);
  g_autofree char *file = assay_id_new (ASSAY_ID_FILE);
  g_autoptr(JsonNode) item = NULL;
  g_autoptr(AssayCondition) condition = assay_condition_not_exists ("id");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  client->f = f;
  client->interval_ms = interval_ms;
  client->chunks = worker_xz_chunks (content, chunk_size);
  client->job = assay_job_new (PACKAGE_VERSION, assay_store_get_bucket (f->store),
                               assay_store_get_region (f->store), file, f->key, &error);
  g_assert_no_error (error);
  item = assay_job_to_item (client->job);
  assay_store_put_item_async (f->store, ASSAY_TABLE_JOBS, json_node_get_object (item), condition,
                              NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  assay_store_put_item_finish (f->store, result, &error);
  g_assert_no_error (error);
  client->source = g_timeout_add (interval_ms, slow_client_step_cb, client);
  return client;
}

const char *
worker_slow_client_get_id (WorkerSlowClient *client)
{
  return assay_job_get_id (client->job);
}

gboolean
worker_slow_client_is_done (gpointer client)
{
  return ((WorkerSlowClient *) client)->done;
}

void
worker_slow_client_free (WorkerSlowClient *client)
{
  g_assert_true (client->done);
  g_clear_handle_id (&client->source, g_source_remove);
  g_ptr_array_unref (client->chunks);
  g_object_unref (client->job);
  g_free (client);
}
