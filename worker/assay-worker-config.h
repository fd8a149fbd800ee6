/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "assay-scan.h"
#include "assay-worker.h"

G_BEGIN_DECLS

/*
 * The worker's own settings (group [worker] of the key file), from (highest first)
 * command-line flags, ASSAY_WORKER_* environment variables, the key file that
 * assay-config.h reads (--config FILE, else ASSAY_CONFIG, else
 * $XDG_CONFIG_HOME/assay/assay.conf when it exists), and the defaults. Every key is
 * documented in worker/assay-worker.conf.example.
 *
 * Durations: a number of seconds ("60", "1.5") or a number with a unit ("500ms", "30s",
 * "2m", "1h"). Sizes: bytes, or a number with K, M, G or T (binary: "1G" = 2^30; "KiB",
 * "MiB", … also read).
 */

#define ASSAY_WORKER_CONFIG_ERROR (assay_worker_config_error_quark ())

typedef enum
{
  ASSAY_WORKER_CONFIG_ERROR_INVALID,
  ASSAY_WORKER_CONFIG_ERROR_FILE,
} AssayWorkerConfigError;

GQuark assay_worker_config_error_quark (void);

/* What one layer says, as text; NULL where it says nothing. */
typedef struct
{
  char *concurrency;
  char *accept_versions;
  char *lease;
  char *max_attempts;
  char *max_file_size;
  char *max_chunks;
  char *stall_timeout;
  char *engine_exec;
  char *engine_http;
  char *engine_timeout;
  char *engine_max_output;
  char *work_dir;
  char *grace;
  char *poll_min;
  char *poll_max;
  /* the scan stage and its definitions (assay-scan.h, assay-defs.h) */
  char *scan_max_file_size;
  char *scan_max_scan_size;
  char *scan_max_recursion;
  char *scan_max_files;
  char *scan_max_time;
  char *unscannable;
  char *defs_refresh;
  char *allow_no_definitions;
  /* validation, quarantine and alerts, archive (assay-validation.h, assay-lifecycle.h) */
  char *validation_max_size;
  char *validation_types;
  char *validation_command;
  char *validation_timeout;
  char *quarantine_prefix;
  char *alert_webhook;
  char *alert_command;
  char *alert_timeout;
  char *archive;
  char *archive_prefix;
} AssayWorkerConfigLayer;

typedef struct
{
  AssayWorkerSettings settings;
  char *engine_exec;        /* NULL with engine_http, or for the bundled engine */
  char *engine_http;
  guint engine_timeout_ms;
  gsize engine_max_output;
  guint grace_ms;
  AssayScanSettings scan;   /* limits, unscannable policy, allow-no-definitions */
  guint defs_refresh_ms;    /* how often the definitions manifest is checked */
  guint64 validation_max_size;  /* 0: no limit */
  GStrv validation_types;       /* NULL: any */
  char *validation_command;     /* NULL: none */
  guint validation_timeout_ms;
  AssayLifecycleSettings lifecycle;
  char *source;             /* where the settings came from, for messages */
} AssayWorkerConfig;

AssayWorkerConfigLayer *assay_worker_config_layer_new   (void);
void                    assay_worker_config_layer_free  (AssayWorkerConfigLayer *layer);
GOptionGroup           *assay_worker_config_option_group (AssayWorkerConfigLayer *flags);
AssayWorkerConfig      *assay_worker_config_resolve     (AssayWorkerConfigLayer *flags,
                                                         const char             *config_file,
                                                         GError                **error);
void                    assay_worker_config_free        (AssayWorkerConfig      *self);

gboolean                assay_parse_duration            (const char             *text,
                                                         guint                  *out_ms);
gboolean                assay_parse_size                (const char             *text,
                                                         guint64                *out_bytes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayWorkerConfigLayer, assay_worker_config_layer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayWorkerConfig, assay_worker_config_free)

G_END_DECLS
