/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-submitter.h"
#include "assay-chunk-encoder.h"
#include "assay-digest-stream.h"
#include "assay-id.h"
#include "assay-job.h"
#include "assay-time.h"
#include "assay-util.h"

#include <string.h>

/* How often progress properties are notified while work goes on. */
#define PROGRESS_INTERVAL_MS 100

typedef struct
{
  guint index;
  GBytes *data;
  char *md5; /* lowercase hex */
} Chunk;

static void
chunk_free (Chunk *chunk)
{
  g_bytes_unref (chunk->data);
  g_free (chunk->md5);
  g_free (chunk);
}

struct _AssaySubmitter
{
  GObject parent_instance;

  AssayStore *store;
  AssayKey *key;
  AssayJournal *journal;
  GFile *file;
  char *path;
  AssaySubmitSettings settings;

  /* the run */
  GTask *task;
  GMainContext *context;
  GCancellable *cancellable;   /* ours: stops the encoder and every request */
  gulong cancelled_id;
  GCancellable *caller_cancellable;
  AssaySubmitStage stage;
  AssayJob *job;
  AssayJournalEntry *entry;
  gboolean resumed;
  guint64 size;
  gint64 mtime_us;
  gint64 started_us;
  GError *error;               /* the first failure; the run ends once nothing is in flight */

  /* shared with the encoder thread, under lock */
  GMutex lock;
  GCond slot_freed;
  GQueue ready;                /* Chunk*, made and waiting for an upload slot */
  guint in_pipeline;           /* chunks made and not yet stored */
  gboolean encoder_finished;
  GError *encoder_error;
  guint64 bytes_read;
  guint64 bytes_compressed;
  guint chunks_made;
  char *digest;
  GThread *encoder_thread;

  /* main context only */
  guint in_flight;
  guint64 bytes_uploaded;
  guint64 bytes_in_progress;
  GHashTable *stored_ahead;    /* indexes stored beyond the contiguous run */
  GHashTable *stored_before;   /* resuming: index → ETag of the chunks the store held
                                * when this run began (listed: a client may not read them) */
  guint contiguous;            /* chunks stored contiguously from 0 */
  guint reported;              /* the `chunks` the job item holds */
  gboolean updating;
  guint advancing;             /* the `chunks` an update in flight sets */
  guint pending_deletes;       /* chunks of an abandoned job still being deleted */
  guint chunks_skipped;
  gint64 next_start_us;        /* bandwidth pacing */
  guint pace_source;
  guint progress_source;
  double rate;
  gint64 eta;
};

G_DEFINE_FINAL_TYPE (AssaySubmitter, assay_submitter, G_TYPE_OBJECT)

G_DEFINE_QUARK (assay-submit-error-quark, assay_submit_error)

G_DEFINE_ENUM_TYPE (AssaySubmitStage, assay_submit_stage,
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_PENDING, "pending"),
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_CREATING, "creating"),
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_UPLOADING, "uploading"),
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_FINISHING, "finishing"),
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_DONE, "done"),
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_FAILED, "failed"),
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_CANCELLED, "cancelled"),
                    G_DEFINE_ENUM_VALUE (ASSAY_SUBMIT_STAGE_PAUSED, "paused"))

enum
{
  PROP_0,
  PROP_JOB_ID,
  PROP_STAGE,
  PROP_SIZE,
  PROP_BYTES_READ,
  PROP_BYTES_COMPRESSED,
  PROP_BYTES_UPLOADED,
  PROP_CHUNKS,
  PROP_RATE,
  PROP_ETA,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void pump (AssaySubmitter *self);
static void maybe_finish (AssaySubmitter *self);

/* pump() as a GSourceFunc, for the encoder thread to call it on the main context. */
static gboolean
pump_cb (gpointer data)
{
  pump (data);
  return G_SOURCE_REMOVE;
}

void
assay_submit_settings_init (AssaySubmitSettings *settings)
{
  *settings = (AssaySubmitSettings) {
    .preset = ASSAY_SUBMIT_PRESET_DEFAULT,
    .threads = 0,
    .chunk_size = ASSAY_CHUNK_SIZE_DEFAULT,
    .concurrency = ASSAY_SUBMIT_CONCURRENCY_DEFAULT,
    .bandwidth = 0,
  };
}

/* ------------------------------------------------------------------------------------- */
/* GObject                                                                               */

static void
assay_submitter_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  AssaySubmitter *self = ASSAY_SUBMITTER (object);

