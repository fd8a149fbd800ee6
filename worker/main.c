/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-worker: the Assay processor. Claims jobs from the store, analyses their files
 * and stores the encrypted results. It never listens on a socket. */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-config.h"
#include "assay-defs.h"
#include "assay-archive.h"
#include "assay-engine.h"
#include "assay-lifecycle.h"
#include "assay-quarantine.h"
#include "assay-validation.h"
#include "assay-scan.h"
#include "assay-worker.h"
#include "assay-worker-config.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define EXIT_USAGE 2

/* A worker whose heartbeat is older than this is reported stuck. */
#define HEALTH_MAX_AGE_DEFAULT_S (3 * ASSAY_WORKER_HEARTBEAT_INTERVAL_MS / 1000)

typedef struct
{
  AssayWorker *worker;
  guint grace_ms;
  guint signals;
  GAsyncResult *result;
} Run;

static int
fail (GError *error)
{
  g_printerr ("assay-worker: %s\n", error->message);
  g_error_free (error);
  return EXIT_FAILURE;
}

static int
usage (GOptionContext *context,
       const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  if (message != NULL)
    g_printerr ("assay-worker: %s\n\n", message);
  g_printerr ("%s", help);
  return EXIT_USAGE;
}

static void
result_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

/* The store the settings name; a local store is set up on first use. */
static AssayStore *
open_store (AssayConfig  *config,
            GError      **error)
{
  g_autoptr(AssayStore) store = assay_config_open_store (config, error);
  g_autoptr(GAsyncResult) result = NULL;

  if (store == NULL || !assay_config_is_local (config))
    return g_steal_pointer (&store);
  assay_store_init_async (store, NULL, result_cb, &result);
  wait_for (&result);
  if (!assay_store_init_finish (store, result, error))
    return NULL;
  return g_steal_pointer (&store);
}

static void
print_line (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autofree char *text = json_to_string (node, FALSE);

  fprintf (stdout, "%s\n", text);
  fflush (stdout);
}

static void
event_cb (AssayWorker *worker,
          JsonObject  *line,
          gpointer     data)
{
  print_line (line);
}

/* SIGTERM or SIGINT: stop claiming and let the jobs in flight finish within the grace
 * period; a second one gives them back at once. */
static gboolean
signal_cb (gpointer data)
{
  Run *run = data;

  assay_worker_stop (run->worker, run->signals++ == 0 ? run->grace_ms : 0);
  return G_SOURCE_CONTINUE;
}

/* The refresher's events, with the processor's id, as the worker's own lines. */
static void
defs_event_cb (AssayDefsRefresher *refresher,
               JsonObject         *line,
               gpointer            data)
{
  json_object_set_string_member (line, "processor", assay_worker_get_processor_id (data));
  print_line (line);
}

/* Before the worker's "started" line (the first of the log): kept for after it. */
static void
defs_pending_cb (AssayDefsRefresher *refresher,
                 JsonObject         *line,
                 gpointer            data)
{
  g_ptr_array_add (data, json_object_ref (line));
}

/* The scan stage with the definitions published in the store, and the refresher that
 * keeps them current. Without definitions the worker does not start, unless
 * allow-no-definitions is set (development only). */
