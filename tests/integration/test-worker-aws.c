/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The whole pipeline on S3 + DynamoDB (s3rver, dynalite), every request through the
 * botocore SigV4 check: `assay-cli init`, the assay-worker program with the test
 * credentials in its environment and its bundled engine, and `assay-cli submit --wait`
 * as a person runs them; the results, the jobs and the bucket checked afterwards with
 * assay-inspect, `assay-cli status` and Debian's AWS CLI.
 */
#include "config.h"

#include "test-servers.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#define BUCKET "assay-worker-bucket"

static AssayTestServer *s3rver;
static AssayTestServer *dynalite;
static AssayTestServer *s3_proxy;
static AssayTestServer *dynamodb_proxy;
static char *home;  /* HOME and the XDG directories of the client and the workers */

/* ------------------------------------------------------------------------------------- */
/* Running programs                                                                      */

static gboolean
timed_out_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main context until @done says so or @timeout_ms pass. Returns: done's last */
static gboolean
wait_until (gboolean (*done) (gpointer data),
            gpointer   data,
            guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add (timeout_ms, timed_out_cb, &timed_out);
  guint tick = g_timeout_add (20, tick_cb, NULL);
  gboolean ok;

  while (!(ok = done (data)) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timeout);
  g_source_remove (tick);
  return ok;
}

/* A launcher with the test's credentials and nothing of the caller's configuration. */
static GSubprocessLauncher *
launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);
  g_auto(GStrv) env = g_get_environ ();
  g_autofree char *config = g_build_filename (home, "config", NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  g_autofree char *state = g_build_filename (home, "state", NULL);
  g_autofree char *cache = g_build_filename (home, "cache", NULL);

  for (guint i = 0; env[i] != NULL; i++)
    if (g_str_has_prefix (env[i], "ASSAY_") || g_str_has_prefix (env[i], "AWS_"))
      {
        g_autofree char *name = g_strndup (env[i], strcspn (env[i], "="));

        g_subprocess_launcher_unsetenv (launcher, name);
      }
  g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY,
                                TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_DEFAULT_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_PAGER", "", TRUE);
  g_subprocess_launcher_setenv (launcher, "HOME", home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", state, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  return launcher;
}

typedef struct
{
  char *out;
  char *err;
  GError *error;
  gboolean done;
} Communicate;

static void
communicated_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Communicate *c = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, &c->err,
                                        &c->error);
  c->done = TRUE;
}

static gboolean
communicated (gpointer data)
{
  return ((Communicate *) data)->done;
}

/* Runs @argv to its end while the main context runs (the workers' logs are read on it).
 * Returns: its exit status */
static int
run_argv (const char * const  *argv,
          char               **out,
          char               **err)
{
  g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                          G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  Communicate c = { 0 };

  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicated_cb, &c);
  if (!wait_until (communicated, &c, 240000))
    g_error ("%s did not finish within 240 s", argv[0]);
  g_assert_no_error (c.error);
  if (err == NULL && c.err != NULL && *c.err != '\0')
    g_test_message ("%s: %s", argv[0], c.err);
  if (out != NULL)
    *out = g_steal_pointer (&c.out);
  if (err != NULL)
    *err = g_steal_pointer (&c.err);
  g_free (c.out);
  g_free (c.err);
  return g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
}

/* `assay-cli @command` and the store's flags, to be NULL-terminated by the caller. */
static GPtrArray *
cli_argv (const char *command)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_strdup (g_getenv ("ASSAY_CLI")));
  g_ptr_array_add (argv, g_strdup (command));
  g_ptr_array_add (argv, g_strdup ("--bucket=" BUCKET));
  g_ptr_array_add (argv, g_strdup ("--region=" ASSAY_TEST_REGION));
  g_ptr_array_add (argv, g_strconcat ("--s3-endpoint=", assay_test_server_get_url (s3_proxy),
                                      NULL));
  g_ptr_array_add (argv, g_strconcat ("--dynamodb-endpoint=",
                                      assay_test_server_get_url (dynamodb_proxy), NULL));
  return argv;
}

