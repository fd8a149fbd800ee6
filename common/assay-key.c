/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-key.h"
#include "assay-key-private.h"
#include "assay-id.h"
#include "assay-util.h"

#include <string.h>

#include <gmp.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/bignum.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <nettle/sha2.h>

/* Size of one P-256 coordinate, scalar or signature half. */
#define COORD_SIZE 32

/* The order n of the P-256 group, big-endian (SEC 2, 2.4.2). */
static const guint8 p256_order[COORD_SIZE] = {
  0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

struct _AssayKey
{
  GObject parent_instance;

  struct ecc_point public;
  struct ecc_scalar private;
  gboolean has_private;

  guint8 point[ASSAY_KEY_POINT_SIZE];
  char *client_id;
};

G_DEFINE_FINAL_TYPE (AssayKey, assay_key, G_TYPE_OBJECT)

G_DEFINE_QUARK (assay-key-error-quark, assay_key_error)

/* Wipes all the limbs GMP allocated for @z (not only the used ones), then frees them. */
static void
mpz_wipe_clear (mpz_ptr z)
{
  explicit_bzero (z->_mp_d, (gsize) z->_mp_alloc * sizeof (mp_limb_t));
  mpz_clear (z);
}

static void
scalar_wipe_clear (struct ecc_scalar *s)
{
  explicit_bzero (s->p, (gsize) ecc_size (s->ecc) * sizeof (mp_limb_t));
  ecc_scalar_clear (s);
}

/* A point is two coordinates; the ECDH product is as secret as the shared key. */
static void
point_wipe_clear (struct ecc_point *p)
{
  explicit_bzero (p->p, (gsize) ecc_size_a (p->ecc) * sizeof (mp_limb_t));
  ecc_point_clear (p);
}

static void
random_cb (void    *ctx,
           size_t   len,
           uint8_t *dst)
{
  assay_random_bytes (dst, len);
}

static void
assay_key_finalize (GObject *object)
{
  AssayKey *self = ASSAY_KEY (object);

  scalar_wipe_clear (&self->private);
  ecc_point_clear (&self->public);
  g_clear_pointer (&self->client_id, g_free);

  G_OBJECT_CLASS (assay_key_parent_class)->finalize (object);
}

static void
assay_key_class_init (AssayKeyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = assay_key_finalize;
}

static void
assay_key_init (AssayKey *self)
{
  ecc_point_init (&self->public, nettle_get_secp_256r1 ());
  ecc_scalar_init (&self->private, nettle_get_secp_256r1 ());
}

/* Fills the SEC1 encoding and the client id from self->public. */
static void
key_set_public_encoding (AssayKey *self)
{
  g_autofree char *hex = NULL;
  mpz_t x, y;

  mpz_init (x);
  mpz_init (y);
  ecc_point_get (&self->public, x, y);
  self->point[0] = 0x04;
  nettle_mpz_get_str_256 (COORD_SIZE, self->point + 1, x);
  nettle_mpz_get_str_256 (COORD_SIZE, self->point + 1 + COORD_SIZE, y);
  mpz_clear (x);
  mpz_clear (y);

  hex = assay_hex_encode (self->point, sizeof self->point);
  g_clear_pointer (&self->client_id, g_free);
  self->client_id = g_strconcat ("client-", hex, NULL);
}

/* Sets @point from a SEC1 uncompressed encoding; FALSE when it is not a point of P-256. */
static gboolean
point_set_from_bytes (struct ecc_point *point,
                      const guint8     *bytes)
{
  mpz_t x, y;
  gboolean ok;

  if (bytes[0] != 0x04)
    return FALSE;

  mpz_init (x);
  mpz_init (y);
  nettle_mpz_set_str_256_u (x, COORD_SIZE, bytes + 1);
  nettle_mpz_set_str_256_u (y, COORD_SIZE, bytes + 1 + COORD_SIZE);
  /* ecc_point_set checks 0 <= x, y < p and the curve equation. */
  ok = ecc_point_set (point, x, y) != 0;
  mpz_clear (x);
  mpz_clear (y);

  return ok;
}

/* Sets the private scalar from @len big-endian bytes and derives the public point.
 * FALSE when the value is not in [1, n-1]. */
static gboolean
key_set_private_from_bytes (AssayKey     *self,
                            const guint8 *bytes,
                            gsize         len)
{
  mpz_t k;
  gboolean ok;

  mpz_init2 (k, 8 * MAX (len, COORD_SIZE) + GMP_NUMB_BITS);
  nettle_mpz_set_str_256_u (k, len, bytes);
  ok = ecc_scalar_set (&self->private, k) != 0;
  mpz_wipe_clear (k);
  if (!ok)
    return FALSE;

  ecc_point_mul_g (&self->public, &self->private);
  self->has_private = TRUE;
  key_set_public_encoding (self);

  return TRUE;
}

/**
 * assay_key_generate:
 * Returns: (transfer full): a fresh P-256 key pair drawn from the kernel's CSPRNG.
 */
AssayKey *
assay_key_generate (void)
{
  g_autoptr(AssayKey) self = g_object_new (ASSAY_TYPE_KEY, NULL);

  ecdsa_generate_keypair (&self->public, &self->private, NULL, random_cb);
  self->has_private = TRUE;
  key_set_public_encoding (self);

  return g_steal_pointer (&self);
}

static void
datum_wipe_free (gnutls_datum_t *d)
{
  if (d->data != NULL)
    {
      explicit_bzero (d->data, d->size);
      gnutls_free (d->data);
    }
  d->data = NULL;
  d->size = 0;
}

static gboolean
set_invalid_pem_error (GError     **error,
                       const char  *why)
{
  g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY,
               "The key is not a PKCS#8 PEM P-256 private key (%s); make one with "
               "“openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256”",
               why);
  return FALSE;
}

