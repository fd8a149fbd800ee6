/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-scan"

#include "config.h"

#include "assay-scan.h"
#include "assay-failure.h"

#include <clamav.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

G_DEFINE_QUARK (assay-scan-error-quark, assay_scan_error)

#define INFECTED_PREFIX "infected: "
/* libclamav's names for content it could not scan whole (CL_SCAN_HEURISTIC_EXCEEDS_MAX,
 * CL_SCAN_HEURISTIC_ENCRYPTED_*) */
#define EXCEEDED_PREFIX  "Heuristics.Limits.Exceeded"
#define ENCRYPTED_PREFIX "Heuristics.Encrypted"

/* One compiled engine and what it was loaded from; jobs hold a reference while they scan,
 * so a reload never frees an engine under a scan. */
typedef struct
{
  gatomicrefcount ref;
  struct cl_engine *engine;
  char *tmp_dir;    /* private (0700): where libclamav unpacks archive members */
  char *version;
  char *time;
  guint signatures;
} Engine;

struct _AssayScanStage
{
  GObject parent_instance;

  AssayScanSettings settings;
  GMutex lock;
  Engine *engine;   /* under lock; NULL until definitions are loaded */
  guint loads;      /* under lock */
};

static void assay_scan_stage_iface_init (AssayStageInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AssayScanStage, assay_scan_stage, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ASSAY_TYPE_STAGE,
                                                      assay_scan_stage_iface_init))

static Engine *
engine_ref (Engine *engine)
{
  g_atomic_ref_count_inc (&engine->ref);
  return engine;
}

static void
engine_unref (Engine *engine)
{
  if (!g_atomic_ref_count_dec (&engine->ref))
    return;
  cl_engine_free (engine->engine);
  if (engine->tmp_dir != NULL)
    g_rmdir (engine->tmp_dir);  /* empty: libclamav removes what it unpacked after each scan */
  g_free (engine->tmp_dir);
  g_free (engine->version);
  g_free (engine->time);
  g_free (engine);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Engine, engine_unref)

void
assay_scan_settings_init (AssayScanSettings *settings)
{
  *settings = (AssayScanSettings) {
    .max_file_size = ASSAY_SCAN_MAX_FILE_SIZE_DEFAULT,
    .max_scan_size = ASSAY_SCAN_MAX_SCAN_SIZE_DEFAULT,
    .max_recursion = ASSAY_SCAN_MAX_RECURSION_DEFAULT,
    .max_files = ASSAY_SCAN_MAX_FILES_DEFAULT,
    .max_time_ms = ASSAY_SCAN_MAX_TIME_DEFAULT_MS,
    .unscannable = ASSAY_SCAN_UNSCANNABLE_REJECT,
    .allow_no_definitions = FALSE,
  };
}

/* libclamav's messages go to the log, not straight to stderr */
static void
message_cb (enum cl_msg  severity,
            const char  *full,
            const char  *message,
            void        *context)
{
  g_autofree char *text = g_strchomp (g_strdup (message ? message : ""));

  if (severity >= CL_MSG_ERROR)
    g_message ("libclamav: %s", text);
  else
    g_debug ("libclamav: %s", text);
}

/* What a scan found. libclamav gives the name of a heuristic alert (a limit exceeded)
 * only to this callback; a real signature wins over a heuristic. */
typedef struct
{
  char *signature;
  char *heuristic;
} Found;

static gboolean is_unscannable_name (const char *name);

static void
virus_found_cb (int         fd,
                const char *virname,
                void       *context)
{
  Found *found = context;

  if (found == NULL || virname == NULL)
    return;
  if (is_unscannable_name (virname))
    {
      if (found->heuristic == NULL)
        found->heuristic = g_strdup (virname);
    }
  else if (found->signature == NULL)
    found->signature = g_strdup (virname);
}

/**
 * assay_scan_init:
 * Starts libclamav (cl_init) once per process; later calls return the first's outcome.
 */
gboolean
assay_scan_init (GError **error)
{
  static gsize done = 0;
  static cl_error_t status;

  if (g_once_init_enter (&done))
    {
      cl_set_clcb_msg (message_cb);
      status = cl_init (CL_INIT_DEFAULT);
      g_once_init_leave (&done, 1);
    }
  if (status != CL_SUCCESS)
    {
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_INIT, "libclamav cannot start: %s",
                   cl_strerror (status));
      return FALSE;
    }
  return TRUE;
}

