/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The desktop app `assay` end to end, under Xvfb on a private session bus (gui-session.sh):
 * local mode with the real assay-worker, a file dropped into the watched folder becomes a
 * row that reaches PROCESSED with its result; a mock notification daemon gets "Result
 * ready"; a mock StatusNotifierWatcher sees the tray item, whose menu's Pause pauses; the
 * app logs no warning (it runs with G_DEBUG=fatal-warnings) and quits cleanly. The app's
 * state is read from its hidden --test-report file. Screenshots of the empty state, a job
 * uploading and a result go to the build folder and docs/screenshots/. */
#include "config.h"

#include "app-driver.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdlib.h>

typedef struct
{
  char *dir;              /* everything of this run */
  char *watch;            /* the watched folder */
  char *store;
  char *report;           /* the app's --test-report */
  char *app_log;
  char *notify_log;
  char *worker_log;
  GSubprocess *app;
  GSubprocess *notifyd;
  GSubprocess *sni;
  char *job;              /* the job of the dropped file */
} Gui;

static Gui gui;

typedef gboolean (*ReportCheck) (JsonObject *report,
                                 gpointer    data);

/* Waits until @check holds for the app's report. Fails with the last report. */
static JsonObject *
wait_report (ReportCheck  check,
             gpointer     data,
             guint        timeout_s,
             const char  *what)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  JsonObject *report = NULL;

  while (g_get_monotonic_time () < end)
    {
      g_clear_pointer (&report, json_object_unref);
      report = app_driver_read_report (gui.report);
      if (report != NULL && check (report, data))
        return report;
      g_assert_null (g_subprocess_get_identifier (gui.app) == NULL ? "the app exited" : NULL);
      app_driver_iterate_for (100);
    }
  if (report != NULL)
    {
      JsonNode *node = json_node_alloc ();
      g_autofree char *text = NULL;

      json_node_init_object (node, report);
      text = json_to_string (node, TRUE);
      g_test_message ("last report: %s", text);
      json_node_unref (node);
    }
  g_error ("timed out waiting for %s", what);
  return NULL;
}

static JsonObject *
first_job (JsonObject *report)
{
  JsonArray *jobs = json_object_get_array_member (report, "jobs");

  if (jobs == NULL || json_array_get_length (jobs) == 0)
    return NULL;
  return json_array_get_object_element (jobs, 0);
}

static GSubprocess *
spawn_mock (const char *template,
            const char *log)
{
  g_autoptr(GError) error = NULL;
  const char *python = g_getenv ("ASSAY_TEST_PYTHON") ?: "/usr/bin/python3";
  GSubprocess *process;

  if (log != NULL)
    process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, python, "-m", "dbusmock",
                                "--template", template, "-l", log, NULL);
  else
    process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, python, "-m", "dbusmock",
                                "--template", template, NULL);
  g_assert_no_error (error);
  return process;
}

static gboolean
name_has_owner (const char *name)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = FALSE;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

static void
wait_name (const char *name)
{
  for (guint i = 0; i < 200 && !name_has_owner (name); i++)
    app_driver_iterate_for (50);
  g_assert_true (name_has_owner (name));
}

/* The worker refuses to start without virus definitions in the store: a tiny set (one
 * .ndb rule that matches nothing here) where the system's ClamAV databases would be
 * ($ASSAY_SYSTEM_DEFS_DIR for /var/lib/clamav), which the app publishes in its fresh
 * store itself. */
static void
write_definitions (void)
{
  g_autofree char *dir = g_build_filename (gui.dir, "defs", NULL);
  g_autofree char *ndb = g_build_filename (dir, "assay-test.ndb", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (ndb, "Assay.Test.Never:0:*:6e657665722d6d617463682d31\n"
                                      /* "assay-infected-marker" */
                                      "Assay.Test.Infected:0:*:"
                                      "61737361792d696e6665637465642d6d61726b6572\n",
                                      -1, NULL));
}

static gboolean
app_ready (JsonObject *report,
           gpointer    data)
{
  return json_object_get_boolean_member_with_default (report, "started", FALSE) &&
         json_object_get_boolean_member_with_default (report, "window", FALSE) &&
         json_object_get_boolean_member_with_default (report, "worker", FALSE) &&
         json_object_get_boolean_member_with_default (report, "tray_registered", FALSE);
}

