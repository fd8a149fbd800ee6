/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AssayJobList, the desktop app's model of jobs, without a display: on a local store with
 * a real watcher and submitter (no processor, so jobs stop at UPLOADED), a dropped file
 * becomes a row that follows its upload; Cancel ends the job CANCELLED in the store, and a
 * restart lists it cancelled without uploading it again; Retry submits it again as a new
 * job; Pause pauses the upload and Resume continues the same job from the journal; a job
 * lost on the way (CHUNKS_GONE…) is submitted again by itself, twice at most. */
#include "config.h"

#include "assay-job-list.h"
#include "assay-local-store.h"
#include "assay-condition.h"
#include "assay-journal.h"
#include "assay-outcome.h"

#include <glib/gstdio.h>

typedef struct
{
  char *dir;
  char *watch;
  AssayStore *store;
  AssayKey *key;
  AssayJobList *list;
} Fixture;

static void
init_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  gboolean *done = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (assay_store_init_finish (ASSAY_STORE (source), result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *store_dir = NULL;

  f->dir = g_dir_make_tmp ("assay-job-list-XXXXXX", &error);
  g_assert_no_error (error);
  f->watch = g_build_filename (f->dir, "watch", NULL);
  store_dir = g_build_filename (f->dir, "store", NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->watch, 0700), ==, 0);
  f->store = ASSAY_STORE (assay_local_store_new (store_dir));
  {
    gboolean done = FALSE;

    assay_store_init_async (f->store, NULL, init_cb, &done);
    while (!done)
      g_main_context_iteration (NULL, TRUE);
  }
  f->key = assay_key_generate ();
  f->list = assay_job_list_new ();
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSubprocess) rm = NULL;

  assay_job_list_stop (f->list);
  g_assert_finalize_object (f->list);
  g_clear_object (&f->store);
  g_clear_object (&f->key);
  rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", f->dir, NULL);
  g_subprocess_wait (rm, NULL, NULL);
  g_free (f->watch);
  g_free (f->dir);
}

/* 1 MiB of random bytes in 64 KiB chunks at 256 KiB/s: about four seconds of upload. */
static void
start (Fixture *f)
{
  g_autoptr(GFile) folder = g_file_new_for_path (f->watch);
  g_autoptr(GError) error = NULL;
  AssaySubmitSettings settings;

  assay_submit_settings_init (&settings);
  settings.chunk_size = 64 * 1024;
  settings.bandwidth = 256 * 1024;
  settings.concurrency = 2;
  g_assert_true (assay_job_list_start (f->list, f->store, f->key, folder, &settings, FALSE,
                                       &error));
  g_assert_no_error (error);
}

static void
drop (Fixture    *f,
      const char *name)
{
  g_autofree char *tmp = g_build_filename (f->dir, name, NULL);
  g_autofree char *path = g_build_filename (f->watch, name, NULL);
  gsize size = 1024 * 1024;
  g_autofree guint32 *data = g_new (guint32, size / 4);

  for (gsize i = 0; i < size / 4; i++)
    data[i] = g_random_int ();
  g_assert_true (g_file_set_contents (tmp, (const char *) data, size, NULL));
  g_assert_cmpint (g_rename (tmp, path), ==, 0);
}

static AssayJobRow *
row_at (Fixture *f,
        guint    position)
{
  g_autoptr(AssayJobRow) row = g_list_model_get_item (G_LIST_MODEL (f->list), position);

  return row;  /* the list keeps it */
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_status (Fixture           *f,
             AssayJobRowStatus  status,
             guint              timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  guint tick = g_timeout_add (50, tick_cb, NULL);

  while (g_get_monotonic_time () < end)
    {
      if (g_list_model_get_n_items (G_LIST_MODEL (f->list)) > 0)
        {
          AssayJobRow *row = row_at (f, 0);

          if (assay_job_row_get_status (row) == status)
            return;
          if (assay_job_row_get_status (row) == ASSAY_JOB_ROW_FAILED)
            g_error ("the job failed: %s", assay_job_row_get_detail (row));
        }
      g_main_context_iteration (NULL, TRUE);  /* the tick wakes it up */
    }
  g_source_remove (tick);
  g_error ("timed out waiting for status %d (now %d)", status,
           g_list_model_get_n_items (G_LIST_MODEL (f->list)) > 0
             ? (int) assay_job_row_get_status (row_at (f, 0)) : -1);
}

static void
got_job_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  AssayJob **out = data;
  g_autoptr(GError) error = NULL;

  *out = assay_outcome_get_job_finish (ASSAY_STORE (source), result, &error);
  g_assert_no_error (error);
}

