/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "assay-worker-config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static void
test_duration (void)
{
  static const struct
  {
    const char *text;
    guint ms;
  } good[] = {
    { "60", 60000 }, { "1.5", 1500 }, { "500ms", 500 }, { "30s", 30000 }, { "2m", 120000 },
    { "1h", 3600000 }, { "0", 0 }, { " 2 s", 2000 },
  };
  static const char * const bad[] = { "", "s", "-1", "5 minutes", "1d", "1e20", "abc", "nan" };
  guint ms;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_assert_true (assay_parse_duration (good[i].text, &ms));
      g_assert_cmpuint (ms, ==, good[i].ms);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (assay_parse_duration (bad[i], &ms))
      g_error ("“%s” should not be a duration", bad[i]);
}

static void
test_size (void)
{
  static const struct
  {
    const char *text;
    guint64 bytes;
  } good[] = {
    { "65536", 65536 }, { "64K", 65536 }, { "1G", 1 << 30 }, { "1GiB", 1 << 30 },
    { "512M", 512 << 20 }, { "2MB", 2 << 20 }, { "1T", G_GUINT64_CONSTANT (1) << 40 },
  };
  static const char * const bad[] = { "", "G", "1X", "1 GB of it", "-5", "99999999999999999T" };
  guint64 bytes;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_assert_true (assay_parse_size (good[i].text, &bytes));
      g_assert_cmpuint (bytes, ==, good[i].bytes);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (assay_parse_size (bad[i], &bytes))
      g_error ("“%s” should not be a size", bad[i]);
}

static char *
write_config (const char *text)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("assay-worker-config-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_defaults (void)
{
  g_autofree char *path = write_config ("[store]\nlocal=/tmp/x\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayWorkerConfig) config = assay_worker_config_resolve (NULL, path, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->settings.concurrency, ==, 0);
  g_assert_null (config->settings.accept);
  g_assert_cmpuint (config->settings.lease_ms, ==, 60000);
  g_assert_cmpuint (config->settings.max_attempts, ==, 3);
  g_assert_cmpuint (config->settings.max_file_size, ==, G_GUINT64_CONSTANT (1) << 30);
  g_assert_cmpuint (config->settings.stall_timeout_ms, ==, 120000);
  g_assert_cmpuint (config->engine_timeout_ms, ==, 300000);
  g_assert_cmpuint (config->grace_ms, ==, 30000);
  g_assert_null (config->engine_exec);
  g_assert_null (config->engine_http);
  g_assert_null (config->settings.work_dir);
  g_unlink (path);
}

static void
test_layers (void)
{
  g_autofree char *path = write_config ("[worker]\n"
                                        "concurrency=3\n"
                                        "lease=90s\n"
                                        "max-attempts=5\n"
                                        "max-file-size=2G\n"
                                        "accept-versions=^2.1.0\n"
                                        "engine-exec=/usr/bin/true --flag\n"
                                        "work-dir=/var/tmp/w\n");
  g_autoptr(AssayWorkerConfigLayer) flags = assay_worker_config_layer_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayWorkerConfig) config = NULL;

  /* flags over environment over file; the engine is chosen by the highest layer naming
   * one, so a file's engine-exec does not clash with an engine-http given on the
   * command line */
  flags->concurrency = g_strdup ("7");
  flags->engine_http = g_strdup ("http://127.0.0.1:9000/scan");
  g_setenv ("ASSAY_WORKER_LEASE", "2m", TRUE);
  g_setenv ("ASSAY_WORKER_CONCURRENCY", "4", TRUE);
  config = assay_worker_config_resolve (flags, path, &error);
  g_unsetenv ("ASSAY_WORKER_LEASE");
  g_unsetenv ("ASSAY_WORKER_CONCURRENCY");
  g_assert_no_error (error);
  g_assert_cmpuint (config->settings.concurrency, ==, 7);
  g_assert_cmpuint (config->settings.lease_ms, ==, 120000);
  g_assert_cmpuint (config->settings.max_attempts, ==, 5);
  g_assert_cmpuint (config->settings.max_file_size, ==, G_GUINT64_CONSTANT (2) << 30);
  g_assert_cmpstr (assay_version_range_to_string (config->settings.accept), ==, "^2.1.0");
  g_assert_cmpstr (config->settings.work_dir, ==, "/var/tmp/w");
  g_assert_cmpstr (config->engine_http, ==, "http://127.0.0.1:9000/scan");
  g_assert_null (config->engine_exec);
  g_unlink (path);
}

static void
test_invalid (void)
{
  static const char * const files[] = {
    "[worker]\nconcurrency=0\n",
    "[worker]\nconcurrency=many\n",
    "[worker]\nlease=500ms\n",
    "[worker]\nmax-file-size=huge\n",
    "[worker]\naccept-versions=2.x\n",
    "[worker]\nengine-timeout=0\n",
    "[worker]\nengine-exec=a\nengine-http=http://x/\n",
    "[worker]\npoll-min=2s\npoll-max=1s\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = write_config (files[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayWorkerConfig) config = assay_worker_config_resolve (NULL, path, &error);

      if (config != NULL)
        g_error ("%s should be refused", files[i]);
      g_assert_error (error, ASSAY_WORKER_CONFIG_ERROR, ASSAY_WORKER_CONFIG_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, path));
      g_unlink (path);
    }
}

