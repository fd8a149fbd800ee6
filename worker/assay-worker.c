/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-worker.h"
#include "assay-id.h"
#include "assay-item.h"
#include "assay-time.h"
#include "assay-util.h"
#include "assay-worker-job.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Items per page of a queue query, and pages per poll: enough to look past the jobs of
 * other versions that wait at the head of the queue. */
#define QUERY_LIMIT 50
#define QUERY_PAGES 10
/* How long a job left to other processors is not looked at again. */
#define SKIP_MEMORY_US (10 * 60 * G_USEC_PER_SEC)
/* How long a job that could not be claimed for an error is not tried again. */
#define SKIP_ERROR_US (60 * G_USEC_PER_SEC)
#define SKIP_MAX       10000
#define LOCK_FILE      "lock"

struct _AssayWorker
{
  GObject parent_instance;

  AssayStore *store;
  AssayWorkerSettings settings;
  GPtrArray *stages;
  char *processor;
  guint decoder_threads;

  /* the run */
  GTask *task;
  GCancellable *cancellable;      /* queries; cancelled when the run stops */
  GCancellable *caller;
  gulong caller_id;
  char *root;
  char *dir;
  int lock_fd;
  GHashTable *active;             /* job id → AssayWorkerJob */
  GHashTable *skipped;            /* job id → monotonic µs until it is looked at again */
  guint heartbeat_source;
  guint poll_source;
  gboolean polling;
  gboolean poll_soon;
  guint idle_delay_ms;
  gint64 idle_since_us;
  gboolean stopping;
  guint grace_source;

  /* the poll in progress */
  guint poll_queue;               /* 0: open, 1: leased and due */
  guint poll_pages;
  gboolean poll_found;
  JsonObject *poll_start_key;
  JsonNode *poll_hash;
  JsonNode *poll_range;
};

G_DEFINE_FINAL_TYPE (AssayWorker, assay_worker, G_TYPE_OBJECT)

enum
{
  SIGNAL_EVENT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void poll_now (AssayWorker *self);
static void maybe_finish (AssayWorker *self);

void
assay_worker_settings_init (AssayWorkerSettings *settings)
{
  *settings = (AssayWorkerSettings) {
    .concurrency = 0,
    .accept = NULL,
    .lease_ms = ASSAY_WORKER_LEASE_DEFAULT_MS,
    .max_attempts = ASSAY_WORKER_MAX_ATTEMPTS_DEFAULT,
    .max_file_size = ASSAY_WORKER_MAX_FILE_SIZE_DEFAULT,
    .max_chunks = ASSAY_WORKER_MAX_CHUNKS_DEFAULT,
    .stall_timeout_ms = ASSAY_WORKER_STALL_TIMEOUT_DEFAULT_MS,
    .work_dir = NULL,
    .poll_min_ms = ASSAY_WORKER_POLL_MIN_DEFAULT_MS,
    .poll_max_ms = ASSAY_WORKER_POLL_MAX_DEFAULT_MS,
    .exit_when_idle_ms = 0,
    .stage_retry_ms = 1000,
  };
}

void
assay_worker_settings_clear (AssayWorkerSettings *settings)
{
  g_clear_pointer (&settings->accept, assay_version_range_unref);
  g_clear_pointer (&settings->work_dir, g_free);
  g_clear_object (&settings->lifecycle);
}

/* Returns: (transfer full): $XDG_CACHE_HOME/assay-worker */
char *
assay_worker_default_work_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "assay-worker", NULL);
}

static void
assay_worker_dispose (GObject *object)
{
  AssayWorker *self = ASSAY_WORKER (object);

  /* a run holds a reference: none is in progress */
  g_assert (self->task == NULL);
  g_clear_handle_id (&self->heartbeat_source, g_source_remove);
  g_clear_handle_id (&self->poll_source, g_source_remove);
  g_clear_handle_id (&self->grace_source, g_source_remove);

  G_OBJECT_CLASS (assay_worker_parent_class)->dispose (object);
}

