/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-job-row-widget.h"

#include <glib/gi18n.h>

struct _AssayJobRowWidget
{
  GtkWidget parent_instance;

  AssayJobRow *job;
  GtkWidget *box;
};

G_DEFINE_FINAL_TYPE (AssayJobRowWidget, assay_job_row_widget, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_JOB,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* CSS classes from the state: "marked" (with "error") for an infected, unscannable or
 * invalid file, "failed", "processed". */
static void
update_classes (AssayJobRowWidget *self)
{
  AssayJobRowStatus status = self->job ? assay_job_row_get_status (self->job)
                                       : ASSAY_JOB_ROW_QUEUED;
  gboolean marked = self->job && assay_job_row_get_verdict (self->job) > ASSAY_JOB_ROW_VERDICT_CLEAN;
  GtkWidget *widget = GTK_WIDGET (self);

  if (marked)
    gtk_widget_add_css_class (widget, "marked");
  else
    gtk_widget_remove_css_class (widget, "marked");
  if (status == ASSAY_JOB_ROW_FAILED && !marked)
    gtk_widget_add_css_class (widget, "failed");
  else
    gtk_widget_remove_css_class (widget, "failed");
  if (status == ASSAY_JOB_ROW_PROCESSED)
    gtk_widget_add_css_class (widget, "processed");
  else
    gtk_widget_remove_css_class (widget, "processed");
}

static void
job_notify_cb (AssayJobRowWidget *self)
{
  update_classes (self);
}

static void
retry_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  AssayJobRowWidget *self = ASSAY_JOB_ROW_WIDGET (widget);

  if (self->job != NULL)
    assay_job_row_request_retry (self->job);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  AssayJobRowWidget *self = ASSAY_JOB_ROW_WIDGET (widget);

  if (self->job != NULL)
    assay_job_row_request_cancel (self->job);
}

static void
show_result_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  AssayJobRowWidget *self = ASSAY_JOB_ROW_WIDGET (widget);

  if (self->job != NULL && assay_job_row_get_job_id (self->job) != NULL)
    gtk_widget_activate_action (widget, "win.show-result", "s",
                                assay_job_row_get_job_id (self->job));
}

static void
assay_job_row_widget_dispose (GObject *object)
{
  AssayJobRowWidget *self = ASSAY_JOB_ROW_WIDGET (object);

  assay_job_row_widget_set_job (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), ASSAY_TYPE_JOB_ROW_WIDGET);

  G_OBJECT_CLASS (assay_job_row_widget_parent_class)->dispose (object);
}

static void
assay_job_row_widget_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  AssayJobRowWidget *self = ASSAY_JOB_ROW_WIDGET (object);

  switch (prop_id)
    {
    case PROP_JOB:
      g_value_set_object (value, self->job);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_job_row_widget_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  AssayJobRowWidget *self = ASSAY_JOB_ROW_WIDGET (object);

  switch (prop_id)
    {
    case PROP_JOB:
      assay_job_row_widget_set_job (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_job_row_widget_class_init (AssayJobRowWidgetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = assay_job_row_widget_dispose;
  object_class->get_property = assay_job_row_widget_get_property;
  object_class->set_property = assay_job_row_widget_set_property;

  properties[PROP_JOB] = g_param_spec_object ("job", NULL, NULL, ASSAY_TYPE_JOB_ROW,
                                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                              G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/assay/Assay/assay-job-row-widget.ui");
  gtk_widget_class_bind_template_child (widget_class, AssayJobRowWidget, box);
  /* for gtk_widget_get_template_child() in tests */
  gtk_widget_class_bind_template_child_full (widget_class, "verdict_label", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "progress", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "cancel_button", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "retry_button", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "result_button", FALSE, 0);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "assayjobrow");
  gtk_widget_class_install_action (widget_class, "row.retry", NULL, retry_action);
  gtk_widget_class_install_action (widget_class, "row.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "row.show-result", NULL, show_result_action);
}

static void
assay_job_row_widget_init (AssayJobRowWidget *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

AssayJobRow *
assay_job_row_widget_get_job (AssayJobRowWidget *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB_ROW_WIDGET (self), NULL);
  return self->job;
}

void
assay_job_row_widget_set_job (AssayJobRowWidget *self,
                              AssayJobRow       *job)
{
  g_return_if_fail (ASSAY_IS_JOB_ROW_WIDGET (self));
  g_return_if_fail (job == NULL || ASSAY_IS_JOB_ROW (job));

  if (self->job == job)
    return;
  if (self->job != NULL)
    g_signal_handlers_disconnect_by_func (self->job, job_notify_cb, self);
  g_set_object (&self->job, job);
  if (job != NULL)
    {
      g_signal_connect_swapped (job, "notify::status", G_CALLBACK (job_notify_cb), self);
      g_signal_connect_swapped (job, "notify::verdict", G_CALLBACK (job_notify_cb), self);
    }
  update_classes (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JOB]);
}
