/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-watcher.h"

#include <string.h>

/* After a CHANGES_DONE_HINT (the writer closed the file) a short check is enough. */
#define DONE_HINT_SETTLE_MS 200

typedef struct
{
  AssayWatcher *self;
  char *path;
  guint64 size;
  gint64 mtime_us;
  guint timer;
} Pending;

struct _AssayWatcher
{
  GObject parent_instance;

  AssayStore *store;
  AssayKey *key;
  AssayJournal *journal;
  GFile *folder;
  AssaySubmitSettings settings;
  guint settle_ms;
  guint rescan_ms;
  gboolean use_monitors;

  gboolean running;
  GHashTable *monitors;  /* folder path → GFileMonitor (NULL without monitors) */
  GHashTable *seen;      /* file path → Seen, while rescans are on */
  guint rescan_id;
  GCancellable *rescanning; /* a walk of the tree in flight */
  GHashTable *pending;   /* file path → Pending, waiting to be stable */
  GQueue ready;          /* file paths, stable, waiting for their turn */
  GHashTable *queued;    /* the paths in ready */

  AssaySubmitter *current;
  char *current_path;
  GCancellable *current_cancellable;
  GCancellable *hashing; /* a content comparison in flight */
};

typedef struct
{
  guint64 size;
  gint64 mtime_us;
} Seen;

G_DEFINE_FINAL_TYPE (AssayWatcher, assay_watcher, G_TYPE_OBJECT)

enum
{
  SUBMITTER_STARTED,
  SUBMITTED,
  FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void start_next (AssayWatcher *self);
static void add_folder (AssayWatcher *self, GFile *folder);

static void
pending_free (Pending *pending)
{
  g_clear_handle_id (&pending->timer, g_source_remove);
  g_free (pending->path);
  g_free (pending);
}

static void
monitor_free (gpointer monitor)
{
  if (monitor != NULL)
    g_object_unref (monitor);
}

static void
assay_watcher_dispose (GObject *object)
{
  AssayWatcher *self = ASSAY_WATCHER (object);

  assay_watcher_stop (self);

  G_OBJECT_CLASS (assay_watcher_parent_class)->dispose (object);
}

static void
assay_watcher_finalize (GObject *object)
{
  AssayWatcher *self = ASSAY_WATCHER (object);

  g_clear_object (&self->store);
  g_clear_object (&self->key);
  g_clear_object (&self->journal);
  g_clear_object (&self->folder);
  g_hash_table_unref (self->monitors);
  g_hash_table_unref (self->seen);
  g_hash_table_unref (self->pending);
  g_hash_table_unref (self->queued);
  g_queue_clear_full (&self->ready, g_free);

  G_OBJECT_CLASS (assay_watcher_parent_class)->finalize (object);
}

static void
assay_watcher_class_init (AssayWatcherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = assay_watcher_dispose;
  object_class->finalize = assay_watcher_finalize;

  signals[SUBMITTER_STARTED] = g_signal_new ("submitter-started", G_TYPE_FROM_CLASS (klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                             1, ASSAY_TYPE_SUBMITTER);
  signals[SUBMITTED] = g_signal_new ("submitted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                     NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
                                     G_TYPE_STRING);
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
}

static void
assay_watcher_init (AssayWatcher *self)
{
  self->monitors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, monitor_free);
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->use_monitors = TRUE;
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) pending_free);
  self->queued = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->ready);
  self->settle_ms = ASSAY_WATCHER_SETTLE_MS_DEFAULT;
}

/**
 * assay_watcher_new:
 * @settings: (nullable): for each file's submitter
 */
AssayWatcher *
assay_watcher_new (AssayStore                *store,
                   AssayKey                  *key,
                   AssayJournal              *journal,
                   GFile                     *folder,
                   const AssaySubmitSettings *settings)
{
  AssayWatcher *self;

  g_return_val_if_fail (ASSAY_IS_STORE (store), NULL);
  g_return_val_if_fail (ASSAY_IS_KEY (key), NULL);
  g_return_val_if_fail (ASSAY_IS_JOURNAL (journal), NULL);
  g_return_val_if_fail (G_IS_FILE (folder), NULL);

  self = g_object_new (ASSAY_TYPE_WATCHER, NULL);
  self->store = g_object_ref (store);
  self->key = g_object_ref (key);
  self->journal = g_object_ref (journal);
  self->folder = g_object_ref (folder);
  if (settings != NULL)
    self->settings = *settings;
  else
    assay_submit_settings_init (&self->settings);
  return self;
}

