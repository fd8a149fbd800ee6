/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The folder watcher on the real local store and real inotify events. */
#include "config.h"

#include "assay-local-store.h"
#include "assay-watcher.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  char *dir;
  char *folder;
  AssayStore *store;
  AssayKey *key;
  AssayJournal *journal;
  GHashTable *submitted; /* path → count */
  guint failures;
} Fixture;

static void
ready_cb (GObject      *source,
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
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      remove_tree (child);
      g_object_unref (info);
    }
  g_file_delete (file, NULL, NULL);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *store_dir = NULL;
  g_autofree char *journal_dir = NULL;

  f->dir = g_dir_make_tmp ("assay-watcher-XXXXXX", &error);
  g_assert_no_error (error);
  f->folder = g_build_filename (f->dir, "drop", NULL);
  g_assert_cmpint (g_mkdir (f->folder, 0700), ==, 0);
  store_dir = g_build_filename (f->dir, "store", NULL);
  journal_dir = g_build_filename (f->dir, "journal", NULL);
  f->store = ASSAY_STORE (assay_local_store_new (store_dir));
  f->key = assay_key_generate ();
  f->journal = assay_journal_new (journal_dir);
  f->submitted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  assay_store_init_async (f->store, NULL, ready_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
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
  g_hash_table_unref (f->submitted);
  remove_tree (f->dir);
  g_free (f->folder);
  g_free (f->dir);
}

static void
submitted_cb (AssayWatcher *watcher,
              const char   *path,
              const char   *job,
              Fixture      *f)
{
  g_autofree char *name = g_path_get_basename (path);
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (f->submitted, name));

  g_hash_table_insert (f->submitted, g_steal_pointer (&name), GUINT_TO_POINTER (count + 1));
}

static void
failed_cb (AssayWatcher *watcher,
           const char   *path,
           GError       *error,
           Fixture      *f)
{
  g_test_message ("%s failed: %s", path, error->message);
  f->failures++;
}

/* A watcher not started yet; @bandwidth 0 for no limit. */
static AssayWatcher *
new_watcher (Fixture *f,
             guint64  bandwidth)
{
  g_autoptr(GFile) folder = g_file_new_for_path (f->folder);
  AssaySubmitSettings settings;
  AssayWatcher *watcher;

  assay_submit_settings_init (&settings);
  settings.preset = 0;
  if (bandwidth > 0)
    {
      settings.chunk_size = 64 * 1024;
      settings.bandwidth = bandwidth;
    }
  watcher = assay_watcher_new (f->store, f->key, f->journal, folder, &settings);
  assay_watcher_set_settle_time (watcher, 300);
  g_signal_connect (watcher, "submitted", G_CALLBACK (submitted_cb), f);
  g_signal_connect (watcher, "failed", G_CALLBACK (failed_cb), f);
  return watcher;
}

static AssayWatcher *
start_watcher (Fixture *f)
{
  g_autoptr(AssayWatcher) watcher = new_watcher (f, 0);
  g_autoptr(GError) error = NULL;

  assay_watcher_start (watcher, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&watcher);
}

/* Runs the main context for @ms milliseconds. */
static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
}

/* Runs the main context until the watcher has nothing left to do (at most 20 s). */
static void
run_until_idle (AssayWatcher *watcher)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  run_for (50);
  while (!assay_watcher_is_idle (watcher) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (assay_watcher_is_idle (watcher));
}

static void
write_file (const char *dir,
            const char *name,
            const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static guint
count (Fixture    *f,
       const char *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (f->submitted, name));
}

static void
test_present_and_ignored (Fixture       *f,
                          gconstpointer  data)
{
  const char *ignored[] = { "movie.part", "setup.crdownload", "x.tmp", "notes.txt~",
                            ".notes.txt.swp", ".hidden" };
  g_autoptr(AssayWatcher) watcher = NULL;

  write_file (f->folder, "present.txt", "there before the watcher");
  for (guint i = 0; i < G_N_ELEMENTS (ignored); i++)
    write_file (f->folder, ignored[i], "partial");

  watcher = start_watcher (f);
  run_until_idle (watcher);
  g_assert_cmpuint (count (f, "present.txt"), ==, 1);

  /* a new subfolder is watched too, and its files picked up */
  {
    g_autofree char *sub = g_build_filename (f->folder, "sub", "deeper", NULL);

    g_assert_cmpint (g_mkdir_with_parents (sub, 0700), ==, 0);
    write_file (sub, "nested.csv", "a,b\n1,2\n");
    for (guint i = 0; i < G_N_ELEMENTS (ignored); i++)
      write_file (sub, ignored[i], "partial");
  }
  run_for (500);
  run_until_idle (watcher);
  g_assert_cmpuint (count (f, "nested.csv"), ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (ignored); i++)
    g_assert_cmpuint (count (f, ignored[i]), ==, 0);
  g_assert_cmpuint (g_hash_table_size (f->submitted), ==, 2);
  g_assert_cmpuint (f->failures, ==, 0);
}

