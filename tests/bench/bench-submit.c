/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-submit: `assay-cli submit` on S3 and DynamoDB (s3rver and dynalite on 127.0.0.1,
 * started by the integration harness, no proxy in between) next to what it does by other
 * means: `xz -T<cpus> -<preset>` alone on the same file, and `aws s3 cp` of the file xz
 * made. Each is its own process, timed by wall clock, its peak RSS taken from wait4().
 *
 * The file is bench-chunks' "mixed" file (the same generator and seed): 1 MiB regions, a
 * quarter random bytes, half log-like text, a quarter zeros. Then the peak RSS of submit
 * with the defaults on a file four times as large (--big-size), to show it does not grow
 * with the file. Prints Markdown tables (docs/benchmarks.md, "Submit").
 *
 *   bench-submit [--size MiB] [--big-size MiB] [--variants LIST] [--repeat N] [--dir DIR]
 *
 * --variants: extra submit settings to measure, separated by ';', each a space-separated
 * list of submit options, e.g. "-j 2;--preset 1". assay-cli is $ASSAY_CLI, else the one
 * of this build (../../app/assay-cli from this program).
 */
#include "config.h"

#include "bench-mixed.h"

#include "assay-submitter.h"
#include "test-servers.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (G_GUINT64_CONSTANT (1) << 20)

/* ------------------------------------------------------------------------------------ */
/* Timing a process                                                                     */

typedef struct
{
  double seconds;
  guint64 peak_rss; /* bytes */
} Run;

/* Runs @argv with stdin from /dev/null, stdout to @out_path (NULL: /dev/null), stderr to
 * @err_path (NULL: ours). FALSE if it failed. */
