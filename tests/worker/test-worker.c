/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The processor in this process, on a local store: what each job turns into, and what
 * the store holds afterwards. */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "worker-fixture.h"
#include "assay-chunk-encoder.h"
#include "assay-engine.h"
#include "assay-id.h"
#include "assay-item.h"
#include "assay-local-store.h"
#include "assay-result.h"
#include "assay-time.h"
#include "assay-worker.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

/* The test engine: logs its run, and reports the file's size and SHA-256. */
#define ENGINE_OK                                                                   \
  "size=$(wc -c < \"$1\")\n"                                                       \
  "echo \"$ASSAY_JOB $size\" >> '@LOG@'\n"                                         \
  "printf '{\"engine\":\"test\",\"size\":%s,\"sha256\":\"%s\"}\\n' \"$size\" "      \
  "\"$(sha256sum \"$1\" | cut -d' ' -f1)\"\n"

typedef struct
{
  const char *engine;       /* a script body; NULL: ENGINE_OK */
  AssayStage *stage;        /* the engine stage instead of a script */
  AssayStore *store;        /* NULL: the fixture's */
  guint lease_ms;
  guint concurrency;
  guint stall_timeout_ms;
  guint max_chunks;
  guint engine_timeout_ms;
  guint64 max_file_size;
  gsize engine_max_output;
} WorkerOptions;

typedef struct
{
  AssayWorker *worker;
  GAsyncResult *result;
  GPtrArray *events; /* JsonObject */
} TestWorker;

static void
event_cb (AssayWorker *worker,
          JsonObject  *line,
          gpointer     data)
{
  TestWorker *w = data;

  g_ptr_array_add (w->events, json_object_ref (line));
  if (g_test_verbose ())
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), line);
      g_autofree char *text = json_to_string (node, FALSE);

      g_test_message ("%s", text);
    }
}

static TestWorker *
start_worker (WorkerFixture       *f,
              const WorkerOptions *options)
{
  static const WorkerOptions defaults = { 0 };
  TestWorker *w = g_new0 (TestWorker, 1);
  AssayWorkerSettings settings;
  g_autoptr(AssayEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  if (options == NULL)
    options = &defaults;
  assay_worker_settings_init (&settings);
  settings.work_dir = g_strdup (f->work_dir);
  settings.poll_min_ms = 20;
  settings.poll_max_ms = 200;
  settings.stage_retry_ms = 50;
  settings.concurrency = options->concurrency ? options->concurrency : 2;
  if (options->lease_ms)
    settings.lease_ms = options->lease_ms;
  if (options->stall_timeout_ms)
    settings.stall_timeout_ms = options->stall_timeout_ms;
  if (options->max_chunks)
    settings.max_chunks = options->max_chunks;
  if (options->max_file_size)
    settings.max_file_size = options->max_file_size;
  w->worker = assay_worker_new (options->store ? options->store : f->store, &settings);
  assay_worker_settings_clear (&settings);

  if (options->stage != NULL)
    assay_worker_add_stage (w->worker, options->stage);
  else
    {
      g_autofree char *name = g_strdup_printf ("engine-%u.sh", g_random_int ());
      g_autofree char *command = worker_fixture_engine (f, name,
                                                        options->engine ? options->engine
                                                                        : ENGINE_OK);

      engine = assay_engine_new_exec (command, &error);
      g_assert_no_error (error);
      if (options->engine_timeout_ms)
        assay_engine_set_timeout (engine, options->engine_timeout_ms);
      if (options->engine_max_output)
        assay_engine_set_max_output (engine, options->engine_max_output);
      assay_worker_add_stage (w->worker, ASSAY_STAGE (engine));
    }
  w->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_signal_connect (w->worker, "event", G_CALLBACK (event_cb), w);
  assay_worker_run_async (w->worker, NULL, worker_result_cb, &w->result);
  g_assert_nonnull (assay_worker_get_dir (w->worker));
  return w;
}

/* Stops @w with @grace_ms, waits for its run to end and frees it. */
static void
stop_worker (TestWorker *w,
             guint       grace_ms)
{
  g_autoptr(GError) error = NULL;

  assay_worker_stop (w->worker, grace_ms);
  worker_wait_for (&w->result);
  g_assert_true (assay_worker_run_finish (w->worker, w->result, &error));
  g_assert_no_error (error);
  g_assert_null (assay_worker_get_dir (w->worker));
  g_clear_object (&w->result);
  worker_finalize_object (w->worker);
  g_ptr_array_unref (w->events);
  g_free (w);
}

static guint
count_events (TestWorker *w,
              const char *event,
              const char *job)
{
  guint count = 0;

  for (guint i = 0; i < w->events->len; i++)
    {
      JsonObject *line = g_ptr_array_index (w->events, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (line, "event", NULL), event) ==
            0 &&
          (job == NULL ||
           g_strcmp0 (json_object_get_string_member_with_default (line, "job", NULL), job) == 0))
        count++;
    }
  return count;
}

typedef struct
{
  TestWorker *w;
  const char *event;
  const char *job;
} EventWait;

static gboolean
event_seen (gpointer data)
{
  EventWait *wait = data;

  return count_events (wait->w, wait->event, wait->job) > 0;
}

