/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-autostart.h"
#include "assay-key-file.h"
#include "assay-preferences.h"
#include "test-setup-common.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

/* The preferences: each control bound to its setting both ways, start at login (no portal:
 * the XDG autostart entry), and the key's export and import through the keyring. */

static GtkWidget *
open_preferences (GSettings *settings)
{
  GtkWidget *prefs = assay_preferences_window_new (NULL, settings);

  gtk_window_present (GTK_WINDOW (prefs));
  setup_test_wait_idle (prefs, "busy");
  return prefs;
}

static GtkWidget *
child (GtkWidget  *prefs,
       const char *name)
{
  return setup_test_child (prefs, ASSAY_TYPE_PREFERENCES_WINDOW, name);
}

static void
test_bound (void)
{
  g_autoptr(GSettings) settings = setup_test_new_settings ();
  GtkWidget *prefs = open_preferences (settings);
  GtkSwitch *notifications = GTK_SWITCH (child (prefs, "notifications_switch"));
  GtkSwitch *background = GTK_SWITCH (child (prefs, "background_switch"));
  AdwComboRow *compression = ADW_COMBO_ROW (child (prefs, "compression_row"));
  AdwComboRow *mode = ADW_COMBO_ROW (child (prefs, "mode_row"));
  GtkSpinButton *concurrency = GTK_SPIN_BUTTON (child (prefs, "concurrency_spin"));
  GtkSpinButton *bandwidth = GTK_SPIN_BUTTON (child (prefs, "bandwidth_spin"));
  GtkEditable *bucket = GTK_EDITABLE (child (prefs, "bucket_row"));
  GtkEditable *access_key_id = GTK_EDITABLE (child (prefs, "access_key_id_row"));
  GtkEditable *local_dir = GTK_EDITABLE (child (prefs, "local_dir_row"));
  AdwActionRow *folder = ADW_ACTION_ROW (child (prefs, "folder_row"));
  g_autofree char *value = NULL;

  /* the defaults are shown */
  g_assert_true (gtk_switch_get_active (notifications));
  g_assert_true (gtk_switch_get_active (background));
  g_assert_cmpuint (adw_combo_row_get_selected (compression), ==, 0);
  g_assert_cmpuint (adw_combo_row_get_selected (mode), ==, 0);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (concurrency), ==, 3);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (bandwidth), ==, 0);
  g_assert_true (gtk_widget_get_visible (child (prefs, "local_group")));
  g_assert_false (gtk_widget_get_visible (child (prefs, "aws_group")));

  /* control → setting */
  gtk_switch_set_active (notifications, FALSE);
  g_assert_false (g_settings_get_boolean (settings, "notifications"));
  gtk_switch_set_active (background, FALSE);
  g_assert_false (g_settings_get_boolean (settings, "run-in-background"));
  adw_combo_row_set_selected (compression, 3);
  value = g_settings_get_string (settings, "compression");
  g_assert_cmpstr (value, ==, "smallest");
  g_clear_pointer (&value, g_free);
  gtk_spin_button_set_value (concurrency, 7);
  g_assert_cmpuint (g_settings_get_uint (settings, "concurrency"), ==, 7);
  gtk_spin_button_set_value (bandwidth, 100); /* KiB/s */
  g_assert_cmpuint (g_settings_get_uint64 (settings, "bandwidth-limit"), ==, 102400);
  adw_combo_row_set_selected (mode, 1);
  value = g_settings_get_string (settings, "store-mode");
  g_assert_cmpstr (value, ==, "aws");
  g_clear_pointer (&value, g_free);
  g_assert_false (gtk_widget_get_visible (child (prefs, "local_group")));
  g_assert_true (gtk_widget_get_visible (child (prefs, "aws_group")));
  gtk_editable_set_text (bucket, "my-bucket");
  value = g_settings_get_string (settings, "bucket");
  g_assert_cmpstr (value, ==, "my-bucket");
  g_clear_pointer (&value, g_free);
  gtk_editable_set_text (access_key_id, "AKIDEXAMPLE");
  value = g_settings_get_string (settings, "access-key-id");
  g_assert_cmpstr (value, ==, "AKIDEXAMPLE");
  g_clear_pointer (&value, g_free);
  gtk_editable_set_text (local_dir, "/srv/assay");
  value = g_settings_get_string (settings, "local-store-dir");
  g_assert_cmpstr (value, ==, "/srv/assay");
  g_clear_pointer (&value, g_free);

  setup_test_screenshot (prefs, "setup-preferences-general");
  /* setting → control */
  g_settings_set_boolean (settings, "notifications", TRUE);
  g_assert_true (gtk_switch_get_active (notifications));
  g_settings_set_string (settings, "compression", "balanced");
  g_assert_cmpuint (adw_combo_row_get_selected (compression), ==, 2);
  g_settings_set_string (settings, "compression", "fast");
  g_assert_cmpuint (adw_combo_row_get_selected (compression), ==, 1);
  g_settings_set_uint (settings, "concurrency", 2);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (concurrency), ==, 2);
  g_settings_set_uint64 (settings, "bandwidth-limit", 2048);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (bandwidth), ==, 2);
  g_settings_set_string (settings, "store-mode", "local");
  g_assert_cmpuint (adw_combo_row_get_selected (mode), ==, 0);
  g_assert_true (gtk_widget_get_visible (child (prefs, "local_group")));
  g_settings_set_string (settings, "bucket", "other-bucket");
  g_assert_cmpstr (gtk_editable_get_text (bucket), ==, "other-bucket");
  g_settings_set_string (settings, "watched-folder", "/home/someone/Assay");
  g_assert_cmpstr (adw_action_row_get_subtitle (folder), ==, "/home/someone/Assay");

  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "uploads");
  setup_test_screenshot (prefs, "setup-preferences-uploads");
  gtk_window_destroy (GTK_WINDOW (prefs));
}

