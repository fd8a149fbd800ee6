/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "app-driver.h"

#include "assay-key.h"
#include "assay-secrets.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>

/* Runs the main context for @ms without blocking in it (the app is another process). */
void
app_driver_iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
    }
}

/* Returns: (transfer full) (nullable): the app's last --test-report, or NULL while it has
 * written none (or is writing it) */
JsonObject *
app_driver_read_report (const char *path)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = NULL;
  gsize len;

  if (!g_file_get_contents (path, &text, &len, NULL))
    return NULL;
  if (!json_parser_load_from_data (parser, text, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* The app's settings (GSETTINGS_BACKEND=keyfile) as onboarding leaves them for local
 * mode, with @extra (keyfile lines, may be NULL) added. */
void
app_driver_write_settings (const char *watch,
                           const char *store,
                           const char *extra)
{
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", NULL);
  g_autofree char *path = g_build_filename (dir, "keyfile", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_mkdir_with_parents (dir, 0700);
  text = g_strdup_printf ("[io/github/assay/Assay]\n"
                          "onboarding-done=true\n"
                          "watched-folder='%s'\n"
                          "store-mode='local'\n"
                          "local-store-dir='%s'\n"
                          "run-in-background=false\n"
                          "%s",
                          watch, store, extra ? extra : "");
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
stored_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GError **out = data;

  if (!assay_secrets_store_finish (result, out) && *out == NULL)
    g_set_error_literal (out, G_IO_ERROR, G_IO_ERROR_FAILED, "not stored");
  if (*out == NULL)
    *out = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_EXISTS, "stored");
}

/* A new client key in the session's keyring, as the onboarding would leave it. */
void
app_driver_store_key (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autofree char *pem = assay_key_to_pem (key, NULL);
  GError *error = NULL;

  g_assert_nonnull (pem);
  assay_secrets_store_async (ASSAY_SECRET_CLIENT_KEY, pem, NULL, stored_cb, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS));
  g_error_free (error);
}

/* Saves the screen as NAME.png in the build folder (G_TEST_BUILDDIR/screenshots) and, if
 * @publish and the run asks for it (ASSAY_PUBLISH_SCREENSHOTS=1, `./run screenshots`), in
 * docs/screenshots/. */
void
app_driver_screenshot (const char *name,
                       gboolean    publish)
{
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *dir = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "screenshots", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr(GSubprocess) import = NULL;
  g_autoptr(GError) error = NULL;

  g_mkdir_with_parents (dir, 0755);
  app_driver_iterate_for (500);  /* let the frame be drawn */
  import = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "import", "-window", "root", path,
                             NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (import, NULL, &error));
  g_assert_no_error (error);
  if (publish && g_strcmp0 (g_getenv ("ASSAY_PUBLISH_SCREENSHOTS"), "1") == 0)
    {
      g_autofree char *docs = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "..", "docs",
                                                "screenshots", NULL);
      g_autofree char *copy = g_build_filename (docs, file, NULL);
      g_autoptr(GFile) from = g_file_new_for_path (path);
      g_autoptr(GFile) to = g_file_new_for_path (copy);

      g_mkdir_with_parents (docs, 0755);
      g_assert_true (g_file_copy (from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
    }
  g_test_message ("screenshot %s", path);
}

/* For g_subprocess_launcher_set_child_setup(): the app goes when the test does, even when
 * it fails on the way. */
void
app_driver_child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}
