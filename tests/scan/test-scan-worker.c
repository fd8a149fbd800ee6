/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The worker with the scan stage, on a local store: infected files (plain, in a zip, in a
 * tar.gz) end in ERROR with INFECTED and never reach the engine; a clean file's verdict is
 * in the decrypted envelope; a file over the scan limit is UNSCANNABLE; new definitions
 * published while 20 jobs are in flight are loaded without failing any; and the
 * assay-worker program refuses to start without definitions. */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "worker-fixture.h"
#include "scan-test-defs.h"
#include "assay-defs.h"
#include "assay-engine.h"
#include "assay-scan.h"
#include "assay-worker.h"

#include <string.h>

/* The test engine: logs its run (worker_fixture_engine_runs), answers its size. */
#define ENGINE_OK                                                                   \
  "size=$(wc -c < \"$1\")\n"                                                       \
  "echo \"$ASSAY_JOB $size\" >> '@LOG@'\n"                                         \
  "printf '{\"engine\":\"test\",\"size\":%s}\\n' \"$size\"\n"

typedef struct
{
  WorkerFixture f;
  char *defs;
  AssayScanStage *stage;
  AssayDefsRefresher *refresher;
  AssayWorker *worker;
  GAsyncResult *run;
  GPtrArray *events;   /* the refresher's event names */
} Fixture;

static void
set_up (Fixture       *fx,
        gconstpointer  data)
{
  worker_fixture_set_up (&fx->f, data);
  fx->defs = g_build_filename (fx->f.dir, "defs", NULL);
  scan_test_write_defs (fx->defs);
  fx->events = g_ptr_array_new_with_free_func (g_free);
}

static void
tear_down (Fixture       *fx,
           gconstpointer  data)
{
  g_assert_null (fx->worker);
  if (fx->refresher != NULL)
    {
      assay_defs_refresher_stop (fx->refresher);
      worker_finalize_object (g_steal_pointer (&fx->refresher));
    }
  if (fx->stage != NULL)
    worker_finalize_object (g_steal_pointer (&fx->stage));
  g_ptr_array_unref (fx->events);
  g_free (fx->defs);
  worker_fixture_tear_down (&fx->f, data);
}

static AssayDefsManifest *
publish (Fixture    *fx,
         const char *dir)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  AssayDefsManifest *manifest;

  assay_defs_publish_async (fx->f.store, dir, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  manifest = assay_defs_publish_finish (fx->f.store, result, &error);
  g_assert_no_error (error);
  return manifest;
}

static void
refresher_event_cb (AssayDefsRefresher *refresher,
                    JsonObject         *line,
                    gpointer            data)
{
  Fixture *fx = data;
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), line);
  g_autofree char *text = json_to_string (node, FALSE);

  g_test_message ("%s", text);
  g_ptr_array_add (fx->events, g_strdup (json_object_get_string_member (line, "event")));
}

/* The stage, loaded from the store as assay-worker does at start. */
static void
make_stage (Fixture                 *fx,
            const AssayScanSettings *settings,
            guint                    refresh_ms)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean loaded = FALSE;

  fx->stage = assay_scan_stage_new (settings);
  fx->refresher = assay_defs_refresher_new (fx->f.store, fx->stage, refresh_ms);
  g_signal_connect (fx->refresher, "event", G_CALLBACK (refresher_event_cb), fx);
  assay_defs_refresher_check_async (fx->refresher, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  g_assert_true (assay_defs_refresher_check_finish (fx->refresher, result, &loaded, &error));
  g_assert_no_error (error);
  g_assert_true (loaded);
}

