/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-s3-client.h"

#include "assay-sigv4.h"
#include "assay-util.h"

#include <nettle/md5.h>
#include <nettle/sha2.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-s3"

#define S3_XMLNS          "http://s3.amazonaws.com/doc/2006-03-01/"
#define MAX_KEY_LENGTH    1024
#define MAX_XML_DEPTH     16
#define HTTP_TOO_MANY_REQUESTS 429

G_DEFINE_QUARK (assay-s3-error-quark, assay_s3_error)

struct _AssayS3Client
{
  GObject parent_instance;

  AssayAwsTransport *transport;
  char *bucket;
  char *base;     /* "http://127.0.0.1:9000/bucket", "https://bucket.s3.eu-west-1.amazonaws.com" */
  char *resource; /* "s3://bucket" */
};

G_DEFINE_FINAL_TYPE (AssayS3Client, assay_s3_client, G_TYPE_OBJECT)

/* ------------------------------------------------------------------------------------- */
/* A small strict XML reader: the answer as a tree, on GMarkupParseContext                */

typedef struct _XmlNode XmlNode;
struct _XmlNode
{
  char      *name;     /* local name (a namespace prefix dropped) */
  GString   *text;
  GPtrArray *children; /* XmlNode */
};

static void
xml_node_free (XmlNode *node)
{
  g_free (node->name);
  g_string_free (node->text, TRUE);
  g_ptr_array_unref (node->children);
  g_free (node);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (XmlNode, xml_node_free)

static XmlNode *
xml_node_new (const char *name)
{
  XmlNode *node = g_new0 (XmlNode, 1);
  const char *colon = strchr (name, ':');

  node->name = g_strdup (colon != NULL ? colon + 1 : name);
  node->text = g_string_new (NULL);
  node->children = g_ptr_array_new_with_free_func ((GDestroyNotify) xml_node_free);
  return node;
}

typedef struct
{
  XmlNode   *root;
  GPtrArray *stack; /* XmlNode, borrowed */
} XmlReader;

static void
xml_start_element (GMarkupParseContext  *context,
                   const char           *element_name,
                   const char          **attribute_names,
                   const char          **attribute_values,
                   gpointer              user_data,
                   GError              **error)
{
  XmlReader *reader = user_data;
  XmlNode *parent;
  XmlNode *node;

  if (reader->stack->len == 0 && reader->root != NULL)
    {
      g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                   "a second root element <%s>", element_name);
      return;
    }
  if (reader->stack->len >= MAX_XML_DEPTH)
    {
      g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                   "elements nested more than %d deep", MAX_XML_DEPTH);
      return;
    }

  node = xml_node_new (element_name);
  if (reader->stack->len == 0)
    reader->root = node;
  else
    {
      parent = g_ptr_array_index (reader->stack, reader->stack->len - 1);
      g_ptr_array_add (parent->children, node);
    }
  g_ptr_array_add (reader->stack, node);
}

static void
xml_end_element (GMarkupParseContext  *context,
                 const char           *element_name,
                 gpointer              user_data,
                 GError              **error)
{
  XmlReader *reader = user_data;

  g_ptr_array_set_size (reader->stack, reader->stack->len - 1);
}

static void
xml_text (GMarkupParseContext  *context,
          const char           *text,
          gsize                 text_len,
          gpointer              user_data,
          GError              **error)
{
  XmlReader *reader = user_data;
  XmlNode *current;

  if (reader->stack->len == 0)
    {
      for (gsize i = 0; i < text_len; i++)
        if (!g_ascii_isspace (text[i]))
          {
            g_set_error_literal (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                                 "text outside the root element");
            return;
          }
      return;
    }
  current = g_ptr_array_index (reader->stack, reader->stack->len - 1);
  g_string_append_len (current->text, text, text_len);
}

static const GMarkupParser xml_parser = {
  xml_start_element,
  xml_end_element,
  xml_text,
  NULL,
  NULL,
};

/* Returns: (transfer full): the document's root, or NULL with a G_MARKUP_ERROR. */
static XmlNode *
xml_parse (GBytes  *body,
           GError **error)
{
  g_autoptr(GMarkupParseContext) context = NULL;
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();
  XmlReader reader = { NULL, stack };
  gsize len = 0;
  const char *data = body != NULL ? g_bytes_get_data (body, &len) : NULL;

  context = g_markup_parse_context_new (&xml_parser, G_MARKUP_TREAT_CDATA_AS_TEXT, &reader, NULL);
  if (!g_markup_parse_context_parse (context, data != NULL ? data : "", len, error) ||
      !g_markup_parse_context_end_parse (context, error))
    {
      g_clear_pointer (&reader.root, xml_node_free);
      return NULL;
    }
  if (reader.root == NULL) /* GMarkup accepts a lone <?xml …?> declaration */
    {
      g_set_error_literal (error, G_MARKUP_ERROR, G_MARKUP_ERROR_EMPTY, "no root element");
      return NULL;
    }
  return reader.root;
}

/* The only child named @name; NULL when there is none; FALSE when there are several. */
static gboolean
xml_child (XmlNode     *node,
           const char  *name,
           XmlNode    **out_child)
{
  *out_child = NULL;
  for (guint i = 0; i < node->children->len; i++)
    {
      XmlNode *child = g_ptr_array_index (node->children, i);

      if (strcmp (child->name, name) != 0)
        continue;
      if (*out_child != NULL)
        return FALSE;
      *out_child = child;
    }
  return TRUE;
}

static const char *
xml_child_text (XmlNode    *node,
                const char *name)
{
  XmlNode *child = NULL;

  if (!xml_child (node, name, &child) || child == NULL)
    return NULL;
  return child->text->str;
}

static gboolean
body_looks_like_xml (GBytes *body)
{
  gsize len;
  const char *data;

  if (body == NULL)
    return FALSE;
  data = g_bytes_get_data (body, &len);
  while (len > 0 && g_ascii_isspace (*data))
    {
      data++;
      len--;
    }
  return len > 0 && data[0] == '<';
}

/**
 * assay_s3_parse_error:
 * @body: (nullable): an answer's body
 *
 * Returns: whether @body is an S3 `<Error>` document; its `Code`, `Message` and
 * `Region` (each possibly %NULL) are then returned in the out arguments.
 */
gboolean
assay_s3_parse_error (GBytes  *body,
                      char   **out_code,
                      char   **out_message,
                      char   **out_region)
{
  g_autoptr(XmlNode) root = NULL;
  const char *code;

  if (!body_looks_like_xml (body))
    return FALSE;
  root = xml_parse (body, NULL);
  if (root == NULL || strcmp (root->name, "Error") != 0)
    return FALSE;
  code = xml_child_text (root, "Code");
  if (code == NULL || code[0] == '\0')
    return FALSE;

  if (out_code != NULL)
    *out_code = g_strstrip (g_strdup (code));
  if (out_message != NULL)
    *out_message = g_strdup (xml_child_text (root, "Message"));
  if (out_region != NULL)
    *out_region = g_strdup (xml_child_text (root, "Region"));
  return TRUE;
}

