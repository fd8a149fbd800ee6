/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-dynamodb-client.h"

#include <libsoup/soup.h>
#include <string.h>

/*
 * The DynamoDB client against an in-process SoupServer that records each request and
 * answers from a script: what the requests look like, how answers and errors are read,
 * malformed answers, and how a refused retry of a write that had been applied is told
 * from a real conflict.
 */

typedef struct
{
  guint status;
  char *body;
  char *error_type; /* an x-amzn-ErrorType header, or NULL */
} Answer;

typedef struct
{
  char *target;
  char *content_type;
  char *authorization;
  char *content_sha256;
  char *body_sha256;
  JsonObject *body;
} Request;

typedef struct
{
  SoupServer *server;
  char *url;
  GQueue answers;
  GPtrArray *requests;
  AssayAwsTransport *transport;
  AssayDynamodbClient *client;
} Fixture;

static void
answer_free (Answer *answer)
{
  g_free (answer->body);
  g_free (answer->error_type);
  g_free (answer);
}

static void
request_free (Request *request)
{
  g_free (request->target);
  g_free (request->content_type);
  g_free (request->authorization);
  g_free (request->content_sha256);
  g_free (request->body_sha256);
  g_clear_pointer (&request->body, json_object_unref);
  g_free (request);
}

static void
script (Fixture    *f,
        guint       status,
        const char *body)
{
  Answer *answer = g_new0 (Answer, 1);

  answer->status = status;
  answer->body = g_strdup (body);
  g_queue_push_tail (&f->answers, answer);
}

static void
script_error (Fixture    *f,
              guint       status,
              const char *type,
              const char *message)
{
  g_autofree char *body = g_strdup_printf (
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\",\"message\":\"%s\"}", type, message);

  script (f, status, body);
}

static void
handle_cb (SoupServer        *server,
           SoupServerMessage *message,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  Fixture *f = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (message);
  SoupMessageBody *body = soup_server_message_get_request_body (message);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(JsonParser) parser = json_parser_new ();
  Request *request = g_new0 (Request, 1);
  Answer *answer;

  request->target = g_strdup (soup_message_headers_get_one (headers, "X-Amz-Target"));
  request->content_type = g_strdup (soup_message_headers_get_one (headers, "Content-Type"));
  request->authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  request->content_sha256 = g_strdup (soup_message_headers_get_one (headers,
                                                                    "X-Amz-Content-SHA256"));
  request->body_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  if (json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                  NULL) &&
      json_parser_get_root (parser) != NULL &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    request->body = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  g_assert_true (g_str_equal (soup_server_message_get_method (message), "POST"));
  g_assert_cmpstr (path, ==, "/");
  g_ptr_array_add (f->requests, request);

  answer = g_queue_pop_head (&f->answers);
  if (answer == NULL)
    {
      soup_server_message_set_status (message, 599, "no answer scripted");
      return;
    }
  soup_server_message_set_status (message, answer->status, NULL);
  if (answer->error_type != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (message),
                                  "x-amzn-ErrorType", answer->error_type);
  soup_server_message_set_response (message, "application/x-amz-json-1.0", SOUP_MEMORY_COPY,
                                    answer->body, strlen (answer->body));
  answer_free (answer);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  const AssayAwsRetryPolicy policy = {
    .max_attempts = 3,
    .base_delay_ms = 1,
    .max_delay_ms = 5,
    .connect_timeout_s = 5,
    .idle_timeout_s = 10,
  };
  g_autoptr(AssayCredentials) credentials = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSList) uris = NULL;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, handle_cb, f, NULL);
  soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);

  g_queue_init (&f->answers);
  f->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);

  credentials = assay_credentials_new ("AKIDUNIT", "unit-secret", NULL, "the unit test");
  f->transport = assay_aws_transport_new (credentials, "eu-west-1", &policy);
  f->client = assay_dynamodb_client_new (f->transport, f->url, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_assert_finalize_object (f->client);
  g_assert_finalize_object (f->transport);
  g_queue_clear_full (&f->answers, (GDestroyNotify) answer_free);
  g_ptr_array_unref (f->requests);
  soup_server_disconnect (f->server);
  g_assert_finalize_object (f->server);
  g_free (f->url);
}

static Request *
request_at (Fixture *f,
            guint    index)
{
  g_assert_cmpuint (index, <, f->requests->len);
  return g_ptr_array_index (f->requests, index);
}

