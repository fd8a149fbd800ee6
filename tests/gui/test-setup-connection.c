/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-app-config.h"
#include "assay-onboarding.h"
#include "assay-preferences.h"
#include "test-servers.h"
#include "test-setup-common.h"

#include <string.h>

/* Test Connection in the onboarding and the preferences, against s3rver and dynalite
 * behind the SigV4-checking proxy (which refuses a wrong signature as AWS does): the text
 * the user sees names what failed and gives the service's reason. */

static AssayTestServer *s3rver;
static AssayTestServer *dynalite;
static AssayTestServer *s3_proxy;
static AssayTestServer *dynamodb_proxy;

typedef struct
{
  const char *bucket;
  const char *s3_endpoint;
  const char *dynamodb_endpoint;
  const char *jobs_table;
  const char *access_key_id;
  const char *secret;
  const char *screenshot;
} Form;

/* Fills the onboarding's AWS step with @form (NULL fields: the test servers' values),
 * runs Test Connection and returns the text shown. */
static char *
onboarding_test (const Form *form,
                 gboolean   *out_error)
{
  AssayOnboarding *onboarding;
  g_autoptr(GSettings) settings = setup_test_new_settings ();
  GtkWidget *status;
  const struct
  {
    const char *row;
    const char *text;
  } fields[] = {
    { "bucket_row", form->bucket != NULL ? form->bucket : ASSAY_TEST_BUCKET },
    { "region_row", ASSAY_TEST_REGION },
    { "s3_endpoint_row", form->s3_endpoint != NULL ? form->s3_endpoint
                                                    : assay_test_server_get_url (s3_proxy) },
    { "dynamodb_endpoint_row",
      form->dynamodb_endpoint != NULL ? form->dynamodb_endpoint
                                      : assay_test_server_get_url (dynamodb_proxy) },
    { "jobs_table_row", form->jobs_table != NULL ? form->jobs_table : "assay-jobs" },
    { "results_table_row", "assay-results" },
    { "access_key_id_row", form->access_key_id != NULL ? form->access_key_id
                                                        : ASSAY_TEST_ACCESS_KEY_ID },
    { "secret_row", form->secret != NULL ? form->secret : ASSAY_TEST_SECRET_ACCESS_KEY },
  };
  char *text;

  onboarding = assay_onboarding_new (NULL, settings);
  gtk_window_present (GTK_WINDOW (onboarding));
  setup_test_wait_idle (onboarding, "busy");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.next", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.choose-aws",
                                             NULL));
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    gtk_editable_set_text (GTK_EDITABLE (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING,
                                                           fields[i].row)),
                           fields[i].text);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding),
                                             "onboarding.test-connection", NULL));
  g_assert_true (assay_onboarding_get_busy (onboarding));
  setup_test_wait_idle (onboarding, "busy");
  if (form->screenshot != NULL)
    setup_test_screenshot (onboarding, form->screenshot);

  status = setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING, "connection_status");
  g_assert_true (gtk_widget_get_visible (status));
  text = g_strdup (gtk_label_get_text (GTK_LABEL (status)));
  *out_error = gtk_widget_has_css_class (status, "error");
  g_test_message ("shown: %s", text);
  /* nothing is saved by a test */
  g_assert_false (g_settings_get_boolean (settings, "onboarding-done"));
  gtk_window_destroy (GTK_WINDOW (onboarding));
  return text;
}

static void
test_onboarding_ok (void)
{
  const Form form = { 0 };
  gboolean error;
  g_autofree char *text = onboarding_test (&form, &error);

  g_assert_false (error);
  g_assert_true (g_str_has_prefix (text, "Connected"));
  g_assert_nonnull (strstr (text, ASSAY_TEST_BUCKET));
}

static void
test_onboarding_wrong_secret (void)
{
  const Form form = { .secret = "not-the-secret-key",
                      .screenshot = "setup-onboarding-wrong-secret" };
  gboolean error;
  guint refused = assay_test_server_count_refused (s3_proxy);
  g_autofree char *text = onboarding_test (&form, &error);

  /* the service's reason, word for word, and what it refused */
  g_assert_true (error);
  g_assert_nonnull (strstr (text, "SignatureDoesNotMatch"));
  g_assert_nonnull (strstr (text, "the request signature we calculated does not match the "
                                  "signature you provided"));
  g_assert_nonnull (strstr (text, "“" ASSAY_TEST_BUCKET "”"));
  g_assert_nonnull (strstr (text, assay_test_server_get_url (s3_proxy)));
  g_assert_cmpuint (assay_test_server_count_refused (s3_proxy), >, refused);
}

static void
test_onboarding_wrong_access_key (void)
{
  const Form form = { .access_key_id = "AKIDSOMEONEELSE" };
  gboolean error;
  g_autofree char *text = onboarding_test (&form, &error);

  g_assert_true (error);
  g_assert_nonnull (strstr (text, "InvalidAccessKeyId"));
  g_assert_nonnull (strstr (text, "AKIDSOMEONEELSE"));
}

static void
test_onboarding_missing_table (void)
{
  const Form form = { .jobs_table = "no-such-jobs" };
  gboolean error;
  g_autofree char *text = onboarding_test (&form, &error);

  g_assert_true (error);
  g_assert_nonnull (strstr (text, "jobs table “no-such-jobs”"));
  g_assert_nonnull (strstr (text, assay_test_server_get_url (dynamodb_proxy)));
  g_assert_nonnull (strstr (text, "ResourceNotFound"));
}

static void
test_onboarding_missing_bucket (void)
{
  const Form form = { .bucket = "no-such-bucket" };
  gboolean error;
  g_autofree char *text = onboarding_test (&form, &error);

  g_assert_true (error);
  g_assert_nonnull (strstr (text, "NoSuchBucket"));
  g_assert_nonnull (strstr (text, "no-such-bucket"));
}

