/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "assay-lifecycle.h"

G_BEGIN_DECLS

/*
 * `assay-worker quarantine list|show|release|delete`, for the person who got the alert.
 * Blocking (they iterate the thread-default main context); each action is recorded
 * with who (@actor) and when, as a JSON object stored under
 * `<quarantine-prefix>log/<YYYY-MM-DD>/` and returned for the command to print.
 *
 * release: the quarantined file (a false positive) goes through @stages (validation and
 * the engine; a scan stage is skipped) and completes the ORIGINAL job: the result is
 * encrypted to the client's key and stored, and the job moves from ERROR (INFECTED) to
 * PROCESSED (PROTOCOL.md, "Assay's reading"); then the quarantined object is deleted.
 * A stage that rejects the file changes nothing.
 */

/* Returns: (transfer full) (element-type JsonObject): the records, oldest first:
 * {"job", "key", "size", "signature", "client", "quarantined", "processor"} */
GPtrArray  *assay_quarantine_list    (AssayLifecycle  *lifecycle,
                                      const char      *actor,
                                      GError         **error);
JsonObject *assay_quarantine_show    (AssayLifecycle  *lifecycle,
                                      const char      *id,
                                      const char      *actor,
                                      GError         **error);
JsonObject *assay_quarantine_release (AssayLifecycle  *lifecycle,
                                      const char      *id,
                                      GPtrArray       *stages,
                                      const char      *work_dir,
                                      const char      *actor,
                                      GError         **error);
JsonObject *assay_quarantine_delete  (AssayLifecycle  *lifecycle,
                                      const char      *id,
                                      const char      *actor,
                                      GError         **error);

G_END_DECLS
