/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-condition.h"

#include <gio/gio.h>

static JsonObject *
item_from (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static char *
item_text (JsonObject *item)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), item);

  return json_to_string (node, FALSE);
}

static void
test_values (void)
{
  g_autoptr(JsonNode) nine = assay_value_number (9);
  g_autoptr(JsonNode) ten = assay_value_number (10);
  g_autoptr(JsonNode) a = assay_value_string ("a");
  g_autoptr(JsonNode) b = assay_value_string ("b");
  g_autoptr(JsonNode) digits = assay_value_string ("10");
  gboolean comparable;

  /* numbers by value (not as text: "9" > "10"), strings by bytes */
  g_assert_cmpint (assay_value_compare (nine, ten, &comparable), <, 0);
  g_assert_true (comparable);
  g_assert_cmpint (assay_value_compare (b, a, &comparable), >, 0);
  g_assert_true (comparable);
  assay_value_compare (ten, digits, &comparable);
  g_assert_false (comparable);
}

static void
test_evaluate (void)
{
  g_autoptr(JsonObject) job = item_from (
    "{\"id\":{\"S\":\"job-1\"},\"status\":{\"S\":\"UPLOADING\"},\"chunks\":{\"N\":\"9\"},"
    "\"queue\":{\"S\":\"leased\"},\"lease\":{\"S\":\"2026-11-01T10:00:00.000Z\"}}");
  g_autoptr(AssayCondition) not_exists = assay_condition_not_exists ("id");
  g_autoptr(AssayCondition) chunk_advance = assay_condition_and (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADING")),
    assay_condition_compare ("chunks", ASSAY_COMPARE_LT, assay_value_number (10)), NULL);
  g_autoptr(AssayCondition) chunk_stale = assay_condition_and (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("UPLOADING")),
    assay_condition_compare ("chunks", ASSAY_COMPARE_LT, assay_value_number (9)), NULL);
  g_autoptr(AssayCondition) claimable = assay_condition_or (
    assay_condition_compare ("queue", ASSAY_COMPARE_EQ, assay_value_string ("open")),
    assay_condition_and (
      assay_condition_compare ("queue", ASSAY_COMPARE_EQ, assay_value_string ("leased")),
      assay_condition_compare ("lease", ASSAY_COMPARE_LT,
                               assay_value_string ("2026-11-01T10:00:00.001Z")),
      NULL),
    NULL);
  g_autoptr(AssayCondition) ne_missing = assay_condition_compare ("processor", ASSAY_COMPARE_NE,
                                                                  assay_value_string ("p"));
  g_autoptr(AssayCondition) lt_missing = assay_condition_compare ("processor", ASSAY_COMPARE_LT,
                                                                  assay_value_string ("p"));
  g_autoptr(AssayCondition) not_final = assay_condition_not (
    assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("ERROR")));
  g_autoptr(AssayCondition) type_mismatch = assay_condition_compare ("chunks", ASSAY_COMPARE_GT,
                                                                     assay_value_string ("1"));

  g_assert_false (assay_condition_evaluate (not_exists, job));
  g_assert_true (assay_condition_evaluate (not_exists, NULL));
  g_assert_true (assay_condition_evaluate (chunk_advance, job));
  g_assert_false (assay_condition_evaluate (chunk_stale, job));
  g_assert_true (assay_condition_evaluate (claimable, job));
  g_assert_true (assay_condition_evaluate (ne_missing, job));
  g_assert_false (assay_condition_evaluate (lt_missing, job));
  g_assert_true (assay_condition_evaluate (not_final, job));
  g_assert_false (assay_condition_evaluate (type_mismatch, job));
  g_assert_false (assay_condition_evaluate (chunk_advance, NULL));
}

