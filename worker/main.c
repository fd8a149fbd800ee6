/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-worker: the Assay processor. Claims jobs from the store, analyses their files
 * and stores the encrypted results. It never listens on a socket. */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-config.h"
#include "assay-engine.h"
#include "assay-worker.h"
#include "assay-worker-config.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>

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

static int
run_worker (AssayConfig       *store_config,
            AssayWorkerConfig *config,
            int                exit_when_idle)
{
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(AssayEngine) engine = NULL;
  g_autoptr(AssayWorker) worker = NULL;
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

  if (exit_when_idle > 0)
    config->settings.exit_when_idle_ms = (guint) MIN ((gint64) exit_when_idle * 1000, G_MAXUINT);
  worker = assay_worker_new (store, &config->settings);
  assay_worker_add_stage (worker, ASSAY_STAGE (engine));
  g_signal_connect (worker, "event", G_CALLBACK (event_cb), NULL);
  g_debug ("engine: %s", assay_engine_describe (engine));

  run.worker = worker;
  run.grace_ms = config->grace_ms;
  term_source = g_unix_signal_add (SIGTERM, signal_cb, &run);
  int_source = g_unix_signal_add (SIGINT, signal_cb, &run);
  assay_worker_run_async (worker, NULL, result_cb, &run.result);
  wait_for (&run.result);
  g_source_remove (term_source);
  g_source_remove (int_source);

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
  int exit_when_idle = 0;
  int max_age = HEALTH_MAX_AGE_DEFAULT_S;
  const GOptionEntry entries[] = {
    { "exit-when-idle", 0, 0, G_OPTION_ARG_INT, &exit_when_idle,
      "Exit once no job has been found or run for SECONDS", "SECONDS" },
    { "max-age", 0, 0, G_OPTION_ARG_INT, &max_age,
      "health: the oldest a heartbeat may be (default 15)", "SECONDS" },
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
                                "  backlog       print {\"claimable\": N} for the store");
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
  if (argc > 2)
    return usage (context, "too many arguments");
  command = argc == 2 ? argv[1] : NULL;
  if (command != NULL && !g_str_equal (command, "health") && !g_str_equal (command, "backlog"))
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
  if (command != NULL)
    return backlog (store_config, config);
  return run_worker (store_config, config, exit_when_idle);
}
