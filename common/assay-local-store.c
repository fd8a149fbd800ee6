/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

/* F_OFD_SETLKW; config.h includes no system header, so this is still early enough. */
#define _GNU_SOURCE

#include "assay-local-store.h"

#include "assay-item.h"
#include "assay-time.h"
#include "assay-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * How the store stays consistent with several processes and crashes:
 *
 * - Every file is written under a temporary name in its final directory, fsync'ed, and
 *   renamed over its final name; the directory is fsync'ed after. A crash leaves either
 *   the old file or the new one, and maybe a temporary that init removes.
 * - An object is two files, its bytes and its metadata, that must change together. Both
 *   are written once under a fresh version name (`.<name>~<v>`, `.<name>~<v>.meta`),
 *   never modified, and the key's path is a symbolic link renamed onto the new version:
 *   that one rename is the commit. A reader reads the link, then opens the version's two
 *   files; if a writer has deleted that version in between, it reads the link again.
 * - Writers of one key or one item (and init's clean-up) hold a lock: an OFD byte-range
 *   write lock on one byte of the table's lock file, chosen by a hash of the key or id.
 *   OFD locks belong to an open file description, so threads of one process exclude
 *   each other as processes do, and the kernel drops them when a process dies. A
 *   conditional write reads, evaluates and writes under that lock. Readers take none.
 */

#define STORE_FORMAT          "assay-local-store"
#define STORE_VERSION         1
#define MAX_KEY_LEN           1024 /* S3's limit */
#define MAX_SEGMENT_LEN       200  /* leaves room for ".~<v>.meta" under NAME_MAX */
#define MAX_ID_LEN            200
#define MAX_ITEM_SIZE         (400 * 1024) /* DynamoDB's limit */
#define MAX_SMALL_FILE        (16 * 1024 * 1024)
#define BLOCK_SIZE            (1024 * 1024)
#define PROGRESS_INTERVAL     (G_USEC_PER_SEC / 10)
#define LOCK_SLOTS            65521
#define RESOLVE_ATTEMPTS      64
#define CREATE_ATTEMPTS       16
#define STALE_ROOT_TEMP_AGE   (60 * 60)
#define DEFAULT_MAX_KEYS      1000

struct _AssayLocalStore
{
  GObject parent_instance;

  char *dir;
  char *description;
};

enum
{
  PROP_0,
  PROP_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void assay_local_store_iface_init (AssayStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AssayLocalStore, assay_local_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ASSAY_TYPE_STORE,
                                                      assay_local_store_iface_init))

/* ------------------------------------------------------------------------------------- */
/* Errors                                                                                */

static void set_errno_error (GError    **error,
                             int         errsv,
                             const char *format,
                             ...) G_GNUC_PRINTF (3, 4);

/* "cannot write /x/y: No space left on device (free some space …)": the path, the
 * system's reason, and what the user can do about it. */
static void
set_errno_error (GError    **error,
                 int         errsv,
                 const char *format,
                 ...)
{
  g_autofree char *what = NULL;
  AssayStoreError code = ASSAY_STORE_ERROR_FAILED;
  const char *hint = NULL;
  va_list ap;

  va_start (ap, format);
  what = g_strdup_vprintf (format, ap);
  va_end (ap);

  switch (errsv)
    {
    case ENOSPC:
    case EDQUOT:
      hint = "free some space on that disk and try again";
      break;
    case EACCES:
    case EPERM:
      code = ASSAY_STORE_ERROR_ACCESS_DENIED;
      hint = "check that the store's directory belongs to you and is writable";
      break;
    case EROFS:
      code = ASSAY_STORE_ERROR_ACCESS_DENIED;
      hint = "the disk is mounted read-only";
      break;
    case EMFILE:
    case ENFILE:
      hint = "too many open files: raise the limit (ulimit -n) or close other programs";
      break;
    default:
      break;
    }

  if (hint != NULL)
    g_set_error (error, ASSAY_STORE_ERROR, code, "%s: %s (%s)", what, g_strerror (errsv), hint);
  else
    g_set_error (error, ASSAY_STORE_ERROR, code, "%s: %s", what, g_strerror (errsv));
}

static gboolean
check_cancelled (GCancellable  *cancellable,
                 GError       **error)
{
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

static gboolean
holds_type (JsonNode *node,
            GType     type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* ------------------------------------------------------------------------------------- */
/* Names                                                                                 */

static const char *
table_name (AssayTable table)
{
  switch (table)
    {
    case ASSAY_TABLE_JOBS:
      return "jobs";
    case ASSAY_TABLE_RESULTS:
      return "results";
    default:
      return NULL;
    }
}

/* A byte that may appear in a file name we make from a key or an id. */
static gboolean
is_name_byte (guchar c)
{
  return c >= 0x20 && c != 0x7f && c != '/' && c != '\\';
}

/* One segment of a key, or an id: a readable file name of ours, never one of the
 * store's own hidden files (which start with '.'), never "." or "..". */
static gboolean
is_valid_name (const char *name,
               gsize       len,
               gsize       max_len)
{
  if (len == 0 || len > max_len || name[0] == '.')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!is_name_byte ((guchar) name[i]))
      return FALSE;
  return TRUE;
}

static gboolean
check_id (const char  *id,
          GError     **error)
{
  if (id == NULL || !is_valid_name (id, strlen (id), MAX_ID_LEN) ||
      !g_utf8_validate (id, -1, NULL))
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                   "invalid item id “%s”: an id is 1 to %d bytes of UTF-8, without '/', "
                   "'\\' or control characters, and does not start with '.'",
                   id != NULL ? id : "(null)", MAX_ID_LEN);
      return FALSE;
    }
  return TRUE;
}

/* A C string cannot hold a NUL, so a key with one arrives cut short: callers that take
 * keys from outside (JSON, the command line) must refuse embedded NULs themselves. */
static gboolean
check_key (const char  *key,
           GError     **error)
{
  const char *reason = NULL;
  const char *segment;

  if (key == NULL || *key == '\0')
    reason = "it is empty";
  else if (strlen (key) > MAX_KEY_LEN)
    reason = "it is longer than 1024 bytes";
  else if (!g_utf8_validate (key, -1, NULL))
    reason = "it is not UTF-8";
  else if (key[0] == '/')
    reason = "it is absolute";

  for (segment = key; reason == NULL;)
    {
      const char *end = strchr (segment, '/');
      gsize len = end != NULL ? (gsize) (end - segment) : strlen (segment);

      if (len == 0)
        reason = "it has an empty segment";
      else if ((len == 1 && segment[0] == '.') || (len == 2 && strncmp (segment, "..", 2) == 0))
        reason = "it has a “.” or “..” segment";
      else if (segment[0] == '.')
        reason = "a segment starts with '.' (reserved for the store's own files)";
      else if (len > MAX_SEGMENT_LEN)
        reason = "a segment is longer than 200 bytes";
      else if (!is_valid_name (segment, len, MAX_SEGMENT_LEN))
        reason = "it has a control character or '\\'";
      if (end == NULL)
        break;
      segment = end + 1;
    }

  if (reason != NULL)
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                   "invalid object key “%s”: %s", key != NULL ? key : "(null)", reason);
      return FALSE;
    }
  return TRUE;
}

static char *
random_tag (void)
{
  guint8 bytes[8];

  assay_random_bytes (bytes, sizeof bytes);
  return assay_hex_encode (bytes, sizeof bytes);
}

/* ------------------------------------------------------------------------------------- */
/* Files                                                                                 */

static gboolean
write_all (int          fd,
           const void  *data,
           gsize        len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Some file systems cannot fsync a directory (EINVAL): nothing more can be done there. */
static gboolean
sync_dir (const char  *dir,
          GError     **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot open directory %s", dir);
      return FALSE;
    }
  if (fsync (fd) < 0 && errno != EINVAL)
    {
      int errsv = errno;

      close (fd);
      set_errno_error (error, errsv, "cannot sync directory %s", dir);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* Reads a small regular file. Returns: NULL with errno set on failure. */
static char *
read_small_file (const char *path,
                 gsize      *out_len)
{
  g_autofree char *data = NULL;
  struct stat st;
  gsize done = 0;
  int fd, errsv;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return NULL;
  if (fstat (fd, &st) < 0)
    goto fail;
  if (!S_ISREG (st.st_mode) || st.st_size > MAX_SMALL_FILE)
    {
      errno = S_ISREG (st.st_mode) ? EFBIG : EINVAL;
      goto fail;
    }
  data = g_malloc ((gsize) st.st_size + 1);
  while (done < (gsize) st.st_size)
    {
      ssize_t n = read (fd, data + done, (gsize) st.st_size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        goto fail;
      if (n == 0)
        break;
      done += (gsize) n;
    }
  close (fd);
  data[done] = '\0';
  *out_len = done;
  return g_steal_pointer (&data);

fail:
  errsv = errno;
  close (fd);
  errno = errsv;
  return NULL;
}

/* Writes @path whole or not at all: a temporary `.<name>~<tag>` beside it, fsync, rename,
 * fsync of the directory. The caller holds the lock that covers @path. */
static gboolean
write_file_atomic (const char    *path,
                   const char    *data,
                   gsize          len,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tag = random_tag ();
  g_autofree char *tmp = g_strdup_printf ("%s/.%s~%s", dir, base, tag);
  int fd, errsv;

  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot write %s", tmp);
      return FALSE;
    }
  if (!write_all (fd, data, len) || fsync (fd) < 0)
    {
      errsv = errno;
      close (fd);
      unlink (tmp);
      set_errno_error (error, errsv, "cannot write %s", tmp);
      return FALSE;
    }
  if (close (fd) < 0)
    {
      errsv = errno;
      unlink (tmp);
      set_errno_error (error, errsv, "cannot write %s", tmp);
      return FALSE;
    }
  /* the last moment to give up: after the rename, the write has happened */
  if (!check_cancelled (cancellable, error))
    {
      unlink (tmp);
      return FALSE;
    }
  if (rename (tmp, path) < 0)
    {
      errsv = errno;
      unlink (tmp);
      set_errno_error (error, errsv, "cannot replace %s", path);
      return FALSE;
    }
  return sync_dir (dir, error);
}

/* Removes the empty directories from @dir up to, not including, @root. */
static void
remove_empty_dirs (const char *root,
                   const char *dir)
{
  g_autofree char *current = g_strdup (dir);

  while (strlen (current) > strlen (root) && g_str_has_prefix (current, root))
    {
      char *slash;

      if (rmdir (current) < 0)
        return;
      slash = strrchr (current, '/');
      if (slash == NULL)
        return;
      *slash = '\0';
    }
}

/* ------------------------------------------------------------------------------------- */
/* Locks                                                                                 */

/* FNV-1a: every process, whatever its GLib, must pick the same slot for a name. */
static off_t
slot_of (const char *name)
{
  guint32 hash = 2166136261u;

  for (const guchar *p = (const guchar *) name; *p != '\0'; p++)
    hash = (hash ^ *p) * 16777619u;
  return hash % LOCK_SLOTS;
}

/* Takes the write lock of @name's slot in @lock_path; close the returned fd to release it.
 * The holder keeps it for one read-evaluate-write (a few fsyncs), so the wait is short
 * and is not cancellable. */
static int
lock_acquire (const char  *lock_path,
              const char  *name,
              GError     **error)
{
  struct flock lock = { 0 };
  int fd;

  fd = open (lock_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      int errsv = errno;

      if (errsv == ENOENT)
        g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND,
                     "the local store has no lock file %s: it was not initialised "
                     "(run init first) or was removed", lock_path);
      else
        set_errno_error (error, errsv, "cannot open lock file %s", lock_path);
      return -1;
    }

  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = slot_of (name);
  lock.l_len = 1;

#ifdef F_OFD_SETLKW
  while (fcntl (fd, F_OFD_SETLKW, &lock) < 0)
    {
      if (errno == EINTR)
        continue;
      if (errno == EINVAL)
        goto whole_file; /* a kernel or file system without OFD locks */
      set_errno_error (error, errno, "cannot lock %s", lock_path);
      close (fd);
      return -1;
    }
  return fd;

whole_file:
#endif
  /* flock() locks also belong to the open file description, but cover the whole file */
  while (flock (fd, LOCK_EX) < 0)
    {
      if (errno == EINTR)
        continue;
      set_errno_error (error, errno, "cannot lock %s", lock_path);
      close (fd);
      return -1;
    }
  return fd;
}

static void
lock_release (int fd)
{
  if (fd >= 0)
    close (fd);
}

static char *
lock_path (AssayLocalStore *self,
           const char      *name)
{
  g_autofree char *file = g_strconcat (name, ".lock", NULL);

  return g_build_filename (self->dir, "locks", file, NULL);
}

/* ------------------------------------------------------------------------------------- */
/* Progress, reported on the caller's main context about ten times a second             */

typedef struct
{
  GMutex mutex;
  GMainContext *context;
  GFileProgressCallback callback;
  gpointer callback_data;
  goffset current;     /* under mutex: the latest report */
  goffset total;
  gboolean pending;    /* under mutex: an idle is queued */
  gboolean finished;   /* under mutex: the operation has returned; no more calls */
  gint64 last_time;    /* worker thread only */
  goffset delivered;   /* main context only; -1 before the first call */
} Progress;

static void
progress_clear (gpointer data)
{
  Progress *progress = data;

  g_mutex_clear (&progress->mutex);
  g_main_context_unref (progress->context);
}

static void
progress_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, progress_clear);
}

