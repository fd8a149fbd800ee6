/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-id.h"
#include "assay-key.h"
#include "assay-util.h"
#include "protocol-vectors.h"

#include <string.h>

/* The order n of P-256, big-endian. */
static const guint8 p256_order[32] = {
  0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static const char message[] = "{\"id\":\"job-9dfbe20e-2efd-4f62-b51e-9b230f60429b\"}";

static void
test_key_vectors (void)
{
  g_autoptr(GPtrArray) vectors = assay_test_vectors_load ();

  for (guint i = 0; i < vectors->len; i++)
    {
      g_test_message ("vector %u", i);
      assay_test_vector_check_key (g_ptr_array_index (vectors, i));
    }
}

static void
test_key_generate_sign_verify (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autoptr(AssayKey) public = NULL;
  g_autofree char *first = NULL;
  const char *client_id = assay_key_get_client_id (key);

  g_assert_true (assay_key_has_private (key));
  g_assert_true (assay_client_id_is_valid (client_id));
  g_assert_cmpstr (assay_key_get_client_id (other), !=, client_id);
  g_assert_cmpint (assay_key_get_public_point (key)[0], ==, 0x04);
  {
    g_autofree char *hex = assay_hex_encode (assay_key_get_public_point (key), 65);
    g_assert_cmpstr (client_id + strlen ("client-"), ==, hex);
  }

  public = assay_key_new_from_client_id (client_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (public), ==, client_id);

  /* Many signatures, so that short and 33-byte integers both occur: each must be the
   * strict DER that verify() accepts, by the key pair and by its public half. */
  for (guint i = 0; i < 64; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s %u", message, i);
      g_autofree char *signature = assay_key_sign (key, text, strlen (text), &error);

      g_assert_no_error (error);
      g_assert_nonnull (signature);
      g_assert_cmpuint (strlen (signature), <=, 144);
      g_assert_true (g_str_has_prefix (signature, "30"));
      g_assert_true (assay_key_verify (public, text, strlen (text), signature, &error));
      g_assert_no_error (error);
      g_assert_true (assay_key_verify (key, text, strlen (text), signature, &error));
      g_assert_no_error (error);
      /* another key does not accept it */
      g_assert_false (assay_key_verify (other, text, strlen (text), signature, &error));
      g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_BAD_SIGNATURE);
      g_clear_error (&error);
    }

  /* ECDSA is randomized: two signatures of one message differ and both verify */
  first = assay_key_sign (key, message, strlen (message), NULL);
  {
    g_autofree char *second = assay_key_sign (key, message, strlen (message), NULL);

    g_assert_cmpstr (first, !=, second);
    g_assert_true (assay_key_verify (public, message, strlen (message), second, NULL));
  }

  /* the empty message */
  {
    g_autofree char *signature = assay_key_sign (key, "", 0, &error);

    g_assert_no_error (error);
    g_assert_true (assay_key_verify (public, "", 0, signature, &error));
    g_assert_false (assay_key_verify (public, "x", 1, signature, NULL));
  }

  g_assert_finalize_object (g_steal_pointer (&public));
  g_assert_finalize_object (g_steal_pointer (&other));
  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_key_pem_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) back = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *again = NULL;
  g_autofree char *scalar = NULL;
  g_autofree char *back_scalar = NULL;
  g_autofree char *signature = NULL;

  pem = assay_key_to_pem (key, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN PRIVATE KEY-----\n"));
  g_assert_true (g_str_has_suffix (pem, "-----END PRIVATE KEY-----\n"));

  back = assay_key_new_from_pem (pem, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (back), ==, assay_key_get_client_id (key));
  scalar = assay_key_dup_scalar_hex (key, &error);
  g_assert_no_error (error);
  back_scalar = assay_key_dup_scalar_hex (back, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (scalar), ==, 64);
  g_assert_cmpstr (scalar, ==, back_scalar);

  /* the export is stable, and the reloaded key signs for the first one */
  again = assay_key_to_pem (back, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, pem);
  signature = assay_key_sign (back, message, strlen (message), &error);
  g_assert_no_error (error);
  g_assert_true (assay_key_verify (key, message, strlen (message), signature, &error));
  g_assert_no_error (error);

  /* @len is honoured: the PEM cut short is not a key */
  g_clear_object (&back);
  back = assay_key_new_from_pem (pem, strlen (pem) / 2, &error);
  g_assert_null (back);
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY);
  g_clear_error (&error);
  {
    g_autofree char *padded = g_strconcat (pem, "trailing text that len excludes", NULL);

    back = assay_key_new_from_pem (padded, strlen (pem), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (assay_key_get_client_id (back), ==, assay_key_get_client_id (key));
  }

  g_assert_finalize_object (g_steal_pointer (&back));
  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_key_public_only (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) public = NULL;
  g_autofree char *signature = NULL;

  public = assay_key_new_from_client_id (assay_key_get_client_id (key), &error);
  g_assert_no_error (error);
  g_assert_false (assay_key_has_private (public));

  g_assert_null (assay_key_sign (public, message, strlen (message), &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);
  g_assert_null (assay_key_to_pem (public, &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);
  g_assert_null (assay_key_dup_scalar_hex (public, &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);

  /* it still verifies */
  signature = assay_key_sign (key, message, strlen (message), &error);
  g_assert_no_error (error);
  g_assert_true (assay_key_verify (public, message, strlen (message), signature, &error));
  g_assert_no_error (error);

  g_assert_finalize_object (g_steal_pointer (&public));
  g_assert_finalize_object (g_steal_pointer (&key));
}

static void
test_key_client_id (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  const char *good = assay_key_get_client_id (key);
  g_autofree char *changed = g_strdup (good);
  g_autofree char *upper = NULL;
  g_autoptr(GString) zero = g_string_new ("client-04");
  g_autoptr(GString) big = g_string_new ("client-04");
  const char *malformed[] = { "", "client-", "client-04", "04aa", "client-02aa" };

  /* y changed in its last digit: the point leaves the curve */
  changed[strlen (changed) - 1] = changed[strlen (changed) - 1] == '0' ? '1' : '0';
  /* uppercase hex digits */
  upper = g_ascii_strup (good, -1);
  memcpy (upper, "client-", 7);
  for (guint i = 0; i < 128; i++)
    {
      g_string_append_c (zero, '0');
      g_string_append_c (big, 'f');
    }

  {
    const char *bad[] = { changed, upper, zero->str, big->str };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(AssayKey) public = assay_key_new_from_client_id (bad[i], &error);

        g_test_message ("bad client id %s", bad[i]);
        g_assert_null (public);
        g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY);
      }
  }
  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayKey) public = assay_key_new_from_client_id (malformed[i], &error);

      g_assert_null (public);
      g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY);
    }
  /* a compressed point (02/03) is not a client id */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *compressed = g_strndup (good, 7 + 66);

    compressed[8] = '2';
    g_assert_null (assay_key_new_from_client_id (compressed, &error));
    g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY);
  }

  g_assert_finalize_object (g_steal_pointer (&key));
}

