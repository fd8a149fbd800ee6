/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-worker"

#include "config.h"

#include "assay-worker-config.h"
#include "assay-defs.h"
#include "assay-engine.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (assay-worker-config-error-quark, assay_worker_config_error)

#define GROUP "worker"

typedef struct
{
  const char *key;         /* key-file key and flag name */
  const char *env;
  gsize offset;
  const char *description;
  const char *arg;
} Setting;

#define AT(member) G_STRUCT_OFFSET (AssayWorkerConfigLayer, member)

static const Setting settings[] = {
  { "concurrency", "ASSAY_WORKER_CONCURRENCY", AT (concurrency),
    "Jobs processed at once (default: the number of CPUs)", "N" },
  { "accept-versions", "ASSAY_WORKER_ACCEPT_VERSIONS", AT (accept_versions),
    "Client versions taken, e.g. \">=2.0.0 <3.0.0\" (default: this version's major)", "RANGE" },
  { "lease", "ASSAY_WORKER_LEASE", AT (lease), "How long a claim holds a job (default 60s)",
    "DURATION" },
  { "max-attempts", "ASSAY_WORKER_MAX_ATTEMPTS", AT (max_attempts),
    "Claims of one job before it fails TOO_MANY_ATTEMPTS (default 3)", "N" },
  { "max-file-size", "ASSAY_WORKER_MAX_FILE_SIZE", AT (max_file_size),
    "The largest file taken, decompressed (default 1G)", "SIZE" },
  { "max-chunks", "ASSAY_WORKER_MAX_CHUNKS", AT (max_chunks),
    "The most chunks a job may have (default 100000)", "N" },
  { "stall-timeout", "ASSAY_WORKER_STALL_TIMEOUT", AT (stall_timeout),
    "Fail an upload with no new chunk for this long (default 120s)", "DURATION" },
  { "engine-exec", "ASSAY_WORKER_ENGINE_EXEC", AT (engine_exec),
    "Analyse with this program (the file's path is added as its last argument)", "COMMAND" },
  { "engine-http", "ASSAY_WORKER_ENGINE_HTTP", AT (engine_http),
    "Analyse by POSTing the file to this URL", "URL" },
  { "engine-timeout", "ASSAY_WORKER_ENGINE_TIMEOUT", AT (engine_timeout),
    "How long the engine may take per file (default 300s)", "DURATION" },
  { "engine-max-output", "ASSAY_WORKER_ENGINE_MAX_OUTPUT", AT (engine_max_output),
    "The most JSON the engine may return (default 16M)", "SIZE" },
  { "work-dir", "ASSAY_WORKER_WORK_DIR", AT (work_dir),
    "Where downloaded files are kept while processed (default $XDG_CACHE_HOME/assay-worker)",
    "DIR" },
  { "grace", "ASSAY_WORKER_GRACE", AT (grace),
    "On SIGTERM, how long jobs in flight may take before they are given back (default 30s)",
    "DURATION" },
  { "poll-min", "ASSAY_WORKER_POLL_MIN", AT (poll_min),
    "How soon the queue is read again after work was found (default 100ms)", "DURATION" },
  { "poll-max", "ASSAY_WORKER_POLL_MAX", AT (poll_max),
    "The longest wait between reads of an idle queue (default 5s)", "DURATION" },
  { "scan-max-file-size", "ASSAY_WORKER_SCAN_MAX_FILE_SIZE", AT (scan_max_file_size),
    "The largest file (or archive member) the virus scan reads (default 1G)", "SIZE" },
  { "scan-max-scan-size", "ASSAY_WORKER_SCAN_MAX_SCAN_SIZE", AT (scan_max_scan_size),
    "The most data scanned in one file, archive members included (default 1G)", "SIZE" },
  { "scan-max-recursion", "ASSAY_WORKER_SCAN_MAX_RECURSION", AT (scan_max_recursion),
    "How deep archives in archives are scanned (default 17)", "N" },
  { "scan-max-files", "ASSAY_WORKER_SCAN_MAX_FILES", AT (scan_max_files),
    "The most members of one archive scanned (default 10000)", "N" },
  { "scan-max-time", "ASSAY_WORKER_SCAN_MAX_TIME", AT (scan_max_time),
    "The longest one file's scan may take (default 120s)", "DURATION" },
  { "unscannable", "ASSAY_WORKER_UNSCANNABLE", AT (unscannable),
    "A file over a scan limit: reject (UNSCANNABLE, the default) or accept", "reject|accept" },
  { "defs-refresh", "ASSAY_WORKER_DEFS_REFRESH", AT (defs_refresh),
    "How often the virus definitions in the store are checked (default 15m)", "DURATION" },
  { "allow-no-definitions", "ASSAY_WORKER_ALLOW_NO_DEFINITIONS", AT (allow_no_definitions),
    "Development only: run without virus definitions (scan verdict \"skipped\")", "true|false" },
  { "validation-max-size", "ASSAY_WORKER_VALIDATION_MAX_SIZE", AT (validation_max_size),
    "Validation: reject files larger than this (default: no limit)", "SIZE" },
  { "validation-types", "ASSAY_WORKER_VALIDATION_TYPES", AT (validation_types),
    "Validation: the content types allowed, sniffed from the data, e.g. \"text/*,application/pdf\"",
    "TYPES" },
  { "validation-command", "ASSAY_WORKER_VALIDATION_COMMAND", AT (validation_command),
    "Validation: a validator program (the file's path is added; exit 0 accepts)", "COMMAND" },
  { "validation-timeout", "ASSAY_WORKER_VALIDATION_TIMEOUT", AT (validation_timeout),
    "How long the validator may take per file (default 60s)", "DURATION" },
  { "quarantine-prefix", "ASSAY_WORKER_QUARANTINE_PREFIX", AT (quarantine_prefix),
    "Where infected files are kept in the bucket (default quarantine/)", "PREFIX" },
  { "alert-webhook", "ASSAY_WORKER_ALERT_WEBHOOK", AT (alert_webhook),
    "POST a JSON event here when a file is quarantined", "URL" },
  { "alert-command", "ASSAY_WORKER_ALERT_COMMAND", AT (alert_command),
    "Run this with the JSON event on stdin when a file is quarantined", "COMMAND" },
  { "alert-timeout", "ASSAY_WORKER_ALERT_TIMEOUT", AT (alert_timeout),
    "How long the alerts may take in all, retries included (default 60s)", "DURATION" },
  { "archive", "ASSAY_WORKER_ARCHIVE", AT (archive),
    "Keep a copy of every scanned file under archive-prefix (default false)", "true|false" },
  { "archive-prefix", "ASSAY_WORKER_ARCHIVE_PREFIX", AT (archive_prefix),
    "Where the archive is kept in the bucket (default archive/)", "PREFIX" },
};

