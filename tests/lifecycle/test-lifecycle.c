/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Validation, quarantine with alerts, and the archive, on a local store in this process
 * (and archive-compact killed mid-way as the assay-worker program). */
#include "config.h"

#include "assay-archive.h"
#include "assay-engine.h"
#include "assay-failure.h"
#include "assay-lifecycle.h"
#include "assay-quarantine.h"
#include "assay-scan.h"
#include "assay-validation.h"
#include "assay-worker.h"
#include "worker-fixture.h"
#include "lifecycle-helpers.h"
#include "scan-test-defs.h"

#include <archive.h>
#include <archive_entry.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#define ENGINE_OK                                                                   \
  "size=$(wc -c < \"$1\")\n"                                                       \
  "echo \"$ASSAY_JOB $size\" >> '@LOG@'\n"                                         \
  "printf '{\"engine\":\"test\",\"size\":%s}\\n' \"$size\"\n"

/* A PNG signature and header: libmagic says image/png. */
static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H',
                              'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4,
                              0x89 };

/* ------------------------------------------------------------------------------------- */
/* Helpers */

static AssayStage *
make_engine (WorkerFixture *f)
{
  g_autofree char *name = g_strdup_printf ("engine-%u.sh", g_random_int ());
  g_autofree char *command = worker_fixture_engine (f, name, ENGINE_OK);
  g_autoptr(GError) error = NULL;
  AssayEngine *engine = assay_engine_new_exec (command, &error);

  g_assert_no_error (error);
  return ASSAY_STAGE (engine);
}

typedef struct
{
  AssayWorker *worker;
  GAsyncResult *result;
  GPtrArray *events;
} TestWorker;

static void
event_cb (AssayWorker *worker,
          JsonObject  *line,
          gpointer     data)
{
  TestWorker *w = data;

  g_ptr_array_add (w->events, json_object_ref (line));
}

/* A worker with @stages (NULL-terminated, taken) and @lifecycle (may be NULL). */
static TestWorker *
start_worker (WorkerFixture  *f,
              AssayLifecycle *lifecycle,
              AssayStage    **stages)
{
  TestWorker *w = g_new0 (TestWorker, 1);
  AssayWorkerSettings settings;

  assay_worker_settings_init (&settings);
  settings.work_dir = g_strdup (f->work_dir);
  settings.poll_min_ms = 20;
  settings.poll_max_ms = 200;
  settings.stage_retry_ms = 50;
  settings.concurrency = 2;
  settings.lifecycle = lifecycle ? g_object_ref (lifecycle) : NULL;
  w->worker = assay_worker_new (f->store, &settings);
  assay_worker_settings_clear (&settings);
  for (guint i = 0; stages[i] != NULL; i++)
    {
      assay_worker_add_stage (w->worker, stages[i]);
      g_object_unref (stages[i]);
    }
  w->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_signal_connect (w->worker, "event", G_CALLBACK (event_cb), w);
  assay_worker_run_async (w->worker, NULL, worker_result_cb, &w->result);
  return w;
}

static void
stop_worker (TestWorker *w)
{
  g_autoptr(GError) error = NULL;

  assay_worker_stop (w->worker, 0);
  worker_wait_for (&w->result);
  g_assert_true (assay_worker_run_finish (w->worker, w->result, &error));
  g_assert_no_error (error);
  g_clear_object (&w->result);
  worker_finalize_object (g_steal_pointer (&w->worker));
  g_ptr_array_unref (w->events);
  g_free (w);
}

/* The first event named @name of job @id, or NULL. */
static JsonObject *
find_event (TestWorker *w,
            const char *name,
            const char *id)
{
  for (guint i = 0; i < w->events->len; i++)
    {
      JsonObject *line = g_ptr_array_index (w->events, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (line, "event", ""), name) == 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (line, "job", ""), id) == 0)
        return line;
    }
  return NULL;
}

static char *
write_file (WorkerFixture *f,
            const char    *name,
            gconstpointer  data,
            gssize         len)
{
  char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
  return path;
}

static char *
submit_bytes (WorkerFixture *f,
              const char    *name,
              gconstpointer  data,
              gssize         len)
{
  g_autofree char *path = write_file (f, name, data, len);

  return worker_fixture_submit (f, path, NULL);
}

static AssayLifecycle *
make_lifecycle (WorkerFixture                *f,
                const AssayLifecycleSettings *settings)
{
  static const AssayLifecycleSettings none = { 0 };
  g_autoptr(GError) error = NULL;
  AssayLifecycle *lifecycle = assay_lifecycle_new (f->store, settings ? settings : &none, &error);

  g_assert_no_error (error);
  return lifecycle;
}