static gboolean
run_once (const char *const *argv,
          const char        *out_path,
          const char        *err_path,
          Run               *run)
{
  struct rusage usage;
  gint64 start = g_get_monotonic_time ();
  int status;
  pid_t pid;

  pid = fork ();
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      int in_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      int out_fd = open (out_path != NULL ? out_path : "/dev/null",
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int err_fd = err_path != NULL ? open (err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                                            0644)
                                    : 2;

      if (in_fd < 0 || out_fd < 0 || err_fd < 0 || dup2 (in_fd, 0) < 0 || dup2 (out_fd, 1) < 0 ||
          dup2 (err_fd, 2) < 0)
        _exit (126);
      execvp (argv[0], (char *const *) argv);
      _exit (127);
    }
  while (wait4 (pid, &status, 0, &usage) < 0)
    if (errno != EINTR)
      g_error ("wait4: %s", g_strerror (errno));

  run->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  run->peak_rss = (guint64) usage.ru_maxrss * 1024;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_autofree char *cmd = g_strjoinv (" ", (char **) argv);
      g_autofree char *err = NULL;

      if (err_path != NULL)
        g_file_get_contents (err_path, &err, NULL, NULL);
      g_printerr ("bench-submit: “%s” failed (status %d)%s%s\n", cmd, status,
                  err != NULL ? ": " : "", err != NULL ? err : "");
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------------------ */
/* The bench                                                                            */

typedef struct
{
  char *work;         /* temporary folder */
  char *cli;
  char *state;        /* XDG_STATE_HOME, emptied before each submit */
  char *s3_url;
  char *dynamodb_url;
} Bench;

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

/* One thing measured: a command, or assay-cli submit with some options. */
typedef struct
{
  char *name;
  char **argv;        /* NULL-terminated */
  char *out_path;     /* its standard output, or NULL */
  gboolean submit;    /* read the last --json event from out_path */
  gboolean xz;
  guint preset;       /* xz, submit: the preset */
  Run best;           /* the fastest run; peak_rss the highest of all runs */
  guint runs;
  guint64 compressed; /* submit: bytes_compressed */
  guint chunks;       /* submit: chunks */
} Measure;

static void
measure_free (Measure *m)
{
  g_free (m->name);
  g_strfreev (m->argv);
  g_free (m->out_path);
  g_free (m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Measure, measure_free)

/* `assay-cli submit --json <store flags> @options @input`. */
static Measure *
submit_measure (Bench      *b,
                const char *name,
                const char *options,
                const char *input)
{
  g_auto(GStrv) extra = g_strsplit (options, " ", -1);
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  Measure *m = g_new0 (Measure, 1);

  g_strv_builder_add_many (argv, b->cli, "submit", "--json", "--bucket", ASSAY_TEST_BUCKET,
                           "--region", ASSAY_TEST_REGION, "--s3-endpoint", b->s3_url,
                           "--dynamodb-endpoint", b->dynamodb_url, NULL);
  m->preset = ASSAY_SUBMIT_PRESET_DEFAULT;
  for (guint i = 0; extra[i] != NULL; i++)
    {
      if (*extra[i] == '\0')
        continue;
      g_strv_builder_add (argv, extra[i]);
      if (g_str_equal (extra[i], "--preset") && extra[i + 1] != NULL)
        m->preset = (guint) g_ascii_strtoull (extra[i + 1], NULL, 10);
    }
  g_strv_builder_add (argv, input);
  m->name = g_strdup (name);
  m->argv = g_strv_builder_end (argv);
  m->out_path = g_build_filename (b->work, "submit.out", NULL);
  m->submit = TRUE;
  return m;
}

/* `xz -T<cpus> -<preset> -c @input`, into a file of its own. */
static Measure *
xz_measure (Bench      *b,
            const char *xz_path,
            guint       preset,
            const char *input)
{
  g_autofree char *threads = g_strdup_printf ("-T%u", g_get_num_processors ());
  g_autofree char *level = g_strdup_printf ("-%u", preset);
  g_autofree char *out = g_strdup_printf ("mixed-%u.xz", preset);
  Measure *m = g_new0 (Measure, 1);

  m->name = g_strdup_printf ("`xz %s %s`", threads, level);
  m->argv = g_strdupv ((char **) (const char *[]) { xz_path, threads, level, "-c", input, NULL });
  m->out_path = g_build_filename (b->work, out, NULL);
  m->xz = TRUE;
  m->preset = preset;
  return m;
}

static Measure *
find_xz (GPtrArray *measures,
         guint      preset)
{
  for (guint i = 0; i < measures->len; i++)
    {
      Measure *m = g_ptr_array_index (measures, i);

      if (m->xz && m->preset == preset)
        return m;
    }
  return NULL;
}

/* One more run of @m; FALSE if it failed. A submit starts with an empty journal, so that
 * no run is the continuation of another. */
static gboolean
measure_once (Bench   *b,
              Measure *m)
{
  g_autofree char *err = g_build_filename (b->work, "command.err", NULL);
  Run run;

  if (m->submit)
    remove_tree (b->state);
  if (!run_once ((const char *const *) m->argv, m->out_path, err, &run))
    return FALSE;
  if (m->submit)
    {
      g_autofree char *text = NULL;
      g_autoptr(JsonNode) node = NULL;
      const char *last;

      g_file_get_contents (m->out_path, &text, NULL, NULL);
      g_strchomp (text);
      last = strrchr (text, '\n') != NULL ? strrchr (text, '\n') + 1 : text;
      node = json_from_string (last, NULL);
      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node) ||
          g_strcmp0 (json_object_get_string_member_with_default (json_node_get_object (node),
                                                                 "event", ""),
                     "submitted") != 0)
        {
          g_printerr ("bench-submit: submit did not end with a “submitted” event: %s\n", text);
          return FALSE;
        }
      m->compressed = json_object_get_int_member (json_node_get_object (node),
                                                  "bytes_compressed");
      m->chunks = json_object_get_int_member (json_node_get_object (node), "chunks");
    }
  if (m->runs == 0 || run.seconds < m->best.seconds)
    m->best.seconds = run.seconds;
  m->best.peak_rss = MAX (m->best.peak_rss, run.peak_rss);
  m->runs++;
  return TRUE;
}

