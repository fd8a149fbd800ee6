/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-dynamodb-client.h"

#include <string.h>

#define JSON_CONTENT_TYPE "application/x-amz-json-1.0"
#define TARGET_PREFIX     "DynamoDB_20120810."
#define HTTP_TOO_MANY_REQUESTS 429

G_DEFINE_QUARK (assay-dynamodb-error-quark, assay_dynamodb_error)

struct _AssayDynamodbClient
{
  GObject parent_instance;

  AssayAwsTransport *transport;
  GUri *endpoint;
  char *endpoint_text;
};

G_DEFINE_FINAL_TYPE (AssayDynamodbClient, assay_dynamodb_client, G_TYPE_OBJECT)

/* ------------------------------------------------------------------------------------- */
/* Errors: the one place where DynamoDB's `__type` is mapped                             */

typedef struct
{
  const char *type;
  AssayDynamodbError code;
  AssayAwsAnswer answer;
} ServiceError;

static const ServiceError service_errors[] = {
  { "ConditionalCheckFailedException", ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED,
    ASSAY_AWS_ANSWER_DONE },
  { "ProvisionedThroughputExceededException", ASSAY_DYNAMODB_ERROR_THROTTLED,
    ASSAY_AWS_ANSWER_RETRY },
  { "ThrottlingException", ASSAY_DYNAMODB_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "RequestLimitExceeded", ASSAY_DYNAMODB_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "LimitExceededException", ASSAY_DYNAMODB_ERROR_THROTTLED, ASSAY_AWS_ANSWER_RETRY },
  { "ValidationException", ASSAY_DYNAMODB_ERROR_VALIDATION, ASSAY_AWS_ANSWER_DONE },
  { "SerializationException", ASSAY_DYNAMODB_ERROR_VALIDATION, ASSAY_AWS_ANSWER_DONE },
  { "ResourceNotFoundException", ASSAY_DYNAMODB_ERROR_RESOURCE_NOT_FOUND,
    ASSAY_AWS_ANSWER_DONE },
  { "ResourceInUseException", ASSAY_DYNAMODB_ERROR_RESOURCE_IN_USE, ASSAY_AWS_ANSWER_DONE },
  { "UnrecognizedClientException", ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "InvalidSignatureException", ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "IncompleteSignatureException", ASSAY_DYNAMODB_ERROR_ACCESS_DENIED,
    ASSAY_AWS_ANSWER_DONE },
  { "MissingAuthenticationTokenException", ASSAY_DYNAMODB_ERROR_ACCESS_DENIED,
    ASSAY_AWS_ANSWER_DONE },
  { "AccessDeniedException", ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "ExpiredTokenException", ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_AWS_ANSWER_DONE },
  { "InternalServerError", ASSAY_DYNAMODB_ERROR_UNAVAILABLE, ASSAY_AWS_ANSWER_RETRY },
  { "InternalFailure", ASSAY_DYNAMODB_ERROR_UNAVAILABLE, ASSAY_AWS_ANSWER_RETRY },
  { "ServiceUnavailable", ASSAY_DYNAMODB_ERROR_UNAVAILABLE, ASSAY_AWS_ANSWER_RETRY },
  { "ServiceUnavailableException", ASSAY_DYNAMODB_ERROR_UNAVAILABLE, ASSAY_AWS_ANSWER_RETRY },
  { "UnknownOperationException", ASSAY_DYNAMODB_ERROR_UNSUPPORTED, ASSAY_AWS_ANSWER_DONE },
};

/* The string member @name of @object, or NULL when it is absent or not a string. */
static const char *
get_string (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The error's name from the body's `__type` (after the last '#') or from the
 * x-amzn-ErrorType header (before any ':'), and its message. */
static void
parse_error_answer (SoupMessageHeaders  *headers,
                    GBytes              *body,
                    char               **out_type,
                    char               **out_message)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *type = NULL;
  const char *hash;
  JsonNode *root;

  *out_type = NULL;
  *out_message = NULL;

  if (body != NULL && g_bytes_get_size (body) > 0 &&
      json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                  g_bytes_get_size (body), NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *object = json_node_get_object (root);
      const char *names[] = { "message", "Message" };

      type = get_string (object, "__type");
      for (guint i = 0; i < G_N_ELEMENTS (names) && *out_message == NULL; i++)
        *out_message = g_strdup (get_string (object, names[i]));
    }

  if (type != NULL)
    {
      hash = strrchr (type, '#');
      *out_type = g_strdup (hash != NULL ? hash + 1 : type);
    }
  else if (headers != NULL &&
           (type = soup_message_headers_get_one (headers, "x-amzn-ErrorType")) != NULL)
    {
      *out_type = g_strndup (type, strcspn (type, ":"));
    }

  if (*out_type != NULL && **out_type == '\0')
    g_clear_pointer (out_type, g_free);
}

static const ServiceError *
lookup_service_error (const char *type)
{
  if (type == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (service_errors); i++)
    if (g_str_equal (service_errors[i].type, type))
      return &service_errors[i];
  return NULL;
}

/* An InvalidSignatureException about the request's time rather than its signature:
 * "Signature expired: … is now earlier than …", "Signature not yet current: …". */
static gboolean
is_clock_skew (const char *type,
               const char *message)
{
  g_autofree char *lower = NULL;

  if (g_strcmp0 (type, "InvalidSignatureException") != 0 || message == NULL)
    return FALSE;
  lower = g_ascii_strdown (message, -1);
  return strstr (lower, "signature expired") != NULL ||
         strstr (lower, "not yet current") != NULL;
}

