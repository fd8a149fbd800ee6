/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-local-store.h"

#include "assay-item.h"
#include "store-conformance.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * What the conformance body (run in test-store-conformance-local) cannot see from the
 * interface: the layout on disk, refused keys and ids, progress, cancellation, errors,
 * and the local store's promises under concurrency and kill -9. The processes are this
 * program again, started with --helper.
 */

#define CRASH_ID  "job-00000000-0000-4000-8000-00000000c4a5"
#define CRASH_KEY "crash/object"
#define COUNT_ID  "job-00000000-0000-4000-8000-000000000c01"

typedef struct
{
  char *tmp;
  char *dir;
  AssayStore *store;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->tmp = g_dir_make_tmp ("assay-local-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->dir = g_build_filename (f->tmp, "store", NULL);
  f->store = ASSAY_STORE (assay_local_store_new (f->dir));
  g_assert_true (assay_test_store_init (f->store, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  assay_test_store_release (g_steal_pointer (&f->store));
  assay_test_remove_tree (f->tmp);
  g_free (f->dir);
  g_free (f->tmp);
}

static char *
store_path (Fixture    *f,
            const char *relative)
{
  return g_build_filename (f->dir, relative, NULL);
}

static guint
mode_of (const char *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The names in @dir that start with '.', sorted. */
static GPtrArray *
hidden_files (const char *dir)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (name[0] == '.')
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

static JsonObject *
counter_item (const char *id,
              gint64      n)
{
  JsonObject *item = json_object_new ();

  json_object_set_member (item, "id", assay_value_string (id));
  json_object_set_member (item, "n", assay_value_number (n));
  return item;
}

static gint64
item_number (JsonObject *item,
             const char *name)
{
  guint64 value = 0;
  g_autoptr(GError) error = NULL;

  assay_item_get_uint (item, ASSAY_ITEM_FORM_DYNAMODB, name, TRUE, &value, NULL, &error);
  g_assert_no_error (error);
  return (gint64) value;
}

static const char *
item_text (JsonObject *item,
           const char *name)
{
  const char *value = NULL;
  g_autoptr(GError) error = NULL;

  assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, name, TRUE, &value, &error);
  g_assert_no_error (error);
  return value;
}

/* ------------------------------------------------------------------------------------- */
/* Layout                                                                                */

static void
test_init (Fixture       *f,
           gconstpointer  data)
{
  static const char * const dirs[] = { "", "objects", "tables", "tables/jobs", "tables/results",
                                       "locks" };
  g_autofree char *store_json = store_path (f, "store.json");
  g_autofree char *text = NULL;
  g_autofree char *default_dir = assay_local_store_default_dir ();
  g_autofree char *expected_default = NULL;
  g_autoptr(AssayLocalStore) default_store = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = store_path (f, dirs[i]);

      g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
      g_assert_cmpuint (mode_of (path), ==, 0700);
    }
  g_assert_true (g_file_get_contents (store_json, &text, NULL, &error));
  g_assert_nonnull (strstr (text, "\"assay-local-store\""));
  g_assert_nonnull (strstr (assay_store_describe (f->store), f->dir));
  g_assert_cmpstr (assay_local_store_get_dir (ASSAY_LOCAL_STORE (f->store)), ==, f->dir);

  /* init is idempotent */
  g_assert_true (assay_test_store_init (f->store, &error));
  g_assert_no_error (error);

  expected_default = g_build_filename (g_get_user_data_dir (), "assay", "store", NULL);
  g_assert_cmpstr (default_dir, ==, expected_default);
  default_store = assay_local_store_new (NULL);
  g_assert_cmpstr (assay_local_store_get_dir (default_store), ==, expected_default);
}

static void
test_init_refuses (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("assay-local-store-XXXXXX", NULL);
  g_autofree char *newer = g_build_filename (tmp, "newer", NULL);
  g_autofree char *other = g_build_filename (tmp, "other", NULL);
  g_autofree char *missing = g_build_filename (tmp, "missing", NULL);
  g_autofree char *newer_json = g_build_filename (newer, "store.json", NULL);
  g_autofree char *other_json = g_build_filename (other, "store.json", NULL);
  g_autoptr(JsonObject) item = counter_item (COUNT_ID, 0);
  AssayStore *store;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (newer, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (other, 0700), ==, 0);
  g_assert_true (g_file_set_contents (
    newer_json, "{\"format\": \"assay-local-store\", \"version\": 2}", -1, NULL));
  g_assert_true (g_file_set_contents (other_json, "{\"something\": \"else\"}", -1, NULL));

  store = ASSAY_STORE (assay_local_store_new (newer));
  g_assert_false (assay_test_store_init (store, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, newer));
  g_clear_error (&error);
  assay_test_store_release (store);

  store = ASSAY_STORE (assay_local_store_new (other));
  g_assert_false (assay_test_store_init (store, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT);
  g_clear_error (&error);
  assay_test_store_release (store);

  /* the layout never spreads over someone's files */
  {
    g_autofree char *foreign = g_build_filename (tmp, "foreign", NULL);
    g_autofree char *notes = g_build_filename (foreign, "notes.txt", NULL);
    g_autofree char *objects = g_build_filename (foreign, "objects", NULL);

    g_assert_cmpint (g_mkdir (foreign, 0700), ==, 0);
    g_assert_true (g_file_set_contents (notes, "mine", -1, NULL));
    store = ASSAY_STORE (assay_local_store_new (foreign));
    g_assert_false (assay_test_store_init (store, &error));
    g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, foreign));
    g_clear_error (&error);
    g_assert_false (g_file_test (objects, G_FILE_TEST_EXISTS));
    assay_test_store_release (store);
  }

  /* a store that was never initialised says so, with its path */
  store = ASSAY_STORE (assay_local_store_new (missing));
  {
    g_autoptr(JsonObject) none = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, COUNT_ID,
                                                            &error);

    g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, missing));
    g_clear_error (&error);
  }
  g_assert_false (assay_test_store_put_item (store, ASSAY_TABLE_JOBS, item, NULL, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_assert_nonnull (strstr (error->message, "init"));
  g_clear_error (&error);
  assay_test_store_release (store);

  assay_test_remove_tree (tmp);
}

static void
test_objects_layout (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GBytes) first = g_bytes_new_static ("first version\n", 14);
  g_autoptr(GBytes) second = g_bytes_new_static ("second\n", 7);
  g_autofree char *link = store_path (f, "objects/file-x/000000");
  g_autofree char *dir = store_path (f, "objects/file-x");
  g_autofree char *contents = NULL;
  g_autofree char *target = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(GPtrArray) hidden = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;

  etag = assay_test_store_put_object (f->store, "file-x/000000", first, NULL, &error);
  g_assert_no_error (error);

  /* the key's path reads as the object, through a link to its version */
  g_assert_true (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_get_contents (link, &contents, &len, &error));
  g_assert_cmpmem (contents, len, "first version\n", 14);
  target = g_file_read_link (link, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (target, ".000000~"));
  g_assert_cmpuint (mode_of (dir), ==, 0700);
  hidden = hidden_files (dir);
  g_assert_cmpuint (hidden->len, ==, 2);
  g_assert_cmpstr (hidden->pdata[0], ==, target);
  g_assert_true (g_str_has_suffix (hidden->pdata[1], ".meta"));
  {
    g_autofree char *version = g_build_filename (dir, hidden->pdata[0], NULL);

    g_assert_cmpuint (mode_of (version), ==, 0600);
  }

  /* a new version replaces the old one, which is removed */
  g_clear_pointer (&etag, g_free);
  etag = assay_test_store_put_object (f->store, "file-x/000000", second, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&hidden, g_ptr_array_unref);
  hidden = hidden_files (dir);
  g_assert_cmpuint (hidden->len, ==, 2);
  g_assert_cmpstr (hidden->pdata[0], !=, target);

  /* deleting the last object of a directory removes the directory */
  g_assert_true (assay_test_store_delete_object (f->store, "file-x/000000", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

static void
test_items_layout (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(JsonObject) item = counter_item (COUNT_ID, 7);
  g_autofree char *path = store_path (f, "tables/jobs/" COUNT_ID ".json");
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) parsed = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, item, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  parsed = assay_item_parse (text, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (item_number (parsed, "n"), ==, 7);
  g_assert_cmpuint (mode_of (path), ==, 0600);
  g_assert_false (g_file_test (path, G_FILE_TEST_IS_SYMLINK));
}

/* ------------------------------------------------------------------------------------- */
/* Refusals                                                                              */

static void
test_bad_keys (Fixture       *f,
               gconstpointer  data)
{
  const char *bad[] = {
    "", "/etc/passwd", "a//b", "a/", "..", "../escape", "a/../../escape", "a/./b", ".",
    ".hidden", "a/.000000~0123456789abcdef", "tab\there", "back\\slash", "new\nline",
  };
  const char *good[] = { "a b/ü~x", "results/result-1", "a.b/c..d", "x~y" };
  g_autoptr(GString) long_key = g_string_new (NULL);
  g_autoptr(GString) long_segment = g_string_new (NULL);
  g_autoptr(GBytes) data_bytes = g_bytes_new_static ("x", 1);
  g_autofree char *escape = g_build_filename (f->tmp, "escape", NULL);
  g_autoptr(GError) error = NULL;

  while (long_key->len <= 1024)
    g_string_append (long_key, "abcdefgh/");
  g_string_append (long_key, "x");
  while (long_segment->len <= 200)
    g_string_append_c (long_segment, 'z');

  for (guint i = 0; i < G_N_ELEMENTS (bad) + 2; i++)
    {
      const char *key = i < G_N_ELEMENTS (bad) ? bad[i]
                        : i == G_N_ELEMENTS (bad) ? long_key->str
                                                  : long_segment->str;
      g_autofree char *etag = NULL;
      g_autoptr(AssayObjectInfo) info = NULL;

      etag = assay_test_store_put_object (f->store, key, data_bytes, NULL, &error);
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_assert_null (etag);
      g_clear_error (&error);
      info = assay_test_store_head_object (f->store, key, &error);
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (assay_test_store_delete_object (f->store, key, &error));
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (assay_test_store_copy_object (f->store, "results/result-1", key, &error));
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_clear_error (&error);
    }
  g_assert_false (g_file_test (escape, G_FILE_TEST_EXISTS));

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *etag = assay_test_store_put_object (f->store, good[i], data_bytes, NULL,
                                                           &error);
      g_autoptr(AssayObjectInfo) info = NULL;

      g_assert_no_error (error);
      info = assay_test_store_head_object (f->store, good[i], &error);
      g_assert_no_error (error);
      g_assert_cmpuint (info->size, ==, 1);
    }

  /* a key cannot be an object and the prefix of another, either way round */
  {
    g_autofree char *etag = NULL;

    etag = assay_test_store_put_object (f->store, "results/result-1/sub", data_bytes, NULL,
                                        &error);
    g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
    g_clear_error (&error);
    etag = assay_test_store_put_object (f->store, "results", data_bytes, NULL, &error);
    g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
    g_clear_error (&error);
  }
}

static void
test_bad_ids (Fixture       *f,
              gconstpointer  data)
{
  const char *bad[] = { "", "a/b", "..", ".", ".hidden", "new\nline", "back\\slash" };
  g_autoptr(AssayUpdate) update = assay_update_set (assay_update_new (), "n",
                                                    assay_value_number (1));
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonObject) item = counter_item (bad[i], 1);
      g_autoptr(JsonObject) got = NULL;
      g_autoptr(JsonObject) updated = NULL;

      got = assay_test_store_get_item (f->store, ASSAY_TABLE_JOBS, bad[i], &error);
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, item, NULL, &error));
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_clear_error (&error);
      updated = assay_test_store_update_item (f->store, ASSAY_TABLE_RESULTS, bad[i], update,
                                              NULL, ASSAY_RETURN_NONE, &error);
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (assay_test_store_delete_item (f->store, ASSAY_TABLE_JOBS, bad[i], NULL,
                                                    &error));
      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_clear_error (&error);
    }
}

