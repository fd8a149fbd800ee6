/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-remote-credentials.h"

#include "assay-util.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-credentials"

#define ECS_ENDPOINT  "http://169.254.170.2"
#define IMDS_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL_S "21600"
/* The endpoints are on the link: an answer takes milliseconds, none means "not here". */
#define TIMEOUT_S 2

static const char *
getenv_nonempty (const char *name)
{
  const char *value = g_getenv (name);

  return value != NULL && value[0] != '\0' ? value : NULL;
}

static gboolean
imds_disabled (void)
{
  const char *value = getenv_nonempty ("AWS_EC2_METADATA_DISABLED");

  return value != NULL && g_ascii_strcasecmp (value, "true") == 0;
}

gboolean
assay_remote_credentials_configured (void)
{
  return getenv_nonempty ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL ||
         getenv_nonempty ("AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL ||
         !imds_disabled ();
}

/* The AWS SDKs allow a full URI over plain http only to these hosts. */
static gboolean
allowed_full_uri (GUri *uri)
{
  const char *scheme = g_uri_get_scheme (uri);
  const char *host = g_uri_get_host (uri);
  g_autoptr(GInetAddress) address = NULL;

  if (g_strcmp0 (scheme, "https") == 0)
    return TRUE;
  if (g_strcmp0 (scheme, "http") != 0 || host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  address = g_inet_address_new_from_string (host);
  if (address == NULL)
    return FALSE;
  if (g_inet_address_get_is_loopback (address))
    return TRUE;
  return g_str_equal (host, "169.254.170.2") || g_str_equal (host, "169.254.170.23") ||
         g_str_equal (host, "fd00:ec2::23");
}

/* One request; the body of a 2xx answer, else NULL with @error naming @what: code
 * @silent_code when nothing answered, INVALID for any other answer. */
static GBytes *
request (SoupSession  *session,
         const char   *method,
         const char   *url,
         const char   *header_name,
         const char   *header_value,
         const char   *what,
         int           silent_code,
         GCancellable *cancellable,
         GError      **error)
{
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) local_error = NULL;
  guint status;

  if (msg == NULL)
    {
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "%s: “%s” is not a URL", what, url);
      return NULL;
    }
  if (header_name != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), header_name,
                                  header_value);
  if (g_str_equal (method, "PUT"))
    {
      g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);

      soup_message_set_request_body_from_bytes (msg, NULL, empty);
    }
  body = soup_session_send_and_read (session, msg, cancellable, &local_error);
  if (body == NULL)
    {
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, silent_code, "%s at %s did not answer: %s",
                   what, url, local_error->message);
      return NULL;
    }
  status = soup_message_get_status (msg);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "%s at %s answered %u %s", what, url, status,
                   soup_message_get_reason_phrase (msg));
      return NULL;
    }
  return g_steal_pointer (&body);
}

/* {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}: the container endpoint's
 * and IMDS's answer (IMDS adds "Code": "Success"). */
static AssayCredentials *
parse_credentials (GBytes      *body,
                   const char  *source,
                   const char  *url,
                   GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize size = 0;
  const char *data = g_bytes_get_data (body, &size);
  JsonNode *root;
  JsonObject *object;
  const char *id, *secret, *token, *expiration, *code;
  g_autoptr(GDateTime) expires = NULL;

  if (!json_parser_load_from_data (parser, data != NULL ? data : "", (gssize) size, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "%s at %s: the answer is not a JSON object", source, url);
      return NULL;
    }
  object = json_node_get_object (root);
  code = json_object_get_string_member_with_default (object, "Code", "Success");
  id = json_object_get_string_member_with_default (object, "AccessKeyId", NULL);
  secret = json_object_get_string_member_with_default (object, "SecretAccessKey", NULL);
  token = json_object_get_string_member_with_default (object, "Token", NULL);
  expiration = json_object_get_string_member_with_default (object, "Expiration", NULL);
  if (expiration != NULL)
    expires = g_date_time_new_from_iso8601 (expiration, NULL);
  if (g_strcmp0 (code, "Success") != 0 || id == NULL || secret == NULL || expires == NULL)
    {
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "%s at %s: the answer has no usable credentials (Code %s; AccessKeyId, "
                   "SecretAccessKey and Expiration are needed)", source, url,
                   code != NULL ? code : "missing");
      return NULL;
    }
  return assay_credentials_new_expiring (id, secret, token, source,
                                         g_date_time_to_unix (expires));
}

