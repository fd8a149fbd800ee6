/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `assay-cli submit` on S3 and DynamoDB (s3rver and dynalite, every request through the
 * botocore SigV4 check), run as a person or a script runs it: a real process with the
 * test's AWS credentials and its own XDG folders. What it stored is checked from outside,
 * with tools that share no code with Assay: Debian's AWS CLI reads the job and the chunks,
 * node:crypto verifies the signature, xz decompresses the chunks.
 *
 * ASSAY_TEST_SUBMIT_KILL_MIB sets the size of the file in the kill -9 test (default 200).
 */
#include "config.h"

#include "test-servers.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB    (1024 * 1024)
#define NOBODY 65534
#define AWS    "/usr/bin/aws"

static AssayTestServer *s3rver;
static AssayTestServer *dynalite;
static AssayTestServer *s3_proxy;
static AssayTestServer *dynamodb_proxy;
static char *aws_home; /* HOME of the AWS CLI: only its config file (path-style S3) */

/* ------------------------------------------------------------------------------------- */
/* Files and folders                                                                     */

static inline guint64
next_random (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Writes @size bytes to @path in 64 KiB regions, each random bytes (with probability
 * @random_percent %) or log-like text lines; returns the SHA-256 (hex) of what it wrote. */
static char *
make_file (const char *path,
           gsize       size,
           guint       random_percent,
           guint64     seed)
{
  g_autoptr(GChecksum) sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *region = g_malloc (64 * 1024);
  FILE *out = fopen (path, "we");

  g_assert_nonnull (out);
  for (gsize done = 0; done < size; done += 64 * 1024)
    {
      gsize len = MIN (64 * 1024, size - done);

      if (next_random (&seed) % 100 < random_percent)
        {
          for (gsize i = 0; i < len; i += 8)
            {
              guint64 v = next_random (&seed);

              memcpy (region + i, &v, MIN (8, len - i));
            }
        }
      else
        {
          gsize pos = 0;

          while (pos < len)
            {
              char line[128];
              guint64 r = next_random (&seed);
              gsize n = g_snprintf (line, sizeof line,
                                    "2025-%02u-%02u INFO worker-%u uploaded %u chunks (job %08x)\n",
                                    (guint) (r % 12) + 1, (guint) (r >> 8) % 28 + 1,
                                    (guint) (r >> 16) % 32, (guint) (r >> 24) % 10000,
                                    (guint) (r >> 32));

              n = MIN (n, len - pos);
              memcpy (region + pos, line, n);
              pos += n;
            }
        }
      g_assert_cmpuint (fwrite (region, 1, len, out), ==, len);
      g_checksum_update (sha256, region, len);
    }
  g_assert_cmpint (fclose (out), ==, 0);
  return g_strdup (g_checksum_get_string (sha256));
}

static char *
sha256_of_file (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_unlink (path);
      return;
    }
  g_chmod (path, 0700);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
  g_rmdir (path);
}

static void
chown_tree (const char *path,
            uid_t       uid,
            gid_t       gid)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_cmpint (lchown (path, uid, gid), ==, 0);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      chown_tree (child, uid, gid);
    }
}

/* ------------------------------------------------------------------------------------- */
/* The client under test                                                                 */

typedef struct
{
  char *home;            /* HOME and XDG_{DATA,CONFIG,CACHE}_HOME inside it */
  char *state;           /* XDG_STATE_HOME: the journal is state/assay/journal */
  gboolean unprivileged; /* run assay-cli as nobody (only when the test runs as root) */
} Fixture;

static void
add_credentials (GSubprocessLauncher *launcher)
{
  g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY,
                                TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_DEFAULT_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "AWS_PROFILE");
  g_subprocess_launcher_unsetenv (launcher, "AWS_SESSION_TOKEN");
  for (const char * const *name = (const char * const[]) { "ASSAY_LOCAL", "ASSAY_BUCKET",
                                                          "ASSAY_REGION", "ASSAY_CONFIG",
                                                          "ASSAY_S3_ENDPOINT",
                                                          "ASSAY_DYNAMODB_ENDPOINT", NULL };
       *name != NULL; name++)
    g_subprocess_launcher_unsetenv (launcher, *name);
}

/* In the child, between fork and exec: root reads and writes whatever it likes, so a test
 * of permissions runs assay-cli as nobody. */
static void
become_nobody_cb (gpointer data)
{
  if (setgroups (0, NULL) != 0 || setgid (NOBODY) != 0 || setuid (NOBODY) != 0)
    _exit (125);
}

