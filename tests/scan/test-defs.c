/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The virus definitions cache on a local store: publish, the manifest, download with
 * verification, refusal of a corrupt manifest or a file that does not match it, and the
 * refresher that loads new sets into a scan stage. */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "scan-test-defs.h"
#include "assay-defs.h"
#include "assay-failure.h"
#include "assay-local-store.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  char *dir;
  char *defs;
  AssayStore *store;
} Fixture;

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

static void
set_up (Fixture       *f,
        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *store_dir = NULL;

  f->dir = g_dir_make_tmp ("assay-defs-test-XXXXXX", &error);
  g_assert_no_error (error);
  f->defs = g_build_filename (f->dir, "defs", NULL);
  scan_test_write_defs (f->defs);
  /* not a definitions file: left out */
  g_free (scan_test_write_file (f->defs, "freshclam.dat", "state", -1));
  store_dir = g_build_filename (f->dir, "store", NULL);
  f->store = ASSAY_STORE (assay_local_store_new (store_dir));
  assay_store_init_async (f->store, NULL, result_cb, &result);
  wait_for (&result);
  assay_store_init_finish (f->store, result, &error);
  g_assert_no_error (error);
}

static void
tear_down (Fixture       *f,
           gconstpointer  data)
{
  gpointer weak = f->store;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  /* a store's thread may hold its last task for a moment */
  g_object_add_weak_pointer (G_OBJECT (f->store), &weak);
  g_object_unref (f->store);
  while (weak != NULL && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  g_assert_null (weak);
  scan_test_remove_tree (f->dir);
  g_free (f->defs);
  g_free (f->dir);
}

static AssayDefsManifest *
publish (Fixture     *f,
         const char  *dir,
         GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_defs_publish_async (f->store, dir, NULL, result_cb, &result);
  wait_for (&result);
  return assay_defs_publish_finish (f->store, result, error);
}

static AssayDefsManifest *
fetch (Fixture  *f,
       GError  **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_defs_fetch_manifest_async (f->store, NULL, result_cb, &result);
  wait_for (&result);
  return assay_defs_fetch_manifest_finish (f->store, result, error);
}

static gboolean
download (Fixture            *f,
          AssayDefsManifest  *manifest,
          const char         *dir,
          GError            **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_defs_download_async (f->store, manifest, dir, NULL, result_cb, &result);
  wait_for (&result);
  return assay_defs_download_finish (f->store, result, error);
}

static void
put (Fixture    *f,
     const char *key,
     const char *text)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;

  assay_store_put_object_async (f->store, key, bytes, NULL, NULL, NULL, NULL, result_cb, &result);
  wait_for (&result);
  etag = assay_store_put_object_finish (f->store, result, &error);
  g_assert_no_error (error);
}

static GBytes *
get (Fixture    *f,
     const char *key)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  assay_store_get_object_async (f->store, key, output, NULL, NULL, NULL, result_cb, &result);
  wait_for (&result);
  info = assay_store_get_object_finish (f->store, result, &error);
  g_assert_no_error (error);
  g_output_stream_close (output, NULL, NULL);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
}

/* Keys under @prefix. */
static GPtrArray *
list (Fixture    *f,
      const char *prefix)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(AssayObjectList) page = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);

  assay_store_list_objects_async (f->store, prefix, NULL, 1000, NULL, result_cb, &result);
  wait_for (&result);
  page = assay_store_list_objects_finish (f->store, result, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < page->objects->len; i++)
    g_ptr_array_add (keys, g_strdup (((AssayObjectInfo *) page->objects->pdata[i])->key));
  return keys;
}