/* assay-cli @command with the store's flags, then @first_arg… */
static int
run_cli (char       **out,
         const char  *command,
         const char  *first_arg,
         ...)
{
  g_autoptr(GPtrArray) argv = cli_argv (command);
  va_list args;

  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  g_ptr_array_add (argv, NULL);
  return run_argv ((const char * const *) argv->pdata, out, NULL);
}

/* The AWS CLI's JSON answer to @first_arg… (--endpoint-url added). */
static JsonNode *
run_aws (AssayTestServer *proxy,
         const char      *first_arg,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *node;
  va_list args;

  g_ptr_array_add (argv, g_strdup ("/usr/bin/aws"));
  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  g_ptr_array_add (argv, g_strconcat ("--endpoint-url=", assay_test_server_get_url (proxy), NULL));
  g_ptr_array_add (argv, g_strdup ("--output=json"));
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (run_argv ((const char * const *) argv->pdata, &out, NULL), ==, 0);
  node = json_from_string (*out != '\0' ? out : "null", &error);
  g_assert_no_error (error);
  return node;
}

/* ------------------------------------------------------------------------------------- */
/* The worker program                                                                    */

typedef struct
{
  GSubprocess *process;
  GDataInputStream *stdout_lines;
  GCancellable *cancellable;
  GPtrArray *lines;   /* char*, its JSON log */
  gboolean eof;
  GAsyncResult *exit;
  char *processor;
  char *work_dir;
} Worker;

static void read_line (Worker *w);

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Worker *w = data;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                         NULL, NULL);

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
read_line (Worker *w)
{
  g_data_input_stream_read_line_async (w->stdout_lines, G_PRIORITY_DEFAULT, w->cancellable,
                                       line_cb, w);
}

static void
exited_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
has_started (gpointer data)
{
  Worker *w = data;

  return w->lines->len > 0 || w->eof;
}

static gboolean
has_exited (gpointer data)
{
  Worker *w = data;

  return w->exit != NULL && w->eof;
}

/* assay-worker on the bucket, with its bundled engine (assay-inspect, next to it). */
static Worker *
worker_start (const char *name)
{
  g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree char *s3 = g_strconcat ("--s3-endpoint=", assay_test_server_get_url (s3_proxy), NULL);
  g_autofree char *dynamodb = g_strconcat ("--dynamodb-endpoint=",
                                           assay_test_server_get_url (dynamodb_proxy), NULL);
  g_autofree char *work = NULL;
  g_autoptr(JsonNode) started = NULL;
  g_autoptr(GError) error = NULL;
  Worker *w = g_new0 (Worker, 1);

  w->work_dir = g_build_filename (home, name, NULL);
  work = g_strconcat ("--work-dir=", w->work_dir, NULL);
  w->process = g_subprocess_launcher_spawn (launcher, &error, ASSAY_WORKER_PATH,
                                            "--bucket=" BUCKET,
                                            "--region=" ASSAY_TEST_REGION, s3, dynamodb, work,
                                            "--concurrency=2", "--poll-min=50ms",
                                            "--poll-max=250ms", NULL);
  g_assert_no_error (error);
  w->lines = g_ptr_array_new_with_free_func (g_free);
  w->cancellable = g_cancellable_new ();
  w->stdout_lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (w->process));
  read_line (w);
  g_subprocess_wait_async (w->process, NULL, exited_cb, &w->exit);

  g_assert_true (wait_until (has_started, w, 20000));
  g_assert_cmpuint (w->lines->len, >, 0);
  started = json_from_string (w->lines->pdata[0], &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (started), "event"), ==,
                   "started");
  w->processor = g_strdup (json_object_get_string_member (json_node_get_object (started),
                                                          "processor"));
  return w;
}