/**
 * assay_dynamodb_classify:
 * Tells the transport what a DynamoDB answer means: throttling and internal errors are
 * worth another attempt, a refused request time wants the clock corrected.
 */
AssayAwsAnswer
assay_dynamodb_classify (SoupMessage *message,
                         GBytes      *body)
{
  g_autofree char *type = NULL;
  g_autofree char *text = NULL;
  const ServiceError *known;
  guint status;

  g_return_val_if_fail (SOUP_IS_MESSAGE (message), ASSAY_AWS_ANSWER_DONE);

  status = soup_message_get_status (message);
  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    return ASSAY_AWS_ANSWER_DONE;

  parse_error_answer (soup_message_get_response_headers (message), body, &type, &text);
  if (is_clock_skew (type, text))
    return ASSAY_AWS_ANSWER_CLOCK_SKEW;
  known = lookup_service_error (type);
  if (known != NULL)
    return known->answer;
  if (status >= 500 || status == HTTP_TOO_MANY_REQUESTS)
    return ASSAY_AWS_ANSWER_RETRY;
  return ASSAY_AWS_ANSWER_DONE;
}

/**
 * assay_dynamodb_error_new_from_answer:
 * @headers: (nullable): the answer's headers
 * @body: (nullable): the answer's body
 * @credentials_source: (nullable): where the credentials came from, for AccessDenied
 * Returns: (transfer full): the error a non-2xx answer stands for.
 */
GError *
assay_dynamodb_error_new_from_answer (guint               status,
                                      SoupMessageHeaders *headers,
                                      GBytes             *body,
                                      const char         *credentials_source)
{
  g_autofree char *type = NULL;
  g_autofree char *text = NULL;
  const ServiceError *known;
  AssayDynamodbError code;
  g_autofree char *what = NULL;

  parse_error_answer (headers, body, &type, &text);
  known = lookup_service_error (type);

  if (is_clock_skew (type, text))
    code = ASSAY_DYNAMODB_ERROR_CLOCK_SKEW;
  else if (known != NULL)
    code = known->code;
  else if (status >= 500)
    code = ASSAY_DYNAMODB_ERROR_UNAVAILABLE;
  else if (status == HTTP_TOO_MANY_REQUESTS)
    code = ASSAY_DYNAMODB_ERROR_THROTTLED;
  else if (status == SOUP_STATUS_FORBIDDEN || status == SOUP_STATUS_UNAUTHORIZED)
    code = ASSAY_DYNAMODB_ERROR_ACCESS_DENIED;
  else
    code = ASSAY_DYNAMODB_ERROR_FAILED;

  if (type != NULL)
    what = g_strdup_printf ("%s: %s", type, text != NULL ? text : "(no message)");
  else
    what = g_strdup_printf ("HTTP %u %s", status,
                            text != NULL ? text : soup_status_get_phrase (status));

  switch (code)
    {
    case ASSAY_DYNAMODB_ERROR_ACCESS_DENIED:
      return g_error_new (ASSAY_DYNAMODB_ERROR, code,
                          "DynamoDB refused the credentials from %s (%s)",
                          credentials_source != NULL ? credentials_source : "an unknown source",
                          what);
    case ASSAY_DYNAMODB_ERROR_CLOCK_SKEW:
      return g_error_new (ASSAY_DYNAMODB_ERROR, code,
                          "DynamoDB refused the request time; is this computer's clock right? (%s)",
                          what);
    case ASSAY_DYNAMODB_ERROR_UNSUPPORTED:
      return g_error_new (ASSAY_DYNAMODB_ERROR, code,
                          "the DynamoDB service does not offer this operation (%s)", what);
    default:
      return g_error_new (ASSAY_DYNAMODB_ERROR, code, "DynamoDB: %s", what);
    }
}

/**
 * assay_dynamodb_error_to_store_error:
 * Returns: the AssayStoreError code that stands for @error.
 */
AssayStoreError
assay_dynamodb_error_to_store_error (const GError *error)
{
  g_return_val_if_fail (error != NULL, ASSAY_STORE_ERROR_FAILED);

  if (error->domain == ASSAY_AWS_ERROR)
    return ASSAY_STORE_ERROR_UNAVAILABLE;
  if (error->domain != ASSAY_DYNAMODB_ERROR)
    return ASSAY_STORE_ERROR_FAILED;

  switch ((AssayDynamodbError) error->code)
    {
    case ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED:
      return ASSAY_STORE_ERROR_CONDITION_FAILED;
    case ASSAY_DYNAMODB_ERROR_THROTTLED:
      return ASSAY_STORE_ERROR_THROTTLED;
    case ASSAY_DYNAMODB_ERROR_VALIDATION:
      return ASSAY_STORE_ERROR_INVALID;
    case ASSAY_DYNAMODB_ERROR_RESOURCE_NOT_FOUND:
    case ASSAY_DYNAMODB_ERROR_NO_ITEM:
      return ASSAY_STORE_ERROR_NOT_FOUND;
    case ASSAY_DYNAMODB_ERROR_ACCESS_DENIED:
    case ASSAY_DYNAMODB_ERROR_CLOCK_SKEW:
      return ASSAY_STORE_ERROR_ACCESS_DENIED;
    case ASSAY_DYNAMODB_ERROR_UNAVAILABLE:
    case ASSAY_DYNAMODB_ERROR_TIMED_OUT:
      return ASSAY_STORE_ERROR_UNAVAILABLE;
    case ASSAY_DYNAMODB_ERROR_MALFORMED:
      return ASSAY_STORE_ERROR_CORRUPT;
    case ASSAY_DYNAMODB_ERROR_RESOURCE_IN_USE:
    case ASSAY_DYNAMODB_ERROR_UNSUPPORTED:
    case ASSAY_DYNAMODB_ERROR_FAILED:
    default:
      return ASSAY_STORE_ERROR_FAILED;
    }
}

