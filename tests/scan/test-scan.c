/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The scan stage on libclamav with the tests' own signatures: verdicts, archives, limits,
 * the policy for unscannable content, and engine swaps. */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "scan-test-defs.h"
#include "assay-failure.h"
#include "assay-scan.h"
#include "assay-strict-json.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  char *dir;
  char *defs;
  AssayScanStage *stage;
} Fixture;

static void
set_up (Fixture       *f,
        gconstpointer  data)
{
  const AssayScanSettings *settings = data;
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("assay-scan-test-XXXXXX", &error);
  g_assert_no_error (error);
  f->defs = g_build_filename (f->dir, "defs", NULL);
  scan_test_write_defs (f->defs);
  f->stage = assay_scan_stage_new (settings);
  g_assert_true (assay_scan_stage_load (f->stage, f->defs, "7", "2026-01-02T03:04:05.000Z",
                                        &error));
  g_assert_no_error (error);
}

static void
tear_down (Fixture       *f,
           gconstpointer  data)
{
  g_assert_finalize_object (f->stage);
  scan_test_remove_tree (f->dir);
  g_free (f->defs);
  g_free (f->dir);
}

/* Scans @path; the output parsed (checked strict JSON first), or NULL with @error. */
static JsonObject *
scan_path (AssayScanStage  *stage,
           const char      *path,
           GError         **error)
{
  g_autoptr(GBytes) output = assay_scan_stage_scan (stage, path, NULL, error);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  gsize len;
  const char *text;

  if (output == NULL)
    return NULL;
  text = g_bytes_get_data (output, &len);
  assay_strict_json_check_object (text, len, &local_error);
  g_assert_no_error (local_error);
  json_parser_load_from_data (parser, text, (gssize) len, &local_error);
  g_assert_no_error (local_error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
assert_infected (AssayScanStage *stage,
                 const char     *path,
                 const char     *signature)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) output = scan_path (stage, path, &error);
  g_autofree char *name = NULL;
  g_autofree char *expected = g_strconcat (signature, SCAN_TEST_UNOFFICIAL, NULL);
  g_autofree char *message = g_strconcat ("infected: ", expected, NULL);

  g_assert_null (output);
  g_assert_error (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED);
  g_assert_cmpstr (error->message, ==, message);
  name = assay_scan_error_get_signature (error);
  g_assert_cmpstr (name, ==, expected);
}

static void
test_eicar_file (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *eicar = scan_test_eicar ();
  g_autofree char *path = scan_test_write_file (f->dir, "eicar.com", eicar, -1);

  assert_infected (f->stage, path, SCAN_TEST_EICAR_SIG);
}

static void
test_eicar_archives (Fixture       *f,
                     gconstpointer  data)
{
  static const char *kinds[] = { "zip", "tar.gz", "xz" };
  g_autofree char *eicar = scan_test_eicar ();

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *name = g_strconcat ("eicar.", kinds[i], NULL);
      g_autofree char *path = scan_test_archive (f->dir, kinds[i], name, "inner/eicar.txt",
                                                 eicar, 1);

      g_test_message ("%s", name);
      assert_infected (f->stage, path, SCAN_TEST_EICAR_SIG);
    }
}

/* A zip in a tar.gz (made by tar): archives in archives are opened too. */
static void
test_eicar_nested (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *eicar = scan_test_eicar ();
  g_autofree char *zip = scan_test_archive (f->dir, "zip", "inner.zip", "eicar.txt", eicar, 1);
  g_autofree char *path = g_build_filename (f->dir, "outer.tar.gz", NULL);
  const char *argv[] = { "tar", "-C", f->dir, "-czf", path, "inner.zip", NULL };
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  assert_infected (f->stage, path, SCAN_TEST_EICAR_SIG);
}