/* Every key under @prefix. */
static GPtrArray *
list_keys (WorkerFixture *f,
           const char    *prefix)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) objects = _assay_store_list_all_sync (f->store, prefix, &error);
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);

  g_assert_no_error (error);
  for (guint i = 0; i < objects->len; i++)
    g_ptr_array_add (keys, g_strdup (((AssayObjectInfo *) g_ptr_array_index (objects, i))->key));
  return keys;
}

static GBytes *
get_object (WorkerFixture *f,
            const char    *key,
            AssayObjectInfo **out_info)
{
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  AssayObjectInfo *info;

  assay_store_get_object_async (f->store, key, output, NULL, NULL, NULL, worker_result_cb, &result);
  worker_wait_for (&result);
  info = assay_store_get_object_finish (f->store, result, &error);
  g_assert_no_error (error);
  g_output_stream_close (output, NULL, NULL);
  if (out_info != NULL)
    *out_info = info;
  else
    assay_object_info_free (info);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
}

static void
put_object (WorkerFixture *f,
            const char    *key,
            GBytes        *data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  assay_store_put_object_async (f->store, key, data, NULL, NULL, NULL, NULL, worker_result_cb,
                                &result);
  worker_wait_for (&result);
  etag = assay_store_put_object_finish (f->store, result, &error);
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------------------- */
/* Validation */

static void
test_validation_accept (WorkerFixture *f,
                        gconstpointer  data)
{
  const char *types[] = { "application/pdf", "text/*", NULL };
  g_autofree char *validator = worker_fixture_engine (f, "validate.sh",
                                                      "echo \"$ASSAY_JOB\" >> '@DIR@/validated'\n"
                                                      "exit 0\n");
  g_autoptr(GError) error = NULL;
  AssayValidation *validation = assay_validation_new (1000, types, validator, &error);
  g_autofree char *id = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonObject) envelope = NULL;
  JsonObject *stage;
  JsonArray *rules;
  TestWorker *w;

  g_assert_no_error (error);
  w = start_worker (f, NULL, (AssayStage *[]) { ASSAY_STAGE (validation), make_engine (f), NULL });
  id = submit_bytes (f, "plain.txt", "Hello, plain text.\n", -1);
  job = worker_fixture_wait_final (f, id, 20000);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_PROCESSED);
  envelope = worker_fixture_open_result (f, job);
  stage = json_object_get_object_member (envelope, "validation");
  g_assert_true (json_object_get_boolean_member (stage, "accepted"));
  rules = json_object_get_array_member (stage, "rules");
  g_assert_cmpuint (json_array_get_length (rules), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (rules, 0), "rule"),
                   ==, "max-size");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (rules, 0), "size"),
                   ==, 19);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (rules, 1), "type"),
                   ==, "text/plain");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (rules, 2), "rule"),
                   ==, "command");
  g_assert_true (json_object_get_boolean_member (json_array_get_object_element (rules, 2),
                                                 "passed"));
  g_assert_cmpuint (worker_fixture_engine_runs (f, id), ==, 1);
  stop_worker (w);
}

static void
test_validation_reject (WorkerFixture *f,
                        gconstpointer  data)
{
  const char *types[] = { "text/*", NULL };
  g_autofree char *validator = worker_fixture_engine (
    f, "validate.sh", "printf '{\"reason\": \"no pictures on Sundays\"}'\nexit 3\n");
  g_autoptr(GError) error = NULL;
  AssayValidation *validation = assay_validation_new (16, types, validator, &error);
  g_autofree char *id = NULL;
  g_autoptr(AssayJob) job = NULL;
  const char *message;
  TestWorker *w;

  g_assert_no_error (error);
  w = start_worker (f, NULL, (AssayStage *[]) { ASSAY_STAGE (validation), make_engine (f), NULL });
  id = submit_bytes (f, "picture.txt", png, sizeof png);
  job = worker_fixture_wait_final (f, id, 20000);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_ERROR);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "INVALID");
  message = assay_job_get_error_message (job);
  g_test_message ("%s", message);
  /* every rule's reason; the type from the data, not from the name .txt */
  g_assert_nonnull (strstr (message, "33 bytes, is over the limit of 16 bytes"));
  g_assert_nonnull (strstr (message, "of type image/png"));
  g_assert_nonnull (strstr (message, "exit status 3): no pictures on Sundays"));
  g_assert_cmpuint (worker_fixture_engine_runs (f, NULL), ==, 0);
  stop_worker (w);
}

