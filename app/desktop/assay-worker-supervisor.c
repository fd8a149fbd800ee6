/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-worker-supervisor.h"

#include <glib/gi18n.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#define BACKOFF_MIN_MS   1000
#define BACKOFF_MAX_MS   60000
#define STABLE_US        (60 * G_USEC_PER_SEC)  /* ran this long: the next death starts over */
/* On SIGTERM the worker finishes its jobs for at most LOCAL_GRACE, then gives them back
 * (due at once: the next worker on this store takes them); a desktop does not wait 30 s
 * for a settings change or a quit. */
#define LOCAL_GRACE      "5s"
#define STOP_GRACE_S     8
#define STOP_GRACE_US    (STOP_GRACE_S * G_USEC_PER_SEC)
#define DEFS_RETRY_S     60                      /* without definitions: look again */
#define STDERR_LINES     2                       /* the worker's last words, for the banner */
#define WORKER_PREFIX    "assay-worker: "
#define SYSTEM_DEFS_DIR  "/var/lib/clamav"       /* where clamav-freshclam keeps them */

struct _AssayWorkerSupervisor
{
  GObject parent_instance;

  char *store_dir;
  char *engine_command;
  GSubprocess *process;
  GCancellable *cancellable;
  gint64 started_us;
  guint backoff_ms;
  guint restart_id;
  guint restarts;
  gboolean wanted;
  char *problem;

  GSubprocess *publisher;      /* `assay-worker defs publish`, while it runs */
  GDataInputStream *stderr_lines; /* the worker's standard error, until its end */
  GQueue last_lines;           /* its last STDERR_LINES own messages ("assay-worker: …") */
  GSubprocess *dead;           /* exited, waiting for the end of its standard error */
  guint dead_id;               /* the longest wait for it */
};

