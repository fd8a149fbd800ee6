/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker-job"

#include "config.h"

#include "assay-worker-job.h"
#include "assay-chunk-decoder.h"
#include "assay-failure.h"
#include "assay-id.h"
#include "assay-item.h"
#include "assay-job.h"
#include "assay-key.h"
#include "assay-result.h"
#include "assay-stage.h"
#include "assay-strict-json.h"
#include "assay-time.h"
#include "assay-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* How often the job is re-read while the client is still uploading: from the first
 * value, doubling while nothing changes, back to it when a chunk arrives. */
#define REFRESH_MIN_MS 100
#define REFRESH_MAX_MS 500
/* Chunk deletions in flight once the file is downloaded. */
#define DELETES_IN_FLIGHT 8
/* Runs of a stage that cannot run (not a verdict: its service is out of reach), the
 * waits between them growing fourfold from stage_retry_ms. */
#define STAGE_TRIES 3
/* The longest message written into a job's `error`. */
#define MESSAGE_MAX 1000

typedef enum
{
  PHASE_NEW,
  PHASE_CLAIMING,
  PHASE_STREAMING,
  PHASE_DOWNLOADED, /* renewing the lease, deleting the chunks, marking PROCESSING */
  PHASE_ANALYSING,
  PHASE_STORING,    /* encrypting, storing the result, marking PROCESSED */
  PHASE_ENDED,
} Phase;

struct _AssayWorkerJob
{
  GObject parent_instance;

  /* setup */
  AssayStore *store;
  char *processor;
  char *dir;
  GPtrArray *stages;
  guint lease_ms;
  guint max_attempts;
  guint64 max_file_size;
  guint max_chunks;
  guint stall_timeout_ms;
  guint decoder_threads;

  /* the job as judged before the claim */
  char *id;
  AssayJob *job;                 /* parsed and verified (TAKE) */
  AssayWorkerJobVerdict verdict;
  GError *rejection;             /* ASSAY_FAILURE (REJECT) */

  /* the run */
  GTask *task;
  Phase phase;
  GCancellable *cancellable;     /* the work; cancelled as soon as the job ends */
  GCancellable *caller;
  gulong caller_id;
  gboolean release_requested;
  AssayWorkerJobOutcome outcome;
  GError *error;                 /* why it failed, was lost or released */
  guint pending;                 /* operations in flight */
  guint claim;                   /* the `attempts` our claim set: the fencing token */
  gint64 lease_end;              /* real time (µs) our lease runs out */
  gint64 claimed_us;             /* monotonic */
  guint heartbeat_source;
  gboolean heartbeat_in_flight;
  gboolean final_write;          /* PROCESSED or ERROR is being written */

  /* streaming */
  char *job_dir;                 /* private to the job: the file, the engine's TMPDIR */
  char *path;
  GOutputStream *output;
  AssayChunkDecoder *decoder;
  guint known;                   /* chunks the job says are stored */
  gboolean uploaded;
  guint next_fetch;
  gboolean fetching;
  gboolean decoding;
  gboolean finishing;
  GBytes *ready;                 /* the next chunk, fetched and waiting for the decoder */
  guint decoded;
  gboolean refreshing;
  guint refresh_source;
  guint refresh_delay_ms;
  gint64 last_growth_us;
  guint64 bytes_fetched;

  /* downloaded */
  guint next_delete;
  guint deletes_in_flight;

  /* analysing */
  guint slot;                    /* index in assay_stage_slots */
  GHashTable *outputs;           /* slot → GBytes, the stage's output (JSON text) */
  gint64 stage_started_us;
  guint stage_tries;             /* runs of the current stage */
  guint stage_retry_ms;
  guint retry_source;

  /* lifecycle: quarantine and archive (assay-lifecycle.h) */
  AssayLifecycle *lifecycle;
  gboolean archive_started;
  char *archive_day;             /* YYYY/MM/DD */
  char *archive_incoming;        /* the incoming key, once stored */
  gboolean archive_moved;

  /* storing */
  AssayResult *result;
  GBytes *result_object;
  gboolean result_stored;
};

G_DEFINE_FINAL_TYPE (AssayWorkerJob, assay_worker_job, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (AssayWorkerJobOutcome, assay_worker_job_outcome,
                    G_DEFINE_ENUM_VALUE (ASSAY_WORKER_JOB_OUTCOME_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (ASSAY_WORKER_JOB_OUTCOME_PROCESSED, "processed"),
                    G_DEFINE_ENUM_VALUE (ASSAY_WORKER_JOB_OUTCOME_FAILED, "failed"),
                    G_DEFINE_ENUM_VALUE (ASSAY_WORKER_JOB_OUTCOME_NOT_CLAIMED, "not-claimed"),
                    G_DEFINE_ENUM_VALUE (ASSAY_WORKER_JOB_OUTCOME_LOST, "lost"),
                    G_DEFINE_ENUM_VALUE (ASSAY_WORKER_JOB_OUTCOME_RELEASED, "released"),
                    G_DEFINE_ENUM_VALUE (ASSAY_WORKER_JOB_OUTCOME_ABANDONED, "abandoned"))

enum
{
  SIGNAL_EVENT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void pump (AssayWorkerJob *self);
static void mark_downloaded (AssayWorkerJob *self);
static void delete_chunks (AssayWorkerJob *self);
static void next_stage (AssayWorkerJob *self);

static void
assay_worker_job_dispose (GObject *object)
{
  AssayWorkerJob *self = ASSAY_WORKER_JOB (object);

  g_clear_handle_id (&self->heartbeat_source, g_source_remove);
  g_clear_handle_id (&self->refresh_source, g_source_remove);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  if (self->caller != NULL)
    g_cancellable_disconnect (self->caller, self->caller_id);
  g_clear_object (&self->caller);

  G_OBJECT_CLASS (assay_worker_job_parent_class)->dispose (object);
}

static void
assay_worker_job_finalize (GObject *object)
{
  AssayWorkerJob *self = ASSAY_WORKER_JOB (object);

  g_clear_object (&self->store);
  g_free (self->processor);
  g_free (self->dir);
  g_clear_pointer (&self->stages, g_ptr_array_unref);
  g_free (self->id);
  g_clear_object (&self->job);
  g_clear_error (&self->rejection);
  g_clear_object (&self->cancellable);
  g_clear_error (&self->error);
  g_free (self->job_dir);
  g_free (self->path);
  g_clear_object (&self->output);
  g_clear_object (&self->decoder);
  g_clear_pointer (&self->ready, g_bytes_unref);
  g_clear_pointer (&self->outputs, g_hash_table_unref);
  g_clear_object (&self->result);
  g_clear_pointer (&self->result_object, g_bytes_unref);
  g_clear_object (&self->lifecycle);
  g_free (self->archive_day);
  g_free (self->archive_incoming);

  G_OBJECT_CLASS (assay_worker_job_parent_class)->finalize (object);
}

static void
assay_worker_job_class_init (AssayWorkerJobClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = assay_worker_job_dispose;
  object_class->finalize = assay_worker_job_finalize;

  /**
   * AssayWorkerJob::event:
   * @event: "claimed", "downloaded", "stage", "processed", "failed", "lost", "released"
   *   or "not-claimed"
   * @fields: what the event adds: attempt, stage, duration_ms, error (a code), reason…
   *   Never a secret or anything of the file or the result.
   */
  signals[SIGNAL_EVENT] = g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 2,
                                        G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                                        JSON_TYPE_OBJECT);
}

static void
assay_worker_job_init (AssayWorkerJob *self)
{
  self->cancellable = g_cancellable_new ();
  self->refresh_delay_ms = REFRESH_MIN_MS;
}

/* Emits @event with @fields (taken, may be NULL). */
static void
emit (AssayWorkerJob *self,
      const char     *event,
      JsonObject     *fields)
{
  g_autoptr(JsonObject) object = fields != NULL ? fields : json_object_new ();

  g_signal_emit (self, signals[SIGNAL_EVENT], 0, event, object);
}

static gint64
elapsed_ms (gint64 since_us)
{
  return (g_get_monotonic_time () - since_us) / 1000;
}

/* ------------------------------------------------------------------------------------- */
/* The verdict                                                                           */

static void
reject (AssayWorkerJob *self,
        AssayFailure    failure,
        const char     *message)
{
  self->verdict = ASSAY_WORKER_JOB_REJECT;
  self->rejection = g_error_new_literal (ASSAY_FAILURE, failure, message);
}

static void
judge (AssayWorkerJob     *self,
       JsonObject         *item,
       AssayVersionRange  *accept,
       AssayStore         *store)
{
  g_autoptr(GError) error = NULL;
  const char *version = NULL;

  /* a version of the protocol's form outside the range: another processor's job, even
   * if it has other faults, which that processor judges by its own rules */
  if (assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, "version", FALSE, &version, NULL) &&
      assay_version_is_valid (version) && !assay_version_range_accepts (accept, version))
    {
      self->verdict = ASSAY_WORKER_JOB_LEAVE;
      return;
    }

  self->job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);
  if (self->job == NULL)
    {
      reject (self, ASSAY_FAILURE_BAD_JOB, error->message);
      return;
    }
  if (!assay_job_verify (self->job, &error))
    {
      reject (self,
              g_error_matches (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_SIGNATURE)
                ? ASSAY_FAILURE_BAD_SIGNATURE
                : ASSAY_FAILURE_BAD_JOB,
              error->message);
      return;
    }
  if (!g_str_equal (assay_job_get_bucket (self->job), assay_store_get_bucket (store)) ||
      !g_str_equal (assay_job_get_region (self->job), assay_store_get_region (store)))
    {
      g_autofree char *message = g_strdup_printf (
        "the job names bucket %s in region %s; this processor serves bucket %s in region %s",
        assay_job_get_bucket (self->job), assay_job_get_region (self->job),
        assay_store_get_bucket (store), assay_store_get_region (store));

      reject (self, ASSAY_FAILURE_FOREIGN_BUCKET, message);
      return;
    }
  self->verdict = ASSAY_WORKER_JOB_TAKE;
}