/* Whether @pid runs (a zombie waiting for its reaper does not). */
static gboolean
process_alive (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  const char *end;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  end = strrchr (stat, ')');
  return end != NULL && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

/* A validator that hangs is killed with its process group (a child it started too),
 * and the job fails ENGINE_FAILED after the stage's tries; it is not a verdict. */
static void
test_validation_timeout (WorkerFixture *f,
                         gconstpointer  data)
{
  g_autofree char *validator = worker_fixture_engine (
    f, "validate.sh", "sleep 60 &\necho $! >> '@DIR@/child.pid'\nsleep 60\n");
  g_autoptr(GError) error = NULL;
  AssayValidation *validation = assay_validation_new (0, NULL, validator, &error);
  g_autofree char *id = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autofree char *pids_path = g_build_filename (f->dir, "child.pid", NULL);
  g_autofree char *pids = NULL;
  g_auto(GStrv) lines = NULL;
  TestWorker *w;

  g_assert_no_error (error);
  assay_validation_set_timeout (validation, 300);
  w = start_worker (f, NULL, (AssayStage *[]) { ASSAY_STAGE (validation), make_engine (f), NULL });
  id = submit_bytes (f, "slow.txt", "text\n", -1);
  job = worker_fixture_wait_final (f, id, 30000);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "ENGINE_FAILED");
  g_assert_nonnull (strstr (assay_job_get_error_message (job), "took longer than 300 ms"));
  g_assert_true (g_file_get_contents (pids_path, &pids, NULL, NULL));
  lines = g_strsplit (g_strstrip (pids), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      int pid = atoi (lines[i]);

      for (guint t = 0; t < 250 && process_alive (pid); t++)
        worker_sleep (20);
      g_assert_false (process_alive (pid));
    }
  stop_worker (w);
}

static void
test_validation_patterns (void)
{
  const char *bad[] = { "text", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayValidation) validation = NULL;

  g_assert_true (assay_validation_type_matches ("text/*", "text/x-c"));
  g_assert_true (assay_validation_type_matches ("TEXT/plain", "text/plain"));
  g_assert_false (assay_validation_type_matches ("text/*", "textual/x"));
  g_assert_false (assay_validation_type_matches ("text/plain", "text/html"));
  validation = assay_validation_new (0, bad, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (validation);
}

/* ------------------------------------------------------------------------------------- */
/* Quarantine and alerts */

typedef struct
{
  WorkerFixture *f;
  Receiver *receiver;
  AssayLifecycle *lifecycle;
  char *alert_file;
  char *id;
  char *content;
} Infected;

/* Submits an EICAR-like file through a worker whose test scan stage says INFECTED. */
static void
run_infected (WorkerFixture *f,
              Infected      *t)
{
  g_autofree char *command = NULL;
  AssayLifecycleSettings settings = { 0 };
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(GError) error = NULL;
  TestWorker *w;
  JsonObject *line;

  t->f = f;
  t->receiver = receiver_start (1);
  t->alert_file = g_build_filename (f->dir, "alert.json", NULL);
  command = worker_fixture_engine (f, "alert.sh", "cat > '@DIR@/alert.json'\n");
  settings.alert_webhook = t->receiver->url;
  settings.alert_command = command;
  settings.alert_retry_ms = 100;
  t->lifecycle = assay_lifecycle_new (f->store, &settings, &error);
  g_assert_no_error (error);

  w = start_worker (f, t->lifecycle,
                    (AssayStage *[]) { g_object_new (TEST_TYPE_SCAN, NULL), make_engine (f),
                                       NULL });
  t->content = g_strdup ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
  t->id = submit_bytes (f, "eicar.com", t->content, -1);
  job = worker_fixture_wait_final (f, t->id, 20000);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_ERROR);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "INFECTED");
  g_assert_cmpstr (assay_job_get_error_message (job), ==, "infected: Eicar-Test-Signature");
  line = find_event (w, "quarantined", t->id);
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (line, "alert"),
                                                  "webhook"), ==, "delivered");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (line, "alert"),
                                                  "command"), ==, "delivered");
  /* the engine never ran */
  g_assert_cmpuint (worker_fixture_engine_runs (f, NULL), ==, 0);
  stop_worker (w);
}

static void
infected_clear (Infected *t)
{
  g_clear_pointer (&t->receiver, receiver_free);
  g_clear_object (&t->lifecycle);
  g_free (t->alert_file);
  g_free (t->id);
  g_free (t->content);
}

static void
check_event (const char *text,
             Infected   *t)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *event;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  event = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "quarantined");
  g_assert_cmpstr (json_object_get_string_member (event, "job"), ==, t->id);
  g_assert_cmpstr (json_object_get_string_member (event, "signature"), ==, "Eicar-Test-Signature");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (event, "key"), "quarantine/"));
  g_assert_cmpint (json_object_get_int_member (event, "size"), ==, strlen (t->content));
  /* nothing of the file in the event */
  g_assert_null (strstr (text, "EICAR-STANDARD"));
}

