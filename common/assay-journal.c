/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-journal.h"
#include "assay-id.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

struct _AssayJournal
{
  GObject parent_instance;

  char *dir;
};

G_DEFINE_FINAL_TYPE (AssayJournal, assay_journal, G_TYPE_OBJECT)

AssayJournalEntry *
assay_journal_entry_new (const char *path)
{
  AssayJournalEntry *entry = g_new0 (AssayJournalEntry, 1);

  entry->path = g_strdup (path);
  return entry;
}

void
assay_journal_entry_free (AssayJournalEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->path);
  g_free (entry->job);
  g_free (entry->file);
  g_free (entry->hash);
  g_free (entry);
}

static void
assay_journal_finalize (GObject *object)
{
  AssayJournal *self = ASSAY_JOURNAL (object);

  g_free (self->dir);

  G_OBJECT_CLASS (assay_journal_parent_class)->finalize (object);
}

static void
assay_journal_class_init (AssayJournalClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_journal_finalize;
}

static void
assay_journal_init (AssayJournal *self)
{
}

AssayJournal *
assay_journal_new (const char *dir)
{
  AssayJournal *self = g_object_new (ASSAY_TYPE_JOURNAL, NULL);

  self->dir = g_strdup (dir);
  return self;
}

/* The journal in $XDG_STATE_HOME/assay/journal. */
AssayJournal *
assay_journal_new_default (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_state_dir (), "assay", "journal", NULL);

  return assay_journal_new (dir);
}

const char *
assay_journal_get_dir (AssayJournal *self)
{
  return self->dir;
}

/* One record per absolute path, named by the path's SHA-256 (paths may hold anything). */
static char *
record_path (AssayJournal *self,
             const char   *path)
{
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, path, -1);
  g_autofree char *name = g_strconcat (digest, ".json", NULL);

  return g_build_filename (self->dir, name, NULL);
}

static const char *
state_to_string (AssayJournalState state)
{
  switch (state)
    {
    case ASSAY_JOURNAL_UPLOADING:
      return "uploading";
    case ASSAY_JOURNAL_SUBMITTED:
      return "submitted";
    case ASSAY_JOURNAL_CANCELLED:
      return "cancelled";
    default:
      g_assert_not_reached ();
    }
}

static gboolean
read_entry (JsonObject         *object,
            AssayJournalEntry  *entry)
{
  const char *state;

  if (!json_object_has_member (object, "path") || !json_object_has_member (object, "state"))
    return FALSE;
  state = json_object_get_string_member_with_default (object, "state", "");
  if (g_str_equal (state, "uploading"))
    entry->state = ASSAY_JOURNAL_UPLOADING;
  else if (g_str_equal (state, "submitted"))
    entry->state = ASSAY_JOURNAL_SUBMITTED;
  else if (g_str_equal (state, "cancelled"))
    entry->state = ASSAY_JOURNAL_CANCELLED;
  else
    return FALSE;
  entry->size = json_object_get_int_member_with_default (object, "size", 0);
  entry->mtime_us = json_object_get_int_member_with_default (object, "mtime_us", 0);
  entry->job = g_strdup (json_object_get_string_member_with_default (object, "job", NULL));
  entry->file = g_strdup (json_object_get_string_member_with_default (object, "file", NULL));
  entry->preset = json_object_get_int_member_with_default (object, "preset", 0);
  entry->chunk_size = json_object_get_int_member_with_default (object, "chunk_size", 0);
  entry->chunks = json_object_get_int_member_with_default (object, "chunks", 0);
  entry->hash = g_strdup (json_object_get_string_member_with_default (object, "hash", NULL));
  return assay_id_is_valid (ASSAY_ID_JOB, entry->job) &&
         assay_id_is_valid (ASSAY_ID_FILE, entry->file);
}

/**
 * assay_journal_lookup:
 * Returns: (transfer full) (nullable): the record of @path, or %NULL when there is
 * none. A record that cannot be read (a damaged or foreign file) counts as none.
 */
AssayJournalEntry *
assay_journal_lookup (AssayJournal  *self,
                      const char    *path,
                      GError       **error)
{
  g_autofree char *file = record_path (self, path);
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(AssayJournalEntry) entry = assay_journal_entry_new (path);
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  g_return_val_if_fail (ASSAY_IS_JOURNAL (self), NULL);

  if (!g_file_get_contents (file, &text, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return NULL;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot read the journal record of %s: ", path);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      !read_entry (json_node_get_object (root), entry) ||
      g_strcmp0 (json_object_get_string_member_with_default (json_node_get_object (root), "path",
                                                             NULL),
                 path) != 0)
    {
      g_debug ("ignoring the damaged journal record %s", file);
      return NULL;
    }
  return g_steal_pointer (&entry);
}

/**
 * assay_journal_list:
 * Returns: (transfer full) (element-type AssayJournalEntry): every readable record.
 */
GPtrArray *
assay_journal_list (AssayJournal *self)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) assay_journal_entry_free);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_return_val_if_fail (ASSAY_IS_JOURNAL (self), entries);

  dir = g_dir_open (self->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (self->dir, name, NULL);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonNode *root;
      const char *path;
      AssayJournalEntry *entry;

      if (!g_str_has_suffix (name, ".json") || !json_parser_load_from_file (parser, file, NULL) ||
          (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        continue;
      path = json_object_get_string_member_with_default (json_node_get_object (root), "path",
                                                         NULL);
      if (path == NULL)
        continue;
      entry = assay_journal_entry_new (path);
      if (read_entry (json_node_get_object (root), entry))
        g_ptr_array_add (entries, entry);
      else
        assay_journal_entry_free (entry);
    }
  return entries;
}

gboolean
assay_journal_save (AssayJournal       *self,
                    AssayJournalEntry  *entry,
                    GError            **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *file = NULL;

  g_return_val_if_fail (ASSAY_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (entry != NULL && entry->path != NULL, FALSE);

  if (g_mkdir_with_parents (self->dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the journal folder %s: %s", self->dir, g_strerror (saved));
      return FALSE;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, entry->path);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, state_to_string (entry->state));
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) entry->size);
  json_builder_set_member_name (builder, "mtime_us");
  json_builder_add_int_value (builder, entry->mtime_us);
  json_builder_set_member_name (builder, "job");
  json_builder_add_string_value (builder, entry->job);
  json_builder_set_member_name (builder, "file");
  json_builder_add_string_value (builder, entry->file);
  json_builder_set_member_name (builder, "preset");
  json_builder_add_int_value (builder, entry->preset);
  json_builder_set_member_name (builder, "chunk_size");
  json_builder_add_int_value (builder, (gint64) entry->chunk_size);
  json_builder_set_member_name (builder, "chunks");
  json_builder_add_int_value (builder, entry->chunks);
  if (entry->hash != NULL)
    {
      json_builder_set_member_name (builder, "hash");
      json_builder_add_string_value (builder, entry->hash);
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  file = record_path (self, entry->path);
  if (!g_file_set_contents_full (file, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    {
      g_prefix_error (error, "cannot write the journal (is the disk full?): ");
      return FALSE;
    }
  return TRUE;
}

gboolean
assay_journal_remove (AssayJournal  *self,
                      const char    *path,
                      GError       **error)
{
  g_autofree char *file = record_path (self, path);

  g_return_val_if_fail (ASSAY_IS_JOURNAL (self), FALSE);

  if (g_unlink (file) != 0 && errno != ENOENT)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot remove the journal record %s: %s", file, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
