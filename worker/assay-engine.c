/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-engine"

#include "config.h"

#include "assay-engine.h"

#include "assay-command.h"
#include "assay-failure.h"
#include "assay-strict-json.h"
#include "assay-util.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* How much of an exec engine's standard error is copied to the log per run. */
#define STDERR_LOG_LIMIT (64 * 1024)
/* How long the pipes may stay open once the program has exited and its group is killed
 * (a descendant that left the group could hold them). */
#define PIPE_GRACE_MS 2000
#define READ_SIZE     (64 * 1024)

typedef enum
{
  KIND_EXEC,
  KIND_HTTP,
} Kind;

struct _AssayEngine
{
  GObject parent_instance;

  Kind kind;
  char **argv;          /* exec */
  SoupSession *session; /* http */
  GUri *uri;
  char *description;
  guint timeout_ms;
  gsize max_output;
};

static void assay_engine_stage_init (AssayStageInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AssayEngine, assay_engine, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ASSAY_TYPE_STAGE, assay_engine_stage_init))

static void
assay_engine_finalize (GObject *object)
{
  AssayEngine *self = ASSAY_ENGINE (object);

  g_strfreev (self->argv);
  g_clear_object (&self->session);
  g_clear_pointer (&self->uri, g_uri_unref);
  g_free (self->description);

  G_OBJECT_CLASS (assay_engine_parent_class)->finalize (object);
}

static void
assay_engine_class_init (AssayEngineClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_engine_finalize;
}

static void
assay_engine_init (AssayEngine *self)
{
  self->timeout_ms = ASSAY_ENGINE_TIMEOUT_DEFAULT_MS;
  self->max_output = ASSAY_ENGINE_MAX_OUTPUT_DEFAULT;
}

/**
 * assay_engine_new_exec:
 * @command: the program and its first arguments, split as a shell would (quotes, no
 *   expansions); the file's path is added as the last argument
 * Returns: (transfer full) (nullable): the engine, or %NULL when @command is empty or
 *   badly quoted
 */
AssayEngine *
assay_engine_new_exec (const char  *command,
                       GError     **error)
{
  g_autoptr(AssayEngine) self = g_object_new (ASSAY_TYPE_ENGINE, NULL);
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (command != NULL, NULL);

  self->kind = KIND_EXEC;
  if (!g_shell_parse_argv (command, NULL, &self->argv, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the engine command “%s” cannot be split into arguments: %s", command,
                   local_error->message);
      return NULL;
    }
  self->description = g_strdup_printf ("exec %s", command);
  return g_steal_pointer (&self);
}

/**
 * assay_engine_new_http:
 * @session: the program's session
 * @url: an http:// or https:// URL
 * Returns: (transfer full) (nullable): the engine, or %NULL when @url is not such a URL
 */
AssayEngine *
assay_engine_new_http (SoupSession  *session,
                       const char   *url,
                       GError      **error)
{
  g_autoptr(AssayEngine) self = g_object_new (ASSAY_TYPE_ENGINE, NULL);

  g_return_val_if_fail (SOUP_IS_SESSION (session), NULL);
  g_return_val_if_fail (url != NULL, NULL);

  self->kind = KIND_HTTP;
  self->uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  if (self->uri == NULL || g_uri_get_host (self->uri) == NULL ||
      *g_uri_get_host (self->uri) == '\0' ||
      (g_strcmp0 (g_uri_get_scheme (self->uri), "http") != 0 &&
       g_strcmp0 (g_uri_get_scheme (self->uri), "https") != 0))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the engine URL “%s” is not an http:// or https:// URL", url);
      return NULL;
    }
  self->session = g_object_ref (session);
  self->description = g_strdup_printf ("http %s", url);
  return g_steal_pointer (&self);
}

/* @timeout_ms: how long one run may take; 0 = the default */
void
assay_engine_set_timeout (AssayEngine *self,
                          guint        timeout_ms)
{
  g_return_if_fail (ASSAY_IS_ENGINE (self));

  self->timeout_ms = timeout_ms > 0 ? timeout_ms : ASSAY_ENGINE_TIMEOUT_DEFAULT_MS;
}

/* @max_output: the most bytes of JSON a run may return; 0 = the default */
void
assay_engine_set_max_output (AssayEngine *self,
                             gsize        max_output)
{
  g_return_if_fail (ASSAY_IS_ENGINE (self));

  self->max_output = max_output > 0 ? max_output : ASSAY_ENGINE_MAX_OUTPUT_DEFAULT;
}

