/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-id.h"
#include "assay-job.h"
#include "assay-time.h"
#include "protocol-vectors.h"

#include <string.h>

static void
test_job_vectors (void)
{
  g_autoptr(GPtrArray) vectors = assay_test_vectors_load ();

  for (guint v = 0; v < vectors->len; v++)
    {
      JsonObject *vector = g_ptr_array_index (vectors, v);
      JsonObject *job_json = json_object_get_object_member (vector, "job");
      const char *expected = json_object_get_string_member (vector, "signed_message");
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayJob) job = NULL;
      g_autoptr(AssayJob) again = NULL;
      g_autoptr(JsonNode) item = NULL;
      g_autofree char *message = NULL;
      g_autofree char *item_text = NULL;

      g_test_message ("vector %u", v);
      job = assay_job_new_from_object (job_json, ASSAY_ITEM_FORM_PLAIN, &error);
      g_assert_no_error (error);

      message = assay_job_dup_signed_message (job);
      g_assert_cmpstr (message, ==, expected);
      assay_job_verify (job, &error);
      g_assert_no_error (error);

      /* through the DynamoDB item form and back */
      item = assay_job_to_item (job);
      item_text = json_to_string (item, FALSE);
      again = assay_job_new_from_data (item_text, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (assay_job_get_signature (again), ==, assay_job_get_signature (job));
      assay_job_verify (again, &error);
      g_assert_no_error (error);
      g_assert_finalize_object (g_steal_pointer (&again));
      g_assert_finalize_object (g_steal_pointer (&job));
    }
}

/* Every one-character change of a signed field or of the signature is refused, either
 * as a malformed job or as a bad signature. */
static void
test_job_vectors_tampered (void)
{
  const char *names[] = { "id", "version", "created", "bucket", "region", "file", "client",
                          "signature" };
  g_autoptr(GPtrArray) vectors = assay_test_vectors_load ();
  guint rejected = 0;

  for (guint v = 0; v < vectors->len; v++)
    {
      JsonObject *original = json_object_get_object_member (
          g_ptr_array_index (vectors, v), "job");
      g_autoptr(JsonNode) original_node = json_node_init_object (json_node_alloc (), original);
      g_autofree char *original_text = json_to_string (original_node, FALSE);

      for (guint n = 0; n < G_N_ELEMENTS (names); n++)
        {
          const char *value = json_object_get_string_member (original, names[n]);
          gsize len = strlen (value);

          for (gsize i = 0; i < len; i++)
            {
              g_autoptr(JsonNode) tampered = json_from_string (original_text, NULL);
              JsonObject *object = json_node_get_object (tampered);
              g_autofree char *changed = g_strdup (value);
              g_autoptr(AssayJob) job = NULL;
              g_autoptr(GError) error = NULL;

              /* a digit becomes another digit, a letter another letter, so most changes
               * keep the field's form and must be caught by the signature */
              if (g_ascii_isdigit (changed[i]))
                changed[i] = changed[i] == '9' ? '0' : changed[i] + 1;
              else if (g_ascii_isalpha (changed[i]))
                changed[i] = changed[i] == 'f' ? 'a' : changed[i] == 'z' ? 'a' : changed[i] + 1;
              else
                changed[i] = 'x';
              json_object_set_string_member (object, names[n], changed);

              job = assay_job_new_from_object (object, ASSAY_ITEM_FORM_PLAIN, &error);
              if (job != NULL)
                {
                  g_assert_false (assay_job_verify (job, &error));
                  g_assert_true (error->domain == ASSAY_JOB_ERROR);
                }
              else
                g_assert_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB);
              rejected++;
            }
        }
    }
  g_test_message ("%u tampered jobs rejected", rejected);
  g_assert_cmpuint (rejected, >, vectors->len * 400);
}