static void
start_worker (Fixture    *fx,
              guint       concurrency,
              const char *engine_body)
{
  AssayWorkerSettings settings;
  g_autofree char *name = g_strdup_printf ("engine-%u.sh", g_random_int ());
  g_autofree char *command = worker_fixture_engine (&fx->f, name, engine_body);
  g_autoptr(AssayEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  assay_worker_settings_init (&settings);
  settings.work_dir = g_strdup (fx->f.work_dir);
  settings.poll_min_ms = 20;
  settings.poll_max_ms = 200;
  settings.stage_retry_ms = 50;
  settings.concurrency = concurrency;
  fx->worker = assay_worker_new (fx->f.store, &settings);
  assay_worker_settings_clear (&settings);
  engine = assay_engine_new_exec (command, &error);
  g_assert_no_error (error);
  assay_worker_add_stage (fx->worker, ASSAY_STAGE (fx->stage));
  assay_worker_add_stage (fx->worker, ASSAY_STAGE (engine));
  assay_worker_run_async (fx->worker, NULL, worker_result_cb, &fx->run);
}

static void
stop_worker (Fixture *fx)
{
  g_autoptr(GError) error = NULL;

  assay_worker_stop (fx->worker, 0);
  worker_wait_for (&fx->run);
  g_assert_true (assay_worker_run_finish (fx->worker, fx->run, &error));
  g_assert_no_error (error);
  g_clear_object (&fx->run);
  worker_finalize_object (g_steal_pointer (&fx->worker));
}

static void
assert_failed (Fixture    *fx,
               const char *id,
               const char *code,
               const char *message)
{
  g_autoptr(AssayJob) job = worker_fixture_wait_final (&fx->f, id, 30000);

  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_ERROR);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, code);
  g_test_message ("%s: %s", code, assay_job_get_error_message (job));
  if (message != NULL)
    g_assert_cmpstr (assay_job_get_error_message (job), ==, message);
  /* the engine is never called */
  g_assert_cmpuint (worker_fixture_engine_runs (&fx->f, id), ==, 0);
}

static JsonObject *
assert_processed (Fixture    *fx,
                  const char *id)
{
  g_autoptr(AssayJob) job = worker_fixture_wait_final (&fx->f, id, 30000);
  g_autoptr(JsonObject) envelope = NULL;

  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_PROCESSED);
  envelope = worker_fixture_open_result (&fx->f, job);
  g_assert_cmpuint (worker_fixture_engine_runs (&fx->f, id), ==, 1);
  return json_object_ref (json_object_get_object_member (envelope, "scan"));
}

static char *
submit_content (Fixture    *fx,
                const char *name,
                const char *content,
                gssize      len)
{
  g_autofree char *path = scan_test_write_file (fx->f.dir, name, content, len);

  return worker_fixture_submit (&fx->f, path, NULL);
}

static void
test_infected_and_clean (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(AssayDefsManifest) manifest = publish (fx, fx->defs);
  g_autofree char *eicar = scan_test_eicar ();
  g_autofree char *zip = NULL, *tgz = NULL;
  g_autofree char *plain_id = NULL, *zip_id = NULL, *tgz_id = NULL, *hash_id = NULL;
  g_autofree char *clean_id = NULL;
  g_autofree char *eicar_message = g_strconcat ("infected: " SCAN_TEST_EICAR_SIG,
                                                SCAN_TEST_UNOFFICIAL, NULL);
  g_autofree char *hash_message = g_strconcat ("infected: " SCAN_TEST_HASH_SIG,
                                               SCAN_TEST_UNOFFICIAL, NULL);
  g_autoptr(JsonObject) scan = NULL;
  JsonObject *definitions;

  make_stage (fx, NULL, 60000);
  start_worker (fx, 2, ENGINE_OK);
  plain_id = submit_content (fx, "eicar.com", eicar, -1);
  zip = scan_test_archive (fx->f.dir, "zip", "eicar.zip", "docs/eicar.txt", eicar, 1);
  zip_id = worker_fixture_submit (&fx->f, zip, NULL);
  tgz = scan_test_archive (fx->f.dir, "tar.gz", "eicar.tar.gz", "docs/eicar.txt", eicar, 1);
  tgz_id = worker_fixture_submit (&fx->f, tgz, NULL);
  hash_id = submit_content (fx, "hashed.txt", SCAN_TEST_HASH_CONTENT, -1);
  clean_id = submit_content (fx, "clean.txt", "a perfectly ordinary file\n", -1);

  assert_failed (fx, plain_id, "INFECTED", eicar_message);
  assert_failed (fx, zip_id, "INFECTED", eicar_message);
  assert_failed (fx, tgz_id, "INFECTED", eicar_message);
  assert_failed (fx, hash_id, "INFECTED", hash_message);

  /* the verdict, in the envelope the client decrypts */
  scan = assert_processed (fx, clean_id);
  g_assert_cmpstr (json_object_get_string_member (scan, "verdict"), ==, "clean");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (scan, "engine"), "ClamAV 1."));
  definitions = json_object_get_object_member (scan, "definitions");
  g_assert_cmpstr (json_object_get_string_member (definitions, "version"), ==, manifest->version);
  g_assert_cmpstr (json_object_get_string_member (definitions, "time"), ==,
                   manifest->published);
  g_assert_cmpint (json_object_get_int_member (definitions, "signatures"), ==, 2);
  g_assert_true (json_object_has_member (scan, "duration_ms"));
  g_assert_cmpuint (worker_fixture_engine_runs (&fx->f, NULL), ==, 1);
  stop_worker (fx);
}

