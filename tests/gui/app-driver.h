/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Driving the real `assay` program in the GUI tests (tests/gui/test-gui.c,
 * tests/i18n/test-i18n.c), under Xvfb on a private session bus with a keyring
 * (gui-session.sh): its settings and key prepared as onboarding would leave them, its
 * state read from its hidden --test-report file, the screen saved.
 */

void        app_driver_iterate_for     (guint        ms);
JsonObject *app_driver_read_report     (const char  *path);
void        app_driver_write_settings  (const char  *watch,
                                        const char  *store,
                                        const char  *extra);
void        app_driver_store_key       (void);
void        app_driver_screenshot      (const char  *name,
                                        gboolean     publish);
void        app_driver_child_setup     (gpointer     data);

G_END_DECLS
