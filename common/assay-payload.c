/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-payload.h"
#include "assay-id.h"
#include "assay-key-private.h"
#include "assay-util.h"

#include <string.h>

#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>

#define KEY_SIZE 32
#define HKDF_LABEL "assay/result/v1"

G_STATIC_ASSERT (ASSAY_PAYLOAD_IV_SIZE == GCM_IV_SIZE);
G_STATIC_ASSERT (ASSAY_PAYLOAD_TAG_SIZE == GCM_DIGEST_SIZE);
G_STATIC_ASSERT (KEY_SIZE == AES256_KEY_SIZE);
G_STATIC_ASSERT (ASSAY_PAYLOAD_E_SIZE == ASSAY_KEY_POINT_SIZE);

static void
hmac_update_cb (void          *ctx,
                size_t         len,
                const uint8_t *data)
{
  hmac_sha256_update (ctx, len, data);
}

static void
hmac_digest_cb (void    *ctx,
                size_t   len,
                uint8_t *dst)
{
  hmac_sha256_digest (ctx, len, dst);
}

/* K = HKDF-SHA256 (IKM = Z, salt = empty, info = "assay/result/v1" ‖ E ‖ Q, L = 32). */
static void
derive_key (const guint8 *z,
            const guint8 *e,
            const guint8 *q,
            guint8       *key)
{
  static const guint8 empty_salt[1] = { 0 };
  guint8 info[sizeof HKDF_LABEL - 1 + 2 * ASSAY_KEY_POINT_SIZE];
  guint8 prk[SHA256_DIGEST_SIZE];
  struct hmac_sha256_ctx hmac;

  memcpy (info, HKDF_LABEL, sizeof HKDF_LABEL - 1);
  memcpy (info + sizeof HKDF_LABEL - 1, e, ASSAY_KEY_POINT_SIZE);
  memcpy (info + sizeof HKDF_LABEL - 1 + ASSAY_KEY_POINT_SIZE, q, ASSAY_KEY_POINT_SIZE);

  hmac_sha256_set_key (&hmac, 0, empty_salt);
  hkdf_extract (&hmac, hmac_update_cb, hmac_digest_cb, SHA256_DIGEST_SIZE,
                ASSAY_KEY_SHARED_SIZE, z, prk);
  hmac_sha256_set_key (&hmac, sizeof prk, prk);
  hkdf_expand (&hmac, hmac_update_cb, hmac_digest_cb, SHA256_DIGEST_SIZE, sizeof info, info,
               KEY_SIZE, key);

  explicit_bzero (prk, sizeof prk);
  explicit_bzero (&hmac, sizeof hmac);
}

static void
gcm_start (struct gcm_aes256_ctx *gcm,
           const guint8          *key,
           const guint8          *iv,
           const char            *result_id)
{
  gcm_aes256_set_key (gcm, key);
  gcm_aes256_set_iv (gcm, ASSAY_PAYLOAD_IV_SIZE, iv);
  gcm_aes256_update (gcm, strlen (result_id), (const guint8 *) result_id);
}

/**
 * assay_payload_encrypt:
 * @recipient: the client's key; its public part is enough
 * @result_id: `result-<uuid4>`, authenticated as the associated data
 *
 * Returns: (transfer full) (nullable): the binary payload E ‖ IV ‖ TAG ‖ C, or %NULL with
 * %ASSAY_KEY_ERROR_INVALID_ID when @result_id is not a result id.
 */
GBytes *
assay_payload_encrypt (AssayKey    *recipient,
                       const char  *result_id,
                       GBytes      *plaintext,
                       GError     **error)
{
  g_autoptr(AssayKey) ephemeral = NULL;
  struct gcm_aes256_ctx gcm;
  guint8 z[ASSAY_KEY_SHARED_SIZE];
  guint8 key[KEY_SIZE];
  const guint8 *in;
  gsize in_len;
  guint8 *out, *e, *iv, *tag, *c;

  g_return_val_if_fail (ASSAY_IS_KEY (recipient), NULL);
  g_return_val_if_fail (result_id != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!assay_id_is_valid (ASSAY_ID_RESULT, result_id))
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_ID,
                   "Cannot encrypt a result for “%s”: a result id is “result-” followed by "
                   "a lowercase UUIDv4",
                   result_id);
      return NULL;
    }

  in = g_bytes_get_data (plaintext, &in_len);
  out = g_malloc (ASSAY_PAYLOAD_OVERHEAD + in_len);
  e = out;
  iv = e + ASSAY_PAYLOAD_E_SIZE;
  tag = iv + ASSAY_PAYLOAD_IV_SIZE;
  c = tag + ASSAY_PAYLOAD_TAG_SIZE;

  ephemeral = assay_key_generate ();
  memcpy (e, assay_key_get_public_point (ephemeral), ASSAY_PAYLOAD_E_SIZE);
  if (!_assay_key_ecdh (ephemeral, assay_key_get_public_point (recipient), z, error))
    g_assert_not_reached (); /* both points were checked when their keys were made */
  derive_key (z, e, assay_key_get_public_point (recipient), key);
  explicit_bzero (z, sizeof z);

  assay_random_bytes (iv, ASSAY_PAYLOAD_IV_SIZE);
  gcm_start (&gcm, key, iv, result_id);
  explicit_bzero (key, sizeof key);
  gcm_aes256_encrypt (&gcm, in_len, c, in);
  gcm_aes256_digest (&gcm, ASSAY_PAYLOAD_TAG_SIZE, tag);
  explicit_bzero (&gcm, sizeof gcm);

  return g_bytes_new_take (out, ASSAY_PAYLOAD_OVERHEAD + in_len);
}