/* Loads @pem into @self with GnuTLS, which parses the ASN.1; the scalar is then checked
 * by nettle and the public key derived from it. */
static gboolean
key_load_pem (AssayKey    *self,
              const char  *pem,
              gsize        len,
              GError     **error)
{
  gnutls_x509_privkey_t privkey = NULL;
  gnutls_datum_t data = { (unsigned char *) pem, (unsigned int) len };
  gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 }, k = { NULL, 0 };
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gboolean is_pkcs8;
  gboolean ok = FALSE;
  int ret;

  if (len > G_MAXUINT32)
    return set_invalid_pem_error (error, "it is far too long");
  if (g_strstr_len (pem, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL)
    return set_invalid_pem_error (error, "it is encrypted; decrypt it first with "
                                         "“openssl pkcs8 -topk8 -nocrypt”");
  is_pkcs8 = g_strstr_len (pem, len, "-----BEGIN PRIVATE KEY-----") != NULL;
  if (!is_pkcs8 && g_strstr_len (pem, len, "-----BEGIN EC PRIVATE KEY-----") == NULL)
    return set_invalid_pem_error (error, "no “BEGIN PRIVATE KEY” block");

  ret = gnutls_x509_privkey_init (&privkey);
  if (ret < 0)
    g_error ("gnutls_x509_privkey_init: %s", gnutls_strerror (ret));

  if (is_pkcs8)
    ret = gnutls_x509_privkey_import_pkcs8 (privkey, &data, GNUTLS_X509_FMT_PEM, NULL,
                                            GNUTLS_PKCS_PLAIN);
  else
    ret = gnutls_x509_privkey_import (privkey, &data, GNUTLS_X509_FMT_PEM);
  if (ret < 0)
    {
      g_autofree char *why = g_strdup_printf ("GnuTLS cannot read it: %s", gnutls_strerror (ret));
      set_invalid_pem_error (error, why);
      goto out;
    }

  if (gnutls_x509_privkey_get_pk_algorithm (privkey) != GNUTLS_PK_ECDSA)
    {
      set_invalid_pem_error (error, "it is not an elliptic curve key");
      goto out;
    }

  ret = gnutls_x509_privkey_export_ecc_raw (privkey, &curve, &x, &y, &k);
  if (ret < 0)
    {
      set_invalid_pem_error (error, gnutls_strerror (ret));
      goto out;
    }
  if (curve != GNUTLS_ECC_CURVE_SECP256R1)
    {
      g_autofree char *why = g_strdup_printf ("its curve is %s, not SECP256R1",
                                              gnutls_ecc_curve_get_name (curve) != NULL
                                                  ? gnutls_ecc_curve_get_name (curve)
                                                  : "unknown");
      set_invalid_pem_error (error, why);
      goto out;
    }

  if (!key_set_private_from_bytes (self, k.data, k.size))
    {
      set_invalid_pem_error (error, "its private scalar is out of range");
      goto out;
    }

  /* A public key stored beside the scalar must be the one the scalar makes. */
  if (x.size > 0 || y.size > 0)
    {
      mpz_t px, py, qx, qy;
      gboolean same;

      mpz_inits (px, py, qx, qy, NULL);
      nettle_mpz_set_str_256_u (px, x.size, x.data);
      nettle_mpz_set_str_256_u (py, y.size, y.data);
      ecc_point_get (&self->public, qx, qy);
      same = mpz_cmp (px, qx) == 0 && mpz_cmp (py, qy) == 0;
      mpz_clears (px, py, qx, qy, NULL);
      if (!same)
        {
          set_invalid_pem_error (error, "its public key does not match its private key");
          goto out;
        }
    }

  ok = TRUE;

out:
  datum_wipe_free (&k);
  datum_wipe_free (&x);
  datum_wipe_free (&y);
  gnutls_x509_privkey_deinit (privkey);

  return ok;
}