/* Returns: "exec COMMAND" or "http URL", for the log */
const char *
assay_engine_describe (AssayEngine *self)
{
  g_return_val_if_fail (ASSAY_IS_ENGINE (self), NULL);

  return self->description;
}

/**
 * assay_engine_check:
 * Checks what can be checked before the first job: that an exec engine's program
 * exists and is executable.
 * Returns: %TRUE when the engine looks usable
 */
gboolean
assay_engine_check (AssayEngine  *self,
                    GError      **error)
{
  g_autofree char *program = NULL;

  g_return_val_if_fail (ASSAY_IS_ENGINE (self), FALSE);

  if (self->kind != KIND_EXEC)
    return TRUE;
  program = g_find_program_in_path (self->argv[0]);
  if (program == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "the engine program “%s” is not an executable file (nor on PATH)",
                   self->argv[0]);
      return FALSE;
    }
  return TRUE;
}

/**
 * assay_engine_find_default:
 * Returns: (transfer full) (nullable): the command of the bundled engine,
 *   %ASSAY_ENGINE_DEFAULT_PROGRAM next to the running program or on PATH, quoted for
 *   assay_engine_new_exec(); %NULL when there is none
 */
char *
assay_engine_find_default (void)
{
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *found = NULL;

  if (self_path != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self_path);
      g_autofree char *candidate = g_build_filename (dir, ASSAY_ENGINE_DEFAULT_PROGRAM, NULL);

      if (g_file_test (candidate, G_FILE_TEST_IS_REGULAR) &&
          g_file_test (candidate, G_FILE_TEST_IS_EXECUTABLE))
        found = g_steal_pointer (&candidate);
    }
  if (found == NULL)
    found = g_find_program_in_path (ASSAY_ENGINE_DEFAULT_PROGRAM);
  return found != NULL ? g_shell_quote (found) : NULL;
}

/* ------------------------------------------------------------------------------------- */
/* One run                                                                               */

typedef struct
{
  AssayEngine *engine;
  char *job_id;
  GCancellable *cancellable; /* ours: the caller's, the timeout and the output limit */
  GCancellable *caller;
  gulong caller_id;
  guint timeout_source;
  char *failure;             /* why the run failed, once known */
  gboolean cancelled;
  gboolean finished;         /* the task has returned */
  GByteArray *output;

  /* exec */
  GSubprocess *process;
  GPid pid;
  gboolean waited;
  gboolean stdout_done;
  gboolean stderr_done;
  guint grace_source;
  GString *stderr_line;
  gsize stderr_logged;

  /* http */
  SoupMessage *message;
  GInputStream *body;
  gboolean http_done;
} Run;

static void
run_free (Run *run)
{
  g_clear_handle_id (&run->timeout_source, g_source_remove);
  g_clear_handle_id (&run->grace_source, g_source_remove);
  if (run->caller != NULL)
    g_cancellable_disconnect (run->caller, run->caller_id);
  g_clear_object (&run->caller);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->engine);
  g_free (run->job_id);
  g_free (run->failure);
  g_clear_pointer (&run->output, g_byte_array_unref);
  g_clear_object (&run->process);
  if (run->stderr_line != NULL)
    g_string_free (run->stderr_line, TRUE);
  g_clear_object (&run->message);
  g_clear_object (&run->body);
  g_free (run);
}