static void
assay_worker_finalize (GObject *object)
{
  AssayWorker *self = ASSAY_WORKER (object);

  g_clear_object (&self->store);
  assay_worker_settings_clear (&self->settings);
  g_ptr_array_unref (self->stages);
  g_free (self->processor);
  g_clear_object (&self->cancellable);
  g_free (self->root);
  g_free (self->dir);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_hash_table_unref (self->active);
  g_hash_table_unref (self->skipped);
  g_clear_pointer (&self->poll_start_key, json_object_unref);
  g_clear_pointer (&self->poll_hash, json_node_unref);
  g_clear_pointer (&self->poll_range, json_node_unref);

  G_OBJECT_CLASS (assay_worker_parent_class)->finalize (object);
}

static void
assay_worker_class_init (AssayWorkerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = assay_worker_dispose;
  object_class->finalize = assay_worker_finalize;

  /**
   * AssayWorker::event:
   * @line: one log line: time, processor, event, and job and the event's fields where
   *   the event is a job's
   */
  signals[SIGNAL_EVENT] = g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
}

static void
assay_worker_init (AssayWorker *self)
{
  self->stages = g_ptr_array_new_with_free_func (g_object_unref);
  self->lock_fd = -1;
  self->active = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->skipped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * assay_worker_new:
 * @settings: (nullable): copied; %NULL for the defaults
 * Returns: (transfer full): a worker for @store, with a new processor id
 */
AssayWorker *
assay_worker_new (AssayStore                *store,
                  const AssayWorkerSettings *settings)
{
  AssayWorker *self;
  guint cpus = MAX (g_get_num_processors (), 1);

  g_return_val_if_fail (ASSAY_IS_STORE (store), NULL);

  self = g_object_new (ASSAY_TYPE_WORKER, NULL);
  self->store = g_object_ref (store);
  if (settings != NULL)
    {
      self->settings = *settings;
      self->settings.accept = settings->accept ? assay_version_range_ref (settings->accept) : NULL;
      self->settings.work_dir = g_strdup (settings->work_dir);
      self->settings.lifecycle = settings->lifecycle ? g_object_ref (settings->lifecycle) : NULL;
    }
  else
    assay_worker_settings_init (&self->settings);
  if (self->settings.accept == NULL)
    self->settings.accept = assay_version_range_new_for_major (PACKAGE_VERSION);
  if (self->settings.work_dir == NULL)
    self->settings.work_dir = assay_worker_default_work_dir ();
  if (self->settings.concurrency == 0)
    self->settings.concurrency = cpus;
  self->settings.poll_min_ms = MAX (self->settings.poll_min_ms, 1);
  self->settings.poll_max_ms = MAX (self->settings.poll_max_ms, self->settings.poll_min_ms);
  self->decoder_threads = MAX (cpus / self->settings.concurrency, 1);
  self->processor = assay_id_new (ASSAY_ID_PROCESSOR);
  return self;
}

/* Adds @stage to the chain, in the slot its name says; before the run only. */
void
assay_worker_add_stage (AssayWorker *self,
                        AssayStage  *stage)
{
  g_return_if_fail (ASSAY_IS_WORKER (self));
  g_return_if_fail (ASSAY_IS_STAGE (stage));
  g_return_if_fail (assay_stage_is_slot (assay_stage_get_name (stage)));
  g_return_if_fail (self->task == NULL);

  g_ptr_array_add (self->stages, g_object_ref (stage));
}

const char *
assay_worker_get_processor_id (AssayWorker *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER (self), NULL);

  return self->processor;
}

/* Returns: (nullable): the run's private directory, while it runs */
const char *
assay_worker_get_dir (AssayWorker *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER (self), NULL);

  return self->dir;
}

guint
assay_worker_get_active_jobs (AssayWorker *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER (self), 0);

  return g_hash_table_size (self->active);
}

guint
assay_worker_get_concurrency (AssayWorker *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER (self), 0);

  return self->settings.concurrency;
}

