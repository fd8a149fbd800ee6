/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-job-list.h"

#include "assay-journal.h"
#include "assay-outcome.h"
#include "assay-util.h"
#include "assay-watcher.h"

#include <glib/gi18n.h>
#include <unistd.h>

/* How often a job that is not final is read again: from FOLLOW_MIN_MS, growing by half
 * each time nothing changed, to FOLLOW_MAX_MS. */
#define FOLLOW_MIN_MS 200
#define FOLLOW_MAX_MS 3000

/* How often a folder that raises no events (the document portal's) is walked. */
#define RESCAN_MS 30000

struct _AssayJobList
{
  GObject parent_instance;

  GPtrArray *rows;             /* AssayJobRow, newest first */
  AssayStore *store;
  AssayKey *key;
  AssayJournal *journal;
  GFile *folder;
  AssaySubmitSettings settings;
  AssayWatcher *watcher;
  GHashTable *follows;         /* AssayJobRow → Follow */
  GHashTable *retries;         /* AssayJobRow → GCancellable of its own submitter */
  GHashTable *resubmits;       /* AssayJobRow → automatic resubmissions so far (GUINT) */
  GCancellable *cancellable;   /* everything the list started */
  guint restart_id;            /* waiting for a paused watcher to let go */
  gboolean started;
  gboolean paused;
  char *problem;
  guint batch_total;           /* files seen since the list was last idle */
  guint batch_done;
  guint64 batch_bytes_total;
  guint64 batch_bytes_done;
  GPtrArray *batch;            /* AssayJobRow of the batch */
};

typedef struct
{
  AssayJobList *list;          /* unowned: the list cancels its follows when it goes */
  AssayJobRow *row;
  char *job_id;
  GCancellable *cancellable;
  guint delay_ms;
  guint timeout_id;
  gboolean announce;           /* the job was not final when first seen */
  AssayJobStatus last_status;
  AssayJob *job;               /* the last read */
} Follow;

static void assay_job_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AssayJobList, assay_job_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      assay_job_list_model_init))

G_DEFINE_ENUM_TYPE (AssayJobListState, assay_job_list_state,
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_LIST_IDLE, "idle"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_LIST_WORKING, "working"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_LIST_PAUSED, "paused"),
                    G_DEFINE_ENUM_VALUE (ASSAY_JOB_LIST_ERROR, "error"))

enum
{
  PROP_0,
  PROP_STATE,
  PROP_SUMMARY,
  PROP_PAUSED,
  PROP_PROBLEM,
  N_PROPS
};

enum
{
  RESULT_READY,
  JOB_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void follow_start (AssayJobList *self, AssayJobRow *row, const char *job_id,
                          gboolean announce);
static void update_summary (AssayJobList *self);
static void row_progress_cb (AssayJobList *self);

/* ------------------------------------------------------------------------------------- */
/* GListModel                                                                            */

static GType
assay_job_list_get_item_type (GListModel *model)
{
  return ASSAY_TYPE_JOB_ROW;
}

static guint
assay_job_list_get_n_items (GListModel *model)
{
  return ASSAY_JOB_LIST (model)->rows->len;
}

static gpointer
assay_job_list_get_item (GListModel *model,
                         guint       position)
{
  AssayJobList *self = ASSAY_JOB_LIST (model);

  if (position >= self->rows->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->rows, position));
}

static void
assay_job_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = assay_job_list_get_item_type;
  iface->get_n_items = assay_job_list_get_n_items;
  iface->get_item = assay_job_list_get_item;
}

/* ------------------------------------------------------------------------------------- */

static void
follow_free (Follow *follow)
{
  g_cancellable_cancel (follow->cancellable);
  g_clear_handle_id (&follow->timeout_id, g_source_remove);
  g_clear_object (&follow->cancellable);
  g_clear_object (&follow->row);
  g_clear_object (&follow->job);
  g_free (follow->job_id);
  g_free (follow);
}

static void
assay_job_list_dispose (GObject *object)
{
  AssayJobList *self = ASSAY_JOB_LIST (object);

  assay_job_list_stop (self);
  g_clear_pointer (&self->follows, g_hash_table_unref);
  g_clear_pointer (&self->retries, g_hash_table_unref);
  g_clear_pointer (&self->resubmits, g_hash_table_unref);

  G_OBJECT_CLASS (assay_job_list_parent_class)->dispose (object);
}

static void
assay_job_list_finalize (GObject *object)
{
  AssayJobList *self = ASSAY_JOB_LIST (object);

  g_ptr_array_unref (self->rows);
  g_ptr_array_unref (self->batch);
  g_clear_object (&self->cancellable);
  g_free (self->problem);

  G_OBJECT_CLASS (assay_job_list_parent_class)->finalize (object);
}