/* What DynamoDB refuses, the local store refuses too. */
static void
test_bad_items (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(JsonObject) no_id = json_object_new ();
  g_autoptr(JsonObject) number_id = json_object_new ();
  g_autoptr(JsonObject) big = counter_item (COUNT_ID, 0);
  g_autoptr(JsonObject) number_due = counter_item (COUNT_ID, 0);
  g_autoptr(JsonObject) counter = counter_item (COUNT_ID, 0);
  g_autoptr(AssayUpdate) rename = assay_update_set (assay_update_new (), "id",
                                                    assay_value_string ("job-other"));
  g_autoptr(AssayUpdate) add_to_text = assay_update_add (assay_update_new (), "text", 1);
  g_autoptr(AssayUpdate) due_number = assay_update_set (assay_update_new (), "due",
                                                        assay_value_number (5));
  g_autoptr(GString) pad = g_string_new (NULL);
  g_autoptr(JsonObject) after = NULL;
  g_autoptr(GError) error = NULL;

  json_object_set_member (number_id, "id", assay_value_number (1));
  g_string_set_size (pad, 401 * 1024);
  memset (pad->str, 'x', pad->len);
  json_object_set_member (big, "pad", assay_value_string (pad->str));
  json_object_set_member (number_due, "due", assay_value_number (3));
  json_object_set_member (counter, "text", assay_value_string ("abc"));

  g_assert_false (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, no_id, NULL, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, number_id, NULL, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, big, NULL, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "400 KB"));
  g_clear_error (&error);
  g_assert_false (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, number_due, NULL,
                                             &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, counter, NULL, &error));
  g_assert_no_error (error);
  after = assay_test_store_update_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, rename, NULL,
                                        ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_clear_error (&error);
  after = assay_test_store_update_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, add_to_text, NULL,
                                        ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_clear_error (&error);
  after = assay_test_store_update_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, due_number, NULL,
                                        ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
  g_clear_error (&error);

  /* none of them changed the item */
  after = assay_test_store_get_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (after), ==, 3);
  g_assert_cmpstr (item_text (after, "text"), ==, "abc");
}