/**
 * assay_worker_job_new:
 * @setup: the worker's settings; copied
 * @item: the job as the queue returned it (DynamoDB form)
 *
 * Judges the job (see assay_worker_job_get_verdict()) without writing anything.
 * Returns: (transfer full): the job
 */
AssayWorkerJob *
assay_worker_job_new (const AssayWorkerJobSetup *setup,
                      JsonObject                *item)
{
  AssayWorkerJob *self;
  const char *id = NULL;

  g_return_val_if_fail (setup != NULL && ASSAY_IS_STORE (setup->store), NULL);
  g_return_val_if_fail (setup->processor != NULL && setup->dir != NULL, NULL);
  g_return_val_if_fail (setup->accept != NULL, NULL);
  g_return_val_if_fail (item != NULL, NULL);

  self = g_object_new (ASSAY_TYPE_WORKER_JOB, NULL);
  self->store = g_object_ref (setup->store);
  self->processor = g_strdup (setup->processor);
  self->dir = g_strdup (setup->dir);
  self->stages = setup->stages ? g_ptr_array_ref (setup->stages)
                               : g_ptr_array_new_with_free_func (g_object_unref);
  self->lease_ms = MAX (setup->lease_ms, 300);
  self->max_attempts = setup->max_attempts;
  self->max_file_size = setup->max_file_size;
  self->max_chunks = setup->max_chunks > 0 ? MIN (setup->max_chunks, ASSAY_JOB_MAX_CHUNKS)
                                           : ASSAY_JOB_MAX_CHUNKS;
  self->stall_timeout_ms = setup->stall_timeout_ms;
  self->decoder_threads = setup->decoder_threads;
  self->stage_retry_ms = setup->stage_retry_ms > 0 ? setup->stage_retry_ms : 1000;
  self->lifecycle = setup->lifecycle ? g_object_ref (setup->lifecycle) : NULL;

  /* without a string id the item cannot even be addressed */
  if (!assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, "id", TRUE, &id, NULL) ||
      *id == '\0')
    {
      self->id = g_strdup ("");
      self->verdict = ASSAY_WORKER_JOB_LEAVE;
      return self;
    }
  self->id = g_strdup (id);
  judge (self, item, setup->accept, setup->store);
  return self;
}

const char *
assay_worker_job_get_id (AssayWorkerJob *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_JOB (self), NULL);

  return self->id;
}

AssayWorkerJobVerdict
assay_worker_job_get_verdict (AssayWorkerJob *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_JOB (self), ASSAY_WORKER_JOB_LEAVE);

  return self->verdict;
}

/* Returns: (nullable): why the job is rejected (ASSAY_FAILURE), for a REJECT verdict */
const GError *
assay_worker_job_get_rejection (AssayWorkerJob *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_JOB (self), NULL);

  return self->rejection;
}

AssayWorkerJobOutcome
assay_worker_job_get_outcome (AssayWorkerJob *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER_JOB (self), ASSAY_WORKER_JOB_OUTCOME_NONE);

  return self->outcome;
}

/* ------------------------------------------------------------------------------------- */
/* The end                                                                               */

/* The condition of every write after the claim: we still hold the job. */
static AssayCondition *
fence (AssayWorkerJob *self)
{
  return assay_condition_and (
    assay_condition_compare ("processor", ASSAY_COMPARE_EQ, assay_value_string (self->processor)),
    assay_condition_compare ("attempts", ASSAY_COMPARE_EQ, assay_value_number (self->claim)),
    NULL);
}

/* The fence, and the job still leased: a heartbeat that the store applies after the
 * job's final write must not put a lease back on it. */
static AssayCondition *
fence_leased (AssayWorkerJob *self)
{
  return assay_condition_and (
    fence (self),
    assay_condition_compare ("queue", ASSAY_COMPARE_EQ, assay_value_string ("leased")), NULL);
}

static char *
time_in (gint64 ms)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) then = g_date_time_add (now, ms * 1000);

  return assay_time_format (then);
}

/**
 * _assay_remove_tree:
 * Removes @path and, if it is a directory, everything in it; symbolic links are removed,
 * never followed.
 */
void
_assay_remove_tree (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) < 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          _assay_remove_tree (child);
        }
      if (g_rmdir (path) < 0)
        g_warning ("cannot remove %s: %s", path, g_strerror (errno));
    }
  else if (g_unlink (path) < 0 && errno != ENOENT)
    g_warning ("cannot remove %s: %s", path, g_strerror (errno));
}

/* The file, and whatever the stages left beside it, go on every path. */
static void
delete_local_file (AssayWorkerJob *self)
{
  if (self->output != NULL)
    g_output_stream_close (self->output, NULL, NULL);
  g_clear_object (&self->output);
  g_clear_object (&self->decoder);
  if (self->job_dir != NULL)
    _assay_remove_tree (self->job_dir);
}

static JsonObject *
reason_fields (const GError *error)
{
  JsonObject *fields = json_object_new ();

  if (error != NULL)
    json_object_set_string_member (fields, "reason", error->message);
  return fields;
}