AssayVersionRange *
assay_worker_get_accept (AssayWorker *self)
{
  g_return_val_if_fail (ASSAY_IS_WORKER (self), NULL);

  return self->settings.accept;
}

/* ------------------------------------------------------------------------------------- */
/* Events                                                                                */

/* Emits one log line: @event, @job (nullable) and @fields (taken, nullable). */
static void
emit (AssayWorker *self,
      const char  *event,
      const char  *job,
      JsonObject  *fields)
{
  g_autoptr(JsonObject) line = json_object_new ();
  g_autofree char *now = assay_time_now ();

  json_object_set_string_member (line, "time", now);
  json_object_set_string_member (line, "processor", self->processor);
  if (job != NULL)
    json_object_set_string_member (line, "job", job);
  json_object_set_string_member (line, "event", event);
  if (fields != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      json_object_iter_init (&iter, fields);
      while (json_object_iter_next (&iter, &name, &value))
        json_object_set_member (line, name, json_node_copy (value));
      json_object_unref (fields);
    }
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, line);
}

static void
job_event_cb (AssayWorkerJob *job,
              const char     *event,
              JsonObject     *fields,
              gpointer        data)
{
  emit (data, event, assay_worker_job_get_id (job), json_object_ref (fields));
}

/* ------------------------------------------------------------------------------------- */
/* The private directory                                                                 */

/* Returns: %TRUE when the run owning @dir is alive (it holds the lock). */
static gboolean
run_is_alive (const char *dir)
{
  g_autofree char *lock = g_build_filename (dir, LOCK_FILE, NULL);
  int fd = open (lock, O_RDWR | O_CLOEXEC);
  gboolean alive;

  if (fd < 0)
    {
      GStatBuf st;

      /* a run that is just starting has made its directory but not its lock yet */
      return g_stat (dir, &st) == 0 && time (NULL) - st.st_mtime < 60;
    }
  alive = flock (fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
  close (fd);
  return alive;
}

/* Removes what the runs that crashed left under @root. */
static void
remove_stale_runs (AssayWorker *self)
{
  g_autoptr(GDir) dir = g_dir_open (self->root, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->root, name, NULL);

      if (!assay_id_is_valid (ASSAY_ID_PROCESSOR, name) ||
          !g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK) ||
          run_is_alive (path))
        continue;
      g_debug ("removing %s, left by a run that stopped without cleaning up", path);
      _assay_remove_tree (path);
    }
}

static gboolean
make_private_dir (const char  *path,
                  GError     **error)
{
  GStatBuf st;

  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the work directory %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (g_lstat (path, &st) < 0 || !S_ISDIR (st.st_mode) || st.st_uid != getuid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "the work directory %s is not a directory of this user", path);
      return FALSE;
    }
  if ((st.st_mode & 0077) != 0 && g_chmod (path, 0700) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot make the work directory %s private: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
prepare_dir (AssayWorker  *self,
             GError      **error)
{
  g_autofree char *lock = NULL;

  self->root = g_strdup (self->settings.work_dir);
  if (!make_private_dir (self->root, error))
    return FALSE;
  remove_stale_runs (self);

  self->dir = g_build_filename (self->root, self->processor, NULL);
  if (g_mkdir (self->dir, 0700) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                   self->dir, g_strerror (saved));
      return FALSE;
    }
  lock = g_build_filename (self->dir, LOCK_FILE, NULL);
  self->lock_fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->lock_fd < 0 || flock (self->lock_fd, LOCK_EX | LOCK_NB) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot lock %s: %s", lock,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_heartbeat_cb (gpointer data)
{
  AssayWorker *self = data;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *now = assay_time_now ();
  g_autofree char *text = NULL;
  g_autofree char *path = g_build_filename (self->dir, ASSAY_WORKER_HEARTBEAT_FILE, NULL);
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "processor");
  json_builder_add_string_value (builder, self->processor);
  json_builder_set_member_name (builder, "pid");
  json_builder_add_int_value (builder, getpid ());
  json_builder_set_member_name (builder, "time");
  json_builder_add_string_value (builder, now);
  json_builder_set_member_name (builder, "active");
  json_builder_add_int_value (builder, g_hash_table_size (self->active));
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, self->stopping ? "stopping" : "running");
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning ("cannot write the heartbeat file: %s", error->message);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------------------- */
/* Jobs                                                                                  */

