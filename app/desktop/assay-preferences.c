/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-preferences"

#include "assay-preferences.h"

#include "assay-app-config.h"
#include "assay-autostart.h"
#include "assay-connection-test.h"
#include "assay-onboarding.h"
#include "assay-secrets.h"
#include "assay-util.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>
#include <string.h>

struct _AssayPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;
  GCancellable *cancellable;
  AssayKey *key;
  guint busy;
  gboolean reverting_autostart;

  AdwActionRow *folder_row;
  GtkSwitch *notifications_switch;
  GtkSwitch *start_at_login_switch;
  GtkSwitch *background_switch;
  AdwComboRow *compression_row;
  GtkSpinButton *concurrency_spin;
  GtkSpinButton *bandwidth_spin;
  AdwComboRow *mode_row;
  GtkWidget *local_group;
  GtkWidget *aws_group;
  AdwEntryRow *local_dir_row;
  AdwEntryRow *engine_row;
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

G_DEFINE_FINAL_TYPE (AssayPreferencesWindow, assay_preferences_window,
                     ADW_TYPE_PREFERENCES_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The nicks of the enum keys, in the order of the combo rows' models. */
static const char *const compression_nicks[] = { "auto", "fast", "balanced", "smallest", NULL };
static const char *const mode_nicks[] = { "local", "aws", NULL };

/* ------------------------------------------------------------------------------------- */
/* Mappings                                                                              */

static gboolean
nick_to_index (GValue   *value,
               GVariant *variant,
               gpointer  user_data)
{
  const char *const *nicks = user_data;
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; nicks[i] != NULL; i++)
    if (g_str_equal (nicks[i], nick))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
index_to_nick (const GValue       *value,
               const GVariantType *expected_type,
               gpointer            user_data)
{
  const char *const *nicks = user_data;
  guint index = g_value_get_uint (value);

  if (index >= g_strv_length ((char **) nicks))
    return NULL;
  return g_variant_new_string (nicks[index]);
}

static gboolean
nick_is (GValue   *value,
         GVariant *variant,
         gpointer  user_data)
{
  g_value_set_boolean (value, g_str_equal (g_variant_get_string (variant, NULL), user_data));
  return TRUE;
}

static gboolean
bytes_to_kib (GValue   *value,
              GVariant *variant,
              gpointer  user_data)
{
  g_value_set_double (value, (double) g_variant_get_uint64 (variant) / 1024.0);
  return TRUE;
}

static GVariant *
kib_to_bytes (const GValue       *value,
              const GVariantType *expected_type,
              gpointer            user_data)
{
  double kib = g_value_get_double (value);

  if (kib < 0)
    return NULL;
  return g_variant_new_uint64 ((guint64) (kib * 1024.0 + 0.5));
}

static gboolean
uint_to_double (GValue   *value,
                GVariant *variant,
                gpointer  user_data)
{
  g_value_set_double (value, g_variant_get_uint32 (variant));
  return TRUE;
}

static GVariant *
double_to_uint (const GValue       *value,
                const GVariantType *expected_type,
                gpointer            user_data)
{
  double number = g_value_get_double (value);

  if (number < 0 || number > G_MAXUINT32)
    return NULL;
  return g_variant_new_uint32 ((guint32) (number + 0.5));
}

/* ------------------------------------------------------------------------------------- */
/* Helpers                                                                               */

static void
toast (AssayPreferencesWindow *self,
       const char             *text)
{
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (text));
}

static void
set_busy (AssayPreferencesWindow *self,
          gboolean                busy)
{
  gboolean was = self->busy > 0;

  if (busy)
    self->busy++;
  else
    {
      g_return_if_fail (self->busy > 0);
      self->busy--;
    }
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.test-connection", self->busy == 0);
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
  gtk_widget_remove_css_class (GTK_WIDGET (label), error ? "success" : "error");
  gtk_widget_add_css_class (GTK_WIDGET (label), error ? "error" : "success");
}

static void
set_key (AssayPreferencesWindow *self,
         AssayKey               *key)
{
  g_set_object (&self->key, key);
  gtk_label_set_text (self->client_id_label,
                      key != NULL ? assay_key_get_client_id (key) : _("No key yet"));
}

/* ------------------------------------------------------------------------------------- */
/* Start at login                                                                        */