static void
test_job_new (void)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autofree char *file = assay_id_new (ASSAY_ID_FILE);

  job = assay_job_new ("2.5.21", "assay-test-bucket", "eu-west-1", file, key, &error);
  g_assert_no_error (error);
  g_assert_true (assay_id_is_valid (ASSAY_ID_JOB, assay_job_get_id (job)));
  g_assert_true (assay_time_is_valid (assay_job_get_created (job)));
  g_assert_cmpstr (assay_job_get_version (job), ==, "2.5.21");
  g_assert_cmpstr (assay_job_get_file (job), ==, file);
  g_assert_cmpstr (assay_job_get_client (job), ==, assay_key_get_client_id (key));
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_UPLOADING);
  g_assert_cmpuint (assay_job_get_chunks (job), ==, 0);
  g_assert_cmpstr (assay_job_get_queue (job), ==, "open");
  g_assert_cmpstr (assay_job_get_due (job), ==, assay_job_get_created (job));
  g_assert_null (assay_job_get_processor (job));
  assay_job_verify (job, &error);
  g_assert_no_error (error);

  g_assert_null (assay_job_new ("2.5", "assay-test-bucket", "eu-west-1", file, key, &error));
  g_assert_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB);
  g_clear_error (&error);
  g_assert_null (assay_job_new ("2.5.0", "Bucket", "eu-west-1", file, key, &error));
  g_assert_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB);
  g_clear_error (&error);
  g_assert_null (assay_job_new ("2.5.0", "bucket", "eu-west-1", "job-x", key, &error));
  g_assert_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB);
  g_clear_error (&error);

  g_assert_finalize_object (g_steal_pointer (&job));
}

/* A job that a processor has finished with, as DynamoDB holds it: every attribute, in
 * the order of PROTOCOL.md. */
static const char full_item[] =
  "{\"id\":{\"S\":\"job-89055e75-5186-4415-af4b-f9e8004f7f5c\"},"
  "\"version\":{\"S\":\"1.0.0\"},"
  "\"created\":{\"S\":\"2026-11-01T10:00:05.123Z\"},"
  "\"bucket\":{\"S\":\"assay-test-bucket\"},"
  "\"region\":{\"S\":\"eu-west-1\"},"
  "\"file\":{\"S\":\"file-a91d6960-1103-4fb7-bb04-e9489ac18107\"},"
  "\"client\":{\"S\":\"client-047b3e7be375245c235e4676758e5185002e1699eadc5aff5f87728c98079147b0"
  "f02c7662b863c99eb15a39f4c71e30ba435ffeb9e817b1b106161639631ed56a\"},"
  "\"signature\":{\"S\":\"3044022018b3db5f82cb6c350abbb64331a98adb104576cfdd9d22acb056d1398426c3"
  "e4022014fcc98fd54bdd914a9548d0bb0a9b97209686df24d3c8f13f199524449d613a\"},"
  "\"status\":{\"S\":\"ERROR\"},"
  "\"chunks\":{\"N\":\"12\"},"
  "\"processor\":{\"S\":\"processor-0eeb217a-266f-4563-a582-60894057dc28\"},"
  "\"assigned\":{\"S\":\"2026-11-01T10:00:06.000Z\"},"
  "\"uploaded\":{\"S\":\"2026-11-01T10:00:09.500Z\"},"
  "\"downloaded\":{\"S\":\"2026-11-01T10:00:10.001Z\"},"
  "\"lease\":{\"S\":\"2026-11-01T10:01:06.000Z\"},"
  "\"attempts\":{\"N\":\"2\"},"
  "\"error\":{\"M\":{\"code\":{\"S\":\"ENGINE_FAILED\"},\"message\":{\"S\":\"exit status 3\"}}}}";

static void
test_job_item_form (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = assay_job_new_from_data (full_item, -1, &error);
  g_autoptr(JsonNode) item = NULL;
  g_autoptr(JsonNode) plain = NULL;
  g_autoptr(AssayJob) from_plain = NULL;
  g_autofree char *item_text = NULL;
  g_autofree char *plain_text = NULL;
  g_autofree char *wrapped = NULL;
  g_autoptr(AssayJob) from_wrapped = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_ERROR);
  g_assert_cmpuint (assay_job_get_chunks (job), ==, 12);
  g_assert_cmpuint (assay_job_get_attempts (job), ==, 2);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "ENGINE_FAILED");
  g_assert_cmpstr (assay_job_get_error_message (job), ==, "exit status 3");
  g_assert_cmpstr (assay_job_get_processor (job), ==,
                   "processor-0eeb217a-266f-4563-a582-60894057dc28");
  g_assert_null (assay_job_get_queue (job));
  g_assert_null (assay_job_get_result (job));
  assay_job_verify (job, &error);
  g_assert_no_error (error);

  /* written back byte for byte, attributes in protocol order */
  item = assay_job_to_item (job);
  item_text = json_to_string (item, FALSE);
  g_assert_cmpstr (item_text, ==, full_item);

  /* the plain form carries the same values with JSON types */
  plain = assay_job_to_json (job);
  plain_text = json_to_string (plain, FALSE);
  g_assert_nonnull (strstr (plain_text, "\"chunks\":12,"));
  g_assert_nonnull (strstr (plain_text, "\"error\":{\"code\":\"ENGINE_FAILED\","));
  from_plain = assay_job_new_from_data (plain_text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (assay_job_get_attempts (from_plain), ==, 2);
  g_assert_cmpstr (assay_job_get_lease (from_plain), ==, "2026-11-01T10:01:06.000Z");

  /* `aws dynamodb get-item` output */
  wrapped = g_strdup_printf ("{\"Item\": %s}", full_item);
  from_wrapped = assay_job_new_from_data (wrapped, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_job_get_id (from_wrapped), ==, assay_job_get_id (job));
}

