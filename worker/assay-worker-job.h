/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-lifecycle.h"
#include "assay-store.h"
#include "assay-version-range.h"

G_BEGIN_DECLS

/*
 * AssayWorkerJob: one job from the queue, through the processor's rows of PROTOCOL.md
 * ("Who writes what"): claim, heartbeat, downloaded, done or failed, each one
 * conditional write fenced by `attempts`.
 *
 * Created from a queue item, it first judges the job without writing anything (the
 * verdict): a job of a version outside the accepted range is left to other processors;
 * an invalid one (BAD_JOB, BAD_SIGNATURE, FOREIGN_BUCKET) is claimed and failed with its
 * code, so that a forged job does not stay in the queue; a valid one is claimed and
 * processed. Running it: the claim; heartbeats every lease/3; the chunks streamed as
 * the client uploads them, decoded in a thread into a private file; the chunks deleted
 * and the job marked PROCESSING; the stage chain; the envelope encrypted to the client's
 * key and stored; the job marked PROCESSED. A failure on the way ends the job in ERROR
 * with its code. A fenced write that fails means another processor holds the job now:
 * the work stops at once and the job is dropped without another write. Trouble of the
 * worker's own (the store, the local disk, an engine that cannot be started or reached)
 * is not the job's fault: before the chunks are deleted the job is abandoned without a
 * write, and taken again once its lease has run out (attempts bound the retries); after
 * it (this file is the only copy), a stage that cannot run is run again a few times
 * before the job fails ENGINE_FAILED. The local file is deleted on every path.
 */

typedef struct
{
  AssayStore *store;
  const char *processor;        /* this worker's processor id */
  const char *dir;              /* the worker's private directory, for the file */
  GPtrArray *stages;            /* AssayStage, in any order */
  AssayVersionRange *accept;    /* the client versions taken */
  guint lease_ms;
  guint max_attempts;
  guint64 max_file_size;
  guint max_chunks;
  guint stall_timeout_ms;
  guint decoder_threads;        /* 0 = the number of CPUs */
  guint stage_retry_ms;         /* the first wait before a stage that could not run is
                                 * run again; 0 = 1 s */
  AssayLifecycle *lifecycle;    /* quarantine, alerts, archive; NULL = none */
} AssayWorkerJobSetup;

typedef enum
{
  ASSAY_WORKER_JOB_TAKE,   /* valid: claim it and process it */
  ASSAY_WORKER_JOB_REJECT, /* invalid: claim it and end it in ERROR with its code */
  ASSAY_WORKER_JOB_LEAVE,  /* not for this processor (its version): no write at all */
} AssayWorkerJobVerdict;

typedef enum
{
  ASSAY_WORKER_JOB_OUTCOME_NONE,
  ASSAY_WORKER_JOB_OUTCOME_PROCESSED,   /* PROCESSED, with a result */
  ASSAY_WORKER_JOB_OUTCOME_FAILED,      /* ended in ERROR by this processor */
  ASSAY_WORKER_JOB_OUTCOME_NOT_CLAIMED, /* another processor claimed it first */
  ASSAY_WORKER_JOB_OUTCOME_LOST,        /* fenced out or ended elsewhere: dropped */
  ASSAY_WORKER_JOB_OUTCOME_RELEASED,    /* given back (lease = now) for others to take */
  ASSAY_WORKER_JOB_OUTCOME_ABANDONED,   /* stopped for the worker's own trouble (the store,
                                         * the disk, the engine unreachable): no write; the
                                         * lease runs out and the next attempt follows */
} AssayWorkerJobOutcome;

GType assay_worker_job_outcome_get_type (void) G_GNUC_CONST;
#define ASSAY_TYPE_WORKER_JOB_OUTCOME (assay_worker_job_outcome_get_type ())

#define ASSAY_TYPE_WORKER_JOB (assay_worker_job_get_type ())
G_DECLARE_FINAL_TYPE (AssayWorkerJob, assay_worker_job, ASSAY, WORKER_JOB, GObject)

AssayWorkerJob        *assay_worker_job_new           (const AssayWorkerJobSetup  *setup,
                                                       JsonObject                 *item);
const char            *assay_worker_job_get_id        (AssayWorkerJob             *self);
AssayWorkerJobVerdict  assay_worker_job_get_verdict   (AssayWorkerJob             *self);
const GError          *assay_worker_job_get_rejection (AssayWorkerJob             *self);
AssayWorkerJobOutcome  assay_worker_job_get_outcome   (AssayWorkerJob             *self);
void                   assay_worker_job_run_async     (AssayWorkerJob             *self,
                                                       GCancellable               *cancellable,
                                                       GAsyncReadyCallback         callback,
                                                       gpointer                    user_data);
AssayWorkerJobOutcome  assay_worker_job_run_finish    (AssayWorkerJob             *self,
                                                       GAsyncResult               *result,
                                                       GError                    **error);
void                   assay_worker_job_release       (AssayWorkerJob             *self);

void                   _assay_remove_tree             (const char                 *path);

G_END_DECLS