static void
test_hash_rule (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *path = scan_test_write_file (f->dir, "hashed.txt", SCAN_TEST_HASH_CONTENT, -1);
  g_autofree char *other = scan_test_write_file (f->dir, "almost.txt",
                                                 SCAN_TEST_HASH_CONTENT "!", -1);
  g_autoptr(JsonObject) output = NULL;
  g_autoptr(GError) error = NULL;

  assert_infected (f->stage, path, SCAN_TEST_HASH_SIG);
  /* one byte more: another hash */
  output = scan_path (f->stage, other, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (output, "verdict"), ==, "clean");
}

static void
test_clean (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *path = scan_test_write_file (f->dir, "clean.txt", "nothing to see here\n", -1);
  g_autoptr(JsonObject) output = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *engine = g_strdup_printf ("ClamAV %s", "1.");
  JsonObject *definitions, *limits;

  output = scan_path (f->stage, path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (output, "verdict"), ==, "clean");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (output, "engine"), engine));
  definitions = json_object_get_object_member (output, "definitions");
  g_assert_cmpstr (json_object_get_string_member (definitions, "version"), ==, "7");
  g_assert_cmpstr (json_object_get_string_member (definitions, "time"), ==,
                   "2026-01-02T03:04:05.000Z");
  g_assert_cmpint (json_object_get_int_member (definitions, "signatures"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (output, "duration_ms"), >=, 0);
  limits = json_object_get_object_member (output, "limits");
  g_assert_cmpint (json_object_get_int_member (limits, "max_file_size"), ==,
                   ASSAY_SCAN_MAX_FILE_SIZE_DEFAULT);
  g_assert_cmpint (json_object_get_int_member (limits, "max_recursion"), ==,
                   ASSAY_SCAN_MAX_RECURSION_DEFAULT);
  g_assert_cmpstr (assay_stage_get_name (ASSAY_STAGE (f->stage)), ==, "scan");
}

static const AssayScanSettings small_reject = {
  .max_file_size = 64 * 1024,
  .max_scan_size = 256 * 1024,
  .max_recursion = 3,
  .max_files = 5,
  .max_time_ms = 60000,
  .unscannable = ASSAY_SCAN_UNSCANNABLE_REJECT,
};

static const AssayScanSettings small_accept = {
  .max_file_size = 64 * 1024,
  .max_scan_size = 256 * 1024,
  .max_recursion = 3,
  .max_files = 5,
  .max_time_ms = 60000,
  .unscannable = ASSAY_SCAN_UNSCANNABLE_ACCEPT,
};

static char *
big_file (Fixture *f,
          gsize    size)
{
  g_autofree char *data = g_malloc (size);

  memset (data, 'a', size);
  return scan_test_write_file (f->dir, "big.txt", data, (gssize) size);
}

/* Over a limit: UNSCANNABLE, never clean. */
static void
test_over_limit_reject (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *path = big_file (f, 100 * 1024);
  g_autofree char *many = scan_test_archive (f->dir, "zip", "many.zip", "m.txt", "hello\n", 20);
  g_autoptr(JsonObject) output = NULL;
  g_autoptr(GError) error = NULL;

  output = scan_path (f->stage, path, &error);
  g_assert_null (output);
  g_assert_error (error, ASSAY_FAILURE, ASSAY_FAILURE_UNSCANNABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "Heuristics.Limits.Exceeded"));
  g_assert_null (assay_scan_error_get_signature (error));
  g_clear_error (&error);

  /* more members than max_files */
  output = scan_path (f->stage, many, &error);
  g_assert_null (output);
  g_assert_error (error, ASSAY_FAILURE, ASSAY_FAILURE_UNSCANNABLE);
  g_test_message ("%s", error->message);
}

static void
test_over_limit_accept (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *path = big_file (f, 100 * 1024);
  g_autoptr(JsonObject) output = NULL;
  g_autoptr(GError) error = NULL;

  output = scan_path (f->stage, path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (output, "verdict"), ==, "unscannable");
  g_assert_cmpstr (json_object_get_string_member (output, "policy"), ==, "accept");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (output, "reason"),
                                   "Heuristics.Limits.Exceeded"));
}

