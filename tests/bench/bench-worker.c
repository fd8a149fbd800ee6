/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-worker: the processor end to end, with assay-worker programs (their bundled
 * engine, assay-inspect) and a client in this process (AssaySubmitter, as assay-cli).
 *
 * small: --files N files of --size bytes (text lines, each file its own), submitted
 *   --in-flight at a time (or --rate a second, at most --in-flight at a time) to
 *   --workers worker processes. Prints jobs per second (the
 *   jobs over the time from the first job's `uploaded` to the last result's `created`,
 *   and over the wall time from the first submit) and the latency of each job from its
 *   `uploaded` to its result's `created`: p50, p99 and the largest.
 * big: a --big MiB "mixed" file (1 MiB regions: a quarter random bytes, half log-like
 *   text, a quarter zeros), the client's defaults (xz preset 0, 8 MiB chunks, 3 PUTs in
 *   flight; --preset and --chunk-size change the first two; --uplink N (with --store
 *   aws) puts tests/bench/throttle.py between the client and S3: an uplink of N MB/s): the time from the start of the submit to the decrypted result (the job
 *   polled every 20 ms, not with the client's backoff), next to each stage run on its
 *   own, one after another, in the same run: compress (AssayChunkEncoder), upload (the
 *   chunks, 4 in flight), download (one at a time, as the worker fetches), decompress
 *   (AssayChunkDecoder, to a file), engine (assay-inspect on the file).
 *
 *   bench-worker [--store local|aws] [--files 500] [--size 4096] [--workers 2]
 *                [--in-flight 8] [--rate N] [--poll-min 100ms] [--poll-max 5s] [--big 64]
 *                [--repeat 1] [--preset 0] [--chunk-size 8] [--uplink MB/s] [--skip-small] [--skip-big]
 *                [--verbose]
 *
 * --store aws runs s3rver and dynalite on 127.0.0.1 (tests/node_modules), with no
 * SigV4 proxy in between. The poll settings are passed to the workers as they are.
 */
#include "config.h"

#include "assay-aws-store.h"
#include "assay-chunk-decoder.h"
#include "assay-chunk-encoder.h"
#include "assay-id.h"
#include "assay-item.h"
#include "assay-journal.h"
#include "assay-key.h"
#include "assay-local-store.h"
#include "assay-outcome.h"
#include "assay-result.h"
#include "assay-scan.h"
#include "assay-submitter.h"
#include "assay-time.h"
#include "test-servers.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MiB (G_GUINT64_CONSTANT (1) << 20)

typedef struct
{
  char *dir;
  AssayStore *store;
  AssayKey *key;
  AssayJournal *journal;
  GPtrArray *store_args; /* for assay-worker */
  AssayTestServer *s3rver;
  AssayTestServer *dynalite;
  GSubprocess *uplink;   /* tests/bench/throttle.py between the client and s3rver */
  AssayScanStage *scan;  /* the workers' scan, for the sequential run */
  char *poll_min;
  char *poll_max;
} Bench;

/* ------------------------------------------------------------------------------------ */
/* Waiting on the main context                                                          */

static void
result_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
sleep_ms (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, flag_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static double
seconds_since (gint64 start_us)
{
  return (g_get_monotonic_time () - start_us) / 1e6;
}

static void
check (GError *error,
       const char *what)
{
  if (error != NULL)
    g_error ("bench-worker: %s: %s", what, error->message);
}

/* ------------------------------------------------------------------------------------ */
/* The worker programs                                                                  */

static gboolean verbose;
static gint64 started_us;
static int preset = 0;
static double uplink_mb;      /* MB/s between the client and S3 (--store aws), 0 = none */        /* the big file's submit settings: the client's defaults */
static int chunk_mib = 8;

typedef struct
{
  GSubprocess *process;
  GDataInputStream *lines;
  GCancellable *cancellable;
  guint processed;
  guint failed;
  gboolean eof;
  GAsyncResult *exit;
} Worker;

static void read_line (Worker *w);

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Worker *w = data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, NULL);

  if (line == NULL)
    {
      w->eof = TRUE;
      return;
    }
  if (verbose)
    g_printerr ("%8.3f %s\n", seconds_since (started_us), line);
  if (strstr (line, "\"event\":\"processed\"") != NULL)
    w->processed++;
  else if (strstr (line, "\"event\":\"failed\"") != NULL)
    {
      w->failed++;
      g_printerr ("bench-worker: %s\n", line);
    }
  read_line (w);
}

static void
read_line (Worker *w)
{
  g_data_input_stream_read_line_async (w->lines, G_PRIORITY_DEFAULT, w->cancellable, line_cb, w);
}