static guint64
file_size (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    g_error ("stat %s: %s", path, g_strerror (errno));
  return (guint64) st.st_size;
}

static char *
cpu_model (void)
{
  g_autofree char *info = NULL;
  const char *line;

  if (g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL) &&
      (line = strstr (info, "model name")) != NULL && (line = strchr (line, ':')) != NULL)
    return g_strstrip (g_strndup (line + 1, strcspn (line + 1, "\n")));
  return g_strdup ("unknown CPU");
}

static char *
find_cli (void)
{
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = NULL;
  g_autofree char *cli = NULL;

  if (g_getenv ("ASSAY_CLI") != NULL)
    return g_strdup (g_getenv ("ASSAY_CLI"));
  if (self_exe == NULL)
    return NULL;
  dir = g_path_get_dirname (self_exe);
  cli = g_build_filename (dir, "..", "..", "app", "assay-cli", NULL);
  return g_file_test (cli, G_FILE_TEST_IS_EXECUTABLE) ? g_steal_pointer (&cli) : NULL;
}

/* @xz_seconds: xz's time on the same file, 0 when not measured */
static void
print_submit_row (const Measure *m,
                  guint64        size,
                  double         xz_seconds)
{
  g_autofree char *ratio = xz_seconds > 0 ? g_strdup_printf ("%.2f", m->best.seconds / xz_seconds)
                                          : g_strdup ("");

  g_print ("| %s | %" G_GUINT64_FORMAT " | %.2f | %.1f | %s | %.3f | %u | %" G_GUINT64_FORMAT
           " |\n",
           m->name, size / MiB, m->best.seconds, (double) size / 1e6 / m->best.seconds, ratio,
           (double) m->compressed / (double) size, m->chunks, m->best.peak_rss / MiB);
}

