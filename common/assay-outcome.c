/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-outcome.h"
#include "assay-result.h"

/* Polling a job: from this interval, growing by half each time, up to the maximum. */
#define POLL_FIRST_MS 200
#define POLL_MAX_MS   5000

G_DEFINE_QUARK (assay-outcome-error-quark, assay_outcome_error)

/* ------------------------------------------------------------------------------------- */
/* One job                                                                               */

static void
got_job_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(JsonObject) item = NULL;
  GError *error = NULL;
  AssayJob *job;

  item = assay_store_get_item_finish (ASSAY_STORE (source), result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (item == NULL)
    {
      g_task_return_new_error (task, ASSAY_OUTCOME_ERROR, ASSAY_OUTCOME_ERROR_NO_JOB,
                               "there is no job %s in %s", (char *) g_task_get_task_data (task),
                               assay_store_describe (ASSAY_STORE (source)));
      return;
    }
  job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);
  if (job == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, job, g_object_unref);
}

/* Reads the job as it is now. */
void
assay_outcome_get_job_async (AssayStore          *store,
                             const char          *job_id,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (ASSAY_IS_STORE (store));
  g_return_if_fail (job_id != NULL);

  task = g_task_new (store, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_outcome_get_job_async);
  g_task_set_task_data (task, g_strdup (job_id), g_free);
  assay_store_get_item_async (store, ASSAY_TABLE_JOBS, job_id, cancellable, got_job_cb, task);
}

AssayJob *
assay_outcome_get_job_finish (AssayStore    *store,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Waiting for a final status                                                            */

typedef struct
{
  char *job_id;
  guint interval_ms;
} Wait;

static void
wait_free (Wait *wait)
{
  g_free (wait->job_id);
  g_free (wait);
}

static void poll_job (GTask *task);

static gboolean
poll_again_cb (gpointer data)
{
  poll_job (data);
  return G_SOURCE_REMOVE;
}

static void
polled_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GTask *task = data;
  Wait *wait = g_task_get_task_data (task);
  g_autoptr(GSource) timer = NULL;
  GError *error = NULL;
  AssayJob *job;
  guint jittered;

  job = assay_outcome_get_job_finish (ASSAY_STORE (source), result, &error);
  if (job == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (assay_job_status_is_final (assay_job_get_status (job)))
    {
      g_task_return_pointer (task, job, g_object_unref);
      g_object_unref (task);
      return;
    }
  g_object_unref (job);

  /* sleep, cancellably, with ±20 % jitter so that many clients do not poll in step */
  jittered = wait->interval_ms * g_random_double_range (0.8, 1.2);
  wait->interval_ms = MIN (wait->interval_ms * 3 / 2, POLL_MAX_MS);
  timer = g_timeout_source_new (jittered);
  if (g_task_get_cancellable (task) != NULL)
    {
      g_autoptr(GSource) cancelled = g_cancellable_source_new (g_task_get_cancellable (task));

      g_source_set_dummy_callback (cancelled);
      g_source_add_child_source (timer, cancelled);
    }
  g_source_set_callback (timer, poll_again_cb, task, NULL);
  g_source_attach (timer, g_task_get_context (task));
}

static void
poll_job (GTask *task)
{
  Wait *wait = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  assay_outcome_get_job_async (g_task_get_source_object (task), wait->job_id,
                               g_task_get_cancellable (task), polled_cb, task);
}

/**
 * assay_outcome_wait_async:
 * Follows the job until it is PROCESSED or ERROR, polling from 0.2 s up to every 5 s.
 * The finish function returns the final job (an ERROR job is not an error here).
 */
void
assay_outcome_wait_async (AssayStore          *store,
                          const char          *job_id,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;
  Wait *wait;

  g_return_if_fail (ASSAY_IS_STORE (store));
  g_return_if_fail (job_id != NULL);

  task = g_task_new (store, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_outcome_wait_async);
  wait = g_new0 (Wait, 1);
  wait->job_id = g_strdup (job_id);
  wait->interval_ms = POLL_FIRST_MS;
  g_task_set_task_data (task, wait, (GDestroyNotify) wait_free);
  poll_job (task);
}

AssayJob *
assay_outcome_wait_finish (AssayStore    *store,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Fetching and decrypting the result                                                    */

typedef struct
{
  AssayKey *key;
  AssayResult *result;
  GOutputStream *object;
} Fetch;

static void
fetch_free (Fetch *fetch)
{
  g_clear_object (&fetch->key);
  g_clear_object (&fetch->result);
  g_clear_object (&fetch->object);
  g_free (fetch);
}

static void
decrypt (GTask  *task,
         GBytes *object)
{
  Fetch *fetch = g_task_get_task_data (task);
  GError *error = NULL;
  GBytes *plaintext = assay_result_decrypt (fetch->result, fetch->key, object, &error);

  if (plaintext == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, plaintext, (GDestroyNotify) g_bytes_unref);
}

static void
got_object_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GTask) task = data;
  Fetch *fetch = g_task_get_task_data (task);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;

  info = assay_store_get_object_finish (ASSAY_STORE (source), result, &error);
  if (info == NULL)
    {
      g_prefix_error (&error, "cannot fetch the payload of result %s: ",
                      assay_result_get_id (fetch->result));
      g_task_return_error (task, error);
      return;
    }
  g_output_stream_close (fetch->object, NULL, NULL);
  bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (fetch->object));
  decrypt (task, bytes);
}