static void
wait_event (TestWorker *w,
            const char *event,
            const char *job,
            guint       timeout_ms)
{
  EventWait wait = { w, event, job };

  if (!worker_wait_until (event_seen, &wait, timeout_ms))
    g_error ("no “%s” event for %s within %u ms", event, job ? job : "the worker", timeout_ms);
}

static char *
file_sha256 (const char *path)
{
  g_autofree char *data = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) data, len);
}

/* A job item's string attribute, or NULL. */
static const char *
attribute (JsonObject *item,
           const char *name)
{
  const char *value = NULL;

  assay_item_get_string (item, ASSAY_ITEM_FORM_DYNAMODB, name, FALSE, &value, NULL);
  return value;
}

typedef struct
{
  WorkerFixture *f;
  const char *id;
  JsonObject *item;
} ItemWait;

static gboolean
item_is_final (gpointer data)
{
  ItemWait *wait = data;

  g_clear_pointer (&wait->item, json_object_unref);
  wait->item = worker_fixture_get_item (wait->f, ASSAY_TABLE_JOBS, wait->id);
  return g_strcmp0 (attribute (wait->item, "status"), "PROCESSED") == 0 ||
         g_strcmp0 (attribute (wait->item, "status"), "ERROR") == 0;
}

/* Like worker_fixture_wait_final(), for items that are not valid jobs. */
static JsonObject *
wait_final_item (WorkerFixture *f,
                 const char    *id,
                 guint          timeout_ms)
{
  ItemWait wait = { f, id, NULL };

  if (!worker_wait_until (item_is_final, &wait, timeout_ms))
    g_error ("job %s is still %s after %u ms", id, attribute (wait.item, "status"), timeout_ms);
  return wait.item;
}

static GBytes *
random_bytes (gsize size)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (size);
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int (rand);
  return g_bytes_new_take (data, size);
}

/* ------------------------------------------------------------------------------------- */

static void
test_end_to_end (WorkerFixture *f,
                 gconstpointer  data)
{
  TestWorker *w = start_worker (f, NULL);
  g_autofree char *path = worker_fixture_file (f, 300000);
  g_autofree char *sha = file_sha256 (path);
  g_autofree char *id = worker_fixture_submit (f, path, NULL);
  g_autoptr(AssayJob) job = worker_fixture_wait_final (f, id, 20000);
  g_autoptr(JsonObject) envelope = NULL;
  g_autoptr(GList) members = NULL;
  const char *order[] = { "job", "processed", "scan", "validation", "engine" };
  JsonObject *engine;
  guint i = 0;

  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
  g_assert_cmpstr (assay_job_get_processor (job), ==, assay_worker_get_processor_id (w->worker));
  g_assert_cmpuint (assay_job_get_attempts (job), ==, 1);
  g_assert_null (assay_job_get_queue (job));
  g_assert_null (assay_job_get_due (job));
  g_assert_nonnull (assay_job_get_downloaded (job));
  g_assert_nonnull (assay_job_get_result (job));

  /* the result, decrypted with the client's key, holds exactly what the engine said */
  envelope = worker_fixture_open_result (f, job);
  members = json_object_get_members (envelope);
  for (GList *l = members; l != NULL; l = l->next, i++)
    g_assert_cmpstr (l->data, ==, order[i]);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (order));
  g_assert_cmpstr (json_object_get_string_member (envelope, "job"), ==, id);
  g_assert_true (assay_time_is_valid (json_object_get_string_member (envelope, "processed")));
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (envelope, "scan")), ==, 0);
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (envelope, "validation")),
                    ==, 0);
  engine = json_object_get_object_member (envelope, "engine");
  g_assert_cmpuint (json_object_get_size (engine), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (engine, "engine"), ==, "test");
  g_assert_cmpint (json_object_get_int_member (engine, "size"), ==, 300000);
  g_assert_cmpstr (json_object_get_string_member (engine, "sha256"), ==, sha);

  /* once, with every event; nothing left behind but the run's own two files */
  g_assert_cmpuint (worker_fixture_engine_runs (f, id), ==, 1);
  g_assert_cmpuint (worker_fixture_count_objects (f, assay_job_get_file (job)), ==, 0);
  g_assert_cmpuint (worker_fixture_count_results (f), ==, 1);
  wait_event (w, "processed", id, 5000);
  for (i = 0; i < 4; i++)
    g_assert_cmpuint (count_events (w, (const char *[]) { "claimed", "downloaded", "stage",
                                                          "processed" }[i], id), ==, 1);
  g_assert_cmpuint (worker_count_files (assay_worker_get_dir (w->worker)), ==, 2);
  stop_worker (w, 0);
  g_assert_cmpuint (worker_count_files (f->work_dir), ==, 0);
}

/* The worker claims while the client is still uploading and decodes as chunks arrive. */
static void
test_streams_while_uploading (WorkerFixture *f,
                              gconstpointer  data)
{
  TestWorker *w = start_worker (f, NULL);
  g_autoptr(GBytes) content = random_bytes (512 * 1024);
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, content);
  WorkerSlowClient *client = worker_slow_client_start (f, content, 64 * 1024, 150);
  g_autofree char *id = g_strdup (worker_slow_client_get_id (client));
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonObject) envelope = NULL;

  job = worker_fixture_wait_final (f, id, 20000);
  g_assert_true (worker_slow_client_is_done (client));
  worker_slow_client_free (client);

  g_assert_cmpstr (assay_job_get_error_message (job), ==, NULL);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
  g_assert_cmpuint (assay_job_get_chunks (job), >=, 8);
  /* claimed soon after the job appeared, long before its upload ended */
  g_assert_cmpstr (assay_job_get_assigned (job), <, assay_job_get_uploaded (job));
  envelope = worker_fixture_open_result (f, job);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (envelope,
                                                                                 "engine"),
                                                  "sha256"),
                   ==, sha);
  g_assert_cmpuint (worker_fixture_engine_runs (f, id), ==, 1);
  g_assert_cmpuint (worker_fixture_count_objects (f, assay_job_get_file (job)), ==, 0);
  stop_worker (w, 0);
}

