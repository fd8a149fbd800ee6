/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-autostart"

#include "assay-autostart.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <libportal-gtk4/portal-gtk4.h>
#include <libportal/portal.h>

char *
assay_autostart_dup_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "autostart", ASSAY_APP_ID ".desktop", NULL);
}

static gboolean
write_entry (GError **error)
{
  g_autoptr(GKeyFile) entry = g_key_file_new ();
  g_autofree char *path = assay_autostart_dup_path ();
  g_autofree char *dir = g_path_get_dirname (path);

  g_key_file_set_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_TYPE,
                         G_KEY_FILE_DESKTOP_TYPE_APPLICATION);
  g_key_file_set_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_NAME, "Assay");
  g_key_file_set_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_COMMENT,
                         "Analyse the files of the watched folder");
  g_key_file_set_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_EXEC,
                         "assay " ASSAY_AUTOSTART_OPTION);
  g_key_file_set_string (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_ICON,
                         ASSAY_APP_ID);
  g_key_file_set_boolean (entry, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_NO_DISPLAY,
                          TRUE);
  g_key_file_set_boolean (entry, G_KEY_FILE_DESKTOP_GROUP, "X-GNOME-Autostart-enabled", TRUE);
  g_key_file_set_string (entry, G_KEY_FILE_DESKTOP_GROUP, "X-Flatpak", ASSAY_APP_ID);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Could not create the folder %s: %s"), dir, g_strerror (saved));
      return FALSE;
    }
  if (!g_key_file_save_to_file (entry, path, error))
    {
      g_prefix_error (error, _("Could not write the autostart entry %s: "), path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
remove_entry (GError **error)
{
  g_autofree char *path = assay_autostart_dup_path ();

  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Could not remove the autostart entry %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static void
background_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!xdp_portal_request_background_finish (XDP_PORTAL (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                 _("Starting at login was not allowed (%s). You can allow it "
                                   "in the system settings for background apps."),
                                 error->message);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
assay_autostart_set_async (gboolean             enabled,
                           GtkWindow           *parent,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (parent == NULL || GTK_IS_WINDOW (parent));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_autostart_set_async);

  if (xdp_portal_running_under_sandbox ())
    {
      /* A sandboxed app cannot write the host's autostart folder: the portal does. */
      g_autoptr(XdpPortal) portal = xdp_portal_new ();
      g_autoptr(GPtrArray) commandline = g_ptr_array_new ();
      XdpParent *xdp_parent = parent != NULL ? xdp_parent_new_gtk (parent) : NULL;

      g_ptr_array_add (commandline, (gpointer) "assay");
      g_ptr_array_add (commandline, (gpointer) ASSAY_AUTOSTART_OPTION);
      xdp_portal_request_background (portal, xdp_parent,
                                     _("Assay can start when you log in to keep watching "
                                       "your folder."),
                                     commandline,
                                     enabled ? XDP_BACKGROUND_FLAG_AUTOSTART
                                             : XDP_BACKGROUND_FLAG_NONE,
                                     cancellable, background_cb, g_steal_pointer (&task));
      g_clear_pointer (&xdp_parent, xdp_parent_free);
      return;
    }

  if (enabled ? write_entry (&error) : remove_entry (&error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

gboolean
assay_autostart_set_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == assay_autostart_set_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
