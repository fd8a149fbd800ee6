/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ASSAY_CREDENTIALS_ERROR (assay_credentials_error_quark ())

typedef enum
{
  ASSAY_CREDENTIALS_ERROR_NOT_FOUND, /* no credentials anywhere in the chain */
  ASSAY_CREDENTIALS_ERROR_INVALID,   /* a file or profile that cannot be read or is incomplete */
} AssayCredentialsError;

GQuark assay_credentials_error_quark (void);

/*
 * AWS credentials, immutable and reference counted. The secret is wiped when the last
 * reference goes. @source says where they came from ("environment", "profile “dev” in
 * ~/.aws/credentials", "configuration file /etc/assay/worker.conf"), so that an
 * AccessDenied can tell the user which credentials were refused.
 */
typedef struct _AssayCredentials AssayCredentials;

AssayCredentials *assay_credentials_new                  (const char        *access_key_id,
                                                          const char        *secret_access_key,
                                                          const char        *session_token,
                                                          const char        *source);
AssayCredentials *assay_credentials_new_expiring         (const char        *access_key_id,
                                                          const char        *secret_access_key,
                                                          const char        *session_token,
                                                          const char        *source,
                                                          gint64             expiration);
AssayCredentials *assay_credentials_ref                  (AssayCredentials  *self);
gint64            assay_credentials_get_expiration       (AssayCredentials  *self);
void              assay_credentials_unref                (AssayCredentials  *self);
const char       *assay_credentials_get_access_key_id    (AssayCredentials  *self);
const char       *assay_credentials_get_secret_access_key (AssayCredentials *self);
const char       *assay_credentials_get_session_token    (AssayCredentials  *self);
const char       *assay_credentials_get_source           (AssayCredentials  *self);

/*
 * The AWS CLI's order: the explicit values (when @access_key_id is set), then the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
 * profile (@profile, else AWS_PROFILE, else "default") in AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials, then the same profile in AWS_CONFIG_FILE or ~/.aws/config, then
 * (default profile only) the container's or the EC2 instance's role
 * (assay-remote-credentials.h): temporary, with an expiration.
 */
AssayCredentials *assay_credentials_resolve              (const char        *access_key_id,
                                                          const char        *secret_access_key,
                                                          const char        *session_token,
                                                          const char        *profile,
                                                          GError           **error);
/* The region in the same order: @explicit_region, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's `region` in the config file. Returns NULL when none is set. */
char             *assay_credentials_resolve_region       (const char        *explicit_region,
                                                          const char        *profile);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayCredentials, assay_credentials_unref)

G_END_DECLS
