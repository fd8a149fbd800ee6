/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-archive"

#include "config.h"

#include "assay-archive.h"
#include "assay-time.h"
#include "assay-worker-config.h"
#include "assay-worker-job.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#define BLOCK 65536

typedef struct
{
  char *name;     /* valid/<id> */
  char *key;      /* the original, or NULL for a member kept from the old zip */
  guint64 size;
  char *sha256;
  gint64 mtime;
} Member;

static void
member_free (Member *member)
{
  g_free (member->name);
  g_free (member->key);
  g_free (member->sha256);
  g_free (member);
}

static void
crash_point (const char *point)
{
  if (g_strcmp0 (g_getenv ("ASSAY_ARCHIVE_TEST_CRASH"), point) == 0)
    raise (SIGKILL);
}

/**
 * assay_archive_parse_age:
 * Reads a duration (assay_parse_duration()) or a number of days ("30d").
 */
gboolean
assay_archive_parse_age (const char *text,
                         guint64    *out_ms)
{
  guint ms;

  if (text == NULL)
    return FALSE;
  if (g_str_has_suffix (text, "d"))
    {
      g_autofree char *number = g_strndup (text, strlen (text) - 1);
      guint64 days;

      if (!g_ascii_string_to_unsigned (number, 10, 0, 100000, &days, NULL))
        return FALSE;
      *out_ms = days * 24 * 3600 * 1000;
      return TRUE;
    }
  if (!assay_parse_duration (text, &ms))
    return FALSE;
  *out_ms = ms;
  return TRUE;
}

/* <prefix>{valid,invalid}/YYYY/MM/DD/<id> → the member name and "YYYY-MM-DD". */
static gboolean
parse_key (const char  *prefix,
           const char  *key,
           char       **out_name,
           char       **out_day)
{
  const char *rest;
  const char *state;
  g_auto(GStrv) parts = NULL;

  if (!g_str_has_prefix (key, prefix))
    return FALSE;
  rest = key + strlen (prefix);
  parts = g_strsplit (rest, "/", -1);
  if (g_strv_length (parts) != 5)
    return FALSE;
  state = parts[0];
  if (!g_str_equal (state, "valid") && !g_str_equal (state, "invalid"))
    return FALSE;
  if (strlen (parts[1]) != 4 || strlen (parts[2]) != 2 || strlen (parts[3]) != 2 ||
      *parts[4] == '\0')
    return FALSE;
  for (guint i = 1; i <= 3; i++)
    for (const char *p = parts[i]; *p != '\0'; p++)
      if (!g_ascii_isdigit (*p))
        return FALSE;
  *out_name = g_strdup_printf ("%s/%s", state, parts[4]);
  *out_day = g_strdup_printf ("%s-%s-%s", parts[1], parts[2], parts[3]);
  return TRUE;
}

/* Whether @day ("YYYY-MM-DD") ended at least @older_than_ms before @now. */
static gboolean
day_is_old (const char *day,
            GDateTime  *now,
            guint64     older_than_ms)
{
  int y, m, d;
  g_autoptr(GDateTime) start = NULL;
  g_autoptr(GDateTime) end = NULL;

  if (sscanf (day, "%4d-%2d-%2d", &y, &m, &d) != 3)
    return FALSE;
  start = g_date_time_new_utc (y, m, d, 0, 0, 0);
  if (start == NULL)
    return FALSE;
  end = g_date_time_add_days (start, 1);
  return g_date_time_difference (now, end) >= (GTimeSpan) older_than_ms * 1000;
}

static gboolean
archive_failed (struct archive  *a,
                const char      *what,
                const char      *path,
                GError         **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s: %s", what, path,
               archive_error_string (a) ? archive_error_string (a) : "libarchive failed");
  return FALSE;
}

