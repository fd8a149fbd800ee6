/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The desktop app's secrets (the client's private key as a PKCS#8 PEM, the AWS secret
 * access key), kept by the Secret Service through libsecret (GNOME Keyring, KWallet,
 * KeePassXC; the secret portal under Flatpak), never in GSettings or in files. Items
 * use the schema "io.github.assay.Assay.Secret" with one attribute, "name".
 *
 * Errors are ASSAY_SECRETS_ERROR with a message for the user (translated), except
 * cancellation, which stays G_IO_ERROR_CANCELLED.
 */

#define ASSAY_SECRETS_ERROR (assay_secrets_error_quark ())

typedef enum
{
  ASSAY_SECRETS_ERROR_NO_SERVICE, /* no Secret Service answers, or it refused (locked, denied) */
} AssaySecretsError;

GQuark assay_secrets_error_quark (void);

typedef enum
{
  ASSAY_SECRET_CLIENT_KEY,
  ASSAY_SECRET_AWS_SECRET_KEY,
} AssaySecret;

/* The value of the "name" attribute of @secret's item ("client-key", "aws-secret-key"). */
const char *assay_secrets_get_name      (AssaySecret           secret);

/* Returns NULL without an error when no item is stored. Free with secret_password_free(). */
void        assay_secrets_lookup_async  (AssaySecret           secret,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
char       *assay_secrets_lookup_finish (GAsyncResult         *result,
                                         GError              **error);

/* Stores @value (a NUL-terminated string), replacing the item's former value. */
void        assay_secrets_store_async   (AssaySecret           secret,
                                         const char           *value,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
gboolean    assay_secrets_store_finish  (GAsyncResult         *result,
                                         GError              **error);

/* Removes the item; TRUE also when there was none. */
void        assay_secrets_clear_async   (AssaySecret           secret,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
gboolean    assay_secrets_clear_finish  (GAsyncResult         *result,
                                         GError              **error);

G_END_DECLS
