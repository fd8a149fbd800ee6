/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

/* nftw() */
#define _GNU_SOURCE

#include "store-conformance.h"

#include "assay-item.h"
#include "assay-time.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------------------- */
/* Synchronous forms                                                                     */

static void
ready_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static GAsyncResult *
await_result (GAsyncResult **slot)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();

  while (*slot == NULL)
    g_main_context_iteration (context, TRUE);
  return *slot;
}

gboolean
assay_test_store_init (AssayStore  *store,
                       GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_init_async (store, NULL, ready_cb, &result);
  return assay_store_init_finish (store, await_result (&result), error);
}

char *
assay_test_store_put_object (AssayStore  *store,
                             const char  *key,
                             GBytes      *data,
                             GHashTable  *metadata,
                             GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_put_object_async (store, key, data, metadata, NULL, NULL, NULL, ready_cb, &result);
  return assay_store_put_object_finish (store, await_result (&result), error);
}

AssayObjectInfo *
assay_test_store_get_object (AssayStore  *store,
                             const char  *key,
                             GBytes     **out_data,
                             GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  AssayObjectInfo *info;

  assay_store_get_object_async (store, key, output, NULL, NULL, NULL, ready_cb, &result);
  info = assay_store_get_object_finish (store, await_result (&result), error);
  if (info != NULL && out_data != NULL)
    {
      g_output_stream_close (output, NULL, NULL);
      *out_data = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
    }
  return info;
}

AssayObjectInfo *
assay_test_store_head_object (AssayStore  *store,
                              const char  *key,
                              GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_head_object_async (store, key, NULL, ready_cb, &result);
  return assay_store_head_object_finish (store, await_result (&result), error);
}

gboolean
assay_test_store_delete_object (AssayStore  *store,
                                const char  *key,
                                GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_delete_object_async (store, key, NULL, ready_cb, &result);
  return assay_store_delete_object_finish (store, await_result (&result), error);
}

AssayObjectList *
assay_test_store_list_objects (AssayStore  *store,
                               const char  *prefix,
                               const char  *token,
                               guint        max_keys,
                               GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_list_objects_async (store, prefix, token, max_keys, NULL, ready_cb, &result);
  return assay_store_list_objects_finish (store, await_result (&result), error);
}

gboolean
assay_test_store_copy_object (AssayStore  *store,
                              const char  *source_key,
                              const char  *key,
                              GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_copy_object_async (store, source_key, key, NULL, ready_cb, &result);
  return assay_store_copy_object_finish (store, await_result (&result), error);
}

gboolean
assay_test_store_put_item (AssayStore      *store,
                           AssayTable       table,
                           JsonObject      *item,
                           AssayCondition  *condition,
                           GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_put_item_async (store, table, item, condition, NULL, ready_cb, &result);
  return assay_store_put_item_finish (store, await_result (&result), error);
}

JsonObject *
assay_test_store_get_item (AssayStore  *store,
                           AssayTable   table,
                           const char  *id,
                           GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_get_item_async (store, table, id, NULL, ready_cb, &result);
  return assay_store_get_item_finish (store, await_result (&result), error);
}

JsonObject *
assay_test_store_update_item (AssayStore         *store,
                              AssayTable          table,
                              const char         *id,
                              AssayUpdate        *update,
                              AssayCondition     *condition,
                              AssayReturnValues   return_values,
                              GError            **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_update_item_async (store, table, id, update, condition, return_values, NULL,
                                 ready_cb, &result);
  return assay_store_update_item_finish (store, await_result (&result), error);
}

gboolean
assay_test_store_delete_item (AssayStore      *store,
                              AssayTable       table,
                              const char      *id,
                              AssayCondition  *condition,
                              GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_delete_item_async (store, table, id, condition, NULL, ready_cb, &result);
  return assay_store_delete_item_finish (store, await_result (&result), error);
}

AssayItemPage *
assay_test_store_query (AssayStore        *store,
                        AssayTable         table,
                        const AssayQuery  *query,
                        GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_query_async (store, table, query, NULL, ready_cb, &result);
  return assay_store_query_finish (store, await_result (&result), error);
}

JsonObject *
assay_test_job_item (const char *id,
                     const char *created)
{
  g_autoptr(GString) client = g_string_new ("client-04");
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *file = g_strconcat ("file-", uuid, NULL);
  JsonObject *item = json_object_new ();
  const AssayItemForm form = ASSAY_ITEM_FORM_DYNAMODB;

  for (guint i = 0; i < 64; i++)
    g_string_append (client, "ab");
  assay_item_set_string (item, form, "id", id);
  assay_item_set_string (item, form, "version", "0.1.0");
  assay_item_set_string (item, form, "created", created);
  assay_item_set_string (item, form, "bucket", "assay-test-bucket");
  assay_item_set_string (item, form, "region", "eu-west-1");
  assay_item_set_string (item, form, "file", file);
  assay_item_set_string (item, form, "client", client->str);
  assay_item_set_string (item, form, "signature", "3045022100ab");
  assay_item_set_string (item, form, "status", "UPLOADING");
  assay_item_set_uint (item, form, "chunks", 0);
  assay_item_set_string (item, form, "queue", "open");
  assay_item_set_string (item, form, "due", created);
  return item;
}

/* ------------------------------------------------------------------------------------- */
/* Helpers                                                                               */