/* assay-worker refuses to start without virus definitions in the store: a tiny set (one
 * .ndb rule), published with `assay-worker defs publish` (bench-scan measures scanning). */
static void
publish_definitions (Bench *b)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (b->dir, "defs", NULL);
  g_autofree char *ndb = g_build_filename (dir, "bench.ndb", NULL);

  g_mkdir_with_parents (dir, 0700);
  g_file_set_contents (ndb, "Assay.Bench.Never:0:*:6e657665722d6d617463682d31\n", -1, &error);
  check (error, "writing the definitions");
  g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY,
                                TRUE);
  g_subprocess_launcher_unsetenv (launcher, "ASSAY_CONFIG");
  g_ptr_array_add (argv, g_strdup (ASSAY_WORKER_PATH));
  for (guint i = 0; i < b->store_args->len; i++)
    g_ptr_array_add (argv, g_strdup (b->store_args->pdata[i]));
  g_ptr_array_add (argv, g_strdup ("defs"));
  g_ptr_array_add (argv, g_strdup ("publish"));
  g_ptr_array_add (argv, g_strconcat ("--from=", dir, NULL));
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  check (error, "assay-worker defs publish");
  g_subprocess_wait_check (process, NULL, &error);
  check (error, "assay-worker defs publish");
}

static Worker *
worker_start (Bench *b,
              guint  index)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Worker *w = g_new0 (Worker, 1);

  g_subprocess_launcher_setenv (launcher, "AWS_ACCESS_KEY_ID", ASSAY_TEST_ACCESS_KEY_ID, TRUE);
  g_subprocess_launcher_setenv (launcher, "AWS_SECRET_ACCESS_KEY", ASSAY_TEST_SECRET_ACCESS_KEY,
                                TRUE);
  g_subprocess_launcher_unsetenv (launcher, "ASSAY_CONFIG");
  g_ptr_array_add (argv, g_strdup (ASSAY_WORKER_PATH));
  for (guint i = 0; i < b->store_args->len; i++)
    g_ptr_array_add (argv, g_strdup (b->store_args->pdata[i]));
  g_ptr_array_add (argv, g_strdup_printf ("--work-dir=%s/work-%u", b->dir, index));
  g_ptr_array_add (argv, g_strdup_printf ("--poll-min=%s", b->poll_min));
  g_ptr_array_add (argv, g_strdup_printf ("--poll-max=%s", b->poll_max));
  g_ptr_array_add (argv, NULL);
  w->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  check (error, "starting assay-worker");
  w->cancellable = g_cancellable_new ();
  w->lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (w->process));
  read_line (w);
  g_subprocess_wait_async (w->process, NULL, result_cb, &w->exit);
  return w;
}

static void
worker_stop (Worker *w)
{
  g_subprocess_send_signal (w->process, SIGTERM);
  while (w->exit == NULL || !w->eof)
    g_main_context_iteration (NULL, TRUE);
  g_cancellable_cancel (w->cancellable);
  g_clear_object (&w->exit);
  g_clear_object (&w->lines);
  g_clear_object (&w->process);
  g_clear_object (&w->cancellable);
  g_free (w);
}

static guint
workers_done (GPtrArray *workers)
{
  guint done = 0;

  for (guint i = 0; i < workers->len; i++)
    {
      Worker *w = workers->pdata[i];

      done += w->processed + w->failed;
      if (w->exit != NULL)
        g_error ("bench-worker: an assay-worker exited");
    }
  return done;
}

/* ------------------------------------------------------------------------------------ */
/* Files                                                                                */