/* Three workers (each with its own store object, as three processes would have), 50
 * jobs: each is processed exactly once, and nothing is left anywhere. */
static void
test_three_workers (WorkerFixture *f,
                    gconstpointer  data)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  AssayStore *stores[3];
  TestWorker *workers[3];

  for (guint i = 0; i < 3; i++)
    {
      WorkerOptions options = { .concurrency = 2 };

      stores[i] = ASSAY_STORE (assay_local_store_new (f->store_dir));
      options.store = stores[i];
      workers[i] = start_worker (f, &options);
    }
  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *path = worker_fixture_file (f, 1000 + i * 997);

      g_ptr_array_add (ids, worker_fixture_submit (f, path, NULL));
    }
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(AssayJob) job = worker_fixture_wait_final (f, ids->pdata[i], 30000);

      g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
      g_assert_cmpuint (assay_job_get_attempts (job), ==, 1);
      g_assert_cmpuint (worker_fixture_engine_runs (f, ids->pdata[i]), ==, 1);
    }
  g_assert_cmpuint (worker_fixture_engine_runs (f, NULL), ==, 50);
  g_assert_cmpuint (worker_fixture_count_results (f), ==, 50);
  g_assert_cmpuint (worker_fixture_count_objects (f, "file-"), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      /* only the run's lock and heartbeat: no downloaded file left */
      g_assert_cmpuint (worker_count_files (assay_worker_get_dir (workers[i]->worker)), ==, 2);
      stop_worker (workers[i], 0);
      worker_finalize_object (stores[i]);
    }
  g_assert_cmpuint (worker_count_files (f->work_dir), ==, 0);
}

/* ------------------------------------------------------------------------------------- */
/* Bad input: each ends in ERROR with its code, and the engine never runs */

static void
expect_failure (WorkerFixture       *f,
                const WorkerCraft   *craft,
                const WorkerOptions *options,
                const char          *code)
{
  g_autofree char *id = worker_fixture_craft (f, craft);
  TestWorker *w = start_worker (f, options);
  g_autoptr(JsonObject) item = wait_final_item (f, id, 30000);
  JsonObject *error = NULL;

  g_assert_cmpstr (attribute (item, "status"), ==, "ERROR");
  g_assert_true (assay_item_get_map (item, ASSAY_ITEM_FORM_DYNAMODB, "error", TRUE, &error, NULL));
  g_assert_cmpstr (attribute (error, "code"), ==, code);
  g_assert_cmpstr (attribute (error, "message"), !=, "");
  g_test_message ("%s: %s", code, attribute (error, "message"));
  g_assert_null (attribute (item, "queue"));
  g_assert_null (attribute (item, "due"));
  g_assert_null (attribute (item, "result"));
  g_assert_cmpstr (attribute (item, "processor"), ==, assay_worker_get_processor_id (w->worker));
  wait_event (w, "failed", id, 5000);
  g_assert_cmpuint (worker_fixture_engine_runs (f, NULL), ==, 0);
  g_assert_cmpuint (worker_fixture_count_results (f), ==, 0);
  g_assert_cmpuint (worker_count_files (assay_worker_get_dir (w->worker)), ==, 2);
  stop_worker (w, 0);
}

static void
change_created (JsonObject *item,
                gpointer    data)
{
  /* a signed field: the signature no longer matches */
  json_object_set_member (item, "created", assay_value_string ("2020-01-01T00:00:00.000Z"));
}

static void
test_bad_tampered (WorkerFixture *f,
                   gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;

  craft.tamper = change_created;
  expect_failure (f, &craft, NULL, "BAD_SIGNATURE");
}

static void
forge_signature (JsonObject *item,
                 gpointer    data)
{
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autoptr(AssayJob) job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, NULL);
  g_autofree char *message = assay_job_dup_signed_message (job);
  g_autofree char *signature = assay_key_sign (other, message, strlen (message), NULL);

  /* the right message, signed by a key that is not the client's */
  json_object_set_member (item, "signature", assay_value_string (signature));
}

static void
test_bad_forged_signature (WorkerFixture *f,
                           gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;

  craft.tamper = forge_signature;
  expect_failure (f, &craft, NULL, "BAD_SIGNATURE");
}

static void
break_id (JsonObject *item,
          gpointer    data)
{
  json_object_set_member (item, "client", assay_value_string ("client-nothex"));
}

static void
test_bad_job (WorkerFixture *f,
              gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;

  craft.tamper = break_id;
  expect_failure (f, &craft, NULL, "BAD_JOB");
}

static void
test_bad_foreign_bucket (WorkerFixture *f,
                         gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;

  craft.bucket = "another-bucket";
  expect_failure (f, &craft, NULL, "FOREIGN_BUCKET");
}