static char *
new_id (const char *kind)
{
  g_autofree char *uuid = g_uuid_string_random ();

  return g_strconcat (kind, "-", uuid, NULL);
}

/* A time @offset_ms from now, in the protocol's form. */
static char *
time_from_now (gint64 offset_ms)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) then = g_date_time_add (now, offset_ms * 1000);

  return assay_time_format (then);
}

static GBytes *
pattern_bytes (gsize  len,
               guint8 seed)
{
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (seed + i * 31 + i / 251);
  return g_bytes_new_take (data, len);
}

static GHashTable *
job_metadata (const char *job)
{
  GHashTable *metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_hash_table_insert (metadata, g_strdup ("assay-job"), g_strdup (job));
  return metadata;
}

static const char *
item_string (JsonObject *item,
             const char *name)
{
  const char *value = NULL;

  if (!assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, name, FALSE, &value, NULL))
    return NULL;
  return value;
}

static guint64
item_uint (JsonObject *item,
           const char *name)
{
  g_autoptr(GError) error = NULL;
  guint64 value = 0;

  assay_item_get_uint (item, ASSAY_ITEM_FORM_DYNAMODB, name, TRUE, &value, NULL, &error);
  g_assert_no_error (error);
  return value;
}

static void
assert_items_equal (JsonObject *a,
                    JsonObject *b)
{
  g_autoptr(JsonNode) x = json_node_init_object (json_node_alloc (), a);
  g_autoptr(JsonNode) y = json_node_init_object (json_node_alloc (), b);

  if (!json_node_equal (x, y))
    {
      g_autofree char *text_a = json_to_string (x, FALSE);
      g_autofree char *text_b = json_to_string (y, FALSE);

      g_assert_cmpstr (text_a, ==, text_b);
    }
}

