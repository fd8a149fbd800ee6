/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The submit pipeline on the real local store: what lands in the store is the file. */
#include "config.h"

#include "assay-chunk-decoder.h"
#include "assay-job.h"
#include "assay-local-store.h"
#include "assay-submitter.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  char *dir;
  AssayStore *store;
  AssayKey *key;
  AssayJournal *journal;
} Fixture;

static GThread *test_thread;

/* Every property notification (every state change) happens on the caller's thread. */
static void
on_caller_thread_cb (GObject    *object,
                     GParamSpec *pspec,
                     gpointer    data)
{
  g_assert_true (g_thread_self () == test_thread);
}

/* Runs the main context until *@result is set. */
static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = g_file_enumerate_children (
    file, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);

  if (children != NULL)
    {
      GFileInfo *info;

      while ((info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

          remove_tree (child);
          g_object_unref (info);
        }
    }
  g_file_delete (file, NULL, NULL);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *store_dir = NULL;
  g_autofree char *journal_dir = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  f->dir = g_dir_make_tmp ("assay-submitter-XXXXXX", &error);
  g_assert_no_error (error);
  store_dir = g_build_filename (f->dir, "store", NULL);
  journal_dir = g_build_filename (f->dir, "journal", NULL);
  f->store = ASSAY_STORE (assay_local_store_new (store_dir));
  f->key = assay_key_generate ();
  f->journal = assay_journal_new (journal_dir);

  assay_store_init_async (f->store, NULL, store_result_cb, &result);
  wait_for (&result);
  assay_store_init_finish (f->store, result, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->store);
  g_clear_object (&f->key);
  g_clear_object (&f->journal);
  remove_tree (f->dir);
  g_free (f->dir);
}

/* A file of @size bytes: text-like where @compressible, else random. */
static char *
make_file (Fixture    *f,
           const char *name,
           gsize       size,
           gboolean    compressible)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autofree guint8 *data = g_malloc (size + 1);
  g_autoptr(GRand) rand = g_rand_new_with_seed (size);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < size; i++)
    data[i] = compressible ? "assay submits files "[i % 20] ^ (i % 4096 == 0)
                           : (guint8) g_rand_int (rand);
  g_file_set_contents (path, (const char *) data, size, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

static char *
run_submitter (AssaySubmitter  *submitter,
               GCancellable    *cancellable,
               GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_submitter_run_async (submitter, cancellable, store_result_cb, &result);
  wait_for (&result);
  return assay_submitter_run_finish (submitter, result, error);
}

static JsonObject *
get_job (Fixture    *f,
         const char *id)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *item;

  assay_store_get_item_async (f->store, ASSAY_TABLE_JOBS, id, NULL, store_result_cb, &result);
  wait_for (&result);
  item = assay_store_get_item_finish (f->store, result, &error);
  g_assert_no_error (error);
  return item;
}

/* Every object under @prefix, in order. */
static GPtrArray *
list_objects (Fixture    *f,
              const char *prefix)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *token = NULL;

  do
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayObjectList) list = NULL;

      assay_store_list_objects_async (f->store, prefix, token, 100, NULL, store_result_cb,
                                      &result);
      wait_for (&result);
      list = assay_store_list_objects_finish (f->store, result, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < list->objects->len; i++)
        g_ptr_array_add (keys,
                         g_strdup (((AssayObjectInfo *) g_ptr_array_index (list->objects, i))->key));
      g_free (token);
      token = g_strdup (list->next_token);
    }
  while (token != NULL);
  return keys;
}