/* assay-cli @args (NULL-terminated) with the store's flags after the command. */
static GSubprocess *
spawn_clivp (Fixture            *f,
             GSubprocessFlags    flags,
             const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *data = g_build_filename (f->home, "data", NULL);
  g_autofree char *config = g_build_filename (f->home, "config", NULL);
  g_autofree char *cache = g_build_filename (f->home, "cache", NULL);
  g_autoptr(GError) error = NULL;
  const char *cli = g_getenv ("ASSAY_CLI");
  GSubprocess *process;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup (args[0]));
  if (g_str_equal (args[0], "submit") || g_str_equal (args[0], "init"))
    {
      g_ptr_array_add (argv, g_strdup ("--bucket"));
      g_ptr_array_add (argv, g_strdup (ASSAY_TEST_BUCKET));
      g_ptr_array_add (argv, g_strdup ("--region"));
      g_ptr_array_add (argv, g_strdup (ASSAY_TEST_REGION));
      g_ptr_array_add (argv, g_strdup ("--s3-endpoint"));
      g_ptr_array_add (argv, g_strdup (assay_test_server_get_url (s3_proxy)));
      g_ptr_array_add (argv, g_strdup ("--dynamodb-endpoint"));
      g_ptr_array_add (argv, g_strdup (assay_test_server_get_url (dynamodb_proxy)));
    }
  for (guint i = 1; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  add_credentials (launcher);
  g_subprocess_launcher_setenv (launcher, "HOME", f->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", f->state, TRUE);
  if (f->unprivileged)
    g_subprocess_launcher_set_child_setup (launcher, become_nobody_cb, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

static const char **
collect_args (const char *first,
              va_list     ap)
{
  GPtrArray *args = g_ptr_array_new ();

  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (char *) arg);
  g_ptr_array_add (args, NULL);
  return (const char **) g_ptr_array_free (args, FALSE);
}

static GSubprocess *
spawn_cli (Fixture          *f,
           GSubprocessFlags  flags,
           const char       *first,
           ...)
{
  g_autofree const char **args = NULL;
  va_list ap;

  va_start (ap, first);
  args = collect_args (first, ap);
  va_end (ap);
  return spawn_clivp (f, flags, args);
}

/* Waits for @process; its exit status, or -1 when a signal ended it. */
static int
finish (GSubprocess  *process,
        char        **out,
        char        **err)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  if (out != NULL && *out == NULL)
    *out = g_strdup ("");
  if (err != NULL && *err == NULL)
    *err = g_strdup ("");
  status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  if (status != 0 && err != NULL)
    g_test_message ("exit status %d: %s", status, *err);
  return status;
}

static int
run_cli (Fixture     *f,
         char       **out,
         char       **err,
         const char  *first,
         ...)
{
  g_autofree const char **args = NULL;
  g_autoptr(GSubprocess) process = NULL;
  va_list ap;

  va_start (ap, first);
  args = collect_args (first, ap);
  va_end (ap);
  process = spawn_clivp (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                         args);
  return finish (process, out, err);
}

static void
forget (char **out,
        char **err)
{
  g_clear_pointer (out, g_free);
  g_clear_pointer (err, g_free);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  f->home = g_dir_make_tmp ("assay-submit-XXXXXX", &error);
  g_assert_no_error (error);
  f->state = g_build_filename (f->home, "state", NULL);
  g_assert_cmpint (g_mkdir (f->state, 0700), ==, 0);
  g_assert_cmpint (run_cli (f, &out, &err, "key", "generate", NULL), ==, 0);

  /* the permission tests, as root: everything the client owns belongs to nobody */
  if (GPOINTER_TO_INT (data) && geteuid () == 0)
    {
      g_assert_cmpint (g_chmod (f->home, 0755), ==, 0);
      chown_tree (f->home, NOBODY, NOBODY);
      f->unprivileged = TRUE;
    }
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  remove_tree (f->home);
  g_free (f->home);
  g_free (f->state);
}

/* The events that submit --json printed, one JSON object per line; the last one. */
static JsonObject *
last_event (const char *out)
{
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  guint n = g_strv_length (lines);
  g_autoptr(JsonNode) node = NULL;

  while (n > 0 && *lines[n - 1] == '\0')
    n--;
  g_assert_cmpuint (n, >, 0);
  node = json_from_string (lines[n - 1], NULL);
  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

/* The one record of the journal (state/assay/journal/<sha256 of the path>.json), or NULL. */
static JsonObject *
journal_record (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->state, "assay", "journal", NULL);
  g_autoptr(GDir) entries = g_dir_open (dir, 0, NULL);
  const char *name;

  while (entries != NULL && (name = g_dir_read_name (entries)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *text = NULL;
      g_autoptr(JsonNode) node = NULL;

      if (!g_str_has_suffix (name, ".json") || !g_file_get_contents (path, &text, NULL, NULL) ||
          !(node = json_from_string (text, NULL)) || !JSON_NODE_HOLDS_OBJECT (node))
        continue;
      return json_object_ref (json_node_get_object (node));
    }
  return NULL;
}

static gint64
journal_chunks (Fixture *f)
{
  g_autoptr(JsonObject) record = journal_record (f);

  return record != NULL ? json_object_get_int_member_with_default (record, "chunks", 0) : 0;
}

/* Polls the journal until it holds at least @chunks chunks while @process still runs. */
static gint64
wait_for_journal (Fixture     *f,
                  GSubprocess *process,
                  gint64       chunks)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  gint64 stored = 0;

  while ((stored = journal_chunks (f)) < chunks)
    {
      g_assert_nonnull (g_subprocess_get_identifier (process)); /* still running */
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  return stored;
}

/* ------------------------------------------------------------------------------------- */
/* What the store holds, seen with the AWS CLI                                           */

static GSubprocess *
spawn_aws (GSubprocessFlags    flags,
           const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *config = g_build_filename (aws_home, "config", NULL);
  GSubprocess *process;
  gboolean s3 = g_str_equal (args[0], "s3") || g_str_equal (args[0], "s3api");

  g_ptr_array_add (argv, AWS);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, "--endpoint-url");
  g_ptr_array_add (argv, (char *) assay_test_server_get_url (s3 ? s3_proxy : dynamodb_proxy));
  g_ptr_array_add (argv, NULL);

  add_credentials (launcher);
  g_subprocess_launcher_setenv (launcher, "AWS_PAGER", "", TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_CONFIG_FILE", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "HOME", aws_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", aws_home, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

/* Runs the AWS CLI; asserts it succeeds and returns its standard output. */
static GBytes *
run_aws (const char *first,
         ...)
{
  g_autofree const char **args = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *out = NULL;
  va_list ap;

  va_start (ap, first);
  args = collect_args (first, ap);
  va_end (ap);
  process = spawn_aws (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, args);
  g_subprocess_communicate (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    g_error ("aws %s %s failed: %.*s", args[0], args[1], (int) g_bytes_get_size (err),
             (const char *) g_bytes_get_data (err, NULL));
  return out;
}

static JsonNode *
parse_bytes (GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

/* The job item as `aws dynamodb get-item --consistent-read` prints it. */
static GBytes *
aws_get_job_text (const char *job)
{
  g_autofree char *key = g_strdup_printf ("{\"id\": {\"S\": \"%s\"}}", job);

  return run_aws ("dynamodb", "get-item", "--consistent-read", "--table-name", "assay-jobs",
                  "--key", key, "--output", "json", NULL);
}

/* A string or number attribute of @item, as text. */
static const char *
attribute (JsonObject *item,
           const char *name)
{
  JsonObject *value;

  if (!json_object_has_member (item, name))
    return NULL;
  value = json_object_get_object_member (item, name);
  if (json_object_has_member (value, "S"))
    return json_object_get_string_member (value, "S");
  return json_object_get_string_member (value, "N");
}

static JsonObject *
aws_get_job (const char *job)
{
  g_autoptr(GBytes) text = aws_get_job_text (job);
  g_autoptr(JsonNode) node = parse_bytes (text);
  JsonObject *root = json_node_get_object (node);

  g_assert_true (json_object_has_member (root, "Item"));
  return json_object_ref (json_object_get_object_member (root, "Item"));
}

/* Jobs in the table (all of them, or those with @status). */
static gint64
aws_count_jobs (const char *status)
{
  g_autoptr(GBytes) out = NULL;
  g_autoptr(JsonNode) node = NULL;

  if (status == NULL)
    out = run_aws ("dynamodb", "scan", "--consistent-read", "--table-name", "assay-jobs",
                   "--select", "COUNT", "--output", "json", NULL);
  else
    {
      g_autofree char *values = g_strdup_printf ("{\":s\": {\"S\": \"%s\"}}", status);

      out = run_aws ("dynamodb", "scan", "--consistent-read", "--table-name", "assay-jobs",
                     "--select", "COUNT", "--filter-expression", "#s = :s",
                     "--expression-attribute-names", "{\"#s\": \"status\"}",
                     "--expression-attribute-values", values, "--output", "json", NULL);
    }
  node = parse_bytes (out);
  return json_object_get_int_member (json_node_get_object (node), "Count");
}

/* Objects under "<file>/" in the bucket. */
static gint64
aws_count_objects (const char *file)
{
  g_autofree char *prefix = g_strconcat (file, "/", NULL);
  g_autoptr(GBytes) out = run_aws ("s3api", "list-objects-v2", "--bucket", ASSAY_TEST_BUCKET,
                                   "--prefix", prefix, "--output", "json", NULL);
  g_autoptr(JsonNode) node = NULL;
  JsonObject *root;

  if (g_bytes_get_size (out) == 0)
    return 0; /* the AWS CLI prints nothing for an empty listing */
  node = parse_bytes (out);
  root = json_node_get_object (node);
  if (!json_object_has_member (root, "Contents"))
    return 0;
  return json_array_get_length (json_object_get_array_member (root, "Contents"));
}

/* `xz -d` of @compressed. */
static GBytes *
xz_decompress (GBytes *compressed)
{
  g_autoptr(GSubprocess) xz = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) err = NULL;
  GBytes *out = NULL;

  xz = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                           G_SUBPROCESS_FLAGS_STDERR_PIPE,
                         &error, "xz", "-d", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate (xz, compressed, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (xz));
  g_assert_cmpint (g_subprocess_get_exit_status (xz), ==, 0);
  return out;
}

/* Downloads the @chunks chunks of @file with `aws s3 cp --recursive`, and returns the
 * SHA-256 of `cat 000000 000001 … | xz -d`. */
static char *
aws_download_sha256 (const char *file,
                     guint       chunks)
{
  g_autofree char *dir = g_dir_make_tmp ("assay-download-XXXXXX", NULL);
  g_autofree char *source = g_strdup_printf ("s3://%s/%s/", ASSAY_TEST_BUCKET, file);
  g_autoptr(GBytes) ignored = run_aws ("s3", "cp", "--recursive", "--quiet", "--no-progress",
                                       source, dir, NULL);
  g_autoptr(GSubprocess) sh = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *last = g_strdup_printf ("%s/%06u", dir, chunks - 1);
  g_autofree char *beyond = g_strdup_printf ("%s/%06u", dir, chunks);
  char *space;

  g_assert_true (g_file_test (last, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (beyond, G_FILE_TEST_EXISTS));
  sh = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "sh", "-ec",
                         "cd \"$1\"; cat [0-9][0-9][0-9][0-9][0-9][0-9] | xz -d | sha256sum", "sh",
                         dir, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (sh, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (sh), ==, 0);
  remove_tree (dir);
  space = strchr (out, ' ');
  g_assert_nonnull (space);
  return g_strndup (out, space - out);
}

/* Each chunk key of @file PUT exactly once since the counts were reset. */
static void
assert_each_chunk_put_once (const char *file,
                            guint       chunks)
{
  g_autofree char *all = g_strdup_printf ("/%s/%s/", ASSAY_TEST_BUCKET, file);

  for (guint i = 0; i < chunks; i++)
    {
      g_autofree char *key = g_strdup_printf ("/%s/%s/%06u", ASSAY_TEST_BUCKET, file, i);
      guint puts = assay_test_server_count_requests (s3_proxy, "PUT", key);

      if (puts != 1)
        g_error ("chunk %u (%s) was PUT %u times, not once", i, key, puts);
    }
  g_assert_cmpuint (assay_test_server_count_requests (s3_proxy, "PUT", all), ==, chunks);
}

/* A client may not read chunks (worker/deploy/policies/client.json): resuming lists them
 * and compares their ETags. */
static void
assert_chunks_not_read (const char *file)
{
  g_autofree char *all = g_strdup_printf ("/%s/%s/", ASSAY_TEST_BUCKET, file);

  g_assert_cmpuint (assay_test_server_count_requests (s3_proxy, "HEAD", all), ==, 0);
  g_assert_cmpuint (assay_test_server_count_requests (s3_proxy, "GET", all), ==, 0);
}

/* ------------------------------------------------------------------------------------- */
/* The tests                                                                             */

/* A submitted job is one that any client reads and verifies on its own, and whose chunks
 * are the file. */
static void
test_verify (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->home, "mixed.log", NULL);
  g_autofree char *sha = make_file (path, 3 * MiB, 40, 1);
  g_autofree char *node = g_find_program_in_path ("node");
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "interop", "node-crypto.mjs",
                                                   NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *verdict = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(GBytes) item_text = NULL;
  g_autoptr(GByteArray) joined = g_byte_array_new ();
  g_autoptr(GPtrArray) downloads = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GBytes) compressed = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) metadata = NULL;
  g_autoptr(GSubprocess) verify = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *chunk0 = NULL;
  const char *job;
  const char *file;
  gint64 chunks;

  g_assert_nonnull (node);
  assay_test_server_reset_counts (s3_proxy);
  g_assert_cmpint (run_cli (f, &out, &err, "submit", "--json", "--chunk-size", "256K", path,
                            NULL),
                   ==, 0);
  event = last_event (out);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "submitted");
  g_assert_false (json_object_get_boolean_member (event, "resumed"));
  job = json_object_get_string_member (event, "job");
  chunks = json_object_get_int_member (event, "chunks");
  g_assert_true (g_str_has_prefix (job, "job-"));
  g_assert_cmpint (chunks, >, 2); /* about 1.3 MB compressed: 5 or 6 chunks of 256 KiB */

  /* the job, read back with the AWS CLI: uploaded, all chunks, and its signature verifies
   * with node:crypto over JSON.stringify of the seven fields */
  item_text = aws_get_job_text (job);
  item = aws_get_job (job);
  g_assert_cmpstr (attribute (item, "status"), ==, "UPLOADED");
  g_assert_cmpint (g_ascii_strtoll (attribute (item, "chunks"), NULL, 10), ==, chunks);
  g_assert_cmpstr (attribute (item, "bucket"), ==, ASSAY_TEST_BUCKET);
  g_assert_cmpstr (attribute (item, "region"), ==, ASSAY_TEST_REGION);
  file = attribute (item, "file");
  verify = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                             &error, node, script, "verify-job", "-", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (verify, g_bytes_get_data (item_text, NULL), NULL, &verdict, NULL,
                                 &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (verify), ==, 0);
  g_assert_cmpstr (verdict, ==, "valid\n");

  /* chunk 0 names its job, as processors check */
  chunk0 = g_strdup_printf ("%s/000000", file);
  metadata = run_aws ("s3api", "head-object", "--bucket", ASSAY_TEST_BUCKET, "--key", chunk0,
                      "--query", "Metadata.\"assay-job\"", "--output", "text", NULL);
  g_assert_cmpint (g_bytes_get_size (metadata), ==, strlen (job) + 1);
  g_assert_cmpmem (g_bytes_get_data (metadata, NULL), strlen (job), job, strlen (job));

  /* every chunk, downloaded on its own (all at once), concatenated and fed to xz -d: the
   * file, byte for byte */
  for (gint64 i = 0; i < chunks; i++)
    {
      g_autofree char *uri = g_strdup_printf ("s3://%s/%s/%06u", ASSAY_TEST_BUCKET, file,
                                              (guint) i);

      g_ptr_array_add (downloads,
                       spawn_aws (G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                  (const char * const[]) { "s3", "cp", uri, "-", NULL }));
    }
  for (guint i = 0; i < downloads->len; i++)
    {
      g_autoptr(GBytes) bytes = NULL;

      g_subprocess_communicate (g_ptr_array_index (downloads, i), NULL, NULL, &bytes, NULL,
                                &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (g_ptr_array_index (downloads, i)), ==, 0);
      g_assert_cmpuint (g_bytes_get_size (bytes), >, 0);
      if (i + 1 < downloads->len)
        g_assert_cmpuint (g_bytes_get_size (bytes), ==, 256 * 1024);
      g_byte_array_append (joined, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    }
  compressed = g_byte_array_free_to_bytes (g_steal_pointer (&joined));
  plain = xz_decompress (compressed);
  g_assert_cmpuint (g_bytes_get_size (plain), ==, 3 * MiB);
  {
    g_autofree char *got = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, plain);

    g_assert_cmpstr (got, ==, sha);
  }

  /* each chunk went up once, every request passed the SigV4 check, the file is as it was */
  assert_each_chunk_put_once (file, chunks);
  g_assert_cmpuint (assay_test_server_count_refused (s3_proxy), ==, 0);
  {
    g_autofree char *after = sha256_of_file (path);

    g_assert_cmpstr (after, ==, sha);
  }
}

/* kill -9 in the middle of an upload of 200 MiB of random data (it stays 200 MiB in xz),
 * then the same command: the same job completes, no chunk goes up twice, and the chunks
 * are the file.
 *
 * The time is xz's: preset 0 compresses random data at about 4 to 8 MB/s per thread, and
 * the second run compresses the whole file again (it re-makes the stored chunks to confirm
 * them by their MD5). On two shared vCPUs the test takes about 50 s;
 * ASSAY_TEST_SUBMIT_KILL_MIB makes it smaller. */
static void
test_kill_resume (Fixture       *f,
                  gconstpointer  data)
{
  const char *env = g_getenv ("ASSAY_TEST_SUBMIT_KILL_MIB");
  guint64 mib = env != NULL ? g_ascii_strtoull (env, NULL, 10) : 200;
  g_autofree char *path = g_build_filename (f->home, "random.bin", NULL);
  g_autofree char *sha = NULL;
  g_autofree char *downloaded = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *job = NULL;
  g_autofree char *file = NULL;
  g_autoptr(GSubprocess) first = NULL;
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) item = NULL;
  gint64 stored;
  gint64 chunks;
  gint64 started;
  const char * const args[] = { "submit", "--json", "--preset", "0", "--chunk-size", "1M",
                                "--bandwidth", "16M", path, NULL };

  g_assert_cmpuint (mib, >=, 8);
  sha = make_file (path, mib * MiB, 100, 2);
  assay_test_server_reset_counts (s3_proxy);

  started = g_get_monotonic_time ();
  first = spawn_clivp (f, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                       args);
  wait_for_journal (f, first, MAX (3, mib / 10));
  /* anywhere in the next chunk's way: compressed, in flight, stored, being recorded */
  g_usleep (g_test_rand_int_range (0, 500 * 1000));
  g_subprocess_send_signal (first, SIGKILL);
  g_subprocess_wait (first, NULL, NULL);
  g_assert_false (g_subprocess_get_if_exited (first));
  g_assert_cmpint (g_subprocess_get_term_sig (first), ==, SIGKILL);
  record = journal_record (f);
  g_assert_nonnull (record);
  stored = json_object_get_int_member (record, "chunks");
  job = g_strdup (json_object_get_string_member (record, "job"));
  file = g_strdup (json_object_get_string_member (record, "file"));
  g_test_message ("killed after %.1f s with %" G_GINT64_FORMAT " chunks in the journal",
                  (g_get_monotonic_time () - started) / 1e6, stored);
  g_assert_cmpint (stored, <, (gint64) mib / 2); /* the kill landed in the middle */

  started = g_get_monotonic_time ();
  g_assert_cmpint (finish (spawn_clivp (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                             G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                        args),
                           &out, &err),
                   ==, 0);
  event = last_event (out);
  g_test_message ("the second run took %.1f s: %s", (g_get_monotonic_time () - started) / 1e6,
                  out);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "submitted");
  g_assert_cmpstr (json_object_get_string_member (event, "job"), ==, job);
  g_assert_true (json_object_get_boolean_member (event, "resumed"));
  g_assert_cmpint (json_object_get_int_member (event, "chunks_skipped"), >=, stored);
  chunks = json_object_get_int_member (event, "chunks");
  g_assert_cmpint (chunks, >, (gint64) mib); /* random data grows a little in xz */

  item = aws_get_job (job);
  g_assert_cmpstr (attribute (item, "status"), ==, "UPLOADED");
  g_assert_cmpstr (attribute (item, "file"), ==, file);
  g_assert_cmpint (g_ascii_strtoll (attribute (item, "chunks"), NULL, 10), ==, chunks);
  assert_each_chunk_put_once (file, chunks);
  assert_chunks_not_read (file);

  downloaded = aws_download_sha256 (file, chunks);
  g_assert_cmpstr (downloaded, ==, sha);
}