static void
assay_job_list_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  AssayJobList *self = ASSAY_JOB_LIST (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, assay_job_list_get_state (self));
      break;
    case PROP_SUMMARY:
      g_value_take_string (value, assay_job_list_dup_summary (self));
      break;
    case PROP_PAUSED:
      g_value_set_boolean (value, self->paused);
      break;
    case PROP_PROBLEM:
      g_value_set_string (value, self->problem);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_job_list_class_init (AssayJobListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = assay_job_list_dispose;
  object_class->finalize = assay_job_list_finalize;
  object_class->get_property = assay_job_list_get_property;

  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, ASSAY_TYPE_JOB_LIST_STATE,
                                              ASSAY_JOB_LIST_IDLE, flags);
  properties[PROP_SUMMARY] = g_param_spec_string ("summary", NULL, NULL, NULL, flags);
  properties[PROP_PAUSED] = g_param_spec_boolean ("paused", NULL, NULL, FALSE, flags);
  properties[PROP_PROBLEM] = g_param_spec_string ("problem", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[RESULT_READY] = g_signal_new ("result-ready", G_TYPE_FROM_CLASS (klass),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                        ASSAY_TYPE_JOB_ROW);
  signals[JOB_FAILED] = g_signal_new ("job-failed", G_TYPE_FROM_CLASS (klass),
                                      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                      ASSAY_TYPE_JOB_ROW);
}

static void
assay_job_list_init (AssayJobList *self)
{
  self->rows = g_ptr_array_new_with_free_func (g_object_unref);
  self->batch = g_ptr_array_new_with_free_func (g_object_unref);
  self->follows = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) follow_free);
  self->retries = g_hash_table_new_full (NULL, NULL, g_object_unref, g_object_unref);
  self->resubmits = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->cancellable = g_cancellable_new ();
  assay_submit_settings_init (&self->settings);
}

AssayJobList *
assay_job_list_new (void)
{
  return g_object_new (ASSAY_TYPE_JOB_LIST, NULL);
}

/* ------------------------------------------------------------------------------------- */
/* Rows                                                                                  */

static void retry_cb (AssayJobRow *row, AssayJobList *self);

/* Automatic resubmissions of a job that ended in a retryable error (as `assay-cli submit
 * --wait`), before the failure is shown. */
#define MAX_RESUBMITS 2
static void cancel_cb (AssayJobRow *row, AssayJobList *self);

static AssayJobRow *
add_row (AssayJobList *self,
         const char   *path,
         gboolean      in_batch)
{
  AssayJobRow *row = assay_job_row_new (path);

  g_signal_connect_object (row, "retry-requested", G_CALLBACK (retry_cb), self, 0);
  g_signal_connect_object (row, "cancel-requested", G_CALLBACK (cancel_cb), self, 0);
  g_ptr_array_insert (self->rows, 0, row);
  g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, 1);
  if (in_batch)
    g_ptr_array_add (self->batch, g_object_ref (row));
  return row;
}

/* The row a new upload of @path continues: one not yet submitted. */
static AssayJobRow *
find_unsubmitted (AssayJobList *self,
                  const char   *path)
{
  for (guint i = 0; i < self->rows->len; i++)
    {
      AssayJobRow *row = g_ptr_array_index (self->rows, i);
      AssayJobRowStatus status = assay_job_row_get_status (row);

      if (g_str_equal (assay_job_row_get_path (row), path) &&
          (status == ASSAY_JOB_ROW_QUEUED || status == ASSAY_JOB_ROW_UPLOADING ||
           status == ASSAY_JOB_ROW_PAUSED))
        return row;
    }
  return NULL;
}

AssayJobRow *
assay_job_list_lookup (AssayJobList *self,
                       const char   *job_id)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), NULL);
  g_return_val_if_fail (job_id != NULL, NULL);

  for (guint i = 0; i < self->rows->len; i++)
    {
      AssayJobRow *row = g_ptr_array_index (self->rows, i);

      if (g_strcmp0 (assay_job_row_get_job_id (row), job_id) == 0)
        return row;
    }
  return NULL;
}