static void
put_job (AssayStore *store,
         JsonObject *job)
{
  g_autoptr(AssayCondition) create = assay_condition_not_exists ("id");
  g_autoptr(GError) error = NULL;

  g_assert_true (assay_test_store_put_item (store, ASSAY_TABLE_JOBS, job, create, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------------------- */
/* Objects                                                                               */

static void
test_objects_round_trip (AssayStore *store)
{
  g_autofree char *job = new_id ("job");
  g_autofree char *file = new_id ("file");
  g_autofree char *key = g_strconcat (file, "/000000", NULL);
  g_autofree char *empty_key = g_strconcat (file, "/000001", NULL);
  g_autoptr(GBytes) data = pattern_bytes (300 * 1024 + 7, 1);
  g_autoptr(GBytes) replacement = pattern_bytes (1000, 2);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GHashTable) metadata = job_metadata (job);
  g_autofree char *md5 = g_compute_checksum_for_bytes (G_CHECKSUM_MD5, data);
  g_autofree char *etag = NULL;
  g_autoptr(AssayObjectInfo) head = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(AssayObjectInfo) empty_info = NULL;
  g_autoptr(AssayObjectInfo) replaced = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) got_empty = NULL;
  g_autoptr(GBytes) got_replaced = NULL;
  g_autoptr(GError) error = NULL;

  etag = assay_test_store_put_object (store, key, data, metadata, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (etag, ==, md5);

  head = assay_test_store_head_object (store, key, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (head->key, ==, key);
  g_assert_cmpuint (head->size, ==, g_bytes_get_size (data));
  g_assert_cmpstr (head->etag, ==, md5);
  g_assert_nonnull (head->modified);
  g_assert_cmpstr (g_hash_table_lookup (head->metadata, "assay-job"), ==, job);

  info = assay_test_store_get_object (store, key, &got, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, data));
  g_assert_cmpstr (info->etag, ==, md5);
  g_assert_cmpuint (info->size, ==, g_bytes_get_size (data));
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-job"), ==, job);

  g_clear_pointer (&etag, g_free);
  etag = assay_test_store_put_object (store, empty_key, empty, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (etag, ==, "d41d8cd98f00b204e9800998ecf8427e");
  empty_info = assay_test_store_get_object (store, empty_key, &got_empty, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty_info->size, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (got_empty), ==, 0);

  /* a second put replaces the bytes and the metadata together */
  g_clear_pointer (&etag, g_free);
  etag = assay_test_store_put_object (store, key, replacement, NULL, &error);
  g_assert_no_error (error);
  replaced = assay_test_store_get_object (store, key, &got_replaced, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got_replaced, replacement));
  g_assert_cmpstr (replaced->etag, ==, etag);
  g_assert_null (g_hash_table_lookup (replaced->metadata, "assay-job"));

  g_assert_true (assay_test_store_delete_object (store, key, &error));
  g_assert_true (assay_test_store_delete_object (store, empty_key, &error));
  g_assert_no_error (error);
}

static void
test_objects_missing (AssayStore *store)
{
  g_autofree char *file = new_id ("file");
  g_autofree char *key = g_strconcat (file, "/000000", NULL);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(AssayObjectInfo) head = NULL;
  g_autoptr(GError) error = NULL;

  info = assay_test_store_get_object (store, key, NULL, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  g_assert_null (info);
  g_clear_error (&error);

  head = assay_test_store_head_object (store, key, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  g_assert_null (head);
  g_clear_error (&error);

  /* as on S3, deleting what is not there succeeds */
  g_assert_true (assay_test_store_delete_object (store, key, &error));
  g_assert_no_error (error);
}

/* Every key under @prefix, page by page of @max_keys. */
static GPtrArray *
list_all (AssayStore *store,
          const char *prefix,
          guint       max_keys,
          guint      *out_pages)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *token = NULL;
  guint pages = 0;

  do
    {
      g_autoptr(AssayObjectList) list = NULL;
      g_autoptr(GError) error = NULL;

      list = assay_test_store_list_objects (store, prefix, token, max_keys, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (list->objects->len, <=, max_keys);
      for (guint i = 0; i < list->objects->len; i++)
        {
          AssayObjectInfo *info = g_ptr_array_index (list->objects, i);

          g_assert_true (g_str_has_prefix (info->key, prefix));
          g_ptr_array_add (keys, g_strdup (info->key));
        }
      g_free (token);
      token = g_steal_pointer (&list->next_token);
      pages++;
      g_assert_cmpuint (pages, <, 100);
    }
  while (token != NULL);

  if (out_pages != NULL)
    *out_pages = pages;
  return keys;
}

static void
test_objects_list (AssayStore *store)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *prefix = g_strconcat ("conformance-", uuid, "/", NULL);
  const char *names[] = { "x/000000", "x/000001", "x/000002", "y", "z/000000" };
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) x = NULL;
  g_autoptr(GPtrArray) partial = NULL;
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(AssayObjectList) first = NULL;
  g_autofree char *none_prefix = NULL;
  g_autofree char *x_prefix = NULL;
  g_autofree char *partial_prefix = NULL;
  g_autoptr(GError) error = NULL;
  guint pages = 0;

  /* put out of order: listing sorts */
  for (int i = G_N_ELEMENTS (names) - 1; i >= 0; i--)
    {
      g_autofree char *key = g_strconcat (prefix, names[i], NULL);
      g_autoptr(GBytes) data = pattern_bytes (10 + i, (guint8) i);
      g_autofree char *etag = assay_test_store_put_object (store, key, data, NULL, &error);

      g_assert_no_error (error);
    }

  all = list_all (store, prefix, 2, &pages);
  g_assert_cmpuint (all->len, ==, G_N_ELEMENTS (names));
  g_assert_cmpuint (pages, >=, 3);
  for (guint i = 0; i < all->len; i++)
    {
      g_autofree char *key = g_strconcat (prefix, names[i], NULL);

      g_assert_cmpstr (g_ptr_array_index (all, i), ==, key);
    }

  x_prefix = g_strconcat (prefix, "x/", NULL);
  x = list_all (store, x_prefix, 1000, NULL);
  g_assert_cmpuint (x->len, ==, 3);
  partial_prefix = g_strconcat (prefix, "x/00000", NULL);
  partial = list_all (store, partial_prefix, 1000, NULL);
  g_assert_cmpuint (partial->len, ==, 3);
  none_prefix = g_strconcat (prefix, "nothing/", NULL);
  none = list_all (store, none_prefix, 1000, &pages);
  g_assert_cmpuint (none->len, ==, 0);
  g_assert_cmpuint (pages, ==, 1);

  /* a listing gives sizes and etags */
  first = assay_test_store_list_objects (store, prefix, NULL, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (first->objects->len, ==, 1);
  g_assert_nonnull (first->next_token);
  {
    AssayObjectInfo *info = g_ptr_array_index (first->objects, 0);
    g_autoptr(GBytes) data = pattern_bytes (10, 0);
    g_autofree char *md5 = g_compute_checksum_for_bytes (G_CHECKSUM_MD5, data);

    g_assert_cmpuint (info->size, ==, 10);
    g_assert_cmpstr (info->etag, ==, md5);
  }

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *key = g_strconcat (prefix, names[i], NULL);

      g_assert_true (assay_test_store_delete_object (store, key, &error));
      g_assert_no_error (error);
    }
  g_clear_pointer (&all, g_ptr_array_unref);
  all = list_all (store, prefix, 1000, NULL);
  g_assert_cmpuint (all->len, ==, 0);
}

static void
test_objects_copy (AssayStore *store)
{
  g_autofree char *job = new_id ("job");
  g_autofree char *result = new_id ("result");
  g_autofree char *source = g_strconcat ("conformance/", result, "/source", NULL);
  g_autofree char *target = g_strconcat ("results/", result, NULL);
  g_autofree char *missing = g_strconcat ("conformance/", result, "/missing", NULL);
  g_autoptr(GBytes) data = pattern_bytes (70000, 3);
  g_autoptr(GHashTable) metadata = job_metadata (job);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(AssayObjectInfo) still = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(GError) error = NULL;

  etag = assay_test_store_put_object (store, source, data, metadata, &error);
  g_assert_no_error (error);
  g_assert_true (assay_test_store_copy_object (store, source, target, &error));
  g_assert_no_error (error);

  info = assay_test_store_get_object (store, target, &got, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, data));
  g_assert_cmpstr (info->etag, ==, etag);
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-job"), ==, job);
  still = assay_test_store_head_object (store, source, &error);
  g_assert_no_error (error);

  g_assert_false (assay_test_store_copy_object (store, missing, target, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (assay_test_store_delete_object (store, source, &error));
  g_assert_true (assay_test_store_delete_object (store, target, &error));
  g_assert_no_error (error);
}

static void
test_objects_delete (AssayStore *store)
{
  g_autofree char *file = new_id ("file");
  g_autofree char *key = g_strconcat (file, "/000000", NULL);
  g_autofree char *prefix = g_strconcat (file, "/", NULL);
  g_autoptr(GBytes) data = pattern_bytes (5, 4);
  g_autofree char *etag = NULL;
  g_autoptr(AssayObjectInfo) head = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GError) error = NULL;

  etag = assay_test_store_put_object (store, key, data, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (assay_test_store_delete_object (store, key, &error));
  g_assert_no_error (error);

  head = assay_test_store_head_object (store, key, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  keys = list_all (store, prefix, 1000, NULL);
  g_assert_cmpuint (keys->len, ==, 0);
  g_assert_true (assay_test_store_delete_object (store, key, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------------------- */
/* Items: the protocol's writes                                                          */

static void
test_items_create (AssayStore *store)
{
  g_autofree char *id = new_id ("job");
  g_autofree char *missing_id = new_id ("job");
  g_autofree char *created = assay_time_now ();
  g_autoptr(JsonObject) job = assay_test_job_item (id, created);
  g_autoptr(JsonObject) other = assay_test_job_item (id, created);
  g_autoptr(AssayCondition) create = assay_condition_not_exists ("id");
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(JsonObject) missing = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (assay_test_store_put_item (store, ASSAY_TABLE_JOBS, job, create, &error));
  g_assert_no_error (error);

  /* a second create of the same id: ConditionalCheckFailed, and the first one stays */
  assay_item_set_string (other, ASSAY_ITEM_FORM_DYNAMODB, "version", "9.9.9");
  g_assert_false (assay_test_store_put_item (store, ASSAY_TABLE_JOBS, other, create, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);

  stored = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, id, &error);
  g_assert_no_error (error);
  assert_items_equal (stored, job);

  /* a missing item is NULL, not an error */
  missing = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, missing_id, &error);
  g_assert_no_error (error);
  g_assert_null (missing);

  /* an unconditional put replaces */
  g_assert_true (assay_test_store_put_item (store, ASSAY_TABLE_JOBS, other, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&stored, json_object_unref);
  stored = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, id, &error);
  g_assert_cmpstr (item_string (stored, "version"), ==, "9.9.9");

  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, id, NULL, &error));
  g_assert_no_error (error);
}

static gboolean
set_chunks (AssayStore  *store,
            const char  *id,
            gint64       n,
            GError     **error)
{
  g_autoptr(AssayUpdate) update = assay_update_set (assay_update_new (), "chunks",
                                                    assay_value_number (n));
  g_autoptr(AssayCondition) condition = assay_condition_and (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADING")),
    assay_condition_compare ("chunks", ASSAY_COMPARE_LT, assay_value_number (n)), NULL);
  g_autoptr(JsonObject) returned = NULL;

  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, update, condition,
                                           ASSAY_RETURN_NONE, error);
  return error == NULL || *error == NULL;
}

static void
test_items_chunks (AssayStore *store)
{
  g_autofree char *id = new_id ("job");
  g_autofree char *created = assay_time_now ();
  g_autofree char *uploaded = NULL;
  g_autoptr(JsonObject) job = assay_test_job_item (id, created);
  g_autoptr(AssayUpdate) done = NULL;
  g_autoptr(AssayCondition) uploading = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(JsonObject) returned = NULL;
  g_autoptr(GError) error = NULL;

  put_job (store, job);

  /* chunks only grow, and only while UPLOADING; numbers compare as numbers (9 < 10) */
  g_assert_true (set_chunks (store, id, 1, &error));
  g_assert_no_error (error);
  g_assert_true (set_chunks (store, id, 9, &error));
  g_assert_no_error (error);
  g_assert_true (set_chunks (store, id, 10, &error));
  g_assert_no_error (error);
  set_chunks (store, id, 2, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);
  set_chunks (store, id, 10, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);

  uploaded = assay_time_now ();
  done = assay_update_new ();
  assay_update_set (done, "status", assay_value_string ("UPLOADED"));
  assay_update_set (done, "uploaded", assay_value_string (uploaded));
  assay_update_set (done, "chunks", assay_value_number (11));
  uploading = assay_condition_compare ("status", ASSAY_COMPARE_EQ,
                                       assay_value_string ("UPLOADING"));
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, done, uploading,
                                           ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);
  g_assert_null (returned);

  /* after upload done, neither chunk writes nor a second "done" pass */
  set_chunks (store, id, 12, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, done, uploading,
                                           ASSAY_RETURN_NONE, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);

  stored = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (item_uint (stored, "chunks"), ==, 11);
  g_assert_cmpstr (item_string (stored, "status"), ==, "UPLOADED");
  g_assert_cmpstr (item_string (stored, "uploaded"), ==, uploaded);

  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, id, NULL, &error));
}