/* Writes one member from @read (a file or the old zip's current entry). */
static gboolean
write_member (struct archive  *out,
              Member          *member,
              gssize         (*read) (gpointer data, guint8 *buf, gsize len, GError **error),
              gpointer         data,
              const char      *zip_path,
              GError         **error)
{
  g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  struct archive_entry *entry = archive_entry_new ();
  g_autofree guint8 *buf = g_malloc (BLOCK);
  guint64 total = 0;
  gssize n;

  archive_entry_set_pathname (entry, member->name);
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_perm (entry, 0600);
  archive_entry_set_size (entry, (la_int64_t) member->size);
  archive_entry_set_mtime (entry, member->mtime, 0);
  if (archive_write_header (out, entry) != ARCHIVE_OK)
    {
      archive_entry_free (entry);
      return archive_failed (out, "cannot write a member into", zip_path, error);
    }
  archive_entry_free (entry);
  while ((n = read (data, buf, BLOCK, error)) > 0)
    {
      g_checksum_update (sha, buf, n);
      total += (guint64) n;
      if (archive_write_data (out, buf, (size_t) n) != n)
        return archive_failed (out, "cannot write into", zip_path, error);
    }
  if (n < 0)
    return FALSE;
  if (archive_write_finish_entry (out) != ARCHIVE_OK)
    return archive_failed (out, "cannot write into", zip_path, error);
  if (total != member->size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: read %" G_GUINT64_FORMAT
                   " bytes, expected %" G_GUINT64_FORMAT, member->name, total, member->size);
      return FALSE;
    }
  if (member->sha256 == NULL)
    member->sha256 = g_strdup (g_checksum_get_string (sha));
  else if (!g_str_equal (member->sha256, g_checksum_get_string (sha)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s changed while it was zipped",
                   member->name);
      return FALSE;
    }
  return TRUE;
}

static gssize
read_stream (gpointer  data,
             guint8   *buf,
             gsize     len,
             GError  **error)
{
  return g_input_stream_read (data, buf, len, NULL, error);
}

static gssize
read_archive (gpointer  data,
              guint8   *buf,
              gsize     len,
              GError  **error)
{
  la_ssize_t n = archive_read_data (data, buf, len);

  if (n < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the old zip is damaged: %s",
                   archive_error_string (data));
      return -1;
    }
  return n;
}

/* The SHA-256 and size of a file. */
static char *
hash_file (const char  *path,
           guint64     *out_size,
           GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) input = g_file_read (file, NULL, error);
  g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (BLOCK);
  gssize n;

  *out_size = 0;
  if (input == NULL)
    return NULL;
  while ((n = g_input_stream_read (G_INPUT_STREAM (input), buf, BLOCK, NULL, error)) > 0)
    {
      g_checksum_update (sha, buf, n);
      *out_size += (guint64) n;
    }
  if (n < 0)
    return NULL;
  return g_strdup (g_checksum_get_string (sha));
}

/* Re-reads @zip_path: exactly the members of @expected (name → Member), each once, with
 * its size and SHA-256; libarchive checks each member's CRC-32 as it reads it. */
static gboolean
verify_zip (const char  *zip_path,
            GHashTable  *expected,
            GError     **error)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree guint8 *buf = g_malloc (BLOCK);
  gboolean ok = FALSE;
  int r;

  archive_read_support_format_zip_seekable (a);
  if (archive_read_open_filename (a, zip_path, BLOCK) != ARCHIVE_OK)
    {
      archive_failed (a, "cannot read", zip_path, error);
      goto out;
    }
  while ((r = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      const char *name = archive_entry_pathname (entry);
      Member *member = name ? g_hash_table_lookup (expected, name) : NULL;
      g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
      guint64 total = 0;
      la_ssize_t n;

      if (member == NULL || g_hash_table_contains (seen, name))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "%s holds %s member “%s”", zip_path,
                       member == NULL ? "an unexpected" : "a second", name ? name : "");
          goto out;
        }
      g_hash_table_add (seen, (gpointer) member->name);
      while ((n = archive_read_data (a, buf, BLOCK)) > 0)
        {
          g_checksum_update (sha, buf, (gsize) n);
          total += (guint64) n;
        }
      if (n < 0)
        {
          archive_failed (a, "a member is damaged (size or CRC) in", zip_path, error);
          goto out;
        }
      if (total != member->size || (archive_entry_size_is_set (entry) &&
                                    (guint64) archive_entry_size (entry) != member->size) ||
          !g_str_equal (g_checksum_get_string (sha), member->sha256))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "member %s of %s is not what was written (%" G_GUINT64_FORMAT
                       " bytes, SHA-256 %s; expected %" G_GUINT64_FORMAT " bytes, %s)",
                       name, zip_path, total, g_checksum_get_string (sha), member->size,
                       member->sha256);
          goto out;
        }
    }
  if (r != ARCHIVE_EOF)
    {
      archive_failed (a, "cannot read", zip_path, error);
      goto out;
    }
  if (g_hash_table_size (seen) != g_hash_table_size (expected))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s holds %u members, not %u",
                   zip_path, g_hash_table_size (seen), g_hash_table_size (expected));
      goto out;
    }
  ok = TRUE;