void
assay_watcher_set_settle_time (AssayWatcher *self,
                               guint         milliseconds)
{
  g_return_if_fail (ASSAY_IS_WATCHER (self));

  self->settle_ms = milliseconds;
}

static void schedule_rescan (AssayWatcher *self);

/**
 * assay_watcher_set_rescan_interval:
 * @milliseconds: the time between two walks of the tree, 0 for none
 *
 * Walks the folder every @milliseconds and treats a file that is new or changed since
 * the last walk as a monitor event would: for folders whose changes raise no event, such
 * as a document portal's FUSE mount for changes made outside the sandbox.
 */
void
assay_watcher_set_rescan_interval (AssayWatcher *self,
                                   guint         milliseconds)
{
  g_return_if_fail (ASSAY_IS_WATCHER (self));

  self->rescan_ms = milliseconds;
  g_clear_handle_id (&self->rescan_id, g_source_remove);
  if (milliseconds == 0)
    g_hash_table_remove_all (self->seen);
  schedule_rescan (self);
}

/* For tests: without monitors, only rescans see changes (as on a document portal). */
void
_assay_watcher_set_use_monitors (AssayWatcher *self,
                                 gboolean      use_monitors)
{
  g_return_if_fail (ASSAY_IS_WATCHER (self));
  g_return_if_fail (!self->running);

  self->use_monitors = use_monitors;
}

/* Temporary and partial files of browsers, editors and copy tools, and hidden files. */
gboolean
assay_watcher_is_ignored_name (const char *name)
{
  static const char * const suffixes[] = { ".part", ".crdownload", ".tmp", "~", ".swp",
                                            ".swx", ".partial", ".download" };

  if (name == NULL || name[0] == '.' || name[0] == '\0')
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (name, suffixes[i]))
      return TRUE;
  return FALSE;
}

