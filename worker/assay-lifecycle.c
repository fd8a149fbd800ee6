/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-lifecycle"

#include "config.h"

#include "assay-lifecycle.h"
#include "assay-command.h"
#include "assay-failure.h"
#include "assay-time.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

/* One webhook request may take this long before it is abandoned and tried again. */
#define WEBHOOK_ATTEMPT_MS 10000
#define ALERT_COMMAND_MAX_OUTPUT 65536

struct _AssayLifecycle
{
  GObject parent_instance;

  AssayStore *store;
  char *quarantine_prefix;
  char *alert_webhook;
  GStrv alert_argv;
  guint alert_timeout_ms;
  guint alert_retry_ms;
  gboolean archive;
  char *archive_prefix;
  SoupSession *session;
};

G_DEFINE_FINAL_TYPE (AssayLifecycle, assay_lifecycle, G_TYPE_OBJECT)

void
assay_lifecycle_settings_clear (AssayLifecycleSettings *settings)
{
  g_clear_pointer (&settings->quarantine_prefix, g_free);
  g_clear_pointer (&settings->alert_webhook, g_free);
  g_clear_pointer (&settings->alert_command, g_free);
  g_clear_pointer (&settings->archive_prefix, g_free);
}

static void
assay_lifecycle_finalize (GObject *object)
{
  AssayLifecycle *self = ASSAY_LIFECYCLE (object);

  g_clear_object (&self->store);
  g_free (self->quarantine_prefix);
  g_free (self->alert_webhook);
  g_strfreev (self->alert_argv);
  g_free (self->archive_prefix);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (assay_lifecycle_parent_class)->finalize (object);
}

static void
assay_lifecycle_class_init (AssayLifecycleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_lifecycle_finalize;
}

static void
assay_lifecycle_init (AssayLifecycle *self)
{
}

/* "x/y" → "x/y/"; "" stays "" (the bucket's root). */
static char *
as_prefix (const char *value,
           const char *fallback)
{
  const char *prefix = value != NULL ? value : fallback;

  while (*prefix == '/')
    prefix++;
  if (*prefix == '\0' || g_str_has_suffix (prefix, "/"))
    return g_strdup (prefix);
  return g_strconcat (prefix, "/", NULL);
}

/**
 * assay_lifecycle_new:
 * Returns: (transfer full): the lifecycle, or %NULL when a setting is not usable
 */
AssayLifecycle *
assay_lifecycle_new (AssayStore                   *store,
                     const AssayLifecycleSettings *settings,
                     GError                      **error)
{
  g_autoptr(AssayLifecycle) self = g_object_new (ASSAY_TYPE_LIFECYCLE, NULL);

  g_return_val_if_fail (ASSAY_IS_STORE (store), NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  self->store = g_object_ref (store);
  self->quarantine_prefix = as_prefix (settings->quarantine_prefix, "quarantine/");
  self->archive_prefix = as_prefix (settings->archive_prefix, "archive/");
  if (g_str_has_prefix (self->archive_prefix, self->quarantine_prefix) ||
      g_str_has_prefix (self->quarantine_prefix, self->archive_prefix))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "quarantine-prefix “%s” and archive-prefix “%s” overlap: give them "
                   "separate prefixes", self->quarantine_prefix, self->archive_prefix);
      return NULL;
    }
  self->archive = settings->archive;
  self->alert_timeout_ms = settings->alert_timeout_ms > 0
                             ? settings->alert_timeout_ms
                             : ASSAY_LIFECYCLE_ALERT_TIMEOUT_DEFAULT_MS;
  self->alert_retry_ms = settings->alert_retry_ms > 0 ? settings->alert_retry_ms : 1000;
  if (settings->alert_webhook != NULL && *settings->alert_webhook != '\0')
    {
      g_autoptr(GUri) uri = g_uri_parse (settings->alert_webhook, SOUP_HTTP_URI_FLAGS, NULL);

      if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
                          g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "alert-webhook “%s” is not an http:// or https:// URL",
                       settings->alert_webhook);
          return NULL;
        }
      self->alert_webhook = g_strdup (settings->alert_webhook);
      self->session = soup_session_new_with_options ("timeout", WEBHOOK_ATTEMPT_MS / 1000,
                                                     "idle-timeout", 60, NULL);
    }
  if (settings->alert_command != NULL && *settings->alert_command != '\0')
    {
      g_autoptr(GError) local_error = NULL;

      if (!g_shell_parse_argv (settings->alert_command, NULL, &self->alert_argv, &local_error))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "alert-command “%s” cannot be split into words: %s",
                       settings->alert_command, local_error->message);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

