/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-aws-store.h"
#include "assay-aws-transport.h"
#include "assay-key.h"
#include "assay-store.h"
#include "assay-submitter.h"

G_BEGIN_DECLS

/*
 * AssayAppConfig: what the desktop app needs to submit files, made from its GSettings
 * (io.github.assay.Assay) and its secrets (assay-secrets.h): the store (the local one,
 * set up on first use, or S3 + DynamoDB), the client's key, and the submit settings.
 * It is a snapshot: load it again when the settings change.
 */

#define ASSAY_APP_CONFIG_ERROR (assay_app_config_error_quark ())

typedef enum
{
  ASSAY_APP_CONFIG_ERROR_NO_KEY,      /* no client key in the keyring: run the setup */
  ASSAY_APP_CONFIG_ERROR_BAD_KEY,     /* the keyring's client key cannot be read */
  ASSAY_APP_CONFIG_ERROR_INVALID,     /* store settings missing or of the wrong form */
} AssayAppConfigError;

GQuark assay_app_config_error_quark (void);

#define ASSAY_TYPE_APP_CONFIG (assay_app_config_get_type ())
G_DECLARE_FINAL_TYPE (AssayAppConfig, assay_app_config, ASSAY, APP_CONFIG, GObject)

/* Reads @settings, looks the secrets up, opens the store (a local store is initialised).
 * Errors: ASSAY_APP_CONFIG_ERROR, ASSAY_SECRETS_ERROR, ASSAY_STORE_ERROR,
 * ASSAY_CREDENTIALS_ERROR; their messages say what to do. */
void                       assay_app_config_load_async          (GSettings            *settings,
                                                                 GCancellable         *cancellable,
                                                                 GAsyncReadyCallback   callback,
                                                                 gpointer              user_data);
AssayAppConfig            *assay_app_config_load_finish         (GAsyncResult         *result,
                                                                 GError              **error);

AssayStore                *assay_app_config_get_store           (AssayAppConfig       *self);
AssayKey                  *assay_app_config_get_key             (AssayAppConfig       *self);
const AssaySubmitSettings *assay_app_config_get_submit_settings (AssayAppConfig       *self);
gboolean                   assay_app_config_is_local            (AssayAppConfig       *self);
/* The local store's directory; NULL in AWS mode. */
const char                *assay_app_config_get_local_dir       (AssayAppConfig       *self);

/* Helpers shared with the connection test and preferences. */

/* The xz preset of a "compression" nick: "auto" is the client default
 * (ASSAY_SUBMIT_PRESET_DEFAULT), "fast" 0, "balanced" 3, "smallest" 6. */
guint          assay_app_config_preset_for_compression (const char  *compression);
/* The local store directory @settings name ("" means the default one). */
char          *assay_app_config_dup_local_dir          (GSettings   *settings);
/* The AWS store of @config (bucket, region, endpoints, tables set; region may be NULL to use
 * the AWS configuration's) with @access_key_id and @secret_access_key, or, when
 * @access_key_id is NULL or empty, the AWS environment or default profile. @policy may be
 * NULL (the transport's defaults). Nothing is contacted yet. */
AssayAwsStore *assay_app_config_new_aws_store          (const AssayConfig          *config,
                                                        const char                 *access_key_id,
                                                        const char                 *secret_access_key,
                                                        const AssayAwsRetryPolicy  *policy,
                                                        GError                    **error);
/* An AssayConfig with the AWS fields of @settings (defaults filled in). */
AssayConfig   *assay_app_config_dup_aws_config         (GSettings   *settings);

G_END_DECLS
