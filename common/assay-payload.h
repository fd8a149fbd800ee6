/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "assay-key.h"

G_BEGIN_DECLS

/* The result payload of PROTOCOL.md: ECIES on P-256 with HKDF-SHA256 and AES-256-GCM.
 * Binary form E(65) ‖ IV(12) ‖ TAG(16) ‖ C; text form "E:IV:TAG:C" in lowercase hex.
 * Errors are in the ASSAY_KEY_ERROR domain. */

#define ASSAY_PAYLOAD_E_SIZE   65
#define ASSAY_PAYLOAD_IV_SIZE  12
#define ASSAY_PAYLOAD_TAG_SIZE 16
#define ASSAY_PAYLOAD_OVERHEAD \
  (ASSAY_PAYLOAD_E_SIZE + ASSAY_PAYLOAD_IV_SIZE + ASSAY_PAYLOAD_TAG_SIZE)

GBytes *assay_payload_encrypt      (AssayKey    *recipient,
                                    const char  *result_id,
                                    GBytes      *plaintext,
                                    GError     **error);
GBytes *assay_payload_decrypt      (AssayKey    *key,
                                    const char  *result_id,
                                    GBytes      *payload,
                                    GError     **error);
char   *assay_payload_to_text      (GBytes      *payload);
GBytes *assay_payload_from_text    (const char  *text,
                                    GError     **error);
char   *assay_payload_encrypt_text (AssayKey    *recipient,
                                    const char  *result_id,
                                    GBytes      *plaintext,
                                    GError     **error);
GBytes *assay_payload_decrypt_text (AssayKey    *key,
                                    const char  *result_id,
                                    const char  *text,
                                    GError     **error);

G_END_DECLS