static void
remove_row (AssayJobList *self,
            AssayJobRow  *row)
{
  guint position;

  if (!g_ptr_array_find (self->rows, row, &position))
    return;
  g_ptr_array_remove_index (self->rows, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
}

/* ------------------------------------------------------------------------------------- */
/* Following a job in the store                                                          */

static AssayJobRowStatus
row_status_for (AssayJobStatus status)
{
  switch (status)
    {
    case ASSAY_JOB_STATUS_UPLOADING:
      return ASSAY_JOB_ROW_UPLOADING;
    case ASSAY_JOB_STATUS_UPLOADED:
      return ASSAY_JOB_ROW_UPLOADED;
    case ASSAY_JOB_STATUS_PROCESSING:
      return ASSAY_JOB_ROW_PROCESSING;
    case ASSAY_JOB_STATUS_PROCESSED:
      return ASSAY_JOB_ROW_PROCESSED;
    case ASSAY_JOB_STATUS_ERROR:
    default:
      return ASSAY_JOB_ROW_FAILED;
    }
}

static void follow_poll (Follow *follow);

static gboolean
follow_timeout_cb (gpointer data)
{
  Follow *follow = data;

  follow->timeout_id = 0;
  follow_poll (follow);
  return G_SOURCE_REMOVE;
}

static void
follow_done (Follow *follow)
{
  AssayJobList *self = follow->list;

  g_hash_table_remove (self->follows, follow->row);
  update_summary (self);
}

static void
fetched_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Follow *follow = data;
  g_autoptr(GError) error = NULL;
  GBytes *plaintext = assay_outcome_fetch_finish (ASSAY_STORE (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (plaintext == NULL)
    {
      /* TRANSLATORS: the result of a processed job could not be read */
      g_autofree char *message = g_strdup_printf (_("The result cannot be read: %s"),
                                                  error->message);

      assay_job_row_set_error (follow->row, "RESULT_UNREADABLE", message);
      assay_job_row_set_status (follow->row, ASSAY_JOB_ROW_FAILED);
      if (follow->announce)
        g_signal_emit (follow->list, signals[JOB_FAILED], 0, follow->row);
    }
  else
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      const char *processed = NULL;

      /* the time of processing is the result's */
      if (json_parser_load_from_data (parser, g_bytes_get_data (plaintext, NULL),
                                      g_bytes_get_size (plaintext), NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        processed = json_object_get_string_member_with_default (
          json_node_get_object (json_parser_get_root (parser)), "processed", NULL);
      assay_job_row_set_timeline (follow->row, assay_job_get_created (follow->job),
                                  assay_job_get_assigned (follow->job),
                                  assay_job_get_uploaded (follow->job),
                                  assay_job_get_downloaded (follow->job), processed);
      assay_job_row_set_result (follow->row, plaintext);
      g_clear_pointer (&plaintext, assay_wipe_bytes_free);
      if (follow->announce)
        g_signal_emit (follow->list, signals[RESULT_READY], 0, follow->row);
    }
  follow_done (follow);
}

static void
got_job_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Follow *follow = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = assay_outcome_get_job_finish (ASSAY_STORE (source), result, &error);
  AssayJobStatus status;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (job == NULL)
    {
      if (g_error_matches (error, ASSAY_OUTCOME_ERROR, ASSAY_OUTCOME_ERROR_NO_JOB) &&
          !follow->announce)
        {
          /* a job of the journal that this store does not hold: not ours to show */
          AssayJobRow *row = g_object_ref (follow->row);

          remove_row (follow->list, row);
          g_object_unref (row);
          follow_done (follow);
          return;
        }
      /* the store is unreachable for now: try again later, without end */
      g_debug ("job %s: %s", follow->job_id, error->message);
      follow->delay_ms = MIN (FOLLOW_MAX_MS * 2, follow->delay_ms * 2);
      follow->timeout_id = g_timeout_add (follow->delay_ms, follow_timeout_cb, follow);
      return;
    }

  status = assay_job_get_status (job);
  g_set_object (&follow->job, job);
  assay_job_row_set_timeline (follow->row, assay_job_get_created (job),
                              assay_job_get_assigned (job), assay_job_get_uploaded (job),
                              assay_job_get_downloaded (job), NULL);
  /* while the submitter uploads, the row follows the submitter */
  if (status != ASSAY_JOB_STATUS_UPLOADING ||
      assay_job_row_get_status (follow->row) != ASSAY_JOB_ROW_UPLOADING)
    {
      if (status == ASSAY_JOB_STATUS_ERROR)
        assay_job_row_set_error (follow->row, assay_job_get_error_code (job),
                                 assay_job_get_error_message (job));
      assay_job_row_set_status (follow->row, row_status_for (status));
    }

  /* a job that ends now: its result, decrypted, and announced; one of the history: its
   * result is fetched when it is shown (assay_job_list_fetch_result_async), so that the
   * app holds no plaintext it was not asked for */
  if (status == ASSAY_JOB_STATUS_PROCESSED && follow->announce)
    {
      assay_outcome_fetch_async (follow->list->store, follow->list->key, job,
                                 follow->cancellable, fetched_cb, follow);
      return;
    }
  if (status == ASSAY_JOB_STATUS_PROCESSED)
    {
      follow_done (follow);
      return;
    }
  if (status == ASSAY_JOB_STATUS_ERROR)
    {
      AssayJobList *list = follow->list;
      g_autoptr(AssayJobRow) row = g_object_ref (follow->row);
      guint resubmits = GPOINTER_TO_UINT (g_hash_table_lookup (list->resubmits, row));

      /* a job lost on the way (its chunks gone, the upload stalled, too many attempts)
       * goes again as a new job by itself, a few times; a verdict (INFECTED, INVALID…)
       * is shown, not retried */
      if (follow->announce && assay_job_is_retryable (job) && resubmits < MAX_RESUBMITS &&
          g_file_test (assay_job_row_get_path (row), G_FILE_TEST_IS_REGULAR))
        {
          g_debug ("job %s ended %s: submitting %s again (%u of %u)", follow->job_id,
                   assay_job_get_error_code (job), assay_job_row_get_path (row), resubmits + 1,
                   MAX_RESUBMITS);
          g_hash_table_replace (list->resubmits, g_object_ref (row),
                                GUINT_TO_POINTER (resubmits + 1));
          follow_done (follow);
          retry_cb (row, list);
          return;
        }
      if (follow->announce)
        g_signal_emit (list, signals[JOB_FAILED], 0, row);
      follow_done (follow);
      return;
    }

  if (status != follow->last_status)
    follow->delay_ms = FOLLOW_MIN_MS;
  else
    follow->delay_ms = MIN (FOLLOW_MAX_MS, follow->delay_ms * 3 / 2);
  follow->last_status = status;
  follow->timeout_id = g_timeout_add (follow->delay_ms, follow_timeout_cb, follow);
}

static void
follow_poll (Follow *follow)
{
  assay_outcome_get_job_async (follow->list->store, follow->job_id, follow->cancellable,
                               got_job_cb, follow);
}

/* Follows @job_id until it is final; @announce: signal its end. */
static void
follow_start (AssayJobList *self,
              AssayJobRow  *row,
              const char   *job_id,
              gboolean      announce)
{
  Follow *follow = g_new0 (Follow, 1);

  follow->list = self;
  follow->row = g_object_ref (row);
  follow->job_id = g_strdup (job_id);
  follow->cancellable = g_cancellable_new ();
  follow->delay_ms = FOLLOW_MIN_MS;
  follow->announce = announce;
  follow->last_status = ASSAY_JOB_STATUS_UPLOADING;
  g_hash_table_replace (self->follows, row, follow);
  follow_poll (follow);
}

/* ------------------------------------------------------------------------------------- */
/* Uploads                                                                               */

/* The part of the upload done: the bytes uploaded of the compressed size expected from
 * the ratio so far (the reading runs a few chunks ahead of the upload). */
static double
upload_fraction (AssaySubmitter *submitter)
{
  guint64 size = assay_submitter_get_size (submitter);
  guint64 read = assay_submitter_get_bytes_read (submitter);
  guint64 compressed = assay_submitter_get_bytes_compressed (submitter);
  guint64 uploaded = assay_submitter_get_bytes_uploaded (submitter);
  double expected;

  if (assay_submitter_get_stage (submitter) == ASSAY_SUBMIT_STAGE_FINISHING ||
      assay_submitter_get_stage (submitter) == ASSAY_SUBMIT_STAGE_DONE)
    return 1.0;
  if (read == 0 || compressed == 0 || size == 0)
    return 0.0;
  expected = (double) size * compressed / read;
  return expected > 0 ? MIN (1.0, uploaded / expected) : 0.0;
}

static void
submitter_changed_cb (AssaySubmitter *submitter,
                      GParamSpec     *pspec,
                      AssayJobRow    *row)
{
  AssaySubmitStage stage = assay_submitter_get_stage (submitter);

  if (assay_submitter_get_size (submitter) > 0)
    assay_job_row_set_size (row, assay_submitter_get_size (submitter));
  if (assay_submitter_get_job_id (submitter) != NULL)
    assay_job_row_set_job_id (row, assay_submitter_get_job_id (submitter));
  assay_job_row_set_transfer (row, upload_fraction (submitter),
                              assay_submitter_get_rate (submitter),
                              assay_submitter_get_eta (submitter));
  switch (stage)
    {
    case ASSAY_SUBMIT_STAGE_PENDING:
    case ASSAY_SUBMIT_STAGE_CREATING:
    case ASSAY_SUBMIT_STAGE_UPLOADING:
    case ASSAY_SUBMIT_STAGE_FINISHING:
      assay_job_row_set_status (row, ASSAY_JOB_ROW_UPLOADING);
      break;
    case ASSAY_SUBMIT_STAGE_PAUSED:
      assay_job_row_set_status (row, ASSAY_JOB_ROW_PAUSED);
      break;
    case ASSAY_SUBMIT_STAGE_DONE:
    case ASSAY_SUBMIT_STAGE_FAILED:
    case ASSAY_SUBMIT_STAGE_CANCELLED:
    default:
      break;  /* ::submitted and ::failed say */
    }
}

static void
watch_submitter (AssayJobList   *self,
                 AssaySubmitter *submitter,
                 AssayJobRow    *row)
{
  const char *names[] = { "notify::stage", "notify::bytes-read", "notify::job-id",
                          "notify::size", "notify::rate" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_signal_connect_object (submitter, names[i], G_CALLBACK (submitter_changed_cb), row, 0);
  g_signal_connect_object (submitter, "notify::bytes-read", G_CALLBACK (row_progress_cb), self,
                           G_CONNECT_SWAPPED);
  submitter_changed_cb (submitter, NULL, row);
  update_summary (self);
}

static void
submitter_started_cb (AssayWatcher   *watcher,
                      AssaySubmitter *submitter,
                      AssayJobList   *self)
{
  g_autofree char *path = g_file_get_path (assay_submitter_get_file (submitter));
  AssayJobRow *row = find_unsubmitted (self, path);

  if (row == NULL)
    row = add_row (self, path, TRUE);
  else if (!g_ptr_array_find (self->batch, row, NULL))
    g_ptr_array_add (self->batch, g_object_ref (row));
  assay_job_row_set_error (row, NULL, NULL);
  watch_submitter (self, submitter, row);
}

static void
submitted (AssayJobList *self,
           AssayJobRow  *row,
           const char   *job)
{
  assay_job_row_set_job_id (row, job);
  assay_job_row_set_status (row, ASSAY_JOB_ROW_UPLOADED);
  follow_start (self, row, job, TRUE);
  update_summary (self);
}

static void
upload_failed (AssayJobList *self,
               AssayJobRow  *row,
               const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      assay_job_row_set_error (row, "CANCELLED", _("The upload was cancelled."));
      assay_job_row_set_status (row, ASSAY_JOB_ROW_CANCELLED);
    }
  else
    {
      assay_job_row_set_error (row, NULL, error->message);
      assay_job_row_set_status (row, ASSAY_JOB_ROW_FAILED);
      g_signal_emit (self, signals[JOB_FAILED], 0, row);
    }
  update_summary (self);
}

static AssayJobRow *
row_for_path (AssayJobList *self,
              const char   *path)
{
  AssayJobRow *row = find_unsubmitted (self, path);

  return row ? row : add_row (self, path, TRUE);
}

static void
watcher_submitted_cb (AssayWatcher *watcher,
                      const char   *path,
                      const char   *job,
                      AssayJobList *self)
{
  AssayJobRow *row = assay_job_list_lookup (self, job);

  submitted (self, row ? row : row_for_path (self, path), job);
}

static void
watcher_failed_cb (AssayWatcher *watcher,
                   const char   *path,
                   GError       *error,
                   AssayJobList *self)
{
  upload_failed (self, row_for_path (self, path), error);
}

typedef struct
{
  AssayJobList *self;
  AssayJobRow *row;
} Retry;

static void
retry_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Retry *retry = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *job = assay_submitter_run_finish (ASSAY_SUBMITTER (source), result, &error);
  g_autoptr(AssayJobList) self = retry->self;
  g_autoptr(AssayJobRow) row = retry->row;

  g_free (retry);
  if (self->retries != NULL)
    g_hash_table_remove (self->retries, row);
  if (job != NULL)
    submitted (self, row, job);
  else if (g_error_matches (error, ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_PAUSED))
    assay_job_row_set_status (row, ASSAY_JOB_ROW_PAUSED);
  else if (self->cancellable != NULL && !g_cancellable_is_cancelled (self->cancellable))
    upload_failed (self, row, error);
}

/* Retry: the same file as a new job (PROTOCOL.md: a client may resubmit a failed job). */
static void
retry_cb (AssayJobRow  *row,
          AssayJobList *self)
{
  g_autoptr(GFile) file = g_file_new_for_path (assay_job_row_get_path (row));
  g_autoptr(AssaySubmitter) submitter = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Retry *retry;
  AssayJobRowStatus status = assay_job_row_get_status (row);

  if (!self->started ||
      (status != ASSAY_JOB_ROW_FAILED && status != ASSAY_JOB_ROW_CANCELLED &&
       status != ASSAY_JOB_ROW_PAUSED))
    return;
  g_hash_table_remove (self->follows, row);
  submitter = assay_submitter_new (self->store, self->key, self->journal, file, &self->settings);
  assay_job_row_set_error (row, NULL, NULL);
  assay_job_row_set_job_id (row, NULL);
  assay_job_row_set_timeline (row, NULL, NULL, NULL, NULL, NULL);
  assay_job_row_set_result (row, NULL);
  assay_job_row_set_transfer (row, 0, 0, -1);
  assay_job_row_set_status (row, ASSAY_JOB_ROW_QUEUED);
  if (!g_ptr_array_find (self->batch, row, NULL))
    g_ptr_array_add (self->batch, g_object_ref (row));
  watch_submitter (self, submitter, row);
  retry = g_new0 (Retry, 1);
  retry->self = g_object_ref (self);
  retry->row = g_object_ref (row);
  g_hash_table_replace (self->retries, g_object_ref (row), g_object_ref (cancellable));
  assay_submitter_run_async (submitter, cancellable, retry_done_cb, retry);
}

static void
cancel_cb (AssayJobRow  *row,
           AssayJobList *self)
{
  GCancellable *cancellable = g_hash_table_lookup (self->retries, row);

  if (cancellable != NULL)
    g_cancellable_cancel (cancellable);
  else if (self->watcher != NULL)
    assay_watcher_cancel (self->watcher, assay_job_row_get_path (row));
}

/* ------------------------------------------------------------------------------------- */
/* State for the tray                                                                    */

static void
update_summary (AssayJobList *self)
{
  guint done = 0;
  guint64 bytes_done = 0, bytes_total = 0;
  gboolean busy = FALSE;

  for (guint i = 0; i < self->batch->len; i++)
    {
      AssayJobRow *row = g_ptr_array_index (self->batch, i);
      AssayJobRowStatus status = assay_job_row_get_status (row);
      gboolean final = status == ASSAY_JOB_ROW_FAILED || status == ASSAY_JOB_ROW_CANCELLED ||
                       (status == ASSAY_JOB_ROW_PROCESSED && !g_hash_table_contains (self->follows, row));

      done += final;
      busy |= !final;
      bytes_total += assay_job_row_get_size (row);
      bytes_done += (guint64) (assay_job_row_get_progress (row) * assay_job_row_get_size (row));
    }
  self->batch_total = self->batch->len;
  self->batch_done = done;
  self->batch_bytes_done = bytes_done;
  self->batch_bytes_total = bytes_total;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUMMARY]);
  /* a batch ends when nothing is left to do; the next file starts a new one */
  if (!busy && self->batch->len > 0 && self->watcher != NULL &&
      assay_watcher_is_idle (self->watcher) && g_hash_table_size (self->retries) == 0)
    {
      gboolean failed = FALSE;

      for (guint i = 0; i < self->batch->len; i++)
        failed |= assay_job_row_get_status (g_ptr_array_index (self->batch, i)) ==
                  ASSAY_JOB_ROW_FAILED;
      if (!failed)
        g_ptr_array_set_size (self->batch, 0);
    }
}