static AssayJob *
store_job (Fixture    *f,
           const char *id)
{
  AssayJob *job = NULL;

  assay_outcome_get_job_async (f->store, id, NULL, got_job_cb, &job);
  while (job == NULL)
    g_main_context_iteration (NULL, TRUE);
  return job;
}

static void
test_submit (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(AssayJob) job = NULL;
  AssayJobRow *row;
  double progress;

  start (f);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->list)), ==, 0);
  drop (f, "a.bin");
  wait_status (f, ASSAY_JOB_ROW_UPLOADING, 30);
  row = row_at (f, 0);
  g_assert_cmpstr (assay_job_row_get_file_name (row), ==, "a.bin");
  g_assert_cmpint (assay_job_list_get_state (f->list), ==, ASSAY_JOB_LIST_WORKING);
  while (assay_job_row_get_progress (row) < 0.3)
    g_main_context_iteration (NULL, TRUE);
  progress = assay_job_row_get_progress (row);
  g_assert_cmpfloat (progress, <, 1.0);
  wait_status (f, ASSAY_JOB_ROW_UPLOADED, 30);
  g_assert_cmpfloat (assay_job_row_get_progress (row), ==, 1.0);
  g_assert_cmpuint (assay_job_row_get_size (row), ==, 1024 * 1024);
  g_assert_true (g_str_has_prefix (assay_job_row_get_job_id (row), "job-"));
  job = store_job (f, assay_job_row_get_job_id (row));
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_UPLOADED);
  /* the timeline comes from the store */
  while (assay_job_row_get_timeline (row) == NULL ||
         strstr (assay_job_row_get_timeline (row), "uploaded") == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (assay_job_list_lookup (f->list, assay_job_row_get_job_id (row)));
}

static void
updated_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  gboolean *done = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;

  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  g_assert_no_error (error);
  *done = TRUE;
}

/* Ends job @id in ERROR with @code, as a processor would. */
static void
fail_job (Fixture    *f,
          const char *id,
          const char *code)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(JsonObject) error = json_object_new ();
  gboolean done = FALSE;

  json_object_set_member (error, "code", assay_value_string (code));
  json_object_set_member (error, "message", assay_value_string ("a test processor's failure"));
  assay_update_set (update, "status", assay_value_string ("ERROR"));
  assay_update_set (update, "error", assay_value_map (error));
  assay_store_update_item_async (f->store, ASSAY_TABLE_JOBS, id, update, NULL,
                                 ASSAY_RETURN_NONE, NULL, updated_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* The row's job once it differs from @old and is stored UPLOADED (owned by the row). */
static const char *
wait_new_job (Fixture    *f,
              const char *old)
{
  AssayJobRow *row = row_at (f, 0);
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint tick = g_timeout_add (50, tick_cb, NULL);

  while (g_get_monotonic_time () < end &&
         (g_strcmp0 (assay_job_row_get_job_id (row), old) == 0 ||
          assay_job_row_get_job_id (row) == NULL ||
          assay_job_row_get_status (row) != ASSAY_JOB_ROW_UPLOADED))
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_assert_cmpstr (assay_job_row_get_job_id (row), !=, old);
  g_assert_cmpint (assay_job_row_get_status (row), ==, ASSAY_JOB_ROW_UPLOADED);
  return assay_job_row_get_job_id (row);
}

/* A job lost on the way (CHUNKS_GONE) is submitted again as a new job, by itself, twice;
 * the third loss is shown. A verdict (INVALID) is shown at once. */
static void
test_resubmit (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  AssayJobRow *row;
  gint64 end;

  start (f);
  drop (f, "lost.bin");
  wait_status (f, ASSAY_JOB_ROW_UPLOADED, 30);
  row = row_at (f, 0);
  first = g_strdup (assay_job_row_get_job_id (row));
  fail_job (f, first, "CHUNKS_GONE");
  second = g_strdup (wait_new_job (f, first));
  fail_job (f, second, "UPLOAD_STALLED");
  third = g_strdup (wait_new_job (f, second));
  g_assert_cmpstr (third, !=, first);
  fail_job (f, third, "CHUNKS_GONE");
  end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (assay_job_row_get_status (row) != ASSAY_JOB_ROW_FAILED &&
         g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (assay_job_row_get_status (row), ==, ASSAY_JOB_ROW_FAILED);
  g_assert_cmpstr (assay_job_row_get_job_id (row), ==, third);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->list)), ==, 1);

  /* a verdict is not retried */
  drop (f, "invalid.bin");
  while (g_list_model_get_n_items (G_LIST_MODEL (f->list)) < 2)
    g_main_context_iteration (NULL, TRUE);
  wait_status (f, ASSAY_JOB_ROW_UPLOADED, 30);
  row = row_at (f, 0);
  g_clear_pointer (&first, g_free);
  first = g_strdup (assay_job_row_get_job_id (row));
  fail_job (f, first, "INVALID");
  end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (assay_job_row_get_status (row) != ASSAY_JOB_ROW_FAILED &&
         g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (assay_job_row_get_status (row), ==, ASSAY_JOB_ROW_FAILED);
  g_assert_cmpstr (assay_job_row_get_job_id (row), ==, first);
}

