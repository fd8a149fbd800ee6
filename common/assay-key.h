/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A P-256 key: the client's signing key, which is also the recipient key of the
 * result payloads (PROTOCOL.md, "Names and identities" and "Result"). */

#define ASSAY_KEY_ERROR (assay_key_error_quark ())

typedef enum
{
  ASSAY_KEY_ERROR_INVALID_KEY,    /* bad PEM/PKCS#8, not P-256, point not on curve, bad client id */
  ASSAY_KEY_ERROR_NO_PRIVATE_KEY, /* sign/decrypt/export with a public-only key */
  ASSAY_KEY_ERROR_BAD_SIGNATURE,  /* malformed hex/DER, or the signature does not verify */
  ASSAY_KEY_ERROR_DECRYPT_FAILED, /* payload malformed, bad ephemeral point, bad result id,
                                   * or authentication failed */
  ASSAY_KEY_ERROR_INVALID_ID,     /* encrypting for a result id that is not `result-<uuid4>` */
} AssayKeyError;

GQuark assay_key_error_quark (void);

/* Size of the SEC1 uncompressed encoding of a P-256 point: 0x04 ‖ X ‖ Y. */
#define ASSAY_KEY_POINT_SIZE 65

#define ASSAY_TYPE_KEY (assay_key_get_type ())

G_DECLARE_FINAL_TYPE (AssayKey, assay_key, ASSAY, KEY, GObject)

AssayKey     *assay_key_generate           (void);
AssayKey     *assay_key_new_from_pem       (const char  *pem,
                                            gssize       len,
                                            GError     **error);
AssayKey     *assay_key_new_from_client_id (const char  *client_id,
                                            GError     **error);
char         *assay_key_to_pem             (AssayKey    *self,
                                            GError     **error);
const char   *assay_key_get_client_id      (AssayKey    *self);
const guint8 *assay_key_get_public_point   (AssayKey    *self);
gboolean      assay_key_has_private        (AssayKey    *self);
char         *assay_key_dup_scalar_hex     (AssayKey    *self,
                                            GError     **error);
char         *assay_key_sign               (AssayKey    *self,
                                            const char  *message,
                                            gsize        len,
                                            GError     **error);
gboolean      assay_key_verify             (AssayKey    *self,
                                            const char  *message,
                                            gsize        len,
                                            const char  *signature_hex,
                                            GError     **error);

G_END_DECLS
