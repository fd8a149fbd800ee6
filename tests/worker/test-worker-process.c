/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The assay-worker program: its commands, its signals, a kill -9 in the middle of a
 * job, and that it never listens on a socket. */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "worker-fixture.h"
#include "assay-time.h"

#include <signal.h>
#include <string.h>

#define ENGINE_OK                                                                   \
  "size=$(wc -c < \"$1\")\n"                                                       \
  "echo \"$ASSAY_JOB $size\" >> '@LOG@'\n"                                         \
  "printf '{\"engine\":\"test\",\"size\":%s}\\n' \"$size\"\n"

typedef struct
{
  GSubprocess *process;
  GDataInputStream *stdout_lines;
  GPtrArray *lines;       /* char*, the JSON log lines */
  GCancellable *cancellable;
  gboolean eof;
  char *processor;
  GAsyncResult *exit;
} WorkerProcess;

static GSubprocessLauncher *
launcher_new (WorkerFixture *f,
              GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);
  g_auto(GStrv) env = g_get_environ ();
  g_autofree char *config_home = g_build_filename (f->dir, "config", NULL);
  g_autofree char *cache_home = g_build_filename (f->dir, "cache", NULL);

  /* nothing of the caller's configuration */
  for (guint i = 0; env[i] != NULL; i++)
    if (g_str_has_prefix (env[i], "ASSAY_"))
      {
        g_autofree char *name = g_strndup (env[i], strcspn (env[i], "="));

        g_subprocess_launcher_unsetenv (launcher, name);
      }
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache_home, TRUE);
  return launcher;
}

/* Runs assay-worker with @args to its end. Returns: its exit status */
static int
run_command (WorkerFixture  *f,
             const char    **args,
             char          **out_stdout)
{
  g_autoptr(GSubprocessLauncher) launcher = launcher_new (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, ASSAY_WORKER_PATH);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out_stdout, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

static void read_line (WorkerProcess *w);

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  WorkerProcess *w = data;
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                         NULL, &error);

  if (line == NULL)
    {
      w->eof = TRUE;
      return;
    }
  if (g_test_verbose ())
    g_test_message ("worker: %s", line);
  g_ptr_array_add (w->lines, line);
  read_line (w);
}

static void
read_line (WorkerProcess *w)
{
  g_data_input_stream_read_line_async (w->stdout_lines, G_PRIORITY_DEFAULT, w->cancellable,
                                       line_cb, w);
}

static gboolean
has_started (gpointer data)
{
  WorkerProcess *w = data;

  return w->lines->len > 0 || w->eof;
}

/* Starts assay-worker on the fixture's store with the engine @engine_body (NULL: the
 * default, assay-inspect) and @args. */
static WorkerProcess *
spawn_worker (WorkerFixture *f,
              const char    *engine_body,
              const char    *first_arg,
              ...)
{
  g_autoptr(GSubprocessLauncher) launcher = launcher_new (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *name = g_strdup_printf ("engine-%u.sh", g_random_int ());
  g_autofree char *engine = engine_body ? worker_fixture_engine (f, name, engine_body) : NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  WorkerProcess *w = g_new0 (WorkerProcess, 1);
  JsonObject *started;
  va_list args;

  g_ptr_array_add (argv, g_strdup (ASSAY_WORKER_PATH));
  g_ptr_array_add (argv, g_strconcat ("--local=", f->store_dir, NULL));
  g_ptr_array_add (argv, g_strconcat ("--work-dir=", f->work_dir, NULL));
  if (engine != NULL)
    g_ptr_array_add (argv, g_strconcat ("--engine-exec=", engine, NULL));
  g_ptr_array_add (argv, g_strdup ("--poll-min=20ms"));
  g_ptr_array_add (argv, g_strdup ("--poll-max=200ms"));
  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  g_ptr_array_add (argv, NULL);

  w->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  w->lines = g_ptr_array_new_with_free_func (g_free);
  w->cancellable = g_cancellable_new ();
  w->stdout_lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (w->process));
  read_line (w);
  g_subprocess_wait_async (w->process, NULL, worker_result_cb, &w->exit);

  g_assert_true (worker_wait_until (has_started, w, 10000));
  g_assert_cmpuint (w->lines->len, >, 0);
  json_parser_load_from_data (parser, w->lines->pdata[0], -1, &error);
  g_assert_no_error (error);
  started = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (started, "event"), ==, "started");
  w->processor = g_strdup (json_object_get_string_member (started, "processor"));
  return w;
}

static GPid
worker_pid (WorkerProcess *w)
{
  return (GPid) g_ascii_strtoll (g_subprocess_get_identifier (w->process), NULL, 10);
}