static inline guint64
next_random (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Log-like text lines, as bench-chunks makes them. */
static void
fill_text (guint8  *data,
           gsize    len,
           guint64 *rng)
{
  static const char *const verbs[] = { "processed", "uploaded", "scanned", "rejected",
                                       "queued",    "verified", "decrypted", "skipped" };
  gsize pos = 0;

  while (pos < len)
    {
      char line[128];
      guint64 r = next_random (rng);
      gsize n = (gsize) g_snprintf (line, sizeof line,
                                    "2024-%02u-%02u %02u:%02u:%02u.%03u INFO worker-%u %s %u "
                                    "chunks in %u ms (job %08x)\n",
                                    (guint) (r % 12) + 1, (guint) (r >> 4) % 28 + 1,
                                    (guint) (r >> 9) % 24, (guint) (r >> 14) % 60,
                                    (guint) (r >> 20) % 60, (guint) (r >> 26) % 1000,
                                    (guint) (r >> 36) % 32, verbs[(r >> 41) % G_N_ELEMENTS (verbs)],
                                    (guint) (r >> 44) % 10000, (guint) (r >> 50) % 5000,
                                    (guint) r & 0xfffff);

      n = MIN (n, len - pos);
      memcpy (data + pos, line, n);
      pos += n;
    }
}

static char *
write_file (Bench        *b,
            const char   *name,
            const guint8 *data,
            gsize         len)
{
  char *path = g_build_filename (b->dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, (const char *) data, len, &error);
  check (error, path);
  return path;
}

/* bench-chunks' mixed file: 1 MiB regions, a quarter random, half text, a quarter zeros. */
static char *
make_mixed_file (Bench   *b,
                 guint64  size)
{
  g_autofree guint8 *data = g_malloc (size);
  guint64 rng = 20240501;

  for (guint64 done = 0; done < size; done += MiB)
    {
      gsize len = (gsize) MIN (MiB, size - done);
      guint kind = next_random (&rng) % 4;

      if (kind == 0)
        for (gsize i = 0; i < len; i += 8)
          {
            guint64 v = next_random (&rng);

            memcpy (data + done + i, &v, MIN (8, len - i));
          }
      else if (kind == 3)
        memset (data + done, 0, len);
      else
        fill_text (data + done, len, &rng);
    }
  return write_file (b, "mixed.bin", data, size);
}

/* ------------------------------------------------------------------------------------ */
/* Jobs and results                                                                     */

static JsonObject *
get_item (Bench      *b,
          AssayTable  table,
          const char *id)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *item;

  assay_store_get_item_async (b->store, table, id, NULL, result_cb, &result);
  wait_for (&result);
  item = assay_store_get_item_finish (b->store, result, &error);
  check (error, id);
  return item;
}

static gint64
time_ms (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) time = assay_time_parse (text, &error);

  check (error, text);
  return assay_time_to_unix_ms (time);
}

static const char *
item_string (JsonObject *item,
             const char *name)
{
  const char *value = NULL;

  assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, name, FALSE, &value, NULL);
  return value;
}

/* The job's `uploaded` and its result's `created`, in ms since the epoch. */
static void
job_times (Bench      *b,
           const char *job,
           gint64     *out_uploaded,
           gint64     *out_created)
{
  g_autoptr(JsonObject) item = get_item (b, ASSAY_TABLE_JOBS, job);
  g_autoptr(JsonObject) result = NULL;

  if (g_strcmp0 (item_string (item, "status"), "PROCESSED") != 0)
    g_error ("bench-worker: job %s is %s", job, item_string (item, "status"));
  result = get_item (b, ASSAY_TABLE_RESULTS, item_string (item, "result"));
  *out_uploaded = time_ms (item_string (item, "uploaded"));
  *out_created = time_ms (item_string (result, "created"));
}

/* ------------------------------------------------------------------------------------ */
/* Submitting                                                                           */

typedef struct
{
  Bench *b;
  GPtrArray *paths;
  AssaySubmitSettings settings;
  guint next;
  guint running;
  guint in_flight;
  guint rate;          /* submits started per second; 0: as many as in_flight allows */
  guint allowed;       /* with a rate: the submits the ticks have allowed so far */
  GPtrArray *ids;
} Submits;

static void submit_next (Submits *s);

static void
submitted_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Submits *s = data;
  g_autoptr(GError) error = NULL;
  char *id = assay_submitter_run_finish (ASSAY_SUBMITTER (source), result, &error);

  check (error, "submit");
  g_ptr_array_add (s->ids, id);
  g_object_unref (source);
  s->running--;
  submit_next (s);
}