/* @id is not looked at again for @for_us. */
static void
skip (AssayWorker *self,
      const char  *id,
      gint64       for_us)
{
  gint64 *until = g_new (gint64, 1);

  if (g_hash_table_size (self->skipped) >= SKIP_MAX)
    g_hash_table_remove_all (self->skipped);
  *until = g_get_monotonic_time () + for_us;
  g_hash_table_replace (self->skipped, g_strdup (id), until);
}

static void
job_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(AssayWorker) self = data;
  AssayWorkerJob *job = ASSAY_WORKER_JOB (source);
  g_autoptr(GError) error = NULL;
  AssayWorkerJobOutcome outcome;

  outcome = assay_worker_job_run_finish (job, result, &error);
  g_debug ("job %s: outcome %d%s%s", assay_worker_job_get_id (job), outcome,
           error ? ": " : "", error ? error->message : "");
  g_signal_handlers_disconnect_by_func (job, job_event_cb, self);
  if (outcome == ASSAY_WORKER_JOB_OUTCOME_NOT_CLAIMED)
    {
      /* another processor was faster, or the item cannot be claimed at all (then the
       * queue shows it again and again): not looked at again for a while */
      skip (self, assay_worker_job_get_id (job),
            error != NULL ? SKIP_ERROR_US : (gint64) self->settings.poll_max_ms * 1000);
    }
  g_hash_table_remove (self->active, assay_worker_job_get_id (job));
  self->idle_since_us = g_get_monotonic_time ();

  if (self->stopping)
    maybe_finish (self);
  else if (self->polling)
    self->poll_soon = TRUE;
  else
    {
      /* a place is free: look for work at once */
      g_clear_handle_id (&self->poll_source, g_source_remove);
      poll_now (self);
    }
}

/* Judges @item and starts it when it is to be claimed. Returns: %TRUE if it started. */
static gboolean
consider (AssayWorker *self,
          JsonObject  *item)
{
  g_autoptr(AssayWorkerJob) job = NULL;
  const char *id = NULL;
  gint64 *until;
  AssayWorkerJobSetup setup = {
    .store = self->store,
    .processor = self->processor,
    .dir = self->dir,
    .stages = self->stages,
    .accept = self->settings.accept,
    .lease_ms = self->settings.lease_ms,
    .max_attempts = self->settings.max_attempts,
    .max_file_size = self->settings.max_file_size,
    .max_chunks = self->settings.max_chunks,
    .stall_timeout_ms = self->settings.stall_timeout_ms,
    .decoder_threads = self->decoder_threads,
    .stage_retry_ms = self->settings.stage_retry_ms,
    .lifecycle = self->settings.lifecycle,
  };

  if (!assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, "id", TRUE, &id, NULL) ||
      g_hash_table_contains (self->active, id))
    return FALSE;
  until = g_hash_table_lookup (self->skipped, id);
  if (until != NULL && *until > g_get_monotonic_time ())
    return FALSE;

  job = assay_worker_job_new (&setup, item);
  if (assay_worker_job_get_verdict (job) == ASSAY_WORKER_JOB_LEAVE)
    {
      const char *version = NULL;
      JsonObject *fields = json_object_new ();

      skip (self, id, SKIP_MEMORY_US);
      assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, "version", FALSE, &version, NULL);
      if (version != NULL)
        json_object_set_string_member (fields, "version", version);
      json_object_set_string_member (fields, "accept",
                                     assay_version_range_to_string (self->settings.accept));
      emit (self, "left", id, fields);
      return FALSE;
    }

  g_hash_table_insert (self->active, g_strdup (id), g_object_ref (job));
  g_signal_connect (job, "event", G_CALLBACK (job_event_cb), self);
  assay_worker_job_run_async (job, NULL, job_done_cb, g_object_ref (self));
  return TRUE;
}

