/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-window.h"

#include "assay-job-row-widget.h"
#include "assay-result-view.h"

#include <glib/gi18n.h>

struct _AssayWindow
{
  AdwApplicationWindow parent_instance;

  AssayJobList *jobs;
  GtkFilterListModel *filtered;

  GtkStack *stack;
  AdwStatusPage *empty_page;
  GtkListView *list_view;
  GtkSearchBar *search_bar;
  GtkSearchEntry *search_entry;
  GtkStringFilter *filter;
  GtkRevealer *problem_revealer;
  GtkLabel *problem_label;
};

G_DEFINE_FINAL_TYPE (AssayWindow, assay_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_JOBS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The empty state, the list, or "nothing matches". */
static void
update_page (AssayWindow *self)
{
  const char *page = "list";

  if (self->jobs == NULL || g_list_model_get_n_items (G_LIST_MODEL (self->jobs)) == 0)
    page = "empty";
  else if (g_list_model_get_n_items (G_LIST_MODEL (self->filtered)) == 0)
    page = "no-match";
  gtk_stack_set_visible_child_name (self->stack, page);
}

static void
problem_cb (AssayWindow *self)
{
  const char *problem = self->jobs ? assay_job_list_get_problem (self->jobs) : NULL;

  gtk_label_set_text (self->problem_label, problem ? problem : "");
  gtk_revealer_set_reveal_child (self->problem_revealer, problem != NULL);
}

static void
activate_cb (GtkListView *list_view,
             guint        position,
             AssayWindow *self)
{
  g_autoptr(AssayJobRow) row = g_list_model_get_item (G_LIST_MODEL (self->filtered), position);

  if (row != NULL && assay_job_row_get_status (row) == ASSAY_JOB_ROW_PROCESSED)
    assay_window_show_result (self, assay_job_row_get_job_id (row));
}

typedef struct
{
  AssayWindow *window;
  AssayJobRow *row;
} ShowResult;

static void
result_ready_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  ShowResult *show = data;
  g_autoptr(GError) error = NULL;

  if (assay_job_list_fetch_result_finish (ASSAY_JOB_LIST (source), result, &error))
    gtk_window_present (GTK_WINDOW (assay_result_view_new (GTK_WINDOW (show->window),
                                                           show->row)));
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (show->window),
                                                  _("The Result Cannot Be Shown"),
                                                  error->message);

      adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
      gtk_window_present (GTK_WINDOW (dialog));
    }
  g_object_unref (show->window);
  g_object_unref (show->row);
  g_free (show);
}

/**
 * assay_window_show_result:
 * Shows the result of job @job_id, fetching and decrypting it first when it is not yet
 * (a job of the history). Returns: whether the job is one of the list with a result
 */
gboolean
assay_window_show_result (AssayWindow *self,
                          const char  *job_id)
{
  AssayJobRow *row;
  ShowResult *show;

  g_return_val_if_fail (ASSAY_IS_WINDOW (self), FALSE);

  row = job_id && self->jobs ? assay_job_list_lookup (self->jobs, job_id) : NULL;
  if (row == NULL || assay_job_row_get_status (row) != ASSAY_JOB_ROW_PROCESSED)
    return FALSE;
  if (assay_job_row_get_result (row) != NULL)
    {
      gtk_window_present (GTK_WINDOW (assay_result_view_new (GTK_WINDOW (self), row)));
      return TRUE;
    }
  show = g_new0 (ShowResult, 1);
  show->window = g_object_ref (self);
  show->row = g_object_ref (row);
  assay_job_list_fetch_result_async (self->jobs, row, NULL, result_ready_cb, show);
  return TRUE;
}

static void
show_result_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  assay_window_show_result (ASSAY_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  AssayWindow *self = ASSAY_WINDOW (widget);

  gtk_search_bar_set_search_mode (self->search_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
assay_window_set_jobs (AssayWindow  *self,
                       AssayJobList *jobs)
{
  g_autoptr(GtkNoSelection) selection = NULL;

  g_set_object (&self->jobs, jobs);
  gtk_filter_list_model_set_model (self->filtered, G_LIST_MODEL (jobs));
  g_signal_connect_object (jobs, "notify::problem", G_CALLBACK (problem_cb), self,
                           G_CONNECT_SWAPPED);
  problem_cb (self);
  update_page (self);
}

static void
assay_window_dispose (GObject *object)
{
  AssayWindow *self = ASSAY_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), ASSAY_TYPE_WINDOW);
  g_clear_object (&self->jobs);
  g_clear_object (&self->filtered);

  G_OBJECT_CLASS (assay_window_parent_class)->dispose (object);
}

static void
assay_window_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  AssayWindow *self = ASSAY_WINDOW (object);

  switch (prop_id)
    {
    case PROP_JOBS:
      assay_window_set_jobs (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_window_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  AssayWindow *self = ASSAY_WINDOW (object);

  switch (prop_id)
    {
    case PROP_JOBS:
      g_value_set_object (value, self->jobs);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_window_class_init (AssayWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = assay_window_dispose;
  object_class->set_property = assay_window_set_property;
  object_class->get_property = assay_window_get_property;

  properties[PROP_JOBS] = g_param_spec_object ("jobs", NULL, NULL, ASSAY_TYPE_JOB_LIST,
                                               G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                               G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (ASSAY_TYPE_JOB_ROW_WIDGET);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/assay/Assay/assay-window.ui");
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, empty_page);
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, list_view);
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, search_bar);
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, filter);
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, problem_revealer);
  gtk_widget_class_bind_template_child (widget_class, AssayWindow, problem_label);
  gtk_widget_class_bind_template_callback (widget_class, activate_cb);

  gtk_widget_class_install_action (widget_class, "win.show-result", "s", show_result_action);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search",
                                       NULL);
}

static void
assay_window_init (AssayWindow *self)
{
  GtkListItemFactory *factory;
  g_autoptr(GtkNoSelection) selection = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->filtered = gtk_filter_list_model_new (NULL, g_object_ref (GTK_FILTER (self->filter)));
  selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->filtered)));
  factory = gtk_builder_list_item_factory_new_from_resource (
    NULL, "/io/github/assay/Assay/assay-job-list-item.ui");
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (selection));
  g_signal_connect_object (self->filtered, "items-changed", G_CALLBACK (update_page), self,
                           G_CONNECT_SWAPPED);
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));
  gtk_search_bar_set_key_capture_widget (self->search_bar, GTK_WIDGET (self));
  g_object_bind_property (self->search_entry, "text", self->filter, "search",
                          G_BINDING_DEFAULT);
  assay_window_set_folder (self, NULL);
}

AssayWindow *
assay_window_new (GtkApplication *application,
                  AssayJobList   *jobs)
{
  return g_object_new (ASSAY_TYPE_WINDOW, "application", application, "jobs", jobs, NULL);
}

void
assay_window_set_folder (AssayWindow *self,
                         const char  *path)
{
  g_autofree char *description = NULL;

  g_return_if_fail (ASSAY_IS_WINDOW (self));

  if (path == NULL || *path == '\0')
    description = g_strdup (_("Choose a folder to watch in Preferences."));
  else
    {
      g_autofree char *display = g_filename_display_name (path);
      g_autofree char *escaped = g_markup_escape_text (display, -1);

      /* TRANSLATORS: %s is the watched folder, in bold */
      description = g_strdup_printf (_("Drop files into <b>%s</b>: each one is compressed, "
                                       "uploaded and analysed, and its result shows here."),
                                     escaped);
    }
  adw_status_page_set_description (self->empty_page, description);
}
