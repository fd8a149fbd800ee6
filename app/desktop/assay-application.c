/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-application.h"

#include "assay-app-config.h"
#include "assay-onboarding.h"
#include "assay-preferences.h"
#include "assay-result-view.h"
#include "assay-window.h"
#include "assay-worker-supervisor.h"

#ifdef ASSAY_HAVE_TRAY
#include "assay-tray.h"
#endif

#include <glib/gi18n.h>
#include <glib-unix.h>

/* Settings whose change means the store, folder or uploads must be set up again. */
static const char * const restart_keys[] = {
  "watched-folder", "store-mode", "local-store-dir", "bucket", "region", "s3-endpoint",
  "dynamodb-endpoint", "jobs-table", "results-table", "access-key-id", "concurrency",
  "compression", "bandwidth-limit", "engine-command", NULL
};

struct _AssayApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  AssayJobList *jobs;
  AssayWorkerSupervisor *supervisor;
  GCancellable *loading;       /* the AssayAppConfig being loaded */
  guint restart_id;
  gboolean held;               /* running in the background */
  gboolean background;         /* --background: start without a window */
  GObject *tray;               /* AssayTray when the tray is built in */
  char *test_report;           /* --test-report=FILE */
  char *last_report;
  guint report_id;
  guint notifications;
  guint sigterm_id;
  guint sigint_id;
};

G_DEFINE_FINAL_TYPE (AssayApplication, assay_application, ADW_TYPE_APPLICATION)

static void start_jobs (AssayApplication *self);

/* ------------------------------------------------------------------------------------- */
/* The window                                                                            */

static AssayWindow *
get_window (AssayApplication *self,
            gboolean          create)
{
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));
  AssayWindow *window;

  for (GList *l = windows; l != NULL; l = l->next)
    if (ASSAY_IS_WINDOW (l->data))
      return l->data;
  if (!create)
    return NULL;
  window = assay_window_new (GTK_APPLICATION (self), self->jobs);
  assay_window_set_folder (window, g_settings_get_string (self->settings, "watched-folder"));
  g_settings_bind (self->settings, "run-in-background", window, "hide-on-close",
                   G_SETTINGS_BIND_GET);
  return window;
}

static void
present_main (AssayApplication *self)
{
  if (!g_settings_get_boolean (self->settings, "onboarding-done"))
    {
      GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));

      for (GList *l = windows; l != NULL; l = l->next)
        if (ASSAY_IS_ONBOARDING (l->data))
          {
            gtk_window_present (l->data);
            return;
          }
      gtk_window_present (GTK_WINDOW (assay_onboarding_new (GTK_APPLICATION (self),
                                                            self->settings)));
      return;
    }
  gtk_window_present (GTK_WINDOW (get_window (self, TRUE)));
}

/* ------------------------------------------------------------------------------------- */
/* Actions                                                                               */

static void
show_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       data)
{
  present_main (ASSAY_APPLICATION (data));
}

static void
pause_change_state (GSimpleAction *action,
                    GVariant      *value,
                    gpointer       data)
{
  AssayApplication *self = data;

  g_settings_set_boolean (self->settings, "paused", g_variant_get_boolean (value));
}

static void
open_folder_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       data)
{
  AssayApplication *self = data;
  g_autofree char *path = g_settings_get_string (self->settings, "watched-folder");
  g_autoptr(GFile) folder = NULL;
  g_autofree char *uri = NULL;

  if (*path == '\0')
    {
      present_main (self);
      return;
    }
  folder = g_file_new_for_path (path);
  uri = g_file_get_uri (folder);
  gtk_show_uri (GTK_WINDOW (get_window (self, FALSE)), uri, GDK_CURRENT_TIME);
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       data)
{
  AssayApplication *self = data;
  GtkWindow *parent = GTK_WINDOW (get_window (self, TRUE));

  gtk_window_present (GTK_WINDOW (assay_preferences_window_new (parent, self->settings)));
}