/* "\"0123…\"" or "W/\"…\"" → "0123…", lowercase. */
static char *
normalize_etag (const char *etag)
{
  gsize len;

  if (etag == NULL)
    return NULL;
  if (g_str_has_prefix (etag, "W/"))
    etag += 2;
  len = strlen (etag);
  if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
    return g_ascii_strdown (etag + 1, (gssize) len - 2);
  return g_ascii_strdown (etag, -1);
}

static gboolean
malformed (GError     **error,
           const char  *what,
           const char  *detail)
{
  /* GMarkup quotes the offending bytes, which need not be UTF-8. */
  g_autofree char *valid = g_utf8_make_valid (detail, -1);

  g_set_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED,
               "S3 answered a %s that is not what it should be: %s", what, valid);
  return FALSE;
}

static gboolean
parse_uint64 (const char *text,
              guint64    *out)
{
  return text != NULL && g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, out, NULL);
}

/**
 * assay_s3_parse_list_objects:
 *
 * Reads a ListObjectsV2 answer strictly: a `ListBucketResult` root, `IsTruncated`, a
 * `NextContinuationToken` when truncated, and in each `Contents` one `Key` and one
 * `Size`; `ETag` and `LastModified` well formed when present. Unknown elements are
 * passed over.
 *
 * Returns: (transfer full): the page, or %NULL with %ASSAY_S3_ERROR_MALFORMED.
 */
AssayObjectList *
assay_s3_parse_list_objects (GBytes  *body,
                             GError **error)
{
  g_autoptr(XmlNode) root = NULL;
  g_autoptr(AssayObjectList) list = NULL;
  g_autoptr(GError) local_error = NULL;
  XmlNode *node = NULL;
  const char *truncated;

  root = xml_parse (body, &local_error);
  if (root == NULL)
    {
      malformed (error, "listing", local_error->message);
      return NULL;
    }
  if (strcmp (root->name, "ListBucketResult") != 0)
    {
      g_autofree char *detail = g_strdup_printf ("the root element is <%s>", root->name);
      malformed (error, "listing", detail);
      return NULL;
    }

  list = g_new0 (AssayObjectList, 1);
  list->objects = g_ptr_array_new_with_free_func ((GDestroyNotify) assay_object_info_free);

  if (!xml_child (root, "IsTruncated", &node) || node == NULL)
    {
      malformed (error, "listing", "no single <IsTruncated>");
      return NULL;
    }
  truncated = g_strstrip (node->text->str);
  if (strcmp (truncated, "true") == 0)
    {
      const char *token;

      if (!xml_child (root, "NextContinuationToken", &node) || node == NULL ||
          (token = g_strstrip (node->text->str))[0] == '\0')
        {
          malformed (error, "listing", "truncated without a <NextContinuationToken>");
          return NULL;
        }
      list->next_token = g_strdup (token);
    }
  else if (strcmp (truncated, "false") != 0)
    {
      g_autofree char *detail = g_strdup_printf ("<IsTruncated> is “%s”", truncated);
      malformed (error, "listing", detail);
      return NULL;
    }

  for (guint i = 0; i < root->children->len; i++)
    {
      XmlNode *contents = g_ptr_array_index (root->children, i);
      g_autoptr(AssayObjectInfo) info = NULL;
      XmlNode *key = NULL;
      XmlNode *size = NULL;
      XmlNode *etag = NULL;
      XmlNode *modified = NULL;

      if (strcmp (contents->name, "Contents") != 0)
        continue;
      if (!xml_child (contents, "Key", &key) || key == NULL ||
          !xml_child (contents, "Size", &size) || size == NULL ||
          !xml_child (contents, "ETag", &etag) || !xml_child (contents, "LastModified", &modified))
        {
          malformed (error, "listing", "<Contents> without one <Key> and one <Size>");
          return NULL;
        }
      if (key->text->len == 0 || !g_utf8_validate (key->text->str, key->text->len, NULL))
        {
          malformed (error, "listing", "an empty or invalid <Key>");
          return NULL;
        }

      info = assay_object_info_new (key->text->str);
      if (!parse_uint64 (g_strstrip (size->text->str), &info->size))
        {
          g_autofree char *detail = g_strdup_printf ("<Size> “%s” of %s", size->text->str,
                                                     info->key);
          malformed (error, "listing", detail);
          return NULL;
        }
      if (etag != NULL)
        info->etag = normalize_etag (g_strstrip (etag->text->str));
      if (modified != NULL)
        {
          info->modified = g_date_time_new_from_iso8601 (g_strstrip (modified->text->str), NULL);
          if (info->modified == NULL)
            {
              g_autofree char *detail = g_strdup_printf ("<LastModified> “%s” of %s",
                                                         modified->text->str, info->key);
              malformed (error, "listing", detail);
              return NULL;
            }
        }
      g_ptr_array_add (list->objects, g_steal_pointer (&info));
    }

  return g_steal_pointer (&list);
}

/* ------------------------------------------------------------------------------------- */
/* Errors: the one place where S3's <Code> is mapped                                      */

typedef struct
{
  const char     *code;
  AssayS3Error    error;
  AssayAwsAnswer  answer;
} ServiceError;

static const ServiceError service_errors[] = {
  { "NoSuchKey", ASSAY_S3_ERROR_NO_SUCH_KEY, ASSAY_AWS_ANSWER_DONE },
  { "NoSuchBucket", ASSAY_S3_ERROR_NO_SUCH_BUCKET, ASSAY_AWS_ANSWER_DONE },
  { "AccessDenied", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "AllAccessDisabled", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "AccountProblem", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "InvalidAccessKeyId", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "SignatureDoesNotMatch", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "ExpiredToken", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "InvalidToken", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "TokenRefreshRequired", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "MissingSecurityHeader", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "InvalidSecurity", ASSAY_S3_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "SlowDown", ASSAY_S3_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "Throttling", ASSAY_S3_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "ThrottlingException", ASSAY_S3_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "RequestLimitExceeded", ASSAY_S3_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "TooManyRequestsException", ASSAY_S3_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "ServiceUnavailable", ASSAY_S3_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "RequestTimeTooSkewed", ASSAY_S3_ERROR_CLOCK_SKEW, ASSAY_AWS_ANSWER_CLOCK_SKEW },
  { "InternalError", ASSAY_S3_ERROR_INTERNAL, ASSAY_AWS_ANSWER_RETRY },
  { "RequestTimeout", ASSAY_S3_ERROR_INTERNAL, ASSAY_AWS_ANSWER_RETRY },
  { "OperationAborted", ASSAY_S3_ERROR_FAILED, ASSAY_AWS_ANSWER_RETRY },
  { "BadDigest", ASSAY_S3_ERROR_BAD_DIGEST, ASSAY_AWS_ANSWER_DONE },
  { "InvalidDigest", ASSAY_S3_ERROR_BAD_DIGEST, ASSAY_AWS_ANSWER_DONE },
  { "XAmzContentSHA256Mismatch", ASSAY_S3_ERROR_BAD_DIGEST, ASSAY_AWS_ANSWER_DONE },
  { "InvalidArgument", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "InvalidRequest", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "InvalidBucketName", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "InvalidURI", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "MalformedXML", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "KeyTooLongError", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "MetadataTooLarge", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "EntityTooLarge", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "EntityTooSmall", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "IncompleteBody", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "MissingContentLength", ASSAY_S3_ERROR_INVALID, ASSAY_AWS_ANSWER_DONE },
  { "PermanentRedirect", ASSAY_S3_ERROR_WRONG_REGION, ASSAY_AWS_ANSWER_DONE },
  { "AuthorizationHeaderMalformed", ASSAY_S3_ERROR_WRONG_REGION, ASSAY_AWS_ANSWER_DONE },
  { "IllegalLocationConstraintException", ASSAY_S3_ERROR_WRONG_REGION, ASSAY_AWS_ANSWER_DONE },
  { "BucketAlreadyExists", ASSAY_S3_ERROR_BUCKET_EXISTS, ASSAY_AWS_ANSWER_DONE },
  { "BucketAlreadyOwnedByYou", ASSAY_S3_ERROR_BUCKET_ALREADY_OWNED, ASSAY_AWS_ANSWER_DONE },
  { "PreconditionFailed", ASSAY_S3_ERROR_PRECONDITION_FAILED, ASSAY_AWS_ANSWER_DONE },
  { "NotImplemented", ASSAY_S3_ERROR_UNSUPPORTED, ASSAY_AWS_ANSWER_DONE },
};

