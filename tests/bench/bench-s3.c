/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-s3: AssayS3Client's PUT and GET throughput next to curl's, against s3rver on
 * 127.0.0.1 (started by the integration harness, no proxy in between).
 *
 * For 1 and 4 requests in flight: PUTs 32 chunks of 8 MiB (random bytes) with Assay (signed
 * payload, then UNSIGNED-PAYLOAD) and with `curl --parallel --parallel-max N -T`, then GETs
 * them back with both (curl to /dev/null, Assay into memory). curl sends no signature
 * (s3rver accepts that); Assay signs every request, hashes every body (SHA-256 and MD5) and
 * checks each GET's MD5.
 * Prints a Markdown table (docs/benchmarks.md, "S3 client").
 *
 *   bench-s3 [--chunks N] [--chunk-mib M] [--inflight 1,4] [--repeat R]
 *
 * With --repeat R each measurement is made R times and the fastest is shown (the
 * machine's other load only ever slows a run down).
 */
#include "config.h"

#include "assay-s3-client.h"
#include "test-servers.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024 * 1024)

typedef struct
{
  AssayS3Client  *client;
  GBytes        **chunks;
  guint           n_chunks;
  const char     *prefix;
  gboolean        get;
  AssayS3PutFlags flags;
  guint           next;
  guint           done;
  guint           in_flight;
  GError         *error;
} Run;

static void start_next (Run *run);

static void
put_done_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;
  g_autofree char *etag = NULL;

  etag = assay_s3_client_put_object_finish (ASSAY_S3_CLIENT (object), result,
                                            run->error == NULL ? &run->error : NULL);
  run->done++;
  run->in_flight--;
  start_next (run);
}

static void
get_done_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(AssayObjectInfo) info = NULL;

  info = assay_s3_client_get_object_finish (ASSAY_S3_CLIENT (object), result,
                                            run->error == NULL ? &run->error : NULL);
  run->done++;
  run->in_flight--;
  start_next (run);
}

static void
start_next (Run *run)
{
  g_autofree char *key = NULL;

  if (run->next >= run->n_chunks || run->error != NULL)
    return;
  key = g_strdup_printf ("%s/%06u", run->prefix, run->next);
  if (run->get)
    {
      /* Memory: pollable, so written in place (a file's async writes go through threads). */
      g_autoptr(GOutputStream) sink = g_memory_output_stream_new_resizable ();

      assay_s3_client_get_object_async (run->client, key, sink, NULL, NULL, NULL, get_done_cb,
                                        run);
    }
  else
    {
      assay_s3_client_put_object_async (run->client, key, run->chunks[run->next], NULL, run->flags,
                                        NULL, NULL, NULL, put_done_cb, run);
    }
  run->next++;
  run->in_flight++;
}

/* Seconds for all chunks with @in_flight requests at a time. */
static double
run_assay (AssayS3Client   *client,
           GBytes         **chunks,
           guint            n_chunks,
           const char      *prefix,
           gboolean         get,
           AssayS3PutFlags  flags,
           guint            in_flight)
{
  Run run = { client, chunks, n_chunks, prefix, get, flags, 0, 0, 0, NULL };
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < in_flight; i++)
    start_next (&run);
  while (run.done < run.n_chunks && !(run.error != NULL && run.in_flight == 0))
    g_main_context_iteration (NULL, TRUE);
  if (run.error != NULL)
    g_error ("bench-s3: %s", run.error->message);

  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