/* The claim of the protocol: open, or leased with lease < now; status not final. */
static JsonObject *
claim (AssayStore  *store,
       const char  *id,
       const char  *processor,
       const char  *now,
       const char  *lease,
       GError     **error)
{
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(AssayCondition) condition = assay_condition_and (
    assay_condition_or (
      assay_condition_compare ("queue", ASSAY_COMPARE_EQ, assay_value_string ("open")),
      assay_condition_and (
        assay_condition_compare ("queue", ASSAY_COMPARE_EQ, assay_value_string ("leased")),
        assay_condition_compare ("lease", ASSAY_COMPARE_LT, assay_value_string (now)), NULL),
      NULL),
    assay_condition_compare ("status", ASSAY_COMPARE_NE, assay_value_string ("PROCESSED")),
    assay_condition_compare ("status", ASSAY_COMPARE_NE, assay_value_string ("ERROR")), NULL);

  assay_update_set (update, "processor", assay_value_string (processor));
  assay_update_set (update, "assigned", assay_value_string (now));
  assay_update_set (update, "lease", assay_value_string (lease));
  assay_update_set (update, "queue", assay_value_string ("leased"));
  assay_update_set (update, "due", assay_value_string (lease));
  assay_update_add (update, "attempts", 1);
  return assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, update, condition,
                                       ASSAY_RETURN_ALL_NEW, error);
}

