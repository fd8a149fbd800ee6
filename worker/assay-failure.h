/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The error codes a processor writes into a job that ends in ERROR (PROTOCOL.md,
 * "Error codes"). A GError in the ASSAY_FAILURE domain is a verdict on the job: the
 * worker writes its code and message into the job's `error` map. Any other error
 * (the store went away, a local disk filled up) is the worker's own trouble: it gives
 * the job back instead.
 */

#define ASSAY_FAILURE (assay_failure_quark ())

typedef enum
{
  ASSAY_FAILURE_BAD_JOB,
  ASSAY_FAILURE_BAD_SIGNATURE,
  ASSAY_FAILURE_FOREIGN_BUCKET,
  ASSAY_FAILURE_CHUNK_MISMATCH,
  ASSAY_FAILURE_CORRUPT_DATA,
  ASSAY_FAILURE_TOO_LARGE,
  ASSAY_FAILURE_INFECTED,
  ASSAY_FAILURE_INVALID,
  ASSAY_FAILURE_ENGINE_FAILED,
  ASSAY_FAILURE_CHUNKS_GONE,
  ASSAY_FAILURE_UPLOAD_STALLED,
  ASSAY_FAILURE_TOO_MANY_ATTEMPTS,
  ASSAY_FAILURE_UNSCANNABLE,
} AssayFailure;

GQuark      assay_failure_quark   (void);
const char *assay_failure_to_code (AssayFailure  failure);
gboolean    assay_failure_from_code (const char   *code,
                                     AssayFailure *out_failure);

G_END_DECLS