/* EICAR within the limits is still found with small limits. */
static void
test_small_limits_still_find (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *eicar = scan_test_eicar ();
  g_autofree char *path = scan_test_archive (f->dir, "zip", "eicar.zip", "eicar.txt", eicar, 1);

  assert_infected (f->stage, path, SCAN_TEST_EICAR_SIG);
}

static void
test_no_definitions (void)
{
  AssayScanSettings settings;
  g_autoptr(AssayScanStage) stage = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) output = NULL;
  g_autofree char *dir = g_dir_make_tmp ("assay-scan-test-XXXXXX", &error);
  g_autofree char *path = scan_test_write_file (dir, "a.txt", "a\n", -1);
  g_autofree char *empty = g_build_filename (dir, "empty", NULL);

  assay_scan_settings_init (&settings);
  stage = assay_scan_stage_new (&settings);
  g_assert_false (assay_scan_stage_has_definitions (stage));
  output = scan_path (stage, path, &error);
  g_assert_null (output);
  /* not a verdict: the worker's trouble */
  g_assert_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_NO_DEFINITIONS);
  g_clear_error (&error);

  /* a directory without any signature is refused */
  g_assert_cmpint (g_mkdir (empty, 0700), ==, 0);
  g_assert_false (assay_scan_stage_load (stage, empty, "1", NULL, &error));
  g_assert_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD);
  g_clear_error (&error);
  g_assert_finalize_object (g_steal_pointer (&stage));

  /* development only: skipped, never clean */
  settings.allow_no_definitions = TRUE;
  stage = assay_scan_stage_new (&settings);
  output = scan_path (stage, path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (output, "verdict"), ==, "skipped");
  g_assert_nonnull (strstr (json_object_get_string_member (output, "reason"),
                            "allow-no-definitions"));
  g_assert_finalize_object (g_steal_pointer (&stage));
  scan_test_remove_tree (dir);
}

static void
result_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
load (AssayScanStage  *stage,
      const char      *dir,
      const char      *version,
      GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_scan_stage_load_async (stage, dir, version, NULL, NULL, result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  assay_scan_stage_load_finish (stage, result, error);
}

/* A reload swaps the engine: a file matched only by the new rule is caught afterwards; a
 * reload that fails keeps the engine in use. */
static void
test_reload (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *newer = g_build_filename (f->dir, "newer", NULL);
  g_autofree char *broken = g_build_filename (f->dir, "broken", NULL);
  g_autofree char *path = scan_test_write_file (f->dir, "new-threat.txt",
                                                "a brand new threat, version 2\n", -1);
  g_autoptr(JsonObject) output = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *version = NULL;

  output = scan_path (f->stage, path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (output, "verdict"), ==, "clean");
  g_assert_cmpuint (assay_scan_stage_get_loads (f->stage), ==, 1);

  scan_test_write_defs (newer);
  scan_test_write_ndb (newer, "assay-new.ndb", "Assay.Test.New", "brand new threat");
  load (f->stage, newer, "8", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (assay_scan_stage_get_loads (f->stage), ==, 2);
  version = assay_scan_stage_dup_version (f->stage);
  g_assert_cmpstr (version, ==, "8");
  g_assert_cmpuint (assay_scan_stage_get_signatures (f->stage), ==, 3);
  assert_infected (f->stage, path, "Assay.Test.New");

  /* a broken set: refused with libclamav's reason, the engine in use stays */
  g_assert_cmpint (g_mkdir (broken, 0700), ==, 0);
  g_free (scan_test_write_file (broken, "bad.ndb", "this is not a signature\n", -1));
  load (f->stage, broken, "9", &error);
  g_assert_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD);
  g_test_message ("%s", error->message);
  g_clear_pointer (&version, g_free);
  version = assay_scan_stage_dup_version (f->stage);
  g_assert_cmpstr (version, ==, "8");
  assert_infected (f->stage, path, "Assay.Test.New");
}

typedef struct
{
  AssayScanStage *stage;
  const char *clean;
  const char *eicar;
  gint stop;
  gint scans;
  gint failures;
} Hammer;

static gpointer
hammer_thread (gpointer data)
{
  Hammer *h = data;

  while (!g_atomic_int_get (&h->stop))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) clean = assay_scan_stage_scan (h->stage, h->clean, NULL, &error);
      g_autoptr(GBytes) eicar = NULL;

      if (clean == NULL)
        g_atomic_int_inc (&h->failures);
      g_clear_error (&error);
      eicar = assay_scan_stage_scan (h->stage, h->eicar, NULL, &error);
      if (!g_error_matches (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED))
        g_atomic_int_inc (&h->failures);
      g_atomic_int_add (&h->scans, 2);
    }
  return NULL;
}