static void
shortcuts_action (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       data)
{
  AssayApplication *self = data;
  AssayWindow *window = get_window (self, TRUE);

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL);
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       data)
{
  AssayApplication *self = data;
  const char *developers[] = { "The Assay developers", NULL };
  GtkWidget *about = adw_about_window_new ();

  g_object_set (about,
                "transient-for", get_window (self, TRUE),
                "application-name", _("Assay"),
                "application-icon", ASSAY_APP_ID,
                "version", PACKAGE_VERSION,
                "developers", developers,
                "license-type", GTK_LICENSE_GPL_3_0,
                "comments", _("Drop files into a folder; each one is compressed, analysed "
                              "and comes back with a result only you can read."),
                "translator-credits", _("translator-credits"),
                NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       data)
{
  AssayApplication *self = data;
  GList *windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (self)));

  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_destroy (l->data);
  g_list_free (windows);
  g_application_quit (G_APPLICATION (self));
}

/* The banner's Try Again: the local processor, at once (no definitions yet, say). */
static void
restart_processor_action (GSimpleAction *action,
                          GVariant      *parameter,
                          gpointer       data)
{
  AssayApplication *self = data;

  if (self->supervisor != NULL)
    assay_worker_supervisor_retry (self->supervisor);
}

static void
show_result_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       data)
{
  AssayApplication *self = data;
  AssayWindow *window = get_window (self, TRUE);

  gtk_window_present (GTK_WINDOW (window));
  assay_window_show_result (window, g_variant_get_string (parameter, NULL));
}

static void
onboarding_done_action (GSimpleAction *action,
                        GVariant      *parameter,
                        gpointer       data)
{
  AssayApplication *self = data;

  start_jobs (self);
  gtk_window_present (GTK_WINDOW (get_window (self, TRUE)));
}

static const GActionEntry app_actions[] = {
  { "show", show_action },
  { "pause", NULL, NULL, "false", pause_change_state },
  { "open-folder", open_folder_action },
  { "preferences", preferences_action },
  { "shortcuts", shortcuts_action },
  { "about", about_action },
  { "quit", quit_action },
  { "show-result", show_result_action, "s" },
  { "restart-processor", restart_processor_action },
  { "onboarding-done", onboarding_done_action },
};

/* ------------------------------------------------------------------------------------- */
/* Notifications and the tray                                                            */

static void
notify_job (AssayApplication *self,
            AssayJobRow      *row,
            gboolean          ready)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = NULL;
  g_autofree char *body = NULL;
  const char *title;

  if (!g_settings_get_boolean (self->settings, "notifications"))
    return;
  if (ready)
    {
      title = _("Result ready");
      /* TRANSLATORS: %s is a file name */
      body = g_strdup_printf (_("The analysis of %s is done."), assay_job_row_get_file_name (row));
    }
  else if (assay_job_row_get_verdict (row) == ASSAY_JOB_ROW_VERDICT_INFECTED)
    {
      title = _("Infected file");
      body = g_strdup_printf (_("%s is infected: it was not analysed. Delete it or move it "
                                "to a safe place."), assay_job_row_get_file_name (row));
    }
  else
    {
      title = _("Analysis failed");
      body = g_strdup_printf (_("%s could not be analysed: %s"),
                              assay_job_row_get_file_name (row),
                              assay_job_row_get_detail (row));
    }
  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  if (ready && assay_job_row_get_job_id (row) != NULL)
    g_notification_set_default_action_and_target (notification, "app.show-result", "s",
                                                  assay_job_row_get_job_id (row));
  else
    g_notification_set_default_action (notification, "app.show");
  if (!ready)
    g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
  id = g_strdup_printf ("job-%s", assay_job_row_get_job_id (row) ? assay_job_row_get_job_id (row)
                                                                 : assay_job_row_get_path (row));
  g_application_send_notification (G_APPLICATION (self), id, notification);
  self->notifications++;
}

static void
result_ready_cb (AssayJobList     *jobs,
                 AssayJobRow      *row,
                 AssayApplication *self)
{
  notify_job (self, row, TRUE);
}

static void
job_failed_cb (AssayJobList     *jobs,
               AssayJobRow      *row,
               AssayApplication *self)
{
  notify_job (self, row, FALSE);
}

