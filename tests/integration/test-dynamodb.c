/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-dynamodb-client.h"

#include <libsoup/soup.h>
#include <string.h>

#include "test-servers.h"

/*
 * The DynamoDB client against dynalite behind the SigV4-checking proxy: tables, every
 * conditional write of the protocol, queries on queue-due, errors, the conditions'
 * meaning compared with AssayCondition's own evaluation, and interoperation with the AWS
 * CLI (Debian's /usr/bin/aws). The proxy must refuse none of the client's requests.
 *
 * What dynalite says, found here and asserted by /integration/dynamodb/semantics:
 *  - a comparison with an absent attribute is false, except `<>`, which is true;
 *  - `<`, `<=`, `>`, `>=` between values of different types (N and S) are false, and so
 *    `NOT (a < b)` is then true; `=` between them is false and `<>` true;
 *  - NOT, AND and OR are plain two-valued logic over those answers;
 *  - a condition on an item that does not exist is evaluated as on an empty item;
 *  - UpdateTimeToLive is an UnknownOperationException.
 */

#define JOBS    "jobs"
#define RESULTS "results"
#define AWS_CLI "/usr/bin/aws"

static AssayTestServer *dynalite;
static AssayTestServer *proxy;
static AssayDynamodbClient *client;

/* ------------------------------------------------------------------------------------- */
/* Helpers                                                                               */

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

static AssayDynamodbClient *
client_new (const char *url,
            const char *access_key_id,
            const char *secret,
            const char *source)
{
  const AssayAwsRetryPolicy policy = {
    .max_attempts = 4,
    .base_delay_ms = 5,
    .max_delay_ms = 50,
    .connect_timeout_s = 5,
    .idle_timeout_s = 20,
  };
  g_autoptr(AssayCredentials) credentials = assay_credentials_new (access_key_id, secret, NULL,
                                                                   source);
  g_autoptr(AssayAwsTransport) own = assay_aws_transport_new (credentials, ASSAY_TEST_REGION,
                                                              &policy);
  g_autoptr(GError) error = NULL;
  AssayDynamodbClient *result;

  result = assay_dynamodb_client_new (own, url, &error);
  g_assert_no_error (error);
  return result;
}

static JsonObject *
from_text (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static char *
to_text (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

static void
assert_items_equal (JsonObject *actual,
                    JsonObject *expected)
{
  g_autoptr(JsonNode) a = json_node_init_object (json_node_alloc (), actual);
  g_autoptr(JsonNode) b = json_node_init_object (json_node_alloc (), expected);

  if (!json_node_equal (a, b))
    {
      g_autofree char *ta = json_to_string (a, FALSE);
      g_autofree char *tb = json_to_string (b, FALSE);

      g_error ("item %s, expected %s", ta, tb);
    }
}

static const char *
string_member (JsonObject *item,
               const char *name)
{
  JsonNode *value = json_object_get_member (item, name);

  g_assert_nonnull (value);
  return json_object_get_string_member (json_node_get_object (value), "S");
}

static gboolean
create_table (AssayDynamodbClient  *c,
              AssayTable            role,
              const char           *name,
              gboolean             *out_created,
              GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_create_table_async (c, role, name, NULL, store_cb, &result);
  return assay_dynamodb_client_create_table_finish (c, wait_for (&result), out_created, error);
}

static JsonObject *
wait_active (const char *name)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *description;

  assay_dynamodb_client_wait_active_async (client, name, 10000, NULL, store_cb, &result);
  description = assay_dynamodb_client_wait_active_finish (client, wait_for (&result), &error);
  g_assert_no_error (error);
  return description;
}

/* Creates @name (if need be) and waits until it is ACTIVE. */
static void
ensure_table (AssayTable  role,
              const char *name)
{
  g_autoptr(JsonObject) description = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (create_table (client, role, name, NULL, &error));
  g_assert_no_error (error);
  description = wait_active (name);
}

static gboolean
put_item (AssayDynamodbClient  *c,
          const char           *table,
          JsonObject           *item,
          AssayCondition       *condition,
          GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_put_item_async (c, table, item, condition, NULL, store_cb, &result);
  return assay_dynamodb_client_put_item_finish (c, wait_for (&result), error);
}

static JsonObject *
get_item (AssayDynamodbClient  *c,
          const char           *table,
          const char           *id,
          GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_get_item_async (c, table, id, NULL, store_cb, &result);
  return assay_dynamodb_client_get_item_finish (c, wait_for (&result), error);
}

static JsonObject *
update_item (AssayDynamodbClient  *c,
             const char           *table,
             const char           *id,
             AssayUpdate          *update,
             AssayCondition       *condition,
             AssayReturnValues     return_values,
             GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_update_item_async (c, table, id, update, condition, return_values, NULL,
                                           store_cb, &result);
  return assay_dynamodb_client_update_item_finish (c, wait_for (&result), error);
}

static gboolean
delete_item (const char      *table,
             const char      *id,
             AssayCondition  *condition,
             GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_delete_item_async (client, table, id, condition, NULL, store_cb, &result);
  return assay_dynamodb_client_delete_item_finish (client, wait_for (&result), error);
}

static AssayItemPage *
query (const char        *table,
       const AssayQuery  *q,
       GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_dynamodb_client_query_async (client, table, q, NULL, store_cb, &result);
  return assay_dynamodb_client_query_finish (client, wait_for (&result), error);
}

static AssayCondition *
eq (const char *attribute,
    const char *value)
{
  return assay_condition_compare (attribute, ASSAY_COMPARE_EQ, assay_value_string (value));
}

/* The claim condition: (queue = open OR (queue = leased AND lease < :now))
 * AND NOT status IN (PROCESSED, ERROR). */
static AssayCondition *
claim_condition (const char *now)
{
  return assay_condition_and (
    assay_condition_or (
      eq ("queue", "open"),
      assay_condition_and (eq ("queue", "leased"),
                           assay_condition_compare ("lease", ASSAY_COMPARE_LT,
                                                    assay_value_string (now)),
                           NULL),
      NULL),
    assay_condition_not (assay_condition_or (eq ("status", "PROCESSED"), eq ("status", "ERROR"),
                                             NULL)),
    NULL);
}

static AssayCondition *
fence_condition (const char *processor,
                 gint64      claim)
{
  return assay_condition_and (
    eq ("processor", processor),
    assay_condition_compare ("attempts", ASSAY_COMPARE_EQ, assay_value_number (claim)), NULL);
}

static JsonObject *
job_item (const char *id,
          const char *created)
{
  g_autofree char *text = g_strdup_printf (
    "{\"id\":{\"S\":\"%s\"},\"version\":{\"S\":\"0.1.0\"},\"created\":{\"S\":\"%s\"},"
    "\"bucket\":{\"S\":\"assay-test-bucket\"},\"region\":{\"S\":\"eu-west-1\"},"
    "\"file\":{\"S\":\"file-1a026c06-e99c-4f2f-842c-cb01c51849af\"},"
    "\"client\":{\"S\":\"client-04ab\"},\"signature\":{\"S\":\"3045\"},"
    "\"status\":{\"S\":\"UPLOADING\"},\"chunks\":{\"N\":\"0\"},"
    "\"queue\":{\"S\":\"open\"},\"due\":{\"S\":\"%s\"}}",
    id, created, created);

  return from_text (text);
}

/* ------------------------------------------------------------------------------------- */
/* Tables                                                                                */

static void
assert_queue_index (JsonObject *description)
{
  g_autoptr(JsonNode) expected_keys = json_from_string (
    "[{\"AttributeName\":\"queue\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"due\",\"KeyType\":\"RANGE\"}]", NULL);
  JsonArray *indexes = json_object_get_array_member (description, "GlobalSecondaryIndexes");
  JsonObject *index;

  g_assert_nonnull (indexes);
  g_assert_cmpuint (json_array_get_length (indexes), ==, 1);
  index = json_array_get_object_element (indexes, 0);
  g_assert_cmpstr (json_object_get_string_member (index, "IndexName"), ==, "queue-due");
  g_assert_true (json_node_equal (json_object_get_member (index, "KeySchema"), expected_keys));
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (index, "Projection"), "ProjectionType"),
                   ==, "ALL");
}