static void
test_bad_chunk_mismatch (WorkerFixture *f,
                         gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  g_autofree char *other = assay_id_new (ASSAY_ID_JOB);

  craft.chunk_owner = other;
  expect_failure (f, &craft, NULL, "CHUNK_MISMATCH");
}

static void
test_bad_corrupt (WorkerFixture *f,
                  gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  g_autoptr(GBytes) content = random_bytes (100000);
  g_autoptr(GPtrArray) chunks = worker_xz_chunks (content, ASSAY_CHUNK_SIZE_DEFAULT);
  gsize len;
  guint8 *bytes = g_bytes_unref_to_data (g_ptr_array_steal_index (chunks, 0), &len);

  bytes[len / 2] ^= 0x55;
  g_ptr_array_add (chunks, g_bytes_new_take (bytes, len));
  craft.chunks = chunks;
  expect_failure (f, &craft, NULL, "CORRUPT_DATA");
}

static void
test_bad_truncated (WorkerFixture *f,
                    gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  g_autoptr(GBytes) content = random_bytes (20000);
  g_autoptr(GPtrArray) chunks = worker_xz_chunks (content, 4096);

  /* the job says UPLOADED with one chunk fewer than the stream has */
  g_ptr_array_remove_index (chunks, chunks->len - 1);
  craft.chunks = chunks;
  expect_failure (f, &craft, NULL, "CORRUPT_DATA");
}

/* A GInputStream of @size zero bytes, made as they are read. */
typedef struct
{
  GInputStream parent_instance;
  guint64 left;
} ZeroStream;

typedef GInputStreamClass ZeroStreamClass;

GType zero_stream_get_type (void);
G_DEFINE_TYPE (ZeroStream, zero_stream, G_TYPE_INPUT_STREAM)

static gssize
zero_stream_read (GInputStream  *stream,
                  void          *buffer,
                  gsize          count,
                  GCancellable  *cancellable,
                  GError       **error)
{
  ZeroStream *self = (ZeroStream *) stream;
  gsize n = (gsize) MIN ((guint64) count, self->left);

  memset (buffer, 0, n);
  self->left -= n;
  return (gssize) n;
}

static void
zero_stream_class_init (ZeroStreamClass *klass)
{
  klass->read_fn = zero_stream_read;
}

static void
zero_stream_init (ZeroStream *self)
{
}

static void
test_bad_bomb (WorkerFixture *f,
               gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  WorkerOptions options = { .max_file_size = 16 << 20 };
  ZeroStream *zeros = g_object_new (zero_stream_get_type (), NULL);
  g_autoptr(AssayChunkEncoder) encoder = NULL;
  g_autoptr(GPtrArray) chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GError) error = NULL;
  GBytes *chunk;
  gsize compressed = 0;

  /* 1 GiB of zeros at preset 0: a small stream that expands far past the limit */
  zeros->left = G_GUINT64_CONSTANT (1) << 30;
  encoder = assay_chunk_encoder_new (G_INPUT_STREAM (zeros), 0, 0, ASSAY_CHUNK_SIZE_DEFAULT);
  g_object_unref (zeros);
  while ((chunk = assay_chunk_encoder_next (encoder, NULL, &error)) != NULL)
    {
      compressed += g_bytes_get_size (chunk);
      g_ptr_array_add (chunks, chunk);
    }
  g_assert_no_error (error);
  g_test_message ("1 GiB of zeros is %" G_GSIZE_FORMAT " bytes of xz in %u chunks", compressed,
                  chunks->len);
  g_assert_cmpuint (compressed, <, 16 << 20);
  craft.chunks = chunks;
  expect_failure (f, &craft, &options, "TOO_LARGE");
}

static void
test_bad_too_many_chunks (WorkerFixture *f,
                          gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  WorkerOptions options = { .max_chunks = 3 };
  g_autoptr(GBytes) content = random_bytes (20000);
  g_autoptr(GPtrArray) chunks = worker_xz_chunks (content, 4096);

  craft.chunks = chunks;
  expect_failure (f, &craft, &options, "TOO_LARGE");
}

static void
test_bad_chunks_gone (WorkerFixture *f,
                      gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  g_autoptr(GBytes) content = random_bytes (20000);
  g_autoptr(GPtrArray) chunks = worker_xz_chunks (content, 4096);

  craft.chunks = chunks;
  craft.missing_chunk = 2;
  expect_failure (f, &craft, NULL, "CHUNKS_GONE");
}

static void
test_bad_stalled (WorkerFixture *f,
                  gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  WorkerOptions options = { .stall_timeout_ms = 600 };
  g_autoptr(GBytes) content = random_bytes (20000);
  g_autoptr(GPtrArray) chunks = worker_xz_chunks (content, 4096);

  /* one chunk of five, and the client never sends another */
  craft.chunks = chunks;
  craft.status = "UPLOADING";
  craft.chunks_count = 1;
  expect_failure (f, &craft, &options, "UPLOAD_STALLED");
}

static void
expired_lease (JsonObject *item,
               gpointer    data)
{
  g_autofree char *processor = assay_id_new (ASSAY_ID_PROCESSOR);

  /* claimed three times already, and the last holder's lease ran out */
  json_object_set_member (item, "processor", assay_value_string (processor));
  json_object_set_member (item, "attempts", assay_value_number (3));
  json_object_set_member (item, "queue", assay_value_string ("leased"));
  json_object_set_member (item, "lease", assay_value_string ("2024-01-01T00:00:00.000Z"));
  json_object_set_member (item, "due", assay_value_string ("2024-01-01T00:00:00.000Z"));
}