static void
row_progress_cb (AssayJobList *self)
{
  update_summary (self);
}

AssayJobListState
assay_job_list_get_state (AssayJobList *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), ASSAY_JOB_LIST_IDLE);

  if (self->problem != NULL)
    return ASSAY_JOB_LIST_ERROR;
  if (self->paused)
    return ASSAY_JOB_LIST_PAUSED;
  for (guint i = 0; i < self->batch->len; i++)
    if (assay_job_row_get_status (g_ptr_array_index (self->batch, i)) == ASSAY_JOB_ROW_FAILED)
      return ASSAY_JOB_LIST_ERROR;
  if (self->batch_done < self->batch_total)
    return ASSAY_JOB_LIST_WORKING;
  return ASSAY_JOB_LIST_IDLE;
}

/* "3 of 7 files, 120 MB of 300 MB" while working; the state's words otherwise. */
char *
assay_job_list_dup_summary (AssayJobList *self)
{
  g_autofree char *done = NULL;
  g_autofree char *total = NULL;

  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), NULL);

  switch (assay_job_list_get_state (self))
    {
    case ASSAY_JOB_LIST_ERROR:
      if (self->problem != NULL)
        return g_strdup (self->problem);
      return g_strdup (_("A file could not be analysed"));
    case ASSAY_JOB_LIST_PAUSED:
      return g_strdup (_("Paused"));
    case ASSAY_JOB_LIST_WORKING:
      done = g_format_size (self->batch_bytes_done);
      total = g_format_size (self->batch_bytes_total);
      /* TRANSLATORS: "3 of 7 files, 120 MB of 300 MB" */
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u of %u file, %s of %s",
                                           "%u of %u files, %s of %s", self->batch_total),
                              self->batch_done, self->batch_total, done, total);
    case ASSAY_JOB_LIST_IDLE:
    default:
      return g_strdup (_("Watching for new files"));
    }
}

