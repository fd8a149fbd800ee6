/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-validation"

#include "config.h"

#include "assay-validation.h"
#include "assay-command.h"
#include "assay-failure.h"

#include <json-glib/json-glib.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <magic.h>
#include <string.h>

#define VALIDATOR_MAX_OUTPUT 65536
#define REASON_MAX 500

struct _AssayValidation
{
  GObject parent_instance;

  guint64 max_size;
  GStrv types;
  GStrv argv;
  guint timeout_ms;
};

static void assay_validation_stage_init (AssayStageInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AssayValidation, assay_validation, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ASSAY_TYPE_STAGE,
                                                      assay_validation_stage_init))

static void
assay_validation_finalize (GObject *object)
{
  AssayValidation *self = ASSAY_VALIDATION (object);

  g_strfreev (self->types);
  g_strfreev (self->argv);

  G_OBJECT_CLASS (assay_validation_parent_class)->finalize (object);
}

static void
assay_validation_class_init (AssayValidationClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_validation_finalize;
}

static void
assay_validation_init (AssayValidation *self)
{
  self->timeout_ms = ASSAY_VALIDATION_TIMEOUT_DEFAULT_MS;
}

/**
 * assay_validation_new:
 * @command: (nullable): split as a shell would (quotes, no expansions)
 * Returns: (transfer full): the stage, or %NULL when a type pattern or the command is
 *   not one
 */
AssayValidation *
assay_validation_new (guint64              max_size,
                      const char * const  *types,
                      const char          *command,
                      GError             **error)
{
  g_autoptr(AssayValidation) self = g_object_new (ASSAY_TYPE_VALIDATION, NULL);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  self->max_size = max_size;
  for (guint i = 0; types != NULL && types[i] != NULL; i++)
    {
      g_autofree char *type = g_strstrip (g_ascii_strdown (types[i], -1));
      const char *slash = strchr (type, '/');

      if (*type == '\0')
        continue;
      if (slash == NULL || slash == type || slash[1] == '\0' || strchr (slash + 1, '/') != NULL ||
          (strchr (type, '*') != NULL && !g_str_equal (slash + 1, "*")))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "“%s” is not a content type pattern: write type/subtype, e.g. "
                       "text/plain, or type/* such as text/*", types[i]);
          return NULL;
        }
      g_strv_builder_add (builder, type);
    }
  self->types = g_strv_builder_end (builder);
  if (command != NULL && *command != '\0')
    {
      g_autoptr(GError) local_error = NULL;

      if (!g_shell_parse_argv (command, NULL, &self->argv, &local_error))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "the validator command “%s” cannot be split into words: %s", command,
                       local_error->message);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

void
assay_validation_set_timeout (AssayValidation *self,
                              guint            timeout_ms)
{
  g_return_if_fail (ASSAY_IS_VALIDATION (self));
  g_return_if_fail (timeout_ms > 0);

  self->timeout_ms = timeout_ms;
}

/* Whether content type @type matches @pattern ("text/plain", or "text/" + "*" for every
 * subtype), ignoring case. */
gboolean
assay_validation_type_matches (const char *pattern,
                               const char *type)
{
  gsize len = strlen (pattern);

  if (len >= 2 && g_str_equal (pattern + len - 2, "/*"))
    return g_ascii_strncasecmp (pattern, type, len - 1) == 0 && type[len - 1] != '\0';
  return g_ascii_strcasecmp (pattern, type) == 0;
}

/* ------------------------------------------------------------------------------------- */

typedef struct
{
  char *path;
  char *job;
  JsonBuilder *rules;
  GPtrArray *reasons;
  guint64 size;
  char *type;
} Check;

static void
check_free (Check *check)
{
  g_free (check->path);
  g_free (check->job);
  g_clear_object (&check->rules);
  g_clear_pointer (&check->reasons, g_ptr_array_unref);
  g_free (check->type);
  g_free (check);
}

/* libmagic's handle, loaded on first use, one for the process: not safe to share between
 * threads, hence the lock (as in assay-inspection.c). */
static GMutex magic_lock;
static magic_t magic_cookie;

