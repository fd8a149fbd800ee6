/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "protocol-vectors.h"

#include "assay-id.h"
#include "assay-key.h"
#include "assay-payload.h"
#include "assay-util.h"

#include <string.h>

/* The changes made to each byte of a signature or payload: every single-bit flip and
 * the complement; every other value too with `-m thorough`. */
static GArray *
byte_changes (void)
{
  GArray *changes = g_array_new (FALSE, FALSE, sizeof (guint8));

  if (g_test_thorough ())
    {
      for (guint v = 1; v < 256; v++)
        {
          guint8 b = v;
          g_array_append_val (changes, b);
        }
    }
  else
    {
      for (guint bit = 0; bit < 8; bit++)
        {
          guint8 b = 1u << bit;
          g_array_append_val (changes, b);
        }
      g_array_append_val (changes, (guint8){ 0xff });
    }
  return changes;
}

GPtrArray *
assay_test_vectors_load (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *vectors = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  if (g_getenv ("ASSAY_VECTORS") != NULL)
    path = g_strdup (g_getenv ("ASSAY_VECTORS"));
  else if (g_getenv ("ASSAY_SHARED_DIR") != NULL)
    path = g_build_filename (g_getenv ("ASSAY_SHARED_DIR"), "vectors", "protocol-v1.jsonl", NULL);
  else
    g_error ("Neither ASSAY_VECTORS nor ASSAY_SHARED_DIR is set: run the tests with "
             "“meson test”, or set ASSAY_SHARED_DIR to the shared/ directory");

  g_test_message ("vectors from %s", path);
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonNode *root;

      if (lines[i][0] == '\0')
        continue;
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      root = json_parser_get_root (parser);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
      g_ptr_array_add (vectors, json_object_ref (json_node_get_object (root)));
    }

  /* An empty file would make every check pass without checking anything. */
  g_assert_cmpuint (vectors->len, >, 0);

  return vectors;
}

static const char *
get_string (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    g_error ("the vector has no string “%s”", name);
  return json_node_get_string (node);
}

static void
assert_signature_rejected (AssayKey   *key,
                           const char *message,
                           gsize       len,
                           const char *signature_hex)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (assay_key_verify (key, message, len, signature_hex, &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_BAD_SIGNATURE);
}

/**
 * assay_test_vector_check_key:
 * The PEM loads with the job's client id and the vector's scalar; the signature
 * verifies over the signed message, which is the seven fields as PROTOCOL.md writes
 * them; and a change of any one byte of the signature or the message is refused.
 */
void
assay_test_vector_check_key (JsonObject *vector)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(AssayKey) public = NULL;
  g_autoptr(AssayKey) reloaded = NULL;
  g_autoptr(GArray) changes = byte_changes ();
  g_autofree char *scalar = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *message = NULL;
  g_autofree char *changed = NULL;
  g_autofree char *upper = NULL;
  g_autofree guint8 *der = NULL;
  JsonObject *job;
  const char *signed_message, *signature;
  gsize der_len = 0, message_len;

  g_assert_true (json_object_has_member (vector, "job"));
  job = json_object_get_object_member (vector, "job");
  g_assert_nonnull (job);
  signed_message = get_string (vector, "signed_message");
  signature = get_string (job, "signature");
  message_len = strlen (signed_message);

  key = assay_key_new_from_pem (get_string (vector, "private_pkcs8_pem"), -1, &error);
  g_assert_no_error (error);
  g_assert_true (assay_key_has_private (key));
  g_assert_cmpstr (assay_key_get_client_id (key), ==, get_string (job, "client"));
  scalar = assay_key_dup_scalar_hex (key, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (scalar, ==, get_string (vector, "private_scalar_hex"));

  /* re-export: the same key comes back */
  pem = assay_key_to_pem (key, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN PRIVATE KEY-----\n"));
  reloaded = assay_key_new_from_pem (pem, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (reloaded), ==, assay_key_get_client_id (key));
  g_clear_pointer (&scalar, g_free);
  scalar = assay_key_dup_scalar_hex (reloaded, &error);
  g_assert_cmpstr (scalar, ==, get_string (vector, "private_scalar_hex"));

  /* the signed message is JSON.stringify of the seven fields, in order */
  message = g_strdup_printf ("{\"id\":\"%s\",\"version\":\"%s\",\"created\":\"%s\","
                             "\"bucket\":\"%s\",\"region\":\"%s\",\"file\":\"%s\","
                             "\"client\":\"%s\"}",
                             get_string (job, "id"), get_string (job, "version"),
                             get_string (job, "created"), get_string (job, "bucket"),
                             get_string (job, "region"), get_string (job, "file"),
                             get_string (job, "client"));
  g_assert_cmpstr (message, ==, signed_message);

  public = assay_key_new_from_client_id (get_string (job, "client"), &error);
  g_assert_no_error (error);
  g_assert_false (assay_key_has_private (public));
  g_assert_true (assay_key_verify (public, signed_message, message_len, signature, &error));
  g_assert_no_error (error);
  g_assert_true (assay_key_verify (key, signed_message, message_len, signature, &error));
  g_assert_no_error (error);

  /* any one byte of the DER changed */
  der = assay_hex_decode (signature, &der_len);
  g_assert_nonnull (der);
  for (gsize i = 0; i < der_len; i++)
    for (guint c = 0; c < changes->len; c++)
      {
        g_autofree char *hex = NULL;

        der[i] ^= g_array_index (changes, guint8, c);
        hex = assay_hex_encode (der, der_len);
        der[i] ^= g_array_index (changes, guint8, c);
        assert_signature_rejected (public, signed_message, message_len, hex);
      }
  /* truncated, or a byte more */
  for (gsize len = 0; len < der_len; len++)
    {
      g_autofree char *hex = assay_hex_encode (der, len);
      assert_signature_rejected (public, signed_message, message_len, hex);
    }
  {
    g_autofree char *longer = g_strconcat (signature, "00", NULL);
    assert_signature_rejected (public, signed_message, message_len, longer);
  }
  /* the same signature in uppercase hex */
  upper = g_ascii_strup (signature, -1);
  if (strcmp (upper, signature) != 0)
    assert_signature_rejected (public, signed_message, message_len, upper);

  /* any one byte of the message changed, one byte less, one byte more */
  changed = g_strdup (signed_message);
  for (gsize i = 0; i < message_len; i++)
    {
      changed[i] ^= 0x01;
      assert_signature_rejected (public, changed, message_len, signature);
      changed[i] ^= 0x01;
    }
  assert_signature_rejected (public, signed_message, message_len - 1, signature);
  {
    g_autofree char *longer = g_strconcat (signed_message, " ", NULL);
    assert_signature_rejected (public, longer, message_len + 1, signature);
  }

  g_assert_finalize_object (g_steal_pointer (&public));
  g_assert_finalize_object (g_steal_pointer (&reloaded));
  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
assert_decrypt_rejected (AssayKey   *key,
                         const char *result_id,
                         GBytes     *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) plaintext = NULL;

  plaintext = assay_payload_decrypt (key, result_id, payload, &error);
  g_assert_null (plaintext);
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED);
}

