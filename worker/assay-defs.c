/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-defs"

#include "config.h"

#include "assay-defs.h"
#include "assay-time.h"
#include "assay-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

G_DEFINE_QUARK (assay-defs-error-quark, assay_defs_error)

#define HASH_BLOCK (1 << 20)

/* What libclamav reads from a database directory, and freshclam's incremental files. */
static const char * const extensions[] = {
  "cvd", "cld", "cud", "cdiff", "ndb", "ndu", "hdb", "hdu", "hsb", "hsu", "mdb", "mdu", "msb",
  "msu", "ldb", "ldu", "idb", "cdb", "crb", "cat", "cbc", "ftm", "fp", "sfp", "ign", "ign2",
  "pdb", "gdb", "wdb", "yar", "yara", "pwdb", "imp", "info", "cfg", NULL,
};

/* Returns: whether @name is a plain file name (no directory) with a definitions extension */
gboolean
assay_defs_is_definitions_file (const char *name)
{
  const char *dot;

  if (name == NULL || *name == '\0' || *name == '.' || strchr (name, '/') != NULL ||
      strchr (name, '\\') != NULL || strlen (name) > 200 || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  for (const char *p = name; *p; p++)
    if (g_ascii_iscntrl (*p))
      return FALSE;
  dot = strrchr (name, '.');
  return dot != NULL && dot != name && g_strv_contains (extensions, dot + 1);
}

static void
defs_file_free (AssayDefsFile *file)
{
  g_free (file->name);
  g_free (file->key);
  g_free (file->sha256);
  g_free (file);
}

void
assay_defs_manifest_free (AssayDefsManifest *manifest)
{
  if (manifest == NULL)
    return;
  g_free (manifest->version);
  g_free (manifest->published);
  g_free (manifest->set);
  g_clear_pointer (&manifest->files, g_ptr_array_unref);
  g_free (manifest->digest);
  g_free (manifest);
}

static AssayDefsManifest *
manifest_new (void)
{
  AssayDefsManifest *manifest = g_new0 (AssayDefsManifest, 1);

  manifest->files = g_ptr_array_new_with_free_func ((GDestroyNotify) defs_file_free);
  return manifest;
}

static gboolean
corrupt (GError     **error,
         const char  *what)
{
  g_set_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_CORRUPT,
               "the definitions manifest %s is corrupt (%s): publish the set again with "
               "`assay-worker defs publish --from DIR`",
               ASSAY_DEFS_MANIFEST_KEY, what);
  return FALSE;
}