static char *
sniff_type (const char  *path,
            GError     **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&magic_lock);
  const char *answer;

  if (magic_cookie == NULL)
    {
      magic_t cookie = magic_open (MAGIC_MIME_TYPE);

      if (cookie == NULL || magic_load (cookie, NULL) != 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "cannot load libmagic’s database: %s",
                       cookie && magic_error (cookie) ? magic_error (cookie) : "unknown error");
          if (cookie != NULL)
            magic_close (cookie);
          return NULL;
        }
      magic_cookie = cookie;
    }
  answer = magic_file (magic_cookie, path);
  if (answer == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "libmagic cannot read %s: %s", path,
                   magic_error (magic_cookie) ? magic_error (magic_cookie) : "unknown error");
      return NULL;
    }
  return g_strdup (answer);
}

/* The size and the type, in a thread (libmagic reads the file). */
static void
sniff_thread (GTask        *task,
              gpointer      source,
              gpointer      data,
              GCancellable *cancellable)
{
  AssayValidation *self = source;
  Check *check = data;
  GStatBuf st;
  GError *error = NULL;

  if (g_stat (check->path, &st) < 0)
    {
      int saved = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "cannot read %s: %s", check->path, g_strerror (saved));
      return;
    }
  check->size = (guint64) st.st_size;
  if (self->types != NULL && self->types[0] != NULL)
    {
      check->type = sniff_type (check->path, &error);
      if (check->type == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
    }
  g_task_return_boolean (task, TRUE);
}

static void
finish (GTask *task)
{
  Check *check = g_task_get_task_data (task);
  g_autoptr(JsonNode) rules = NULL;
  g_autoptr(JsonObject) output = json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  char *text;

  json_builder_end_array (check->rules);
  rules = json_builder_get_root (check->rules);
  if (check->reasons->len > 0)
    {
      g_autoptr(GString) message = g_string_new ("the file was rejected by validation: ");

      for (guint i = 0; i < check->reasons->len; i++)
        {
          if (i > 0)
            g_string_append (message, "; ");
          g_string_append (message, g_ptr_array_index (check->reasons, i));
        }
      g_task_return_new_error (task, ASSAY_FAILURE, ASSAY_FAILURE_INVALID, "%s", message->str);
      return;
    }
  json_object_set_boolean_member (output, "accepted", TRUE);
  json_object_set_member (output, "rules", g_steal_pointer (&rules));
  node = json_node_init_object (json_node_alloc (), output);
  text = json_to_string (node, FALSE);
  g_task_return_pointer (task, g_bytes_new_take (text, strlen (text)),
                         (GDestroyNotify) g_bytes_unref);
}

static char *
short_reason (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);

  g_strstrip (valid);
  if (g_utf8_strlen (valid, -1) > REASON_MAX)
    {
      int len = (int) (g_utf8_offset_to_pointer (valid, REASON_MAX) - valid);

      return g_strdup_printf ("%.*s…", len, valid);
    }
  return g_steal_pointer (&valid);
}

static void
command_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayValidation *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  g_autoptr(AssayCommandResult) run = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *reason = NULL;
  gsize len = 0;
  const char *out;

  run = assay_command_run_finish (result, &error);
  if (run == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (run->timed_out || !run->exited)
    {
      /* not a verdict on the file: the stage is run again */
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               run->timed_out ? "the validator %s took longer than %u ms and "
                                                "was killed"
                                              : "the validator %s was killed by signal %d",
                               self->argv[0],
                               run->timed_out ? self->timeout_ms : (guint) run->status);
      return;
    }
  out = g_bytes_get_data (run->output, &len);
  if (len > 0 && json_parser_load_from_data (parser, out, (gssize) len, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *root = json_node_get_object (json_parser_get_root (parser));
      JsonNode *member = json_object_get_member (root, "reason");

      if (member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
          json_node_get_value_type (member) == G_TYPE_STRING)
        reason = short_reason (json_node_get_string (member));
    }

  json_builder_begin_object (check->rules);
  json_builder_set_member_name (check->rules, "rule");
  json_builder_add_string_value (check->rules, "command");
  json_builder_set_member_name (check->rules, "exit_status");
  json_builder_add_int_value (check->rules, run->status);
  if (reason != NULL)
    {
      json_builder_set_member_name (check->rules, "reason");
      json_builder_add_string_value (check->rules, reason);
    }
  json_builder_set_member_name (check->rules, "passed");
  json_builder_add_boolean_value (check->rules, run->status == 0);
  json_builder_end_object (check->rules);
  if (run->status != 0)
    g_ptr_array_add (check->reasons,
                     g_strdup_printf ("the validator rejected it (exit status %d): %s",
                                      run->status, reason ? reason : "no reason given"));
  finish (g_steal_pointer (&task));
}