static AssayScanStage *
make_scan (AssayStore          *store,
           AssayWorkerConfig   *config,
           GPtrArray           *pending,
           AssayDefsRefresher **out_refresher,
           GError             **error)
{
  g_autoptr(AssayScanStage) scan = NULL;
  g_autoptr(AssayDefsRefresher) refresher = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!assay_scan_init (error))
    return NULL;
  scan = assay_scan_stage_new (&config->scan);
  refresher = assay_defs_refresher_new (store, scan, config->defs_refresh_ms);
  g_signal_connect (refresher, "event", G_CALLBACK (defs_pending_cb), pending);
  assay_defs_refresher_check_async (refresher, NULL, result_cb, &result);
  wait_for (&result);
  if (!assay_defs_refresher_check_finish (refresher, result, NULL, &local_error))
    {
      if (!config->scan.allow_no_definitions ||
          local_error->domain == G_IO_ERROR || local_error->domain == ASSAY_STORE_ERROR)
        {
          g_set_error (error, local_error->domain, local_error->code,
                       "no virus definitions, so no scanning: the worker does not start. %s%s",
                       local_error->message,
                       config->scan.allow_no_definitions
                         ? ""
                         : " (for development only, allow-no-definitions=true runs without)");
          return NULL;
        }
      g_printerr ("assay-worker: WARNING: %s; allow-no-definitions is set: files are NOT "
                  "scanned (verdict \"skipped\") until definitions are published\n",
                  local_error->message);
    }
  assay_defs_refresher_start (refresher);
  *out_refresher = g_steal_pointer (&refresher);
  return g_steal_pointer (&scan);
}

static AssayEngine *
make_engine (AssayWorkerConfig  *config,
             SoupSession       **out_session,
             GError            **error)
{
  g_autoptr(AssayEngine) engine = NULL;
  g_autofree char *command = NULL;

  if (config->engine_http != NULL)
    {
      *out_session = soup_session_new_with_options ("timeout", 60, "idle-timeout", 60, NULL);
      engine = assay_engine_new_http (*out_session, config->engine_http, error);
    }
  else
    {
      command = config->engine_exec ? g_strdup (config->engine_exec)
                                    : assay_engine_find_default ();
      if (command == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "no engine: %s is neither next to assay-worker nor on PATH; set "
                       "engine-exec or engine-http",
                       ASSAY_ENGINE_DEFAULT_PROGRAM);
          return NULL;
        }
      engine = assay_engine_new_exec (command, error);
    }
  if (engine == NULL || !assay_engine_check (engine, error))
    return NULL;
  assay_engine_set_timeout (engine, config->engine_timeout_ms);
  assay_engine_set_max_output (engine, config->engine_max_output);
  return g_steal_pointer (&engine);
}

/* The validation stage when a rule is set; *@out_validation stays NULL without one. */
static gboolean
make_validation (AssayWorkerConfig  *config,
                 AssayValidation   **out_validation,
                 GError            **error)
{
  AssayValidation *validation;

  if (config->validation_max_size == 0 && config->validation_types == NULL &&
      config->validation_command == NULL)
    return TRUE;
  validation = assay_validation_new (config->validation_max_size,
                                     (const char * const *) config->validation_types,
                                     config->validation_command, error);
  if (validation == NULL)
    return FALSE;
  assay_validation_set_timeout (validation, config->validation_timeout_ms);
  *out_validation = validation;
  return TRUE;
}

static void
print_report_cb (JsonObject *line,
                 gpointer    data)
{
  print_line (line);
}