/**
 * assay_key_new_from_pem:
 * @pem: a PKCS#8 PEM private key (`BEGIN PRIVATE KEY`) or a SEC1 one
 *   (`BEGIN EC PRIVATE KEY`), unencrypted
 * @len: the length of @pem, or -1 when it is nul-terminated
 *
 * Returns: (transfer full) (nullable): the key pair, or %NULL with
 * %ASSAY_KEY_ERROR_INVALID_KEY when @pem is not an unencrypted P-256 private key.
 */
AssayKey *
assay_key_new_from_pem (const char  *pem,
                        gssize       len,
                        GError     **error)
{
  g_autoptr(AssayKey) self = NULL;

  g_return_val_if_fail (pem != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (ASSAY_TYPE_KEY, NULL);
  if (!key_load_pem (self, pem, len < 0 ? strlen (pem) : (gsize) len, error))
    return NULL;

  return g_steal_pointer (&self);
}

/**
 * assay_key_new_from_client_id:
 * @client_id: `client-04` followed by the lowercase hex of the point's coordinates
 *
 * Returns: (transfer full) (nullable): a public-only key, or %NULL with
 * %ASSAY_KEY_ERROR_INVALID_KEY when @client_id is malformed or not a point of P-256.
 */
AssayKey *
assay_key_new_from_client_id (const char  *client_id,
                              GError     **error)
{
  g_autoptr(AssayKey) self = NULL;
  guint8 point[ASSAY_KEY_POINT_SIZE];

  g_return_val_if_fail (client_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!assay_client_id_is_valid (client_id) ||
      !assay_hex_decode_into (client_id + strlen ("client-"), point, sizeof point))
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY,
                   "“%.*s” is not a client id: it must be “client-04” followed by 128 "
                   "lowercase hex digits",
                   (int) MIN (strlen (client_id), 160), client_id);
      return NULL;
    }

  self = g_object_new (ASSAY_TYPE_KEY, NULL);
  if (!point_set_from_bytes (&self->public, point))
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY,
                   "The client id “%s” is not a point of the P-256 curve; it was not made "
                   "from a P-256 key",
                   client_id);
      return NULL;
    }
  memcpy (self->point, point, sizeof point);
  self->client_id = g_strdup (client_id);

  return g_steal_pointer (&self);
}

static gboolean
check_private (AssayKey    *self,
               const char  *what,
               GError     **error)
{
  if (self->has_private)
    return TRUE;

  g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY,
               "Cannot %s with the key of %s: only its public key is known; load the "
               "private key (PEM) instead",
               what, self->client_id);
  return FALSE;
}

/* The private scalar as COORD_SIZE big-endian bytes into @out, which the caller wipes. */
static void
key_get_scalar_bytes (AssayKey *self,
                      guint8   *out)
{
  mpz_t k;

  mpz_init2 (k, 8 * COORD_SIZE + GMP_NUMB_BITS);
  ecc_scalar_get (&self->private, k);
  nettle_mpz_get_str_256 (COORD_SIZE, out, k);
  mpz_wipe_clear (k);
}

