/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-app-config"

#include "assay-app-config.h"

#include "assay-credentials.h"
#include "assay-local-store.h"
#include "assay-secrets.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>

#define DEFAULT_JOBS_TABLE    "assay-jobs"
#define DEFAULT_RESULTS_TABLE "assay-results"

G_DEFINE_QUARK (assay-app-config-error-quark, assay_app_config_error)

struct _AssayAppConfig
{
  GObject parent_instance;

  AssayStore *store;
  AssayKey *key;
  AssaySubmitSettings submit;
  char *local_dir; /* NULL in AWS mode */
};

G_DEFINE_FINAL_TYPE (AssayAppConfig, assay_app_config, G_TYPE_OBJECT)

static void
assay_app_config_finalize (GObject *object)
{
  AssayAppConfig *self = ASSAY_APP_CONFIG (object);

  g_clear_object (&self->store);
  g_clear_object (&self->key);
  g_clear_pointer (&self->local_dir, g_free);

  G_OBJECT_CLASS (assay_app_config_parent_class)->finalize (object);
}

static void
assay_app_config_class_init (AssayAppConfigClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_app_config_finalize;
}

static void
assay_app_config_init (AssayAppConfig *self)
{
  assay_submit_settings_init (&self->submit);
}

/* ------------------------------------------------------------------------------------- */
/* Helpers                                                                               */

guint
assay_app_config_preset_for_compression (const char *compression)
{
  if (g_strcmp0 (compression, "fast") == 0)
    return 0;
  if (g_strcmp0 (compression, "balanced") == 0)
    return 3;
  if (g_strcmp0 (compression, "smallest") == 0)
    return 6;
  return ASSAY_SUBMIT_PRESET_DEFAULT;
}

char *
assay_app_config_dup_local_dir (GSettings *settings)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  dir = g_settings_get_string (settings, "local-store-dir");
  if (dir[0] == '\0')
    return assay_local_store_default_dir ();
  return g_steal_pointer (&dir);
}

static char *
dup_nonempty (GSettings  *settings,
              const char *key)
{
  g_autofree char *value = g_settings_get_string (settings, key);
  g_autofree char *stripped = g_strstrip (g_strdup (value));

  return stripped[0] != '\0' ? g_steal_pointer (&stripped) : NULL;
}

AssayConfig *
assay_app_config_dup_aws_config (GSettings *settings)
{
  AssayConfig *config;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  config = assay_config_new ();
  config->bucket = dup_nonempty (settings, "bucket");
  config->region = dup_nonempty (settings, "region");
  config->s3_endpoint = dup_nonempty (settings, "s3-endpoint");
  config->dynamodb_endpoint = dup_nonempty (settings, "dynamodb-endpoint");
  config->jobs_table = dup_nonempty (settings, "jobs-table");
  config->results_table = dup_nonempty (settings, "results-table");
  if (config->jobs_table == NULL)
    config->jobs_table = g_strdup (DEFAULT_JOBS_TABLE);
  if (config->results_table == NULL)
    config->results_table = g_strdup (DEFAULT_RESULTS_TABLE);
  config->source = g_strdup (_("Assay’s preferences"));
  return config;
}

AssayAwsStore *
assay_app_config_new_aws_store (const AssayConfig          *config,
                                const char                 *access_key_id,
                                const char                 *secret_access_key,
                                const AssayAwsRetryPolicy  *policy,
                                GError                    **error)
{
  g_autoptr(AssayCredentials) credentials = NULL;
  g_autoptr(AssayAwsTransport) transport = NULL;
  g_autoptr(AssayS3Client) s3 = NULL;
  g_autoptr(AssayDynamodbClient) dynamodb = NULL;
  g_autofree char *region = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  if (config->bucket == NULL || config->bucket[0] == '\0')
    {
      g_set_error (error, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_INVALID,
                   _("No bucket is set. Enter the name of the S3 bucket to upload to."));
      return NULL;
    }

  if (access_key_id != NULL && access_key_id[0] != '\0')
    {
      if (secret_access_key == NULL || secret_access_key[0] == '\0')
        {
          g_set_error (error, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_INVALID,
                       _("The access key ID “%s” has no secret access key. Enter the secret "
                         "access key that belongs to it."),
                       access_key_id);
          return NULL;
        }
      credentials = assay_credentials_new (access_key_id, secret_access_key, NULL,
                                           _("the access key entered in Assay"));
    }
  else
    {
      /* No key in the preferences: the AWS environment or profile, as the CLI does. */
      credentials = assay_credentials_resolve (NULL, NULL, NULL, NULL, error);
      if (credentials == NULL)
        {
          g_prefix_error (error, _("No access key ID is set and none was found in the AWS "
                                   "configuration: "));
          return NULL;
        }
    }

  region = assay_credentials_resolve_region (config->region, NULL);
  if (region == NULL)
    {
      g_set_error (error, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_INVALID,
                   _("No region is set. Enter the AWS region of the bucket and tables, "
                     "for example “us-east-1”."));
      return NULL;
    }

  transport = assay_aws_transport_new (credentials, region, policy);
  s3 = assay_s3_client_new (transport, config->bucket, config->s3_endpoint,
                            ASSAY_S3_ADDRESSING_AUTO, error);
  if (s3 == NULL)
    return NULL;
  dynamodb = assay_dynamodb_client_new (transport, config->dynamodb_endpoint, error);
  if (dynamodb == NULL)
    return NULL;
  return assay_aws_store_new (s3, dynamodb,
                              config->jobs_table != NULL ? config->jobs_table : DEFAULT_JOBS_TABLE,
                              config->results_table != NULL ? config->results_table
                                                            : DEFAULT_RESULTS_TABLE);
}