/* Returns: "ClamAV 1.4.6", the library in use */
const char *
assay_scan_engine_version (void)
{
  static char *version = NULL;

  if (g_once_init_enter (&version))
    g_once_init_leave (&version, g_strdup_printf ("ClamAV %s", cl_retver ()));
  return version;
}

static void
assay_scan_stage_finalize (GObject *object)
{
  AssayScanStage *self = ASSAY_SCAN_STAGE (object);

  g_clear_pointer (&self->engine, engine_unref);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (assay_scan_stage_parent_class)->finalize (object);
}

static void
assay_scan_stage_class_init (AssayScanStageClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_scan_stage_finalize;
}

static void
assay_scan_stage_init (AssayScanStage *self)
{
  g_mutex_init (&self->lock);
}

/**
 * assay_scan_stage_new:
 * @settings: (nullable): the limits and the policy; NULL for the defaults
 * Returns: (transfer full): a stage without definitions yet (see
 * assay_scan_stage_load_async())
 */
AssayScanStage *
assay_scan_stage_new (const AssayScanSettings *settings)
{
  AssayScanStage *self = g_object_new (ASSAY_TYPE_SCAN_STAGE, NULL);

  if (settings != NULL)
    self->settings = *settings;
  else
    assay_scan_settings_init (&self->settings);
  return self;
}

static Engine *
dup_engine (AssayScanStage *self)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  return self->engine ? engine_ref (self->engine) : NULL;
}

gboolean
assay_scan_stage_has_definitions (AssayScanStage *self)
{
  g_autoptr(Engine) engine = NULL;

  g_return_val_if_fail (ASSAY_IS_SCAN_STAGE (self), FALSE);

  engine = dup_engine (self);
  return engine != NULL;
}

/* Returns: (transfer full) (nullable): the version of the definitions in use */
char *
assay_scan_stage_dup_version (AssayScanStage *self)
{
  g_autoptr(Engine) engine = NULL;

  g_return_val_if_fail (ASSAY_IS_SCAN_STAGE (self), NULL);

  engine = dup_engine (self);
  return engine ? g_strdup (engine->version) : NULL;
}

guint
assay_scan_stage_get_signatures (AssayScanStage *self)
{
  g_autoptr(Engine) engine = NULL;

  g_return_val_if_fail (ASSAY_IS_SCAN_STAGE (self), 0);

  engine = dup_engine (self);
  return engine ? engine->signatures : 0;
}

/* Returns: how many engines have been swapped in */
guint
assay_scan_stage_get_loads (AssayScanStage *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (ASSAY_IS_SCAN_STAGE (self), 0);

  locker = g_mutex_locker_new (&self->lock);
  return self->loads;
}

/* -------------------------------------------------------------------------------------- */
/* Loading                                                                                */

static gboolean
set_limit (struct cl_engine    *engine,
           enum cl_engine_field field,
           long long            value,
           const char          *name,
           GError             **error)
{
  cl_error_t status = cl_engine_set_num (engine, field, value);

  if (status != CL_SUCCESS)
    {
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD,
                   "libclamav refused the limit %s = %lld: %s", name, value,
                   cl_strerror (status));
      return FALSE;
    }
  return TRUE;
}

