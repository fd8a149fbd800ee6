/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-app-config.h"
#include "assay-local-store.h"
#include "assay-secrets.h"

#include <glib/gstdio.h>
#include <libsecret/secret.h>
#include <string.h>

/* The secrets and the app's configuration against the real Secret Service: a new GNOME
 * Keyring in a private D-Bus session (test-setup-session.sh). */

static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
ready_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

static char *
lookup (AssaySecret   secret,
        GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_secrets_lookup_async (secret, NULL, ready_cb, &result);
  return assay_secrets_lookup_finish (wait_for (&result), error);
}

static gboolean
store (AssaySecret   secret,
       const char   *value,
       GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_secrets_store_async (secret, value, NULL, ready_cb, &result);
  return assay_secrets_store_finish (wait_for (&result), error);
}

static gboolean
clear (AssaySecret   secret,
       GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_secrets_clear_async (secret, NULL, ready_cb, &result);
  return assay_secrets_clear_finish (wait_for (&result), error);
}

static void
test_round_trip (void)
{
  static const SecretSchema schema = {
    "io.github.assay.Assay.Secret", SECRET_SCHEMA_NONE,
    { { "name", SECRET_SCHEMA_ATTRIBUTE_STRING }, { NULL, 0 } },
  };
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autoptr(AssayKey) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = assay_key_to_pem (key, &error);
  g_autofree char *other_pem = assay_key_to_pem (other, &error);
  char *value;

  g_assert_no_error (error);
  g_assert_true (clear (ASSAY_SECRET_CLIENT_KEY, &error));
  g_assert_no_error (error);
  g_assert_true (clear (ASSAY_SECRET_AWS_SECRET_KEY, &error));
  g_assert_no_error (error);

  /* absent: NULL without an error */
  value = lookup (ASSAY_SECRET_CLIENT_KEY, &error);
  g_assert_no_error (error);
  g_assert_null (value);

  g_assert_true (store (ASSAY_SECRET_CLIENT_KEY, pem, &error));
  g_assert_no_error (error);
  value = lookup (ASSAY_SECRET_CLIENT_KEY, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, pem);
  back = assay_key_new_from_pem (value, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (back), ==, assay_key_get_client_id (key));
  secret_password_free (value);

  /* the item is where the contract says: schema io.github.assay.Assay.Secret, name= */
  value = secret_password_lookup_sync (&schema, NULL, &error, "name", "client-key", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, pem);
  secret_password_free (value);

  /* the AWS secret is another item */
  g_assert_true (store (ASSAY_SECRET_AWS_SECRET_KEY, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                        &error));
  g_assert_no_error (error);
  value = lookup (ASSAY_SECRET_AWS_SECRET_KEY, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  secret_password_free (value);

  /* storing again replaces */
  g_assert_true (store (ASSAY_SECRET_CLIENT_KEY, other_pem, &error));
  g_assert_no_error (error);
  value = lookup (ASSAY_SECRET_CLIENT_KEY, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, other_pem);
  secret_password_free (value);

  g_assert_true (clear (ASSAY_SECRET_CLIENT_KEY, &error));
  g_assert_no_error (error);
  value = lookup (ASSAY_SECRET_CLIENT_KEY, &error);
  g_assert_no_error (error);
  g_assert_null (value);
  value = lookup (ASSAY_SECRET_AWS_SECRET_KEY, &error);
  g_assert_no_error (error);
  g_assert_nonnull (value);
  secret_password_free (value);
  g_assert_true (clear (ASSAY_SECRET_AWS_SECRET_KEY, &error));
  g_assert_no_error (error);
}

static void
test_no_service (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      char *value;

      /* Nothing has talked to the bus in this process yet. */
      g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/assay-test-bus", TRUE);
      value = lookup (ASSAY_SECRET_CLIENT_KEY, &error);
      g_assert_null (value);
      g_assert_error (error, ASSAY_SECRETS_ERROR, ASSAY_SECRETS_ERROR_NO_SERVICE);
      g_print ("message: %s\n", error->message);
      g_clear_error (&error);
      g_assert_false (store (ASSAY_SECRET_CLIENT_KEY, "x", &error));
      g_assert_error (error, ASSAY_SECRETS_ERROR, ASSAY_SECRETS_ERROR_NO_SERVICE);
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*message: The keyring cannot be used*GNOME Keyring*");
}

static GSettings *
new_settings (void)
{
  g_autoptr(GSettings) settings = g_settings_new ("io.github.assay.Assay");
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;

  /* the memory backend keeps values across GSettings objects: reset them all */
  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    g_settings_reset (settings, keys[i]);
  return g_steal_pointer (&settings);
}

static AssayAppConfig *
load (GSettings  *settings,
      GError    **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_app_config_load_async (settings, NULL, ready_cb, &result);
  return assay_app_config_load_finish (wait_for (&result), error);
}

static void
test_app_config_local (void)
{
  g_autoptr(GSettings) settings = new_settings ();
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = assay_key_to_pem (key, &error);
  g_autofree char *tmp = g_dir_make_tmp ("assay-app-config-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  g_autofree char *marker = g_build_filename (dir, "store.json", NULL);
  g_autoptr(AssayAppConfig) config = NULL;
  const AssaySubmitSettings *submit;

  g_assert_no_error (error);
  g_assert_true (store (ASSAY_SECRET_CLIENT_KEY, pem, &error));
  g_assert_no_error (error);

  g_settings_set_string (settings, "store-mode", "local");
  g_settings_set_string (settings, "local-store-dir", dir);
  g_settings_set_string (settings, "compression", "smallest");
  g_settings_set_uint (settings, "concurrency", 5);
  g_settings_set_uint64 (settings, "bandwidth-limit", 250000);

  config = load (settings, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_true (assay_app_config_is_local (config));
  g_assert_cmpstr (assay_app_config_get_local_dir (config), ==, dir);
  g_assert_true (ASSAY_IS_LOCAL_STORE (assay_app_config_get_store (config)));
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR)); /* initialised */
  g_assert_cmpstr (assay_key_get_client_id (assay_app_config_get_key (config)), ==,
                   assay_key_get_client_id (key));
  g_assert_true (assay_key_has_private (assay_app_config_get_key (config)));
  submit = assay_app_config_get_submit_settings (config);
  g_assert_cmpuint (submit->preset, ==, 6);
  g_assert_cmpuint (submit->concurrency, ==, 5);
  g_assert_cmpuint (submit->bandwidth, ==, 250000);
  g_assert_finalize_object (g_steal_pointer (&config));

  /* "auto" is the client default, and the empty directory the default one */
  g_settings_reset (settings, "compression");
  g_settings_reset (settings, "local-store-dir");
  config = load (settings, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (assay_app_config_get_submit_settings (config)->preset, ==,
                    ASSAY_SUBMIT_PRESET_DEFAULT);
  {
    g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "assay", "store", NULL);
    g_assert_cmpstr (assay_app_config_get_local_dir (config), ==, expected);
  }
  g_assert_finalize_object (g_steal_pointer (&config));

  g_assert_true (clear (ASSAY_SECRET_CLIENT_KEY, &error));
  g_assert_no_error (error);
  remove_tree (tmp);
}

static void
test_app_config_errors (void)
{
  g_autoptr(GSettings) settings = new_settings ();
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = assay_key_to_pem (key, &error);
  AssayAppConfig *config;

  g_assert_no_error (error);

  /* no key: say so */
  g_assert_true (clear (ASSAY_SECRET_CLIENT_KEY, &error));
  config = load (settings, &error);
  g_assert_null (config);
  g_assert_error (error, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_NO_KEY);
  g_clear_error (&error);

  /* a damaged key */
  g_assert_true (store (ASSAY_SECRET_CLIENT_KEY, "-----BEGIN PRIVATE KEY-----\nnope\n", &error));
  config = load (settings, &error);
  g_assert_null (config);
  g_assert_error (error, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_BAD_KEY);
  g_clear_error (&error);

  g_assert_true (store (ASSAY_SECRET_CLIENT_KEY, pem, &error));
  g_assert_no_error (error);

  /* AWS without a bucket */
  g_settings_set_string (settings, "store-mode", "aws");
  config = load (settings, &error);
  g_assert_null (config);
  g_assert_error (error, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "bucket"));
  g_clear_error (&error);

  /* an access key whose secret is not in the keyring */
  g_assert_true (clear (ASSAY_SECRET_AWS_SECRET_KEY, &error));
  g_settings_set_string (settings, "bucket", "assay-test-bucket");
  g_settings_set_string (settings, "region", "eu-west-1");
  g_settings_set_string (settings, "access-key-id", "AKIDNOSECRET");
  config = load (settings, &error);
  g_assert_null (config);
  g_assert_error (error, ASSAY_APP_CONFIG_ERROR, ASSAY_APP_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "AKIDNOSECRET"));
  g_clear_error (&error);

  /* with it: an AWS store on the configured endpoints, nothing contacted yet */
  g_assert_true (store (ASSAY_SECRET_AWS_SECRET_KEY, "secret", &error));
  g_settings_set_string (settings, "s3-endpoint", "http://127.0.0.1:9");
  g_settings_set_string (settings, "dynamodb-endpoint", "http://127.0.0.1:9");
  config = load (settings, &error);
  g_assert_no_error (error);
  g_assert_false (assay_app_config_is_local (config));
  g_assert_true (ASSAY_IS_AWS_STORE (assay_app_config_get_store (config)));
  g_assert_cmpstr (assay_store_get_bucket (assay_app_config_get_store (config)), ==,
                   "assay-test-bucket");
  g_assert_cmpstr (assay_store_get_region (assay_app_config_get_store (config)), ==,
                   "eu-west-1");
  g_assert_finalize_object (config);

  g_assert_true (clear (ASSAY_SECRET_CLIENT_KEY, &error));
  g_assert_true (clear (ASSAY_SECRET_AWS_SECRET_KEY, &error));
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/setup/secrets/no-service", test_no_service);
  g_test_add_func ("/setup/secrets/round-trip", test_round_trip);
  g_test_add_func ("/setup/app-config/local", test_app_config_local);
  g_test_add_func ("/setup/app-config/errors", test_app_config_errors);

  return g_test_run ();
}
