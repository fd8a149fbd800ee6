/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-scan: the worker's scan stage (one libclamav engine, loaded once and kept) next to
 * `clamscan -d <the same database>`, which loads the database on every call, as the
 * scan-per-upload tools do.
 *
 * Writes a database (an .ndb rule for the EICAR string and an .hdb hash rule, or --db DIR),
 * 200 small files (a mix of text and random bytes; every 50th holds EICAR) and one
 * 256 MiB mixed file (bench-mixed.h), then times:
 *   - loading and compiling the engine once;
 *   - the loaded engine on the small files, one by one, and on the big file;
 *   - clamscan once per small file (the first --calls of them), and once on all of them;
 *   - clamscan on the big file.
 * Same limits on both sides (1 GiB file and scan size, alert on exceeded limits).
 * Figures only, for docs/benchmarks.md.
 *
 *   bench-scan [--files N] [--small-kib K] [--big-mib M] [--calls N] [--db DIR] [--dir DIR]
 *
 * With the tests' tiny database a load takes milliseconds; with the official databases
 * (--db /var/lib/clamav after freshclam) it takes tens of seconds and about 1 GiB, which
 * is what clamscan pays on every call and the worker pays once.
 */
#include "config.h"

#include "bench-mixed.h"

#include "assay-failure.h"
#include "assay-scan.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#define MiB (G_GUINT64_CONSTANT (1) << 20)

static int n_files = 200;
static int small_kib = 16;
static int big_mib = 256;
static int calls = 20;
static char *db_dir = NULL;
static char *work_dir = NULL;

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static char *
eicar (void)
{
  return g_strconcat ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR", "-STANDARD-ANTIVIRUS-TEST-",
                      "FILE!$H+H*", NULL);
}

static void
write_db (const char *dir)
{
  g_autofree char *text = eicar ();
  g_autoptr(GString) ndb = g_string_new ("Assay.Bench.EICAR:0:*:");
  g_autofree char *ndb_path = g_build_filename (dir, "bench.ndb", NULL);
  g_autofree char *hdb_path = g_build_filename (dir, "bench.hdb", NULL);
  const char *hashed = "assay bench hash rule\n";
  g_autofree char *md5 = g_compute_checksum_for_string (G_CHECKSUM_MD5, hashed, -1);
  g_autofree char *hdb = g_strdup_printf ("%s:%zu:Assay.Bench.Hash\n", md5, strlen (hashed));

  for (const char *p = text; *p; p++)
    g_string_append_printf (ndb, "%02x", (guint8) *p);
  g_string_append_c (ndb, '\n');
  g_mkdir_with_parents (dir, 0700);
  if (!g_file_set_contents (ndb_path, ndb->str, -1, NULL) ||
      !g_file_set_contents (hdb_path, hdb, -1, NULL))
    g_error ("cannot write the database in %s", dir);
}

static GPtrArray *
write_small_files (const char *dir)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autofree char *text = eicar ();
  gsize size = (gsize) small_kib * 1024;
  g_autofree guint8 *data = g_malloc (size);

  g_mkdir_with_parents (dir, 0700);
  for (int i = 0; i < n_files; i++)
    {
      char *path = g_strdup_printf ("%s/small-%03d.bin", dir, i);

      for (gsize k = 0; k < size; k++)
        data[k] = i % 2 ? (guint8) g_rand_int (rand) : (guint8) ("abcdefgh ij\n"[k % 12]);
      if (i % 50 == 49)
        memcpy (data + size / 2, text, strlen (text));
      if (!g_file_set_contents (path, (const char *) data, size, NULL))
        g_error ("cannot write %s", path);
      g_ptr_array_add (paths, path);
    }
  return paths;
}

/* Runs clamscan; Returns: seconds of wall clock, its exit status in @out_status (1 when it
 * found something) */
static double
clamscan (const char  *db,
          GPtrArray   *paths,
          guint        first,
          guint        count,
          int         *out_status)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  double started;
  int status = 0;

  g_ptr_array_add (argv, g_strdup ("clamscan"));
  g_ptr_array_add (argv, g_strdup ("--no-summary"));
  g_ptr_array_add (argv, g_strdup ("--infected"));
  g_ptr_array_add (argv, g_strconcat ("--database=", db, NULL));
  g_ptr_array_add (argv, g_strdup ("--max-filesize=1024M"));
  g_ptr_array_add (argv, g_strdup ("--max-scansize=1024M"));
  g_ptr_array_add (argv, g_strdup ("--alert-exceeds-max=yes"));
  for (guint i = first; i < first + count; i++)
    g_ptr_array_add (argv, g_strdup (paths->pdata[i]));
  g_ptr_array_add (argv, NULL);
  started = now_s ();
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error))
    g_error ("cannot run clamscan: %s", error->message);
  *out_status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  return now_s () - started;
}