static Progress *
progress_new (GFileProgressCallback callback,
              gpointer              callback_data)
{
  Progress *progress;

  if (callback == NULL)
    return NULL;
  progress = g_atomic_rc_box_new0 (Progress);
  g_mutex_init (&progress->mutex);
  progress->context = g_main_context_ref_thread_default ();
  progress->callback = callback;
  progress->callback_data = callback_data;
  progress->delivered = -1;
  return progress;
}

static gboolean
progress_dispatch_cb (gpointer data)
{
  Progress *progress = data;
  goffset current, total;
  gboolean finished;

  g_mutex_lock (&progress->mutex);
  current = progress->current;
  total = progress->total;
  finished = progress->finished;
  progress->pending = FALSE;
  g_mutex_unlock (&progress->mutex);

  if (!finished)
    {
      progress->callback (current, total, progress->callback_data);
      progress->delivered = current;
    }
  return G_SOURCE_REMOVE;
}

/* From the worker thread. */
static void
progress_report (Progress *progress,
                 goffset   current,
                 goffset   total,
                 gboolean  force)
{
  gint64 now;
  gboolean schedule;

  if (progress == NULL)
    return;
  now = g_get_monotonic_time ();
  if (!force && now - progress->last_time < PROGRESS_INTERVAL)
    return;
  progress->last_time = now;

  g_mutex_lock (&progress->mutex);
  progress->current = current;
  progress->total = total;
  schedule = !progress->pending;
  progress->pending = TRUE;
  g_mutex_unlock (&progress->mutex);

  if (schedule)
    {
      assay_idle_on (progress->context, progress_dispatch_cb,
                     g_atomic_rc_box_acquire (progress), progress_unref);
    }
}

/* On the main context, just before the result is delivered: the last figures, once. */
static void
progress_finish (Progress *progress,
                 gboolean  success)
{
  goffset current, total;

  g_mutex_lock (&progress->mutex);
  progress->finished = TRUE;
  current = progress->current;
  total = progress->total;
  g_mutex_unlock (&progress->mutex);

  if (success && progress->delivered != current)
    progress->callback (current, total, progress->callback_data);
}

/* ------------------------------------------------------------------------------------- */
/* Operations                                                                            */

typedef struct
{
  AssayTable table;
  char *key;                  /* object key, list prefix or item id */
  char *source_key;           /* copy */
  GBytes *data;               /* put */
  GHashTable *metadata;       /* put: lowercase names */
  GOutputStream *output;      /* get */
  char *token;                /* list */
  guint max_keys;
  JsonObject *item;           /* put_item: a deep copy */
  AssayCondition *condition;
  AssayUpdate *update;
  AssayReturnValues return_values;
  char *index;                /* query */
  char *hash_name;
  JsonNode *hash_value;
  char *range_name;
  AssayCompare range_op;
  JsonNode *range_value;
  guint limit;
  JsonObject *start_key;
  Progress *progress;
  GDestroyNotify result_free;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  g_free (op->key);
  g_free (op->source_key);
  g_clear_pointer (&op->data, g_bytes_unref);
  g_clear_pointer (&op->metadata, g_hash_table_unref);
  g_clear_object (&op->output);
  g_free (op->token);
  g_clear_pointer (&op->item, json_object_unref);
  g_clear_pointer (&op->condition, assay_condition_unref);
  g_clear_pointer (&op->update, assay_update_unref);
  g_free (op->index);
  g_free (op->hash_name);
  g_clear_pointer (&op->hash_value, json_node_unref);
  g_free (op->range_name);
  g_clear_pointer (&op->range_value, json_node_unref);
  g_clear_pointer (&op->start_key, json_object_unref);
  g_clear_pointer (&op->progress, progress_unref);
  g_free (op);
}

/* A deep copy: json_node_copy() shares the members of objects and arrays. */
static JsonNode *
node_copy (JsonNode *node)
{
  JsonNode *copy;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_object_new ();
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        json_object_set_member (object, name, node_copy (member));
      copy = json_node_init_object (json_node_alloc (), object);
      json_object_unref (object);
      return copy;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *source = json_node_get_array (node);
      JsonArray *array = json_array_sized_new (json_array_get_length (source));

      for (guint i = 0; i < json_array_get_length (source); i++)
        json_array_add_element (array, node_copy (json_array_get_element (source, i)));
      copy = json_node_init_array (json_node_alloc (), array);
      json_array_unref (array);
      return copy;
    }
  return json_node_copy (node);
}

static JsonObject *
object_copy (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autoptr(JsonNode) copy = node_copy (node);

  return json_object_ref (json_node_get_object (copy));
}

/* Writes run to the end once they have started: the task's own cancellation check would
 * report "cancelled" for a write that has happened. The thread checks instead, up to
 * the commit. */
static GTask *
op_task_new (AssayLocalStore     *self,
             Op                  *op,
             gpointer             source_tag,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, op, op_free);
  return task;
}

static void
run_op (AssayLocalStore     *self,
        Op                  *op,
        gpointer             source_tag,
        GTaskThreadFunc      func,
        GCancellable        *cancellable,
        GAsyncReadyCallback  callback,
        gpointer             user_data)
{
  g_autoptr(GTask) task = op_task_new (self, op, source_tag, cancellable, callback, user_data);

  g_task_run_in_thread (task, func);
}

/* Object transfers run in an inner task, so that the last progress call is made, and
 * no call after it, before the caller's callback. */
static void
transfer_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Op *op = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  gpointer value;

  value = g_task_propagate_pointer (G_TASK (result), &error);
  if (op->progress != NULL)
    progress_finish (op->progress, value != NULL);
  if (value == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, value, op->result_free);
}

static void
run_transfer (AssayLocalStore     *self,
              Op                  *op,
              gpointer             source_tag,
              GTaskThreadFunc      func,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GTask) inner = NULL;

  g_task_set_source_tag (task, source_tag);
  g_task_set_check_cancellable (task, FALSE);
  inner = op_task_new (self, op, source_tag, cancellable, transfer_done_cb, task);
  g_task_run_in_thread (inner, func);
}

/* ------------------------------------------------------------------------------------- */
/* Objects                                                                               */

typedef struct
{
  char *key;
  char *dir;   /* the directory that holds the key's link */
  char *name;  /* the key's last segment */
  char *link;  /* dir/name */
} KeyPath;

static void
key_path_free (KeyPath *path)
{
  g_free (path->key);
  g_free (path->dir);
  g_free (path->name);
  g_free (path->link);
  g_free (path);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KeyPath, key_path_free)

static char *
objects_root (AssayLocalStore *self)
{
  return g_build_filename (self->dir, "objects", NULL);
}

static KeyPath *
key_path_new (AssayLocalStore  *self,
              const char       *key,
              GError          **error)
{
  KeyPath *path;
  const char *slash;

  if (!check_key (key, error))
    return NULL;

  path = g_new0 (KeyPath, 1);
  path->key = g_strdup (key);
  slash = strrchr (key, '/');
  if (slash != NULL)
    {
      g_autofree char *parent = g_strndup (key, (gsize) (slash - key));

      path->dir = g_build_filename (self->dir, "objects", parent, NULL);
      path->name = g_strdup (slash + 1);
    }
  else
    {
      path->dir = objects_root (self);
      path->name = g_strdup (key);
    }
  path->link = g_build_filename (path->dir, path->name, NULL);
  return path;
}

/* Whether @target is a version name of the key segment @name: `.<name>~<16 hex>`. */
static gboolean
is_version_of (const char *name,
               const char *target)
{
  gsize len = strlen (name);

  if (target[0] != '.' || strncmp (target + 1, name, len) != 0 || target[1 + len] != '~')
    return FALSE;
  target += 2 + len;
  if (strlen (target) != 16)
    return FALSE;
  for (; *target != '\0'; target++)
    if (!g_ascii_isxdigit (*target))
      return FALSE;
  return TRUE;
}

