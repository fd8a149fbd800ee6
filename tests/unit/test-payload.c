/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-id.h"
#include "assay-key.h"
#include "assay-payload.h"
#include "assay-util.h"
#include "protocol-vectors.h"

#include <string.h>

static const char result_id[] = "result-c1e0af22-a56e-41fd-9118-fe86ee14b13b";

static void
test_payload_vectors (void)
{
  g_autoptr(GPtrArray) vectors = assay_test_vectors_load ();

  for (guint i = 0; i < vectors->len; i++)
    {
      g_test_message ("vector %u", i);
      assay_test_vector_check_payload (g_ptr_array_index (vectors, i));
    }
}

static void
round_trip (AssayKey *key,
            gsize     size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) public = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) back = NULL;
  g_autoptr(GBytes) back_text = NULL;
  g_autofree guint8 *data = g_malloc (size);
  g_autofree char *text = NULL;
  const guint8 *p;
  gsize len;

  g_test_message ("%" G_GSIZE_FORMAT " bytes", size);
  assay_random_bytes (data, size);
  plaintext = g_bytes_new (data, size);

  /* the recipient's public key is enough to encrypt */
  public = assay_key_new_from_client_id (assay_key_get_client_id (key), &error);
  g_assert_no_error (error);
  payload = assay_payload_encrypt (public, result_id, plaintext, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (payload, &len);
  g_assert_cmpuint (len, ==, ASSAY_PAYLOAD_OVERHEAD + size);
  g_assert_cmpint (p[0], ==, 0x04);
  /* the plaintext does not show through */
  if (size >= 16)
    g_assert_true (memcmp (p + ASSAY_PAYLOAD_OVERHEAD, data, 16) != 0);

  back = assay_payload_decrypt (key, result_id, payload, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, plaintext));

  text = assay_payload_to_text (payload);
  g_assert_cmpuint (strlen (text), ==, 2 * len + 3);
  back_text = assay_payload_decrypt_text (key, result_id, text, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back_text, plaintext));

  g_assert_finalize_object (g_steal_pointer (&public));
}

static void
test_payload_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  const gsize sizes[] = { 0, 1, 15, 16, 17, 1000, 1024 * 1024 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    round_trip (key, sizes[i]);

  /* the empty plaintext's text form ends with an empty C */
  {
    g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
    g_autofree char *text = assay_payload_encrypt_text (key, result_id, empty, &error);
    g_autoptr(GBytes) back = NULL;

    g_assert_no_error (error);
    g_assert_true (g_str_has_suffix (text, ":"));
    g_assert_cmpuint (strlen (text), ==, 130 + 1 + 24 + 1 + 32 + 1);
    back = assay_payload_decrypt_text (key, result_id, text, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (back), ==, 0);
  }

  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_payload_fresh (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GBytes) plaintext = g_bytes_new_static ("{\"job\":\"x\"}", 11);
  g_autoptr(GBytes) a = assay_payload_encrypt (key, result_id, plaintext, &error);
  g_autoptr(GBytes) b = assay_payload_encrypt (key, result_id, plaintext, NULL);
  const guint8 *pa = g_bytes_get_data (a, NULL);
  const guint8 *pb = g_bytes_get_data (b, NULL);

  g_assert_no_error (error);
  /* a fresh ephemeral key and IV each time */
  g_assert_true (memcmp (pa, pb, ASSAY_PAYLOAD_E_SIZE) != 0);
  g_assert_true (memcmp (pa + ASSAY_PAYLOAD_E_SIZE, pb + ASSAY_PAYLOAD_E_SIZE,
                         ASSAY_PAYLOAD_IV_SIZE) != 0);
  /* E is not the recipient's key */
  g_assert_true (memcmp (pa, assay_key_get_public_point (key), ASSAY_PAYLOAD_E_SIZE) != 0);

  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_payload_wrong_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autoptr(AssayKey) public = NULL;
  g_autoptr(GBytes) plaintext = g_bytes_new_static ("secret", 6);
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) back = NULL;

  payload = assay_payload_encrypt (key, result_id, plaintext, &error);
  g_assert_no_error (error);

  back = assay_payload_decrypt (other, result_id, payload, &error);
  g_assert_null (back);
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* another, valid, result id */
  back = assay_payload_decrypt (key, "result-c1e0af22-a56e-41fd-9118-fe86ee14b13c", payload,
                                &error);
  g_assert_null (back);
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED);
  g_clear_error (&error);

  /* the public key alone cannot decrypt */
  public = assay_key_new_from_client_id (assay_key_get_client_id (key), &error);
  g_assert_no_error (error);
  back = assay_payload_decrypt (public, result_id, payload, &error);
  g_assert_null (back);
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);

  g_assert_finalize_object (g_steal_pointer (&public));
  g_assert_finalize_object (g_steal_pointer (&other));
  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_payload_result_id (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GBytes) plaintext = g_bytes_new_static ("x", 1);
  g_autoptr(GBytes) payload = assay_payload_encrypt (key, result_id, plaintext, NULL);
  const char *bad[] = { "", "result-", "job-c1e0af22-a56e-41fd-9118-fe86ee14b13b",
                        "result-C1E0AF22-A56E-41FD-9118-FE86EE14B13B",
                        "result-c1e0af22-a56e-11fd-9118-fe86ee14b13b",
                        "result-c1e0af22-a56e-41fd-9118-fe86ee14b13b ",
                        "c1e0af22-a56e-41fd-9118-fe86ee14b13b" };

  g_assert_nonnull (payload);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) out = NULL;

      g_test_message ("bad result id “%s”", bad[i]);
      out = assay_payload_encrypt (key, bad[i], plaintext, &error);
      g_assert_null (out);
      g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_ID);
      g_clear_error (&error);
      out = assay_payload_decrypt (key, bad[i], payload, &error);
      g_assert_null (out);
      g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED);
    }

  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