#define SETTING(layer, s) ((char **) G_STRUCT_MEMBER_P ((layer), (s)->offset))

AssayWorkerConfigLayer *
assay_worker_config_layer_new (void)
{
  return g_new0 (AssayWorkerConfigLayer, 1);
}

void
assay_worker_config_layer_free (AssayWorkerConfigLayer *layer)
{
  if (layer == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    g_free (*SETTING (layer, &settings[i]));
  g_free (layer);
}

void
assay_worker_config_free (AssayWorkerConfig *self)
{
  if (self == NULL)
    return;
  assay_worker_settings_clear (&self->settings);
  g_free (self->engine_exec);
  g_free (self->engine_http);
  g_strfreev (self->validation_types);
  g_free (self->validation_command);
  assay_lifecycle_settings_clear (&self->lifecycle);
  g_free (self->source);
  g_free (self);
}

/**
 * assay_worker_config_option_group:
 * @flags: where the flags are stored; its fields must stay NULL until parsed
 * Returns: (transfer full): the options `--concurrency`, `--lease`, …
 */
GOptionGroup *
assay_worker_config_option_group (AssayWorkerConfigLayer *flags)
{
  GOptionGroup *group = g_option_group_new ("worker", "Worker options:",
                                            "How jobs are taken and analysed", NULL, NULL);
  GOptionEntry entries[G_N_ELEMENTS (settings) + 1] = { { 0 } };

  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    entries[i] = (GOptionEntry) {
      settings[i].key,
      0,
      0,
      g_str_equal (settings[i].key, "work-dir") ? G_OPTION_ARG_FILENAME : G_OPTION_ARG_STRING,
      SETTING (flags, &settings[i]),
      settings[i].description,
      settings[i].arg,
    };
  g_option_group_add_entries (group, entries);
  return group;
}

/**
 * assay_parse_duration:
 * Reads "60" or "1.5" (seconds), or a number with the unit ms, s, m or h.
 */
gboolean
assay_parse_duration (const char *text,
                      guint      *out_ms)
{
  static const struct
  {
    const char *unit;
    double ms;
  } units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
  char *end = NULL;
  double value;

  if (text == NULL)
    return FALSE;
  while (*text == ' ')
    text++;
  if (!g_ascii_isdigit (*text))
    return FALSE;
  value = g_ascii_strtod (text, &end);
  while (*end == ' ')
    end++;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_equal (end, units[i].unit))
      {
        double ms = value * units[i].ms;

        if (!isfinite (ms) || ms < 0 || ms > G_MAXUINT)
          return FALSE;
        *out_ms = (guint) ms;
        return TRUE;
      }
  return FALSE;
}