/* A file that cannot be read: refused before any job exists. Root reads every file, so as
 * root assay-cli runs as nobody (become_nobody_cb). */
static void
test_unreadable (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->home, "secret.txt", NULL);
  g_autofree char *sha = make_file (path, 100 * 1000, 0, 3);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint64 jobs = aws_count_jobs (NULL);
  GStatBuf st;

  g_test_message ("assay-cli runs as %s", f->unprivileged ? "nobody (the test runs as root)"
                                                         : "the test's user");
  g_assert_cmpint (g_chmod (path, 0), ==, 0);
  g_assert_cmpint (run_cli (f, &out, &err, "submit", path, NULL), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, path));
  g_assert_nonnull (strstr (err, "cannot be read"));

  g_assert_cmpint (aws_count_jobs (NULL), ==, jobs);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0);
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  {
    g_autofree char *after = sha256_of_file (path);

    g_assert_cmpstr (after, ==, sha);
  }
}

/* A folder given as FILE: refused before any job exists. */
static void
test_directory (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (f->home, "folder", NULL);
  g_autofree char *inside = g_build_filename (dir, "a.txt", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint64 jobs = aws_count_jobs (NULL);

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (inside, "kept\n", -1, NULL));
  g_assert_cmpint (run_cli (f, &out, &err, "submit", dir, NULL), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, dir));
  g_assert_nonnull (strstr (err, "it is a folder, not a file"));
  g_assert_cmpint (aws_count_jobs (NULL), ==, jobs);
  g_assert_true (g_file_test (inside, G_FILE_TEST_IS_REGULAR));
}