/* `quarantine list|show ID|release ID|delete ID` and `archive-compact --older-than D`. */
static int
lifecycle_main (int                     argc,
                char                  **argv,
                AssayConfig            *store_flags,
                AssayWorkerConfigLayer *worker_flags,
                const char             *config_file,
                const char             *actor,
                const char             *older_than)
{
  g_autoptr(AssayWorkerConfig) config = NULL;
  g_autoptr(AssayConfig) store_config = NULL;
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(AssayLifecycle) lifecycle = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *work_dir = NULL;
  const char *command = argv[1];
  const char *action = argc >= 3 ? argv[2] : NULL;
  const char *id = argc >= 4 ? argv[3] : NULL;
  guint64 age_ms = 0;

  if (g_str_equal (command, "archive-compact"))
    {
      if (argc != 2)
        {
          g_printerr ("assay-worker: archive-compact takes no arguments, only --older-than\n");
          return EXIT_USAGE;
        }
      /* by default, the days that ended an hour ago (late moves are merged anyway) */
      if (!assay_archive_parse_age (older_than ? older_than : "1h", &age_ms))
        {
          g_printerr ("assay-worker: --older-than takes a duration such as 7d, 12h or 0, "
                      "not “%s”\n", older_than);
          return EXIT_USAGE;
        }
    }
  else if (g_strcmp0 (action, "list") == 0 ? argc != 3
           : (argc != 4 || (!g_str_equal (action, "show") && !g_str_equal (action, "release") &&
                            !g_str_equal (action, "delete"))))
    {
      g_printerr ("assay-worker: quarantine takes list, show JOB, release JOB or delete JOB\n");
      return EXIT_USAGE;
    }

  config = assay_worker_config_resolve (worker_flags, config_file, &error);
  if (config == NULL)
    return fail (g_steal_pointer (&error));
  store_config = assay_config_resolve (store_flags, config_file, &error);
  if (store_config == NULL)
    return fail (g_steal_pointer (&error));
  store = open_store (store_config, &error);
  if (store == NULL)
    return fail (g_steal_pointer (&error));
  lifecycle = assay_lifecycle_new (store, &config->lifecycle, &error);
  if (lifecycle == NULL)
    return fail (g_steal_pointer (&error));
  /* private directories for the files handled come and go in it */
  work_dir = g_strdup (config->settings.work_dir ? config->settings.work_dir : g_get_tmp_dir ());
  if (actor == NULL)
    actor = g_get_user_name ();

  if (g_str_equal (command, "archive-compact"))
    {
      if (!assay_archive_compact (lifecycle, age_ms, work_dir, print_report_cb, NULL, &error))
        return fail (g_steal_pointer (&error));
      return EXIT_SUCCESS;
    }
  if (g_str_equal (action, "list"))
    {
      g_autoptr(GPtrArray) records = assay_quarantine_list (lifecycle, actor, &error);

      if (records == NULL)
        return fail (g_steal_pointer (&error));
      for (guint i = 0; i < records->len; i++)
        print_line (g_ptr_array_index (records, i));
      return EXIT_SUCCESS;
    }
  if (g_str_equal (action, "show") || g_str_equal (action, "delete"))
    {
      g_autoptr(JsonObject) record = g_str_equal (action, "show")
                                       ? assay_quarantine_show (lifecycle, id, actor, &error)
                                       : assay_quarantine_delete (lifecycle, id, actor, &error);

      if (record == NULL)
        return fail (g_steal_pointer (&error));
      print_line (record);
      return EXIT_SUCCESS;
    }
  {
    g_autoptr(SoupSession) session = NULL;
    g_autoptr(AssayEngine) engine = NULL;
    g_autoptr(AssayValidation) validation = NULL;
    g_autoptr(GPtrArray) stages = g_ptr_array_new_with_free_func (g_object_unref);
    g_autoptr(JsonObject) record = NULL;

    engine = make_engine (config, &session, &error);
    if (engine == NULL || !make_validation (config, &validation, &error))
      return fail (g_steal_pointer (&error));
    if (validation != NULL)
      g_ptr_array_add (stages, g_object_ref (validation));
    g_ptr_array_add (stages, g_object_ref (engine));
    record = assay_quarantine_release (lifecycle, id, stages, work_dir, actor, &error);
    if (record == NULL)
      return fail (g_steal_pointer (&error));
    print_line (record);
    return EXIT_SUCCESS;
  }
}