static gboolean
has_exited (gpointer data)
{
  WorkerProcess *w = data;

  return w->exit != NULL && w->eof;
}

/* Waits for @w to end (after a signal); frees it. Returns: its wait status, as
 * g_subprocess_get_status() gives it */
static int
reap_worker (WorkerProcess *w,
             guint          timeout_ms)
{
  int status;

  if (!worker_wait_until (has_exited, w, timeout_ms))
    g_error ("assay-worker %d did not exit within %u ms", worker_pid (w), timeout_ms);
  status = g_subprocess_get_status (w->process);
  g_cancellable_cancel (w->cancellable);
  g_clear_object (&w->exit);
  g_clear_object (&w->stdout_lines);
  g_clear_object (&w->process);
  g_clear_object (&w->cancellable);
  g_ptr_array_unref (w->lines);
  g_free (w->processor);
  g_free (w);
  return status;
}

static guint
count_lines (WorkerProcess *w,
             const char    *event,
             const char    *job)
{
  g_autofree char *event_text = g_strdup_printf ("\"event\":\"%s\"", event);
  guint count = 0;

  for (guint i = 0; i < w->lines->len; i++)
    if (strstr (w->lines->pdata[i], event_text) != NULL &&
        (job == NULL || strstr (w->lines->pdata[i], job) != NULL))
      count++;
  return count;
}

typedef struct
{
  WorkerFixture *f;
  const char *id;
  const char *status;
  const char *processor;
} JobWait;

static gboolean
job_reached (gpointer data)
{
  JobWait *wait = data;
  g_autoptr(AssayJob) job = worker_fixture_get_job (wait->f, wait->id);

  return (wait->processor == NULL ||
          g_strcmp0 (assay_job_get_processor (job), wait->processor) == 0) &&
         (wait->status == NULL ||
          g_str_equal (assay_job_status_to_string (assay_job_get_status (job)), wait->status));
}

static void
wait_job (WorkerFixture *f,
          const char    *id,
          const char    *status,
          const char    *processor)
{
  JobWait wait = { f, id, status, processor };

  if (!worker_wait_until (job_reached, &wait, 20000))
    g_error ("job %s never reached %s / %s", id, status, processor);
}

/* ------------------------------------------------------------------------------------- */
/* No socket                                                                             */

static GHashTable *
socket_inodes (GPid pid)
{
  g_autofree char *fd_dir = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (fd_dir, 0, NULL);
  GHashTable *inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fd_dir, name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && g_str_has_prefix (target, "socket:["))
        g_hash_table_add (inodes, g_strndup (target + 8, strlen (target) - 9));
    }
  return inodes;
}

/* Counts the sockets of @inodes in /proc/PID/net/@table, those in @state only unless
 * @state is NULL. */
static guint
count_sockets (GPid        pid,
               const char *table,
               GHashTable *inodes,
               const char *state)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/net/%s", pid, table);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint count = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0; /* no IPv6 here */
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GPtrArray) words = g_ptr_array_new ();

      for (guint j = 0; fields[j] != NULL; j++)
        if (*fields[j] != '\0')
          g_ptr_array_add (words, fields[j]);
      if (words->len < 10)
        continue;
      if (g_hash_table_contains (inodes, words->pdata[9]) &&
          (state == NULL || g_ascii_strcasecmp (words->pdata[3], state) == 0))
        count++;
    }
  return count;
}

static void
assert_no_listening_socket (GPid pid)
{
  g_autoptr(GHashTable) inodes = socket_inodes (pid);

  g_test_message ("assay-worker %d has %u sockets", pid, g_hash_table_size (inodes));
  g_assert_cmpuint (count_sockets (pid, "tcp", inodes, "0A"), ==, 0);
  g_assert_cmpuint (count_sockets (pid, "tcp6", inodes, "0A"), ==, 0);
  g_assert_cmpuint (count_sockets (pid, "udp", inodes, NULL), ==, 0);
  g_assert_cmpuint (count_sockets (pid, "udp6", inodes, NULL), ==, 0);
}

/* ------------------------------------------------------------------------------------- */

static void
test_version (WorkerFixture *f,
              gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *usage = NULL;

  g_assert_cmpint (run_command (f, (const char *[]) { "--version", NULL }, &out), ==, 0);
  g_assert_cmpstr (out, ==, PACKAGE_VERSION "\n");
  g_assert_cmpint (run_command (f, (const char *[]) { "frobnicate", NULL }, &usage), ==, 2);
  g_clear_pointer (&usage, g_free);
  g_assert_cmpint (run_command (f, (const char *[]) { "--lease=soon", "health", NULL }, &usage),
                   ==, 1);
  g_clear_pointer (&usage, g_free);
  /* an engine that is not there stops the program before it claims anything */
  g_assert_cmpint (run_command (f, (const char *[]) { "--engine-exec=/nonexistent/engine",
                                                      NULL },
                                &usage),
                   ==, 1);
}

