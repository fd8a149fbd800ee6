/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-onboarding"

#include "assay-onboarding.h"

#include "assay-app-config.h"
#include "assay-connection-test.h"
#include "assay-key-file.h"
#include "assay-secrets.h"
#include "assay-util.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <libsecret/secret.h>
#include <string.h>

struct _AssayOnboarding
{
  AdwWindow parent_instance;

  GSettings *settings;
  GCancellable *cancellable;
  AssayKey *key;
  char *folder;
  guint busy;
  gboolean key_imported; /* the user's choice wins over the keyring's key */

  AdwToastOverlay *toasts;
  GtkStack *stack;
  GtkWidget *back_button;
  GtkWidget *next_button;
  GtkWidget *finish_button;
  AdwActionRow *folder_row;
  GtkCheckButton *local_check;
  GtkCheckButton *aws_check;
  AdwEntryRow *bucket_row;
  AdwEntryRow *region_row;
  AdwEntryRow *s3_endpoint_row;
  AdwEntryRow *dynamodb_endpoint_row;
  AdwEntryRow *jobs_table_row;
  AdwEntryRow *results_table_row;
  AdwEntryRow *access_key_id_row;
  AdwPasswordEntryRow *secret_row;
  GtkSpinner *connection_spinner;
  GtkLabel *connection_status;
  GtkLabel *client_id_label;
  GtkLabel *key_status;
};

G_DEFINE_FINAL_TYPE (AssayOnboarding, assay_onboarding, ADW_TYPE_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char *const steps[] = { "folder", "store", "key" };

/* ------------------------------------------------------------------------------------- */
/* Shared helpers                                                                        */

AssayKey *
_assay_key_backup_load (const char  *path,
                        GError     **error)
{
  g_autofree char *pem = NULL;
  g_autoptr(AssayKey) key = NULL;
  gsize len = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &pem, &len, error))
    return NULL;
  key = assay_key_new_from_pem (pem, len, error);
  assay_wipe (pem, len);
  if (key == NULL)
    {
      g_prefix_error (error, _("%s is not an Assay key backup: "), path);
      return NULL;
    }
  if (!assay_key_has_private (key))
    {
      g_set_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY,
                   _("%s holds no private key: import the backup made with Export."), path);
      return NULL;
    }
  return g_steal_pointer (&key);
}

gboolean
_assay_key_backup_save (AssayKey    *key,
                        const char  *path,
                        GError     **error)
{
  g_return_val_if_fail (ASSAY_IS_KEY (key), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  /* The user chose the file and confirmed any replacement in the file chooser. */
  return assay_key_file_save (key, path, TRUE, error);
}

typedef struct
{
  AssayFileChosenFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} ChooseData;

static void
choose_response_cb (GtkNativeDialog *dialog,
                    int              response,
                    ChooseData      *data)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (file != NULL)
        data->func (file, data->user_data);
    }
  if (data->destroy != NULL)
    data->destroy (data->user_data);
  g_free (data);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

void
_assay_choose_file (GtkWindow            *parent,
                    GtkFileChooserAction  action,
                    const char           *title,
                    const char           *accept_label,
                    const char           *current,
                    AssayFileChosenFunc   func,
                    gpointer              user_data,
                    GDestroyNotify        destroy)
{
  GtkFileChooserNative *dialog;
  ChooseData *data;

  g_return_if_fail (func != NULL);

  dialog = gtk_file_chooser_native_new (title, parent, action, accept_label, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  if (current != NULL && action == GTK_FILE_CHOOSER_ACTION_SAVE)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), current);
  else if (current != NULL && g_file_test (current, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GFile) folder = g_file_new_for_path (current);

      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (dialog), folder, NULL);
    }

  data = g_new0 (ChooseData, 1);
  data->func = func;
  data->user_data = user_data;
  data->destroy = destroy;
  g_signal_connect (dialog, "response", G_CALLBACK (choose_response_cb), data);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static gboolean
scroll_to_end_cb (GtkWidget     *scrolled,
                  GdkFrameClock *clock,
                  gpointer       data)
{
  GtkAdjustment *adjustment =
    gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  guint *frames = data;

  /* after the layouts that show the text: the adjustment is set a frame or two later */
  if (++*frames < 3 || (gtk_adjustment_get_page_size (adjustment) == 0 && *frames < 30))
    return G_SOURCE_CONTINUE;
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) -
                                          gtk_adjustment_get_page_size (adjustment));
  return G_SOURCE_REMOVE;
}

void
_assay_scroll_to_end (GtkWidget *widget)
{
  GtkWidget *scrolled = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);

  if (scrolled != NULL)
    gtk_widget_add_tick_callback (scrolled, scroll_to_end_cb, g_new0 (guint, 1), g_free);
}

