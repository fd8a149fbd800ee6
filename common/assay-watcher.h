/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-journal.h"
#include "assay-key.h"
#include "assay-store.h"
#include "assay-submitter.h"

G_BEGIN_DECLS

/*
 * AssayWatcher: watches a folder and its subfolders (new ones too) with GFileMonitor and
 * submits each file once it is stable: a CHANGES_DONE_HINT seen, or size and mtime
 * unchanged for the settle time. Files present at start are picked up; temporary and
 * partial files (.part, .crdownload, .tmp, ~, .swp, dot-files) are ignored; a file
 * renamed into the folder counts as new. The journal makes every content submitted at
 * most once, across restarts too. A file deleted while it uploads cancels its job. Files
 * are only ever read.
 *
 * Where changes raise no monitor event (a document portal's FUSE mount does not report
 * changes made outside the sandbox), a periodic rescan walks the tree and notes new and
 * changed files as events would: assay_watcher_set_rescan_interval().
 *
 * One file uploads at a time (each upload already runs its chunks in parallel), so memory
 * stays that of one submitter.
 *
 * Signals: ::submitter-started (AssaySubmitter) when a file starts uploading,
 * ::submitted (path, job id) and ::failed (path, GError) when it is done.
 */

#define ASSAY_WATCHER_SETTLE_MS_DEFAULT 2000

#define ASSAY_TYPE_WATCHER (assay_watcher_get_type ())
G_DECLARE_FINAL_TYPE (AssayWatcher, assay_watcher, ASSAY, WATCHER, GObject)

AssayWatcher *assay_watcher_new             (AssayStore                *store,
                                             AssayKey                  *key,
                                             AssayJournal              *journal,
                                             GFile                     *folder,
                                             const AssaySubmitSettings *settings);
void          assay_watcher_set_settle_time (AssayWatcher              *self,
                                             guint                      milliseconds);
void          assay_watcher_set_rescan_interval (AssayWatcher          *self,
                                                 guint                  milliseconds);
gboolean      assay_watcher_start           (AssayWatcher              *self,
                                             GError                   **error);
void          assay_watcher_stop            (AssayWatcher              *self);
gboolean      assay_watcher_cancel          (AssayWatcher              *self,
                                             const char                *path);
gboolean      assay_watcher_is_idle         (AssayWatcher              *self);
gboolean      assay_watcher_is_ignored_name (const char                *name);

/* For tests: without monitors, as where no event arrives, only rescans see changes. */
void          _assay_watcher_set_use_monitors (AssayWatcher            *self,
                                               gboolean                 use_monitors);

G_END_DECLS
