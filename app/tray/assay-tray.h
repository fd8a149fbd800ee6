/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * AssayTray: a tray icon as a StatusNotifierItem (org.kde.StatusNotifierItem) with a
 * com.canonical.dbusmenu menu, over GDBus only (no GTK).
 *
 * The item is exported at /StatusNotifierItem and the menu at /MenuBar on the given
 * connection, and registered with org.kde.StatusNotifierWatcher under the connection's
 * unique name: no well-known name is owned, so it works inside a Flatpak sandbox. The
 * watcher's name is watched; each time a watcher appears the item registers again. With
 * no watcher (plain GNOME) nothing is shown, nothing is logged above debug level, and
 * "registered" stays FALSE.
 *
 * The menu is generated from a GMenuModel (sections become separators, submenus become
 * submenus) whose items carry the "action" attribute (and optionally "target"), and kept
 * up to date with it. Actions are looked up in the GActionGroup given at construction,
 * with an "app." prefix removed, so a GtkApplication and its "app.quit" menu items work
 * as they do in GTK. An item is enabled when its action exists and is enabled; a boolean
 * stateful action without a target becomes a checkmark item, an action whose state has
 * the target's type a radio item; "hidden-when" is honoured. Clicking an item activates
 * its action. "status" starts ACTIVE (hosts may hide PASSIVE items).
 *
 *   tray = assay_tray_new (g_application_get_dbus_connection (app), ASSAY_APP_ID,
 *                          menu, G_ACTION_GROUP (app));
 *   g_object_set (tray, "icon-name", "io.github.assay.Assay-symbolic",
 *                 "title", _("Assay"), "activate-action", "app.show", NULL);
 *   assay_tray_set_tooltip (tray, _("Uploading"), "3 of 7 files, 120 of 300 MB");
 */

typedef enum
{
  ASSAY_TRAY_STATUS_PASSIVE,
  ASSAY_TRAY_STATUS_ACTIVE,
  ASSAY_TRAY_STATUS_NEEDS_ATTENTION,
} AssayTrayStatus;

#define ASSAY_TYPE_TRAY_STATUS (assay_tray_status_get_type ())
GType assay_tray_status_get_type (void) G_GNUC_CONST;

#define ASSAY_TRAY_ITEM_PATH "/StatusNotifierItem"
#define ASSAY_TRAY_MENU_PATH "/MenuBar"

#define ASSAY_TYPE_TRAY (assay_tray_get_type ())
G_DECLARE_FINAL_TYPE (AssayTray, assay_tray, ASSAY, TRAY, GObject)

AssayTray       *assay_tray_new                     (GDBusConnection *connection,
                                                     const char      *id,
                                                     GMenuModel      *menu,
                                                     GActionGroup    *actions);
GDBusConnection *assay_tray_get_connection          (AssayTray       *self);
const char      *assay_tray_get_id                  (AssayTray       *self);
const char      *assay_tray_get_title               (AssayTray       *self);
void             assay_tray_set_title               (AssayTray       *self,
                                                     const char      *title);
const char      *assay_tray_get_icon_name           (AssayTray       *self);
void             assay_tray_set_icon_name           (AssayTray       *self,
                                                     const char      *icon_name);
const char      *assay_tray_get_attention_icon_name (AssayTray       *self);
void             assay_tray_set_attention_icon_name (AssayTray       *self,
                                                     const char      *icon_name);
AssayTrayStatus  assay_tray_get_status              (AssayTray       *self);
void             assay_tray_set_status              (AssayTray       *self,
                                                     AssayTrayStatus  status);
const char      *assay_tray_get_tooltip_title       (AssayTray       *self);
const char      *assay_tray_get_tooltip_text        (AssayTray       *self);
void             assay_tray_set_tooltip             (AssayTray       *self,
                                                     const char      *title,
                                                     const char      *text);
const char      *assay_tray_get_activate_action     (AssayTray       *self);
void             assay_tray_set_activate_action     (AssayTray       *self,
                                                     const char      *detailed_action);
gboolean         assay_tray_get_registered          (AssayTray       *self);

G_END_DECLS
