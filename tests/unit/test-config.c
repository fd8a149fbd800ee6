/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-config.h"

#include <glib/gstdio.h>
#include <string.h>

static const char * const variables[] = {
  "ASSAY_LOCAL", "ASSAY_BUCKET", "ASSAY_REGION", "ASSAY_S3_ENDPOINT", "ASSAY_DYNAMODB_ENDPOINT",
  "ASSAY_JOBS_TABLE", "ASSAY_RESULTS_TABLE", "ASSAY_PROFILE", "ASSAY_CONFIG",
};

typedef struct
{
  char *dir;
  char *file;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (variables); i++)
    g_unsetenv (variables[i]);
  f->dir = g_dir_make_tmp ("assay-config-XXXXXX", &error);
  g_assert_no_error (error);
  f->file = g_build_filename (f->dir, "assay.conf", NULL);
  /* no default file: XDG_CONFIG_HOME points into the empty temporary directory */
  g_setenv ("XDG_CONFIG_HOME", f->dir, TRUE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_unlink (f->file);
  g_rmdir (f->dir);
  g_free (f->file);
  g_free (f->dir);
}

static void
write_file (Fixture    *f,
            const char *text)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (f->file, text, -1, &error);
  g_assert_no_error (error);
}

static void
test_defaults (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayConfig) config = assay_config_resolve (NULL, NULL, &error);
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "assay", "store", NULL);

  g_assert_no_error (error);
  g_assert_true (assay_config_is_local (config));
  g_assert_cmpstr (config->local, ==, expected);
  g_assert_cmpstr (config->jobs_table, ==, "assay-jobs");
  g_assert_cmpstr (config->results_table, ==, "assay-results");
  g_assert_null (config->bucket);
}

static void
test_precedence (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(AssayConfig) flags = assay_config_new ();
  g_autoptr(AssayConfig) config = NULL;
  g_autoptr(GError) error = NULL;

  write_file (f, "[store]\n"
                 "bucket=file-bucket\n"
                 "region=eu-central-1\n"
                 "s3-endpoint=http://127.0.0.1:9000\n"
                 "jobs-table=file-jobs\n"
                 "results-table=file-results\n");
  g_setenv ("ASSAY_REGION", "us-east-2", TRUE);
  g_setenv ("ASSAY_JOBS_TABLE", "env-jobs", TRUE);
  flags->jobs_table = g_strdup ("flag-jobs");

  config = assay_config_resolve (flags, f->file, &error);
  g_assert_no_error (error);
  g_assert_false (assay_config_is_local (config));
  g_assert_cmpstr (config->bucket, ==, "file-bucket");   /* file only */
  g_assert_cmpstr (config->region, ==, "us-east-2");     /* environment over file */
  g_assert_cmpstr (config->jobs_table, ==, "flag-jobs"); /* flag over environment */
  g_assert_cmpstr (config->results_table, ==, "file-results");
  g_assert_cmpstr (config->s3_endpoint, ==, "http://127.0.0.1:9000");
  g_assert_null (config->dynamodb_endpoint);
  g_assert_nonnull (strstr (config->source, f->file));

  /* ASSAY_CONFIG names the file too, and the default file is read when it exists */
  g_clear_pointer (&config, assay_config_free);
  g_setenv ("ASSAY_CONFIG", f->file, TRUE);
  config = assay_config_resolve (NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->bucket, ==, "file-bucket");
}

static void
test_invalid (Fixture       *f,
              gconstpointer  data)
{
  struct
  {
    const char *variable;
    const char *value;
    const char *message;
  } cases[] = {
    { "ASSAY_BUCKET", "Bad_Bucket", "bucket" },
    { "ASSAY_REGION", "EU", "region" },
    { "ASSAY_S3_ENDPOINT", "ftp://x", "s3-endpoint" },
    { "ASSAY_DYNAMODB_ENDPOINT", "not a url", "dynamodb-endpoint" },
    { "ASSAY_JOBS_TABLE", "a/b", "jobs-table" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayConfig) config = NULL;

      g_setenv (cases[i].variable, cases[i].value, TRUE);
      config = assay_config_resolve (NULL, NULL, &error);
      g_assert_null (config);
      g_assert_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, cases[i].message));
      g_unsetenv (cases[i].variable);
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(AssayConfig) config = NULL;

    g_setenv ("ASSAY_LOCAL", "/tmp/x", TRUE);
    g_setenv ("ASSAY_BUCKET", "bucket", TRUE);
    config = assay_config_resolve (NULL, NULL, &error);
    g_assert_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "choose one"));
  }
}

static void
test_missing_file (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayConfig) config = assay_config_resolve (NULL, "/nonexistent/assay.conf", &error);

  g_assert_null (config);
  g_assert_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "/nonexistent/assay.conf"));
  g_clear_error (&error);

  write_file (f, "this is not a key file\n");
  config = assay_config_resolve (NULL, f->file, &error);
  g_assert_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_FILE);
}

static void
test_flags (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(AssayConfig) flags = assay_config_new ();
  g_autofree char *config_file = NULL;
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayConfig) config = NULL;
  const char *args[] = { "test", "--bucket", "flag-bucket", "--s3-endpoint",
                         "http://127.0.0.1:1234", "--config", f->file, NULL };
  /* parsing removes the options from the array: free the strings through a copy */
  g_auto(GStrv) owned = g_strdupv ((char **) args);
  g_autofree char **argv = g_memdup2 (owned, sizeof (char *) * G_N_ELEMENTS (args));
  int argc = g_strv_length (owned);
  char **pargv = argv;

  write_file (f, "[store]\nregion=eu-north-1\n");
  g_option_context_add_group (context, assay_config_option_group (flags, &config_file));
  g_option_context_parse (context, &argc, &pargv, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config_file, ==, f->file);

  config = assay_config_resolve (flags, config_file, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->bucket, ==, "flag-bucket");
  g_assert_cmpstr (config->s3_endpoint, ==, "http://127.0.0.1:1234");
  g_assert_cmpstr (config->region, ==, "eu-north-1");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/common/config/defaults", Fixture, NULL, fixture_set_up, test_defaults,
              fixture_tear_down);
  g_test_add ("/common/config/precedence", Fixture, NULL, fixture_set_up, test_precedence,
              fixture_tear_down);
  g_test_add ("/common/config/invalid", Fixture, NULL, fixture_set_up, test_invalid,
              fixture_tear_down);
  g_test_add ("/common/config/missing-file", Fixture, NULL, fixture_set_up, test_missing_file,
              fixture_tear_down);
  g_test_add ("/common/config/flags", Fixture, NULL, fixture_set_up, test_flags,
              fixture_tear_down);

  return g_test_run ();
}