/**
 * assay_key_to_pem:
 *
 * Returns: (transfer full) (nullable): the private key as unencrypted PKCS#8 PEM, or
 * %NULL with %ASSAY_KEY_ERROR_NO_PRIVATE_KEY for a public-only key. The caller should
 * wipe it (assay_wipe()) before freeing it.
 */
char *
assay_key_to_pem (AssayKey  *self,
                  GError   **error)
{
  gnutls_x509_privkey_t privkey = NULL;
  guint8 scalar[COORD_SIZE];
  gnutls_datum_t x = { self->point + 1, COORD_SIZE };
  gnutls_datum_t y = { self->point + 1 + COORD_SIZE, COORD_SIZE };
  gnutls_datum_t k = { scalar, COORD_SIZE };
  gnutls_datum_t out = { NULL, 0 };
  char *pem;
  int ret;

  g_return_val_if_fail (ASSAY_IS_KEY (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_private (self, "export a private key", error))
    return NULL;

  ret = gnutls_x509_privkey_init (&privkey);
  if (ret < 0)
    g_error ("gnutls_x509_privkey_init: %s", gnutls_strerror (ret));

  key_get_scalar_bytes (self, scalar);
  ret = gnutls_x509_privkey_import_ecc_raw (privkey, GNUTLS_ECC_CURVE_SECP256R1, &x, &y, &k);
  explicit_bzero (scalar, sizeof scalar);
  if (ret >= 0)
    ret = gnutls_x509_privkey_export2_pkcs8 (privkey, GNUTLS_X509_FMT_PEM, NULL,
                                             GNUTLS_PKCS_PLAIN, &out);
  gnutls_x509_privkey_deinit (privkey);
  /* Both calls only fail on memory exhaustion: the key is valid by construction. */
  if (ret < 0)
    g_error ("Cannot write a PKCS#8 private key: %s", gnutls_strerror (ret));

  pem = g_strndup ((const char *) out.data, out.size);
  datum_wipe_free (&out);

  return pem;
}

/**
 * assay_key_get_client_id:
 *
 * Returns: `client-04…`, the lowercase hex of the SEC1 uncompressed public key.
 */
const char *
assay_key_get_client_id (AssayKey *self)
{
  g_return_val_if_fail (ASSAY_IS_KEY (self), NULL);

  return self->client_id;
}

/**
 * assay_key_get_public_point:
 *
 * Returns: (array fixed-size=65): the SEC1 uncompressed public key, 0x04 ‖ X ‖ Y.
 */
const guint8 *
assay_key_get_public_point (AssayKey *self)
{
  g_return_val_if_fail (ASSAY_IS_KEY (self), NULL);

  return self->point;
}

gboolean
assay_key_has_private (AssayKey *self)
{
  g_return_val_if_fail (ASSAY_IS_KEY (self), FALSE);

  return self->has_private;
}

/**
 * assay_key_dup_scalar_hex:
 *
 * Returns: (transfer full) (nullable): the private scalar as 64 lowercase hex digits,
 * for tests and diagnostics; the caller wipes it. %NULL with
 * %ASSAY_KEY_ERROR_NO_PRIVATE_KEY for a public-only key.
 */
char *
assay_key_dup_scalar_hex (AssayKey  *self,
                          GError   **error)
{
  guint8 scalar[COORD_SIZE];
  char *hex;

  g_return_val_if_fail (ASSAY_IS_KEY (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_private (self, "read the private scalar", error))
    return NULL;

  key_get_scalar_bytes (self, scalar);
  hex = assay_hex_encode (scalar, sizeof scalar);
  explicit_bzero (scalar, sizeof scalar);

  return hex;
}

/* DER: an INTEGER of the signature, as at most 33 content bytes. */
static void
der_append_integer (GByteArray  *der,
                    const mpz_t  value)
{
  guint8 buf[COORD_SIZE];
  gsize start = 0;
  guint8 header[3] = { 0x02, 0, 0 };
  gsize header_len = 2;

  nettle_mpz_get_str_256 (COORD_SIZE, buf, value);
  while (start < COORD_SIZE - 1 && buf[start] == 0)
    start++;
  header[1] = (guint8) (COORD_SIZE - start);
  if (buf[start] & 0x80)
    {
      /* A leading zero keeps the integer positive. */
      header[1]++;
      header_len++;
    }
  g_byte_array_append (der, header, header_len);
  g_byte_array_append (der, buf + start, COORD_SIZE - start);
}

static char *
signature_to_hex (const struct dsa_signature *signature)
{
  g_autoptr(GByteArray) der = g_byte_array_sized_new (72);
  guint8 seq[2] = { 0x30, 0 };

  g_byte_array_append (der, seq, sizeof seq);
  der_append_integer (der, signature->r);
  der_append_integer (der, signature->s);
  g_assert (der->len - 2 < 0x80);
  der->data[1] = (guint8) (der->len - 2);

  return assay_hex_encode (der->data, der->len);
}

/**
 * assay_key_sign:
 * Signs SHA-256(@message) with ECDSA.
 *
 * Returns: (transfer full) (nullable): the lowercase hex of the DER signature
 * (`SEQUENCE { INTEGER r, INTEGER s }`), or %NULL with %ASSAY_KEY_ERROR_NO_PRIVATE_KEY.
 */
char *
assay_key_sign (AssayKey    *self,
                const char  *message,
                gsize        len,
                GError     **error)
{
  struct sha256_ctx sha;
  guint8 digest[SHA256_DIGEST_SIZE];
  struct dsa_signature signature;
  char *hex;

  g_return_val_if_fail (ASSAY_IS_KEY (self), NULL);
  g_return_val_if_fail (message != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_private (self, "sign", error))
    return NULL;

  sha256_init (&sha);
  sha256_update (&sha, len, (const guint8 *) message);
  sha256_digest (&sha, sizeof digest, digest);

  dsa_signature_init (&signature);
  ecdsa_sign (&self->private, NULL, random_cb, sizeof digest, digest, &signature);
  hex = signature_to_hex (&signature);
  dsa_signature_clear (&signature);

  return hex;
}

/* Reads one DER INTEGER at *@pos of @der into a COORD_SIZE big-endian @out. Strict:
 * short-form length, minimal encoding, positive, and 0 < value < n. */
static gboolean
der_read_integer (const guint8 *der,
                  gsize         der_len,
                  gsize        *pos,
                  guint8       *out)
{
  const guint8 *content;
  gsize len;

  if (der_len - *pos < 2 || der[*pos] != 0x02)
    return FALSE;
  len = der[*pos + 1];
  if (len & 0x80) /* long form is never minimal for an integer of at most 33 bytes */
    return FALSE;
  *pos += 2;
  if (len == 0 || len > der_len - *pos)
    return FALSE;
  content = der + *pos;
  *pos += len;

  if (content[0] & 0x80) /* negative */
    return FALSE;
  if (content[0] == 0x00 && len > 1)
    {
      if (!(content[1] & 0x80)) /* a leading zero that is not needed */
        return FALSE;
      content++;
      len--;
    }
  if (len > COORD_SIZE)
    return FALSE;

  memset (out, 0, COORD_SIZE);
  memcpy (out + COORD_SIZE - len, content, len);

  /* 0 < value < n */
  for (gsize i = 0; i < COORD_SIZE; i++)
    if (out[i] != 0)
      return memcmp (out, p256_order, COORD_SIZE) < 0;
  return FALSE;
}

/* Parses the strict DER of an ECDSA-P256 signature: `SEQUENCE { INTEGER r, INTEGER s }`
 * with definite short-form lengths that match exactly and nothing after it. */
static gboolean
signature_from_der (const guint8         *der,
                    gsize                 der_len,
                    struct dsa_signature *signature)
{
  guint8 r[COORD_SIZE], s[COORD_SIZE];
  gsize pos = 2;

  if (der_len < 2 || der[0] != 0x30 || (der[1] & 0x80) || der[1] != der_len - 2)
    return FALSE;
  if (!der_read_integer (der, der_len, &pos, r) || !der_read_integer (der, der_len, &pos, s))
    return FALSE;
  if (pos != der_len)
    return FALSE;

  nettle_mpz_set_str_256_u (signature->r, COORD_SIZE, r);
  nettle_mpz_set_str_256_u (signature->s, COORD_SIZE, s);

  return TRUE;
}

/**
 * assay_key_verify:
 * @signature_hex: lowercase hex of the DER signature, as assay_key_sign() writes it
 *
 * Checks an ECDSA-P256-SHA256 signature over @message by this key's public key.
 *
 * Returns: %TRUE when it verifies; otherwise %FALSE with
 * %ASSAY_KEY_ERROR_BAD_SIGNATURE.
 */
gboolean
assay_key_verify (AssayKey    *self,
                  const char  *message,
                  gsize        len,
                  const char  *signature_hex,
                  GError     **error)
{
  struct sha256_ctx sha;
  guint8 digest[SHA256_DIGEST_SIZE];
  struct dsa_signature signature;
  g_autofree guint8 *der = NULL;
  gsize der_len = 0;
  gboolean ok;

  g_return_val_if_fail (ASSAY_IS_KEY (self), FALSE);
  g_return_val_if_fail (message != NULL || len == 0, FALSE);
  g_return_val_if_fail (signature_hex != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* 72 bytes is the longest DER signature of P-256. */
  if (strlen (signature_hex) > 2 * 72 ||
      (der = assay_hex_decode (signature_hex, &der_len)) == NULL)
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_BAD_SIGNATURE,
                   "The signature is not lowercase hex of at most 72 bytes");
      return FALSE;
    }

  dsa_signature_init (&signature);
  if (!signature_from_der (der, der_len, &signature))
    {
      dsa_signature_clear (&signature);
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_BAD_SIGNATURE,
                   "The signature is not the strict DER of an ECDSA P-256 signature "
                   "(SEQUENCE of two minimal positive INTEGERs below the group order)");
      return FALSE;
    }

  sha256_init (&sha);
  sha256_update (&sha, len, (const guint8 *) message);
  sha256_digest (&sha, sizeof digest, digest);
  ok = ecdsa_verify (&self->public, sizeof digest, digest, &signature) != 0;
  dsa_signature_clear (&signature);

  if (!ok)
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_BAD_SIGNATURE,
                   "The signature does not match the message for %s: the message was "
                   "changed or signed by another key",
                   self->client_id);
      return FALSE;
    }

  return TRUE;
}