/* The version the key's link names, or NULL (errno ENOENT: no link; EINVAL: a directory,
 * that is a prefix and not an object). */
static char *
read_version (KeyPath *path)
{
  char buf[NAME_MAX + 1];
  ssize_t n = readlink (path->link, buf, sizeof buf - 1);

  if (n < 0)
    return NULL;
  buf[n] = '\0';
  if (!is_version_of (path->name, buf))
    {
      errno = EBADMSG;
      return NULL;
    }
  return g_strdup (buf);
}

static char *
version_file (KeyPath    *path,
              const char *version,
              const char *suffix)
{
  g_autofree char *file = g_strconcat (version, suffix, NULL);

  return g_build_filename (path->dir, file, NULL);
}

static char *
meta_to_string (const char *key,
                gsize       size,
                const char *etag,
                const char *modified,
                GHashTable *metadata)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) names = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "key");
  json_builder_add_string_value (builder, key);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) size);
  json_builder_set_member_name (builder, "etag");
  json_builder_add_string_value (builder, etag);
  json_builder_set_member_name (builder, "modified");
  json_builder_add_string_value (builder, modified);
  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  if (metadata != NULL)
    {
      names = g_list_sort (g_hash_table_get_keys (metadata), (GCompareFunc) strcmp);
      for (GList *l = names; l != NULL; l = l->next)
        {
          json_builder_set_member_name (builder, l->data);
          json_builder_add_string_value (builder, g_hash_table_lookup (metadata, l->data));
        }
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_to_string (root, TRUE);
}

/* Parses a version's metadata into an AssayObjectInfo (with user metadata when
 * @with_metadata). Returns: NULL if the file is damaged. */
static AssayObjectInfo *
meta_parse (const char *key,
            const char *text,
            gsize       len,
            gboolean    with_metadata)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(AssayObjectInfo) info = assay_object_info_new (key);
  JsonObject *root, *metadata;
  JsonNode *node;
  const char *modified;

  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL))
    return NULL;
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  root = json_node_get_object (node);

  node = json_object_get_member (root, "size");
  if (!holds_type (node, G_TYPE_INT64) || json_node_get_int (node) < 0)
    return NULL;
  info->size = (guint64) json_node_get_int (node);

  node = json_object_get_member (root, "etag");
  if (!holds_type (node, G_TYPE_STRING))
    return NULL;
  info->etag = g_strdup (json_node_get_string (node));

  node = json_object_get_member (root, "modified");
  modified = holds_type (node, G_TYPE_STRING) ? json_node_get_string (node) : NULL;
  if (modified == NULL || (info->modified = assay_time_parse (modified, NULL)) == NULL)
    return NULL;

  node = json_object_get_member (root, "metadata");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  metadata = json_node_get_object (node);
  if (with_metadata)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      json_object_iter_init (&iter, metadata);
      while (json_object_iter_next (&iter, &name, &value))
        {
          if (!holds_type (value, G_TYPE_STRING))
            return NULL;
          g_hash_table_insert (info->metadata, g_strdup (name),
                               g_strdup (json_node_get_string (value)));
        }
    }
  return g_steal_pointer (&info);
}

/* Opens the current version of a key: its bytes (@out_fd, may be NULL) and its metadata,
 * a consistent pair even while writers replace the key. */
static AssayObjectInfo *
open_version (KeyPath   *path,
              gboolean   with_metadata,
              int       *out_fd,
              GError   **error)
{
  for (guint attempt = 0; attempt < RESOLVE_ATTEMPTS; attempt++)
    {
      g_autofree char *version = read_version (path);
      g_autofree char *data_path = NULL;
      g_autofree char *meta_path = NULL;
      g_autofree char *meta = NULL;
      AssayObjectInfo *info;
      gsize meta_len = 0;
      int fd = -1;

      if (version == NULL)
        {
          if (errno == ENOENT || errno == ENOTDIR || errno == EINVAL)
            g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND,
                         "no object “%s” in the local store (%s)", path->key, path->link);
          else if (errno == EBADMSG)
            g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT,
                         "%s is not a link to one of its versions: move it out of the "
                         "store", path->link);
          else
            set_errno_error (error, errno, "cannot read %s", path->link);
          return NULL;
        }

      data_path = version_file (path, version, "");
      meta_path = version_file (path, version, ".meta");
      if (out_fd != NULL)
        {
          fd = open (data_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
          if (fd < 0 && errno == ENOENT)
            continue; /* replaced and removed since we read the link */
          if (fd < 0)
            {
              set_errno_error (error, errno, "cannot read %s", data_path);
              return NULL;
            }
        }
      meta = read_small_file (meta_path, &meta_len);
      if (meta == NULL)
        {
          int errsv = errno;

          if (fd >= 0)
            close (fd);
          if (errsv == ENOENT)
            continue;
          set_errno_error (error, errsv, "cannot read %s", meta_path);
          return NULL;
        }
      info = meta_parse (path->key, meta, meta_len, with_metadata);
      if (info == NULL)
        {
          if (fd >= 0)
            close (fd);
          g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT,
                       "the metadata of object “%s” (%s) is damaged: delete the object "
                       "and upload it again", path->key, meta_path);
          return NULL;
        }
      if (out_fd != NULL)
        *out_fd = fd;
      return info;
    }

  g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_UNAVAILABLE,
               "object “%s” changed %d times while being read; try again", path->key,
               RESOLVE_ATTEMPTS);
  return NULL;
}

static void
remove_version (KeyPath    *path,
                const char *version)
{
  g_autofree char *data_path = version_file (path, version, "");
  g_autofree char *meta_path = version_file (path, version, ".meta");

  unlink (data_path);
  unlink (meta_path);
}

/* Makes one directory of an object key's path. A new directory's entry is made durable
 * with an fsync of its parent; an existing one must be a directory, not an object's link
 * (errno ENOTDIR). Returns: FALSE with errno set. */
static gboolean
make_object_dir_1 (const char *dir)
{
  struct stat st;

  if (mkdir (dir, 0700) == 0)
    {
      g_autofree char *parent = g_path_get_dirname (dir);
      int fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      if (fd >= 0)
        {
          fsync (fd);
          close (fd);
        }
      return TRUE;
    }
  if (errno != EEXIST)
    return FALSE;
  if (lstat (dir, &st) < 0)
    return FALSE;
  if (!S_ISDIR (st.st_mode))
    {
      errno = ENOTDIR;
      return FALSE;
    }
  return TRUE;
}

/* Makes @dir and its parents below the objects directory @root. */
static gboolean
make_object_dir (const char *root,
                 const char *dir)
{
  g_autofree char *current = g_strdup (dir);
  gsize root_len = strlen (root);

  if (strlen (current) <= root_len)
    return TRUE;
  for (char *p = current + root_len + 1; *p != '\0'; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (!make_object_dir_1 (current))
          return FALSE;
        *p = '/';
      }
  return make_object_dir_1 (current);
}

/* Creates @path->dir and a new version file in it, exclusively. A concurrent delete of
 * a sibling may remove the directory between the two steps: then start again. */
static int
create_version_file (AssayLocalStore  *self,
                     KeyPath          *path,
                     const char       *version,
                     GError          **error)
{
  g_autofree char *data_path = version_file (path, version, "");
  g_autofree char *root = objects_root (self);

  for (guint attempt = 0; attempt < CREATE_ATTEMPTS; attempt++)
    {
      int fd;

      if (!make_object_dir (root, path->dir))
        {
          int errsv = errno;

          if (errsv == ENOENT)
            continue;
          if (errsv == ENOTDIR)
            g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                         "cannot store object “%s”: a key that is a prefix of it is an "
                         "object, and the local store cannot hold both", path->key);
          else
            set_errno_error (error, errsv, "cannot create directory %s", path->dir);
          return -1;
        }
      fd = open (data_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd >= 0)
        return fd;
      if (errno != ENOENT)
        {
          set_errno_error (error, errno, "cannot write %s", data_path);
          return -1;
        }
    }
  set_errno_error (error, ENOENT, "cannot write %s", data_path);
  return -1;
}

/* Stores @data as @key: a new version, then the link swapped onto it. Runs in a worker
 * thread. Returns: (transfer full): the etag. */
