/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * AssayWorkerSupervisor: in local mode the app runs the processor itself,
 * `assay-worker --local=DIR`, restarts it when it dies (waiting 1 s, then twice as long
 * each time it dies again soon, up to a minute) and stops it (SIGTERM, then SIGKILL after
 * the grace time) when the app quits. The worker's last lines on standard error say in
 * ::problem why it stopped.
 *
 * The worker needs virus definitions in the store: when the store has none, the system's
 * ClamAV databases ($ASSAY_SYSTEM_DEFS_DIR, else /var/lib/clamav, which clamav-freshclam
 * keeps current) are published first (`assay-worker defs publish`); when there are none,
 * ::problem says what to do, and the store is looked at again every minute or on
 * assay_worker_supervisor_retry().
 *
 * The program is $ASSAY_WORKER, else the installed one; the engine is the engine-command
 * setting, else $ASSAY_INSPECT, else the worker's bundled assay-inspect. Extra arguments
 * for development and tests come from $ASSAY_WORKER_ARGS (shell syntax).
 */

#define ASSAY_TYPE_WORKER_SUPERVISOR (assay_worker_supervisor_get_type ())
G_DECLARE_FINAL_TYPE (AssayWorkerSupervisor, assay_worker_supervisor, ASSAY, WORKER_SUPERVISOR,
                      GObject)

AssayWorkerSupervisor *assay_worker_supervisor_new         (const char             *store_dir,
                                                            const char             *engine_command);
char                  *assay_worker_supervisor_dup_program (void);
gboolean               assay_worker_supervisor_start       (AssayWorkerSupervisor  *self,
                                                            GError                **error);
void                   assay_worker_supervisor_stop        (AssayWorkerSupervisor  *self);
void                   assay_worker_supervisor_stop_in_background (AssayWorkerSupervisor *self);
void                   assay_worker_supervisor_retry       (AssayWorkerSupervisor  *self);
gboolean               assay_worker_supervisor_is_running  (AssayWorkerSupervisor  *self);
guint                  assay_worker_supervisor_get_restarts (AssayWorkerSupervisor *self);
const char            *assay_worker_supervisor_get_identifier (AssayWorkerSupervisor *self);
const char            *assay_worker_supervisor_get_problem (AssayWorkerSupervisor  *self);

G_END_DECLS