static void
test_bad_too_many_attempts (WorkerFixture *f,
                            gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;

  craft.tamper = expired_lease;
  expect_failure (f, &craft, NULL, "TOO_MANY_ATTEMPTS");
}

/* A job of a version outside the range stays as it is, for another processor. */
static void
test_unaccepted_version (WorkerFixture *f,
                         gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  g_autofree char *id = NULL;
  g_autofree char *good = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(AssayJob) done = NULL;
  TestWorker *w;

  craft.version = "99.0.0";
  id = worker_fixture_craft (f, &craft);
  w = start_worker (f, NULL);
  wait_event (w, "left", id, 5000);

  /* later work is still found, past the job left at the head of the queue */
  good = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  done = worker_fixture_wait_final (f, good, 10000);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (done)), ==, "PROCESSED");
  worker_sleep (1000);

  job = worker_fixture_get_job (f, id);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "UPLOADED");
  g_assert_null (assay_job_get_processor (job));
  g_assert_null (assay_job_get_assigned (job));
  g_assert_cmpuint (assay_job_get_attempts (job), ==, 0);
  g_assert_cmpstr (assay_job_get_queue (job), ==, "open");
  g_assert_cmpuint (worker_fixture_count_objects (f, assay_job_get_file (job)), ==, 1);
  /* judged once, then remembered */
  g_assert_cmpuint (count_events (w, "left", id), ==, 1);
  g_assert_cmpuint (worker_fixture_engine_runs (f, id), ==, 0);
  stop_worker (w, 0);
}

/* ------------------------------------------------------------------------------------- */
/* Engines that fail                                                                     */

static void
expect_engine_failure (WorkerFixture       *f,
                       const WorkerOptions *options,
                       const char          *reason)
{
  g_autofree char *id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  TestWorker *w = start_worker (f, options);
  g_autoptr(AssayJob) job = worker_fixture_wait_final (f, id, 20000);

  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "ERROR");
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "ENGINE_FAILED");
  g_test_message ("ENGINE_FAILED: %s", assay_job_get_error_message (job));
  g_assert_nonnull (strstr (assay_job_get_error_message (job), reason));
  g_assert_null (assay_job_get_result (job));
  g_assert_cmpuint (worker_fixture_count_results (f), ==, 0);
  g_assert_cmpuint (worker_fixture_count_objects (f, assay_job_get_file (job)), ==, 0);
  wait_event (w, "failed", id, 5000);
  g_assert_cmpuint (worker_count_files (assay_worker_get_dir (w->worker)), ==, 2);
  stop_worker (w, 0);
}

static void
test_engine_crash (WorkerFixture *f,
                   gconstpointer  data)
{
  WorkerOptions options = { .engine = "kill -SEGV $$\n" };

  expect_engine_failure (f, &options, "killed by signal 11");
}

static gboolean
process_gone (gpointer data)
{
  g_autofree char *stat = g_strdup_printf ("/proc/%d/stat", GPOINTER_TO_INT (data));
  g_autofree char *text = NULL;

  /* gone, or a zombie waiting for init */
  return !g_file_get_contents (stat, &text, NULL, NULL) || strstr (text, ") Z ") != NULL;
}

static void
test_engine_hang (WorkerFixture *f,
                  gconstpointer  data)
{
  WorkerOptions options = {
    .engine = "sleep 60 &\necho $! > '@DIR@/child.pid'\nwait\n",
    .engine_timeout_ms = 700,
  };
  g_autofree char *pid_path = g_build_filename (f->dir, "child.pid", NULL);
  g_autofree char *text = NULL;
  int pid;

  expect_engine_failure (f, &options, "timed out");
  /* the program's own child went with it: the whole group was killed */
  g_assert_true (g_file_get_contents (pid_path, &text, NULL, NULL));
  pid = atoi (text);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (worker_wait_until (process_gone, GINT_TO_POINTER (pid), 5000));
}

static void
test_engine_not_json (WorkerFixture *f,
                      gconstpointer  data)
{
  WorkerOptions options = { .engine = "echo 'this is not JSON'\n" };

  expect_engine_failure (f, &options, "not a JSON object");
}

static void
test_engine_exit_status (WorkerFixture *f,
                         gconstpointer  data)
{
  WorkerOptions options = { .engine = "echo '{}'\necho 'something went wrong' >&2\nexit 3\n" };

  expect_engine_failure (f, &options, "exited with status 3");
}

static void
test_engine_too_much (WorkerFixture *f,
                      gconstpointer  data)
{
  WorkerOptions options = {
    .engine = "printf '{\"a\":\"'\nhead -c 3000000 /dev/zero | tr '\\0' a\nprintf '\"}'\n",
    .engine_max_output = 1 << 20,
  };

  expect_engine_failure (f, &options, "more than 1048576 bytes");
}

/* Not JSON for every reader, though json-glib's lenient parser takes each of these: a
 * second value after the object, single quotes, a leading zero, a name given twice. */
