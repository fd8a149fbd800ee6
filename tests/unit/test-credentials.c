/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-aws-transport.h"
#include "assay-credentials.h"
#include "assay-remote-credentials.h"

#include <libsoup/soup.h>

#include <glib/gstdio.h>
#include <string.h>

static const char *const env_vars[] = {
  "HOME",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SECURITY_TOKEN",
  "AWS_PROFILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
};

typedef struct
{
  char *home;
  char *aws_dir;
  char *saved[G_N_ELEMENTS (env_vars)];
} Fixture;

/* A fresh HOME and none of the AWS_* variables; all restored afterwards. */
static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (env_vars); i++)
    {
      f->saved[i] = g_strdup (g_getenv (env_vars[i]));
      g_unsetenv (env_vars[i]);
    }
  f->home = g_dir_make_tmp ("assay-credentials-XXXXXX", &error);
  g_assert_no_error (error);
  f->aws_dir = g_build_filename (f->home, ".aws", NULL);
  g_assert_cmpint (g_mkdir (f->aws_dir, 0700), ==, 0);
  g_setenv ("HOME", f->home, TRUE);
  /* not on EC2: the remote tests below point the chain at their own endpoints */
  g_setenv ("AWS_EC2_METADATA_DISABLED", "true", TRUE);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    {
      g_unlink (path);
    }
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  remove_tree (f->home);
  for (gsize i = 0; i < G_N_ELEMENTS (env_vars); i++)
    {
      if (f->saved[i] != NULL)
        g_setenv (env_vars[i], f->saved[i], TRUE);
      else
        g_unsetenv (env_vars[i]);
      g_free (f->saved[i]);
    }
  g_free (f->aws_dir);
  g_free (f->home);
}

static void
write_file (const char *path,
            const char *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
write_aws (Fixture    *f,
           const char *name,
           const char *contents)
{
  g_autofree char *path = g_build_filename (f->aws_dir, name, NULL);

  write_file (path, contents);
}

static AssayCredentials *
resolve_ok (const char *profile)
{
  g_autoptr(GError) error = NULL;
  AssayCredentials *creds = assay_credentials_resolve (NULL, NULL, NULL, profile, &error);

  g_assert_no_error (error);
  g_assert_nonnull (creds);
  return creds;
}

static void
test_new (void)
{
  g_autoptr(AssayCredentials) creds = assay_credentials_new ("AKID", "SECRET", "", "here");
  AssayCredentials *ref;

  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "AKID");
  g_assert_cmpstr (assay_credentials_get_secret_access_key (creds), ==, "SECRET");
  g_assert_null (assay_credentials_get_session_token (creds));
  g_assert_cmpstr (assay_credentials_get_source (creds), ==, "here");

  ref = assay_credentials_ref (creds);
  g_assert_true (ref == creds);
  assay_credentials_unref (ref);
  g_assert_cmpstr (assay_credentials_get_secret_access_key (creds), ==, "SECRET");
}

