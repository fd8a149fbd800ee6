/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-config.h"
#include "assay-id.h"
#include "assay-aws-store.h"
#include "assay-local-store.h"

#include <gio/gio.h>
#include <string.h>

G_DEFINE_QUARK (assay-config-error-quark, assay_config_error)

#define DEFAULT_JOBS_TABLE    "assay-jobs"
#define DEFAULT_RESULTS_TABLE "assay-results"
#define GROUP                 "store"

/* Each setting: its key-file key (also the flag's name), its environment variable, and
 * where it lives in AssayConfig. */
typedef struct
{
  const char *key;
  const char *env;
  gsize offset;
  const char *description;
  const char *arg;
} Setting;

#define AT(member) G_STRUCT_OFFSET (AssayConfig, member)

static const Setting settings[] = {
  { "local", "ASSAY_LOCAL", AT (local), "Use the local store in DIR", "DIR" },
  { "bucket", "ASSAY_BUCKET", AT (bucket), "The S3 bucket", "NAME" },
  { "region", "ASSAY_REGION", AT (region), "The AWS region", "REGION" },
  { "s3-endpoint", "ASSAY_S3_ENDPOINT", AT (s3_endpoint), "An S3-compatible endpoint", "URL" },
  { "dynamodb-endpoint", "ASSAY_DYNAMODB_ENDPOINT", AT (dynamodb_endpoint),
    "A DynamoDB-compatible endpoint", "URL" },
  { "jobs-table", "ASSAY_JOBS_TABLE", AT (jobs_table), "The jobs table (default assay-jobs)",
    "NAME" },
  { "results-table", "ASSAY_RESULTS_TABLE", AT (results_table),
    "The results table (default assay-results)", "NAME" },
  { "profile", "ASSAY_PROFILE", AT (profile), "The AWS profile for credentials and region",
    "NAME" },
};

#define SETTING(config, s) ((char **) G_STRUCT_MEMBER_P ((config), (s)->offset))

AssayConfig *
assay_config_new (void)
{
  return g_new0 (AssayConfig, 1);
}

void
assay_config_free (AssayConfig *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    g_free (*SETTING (self, &settings[i]));
  g_free (self->source);
  g_free (self);
}

/**
 * assay_config_option_group:
 * @flags: where the flags are stored; its fields must stay NULL until parsed
 * @config_file: (out): where --config is stored
 * Returns: (transfer full): the options `--local`, `--bucket`, … `--config`.
 */
GOptionGroup *
assay_config_option_group (AssayConfigLayer  *flags,
                           char             **config_file)
{
  GOptionGroup *group = g_option_group_new ("store", "Store options:",
                                            "Where jobs, chunks and results are kept", NULL,
                                            NULL);
  GOptionEntry entries[G_N_ELEMENTS (settings) + 2] = { { 0 } };

  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    entries[i] = (GOptionEntry) {
      settings[i].key,
      0,
      0,
      g_str_equal (settings[i].key, "local") ? G_OPTION_ARG_FILENAME : G_OPTION_ARG_STRING,
      SETTING (flags, &settings[i]),
      settings[i].description,
      settings[i].arg,
    };
  entries[G_N_ELEMENTS (settings)] = (GOptionEntry) {
    "config", 0, 0, G_OPTION_ARG_FILENAME, config_file,
    "Read settings from FILE (a key file with a [store] group)", "FILE",
  };
  g_option_group_add_entries (group, entries);
  return group;
}

/* Fills the settings of @config that are still unset from the key file @path. */
static gboolean
layer_file (AssayConfig  *config,
            const char   *path,
            gboolean      required,
            GError      **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local_error))
    {
      if (!required && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_FILE,
                   "cannot read the configuration %s: %s", path, local_error->message);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      char **field = SETTING (config, &settings[i]);

      if (*field == NULL)
        *field = g_key_file_get_string (file, GROUP, settings[i].key, NULL);
    }
  return TRUE;
}

static gboolean
is_table_name (const char *name)
{
  gsize len = strlen (name);

  if (len < 3 || len > 255)
    return FALSE;
  for (; *name; name++)
    if (!g_ascii_isalnum (*name) && !strchr ("_.-", *name))
      return FALSE;
  return TRUE;
}

static gboolean
is_endpoint (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return uri != NULL && g_uri_get_host (uri) != NULL &&
         (g_str_equal (g_uri_get_scheme (uri), "http") ||
          g_str_equal (g_uri_get_scheme (uri), "https"));
}