static AssayCondition *
fence (const char *processor,
       gint64      attempts)
{
  return assay_condition_and (
    assay_condition_compare ("processor", ASSAY_COMPARE_EQ, assay_value_string (processor)),
    assay_condition_compare ("attempts", ASSAY_COMPARE_EQ, assay_value_number (attempts)), NULL);
}

static void
test_items_claim_fence (AssayStore *store)
{
  g_autofree char *id = new_id ("job");
  g_autofree char *p1 = new_id ("processor");
  g_autofree char *p2 = new_id ("processor");
  g_autofree char *created = time_from_now (-60000);
  g_autofree char *now = assay_time_now ();
  g_autofree char *lease1 = time_from_now (300000);
  g_autofree char *after_lease1 = time_from_now (300001);
  g_autofree char *lease2 = time_from_now (600000);
  g_autofree char *lease3 = time_from_now (900000);
  g_autofree char *result = new_id ("result");
  g_autoptr(JsonObject) job = assay_test_job_item (id, created);
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) refused = NULL;
  g_autoptr(JsonObject) second = NULL;
  g_autoptr(JsonObject) late = NULL;
  g_autoptr(JsonObject) returned = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(JsonObject) after = NULL;
  g_autoptr(AssayUpdate) heartbeat = assay_update_new ();
  g_autoptr(AssayUpdate) downloaded = assay_update_new ();
  g_autoptr(AssayUpdate) finish = assay_update_new ();
  g_autoptr(AssayUpdate) uploaded = assay_update_set (assay_update_new (), "status",
                                                      assay_value_string ("UPLOADED"));
  g_autoptr(AssayCondition) fence_p1 = fence (p1, 1);
  g_autoptr(AssayCondition) fence_p2 = fence (p2, 2);
  g_autoptr(AssayCondition) fence_p2_uploaded = assay_condition_and (
    fence (p2, 2),
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADED")), NULL);
  g_autoptr(GError) error = NULL;

  put_job (store, job);

  /* p1 claims the open job; the new item says so */
  first = claim (store, id, p1, now, lease1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (item_string (first, "processor"), ==, p1);
  g_assert_cmpstr (item_string (first, "queue"), ==, "leased");
  g_assert_cmpstr (item_string (first, "due"), ==, lease1);
  g_assert_cmpuint (item_uint (first, "attempts"), ==, 1);

  /* p2 cannot while p1's lease runs */
  refused = claim (store, id, p2, now, lease2, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_assert_null (refused);
  g_clear_error (&error);

  /* p1's heartbeat, fenced by its claim */
  assay_update_set (heartbeat, "lease", assay_value_string (lease1));
  assay_update_set (heartbeat, "due", assay_value_string (lease1));
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, heartbeat, fence_p1,
                                           ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);

  /* once the lease has run out, p2 claims: attempts 2 */
  second = claim (store, id, p2, after_lease1, lease2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (item_uint (second, "attempts"), ==, 2);
  g_assert_cmpstr (item_string (second, "processor"), ==, p2);

  /* p1 is fenced out: its heartbeat fails, and so would any write */
  late = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, heartbeat, fence_p1,
                                       ASSAY_RETURN_NONE, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);

  /* claimed while UPLOADING: "downloaded" waits for UPLOADED */
  assay_update_set (downloaded, "downloaded", assay_value_string (now));
  assay_update_set (downloaded, "status", assay_value_string ("PROCESSING"));
  g_clear_pointer (&returned, json_object_unref);
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, downloaded,
                                           fence_p2_uploaded, ASSAY_RETURN_NONE, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, uploaded, NULL,
                                           ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, downloaded,
                                           fence_p2_uploaded, ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);

  /* done: PROCESSED, the result id, out of the queue */
  assay_update_set (finish, "status", assay_value_string ("PROCESSED"));
  assay_update_set (finish, "result", assay_value_string (result));
  assay_update_remove (finish, "queue");
  assay_update_remove (finish, "due");
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, finish, fence_p2,
                                           ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);

  stored = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (item_string (stored, "status"), ==, "PROCESSED");
  g_assert_cmpstr (item_string (stored, "result"), ==, result);
  g_assert_false (json_object_has_member (stored, "queue"));
  g_assert_false (json_object_has_member (stored, "due"));

  /* a final job is never claimed again */
  after = claim (store, id, p1, lease3, lease3, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);

  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, id, NULL, &error));
}