static void
test_precedence (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  AssayCredentials *creds;

  write_aws (f, "credentials", "[default]\naws_access_key_id = FILEKEY\n"
                               "aws_secret_access_key = FILESECRET\n");
  write_aws (f, "config", "[default]\naws_access_key_id = CONFKEY\n"
                          "aws_secret_access_key = CONFSECRET\n");
  g_setenv ("AWS_ACCESS_KEY_ID", "ENVKEY", TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", "ENVSECRET", TRUE);
  g_setenv ("AWS_SESSION_TOKEN", "ENVTOKEN", TRUE);

  /* 1. Explicit values win over everything. */
  creds = assay_credentials_resolve ("EXPKEY", "EXPSECRET", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "EXPKEY");
  g_assert_null (assay_credentials_get_session_token (creds));
  assay_credentials_unref (creds);

  /* 2. Then the environment, with its session token. */
  creds = resolve_ok (NULL);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "ENVKEY");
  g_assert_cmpstr (assay_credentials_get_secret_access_key (creds), ==, "ENVSECRET");
  g_assert_cmpstr (assay_credentials_get_session_token (creds), ==, "ENVTOKEN");
  g_assert_cmpstr (assay_credentials_get_source (creds), ==, "environment");
  assay_credentials_unref (creds);

  /* 3. Then the credentials file. */
  g_unsetenv ("AWS_ACCESS_KEY_ID");
  g_unsetenv ("AWS_SECRET_ACCESS_KEY");
  g_unsetenv ("AWS_SESSION_TOKEN");
  creds = resolve_ok (NULL);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "FILEKEY");
  g_assert_cmpstr (assay_credentials_get_secret_access_key (creds), ==, "FILESECRET");
  g_assert_cmpstr (assay_credentials_get_source (creds), ==,
                   "profile “default” in ~/.aws/credentials");
  assay_credentials_unref (creds);

  /* 4. Then the config file. */
  write_aws (f, "credentials", "# nothing here\n");
  creds = resolve_ok (NULL);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "CONFKEY");
  g_assert_cmpstr (assay_credentials_get_source (creds), ==, "profile “default” in ~/.aws/config");
  assay_credentials_unref (creds);
}

static void
test_profiles (Fixture       *f,
               gconstpointer  data)
{
  AssayCredentials *creds;

  write_aws (f, "credentials",
             "[default]\naws_access_key_id=DEFKEY\naws_secret_access_key=DEFSECRET\n"
             "[dev]\naws_access_key_id=DEVKEY\naws_secret_access_key=DEVSECRET\n"
             "aws_session_token=DEVTOKEN\n");
  write_aws (f, "config",
             "[profile dev]\naws_access_key_id=CONFDEVKEY\naws_secret_access_key=X\n"
             "[profile   ops]\nregion = eu-west-1\naws_access_key_id = OPSKEY\n"
             "aws_secret_access_key = OPSSECRET\naws_session_token = OPSTOKEN\n"
             "[dev]\naws_access_key_id=NOT-A-PROFILE-IN-CONFIG\naws_secret_access_key=X\n");

  /* AWS_PROFILE picks the profile; the credentials file comes before the config. */
  g_setenv ("AWS_PROFILE", "dev", TRUE);
  creds = resolve_ok (NULL);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "DEVKEY");
  g_assert_cmpstr (assay_credentials_get_session_token (creds), ==, "DEVTOKEN");
  g_assert_cmpstr (assay_credentials_get_source (creds), ==, "profile “dev” in ~/.aws/credentials");
  assay_credentials_unref (creds);

  /* The explicit profile wins over AWS_PROFILE; "[profile ops]" in the config file. */
  creds = resolve_ok ("ops");
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "OPSKEY");
  g_assert_cmpstr (assay_credentials_get_secret_access_key (creds), ==, "OPSSECRET");
  g_assert_cmpstr (assay_credentials_get_session_token (creds), ==, "OPSTOKEN");
  g_assert_cmpstr (assay_credentials_get_source (creds), ==, "profile “ops” in ~/.aws/config");
  assay_credentials_unref (creds);

  g_unsetenv ("AWS_PROFILE");
  creds = resolve_ok (NULL);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "DEFKEY");
  g_assert_null (assay_credentials_get_session_token (creds));
  assay_credentials_unref (creds);
}

static void
test_custom_paths (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *creds_path = g_build_filename (f->home, "my-credentials", NULL);
  g_autofree char *config_path = g_build_filename (f->home, "my-config", NULL);
  g_autofree char *source = NULL;
  g_autofree char *region = NULL;
  AssayCredentials *creds;

  write_aws (f, "credentials", "[default]\naws_access_key_id=WRONG\naws_secret_access_key=X\n");
  write_file (creds_path, "[default]\naws_access_key_id=RIGHT\naws_secret_access_key=Y\n");
  write_file (config_path, "[default]\nregion=ap-south-1\n");
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", creds_path, TRUE);
  g_setenv ("AWS_CONFIG_FILE", "~/my-config", TRUE);

  creds = resolve_ok (NULL);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "RIGHT");
  g_assert_cmpstr (assay_credentials_get_source (creds), ==, "profile “default” in ~/my-credentials");
  assay_credentials_unref (creds);

  region = assay_credentials_resolve_region (NULL, NULL);
  g_assert_cmpstr (region, ==, "ap-south-1");
}