/* ------------------------------------------------------------------------------------- */
/* Loading                                                                               */

typedef struct
{
  AssayAppConfig *config;
  gboolean local;
  AssayConfig *aws;       /* AWS mode */
  char *access_key_id;    /* AWS mode, NULL when not set */
} LoadData;

static void
load_data_free (LoadData *data)
{
  g_clear_object (&data->config);
  g_clear_pointer (&data->aws, assay_config_free);
  g_free (data->access_key_id);
  g_free (data);
}

static void
open_aws (GTask      *task,
          const char *secret_access_key)
{
  LoadData *data = g_task_get_task_data (task);
  GError *error = NULL;
  AssayAwsStore *store;

  store = assay_app_config_new_aws_store (data->aws, data->access_key_id, secret_access_key,
                                          NULL, &error);
  if (store == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  data->config->store = ASSAY_STORE (store);
  g_task_return_pointer (task, g_steal_pointer (&data->config), g_object_unref);
}

static void
aws_secret_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  char *secret;

  secret = assay_secrets_lookup_finish (result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  open_aws (task, secret);
  secret_password_free (secret);
}

static void
local_init_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LoadData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!assay_store_init_finish (ASSAY_STORE (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&data->config), g_object_unref);
}

static void
client_key_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LoadData *data = g_task_get_task_data (task);
  g_autoptr(GError) key_error = NULL;
  GCancellable *cancellable;
  GError *error = NULL;
  char *pem;

  pem = assay_secrets_lookup_finish (result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (pem == NULL)
    {
      g_task_return_new_error (task, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_NO_KEY,
                               _("There is no client key in the keyring. Open Preferences and "
                                 "import your key (or finish the setup to make one)."));
      return;
    }
  data->config->key = assay_key_new_from_pem (pem, -1, &key_error);
  secret_password_free (pem);
  if (data->config->key == NULL)
    {
      g_task_return_new_error (task, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_BAD_KEY,
                               _("The client key in the keyring cannot be read (%s). Import a "
                                 "backup of your key in Preferences."),
                               key_error->message);
      return;
    }

  cancellable = g_task_get_cancellable (task);
  if (data->local)
    {
      data->config->store = ASSAY_STORE (assay_local_store_new (data->config->local_dir));
      assay_store_init_async (data->config->store, cancellable, local_init_cb,
                              g_steal_pointer (&task));
    }
  else if (data->access_key_id != NULL)
    assay_secrets_lookup_async (ASSAY_SECRET_AWS_SECRET_KEY, cancellable, aws_secret_cb,
                                g_steal_pointer (&task));
  else
    open_aws (task, NULL);
}

void
assay_app_config_load_async (GSettings           *settings,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *compression = NULL;
  LoadData *data;

  g_return_if_fail (G_IS_SETTINGS (settings));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_app_config_load_async);

  data = g_new0 (LoadData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) load_data_free);
  data->config = g_object_new (ASSAY_TYPE_APP_CONFIG, NULL);

  compression = g_settings_get_string (settings, "compression");
  data->config->submit.preset = assay_app_config_preset_for_compression (compression);
  data->config->submit.concurrency = MAX (g_settings_get_uint (settings, "concurrency"), 1);
  data->config->submit.bandwidth = g_settings_get_uint64 (settings, "bandwidth-limit");

  data->local = g_settings_get_enum (settings, "store-mode") == 0;
  if (data->local)
    data->config->local_dir = assay_app_config_dup_local_dir (settings);
  else
    {
      data->aws = assay_app_config_dup_aws_config (settings);
      data->access_key_id = dup_nonempty (settings, "access-key-id");
    }

  assay_secrets_lookup_async (ASSAY_SECRET_CLIENT_KEY, cancellable, client_key_cb,
                              g_steal_pointer (&task));
}

AssayAppConfig *
assay_app_config_load_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == assay_app_config_load_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Getters                                                                               */

AssayStore *
assay_app_config_get_store (AssayAppConfig *self)
{
  g_return_val_if_fail (ASSAY_IS_APP_CONFIG (self), NULL);
  return self->store;
}

AssayKey *
assay_app_config_get_key (AssayAppConfig *self)
{
  g_return_val_if_fail (ASSAY_IS_APP_CONFIG (self), NULL);
  return self->key;
}

const AssaySubmitSettings *
assay_app_config_get_submit_settings (AssayAppConfig *self)
{
  g_return_val_if_fail (ASSAY_IS_APP_CONFIG (self), NULL);
  return &self->submit;
}

gboolean
assay_app_config_is_local (AssayAppConfig *self)
{
  g_return_val_if_fail (ASSAY_IS_APP_CONFIG (self), FALSE);
  return self->local_dir != NULL;
}

const char *
assay_app_config_get_local_dir (AssayAppConfig *self)
{
  g_return_val_if_fail (ASSAY_IS_APP_CONFIG (self), NULL);
  return self->local_dir;
}