static void
test_tables (void)
{
  g_autoptr(JsonObject) jobs = NULL;
  g_autoptr(JsonObject) results = NULL;
  g_autoptr(GError) error = NULL;
  gboolean created = FALSE;

  /* twice: the second time the tables are there, which is fine */
  for (guint round = 0; round < 2; round++)
    {
      g_assert_true (create_table (client, ASSAY_TABLE_JOBS, "tables-jobs", &created, &error));
      g_assert_no_error (error);
      g_assert_cmpint (created, ==, round == 0);
      g_assert_true (create_table (client, ASSAY_TABLE_RESULTS, "tables-results", &created,
                                   &error));
      g_assert_no_error (error);
      g_assert_cmpint (created, ==, round == 0);
    }

  jobs = wait_active ("tables-jobs");
  g_assert_cmpstr (json_object_get_string_member (jobs, "TableStatus"), ==, "ACTIVE");
  assert_queue_index (jobs);
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (
                       json_object_get_array_member (jobs, "KeySchema"), 0),
                     "AttributeName"),
                   ==, "id");

  results = wait_active ("tables-results");
  g_assert_false (json_object_has_member (results, "GlobalSecondaryIndexes"));

  /* an absent table */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(JsonObject) none = NULL;

    assay_dynamodb_client_describe_table_async (client, "no-such-table", NULL, store_cb,
                                                &result);
    none = assay_dynamodb_client_describe_table_finish (client, wait_for (&result), &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_RESOURCE_NOT_FOUND);
    g_assert_null (none);
    g_clear_error (&error);
  }

  /* TTL: dynalite has no UpdateTimeToLive; that is told apart so an init can go on */
  {
    g_autoptr(GAsyncResult) result = NULL;

    assay_dynamodb_client_enable_ttl_async (client, "tables-results", "expires", NULL, store_cb,
                                            &result);
    g_assert_false (assay_dynamodb_client_enable_ttl_finish (client, wait_for (&result),
                                                             &error));
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_UNSUPPORTED);
  }
}

/* ------------------------------------------------------------------------------------- */
/* Items: every write of the protocol                                                    */