/* ------------------------------------------------------------------------------------- */
/* The object                                                                            */

static void
assay_dynamodb_client_finalize (GObject *object)
{
  AssayDynamodbClient *self = ASSAY_DYNAMODB_CLIENT (object);

  g_clear_object (&self->transport);
  g_clear_pointer (&self->endpoint, g_uri_unref);
  g_clear_pointer (&self->endpoint_text, g_free);

  G_OBJECT_CLASS (assay_dynamodb_client_parent_class)->finalize (object);
}

static void
assay_dynamodb_client_class_init (AssayDynamodbClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_dynamodb_client_finalize;
}

static void
assay_dynamodb_client_init (AssayDynamodbClient *self)
{
}

/**
 * assay_dynamodb_client_new:
 * @endpoint: (nullable): an http(s) URL, or NULL for the region's AWS endpoint
 * Returns: (transfer full): a client, or NULL when @endpoint is not a usable URL.
 */
AssayDynamodbClient *
assay_dynamodb_client_new (AssayAwsTransport  *transport,
                           const char         *endpoint,
                           GError            **error)
{
  g_autoptr(AssayDynamodbClient) self = NULL;
  g_autofree char *standard = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *scheme;

  g_return_val_if_fail (ASSAY_IS_AWS_TRANSPORT (transport), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (endpoint == NULL)
    {
      const char *region = assay_aws_transport_get_region (transport);

      g_return_val_if_fail (region != NULL, NULL);
      endpoint = standard = g_strdup_printf ("https://dynamodb.%s.amazonaws.com/", region);
    }

  uri = g_uri_parse (endpoint, G_URI_FLAGS_NONE, error);
  if (uri == NULL)
    {
      g_prefix_error (error, "DynamoDB endpoint “%s”: ", endpoint);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if ((g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "DynamoDB endpoint “%s” is not an http or https URL without a query",
                   endpoint);
      return NULL;
    }
  if (*g_uri_get_path (uri) == '\0')
    {
      GUri *with_root = g_uri_build (G_URI_FLAGS_NONE, scheme, NULL, g_uri_get_host (uri),
                                     g_uri_get_port (uri), "/", NULL, NULL);

      g_uri_unref (uri);
      uri = with_root;
    }

  self = g_object_new (ASSAY_TYPE_DYNAMODB_CLIENT, NULL);
  self->transport = g_object_ref (transport);
  self->endpoint = g_steal_pointer (&uri);
  self->endpoint_text = g_uri_to_string (self->endpoint);
  return g_steal_pointer (&self);
}

const char *
assay_dynamodb_client_get_endpoint (AssayDynamodbClient *self)
{
  g_return_val_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self), NULL);

  return self->endpoint_text;
}

/* ------------------------------------------------------------------------------------- */
/* One operation                                                                         */

typedef struct
{
  char *operation;
  guint attempt;
} CallData;

static void
call_data_free (CallData *data)
{
  g_free (data->operation);
  g_free (data);
}

static const char *
credentials_source (AssayDynamodbClient *self)
{
  AssayCredentials *credentials = assay_aws_transport_get_credentials (self->transport);

  return credentials != NULL ? assay_credentials_get_source (credentials) : NULL;
}

static JsonObject *
parse_answer (const char  *operation,
              GBytes      *body,
              GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (body == NULL || g_bytes_get_size (body) == 0)
    {
      g_set_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                   "DynamoDB answered %s with an empty body", operation);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                   &local_error))
    {
      g_set_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                   "DynamoDB answered %s with malformed JSON: %s", operation,
                   local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                   "DynamoDB answered %s with JSON that is not an object", operation);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static void
call_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayDynamodbClient *self = g_task_get_source_object (task);
  CallData *data = g_task_get_task_data (task);
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  GError *error = NULL;
  JsonObject *answer;
  guint status;

  body = assay_aws_transport_send_finish (ASSAY_AWS_TRANSPORT (source), result, &message, &error);
  if (body == NULL && error == NULL)
    body = g_bytes_new (NULL, 0);
  if (error != NULL)
    {
      /* The transport gave up on answers that the classifier called transient: a 4xx one
       * was throttling, a 5xx one the service failing. */
      status = message != NULL ? soup_message_get_status (message) : 0;
      if (g_error_matches (error, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_RETRIES) && status >= 400)
        {
          GError *mapped = g_error_new (ASSAY_DYNAMODB_ERROR,
                                        status >= 500 ? ASSAY_DYNAMODB_ERROR_UNAVAILABLE
                                                      : ASSAY_DYNAMODB_ERROR_THROTTLED,
                                        "DynamoDB %s: %s", data->operation, error->message);

          g_error_free (error);
          error = mapped;
        }
      g_task_return_error (task, error);
      return;
    }
  g_assert (message != NULL);

  data->attempt = assay_aws_transport_message_get_attempt (message);
  status = soup_message_get_status (message);
  g_debug ("DynamoDB %s: HTTP %u on attempt %u", data->operation, status, data->attempt);

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_task_return_error (task,
                           assay_dynamodb_error_new_from_answer (
                             status, soup_message_get_response_headers (message), body,
                             credentials_source (self)));
      return;
    }

  answer = parse_answer (data->operation, body, &error);
  if (answer == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, answer, (GDestroyNotify) json_object_unref);
}

/**
 * assay_dynamodb_client_call_async:
 * Sends @operation with @request as its body, signed, through the transport.
 */