static void
test_onboarding_unreachable (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  gboolean failed;
  guint16 port;
  Form form = { 0 };

  /* a port that was free a moment ago, and nothing listens on it now */
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  url = g_strdup_printf ("http://127.0.0.1:%u", port);
  form.s3_endpoint = url;

  text = onboarding_test (&form, &failed);
  g_assert_true (failed);
  g_assert_nonnull (strstr (text, url));
}

static void
test_preferences (void)
{
  g_autoptr(GSettings) settings = setup_test_new_settings ();
  GtkWidget *prefs;
  GtkWidget *status;
  GtkWidget *secret_row;

  g_settings_set_string (settings, "store-mode", "aws");
  g_settings_set_string (settings, "bucket", ASSAY_TEST_BUCKET);
  g_settings_set_string (settings, "region", ASSAY_TEST_REGION);
  g_settings_set_string (settings, "s3-endpoint", assay_test_server_get_url (s3_proxy));
  g_settings_set_string (settings, "dynamodb-endpoint",
                         assay_test_server_get_url (dynamodb_proxy));
  g_settings_set_string (settings, "access-key-id", ASSAY_TEST_ACCESS_KEY_ID);
  setup_test_store (ASSAY_SECRET_AWS_SECRET_KEY, ASSAY_TEST_SECRET_ACCESS_KEY);

  prefs = assay_preferences_window_new (NULL, settings);
  gtk_window_present (GTK_WINDOW (prefs));
  setup_test_wait_idle (prefs, "busy");
  status = setup_test_child (prefs, ASSAY_TYPE_PREFERENCES_WINDOW, "connection_status");
  secret_row = setup_test_child (prefs, ASSAY_TYPE_PREFERENCES_WINDOW, "secret_row");

  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "store");
  /* the keyring's secret */
  g_assert_true (gtk_widget_activate_action (prefs, "prefs.test-connection", NULL));
  setup_test_wait_idle (prefs, "busy");
  g_test_message ("shown: %s", gtk_label_get_text (GTK_LABEL (status)));
  g_assert_true (g_str_has_prefix (gtk_label_get_text (GTK_LABEL (status)), "Connected"));
  g_assert_false (gtk_widget_has_css_class (status, "error"));

  /* a secret typed and not saved yet is the one tested */
  gtk_editable_set_text (GTK_EDITABLE (secret_row), "a-typo");
  g_assert_true (gtk_widget_activate_action (prefs, "prefs.test-connection", NULL));
  setup_test_wait_idle (prefs, "busy");
  g_test_message ("shown: %s", gtk_label_get_text (GTK_LABEL (status)));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (status)), "SignatureDoesNotMatch"));
  g_assert_true (gtk_widget_has_css_class (status, "error"));
  setup_test_screenshot (prefs, "setup-preferences-store");

  /* saving it (Enter, the row's apply) puts it in the keyring, not in the settings */
  g_signal_emit_by_name (secret_row, "apply");
  setup_test_wait_idle (prefs, "busy");
  {
    char *stored = setup_test_lookup (ASSAY_SECRET_AWS_SECRET_KEY);

    g_assert_cmpstr (stored, ==, "a-typo");
    secret_password_free (stored);
  }
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (secret_row)), ==, "");

  gtk_window_destroy (GTK_WINDOW (prefs));
  setup_test_clear (ASSAY_SECRET_AWS_SECRET_KEY);
}

/* Makes the bucket and tables, as “assay-cli init” does. */
static void
init_store (void)
{
  g_autoptr(AssayConfig) config = assay_config_new ();
  g_autoptr(AssayAwsStore) store = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  config->bucket = g_strdup (ASSAY_TEST_BUCKET);
  config->region = g_strdup (ASSAY_TEST_REGION);
  config->s3_endpoint = g_strdup (assay_test_server_get_url (s3_proxy));
  config->dynamodb_endpoint = g_strdup (assay_test_server_get_url (dynamodb_proxy));
  store = assay_app_config_new_aws_store (config, ASSAY_TEST_ACCESS_KEY_ID,
                                          ASSAY_TEST_SECRET_ACCESS_KEY, NULL, &error);
  g_assert_no_error (error);
  assay_store_init_async (ASSAY_STORE (store), NULL, setup_test_ready_cb, &result);
  g_assert_true (assay_store_init_finish (ASSAY_STORE (store), setup_test_wait_for (&result),
                                          &error));
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  s3rver = assay_test_server_start_s3rver ();
  dynalite = assay_test_server_start_dynalite ();
  s3_proxy = assay_test_server_start_proxy (s3rver, "s3");
  dynamodb_proxy = assay_test_server_start_proxy (dynalite, "dynamodb");
  init_store ();

  g_test_add_func ("/setup/connection/onboarding/ok", test_onboarding_ok);
  g_test_add_func ("/setup/connection/onboarding/wrong-secret", test_onboarding_wrong_secret);
  g_test_add_func ("/setup/connection/onboarding/wrong-access-key",
                   test_onboarding_wrong_access_key);
  g_test_add_func ("/setup/connection/onboarding/missing-table", test_onboarding_missing_table);
  g_test_add_func ("/setup/connection/onboarding/missing-bucket",
                   test_onboarding_missing_bucket);
  g_test_add_func ("/setup/connection/onboarding/unreachable", test_onboarding_unreachable);
  g_test_add_func ("/setup/connection/preferences", test_preferences);
  status = g_test_run ();

  assay_test_server_stop (dynamodb_proxy);
  assay_test_server_stop (s3_proxy);
  assay_test_server_stop (dynalite);
  assay_test_server_stop (s3rver);
  return status;
}