  switch (prop_id)
    {
    case PROP_JOB_ID:
      g_value_set_string (value, assay_submitter_get_job_id (self));
      break;
    case PROP_STAGE:
      g_value_set_enum (value, self->stage);
      break;
    case PROP_SIZE:
      g_value_set_uint64 (value, self->size);
      break;
    case PROP_BYTES_READ:
      g_value_set_uint64 (value, assay_submitter_get_bytes_read (self));
      break;
    case PROP_BYTES_COMPRESSED:
      g_value_set_uint64 (value, assay_submitter_get_bytes_compressed (self));
      break;
    case PROP_BYTES_UPLOADED:
      g_value_set_uint64 (value, assay_submitter_get_bytes_uploaded (self));
      break;
    case PROP_CHUNKS:
      g_value_set_uint (value, self->contiguous);
      break;
    case PROP_RATE:
      g_value_set_double (value, self->rate);
      break;
    case PROP_ETA:
      g_value_set_int64 (value, self->eta);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_submitter_dispose (GObject *object)
{
  AssaySubmitter *self = ASSAY_SUBMITTER (object);

  /* a run holds a reference to self: by now no thread is running */
  g_assert (self->encoder_thread == NULL);
  g_clear_handle_id (&self->pace_source, g_source_remove);
  g_clear_handle_id (&self->progress_source, g_source_remove);

  G_OBJECT_CLASS (assay_submitter_parent_class)->dispose (object);
}

static void
assay_submitter_finalize (GObject *object)
{
  AssaySubmitter *self = ASSAY_SUBMITTER (object);

  g_clear_object (&self->store);
  g_clear_object (&self->key);
  g_clear_object (&self->journal);
  g_clear_object (&self->file);
  g_free (self->path);
  g_clear_object (&self->job);
  g_clear_pointer (&self->entry, assay_journal_entry_free);
  g_clear_error (&self->error);
  g_clear_error (&self->encoder_error);
  g_queue_clear_full (&self->ready, (GDestroyNotify) chunk_free);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->slot_freed);
  g_free (self->digest);
  g_hash_table_unref (self->stored_ahead);
  g_hash_table_unref (self->stored_before);

  G_OBJECT_CLASS (assay_submitter_parent_class)->finalize (object);
}

static void
assay_submitter_class_init (AssaySubmitterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = assay_submitter_get_property;
  object_class->dispose = assay_submitter_dispose;
  object_class->finalize = assay_submitter_finalize;

  properties[PROP_JOB_ID] = g_param_spec_string ("job-id", NULL, NULL, NULL, flags);
  properties[PROP_STAGE] = g_param_spec_enum ("stage", NULL, NULL, ASSAY_TYPE_SUBMIT_STAGE,
                                              ASSAY_SUBMIT_STAGE_PENDING, flags);
  properties[PROP_SIZE] = g_param_spec_uint64 ("size", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_READ] = g_param_spec_uint64 ("bytes-read", NULL, NULL, 0, G_MAXUINT64,
                                                     0, flags);
  properties[PROP_BYTES_COMPRESSED] = g_param_spec_uint64 ("bytes-compressed", NULL, NULL, 0,
                                                           G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_UPLOADED] = g_param_spec_uint64 ("bytes-uploaded", NULL, NULL, 0,
                                                         G_MAXUINT64, 0, flags);
  properties[PROP_CHUNKS] = g_param_spec_uint ("chunks", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_RATE] = g_param_spec_double ("rate", NULL, "Input bytes per second", 0,
                                               G_MAXDOUBLE, 0, flags);
  properties[PROP_ETA] = g_param_spec_int64 ("eta", NULL, "Seconds left, -1 when unknown", -1,
                                             G_MAXINT64, -1, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
assay_submitter_init (AssaySubmitter *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->slot_freed);
  g_queue_init (&self->ready);
  self->stored_ahead = g_hash_table_new (NULL, NULL);
  self->stored_before = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->eta = -1;
}

/**
 * assay_submitter_new:
 * @settings: (nullable): compression and upload settings, or %NULL for the defaults
 */
AssaySubmitter *
assay_submitter_new (AssayStore                *store,
                     AssayKey                  *key,
                     AssayJournal              *journal,
                     GFile                     *file,
                     const AssaySubmitSettings *settings)
{
  AssaySubmitter *self;

  g_return_val_if_fail (ASSAY_IS_STORE (store), NULL);
  g_return_val_if_fail (ASSAY_IS_KEY (key) && assay_key_has_private (key), NULL);
  g_return_val_if_fail (ASSAY_IS_JOURNAL (journal), NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  self = g_object_new (ASSAY_TYPE_SUBMITTER, NULL);
  self->store = g_object_ref (store);
  self->key = g_object_ref (key);
  self->journal = g_object_ref (journal);
  self->file = g_object_ref (file);
  self->path = g_file_get_path (file);
  if (settings != NULL)
    self->settings = *settings;
  else
    assay_submit_settings_init (&self->settings);
  self->settings.concurrency = MAX (self->settings.concurrency, 1);
  if (self->settings.chunk_size == 0 || self->settings.chunk_size > ASSAY_CHUNK_SIZE_MAX)
    self->settings.chunk_size = ASSAY_CHUNK_SIZE_DEFAULT;
  return self;
}

static void
set_stage (AssaySubmitter   *self,
           AssaySubmitStage  stage)
{
  if (self->stage == stage)
    return;
  self->stage = stage;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STAGE]);
}

/* ------------------------------------------------------------------------------------- */
/* Progress                                                                              */

static gboolean
progress_cb (gpointer data)
{
  AssaySubmitter *self = data;
  gint64 elapsed_us = g_get_monotonic_time () - self->started_us;
  guint64 read = assay_submitter_get_bytes_read (self);

  if (elapsed_us > 0 && read > 0)
    {
      self->rate = read / (elapsed_us / (double) G_USEC_PER_SEC);
      self->eta = self->size > read ? (gint64) ((self->size - read) / self->rate) : 0;
    }
  g_object_freeze_notify (G_OBJECT (self));
  for (guint p = PROP_BYTES_READ; p <= PROP_ETA; p++)
    g_object_notify_by_pspec (G_OBJECT (self), properties[p]);
  g_object_thaw_notify (G_OBJECT (self));
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------------------- */
/* The encoder thread                                                                    */

static gpointer
encoder_thread (gpointer data)
{
  AssaySubmitter *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFileInputStream) file_stream = NULL;
  g_autoptr(GInputStream) digest = NULL;
  g_autoptr(AssayChunkEncoder) encoder = NULL;

  file_stream = g_file_read (self->file, self->cancellable, &error);
  if (file_stream == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      GError *cause = g_steal_pointer (&error);

      error = g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_FILE, "cannot read %s: %s",
                           self->path, cause->message);
      g_error_free (cause);
    }
  if (file_stream != NULL)
    {
      digest = assay_digest_stream_new (G_INPUT_STREAM (file_stream));
      encoder = assay_chunk_encoder_new (digest, self->settings.preset, self->settings.threads,
                                         self->settings.chunk_size);
    }