/* SIGTERM: the program exits 0 and leaves nothing in its work directory. */
static void
worker_stop (Worker *w)
{
  g_subprocess_send_signal (w->process, SIGTERM);
  if (!wait_until (has_exited, w, 40000))
    g_error ("assay-worker did not exit within 40 s of SIGTERM");
  g_assert_true (g_subprocess_get_if_exited (w->process));
  g_assert_cmpint (g_subprocess_get_exit_status (w->process), ==, 0);
  {
    g_autoptr(GDir) dir = g_dir_open (w->work_dir, 0, NULL);

    g_assert_true (dir == NULL || g_dir_read_name (dir) == NULL);
  }
  g_cancellable_cancel (w->cancellable);
  g_clear_object (&w->exit);
  g_clear_object (&w->stdout_lines);
  g_clear_object (&w->process);
  g_clear_object (&w->cancellable);
  g_ptr_array_unref (w->lines);
  g_free (w->processor);
  g_free (w->work_dir);
  g_free (w);
}

/* Lines of @w's log with this event (and job). */
static guint
worker_count (Worker     *w,
              const char *event,
              const char *job)
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
  Worker **workers;
  guint n_workers;
  const char *event;
  const char *job;
} CountWait;

static guint
count_all (CountWait *wait)
{
  guint count = 0;

  for (guint k = 0; k < wait->n_workers; k++)
    count += worker_count (wait->workers[k], wait->event, wait->job);
  return count;
}

static gboolean
counted (gpointer data)
{
  return count_all (data) > 0;
}

/* The lines with this event for @job across @workers, once the first has been read (a
 * worker's log line may come a moment after the client saw the job end), and a little
 * longer for a second that should not be there. */
static guint
workers_count (Worker     **workers,
               guint        n_workers,
               const char  *event,
               const char  *job)
{
  CountWait wait = { workers, n_workers, event, job };

  wait_until (counted, &wait, 10000);
  return count_all (&wait);
}

static GPid
worker_pid (Worker *w)
{
  return (GPid) g_ascii_strtoll (g_subprocess_get_identifier (w->process), NULL, 10);
}

/* The inodes of @pid's sockets. */
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

/* Sockets of @inodes in /proc/PID/net/@table, in @state (NULL: any). */
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
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GPtrArray) fields = g_ptr_array_new ();

      for (guint j = 0; words[j] != NULL; j++)
        if (*words[j] != '\0')
          g_ptr_array_add (fields, words[j]);
      if (fields->len >= 10 && g_hash_table_contains (inodes, fields->pdata[9]) &&
          (state == NULL || g_ascii_strcasecmp (fields->pdata[3], state) == 0))
        count++;
    }
  return count;
}

/* Connected to the proxies, yes; listening (TCP state 0A) or on UDP, never. */
static void
assert_no_listening_socket (Worker *w)
{
  GPid pid = worker_pid (w);
  g_autoptr(GHashTable) inodes = socket_inodes (pid);

  g_test_message ("assay-worker %d has %u sockets: TCP %u established, %u close-wait", pid,
                  g_hash_table_size (inodes), count_sockets (pid, "tcp", inodes, "01"),
                  count_sockets (pid, "tcp", inodes, "08"));
  g_assert_cmpuint (count_sockets (pid, "tcp", inodes, "0A"), ==, 0);
  g_assert_cmpuint (count_sockets (pid, "tcp6", inodes, "0A"), ==, 0);
  g_assert_cmpuint (count_sockets (pid, "udp", inodes, NULL), ==, 0);
  g_assert_cmpuint (count_sockets (pid, "udp6", inodes, NULL), ==, 0);
}

/* ------------------------------------------------------------------------------------- */
/* Files, jobs, results                                                                  */

static char *
write_file (const char *name,
            const char *data,
            gsize       len)
{
  g_autofree char *dir = g_build_filename (home, "files", NULL);
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
  return path;
}

static char *
random_file (const char *name,
             gsize       size,
             guint32     seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree guint8 *data = g_malloc (size + 1);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int (rand);
  return write_file (name, (const char *) data, size);
}

/* `assay-cli submit --wait @options… @files…`: each file's job id and its envelope, in
 * order. */