/**
 * assay_test_vector_check_payload:
 * The payload decrypts to the plaintext exactly, in its text and binary forms; a change
 * of any one byte of E, IV, TAG or C, or of any one character of the result id, is
 * refused.
 */
void
assay_test_vector_check_payload (JsonObject *vector)
{
  static const char replacements[] = "0123456789abcdef-gzAF:_ \"";
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(AssayKey) public = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  g_autoptr(GBytes) from_text = NULL;
  g_autoptr(GArray) changes = byte_changes ();
  g_autofree char *text = NULL;
  g_autofree char *id = NULL;
  g_autofree guint8 *bytes = NULL;
  const char *result_id, *expected, *payload_text;
  gsize len;

  result_id = get_string (vector, "result_id");
  expected = get_string (vector, "plaintext");
  payload_text = get_string (vector, "payload");
  g_assert_true (assay_id_is_valid (ASSAY_ID_RESULT, result_id));

  key = assay_key_new_from_pem (get_string (vector, "private_pkcs8_pem"), -1, &error);
  g_assert_no_error (error);

  payload = assay_payload_from_text (payload_text, &error);
  g_assert_no_error (error);
  text = assay_payload_to_text (payload);
  g_assert_cmpstr (text, ==, payload_text);

  plaintext = assay_payload_decrypt (key, result_id, payload, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (plaintext, NULL), g_bytes_get_size (plaintext), expected,
                   strlen (expected));
  from_text = assay_payload_decrypt_text (key, result_id, payload_text, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (from_text, plaintext));

  /* a public-only key cannot decrypt */
  public = assay_key_new_from_client_id (assay_key_get_client_id (key), &error);
  g_assert_no_error (error);
  g_assert_null (assay_payload_decrypt (public, result_id, payload, &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);

  /* any one byte of E, IV, TAG or C changed */
  bytes = g_bytes_unref_to_data (g_steal_pointer (&payload), &len);
  for (gsize i = 0; i < len; i++)
    for (guint c = 0; c < changes->len; c++)
      {
        g_autoptr(GBytes) changed = NULL;

        bytes[i] ^= g_array_index (changes, guint8, c);
        changed = g_bytes_new (bytes, len);
        bytes[i] ^= g_array_index (changes, guint8, c);
        assert_decrypt_rejected (key, result_id, changed);
      }
  /* truncated by one byte, or one byte more */
  {
    g_autoptr(GBytes) shorter = g_bytes_new (bytes, len - 1);
    g_autoptr(GBytes) longer = NULL;
    g_autofree guint8 *more = g_malloc0 (len + 1);

    memcpy (more, bytes, len);
    longer = g_bytes_new (more, len + 1);
    assert_decrypt_rejected (key, result_id, shorter);
    assert_decrypt_rejected (key, result_id, longer);
  }

  /* any one character of the result id changed, to a hex digit or anything else */
  payload = g_bytes_new (bytes, len);
  id = g_strdup (result_id);
  for (gsize i = 0; id[i] != '\0'; i++)
    for (const char *r = replacements; *r != '\0'; r++)
      {
        char original = id[i];

        if (*r == original)
          continue;
        id[i] = *r;
        assert_decrypt_rejected (key, id, payload);
        id[i] = original;
      }

  g_assert_finalize_object (g_steal_pointer (&public));
  g_assert_finalize_object (g_steal_pointer (&key));
}