/* A regular file (not a link) with its size and mtime; FALSE for anything else. */
static gboolean
stat_file (GFile   *file,
           guint64 *out_size,
           gint64  *out_mtime_us)
{
  g_autoptr(GFileInfo) info = g_file_query_info (file,
                                                 G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                                 G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                                 G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                                                 G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                                                 G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  g_autoptr(GDateTime) mtime = NULL;

  if (info == NULL || g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    return FALSE;
  mtime = g_file_info_get_modification_date_time (info);
  *out_size = g_file_info_get_size (info);
  *out_mtime_us = g_date_time_to_unix (mtime) * G_USEC_PER_SEC + g_date_time_get_microsecond (mtime);
  return TRUE;
}

/* ------------------------------------------------------------------------------------- */
/* Waiting for files to be stable                                                        */

static void
enqueue (AssayWatcher *self,
         const char   *path)
{
  if (g_hash_table_contains (self->queued, path) || g_strcmp0 (path, self->current_path) == 0)
    return;
  g_queue_push_tail (&self->ready, g_strdup (path));
  g_hash_table_add (self->queued, g_queue_peek_tail (&self->ready));
  start_next (self);
}

static gboolean
settle_cb (gpointer data)
{
  Pending *pending = data;
  AssayWatcher *self = pending->self;
  g_autoptr(GFile) file = g_file_new_for_path (pending->path);
  guint64 size;
  gint64 mtime_us;

  pending->timer = 0;
  if (!stat_file (file, &size, &mtime_us))
    {
      g_hash_table_remove (self->pending, pending->path);
      return G_SOURCE_REMOVE;
    }
  if (size != pending->size || mtime_us != pending->mtime_us)
    {
      /* still being written: wait another settle time */
      pending->size = size;
      pending->mtime_us = mtime_us;
      pending->timer = g_timeout_add (self->settle_ms, settle_cb, pending);
      return G_SOURCE_REMOVE;
    }
  enqueue (self, pending->path);
  g_hash_table_remove (self->pending, pending->path);
  return G_SOURCE_REMOVE;
}

/* Something happened to @file: (re)start its settle time. */
static void
note_file (AssayWatcher *self,
           GFile        *file,
           gboolean      done_hint)
{
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *path = g_file_get_path (file);
  Pending *pending;
  guint64 size;
  gint64 mtime_us;

  if (path == NULL || assay_watcher_is_ignored_name (name) || !stat_file (file, &size, &mtime_us))
    return;
  if (self->rescan_ms > 0)
    {
      Seen *seen = g_new (Seen, 1);

      seen->size = size;
      seen->mtime_us = mtime_us;
      g_hash_table_replace (self->seen, g_strdup (path), seen);
    }

  pending = g_hash_table_lookup (self->pending, path);
  if (pending == NULL)
    {
      pending = g_new0 (Pending, 1);
      pending->self = self;
      pending->path = g_steal_pointer (&path);
      g_hash_table_insert (self->pending, pending->path, pending);
    }
  pending->size = size;
  pending->mtime_us = mtime_us;
  g_clear_handle_id (&pending->timer, g_source_remove);
  pending->timer = g_timeout_add (done_hint ? MIN (self->settle_ms, DONE_HINT_SETTLE_MS)
                                            : self->settle_ms,
                                  settle_cb, pending);
}

/* @file is gone: forget it, and cancel its upload if it is the one uploading. */
static void
forget_file (AssayWatcher *self,
             GFile        *file)
{
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *prefix = g_strconcat (path, "/", NULL);
  GHashTableIter iter;
  gpointer key;

  if (path == NULL)
    return;
  g_hash_table_remove (self->pending, path);
  g_hash_table_remove (self->seen, path);
  if (self->current_path != NULL &&
      (g_str_equal (self->current_path, path) || g_str_has_prefix (self->current_path, prefix)))
    {
      g_debug ("%s vanished while uploading: cancelling its job", self->current_path);
      g_cancellable_cancel (self->current_cancellable);
    }
  /* a folder that went away takes its monitors with it */
  g_hash_table_iter_init (&iter, self->monitors);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_equal (key, path) || g_str_has_prefix (key, prefix))
      g_hash_table_iter_remove (&iter);
}

static void
created (AssayWatcher *self,
         GFile        *file)
{
  if (g_file_query_file_type (file, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL) ==
      G_FILE_TYPE_DIRECTORY)
    {
      g_autofree char *name = g_file_get_basename (file);

      if (!assay_watcher_is_ignored_name (name))
        add_folder (self, file);
    }
  else
    note_file (self, file, FALSE);
}

static void
changed_cb (GFileMonitor      *monitor,
            GFile             *file,
            GFile             *other_file,
            GFileMonitorEvent  event,
            gpointer           data)
{
  AssayWatcher *self = data;

  if (!self->running)
    return;
  switch (event)
    {
    case G_FILE_MONITOR_EVENT_CREATED:
    case G_FILE_MONITOR_EVENT_MOVED_IN:
      created (self, file);
      break;
    case G_FILE_MONITOR_EVENT_CHANGED:
    case G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED:
      note_file (self, file, FALSE);
      break;
    case G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT:
      note_file (self, file, TRUE);
      break;
    case G_FILE_MONITOR_EVENT_RENAMED:
      forget_file (self, file);
      if (other_file != NULL)
        created (self, other_file);
      break;
    case G_FILE_MONITOR_EVENT_DELETED:
    case G_FILE_MONITOR_EVENT_MOVED_OUT:
      forget_file (self, file);
      break;
    default:
      break;
    }
}

/* Monitors @folder, and picks up what it holds (files, and subfolders recursively). */
static void
add_folder (AssayWatcher *self,
            GFile        *folder)
{
  g_autofree char *path = g_file_get_path (folder);
  g_autoptr(GFileMonitor) monitor = NULL;
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GError) error = NULL;
  GFileInfo *info;
  GFile *child;

  if (path == NULL || g_hash_table_contains (self->monitors, path))
    return;
  if (self->use_monitors)
    {
      monitor = g_file_monitor_directory (folder, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
      if (monitor == NULL)
        {
          g_warning ("cannot watch %s: %s", path, error->message);
          return;
        }
      g_signal_connect (monitor, "changed", G_CALLBACK (changed_cb), self);
    }
  g_hash_table_insert (self->monitors, g_strdup (path), g_steal_pointer (&monitor));

  children = g_file_enumerate_children (folder, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL &&
         g_file_enumerator_iterate (children, &info, &child, NULL, NULL) && info != NULL)
    created (self, child);
}

/* ------------------------------------------------------------------------------------- */
/* Rescanning, where changes raise no event                                              */

typedef struct
{
  char *path;
  gboolean folder;
  guint64 size;
  gint64 mtime_us;
} Found;

static void
found_free (Found *found)
{
  g_free (found->path);
  g_free (found);
}

/* Adds the folders and files below @folder to @found, depth first; names ignored as the
 * monitors ignore them. */
static void
walk (GFile        *folder,
      GPtrArray    *found,
      GCancellable *cancellable)
{
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;
  GFile *child;

  children = g_file_enumerate_children (folder,
                                        G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                        G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                        G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                                        G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, cancellable, NULL);
  while (children != NULL &&
         g_file_enumerator_iterate (children, &info, &child, cancellable, NULL) && info != NULL)
    {
      GFileType type = g_file_info_get_file_type (info);
      Found *item;

      if (assay_watcher_is_ignored_name (g_file_info_get_name (info)) ||
          (type != G_FILE_TYPE_DIRECTORY && type != G_FILE_TYPE_REGULAR))
        continue;
      item = g_new0 (Found, 1);
      item->path = g_file_get_path (child);
      item->folder = type == G_FILE_TYPE_DIRECTORY;
      if (!item->folder)
        {
          g_autoptr(GDateTime) mtime = g_file_info_get_modification_date_time (info);

          item->size = g_file_info_get_size (info);
          item->mtime_us = mtime ? g_date_time_to_unix (mtime) * G_USEC_PER_SEC +
                                     g_date_time_get_microsecond (mtime)
                                 : 0;
        }
      g_ptr_array_add (found, item);
      if (item->folder)
        walk (child, found, cancellable);
    }
}

static void
walk_thread (GTask        *task,
             gpointer      source,
             gpointer      data,
             GCancellable *cancellable)
{
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) found_free);

  walk (G_FILE (data), found, cancellable);
  if (g_task_return_error_if_cancelled (task))
    g_ptr_array_unref (found);
  else
    g_task_return_pointer (task, found, (GDestroyNotify) g_ptr_array_unref);
}