static void
got_result_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GTask) task = data;
  Fetch *fetch = g_task_get_task_data (task);
  g_autoptr(JsonObject) item = NULL;
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;

  item = assay_store_get_item_finish (ASSAY_STORE (source), result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (item == NULL)
    {
      g_task_return_new_error (task, ASSAY_OUTCOME_ERROR, ASSAY_OUTCOME_ERROR_NO_RESULT,
                               "the job is PROCESSED but its result is missing from %s",
                               assay_store_describe (ASSAY_STORE (source)));
      return;
    }
  fetch->result = assay_result_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);
  if (fetch->result == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (assay_result_get_payload_object (fetch->result) == NULL)
    {
      decrypt (task, NULL);
      return;
    }
  fetch->object = g_memory_output_stream_new_resizable ();
  assay_store_get_object_async (ASSAY_STORE (source),
                                assay_result_get_payload_object (fetch->result), fetch->object,
                                NULL, NULL, cancellable, got_object_cb, g_steal_pointer (&task));
}

/**
 * assay_outcome_fetch_async:
 * Fetches and decrypts the result of a PROCESSED @job with @key. A job in ERROR fails
 * with %ASSAY_OUTCOME_ERROR_FAILED and the job's code and message.
 */
void
assay_outcome_fetch_async (AssayStore          *store,
                           AssayKey            *key,
                           AssayJob            *job,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Fetch *fetch;

  g_return_if_fail (ASSAY_IS_STORE (store));
  g_return_if_fail (ASSAY_IS_KEY (key));
  g_return_if_fail (ASSAY_IS_JOB (job));

  task = g_task_new (store, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_outcome_fetch_async);
  fetch = g_new0 (Fetch, 1);
  fetch->key = g_object_ref (key);
  g_task_set_task_data (task, fetch, (GDestroyNotify) fetch_free);

  switch (assay_job_get_status (job))
    {
    case ASSAY_JOB_STATUS_ERROR:
      g_task_return_new_error (task, ASSAY_OUTCOME_ERROR, ASSAY_OUTCOME_ERROR_FAILED,
                               "job %s failed: %s: %s", assay_job_get_id (job),
                               assay_job_get_error_code (job) ? assay_job_get_error_code (job)
                                                              : "ERROR",
                               assay_job_get_error_message (job) ? assay_job_get_error_message (job)
                                                                 : "no message");
      return;
    case ASSAY_JOB_STATUS_PROCESSED:
      break;
    default:
      g_task_return_new_error (task, ASSAY_OUTCOME_ERROR, ASSAY_OUTCOME_ERROR_NOT_READY,
                               "job %s is %s: its result is not there yet",
                               assay_job_get_id (job),
                               assay_job_status_to_string (assay_job_get_status (job)));
      return;
    }
  if (assay_job_get_result (job) == NULL)
    {
      g_task_return_new_error (task, ASSAY_OUTCOME_ERROR, ASSAY_OUTCOME_ERROR_NO_RESULT,
                               "job %s is PROCESSED but names no result", assay_job_get_id (job));
      return;
    }
  assay_store_get_item_async (store, ASSAY_TABLE_RESULTS, assay_job_get_result (job), cancellable,
                              got_result_cb, g_steal_pointer (&task));
}

GBytes *
assay_outcome_fetch_finish (AssayStore    *store,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