static void
state_cb (AssayApplication *self)
{
#ifdef ASSAY_HAVE_TRAY
  AssayTray *tray = ASSAY_TRAY (self->tray);
  g_autofree char *summary = NULL;
  AssayTrayStatus status = ASSAY_TRAY_STATUS_PASSIVE;
  const char *title = _("Assay");

  if (tray == NULL)
    return;
  summary = assay_job_list_dup_summary (self->jobs);
  switch (assay_job_list_get_state (self->jobs))
    {
    case ASSAY_JOB_LIST_WORKING:
      status = ASSAY_TRAY_STATUS_ACTIVE;
      title = _("Assay — working");
      break;
    case ASSAY_JOB_LIST_PAUSED:
      status = ASSAY_TRAY_STATUS_PASSIVE;
      title = _("Assay — paused");
      break;
    case ASSAY_JOB_LIST_ERROR:
      status = ASSAY_TRAY_STATUS_NEEDS_ATTENTION;
      title = _("Assay — needs attention");
      break;
    case ASSAY_JOB_LIST_IDLE:
    default:
      break;
    }
  assay_tray_set_status (tray, status);
  assay_tray_set_icon_name (tray, assay_job_list_get_state (self->jobs) == ASSAY_JOB_LIST_PAUSED
                                    ? "media-playback-pause-symbolic"
                                    : ASSAY_APP_ID "-symbolic");
  assay_tray_set_tooltip (tray, title, summary);
#endif
}

static void
setup_tray (AssayApplication *self)
{
#ifdef ASSAY_HAVE_TRAY
  GDBusConnection *connection = g_application_get_dbus_connection (G_APPLICATION (self));
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) section = g_menu_new ();

  if (connection == NULL)
    return;
  g_menu_append (section, _("Show Assay"), "app.show");
  g_menu_append (section, _("Pause Uploads"), "app.pause");
  g_menu_append (section, _("Open Watched Folder"), "app.open-folder");
  g_menu_append_section (menu, NULL, G_MENU_MODEL (section));
  g_menu_append (menu, _("Quit"), "app.quit");
  self->tray = G_OBJECT (assay_tray_new (connection, ASSAY_APP_ID, G_MENU_MODEL (menu),
                                         G_ACTION_GROUP (self)));
  assay_tray_set_title (ASSAY_TRAY (self->tray), _("Assay"));
  assay_tray_set_attention_icon_name (ASSAY_TRAY (self->tray), "dialog-warning-symbolic");
  assay_tray_set_activate_action (ASSAY_TRAY (self->tray), "app.show");
  state_cb (self);
#endif
}

/* ------------------------------------------------------------------------------------- */
/* Test report: the job list's state as JSON in a file, for the GUI tests                */

/* The status page (the empty state) shown in @widget, if any. */
static AdwStatusPage *
find_status_page (GtkWidget *widget)
{
  if (ADW_IS_STATUS_PAGE (widget) && gtk_widget_get_mapped (widget))
    return ADW_STATUS_PAGE (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwStatusPage *page = find_status_page (child);

      if (page != NULL)
        return page;
    }
  return NULL;
}

