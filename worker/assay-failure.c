/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-failure.h"

G_DEFINE_QUARK (assay-failure-quark, assay_failure)

static const char * const codes[] = {
  [ASSAY_FAILURE_BAD_JOB] = "BAD_JOB",
  [ASSAY_FAILURE_BAD_SIGNATURE] = "BAD_SIGNATURE",
  [ASSAY_FAILURE_FOREIGN_BUCKET] = "FOREIGN_BUCKET",
  [ASSAY_FAILURE_CHUNK_MISMATCH] = "CHUNK_MISMATCH",
  [ASSAY_FAILURE_CORRUPT_DATA] = "CORRUPT_DATA",
  [ASSAY_FAILURE_TOO_LARGE] = "TOO_LARGE",
  [ASSAY_FAILURE_INFECTED] = "INFECTED",
  [ASSAY_FAILURE_INVALID] = "INVALID",
  [ASSAY_FAILURE_ENGINE_FAILED] = "ENGINE_FAILED",
  [ASSAY_FAILURE_CHUNKS_GONE] = "CHUNKS_GONE",
  [ASSAY_FAILURE_UPLOAD_STALLED] = "UPLOAD_STALLED",
  [ASSAY_FAILURE_TOO_MANY_ATTEMPTS] = "TOO_MANY_ATTEMPTS",
  [ASSAY_FAILURE_UNSCANNABLE] = "UNSCANNABLE",
};

/* Returns: the protocol's name of @failure, e.g. "CHUNK_MISMATCH". */
const char *
assay_failure_to_code (AssayFailure failure)
{
  g_return_val_if_fail (failure < G_N_ELEMENTS (codes), "BAD_JOB");

  return codes[failure];
}

gboolean
assay_failure_from_code (const char   *code,
                         AssayFailure *out_failure)
{
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    if (g_strcmp0 (code, codes[i]) == 0)
      {
        *out_failure = i;
        return TRUE;
      }
  return FALSE;
}