static char *
to_text (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

static JsonObject *
from_text (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static void
assert_member (JsonObject *object,
               const char *name,
               const char *json)
{
  g_autoptr(JsonNode) expected = json_from_string (json, NULL);
  JsonNode *actual = json_object_get_member (object, name);

  g_assert_nonnull (expected);
  if (actual == NULL || !json_node_equal (actual, expected))
    {
      g_autofree char *text = actual != NULL ? json_to_string (actual, FALSE) : NULL;

      g_error ("member %s is %s, expected %s", name, text ? text : "(absent)", json);
    }
}

/* Runs the main context until *slot holds a result. */
static void
store_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static gboolean
put_item (Fixture         *f,
          JsonObject      *item,
          AssayCondition  *condition,
          GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_put_item_async (f->client, "jobs", item, condition, NULL, store_cb,
                                        &result);
  return assay_dynamodb_client_put_item_finish (f->client, wait_for (&result), error);
}

static JsonObject *
get_item (Fixture     *f,
          const char  *id,
          GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_get_item_async (f->client, "jobs", id, NULL, store_cb, &result);
  return assay_dynamodb_client_get_item_finish (f->client, wait_for (&result), error);
}

static JsonObject *
update_item (Fixture            *f,
             const char         *id,
             AssayUpdate        *update,
             AssayCondition     *condition,
             AssayReturnValues   return_values,
             GError            **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_update_item_async (f->client, "jobs", id, update, condition,
                                           return_values, NULL, store_cb, &result);
  return assay_dynamodb_client_update_item_finish (f->client, wait_for (&result), error);
}

static AssayItemPage *
query (Fixture           *f,
       const AssayQuery  *q,
       GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_query_async (f->client, "jobs", q, NULL, store_cb, &result);
  return assay_dynamodb_client_query_finish (f->client, wait_for (&result), error);
}

/* ------------------------------------------------------------------------------------- */

static void
test_endpoint (void)
{
  g_autoptr(AssayCredentials) credentials = assay_credentials_new ("AKID", "secret", NULL, "x");
  g_autoptr(AssayAwsTransport) transport = assay_aws_transport_new (credentials, "eu-west-3",
                                                                    NULL);
  g_autoptr(AssayDynamodbClient) standard = NULL;
  g_autoptr(AssayDynamodbClient) local = NULL;
  g_autoptr(AssayDynamodbClient) bad = NULL;
  g_autoptr(GError) error = NULL;

  standard = assay_dynamodb_client_new (transport, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_dynamodb_client_get_endpoint (standard), ==,
                   "https://dynamodb.eu-west-3.amazonaws.com/");

  local = assay_dynamodb_client_new (transport, "http://127.0.0.1:8000", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_dynamodb_client_get_endpoint (local), ==, "http://127.0.0.1:8000/");

  bad = assay_dynamodb_client_new (transport, "ftp://example.com/", &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (bad);
  g_clear_error (&error);
  bad = assay_dynamodb_client_new (transport, "not a url", &error);
  g_assert_nonnull (error);
  g_assert_null (bad);
}

static void
assert_mapped (guint               status,
               const char         *body,
               const char         *error_type,
               AssayDynamodbError  code,
               AssayStoreError     store_code,
               const char         *in_message)
{
  g_autoptr(GBytes) bytes = body != NULL ? g_bytes_new_static (body, strlen (body)) : NULL;
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autoptr(GError) error = NULL;

  if (error_type != NULL)
    soup_message_headers_append (headers, "x-amzn-ErrorType", error_type);
  error = assay_dynamodb_error_new_from_answer (status, headers, bytes, "profile “dev”");
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, (int) code);
  g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==, store_code);
  if (in_message != NULL && strstr (error->message, in_message) == NULL)
    g_error ("“%s” does not say “%s”", error->message, in_message);
}

#define BODY(type, message) \
  "{\"__type\":\"com.amazonaws.dynamodb.v20120810#" type "\",\"message\":\"" message "\"}"

static void
test_error_mapping (void)
{
  assert_mapped (400, BODY ("ConditionalCheckFailedException", "The conditional request failed"),
                 NULL, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED,
                 ASSAY_STORE_ERROR_CONDITION_FAILED, "conditional request failed");
  assert_mapped (400, BODY ("ProvisionedThroughputExceededException", "slow down"), NULL,
                 ASSAY_DYNAMODB_ERROR_THROTTLED, ASSAY_STORE_ERROR_THROTTLED, NULL);
  assert_mapped (400, BODY ("ThrottlingException", "Rate exceeded"), NULL,
                 ASSAY_DYNAMODB_ERROR_THROTTLED, ASSAY_STORE_ERROR_THROTTLED, NULL);
  assert_mapped (400, BODY ("RequestLimitExceeded", "too many"), NULL,
                 ASSAY_DYNAMODB_ERROR_THROTTLED, ASSAY_STORE_ERROR_THROTTLED, NULL);
  assert_mapped (400, BODY ("ValidationException", "One or more parameter values were invalid"),
                 NULL, ASSAY_DYNAMODB_ERROR_VALIDATION, ASSAY_STORE_ERROR_INVALID,
                 "parameter values");
  assert_mapped (400, BODY ("ResourceNotFoundException", "Requested resource not found"), NULL,
                 ASSAY_DYNAMODB_ERROR_RESOURCE_NOT_FOUND, ASSAY_STORE_ERROR_NOT_FOUND, NULL);
  assert_mapped (400, BODY ("ResourceInUseException", "Table already exists: jobs"), NULL,
                 ASSAY_DYNAMODB_ERROR_RESOURCE_IN_USE, ASSAY_STORE_ERROR_FAILED, NULL);
  /* AccessDenied and friends name the credentials' source */
  assert_mapped (400, BODY ("UnrecognizedClientException", "The security token is invalid"),
                 NULL, ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_STORE_ERROR_ACCESS_DENIED,
                 "profile “dev”");
  assert_mapped (400, BODY ("AccessDeniedException", "not authorized"), NULL,
                 ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_STORE_ERROR_ACCESS_DENIED,
                 "profile “dev”");
  assert_mapped (400, BODY ("InvalidSignatureException", "The request signature we calculated "
                            "does not match the signature you provided"),
                 NULL, ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_STORE_ERROR_ACCESS_DENIED,
                 "profile “dev”");
  /* the same exception about the time is a clock problem */
  assert_mapped (400, BODY ("InvalidSignatureException", "Signature expired: 20260101T000000Z is "
                            "now earlier than 20260101T000500Z (20260101T002000Z - 15 min.)"),
                 NULL, ASSAY_DYNAMODB_ERROR_CLOCK_SKEW, ASSAY_STORE_ERROR_ACCESS_DENIED, "clock");
  assert_mapped (500, BODY ("InternalServerError", "Internal server error"), NULL,
                 ASSAY_DYNAMODB_ERROR_UNAVAILABLE, ASSAY_STORE_ERROR_UNAVAILABLE, NULL);
  assert_mapped (503, "{\"__type\":\"com.amazon.coral.availability#ServiceUnavailable\"}", NULL,
                 ASSAY_DYNAMODB_ERROR_UNAVAILABLE, ASSAY_STORE_ERROR_UNAVAILABLE,
                 "ServiceUnavailable");
  assert_mapped (400, "{\"__type\":\"com.amazon.coral.service#UnknownOperationException\"}", NULL,
                 ASSAY_DYNAMODB_ERROR_UNSUPPORTED, ASSAY_STORE_ERROR_FAILED, NULL);
  /* the type in a header only; a body without the type; no body; garbage */
  assert_mapped (400, "", "UnrecognizedClientException:http://internal.amazon.com/coral/",
                 ASSAY_DYNAMODB_ERROR_ACCESS_DENIED, ASSAY_STORE_ERROR_ACCESS_DENIED, NULL);
  assert_mapped (500, NULL, NULL, ASSAY_DYNAMODB_ERROR_UNAVAILABLE,
                 ASSAY_STORE_ERROR_UNAVAILABLE, "500");
  assert_mapped (403, "<html>", NULL, ASSAY_DYNAMODB_ERROR_ACCESS_DENIED,
                 ASSAY_STORE_ERROR_ACCESS_DENIED, "403");
  assert_mapped (400, "{\"__type\": 7, \"message\": []}", NULL, ASSAY_DYNAMODB_ERROR_FAILED,
                 ASSAY_STORE_ERROR_FAILED, NULL);
  assert_mapped (400, BODY ("SomethingNewException", "?"), NULL, ASSAY_DYNAMODB_ERROR_FAILED,
                 ASSAY_STORE_ERROR_FAILED, "SomethingNewException");
}

/* The classifier sees real answers: each scripted answer fetched by a plain session. */
static void
test_classify (Fixture       *f,
               gconstpointer  data)
{
  static const struct
  {
    guint status;
    const char *body;
    AssayAwsAnswer answer;
  } cases[] = {
    { 200, "{}", ASSAY_AWS_ANSWER_DONE },
    { 400, BODY ("ConditionalCheckFailedException", "no"), ASSAY_AWS_ANSWER_DONE },
    { 400, BODY ("ValidationException", "no"), ASSAY_AWS_ANSWER_DONE },
    { 400, BODY ("ProvisionedThroughputExceededException", "no"), ASSAY_AWS_ANSWER_RETRY },
    { 400, BODY ("ThrottlingException", "no"), ASSAY_AWS_ANSWER_RETRY },
    { 400, BODY ("RequestLimitExceeded", "no"), ASSAY_AWS_ANSWER_RETRY },
    { 500, BODY ("InternalServerError", "no"), ASSAY_AWS_ANSWER_RETRY },
    { 503, "{\"__type\":\"com.amazon.coral.availability#ServiceUnavailable\"}",
      ASSAY_AWS_ANSWER_RETRY },
    { 502, "<html>bad gateway</html>", ASSAY_AWS_ANSWER_RETRY },
    { 400, BODY ("InvalidSignatureException", "Signature expired: 20260101T000000Z is now "
                 "earlier than 20260101T000500Z"), ASSAY_AWS_ANSWER_CLOCK_SKEW },
    { 400, BODY ("InvalidSignatureException", "Signature not yet current: 20260101T003000Z is "
                 "still later than 20260101T002000Z"), ASSAY_AWS_ANSWER_CLOCK_SKEW },
    { 400, BODY ("InvalidSignatureException", "The request signature we calculated does not "
                 "match"), ASSAY_AWS_ANSWER_DONE },
    { 400, BODY ("UnrecognizedClientException", "no"), ASSAY_AWS_ANSWER_DONE },
  };
  g_autoptr(SoupSession) session = soup_session_new ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(SoupMessage) message = soup_message_new ("POST", f->url);
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GBytes) body = NULL;
      g_autoptr(GError) error = NULL;

      script (f, cases[i].status, cases[i].body);
      soup_session_send_and_read_async (session, message, G_PRIORITY_DEFAULT, NULL, store_cb,
                                        &result);
      body = soup_session_send_and_read_finish (session, wait_for (&result), &error);
      g_assert_no_error (error);
      g_assert_cmpint (assay_dynamodb_classify (message, body), ==, cases[i].answer);
    }
}