static const char *
string_member (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
is_sha256_hex (const char *text)
{
  if (text == NULL || strlen (text) != 64)
    return FALSE;
  for (guint i = 0; i < 64; i++)
    if (!g_ascii_isxdigit (text[i]) || g_ascii_isupper (text[i]))
      return FALSE;
  return TRUE;
}

/**
 * assay_defs_manifest_parse:
 * Reads and checks a manifest: every member present with its type, each file a plain
 * definitions file name under the set's prefix, with a size and a SHA-256.
 * Returns: (transfer full): the manifest, or NULL with ASSAY_DEFS_ERROR_CORRUPT
 */
AssayDefsManifest *
assay_defs_manifest_parse (GBytes  *bytes,
                           GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(AssayDefsManifest) manifest = manifest_new ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *prefix = NULL;
  JsonNode *root, *files;
  JsonObject *object;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 0 || len > ASSAY_DEFS_MANIFEST_MAX)
    return corrupt (error, "empty or larger than 1 MiB"), NULL;
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local_error))
    return corrupt (error, local_error->message), NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return corrupt (error, "not a JSON object"), NULL;
  object = json_node_get_object (root);
  if (g_strcmp0 (string_member (object, "format"), ASSAY_DEFS_FORMAT) != 0)
    return corrupt (error, "format is not \"" ASSAY_DEFS_FORMAT "\""), NULL;
  manifest->version = g_strdup (string_member (object, "version"));
  manifest->published = g_strdup (string_member (object, "published"));
  manifest->set = g_strdup (string_member (object, "set"));
  if (manifest->version == NULL || *manifest->version == '\0' || manifest->published == NULL ||
      manifest->set == NULL || *manifest->set == '\0' || strchr (manifest->set, '/') != NULL ||
      *manifest->set == '.')
    return corrupt (error, "version, published or set missing or malformed"), NULL;
  files = json_object_get_member (object, "files");
  if (files == NULL || !JSON_NODE_HOLDS_ARRAY (files) ||
      json_array_get_length (json_node_get_array (files)) == 0)
    return corrupt (error, "no files"), NULL;

  prefix = g_strconcat (ASSAY_DEFS_PREFIX, manifest->set, "/", NULL);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (files)); i++)
    {
      JsonNode *node = json_array_get_element (json_node_get_array (files), i);
      g_autofree char *expected_key = NULL;
      AssayDefsFile *file;
      JsonObject *entry;
      JsonNode *size;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return corrupt (error, "a file entry is not an object"), NULL;
      entry = json_node_get_object (node);
      size = json_object_get_member (entry, "size");
      file = g_new0 (AssayDefsFile, 1);
      g_ptr_array_add (manifest->files, file);
      file->name = g_strdup (string_member (entry, "name"));
      file->key = g_strdup (string_member (entry, "key"));
      file->sha256 = g_strdup (string_member (entry, "sha256"));
      if (!assay_defs_is_definitions_file (file->name))
        return corrupt (error, "a file name is not a plain definitions file name"), NULL;
      expected_key = g_strconcat (prefix, file->name, NULL);
      if (g_strcmp0 (file->key, expected_key) != 0)
        return corrupt (error, "a file's key is not under the set"), NULL;
      if (!is_sha256_hex (file->sha256))
        return corrupt (error, "a file's sha256 is not 64 lowercase hex digits"), NULL;
      if (size == NULL || !JSON_NODE_HOLDS_VALUE (size) ||
          json_node_get_value_type (size) != G_TYPE_INT64 || json_node_get_int (size) < 0)
        return corrupt (error, "a file's size is not a whole number"), NULL;
      file->size = (guint64) json_node_get_int (size);
      if (!g_hash_table_add (names, file->name))
        return corrupt (error, "a file is named twice"), NULL;
    }
  manifest->digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  return g_steal_pointer (&manifest);
}

/* Hashes @path in blocks. Returns: the lowercase hex SHA-256, or NULL */
static char *
hash_file (const char  *path,
           guint64     *out_size,
           GError     **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) input = g_file_read (file, NULL, error);
  g_autofree guint8 *buffer = NULL;
  guint64 size = 0;
  gssize n;

  if (input == NULL)
    return NULL;
  buffer = g_malloc (HASH_BLOCK);
  while ((n = g_input_stream_read (G_INPUT_STREAM (input), buffer, HASH_BLOCK, NULL, error)) > 0)
    {
      g_checksum_update (checksum, buffer, n);
      size += (guint64) n;
    }
  if (n < 0)
    return NULL;
  *out_size = size;
  return g_strdup (g_checksum_get_string (checksum));
}

/* The version in a .cvd/.cld header ("ClamAV-VDB:time:VERSION:sigs:…"), or 0. */
static guint64
cvd_version (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) input = g_file_read (file, NULL, NULL);
  char header[513] = { 0 };
  gsize read = 0;
  g_auto(GStrv) fields = NULL;
  guint64 version = 0;

  if (input == NULL ||
      !g_input_stream_read_all (G_INPUT_STREAM (input), header, 512, &read, NULL, NULL) ||
      !g_str_has_prefix (header, "ClamAV-VDB:"))
    return 0;
  fields = g_strsplit (header, ":", 4);
  if (g_strv_length (fields) < 4 ||
      !g_ascii_string_to_unsigned (fields[2], 10, 0, G_MAXUINT64, &version, NULL))
    return 0;
  return version;
}

/* -------------------------------------------------------------------------------------- */
/* Publishing                                                                             */

typedef struct
{
  AssayStore *store;
  char *dir;
  AssayDefsManifest *manifest;   /* built in the thread */
  char *previous_set;            /* the set of the manifest being replaced, kept */
  guint next;                    /* the file being uploaded */
  GBytes *manifest_bytes;
  GPtrArray *doomed;             /* keys of older sets, deleted after the manifest */
  char *token;
} Publish;

static void
publish_free (Publish *publish)
{
  g_clear_object (&publish->store);
  g_free (publish->dir);
  assay_defs_manifest_free (publish->manifest);
  g_free (publish->previous_set);
  g_clear_pointer (&publish->manifest_bytes, g_bytes_unref);
  g_clear_pointer (&publish->doomed, g_ptr_array_unref);
  g_free (publish->token);
  g_free (publish);
}