static void
test_backlog (WorkerFixture *f,
              gconstpointer  data)
{
  g_autofree char *local = g_strconcat ("--local=", f->store_dir, NULL);
  g_autofree char *out = NULL;
  g_autofree char *out_all = NULL;
  WorkerCraft other = WORKER_CRAFT_INIT;

  for (guint i = 0; i < 3; i++)
    g_free (worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT));
  other.version = "99.1.0";
  g_free (worker_fixture_craft (f, &other));

  g_assert_cmpint (run_command (f, (const char *[]) { local, "backlog", NULL }, &out), ==, 0);
  g_assert_cmpstr (out, ==, "{\"claimable\":3}\n");
  g_assert_cmpint (run_command (f, (const char *[]) { local, "--accept-versions=>=0.0.0", "backlog",
                                                      NULL },
                                &out_all),
                   ==, 0);
  g_assert_cmpstr (out_all, ==, "{\"claimable\":4}\n");
}

/* Running, mid-job: no listening socket, healthy; SIGTERM lets the job finish and the
 * program exits 0; then nothing runs any more. */
static void
test_health_sockets_sigterm (WorkerFixture *f,
                             gconstpointer  data)
{
  g_autofree char *work = g_strconcat ("--work-dir=", f->work_dir, NULL);
  g_autofree char *out = NULL;
  g_autofree char *id = NULL;
  g_autoptr(AssayJob) job = NULL;
  WorkerProcess *w;

  g_assert_cmpint (run_command (f, (const char *[]) { work, "health", NULL }, &out), ==, 1);
  g_assert_nonnull (strstr (out, "unhealthy"));
  g_clear_pointer (&out, g_free);

  w = spawn_worker (f, "sleep 2\n" ENGINE_OK, NULL);
  id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  wait_job (f, id, "PROCESSING", w->processor);

  assert_no_listening_socket (worker_pid (w));
  g_assert_cmpint (run_command (f, (const char *[]) { work, "health", NULL }, &out), ==, 0);
  g_assert_nonnull (strstr (out, w->processor));
  g_clear_pointer (&out, g_free);

  g_subprocess_send_signal (w->process, SIGTERM);
  g_assert_cmpint (reap_worker (w, 15000), ==, 0);
  job = worker_fixture_get_job (f, id);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
  g_assert_cmpuint (worker_fixture_engine_runs (f, id), ==, 1);
  g_assert_cmpuint (worker_count_files (f->work_dir), ==, 0);
  g_assert_cmpint (run_command (f, (const char *[]) { work, "health", NULL }, &out), ==, 1);
}

/* SIGTERM with a job that does not finish within the grace period: it is given back
 * (lease = now) and its engine's process group killed; the program exits 0. */
static void
test_sigterm_releases (WorkerFixture *f,
                       gconstpointer  data)
{
  g_autofree char *pid_path = g_build_filename (f->dir, "engine.pid", NULL);
  g_autofree char *id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  g_autofree char *text = NULL;
  g_autofree char *now = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autofree char *processor = NULL;
  WorkerProcess *w;
  gint64 started;

  w = spawn_worker (f, "echo $$ > '@DIR@/engine.pid'\nsleep 60\n", "--grace=1s", NULL);
  processor = g_strdup (w->processor);
  wait_job (f, id, "PROCESSING", processor);
  while (!g_file_test (pid_path, G_FILE_TEST_EXISTS))
    worker_sleep (20);
  worker_sleep (100);

  started = g_get_monotonic_time ();
  g_subprocess_send_signal (w->process, SIGTERM);
  g_assert_cmpuint (count_lines (w, "released", id), ==, 0);
  g_assert_true (worker_wait_until (has_exited, w, 10000));
  g_assert_cmpuint (count_lines (w, "stopping", NULL), ==, 1);
  g_assert_cmpuint (count_lines (w, "released", id), ==, 1);
  g_assert_cmpint (reap_worker (w, 1000), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 900 * 1000);

  now = assay_time_now ();
  job = worker_fixture_get_job (f, id);
  g_assert_cmpstr (assay_job_get_processor (job), ==, processor);
  g_assert_cmpstr (assay_job_get_queue (job), ==, "leased");
  g_assert_cmpstr (assay_job_get_lease (job), <=, now);
  g_assert_cmpstr (assay_job_get_due (job), <=, now);
  g_assert_true (g_file_get_contents (pid_path, &text, NULL, NULL));
  g_assert_cmpint (kill (atoi (text), 0), !=, 0);
  g_assert_cmpuint (worker_count_files (f->work_dir), ==, 0);
}