G_DEFINE_FINAL_TYPE (AssayWorkerSupervisor, assay_worker_supervisor, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_RUNNING,
  PROP_PROBLEM,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
assay_worker_supervisor_dispose (GObject *object)
{
  AssayWorkerSupervisor *self = ASSAY_WORKER_SUPERVISOR (object);

  assay_worker_supervisor_stop (self);

  G_OBJECT_CLASS (assay_worker_supervisor_parent_class)->dispose (object);
}

static void
assay_worker_supervisor_finalize (GObject *object)
{
  AssayWorkerSupervisor *self = ASSAY_WORKER_SUPERVISOR (object);

  g_free (self->store_dir);
  g_free (self->engine_command);
  g_free (self->problem);
  g_queue_clear_full (&self->last_lines, g_free);

  G_OBJECT_CLASS (assay_worker_supervisor_parent_class)->finalize (object);
}

static void
assay_worker_supervisor_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  AssayWorkerSupervisor *self = ASSAY_WORKER_SUPERVISOR (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, self->process != NULL);
      break;
    case PROP_PROBLEM:
      g_value_set_string (value, self->problem);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_worker_supervisor_class_init (AssayWorkerSupervisorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = assay_worker_supervisor_dispose;
  object_class->finalize = assay_worker_supervisor_finalize;
  object_class->get_property = assay_worker_supervisor_get_property;

  properties[PROP_RUNNING] = g_param_spec_boolean ("running", NULL, NULL, FALSE, flags);
  properties[PROP_PROBLEM] = g_param_spec_string ("problem", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
assay_worker_supervisor_init (AssayWorkerSupervisor *self)
{
  self->backoff_ms = BACKOFF_MIN_MS;
  g_queue_init (&self->last_lines);
}

AssayWorkerSupervisor *
assay_worker_supervisor_new (const char *store_dir,
                             const char *engine_command)
{
  AssayWorkerSupervisor *self;

  g_return_val_if_fail (store_dir != NULL, NULL);

  self = g_object_new (ASSAY_TYPE_WORKER_SUPERVISOR, NULL);
  self->store_dir = g_strdup (store_dir);
  if (engine_command != NULL && *engine_command != '\0')
    self->engine_command = g_strdup (engine_command);
  return self;
}

/* Returns: the assay-worker program to run. */
char *
assay_worker_supervisor_dup_program (void)
{
  const char *env = g_getenv ("ASSAY_WORKER");

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  return g_build_filename (ASSAY_BINDIR, "assay-worker", NULL);
}

static void
set_problem (AssayWorkerSupervisor *self,
             const char            *problem)
{
  if (g_strcmp0 (self->problem, problem) == 0)
    return;
  g_free (self->problem);
  self->problem = g_strdup (problem);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROBLEM]);
}

static gboolean spawn (AssayWorkerSupervisor *self, GError **error);
static gboolean launch (AssayWorkerSupervisor *self, GError **error);

/* In the child: the worker is stopped (SIGTERM, so that it gives its jobs back) if the app
 * dies without stopping it. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean restart_cb (gpointer data);

static void
try_launch (AssayWorkerSupervisor *self)
{
  g_autoptr(GError) error = NULL;

  if (!launch (self, &error))
    {
      set_problem (self, error->message);
      self->backoff_ms = MIN (BACKOFF_MAX_MS, self->backoff_ms * 2);
      self->restart_id = g_timeout_add (self->backoff_ms, restart_cb, self);
    }
}

static gboolean
restart_cb (gpointer data)
{
  AssayWorkerSupervisor *self = data;

  self->restart_id = 0;
  self->restarts++;
  try_launch (self);
  return G_SOURCE_REMOVE;
}

/* Waiting for definitions is not a restart: look again, without counting. */
static gboolean
defs_retry_cb (gpointer data)
{
  AssayWorkerSupervisor *self = data;

  self->restart_id = 0;
  try_launch (self);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------------------- */
/* Virus definitions                                                                     */

/* Whether the local store holds published definitions (the worker's defs/manifest.json). */
static gboolean
store_has_definitions (AssayWorkerSupervisor *self)
{
  g_autofree char *manifest = g_build_filename (self->store_dir, "objects", "defs",
                                                "manifest.json", NULL);

  return g_file_test (manifest, G_FILE_TEST_EXISTS);
}

/* Returns: (nullable): the folder of the system's ClamAV databases ($ASSAY_SYSTEM_DEFS_DIR,
 * else /var/lib/clamav), when it holds any. */
static char *
find_system_definitions (void)
{
  static const char * const suffixes[] = { ".cvd", ".cld", ".cud", ".ndb", ".hdb", ".hsb",
                                            ".ldb", ".mdb", ".msb", ".yar", ".yara" };
  const char *env = g_getenv ("ASSAY_SYSTEM_DEFS_DIR");
  const char *dir = env != NULL && *env != '\0' ? env : SYSTEM_DEFS_DIR;
  g_autoptr(GDir) entries = g_dir_open (dir, 0, NULL);
  const char *name;

  while (entries != NULL && (name = g_dir_read_name (entries)) != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
      if (g_str_has_suffix (name, suffixes[i]))
        return g_strdup (dir);
  return NULL;
}

static void
wait_for_definitions (AssayWorkerSupervisor *self,
                      const char            *problem)
{
  if (g_strcmp0 (self->problem, problem) != 0)
    g_message ("%s", problem);
  set_problem (self, problem);
  g_clear_handle_id (&self->restart_id, g_source_remove);
  self->restart_id = g_timeout_add_seconds (DEFS_RETRY_S, defs_retry_cb, self);
}

static void
published_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(AssayWorkerSupervisor) self = data;
  GSubprocess *publisher = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) spawn_error = NULL;
  g_autofree char *err = NULL;

  if (!g_subprocess_communicate_utf8_finish (publisher, result, NULL, &err, &error))
    return; /* cancelled: stop() took over */
  if (self->publisher != publisher)
    return;
  g_clear_object (&self->publisher);
  if (!self->wanted)
    return;

  if (!g_subprocess_get_successful (publisher))
    {
      g_autofree char *problem = NULL;

      /* TRANSLATORS: %s is the error of `assay-worker defs publish` */
      problem = g_strdup_printf (_("The system’s virus definitions cannot be used: %s"),
                                 err != NULL ? g_strstrip (err) : "");
      wait_for_definitions (self, problem);
      return;
    }
  g_debug ("published the system's virus definitions in %s", self->store_dir);
  if (!spawn (self, &spawn_error))
    {
      set_problem (self, spawn_error->message);
      self->restart_id = g_timeout_add (self->backoff_ms, restart_cb, self);
    }
}

/* Publishes the definitions of @dir in the local store, in the background. */
static gboolean
publish (AssayWorkerSupervisor  *self,
         const char             *dir,
         GError                **error)
{
  g_autofree char *program = assay_worker_supervisor_dup_program ();
  g_autofree char *from = g_strconcat ("--from=", dir, NULL);
  g_autofree char *local = g_strconcat ("--local=", self->store_dir, NULL);
  g_autoptr(GError) local_error = NULL;

  g_debug ("publishing the virus definitions of %s", dir);
  self->publisher = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                      &local_error, program, "defs", "publish", from, local,
                                      NULL);
  if (self->publisher == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The local processor %s cannot be started: %s. Reinstall Assay, or "
                     "choose the AWS store in Preferences."), program, local_error->message);
      return FALSE;
    }
  g_subprocess_communicate_utf8_async (self->publisher, NULL, self->cancellable, published_cb,
                                       g_object_ref (self));
  return TRUE;
}