void
assay_job_list_set_problem (AssayJobList *self,
                            const char   *message)
{
  g_return_if_fail (ASSAY_IS_JOB_LIST (self));

  if (g_strcmp0 (self->problem, message) == 0)
    return;
  g_free (self->problem);
  self->problem = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROBLEM]);
  update_summary (self);
}

const char *
assay_job_list_get_problem (AssayJobList *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), NULL);
  return self->problem;
}

/* ------------------------------------------------------------------------------------- */
/* Starting, pausing, stopping                                                           */

/* The jobs of the journal for files in the folder: the HISTORY_MAX newest (by the file's
 * modification time), each processed one's result fetched and decrypted, added oldest
 * first so that the newest is on top. */
#define HISTORY_MAX 200

static int
compare_mtime (gconstpointer a,
               gconstpointer b)
{
  const AssayJournalEntry *x = *(const AssayJournalEntry * const *) a;
  const AssayJournalEntry *y = *(const AssayJournalEntry * const *) b;

  return (x->mtime_us > y->mtime_us) - (x->mtime_us < y->mtime_us);
}

static void
load_history (AssayJobList *self)
{
  g_autoptr(GPtrArray) entries = assay_journal_list (self->journal);
  g_autoptr(GPtrArray) mine = g_ptr_array_new ();
  g_autofree char *folder = g_file_get_path (self->folder);
  g_autofree char *prefix = g_strconcat (folder, G_DIR_SEPARATOR_S, NULL);

  for (guint i = 0; entries != NULL && i < entries->len; i++)
    {
      AssayJournalEntry *entry = g_ptr_array_index (entries, i);

      if (entry->path != NULL && g_str_has_prefix (entry->path, prefix) && entry->job != NULL)
        g_ptr_array_add (mine, entry);
    }
  g_ptr_array_sort (mine, compare_mtime);
  for (guint i = mine->len > HISTORY_MAX ? mine->len - HISTORY_MAX : 0; i < mine->len; i++)
    {
      AssayJournalEntry *entry = g_ptr_array_index (mine, i);
      AssayJobRow *row;

      row = add_row (self, entry->path, FALSE);
      assay_job_row_set_size (row, entry->size);
      assay_job_row_set_job_id (row, entry->job);
      if (entry->state == ASSAY_JOURNAL_UPLOADING)
        assay_job_row_set_status (row, ASSAY_JOB_ROW_PAUSED);
      else if (entry->state == ASSAY_JOURNAL_CANCELLED)
        {
          assay_job_row_set_error (row, "CANCELLED", _("The upload was cancelled."));
          assay_job_row_set_status (row, ASSAY_JOB_ROW_CANCELLED);
        }
      else
        {
          assay_job_row_set_status (row, ASSAY_JOB_ROW_UPLOADED);
          follow_start (self, row, entry->job, FALSE);
        }
    }
}