static int
compare_files (gconstpointer a,
               gconstpointer b)
{
  const AssayDefsFile *fa = *(AssayDefsFile * const *) a;
  const AssayDefsFile *fb = *(AssayDefsFile * const *) b;

  return strcmp (fa->name, fb->name);
}

/* In a thread: the directory's definitions files, their sizes and hashes, the version. */
static void
survey_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Publish *publish = task_data;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (publish->dir, 0, &error);
  g_autoptr(AssayDefsManifest) manifest = manifest_new ();
  g_autofree char *stamp = NULL;
  guint8 random[4];
  g_autofree char *suffix = NULL;
  guint64 highest = 0;
  const char *name;

  if (dir == NULL)
    {
      g_task_return_new_error (task, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_EMPTY,
                               "cannot read the definitions directory: %s", error->message);
      return;
    }
  assay_random_bytes (random, sizeof random);
  suffix = assay_hex_encode (random, sizeof random);
  stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  manifest->set = g_strdup_printf ("%s-%s", stamp, suffix);
  manifest->published = assay_time_format (now);

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (publish->dir, name, NULL);
      AssayDefsFile *file;

      if (!assay_defs_is_definitions_file (name) ||
          !g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      file = g_new0 (AssayDefsFile, 1);
      g_ptr_array_add (manifest->files, file);
      file->name = g_strdup (name);
      file->key = g_strconcat (ASSAY_DEFS_PREFIX, manifest->set, "/", name, NULL);
      file->sha256 = hash_file (path, &file->size, &error);
      if (file->sha256 == NULL)
        {
          g_task_return_new_error (task, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_EMPTY,
                                   "cannot read %s: %s", path, error->message);
          return;
        }
      if (g_str_has_suffix (name, ".cvd") || g_str_has_suffix (name, ".cld"))
        highest = MAX (highest, cvd_version (path));
    }
  if (manifest->files->len == 0)
    {
      g_task_return_new_error (task, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_EMPTY,
                               "%s holds no definitions file (.cvd, .cld, .ndb, .hdb, .ldb, …)",
                               publish->dir);
      return;
    }
  g_ptr_array_sort (manifest->files, compare_files);
  manifest->version = highest > 0 ? g_strdup_printf ("%" G_GUINT64_FORMAT, highest)
                                  : g_strdup (stamp);
  publish->manifest = g_steal_pointer (&manifest);
  g_task_return_boolean (task, TRUE);
}

static GBytes *
manifest_to_bytes (AssayDefsManifest *manifest)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  gsize len = 0;
  char *text;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, ASSAY_DEFS_FORMAT);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, manifest->version);
  json_builder_set_member_name (builder, "published");
  json_builder_add_string_value (builder, manifest->published);
  json_builder_set_member_name (builder, "set");
  json_builder_add_string_value (builder, manifest->set);
  json_builder_set_member_name (builder, "files");
  json_builder_begin_array (builder);
  for (guint i = 0; i < manifest->files->len; i++)
    {
      AssayDefsFile *file = g_ptr_array_index (manifest->files, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, file->name);
      json_builder_set_member_name (builder, "key");
      json_builder_add_string_value (builder, file->key);
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, (gint64) file->size);
      json_builder_set_member_name (builder, "sha256");
      json_builder_add_string_value (builder, file->sha256);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, &len);
  return g_bytes_new_take (text, len);
}

static void publish_next (GTask *task);
static void publish_cleanup (GTask *task);

static void
publish_delete_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;

  /* an older set that cannot be deleted now is deleted by the next publish */
  if (!assay_store_delete_object_finish (ASSAY_STORE (source), result, &error))
    g_debug ("cannot delete an old definitions file: %s", error->message);
  publish_cleanup (g_steal_pointer (&task));
}

/* Deletes the files of sets other than this one and the one it replaced. */
static void
publish_cleanup (GTask *task)
{
  Publish *publish = g_task_get_task_data (task);
  g_autofree char *key = NULL;

  if (publish->doomed->len == 0)
    {
      g_task_return_pointer (task, g_steal_pointer (&publish->manifest),
                             (GDestroyNotify) assay_defs_manifest_free);
      g_object_unref (task);
      return;
    }
  key = g_ptr_array_steal_index (publish->doomed, publish->doomed->len - 1);
  assay_store_delete_object_async (publish->store, key, g_task_get_cancellable (task),
                                   publish_delete_cb, task);
}