static int
run_worker (AssayConfig       *store_config,
            AssayWorkerConfig *config,
            int                exit_when_idle)
{
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(AssayEngine) engine = NULL;
  g_autoptr(AssayWorker) worker = NULL;
  g_autoptr(AssayLifecycle) lifecycle = NULL;
  g_autoptr(AssayValidation) validation = NULL;
  g_autoptr(AssayScanStage) scan = NULL;
  g_autoptr(AssayDefsRefresher) refresher = NULL;
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GError) error = NULL;
  Run run = { 0 };
  guint term_source, int_source;
  gboolean ok;

  engine = make_engine (config, &session, &error);
  if (engine == NULL)
    return fail (g_steal_pointer (&error));
  store = open_store (store_config, &error);
  if (store == NULL)
    return fail (g_steal_pointer (&error));
  scan = make_scan (store, config, pending, &refresher, &error);
  if (scan == NULL)
    return fail (g_steal_pointer (&error));

  lifecycle = assay_lifecycle_new (store, &config->lifecycle, &error);
  if (lifecycle == NULL)
    return fail (g_steal_pointer (&error));
  g_set_object (&config->settings.lifecycle, lifecycle);
  if (!make_validation (config, &validation, &error))
    return fail (g_steal_pointer (&error));

  if (exit_when_idle > 0)
    config->settings.exit_when_idle_ms = (guint) MIN ((gint64) exit_when_idle * 1000, G_MAXUINT);
  worker = assay_worker_new (store, &config->settings);
  assay_worker_add_stage (worker, ASSAY_STAGE (scan));
  if (validation != NULL)
    assay_worker_add_stage (worker, ASSAY_STAGE (validation));
  assay_worker_add_stage (worker, ASSAY_STAGE (engine));
  g_signal_connect (worker, "event", G_CALLBACK (event_cb), NULL);
  g_debug ("engine: %s", assay_engine_describe (engine));

  run.worker = worker;
  run.grace_ms = config->grace_ms;
  term_source = g_unix_signal_add (SIGTERM, signal_cb, &run);
  int_source = g_unix_signal_add (SIGINT, signal_cb, &run);
  assay_worker_run_async (worker, NULL, result_cb, &run.result);
  for (guint i = 0; i < pending->len; i++)
    defs_event_cb (refresher, pending->pdata[i], worker);
  g_signal_handlers_disconnect_by_func (refresher, defs_pending_cb, pending);
  g_signal_connect (refresher, "event", G_CALLBACK (defs_event_cb), worker);
  wait_for (&run.result);
  g_source_remove (term_source);
  g_source_remove (int_source);
  assay_defs_refresher_stop (refresher);

  ok = assay_worker_run_finish (worker, run.result, &error);
  g_clear_object (&run.result);
  if (!ok)
    return fail (g_steal_pointer (&error));
  return EXIT_SUCCESS;
}