/* kill -9 in the middle of a job (still uploading): after the lease another worker
 * completes it, with exactly one result. */
static void
test_kill_9 (WorkerFixture *f,
             gconstpointer  data)
{
  g_autoptr(GBytes) content = g_bytes_new_take (g_malloc0 (1 << 20), 1 << 20);
  g_autofree guint8 *noise = NULL;
  WorkerSlowClient *client = NULL;
  g_autofree char *id = NULL;
  g_autofree char *first = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  WorkerProcess *a, *b;
  int status;

  /* incompressible, so that the upload takes 16 chunks of 64 KiB, one every 200 ms */
  noise = g_malloc (1 << 20);
  for (guint i = 0; i < 1 << 20; i++)
    noise[i] = (guint8) g_rand_int (rand);
  g_clear_pointer (&content, g_bytes_unref);
  content = g_bytes_new (noise, 1 << 20);

  a = spawn_worker (f, ENGINE_OK, "--lease=2s", NULL);
  first = g_strdup (a->processor);
  client = worker_slow_client_start (f, content, 64 * 1024, 200);
  id = g_strdup (worker_slow_client_get_id (client));
  wait_job (f, id, "UPLOADING", first);
  worker_sleep (500);
  g_subprocess_force_exit (a->process);
  status = reap_worker (a, 5000);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

  b = spawn_worker (f, ENGINE_OK, "--lease=2s", NULL);
  job = worker_fixture_wait_final (f, id, 20000);
  g_assert_true (worker_slow_client_is_done (client));
  worker_slow_client_free (client);

  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
  g_assert_cmpstr (assay_job_get_processor (job), ==, b->processor);
  g_assert_cmpuint (assay_job_get_attempts (job), ==, 2);
  g_assert_cmpuint (worker_fixture_engine_runs (f, id), ==, 1);
  g_assert_cmpuint (worker_fixture_count_results (f), ==, 1);
  g_assert_cmpuint (worker_fixture_count_objects (f, assay_job_get_file (job)), ==, 0);
  /* the run that was killed left its directory; the next one removed it */
  g_assert_cmpuint (worker_count_files (f->work_dir), ==, 1);

  g_subprocess_send_signal (b->process, SIGTERM);
  g_assert_cmpint (reap_worker (b, 10000), ==, 0);
  g_assert_cmpuint (worker_count_files (f->work_dir), ==, 0);
}

/* Without engine settings the worker runs the bundled assay-inspect (next to it); with
 * --exit-when-idle it exits 0 once the queue has been empty for that long. */
static void
test_default_engine (WorkerFixture *f,
                     gconstpointer  data)
{
  g_autofree char *id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "assay test file\n", -1);
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonObject) envelope = NULL;
  JsonObject *engine;
  WorkerProcess *w;
  gint64 started = g_get_monotonic_time ();

  w = spawn_worker (f, NULL, "--exit-when-idle=1", NULL);
  g_assert_true (worker_wait_until (has_exited, w, 15000));
  g_assert_cmpuint (count_lines (w, "processed", id), ==, 1);
  g_assert_cmpuint (count_lines (w, "idle", NULL), ==, 1);
  g_assert_cmpint (reap_worker (w, 1000), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, G_USEC_PER_SEC);

  job = worker_fixture_get_job (f, id);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
  envelope = worker_fixture_open_result (f, job);
  engine = json_object_get_object_member (envelope, "engine");
  g_assert_cmpint (json_object_get_int_member (engine, "size"), ==, 16);
  g_assert_cmpstr (json_object_get_string_member (engine, "sha256"), ==, sha);
  g_assert_cmpuint (worker_count_files (f->work_dir), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add ("/worker-process/" path, WorkerFixture, NULL, worker_fixture_set_up, fn, \
              worker_fixture_tear_down)
  ADD ("version-and-usage", test_version);
  ADD ("backlog", test_backlog);
  ADD ("health-sockets-sigterm", test_health_sockets_sigterm);
  ADD ("sigterm-releases", test_sigterm_releases);
  ADD ("kill-9", test_kill_9);
  ADD ("default-engine-exit-when-idle", test_default_engine);
#undef ADD

  return g_test_run ();
}
