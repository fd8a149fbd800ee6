/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>

#include "assay-credentials.h"

G_BEGIN_DECLS

/*
 * AWS Signature Version 4, header form (the Authorization header).
 *
 * The low-level signer works on a plain description of a request, so that it can be
 * checked against the AWS test suite byte for byte; assay_sigv4_sign_message() is what
 * the clients use on a SoupMessage.
 */

#define ASSAY_SIGV4_ERROR (assay_sigv4_error_quark ())

typedef enum
{
  ASSAY_SIGV4_ERROR_INVALID, /* a request that cannot be signed (no host, a bad header) */
} AssaySigv4Error;

GQuark assay_sigv4_error_quark (void);

/* The hex SHA-256 of the empty string, the payload hash of a request without a body. */
#define ASSAY_SIGV4_EMPTY_PAYLOAD_HASH \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ASSAY_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef struct
{
  const char *name;
  const char *value; /* as sent; may hold folded lines ("a\n  b"), canonicalised to "a b" */
} AssaySigv4Header;

typedef struct
{
  const char             *method;
  const char             *path;           /* as on the wire (percent-encoded), no query */
  const char             *query;          /* as on the wire, without '?'; NULL or "" for none */
  const AssaySigv4Header *headers;        /* the request's headers in order, Host included */
  gsize                   n_headers;
  const char             *payload_hash;   /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
  AssayCredentials       *credentials;    /* the session token, if any, is sent and signed */
  const char             *region;
  const char             *service;
  GDateTime              *time;           /* the signing time (converted to UTC) */
  gboolean                normalize_path; /* remove "." / ".." segments and empty segments */
  gboolean                double_encode_path; /* encode the wire path once more (all but S3) */
  gboolean                add_content_sha256; /* add and sign x-amz-content-sha256 (S3) */
  gboolean                omit_session_token; /* add the token after signing, unsigned */
} AssaySigv4Request;

typedef struct
{
  char  *canonical_request;
  char  *string_to_sign;
  char  *signature;      /* lowercase hex */
  char  *signed_headers; /* "host;x-amz-date" */
  char  *amz_date;       /* "20150830T123600Z" */
  char  *authorization;  /* the Authorization header's value */
  /* The headers to append to the request, in this order, as name, value, name, value…,
   * NULL-terminated: X-Amz-Security-Token (with a session token), X-Amz-Date,
   * x-amz-content-sha256 (when asked), Authorization. */
  char **added_headers;
} AssaySigv4Result;

void assay_sigv4_result_free (AssaySigv4Result *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssaySigv4Result, assay_sigv4_result_free)

/*
 * Signs @request. Input headers that the signer sets itself (Authorization, X-Amz-Date,
 * X-Amz-Security-Token, and x-amz-content-sha256 when @add_content_sha256) are ignored,
 * as are headers that proxies and the HTTP stack change (User-Agent, Connection, Expect,
 * Transfer-Encoding, X-Amzn-Trace-Id). Everything else is signed.
 */
AssaySigv4Result *assay_sigv4_sign (const AssaySigv4Request  *request,
                                    GError                  **error);

/* Helpers, exposed for the S3 client and for tests. */
char *assay_sigv4_uri_encode         (const char   *str,
                                      gssize        len,
                                      gboolean      keep_slash);
char *assay_sigv4_canonical_path     (const char   *path,
                                      gboolean      normalize,
                                      gboolean      double_encode);
char *assay_sigv4_canonical_query    (const char   *query);
char *assay_sigv4_sha256_hex         (const guint8 *data,
                                      gsize         len);

/*
 * Signs @msg in place for @service in @region at @now (UTC; the caller adds its clock
 * correction): sets Host when missing, X-Amz-Date, X-Amz-Content-Sha256 (for "s3"),
 * X-Amz-Security-Token (with a session token) and Authorization, replacing any earlier
 * signature. @payload_hash is the hex SHA-256 of the body or UNSIGNED-PAYLOAD; NULL means
 * the empty body. The path is normalised and double-encoded for every service but "s3".
 */
gboolean assay_sigv4_sign_message (SoupMessage       *msg,
                                   AssayCredentials  *creds,
                                   const char        *region,
                                   const char        *service,
                                   const char        *payload_hash,
                                   GDateTime         *now,
                                   GError           **error);

G_END_DECLS
