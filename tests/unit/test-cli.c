/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli as a person or a script uses it: a real process, real files. */
#include "config.h"

#include "assay-id.h"
#include "assay-job.h"
#include "assay-payload.h"
#include "protocol-vectors.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct
{
  char *home;      /* XDG_DATA_HOME of the client under test */
  char *key_path;  /* the default key file inside it */
  JsonObject *vector;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) vectors = assay_test_vectors_load ();

  f->home = g_dir_make_tmp ("assay-cli-XXXXXX", &error);
  g_assert_no_error (error);
  f->key_path = g_build_filename (f->home, "assay", "client-key.pem", NULL);

  f->vector = json_object_ref (g_ptr_array_index (vectors, 0));
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
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  remove_tree (f->home);
  g_free (f->home);
  g_free (f->key_path);
  json_object_unref (f->vector);
}

static int
run_cliv (Fixture  *f,
          GBytes   *input,
          char    **out,
          char    **err,
          va_list   ap)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GBytes) out_bytes = NULL;
  g_autoptr(GBytes) err_bytes = NULL;
  g_autoptr(GError) error = NULL;
  const char *cli = g_getenv ("ASSAY_CLI");
  const char *arg;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (char *) cli);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", f->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", f->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", f->home, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate (process, input, NULL, &out_bytes, &err_bytes, &error);
  g_assert_no_error (error);
  {
    g_autofree char *command = g_strjoinv (" ", (char **) argv->pdata);
    g_autofree char *text = g_strndup (g_bytes_get_size (err_bytes)
                                         ? g_bytes_get_data (err_bytes, NULL) : "",
                                       g_bytes_get_size (err_bytes));

    /* the TAP log keeps what each command said, should a run ever fail */
    g_test_message ("%s → %d: %s", command,
                    g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process)
                                                         : -g_subprocess_get_term_sig (process),
                    text);
    if (!g_subprocess_get_if_exited (process))
      g_error ("%s was killed by signal %d", command, g_subprocess_get_term_sig (process));
  }
  *out = g_strndup (g_bytes_get_size (out_bytes) ? g_bytes_get_data (out_bytes, NULL) : "",
                     g_bytes_get_size (out_bytes));
  *err = g_strndup (g_bytes_get_size (err_bytes) ? g_bytes_get_data (err_bytes, NULL) : "",
                     g_bytes_get_size (err_bytes));
  return g_subprocess_get_exit_status (process);
}

/* Runs assay-cli with the arguments that follow (NULL-terminated) and @input on its
 * standard input; returns the exit status and fills @out and @err. */
static int
run_cli (Fixture     *f,
         const char  *input,
         char       **out,
         char       **err,
         ...)
{
  g_autoptr(GBytes) bytes = g_bytes_new (input ? input : "", input ? strlen (input) : 0);
  va_list ap;
  int status;

  va_start (ap, err);
  status = run_cliv (f, bytes, out, err, ap);
  va_end (ap);
  return status;
}

static int
run_cli_bytes (Fixture  *f,
               GBytes   *input,
               char    **out,
               char    **err,
               ...)
{
  va_list ap;
  int status;

  va_start (ap, err);
  status = run_cliv (f, input, out, err, ap);
  va_end (ap);
  return status;
}

static void
forget (char **out,
        char **err)
{
  g_clear_pointer (out, g_free);
  g_clear_pointer (err, g_free);
}

static void
test_key_commands (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *client = NULL;
  g_autofree char *backup = g_build_filename (f->home, "backup.pem", NULL);
  struct stat st;

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "show", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "assay-cli key generate"));
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "generate", NULL), ==, 0);
  g_strstrip (out);
  g_assert_true (assay_client_id_is_valid (out));
  client = g_steal_pointer (&out);
  g_assert_cmpint (g_stat (f->key_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_clear_pointer (&err, g_free);

  /* a second generate keeps the first key */
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "generate", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "already exists"));
  forget (&out, &err);
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "show", NULL), ==, 0);
  g_assert_cmpstr (g_strstrip (out), ==, client);
  forget (&out, &err);

  /* export, replace, import the backup: the original client id is back */
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "export", "--out", backup, NULL), ==, 0);
  g_assert_cmpint (g_stat (backup, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  forget (&out, &err);
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "generate", "--force", NULL), ==, 0);
  g_assert_cmpstr (g_strstrip (out), !=, client);
  forget (&out, &err);
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "import", "--force", backup, NULL), ==, 0);
  g_assert_cmpstr (g_strstrip (out), ==, client);
  forget (&out, &err);

  /* export to standard output */
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "export", "--out", "-", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "-----BEGIN PRIVATE KEY-----\n"));
  forget (&out, &err);

  /* a key file others can read is refused, as ssh does */
  g_assert_cmpint (g_chmod (f->key_path, 0644), ==, 0);
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "show", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "chmod 600"));
  g_assert_cmpstr (out, ==, "");
}

