/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-aws-store.h"

#include "assay-remote-credentials.h"

/* How long init waits for a new table to become ACTIVE. */
#define TABLE_ACTIVE_TIMEOUT_MS (5 * 60 * 1000)

struct _AssayAwsStore
{
  GObject parent_instance;

  AssayS3Client *s3;
  AssayDynamodbClient *dynamodb;
  char *tables[2]; /* by AssayTable */
  char *description;
};

static void assay_aws_store_iface_init (AssayStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AssayAwsStore, assay_aws_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ASSAY_TYPE_STORE,
                                                      assay_aws_store_iface_init))

static void
assay_aws_store_finalize (GObject *object)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (object);

  g_clear_object (&self->s3);
  g_clear_object (&self->dynamodb);
  g_free (self->tables[ASSAY_TABLE_JOBS]);
  g_free (self->tables[ASSAY_TABLE_RESULTS]);
  g_free (self->description);

  G_OBJECT_CLASS (assay_aws_store_parent_class)->finalize (object);
}

static void
assay_aws_store_class_init (AssayAwsStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_aws_store_finalize;
}

static void
assay_aws_store_init (AssayAwsStore *self)
{
}

AssayAwsStore *
assay_aws_store_new (AssayS3Client       *s3,
                     AssayDynamodbClient *dynamodb,
                     const char          *jobs_table,
                     const char          *results_table)
{
  AssayAwsStore *self;

  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (s3), NULL);
  g_return_val_if_fail (ASSAY_IS_DYNAMODB_CLIENT (dynamodb), NULL);
  g_return_val_if_fail (jobs_table != NULL && results_table != NULL, NULL);

  self = g_object_new (ASSAY_TYPE_AWS_STORE, NULL);
  self->s3 = g_object_ref (s3);
  self->dynamodb = g_object_ref (dynamodb);
  self->tables[ASSAY_TABLE_JOBS] = g_strdup (jobs_table);
  self->tables[ASSAY_TABLE_RESULTS] = g_strdup (results_table);
  self->description = g_strdup_printf ("S3 %s and DynamoDB %s (tables %s, %s)",
                                       assay_s3_client_get_endpoint (s3),
                                       assay_dynamodb_client_get_endpoint (dynamodb), jobs_table,
                                       results_table);
  return self;
}

/**
 * assay_aws_store_new_for_config:
 * Resolves credentials and region as the AWS CLI does (with the configured profile) and
 * makes the two clients. Nothing is contacted yet.
 */
AssayAwsStore *
assay_aws_store_new_for_config (AssayConfig  *config,
                                GError      **error)
{
  g_autoptr(AssayCredentials) credentials = NULL;
  g_autoptr(AssayAwsTransport) transport = NULL;
  g_autoptr(AssayS3Client) s3 = NULL;
  g_autoptr(AssayDynamodbClient) dynamodb = NULL;
  g_autofree char *region = NULL;

  g_return_val_if_fail (config != NULL && config->bucket != NULL, NULL);

  credentials = assay_credentials_resolve (NULL, NULL, NULL, config->profile, error);
  if (credentials == NULL)
    return NULL;
  region = assay_credentials_resolve_region (config->region, config->profile);
  if (region == NULL)
    {
      g_set_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_INVALID,
                   "no AWS region is set: use --region, ASSAY_REGION, AWS_REGION or a region in "
                   "~/.aws/config");
      return NULL;
    }

  transport = assay_aws_transport_new (credentials, region, NULL);
  if (assay_credentials_get_expiration (credentials) != 0)
    assay_aws_transport_set_refresh (transport, assay_remote_credentials_fetch);
  s3 = assay_s3_client_new (transport, config->bucket, config->s3_endpoint,
                            ASSAY_S3_ADDRESSING_AUTO, error);
  if (s3 == NULL)
    return NULL;
  dynamodb = assay_dynamodb_client_new (transport, config->dynamodb_endpoint, error);
  if (dynamodb == NULL)
    return NULL;
  return assay_aws_store_new (s3, dynamodb, config->jobs_table, config->results_table);
}