static void
start_app (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *worker_args = NULL;
  g_autofree char *work_dir = g_build_filename (gui.dir, "work", NULL);
  g_autofree char *defs_dir = g_build_filename (gui.dir, "defs", NULL);
  g_autoptr(GError) error = NULL;

  g_clear_object (&gui.app);
  g_unlink (gui.report);

  worker_args = g_strdup_printf ("--work-dir=%s --poll-min=20ms --poll-max=200ms %s", work_dir,
                                 g_getenv ("ASSAY_TEST_WORKER_ARGS") ?: "");
  g_subprocess_launcher_setenv (launcher, "GSETTINGS_BACKEND", "keyfile", TRUE);
  g_subprocess_launcher_setenv (launcher, "ASSAY_WORKER_ARGS", worker_args, TRUE);
  g_subprocess_launcher_setenv (launcher, "ASSAY_SETTLE_MS", "300", TRUE);
  g_subprocess_launcher_setenv (launcher, "ASSAY_SYSTEM_DEFS_DIR", defs_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "GSK_RENDERER", "cairo", TRUE);
  g_subprocess_launcher_setenv (launcher, "GDK_BACKEND", "x11", TRUE);
  /* no AT-SPI bus: its registry, activated on this bus, would write on the TAP stream */
  g_subprocess_launcher_setenv (launcher, "GTK_A11Y", "none", TRUE);
  g_subprocess_launcher_setenv (launcher, "G_DEBUG", "fatal-warnings", TRUE);
  g_subprocess_launcher_set_stderr_file_path (launcher, gui.app_log);
  /* the worker's JSON events (it inherits the app's standard output) */
  g_subprocess_launcher_set_stdout_file_path (launcher, gui.worker_log);
  g_subprocess_launcher_set_child_setup (launcher, app_driver_child_setup, NULL, NULL);
  gui.app = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("ASSAY_DESKTOP"),
                                         "--test-report", gui.report, NULL);
  g_assert_no_error (error);
}

/* The app starts in local mode, on a fresh store: the system's virus definitions
 * published, window shown, worker running, tray registered, no problem, no job yet. */
static void
test_start (void)
{
  g_autoptr(JsonObject) report = NULL;

  gui.notifyd = spawn_mock ("notification_daemon", gui.notify_log);
  gui.sni = spawn_mock (g_test_get_filename (G_TEST_DIST, "..", "tray", "sni-watcher.py", NULL),
                        NULL);
  wait_name ("org.freedesktop.Notifications");
  wait_name ("org.kde.StatusNotifierWatcher");
  app_driver_write_settings (gui.watch, gui.store,
                             /* 4 MiB/s: a 20 MiB file uploads in three chunks over about
                              * four seconds */
                             "bandwidth-limit=uint64 4194304\n");
  app_driver_store_key ();
  write_definitions ();
  start_app ();

  report = wait_report (app_ready, NULL, 30, "the app to start");
  g_assert_null (json_object_get_member (report, "problem"));
  /* the app published the system's definitions in its fresh store */
  {
    g_autofree char *manifest = g_build_filename (gui.store, "objects", "defs", "manifest.json",
                                                  NULL);

    g_assert_true (g_file_test (manifest, G_FILE_TEST_EXISTS));
    g_assert_cmpint (json_object_get_int_member (report, "worker_restarts"), ==, 0);
  }
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (report, "jobs")), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (report, "state"), ==, "idle");
  app_driver_screenshot ("empty-state", TRUE);
}

static gboolean
job_uploading (JsonObject *report,
               gpointer    data)
{
  JsonObject *job = first_job (report);

  return job != NULL && g_strcmp0 (json_object_get_string_member (job, "status"), "uploading") == 0 &&
         json_object_get_double_member (job, "progress") > 0.2 &&
         json_object_get_double_member (job, "progress") < 0.9;
}

static gboolean
job_processed (JsonObject *report,
               gpointer    data)
{
  JsonObject *job = first_job (report);

  if (job != NULL && g_strcmp0 (json_object_get_string_member (job, "status"), "failed") == 0)
    g_error ("the job failed: %s", json_object_get_string_member (job, "error_code"));
  return job != NULL && g_strcmp0 (json_object_get_string_member (job, "status"), "processed") == 0 &&
         json_object_get_boolean_member (job, "has_result");
}

