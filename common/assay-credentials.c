/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-credentials.h"

#include "assay-remote-credentials.h"
#include "assay-util.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-credentials"

G_DEFINE_QUARK (assay-credentials-error-quark, assay_credentials_error)

struct _AssayCredentials
{
  gatomicrefcount ref_count;
  char *access_key_id;
  char *secret_access_key;
  char *session_token;
  char *source;
  gint64 expiration;  /* Unix seconds; 0: they do not expire */
};

static void
free_secret (char *secret)
{
  if (secret != NULL)
    assay_wipe (secret, strlen (secret));
  g_free (secret);
}

/**
 * assay_credentials_new:
 * @session_token: (nullable): an STS session token; "" is taken as none
 * @source: (nullable): where the credentials came from, for messages
 */
AssayCredentials *
assay_credentials_new (const char *access_key_id,
                       const char *secret_access_key,
                       const char *session_token,
                       const char *source)
{
  AssayCredentials *self;

  g_return_val_if_fail (access_key_id != NULL, NULL);
  g_return_val_if_fail (secret_access_key != NULL, NULL);

  self = g_new0 (AssayCredentials, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->access_key_id = g_strdup (access_key_id);
  self->secret_access_key = g_strdup (secret_access_key);
  if (session_token != NULL && session_token[0] != '\0')
    self->session_token = g_strdup (session_token);
  self->source = g_strdup (source ? source : "explicit values");
  return self;
}

/**
 * assay_credentials_new_expiring:
 * @expiration: when they stop working, in Unix seconds
 *
 * Temporary credentials (a role's, from STS): assay_aws_transport_set_refresh() replaces
 * them before @expiration.
 */
AssayCredentials *
assay_credentials_new_expiring (const char *access_key_id,
                                const char *secret_access_key,
                                const char *session_token,
                                const char *source,
                                gint64      expiration)
{
  AssayCredentials *self = assay_credentials_new (access_key_id, secret_access_key,
                                                  session_token, source);

  if (self != NULL)
    self->expiration = expiration;
  return self;
}

/* Returns: when the credentials expire (Unix seconds), or 0 when they do not */
gint64
assay_credentials_get_expiration (AssayCredentials *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->expiration;
}

AssayCredentials *
assay_credentials_ref (AssayCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
assay_credentials_unref (AssayCredentials *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->access_key_id);
  free_secret (self->secret_access_key);
  free_secret (self->session_token);
  g_free (self->source);
  g_free (self);
}

const char *
assay_credentials_get_access_key_id (AssayCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->access_key_id;
}

const char *
assay_credentials_get_secret_access_key (AssayCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->secret_access_key;
}

/* Returns: (nullable): the session token, or %NULL for long-term credentials. */
const char *
assay_credentials_get_session_token (AssayCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->session_token;
}

const char *
assay_credentials_get_source (AssayCredentials *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->source;
}

/* ----------------------------------------------------------------------------------------
 * The AWS shared configuration files.
 *
 * What the AWS CLI's parser (Python's configparser) accepts, strictly: "[section]" lines
 * ("[profile name]" in the config file), "key = value" or "key: value" lines, whole-line
 * comments starting with # or ;, and indented "key = value" lines under a key with an
 * empty value (a nested section such as "s3 =\n  addressing_style = path"), which are
 * skipped. Keys are case-insensitive. Anything else, a key outside a section, a section
 * or a key given twice, is an error that names the file and the line.
 */

typedef struct
{
  char *display; /* the path as shown in messages, with ~ for the home directory */
  GHashTable *sections; /* section header → (lowercase key → value) */
} AwsIniFile;

static void
wipe_free (gpointer data)
{
  free_secret (data);
}

static void
aws_ini_file_free (AwsIniFile *file)
{
  if (file == NULL)
    return;
  g_free (file->display);
  g_clear_pointer (&file->sections, g_hash_table_unref);
  g_free (file);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AwsIniFile, aws_ini_file_free)

static const char *
home_dir (void)
{
  /* HOME as the AWS CLI reads it; g_get_home_dir() caches its first answer. */
  const char *home = g_getenv ("HOME");

  return home != NULL && home[0] != '\0' ? home : g_get_home_dir ();
}

static char *
display_path (const char *path)
{
  const char *home = home_dir ();
  gsize len = strlen (home);

  while (len > 1 && home[len - 1] == '/')
    len--;
  if (len > 1 && strncmp (path, home, len) == 0 && path[len] == '/')
    return g_strconcat ("~", path + len, NULL);
  return g_strdup (path);
}

/* The file named by @env_var, else ~/.aws/@name; "~/" at the start is expanded. */
static char *
aws_file_path (const char *env_var,
               const char *name)
{
  const char *value = g_getenv (env_var);

  if (value != NULL && value[0] != '\0')
    {
      if (value[0] == '~' && (value[1] == '/' || value[1] == '\0'))
        return g_build_filename (home_dir (), value + 1, NULL);
      return g_strdup (value);
    }
  return g_build_filename (home_dir (), ".aws", name, NULL);
}

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

/* "profile   dev" → "profile dev"; other headers are only trimmed. */
static char *
section_key (const char *header)
{
  g_autofree char *copy = g_strstrip (g_strdup (header));

  if (g_str_has_prefix (copy, "profile") && is_blank (copy[7]))
    {
      const char *name = copy + 7;

      while (is_blank (*name))
        name++;
      return g_strconcat ("profile ", name, NULL);
    }
  return g_steal_pointer (&copy);
}

static gboolean
parse_error (GError    **error,
             const char *display,
             guint       line,
             const char *what)
{
  g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
               "%s, line %u: %s", display, line, what);
  return FALSE;
}