AssayS3Client *
assay_aws_store_get_s3 (AssayAwsStore *self)
{
  return self->s3;
}

AssayDynamodbClient *
assay_aws_store_get_dynamodb (AssayAwsStore *self)
{
  return self->dynamodb;
}

/* ------------------------------------------------------------------------------------- */
/* Results and errors                                                                    */

/* Returns @error (taken) on @task in the ASSAY_STORE_ERROR domain, the code from
 * @to_store, the message kept; a cancellation stays a cancellation. */
static void
return_error (GTask            *task,
              GError           *error,
              AssayStoreError (*to_store) (const GError *error))
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_new_error (task, ASSAY_STORE_ERROR, to_store (error), "%s", error->message);
  g_error_free (error);
}

static GTask *
new_task (AssayAwsStore       *self,
          gpointer             source_tag,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  return task;
}

static gpointer
propagate_pointer (AssayStore    *store,
                   GAsyncResult  *result,
                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
propagate_boolean (AssayStore    *store,
                   GAsyncResult  *result,
                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Objects                                                                               */

static void
put_object_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  char *etag = assay_s3_client_put_object_finish (ASSAY_S3_CLIENT (source), result, &error);

  if (etag == NULL)
    return_error (task, error, assay_s3_error_to_store_error);
  else
    g_task_return_pointer (task, etag, g_free);
}

static void
assay_aws_store_put_object_async (AssayStore            *store,
                                  const char            *key,
                                  GBytes                *data,
                                  GHashTable            *metadata,
                                  GFileProgressCallback  progress,
                                  gpointer               progress_data,
                                  GCancellable          *cancellable,
                                  GAsyncReadyCallback    callback,
                                  gpointer               user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_s3_client_put_object_async (self->s3, key, data, metadata, ASSAY_S3_PUT_NONE, progress,
                                    progress_data, cancellable, put_object_cb,
                                    new_task (self, assay_aws_store_put_object_async,
                                              cancellable, callback, user_data));
}

static void
assay_aws_store_put_object_encrypted_async (AssayStore          *store,
                                            const char          *key,
                                            GBytes              *data,
                                            GHashTable          *metadata,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  /* finished by put_object_finish: the same source tag */
  assay_s3_client_put_object_async (self->s3, key, data, metadata, ASSAY_S3_PUT_ENCRYPT, NULL,
                                    NULL, cancellable, put_object_cb,
                                    new_task (self, assay_aws_store_put_object_async,
                                              cancellable, callback, user_data));
}

/* Takes @error (when @info is NULL). */
static void
return_object_info (GTask           *task,
                    AssayObjectInfo *info,
                    GError          *error)
{
  if (info == NULL)
    return_error (task, error, assay_s3_error_to_store_error);
  else
    g_task_return_pointer (task, info, (GDestroyNotify) assay_object_info_free);
}

static void
get_object_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  AssayObjectInfo *info = assay_s3_client_get_object_finish (ASSAY_S3_CLIENT (source), result,
                                                             &error);

  return_object_info (task, info, error);
}

static void
head_object_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  AssayObjectInfo *info = assay_s3_client_head_object_finish (ASSAY_S3_CLIENT (source), result,
                                                              &error);

  return_object_info (task, info, error);
}

static void
assay_aws_store_get_object_async (AssayStore            *store,
                                  const char            *key,
                                  GOutputStream         *output,
                                  GFileProgressCallback  progress,
                                  gpointer               progress_data,
                                  GCancellable          *cancellable,
                                  GAsyncReadyCallback    callback,
                                  gpointer               user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_s3_client_get_object_async (self->s3, key, output, progress, progress_data, cancellable,
                                    get_object_cb,
                                    new_task (self, assay_aws_store_get_object_async,
                                              cancellable, callback, user_data));
}

static void
assay_aws_store_head_object_async (AssayStore          *store,
                                   const char          *key,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_s3_client_head_object_async (self->s3, key, cancellable, head_object_cb,
                                     new_task (self, assay_aws_store_head_object_async,
                                               cancellable, callback, user_data));
}