static void
test_key_import_garbage (Fixture       *f,
                         gconstpointer  data)
{
  const char *inputs[] = { "", "garbage\n", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                           "\x01\x02\xff\xfe" };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (run_cli (f, inputs[i], &out, &err, "key", "import", "-", NULL), ==, 1);
      g_assert_true (g_str_has_prefix (err, "assay-cli: "));
      g_assert_false (g_file_test (f->key_path, G_FILE_TEST_EXISTS));
    }
}

static char *
vector_job_text (Fixture  *f,
                 gboolean  as_item)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (),
                                                    json_object_get_object_member (f->vector, "job"));
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonNode) item = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = json_to_string (node, FALSE);

  if (!as_item)
    return g_steal_pointer (&text);
  job = assay_job_new_from_data (text, -1, &error);
  g_assert_no_error (error);
  item = assay_job_to_item (job);
  g_clear_pointer (&text, g_free);
  text = json_to_string (item, TRUE);
  return g_strdup_printf ("{\"Item\": %s}", text);
}

static void
test_job_verify (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *plain = vector_job_text (f, FALSE);
  g_autofree char *item = vector_job_text (f, TRUE);
  g_autofree char *path = g_build_filename (f->home, "job.json", NULL);
  g_autoptr(GString) tampered = g_string_new (plain);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_file_set_contents (path, item, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "job", "verify", path, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "valid\n");
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, plain, &out, &err, "job", "verify", "-", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "valid\n");
  forget (&out, &err);

  g_string_replace (tampered, "eu-west-1", "eu-west-2", 1);
  g_assert_cmpint (run_cli (f, tampered->str, &out, &err, "job", "verify", "-", NULL), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "signature"));
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, "{\"id\": 1}", &out, &err, "job", "verify", "-", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "invalid job"));
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "job", "verify", "/nonexistent/job.json", NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent/job.json"));
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "job", "verify", NULL), ==, 2);
  forget (&out, &err);
}

static void
test_result_decrypt (Fixture       *f,
                     gconstpointer  data)
{
  const char *pem = json_object_get_string_member (f->vector, "private_pkcs8_pem");
  const char *id = json_object_get_string_member (f->vector, "result_id");
  const char *payload = json_object_get_string_member (f->vector, "payload");
  const char *plaintext = json_object_get_string_member (f->vector, "plaintext");
  g_autofree char *key = g_build_filename (f->home, "vector.pem", NULL);
  g_autofree char *other_id = assay_id_new (ASSAY_ID_RESULT);
  g_autofree char *with_newline = g_strconcat (payload, "\n", NULL);
  g_autoptr(GBytes) binary = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_file_set_contents_full (key, pem, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "result", "decrypt", "--key", key, "--id", id,
                            payload, NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, plaintext);
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, with_newline, &out, &err, "result", "decrypt", "--key", key, "--id",
                            id, "-", NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, plaintext);
  forget (&out, &err);

  /* the payload bound to another result id does not decrypt */
  g_assert_cmpint (run_cli (f, payload, &out, &err, "result", "decrypt", "--key", key, "--id",
                            other_id, NULL),
                   ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "cannot decrypt"));
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, "not a payload", &out, &err, "result", "decrypt", "--key", key,
                            "--id", id, NULL),
                   ==, 1);
  g_assert_cmpstr (out, ==, "");
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "result", "decrypt", "--key", key, "--id",
                            "result-1", payload, NULL),
                   ==, 1);
  forget (&out, &err);

  /* no default key yet */
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "result", "decrypt", "--id", id, payload, NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err, "key generate"));
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "result", "decrypt", payload, NULL), ==, 2);
  forget (&out, &err);

  /* the binary form, as stored in S3 as results/<id> */
  binary = assay_payload_from_text (payload, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run_cli_bytes (f, binary, &out, &err, "result", "decrypt", "--key", key, "--id",
                                  id, NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, plaintext);
}