/* The walk is done: what is new or changed since it was last seen is noted as a monitor
 * event would note it, and what is gone is forgotten. */
static void
walked_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GWeakRef *ref = data;
  g_autoptr(AssayWatcher) self = g_weak_ref_get (ref);
  g_autoptr(GPtrArray) found = g_task_propagate_pointer (G_TASK (result), NULL);
  g_autoptr(GHashTable) present = NULL;
  g_autoptr(GPtrArray) gone = NULL;
  GHashTableIter iter;
  gpointer key;

  g_weak_ref_clear (ref);
  g_free (ref);
  if (self == NULL || g_task_get_cancellable (G_TASK (result)) != self->rescanning)
    return; /* the watcher is gone, or the walk is of before a stop */
  g_clear_object (&self->rescanning);
  if (found == NULL || !self->running || self->rescan_ms == 0)
    return;

  present = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < found->len; i++)
    {
      Found *item = g_ptr_array_index (found, i);
      g_autoptr(GFile) file = g_file_new_for_path (item->path);
      Seen *seen;

      g_hash_table_add (present, item->path);
      if (item->folder)
        {
          add_folder (self, file); /* a new folder: watched, and what it holds noted */
          continue;
        }
      seen = g_hash_table_lookup (self->seen, item->path);
      if (seen == NULL || seen->size != item->size || seen->mtime_us != item->mtime_us)
        note_file (self, file, FALSE);
    }

  gone = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->seen);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (present, key))
      g_ptr_array_add (gone, g_file_new_for_path (key));
  for (guint i = 0; i < gone->len; i++)
    forget_file (self, g_ptr_array_index (gone, i));

  schedule_rescan (self);
}