static const ServiceError *
lookup_service_error (const char *code)
{
  if (code == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (service_errors); i++)
    if (strcmp (service_errors[i].code, code) == 0)
      return &service_errors[i];
  return NULL;
}

/* A 2xx answer may still be an error: CopyObject answers 200 and then <Error> when it
 * fails late. Only answers that carry XML by design are looked at (not object bodies). */
static gboolean
success_is_error (const char *method,
                  GBytes     *body,
                  char      **out_code)
{
  if (g_strcmp0 (method, SOUP_METHOD_GET) == 0 || g_strcmp0 (method, SOUP_METHOD_HEAD) == 0)
    return FALSE;
  return assay_s3_parse_error (body, out_code, NULL, NULL);
}

/**
 * assay_s3_classify:
 * Tells the transport what an S3 answer means: throttling and internal errors are
 * worth another attempt, RequestTimeTooSkewed wants the clock corrected.
 */
AssayAwsAnswer
assay_s3_classify (SoupMessage *message,
                   GBytes      *body)
{
  g_autofree char *code = NULL;
  const ServiceError *known;
  guint status;

  g_return_val_if_fail (SOUP_IS_MESSAGE (message), ASSAY_AWS_ANSWER_DONE);

  status = soup_message_get_status (message);
  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      if (!success_is_error (soup_message_get_method (message), body, &code))
        return ASSAY_AWS_ANSWER_DONE;
      known = lookup_service_error (code);
      return known != NULL ? known->answer : ASSAY_AWS_ANSWER_DONE;
    }

  if (assay_s3_parse_error (body, &code, NULL, NULL) && (known = lookup_service_error (code)))
    return known->answer;
  if ((status >= 500 && status != SOUP_STATUS_NOT_IMPLEMENTED) || status == HTTP_TOO_MANY_REQUESTS)
    return ASSAY_AWS_ANSWER_RETRY;
  return ASSAY_AWS_ANSWER_DONE;
}

static AssayS3Error
error_for_status (guint       status,
                  const char *key)
{
  switch (status)
    {
    case SOUP_STATUS_MOVED_PERMANENTLY:
    case SOUP_STATUS_TEMPORARY_REDIRECT:
      return ASSAY_S3_ERROR_WRONG_REGION;
    case SOUP_STATUS_BAD_REQUEST:
      return ASSAY_S3_ERROR_INVALID;
    case SOUP_STATUS_UNAUTHORIZED:
    case SOUP_STATUS_FORBIDDEN:
      return ASSAY_S3_ERROR_ACCESS_DENIED;
    case SOUP_STATUS_NOT_FOUND:
      return key != NULL ? ASSAY_S3_ERROR_NO_SUCH_KEY : ASSAY_S3_ERROR_NO_SUCH_BUCKET;
    case SOUP_STATUS_PRECONDITION_FAILED:
      return ASSAY_S3_ERROR_PRECONDITION_FAILED;
    case HTTP_TOO_MANY_REQUESTS:
    case SOUP_STATUS_SERVICE_UNAVAILABLE:
      return ASSAY_S3_ERROR_THROTTLED;
    case SOUP_STATUS_NOT_IMPLEMENTED:
      return ASSAY_S3_ERROR_UNSUPPORTED;
    default:
      return status >= 500 ? ASSAY_S3_ERROR_INTERNAL : ASSAY_S3_ERROR_FAILED;
    }
}

/**
 * assay_s3_error_new_from_answer:
 * @headers: (nullable): the answer's headers
 * @body: (nullable): the answer's body
 * @credentials_source: (nullable): where the credentials came from, for AccessDenied
 * @key: (nullable): the object's key; %NULL for a bucket operation
 *
 * Returns: (transfer full) (nullable): the error the answer stands for, or %NULL for a
 * success.
 */
GError *
assay_s3_error_new_from_answer (guint               status,
                                SoupMessageHeaders *headers,
                                GBytes             *body,
                                const char         *credentials_source,
                                const char         *bucket,
                                const char         *key)
{
  g_autofree char *code = NULL;
  g_autofree char *text = NULL;
  g_autofree char *region = NULL;
  g_autofree char *what = NULL;
  g_autofree char *resource = NULL;
  const ServiceError *known = NULL;
  gboolean has_error;
  AssayS3Error error;

  has_error = assay_s3_parse_error (body, &code, &text, &region);
  if (SOUP_STATUS_IS_SUCCESSFUL (status) && !has_error)
    return NULL;

  known = lookup_service_error (code);
  if (known != NULL)
    error = known->error;
  else
    error = error_for_status (status, key);
  if (error == ASSAY_S3_ERROR_FAILED && SOUP_STATUS_IS_SUCCESSFUL (status))
    error = ASSAY_S3_ERROR_INTERNAL; /* an unknown <Error> in a 200: the operation failed late */

  if (region == NULL && headers != NULL)
    region = g_strdup (soup_message_headers_get_one (headers, "x-amz-bucket-region"));

  resource = key != NULL ? g_strdup_printf ("s3://%s/%s", bucket, key)
                         : g_strdup_printf ("s3://%s", bucket);
  if (code != NULL)
    what = g_strdup_printf ("%s: %s", code, text != NULL ? g_strstrip (text) : "(no message)");
  else
    what = g_strdup_printf ("HTTP %u %s", status,
                            status == HTTP_TOO_MANY_REQUESTS ? "Too Many Requests"
                                                             : soup_status_get_phrase (status));

  switch (error)
    {
    case ASSAY_S3_ERROR_ACCESS_DENIED:
      return g_error_new (ASSAY_S3_ERROR, error,
                          "S3 refused the credentials from %s for %s (%s)",
                          credentials_source != NULL ? credentials_source : "an unknown source",
                          resource, what);
    case ASSAY_S3_ERROR_CLOCK_SKEW:
      return g_error_new (ASSAY_S3_ERROR, error,
                          "S3 refused the request time for %s; is this computer's clock "
                          "right? (%s)", resource, what);
    case ASSAY_S3_ERROR_WRONG_REGION:
      if (region != NULL)
        return g_error_new (ASSAY_S3_ERROR, error,
                            "the bucket %s is in region %s: configure that region (%s)",
                            bucket, region, what);
      return g_error_new (ASSAY_S3_ERROR, error,
                          "the bucket %s is in another region or behind another endpoint (%s)",
                          bucket, what);
    case ASSAY_S3_ERROR_NO_SUCH_BUCKET:
      return g_error_new (ASSAY_S3_ERROR, error, "there is no bucket %s (%s)", bucket, what);
    case ASSAY_S3_ERROR_NO_SUCH_KEY:
      return g_error_new (ASSAY_S3_ERROR, error, "there is no object %s (%s)", resource, what);
    default:
      return g_error_new (ASSAY_S3_ERROR, error, "S3 failed on %s: %s", resource, what);
    }
}