static void
submit_wait (GPtrArray          *files,
             const char * const *options,
             GPtrArray          *out_ids,
             GPtrArray          *out_envelopes)
{
  g_autoptr(GPtrArray) argv = cli_argv ("submit");
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;

  g_ptr_array_add (argv, g_strdup ("--wait"));
  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (options[i]));
  for (guint i = 0; i < files->len; i++)
    g_ptr_array_add (argv, g_strdup (files->pdata[i]));
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (run_argv ((const char * const *) argv->pdata, &out, NULL), ==, 0);

  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "job-"))
        g_ptr_array_add (out_ids, g_strdup (lines[i]));
      else if (lines[i][0] == '{')
        g_ptr_array_add (out_envelopes, g_strdup (lines[i]));
      else
        g_assert_cmpstr (lines[i], ==, "");
    }
  g_assert_cmpuint (out_ids->len, ==, files->len);
  g_assert_cmpuint (out_envelopes->len, ==, files->len);
}

/* The JSON that assay-inspect prints for @path, without its line end. */
static char *
inspect (const char *path)
{
  const char *argv[] = { ASSAY_INSPECT_PATH, path, NULL };
  g_autofree char *out = NULL;

  g_assert_cmpint (run_argv (argv, &out, NULL), ==, 0);
  return g_strdup (g_strstrip (out));
}

/* The envelope is the worker's for @job, and its engine member is, byte for byte, what
 * assay-inspect prints for @path. */
static void
assert_envelope (const char *envelope,
                 const char *job,
                 const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = json_from_string (envelope, &error);
  g_autofree char *expected_engine = inspect (path);
  g_autofree char *expected = NULL;
  g_autoptr(JsonNode) scan = NULL;
  g_autofree char *scan_text = NULL;

  g_assert_no_error (error);
  /* the scan stage's verdict (tests/scan checks its members) */
  scan = json_node_copy (json_object_get_member (json_node_get_object (node), "scan"));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (scan), "verdict"), ==,
                   "clean");
  scan_text = json_to_string (scan, FALSE);
  expected = g_strdup_printf ("{\"job\":\"%s\",\"processed\":\"%s\",\"scan\":%s,"
                              "\"validation\":{},\"engine\":%s}",
                              job, json_object_get_string_member (json_node_get_object (node),
                                                                  "processed"),
                              scan_text, expected_engine);
  g_assert_cmpstr (envelope, ==, expected);
}

/* `assay-cli status JOB --json` */
static JsonObject *
job_status (const char *job)
{
  g_autofree char *out = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (run_cli (&out, "status", job, "--json", NULL), ==, 0);
  node = json_from_string (out, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (node));
}

/* Every object key in the bucket but defs/, from `aws s3 ls --recursive`. */
static GPtrArray *
bucket_keys (void)
{
  g_autofree char *endpoint = g_strconcat ("--endpoint-url=", assay_test_server_get_url (s3_proxy),
                                           NULL);
  const char *argv[] = { "/usr/bin/aws", "s3", "ls", "--recursive", "s3://" BUCKET "/", endpoint,
                         NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  int status = run_argv (argv, &out, &err);

  /* the AWS CLI exits 1 for a listing without objects */
  g_assert_true (status == 0 || (status == 1 && *out == '\0'));
  g_assert_cmpstr (err, ==, "");
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      guint n = g_strv_length (fields);

      /* the virus definitions (defs/) stay: the workers need them */
      if (n > 0 && *fields[n - 1] != '\0' && !g_str_has_prefix (fields[n - 1], "defs/"))
        g_ptr_array_add (keys, g_strdup (fields[n - 1]));
    }
  return keys;
}

/* The items of @table, from `aws dynamodb scan`. */
static JsonArray *
scan_table (const char *table)
{
  g_autoptr(JsonNode) node = run_aws (dynamodb_proxy, "dynamodb", "scan", "--table-name", table,
                                      NULL);

  return json_array_ref (json_object_get_array_member (json_node_get_object (node), "Items"));
}

static const char *
item_string (JsonObject *item,
             const char *name)
{
  JsonObject *value = json_object_get_object_member (item, name);

  if (value == NULL)
    return NULL;
  return json_object_get_string_member_with_default (value, json_object_has_member (value, "S")
                                                              ? "S"
                                                              : "N",
                                                    NULL);
}