/* Replaces the first occurrence of @from in the full item by @to and expects a BAD_JOB. */
static void
assert_item_rejected (const char *from,
                      const char *to,
                      const char *reason)
{
  g_autoptr(GString) text = g_string_new (full_item);
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = NULL;

  g_assert_cmpint (g_string_replace (text, from, to, 1), ==, 1);
  job = assay_job_new_from_data (text->str, -1, &error);
  g_assert_null (job);
  g_assert_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB);
  g_test_message ("%s → %s", to, error->message);
  g_assert_nonnull (strstr (error->message, reason));
}

static void
test_job_item_rejected (void)
{
  assert_item_rejected ("{\"S\":\"job-8", "{\"N\":\"job-8", "“id” is not a DynamoDB");
  assert_item_rejected ("\"id\":{\"S\":\"job-8", "\"idx\":{\"S\":\"job-8", "“id” is missing");
  assert_item_rejected ("{\"S\":\"1.0.0\"}", "{\"S\":\"1.0\"}", "“version” is not");
  assert_item_rejected ("{\"S\":\"1.0.0\"}", "{\"S\":\"1.0.0\",\"N\":\"1\"}", "“version” is not");
  assert_item_rejected ("{\"S\":\"1.0.0\"}", "{\"S\":1}", "“version” is not a string");
  assert_item_rejected ("10:00:05.123Z", "10:00:05Z", "“created” is not");
  assert_item_rejected ("assay-test-bucket", "Assay_Bucket", "“bucket” is not");
  assert_item_rejected ("eu-west-1", "eu west 1", "“region” is not");
  assert_item_rejected ("file-a91d", "file-A91d", "“file” is not");
  assert_item_rejected ("client-047b", "client-027b", "“client” is not");
  assert_item_rejected ("3044022018", "3044022018G", "“signature” is not");
  assert_item_rejected ("\"ERROR\"", "\"DONE\"", "“status” is not one of");
  assert_item_rejected ("\"status\":{\"S\":\"ERROR\"},", "", "“status” is missing");
  assert_item_rejected ("{\"N\":\"12\"}", "{\"N\":\"012\"}", "“chunks” is not");
  assert_item_rejected ("{\"N\":\"12\"}", "{\"N\":\"-1\"}", "“chunks” is not");
  assert_item_rejected ("{\"N\":\"12\"}", "{\"N\":\"1.5\"}", "“chunks” is not");
  assert_item_rejected ("{\"N\":\"12\"}", "{\"N\":\"1000001\"}", "over the limit");
  assert_item_rejected ("{\"N\":\"12\"}", "{\"S\":\"12\"}", "“chunks” is not a DynamoDB");
  assert_item_rejected ("processor-0eeb", "processor-0EEB", "“processor” is not");
  assert_item_rejected ("2026-11-01T10:01:06.000Z", "tomorrow", "“lease” is not");
  assert_item_rejected ("{\"N\":\"2\"}", "{\"N\":\"two\"}", "“attempts” is not");
  assert_item_rejected ("ENGINE_FAILED", "engine failed", "error code");
  assert_item_rejected ("{\"code\":{\"S\":\"ENGINE_FAILED\"},", "{", "“code” is missing");
  assert_item_rejected ("{\"M\":{\"code\"", "{\"L\":{\"code\"", "“error” is not a DynamoDB");
  assert_item_rejected ("{\"id\"", "[{\"id\"", "not valid JSON");
}