static int
health (AssayWorkerConfig *config,
        int                max_age)
{
  g_autofree char *dir = config->settings.work_dir ? g_strdup (config->settings.work_dir)
                                                   : assay_worker_default_work_dir ();
  g_autofree char *report = NULL;
  g_autoptr(GError) error = NULL;

  if (!assay_worker_check_health (dir, (guint) max_age * 1000, &report, &error))
    {
      g_print ("unhealthy: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_print ("healthy: %s\n", report);
  return EXIT_SUCCESS;
}

static int
backlog (AssayConfig       *store_config,
         AssayWorkerConfig *config)
{
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(AssayVersionRange) accept = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = json_object_new ();
  guint64 count = 0;

  store = open_store (store_config, &error);
  if (store == NULL)
    return fail (g_steal_pointer (&error));
  accept = config->settings.accept ? assay_version_range_ref (config->settings.accept)
                                   : assay_version_range_new_for_major (PACKAGE_VERSION);
  assay_worker_count_claimable_async (store, accept, NULL, result_cb, &result);
  wait_for (&result);
  if (!assay_worker_count_claimable_finish (store, result, &count, &error))
    return fail (g_steal_pointer (&error));
  json_object_set_int_member (object, "claimable", (gint64) count);
  print_line (object);
  return EXIT_SUCCESS;
}

static int
defs_publish (AssayStore *store,
              const char *dir)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(AssayDefsManifest) manifest = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) line = json_object_new ();

  assay_defs_publish_async (store, dir, NULL, result_cb, &result);
  wait_for (&result);
  manifest = assay_defs_publish_finish (store, result, &error);
  if (manifest == NULL)
    return fail (g_steal_pointer (&error));
  json_object_set_string_member (line, "event", "defs-published");
  json_object_set_string_member (line, "version", manifest->version);
  json_object_set_string_member (line, "published", manifest->published);
  json_object_set_string_member (line, "set", manifest->set);
  json_object_set_int_member (line, "files", manifest->files->len);
  print_line (line);
  return EXIT_SUCCESS;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* freshclam from @mirror into a temporary directory, then a publish of what it got. */
static int
defs_update (AssayStore *store,
             const char *mirror)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("assay-freshclam-XXXXXX", &error);
  g_autofree char *db = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *conf_text = NULL;
  g_autofree char *conf_flag = NULL;
  g_autofree char *datadir_flag = NULL;
  g_autoptr(GSubprocess) freshclam = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  int status;

  if (tmp == NULL)
    return fail (g_steal_pointer (&error));
  db = g_build_filename (tmp, "db", NULL);
  conf = g_build_filename (tmp, "freshclam.conf", NULL);
  conf_text = assay_defs_freshclam_config (mirror, db);
  if (g_mkdir (db, 0700) < 0 || !g_file_set_contents (conf, conf_text, -1, &error))
    {
      remove_tree (tmp);
      if (error == NULL)
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make %s", db);
      return fail (g_steal_pointer (&error));
    }
  conf_flag = g_strconcat ("--config-file=", conf, NULL);
  datadir_flag = g_strconcat ("--datadir=", db, NULL);
  /* its messages go to our stderr (stdout is the JSON log): what the mirror said */
  g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  freshclam = g_subprocess_launcher_spawn (launcher, &error, "freshclam", conf_flag,
                                           datadir_flag, "--stdout", NULL);
  if (freshclam == NULL || !g_subprocess_wait (freshclam, NULL, &error))
    {
      remove_tree (tmp);
      g_prefix_error (&error, "cannot run freshclam (Debian package clamav-freshclam): ");
      return fail (g_steal_pointer (&error));
    }
  if (!g_subprocess_get_if_exited (freshclam) || g_subprocess_get_exit_status (freshclam) != 0)
    {
      remove_tree (tmp);
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "freshclam could not fetch the definitions from %s (exit status %d): "
                   "check the mirror's URL and that it serves main.cvd, daily.cvd and "
                   "bytecode.cvd; nothing was published",
                   mirror, g_subprocess_get_if_exited (freshclam)
                             ? g_subprocess_get_exit_status (freshclam) : -1);
      return fail (g_steal_pointer (&error));
    }
  status = defs_publish (store, db);
  remove_tree (tmp);
  return status;
}