static gboolean
invalid (GError     **error,
         const char  *source,
         const char  *what,
         const char  *value,
         const char  *expected)
{
  g_set_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_INVALID,
               "%s (from %s): “%s” is not %s", what, source, value, expected);
  return FALSE;
}

static gboolean
validate (AssayConfig  *config,
          GError      **error)
{
  if (config->local != NULL && config->bucket != NULL)
    {
      g_set_error (error, ASSAY_CONFIG_ERROR, ASSAY_CONFIG_ERROR_INVALID,
                   "both a local store (%s) and a bucket (%s) are set (from %s): choose one",
                   config->local, config->bucket, config->source);
      return FALSE;
    }
  if (config->bucket != NULL && !assay_bucket_is_valid (config->bucket))
    return invalid (error, config->source, "bucket", config->bucket, "an S3 bucket name");
  if (config->region != NULL && !assay_region_is_valid (config->region))
    return invalid (error, config->source, "region", config->region,
                    "a region (lowercase letters, digits and dashes)");
  if (config->s3_endpoint != NULL && !is_endpoint (config->s3_endpoint))
    return invalid (error, config->source, "s3-endpoint", config->s3_endpoint,
                    "an http:// or https:// URL");
  if (config->dynamodb_endpoint != NULL && !is_endpoint (config->dynamodb_endpoint))
    return invalid (error, config->source, "dynamodb-endpoint", config->dynamodb_endpoint,
                    "an http:// or https:// URL");
  if (!is_table_name (config->jobs_table))
    return invalid (error, config->source, "jobs-table", config->jobs_table,
                    "a table name (3–255 of a–z, A–Z, 0–9, _ . -)");
  if (!is_table_name (config->results_table))
    return invalid (error, config->source, "results-table", config->results_table,
                    "a table name (3–255 of a–z, A–Z, 0–9, _ . -)");
  return TRUE;
}

/**
 * assay_config_resolve:
 * @flags: (nullable): the command line's settings
 * @config_file: (nullable): --config
 *
 * Returns: (transfer full): the settings in force, checked.
 */
AssayConfig *
assay_config_resolve (AssayConfigLayer  *flags,
                      const char        *config_file,
                      GError           **error)
{
  g_autoptr(AssayConfig) config = assay_config_new ();
  g_autoptr(GString) source = g_string_new (NULL);
  g_autofree char *default_file = NULL;
  const char *file = config_file;

  /* highest first: each layer fills only what the ones above left unset */
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      char **field = SETTING (config, &settings[i]);
      const char *value;

      if (flags != NULL && (value = *SETTING (flags, &settings[i])) != NULL)
        *field = g_strdup (value);
      else if ((value = g_getenv (settings[i].env)) != NULL && *value != '\0')
        *field = g_strdup (value);
    }
  g_string_append (source, "command line and ASSAY_* environment");

  if (file == NULL)
    file = g_getenv ("ASSAY_CONFIG");
  if (file != NULL)
    {
      if (!layer_file (config, file, TRUE, error))
        return NULL;
      g_string_append_printf (source, ", %s", file);
    }
  else
    {
      default_file = g_build_filename (g_get_user_config_dir (), "assay", "assay.conf", NULL);
      if (!layer_file (config, default_file, FALSE, error))
        return NULL;
      if (g_file_test (default_file, G_FILE_TEST_EXISTS))
        g_string_append_printf (source, ", %s", default_file);
    }

  if (config->jobs_table == NULL)
    config->jobs_table = g_strdup (DEFAULT_JOBS_TABLE);
  if (config->results_table == NULL)
    config->results_table = g_strdup (DEFAULT_RESULTS_TABLE);
  if (config->bucket == NULL && config->local == NULL)
    config->local = g_build_filename (g_get_user_data_dir (), "assay", "store", NULL);
  config->source = g_string_free (g_steal_pointer (&source), FALSE);

  if (!validate (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

gboolean
assay_config_is_local (AssayConfig *self)
{
  return self->local != NULL;
}

/**
 * assay_config_open_store:
 * Returns: (transfer full): the store these settings name. Nothing is contacted yet:
 * the first request says whether it is there (assay_store_init_async() makes it).
 */
AssayStore *
assay_config_open_store (AssayConfig  *self,
                         GError      **error)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (assay_config_is_local (self))
    return ASSAY_STORE (assay_local_store_new (self->local));
  return ASSAY_STORE (assay_aws_store_new_for_config (self, error));
}