static gboolean
tick_cb (gpointer data)
{
  Submits *s = data;

  s->allowed++;
  submit_next (s);
  return s->allowed < s->paths->len ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
submit_next (Submits *s)
{
  while (s->running < s->in_flight && s->next < s->paths->len &&
         (s->rate == 0 || s->next < s->allowed))
    {
      g_autoptr(GFile) file = g_file_new_for_path (s->paths->pdata[s->next++]);
      AssaySubmitter *submitter = assay_submitter_new (s->b->store, s->b->key, s->b->journal, file,
                                                       &s->settings);

      s->running++;
      assay_submitter_run_async (submitter, NULL, submitted_cb, s);
    }
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static gint64
percentile (GArray *sorted,
            double  p)
{
  guint rank = (guint) MAX (1, (gint64) (p * sorted->len + 0.999999));

  return g_array_index (sorted, gint64, MIN (rank, sorted->len) - 1);
}

static void
bench_small (Bench     *b,
             GPtrArray *workers,
             guint      n_files,
             gsize      size,
             guint      in_flight,
             guint      rate)
{
  Submits s = { b, g_ptr_array_new_with_free_func (g_free), { 0 }, 0, 0, in_flight, rate, 1,
                g_ptr_array_new_with_free_func (g_free) };
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree guint8 *data = g_malloc (size);
  g_autofree char *rate_text = rate > 0 ? g_strdup_printf ("%u/s", rate)
                                        : g_strdup_printf ("%u at once", in_flight);
  gint64 first_uploaded = G_MAXINT64, last_created = 0;
  guint done_before = workers_done (workers);
  gint64 start;
  double wall;

  for (guint i = 0; i < n_files; i++)
    {
      g_autofree char *name = g_strdup_printf ("small-%04u.txt", i);
      guint64 rng = i + 1;

      fill_text (data, size, &rng);
      g_ptr_array_add (s.paths, write_file (b, name, data, size));
    }
  assay_submit_settings_init (&s.settings);
  /* a moment for the workers' first polls: they are idle, as a fleet waiting for work */
  sleep_ms (1000);

  start = started_us = g_get_monotonic_time ();
  if (rate > 0)
    g_timeout_add (MAX (1000 / rate, 1), tick_cb, &s);
  submit_next (&s);
  while (workers_done (workers) - done_before < n_files)
    g_main_context_iteration (NULL, TRUE);
  wall = seconds_since (start);
  g_assert (s.ids->len == n_files);

  for (guint i = 0; i < s.ids->len; i++)
    {
      gint64 uploaded, created, latency;

      job_times (b, s.ids->pdata[i], &uploaded, &created);
      latency = created - uploaded;
      g_array_append_val (latencies, latency);
      first_uploaded = MIN (first_uploaded, uploaded);
      last_created = MAX (last_created, created);
    }
  g_array_sort (latencies, compare_gint64);

  g_print ("| %u x %" G_GSIZE_FORMAT " B | %s | %u | %s | %s | %.1f | %.1f | %.3f | %.3f | %.3f |\n",
           n_files, size, rate_text, workers->len, b->poll_min, b->poll_max,
           n_files / ((last_created - first_uploaded) / 1000.0), n_files / wall,
           percentile (latencies, 0.50) / 1000.0, percentile (latencies, 0.99) / 1000.0,
           g_array_index (latencies, gint64, latencies->len - 1) / 1000.0);
  g_ptr_array_unref (s.paths);
  g_ptr_array_unref (s.ids);
}

/* ------------------------------------------------------------------------------------ */
/* The big file                                                                         */

typedef struct
{
  double compress, upload, download, decompress, scan, engine, end_to_end, worker_view;
  guint64 compressed;
  guint chunks;
} BigRun;

typedef struct
{
  Bench *b;
  GPtrArray *chunks;
  const char *prefix;
  guint next;
  guint running;
  guint in_flight;
  gboolean put;         /* else get */
  GPtrArray *got;       /* GBytes, in order */
} Transfer;

static void transfer_next (Transfer *t);

static void
transferred_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Transfer *t = data;
  g_autoptr(GError) error = NULL;

  if (t->put)
    {
      g_autofree char *etag = assay_store_put_object_finish (t->b->store, result, &error);

      check (error, "put");
    }
  else
    {
      g_autoptr(AssayObjectInfo) info = assay_store_get_object_finish (t->b->store, result,
                                                                      &error);

      check (error, "get");
    }
  t->running--;
  transfer_next (t);
}

static void
transfer_next (Transfer *t)
{
  while (t->running < t->in_flight && t->next < t->chunks->len)
    {
      g_autofree char *key = g_strdup_printf ("%s/%06u", t->prefix, t->next);

      t->running++;
      if (t->put)
        {
          g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);

          g_hash_table_insert (metadata, "assay-job", "job-00000000-0000-4000-8000-000000000000");
          assay_store_put_object_async (t->b->store, key, t->chunks->pdata[t->next], metadata,
                                        NULL, NULL, NULL, transferred_cb, t);
        }
      else
        {
          GOutputStream *out = g_memory_output_stream_new_resizable ();

          g_ptr_array_add (t->got, out);
          assay_store_get_object_async (t->b->store, key, out, NULL, NULL, NULL, transferred_cb,
                                        t);
        }
      t->next++;
    }
}

static void
run_transfer (Transfer *t)
{
  transfer_next (t);
  while (t->running > 0 || t->next < t->chunks->len)
    g_main_context_iteration (NULL, TRUE);
}

static void
delete_object (Bench      *b,
               const char *key)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  assay_store_delete_object_async (b->store, key, NULL, result_cb, &result);
  wait_for (&result);
  assay_store_delete_object_finish (b->store, result, &error);
  check (error, key);
}