/**
 * assay_parse_size:
 * Reads bytes, or a number with K, M, G or T (powers of 1024), optionally followed by
 * "B" or "iB".
 */
gboolean
assay_parse_size (const char *text,
                  guint64    *out_bytes)
{
  static const char units[] = "KMGT";
  char *end = NULL;
  guint64 value;
  guint shift = 0;
  const char *unit;

  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  value = g_ascii_strtoull (text, &end, 10);
  while (*end == ' ')
    end++;
  if (*end != '\0')
    {
      unit = strchr (units, g_ascii_toupper (*end));
      if (unit == NULL)
        return FALSE;
      shift = 10 * (guint) (unit - units + 1);
      end++;
      if (*end != '\0' && g_ascii_strcasecmp (end, "B") != 0 && g_ascii_strcasecmp (end, "iB") != 0)
        return FALSE;
    }
  if (shift > 0 && value > (G_MAXUINT64 >> shift))
    return FALSE;
  *out_bytes = value << shift;
  return TRUE;
}

static gboolean
invalid (GError     **error,
         const char  *source,
         const char  *key,
         const char  *value,
         const char  *expected)
{
  g_set_error (error, ASSAY_WORKER_CONFIG_ERROR, ASSAY_WORKER_CONFIG_ERROR_INVALID,
               "%s (from %s): “%s” is not %s", key, source, value, expected);
  return FALSE;
}

static gboolean
read_count (const char  *value,
            const char  *key,
            const char  *source,
            guint        min,
            guint       *out,
            GError     **error)
{
  guint64 n;

  if (value == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (value, 10, min, G_MAXUINT, &n, NULL))
    {
      g_autofree char *expected = g_strdup_printf ("a whole number of at least %u", min);

      return invalid (error, source, key, value, expected);
    }
  *out = (guint) n;
  return TRUE;
}

static gboolean
read_duration (const char  *value,
               const char  *key,
               const char  *source,
               guint       *out,
               GError     **error)
{
  if (value != NULL && !assay_parse_duration (value, out))
    return invalid (error, source, key, value, "a duration such as 30s, 500ms or 2m");
  return TRUE;
}

static gboolean
read_size (const char  *value,
           const char  *key,
           const char  *source,
           guint64     *out,
           GError     **error)
{
  if (value != NULL && (!assay_parse_size (value, out) || *out == 0))
    return invalid (error, source, key, value, "a size such as 1G, 512M or 65536");
  return TRUE;
}