/* Records the first reason a run failed. */
static void
set_failure (Run        *run,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
set_failure (Run        *run,
             const char *format,
             ...)
{
  va_list args;

  if (run->failure != NULL)
    return;
  va_start (args, format);
  run->failure = g_strdup_vprintf (format, args);
  va_end (args);
}

/* Kills the program's whole process group (and the program itself, should it not have
 * made its group yet). */
static void
kill_group (Run *run)
{
  assay_command_kill_group (run->pid, !run->waited);
}

static void
stop_run (Run *run)
{
  if (run->finished)
    return;
  if (run->engine->kind == KIND_EXEC)
    kill_group (run);
  g_cancellable_cancel (run->cancellable);
}

static gboolean
timeout_cb (gpointer data)
{
  Run *run = g_task_get_task_data (data);

  run->timeout_source = 0;
  set_failure (run, "timed out after %u ms", run->engine->timeout_ms);
  stop_run (run);
  return G_SOURCE_REMOVE;
}

static gboolean
caller_cancelled_idle_cb (gpointer data)
{
  Run *run = g_task_get_task_data (data);

  run->cancelled = TRUE;
  stop_run (run);
  return G_SOURCE_REMOVE;
}

/* The caller's cancellable may fire in any thread: act on the run's context. */
static void
caller_cancelled_cb (GCancellable *cancellable,
                     gpointer      data)
{
  GTask *task = data;

  assay_idle_on (g_task_get_context (task), caller_cancelled_idle_cb, g_object_ref (task),
                 g_object_unref);
}

/* Appends @bytes to the output, or stops the run when it would pass the limit. */
static gboolean
take_output (Run    *run,
             GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  if (run->output->len + len > run->engine->max_output)
    {
      set_failure (run, "returned more than %" G_GSIZE_FORMAT " bytes", run->engine->max_output);
      stop_run (run);
      return FALSE;
    }
  g_byte_array_append (run->output, data, len);
  return TRUE;
}

static void complete (GTask *task);

/* Ends the run with an error of the worker's own (the engine cannot be started or
 * reached): not the job's fault, so not ENGINE_FAILED. Takes @error. */
static void
complete_with_error (GTask  *task,
                     GError *error)
{
  Run *run = g_task_get_task_data (task);

  run->finished = TRUE;
  g_clear_handle_id (&run->timeout_source, g_source_remove);
  g_clear_handle_id (&run->grace_source, g_source_remove);
  if (run->cancelled || run->failure != NULL)
    {
      g_error_free (error);
      complete (task);
      return;
    }
  g_task_return_error (task, error);
}

static void
complete (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  const char *text;
  gsize len;

  run->finished = TRUE;
  g_clear_handle_id (&run->timeout_source, g_source_remove);
  g_clear_handle_id (&run->grace_source, g_source_remove);

  if (run->cancelled)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the engine was stopped");
      return;
    }
  if (run->failure != NULL)
    {
      g_debug ("job %s: the engine (%s) failed: %s", run->job_id, run->engine->description,
               run->failure);
      g_task_return_new_error (task, ASSAY_FAILURE, ASSAY_FAILURE_ENGINE_FAILED,
                               "the engine failed: %s",
                               run->failure);
      return;
    }

  /* the envelope carries these very bytes (assay-stage.h): strict JSON, or nothing */
  text = (const char *) run->output->data;
  len = run->output->len;
  assay_strict_json_trim (&text, &len);
  if (!assay_strict_json_check_object (text, len, &error))
    {
      g_task_return_new_error (task, ASSAY_FAILURE, ASSAY_FAILURE_ENGINE_FAILED,
                               "the engine failed: its output (%u bytes) is not a JSON object: %s",
                               run->output->len, error->message);
      return;
    }
  g_task_return_pointer (task, g_bytes_new (text, len), (GDestroyNotify) g_bytes_unref);
}

/* ------------------------------------------------------------------------------------- */
/* exec                                                                                  */

static void
exec_maybe_complete (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  if (run->waited && run->stdout_done && run->stderr_done)
    complete (task);
}

static gboolean
grace_cb (gpointer data)
{
  Run *run = g_task_get_task_data (data);

  /* a descendant outside the group holds a pipe open: stop reading */
  run->grace_source = 0;
  g_cancellable_cancel (run->cancellable);
  return G_SOURCE_REMOVE;
}

static void
log_stderr_line (Run        *run,
                 const char *line)
{
  if (run->stderr_logged >= STDERR_LOG_LIMIT)
    return;
  run->stderr_logged += strlen (line) + 1;
  if (run->stderr_logged >= STDERR_LOG_LIMIT)
    g_message ("engine[%d] job %s: %s (the rest of its standard error is not logged)", run->pid,
               run->job_id, line);
  else
    g_message ("engine[%d] job %s: %s", run->pid, run->job_id, line);
}

static void
take_stderr (Run          *run,
             const guint8 *data,
             gsize         len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (data[i] == '\n' || run->stderr_line->len >= 1024)
        {
          g_autofree char *line = g_utf8_make_valid (run->stderr_line->str, -1);

          log_stderr_line (run, line);
          g_string_truncate (run->stderr_line, 0);
          if (data[i] == '\n')
            continue;
        }
      g_string_append_c (run->stderr_line, (char) data[i]);
    }
}