static void
test_items_return_values (AssayStore *store)
{
  g_autofree char *id = new_id ("job");
  g_autofree char *fresh = new_id ("job");
  g_autofree char *never = new_id ("job");
  g_autofree char *created = assay_time_now ();
  g_autoptr(JsonObject) job = assay_test_job_item (id, created);
  g_autoptr(AssayUpdate) to_one = assay_update_set (assay_update_new (), "chunks",
                                                    assay_value_number (1));
  g_autoptr(AssayUpdate) to_two = assay_update_set (assay_update_new (), "chunks",
                                                    assay_value_number (2));
  g_autoptr(AssayUpdate) to_three = assay_update_set (assay_update_new (), "chunks",
                                                      assay_value_number (3));
  g_autoptr(AssayCondition) exists = assay_condition_exists ("id");
  g_autoptr(JsonObject) none = NULL;
  g_autoptr(JsonObject) old = NULL;
  g_autoptr(JsonObject) new_item = NULL;
  g_autoptr(JsonObject) created_old = NULL;
  g_autoptr(JsonObject) created_item = NULL;
  g_autoptr(JsonObject) refused = NULL;
  g_autoptr(JsonObject) absent = NULL;
  g_autoptr(GError) error = NULL;

  put_job (store, job);

  none = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, to_one, NULL,
                                       ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);
  g_assert_null (none);

  old = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, to_two, NULL,
                                      ASSAY_RETURN_ALL_OLD, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (item_uint (old, "chunks"), ==, 1);
  g_assert_cmpstr (item_string (old, "file"), ==, item_string (job, "file"));

  new_item = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, id, to_three, NULL,
                                           ASSAY_RETURN_ALL_NEW, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (item_uint (new_item, "chunks"), ==, 3);
  g_assert_cmpstr (item_string (new_item, "file"), ==, item_string (job, "file"));

  /* an update of a missing item creates it from its key, and had no old values */
  created_old = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, fresh, to_one, NULL,
                                              ASSAY_RETURN_ALL_OLD, &error);
  g_assert_no_error (error);
  g_assert_null (created_old);
  created_item = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, fresh, &error);
  g_assert_no_error (error);
  g_assert_nonnull (created_item);
  g_assert_cmpstr (item_string (created_item, "id"), ==, fresh);
  g_assert_cmpuint (item_uint (created_item, "chunks"), ==, 1);
  g_assert_cmpuint (json_object_get_size (created_item), ==, 2);

  /* … unless its condition fails on the missing item */
  refused = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, never, to_one, exists,
                                          ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);
  absent = assay_test_store_get_item (store, ASSAY_TABLE_JOBS, never, &error);
  g_assert_no_error (error);
  g_assert_null (absent);

  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, id, NULL, &error));
  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, fresh, NULL, &error));
  g_assert_no_error (error);
}

static void
test_items_delete (AssayStore *store)
{
  g_autofree char *id = new_id ("result");
  g_autofree char *job = new_id ("job");
  g_autofree char *other_job = new_id ("job");
  g_autofree char *created = assay_time_now ();
  g_autoptr(JsonObject) result = json_object_new ();
  g_autoptr(AssayCondition) create = assay_condition_not_exists ("id");
  g_autoptr(AssayCondition) wrong = assay_condition_compare ("job", ASSAY_COMPARE_EQ,
                                                             assay_value_string (other_job));
  g_autoptr(AssayCondition) right = assay_condition_compare ("job", ASSAY_COMPARE_EQ,
                                                             assay_value_string (job));
  g_autoptr(JsonObject) kept = NULL;
  g_autoptr(JsonObject) gone = NULL;
  g_autoptr(GError) error = NULL;

  assay_item_set_string (result, ASSAY_ITEM_FORM_DYNAMODB, "id", id);
  assay_item_set_string (result, ASSAY_ITEM_FORM_DYNAMODB, "client", "client-04ab");
  assay_item_set_string (result, ASSAY_ITEM_FORM_DYNAMODB, "payload", "00:11:22:33");
  assay_item_set_string (result, ASSAY_ITEM_FORM_DYNAMODB, "job", job);
  assay_item_set_string (result, ASSAY_ITEM_FORM_DYNAMODB, "created", created);
  g_assert_true (assay_test_store_put_item (store, ASSAY_TABLE_RESULTS, result, create, &error));
  g_assert_no_error (error);

  g_assert_false (assay_test_store_delete_item (store, ASSAY_TABLE_RESULTS, id, wrong, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);
  kept = assay_test_store_get_item (store, ASSAY_TABLE_RESULTS, id, &error);
  g_assert_no_error (error);
  assert_items_equal (kept, result);

  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_RESULTS, id, right, &error));
  g_assert_no_error (error);
  gone = assay_test_store_get_item (store, ASSAY_TABLE_RESULTS, id, &error);
  g_assert_no_error (error);
  g_assert_null (gone);

  /* deleting a missing item succeeds; with a condition, it is evaluated on nothing */
  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_RESULTS, id, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (assay_test_store_delete_item (store, ASSAY_TABLE_RESULTS, id, right, &error));
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_CONDITION_FAILED);
}

/* ------------------------------------------------------------------------------------- */
/* Query on queue-due                                                                    */

