/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The desktop app's window and rows, under Xvfb without the application: a row marks an
 * infected file clearly and offers Retry only where a new attempt may help; the window
 * shows the empty state, the list, and the search's "no match". */
#include "config.h"

#include "assay-job-list.h"
#include "assay-job-row-widget.h"
#include "assay-local-store.h"
#include "assay-window.h"

#include <adwaita.h>
#include <glib/gstdio.h>

static GtkWidget *
child (GtkWidget  *widget,
       GType       type,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (widget, type, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static void
test_row_marked (void)
{
  g_autoptr(AssayJobRow) row = assay_job_row_new ("/tmp/folder/eicar.com");
  GtkWidget *widget = g_object_ref_sink (g_object_new (ASSAY_TYPE_JOB_ROW_WIDGET, "job", row,
                                                       NULL));
  GType type = ASSAY_TYPE_JOB_ROW_WIDGET;

  /* uploading: a bar, Cancel */
  assay_job_row_set_size (row, 1000);
  assay_job_row_set_status (row, ASSAY_JOB_ROW_UPLOADING);
  assay_job_row_set_transfer (row, 0.25, 100, 7);
  g_assert_true (gtk_widget_get_visible (child (widget, type, "progress")));
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (child (widget, type, "progress"))), ==, 0.25);
  g_assert_true (gtk_widget_get_visible (child (widget, type, "cancel_button")));
  g_assert_false (gtk_widget_get_visible (child (widget, type, "retry_button")));
  g_assert_nonnull (strstr (assay_job_row_get_detail (row), "left"));

  /* infected: marked (class, icon, label), no Retry, no result */
  assay_job_row_set_error (row, "INFECTED", "infected: Eicar-Signature");
  assay_job_row_set_status (row, ASSAY_JOB_ROW_FAILED);
  g_assert_cmpint (assay_job_row_get_verdict (row), ==, ASSAY_JOB_ROW_VERDICT_INFECTED);
  g_assert_true (gtk_widget_has_css_class (widget, "marked"));
  g_assert_true (gtk_widget_get_visible (child (widget, type, "verdict_label")));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (child (widget, type, "verdict_label"))), ==,
                   "Infected");
  g_assert_false (gtk_widget_get_visible (child (widget, type, "retry_button")));
  g_assert_false (gtk_widget_get_visible (child (widget, type, "cancel_button")));
  g_assert_false (gtk_widget_get_visible (child (widget, type, "progress")));
  g_assert_false (gtk_widget_get_visible (child (widget, type, "result_button")));

  /* a failure a new attempt may cure: Retry, no mark */
  assay_job_row_set_error (row, "UPLOAD_STALLED", "no new chunk for 120 s");
  g_assert_false (gtk_widget_has_css_class (widget, "marked"));
  g_assert_true (gtk_widget_has_css_class (widget, "failed"));
  g_assert_true (gtk_widget_get_visible (child (widget, type, "retry_button")));
  g_assert_false (gtk_widget_get_visible (child (widget, type, "verdict_label")));

  g_object_unref (widget);
}

static void
init_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  gboolean *done = data;

  g_assert_true (assay_store_init_finish (ASSAY_STORE (source), result, NULL));
  *done = TRUE;
}

static const char *
page (GtkWidget *window)
{
  return gtk_stack_get_visible_child_name (GTK_STACK (child (window, ASSAY_TYPE_WINDOW, "stack")));
}

static guint
shown (GtkWidget *window)
{
  GtkListView *view = GTK_LIST_VIEW (child (window, ASSAY_TYPE_WINDOW, "list_view"));

  return g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (view)));
}

static void
test_search (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("assay-window-XXXXXX", &error);
  g_autofree char *watch = g_build_filename (dir, "watch", NULL);
  g_autofree char *store_dir = g_build_filename (dir, "store", NULL);
  g_autoptr(AssayStore) store = ASSAY_STORE (assay_local_store_new (store_dir));
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayJobList) jobs = assay_job_list_new ();
  g_autoptr(GFile) folder = NULL;
  g_autoptr(GSubprocess) rm = NULL;
  GtkWidget *window;
  GtkEditable *entry;
  gboolean done = FALSE;

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (watch, 0700), ==, 0);
  assay_store_init_async (store, NULL, init_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);

  window = GTK_WIDGET (assay_window_new (NULL, jobs));
  assay_window_set_folder (ASSAY_WINDOW (window), watch);
  g_assert_cmpstr (page (window), ==, "empty");

  for (guint i = 0; i < 2; i++)
    {
      const char *names[] = { "alpha.txt", "beta.txt" };
      g_autofree char *path = g_build_filename (watch, names[i], NULL);

      g_assert_true (g_file_set_contents (path, names[i], -1, NULL));
    }
  folder = g_file_new_for_path (watch);
  g_assert_true (assay_job_list_start (jobs, store, key, folder, NULL, FALSE, &error));
  g_assert_no_error (error);
  while (g_list_model_get_n_items (G_LIST_MODEL (jobs)) < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (page (window), ==, "list");
  g_assert_cmpuint (shown (window), ==, 2);

  entry = GTK_EDITABLE (child (window, ASSAY_TYPE_WINDOW, "search_entry"));
  gtk_editable_set_text (entry, "ALP");
  g_assert_cmpuint (shown (window), ==, 1);
  g_assert_cmpstr (page (window), ==, "list");
  gtk_editable_set_text (entry, "zzz");
  g_assert_cmpuint (shown (window), ==, 0);
  g_assert_cmpstr (page (window), ==, "no-match");
  gtk_editable_set_text (entry, "");
  g_assert_cmpuint (shown (window), ==, 2);
  g_assert_cmpstr (page (window), ==, "list");

  while (!assay_job_list_is_idle (jobs))
    g_main_context_iteration (NULL, TRUE);
  assay_job_list_stop (jobs);
  gtk_window_destroy (GTK_WINDOW (window));
  rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", dir, NULL);
  g_subprocess_wait (rm, NULL, NULL);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GSubprocess) rm = NULL;
  int rc;
  g_autofree char *state = g_dir_make_tmp ("assay-window-state-XXXXXX", NULL);

  g_setenv ("XDG_STATE_HOME", state, TRUE);
  g_setenv ("ASSAY_SETTLE_MS", "100", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_main_context_acquire (NULL);

  g_test_add_func ("/gui/window/row-marked", test_row_marked);
  g_test_add_func ("/gui/window/search", test_search);
  rc = g_test_run ();

  rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", state, NULL);
  if (rm != NULL)
    g_subprocess_wait (rm, NULL, NULL);
  return rc;
}