static void
autostart_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(AssayPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!assay_autostart_set_finish (result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Put the switch back to what is true. */
      self->reverting_autostart = TRUE;
      g_settings_set_boolean (self->settings, "start-at-login",
                              !g_settings_get_boolean (self->settings, "start-at-login"));
      self->reverting_autostart = FALSE;
      toast (self, error->message);
    }
  set_busy (self, FALSE);
}

static void
start_at_login_changed_cb (AssayPreferencesWindow *self,
                           const char             *key,
                           GSettings              *settings)
{
  if (self->reverting_autostart)
    return;
  set_busy (self, TRUE);
  assay_autostart_set_async (g_settings_get_boolean (settings, "start-at-login"),
                             GTK_WINDOW (self), self->cancellable, autostart_cb,
                             g_object_ref (self));
}

/* ------------------------------------------------------------------------------------- */
/* Folder                                                                                */

static void
folder_chosen_cb (GFile    *file,
                  gpointer  user_data)
{
  AssayPreferencesWindow *self = user_data;
  g_autofree char *path = g_file_get_path (file);

  if (path != NULL)
    g_settings_set_string (self->settings, "watched-folder", path);
}

static void
choose_folder_action (GtkWidget  *widget,
                      const char *action,
                      GVariant   *param)
{
  AssayPreferencesWindow *self = ASSAY_PREFERENCES_WINDOW (widget);
  g_autofree char *folder = g_settings_get_string (self->settings, "watched-folder");

  _assay_choose_file (GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                      _("Choose the Folder to Watch"), _("_Select"),
                      folder[0] != '\0' ? folder : g_get_home_dir (), folder_chosen_cb,
                      g_object_ref (self), g_object_unref);
}

/* ------------------------------------------------------------------------------------- */
/* AWS secret and Test Connection                                                        */

static void
secret_stored_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(AssayPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!assay_secrets_store_finish (result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_status (self->connection_status, error->message, TRUE);
    }
  else
    {
      gtk_editable_set_text (GTK_EDITABLE (self->secret_row), "");
      toast (self, _("Secret access key saved in the keyring"));
    }
  set_busy (self, FALSE);
}

static void
secret_apply_cb (AssayPreferencesWindow *self)
{
  const char *secret = gtk_editable_get_text (GTK_EDITABLE (self->secret_row));

  if (secret[0] == '\0')
    return;
  set_busy (self, TRUE);
  assay_secrets_store_async (ASSAY_SECRET_AWS_SECRET_KEY, secret, self->cancellable,
                             secret_stored_cb, g_object_ref (self));
}

static void
connection_test_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(AssayPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  text = assay_connection_test_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_spinner_stop (self->connection_spinner);
  show_status (self->connection_status, text != NULL ? text : error->message, text == NULL);
  /* Below the form: bring it into view */
  _assay_scroll_to_end (GTK_WIDGET (self->connection_status));
  set_busy (self, FALSE);
}

static void
run_connection_test (AssayPreferencesWindow *self,
                     const char             *secret)
{
  g_autoptr(AssayConfig) config = assay_app_config_dup_aws_config (self->settings);
  g_autofree char *access_key_id = g_settings_get_string (self->settings, "access-key-id");

  g_strstrip (access_key_id);
  assay_connection_test_async (config, access_key_id, secret, self->cancellable,
                               connection_test_cb, g_object_ref (self));
}

static void
connection_secret_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(AssayPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  char *secret;

  secret = assay_secrets_lookup_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      gtk_spinner_stop (self->connection_spinner);
      show_status (self->connection_status, error->message, TRUE);
      set_busy (self, FALSE);
      return;
    }
  run_connection_test (self, secret);
  secret_password_free (secret);
}

static void
test_connection_action (GtkWidget  *widget,
                        const char *action,
                        GVariant   *param)
{
  AssayPreferencesWindow *self = ASSAY_PREFERENCES_WINDOW (widget);
  const char *typed = gtk_editable_get_text (GTK_EDITABLE (self->secret_row));

  show_status (self->connection_status, _("Testing the connection…"), FALSE);
  gtk_spinner_start (self->connection_spinner);
  set_busy (self, TRUE);
  /* A secret typed but not saved yet is tested; otherwise the keyring's. */
  if (typed[0] != '\0')
    run_connection_test (self, typed);
  else
    assay_secrets_lookup_async (ASSAY_SECRET_AWS_SECRET_KEY, self->cancellable,
                                connection_secret_cb, g_object_ref (self));
}

/* ------------------------------------------------------------------------------------- */
/* Key                                                                                   */