/**
 * assay_s3_error_to_store_error:
 * Returns: the AssayStoreError code that stands for @error.
 */
AssayStoreError
assay_s3_error_to_store_error (const GError *error)
{
  g_return_val_if_fail (error != NULL, ASSAY_STORE_ERROR_FAILED);

  if (error->domain == ASSAY_AWS_ERROR)
    return ASSAY_STORE_ERROR_UNAVAILABLE;
  if (error->domain != ASSAY_S3_ERROR)
    return ASSAY_STORE_ERROR_FAILED;

  switch ((AssayS3Error) error->code)
    {
    case ASSAY_S3_ERROR_NO_SUCH_KEY:
    case ASSAY_S3_ERROR_NO_SUCH_BUCKET:
      return ASSAY_STORE_ERROR_NOT_FOUND;
    case ASSAY_S3_ERROR_ACCESS_DENIED:
    case ASSAY_S3_ERROR_CLOCK_SKEW:
      return ASSAY_STORE_ERROR_ACCESS_DENIED;
    case ASSAY_S3_ERROR_THROTTLED:
      return ASSAY_STORE_ERROR_THROTTLED;
    case ASSAY_S3_ERROR_INTERNAL:
      return ASSAY_STORE_ERROR_UNAVAILABLE;
    case ASSAY_S3_ERROR_BAD_DIGEST:
    case ASSAY_S3_ERROR_MALFORMED:
      return ASSAY_STORE_ERROR_CORRUPT;
    case ASSAY_S3_ERROR_INVALID:
    case ASSAY_S3_ERROR_WRONG_REGION:
      return ASSAY_STORE_ERROR_INVALID;
    case ASSAY_S3_ERROR_PRECONDITION_FAILED:
      return ASSAY_STORE_ERROR_CONDITION_FAILED;
    case ASSAY_S3_ERROR_BUCKET_EXISTS:
    case ASSAY_S3_ERROR_BUCKET_ALREADY_OWNED:
    case ASSAY_S3_ERROR_UNSUPPORTED:
    case ASSAY_S3_ERROR_FAILED:
    default:
      return ASSAY_STORE_ERROR_FAILED;
    }
}

/* ------------------------------------------------------------------------------------- */
/* Names and addresses                                                                    */

/**
 * assay_s3_encode_key:
 * Returns: (transfer full): @key URI-encoded for a URL path, '/' kept.
 */
char *
assay_s3_encode_key (const char *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  return assay_sigv4_uri_encode (key, -1, TRUE);
}

static gboolean
check_key (const char  *key,
           GError     **error)
{
  g_auto(GStrv) segments = NULL;
  gsize len = strlen (key);

  if (len == 0 || len > MAX_KEY_LENGTH || !g_utf8_validate (key, (gssize) len, NULL))
    {
      g_set_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID,
                   "“%s” is not an S3 key (1 to %d bytes of UTF-8)", key, MAX_KEY_LENGTH);
      return FALSE;
    }
  /* HTTP stacks and proxies remove dot segments from paths: such keys do not survive. */
  segments = g_strsplit (key, "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    if (strcmp (segments[i], ".") == 0 || strcmp (segments[i], "..") == 0)
      {
        g_set_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID,
                     "the key “%s” has a “.” or “..” segment, which Assay does not use",
                     key);
        return FALSE;
      }
  return TRUE;
}

/* S3's bucket naming rules: 3 to 63 of a–z 0–9 . -, starting and ending with a letter
 * or digit, no "..", not an IPv4 address. */
static gboolean
check_bucket (const char  *bucket,
              GError     **error)
{
  gsize len = strlen (bucket);
  gboolean ok = len >= 3 && len <= 63 && g_ascii_isalnum (bucket[0]) &&
                g_ascii_isalnum (bucket[len - 1]) && strstr (bucket, "..") == NULL &&
                !g_hostname_is_ip_address (bucket);

  for (gsize i = 0; ok && i < len; i++)
    ok = g_ascii_islower (bucket[i]) || g_ascii_isdigit (bucket[i]) || bucket[i] == '.' ||
         bucket[i] == '-';
  if (!ok)
    g_set_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID,
                 "“%s” is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and "
                 "dashes)", bucket);
  return ok;
}

static void
assay_s3_client_finalize (GObject *object)
{
  AssayS3Client *self = ASSAY_S3_CLIENT (object);

  g_clear_object (&self->transport);
  g_free (self->bucket);
  g_free (self->base);
  g_free (self->resource);

  G_OBJECT_CLASS (assay_s3_client_parent_class)->finalize (object);
}

static void
assay_s3_client_class_init (AssayS3ClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_s3_client_finalize;
}

static void
assay_s3_client_init (AssayS3Client *self)
{
}

/**
 * assay_s3_client_new:
 * @transport: sends, signs and retries
 * @bucket: the bucket every operation works on
 * @endpoint: (nullable): an http(s) URL, or %NULL for AWS in the transport's region
 *
 * Returns: (transfer full): a client, or %NULL with ASSAY_S3_ERROR_INVALID for a bad
 * bucket name or endpoint.
 */
