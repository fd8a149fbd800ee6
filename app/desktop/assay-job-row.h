/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * AssayJobRow: one file's job as the window shows it. A plain GObject whose properties
 * the list rows bind to; AssayJobList keeps them up to date from the submitter (while
 * uploading) and from the store (assay_outcome_*, until the job is final).
 */

typedef enum
{
  ASSAY_JOB_ROW_QUEUED,     /* waiting for its turn to upload */
  ASSAY_JOB_ROW_UPLOADING,
  ASSAY_JOB_ROW_PAUSED,
  ASSAY_JOB_ROW_UPLOADED,   /* waiting for a processor */
  ASSAY_JOB_ROW_PROCESSING,
  ASSAY_JOB_ROW_PROCESSED,  /* the result is there (or being fetched) */
  ASSAY_JOB_ROW_FAILED,
  ASSAY_JOB_ROW_CANCELLED,
} AssayJobRowStatus;

GType assay_job_row_status_get_type (void) G_GNUC_CONST;
#define ASSAY_TYPE_JOB_ROW_STATUS (assay_job_row_status_get_type ())

/* The verdict a row marks clearly: from the error code of a failed job. */
typedef enum
{
  ASSAY_JOB_ROW_VERDICT_NONE,
  ASSAY_JOB_ROW_VERDICT_CLEAN,
  ASSAY_JOB_ROW_VERDICT_INFECTED,
  ASSAY_JOB_ROW_VERDICT_UNSCANNABLE,
  ASSAY_JOB_ROW_VERDICT_INVALID,
} AssayJobRowVerdict;

GType assay_job_row_verdict_get_type (void) G_GNUC_CONST;
#define ASSAY_TYPE_JOB_ROW_VERDICT (assay_job_row_verdict_get_type ())

#define ASSAY_TYPE_JOB_ROW (assay_job_row_get_type ())
G_DECLARE_FINAL_TYPE (AssayJobRow, assay_job_row, ASSAY, JOB_ROW, GObject)

AssayJobRow        *assay_job_row_new              (const char         *path);

const char         *assay_job_row_get_path         (AssayJobRow        *self);
const char         *assay_job_row_get_file_name    (AssayJobRow        *self);
const char         *assay_job_row_get_job_id       (AssayJobRow        *self);
void                assay_job_row_set_job_id       (AssayJobRow        *self,
                                                    const char         *job_id);
guint64             assay_job_row_get_size         (AssayJobRow        *self);
void                assay_job_row_set_size         (AssayJobRow        *self,
                                                    guint64             size);
AssayJobRowStatus   assay_job_row_get_status       (AssayJobRow        *self);
void                assay_job_row_set_status       (AssayJobRow        *self,
                                                    AssayJobRowStatus   status);
double              assay_job_row_get_progress     (AssayJobRow        *self);
void                assay_job_row_set_transfer     (AssayJobRow        *self,
                                                    double              fraction,
                                                    double              rate,
                                                    gint64              eta);
void                assay_job_row_set_timeline     (AssayJobRow        *self,
                                                    const char         *created,
                                                    const char         *assigned,
                                                    const char         *uploaded,
                                                    const char         *processing,
                                                    const char         *processed);
const char         *assay_job_row_get_timeline     (AssayJobRow        *self);
void                assay_job_row_set_error        (AssayJobRow        *self,
                                                    const char         *code,
                                                    const char         *message);
const char         *assay_job_row_get_error_code   (AssayJobRow        *self);
const char         *assay_job_row_get_error_message (AssayJobRow       *self);
AssayJobRowVerdict  assay_job_row_get_verdict      (AssayJobRow        *self);
void                assay_job_row_set_result       (AssayJobRow        *self,
                                                    GBytes             *plaintext);
GBytes             *assay_job_row_get_result       (AssayJobRow        *self);
const char         *assay_job_row_get_status_label (AssayJobRow        *self);
const char         *assay_job_row_get_detail       (AssayJobRow        *self);

void                assay_job_row_request_retry    (AssayJobRow        *self);
void                assay_job_row_request_cancel   (AssayJobRow        *self);

G_END_DECLS