static void
key_lookup_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(AssayPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = NULL;
  char *pem;

  pem = assay_secrets_lookup_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (error != NULL)
    {
      show_status (self->key_status, error->message, TRUE);
      return;
    }
  if (pem == NULL)
    {
      set_key (self, NULL);
      return;
    }
  key = assay_key_new_from_pem (pem, -1, &error);
  secret_password_free (pem);
  if (key == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("The key in the keyring cannot be read (%s). "
                                                 "Import a backup."),
                                               error->message);
      show_status (self->key_status, text, TRUE);
      return;
    }
  set_key (self, key);
}

typedef struct
{
  AssayPreferencesWindow *self;
  AssayKey *key;
  char *path;
} ImportData;

static void
import_data_free (ImportData *data)
{
  g_object_unref (data->self);
  g_object_unref (data->key);
  g_free (data->path);
  g_free (data);
}

static void
key_stored_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ImportData *data = user_data;
  AssayPreferencesWindow *self = data->self;
  g_autoptr(GError) error = NULL;

  if (!assay_secrets_store_finish (result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_status (self->key_status, error->message, TRUE);
    }
  else
    {
      g_autofree char *text = g_strdup_printf (_("Imported the key from %s. Results of jobs "
                                                 "sent with the former key need that key."),
                                               data->path);
      set_key (self, data->key);
      show_status (self->key_status, text, FALSE);
      toast (self, _("Key imported"));
    }
  set_busy (self, FALSE);
  import_data_free (data);
}

static void
import_file (AssayPreferencesWindow *self,
             const char             *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayKey) key = _assay_key_backup_load (path, &error);
  g_autofree char *pem = NULL;
  ImportData *data;

  if (key != NULL)
    pem = assay_key_to_pem (key, &error);
  if (pem == NULL)
    {
      show_status (self->key_status, error->message, TRUE);
      return;
    }
  data = g_new0 (ImportData, 1);
  data->self = g_object_ref (self);
  data->key = g_steal_pointer (&key);
  data->path = g_strdup (path);
  set_busy (self, TRUE);
  assay_secrets_store_async (ASSAY_SECRET_CLIENT_KEY, pem, self->cancellable, key_stored_cb,
                             data);
  assay_wipe (pem, strlen (pem));
}

static void
export_file (AssayPreferencesWindow *self,
             const char             *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (self->key == NULL)
    {
      show_status (self->key_status, _("There is no key to export yet."), TRUE);
      return;
    }
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

  import_file (ASSAY_PREFERENCES_WINDOW (user_data), path);
}

static void
export_chosen_cb (GFile    *file,
                  gpointer  user_data)
{
  g_autofree char *path = g_file_get_path (file);

  export_file (ASSAY_PREFERENCES_WINDOW (user_data), path);
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
  import_file (ASSAY_PREFERENCES_WINDOW (widget), g_variant_get_string (param, NULL));
}

static void
export_key_to_action (GtkWidget  *widget,
                      const char *action,
                      GVariant   *param)
{
  export_file (ASSAY_PREFERENCES_WINDOW (widget), g_variant_get_string (param, NULL));
}

/* ------------------------------------------------------------------------------------- */
/* GObject                                                                               */

static void
bind_text (AssayPreferencesWindow *self,
           const char             *key,
           AdwEntryRow            *row)
{
  g_settings_bind (self->settings, key, row, "text", G_SETTINGS_BIND_DEFAULT);
}