AssayS3Client *
assay_s3_client_new (AssayAwsTransport  *transport,
                     const char         *bucket,
                     const char         *endpoint,
                     AssayS3Addressing   addressing,
                     GError            **error)
{
  g_autoptr(AssayS3Client) self = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *aws = NULL;
  g_autofree char *path = NULL;
  const char *scheme;
  const char *region;
  gboolean virtual_host;

  g_return_val_if_fail (ASSAY_IS_AWS_TRANSPORT (transport), NULL);
  g_return_val_if_fail (bucket != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_bucket (bucket, error))
    return NULL;

  region = assay_aws_transport_get_region (transport);
  if (endpoint == NULL)
    {
      aws = g_strdup_printf ("https://s3.%s.amazonaws.com%s", region,
                             g_str_has_prefix (region, "cn-") ? ".cn" : "");
      endpoint = aws;
    }
  uri = g_uri_parse (endpoint, SOUP_HTTP_URI_FLAGS, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0' ||
      g_uri_get_query (uri) != NULL || g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID,
                   "the S3 endpoint “%s” is not an http or https URL", endpoint);
      return NULL;
    }

  if (addressing == ASSAY_S3_ADDRESSING_AUTO)
    virtual_host = aws != NULL && strchr (bucket, '.') == NULL;
  else
    virtual_host = addressing == ASSAY_S3_ADDRESSING_VIRTUAL_HOST;

  self = g_object_new (ASSAY_TYPE_S3_CLIENT, NULL);
  self->transport = g_object_ref (transport);
  self->bucket = g_strdup (bucket);
  self->resource = g_strdup_printf ("s3://%s", bucket);

  path = g_strdup (g_uri_get_path (uri));
  while (path[0] != '\0' && path[strlen (path) - 1] == '/')
    path[strlen (path) - 1] = '\0';
  if (virtual_host)
    {
      g_autofree char *host = g_strdup_printf ("%s.%s", bucket, g_uri_get_host (uri));
      g_autoptr(GUri) base = g_uri_build (SOUP_HTTP_URI_FLAGS, scheme, NULL, host,
                                          g_uri_get_port (uri), path, NULL, NULL);

      self->base = g_uri_to_string (base);
    }
  else
    {
      g_autofree char *bucket_path = g_strconcat (path, "/", bucket, NULL);
      g_autoptr(GUri) base = g_uri_build (SOUP_HTTP_URI_FLAGS, scheme, NULL, g_uri_get_host (uri),
                                          g_uri_get_port (uri), bucket_path, NULL, NULL);

      self->base = g_uri_to_string (base);
    }
  /* SCHEME_NORMALIZE makes an empty path "/": the base never ends in one. */
  while (g_str_has_suffix (self->base, "/"))
    self->base[strlen (self->base) - 1] = '\0';
  g_debug ("%s at %s", self->resource, self->base);

  return g_steal_pointer (&self);
}

const char *
assay_s3_client_get_bucket (AssayS3Client *self)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);

  return self->bucket;
}

const char *
assay_s3_client_get_endpoint (AssayS3Client *self)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);

  return self->base;
}

AssayAwsTransport *
assay_s3_client_get_transport (AssayS3Client *self)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);

  return self->transport;
}

/**
 * assay_s3_client_dup_uri:
 * @key: (nullable): an object's key, or %NULL for the bucket
 * @query: (nullable): an already encoded query, without '?'
 */
GUri *
assay_s3_client_dup_uri (AssayS3Client *self,
                         const char    *key,
                         const char    *query)
{
  g_autofree char *encoded = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);

  encoded = key != NULL ? assay_s3_encode_key (key) : NULL;
  if (encoded != NULL)
    text = g_strconcat (self->base, "/", encoded, query ? "?" : NULL, query, NULL);
  else if (strchr (strstr (self->base, "://") + 3, '/') != NULL) /* a path: ".../bucket" */
    text = g_strconcat (self->base, query ? "?" : NULL, query, NULL);
  else
    text = g_strconcat (self->base, "/", query ? "?" : NULL, query, NULL);

  return g_uri_parse (text, SOUP_HTTP_URI_FLAGS, NULL);
}

static const char *
credentials_source (AssayS3Client *self)
{
  AssayCredentials *credentials = assay_aws_transport_get_credentials (self->transport);

  return credentials != NULL ? assay_credentials_get_source (credentials) : NULL;
}

/* ------------------------------------------------------------------------------------- */
/* One operation                                                                          */

typedef struct
{
  char                  *method;
  char                  *key;      /* NULL for a bucket operation */
  GUri                  *uri;
  GHashTable            *headers;
  GBytes                *body;
  char                  *payload_hash;
  GFileProgressCallback  progress;
  gpointer               progress_data;
  char                  *md5_hex;  /* PutObject: what the ETag must be */
  AssayS3PutFlags        flags;
  GOutputStream         *digest;   /* GetObject */
  gboolean               created;  /* CreateBucket */
} Op;

static void
op_free (Op *op)
{
  g_free (op->method);
  g_free (op->key);
  g_clear_pointer (&op->uri, g_uri_unref);
  g_clear_pointer (&op->headers, g_hash_table_unref);
  g_clear_pointer (&op->body, g_bytes_unref);
  g_free (op->payload_hash);
  g_free (op->md5_hex);
  g_clear_object (&op->digest);
  g_free (op);
}

static Op *
op_new (AssayS3Client *self,
        const char    *method,
        const char    *key,
        const char    *query)
{
  Op *op = g_new0 (Op, 1);

  op->method = g_strdup (method);
  op->key = g_strdup (key);
  op->uri = assay_s3_client_dup_uri (self, key, query);
  op->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_assert (op->uri != NULL);
  return op;
}

static GTask *
op_task (AssayS3Client       *self,
         Op                  *op,
         gpointer             source_tag,
         GCancellable        *cancellable,
         GAsyncReadyCallback  callback,
         gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  return task;
}

static void
op_send (GTask               *task,
         GAsyncReadyCallback  callback)
{
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  assay_aws_transport_send_async (self->transport, "s3", op->method, op->uri, op->headers,
                                  op->body, op->payload_hash, assay_s3_classify, op->progress,
                                  op->progress_data, g_task_get_cancellable (task), callback,
                                  task);
}

static char *
op_resource (AssayS3Client *self,
             Op            *op)
{
  if (op->key != NULL)
    return g_strdup_printf ("%s s3://%s/%s", op->method, self->bucket, op->key);
  return g_strdup_printf ("%s s3://%s", op->method, self->bucket);
}

/* The answer of @op's request: the message on success (a 2xx without <Error>), else NULL
 * with the error. Takes the transport's error and names the operation in it. */