static void read_pipe (GTask *task, gboolean is_stdout);

static void
pipe_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data,
              gboolean      is_stdout)
{
  g_autoptr(GTask) task = data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    done = TRUE;
  else if (is_stdout)
    done = !take_output (run, bytes);
  else
    take_stderr (run, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

  if (!done)
    {
      read_pipe (g_steal_pointer (&task), is_stdout);
      return;
    }
  if (is_stdout)
    run->stdout_done = TRUE;
  else
    {
      if (run->stderr_line->len > 0)
        {
          g_autofree char *line = g_utf8_make_valid (run->stderr_line->str, -1);

          log_stderr_line (run, line);
        }
      run->stderr_done = TRUE;
    }
  exec_maybe_complete (task);
}

static void
stdout_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  pipe_read_cb (source, result, data, TRUE);
}

static void
stderr_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  pipe_read_cb (source, result, data, FALSE);
}

/* Takes @task. */
static void
read_pipe (GTask    *task,
           gboolean  is_stdout)
{
  Run *run = g_task_get_task_data (task);
  GInputStream *pipe = is_stdout ? g_subprocess_get_stdout_pipe (run->process)
                                 : g_subprocess_get_stderr_pipe (run->process);

  g_input_stream_read_bytes_async (pipe, READ_SIZE, G_PRIORITY_DEFAULT, run->cancellable,
                                   is_stdout ? stdout_read_cb : stderr_read_cb, task);
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(GTask) task = data;
  Run *run = g_task_get_task_data (task);
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_finish (process, result, &error))
    set_failure (run, "cannot wait for it: %s", error->message);
  else if (g_subprocess_get_if_signaled (process))
    {
      int signum = g_subprocess_get_term_sig (process);

      set_failure (run, "killed by signal %d (%s)", signum, g_strsignal (signum));
    }
  else if (g_subprocess_get_exit_status (process) != 0)
    set_failure (run, "exited with status %d", g_subprocess_get_exit_status (process));
  run->waited = TRUE;

  /* whatever it left running in its group goes with it */
  kill_group (run);
  if (!run->stdout_done || !run->stderr_done)
    run->grace_source = g_timeout_add_full (G_PRIORITY_DEFAULT, PIPE_GRACE_MS, grace_cb,
                                            g_object_ref (task), g_object_unref);
  exec_maybe_complete (task);
}

static char **
clean_environment (const char *tmpdir,
                   const char *job_id)
{
  static const char * const kept[] = { "PATH", "HOME", "LANG", "LANGUAGE", "TZ", NULL };
  g_auto(GStrv) parent = g_get_environ ();
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *tmp = NULL;
  g_autofree char *job = NULL;

  for (guint i = 0; parent[i] != NULL; i++)
    {
      g_autofree char *name = g_strndup (parent[i], strcspn (parent[i], "="));

      if (g_strv_contains (kept, name) || g_str_has_prefix (name, "LC_"))
        g_strv_builder_add (builder, parent[i]);
    }
  if (g_environ_getenv (parent, "PATH") == NULL)
    g_strv_builder_add (builder, "PATH=/usr/local/bin:/usr/bin:/bin");
  tmp = g_strconcat ("TMPDIR=", tmpdir, NULL);
  job = g_strconcat ("ASSAY_JOB=", job_id, NULL);
  g_strv_builder_add (builder, tmp);
  g_strv_builder_add (builder, job);
  return g_strv_builder_end (builder);
}

static void
exec_start (GTask      *task,
            const char *path)
{
  Run *run = g_task_get_task_data (task);
  AssayEngine *self = run->engine;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_auto(GStrv) env = clean_environment (dir, run->job_id);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; self->argv[i] != NULL; i++)
    g_ptr_array_add (argv, self->argv[i]);
  g_ptr_array_add (argv, (gpointer) path);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_environ (launcher, env);
  g_subprocess_launcher_set_cwd (launcher, dir);
  g_subprocess_launcher_set_child_setup (launcher, assay_command_child_setup, NULL, NULL);
  run->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                               &error);
  if (run->process == NULL)
    {
      g_prefix_error (&error, "cannot start the engine %s: ", self->argv[0]);
      complete_with_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  run->pid = assay_command_get_pid (run->process);
  run->stderr_line = g_string_new (NULL);
  g_debug ("job %s: engine started as process %d", run->job_id, run->pid);

  read_pipe (g_object_ref (task), TRUE);
  read_pipe (g_object_ref (task), FALSE);
  g_subprocess_wait_async (run->process, NULL, wait_cb, task);
}