static char *
put_object_sync (AssayLocalStore  *self,
                 const char       *key,
                 GBytes           *data,
                 GHashTable       *metadata,
                 Progress         *progress,
                 GCancellable     *cancellable,
                 GError          **error)
{
  g_autoptr(KeyPath) path = NULL;
  g_autoptr(GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
  g_autofree char *lock_file = lock_path (self, "objects");
  g_autofree char *root = objects_root (self);
  g_autofree char *version = NULL;
  g_autofree char *data_path = NULL;
  g_autofree char *meta_path = NULL;
  g_autofree char *tmp_link = NULL;
  g_autofree char *old_version = NULL;
  g_autofree char *meta = NULL;
  g_autofree char *modified = NULL;
  g_autofree char *etag = NULL;
  const guint8 *bytes;
  gsize size, done = 0;
  int lock = -1, fd = -1, meta_fd = -1, errsv;

  path = key_path_new (self, key, error);
  if (path == NULL || !check_cancelled (cancellable, error))
    return NULL;
  lock = lock_acquire (lock_file, key, error);
  if (lock < 0)
    return NULL;

  {
    g_autofree char *tag = random_tag ();

    version = g_strdup_printf (".%s~%s", path->name, tag);
  }
  data_path = version_file (path, version, "");
  meta_path = version_file (path, version, ".meta");
  tmp_link = version_file (path, version, ".link");

  fd = create_version_file (self, path, version, error);
  if (fd < 0)
    goto fail;

  bytes = g_bytes_get_data (data, &size);
  progress_report (progress, 0, (goffset) size, TRUE);
  while (done < size)
    {
      gsize n = MIN (size - done, BLOCK_SIZE);

      if (!check_cancelled (cancellable, error))
        goto fail;
      if (!write_all (fd, bytes + done, n))
        {
          set_errno_error (error, errno, "cannot write object “%s” to %s", key, data_path);
          goto fail;
        }
      g_checksum_update (md5, bytes + done, (gssize) n);
      done += n;
      progress_report (progress, (goffset) done, (goffset) size, done == size);
    }
  if (fsync (fd) < 0 || close (fd) < 0)
    {
      fd = -1;
      set_errno_error (error, errno, "cannot write object “%s” to %s", key, data_path);
      goto fail;
    }
  fd = -1;

  etag = g_strdup (g_checksum_get_string (md5));
  modified = assay_time_now ();
  meta = meta_to_string (key, size, etag, modified, metadata);
  meta_fd = open (meta_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (meta_fd < 0 || !write_all (meta_fd, meta, strlen (meta)) || fsync (meta_fd) < 0)
    {
      set_errno_error (error, errno, "cannot write %s", meta_path);
      goto fail;
    }
  close (meta_fd);
  meta_fd = -1;

  if (!check_cancelled (cancellable, error))
    goto fail;

  /* the commit: one rename of the link */
  old_version = read_version (path);
  if (symlink (version, tmp_link) < 0)
    {
      set_errno_error (error, errno, "cannot create link %s", tmp_link);
      goto fail;
    }
  if (rename (tmp_link, path->link) < 0)
    {
      errsv = errno;
      unlink (tmp_link);
      if (errsv == EISDIR || errsv == ENOTEMPTY || errsv == EEXIST)
        g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                     "cannot store object “%s”: it is the prefix of other objects, and the "
                     "local store cannot hold both", key);
      else
        set_errno_error (error, errsv, "cannot replace %s", path->link);
      goto fail;
    }
  if (!sync_dir (path->dir, error))
    {
      /* committed, but maybe not durable: report it, the data is in place */
      lock_release (lock);
      return NULL;
    }
  if (old_version != NULL && !g_str_equal (old_version, version))
    remove_version (path, old_version);

  lock_release (lock);
  return g_steal_pointer (&etag);

fail:
  if (fd >= 0)
    close (fd);
  if (meta_fd >= 0)
    close (meta_fd);
  unlink (data_path);
  unlink (meta_path);
  remove_empty_dirs (root, path->dir);
  lock_release (lock);
  return NULL;
}

static void
put_object_thread (GTask        *task,
                   gpointer      source,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  Op *op = task_data;
  GError *error = NULL;
  char *etag;

  etag = put_object_sync (source, op->key, op->data, op->metadata, op->progress, cancellable,
                          &error);
  if (etag == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, etag, g_free);
}

static void
get_object_thread (GTask        *task,
                   gpointer      source,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  AssayLocalStore *self = source;
  Op *op = task_data;
  g_autoptr(KeyPath) path = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
  g_autofree guint8 *buf = NULL;
  GError *error = NULL;
  guint64 done = 0;
  int fd = -1;

  path = key_path_new (self, op->key, &error);
  if (path == NULL)
    goto fail;
  info = open_version (path, TRUE, &fd, &error);
  if (info == NULL)
    goto fail;

  buf = g_malloc (BLOCK_SIZE);
  progress_report (op->progress, 0, (goffset) info->size, TRUE);
  for (;;)
    {
      ssize_t n;

      if (!check_cancelled (cancellable, &error))
        goto fail;
      n = read (fd, buf, BLOCK_SIZE);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_errno_error (&error, errno, "cannot read object “%s” in %s", op->key, path->dir);
          goto fail;
        }
      if (n == 0)
        break;
      g_checksum_update (md5, buf, n);
      if (!g_output_stream_write_all (op->output, buf, (gsize) n, NULL, cancellable, &error))
        goto fail;
      done += (guint64) n;
      progress_report (op->progress, (goffset) done, (goffset) info->size, FALSE);
    }
  close (fd);
  fd = -1;

  if (done != info->size || !g_str_equal (g_checksum_get_string (md5), info->etag))
    {
      g_set_error (&error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT,
                   "object “%s” in %s is damaged (its size or MD5 does not match its "
                   "metadata): delete it and upload it again", op->key, path->link);
      goto fail;
    }
  progress_report (op->progress, (goffset) done, (goffset) info->size, TRUE);
  g_task_return_pointer (task, g_steal_pointer (&info), (GDestroyNotify) assay_object_info_free);
  return;

fail:
  if (fd >= 0)
    close (fd);
  g_task_return_error (task, error);
}

static void
head_object_thread (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  Op *op = task_data;
  g_autoptr(KeyPath) path = NULL;
  AssayObjectInfo *info = NULL;
  GError *error = NULL;

  path = key_path_new (source, op->key, &error);
  if (path != NULL)
    info = open_version (path, TRUE, NULL, &error);
  if (info == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, info, (GDestroyNotify) assay_object_info_free);
}

static gboolean
delete_object_sync (AssayLocalStore  *self,
                    const char       *key,
                    GError          **error)
{
  g_autoptr(KeyPath) path = NULL;
  g_autofree char *lock_file = lock_path (self, "objects");
  g_autofree char *version = NULL;
  g_autofree char *root = objects_root (self);
  int lock;

  path = key_path_new (self, key, error);
  if (path == NULL)
    return FALSE;
  lock = lock_acquire (lock_file, key, error);
  if (lock < 0)
    return FALSE;

  version = read_version (path);
  if (version == NULL)
    {
      int errsv = errno;

      lock_release (lock);
      /* like S3, deleting what is not there succeeds */
      if (errsv == ENOENT || errsv == ENOTDIR || errsv == EINVAL)
        return TRUE;
      if (errsv == EBADMSG)
        g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT,
                     "%s is not a link to one of its versions: move it out of the store",
                     path->link);
      else
        set_errno_error (error, errsv, "cannot read %s", path->link);
      return FALSE;
    }
  if (unlink (path->link) < 0)
    {
      set_errno_error (error, errno, "cannot delete %s", path->link);
      lock_release (lock);
      return FALSE;
    }
  if (!sync_dir (path->dir, error))
    {
      lock_release (lock);
      return FALSE;
    }
  remove_version (path, version);
  remove_empty_dirs (root, path->dir);
  lock_release (lock);
  return TRUE;
}

static void
delete_object_thread (GTask        *task,
                      gpointer      source,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  Op *op = task_data;
  GError *error = NULL;

  if (!check_cancelled (cancellable, &error) || !delete_object_sync (source, op->key, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
copy_object_thread (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  AssayLocalStore *self = source;
  Op *op = task_data;
  g_autoptr(KeyPath) path = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *etag = NULL;
  GError *error = NULL;
  int fd = -1;

  /* the source's current version, mapped: it is immutable, so the copy is consistent */
  if (!check_key (op->key, &error))
    goto fail;
  path = key_path_new (self, op->source_key, &error);
  if (path == NULL || !check_cancelled (cancellable, &error))
    goto fail;
  info = open_version (path, TRUE, &fd, &error);
  if (info == NULL)
    goto fail;
  mapped = g_mapped_file_new_from_fd (fd, FALSE, &error);
  close (fd);
  if (mapped == NULL)
    goto fail;
  bytes = g_mapped_file_get_bytes (mapped);

  etag = put_object_sync (self, op->key, bytes, info->metadata, NULL, cancellable, &error);
  if (etag == NULL)
    goto fail;
  g_task_return_boolean (task, TRUE);
  return;

fail:
  g_task_return_error (task, error);
}

static void
collect_keys (const char   *dir,
              const char   *key_prefix,
              GPtrArray    *keys,
              GCancellable *cancellable)
{
  DIR *d = opendir (dir);
  struct dirent *entry;

  if (d == NULL)
    return;
  while ((entry = readdir (d)) != NULL)
    {
      g_autofree char *key = NULL;
      unsigned char type = entry->d_type;

      if (entry->d_name[0] == '.')
        continue;
      if (g_cancellable_is_cancelled (cancellable))
        break;
      if (type == DT_UNKNOWN)
        {
          struct stat st;

          if (fstatat (dirfd (d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
          type = S_ISLNK (st.st_mode) ? DT_LNK : S_ISDIR (st.st_mode) ? DT_DIR : DT_REG;
        }
      key = g_strconcat (key_prefix, entry->d_name, NULL);
      if (type == DT_LNK)
        g_ptr_array_add (keys, g_steal_pointer (&key));
      else if (type == DT_DIR)
        {
          g_autofree char *sub = g_build_filename (dir, entry->d_name, NULL);
          g_autofree char *sub_prefix = g_strconcat (key, "/", NULL);

          collect_keys (sub, sub_prefix, keys, cancellable);
        }
    }
  closedir (d);
}

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/*
 * Cost: each page walks every key under the prefix's directory (the part of the prefix
 * up to its last '/') and sorts them, then reads the metadata of the keys it returns:
 * O(n log n) for n keys there. The store holds the chunks of the jobs in flight, so n
 * stays in the thousands.
 */
static AssayObjectList *
list_objects_sync (AssayLocalStore  *self,
                   const char       *prefix,
                   const char       *token,
                   guint             max_keys,
                   GCancellable     *cancellable,
                   GError          **error)
{
  g_autoptr(AssayObjectList) list = g_new0 (AssayObjectList, 1);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *base = NULL;
  g_autofree char *start = NULL;
  const char *slash;

  list->objects = g_ptr_array_new_with_free_func ((GDestroyNotify) assay_object_info_free);
  if (prefix == NULL)
    prefix = "";
  if (max_keys == 0 || max_keys > DEFAULT_MAX_KEYS)
    max_keys = DEFAULT_MAX_KEYS;

  slash = strrchr (prefix, '/');
  base = slash != NULL ? g_strndup (prefix, (gsize) (slash - prefix + 1)) : g_strdup ("");
  if (*base != '\0')
    {
      g_autofree char *dir_key = g_strndup (base, strlen (base) - 1);

      /* a prefix that no valid key can have lists nothing */
      if (!check_key (dir_key, NULL))
        return g_steal_pointer (&list);
    }
  start = g_build_filename (self->dir, "objects", base, NULL);
  if (!g_file_test (start, G_FILE_TEST_IS_DIR) && *base == '\0')
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND,
                   "the local store has no directory %s: it was not initialised (run init "
                   "first)", start);
      return NULL;
    }

  collect_keys (start, base, keys, cancellable);
  if (!check_cancelled (cancellable, error))
    return NULL;
  g_ptr_array_sort (keys, compare_keys);

  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = g_ptr_array_index (keys, i);
      g_autoptr(KeyPath) path = NULL;
      g_autoptr(GError) local_error = NULL;
      AssayObjectInfo *info;

      if (!g_str_has_prefix (key, prefix) || (token != NULL && strcmp (key, token) <= 0))
        continue;
      if (list->objects->len == max_keys)
        {
          AssayObjectInfo *last = g_ptr_array_index (list->objects, list->objects->len - 1);

          list->next_token = g_strdup (last->key);
          break;
        }
      path = key_path_new (self, key, NULL);
      if (path == NULL)
        continue;
      info = open_version (path, FALSE, NULL, &local_error);
      if (info == NULL)
        {
          if (g_error_matches (local_error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND))
            continue; /* deleted since the walk */
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_ptr_array_add (list->objects, info);
    }
  return g_steal_pointer (&list);
}

static void
list_objects_thread (GTask        *task,
                     gpointer      source,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  Op *op = task_data;
  GError *error = NULL;
  AssayObjectList *list;

  list = list_objects_sync (source, op->key, op->token, op->max_keys, cancellable, &error);
  if (list == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, list, (GDestroyNotify) assay_object_list_free);
}

/* ------------------------------------------------------------------------------------- */
/* Items                                                                                 */

static char *
item_path (AssayLocalStore *self,
           AssayTable       table,
           const char      *id)
{
  g_autofree char *file = g_strconcat (id, ".json", NULL);

  return g_build_filename (self->dir, "tables", table_name (table), file, NULL);
}

/* The string of an `{"S": …}` attribute, or NULL. */
static const char *
string_attribute (JsonObject *item,
                  const char *name)
{
  JsonNode *node = json_object_get_member (item, name);
  JsonNode *inner;
  JsonObject *descriptor;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  descriptor = json_node_get_object (node);
  if (json_object_get_size (descriptor) != 1)
    return NULL;
  inner = json_object_get_member (descriptor, "S");
  if (!holds_type (inner, G_TYPE_STRING))
    return NULL;
  return json_node_get_string (inner);
}

/* About DynamoDB's count: names plus values, whatever their nesting. */
static gsize
node_size (JsonNode *node)
{
  gsize size = 0;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        size += strlen (name) + node_size (member);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        size += 1 + node_size (json_array_get_element (array, i));
    }
  else if (holds_type (node, G_TYPE_STRING))
    size += strlen (json_node_get_string (node));
  else
    size += 1;
  return size;
}

/* What DynamoDB would refuse: no string `id` equal to the key, an index key that is not a
 * string, an item over 400 KB. */
static gboolean
check_item (AssayTable   table,
            const char  *id,
            JsonObject  *item,
            GError     **error)
{
  const char *item_id = string_attribute (item, "id");
  g_autoptr(JsonNode) node = NULL;
  gsize size;

  if (item_id == NULL || (id != NULL && !g_str_equal (item_id, id)))
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                   "the item's key attribute “id” must be a string%s%s", id ? " equal to " : "",
                   id ? id : "");
      return FALSE;
    }
  if (!check_id (item_id, error))
    return FALSE;
  if (table == ASSAY_TABLE_JOBS)
    {
      static const char * const index_keys[] = { "queue", "due" };

      for (guint i = 0; i < G_N_ELEMENTS (index_keys); i++)
        if (json_object_has_member (item, index_keys[i]) &&
            string_attribute (item, index_keys[i]) == NULL)
          {
            g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                         "attribute “%s” of job %s is a key of index queue-due and must be "
                         "a string", index_keys[i], item_id);
            return FALSE;
          }
    }
  node = json_node_init_object (json_node_alloc (), item);
  size = node_size (node);
  if (size > MAX_ITEM_SIZE)
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                   "item %s is %" G_GSIZE_FORMAT " bytes, over the limit of 400 KB: store "
                   "large values as objects", item_id, size);
      return FALSE;
    }
  return TRUE;
}