static void
test_quarantine_infected (WorkerFixture *f,
                          gconstpointer  data)
{
  Infected t = { 0 };
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GBytes) stored = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *day = g_date_time_format (now, "%Y-%m-%d");
  g_autofree char *expected = NULL;
  g_autofree char *alert = NULL;
  AssayObjectInfo *info = NULL;

  run_infected (f, &t);
  keys = list_keys (f, "quarantine/");
  g_assert_cmpuint (keys->len, ==, 1);
  expected = g_strdup_printf ("quarantine/%s/%s", day, t.id);
  g_assert_cmpstr (g_ptr_array_index (keys, 0), ==, expected);
  stored = get_object (f, expected, &info);
  g_assert_cmpmem (g_bytes_get_data (stored, NULL), g_bytes_get_size (stored), t.content,
                   strlen (t.content));
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-job"), ==, t.id);
  g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-signature"), ==,
                   "Eicar-Test-Signature");
  g_assert_nonnull (g_hash_table_lookup (info->metadata, "assay-client"));
  g_assert_nonnull (g_hash_table_lookup (info->metadata, "assay-quarantined"));
  assay_object_info_free (info);

  /* the webhook: refused once, delivered on the retry; the command got the same event */
  g_assert_cmpuint (t.receiver->posts, ==, 2);
  g_assert_cmpuint (t.receiver->bodies->len, ==, 1);
  check_event (g_ptr_array_index (t.receiver->bodies, 0), &t);
  g_assert_true (g_file_get_contents (t.alert_file, &alert, NULL, NULL));
  check_event (alert, &t);
  infected_clear (&t);
}

/* The real scan stage (libclamav, the scan tests' EICAR rule): the EICAR test file as it
 * is, inside a zip, and inside a tar.gz, each INFECTED, quarantined with its signature,
 * announced to the webhook, and never given to the engine. */
static void
test_quarantine_real_scan (WorkerFixture *f,
                           gconstpointer  data)
{
  g_autofree char *defs = g_build_filename (f->dir, "defs", NULL);
  g_autofree char *made = g_build_filename (f->dir, "made", NULL);
  g_autofree char *eicar = scan_test_eicar ();
  g_autofree char *signature = g_strconcat (SCAN_TEST_EICAR_SIG, SCAN_TEST_UNOFFICIAL, NULL);
  g_autofree char *message = g_strconcat ("infected: ", signature, NULL);
  g_autoptr(AssayLifecycle) lifecycle = NULL;
  g_autoptr(AssayScanStage) scan = NULL;
  g_autoptr(GError) error = NULL;
  AssayLifecycleSettings settings = { 0 };
  AssayScanSettings scan_settings;
  Receiver *receiver = receiver_start (0);
  const char *kinds[] = { "file", "zip", "tar.gz" };
  TestWorker *w;

  g_mkdir_with_parents (made, 0700);
  scan_test_write_defs (defs);
  assay_scan_settings_init (&scan_settings);
  scan = assay_scan_stage_new (&scan_settings);
  g_assert_true (assay_scan_stage_load (scan, defs, "lifecycle-test", NULL, &error));
  g_assert_no_error (error);

  settings.alert_webhook = receiver->url;
  settings.alert_retry_ms = 100;
  lifecycle = assay_lifecycle_new (f->store, &settings, &error);
  g_assert_no_error (error);
  w = start_worker (f, lifecycle,
                    (AssayStage *[]) { ASSAY_STAGE (g_object_ref (scan)), make_engine (f), NULL });

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *name = g_strdup_printf ("eicar.%s", g_str_equal (kinds[i], "file")
                                                           ? "com" : kinds[i]);
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      g_autofree char *id = NULL;
      g_autoptr(AssayJob) job = NULL;
      gsize len;
      JsonObject *line;

      if (g_str_equal (kinds[i], "file"))
        path = scan_test_write_file (made, name, eicar, -1);
      else
        path = scan_test_archive (made, kinds[i], name, "eicar.com", eicar, 1);
      g_assert_true (g_file_get_contents (path, &contents, &len, &error));
      id = submit_bytes (f, name, contents, (gssize) len);
      job = worker_fixture_wait_final (f, id, 30000);
      g_test_message ("%s: %s %s", kinds[i], assay_job_get_error_code (job),
                      assay_job_get_error_message (job));
      g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_ERROR);
      g_assert_cmpstr (assay_job_get_error_code (job), ==, "INFECTED");
      g_assert_cmpstr (assay_job_get_error_message (job), ==, message);
      line = find_event (w, "quarantined", id);
      g_assert_nonnull (line);
      g_assert_cmpstr (json_object_get_string_member (
                         json_object_get_object_member (line, "alert"), "webhook"), ==,
                       "delivered");
      {
        g_autoptr(GPtrArray) keys = list_keys (f, "quarantine/");
        g_autofree char *key = NULL;
        g_autoptr(GBytes) stored = NULL;
        AssayObjectInfo *info = NULL;

        for (guint k = 0; k < keys->len && key == NULL; k++)
          if (g_str_has_suffix (keys->pdata[k], id))
            key = g_strdup (keys->pdata[k]);
        g_assert_nonnull (key);
        stored = get_object (f, key, &info);
        g_assert_cmpmem (g_bytes_get_data (stored, NULL), g_bytes_get_size (stored), contents,
                         len);
        g_assert_cmpstr (g_hash_table_lookup (info->metadata, "assay-signature"), ==, signature);
        assay_object_info_free (info);
      }
    }
  g_assert_cmpuint (receiver->bodies->len, ==, G_N_ELEMENTS (kinds));
  g_assert_cmpuint (worker_fixture_engine_runs (f, NULL), ==, 0);
  stop_worker (w);
  receiver_free (receiver);
}

