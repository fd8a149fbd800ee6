/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "assay-item.h"
#include "assay-key.h"

G_BEGIN_DECLS

#define ASSAY_JOB_ERROR (assay_job_error_quark ())

typedef enum
{
  ASSAY_JOB_ERROR_BAD_JOB,       /* a field is missing or not of its form */
  ASSAY_JOB_ERROR_BAD_SIGNATURE, /* the signature does not verify for the client */
} AssayJobError;

typedef enum
{
  ASSAY_JOB_STATUS_UPLOADING,
  ASSAY_JOB_STATUS_UPLOADED,
  ASSAY_JOB_STATUS_PROCESSING,
  ASSAY_JOB_STATUS_PROCESSED,
  ASSAY_JOB_STATUS_ERROR,
} AssayJobStatus;

/* The most chunks a job can have: chunk names are six decimal digits. */
#define ASSAY_JOB_MAX_CHUNKS 1000000

GQuark          assay_job_error_quark        (void);
const char     *assay_job_status_to_string   (AssayJobStatus status);
gboolean        assay_job_status_from_string (const char     *text,
                                              AssayJobStatus *out_status);
gboolean        assay_job_status_is_final    (AssayJobStatus status);

#define ASSAY_TYPE_JOB (assay_job_get_type ())
G_DECLARE_FINAL_TYPE (AssayJob, assay_job, ASSAY, JOB, GObject)

AssayJob       *assay_job_new                 (const char     *version,
                                               const char     *bucket,
                                               const char     *region,
                                               const char     *file,
                                               AssayKey       *key,
                                               GError        **error);
AssayJob       *assay_job_new_from_object     (JsonObject     *object,
                                               AssayItemForm   form,
                                               GError        **error);
AssayJob       *assay_job_new_from_data       (const char     *data,
                                               gssize          len,
                                               GError        **error);

JsonNode       *assay_job_to_json             (AssayJob       *self);
JsonNode       *assay_job_to_item             (AssayJob       *self);
char           *assay_job_dup_signed_message  (AssayJob       *self);
gboolean        assay_job_verify              (AssayJob       *self,
                                               GError        **error);

const char     *assay_job_get_id              (AssayJob       *self);
const char     *assay_job_get_version         (AssayJob       *self);
const char     *assay_job_get_created         (AssayJob       *self);
const char     *assay_job_get_bucket          (AssayJob       *self);
const char     *assay_job_get_region          (AssayJob       *self);
const char     *assay_job_get_file            (AssayJob       *self);
const char     *assay_job_get_client          (AssayJob       *self);
const char     *assay_job_get_signature       (AssayJob       *self);
AssayJobStatus  assay_job_get_status          (AssayJob       *self);
guint           assay_job_get_chunks          (AssayJob       *self);
const char     *assay_job_get_processor       (AssayJob       *self);
const char     *assay_job_get_assigned        (AssayJob       *self);
const char     *assay_job_get_uploaded        (AssayJob       *self);
const char     *assay_job_get_downloaded      (AssayJob       *self);
const char     *assay_job_get_queue           (AssayJob       *self);
const char     *assay_job_get_due             (AssayJob       *self);
const char     *assay_job_get_lease           (AssayJob       *self);
guint           assay_job_get_attempts        (AssayJob       *self);
const char     *assay_job_get_error_code      (AssayJob       *self);
const char     *assay_job_get_error_message   (AssayJob       *self);
const char     *assay_job_get_result          (AssayJob       *self);
gboolean        assay_job_is_retryable        (AssayJob       *self);

G_END_DECLS