static void
publish_list_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GTask *task = data;
  Publish *publish = g_task_get_task_data (task);
  g_autoptr(AssayObjectList) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *keep = g_strconcat (ASSAY_DEFS_PREFIX, publish->manifest->set, "/", NULL);
  g_autofree char *keep_previous = publish->previous_set
                                     ? g_strconcat (ASSAY_DEFS_PREFIX, publish->previous_set,
                                                    "/", NULL)
                                     : NULL;

  list = assay_store_list_objects_finish (ASSAY_STORE (source), result, &error);
  if (list == NULL)
    {
      /* the set is published; the old files stay until the next publish */
      g_debug ("cannot list the old definitions: %s", error->message);
      publish_cleanup (task);
      return;
    }
  for (guint i = 0; i < list->objects->len; i++)
    {
      AssayObjectInfo *info = g_ptr_array_index (list->objects, i);

      if (g_str_equal (info->key, ASSAY_DEFS_MANIFEST_KEY) || g_str_has_prefix (info->key, keep) ||
          (keep_previous != NULL && g_str_has_prefix (info->key, keep_previous)))
        continue;
      g_ptr_array_add (publish->doomed, g_strdup (info->key));
    }
  g_free (publish->token);
  publish->token = g_steal_pointer (&list->next_token);
  if (publish->token != NULL)
    assay_store_list_objects_async (publish->store, ASSAY_DEFS_PREFIX, publish->token, 1000,
                                    g_task_get_cancellable (task), publish_list_cb, task);
  else
    publish_cleanup (task);
}

static void
publish_manifest_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  GTask *task = data;
  Publish *publish = g_task_get_task_data (task);
  g_autofree char *etag = NULL;
  GError *error = NULL;

  etag = assay_store_put_object_finish (ASSAY_STORE (source), result, &error);
  if (etag == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  publish->manifest->digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256,
                                                            publish->manifest_bytes);
  assay_store_list_objects_async (publish->store, ASSAY_DEFS_PREFIX, NULL, 1000,
                                  g_task_get_cancellable (task), publish_list_cb, task);
}

static void
publish_file_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GTask *task = data;
  Publish *publish = g_task_get_task_data (task);
  g_autofree char *etag = NULL;
  GError *error = NULL;

  etag = assay_store_put_object_finish (ASSAY_STORE (source), result, &error);
  if (etag == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  publish->next++;
  publish_next (task);
}

/* Uploads the files one by one, then the manifest. */
static void
publish_next (GTask *task)
{
  Publish *publish = g_task_get_task_data (task);
  AssayDefsFile *file;
  g_autofree char *path = NULL;
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GHashTable) metadata = NULL;
  GError *error = NULL;

  if (publish->next == publish->manifest->files->len)
    {
      publish->manifest_bytes = manifest_to_bytes (publish->manifest);
      assay_store_put_object_async (publish->store, ASSAY_DEFS_MANIFEST_KEY,
                                    publish->manifest_bytes, NULL, NULL, NULL,
                                    g_task_get_cancellable (task), publish_manifest_cb, task);
      return;
    }
  file = g_ptr_array_index (publish->manifest->files, publish->next);
  path = g_build_filename (publish->dir, file->name, NULL);
  mapped = g_mapped_file_new (path, FALSE, &error);
  if (mapped == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  bytes = g_mapped_file_get_bytes (mapped);
  if (g_bytes_get_size (bytes) != file->size)
    {
      g_task_return_new_error (task, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_EMPTY,
                               "%s changed while it was published: run the publish again", path);
      g_object_unref (task);
      return;
    }
  metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (metadata, "sha256", file->sha256);
  assay_store_put_object_async (publish->store, file->key, bytes, metadata, NULL, NULL,
                                g_task_get_cancellable (task), publish_file_cb, task);
}

static void
survey_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GTask *task = data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  publish_next (task);
}