static void
test_missing_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayWorkerConfig) config = assay_worker_config_resolve (NULL, "/nonexistent/x.conf",
                                                                     &error);

  g_assert_null (config);
  g_assert_error (error, ASSAY_WORKER_CONFIG_ERROR, ASSAY_WORKER_CONFIG_ERROR_FILE);
}

/* worker/assay-worker.conf.example documents every key, and its values parse. */
static void
test_example (void)
{
  const char *example = g_test_get_filename (G_TEST_DIST, "..", "worker",
                                             "assay-worker.conf.example", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GString) worker = g_string_new ("[worker]\n");
  g_auto(GStrv) lines = NULL;
  g_autoptr(AssayWorkerConfigLayer) flags = assay_worker_config_layer_new ();
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autofree char *help = NULL;
  g_auto(GStrv) words = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayWorkerConfig) config = NULL;
  gboolean in_worker = FALSE;
  guint keys = 0;

  g_assert_true (g_file_get_contents (example, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "["))
        in_worker = g_str_equal (lines[i], "[worker]");
      /* every example value, uncommented; of the two engines, exec */
      else if (in_worker && g_regex_match_simple ("^#[a-z-]+=", lines[i], 0, 0) &&
               !g_str_has_prefix (lines[i], "#engine-http="))
        g_string_append_printf (worker, "%s\n", lines[i] + 1);
    }
  path = write_config (worker->str);
  config = assay_worker_config_resolve (NULL, path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->settings.concurrency, ==, 4);
  g_assert_cmpstr (assay_version_range_to_string (config->settings.accept), ==, ">=2.0.0 <3.0.0");
  g_assert_cmpuint (config->settings.lease_ms, ==, 60000);
  g_assert_cmpuint (config->engine_max_output, ==, 16 << 20);
  g_assert_cmpuint (config->settings.poll_max_ms, ==, 5000);
  g_assert_nonnull (config->engine_exec);
  g_unlink (path);

  /* every flag of the worker group is a key of the example */
  g_option_context_add_group (context, assay_worker_config_option_group (flags));
  help = g_option_context_get_help (context, FALSE, NULL);
  words = g_strsplit_set (help, " \n", -1);
  for (guint i = 0; words[i] != NULL; i++)
    if (g_str_has_prefix (words[i], "--") && strchr (words[i], '=') != NULL &&
        !g_str_has_prefix (words[i], "--help"))
      {
        g_autofree char *key = g_strndup (words[i] + 2, strcspn (words[i] + 2, "="));
        g_autofree char *line = g_strdup_printf ("\n#%s=", key);

        if (strstr (text, line) == NULL)
          g_error ("worker key “%s” is not documented in %s", key, example);
        keys++;
      }
  g_assert_cmpuint (keys, >=, 15);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("ASSAY_CONFIG");
  g_test_add_func ("/worker/config/duration", test_duration);
  g_test_add_func ("/worker/config/size", test_size);
  g_test_add_func ("/worker/config/defaults", test_defaults);
  g_test_add_func ("/worker/config/layers", test_layers);
  g_test_add_func ("/worker/config/invalid", test_invalid);
  g_test_add_func ("/worker/config/missing-file", test_missing_file);
  g_test_add_func ("/worker/config/example", test_example);
  return g_test_run ();
}