/* Pages through a query; returns the ids of the items in @ours, in the order met, and
 * checks that the whole answer (others' items too) is in due order. An index may lag its
 * table (DynamoDB's GSIs are eventually consistent): retry until @expected of ours show. */
static GPtrArray *
query_ours (AssayStore *store,
            AssayQuery *query,
            GHashTable *ours,
            guint       expected)
{
  for (guint attempt = 0;; attempt++)
    {
      g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(JsonObject) start = NULL;
      g_autofree char *previous_due = NULL;
      guint pages = 0;

      do
        {
          g_autoptr(AssayItemPage) page = NULL;
          g_autoptr(GError) error = NULL;

          query->start_key = start;
          page = assay_test_store_query (store, ASSAY_TABLE_JOBS, query, &error);
          query->start_key = NULL;
          g_assert_no_error (error);
          if (query->limit > 0)
            g_assert_cmpuint (page->items->len, <=, query->limit);
          for (guint i = 0; i < page->items->len; i++)
            {
              JsonObject *item = g_ptr_array_index (page->items, i);
              const char *due = item_string (item, "due");
              const char *id = item_string (item, "id");

              g_assert_nonnull (due);
              if (previous_due != NULL)
                g_assert_cmpstr (previous_due, <=, due);
              g_free (previous_due);
              previous_due = g_strdup (due);
              if (g_hash_table_contains (ours, id))
                {
                  for (guint j = 0; j < found->len; j++)
                    g_assert_cmpstr (g_ptr_array_index (found, j), !=, id);
                  g_ptr_array_add (found, g_strdup (id));
                }
            }
          g_clear_pointer (&start, json_object_unref);
          start = g_steal_pointer (&page->last_key);
          g_assert_cmpuint (++pages, <, 10000);
        }
      while (start != NULL);

      if (found->len >= expected || attempt == 50)
        return g_steal_pointer (&found);
      g_usleep (100 * 1000);
    }
}

static void
test_query_open (AssayStore *store)
{
  /* created out of order; a final job and a leased one are not in queue=open */
  const gint64 offsets[] = { -5000, -1000, -9000, -3000, -7000 };
  g_autoptr(GHashTable) ours = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(JsonNode) open = assay_value_string ("open");
  g_autoptr(AssayUpdate) lease = assay_update_new ();
  g_autoptr(AssayUpdate) final = assay_update_new ();
  g_autoptr(JsonObject) returned = NULL;
  g_autofree char *lease_time = time_from_now (60000);
  AssayQuery query = { "queue-due", "queue", open, NULL, ASSAY_COMPARE_EQ, NULL, 0, NULL };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      g_autofree char *created = time_from_now (offsets[i]);
      char *id = new_id ("job");
      g_autoptr(JsonObject) job = assay_test_job_item (id, created);

      put_job (store, job);
      g_ptr_array_add (ids, id);
      g_hash_table_add (ours, g_strdup (id));
    }
  assay_update_set (lease, "queue", assay_value_string ("leased"));
  assay_update_set (lease, "due", assay_value_string (lease_time));
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, ids->pdata[3], lease, NULL,
                                           ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);
  assay_update_set (final, "status", assay_value_string ("ERROR"));
  assay_update_remove (final, "queue");
  assay_update_remove (final, "due");
  returned = assay_test_store_update_item (store, ASSAY_TABLE_JOBS, ids->pdata[4], final, NULL,
                                           ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);

  /* oldest first: jobs 2, 0, 1 */
  found = query_ours (store, &query, ours, 3);
  g_assert_cmpuint (found->len, ==, 3);
  g_assert_cmpstr (found->pdata[0], ==, ids->pdata[2]);
  g_assert_cmpstr (found->pdata[1], ==, ids->pdata[0]);
  g_assert_cmpstr (found->pdata[2], ==, ids->pdata[1]);

  for (guint i = 0; i < ids->len; i++)
    g_assert_true (
      assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, ids->pdata[i], NULL, &error));
  g_assert_no_error (error);
}

static void
test_query_leased_due (AssayStore *store)
{
  /* leases: two ran out (in the past), one runs (future); one job stays open */
  const gint64 leases[] = { -60000, 60000, -120000 };
  g_autoptr(GHashTable) ours = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(JsonNode) leased = assay_value_string ("leased");
  g_autofree char *now = assay_time_now ();
  g_autoptr(JsonNode) now_value = assay_value_string (now);
  g_autofree char *created = time_from_now (-600000);
  g_autofree char *open_id = new_id ("job");
  g_autoptr(JsonObject) open_job = assay_test_job_item (open_id, created);
  AssayQuery query = { "queue-due", "queue", leased, "due", ASSAY_COMPARE_LT, now_value, 0,
                       NULL };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (leases); i++)
    {
      g_autofree char *lease = time_from_now (leases[i]);
      char *id = new_id ("job");
      g_autoptr(JsonObject) job = assay_test_job_item (id, created);

      assay_item_set_string (job, ASSAY_ITEM_FORM_DYNAMODB, "queue", "leased");
      assay_item_set_string (job, ASSAY_ITEM_FORM_DYNAMODB, "due", lease);
      assay_item_set_string (job, ASSAY_ITEM_FORM_DYNAMODB, "lease", lease);
      put_job (store, job);
      g_ptr_array_add (ids, id);
      g_hash_table_add (ours, g_strdup (id));
    }
  put_job (store, open_job);
  g_hash_table_add (ours, g_strdup (open_id));

  found = query_ours (store, &query, ours, 2);
  g_assert_cmpuint (found->len, ==, 2);
  g_assert_cmpstr (found->pdata[0], ==, ids->pdata[2]);
  g_assert_cmpstr (found->pdata[1], ==, ids->pdata[0]);

  for (guint i = 0; i < ids->len; i++)
    g_assert_true (
      assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, ids->pdata[i], NULL, &error));
  g_assert_true (assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, open_id, NULL, &error));
  g_assert_no_error (error);
}