/* A file dropped into the folder (written elsewhere, then renamed in) becomes a row that
 * uploads with progress, then reaches PROCESSED with its result decrypted. */
static void
test_job (void)
{
  g_autofree char *tmp = g_build_filename (gui.dir, "sample.bin", NULL);
  g_autofree char *path = g_build_filename (gui.watch, "sample.bin", NULL);
  g_autoptr(JsonObject) uploading = NULL;
  g_autoptr(JsonObject) processed = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = 20 * 1024 * 1024;
  g_autofree guint32 *data = g_new (guint32, size / 4);
  JsonObject *job;

  for (gsize i = 0; i < size / 4; i++)
    data[i] = g_random_int ();
  g_file_set_contents (tmp, (const char *) data, size, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_rename (tmp, path), ==, 0);

  uploading = wait_report (job_uploading, NULL, 60, "the file to upload");
  job = first_job (uploading);
  g_assert_cmpstr (json_object_get_string_member (job, "file"), ==, "sample.bin");
  g_assert_cmpint (json_object_get_int_member (job, "size"), ==, size);
  g_assert_cmpstr (json_object_get_string_member (uploading, "state"), ==, "working");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (uploading, "tray_tooltip"),
                                   "0 of 1 file"));
  app_driver_screenshot ("job-progress", TRUE);

  processed = wait_report (job_processed, NULL, 120, "the job to be processed");
  job = first_job (processed);
  g_assert_cmpstr (json_object_get_string_member (job, "verdict"), ==, "clean");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (job, "job"), "job-"));
  gui.job = g_strdup (json_object_get_string_member (job, "job"));
}

static gboolean
result_shown (JsonObject *report,
              gpointer    data)
{
  return json_object_get_int_member_with_default (report, "result_views", 0) == 1;
}