  while (encoder != NULL)
    {
      g_autoptr(GBytes) bytes = NULL;
      Chunk *chunk;

      /* wait for a place in the pipeline: this is what bounds memory */
      g_mutex_lock (&self->lock);
      while (self->in_pipeline >= self->settings.concurrency &&
             !g_cancellable_is_cancelled (self->cancellable))
        g_cond_wait (&self->slot_freed, &self->lock);
      g_mutex_unlock (&self->lock);
      if (g_cancellable_set_error_if_cancelled (self->cancellable, &error))
        break;

      bytes = assay_chunk_encoder_next (encoder, self->cancellable, &error);
      if (bytes == NULL)
        break;

      chunk = g_new0 (Chunk, 1);
      chunk->index = assay_chunk_encoder_get_chunks (encoder) - 1;
      chunk->md5 = g_compute_checksum_for_bytes (G_CHECKSUM_MD5, bytes);
      chunk->data = g_steal_pointer (&bytes);

      g_mutex_lock (&self->lock);
      g_queue_push_tail (&self->ready, chunk);
      self->in_pipeline++;
      self->chunks_made++;
      self->bytes_read = assay_chunk_encoder_get_bytes_read (encoder);
      self->bytes_compressed = assay_chunk_encoder_get_bytes_written (encoder);
      g_mutex_unlock (&self->lock);
      assay_idle_on (self->context, pump_cb, g_object_ref (self), g_object_unref);
    }

  g_mutex_lock (&self->lock);
  self->encoder_finished = TRUE;
  if (encoder != NULL)
    {
      self->bytes_read = assay_chunk_encoder_get_bytes_read (encoder);
      self->bytes_compressed = assay_chunk_encoder_get_bytes_written (encoder);
    }
  if (digest != NULL && error == NULL)
    self->digest = assay_digest_stream_dup_digest (ASSAY_DIGEST_STREAM (digest));
  self->encoder_error = g_steal_pointer (&error);
  g_mutex_unlock (&self->lock);
  assay_idle_on (self->context, pump_cb, g_object_ref (self), g_object_unref);
  return NULL;
}

/* ------------------------------------------------------------------------------------- */
/* Failing and finishing                                                                 */

/* Records the first failure and stops the pipeline; the run ends when nothing is left
 * in flight. Takes @error. */
static void
fail (AssaySubmitter *self,
      GError         *error)
{
  if (self->error == NULL)
    self->error = error;
  else
    g_error_free (error);
  g_cancellable_cancel (self->cancellable);
  g_mutex_lock (&self->lock);
  g_cond_broadcast (&self->slot_freed);
  g_mutex_unlock (&self->lock);
  maybe_finish (self);
}

static char *
chunk_key (AssaySubmitter *self,
           guint           index)
{
  return g_strdup_printf ("%s/%06u", assay_job_get_file (self->job), index);
}

static void
complete_task (AssaySubmitter *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);

  g_clear_handle_id (&self->progress_source, g_source_remove);
  g_clear_handle_id (&self->pace_source, g_source_remove);
  if (self->caller_cancellable != NULL)
    g_cancellable_disconnect (self->caller_cancellable, self->cancelled_id);
  g_clear_object (&self->caller_cancellable);
  g_clear_object (&self->cancellable);
  progress_cb (self);

  if (self->error != NULL)
    {
      set_stage (self, g_error_matches (self->error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                         ? ASSAY_SUBMIT_STAGE_CANCELLED
                       : g_error_matches (self->error, ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_PAUSED)
                         ? ASSAY_SUBMIT_STAGE_PAUSED
                         : ASSAY_SUBMIT_STAGE_FAILED);
      g_task_return_error (task, g_steal_pointer (&self->error));
    }
  else
    {
      set_stage (self, ASSAY_SUBMIT_STAGE_DONE);
      g_task_return_pointer (task, g_strdup (assay_job_get_id (self->job)), g_free);
    }
}

static void delete_listed (AssaySubmitter *self, const char *token);

/* One listing or delete of an abandoned job's chunks is done; the run ends after the
 * last. */
static void
delete_done (AssaySubmitter *self)
{
  if (--self->pending_deletes == 0)
    complete_task (self);
}