/* Starts the worker, once the store has definitions: the system's are published first;
 * without any, the problem says what to do, and the store is looked at again later. */
static gboolean
launch (AssayWorkerSupervisor  *self,
        GError                **error)
{
  g_autofree char *dir = NULL;

  if (store_has_definitions (self))
    return spawn (self, error);
  dir = find_system_definitions ();
  if (dir != NULL)
    return publish (self, dir, error);
  wait_for_definitions (self, _("No virus definitions: install ClamAV’s freshclam "
                                "(clamav-freshclam) or publish definitions with "
                                "assay-worker defs publish."));
  return TRUE;
}

/* ------------------------------------------------------------------------------------- */
/* The worker                                                                            */

/* The worker and its standard error have ended: say why, and start it again. */
static void
died (AssayWorkerSupervisor *self)
{
  g_autoptr(GSubprocess) process = g_steal_pointer (&self->dead);
  g_autoptr(GString) words = g_string_new (NULL);
  g_autofree char *problem = NULL;

  g_clear_handle_id (&self->dead_id, g_source_remove);
  g_clear_object (&self->stderr_lines); /* what still comes is passed on, not kept */

  for (GList *l = self->last_lines.head; l != NULL; l = l->next)
    {
      if (words->len > 0)
        g_string_append_c (words, '\n');
      g_string_append (words, (const char *) l->data + strlen (WORKER_PREFIX));
    }

  if (g_subprocess_get_if_exited (process) && words->len > 0)
    /* TRANSLATORS: the local processor stopped; %d is its exit status, %s its own
     * last words (in English) */
    problem = g_strdup_printf (_("The local processor stopped (exit status %d); restarting "
                                 "it. It said: %s"),
                               g_subprocess_get_exit_status (process), words->str);
  else if (g_subprocess_get_if_exited (process))
    /* TRANSLATORS: the local processor stopped; %d is its exit status */
    problem = g_strdup_printf (_("The local processor stopped (exit status %d); restarting it."),
                               g_subprocess_get_exit_status (process));
  else
    problem = g_strdup_printf (_("The local processor was killed (signal %d); restarting it."),
                               g_subprocess_get_term_sig (process));
  g_message ("%s", problem);
  set_problem (self, problem);
  if (g_get_monotonic_time () - self->started_us > STABLE_US)
    self->backoff_ms = BACKOFF_MIN_MS;
  else
    self->backoff_ms = MIN (BACKOFF_MAX_MS, self->backoff_ms * 2);
  self->restart_id = g_timeout_add (self->backoff_ms, restart_cb, self);
}

/* A line of the worker's standard error: passed on to ours, and the last few kept. It is
 * read to its end even after a stop, so that the worker never writes into a closed pipe
 * while it gives its jobs back. */