static void
test_start_at_login (void)
{
  g_autoptr(GSettings) settings = setup_test_new_settings ();
  g_autofree char *path = assay_autostart_dup_path ();
  g_autofree char *expected = g_build_filename (g_get_user_config_dir (), "autostart",
                                                "io.github.assay.Assay.desktop", NULL);
  g_autoptr(GKeyFile) entry = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *exec = NULL;
  GtkWidget *prefs;
  GtkSwitch *start;

  /* the wrapper's temporary XDG_CONFIG_HOME, never the user's */
  g_assert_cmpstr (path, ==, expected);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  prefs = open_preferences (settings);
  start = GTK_SWITCH (child (prefs, "start_at_login_switch"));
  g_assert_false (gtk_switch_get_active (start));

  gtk_switch_set_active (start, TRUE);
  g_assert_true (g_settings_get_boolean (settings, "start-at-login"));
  setup_test_wait_idle (prefs, "busy");
  g_assert_true (g_key_file_load_from_file (entry, path, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  exec = g_key_file_get_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_EXEC,
                                &error);
  g_assert_no_error (error);
  g_assert_cmpstr (exec, ==, "assay " ASSAY_AUTOSTART_OPTION);
  g_assert_cmpstr (g_key_file_get_string (entry, G_KEY_FILE_DESKTOP_GROUP,
                                          G_KEY_FILE_DESKTOP_KEY_TYPE, NULL), ==,
                   "Application");

  gtk_switch_set_active (start, FALSE);
  setup_test_wait_idle (prefs, "busy");
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (gtk_switch_get_active (start) == FALSE);

  /* a failure puts the switch back: the autostart folder cannot be made */
  {
    g_autofree char *dir = g_path_get_dirname (path);

    g_assert_cmpint (g_rmdir (dir), ==, 0);
    g_assert_true (g_file_set_contents (dir, "not a folder", -1, &error));
    gtk_switch_set_active (start, TRUE);
    setup_test_wait_idle (prefs, "busy");
    g_assert_false (g_settings_get_boolean (settings, "start-at-login"));
    g_assert_false (gtk_switch_get_active (start));
    g_assert_cmpint (g_unlink (dir), ==, 0);
  }

  gtk_window_destroy (GTK_WINDOW (prefs));
}

static void
test_key (void)
{
  g_autoptr(GSettings) settings = setup_test_new_settings ();
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autoptr(AssayKey) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = assay_key_to_pem (key, &error);
  g_autofree char *tmp = g_dir_make_tmp ("assay-prefs-XXXXXX", &error);
  g_autofree char *backup = g_build_filename (tmp, "backup.pem", NULL);
  g_autofree char *other_path = g_build_filename (tmp, "other.pem", NULL);
  GtkWidget *prefs;
  GtkLabel *client_id;
  char *stored;
  GStatBuf st;

  g_assert_no_error (error);

  /* no key yet: said so, and export says there is nothing to export */
  setup_test_clear (ASSAY_SECRET_CLIENT_KEY);
  prefs = open_preferences (settings);
  client_id = GTK_LABEL (child (prefs, "client_id_label"));
  g_assert_cmpstr (gtk_label_get_text (client_id), ==, "No key yet");
  gtk_widget_activate_action (prefs, "prefs.export-key-to", "s", backup);
  g_assert_false (g_file_test (backup, G_FILE_TEST_EXISTS));
  g_assert_true (gtk_widget_has_css_class (child (prefs, "key_status"), "error"));
  gtk_window_destroy (GTK_WINDOW (prefs));

  /* the keyring's key is shown and exported 0600 */
  setup_test_store (ASSAY_SECRET_CLIENT_KEY, pem);
  prefs = open_preferences (settings);
  client_id = GTK_LABEL (child (prefs, "client_id_label"));
  g_assert_cmpstr (gtk_label_get_text (client_id), ==, assay_key_get_client_id (key));
  g_assert_true (gtk_widget_activate_action (prefs, "prefs.export-key-to", "s", backup));
  g_assert_cmpint (g_stat (backup, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  loaded = assay_key_file_load (backup, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (loaded), ==, assay_key_get_client_id (key));

  /* importing another puts it in the keyring */
  g_assert_true (assay_key_file_save (other, other_path, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (gtk_widget_activate_action (prefs, "prefs.import-key-from", "s", other_path));
  setup_test_wait_idle (prefs, "busy");
  g_assert_cmpstr (gtk_label_get_text (client_id), ==, assay_key_get_client_id (other));
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "key");
  setup_test_screenshot (prefs, "setup-preferences-key");
  stored = setup_test_lookup (ASSAY_SECRET_CLIENT_KEY);
  g_clear_object (&loaded);
  loaded = assay_key_new_from_pem (stored, -1, &error);
  secret_password_free (stored);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (loaded), ==, assay_key_get_client_id (other));

  gtk_window_destroy (GTK_WINDOW (prefs));
  setup_test_clear (ASSAY_SECRET_CLIENT_KEY);
  setup_test_remove_tree (tmp);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/setup/preferences/bound", test_bound);
  g_test_add_func ("/setup/preferences/start-at-login", test_start_at_login);
  g_test_add_func ("/setup/preferences/key", test_key);

  return g_test_run ();
}
