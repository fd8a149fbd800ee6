/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli submit FILE… */
#include "config.h"

#include "assay-cli.h"
#include "assay-chunks.h"
#include "assay-config.h"
#include "assay-key-file.h"
#include "assay-submitter.h"

#include <glib-unix.h>
#include <stdio.h>
#include <unistd.h>

typedef struct
{
  AssaySubmitter *current;
  gboolean interrupted;
  gboolean json;
  gboolean tty;
  gint64 last_line_us;
} Run;

static gboolean
interrupt_cb (gpointer data)
{
  Run *run = data;

  if (run->interrupted)
    return G_SOURCE_CONTINUE;
  run->interrupted = TRUE;
  if (run->current != NULL)
    assay_submitter_pause (run->current);
  return G_SOURCE_CONTINUE;
}

static void
print_json_event (const char     *event,
                  AssaySubmitter *submitter,
                  const char     *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *path = g_file_get_path (assay_submitter_get_file (submitter));

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  json_builder_set_member_name (builder, "file");
  json_builder_add_string_value (builder, path);
  if (assay_submitter_get_job_id (submitter) != NULL)
    {
      json_builder_set_member_name (builder, "job");
      json_builder_add_string_value (builder, assay_submitter_get_job_id (submitter));
    }
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, assay_submitter_get_size (submitter));
  json_builder_set_member_name (builder, "bytes_read");
  json_builder_add_int_value (builder, assay_submitter_get_bytes_read (submitter));
  json_builder_set_member_name (builder, "bytes_compressed");
  json_builder_add_int_value (builder, assay_submitter_get_bytes_compressed (submitter));
  json_builder_set_member_name (builder, "bytes_uploaded");
  json_builder_add_int_value (builder, assay_submitter_get_bytes_uploaded (submitter));
  json_builder_set_member_name (builder, "chunks");
  json_builder_add_int_value (builder, assay_submitter_get_chunks (submitter));
  json_builder_set_member_name (builder, "resumed");
  json_builder_add_boolean_value (builder, assay_submitter_get_resumed (submitter));
  json_builder_set_member_name (builder, "chunks_skipped");
  json_builder_add_int_value (builder, assay_submitter_get_chunks_skipped (submitter));
  if (message != NULL)
    {
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, message);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  fprintf (stdout, "%s\n", text);
  fflush (stdout);
}