static void
assay_preferences_window_constructed (GObject *object)
{
  AssayPreferencesWindow *self = ASSAY_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (assay_preferences_window_parent_class)->constructed (object);

  g_assert (G_IS_SETTINGS (self->settings));

  g_settings_bind (self->settings, "watched-folder", self->folder_row, "subtitle",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "notifications", self->notifications_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "start-at-login", self->start_at_login_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "run-in-background", self->background_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "compression", self->compression_row,
                                "selected", G_SETTINGS_BIND_DEFAULT, nick_to_index,
                                index_to_nick, (gpointer) compression_nicks, NULL);
  g_settings_bind_with_mapping (self->settings, "concurrency", self->concurrency_spin, "value",
                                G_SETTINGS_BIND_DEFAULT, uint_to_double, double_to_uint,
                                NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "bandwidth-limit", self->bandwidth_spin,
                                "value", G_SETTINGS_BIND_DEFAULT, bytes_to_kib, kib_to_bytes,
                                NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "store-mode", self->mode_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, nick_to_index, index_to_nick,
                                (gpointer) mode_nicks, NULL);
  g_settings_bind_with_mapping (self->settings, "store-mode", self->local_group, "visible",
                                G_SETTINGS_BIND_GET, nick_is, NULL, (gpointer) "local", NULL);
  g_settings_bind_with_mapping (self->settings, "store-mode", self->aws_group, "visible",
                                G_SETTINGS_BIND_GET, nick_is, NULL, (gpointer) "aws", NULL);
  bind_text (self, "local-store-dir", self->local_dir_row);
  bind_text (self, "engine-command", self->engine_row);
  bind_text (self, "bucket", self->bucket_row);
  bind_text (self, "region", self->region_row);
  bind_text (self, "s3-endpoint", self->s3_endpoint_row);
  bind_text (self, "dynamodb-endpoint", self->dynamodb_endpoint_row);
  bind_text (self, "jobs-table", self->jobs_table_row);
  bind_text (self, "results-table", self->results_table_row);
  bind_text (self, "access-key-id", self->access_key_id_row);

  g_signal_connect_object (self->settings, "changed::start-at-login",
                           G_CALLBACK (start_at_login_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->secret_row, "apply", G_CALLBACK (secret_apply_cb), self,
                           G_CONNECT_SWAPPED);

  set_busy (self, TRUE);
  assay_secrets_lookup_async (ASSAY_SECRET_CLIENT_KEY, self->cancellable, key_lookup_cb,
                              g_object_ref (self));
}

static void
assay_preferences_window_dispose (GObject *object)
{
  AssayPreferencesWindow *self = ASSAY_PREFERENCES_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), ASSAY_TYPE_PREFERENCES_WINDOW);

  G_OBJECT_CLASS (assay_preferences_window_parent_class)->dispose (object);
}

static void
assay_preferences_window_finalize (GObject *object)
{
  AssayPreferencesWindow *self = ASSAY_PREFERENCES_WINDOW (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->key);

  G_OBJECT_CLASS (assay_preferences_window_parent_class)->finalize (object);
}

static void
assay_preferences_window_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  AssayPreferencesWindow *self = ASSAY_PREFERENCES_WINDOW (object);

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
assay_preferences_window_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  AssayPreferencesWindow *self = ASSAY_PREFERENCES_WINDOW (object);

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
assay_preferences_window_class_init (AssayPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = assay_preferences_window_constructed;
  object_class->dispose = assay_preferences_window_dispose;
  object_class->finalize = assay_preferences_window_finalize;
  object_class->get_property = assay_preferences_window_get_property;
  object_class->set_property = assay_preferences_window_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/assay/Assay/assay-preferences.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, AssayPreferencesWindow, name)
  BIND (folder_row);
  BIND (notifications_switch);
  BIND (start_at_login_switch);
  BIND (background_switch);
  BIND (compression_row);
  BIND (concurrency_spin);
  BIND (bandwidth_spin);
  BIND (mode_row);
  BIND (local_group);
  BIND (aws_group);
  BIND (local_dir_row);
  BIND (engine_row);
  BIND (bucket_row);
  BIND (region_row);
  BIND (s3_endpoint_row);
  BIND (dynamodb_endpoint_row);
  BIND (jobs_table_row);
  BIND (results_table_row);
  BIND (access_key_id_row);
  BIND (secret_row);
  BIND (connection_spinner);
  BIND (connection_status);
  BIND (client_id_label);
  BIND (key_status);
#undef BIND

  gtk_widget_class_install_action (widget_class, "prefs.choose-folder", NULL,
                                   choose_folder_action);
  gtk_widget_class_install_action (widget_class, "prefs.test-connection", NULL,
                                   test_connection_action);
  gtk_widget_class_install_action (widget_class, "prefs.import-key", NULL, import_key_action);
  gtk_widget_class_install_action (widget_class, "prefs.export-key", NULL, export_key_action);
  gtk_widget_class_install_action (widget_class, "prefs.import-key-from", "s",
                                   import_key_from_action);
  gtk_widget_class_install_action (widget_class, "prefs.export-key-to", "s",
                                   export_key_to_action);
}

static void
assay_preferences_window_init (AssayPreferencesWindow *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
assay_preferences_window_new (GtkWindow *parent,
                              GSettings *settings)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (ASSAY_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "modal", parent != NULL,
                       "settings", settings,
                       NULL);
}

gboolean
assay_preferences_window_get_busy (AssayPreferencesWindow *self)
{
  g_return_val_if_fail (ASSAY_IS_PREFERENCES_WINDOW (self), FALSE);
  return self->busy > 0;
}