static void
test_bad_queries (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(JsonNode) open = assay_value_string ("open");
  g_autoptr(JsonObject) start = json_object_new ();
  AssayQuery unknown = { "status-created", "status", open, NULL, ASSAY_COMPARE_EQ, NULL, 0, NULL };
  AssayQuery wrong_hash = { "queue-due", "status", open, NULL, ASSAY_COMPARE_EQ, NULL, 0, NULL };
  AssayQuery not_equal = { "queue-due", "queue", open, "due", ASSAY_COMPARE_NE, open, 0, NULL };
  AssayQuery bad_start = { "queue-due", "queue", open, NULL, ASSAY_COMPARE_EQ, NULL, 0, start };
  AssayQuery good = { "queue-due", "queue", open, NULL, ASSAY_COMPARE_EQ, NULL, 0, NULL };
  AssayQuery *jobs_queries[] = { &unknown, &wrong_hash, &not_equal, &bad_start };
  g_autoptr(AssayItemPage) results = NULL;
  g_autoptr(GError) error = NULL;

  json_object_set_member (start, "id", assay_value_string (COUNT_ID));
  for (guint i = 0; i < G_N_ELEMENTS (jobs_queries); i++)
    {
      g_autoptr(AssayItemPage) page = assay_test_store_query (f->store, ASSAY_TABLE_JOBS,
                                                              jobs_queries[i], &error);

      g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
      g_assert_null (page);
      g_clear_error (&error);
    }
  results = assay_test_store_query (f->store, ASSAY_TABLE_RESULTS, &good, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID);
}

/* ------------------------------------------------------------------------------------- */
/* The queue-due index on disk                                                          */