/* ------------------------------------------------------------------------------------- */
/* State                                                                                 */

static void
toast (AssayOnboarding *self,
       const char      *text)
{
  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (text));
}

static void
set_busy (AssayOnboarding *self,
          gboolean         busy)
{
  gboolean was = self->busy > 0;

  if (busy)
    self->busy++;
  else
    {
      g_return_if_fail (self->busy > 0);
      self->busy--;
    }
  if (was != (self->busy > 0))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
show_status (GtkLabel   *label,
             const char *text,
             gboolean    error)
{
  gtk_label_set_text (label, text);
  gtk_widget_set_visible (GTK_WIDGET (label), text != NULL && text[0] != '\0');
  if (error)
    {
      gtk_widget_add_css_class (GTK_WIDGET (label), "error");
      gtk_widget_remove_css_class (GTK_WIDGET (label), "success");
    }
  else
    {
      gtk_widget_add_css_class (GTK_WIDGET (label), "success");
      gtk_widget_remove_css_class (GTK_WIDGET (label), "error");
    }
}

static guint
current_step (AssayOnboarding *self)
{
  const char *name = gtk_stack_get_visible_child_name (self->stack);

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    if (g_strcmp0 (name, steps[i]) == 0)
      return i;
  return 0;
}

static void
update_buttons (AssayOnboarding *self)
{
  guint step = current_step (self);
  gboolean last = step == G_N_ELEMENTS (steps) - 1;

  gtk_widget_set_visible (self->back_button, step > 0);
  gtk_widget_set_visible (self->next_button, !last);
  gtk_widget_set_visible (self->finish_button, last);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "onboarding.back", step > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "onboarding.next", !last);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "onboarding.finish", self->busy == 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "onboarding.test-connection",
                                 self->busy == 0);
}

static void
set_folder (AssayOnboarding *self,
            const char      *folder)
{
  g_free (self->folder);
  self->folder = g_strdup (folder);
  adw_action_row_set_subtitle (self->folder_row, folder);
}

static void
set_key (AssayOnboarding *self,
         AssayKey        *key)
{
  g_set_object (&self->key, key);
  gtk_label_set_text (self->client_id_label, assay_key_get_client_id (key));
}

static const char *
row_text (AdwEntryRow *row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row));
}

static char *
dup_trimmed (AdwEntryRow *row)
{
  g_autofree char *text = g_strstrip (g_strdup (row_text (row)));

  return text[0] != '\0' ? g_steal_pointer (&text) : NULL;
}

static AssayConfig *
dup_aws_config (AssayOnboarding *self)
{
  AssayConfig *config = assay_config_new ();

  config->bucket = dup_trimmed (self->bucket_row);
  config->region = dup_trimmed (self->region_row);
  config->s3_endpoint = dup_trimmed (self->s3_endpoint_row);
  config->dynamodb_endpoint = dup_trimmed (self->dynamodb_endpoint_row);
  config->jobs_table = dup_trimmed (self->jobs_table_row);
  config->results_table = dup_trimmed (self->results_table_row);
  return config;
}

/* ------------------------------------------------------------------------------------- */
/* The key                                                                               */

static void
key_lookup_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(AssayOnboarding) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = NULL;
  char *pem;

  pem = assay_secrets_lookup_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  update_buttons (self);
  if (error != NULL)
    {
      show_status (self->key_status, error->message, TRUE);
      return;
    }
  if (pem == NULL)
    return; /* keep the new key */
  key = assay_key_new_from_pem (pem, -1, NULL);
  secret_password_free (pem);
  if (key != NULL && assay_key_has_private (key) && !self->key_imported)
    {
      set_key (self, key);
      show_status (self->key_status,
                   _("This is the key already in your keyring: Assay keeps using it."), FALSE);
    }
}

static void
import_file (AssayOnboarding *self,
             const char      *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = _assay_key_backup_load (path, &error);
  g_autofree char *text = NULL;

  if (key == NULL)
    {
      show_status (self->key_status, error->message, TRUE);
      return;
    }
  set_key (self, key);
  self->key_imported = TRUE;
  text = g_strdup_printf (_("Imported the key from %s."), path);
  show_status (self->key_status, text, FALSE);
}

static void
export_file (AssayOnboarding *self,
             const char      *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!_assay_key_backup_save (self->key, path, &error))
    {
      show_status (self->key_status, error->message, TRUE);
      return;
    }
  text = g_strdup_printf (_("Saved a backup of the key to %s. Keep it somewhere safe."), path);
  show_status (self->key_status, text, FALSE);
  toast (self, _("Key exported"));
}