/* A folder chosen through the document portal is a FUSE mount that raises no inotify
 * event for changes made outside the sandbox: the watcher rescans it. */
static gboolean
needs_rescan (GFile *folder)
{
  g_autofree char *portal = g_strdup_printf ("/run/user/%u/doc/", (guint) getuid ());
  const char *path = g_file_peek_path (folder);

  return g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS) ||
         (path != NULL && g_str_has_prefix (path, portal));
}

static gboolean
start_watcher (AssayJobList  *self,
               GError       **error)
{
  g_autoptr(AssayWatcher) watcher = assay_watcher_new (self->store, self->key, self->journal,
                                                       self->folder, &self->settings);
  const char *settle = g_getenv ("ASSAY_SETTLE_MS");

  if (settle != NULL)
    assay_watcher_set_settle_time (watcher, (guint) g_ascii_strtoull (settle, NULL, 10));
  if (needs_rescan (self->folder))
    assay_watcher_set_rescan_interval (watcher, RESCAN_MS);
  g_signal_connect_object (watcher, "submitter-started", G_CALLBACK (submitter_started_cb),
                           self, 0);
  g_signal_connect_object (watcher, "submitted", G_CALLBACK (watcher_submitted_cb), self, 0);
  g_signal_connect_object (watcher, "failed", G_CALLBACK (watcher_failed_cb), self, 0);
  if (!assay_watcher_start (watcher, error))
    return FALSE;
  self->watcher = g_steal_pointer (&watcher);
  return TRUE;
}