int
main (int   argc,
      char *argv[])
{
  int size_mib = 256;
  int big_mib = 1024;
  int repeat = 1;
  g_autofree char *variants_text = g_strdup ("--preset 1 -j 4;--preset 1 -j 2;-j 4;-j 2");
  g_autofree char *dir = NULL;
  const GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_INT, &size_mib, "Size of the mixed file in MiB (256)", "MIB" },
    { "big-size", 0, 0, G_OPTION_ARG_INT, &big_mib,
      "Size of the file for the second RSS figure, MiB (1024; 0: none)", "MIB" },
    { "variants", 0, 0, G_OPTION_ARG_STRING, &variants_text,
      "Other submit settings, ';'-separated (\"--preset 1 -j 4;--preset 1 -j 2;-j 4;-j 2\")",
      "LIST" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Runs of each, the fastest shown (1)", "N" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Where the files go (the temp dir)", "DIR" },
    { NULL },
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayTestServer) s3rver = NULL;
  g_autoptr(AssayTestServer) dynalite = NULL;
  g_auto(GStrv) variants = NULL;
  g_autofree char *input = NULL;
  g_autofree char *big = NULL;
  g_autofree char *cpu = NULL;
  g_autofree char *xz_path = g_find_program_in_path ("xz");
  g_autoptr(GPtrArray) submits = NULL;
  g_autofree char *aws_config = NULL;
  g_autofree char *s3_target = NULL;
  g_autofree char *home = NULL;
  Bench b = { 0 };
  g_autoptr(GPtrArray) measures = g_ptr_array_new_with_free_func ((GDestroyNotify) measure_free);
  guint64 size;

  if (g_getenv ("ASSAY_BENCH_SIZE_MIB") != NULL)
    size_mib = (int) g_ascii_strtoll (g_getenv ("ASSAY_BENCH_SIZE_MIB"), NULL, 10);

  context = g_option_context_new ("- assay-cli submit next to xz and aws s3 cp");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-submit: %s\n", error->message);
      return 2;
    }
  if (size_mib < 1 || big_mib < 0 || repeat < 1)
    {
      g_printerr ("bench-submit: --size and --repeat must be at least 1\n");
      return 2;
    }

  b.cli = find_cli ();
  if (b.cli == NULL || xz_path == NULL || !g_file_test ("/usr/bin/aws", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_printerr ("bench-submit: needs assay-cli (set ASSAY_CLI), xz and /usr/bin/aws\n");
      return 1;
    }
  b.work = g_build_filename (dir != NULL ? dir : g_get_tmp_dir (), "bench-submit-XXXXXX", NULL);
  if (g_mkdtemp (b.work) == NULL)
    {
      g_printerr ("bench-submit: cannot make %s: %s\n", b.work, g_strerror (errno));
      return 1;
    }
  home = g_build_filename (b.work, "home", NULL);
  b.state = g_build_filename (b.work, "state", NULL);
  g_mkdir (home, 0700);
  aws_config = g_build_filename (home, "aws-config", NULL);
  g_file_set_contents (aws_config, "[default]\ns3 =\n  addressing_style = path\n", -1, NULL);

  /* everything the children read: the test's credentials, folders of their own */
  g_setenv ("HOME", home, TRUE);
  g_setenv ("XDG_DATA_HOME", home, TRUE);
  g_setenv ("XDG_CONFIG_HOME", home, TRUE);
  g_setenv ("XDG_CACHE_HOME", home, TRUE);
  g_setenv ("XDG_STATE_HOME", b.state, TRUE);
  g_setenv ("AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY, TRUE);
  g_setenv ("AWS_REGION", ASSAY_TEST_REGION, TRUE);
  g_setenv ("AWS_DEFAULT_REGION", ASSAY_TEST_REGION, TRUE);
  g_setenv ("AWS_CONFIG_FILE", aws_config, TRUE);
  g_setenv ("AWS_PAGER", "", TRUE);
  g_unsetenv ("AWS_PROFILE");

  s3rver = assay_test_server_start_s3rver ();
  dynalite = assay_test_server_start_dynalite ();
  b.s3_url = g_strdup (assay_test_server_get_url (s3rver));
  b.dynamodb_url = g_strdup (assay_test_server_get_url (dynalite));
  {
    const char *key[] = { b.cli, "key", "generate", NULL };
    const char *init[] = { b.cli, "init", "--bucket", ASSAY_TEST_BUCKET, "--region",
                           ASSAY_TEST_REGION, "--s3-endpoint", b.s3_url, "--dynamodb-endpoint",
                           b.dynamodb_url, NULL };
    Run run;

    if (!run_once (key, NULL, "/dev/null", &run) || !run_once (init, NULL, NULL, &run))
      return 1;
  }

  size = (guint64) size_mib * MiB;
  input = g_build_filename (b.work, "mixed", NULL);
  if (!bench_make_mixed_file (input, size, &error))
    {
      g_printerr ("bench-submit: %s\n", error->message);
      return 1;
    }

  cpu = cpu_model ();
  g_print ("bench-submit: %d MiB mixed file (bench-chunks' generator), %s, %u CPUs; s3rver and "
           "dynalite on 127.0.0.1, no proxy; fastest of %d %s, RSS the highest\n\n",
           size_mib, cpu, g_get_num_processors (), repeat, repeat == 1 ? "run" : "runs");

  /* xz alone (at each preset that a submit uses), the AWS CLI uploading what xz made at
   * the default preset, submit with the defaults and the variants: in turn, round after
   * round, so that the machine's other load falls on all of them alike */
  s3_target = g_strdup_printf ("s3://%s/bench-submit/mixed.xz", ASSAY_TEST_BUCKET);
  g_ptr_array_add (measures, xz_measure (&b, xz_path, ASSAY_SUBMIT_PRESET_DEFAULT, input));
  {
    Measure *xz = g_ptr_array_index (measures, 0);
    Measure *aws = g_new0 (Measure, 1);

    aws->name = g_strdup ("`aws s3 cp` of xz's file");
    aws->argv = g_strdupv ((char **) (const char *[]) { "/usr/bin/aws", "s3", "cp",
                                                       "--only-show-errors", xz->out_path,
                                                       s3_target, "--endpoint-url", b.s3_url,
                                                       NULL });
    g_ptr_array_add (measures, aws);
  }
  submits = g_ptr_array_new ();
  g_ptr_array_add (submits, submit_measure (&b, "`assay-cli submit` (defaults)", "", input));
  variants = g_strsplit (variants_text, ";", -1);
  for (guint i = 0; variants[i] != NULL; i++)
    {
      g_autofree char *name = NULL;

      if (*g_strstrip (variants[i]) == '\0')
        continue;
      name = g_strdup_printf ("`submit %s`", variants[i]);
      g_ptr_array_add (submits, submit_measure (&b, name, variants[i], input));
    }
  for (guint i = 0; i < submits->len; i++)
    {
      Measure *m = g_ptr_array_index (submits, i);

      if (find_xz (measures, m->preset) == NULL)
        g_ptr_array_add (measures, xz_measure (&b, xz_path, m->preset, input));
    }
  for (guint i = 0; i < submits->len; i++)
    g_ptr_array_add (measures, g_ptr_array_index (submits, i));

  for (int r = 0; r < repeat; r++)
    for (guint i = 0; i < measures->len; i++)
      if (!measure_once (&b, g_ptr_array_index (measures, i)))
        return 1;

  g_print ("| what | MiB | seconds | MB/s | vs xz | ratio | chunks | RSS MiB |\n");
  g_print ("|---|--:|--:|--:|--:|--:|--:|--:|\n");
  for (guint i = 0; i < measures->len; i++)
    {
      Measure *m = g_ptr_array_index (measures, i);

      if (m->submit)
        print_submit_row (m, size, find_xz (measures, m->preset)->best.seconds);
      else if (m->xz)
        g_print ("| %s | %" G_GUINT64_FORMAT " | %.2f | %.1f | 1.00 | %.3f | | %" G_GUINT64_FORMAT
                 " |\n",
                 m->name, size / MiB, m->best.seconds, (double) size / 1e6 / m->best.seconds,
                 (double) file_size (m->out_path) / size, m->best.peak_rss / MiB);
      else
        {
          Measure *xz = g_ptr_array_index (measures, 0);
          double both = xz->best.seconds + m->best.seconds;

          g_print ("| %s | %.0f | %.2f | | | | | %" G_GUINT64_FORMAT " |\n", m->name,
                   (double) file_size (xz->out_path) / MiB, m->best.seconds,
                   m->best.peak_rss / MiB);
          g_print ("| %s, then `aws s3 cp` | %" G_GUINT64_FORMAT " | %.2f | %.1f | %.2f | | | |\n",
                   xz->name, size / MiB, both, (double) size / 1e6 / both,
                   both / xz->best.seconds);
        }
    }

  /* the defaults on a larger file: the same peak memory */
  if (big_mib > 0)
    {
      g_autoptr(Measure) m = NULL;

      big = g_build_filename (b.work, "mixed-big", NULL);
      if (!bench_make_mixed_file (big, (guint64) big_mib * MiB, &error))
        {
          g_printerr ("bench-submit: %s\n", error->message);
          return 1;
        }
      m = submit_measure (&b, "`assay-cli submit` (defaults)", "", big);
      if (!measure_once (&b, m))
        return 1;
      print_submit_row (m, (guint64) big_mib * MiB, 0);
      g_unlink (big);
    }

  g_unlink (input);
  remove_tree (b.work);
  g_free (b.work);
  g_free (b.cli);
  g_free (b.state);
  g_free (b.s3_url);
  g_free (b.dynamodb_url);
  return 0;
}