/* ------------------------------------------------------------------------------------- */
/* Polling                                                                               */

static guint
free_places (AssayWorker *self)
{
  guint active = g_hash_table_size (self->active);

  return active < self->settings.concurrency ? self->settings.concurrency - active : 0;
}

static gboolean
poll_cb (gpointer data)
{
  AssayWorker *self = data;

  self->poll_source = 0;
  poll_now (self);
  return G_SOURCE_REMOVE;
}

/* Plans the next poll: soon after finding work, later and later (with jitter) while the
 * queue has nothing for us. */
static void
poll_done (AssayWorker *self)
{
  guint delay;

  self->polling = FALSE;
  if (self->stopping || self->task == NULL)
    {
      maybe_finish (self);
      return;
    }
  if (self->poll_found || self->poll_soon)
    {
      self->idle_delay_ms = self->settings.poll_min_ms;
      self->idle_since_us = g_get_monotonic_time ();
    }
  else
    self->idle_delay_ms = MIN (self->idle_delay_ms * 2, self->settings.poll_max_ms);
  if (g_hash_table_size (self->active) > 0)
    self->idle_since_us = g_get_monotonic_time ();

  if (self->settings.exit_when_idle_ms > 0 && g_hash_table_size (self->active) == 0 &&
      g_get_monotonic_time () - self->idle_since_us >=
        (gint64) self->settings.exit_when_idle_ms * 1000)
    {
      emit (self, "idle", NULL, NULL);
      assay_worker_stop (self, 0);
      return;
    }

  /* with every place taken, the next job to end starts the next poll */
  if (free_places (self) == 0 && !self->poll_soon)
    return;
  self->poll_soon = FALSE;
  delay = self->idle_delay_ms;
  if (delay > self->settings.poll_min_ms)
    delay = (guint) g_random_double_range (delay * 0.8, delay * 1.2);
  self->poll_source = g_timeout_add (delay, poll_cb, self);
}

static void query_page (AssayWorker *self);

static void
queried_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(AssayWorker) self = data;
  g_autoptr(AssayItemPage) page = NULL;
  g_autoptr(GError) error = NULL;

  page = assay_store_query_finish (ASSAY_STORE (source), result, &error);
  g_clear_pointer (&self->poll_start_key, json_object_unref);
  if (page == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          JsonObject *fields = json_object_new ();

          json_object_set_string_member (fields, "reason", error->message);
          emit (self, "poll-failed", NULL, fields);
        }
      poll_done (self);
      return;
    }

  for (guint i = 0; i < page->items->len && free_places (self) > 0 && !self->stopping; i++)
    if (consider (self, g_ptr_array_index (page->items, i)))
      self->poll_found = TRUE;

  if (self->stopping || free_places (self) == 0)
    {
      poll_done (self);
      return;
    }
  if (page->last_key != NULL && ++self->poll_pages < QUERY_PAGES)
    {
      self->poll_start_key = json_object_ref (page->last_key);
      query_page (self);
      return;
    }
  if (self->poll_queue == 0)
    {
      self->poll_queue = 1;
      self->poll_pages = 0;
      query_page (self);
      return;
    }
  poll_done (self);
}

static void
query_page (AssayWorker *self)
{
  AssayQuery query = {
    .index = "queue-due",
    .hash_name = "queue",
    .limit = QUERY_LIMIT,
    .start_key = self->poll_start_key,
  };

  g_clear_pointer (&self->poll_hash, json_node_unref);
  g_clear_pointer (&self->poll_range, json_node_unref);
  self->poll_hash = assay_value_string (self->poll_queue == 0 ? "open" : "leased");
  query.hash_value = self->poll_hash;
  if (self->poll_queue == 1)
    {
      g_autofree char *now = assay_time_now ();

      self->poll_range = assay_value_string (now);
      query.range_name = "due";
      query.range_op = ASSAY_COMPARE_LT;
      query.range_value = self->poll_range;
    }
  assay_store_query_async (self->store, ASSAY_TABLE_JOBS, &query, self->cancellable, queried_cb,
                           g_object_ref (self));
}

