/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli status [JOB] and assay-cli result JOB */
#include "config.h"

#include "assay-cli.h"
#include "assay-id.h"
#include "assay-journal.h"
#include "assay-key-file.h"
#include "assay-outcome.h"
#include "assay-util.h"

#include <stdio.h>
#include <unistd.h>

static void
done_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* Spins the main context until *@result is set. */
static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

AssayJob *
cli_get_job (AssayStore  *store,
             const char  *job_id,
             gboolean     wait,
             GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  if (wait)
    {
      assay_outcome_wait_async (store, job_id, NULL, done_cb, &result);
      wait_for (&result);
      return assay_outcome_wait_finish (store, result, error);
    }
  assay_outcome_get_job_async (store, job_id, NULL, done_cb, &result);
  wait_for (&result);
  return assay_outcome_get_job_finish (store, result, error);
}

/* Writes the decrypted result of @job to standard output (or @out_file). */
gboolean
cli_print_result (AssayStore  *store,
                  AssayKey    *key,
                  AssayJob    *job,
                  const char  *out_file,
                  GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  const char *data;
  gsize len;

  assay_outcome_fetch_async (store, key, job, NULL, done_cb, &result);
  wait_for (&result);
  plaintext = assay_outcome_fetch_finish (store, result, error);
  if (plaintext == NULL)
    return FALSE;

  data = g_bytes_get_data (plaintext, &len);
  if (out_file != NULL)
    {
      gboolean ok = g_file_set_contents_full (out_file, data, len, G_FILE_SET_CONTENTS_CONSISTENT,
                                              0600, error);

      g_clear_pointer (&plaintext, assay_wipe_bytes_free);
      return ok;
    }
  fwrite (data, 1, len, stdout);
  if (len == 0 || data[len - 1] != '\n')
    fputc ('\n', stdout);
  fflush (stdout);
  g_clear_pointer (&plaintext, assay_wipe_bytes_free);
  return TRUE;
}

static void
print_job_line (AssayJob   *job,
                const char *path)
{
  g_autofree char *name = path ? g_path_get_basename (path) : g_strdup ("");

  g_print ("%-40s  %-10s  %6u  %-24s  %s", assay_job_get_id (job),
           assay_job_status_to_string (assay_job_get_status (job)), assay_job_get_chunks (job),
           assay_job_get_created (job), name);
  if (assay_job_get_error_code (job) != NULL)
    g_print ("  %s: %s", assay_job_get_error_code (job),
             assay_job_get_error_message (job) ? assay_job_get_error_message (job) : "");
  g_print ("\n");
}