/**
 * assay_payload_decrypt:
 * @key: the client's key pair
 * @result_id: the id of the result the payload belongs to
 * @payload: the binary payload E ‖ IV ‖ TAG ‖ C
 *
 * Returns: (transfer full) (nullable): the plaintext, or %NULL with
 * %ASSAY_KEY_ERROR_DECRYPT_FAILED when the payload is malformed, was changed, is bound
 * to another result id or was made for another key; %ASSAY_KEY_ERROR_NO_PRIVATE_KEY for
 * a public-only @key.
 */
GBytes *
assay_payload_decrypt (AssayKey    *key,
                       const char  *result_id,
                       GBytes      *payload,
                       GError     **error)
{
  struct gcm_aes256_ctx gcm;
  guint8 z[ASSAY_KEY_SHARED_SIZE];
  guint8 aes_key[KEY_SIZE];
  guint8 tag[ASSAY_PAYLOAD_TAG_SIZE];
  const guint8 *in, *e, *iv, *expected_tag, *c;
  gsize in_len, c_len;
  guint8 *out;
  gboolean ok;

  g_return_val_if_fail (ASSAY_IS_KEY (key), NULL);
  g_return_val_if_fail (result_id != NULL, NULL);
  g_return_val_if_fail (payload != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!assay_key_has_private (key))
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY,
                   "Cannot decrypt with the key of %s: only its public key is known; load "
                   "the private key (PEM) instead",
                   assay_key_get_client_id (key));
      return NULL;
    }
  if (!assay_id_is_valid (ASSAY_ID_RESULT, result_id))
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED,
                   "Cannot decrypt a result for “%s”: a result id is “result-” followed by "
                   "a lowercase UUIDv4",
                   result_id);
      return NULL;
    }

  in = g_bytes_get_data (payload, &in_len);
  if (in_len < ASSAY_PAYLOAD_OVERHEAD)
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED,
                   "The payload of %s is %" G_GSIZE_FORMAT " bytes, shorter than the %d "
                   "bytes of E, IV and TAG: it is truncated",
                   result_id, in_len, ASSAY_PAYLOAD_OVERHEAD);
      return NULL;
    }
  e = in;
  iv = e + ASSAY_PAYLOAD_E_SIZE;
  expected_tag = iv + ASSAY_PAYLOAD_IV_SIZE;
  c = expected_tag + ASSAY_PAYLOAD_TAG_SIZE;
  c_len = in_len - ASSAY_PAYLOAD_OVERHEAD;

  if (!_assay_key_ecdh (key, e, z, error))
    return NULL;
  derive_key (z, e, assay_key_get_public_point (key), aes_key);
  explicit_bzero (z, sizeof z);

  out = g_malloc (c_len);
  gcm_start (&gcm, aes_key, iv, result_id);
  explicit_bzero (aes_key, sizeof aes_key);
  gcm_aes256_decrypt (&gcm, c_len, out, c);
  gcm_aes256_digest (&gcm, sizeof tag, tag);
  explicit_bzero (&gcm, sizeof gcm);
  ok = memeql_sec (tag, expected_tag, sizeof tag) != 0;

  if (!ok)
    {
      assay_wipe (out, c_len);
      g_free (out);
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED,
                   "The payload of %s does not authenticate: it was changed, belongs to "
                   "another result, or was not encrypted for %s",
                   result_id, assay_key_get_client_id (key));
      return NULL;
    }

  return g_bytes_new_take (out, c_len);
}