AssayStore *
assay_lifecycle_get_store (AssayLifecycle *self)
{
  g_return_val_if_fail (ASSAY_IS_LIFECYCLE (self), NULL);
  return self->store;
}

const char *
assay_lifecycle_get_quarantine_prefix (AssayLifecycle *self)
{
  g_return_val_if_fail (ASSAY_IS_LIFECYCLE (self), NULL);
  return self->quarantine_prefix;
}

const char *
assay_lifecycle_get_archive_prefix (AssayLifecycle *self)
{
  g_return_val_if_fail (ASSAY_IS_LIFECYCLE (self), NULL);
  return self->archive_prefix;
}

gboolean
assay_lifecycle_get_archive (AssayLifecycle *self)
{
  g_return_val_if_fail (ASSAY_IS_LIFECYCLE (self), FALSE);
  return self->archive;
}

char *
assay_lifecycle_signature_from_error (const GError *error)
{
  const char *prefix = "infected: ";

  if (error != NULL && g_str_has_prefix (error->message, prefix) &&
      error->message[strlen (prefix)] != '\0')
    return g_strdup (error->message + strlen (prefix));
  return g_strdup ("unknown");
}

/* S3 metadata values are printable ASCII. */
static char *
printable (const char *text)
{
  char *copy = g_strdup (text);

  for (char *p = copy; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || (guchar) *p > 0x7e)
      *p = '?';
  return copy;
}

/* ------------------------------------------------------------------------------------- */
/* Alerts                                                                                */

typedef struct
{
  GBytes *body;
  JsonObject *report;
  gint64 deadline;      /* monotonic */
  guint attempts;
  guint pending;
  guint retry_source;
  GCancellable *attempt;
  guint attempt_source;
} Alert;

static void
alert_free (Alert *alert)
{
  g_clear_pointer (&alert->body, g_bytes_unref);
  g_clear_pointer (&alert->report, json_object_unref);
  g_clear_handle_id (&alert->retry_source, g_source_remove);
  g_clear_handle_id (&alert->attempt_source, g_source_remove);
  g_clear_object (&alert->attempt);
  g_free (alert);
}

static void
alert_done (GTask *task)
{
  Alert *alert = g_task_get_task_data (task);

  if (--alert->pending > 0)
    return;
  g_task_return_pointer (task, json_object_ref (alert->report),
                         (GDestroyNotify) json_object_unref);
  g_object_unref (task);
}

static void post_webhook (GTask *task);

static gboolean
webhook_retry_cb (gpointer data)
{
  Alert *alert = g_task_get_task_data (data);

  alert->retry_source = 0;
  post_webhook (data);
  return G_SOURCE_REMOVE;
}

static gboolean
attempt_timeout_cb (gpointer data)
{
  Alert *alert = data;

  alert->attempt_source = 0;
  g_cancellable_cancel (alert->attempt);
  return G_SOURCE_REMOVE;
}

static void
posted_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GTask *task = data;
  AssayLifecycle *self = g_task_get_source_object (task);
  Alert *alert = g_task_get_task_data (task);
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *failure = NULL;
  gint64 remaining_ms;
  guint delay;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_clear_handle_id (&alert->attempt_source, g_source_remove);
  g_clear_object (&alert->attempt);
  if (body != NULL && SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (message)))
    {
      json_object_set_string_member (alert->report, "webhook", "delivered");
      json_object_set_int_member (alert->report, "webhook_attempts", alert->attempts);
      alert_done (task);
      return;
    }
  failure = body != NULL ? g_strdup_printf ("HTTP %u %s", soup_message_get_status (message),
                                            soup_message_get_reason_phrase (message))
                         : g_strdup (error->message);
  delay = self->alert_retry_ms << MIN (alert->attempts - 1, 6);
  remaining_ms = (alert->deadline - g_get_monotonic_time ()) / 1000;
  g_debug ("alert webhook attempt %u failed: %s", alert->attempts, failure);
  if (remaining_ms <= (gint64) delay)
    {
      g_autofree char *text = g_strdup_printf ("failed after %u attempts: %s", alert->attempts,
                                               failure);

      json_object_set_string_member (alert->report, "webhook", text);
      json_object_set_int_member (alert->report, "webhook_attempts", alert->attempts);
      alert_done (task);
      return;
    }
  alert->retry_source = g_timeout_add (delay, webhook_retry_cb, task);
}