static void
test_slow_writer (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(AssayWatcher) watcher = start_watcher (f);
  g_autofree char *path = g_build_filename (f->folder, "slow.log", NULL);
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(AssayJournalEntry) entry = NULL;
  g_autofree char *digest = NULL;
  FILE *out = fopen (path, "w");

  /* written in pieces over a second, never pausing for the settle time */
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *line = g_strdup_printf ("line %u of a slowly written log\n", i);

      fputs (line, out);
      fflush (out);
      g_string_append (expected, line);
      run_for (100);
    }
  fclose (out);
  run_until_idle (watcher);

  g_assert_cmpuint (count (f, "slow.log"), ==, 1);
  entry = assay_journal_lookup (f->journal, path, NULL);
  g_assert_nonnull (entry);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, expected->str, expected->len);
  g_assert_cmpstr (entry->hash, ==, digest);
  g_assert_cmpuint (entry->size, ==, expected->len);
}

static void
test_moved_in_and_restart (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(AssayWatcher) watcher = start_watcher (f);
  g_autofree char *outside = g_build_filename (f->dir, "report.pdf", NULL);
  g_autofree char *inside = g_build_filename (f->folder, "report.pdf", NULL);
  g_autofree char *touched = g_build_filename (f->folder, "report.pdf", NULL);

  write_file (f->dir, "report.pdf", "%PDF-1.4 not really");
  g_assert_cmpint (g_rename (outside, inside), ==, 0);
  /* a download finishing: the .part file is renamed to its final name */
  write_file (f->folder, "data.bin.part", "downloaded bytes");
  {
    g_autofree char *part = g_build_filename (f->folder, "data.bin.part", NULL);
    g_autofree char *final = g_build_filename (f->folder, "data.bin", NULL);

    run_for (100);
    g_assert_cmpint (g_rename (part, final), ==, 0);
  }
  run_until_idle (watcher);
  g_assert_cmpuint (count (f, "report.pdf"), ==, 1);
  g_assert_cmpuint (count (f, "data.bin"), ==, 1);
  g_assert_cmpuint (count (f, "data.bin.part"), ==, 0);

  /* a restart submits nothing again, nor does a touch that keeps the content */
  assay_watcher_stop (watcher);
  g_clear_object (&watcher);
  {
    g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
    g_autoptr(GFile) file = g_file_new_for_path (touched);

    g_file_set_attribute_uint64 (file, G_FILE_ATTRIBUTE_TIME_MODIFIED,
                                 g_date_time_to_unix (now) + 5, G_FILE_QUERY_INFO_NONE, NULL,
                                 NULL);
  }
  watcher = start_watcher (f);
  run_until_idle (watcher);
  g_assert_cmpuint (count (f, "report.pdf"), ==, 1);
  g_assert_cmpuint (count (f, "data.bin"), ==, 1);

  /* new content under the same name is new */
  write_file (f->folder, "report.pdf", "%PDF-1.4 the second version");
  run_for (100);
  run_until_idle (watcher);
  g_assert_cmpuint (count (f, "report.pdf"), ==, 2);
  g_assert_cmpuint (f->failures, ==, 0);
}

/* Runs the main context until @name was submitted @n times (at most 20 s). */
static void
run_until_count (Fixture    *f,
                 const char *name,
                 guint       n)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (count (f, name) < n && g_get_monotonic_time () < deadline)
    run_for (20);
  g_assert_cmpuint (count (f, name), ==, n);
}

/* Without monitor events (a document portal's FUSE mount), the rescan finds new and
 * changed files, in new folders too, and submits each content once. */