static void
delete_object_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!assay_s3_client_delete_object_finish (ASSAY_S3_CLIENT (source), result, &error))
    return_error (task, error, assay_s3_error_to_store_error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
assay_aws_store_delete_object_async (AssayStore          *store,
                                     const char          *key,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_s3_client_delete_object_async (self->s3, key, cancellable, delete_object_cb,
                                       new_task (self, assay_aws_store_delete_object_async,
                                                 cancellable, callback, user_data));
}

static void
list_objects_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  AssayObjectList *list = assay_s3_client_list_objects_finish (ASSAY_S3_CLIENT (source), result,
                                                               &error);

  if (list == NULL)
    return_error (task, error, assay_s3_error_to_store_error);
  else
    g_task_return_pointer (task, list, (GDestroyNotify) assay_object_list_free);
}

static void
assay_aws_store_list_objects_async (AssayStore          *store,
                                    const char          *prefix,
                                    const char          *token,
                                    guint                max_keys,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_s3_client_list_objects_async (self->s3, prefix, token, max_keys, cancellable,
                                      list_objects_cb,
                                      new_task (self, assay_aws_store_list_objects_async,
                                                cancellable, callback, user_data));
}

static void
copy_object_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!assay_s3_client_copy_object_finish (ASSAY_S3_CLIENT (source), result, &error))
    return_error (task, error, assay_s3_error_to_store_error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
assay_aws_store_copy_object_async (AssayStore          *store,
                                   const char          *source_key,
                                   const char          *key,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_s3_client_copy_object_async (self->s3, source_key, key, cancellable, copy_object_cb,
                                     new_task (self, assay_aws_store_copy_object_async,
                                               cancellable, callback, user_data));
}

/* ------------------------------------------------------------------------------------- */
/* Items                                                                                 */

static void
put_item_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!assay_dynamodb_client_put_item_finish (ASSAY_DYNAMODB_CLIENT (source), result, &error))
    return_error (task, error, assay_dynamodb_error_to_store_error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
assay_aws_store_put_item_async (AssayStore          *store,
                                AssayTable           table,
                                JsonObject          *item,
                                AssayCondition      *condition,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_dynamodb_client_put_item_async (self->dynamodb, self->tables[table], item, condition,
                                        cancellable, put_item_cb,
                                        new_task (self, assay_aws_store_put_item_async,
                                                  cancellable, callback, user_data));
}

static void
get_item_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  JsonObject *item = assay_dynamodb_client_get_item_finish (ASSAY_DYNAMODB_CLIENT (source),
                                                            result, &error);

  /* no item is an answer, not an error */
  if (g_error_matches (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_NO_ITEM))
    {
      g_clear_error (&error);
      g_task_return_pointer (task, NULL, NULL);
    }
  else if (item == NULL)
    return_error (task, error, assay_dynamodb_error_to_store_error);
  else
    g_task_return_pointer (task, item, (GDestroyNotify) json_object_unref);
}

static void
assay_aws_store_get_item_async (AssayStore          *store,
                                AssayTable           table,
                                const char          *id,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_dynamodb_client_get_item_async (self->dynamodb, self->tables[table], id, cancellable,
                                        get_item_cb,
                                        new_task (self, assay_aws_store_get_item_async,
                                                  cancellable, callback, user_data));
}

static void
update_item_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  JsonObject *item = assay_dynamodb_client_update_item_finish (ASSAY_DYNAMODB_CLIENT (source),
                                                               result, &error);

  if (item == NULL)
    return_error (task, error, assay_dynamodb_error_to_store_error);
  else if (json_object_get_size (item) == 0)
    {
      /* NONE, or ALL_OLD of an item that did not exist */
      json_object_unref (item);
      g_task_return_pointer (task, NULL, NULL);
    }
  else
    g_task_return_pointer (task, item, (GDestroyNotify) json_object_unref);
}