static void
test_job_plain_form (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayJob) job = NULL;
  const char *plain =
    "{\"id\":\"job-89055e75-5186-4415-af4b-f9e8004f7f5c\",\"version\":\"1.0.0\","
    "\"created\":\"2026-11-01T10:00:05.123Z\",\"bucket\":\"assay-test-bucket\","
    "\"region\":\"eu-west-1\",\"file\":\"file-a91d6960-1103-4fb7-bb04-e9489ac18107\","
    "\"client\":\"client-047b3e7be375245c235e4676758e5185002e1699eadc5aff5f87728c98079147b0f02c"
    "7662b863c99eb15a39f4c71e30ba435ffeb9e817b1b106161639631ed56a\","
    "\"signature\":\"3044022018b3db5f82cb6c350abbb64331a98adb104576cfdd9d22acb056d1398426c3e4022"
    "014fcc98fd54bdd914a9548d0bb0a9b97209686df24d3c8f13f199524449d613a\","
    "\"status\":\"UPLOADING\",\"chunks\":0,\"processor\":\"\",\"assigned\":\"\","
    "\"uploaded\":\"\",\"downloaded\":\"\",\"future_extension\":{\"anything\":[1,2]}}";
  g_autoptr(GString) negative = g_string_new (plain);
  g_autoptr(GString) fraction = g_string_new (plain);

  /* seed fields written as "" by clients that fill them all count as unset; attributes
   * of later protocol versions are ignored */
  job = assay_job_new_from_data (plain, -1, &error);
  g_assert_no_error (error);
  g_assert_null (assay_job_get_processor (job));
  g_assert_null (assay_job_get_uploaded (job));
  assay_job_verify (job, &error);
  g_assert_no_error (error);

  g_string_replace (negative, "\"chunks\":0", "\"chunks\":-1", 1);
  g_assert_null (assay_job_new_from_data (negative->str, -1, &error));
  g_assert_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB);
  g_clear_error (&error);
  g_string_replace (fraction, "\"chunks\":0", "\"chunks\":0.5", 1);
  g_assert_null (assay_job_new_from_data (fraction->str, -1, &error));
  g_assert_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB);
}

static void
test_job_status (void)
{
  AssayJobStatus status;

  for (AssayJobStatus s = ASSAY_JOB_STATUS_UPLOADING; s <= ASSAY_JOB_STATUS_ERROR; s++)
    {
      g_assert_true (assay_job_status_from_string (assay_job_status_to_string (s), &status));
      g_assert_cmpint (status, ==, s);
    }
  g_assert_false (assay_job_status_from_string ("uploading", &status));
  g_assert_false (assay_job_status_is_final (ASSAY_JOB_STATUS_PROCESSING));
  g_assert_true (assay_job_status_is_final (ASSAY_JOB_STATUS_PROCESSED));
  g_assert_true (assay_job_status_is_final (ASSAY_JOB_STATUS_ERROR));
}

static void
test_job_retryable (void)
{
  const struct
  {
    const char *code;
    gboolean retryable;
  } cases[] = {
    { "CHUNKS_GONE", TRUE },        { "UPLOAD_STALLED", TRUE }, { "TOO_MANY_ATTEMPTS", TRUE },
    { "ENGINE_FAILED", FALSE },     { "INFECTED", FALSE },      { "BAD_SIGNATURE", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GString) text = g_string_new (full_item);
      g_autoptr(AssayJob) job = NULL;
      g_autoptr(GError) error = NULL;

      g_string_replace (text, "ENGINE_FAILED", cases[i].code, 1);
      job = assay_job_new_from_data (text->str, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpint (assay_job_is_retryable (job), ==, cases[i].retryable);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/job/vectors", test_job_vectors);
  g_test_add_func ("/common/job/vectors-tampered", test_job_vectors_tampered);
  g_test_add_func ("/common/job/new", test_job_new);
  g_test_add_func ("/common/job/item-form", test_job_item_form);
  g_test_add_func ("/common/job/item-rejected", test_job_item_rejected);
  g_test_add_func ("/common/job/plain-form", test_job_plain_form);
  g_test_add_func ("/common/job/status", test_job_status);
  g_test_add_func ("/common/job/retryable", test_job_retryable);

  return g_test_run ();
}