static gboolean
rescan_cb (gpointer data)
{
  AssayWatcher *self = data;
  g_autoptr(GTask) task = NULL;
  GWeakRef *ref = g_new0 (GWeakRef, 1);

  self->rescan_id = 0;
  self->rescanning = g_cancellable_new ();
  /* the walk does not keep the watcher: stopped and dropped, it goes at once, and the
   * walk's end finds nobody to tell */
  g_weak_ref_init (ref, self);
  task = g_task_new (NULL, self->rescanning, walked_cb, ref);
  g_task_set_source_tag (task, rescan_cb);
  g_task_set_task_data (task, g_object_ref (self->folder), g_object_unref);
  g_task_run_in_thread (task, walk_thread);
  return G_SOURCE_REMOVE;
}

static void
schedule_rescan (AssayWatcher *self)
{
  if (!self->running || self->rescan_ms == 0 || self->rescan_id != 0 || self->rescanning != NULL)
    return;
  self->rescan_id = g_timeout_add (self->rescan_ms, rescan_cb, self);
}

/* ------------------------------------------------------------------------------------- */
/* Submitting, one file at a time                                                        */

static void
submitted_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  g_autoptr(AssayWatcher) self = data;
  AssaySubmitter *submitter = ASSAY_SUBMITTER (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *job = assay_submitter_run_finish (submitter, result, &error);
  g_autofree char *path = g_steal_pointer (&self->current_path);

  g_clear_object (&self->current);
  g_clear_object (&self->current_cancellable);
  if (job != NULL)
    g_signal_emit (self, signals[SUBMITTED], 0, path, job);
  else if (!g_error_matches (error, ASSAY_SUBMIT_ERROR, ASSAY_SUBMIT_ERROR_PAUSED))
    g_signal_emit (self, signals[FAILED], 0, path, error);
  if (self->running)
    start_next (self);
}

static void
submit (AssayWatcher *self,
        const char   *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);

  self->current_path = g_strdup (path);
  self->current_cancellable = g_cancellable_new ();
  self->current = assay_submitter_new (self->store, self->key, self->journal, file,
                                       &self->settings);
  g_signal_emit (self, signals[SUBMITTER_STARTED], 0, self->current);
  assay_submitter_run_async (self->current, self->current_cancellable, submitted_cb,
                             g_object_ref (self));
}

typedef struct
{
  char *path;
  char *expected;
} Compare;

static void
compare_free (Compare *compare)
{
  g_free (compare->path);
  g_free (compare->expected);
  g_free (compare);
}

static void
hash_thread (GTask        *task,
             gpointer      source,
             gpointer      data,
             GCancellable *cancellable)
{
  Compare *compare = data;
  g_autoptr(GFile) file = g_file_new_for_path (compare->path);
  g_autoptr(GFileInputStream) input = g_file_read (file, cancellable, NULL);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 buffer[65536];
  gssize n;

  if (input == NULL)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }
  while ((n = g_input_stream_read (G_INPUT_STREAM (input), buffer, sizeof buffer, cancellable,
                                   NULL)) > 0)
    g_checksum_update (checksum, buffer, n);
  g_task_return_boolean (task, n == 0 && g_strcmp0 (g_checksum_get_string (checksum),
                                                    compare->expected) == 0);
}

static void
hashed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  AssayWatcher *self = ASSAY_WATCHER (source);
  Compare *compare = g_task_get_task_data (G_TASK (result));
  gboolean same = g_task_propagate_boolean (G_TASK (result), NULL);

  g_clear_object (&self->hashing);
  if (!self->running)
    return;
  if (!same)
    {
      submit (self, compare->path);
      return;
    }
  /* the same content with a new mtime (touched, copied back): remember, do not resubmit */
  {
    g_autoptr(AssayJournalEntry) entry = assay_journal_lookup (self->journal, compare->path, NULL);
    g_autoptr(GFile) file = g_file_new_for_path (compare->path);

    if (entry != NULL && stat_file (file, &entry->size, &entry->mtime_us))
      assay_journal_save (self->journal, entry, NULL);
  }
  g_debug ("%s: same content as submitted before, skipped", compare->path);
  start_next (self);
}