static void
import_chosen_cb (GFile    *file,
                  gpointer  user_data)
{
  g_autofree char *path = g_file_get_path (file);

  import_file (ASSAY_ONBOARDING (user_data), path);
}

static void
export_chosen_cb (GFile    *file,
                  gpointer  user_data)
{
  g_autofree char *path = g_file_get_path (file);

  export_file (ASSAY_ONBOARDING (user_data), path);
}

static void
import_key_action (GtkWidget  *widget,
                   const char *action,
                   GVariant   *param)
{
  _assay_choose_file (GTK_WINDOW (widget), GTK_FILE_CHOOSER_ACTION_OPEN, _("Import Key"),
                      _("_Import"), NULL, import_chosen_cb, g_object_ref (widget),
                      g_object_unref);
}

static void
export_key_action (GtkWidget  *widget,
                   const char *action,
                   GVariant   *param)
{
  _assay_choose_file (GTK_WINDOW (widget), GTK_FILE_CHOOSER_ACTION_SAVE, _("Export Key"),
                      _("_Export"), "assay-key.pem", export_chosen_cb, g_object_ref (widget),
                      g_object_unref);
}

static void
import_key_from_action (GtkWidget  *widget,
                        const char *action,
                        GVariant   *param)
{
  import_file (ASSAY_ONBOARDING (widget), g_variant_get_string (param, NULL));
}

static void
export_key_to_action (GtkWidget  *widget,
                      const char *action,
                      GVariant   *param)
{
  export_file (ASSAY_ONBOARDING (widget), g_variant_get_string (param, NULL));
}

/* ------------------------------------------------------------------------------------- */
/* Steps                                                                                 */

static void
folder_chosen_cb (GFile    *file,
                  gpointer  user_data)
{
  g_autofree char *path = g_file_get_path (file);

  if (path != NULL)
    set_folder (ASSAY_ONBOARDING (user_data), path);
}

static void
choose_folder_action (GtkWidget  *widget,
                      const char *action,
                      GVariant   *param)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (widget);

  _assay_choose_file (GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                      _("Choose the Folder to Watch"), _("_Select"),
                      g_file_test (self->folder, G_FILE_TEST_IS_DIR) ? self->folder
                                                                     : g_get_home_dir (),
                      folder_chosen_cb, g_object_ref (self), g_object_unref);
}

static void
set_folder_action (GtkWidget  *widget,
                   const char *action,
                   GVariant   *param)
{
  set_folder (ASSAY_ONBOARDING (widget), g_variant_get_string (param, NULL));
}

static void
choose_local_action (GtkWidget  *widget,
                     const char *action,
                     GVariant   *param)
{
  gtk_check_button_set_active (ASSAY_ONBOARDING (widget)->local_check, TRUE);
}

static void
choose_aws_action (GtkWidget  *widget,
                   const char *action,
                   GVariant   *param)
{
  gtk_check_button_set_active (ASSAY_ONBOARDING (widget)->aws_check, TRUE);
}

static void
go_to (AssayOnboarding *self,
       guint            step)
{
  gtk_stack_set_visible_child_name (self->stack, steps[step]);
  update_buttons (self);
}

static void
back_action (GtkWidget  *widget,
             const char *action,
             GVariant   *param)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (widget);
  guint step = current_step (self);

  if (step > 0)
    go_to (self, step - 1);
}

static void
next_action (GtkWidget  *widget,
             const char *action,
             GVariant   *param)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (widget);
  guint step = current_step (self);

  if (step + 1 < G_N_ELEMENTS (steps))
    go_to (self, step + 1);
}

/* ------------------------------------------------------------------------------------- */
/* Test Connection                                                                       */

static void
connection_test_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(AssayOnboarding) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  text = assay_connection_test_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_spinner_stop (self->connection_spinner);
  if (text != NULL)
    show_status (self->connection_status, text, FALSE);
  else
    show_status (self->connection_status, error->message, TRUE);
  /* Below the form: bring it into view */
  _assay_scroll_to_end (GTK_WIDGET (self->connection_status));
  set_busy (self, FALSE);
  update_buttons (self);
}

static void
test_connection_action (GtkWidget  *widget,
                        const char *action,
                        GVariant   *param)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (widget);
  g_autoptr(AssayConfig) config = dup_aws_config (self);
  g_autofree char *access_key_id = dup_trimmed (self->access_key_id_row);

  show_status (self->connection_status, _("Testing the connection…"), FALSE);
  gtk_spinner_start (self->connection_spinner);
  set_busy (self, TRUE);
  update_buttons (self);
  assay_connection_test_async (config, access_key_id,
                               gtk_editable_get_text (GTK_EDITABLE (self->secret_row)),
                               self->cancellable, connection_test_cb, g_object_ref (self));
}