static void
test_query_pagination (AssayStore *store)
{
  g_autoptr(GHashTable) ours = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(JsonNode) open = assay_value_string ("open");
  g_autofree char *same = time_from_now (-3600000);
  AssayQuery query = { "queue-due", "queue", open, NULL, ASSAY_COMPARE_EQ, NULL, 2, NULL };
  g_autoptr(GError) error = NULL;

  /* seven jobs, three of them due at the same moment: pages must neither lose nor repeat
   * items whose range keys tie */
  for (guint i = 0; i < 7; i++)
    {
      g_autofree char *created = i < 3 ? g_strdup (same) : time_from_now (-3600000 + i * 1000);
      char *id = new_id ("job");
      g_autoptr(JsonObject) job = assay_test_job_item (id, created);

      put_job (store, job);
      g_ptr_array_add (ids, id);
      g_hash_table_add (ours, g_strdup (id));
    }

  found = query_ours (store, &query, ours, 7);
  g_assert_cmpuint (found->len, ==, 7);
  for (guint i = 3; i < 7; i++)
    g_assert_cmpstr (found->pdata[i], ==, ids->pdata[i]);

  /* a range condition with pagination: due >= the fifth job's */
  {
    g_autoptr(JsonObject) fifth = assay_test_store_get_item (store, ASSAY_TABLE_JOBS,
                                                             ids->pdata[4], &error);
    g_autoptr(JsonNode) from = assay_value_string (item_string (fifth, "due"));
    g_autoptr(GPtrArray) later = NULL;

    query.range_name = "due";
    query.range_op = ASSAY_COMPARE_GE;
    query.range_value = from;
    query.limit = 1;
    later = query_ours (store, &query, ours, 3);
    g_assert_cmpuint (later->len, ==, 3);
    g_assert_cmpstr (later->pdata[0], ==, ids->pdata[4]);
    g_assert_cmpstr (later->pdata[2], ==, ids->pdata[6]);
  }

  for (guint i = 0; i < ids->len; i++)
    g_assert_true (
      assay_test_store_delete_item (store, ASSAY_TABLE_JOBS, ids->pdata[i], NULL, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------------------- */
/* Registration                                                                          */

typedef struct
{
  AssayTestMakeStore make_store;
  gpointer data;
  void (*func) (AssayStore *store);
} Case;

/* A GTask may still hold the store in a worker thread for a moment after its callback:
 * wait for it, then check that the caller's reference is the last. */
void
assay_test_store_release (AssayStore *store)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_atomic_int_get (&G_OBJECT (store)->ref_count) > 1 &&
         g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (context, FALSE);
      g_usleep (1000);
    }
  g_assert_finalize_object (store);
}

static int
remove_cb (const char        *path,
           const struct stat *st,
           int                flag,
           struct FTW        *ftw)
{
  if (remove (path) < 0)
    g_warning ("cannot remove %s: %s", path, g_strerror (errno));
  return 0;
}

/* rm -rf @path, without following links. */
void
assay_test_remove_tree (const char *path)
{
  nftw (path, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
run_case (gconstpointer user_data)
{
  const Case *c = user_data;
  g_autoptr(GError) error = NULL;
  AssayStore *store;

  store = c->make_store (c->data);
  g_assert_true (ASSAY_IS_STORE (store));
  g_assert_nonnull (assay_store_describe (store));
  g_assert_nonnull (assay_store_get_bucket (store));
  g_assert_nonnull (assay_store_get_region (store));
  g_assert_true (assay_test_store_init (store, &error));
  g_assert_no_error (error);

  c->func (store);

  assay_test_store_release (store);
}

void
assay_test_store_conformance_add (const char         *prefix,
                                  AssayTestMakeStore  make_store,
                                  gpointer            data)
{
  static const struct
  {
    const char *name;
    void (*func) (AssayStore *store);
  } cases[] = {
    { "objects/round-trip", test_objects_round_trip },
    { "objects/missing", test_objects_missing },
    { "objects/list", test_objects_list },
    { "objects/copy", test_objects_copy },
    { "objects/delete", test_objects_delete },
    { "items/create", test_items_create },
    { "items/chunks", test_items_chunks },
    { "items/claim-fence", test_items_claim_fence },
    { "items/return-values", test_items_return_values },
    { "items/delete", test_items_delete },
    { "query/open", test_query_open },
    { "query/leased-due", test_query_leased_due },
    { "query/pagination", test_query_pagination },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/%s/conformance/%s", prefix, cases[i].name);
      Case *c = g_new0 (Case, 1);

      c->make_store = make_store;
      c->data = data;
      c->func = cases[i].func;
      g_test_add_data_func_full (path, c, run_case, g_free);
    }
}