static void
chunk_deleted_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  g_autoptr(GError) error = NULL;

  if (!assay_store_delete_object_finish (ASSAY_STORE (source), result, &error))
    g_debug ("could not delete a chunk of job %s: %s", assay_job_get_id (self->job),
             error->message);
  delete_done (self);
}

static void
listed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  g_autoptr(AssayObjectList) list = NULL;
  g_autoptr(GError) error = NULL;

  list = assay_store_list_objects_finish (ASSAY_STORE (source), result, &error);
  if (list == NULL)
    g_debug ("could not list the chunks of job %s: %s", assay_job_get_id (self->job),
             error->message);
  for (guint i = 0; list != NULL && i < list->objects->len; i++)
    {
      AssayObjectInfo *info = g_ptr_array_index (list->objects, i);

      self->pending_deletes++;
      assay_store_delete_object_async (self->store, info->key, NULL, chunk_deleted_cb,
                                       g_object_ref (self));
    }
  if (list != NULL && list->next_token != NULL)
    delete_listed (self, list->next_token);
  delete_done (self);
}

static void
delete_listed (AssaySubmitter *self,
               const char     *token)
{
  g_autofree char *prefix = g_strconcat (assay_job_get_file (self->job), "/", NULL);

  self->pending_deletes++;
  assay_store_list_objects_async (self->store, prefix, token, 1000, NULL, listed_cb,
                                  g_object_ref (self));
}

static gboolean file_unchanged (AssaySubmitter *self);

/* A job that cannot go on (cancelled, its file changed) ends in ERROR and its chunks are
 * deleted. A job the caller cancelled, of a file still there as it was, stays in the
 * journal as CANCELLED, so that the same content is not submitted again by itself;
 * otherwise the journal forgets it. */
static void
abandoned_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) item = NULL;

  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  if (error != NULL)
    g_debug ("could not end job %s: %s", assay_job_get_id (self->job), error->message);
  g_clear_error (&error);
  if (g_error_matches (self->error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && self->entry != NULL &&
      file_unchanged (self))
    {
      self->entry->state = ASSAY_JOURNAL_CANCELLED;
      self->entry->size = self->size;
      self->entry->mtime_us = self->mtime_us;
      g_clear_pointer (&self->entry->hash, g_free);
      if (!assay_journal_save (self->journal, self->entry, &error))
        g_debug ("could not record the cancel of %s: %s", self->path, error->message);
    }
  else
    assay_journal_remove (self->journal, self->path, NULL);
  delete_listed (self, NULL);
}

static void
abandon_job (AssaySubmitter *self,
             const char     *code,
             const char     *message)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = NULL;
  g_autoptr(JsonObject) error_map = json_object_new ();

  json_object_set_member (error_map, "code", assay_value_string (code));
  json_object_set_member (error_map, "message", assay_value_string (message));
  assay_update_set (update, "status", assay_value_string ("ERROR"));
  assay_update_set (update, "error", assay_value_map (error_map));
  assay_update_remove (update, "queue");
  assay_update_remove (update, "due");
  condition = assay_condition_or (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADING")),
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADED")),
    NULL);
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, assay_job_get_id (self->job),
                                 update, condition, ASSAY_RETURN_NONE, NULL, abandoned_cb,
                                 g_object_ref (self));
}

static void
uploaded_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  g_autoptr(JsonObject) item = NULL;
  GError *error = NULL;

  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  if (error != NULL)
    {
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
        {
          g_clear_error (&error);
          error = g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_JOB_ENDED,
                               "job %s ended before its upload did (a processor stopped it)",
                               assay_job_get_id (self->job));
        }
      self->error = error;
      complete_task (self);
      return;
    }

  self->entry->state = ASSAY_JOURNAL_SUBMITTED;
  self->entry->chunks = self->contiguous;
  g_free (self->entry->hash);
  self->entry->hash = g_strdup (self->digest);
  if (!assay_journal_save (self->journal, self->entry, &error))
    {
      /* the job is complete; only the record of it is missing */
      g_warning ("%s", error->message);
      g_clear_error (&error);
    }
  complete_task (self);
}

static gboolean
file_unchanged (AssaySubmitter *self)
{
  g_autoptr(GFileInfo) info = g_file_query_info (self->file,
                                                 G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                                 G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                                                 G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                                                 G_FILE_QUERY_INFO_NONE, NULL, NULL);
  g_autoptr(GDateTime) mtime = NULL;

  if (info == NULL)
    return FALSE;
  mtime = g_file_info_get_modification_date_time (info);
  return (guint64) g_file_info_get_size (info) == self->size &&
         g_date_time_to_unix (mtime) * G_USEC_PER_SEC + g_date_time_get_microsecond (mtime) ==
           self->mtime_us;
}

