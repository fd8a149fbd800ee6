/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-store.h"

G_DEFINE_QUARK (assay-store-error-quark, assay_store_error)

G_DEFINE_INTERFACE (AssayStore, assay_store, G_TYPE_OBJECT)

static void
assay_store_default_init (AssayStoreInterface *iface)
{
}

AssayObjectInfo *
assay_object_info_new (const char *key)
{
  AssayObjectInfo *info = g_new0 (AssayObjectInfo, 1);

  info->key = g_strdup (key);
  info->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return info;
}

void
assay_object_info_free (AssayObjectInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->key);
  g_free (info->etag);
  g_clear_pointer (&info->modified, g_date_time_unref);
  g_clear_pointer (&info->metadata, g_hash_table_unref);
  g_free (info);
}

void
assay_object_list_free (AssayObjectList *list)
{
  if (list == NULL)
    return;
  g_clear_pointer (&list->objects, g_ptr_array_unref);
  g_free (list->next_token);
  g_free (list);
}

void
assay_item_page_free (AssayItemPage *page)
{
  if (page == NULL)
    return;
  g_clear_pointer (&page->items, g_ptr_array_unref);
  g_clear_pointer (&page->last_key, json_object_unref);
  g_free (page);
}

/* The public entry points check their arguments and call the backend. */

const char *
assay_store_describe (AssayStore *self)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);

  return ASSAY_STORE_GET_IFACE (self)->describe (self);
}

const char *
assay_store_get_bucket (AssayStore *self)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);

  return ASSAY_STORE_GET_IFACE (self)->get_bucket (self);
}

const char *
assay_store_get_region (AssayStore *self)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);

  return ASSAY_STORE_GET_IFACE (self)->get_region (self);
}

void
assay_store_put_object_async (AssayStore            *self,
                              const char            *key,
                              GBytes                *data,
                              GHashTable            *metadata,
                              GFileProgressCallback  progress,
                              gpointer               progress_data,
                              GCancellable          *cancellable,
                              GAsyncReadyCallback    callback,
                              gpointer               user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (data != NULL);

  ASSAY_STORE_GET_IFACE (self)->put_object_async (self, key, data, metadata, progress,
                                                  progress_data, cancellable, callback, user_data);
}

char *
assay_store_put_object_finish (AssayStore    *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return ASSAY_STORE_GET_IFACE (self)->put_object_finish (self, result, error);
}

void
assay_store_get_object_async (AssayStore            *self,
                              const char            *key,
                              GOutputStream         *output,
                              GFileProgressCallback  progress,
                              gpointer               progress_data,
                              GCancellable          *cancellable,
                              GAsyncReadyCallback    callback,
                              gpointer               user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (output != NULL);

  ASSAY_STORE_GET_IFACE (self)->get_object_async (self, key, output, progress, progress_data,
                                                  cancellable, callback, user_data);
}

AssayObjectInfo *
assay_store_get_object_finish (AssayStore    *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return ASSAY_STORE_GET_IFACE (self)->get_object_finish (self, result, error);
}

void
assay_store_head_object_async (AssayStore          *self,
                               const char          *key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (key != NULL);

  ASSAY_STORE_GET_IFACE (self)->head_object_async (self, key, cancellable, callback, user_data);
}

AssayObjectInfo *
assay_store_head_object_finish (AssayStore    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return ASSAY_STORE_GET_IFACE (self)->head_object_finish (self, result, error);
}

void
assay_store_delete_object_async (AssayStore          *self,
                                 const char          *key,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (key != NULL);

  ASSAY_STORE_GET_IFACE (self)->delete_object_async (self, key, cancellable, callback, user_data);
}

gboolean
assay_store_delete_object_finish (AssayStore    *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return ASSAY_STORE_GET_IFACE (self)->delete_object_finish (self, result, error);
}

void
assay_store_list_objects_async (AssayStore          *self,
                                const char          *prefix,
                                const char          *token,
                                guint                max_keys,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));

  ASSAY_STORE_GET_IFACE (self)->list_objects_async (self, prefix, token, max_keys, cancellable,
                                                    callback, user_data);
}

AssayObjectList *
assay_store_list_objects_finish (AssayStore    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return ASSAY_STORE_GET_IFACE (self)->list_objects_finish (self, result, error);
}

void
assay_store_copy_object_async (AssayStore          *self,
                               const char          *source_key,
                               const char          *key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (source_key != NULL);
  g_return_if_fail (key != NULL);

  ASSAY_STORE_GET_IFACE (self)->copy_object_async (self, source_key, key, cancellable, callback,
                                                   user_data);
}

gboolean
assay_store_copy_object_finish (AssayStore    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return ASSAY_STORE_GET_IFACE (self)->copy_object_finish (self, result, error);
}