static void
test_render (void)
{
  g_autoptr(AssayExpression) expression = assay_expression_new ();
  g_autoptr(AssayCondition) condition = assay_condition_and (
    assay_condition_compare ("processor", ASSAY_COMPARE_EQ, assay_value_string ("me")),
    assay_condition_compare ("attempts", ASSAY_COMPARE_EQ, assay_value_number (2)),
    assay_condition_not (assay_condition_exists ("result")), NULL);
  g_autoptr(AssayUpdate) update = assay_update_new ();
  g_autofree char *condition_text = NULL;
  g_autofree char *update_text = NULL;
  g_autofree char *names = NULL;
  g_autofree char *values = NULL;

  assay_update_set (update, "status", assay_value_string ("ERROR"));
  assay_update_set (update, "processor", assay_value_string ("me"));
  assay_update_remove (update, "queue");
  assay_update_remove (update, "due");
  assay_update_add (update, "attempts", 1);

  condition_text = assay_condition_render (condition, expression);
  update_text = assay_update_render (update, expression);
  names = item_text (assay_expression_get_names (expression));
  values = item_text (assay_expression_get_values (expression));

  g_assert_cmpstr (condition_text, ==,
                   "(#n0 = :v0 AND #n1 = :v1 AND (NOT attribute_exists(#n2)))");
  g_assert_cmpstr (update_text, ==, "SET #n3 = :v2, #n0 = :v3 REMOVE #n4, #n5 ADD #n1 :v4");
  g_assert_cmpstr (names, ==,
                   "{\"#n0\":\"processor\",\"#n1\":\"attempts\",\"#n2\":\"result\","
                   "\"#n3\":\"status\",\"#n4\":\"queue\",\"#n5\":\"due\"}");
  g_assert_cmpstr (values, ==,
                   "{\":v0\":{\"S\":\"me\"},\":v1\":{\"N\":\"2\"},\":v2\":{\"S\":\"ERROR\"},"
                   "\":v3\":{\"S\":\"me\"},\":v4\":{\"N\":\"1\"}}");
}

static void
test_apply (void)
{
  g_autoptr(JsonObject) job = item_from (
    "{\"id\":{\"S\":\"job-1\"},\"queue\":{\"S\":\"open\"},\"due\":{\"S\":\"t\"}}");
  g_autoptr(AssayUpdate) claim = assay_update_new ();
  g_autoptr(AssayUpdate) bad_add = assay_update_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  assay_update_set (claim, "queue", assay_value_string ("leased"));
  assay_update_add (claim, "attempts", 1);
  assay_update_remove (claim, "due");
  assay_update_apply (claim, job, &error);
  g_assert_no_error (error);
  assay_update_apply (claim, job, &error);
  g_assert_no_error (error);
  text = item_text (job);
  g_assert_cmpstr (text, ==,
                   "{\"id\":{\"S\":\"job-1\"},\"queue\":{\"S\":\"leased\"},"
                   "\"attempts\":{\"N\":\"2\"}}");

  assay_update_add (bad_add, "queue", 1);
  g_assert_false (assay_update_apply (bad_add, job, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Whether an item already shows an update: SETs and REMOVEs are judged, ADDs are not. */
static void
test_is_applied (void)
{
  g_autoptr(JsonObject) before = item_from (
    "{\"id\":{\"S\":\"job-1\"},\"queue\":{\"S\":\"open\"},\"due\":{\"S\":\"t\"},"
    "\"attempts\":{\"N\":\"1\"}}");
  g_autoptr(JsonObject) after = item_from (
    "{\"id\":{\"S\":\"job-1\"},\"queue\":{\"S\":\"leased\"},\"attempts\":{\"N\":\"7\"},"
    "\"chunks\":{\"N\":\"3.0\"}}");
  g_autoptr(AssayUpdate) claim = assay_update_new ();

  assay_update_set (claim, "queue", assay_value_string ("leased"));
  assay_update_set (claim, "chunks", assay_value_number (3));
  assay_update_remove (claim, "due");
  assay_update_add (claim, "attempts", 1);

  g_assert_false (assay_update_is_applied (claim, before));
  g_assert_true (assay_update_is_applied (claim, after));
  assay_update_apply (claim, before, NULL);
  g_assert_true (assay_update_is_applied (claim, before));
  json_object_set_member (after, "due", assay_value_string ("t"));
  g_assert_false (assay_update_is_applied (claim, after));
  json_object_remove_member (after, "due");
  json_object_set_member (after, "chunks", assay_value_string ("3"));
  g_assert_false (assay_update_is_applied (claim, after));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/condition/values", test_values);
  g_test_add_func ("/common/condition/evaluate", test_evaluate);
  g_test_add_func ("/common/condition/render", test_render);
  g_test_add_func ("/common/condition/apply", test_apply);
  g_test_add_func ("/common/condition/is-applied", test_is_applied);

  return g_test_run ();
}