static void
test_unscannable (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(AssayDefsManifest) manifest = publish (fx, fx->defs);
  g_autofree char *big = worker_fixture_file (&fx->f, 200 * 1024);
  g_autofree char *id = NULL;
  AssayScanSettings settings;

  assay_scan_settings_init (&settings);
  settings.max_file_size = 64 * 1024;
  make_stage (fx, &settings, 60000);
  start_worker (fx, 2, ENGINE_OK);
  id = worker_fixture_submit (&fx->f, big, NULL);
  assert_failed (fx, id, "UNSCANNABLE", NULL);
  stop_worker (fx);
}

static gboolean
loaded_twice (gpointer data)
{
  Fixture *fx = data;
  guint loads = 0;

  for (guint i = 0; i < fx->events->len; i++)
    loads += g_str_equal (fx->events->pdata[i], "defs-loaded");
  return loads >= 2;
}

static gboolean
some_claimed (gpointer data)
{
  Fixture *fx = data;

  return assay_worker_get_active_jobs (fx->worker) >= 10;
}

/* New definitions published while 20 jobs are in flight: the worker loads them, no job
 * fails, and a file that only the new signature matches is caught afterwards. */
static void
test_reload_in_flight (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(AssayDefsManifest) first = publish (fx, fx->defs);
  g_autoptr(AssayDefsManifest) second = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *newer = g_build_filename (fx->f.dir, "newer", NULL);
  g_autofree char *threat_id = NULL;
  g_autofree char *threat_message = NULL;
  g_autofree char *version = NULL;
  guint old_version = 0, new_version = 0;

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("job-%u.txt", i);
      g_autofree char *text = g_strdup_printf ("ordinary file number %u\n", i);

      g_ptr_array_add (ids, submit_content (fx, name, text, -1));
    }
  make_stage (fx, NULL, 100);
  assay_defs_refresher_start (fx->refresher);
  /* the engine takes a while: the first ten stay in flight across the reload, the other
   * ten wait for a slot and are scanned after it */
  start_worker (fx, 10, "sleep 2\n" ENGINE_OK);
  g_assert_true (worker_wait_until (some_claimed, fx, 20000));

  scan_test_write_defs (newer);
  scan_test_write_ndb (newer, "assay-new.ndb", "Assay.Test.New", "only the new rule");
  second = publish (fx, newer);
  g_assert_true (worker_wait_until (loaded_twice, fx, 20000));
  version = assay_scan_stage_dup_version (fx->stage);
  g_assert_cmpstr (version, ==, second->version);

  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(JsonObject) scan = assert_processed (fx, ids->pdata[i]);
      JsonObject *definitions = json_object_get_object_member (scan, "definitions");
      const char *seen = json_object_get_string_member (definitions, "version");

      g_assert_cmpstr (json_object_get_string_member (scan, "verdict"), ==, "clean");
      old_version += g_str_equal (seen, first->version) &&
                     json_object_get_int_member (definitions, "signatures") == 2;
      new_version += json_object_get_int_member (definitions, "signatures") == 3;
    }
  g_test_message ("20 jobs: %u scanned with the first set, %u with the second", old_version,
                  new_version);
  g_assert_cmpuint (old_version + new_version, ==, 20);
  g_assert_cmpuint (old_version, >, 0);
  g_assert_cmpuint (new_version, >, 0);

  threat_message = g_strconcat ("infected: Assay.Test.New", SCAN_TEST_UNOFFICIAL, NULL);
  threat_id = submit_content (fx, "threat.txt", "this is only the new rule's match\n", -1);
  assert_failed (fx, threat_id, "INFECTED", threat_message);
  stop_worker (fx);
}