static AssayCredentials *
fetch_container (SoupSession  *session,
                 GCancellable *cancellable,
                 GError      **error)
{
  const char *relative = getenv_nonempty ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  const char *full = getenv_nonempty ("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  const char *token_file = getenv_nonempty ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  g_autofree char *url = NULL;
  g_autofree char *token = NULL;
  g_autofree char *source = NULL;
  g_autoptr(GBytes) body = NULL;

  if (relative != NULL)
    url = g_strconcat (ECS_ENDPOINT, relative[0] == '/' ? "" : "/", relative, NULL);
  else
    {
      g_autoptr(GUri) uri = g_uri_parse (full, G_URI_FLAGS_NONE, NULL);

      if (uri == NULL || !allowed_full_uri (uri))
        {
          g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                       "AWS_CONTAINER_CREDENTIALS_FULL_URI “%s” must be https, or http to a "
                       "loopback address or the ECS/EKS link-local address", full);
          return NULL;
        }
      url = g_strdup (full);
    }

  if (token_file != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      if (!g_file_get_contents (token_file, &token, NULL, &local_error))
        {
          g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s", local_error->message);
          return NULL;
        }
      g_strstrip (token);
    }
  else
    token = g_strdup (getenv_nonempty ("AWS_CONTAINER_AUTHORIZATION_TOKEN"));

  source = g_strdup_printf ("the container's role (%s)", url);
  body = request (session, "GET", url, token != NULL ? "Authorization" : NULL, token,
                  "The container credentials endpoint",
                  /* configured but silent: an error, not "not on ECS" */
                  ASSAY_CREDENTIALS_ERROR_INVALID, cancellable, error);
  if (token != NULL)
    assay_wipe (token, strlen (token));
  if (body == NULL)
    return NULL;
  return parse_credentials (body, source, url, error);
}

static AssayCredentials *
fetch_imds (SoupSession  *session,
            GCancellable *cancellable,
            GError      **error)
{
  const char *endpoint = getenv_nonempty ("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  g_autofree char *base = g_strdup (endpoint != NULL ? endpoint : IMDS_ENDPOINT);
  g_autofree char *token_url = NULL;
  g_autofree char *roles_url = NULL;
  g_autofree char *role_url = NULL;
  g_autofree char *token = NULL;
  g_autofree char *role = NULL;
  g_autofree char *source = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) roles = NULL;
  g_autoptr(GBytes) answer = NULL;
  AssayCredentials *credentials;
  char *newline;

  while (g_str_has_suffix (base, "/"))
    base[strlen (base) - 1] = '\0';
  token_url = g_strconcat (base, "/latest/api/token", NULL);
  roles_url = g_strconcat (base, "/latest/meta-data/iam/security-credentials/", NULL);

  body = request (session, "PUT", token_url, "X-aws-ec2-metadata-token-ttl-seconds",
                  IMDS_TOKEN_TTL_S, "The EC2 instance metadata service (IMDSv2)",
                  ASSAY_CREDENTIALS_ERROR_NOT_FOUND, cancellable, error);
  if (body == NULL)
    return NULL;
  token = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));

  roles = request (session, "GET", roles_url, "X-aws-ec2-metadata-token", token,
                   "The EC2 instance metadata service", ASSAY_CREDENTIALS_ERROR_INVALID,
                   cancellable, error);
  if (roles == NULL)
    goto out;
  role = g_strndup (g_bytes_get_data (roles, NULL), g_bytes_get_size (roles));
  if ((newline = strchr (role, '\n')) != NULL)
    *newline = '\0';
  g_strstrip (role);
  if (role[0] == '\0' || strchr (role, '/') != NULL)
    {
      g_set_error (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_INVALID,
                   "The EC2 instance has no IAM role (an instance profile is needed): %s",
                   roles_url);
      goto out;
    }

  role_url = g_strconcat (roles_url, role, NULL);
  answer = request (session, "GET", role_url, "X-aws-ec2-metadata-token", token,
                    "The EC2 instance metadata service", ASSAY_CREDENTIALS_ERROR_INVALID,
                    cancellable, error);
  if (answer == NULL)
    goto out;
  source = g_strdup_printf ("the EC2 instance's role “%s” (IMDSv2)", role);
  credentials = parse_credentials (answer, source, role_url, error);
  assay_wipe (token, strlen (token));
  return credentials;

out:
  assay_wipe (token, strlen (token));
  return NULL;
}

/**
 * assay_remote_credentials_fetch:
 *
 * The container's credentials when its endpoint is configured, else the instance's
 * (IMDSv2) unless AWS_EC2_METADATA_DISABLED=true.
 */
AssayCredentials *
assay_remote_credentials_fetch (GCancellable  *cancellable,
                                GError       **error)
{
  g_autoptr(SoupSession) session = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  session = soup_session_new_with_options ("timeout", TIMEOUT_S,
                                           "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION,
                                           NULL);
  /* the endpoints are link-local: never through a proxy */
  soup_session_set_proxy_resolver (session, NULL);
  if (getenv_nonempty ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL ||
      getenv_nonempty ("AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL)
    return fetch_container (session, cancellable, error);
  if (imds_disabled ())
    {
      g_set_error_literal (error, ASSAY_CREDENTIALS_ERROR, ASSAY_CREDENTIALS_ERROR_NOT_FOUND,
                           "no container credentials endpoint, and the instance metadata "
                           "service is disabled (AWS_EC2_METADATA_DISABLED)");
      return NULL;
    }
  return fetch_imds (session, cancellable, error);
}
