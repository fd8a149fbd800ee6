/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/*
 * AssayPreferencesWindow: every key of io.github.assay.Assay that a person sets, bound to
 * its control with g_settings_bind() (with a mapping where the control speaks another
 * unit: compression and store mode as combo rows, the bandwidth in KiB/s). The AWS secret
 * and the client key are kept in the keyring (assay-secrets.h). Turning "start at login"
 * on or off writes or removes the autostart entry (assay-autostart.h); when that fails the
 * switch goes back and the reason is shown.
 *
 * Actions of the "prefs" group: choose-folder, test-connection, import-key, export-key,
 * import-key-from (s), export-key-to (s).
 */

#define ASSAY_TYPE_PREFERENCES_WINDOW (assay_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (AssayPreferencesWindow, assay_preferences_window, ASSAY,
                      PREFERENCES_WINDOW, AdwPreferencesWindow)

GtkWidget *assay_preferences_window_new      (GtkWindow              *parent,
                                              GSettings              *settings);
/* TRUE while a keyring operation, connection test or autostart change is running. */
gboolean   assay_preferences_window_get_busy (AssayPreferencesWindow *self);

G_END_DECLS