out:
  archive_read_free (a);
  return ok;
}

/* Copies the old zip's members into @out; adds them to @members and @by_name. */
static gboolean
copy_old_members (const char      *old_path,
                  struct archive  *out,
                  const char      *zip_path,
                  GPtrArray       *members,
                  GHashTable      *by_name,
                  GError         **error)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  gboolean ok = FALSE;
  int r;

  archive_read_support_format_zip_seekable (a);
  if (archive_read_open_filename (a, old_path, BLOCK) != ARCHIVE_OK)
    {
      archive_failed (a, "cannot read the day's zip", old_path, error);
      goto out;
    }
  while ((r = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      Member *member = g_new0 (Member, 1);

      member->name = g_strdup (archive_entry_pathname (entry));
      member->size = (guint64) archive_entry_size (entry);
      member->mtime = archive_entry_mtime (entry);
      if (member->name == NULL || g_hash_table_contains (by_name, member->name))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the day's zip holds member "
                       "“%s” twice", member->name ? member->name : "");
          member_free (member);
          goto out;
        }
      g_ptr_array_add (members, member);
      g_hash_table_insert (by_name, member->name, member);
      if (!write_member (out, member, read_archive, a, zip_path, error))
        goto out;
    }
  if (r != ARCHIVE_EOF)
    {
      archive_failed (a, "cannot read the day's zip", old_path, error);
      goto out;
    }
  ok = TRUE;
out:
  archive_read_free (a);
  return ok;
}

static gboolean
put_manifest (AssayStore  *store,
              const char  *key,
              const char  *day,
              const char  *zip_key,
              GPtrArray   *members,
              GError     **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *now = assay_time_now ();
  g_autofree char *text = NULL;
  g_autofree char *path = NULL;
  g_autofree char *etag = NULL;
  int fd;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "day");
  json_builder_add_string_value (builder, day);
  json_builder_set_member_name (builder, "zip");
  json_builder_add_string_value (builder, zip_key);
  json_builder_set_member_name (builder, "written");
  json_builder_add_string_value (builder, now);
  json_builder_set_member_name (builder, "members");
  json_builder_begin_array (builder);
  for (guint i = 0; i < members->len; i++)
    {
      Member *member = g_ptr_array_index (members, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, member->name);
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, (gint64) member->size);
      json_builder_set_member_name (builder, "sha256");
      json_builder_add_string_value (builder, member->sha256);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, TRUE);
  fd = g_file_open_tmp ("assay-manifest-XXXXXX.json", &path, error);
  if (fd < 0)
    return FALSE;
  close (fd);
  if (!g_file_set_contents (path, text, -1, error))
    {
      g_unlink (path);
      return FALSE;
    }
  etag = _assay_store_put_file_sync (store, key, path, NULL, ASSAY_STORE_PUT_ENCRYPT, error);
  g_unlink (path);
  return etag != NULL;
}