static void
sniffed_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayValidation *self = ASSAY_VALIDATION (source);
  Check *check = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) argv = NULL;
  g_auto(GStrv) args = NULL;
  g_auto(GStrv) env = NULL;
  GCancellable *cancellable;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  if (self->max_size > 0)
    {
      gboolean passed = check->size <= self->max_size;

      json_builder_begin_object (check->rules);
      json_builder_set_member_name (check->rules, "rule");
      json_builder_add_string_value (check->rules, "max-size");
      json_builder_set_member_name (check->rules, "limit");
      json_builder_add_int_value (check->rules, (gint64) self->max_size);
      json_builder_set_member_name (check->rules, "size");
      json_builder_add_int_value (check->rules, (gint64) check->size);
      json_builder_set_member_name (check->rules, "passed");
      json_builder_add_boolean_value (check->rules, passed);
      json_builder_end_object (check->rules);
      if (!passed)
        g_ptr_array_add (check->reasons,
                         g_strdup_printf ("its size, %" G_GUINT64_FORMAT " bytes, is over the "
                                          "limit of %" G_GUINT64_FORMAT " bytes",
                                          check->size, self->max_size));
    }
  if (self->types != NULL && self->types[0] != NULL)
    {
      gboolean passed = FALSE;

      for (guint i = 0; self->types[i] != NULL && !passed; i++)
        passed = assay_validation_type_matches (self->types[i], check->type);
      json_builder_begin_object (check->rules);
      json_builder_set_member_name (check->rules, "rule");
      json_builder_add_string_value (check->rules, "content-type");
      json_builder_set_member_name (check->rules, "type");
      json_builder_add_string_value (check->rules, check->type);
      json_builder_set_member_name (check->rules, "passed");
      json_builder_add_boolean_value (check->rules, passed);
      json_builder_end_object (check->rules);
      if (!passed)
        {
          g_autofree char *allowed = g_strjoinv (", ", self->types);

          g_ptr_array_add (check->reasons,
                           g_strdup_printf ("its content is of type %s, which is not one of "
                                            "the types allowed (%s)", check->type, allowed));
        }
    }
  if (self->argv == NULL)
    {
      finish (g_steal_pointer (&task));
      return;
    }

  argv = g_strv_builder_new ();
  g_strv_builder_addv (argv, (const char **) self->argv);
  g_strv_builder_add (argv, check->path);
  args = g_strv_builder_end (argv);
  env = g_get_environ ();
  env = g_environ_setenv (env, "ASSAY_JOB", check->job, TRUE);
  cancellable = g_task_get_cancellable (task);
  assay_command_run_async ((const char * const *) args, (const char * const *) env, NULL,
                           self->timeout_ms, VALIDATOR_MAX_OUTPUT, cancellable, command_cb,
                           g_steal_pointer (&task));
}

static void
assay_validation_run_async (AssayStage          *stage,
                            const char          *path,
                            AssayJob            *job,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  AssayValidation *self = ASSAY_VALIDATION (stage);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GTask) sniff = NULL;
  Check *check = g_new0 (Check, 1);

  g_task_set_source_tag (task, assay_validation_run_async);
  check->path = g_strdup (path);
  check->job = g_strdup (assay_job_get_id (job));
  check->rules = json_builder_new ();
  check->reasons = g_ptr_array_new_with_free_func (g_free);
  json_builder_begin_array (check->rules);
  g_task_set_task_data (task, check, (GDestroyNotify) check_free);

  sniff = g_task_new (self, cancellable, sniffed_cb, g_steal_pointer (&task));
  g_task_set_source_tag (sniff, sniff_thread);
  g_task_set_task_data (sniff, check, NULL);
  g_task_run_in_thread (sniff, sniff_thread);
}

static GBytes *
assay_validation_run_finish (AssayStage    *stage,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stage), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static const char *
assay_validation_get_name (AssayStage *stage)
{
  return "validation";
}

static void
assay_validation_stage_init (AssayStageInterface *iface)
{
  iface->get_name = assay_validation_get_name;
  iface->run_async = assay_validation_run_async;
  iface->run_finish = assay_validation_run_finish;
}
