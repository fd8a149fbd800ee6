/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Helpers of the setup tests (onboarding, preferences, connection test): run under
 * test-setup-session.sh, with a real keyring and GSETTINGS_BACKEND=memory. */

#include <adwaita.h>
#include <libsecret/secret.h>

#include "assay-secrets.h"

static inline void
setup_test_ready_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static inline GAsyncResult *
setup_test_wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

/* Spins the main context until @object's boolean @property is FALSE (at most 60 s). */
static inline void
setup_test_wait_idle (gpointer    object,
                      const char *property)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  gboolean busy = TRUE;

  for (;;)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_object_get (object, property, &busy, NULL);
      if (!busy)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static inline char *
setup_test_lookup (AssaySecret secret)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *value;

  assay_secrets_lookup_async (secret, NULL, setup_test_ready_cb, &result);
  value = assay_secrets_lookup_finish (setup_test_wait_for (&result), &error);
  g_assert_no_error (error);
  return value;
}

static inline void
setup_test_store (AssaySecret  secret,
                  const char  *value)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  assay_secrets_store_async (secret, value, NULL, setup_test_ready_cb, &result);
  g_assert_true (assay_secrets_store_finish (setup_test_wait_for (&result), &error));
  g_assert_no_error (error);
}

static inline void
setup_test_clear (AssaySecret secret)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  assay_secrets_clear_async (secret, NULL, setup_test_ready_cb, &result);
  g_assert_true (assay_secrets_clear_finish (setup_test_wait_for (&result), &error));
  g_assert_no_error (error);
}

/* A GSettings of the app's schema with every key at its default (the memory backend keeps
 * values between GSettings objects of one process). */
static inline GSettings *
setup_test_new_settings (void)
{
  g_autoptr(GSettings) settings = g_settings_new ("io.github.assay.Assay");
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;

  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    g_settings_reset (settings, keys[i]);
  return g_steal_pointer (&settings);
}

static inline GtkWidget *
setup_test_child (gpointer    widget,
                  GType       type,
                  const char *name)
{
  GObject *child = gtk_widget_get_template_child (GTK_WIDGET (widget), type, name);

  g_assert_nonnull (child);
  return GTK_WIDGET (child);
}

static inline void
setup_test_remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* Saves what @widget's window shows as $G_TEST_BUILDDIR/screenshots/@name.png, to look at. */
static inline void
setup_test_screenshot (gpointer    widget,
                       const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (widget));
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *dir = g_build_filename (g_getenv ("G_TEST_BUILDDIR") != NULL
                                             ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                           "screenshots", NULL);
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (widget));
  int width = gtk_widget_get_width (GTK_WIDGET (widget));
  int height = gtk_widget_get_height (GTK_WIDGET (widget));

  /* let it lay out and draw first */
  for (guint i = 0; i < 20; i++)
    {
      g_usleep (10000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}
