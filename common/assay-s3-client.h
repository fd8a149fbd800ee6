/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "assay-aws-transport.h"
#include "assay-store.h"

G_BEGIN_DECLS

/*
 * AssayS3Client: the S3 operations Assay uses on one bucket, over the REST API, sent by
 * an AssayAwsTransport (which signs, retries and corrects the clock).
 *
 * Objects are addressed path-style (http://127.0.0.1:9000/bucket/key) or virtual-host
 * style (https://bucket.s3.eu-west-1.amazonaws.com/key). Keys are URI-encoded the S3
 * way: every byte but A–Z a–z 0–9 - . _ ~ and '/' is percent-encoded.
 *
 * Every PUT carries Content-MD5, and the ETag that comes back must be the MD5 of what
 * was sent (some servers do not check Content-MD5: the client does). A GET checks the
 * bytes it wrote against the ETag when the ETag is a plain MD5.
 */

#define ASSAY_S3_ERROR (assay_s3_error_quark ())

typedef enum
{
  ASSAY_S3_ERROR_NO_SUCH_KEY,            /* NoSuchKey, or 404 on an object */
  ASSAY_S3_ERROR_NO_SUCH_BUCKET,         /* NoSuchBucket, or 404 on the bucket */
  ASSAY_S3_ERROR_ACCESS_DENIED,          /* AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
                                            expired tokens, 403: names the credentials' source */
  ASSAY_S3_ERROR_THROTTLED,              /* SlowDown, Throttling, 429/503, after every retry */
  ASSAY_S3_ERROR_CLOCK_SKEW,             /* RequestTimeTooSkewed, even after correction */
  ASSAY_S3_ERROR_INTERNAL,               /* InternalError, RequestTimeout, 5xx, after every retry */
  ASSAY_S3_ERROR_BAD_DIGEST,             /* BadDigest, InvalidDigest, XAmzContentSHA256Mismatch, or
                                            an ETag / body that is not the MD5 it should be */
  ASSAY_S3_ERROR_INVALID,                /* InvalidArgument, InvalidRequest, MalformedXML,
                                            KeyTooLongError, a bad key or name (client side) */
  ASSAY_S3_ERROR_WRONG_REGION,           /* PermanentRedirect, AuthorizationHeaderMalformed,
                                            IllegalLocationConstraint: names the bucket's region */
  ASSAY_S3_ERROR_BUCKET_EXISTS,          /* BucketAlreadyExists: someone else's */
  ASSAY_S3_ERROR_BUCKET_ALREADY_OWNED,   /* BucketAlreadyOwnedByYou */
  ASSAY_S3_ERROR_PRECONDITION_FAILED,    /* PreconditionFailed, 412 */
  ASSAY_S3_ERROR_UNSUPPORTED,            /* NotImplemented, 501 */
  ASSAY_S3_ERROR_MALFORMED,              /* an answer that is not the XML it should be */
  ASSAY_S3_ERROR_FAILED,                 /* any other error the service named */
} AssayS3Error;

GQuark          assay_s3_error_quark            (void);

/* The transport's classifier for S3 answers (a 200 with an <Error> body included). */
AssayAwsAnswer  assay_s3_classify               (SoupMessage        *message,
                                                 GBytes             *body);
/*
 * The error an answer stands for: the one place where S3's <Code> is mapped. @status is
 * the HTTP status; @body may be NULL (HEAD). @key is NULL for a bucket operation.
 * Returns NULL when the answer is a success (2xx without an <Error> body).
 */
GError         *assay_s3_error_new_from_answer  (guint               status,
                                                 SoupMessageHeaders *headers,
                                                 GBytes             *body,
                                                 const char         *credentials_source,
                                                 const char         *bucket,
                                                 const char         *key);
/* The AssayStoreError code for an error of this client (or of its transport). */
AssayStoreError assay_s3_error_to_store_error   (const GError       *error);

/* @key as it goes in a URL path: URI-encoded, '/' kept, "." and ".." segments escaped. */
char           *assay_s3_encode_key             (const char         *key);

typedef enum
{
  ASSAY_S3_ADDRESSING_AUTO,         /* path-style with an endpoint, else virtual-host */
  ASSAY_S3_ADDRESSING_PATH,         /* ENDPOINT/bucket/key */
  ASSAY_S3_ADDRESSING_VIRTUAL_HOST, /* bucket.ENDPOINT-HOST/key */
} AssayS3Addressing;

typedef enum
{
  ASSAY_S3_PUT_NONE             = 0,
  ASSAY_S3_PUT_UNSIGNED_PAYLOAD = 1 << 0, /* sign "UNSIGNED-PAYLOAD" instead of the SHA-256 */
  ASSAY_S3_PUT_ENCRYPT          = 1 << 1, /* x-amz-server-side-encryption: AES256 (SSE-S3) */
} AssayS3PutFlags;