static void
poll_now (AssayWorker *self)
{
  if (self->stopping || self->task == NULL || self->polling)
    return;
  if (free_places (self) == 0)
    return;
  self->polling = TRUE;
  self->poll_found = FALSE;
  self->poll_queue = 0;
  self->poll_pages = 0;
  g_clear_pointer (&self->poll_start_key, json_object_unref);
  query_page (self);
}

/* ------------------------------------------------------------------------------------- */
/* The run                                                                               */

static void
maybe_finish (AssayWorker *self)
{
  g_autoptr(GTask) task = NULL;

  if (self->task == NULL || !self->stopping || self->polling ||
      g_hash_table_size (self->active) > 0)
    return;

  g_clear_handle_id (&self->heartbeat_source, g_source_remove);
  g_clear_handle_id (&self->poll_source, g_source_remove);
  g_clear_handle_id (&self->grace_source, g_source_remove);
  if (self->caller != NULL)
    g_cancellable_disconnect (self->caller, self->caller_id);
  g_clear_object (&self->caller);
  if (self->dir != NULL)
    _assay_remove_tree (self->dir);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  self->lock_fd = -1;
  g_clear_pointer (&self->dir, g_free);

  emit (self, "stopped", NULL, NULL);
  task = g_steal_pointer (&self->task);
  g_task_return_boolean (task, TRUE);
}

static void
release_all (AssayWorker *self)
{
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer job;

  /* releasing may end a job at once, which changes the table */
  g_hash_table_iter_init (&iter, self->active);
  while (g_hash_table_iter_next (&iter, NULL, &job))
    g_ptr_array_add (jobs, g_object_ref (job));
  for (guint i = 0; i < jobs->len; i++)
    assay_worker_job_release (g_ptr_array_index (jobs, i));
}

static gboolean
grace_cb (gpointer data)
{
  AssayWorker *self = data;

  self->grace_source = 0;
  release_all (self);
  return G_SOURCE_REMOVE;
}

/**
 * assay_worker_stop:
 * @grace_ms: how long the jobs in flight may take to finish before they are given back
 *
 * Stops claiming. The run finishes once every job has finished or been given back.
 * Calling it again with a shorter grace period shortens it (0: give them back now).
 */
void
assay_worker_stop (AssayWorker *self,
                   guint        grace_ms)
{
  JsonObject *fields;

  g_return_if_fail (ASSAY_IS_WORKER (self));

  if (self->task == NULL)
    return;
  if (!self->stopping)
    {
      self->stopping = TRUE;
      g_clear_handle_id (&self->poll_source, g_source_remove);
      g_cancellable_cancel (self->cancellable);
      fields = json_object_new ();
      json_object_set_int_member (fields, "active", g_hash_table_size (self->active));
      json_object_set_int_member (fields, "grace_ms", grace_ms);
      emit (self, "stopping", NULL, fields);
      write_heartbeat_cb (self);
    }
  else if (self->grace_source == 0 && grace_ms > 0)
    return;

  g_clear_handle_id (&self->grace_source, g_source_remove);
  if (grace_ms == 0)
    release_all (self);
  else
    self->grace_source = g_timeout_add (grace_ms, grace_cb, self);
  maybe_finish (self);
}

static gboolean
caller_cancelled_idle_cb (gpointer data)
{
  assay_worker_stop (data, 0);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *cancellable,
                     gpointer      data)
{
  AssayWorker *self = data;

  assay_idle_on (g_task_get_context (self->task), caller_cancelled_idle_cb, g_object_ref (self),
                 g_object_unref);
}

/**
 * assay_worker_run_async:
 * @cancellable: (nullable): stops the run as assay_worker_stop() with no grace period
 *
 * Runs the claim loop until assay_worker_stop(), the cancellable, or the idle time of
 * exit_when_idle_ms. Fails only when the private directory cannot be made.
 */