/* An alert webhook that never answers well does not hold the job beyond alert-timeout. */
static void
test_quarantine_alert_bounded (WorkerFixture *f,
                               gconstpointer  data)
{
  Receiver *receiver = receiver_start (G_MAXUINT);
  AssayLifecycleSettings settings = { .alert_webhook = receiver->url, .alert_timeout_ms = 1500,
                                      .alert_retry_ms = 100 };
  g_autoptr(AssayLifecycle) lifecycle = make_lifecycle (f, &settings);
  g_autoptr(JsonObject) event = json_object_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) report = NULL;
  gint64 start = g_get_monotonic_time ();

  json_object_set_string_member (event, "event", "quarantined");
  assay_lifecycle_alert_async (lifecycle, event, worker_result_cb, &result);
  worker_wait_for (&result);
  report = assay_lifecycle_alert_finish (lifecycle, result);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (report, "webhook"),
                                   "failed after"));
  g_assert_cmpuint (receiver->posts, >=, 3);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  receiver_free (receiver);
}

static void
test_quarantine_release (WorkerFixture *f,
                         gconstpointer  data)
{
  Infected t = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(JsonObject) shown = NULL;
  g_autoptr(JsonObject) released = NULL;
  g_autoptr(GPtrArray) stages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonObject) envelope = NULL;
  g_autoptr(GPtrArray) log = NULL;
  JsonObject *scan;

  run_infected (f, &t);
  records = assay_quarantine_list (t.lifecycle, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (records->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (records, 0), "job"), ==, t.id);
  shown = assay_quarantine_show (t.lifecycle, t.id, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (shown, "signature"), ==, "Eicar-Test-Signature");

  /* a false positive: through the engine, and the original job completes */
  g_ptr_array_add (stages, make_engine (f));
  released = assay_quarantine_release (t.lifecycle, t.id, stages, f->work_dir, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (released, "actor"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (released, "action"), ==, "release");
  job = worker_fixture_get_job (f, t.id);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_PROCESSED);
  g_assert_null (assay_job_get_error_code (job));
  envelope = worker_fixture_open_result (f, job);
  g_assert_cmpstr (json_object_get_string_member (envelope, "job"), ==, t.id);
  scan = json_object_get_object_member (envelope, "scan");
  g_assert_cmpstr (json_object_get_string_member (scan, "verdict"), ==, "released");
  g_assert_cmpstr (json_object_get_string_member (scan, "released_by"), ==, "alice");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (envelope, "engine"),
                                               "size"), ==, strlen (t.content));
  g_assert_cmpuint (worker_fixture_engine_runs (f, t.id), ==, 1);
  g_assert_cmpuint (worker_fixture_count_objects (f, "quarantine/2"), ==, 0);
  /* every action recorded: list, show, release */
  log = list_keys (f, "quarantine/log/");
  g_assert_cmpuint (log->len, ==, 3);

  /* released once: not again */
  g_clear_pointer (&released, json_object_unref);
  released = assay_quarantine_release (t.lifecycle, t.id, stages, f->work_dir, "alice", &error);
  g_assert_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND);
  infected_clear (&t);
}

static void
test_quarantine_delete (WorkerFixture *f,
                        gconstpointer  data)
{
  Infected t = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) deleted = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(GPtrArray) log = NULL;
  g_autoptr(GBytes) record = NULL;

  run_infected (f, &t);
  deleted = assay_quarantine_delete (t.lifecycle, t.id, "bob", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (deleted, "actor"), ==, "bob");
  g_assert_cmpuint (worker_fixture_count_objects (f, "quarantine/2"), ==, 0);
  job = worker_fixture_get_job (f, t.id);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "INFECTED");
  log = list_keys (f, "quarantine/log/");
  g_assert_cmpuint (log->len, ==, 1);
  record = get_object (f, g_ptr_array_index (log, 0), NULL);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (record, NULL), g_bytes_get_size (record),
                                  "\"actor\":\"bob\""));
  infected_clear (&t);
}

/* Runs assay-worker with @args (NULL-terminated) on the fixture's store. Returns: its
 * exit status; its stdout in @out_stdout */
