/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-job.h"
#include "assay-key.h"
#include "assay-store.h"

G_BEGIN_DECLS

/*
 * What became of a job, for the client: follow its status until it is final (polling
 * with backoff, never a busy loop), then fetch its result (inline payload or the S3
 * object `results/<id>`) and decrypt it with the client key.
 */

#define ASSAY_OUTCOME_ERROR (assay_outcome_error_quark ())

typedef enum
{
  ASSAY_OUTCOME_ERROR_NO_JOB,     /* no such job in the store */
  ASSAY_OUTCOME_ERROR_FAILED,     /* the job ended in ERROR (code and message in the text) */
  ASSAY_OUTCOME_ERROR_NOT_READY,  /* the job is not PROCESSED yet */
  ASSAY_OUTCOME_ERROR_NO_RESULT,  /* PROCESSED, but its result is missing */
} AssayOutcomeError;

GQuark    assay_outcome_error_quark  (void);

void      assay_outcome_get_job_async    (AssayStore           *store,
                                          const char           *job_id,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
AssayJob *assay_outcome_get_job_finish   (AssayStore           *store,
                                          GAsyncResult         *result,
                                          GError              **error);

void      assay_outcome_wait_async       (AssayStore           *store,
                                          const char           *job_id,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
AssayJob *assay_outcome_wait_finish      (AssayStore           *store,
                                          GAsyncResult         *result,
                                          GError              **error);

void      assay_outcome_fetch_async      (AssayStore           *store,
                                          AssayKey             *key,
                                          AssayJob             *job,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
GBytes   *assay_outcome_fetch_finish     (AssayStore           *store,
                                          GAsyncResult         *result,
                                          GError              **error);

G_END_DECLS