void
assay_dynamodb_client_call_async (AssayDynamodbClient *self,
                                  const char          *operation,
                                  JsonObject          *request,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GHashTable) headers = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *hash = NULL;
  CallData *data;
  char *text;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (operation != NULL);
  g_return_if_fail (request != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_dynamodb_client_call_async);
  data = g_new0 (CallData, 1);
  data->operation = g_strdup (operation);
  g_task_set_task_data (task, data, (GDestroyNotify) call_data_free);

  node = json_node_init_object (json_node_alloc (), request);
  text = json_to_string (node, FALSE);
  body = g_bytes_new_take (text, strlen (text));
  hash = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, body);

  headers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (headers, (char *) "Content-Type", g_strdup (JSON_CONTENT_TYPE));
  g_hash_table_insert (headers, (char *) "X-Amz-Target",
                       g_strconcat (TARGET_PREFIX, operation, NULL));

  assay_aws_transport_send_async (self->transport, "dynamodb", "POST", self->endpoint, headers,
                                  body, hash, assay_dynamodb_classify, NULL, NULL, cancellable,
                                  call_cb, g_steal_pointer (&task));
}

/**
 * assay_dynamodb_client_call_finish:
 * @out_attempt: (out) (optional): the attempt that answered, 0 when unknown
 * Returns: (transfer full): the answer.
 */
JsonObject *
assay_dynamodb_client_call_finish (AssayDynamodbClient  *self,
                                   GAsyncResult         *result,
                                   guint                *out_attempt,
                                   GError              **error)
{
  CallData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_call_async,
                        NULL);

  data = g_task_get_task_data (G_TASK (result));
  if (out_attempt != NULL)
    *out_attempt = data->attempt;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Request pieces                                                                        */

static JsonObject *
request_new (const char *table)
{
  JsonObject *request = json_object_new ();

  json_object_set_string_member (request, "TableName", table);
  return request;
}

static JsonObject *
key_new (const char *id)
{
  JsonObject *key = json_object_new ();

  json_object_set_member (key, "id", assay_value_string (id));
  return key;
}

/* Adds the names and values the expressions used, if any. */
static void
add_expression (JsonObject      *request,
                AssayExpression *expression)
{
  JsonObject *names = assay_expression_get_names (expression);
  JsonObject *values = assay_expression_get_values (expression);

  if (json_object_get_size (names) > 0)
    json_object_set_object_member (request, "ExpressionAttributeNames", json_object_ref (names));
  if (json_object_get_size (values) > 0)
    json_object_set_object_member (request, "ExpressionAttributeValues",
                                   json_object_ref (values));
}

static void
add_condition (JsonObject      *request,
               AssayCondition  *condition,
               AssayExpression *expression)
{
  g_autofree char *text = NULL;

  if (condition == NULL)
    return;
  text = assay_condition_render (condition, expression);
  json_object_set_string_member (request, "ConditionExpression", text);
}

/* Two items are the same when they have the same attributes with equal values (numbers
 * by value, as DynamoDB keeps them). */
static gboolean
items_equal (JsonObject *a,
             JsonObject *b)
{
  GList *members;
  gboolean equal = TRUE;

  if (json_object_get_size (a) != json_object_get_size (b))
    return FALSE;
  members = json_object_get_members (a);
  for (GList *l = members; l != NULL && equal; l = l->next)
    {
      JsonNode *other = json_object_get_member (b, l->data);
      gboolean comparable;

      equal = other != NULL &&
              assay_value_compare (json_object_get_member (a, l->data), other, &comparable) == 0;
    }
  g_list_free (members);
  return equal;
}

/* The object member @name of @answer, or a new empty object when it has none.
 * Returns: (transfer full): NULL (with @error) when @name is not an object. */
static JsonObject *
dup_object_member (JsonObject  *answer,
                   const char  *operation,
                   const char  *name,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (answer, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return json_object_new ();
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                   "DynamoDB answered %s with a “%s” that is not an object", operation, name);
      return NULL;
    }
  return json_object_ref (json_node_get_object (node));
}

/* ------------------------------------------------------------------------------------- */
/* GetItem                                                                               */

static void
get_item_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  const char *what = g_task_get_task_data (task);
  g_autoptr(JsonObject) answer = NULL;
  JsonNode *item;
  GError *error = NULL;

  answer = assay_dynamodb_client_call_finish (ASSAY_DYNAMODB_CLIENT (source), result, NULL,
                                              &error);
  if (answer == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  item = json_object_get_member (answer, "Item");
  if (item == NULL || JSON_NODE_HOLDS_NULL (item))
    g_task_return_new_error (task, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_NO_ITEM,
                             "no item %s", what);
  else if (!JSON_NODE_HOLDS_OBJECT (item))
    g_task_return_new_error (task, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                             "DynamoDB answered GetItem with an “Item” that is not an object");
  else
    g_task_return_pointer (task, json_object_ref (json_node_get_object (item)),
                           (GDestroyNotify) json_object_unref);
}

void
assay_dynamodb_client_get_item_async (AssayDynamodbClient *self,
                                      const char          *table,
                                      const char          *id,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);
  g_return_if_fail (id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_dynamodb_client_get_item_async);
  g_task_set_task_data (task, g_strdup_printf ("“%s” in table %s", id, table), g_free);

  request = request_new (table);
  json_object_set_object_member (request, "Key", key_new (id));
  json_object_set_boolean_member (request, "ConsistentRead", TRUE);
  assay_dynamodb_client_call_async (self, "GetItem", request, cancellable, get_item_cb,
                                    g_steal_pointer (&task));
}