void
assay_worker_run_async (AssayWorker         *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *fields;

  g_return_if_fail (ASSAY_IS_WORKER (self));
  g_return_if_fail (self->task == NULL && self->cancellable == NULL);

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, assay_worker_run_async);
  if (!prepare_dir (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->task = g_steal_pointer (&task);
  self->cancellable = g_cancellable_new ();
  self->idle_delay_ms = self->settings.poll_min_ms;
  self->idle_since_us = g_get_monotonic_time ();
  write_heartbeat_cb (self);
  self->heartbeat_source = g_timeout_add (ASSAY_WORKER_HEARTBEAT_INTERVAL_MS, write_heartbeat_cb,
                                          self);
  if (cancellable != NULL)
    {
      self->caller = g_object_ref (cancellable);
      self->caller_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                                               self, NULL);
    }

  fields = json_object_new ();
  json_object_set_string_member (fields, "store", assay_store_describe (self->store));
  json_object_set_string_member (fields, "dir", self->dir);
  json_object_set_string_member (fields, "accept",
                                 assay_version_range_to_string (self->settings.accept));
  json_object_set_int_member (fields, "concurrency", self->settings.concurrency);
  json_object_set_string_member (fields, "version", PACKAGE_VERSION);
  emit (self, "started", NULL, fields);
  poll_now (self);
}

gboolean
assay_worker_run_finish (AssayWorker   *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Health                                                                                */

static gboolean
check_run (const char  *dir,
           guint        max_age_ms,
           GString     *report,
           GError     **error)
{
  g_autofree char *path = g_build_filename (dir, ASSAY_WORKER_HEARTBEAT_FILE, NULL);
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GDateTime) then = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *name = g_path_get_basename (dir);
  JsonObject *beat;
  gint64 age_ms;

  if (!g_file_get_contents (path, &text, NULL, NULL) ||
      !json_parser_load_from_data (parser, text, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)) ||
      (beat = json_node_get_object (json_parser_get_root (parser))) == NULL ||
      (then = assay_time_parse (json_object_get_string_member_with_default (beat, "time", ""),
                                NULL)) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "worker %s is running but its heartbeat file %s cannot be read", name, path);
      return FALSE;
    }
  age_ms = g_date_time_difference (now, then) / 1000;
  if (age_ms > (gint64) max_age_ms)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "worker %s (pid %" G_GINT64_FORMAT ") last wrote its heartbeat %" G_GINT64_FORMAT
                   " s ago (more than %u s): it is stuck",
                   name, json_object_get_int_member_with_default (beat, "pid", 0), age_ms / 1000,
                   max_age_ms / 1000);
      return FALSE;
    }
  g_string_append_printf (report, "%s%s (pid %" G_GINT64_FORMAT "): %s, %" G_GINT64_FORMAT
                          " job(s), heartbeat %" G_GINT64_FORMAT " ms ago",
                          report->len ? "\n" : "", name,
                          json_object_get_int_member_with_default (beat, "pid", 0),
                          json_object_get_string_member_with_default (beat, "state", "?"),
                          json_object_get_int_member_with_default (beat, "active", 0), age_ms);
  return TRUE;
}

/**
 * assay_worker_check_health:
 * @work_dir: the workers' work directory
 * @max_age_ms: the oldest a heartbeat may be
 * @out_report: (out) (optional): one line per running worker
 *
 * Returns: %TRUE when at least one worker runs in @work_dir and every running worker's
 *   heartbeat is fresh; else %FALSE with the reason in @error
 */
