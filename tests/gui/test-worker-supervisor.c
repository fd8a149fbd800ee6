/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AssayWorkerSupervisor with the real assay-worker, without a display: on a fresh local
 * store it publishes the system's virus definitions before it starts the worker; without
 * any it says what to do instead of restarting the worker in a loop; and a worker that
 * stops shows its own last words. */
#include "config.h"

#include "assay-worker-supervisor.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  char *dir;
  char *store;
  char *defs;    /* $ASSAY_SYSTEM_DEFS_DIR */
  guint started; /* times ::running became TRUE */
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("assay-supervisor-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = g_build_filename (f->dir, "store", NULL);
  f->defs = g_build_filename (f->dir, "clamav", NULL);
  g_assert_cmpint (g_mkdir (f->defs, 0700), ==, 0);
  g_setenv ("ASSAY_WORKER", ASSAY_TEST_WORKER, TRUE);
  g_setenv ("ASSAY_SYSTEM_DEFS_DIR", f->defs, TRUE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSubprocess) rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf",
                                                f->dir, NULL);

  g_subprocess_wait (rm, NULL, NULL);
  g_free (f->store);
  g_free (f->defs);
  g_free (f->dir);
}

static void
running_cb (AssayWorkerSupervisor *supervisor,
            GParamSpec            *pspec,
            Fixture               *f)
{
  f->started += assay_worker_supervisor_is_running (supervisor);
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main context until @check holds (at most 30 s), or for @ms when @check is NULL. */
static void
run_until (gboolean (*check) (AssayWorkerSupervisor *, Fixture *),
           AssayWorkerSupervisor *supervisor,
           Fixture               *f,
           guint                  ms)
{
  gint64 end = g_get_monotonic_time () + (check ? 30000 : ms) * (gint64) 1000;
  guint tick = g_timeout_add (20, tick_cb, NULL);

  while (g_get_monotonic_time () < end && (check == NULL || !check (supervisor, f)))
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  if (check != NULL)
    g_assert_true (check (supervisor, f));
}

/* A tiny set of definitions, as freshclam would leave in /var/lib/clamav. */
static void
write_definitions (Fixture *f)
{
  g_autofree char *ndb = g_build_filename (f->defs, "assay-test.ndb", NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (ndb, "Assay.Test.Never:0:*:6e657665722d6d617463682d31\n", -1, &error);
  g_assert_no_error (error);
}

static gboolean
published_and_started (AssayWorkerSupervisor *supervisor,
                       Fixture               *f)
{
  return f->started > 0;
}

static void
stop_and_free (AssayWorkerSupervisor *supervisor)
{
  GWeakRef ref;

  assay_worker_supervisor_stop (supervisor);
  g_assert_false (assay_worker_supervisor_is_running (supervisor));
  /* the reading of its standard error lets go once the pipe ends */
  g_weak_ref_init (&ref, supervisor);
  g_object_unref (supervisor);
  for (guint i = 0; i < 500; i++)
    {
      g_autoptr(GObject) alive = g_weak_ref_get (&ref);

      if (alive == NULL)
        break;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
    }
  g_assert_null (g_weak_ref_get (&ref));
  g_weak_ref_clear (&ref);
}

/* Without definitions anywhere: a clear problem, no restarts; once the system has some,
 * Retry publishes them and the worker starts. */
static void
test_definitions (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *work = g_build_filename (f->dir, "work", NULL);
  g_autofree char *args = g_strdup_printf ("--work-dir=%s --engine-exec=/bin/true", work);
  g_autofree char *manifest = g_build_filename (f->store, "objects", "defs", "manifest.json",
                                                NULL);
  AssayWorkerSupervisor *supervisor = NULL;
  g_autoptr(GError) error = NULL;

  g_setenv ("ASSAY_WORKER_ARGS", args, TRUE);
  supervisor = assay_worker_supervisor_new (f->store, NULL);
  g_signal_connect (supervisor, "notify::running", G_CALLBACK (running_cb), f);
  g_assert_true (assay_worker_supervisor_start (supervisor, &error));
  g_assert_no_error (error);
  g_assert_false (assay_worker_supervisor_is_running (supervisor));
  g_assert_nonnull (strstr (assay_worker_supervisor_get_problem (supervisor),
                            "No virus definitions"));
  g_assert_nonnull (strstr (assay_worker_supervisor_get_problem (supervisor),
                            "clamav-freshclam"));

  /* nothing is started in a loop meanwhile */
  run_until (NULL, supervisor, f, 1500);
  g_assert_cmpuint (f->started, ==, 0);
  g_assert_cmpuint (assay_worker_supervisor_get_restarts (supervisor), ==, 0);

  /* freshclam ran: Retry publishes its databases in the store, then starts the worker */
  write_definitions (f);
  assay_worker_supervisor_retry (supervisor);
  run_until (published_and_started, supervisor, f, 0);
  g_assert_true (g_file_test (manifest, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (assay_worker_supervisor_get_restarts (supervisor), ==, 0);

  stop_and_free (supervisor);
}

static gboolean
said_why (AssayWorkerSupervisor *supervisor,
          Fixture               *f)
{
  const char *problem = assay_worker_supervisor_get_problem (supervisor);

  return problem != NULL && strstr (problem, "Unknown option --no-such-option") != NULL;
}

/* The system's definitions are published without being asked; a worker that stops shows
 * its own reason, not only its exit status. */
static void
test_last_words (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *manifest = g_build_filename (f->store, "objects", "defs", "manifest.json",
                                                NULL);
  AssayWorkerSupervisor *supervisor = NULL;
  g_autoptr(GError) error = NULL;
  const char *problem;

  write_definitions (f);
  g_setenv ("ASSAY_WORKER_ARGS", "--no-such-option", TRUE);
  supervisor = assay_worker_supervisor_new (f->store, NULL);
  g_signal_connect (supervisor, "notify::running", G_CALLBACK (running_cb), f);
  g_assert_true (assay_worker_supervisor_start (supervisor, &error));
  g_assert_no_error (error);
  run_until (said_why, supervisor, f, 0);
  g_assert_true (g_file_test (manifest, G_FILE_TEST_EXISTS));
  problem = assay_worker_supervisor_get_problem (supervisor);
  g_assert_nonnull (strstr (problem, "exit status"));
  /* its own words, not its usage text */
  g_assert_null (strstr (problem, "Usage"));

  stop_and_free (supervisor);
}

static gboolean
running (AssayWorkerSupervisor *supervisor,
         Fixture               *f)
{
  return assay_worker_supervisor_is_running (supervisor);
}

/* A settings change: the worker is told to stop and the app goes on at once; the worker
 * ends on its own within its short grace (it was started with --grace=5s). */
static void
test_stop_in_background (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *work = g_build_filename (f->dir, "work", NULL);
  g_autofree char *args = g_strdup_printf ("--work-dir=%s --engine-exec=/bin/true", work);
  g_autofree char *proc = NULL;
  AssayWorkerSupervisor *supervisor = NULL;
  g_autoptr(GError) error = NULL;
  gint64 started, end;

  write_definitions (f);
  g_setenv ("ASSAY_WORKER_ARGS", args, TRUE);
  supervisor = assay_worker_supervisor_new (f->store, NULL);
  g_assert_true (assay_worker_supervisor_start (supervisor, &error));
  g_assert_no_error (error);
  run_until (running, supervisor, f, 0);
  run_until (NULL, supervisor, f, 500);  /* its signal handlers are in place */
  proc = g_strdup_printf ("/proc/%s", assay_worker_supervisor_get_identifier (supervisor));
  g_assert_true (g_file_test (proc, G_FILE_TEST_EXISTS));

  started = g_get_monotonic_time ();
  assay_worker_supervisor_stop_in_background (supervisor);
  g_assert_cmpint (g_get_monotonic_time () - started, <, G_USEC_PER_SEC / 2);
  g_assert_false (assay_worker_supervisor_is_running (supervisor));
  g_object_unref (supervisor);

  /* reaped by the main loop: gone, not a zombie */
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_file_test (proc, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20000);
    }
  g_assert_false (g_file_test (proc, G_FILE_TEST_EXISTS));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/gui/worker-supervisor/definitions", Fixture, NULL, fixture_set_up,
              test_definitions, fixture_tear_down);
  g_test_add ("/gui/worker-supervisor/last-words", Fixture, NULL, fixture_set_up,
              test_last_words, fixture_tear_down);
  g_test_add ("/gui/worker-supervisor/stop-in-background", Fixture, NULL, fixture_set_up,
              test_stop_in_background, fixture_tear_down);
  return g_test_run ();
}