static void
maybe_finish (AssaySubmitter *self)
{
  gboolean encoder_finished;
  guint in_pipeline;
  g_autoptr(AssayUpdate) update = NULL;
  g_autoptr(AssayCondition) condition = NULL;
  g_autofree char *now = NULL;

  if (self->task == NULL || self->stage == ASSAY_SUBMIT_STAGE_FINISHING)
    return;
  g_mutex_lock (&self->lock);
  if (self->error != NULL)
    {
      /* after a failure, chunks made but never started are dropped */
      Chunk *chunk;

      while ((chunk = g_queue_pop_head (&self->ready)) != NULL)
        {
          self->in_pipeline--;
          chunk_free (chunk);
        }
      g_cond_broadcast (&self->slot_freed);
    }
  encoder_finished = self->encoder_finished;
  in_pipeline = self->in_pipeline;
  g_mutex_unlock (&self->lock);
  /* done only when every chunk made is stored (or dropped): chunks held back by the
   * bandwidth limit wait in the pipeline with nothing in flight */
  if (!encoder_finished || in_pipeline > 0 || self->in_flight > 0 || self->updating)
    return;

  g_clear_pointer (&self->encoder_thread, g_thread_join);
  if (self->error == NULL && self->encoder_error != NULL)
    self->error = g_steal_pointer (&self->encoder_error);

  if (self->error != NULL)
    {
      set_stage (self, ASSAY_SUBMIT_STAGE_FINISHING);
      if (g_error_matches (self->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        abandon_job (self, "CANCELLED", "the upload was cancelled on the client");
      else if (g_error_matches (self->error, ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_CHANGED) ||
               g_error_matches (self->error, ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_FILE))
        abandon_job (self, "CANCELLED", "the file changed or vanished while it was uploaded");
      else
        complete_task (self); /* kept in the journal: the next run continues the job */
      return;
    }

  if (!file_unchanged (self))
    {
      /* deleted or renamed: the bytes read through the open file were whole, but they are
       * no longer the file of that name */
      if (!g_file_query_exists (self->file, NULL))
        {
          self->error = g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_FILE,
                                     "%s was deleted or moved while it was submitted: job %s "
                                     "is cancelled",
                                     self->path, assay_job_get_id (self->job));
          set_stage (self, ASSAY_SUBMIT_STAGE_FINISHING);
          abandon_job (self, "CANCELLED", "the file was deleted or moved while it was uploaded");
          return;
        }
      self->error = g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_CHANGED,
                                 "%s changed while it was submitted: submit it again once it "
                                 "is complete",
                                 self->path);
      set_stage (self, ASSAY_SUBMIT_STAGE_FINISHING);
      abandon_job (self, "CANCELLED", "the file changed while it was uploaded");
      return;
    }

  set_stage (self, ASSAY_SUBMIT_STAGE_FINISHING);
  now = assay_time_now ();
  update = assay_update_new ();
  assay_update_set (update, "status", assay_value_string ("UPLOADED"));
  assay_update_set (update, "uploaded", assay_value_string (now));
  assay_update_set (update, "chunks", assay_value_number (self->contiguous));
  condition = assay_condition_compare ("status", ASSAY_COMPARE_EQ,
                                       assay_value_string ("UPLOADING"));
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, assay_job_get_id (self->job),
                                 update, condition, ASSAY_RETURN_NONE, NULL, uploaded_cb,
                                 g_object_ref (self));
}

/* ------------------------------------------------------------------------------------- */
/* Chunks stored: advance the job's `chunks`                                             */

static void advance (AssaySubmitter *self);

static void
advanced_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) journal_error = NULL;
  self->updating = FALSE;
  item = assay_store_update_item_finish (ASSAY_STORE (source), result, &error);
  if (error != NULL)
    {
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
        fail (self, g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_JOB_ENDED,
                                 "job %s is no longer uploading (a processor ended it): see "
                                 "“assay-cli status %s”",
                                 assay_job_get_id (self->job), assay_job_get_id (self->job)));
      else
        fail (self, g_steal_pointer (&error));
      return;
    }

  self->reported = self->advancing;
  self->entry->chunks = self->advancing;
  if (!assay_journal_save (self->journal, self->entry, &journal_error))
    {
      fail (self, g_steal_pointer (&journal_error));
      return;
    }
  advance (self);
  maybe_finish (self);
}

static void
advance (AssaySubmitter *self)
{
  g_autoptr(AssayUpdate) update = NULL;
  g_autoptr(AssayCondition) condition = NULL;

  if (self->updating || self->contiguous <= self->reported || self->error != NULL)
    return;

  self->updating = TRUE;
  self->advancing = self->contiguous;
  update = assay_update_set (assay_update_new (), "chunks",
                             assay_value_number (self->contiguous));
  condition = assay_condition_and (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADING")),
    assay_condition_compare ("chunks", ASSAY_COMPARE_LT, assay_value_number (self->contiguous)),
    NULL);
  assay_store_update_item_async (self->store, ASSAY_TABLE_JOBS, assay_job_get_id (self->job),
                                 update, condition, ASSAY_RETURN_NONE, self->cancellable,
                                 advanced_cb, g_object_ref (self));
}

static void
chunk_stored (AssaySubmitter *self,
              Chunk          *chunk)
{
  self->bytes_uploaded += g_bytes_get_size (chunk->data);
  g_hash_table_add (self->stored_ahead, GUINT_TO_POINTER (chunk->index));
  while (g_hash_table_remove (self->stored_ahead, GUINT_TO_POINTER (self->contiguous)))
    self->contiguous++;
  advance (self);
}

/* ------------------------------------------------------------------------------------- */
/* Uploads                                                                               */

typedef struct
{
  AssaySubmitter *self;
  Chunk *chunk;
  guint64 progress;
} Upload;

