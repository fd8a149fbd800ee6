/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli watch DIR [--results DIR] */
#include "config.h"

#include "assay-cli.h"
#include "assay-key-file.h"
#include "assay-outcome.h"
#include "assay-util.h"
#include "assay-watcher.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>

typedef struct
{
  AssayStore *store;
  AssayKey *key;
  char *results;
  GMainLoop *loop;
} Watch;

typedef struct
{
  Watch *watch;
  char *name;
  char *job;
} Follow;

static void
follow_free (Follow *follow)
{
  g_free (follow->name);
  g_free (follow->job);
  g_free (follow);
}

/* Writes a result where --results says, or prints it. */
static void
deliver (Follow *follow,
         GBytes *plaintext)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  gsize len;
  const char *data = g_bytes_get_data (plaintext, &len);

  if (follow->watch->results == NULL)
    {
      fwrite (data, 1, len, stdout);
      fputc ('\n', stdout);
      fflush (stdout);
      return;
    }
  file = g_strdup_printf ("%s.%s.json", follow->name, follow->job);
  path = g_build_filename (follow->watch->results, file, NULL);
  if (!g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_printerr ("assay-cli: cannot write the result of %s: %s\n", follow->name, error->message);
  else
    g_printerr ("%s: result in %s\n", follow->name, path);
}

static void
fetched_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Follow *follow = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) plaintext = assay_outcome_fetch_finish (ASSAY_STORE (source), result, &error);

  if (plaintext == NULL)
    g_printerr ("assay-cli: %s: %s\n", follow->name, error->message);
  else
    deliver (follow, plaintext);
  g_clear_pointer (&plaintext, assay_wipe_bytes_free);
  follow_free (follow);
}

static void
finished_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Follow *follow = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = assay_outcome_wait_finish (ASSAY_STORE (source), result, &error);

  if (job == NULL)
    {
      g_printerr ("assay-cli: %s: %s\n", follow->name, error->message);
      follow_free (follow);
      return;
    }
  assay_outcome_fetch_async (follow->watch->store, follow->watch->key, job, NULL, fetched_cb,
                             follow);
}

static void
submitted_cb (AssayWatcher *watcher,
              const char   *path,
              const char   *job,
              Watch        *watch)
{
  Follow *follow = g_new0 (Follow, 1);

  g_printerr ("%s: submitted as %s\n", path, job);
  follow->watch = watch;
  follow->name = g_path_get_basename (path);
  follow->job = g_strdup (job);
  assay_outcome_wait_async (watch->store, job, NULL, finished_cb, follow);
}

static void
failed_cb (AssayWatcher *watcher,
           const char   *path,
           GError       *error,
           Watch        *watch)
{
  g_printerr ("assay-cli: %s\n", error->message);
}

static gboolean
quit_cb (gpointer data)
{
  Watch *watch = data;

  g_main_loop_quit (watch->loop);
  return G_SOURCE_CONTINUE;
}

int
cli_watch_main (int    argc,
                char **argv)
{
  g_autoptr(AssayConfig) flags = assay_config_new ();
  g_autofree char *config_file = NULL;
  g_autofree char *key_file = NULL;
  g_autofree char *results = NULL;
  const GOptionEntry entries[] = {
    { "results", 'r', 0, G_OPTION_ARG_FILENAME, &results,
      "Write each decrypted result to DIR as NAME.JOB.json (default: print it)", "DIR" },
    { "key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file,
      "The client key (default: $XDG_DATA_HOME/assay/client-key.pem)", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("watch DIR");
  g_autoptr(AssayConfig) config = NULL;
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(AssayJournal) journal = NULL;
  g_autoptr(AssayWatcher) watcher = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GFile) folder = NULL;
  g_autofree char *key_path = NULL;
  GError *error = NULL;
  Watch watch = { 0 };
  guint sigint, sigterm;
  int rc;

  g_option_context_set_summary (context,
                                "Submits every file that appears in DIR or its subfolders, once "
                                "it is complete, and delivers each result. Runs until "
                                "interrupted; an upload cut short continues at the next start.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, assay_config_option_group (flags, &config_file));
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 2)
    return cli_usage (context, "“watch” takes one DIR");

  config = assay_config_resolve (flags, config_file, &error);
  if (config == NULL || !(store = cli_open_store (config, &error)))
    return cli_fail (error);
  key_path = cli_key_path (key_file);
  key = assay_key_file_load (key_path, &error);
  if (key == NULL)
    return cli_fail (error);
  if (results != NULL && g_mkdir_with_parents (results, 0700) != 0)
    return cli_fail (g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "cannot create %s", results));

  journal = assay_journal_new_default ();
  folder = g_file_new_for_commandline_arg (argv[1]);
  watcher = assay_watcher_new (store, key, journal, folder, NULL);
  loop = g_main_loop_new (NULL, FALSE);
  watch = (Watch) { store, key, results, loop };
  g_signal_connect (watcher, "submitted", G_CALLBACK (submitted_cb), &watch);
  g_signal_connect (watcher, "failed", G_CALLBACK (failed_cb), &watch);
  if (!assay_watcher_start (watcher, &error))
    return cli_fail (error);
  g_printerr ("watching %s (store: %s); Ctrl-C to stop\n", g_file_peek_path (folder),
              assay_store_describe (store));

  sigint = g_unix_signal_add (SIGINT, quit_cb, &watch);
  sigterm = g_unix_signal_add (SIGTERM, quit_cb, &watch);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);

  /* the upload in progress pauses (its journal keeps it); wait for it to let go */
  assay_watcher_stop (watcher);
  while (!assay_watcher_is_idle (watcher))
    g_main_context_iteration (NULL, TRUE);
  g_printerr ("stopped\n");
  return 0;
}