static void
maybe_complete (AssayWorkerJob *self)
{
  g_autoptr(GTask) task = NULL;
  JsonObject *fields;

  if (self->outcome == ASSAY_WORKER_JOB_OUTCOME_NONE || self->pending > 0 || self->task == NULL)
    return;

  delete_local_file (self);
  g_clear_pointer (&self->outputs, g_hash_table_unref);
  g_clear_pointer (&self->ready, g_bytes_unref);

  switch (self->outcome)
    {
    case ASSAY_WORKER_JOB_OUTCOME_PROCESSED:
      fields = json_object_new ();
      json_object_set_string_member (fields, "result", assay_result_get_id (self->result));
      json_object_set_int_member (fields, "duration_ms", elapsed_ms (self->claimed_us));
      emit (self, "processed", fields);
      break;
    case ASSAY_WORKER_JOB_OUTCOME_FAILED:
      fields = json_object_new ();
      json_object_set_string_member (fields, "error", assay_failure_to_code (self->error->code));
      if (self->claimed_us > 0)
        json_object_set_int_member (fields, "duration_ms", elapsed_ms (self->claimed_us));
      emit (self, "failed", fields);
      break;
    case ASSAY_WORKER_JOB_OUTCOME_LOST:
      emit (self, "lost", reason_fields (self->error));
      break;
    case ASSAY_WORKER_JOB_OUTCOME_RELEASED:
      emit (self, "released", reason_fields (self->error));
      break;
    case ASSAY_WORKER_JOB_OUTCOME_ABANDONED:
      emit (self, "abandoned", reason_fields (self->error));
      break;
    case ASSAY_WORKER_JOB_OUTCOME_NOT_CLAIMED:
      if (self->error != NULL)
        emit (self, "not-claimed", reason_fields (self->error));
      break;
    case ASSAY_WORKER_JOB_OUTCOME_NONE:
    default:
      g_assert_not_reached ();
    }

  task = g_steal_pointer (&self->task);
  if (self->caller != NULL)
    g_cancellable_disconnect (self->caller, self->caller_id);
  g_clear_object (&self->caller);
  g_task_return_int (task, self->outcome);
}

/* A write of the end (failed, released) came back. */
static void
end_write_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;

  self->pending--;
  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  if (error != NULL)
    {
      g_debug ("job %s: the last write failed: %s", self->id, error->message);
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
        {
          /* another processor holds it now: nothing of ours was written */
          self->outcome = ASSAY_WORKER_JOB_OUTCOME_LOST;
          g_clear_error (&self->error);
          self->error = g_error_new (ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED,
                                     "another processor holds the job now");
        }
      else if (self->outcome == ASSAY_WORKER_JOB_OUTCOME_FAILED)
        {
          /* the job stays leased; the next claim after the lease meets the same fault */
          self->outcome = ASSAY_WORKER_JOB_OUTCOME_ABANDONED;
          g_clear_error (&self->error);
          self->error = g_steal_pointer (&error);
        }
    }
  maybe_complete (self);
}

static void
write_failure (AssayWorkerJob *self)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = fence (self);
  g_autoptr(JsonObject) map = json_object_new ();
  g_autofree char *message = NULL;

  message = g_utf8_make_valid (self->error->message, -1);
  if (g_utf8_strlen (message, -1) > MESSAGE_MAX)
    {
      g_autofree char *whole = g_steal_pointer (&message);
      int len = (int) (g_utf8_offset_to_pointer (whole, MESSAGE_MAX) - whole);

      message = g_strdup_printf ("%.*s…", len, whole);
    }
  json_object_set_member (map, "code", assay_value_string (assay_failure_to_code (self->error->code)));
  json_object_set_member (map, "message", assay_value_string (message));
  assay_update_set (update, "status", assay_value_string ("ERROR"));
  assay_update_set (update, "error", assay_value_map (map));
  assay_update_remove (update, "queue");
  assay_update_remove (update, "due");
  self->final_write = TRUE;
  self->pending++;
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, self->id, update, condition,
                                 ASSAY_RETURN_NONE, NULL, end_write_cb, g_object_ref (self));
}

/* Gives the job back: its lease runs out now, so that any processor takes it at once. */
static void
write_release (AssayWorkerJob *self)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = fence_leased (self);
  g_autofree char *now = assay_time_now ();

  assay_update_set (update, "lease", assay_value_string (now));
  assay_update_set (update, "due", assay_value_string (now));
  self->pending++;
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, self->id, update, condition,
                                 ASSAY_RETURN_NONE, NULL, end_write_cb, g_object_ref (self));
}

/* Ends the run with @outcome: the work stops at once; FAILED and RELEASED write their
 * end. Takes @error. The first outcome wins. */
static void
conclude (AssayWorkerJob        *self,
          AssayWorkerJobOutcome  outcome,
          GError                *error)
{
  if (self->outcome != ASSAY_WORKER_JOB_OUTCOME_NONE)
    {
      g_clear_error (&error);
      return;
    }
  g_assert (outcome != ASSAY_WORKER_JOB_OUTCOME_FAILED || error->domain == ASSAY_FAILURE);

  self->outcome = outcome;
  self->error = error;
  self->phase = PHASE_ENDED;
  g_clear_handle_id (&self->heartbeat_source, g_source_remove);
  g_clear_handle_id (&self->refresh_source, g_source_remove);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  g_cancellable_cancel (self->cancellable);

  if (outcome == ASSAY_WORKER_JOB_OUTCOME_FAILED)
    write_failure (self);
  else if (outcome == ASSAY_WORKER_JOB_OUTCOME_RELEASED)
    write_release (self);
  maybe_complete (self);
}

static void
fail (AssayWorkerJob *self,
      AssayFailure    failure,
      const char     *format,
      ...) G_GNUC_PRINTF (3, 4);

static void
fail (AssayWorkerJob *self,
      AssayFailure    failure,
      const char     *format,
      ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  conclude (self, ASSAY_WORKER_JOB_OUTCOME_FAILED,
            g_error_new_literal (ASSAY_FAILURE, failure, message));
}

static void
lose (AssayWorkerJob *self,
      const char     *reason)
{
  conclude (self, ASSAY_WORKER_JOB_OUTCOME_LOST,
            g_error_new_literal (ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED, reason));
}

/* Ends the run after an error: the failure @error carries, or (the worker's own trouble:
 * the store, the local disk, the engine out of reach) no write at all, so that the lease
 * runs out and the job is tried again after it. Takes @error. */
static void
give_up (AssayWorkerJob *self,
         GError         *error)
{
  if (error->domain == ASSAY_FAILURE)
    conclude (self, ASSAY_WORKER_JOB_OUTCOME_FAILED, error);
  else if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
    {
      lose (self, error->message);
      g_error_free (error);
    }
  else
    conclude (self, ASSAY_WORKER_JOB_OUTCOME_ABANDONED, error);
}

/* Every callback of an operation in flight starts here. Returns: %TRUE when the run
 * goes on; else the run is ending and the callback must stop. */
static gboolean
op_done (AssayWorkerJob *self)
{
  g_assert (self->pending > 0);
  self->pending--;
  if (self->outcome == ASSAY_WORKER_JOB_OUTCOME_NONE)
    return TRUE;
  maybe_complete (self);
  return FALSE;
}

/* ------------------------------------------------------------------------------------- */
/* Heartbeat                                                                             */

typedef void (*Continuation) (AssayWorkerJob *self);

typedef struct
{
  AssayWorkerJob *self;
  Continuation then;
  gint64 lease_end;
} Heartbeat;

static void
heartbeat_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Heartbeat *beat = data;
  g_autoptr(AssayWorkerJob) self = beat->self;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;
  Continuation then = beat->then;
  gint64 lease_end = beat->lease_end;

  g_free (beat);
  self->heartbeat_in_flight = FALSE;
  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  if (!op_done (self))
    return;
  if (error != NULL)
    {
      if (self->final_write)
        return; /* the final write took the job out of the queue first */
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
        lose (self, "another processor holds the job now (the lease ran out and it was "
                    "claimed again)");
      else if (g_get_real_time () >= self->lease_end)
        {
          g_autofree char *reason = g_strdup_printf ("the lease ran out before it could be "
                                                     "renewed: %s",
                                                     error->message);

          lose (self, reason);
        }
      else if (then != NULL)
        give_up (self, g_steal_pointer (&error));
      else
        g_debug ("job %s: heartbeat failed, trying again: %s", self->id, error->message);
      return;
    }
  self->lease_end = lease_end;
  if (then != NULL)
    then (self);
}