static Engine *
compile_engine (const AssayScanSettings  *settings,
                const char               *dir,
                GError                  **error)
{
  g_autoptr(Engine) engine = g_new0 (Engine, 1);
  unsigned int signatures = 0;
  cl_error_t status;

  if (!assay_scan_init (error))
    return NULL;
  g_atomic_ref_count_init (&engine->ref);
  engine->engine = cl_engine_new ();
  if (engine->engine == NULL)
    {
      g_free (g_steal_pointer (&engine));
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD,
                   "libclamav cannot make an engine (out of memory?)");
      return NULL;
    }
  engine->tmp_dir = g_dir_make_tmp ("assay-scan-XXXXXX", error);
  if (engine->tmp_dir == NULL)
    return NULL;
  status = cl_engine_set_str (engine->engine, CL_ENGINE_TMPDIR, engine->tmp_dir);
  if (status != CL_SUCCESS)
    {
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD,
                   "libclamav refused its temporary directory %s: %s", engine->tmp_dir,
                   cl_strerror (status));
      return NULL;
    }
  if (!set_limit (engine->engine, CL_ENGINE_MAX_FILESIZE,
                  (long long) MIN (settings->max_file_size, ASSAY_SCAN_SIZE_LIMIT),
                  "scan-max-file-size", error) ||
      !set_limit (engine->engine, CL_ENGINE_MAX_SCANSIZE,
                  (long long) MIN (settings->max_scan_size, ASSAY_SCAN_SIZE_LIMIT),
                  "scan-max-scan-size", error) ||
      !set_limit (engine->engine, CL_ENGINE_MAX_RECURSION, settings->max_recursion,
                  "scan-max-recursion", error) ||
      !set_limit (engine->engine, CL_ENGINE_MAX_FILES, settings->max_files, "scan-max-files",
                  error) ||
      !set_limit (engine->engine, CL_ENGINE_MAX_SCANTIME, settings->max_time_ms,
                  "scan-max-time", error))
    return NULL;

  cl_engine_set_clcb_virus_found (engine->engine, virus_found_cb);
  status = cl_load (dir, engine->engine, &signatures, CL_DB_STDOPT);
  if (status != CL_SUCCESS)
    {
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD,
                   "cannot load the virus definitions in %s: %s", dir, cl_strerror (status));
      return NULL;
    }
  if (signatures == 0)
    {
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD,
                   "the virus definitions in %s hold no signature", dir);
      return NULL;
    }
  status = cl_engine_compile (engine->engine);
  if (status != CL_SUCCESS)
    {
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_LOAD,
                   "cannot compile the virus definitions in %s: %s", dir, cl_strerror (status));
      return NULL;
    }
  engine->signatures = signatures;
  return g_steal_pointer (&engine);
}

typedef struct
{
  char *dir;
  char *version;
  char *time;
} Load;

static void
load_free (Load *load)
{
  g_free (load->dir);
  g_free (load->version);
  g_free (load->time);
  g_free (load);
}

static gboolean
load_and_swap (AssayScanStage  *self,
               const Load      *load,
               GError         **error)
{
  g_autoptr(Engine) engine = NULL;
  Engine *old;
  gint64 started = g_get_monotonic_time ();

  engine = compile_engine (&self->settings, load->dir, error);
  if (engine == NULL)
    return FALSE;
  engine->version = g_strdup (load->version);
  engine->time = g_strdup (load->time);
  g_debug ("loaded %u signatures from %s in %" G_GINT64_FORMAT " ms", engine->signatures,
           load->dir, (g_get_monotonic_time () - started) / 1000);

  g_mutex_lock (&self->lock);
  old = self->engine;
  self->engine = g_steal_pointer (&engine);
  self->loads++;
  g_mutex_unlock (&self->lock);

  /* scans in flight keep the old engine until they finish; the last frees it */
  if (old != NULL)
    engine_unref (old);
  return TRUE;
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;

  if (load_and_swap (source, task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * assay_scan_stage_load_async:
 * @dir: a directory of definitions (.cvd, .cld, .ndb, .hdb, …), read during the call only
 * @version: (nullable): the set's version, for the envelope
 * @time: (nullable): when the set was published (ISO 8601), for the envelope
 * Compiles a new engine from @dir in a thread and swaps it in; on failure the engine in
 * use stays.
 */
void
assay_scan_stage_load_async (AssayScanStage      *self,
                             const char          *dir,
                             const char          *version,
                             const char          *time,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Load *load;

  g_return_if_fail (ASSAY_IS_SCAN_STAGE (self));
  g_return_if_fail (dir != NULL);

  load = g_new0 (Load, 1);
  load->dir = g_strdup (dir);
  load->version = g_strdup (version);
  load->time = g_strdup (time);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, assay_scan_stage_load_async);
  g_task_set_task_data (task, load, (GDestroyNotify) load_free);
  g_task_run_in_thread (task, load_thread);
}

gboolean
assay_scan_stage_load_finish (AssayScanStage  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The same, blocking (for programs without a main loop, and tests). */
gboolean
assay_scan_stage_load (AssayScanStage  *self,
                       const char      *dir,
                       const char      *version,
                       const char      *time,
                       GError         **error)
{
  Load load = { (char *) dir, (char *) version, (char *) time };

  g_return_val_if_fail (ASSAY_IS_SCAN_STAGE (self), FALSE);
  g_return_val_if_fail (dir != NULL, FALSE);

  return load_and_swap (self, &load, error);
}

/* -------------------------------------------------------------------------------------- */
/* Scanning                                                                               */

static void
add_common (JsonBuilder             *builder,
            const AssayScanSettings *settings,
            Engine                  *engine,
            gint64                   duration_ms)
{
  json_builder_set_member_name (builder, "engine");
  json_builder_add_string_value (builder, assay_scan_engine_version ());
  if (engine != NULL)
    {
      json_builder_set_member_name (builder, "definitions");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "version");
      if (engine->version)
        json_builder_add_string_value (builder, engine->version);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "time");
      if (engine->time)
        json_builder_add_string_value (builder, engine->time);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "signatures");
      json_builder_add_int_value (builder, engine->signatures);
      json_builder_end_object (builder);

      json_builder_set_member_name (builder, "duration_ms");
      json_builder_add_int_value (builder, duration_ms);
      json_builder_set_member_name (builder, "limits");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "max_file_size");
      json_builder_add_int_value (builder, (gint64) MIN (settings->max_file_size,
                                                         ASSAY_SCAN_SIZE_LIMIT));
      json_builder_set_member_name (builder, "max_scan_size");
      json_builder_add_int_value (builder, (gint64) MIN (settings->max_scan_size,
                                                         ASSAY_SCAN_SIZE_LIMIT));
      json_builder_set_member_name (builder, "max_recursion");
      json_builder_add_int_value (builder, settings->max_recursion);
      json_builder_set_member_name (builder, "max_files");
      json_builder_add_int_value (builder, settings->max_files);
      json_builder_set_member_name (builder, "max_time_ms");
      json_builder_add_int_value (builder, settings->max_time_ms);
      json_builder_end_object (builder);
    }
}