static JsonObject *
queued_item (guint       n,
             const char *queue)
{
  g_autofree char *id = g_strdup_printf ("job-00000000-0000-4000-8000-%012u", n);
  JsonObject *item = json_object_new ();

  json_object_set_member (item, "id", assay_value_string (id));
  if (queue != NULL)
    {
      json_object_set_member (item, "queue", assay_value_string (queue));
      json_object_set_member (item, "due", assay_value_string ("2026-11-22T10:00:00.000Z"));
    }
  return item;
}

/* The ids a query on queue = @queue finds, sorted, space-separated. */
static char *
queue_ids (Fixture    *f,
           const char *queue)
{
  g_autoptr(JsonNode) value = assay_value_string (queue);
  AssayQuery query = { "queue-due", "queue", value, NULL, ASSAY_COMPARE_EQ, NULL, 0, NULL };
  g_autoptr(AssayItemPage) page = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) ids = g_string_new ("");

  page = assay_test_store_query (f->store, ASSAY_TABLE_JOBS, &query, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < page->items->len; i++)
    g_string_append_printf (ids, "%s%s", i ? " " : "",
                            json_object_get_string_member (
                              json_object_get_object_member (page->items->pdata[i], "id"), "S")
                              + strlen ("job-00000000-0000-4000-8000-00000000"));
  return g_string_free (g_steal_pointer (&ids), FALSE);
}

static guint
count_entries (const char *dir)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (listing != NULL && g_dir_read_name (listing) != NULL)
    n++;
  return n;
}

/* A query reads one partition of the index: items follow the queue they are in, finished
 * ones (no queue) leave it, a store made before the index is indexed when opened, and an
 * entry a crashed writer left behind is ignored and removed. */
static void
test_index (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *index = store_path (f, "indexes/jobs/queue-due");
  g_autofree char *open_dir = NULL;
  g_autoptr(AssayUpdate) lease = assay_update_new ();
  g_autoptr(AssayUpdate) finish = assay_update_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ids = NULL;

  for (guint i = 1; i <= 4; i++)
    {
      g_autoptr(JsonObject) item = queued_item (i, i <= 3 ? "open" : NULL);

      g_assert_true (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, item, NULL, &error));
      g_assert_no_error (error);
    }
  ids = queue_ids (f, "open");
  g_assert_cmpstr (ids, ==, "0001 0002 0003");
  {
    g_autofree char *partition = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "open", -1);

    open_dir = g_build_filename (index, partition, NULL);
  }
  g_assert_cmpuint (count_entries (open_dir), ==, 3);

  /* claimed: from open to leased; done: out of the index */
  assay_update_set (lease, "queue", assay_value_string ("leased"));
  assay_update_remove (finish, "queue");
  assay_update_remove (finish, "due");
  g_clear_pointer (&ids, g_free);
  g_assert_null (assay_test_store_update_item (f->store, ASSAY_TABLE_JOBS,
                                               "job-00000000-0000-4000-8000-000000000001", lease,
                                               NULL, ASSAY_RETURN_NONE, &error));
  g_assert_no_error (error);
  g_assert_null (assay_test_store_update_item (f->store, ASSAY_TABLE_JOBS,
                                               "job-00000000-0000-4000-8000-000000000002", finish,
                                               NULL, ASSAY_RETURN_NONE, &error));
  g_assert_no_error (error);
  g_assert_true (assay_test_store_delete_item (f->store, ASSAY_TABLE_JOBS,
                                               "job-00000000-0000-4000-8000-000000000003", NULL,
                                               &error));
  g_assert_no_error (error);
  ids = queue_ids (f, "open");
  g_assert_cmpstr (ids, ==, "");
  g_clear_pointer (&ids, g_free);
  ids = queue_ids (f, "leased");
  g_assert_cmpstr (ids, ==, "0001");
  g_assert_cmpuint (count_entries (open_dir), ==, 0);

  /* a writer killed between its two steps: an entry with no such item in the partition */
  {
    g_autofree char *stale = g_build_filename (open_dir, "job-00000000-0000-4000-8000-000000000004",
                                               NULL);

    g_assert_true (g_file_set_contents (stale, "", 0, NULL));
    g_clear_pointer (&ids, g_free);
    ids = queue_ids (f, "open");
    g_assert_cmpstr (ids, ==, "");
    g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  }

  /* a store from before the index: indexed when it is opened, nothing lost */
  assay_test_remove_tree (index);
  {
    g_autoptr(JsonObject) item = queued_item (5, "open");
    g_autofree char *path = store_path (f, "tables/jobs/job-00000000-0000-4000-8000-000000000005.json");
    g_autofree char *text = assay_item_to_string (item, TRUE);

    /* written as an older version of Assay did: the item file alone */
    g_assert_true (g_file_set_contents (path, text, -1, NULL));
  }
  assay_test_store_release (g_steal_pointer (&f->store));
  f->store = ASSAY_STORE (assay_local_store_new (f->dir));
  g_assert_true (assay_test_store_init (f->store, &error));
  g_assert_no_error (error);
  g_clear_pointer (&ids, g_free);
  ids = queue_ids (f, "open");
  g_assert_cmpstr (ids, ==, "0005");
  g_clear_pointer (&ids, g_free);
  ids = queue_ids (f, "leased");
  g_assert_cmpstr (ids, ==, "0001");
}

/* ------------------------------------------------------------------------------------- */
/* Progress and cancellation                                                             */