/* Renews the lease (the heartbeat row); @then, if not %NULL, runs after it succeeded. */
static void
renew_lease (AssayWorkerJob *self,
             Continuation    then)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = fence_leased (self);
  g_autofree char *lease = time_in (self->lease_ms);
  Heartbeat *beat = g_new0 (Heartbeat, 1);

  beat->self = g_object_ref (self);
  beat->then = then;
  beat->lease_end = g_get_real_time () + (gint64) self->lease_ms * 1000;
  assay_update_set (update, "lease", assay_value_string (lease));
  assay_update_set (update, "due", assay_value_string (lease));
  self->heartbeat_in_flight = TRUE;
  self->pending++;
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, self->id, update, condition,
                                 ASSAY_RETURN_NONE, NULL, heartbeat_cb, beat);
}

static gboolean
heartbeat_timeout_cb (gpointer data)
{
  AssayWorkerJob *self = data;

  if (!self->heartbeat_in_flight && !self->final_write)
    renew_lease (self, NULL);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------------------- */
/* Streaming                                                                             */

/* A chunk is at most ASSAY_CHUNK_SIZE_MAX: the memory stream refuses to grow past it
 * (it grows to powers of two, and the limit is one). */
static gpointer
bounded_realloc (gpointer data,
                 gsize    size)
{
  if (size > ASSAY_CHUNK_SIZE_MAX)
    return NULL;
  return g_realloc (data, size);
}

static void
fail_decoding (AssayWorkerJob *self,
               GError         *error)
{
  g_autoptr(GError) cause = error;

  if (cause->domain != ASSAY_CHUNK_ERROR)
    {
      give_up (self, g_steal_pointer (&cause));
      return;
    }
  switch (cause->code)
    {
    case ASSAY_CHUNK_ERROR_TOO_LARGE:
    case ASSAY_CHUNK_ERROR_CHUNK_TOO_LARGE:
      fail (self, ASSAY_FAILURE_TOO_LARGE, "%s", cause->message);
      break;
    case ASSAY_CHUNK_ERROR_CORRUPT:
    case ASSAY_CHUNK_ERROR_TRUNCATED:
    case ASSAY_CHUNK_ERROR_TRAILING_DATA:
    case ASSAY_CHUNK_ERROR_MEMLIMIT:
      fail (self, ASSAY_FAILURE_CORRUPT_DATA, "%s", cause->message);
      break;
    default:
      give_up (self, g_steal_pointer (&cause));
      break;
    }
}

typedef struct
{
  AssayChunkDecoder *decoder;
  GOutputStream *output;
  GBytes *chunk; /* NULL: finish the stream */
} Decode;

static void
decode_free (Decode *decode)
{
  g_object_unref (decode->decoder);
  g_object_unref (decode->output);
  g_clear_pointer (&decode->chunk, g_bytes_unref);
  g_free (decode);
}

static void
decode_thread (GTask        *task,
               gpointer      source,
               gpointer      data,
               GCancellable *cancellable)
{
  Decode *decode = data;
  GError *error = NULL;
  gboolean ok;

  if (decode->chunk != NULL)
    ok = assay_chunk_decoder_push (decode->decoder, decode->chunk, cancellable, &error);
  else
    ok = assay_chunk_decoder_finish (decode->decoder, cancellable, &error) &&
         g_output_stream_close (decode->output, cancellable, &error);
  /* the chunk's memory goes as soon as it is decoded */
  g_clear_pointer (&decode->chunk, g_bytes_unref);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
decoded_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  AssayWorkerJob *self = ASSAY_WORKER_JOB (source);
  gboolean finishing = self->finishing;
  GError *error = NULL;

  self->decoding = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (op_done (self))
        fail_decoding (self, error);
      else
        g_error_free (error);
      return;
    }
  if (!op_done (self))
    return;
  if (finishing)
    {
      self->phase = PHASE_DOWNLOADED;
      /* the chunks go only while we surely hold the job */
      renew_lease (self, delete_chunks);
      return;
    }
  self->decoded++;
  pump (self);
}

/* Decodes @chunk (taken), or finishes the stream when it is %NULL, in a thread. */
static void
start_decode (AssayWorkerJob *self,
              GBytes         *chunk)
{
  g_autoptr(GTask) task = g_task_new (self, self->cancellable, decoded_cb, NULL);
  Decode *decode = g_new0 (Decode, 1);

  g_task_set_source_tag (task, start_decode);
  decode->decoder = g_object_ref (self->decoder);
  decode->output = g_object_ref (self->output);
  decode->chunk = chunk;
  g_task_set_task_data (task, decode, (GDestroyNotify) decode_free);
  self->decoding = TRUE;
  self->pending++;
  g_task_run_in_thread (task, decode_thread);
}

typedef struct
{
  AssayWorkerJob *self;
  guint index;
  GOutputStream *output;
} Fetch;

static void
fetched_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Fetch *fetch = data;
  g_autoptr(AssayWorkerJob) self = fetch->self;
  g_autoptr(GOutputStream) output = fetch->output;
  guint index = fetch->index;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  const char *owner;

  g_free (fetch);
  self->fetching = FALSE;
  info = assay_store_get_object_finish (ASSAY_STORE (source), result, &error);
  if (!op_done (self))
    return;
  if (info == NULL)
    {
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND))
        fail (self, ASSAY_FAILURE_CHUNKS_GONE,
              "chunk %u of the file is not in the store, though the job counts %u", index,
              self->known);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        fail (self, ASSAY_FAILURE_TOO_LARGE, "chunk %u is larger than the limit of %u bytes",
              index, ASSAY_CHUNK_SIZE_MAX);
      else
        give_up (self, g_steal_pointer (&error));
      return;
    }

  /* a job signed by one client must never make us read another client's file */
  owner = info->metadata != NULL ? g_hash_table_lookup (info->metadata, "assay-job") : NULL;
  if (g_strcmp0 (owner, self->id) != 0)
    {
      fail (self, ASSAY_FAILURE_CHUNK_MISMATCH,
            "chunk %u of the file does not belong to this job (its assay-job metadata is %s)",
            index, owner != NULL ? "another job's id" : "missing");
      return;
    }
  if (!g_output_stream_close (output, NULL, &error))
    {
      give_up (self, g_steal_pointer (&error));
      return;
    }
  self->ready = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
  self->bytes_fetched += g_bytes_get_size (self->ready);
  pump (self);
}

static void
start_fetch (AssayWorkerJob *self,
             guint           index)
{
  g_autofree char *key = g_strdup_printf ("%s/%06u", assay_job_get_file (self->job), index);
  Fetch *fetch = g_new0 (Fetch, 1);

  fetch->self = g_object_ref (self);
  fetch->index = index;
  fetch->output = g_memory_output_stream_new (NULL, 0, bounded_realloc, g_free);
  self->fetching = TRUE;
  self->pending++;
  assay_store_get_object_async (self->store, key, fetch->output, NULL, NULL, self->cancellable,
                                fetched_cb, fetch);
}

/* Reads `status`, `chunks` and the fence from a fresh copy of the job. Returns: %FALSE
 * when the run ended. */