JsonObject *
assay_dynamodb_client_get_item_finish (AssayDynamodbClient  *self,
                                       GAsyncResult         *result,
                                       GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_get_item_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Conditional writes, and the check after a refused retry                               */

typedef enum
{
  WRITE_PUT,
  WRITE_UPDATE,
  WRITE_DELETE,
} WriteKind;

typedef struct
{
  WriteKind kind;
  const char *operation;
  char *table;
  char *id;                        /* NULL when it cannot be known (a put without an id) */
  JsonObject *item;                /* PUT: what was written */
  AssayUpdate *update;             /* UPDATE */
  AssayReturnValues return_values; /* UPDATE */
  GError *conflict;                /* the ConditionalCheckFailed being looked into */
} WriteData;

static void
write_data_free (WriteData *data)
{
  g_free (data->table);
  g_free (data->id);
  g_clear_pointer (&data->item, json_object_unref);
  g_clear_pointer (&data->update, assay_update_unref);
  g_clear_error (&data->conflict);
  g_free (data);
}

static GTask *
write_task_new (AssayDynamodbClient *self,
                WriteKind            kind,
                const char          *table,
                const char          *id,
                gpointer             source_tag,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  static const char * const operations[] = { "PutItem", "UpdateItem", "DeleteItem" };
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  WriteData *data = g_new0 (WriteData, 1);

  g_task_set_source_tag (task, source_tag);
  data->kind = kind;
  data->operation = operations[kind];
  data->table = g_strdup (table);
  data->id = g_strdup (id);
  g_task_set_task_data (task, data, (GDestroyNotify) write_data_free);
  return task;
}

static void
write_return (GTask      *task,
              JsonObject *answer)
{
  WriteData *data = g_task_get_task_data (task);
  JsonObject *attributes;
  GError *error = NULL;

  if (data->kind != WRITE_UPDATE)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  attributes = dup_object_member (answer, data->operation, "Attributes", &error);
  if (attributes == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, attributes, (GDestroyNotify) json_object_unref);
}

static void
write_check_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WriteData *data = g_task_get_task_data (task);
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;
  gboolean applied = FALSE;

  item = assay_dynamodb_client_get_item_finish (ASSAY_DYNAMODB_CLIENT (source), result, &error);
  if (item == NULL && !g_error_matches (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_NO_ITEM))
    {
      g_prefix_error (&error, "%s of “%s” was refused on a retry, and whether an earlier "
                      "attempt had been applied could not be read: ",
                      data->operation, data->id);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  switch (data->kind)
    {
    case WRITE_PUT:
      applied = item != NULL && items_equal (item, data->item);
      break;
    case WRITE_UPDATE:
      applied = item != NULL && assay_update_is_applied (data->update, item);
      break;
    case WRITE_DELETE:
      applied = item == NULL;
      break;
    default:
      g_assert_not_reached ();
    }

  if (!applied)
    {
      g_task_return_error (task, g_steal_pointer (&data->conflict));
      return;
    }

  g_debug ("%s of “%s” in %s: refused on a retry, but an earlier attempt had been applied",
           data->operation, data->id, data->table);
  if (data->kind == WRITE_UPDATE)
    g_task_return_pointer (task,
                           data->return_values == ASSAY_RETURN_ALL_NEW ? g_steal_pointer (&item)
                                                                       : json_object_new (),
                           (GDestroyNotify) json_object_unref);
  else
    g_task_return_boolean (task, TRUE);
}

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AssayDynamodbClient *self = ASSAY_DYNAMODB_CLIENT (source);
  WriteData *data = g_task_get_task_data (task);
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GError) error = NULL;
  guint attempt = 0;

  answer = assay_dynamodb_client_call_finish (self, result, &attempt, &error);
  if (answer != NULL)
    {
      write_return (task, answer);
      return;
    }

  /* An earlier attempt may have made the write and lost its answer: then the condition is
   * false now because of our own write. Only the item can tell. */
  if (attempt > 1 && data->id != NULL &&
      g_error_matches (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED))
    {
      g_debug ("%s of “%s” in %s refused on attempt %u: reading it back", data->operation,
               data->id, data->table, attempt);
      GCancellable *cancellable = g_task_get_cancellable (task);

      data->conflict = g_steal_pointer (&error);
      assay_dynamodb_client_get_item_async (self, data->table, data->id, cancellable,
                                            write_check_cb, g_steal_pointer (&task));
      return;
    }

  g_task_return_error (task, g_steal_pointer (&error));
}

/* PutItem */

void
assay_dynamodb_client_put_item_async (AssayDynamodbClient *self,
                                      const char          *table,
                                      JsonObject          *item,
                                      AssayCondition      *condition,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(AssayExpression) expression = NULL;
  JsonNode *id_node, *inner = NULL;
  const char *id = NULL;
  WriteData *data;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);
  g_return_if_fail (item != NULL);

  id_node = json_object_get_member (item, "id");
  if (id_node != NULL && JSON_NODE_HOLDS_OBJECT (id_node))
    inner = json_object_get_member (json_node_get_object (id_node), "S");
  if (inner != NULL && JSON_NODE_HOLDS_VALUE (inner) &&
      json_node_get_value_type (inner) == G_TYPE_STRING)
    id = json_node_get_string (inner);

  task = write_task_new (self, WRITE_PUT, table, id, assay_dynamodb_client_put_item_async,
                         cancellable, callback, user_data);
  data = g_task_get_task_data (task);
  data->item = json_object_ref (item);

  request = request_new (table);
  json_object_set_object_member (request, "Item", json_object_ref (item));
  expression = assay_expression_new ();
  add_condition (request, condition, expression);
  add_expression (request, expression);
  assay_dynamodb_client_call_async (self, "PutItem", request, cancellable, write_cb,
                                    g_steal_pointer (&task));
}

