/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-connection-test"

#include "assay-connection-test.h"

#include "assay-app-config.h"
#include "assay-aws-store.h"

#include <glib/gi18n.h>

typedef struct
{
  AssayAwsStore *store;
  char *bucket;
  char *tables[2];
  guint table;     /* the table being described */
} TestData;

static void
test_data_free (TestData *data)
{
  g_clear_object (&data->store);
  g_free (data->bucket);
  g_free (data->tables[0]);
  g_free (data->tables[1]);
  g_free (data);
}

/* Returns @error (taken) with @what said first, a cancellation as it is. */
static void
return_error (GTask      *task,
              GError     *error,
              const char *what)
{
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, "%s ", what);
  g_task_return_error (task, error);
}

static void describe_next (GTask *task);

static void
describe_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TestData *data = g_task_get_task_data (task);
  g_autoptr(JsonObject) description = NULL;
  GError *error = NULL;

  description = assay_dynamodb_client_describe_table_finish (ASSAY_DYNAMODB_CLIENT (source),
                                                             result, &error);
  if (description == NULL)
    {
      g_autofree char *what = NULL;

      what = g_strdup_printf (data->table == 0
                                ? _("The jobs table “%s” at %s cannot be used:")
                                : _("The results table “%s” at %s cannot be used:"),
                              data->tables[data->table],
                              assay_dynamodb_client_get_endpoint (
                                assay_aws_store_get_dynamodb (data->store)));
      return_error (task, error, what);
      return;
    }
  data->table++;
  describe_next (task);
}

static void
describe_next (GTask *task)
{
  TestData *data = g_task_get_task_data (task);

  if (data->table == G_N_ELEMENTS (data->tables))
    {
      g_task_return_pointer (task,
                             g_strdup_printf (_("Connected: the bucket “%s” and the tables "
                                                "“%s” and “%s” can be used with these "
                                                "credentials."),
                                              data->bucket, data->tables[0], data->tables[1]),
                             g_free);
      return;
    }
  assay_dynamodb_client_describe_table_async (assay_aws_store_get_dynamodb (data->store),
                                              data->tables[data->table],
                                              g_task_get_cancellable (task), describe_cb,
                                              g_object_ref (task));
}

static void
list_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TestData *data = g_task_get_task_data (task);
  AssayObjectList *list;
  GError *error = NULL;

  list = assay_s3_client_list_objects_finish (ASSAY_S3_CLIENT (source), result, &error);
  if (list == NULL)
    {
      g_autofree char *what = NULL;

      what = g_strdup_printf (_("The bucket “%s” at %s cannot be used:"), data->bucket,
                              assay_s3_client_get_endpoint (ASSAY_S3_CLIENT (source)));
      return_error (task, error, what);
      return;
    }
  assay_object_list_free (list);
  describe_next (task);
}

void
assay_connection_test_async (const AssayConfig   *config,
                             const char          *access_key_id,
                             const char          *secret_access_key,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  /* The user waits for the answer: two attempts, a short connect timeout. */
  static const AssayAwsRetryPolicy policy = {
    .max_attempts = 2,
    .base_delay_ms = 200,
    .max_delay_ms = 1000,
    .connect_timeout_s = 10,
    .idle_timeout_s = 20,
  };
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  TestData *data;

  g_return_if_fail (config != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_connection_test_async);
  data = g_new0 (TestData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) test_data_free);

  data->store = assay_app_config_new_aws_store (config, access_key_id, secret_access_key,
                                                &policy, &error);
  if (data->store == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  data->bucket = g_strdup (config->bucket);
  data->tables[0] = g_strdup (config->jobs_table != NULL ? config->jobs_table : "assay-jobs");
  data->tables[1] = g_strdup (config->results_table != NULL ? config->results_table
                                                            : "assay-results");

  assay_s3_client_list_objects_async (assay_aws_store_get_s3 (data->store), NULL, NULL, 1,
                                      cancellable, list_cb, g_steal_pointer (&task));
}

char *
assay_connection_test_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == assay_connection_test_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