#define ASSAY_TYPE_S3_CLIENT (assay_s3_client_get_type ())
G_DECLARE_FINAL_TYPE (AssayS3Client, assay_s3_client, ASSAY, S3_CLIENT, GObject)

/*
 * @endpoint: NULL for AWS (https://s3.REGION.amazonaws.com, the transport's region), or
 * a URL such as http://127.0.0.1:9000. With AUTO, AWS is addressed virtual-host style,
 * except for bucket names with dots (TLS certificates do not cover them): path-style.
 */
AssayS3Client     *assay_s3_client_new            (AssayAwsTransport  *transport,
                                                   const char         *bucket,
                                                   const char         *endpoint,
                                                   AssayS3Addressing   addressing,
                                                   GError            **error);
const char        *assay_s3_client_get_bucket     (AssayS3Client      *self);
/* The base URL requests go to: "http://127.0.0.1:9000/bucket" or "https://bucket.s3.…". */
const char        *assay_s3_client_get_endpoint   (AssayS3Client      *self);
AssayAwsTransport *assay_s3_client_get_transport  (AssayS3Client      *self);
/* Returns: (transfer full): the URL of @key (or of the bucket when @key is NULL). */
GUri              *assay_s3_client_dup_uri        (AssayS3Client      *self,
                                                   const char         *key,
                                                   const char         *query);

/*
 * PutObject. @metadata (name → value, may be NULL) goes as x-amz-meta-NAME (names are
 * lowercased; values must be printable ASCII). Returns: (transfer full): the ETag,
 * lowercase hex without quotes, checked to be the MD5 of @data.
 */
void             assay_s3_client_put_object_async     (AssayS3Client          *self,
                                                       const char             *key,
                                                       GBytes                 *data,
                                                       GHashTable             *metadata,
                                                       AssayS3PutFlags         flags,
                                                       GFileProgressCallback   progress,
                                                       gpointer                progress_data,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
char            *assay_s3_client_put_object_finish    (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);

/*
 * GetObject, streamed into @output (not closed). Returns: (transfer full): the object's
 * size, ETag, date and metadata. Fails with BAD_DIGEST when the bytes written do not
 * have the length or (for a plain-MD5 ETag) the MD5 the answer announced.
 */
void             assay_s3_client_get_object_async     (AssayS3Client          *self,
                                                       const char             *key,
                                                       GOutputStream          *output,
                                                       GFileProgressCallback   progress,
                                                       gpointer                progress_data,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
AssayObjectInfo *assay_s3_client_get_object_finish    (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);

void             assay_s3_client_head_object_async    (AssayS3Client          *self,
                                                       const char             *key,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
AssayObjectInfo *assay_s3_client_head_object_finish   (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);

/* DeleteObject; deleting an absent key succeeds (as in S3). */
void             assay_s3_client_delete_object_async  (AssayS3Client          *self,
                                                       const char             *key,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
gboolean         assay_s3_client_delete_object_finish (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);

/*
 * One page of ListObjectsV2: keys under @prefix (may be NULL) in key order, at most
 * @max_keys (0: the server's default, 1000), from @continuation_token (NULL: the first
 * page). The objects carry key, size, etag and modified, no metadata.
 */
void             assay_s3_client_list_objects_async   (AssayS3Client          *self,
                                                       const char             *prefix,
                                                       const char             *continuation_token,
                                                       guint                   max_keys,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
AssayObjectList *assay_s3_client_list_objects_finish  (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);

/* CopyObject within the bucket, metadata copied. A 200 whose body is an <Error> fails. */
void             assay_s3_client_copy_object_async    (AssayS3Client          *self,
                                                       const char             *source_key,
                                                       const char             *key,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
gboolean         assay_s3_client_copy_object_finish   (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);

/* CreateBucket in the transport's region; BucketAlreadyOwnedByYou is success, with
 * @out_created FALSE. */
void             assay_s3_client_create_bucket_async  (AssayS3Client          *self,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
gboolean         assay_s3_client_create_bucket_finish (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       gboolean               *out_created,
                                                       GError                **error);

/* HeadBucket: succeeds when the bucket exists and the credentials may use it. */
void             assay_s3_client_head_bucket_async    (AssayS3Client          *self,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
gboolean         assay_s3_client_head_bucket_finish   (AssayS3Client          *self,
                                                       GAsyncResult           *result,
                                                       GError                **error);

/* Parsers, exposed for tests: a ListObjectsV2 answer, and an <Error> answer's code,
 * message and region (each optional). */
AssayObjectList *assay_s3_parse_list_objects          (GBytes                 *body,
                                                       GError                **error);
gboolean         assay_s3_parse_error                 (GBytes                 *body,
                                                       char                  **out_code,
                                                       char                  **out_message,
                                                       char                  **out_region);

G_END_DECLS