typedef struct
{
  GThread *main_thread;
  guint calls;
  goffset last;
  goffset total;
  gboolean done;
  gboolean after_done;
  GAsyncResult *result;
} ProgressLog;

static void
progress_cb (goffset  current,
             goffset  total,
             gpointer user_data)
{
  ProgressLog *log = user_data;

  g_assert_true (g_thread_self () == log->main_thread);
  g_assert_cmpint (current, >=, log->last);
  g_assert_cmpint (current, <=, total);
  if (log->done)
    log->after_done = TRUE;
  log->calls++;
  log->last = current;
  log->total = total;
}

static void
progress_ready_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ProgressLog *log = user_data;

  log->done = TRUE;
  log->result = g_object_ref (result);
}

static void
test_progress (Fixture       *f,
               gconstpointer  data)
{
  gsize size = 5 * 1024 * 1024 + 17;
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_malloc0 (size), size);
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  ProgressLog put = { g_thread_self (), 0, 0, 0, FALSE, FALSE, NULL };
  ProgressLog get = { g_thread_self (), 0, 0, 0, FALSE, FALSE, NULL };
  g_autofree char *etag = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  assay_store_put_object_async (f->store, "big/object", bytes, NULL, progress_cb, &put, NULL,
                                progress_ready_cb, &put);
  while (put.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  etag = assay_store_put_object_finish (f->store, put.result, &error);
  g_assert_no_error (error);
  g_clear_object (&put.result);
  g_assert_cmpuint (put.calls, >=, 1);
  g_assert_cmpint (put.last, ==, size);
  g_assert_cmpint (put.total, ==, size);

  assay_store_get_object_async (f->store, "big/object", output, progress_cb, &get, NULL,
                                progress_ready_cb, &get);
  while (get.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  info = assay_store_get_object_finish (f->store, get.result, &error);
  g_assert_no_error (error);
  g_clear_object (&get.result);
  g_assert_cmpint (get.last, ==, size);
  g_assert_cmpint (get.total, ==, size);

  /* nothing after the result, even from idles queued before it */
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (put.after_done);
  g_assert_false (get.after_done);
}

static void
slot_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonObject) item = counter_item (COUNT_ID, 1);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("data", 4);
  g_autoptr(GAsyncResult) put_item = NULL;
  g_autoptr(GAsyncResult) put_object = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *jobs = store_path (f, "tables/jobs");
  g_autofree char *objects = store_path (f, "objects");
  g_autoptr(GPtrArray) leftovers = NULL;
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancellable);
  assay_store_put_item_async (f->store, ASSAY_TABLE_JOBS, item, NULL, cancellable, slot_cb,
                              &put_item);
  assay_store_put_object_async (f->store, "cancelled/object", bytes, NULL, NULL, NULL,
                                cancellable, slot_cb, &put_object);
  while (put_item == NULL || put_object == NULL)
    g_main_context_iteration (NULL, TRUE);

  g_assert_false (assay_store_put_item_finish (f->store, put_item, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  etag = assay_store_put_object_finish (f->store, put_object, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (etag);
  g_clear_error (&error);

  /* nothing was written, nothing was left */
  stored = assay_test_store_get_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, &error);
  g_assert_no_error (error);
  g_assert_null (stored);
  info = assay_test_store_head_object (f->store, "cancelled/object", &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  leftovers = hidden_files (jobs);
  g_assert_cmpuint (leftovers->len, ==, 0);
  g_clear_pointer (&leftovers, g_ptr_array_unref);
  leftovers = hidden_files (objects);
  g_assert_cmpuint (leftovers->len, ==, 0);
}

/* ------------------------------------------------------------------------------------- */
/* Errors that say what happened where                                                   */

static void
test_errors (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *item_file = store_path (f, "tables/jobs/" COUNT_ID ".json");
  g_autoptr(JsonObject) item = counter_item (COUNT_ID, 1);
  g_autoptr(JsonObject) damaged = NULL;
  g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (1024 * 1024), 1024 * 1024);
  g_autoptr(GBytes) small = g_bytes_new_static ("0123456789", 10);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *link = store_path (f, "objects/damaged/object");
  g_autofree char *objects = store_path (f, "objects");
  g_autoptr(GError) error = NULL;
  struct rlimit saved, limit;
  void (*saved_handler) (int);

  /* a damaged item file: CORRUPT, naming the file */
  g_assert_true (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, item, NULL, &error));
  g_assert_true (g_file_set_contents (item_file, "{\"id\": {\"S\": ", -1, NULL));
  damaged = assay_test_store_get_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, item_file));
  g_clear_error (&error);

  /* damaged object bytes: the MD5 check on get sees it */
  etag = assay_test_store_put_object (f->store, "damaged/object", small, NULL, &error);
  g_assert_no_error (error);
  {
    int fd = open (link, O_WRONLY);

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (pwrite (fd, "X", 1, 3), ==, 1);
    close (fd);
  }
  info = assay_test_store_get_object (f->store, "damaged/object", &got, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "damaged/object"));
  g_clear_error (&error);

  /* a write the system refuses names the file and the reason: here a file size limit
   * (EFBIG), which needs no special disk; a full disk reads "No space left on device" */
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limit = saved;
  limit.rlim_cur = 64 * 1024;
  saved_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  g_clear_pointer (&etag, g_free);
  etag = assay_test_store_put_object (f->store, "too/big", big, NULL, &error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, saved_handler);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "cannot write"));
  g_assert_nonnull (strstr (error->message, objects));
  g_assert_nonnull (strstr (error->message, g_strerror (EFBIG)));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* and the failed write left nothing behind */
  g_clear_pointer (&info, assay_object_info_free);
  info = assay_test_store_head_object (f->store, "too/big", &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  {
    g_autofree char *too = store_path (f, "objects/too");

    g_assert_false (g_file_test (too, G_FILE_TEST_EXISTS));
  }
}