/* The scan stage's keys. */
static gboolean
read_scan (AssayWorkerConfigLayer  *merged,
           AssayWorkerConfig       *self,
           GError                 **error)
{
  AssayScanSettings *scan = &self->scan;

  if (!read_size (merged->scan_max_file_size, "scan-max-file-size", self->source,
                  &scan->max_file_size, error) ||
      !read_size (merged->scan_max_scan_size, "scan-max-scan-size", self->source,
                  &scan->max_scan_size, error) ||
      !read_count (merged->scan_max_recursion, "scan-max-recursion", self->source, 1,
                   &scan->max_recursion, error) ||
      !read_count (merged->scan_max_files, "scan-max-files", self->source, 1, &scan->max_files,
                   error) ||
      !read_duration (merged->scan_max_time, "scan-max-time", self->source, &scan->max_time_ms,
                      error) ||
      !read_duration (merged->defs_refresh, "defs-refresh", self->source,
                      &self->defs_refresh_ms, error))
    return FALSE;
  if (scan->max_file_size > ASSAY_SCAN_SIZE_LIMIT)
    return invalid (error, self->source, "scan-max-file-size", merged->scan_max_file_size,
                    "at most 2147483647 bytes (libclamav's limit)");
  if (scan->max_scan_size > ASSAY_SCAN_SIZE_LIMIT)
    return invalid (error, self->source, "scan-max-scan-size", merged->scan_max_scan_size,
                    "at most 2147483647 bytes (libclamav's limit)");
  if (scan->max_time_ms == 0)
    return invalid (error, self->source, "scan-max-time", merged->scan_max_time,
                    "longer than 0");
  if (self->defs_refresh_ms < 1000)
    return invalid (error, self->source, "defs-refresh", merged->defs_refresh,
                    "at least one second");
  if (merged->unscannable != NULL)
    {
      if (g_str_equal (merged->unscannable, "reject"))
        scan->unscannable = ASSAY_SCAN_UNSCANNABLE_REJECT;
      else if (g_str_equal (merged->unscannable, "accept"))
        scan->unscannable = ASSAY_SCAN_UNSCANNABLE_ACCEPT;
      else
        return invalid (error, self->source, "unscannable", merged->unscannable,
                        "reject or accept");
    }
  if (merged->allow_no_definitions != NULL)
    {
      if (g_str_equal (merged->allow_no_definitions, "true"))
        scan->allow_no_definitions = TRUE;
      else if (g_str_equal (merged->allow_no_definitions, "false"))
        scan->allow_no_definitions = FALSE;
      else
        return invalid (error, self->source, "allow-no-definitions",
                        merged->allow_no_definitions, "true or false");
    }
  return TRUE;
}

/* The keys of validation, quarantine, alerts and the archive. */
static gboolean
read_lifecycle (AssayWorkerConfigLayer  *merged,
                AssayWorkerConfig       *self,
                GError                 **error)
{
  self->validation_timeout_ms = 60000;
  self->lifecycle.alert_timeout_ms = 60000;
  if (!read_size (merged->validation_max_size, "validation-max-size", self->source,
                  &self->validation_max_size, error) ||
      !read_duration (merged->validation_timeout, "validation-timeout", self->source,
                      &self->validation_timeout_ms, error) ||
      !read_duration (merged->alert_timeout, "alert-timeout", self->source,
                      &self->lifecycle.alert_timeout_ms, error))
    return FALSE;
  if (self->validation_timeout_ms == 0)
    return invalid (error, self->source, "validation-timeout", merged->validation_timeout,
                    "longer than 0");
  if (self->lifecycle.alert_timeout_ms == 0)
    return invalid (error, self->source, "alert-timeout", merged->alert_timeout,
                    "longer than 0");
  if (merged->validation_types != NULL && *merged->validation_types != '\0')
    self->validation_types = g_strsplit_set (merged->validation_types, ", ", -1);
  if (merged->validation_command != NULL && *merged->validation_command != '\0')
    self->validation_command = g_strdup (merged->validation_command);
  if (merged->quarantine_prefix != NULL)
    self->lifecycle.quarantine_prefix = g_strdup (merged->quarantine_prefix);
  if (merged->alert_webhook != NULL && *merged->alert_webhook != '\0')
    self->lifecycle.alert_webhook = g_strdup (merged->alert_webhook);
  if (merged->alert_command != NULL && *merged->alert_command != '\0')
    self->lifecycle.alert_command = g_strdup (merged->alert_command);
  if (merged->archive_prefix != NULL)
    self->lifecycle.archive_prefix = g_strdup (merged->archive_prefix);
  if (merged->archive != NULL)
    {
      if (g_str_equal (merged->archive, "true"))
        self->lifecycle.archive = TRUE;
      else if (g_str_equal (merged->archive, "false"))
        self->lifecycle.archive = FALSE;
      else
        return invalid (error, self->source, "archive", merged->archive, "true or false");
    }
  return TRUE;
}