static int
defs (AssayConfig *store_config,
      const char  *subcommand,
      const char  *from,
      const char  *mirror)
{
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(GError) error = NULL;

  store = open_store (store_config, &error);
  if (store == NULL)
    return fail (g_steal_pointer (&error));
  if (g_str_equal (subcommand, "publish"))
    return defs_publish (store, from);
  return defs_update (store, mirror);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(AssayConfig) store_flags = assay_config_new ();
  g_autoptr(AssayWorkerConfigLayer) worker_flags = assay_worker_config_layer_new ();
  g_autoptr(AssayConfig) store_config = NULL;
  g_autoptr(AssayWorkerConfig) config = NULL;
  g_autofree char *config_file = NULL;
  g_autoptr(GError) error = NULL;
  gboolean version = FALSE;
  g_autofree char *defs_from = NULL;
  g_autofree char *defs_mirror = NULL;
  const char *subcommand = NULL;
  int exit_when_idle = 0;
  g_autofree char *actor = NULL;
  g_autofree char *older_than = NULL;
  int max_age = HEALTH_MAX_AGE_DEFAULT_S;
  const GOptionEntry entries[] = {
    { "exit-when-idle", 0, 0, G_OPTION_ARG_INT, &exit_when_idle,
      "Exit once no job has been found or run for SECONDS", "SECONDS" },
    { "max-age", 0, 0, G_OPTION_ARG_INT, &max_age,
      "health: the oldest a heartbeat may be (default 15)", "SECONDS" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &defs_from,
      "defs publish: the directory of definitions files", "DIR" },
    { "mirror", 0, 0, G_OPTION_ARG_STRING, &defs_mirror,
      "defs update: the URL of the ClamAV database mirror", "URL" },
    { "actor", 0, 0, G_OPTION_ARG_STRING, &actor,
      "quarantine: who acts, for the log (default: the user name)", "NAME" },
    { "older-than", 0, 0, G_OPTION_ARG_STRING, &older_than,
      "archive-compact: zip the days that ended at least this long ago (1h)", "DURATION" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL },
  };
  const char *command;

  setlocale (LC_ALL, "");
  g_set_prgname ("assay-worker");
  /* a closed log pipe must not kill the worker; engines get SIGPIPE back (child_setup) */
  signal (SIGPIPE, SIG_IGN);

  context = g_option_context_new ("[health|backlog]");
  g_option_context_set_summary (context,
                                "Claims Assay jobs, analyses their files and stores the "
                                "encrypted results.\n\n"
                                "  (no command)  run the worker; SIGTERM stops it gracefully\n"
                                "  health        exit 0 if the workers in the work directory are "
                                "alive, else 1\n"
                                "  backlog       print {\"claimable\": N} for the store\n"
                                "  quarantine list|show JOB|release JOB|delete JOB [--actor NAME]\n"
                                "                act on quarantined files (release: a false "
                                "positive completes its job)\n"
                                "  archive-compact [--older-than DURATION]   zip the archive by day "
                                "(default 1h)\n"
                                "  defs publish --from DIR   upload a virus definitions set to "
                                "the store\n"
                                "  defs update --mirror URL  freshclam from a mirror, then "
                                "publish");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, assay_config_option_group (store_flags, &config_file));
  g_option_context_add_group (context, assay_worker_config_option_group (worker_flags));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage (context, error->message);
  if (version)
    {
      g_print ("%s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  command = argc >= 2 ? argv[1] : NULL;
  if (g_strcmp0 (command, "quarantine") == 0 || g_strcmp0 (command, "archive-compact") == 0)
    return lifecycle_main (argc, argv, store_flags, worker_flags, config_file, actor, older_than);
  if (g_strcmp0 (command, "defs") == 0)
    {
      subcommand = argc == 3 ? argv[2] : NULL;
      if (g_strcmp0 (subcommand, "publish") != 0 && g_strcmp0 (subcommand, "update") != 0)
        return usage (context, "defs takes publish --from DIR, or update --mirror URL");
      if (g_str_equal (subcommand, "publish") && defs_from == NULL)
        return usage (context, "defs publish needs --from DIR");
      if (g_str_equal (subcommand, "update") && defs_mirror == NULL)
        return usage (context, "defs update needs --mirror URL");
    }
  else if (argc > 2)
    return usage (context, "too many arguments");
  if (command != NULL && !g_str_equal (command, "health") && !g_str_equal (command, "backlog") &&
      !g_str_equal (command, "defs"))
    {
      g_autofree char *message = g_strdup_printf ("unknown command “%s”", command);

      return usage (context, message);
    }
  if (exit_when_idle < 0 || max_age <= 0)
    return usage (context, "--exit-when-idle and --max-age take a positive number of seconds");

  config = assay_worker_config_resolve (worker_flags, config_file, &error);
  if (config == NULL)
    return fail (g_steal_pointer (&error));
  if (command != NULL && g_str_equal (command, "health"))
    return health (config, max_age);

  store_config = assay_config_resolve (store_flags, config_file, &error);
  if (store_config == NULL)
    return fail (g_steal_pointer (&error));
  if (subcommand != NULL)
    return defs (store_config, subcommand, defs_from, defs_mirror);
  if (command != NULL)
    return backlog (store_config, config);
  return run_worker (store_config, config, exit_when_idle);
}