static double
run_curl (const char  *base,
          const char  *dir,
          guint        n_chunks,
          const char  *prefix,
          gboolean     get,
          guint        in_flight,
          GString     *command)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) curl = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_ptr_array_add (argv, g_strdup ("curl"));
  g_ptr_array_add (argv, g_strdup ("--silent"));
  g_ptr_array_add (argv, g_strdup ("--no-progress-meter"));
  g_ptr_array_add (argv, g_strdup ("--fail"));
  g_ptr_array_add (argv, g_strdup ("--parallel"));
  g_ptr_array_add (argv, g_strdup ("--parallel-max"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", in_flight));
  for (guint i = 0; i < n_chunks; i++)
    {
      if (get)
        {
          g_ptr_array_add (argv, g_strdup ("-o"));
          g_ptr_array_add (argv, g_strdup ("/dev/null"));
        }
      else
        {
          g_ptr_array_add (argv, g_strdup ("-o"));
          g_ptr_array_add (argv, g_strdup ("/dev/null"));
          g_ptr_array_add (argv, g_strdup ("-T"));
          g_ptr_array_add (argv, g_strdup_printf ("%s/%06u", dir, i));
        }
      g_ptr_array_add (argv, g_strdup_printf ("%s/%s/%06u", base, prefix, i));
    }
  g_ptr_array_add (argv, NULL);
  if (command != NULL && command->len == 0)
    g_string_printf (command,
                     "curl --silent --no-progress-meter --fail --parallel --parallel-max %u "
                     "%s... (%u URLs)", in_flight,
                     get ? "-o /dev/null URL " : "-o /dev/null -T FILE URL ", n_chunks);

  start = g_get_monotonic_time ();
  curl = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
  if (curl == NULL || !g_subprocess_wait_check (curl, NULL, &error))
    g_error ("bench-s3: curl: %s", error->message);

  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

static void
row (const char *client,
     const char *op,
     guint       in_flight,
     double      seconds,
     guint64     bytes)
{
  g_print ("| %-28s | %-3s | %9u | %7.2f | %8.0f |\n", client, op, in_flight, seconds,
           bytes / (double) MiB / seconds);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new ("— S3 client throughput");
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayTestServer) s3rver = NULL;
  g_autoptr(AssayCredentials) credentials = NULL;
  g_autoptr(AssayAwsTransport) transport = NULL;
  g_autoptr(AssayS3Client) client = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autoptr(GString) command = g_string_new (NULL);
  g_auto(GStrv) inflight_list = NULL;
  GBytes **chunks;
  int n_chunks = 32;
  int chunk_mib = 8;
  int repeat = 1;
  char *inflight = NULL;
  guint64 total;

  const GOptionEntry entries[] = {
    { "chunks", 0, 0, G_OPTION_ARG_INT, &n_chunks, "Number of chunks (32)", "N" },
    { "chunk-mib", 0, 0, G_OPTION_ARG_INT, &chunk_mib, "Chunk size in MiB (8)", "M" },
    { "inflight", 0, 0, G_OPTION_ARG_STRING, &inflight, "Requests in flight (1,4)", "LIST" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Runs per figure, the fastest shown (1)", "R" },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || n_chunks < 1 || chunk_mib < 1 ||
      repeat < 1)
    {
      g_printerr ("bench-s3: %s\n", error != NULL ? error->message : "bad sizes");
      return 2;
    }
  inflight_list = g_strsplit (inflight != NULL ? inflight : "1,4", ",", -1);
  g_free (inflight);
  total = (guint64) n_chunks * (guint64) chunk_mib * MiB;

  /* The chunks, in memory for Assay and in files for curl. */
  dir = g_dir_make_tmp ("assay-bench-s3-XXXXXX", &error);
  g_assert_no_error (error);
  chunks = g_new0 (GBytes *, n_chunks);
  for (int i = 0; i < n_chunks; i++)
    {
      gsize size = (gsize) chunk_mib * MiB;
      guint32 *data = g_malloc (size);
      g_autofree char *path = g_strdup_printf ("%s/%06d", dir, i);

      for (gsize j = 0; j < size / 4; j++)
        data[j] = g_random_int ();
      chunks[i] = g_bytes_new_take (data, size);
      if (!g_file_set_contents (path, (const char *) g_bytes_get_data (chunks[i], NULL),
                                (gssize) size, &error))
        g_error ("bench-s3: %s", error->message);
    }

  s3rver = assay_test_server_start_s3rver ();
  base = g_strdup_printf ("%s/%s", assay_test_server_get_url (s3rver), ASSAY_TEST_BUCKET);
  credentials = assay_credentials_new (ASSAY_TEST_ACCESS_KEY_ID, ASSAY_TEST_SECRET_ACCESS_KEY, NULL,
                                       "the benchmark's test credentials");
  transport = assay_aws_transport_new (credentials, ASSAY_TEST_REGION, NULL);
  client = assay_s3_client_new (transport, ASSAY_TEST_BUCKET, assay_test_server_get_url (s3rver),
                                ASSAY_S3_ADDRESSING_PATH, &error);
  g_assert_no_error (error);

  /* Warm up: a connection, s3rver's JIT. */
  run_assay (client, chunks, 1, "warmup", FALSE, ASSAY_S3_PUT_NONE, 1);

  g_print ("%d chunks of %d MiB (%" G_GUINT64_FORMAT " MiB) to s3rver %s at %s\n\n", n_chunks,
           chunk_mib, total / MiB, "3.7.1", assay_test_server_get_url (s3rver));
  g_print ("| %-28s | %-3s | %9s | %7s | %8s |\n", "client", "op", "in flight", "seconds", "MiB/s");
  g_print ("|%s|%s|%s|%s|%s|\n", "------------------------------", "-----", "-----------",
           "---------", "----------");
  for (guint k = 0; inflight_list[k] != NULL; k++)
    {
      guint n = (guint) g_ascii_strtoull (inflight_list[k], NULL, 10);
      g_autofree char *assay_prefix = g_strdup_printf ("assay-%u", n);
      g_autofree char *unsigned_prefix = g_strdup_printf ("unsigned-%u", n);
      g_autofree char *curl_prefix = g_strdup_printf ("curl-%u", n);

      if (n == 0)
        continue;
#define BEST(expr)                          \
  ({                                        \
    double best_ = G_MAXDOUBLE;             \
    for (int r_ = 0; r_ < repeat; r_++)     \
      best_ = MIN (best_, (expr));          \
    best_;                                  \
  })
      row ("assay", "PUT", n,
           BEST (run_assay (client, chunks, n_chunks, assay_prefix, FALSE, ASSAY_S3_PUT_NONE, n)),
           total);
      row ("assay (UNSIGNED-PAYLOAD)", "PUT", n,
           BEST (run_assay (client, chunks, n_chunks, unsigned_prefix, FALSE,
                            ASSAY_S3_PUT_UNSIGNED_PAYLOAD, n)),
           total);
      row ("curl (unsigned)", "PUT", n,
           BEST (run_curl (base, dir, n_chunks, curl_prefix, FALSE, n, command)), total);
      row ("assay (MD5 checked)", "GET", n,
           BEST (run_assay (client, chunks, n_chunks, assay_prefix, TRUE, ASSAY_S3_PUT_NONE, n)),
           total);
      row ("curl", "GET", n, BEST (run_curl (base, dir, n_chunks, assay_prefix, TRUE, n, NULL)),
           total);
#undef BEST
    }
  g_print ("\ncurl: %s\n", command->str);

  for (int i = 0; i < n_chunks; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%06d", dir, i);

      g_remove (path);
      g_bytes_unref (chunks[i]);
    }
  g_free (chunks);
  g_rmdir (dir);

  return 0;
}