static gboolean
take_item (AssayWorkerJob *self,
           JsonObject     *item)
{
  const char *processor = NULL;
  const char *status_text = NULL;
  guint64 attempts = 0, chunks = 0;
  AssayJobStatus status;

  if (!assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, "processor", FALSE, &processor,
                              NULL) ||
      !assay_item_get_uint (item, ASSAY_ITEM_FORM_DYNAMODB, "attempts", FALSE, &attempts, NULL,
                            NULL) ||
      g_strcmp0 (processor, self->processor) != 0 || attempts != self->claim)
    {
      lose (self, "another processor holds the job now");
      return FALSE;
    }
  if (!assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, "status", TRUE, &status_text,
                              NULL) ||
      !assay_job_status_from_string (status_text, &status) ||
      !assay_item_get_uint (item, ASSAY_ITEM_FORM_DYNAMODB, "chunks", TRUE, &chunks, NULL, NULL))
    {
      fail (self, ASSAY_FAILURE_BAD_JOB, "the job's status or chunks are not of their form");
      return FALSE;
    }
  if (status != ASSAY_JOB_STATUS_UPLOADING && status != ASSAY_JOB_STATUS_UPLOADED)
    {
      g_autofree char *reason = g_strdup_printf ("the job became %s elsewhere", status_text);

      lose (self, reason);
      return FALSE;
    }
  if (chunks > self->max_chunks)
    {
      fail (self, ASSAY_FAILURE_TOO_LARGE, "the file has %" G_GUINT64_FORMAT " chunks; "
            "the limit is %u", chunks, self->max_chunks);
      return FALSE;
    }
  if (chunks < self->known)
    {
      fail (self, ASSAY_FAILURE_BAD_JOB, "the job's chunk count went down from %u to %"
            G_GUINT64_FORMAT, self->known, chunks);
      return FALSE;
    }
  if (chunks > self->known)
    {
      self->known = (guint) chunks;
      self->last_growth_us = g_get_monotonic_time ();
      self->refresh_delay_ms = REFRESH_MIN_MS;
    }
  self->uploaded = status == ASSAY_JOB_STATUS_UPLOADED;
  return TRUE;
}

static void
refreshed_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;
  guint known = self->known;

  self->refreshing = FALSE;
  item = assay_store_get_item_finish (ASSAY_STORE (source), result, &error);
  if (!op_done (self))
    return;
  if (item == NULL)
    {
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND))
        {
          lose (self, "the job was deleted");
          return;
        }
      g_debug ("job %s: cannot read it, trying again: %s", self->id, error->message);
    }
  else if (!take_item (self, item))
    return;

  if (!self->uploaded && self->known == known)
    {
      if (self->stall_timeout_ms > 0 &&
          elapsed_ms (self->last_growth_us) >= (gint64) self->stall_timeout_ms)
        {
          fail (self, ASSAY_FAILURE_UPLOAD_STALLED,
                "no new chunk for %u ms (the job has %u chunks and is still uploading)",
                self->stall_timeout_ms, self->known);
          return;
        }
      self->refresh_delay_ms = MIN (self->refresh_delay_ms * 2, REFRESH_MAX_MS);
    }
  pump (self);
}

static gboolean
refresh_cb (gpointer data)
{
  AssayWorkerJob *self = data;

  self->refresh_source = 0;
  self->refreshing = TRUE;
  self->pending++;
  assay_store_get_item_async (self->store, ASSAY_TABLE_JOBS, self->id, self->cancellable,
                              refreshed_cb, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

/* Moves the stream on: decodes what is fetched, fetches what is stored, waits for the
 * client when we have caught up, and finishes when the upload is complete. */
static void
pump (AssayWorkerJob *self)
{
  if (self->outcome != ASSAY_WORKER_JOB_OUTCOME_NONE || self->phase != PHASE_STREAMING ||
      self->finishing)
    return;

  if (!self->decoding && self->ready != NULL)
    start_decode (self, g_steal_pointer (&self->ready));
  if (!self->fetching && self->ready == NULL && self->next_fetch < self->known)
    start_fetch (self, self->next_fetch++);

  if (self->uploaded && self->decoded == self->known && !self->fetching && !self->decoding &&
      self->ready == NULL)
    {
      self->finishing = TRUE;
      start_decode (self, NULL);
    }
  else if (!self->uploaded && self->next_fetch >= self->known && !self->refreshing &&
           self->refresh_source == 0)
    self->refresh_source = g_timeout_add (self->refresh_delay_ms, refresh_cb, self);
}

static void
start_streaming (AssayWorkerJob *self,
                 JsonObject     *item)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  AssayChunkLimits limits = {
    .max_output = self->max_file_size,
    .max_chunk_size = ASSAY_CHUNK_SIZE_MAX,
    .threads = self->decoder_threads,
  };

  self->phase = PHASE_STREAMING;
  self->last_growth_us = g_get_monotonic_time ();
  if (!take_item (self, item))
    return;

  self->job_dir = g_build_filename (self->dir, self->id, NULL);
  _assay_remove_tree (self->job_dir);
  if (g_mkdir (self->job_dir, 0700) < 0)
    {
      int saved = errno;

      give_up (self, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved),
                                  "cannot create %s: %s", self->job_dir, g_strerror (saved)));
      return;
    }
  self->path = g_build_filename (self->job_dir, "file", NULL);
  file = g_file_new_for_path (self->path);
  self->output = G_OUTPUT_STREAM (g_file_replace (file, NULL, FALSE,
                                                  G_FILE_CREATE_PRIVATE |
                                                    G_FILE_CREATE_REPLACE_DESTINATION,
                                                  NULL, &error));
  if (self->output == NULL)
    {
      give_up (self, g_steal_pointer (&error));
      return;
    }
  self->decoder = assay_chunk_decoder_new (self->output, &limits);
  pump (self);
}

/* ------------------------------------------------------------------------------------- */
/* Downloaded                                                                            */

static void
chunk_deleted_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(GError) error = NULL;

  self->deletes_in_flight--;
  if (!assay_store_delete_object_finish (ASSAY_STORE (source), result, &error) &&
      !g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("job %s: cannot delete a chunk: %s", self->id, error->message);
  if (!op_done (self))
    return;
  delete_chunks (self);
}

/* Deletes the chunks this job verified as its own, a few at a time, then marks the job
 * PROCESSING. */
static void
delete_chunks (AssayWorkerJob *self)
{
  while (self->deletes_in_flight < DELETES_IN_FLIGHT && self->next_delete < self->known)
    {
      g_autofree char *key = g_strdup_printf ("%s/%06u", assay_job_get_file (self->job),
                                              self->next_delete++);

      self->deletes_in_flight++;
      self->pending++;
      assay_store_delete_object_async (self->store, key, self->cancellable, chunk_deleted_cb,
                                       g_object_ref (self));
    }
  if (self->deletes_in_flight == 0)
    mark_downloaded (self);
}

static void
analyse (AssayWorkerJob *self)
{
  self->phase = PHASE_ANALYSING;
  self->slot = 0;
  self->outputs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) g_bytes_unref);
  next_stage (self);
}

static void
downloaded_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *fields;

  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  if (!op_done (self))
    return;
  if (error != NULL)
    {
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
        lose (self, "the job changed before it was marked PROCESSING: another processor "
                    "holds it, or its client ended it");
      else
        give_up (self, g_steal_pointer (&error));
      return;
    }

  fields = json_object_new ();
  json_object_set_int_member (fields, "chunks", self->known);
  json_object_set_int_member (fields, "bytes_fetched", self->bytes_fetched);
  json_object_set_int_member (fields, "bytes", assay_chunk_decoder_get_bytes_written (self->decoder));
  json_object_set_int_member (fields, "duration_ms", elapsed_ms (self->claimed_us));
  emit (self, "downloaded", fields);
  analyse (self);
}

static void
mark_downloaded (AssayWorkerJob *self)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = NULL;
  g_autofree char *now = assay_time_now ();

  assay_update_set (update, "downloaded", assay_value_string (now));
  assay_update_set (update, "status", assay_value_string ("PROCESSING"));
  condition = assay_condition_and (
    fence (self),
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADED")), NULL);
  self->pending++;
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, self->id, update, condition,
                                 ASSAY_RETURN_NONE, NULL, downloaded_cb, g_object_ref (self));
}

/* ------------------------------------------------------------------------------------- */
/* Storing the result                                                                    */

static void
discard_result_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(GError) error = NULL;

  if (!assay_store_delete_item_finish (ASSAY_STORE (source), result, &error))
    g_debug ("job %s: cannot delete its unused result: %s", self->id, error->message);
  self->pending--;
  maybe_complete (self);
}

static void
discard_object_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(GError) error = NULL;

  if (!assay_store_delete_object_finish (ASSAY_STORE (source), result, &error))
    g_debug ("job %s: cannot delete its unused result object: %s", self->id, error->message);
  self->pending--;
  maybe_complete (self);
}

/* The job was lost after its result was stored: nothing refers to the result, so it
 * goes (it is ours, not the job's). */
