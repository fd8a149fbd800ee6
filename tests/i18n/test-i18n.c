/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The desktop app `assay` in German: started as tests/gui/test-gui.c does (under Xvfb on a
 * private session bus with a keyring, from ../gui/gui-session.sh; local mode with the real
 * assay-worker), with LANGUAGE=de and LANG=C.UTF-8 and the translations of the build tree
 * (ASSAY_LOCALEDIR). Its --test-report says the empty state's title is the German one, a
 * screenshot goes to docs/screenshots/de.png, and it quits cleanly without a warning. */
#include "config.h"

#include "app-driver.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

typedef struct
{
  char *dir;          /* everything of this run */
  char *watch;        /* the watched folder */
  char *store;
  char *report;       /* the app's --test-report */
  char *app_log;
  GSubprocess *app;
} Run;

static Run run;

/* Started, window shown with its empty state, local worker running. */
static gboolean
app_ready (JsonObject *report)
{
  return json_object_get_boolean_member_with_default (report, "started", FALSE) &&
         json_object_get_boolean_member_with_default (report, "window", FALSE) &&
         json_object_get_boolean_member_with_default (report, "worker", FALSE) &&
         json_object_has_member (report, "status_title");
}

static JsonObject *
wait_ready (guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  JsonObject *report = NULL;

  while (g_get_monotonic_time () < end)
    {
      g_clear_pointer (&report, json_object_unref);
      report = app_driver_read_report (run.report);
      if (report != NULL && app_ready (report))
        return report;
      g_assert_null (g_subprocess_get_identifier (run.app) == NULL ? "the app exited" : NULL);
      app_driver_iterate_for (100);
    }
  if (report != NULL)
    {
      g_autoptr(JsonNode) node = json_node_alloc ();
      g_autofree char *text = NULL;

      json_node_init_object (node, report);
      text = json_to_string (node, TRUE);
      g_test_message ("last report: %s", text);
    }
  g_error ("timed out waiting for the app to start");
  return NULL;
}

/* The worker refuses to start without virus definitions in the store: a tiny set. */
static void
publish_definitions (void)
{
  g_autofree char *dir = g_build_filename (run.dir, "defs", NULL);
  g_autofree char *ndb = g_build_filename (dir, "assay-test.ndb", NULL);
  g_autofree char *local = g_strconcat ("--local=", run.store, NULL);
  g_autofree char *from = g_strconcat ("--from=", dir, NULL);
  g_autoptr(GSubprocess) publish = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (ndb, "Assay.Test.Never:0:*:6e657665722d6d617463682d31\n",
                                      -1, NULL));
  publish = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, g_getenv ("ASSAY_WORKER"),
                              "defs", "publish", from, local, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (publish, NULL, &error));
  g_assert_no_error (error);
}

static void
start_app (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *work_dir = g_build_filename (run.dir, "work", NULL);
  g_autofree char *worker_args = NULL;
  g_autoptr(GError) error = NULL;

  worker_args = g_strdup_printf ("--work-dir=%s --poll-min=20ms --poll-max=200ms", work_dir);
  /* German through LANGUAGE: glibc honours it for any locale but plain "C" */
  g_subprocess_launcher_unsetenv (launcher, "LC_ALL");
  g_subprocess_launcher_unsetenv (launcher, "LC_MESSAGES");
  g_subprocess_launcher_setenv (launcher, "LANG", "C.UTF-8", TRUE);
  g_subprocess_launcher_setenv (launcher, "LANGUAGE", "de", TRUE);
  g_subprocess_launcher_setenv (launcher, "GSETTINGS_BACKEND", "keyfile", TRUE);
  g_subprocess_launcher_setenv (launcher, "ASSAY_WORKER_ARGS", worker_args, TRUE);
  g_subprocess_launcher_setenv (launcher, "GSK_RENDERER", "cairo", TRUE);
  g_subprocess_launcher_setenv (launcher, "GDK_BACKEND", "x11", TRUE);
  /* no AT-SPI bus: its registry, activated on this bus, would write on the TAP stream */
  g_subprocess_launcher_setenv (launcher, "GTK_A11Y", "none", TRUE);
  g_subprocess_launcher_setenv (launcher, "G_DEBUG", "fatal-warnings", TRUE);
  g_subprocess_launcher_set_stderr_file_path (launcher, run.app_log);
  g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/null");
  g_subprocess_launcher_set_child_setup (launcher, app_driver_child_setup, NULL, NULL);
  run.app = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("ASSAY_DESKTOP"),
                                         "--test-report", run.report, NULL);
  g_assert_no_error (error);
}