/* Reads one item. Returns: NULL without an error when there is none. */
static JsonObject *
read_item (AssayLocalStore  *self,
           AssayTable        table,
           const char       *id,
           GError          **error)
{
  g_autofree char *path = item_path (self, table, id);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = NULL;
  JsonNode *root;
  gsize len = 0;

  text = read_small_file (path, &len);
  if (text == NULL)
    {
      g_autofree char *dir = NULL;

      if (errno != ENOENT)
        set_errno_error (error, errno, "cannot read %s", path);
      else if (!g_file_test ((dir = g_path_get_dirname (path)), G_FILE_TEST_IS_DIR))
        g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND,
                     "the local store has no table directory %s: it was not initialised "
                     "(run init first)", dir);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      g_strcmp0 (string_attribute (json_node_get_object (root), "id"), id) != 0)
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT,
                   "item file %s is damaged: restore it from a backup or delete it", path);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static gboolean
write_item (AssayLocalStore  *self,
            AssayTable        table,
            JsonObject       *item,
            GCancellable     *cancellable,
            GError          **error)
{
  g_autofree char *path = item_path (self, table, string_attribute (item, "id"));
  g_autofree char *text = assay_item_to_string (item, TRUE);

  return write_file_atomic (path, text, strlen (text), cancellable, error);
}

/* The indexes: DynamoDB would refuse a query on any other. */
static const struct
{
  AssayTable table;
  const char *name;
  const char *hash;
  const char *range;
} indexes[] = {
  { ASSAY_TABLE_JOBS, "queue-due", "queue", "due" },
};

/*
 * The indexes on disk: indexes/<table>/<index>/<partition>/<id>, an empty file for
 * each item whose hash attribute (`queue`) is a string; <partition> is the SHA-256 of that
 * string. A query reads the items of one partition only: O(the partition), not O(the
 * table), however many finished jobs (which leave the queue) pile up.
 *
 * The entries are a superset of the truth: a writer adds the item's entry before it
 * writes the item and removes the old one after (under the item's lock), and a query
 * checks every item it reads. A crash in between leaves an extra entry, never a missing
 * one; the query that meets it removes it, under the same lock. A store made before the
 * index existed is indexed when it is opened (indexes/<table>/<index>/.ready).
 */
static char *
index_dir (AssayLocalStore *self,
           guint            index)
{
  return g_build_filename (self->dir, "indexes", table_name (indexes[index].table),
                           indexes[index].name, NULL);
}

static char *
index_partition (AssayLocalStore *self,
                 guint            index,
                 const char      *value)
{
  g_autofree char *dir = index_dir (self, index);
  g_autofree char *partition = g_compute_checksum_for_string (G_CHECKSUM_SHA256, value, -1);

  return g_build_filename (dir, partition, NULL);
}

/* Adds @item's entries (before the item is written). */
static gboolean
index_add (AssayLocalStore  *self,
           AssayTable        table,
           JsonObject       *item,
           GError          **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (indexes); i++)
    {
      const char *value = indexes[i].table == table
                            ? string_attribute (item, indexes[i].hash) : NULL;
      g_autofree char *partition = NULL;
      g_autofree char *entry = NULL;
      int fd;

      if (value == NULL)
        continue;
      partition = index_partition (self, i, value);
      entry = g_build_filename (partition, string_attribute (item, "id"), NULL);
      if (g_mkdir_with_parents (partition, 0700) < 0)
        {
          set_errno_error (error, errno, "cannot create index directory %s", partition);
          return FALSE;
        }
      fd = open (entry, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0)
        {
          set_errno_error (error, errno, "cannot create index entry %s", entry);
          return FALSE;
        }
      close (fd);
    }
  return TRUE;
}

/* Removes the entries of @old that @item (NULL: deleted) no longer has (after the write). */
static void
index_remove_stale (AssayLocalStore *self,
                    AssayTable       table,
                    JsonObject      *old,
                    JsonObject      *item)
{
  for (guint i = 0; old != NULL && i < G_N_ELEMENTS (indexes); i++)
    {
      const char *was = indexes[i].table == table
                          ? string_attribute (old, indexes[i].hash) : NULL;
      const char *is = item != NULL ? string_attribute (item, indexes[i].hash) : NULL;
      g_autofree char *partition = NULL;
      g_autofree char *entry = NULL;

      if (was == NULL || g_strcmp0 (was, is) == 0)
        continue;
      partition = index_partition (self, i, was);
      entry = g_build_filename (partition, string_attribute (old, "id"), NULL);
      if (unlink (entry) < 0 && errno != ENOENT)
        g_debug ("%s: cannot remove index entry %s: %s (the next query will)",
                 self->description, entry, g_strerror (errno));
    }
}

/* Locks the item, reads it and checks @condition on it (on NULL when it is absent).
 * Returns: the lock's fd, or -1 with @error set (CONDITION_FAILED when it is false). */
static int
item_begin (AssayLocalStore  *self,
            AssayTable        table,
            const char       *id,
            AssayCondition   *condition,
            JsonObject      **out_old,
            GCancellable     *cancellable,
            GError          **error)
{
  g_autofree char *lock_file = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonObject *old;
  int lock;

  if (table_name (table) == NULL)
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID, "no table %d", table);
      return -1;
    }
  if (!check_id (id, error) || !check_cancelled (cancellable, error))
    return -1;
  lock_file = lock_path (self, table_name (table));
  lock = lock_acquire (lock_file, id, error);
  if (lock < 0)
    return -1;

  old = read_item (self, table, id, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      lock_release (lock);
      return -1;
    }
  if (condition != NULL && !assay_condition_evaluate (condition, old))
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED,
                   "the conditional request failed: the condition on item %s in table %s "
                   "is false", id, table_name (table));
      g_clear_pointer (&old, json_object_unref);
      lock_release (lock);
      return -1;
    }
  *out_old = old;
  return lock;
}

static void
put_item_thread (GTask        *task,
                 gpointer      source,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  AssayLocalStore *self = source;
  Op *op = task_data;
  g_autoptr(JsonObject) old = NULL;
  GError *error = NULL;
  int lock;

  if (!check_item (op->table, NULL, op->item, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  lock = item_begin (self, op->table, string_attribute (op->item, "id"), op->condition, &old,
                     cancellable, &error);
  if (lock < 0 || !index_add (self, op->table, op->item, &error) ||
      !write_item (self, op->table, op->item, cancellable, &error))
    g_task_return_error (task, error);
  else
    {
      index_remove_stale (self, op->table, old, op->item);
      g_task_return_boolean (task, TRUE);
    }
  lock_release (lock);
}

static void
get_item_thread (GTask        *task,
                 gpointer      source,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  Op *op = task_data;
  GError *error = NULL;
  JsonObject *item = NULL;

  if (table_name (op->table) == NULL)
    g_set_error (&error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID, "no table %d", op->table);
  else if (check_id (op->key, &error) && check_cancelled (cancellable, &error))
    item = read_item (source, op->table, op->key, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, item, (GDestroyNotify) json_object_unref);
}

static void
update_item_thread (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  AssayLocalStore *self = source;
  Op *op = task_data;
  g_autoptr(JsonObject) old = NULL;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) apply_error = NULL;
  GError *error = NULL;
  JsonObject *returned = NULL;
  int lock;

  lock = item_begin (self, op->table, op->key, op->condition, &old, cancellable, &error);
  if (lock < 0)
    {
      g_task_return_error (task, error);
      return;
    }

  /* like DynamoDB, an update of a missing item creates it from its key */
  if (old != NULL)
    item = object_copy (old);
  else
    {
      item = json_object_new ();
      json_object_set_member (item, "id", assay_value_string (op->key));
    }
  if (!assay_update_apply (op->update, item, &apply_error))
    {
      g_set_error (&error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                   "cannot update item %s: %s", op->key, apply_error->message);
      goto out;
    }
  if (!check_item (op->table, op->key, item, &error) ||
      !index_add (self, op->table, item, &error) ||
      !write_item (self, op->table, item, cancellable, &error))
    goto out;
  index_remove_stale (self, op->table, old, item);

  if (op->return_values == ASSAY_RETURN_ALL_OLD && old != NULL)
    returned = json_object_ref (old);
  else if (op->return_values == ASSAY_RETURN_ALL_NEW)
    returned = json_object_ref (item);

out:
  lock_release (lock);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, returned, (GDestroyNotify) json_object_unref);
}