static void
assay_aws_store_update_item_async (AssayStore          *store,
                                   AssayTable           table,
                                   const char          *id,
                                   AssayUpdate         *update,
                                   AssayCondition      *condition,
                                   AssayReturnValues    return_values,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_dynamodb_client_update_item_async (self->dynamodb, self->tables[table], id, update,
                                           condition, return_values, cancellable, update_item_cb,
                                           new_task (self, assay_aws_store_update_item_async,
                                                     cancellable, callback, user_data));
}

static void
delete_item_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!assay_dynamodb_client_delete_item_finish (ASSAY_DYNAMODB_CLIENT (source), result, &error))
    return_error (task, error, assay_dynamodb_error_to_store_error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
assay_aws_store_delete_item_async (AssayStore          *store,
                                   AssayTable           table,
                                   const char          *id,
                                   AssayCondition      *condition,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_dynamodb_client_delete_item_async (self->dynamodb, self->tables[table], id, condition,
                                           cancellable, delete_item_cb,
                                           new_task (self, assay_aws_store_delete_item_async,
                                                     cancellable, callback, user_data));
}

static void
query_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  AssayItemPage *page = assay_dynamodb_client_query_finish (ASSAY_DYNAMODB_CLIENT (source),
                                                            result, &error);

  if (page == NULL)
    return_error (task, error, assay_dynamodb_error_to_store_error);
  else
    g_task_return_pointer (task, page, (GDestroyNotify) assay_item_page_free);
}

static void
assay_aws_store_query_async (AssayStore          *store,
                             AssayTable           table,
                             const AssayQuery    *query,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);

  assay_dynamodb_client_query_async (self->dynamodb, self->tables[table], query, cancellable,
                                     query_cb,
                                     new_task (self, assay_aws_store_query_async, cancellable,
                                               callback, user_data));
}

/* ------------------------------------------------------------------------------------- */
/* Init: the bucket, then each table (created, active, with expiry where supported)      */

typedef struct
{
  AssayTable table; /* the one being set up */
} InitState;

static void init_table (GTask *task);

static void
ttl_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayAwsStore *self = g_task_get_source_object (task);
  InitState *state = g_task_get_task_data (task);
  GError *error = NULL;

  if (!assay_dynamodb_client_enable_ttl_finish (ASSAY_DYNAMODB_CLIENT (source), result, &error))
    {
      if (!g_error_matches (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_UNSUPPORTED))
        {
          return_error (task, error, assay_dynamodb_error_to_store_error);
          return;
        }
      g_debug ("%s has no time to live: %s", assay_dynamodb_client_get_endpoint (self->dynamodb),
               error->message);
      g_clear_error (&error);
    }
  if (state->table == ASSAY_TABLE_JOBS)
    {
      state->table = ASSAY_TABLE_RESULTS;
      init_table (g_steal_pointer (&task));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
active_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayAwsStore *self = g_task_get_source_object (task);
  InitState *state = g_task_get_task_data (task);
  g_autoptr(JsonObject) description = NULL;
  GCancellable *cancellable;
  GError *error = NULL;

  description = assay_dynamodb_client_wait_active_finish (ASSAY_DYNAMODB_CLIENT (source), result,
                                                          &error);
  if (description == NULL)
    {
      return_error (task, error, assay_dynamodb_error_to_store_error);
      return;
    }
  /* the cancellable first: argument order is unspecified and the task is stolen */
  cancellable = g_task_get_cancellable (task);
  assay_dynamodb_client_enable_ttl_async (self->dynamodb, self->tables[state->table],
                                          ASSAY_AWS_STORE_TTL_ATTRIBUTE, cancellable, ttl_cb,
                                          g_steal_pointer (&task));
}