static void
test_requests (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(JsonObject) item = from_text (
    "{\"id\":{\"S\":\"job-1\"},\"status\":{\"S\":\"UPLOADING\"},\"chunks\":{\"N\":\"0\"}}");
  g_autoptr(AssayCondition) not_exists = assay_condition_not_exists ("id");
  g_autoptr(AssayCondition) uploading = assay_condition_and (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADING")),
    assay_condition_compare ("chunks", ASSAY_COMPARE_LT, assay_value_number (3)), NULL);
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autoptr(JsonObject) got = NULL;
  g_autoptr(JsonObject) new_item = NULL;
  g_autoptr(JsonObject) start_key = from_text (
    "{\"id\":{\"S\":\"job-2\"},\"queue\":{\"S\":\"open\"},\"due\":{\"S\":\"b\"}}");
  g_autoptr(AssayItemPage) page = NULL;
  g_autoptr(GError) error = NULL;
  AssayQuery q = {
    .index = ASSAY_DYNAMODB_QUEUE_INDEX,
    .hash_name = "queue",
    .hash_value = assay_value_string ("leased"),
    .range_name = "due",
    .range_op = ASSAY_COMPARE_LT,
    .range_value = assay_value_string ("2026-11-01T10:00:00.000Z"),
    .limit = 2,
    .start_key = start_key,
  };
  Request *r;

  assay_update_set (update, "chunks", assay_value_number (3));
  assay_update_remove (update, "queue");
  assay_update_add (update, "attempts", 1);

  /* PutItem */
  script (f, 200, "{}");
  g_assert_true (put_item (f, item, not_exists, &error));
  g_assert_no_error (error);
  r = request_at (f, 0);
  g_assert_cmpstr (r->target, ==, "DynamoDB_20120810.PutItem");
  g_assert_cmpstr (r->content_type, ==, "application/x-amz-json-1.0");
  g_assert_true (g_str_has_prefix (r->authorization, "AWS4-HMAC-SHA256 Credential=AKIDUNIT/"));
  g_assert_nonnull (strstr (r->authorization, "/eu-west-1/dynamodb/aws4_request"));
  g_assert_nonnull (strstr (r->authorization, "x-amz-target"));
  if (r->content_sha256 != NULL)
    g_assert_cmpstr (r->content_sha256, ==, r->body_sha256);
  g_assert_nonnull (r->body);
  assert_member (r->body, "TableName", "\"jobs\"");
  assert_member (r->body, "Item",
                 "{\"id\":{\"S\":\"job-1\"},\"status\":{\"S\":\"UPLOADING\"},"
                 "\"chunks\":{\"N\":\"0\"}}");
  assert_member (r->body, "ConditionExpression", "\"attribute_not_exists(#n0)\"");
  assert_member (r->body, "ExpressionAttributeNames", "{\"#n0\":\"id\"}");
  g_assert_false (json_object_has_member (r->body, "ExpressionAttributeValues"));

  /* GetItem */
  script (f, 200, "{\"Item\":{\"id\":{\"S\":\"job-1\"}}}");
  got = get_item (f, "job-1", &error);
  g_assert_no_error (error);
  assert_member (got, "id", "{\"S\":\"job-1\"}");
  r = request_at (f, 1);
  g_assert_cmpstr (r->target, ==, "DynamoDB_20120810.GetItem");
  assert_member (r->body, "Key", "{\"id\":{\"S\":\"job-1\"}}");
  assert_member (r->body, "ConsistentRead", "true");
  script (f, 200, "{}");
  g_clear_pointer (&got, json_object_unref);
  got = get_item (f, "job-9", &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_NO_ITEM);
  g_assert_null (got);
  g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==, ASSAY_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* UpdateItem */
  script (f, 200, "{\"Attributes\":{\"id\":{\"S\":\"job-1\"},\"chunks\":{\"N\":\"3\"}}}");
  new_item = update_item (f, "job-1", update, uploading, ASSAY_RETURN_ALL_NEW, &error);
  g_assert_no_error (error);
  assert_member (new_item, "chunks", "{\"N\":\"3\"}");
  r = request_at (f, 3);
  g_assert_cmpstr (r->target, ==, "DynamoDB_20120810.UpdateItem");
  assert_member (r->body, "Key", "{\"id\":{\"S\":\"job-1\"}}");
  assert_member (r->body, "UpdateExpression",
                 "\"SET #n0 = :v0 REMOVE #n1 ADD #n2 :v1\"");
  assert_member (r->body, "ConditionExpression", "\"(#n3 = :v2 AND #n0 < :v3)\"");
  assert_member (r->body, "ExpressionAttributeNames",
                 "{\"#n0\":\"chunks\",\"#n1\":\"queue\",\"#n2\":\"attempts\",\"#n3\":\"status\"}");
  assert_member (r->body, "ExpressionAttributeValues",
                 "{\":v0\":{\"N\":\"3\"},\":v1\":{\"N\":\"1\"},\":v2\":{\"S\":\"UPLOADING\"},"
                 "\":v3\":{\"N\":\"3\"}}");
  assert_member (r->body, "ReturnValues", "\"ALL_NEW\"");
  g_clear_pointer (&new_item, json_object_unref);
  script (f, 200, "{}");
  new_item = update_item (f, "job-1", update, NULL, ASSAY_RETURN_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (new_item), ==, 0);
  r = request_at (f, 4);
  assert_member (r->body, "ReturnValues", "\"NONE\"");
  g_assert_false (json_object_has_member (r->body, "ConditionExpression"));

  /* Query */
  script (f, 200,
          "{\"Items\":[{\"id\":{\"S\":\"job-3\"}},{\"id\":{\"S\":\"job-4\"}}],\"Count\":2,"
          "\"LastEvaluatedKey\":{\"id\":{\"S\":\"job-4\"},\"queue\":{\"S\":\"leased\"},"
          "\"due\":{\"S\":\"c\"}}}");
  page = query (f, &q, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->items->len, ==, 2);
  assert_member (g_ptr_array_index (page->items, 1), "id", "{\"S\":\"job-4\"}");
  g_assert_nonnull (page->last_key);
  assert_member (page->last_key, "due", "{\"S\":\"c\"}");
  r = request_at (f, 5);
  g_assert_cmpstr (r->target, ==, "DynamoDB_20120810.Query");
  assert_member (r->body, "IndexName", "\"queue-due\"");
  assert_member (r->body, "KeyConditionExpression", "\"#n0 = :v0 AND #n1 < :v1\"");
  assert_member (r->body, "ExpressionAttributeNames", "{\"#n0\":\"queue\",\"#n1\":\"due\"}");
  assert_member (r->body, "ExpressionAttributeValues",
                 "{\":v0\":{\"S\":\"leased\"},\":v1\":{\"S\":\"2026-11-01T10:00:00.000Z\"}}");
  assert_member (r->body, "Limit", "2");
  assert_member (r->body, "ScanIndexForward", "true");
  assert_member (r->body, "ExclusiveStartKey",
                 "{\"id\":{\"S\":\"job-2\"},\"queue\":{\"S\":\"open\"},\"due\":{\"S\":\"b\"}}");
  g_clear_pointer (&page, assay_item_page_free);
  script (f, 200, "{\"Items\":[],\"Count\":0}");
  q.range_name = NULL;
  q.limit = 0;
  q.start_key = NULL;
  page = query (f, &q, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->items->len, ==, 0);
  g_assert_null (page->last_key);
  r = request_at (f, 6);
  assert_member (r->body, "KeyConditionExpression", "\"#n0 = :v0\"");
  g_assert_false (json_object_has_member (r->body, "Limit"));
  g_assert_false (json_object_has_member (r->body, "ExclusiveStartKey"));

  json_node_unref (q.hash_value);
  json_node_unref (q.range_value);
}