static int
run_worker_command (WorkerFixture  *f,
                    const char    **args,
                    char          **out_stdout)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config = g_build_filename (f->dir, "no-config", NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "ASSAY_CONFIG");
  g_ptr_array_add (argv, g_strdup (ASSAY_WORKER_PATH));
  g_ptr_array_add (argv, g_strconcat ("--local=", f->store_dir, NULL));
  g_ptr_array_add (argv, g_strconcat ("--work-dir=", f->work_dir, NULL));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out_stdout, NULL, &error);
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (process);
}

/* The person alerted, with the assay-worker program: list, show, release. */
static void
test_quarantine_commands (WorkerFixture *f,
                          gconstpointer  data)
{
  Infected t = { 0 };
  g_autofree char *out = NULL;
  g_autofree char *engine = NULL;
  g_autofree char *engine_flag = NULL;
  g_autoptr(AssayJob) job = NULL;

  run_infected (f, &t);
  g_assert_cmpint (run_worker_command (f, (const char *[]) { "quarantine", "list", "--actor=dave",
                                                            NULL }, &out), ==, 0);
  g_assert_nonnull (strstr (out, t.id));
  g_assert_nonnull (strstr (out, "\"signature\":\"Eicar-Test-Signature\""));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_worker_command (f, (const char *[]) { "quarantine", "show", t.id, NULL },
                                       &out), ==, 0);
  g_assert_nonnull (strstr (out, t.id));
  g_clear_pointer (&out, g_free);
  /* an unknown job: an error that says what to do */
  g_assert_cmpint (run_worker_command (f, (const char *[]) { "quarantine", "release",
                                                            "job-unknown", NULL }, &out), ==, 1);
  g_clear_pointer (&out, g_free);

  engine = worker_fixture_engine (f, "cli-engine.sh", ENGINE_OK);
  engine_flag = g_strconcat ("--engine-exec=", engine, NULL);
  g_assert_cmpint (run_worker_command (f, (const char *[]) { "quarantine", "release", t.id,
                                                            "--actor=dave", engine_flag, NULL },
                                       &out), ==, 0);
  g_assert_nonnull (strstr (out, "\"action\":\"release\""));
  g_assert_nonnull (strstr (out, "\"actor\":\"dave\""));
  job = worker_fixture_get_job (f, t.id);
  g_assert_cmpint (assay_job_get_status (job), ==, ASSAY_JOB_STATUS_PROCESSED);
  g_assert_cmpuint (worker_fixture_engine_runs (f, t.id), ==, 1);
  infected_clear (&t);
}

/* ------------------------------------------------------------------------------------- */
/* Archive */

static void
test_archive_states (WorkerFixture *f,
                     gconstpointer  data)
{
  const char *types[] = { "text/*", NULL };
  AssayLifecycleSettings settings = { .archive = TRUE };
  g_autoptr(AssayLifecycle) lifecycle = make_lifecycle (f, &settings);
  g_autoptr(GError) error = NULL;
  AssayValidation *validation = assay_validation_new (0, types, NULL, &error);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *day = g_date_time_format (now, "%Y/%m/%d");
  g_autofree char *good = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *eicar = NULL;
  g_autofree char *good_key = NULL;
  g_autofree char *bad_key = NULL;
  g_autoptr(AssayJob) good_job = NULL;
  g_autoptr(AssayJob) bad_job = NULL;
  g_autoptr(AssayJob) eicar_job = NULL;
  g_autoptr(GBytes) stored = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  TestWorker *w;

  g_assert_no_error (error);
  w = start_worker (f, lifecycle,
                    (AssayStage *[]) { g_object_new (TEST_TYPE_SCAN, NULL),
                                       ASSAY_STAGE (validation), make_engine (f), NULL });
  good = submit_bytes (f, "good.txt", "some text to keep\n", -1);
  bad = submit_bytes (f, "bad.txt", png, sizeof png);
  eicar = submit_bytes (f, "eicar.txt", "EICAR", -1);
  good_job = worker_fixture_wait_final (f, good, 20000);
  bad_job = worker_fixture_wait_final (f, bad, 20000);
  eicar_job = worker_fixture_wait_final (f, eicar, 20000);
  g_assert_cmpint (assay_job_get_status (good_job), ==, ASSAY_JOB_STATUS_PROCESSED);
  g_assert_cmpstr (assay_job_get_error_code (bad_job), ==, "INVALID");
  g_assert_cmpstr (assay_job_get_error_code (eicar_job), ==, "INFECTED");

  good_key = g_strdup_printf ("archive/valid/%s/%s", day, good);
  bad_key = g_strdup_printf ("archive/invalid/%s/%s", day, bad);
  keys = list_keys (f, "archive/");
  g_assert_cmpuint (keys->len, ==, 2);
  g_assert_true (g_ptr_array_find_with_equal_func (keys, good_key, g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (keys, bad_key, g_str_equal, NULL));
  stored = get_object (f, good_key, NULL);
  g_assert_cmpmem (g_bytes_get_data (stored, NULL), g_bytes_get_size (stored),
                   "some text to keep\n", 18);
  /* the infected file is in the quarantine, not in the archive */
  g_assert_cmpuint (worker_fixture_count_objects (f, "quarantine/"), ==, 1);
  g_assert_nonnull (find_event (w, "archived", good));
  stop_worker (w);
}

/* The members of a zip: name → SHA-256. */
static GHashTable *
zip_members (GBytes *zip)
{
  GHashTable *members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  char buf[4096];
  la_ssize_t n;

  archive_read_support_format_zip (a);
  g_assert_cmpint (archive_read_open_memory (a, g_bytes_get_data (zip, NULL),
                                             g_bytes_get_size (zip)), ==, ARCHIVE_OK);
  while (archive_read_next_header (a, &entry) == ARCHIVE_OK)
    {
      g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);

      while ((n = archive_read_data (a, buf, sizeof buf)) > 0)
        g_checksum_update (sha, (guchar *) buf, n);
      g_assert_cmpint (n, ==, 0);
      /* no member twice */
      g_assert_false (g_hash_table_contains (members, archive_entry_pathname (entry)));
      g_hash_table_insert (members, g_strdup (archive_entry_pathname (entry)),
                           g_strdup (g_checksum_get_string (sha)));
    }
  archive_read_free (a);
  return members;
}

