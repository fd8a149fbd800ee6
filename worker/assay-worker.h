/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "assay-lifecycle.h"
#include "assay-stage.h"
#include "assay-store.h"
#include "assay-version-range.h"

G_BEGIN_DECLS

/*
 * AssayWorker: the processor's claim loop (PROTOCOL.md, "Who writes what").
 *
 * It finds work on the queue-due index (`queue = open`, and `queue = leased AND due <
 * now`), polling every poll_min_ms after it found some and backing off with jitter up
 * to poll_max_ms while the queue is idle; judges each job before claiming it
 * (AssayWorkerJob); and runs up to @concurrency jobs at once through its stages. Jobs of
 * versions outside the accepted range are left alone and remembered, so that the loop
 * does not spin on them.
 *
 * Files live in a private directory <work_dir>/<processor id>/ (mode 0700), held by a
 * lock for the life of the run; a directory whose lock is free was left by a run that
 * crashed and is removed when the next run starts. The run writes a heartbeat file
 * there every ASSAY_WORKER_HEARTBEAT_INTERVAL_MS (see assay_worker_check_health()).
 *
 * assay_worker_stop() stops claiming and lets the jobs in flight finish within the
 * grace period; the ones still running then are given back (their lease set to run out
 * now) so that other processors take them at once.
 *
 * Every job event and the worker's own are emitted as one JSON object each (::event),
 * with time, processor and job: the program prints them as its log.
 */

#define ASSAY_WORKER_LEASE_DEFAULT_MS         (60 * 1000)
#define ASSAY_WORKER_MAX_ATTEMPTS_DEFAULT     3
#define ASSAY_WORKER_MAX_FILE_SIZE_DEFAULT    (G_GUINT64_CONSTANT (1) << 30)
#define ASSAY_WORKER_MAX_CHUNKS_DEFAULT       100000
#define ASSAY_WORKER_STALL_TIMEOUT_DEFAULT_MS (120 * 1000)
#define ASSAY_WORKER_POLL_MIN_DEFAULT_MS      100
#define ASSAY_WORKER_POLL_MAX_DEFAULT_MS      5000
#define ASSAY_WORKER_GRACE_DEFAULT_MS         (30 * 1000)
#define ASSAY_WORKER_HEARTBEAT_INTERVAL_MS    5000
#define ASSAY_WORKER_HEARTBEAT_FILE           "heartbeat"

typedef struct
{
  guint concurrency;           /* jobs at once, 0 = the number of CPUs */
  AssayVersionRange *accept;   /* NULL = this version's major: >=M.0.0 <M+1.0.0 */
  guint lease_ms;
  guint max_attempts;          /* claims of one job before it fails TOO_MANY_ATTEMPTS */
  guint64 max_file_size;       /* decompressed bytes */
  guint max_chunks;
  guint stall_timeout_ms;      /* no new chunk for this long: UPLOAD_STALLED */
  char *work_dir;              /* NULL = $XDG_CACHE_HOME/assay-worker */
  guint poll_min_ms;
  guint poll_max_ms;
  guint exit_when_idle_ms;     /* 0 = run until stopped */
  guint stage_retry_ms;        /* first wait before a stage that could not run runs again */
  AssayLifecycle *lifecycle;   /* quarantine, alerts, archive (assay-lifecycle.h); NULL = none */
} AssayWorkerSettings;

void  assay_worker_settings_init  (AssayWorkerSettings *settings);
void  assay_worker_settings_clear (AssayWorkerSettings *settings);
char *assay_worker_default_work_dir (void);

#define ASSAY_TYPE_WORKER (assay_worker_get_type ())
G_DECLARE_FINAL_TYPE (AssayWorker, assay_worker, ASSAY, WORKER, GObject)

AssayWorker *assay_worker_new                  (AssayStore                *store,
                                                const AssayWorkerSettings *settings);
void         assay_worker_add_stage            (AssayWorker               *self,
                                                AssayStage                *stage);
void         assay_worker_run_async            (AssayWorker               *self,
                                                GCancellable              *cancellable,
                                                GAsyncReadyCallback        callback,
                                                gpointer                   user_data);
gboolean     assay_worker_run_finish           (AssayWorker               *self,
                                                GAsyncResult              *result,
                                                GError                   **error);
void         assay_worker_stop                 (AssayWorker               *self,
                                                guint                      grace_ms);
const char  *assay_worker_get_processor_id     (AssayWorker               *self);
const char  *assay_worker_get_dir              (AssayWorker               *self);
guint        assay_worker_get_active_jobs      (AssayWorker               *self);
guint        assay_worker_get_concurrency      (AssayWorker               *self);
AssayVersionRange *assay_worker_get_accept     (AssayWorker               *self);

gboolean     assay_worker_check_health         (const char                *work_dir,
                                                guint                      max_age_ms,
                                                char                     **out_report,
                                                GError                   **error);
void         assay_worker_count_claimable_async  (AssayStore              *store,
                                                  AssayVersionRange       *accept,
                                                  GCancellable            *cancellable,
                                                  GAsyncReadyCallback      callback,
                                                  gpointer                 user_data);
gboolean     assay_worker_count_claimable_finish (AssayStore              *store,
                                                  GAsyncResult            *result,
                                                  guint64                 *out_count,
                                                  GError                 **error);

G_END_DECLS
