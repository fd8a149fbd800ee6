/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-key-file.h"
#include "assay-onboarding.h"
#include "test-setup-common.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

/* The first run, completed through its GActions as a keyboard user or a script would,
 * against the real keyring. */

typedef struct
{
  AdwApplication *app;
  GSettings *settings;
  char *tmp;
  guint done_activations;
} Fixture;

static void
onboarding_done_cb (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  ((Fixture *) data)->done_activations++;
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  static AdwApplication *app;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSimpleAction) action = g_simple_action_new ("onboarding-done", NULL);

  /* one application for the process: it is registered on the bus once */
  if (app == NULL)
    {
      app = adw_application_new ("io.github.assay.Assay.TestOnboarding",
                                 G_APPLICATION_NON_UNIQUE);
      /* the app's resources (its icons among them) as the app finds them */
      g_application_set_resource_base_path (G_APPLICATION (app), "/io/github/assay/Assay");
      g_application_register (G_APPLICATION (app), NULL, &error);
      g_assert_no_error (error);
    }
  fixture->app = g_object_ref (app);
  g_signal_connect (action, "activate", G_CALLBACK (onboarding_done_cb), fixture);
  g_action_map_add_action (G_ACTION_MAP (fixture->app), G_ACTION (action));

  fixture->settings = setup_test_new_settings ();
  fixture->tmp = g_dir_make_tmp ("assay-onboarding-XXXXXX", &error);
  g_assert_no_error (error);
  setup_test_clear (ASSAY_SECRET_CLIENT_KEY);
  setup_test_clear (ASSAY_SECRET_AWS_SECRET_KEY);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  setup_test_clear (ASSAY_SECRET_CLIENT_KEY);
  setup_test_clear (ASSAY_SECRET_AWS_SECRET_KEY);
  setup_test_remove_tree (fixture->tmp);
  g_free (fixture->tmp);
  g_clear_object (&fixture->settings);
  g_action_map_remove_action (G_ACTION_MAP (fixture->app), "onboarding-done");
  g_clear_object (&fixture->app);
}

static void
finished_cb (AssayOnboarding *onboarding,
             gboolean        *finished)
{
  *finished = TRUE;
}

/* Presents a new onboarding and waits for its keyring lookup. */
static AssayOnboarding *
open_onboarding (Fixture *fixture)
{
  AssayOnboarding *onboarding = assay_onboarding_new (GTK_APPLICATION (fixture->app),
                                                      fixture->settings);

  gtk_window_present (GTK_WINDOW (onboarding));
  setup_test_wait_idle (onboarding, "busy");
  return onboarding;
}

/* Activates onboarding.finish and waits for the window to go. */
static void
finish (AssayOnboarding *onboarding)
{
  gboolean finished = FALSE;
  GtkWidget *weak = GTK_WIDGET (onboarding);

  g_signal_connect (onboarding, "finished", G_CALLBACK (finished_cb), &finished);
  g_object_add_weak_pointer (G_OBJECT (onboarding), (gpointer *) &weak);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.finish", NULL));
  while (!finished)
    {
      g_assert_true (assay_onboarding_get_busy (onboarding));
      g_main_context_iteration (NULL, TRUE);
    }
  while (weak != NULL)
    g_main_context_iteration (NULL, TRUE);
}

static const char *
label_text (gpointer    widget,
            const char *name)
{
  return gtk_label_get_text (GTK_LABEL (setup_test_child (widget, ASSAY_TYPE_ONBOARDING, name)));
}