/* A journal that cannot be written: a clear error that names it, the file untouched, and
 * no job created. As root assay-cli runs as nobody. */
static void
test_state_read_only (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->home, "report.txt", NULL);
  g_autofree char *sha = make_file (path, 200 * 1000, 0, 4);
  g_autofree char *journal = g_build_filename (f->state, "assay", "journal", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint64 jobs = aws_count_jobs (NULL);

  g_test_message ("assay-cli runs as %s", f->unprivileged ? "nobody (the test runs as root)"
                                                         : "the test's user");
  g_assert_cmpint (g_chmod (f->state, 0500), ==, 0);
  g_assert_cmpint (run_cli (f, &out, &err, "submit", path, NULL), ==, 1);
  g_assert_cmpint (g_chmod (f->state, 0700), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "journal"));
  g_assert_nonnull (strstr (err, journal));
  g_assert_false (g_file_test (journal, G_FILE_TEST_EXISTS));
  g_assert_cmpint (aws_count_jobs (NULL), ==, jobs);
  {
    g_autofree char *after = sha256_of_file (path);

    g_assert_cmpstr (after, ==, sha);
  }
}

/* A file deleted while it uploads. The submitter reads it through the descriptor it opened,
 * so the bytes it sends are whole, but it submits what is on disk when it finishes: it sees
 * the file gone, ends the job in ERROR with code CANCELLED, deletes the chunks, forgets the
 * journal record, and says so (exit 1). */