/* The key file: the one named, else ASSAY_CONFIG, else the default when it exists. */
static gboolean
load_file (GKeyFile    *file,
           const char  *config_file,
           char       **out_path,
           GError     **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean required = TRUE;

  if (config_file != NULL)
    path = g_strdup (config_file);
  else if (g_getenv ("ASSAY_CONFIG") != NULL)
    path = g_strdup (g_getenv ("ASSAY_CONFIG"));
  else
    {
      path = g_build_filename (g_get_user_config_dir (), "assay", "assay.conf", NULL);
      required = FALSE;
    }
  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local_error))
    {
      if (!required && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, ASSAY_WORKER_CONFIG_ERROR, ASSAY_WORKER_CONFIG_ERROR_FILE,
                   "cannot read the configuration %s: %s", path, local_error->message);
      return FALSE;
    }
  *out_path = g_steal_pointer (&path);
  return TRUE;
}

/**
 * assay_worker_config_resolve:
 * @flags: (nullable): the command line's settings
 * @config_file: (nullable): --config
 * Returns: (transfer full): the settings in force, checked
 */
AssayWorkerConfig *
assay_worker_config_resolve (AssayWorkerConfigLayer  *flags,
                             const char              *config_file,
                             GError                 **error)
{
  g_autoptr(AssayWorkerConfig) self = g_new0 (AssayWorkerConfig, 1);
  g_autoptr(AssayWorkerConfigLayer) env = assay_worker_config_layer_new ();
  g_autoptr(AssayWorkerConfigLayer) file_layer = assay_worker_config_layer_new ();
  g_autoptr(AssayWorkerConfigLayer) merged = assay_worker_config_layer_new ();
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autofree char *file_path = NULL;
  AssayWorkerConfigLayer *layers[3];
  guint64 size;

  if (!load_file (file, config_file, &file_path, error))
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const char *value = g_getenv (settings[i].env);

      if (value != NULL && *value != '\0')
        *SETTING (env, &settings[i]) = g_strdup (value);
      if (file_path != NULL)
        *SETTING (file_layer, &settings[i]) = g_key_file_get_string (file, GROUP,
                                                                     settings[i].key, NULL);
    }
  layers[0] = flags;
  layers[1] = env;
  layers[2] = file_layer;

  /* highest first; the engine is chosen as one: the highest layer naming one wins */
  for (guint l = 0; l < G_N_ELEMENTS (layers); l++)
    {
      if (layers[l] == NULL)
        continue;
      for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
        {
          char **field = SETTING (merged, &settings[i]);
          const char *value = *SETTING (layers[l], &settings[i]);

          if (*field == NULL && value != NULL)
            *field = g_strdup (value);
        }
      if ((merged->engine_exec != NULL) != (merged->engine_http != NULL) &&
          (layers[l]->engine_exec != NULL || layers[l]->engine_http != NULL))
        {
          /* freeze the engine choice at this layer */
          if (merged->engine_exec == NULL)
            merged->engine_exec = g_strdup ("");
          else
            merged->engine_http = g_strdup ("");
        }
    }
  self->source = g_strdup_printf ("command line, ASSAY_WORKER_* environment%s%s",
                                  file_path ? ", " : "", file_path ? file_path : "");

  assay_worker_settings_init (&self->settings);
  self->engine_timeout_ms = ASSAY_ENGINE_TIMEOUT_DEFAULT_MS;
  self->engine_max_output = ASSAY_ENGINE_MAX_OUTPUT_DEFAULT;
  self->grace_ms = ASSAY_WORKER_GRACE_DEFAULT_MS;
  assay_scan_settings_init (&self->scan);
  self->defs_refresh_ms = ASSAY_DEFS_REFRESH_DEFAULT_MS;

  if (!read_count (merged->concurrency, "concurrency", self->source, 1,
                   &self->settings.concurrency, error) ||
      !read_duration (merged->lease, "lease", self->source, &self->settings.lease_ms, error) ||
      !read_count (merged->max_attempts, "max-attempts", self->source, 1,
                   &self->settings.max_attempts, error) ||
      !read_size (merged->max_file_size, "max-file-size", self->source,
                  &self->settings.max_file_size, error) ||
      !read_count (merged->max_chunks, "max-chunks", self->source, 1, &self->settings.max_chunks,
                   error) ||
      !read_duration (merged->stall_timeout, "stall-timeout", self->source,
                      &self->settings.stall_timeout_ms, error) ||
      !read_duration (merged->engine_timeout, "engine-timeout", self->source,
                      &self->engine_timeout_ms, error) ||
      !read_duration (merged->grace, "grace", self->source, &self->grace_ms, error) ||
      !read_duration (merged->poll_min, "poll-min", self->source, &self->settings.poll_min_ms,
                      error) ||
      !read_duration (merged->poll_max, "poll-max", self->source, &self->settings.poll_max_ms,
                      error))
    return NULL;
  if (!read_scan (merged, self, error))
    return NULL;
  if (!read_lifecycle (merged, self, error))
    return NULL;
  if (self->settings.poll_min_ms == 0 || self->settings.poll_max_ms < self->settings.poll_min_ms)
    return invalid (error, self->source, "poll-min, poll-max",
                    merged->poll_min ? merged->poll_min : merged->poll_max,
                    "a wait of at least 1ms, with poll-min at most poll-max"), NULL;
  if (merged->engine_max_output != NULL)
    {
      if (!read_size (merged->engine_max_output, "engine-max-output", self->source, &size, error))
        return NULL;
      if (size > G_MAXSIZE / 2)
        return invalid (error, self->source, "engine-max-output", merged->engine_max_output,
                        "a size this machine can hold"), NULL;
      self->engine_max_output = (gsize) size;
    }
  if (self->settings.lease_ms < 1000)
    return invalid (error, self->source, "lease", merged->lease, "at least one second"), NULL;
  if (self->engine_timeout_ms == 0)
    return invalid (error, self->source, "engine-timeout", merged->engine_timeout,
                    "longer than 0"), NULL;
  if (merged->accept_versions != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      self->settings.accept = assay_version_range_new (merged->accept_versions, &local_error);
      if (self->settings.accept == NULL)
        {
          g_set_error (error, ASSAY_WORKER_CONFIG_ERROR, ASSAY_WORKER_CONFIG_ERROR_INVALID,
                       "accept-versions (from %s): %s", self->source, local_error->message);
          return NULL;
        }
    }
  if (merged->work_dir != NULL)
    self->settings.work_dir = g_strdup (merged->work_dir);
  if (merged->engine_exec != NULL && *merged->engine_exec != '\0')
    self->engine_exec = g_strdup (merged->engine_exec);
  if (merged->engine_http != NULL && *merged->engine_http != '\0')
    self->engine_http = g_strdup (merged->engine_http);
  if (self->engine_exec != NULL && self->engine_http != NULL)
    {
      g_set_error (error, ASSAY_WORKER_CONFIG_ERROR, ASSAY_WORKER_CONFIG_ERROR_INVALID,
                   "both engine-exec and engine-http are set (from %s): choose one",
                   self->source);
      return NULL;
    }
  return g_steal_pointer (&self);
}