static gboolean
parse_aws_ini (AwsIniFile *file,
               char       *contents,
               GError    **error)
{
  GHashTable *section = NULL;
  gboolean in_subsection = FALSE; /* after "key =" with an empty value */
  guint lineno = 0;
  char *line = contents;

  while (line != NULL)
    {
      char *next = strchr (line, '\n');
      char *p;
      char *end;

      if (next != NULL)
        *next++ = '\0';
      lineno++;
      end = line + strlen (line);
      while (end > line && (end[-1] == '\r' || is_blank (end[-1])))
        *--end = '\0';
      for (p = line; is_blank (*p); p++)
        ;

      if (*p == '\0' || *p == '#' || *p == ';')
        {
          line = next;
          continue;
        }

      if (p != line)
        {
          /* An indented line: only valid inside a nested section. */
          if (!in_subsection || strpbrk (p, "=:") == NULL)
            return parse_error (error, file->display, lineno, "unexpected indented line");
          line = next;
          continue;
        }
      in_subsection = FALSE;

      if (*p == '[')
        {
          char *close = strchr (p, ']');
          g_autofree char *key = NULL;
          char *rest;

          if (close == NULL)
            return parse_error (error, file->display, lineno, "a section header without ']'");
          *close = '\0';
          for (rest = close + 1; is_blank (*rest); rest++)
            ;
          if (*rest != '\0' && *rest != '#' && *rest != ';')
            return parse_error (error, file->display, lineno, "text after a section header");
          key = section_key (p + 1);
          if (key[0] == '\0')
            return parse_error (error, file->display, lineno, "an empty section name");
          if (g_hash_table_contains (file->sections, key))
            return parse_error (error, file->display, lineno, "a section given twice");
          section = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
          g_hash_table_insert (file->sections, g_steal_pointer (&key), section);
        }
      else
        {
          char *sep = strpbrk (p, "=:");
          char *key_end;
          char *value;
          g_autofree char *key = NULL;

          if (sep == NULL)
            return parse_error (error, file->display, lineno, "expected “key = value”");
          if (section == NULL)
            return parse_error (error, file->display, lineno, "a key before any section");
          for (key_end = sep; key_end > p && is_blank (key_end[-1]); key_end--)
            ;
          if (key_end == p)
            return parse_error (error, file->display, lineno, "a value without a key");
          for (value = sep + 1; is_blank (*value); value++)
            ;
          key = g_ascii_strdown (p, key_end - p);
          if (g_hash_table_contains (section, key))
            return parse_error (error, file->display, lineno, "a key given twice");
          in_subsection = value[0] == '\0';
          g_hash_table_insert (section, g_steal_pointer (&key), g_strdup (value));
        }
      line = next;
    }
  return TRUE;
}

