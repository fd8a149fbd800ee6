/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-secrets"

#include "assay-secrets.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>

G_DEFINE_QUARK (assay-secrets-error-quark, assay_secrets_error)

static const SecretSchema *
get_schema (void)
{
  static const SecretSchema schema = {
    "io.github.assay.Assay.Secret",
    SECRET_SCHEMA_NONE,
    {
      { "name", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };

  return &schema;
}

const char *
assay_secrets_get_name (AssaySecret secret)
{
  switch (secret)
    {
    case ASSAY_SECRET_CLIENT_KEY:
      return "client-key";
    case ASSAY_SECRET_AWS_SECRET_KEY:
      return "aws-secret-key";
    default:
      g_return_val_if_reached (NULL);
    }
}

static const char *
get_label (AssaySecret secret)
{
  switch (secret)
    {
    case ASSAY_SECRET_CLIENT_KEY:
      return _("Assay client key (private)");
    case ASSAY_SECRET_AWS_SECRET_KEY:
      return _("Assay AWS secret access key");
    default:
      g_return_val_if_reached (NULL);
    }
}

/* Returns @error (taken) on @task as ASSAY_SECRETS_ERROR_NO_SERVICE with a message that
 * says what to do; a cancellation stays a cancellation. */
static void
return_error (GTask  *task,
              GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_new_error (task, ASSAY_SECRETS_ERROR, ASSAY_SECRETS_ERROR_NO_SERVICE,
                           _("The keyring cannot be used (%s). Assay keeps its key there: "
                             "make sure a keyring service such as GNOME Keyring is "
                             "installed, running and unlocked, then try again."),
                           error->message);
  g_error_free (error);
}

static void
lookup_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  char *value;

  value = secret_password_lookup_finish (result, &error);
  if (error != NULL)
    return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) secret_password_free);
}

void
assay_secrets_lookup_async (AssaySecret          secret,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_secrets_lookup_async);
  secret_password_lookup (get_schema (), cancellable, lookup_cb, g_steal_pointer (&task),
                          "name", assay_secrets_get_name (secret),
                          NULL);
}

char *
assay_secrets_lookup_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == assay_secrets_lookup_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!secret_password_store_finish (result, &error))
    return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
assay_secrets_store_async (AssaySecret          secret,
                           const char          *value,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_secrets_store_async);
  secret_password_store (get_schema (), SECRET_COLLECTION_DEFAULT, get_label (secret), value,
                         cancellable, store_cb, g_steal_pointer (&task),
                         "name", assay_secrets_get_name (secret),
                         NULL);
}

gboolean
assay_secrets_store_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == assay_secrets_store_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
clear_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  secret_password_clear_finish (result, &error);
  if (error != NULL)
    return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
assay_secrets_clear_async (AssaySecret          secret,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_secrets_clear_async);
  secret_password_clear (get_schema (), cancellable, clear_cb, g_steal_pointer (&task),
                         "name", assay_secrets_get_name (secret),
                         NULL);
}

gboolean
assay_secrets_clear_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == assay_secrets_clear_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