static void
assert_nothing_refused (void)
{
  g_assert_cmpuint (assay_test_server_count_refused (s3_proxy), ==, 0);
  g_assert_cmpuint (assay_test_server_count_refused (dynamodb_proxy), ==, 0);
}

/* ------------------------------------------------------------------------------------- */

static Worker *first_worker;

/* The workers refuse to start without virus definitions in the bucket: a tiny set (one
 * .ndb rule that matches nothing here), published with `assay-worker defs publish`. */
static void
publish_definitions (void)
{
  g_autoptr(GPtrArray) argv = cli_argv ("defs");
  g_autofree char *dir = g_build_filename (home, "defs", NULL);
  g_autofree char *ndb = g_build_filename (dir, "assay-test.ndb", NULL);
  g_autofree char *out = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (ndb, "Assay.Test.Never:0:*:6e657665722d6d617463682d31\n",
                                      -1, NULL));
  g_free (argv->pdata[0]);
  argv->pdata[0] = g_strdup (ASSAY_WORKER_PATH);
  g_ptr_array_add (argv, g_strdup ("publish"));
  g_ptr_array_add (argv, g_strconcat ("--from=", dir, NULL));
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (run_argv ((const char * const *) argv->pdata, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "defs-published"));
}

static void
test_init (void)
{
  g_autofree char *out = NULL;

  g_assert_cmpint (run_cli (&out, "init", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "ready: S3"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run_argv ((const char *[]) { g_getenv ("ASSAY_CLI"), "key", "generate", NULL },
                             &out, NULL),
                   ==, 0);
  assert_nothing_refused ();
  publish_definitions ();
}

/* A few files, one of them in many chunks that the worker streams while the client is
 * still uploading them. */
static void
test_submit_wait (void)
{
  static const char text[] =
    "Assay end to end on S3 and DynamoDB.\n"
    "Entropy, lines and words: the engine's own JSON, byte for byte.\n";
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) envelopes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(JsonObject) multi = NULL;
  g_autofree char *zeros = g_malloc0 (3 << 20);
  Worker *w;

  w = first_worker = worker_start ("work-a");
  g_ptr_array_add (files, write_file ("notes.txt", text, sizeof text - 1));
  /* incompressible: 1.5 MiB is 6 chunks of 256 KiB, uploaded at 1 MiB/s */
  g_ptr_array_add (files, random_file ("random.bin", 3 << 19, 1));
  g_ptr_array_add (files, write_file ("zeros.bin", zeros, 3 << 20));
  submit_wait (files, (const char *[]) { "--chunk-size=256K", "--bandwidth=1M", NULL }, ids,
               envelopes);

  for (guint i = 0; i < files->len; i++)
    {
      g_autoptr(JsonObject) job = job_status (ids->pdata[i]);

      g_test_message ("%s: %s, %" G_GINT64_FORMAT " chunks, assigned %s, uploaded %s",
                      (char *) files->pdata[i], (char *) ids->pdata[i],
                      json_object_get_int_member (job, "chunks"),
                      json_object_get_string_member (job, "assigned"),
                      json_object_get_string_member (job, "uploaded"));
      assert_envelope (envelopes->pdata[i], ids->pdata[i], files->pdata[i]);
      g_assert_cmpstr (json_object_get_string_member (job, "status"), ==, "PROCESSED");
      g_assert_cmpstr (json_object_get_string_member (job, "processor"), ==, w->processor);
      g_assert_cmpint (json_object_get_int_member (job, "attempts"), ==, 1);
      g_assert_cmpuint (workers_count (&w, 1, "processed", ids->pdata[i]), ==, 1);
    }

  /* the multi-chunk file: claimed while the client was still uploading it */
  multi = job_status (ids->pdata[1]);
  g_assert_cmpint (json_object_get_int_member (multi, "chunks"), >=, 6);
  g_assert_cmpstr (json_object_get_string_member (multi, "assigned"), <,
                   json_object_get_string_member (multi, "uploaded"));

  /* no chunk left in the bucket */
  keys = bucket_keys ();
  for (guint i = 0; i < keys->len; i++)
    g_test_message ("left in the bucket: %s", (char *) keys->pdata[i]);
  g_assert_cmpuint (keys->len, ==, 0);

  assert_no_listening_socket (w);
  assert_nothing_refused ();
}