gboolean
assay_dynamodb_client_put_item_finish (AssayDynamodbClient  *self,
                                       GAsyncResult         *result,
                                       GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_put_item_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* UpdateItem */

void
assay_dynamodb_client_update_item_async (AssayDynamodbClient *self,
                                         const char          *table,
                                         const char          *id,
                                         AssayUpdate         *update,
                                         AssayCondition      *condition,
                                         AssayReturnValues    return_values,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  static const char * const return_names[] = { "NONE", "ALL_OLD", "ALL_NEW" };
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(AssayExpression) expression = NULL;
  g_autofree char *update_text = NULL;
  WriteData *data;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);
  g_return_if_fail (id != NULL);
  g_return_if_fail (update != NULL);
  g_return_if_fail (return_values <= ASSAY_RETURN_ALL_NEW);

  task = write_task_new (self, WRITE_UPDATE, table, id, assay_dynamodb_client_update_item_async,
                         cancellable, callback, user_data);
  data = g_task_get_task_data (task);
  data->update = assay_update_ref (update);
  data->return_values = return_values;

  request = request_new (table);
  json_object_set_object_member (request, "Key", key_new (id));
  expression = assay_expression_new ();
  update_text = assay_update_render (update, expression);
  json_object_set_string_member (request, "UpdateExpression", update_text);
  add_condition (request, condition, expression);
  add_expression (request, expression);
  json_object_set_string_member (request, "ReturnValues", return_names[return_values]);
  assay_dynamodb_client_call_async (self, "UpdateItem", request, cancellable, write_cb,
                                    g_steal_pointer (&task));
}

JsonObject *
assay_dynamodb_client_update_item_finish (AssayDynamodbClient  *self,
                                          GAsyncResult         *result,
                                          GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_update_item_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* DeleteItem */

void
assay_dynamodb_client_delete_item_async (AssayDynamodbClient *self,
                                         const char          *table,
                                         const char          *id,
                                         AssayCondition      *condition,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(AssayExpression) expression = NULL;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);
  g_return_if_fail (id != NULL);

  task = write_task_new (self, WRITE_DELETE, table, id, assay_dynamodb_client_delete_item_async,
                         cancellable, callback, user_data);

  request = request_new (table);
  json_object_set_object_member (request, "Key", key_new (id));
  expression = assay_expression_new ();
  add_condition (request, condition, expression);
  add_expression (request, expression);
  assay_dynamodb_client_call_async (self, "DeleteItem", request, cancellable, write_cb,
                                    g_steal_pointer (&task));
}

gboolean
assay_dynamodb_client_delete_item_finish (AssayDynamodbClient  *self,
                                          GAsyncResult         *result,
                                          GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_delete_item_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Query                                                                                 */

static void
query_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(AssayItemPage) page = NULL;
  JsonNode *items, *last_key;
  GError *error = NULL;

  answer = assay_dynamodb_client_call_finish (ASSAY_DYNAMODB_CLIENT (source), result, NULL,
                                              &error);
  if (answer == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  page = g_new0 (AssayItemPage, 1);
  page->items = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  items = json_object_get_member (answer, "Items");
  if (items != NULL && !JSON_NODE_HOLDS_ARRAY (items))
    {
      g_task_return_new_error (task, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                               "DynamoDB answered Query with “Items” that are not an array");
      return;
    }
  for (guint i = 0; items != NULL && i < json_array_get_length (json_node_get_array (items)); i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (items), i);

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          g_task_return_new_error (task, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                                   "DynamoDB answered Query with an item that is not an object");
          return;
        }
      g_ptr_array_add (page->items, json_object_ref (json_node_get_object (item)));
    }

  last_key = json_object_get_member (answer, "LastEvaluatedKey");
  if (last_key != NULL && JSON_NODE_HOLDS_OBJECT (last_key))
    page->last_key = json_object_ref (json_node_get_object (last_key));
  else if (last_key != NULL && !JSON_NODE_HOLDS_NULL (last_key))
    {
      g_task_return_new_error (task, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                               "DynamoDB answered Query with a “LastEvaluatedKey” that is not "
                               "an object");
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&page), (GDestroyNotify) assay_item_page_free);
}

void
assay_dynamodb_client_query_async (AssayDynamodbClient *self,
                                   const char          *table,
                                   const AssayQuery    *query,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  static const char * const ops[] = { "=", "<>", "<", "<=", ">", ">=" };
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(AssayExpression) expression = NULL;
  g_autoptr(GString) key_condition = g_string_new (NULL);

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);
  g_return_if_fail (query != NULL && query->hash_name != NULL && query->hash_value != NULL);
  g_return_if_fail (query->range_name == NULL ||
                    (query->range_value != NULL && query->range_op != ASSAY_COMPARE_NE &&
                     query->range_op <= ASSAY_COMPARE_GE));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_dynamodb_client_query_async);

  request = request_new (table);
  if (query->index != NULL)
    json_object_set_string_member (request, "IndexName", query->index);

  expression = assay_expression_new ();
  g_string_append_printf (key_condition, "%s = ",
                          assay_expression_name (expression, query->hash_name));
  g_string_append (key_condition, assay_expression_value (expression, query->hash_value));
  if (query->range_name != NULL)
    {
      g_string_append_printf (key_condition, " AND %s %s ",
                              assay_expression_name (expression, query->range_name),
                              ops[query->range_op]);
      g_string_append (key_condition, assay_expression_value (expression, query->range_value));
    }
  json_object_set_string_member (request, "KeyConditionExpression", key_condition->str);
  add_expression (request, expression);
  json_object_set_boolean_member (request, "ScanIndexForward", TRUE);
  if (query->limit > 0)
    json_object_set_int_member (request, "Limit", query->limit);
  if (query->start_key != NULL)
    json_object_set_object_member (request, "ExclusiveStartKey",
                                   json_object_ref (query->start_key));

  assay_dynamodb_client_call_async (self, "Query", request, cancellable, query_cb,
                                    g_steal_pointer (&task));
}