static SoupMessage *
op_answer (AssayS3Client  *self,
           Op             *op,
           GBytes         *body,
           SoupMessage    *message,
           GError         *transport_error,
           GError        **error)
{
  GError *answer_error;

  if (transport_error != NULL)
    {
      if (!g_error_matches (transport_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *resource = op_resource (self, op);

          g_prefix_error (&transport_error, "%s: ", resource);
        }
      g_propagate_error (error, transport_error);
      return NULL;
    }
  g_assert (message != NULL);

  answer_error = assay_s3_error_new_from_answer (soup_message_get_status (message),
                                                 soup_message_get_response_headers (message),
                                                 body, credentials_source (self), self->bucket,
                                                 op->key);
  if (answer_error != NULL)
    {
      g_propagate_error (error, answer_error);
      return NULL;
    }
  return message;
}

/* Size, ETag, date and user metadata from an answer's headers. */
static AssayObjectInfo *
object_info_from_headers (const char         *key,
                          SoupMessageHeaders *headers)
{
  g_autoptr(AssayObjectInfo) info = assay_object_info_new (key);
  SoupMessageHeadersIter iter;
  const char *name;
  const char *value;

  value = soup_message_headers_get_one (headers, "Content-Length");
  if (value != NULL)
    parse_uint64 (value, &info->size);
  info->etag = normalize_etag (soup_message_headers_get_one (headers, "ETag"));
  value = soup_message_headers_get_one (headers, "Last-Modified");
  if (value != NULL)
    info->modified = soup_date_time_new_from_http_string (value);

  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (g_ascii_strncasecmp (name, "x-amz-meta-", strlen ("x-amz-meta-")) == 0)
      g_hash_table_replace (info->metadata, g_ascii_strdown (name + strlen ("x-amz-meta-"), -1),
                            g_strdup (value));

  return g_steal_pointer (&info);
}

/* With SSE-KMS (and SSE-C) the ETag is not the MD5 of the content. */
static gboolean
etag_is_md5 (SoupMessageHeaders *headers,
             const char         *etag)
{
  const char *sse = soup_message_headers_get_one (headers, "x-amz-server-side-encryption");
  const char *sse_c =
    soup_message_headers_get_one (headers, "x-amz-server-side-encryption-customer-algorithm");

  if (sse_c != NULL || (sse != NULL && g_str_has_prefix (sse, "aws:kms")))
    return FALSE;
  if (etag == NULL || strlen (etag) != 32)
    return FALSE;
  for (guint i = 0; i < 32; i++)
    if (!g_ascii_isxdigit (etag[i]))
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------------------------- */
/* PutObject                                                                              */

static gboolean
check_metadata (GHashTable  *metadata,
                GError     **error)
{
  GHashTableIter iter;
  gpointer name, value;

  if (metadata == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, metadata);
  while (g_hash_table_iter_next (&iter, &name, &value))
    {
      const char *n = name;
      const char *v = value;
      gboolean ok = n[0] != '\0';

      for (const char *p = n; ok && *p != '\0'; p++)
        ok = g_ascii_isalnum (*p) || *p == '-' || *p == '_';
      for (const char *p = v; ok && *p != '\0'; p++)
        ok = *p >= 0x20 && *p < 0x7f;
      if (!ok)
        {
          g_set_error (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_INVALID,
                       "the metadata “%s” cannot go in an S3 header (names: letters, digits, "
                       "- and _; values: printable ASCII)", n);
          return FALSE;
        }
    }
  return TRUE;
}

typedef struct
{
  char *md5_hex;
  char *md5_base64;
  char *sha256_hex;
} Digests;

static void
digests_free (Digests *digests)
{
  g_free (digests->md5_hex);
  g_free (digests->md5_base64);
  g_free (digests->sha256_hex);
  g_free (digests);
}

/* nettle: its SHA-256 uses the CPU's SHA extensions (about 4 times GChecksum's speed). */
static void
hash_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Op *op = task_data;
  Digests *digests = g_new0 (Digests, 1);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (op->body, &len);
  struct md5_ctx md5;
  guint8 md5_raw[MD5_DIGEST_SIZE];

  md5_init (&md5);
  md5_update (&md5, len, data);
  md5_digest (&md5, sizeof md5_raw, md5_raw);
  digests->md5_hex = assay_hex_encode (md5_raw, sizeof md5_raw);
  digests->md5_base64 = g_base64_encode (md5_raw, sizeof md5_raw);
  if ((op->flags & ASSAY_S3_PUT_UNSIGNED_PAYLOAD) == 0)
    {
      struct sha256_ctx sha256;
      guint8 sha256_raw[SHA256_DIGEST_SIZE];

      sha256_init (&sha256);
      sha256_update (&sha256, len, data);
      sha256_digest (&sha256, sizeof sha256_raw, sha256_raw);
      digests->sha256_hex = assay_hex_encode (sha256_raw, sizeof sha256_raw);
    }

  g_task_return_pointer (task, digests, (GDestroyNotify) digests_free);
}

static void
put_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;
  SoupMessageHeaders *headers;
  g_autofree char *etag = NULL;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                          &transport_error);
  if (op_answer (self, op, body, message, transport_error, &error) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  headers = soup_message_get_response_headers (message);
  etag = normalize_etag (soup_message_headers_get_one (headers, "ETag"));
  if (etag == NULL)
    {
      g_task_return_new_error (task, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED,
                               "S3 stored s3://%s/%s but answered no ETag", self->bucket, op->key);
      return;
    }
  if (etag_is_md5 (headers, etag) && strcmp (etag, op->md5_hex) != 0)
    {
      g_task_return_new_error (task, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BAD_DIGEST,
                               "S3 stored s3://%s/%s with the ETag %s, but the MD5 of the %zu "
                               "bytes sent is %s", self->bucket, op->key, etag,
                               g_bytes_get_size (op->body), op->md5_hex);
      return;
    }
  if (!etag_is_md5 (headers, etag))
    g_debug ("s3://%s/%s: the ETag %s is not an MD5; S3 checked Content-MD5", self->bucket,
             op->key, etag);

  g_task_return_pointer (task, g_steal_pointer (&etag), g_free);
}

static void
hashed_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Op *op = g_task_get_task_data (task);
  Digests *digests;

  digests = g_task_propagate_pointer (G_TASK (result), NULL);
  g_assert (digests != NULL);
  if (g_task_return_error_if_cancelled (task))
    {
      digests_free (digests);
      return;
    }

  g_hash_table_replace (op->headers, g_strdup ("Content-MD5"), g_strdup (digests->md5_base64));
  op->md5_hex = g_strdup (digests->md5_hex);
  op->payload_hash = g_strdup (digests->sha256_hex != NULL ? digests->sha256_hex
                                                           : ASSAY_SIGV4_UNSIGNED_PAYLOAD);
  digests_free (digests);

  op_send (g_steal_pointer (&task), put_cb);
}

void
assay_s3_client_put_object_async (AssayS3Client         *self,
                                  const char            *key,
                                  GBytes                *data,
                                  GHashTable            *metadata,
                                  AssayS3PutFlags        flags,
                                  GFileProgressCallback  progress,
                                  gpointer               progress_data,
                                  GCancellable          *cancellable,
                                  GAsyncReadyCallback    callback,
                                  gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) hash = NULL;
  GError *error = NULL;
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (data != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (!check_key (key, &error) || !check_metadata (metadata, &error))
    {
      g_task_report_error (self, callback, user_data, assay_s3_client_put_object_async, error);
      return;
    }

  op = op_new (self, SOUP_METHOD_PUT, key, NULL);
  op->body = g_bytes_ref (data);
  op->flags = flags;
  op->progress = progress;
  op->progress_data = progress_data;
  g_hash_table_replace (op->headers, g_strdup ("Content-Type"),
                        g_strdup ("application/octet-stream"));
  if ((flags & ASSAY_S3_PUT_ENCRYPT) != 0)
    g_hash_table_replace (op->headers, g_strdup ("x-amz-server-side-encryption"),
                          g_strdup ("AES256"));
  if (metadata != NULL)
    {
      GHashTableIter iter;
      gpointer name, value;

      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &name, &value))
        {
          g_autofree char *lower = g_ascii_strdown (name, -1);

          g_hash_table_replace (op->headers, g_strconcat ("x-amz-meta-", lower, NULL),
                                g_strdup (value));
        }
    }
  task = op_task (self, op, assay_s3_client_put_object_async, cancellable, callback, user_data);

  /* MD5 and SHA-256 of up to 64 MiB: off the main context. */
  hash = g_task_new (self, cancellable, hashed_cb, g_steal_pointer (&task));
  g_task_set_source_tag (hash, hash_thread);
  g_task_set_task_data (hash, op, NULL);
  g_task_set_check_cancellable (hash, FALSE); /* hashed_cb checks the operation's */
  g_task_run_in_thread (hash, hash_thread);
}

/**
 * assay_s3_client_put_object_finish:
 * Returns: (transfer full): the ETag (lowercase hex, no quotes), or %NULL with an error.
 */