static void
previous_manifest_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  GTask *task = data;
  Publish *publish = g_task_get_task_data (task);
  g_autoptr(AssayDefsManifest) previous = NULL;
  g_autoptr(GTask) survey = NULL;

  /* none, or corrupt: nothing of it to keep */
  previous = assay_defs_fetch_manifest_finish (ASSAY_STORE (source), result, NULL);
  if (previous != NULL)
    publish->previous_set = g_strdup (previous->set);
  survey = g_task_new (NULL, g_task_get_cancellable (task), survey_cb, task);
  g_task_set_task_data (survey, publish, NULL);
  g_task_run_in_thread (survey, survey_thread);
}

/**
 * assay_defs_publish_async:
 * @dir: a directory of definitions (freshclam's database directory, or your own .ndb,
 *   .hdb, … files); other files in it are left out
 * Uploads every definitions file of @dir as a new set, then the manifest naming it (so
 * a reader never sees a manifest naming files not yet stored), then deletes the sets
 * older than the one it replaced.
 */
void
assay_defs_publish_async (AssayStore          *store,
                          const char          *dir,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;
  Publish *publish;

  g_return_if_fail (ASSAY_IS_STORE (store));
  g_return_if_fail (dir != NULL);

  publish = g_new0 (Publish, 1);
  publish->store = g_object_ref (store);
  publish->dir = g_strdup (dir);
  publish->doomed = g_ptr_array_new_with_free_func (g_free);
  task = g_task_new (store, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_defs_publish_async);
  g_task_set_task_data (task, publish, (GDestroyNotify) publish_free);
  assay_defs_fetch_manifest_async (store, cancellable, previous_manifest_cb, task);
}

/* Returns: (transfer full): the manifest published */
AssayDefsManifest *
assay_defs_publish_finish (AssayStore    *store,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* -------------------------------------------------------------------------------------- */
/* Fetching                                                                               */

static void
manifest_got_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(GTask) task = data;
  GOutputStream *output = g_task_get_task_data (task);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  AssayDefsManifest *manifest;

  info = assay_store_get_object_finish (ASSAY_STORE (source), result, &error);
  if (info == NULL)
    {
      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND))
        g_task_return_new_error (task, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_NONE,
                                 "no virus definitions are published in the store (%s "
                                 "not found): run `assay-worker defs publish --from DIR` "
                                 "(or `assay-worker defs update --mirror URL`) first",
                                 ASSAY_DEFS_MANIFEST_KEY);
      else
        g_task_return_new_error (task, error->domain, error->code,
                                 "cannot read %s: %s", ASSAY_DEFS_MANIFEST_KEY,
                                 error->message);
      return;
    }
  g_output_stream_close (output, NULL, NULL);
  bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
  manifest = assay_defs_manifest_parse (bytes, &error);
  if (manifest == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, manifest, (GDestroyNotify) assay_defs_manifest_free);
}

void
assay_defs_fetch_manifest_async (AssayStore          *store,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task = g_task_new (store, cancellable, callback, user_data);
  GOutputStream *output = g_memory_output_stream_new_resizable ();

  g_task_set_source_tag (task, assay_defs_fetch_manifest_async);
  g_task_set_task_data (task, output, g_object_unref);
  assay_store_get_object_async (store, ASSAY_DEFS_MANIFEST_KEY, output, NULL, NULL, cancellable,
                                manifest_got_cb, task);
}

/* Returns: (transfer full): the manifest in the store; ASSAY_DEFS_ERROR_NONE when there
 * is none, ASSAY_DEFS_ERROR_CORRUPT when it is malformed */
AssayDefsManifest *
assay_defs_fetch_manifest_finish (AssayStore    *store,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  AssayStore *store;
  AssayDefsManifest *manifest;   /* not owned: the caller keeps it for the call */
  char *dir;
  guint next;
  GOutputStream *output;
  char *path;
} Download;

static void
download_free (Download *download)
{
  g_clear_object (&download->store);
  g_free (download->dir);
  g_clear_object (&download->output);
  g_free (download->path);
  g_free (download);
}

static void download_next (GTask *task);