static GBytes *
finish_output (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  gsize len = 0;
  char *text;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &len);
  return g_bytes_new_take (text, len);
}

static GBytes *
verdict_output (const AssayScanSettings *settings,
                Engine                  *engine,
                const char              *verdict,
                const char              *reason,
                gint64                   duration_ms)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "verdict");
  json_builder_add_string_value (builder, verdict);
  if (reason != NULL)
    {
      json_builder_set_member_name (builder, "reason");
      json_builder_add_string_value (builder, reason);
    }
  if (g_str_equal (verdict, "unscannable"))
    {
      json_builder_set_member_name (builder, "policy");
      json_builder_add_string_value (builder, "accept");
    }
  add_common (builder, settings, engine, duration_ms);
  return finish_output (builder);
}

static gboolean
is_unscannable_name (const char *name)
{
  return g_str_has_prefix (name, EXCEEDED_PREFIX) || g_str_has_prefix (name, ENCRYPTED_PREFIX);
}

/* Either the verdict "unscannable" (policy accept) or the failure UNSCANNABLE. */
static GBytes *
unscannable (const AssayScanSettings  *settings,
             Engine                   *engine,
             const char               *reason,
             gint64                    duration_ms,
             GError                  **error)
{
  if (settings->unscannable == ASSAY_SCAN_UNSCANNABLE_ACCEPT)
    return verdict_output (settings, engine, "unscannable", reason, duration_ms);
  g_set_error (error, ASSAY_FAILURE, ASSAY_FAILURE_UNSCANNABLE,
               "unscannable: %s; the scanner's limits (scan-max-file-size, scan-max-scan-size, "
               "scan-max-recursion, scan-max-files, scan-max-time) were reached or the content "
               "is encrypted, so it was not scanned whole",
               reason);
  return NULL;
}