/* What the AWS CLI accepts: comments, spacing, "key: value", CRLF, nested sections. */
static void
test_syntax (Fixture       *f,
             gconstpointer  data)
{
  AssayCredentials *creds;

  write_aws (f, "config",
             "# a comment\r\n"
             "; another\r\n"
             "\r\n"
             "[profile s3user]   # trailing comment\r\n"
             "region=us-west-2\r\n"
             "s3 =\r\n"
             "  addressing_style = path\r\n"
             "  max_concurrent_requests = 20\r\n"
             "\r\n"
             "\t  # an indented comment\r\n"
             "AWS_Access_Key_Id:KEY:WITH:COLONS\r\n"
             "aws_secret_access_key   =   a/b+c=d==   \r\n"
             "[sso-session corp]\r\n"
             "sso_region = us-east-1\r\n");

  creds = resolve_ok ("s3user");
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "KEY:WITH:COLONS");
  g_assert_cmpstr (assay_credentials_get_secret_access_key (creds), ==, "a/b+c=d==");
  assay_credentials_unref (creds);
}

static void
expect_error (int         code,
              const char *profile,
              const char *const *fragments)
{
  g_autoptr(GError) error = NULL;
  AssayCredentials *creds = assay_credentials_resolve (NULL, NULL, NULL, profile, &error);

  g_assert_null (creds);
  g_assert_error (error, ASSAY_CREDENTIALS_ERROR, code);
  for (gsize i = 0; fragments[i] != NULL; i++)
    {
      if (strstr (error->message, fragments[i]) == NULL)
        g_error ("“%s” does not mention “%s”", error->message, fragments[i]);
    }
}

static void
test_malformed (Fixture       *f,
                gconstpointer  data)
{
  static const struct
  {
    const char *contents;
    const char *line;
  } cases[] = {
    { "[default]\naws_access_key_id\n", "line 2" },
    { "aws_access_key_id = A\n[default]\n", "line 1" },
    { "[default\naws_access_key_id = A\n", "line 1" },
    { "[default]\n[default]\n", "line 2" },
    { "[default]\nregion = a\nregion = b\n", "line 3" },
    { "[default]\nregion = a\n  more = b\n", "line 3" },
    { "[default] junk\n", "line 1" },
    { "[default]\n = value\n", "line 2" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *fragments[] = { "~/.aws/credentials", cases[i].line, NULL };

      write_aws (f, "credentials", cases[i].contents);
      expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, NULL, fragments);
    }

  /* The config file's errors name it too. */
  {
    const char *fragments[] = { "~/.aws/config", "line 2", NULL };

    write_aws (f, "credentials", "");
    write_aws (f, "config", "[default]\nnot a key value line\n");
    expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, NULL, fragments);
  }
}