static char *
format_eta (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup ("--:--");
  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%02d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

/* One progress report: a bar redrawn in place on a terminal, a plain line every few
 * seconds otherwise, a JSON event with --json. */
static void
progress_cb (GObject    *object,
             GParamSpec *pspec,
             gpointer    data)
{
  Run *run = data;
  AssaySubmitter *submitter = ASSAY_SUBMITTER (object);
  guint64 size = assay_submitter_get_size (submitter);
  guint64 read = assay_submitter_get_bytes_read (submitter);
  double fraction = size > 0 ? (double) read / size : 1.0;
  g_autofree char *name = g_file_get_basename (assay_submitter_get_file (submitter));
  g_autofree char *rate = g_format_size ((guint64) assay_submitter_get_rate (submitter));
  g_autofree char *sent = g_format_size (assay_submitter_get_bytes_uploaded (submitter));
  g_autofree char *eta = format_eta (assay_submitter_get_eta (submitter));
  gint64 now = g_get_monotonic_time ();

  if (assay_submitter_get_stage (submitter) != ASSAY_SUBMIT_STAGE_UPLOADING)
    return;
  if (run->json)
    {
      if (now - run->last_line_us < G_USEC_PER_SEC)
        return;
      run->last_line_us = now;
      print_json_event ("progress", submitter, NULL);
    }
  else if (run->tty)
    {
      char bar[21];
      guint filled = (guint) (fraction * 20);

      for (guint i = 0; i < 20; i++)
        bar[i] = i < filled ? '#' : '-';
      bar[20] = '\0';
      fprintf (stderr, "\r\033[K%-24.24s [%s] %3.0f%%  %s/s  %s sent  ETA %s", name, bar,
               fraction * 100, rate, sent, eta);
      fflush (stderr);
    }
  else if (now - run->last_line_us >= 5 * G_USEC_PER_SEC)
    {
      run->last_line_us = now;
      g_printerr ("%s: %.0f%% read, %s sent, %s/s, ETA %s\n", name, fraction * 100, sent, rate,
                  eta);
    }
}

static void
run_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

/* How often --wait submits a file again after a retryable failure. */
#define MAX_RETRIES 2

/* Submits one file, showing its progress. Returns: (transfer full) (nullable): the job. */
static char *
submit_one (Run                       *run,
            AssayStore                *store,
            AssayKey                  *key,
            AssayJournal              *journal,
            const AssaySubmitSettings *settings,
            const char                *arg)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  g_autoptr(AssaySubmitter) submitter = assay_submitter_new (store, key, journal, file, settings);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *job;

  g_signal_connect (submitter, "notify::bytes-read", G_CALLBACK (progress_cb), run);
  run->current = submitter;
  run->last_line_us = g_get_monotonic_time ();
  assay_submitter_run_async (submitter, NULL, run_done_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  run->current = NULL;
  if (run->tty)
    fprintf (stderr, "\r\033[K");

  job = assay_submitter_run_finish (submitter, result, &error);
  if (run->json)
    print_json_event (job ? "submitted" : "failed", submitter, error ? error->message : NULL);
  else if (job != NULL)
    {
      g_autofree char *size = g_format_size (assay_submitter_get_size (submitter));

      g_printerr ("%s: %s in %u chunks%s\n", arg, size, assay_submitter_get_chunks (submitter),
                  assay_submitter_get_resumed (submitter) ? " (continued)" : "");
      g_print ("%s\n", job);
    }
  else
    g_printerr ("assay-cli: %s\n", error->message);
  return job;
}

static gboolean
parse_size (const char *text,
            guint64    *out)
{
  char *end;
  guint64 value = g_ascii_strtoull (text, &end, 10);
  guint shift = 0;

  if (end == text)
    return FALSE;
  switch (g_ascii_toupper (*end))
    {
    case '\0':
      break;
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    default:
      return FALSE;
    }
  if (*end != '\0' && end[1] != '\0' && g_ascii_strcasecmp (end + 1, "iB") != 0 &&
      g_ascii_strcasecmp (end + 1, "B") != 0)
    return FALSE;
  *out = value << shift;
  return TRUE;
}

int
cli_submit_main (int    argc,
                 char **argv)
{
  g_autoptr(AssayConfig) flags = assay_config_new ();
  g_autofree char *config_file = NULL;
  g_autofree char *key_file = NULL;
  g_autofree char *chunk_size = NULL;
  g_autofree char *bandwidth = NULL;
  int preset = ASSAY_SUBMIT_PRESET_DEFAULT;
  int threads = 0;
  int concurrency = ASSAY_SUBMIT_CONCURRENCY_DEFAULT;
  gboolean json = FALSE;
  gboolean wait = FALSE;
  const GOptionEntry entries[] = {
    { "wait", 'w', 0, G_OPTION_ARG_NONE, &wait,
      "Wait for each job's result and print it decrypted (exit 1 if a job failed)", NULL },
    { "key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file,
      "The client key (default: $XDG_DATA_HOME/assay/client-key.pem)", "FILE" },
    { "preset", 0, 0, G_OPTION_ARG_INT, &preset,
      "xz preset, 0 (fast) to 9 (small); default " G_STRINGIFY (ASSAY_SUBMIT_PRESET_DEFAULT), "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Compression threads (default: all CPUs)",
      "N" },
    { "concurrency", 'j', 0, G_OPTION_ARG_INT, &concurrency,
      "Chunks uploaded at once (default " G_STRINGIFY (ASSAY_SUBMIT_CONCURRENCY_DEFAULT) ")", "N" },
    { "chunk-size", 0, 0, G_OPTION_ARG_STRING, &chunk_size, "Chunk size, e.g. 8M (default)",
      "SIZE" },
    { "bandwidth", 0, 0, G_OPTION_ARG_STRING, &bandwidth,
      "Upload at most SIZE bytes per second, e.g. 2M", "SIZE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON events on standard output", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("submit FILE…");
  g_autoptr(AssayConfig) config = NULL;
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(AssayJournal) journal = NULL;
  g_autofree char *key_path = NULL;
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  AssaySubmitSettings settings;
  GError *error = NULL;
  Run run = { 0 };
  guint sigint, sigterm;
  int rc = 0;

  g_option_context_set_summary (context,
                                "Compresses each FILE, uploads it in chunks and records a signed "
                                "job, printing the job id. An interrupted submit (Ctrl-C, a "
                                "crash) continues where it stopped when run again.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, assay_config_option_group (flags, &config_file));
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc < 2)
    return cli_usage (context, "“submit” needs at least one FILE");

  assay_submit_settings_init (&settings);
  if (preset < 0 || preset > 9)
    return cli_usage (context, "--preset is 0 to 9");
  if (threads < 0 || threads > 64 || concurrency < 1 || concurrency > 64)
    return cli_usage (context, "--threads is 0 to 64 and --concurrency 1 to 64");
  settings.preset = preset;
  settings.threads = threads;
  settings.concurrency = concurrency;
  if (chunk_size != NULL)
    {
      guint64 value;

      if (!parse_size (chunk_size, &value) || value < 1024 || value > ASSAY_CHUNK_SIZE_MAX)
        return cli_usage (context, "--chunk-size is 1K to 64M");
      settings.chunk_size = value;
    }
  if (bandwidth != NULL && !parse_size (bandwidth, &settings.bandwidth))
    return cli_usage (context, "--bandwidth is a size per second, e.g. 500K or 2M");

  config = assay_config_resolve (flags, config_file, &error);
  if (config == NULL || !(store = cli_open_store (config, &error)))
    return cli_fail (error);
  key_path = cli_key_path (key_file);
  key = assay_key_file_load (key_path, &error);
  if (key == NULL)
    return cli_fail (error);
  journal = assay_journal_new_default ();

  run.json = json;
  run.tty = !json && isatty (STDERR_FILENO);
  sigint = g_unix_signal_add (SIGINT, interrupt_cb, &run);
  sigterm = g_unix_signal_add (SIGTERM, interrupt_cb, &run);

  for (int i = 1; i < argc && !run.interrupted; i++)
    {
      g_autofree char *job = submit_one (&run, store, key, journal, &settings, argv[i]);

      if (job == NULL)
        rc = run.interrupted ? 130 : CLI_EXIT_FAILURE;
      else
        {
          g_ptr_array_add (files, g_strdup (argv[i]));
          g_ptr_array_add (jobs, g_steal_pointer (&job));
        }
    }

  /* --wait: each result, in the order of the files; a job that failed for a reason that a
   * new attempt can cure is submitted again, a few times at most */
  for (guint i = 0; wait && !run.interrupted && i < jobs->len; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(AssayJob) job = NULL;
      guint retries = 0;

      for (;;)
        {
          g_autofree char *again = NULL;

          if (!json)
            g_printerr ("waiting for %s…\n", (char *) g_ptr_array_index (jobs, i));
          g_clear_object (&job);
          job = cli_get_job (store, g_ptr_array_index (jobs, i), TRUE, &local_error);
          if (job == NULL || !assay_job_is_retryable (job) || retries >= MAX_RETRIES)
            break;
          retries++;
          g_printerr ("%s: job %s failed with %s; submitting it again (%u of %u)\n",
                      (char *) g_ptr_array_index (files, i), assay_job_get_id (job),
                      assay_job_get_error_code (job), retries, MAX_RETRIES);
          again = submit_one (&run, store, key, journal, &settings,
                              g_ptr_array_index (files, i));
          if (again == NULL)
            break;
          g_free (g_ptr_array_index (jobs, i));
          g_ptr_array_index (jobs, i) = g_steal_pointer (&again);
        }
      if (job == NULL || !cli_print_result (store, key, job, NULL, &local_error))
        {
          g_printerr ("assay-cli: %s\n", local_error ? local_error->message : "interrupted");
          rc = CLI_EXIT_FAILURE;
        }
    }

  g_source_remove (sigint);
  g_source_remove (sigterm);
  return rc;
}