static void
test_publish (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayDefsManifest) published = publish (f, f->defs, &error);
  g_autoptr(AssayDefsManifest) fetched = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GBytes) ndb = NULL;
  g_autofree char *local_ndb = NULL;
  g_autofree char *local_sha = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *got = NULL;
  gsize len;
  AssayDefsFile *file;

  g_assert_no_error (error);
  /* no .cvd: the version is the time stamp */
  g_assert_true (g_str_has_prefix (published->set, published->version));
  g_assert_cmpuint (published->files->len, ==, 2);
  fetched = fetch (f, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fetched->version, ==, published->version);
  g_assert_cmpstr (fetched->published, ==, published->published);
  g_assert_cmpstr (fetched->digest, ==, published->digest);
  g_assert_cmpuint (fetched->files->len, ==, 2);
  file = g_ptr_array_index (fetched->files, 1);
  g_assert_cmpstr (file->name, ==, "assay-test.ndb");
  got = g_strdup_printf ("defs/%s/assay-test.ndb", fetched->set);
  g_assert_cmpstr (file->key, ==, got);

  /* the stored bytes are the file's, and the manifest has their size and SHA-256 */
  local_ndb = g_build_filename (f->defs, "assay-test.ndb", NULL);
  g_assert_true (g_file_get_contents (local_ndb, &contents, &len, NULL));
  ndb = get (f, file->key);
  g_assert_cmpuint (g_bytes_get_size (ndb), ==, len);
  g_assert_cmpuint (file->size, ==, len);
  local_sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, ndb);
  g_assert_cmpstr (file->sha256, ==, local_sha);

  /* the files and the manifest, nothing else (freshclam.dat left out) */
  keys = list (f, "defs/");
  g_assert_cmpuint (keys->len, ==, 3);
}

/* A .cvd's header gives the set's version: the highest. */
static void
test_publish_cvd_version (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (f->dir, "cvd", NULL);
  g_autoptr(AssayDefsManifest) manifest = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *header = g_strnfill (512, ' ');

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  memcpy (header, "ClamAV-VDB:22 Nov 2026 10-00 +0000:27321:2000:90:x:y:z:1", 57);
  g_free (scan_test_write_file (dir, "daily.cvd", header, 512));
  memcpy (header, "ClamAV-VDB:16 Sep 2021 08-32 -0400:62:6647427:90:x:y:z:1", 57);
  g_free (scan_test_write_file (dir, "main.cvd", header, 512));
  manifest = publish (f, dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (manifest->version, ==, "27321");
}

static void
test_publish_empty (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (f->dir, "nothing", NULL);
  g_autoptr(AssayDefsManifest) manifest = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_free (scan_test_write_file (dir, "README", "no definitions", -1));
  manifest = publish (f, dir, &error);
  g_assert_null (manifest);
  g_assert_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_EMPTY);
  g_clear_error (&error);
  manifest = fetch (f, &error);
  g_assert_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_NONE);
  g_assert_nonnull (strstr (error->message, "assay-worker defs publish"));
}

/* Each publish is a new set; the one it replaced stays (a worker may be reading it), the
 * ones before are deleted. */
static void
test_publish_keeps_previous (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(AssayDefsManifest) first = NULL, second = NULL, third = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GError) error = NULL;

  first = publish (f, f->defs, &error);
  g_assert_no_error (error);
  second = publish (f, f->defs, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first->set, !=, second->set);
  third = publish (f, f->defs, &error);
  g_assert_no_error (error);
  keys = list (f, "defs/");
  g_assert_cmpuint (keys->len, ==, 5);
  for (guint i = 0; i < keys->len; i++)
    g_assert_false (strstr (keys->pdata[i], first->set));
}

static void
test_download_verified (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayDefsManifest) manifest = publish (f, f->defs, &error);
  g_autofree char *into = g_build_filename (f->dir, "into", NULL);
  g_autofree char *copy = g_build_filename (into, "assay-test.hdb", NULL);
  g_autofree char *original = g_build_filename (f->defs, "assay-test.hdb", NULL);
  g_autofree char *a = NULL, *b = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (into, 0700), ==, 0);
  g_assert_true (download (f, manifest, into, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (copy, &a, NULL, NULL));
  g_assert_true (g_file_get_contents (original, &b, NULL, NULL));
  g_assert_cmpstr (a, ==, b);
}

/* A file changed in the store after the manifest: refused with a clear error. */
static void
test_download_mismatch (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayDefsManifest) manifest = publish (f, f->defs, &error);
  g_autofree char *into = g_build_filename (f->dir, "into", NULL);
  AssayDefsFile *file;

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (into, 0700), ==, 0);
  file = g_ptr_array_index (manifest->files, 1);
  put (f, file->key, "Evil.Sig:0:*:41414141\n");
  g_assert_false (download (f, manifest, into, &error));
  g_assert_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_CORRUPT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "does not match the manifest"));
  g_assert_nonnull (strstr (error->message, file->key));
}

