/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "assay-job-list.h"

G_BEGIN_DECLS

/*
 * AssayWindow: the main window. The job list (filtered by the search entry), an empty
 * state that says where to drop files, and the result view of a job.
 */

#define ASSAY_TYPE_WINDOW (assay_window_get_type ())
G_DECLARE_FINAL_TYPE (AssayWindow, assay_window, ASSAY, WINDOW, AdwApplicationWindow)

AssayWindow *assay_window_new         (GtkApplication *application,
                                       AssayJobList   *jobs);
void         assay_window_set_folder  (AssayWindow    *self,
                                       const char     *path);
gboolean     assay_window_show_result (AssayWindow    *self,
                                       const char     *job_id);

G_END_DECLS