static void
test_tables (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) description = NULL;
  g_autoptr(GError) error = NULL;
  gboolean created = FALSE;
  Request *r;

  script (f, 200, "{\"TableDescription\":{\"TableStatus\":\"CREATING\"}}");
  assay_dynamodb_client_create_table_async (f->client, ASSAY_TABLE_JOBS, "jobs", NULL, store_cb,
                                            &result);
  g_assert_true (assay_dynamodb_client_create_table_finish (f->client, wait_for (&result),
                                                            &created, &error));
  g_assert_no_error (error);
  g_assert_true (created);
  r = request_at (f, 0);
  g_assert_cmpstr (r->target, ==, "DynamoDB_20120810.CreateTable");
  assert_member (r->body, "AttributeDefinitions",
                 "[{\"AttributeName\":\"id\",\"AttributeType\":\"S\"},"
                 "{\"AttributeName\":\"queue\",\"AttributeType\":\"S\"},"
                 "{\"AttributeName\":\"due\",\"AttributeType\":\"S\"}]");
  assert_member (r->body, "KeySchema", "[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}]");
  assert_member (r->body, "GlobalSecondaryIndexes",
                 "[{\"IndexName\":\"queue-due\",\"KeySchema\":["
                 "{\"AttributeName\":\"queue\",\"KeyType\":\"HASH\"},"
                 "{\"AttributeName\":\"due\",\"KeyType\":\"RANGE\"}],"
                 "\"Projection\":{\"ProjectionType\":\"ALL\"}}]");
  assert_member (r->body, "BillingMode", "\"PAY_PER_REQUEST\"");
  g_clear_object (&result);

  /* the results table: only the key; an existing table is fine */
  script_error (f, 400, "ResourceInUseException", "Table already exists: results");
  assay_dynamodb_client_create_table_async (f->client, ASSAY_TABLE_RESULTS, "results", NULL,
                                            store_cb, &result);
  g_assert_true (assay_dynamodb_client_create_table_finish (f->client, wait_for (&result),
                                                            &created, &error));
  g_assert_no_error (error);
  g_assert_false (created);
  r = request_at (f, 1);
  assert_member (r->body, "AttributeDefinitions",
                 "[{\"AttributeName\":\"id\",\"AttributeType\":\"S\"}]");
  g_assert_false (json_object_has_member (r->body, "GlobalSecondaryIndexes"));
  g_clear_object (&result);

  /* waiting: the table, then its index, become ACTIVE */
  script (f, 200, "{\"Table\":{\"TableStatus\":\"CREATING\"}}");
  script (f, 200, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"GlobalSecondaryIndexes\":"
                  "[{\"IndexName\":\"queue-due\",\"IndexStatus\":\"CREATING\"}]}}");
  script (f, 200, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"GlobalSecondaryIndexes\":"
                  "[{\"IndexName\":\"queue-due\",\"IndexStatus\":\"ACTIVE\"}]}}");
  assay_dynamodb_client_wait_active_async (f->client, "jobs", 10000, NULL, store_cb, &result);
  description = assay_dynamodb_client_wait_active_finish (f->client, wait_for (&result), &error);
  g_assert_no_error (error);
  assert_member (description, "TableStatus", "\"ACTIVE\"");
  g_assert_cmpuint (f->requests->len, ==, 5);
  g_assert_cmpstr (request_at (f, 4)->target, ==, "DynamoDB_20120810.DescribeTable");
  g_clear_object (&result);
  g_clear_pointer (&description, json_object_unref);

  /* … or do not, in time */
  for (guint i = 0; i < 20; i++)
    script (f, 200, "{\"Table\":{\"TableStatus\":\"CREATING\"}}");
  assay_dynamodb_client_wait_active_async (f->client, "jobs", 150, NULL, store_cb, &result);
  description = assay_dynamodb_client_wait_active_finish (f->client, wait_for (&result), &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_TIMED_OUT);
  g_assert_null (description);
  g_assert_nonnull (strstr (error->message, "CREATING"));
  g_clear_error (&error);
  g_clear_object (&result);
  g_queue_clear_full (&f->answers, (GDestroyNotify) answer_free);

  /* TTL: unsupported (dynalite), on already (AWS), on */
  script (f, 400, "{\"__type\":\"com.amazon.coral.service#UnknownOperationException\"}");
  assay_dynamodb_client_enable_ttl_async (f->client, "results", "expires", NULL, store_cb,
                                          &result);
  g_assert_false (assay_dynamodb_client_enable_ttl_finish (f->client, wait_for (&result), &error));
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_clear_object (&result);
  r = g_ptr_array_index (f->requests, f->requests->len - 1);
  g_assert_cmpstr (r->target, ==, "DynamoDB_20120810.UpdateTimeToLive");
  assert_member (r->body, "TimeToLiveSpecification",
                 "{\"Enabled\":true,\"AttributeName\":\"expires\"}");

  script_error (f, 400, "ValidationException", "TimeToLive is already enabled");
  assay_dynamodb_client_enable_ttl_async (f->client, "results", "expires", NULL, store_cb,
                                          &result);
  g_assert_true (assay_dynamodb_client_enable_ttl_finish (f->client, wait_for (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
}

/* Malformed answers are errors, never crashes. */
static void
test_malformed (Fixture       *f,
                gconstpointer  data)
{
  static const struct
  {
    guint status;
    const char *body;
    AssayDynamodbError code;
  } cases[] = {
    { 200, "", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "{", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "[]", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "null", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "\"Item\"", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "{\"Item\":\"job-1\"}", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "{\"Item\":[1,2]}", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "{\"Item\":{\"id\":{\"S\":\"a\"}}}trailing", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 200, "\xff\xfe{}", ASSAY_DYNAMODB_ERROR_MALFORMED },
    { 400, "{", ASSAY_DYNAMODB_ERROR_FAILED },
    { 400, "{\"__type\":{\"x\":1}}", ASSAY_DYNAMODB_ERROR_FAILED },
    { 400, "{\"__type\":\"#\"}", ASSAY_DYNAMODB_ERROR_FAILED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonObject) item = NULL;
      g_autoptr(GError) error = NULL;

      script (f, cases[i].status, cases[i].body);
      item = get_item (f, "job-1", &error);
      g_assert_null (item);
      g_assert_error (error, ASSAY_DYNAMODB_ERROR, (int) cases[i].code);
    }

  /* Query answers of the wrong shape */
  {
    static const char * const bodies[] = {
      "{\"Items\":{}}",
      "{\"Items\":[1]}",
      "{\"Items\":[],\"LastEvaluatedKey\":\"k\"}",
    };
    AssayQuery q = { .hash_name = "queue", .hash_value = assay_value_string ("open") };

    for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
      {
        g_autoptr(AssayItemPage) page = NULL;
        g_autoptr(GError) error = NULL;

        script (f, 200, bodies[i]);
        page = query (f, &q, &error);
        g_assert_null (page);
        g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED);
      }
    json_node_unref (q.hash_value);
  }

  /* UpdateItem and DescribeTable answers of the wrong shape */
  {
    g_autoptr(AssayUpdate) update = assay_update_set (assay_update_new (), "a",
                                                      assay_value_number (1));
    g_autoptr(JsonObject) attributes = NULL;
    g_autoptr(JsonObject) description = NULL;
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GError) error = NULL;

    script (f, 200, "{\"Attributes\":7}");
    attributes = update_item (f, "job-1", update, NULL, ASSAY_RETURN_ALL_NEW, &error);
    g_assert_null (attributes);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED);
    g_clear_error (&error);

    script (f, 200, "{\"Table\":[]}");
    assay_dynamodb_client_describe_table_async (f->client, "jobs", NULL, store_cb, &result);
    description = assay_dynamodb_client_describe_table_finish (f->client, wait_for (&result),
                                                               &error);
    g_assert_null (description);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED);
  }

  /* deep nesting */
  {
    g_autoptr(GString) deep = g_string_new ("{\"Item\":");
    g_autoptr(JsonObject) item = NULL;
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < 5000; i++)
      g_string_append (deep, "[");
    script (f, 200, deep->str);
    item = get_item (f, "job-1", &error);
    g_assert_null (item);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_MALFORMED);
  }
}

