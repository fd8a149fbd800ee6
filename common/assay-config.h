/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "assay-store.h"

G_BEGIN_DECLS

/*
 * Where the stores are, from (highest first) command-line flags, ASSAY_* environment
 * variables, a key file (--config FILE, else ASSAY_CONFIG, else
 * $XDG_CONFIG_HOME/assay/assay.conf when it exists, group [store]), and defaults.
 *
 * With no bucket anywhere, the store is the local one (default directory
 * $XDG_DATA_HOME/assay/store); with a bucket it is S3 + DynamoDB.
 */

#define ASSAY_CONFIG_ERROR (assay_config_error_quark ())

typedef enum
{
  ASSAY_CONFIG_ERROR_INVALID, /* a value of the wrong form, or settings that contradict */
  ASSAY_CONFIG_ERROR_FILE,    /* the key file cannot be read */
} AssayConfigError;

GQuark assay_config_error_quark (void);

typedef struct
{
  char *local;             /* local store directory; NULL with a bucket */
  char *bucket;
  char *region;
  char *s3_endpoint;       /* URL, NULL for AWS */
  char *dynamodb_endpoint; /* URL, NULL for AWS */
  char *jobs_table;        /* default "assay-jobs" */
  char *results_table;     /* default "assay-results" */
  char *profile;           /* AWS profile for credentials and region */
  char *source;            /* where the settings came from, for messages */
} AssayConfig;

/* The settings one layer (flags, environment, file) gives; NULL where it says nothing. */
typedef AssayConfig AssayConfigLayer;

AssayConfig  *assay_config_new              (void);
void          assay_config_free             (AssayConfig        *self);
GOptionGroup *assay_config_option_group     (AssayConfigLayer   *flags,
                                             char              **config_file);
AssayConfig  *assay_config_resolve          (AssayConfigLayer   *flags,
                                             const char         *config_file,
                                             GError            **error);
gboolean      assay_config_is_local         (AssayConfig        *self);
AssayStore   *assay_config_open_store       (AssayConfig        *self,
                                             GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayConfig, assay_config_free)

G_END_DECLS