static void
start_next (AssayWatcher *self)
{
  while (self->running && self->current == NULL && self->hashing == NULL)
    {
      g_autofree char *path = g_queue_pop_head (&self->ready);
      g_autoptr(GFile) file = NULL;
      g_autoptr(AssayJournalEntry) entry = NULL;
      guint64 size;
      gint64 mtime_us;

      if (path == NULL)
        return;
      g_hash_table_remove (self->queued, path);
      file = g_file_new_for_path (path);
      if (!stat_file (file, &size, &mtime_us))
        continue;

      entry = assay_journal_lookup (self->journal, path, NULL);
      if (entry != NULL && entry->state == ASSAY_JOURNAL_CANCELLED && entry->size == size &&
          entry->mtime_us == mtime_us)
        continue; /* cancelled by the user: only a retry submits it again */
      if (entry == NULL || entry->state != ASSAY_JOURNAL_SUBMITTED || entry->hash == NULL)
        {
          /* new, or an upload to continue */
          submit (self, path);
          return;
        }
      if (entry->size == size && entry->mtime_us == mtime_us)
        continue; /* submitted already */
      if (entry->size != size)
        {
          submit (self, path);
          return;
        }
      {
        /* same size, other mtime: compare the content before submitting it again */
        g_autoptr(GTask) task = NULL;
        Compare *compare = g_new0 (Compare, 1);

        compare->path = g_strdup (path);
        compare->expected = g_strdup (entry->hash);
        self->hashing = g_cancellable_new ();
        task = g_task_new (self, self->hashing, hashed_cb, NULL);
        g_task_set_source_tag (task, start_next);
        g_task_set_task_data (task, compare, (GDestroyNotify) compare_free);
        g_task_run_in_thread (task, hash_thread);
        return;
      }
    }
}

/* ------------------------------------------------------------------------------------- */

/**
 * assay_watcher_start:
 * Starts watching. Returns: %FALSE when the folder cannot be watched.
 */
gboolean
assay_watcher_start (AssayWatcher  *self,
                     GError       **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (ASSAY_IS_WATCHER (self), FALSE);
  g_return_val_if_fail (!self->running, FALSE);

  if (g_file_query_file_type (self->folder, G_FILE_QUERY_INFO_NONE, NULL) != G_FILE_TYPE_DIRECTORY)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s is not a folder",
                   g_file_peek_path (self->folder));
      return FALSE;
    }
  self->running = TRUE;
  add_folder (self, self->folder);
  path = g_file_get_path (self->folder);
  if (!g_hash_table_contains (self->monitors, path))
    {
      self->running = FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot watch %s", path);
      return FALSE;
    }
  schedule_rescan (self);
  return TRUE;
}

/**
 * assay_watcher_stop:
 * Stops watching. The upload in progress is paused, so that it continues from where it
 * stopped when a watcher next starts on the folder.
 */
void
assay_watcher_stop (AssayWatcher *self)
{
  g_return_if_fail (ASSAY_IS_WATCHER (self));

  self->running = FALSE;
  g_clear_handle_id (&self->rescan_id, g_source_remove);
  if (self->rescanning != NULL)
    g_cancellable_cancel (self->rescanning);
  g_clear_object (&self->rescanning);
  g_hash_table_remove_all (self->monitors);
  g_hash_table_remove_all (self->seen);
  g_hash_table_remove_all (self->pending);
  g_hash_table_remove_all (self->queued);
  g_queue_clear_full (&self->ready, g_free);
  if (self->hashing != NULL)
    g_cancellable_cancel (self->hashing);
  if (self->current != NULL)
    assay_submitter_pause (self->current);
}

/**
 * assay_watcher_cancel:
 * Cancels the upload of @path if it is the one in progress: its job ends CANCELLED and
 * ::failed is emitted with G_IO_ERROR_CANCELLED. Returns: whether @path was uploading.
 */
gboolean
assay_watcher_cancel (AssayWatcher *self,
                      const char   *path)
{
  g_return_val_if_fail (ASSAY_IS_WATCHER (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (self->current_path == NULL || !g_str_equal (self->current_path, path))
    return FALSE;
  g_cancellable_cancel (self->current_cancellable);
  return TRUE;
}

/* Returns: whether nothing is waiting, hashing or uploading. */
gboolean
assay_watcher_is_idle (AssayWatcher *self)
{
  g_return_val_if_fail (ASSAY_IS_WATCHER (self), TRUE);

  return self->current == NULL && self->hashing == NULL && self->rescanning == NULL &&
         g_queue_is_empty (&self->ready) &&
         g_hash_table_size (self->pending) == 0;
}