static void
post_webhook (GTask *task)
{
  AssayLifecycle *self = g_task_get_source_object (task);
  Alert *alert = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_POST, self->alert_webhook);
  gint64 remaining_ms = (alert->deadline - g_get_monotonic_time ()) / 1000;

  alert->attempts++;
  soup_message_set_request_body_from_bytes (message, "application/json", alert->body);
  soup_message_headers_append (soup_message_get_request_headers (message), "User-Agent",
                               "assay-worker/" PACKAGE_VERSION);
  alert->attempt = g_cancellable_new ();
  alert->attempt_source = g_timeout_add ((guint) CLAMP (remaining_ms, 1, WEBHOOK_ATTEMPT_MS),
                                         attempt_timeout_cb, alert);
  soup_session_send_and_read_async (self->session, message, G_PRIORITY_DEFAULT, alert->attempt,
                                    posted_cb, task);
}

static void
alert_command_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  GTask *task = data;
  Alert *alert = g_task_get_task_data (task);
  g_autoptr(AssayCommandResult) run = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  run = assay_command_run_finish (result, &error);
  if (run == NULL)
    text = g_strdup_printf ("failed: %s", error->message);
  else if (run->timed_out)
    text = g_strdup ("failed: timed out and killed");
  else if (!run->exited)
    text = g_strdup_printf ("failed: killed by signal %d", run->status);
  else if (run->status != 0)
    text = g_strdup_printf ("failed: exit status %d", run->status);
  else
    text = g_strdup ("delivered");
  json_object_set_string_member (alert->report, "command", text);
  alert_done (task);
}

/**
 * assay_lifecycle_alert_async:
 * Sends @event to the webhook (retried until alert-timeout) and to the alert command, at
 * once; the finish function returns what became of each.
 */
void
assay_lifecycle_alert_async (AssayLifecycle      *self,
                             JsonObject          *event,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task;
  Alert *alert;
  g_autoptr(JsonNode) node = NULL;
  char *text;

  g_return_if_fail (ASSAY_IS_LIFECYCLE (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, assay_lifecycle_alert_async);
  alert = g_new0 (Alert, 1);
  node = json_node_init_object (json_node_alloc (), event);
  text = json_to_string (node, FALSE);
  alert->body = g_bytes_new_take (text, strlen (text));
  alert->report = json_object_new ();
  alert->deadline = g_get_monotonic_time () + (gint64) self->alert_timeout_ms * 1000;
  alert->pending = 1;
  g_task_set_task_data (task, alert, (GDestroyNotify) alert_free);

  if (self->alert_webhook != NULL)
    {
      alert->pending++;
      post_webhook (task);
    }
  if (self->alert_argv != NULL)
    {
      alert->pending++;
      assay_command_run_async ((const char * const *) self->alert_argv, NULL, alert->body,
                               self->alert_timeout_ms, ALERT_COMMAND_MAX_OUTPUT, NULL,
                               alert_command_cb, task);
    }
  alert_done (task);
}

/* Returns: (transfer full): {"webhook": "delivered"|"failed: …", "command": …} (the
 * members of what is configured) */
JsonObject *
assay_lifecycle_alert_finish (AssayLifecycle *self,
                              GAsyncResult   *result)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), NULL);
}

/* ------------------------------------------------------------------------------------- */
/* Quarantine                                                                            */

typedef struct
{
  char *key;
  JsonObject *event;
} Quarantine;

static void
quarantine_free (Quarantine *q)
{
  g_free (q->key);
  g_clear_pointer (&q->event, json_object_unref);
  g_free (q);
}