int
main (int   argc,
      char *argv[])
{
  const GOptionEntry entries[] = {
    { "files", 0, 0, G_OPTION_ARG_INT, &n_files, "Small files (default 200)", "N" },
    { "small-kib", 0, 0, G_OPTION_ARG_INT, &small_kib, "Their size (default 16)", "KiB" },
    { "big-mib", 0, 0, G_OPTION_ARG_INT, &big_mib, "The big file (default 256)", "MiB" },
    { "calls", 0, 0, G_OPTION_ARG_INT, &calls, "clamscan calls, one file each (default 20)",
      "N" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db_dir, "A database directory (default: the "
      "benchmark's own two rules)", "DIR" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &work_dir, "Where the files go (default: a "
      "temporary directory, removed)", "DIR" },
    { NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayScanStage) stage = NULL;
  g_autoptr(GPtrArray) small = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *db = NULL;
  g_autofree char *small_dir = NULL;
  g_autofree char *big = NULL;
  g_autoptr(GPtrArray) big_paths = g_ptr_array_new_with_free_func (g_free);
  AssayScanSettings settings;
  double t, load_s, small_s, big_s, per_call_s, one_call_s, big_clamscan_s;
  guint infected = 0, clamscan_found = 0;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    g_error ("%s", error->message);
  calls = CLAMP (calls, 1, n_files);
  dir = work_dir ? g_strdup (work_dir) : g_dir_make_tmp ("assay-bench-scan-XXXXXX", &error);
  g_assert_no_error (error);
  db = db_dir ? g_strdup (db_dir) : g_build_filename (dir, "db", NULL);
  if (db_dir == NULL)
    write_db (db);
  small_dir = g_build_filename (dir, "small", NULL);
  small = write_small_files (small_dir);
  big = g_build_filename (dir, "big.bin", NULL);
  if (!bench_make_mixed_file (big, (guint64) big_mib * MiB, &error))
    g_error ("%s", error->message);
  g_ptr_array_add (big_paths, g_strdup (big));

  /* the worker's way: one engine, loaded once */
  if (!assay_scan_init (&error))
    g_error ("%s", error->message);
  assay_scan_settings_init (&settings);
  settings.max_file_size = settings.max_scan_size = 1024 * MiB;
  stage = assay_scan_stage_new (&settings);
  t = now_s ();
  if (!assay_scan_stage_load (stage, db, "bench", NULL, &error))
    g_error ("%s", error->message);
  load_s = now_s () - t;

  t = now_s ();
  for (guint i = 0; i < small->len; i++)
    {
      g_autoptr(GBytes) output = assay_scan_stage_scan (stage, small->pdata[i], NULL, &error);

      if (output == NULL)
        {
          if (!g_error_matches (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED))
            g_error ("%s: %s", (char *) small->pdata[i], error->message);
          infected++;
          g_clear_error (&error);
        }
    }
  small_s = now_s () - t;

  t = now_s ();
  {
    g_autoptr(GBytes) output = assay_scan_stage_scan (stage, big, NULL, &error);

    if (output == NULL)
      g_error ("%s: %s", big, error->message);
  }
  big_s = now_s () - t;

  /* clamscan: the database loaded on every call */
  t = 0;
  for (int i = 0; i < calls; i++)
    {
      t += clamscan (db, small, i, 1, &status);
      clamscan_found += status == 1;
    }
  per_call_s = t / calls;
  one_call_s = clamscan (db, small, 0, small->len, &status);
  big_clamscan_s = clamscan (db, big_paths, 0, 1, &status);

  g_print ("database: %s (%u signatures), %s\n", db_dir ? db_dir : "the benchmark's two rules",
           assay_scan_stage_get_signatures (stage), assay_scan_engine_version ());
  g_print ("%d small files of %d KiB (%u with EICAR found by the engine), one %d MiB file\n\n",
           n_files, small_kib, infected, big_mib);
  g_print ("| | small files: total | per file | files/s | %d MiB file | MiB/s |\n", big_mib);
  g_print ("|---|---|---|---|---|---|\n");
  g_print ("| Assay engine load (once) | %.3f s | | | | |\n", load_s);
  g_print ("| Assay loaded engine | %.3f s | %.2f ms | %.0f | %.2f s | %.0f |\n", small_s,
           small_s * 1000 / n_files, n_files / small_s, big_s, big_mib / big_s);
  g_print ("| clamscan, one call per file (mean of %d) | %.1f s (est.) | %.0f ms | %.1f | | |\n",
           calls, per_call_s * n_files, per_call_s * 1000, 1 / per_call_s);
  g_print ("| clamscan, one call for all %d | %.3f s | %.2f ms | %.0f | | |\n", n_files,
           one_call_s, one_call_s * 1000 / n_files, n_files / one_call_s);
  g_print ("| clamscan, the big file | | | | %.2f s | %.0f |\n", big_clamscan_s,
           big_mib / big_clamscan_s);
  g_print ("\n(clamscan found something in %u of its %d one-file calls)\n", clamscan_found, calls);

  if (work_dir == NULL)
    {
      for (guint i = 0; i < small->len; i++)
        g_unlink (small->pdata[i]);
      g_rmdir (small_dir);
      g_unlink (big);
      if (db_dir == NULL)
        {
          g_autofree char *ndb = g_build_filename (db, "bench.ndb", NULL);
          g_autofree char *hdb = g_build_filename (db, "bench.hdb", NULL);

          g_unlink (ndb);
          g_unlink (hdb);
          g_rmdir (db);
        }
      g_rmdir (dir);
    }
  return 0;
}