static void
test_vanished (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->home, "vanishing.bin", NULL);
  g_autofree char *sha = make_file (path, 6 * MiB, 50, 5);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *job = NULL;
  g_autofree char *file = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) item = NULL;
  JsonObject *error_map;

  process = spawn_cli (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                       "submit", "--json", "--chunk-size", "256K", "--bandwidth", "1M", path,
                       NULL);
  wait_for_journal (f, process, 1);
  record = journal_record (f);
  job = g_strdup (json_object_get_string_member (record, "job"));
  file = g_strdup (json_object_get_string_member (record, "file"));
  g_assert_cmpint (g_unlink (path), ==, 0);

  g_assert_cmpint (finish (process, &out, &err), ==, 1);
  event = last_event (out);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "failed");
  g_assert_cmpstr (json_object_get_string_member (event, "job"), ==, job);
  g_assert_nonnull (strstr (json_object_get_string_member (event, "message"), path));
  g_assert_nonnull (strstr (json_object_get_string_member (event, "message"), "deleted"));
  g_test_message ("its message: %s", json_object_get_string_member (event, "message"));

  item = aws_get_job (job);
  g_assert_cmpstr (attribute (item, "status"), ==, "ERROR");
  error_map = json_object_get_object_member (json_object_get_object_member (item, "error"), "M");
  g_assert_cmpstr (attribute (error_map, "code"), ==, "CANCELLED");
  g_assert_false (json_object_has_member (item, "queue"));
  g_assert_cmpint (aws_count_objects (file), ==, 0);
  g_clear_pointer (&record, json_object_unref);
  record = journal_record (f);
  g_assert_null (record);
}

