/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-job.h"

G_BEGIN_DECLS

/*
 * AssayStage: one step of the analysis of a downloaded file. The stages run in the
 * order of the chain, scan → validation → engine; each stage's output is recorded in the
 * result's envelope under the stage's name, and a slot without a stage is recorded as
 * `{}` (PROTOCOL.md, "Result": `{"job", "processed", "scan", "validation", "engine"}`).
 *
 * A stage's output is JSON text, one object (assay-strict-json.h), and goes into the
 * envelope byte for byte as the stage gives it: the worker never parses and prints it
 * again (json-glib would print 4.469 as 4.4690000000000003).
 *
 * A stage fails with an ASSAY_FAILURE error (assay-failure.h): INFECTED, INVALID,
 * ENGINE_FAILED, …; the job then ends in ERROR with that code. A stage must stop soon
 * after its cancellable fires (the job was lost or the worker is shutting down) and may
 * not write into the file.
 */

#define ASSAY_TYPE_STAGE (assay_stage_get_type ())
G_DECLARE_INTERFACE (AssayStage, assay_stage, ASSAY, STAGE, GObject)

struct _AssayStageInterface
{
  GTypeInterface parent_iface;

  const char *(*get_name)  (AssayStage           *self);
  void        (*run_async) (AssayStage           *self,
                            const char           *path,
                            AssayJob             *job,
                            GCancellable         *cancellable,
                            GAsyncReadyCallback   callback,
                            gpointer              user_data);
  GBytes     *(*run_finish) (AssayStage          *self,
                             GAsyncResult        *result,
                             GError             **error);
};

/* The slots of the chain, in order, NULL-terminated: "scan", "validation", "engine". */
extern const char * const assay_stage_slots[];

const char *assay_stage_get_name   (AssayStage           *self);
void        assay_stage_run_async  (AssayStage           *self,
                                    const char           *path,
                                    AssayJob             *job,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data);
GBytes     *assay_stage_run_finish (AssayStage           *self,
                                    GAsyncResult         *result,
                                    GError              **error);

gboolean    assay_stage_is_slot    (const char           *name);

G_END_DECLS