typedef struct
{
  char *key;
  char *name;
  char *sha256;
} Original;

static void
original_free (Original *o)
{
  g_free (o->key);
  g_free (o->name);
  g_free (o->sha256);
  g_free (o);
}

/* Puts @count archived objects of @day ("YYYY/MM/DD") in @state. */
static void
put_originals (WorkerFixture *f,
               GPtrArray     *originals,
               const char    *state,
               const char    *day,
               guint          count,
               gsize          size)
{
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *id = g_uuid_string_random ();
      g_autofree guint8 *data = g_malloc (size);
      g_autoptr(GBytes) bytes = NULL;
      Original *o = g_new0 (Original, 1);

      for (gsize j = 0; j < size; j++)
        data[j] = (guint8) g_random_int ();
      bytes = g_bytes_new (data, size);
      o->key = g_strdup_printf ("archive/%s/%s/%s", state, day, id);
      o->name = g_strdup_printf ("%s/%s", state, id);
      o->sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      put_object (f, o->key, bytes);
      g_ptr_array_add (originals, o);
    }
}

/* The day's zip holds exactly @originals of @day, with their SHA-256. */
static void
check_day_zip (WorkerFixture *f,
               const char    *zip_day,
               GPtrArray     *originals,
               const char    *day)
{
  g_autofree char *key = g_strdup_printf ("archive/zips/%s.zip", zip_day);
  g_autoptr(GBytes) zip = get_object (f, key, NULL);
  g_autoptr(GHashTable) members = zip_members (zip);
  guint expected = 0;

  for (guint i = 0; i < originals->len; i++)
    {
      Original *o = g_ptr_array_index (originals, i);

      if (strstr (o->key, day) == NULL)
        continue;
      expected++;
      g_assert_cmpstr (g_hash_table_lookup (members, o->name), ==, o->sha256);
    }
  g_assert_cmpuint (g_hash_table_size (members), ==, expected);
}

static void
test_archive_compact (WorkerFixture *f,
                      gconstpointer  data)
{
  g_autoptr(AssayLifecycle) lifecycle = make_lifecycle (f, NULL);
  g_autoptr(GPtrArray) originals = g_ptr_array_new_with_free_func ((GDestroyNotify) original_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *today = g_date_time_format (now, "%Y/%m/%d");
  g_autoptr(GBytes) manifest = NULL;
  guint64 age = 0;

  put_originals (f, originals, "valid", "2026/01/02", 3, 5000);
  put_originals (f, originals, "invalid", "2026/01/02", 2, 70000);
  put_originals (f, originals, "valid", "2026/01/03", 1, 0);
  put_originals (f, originals, "valid", today, 1, 100);

  g_assert_true (assay_archive_parse_age ("0", &age));
  g_assert_true (assay_archive_compact (lifecycle, age, f->work_dir, NULL, NULL, &error));
  g_assert_no_error (error);
  check_day_zip (f, "2026-01-02", originals, "2026/01/02");
  check_day_zip (f, "2026-01-03", originals, "2026/01/03");
  manifest = get_object (f, "archive/zips/2026-01-02.json", NULL);
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (manifest, NULL), g_bytes_get_size (manifest),
                                  ((Original *) g_ptr_array_index (originals, 0))->sha256));
  /* the originals of the days zipped are gone; today's stays (the day has not ended) */
  g_assert_cmpuint (worker_fixture_count_objects (f, "archive/valid/2026/01/0"), ==, 0);
  g_assert_cmpuint (worker_fixture_count_objects (f, "archive/invalid/"), ==, 0);
  g_assert_cmpuint (worker_fixture_count_objects (f, "archive/valid/"), ==, 1);

  /* a file archived late for a day already zipped is merged into its zip */
  put_originals (f, originals, "valid", "2026/01/02", 1, 300);
  g_assert_true (assay_archive_compact (lifecycle, age, f->work_dir, NULL, NULL, &error));
  g_assert_no_error (error);
  check_day_zip (f, "2026-01-02", originals, "2026/01/02");
  g_assert_cmpuint (worker_fixture_count_objects (f, "archive/valid/2026/01/0"), ==, 0);

  /* --older-than 30d leaves a day of a week ago alone */
  g_assert_true (assay_archive_parse_age ("30d", &age));
  g_assert_cmpuint (age, ==, 30ull * 24 * 3600 * 1000);
  g_assert_false (assay_archive_parse_age ("soon", &age));
}