static GBytes *
scan (AssayScanStage  *self,
      const char      *path,
      GCancellable    *cancellable,
      GError         **error)
{
  g_autoptr(Engine) engine = dup_engine (self);
  struct cl_scan_options options = { 0 };
  Found found = { NULL, NULL };
  g_autofree char *found_signature = NULL;
  g_autofree char *found_heuristic = NULL;
  const char *virname = NULL;
  unsigned long scanned = 0;
  gint64 started, duration_ms;
  cl_error_t status;

  if (engine == NULL)
    {
      if (self->settings.allow_no_definitions)
        return verdict_output (&self->settings, NULL, "skipped",
                               "no virus definitions are loaded and allow-no-definitions is "
                               "set (development only): the file was not scanned",
                               0);
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_NO_DEFINITIONS,
                   "no virus definitions are loaded: run `assay-worker defs publish --from DIR`");
      return NULL;
    }

  options.general = CL_SCAN_GENERAL_HEURISTICS;
  options.parse = ~0u;  /* every format libclamav parses: archives, documents, executables */
  options.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX | CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE |
                      CL_SCAN_HEURISTIC_ENCRYPTED_DOC;

  started = g_get_monotonic_time ();
  status = cl_scanfile_callback (path, &virname, &scanned, engine->engine, &options, &found);
  duration_ms = (g_get_monotonic_time () - started) / 1000;
  found_signature = found.signature;
  found_heuristic = found.heuristic;
  if (found_signature != NULL)
    virname = found_signature;
  else if (virname == NULL || is_unscannable_name (virname))
    virname = found_heuristic ? found_heuristic : virname;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  switch (status)
    {
    case CL_CLEAN:
      return verdict_output (&self->settings, engine, "clean", NULL, duration_ms);

    case CL_VIRUS:
      if (virname != NULL && is_unscannable_name (virname))
        return unscannable (&self->settings, engine, virname, duration_ms, error);
      g_set_error (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED, INFECTED_PREFIX "%s",
                   virname ? virname : "unknown");
      return NULL;

    case CL_EMAXREC:
    case CL_EMAXSIZE:
    case CL_EMAXFILES:
    case CL_ETIMEOUT:
    case CL_EFORMAT:
    case CL_EPARSE:
      return unscannable (&self->settings, engine, cl_strerror (status), duration_ms, error);

    default:
      /* the worker's trouble (memory, temporary files): the job is tried again */
      g_set_error (error, ASSAY_SCAN_ERROR, ASSAY_SCAN_ERROR_FAILED, "libclamav failed: %s",
                   cl_strerror (status));
      return NULL;
    }
}

/**
 * assay_scan_stage_scan:
 * Scans @path in the calling thread (the stage's own runs use worker threads; this is for
 * tools and benchmarks). Returns: (transfer full): the stage's output, or NULL with the
 * stage's error
 */
GBytes *
assay_scan_stage_scan (AssayScanStage  *self,
                       const char      *path,
                       GCancellable    *cancellable,
                       GError         **error)
{
  g_return_val_if_fail (ASSAY_IS_SCAN_STAGE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  return scan (self, path, cancellable, error);
}

static void
scan_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;
  GBytes *output = scan (source, task_data, cancellable, &error);

  if (output != NULL)
    g_task_return_pointer (task, output, (GDestroyNotify) g_bytes_unref);
  else
    g_task_return_error (task, error);
}

static const char *
scan_get_name (AssayStage *stage)
{
  return "scan";
}

static void
scan_run_async (AssayStage          *stage,
                const char          *path,
                AssayJob            *job,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (stage, cancellable, callback, user_data);

  g_task_set_source_tag (task, scan_run_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, scan_thread);
}

static GBytes *
scan_run_finish (AssayStage    *stage,
                 GAsyncResult  *result,
                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stage), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
assay_scan_stage_iface_init (AssayStageInterface *iface)
{
  iface->get_name = scan_get_name;
  iface->run_async = scan_run_async;
  iface->run_finish = scan_run_finish;
}

/**
 * assay_scan_error_get_signature:
 * @error: (nullable): a stage's error
 * Returns: (transfer full) (nullable): the signature that matched, for an
 * ASSAY_FAILURE_INFECTED error; NULL for any other
 */
char *
assay_scan_error_get_signature (const GError *error)
{
  if (error == NULL || !g_error_matches (error, ASSAY_FAILURE, ASSAY_FAILURE_INFECTED) ||
      !g_str_has_prefix (error->message, INFECTED_PREFIX) ||
      error->message[strlen (INFECTED_PREFIX)] == '\0')
    return NULL;
  return g_strdup (error->message + strlen (INFECTED_PREFIX));
}