/* The translation is built where ASSAY_LOCALEDIR says. */
static void
test_catalog (void)
{
  g_autofree char *mo = g_build_filename (g_getenv ("ASSAY_LOCALEDIR"), "de", "LC_MESSAGES",
                                          GETTEXT_PACKAGE ".mo", NULL);

  g_assert_true (g_file_test (mo, G_FILE_TEST_IS_REGULAR));
}

/* The main window's empty state and the tray's tooltip are in German. */
static void
test_german (void)
{
  g_autoptr(JsonObject) report = NULL;

  app_driver_write_settings (run.watch, run.store, NULL);
  app_driver_store_key ();
  publish_definitions ();
  start_app ();

  report = wait_ready (30);
  g_assert_null (json_object_get_member (report, "problem"));
  g_assert_cmpstr (json_object_get_string_member (report, "window_title"), ==, "Assay");
  /* "No Files Yet" */
  g_assert_cmpstr (json_object_get_string_member (report, "status_title"), ==,
                   "Noch keine Dateien");
  /* "Watching for new files": the job list's summary, and the tray's tooltip */
  g_assert_cmpstr (json_object_get_string_member (report, "summary"), ==,
                   "Auf neue Dateien wird gewartet");
  if (json_object_has_member (report, "tray_tooltip"))
    g_assert_cmpstr (json_object_get_string_member (report, "tray_tooltip"), ==,
                     "Auf neue Dateien wird gewartet");
  app_driver_screenshot ("de", TRUE);
}

/* app.quit: exit status 0, nothing logged at warning level or worse. */
static void
test_quit (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;

  g_assert_nonnull (run.app);
  reply = g_dbus_connection_call_sync (bus, "io.github.assay.Assay", "/io/github/assay/Assay",
                                       "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", "quit", NULL, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (run.app, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (run.app_log, &log, NULL, NULL));
  g_test_message ("app log: %s", log ? log : "");
  g_assert_true (g_subprocess_get_if_exited (run.app));
  g_assert_cmpint (g_subprocess_get_exit_status (run.app), ==, 0);
  g_assert_null (strstr (log, "WARNING"));
  g_assert_null (strstr (log, "CRITICAL"));
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);

  run.dir = g_dir_make_tmp ("assay-i18n-XXXXXX", &error);
  g_assert_no_error (error);
  run.watch = g_build_filename (run.dir, "Assay", NULL);
  run.store = g_build_filename (run.dir, "store", NULL);
  run.report = g_build_filename (run.dir, "report.json", NULL);
  run.app_log = g_build_filename (run.dir, "app.log", NULL);
  g_mkdir_with_parents (run.watch, 0700);

  g_test_add_func ("/i18n/app/catalog", test_catalog);
  g_test_add_func ("/i18n/app/german", test_german);
  g_test_add_func ("/i18n/app/quit", test_quit);
  rc = g_test_run ();

  if (run.app != NULL && g_subprocess_get_identifier (run.app) != NULL)
    g_subprocess_force_exit (run.app);
  if (g_getenv ("ASSAY_TEST_KEEP") == NULL)
    {
      g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf",
                                                    run.dir, NULL);

      if (rm != NULL)
        g_subprocess_wait (rm, NULL, NULL);
    }
  return rc;
}