/* Each stage on its own, one after another. */
static void
big_sequential (Bench      *b,
                const char *path,
                BigRun     *run)
{
  AssaySubmitSettings settings;
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) input = NULL;
  g_autoptr(AssayChunkEncoder) encoder = NULL;
  g_autoptr(GPtrArray) chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *prefix = assay_id_new (ASSAY_ID_FILE);
  g_autofree char *out_path = g_build_filename (b->dir, "decoded.bin", NULL);
  g_autoptr(GError) error = NULL;
  GBytes *chunk;
  gint64 start;

  assay_submit_settings_init (&settings);
  settings.preset = (guint) preset;
  settings.chunk_size = (gsize) chunk_mib * MiB;

  start = g_get_monotonic_time ();
  input = g_file_read (file, NULL, &error);
  check (error, path);
  encoder = assay_chunk_encoder_new (G_INPUT_STREAM (input), settings.preset, settings.threads,
                                     settings.chunk_size);
  while ((chunk = assay_chunk_encoder_next (encoder, NULL, &error)) != NULL)
    g_ptr_array_add (chunks, chunk);
  check (error, "compress");
  run->compress = seconds_since (start);
  run->chunks = chunks->len;
  run->compressed = assay_chunk_encoder_get_bytes_written (encoder);

  {
    Transfer put = { b, chunks, prefix, 0, 0, settings.concurrency, TRUE, NULL };

    start = g_get_monotonic_time ();
    run_transfer (&put);
    run->upload = seconds_since (start);
  }
  {
    Transfer get = { b, chunks, prefix, 0, 0, 1, FALSE, got };

    start = g_get_monotonic_time ();
    run_transfer (&get);
    run->download = seconds_since (start);
  }

  start = g_get_monotonic_time ();
  {
    g_autoptr(GFile) out_file = g_file_new_for_path (out_path);
    g_autoptr(GFileOutputStream) out = g_file_replace (out_file, NULL, FALSE, G_FILE_CREATE_NONE,
                                                       NULL, &error);
    g_autoptr(AssayChunkDecoder) decoder = NULL;

    check (error, out_path);
    decoder = assay_chunk_decoder_new (G_OUTPUT_STREAM (out), NULL);
    for (guint i = 0; i < got->len; i++)
      {
        g_autoptr(GBytes) bytes = NULL;

        g_output_stream_close (got->pdata[i], NULL, NULL);
        bytes = g_memory_output_stream_steal_as_bytes (got->pdata[i]);
        assay_chunk_decoder_push (decoder, bytes, NULL, &error);
        check (error, "decompress");
      }
    assay_chunk_decoder_finish (decoder, NULL, &error);
    check (error, "decompress");
    g_output_stream_close (G_OUTPUT_STREAM (out), NULL, &error);
    check (error, out_path);
  }
  run->decompress = seconds_since (start);

  /* a new engine each run: libclamav remembers files it found clean, and this is the same
   * file every run (a worker meets each file once) */
  {
    g_autofree char *defs = g_build_filename (b->dir, "defs", NULL);

    assay_scan_stage_load (b->scan, defs, "bench", NULL, &error);
    check (error, "the definitions");
  }
  start = g_get_monotonic_time ();
  {
    g_autoptr(GBytes) verdict = assay_scan_stage_scan (b->scan, out_path, NULL, &error);

    check (error, "scan");
  }
  run->scan = seconds_since (start);

  start = g_get_monotonic_time ();
  {
    g_autoptr(GSubprocess) engine = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                                                      ASSAY_INSPECT_PATH, out_path, NULL);

    check (error, "assay-inspect");
    g_subprocess_wait_check (engine, NULL, &error);
    check (error, "assay-inspect");
  }
  run->engine = seconds_since (start);

  g_unlink (out_path);
  for (guint i = 0; i < chunks->len; i++)
    {
      g_autofree char *key = g_strdup_printf ("%s/%06u", prefix, i);

      delete_object (b, key);
    }
}