static void
verify_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Download *download = task_data;
  AssayDefsFile *file = g_ptr_array_index (download->manifest->files, download->next);
  g_autofree char *sha256 = NULL;
  GError *error = NULL;
  guint64 size = 0;

  sha256 = hash_file (download->path, &size, &error);
  if (sha256 == NULL)
    g_task_return_error (task, error);
  else if (size != file->size || !g_str_equal (sha256, file->sha256))
    g_task_return_new_error (task, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_CORRUPT,
                             "%s does not match the manifest (%" G_GUINT64_FORMAT " bytes, "
                             "SHA-256 %s; the manifest says %" G_GUINT64_FORMAT " bytes, %s): "
                             "publish the set again with `assay-worker defs publish --from DIR`",
                             file->key, size, sha256, file->size, file->sha256);
  else
    g_task_return_boolean (task, TRUE);
}

static void
verified_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GTask *task = data;
  Download *download = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  download->next++;
  download_next (task);
}

static void
file_got_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GTask *task = data;
  Download *download = g_task_get_task_data (task);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GTask) verify = NULL;
  GError *error = NULL;

  info = assay_store_get_object_finish (ASSAY_STORE (source), result, &error);
  if (info == NULL || !g_output_stream_close (download->output, NULL, &error))
    {
      AssayDefsFile *file = g_ptr_array_index (download->manifest->files, download->next);

      if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND))
        g_task_return_new_error (task, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_CORRUPT,
                                 "%s, named by the manifest, is not in the store: publish the "
                                 "set again with `assay-worker defs publish --from DIR`",
                                 file->key);
      else
        g_task_return_new_error (task, error->domain, error->code, "cannot download %s: %s",
                                 file->key, error->message);
      g_error_free (error);
      g_object_unref (task);
      return;
    }
  g_clear_object (&download->output);
  verify = g_task_new (NULL, g_task_get_cancellable (task), verified_cb, task);
  g_task_set_task_data (verify, download, NULL);
  g_task_run_in_thread (verify, verify_thread);
}