/* One DER INTEGER with the given content bytes, as they are (no fixing up). */
static void
append_integer (GByteArray   *der,
                const guint8 *content,
                gsize         len)
{
  guint8 header[2] = { 0x02, (guint8) len };

  g_byte_array_append (der, header, 2);
  g_byte_array_append (der, content, len);
}

static char *
make_signature (const guint8 *r,
                gsize         r_len,
                const guint8 *s,
                gsize         s_len)
{
  g_autoptr(GByteArray) der = g_byte_array_new ();
  guint8 header[2] = { 0x30, 0 };

  g_byte_array_append (der, header, 2);
  append_integer (der, r, r_len);
  append_integer (der, s, s_len);
  der->data[1] = (guint8) (der->len - 2);
  return assay_hex_encode (der->data, der->len);
}

/* Splits a DER signature that assay_key_sign() made into the contents of r and s. */
static void
split_signature (const char *hex,
                 guint8     *r,
                 gsize      *r_len,
                 guint8     *s,
                 gsize      *s_len)
{
  g_autofree guint8 *der = NULL;
  gsize len = 0, pos = 2;

  der = assay_hex_decode (hex, &len);
  g_assert_nonnull (der);
  g_assert_cmpint (der[0], ==, 0x30);
  g_assert_cmpint (der[1], ==, len - 2);
  g_assert_cmpint (der[pos], ==, 0x02);
  *r_len = der[pos + 1];
  memcpy (r, der + pos + 2, *r_len);
  pos += 2 + *r_len;
  g_assert_cmpint (der[pos], ==, 0x02);
  *s_len = der[pos + 1];
  memcpy (s, der + pos + 2, *s_len);
  g_assert_cmpuint (pos + 2 + *s_len, ==, len);
}

