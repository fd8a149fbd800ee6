/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-command.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

typedef struct
{
  GSubprocess *process;
  GPid pid;
  guint timeout_source;
  gulong cancel_id;
  GCancellable *cancellable;
  gsize max_output;
  GByteArray *output;
  gboolean timed_out;
  gboolean reading;
  gboolean waiting;
  GError *error;
} Run;

void
assay_command_result_free (AssayCommandResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->output, g_bytes_unref);
  g_free (result);
}

static void
run_free (Run *run)
{
  g_clear_handle_id (&run->timeout_source, g_source_remove);
  if (run->cancellable != NULL)
    g_cancellable_disconnect (run->cancellable, run->cancel_id);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->process);
  g_clear_pointer (&run->output, g_byte_array_unref);
  g_clear_error (&run->error);
  g_free (run);
}

/**
 * assay_command_child_setup:
 * For g_subprocess_launcher_set_child_setup(): the program gets a process group of its
 * own (so that what it starts can be killed with it), SIGPIPE as usual (the worker
 * ignores it, and an ignored signal stays ignored across exec), and no life after the
 * worker's. Async-signal-safe calls only.
 */
void
assay_command_child_setup (gpointer data)
{
  setpgid (0, 0);
  signal (SIGPIPE, SIG_DFL);
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
}

/* Returns: the program's pid, or 0 when it has already ended (and been reaped) */
GPid
assay_command_get_pid (GSubprocess *process)
{
  const char *identifier = g_subprocess_get_identifier (process);

  return identifier != NULL ? (GPid) g_ascii_strtoll (identifier, NULL, 10) : 0;
}

/**
 * assay_command_kill_group:
 * @pid: from assay_command_get_pid(); 0 does nothing (kill (-0) would kill the worker's
 *   own group)
 * @running: the program has not been waited for yet: it is killed too, should it not
 *   have made its group yet
 *
 * Kills the program's process group. From any thread.
 */
void
assay_command_kill_group (GPid     pid,
                          gboolean running)
{
  if (pid <= 0)
    return;
  if (kill (-pid, SIGKILL) < 0 && errno != ESRCH)
    g_debug ("cannot kill process group %d: %s", pid, g_strerror (errno));
  if (running)
    kill (pid, SIGKILL);
}

static void
kill_group (Run *run)
{
  assay_command_kill_group (run->pid, run->waiting);
}

static void
maybe_return (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  AssayCommandResult *result;

  if (run->reading || run->waiting)
    return;
  g_clear_handle_id (&run->timeout_source, g_source_remove);
  if (run->error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&run->error));
      g_object_unref (task);
      return;
    }
  result = g_new0 (AssayCommandResult, 1);
  result->timed_out = run->timed_out;
  result->exited = g_subprocess_get_if_exited (run->process);
  result->status = result->exited ? g_subprocess_get_exit_status (run->process)
                                  : g_subprocess_get_term_sig (run->process);
  result->output = g_byte_array_free_to_bytes (g_steal_pointer (&run->output));
  g_task_return_pointer (task, result, (GDestroyNotify) assay_command_result_free);
  g_object_unref (task);
}

static gboolean
timeout_cb (gpointer data)
{
  Run *run = g_task_get_task_data (data);

  run->timeout_source = 0;
  run->timed_out = TRUE;
  kill_group (run);
  return G_SOURCE_REMOVE;
}

static void
cancelled_cb (GCancellable *cancellable,
              gpointer      data)
{
  Run *run = data;

  /* from any thread: the wait and the read then end */
  assay_command_kill_group (run->pid, TRUE);
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  GTask *task = data;
  Run *run = g_task_get_task_data (task);

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  run->waiting = FALSE;
  /* whatever the program left running in its group goes with it */
  kill_group (run);
  maybe_return (task);
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  GTask *task = data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      run->reading = FALSE;
      maybe_return (task);
      return;
    }
  if (run->output->len + g_bytes_get_size (bytes) > run->max_output)
    {
      if (run->error == NULL)
        run->error = g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                  "the command printed more than %" G_GSIZE_FORMAT " bytes",
                                  run->max_output);
      kill_group (run);
      run->reading = FALSE;
      maybe_return (task);
      return;
    }
  g_byte_array_append (run->output, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 16384, G_PRIORITY_DEFAULT, NULL,
                                   read_cb, task);
}

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(GError) error = NULL;

  /* a command that does not read its stdin is not an error */
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    g_debug ("the command did not read its input: %s", error->message);
  g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
  g_bytes_unref (data);
}

/**
 * assay_command_run_async:
 * @argv: the program and its arguments
 * @env: (nullable): its environment; %NULL: the worker's
 * @input: (nullable): written to its stdin, which is then closed
 * @timeout_ms: after this long the process group is killed (0: never)
 *
 * The finish function returns how it ended and what it printed; an error only when it
 * could not be started or printed more than @max_output.
 */
void
assay_command_run_async (const char * const  *argv,
                         const char * const  *env,
                         GBytes              *input,
                         guint                timeout_ms,
                         gsize                max_output,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  GTask *task;
  Run *run;
  GError *error = NULL;
  GOutputStream *stdin_pipe;

  g_return_if_fail (argv != NULL && argv[0] != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_command_run_async);
  run = g_new0 (Run, 1);
  run->max_output = max_output;
  run->output = g_byte_array_new ();
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  if (env != NULL)
    g_subprocess_launcher_set_environ (launcher, (char **) env);
  g_subprocess_launcher_set_child_setup (launcher, assay_command_child_setup, NULL, NULL);
  run->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (run->process == NULL)
    {
      g_prefix_error (&error, "cannot run %s: ", argv[0]);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  run->pid = assay_command_get_pid (run->process);
  run->reading = TRUE;
  run->waiting = TRUE;

  stdin_pipe = g_subprocess_get_stdin_pipe (run->process);
  if (input != NULL && g_bytes_get_size (input) > 0)
    g_output_stream_write_all_async (stdin_pipe, g_bytes_get_data (input, NULL),
                                     g_bytes_get_size (input), G_PRIORITY_DEFAULT, NULL,
                                     write_cb, g_bytes_ref (input));
  else
    g_output_stream_close (stdin_pipe, NULL, NULL);

  if (timeout_ms > 0)
    run->timeout_source = g_timeout_add (timeout_ms, timeout_cb, task);
  if (cancellable != NULL)
    {
      run->cancellable = g_object_ref (cancellable);
      run->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), run, NULL);
    }
  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (run->process), 16384,
                                   G_PRIORITY_DEFAULT, NULL, read_cb, task);
  g_subprocess_wait_async (run->process, NULL, wait_cb, task);
}

/* Returns: (transfer full): how the command ended, or %NULL with @error set */
AssayCommandResult *
assay_command_run_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