/* History: the journal's 200 newest jobs of the folder, the newest on top; older ones and
 * other folders' are left out. */
static void
test_history (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(AssayJournal) journal = assay_journal_new_default ();
  g_autoptr(GError) error = NULL;
  AssayJobRow *row;

  for (guint i = 0; i < 210; i++)
    {
      g_autofree char *name = g_strdup_printf ("old-%03u.bin", i);
      g_autofree char *path = g_build_filename (i < 205 ? f->watch : f->dir, name, NULL);
      g_autoptr(AssayJournalEntry) entry = assay_journal_entry_new (path);

      entry->size = 1000 + i;
      /* saved in a shuffled order: the journal's own order means nothing */
      entry->mtime_us = (gint64) ((i * 7919) % 210 + 1) * G_USEC_PER_SEC;
      entry->state = ASSAY_JOURNAL_CANCELLED;
      entry->job = g_strdup_printf ("job-00000000-0000-4000-8000-%012u", i);
      entry->file = g_strdup_printf ("file-00000000-0000-4000-8000-%012u", i);
      g_assert_true (assay_journal_save (journal, entry, &error));
      g_assert_no_error (error);
    }
  start (f);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->list)), ==, 200);
  /* on top, the newest of the folder's 205 */
  row = row_at (f, 0);
  for (guint i = 1; i < 200; i++)
    g_assert_cmpint (assay_job_row_get_status (row_at (f, i)), ==, ASSAY_JOB_ROW_CANCELLED);
  {
    gint64 newest = 0;
    guint newest_i = 0;

    for (guint i = 0; i < 205; i++)
      if ((gint64) ((i * 7919) % 210 + 1) > newest)
        newest = (i * 7919) % 210 + 1, newest_i = i;
    {
      g_autofree char *expected = g_strdup_printf ("old-%03u.bin", newest_i);

      g_assert_cmpstr (assay_job_row_get_file_name (row), ==, expected);
    }
  }
}