static void
upload_free (Upload *upload)
{
  g_object_unref (upload->self);
  chunk_free (upload->chunk);
  g_free (upload);
}

/* A chunk left the pipeline: its memory is free and the encoder may make another. */
static void
release_upload (Upload *upload)
{
  AssaySubmitter *self = upload->self;

  self->bytes_in_progress -= upload->progress;
  self->in_flight--;
  g_mutex_lock (&self->lock);
  self->in_pipeline--;
  g_cond_signal (&self->slot_freed);
  g_mutex_unlock (&self->lock);
  upload_free (upload);
}

static void
upload_done (Upload *upload)
{
  g_autoptr(AssaySubmitter) self = g_object_ref (upload->self);

  release_upload (upload);
  pump (self);
  maybe_finish (self);
}

static void
put_progress_cb (goffset  current,
                 goffset  total,
                 gpointer data)
{
  Upload *upload = data;

  upload->self->bytes_in_progress += current - upload->progress;
  upload->progress = current;
}

static void
put_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Upload *upload = data;
  AssaySubmitter *self = upload->self;
  g_autofree char *etag = NULL;
  GError *error = NULL;

  etag = assay_store_put_object_finish (ASSAY_STORE (source), result, &error);
  if (etag == NULL)
    fail (self, error);
  else if (g_ascii_strcasecmp (etag, upload->chunk->md5) != 0)
    fail (self, g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_MISMATCH,
                             "the store kept chunk %u of %s with MD5 %s, not %s as sent",
                             upload->chunk->index, self->path, etag, upload->chunk->md5));
  else
    chunk_stored (self, upload->chunk);
  upload_done (upload);
}

static void
start_put (Upload *upload)
{
  AssaySubmitter *self = upload->self;
  g_autofree char *key = chunk_key (self, upload->chunk->index);
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (metadata, "assay-job", (gpointer) assay_job_get_id (self->job));
  assay_store_put_object_async (self->store, key, upload->chunk->data, metadata, put_progress_cb,
                                upload, self->cancellable, put_cb, upload);
}

static gboolean
pace_cb (gpointer data)
{
  AssaySubmitter *self = data;

  self->pace_source = 0;
  pump (self);
  return G_SOURCE_REMOVE;
}

/* Starts uploads while there are chunks ready and places free. */
static void
pump (AssaySubmitter *self)
{
  while (self->error == NULL && self->in_flight < self->settings.concurrency &&
         self->pace_source == 0)
    {
      Upload *upload;
      Chunk *chunk;
      gint64 now = g_get_monotonic_time ();

      if (self->settings.bandwidth > 0 && now < self->next_start_us)
        {
          self->pace_source = g_timeout_add ((self->next_start_us - now) / 1000 + 1, pace_cb,
                                             self);
          break;
        }

      g_mutex_lock (&self->lock);
      chunk = g_queue_pop_head (&self->ready);
      g_mutex_unlock (&self->lock);
      if (chunk == NULL)
        break;

      if (self->settings.bandwidth > 0)
        self->next_start_us = MAX (now, self->next_start_us) +
                              g_bytes_get_size (chunk->data) * G_USEC_PER_SEC /
                                self->settings.bandwidth;

      upload = g_new0 (Upload, 1);
      upload->self = g_object_ref (self);
      upload->chunk = chunk;
      self->in_flight++;
      /* Resuming: a chunk that an earlier run stored is skipped when the store holds
       * exactly the bytes this run made (compression is deterministic for the same
       * settings): its listed ETag is their MD5. The key holds the job's own file id. */
      if (g_ascii_strcasecmp (chunk->md5, g_hash_table_lookup (self->stored_before,
                                                               GUINT_TO_POINTER (chunk->index))
                                            ?: "") == 0)
        {
          self->chunks_skipped++;
          chunk_stored (self, chunk);
          release_upload (upload);
        }
      else
        start_put (upload);
    }

  maybe_finish (self);
}

/* ------------------------------------------------------------------------------------- */
/* The run                                                                               */

/* Ends a run that stopped before its pipeline started. Takes @error. */
static void
end_early (AssaySubmitter *self,
           GError         *error)
{
  if (self->error == NULL)
    self->error = error;
  else
    g_clear_error (&error);
  complete_task (self);
}

static void
start_pipeline (AssaySubmitter *self)
{
  set_stage (self, ASSAY_SUBMIT_STAGE_UPLOADING);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JOB_ID]);
  self->started_us = g_get_monotonic_time ();
  self->progress_source = g_timeout_add (PROGRESS_INTERVAL_MS, progress_cb, self);
  self->encoder_thread = g_thread_new ("assay-encoder", encoder_thread, self);
}

static void
created_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  GError *error = NULL;

  if (!assay_store_put_item_finish (ASSAY_STORE (source), result, &error))
    {
      g_prefix_error (&error, "cannot create the job for %s: ", self->path);
      assay_journal_remove (self->journal, self->path, NULL);
      end_early (self, error);
      return;
    }
  if (self->error != NULL)
    {
      end_early (self, NULL); /* paused or cancelled meanwhile */
      return;
    }
  start_pipeline (self);
}

