/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-result-view.h"

#include "assay-util.h"

#include <glib/gi18n.h>

struct _AssayResultView
{
  AdwWindow parent_instance;

  AssayJobRow *row;
  char *text;              /* the pretty-printed result, wiped when the view goes */
  GtkFileChooserNative *chooser;

  AdwWindowTitle *title;
  GtkLabel *scan_label;
  GtkLabel *validation_label;
  GtkTextView *text_view;
  AdwToastOverlay *toasts;
};

G_DEFINE_FINAL_TYPE (AssayResultView, assay_result_view, ADW_TYPE_WINDOW)

static void
wipe_text (AssayResultView *self)
{
  if (self->text != NULL)
    assay_wipe (self->text, strlen (self->text));
  g_clear_pointer (&self->text, g_free);
}

/**
 * assay_result_describe_stage:
 * Says in words what a stage of the result (its "scan" or "validation" object) found.
 * A processed job passed both: a stage that failed ends the job in ERROR instead.
 */
char *
assay_result_describe_stage (JsonNode *stage)
{
  const char *keys[] = { "verdict", "status", "result" };
  JsonObject *object;

  if (stage == NULL || !JSON_NODE_HOLDS_OBJECT (stage) ||
      json_object_get_size (json_node_get_object (stage)) == 0)
    return g_strdup (_("Not run"));
  object = json_node_get_object (stage);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      JsonNode *value = json_object_get_member (object, keys[i]);

      if (value != NULL && JSON_NODE_HOLDS_VALUE (value) &&
          json_node_get_value_type (value) == G_TYPE_STRING)
        {
          const char *verdict = json_node_get_string (value);

          if (g_str_equal (verdict, "clean"))
            return g_strdup (_("Clean"));
          if (g_str_equal (verdict, "valid"))
            return g_strdup (_("Valid"));
          if (g_str_equal (verdict, "skipped"))
            return g_strdup (_("Skipped"));
          return g_strdup (verdict);
        }
    }
  return g_strdup (_("Passed"));
}

static void
copy_clicked_cb (AssayResultView *self)
{
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), self->text);
  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (_("Result copied")));
}

static void
saved_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(AssayResultView) self = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    message = g_strdup (_("Result saved"));
  else
    /* TRANSLATORS: %s says why, e.g. "Permission denied" */
    message = g_strdup_printf (_("The result could not be saved: %s"), error->message);
  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (message));
}

static void
chooser_response_cb (GtkNativeDialog *dialog,
                     int              response,
                     AssayResultView *self)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  g_clear_object (&self->chooser);
  if (file == NULL || self->text == NULL)
    return;
  /* private: a result is for the user only */
  g_file_replace_contents_async (file, self->text, strlen (self->text), NULL, FALSE,
                                 G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                 NULL, saved_cb, g_object_ref (self));
}

static void
save_clicked_cb (AssayResultView *self)
{
  g_autofree char *name = g_strdup_printf ("%s.result.json",
                                           assay_job_row_get_file_name (self->row));

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Save Result"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"),
                                               _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), name);
  g_signal_connect (self->chooser, "response", G_CALLBACK (chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
assay_result_view_dispose (GObject *object)
{
  AssayResultView *self = ASSAY_RESULT_VIEW (object);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), ASSAY_TYPE_RESULT_VIEW);
  g_clear_object (&self->row);

  G_OBJECT_CLASS (assay_result_view_parent_class)->dispose (object);
}

static void
assay_result_view_finalize (GObject *object)
{
  AssayResultView *self = ASSAY_RESULT_VIEW (object);

  wipe_text (self);

  G_OBJECT_CLASS (assay_result_view_parent_class)->finalize (object);
}

static void
assay_result_view_class_init (AssayResultViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = assay_result_view_dispose;
  object_class->finalize = assay_result_view_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/assay/Assay/assay-result-view.ui");
  gtk_widget_class_bind_template_child (widget_class, AssayResultView, title);
  gtk_widget_class_bind_template_child (widget_class, AssayResultView, scan_label);
  gtk_widget_class_bind_template_child (widget_class, AssayResultView, validation_label);
  gtk_widget_class_bind_template_child (widget_class, AssayResultView, text_view);
  gtk_widget_class_bind_template_child (widget_class, AssayResultView, toasts);
  gtk_widget_class_bind_template_callback (widget_class, copy_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, save_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
assay_result_view_init (AssayResultView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

static void
show_result (AssayResultView *self)
{
  GBytes *plaintext = assay_job_row_get_result (self->row);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *scan = NULL;
  g_autofree char *validation = NULL;
  JsonObject *root = NULL;

  adw_window_title_set_subtitle (self->title, assay_job_row_get_file_name (self->row));
  if (plaintext == NULL)
    return;
  if (json_parser_load_from_data (parser, g_bytes_get_data (plaintext, NULL),
                                  g_bytes_get_size (plaintext), NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      root = json_node_get_object (json_parser_get_root (parser));
      json_generator_set_root (generator, json_parser_get_root (parser));
      json_generator_set_pretty (generator, TRUE);
      json_generator_set_indent (generator, 2);
      self->text = json_generator_to_data (generator, NULL);
    }
  else
    self->text = g_strndup (g_bytes_get_data (plaintext, NULL), g_bytes_get_size (plaintext));

  scan = assay_result_describe_stage (root ? json_object_get_member (root, "scan") : NULL);
  validation = assay_result_describe_stage (root ? json_object_get_member (root, "validation")
                                                 : NULL);
  gtk_label_set_text (self->scan_label, scan);
  gtk_label_set_text (self->validation_label, validation);
  /* green only for a verdict that says the file passed */
  if (g_strcmp0 (scan, _("Clean")) != 0)
    gtk_widget_remove_css_class (GTK_WIDGET (self->scan_label), "verdict-clean");
  if (g_strcmp0 (validation, _("Valid")) != 0 && g_strcmp0 (validation, _("Passed")) != 0)
    gtk_widget_remove_css_class (GTK_WIDGET (self->validation_label), "verdict-clean");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), self->text, -1);
}

AssayResultView *
assay_result_view_new (GtkWindow   *parent,
                       AssayJobRow *row)
{
  AssayResultView *self;

  g_return_val_if_fail (ASSAY_IS_JOB_ROW (row), NULL);

  self = g_object_new (ASSAY_TYPE_RESULT_VIEW,
                       "transient-for", parent,
                       "application", parent ? gtk_window_get_application (parent) : NULL,
                       NULL);
  self->row = g_object_ref (row);
  show_result (self);
  return self;
}

const char *
assay_result_view_get_text (AssayResultView *self)
{
  g_return_val_if_fail (ASSAY_IS_RESULT_VIEW (self), NULL);
  return self->text;
}