gboolean
assay_worker_check_health (const char  *work_dir,
                           guint        max_age_ms,
                           char       **out_report,
                           GError     **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GString) report = g_string_new (NULL);
  g_autoptr(GError) local_error = NULL;
  const char *name;
  guint running = 0;

  g_return_val_if_fail (work_dir != NULL, FALSE);

  dir = g_dir_open (work_dir, 0, &local_error);
  if (dir == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "no worker has run in %s: %s", work_dir, local_error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (work_dir, name, NULL);
      g_autofree char *lock = g_build_filename (path, LOCK_FILE, NULL);

      if (!assay_id_is_valid (ASSAY_ID_PROCESSOR, name) ||
          !g_file_test (lock, G_FILE_TEST_EXISTS) || !run_is_alive (path))
        continue;
      running++;
      if (!check_run (path, max_age_ms, report, error))
        return FALSE;
    }
  if (running == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no worker is running in %s",
                   work_dir);
      return FALSE;
    }
  if (out_report != NULL)
    *out_report = g_string_free (g_steal_pointer (&report), FALSE);
  return TRUE;
}

/* ------------------------------------------------------------------------------------- */
/* Backlog                                                                               */

typedef struct
{
  AssayVersionRange *accept;
  guint queue;
  JsonObject *start_key;
  JsonNode *hash;
  JsonNode *range;
  guint64 count;
} Count;

static void
count_free (Count *count)
{
  assay_version_range_unref (count->accept);
  g_clear_pointer (&count->start_key, json_object_unref);
  g_clear_pointer (&count->hash, json_node_unref);
  g_clear_pointer (&count->range, json_node_unref);
  g_free (count);
}

static void count_page (GTask *task);

static void
counted_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GTask) task = data;
  Count *count = g_task_get_task_data (task);
  g_autoptr(AssayItemPage) page = NULL;
  GError *error = NULL;

  page = assay_store_query_finish (ASSAY_STORE (source), result, &error);
  if (page == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  for (guint i = 0; i < page->items->len; i++)
    {
      const char *version = NULL;

      /* a job this processor would leave alone is not its backlog; an invalid one is */
      assay_item_get_string (g_ptr_array_index (page->items, i), ASSAY_ITEM_FORM_DYNAMODB,
                             "version", FALSE, &version, NULL);
      if (!assay_version_is_valid (version) ||
          assay_version_range_accepts (count->accept, version))
        count->count++;
    }
  g_clear_pointer (&count->start_key, json_object_unref);
  if (page->last_key != NULL)
    count->start_key = json_object_ref (page->last_key);
  else if (count->queue == 0)
    count->queue = 1;
  else
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  count_page (g_steal_pointer (&task));
}

/* Takes @task. */
static void
count_page (GTask *task)
{
  Count *count = g_task_get_task_data (task);
  AssayQuery query = {
    .index = "queue-due",
    .hash_name = "queue",
    .start_key = count->start_key,
  };

  g_clear_pointer (&count->hash, json_node_unref);
  g_clear_pointer (&count->range, json_node_unref);
  count->hash = assay_value_string (count->queue == 0 ? "open" : "leased");
  query.hash_value = count->hash;
  if (count->queue == 1)
    {
      g_autofree char *now = assay_time_now ();

      count->range = assay_value_string (now);
      query.range_name = "due";
      query.range_op = ASSAY_COMPARE_LT;
      query.range_value = count->range;
    }
  assay_store_query_async (g_task_get_source_object (task), ASSAY_TABLE_JOBS, &query,
                           g_task_get_cancellable (task), counted_cb, task);
}

/**
 * assay_worker_count_claimable_async:
 * Counts the jobs a processor accepting @accept could claim now: open, or leased with
 * the lease run out; those of versions it would leave alone are not counted.
 */
void
assay_worker_count_claimable_async (AssayStore          *store,
                                    AssayVersionRange   *accept,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  GTask *task;
  Count *count;

  g_return_if_fail (ASSAY_IS_STORE (store));
  g_return_if_fail (accept != NULL);

  task = g_task_new (store, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_worker_count_claimable_async);
  count = g_new0 (Count, 1);
  count->accept = assay_version_range_ref (accept);
  g_task_set_task_data (task, count, (GDestroyNotify) count_free);
  count_page (task);
}

gboolean
assay_worker_count_claimable_finish (AssayStore    *store,
                                     GAsyncResult  *result,
                                     guint64       *out_count,
                                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *out_count = ((Count *) g_task_get_task_data (G_TASK (result)))->count;
  return TRUE;
}