static void
download_next (GTask *task)
{
  Download *download = g_task_get_task_data (task);
  AssayDefsFile *file;
  g_autoptr(GFile) target = NULL;
  GError *error = NULL;

  if (download->next == download->manifest->files->len)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  file = g_ptr_array_index (download->manifest->files, download->next);
  g_free (download->path);
  download->path = g_build_filename (download->dir, file->name, NULL);
  target = g_file_new_for_path (download->path);
  download->output = G_OUTPUT_STREAM (g_file_replace (target, NULL, FALSE,
                                                      G_FILE_CREATE_PRIVATE, NULL, &error));
  if (download->output == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  assay_store_get_object_async (download->store, file->key, download->output, NULL, NULL,
                                g_task_get_cancellable (task), file_got_cb, task);
}

/**
 * assay_defs_download_async:
 * @manifest: a manifest from assay_defs_fetch_manifest_async(), kept by the caller
 *   until the call finishes
 * @dir: an existing, private directory
 * Downloads the set's files into @dir and checks each one's size and SHA-256 against
 * @manifest; fails with ASSAY_DEFS_ERROR_CORRUPT on the first that does not match.
 */
void
assay_defs_download_async (AssayStore          *store,
                           AssayDefsManifest   *manifest,
                           const char          *dir,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task = g_task_new (store, cancellable, callback, user_data);
  Download *download = g_new0 (Download, 1);

  download->store = g_object_ref (store);
  download->manifest = manifest;
  download->dir = g_strdup (dir);
  g_task_set_source_tag (task, assay_defs_download_async);
  g_task_set_task_data (task, download, (GDestroyNotify) download_free);
  download_next (task);
}

gboolean
assay_defs_download_finish (AssayStore    *store,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * assay_defs_freshclam_config:
 * Returns: (transfer full): a freshclam.conf that fetches from @mirror only (a private
 * mirror: no DNS lookup, no official servers) into @db_dir
 */
char *
assay_defs_freshclam_config (const char *mirror,
                             const char *db_dir)
{
  return g_strdup_printf ("# written by assay-worker defs update\n"
                          "DatabaseDirectory %s\n"
                          "DatabaseOwner %s\n"
                          "PrivateMirror %s\n"
                          "DNSDatabaseInfo no\n"
                          "ScriptedUpdates no\n"
                          "Bytecode yes\n"
                          "MaxAttempts 3\n"
                          "ConnectTimeout 30\n"
                          "ReceiveTimeout 300\n",
                          db_dir, g_get_user_name (), mirror);
}

/* -------------------------------------------------------------------------------------- */
/* The refresher                                                                          */

struct _AssayDefsRefresher
{
  GObject parent_instance;

  AssayStore *store;
  AssayScanStage *stage;
  guint interval_ms;
  guint timer;
  gboolean checking;
  char *digest;    /* of the manifest loaded */
  char *version;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (AssayDefsRefresher, assay_defs_refresher, G_TYPE_OBJECT)

enum
{
  SIGNAL_EVENT,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void
assay_defs_refresher_dispose (GObject *object)
{
  AssayDefsRefresher *self = ASSAY_DEFS_REFRESHER (object);

  assay_defs_refresher_stop (self);
  g_clear_object (&self->store);
  g_clear_object (&self->stage);
  G_OBJECT_CLASS (assay_defs_refresher_parent_class)->dispose (object);
}

static void
assay_defs_refresher_finalize (GObject *object)
{
  AssayDefsRefresher *self = ASSAY_DEFS_REFRESHER (object);

  g_free (self->digest);
  g_free (self->version);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (assay_defs_refresher_parent_class)->finalize (object);
}

static void
assay_defs_refresher_class_init (AssayDefsRefresherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = assay_defs_refresher_dispose;
  object_class->finalize = assay_defs_refresher_finalize;

  /**
   * AssayDefsRefresher::event:
   * @line: a JsonObject: time, event, and its fields
   */
  signals[SIGNAL_EVENT] = g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
}

static void
assay_defs_refresher_init (AssayDefsRefresher *self)
{
  self->cancellable = g_cancellable_new ();
}

/**
 * assay_defs_refresher_new:
 * @interval_ms: how often assay_defs_refresher_start() checks the manifest
 */
AssayDefsRefresher *
assay_defs_refresher_new (AssayStore     *store,
                          AssayScanStage *stage,
                          guint           interval_ms)
{
  AssayDefsRefresher *self;

  g_return_val_if_fail (ASSAY_IS_STORE (store), NULL);
  g_return_val_if_fail (ASSAY_IS_SCAN_STAGE (stage), NULL);

  self = g_object_new (ASSAY_TYPE_DEFS_REFRESHER, NULL);
  self->store = g_object_ref (store);
  self->stage = g_object_ref (stage);
  self->interval_ms = interval_ms > 0 ? interval_ms : ASSAY_DEFS_REFRESH_DEFAULT_MS;
  return self;
}

/* Returns: (nullable): the version of the set loaded by this refresher */
const char *
assay_defs_refresher_get_version (AssayDefsRefresher *self)
{
  g_return_val_if_fail (ASSAY_IS_DEFS_REFRESHER (self), NULL);

  return self->version;
}

static void
emit_event (AssayDefsRefresher *self,
            const char         *event,
            JsonObject         *fields)
{
  g_autoptr(JsonObject) line = json_object_new ();
  g_autofree char *now = assay_time_now ();

  json_object_set_string_member (line, "time", now);
  json_object_set_string_member (line, "event", event);
  if (fields != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *node;

      json_object_iter_init (&iter, fields);
      while (json_object_iter_next (&iter, &name, &node))
        json_object_set_member (line, name, json_node_copy (node));
      json_object_unref (fields);
    }
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, line);
}

typedef struct
{
  AssayDefsManifest *manifest;
  char *dir;
  gint64 started_us;
} Check;

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = path ? g_dir_open (path, 0, NULL) : NULL;
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      g_unlink (child);
    }
  g_rmdir (path);
}

static void
check_free (Check *check)
{
  assay_defs_manifest_free (check->manifest);
  /* the engine holds the definitions in memory: the files are not needed after a load */
  remove_dir (check->dir);
  g_free (check->dir);
  g_free (check);
}

static void
check_done (GTask  *task,
            GError *error)
{
  AssayDefsRefresher *self = g_task_get_source_object (task);

  self->checking = FALSE;
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
loaded_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GTask *task = data;
  AssayDefsRefresher *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  GError *error = NULL;
  JsonObject *fields;

  if (!assay_scan_stage_load_finish (ASSAY_SCAN_STAGE (source), result, &error))
    {
      check_done (task, error);
      return;
    }
  g_free (self->digest);
  self->digest = g_strdup (check->manifest->digest);
  g_free (self->version);
  self->version = g_strdup (check->manifest->version);

  fields = json_object_new ();
  json_object_set_string_member (fields, "version", check->manifest->version);
  json_object_set_string_member (fields, "published", check->manifest->published);
  json_object_set_int_member (fields, "signatures",
                              assay_scan_stage_get_signatures (self->stage));
  json_object_set_int_member (fields, "files", check->manifest->files->len);
  json_object_set_int_member (fields, "load_ms",
                              (g_get_monotonic_time () - check->started_us) / 1000);
  emit_event (self, "defs-loaded", fields);
  check_done (task, NULL);
}

static void
downloaded_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  GTask *task = data;
  AssayDefsRefresher *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  GError *error = NULL;

  if (!assay_defs_download_finish (ASSAY_STORE (source), result, &error))
    {
      check_done (task, error);
      return;
    }
  assay_scan_stage_load_async (self->stage, check->dir, check->manifest->version,
                               check->manifest->published, g_task_get_cancellable (task),
                               loaded_cb, task);
}