/* Downloads and decodes every chunk of @job and compares the result with @path. */
static void
assert_stored_file_equals (Fixture    *f,
                           AssayJob   *job,
                           const char *path)
{
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(AssayChunkDecoder) decoder = assay_chunk_decoder_new (output, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  gsize expected_len;

  for (guint i = 0; i < assay_job_get_chunks (job); i++)
    {
      g_autofree char *key = g_strdup_printf ("%s/%06u", assay_job_get_file (job), i);
      g_autoptr(GOutputStream) chunk = g_memory_output_stream_new_resizable ();
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(AssayObjectInfo) info = NULL;
      g_autoptr(GBytes) bytes = NULL;

      assay_store_get_object_async (f->store, key, chunk, NULL, NULL, NULL, store_result_cb,
                                    &result);
      wait_for (&result);
      info = assay_store_get_object_finish (f->store, result, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-job"), ==,
                       assay_job_get_id (job));
      g_output_stream_close (chunk, NULL, NULL);
      bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (chunk));
      assay_chunk_decoder_push (decoder, bytes, NULL, &error);
      g_assert_no_error (error);
    }
  assay_chunk_decoder_finish (decoder, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (output, NULL, NULL);

  g_file_get_contents (path, &expected, &expected_len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (output)),
                   g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (output)),
                   expected, expected_len);
}

static void
stage_cb (GObject    *object,
          GParamSpec *pspec,
          gpointer    data)
{
  GArray *stages = data;
  AssaySubmitStage stage = assay_submitter_get_stage (ASSAY_SUBMITTER (object));

  g_array_append_val (stages, stage);
}

static void
check_round_trip (Fixture  *f,
                  gsize     size,
                  gsize     chunk_size,
                  gboolean  compressible,
                  guint64   bandwidth)
{
  g_autofree char *path = make_file (f, "input.bin", size, compressible);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(AssaySubmitter) submitter = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GArray) stages = g_array_new (FALSE, FALSE, sizeof (AssaySubmitStage));
  g_autoptr(AssayJournalEntry) entry = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *job_id = NULL;
  gsize len;
  AssaySubmitSettings settings;
  const AssaySubmitStage expected_stages[] = {
    ASSAY_SUBMIT_STAGE_CREATING, ASSAY_SUBMIT_STAGE_UPLOADING, ASSAY_SUBMIT_STAGE_FINISHING,
    ASSAY_SUBMIT_STAGE_DONE,
  };

  g_test_message ("%" G_GSIZE_FORMAT " bytes, chunks of %" G_GSIZE_FORMAT, size, chunk_size);
  assay_submit_settings_init (&settings);
  settings.chunk_size = chunk_size;
  settings.preset = 0;
  settings.concurrency = 3;
  settings.bandwidth = bandwidth;
  submitter = assay_submitter_new (f->store, f->key, f->journal, file, &settings);
  g_signal_connect (submitter, "notify::stage", G_CALLBACK (stage_cb), stages);

  job_id = run_submitter (submitter, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (job_id, ==, assay_submitter_get_job_id (submitter));
  g_assert_cmpmem (stages->data, stages->len * sizeof (AssaySubmitStage), expected_stages,
                   sizeof expected_stages);
  g_assert_cmpuint (assay_submitter_get_bytes_read (submitter), ==, size);
  g_assert_false (assay_submitter_get_resumed (submitter));

  item = get_job (f, job_id);
  g_assert_nonnull (item);
  job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);
  g_assert_no_error (error);
  assay_job_verify (job, &error);
  g_assert_no_error (error);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_UPLOADED);
  g_assert_cmpstr (assay_job_get_client (job), ==, assay_key_get_client_id (f->key));
  g_assert_cmpstr (assay_job_get_bucket (job), ==, assay_store_get_bucket (f->store));
  g_assert_nonnull (assay_job_get_uploaded (job));
  g_assert_cmpuint (assay_job_get_chunks (job), ==, assay_submitter_get_chunks (submitter));
  g_assert_cmpuint (assay_job_get_chunks (job), ==,
                    (assay_submitter_get_bytes_compressed (submitter) + chunk_size - 1) /
                      chunk_size);

  prefix = g_strconcat (assay_job_get_file (job), "/", NULL);
  keys = list_objects (f, prefix);
  g_assert_cmpuint (keys->len, ==, assay_job_get_chunks (job));
  assert_stored_file_equals (f, job, path);

  /* the journal remembers the content, for the watcher's once-per-content rule */
  entry = assay_journal_lookup (f->journal, path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->state, ==, ASSAY_JOURNAL_SUBMITTED);
  g_assert_cmpstr (entry->job, ==, job_id);
  g_file_get_contents (path, &contents, &len, &error);
  digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) contents, len);
  g_assert_cmpstr (entry->hash, ==, digest);

  g_unlink (path);
}