static void
discard_result (AssayWorkerJob *self)
{
  const char *object = assay_result_get_payload_object (self->result);

  if (self->result_stored)
    {
      self->pending++;
      assay_store_delete_item_async (self->store, ASSAY_TABLE_RESULTS,
                                     assay_result_get_id (self->result), NULL, NULL,
                                     discard_result_cb, g_object_ref (self));
    }
  if (object != NULL)
    {
      self->pending++;
      assay_store_delete_object_async (self->store, object, NULL, discard_object_cb,
                                       g_object_ref (self));
    }
}

static void
processed_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;

  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  if (!op_done (self))
    return;
  if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
    {
      discard_result (self);
      lose (self, "another processor holds the job now; the result was discarded");
    }
  else if (error != NULL)
    give_up (self, g_steal_pointer (&error));
  else
    conclude (self, ASSAY_WORKER_JOB_OUTCOME_PROCESSED, NULL);
}

static void
write_processed (AssayWorkerJob *self)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = fence (self);

  assay_update_set (update, "status", assay_value_string ("PROCESSED"));
  assay_update_set (update, "result", assay_value_string (assay_result_get_id (self->result)));
  assay_update_remove (update, "queue");
  assay_update_remove (update, "due");
  self->final_write = TRUE;
  self->pending++;
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, self->id, update, condition,
                                 ASSAY_RETURN_NONE, NULL, processed_cb, g_object_ref (self));
}

static void
result_stored_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(GError) error = NULL;
  gboolean stored;

  stored = assay_store_put_item_finish (ASSAY_STORE (source), result, &error);
  self->result_stored = stored;
  /* lost meanwhile: the result would refer to a job that is no longer ours */
  if (self->outcome != ASSAY_WORKER_JOB_OUTCOME_NONE)
    discard_result (self);
  if (!op_done (self))
    return;
  if (!stored)
    {
      discard_result (self);
      give_up (self, g_steal_pointer (&error));
      return;
    }
  write_processed (self);
}

static void
store_result_item (AssayWorkerJob *self)
{
  g_autoptr(JsonNode) item = assay_result_to_item (self->result);
  g_autoptr(AssayCondition) condition = assay_condition_not_exists ("id");

  self->pending++;
  assay_store_put_item_async (self->store, ASSAY_TABLE_RESULTS, json_node_get_object (item),
                              condition, NULL, result_stored_cb, g_object_ref (self));
}

static void
object_stored_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  etag = assay_store_put_object_finish (ASSAY_STORE (source), result, &error);
  if (self->outcome != ASSAY_WORKER_JOB_OUTCOME_NONE)
    discard_result (self);
  if (!op_done (self))
    return;
  if (etag == NULL)
    {
      give_up (self, g_steal_pointer (&error));
      return;
    }
  store_result_item (self);
}

typedef struct
{
  char *job;
  char *client;
  char *plaintext;
  gsize len;
} Encrypt;

typedef struct
{
  AssayResult *result;
  GBytes *object;
} Encrypted;

static void
encrypt_free (Encrypt *encrypt)
{
  /* the envelope is the plaintext result: it does not outlive its encryption */
  assay_wipe (encrypt->plaintext, encrypt->len);
  g_free (encrypt->plaintext);
  g_free (encrypt->job);
  g_free (encrypt->client);
  g_free (encrypt);
}

static void
encrypted_free (Encrypted *encrypted)
{
  g_clear_object (&encrypted->result);
  g_clear_pointer (&encrypted->object, g_bytes_unref);
  g_free (encrypted);
}

static void
encrypt_thread (GTask        *task,
                gpointer      source,
                gpointer      data,
                GCancellable *cancellable)
{
  Encrypt *encrypt = data;
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  Encrypted *encrypted;
  GError *error = NULL;

  key = assay_key_new_from_client_id (encrypt->client, &error);
  if (key == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  plaintext = g_bytes_new_static (encrypt->plaintext, encrypt->len);
  encrypted = g_new0 (Encrypted, 1);
  encrypted->result = assay_result_new (encrypt->job, key, plaintext, &encrypted->object, &error);
  if (encrypted->result == NULL)
    {
      encrypted_free (encrypted);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, encrypted, (GDestroyNotify) encrypted_free);
}

static void
encrypted_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  AssayWorkerJob *self = ASSAY_WORKER_JOB (source);
  Encrypted *encrypted;
  GError *error = NULL;

  encrypted = g_task_propagate_pointer (G_TASK (result), &error);
  if (!op_done (self))
    {
      g_clear_error (&error);
      g_clear_pointer (&encrypted, encrypted_free);
      return;
    }
  if (encrypted == NULL)
    {
      give_up (self, error);
      return;
    }
  self->result = g_steal_pointer (&encrypted->result);
  self->result_object = g_steal_pointer (&encrypted->object);
  encrypted_free (encrypted);

  if (self->result_object != NULL)
    {
      g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);

      g_hash_table_insert (metadata, "assay-job", self->id);
      self->pending++;
      assay_store_put_object_async (self->store, assay_result_get_payload_object (self->result),
                                    self->result_object, metadata, NULL, NULL, NULL,
                                    object_stored_cb, g_object_ref (self));
      return;
    }
  store_result_item (self);
}

/* @value as a JSON string. The envelope's own strings (a job id, a time) are of forms
 * that need no escape; this escapes anyway rather than trust that. */
static void
append_json_string (GString    *out,
                    const char *value)
{
  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      if ((guchar) *p < 0x20)
        g_string_append_printf (out, "\\u%04x", (guchar) *p);
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

/* The plaintext result, `{"job", "processed", "scan", "validation", "engine"}`, with each
 * stage's output spliced in as the stage gave it (checked strict JSON on the way), in a
 * buffer sized once so that no copy of it is left behind unwiped. */
static char *
make_envelope (AssayWorkerJob  *self,
               gsize           *out_len,
               GError         **error)
{
  g_autofree char *now = assay_time_now ();
  g_autoptr(GString) head = g_string_new ("{\"job\":");
  GString *out;
  gsize size;

  append_json_string (head, self->id);
  g_string_append (head, ",\"processed\":");
  append_json_string (head, now);
  size = head->len + 1;
  for (guint i = 0; assay_stage_slots[i] != NULL; i++)
    {
      GBytes *output = g_hash_table_lookup (self->outputs, assay_stage_slots[i]);
      gsize len;
      const char *text = g_bytes_get_data (output, &len);
      g_autoptr(GError) local_error = NULL;

      if (!assay_strict_json_check_object (text, len, &local_error))
        {
          g_set_error (error, ASSAY_FAILURE, ASSAY_FAILURE_ENGINE_FAILED,
                       "the %s stage's output is not a JSON object: %s", assay_stage_slots[i],
                       local_error->message);
          return NULL;
        }
      size += strlen (assay_stage_slots[i]) + 4 + len;
    }

  out = g_string_sized_new (size + 1);
  g_string_append_len (out, head->str, head->len);
  for (guint i = 0; assay_stage_slots[i] != NULL; i++)
    {
      GBytes *output = g_hash_table_lookup (self->outputs, assay_stage_slots[i]);

      g_string_append_printf (out, ",\"%s\":", assay_stage_slots[i]);
      g_string_append_len (out, g_bytes_get_data (output, NULL), g_bytes_get_size (output));
    }
  g_string_append_c (out, '}');
  g_assert (out->len == size);
  *out_len = out->len;
  return g_string_free (out, FALSE);
}

/* Encrypts the envelope to the client's key in a thread, then stores it. */
static void
store_result (AssayWorkerJob *self)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *plaintext = NULL;
  gsize len = 0;
  Encrypt *encrypt;

  self->phase = PHASE_STORING;
  plaintext = make_envelope (self, &len, &error);
  g_clear_pointer (&self->outputs, g_hash_table_unref);
  if (plaintext == NULL)
    {
      fail (self, error->code, "%s", error->message);
      return;
    }

  encrypt = g_new0 (Encrypt, 1);
  encrypt->job = g_strdup (self->id);
  encrypt->client = g_strdup (assay_job_get_client (self->job));
  encrypt->plaintext = g_steal_pointer (&plaintext);
  encrypt->len = len;
  task = g_task_new (self, NULL, encrypted_cb, NULL);
  g_task_set_source_tag (task, store_result);
  g_task_set_task_data (task, encrypt, (GDestroyNotify) encrypt_free);
  self->pending++;
  g_task_run_in_thread (task, encrypt_thread);
}