static void
test_missing_pieces (Fixture       *f,
                     gconstpointer  data)
{
  /* Nothing anywhere. */
  {
    const char *fragments[] = { "No AWS credentials", "“default”", NULL };

    expect_error (ASSAY_CREDENTIALS_ERROR_NOT_FOUND, NULL, fragments);
  }

  /* A profile that does not exist is named. */
  {
    const char *fragments[] = { "“nope”", "~/.aws/credentials", "~/.aws/config", NULL };

    write_aws (f, "credentials", "[default]\naws_access_key_id=A\naws_secret_access_key=B\n");
    expect_error (ASSAY_CREDENTIALS_ERROR_NOT_FOUND, "nope", fragments);
  }

  /* A key without its secret names the file and the profile. */
  {
    const char *fragments[] = { "“dev”", "~/.aws/credentials", "aws_secret_access_key", NULL };

    write_aws (f, "credentials", "[dev]\naws_access_key_id = A\n");
    expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, "dev", fragments);
  }
  {
    const char *fragments[] = { "“dev”", "~/.aws/config", "aws_access_key_id", NULL };

    write_aws (f, "credentials", "");
    write_aws (f, "config", "[profile dev]\naws_secret_access_key = B\n");
    expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, "dev", fragments);
  }

  /* A session token alone. */
  {
    const char *fragments[] = { "“dev”", "aws_session_token", NULL };

    write_aws (f, "config", "[profile dev]\naws_session_token = T\n");
    expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, "dev", fragments);
  }

  /* Kinds of profile Assay does not support are said to be so. */
  {
    const char *fragments[] = { "“dev”", "role_arn", NULL };

    write_aws (f, "config", "[profile dev]\nrole_arn = arn:aws:iam::1:role/x\n"
                            "source_profile = default\n");
    expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, "dev", fragments);
  }

  /* A profile with only a region has no credentials. */
  {
    const char *fragments[] = { "“dev”", "no aws_access_key_id", NULL };

    write_aws (f, "config", "[profile dev]\nregion = eu-west-1\n");
    expect_error (ASSAY_CREDENTIALS_ERROR_NOT_FOUND, "dev", fragments);
  }

  /* Half of the environment. */
  {
    const char *fragments[] = { "AWS_SECRET_ACCESS_KEY", NULL };

    g_setenv ("AWS_ACCESS_KEY_ID", "A", TRUE);
    expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, NULL, fragments);
    g_unsetenv ("AWS_ACCESS_KEY_ID");
  }

  /* An explicit key without its secret. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (assay_credentials_resolve ("A", NULL, NULL, NULL, &error));
    g_assert_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID);
  }

  /* An unreadable credentials file is an error, not a skipped source. */
  {
    g_autofree char *dir_path = g_build_filename (f->home, "a-directory", NULL);
    const char *fragments[] = { "a-directory", NULL };

    g_assert_cmpint (g_mkdir (dir_path, 0700), ==, 0);
    g_setenv ("AWS_SHARED_CREDENTIALS_FILE", dir_path, TRUE);
    expect_error (ASSAY_CREDENTIALS_ERROR_INVALID, NULL, fragments);
    g_unsetenv ("AWS_SHARED_CREDENTIALS_FILE");
  }
}

static void
test_region (Fixture       *f,
             gconstpointer  data)
{
  char *region;

  region = assay_credentials_resolve_region (NULL, NULL);
  g_assert_null (region);

  write_aws (f, "config", "[default]\nregion = eu-north-1\n"
                          "[profile dev]\nregion = ap-northeast-1\n"
                          "[profile bare]\noutput = json\n");
  region = assay_credentials_resolve_region (NULL, NULL);
  g_assert_cmpstr (region, ==, "eu-north-1");
  g_free (region);

  region = assay_credentials_resolve_region (NULL, "dev");
  g_assert_cmpstr (region, ==, "ap-northeast-1");
  g_free (region);

  g_setenv ("AWS_PROFILE", "dev", TRUE);
  region = assay_credentials_resolve_region (NULL, NULL);
  g_assert_cmpstr (region, ==, "ap-northeast-1");
  g_free (region);

  region = assay_credentials_resolve_region (NULL, "bare");
  g_assert_null (region);

  g_setenv ("AWS_DEFAULT_REGION", "us-east-2", TRUE);
  region = assay_credentials_resolve_region (NULL, NULL);
  g_assert_cmpstr (region, ==, "us-east-2");
  g_free (region);

  g_setenv ("AWS_REGION", "us-west-1", TRUE);
  region = assay_credentials_resolve_region (NULL, NULL);
  g_assert_cmpstr (region, ==, "us-west-1");
  g_free (region);

  region = assay_credentials_resolve_region ("sa-east-1", NULL);
  g_assert_cmpstr (region, ==, "sa-east-1");
  g_free (region);
}