static void
test_rescan (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(AssayWatcher) watcher = new_watcher (f, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *sub = g_build_filename (f->folder, "sub", NULL);

  write_file (f->folder, "before.txt", "there at the start");
  _assay_watcher_set_use_monitors (watcher, FALSE);
  assay_watcher_start (watcher, &error);
  g_assert_no_error (error);
  run_until_idle (watcher);
  g_assert_cmpuint (count (f, "before.txt"), ==, 1);

  /* no event, no rescan: nothing sees it */
  write_file (f->folder, "late.txt", "appeared without an event");
  run_for (800);
  g_assert_cmpuint (count (f, "late.txt"), ==, 0);

  assay_watcher_set_rescan_interval (watcher, 100);
  run_until_count (f, "late.txt", 1);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  write_file (sub, "nested.txt", "in a folder that appeared without an event");
  write_file (sub, "ignored.part", "partial");
  run_until_count (f, "nested.txt", 1);

  /* more rescans submit nothing again; changed content is new */
  run_for (1000);
  g_assert_cmpuint (count (f, "before.txt"), ==, 1);
  g_assert_cmpuint (count (f, "late.txt"), ==, 1);
  g_assert_cmpuint (count (f, "nested.txt"), ==, 1);
  write_file (f->folder, "late.txt", "appeared without an event, then changed");
  run_until_count (f, "late.txt", 2);
  run_for (1000);
  g_assert_cmpuint (count (f, "late.txt"), ==, 2);
  g_assert_cmpuint (count (f, "ignored.part"), ==, 0);
  g_assert_cmpuint (g_hash_table_size (f->submitted), ==, 3);
  g_assert_cmpuint (f->failures, ==, 0);

  assay_watcher_stop (watcher);
  g_assert_finalize_object (g_steal_pointer (&watcher));
}

static void
started_cb (AssayWatcher   *watcher,
            AssaySubmitter *submitter,
            AssaySubmitter **out)
{
  g_set_object (out, submitter);
}

/* A file whose upload the user cancelled is not submitted again after a restart, unless
 * retried. */
static void
test_cancelled_and_restart (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(AssayWatcher) watcher = new_watcher (f, 1024 * 1024);
  g_autoptr(AssaySubmitter) submitter = NULL;
  g_autoptr(AssayJournalEntry) entry = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->folder, "big.bin", NULL);
  g_autofree char *outside = g_build_filename (f->dir, "big.bin", NULL);
  g_autofree char *contents = g_malloc (4 * 1024 * 1024);

  /* incompressible, so that it uploads for seconds at 1 MiB/s */
  for (gsize i = 0; i < 4 * 1024 * 1024; i += 4)
    *(guint32 *) (contents + i) = g_random_int ();
  g_file_set_contents (outside, contents, 4 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_signal_connect (watcher, "submitter-started", G_CALLBACK (started_cb), &submitter);
  assay_watcher_start (watcher, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_rename (outside, path), ==, 0);

  while (submitter == NULL || assay_submitter_get_chunks (submitter) == 0)
    run_for (20);
  g_assert_true (assay_watcher_cancel (watcher, path));
  run_until_idle (watcher);
  g_assert_cmpuint (f->failures, ==, 1);
  g_assert_cmpuint (count (f, "big.bin"), ==, 0);
  entry = assay_journal_lookup (f->journal, path, NULL);
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->state, ==, ASSAY_JOURNAL_CANCELLED);

  /* started again: the cancelled file is not submitted again */
  assay_watcher_stop (watcher);
  g_clear_object (&submitter);
  g_assert_finalize_object (g_steal_pointer (&watcher));
  watcher = new_watcher (f, 0);
  g_signal_connect (watcher, "submitter-started", G_CALLBACK (started_cb), &submitter);
  assay_watcher_start (watcher, &error);
  g_assert_no_error (error);
  run_for (800);
  run_until_idle (watcher);
  g_assert_null (submitter);
  g_assert_cmpuint (count (f, "big.bin"), ==, 0);

  /* new content under the same name is new */
  g_file_set_contents (path, "new content", -1, &error);
  g_assert_no_error (error);
  run_until_count (f, "big.bin", 1);
  g_assert_cmpuint (f->failures, ==, 1);
  assay_watcher_stop (watcher);
  g_clear_object (&submitter);
  g_assert_finalize_object (g_steal_pointer (&watcher));
}

static void
test_ignored_names (void)
{
  g_assert_true (assay_watcher_is_ignored_name (".bashrc"));
  g_assert_true (assay_watcher_is_ignored_name ("a.part"));
  g_assert_true (assay_watcher_is_ignored_name ("a~"));
  g_assert_false (assay_watcher_is_ignored_name ("a.txt"));
  g_assert_false (assay_watcher_is_ignored_name ("partial.csv"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/watcher/ignored-names", test_ignored_names);
  g_test_add ("/common/watcher/present-and-ignored", Fixture, NULL, fixture_set_up,
              test_present_and_ignored, fixture_tear_down);
  g_test_add ("/common/watcher/slow-writer", Fixture, NULL, fixture_set_up, test_slow_writer,
              fixture_tear_down);
  g_test_add ("/common/watcher/moved-in-and-restart", Fixture, NULL, fixture_set_up,
              test_moved_in_and_restart, fixture_tear_down);
  g_test_add ("/common/watcher/rescan", Fixture, NULL, fixture_set_up, test_rescan,
              fixture_tear_down);
  g_test_add ("/common/watcher/cancelled-and-restart", Fixture, NULL, fixture_set_up,
              test_cancelled_and_restart, fixture_tear_down);

  return g_test_run ();
}
