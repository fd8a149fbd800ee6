/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "assay-job-list.h"

G_BEGIN_DECLS

/*
 * AssayApplication: the desktop app, one instance per session (io.github.assay.Assay).
 * It watches the folder of the settings with an AssayJobList, runs the local processor in
 * local mode, shows the window, the tray icon and notifications, and keeps running in
 * the background when the window closes (if run-in-background is set).
 *
 * Actions: app.show, app.pause (boolean state, the "paused" setting), app.open-folder,
 * app.preferences, app.shortcuts, app.about, app.quit, app.show-result (s: a job id),
 * app.onboarding-done.
 */

#define ASSAY_TYPE_APPLICATION (assay_application_get_type ())
G_DECLARE_FINAL_TYPE (AssayApplication, assay_application, ASSAY, APPLICATION, AdwApplication)

AssayApplication *assay_application_new      (void);
GSettings        *assay_application_get_settings (AssayApplication *self);
AssayJobList     *assay_application_get_jobs (AssayApplication *self);

G_END_DECLS