/**
 * assay_job_list_start:
 * @paused: start without uploading (the tray's Pause, kept across restarts)
 *
 * Lists the journal's jobs for @folder and, unless paused, starts watching it.
 */
gboolean
assay_job_list_start (AssayJobList              *self,
                      AssayStore                *store,
                      AssayKey                  *key,
                      GFile                     *folder,
                      const AssaySubmitSettings *settings,
                      gboolean                   paused,
                      GError                   **error)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), FALSE);
  g_return_val_if_fail (ASSAY_IS_STORE (store), FALSE);
  g_return_val_if_fail (ASSAY_IS_KEY (key), FALSE);
  g_return_val_if_fail (G_IS_FILE (folder), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  if (g_file_query_file_type (folder, G_FILE_QUERY_INFO_NONE, NULL) != G_FILE_TYPE_DIRECTORY)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   _("The watched folder %s does not exist. Create it, or choose another "
                     "one in Preferences."), g_file_peek_path (folder));
      return FALSE;
    }
  g_set_object (&self->store, store);
  g_set_object (&self->key, key);
  g_set_object (&self->folder, folder);
  if (settings != NULL)
    self->settings = *settings;
  if (self->journal == NULL)
    self->journal = assay_journal_new_default ();
  self->paused = paused;
  self->started = TRUE;
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  if (self->rows->len > 0)
    {
      guint removed = self->rows->len;

      /* started again (the settings changed): the journal says it all again */
      g_ptr_array_set_size (self->rows, 0);
      g_ptr_array_set_size (self->batch, 0);
      g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, 0);
    }
  load_history (self);
  if (!paused && !start_watcher (self, error))
    {
      assay_job_list_stop (self);
      return FALSE;
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAUSED]);
  update_summary (self);
  return TRUE;
}

gboolean
assay_job_list_is_started (AssayJobList *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), FALSE);
  return self->started;
}

GFile *
assay_job_list_get_folder (AssayJobList *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), NULL);
  return self->folder;
}

/* Whether no upload is in progress (after stop or pause: whether they all let go). */
gboolean
assay_job_list_is_idle (AssayJobList *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), TRUE);

  return (self->watcher == NULL || assay_watcher_is_idle (self->watcher)) &&
         (self->retries == NULL || g_hash_table_size (self->retries) == 0);
}

static void
pause_uploads (AssayJobList *self)
{
  GHashTableIter iter;
  gpointer row;

  if (self->watcher != NULL)
    assay_watcher_stop (self->watcher);
  /* a retry's submitter pauses through the watcher's way: its journal keeps it */
  g_hash_table_iter_init (&iter, self->retries);
  while (g_hash_table_iter_next (&iter, &row, NULL))
    if (assay_job_row_get_status (row) == ASSAY_JOB_ROW_UPLOADING ||
        assay_job_row_get_status (row) == ASSAY_JOB_ROW_QUEUED)
      g_cancellable_cancel (g_hash_table_lookup (self->retries, row));
}

/* Resuming waits for the paused upload to let go, then watches with a new watcher, which
 * continues that upload from its journal. */
static gboolean
restart_cb (gpointer data)
{
  AssayJobList *self = data;
  g_autoptr(GError) error = NULL;

  if (self->watcher != NULL && !assay_watcher_is_idle (self->watcher))
    return G_SOURCE_CONTINUE;
  self->restart_id = 0;
  g_clear_object (&self->watcher);
  if (!self->paused && self->started && !start_watcher (self, &error))
    assay_job_list_set_problem (self, error->message);
  return G_SOURCE_REMOVE;
}

void
assay_job_list_set_paused (AssayJobList *self,
                           gboolean      paused)
{
  g_return_if_fail (ASSAY_IS_JOB_LIST (self));

  paused = !!paused;
  if (self->paused == paused)
    return;
  self->paused = paused;
  if (self->started)
    {
      if (paused)
        pause_uploads (self);
      else if (self->restart_id == 0)
        self->restart_id = g_timeout_add (100, restart_cb, self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAUSED]);
  update_summary (self);
}