static void
create_job (AssaySubmitter *self)
{
  g_autoptr(JsonNode) item = NULL;
  g_autoptr(AssayCondition) condition = NULL;
  g_autofree char *file_id = assay_id_new (ASSAY_ID_FILE);
  GError *error = NULL;

  self->job = assay_job_new (PACKAGE_VERSION, assay_store_get_bucket (self->store),
                             assay_store_get_region (self->store), file_id, self->key, &error);
  if (self->job == NULL)
    {
      end_early (self, error);
      return;
    }

  g_clear_pointer (&self->entry, assay_journal_entry_free);
  self->entry = assay_journal_entry_new (self->path);
  self->entry->state = ASSAY_JOURNAL_UPLOADING;
  self->entry->size = self->size;
  self->entry->mtime_us = self->mtime_us;
  self->entry->job = g_strdup (assay_job_get_id (self->job));
  self->entry->file = g_strdup (file_id);
  self->entry->preset = self->settings.preset;
  self->entry->chunk_size = self->settings.chunk_size;

  /* the journal first: a run that cannot write its journal creates no job */
  if (!assay_journal_save (self->journal, self->entry, &error))
    {
      end_early (self, error);
      return;
    }
  item = assay_job_to_item (self->job);
  condition = assay_condition_not_exists ("id");
  assay_store_put_item_async (self->store, ASSAY_TABLE_JOBS, json_node_get_object (item),
                              condition, self->cancellable, created_cb, g_object_ref (self));
}

/* Resuming: the chunks the store holds. The job's `chunks` counts only those stored
 * contiguously from 0 and recorded; a crash leaves more stored beyond it (uploads that
 * finished ahead of a slower one, or while the count was being advanced). Those are
 * confirmed by their MD5 like the others, not sent again. */
static void list_stored (AssaySubmitter *self,
                         const char     *token);

static void
stored_listed_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  g_autoptr(AssayObjectList) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = g_strconcat (assay_job_get_file (self->job), "/", NULL);

  list = assay_store_list_objects_finish (ASSAY_STORE (source), result, &error);
  if (self->error != NULL)
    {
      end_early (self, NULL); /* paused or cancelled meanwhile */
      return;
    }
  if (list == NULL)
    {
      g_prefix_error (&error, "cannot list the chunks of job %s: ", assay_job_get_id (self->job));
      end_early (self, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < list->objects->len; i++)
    {
      AssayObjectInfo *info = g_ptr_array_index (list->objects, i);
      guint64 index;

      if (g_str_has_prefix (info->key, prefix) && strlen (info->key + strlen (prefix)) == 6 &&
          g_ascii_string_to_unsigned (info->key + strlen (prefix), 10, 0, G_MAXUINT, &index,
                                      NULL))
        g_hash_table_insert (self->stored_before, GUINT_TO_POINTER ((guint) index),
                             g_strdup (info->etag ? info->etag : ""));
    }
  if (list->next_token != NULL)
    list_stored (self, list->next_token);
  else
    start_pipeline (self);
}

static void
list_stored (AssaySubmitter *self,
             const char     *token)
{
  g_autofree char *prefix = g_strconcat (assay_job_get_file (self->job), "/", NULL);

  assay_store_list_objects_async (self->store, prefix, token, 1000, self->cancellable,
                                  stored_listed_cb, g_object_ref (self));
}

/* The journal names a job for this very file: continue it if the store still has it
 * uploading, else start afresh. */
static void
resume_lookup_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(AssaySubmitter) self = data;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;

  item = assay_store_get_item_finish (ASSAY_STORE (source), result, &error);
  if (self->error != NULL)
    {
      end_early (self, NULL); /* paused or cancelled meanwhile */
      return;
    }
  if (item != NULL)
    self->job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, &error);
  if (self->job != NULL && assay_job_get_status (self->job) == ASSAY_JOB_STATUS_UPLOADING &&
      g_str_equal (assay_job_get_client (self->job), assay_key_get_client_id (self->key)) &&
      g_strcmp0 (assay_job_get_file (self->job), self->entry->file) == 0)
    {
      self->resumed = TRUE;
      self->reported = assay_job_get_chunks (self->job);
      g_debug ("resuming job %s of %s from chunk %u", assay_job_get_id (self->job), self->path,
               self->reported);
      list_stored (self, NULL);
      return;
    }
  if (error != NULL)
    g_debug ("not resuming %s: %s", self->path, error->message);
  g_clear_object (&self->job);
  create_job (self);
}

static gboolean
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* The caller's cancellable may fire in any thread: cancel ours on our context. */
static void
caller_cancelled_cb (GCancellable *cancellable,
                     gpointer      data)
{
  AssaySubmitter *self = data;

  assay_idle_on (self->context, cancel_cb, g_object_ref (self->cancellable), g_object_unref);
}

static void
cancelled_cb (GCancellable *cancellable,
              gpointer      data)
{
  AssaySubmitter *self = data;

  g_mutex_lock (&self->lock);
  g_cond_broadcast (&self->slot_freed);
  g_mutex_unlock (&self->lock);
}

/**
 * assay_submitter_run_async:
 * Submits the file. The finish function returns the job id once the job is UPLOADED.
 * A cancelled run ends the job in ERROR (code CANCELLED), deletes its chunks and leaves a
 * CANCELLED record in the journal (while the file is unchanged); a run
 * that fails on the way (the store went away) keeps its journal, so that the next run
 * continues the same job.
 */