/* Scans in four threads while the engine is swapped ten times: every scan gives its
 * verdict, none fails, and the old engines are freed (LSan checks) as their scans end. */
static void
test_reload_under_load (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *eicar = scan_test_eicar ();
  g_autofree char *clean = scan_test_write_file (f->dir, "clean.txt", "clean\n", -1);
  g_autofree char *infected = scan_test_write_file (f->dir, "eicar.txt", eicar, -1);
  Hammer h = { f->stage, clean, infected, 0, 0, 0 };
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("hammer", hammer_thread, &h);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *version = g_strdup_printf ("%u", 100 + i);
      g_autoptr(GError) error = NULL;

      load (f->stage, f->defs, version, &error);
      g_assert_no_error (error);
    }
  g_atomic_int_set (&h.stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_test_message ("%d scans during 10 reloads", h.scans);
  g_assert_cmpint (h.scans, >, 0);
  g_assert_cmpint (h.failures, ==, 0);
  g_assert_cmpuint (assay_scan_stage_get_loads (f->stage), ==, 11);
}

static void
test_signature_getter (void)
{
  g_autoptr(GError) other = g_error_new (ASSAY_FAILURE, ASSAY_FAILURE_INVALID, "infected: x");
  g_autoptr(GError) empty = g_error_new (ASSAY_FAILURE, ASSAY_FAILURE_INFECTED, "infected: ");
  g_autoptr(GError) good = g_error_new (ASSAY_FAILURE, ASSAY_FAILURE_INFECTED,
                                        "infected: Win.Test.EICAR_HDB-1");
  g_autofree char *name = assay_scan_error_get_signature (good);

  g_assert_null (assay_scan_error_get_signature (NULL));
  g_assert_null (assay_scan_error_get_signature (other));
  g_assert_null (assay_scan_error_get_signature (empty));
  g_assert_cmpstr (name, ==, "Win.Test.EICAR_HDB-1");
  g_assert_cmpstr (assay_failure_to_code (ASSAY_FAILURE_UNSCANNABLE), ==, "UNSCANNABLE");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, settings) \
  g_test_add (path, Fixture, settings, set_up, func, tear_down)

  ADD ("/scan/eicar/file", test_eicar_file, NULL);
  ADD ("/scan/eicar/archives", test_eicar_archives, NULL);
  ADD ("/scan/eicar/nested", test_eicar_nested, NULL);
  ADD ("/scan/hash-rule", test_hash_rule, NULL);
  ADD ("/scan/clean", test_clean, NULL);
  ADD ("/scan/limits/reject", test_over_limit_reject, &small_reject);
  ADD ("/scan/limits/accept", test_over_limit_accept, &small_accept);
  ADD ("/scan/limits/still-find", test_small_limits_still_find, &small_reject);
  ADD ("/scan/reload", test_reload, NULL);
  ADD ("/scan/reload-under-load", test_reload_under_load, NULL);
  g_test_add_func ("/scan/no-definitions", test_no_definitions);
  g_test_add_func ("/scan/signature", test_signature_getter);
  return g_test_run ();
}