static void
test_items (void)
{
  const char *id = "job-9dfbe20e-2efd-4f62-b51e-9b230f60429b";
  g_autoptr(JsonObject) job = job_item (id, "2026-11-01T09:00:00.000Z");
  g_autoptr(AssayCondition) not_exists = assay_condition_not_exists ("id");
  g_autoptr(JsonObject) read = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GError) error = NULL;

  ensure_table (ASSAY_TABLE_JOBS, JOBS);

  /* create: attribute_not_exists(id), once */
  g_assert_true (put_item (client, JOBS, job, not_exists, &error));
  g_assert_no_error (error);
  g_assert_false (put_item (client, JOBS, job, not_exists, &error));
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
  g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==,
                   ASSAY_STORE_ERROR_CONDITION_FAILED);
  g_clear_error (&error);

  read = get_item (client, JOBS, id, &error);
  g_assert_no_error (error);
  assert_items_equal (read, job);
  g_clear_pointer (&read, json_object_unref);

  /* chunk uploaded: SET chunks = :n if status = UPLOADING AND chunks < :n */
  for (gint64 n = 1; n <= 3; n++)
    {
      g_autoptr(AssayUpdate) update = assay_update_set (assay_update_new (), "chunks",
                                                        assay_value_number (n));
      g_autoptr(AssayCondition) advance = assay_condition_and (
        eq ("status", "UPLOADING"),
        assay_condition_compare ("chunks", ASSAY_COMPARE_LT, assay_value_number (n)), NULL);

      answer = update_item (client, JOBS, id, update, advance, ASSAY_RETURN_ALL_NEW, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (json_object_get_string_member (
                         json_object_get_object_member (answer, "chunks"), "N"), ==,
                       n == 1 ? "1" : n == 2 ? "2" : "3");
      g_clear_pointer (&answer, json_object_unref);

      /* the same chunk count again (a late, duplicate report) is refused */
      answer = update_item (client, JOBS, id, update, advance, ASSAY_RETURN_NONE, &error);
      g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
      g_assert_null (answer);
      g_clear_error (&error);
    }

  /* upload done: SET status, uploaded, chunks if status = UPLOADING; ALL_OLD */
  {
    g_autoptr(AssayUpdate) done = assay_update_new ();
    g_autoptr(AssayCondition) uploading = eq ("status", "UPLOADING");

    assay_update_set (done, "status", assay_value_string ("UPLOADED"));
    assay_update_set (done, "uploaded", assay_value_string ("2026-11-01T09:05:00.000Z"));
    assay_update_set (done, "chunks", assay_value_number (3));
    answer = update_item (client, JOBS, id, done, uploading, ASSAY_RETURN_ALL_OLD, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (string_member (answer, "status"), ==, "UPLOADING");
    g_assert_false (json_object_has_member (answer, "uploaded"));
    g_clear_pointer (&answer, json_object_unref);

    answer = update_item (client, JOBS, id, done, uploading, ASSAY_RETURN_ALL_OLD, &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
    g_clear_error (&error);
  }

  /* claim: SET processor, assigned, lease, queue, due ADD attempts 1, if claimable */
  {
    g_autoptr(AssayUpdate) claim = assay_update_new ();
    g_autoptr(AssayCondition) claimable = claim_condition ("2026-11-01T10:00:00.000Z");
    g_autoptr(AssayCondition) claimable_later = claim_condition ("2026-11-01T10:30:00.001Z");
    g_autoptr(AssayUpdate) reclaim = assay_update_new ();

    assay_update_set (claim, "processor", assay_value_string ("processor-a"));
    assay_update_set (claim, "assigned", assay_value_string ("2026-11-01T10:00:00.000Z"));
    assay_update_set (claim, "lease", assay_value_string ("2026-11-01T10:30:00.000Z"));
    assay_update_set (claim, "queue", assay_value_string ("leased"));
    assay_update_set (claim, "due", assay_value_string ("2026-11-01T10:30:00.000Z"));
    assay_update_add (claim, "attempts", 1);
    answer = update_item (client, JOBS, id, claim, claimable, ASSAY_RETURN_ALL_NEW, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (string_member (answer, "queue"), ==, "leased");
    g_assert_cmpstr (json_object_get_string_member (
                       json_object_get_object_member (answer, "attempts"), "N"), ==, "1");
    g_clear_pointer (&answer, json_object_unref);

    /* leased and not expired: not claimable */
    answer = update_item (client, JOBS, id, claim, claimable, ASSAY_RETURN_ALL_NEW, &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
    g_clear_error (&error);

    /* heartbeat by the holder: processor = :me AND attempts = :claim */
    {
      g_autoptr(AssayUpdate) heartbeat = assay_update_new ();
      g_autoptr(AssayCondition) mine = fence_condition ("processor-a", 1);
      g_autoptr(AssayCondition) stale = fence_condition ("processor-a", 2);
      g_autoptr(AssayCondition) other = fence_condition ("processor-b", 1);

      assay_update_set (heartbeat, "lease", assay_value_string ("2026-11-01T10:20:00.000Z"));
      assay_update_set (heartbeat, "due", assay_value_string ("2026-11-01T10:20:00.000Z"));
      answer = update_item (client, JOBS, id, heartbeat, mine, ASSAY_RETURN_NONE, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (json_object_get_size (answer), ==, 0);
      g_clear_pointer (&answer, json_object_unref);
      answer = update_item (client, JOBS, id, heartbeat, stale, ASSAY_RETURN_NONE, &error);
      g_assert_error (error, ASSAY_DYNAMODB_ERROR,
                      ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
      g_clear_error (&error);
      answer = update_item (client, JOBS, id, heartbeat, other, ASSAY_RETURN_NONE, &error);
      g_assert_error (error, ASSAY_DYNAMODB_ERROR,
                      ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
      g_clear_error (&error);
    }

    /* the lease ran out: another processor claims; the first one is fenced off */
    assay_update_set (reclaim, "processor", assay_value_string ("processor-b"));
    assay_update_set (reclaim, "lease", assay_value_string ("2026-11-01T11:00:00.000Z"));
    assay_update_set (reclaim, "due", assay_value_string ("2026-11-01T11:00:00.000Z"));
    assay_update_add (reclaim, "attempts", 1);
    answer = update_item (client, JOBS, id, reclaim, claimable_later, ASSAY_RETURN_ALL_NEW,
                          &error);
    g_assert_no_error (error);
    g_assert_cmpstr (string_member (answer, "processor"), ==, "processor-b");
    g_clear_pointer (&answer, json_object_unref);
  }

  /* done: PutItem result, then SET status, result REMOVE queue, due if the holder's */
  {
    g_autoptr(JsonObject) result = from_text (
      "{\"id\":{\"S\":\"result-c1e0af22-a56e-41fd-9118-fe86ee14b13b\"},"
      "\"client\":{\"S\":\"client-04ab\"},\"payload\":{\"S\":\"04:00:00:00\"},"
      "\"job\":{\"S\":\"job-9dfbe20e-2efd-4f62-b51e-9b230f60429b\"}}");
    g_autoptr(AssayUpdate) processed = assay_update_new ();
    g_autoptr(AssayCondition) old_holder = fence_condition ("processor-a", 1);
    g_autoptr(AssayCondition) holder = fence_condition ("processor-b", 2);

    ensure_table (ASSAY_TABLE_RESULTS, RESULTS);
    g_assert_true (put_item (client, RESULTS, result, not_exists, &error));
    g_assert_no_error (error);

    assay_update_set (processed, "status", assay_value_string ("PROCESSED"));
    assay_update_set (processed, "result",
                      assay_value_string ("result-c1e0af22-a56e-41fd-9118-fe86ee14b13b"));
    assay_update_remove (processed, "queue");
    assay_update_remove (processed, "due");
    answer = update_item (client, JOBS, id, processed, old_holder, ASSAY_RETURN_ALL_NEW, &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
    g_clear_error (&error);
    answer = update_item (client, JOBS, id, processed, holder, ASSAY_RETURN_ALL_NEW, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (string_member (answer, "status"), ==, "PROCESSED");
    g_assert_false (json_object_has_member (answer, "queue"));
    g_assert_false (json_object_has_member (answer, "due"));
    g_clear_pointer (&answer, json_object_unref);

    /* final: nobody can claim it any more, expired lease or not */
    {
      g_autoptr(AssayUpdate) claim = assay_update_set (assay_update_new (), "queue",
                                                       assay_value_string ("leased"));
      g_autoptr(AssayCondition) claimable = claim_condition ("2099-01-01T00:00:00.000Z");

      answer = update_item (client, JOBS, id, claim, claimable, ASSAY_RETURN_NONE, &error);
      g_assert_error (error, ASSAY_DYNAMODB_ERROR,
                      ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
      g_clear_error (&error);
    }
  }

  /* delete, with a condition */
  {
    g_autoptr(AssayCondition) wrong = eq ("status", "ERROR");
    g_autoptr(AssayCondition) right = eq ("status", "PROCESSED");

    g_assert_false (delete_item (JOBS, id, wrong, &error));
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
    g_clear_error (&error);
    g_assert_true (delete_item (JOBS, id, right, &error));
    g_assert_no_error (error);
    read = get_item (client, JOBS, id, &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_NO_ITEM);
    g_assert_null (read);
    g_clear_error (&error);
    g_assert_true (delete_item (JOBS, id, NULL, &error));
    g_assert_no_error (error);
  }
}

/* The other errors are distinct from ConditionalCheckFailed and from each other. */
static void
test_errors (void)
{
  g_autoptr(JsonObject) no_key = from_text ("{\"status\":{\"S\":\"UPLOADING\"}}");
  g_autoptr(JsonObject) read = NULL;
  g_autoptr(GError) error = NULL;

  ensure_table (ASSAY_TABLE_JOBS, JOBS);

  read = get_item (client, "no-such-table", "job-1", &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_RESOURCE_NOT_FOUND);
  g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==, ASSAY_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (put_item (client, JOBS, no_key, NULL, &error));
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_VALIDATION);
  g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==, ASSAY_STORE_ERROR_INVALID);
  g_clear_error (&error);

  /* ADD to a string */
  {
    g_autoptr(JsonObject) job = job_item ("job-errors", "2026-11-01T09:00:00.000Z");
    g_autoptr(AssayUpdate) add = assay_update_add (assay_update_new (), "status", 1);
    g_autoptr(JsonObject) answer = NULL;

    g_assert_true (put_item (client, JOBS, job, NULL, &error));
    g_assert_no_error (error);
    answer = update_item (client, JOBS, "job-errors", add, NULL, ASSAY_RETURN_NONE, &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_VALIDATION);
    g_clear_error (&error);
  }
}

/* Wrong credentials, through a proxy of their own (the main one must refuse nothing). */
static void
test_access_denied (void)
{
  g_autoptr(AssayTestServer) strict = assay_test_server_start_proxy (dynalite, "dynamodb");
  g_autoptr(AssayDynamodbClient) wrong_secret = client_new (
    assay_test_server_get_url (strict), ASSAY_TEST_ACCESS_KEY_ID, "not-the-secret",
    "the test's wrong secret");
  g_autoptr(AssayDynamodbClient) wrong_key = client_new (
    assay_test_server_get_url (strict), "AKIDNOBODY", ASSAY_TEST_SECRET_ACCESS_KEY,
    "the test's unknown key");
  g_autoptr(JsonObject) read = NULL;
  g_autoptr(GError) error = NULL;

  read = get_item (wrong_secret, JOBS, "job-1", &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (error->message, "the test's wrong secret"));
  g_assert_nonnull (strstr (error->message, "InvalidSignatureException"));
  g_assert_cmpint (assay_dynamodb_error_to_store_error (error), ==,
                   ASSAY_STORE_ERROR_ACCESS_DENIED);
  g_clear_error (&error);

  read = get_item (wrong_key, JOBS, "job-1", &error);
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_ACCESS_DENIED);
  g_assert_nonnull (strstr (error->message, "the test's unknown key"));
  g_assert_nonnull (strstr (error->message, "UnrecognizedClientException"));
  g_clear_error (&error);

  /* not retried: one refusal each */
  g_assert_cmpuint (assay_test_server_count_refused (strict), ==, 2);
  g_assert_finalize_object (g_steal_pointer (&wrong_secret));
  g_assert_finalize_object (g_steal_pointer (&wrong_key));
}

/* ------------------------------------------------------------------------------------- */
/* Query on queue-due                                                                    */

static GPtrArray *
query_all (const char  *table,
           AssayQuery  *q,
           guint       *out_pages)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonObject) start = NULL;
  guint pages = 0;

  do
    {
      g_autoptr(AssayItemPage) page = NULL;
      g_autoptr(GError) error = NULL;

      q->start_key = start;
      page = query (table, q, &error);
      g_assert_no_error (error);
      pages++;
      g_assert_cmpuint (pages, <, 20);
      if (q->limit > 0)
        g_assert_cmpuint (page->items->len, <=, q->limit);
      for (guint i = 0; i < page->items->len; i++)
        g_ptr_array_add (ids, g_strdup (string_member (g_ptr_array_index (page->items, i),
                                                       "id")));
      g_clear_pointer (&start, json_object_unref);
      start = page->last_key != NULL ? json_object_ref (page->last_key) : NULL;
    }
  while (start != NULL);

  q->start_key = NULL;
  if (out_pages != NULL)
    *out_pages = pages;
  return ids;
}

static char *
join_ids (GPtrArray *ids)
{
  g_ptr_array_add (ids, NULL);
  return g_strjoinv (",", (char **) ids->pdata);
}

static void
test_query (void)
{
  const char *table = "query-jobs";
  /* created (open) or lease (leased), stored in an order that is not the due order */
  static const struct
  {
    const char *id;
    const char *queue;
    const char *due;
  } jobs[] = {
    { "job-o3", "open", "2026-11-01T09:03:00.000Z" },
    { "job-o1", "open", "2026-11-01T09:01:00.000Z" },
    { "job-l2", "leased", "2026-11-01T10:02:00.000Z" },
    { "job-o5", "open", "2026-11-01T09:05:00.000Z" },
    { "job-l9", "leased", "2026-11-01T10:09:00.000Z" },
    { "job-o2", "open", "2026-11-01T09:02:00.000Z" },
    { "job-l1", "leased", "2026-11-01T10:01:00.000Z" },
    { "job-o4", "open", "2026-11-01T09:04:00.000Z" },
    { "job-f1", NULL, NULL },
  };
  AssayQuery q = {
    .index = ASSAY_DYNAMODB_QUEUE_INDEX,
    .hash_name = "queue",
  };
  g_autoptr(GError) error = NULL;
  guint pages;

  ensure_table (ASSAY_TABLE_JOBS, table);
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      g_autoptr(JsonObject) job = job_item (jobs[i].id, "2026-11-01T09:00:00.000Z");

      json_object_remove_member (job, "queue");
      json_object_remove_member (job, "due");
      if (jobs[i].queue != NULL)
        {
          json_object_set_member (job, "queue", assay_value_string (jobs[i].queue));
          json_object_set_member (job, "due", assay_value_string (jobs[i].due));
        }
      g_assert_true (put_item (client, table, job, NULL, &error));
      g_assert_no_error (error);
    }

  /* queue = open, in due order, in one page and in pages of two */
  q.hash_value = assay_value_string ("open");
  {
    g_autoptr(GPtrArray) all = query_all (table, &q, &pages);
    g_autofree char *text = join_ids (all);

    g_assert_cmpstr (text, ==, "job-o1,job-o2,job-o3,job-o4,job-o5");
    g_assert_cmpuint (pages, ==, 1);
  }
  q.limit = 2;
  {
    g_autoptr(GPtrArray) all = query_all (table, &q, &pages);
    g_autofree char *text = join_ids (all);

    g_assert_cmpstr (text, ==, "job-o1,job-o2,job-o3,job-o4,job-o5");
    g_assert_cmpuint (pages, >=, 3);
    g_assert_cmpuint (pages, <=, 4);
  }
  json_node_unref (q.hash_value);

  /* queue = leased AND due < now */
  q.hash_value = assay_value_string ("leased");
  q.range_name = "due";
  q.range_op = ASSAY_COMPARE_LT;
  q.range_value = assay_value_string ("2026-11-01T10:05:00.000Z");
  q.limit = 0;
  {
    g_autoptr(GPtrArray) all = query_all (table, &q, NULL);
    g_autofree char *text = join_ids (all);

    g_assert_cmpstr (text, ==, "job-l1,job-l2");
  }
  q.limit = 1;
  {
    g_autoptr(GPtrArray) all = query_all (table, &q, &pages);
    g_autofree char *text = join_ids (all);

    g_assert_cmpstr (text, ==, "job-l1,job-l2");
    g_assert_cmpuint (pages, >=, 2);
  }
  json_node_unref (q.range_value);

  /* the other range operators */
  {
    static const struct
    {
      AssayCompare op;
      const char *expected;
    } ops[] = {
      { ASSAY_COMPARE_LE, "job-l1,job-l2" },
      { ASSAY_COMPARE_GT, "job-l9" },
      { ASSAY_COMPARE_GE, "job-l2,job-l9" },
      { ASSAY_COMPARE_EQ, "job-l2" },
    };

    q.limit = 0;
    q.range_value = assay_value_string ("2026-11-01T10:02:00.000Z");
    for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
      {
        g_autoptr(GPtrArray) all = NULL;
        g_autofree char *text = NULL;

        q.range_op = ops[i].op;
        all = query_all (table, &q, NULL);
        text = join_ids (all);
        g_assert_cmpstr (text, ==, ops[i].expected);
      }
    json_node_unref (q.range_value);
  }
  json_node_unref (q.hash_value);
}

/* ------------------------------------------------------------------------------------- */
/* Semantics: AssayCondition's evaluation against dynalite's                             */

static void
test_semantics (void)
{
  const char *table = "semantics";
  static const char * const items[] = {
    /* leased, numbers where numbers belong */
    "{\"id\":{\"S\":\"sem-leased\"},\"status\":{\"S\":\"UPLOADING\"},\"chunks\":{\"N\":\"5\"},"
    "\"queue\":{\"S\":\"leased\"},\"lease\":{\"S\":\"2026-11-01T10:00:00.000Z\"},"
    "\"processor\":{\"S\":\"processor-a\"},\"attempts\":{\"N\":\"2\"}}",
    /* final: no queue, no processor */
    "{\"id\":{\"S\":\"sem-final\"},\"status\":{\"S\":\"PROCESSED\"},\"chunks\":{\"N\":\"3\"}}",
    /* open, and chunks a string */
    "{\"id\":{\"S\":\"sem-string\"},\"status\":{\"S\":\"UPLOADING\"},\"chunks\":{\"S\":\"5\"},"
    "\"queue\":{\"S\":\"open\"}}",
    /* no item at all */
    NULL,
  };
  static const char * const labels[] = { "leased", "final", "string", "absent" };
  g_autoptr(GPtrArray) conditions = g_ptr_array_new_with_free_func (
    (GDestroyNotify) assay_condition_unref);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GString) report = g_string_new ("condition");
  g_autoptr(GError) error = NULL;
  guint disagreements = 0;

#define COND(name, expression) \
  G_STMT_START { g_ptr_array_add (names, (gpointer) name); \
                 g_ptr_array_add (conditions, expression); } G_STMT_END
#define CMP(attr, op, value) assay_condition_compare (attr, ASSAY_COMPARE_##op, value)
#define S(v) assay_value_string (v)
#define N(v) assay_value_number (v)

  COND ("attribute_not_exists(id)", assay_condition_not_exists ("id"));
  COND ("attribute_exists(processor)", assay_condition_exists ("processor"));
  COND ("status = UPLOADING AND chunks < 6",
        assay_condition_and (eq ("status", "UPLOADING"), CMP ("chunks", LT, N (6)), NULL));
  COND ("status = UPLOADING AND chunks < 5",
        assay_condition_and (eq ("status", "UPLOADING"), CMP ("chunks", LT, N (5)), NULL));
  COND ("claim, now after the lease", claim_condition ("2026-11-01T10:00:00.001Z"));
  COND ("claim, now before the lease", claim_condition ("2026-11-01T09:00:00.000Z"));
  COND ("processor = a AND attempts = 2", fence_condition ("processor-a", 2));
  COND ("processor = a AND attempts = 3", fence_condition ("processor-a", 3));
  COND ("processor <> b (absent: true)", CMP ("processor", NE, S ("processor-b")));
  COND ("processor = b", CMP ("processor", EQ, S ("processor-b")));
  COND ("processor < z (absent: false)", CMP ("processor", LT, S ("z")));
  COND ("processor >= a", CMP ("processor", GE, S ("a")));
  COND ("NOT processor < z", assay_condition_not (CMP ("processor", LT, S ("z"))));
  COND ("NOT processor = b", assay_condition_not (CMP ("processor", EQ, S ("processor-b"))));
  COND ("chunks < \"9\" (N vs S)", CMP ("chunks", LT, S ("9")));
  COND ("chunks > \"0\" (N vs S)", CMP ("chunks", GT, S ("0")));
  COND ("chunks <= \"5\"", CMP ("chunks", LE, S ("5")));
  COND ("chunks >= 5", CMP ("chunks", GE, N (5)));
  COND ("chunks <> \"5\"", CMP ("chunks", NE, S ("5")));
  COND ("chunks = \"5\"", CMP ("chunks", EQ, S ("5")));
  COND ("chunks = 5", CMP ("chunks", EQ, N (5)));
  COND ("NOT chunks >= \"0\"", assay_condition_not (CMP ("chunks", GE, S ("0"))));
  COND ("lease < 7 (S vs N)", CMP ("lease", LT, N (7)));
  COND ("queue <> open", CMP ("queue", NE, S ("open")));
  COND ("attempts < 10 (numbers by value)", CMP ("attempts", LT, N (10)));
  COND ("status > UPLOAD (strings by bytes)", CMP ("status", GT, S ("UPLOAD")));
  COND ("NOT (status = PROCESSED OR status = ERROR)",
        assay_condition_not (assay_condition_or (eq ("status", "PROCESSED"),
                                                 eq ("status", "ERROR"), NULL)));

  ensure_table (ASSAY_TABLE_JOBS, table);
  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    g_string_append_printf (report, " | %s", labels[i]);
  g_string_append_c (report, '\n');

  for (guint c = 0; c < conditions->len; c++)
    {
      AssayCondition *condition = g_ptr_array_index (conditions, c);

      g_string_append (report, names->pdata[c]);
      for (guint i = 0; i < G_N_ELEMENTS (items); i++)
        {
          g_autoptr(JsonObject) item = items[i] != NULL ? from_text (items[i]) : NULL;
          g_autofree char *id = items[i] != NULL ? g_strdup (string_member (item, "id"))
                                                 : g_strdup_printf ("sem-absent-%u", c);
          g_autoptr(AssayUpdate) probe = assay_update_set (assay_update_new (), "probe",
                                                           assay_value_number (c));
          g_autoptr(JsonObject) answer = NULL;
          gboolean local, remote;

          if (item != NULL)
            {
              g_assert_true (put_item (client, table, item, NULL, &error));
              g_assert_no_error (error);
            }
          local = assay_condition_evaluate (condition, item);
          answer = update_item (client, table, id, probe, condition, ASSAY_RETURN_NONE, &error);
          if (error != NULL)
            g_assert_error (error, ASSAY_DYNAMODB_ERROR,
                            ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
          remote = error == NULL;
          g_clear_error (&error);
          if (item == NULL)
            {
              g_assert_true (delete_item (table, id, NULL, &error));
              g_assert_no_error (error);
            }

          g_string_append_printf (report, " | %s", remote ? "true" : "false");
          if (local != remote)
            {
              g_string_append_printf (report, " (local: %s!)", local ? "true" : "false");
              disagreements++;
            }
        }
      g_string_append_c (report, '\n');
    }

  g_test_message ("dynalite's answers:\n%s", report->str);
  g_assert_cmpuint (disagreements, ==, 0);

#undef COND
#undef CMP
#undef S
#undef N
}

/* ------------------------------------------------------------------------------------- */
/* A write applied by an attempt whose answer was lost                                   */

/*
 * An in-process proxy between the client and the SigV4 proxy: it forwards every request
 * as it came (Host too, so the signature still holds) and relays the answer, except that
 * it can replace the answers of the next requests of one operation with a 500 after they
 * reached dynalite: an answer lost on the way back.
 */
typedef struct
{
  SoupServer *server;
  SoupSession *session;
  char *upstream;
  char *url;
  char *lose_target;
  guint lose_count;
  guint forwarded;
} LossyProxy;

typedef struct
{
  LossyProxy *proxy;
  SoupServerMessage *message;
  SoupMessage *forward;
} Forward;

static void
forward_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Forward *forward = user_data;
  LossyProxy *self = forward->proxy;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  const char *target = soup_message_headers_get_one (
    soup_message_get_request_headers (forward->forward), "X-Amz-Target");

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
  self->forwarded++;

  if (self->lose_count > 0 && g_strcmp0 (target, self->lose_target) == 0)
    {
      static const char lost[] =
        "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\","
        "\"message\":\"the test lost this answer\"}";

      self->lose_count--;
      soup_server_message_set_status (forward->message, 500, NULL);
      soup_server_message_set_response (forward->message, "application/x-amz-json-1.0",
                                        SOUP_MEMORY_STATIC, lost, strlen (lost));
    }
  else
    {
      const char *content_type = soup_message_headers_get_one (
        soup_message_get_response_headers (forward->forward), "Content-Type");

      soup_server_message_set_status (forward->message,
                                      soup_message_get_status (forward->forward), NULL);
      soup_server_message_set_response (forward->message, content_type, SOUP_MEMORY_COPY,
                                        g_bytes_get_data (body, NULL), g_bytes_get_size (body));
    }
  soup_server_message_unpause (forward->message);
  g_object_unref (forward->message);
  g_object_unref (forward->forward);
  g_free (forward);
}

static void
lossy_handle_cb (SoupServer        *server,
                 SoupServerMessage *message,
                 const char        *path,
                 GHashTable        *query_,
                 gpointer           user_data)
{
  LossyProxy *self = user_data;
  g_autofree char *uri = g_strconcat (self->upstream, path, NULL);
  SoupMessageHeaders *in = soup_server_message_get_request_headers (message);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (
    message));
  SoupMessageHeadersIter iter;
  const char *name, *value;
  Forward *forward = g_new0 (Forward, 1);

  forward->proxy = self;
  forward->message = g_object_ref (message);
  forward->forward = soup_message_new (soup_server_message_get_method (message), uri);
  soup_message_headers_iter_init (&iter, in);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (g_ascii_strcasecmp (name, "Content-Length") != 0 &&
        g_ascii_strcasecmp (name, "Connection") != 0 &&
        g_ascii_strcasecmp (name, "Accept-Encoding") != 0)
      soup_message_headers_append (soup_message_get_request_headers (forward->forward), name,
                                   value);
  soup_message_set_request_body_from_bytes (forward->forward, NULL, body);

  soup_server_message_pause (message);
  soup_session_send_and_read_async (self->session, forward->forward, G_PRIORITY_DEFAULT, NULL,
                                    forward_cb, forward);
}

static LossyProxy *
lossy_proxy_new (const char *upstream)
{
  LossyProxy *self = g_new0 (LossyProxy, 1);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  self->upstream = g_strdup (upstream);
  self->session = soup_session_new ();
  self->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (self->server, NULL, lossy_handle_cb, self, NULL);
  soup_server_listen_local (self->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (self->server);
  self->url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return self;
}

static void
lossy_proxy_free (LossyProxy *self)
{
  soup_server_disconnect (self->server);
  g_assert_finalize_object (self->server);
  g_assert_finalize_object (self->session);
  g_free (self->upstream);
  g_free (self->url);
  g_free (self->lose_target);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LossyProxy, lossy_proxy_free)

static void
test_retried_write (void)
{
  g_autoptr(LossyProxy) lossy = lossy_proxy_new (assay_test_server_get_url (proxy));
  g_autoptr(AssayDynamodbClient) c = client_new (lossy->url, ASSAY_TEST_ACCESS_KEY_ID,
                                                 ASSAY_TEST_SECRET_ACCESS_KEY, "the test");
  g_autoptr(JsonObject) job = job_item ("job-lossy", "2026-11-01T09:00:00.000Z");
  g_autoptr(JsonObject) other = job_item ("job-lossy", "2026-11-01T09:59:00.000Z");
  g_autoptr(AssayCondition) not_exists = assay_condition_not_exists ("id");
  g_autoptr(AssayCondition) claimable = claim_condition ("2026-11-01T10:00:00.000Z");
  g_autoptr(AssayUpdate) claim = assay_update_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) read = NULL;
  g_autoptr(GError) error = NULL;

  ensure_table (ASSAY_TABLE_JOBS, JOBS);
  g_assert_true (delete_item (JOBS, "job-lossy", NULL, &error));

  /* create: the answer is lost, the retry finds the item there: ours, so a success */
  lossy->lose_target = g_strdup ("DynamoDB_20120810.PutItem");
  lossy->lose_count = 1;
  g_assert_true (put_item (c, JOBS, job, not_exists, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (lossy->lose_count, ==, 0);
  g_assert_cmpuint (lossy->forwarded, ==, 3); /* put, put, get */

  /* … but a different item under the id is a conflict */
  lossy->lose_count = 1;
  g_assert_false (put_item (c, JOBS, other, not_exists, &error));
  g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
  g_clear_error (&error);

  /* claim: lost answer, refused retry, our claim is there: ALL_NEW is the item read back */
  assay_update_set (claim, "processor", assay_value_string ("processor-lossy"));
  assay_update_set (claim, "lease", assay_value_string ("2026-11-01T10:30:00.000Z"));
  assay_update_set (claim, "queue", assay_value_string ("leased"));
  assay_update_set (claim, "due", assay_value_string ("2026-11-01T10:30:00.000Z"));
  assay_update_add (claim, "attempts", 1);
  g_free (lossy->lose_target);
  lossy->lose_target = g_strdup ("DynamoDB_20120810.UpdateItem");
  lossy->lose_count = 1;
  answer = update_item (c, JOBS, "job-lossy", claim, claimable, ASSAY_RETURN_ALL_NEW, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (string_member (answer, "processor"), ==, "processor-lossy");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (answer, "attempts"), "N"), ==, "1");
  read = get_item (client, JOBS, "job-lossy", &error);
  g_assert_no_error (error);
  assert_items_equal (answer, read);
  g_clear_pointer (&answer, json_object_unref);

  /* a second claim by another processor meets a real conflict, on a retry too */
  {
    g_autoptr(AssayUpdate) theirs = assay_update_set (assay_update_new (), "processor",
                                                      assay_value_string ("processor-other"));

    lossy->lose_count = 1;
    answer = update_item (c, JOBS, "job-lossy", theirs, claimable, ASSAY_RETURN_ALL_NEW,
                          &error);
    g_assert_error (error, ASSAY_DYNAMODB_ERROR, ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED);
    g_assert_null (answer);
    g_clear_error (&error);
  }

  g_assert_finalize_object (g_steal_pointer (&c));
}

/* ------------------------------------------------------------------------------------- */
/* The AWS CLI                                                                           */

static char *
aws (const char  *first,
     ...)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) AWS_CLI);
  g_ptr_array_add (argv, (gpointer) "--endpoint-url");
  g_ptr_array_add (argv, (gpointer) assay_test_server_get_url (proxy));
  g_ptr_array_add (argv, (gpointer) "--output");
  g_ptr_array_add (argv, (gpointer) "json");
  g_ptr_array_add (argv, (gpointer) "dynamodb");
  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY,
                                TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_DEFAULT_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_CONFIG_FILE", "/nonexistent", TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_EC2_METADATA_DISABLED", "true", TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_PAGER", "", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "AWS_PROFILE");
  g_subprocess_launcher_unsetenv (launcher, "AWS_SESSION_TOKEN");

  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (process))
    g_error ("aws dynamodb %s failed: %s", first, err);
  return g_steal_pointer (&out);
}