/* Two worker processes, twenty jobs: each processed exactly once. */
static void
test_two_workers (void)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) envelopes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) results = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(JsonArray) result_items = NULL;
  g_autoptr(JsonArray) job_items = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  Worker *workers[2];
  guint processed[2] = { 0, 0 };

  g_assert_nonnull (first_worker);
  workers[0] = g_steal_pointer (&first_worker);
  workers[1] = worker_start ("work-b");
  g_assert_cmpstr (workers[0]->processor, !=, workers[1]->processor);
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("small-%02u.bin", i);

      g_ptr_array_add (files, random_file (name, 1000 + 337 * i, 100 + i));
    }
  submit_wait (files, NULL, ids, envelopes);

  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = ids->pdata[i];
      guint claims = 0, done = 0;

      assert_envelope (envelopes->pdata[i], id, files->pdata[i]);
      claims = workers_count (workers, 2, "claimed", id);
      done = workers_count (workers, 2, "processed", id);
      for (guint k = 0; k < 2; k++)
        processed[k] += worker_count (workers[k], "processed", id);
      g_assert_cmpuint (claims, ==, 1);
      g_assert_cmpuint (done, ==, 1);
    }
  g_test_message ("processed by the first worker: %u, by the second: %u", processed[0],
                  processed[1]);

  /* the tables agree: one claim and one result per job */
  job_items = scan_table ("assay-jobs");
  for (guint i = 0; i < json_array_get_length (job_items); i++)
    {
      JsonObject *item = json_array_get_object_element (job_items, i);

      if (!g_ptr_array_find_with_equal_func (ids, item_string (item, "id"), g_str_equal, NULL))
        continue;
      g_assert_cmpstr (item_string (item, "status"), ==, "PROCESSED");
      g_assert_cmpstr (item_string (item, "attempts"), ==, "1");
      g_assert_nonnull (item_string (item, "result"));
    }
  result_items = scan_table ("assay-results");
  for (guint i = 0; i < json_array_get_length (result_items); i++)
    {
      JsonObject *item = json_array_get_object_element (result_items, i);
      const char *job = item_string (item, "job");

      g_assert_false (g_hash_table_contains (results, job));
      g_hash_table_add (results, (gpointer) job);
    }
  for (guint i = 0; i < ids->len; i++)
    g_assert_true (g_hash_table_contains (results, ids->pdata[i]));
  g_assert_cmpuint (g_hash_table_size (results), ==, 3 + 20);

  keys = bucket_keys ();
  g_assert_cmpuint (keys->len, ==, 0);
  for (guint k = 0; k < 2; k++)
    {
      assert_no_listening_socket (workers[k]);
      worker_stop (workers[k]);
    }
  assert_nothing_refused ();
}

static void
remove_tree (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) < 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  g_assert_nonnull (g_getenv ("ASSAY_CLI"));

  home = g_dir_make_tmp ("assay-worker-aws-XXXXXX", &error);
  g_assert_no_error (error);
  s3rver = assay_test_server_start_s3rver ();
  dynalite = assay_test_server_start_dynalite ();
  s3_proxy = assay_test_server_start_proxy (s3rver, "s3");
  dynamodb_proxy = assay_test_server_start_proxy (dynalite, "dynamodb");

  /* in order: each builds on the one before */
  g_test_add_func ("/worker-aws/init", test_init);
  g_test_add_func ("/worker-aws/submit-wait", test_submit_wait);
  g_test_add_func ("/worker-aws/two-workers-twenty-jobs", test_two_workers);
  status = g_test_run ();

  g_test_message ("refused by the SigV4 check: s3 %u, dynamodb %u",
                  assay_test_server_count_refused (s3_proxy),
                  assay_test_server_count_refused (dynamodb_proxy));
  assay_test_server_stop (dynamodb_proxy);
  assay_test_server_stop (s3_proxy);
  assay_test_server_stop (dynalite);
  assay_test_server_stop (s3rver);
  remove_tree (home);
  g_free (home);
  return status;
}