assert_text_rejected (const char *what,
                      const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = NULL;

  g_test_message ("%s", what);
  payload = assay_payload_from_text (text, &error);
  g_assert_null (payload);
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED);
  g_test_message ("→ %s", error->message);
}

static void
test_payload_text_strict (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GBytes) plaintext = g_bytes_new_static ("hello, world", 12);
  g_autofree char *text = assay_payload_encrypt_text (key, result_id, plaintext, &error);
  g_auto(GStrv) fields = NULL;

  g_assert_no_error (error);
  fields = g_strsplit (text, ":", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 4);
  g_assert_cmpuint (strlen (fields[0]), ==, 130);
  g_assert_cmpuint (strlen (fields[1]), ==, 24);
  g_assert_cmpuint (strlen (fields[2]), ==, 32);
  g_assert_cmpuint (strlen (fields[3]), ==, 24);

  /* 3 or 5 fields, empty fields, whitespace */
  {
    g_autofree char *three = g_strjoin (":", fields[0], fields[1], fields[2], NULL);
    g_autofree char *three_cat = g_strjoin (":", fields[0], fields[1], "", NULL);
    g_autofree char *five = g_strconcat (text, ":00", NULL);
    g_autofree char *five_empty = g_strconcat (text, ":", NULL);
    g_autofree char *lead = g_strconcat (":", text, NULL);
    g_autofree char *nl = g_strconcat (text, "\n", NULL);
    g_autofree char *space = g_strconcat (" ", text, NULL);

    assert_text_rejected ("3 fields", three);
    assert_text_rejected ("3 fields, empty TAG", three_cat);
    assert_text_rejected ("5 fields", five);
    assert_text_rejected ("5 fields, the last empty", five_empty);
    assert_text_rejected ("leading colon", lead);
    assert_text_rejected ("trailing newline", nl);
    assert_text_rejected ("leading space", space);
    assert_text_rejected ("empty", "");
    assert_text_rejected ("colons", ":::");
  }

  /* uppercase in each field */
  for (guint f = 0; f < 4; f++)
    {
      g_auto(GStrv) copy = g_strdupv (fields);
      g_autofree char *joined = NULL;

      g_free (copy[f]);
      copy[f] = g_ascii_strup (fields[f], -1);
      if (strcmp (copy[f], fields[f]) == 0) /* random digits without a letter: rare */
        continue;
      joined = g_strjoinv (":", copy);
      assert_text_rejected ("uppercase", joined);
    }

  /* each field one digit short, one byte short, one byte long, a non-hex digit */
  for (guint f = 0; f < 4; f++)
    {
      g_auto(GStrv) copy = g_strdupv (fields);
      g_autofree char *original = g_strdup (fields[f]);
      g_autofree char *joined = NULL;

      g_free (copy[f]);
      copy[f] = g_strndup (original, strlen (original) - 1);
      joined = g_strjoinv (":", copy);
      assert_text_rejected ("odd length", joined);
      g_clear_pointer (&joined, g_free);

      if (f < 3)
        {
          g_free (copy[f]);
          copy[f] = g_strndup (original, strlen (original) - 2);
          joined = g_strjoinv (":", copy);
          assert_text_rejected ("one byte short", joined);
          g_clear_pointer (&joined, g_free);

          g_free (copy[f]);
          copy[f] = g_strconcat (original, "00", NULL);
          joined = g_strjoinv (":", copy);
          assert_text_rejected ("one byte long", joined);
          g_clear_pointer (&joined, g_free);
        }

      g_free (copy[f]);
      copy[f] = g_strdup (original);
      copy[f][0] = 'g';
      joined = g_strjoinv (":", copy);
      assert_text_rejected ("non-hex digit", joined);
    }

  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_payload_truncated (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GBytes) plaintext = g_bytes_new_static ("a result of some bytes", 22);
  g_autoptr(GBytes) payload = assay_payload_encrypt (key, result_id, plaintext, &error);
  const guint8 *data;
  gsize len;

  g_assert_no_error (error);
  data = g_bytes_get_data (payload, &len);

  /* every shorter payload: without a whole header, or with part of C */
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr(GBytes) shorter = g_bytes_new (data, cut);
      g_autoptr(GBytes) back = assay_payload_decrypt (key, result_id, shorter, &error);

      g_assert_null (back);
      g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED);
      g_clear_error (&error);
    }

  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_payload_bad_ephemeral (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GBytes) plaintext = g_bytes_new_static ("x", 1);
  g_autoptr(GBytes) payload = assay_payload_encrypt (key, result_id, plaintext, NULL);
  g_autofree guint8 *data = NULL;
  gsize len;

  data = g_bytes_unref_to_data (g_steal_pointer (&payload), &len);
  /* the identity (all zeros), a compressed prefix, x = y = 2^256 - 1, and the
   * recipient's own key (on the curve, but not what the payload was made with) */
  for (guint variant = 0; variant < 4; variant++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *copy = g_memdup2 (data, len);
      g_autoptr(GBytes) changed = NULL;
      g_autoptr(GBytes) back = NULL;

      switch (variant)
        {
        case 0:
          memset (copy, 0, ASSAY_PAYLOAD_E_SIZE);
          break;
        case 1:
          copy[0] = 0x02;
          break;
        case 2:
          memset (copy + 1, 0xff, ASSAY_PAYLOAD_E_SIZE - 1);
          break;
        default:
          memcpy (copy, assay_key_get_public_point (key), ASSAY_PAYLOAD_E_SIZE);
          break;
        }
      changed = g_bytes_new_take (g_steal_pointer (&copy), len);
      back = assay_payload_decrypt (key, result_id, changed, &error);
      g_assert_null (back);
      g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED);
      g_test_message ("%s", error->message);
    }

  g_assert_finalize_object (g_steal_pointer (&key));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/payload/vectors", test_payload_vectors);
  g_test_add_func ("/common/payload/round-trip", test_payload_round_trip);
  g_test_add_func ("/common/payload/fresh", test_payload_fresh);
  g_test_add_func ("/common/payload/wrong-key", test_payload_wrong_key);
  g_test_add_func ("/common/payload/result-id", test_payload_result_id);
  g_test_add_func ("/common/payload/text-strict", test_payload_text_strict);
  g_test_add_func ("/common/payload/truncated", test_payload_truncated);
  g_test_add_func ("/common/payload/bad-ephemeral", test_payload_bad_ephemeral);

  return g_test_run ();
}