static void
stderr_line_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(AssayWorkerSupervisor) self = data;
  GDataInputStream *lines = G_DATA_INPUT_STREAM (source);
  g_autofree char *line = g_data_input_stream_read_line_finish (lines, result, NULL, NULL);

  if (line == NULL)
    {
      if (lines == self->stderr_lines)
        {
          g_clear_object (&self->stderr_lines);
          if (self->dead != NULL)
            died (self);
        }
      return;
    }
  g_printerr ("%s\n", line);
  /* its own messages, not the usage text or a library's log that may follow them */
  if (lines == self->stderr_lines && g_str_has_prefix (line, WORKER_PREFIX) &&
      *g_strstrip (line + strlen (WORKER_PREFIX)) != '\0')
    {
      g_queue_push_tail (&self->last_lines, g_utf8_make_valid (line, -1));
      if (self->last_lines.length > STDERR_LINES)
        g_free (g_queue_pop_head (&self->last_lines));
    }
  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, NULL, stderr_line_cb,
                                       g_object_ref (self));
}

/* Its standard error is still open (a child of it holds it): do not wait any longer. */
static gboolean
dead_cb (gpointer data)
{
  AssayWorkerSupervisor *self = data;

  self->dead_id = 0;
  died (self);
  return G_SOURCE_REMOVE;
}

static void
exited_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(AssayWorkerSupervisor) self = data;
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_finish (process, result, &error))
    return;  /* cancelled: stop() took over */
  if (self->process != process)
    return;
  g_clear_object (&self->process);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  if (!self->wanted)
    return;

  /* its last words may still be in the pipe */
  g_set_object (&self->dead, process);
  if (self->stderr_lines == NULL)
    died (self);
  else
    self->dead_id = g_timeout_add (1000, dead_cb, self);
}

static gboolean
spawn (AssayWorkerSupervisor  *self,
       GError                **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *program = assay_worker_supervisor_dup_program ();
  const char *inspect = g_getenv ("ASSAY_INSPECT");
  const char *extra = g_getenv ("ASSAY_WORKER_ARGS");
  g_autoptr(GError) local_error = NULL;

  g_ptr_array_add (argv, g_strdup (program));
  g_ptr_array_add (argv, g_strconcat ("--local=", self->store_dir, NULL));
  g_ptr_array_add (argv, g_strdup ("--grace=" LOCAL_GRACE));
  if (self->engine_command != NULL)
    g_ptr_array_add (argv, g_strconcat ("--engine-exec=", self->engine_command, NULL));
  else if (inspect != NULL && *inspect != '\0')
    g_ptr_array_add (argv, g_strconcat ("--engine-exec=", inspect, NULL));
  if (extra != NULL && *extra != '\0')
    {
      g_auto(GStrv) args = NULL;

      if (!g_shell_parse_argv (extra, NULL, &args, error))
        return FALSE;
      for (guint i = 0; args[i] != NULL; i++)
        g_ptr_array_add (argv, g_strdup (args[i]));
    }
  g_ptr_array_add (argv, NULL);

  /* its standard error is read, for its last words, and passed on to ours */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                                &local_error);
  if (self->process == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The local processor %s cannot be started: %s. Reinstall Assay, or "
                     "choose the AWS store in Preferences."), program, local_error->message);
      return FALSE;
    }
  g_debug ("started %s (pid %s)", program, g_subprocess_get_identifier (self->process));
  self->started_us = g_get_monotonic_time ();
  g_queue_clear_full (&self->last_lines, g_free);
  g_set_object (&self->stderr_lines,
                g_data_input_stream_new (g_subprocess_get_stderr_pipe (self->process)));
  g_data_input_stream_read_line_async (self->stderr_lines, G_PRIORITY_DEFAULT, NULL,
                                       stderr_line_cb, g_object_ref (self));
  g_subprocess_wait_async (self->process, self->cancellable, exited_cb, g_object_ref (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  return TRUE;
}

gboolean
assay_worker_supervisor_start (AssayWorkerSupervisor  *self,
                               GError                **error)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self), FALSE);

  if (self->wanted)
    return TRUE;
  self->wanted = TRUE;
  self->cancellable = g_cancellable_new ();
  if (!launch (self, error))
    {
      self->wanted = FALSE;
      g_clear_object (&self->cancellable);
      return FALSE;
    }
  return TRUE;
}