static void
alerted_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GTask) task = data;
  Quarantine *q = g_task_get_task_data (task);
  g_autoptr(JsonObject) report = json_object_new ();
  JsonObject *alert = assay_lifecycle_alert_finish (ASSAY_LIFECYCLE (source), result);

  json_object_set_string_member (report, "key", q->key);
  json_object_set_object_member (report, "alert", alert);
  g_task_return_pointer (task, g_steal_pointer (&report), (GDestroyNotify) json_object_unref);
}

static void
quarantined_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayLifecycle *self = g_task_get_source_object (task);
  Quarantine *q = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  etag = assay_store_put_file_finish (ASSAY_STORE (source), result, &error);
  if (etag == NULL)
    {
      g_prefix_error (&error, "cannot quarantine the file as %s: ", q->key);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  assay_lifecycle_alert_async (self, q->event, alerted_cb, g_steal_pointer (&task));
}

void
assay_lifecycle_quarantine_async (AssayLifecycle      *self,
                                  const char          *path,
                                  AssayJob            *job,
                                  const char          *signature,
                                  const char          *processor,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *day = g_date_time_format (now, "%Y-%m-%d");
  g_autofree char *time = assay_time_format (now);
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  Quarantine *q;
  GStatBuf st;

  g_return_if_fail (ASSAY_IS_LIFECYCLE (self));
  g_return_if_fail (path != NULL && ASSAY_IS_JOB (job) && signature != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_lifecycle_quarantine_async);
  q = g_new0 (Quarantine, 1);
  q->key = g_strdup_printf ("%s%s/%s", self->quarantine_prefix, day, assay_job_get_id (job));
  q->event = json_object_new ();
  json_object_set_string_member (q->event, "event", "quarantined");
  json_object_set_string_member (q->event, "job", assay_job_get_id (job));
  json_object_set_string_member (q->event, "client", assay_job_get_client (job));
  json_object_set_string_member (q->event, "signature", signature);
  json_object_set_string_member (q->event, "bucket", assay_store_get_bucket (self->store));
  json_object_set_string_member (q->event, "key", q->key);
  if (g_stat (path, &st) == 0)
    json_object_set_int_member (q->event, "size", st.st_size);
  json_object_set_string_member (q->event, "time", time);
  if (processor != NULL)
    json_object_set_string_member (q->event, "processor", processor);
  g_task_set_task_data (task, q, (GDestroyNotify) quarantine_free);

  g_hash_table_insert (metadata, "assay-job", printable (assay_job_get_id (job)));
  g_hash_table_insert (metadata, "assay-client", printable (assay_job_get_client (job)));
  g_hash_table_insert (metadata, "assay-signature", printable (signature));
  g_hash_table_insert (metadata, "assay-quarantined", g_strdup (time));
  if (processor != NULL)
    g_hash_table_insert (metadata, "assay-processor", printable (processor));
  assay_store_put_file_async (self->store, q->key, path, metadata, ASSAY_STORE_PUT_ENCRYPT,
                              cancellable, quarantined_cb, g_steal_pointer (&task));
}

/* Returns: (transfer full): {"key", "alert": {…}}, or %NULL when the file could not be
 * stored */
JsonObject *
assay_lifecycle_quarantine_finish (AssayLifecycle  *self,
                                   GAsyncResult    *result,
                                   GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Archive                                                                               */

char *
assay_lifecycle_archive_key (AssayLifecycle *self,
                             const char     *state,
                             const char     *day,
                             const char     *id)
{
  return g_strdup_printf ("%s%s/%s/%s", self->archive_prefix, state, day, id);
}

typedef struct
{
  char *key;
  char *remove_key;
} Archive;

static void
archive_free (Archive *archive)
{
  g_free (archive->key);
  g_free (archive->remove_key);
  g_free (archive);
}

static void
archive_removed_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  g_autoptr(GTask) task = data;
  Archive *archive = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!assay_store_delete_object_finish (ASSAY_STORE (source), result, &error) &&
      !g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND))
    {
      g_prefix_error (&error, "archived as %s, but cannot delete %s: ", archive->key,
                      archive->remove_key);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, g_strdup (archive->key), g_free);
}