/**
 * assay_dynamodb_client_query_finish:
 * Returns: (transfer full): one page of items.
 */
AssayItemPage *
assay_dynamodb_client_query_finish (AssayDynamodbClient  *self,
                                    GAsyncResult         *result,
                                    GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_query_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* Tables                                                                                */

static void
add_key_element (JsonBuilder *builder,
                 const char  *name,
                 const char  *key_type)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "AttributeName");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "KeyType");
  json_builder_add_string_value (builder, key_type);
  json_builder_end_object (builder);
}

static void
add_attribute_definition (JsonBuilder *builder,
                          const char  *name)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "AttributeName");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "AttributeType");
  json_builder_add_string_value (builder, "S");
  json_builder_end_object (builder);
}

/* The CreateTable request for @role. */
static JsonObject *
create_table_request (AssayTable  role,
                      const char *table)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  gboolean jobs = role == ASSAY_TABLE_JOBS;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "TableName");
  json_builder_add_string_value (builder, table);

  json_builder_set_member_name (builder, "AttributeDefinitions");
  json_builder_begin_array (builder);
  add_attribute_definition (builder, "id");
  if (jobs)
    {
      add_attribute_definition (builder, "queue");
      add_attribute_definition (builder, "due");
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "KeySchema");
  json_builder_begin_array (builder);
  add_key_element (builder, "id", "HASH");
  json_builder_end_array (builder);

  if (jobs)
    {
      json_builder_set_member_name (builder, "GlobalSecondaryIndexes");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "IndexName");
      json_builder_add_string_value (builder, ASSAY_DYNAMODB_QUEUE_INDEX);
      json_builder_set_member_name (builder, "KeySchema");
      json_builder_begin_array (builder);
      add_key_element (builder, "queue", "HASH");
      add_key_element (builder, "due", "RANGE");
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "Projection");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "ProjectionType");
      json_builder_add_string_value (builder, "ALL");
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      json_builder_end_array (builder);
    }

  json_builder_set_member_name (builder, "BillingMode");
  json_builder_add_string_value (builder, "PAY_PER_REQUEST");
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_object_ref (json_node_get_object (root));
}

static void
create_table_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(JsonObject) answer = NULL;
  GError *error = NULL;

  answer = assay_dynamodb_client_call_finish (ASSAY_DYNAMODB_CLIENT (source), result, NULL,
                                              &error);
  if (answer != NULL)
    g_task_return_int (task, TRUE);
  else if (g_error_matches (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_RESOURCE_IN_USE))
    {
      g_debug ("table %s exists already", (const char *) g_task_get_task_data (task));
      g_error_free (error);
      g_task_return_int (task, FALSE);
    }
  else
    g_task_return_error (task, error);
}

void
assay_dynamodb_client_create_table_async (AssayDynamodbClient *self,
                                          AssayTable           role,
                                          const char          *table,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (role == ASSAY_TABLE_JOBS || role == ASSAY_TABLE_RESULTS);
  g_return_if_fail (table != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_dynamodb_client_create_table_async);
  g_task_set_task_data (task, g_strdup (table), g_free);

  request = create_table_request (role, table);
  assay_dynamodb_client_call_async (self, "CreateTable", request, cancellable, create_table_cb,
                                    g_steal_pointer (&task));
}

/**
 * assay_dynamodb_client_create_table_finish:
 * @out_created: (out) (optional): %TRUE when the table was made, %FALSE when it existed
 */
gboolean
assay_dynamodb_client_create_table_finish (AssayDynamodbClient  *self,
                                           GAsyncResult         *result,
                                           gboolean             *out_created,
                                           GError              **error)
{
  gssize created;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_create_table_async,
                        FALSE);

  created = g_task_propagate_int (G_TASK (result), error);
  if (created < 0)
    return FALSE;
  if (out_created != NULL)
    *out_created = created > 0;
  return TRUE;
}

static void
describe_table_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(JsonObject) answer = NULL;
  JsonNode *table;
  GError *error = NULL;

  answer = assay_dynamodb_client_call_finish (ASSAY_DYNAMODB_CLIENT (source), result, NULL,
                                              &error);
  if (answer == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  table = json_object_get_member (answer, "Table");
  if (table == NULL || !JSON_NODE_HOLDS_OBJECT (table))
    g_task_return_new_error (task, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED,
                             "DynamoDB answered DescribeTable without a “Table” object");
  else
    g_task_return_pointer (task, json_object_ref (json_node_get_object (table)),
                           (GDestroyNotify) json_object_unref);
}

void
assay_dynamodb_client_describe_table_async (AssayDynamodbClient *self,
                                            const char          *table,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_dynamodb_client_describe_table_async);

  request = request_new (table);
  assay_dynamodb_client_call_async (self, "DescribeTable", request, cancellable,
                                    describe_table_cb, g_steal_pointer (&task));
}