char *
assay_s3_client_put_object_finish (AssayS3Client  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_put_object_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* GetObject: a pass-through output stream that keeps the MD5 and length of what it wrote */

#define DIGEST_TYPE_OUTPUT (digest_output_get_type ())
G_DECLARE_FINAL_TYPE (DigestOutput, digest_output, DIGEST, OUTPUT, GFilterOutputStream)

struct _DigestOutput
{
  GFilterOutputStream parent_instance;

  GChecksum *md5;
  guint64 count;
};

G_DEFINE_FINAL_TYPE (DigestOutput, digest_output, G_TYPE_FILTER_OUTPUT_STREAM)

static gssize
digest_output_write (GOutputStream  *stream,
                     const void     *buffer,
                     gsize           count,
                     GCancellable   *cancellable,
                     GError        **error)
{
  DigestOutput *self = DIGEST_OUTPUT (stream);
  GOutputStream *base = g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream));
  gssize n;

  n = g_output_stream_write (base, buffer, count, cancellable, error);
  if (n > 0)
    {
      g_checksum_update (self->md5, buffer, n);
      self->count += (guint64) n;
    }
  return n;
}

static void
digest_output_write_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DigestOutput *self = g_task_get_source_object (task);
  GError *error = NULL;
  gssize n;

  n = g_output_stream_write_finish (G_OUTPUT_STREAM (object), result, &error);
  if (n < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  g_checksum_update (self->md5, g_task_get_task_data (task), n);
  self->count += (guint64) n;
  g_task_return_int (task, n);
}

static void
digest_output_write_async (GOutputStream       *stream,
                           const void          *buffer,
                           gsize                count,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GOutputStream *base = g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream));
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, digest_output_write_async);
  g_task_set_task_data (task, (gpointer) buffer, NULL);
  g_output_stream_write_async (base, buffer, count, io_priority, cancellable,
                               digest_output_write_cb, task);
}

static gssize
digest_output_write_finish (GOutputStream  *stream,
                            GAsyncResult   *result,
                            GError        **error)
{
  return g_task_propagate_int (G_TASK (result), error);
}

static void
digest_output_finalize (GObject *object)
{
  DigestOutput *self = DIGEST_OUTPUT (object);

  g_checksum_free (self->md5);
  G_OBJECT_CLASS (digest_output_parent_class)->finalize (object);
}

static void
digest_output_class_init (DigestOutputClass *klass)
{
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = digest_output_finalize;
  stream_class->write_fn = digest_output_write;
  stream_class->write_async = digest_output_write_async;
  stream_class->write_finish = digest_output_write_finish;
}

static void
digest_output_init (DigestOutput *self)
{
  self->md5 = g_checksum_new (G_CHECKSUM_MD5);
}

static GOutputStream *
digest_output_new (GOutputStream *base)
{
  return g_object_new (DIGEST_TYPE_OUTPUT, "base-stream", base, "close-base-stream", FALSE, NULL);
}

static void
get_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  DigestOutput *digest = DIGEST_OUTPUT (op->digest);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(AssayObjectInfo) info = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;
  SoupMessageHeaders *headers;
  const char *md5;

  body = assay_aws_transport_download_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                              &transport_error);
  if (op_answer (self, op, body, message, transport_error, &error) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  headers = soup_message_get_response_headers (message);
  info = object_info_from_headers (op->key, headers);
  if (soup_message_headers_get_one (headers, "Content-Length") != NULL &&
      digest->count != info->size)
    {
      g_task_return_new_error (task, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BAD_DIGEST,
                               "S3 announced %" G_GUINT64_FORMAT " bytes for s3://%s/%s but sent %"
                               G_GUINT64_FORMAT, info->size, self->bucket, op->key, digest->count);
      return;
    }
  info->size = digest->count;
  md5 = g_checksum_get_string (digest->md5);
  if (soup_message_headers_get_one (headers, "Content-Encoding") == NULL &&
      etag_is_md5 (headers, info->etag) && strcmp (md5, info->etag) != 0)
    {
      g_task_return_new_error (task, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BAD_DIGEST,
                               "the %" G_GUINT64_FORMAT " bytes received for s3://%s/%s have the "
                               "MD5 %s, not the ETag %s", digest->count, self->bucket, op->key,
                               md5, info->etag);
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&info), (GDestroyNotify) assay_object_info_free);
}

void
assay_s3_client_get_object_async (AssayS3Client         *self,
                                  const char            *key,
                                  GOutputStream         *output,
                                  GFileProgressCallback  progress,
                                  gpointer               progress_data,
                                  GCancellable          *cancellable,
                                  GAsyncReadyCallback    callback,
                                  gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (G_IS_OUTPUT_STREAM (output));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (!check_key (key, &error))
    {
      g_task_report_error (self, callback, user_data, assay_s3_client_get_object_async, error);
      return;
    }

  op = op_new (self, SOUP_METHOD_GET, key, NULL);
  op->digest = digest_output_new (output);
  task = op_task (self, op, assay_s3_client_get_object_async, cancellable, callback, user_data);
  assay_aws_transport_download_async (self->transport, "s3", op->uri, op->headers, op->digest,
                                      assay_s3_classify, progress, progress_data, cancellable,
                                      get_cb, g_steal_pointer (&task));
}

/**
 * assay_s3_client_get_object_finish:
 * Returns: (transfer full): the object's information, or %NULL with an error.
 */
AssayObjectInfo *
assay_s3_client_get_object_finish (AssayS3Client  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_get_object_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* HeadObject, DeleteObject                                                               */

static void
head_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                          &transport_error);
  if (op_answer (self, op, body, message, transport_error, &error) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task,
                         object_info_from_headers (op->key,
                                                   soup_message_get_response_headers (message)),
                         (GDestroyNotify) assay_object_info_free);
}

void
assay_s3_client_head_object_async (AssayS3Client       *self,
                                   const char          *key,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  GError *error = NULL;
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));
  g_return_if_fail (key != NULL);

  if (!check_key (key, &error))
    {
      g_task_report_error (self, callback, user_data, assay_s3_client_head_object_async, error);
      return;
    }
  op = op_new (self, SOUP_METHOD_HEAD, key, NULL);
  op_send (op_task (self, op, assay_s3_client_head_object_async, cancellable, callback, user_data),
           head_cb);
}

/**
 * assay_s3_client_head_object_finish:
 * Returns: (transfer full): the object's information, or %NULL with an error
 * (%ASSAY_S3_ERROR_NO_SUCH_KEY when there is none).
 */
AssayObjectInfo *
assay_s3_client_head_object_finish (AssayS3Client  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_head_object_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* The answer checked; nothing more to read from it. */
static void
plain_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                          &transport_error);
  if (op_answer (self, op, body, message, transport_error, &error) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
assay_s3_client_delete_object_async (AssayS3Client       *self,
                                     const char          *key,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  GError *error = NULL;
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));
  g_return_if_fail (key != NULL);

  if (!check_key (key, &error))
    {
      g_task_report_error (self, callback, user_data, assay_s3_client_delete_object_async, error);
      return;
    }
  op = op_new (self, SOUP_METHOD_DELETE, key, NULL);
  op_send (op_task (self, op, assay_s3_client_delete_object_async, cancellable, callback,
                    user_data),
           plain_cb);
}