/* Returns: a parsed file, or %NULL with @error unset when the file does not exist. */
static AwsIniFile *
aws_ini_file_load (const char *path,
                   GError    **error)
{
  g_autoptr(AwsIniFile) file = g_new0 (AwsIniFile, 1);
  g_autoptr(GError) local_error = NULL;
  char *contents = NULL;
  gsize length = 0;
  gboolean ok;

  file->display = display_path (path);
  file->sections =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return NULL;
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "Cannot read %s: %s", file->display, local_error->message);
      return NULL;
    }
  if (memchr (contents, '\0', length) != NULL || !g_utf8_validate (contents, length, NULL))
    {
      assay_wipe (contents, length);
      g_free (contents);
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "%s is not a text file", file->display);
      return NULL;
    }
  ok = parse_aws_ini (file, contents, error);
  assay_wipe (contents, length);
  g_free (contents);
  if (!ok)
    return NULL;
  return g_steal_pointer (&file);
}

static GHashTable *
aws_ini_file_get_profile (AwsIniFile *file,
                          const char *profile,
                          gboolean    is_config)
{
  g_autofree char *key = NULL;
  GHashTable *section;

  if (file == NULL)
    return NULL;
  if (!is_config)
    return g_hash_table_lookup (file->sections, profile);
  key = g_strconcat ("profile ", profile, NULL);
  section = g_hash_table_lookup (file->sections, key);
  if (section == NULL && strcmp (profile, "default") == 0)
    section = g_hash_table_lookup (file->sections, "default");
  return section;
}

static const char *
profile_get (GHashTable *section,
             const char *key)
{
  const char *value = section ? g_hash_table_lookup (section, key) : NULL;

  return value != NULL && value[0] != '\0' ? value : NULL;
}

static const char *
resolve_profile_name (const char *profile)
{
  if (profile != NULL && profile[0] != '\0')
    return profile;
  profile = g_getenv ("AWS_PROFILE");
  if (profile != NULL && profile[0] != '\0')
    return profile;
  return "default";
}

static const char *
getenv_nonempty (const char *name)
{
  const char *value = g_getenv (name);

  return value != NULL && value[0] != '\0' ? value : NULL;
}

/* Credentials from one profile section, %NULL with @error unset when it has none. */
static AssayCredentials *
credentials_from_profile (AwsIniFile *file,
                          GHashTable *section,
                          const char *profile,
                          GError    **error)
{
  static const char *const unsupported[] = {
    "role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file",
  };
  const char *id = profile_get (section, "aws_access_key_id");
  const char *secret = profile_get (section, "aws_secret_access_key");
  const char *token = profile_get (section, "aws_session_token");
  g_autofree char *source = NULL;

  if (token == NULL)
    token = profile_get (section, "aws_security_token");

  if (id == NULL && secret == NULL)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (unsupported); i++)
        {
          if (profile_get (section, unsupported[i]) != NULL)
            {
              g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                           "Profile “%s” in %s uses %s, which Assay does not support: "
                           "give it aws_access_key_id and aws_secret_access_key",
                           profile, file->display, unsupported[i]);
              return NULL;
            }
        }
      if (token != NULL)
        {
          g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                       "Profile “%s” in %s has aws_session_token but no aws_access_key_id "
                       "and aws_secret_access_key",
                       profile, file->display);
          return NULL;
        }
      return NULL;
    }
  if (id == NULL || secret == NULL)
    {
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "Profile “%s” in %s has %s but no %s", profile, file->display,
                   id ? "aws_access_key_id" : "aws_secret_access_key",
                   id ? "aws_secret_access_key" : "aws_access_key_id");
      return NULL;
    }
  source = g_strdup_printf ("profile “%s” in %s", profile, file->display);
  return assay_credentials_new (id, secret, token, source);
}

/**
 * assay_credentials_resolve:
 * @access_key_id: (nullable): explicit credentials, used when set
 * @secret_access_key: (nullable): required with @access_key_id
 * @session_token: (nullable):
 * @profile: (nullable): the profile name; AWS_PROFILE or "default" when %NULL
 *
 * Returns: (transfer full): the first credentials in the AWS CLI's order, or %NULL with
 * %ASSAY_CREDENTIALS_ERROR_NOT_FOUND when there are none, or
 * %ASSAY_CREDENTIALS_ERROR_INVALID (naming the file and the profile) when a source that
 * is present is incomplete or malformed.
 */