static void
archived_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(GTask) task = data;
  Archive *archive = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  etag = assay_store_put_file_finish (ASSAY_STORE (source), result, &error);
  if (etag == NULL)
    {
      g_prefix_error (&error, "cannot archive the file as %s: ", archive->key);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (archive->remove_key == NULL)
    {
      g_task_return_pointer (task, g_strdup (archive->key), g_free);
      return;
    }
  assay_store_delete_object_async (ASSAY_STORE (source), archive->remove_key, NULL,
                                   archive_removed_cb, g_steal_pointer (&task));
}

void
assay_lifecycle_archive_async (AssayLifecycle      *self,
                               const char          *path,
                               const char          *id,
                               const char          *state,
                               const char          *day,
                               const char          *remove_key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  Archive *archive;

  g_return_if_fail (ASSAY_IS_LIFECYCLE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_lifecycle_archive_async);
  archive = g_new0 (Archive, 1);
  archive->key = assay_lifecycle_archive_key (self, state, day, id);
  archive->remove_key = g_strdup (remove_key);
  g_task_set_task_data (task, archive, (GDestroyNotify) archive_free);
  g_hash_table_insert (metadata, "assay-job", printable (id));
  g_hash_table_insert (metadata, "assay-archived", assay_time_now ());
  assay_store_put_file_async (self->store, archive->key, path, metadata, ASSAY_STORE_PUT_ENCRYPT,
                              cancellable, archived_cb, g_steal_pointer (&task));
}

char *
assay_lifecycle_archive_finish (AssayLifecycle  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Blocking helpers for the commands                                                     */

static void
sync_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
sync_wait (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  return *result;
}

/* Returns: (transfer full) (element-type AssayObjectInfo): every object under @prefix */
GPtrArray *
_assay_store_list_all_sync (AssayStore  *store,
                            const char  *prefix,
                            GError     **error)
{
  g_autoptr(GPtrArray) all = NULL;

  all = g_ptr_array_new_with_free_func ((GDestroyNotify) assay_object_info_free);
  g_autofree char *token = NULL;

  do
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(AssayObjectList) list = NULL;

      assay_store_list_objects_async (store, prefix, token, 1000, NULL, sync_cb, &result);
      list = assay_store_list_objects_finish (store, sync_wait (&result), error);
      if (list == NULL)
        return NULL;
      for (guint i = 0; i < list->objects->len; i++)
        g_ptr_array_add (all, g_ptr_array_steal_index (list->objects, i--));
      g_free (token);
      token = g_steal_pointer (&list->next_token);
    }
  while (token != NULL);
  return g_steal_pointer (&all);
}

AssayObjectInfo *
_assay_store_head_sync (AssayStore  *store,
                        const char  *key,
                        GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_head_object_async (store, key, NULL, sync_cb, &result);
  return assay_store_head_object_finish (store, sync_wait (&result), error);
}

/* Downloads @key into a new file @path (mode 0600). */
AssayObjectInfo *
_assay_store_get_file_sync (AssayStore  *store,
                            const char  *key,
                            const char  *path,
                            GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileOutputStream) output = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;

  output = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_PRIVATE, NULL, error);
  if (output == NULL)
    return NULL;
  assay_store_get_object_async (store, key, G_OUTPUT_STREAM (output), NULL, NULL, NULL, sync_cb,
                                &result);
  info = assay_store_get_object_finish (store, sync_wait (&result), error);
  if (info == NULL || !g_output_stream_close (G_OUTPUT_STREAM (output), NULL, error))
    return NULL;
  return g_steal_pointer (&info);
}

char *
_assay_store_put_file_sync (AssayStore          *store,
                            const char          *key,
                            const char          *path,
                            GHashTable          *metadata,
                            AssayStorePutFlags   flags,
                            GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_put_file_async (store, key, path, metadata, flags, NULL, sync_cb, &result);
  return assay_store_put_file_finish (store, sync_wait (&result), error);
}

gboolean
_assay_store_delete_sync (AssayStore  *store,
                          const char  *key,
                          GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_delete_object_async (store, key, NULL, sync_cb, &result);
  return assay_store_delete_object_finish (store, sync_wait (&result), error);
}

gboolean
_assay_store_copy_sync (AssayStore  *store,
                        const char  *source_key,
                        const char  *key,
                        GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_copy_object_async (store, source_key, key, NULL, sync_cb, &result);
  return assay_store_copy_object_finish (store, sync_wait (&result), error);
}
