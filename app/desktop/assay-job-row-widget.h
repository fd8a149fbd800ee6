/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "assay-job-row.h"

G_BEGIN_DECLS

/*
 * AssayJobRowWidget: how one AssayJobRow looks in the window's list: file name, size and
 * status, a progress bar with rate and ETA while uploading, the timeline afterwards, the
 * error with Retry on failure, Cancel while uploading, and a clear mark for a file found
 * infected, unscannable or invalid. It binds to the row's properties with expressions
 * (assay-job-row-widget.ui), so that the row repaints itself.
 */

#define ASSAY_TYPE_JOB_ROW_WIDGET (assay_job_row_widget_get_type ())
G_DECLARE_FINAL_TYPE (AssayJobRowWidget, assay_job_row_widget, ASSAY, JOB_ROW_WIDGET, GtkWidget)

AssayJobRow *assay_job_row_widget_get_job (AssayJobRowWidget *self);
void         assay_job_row_widget_set_job (AssayJobRowWidget *self,
                                           AssayJobRow       *job);

G_END_DECLS