/* Stops supervising: no restart, no definitions publishing. Returns: (transfer full)
 * (nullable): the running worker, for the caller to stop */
static GSubprocess *
let_go (AssayWorkerSupervisor *self)
{
  self->wanted = FALSE;
  g_clear_handle_id (&self->restart_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->stderr_lines);
  g_clear_object (&self->dead);
  g_clear_handle_id (&self->dead_id, g_source_remove);
  if (self->publisher != NULL)
    g_subprocess_force_exit (self->publisher);
  g_clear_object (&self->publisher);
  return g_steal_pointer (&self->process);
}

/* Stops the worker: SIGTERM (it gives back the jobs it holds), SIGKILL after the grace
 * time. Returns once it has exited (at most STOP_GRACE_S): for the app's quit. */
void
assay_worker_supervisor_stop (AssayWorkerSupervisor *self)
{
  g_autoptr(GSubprocess) process = NULL;
  gint64 deadline;

  g_return_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self));

  process = let_go (self);
  if (process == NULL)
    return;
  g_subprocess_send_signal (process, SIGTERM);
  deadline = g_get_monotonic_time () + STOP_GRACE_US;
  while (g_subprocess_get_identifier (process) != NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (10000);
  if (g_subprocess_get_identifier (process) != NULL)
    {
      g_message ("the local processor did not stop in time: killing it");
      g_subprocess_force_exit (process);
      g_subprocess_wait (process, NULL, NULL);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

static gboolean
kill_late_cb (gpointer data)
{
  GSubprocess *process = data;

  if (g_subprocess_get_identifier (process) != NULL)
    {
      g_message ("the local processor did not stop in time: killing it");
      g_subprocess_force_exit (process);
    }
  return G_SOURCE_REMOVE;
}

static void
reaped_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  guint kill_id = GPOINTER_TO_UINT (data);

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  g_source_remove (kill_id);
}

/**
 * assay_worker_supervisor_stop_in_background:
 * The same as assay_worker_supervisor_stop(), without waiting: the worker ends on its
 * own while the app goes on (a settings change starts the next one at once; both on the
 * same store is fine, as any two workers are).
 */
void
assay_worker_supervisor_stop_in_background (AssayWorkerSupervisor *self)
{
  g_autoptr(GSubprocess) process = NULL;
  guint kill_id;

  g_return_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self));

  process = let_go (self);
  if (process == NULL)
    return;
  g_subprocess_send_signal (process, SIGTERM);
  kill_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, STOP_GRACE_S, kill_late_cb,
                                        g_object_ref (process), g_object_unref);
  g_subprocess_wait_async (process, NULL, reaped_cb, GUINT_TO_POINTER (kill_id));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

/**
 * assay_worker_supervisor_retry:
 * Looks for definitions and starts the worker now, rather than at the next try (for the
 * Retry of the problem's banner). Does nothing while it runs or starts.
 */
void
assay_worker_supervisor_retry (AssayWorkerSupervisor *self)
{
  g_return_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self));

  if (!self->wanted || self->process != NULL || self->publisher != NULL || self->dead != NULL ||
      self->restart_id == 0)
    return;
  g_clear_handle_id (&self->restart_id, g_source_remove);
  try_launch (self);
}

gboolean
assay_worker_supervisor_is_running (AssayWorkerSupervisor *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self), FALSE);
  return self->process != NULL;
}

guint
assay_worker_supervisor_get_restarts (AssayWorkerSupervisor *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self), 0);
  return self->restarts;
}

const char *
assay_worker_supervisor_get_problem (AssayWorkerSupervisor *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self), NULL);
  return self->problem;
}

/* Returns: (nullable): the running worker's process id, as text */
const char *
assay_worker_supervisor_get_identifier (AssayWorkerSupervisor *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self), NULL);
  return self->process ? g_subprocess_get_identifier (self->process) : NULL;
}