static gboolean
write_report_cb (gpointer data)
{
  AssayApplication *self = data;
  g_autoptr(JsonNode) root = assay_job_list_to_json (self->jobs);
  JsonObject *object = json_node_get_object (root);
  AssayWindow *window = get_window (self, FALSE);
  g_autofree char *text = NULL;

  json_object_set_boolean_member (object, "window", window != NULL &&
                                  gtk_widget_get_visible (GTK_WIDGET (window)));
  /* the texts the user reads first, in the language of the session (tests/i18n) */
  if (window != NULL)
    {
      AdwStatusPage *status = find_status_page (GTK_WIDGET (window));

      json_object_set_string_member (object, "window_title",
                                     gtk_window_get_title (GTK_WINDOW (window)));
      if (status != NULL)
        json_object_set_string_member (object, "status_title", adw_status_page_get_title (status));
    }
  json_object_set_boolean_member (object, "worker", self->supervisor != NULL &&
                                  assay_worker_supervisor_is_running (self->supervisor));
  json_object_set_int_member (object, "worker_restarts",
                              self->supervisor ? assay_worker_supervisor_get_restarts (self->supervisor) : 0);
  json_object_set_int_member (object, "notifications", self->notifications);
  if (self->supervisor != NULL && assay_worker_supervisor_get_identifier (self->supervisor))
    json_object_set_string_member (object, "worker_pid",
                                   assay_worker_supervisor_get_identifier (self->supervisor));
  {
    guint views = 0;

    for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
      views += ASSAY_IS_RESULT_VIEW (l->data) && gtk_widget_get_visible (l->data);
    json_object_set_int_member (object, "result_views", views);
  }
  json_object_set_boolean_member (object, "started", assay_job_list_is_started (self->jobs));
  if (assay_job_list_get_problem (self->jobs) != NULL)
    json_object_set_string_member (object, "problem", assay_job_list_get_problem (self->jobs));
#ifdef ASSAY_HAVE_TRAY
  json_object_set_boolean_member (object, "tray_registered",
                                  self->tray && assay_tray_get_registered (ASSAY_TRAY (self->tray)));
  if (self->tray != NULL)
    json_object_set_string_member (object, "tray_tooltip",
                                   assay_tray_get_tooltip_text (ASSAY_TRAY (self->tray)));
#endif
  text = json_to_string (root, TRUE);
  if (g_strcmp0 (text, self->last_report) != 0)
    {
      g_autoptr(GError) error = NULL;

      if (!g_file_set_contents (self->test_report, text, -1, &error))
        g_printerr ("assay: %s\n", error->message);
      g_free (self->last_report);
      self->last_report = g_steal_pointer (&text);
    }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------------------- */
/* Starting the jobs from the settings                                                   */

/* @wait: for the local worker to exit (the app's quit), rather than let it end on its own
 * (a settings change, which starts the next one at once) */
static void
stop_jobs (AssayApplication *self,
           gboolean          wait)
{
  g_cancellable_cancel (self->loading);
  g_clear_object (&self->loading);
  assay_job_list_stop (self->jobs);
  if (self->supervisor != NULL && wait)
    assay_worker_supervisor_stop (self->supervisor);
  else if (self->supervisor != NULL)
    assay_worker_supervisor_stop_in_background (self->supervisor);
  g_clear_object (&self->supervisor);
}

/* The local processor's trouble shows where the app's does, until it runs again. */
static void
supervisor_cb (AssayApplication *self)
{
  const char *problem = assay_worker_supervisor_get_problem (self->supervisor);
  GAction *restart = g_action_map_lookup_action (G_ACTION_MAP (self), "restart-processor");

  g_simple_action_set_enabled (G_SIMPLE_ACTION (restart),
                               !assay_worker_supervisor_is_running (self->supervisor) &&
                               problem != NULL);

  if (assay_worker_supervisor_is_running (self->supervisor))
    {
      if (g_strcmp0 (assay_job_list_get_problem (self->jobs), problem) == 0)
        assay_job_list_set_problem (self->jobs, NULL);
    }
  else if (problem != NULL)
    assay_job_list_set_problem (self->jobs, problem);
}

static void
config_loaded_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(AssayApplication) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AssayAppConfig) config = assay_app_config_load_finish (result, &error);
  g_autofree char *folder_path = NULL;
  g_autoptr(GFile) folder = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->loading);
  if (config == NULL)
    {
      assay_job_list_set_problem (self->jobs, error->message);
      return;
    }

  if (assay_app_config_is_local (config))
    {
      g_autofree char *engine = g_settings_get_string (self->settings, "engine-command");

      self->supervisor = assay_worker_supervisor_new (assay_app_config_get_local_dir (config),
                                                      engine);
      g_signal_connect_object (self->supervisor, "notify::running", G_CALLBACK (supervisor_cb),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->supervisor, "notify::problem", G_CALLBACK (supervisor_cb),
                               self, G_CONNECT_SWAPPED);
      if (!assay_worker_supervisor_start (self->supervisor, &error))
        {
          assay_job_list_set_problem (self->jobs, error->message);
          return;
        }
    }

  folder_path = g_settings_get_string (self->settings, "watched-folder");
  folder = g_file_new_for_path (folder_path);
  if (!assay_job_list_start (self->jobs, assay_app_config_get_store (config),
                             assay_app_config_get_key (config), folder,
                             assay_app_config_get_submit_settings (config),
                             g_settings_get_boolean (self->settings, "paused"), &error))
    {
      assay_job_list_set_problem (self->jobs, error->message);
      return;
    }
  assay_job_list_set_problem (self->jobs, NULL);
  if (self->supervisor != NULL)
    supervisor_cb (self); /* waiting for virus definitions, say */
}