static void
delete_item_thread (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  AssayLocalStore *self = source;
  Op *op = task_data;
  g_autoptr(JsonObject) old = NULL;
  GError *error = NULL;
  int lock;

  lock = item_begin (self, op->table, op->key, op->condition, &old, cancellable, &error);
  if (lock >= 0 && old != NULL && check_cancelled (cancellable, &error))
    {
      g_autofree char *path = item_path (self, op->table, op->key);
      g_autofree char *dir = g_path_get_dirname (path);

      if (unlink (path) < 0 && errno != ENOENT)
        set_errno_error (&error, errno, "cannot delete %s", path);
      else if (sync_dir (dir, &error))
        index_remove_stale (self, op->table, old, NULL);
    }
  lock_release (lock);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

typedef struct
{
  JsonObject *item;
  JsonNode *range;
  const char *id;
} Hit;

static int
compare_hits (gconstpointer a,
              gconstpointer b)
{
  const Hit *x = *(const Hit * const *) a;
  const Hit *y = *(const Hit * const *) b;
  gboolean comparable;
  int order = assay_value_compare (x->range, y->range, &comparable);

  if (!comparable || order == 0)
    return strcmp (x->id, y->id);
  return order;
}

static void
hit_free (gpointer data)
{
  Hit *hit = data;

  json_object_unref (hit->item);
  g_free (hit);
}

/* Indexes every item of the table that is not yet (a store made before the index, or
 * whose first query this is), then marks the index ready. Concurrent writers add their own
 * entries, and an extra entry is harmless, so this needs no lock but each item's. */
static gboolean
index_build (AssayLocalStore  *self,
             guint             index,
             GCancellable     *cancellable,
             GError          **error)
{
  g_autofree char *dir = index_dir (self, index);
  g_autofree char *ready = g_build_filename (dir, ".ready", NULL);
  g_autofree char *table = g_build_filename (self->dir, "tables",
                                             table_name (indexes[index].table), NULL);
  g_autoptr(GDir) listing = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *name;
  guint count = 0;

  if (g_file_test (ready, G_FILE_TEST_EXISTS))
    return TRUE;
  listing = g_dir_open (table, 0, &local_error);
  if (listing == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND,
                     "the local store has no table directory %s: it was not initialised "
                     "(run init first)", table);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *id = NULL;
      g_autoptr(JsonObject) item = NULL;

      if (name[0] == '.' || !g_str_has_suffix (name, ".json"))
        continue;
      if (++count % 256 == 0 && !check_cancelled (cancellable, error))
        return FALSE;
      id = g_strndup (name, strlen (name) - strlen (".json"));
      item = read_item (self, indexes[index].table, id, error);
      if (item == NULL && error != NULL && *error != NULL)
        return FALSE;
      if (item != NULL && !index_add (self, indexes[index].table, item, error))
        return FALSE;
    }
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      set_errno_error (error, errno, "cannot create index directory %s", dir);
      return FALSE;
    }
  if (!g_file_set_contents (ready, "", 0, &local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_debug ("%s: indexed %u items for %s", self->description, count, indexes[index].name);
  return TRUE;
}

/* An entry whose item does not hold @value (any more): removed, under the item's lock. */
static void
index_drop_stale (AssayLocalStore *self,
                  guint            index,
                  const char      *entry,
                  const char      *id,
                  JsonNode        *value)
{
  g_autofree char *lock_file = lock_path (self, table_name (indexes[index].table));
  g_autoptr(JsonObject) item = NULL;
  JsonNode *now;
  int lock = lock_acquire (lock_file, id, NULL);

  if (lock < 0)
    return;
  item = read_item (self, indexes[index].table, id, NULL);
  now = item != NULL ? json_object_get_member (item, indexes[index].hash) : NULL;
  if (now == NULL || !json_node_equal (now, value))
    unlink (entry);
  lock_release (lock);
}

/*
 * Cost: the items of one partition of the index (indexes/jobs/queue-due/<queue>/),
 * each read and checked, then sorted: O(the open or the leased jobs), whatever the
 * number of finished ones (bench-local-store).
 *
 * The order is that of the range key, then the id (DynamoDB leaves ties unordered);
 * a page ends after @limit items, and last_key (id and index keys of the last item)
 * is set only when more items follow.
 */
static AssayItemPage *
query_sync (AssayLocalStore  *self,
            Op               *op,
            GCancellable     *cancellable,
            GError          **error)
{
  g_autoptr(AssayItemPage) page = g_new0 (AssayItemPage, 1);
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func (hit_free);
  g_autoptr(AssayCondition) hash_condition = NULL;
  g_autoptr(AssayCondition) range_condition = NULL;
  g_autofree char *dir_path = NULL;
  Hit start = { NULL, NULL, NULL };
  const char *index_range = NULL;
  const char *hash_string;
  struct dirent *entry;
  guint index = 0;
  guint count = 0;
  DIR *dir;

  for (guint i = 0; i < G_N_ELEMENTS (indexes); i++)
    if (indexes[i].table == op->table && g_strcmp0 (op->index, indexes[i].name) == 0 &&
        g_strcmp0 (op->hash_name, indexes[i].hash) == 0 &&
        (op->range_name == NULL || g_str_equal (op->range_name, indexes[i].range)))
      {
        index_range = indexes[i].range;
        index = i;
      }
  if (index_range == NULL || op->hash_value == NULL ||
      (op->range_name != NULL &&
       (op->range_value == NULL || op->range_op == ASSAY_COMPARE_NE ||
        op->range_op > ASSAY_COMPARE_GE)))
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                   "invalid query on index “%s” of table %s: the local store knows only "
                   "queue-due on jobs (hash queue, range due, one of = < <= > >=)",
                   op->index ? op->index : "(null)",
                   table_name (op->table) ? table_name (op->table) : "?");
      return NULL;
    }
  if (op->start_key != NULL)
    {
      start.id = string_attribute (op->start_key, "id");
      start.range = json_object_get_member (op->start_key, index_range);
      if (start.id == NULL || start.range == NULL)
        {
          g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                       "the start key of a query on %s needs “id” and “%s”", op->index,
                       index_range);
          return NULL;
        }
    }

  hash_condition = assay_condition_compare (op->hash_name, ASSAY_COMPARE_EQ,
                                            json_node_copy (op->hash_value));
  if (op->range_name != NULL)
    range_condition = assay_condition_compare (op->range_name, op->range_op,
                                               json_node_copy (op->range_value));

  page->items = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  if (!index_build (self, index, cancellable, error))
    return NULL;
  /* an index holds strings only (DynamoDB's key attributes are typed; queue is S) */
  hash_string = JSON_NODE_HOLDS_OBJECT (op->hash_value)
                  ? json_object_get_string_member_with_default (
                      json_node_get_object (op->hash_value), "S", NULL)
                  : NULL;
  if (hash_string == NULL)
    return g_steal_pointer (&page);
  dir_path = index_partition (self, index, hash_string);
  dir = opendir (dir_path);
  if (dir == NULL)
    {
      if (errno == ENOENT)  /* no item ever had this value */
        return g_steal_pointer (&page);
      set_errno_error (error, errno, "cannot read directory %s", dir_path);
      return NULL;
    }
  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(GError) local_error = NULL;
      g_autoptr(JsonObject) item = NULL;
      Hit *hit;

      if (entry->d_name[0] == '.')
        continue;
      if (++count % 256 == 0 && g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          closedir (dir);
          return NULL;
        }
      if (!check_id (entry->d_name, NULL))
        continue;
      item = read_item (self, op->table, entry->d_name, &local_error);
      if (local_error != NULL)
        {
          closedir (dir);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      path = g_build_filename (dir_path, entry->d_name, NULL);
      /* an entry left by a writer that stopped between its two steps, or an item that
       * moved to another partition since the listing */
      if (item == NULL || !assay_condition_evaluate (hash_condition, item))
        {
          index_drop_stale (self, index, path, entry->d_name, op->hash_value);
          continue;
        }
      /* outside the (sparse) index, or outside the range */
      if (!json_object_has_member (item, index_range) ||
          (range_condition != NULL && !assay_condition_evaluate (range_condition, item)))
        continue;

      hit = g_new0 (Hit, 1);
      hit->item = g_steal_pointer (&item);
      hit->range = json_object_get_member (hit->item, index_range);
      hit->id = string_attribute (hit->item, "id");
      if (op->start_key != NULL)
        {
          Hit *start_hit = &start;

          if (compare_hits (&hit, &start_hit) <= 0)
            {
              hit_free (hit);
              continue;
            }
        }
      g_ptr_array_add (hits, hit);
    }
  closedir (dir);

  g_ptr_array_sort (hits, compare_hits);
  for (guint i = 0; i < hits->len; i++)
    {
      Hit *hit = g_ptr_array_index (hits, i);

      if (op->limit > 0 && page->items->len == op->limit)
        {
          Hit *last = g_ptr_array_index (hits, i - 1);

          page->last_key = json_object_new ();
          json_object_set_member (page->last_key, "id", assay_value_string (last->id));
          json_object_set_member (page->last_key, op->hash_name,
                                  json_node_copy (json_object_get_member (last->item,
                                                                          op->hash_name)));
          json_object_set_member (page->last_key, index_range, json_node_copy (last->range));
          break;
        }
      g_ptr_array_add (page->items, json_object_ref (hit->item));
    }
  return g_steal_pointer (&page);
}

static void
query_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  GError *error = NULL;
  AssayItemPage *page;

  page = query_sync (source, task_data, cancellable, &error);
  if (page == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, page, (GDestroyNotify) assay_item_page_free);
}

/* ------------------------------------------------------------------------------------- */
/* Init: the layout, and what crashed writers left behind                               */

/* Removes an object directory's versions that its links do not name: those of writers
 * that died before their commit, or after it but before removing the old version. */