/* ------------------------------------------------------------------------------------- */
/* Clean-up of what dead writers leave                                                   */

static void
test_stale_files (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static ("current", 7);
  g_autofree char *dir = store_path (f, "objects/stale");
  g_autofree char *jobs = store_path (f, "tables/jobs");
  const char *object_leftovers[] = {
    ".a~0123456789abcdef", ".a~0123456789abcdef.meta", ".a~fedcba9876543210.link",
    ".b~0123456789abcdef", ".b~0123456789abcdef.meta",
  };
  const char *table_leftovers[] = { "." COUNT_ID ".json~0011223344556677" };
  g_autofree char *etag = NULL;
  g_autoptr(GPtrArray) hidden = NULL;
  g_autoptr(GPtrArray) hidden_jobs = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;

  etag = assay_test_store_put_object (f->store, "stale/a", bytes, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (object_leftovers); i++)
    {
      g_autofree char *path = g_build_filename (dir, object_leftovers[i], NULL);

      g_assert_true (g_file_set_contents (path, "stale", -1, NULL));
    }
  for (guint i = 0; i < G_N_ELEMENTS (table_leftovers); i++)
    {
      g_autofree char *path = g_build_filename (jobs, table_leftovers[i], NULL);

      g_assert_true (g_file_set_contents (path, "{\"id\": {\"S\"", -1, NULL));
    }
  {
    g_autofree char *empty = store_path (f, "objects/empty/dirs");

    g_assert_cmpint (g_mkdir_with_parents (empty, 0700), ==, 0);
  }

  g_assert_true (assay_test_store_init (f->store, &error));
  g_assert_no_error (error);

  hidden = hidden_files (dir);
  g_assert_cmpuint (hidden->len, ==, 2);
  hidden_jobs = hidden_files (jobs);
  g_assert_cmpuint (hidden_jobs->len, ==, 0);
  {
    g_autofree char *empty = store_path (f, "objects/empty");

    g_assert_false (g_file_test (empty, G_FILE_TEST_EXISTS));
  }
  info = assay_test_store_get_object (f->store, "stale/a", &got, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, bytes));
}

/* ------------------------------------------------------------------------------------- */
/* Concurrency: threads of one process, then processes                                  */

/* Rounds of N concurrent "SET n = round + 1 IF n = round" from the thread pool: OFD locks
 * exclude threads of one process too, so each round has exactly one winner. */
static void
test_threads_one_winner (Fixture       *f,
                         gconstpointer  data)
{
  enum { N = 8, ROUNDS = 20 };
  g_autoptr(JsonObject) item = counter_item (COUNT_ID, 0);
  g_autoptr(JsonObject) final = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, item, NULL, &error));
  for (gint64 round = 0; round < ROUNDS; round++)
    {
      g_autoptr(AssayCondition) seen = assay_condition_compare ("n", ASSAY_COMPARE_EQ,
                                                                assay_value_number (round));
      GAsyncResult *results[N] = { NULL };
      guint winners = 0;

      for (guint i = 0; i < N; i++)
        {
          g_autoptr(AssayUpdate) update = assay_update_new ();

          assay_update_set (update, "n", assay_value_number (round + 1));
          assay_update_set (update, "winner", assay_value_number (i));
          assay_store_update_item_async (f->store, ASSAY_TABLE_JOBS, COUNT_ID, update, seen,
                                         ASSAY_RETURN_ALL_NEW, NULL, slot_cb, &results[i]);
        }
      for (guint i = 0; i < N; i++)
        {
          g_autoptr(JsonObject) updated = NULL;

          while (results[i] == NULL)
            g_main_context_iteration (NULL, TRUE);
          updated = assay_store_update_item_finish (f->store, results[i], &error);
          g_clear_object (&results[i]);
          if (updated != NULL)
            {
              g_assert_no_error (error);
              g_assert_cmpint (item_number (updated, "winner"), ==, i);
              winners++;
            }
          else
            {
              g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
              g_clear_error (&error);
            }
        }
      g_assert_cmpuint (winners, ==, 1);
    }

  final = assay_test_store_get_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, &error);
  g_assert_no_error (error);
  g_assert_cmpint (item_number (final, "n"), ==, ROUNDS);
}

static char *
self_exe (void)
{
  g_autoptr(GError) error = NULL;
  char *path = g_file_read_link ("/proc/self/exe", &error);

  g_assert_no_error (error);
  return path;
}

/* Processes racing "SET n = :seen + 1 IF n = :seen" on one item until n reaches ROUNDS:
 * every value of n is won by exactly one of them, and n counts the wins. */