/* Submit, then the job polled every 20 ms, its result fetched and decrypted. */
static void
big_end_to_end (Bench      *b,
                const char *path,
                BigRun     *run)
{
  AssaySubmitSettings settings;
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(AssaySubmitter) submitter = NULL;
  g_autoptr(GAsyncResult) submitted = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  gint64 start, start_ms, uploaded, created;

  assay_submit_settings_init (&settings);
  settings.preset = (guint) preset;
  settings.chunk_size = (gsize) chunk_mib * MiB;
  /* the journal would take the same file again for the job it already made */
  g_clear_object (&b->journal);
  {
    g_autofree char *name = assay_id_new (ASSAY_ID_FILE);
    g_autofree char *journal_dir = g_build_filename (b->dir, "journal", name, NULL);

    b->journal = assay_journal_new (journal_dir);
  }
  submitter = assay_submitter_new (b->store, b->key, b->journal, file, &settings);

  start = started_us = g_get_monotonic_time ();
  start_ms = g_get_real_time () / 1000;
  assay_submitter_run_async (submitter, NULL, result_cb, &submitted);
  wait_for (&submitted);
  id = assay_submitter_run_finish (submitter, submitted, &error);
  check (error, "submit");
  if (verbose)
    g_printerr ("%8.3f the client marked the job UPLOADED\n", seconds_since (start));
  for (;;)
    {
      g_autoptr(GAsyncResult) got = NULL;

      g_clear_object (&job);
      assay_outcome_get_job_async (b->store, id, NULL, result_cb, &got);
      wait_for (&got);
      job = assay_outcome_get_job_finish (b->store, got, &error);
      check (error, id);
      if (assay_job_status_is_final (assay_job_get_status (job)))
        break;
      sleep_ms (20);
    }
  {
    g_autoptr(GAsyncResult) fetched = NULL;

    assay_outcome_fetch_async (b->store, b->key, job, NULL, result_cb, &fetched);
    wait_for (&fetched);
    plaintext = assay_outcome_fetch_finish (b->store, fetched, &error);
    check (error, "fetch");
  }
  run->end_to_end = seconds_since (start);
  job_times (b, id, &uploaded, &created);
  run->worker_view = (created - start_ms) / 1000.0;
}

static void
bench_big (Bench     *b,
           guint      mib,
           guint      repeat)
{
  g_autofree char *path = make_mixed_file (b, (guint64) mib * MiB);
  BigRun best = { G_MAXDOUBLE, G_MAXDOUBLE, G_MAXDOUBLE, G_MAXDOUBLE, G_MAXDOUBLE, G_MAXDOUBLE,
                  G_MAXDOUBLE, G_MAXDOUBLE, 0, 0 };
  AssaySubmitSettings defaults;
  double sum;

  assay_submit_settings_init (&defaults);
  for (guint i = 0; i < repeat; i++)
    {
      BigRun run = { 0 };

      big_sequential (b, path, &run);
      sleep_ms (500);
      big_end_to_end (b, path, &run);
      sum = run.compress + run.upload + run.download + run.decompress + run.scan + run.engine;
      g_printerr ("run %u: compress %.2f upload %.2f download %.2f decompress %.2f scan %.2f "
                  "engine %.2f (sum %.2f) end to end %.2f (result written at %.2f)\n", i + 1,
                  run.compress, run.upload, run.download, run.decompress, run.scan, run.engine,
                  sum, run.end_to_end, run.worker_view);
      best.compress = MIN (best.compress, run.compress);
      best.upload = MIN (best.upload, run.upload);
      best.download = MIN (best.download, run.download);
      best.decompress = MIN (best.decompress, run.decompress);
      best.scan = MIN (best.scan, run.scan);
      best.engine = MIN (best.engine, run.engine);
      best.end_to_end = MIN (best.end_to_end, run.end_to_end);
      best.worker_view = MIN (best.worker_view, run.worker_view);
      best.chunks = run.chunks;
      best.compressed = run.compressed;
    }
  sum = best.compress + best.upload + best.download + best.decompress + best.scan + best.engine;
  g_print ("%u MiB mixed file, %.1f MiB in %u chunks of %d MiB (xz preset %d)%s\n\n", mib,
           best.compressed / (double) MiB, best.chunks, chunk_mib, preset,
           repeat > 1 ? ", the fastest of the runs per figure" : "");
  g_print ("| stage | seconds |\n|---|---|\n");
  g_print ("| compress (xz, all CPUs) | %.2f |\n", best.compress);
  if (uplink_mb > 0)
    g_print ("| upload (%u in flight, %.0f MB/s uplink) | %.2f |\n", defaults.concurrency,
             uplink_mb, best.upload);
  else
    g_print ("| upload (%u in flight) | %.2f |\n", defaults.concurrency, best.upload);
  g_print ("| download (one at a time) | %.2f |\n", best.download);
  g_print ("| decompress | %.2f |\n", best.decompress);
  g_print ("| scan (libclamav, the workers' engine and definitions) | %.2f |\n", best.scan);
  g_print ("| engine (assay-inspect) | %.2f |\n", best.engine);
  g_print ("| **sum, one after another** | **%.2f** |\n", sum);
  g_print ("| **end to end** (submit to decrypted result) | **%.2f** (%.2fx) |\n", best.end_to_end,
           best.end_to_end / sum);
  g_print ("| result written (its `created`) | %.2f |\n", best.worker_view);
}