static char *
make_random_file (Fixture    *f,
                  const char *name,
                  gsize       size)
{
  g_autofree char *path = g_build_filename (f->home, name, NULL);
  g_autofree guint8 *data = g_malloc (size);
  g_autoptr(GRand) rand = g_rand_new_with_seed (size);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < size; i++)
    data[i] = g_rand_int (rand);
  g_file_set_contents (path, (const char *) data, size, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

/* The last JSON event that assay-cli submit --json printed. */
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

static void
test_submit (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *store = g_build_filename (f->home, "store", NULL);
  g_autofree char *file = make_random_file (f, "sample.bin", 300 * 1000);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonObject) event = NULL;

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "generate", NULL), ==, 0);
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "submit", "--local", store, "--chunk-size",
                            "64K", file, NULL),
                   ==, 0);
  g_strstrip (out);
  g_assert_true (assay_id_is_valid (ASSAY_ID_JOB, out));
  g_assert_nonnull (strstr (err, "in 5 chunks"));
  forget (&out, &err);

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "submit", "--local", store, "--json", file,
                            NULL),
                   ==, 0);
  event = last_event (out);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "submitted");
  g_assert_true (assay_id_is_valid (ASSAY_ID_JOB, json_object_get_string_member (event, "job")));
  g_assert_cmpint (json_object_get_int_member (event, "bytes_read"), ==, 300 * 1000);
  forget (&out, &err);

  /* a folder, a missing file: clear errors, exit 1 */
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "submit", "--local", store, f->home, NULL), ==,
                   1);
  g_assert_nonnull (strstr (err, "it is a folder"));
  forget (&out, &err);
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "submit", "--local", store, "/nonexistent/x",
                            NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent/x"));
  forget (&out, &err);
  g_assert_cmpint (run_cli (f, NULL, &out, &err, "submit", "--local", store, "--preset", "12",
                            file, NULL),
                   ==, 2);
}

/* The journal's record of the one file being uploaded: how many chunks it holds. */
static gint64
journal_chunks (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->home, "assay", "journal", NULL);
  g_autoptr(GDir) entries = g_dir_open (dir, 0, NULL);
  const char *name;

  while (entries != NULL && (name = g_dir_read_name (entries)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *text = NULL;
      g_autoptr(JsonNode) node = NULL;

      if (!g_file_get_contents (path, &text, NULL, NULL) ||
          !(node = json_from_string (text, NULL)))
        continue;
      return json_object_get_int_member (json_node_get_object (node), "chunks");
    }
  return 0;
}

/* kill -9 in the middle of an upload, then the same command: the same job completes
 * and the chunks stored before the kill are not uploaded again. */
static void
test_submit_resume (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *store = g_build_filename (f->home, "store", NULL);
  g_autofree char *file = make_random_file (f, "big.bin", 2 * 1024 * 1024);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) first = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint64 stored = 0;
  gint64 deadline;

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "key", "generate", NULL), ==, 0);
  forget (&out, &err);

  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", f->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", f->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", f->home, TRUE);
  first = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("ASSAY_CLI"), "submit",
                                       "--local", store, "--chunk-size", "64K", "--bandwidth",
                                       "256K", file, NULL);
  g_assert_no_error (error);

  /* 2 MiB of random data in 64 KiB chunks at 256 KiB/s: about 8 s in all */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while ((stored = journal_chunks (f)) < 4 && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_cmpint (stored, >=, 4);
  g_subprocess_send_signal (first, SIGKILL);
  g_subprocess_wait (first, NULL, NULL);
  g_assert_false (g_subprocess_get_if_exited (first));

  g_assert_cmpint (run_cli (f, NULL, &out, &err, "submit", "--local", store, "--chunk-size",
                            "64K", "--json", file, NULL),
                   ==, 0);
  event = last_event (out);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "submitted");
  g_assert_true (json_object_get_boolean_member (event, "resumed"));
  g_assert_cmpint (json_object_get_int_member (event, "chunks_skipped"), >=, stored);
  g_assert_cmpint (json_object_get_int_member (event, "chunks"), ==, 33);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/cli/key", Fixture, NULL, fixture_set_up, test_key_commands, fixture_tear_down);
  g_test_add ("/cli/key/import-garbage", Fixture, NULL, fixture_set_up, test_key_import_garbage,
              fixture_tear_down);
  g_test_add ("/cli/job/verify", Fixture, NULL, fixture_set_up, test_job_verify,
              fixture_tear_down);
  g_test_add ("/cli/result/decrypt", Fixture, NULL, fixture_set_up, test_result_decrypt,
              fixture_tear_down);

  g_test_add ("/cli/submit", Fixture, NULL, fixture_set_up, test_submit, fixture_tear_down);
  g_test_add ("/cli/submit/resume", Fixture, NULL, fixture_set_up, test_submit_resume,
              fixture_tear_down);

  return g_test_run ();
}