/**
 * assay_payload_to_text:
 * @payload: a binary payload of at least %ASSAY_PAYLOAD_OVERHEAD bytes
 *
 * Returns: (transfer full): `E:IV:TAG:C` in lowercase hex (C is empty for an empty
 * plaintext).
 */
char *
assay_payload_to_text (GBytes *payload)
{
  const guint8 *in;
  gsize len;
  g_autofree char *e = NULL, *iv = NULL, *tag = NULL, *c = NULL;

  g_return_val_if_fail (payload != NULL, NULL);

  in = g_bytes_get_data (payload, &len);
  g_return_val_if_fail (len >= ASSAY_PAYLOAD_OVERHEAD, NULL);

  e = assay_hex_encode (in, ASSAY_PAYLOAD_E_SIZE);
  in += ASSAY_PAYLOAD_E_SIZE;
  iv = assay_hex_encode (in, ASSAY_PAYLOAD_IV_SIZE);
  in += ASSAY_PAYLOAD_IV_SIZE;
  tag = assay_hex_encode (in, ASSAY_PAYLOAD_TAG_SIZE);
  in += ASSAY_PAYLOAD_TAG_SIZE;
  c = assay_hex_encode (in, len - ASSAY_PAYLOAD_OVERHEAD);

  return g_strjoin (":", e, iv, tag, c, NULL);
}

/**
 * assay_payload_from_text:
 * @text: `E:IV:TAG:C`, exactly four fields of lowercase hex: E 65 bytes, IV 12, TAG 16
 *
 * Returns: (transfer full) (nullable): the binary payload, or %NULL with
 * %ASSAY_KEY_ERROR_DECRYPT_FAILED when @text is not of that form.
 */
GBytes *
assay_payload_from_text (const char  *text,
                         GError     **error)
{
  static const gsize sizes[3] = { ASSAY_PAYLOAD_E_SIZE, ASSAY_PAYLOAD_IV_SIZE,
                                  ASSAY_PAYLOAD_TAG_SIZE };
  static const char *const names[4] = { "E", "IV", "TAG", "C" };
  g_auto(GStrv) fields = NULL;
  g_autofree guint8 *out = NULL;
  gsize c_len, pos = 0;
  guint n_fields;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  fields = g_strsplit (text, ":", 5);
  n_fields = g_strv_length (fields);
  if (n_fields != 4)
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED,
                   "The payload has %s%u fields; it must be four lowercase hex fields "
                   "E:IV:TAG:C",
                   n_fields > 4 ? "more than " : "", MIN (n_fields, 4));
      return NULL;
    }

  c_len = strlen (fields[3]) / 2;
  out = g_malloc (ASSAY_PAYLOAD_OVERHEAD + c_len);
  for (guint i = 0; i < 4; i++)
    {
      gsize size = i < 3 ? sizes[i] : c_len;

      if (!assay_hex_decode_into (fields[i], out + pos, size))
        {
          if (i < 3)
            g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED,
                         "The payload’s %s field must be %" G_GSIZE_FORMAT " bytes of "
                         "lowercase hex (%" G_GSIZE_FORMAT " digits)",
                         names[i], size, 2 * size);
          else
            g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED,
                         "The payload’s C field must be lowercase hex of an even length");
          return NULL;
        }
      pos += size;
    }

  return g_bytes_new_take (g_steal_pointer (&out), ASSAY_PAYLOAD_OVERHEAD + c_len);
}

/**
 * assay_payload_encrypt_text:
 *
 * assay_payload_encrypt(), written as assay_payload_to_text() does.
 *
 * Returns: (transfer full) (nullable): `E:IV:TAG:C`
 */
char *
assay_payload_encrypt_text (AssayKey    *recipient,
                            const char  *result_id,
                            GBytes      *plaintext,
                            GError     **error)
{
  g_autoptr(GBytes) payload = NULL;

  payload = assay_payload_encrypt (recipient, result_id, plaintext, error);
  if (payload == NULL)
    return NULL;

  return assay_payload_to_text (payload);
}

/**
 * assay_payload_decrypt_text:
 *
 * assay_payload_decrypt() of a payload in its text form, read strictly.
 *
 * Returns: (transfer full) (nullable): the plaintext
 */
GBytes *
assay_payload_decrypt_text (AssayKey    *key,
                            const char  *result_id,
                            const char  *text,
                            GError     **error)
{
  g_autoptr(GBytes) payload = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  payload = assay_payload_from_text (text, error);
  if (payload == NULL)
    return NULL;

  return assay_payload_decrypt (key, result_id, payload, error);
}