static void
assert_rejected (AssayKey   *key,
                 const char *what,
                 const char *signature_hex)
{
  g_autoptr(GError) error = NULL;

  g_test_message ("%s: %s", what, signature_hex);
  g_assert_false (assay_key_verify (key, message, strlen (message), signature_hex, &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_BAD_SIGNATURE);
}

static void
test_key_der_strict (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autofree char *high = NULL; /* r needs its leading zero: 00 8x … */
  g_autofree char *low = NULL;  /* r is 32 bytes without a leading zero */
  guint8 hr[33], hs[33], lr[33], ls[33];
  gsize hr_len = 0, hs_len = 0, lr_len = 0, ls_len = 0;
  guint8 buf[40];

  while (high == NULL || low == NULL)
    {
      g_autofree char *signature = assay_key_sign (key, message, strlen (message), NULL);
      guint8 r[33], s[33];
      gsize r_len, s_len;

      split_signature (signature, r, &r_len, s, &s_len);
      if (high == NULL && r_len == 33)
        {
          memcpy (hr, r, 33), memcpy (hs, s, s_len);
          hr_len = r_len, hs_len = s_len;
          high = g_steal_pointer (&signature);
        }
      else if (low == NULL && r_len == 32 && r[0] != 0)
        {
          memcpy (lr, r, 32), memcpy (ls, s, s_len);
          lr_len = r_len, ls_len = s_len;
          low = g_steal_pointer (&signature);
        }
    }

  /* the builder itself makes what verify() accepts */
  {
    g_autofree char *a = make_signature (hr, hr_len, hs, hs_len);
    g_autofree char *b = make_signature (lr, lr_len, ls, ls_len);

    g_assert_cmpstr (a, ==, high);
    g_assert_cmpstr (b, ==, low);
    g_assert_true (assay_key_verify (key, message, strlen (message), a, &error));
    g_assert_no_error (error);
    g_assert_true (assay_key_verify (key, message, strlen (message), b, &error));
    g_assert_no_error (error);
  }

  /* a non-minimal r: a leading zero that is not needed, or two zeros */
  {
    g_autofree char *sig = NULL;

    buf[0] = 0x00;
    memcpy (buf + 1, lr, 32);
    sig = make_signature (buf, 33, ls, ls_len);
    assert_rejected (key, "non-minimal r", sig);
    g_clear_pointer (&sig, g_free);

    buf[0] = 0x00;
    memcpy (buf + 1, hr, 33);
    sig = make_signature (buf, 34, hs, hs_len);
    assert_rejected (key, "two leading zeros", sig);
  }

  /* a negative r: the needed leading zero left out */
  {
    g_autofree char *sig = make_signature (hr + 1, 32, hs, hs_len);

    assert_rejected (key, "negative r", sig);
  }

  /* a zero r or s, and r or s equal to n, n + 1, 2^256 - 1 */
  {
    const guint8 zero = 0;
    g_autofree char *s0 = make_signature (lr, lr_len, &zero, 1);
    g_autofree char *r0 = make_signature (&zero, 1, ls, ls_len);
    g_autofree char *empty_s = make_signature (lr, lr_len, NULL, 0);
    g_autofree char *sn = NULL, *rn = NULL, *sn1 = NULL, *smax = NULL;

    assert_rejected (key, "s = 0", s0);
    assert_rejected (key, "r = 0", r0);
    assert_rejected (key, "empty s", empty_s);

    buf[0] = 0x00;
    memcpy (buf + 1, p256_order, 32);
    sn = make_signature (lr, lr_len, buf, 33);
    rn = make_signature (buf, 33, ls, ls_len);
    assert_rejected (key, "s = n", sn);
    assert_rejected (key, "r = n", rn);
    buf[32]++;
    sn1 = make_signature (lr, lr_len, buf, 33);
    assert_rejected (key, "s = n + 1", sn1);
    memset (buf + 1, 0xff, 32);
    smax = make_signature (lr, lr_len, buf, 33);
    assert_rejected (key, "s = 2^256 - 1", smax);
  }

  /* 33 content bytes without a leading zero: more than 256 bits */
  {
    g_autofree char *sig = NULL;

    buf[0] = 0x01;
    memcpy (buf + 1, lr, 32);
    sig = make_signature (buf, 33, ls, ls_len);
    assert_rejected (key, "r of 257 bits", sig);
  }

  /* lengths: long form where short applies, wrong, indefinite; trailing bytes */
  {
    g_autofree guint8 *der = NULL;
    gsize len = 0;
    g_autoptr(GByteArray) v = g_byte_array_new ();
    g_autofree char *hex = NULL;

    der = assay_hex_decode (low, &len);

    /* SEQUENCE with 0x81 L */
    g_byte_array_append (v, (const guint8 *) "\x30\x81", 2);
    g_byte_array_append (v, der + 1, len - 1);
    hex = assay_hex_encode (v->data, v->len);
    assert_rejected (key, "long-form sequence length", hex);
    g_clear_pointer (&hex, g_free);

    /* INTEGER r with 0x81 0x20 */
    g_byte_array_set_size (v, 0);
    g_byte_array_append (v, (const guint8 *) "\x30", 1);
    g_byte_array_append (v, &(guint8){ der[1] + 1 }, 1);
    g_byte_array_append (v, (const guint8 *) "\x02\x81\x20", 3);
    g_byte_array_append (v, der + 4, len - 4);
    hex = assay_hex_encode (v->data, v->len);
    assert_rejected (key, "long-form integer length", hex);
    g_clear_pointer (&hex, g_free);

    /* indefinite length */
    g_byte_array_set_size (v, 0);
    g_byte_array_append (v, (const guint8 *) "\x30\x80", 2);
    g_byte_array_append (v, der + 2, len - 2);
    g_byte_array_append (v, (const guint8 *) "\x00\x00", 2);
    hex = assay_hex_encode (v->data, v->len);
    assert_rejected (key, "indefinite length", hex);
    g_clear_pointer (&hex, g_free);

    /* sequence length one more and one less than the content */
    for (int delta = -1; delta <= 1; delta += 2)
      {
        der[1] += delta;
        hex = assay_hex_encode (der, len);
        der[1] -= delta;
        assert_rejected (key, "wrong sequence length", hex);
        g_clear_pointer (&hex, g_free);
      }
    /* r length one more and one less */
    for (int delta = -1; delta <= 1; delta += 2)
      {
        der[3] += delta;
        hex = assay_hex_encode (der, len);
        der[3] -= delta;
        assert_rejected (key, "wrong integer length", hex);
        g_clear_pointer (&hex, g_free);
      }

    /* a byte after the sequence; a byte inside it after s */
    hex = g_strconcat (low, "00", NULL);
    assert_rejected (key, "trailing byte", hex);
    g_clear_pointer (&hex, g_free);
    g_byte_array_set_size (v, 0);
    g_byte_array_append (v, der, len);
    g_byte_array_append (v, (const guint8 *) "\x00", 1);
    v->data[1]++;
    hex = assay_hex_encode (v->data, v->len);
    assert_rejected (key, "trailing byte inside the sequence", hex);
    g_clear_pointer (&hex, g_free);

    /* wrong tags */
    der[0] = 0x31;
    hex = assay_hex_encode (der, len);
    der[0] = 0x30;
    assert_rejected (key, "SET instead of SEQUENCE", hex);
    g_clear_pointer (&hex, g_free);
    der[2] = 0x03;
    hex = assay_hex_encode (der, len);
    der[2] = 0x02;
    assert_rejected (key, "BIT STRING instead of INTEGER", hex);
    g_clear_pointer (&hex, g_free);
  }

  /* not a signature at all, or not strict lowercase hex */
  {
    g_autofree char *upper = g_ascii_strup (low, -1);
    g_autofree char *odd = g_strndup (low, strlen (low) - 1);
    g_autofree char *spaced = g_strconcat (" ", low, NULL);
    g_autofree char *huge = g_strnfill (2 * 73, '0');
    const char *junk[] = { "", "30", "3000", "3003020101", "300602010102010", "zz",
                           "3006020101020101" };

    if (strcmp (upper, low) != 0)
      assert_rejected (key, "uppercase hex", upper);
    assert_rejected (key, "odd hex length", odd);
    assert_rejected (key, "leading space", spaced);
    assert_rejected (key, "too long", huge);
    for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
      assert_rejected (key, "junk", junk[i]);
  }

  g_assert_finalize_object (g_steal_pointer (&key));
}

static char *
read_data (const char *name)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (g_test_get_filename (G_TEST_DIST, "data", "keys", name, NULL), &contents,
                       NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static void
assert_pem_rejected (const char *what,
                     const char *pem,
                     gssize      len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = NULL;

  g_test_message ("%s", what);
  key = assay_key_new_from_pem (pem, len, &error);
  g_assert_null (key);
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY);
  g_test_message ("→ %s", error->message);
}

static void
test_key_pem_fixtures (void)
{
  const char *good[] = { "key-p256-pkcs8.pem", "key-p256-sec1.pem" };
  const char *bad[] = { "key-p256-encrypted.pem", "key-p256-public.pem", "key-p384.pem",
                        "key-secp256k1.pem", "key-rsa.pem", "key-ed25519.pem" };
  g_autofree char *client_id = read_data ("key-p256.client-id");

  g_strstrip (client_id);
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *pem = read_data (good[i]);
      g_autoptr(AssayKey) key = assay_key_new_from_pem (pem, -1, &error);

      g_test_message ("%s", good[i]);
      g_assert_no_error (error);
      /* OpenSSL's idea of the public key is ours */
      g_assert_cmpstr (assay_key_get_client_id (key), ==, client_id);
      g_assert_finalize_object (g_steal_pointer (&key));
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *pem = read_data (bad[i]);

      assert_pem_rejected (bad[i], pem, -1);
    }

  /* the message says what is wrong */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *pem = read_data ("key-p384.pem");

    g_assert_null (assay_key_new_from_pem (pem, -1, &error));
    g_assert_nonnull (strstr (error->message, "PKCS#8 PEM P-256 private key"));
    g_assert_nonnull (strstr (error->message, "SECP384R1"));
    g_clear_error (&error);
    g_clear_pointer (&pem, g_free);
    pem = read_data ("key-p256-encrypted.pem");
    g_assert_null (assay_key_new_from_pem (pem, -1, &error));
    g_assert_nonnull (strstr (error->message, "encrypted"));
  }
}