static void
print_job_details (AssayJob *job)
{
  const struct
  {
    const char *label;
    const char *value;
  } rows[] = {
    { "job", assay_job_get_id (job) },
    { "status", assay_job_status_to_string (assay_job_get_status (job)) },
    { "file", assay_job_get_file (job) },
    { "version", assay_job_get_version (job) },
    { "bucket", assay_job_get_bucket (job) },
    { "region", assay_job_get_region (job) },
    { "created", assay_job_get_created (job) },
    { "processor", assay_job_get_processor (job) },
    { "assigned", assay_job_get_assigned (job) },
    { "uploaded", assay_job_get_uploaded (job) },
    { "downloaded", assay_job_get_downloaded (job) },
    { "result", assay_job_get_result (job) },
    { "error", assay_job_get_error_code (job) },
    { "message", assay_job_get_error_message (job) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if (rows[i].value != NULL)
      g_print ("%-11s %s\n", rows[i].label, rows[i].value);
  g_print ("%-11s %u\n", "chunks", assay_job_get_chunks (job));
  if (assay_job_get_attempts (job) > 0)
    g_print ("%-11s %u\n", "attempts", assay_job_get_attempts (job));
}

static int
open_store (AssayConfig      *flags,
            const char       *config_file,
            AssayStore      **out_store)
{
  g_autoptr(AssayConfig) config = NULL;
  GError *error = NULL;

  config = assay_config_resolve (flags, config_file, &error);
  if (config == NULL || !(*out_store = cli_open_store (config, &error)))
    return cli_fail (error);
  return 0;
}

int
cli_status_main (int    argc,
                 char **argv)
{
  g_autoptr(AssayConfig) flags = assay_config_new ();
  g_autofree char *config_file = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the job items as JSON", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("status [JOB]");
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(AssayJournal) journal = NULL;
  g_autoptr(GPtrArray) entries_found = NULL;
  GError *error = NULL;
  int rc;

  g_option_context_set_summary (context,
                                "Shows one job, or every job this client submitted (from its "
                                "journal): id, status, chunks, creation time and file.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, assay_config_option_group (flags, &config_file));
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc > 2)
    return cli_usage (context, "“status” takes at most one JOB");
  if (argc == 2 && !assay_id_is_valid (ASSAY_ID_JOB, argv[1]))
    return cli_usage (context, "JOB is a job id (job- and a UUID)");
  if ((rc = open_store (flags, config_file, &store)) != 0)
    return rc;

  if (argc == 2)
    {
      g_autoptr(AssayJob) job = cli_get_job (store, argv[1], FALSE, &error);
      g_autoptr(JsonNode) node = NULL;
      g_autofree char *text = NULL;

      if (job == NULL)
        return cli_fail (error);
      if (!json)
        {
          print_job_details (job);
          return 0;
        }
      node = assay_job_to_json (job);
      text = json_to_string (node, TRUE);
      g_print ("%s\n", text);
      return 0;
    }

  journal = assay_journal_new_default ();
  entries_found = assay_journal_list (journal);
  if (!json && entries_found->len > 0)
    g_print ("%-40s  %-10s  %6s  %-24s  %s\n", "JOB", "STATUS", "CHUNKS", "CREATED", "FILE");
  if (json)
    g_print ("[");
  for (guint i = 0; i < entries_found->len; i++)
    {
      AssayJournalEntry *entry = g_ptr_array_index (entries_found, i);
      g_autoptr(AssayJob) job = NULL;
      g_autoptr(GError) local_error = NULL;

      job = cli_get_job (store, entry->job, FALSE, &local_error);
      if (job == NULL)
        {
          g_printerr ("assay-cli: %s: %s\n", entry->path, local_error->message);
          continue;
        }
      if (json)
        {
          g_autoptr(JsonNode) node = assay_job_to_json (job);
          g_autofree char *text = json_to_string (node, FALSE);

          g_print ("%s%s", i > 0 ? ",\n" : "\n", text);
        }
      else
        print_job_line (job, entry->path);
    }
  if (json)
    g_print ("\n]\n");
  return 0;
}

int
cli_result_job_main (int    argc,
                     char **argv)
{
  g_autoptr(AssayConfig) flags = assay_config_new ();
  g_autofree char *config_file = NULL;
  g_autofree char *key_file = NULL;
  g_autofree char *out_file = NULL;
  gboolean wait = FALSE;
  const GOptionEntry entries[] = {
    { "wait", 'w', 0, G_OPTION_ARG_NONE, &wait, "Wait until the job is finished", NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_file, "Write the result to FILE (mode 0600)",
      "FILE" },
    { "key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file,
      "The client key (default: $XDG_DATA_HOME/assay/client-key.pem)", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("result JOB");
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autofree char *key_path = NULL;
  GError *error = NULL;
  int rc;

  g_option_context_set_summary (context,
                                "Fetches the result of JOB and prints it decrypted. Exits 1 when "
                                "the job failed (with its code) or is not finished (unless "
                                "--wait).");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, assay_config_option_group (flags, &config_file));
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 2 || !assay_id_is_valid (ASSAY_ID_JOB, argv[1]))
    return cli_usage (context, "“result” takes one JOB id");

  key_path = cli_key_path (key_file);
  key = assay_key_file_load (key_path, &error);
  if (key == NULL)
    return cli_fail (error);
  if ((rc = open_store (flags, config_file, &store)) != 0)
    return rc;
  job = cli_get_job (store, argv[1], wait, &error);
  if (job == NULL || !cli_print_result (store, key, job, out_file, &error))
    return cli_fail (error);
  return 0;
}