static void
test_manifest_corrupt (Fixture       *f,
                       gconstpointer  data)
{
  static const char *cases[] = {
    "not json",
    "[]",
    "{\"format\":\"other\"}",
    "{\"format\":\"assay-defs\",\"version\":\"1\",\"published\":\"x\",\"set\":\"s\",\"files\":[]}",
    /* a name that would write outside the directory */
    "{\"format\":\"assay-defs\",\"version\":\"1\",\"published\":\"x\",\"set\":\"s\",\"files\":"
    "[{\"name\":\"../evil.ndb\",\"key\":\"defs/s/../evil.ndb\",\"size\":1,\"sha256\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
    /* not a definitions file */
    "{\"format\":\"assay-defs\",\"version\":\"1\",\"published\":\"x\",\"set\":\"s\",\"files\":"
    "[{\"name\":\"run.sh\",\"key\":\"defs/s/run.sh\",\"size\":1,\"sha256\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
    /* a key outside the set */
    "{\"format\":\"assay-defs\",\"version\":\"1\",\"published\":\"x\",\"set\":\"s\",\"files\":"
    "[{\"name\":\"a.ndb\",\"key\":\"chunks/a.ndb\",\"size\":1,\"sha256\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
    /* a short hash */
    "{\"format\":\"assay-defs\",\"version\":\"1\",\"published\":\"x\",\"set\":\"s\",\"files\":"
    "[{\"name\":\"a.ndb\",\"key\":\"defs/s/a.ndb\",\"size\":1,\"sha256\":\"00\"}]}",
    /* a size that is not a number */
    "{\"format\":\"assay-defs\",\"version\":\"1\",\"published\":\"x\",\"set\":\"s\",\"files\":"
    "[{\"name\":\"a.ndb\",\"key\":\"defs/s/a.ndb\",\"size\":\"1\",\"sha256\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayDefsManifest) manifest = NULL;

      put (f, ASSAY_DEFS_MANIFEST_KEY, cases[i]);
      manifest = fetch (f, &error);
      g_assert_null (manifest);
      g_assert_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_CORRUPT);
      g_assert_nonnull (strstr (error->message, "is corrupt"));
    }
}

static gboolean
check (AssayDefsRefresher  *refresher,
       gboolean            *out_loaded,
       GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_defs_refresher_check_async (refresher, NULL, result_cb, &result);
  wait_for (&result);
  return assay_defs_refresher_check_finish (refresher, result, out_loaded, error);
}

static void
event_cb (AssayDefsRefresher *refresher,
          JsonObject         *line,
          gpointer            data)
{
  g_ptr_array_add (data, g_strdup (json_object_get_string_member (line, "event")));
}

/* The refresher loads the published set, does nothing while it is unchanged, loads a new
 * one, and keeps the engine in use when the new one does not verify. */