gboolean
assay_job_list_get_paused (AssayJobList *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_LIST (self), FALSE);
  return self->paused;
}

/* Stops watching and following; the upload in progress pauses (the next start continues
 * it). The rows stay. */
void
assay_job_list_stop (AssayJobList *self)
{
  g_return_if_fail (ASSAY_IS_JOB_LIST (self));

  g_clear_handle_id (&self->restart_id, g_source_remove);
  if (self->watcher != NULL)
    {
      assay_watcher_stop (self->watcher);
      while (!assay_watcher_is_idle (self->watcher))
        g_main_context_iteration (NULL, TRUE);
      g_clear_object (&self->watcher);
    }
  if (self->retries != NULL)
    {
      GHashTableIter iter;
      gpointer cancellable;

      g_hash_table_iter_init (&iter, self->retries);
      while (g_hash_table_iter_next (&iter, NULL, &cancellable))
        g_cancellable_cancel (cancellable);
    }
  if (self->follows != NULL)
    g_hash_table_remove_all (self->follows);
  g_cancellable_cancel (self->cancellable);
  self->started = FALSE;
  g_clear_object (&self->journal);
  g_clear_object (&self->store);
  g_clear_object (&self->key);
  g_clear_object (&self->folder);
}

/* ------------------------------------------------------------------------------------- */

/* The rows as JSON, for the hidden --test-report: never the result's content. */
/* ------------------------------------------------------------------------------------- */
/* A result fetched when it is shown                                                     */

static void
result_fetched_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayJobRow *row = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GBytes *plaintext = assay_outcome_fetch_finish (ASSAY_STORE (source), result, &error);

  if (plaintext == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  assay_job_row_set_result (row, plaintext);
  assay_wipe_bytes_free (plaintext);
  g_task_return_boolean (task, TRUE);
}

static void
result_job_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayJobList *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = assay_outcome_get_job_finish (ASSAY_STORE (source), result, &error);

  if (job == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (self->store == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the list stopped");
      return;
    }
  assay_outcome_fetch_async (self->store, self->key, job, g_task_get_cancellable (task),
                             result_fetched_cb, g_object_ref (task));
}

/**
 * assay_job_list_fetch_result_async:
 * @row: a processed job of the list
 *
 * Fetches and decrypts @row's result, and gives it to @row (for a job of the history,
 * whose result is not fetched until it is shown).
 */
void
assay_job_list_fetch_result_async (AssayJobList        *self,
                                   AssayJobRow         *row,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (ASSAY_IS_JOB_LIST (self));
  g_return_if_fail (ASSAY_IS_JOB_ROW (row));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_job_list_fetch_result_async);
  g_task_set_task_data (task, g_object_ref (row), g_object_unref);
  if (assay_job_row_get_result (row) != NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->store == NULL || assay_job_row_get_job_id (row) == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                               _("The jobs are not loaded yet."));
      return;
    }
  assay_outcome_get_job_async (self->store, assay_job_row_get_job_id (row), cancellable,
                               result_job_cb, g_object_ref (task));
}

gboolean
assay_job_list_fetch_result_finish (AssayJobList  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

JsonNode *
assay_job_list_to_json (AssayJobList *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GEnumClass) status_class = g_type_class_ref (ASSAY_TYPE_JOB_ROW_STATUS);
  g_autoptr(GEnumClass) verdict_class = g_type_class_ref (ASSAY_TYPE_JOB_ROW_VERDICT);
  g_autoptr(GEnumClass) state_class = g_type_class_ref (ASSAY_TYPE_JOB_LIST_STATE);
  g_autofree char *summary = assay_job_list_dup_summary (self);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder,
                                 g_enum_get_value (state_class,
                                                   assay_job_list_get_state (self))->value_nick);
  json_builder_set_member_name (builder, "summary");
  json_builder_add_string_value (builder, summary);
  json_builder_set_member_name (builder, "paused");
  json_builder_add_boolean_value (builder, self->paused);
  json_builder_set_member_name (builder, "jobs");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->rows->len; i++)
    {
      AssayJobRow *row = g_ptr_array_index (self->rows, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "file");
      json_builder_add_string_value (builder, assay_job_row_get_file_name (row));
      json_builder_set_member_name (builder, "job");
      json_builder_add_string_value (builder, assay_job_row_get_job_id (row));
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, assay_job_row_get_size (row));
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder,
                                     g_enum_get_value (status_class,
                                                       assay_job_row_get_status (row))->value_nick);
      json_builder_set_member_name (builder, "progress");
      json_builder_add_double_value (builder, assay_job_row_get_progress (row));
      json_builder_set_member_name (builder, "verdict");
      json_builder_add_string_value (builder,
                                     g_enum_get_value (verdict_class,
                                                       assay_job_row_get_verdict (row))->value_nick);
      json_builder_set_member_name (builder, "error_code");
      json_builder_add_string_value (builder, assay_job_row_get_error_code (row));
      json_builder_set_member_name (builder, "has_result");
      json_builder_add_boolean_value (builder, assay_job_row_get_result (row) != NULL);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