static void
clean_objects_dir (AssayLocalStore *self,
                   const char      *dir_path,
                   const char      *key_prefix,
                   guint           *removed,
                   GCancellable    *cancellable)
{
  g_autoptr(GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                        (GDestroyNotify) g_ptr_array_unref);
  g_autofree char *lock_file = lock_path (self, "objects");
  g_autofree char *root = objects_root (self);
  GHashTableIter iter;
  gpointer name, files;
  struct dirent *entry;
  DIR *dir;

  dir = opendir (dir_path);
  if (dir == NULL)
    return;
  while ((entry = readdir (dir)) != NULL && !g_cancellable_is_cancelled (cancellable))
    {
      const char *tilde;

      if (g_str_equal (entry->d_name, ".") || g_str_equal (entry->d_name, ".."))
        continue;
      if (entry->d_name[0] != '.')
        {
          unsigned char type = entry->d_type;

          if (type == DT_UNKNOWN)
            {
              struct stat st;

              if (fstatat (dirfd (dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                  S_ISDIR (st.st_mode))
                type = DT_DIR;
            }
          if (type == DT_DIR)
            {
              g_autofree char *sub = g_build_filename (dir_path, entry->d_name, NULL);
              g_autofree char *sub_prefix = g_strconcat (key_prefix, entry->d_name, "/", NULL);

              clean_objects_dir (self, sub, sub_prefix, removed, cancellable);
              remove_empty_dirs (root, sub);
            }
          continue;
        }
      /* `.<name>~<v>`, `.<name>~<v>.meta`, `.<name>~<v>.link`: group them by name */
      tilde = strrchr (entry->d_name, '~');
      if (tilde != NULL && tilde > entry->d_name + 1)
        {
          g_autofree char *key_name = g_strndup (entry->d_name + 1,
                                                 (gsize) (tilde - entry->d_name - 1));
          GPtrArray *list = g_hash_table_lookup (groups, key_name);

          if (list == NULL)
            {
              list = g_ptr_array_new_with_free_func (g_free);
              g_hash_table_insert (groups, g_steal_pointer (&key_name), list);
            }
          g_ptr_array_add (list, g_strdup (entry->d_name));
        }
    }
  closedir (dir);

  g_hash_table_iter_init (&iter, groups);
  while (g_hash_table_iter_next (&iter, &name, &files))
    {
      g_autofree char *key = g_strconcat (key_prefix, name, NULL);
      g_autoptr(KeyPath) path = key_path_new (self, key, NULL);
      g_autofree char *version = NULL;
      g_autofree char *version_meta = NULL;
      GPtrArray *list = files;
      gboolean stale = FALSE;
      int lock;

      if (path == NULL)
        continue;
      /* the usual case, without a lock: the current version's two files */
      version = read_version (path);
      version_meta = version ? g_strconcat (version, ".meta", NULL) : NULL;
      for (guint i = 0; i < list->len && !stale; i++)
        stale = g_strcmp0 (list->pdata[i], version) != 0 &&
                g_strcmp0 (list->pdata[i], version_meta) != 0;
      if (!stale)
        continue;

      /* with the key's lock, no writer of it is running: what its link does not name is
       * left from a dead one */
      lock = lock_acquire (lock_file, key, NULL);
      if (lock < 0)
        continue;
      g_clear_pointer (&version, g_free);
      g_clear_pointer (&version_meta, g_free);
      version = read_version (path);
      version_meta = version ? g_strconcat (version, ".meta", NULL) : NULL;
      for (guint i = 0; i < list->len; i++)
        if (g_strcmp0 (list->pdata[i], version) != 0 &&
            g_strcmp0 (list->pdata[i], version_meta) != 0)
          {
            g_autofree char *file = g_build_filename (dir_path, list->pdata[i], NULL);

            if (unlink (file) == 0)
              (*removed)++;
          }
      lock_release (lock);
    }
}

/* Removes `.<id>.json~<tag>` temporaries: under the item's lock, no writer has one. */
static void
clean_table_dir (AssayLocalStore *self,
                 AssayTable       table,
                 guint           *removed,
                 GCancellable    *cancellable)
{
  g_autofree char *dir_path = g_build_filename (self->dir, "tables", table_name (table), NULL);
  g_autofree char *lock_file = lock_path (self, table_name (table));
  g_autoptr(GPtrArray) temps = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  DIR *dir;

  dir = opendir (dir_path);
  if (dir == NULL)
    return;
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] == '.' && strstr (entry->d_name, ".json~") != NULL)
      g_ptr_array_add (temps, g_strdup (entry->d_name));
  closedir (dir);

  for (guint i = 0; i < temps->len && !g_cancellable_is_cancelled (cancellable); i++)
    {
      const char *temp = g_ptr_array_index (temps, i);
      g_autofree char *id = g_strndup (temp + 1, (gsize) (strstr (temp, ".json~") - temp - 1));
      g_autofree char *file = g_build_filename (dir_path, temp, NULL);
      int lock = lock_acquire (lock_file, id, NULL);

      if (lock < 0)
        continue;
      if (unlink (file) == 0)
        (*removed)++;
      lock_release (lock);
    }
}

static gboolean
make_dir (const char  *path,
          GError     **error)
{
  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      set_errno_error (error, errno, "cannot create directory %s", path);
      return FALSE;
    }
  return TRUE;
}

/* The names a store's directory may hold. */
static gboolean
is_layout_name (const char *name)
{
  static const char * const names[] = { "store.json", "objects", "tables", "indexes", "locks" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (name, names[i]))
      return TRUE;
  return g_str_has_prefix (name, ".store.json~");
}

static gboolean
check_store_file (AssayLocalStore  *self,
                  GCancellable     *cancellable,
                  GError          **error)
{
  g_autofree char *path = g_build_filename (self->dir, "store.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *text = NULL;
  JsonObject *root;
  JsonNode *node;
  gsize len;

  text = read_small_file (path, &len);
  if (text == NULL && errno == ENOENT)
    {
      g_autoptr(GDir) dir = g_dir_open (self->dir, 0, NULL);
      const char *name;
      g_autofree char *tmp = NULL;
      g_autofree char *tag = random_tag ();
      g_autofree char *content = g_strdup_printf (
        "{\n  \"format\" : \"%s\",\n  \"version\" : %d\n}\n", STORE_FORMAT, STORE_VERSION);
      int errsv = 0;

      /* never spread the layout over someone's files: a new store goes in an empty (or
       * new) directory, or one that another process is initialising right now */
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        if (!is_layout_name (name))
          {
            g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                         "%s is not empty and holds no Assay local store: choose an empty "
                         "or new directory", self->dir);
            return FALSE;
          }

      /* written aside and linked into place: of two processes that init at once, the
       * second finds the first's file */
      tmp = g_strdup_printf ("%s/.store.json~%s", self->dir, tag);
      if (!g_file_set_contents_full (tmp, content, -1,
                                     G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                     0600, NULL))
        errsv = EIO;
      else if (link (tmp, path) < 0 && errno != EEXIST)
        errsv = errno;
      unlink (tmp);
      if (errsv != 0)
        {
          set_errno_error (error, errsv, "cannot write %s", path);
          return FALSE;
        }
      return sync_dir (self->dir, error);
    }
  if (text == NULL)
    {
      set_errno_error (error, errno, "cannot read %s", path);
      return FALSE;
    }
  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL) ||
      (node = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (node) ||
      g_strcmp0 (json_object_get_string_member_with_default (
                   (root = json_node_get_object (node)), "format", NULL),
                 STORE_FORMAT) != 0)
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT,
                   "%s is not the file of an Assay local store: choose another directory",
                   path);
      return FALSE;
    }
  if (json_object_get_int_member_with_default (root, "version", 0) != STORE_VERSION)
    {
      g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                   "the local store in %s has layout version %" G_GINT64_FORMAT ", and this "
                   "Assay reads version %d: use the Assay that made it",
                   self->dir, json_object_get_int_member_with_default (root, "version", 0),
                   STORE_VERSION);
      return FALSE;
    }
  return TRUE;
}

/* Stale `.store.json~*` of an init that was killed: old ones only, since another
 * process may be initialising right now. */
static void
clean_root_dir (AssayLocalStore *self)
{
  g_autoptr(GDir) dir = g_dir_open (self->dir, 0, NULL);
  const char *name;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = NULL;
      struct stat st;

      if (!g_str_has_prefix (name, ".store.json~"))
        continue;
      file = g_build_filename (self->dir, name, NULL);
      if (lstat (file, &st) == 0 && now - st.st_mtime > STALE_ROOT_TEMP_AGE)
        unlink (file);
    }
}

static gboolean
init_sync (AssayLocalStore  *self,
           GCancellable     *cancellable,
           GError          **error)
{
  static const char * const dirs[] = { "objects", "tables/jobs", "tables/results", "locks" };
  static const char * const locks[] = { "objects", "jobs", "results" };
  g_autofree char *root = objects_root (self);
  guint removed = 0;

  if (!make_dir (self->dir, error))
    return FALSE;
  if (!check_store_file (self, cancellable, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (self->dir, dirs[i], NULL);

      if (!make_dir (path, error))
        return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (locks); i++)
    {
      g_autofree char *path = lock_path (self, locks[i]);
      int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

      if (fd < 0)
        {
          set_errno_error (error, errno, "cannot create lock file %s", path);
          return FALSE;
        }
      close (fd);
    }

  clean_root_dir (self);
  clean_objects_dir (self, root, "", &removed, cancellable);
  clean_table_dir (self, ASSAY_TABLE_JOBS, &removed, cancellable);
  clean_table_dir (self, ASSAY_TABLE_RESULTS, &removed, cancellable);
  if (removed > 0)
    g_debug ("%s: removed %u files left by writers that stopped", self->description, removed);
  for (guint i = 0; i < G_N_ELEMENTS (indexes); i++)
    if (!index_build (self, i, cancellable, error))
      return FALSE;
  return check_cancelled (cancellable, error);
}

static void
init_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;

  if (!init_sync (source, cancellable, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* ------------------------------------------------------------------------------------- */
/* AssayStore                                                                            */

/* Jobs on the local store name the bucket and region "local" (both valid forms). */
static const char *
assay_local_store_get_bucket_or_region (AssayStore *store)
{
  return "local";
}

static const char *
assay_local_store_describe (AssayStore *store)
{
  return ASSAY_LOCAL_STORE (store)->description;
}

static gpointer
propagate (AssayStore    *store,
           GAsyncResult  *result,
           gpointer       source_tag,
           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
propagate_boolean (AssayStore    *store,
                   GAsyncResult  *result,
                   gpointer       source_tag,
                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
assay_local_store_put_object_async (AssayStore            *store,
                                    const char            *key,
                                    GBytes                *data,
                                    GHashTable            *metadata,
                                    GFileProgressCallback  progress,
                                    gpointer               progress_data,
                                    GCancellable          *cancellable,
                                    GAsyncReadyCallback    callback,
                                    gpointer               user_data)
{
  Op *op = g_new0 (Op, 1);

  op->key = g_strdup (key);
  op->data = g_bytes_ref (data);
  op->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (metadata != NULL)
    {
      GHashTableIter iter;
      gpointer name, value;

      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &name, &value))
        g_hash_table_insert (op->metadata, g_ascii_strdown (name, -1), g_strdup (value));
    }
  op->progress = progress_new (progress, progress_data);
  op->result_free = g_free;
  run_transfer (ASSAY_LOCAL_STORE (store), op, assay_local_store_put_object_async,
                put_object_thread, cancellable, callback, user_data);
}

static char *
assay_local_store_put_object_finish (AssayStore    *store,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return propagate (store, result, assay_local_store_put_object_async, error);
}

static void
assay_local_store_get_object_async (AssayStore            *store,
                                    const char            *key,
                                    GOutputStream         *output,
                                    GFileProgressCallback  progress,
                                    gpointer               progress_data,
                                    GCancellable          *cancellable,
                                    GAsyncReadyCallback    callback,
                                    gpointer               user_data)
{
  Op *op = g_new0 (Op, 1);

  op->key = g_strdup (key);
  op->output = g_object_ref (output);
  op->progress = progress_new (progress, progress_data);
  op->result_free = (GDestroyNotify) assay_object_info_free;
  run_transfer (ASSAY_LOCAL_STORE (store), op, assay_local_store_get_object_async,
                get_object_thread, cancellable, callback, user_data);
}

static AssayObjectInfo *
assay_local_store_get_object_finish (AssayStore    *store,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return propagate (store, result, assay_local_store_get_object_async, error);
}

static void
assay_local_store_head_object_async (AssayStore          *store,
                                     const char          *key,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->key = g_strdup (key);
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_head_object_async,
          head_object_thread, cancellable, callback, user_data);
}

static AssayObjectInfo *
assay_local_store_head_object_finish (AssayStore    *store,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  return propagate (store, result, assay_local_store_head_object_async, error);
}

static void
assay_local_store_delete_object_async (AssayStore          *store,
                                       const char          *key,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->key = g_strdup (key);
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_delete_object_async,
          delete_object_thread, cancellable, callback, user_data);
}

static gboolean
assay_local_store_delete_object_finish (AssayStore    *store,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  return propagate_boolean (store, result, assay_local_store_delete_object_async, error);
}

static void
assay_local_store_list_objects_async (AssayStore          *store,
                                      const char          *prefix,
                                      const char          *token,
                                      guint                max_keys,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->key = g_strdup (prefix);
  op->token = g_strdup (token);
  op->max_keys = max_keys;
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_list_objects_async,
          list_objects_thread, cancellable, callback, user_data);
}