/* The S3 endpoint goes away in the middle of an upload and comes back on the same port a
 * few seconds later. The transport retries a request that could not connect (5 attempts,
 * about 1.5 s of backoff) but not one cut off mid-body, so the run fails with an error
 * naming the endpoint and keeps its journal; the same command then continues the job. */
static void
test_server_restart (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->home, "restart.bin", NULL);
  g_autofree char *sha = make_file (path, 8 * MiB, 50, 6);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *job = NULL;
  g_autofree char *file = NULL;
  g_autofree char *downloaded = NULL;
  g_autofree char *endpoint = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) item = NULL;
  guint16 port = assay_test_server_get_port (s3_proxy);
  int status;
  const char * const args[] = { "submit", "--json", "--chunk-size", "256K", "--bandwidth", "1M",
                                path, NULL };

  endpoint = g_strdup_printf ("127.0.0.1:%u", port);
  process = spawn_clivp (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                         args);
  wait_for_journal (f, process, 2);
  record = journal_record (f);
  job = g_strdup (json_object_get_string_member (record, "job"));
  file = g_strdup (json_object_get_string_member (record, "file"));

  assay_test_server_stop (s3_proxy);
  g_usleep (3 * G_USEC_PER_SEC);
  s3_proxy = assay_test_server_start_proxy_on_port (s3rver, "s3", port);

  status = finish (process, &out, &err);
  g_test_message ("the interrupted run exited with %d", status);
  event = last_event (out);
  if (status != 0)
    {
      g_autoptr(JsonObject) kept = journal_record (f);
      const char *message;

      g_assert_cmpint (status, ==, 1);
      g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "failed");
      message = json_object_get_string_member (event, "message");
      g_test_message ("its message: %s", message);
      g_assert_nonnull (strstr (message, endpoint));
      g_assert_nonnull (strstr (message, "(s3)"));
      /* the job waits, uploading, for the next run */
      g_assert_nonnull (kept);
      g_assert_cmpstr (json_object_get_string_member (kept, "state"), ==, "uploading");
      g_assert_cmpstr (json_object_get_string_member (kept, "job"), ==, job);
      item = aws_get_job (job);
      g_assert_cmpstr (attribute (item, "status"), ==, "UPLOADING");
      g_clear_pointer (&item, json_object_unref);

      forget (&out, &err);
      g_clear_pointer (&event, json_object_unref);
      g_assert_cmpint (finish (spawn_clivp (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                 G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                            args),
                               &out, &err),
                       ==, 0);
      event = last_event (out);
      g_assert_true (json_object_get_boolean_member (event, "resumed"));
    }
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "submitted");
  g_assert_cmpstr (json_object_get_string_member (event, "job"), ==, job);

  item = aws_get_job (job);
  g_assert_cmpstr (attribute (item, "status"), ==, "UPLOADED");
  downloaded = aws_download_sha256 (file, json_object_get_int_member (event, "chunks"));
  g_assert_cmpstr (downloaded, ==, sha);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *aws_config = NULL;
  Fixture init = { 0 };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  s3rver = assay_test_server_start_s3rver ();
  dynalite = assay_test_server_start_dynalite ();
  s3_proxy = assay_test_server_start_proxy (s3rver, "s3");
  dynamodb_proxy = assay_test_server_start_proxy (dynalite, "dynamodb");

  aws_home = g_dir_make_tmp ("assay-aws-XXXXXX", &error);
  g_assert_no_error (error);
  aws_config = g_build_filename (aws_home, "config", NULL);
  g_file_set_contents (aws_config, "[default]\ns3 =\n  addressing_style = path\n", -1, &error);
  g_assert_no_error (error);

  /* the bucket, the tables and their index, as a person sets them up */
  fixture_set_up (&init, NULL);
  if (run_cli (&init, &out, &err, "init", NULL) != 0)
    g_error ("assay-cli init: %s", err);
  fixture_tear_down (&init, NULL);

  g_test_add ("/submit/aws/verify", Fixture, NULL, fixture_set_up, test_verify,
              fixture_tear_down);
  g_test_add ("/submit/aws/kill-resume", Fixture, NULL, fixture_set_up, test_kill_resume,
              fixture_tear_down);
  g_test_add ("/submit/aws/unreadable", Fixture, GINT_TO_POINTER (TRUE), fixture_set_up,
              test_unreadable, fixture_tear_down);
  g_test_add ("/submit/aws/directory", Fixture, NULL, fixture_set_up, test_directory,
              fixture_tear_down);
  g_test_add ("/submit/aws/state-read-only", Fixture, GINT_TO_POINTER (TRUE), fixture_set_up,
              test_state_read_only, fixture_tear_down);
  g_test_add ("/submit/aws/vanished", Fixture, NULL, fixture_set_up, test_vanished,
              fixture_tear_down);
  g_test_add ("/submit/aws/server-restart", Fixture, NULL, fixture_set_up, test_server_restart,
              fixture_tear_down);
  status = g_test_run ();

  assay_test_server_stop (dynamodb_proxy);
  assay_test_server_stop (s3_proxy);
  assay_test_server_stop (dynalite);
  assay_test_server_stop (s3rver);
  remove_tree (aws_home);
  g_free (aws_home);
  return status;
}
