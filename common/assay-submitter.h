/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-journal.h"
#include "assay-key.h"
#include "assay-store.h"

G_BEGIN_DECLS

/*
 * AssaySubmitter: one file's way into the store (PROTOCOL.md, "Who writes what", the
 * client's rows). It creates the signed job first, so that a processor may claim it and
 * stream while the upload runs; compresses the file with the multi-threaded xz encoder
 * in a worker thread; uploads the chunks with a bounded number in flight; advances the
 * job's `chunks` to the count stored contiguously from 0; and marks the job UPLOADED.
 *
 * Memory is bounded by @concurrency chunks in the pipeline plus the encoder's own,
 * whatever the file's size. The journal lets the next run continue the same job after a
 * crash: the chunks already stored (those the job counts, and any the store lists beyond
 * them) are re-made and confirmed by their MD5 before they are skipped, never sent again.
 * The original file is only ever read.
 */

#define ASSAY_SUBMIT_ERROR (assay_submit_error_quark ())

typedef enum
{
  ASSAY_SUBMIT_ERROR_FILE,      /* not a regular file, unreadable, vanished */
  ASSAY_SUBMIT_ERROR_CHANGED,   /* the file changed while it was submitted */
  ASSAY_SUBMIT_ERROR_JOB_ENDED, /* the job ended (ERROR) while uploading */
  ASSAY_SUBMIT_ERROR_MISMATCH,  /* the store kept other bytes than were sent */
  ASSAY_SUBMIT_ERROR_PAUSED,    /* paused: the next run continues the same job */
} AssaySubmitError;

GQuark assay_submit_error_quark (void);

typedef enum
{
  ASSAY_SUBMIT_STAGE_PENDING,
  ASSAY_SUBMIT_STAGE_CREATING,
  ASSAY_SUBMIT_STAGE_UPLOADING,
  ASSAY_SUBMIT_STAGE_FINISHING,
  ASSAY_SUBMIT_STAGE_DONE,
  ASSAY_SUBMIT_STAGE_FAILED,
  ASSAY_SUBMIT_STAGE_CANCELLED,
  ASSAY_SUBMIT_STAGE_PAUSED,
} AssaySubmitStage;

GType assay_submit_stage_get_type (void) G_GNUC_CONST;
#define ASSAY_TYPE_SUBMIT_STAGE (assay_submit_stage_get_type ())

/* The preset and chunk size change the bytes of the chunks; the others do not. */
typedef struct
{
  guint preset;       /* xz preset 0–9 */
  guint threads;      /* compression threads, 0 = the number of CPUs */
  gsize chunk_size;   /* bytes, at most ASSAY_CHUNK_SIZE_MAX */
  guint concurrency;  /* chunks in flight */
  guint64 bandwidth;  /* bytes per second of upload, 0 = no limit */
} AssaySubmitSettings;

/* Measured in docs/benchmarks.md ("Submit", tests/bench/bench-submit): with preset 1,
 * liblzma's two encoder threads alone hold about 34 MiB, and with 8 MiB chunks assay-cli
 * peaked at 58 MiB (79 MiB with the pipeline full behind a slow link); preset 0 (13 MiB,
 * about 1.5× as fast, 3 % larger) with 3 chunks in flight: 35 MiB (49 MiB full). */
#define ASSAY_SUBMIT_PRESET_DEFAULT      0
#define ASSAY_SUBMIT_CONCURRENCY_DEFAULT 3

void assay_submit_settings_init (AssaySubmitSettings *settings);

#define ASSAY_TYPE_SUBMITTER (assay_submitter_get_type ())
G_DECLARE_FINAL_TYPE (AssaySubmitter, assay_submitter, ASSAY, SUBMITTER, GObject)

AssaySubmitter   *assay_submitter_new                (AssayStore                *store,
                                                      AssayKey                  *key,
                                                      AssayJournal              *journal,
                                                      GFile                     *file,
                                                      const AssaySubmitSettings *settings);
void              assay_submitter_run_async          (AssaySubmitter            *self,
                                                      GCancellable              *cancellable,
                                                      GAsyncReadyCallback        callback,
                                                      gpointer                   user_data);
char             *assay_submitter_run_finish         (AssaySubmitter            *self,
                                                      GAsyncResult              *result,
                                                      GError                   **error);
void              assay_submitter_pause              (AssaySubmitter            *self);

GFile            *assay_submitter_get_file           (AssaySubmitter            *self);
const char       *assay_submitter_get_job_id         (AssaySubmitter            *self);
AssaySubmitStage  assay_submitter_get_stage          (AssaySubmitter            *self);
gboolean          assay_submitter_get_resumed        (AssaySubmitter            *self);
guint64           assay_submitter_get_size           (AssaySubmitter            *self);
guint64           assay_submitter_get_bytes_read     (AssaySubmitter            *self);
guint64           assay_submitter_get_bytes_compressed (AssaySubmitter          *self);
guint64           assay_submitter_get_bytes_uploaded (AssaySubmitter            *self);
guint             assay_submitter_get_chunks         (AssaySubmitter            *self);
guint             assay_submitter_get_chunks_skipped (AssaySubmitter            *self);
double            assay_submitter_get_rate           (AssaySubmitter            *self);
gint64            assay_submitter_get_eta            (AssaySubmitter            *self);

G_END_DECLS