/* Runs `assay-worker archive-compact --older-than 0` on the fixture's store. Returns:
 * its wait status */
static int
run_compact (WorkerFixture  *f,
             const char     *crash,
             char          **out_stdout)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *local = g_strconcat ("--local=", f->store_dir, NULL);
  g_autofree char *work = g_strconcat ("--work-dir=", f->work_dir, NULL);
  g_autofree char *config = g_build_filename (f->dir, "no-config", NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "ASSAY_CONFIG");
  if (crash != NULL)
    g_subprocess_launcher_setenv (launcher, "ASSAY_ARCHIVE_TEST_CRASH", crash, TRUE);
  process = g_subprocess_launcher_spawn (launcher, &error, ASSAY_WORKER_PATH, local, work,
                                         "archive-compact", "--older-than", "0", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  return g_subprocess_get_status (process);
}

static void
test_archive_compact_killed (WorkerFixture *f,
                             gconstpointer  data)
{
  g_autoptr(GPtrArray) originals = g_ptr_array_new_with_free_func ((GDestroyNotify) original_free);
  g_autofree char *out = NULL;
  int status;

  put_originals (f, originals, "valid", "2026/02/10", 4, 3000);
  put_originals (f, originals, "invalid", "2026/02/10", 2, 1000);

  /* killed once the zip is stored, before any original is deleted */
  status = run_compact (f, "after-upload", NULL);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  g_assert_cmpuint (worker_fixture_count_objects (f, "archive/valid/"), ==, 4);
  check_day_zip (f, "2026-02-10", originals, "2026/02/10");

  /* a file archived meanwhile; killed again after one deletion */
  put_originals (f, originals, "valid", "2026/02/10", 1, 2000);
  status = run_compact (f, "after-delete", NULL);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  check_day_zip (f, "2026-02-10", originals, "2026/02/10");
  g_assert_cmpuint (worker_fixture_count_objects (f, "archive/valid/") +
                    worker_fixture_count_objects (f, "archive/invalid/"), ==, 6);

  /* run to the end: nothing lost, nothing twice, the originals gone */
  status = run_compact (f, NULL, &out);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_nonnull (strstr (out, "\"added\":0,\"already_zipped\":6,\"members\":7,\"deleted\":6"));
  g_clear_pointer (&out, g_free);
  check_day_zip (f, "2026-02-10", originals, "2026/02/10");
  g_assert_cmpuint (worker_fixture_count_objects (f, "archive/valid/") +
                    worker_fixture_count_objects (f, "archive/invalid/"), ==, 0);

  /* and once more: nothing to do, the zip unchanged */
  status = run_compact (f, NULL, &out);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpstr (out, ==, "");
  check_day_zip (f, "2026-02-10", originals, "2026/02/10");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("ASSAY_CONFIG");

#define ADD(path, func) \
  g_test_add (path, WorkerFixture, NULL, worker_fixture_set_up, func, worker_fixture_tear_down)
  g_test_add_func ("/lifecycle/validation/patterns", test_validation_patterns);
  ADD ("/lifecycle/validation/accept", test_validation_accept);
  ADD ("/lifecycle/validation/reject", test_validation_reject);
  ADD ("/lifecycle/validation/timeout", test_validation_timeout);
  ADD ("/lifecycle/quarantine/infected", test_quarantine_infected);
  ADD ("/lifecycle/quarantine/real-scan", test_quarantine_real_scan);
  ADD ("/lifecycle/quarantine/alert-bounded", test_quarantine_alert_bounded);
  ADD ("/lifecycle/quarantine/release", test_quarantine_release);
  ADD ("/lifecycle/quarantine/delete", test_quarantine_delete);
  ADD ("/lifecycle/quarantine/commands", test_quarantine_commands);
  ADD ("/lifecycle/archive/states", test_archive_states);
  ADD ("/lifecycle/archive/compact", test_archive_compact);
  ADD ("/lifecycle/archive/compact-killed", test_archive_compact_killed);
#undef ADD
  return g_test_run ();
}