AssayCredentials *
assay_credentials_resolve (const char *access_key_id,
                           const char *secret_access_key,
                           const char *session_token,
                           const char *profile,
                           GError    **error)
{
  g_autoptr(AwsIniFile) credentials_file = NULL;
  g_autoptr(AwsIniFile) config_file = NULL;
  g_autofree char *credentials_path = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *credentials_display = NULL;
  g_autofree char *config_display = NULL;
  GHashTable *section;
  GError *local_error = NULL;
  AssayCredentials *creds;
  const char *env_id;
  const char *env_secret;
  gboolean found_profile = FALSE;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* 1. Explicit values. */
  if (access_key_id != NULL && access_key_id[0] != '\0')
    {
      if (secret_access_key == NULL || secret_access_key[0] == '\0')
        {
          g_set_error_literal (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                               "An access key id was given without a secret access key");
          return NULL;
        }
      return assay_credentials_new (access_key_id, secret_access_key, session_token,
                                    "explicit values");
    }

  /* 2. The environment. */
  env_id = getenv_nonempty ("AWS_ACCESS_KEY_ID");
  env_secret = getenv_nonempty ("AWS_SECRET_ACCESS_KEY");
  if (env_id != NULL || env_secret != NULL)
    {
      const char *token = getenv_nonempty ("AWS_SESSION_TOKEN");

      if (env_id == NULL || env_secret == NULL)
        {
          g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                       "The environment has %s but not %s",
                       env_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       env_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
          return NULL;
        }
      if (token == NULL)
        token = getenv_nonempty ("AWS_SECURITY_TOKEN");
      return assay_credentials_new (env_id, env_secret, token, "environment");
    }

  /* 3. The profile in the credentials file, 4. then in the config file. */
  profile = resolve_profile_name (profile);
  credentials_path = aws_file_path ("AWS_SHARED_CREDENTIALS_FILE", "credentials");
  credentials_display = display_path (credentials_path);
  credentials_file = aws_ini_file_load (credentials_path, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  section = aws_ini_file_get_profile (credentials_file, profile, FALSE);
  if (section != NULL)
    {
      found_profile = TRUE;
      creds = credentials_from_profile (credentials_file, section, profile, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
      if (creds != NULL)
        return creds;
    }

  config_path = aws_file_path ("AWS_CONFIG_FILE", "config");
  config_display = display_path (config_path);
  config_file = aws_ini_file_load (config_path, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  section = aws_ini_file_get_profile (config_file, profile, TRUE);
  if (section != NULL)
    {
      found_profile = TRUE;
      creds = credentials_from_profile (config_file, section, profile, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
      if (creds != NULL)
        return creds;
    }

  /* 5. The container's role (ECS, Fargate), 6. the instance's (EC2, IMDSv2): only for
   * the default profile, as a named profile that is missing is a mistake to report. */
  if (!found_profile && g_str_equal (profile, "default") && assay_remote_credentials_configured ())
    {
      creds = assay_remote_credentials_fetch (NULL, &local_error);
      if (creds != NULL)
        return creds;
      if (!g_error_matches (local_error, ASSAY_CREDENTIALS_ERROR,
                            ASSAY_CREDENTIALS_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
      g_clear_error (&local_error);
    }

  if (found_profile)
    g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_NOT_FOUND,
                 "No AWS credentials: profile “%s” in %s and %s has no aws_access_key_id",
                 profile, credentials_display, config_display);
  else
    g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_NOT_FOUND,
                 "No AWS credentials: none given, none in the environment "
                 "(AWS_ACCESS_KEY_ID), no profile “%s” in %s or %s, no container role "
                 "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) and no EC2 instance role",
                 profile, credentials_display, config_display);
  return NULL;
}

/**
 * assay_credentials_resolve_region:
 *
 * Returns: (transfer full) (nullable): the region, or %NULL when none is set (a config
 * file that cannot be read counts as no region; assay_credentials_resolve() reports it).
 */
char *
assay_credentials_resolve_region (const char *explicit_region,
                                  const char *profile)
{
  g_autoptr(AwsIniFile) config_file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config_path = NULL;
  const char *region;

  if (explicit_region != NULL && explicit_region[0] != '\0')
    return g_strdup (explicit_region);
  if ((region = getenv_nonempty ("AWS_REGION")) != NULL)
    return g_strdup (region);
  if ((region = getenv_nonempty ("AWS_DEFAULT_REGION")) != NULL)
    return g_strdup (region);

  profile = resolve_profile_name (profile);
  config_path = aws_file_path ("AWS_CONFIG_FILE", "config");
  config_file = aws_ini_file_load (config_path, &error);
  if (error != NULL)
    {
      g_debug ("No region from the config file: %s", error->message);
      return NULL;
    }
  region = profile_get (aws_ini_file_get_profile (config_file, profile, TRUE), "region");
  return g_strdup (region);
}