static void
start_jobs (AssayApplication *self)
{
  g_autofree char *folder = NULL;
  AssayWindow *window = get_window (self, FALSE);

  stop_jobs (self, FALSE);
  if (!g_settings_get_boolean (self->settings, "onboarding-done"))
    return;
  folder = g_settings_get_string (self->settings, "watched-folder");
  if (window != NULL)
    assay_window_set_folder (window, folder);
  if (*folder == '\0')
    {
      assay_job_list_set_problem (self->jobs,
                                  _("No folder is watched. Choose one in Preferences."));
      return;
    }
  self->loading = g_cancellable_new ();
  assay_app_config_load_async (self->settings, self->loading, config_loaded_cb,
                               g_object_ref (self));
}

static gboolean
restart_cb (gpointer data)
{
  AssayApplication *self = data;

  self->restart_id = 0;
  start_jobs (self);
  return G_SOURCE_REMOVE;
}

static void
settings_changed_cb (GSettings        *settings,
                     const char       *key,
                     AssayApplication *self)
{
  if (g_str_equal (key, "paused"))
    {
      gboolean paused = g_settings_get_boolean (settings, "paused");
      GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), "pause");

      g_simple_action_set_state (G_SIMPLE_ACTION (action), g_variant_new_boolean (paused));
      assay_job_list_set_paused (self->jobs, paused);
      return;
    }
  if (g_str_equal (key, "run-in-background"))
    {
      gboolean background = g_settings_get_boolean (settings, "run-in-background");

      if (background && !self->held)
        g_application_hold (G_APPLICATION (self));
      else if (!background && self->held)
        g_application_release (G_APPLICATION (self));
      self->held = background;
      return;
    }
  if (g_strv_contains (restart_keys, key) && g_settings_get_boolean (settings, "onboarding-done"))
    {
      /* a few keys change together (Preferences, the onboarding): set up once */
      g_clear_handle_id (&self->restart_id, g_source_remove);
      self->restart_id = g_timeout_add (300, restart_cb, self);
    }
}

/* ------------------------------------------------------------------------------------- */
/* GApplication                                                                          */

/* SIGTERM and SIGINT (logout, Ctrl-C) quit as app.quit does: uploads pause, the local
 * processor stops. */
static gboolean
signal_cb (gpointer data)
{
  g_action_group_activate_action (G_ACTION_GROUP (data), "quit", NULL);
  return G_SOURCE_CONTINUE;
}