static void
table_created_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(GTask) task = data;
  AssayAwsStore *self = g_task_get_source_object (task);
  InitState *state = g_task_get_task_data (task);
  GCancellable *cancellable;
  GError *error = NULL;
  gboolean created = FALSE;

  if (!assay_dynamodb_client_create_table_finish (ASSAY_DYNAMODB_CLIENT (source), result,
                                                  &created, &error))
    {
      return_error (task, error, assay_dynamodb_error_to_store_error);
      return;
    }
  g_debug ("table %s %s", self->tables[state->table], created ? "created" : "already there");
  cancellable = g_task_get_cancellable (task);
  assay_dynamodb_client_wait_active_async (self->dynamodb, self->tables[state->table],
                                           TABLE_ACTIVE_TIMEOUT_MS, cancellable, active_cb,
                                           g_steal_pointer (&task));
}

static void
init_table (GTask *task)
{
  AssayAwsStore *self = g_task_get_source_object (task);
  InitState *state = g_task_get_task_data (task);

  assay_dynamodb_client_create_table_async (self->dynamodb, state->table,
                                            self->tables[state->table],
                                            g_task_get_cancellable (task), table_created_cb,
                                            task);
}

static void
bucket_created_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  gboolean created = FALSE;

  if (!assay_s3_client_create_bucket_finish (ASSAY_S3_CLIENT (source), result, &created,
                                             &error))
    {
      return_error (task, error, assay_s3_error_to_store_error);
      return;
    }
  init_table (g_steal_pointer (&task));
}

static void
assay_aws_store_init_async (AssayStore          *store,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  AssayAwsStore *self = ASSAY_AWS_STORE (store);
  GTask *task = new_task (self, assay_aws_store_init_async, cancellable, callback, user_data);
  InitState *state = g_new0 (InitState, 1);

  state->table = ASSAY_TABLE_JOBS;
  g_task_set_task_data (task, state, g_free);
  assay_s3_client_create_bucket_async (self->s3, cancellable, bucket_created_cb, task);
}

/* ------------------------------------------------------------------------------------- */

static const char *
assay_aws_store_describe (AssayStore *store)
{
  return ASSAY_AWS_STORE (store)->description;
}

static const char *
assay_aws_store_get_bucket (AssayStore *store)
{
  return assay_s3_client_get_bucket (ASSAY_AWS_STORE (store)->s3);
}

static const char *
assay_aws_store_get_region (AssayStore *store)
{
  return assay_aws_transport_get_region (
    assay_s3_client_get_transport (ASSAY_AWS_STORE (store)->s3));
}

static void
assay_aws_store_iface_init (AssayStoreInterface *iface)
{
  iface->describe = assay_aws_store_describe;
  iface->get_bucket = assay_aws_store_get_bucket;
  iface->get_region = assay_aws_store_get_region;
  iface->put_object_async = assay_aws_store_put_object_async;
  iface->put_object_finish = (gpointer) propagate_pointer;
  iface->put_object_encrypted_async = assay_aws_store_put_object_encrypted_async;
  iface->get_object_async = assay_aws_store_get_object_async;
  iface->get_object_finish = (gpointer) propagate_pointer;
  iface->head_object_async = assay_aws_store_head_object_async;
  iface->head_object_finish = (gpointer) propagate_pointer;
  iface->delete_object_async = assay_aws_store_delete_object_async;
  iface->delete_object_finish = propagate_boolean;
  iface->list_objects_async = assay_aws_store_list_objects_async;
  iface->list_objects_finish = (gpointer) propagate_pointer;
  iface->copy_object_async = assay_aws_store_copy_object_async;
  iface->copy_object_finish = propagate_boolean;
  iface->put_item_async = assay_aws_store_put_item_async;
  iface->put_item_finish = propagate_boolean;
  iface->get_item_async = assay_aws_store_get_item_async;
  iface->get_item_finish = (gpointer) propagate_pointer;
  iface->update_item_async = assay_aws_store_update_item_async;
  iface->update_item_finish = (gpointer) propagate_pointer;
  iface->delete_item_async = assay_aws_store_delete_item_async;
  iface->delete_item_finish = propagate_boolean;
  iface->query_async = assay_aws_store_query_async;
  iface->query_finish = (gpointer) propagate_pointer;
  iface->init_async = assay_aws_store_init_async;
  iface->init_finish = propagate_boolean;
}