/* Compacts one day; @originals: AssayObjectInfo of the day's archived objects. */
static gboolean
compact_day (AssayLifecycle  *lifecycle,
             const char      *day,
             GPtrArray       *originals,
             const char      *work_dir,
             JsonObject      *line,
             GError         **error)
{
  AssayStore *store = assay_lifecycle_get_store (lifecycle);
  const char *prefix = assay_lifecycle_get_archive_prefix (lifecycle);
  g_autofree char *zip_key = g_strdup_printf ("%szips/%s.zip", prefix, day);
  g_autofree char *manifest_key = g_strdup_printf ("%szips/%s.json", prefix, day);
  g_autofree char *template = g_build_filename (work_dir, "compact-XXXXXX", NULL);
  g_autofree char *old_path = NULL;
  g_autofree char *new_path = NULL;
  g_autofree char *check_path = NULL;
  g_autofree char *member_path = NULL;
  g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func ((GDestroyNotify) member_free);
  g_autoptr(GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) to_delete = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(AssayObjectInfo) old = NULL;
  g_autoptr(GError) local_error = NULL;
  struct archive *out = NULL;
  const char *dir;
  guint added = 0, already = 0, deleted = 0;
  gboolean ok = FALSE;

  if (g_mkdir_with_parents (work_dir, 0700) < 0 || (dir = g_mkdtemp_full (template, 0700)) == NULL)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot make a private directory in %s: %s", work_dir, g_strerror (saved));
      return FALSE;
    }
  old_path = g_build_filename (dir, "old.zip", NULL);
  new_path = g_build_filename (dir, "new.zip", NULL);
  check_path = g_build_filename (dir, "check.zip", NULL);
  member_path = g_build_filename (dir, "member", NULL);

  old = _assay_store_get_file_sync (store, zip_key, old_path, &local_error);
  if (old == NULL && !g_error_matches (local_error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot read the day's zip %s: ", zip_key);
      goto out;
    }
  g_clear_error (&local_error);

  out = archive_write_new ();
  if (archive_write_set_format_zip (out) != ARCHIVE_OK ||
      archive_write_open_filename (out, new_path) != ARCHIVE_OK)
    {
      archive_failed (out, "cannot write", new_path, error);
      goto out;
    }
  if (old != NULL && !copy_old_members (old_path, out, new_path, members, by_name, error))
    goto out;

  for (guint i = 0; i < originals->len; i++)
    {
      AssayObjectInfo *info = g_ptr_array_index (originals, i);
      g_autoptr(AssayObjectInfo) got = NULL;
      g_autofree char *name = NULL;
      g_autofree char *ignored = NULL;
      g_autofree char *sha = NULL;
      g_autoptr(GFile) file = NULL;
      g_autoptr(GFileInputStream) input = NULL;
      Member *member;
      guint64 size;

      parse_key (prefix, info->key, &name, &ignored);
      got = _assay_store_get_file_sync (store, info->key, member_path, error);
      if (got == NULL)
        goto out;
      sha = hash_file (member_path, &size, error);
      if (sha == NULL)
        goto out;
      member = g_hash_table_lookup (by_name, name);
      if (member != NULL)
        {
          /* zipped by a run that was stopped before it deleted the original */
          if (!g_str_equal (member->sha256, sha) || member->size != size)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "%s is already in %s with other content (SHA-256 %s there, %s "
                           "here): left as it is; compare them and delete one", info->key,
                           zip_key, member->sha256, sha);
              goto out;
            }
          g_ptr_array_add (to_delete, g_strdup (info->key));
          already++;
          continue;
        }
      member = g_new0 (Member, 1);
      member->name = g_steal_pointer (&name);
      member->key = g_strdup (info->key);
      member->size = size;
      member->sha256 = g_steal_pointer (&sha);
      member->mtime = got->modified ? g_date_time_to_unix (got->modified)
                                    : g_get_real_time () / G_USEC_PER_SEC;
      g_ptr_array_add (members, member);
      g_hash_table_insert (by_name, member->name, member);
      file = g_file_new_for_path (member_path);
      input = g_file_read (file, NULL, error);
      if (input == NULL || !write_member (out, member, read_stream, input, new_path, error))
        goto out;
      g_input_stream_close (G_INPUT_STREAM (input), NULL, NULL);
      g_unlink (member_path);
      g_ptr_array_add (to_delete, g_strdup (info->key));
      added++;
    }
  if (archive_write_close (out) != ARCHIVE_OK)
    {
      archive_failed (out, "cannot finish", new_path, error);
      goto out;
    }
  g_clear_pointer (&out, archive_write_free);

  if (added > 0)
    {
      g_autofree char *etag = NULL;
      g_autoptr(AssayObjectInfo) check = NULL;

      if (!verify_zip (new_path, by_name, error))
        goto out;
      /* one PUT replaces the old zip at once: a reader sees the old or the new */
      etag = _assay_store_put_file_sync (store, zip_key, new_path, NULL, ASSAY_STORE_PUT_ENCRYPT,
                                         error);
      if (etag == NULL)
        goto out;
      crash_point ("after-upload");
      /* what the store holds now is what is checked before anything is deleted */
      check = _assay_store_get_file_sync (store, zip_key, check_path, error);
      if (check == NULL || !verify_zip (check_path, by_name, error))
        goto out;
      if (!put_manifest (store, manifest_key, day, zip_key, members, error))
        goto out;
    }
  else if (old != NULL && !verify_zip (old_path, by_name, error))
    goto out;

  for (guint i = 0; i < to_delete->len; i++)
    {
      if (!_assay_store_delete_sync (store, g_ptr_array_index (to_delete, i), error))
        goto out;
      deleted++;
      crash_point ("after-delete");
    }
  json_object_set_string_member (line, "day", day);
  json_object_set_string_member (line, "zip", zip_key);
  json_object_set_int_member (line, "added", added);
  json_object_set_int_member (line, "already_zipped", already);
  json_object_set_int_member (line, "members", members->len);
  json_object_set_int_member (line, "deleted", deleted);
  ok = TRUE;
