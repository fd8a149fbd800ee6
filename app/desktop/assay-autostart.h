/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * Start at login. In a sandbox (Flatpak, Snap) through the Background portal
 * (xdp_portal_request_background with XDP_BACKGROUND_FLAG_AUTOSTART), which asks the user
 * and writes the autostart entry itself; otherwise by writing or removing
 * $XDG_CONFIG_HOME/autostart/io.github.assay.Assay.desktop (the XDG Autostart
 * specification), which starts `assay --background`.
 */

/* The option the autostart entry passes: start without showing the window. */
#define ASSAY_AUTOSTART_OPTION "--background"

/* Where the entry is written outside a sandbox. */
char     *assay_autostart_dup_path    (void);

/* Turns starting at login on or off. @parent (may be NULL) is the window the portal's
 * question belongs to. Fails with G_IO_ERROR_PERMISSION_DENIED when the user refuses. */
void      assay_autostart_set_async   (gboolean              enabled,
                                       GtkWindow            *parent,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
gboolean  assay_autostart_set_finish  (GAsyncResult         *result,
                                       GError              **error);

G_END_DECLS
