/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-worker-supervisor.h"

#include <glib/gi18n.h>
#include <signal.h>
#include <sys/prctl.h>

#define BACKOFF_MIN_MS   1000
#define BACKOFF_MAX_MS   60000
#define STABLE_US        (60 * G_USEC_PER_SEC)  /* ran this long: the next death starts over */
#define STOP_GRACE_US    (35 * G_USEC_PER_SEC)  /* the worker's own grace is 30 s */

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

/* In the child: the worker is stopped (SIGTERM, so that it gives its jobs back) if the app
 * dies without stopping it. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
restart_cb (gpointer data)
{
  AssayWorkerSupervisor *self = data;
  g_autoptr(GError) error = NULL;

  self->restart_id = 0;
  self->restarts++;
  if (!spawn (self, &error))
    {
      set_problem (self, error->message);
      self->backoff_ms = MIN (BACKOFF_MAX_MS, self->backoff_ms * 2);
      self->restart_id = g_timeout_add (self->backoff_ms, restart_cb, self);
    }
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
  g_autofree char *problem = NULL;

  if (!g_subprocess_wait_finish (process, result, &error))
    return;  /* cancelled: stop() took over */
  if (self->process != process)
    return;
  g_clear_object (&self->process);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  if (!self->wanted)
    return;

  if (g_subprocess_get_if_exited (process))
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

static gboolean
spawn (AssayWorkerSupervisor  *self,
       GError                **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *program = assay_worker_supervisor_dup_program ();
  const char *inspect = g_getenv ("ASSAY_INSPECT");
  const char *extra = g_getenv ("ASSAY_WORKER_ARGS");
  g_autoptr(GError) local_error = NULL;

  g_ptr_array_add (argv, g_strdup (program));
  g_ptr_array_add (argv, g_strconcat ("--local=", self->store_dir, NULL));
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
  if (!spawn (self, error))
    {
      self->wanted = FALSE;
      g_clear_object (&self->cancellable);
      return FALSE;
    }
  return TRUE;
}

/* Stops the worker: SIGTERM (it gives back the jobs it holds), SIGKILL after the grace
 * time. Returns once it has exited. */
void
assay_worker_supervisor_stop (AssayWorkerSupervisor *self)
{
  g_autoptr(GSubprocess) process = NULL;
  gint64 deadline;

  g_return_if_fail (ASSAY_IS_WORKER_SUPERVISOR (self));

  self->wanted = FALSE;
  g_clear_handle_id (&self->restart_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  process = g_steal_pointer (&self->process);
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