static AssayObjectList *
assay_local_store_list_objects_finish (AssayStore    *store,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  return propagate (store, result, assay_local_store_list_objects_async, error);
}

static void
assay_local_store_copy_object_async (AssayStore          *store,
                                     const char          *source_key,
                                     const char          *key,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->source_key = g_strdup (source_key);
  op->key = g_strdup (key);
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_copy_object_async,
          copy_object_thread, cancellable, callback, user_data);
}

static gboolean
assay_local_store_copy_object_finish (AssayStore    *store,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  return propagate_boolean (store, result, assay_local_store_copy_object_async, error);
}

static void
assay_local_store_put_item_async (AssayStore          *store,
                                  AssayTable           table,
                                  JsonObject          *item,
                                  AssayCondition      *condition,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->table = table;
  op->item = object_copy (item);
  op->condition = condition ? assay_condition_ref (condition) : NULL;
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_put_item_async, put_item_thread,
          cancellable, callback, user_data);
}

static gboolean
assay_local_store_put_item_finish (AssayStore    *store,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  return propagate_boolean (store, result, assay_local_store_put_item_async, error);
}

static void
assay_local_store_get_item_async (AssayStore          *store,
                                  AssayTable           table,
                                  const char          *id,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->table = table;
  op->key = g_strdup (id);
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_get_item_async, get_item_thread,
          cancellable, callback, user_data);
}

static JsonObject *
assay_local_store_get_item_finish (AssayStore    *store,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  return propagate (store, result, assay_local_store_get_item_async, error);
}

static void
assay_local_store_update_item_async (AssayStore          *store,
                                     AssayTable           table,
                                     const char          *id,
                                     AssayUpdate         *update,
                                     AssayCondition      *condition,
                                     AssayReturnValues    return_values,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->table = table;
  op->key = g_strdup (id);
  op->update = assay_update_ref (update);
  op->condition = condition ? assay_condition_ref (condition) : NULL;
  op->return_values = return_values;
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_update_item_async,
          update_item_thread, cancellable, callback, user_data);
}

static JsonObject *
assay_local_store_update_item_finish (AssayStore    *store,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  return propagate (store, result, assay_local_store_update_item_async, error);
}

static void
assay_local_store_delete_item_async (AssayStore          *store,
                                     AssayTable           table,
                                     const char          *id,
                                     AssayCondition      *condition,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->table = table;
  op->key = g_strdup (id);
  op->condition = condition ? assay_condition_ref (condition) : NULL;
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_delete_item_async,
          delete_item_thread, cancellable, callback, user_data);
}

static gboolean
assay_local_store_delete_item_finish (AssayStore    *store,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  return propagate_boolean (store, result, assay_local_store_delete_item_async, error);
}

static void
assay_local_store_query_async (AssayStore          *store,
                               AssayTable           table,
                               const AssayQuery    *query,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  op->table = table;
  op->index = g_strdup (query->index);
  op->hash_name = g_strdup (query->hash_name);
  op->hash_value = query->hash_value ? json_node_copy (query->hash_value) : NULL;
  op->range_name = g_strdup (query->range_name);
  op->range_op = query->range_op;
  op->range_value = query->range_value ? json_node_copy (query->range_value) : NULL;
  op->limit = query->limit;
  op->start_key = query->start_key ? object_copy (query->start_key) : NULL;
  run_op (ASSAY_LOCAL_STORE (store), op, assay_local_store_query_async, query_thread,
          cancellable, callback, user_data);
}

static AssayItemPage *
assay_local_store_query_finish (AssayStore    *store,
                                GAsyncResult  *result,
                                GError       **error)
{
  return propagate (store, result, assay_local_store_query_async, error);
}

static void
assay_local_store_init_async (AssayStore          *store,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  run_op (ASSAY_LOCAL_STORE (store), g_new0 (Op, 1), assay_local_store_init_async, init_thread,
          cancellable, callback, user_data);
}

static gboolean
assay_local_store_init_finish (AssayStore    *store,
                               GAsyncResult  *result,
                               GError       **error)
{
  return propagate_boolean (store, result, assay_local_store_init_async, error);
}

static void
assay_local_store_iface_init (AssayStoreInterface *iface)
{
  iface->describe = assay_local_store_describe;
  iface->get_bucket = assay_local_store_get_bucket_or_region;
  iface->get_region = assay_local_store_get_bucket_or_region;
  iface->put_object_async = assay_local_store_put_object_async;
  iface->put_object_finish = assay_local_store_put_object_finish;
  iface->get_object_async = assay_local_store_get_object_async;
  iface->get_object_finish = assay_local_store_get_object_finish;
  iface->head_object_async = assay_local_store_head_object_async;
  iface->head_object_finish = assay_local_store_head_object_finish;
  iface->delete_object_async = assay_local_store_delete_object_async;
  iface->delete_object_finish = assay_local_store_delete_object_finish;
  iface->list_objects_async = assay_local_store_list_objects_async;
  iface->list_objects_finish = assay_local_store_list_objects_finish;
  iface->copy_object_async = assay_local_store_copy_object_async;
  iface->copy_object_finish = assay_local_store_copy_object_finish;
  iface->put_item_async = assay_local_store_put_item_async;
  iface->put_item_finish = assay_local_store_put_item_finish;
  iface->get_item_async = assay_local_store_get_item_async;
  iface->get_item_finish = assay_local_store_get_item_finish;
  iface->update_item_async = assay_local_store_update_item_async;
  iface->update_item_finish = assay_local_store_update_item_finish;
  iface->delete_item_async = assay_local_store_delete_item_async;
  iface->delete_item_finish = assay_local_store_delete_item_finish;
  iface->query_async = assay_local_store_query_async;
  iface->query_finish = assay_local_store_query_finish;
  iface->init_async = assay_local_store_init_async;
  iface->init_finish = assay_local_store_init_finish;
}

/* ------------------------------------------------------------------------------------- */
/* GObject                                                                               */

static void
assay_local_store_constructed (GObject *object)
{
  AssayLocalStore *self = ASSAY_LOCAL_STORE (object);

  G_OBJECT_CLASS (assay_local_store_parent_class)->constructed (object);

  if (self->dir == NULL)
    self->dir = assay_local_store_default_dir ();
  self->description = g_strdup_printf ("local store in %s", self->dir);
}

static void
assay_local_store_finalize (GObject *object)
{
  AssayLocalStore *self = ASSAY_LOCAL_STORE (object);

  g_free (self->dir);
  g_free (self->description);

  G_OBJECT_CLASS (assay_local_store_parent_class)->finalize (object);
}

static void
assay_local_store_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  AssayLocalStore *self = ASSAY_LOCAL_STORE (object);

  switch (prop_id)
    {
    case PROP_DIR:
      g_value_set_string (value, self->dir);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_local_store_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  AssayLocalStore *self = ASSAY_LOCAL_STORE (object);

  switch (prop_id)
    {
    case PROP_DIR:
      {
        const char *dir = g_value_get_string (value);

        /* absolute, so that a chdir() of the program cannot move the store */
        self->dir = dir != NULL ? g_canonicalize_filename (dir, NULL) : NULL;
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_local_store_class_init (AssayLocalStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = assay_local_store_constructed;
  object_class->finalize = assay_local_store_finalize;
  object_class->get_property = assay_local_store_get_property;
  object_class->set_property = assay_local_store_set_property;

  /**
   * AssayLocalStore:dir:
   * The store's directory; %NULL for the default, `$XDG_DATA_HOME/assay/store`.
   */
  properties[PROP_DIR] =
    g_param_spec_string ("dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
assay_local_store_init (AssayLocalStore *self)
{
}

/**
 * assay_local_store_new:
 * @dir: (nullable): the store's directory, or %NULL for the default
 *
 * The directory need not exist: assay_store_init_async() makes it.
 */
AssayLocalStore *
assay_local_store_new (const char *dir)
{
  return g_object_new (ASSAY_TYPE_LOCAL_STORE, "dir", dir, NULL);
}

const char *
assay_local_store_get_dir (AssayLocalStore *self)
{
  g_return_val_if_fail (ASSAY_IS_LOCAL_STORE (self), NULL);

  return self->dir;
}

/* Returns: (transfer full): `$XDG_DATA_HOME/assay/store`. */
char *
assay_local_store_default_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "assay", "store", NULL);
}