void
assay_submitter_run_async (AssaySubmitter      *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GDateTime) mtime = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJournalEntry) entry = NULL;

  g_return_if_fail (ASSAY_IS_SUBMITTER (self));
  g_return_if_fail (self->task == NULL && self->stage == ASSAY_SUBMIT_STAGE_PENDING);

  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, assay_submitter_run_async);
  self->context = g_main_context_ref_thread_default ();
  g_task_set_task_data (self->task, self->context, (GDestroyNotify) g_main_context_unref);
  self->cancellable = g_cancellable_new ();
  g_signal_connect (self->cancellable, "cancelled", G_CALLBACK (cancelled_cb), self);
  if (cancellable != NULL)
    {
      self->caller_cancellable = g_object_ref (cancellable);
      self->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                                                  self, NULL);
    }
  set_stage (self, ASSAY_SUBMIT_STAGE_CREATING);

  info = g_file_query_info (self->file,
                            G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED "," G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC
                            "," G_FILE_ATTRIBUTE_ACCESS_CAN_READ,
                            G_FILE_QUERY_INFO_NONE, NULL, &error);
  if (info == NULL || self->path == NULL)
    {
      end_early (self, g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_FILE,
                                    "cannot submit %s: %s", g_file_peek_path (self->file),
                                    error ? error->message : "not a local file"));
      return;
    }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR ||
      (g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_ACCESS_CAN_READ) &&
       !g_file_info_get_attribute_boolean (info, G_FILE_ATTRIBUTE_ACCESS_CAN_READ)))
    {
      end_early (self, g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_FILE,
                                    "cannot submit %s: %s", self->path,
                                    g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY
                                      ? "it is a folder, not a file"
                                    : g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR
                                      ? "it is not a regular file"
                                      : "it cannot be read (permission denied)"));
      return;
    }
  self->size = g_file_info_get_size (info);
  mtime = g_file_info_get_modification_date_time (info);
  self->mtime_us = g_date_time_to_unix (mtime) * G_USEC_PER_SEC +
                   g_date_time_get_microsecond (mtime);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);

  entry = assay_journal_lookup (self->journal, self->path, &error);
  if (entry != NULL && entry->state == ASSAY_JOURNAL_UPLOADING && entry->size == self->size &&
      entry->mtime_us == self->mtime_us && entry->preset == self->settings.preset &&
      entry->chunk_size == self->settings.chunk_size)
    {
      self->entry = g_steal_pointer (&entry);
      assay_store_get_item_async (self->store, ASSAY_TABLE_JOBS, self->entry->job,
                                  self->cancellable, resume_lookup_cb, g_object_ref (self));
      return;
    }
  create_job (self);
}

/**
 * assay_submitter_pause:
 * Stops the run as a crash would, but cleanly: the uploads in flight are abandoned, the
 * job stays UPLOADING and the journal keeps it, so that the next run of the same file
 * continues where this one stopped. The run finishes with %ASSAY_SUBMIT_ERROR_PAUSED.
 */
void
assay_submitter_pause (AssaySubmitter *self)
{
  g_return_if_fail (ASSAY_IS_SUBMITTER (self));

  if (self->task == NULL || self->stage == ASSAY_SUBMIT_STAGE_FINISHING)
    return;
  fail (self, g_error_new (ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_PAUSED,
                           "paused: submitting %s again continues job %s", self->path,
                           assay_submitter_get_job_id (self) ? assay_submitter_get_job_id (self)
                                                              : "(not created yet)"));
}

char *
assay_submitter_run_finish (AssaySubmitter  *self,
                            GAsyncResult    *result,
                            GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Getters                                                                               */

GFile *
assay_submitter_get_file (AssaySubmitter *self)
{
  return self->file;
}

const char *
assay_submitter_get_job_id (AssaySubmitter *self)
{
  return self->job != NULL ? assay_job_get_id (self->job) : NULL;
}

AssaySubmitStage
assay_submitter_get_stage (AssaySubmitter *self)
{
  return self->stage;
}

gboolean
assay_submitter_get_resumed (AssaySubmitter *self)
{
  return self->resumed;
}

guint64
assay_submitter_get_size (AssaySubmitter *self)
{
  return self->size;
}

guint64
assay_submitter_get_bytes_read (AssaySubmitter *self)
{
  guint64 value;

  g_mutex_lock (&self->lock);
  value = self->bytes_read;
  g_mutex_unlock (&self->lock);
  return value;
}

guint64
assay_submitter_get_bytes_compressed (AssaySubmitter *self)
{
  guint64 value;

  g_mutex_lock (&self->lock);
  value = self->bytes_compressed;
  g_mutex_unlock (&self->lock);
  return value;
}

guint64
assay_submitter_get_bytes_uploaded (AssaySubmitter *self)
{
  return self->bytes_uploaded + self->bytes_in_progress;
}

guint
assay_submitter_get_chunks (AssaySubmitter *self)
{
  return self->contiguous;
}

guint
assay_submitter_get_chunks_skipped (AssaySubmitter *self)
{
  return self->chunks_skipped;
}

double
assay_submitter_get_rate (AssaySubmitter *self)
{
  return self->rate;
}

gint64
assay_submitter_get_eta (AssaySubmitter *self)
{
  return self->eta;
}