/* ------------------------------------------------------------------------------------- */
/* Finish                                                                                */

static void
finish_failed (AssayOnboarding *self,
               guint            step,
               GtkLabel        *label,
               const char      *message)
{
  show_status (label, message, TRUE);
  go_to (self, step);
}

static void
write_settings (AssayOnboarding *self)
{
  gboolean aws = gtk_check_button_get_active (self->aws_check);
  GApplication *app;

  g_settings_delay (self->settings);
  g_settings_set_string (self->settings, "watched-folder", self->folder);
  g_settings_set_string (self->settings, "store-mode", aws ? "aws" : "local");
  if (aws)
    {
      const struct
      {
        const char *key;
        AdwEntryRow *row;
      } fields[] = {
        { "bucket", self->bucket_row },
        { "region", self->region_row },
        { "s3-endpoint", self->s3_endpoint_row },
        { "dynamodb-endpoint", self->dynamodb_endpoint_row },
        { "jobs-table", self->jobs_table_row },
        { "results-table", self->results_table_row },
        { "access-key-id", self->access_key_id_row },
      };

      for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
        {
          g_autofree char *value = dup_trimmed (fields[i].row);

          g_settings_set_string (self->settings, fields[i].key, value != NULL ? value : "");
        }
    }
  g_settings_set_boolean (self->settings, "onboarding-done", TRUE);
  g_settings_apply (self->settings);

  set_busy (self, FALSE);
  g_signal_emit (self, signals[FINISHED], 0);

  app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  if (app != NULL && g_action_group_has_action (G_ACTION_GROUP (app), "onboarding-done"))
    g_action_group_activate_action (G_ACTION_GROUP (app), "onboarding-done", NULL);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
aws_secret_stored_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(AssayOnboarding) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!assay_secrets_store_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      set_busy (self, FALSE);
      update_buttons (self);
      finish_failed (self, 1, self->connection_status, error->message);
      return;
    }
  write_settings (self);
}

static void
key_stored_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(AssayOnboarding) self = user_data;
  g_autoptr(GError) error = NULL;
  const char *secret = gtk_editable_get_text (GTK_EDITABLE (self->secret_row));

  if (!assay_secrets_store_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      set_busy (self, FALSE);
      update_buttons (self);
      finish_failed (self, 2, self->key_status, error->message);
      return;
    }
  if (gtk_check_button_get_active (self->aws_check) && secret[0] != '\0')
    {
      assay_secrets_store_async (ASSAY_SECRET_AWS_SECRET_KEY, secret, self->cancellable,
                                 aws_secret_stored_cb, g_object_ref (self));
      return;
    }
  write_settings (self);
}

static void
finish_action (GtkWidget  *widget,
               const char *action,
               GVariant   *param)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (widget);
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = NULL;

  if (self->busy > 0)
    return;

  if (self->folder == NULL || self->folder[0] == '\0' || !g_path_is_absolute (self->folder))
    {
      toast (self, _("Choose the folder to watch first"));
      go_to (self, 0);
      return;
    }
  if (g_mkdir_with_parents (self->folder, 0700) != 0)
    {
      int saved = errno;
      g_autofree char *text = g_strdup_printf (_("Could not create the folder %s: %s. Choose "
                                                 "another folder."),
                                               self->folder, g_strerror (saved));
      toast (self, text);
      go_to (self, 0);
      return;
    }
  if (gtk_check_button_get_active (self->aws_check))
    {
      /* Check the form of the settings now; the service is asked by Test Connection. */
      g_autoptr(AssayConfig) config = dup_aws_config (self);
      g_autofree char *access_key_id = dup_trimmed (self->access_key_id_row);
      g_autoptr(AssayAwsStore) store = NULL;

      store = assay_app_config_new_aws_store (config, access_key_id,
                                              gtk_editable_get_text (
                                                GTK_EDITABLE (self->secret_row)),
                                              NULL, &error);
      if (store == NULL)
        {
          finish_failed (self, 1, self->connection_status, error->message);
          return;
        }
    }

  pem = assay_key_to_pem (self->key, &error);
  if (pem == NULL)
    {
      finish_failed (self, 2, self->key_status, error->message);
      return;
    }
  set_busy (self, TRUE);
  update_buttons (self);
  assay_secrets_store_async (ASSAY_SECRET_CLIENT_KEY, pem, self->cancellable, key_stored_cb,
                             g_object_ref (self));
  assay_wipe (pem, strlen (pem));
}