static void
test_engine_not_strict_json (WorkerFixture *f,
                             gconstpointer  data)
{
  static const struct
  {
    const char *body;
    const char *reason;
  } cases[] = {
    { "printf '{\"a\":1}{}'\n", "something after the object at byte 7" },
    { "printf \"{'a':1}\"\n", "expected a member name at byte 1" },
    { "printf '{\"a\":01}'\n", "expected “,” or “}” at byte 6" },
    { "printf '{\"a\":1,\"\\\\u0061\":2}'\n", "a member name that the object already has" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      WorkerOptions options = { .engine = cases[i].body };

      expect_engine_failure (f, &options, cases[i].reason);
    }
}

/* The engine's JSON reaches the client as the engine printed it: json-glib would print
 * 0.1 as 0.10000000000000001 and 4.469 as 4.4690000000000003, turn 1.0 into 1, and drop
 * the escapes and spaces; only the white space around the object goes. */
static void
test_engine_output_verbatim (WorkerFixture *f,
                             gconstpointer  data)
{
  static const char answer[] =
    "{\"ratio\":0.1, \"entropy\":4.469,\"list\":[1.0, -0.0, 2.50e-3, 12345678901234567890],"
    "\"text\":\"caf\\u00e9 \\/ \\ud83d\\ude00\",\n \"nested\":{\"x\":null,\"y\":[true,false]}}";
  g_autofree char *answer_path = g_build_filename (f->dir, "answer.json", NULL);
  g_autofree char *padded = g_strconcat ("\n \t", answer, " \r\n\n", NULL);
  WorkerOptions options = { .engine = "cat '@DIR@/answer.json'\n" };
  g_autofree char *id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  g_autoptr(JsonObject) envelope = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;
  TestWorker *w;

  g_file_set_contents (answer_path, padded, -1, &error);
  g_assert_no_error (error);
  w = start_worker (f, &options);
  job = worker_fixture_wait_final (f, id, 20000);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");

  plaintext = worker_fixture_open_result_text (f, job);
  envelope = worker_fixture_open_result (f, job);
  expected = g_strdup_printf ("{\"job\":\"%s\",\"processed\":\"%s\",\"scan\":{},\"validation\":{},"
                              "\"engine\":%s}",
                              id, json_object_get_string_member (envelope, "processed"), answer);
  g_assert_cmpmem (g_bytes_get_data (plaintext, NULL), g_bytes_get_size (plaintext), expected,
                   strlen (expected));
  stop_worker (w, 0);
}

/* An engine answer too large for the item: the result goes to results/<id>. */
static void
test_large_result (WorkerFixture *f,
                   gconstpointer  data)
{
  WorkerOptions options = {
    .engine = "printf '{\"blob\":\"'\nhead -c 600000 /dev/zero | tr '\\0' a\nprintf '\"}'\n",
  };
  g_autofree char *id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  TestWorker *w = start_worker (f, &options);
  g_autoptr(AssayJob) job = worker_fixture_wait_final (f, id, 20000);
  g_autoptr(JsonObject) envelope = NULL;
  g_autoptr(JsonObject) item = NULL;

  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
  item = worker_fixture_get_item (f, ASSAY_TABLE_RESULTS, assay_job_get_result (job));
  g_assert_false (json_object_has_member (item, "payload"));
  g_assert_true (json_object_has_member (item, "payload_object"));
  g_assert_cmpuint (worker_fixture_count_objects (f, "results/"), ==, 1);
  envelope = worker_fixture_open_result (f, job);
  g_assert_cmpuint (strlen (json_object_get_string_member (
                      json_object_get_object_member (envelope, "engine"), "blob")),
                    ==, 600000);
  stop_worker (w, 0);
}

/* ------------------------------------------------------------------------------------- */
/* The http engine                                                                       */

static void
analyse_cb (SoupServer        *server,
            SoupServerMessage *message,
            const char        *path,
            GHashTable        *query,
            gpointer           data)
{
  SoupMessageBody *body = soup_server_message_get_request_body (message);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (message);
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  g_autofree char *answer = NULL;

  if (g_str_equal (path, "/fail"))
    {
      soup_server_message_set_status (message, 503, NULL);
      return;
    }
  answer = g_strdup_printf ("{\"engine\":\"http\",\"size\":%" G_GSIZE_FORMAT ",\"sha256\":\"%s\","
                            "\"type\":\"%s\",\"job\":\"%s\"}",
                            g_bytes_get_size (bytes), sha,
                            soup_message_headers_get_content_type (headers, NULL),
                            soup_message_headers_get_one (headers, "X-Assay-Job"));
  soup_server_message_set_status (message, 200, NULL);
  soup_server_message_set_response (message, "application/json", SOUP_MEMORY_COPY, answer,
                                    strlen (answer));
}

static void
test_engine_http (WorkerFixture *f,
                  gconstpointer  data)
{
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(AssayEngine) engine = NULL;
  g_autoptr(AssayEngine) failing = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) content = random_bytes (200000);
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, content);
  g_autofree char *id = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *url = NULL;
  g_autofree char *fail_url = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(AssayJob) failed = NULL;
  g_autoptr(JsonObject) envelope = NULL;
  GSList *uris;
  JsonObject *answer;
  WorkerOptions options = { 0 };
  WorkerCraft craft = WORKER_CRAFT_INIT;
  TestWorker *w;

  soup_server_add_handler (server, NULL, analyse_cb, NULL, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("http://127.0.0.1:%d/analyse", g_uri_get_port (uris->data));
  fail_url = g_strdup_printf ("http://127.0.0.1:%d/fail", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  engine = assay_engine_new_http (session, url, &error);
  g_assert_no_error (error);
  options.stage = ASSAY_STAGE (engine);
  craft.content = content;
  id = worker_fixture_craft (f, &craft);
  w = start_worker (f, &options);
  job = worker_fixture_wait_final (f, id, 20000);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
  envelope = worker_fixture_open_result (f, job);
  answer = json_object_get_object_member (envelope, "engine");
  g_assert_cmpint (json_object_get_int_member (answer, "size"), ==, 200000);
  g_assert_cmpstr (json_object_get_string_member (answer, "sha256"), ==, sha);
  g_assert_cmpstr (json_object_get_string_member (answer, "type"), ==, "application/octet-stream");
  g_assert_cmpstr (json_object_get_string_member (answer, "job"), ==, id);
  stop_worker (w, 0);

  failing = assay_engine_new_http (session, fail_url, &error);
  g_assert_no_error (error);
  options.stage = ASSAY_STAGE (failing);
  bad = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  w = start_worker (f, &options);
  failed = worker_fixture_wait_final (f, bad, 20000);
  g_assert_cmpstr (assay_job_get_error_code (failed), ==, "ENGINE_FAILED");
  g_assert_nonnull (strstr (assay_job_get_error_message (failed), "HTTP status 503"));
  stop_worker (w, 0);

  g_assert_null (assay_engine_new_http (session, "ftp://example.com/", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* An engine out of reach is the worker's trouble, not the job's; but the chunks are gone
 * by then, so the worker tries again itself before it gives up on the job. */
static void
test_engine_unreachable (WorkerFixture *f,
                         gconstpointer  data)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(AssayEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *id = NULL;
  g_autoptr(AssayJob) job = NULL;
  WorkerOptions options = { .lease_ms = 1000 };
  TestWorker *w;

  /* a port that nothing listens on */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u/",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  engine = assay_engine_new_http (session, url, &error);
  g_assert_no_error (error);
  options.stage = ASSAY_STAGE (engine);
  id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  w = start_worker (f, &options);
  job = worker_fixture_wait_final (f, id, 20000);
  g_assert_cmpstr (assay_job_get_error_code (job), ==, "ENGINE_FAILED");
  g_assert_nonnull (strstr (assay_job_get_error_message (job), "3 tries"));
  g_assert_nonnull (strstr (assay_job_get_error_message (job), "cannot reach the engine"));
  g_assert_cmpuint (assay_job_get_attempts (job), ==, 1);
  g_assert_cmpuint (count_events (w, "stage-retry", id), ==, 2);
  /* the event follows the store's write: the job can be final a moment before it */
  wait_event (w, "failed", id, 10000);
  g_assert_cmpuint (count_events (w, "failed", id), ==, 1);
  stop_worker (w, 0);
}

/* ------------------------------------------------------------------------------------- */
/* Stopping, giving back, being fenced out                                               */

typedef struct
{
  WorkerFixture *f;
  const char *id;
  const char *status;
  gboolean claimed;
} JobWait;

static gboolean
job_reached (gpointer data)
{
  JobWait *wait = data;
  g_autoptr(AssayJob) job = worker_fixture_get_job (wait->f, wait->id);

  return (!wait->claimed || assay_job_get_processor (job) != NULL) &&
         (wait->status == NULL ||
          g_str_equal (assay_job_status_to_string (assay_job_get_status (job)), wait->status));
}

static void
wait_job (WorkerFixture *f,
          const char    *id,
          const char    *status,
          gboolean       claimed)
{
  JobWait wait = { f, id, status, claimed };

  if (!worker_wait_until (job_reached, &wait, 20000))
    g_error ("job %s never reached %s", id, status ? status : "a claim");
}

/* SIGTERM's way, in process: the job in flight finishes within the grace period. */
static void
test_stop_finishes (WorkerFixture *f,
                    gconstpointer  data)
{
  WorkerOptions options = { .engine = "sleep 1\necho '{\"slow\":true}'\n" };
  g_autofree char *id = worker_fixture_craft (f, &(WorkerCraft) WORKER_CRAFT_INIT);
  TestWorker *w = start_worker (f, &options);
  g_autoptr(AssayJob) job = NULL;

  wait_job (f, id, "PROCESSING", TRUE);
  stop_worker (w, 20000);
  job = worker_fixture_get_job (f, id);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "PROCESSED");
}

/* Past the grace period a job is given back, and another processor takes it at once
 * (its lease of a minute does not have to run out). */
static void
test_stop_releases (WorkerFixture *f,
                    gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  g_autoptr(GBytes) content = random_bytes (20000);
  g_autoptr(GPtrArray) chunks = worker_xz_chunks (content, 4096);
  g_autofree char *id = NULL;
  g_autofree char *now = NULL;
  g_autofree char *processor = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(AssayJob) done = NULL;
  g_autoptr(AssayUpdate) update = NULL;
  TestWorker *w;

  /* the client has stored two chunks and goes on slowly */
  craft.chunks = chunks;
  craft.missing_chunk = 2;
  craft.status = "UPLOADING";
  craft.chunks_count = 2;
  id = worker_fixture_craft (f, &craft);
  w = start_worker (f, NULL);
  processor = g_strdup (assay_worker_get_processor_id (w->worker));
  wait_job (f, id, "UPLOADING", TRUE);
  worker_sleep (300);
  stop_worker (w, 200);

  now = assay_time_now ();
  job = worker_fixture_get_job (f, id);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (job)), ==, "UPLOADING");
  g_assert_cmpstr (assay_job_get_processor (job), ==, processor);
  g_assert_cmpuint (assay_job_get_attempts (job), ==, 1);
  g_assert_cmpstr (assay_job_get_queue (job), ==, "leased");
  g_assert_cmpstr (assay_job_get_lease (job), <=, now);
  g_assert_cmpstr (assay_job_get_due (job), <=, now);
  g_assert_null (assay_job_get_error_code (job));

  /* the client finishes; the next processor takes the job without waiting */
  for (guint i = 2; i < chunks->len; i++)
    worker_fixture_put_chunk (f, assay_job_get_file (job), i, chunks->pdata[i], id);
  update = assay_update_new ();
  assay_update_set (update, "status", assay_value_string ("UPLOADED"));
  assay_update_set (update, "chunks", assay_value_number (chunks->len));
  worker_fixture_update (f, id, update);
  w = start_worker (f, NULL);
  done = worker_fixture_wait_final (f, id, 5000);
  g_assert_cmpstr (assay_job_status_to_string (assay_job_get_status (done)), ==, "PROCESSED");
  g_assert_cmpstr (assay_job_get_processor (done), ==, assay_worker_get_processor_id (w->worker));
  g_assert_cmpuint (assay_job_get_attempts (done), ==, 2);
  stop_worker (w, 0);
}

/* Another processor claims the job meanwhile (this one's lease ran out): the worker
 * stops its work and drops the job without another write. */
static void
test_fenced_out (WorkerFixture *f,
                 gconstpointer  data)
{
  WorkerCraft craft = WORKER_CRAFT_INIT;
  g_autoptr(GBytes) content = random_bytes (20000);
  g_autoptr(GPtrArray) chunks = worker_xz_chunks (content, 4096);
  g_autofree char *id = NULL;
  g_autofree char *other = assay_id_new (ASSAY_ID_PROCESSOR);
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(AssayUpdate) update = NULL;
  g_autoptr(JsonObject) before = NULL;
  g_autoptr(JsonObject) after = NULL;
  g_autofree char *before_text = NULL;
  g_autofree char *after_text = NULL;
  TestWorker *w;

  craft.chunks = chunks;
  craft.missing_chunk = 2;
  craft.status = "UPLOADING";
  craft.chunks_count = 2;
  id = worker_fixture_craft (f, &craft);
  w = start_worker (f, NULL);
  wait_job (f, id, "UPLOADING", TRUE);

  update = assay_update_new ();
  assay_update_set (update, "processor", assay_value_string (other));
  assay_update_add (update, "attempts", 1);
  worker_fixture_update (f, id, update);
  before = worker_fixture_get_item (f, ASSAY_TABLE_JOBS, id);
  wait_event (w, "lost", id, 10000);
  worker_sleep (500);

  after = worker_fixture_get_item (f, ASSAY_TABLE_JOBS, id);
  before_text = assay_item_to_string (before, FALSE);
  after_text = assay_item_to_string (after, FALSE);
  g_assert_cmpstr (before_text, ==, after_text);
  job = worker_fixture_get_job (f, id);
  g_assert_cmpstr (assay_job_get_processor (job), ==, other);
  g_assert_cmpuint (worker_count_files (assay_worker_get_dir (w->worker)), ==, 2);
  stop_worker (w, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add ("/worker/" path, WorkerFixture, NULL, worker_fixture_set_up, fn, \
              worker_fixture_tear_down)
  ADD ("end-to-end", test_end_to_end);
  ADD ("streams-while-uploading", test_streams_while_uploading);
  ADD ("three-workers-fifty-jobs", test_three_workers);
  ADD ("bad/tampered-field", test_bad_tampered);
  ADD ("bad/forged-signature", test_bad_forged_signature);
  ADD ("bad/malformed", test_bad_job);
  ADD ("bad/foreign-bucket", test_bad_foreign_bucket);
  ADD ("bad/chunk-mismatch", test_bad_chunk_mismatch);
  ADD ("bad/corrupt-chunk", test_bad_corrupt);
  ADD ("bad/truncated", test_bad_truncated);
  ADD ("bad/bomb", test_bad_bomb);
  ADD ("bad/too-many-chunks", test_bad_too_many_chunks);
  ADD ("bad/chunks-gone", test_bad_chunks_gone);
  ADD ("bad/upload-stalled", test_bad_stalled);
  ADD ("bad/too-many-attempts", test_bad_too_many_attempts);
  ADD ("unaccepted-version", test_unaccepted_version);
  ADD ("engine/crash", test_engine_crash);
  ADD ("engine/hang", test_engine_hang);
  ADD ("engine/not-json", test_engine_not_json);
  ADD ("engine/exit-status", test_engine_exit_status);
  ADD ("engine/too-much-output", test_engine_too_much);
  ADD ("engine/not-strict-json", test_engine_not_strict_json);
  ADD ("engine/output-verbatim", test_engine_output_verbatim);
  ADD ("engine/http", test_engine_http);
  ADD ("engine/unreachable", test_engine_unreachable);
  ADD ("large-result", test_large_result);
  ADD ("stop/finishes", test_stop_finishes);
  ADD ("stop/releases", test_stop_releases);
  ADD ("fenced-out", test_fenced_out);
#undef ADD

  return g_test_run ();
}