static void
test_cancel_retry (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(AssayJob) cancelled = NULL;
  g_autoptr(AssayJob) retried = NULL;
  g_autofree char *first = NULL;
  AssayJobRow *row;

  start (f);
  drop (f, "b.bin");
  wait_status (f, ASSAY_JOB_ROW_UPLOADING, 30);
  row = row_at (f, 0);
  while (assay_job_row_get_job_id (row) == NULL)
    g_main_context_iteration (NULL, TRUE);
  first = g_strdup (assay_job_row_get_job_id (row));
  assay_job_row_request_cancel (row);
  wait_status (f, ASSAY_JOB_ROW_CANCELLED, 30);
  g_assert_cmpstr (assay_job_row_get_error_code (row), ==, "CANCELLED");
  cancelled = store_job (f, first);
  g_assert_cmpint (assay_job_get_status (cancelled), ==, ASSAY_JOB_STATUS_ERROR);
  g_assert_cmpstr (assay_job_get_error_code (cancelled), ==, "CANCELLED");

  /* started again: the cancelled file is listed as cancelled, not uploaded again */
  assay_job_list_stop (f->list);
  g_assert_finalize_object (f->list);
  f->list = assay_job_list_new ();
  start (f);
  {
    gint64 end = g_get_monotonic_time () + 1500 * 1000;
    guint tick = g_timeout_add (50, tick_cb, NULL);

    while (g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, TRUE);
    g_source_remove (tick);
  }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->list)), ==, 1);
  row = row_at (f, 0);
  g_assert_cmpint (assay_job_row_get_status (row), ==, ASSAY_JOB_ROW_CANCELLED);
  g_assert_cmpstr (assay_job_row_get_job_id (row), ==, first);
  g_assert_true (assay_job_list_is_idle (f->list));

  /* Retry: the same row, a new job */
  assay_job_row_request_retry (row);
  wait_status (f, ASSAY_JOB_ROW_UPLOADED, 30);
  g_assert_true (row_at (f, 0) == row);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->list)), ==, 1);
  g_assert_cmpstr (assay_job_row_get_job_id (row), !=, first);
  g_assert_null (assay_job_row_get_error_code (row));
  retried = store_job (f, assay_job_row_get_job_id (row));
  g_assert_cmpint (assay_job_get_status (retried), ==, ASSAY_JOB_STATUS_UPLOADED);
}

static void
test_pause_resume (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *job = NULL;
  AssayJobRow *row;

  start (f);
  drop (f, "c.bin");
  wait_status (f, ASSAY_JOB_ROW_UPLOADING, 30);
  row = row_at (f, 0);
  while (assay_job_row_get_progress (row) < 0.1)
    g_main_context_iteration (NULL, TRUE);
  job = g_strdup (assay_job_row_get_job_id (row));
  assay_job_list_set_paused (f->list, TRUE);
  wait_status (f, ASSAY_JOB_ROW_PAUSED, 30);
  g_assert_cmpint (assay_job_list_get_state (f->list), ==, ASSAY_JOB_LIST_PAUSED);
  while (!assay_job_list_is_idle (f->list))
    g_main_context_iteration (NULL, TRUE);

  assay_job_list_set_paused (f->list, FALSE);
  wait_status (f, ASSAY_JOB_ROW_UPLOADED, 60);
  /* the same job, continued */
  g_assert_cmpstr (assay_job_row_get_job_id (row), ==, job);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->list)), ==, 1);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GSubprocess) rm = NULL;
  int rc;
  g_autofree char *state = g_dir_make_tmp ("assay-job-list-state-XXXXXX", NULL);

  /* the journal lives in $XDG_STATE_HOME: a private one */
  g_setenv ("XDG_STATE_HOME", state, TRUE);
  g_setenv ("ASSAY_SETTLE_MS", "200", TRUE);
  g_test_init (&argc, &argv, NULL);
  /* owned by this thread throughout, as g_application_run() does in the app */
  g_main_context_acquire (NULL);

  g_test_add ("/gui/job-list/submit", Fixture, NULL, fixture_set_up, test_submit,
              fixture_tear_down);
  g_test_add ("/gui/job-list/cancel-retry", Fixture, NULL, fixture_set_up, test_cancel_retry,
              fixture_tear_down);
  g_test_add ("/gui/job-list/pause-resume", Fixture, NULL, fixture_set_up, test_pause_resume,
              fixture_tear_down);
  g_test_add ("/gui/job-list/resubmit", Fixture, NULL, fixture_set_up, test_resubmit,
              fixture_tear_down);
  g_test_add ("/gui/job-list/history", Fixture, NULL, fixture_set_up, test_history,
              fixture_tear_down);
  rc = g_test_run ();

  rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", state, NULL);
  if (rm != NULL)
    g_subprocess_wait (rm, NULL, NULL);
  return rc;
}