/* ------------------------------------------------------------------------------------- */
/* GObject                                                                               */

static void
assay_onboarding_constructed (GObject *object)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (object);
  g_autofree char *folder = NULL;

  G_OBJECT_CLASS (assay_onboarding_parent_class)->constructed (object);

  g_assert (G_IS_SETTINGS (self->settings));
  folder = g_settings_get_string (self->settings, "watched-folder");
  if (folder[0] == '\0')
    {
      g_free (folder);
      folder = g_build_filename (g_get_home_dir (), "Assay", NULL);
    }
  set_folder (self, folder);
  gtk_check_button_set_active (
    g_settings_get_enum (self->settings, "store-mode") == 1 ? self->aws_check : self->local_check,
    TRUE);

  /* A key kept from an earlier setup is used again; otherwise the new one is. */
  set_busy (self, TRUE);
  assay_secrets_lookup_async (ASSAY_SECRET_CLIENT_KEY, self->cancellable, key_lookup_cb,
                              g_object_ref (self));
  update_buttons (self);
}

static void
assay_onboarding_dispose (GObject *object)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), ASSAY_TYPE_ONBOARDING);

  G_OBJECT_CLASS (assay_onboarding_parent_class)->dispose (object);
}

static void
assay_onboarding_finalize (GObject *object)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->key);
  g_clear_pointer (&self->folder, g_free);

  G_OBJECT_CLASS (assay_onboarding_parent_class)->finalize (object);
}

static void
assay_onboarding_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy > 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_onboarding_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  AssayOnboarding *self = ASSAY_ONBOARDING (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
assay_onboarding_class_init (AssayOnboardingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = assay_onboarding_constructed;
  object_class->dispose = assay_onboarding_dispose;
  object_class->finalize = assay_onboarding_finalize;
  object_class->get_property = assay_onboarding_get_property;
  object_class->set_property = assay_onboarding_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * AssayOnboarding::finished:
   * The settings are written and the secrets stored; the window closes next.
   */
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/assay/Assay/assay-onboarding.ui");
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, toasts);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, stack);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, back_button);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, next_button);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, finish_button);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, folder_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, local_check);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, aws_check);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, bucket_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, region_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, s3_endpoint_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, dynamodb_endpoint_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, jobs_table_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, results_table_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, access_key_id_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, secret_row);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, connection_spinner);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, connection_status);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, client_id_label);
  gtk_widget_class_bind_template_child (widget_class, AssayOnboarding, key_status);

  gtk_widget_class_install_action (widget_class, "onboarding.set-folder", "s", set_folder_action);
  gtk_widget_class_install_action (widget_class, "onboarding.choose-folder", NULL,
                                   choose_folder_action);
  gtk_widget_class_install_action (widget_class, "onboarding.choose-local", NULL,
                                   choose_local_action);
  gtk_widget_class_install_action (widget_class, "onboarding.choose-aws", NULL,
                                   choose_aws_action);
  gtk_widget_class_install_action (widget_class, "onboarding.test-connection", NULL,
                                   test_connection_action);
  gtk_widget_class_install_action (widget_class, "onboarding.import-key", NULL,
                                   import_key_action);
  gtk_widget_class_install_action (widget_class, "onboarding.export-key", NULL,
                                   export_key_action);
  gtk_widget_class_install_action (widget_class, "onboarding.import-key-from", "s",
                                   import_key_from_action);
  gtk_widget_class_install_action (widget_class, "onboarding.export-key-to", "s",
                                   export_key_to_action);
  gtk_widget_class_install_action (widget_class, "onboarding.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "onboarding.next", NULL, next_action);
  gtk_widget_class_install_action (widget_class, "onboarding.finish", NULL, finish_action);
}

static void
assay_onboarding_init (AssayOnboarding *self)
{
  g_autoptr(AssayKey) key = assay_key_generate ();

  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  set_key (self, key);
}

AssayOnboarding *
assay_onboarding_new (GtkApplication *application,
                      GSettings      *settings)
{
  g_return_val_if_fail (application == NULL || GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (ASSAY_TYPE_ONBOARDING,
                       "application", application,
                       "settings", settings,
                       NULL);
}

AssayKey *
assay_onboarding_get_key (AssayOnboarding *self)
{
  g_return_val_if_fail (ASSAY_IS_ONBOARDING (self), NULL);
  return self->key;
}

gboolean
assay_onboarding_get_busy (AssayOnboarding *self)
{
  g_return_val_if_fail (ASSAY_IS_ONBOARDING (self), FALSE);
  return self->busy > 0;
}