/* ---------------------------------------------------------------------------------------- */
/* Temporary credentials: a container endpoint and IMDSv2, served on 127.0.0.1 from a thread */

typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  char *url;             /* http://127.0.0.1:PORT */
  guint generation;      /* the credentials handed out: key id ASIA<generation> */
  guint requests;
  GMutex lock;
  GCond ready;
} Metadata;

static void
answer (SoupServerMessage *msg,
        guint              status,
        const char        *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, body, strlen (body));
}

static void
answer_credentials (Metadata          *m,
                    SoupServerMessage *msg,
                    gint64             lifetime_s,
                    gboolean           imds)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) expires = g_date_time_add_seconds (now, (gdouble) lifetime_s);
  g_autofree char *expiration = g_date_time_format (expires, "%Y-%m-%dT%H:%M:%SZ");
  g_autofree char *body = NULL;
  guint generation = g_atomic_int_add (&m->generation, 1) + 1;

  body = g_strdup_printf ("{%s\"AccessKeyId\": \"ASIA%u\", \"SecretAccessKey\": \"secret-%u\", "
                          "\"Token\": \"session-%u\", \"Expiration\": \"%s\"}",
                          imds ? "\"Code\": \"Success\", \"Type\": \"AWS-HMAC\", " : "",
                          generation, generation, generation, expiration);
  answer (msg, 200, body);
}

static void
metadata_cb (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           data)
{
  Metadata *m = data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *method = soup_server_message_get_method (msg);
  const char *imds_token = soup_message_headers_get_one (headers, "X-aws-ec2-metadata-token");

  g_atomic_int_inc (&m->requests);
  /* the container endpoint: the token in Authorization; credentials for 10 minutes */
  if (g_str_equal (path, "/ecs/credentials"))
    {
      if (g_strcmp0 (soup_message_headers_get_one (headers, "Authorization"), "ecs-token") != 0)
        answer (msg, 401, "{\"message\": \"bad token\"}");
      else
        answer_credentials (m, msg, 600, FALSE);
    }
  else if (g_str_equal (path, "/ecs/garbage"))
    answer (msg, 200, "<html>captive portal</html>");
  /* IMDSv2: a session token from PUT, then every GET must carry it */
  else if (g_str_equal (path, "/latest/api/token") && g_str_equal (method, "PUT") &&
           soup_message_headers_get_one (headers, "X-aws-ec2-metadata-token-ttl-seconds"))
    answer (msg, 200, "imds-session-token");
  else if (g_strcmp0 (imds_token, "imds-session-token") != 0)
    answer (msg, 401, "");
  else if (g_str_equal (path, "/latest/meta-data/iam/security-credentials/"))
    answer (msg, 200, "assay-worker-role\n");
  else if (g_str_equal (path, "/latest/meta-data/iam/security-credentials/assay-worker-role"))
    answer_credentials (m, msg, 6 * 3600, TRUE);
  else
    answer (msg, 404, "");
}