static void
test_round_trips (Fixture       *f,
                  gconstpointer  data)
{
  check_round_trip (f, 0, 64 * 1024, TRUE, 0);
  check_round_trip (f, 1, 64 * 1024, FALSE, 0);
  check_round_trip (f, 3 * 1024 * 1024, 64 * 1024, FALSE, 0);
  check_round_trip (f, 6 * 1024 * 1024, 256 * 1024, TRUE, 0);
  /* paced uploads: chunks wait in the pipeline with nothing in flight */
  check_round_trip (f, 1024 * 1024, 64 * 1024, FALSE, 4 * 1024 * 1024);
}

/* The caller's context left free (nobody iterates it) while the encoder thread works,
 * runs to its end, or stops for a cancel: the encoder's callbacks still run on the
 * caller's thread, never on the encoder's own (which would join itself at the end). */
static void
test_free_context (Fixture       *f,
                   gconstpointer  data)
{
  const gsize sizes[] = { 0, 1000, 2 * 1024 * 1024, 8 * 1024 * 1024 };

  for (guint i = 0; i < 2 * G_N_ELEMENTS (sizes); i++)
    {
      gboolean cancel = i >= G_N_ELEMENTS (sizes);
      g_autofree char *path = make_file (f, "free-context.bin", sizes[i % G_N_ELEMENTS (sizes)],
                                         FALSE);
      g_autoptr(GFile) file = g_file_new_for_path (path);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(AssaySubmitter) submitter = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *job_id = NULL;
      AssaySubmitSettings settings;

      assay_submit_settings_init (&settings);
      settings.chunk_size = 64 * 1024;
      submitter = assay_submitter_new (f->store, f->key, f->journal, file, &settings);
      g_signal_connect (submitter, "notify", G_CALLBACK (on_caller_thread_cb), NULL);
      assay_submitter_run_async (submitter, cancellable, store_result_cb, &result);
      while (assay_submitter_get_stage (submitter) < ASSAY_SUBMIT_STAGE_UPLOADING && result == NULL)
        g_main_context_iteration (NULL, TRUE);
      if (cancel)
        g_cancellable_cancel (cancellable);
      g_usleep (300 * 1000);
      wait_for (&result);
      job_id = assay_submitter_run_finish (submitter, result, &error);
      if (cancel)
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      else
        {
          g_assert_no_error (error);
          g_assert_nonnull (job_id);
        }
      g_unlink (path);
    }
}

static void
test_not_a_file (Fixture       *f,
                 gconstpointer  data)
{
  const char *cases[] = { "", "missing" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, cases[i], NULL);
      g_autoptr(GFile) file = g_file_new_for_path (path);
      g_autoptr(AssaySubmitter) submitter = assay_submitter_new (f->store, f->key, f->journal,
                                                                 file, NULL);
      g_autoptr(GError) error = NULL;
      g_autofree char *job_id = run_submitter (submitter, NULL, &error);

      g_assert_null (job_id);
      g_assert_error (error, ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_FILE);
      g_assert_nonnull (strstr (error->message, path));
      g_assert_cmpint (assay_submitter_get_stage (submitter), ==, ASSAY_SUBMIT_STAGE_FAILED);
    }
}

