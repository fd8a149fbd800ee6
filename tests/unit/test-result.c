/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-id.h"
#include "assay-payload.h"
#include "assay-result.h"
#include "assay-time.h"

#include <string.h>

static const char plaintext_text[] =
  "{\"job\":\"job-89055e75-5186-4415-af4b-f9e8004f7f5c\",\"processed\":\"2026-11-01T10:00:12.000Z\","
  "\"scan\":{},\"validation\":{},\"engine\":{\"ok\":true}}";

static void
test_result_inline (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autoptr(AssayKey) public_only = NULL;
  g_autoptr(GBytes) plaintext = g_bytes_new_static (plaintext_text, strlen (plaintext_text));
  g_autoptr(GBytes) object = NULL;
  g_autoptr(GBytes) decrypted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayResult) result = NULL;
  g_autoptr(AssayResult) again = NULL;
  g_autoptr(JsonNode) item = NULL;
  g_autofree char *item_text = NULL;
  const char *job = "job-89055e75-5186-4415-af4b-f9e8004f7f5c";

  /* the processor only has the client's public key */
  public_only = assay_key_new_from_client_id (assay_key_get_client_id (key), &error);
  g_assert_no_error (error);
  result = assay_result_new (job, public_only, plaintext, &object, &error);
  g_assert_no_error (error);
  g_assert_null (object);
  g_assert_true (assay_id_is_valid (ASSAY_ID_RESULT, assay_result_get_id (result)));
  g_assert_cmpstr (assay_result_get_client (result), ==, assay_key_get_client_id (key));
  g_assert_cmpstr (assay_result_get_job (result), ==, job);
  g_assert_true (assay_time_is_valid (assay_result_get_created (result)));
  g_assert_nonnull (assay_result_get_payload (result));
  g_assert_null (assay_result_get_payload_object (result));

  item = assay_result_to_item (result);
  item_text = json_to_string (item, FALSE);
  g_assert_true (g_str_has_prefix (item_text, "{\"id\":{\"S\":\"result-"));
  again = assay_result_new_from_data (item_text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_result_get_payload (again), ==, assay_result_get_payload (result));

  decrypted = assay_result_decrypt (again, key, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (decrypted, plaintext));

  g_assert_null (assay_result_decrypt (again, other, NULL, &error));
  g_assert_error (error, ASSAY_RESULT_ERROR, ASSAY_RESULT_ERROR_WRONG_CLIENT);

  g_assert_finalize_object (g_steal_pointer (&again));
  g_assert_finalize_object (g_steal_pointer (&result));
}

static void
test_result_object (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GBytes) object = NULL;
  g_autoptr(GBytes) decrypted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayResult) result = NULL;
  g_autoptr(AssayResult) again = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autofree char *json_text = NULL;
  g_autofree char *expected_key = NULL;
  gsize size = ASSAY_RESULT_INLINE_LIMIT / 2; /* its hex is as large as the limit */
  g_autofree char *big = g_malloc (size);
  g_autoptr(GBytes) plaintext = NULL;

  memset (big, 'a', size);
  plaintext = g_bytes_new_take (g_steal_pointer (&big), size);
  result = assay_result_new ("job-89055e75-5186-4415-af4b-f9e8004f7f5c", key, plaintext, &object,
                             &error);
  g_assert_no_error (error);
  g_assert_nonnull (object);
  g_assert_cmpuint (g_bytes_get_size (object), ==, size + ASSAY_PAYLOAD_OVERHEAD);
  g_assert_null (assay_result_get_payload (result));
  expected_key = g_strconcat ("results/", assay_result_get_id (result), NULL);
  g_assert_cmpstr (assay_result_get_payload_object (result), ==, expected_key);

  json = assay_result_to_json (result);
  json_text = json_to_string (json, FALSE);
  again = assay_result_new_from_data (json_text, -1, &error);
  g_assert_no_error (error);

  g_assert_null (assay_result_decrypt (again, key, NULL, &error));
  g_assert_error (error, ASSAY_RESULT_ERROR, ASSAY_RESULT_ERROR_NEEDS_OBJECT);
  g_clear_error (&error);
  decrypted = assay_result_decrypt (again, key, object, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (decrypted, plaintext));
}

/* Takes @text. */
static void
assert_rejected (char *text)
{
  g_autofree char *owned = text;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayResult) result = assay_result_new_from_data (text, -1, &error);

  g_assert_null (result);
  g_assert_error (error, ASSAY_RESULT_ERROR, ASSAY_RESULT_ERROR_BAD_RESULT);
  g_test_message ("%s", error->message);
}

static void
test_result_rejected (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  const char *client = assay_key_get_client_id (key);
  const char *id = "result-bf6cacfd-e3a6-4a38-b3e8-6e58fbcf595a";
  g_autofree char *e = g_strnfill (130, 'a');
  g_autofree char *good_payload = g_strdup_printf ("04%s:%s:%s:00", e + 2, "000000000000000000000000",
                                                   "00000000000000000000000000000000");
  g_autofree char *ok = g_strdup_printf ("{\"id\":\"%s\",\"client\":\"%s\",\"payload\":\"%s\"}", id,
                                         client, good_payload);
  g_autoptr(AssayResult) parsed = NULL;
  g_autoptr(GError) error = NULL;

  /* the form alone is checked here; decryption is another matter */
  parsed = assay_result_new_from_data (ok, -1, &error);
  g_assert_no_error (error);

  assert_rejected (g_strdup ("[]"));
  assert_rejected (g_strdup ("{\"id\":\"result-x\"}"));
  assert_rejected (g_strdup_printf ("{\"id\":\"%s\",\"client\":\"%s\"}", id, client));
  assert_rejected (g_strdup_printf ("{\"id\":\"%s\",\"client\":\"%s\",\"payload\":\"%s\","
                                    "\"payload_object\":\"results/%s\"}",
                                    id, client, good_payload, id));
  assert_rejected (g_strdup_printf ("{\"id\":\"%s\",\"client\":\"%s\","
                                    "\"payload_object\":\"results/other\"}",
                                    id, client));
  assert_rejected (g_strdup_printf ("{\"id\":\"%s\",\"client\":\"%s\",\"payload\":\"ab:cd\"}", id,
                                    client));
  assert_rejected (g_strdup_printf ("{\"id\":\"%s\",\"client\":\"client-04\",\"payload\":\"%s\"}",
                                    id, good_payload));
  assert_rejected (g_strdup_printf ("{\"id\":\"%s\",\"client\":\"%s\",\"payload\":\"%s\","
                                    "\"job\":\"job-1\"}",
                                    id, client, good_payload));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/result/inline", test_result_inline);
  g_test_add_func ("/common/result/object", test_result_object);
  g_test_add_func ("/common/result/rejected", test_result_rejected);

  return g_test_run ();
}