static gpointer
metadata_thread (gpointer data)
{
  Metadata *m = data;
  g_autoptr(GError) error = NULL;
  g_autoslist(GUri) uris = NULL;

  g_main_context_push_thread_default (m->context);
  m->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (m->server, NULL, metadata_cb, m, NULL);
  soup_server_listen_local (m->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (m->server);
  g_mutex_lock (&m->lock);
  m->url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_cond_signal (&m->ready);
  g_mutex_unlock (&m->lock);
  g_main_loop_run (m->loop);
  g_clear_object (&m->server);
  g_main_context_pop_thread_default (m->context);
  return NULL;
}

static Metadata *
metadata_start (void)
{
  Metadata *m = g_new0 (Metadata, 1);

  g_mutex_init (&m->lock);
  g_cond_init (&m->ready);
  m->context = g_main_context_new ();
  m->loop = g_main_loop_new (m->context, FALSE);
  g_mutex_lock (&m->lock);
  m->thread = g_thread_new ("metadata", metadata_thread, m);
  while (m->url == NULL)
    g_cond_wait (&m->ready, &m->lock);
  g_mutex_unlock (&m->lock);
  return m;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
metadata_stop (Metadata *m)
{
  g_main_context_invoke (m->context, quit_cb, m->loop);
  g_thread_join (m->thread);
  g_main_loop_unref (m->loop);
  g_main_context_unref (m->context);
  g_mutex_clear (&m->lock);
  g_cond_clear (&m->ready);
  g_free (m->url);
  g_free (m);
}

static void
test_container (Fixture       *f,
                gconstpointer  data)
{
  Metadata *m = metadata_start ();
  g_autofree char *url = g_strconcat (m->url, "/ecs/credentials", NULL);
  g_autofree char *token_file = g_build_filename (f->home, "token", NULL);
  g_autoptr(AssayCredentials) creds = NULL;
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  /* the full URI, with the token in the environment */
  g_setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, TRUE);
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-token", TRUE);
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "ASIA1");
  g_assert_cmpstr (assay_credentials_get_secret_access_key (creds), ==, "secret-1");
  g_assert_cmpstr (assay_credentials_get_session_token (creds), ==, "session-1");
  g_assert_cmpint (assay_credentials_get_expiration (creds), >=, now + 590);
  g_assert_cmpint (assay_credentials_get_expiration (creds), <=, now + 610);
  g_assert_nonnull (strstr (assay_credentials_get_source (creds), "container"));
  g_clear_pointer (&creds, assay_credentials_unref);

  /* the environment's keys come first */
  g_setenv ("AWS_ACCESS_KEY_ID", "AKIDENV", TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", "env-secret", TRUE);
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "AKIDENV");
  g_assert_cmpint (assay_credentials_get_expiration (creds), ==, 0);
  g_clear_pointer (&creds, assay_credentials_unref);
  g_unsetenv ("AWS_ACCESS_KEY_ID");
  g_unsetenv ("AWS_SECRET_ACCESS_KEY");

  /* the token from a file (EKS Pod Identity) */
  g_unsetenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  write_file (token_file, "ecs-token\n");
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file, TRUE);
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "ASIA2");
  g_clear_pointer (&creds, assay_credentials_unref);

  /* a wrong token: the endpoint's refusal, not "no credentials" */
  write_file (token_file, "stolen-token");
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "401"));
  g_assert_nonnull (strstr (error->message, url));
  g_clear_error (&error);
  g_unsetenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

  /* an answer that is not credentials */
  g_free (url);
  url = g_strconcat (m->url, "/ecs/garbage", NULL);
  g_setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, TRUE);
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "not a JSON object"));
  g_clear_error (&error);

  /* plain http only to the loopback and the link-local endpoints */
  g_setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.com/x", TRUE);
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "must be https"));
  g_clear_error (&error);

  metadata_stop (m);
}