static void
test_local (Fixture       *fixture,
            gconstpointer  data)
{
  AssayOnboarding *onboarding = open_onboarding (fixture);
  g_autofree char *folder = g_build_filename (fixture->tmp, "Watched", "Here", NULL);
  g_autofree char *backup = g_build_filename (fixture->tmp, "backup.pem", NULL);
  g_autofree char *client_id = NULL;
  g_autofree char *pem = NULL;
  g_autoptr(AssayKey) stored = NULL;
  g_autoptr(AssayKey) exported = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *suggested = g_build_filename (g_get_home_dir (), "Assay", NULL);
  GStatBuf st;

  /* ~/Assay is suggested, the key is a new one and shown */
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (setup_test_child (
                     onboarding, ASSAY_TYPE_ONBOARDING, "folder_row"))), ==, suggested);
  setup_test_screenshot (onboarding, "setup-onboarding-folder");
  client_id = g_strdup (assay_key_get_client_id (assay_onboarding_get_key (onboarding)));
  g_assert_cmpstr (label_text (onboarding, "client_id_label"), ==, client_id);
  g_assert_true (g_str_has_prefix (client_id, "client-"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.set-folder",
                                             "s", folder));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.next", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.choose-aws",
                                             NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.choose-local",
                                             NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.next", NULL));

  setup_test_screenshot (onboarding, "setup-onboarding-key");

  /* the backup: the same key, 0600 */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.export-key-to",
                                             "s", backup));
  g_assert_cmpint (g_stat (backup, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  exported = assay_key_file_load (backup, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (exported), ==, client_id);
  g_assert_true (gtk_widget_get_visible (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING,
                                                           "key_status")));

  /* nothing is written before the end */
  g_assert_false (g_settings_get_boolean (fixture->settings, "onboarding-done"));
  pem = setup_test_lookup (ASSAY_SECRET_CLIENT_KEY);
  g_assert_null (pem);

  finish (onboarding);

  g_assert_true (g_settings_get_boolean (fixture->settings, "onboarding-done"));
  g_assert_cmpstr (g_settings_get_string (fixture->settings, "watched-folder"), ==, folder);
  g_assert_cmpstr (g_settings_get_string (fixture->settings, "store-mode"), ==, "local");
  g_assert_true (g_file_test (folder, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (fixture->done_activations, ==, 1);

  pem = setup_test_lookup (ASSAY_SECRET_CLIENT_KEY);
  g_assert_nonnull (pem);
  stored = assay_key_new_from_pem (pem, -1, &error);
  secret_password_free (pem);
  pem = NULL;
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (stored), ==, client_id);
  g_assert_true (assay_key_has_private (stored));
  /* the AWS secret was not touched, and no secret is in the settings */
  pem = setup_test_lookup (ASSAY_SECRET_AWS_SECRET_KEY);
  g_assert_null (pem);
  g_assert_cmpstr (g_settings_get_string (fixture->settings, "access-key-id"), ==, "");
}

static void
test_aws_imported_key (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autofree char *path = g_build_filename (fixture->tmp, "mine.pem", NULL);
  g_autofree char *not_a_key = g_build_filename (fixture->tmp, "notes.txt", NULL);
  g_autofree char *value = NULL;
  g_autoptr(AssayKey) stored = NULL;
  g_autoptr(GError) error = NULL;
  AssayOnboarding *onboarding;
  const struct
  {
    const char *row;
    const char *text;
    const char *key;
  } fields[] = {
    { "bucket_row", "my-bucket", "bucket" },
    { "region_row", " eu-central-1 ", "region" },
    { "s3_endpoint_row", "https://s3.example.net", "s3-endpoint" },
    { "dynamodb_endpoint_row", "", "dynamodb-endpoint" },
    { "jobs_table_row", "team-jobs", "jobs-table" },
    { "results_table_row", "team-results", "results-table" },
    { "access_key_id_row", "AKIDEXAMPLE", "access-key-id" },
  };
  const char *expected[] = { "my-bucket", "eu-central-1", "https://s3.example.net", "",
                             "team-jobs", "team-results", "AKIDEXAMPLE" };

  g_assert_true (assay_key_file_save (key, path, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (not_a_key, "hello", -1, &error));

  onboarding = open_onboarding (fixture);

  /* not a key: said, and the key stays */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding),
                                             "onboarding.import-key-from", "s", not_a_key));
  g_assert_cmpstr (assay_key_get_client_id (assay_onboarding_get_key (onboarding)), !=,
                   assay_key_get_client_id (key));
  g_assert_true (gtk_widget_has_css_class (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING,
                                                             "key_status"), "error"));
  g_assert_nonnull (strstr (label_text (onboarding, "key_status"), "notes.txt"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding),
                                             "onboarding.import-key-from", "s", path));
  g_assert_cmpstr (assay_key_get_client_id (assay_onboarding_get_key (onboarding)), ==,
                   assay_key_get_client_id (key));
  g_assert_cmpstr (label_text (onboarding, "client_id_label"), ==, assay_key_get_client_id (key));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.set-folder",
                                             "s", fixture->tmp));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.choose-aws",
                                             NULL));
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    gtk_editable_set_text (GTK_EDITABLE (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING,
                                                           fields[i].row)),
                           fields[i].text);
  gtk_editable_set_text (GTK_EDITABLE (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING,
                                                         "secret_row")),
                         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

  finish (onboarding);

  g_assert_true (g_settings_get_boolean (fixture->settings, "onboarding-done"));
  g_assert_cmpstr (g_settings_get_string (fixture->settings, "store-mode"), ==, "aws");
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree char *setting = g_settings_get_string (fixture->settings, fields[i].key);

      g_assert_cmpstr (setting, ==, expected[i]);
    }
  value = setup_test_lookup (ASSAY_SECRET_AWS_SECRET_KEY);
  g_assert_cmpstr (value, ==, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  g_clear_pointer (&value, secret_password_free);
  value = setup_test_lookup (ASSAY_SECRET_CLIENT_KEY);
  stored = assay_key_new_from_pem (value, -1, &error);
  g_clear_pointer (&value, secret_password_free);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (stored), ==, assay_key_get_client_id (key));
}