/* The DER inside a PEM, to edit, and back. */
static guint8 *
pem_to_der (const char *pem,
            gsize      *len)
{
  g_autoptr(GString) body = g_string_new (NULL);
  g_auto(GStrv) lines = g_strsplit (pem, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (!g_str_has_prefix (lines[i], "-----"))
      g_string_append (body, lines[i]);
  return g_base64_decode (body->str, len);
}

static char *
der_to_pem (const guint8 *der,
            gsize         len)
{
  g_autofree char *b64 = g_base64_encode (der, len);

  return g_strdup_printf ("-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
}

static void
test_key_pem_garbage (void)
{
  g_autofree char *pem = read_data ("key-p256-pkcs8.pem");
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autofree guint8 *der = NULL;
  gsize len = 0;
  const guint8 *scalar_at = NULL;
  const char *junk[] = {
    "",
    "hello",
    "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
    "-----END PRIVATE KEY-----\n",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
    assert_pem_rejected (junk[i], junk[i], -1);

  /* without its END line */
  assert_pem_rejected ("cut", pem, strlen (pem) - 30);

  der = pem_to_der (pem, &len);
  /* OpenSSL's PKCS#8 ends with the 65-byte public key; the scalar follows 04 20 */
  g_assert_cmpuint (len, >, 65);
  for (gsize i = 0; i + 34 < len; i++)
    if (der[i] == 0x04 && der[i + 1] == 0x20)
      {
        scalar_at = der + i + 2;
        break;
      }
  g_assert_nonnull (scalar_at);

  /* a public key that is another key's */
  {
    g_autofree guint8 *copy = g_memdup2 (der, len);
    g_autofree char *edited = NULL;

    memcpy (copy + len - 65, assay_key_get_public_point (other), 65);
    edited = der_to_pem (copy, len);
    assert_pem_rejected ("mismatched public key", edited, -1);
  }
  /* a public key off the curve */
  {
    g_autofree guint8 *copy = g_memdup2 (der, len);
    g_autofree char *edited = NULL;

    copy[len - 1] ^= 0x01;
    edited = der_to_pem (copy, len);
    assert_pem_rejected ("public key off the curve", edited, -1);
  }
  /* a scalar of 0, and of n */
  {
    g_autofree guint8 *copy = g_memdup2 (der, len);
    g_autofree char *edited = NULL;
    gsize at = scalar_at - der;

    memset (copy + at, 0, 32);
    edited = der_to_pem (copy, len);
    assert_pem_rejected ("scalar 0", edited, -1);
    g_clear_pointer (&edited, g_free);
    memcpy (copy + at, p256_order, 32);
    edited = der_to_pem (copy, len);
    assert_pem_rejected ("scalar n", edited, -1);
  }
  /* the untouched DER still loads: the edits above are what was refused */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *same = der_to_pem (der, len);
    g_autoptr(AssayKey) key = assay_key_new_from_pem (same, -1, &error);

    g_assert_no_error (error);
    g_assert_finalize_object (g_steal_pointer (&key));
  }

  g_assert_finalize_object (g_steal_pointer (&other));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/key/vectors", test_key_vectors);
  g_test_add_func ("/common/key/generate-sign-verify", test_key_generate_sign_verify);
  g_test_add_func ("/common/key/pem-round-trip", test_key_pem_round_trip);
  g_test_add_func ("/common/key/public-only", test_key_public_only);
  g_test_add_func ("/common/key/client-id", test_key_client_id);
  g_test_add_func ("/common/key/der-strict", test_key_der_strict);
  g_test_add_func ("/common/key/pem-fixtures", test_key_pem_fixtures);
  g_test_add_func ("/common/key/pem-garbage", test_key_pem_garbage);

  return g_test_run ();
}