static void
test_refresher (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(AssayScanStage) stage = assay_scan_stage_new (NULL);
  g_autoptr(AssayDefsRefresher) refresher = assay_defs_refresher_new (f->store, stage, 1000);
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(AssayDefsManifest) first = NULL, second = NULL, third = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *newer = g_build_filename (f->dir, "newer", NULL);
  g_autofree char *threat = scan_test_write_file (f->dir, "threat.txt", "new threat here\n", -1);
  g_autofree char *version = NULL;
  g_autoptr(GBytes) output = NULL;
  gboolean loaded = FALSE;

  g_signal_connect (refresher, "event", G_CALLBACK (event_cb), events);
  /* nothing published yet */
  g_assert_false (check (refresher, &loaded, &error));
  g_assert_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_NONE);
  g_clear_error (&error);

  first = publish (f, f->defs, &error);
  g_assert_no_error (error);
  g_assert_true (check (refresher, &loaded, &error));
  g_assert_no_error (error);
  g_assert_true (loaded);
  g_assert_cmpstr (assay_defs_refresher_get_version (refresher), ==, first->version);
  g_assert_cmpuint (assay_scan_stage_get_signatures (stage), ==, 2);
  g_assert_true (check (refresher, &loaded, &error));
  g_assert_false (loaded);
  g_assert_cmpuint (assay_scan_stage_get_loads (stage), ==, 1);

  /* a new set with a new signature */
  scan_test_write_defs (newer);
  scan_test_write_ndb (newer, "assay-new.ndb", "Assay.Test.New", "new threat");
  second = publish (f, newer, &error);
  g_assert_no_error (error);
  g_assert_true (check (refresher, &loaded, &error));
  g_assert_true (loaded);
  g_assert_cmpuint (assay_scan_stage_get_signatures (stage), ==, 3);
  output = assay_scan_stage_scan (stage, threat, NULL, &error);
  g_assert_error (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED);
  g_clear_error (&error);

  /* a third set whose file was altered after publishing: refused, the second stays */
  third = publish (f, f->defs, &error);
  g_assert_no_error (error);
  put (f, ((AssayDefsFile *) third->files->pdata[0])->key, "tampered\n");
  g_assert_false (check (refresher, &loaded, &error));
  g_assert_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_cmpstr (assay_defs_refresher_get_version (refresher), ==, second->version);
  version = assay_scan_stage_dup_version (stage);
  g_assert_cmpstr (version, ==, second->version);
  g_assert_cmpuint (assay_scan_stage_get_loads (stage), ==, 2);
  output = assay_scan_stage_scan (stage, threat, NULL, &error);
  g_assert_error (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED);
  g_clear_error (&error);

  /* a corrupt manifest: refused too */
  put (f, ASSAY_DEFS_MANIFEST_KEY, "{\"format\":");
  g_assert_false (check (refresher, &loaded, &error));
  g_assert_error (error, ASSAY_DEFS_ERROR, ASSAY_DEFS_ERROR_CORRUPT);
  g_assert_cmpuint (assay_scan_stage_get_loads (stage), ==, 2);

  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (events->pdata[0], ==, "defs-loaded");
  g_assert_finalize_object (g_steal_pointer (&refresher));
  g_assert_finalize_object (g_steal_pointer (&stage));
}

static void
test_file_names (void)
{
  g_assert_true (assay_defs_is_definitions_file ("daily.cvd"));
  g_assert_true (assay_defs_is_definitions_file ("local.ign2"));
  g_assert_true (assay_defs_is_definitions_file ("my.hsb"));
  g_assert_false (assay_defs_is_definitions_file ("freshclam.dat"));
  g_assert_false (assay_defs_is_definitions_file (".hidden.ndb"));
  g_assert_false (assay_defs_is_definitions_file ("a/b.ndb"));
  g_assert_false (assay_defs_is_definitions_file ("ndb"));
  g_assert_false (assay_defs_is_definitions_file (""));
}

static void
test_freshclam_config (void)
{
  g_autofree char *conf = assay_defs_freshclam_config ("https://mirror.example/clamav", "/tmp/x");

  g_assert_nonnull (strstr (conf, "\nPrivateMirror https://mirror.example/clamav\n"));
  g_assert_nonnull (strstr (conf, "\nDatabaseDirectory /tmp/x\n"));
  g_assert_nonnull (strstr (conf, "\nDNSDatabaseInfo no\n"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, set_up, func, tear_down)

  ADD ("/defs/publish", test_publish);
  ADD ("/defs/publish/cvd-version", test_publish_cvd_version);
  ADD ("/defs/publish/empty", test_publish_empty);
  ADD ("/defs/publish/keeps-previous", test_publish_keeps_previous);
  ADD ("/defs/download/verified", test_download_verified);
  ADD ("/defs/download/mismatch", test_download_mismatch);
  ADD ("/defs/manifest/corrupt", test_manifest_corrupt);
  ADD ("/defs/refresher", test_refresher);
  g_test_add_func ("/defs/file-names", test_file_names);
  g_test_add_func ("/defs/freshclam-config", test_freshclam_config);
  return g_test_run ();
}