static gboolean
cancel_after_first_chunk_cb (gpointer data)
{
  gpointer *pair = data;
  AssaySubmitter *submitter = pair[0];

  if (assay_submitter_get_chunks (submitter) == 0)
    return G_SOURCE_CONTINUE;
  g_cancellable_cancel (pair[1]);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *path = make_file (f, "big.bin", 8 * 1024 * 1024, FALSE);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AssaySubmitter) submitter = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(AssayJournalEntry) entry = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *job_id = NULL;
  AssaySubmitSettings settings;
  gpointer pair[2];

  /* slow enough to be cancelled halfway: 64 KiB chunks at 1 MiB/s */
  assay_submit_settings_init (&settings);
  settings.preset = 0;
  settings.chunk_size = 64 * 1024;
  settings.bandwidth = 1024 * 1024;
  submitter = assay_submitter_new (f->store, f->key, f->journal, file, &settings);
  pair[0] = submitter;
  pair[1] = cancellable;
  g_timeout_add (10, cancel_after_first_chunk_cb, pair);

  job_id = run_submitter (submitter, cancellable, &error);
  g_assert_null (job_id);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (assay_submitter_get_stage (submitter), ==, ASSAY_SUBMIT_STAGE_CANCELLED);

  /* the job ended in ERROR, its chunks are gone, and the journal records the cancel */
  item = get_job (f, assay_submitter_get_job_id (submitter));
  job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);
  g_assert_no_error (error);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_ERROR);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "CANCELLED");
  g_assert_null (assay_job_get_queue (job));
  prefix = g_strconcat (assay_job_get_file (job), "/", NULL);
  keys = list_objects (f, prefix);
  g_assert_cmpuint (keys->len, ==, 0);
  entry = assay_journal_lookup (f->journal, path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->state, ==, ASSAY_JOURNAL_CANCELLED);
  g_assert_cmpuint (entry->size, ==, 8 * 1024 * 1024);
  g_assert_cmpstr (entry->job, ==, assay_submitter_get_job_id (submitter));
  g_assert_null (entry->hash);

  /* and the original file is untouched */
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));

  /* a retry submits it again, as a new job */
  {
    g_autoptr(AssaySubmitter) retry = NULL;
    g_autoptr(AssayJournalEntry) after = NULL;
    g_autofree char *retry_id = NULL;

    settings.bandwidth = 0;
    retry = assay_submitter_new (f->store, f->key, f->journal, file, &settings);
    retry_id = run_submitter (retry, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (retry_id);
    g_assert_cmpstr (retry_id, !=, job_id ? job_id : assay_submitter_get_job_id (submitter));
    after = assay_journal_lookup (f->journal, path, &error);
    g_assert_nonnull (after);
    g_assert_cmpint (after->state, ==, ASSAY_JOURNAL_SUBMITTED);
    g_assert_cmpstr (after->job, ==, retry_id);
  }
}

static gboolean
touch_file_cb (gpointer data)
{
  gpointer *pair = data;
  AssaySubmitter *submitter = pair[0];
  g_autoptr(GFileOutputStream) out = NULL;

  if (assay_submitter_get_chunks (submitter) == 0)
    return G_SOURCE_CONTINUE;
  out = g_file_append_to (pair[1], G_FILE_CREATE_NONE, NULL, NULL);
  g_output_stream_write_all (G_OUTPUT_STREAM (out), "more", 4, NULL, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
test_changed (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *path = make_file (f, "growing.bin", 2 * 1024 * 1024, FALSE);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(AssaySubmitter) submitter = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) item = NULL;
  g_autofree char *job_id = NULL;
  AssaySubmitSettings settings;
  gpointer pair[2];

  assay_submit_settings_init (&settings);
  settings.preset = 0;
  settings.chunk_size = 64 * 1024;
  settings.bandwidth = 4 * 1024 * 1024;
  submitter = assay_submitter_new (f->store, f->key, f->journal, file, &settings);
  pair[0] = submitter;
  pair[1] = file;
  g_timeout_add (10, touch_file_cb, pair);

  job_id = run_submitter (submitter, NULL, &error);
  g_assert_null (job_id);
  g_assert_error (error, ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_CHANGED);
  item = get_job (f, assay_submitter_get_job_id (submitter));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (item, "status"),
                                                  "S"),
                   ==, "ERROR");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  test_thread = g_thread_self ();

  g_test_add ("/common/submitter/round-trips", Fixture, NULL, fixture_set_up, test_round_trips,
              fixture_tear_down);
  g_test_add ("/common/submitter/free-context", Fixture, NULL, fixture_set_up,
              test_free_context, fixture_tear_down);
  g_test_add ("/common/submitter/not-a-file", Fixture, NULL, fixture_set_up, test_not_a_file,
              fixture_tear_down);
  g_test_add ("/common/submitter/cancel", Fixture, NULL, fixture_set_up, test_cancel,
              fixture_tear_down);
  g_test_add ("/common/submitter/changed", Fixture, NULL, fixture_set_up, test_changed,
              fixture_tear_down);

  return g_test_run ();
}