void
assay_store_put_item_async (AssayStore          *self,
                            AssayTable           table,
                            JsonObject          *item,
                            AssayCondition      *condition,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (item != NULL);

  ASSAY_STORE_GET_IFACE (self)->put_item_async (self, table, item, condition, cancellable, callback,
                                                user_data);
}

gboolean
assay_store_put_item_finish (AssayStore    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return ASSAY_STORE_GET_IFACE (self)->put_item_finish (self, result, error);
}

void
assay_store_get_item_async (AssayStore          *self,
                            AssayTable           table,
                            const char          *id,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (id != NULL);

  ASSAY_STORE_GET_IFACE (self)->get_item_async (self, table, id, cancellable, callback, user_data);
}

JsonObject *
assay_store_get_item_finish (AssayStore    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return ASSAY_STORE_GET_IFACE (self)->get_item_finish (self, result, error);
}

void
assay_store_update_item_async (AssayStore          *self,
                               AssayTable           table,
                               const char          *id,
                               AssayUpdate         *update,
                               AssayCondition      *condition,
                               AssayReturnValues    return_values,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (update != NULL);

  ASSAY_STORE_GET_IFACE (self)->update_item_async (self, table, id, update, condition,
                                                   return_values, cancellable, callback, user_data);
}

JsonObject *
assay_store_update_item_finish (AssayStore    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return ASSAY_STORE_GET_IFACE (self)->update_item_finish (self, result, error);
}

void
assay_store_delete_item_async (AssayStore          *self,
                               AssayTable           table,
                               const char          *id,
                               AssayCondition      *condition,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (id != NULL);

  ASSAY_STORE_GET_IFACE (self)->delete_item_async (self, table, id, condition, cancellable,
                                                   callback, user_data);
}

gboolean
assay_store_delete_item_finish (AssayStore    *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return ASSAY_STORE_GET_IFACE (self)->delete_item_finish (self, result, error);
}

void
assay_store_query_async (AssayStore          *self,
                         AssayTable           table,
                         const AssayQuery    *query,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (query != NULL);

  ASSAY_STORE_GET_IFACE (self)->query_async (self, table, query, cancellable, callback, user_data);
}

AssayItemPage *
assay_store_query_finish (AssayStore    *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return ASSAY_STORE_GET_IFACE (self)->query_finish (self, result, error);
}

void
assay_store_init_async (AssayStore          *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STORE (self));

  ASSAY_STORE_GET_IFACE (self)->init_async (self, cancellable, callback, user_data);
}

gboolean
assay_store_init_finish (AssayStore    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);

  return ASSAY_STORE_GET_IFACE (self)->init_finish (self, result, error);
}

static void
put_file_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  char *etag = assay_store_put_object_finish (ASSAY_STORE (source), result, &error);

  if (etag == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, etag, g_free);
}

/**
 * assay_store_put_file_async:
 * @path: the file, mapped (not read into memory) and not changed
 * @metadata: (nullable): as put_object's
 * @flags: ASSAY_STORE_PUT_ENCRYPT to request server-side encryption
 *
 * Stores @path as @key in one PUT. A file larger than ASSAY_STORE_PUT_FILE_MAX fails
 * with ASSAY_STORE_ERROR_INVALID.
 */
void
assay_store_put_file_async (AssayStore          *self,
                            const char          *key,
                            const char          *path,
                            GHashTable          *metadata,
                            AssayStorePutFlags   flags,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  AssayStoreInterface *iface;
  g_autoptr(GTask) task = NULL;
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GBytes) data = NULL;
  GError *error = NULL;

  g_return_if_fail (ASSAY_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (path != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_store_put_file_async);
  mapped = g_mapped_file_new (path, FALSE, &error);
  if (mapped == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if ((guint64) g_mapped_file_get_length (mapped) > ASSAY_STORE_PUT_FILE_MAX)
    {
      g_task_return_new_error (task, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_INVALID,
                               "%s is %" G_GSIZE_FORMAT " bytes; one PUT takes at most %"
                               G_GUINT64_FORMAT " bytes", path, g_mapped_file_get_length (mapped),
                               ASSAY_STORE_PUT_FILE_MAX);
      return;
    }
  data = g_mapped_file_get_bytes (mapped);
  iface = ASSAY_STORE_GET_IFACE (self);
  if ((flags & ASSAY_STORE_PUT_ENCRYPT) != 0 && iface->put_object_encrypted_async != NULL)
    iface->put_object_encrypted_async (self, key, data, metadata, cancellable, put_file_cb,
                                       g_steal_pointer (&task));
  else
    iface->put_object_async (self, key, data, metadata, NULL, NULL, cancellable, put_file_cb,
                             g_steal_pointer (&task));
}

/* Returns: (transfer full): the ETag, or %NULL with @error set */
char *
assay_store_put_file_finish (AssayStore    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_store_put_file_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