JsonObject *
assay_dynamodb_client_describe_table_finish (AssayDynamodbClient  *self,
                                             GAsyncResult         *result,
                                             GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_describe_table_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Waiting for ACTIVE */

#define WAIT_FIRST_DELAY_MS 100
#define WAIT_MAX_DELAY_MS   2000

typedef struct
{
  char *table;
  gint64 deadline;  /* monotonic, µs */
  guint timeout_ms;
  guint delay_ms;
} WaitData;

static void
wait_data_free (WaitData *data)
{
  g_free (data->table);
  g_free (data);
}

/* Returns: the status that is not ACTIVE yet (the table's or an index's), or NULL. */
static const char *
find_inactive (JsonObject *description)
{
  const char *status = get_string (description, "TableStatus");
  JsonNode *indexes;

  if (status == NULL)
    return "without a status";
  if (!g_str_equal (status, "ACTIVE"))
    return status;
  indexes = json_object_get_member (description, "GlobalSecondaryIndexes");
  if (indexes == NULL || !JSON_NODE_HOLDS_ARRAY (indexes))
    return NULL;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (indexes)); i++)
    {
      JsonNode *index = json_array_get_element (json_node_get_array (indexes), i);

      if (!JSON_NODE_HOLDS_OBJECT (index))
        return "with an index that is not an object";
      status = get_string (json_node_get_object (index), "IndexStatus");
      if (status == NULL)
        return "with an index without a status";
      if (!g_str_equal (status, "ACTIVE"))
        return status;
    }
  return NULL;
}

static void wait_describe_cb (GObject      *source,
                              GAsyncResult *result,
                              gpointer      user_data);

static gboolean
wait_timer_cb (gpointer user_data)
{
  GTask *task = user_data; /* the reference wait_describe_cb left */
  WaitData *data = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }
  assay_dynamodb_client_describe_table_async (g_task_get_source_object (task), data->table,
                                              g_task_get_cancellable (task), wait_describe_cb,
                                              task);
  return G_SOURCE_REMOVE;
}

static void
wait_describe_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WaitData *data = g_task_get_task_data (task);
  g_autoptr(JsonObject) description = NULL;
  g_autoptr(GSource) timer = NULL;
  const char *inactive;
  GError *error = NULL;
  gint64 now;

  description = assay_dynamodb_client_describe_table_finish (ASSAY_DYNAMODB_CLIENT (source),
                                                             result, &error);
  if (description == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  inactive = find_inactive (description);
  if (inactive == NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&description),
                             (GDestroyNotify) json_object_unref);
      return;
    }

  now = g_get_monotonic_time ();
  if (now >= data->deadline)
    {
      g_task_return_new_error (task, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_TIMED_OUT,
                               "DynamoDB table %s is still %s after %u ms", data->table,
                               inactive, data->timeout_ms);
      return;
    }

  g_debug ("table %s is %s; asking again in %u ms", data->table, inactive, data->delay_ms);
  timer = g_timeout_source_new (MIN ((gint64) data->delay_ms, (data->deadline - now) / 1000 + 1));
  data->delay_ms = MIN (data->delay_ms * 2, WAIT_MAX_DELAY_MS);
  g_task_attach_source (task, timer, wait_timer_cb);
  g_steal_pointer (&task); /* wait_timer_cb owns it now */
}

void
assay_dynamodb_client_wait_active_async (AssayDynamodbClient *self,
                                         const char          *table,
                                         guint                timeout_ms,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  WaitData *data;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_dynamodb_client_wait_active_async);
  data = g_new0 (WaitData, 1);
  data->table = g_strdup (table);
  data->timeout_ms = timeout_ms;
  data->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  data->delay_ms = WAIT_FIRST_DELAY_MS;
  g_task_set_task_data (task, data, (GDestroyNotify) wait_data_free);

  assay_dynamodb_client_describe_table_async (self, table, cancellable, wait_describe_cb,
                                              g_steal_pointer (&task));
}

JsonObject *
assay_dynamodb_client_wait_active_finish (AssayDynamodbClient  *self,
                                          GAsyncResult         *result,
                                          GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_wait_active_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------- */
/* UpdateTimeToLive                                                                      */

static void
enable_ttl_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(JsonObject) answer = NULL;
  GError *error = NULL;

  answer = assay_dynamodb_client_call_finish (ASSAY_DYNAMODB_CLIENT (source), result, NULL,
                                              &error);
  if (answer != NULL)
    g_task_return_boolean (task, TRUE);
  /* AWS refuses to turn on what is on already: "TimeToLive is already enabled" */
  else if (g_error_matches (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_VALIDATION) &&
           strstr (error->message, "already enabled") != NULL)
    {
      g_error_free (error);
      g_task_return_boolean (task, TRUE);
    }
  else
    g_task_return_error (task, error);
}

void
assay_dynamodb_client_enable_ttl_async (AssayDynamodbClient *self,
                                        const char          *table,
                                        const char          *attribute,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonObject) request = NULL;
  JsonObject *specification;

  g_return_if_fail (ASSAY_IS_DYNAMODB_CLIENT (self));
  g_return_if_fail (table != NULL);
  g_return_if_fail (attribute != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_dynamodb_client_enable_ttl_async);

  request = request_new (table);
  specification = json_object_new ();
  json_object_set_boolean_member (specification, "Enabled", TRUE);
  json_object_set_string_member (specification, "AttributeName", attribute);
  json_object_set_object_member (request, "TimeToLiveSpecification", specification);
  assay_dynamodb_client_call_async (self, "UpdateTimeToLive", request, cancellable,
                                    enable_ttl_cb, g_steal_pointer (&task));
}

gboolean
assay_dynamodb_client_enable_ttl_finish (AssayDynamodbClient  *self,
                                         GAsyncResult         *result,
                                         GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          assay_dynamodb_client_enable_ttl_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