static void
test_aws_incomplete (Fixture       *fixture,
                     gconstpointer  data)
{
  AssayOnboarding *onboarding = open_onboarding (fixture);
  GtkWidget *status = setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING, "connection_status");
  GtkStack *stack = GTK_STACK (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING, "stack"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.set-folder",
                                             "s", fixture->tmp));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.choose-aws",
                                             NULL));
  gtk_editable_set_text (GTK_EDITABLE (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING,
                                                         "region_row")), "eu-west-1");
  gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.next", NULL);
  setup_test_screenshot (onboarding, "setup-onboarding-store");
  gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.next", NULL);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "key");

  /* no bucket: back on the store step, saying so; nothing written */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.finish", NULL));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "store");
  g_assert_true (gtk_widget_get_visible (status));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (status)), "bucket"));
  g_assert_false (assay_onboarding_get_busy (onboarding));
  g_assert_false (g_settings_get_boolean (fixture->settings, "onboarding-done"));
  g_assert_null (setup_test_lookup (ASSAY_SECRET_CLIENT_KEY));

  gtk_window_destroy (GTK_WINDOW (onboarding));
}

static void
test_existing_key (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = assay_key_to_pem (key, &error);
  AssayOnboarding *onboarding;

  g_assert_no_error (error);
  setup_test_store (ASSAY_SECRET_CLIENT_KEY, pem);

  /* a key kept from an earlier setup is not replaced by a new one */
  onboarding = open_onboarding (fixture);
  g_assert_cmpstr (assay_key_get_client_id (assay_onboarding_get_key (onboarding)), ==,
                   assay_key_get_client_id (key));
  g_assert_cmpstr (label_text (onboarding, "client_id_label"), ==, assay_key_get_client_id (key));
  gtk_window_destroy (GTK_WINDOW (onboarding));
}

/* Runs in a process of its own whose session bus address leads nowhere (GTK and
 * libadwaita connect to the bus as they start, so the address is set before): no
 * Secret Service. */
static void
test_no_keyring_child (void)
{
  g_autoptr(GSettings) settings = setup_test_new_settings ();
  AssayOnboarding *onboarding;
  GtkWidget *status;

  onboarding = assay_onboarding_new (NULL, settings);
  gtk_window_present (GTK_WINDOW (onboarding));
  setup_test_wait_idle (onboarding, "busy");
  status = setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING, "key_status");
  g_assert_true (gtk_widget_get_visible (status));
  g_assert_true (gtk_widget_has_css_class (status, "error"));
  g_printerr ("shown: %s\n", gtk_label_get_text (GTK_LABEL (status)));

  /* finishing fails on the key step, says why, writes nothing */
  gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.set-folder", "s",
                              g_get_tmp_dir ());
  gtk_widget_activate_action (GTK_WIDGET (onboarding), "onboarding.finish", NULL);
  setup_test_wait_idle (onboarding, "busy");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (
                     GTK_STACK (setup_test_child (onboarding, ASSAY_TYPE_ONBOARDING, "stack"))),
                   ==, "key");
  g_assert_false (g_settings_get_boolean (settings, "onboarding-done"));
  g_printerr ("after finish: %s\n", gtk_label_get_text (GTK_LABEL (status)));
  gtk_window_destroy (GTK_WINDOW (onboarding));
}

static void
test_no_keyring (void)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", &error);
  g_autofree char *err = NULL;

  g_assert_no_error (error);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                "unix:path=/nonexistent/assay-test-bus", TRUE);
  g_subprocess_launcher_setenv (launcher, "ASSAY_TEST_NO_BUS", "1", TRUE);
  child = g_subprocess_launcher_spawn (launcher, &error, exe, "-p",
                                       "/setup/onboarding/no-keyring-child", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (child, NULL, NULL, NULL, &err, &error));
  g_assert_no_error (error);
  g_test_message ("child: %s", err);
  g_assert_true (g_subprocess_get_successful (child));
  g_assert_true (g_pattern_match_simple ("*shown: The keyring cannot be used*GNOME Keyring*"
                                         "after finish: The keyring cannot be used*", err));
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  if (g_getenv ("ASSAY_TEST_NO_BUS") != NULL)
    {
      g_test_add_func ("/setup/onboarding/no-keyring-child", test_no_keyring_child);
      return g_test_run ();
    }
  g_test_add_func ("/setup/onboarding/no-keyring", test_no_keyring);
  g_test_add ("/setup/onboarding/local", Fixture, NULL, fixture_setup, test_local,
              fixture_teardown);
  g_test_add ("/setup/onboarding/aws-imported-key", Fixture, NULL, fixture_setup,
              test_aws_imported_key, fixture_teardown);
  g_test_add ("/setup/onboarding/aws-incomplete", Fixture, NULL, fixture_setup,
              test_aws_incomplete, fixture_teardown);
  g_test_add ("/setup/onboarding/existing-key", Fixture, NULL, fixture_setup, test_existing_key,
              fixture_teardown);

  return g_test_run ();
}