/* ------------------------------------------------------------------------------------- */
/* Analysing: the stage chain                                                            */

/* Quarantine and archive (assay-lifecycle.h) around the stages. */

typedef struct
{
  AssayWorkerJob *self;
  GError *error;      /* the failure that ends the job once the lifecycle step is done */
} LifecycleStep;

static void
lifecycle_step_free (LifecycleStep *step)
{
  g_clear_object (&step->self);
  g_clear_error (&step->error);
  g_free (step);
}

static LifecycleStep *
lifecycle_step_new (AssayWorkerJob *self,
                    GError         *error)
{
  LifecycleStep *step = g_new0 (LifecycleStep, 1);

  step->self = g_object_ref (self);
  step->error = error;
  self->pending++;
  return step;
}

static void
quarantined_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  LifecycleStep *step = data;
  g_autoptr(AssayWorkerJob) self = g_object_ref (step->self);
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(GError) error = NULL;
  GError *failure;

  report = assay_lifecycle_quarantine_finish (ASSAY_LIFECYCLE (source), result, &error);
  if (!op_done (self))
    {
      lifecycle_step_free (step);
      return;
    }
  failure = g_steal_pointer (&step->error);
  if (report != NULL)
    emit (self, "quarantined", g_steal_pointer (&report));
  else
    {
      /* the chunks are gone: the job ends INFECTED all the same, and says so */
      emit (self, "quarantine-failed", reason_fields (error));
      g_prefix_error (&failure, "the file could not be quarantined (%s); ", error->message);
    }
  lifecycle_step_free (step);
  give_up (self, failure);
}

static void
archived_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  LifecycleStep *step = data;
  g_autoptr(AssayWorkerJob) self = g_object_ref (step->self);
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  GError *failure;

  key = assay_lifecycle_archive_finish (ASSAY_LIFECYCLE (source), result, &error);
  if (!op_done (self))
    {
      lifecycle_step_free (step);
      return;
    }
  failure = g_steal_pointer (&step->error);
  lifecycle_step_free (step);
  if (key != NULL)
    {
      JsonObject *fields = json_object_new ();

      json_object_set_string_member (fields, "key", key);
      emit (self, "archived", fields);
      if (self->archive_incoming == NULL)
        self->archive_incoming = g_steal_pointer (&key);
    }
  else
    {
      /* the archive is a copy beside the job: its trouble does not fail the job */
      emit (self, "archive-failed", reason_fields (error));
      self->archive_moved = TRUE;
    }
  if (failure != NULL)
    give_up (self, failure);
  else
    next_stage (self);
}

/* Moves the archived file to @state once validation has judged it. */
static void
archive_move (AssayWorkerJob *self,
              const char     *state,
              GError         *failure)
{
  self->archive_moved = TRUE;
  assay_lifecycle_archive_async (self->lifecycle, self->path, self->id, state, self->archive_day,
                                 self->archive_incoming, self->cancellable, archived_cb,
                                 lifecycle_step_new (self, failure));
}

/* Before the stage of @slot: the archive's incoming copy once the scan has passed, its
 * move to valid/ before the engine. Returns: %TRUE when a step was started (it goes on
 * with next_stage()). */
static gboolean
lifecycle_before_slot (AssayWorkerJob *self,
                       const char     *slot)
{
  if (self->lifecycle == NULL || !assay_lifecycle_get_archive (self->lifecycle))
    return FALSE;
  if (!self->archive_started && !g_str_equal (slot, "scan"))
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

      self->archive_started = TRUE;
      self->archive_day = g_date_time_format (now, "%Y/%m/%d");
      assay_lifecycle_archive_async (self->lifecycle, self->path, self->id, "incoming",
                                     self->archive_day, NULL, self->cancellable, archived_cb,
                                     lifecycle_step_new (self, NULL));
      return TRUE;
    }
  if (self->archive_incoming != NULL && !self->archive_moved && g_str_equal (slot, "engine"))
    {
      archive_move (self, "valid", NULL);
      return TRUE;
    }
  return FALSE;
}

/* After @stage failed with @error (a verdict): an infected file is quarantined, an
 * invalid one moved to the archive's invalid/, before the job ends. Returns: %TRUE when
 * a step was started; it takes @error and ends the job after it. */
static gboolean
lifecycle_after_failure (AssayWorkerJob *self,
                         AssayStage     *stage,
                         GError         *error)
{
  const char *slot = assay_stage_get_name (stage);

  if (self->lifecycle == NULL)
    return FALSE;
  if (g_error_matches (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED) &&
      g_str_equal (slot, "scan"))
    {
      g_autofree char *signature = assay_lifecycle_signature_from_error (error);

      assay_lifecycle_quarantine_async (self->lifecycle, self->path, self->job, signature,
                                        self->processor, self->cancellable, quarantined_cb,
                                        lifecycle_step_new (self, error));
      return TRUE;
    }
  if (g_error_matches (error, ASSAY_FAILURE, ASSAY_FAILURE_INVALID) &&
      g_str_equal (slot, "validation") && self->archive_incoming != NULL && !self->archive_moved)
    {
      archive_move (self, "invalid", error);
      return TRUE;
    }
  return FALSE;
}

static AssayStage *
find_stage (AssayWorkerJob *self,
            const char     *slot)
{
  for (guint i = 0; i < self->stages->len; i++)
    {
      AssayStage *stage = g_ptr_array_index (self->stages, i);

      if (g_strcmp0 (assay_stage_get_name (stage), slot) == 0)
        return stage;
    }
  return NULL;
}

static gboolean
retry_stage_cb (gpointer data)
{
  AssayWorkerJob *self = data;

  self->retry_source = 0;
  next_stage (self);
  return G_SOURCE_REMOVE;
}

static void
stage_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  AssayStage *stage = ASSAY_STAGE (source);
  g_autoptr(GBytes) output = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *fields;

  output = assay_stage_run_finish (stage, result, &error);
  if (!op_done (self))
    return;

  fields = json_object_new ();
  json_object_set_string_member (fields, "stage", assay_stage_get_name (stage));
  json_object_set_int_member (fields, "duration_ms", elapsed_ms (self->stage_started_us));
  if (error != NULL && error->domain == ASSAY_FAILURE)
    json_object_set_string_member (fields, "error", assay_failure_to_code (error->code));
  emit (self, "stage", fields);

  if (output == NULL && error->domain != ASSAY_FAILURE)
    {
      /* the stage could not run (its service out of reach…): the chunks are gone, so
       * this file is the only copy; try again a few times while the lease is held */
      if (self->stage_tries < STAGE_TRIES)
        {
          guint delay = self->stage_retry_ms << (2 * (self->stage_tries - 1));

          fields = reason_fields (error);
          json_object_set_string_member (fields, "stage", assay_stage_get_name (stage));
          json_object_set_int_member (fields, "retry_in_ms", delay);
          emit (self, "stage-retry", fields);
          self->retry_source = g_timeout_add (delay, retry_stage_cb, self);
          return;
        }
      fail (self, ASSAY_FAILURE_ENGINE_FAILED, "the %s stage could not run (%u tries): %s",
            assay_stage_get_name (stage), self->stage_tries, error->message);
      return;
    }
  if (output == NULL)
    {
      if (lifecycle_after_failure (self, stage, error))
        {
          g_steal_pointer (&error);
          return;
        }
      give_up (self, g_steal_pointer (&error));
      return;
    }
  g_hash_table_replace (self->outputs, (gpointer) assay_stage_slots[self->slot],
                        g_steal_pointer (&output));
  self->slot++;
  self->stage_tries = 0;
  next_stage (self);
}