/* Throttling and internal errors are retried by the transport through the classifier;
 * what still fails after the last attempt keeps its meaning. */
static void
test_retries (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GError) error = NULL;

  script_error (f, 400, "ProvisionedThroughputExceededException", "slow down");
  script_error (f, 500, "InternalServerError", "oops");
  script (f, 200, "{\"Item\":{\"id\":{\"S\":\"job-1\"}}}");
  item = get_item (f, "job-1", &error);
  g_assert_no_error (error);
  g_assert_nonnull (item);
  g_assert_cmpuint (f->requests->len, ==, 3);

  /* a ConditionalCheckFailed is not retried */
  {
    g_autoptr(JsonObject) put = from_text ("{\"id\":{\"S\":\"job-1\"}}");
    g_autoptr(AssayCondition) not_exists = assay_condition_not_exists ("id");

    script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
    g_assert_false (put_item (f, put, not_exists, &error));
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
    g_clear_error (&error);
    g_assert_cmpuint (f->requests->len, ==, 4); /* and, on the first attempt, not re-read */
  }

  /* throttled to the end */
  {
    g_autoptr(JsonObject) other = NULL;

    for (guint i = 0; i < 3; i++)
      script_error (f, 400, "ThrottlingException", "Rate exceeded");
    other = get_item (f, "job-1", &error);
    g_assert_null (other);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_THROTTLED);
    g_assert_cmpuint (f->requests->len, ==, 7);
    g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==,
                     ASSAY_STORE_ERROR_THROTTLED);
    g_clear_error (&error);

    /* and a service that keeps failing */
    for (guint i = 0; i < 3; i++)
      script_error (f, 500, "InternalServerError", "oops");
    g_clear_pointer (&other, json_object_unref);
    other = get_item (f, "job-1", &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_UNAVAILABLE);
    g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==,
                     ASSAY_STORE_ERROR_UNAVAILABLE);
  }
}