static void
manifest_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GTask *task = data;
  AssayDefsRefresher *self = g_task_get_source_object (task);
  Check *check = g_task_get_task_data (task);
  GError *error = NULL;

  check->manifest = assay_defs_fetch_manifest_finish (ASSAY_STORE (source), result, &error);
  if (check->manifest == NULL)
    {
      check_done (task, error);
      return;
    }
  if (g_strcmp0 (check->manifest->digest, self->digest) == 0)
    {
      g_task_set_task_data (task, NULL, NULL);
      self->checking = FALSE;
      g_task_return_boolean (task, FALSE);
      g_object_unref (task);
      return;
    }
  check->dir = g_dir_make_tmp ("assay-defs-XXXXXX", &error);
  if (check->dir == NULL)
    {
      check_done (task, error);
      return;
    }
  assay_defs_download_async (self->store, check->manifest, check->dir,
                             g_task_get_cancellable (task), downloaded_cb, task);
}

/**
 * assay_defs_refresher_check_async:
 * Reads the manifest; when it differs from the one loaded, downloads the set, verifies it
 * and loads it into the stage. The finish function says whether a set was loaded.
 */
void
assay_defs_refresher_check_async (AssayDefsRefresher  *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task;
  Check *check;

  g_return_if_fail (ASSAY_IS_DEFS_REFRESHER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_defs_refresher_check_async);
  if (self->checking)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "a definitions check is already running");
      g_object_unref (task);
      return;
    }
  self->checking = TRUE;
  check = g_new0 (Check, 1);
  check->started_us = g_get_monotonic_time ();
  g_task_set_task_data (task, check, (GDestroyNotify) check_free);
  assay_defs_fetch_manifest_async (self->store, cancellable, manifest_cb, task);
}

gboolean
assay_defs_refresher_check_finish (AssayDefsRefresher  *self,
                                   GAsyncResult        *result,
                                   gboolean            *out_loaded,
                                   GError             **error)
{
  GError *local_error = NULL;
  gboolean loaded;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  loaded = g_task_propagate_boolean (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (out_loaded != NULL)
    *out_loaded = loaded;
  return TRUE;
}

static void
timer_check_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  AssayDefsRefresher *self = ASSAY_DEFS_REFRESHER (source);
  g_autoptr(GError) error = NULL;

  if (!assay_defs_refresher_check_finish (self, result, NULL, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      JsonObject *fields = json_object_new ();

      json_object_set_string_member (fields, "reason", error->message);
      if (self->version != NULL)
        json_object_set_string_member (fields, "version_kept", self->version);
      emit_event (self, "defs-refresh-failed", fields);
    }
}

static gboolean
timer_cb (gpointer data)
{
  AssayDefsRefresher *self = data;

  assay_defs_refresher_check_async (self, self->cancellable, timer_check_cb, NULL);
  return G_SOURCE_CONTINUE;
}

/* Checks the manifest every interval until assay_defs_refresher_stop(). */
void
assay_defs_refresher_start (AssayDefsRefresher *self)
{
  g_return_if_fail (ASSAY_IS_DEFS_REFRESHER (self));

  if (self->timer == 0)
    self->timer = g_timeout_add (self->interval_ms, timer_cb, self);
}

/* Stops the timer and cancels a check in flight. */
void
assay_defs_refresher_stop (AssayDefsRefresher *self)
{
  g_return_if_fail (ASSAY_IS_DEFS_REFRESHER (self));

  g_clear_handle_id (&self->timer, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
}
