/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The S3 + DynamoDB store on real local servers (s3rver, dynalite), every request through
 * the botocore SigV4 check: the same conformance body as the local store, and
 * `assay-cli init` as a person runs it, checked with Debian's AWS CLI.
 */
#include "config.h"

#include "assay-aws-store.h"
#include "store-conformance.h"
#include "test-servers.h"

#include <glib/gstdio.h>
#include <string.h>

static AssayTestServer *s3rver;
static AssayTestServer *dynalite;
static AssayTestServer *s3_proxy;
static AssayTestServer *dynamodb_proxy;

static AssayStore *
make_store (gpointer data)
{
  g_autoptr(AssayCredentials) credentials = assay_credentials_new (
    ASSAY_TEST_ACCESS_KEY_ID, ASSAY_TEST_SECRET_ACCESS_KEY, NULL, "the test's credentials");
  g_autoptr(AssayAwsTransport) transport = assay_aws_transport_new (credentials,
                                                                    ASSAY_TEST_REGION, NULL);
  g_autoptr(AssayS3Client) s3 = NULL;
  g_autoptr(AssayDynamodbClient) dynamodb = NULL;
  g_autoptr(GError) error = NULL;

  s3 = assay_s3_client_new (transport, ASSAY_TEST_BUCKET, assay_test_server_get_url (s3_proxy),
                            ASSAY_S3_ADDRESSING_PATH, &error);
  g_assert_no_error (error);
  dynamodb = assay_dynamodb_client_new (transport, assay_test_server_get_url (dynamodb_proxy),
                                        &error);
  g_assert_no_error (error);
  return ASSAY_STORE (assay_aws_store_new (s3, dynamodb, "conformance-jobs",
                                           "conformance-results"));
}

/* Runs a command with the test's credentials; returns its exit status. */
static int
run (char       **out,
     char       **err,
     const char  *first,
     ...)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *home = g_dir_make_tmp ("assay-aws-XXXXXX", NULL);
  const char *arg;
  va_list ap;

  va_start (ap, first);
  for (arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY,
                                TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_DEFAULT_REGION", ASSAY_TEST_REGION, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_PAGER", "", TRUE);
  /* no stray configuration from the machine running the tests */
  g_subprocess_launcher_setenv (launcher, "HOME", home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", home, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  g_rmdir (home);
  return g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
}

static void
test_cli_init (void)
{
  const char *cli = g_getenv ("ASSAY_CLI");
  g_autofree char *s3_url = g_strdup (assay_test_server_get_url (s3_proxy));
  g_autofree char *dynamodb_url = g_strdup (assay_test_server_get_url (dynamodb_proxy));
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonNode) description = NULL;
  JsonObject *table;
  JsonArray *indexes;

  g_assert_nonnull (cli);
  for (guint round = 0; round < 2; round++)
    {
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (run (&out, &err, cli, "init", "--bucket", "assay-init-bucket",
                            "--region", ASSAY_TEST_REGION, "--s3-endpoint", s3_url,
                            "--dynamodb-endpoint", dynamodb_url, "--jobs-table", "init-jobs",
                            "--results-table", "init-results", NULL),
                       ==, 0);
      g_assert_true (g_str_has_prefix (out, "ready: S3"));
    }

  /* the AWS CLI sees the table and its index */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (&out, &err, "/usr/bin/aws", "dynamodb", "describe-table", "--table-name",
                        "init-jobs", "--endpoint-url", dynamodb_url, "--output", "json", NULL),
                   ==, 0);
  description = json_from_string (out, NULL);
  g_assert_nonnull (description);
  table = json_object_get_object_member (json_node_get_object (description), "Table");
  g_assert_cmpstr (json_object_get_string_member (table, "TableStatus"), ==, "ACTIVE");
  indexes = json_object_get_array_member (table, "GlobalSecondaryIndexes");
  g_assert_cmpuint (json_array_get_length (indexes), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (indexes, 0),
                                                  "IndexName"),
                   ==, "queue-due");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (&out, &err, "/usr/bin/aws", "s3api", "head-bucket", "--bucket",
                        "assay-init-bucket", "--endpoint-url", s3_url, NULL),
                   ==, 0);

  /* the wrong secret: refused, and the message says where the credentials came from */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) process = NULL;
    g_autoptr(GError) error = NULL;

    g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
    g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", "wrong-secret", TRUE);
    process = g_subprocess_launcher_spawn (launcher, &error, cli, "init", "--bucket",
                                           "assay-init-bucket", "--region", ASSAY_TEST_REGION,
                                           "--s3-endpoint", s3_url, "--dynamodb-endpoint",
                                           dynamodb_url, NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 1);
    g_test_message ("%s", err);
    g_assert_nonnull (strstr (err, "environment"));
  }
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  s3rver = assay_test_server_start_s3rver ();
  dynalite = assay_test_server_start_dynalite ();
  s3_proxy = assay_test_server_start_proxy (s3rver, "s3");
  dynamodb_proxy = assay_test_server_start_proxy (dynalite, "dynamodb");

  assay_test_store_conformance_add ("aws", make_store, NULL);
  g_test_add_func ("/aws/cli/init", test_cli_init);
  status = g_test_run ();

  /* every request the clients made was signed as botocore signs it (the wrong-secret
   * case is the one refusal expected per service it reached) */
  g_test_message ("refused by the SigV4 check: s3 %u, dynamodb %u",
                  assay_test_server_count_refused (s3_proxy),
                  assay_test_server_count_refused (dynamodb_proxy));
  if (assay_test_server_count_refused (s3_proxy) > 1 ||
      assay_test_server_count_refused (dynamodb_proxy) > 1)
    status = 1;

  assay_test_server_stop (dynamodb_proxy);
  assay_test_server_stop (s3_proxy);
  assay_test_server_stop (dynalite);
  assay_test_server_stop (s3rver);
  return status;
}