/* ------------------------------------------------------------------------------------- */
/* http                                                                                  */

static void read_body (GTask *task);

static void
http_finish (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  /* the connection is not reused after an abandoned body */
  if (run->body != NULL)
    g_input_stream_close_async (run->body, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  complete (task);
}

static void
body_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(GTask) task = data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (bytes == NULL)
    {
      set_failure (run, "cannot read its answer: %s", error->message);
      http_finish (task);
      return;
    }
  if (g_bytes_get_size (bytes) == 0 || !take_output (run, bytes))
    {
      http_finish (task);
      return;
    }
  read_body (g_steal_pointer (&task));
}

/* Takes @task. */
static void
read_body (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (run->body, READ_SIZE, G_PRIORITY_DEFAULT, run->cancellable,
                                   body_read_cb, task);
}

static void
sent_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(GTask) task = data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  guint status;

  run->body = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (run->body == NULL)
    {
      g_autofree char *url = g_uri_to_string (run->engine->uri);

      g_prefix_error (&error, "cannot reach the engine at %s: ", url);
      complete_with_error (task, g_steal_pointer (&error));
      return;
    }
  status = soup_message_get_status (run->message);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      set_failure (run, "HTTP status %u %s", status,
                   soup_message_get_reason_phrase (run->message)
                     ? soup_message_get_reason_phrase (run->message)
                     : "");
      http_finish (task);
      return;
    }
  read_body (g_steal_pointer (&task));
}

static void
http_start (GTask      *task,
            const char *path)
{
  Run *run = g_task_get_task_data (task);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) input = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers;

  input = g_file_read (file, NULL, &error);
  if (input != NULL)
    info = g_file_input_stream_query_info (input, G_FILE_ATTRIBUTE_STANDARD_SIZE, NULL, &error);
  if (info == NULL)
    {
      /* the worker's own file: not the engine's failure */
      complete_with_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  run->message = soup_message_new_from_uri (SOUP_METHOD_POST, run->engine->uri);
  soup_message_add_flags (run->message, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (run->message);
  soup_message_headers_replace (headers, "Accept", "application/json");
  soup_message_headers_replace (headers, "X-Assay-Job", run->job_id);
  soup_message_set_request_body (run->message, "application/octet-stream",
                                 G_INPUT_STREAM (input), g_file_info_get_size (info));
  soup_session_send_async (run->engine->session, run->message, G_PRIORITY_DEFAULT,
                           run->cancellable, sent_cb, task);
}

/* ------------------------------------------------------------------------------------- */
/* AssayStage                                                                            */

static const char *
assay_engine_get_name (AssayStage *stage)
{
  return "engine";
}

static void
assay_engine_run_async (AssayStage          *stage,
                        const char          *path,
                        AssayJob            *job,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  AssayEngine *self = ASSAY_ENGINE (stage);
  GTask *task;
  Run *run;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_engine_run_async);
  /* the task checks the caller's cancellable itself: the run must end cleanly first */
  g_task_set_check_cancellable (task, FALSE);

  run = g_new0 (Run, 1);
  run->engine = g_object_ref (self);
  run->job_id = g_strdup (assay_job_get_id (job));
  run->cancellable = g_cancellable_new ();
  run->output = g_byte_array_new ();
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);

  if (g_cancellable_is_cancelled (cancellable))
    {
      run->finished = TRUE;
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the engine was stopped");
      g_object_unref (task);
      return;
    }
  if (cancellable != NULL)
    {
      run->caller = g_object_ref (cancellable);
      /* the task outlives the handler: run_free() disconnects it */
      run->caller_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                                              task, NULL);
    }
  run->timeout_source = g_timeout_add_full (G_PRIORITY_DEFAULT, self->timeout_ms, timeout_cb,
                                            g_object_ref (task), g_object_unref);

  if (self->kind == KIND_EXEC)
    exec_start (task, path);
  else
    http_start (task, path);
}

static GBytes *
assay_engine_run_finish (AssayStage    *stage,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stage), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
assay_engine_stage_init (AssayStageInterface *iface)
{
  iface->get_name = assay_engine_get_name;
  iface->run_async = assay_engine_run_async;
  iface->run_finish = assay_engine_run_finish;
}