/* The result view opens through app.show-result (the notification's default action). */
static void
test_result (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder params;

  g_assert_nonnull (gui.job);
  g_variant_builder_init (&params, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&params, "v", g_variant_new_string (gui.job));
  reply = g_dbus_connection_call_sync (bus, "io.github.assay.Assay", "/io/github/assay/Assay",
                                       "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", "show-result", &params, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  g_assert_no_error (error);
  report = wait_report (result_shown, NULL, 10, "the result view");
  app_driver_screenshot ("result", TRUE);
}

/* The mock notification daemon was asked to show "Result ready". */
static void
test_notification (void)
{
  g_autofree char *log = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (gui.notify_log, &log, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("notification daemon log: %s", log);
  g_assert_nonnull (strstr (log, "Notify"));
  g_assert_nonnull (strstr (log, "Result ready"));
  g_assert_nonnull (strstr (log, "sample.bin"));
}

static void
activate_action (const char *name,
                 GVariant   *parameter)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder params;

  g_variant_builder_init (&params, G_VARIANT_TYPE ("av"));
  if (parameter != NULL)
    g_variant_builder_add (&params, "v", parameter);
  reply = g_dbus_connection_call_sync (bus, "io.github.assay.Assay", "/io/github/assay/Assay",
                                       "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", name, &params, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  g_assert_no_error (error);
}

static gboolean
job_infected (JsonObject *report,
              gpointer    data)
{
  JsonObject *job = first_job (report);

  return job != NULL && g_strcmp0 (json_object_get_string_member (job, "file"), "infected.txt") == 0 &&
         g_strcmp0 (json_object_get_string_member (job, "status"), "failed") == 0;
}

/* A file the scan finds infected ends in ERROR INFECTED: the row is marked, and a
 * notification says so. */
static void
test_infected (void)
{
  g_autofree char *tmp = g_build_filename (gui.dir, "infected.txt", NULL);
  g_autofree char *path = g_build_filename (gui.watch, "infected.txt", NULL);
  g_autoptr(JsonObject) report = NULL;
  g_autofree char *log = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *job;

  g_file_set_contents (tmp, "a test file: assay-infected-marker\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_rename (tmp, path), ==, 0);
  report = wait_report (job_infected, NULL, 60, "the infected file's job to fail");
  job = first_job (report);
  g_assert_cmpstr (json_object_get_string_member (job, "error_code"), ==, "INFECTED");
  g_assert_cmpstr (json_object_get_string_member (job, "verdict"), ==, "infected");
  g_assert_false (json_object_get_boolean_member (job, "has_result"));
  g_assert_cmpstr (json_object_get_string_member (report, "state"), ==, "error");
  activate_action ("show", NULL);  /* the main window over the result view */
  app_driver_screenshot ("infected", FALSE);
  app_driver_iterate_for (500);
  g_file_get_contents (gui.notify_log, &log, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (log, "Infected file"));
  g_assert_nonnull (strstr (log, "infected.txt"));
}

static gboolean
worker_restarted (JsonObject *report,
                  gpointer    data)
{
  return json_object_get_int_member_with_default (report, "worker_restarts", 0) >= 1 &&
         json_object_get_boolean_member_with_default (report, "worker", FALSE) &&
         g_strcmp0 (json_object_get_string_member_with_default (report, "worker_pid", ""),
                    data) != 0;
}

/* The local processor is started again when it dies. */
static void
test_worker_restart (void)
{
  g_autoptr(JsonObject) report = app_driver_read_report (gui.report);
  g_autoptr(JsonObject) after = NULL;
  g_autofree char *pid = NULL;

  g_assert_nonnull (report);
  pid = g_strdup (json_object_get_string_member_with_default (report, "worker_pid", ""));
  g_assert_cmpint (atoi (pid), >, 1);
  g_assert_cmpint (kill (atoi (pid), SIGKILL), ==, 0);
  after = wait_report (worker_restarted, pid, 20, "the worker to be restarted");
  /* its trouble was shown while it was down, and is gone now that it runs */
  g_assert_null (json_object_get_member (after, "problem"));
}

static gboolean
paused (JsonObject *report,
        gpointer    data)
{
  return json_object_get_boolean_member (report, "paused") &&
         g_strcmp0 (json_object_get_string_member (report, "state"), "paused") == 0 &&
         g_strcmp0 (json_object_get_string_member_with_default (report, "tray_tooltip", ""),
                    "Paused") == 0;
}

/* Looks for the item labelled @label in a dbusmenu layout (ia{sv}av). */
static gint32
find_item (GVariant   *layout,
           const char *label)
{
  gint32 id;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) children = NULL;
  const char *text = NULL;

  g_variant_get (layout, "(i@a{sv}@av)", &id, &props, &children);
  if (g_variant_lookup (props, "label", "&s", &text) && g_strcmp0 (text, label) == 0)
    return id;
  for (gsize i = 0; i < g_variant_n_children (children); i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (children, i);
      g_autoptr(GVariant) child = g_variant_get_variant (boxed);
      gint32 found = find_item (child, label);

      if (found >= 0)
        return found;
    }
  return -1;
}

/* The tray item registered with the watcher; its menu's Pause item pauses the uploads. */
static void
test_tray_pause (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GVariant) owner = NULL;
  g_autoptr(GVariant) layout = NULL;
  g_autoptr(GVariant) root = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(JsonObject) report = NULL;
  g_autoptr(GError) error = NULL;
  const char *app_name;
  gint32 pause_id;
  guint revision;

  items = g_dbus_connection_call_sync (bus, "org.kde.StatusNotifierWatcher",
                                       "/StatusNotifierWatcher", "org.freedesktop.DBus.Properties",
                                       "Get", g_variant_new ("(ss)", "org.kde.StatusNotifierWatcher",
                                                             "RegisteredStatusNotifierItems"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL,
                                       &error);
  g_assert_no_error (error);
  owner = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner",
                                       g_variant_new ("(s)", "io.github.assay.Assay"),
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL,
                                       &error);
  g_assert_no_error (error);
  g_variant_get (owner, "(&s)", &app_name);
  {
    g_autoptr(GVariant) value = NULL;
    g_autofree char *text = NULL;

    g_variant_get (items, "(v)", &value);
    text = g_variant_print (value, FALSE);
    g_test_message ("registered items: %s (app: %s)", text, app_name);
    g_assert_nonnull (strstr (text, app_name));
  }

  layout = g_dbus_connection_call_sync (bus, app_name, "/MenuBar", "com.canonical.dbusmenu",
                                        "GetLayout", g_variant_new ("(ii^as)", 0, -1, (const char *[]) { NULL }),
                                        G_VARIANT_TYPE ("(u(ia{sv}av))"), G_DBUS_CALL_FLAGS_NONE,
                                        5000, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (layout, "(u@(ia{sv}av))", &revision, &root);
  pause_id = find_item (root, "Pause Uploads");
  g_assert_cmpint (pause_id, >, 0);
  reply = g_dbus_connection_call_sync (bus, app_name, "/MenuBar", "com.canonical.dbusmenu",
                                       "Event", g_variant_new ("(isvu)", pause_id, "clicked",
                                                               g_variant_new_int32 (0), 0),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  g_assert_no_error (error);
  report = wait_report (paused, NULL, 10, "the pause from the tray");
}

static gboolean
later_processed (JsonObject *report,
                 gpointer    data)
{
  JsonObject *job = first_job (report);

  return !json_object_get_boolean_member (report, "paused") && job != NULL &&
         g_strcmp0 (json_object_get_string_member (job, "file"), "later.bin") == 0 &&
         g_strcmp0 (json_object_get_string_member (job, "status"), "processed") == 0 &&
         json_object_get_boolean_member (job, "has_result");
}

static void
drop_later (void)
{
  g_autofree char *tmp = g_build_filename (gui.dir, "later.bin", NULL);
  g_autofree char *path = g_build_filename (gui.watch, "later.bin", NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (tmp, "dropped while paused\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_rename (tmp, path), ==, 0);
}

/* While paused, a new file waits: no row, no upload. */
static void
test_paused_drop (void)
{
  g_autoptr(JsonObject) report = NULL;

  drop_later ();
  app_driver_iterate_for (2000);  /* four settle times */
  report = app_driver_read_report (gui.report);
  g_assert_nonnull (report);
  g_assert_true (json_object_get_boolean_member (report, "paused"));
  g_assert_cmpstr (json_object_get_string_member (first_job (report), "file"), !=, "later.bin");
}

/* The secondary windows open without a warning (G_DEBUG=fatal-warnings would abort). */
static void
test_windows (void)
{
  const char *actions[] = { "shortcuts", "about", "preferences" };

  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    {
      activate_action (actions[i], NULL);
      app_driver_iterate_for (700);
      g_assert_nonnull (g_subprocess_get_identifier (gui.app));
      app_driver_screenshot (actions[i], FALSE);
    }
}

/* app.quit: the app and its worker stop, exit status 0, and nothing was logged at
 * warning level or worse (G_DEBUG=fatal-warnings would also have aborted it). */
static void
test_quit (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;

  reply = g_dbus_connection_call_sync (bus, "io.github.assay.Assay", "/io/github/assay/Assay",
                                       "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", "quit", NULL, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (gui.app, NULL, &error));
  g_assert_no_error (error);
  g_file_get_contents (gui.app_log, &log, NULL, NULL);
  g_test_message ("app log: %s", log ? log : "");
  g_assert_true (g_subprocess_get_if_exited (gui.app));
  g_assert_cmpint (g_subprocess_get_exit_status (gui.app), ==, 0);
  g_assert_null (strstr (log, "WARNING"));
  g_assert_null (strstr (log, "CRITICAL"));
  g_assert_null (strstr (log, "ERROR"));
}

static gboolean
history_listed (JsonObject *report,
                gpointer    data)
{
  JsonArray *jobs = json_object_get_array_member (report, "jobs");
  gboolean processed = FALSE, infected = FALSE;

  for (guint i = 0; jobs != NULL && i < json_array_get_length (jobs); i++)
    {
      JsonObject *job = json_array_get_object_element (jobs, i);
      const char *file = json_object_get_string_member (job, "file");
      const char *status = json_object_get_string_member (job, "status");

      /* its result is not fetched (nor decrypted) until it is shown */
      processed |= g_strcmp0 (file, "sample.bin") == 0 && g_strcmp0 (status, "processed") == 0 &&
                   !json_object_get_boolean_member (job, "has_result");
      infected |= g_strcmp0 (file, "infected.txt") == 0 && g_strcmp0 (status, "failed") == 0;
    }
  return json_object_get_boolean_member_with_default (report, "started", FALSE) && processed &&
         infected;
}

static gboolean
history_result_shown (JsonObject *report,
                      gpointer    data)
{
  JsonArray *jobs = json_object_get_array_member (report, "jobs");
  gboolean fetched = FALSE;

  for (guint i = 0; jobs != NULL && i < json_array_get_length (jobs); i++)
    {
      JsonObject *job = json_array_get_object_element (jobs, i);

      fetched |= g_strcmp0 (json_object_get_string_member (job, "file"), "sample.bin") == 0 &&
                 json_object_get_boolean_member (job, "has_result");
    }
  return fetched && json_object_get_int_member_with_default (report, "result_views", 0) == 1;
}

/* Started again, the app lists the jobs of its journal with their outcome, fetches a
 * result when it is asked to show it, and is still paused (the setting). */
static void
test_history (void)
{
  g_autoptr(JsonObject) report = NULL;
  guint notifications;

  start_app ();
  report = wait_report (history_listed, NULL, 30, "the jobs of the journal");
  g_assert_true (json_object_get_boolean_member (report, "paused"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (report, "jobs")), ==, 2);
  /* jobs that were already final are not announced again */
  notifications = json_object_get_int_member (report, "notifications");
  g_assert_cmpuint (notifications, ==, 0);

  /* Show Result on a job of the history: fetched, decrypted, shown */
  {
    g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
    g_autoptr(GVariant) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonObject) shown = NULL;
    GVariantBuilder params;

    g_variant_builder_init (&params, G_VARIANT_TYPE ("av"));
    g_variant_builder_add (&params, "v", g_variant_new_string (gui.job));
    reply = g_dbus_connection_call_sync (bus, "io.github.assay.Assay", "/io/github/assay/Assay",
                                         "org.gtk.Actions", "Activate",
                                         g_variant_new ("(sava{sv})", "show-result", &params,
                                                        NULL),
                                         NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
    g_assert_no_error (error);
    shown = wait_report (history_result_shown, NULL, 15, "the result of a job of the history");
  }

  /* resumed (the tray's and the menu's stateful app.pause): the waiting file goes */
  {
    g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
    g_autoptr(GVariant) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonObject) resumed = NULL;

    reply = g_dbus_connection_call_sync (bus, "io.github.assay.Assay", "/io/github/assay/Assay",
                                         "org.gtk.Actions", "SetState",
                                         g_variant_new ("(sva{sv})", "pause",
                                                        g_variant_new_boolean (FALSE), NULL),
                                         NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
    g_assert_no_error (error);
    resumed = wait_report (later_processed, NULL, 60, "the file dropped while paused");
  }
  test_quit ();
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);

  gui.dir = g_dir_make_tmp ("assay-gui-XXXXXX", &error);
  g_assert_no_error (error);
  gui.watch = g_build_filename (gui.dir, "Assay", NULL);
  gui.store = g_build_filename (gui.dir, "store", NULL);
  gui.report = g_build_filename (gui.dir, "report.json", NULL);
  gui.app_log = g_build_filename (gui.dir, "app.log", NULL);
  gui.notify_log = g_build_filename (gui.dir, "notifications.log", NULL);
  gui.worker_log = g_build_filename (gui.dir, "worker.log", NULL);
  g_mkdir_with_parents (gui.watch, 0700);

  g_test_add_func ("/gui/app/start", test_start);
  g_test_add_func ("/gui/app/job", test_job);
  g_test_add_func ("/gui/app/result", test_result);
  g_test_add_func ("/gui/app/notification", test_notification);
  g_test_add_func ("/gui/app/infected", test_infected);
  g_test_add_func ("/gui/app/worker-restart", test_worker_restart);
  g_test_add_func ("/gui/app/tray-pause", test_tray_pause);
  g_test_add_func ("/gui/app/paused-drop", test_paused_drop);
  g_test_add_func ("/gui/app/windows", test_windows);
  g_test_add_func ("/gui/app/quit", test_quit);
  g_test_add_func ("/gui/app/history", test_history);
  rc = g_test_run ();

  if (gui.app != NULL && g_subprocess_get_identifier (gui.app) != NULL)
    g_subprocess_force_exit (gui.app);
  if (gui.notifyd != NULL)
    g_subprocess_force_exit (gui.notifyd);
  if (gui.sni != NULL)
    g_subprocess_force_exit (gui.sni);
  if (g_getenv ("ASSAY_TEST_KEEP") == NULL)
    {
      g_autoptr(GFile) dir = g_file_new_for_path (gui.dir);
      g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf",
                                                    gui.dir, NULL);

      if (rm != NULL)
        g_subprocess_wait (rm, NULL, NULL);
    }
  return rc;
}
