/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-local-store: what a worker's poll costs on the local store as jobs pile up. The
 * jobs table holds --done finished jobs (no `queue`: outside the queue-due index, as
 * PROCESSED and ERROR jobs are) and --open open ones; the worker's query (queue = open,
 * due <= now, 25 a page) runs --repeat times. Prints the time per query next to the
 * baseline of reading every item of the table once (what a scan costs).
 *
 *   bench-local-store [--done 20000] [--open 10] [--repeat 20]
 */
#include "config.h"

#include "assay-condition.h"
#include "assay-local-store.h"
#include "assay-time.h"

#include <glib/gstdio.h>

static void
done_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

static void
check (GError     *error,
       const char *what)
{
  if (error != NULL)
    g_error ("bench-local-store: %s: %s", what, error->message);
}

static void
put_job (AssayStore *store,
         guint       i,
         gboolean    open)
{
  g_autoptr(JsonObject) item = json_object_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = g_strdup_printf ("job-00000000-0000-4000-8000-%012u", i);

  json_object_set_member (item, "id", assay_value_string (id));
  json_object_set_member (item, "status", assay_value_string (open ? "UPLOADED" : "PROCESSED"));
  json_object_set_member (item, "file", assay_value_string ("file-00000000-0000-4000-8000-000000000000"));
  json_object_set_member (item, "created", assay_value_string ("2026-11-22T10:00:00.000Z"));
  if (open)
    {
      json_object_set_member (item, "queue", assay_value_string ("open"));
      json_object_set_member (item, "due", assay_value_string ("2026-11-22T10:00:00.000Z"));
    }
  assay_store_put_item_async (store, ASSAY_TABLE_JOBS, item, NULL, NULL, done_cb, &result);
  assay_store_put_item_finish (store, wait_for (&result), &error);
  check (error, "put");
}

static guint
query_open (AssayStore *store)
{
  g_autoptr(JsonNode) open = assay_value_string ("open");
  g_autoptr(JsonNode) now = assay_value_string ("2026-11-22T12:00:00.000Z");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayItemPage) page = NULL;
  AssayQuery query = { "queue-due", "queue", open, "due", ASSAY_COMPARE_LE, now, 25, NULL };

  assay_store_query_async (store, ASSAY_TABLE_JOBS, &query, NULL, done_cb, &result);
  page = assay_store_query_finish (store, wait_for (&result), &error);
  check (error, "query");
  return page->items->len;
}

int
main (int   argc,
      char *argv[])
{
  int done = 20000, open = 10, repeat = 20;
  const GOptionEntry entries[] = {
    { "done", 0, 0, G_OPTION_ARG_INT, &done, "Finished jobs in the table (20000)", "N" },
    { "open", 0, 0, G_OPTION_ARG_INT, &open, "Open jobs (10)", "N" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Queries (20)", "N" },
    { NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- the local store's queue query");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *table = NULL;
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *name;
  gint64 started;
  double per_query, scan;
  guint found = 0, read = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || done < 0 || open < 0 ||
      repeat < 1)
    {
      g_printerr ("bench-local-store: %s\n", error ? error->message : "the numbers are positive");
      return 2;
    }

  dir = g_dir_make_tmp ("assay-bench-local-store-XXXXXX", &error);
  check (error, "temporary directory");
  store = ASSAY_STORE (assay_local_store_new (dir));
  assay_store_init_async (store, NULL, done_cb, &result);
  assay_store_init_finish (store, wait_for (&result), &error);
  check (error, "init");
  for (int i = 0; i < done + open; i++)
    put_job (store, (guint) i, i >= done);

  started = g_get_monotonic_time ();
  for (int i = 0; i < repeat; i++)
    found = query_open (store);
  per_query = (g_get_monotonic_time () - started) / 1e3 / repeat;
  if (found != (guint) MIN (open, 25))
    g_error ("bench-local-store: the query found %u open jobs, not %d", found, MIN (open, 25));

  /* the baseline: every item file read once, as a full scan must */
  table = g_build_filename (dir, "tables", "jobs", NULL);
  started = g_get_monotonic_time ();
  listing = g_dir_open (table, 0, &error);
  check (error, table);
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (table, name, NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL))
        read++;
    }
  scan = (g_get_monotonic_time () - started) / 1e3;

  g_print ("| jobs in the table | open | the worker's query, ms | reading every item once, ms |\n"
           "|--:|--:|--:|--:|\n| %d | %d | %.2f | %.2f (%u files) |\n", done + open, open,
           per_query, scan, read);

  {
    g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", dir,
                                                  NULL);

    if (rm != NULL)
      g_subprocess_wait (rm, NULL, NULL);
  }
  return 0;
}
