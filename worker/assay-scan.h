/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-stage.h"

G_BEGIN_DECLS

/*
 * AssayScanStage: the "scan" slot of the chain, on libclamav.
 *
 * One engine (cl_engine) is shared by all the worker's jobs; scans run in worker threads
 * (GTask), never on the main loop. assay_scan_stage_load_async() compiles a new engine
 * from a directory of definitions in a thread and swaps it in atomically: the engine is
 * held by a reference count, so jobs in flight finish on the old one and new scans take
 * the new one; no job fails during a reload.
 *
 * The limits are set explicitly, with libclamav's "alert exceeds max" heuristic: content
 * over a limit is UNSCANNABLE, never clean. Archives (zip, tar, gz, xz, …) are scanned
 * inside.
 *
 * Output (one JSON object):
 *   {"verdict":"clean","engine":"ClamAV 1.4.6","definitions":{"version":…,"time":…,
 *    "signatures":N},"duration_ms":N,"limits":{…}}
 * An infected file fails the stage with ASSAY_FAILURE_INFECTED, message
 * "infected: <signature>"; an unscannable one with ASSAY_FAILURE_UNSCANNABLE, or, with
 * the policy "accept", gives the verdict "unscannable" and the reason. Without any
 * definitions, a stage made with allow_no_definitions gives
 * {"verdict":"skipped","reason":…}, never "clean"; otherwise it cannot run.
 */

#define ASSAY_SCAN_MAX_FILE_SIZE_DEFAULT (G_GUINT64_CONSTANT (1) << 30)
#define ASSAY_SCAN_MAX_SCAN_SIZE_DEFAULT (G_GUINT64_CONSTANT (1) << 30)
#define ASSAY_SCAN_MAX_RECURSION_DEFAULT 17
#define ASSAY_SCAN_MAX_FILES_DEFAULT     10000
#define ASSAY_SCAN_MAX_TIME_DEFAULT_MS   (120 * 1000)
/* libclamav cannot scan more than this in one file */
#define ASSAY_SCAN_SIZE_LIMIT            ((guint64) G_MAXINT32)

#define ASSAY_SCAN_ERROR (assay_scan_error_quark ())

typedef enum
{
  ASSAY_SCAN_ERROR_INIT,    /* libclamav could not start */
  ASSAY_SCAN_ERROR_LOAD,    /* the definitions could not be loaded or compiled */
  ASSAY_SCAN_ERROR_NO_DEFINITIONS,
  ASSAY_SCAN_ERROR_FAILED,  /* the scan failed for the worker's own reasons (memory, disk) */
} AssayScanError;

GQuark assay_scan_error_quark (void);

typedef enum
{
  ASSAY_SCAN_UNSCANNABLE_REJECT,
  ASSAY_SCAN_UNSCANNABLE_ACCEPT,
} AssayScanUnscannable;

typedef struct
{
  guint64 max_file_size;            /* CL_ENGINE_MAX_FILESIZE */
  guint64 max_scan_size;            /* CL_ENGINE_MAX_SCANSIZE: all data scanned in a file */
  guint max_recursion;              /* CL_ENGINE_MAX_RECURSION: archives in archives */
  guint max_files;                  /* CL_ENGINE_MAX_FILES: members of one container */
  guint max_time_ms;                /* CL_ENGINE_MAX_SCANTIME */
  AssayScanUnscannable unscannable;
  gboolean allow_no_definitions;    /* development only: "skipped" without definitions */
} AssayScanSettings;

void assay_scan_settings_init (AssayScanSettings *settings);

#define ASSAY_TYPE_SCAN_STAGE (assay_scan_stage_get_type ())
G_DECLARE_FINAL_TYPE (AssayScanStage, assay_scan_stage, ASSAY, SCAN_STAGE, GObject)

gboolean        assay_scan_init                (GError                  **error);
const char     *assay_scan_engine_version      (void);

AssayScanStage *assay_scan_stage_new           (const AssayScanSettings  *settings);
void            assay_scan_stage_load_async    (AssayScanStage           *self,
                                                const char               *dir,
                                                const char               *version,
                                                const char               *time,
                                                GCancellable             *cancellable,
                                                GAsyncReadyCallback       callback,
                                                gpointer                  user_data);
gboolean        assay_scan_stage_load_finish   (AssayScanStage           *self,
                                                GAsyncResult             *result,
                                                GError                  **error);
gboolean        assay_scan_stage_load          (AssayScanStage           *self,
                                                const char               *dir,
                                                const char               *version,
                                                const char               *time,
                                                GError                  **error);
gboolean        assay_scan_stage_has_definitions (AssayScanStage         *self);
char           *assay_scan_stage_dup_version   (AssayScanStage           *self);
guint           assay_scan_stage_get_signatures (AssayScanStage          *self);
guint           assay_scan_stage_get_loads     (AssayScanStage           *self);
GBytes         *assay_scan_stage_scan          (AssayScanStage           *self,
                                                const char               *path,
                                                GCancellable             *cancellable,
                                                GError                  **error);

char           *assay_scan_error_get_signature (const GError             *error);

G_END_DECLS