gboolean
assay_s3_client_delete_object_finish (AssayS3Client  *self,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_delete_object_async),
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* ListObjectsV2                                                                          */

static void
list_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;
  AssayObjectList *list;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                          &transport_error);
  if (op_answer (self, op, body, message, transport_error, &error) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  list = assay_s3_parse_list_objects (body, &error);
  if (list == NULL)
    {
      g_prefix_error (&error, "listing s3://%s: ", self->bucket);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, list, (GDestroyNotify) assay_object_list_free);
}

static void
append_param (GString    *query,
              const char *name,
              const char *value)
{
  g_autofree char *encoded = assay_sigv4_uri_encode (value, -1, FALSE);

  if (query->len > 0)
    g_string_append_c (query, '&');
  g_string_append_printf (query, "%s=%s", name, encoded);
}

void
assay_s3_client_list_objects_async (AssayS3Client       *self,
                                    const char          *prefix,
                                    const char          *continuation_token,
                                    guint                max_keys,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GString) query = g_string_new (NULL);
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));

  /* In canonical (sorted) order, every value encoded. */
  if (continuation_token != NULL)
    append_param (query, "continuation-token", continuation_token);
  append_param (query, "list-type", "2");
  if (max_keys > 0)
    {
      g_autofree char *n = g_strdup_printf ("%u", max_keys);
      append_param (query, "max-keys", n);
    }
  if (prefix != NULL && prefix[0] != '\0')
    append_param (query, "prefix", prefix);

  op = op_new (self, SOUP_METHOD_GET, NULL, query->str);
  op_send (op_task (self, op, assay_s3_client_list_objects_async, cancellable, callback,
                    user_data),
           list_cb);
}

/**
 * assay_s3_client_list_objects_finish:
 * Returns: (transfer full): one page, or %NULL with an error.
 */
AssayObjectList *
assay_s3_client_list_objects_finish (AssayS3Client  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_list_objects_async),
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* CopyObject                                                                             */

static void
copy_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(XmlNode) root = NULL;
  g_autoptr(GError) parse_error = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                          &transport_error);
  /* A 200 with an <Error> body is caught here too. */
  if (op_answer (self, op, body, message, transport_error, &error) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  root = xml_parse (body, &parse_error);
  if (root == NULL || strcmp (root->name, "CopyObjectResult") != 0)
    {
      g_autofree char *valid_message =
        parse_error != NULL ? g_utf8_make_valid (parse_error->message, -1) : NULL;

      g_task_return_new_error (task, ASSAY_S3_ERROR, ASSAY_S3_ERROR_MALFORMED,
                               "copying to s3://%s/%s: S3 answered a copy that is not what it "
                               "should be: %s", self->bucket, op->key,
                               root == NULL ? valid_message : root->name);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
assay_s3_client_copy_object_async (AssayS3Client       *self,
                                   const char          *source_key,
                                   const char          *key,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autofree char *encoded = NULL;
  GError *error = NULL;
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));
  g_return_if_fail (source_key != NULL);
  g_return_if_fail (key != NULL);

  if (!check_key (source_key, &error) || !check_key (key, &error))
    {
      g_task_report_error (self, callback, user_data, assay_s3_client_copy_object_async, error);
      return;
    }
  op = op_new (self, SOUP_METHOD_PUT, key, NULL);
  encoded = assay_s3_encode_key (source_key);
  g_hash_table_replace (op->headers, g_strdup ("x-amz-copy-source"),
                        g_strdup_printf ("/%s/%s", self->bucket, encoded));
  g_hash_table_replace (op->headers, g_strdup ("x-amz-metadata-directive"), g_strdup ("COPY"));
  op_send (op_task (self, op, assay_s3_client_copy_object_async, cancellable, callback, user_data),
           copy_cb);
}

gboolean
assay_s3_client_copy_object_finish (AssayS3Client  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_copy_object_async),
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* CreateBucket, HeadBucket                                                               */

static void
create_head_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                          &transport_error);
  if (op_answer (self, op, body, message, transport_error, &error) == NULL)
    {
      g_clear_error (&error);
      g_task_return_new_error (task, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BUCKET_EXISTS,
                               "the bucket name %s is taken by another account", self->bucket);
      return;
    }
  op->created = FALSE;
  g_task_return_boolean (task, TRUE);
}

static void
create_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayS3Client *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  GError *transport_error = NULL;
  GError *error = NULL;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (object), result, &message,
                                          &transport_error);
  if (op_answer (self, op, body, message, transport_error, &error) != NULL)
    {
      op->created = TRUE;
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (g_error_matches (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BUCKET_ALREADY_OWNED))
    {
      g_clear_error (&error);
      op->created = FALSE;
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (g_error_matches (error, ASSAY_S3_ERROR, ASSAY_S3_ERROR_BUCKET_EXISTS))
    {
      /* Some servers say BucketAlreadyExists to the owner too: ours if we may use it. */
      Op *head = op_new (self, SOUP_METHOD_HEAD, NULL, NULL);

      g_clear_error (&error);
      g_task_set_task_data (task, head, (GDestroyNotify) op_free);
      op_send (g_steal_pointer (&task), create_head_cb);
      return;
    }
  g_task_return_error (task, error);
}

void
assay_s3_client_create_bucket_async (AssayS3Client       *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  const char *region;
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));

  op = op_new (self, SOUP_METHOD_PUT, NULL, NULL);
  region = assay_aws_transport_get_region (self->transport);
  if (g_strcmp0 (region, "us-east-1") != 0)
    {
      g_autofree char *xml = g_strdup_printf ("<CreateBucketConfiguration xmlns=\"" S3_XMLNS "\">"
                                              "<LocationConstraint>%s</LocationConstraint>"
                                              "</CreateBucketConfiguration>", region);
      gsize len = strlen (xml);

      op->body = g_bytes_new_take (g_steal_pointer (&xml), len);
      op->payload_hash = assay_sigv4_sha256_hex (g_bytes_get_data (op->body, NULL), len);
      g_hash_table_replace (op->headers, g_strdup ("Content-Type"), g_strdup ("application/xml"));
    }
  op_send (op_task (self, op, assay_s3_client_create_bucket_async, cancellable, callback,
                    user_data),
           create_cb);
}

gboolean
assay_s3_client_create_bucket_finish (AssayS3Client  *self,
                                      GAsyncResult   *result,
                                      gboolean       *out_created,
                                      GError        **error)
{
  Op *op;

  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_create_bucket_async),
                        FALSE);

  op = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_created != NULL)
    *out_created = op->created;
  return TRUE;
}

void
assay_s3_client_head_bucket_async (AssayS3Client       *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  Op *op;

  g_return_if_fail (ASSAY_IS_S3_CLIENT (self));

  op = op_new (self, SOUP_METHOD_HEAD, NULL, NULL);
  op_send (op_task (self, op, assay_s3_client_head_bucket_async, cancellable, callback, user_data),
           plain_cb);
}

gboolean
assay_s3_client_head_bucket_finish (AssayS3Client  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (ASSAY_IS_S3_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, assay_s3_client_head_bucket_async),
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