static void
test_aws_cli (void)
{
  g_autoptr(JsonObject) ours = job_item ("job-to-cli", "2026-11-01T09:00:00.000Z");
  g_autoptr(JsonObject) theirs = job_item ("job-from-cli", "2026-11-01T09:01:00.000Z");
  g_autoptr(JsonObject) error_map = from_text (
    "{\"M\":{\"code\":{\"S\":\"INVALID\"},\"message\":{\"S\":\"é \\\" ✓\\n\"}}}");
  g_autoptr(GError) error = NULL;

  if (!g_file_test (AWS_CLI, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no " AWS_CLI " (Debian's awscli)");
      return;
    }

  ensure_table (ASSAY_TABLE_JOBS, JOBS);

  /* Assay writes, the CLI reads (a map, and text that JSON must escape) */
  json_object_set_member (ours, "error", json_node_init_object (json_node_alloc (), error_map));
  g_assert_true (put_item (client, JOBS, ours, NULL, &error));
  g_assert_no_error (error);
  {
    g_autofree char *out = aws ("get-item", "--consistent-read", "--table-name", JOBS, "--key",
                                "{\"id\":{\"S\":\"job-to-cli\"}}", NULL);
    g_autoptr(JsonObject) answer = from_text (out);

    assert_items_equal (json_object_get_object_member (answer, "Item"), ours);
  }

  /* the CLI writes (conditionally), Assay reads */
  {
    g_autofree char *text = to_text (theirs);
    g_autofree char *out = aws ("put-item", "--table-name", JOBS, "--item", text,
                                "--condition-expression", "attribute_not_exists(id)", NULL);
    g_autoptr(JsonObject) read = get_item (client, JOBS, "job-from-cli", &error);

    g_assert_no_error (error);
    assert_items_equal (read, theirs);
  }

  /* the tables Assay made, as the CLI describes them */
  {
    g_autofree char *out = aws ("describe-table", "--table-name", JOBS, NULL);
    g_autoptr(JsonObject) answer = from_text (out);
    JsonObject *table = json_object_get_object_member (answer, "Table");

    g_assert_cmpstr (json_object_get_string_member (table, "TableStatus"), ==, "ACTIVE");
    assert_queue_index (table);
  }
}

/* ------------------------------------------------------------------------------------- */

static void
test_proxy_refused_none (void)
{
  g_test_message ("the SigV4 proxy forwarded %u requests",
                  assay_test_server_count_requests (proxy, "POST", "/"));
  g_assert_cmpuint (assay_test_server_count_refused (proxy), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  dynalite = assay_test_server_start_dynalite ();
  proxy = assay_test_server_start_proxy (dynalite, "dynamodb");
  client = client_new (assay_test_server_get_url (proxy), ASSAY_TEST_ACCESS_KEY_ID,
                       ASSAY_TEST_SECRET_ACCESS_KEY, "the integration test");

  g_test_add_func ("/integration/dynamodb/tables", test_tables);
  g_test_add_func ("/integration/dynamodb/items", test_items);
  g_test_add_func ("/integration/dynamodb/errors", test_errors);
  g_test_add_func ("/integration/dynamodb/access-denied", test_access_denied);
  g_test_add_func ("/integration/dynamodb/query", test_query);
  g_test_add_func ("/integration/dynamodb/semantics", test_semantics);
  g_test_add_func ("/integration/dynamodb/retried-write", test_retried_write);
  g_test_add_func ("/integration/dynamodb/aws-cli", test_aws_cli);
  g_test_add_func ("/integration/dynamodb/proxy-refused-none", test_proxy_refused_none);

  status = g_test_run ();

  g_assert_finalize_object (client);
  assay_test_server_stop (proxy);
  assay_test_server_stop (dynalite);
  return status;
}