out:
  if (out != NULL)
    archive_write_free (out);
  _assay_remove_tree (dir);
  return ok;
}

static int
compare_info (gconstpointer a,
              gconstpointer b)
{
  const AssayObjectInfo *x = *(AssayObjectInfo * const *) a;
  const AssayObjectInfo *y = *(AssayObjectInfo * const *) b;

  return strcmp (x->key, y->key);
}

gboolean
assay_archive_compact (AssayLifecycle  *lifecycle,
                       guint64          older_than_ms,
                       const char      *work_dir,
                       void           (*report) (JsonObject *line,
                                                 gpointer    data),
                       gpointer         report_data,
                       GError         **error)
{
  AssayStore *store = assay_lifecycle_get_store (lifecycle);
  const char *prefix = assay_lifecycle_get_archive_prefix (lifecycle);
  static const char * const states[] = { "valid/", "invalid/" };
  g_autoptr(GHashTable) days = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                      (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GList) names = NULL;

  for (guint s = 0; s < G_N_ELEMENTS (states); s++)
    {
      g_autofree char *state_prefix = g_strconcat (prefix, states[s], NULL);
      g_autoptr(GPtrArray) objects = _assay_store_list_all_sync (store, state_prefix, error);

      if (objects == NULL)
        return FALSE;
      for (guint i = 0; i < objects->len; i++)
        {
          AssayObjectInfo *info = g_ptr_array_index (objects, i);
          g_autofree char *name = NULL;
          g_autofree char *day = NULL;
          GPtrArray *list;

          if (!parse_key (prefix, info->key, &name, &day) || !day_is_old (day, now, older_than_ms))
            continue;
          list = g_hash_table_lookup (days, day);
          if (list == NULL)
            {
              list = g_ptr_array_new_with_free_func ((GDestroyNotify) assay_object_info_free);
              g_hash_table_insert (days, g_strdup (day), list);
            }
          g_ptr_array_add (list, g_ptr_array_steal_index (objects, i--));
        }
    }

  names = g_list_sort (g_hash_table_get_keys (days), (GCompareFunc) strcmp);
  for (GList *l = names; l != NULL; l = l->next)
    {
      GPtrArray *originals = g_hash_table_lookup (days, l->data);
      g_autoptr(JsonObject) line = json_object_new ();

      g_ptr_array_sort (originals, compare_info);
      json_object_set_string_member (line, "event", "archive-compacted");
      if (!compact_day (lifecycle, l->data, originals, work_dir, line, error))
        {
          g_prefix_error (error, "compacting %s: ", (const char *) l->data);
          return FALSE;
        }
      if (report != NULL)
        report (line, report_data);
    }
  return TRUE;
}