static void
test_processes_one_winner (Fixture       *f,
                           gconstpointer  data)
{
  enum { PROCS = 4, ROUNDS = 100 };
  g_autofree char *exe = self_exe ();
  g_autofree char *rounds = g_strdup_printf ("%d", ROUNDS);
  g_autoptr(JsonObject) item = counter_item (COUNT_ID, 0);
  g_autoptr(JsonObject) final = NULL;
  GSubprocess *procs[PROCS];
  guint wins[ROUNDS + 1] = { 0 };
  guint total = 0, lost = 0;
  g_autoptr(GError) error = NULL;

  g_assert_true (assay_test_store_put_item (f->store, ASSAY_TABLE_JOBS, item, NULL, &error));
  for (guint p = 0; p < PROCS; p++)
    {
      procs[p] = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, exe, "--helper",
                                   "increment", f->dir, rounds, NULL);
      g_assert_no_error (error);
    }
  for (guint p = 0; p < PROCS; p++)
    {
      g_autofree char *out = NULL;
      g_auto(GStrv) lines = NULL;

      g_assert_true (g_subprocess_communicate_utf8 (procs[p], NULL, NULL, &out, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (g_subprocess_get_if_exited (procs[p]));
      g_assert_cmpint (g_subprocess_get_exit_status (procs[p]), ==, 0);
      g_clear_object (&procs[p]);

      lines = g_strsplit (out, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          guint64 value;

          if (*lines[i] == '\0')
            continue;
          if (g_str_has_prefix (lines[i], "lost "))
            {
              lost += (guint) g_ascii_strtoull (lines[i] + 5, NULL, 10);
              continue;
            }
          g_assert_true (g_ascii_string_to_unsigned (lines[i], 10, 1, ROUNDS, &value, NULL));
          wins[value]++;
          total++;
        }
    }

  for (guint v = 1; v <= ROUNDS; v++)
    g_assert_cmpuint (wins[v], ==, 1);
  g_assert_cmpuint (total, ==, ROUNDS);
  final = assay_test_store_get_item (f->store, ASSAY_TABLE_JOBS, COUNT_ID, &error);
  g_assert_no_error (error);
  g_assert_cmpint (item_number (final, "n"), ==, total);
  g_test_message ("%u processes, %u rounds, %u conditional writes refused", PROCS, ROUNDS, lost);
}

/* The two versions the crash helper alternates: item and object, each with a size of its
 * own, so that a torn write could not pass for either. */
#define PAD_A 40000
#define PAD_B 20000

static GBytes *
crash_bytes (gboolean a)
{
  gsize size = a ? 300 * 1024 : 100 * 1024;

  return g_bytes_new_take (memset (g_malloc (size), a ? 'a' : 'b', size), size);
}

static AssayUpdate *
crash_update (gboolean a)
{
  g_autofree char *pad = g_strnfill (a ? PAD_A : PAD_B, a ? 'A' : 'B');
  AssayUpdate *update = assay_update_new ();

  assay_update_set (update, "v", assay_value_string (a ? "A" : "B"));
  assay_update_set (update, "pad", assay_value_string (pad));
  return update;
}

static JsonObject *
crash_item (gboolean a)
{
  g_autoptr(AssayUpdate) update = crash_update (a);
  JsonObject *item = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_member (item, "id", assay_value_string (CRASH_ID));
  assay_update_apply (update, item, &error);
  g_assert_no_error (error);
  return item;
}

static void
write_crash_version (AssayStore *store,
                     gboolean    a,
                     gboolean    update)
{
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GBytes) bytes = crash_bytes (a);
  g_autofree char *etag = NULL;
  g_autoptr(GError) error = NULL;

  if (update)
    {
      g_autoptr(AssayUpdate) change = crash_update (a);
      g_autoptr(AssayCondition) was = assay_condition_compare ("v", ASSAY_COMPARE_EQ,
                                                               assay_value_string (a ? "B" : "A"));
      g_autoptr(JsonObject) returned = NULL;

      returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, CRASH_ID, change, was,
                                               ASSAY_RETURN_NONE, &error);
    }
  else
    {
      g_autoptr(JsonObject) item = crash_item (a);

      assay_test_store_put_item (store, ASSAY_TABLE_JOBS, item, NULL, &error);
    }
  g_assert_no_error (error);

  g_hash_table_insert (metadata, "v", a ? "A" : "B");
  etag = assay_test_store_put_object (store, CRASH_KEY, bytes, metadata, &error);
  g_assert_no_error (error);
}

static void
check_crash_state (AssayStore *store)
{
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GError) error = NULL;
  const char *v, *pad;
  gboolean a;

  item = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, CRASH_ID, &error);
  g_assert_no_error (error);
  g_assert_nonnull (item);
  g_assert_cmpuint (json_object_get_size (item), ==, 3);
  v = item_text (item, "v");
  pad = item_text (item, "pad");
  g_assert_true (g_str_equal (v, "A") || g_str_equal (v, "B"));
  a = g_str_equal (v, "A");
  g_assert_cmpuint (strlen (pad), ==, a ? PAD_A : PAD_B);
  g_assert_cmpuint (strspn (pad, v), ==, strlen (pad));

  info = assay_test_store_get_object (store, CRASH_KEY, &got, &error);
  g_assert_no_error (error);
  v = g_hash_table_lookup (info->metadata, "v");
  g_assert_true (g_strcmp0 (v, "A") == 0 || g_strcmp0 (v, "B") == 0);
  expected = crash_bytes (g_str_equal (v, "A"));
  g_assert_true (g_bytes_equal (got, expected));
}

/* A writer killed (SIGKILL) at random moments, many times: the item and the object are
 * always one of the two versions, bytes and metadata together; init then removes what
 * the dead writers left. */