/* ------------------------------------------------------------------------------------ */

/* Starts tests/bench/throttle.py in front of s3rver. Returns: its URL */
static char *
uplink_start (Bench *b)
{
  g_autofree char *rate = g_strdup_printf ("%.0f", uplink_mb * 1e6);
  g_autofree char *port = g_strdup_printf ("%u", assay_test_server_get_port (b->s3rver));
  g_autoptr(GDataInputStream) lines = NULL;
  g_autofree char *line = NULL;
  g_autoptr(GError) error = NULL;

  b->uplink = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "/usr/bin/python3",
                                ASSAY_BENCH_SRCDIR "/throttle.py", port, rate, NULL);
  check (error, "throttle.py");
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (b->uplink));
  line = g_data_input_stream_read_line (lines, NULL, NULL, &error);
  check (error, "throttle.py");
  if (line == NULL)
    g_error ("bench-worker: throttle.py did not start");
  return g_strdup_printf ("http://127.0.0.1:%s", line);
}

static void
open_store (Bench      *b,
            const char *kind)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  b->store_args = g_ptr_array_new_with_free_func (g_free);
  if (g_str_equal (kind, "local"))
    {
      g_autofree char *store_dir = g_build_filename (b->dir, "store", NULL);

      b->store = ASSAY_STORE (assay_local_store_new (store_dir));
      g_ptr_array_add (b->store_args, g_strdup_printf ("--local=%s", store_dir));
    }
  else if (g_str_equal (kind, "aws"))
    {
      g_autoptr(AssayCredentials) credentials = assay_credentials_new (
        ASSAY_TEST_ACCESS_KEY_ID, ASSAY_TEST_SECRET_ACCESS_KEY, NULL, "the benchmark's");
      g_autoptr(AssayAwsTransport) transport = assay_aws_transport_new (credentials,
                                                                        ASSAY_TEST_REGION, NULL);
      g_autoptr(AssayS3Client) s3 = NULL;
      g_autoptr(AssayDynamodbClient) dynamodb = NULL;

      g_autofree char *client_s3_url = NULL;

      b->s3rver = assay_test_server_start_s3rver ();
      b->dynalite = assay_test_server_start_dynalite ();
      client_s3_url = uplink_mb > 0 ? uplink_start (b) : g_strdup (assay_test_server_get_url (b->s3rver));
      /* the client's S3 requests cross the uplink; the workers' go straight to s3rver */
      s3 = assay_s3_client_new (transport, ASSAY_TEST_BUCKET, client_s3_url,
                                ASSAY_S3_ADDRESSING_PATH, &error);
      check (error, "S3 client");
      dynamodb = assay_dynamodb_client_new (transport, assay_test_server_get_url (b->dynalite),
                                            &error);
      check (error, "DynamoDB client");
      b->store = ASSAY_STORE (assay_aws_store_new (s3, dynamodb, "assay-jobs", "assay-results"));
      g_ptr_array_add (b->store_args, g_strdup ("--bucket=" ASSAY_TEST_BUCKET));
      g_ptr_array_add (b->store_args, g_strdup ("--region=" ASSAY_TEST_REGION));
      g_ptr_array_add (b->store_args, g_strdup_printf ("--s3-endpoint=%s",
                                                       assay_test_server_get_url (b->s3rver)));
      g_ptr_array_add (b->store_args, g_strdup_printf ("--dynamodb-endpoint=%s",
                                                       assay_test_server_get_url (b->dynalite)));
    }
  else
    g_error ("bench-worker: --store is local or aws");

  assay_store_init_async (b->store, NULL, result_cb, &result);
  wait_for (&result);
  assay_store_init_finish (b->store, result, &error);
  check (error, "init");
  publish_definitions (b);
  {
    g_autofree char *defs = g_build_filename (b->dir, "defs", NULL);
    AssayScanSettings settings;

    if (!assay_scan_init (&error))
      check (error, "libclamav");
    assay_scan_settings_init (&settings);
    b->scan = assay_scan_stage_new (&settings);
    assay_scan_stage_load (b->scan, defs, "bench", NULL, &error);
    check (error, "the definitions");
  }
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
  g_autofree char *store_kind = g_strdup ("local");
  g_autofree char *poll_min = g_strdup ("100ms");
  g_autofree char *poll_max = g_strdup ("5s");
  int files = 500, size = 4096, workers = 2, in_flight = 8, big = 64, repeat = 1, rate = 0;
  gboolean skip_small = FALSE, skip_big = FALSE;
  const GOptionEntry entries[] = {
    { "store", 0, 0, G_OPTION_ARG_STRING, &store_kind, "local (default) or aws", "KIND" },
    { "files", 0, 0, G_OPTION_ARG_INT, &files, "Small files (500)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Bytes per small file (4096)", "BYTES" },
    { "workers", 0, 0, G_OPTION_ARG_INT, &workers, "Worker processes (2)", "N" },
    { "in-flight", 0, 0, G_OPTION_ARG_INT, &in_flight, "Submits at once (8)", "N" },
    { "rate", 0, 0, G_OPTION_ARG_INT, &rate,
      "Submits started per second (default: none, as many as --in-flight)", "N" },
    { "poll-min", 0, 0, G_OPTION_ARG_STRING, &poll_min, "The workers' --poll-min", "DURATION" },
    { "poll-max", 0, 0, G_OPTION_ARG_STRING, &poll_max, "The workers' --poll-max", "DURATION" },
    { "big", 0, 0, G_OPTION_ARG_INT, &big, "MiB of the big file (64)", "MiB" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Runs of the big file (1)", "N" },
    { "preset", 0, 0, G_OPTION_ARG_INT, &preset, "The big file's xz preset (0)", "N" },
    { "chunk-size", 0, 0, G_OPTION_ARG_INT, &chunk_mib, "The big file's chunks (8)", "MiB" },
    { "uplink", 0, 0, G_OPTION_ARG_DOUBLE, &uplink_mb,
      "With --store aws: the client's uplink to S3 in MB/s (tests/bench/throttle.py)", "MB/s" },
    { "skip-small", 0, 0, G_OPTION_ARG_NONE, &skip_small, "No small files", NULL },
    { "skip-big", 0, 0, G_OPTION_ARG_NONE, &skip_big, "No big file", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "The workers' log on stderr, with seconds since the start", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- the worker end to end");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) procs = g_ptr_array_new ();
  g_autofree char *journal_dir = NULL;
  Bench b = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-worker: %s\n", error->message);
      return 2;
    }
  if (files < 1 || size < 1 || workers < 1 || in_flight < 1 || big < 1 || repeat < 1 ||
      preset < 0 || preset > 9 || chunk_mib < 1 || chunk_mib > 64 || rate < 0 || uplink_mb < 0)
    {
      g_printerr ("bench-worker: the numbers are positive\n");
      return 2;
    }
  if (uplink_mb > 0 && !g_str_equal (store_kind, "aws"))
    {
      g_printerr ("bench-worker: --uplink needs --store aws\n");
      return 2;
    }

  b.dir = g_dir_make_tmp ("assay-bench-worker-XXXXXX", &error);
  check (error, "temporary directory");
  b.poll_min = g_strdup (poll_min);
  b.poll_max = g_strdup (poll_max);
  b.key = assay_key_generate ();
  journal_dir = g_build_filename (b.dir, "journal", "first", NULL);
  b.journal = assay_journal_new (journal_dir);
  open_store (&b, store_kind);
  for (int i = 0; i < workers; i++)
    g_ptr_array_add (procs, worker_start (&b, i));

  g_print ("assay-worker x %d (concurrency: the CPUs, %u; engine: assay-inspect), %s store, "
           "%u CPUs\n\n",
           workers, g_get_num_processors (), store_kind, g_get_num_processors ());
  if (!skip_small)
    {
      g_print ("| jobs | submitted | workers | poll-min | poll-max | jobs/s (uploaded to last "
               "result) | jobs/s (wall) | p50 s | p99 s | max s |\n"
               "|---|---|---|---|---|---|---|---|---|---|\n");
      bench_small (&b, procs, (guint) files, (gsize) size, (guint) in_flight, (guint) rate);
      g_print ("\n");
    }
  if (!skip_big)
    bench_big (&b, (guint) big, (guint) repeat);

  for (guint i = 0; i < procs->len; i++)
    worker_stop (procs->pdata[i]);
  g_clear_object (&b.scan);
  g_clear_object (&b.store);
  g_clear_object (&b.key);
  g_clear_object (&b.journal);
  if (b.uplink != NULL)
    {
      g_subprocess_force_exit (b.uplink);
      g_subprocess_wait (b.uplink, NULL, NULL);
      g_clear_object (&b.uplink);
    }
  g_clear_pointer (&b.s3rver, assay_test_server_stop);
  g_clear_pointer (&b.dynalite, assay_test_server_stop);
  g_ptr_array_unref (b.store_args);
  remove_tree (b.dir);
  g_free (b.dir);
  g_free (b.poll_min);
  g_free (b.poll_max);
  return 0;
}