static void
test_imds (Fixture       *f,
           gconstpointer  data)
{
  Metadata *m = metadata_start ();
  g_autoptr(AssayCredentials) creds = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *closed_url = NULL;

  /* disabled (the fixture's setting): not asked */
  g_setenv ("AWS_EC2_METADATA_SERVICE_ENDPOINT", m->url, TRUE);
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no EC2 instance role"));
  g_clear_error (&error);
  g_assert_cmpuint (g_atomic_int_get (&m->requests), ==, 0);

  /* enabled: token, role, credentials — three requests */
  g_unsetenv ("AWS_EC2_METADATA_DISABLED");
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_credentials_get_access_key_id (creds), ==, "ASIA1");
  g_assert_cmpstr (assay_credentials_get_session_token (creds), ==, "session-1");
  g_assert_nonnull (strstr (assay_credentials_get_source (creds), "assay-worker-role"));
  g_assert_cmpint (assay_credentials_get_expiration (creds), >,
                   g_get_real_time () / G_USEC_PER_SEC + 5 * 3600);
  g_assert_cmpuint (g_atomic_int_get (&m->requests), ==, 3);
  g_clear_pointer (&creds, assay_credentials_unref);

  /* a named profile that does not exist is reported, not covered by the instance role */
  creds = assay_credentials_resolve (NULL, NULL, NULL, "staging", &error);
  g_assert_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* nothing listening (not on EC2): "no credentials", naming the chain */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  {
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);

    g_socket_bind (socket, any, FALSE, &error);
    g_assert_no_error (error);
  }
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  closed_url = g_strdup_printf ("http://127.0.0.1:%u",
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_setenv ("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed_url, TRUE);
  creds = assay_credentials_resolve (NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no container role"));
  g_clear_error (&error);

  metadata_stop (m);
}

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* A transport renews credentials that expire within its margin, in a thread, and keeps
 * the new ones. */
static void
test_refresh (Fixture       *f,
              gconstpointer  data)
{
  Metadata *m = metadata_start ();
  g_autofree char *url = g_strconcat (m->url, "/ecs/credentials", NULL);
  g_autoptr(AssayCredentials) creds = NULL;
  g_autoptr(AssayAwsTransport) transport = NULL;
  g_autoptr(GError) error = NULL;
  gboolean timed_out = FALSE;
  guint timeout;

  g_setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, TRUE);
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-token", TRUE);
  /* credentials about to expire: renewed at half their life, from the endpoint */
  creds = assay_credentials_new_expiring ("ASIA0", "secret-0", "session-0", "a test",
                                          g_get_real_time () / G_USEC_PER_SEC + 2);
  transport = assay_aws_transport_new (creds, "eu-west-1", NULL);
  assay_aws_transport_set_refresh (transport, assay_remote_credentials_fetch);
  timeout = g_timeout_add_seconds (10, timeout_cb, &timed_out);
  while (!timed_out &&
         g_strcmp0 (assay_credentials_get_access_key_id (
                      assay_aws_transport_get_credentials (transport)), "ASIA0") == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout);
  g_assert_cmpstr (assay_credentials_get_secret_access_key (
                     assay_aws_transport_get_credentials (transport)), ==, "secret-1");
  /* the new ones live ten minutes: the next renewal is five minutes away */
  g_assert_cmpuint (g_atomic_int_get (&m->requests), ==, 1);

  g_clear_object (&transport);
  metadata_stop (m);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/credentials/new", test_new);
  g_test_add ("/common/credentials/precedence", Fixture, NULL, fixture_set_up, test_precedence,
              fixture_tear_down);
  g_test_add ("/common/credentials/profiles", Fixture, NULL, fixture_set_up, test_profiles,
              fixture_tear_down);
  g_test_add ("/common/credentials/custom-paths", Fixture, NULL, fixture_set_up,
              test_custom_paths, fixture_tear_down);
  g_test_add ("/common/credentials/syntax", Fixture, NULL, fixture_set_up, test_syntax,
              fixture_tear_down);
  g_test_add ("/common/credentials/malformed", Fixture, NULL, fixture_set_up, test_malformed,
              fixture_tear_down);
  g_test_add ("/common/credentials/missing-pieces", Fixture, NULL, fixture_set_up,
              test_missing_pieces, fixture_tear_down);
  g_test_add ("/common/credentials/region", Fixture, NULL, fixture_set_up, test_region,
              fixture_tear_down);
  g_test_add ("/common/credentials/container", Fixture, NULL, fixture_set_up, test_container,
              fixture_tear_down);
  g_test_add ("/common/credentials/imds", Fixture, NULL, fixture_set_up, test_imds,
              fixture_tear_down);
  g_test_add ("/common/credentials/refresh", Fixture, NULL, fixture_set_up, test_refresh,
              fixture_tear_down);

  return g_test_run ();
}