/* A write applied by an attempt whose answer was lost, refused on the retry, is a success;
 * a real conflict on a retry stays a conflict. */
static void
test_retried_write (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(JsonObject) item = from_text (
    "{\"id\":{\"S\":\"job-1\"},\"status\":{\"S\":\"UPLOADING\"},\"chunks\":{\"N\":\"0\"}}");
  g_autoptr(AssayCondition) not_exists = assay_condition_not_exists ("id");
  g_autoptr(AssayCondition) open = assay_condition_compare ("queue", ASSAY_COMPARE_EQ,
                                                            assay_value_string ("open"));
  g_autoptr(AssayUpdate) claim = assay_update_new ();
  g_autoptr(JsonObject) written = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  assay_update_set (claim, "processor", assay_value_string ("processor-me"));
  assay_update_set (claim, "queue", assay_value_string ("leased"));
  assay_update_remove (claim, "error");
  assay_update_add (claim, "attempts", 1);

  /* PutItem: lost answer, refused retry, the item is ours */
  script_error (f, 500, "InternalServerError", "lost");
  script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
  text = to_text (item);
  {
    g_autofree char *answer = g_strdup_printf ("{\"Item\":%s}", text);

    script (f, 200, answer);
  }
  g_assert_true (put_item (f, item, not_exists, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->requests->len, ==, 3);
  g_assert_cmpstr (request_at (f, 2)->target, ==, "DynamoDB_20120810.GetItem");
  assert_member (request_at (f, 2)->body, "ConsistentRead", "true");

  /* … the item is someone else's */
  script_error (f, 500, "InternalServerError", "lost");
  script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
  script (f, 200, "{\"Item\":{\"id\":{\"S\":\"job-1\"},\"status\":{\"S\":\"UPLOADED\"},"
                  "\"chunks\":{\"N\":\"0\"}}}");
  g_assert_false (put_item (f, item, not_exists, &error));
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (f->requests->len, ==, 6);

  /* UpdateItem: our claim is there (attempts, ADDed, is not judged) */
  script_error (f, 503, "ServiceUnavailable", "lost");
  script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
  script (f, 200, "{\"Item\":{\"id\":{\"S\":\"job-1\"},\"processor\":{\"S\":\"processor-me\"},"
                  "\"queue\":{\"S\":\"leased\"},\"attempts\":{\"N\":\"4\"}}}");
  written = update_item (f, "job-1", claim, open, ASSAY_RETURN_ALL_NEW, &error);
  g_assert_no_error (error);
  assert_member (written, "attempts", "{\"N\":\"4\"}");
  assert_member (written, "processor", "{\"S\":\"processor-me\"}");
  g_clear_pointer (&written, json_object_unref);

  /* … another processor's claim */
  script_error (f, 503, "ServiceUnavailable", "lost");
  script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
  script (f, 200, "{\"Item\":{\"id\":{\"S\":\"job-1\"},\"processor\":{\"S\":\"processor-other\"},"
                  "\"queue\":{\"S\":\"leased\"},\"attempts\":{\"N\":\"4\"}}}");
  written = update_item (f, "job-1", claim, open, ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
  g_assert_null (written);
  g_clear_error (&error);

  /* … ours, but a REMOVEd attribute is still there */
  script_error (f, 503, "ServiceUnavailable", "lost");
  script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
  script (f, 200, "{\"Item\":{\"id\":{\"S\":\"job-1\"},\"processor\":{\"S\":\"processor-me\"},"
                  "\"queue\":{\"S\":\"leased\"},\"error\":{\"S\":\"x\"}}}");
  written = update_item (f, "job-1", claim, open, ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
  g_clear_error (&error);

  /* … the item is gone */
  script_error (f, 503, "ServiceUnavailable", "lost");
  script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
  script (f, 200, "{}");
  written = update_item (f, "job-1", claim, open, ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
  g_clear_error (&error);

  /* … and when the item cannot be read, that is what is said */
  script_error (f, 503, "ServiceUnavailable", "lost");
  script_error (f, 400, "ConditionalCheckFailedException", "The conditional request failed");
  script_error (f, 400, "AccessDeniedException", "no GetItem for you");
  written = update_item (f, "job-1", claim, open, ASSAY_RETURN_ALL_NEW, &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (error->message, "earlier attempt"));
  g_clear_error (&error);
  g_assert_cmpuint (g_queue_get_length (&f->answers), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/common/dynamodb/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  g_test_add_func ("/common/dynamodb/endpoint", test_endpoint);
  g_test_add_func ("/common/dynamodb/error-mapping", test_error_mapping);
  ADD ("classify", test_classify);
  ADD ("requests", test_requests);
  ADD ("tables", test_tables);
  ADD ("malformed", test_malformed);
  ADD ("retries", test_retries);
  ADD ("retried-write", test_retried_write);

  return g_test_run ();
}