static void
assay_application_startup (GApplication *application)
{
  AssayApplication *self = ASSAY_APPLICATION (application);
  const char *quit_accels[] = { "<Control>q", NULL };
  const char *preferences_accels[] = { "<Control>comma", NULL };
  const char *pause_accels[] = { "<Control>p", NULL };
  const char *close_accels[] = { "<Control>w", NULL };
  GAction *pause;

  G_APPLICATION_CLASS (assay_application_parent_class)->startup (application);

  self->settings = g_settings_new (ASSAY_APP_ID);
  self->jobs = assay_job_list_new ();
  g_signal_connect_object (self->jobs, "result-ready", G_CALLBACK (result_ready_cb), self, 0);
  g_signal_connect_object (self->jobs, "job-failed", G_CALLBACK (job_failed_cb), self, 0);
  g_signal_connect_object (self->jobs, "notify::summary", G_CALLBACK (state_cb), self,
                           G_CONNECT_SWAPPED);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  pause = g_action_map_lookup_action (G_ACTION_MAP (self), "pause");
  g_simple_action_set_state (G_SIMPLE_ACTION (pause),
                             g_variant_new_boolean (g_settings_get_boolean (self->settings,
                                                                            "paused")));
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.pause", pause_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (settings_changed_cb), self, 0);

  if (g_settings_get_boolean (self->settings, "run-in-background"))
    {
      g_application_hold (application);
      self->held = TRUE;
    }
  setup_tray (self);
  self->sigterm_id = g_unix_signal_add (SIGTERM, signal_cb, self);
  self->sigint_id = g_unix_signal_add (SIGINT, signal_cb, self);
  if (self->test_report != NULL)
    self->report_id = g_timeout_add (100, write_report_cb, self);
  start_jobs (self);
}

static void
assay_application_activate (GApplication *application)
{
  AssayApplication *self = ASSAY_APPLICATION (application);

  if (self->background)
    {
      self->background = FALSE;  /* a later activation (the tray, a launcher) shows it */
      return;
    }
  present_main (self);
}

static void
assay_application_shutdown (GApplication *application)
{
  AssayApplication *self = ASSAY_APPLICATION (application);

  g_clear_handle_id (&self->restart_id, g_source_remove);
  g_clear_handle_id (&self->sigterm_id, g_source_remove);
  g_clear_handle_id (&self->sigint_id, g_source_remove);
  if (self->report_id != 0)
    write_report_cb (self);
  g_clear_handle_id (&self->report_id, g_source_remove);
  stop_jobs (self, TRUE);
  g_clear_object (&self->tray);

  G_APPLICATION_CLASS (assay_application_parent_class)->shutdown (application);
}

static int
assay_application_handle_local_options (GApplication *application,
                                        GVariantDict *options)
{
  AssayApplication *self = ASSAY_APPLICATION (application);
  const char *report = NULL;

  if (g_variant_dict_lookup (options, "test-report", "^&ay", &report))
    self->test_report = g_strdup (report);
  if (g_variant_dict_contains (options, "background"))
    self->background = TRUE;
  return -1;
}

static void
assay_application_dispose (GObject *object)
{
  AssayApplication *self = ASSAY_APPLICATION (object);

  g_clear_object (&self->jobs);
  g_clear_object (&self->settings);
  g_clear_object (&self->supervisor);
  g_clear_object (&self->loading);
  g_clear_object (&self->tray);

  G_OBJECT_CLASS (assay_application_parent_class)->dispose (object);
}

static void
assay_application_finalize (GObject *object)
{
  AssayApplication *self = ASSAY_APPLICATION (object);

  g_free (self->test_report);
  g_free (self->last_report);

  G_OBJECT_CLASS (assay_application_parent_class)->finalize (object);
}

static void
assay_application_class_init (AssayApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = assay_application_dispose;
  object_class->finalize = assay_application_finalize;
  app_class->startup = assay_application_startup;
  app_class->activate = assay_application_activate;
  app_class->shutdown = assay_application_shutdown;
  app_class->handle_local_options = assay_application_handle_local_options;
}

static void
assay_application_init (AssayApplication *self)
{
  const GOptionEntry entries[] = {
    { "background", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Start in the background, without a window"), NULL },
    { "test-report", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, NULL,
      "Write the job list's state as JSON to FILE while running (for tests)", "FILE" },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
}

AssayApplication *
assay_application_new (void)
{
  return g_object_new (ASSAY_TYPE_APPLICATION,
                       "application-id", ASSAY_APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/assay/Assay",
                       NULL);
}

GSettings *
assay_application_get_settings (AssayApplication *self)
{
  g_return_val_if_fail (ASSAY_IS_APPLICATION (self), NULL);
  return self->settings;
}

AssayJobList *
assay_application_get_jobs (AssayApplication *self)
{
  g_return_val_if_fail (ASSAY_IS_APPLICATION (self), NULL);
  return self->jobs;
}
