/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "assay-job.h"
#include "assay-journal.h"
#include "assay-key.h"
#include "assay-store.h"
#include "assay-submitter.h"

G_BEGIN_DECLS

/* A local store in a temporary directory, a client key, and the helpers that the worker
 * tests share: submitting files, crafting jobs by hand, reading jobs and results back. */
typedef struct
{
  char *dir;
  char *store_dir;
  char *work_dir;
  char *engine_log;  /* the test engines append "<job> <size>" per run */
  AssayStore *store;
  AssayKey *key;
  AssayJournal *journal;
  guint files;
} WorkerFixture;

/* How a crafted job differs from a good one. */
typedef struct
{
  const char *version;      /* NULL: PACKAGE_VERSION */
  const char *bucket;       /* NULL: the store's */
  GBytes *content;          /* the file (NULL: 1000 bytes of text) */
  GPtrArray *chunks;        /* GBytes stored as chunks 0…; NULL: content as one xz chunk */
  const char *chunk_owner;  /* their assay-job metadata; NULL: the job's id */
  guint missing_chunk;      /* a chunk not stored; G_MAXUINT: none */
  const char *status;       /* NULL: UPLOADED */
  guint chunks_count;       /* the job's `chunks`; 0: the number of chunks */
  void (*tamper) (JsonObject *item, gpointer data);
  gpointer tamper_data;
} WorkerCraft;

#define WORKER_CRAFT_INIT { .missing_chunk = G_MAXUINT }

void        worker_fixture_set_up        (WorkerFixture     *f,
                                          gconstpointer      data);
void        worker_fixture_tear_down     (WorkerFixture     *f,
                                          gconstpointer      data);

void        worker_finalize_object       (gpointer           object);
void        worker_wait_for              (GAsyncResult     **result);
void        worker_result_cb             (GObject           *source,
                                          GAsyncResult      *result,
                                          gpointer           data);
gboolean    worker_wait_until            (gboolean         (*done) (gpointer data),
                                          gpointer           data,
                                          guint              timeout_ms);
void        worker_sleep                 (guint              ms);

char       *worker_fixture_engine        (WorkerFixture     *f,
                                          const char        *name,
                                          const char        *body);
char       *worker_fixture_file          (WorkerFixture     *f,
                                          gsize              size);
char       *worker_fixture_submit        (WorkerFixture     *f,
                                          const char        *path,
                                          const AssaySubmitSettings *settings);
char       *worker_fixture_craft         (WorkerFixture     *f,
                                          const WorkerCraft *craft);
GPtrArray  *worker_xz_chunks             (GBytes            *content,
                                          gsize              chunk_size);
void        worker_fixture_put_chunk     (WorkerFixture     *f,
                                          const char        *file,
                                          guint              index,
                                          GBytes            *data,
                                          const char        *owner);
void        worker_fixture_update        (WorkerFixture     *f,
                                          const char        *id,
                                          AssayUpdate       *update);

JsonObject *worker_fixture_get_item      (WorkerFixture     *f,
                                          AssayTable         table,
                                          const char        *id);
AssayJob   *worker_fixture_get_job       (WorkerFixture     *f,
                                          const char        *id);
AssayJob   *worker_fixture_wait_final    (WorkerFixture     *f,
                                          const char        *id,
                                          guint              timeout_ms);
JsonObject *worker_fixture_open_result   (WorkerFixture     *f,
                                          AssayJob          *job);
GBytes     *worker_fixture_open_result_text (WorkerFixture  *f,
                                             AssayJob       *job);
guint       worker_fixture_count_objects (WorkerFixture     *f,
                                          const char        *prefix);
guint       worker_fixture_count_results (WorkerFixture     *f);
guint       worker_fixture_engine_runs   (WorkerFixture     *f,
                                          const char        *job);
guint       worker_count_files           (const char        *dir);

/* A client that uploads one chunk every @interval_ms, then marks the job UPLOADED, as
 * PROTOCOL.md's client rows say; on the main context. */
typedef struct _WorkerSlowClient WorkerSlowClient;

WorkerSlowClient *worker_slow_client_start    (WorkerFixture     *f,
                                               GBytes            *content,
                                               gsize              chunk_size,
                                               guint              interval_ms);
const char       *worker_slow_client_get_id   (WorkerSlowClient  *client);
gboolean          worker_slow_client_is_done  (gpointer           client);
void              worker_slow_client_free     (WorkerSlowClient  *client);

G_END_DECLS