/**
 * _assay_key_ecdh:
 * @peer_point: a SEC1 uncompressed point (ASSAY_KEY_POINT_SIZE bytes)
 * @shared: (out caller-allocates): ASSAY_KEY_SHARED_SIZE bytes, the big-endian
 *   x-coordinate of private × peer; the caller wipes it
 *
 * Returns: %FALSE with %ASSAY_KEY_ERROR_DECRYPT_FAILED when @peer_point is not on
 * P-256, or %ASSAY_KEY_ERROR_NO_PRIVATE_KEY.
 */
gboolean
_assay_key_ecdh (AssayKey     *self,
                 const guint8 *peer_point,
                 guint8       *shared,
                 GError      **error)
{
  struct ecc_point peer, product;
  mpz_t x, y;

  g_return_val_if_fail (ASSAY_IS_KEY (self), FALSE);

  if (!check_private (self, "decrypt", error))
    return FALSE;

  ecc_point_init (&peer, nettle_get_secp_256r1 ());
  if (!point_set_from_bytes (&peer, peer_point))
    {
      ecc_point_clear (&peer);
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_DECRYPT_FAILED,
                   "The payload’s ephemeral key is not a point of P-256: the payload is "
                   "corrupt");
      return FALSE;
    }

  /* The group has prime order and the scalar is in [1, n-1]: never the infinity point. */
  ecc_point_init (&product, nettle_get_secp_256r1 ());
  ecc_point_mul (&product, &self->private, &peer);
  ecc_point_clear (&peer);

  mpz_init2 (x, 8 * COORD_SIZE + GMP_NUMB_BITS);
  mpz_init2 (y, 8 * COORD_SIZE + GMP_NUMB_BITS);
  ecc_point_get (&product, x, y);
  point_wipe_clear (&product);
  nettle_mpz_get_str_256 (ASSAY_KEY_SHARED_SIZE, shared, x);
  mpz_wipe_clear (x);
  mpz_wipe_clear (y);

  return TRUE;
}