static void
test_crash (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *exe = self_exe ();
  g_autofree char *objects = store_path (f, "objects/crash");
  g_autofree char *jobs = store_path (f, "tables/jobs");
  g_autoptr(GTimer) timer = g_timer_new ();
  g_autoptr(GPtrArray) hidden = NULL;
  g_autoptr(GPtrArray) hidden_jobs = NULL;
  guint rounds, leftovers = 0;
  g_autoptr(GError) error = NULL;

  write_crash_version (f->store, TRUE, FALSE);

  for (rounds = 0; rounds < 200 && g_timer_elapsed (timer, NULL) < 40; rounds++)
    {
      g_autoptr(GSubprocess) proc = NULL;
      g_autoptr(GDataInputStream) lines = NULL;
      g_autofree char *ready = NULL;

      proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, exe, "--helper", "flip",
                               f->dir, NULL);
      g_assert_no_error (error);
      lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
      ready = g_data_input_stream_read_line (lines, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (ready, ==, "ready");

      g_usleep (g_random_int_range (0, 25000));
      g_subprocess_force_exit (proc);
      g_assert_true (g_subprocess_wait (proc, NULL, &error));
      g_assert_true (g_subprocess_get_if_signaled (proc));
      g_assert_cmpint (g_subprocess_get_term_sig (proc), ==, SIGKILL);

      check_crash_state (f->store);
    }
  {
    g_autoptr(GPtrArray) left_jobs = hidden_files (jobs);
    g_autoptr(GPtrArray) left_objects = hidden_files (objects);

    leftovers = left_jobs->len + left_objects->len - 2;
  }
  g_test_message ("%u kills in %.1f s; %u files left by killed writes", rounds,
                  g_timer_elapsed (timer, NULL), leftovers);
  g_assert_cmpuint (rounds, >=, 20);

  g_assert_true (assay_test_store_init (f->store, &error));
  g_assert_no_error (error);
  hidden = hidden_files (objects);
  g_assert_cmpuint (hidden->len, ==, 2);
  hidden_jobs = hidden_files (jobs);
  g_assert_cmpuint (hidden_jobs->len, ==, 0);
  check_crash_state (f->store);
}

/* ------------------------------------------------------------------------------------- */
/* The helper processes                                                                  */

static int
helper_flip (AssayStore *store)
{
  g_print ("ready\n");
  fflush (stdout);
  /* killed by the parent; the first write is a put, so the update's condition holds */
  for (guint i = 0;; i++)
    write_crash_version (store, i % 2 == 0, i % 2 == 1);
  return 0;
}

static int
helper_increment (AssayStore *store,
                  gint64      target)
{
  guint lost = 0;

  for (;;)
    {
      g_autoptr(JsonObject) item = NULL;
      g_autoptr(AssayCondition) seen = NULL;
      g_autoptr(AssayUpdate) update = NULL;
      g_autoptr(JsonObject) returned = NULL;
      g_autoptr(GError) error = NULL;
      gint64 n;

      item = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, COUNT_ID, &error);
      if (item == NULL)
        {
          g_printerr ("cannot read the counter: %s\n", error ? error->message : "missing");
          return 1;
        }
      n = item_number (item, "n");
      if (n >= target)
        break;
      seen = assay_condition_compare ("n", ASSAY_COMPARE_EQ, assay_value_number (n));
      update = assay_update_set (assay_update_new (), "n", assay_value_number (n + 1));
      returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, COUNT_ID, update, seen,
                                               ASSAY_RETURN_NONE, &error);
      if (error == NULL)
        g_print ("%" G_GINT64_FORMAT "\n", n + 1);
      else if (g_error_matches (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED))
        lost++;
      else
        {
          g_printerr ("update failed: %s\n", error->message);
          return 1;
        }
    }
  g_print ("lost %u\n", lost);
  return 0;
}

static int
helper_main (int   argc,
             char *argv[])
{
  const char *mode = argv[2];
  AssayStore *store = ASSAY_STORE (assay_local_store_new (argv[3]));
  int status = 2;

  if (g_str_equal (mode, "flip"))
    status = helper_flip (store);
  else if (g_str_equal (mode, "increment") && argc == 5)
    status = helper_increment (store, g_ascii_strtoll (argv[4], NULL, 10));
  assay_test_store_release (store);
  return status;
}

int
main (int   argc,
      char *argv[])
{
  if (argc >= 4 && g_str_equal (argv[1], "--helper"))
    return helper_main (argc, argv);

  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/common/local-store/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("init", test_init);
  g_test_add_func ("/common/local-store/init-refuses", test_init_refuses);
  ADD ("layout/objects", test_objects_layout);
  ADD ("layout/items", test_items_layout);
  ADD ("refuse/keys", test_bad_keys);
  ADD ("refuse/ids", test_bad_ids);
  ADD ("refuse/items", test_bad_items);
  ADD ("refuse/queries", test_bad_queries);
  ADD ("index", test_index);
  ADD ("progress", test_progress);
  ADD ("cancel", test_cancel);
  ADD ("errors", test_errors);
  ADD ("stale-files", test_stale_files);
  ADD ("concurrency/threads", test_threads_one_winner);
  ADD ("concurrency/processes", test_processes_one_winner);
  ADD ("crash", test_crash);
#undef ADD

  return g_test_run ();
}
