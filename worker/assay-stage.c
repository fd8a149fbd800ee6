/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-stage.h"

const char * const assay_stage_slots[] = { "scan", "validation", "engine", NULL };

G_DEFINE_INTERFACE (AssayStage, assay_stage, G_TYPE_OBJECT)

static void
assay_stage_default_init (AssayStageInterface *iface)
{
}

/* Returns: the stage's slot in the chain, one of assay_stage_slots */
const char *
assay_stage_get_name (AssayStage *self)
{
  g_return_val_if_fail (ASSAY_IS_STAGE (self), NULL);

  return ASSAY_STAGE_GET_IFACE (self)->get_name (self);
}

/**
 * assay_stage_run_async:
 * @path: the downloaded file, to be read only
 * @job: the verified job
 * Analyses @path; the finish function returns the JSON text for the envelope.
 */
void
assay_stage_run_async (AssayStage          *self,
                       const char          *path,
                       AssayJob            *job,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (ASSAY_IS_STAGE (self));
  g_return_if_fail (path != NULL);
  g_return_if_fail (ASSAY_IS_JOB (job));

  ASSAY_STAGE_GET_IFACE (self)->run_async (self, path, job, cancellable, callback, user_data);
}

/* Returns: (transfer full): the stage's output, one JSON object as text without
 * surrounding white space, or %NULL with @error set */
GBytes *
assay_stage_run_finish (AssayStage    *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (ASSAY_IS_STAGE (self), NULL);

  return ASSAY_STAGE_GET_IFACE (self)->run_finish (self, result, error);
}

gboolean
assay_stage_is_slot (const char *name)
{
  return name != NULL && g_strv_contains (assay_stage_slots, name);
}
