/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "assay-job-row.h"
#include "assay-key.h"
#include "assay-store.h"
#include "assay-submitter.h"

G_BEGIN_DECLS

/*
 * AssayJobList: the app's jobs, a GListModel of AssayJobRow, newest first. It runs an
 * AssayWatcher on the watched folder (one upload at a time, each resumable through the
 * journal), follows each submitted job in the store until it is final (polling with
 * backoff), and fetches and decrypts its result. Rows ask for Retry and Cancel through
 * their signals. On start the jobs the journal knows for the folder are listed again.
 *
 * Signals: ::result-ready (row) once a job's result is decrypted, ::job-failed (row)
 * when a job ends in ERROR or its upload fails; neither for jobs that were already
 * final when the list started. "state" and "summary" say what the tray shows.
 */

typedef enum
{
  ASSAY_JOB_LIST_IDLE,
  ASSAY_JOB_LIST_WORKING,
  ASSAY_JOB_LIST_PAUSED,
  ASSAY_JOB_LIST_ERROR,
} AssayJobListState;

GType assay_job_list_state_get_type (void) G_GNUC_CONST;
#define ASSAY_TYPE_JOB_LIST_STATE (assay_job_list_state_get_type ())

#define ASSAY_TYPE_JOB_LIST (assay_job_list_get_type ())
G_DECLARE_FINAL_TYPE (AssayJobList, assay_job_list, ASSAY, JOB_LIST, GObject)

AssayJobList      *assay_job_list_new          (void);
gboolean           assay_job_list_start        (AssayJobList              *self,
                                                AssayStore                *store,
                                                AssayKey                  *key,
                                                GFile                     *folder,
                                                const AssaySubmitSettings *settings,
                                                gboolean                   paused,
                                                GError                   **error);
void               assay_job_list_stop         (AssayJobList              *self);
gboolean           assay_job_list_is_started   (AssayJobList              *self);
gboolean           assay_job_list_is_idle      (AssayJobList              *self);
void               assay_job_list_set_paused   (AssayJobList              *self,
                                                gboolean                   paused);
gboolean           assay_job_list_get_paused   (AssayJobList              *self);
GFile             *assay_job_list_get_folder   (AssayJobList              *self);
void               assay_job_list_set_problem  (AssayJobList              *self,
                                                const char                *message);
const char        *assay_job_list_get_problem  (AssayJobList              *self);
AssayJobListState  assay_job_list_get_state    (AssayJobList              *self);
char              *assay_job_list_dup_summary  (AssayJobList              *self);
AssayJobRow       *assay_job_list_lookup       (AssayJobList              *self,
                                                const char                *job_id);
JsonNode          *assay_job_list_to_json      (AssayJobList              *self);
void               assay_job_list_fetch_result_async  (AssayJobList        *self,
                                                       AssayJobRow         *row,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean           assay_job_list_fetch_result_finish (AssayJobList        *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

G_END_DECLS