/* ------------------------------------------------------------------------------------- */
/* The assay-worker program                                                              */

static int
run_program (Fixture     *fx,
             char       **out_stdout,
             char       **out_stderr,
             const char  *first_arg,
             ...)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = g_get_environ ();
  g_autofree char *config_home = g_build_filename (fx->f.dir, "config", NULL);
  va_list args;

  /* nothing of the caller's configuration */
  for (guint i = 0; env[i] != NULL; i++)
    if (g_str_has_prefix (env[i], "ASSAY_"))
      {
        g_autofree char *name = g_strndup (env[i], strcspn (env[i], "="));

        g_subprocess_launcher_unsetenv (launcher, name);
      }
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config_home, TRUE);
  g_ptr_array_add (argv, ASSAY_WORKER_PATH);
  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out_stdout, out_stderr, &error);
  g_assert_no_error (error);
  g_test_message ("assay-worker %s: %s%s", first_arg, *out_stdout, *out_stderr);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

static void
test_program (Fixture       *fx,
              gconstpointer  data)
{
  g_autofree char *empty = g_build_filename (fx->f.dir, "empty-store", NULL);
  g_autofree char *local_empty = g_strconcat ("--local=", empty, NULL);
  g_autofree char *local = g_strconcat ("--local=", fx->f.store_dir, NULL);
  g_autofree char *work = g_strconcat ("--work-dir=", fx->f.work_dir, NULL);
  g_autofree char *from = g_strconcat ("--from=", fx->defs, NULL);
  g_autofree char *engine = worker_fixture_engine (&fx->f, "engine.sh", ENGINE_OK);
  g_autofree char *engine_flag = g_strconcat ("--engine-exec=", engine, NULL);
  g_autofree char *eicar = scan_test_eicar ();
  g_autofree char *id = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *message = g_strconcat ("infected: " SCAN_TEST_EICAR_SIG,
                                          SCAN_TEST_UNOFFICIAL, NULL);

  /* no definitions: it refuses to start, and says what to do */
  g_assert_cmpint (run_program (fx, &out, &err, local_empty, work, engine_flag,
                                "--exit-when-idle=1", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "assay-worker defs publish"));
  g_assert_nonnull (strstr (err, "allow-no-definitions"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* development only: it runs, and warns */
  g_assert_cmpint (run_program (fx, &out, &err, local_empty, work, engine_flag,
                                "--exit-when-idle=1", "--allow-no-definitions=true", NULL), ==, 0);
  g_assert_nonnull (strstr (err, "NOT scanned"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* publish, then the worker scans */
  id = submit_content (fx, "eicar.com", eicar, -1);
  g_assert_cmpint (run_program (fx, &out, &err, local, "defs", "publish", from, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"event\":\"defs-published\""));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_program (fx, &out, &err, local, work, engine_flag, "--exit-when-idle=2",
                                NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"event\":\"defs-loaded\""));
  assert_failed (fx, id, "INFECTED", message);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* usage errors */
  g_assert_cmpint (run_program (fx, &out, &err, local, "defs", "publish", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--from"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)

  ADD ("/scan/worker/infected-and-clean", test_infected_and_clean);
  ADD ("/scan/worker/unscannable", test_unscannable);
  ADD ("/scan/worker/reload-in-flight", test_reload_in_flight);
  ADD ("/scan/worker/program", test_program);
  return g_test_run ();
}