/* Runs the stage of the next slot; a slot without a stage is recorded as {}. */
static void
next_stage (AssayWorkerJob *self)
{
  for (; assay_stage_slots[self->slot] != NULL; self->slot++)
    {
      const char *slot = assay_stage_slots[self->slot];
      AssayStage *stage = find_stage (self, slot);

      if (lifecycle_before_slot (self, slot))
        return;

      if (stage == NULL)
        {
          g_hash_table_replace (self->outputs, (gpointer) slot, g_bytes_new_static ("{}", 2));
          continue;
        }
      self->stage_started_us = g_get_monotonic_time ();
      self->stage_tries++;
      self->pending++;
      assay_stage_run_async (stage, self->path, self->job, self->cancellable, stage_done_cb,
                             g_object_ref (self));
      return;
    }
  store_result (self);
}

/* ------------------------------------------------------------------------------------- */
/* Claiming                                                                              */

static void
claimed_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(AssayWorkerJob) self = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) claimed = NULL;
  g_autofree char *signed_before = NULL;
  g_autofree char *signed_now = NULL;
  guint64 attempts = 0;
  JsonObject *fields;

  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  self->pending--;
  if (item == NULL)
    {
      conclude (self, ASSAY_WORKER_JOB_OUTCOME_NOT_CLAIMED,
                g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED)
                  ? NULL
                  : g_steal_pointer (&error));
      return;
    }

  assay_item_get_uint (item, ASSAY_ITEM_FORM_DYNAMODB, "attempts", TRUE, &attempts, NULL, NULL);
  self->claim = (guint) MIN (attempts, G_MAXUINT);
  self->claimed_us = g_get_monotonic_time ();
  self->lease_end = g_get_real_time () + (gint64) self->lease_ms * 1000;
  self->heartbeat_source = g_timeout_add (MAX (self->lease_ms / 3, 100), heartbeat_timeout_cb,
                                          self);
  fields = json_object_new ();
  json_object_set_int_member (fields, "attempt", self->claim);
  emit (self, "claimed", fields);

  if (self->release_requested)
    {
      conclude (self, ASSAY_WORKER_JOB_OUTCOME_RELEASED,
                g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "the worker is stopping"));
      return;
    }
  if (self->verdict == ASSAY_WORKER_JOB_REJECT)
    {
      conclude (self, ASSAY_WORKER_JOB_OUTCOME_FAILED, g_error_copy (self->rejection));
      return;
    }
  if (self->max_attempts > 0 && self->claim > self->max_attempts)
    {
      fail (self, ASSAY_FAILURE_TOO_MANY_ATTEMPTS,
            "the job was claimed %u times; the limit is %u attempts", self->claim,
            self->max_attempts);
      return;
    }

  /* what we claimed must be what we verified */
  claimed = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, NULL);
  signed_before = assay_job_dup_signed_message (self->job);
  signed_now = claimed ? assay_job_dup_signed_message (claimed) : NULL;
  if (claimed == NULL || !g_str_equal (signed_before, signed_now) ||
      g_strcmp0 (assay_job_get_signature (claimed), assay_job_get_signature (self->job)) != 0)
    {
      fail (self, ASSAY_FAILURE_BAD_JOB, "the job's signed fields changed as it was claimed");
      return;
    }
  if (assay_job_get_status (claimed) == ASSAY_JOB_STATUS_PROCESSING)
    {
      fail (self, ASSAY_FAILURE_CHUNKS_GONE,
            "a processor that held the job before deleted its chunks once it had downloaded "
            "them, and then stopped: submit the file again");
      return;
    }
  start_streaming (self, item);
}

static void
claim (AssayWorkerJob *self)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = NULL;
  g_autofree char *now = assay_time_now ();
  g_autofree char *lease = time_in (self->lease_ms);

  self->phase = PHASE_CLAIMING;
  assay_update_set (update, "processor", assay_value_string (self->processor));
  assay_update_set (update, "assigned", assay_value_string (now));
  assay_update_set (update, "lease", assay_value_string (lease));
  assay_update_set (update, "queue", assay_value_string ("leased"));
  assay_update_set (update, "due", assay_value_string (lease));
  assay_update_add (update, "attempts", 1);
  condition = assay_condition_and (
    assay_condition_or (
      assay_condition_compare ("queue", ASSAY_COMPARE_EQ, assay_value_string ("open")),
      assay_condition_and (
        assay_condition_compare ("queue", ASSAY_COMPARE_EQ, assay_value_string ("leased")),
        assay_condition_compare ("lease", ASSAY_COMPARE_LT, assay_value_string (now)), NULL),
      NULL),
    assay_condition_compare ("status", ASSAY_COMPARE_NE, assay_value_string ("PROCESSED")),
    assay_condition_compare ("status", ASSAY_COMPARE_NE, assay_value_string ("ERROR")), NULL);
  self->pending++;
  /* never cancelled: whether we hold the job must be known */
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, self->id, update, condition,
                                 ASSAY_RETURN_ALL_NEW, NULL, claimed_cb, g_object_ref (self));
}

/* ------------------------------------------------------------------------------------- */
/* The run                                                                               */

static gboolean
caller_cancelled_idle_cb (gpointer data)
{
  assay_worker_job_release (data);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *cancellable,
                     gpointer      data)
{
  AssayWorkerJob *self = data;

  assay_idle_on (g_task_get_context (self->task), caller_cancelled_idle_cb, g_object_ref (self),
                 g_object_unref);
}

/**
 * assay_worker_job_run_async:
 * @cancellable: (nullable): gives the job back, as assay_worker_job_release() does
 *
 * Claims and processes the job (verdict TAKE) or claims and fails it (REJECT). The
 * finish function returns the outcome.
 */
void
assay_worker_job_run_async (AssayWorkerJob      *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_WORKER_JOB (self));
  g_return_if_fail (self->verdict != ASSAY_WORKER_JOB_LEAVE);
  g_return_if_fail (self->phase == PHASE_NEW);

  self->task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->task, assay_worker_job_run_async);
  if (cancellable != NULL)
    {
      self->caller = g_object_ref (cancellable);
      self->caller_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                                               self, NULL);
    }
  claim (self);
}

/**
 * assay_worker_job_run_finish:
 * @error: (nullable): why the job was failed, lost, released or not claimed, when it was
 *   for a reason worth telling
 * Returns: the outcome
 */
AssayWorkerJobOutcome
assay_worker_job_run_finish (AssayWorkerJob  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  gssize outcome;

  g_return_val_if_fail (g_task_is_valid (result, self), ASSAY_WORKER_JOB_OUTCOME_NONE);

  outcome = g_task_propagate_int (G_TASK (result), NULL);
  if (self->error != NULL && error != NULL)
    *error = g_error_copy (self->error);
  return (AssayWorkerJobOutcome) outcome;
}

/**
 * assay_worker_job_release:
 * Gives the job back now (the worker is stopping): the work stops and the lease is set
 * to run out at once, so that another processor takes the job without waiting. A job
 * that is storing its result finishes instead; it takes a moment.
 */
void
assay_worker_job_release (AssayWorkerJob *self)
{
  g_return_if_fail (ASSAY_IS_WORKER_JOB (self));

  if (self->outcome != ASSAY_WORKER_JOB_OUTCOME_NONE)
    return;
  switch (self->phase)
    {
    case PHASE_NEW:
    case PHASE_STORING:
    case PHASE_ENDED:
      break;
    case PHASE_CLAIMING:
      self->release_requested = TRUE;
      break;
    case PHASE_STREAMING:
    case PHASE_DOWNLOADED:
    case PHASE_ANALYSING:
    default:
      conclude (self, ASSAY_WORKER_JOB_OUTCOME_RELEASED,
                g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "the worker is stopping"));
      break;
    }
}
