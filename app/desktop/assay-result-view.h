/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "assay-job-row.h"

G_BEGIN_DECLS

/*
 * AssayResultView: one job's decrypted result, pretty-printed, with the scan and
 * validation verdicts on top; Copy puts it on the clipboard, Save As writes it to a file
 * the user chooses (GtkFileChooserNative, so the portal under Flatpak).
 */

#define ASSAY_TYPE_RESULT_VIEW (assay_result_view_get_type ())
G_DECLARE_FINAL_TYPE (AssayResultView, assay_result_view, ASSAY, RESULT_VIEW, AdwWindow)

AssayResultView *assay_result_view_new         (GtkWindow       *parent,
                                                AssayJobRow     *row);
const char      *assay_result_view_get_text    (AssayResultView *self);
char            *assay_result_describe_stage   (JsonNode        *stage);

G_END_DECLS
