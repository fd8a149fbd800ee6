/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-aws-transport.h"

#include "assay-sigv4.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "assay-aws"

#define DOWNLOAD_BUFFER_SIZE (64 * 1024)
#define PROGRESS_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)

G_DEFINE_QUARK (assay-aws-error-quark, assay_aws_error)

struct _AssayAwsTransport
{
  GObject parent_instance;

  AssayCredentials *credentials;
  char *region;
  AssayAwsRetryPolicy policy;
  SoupSession *session;
  gint64 clock_offset; /* seconds to add to the local clock */

  /* Temporary credentials: replaced before they expire (assay_aws_transport_set_refresh) */
  AssayCredentialsFetch refresh;
  GMainContext *refresh_context;
  GSource *refresh_source;
  GCancellable *refresh_cancellable;
};

/* New temporary credentials are fetched this long before the old ones expire (the AWS
 * SDKs use 5 to 15 minutes; the endpoints hand out new ones 5 minutes before), and
 * again after a failed fetch. */
#define REFRESH_MARGIN_S 300
#define REFRESH_RETRY_S 30

G_DEFINE_FINAL_TYPE (AssayAwsTransport, assay_aws_transport, G_TYPE_OBJECT)

/* What kind of failure a transport error is. */
typedef enum
{
  FAILURE_FATAL,       /* not worth retrying */
  FAILURE_UNREACHABLE, /* could not connect */
  FAILURE_TIMEOUT,     /* no progress for idle_timeout_s */
  FAILURE_TRANSIENT,   /* reset, closed, a garbled answer */
} FailureKind;

typedef struct
{
  /* The request. */
  char *service;
  char *method;
  GUri *uri;
  GHashTable *headers;
  GBytes *body;
  char *payload_hash;
  AssayAwsClassifyFunc classify;
  GFileProgressCallback progress;
  gpointer progress_data;
  GOutputStream *output; /* download only */

  GMainContext *context;
  guint connect_timeout_s;
  char *endpoint; /* "http://127.0.0.1:9", for messages */

  /* The attempts. */
  guint attempt;       /* attempts started */
  guint extra_attempts; /* the clock-skew retry, which does not count */
  gboolean skew_corrected;
  SoupMessage *msg;    /* the current attempt's */
  SoupMessage *final_msg; /* the message of the answer given back */
  GCancellable *attempt_cancellable;
  gulong cancel_handler;
  GSource *connect_timer;
  gboolean connect_timed_out;
  GSource *delay_source;
  GSource *delay_cancel_source;

  /* Progress. */
  goffset sent;
  goffset written;
  goffset total;
  gint64 last_progress;

  /* The body being read. */
  GInputStream *stream;
  guint8 *buffer;
} Request;

static void start_attempt (GTask *task);

static void
request_clear_attempt (Request      *req,
                       GCancellable *task_cancellable)
{
  if (req->connect_timer != NULL)
    {
      g_source_destroy (req->connect_timer);
      g_clear_pointer (&req->connect_timer, g_source_unref);
    }
  if (req->cancel_handler != 0)
    {
      g_cancellable_disconnect (task_cancellable, req->cancel_handler);
      req->cancel_handler = 0;
    }
  if (req->msg != NULL)
    g_signal_handlers_disconnect_by_data (req->msg, req);
  g_clear_object (&req->attempt_cancellable);
  g_clear_object (&req->stream);
  g_clear_object (&req->msg);
}

static void
request_free (Request *req)
{
  g_assert (req->cancel_handler == 0);
  g_assert (req->delay_source == NULL);
  if (req->connect_timer != NULL)
    {
      g_source_destroy (req->connect_timer);
      g_source_unref (req->connect_timer);
    }
  if (req->msg != NULL)
    g_signal_handlers_disconnect_by_data (req->msg, req);
  g_clear_object (&req->msg);
  g_clear_object (&req->final_msg);
  g_clear_object (&req->attempt_cancellable);
  g_clear_object (&req->stream);
  g_free (req->buffer);
  g_free (req->service);
  g_free (req->method);
  g_clear_pointer (&req->uri, g_uri_unref);
  g_clear_pointer (&req->headers, g_hash_table_unref);
  g_clear_pointer (&req->body, g_bytes_unref);
  g_free (req->payload_hash);
  g_clear_object (&req->output);
  g_clear_pointer (&req->context, g_main_context_unref);
  g_free (req->endpoint);
  g_free (req);
}

/* ---------------------------------------------------------------------------------------- */

static void
assay_aws_transport_finalize (GObject *object)
{
  AssayAwsTransport *self = ASSAY_AWS_TRANSPORT (object);

  g_clear_pointer (&self->credentials, assay_credentials_unref);
  g_free (self->region);
  g_clear_object (&self->session);
  if (self->refresh_source != NULL)
    g_source_destroy (self->refresh_source);
  g_clear_pointer (&self->refresh_source, g_source_unref);
  g_clear_pointer (&self->refresh_context, g_main_context_unref);
  g_clear_object (&self->refresh_cancellable);

  G_OBJECT_CLASS (assay_aws_transport_parent_class)->finalize (object);
}

static void
assay_aws_transport_dispose (GObject *object)
{
  AssayAwsTransport *self = ASSAY_AWS_TRANSPORT (object);

  /* a fetch in its thread holds a reference: it ends, and its answer is dropped */
  if (self->refresh_cancellable != NULL)
    g_cancellable_cancel (self->refresh_cancellable);

  G_OBJECT_CLASS (assay_aws_transport_parent_class)->dispose (object);
}

static void
assay_aws_transport_class_init (AssayAwsTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = assay_aws_transport_dispose;
  object_class->finalize = assay_aws_transport_finalize;
}

static void
assay_aws_transport_init (AssayAwsTransport *self)
{
}

/**
 * assay_aws_transport_new:
 * @policy: (nullable): the retry policy; %NULL, or a zero field, means the default
 *
 * Returns: (transfer full): a transport with its own #SoupSession, whose I/O timeout is
 * the policy's idle_timeout_s. Use it from the thread whose thread-default main context
 * is current when it sends.
 */
AssayAwsTransport *
assay_aws_transport_new (AssayCredentials          *credentials,
                         const char                *region,
                         const AssayAwsRetryPolicy *policy)
{
  AssayAwsTransport *self;

  g_return_val_if_fail (credentials != NULL, NULL);
  g_return_val_if_fail (region != NULL, NULL);

  self = g_object_new (ASSAY_TYPE_AWS_TRANSPORT, NULL);
  self->credentials = assay_credentials_ref (credentials);
  self->region = g_strdup (region);
  if (policy != NULL)
    self->policy = *policy;
  if (self->policy.max_attempts == 0)
    self->policy.max_attempts = 5;
  if (self->policy.base_delay_ms == 0)
    self->policy.base_delay_ms = 100;
  if (self->policy.max_delay_ms == 0)
    self->policy.max_delay_ms = 20000;
  if (self->policy.connect_timeout_s == 0)
    self->policy.connect_timeout_s = 10;
  if (self->policy.idle_timeout_s == 0)
    self->policy.idle_timeout_s = 60;

  /* No content decoder: a body is the object's bytes, whatever its Content-Encoding. */
  self->session = soup_session_new_with_options ("timeout", self->policy.idle_timeout_s,
                                                 "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION,
                                                 "max-conns", 64,
                                                 "max-conns-per-host", 32,
                                                 NULL);
  soup_session_remove_feature_by_type (self->session, SOUP_TYPE_CONTENT_DECODER);

  return self;
}

const char *
assay_aws_transport_get_region (AssayAwsTransport *self)
{
  g_return_val_if_fail (ASSAY_IS_AWS_TRANSPORT (self), NULL);
  return self->region;
}

/* Returns: (transfer none): */
AssayCredentials *
assay_aws_transport_get_credentials (AssayAwsTransport *self)
{
  g_return_val_if_fail (ASSAY_IS_AWS_TRANSPORT (self), NULL);
  return self->credentials;
}

/* ---------------------------------------------------------------------------------------- */
/* Temporary credentials                                                                    */

static void schedule_refresh (AssayAwsTransport *self,
                              gint64             delay_s);

static void
refresh_thread (GTask        *task,
                gpointer      source,
                gpointer      data,
                GCancellable *cancellable)
{
  AssayCredentialsFetch fetch = (AssayCredentialsFetch) data;
  GError *error = NULL;
  AssayCredentials *credentials = fetch (cancellable, &error);

  if (credentials == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, credentials, (GDestroyNotify) assay_credentials_unref);
}

static void
refreshed_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  AssayAwsTransport *self = ASSAY_AWS_TRANSPORT (source);
  g_autoptr(AssayCredentials) credentials = NULL;
  g_autoptr(GError) error = NULL;

  credentials = g_task_propagate_pointer (G_TASK (result), &error);
  if (g_cancellable_is_cancelled (self->refresh_cancellable))
    return;
  if (credentials == NULL)
    {
      /* the old ones work until they expire; requests after that are refused with the
       * service's reason, which names these credentials' source */
      g_message ("cannot renew the AWS credentials from %s (trying again in %d s): %s",
                 assay_credentials_get_source (self->credentials), REFRESH_RETRY_S,
                 error->message);
      schedule_refresh (self, REFRESH_RETRY_S);
      return;
    }
  g_debug ("renewed the AWS credentials from %s", assay_credentials_get_source (credentials));
  g_clear_pointer (&self->credentials, assay_credentials_unref);
  self->credentials = g_steal_pointer (&credentials);
  schedule_refresh (self, -1);
}

static gboolean
refresh_cb (gpointer data)
{
  AssayAwsTransport *self = data;
  g_autoptr(GTask) task = NULL;

  g_clear_pointer (&self->refresh_source, g_source_unref);
  task = g_task_new (self, self->refresh_cancellable, refreshed_cb, NULL);
  g_task_set_source_tag (task, refresh_cb);
  g_task_set_task_data (task, (gpointer) self->refresh, NULL);
  g_task_run_in_thread (task, refresh_thread);
  return G_SOURCE_REMOVE;
}

/* After @delay_s seconds, or (-1) REFRESH_MARGIN_S before the credentials expire. */
static void
schedule_refresh (AssayAwsTransport *self,
                  gint64             delay_s)
{
  gint64 expiration = assay_credentials_get_expiration (self->credentials);

  if (delay_s < 0)
    {
      gint64 remaining;

      if (expiration == 0)
        return;
      /* short-lived ones (a test's, or an endpoint's near the end of a role session)
       * at half their life, never in a busy loop */
      remaining = expiration - g_get_real_time () / G_USEC_PER_SEC;
      delay_s = remaining > 2 * REFRESH_MARGIN_S ? remaining - REFRESH_MARGIN_S
                                                 : MAX (1, remaining / 2);
    }
  self->refresh_source = g_timeout_source_new_seconds ((guint) MIN (delay_s, G_MAXUINT));
  g_source_set_callback (self->refresh_source, refresh_cb, self, NULL);
  g_source_set_static_name (self->refresh_source, "assay-aws-credentials-refresh");
  g_source_attach (self->refresh_source, self->refresh_context);
}

/**
 * assay_aws_transport_set_refresh:
 * @fetch: gets new credentials (in a worker thread), e.g. assay_remote_credentials_fetch
 *
 * For temporary credentials (with an expiration): new ones are fetched before they
 * expire, with timeouts on the thread-default main context of the caller. Once only.
 */
void
assay_aws_transport_set_refresh (AssayAwsTransport     *self,
                                 AssayCredentialsFetch  fetch)
{
  g_return_if_fail (ASSAY_IS_AWS_TRANSPORT (self));
  g_return_if_fail (fetch != NULL);
  g_return_if_fail (self->refresh == NULL);

  self->refresh = fetch;
  self->refresh_context = g_main_context_ref_thread_default ();
  self->refresh_cancellable = g_cancellable_new ();
  schedule_refresh (self, -1);
}

/* Returns: the clock correction in seconds (server time − local time), 0 until a
 * service has said the request time was skewed. */
gint64
assay_aws_transport_get_clock_offset (AssayAwsTransport *self)
{
  g_return_val_if_fail (ASSAY_IS_AWS_TRANSPORT (self), 0);
  return self->clock_offset;
}

/* Each message is tagged with the attempt it is, for the clients. */
#define ATTEMPT_KEY "assay-aws-attempt"

guint
assay_aws_transport_message_get_attempt (SoupMessage *message)
{
  g_return_val_if_fail (SOUP_IS_MESSAGE (message), 0);
  return GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (message), ATTEMPT_KEY));
}

/* ---------------------------------------------------------------------------------------- */

static char *
endpoint_for_uri (GUri *uri)
{
  const char *host = g_uri_get_host (uri);
  int port = g_uri_get_port (uri);
  gboolean v6 = host != NULL && strchr (host, ':') != NULL;

  if (port > 0)
    return g_strdup_printf ("%s://%s%s%s:%d", g_uri_get_scheme (uri), v6 ? "[" : "",
                            host ? host : "", v6 ? "]" : "", port);
  return g_strdup_printf ("%s://%s%s%s", g_uri_get_scheme (uri), v6 ? "[" : "",
                          host ? host : "", v6 ? "]" : "");
}

static void
report_progress (Request *req,
                 goffset  current,
                 gboolean force)
{
  gint64 now;

  if (req->progress == NULL)
    return;
  now = g_get_monotonic_time ();
  if (!force && now - req->last_progress < PROGRESS_INTERVAL_US)
    return;
  req->last_progress = now;
  req->progress (current, req->total, req->progress_data);
}

static FailureKind
classify_failure (const GError *error,
                  gboolean     *retryable)
{
  *retryable = TRUE;

  if (error->domain == G_RESOLVER_ERROR)
    {
      /* A name that does not exist will not exist in a second either. */
      *retryable = error->code == G_RESOLVER_ERROR_TEMPORARY_FAILURE;
      return FAILURE_UNREACHABLE;
    }
  if (error->domain == SOUP_SESSION_ERROR &&
      (error->code == SOUP_SESSION_ERROR_PARSING || error->code == SOUP_SESSION_ERROR_ENCODING))
    return FAILURE_TRANSIENT;
  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_CONNECTION_REFUSED:
        case G_IO_ERROR_HOST_UNREACHABLE:
        case G_IO_ERROR_NETWORK_UNREACHABLE:
        case G_IO_ERROR_HOST_NOT_FOUND:
          return FAILURE_UNREACHABLE;
        case G_IO_ERROR_TIMED_OUT:
          return FAILURE_TIMEOUT;
        case G_IO_ERROR_CONNECTION_CLOSED: /* also BROKEN_PIPE, and ECONNRESET */
        case G_IO_ERROR_NOT_CONNECTED:
        case G_IO_ERROR_PARTIAL_INPUT:
        case G_IO_ERROR_CLOSED:
        case G_IO_ERROR_PROXY_FAILED:
        case G_IO_ERROR_FAILED:
          return FAILURE_TRANSIENT;
        default:
          break;
        }
    }

  *retryable = FALSE;
  return FAILURE_FATAL;
}

/* The reason without GIO's "Could not connect to host: " prefixes. */
static const char *
bare_reason (const GError *error)
{
  const char *colon = strrchr (error->message, ':');

  if (colon != NULL && colon[1] == ' ' && colon[2] != '\0')
    return colon + 2;
  return error->message;
}

static char *
attempts_suffix (Request *req)
{
  guint counted = req->attempt - req->extra_attempts;

  return counted > 1 ? g_strdup_printf (" (after %u attempts)", counted) : g_strdup ("");
}

static void
return_transport_error (GTask       *task,
                        FailureKind  kind,
                        GError      *error)
{
  Request *req = g_task_get_task_data (task);
  AssayAwsTransport *self = g_task_get_source_object (task);
  g_autofree char *suffix = attempts_suffix (req);
  guint counted = req->attempt - req->extra_attempts;

  switch (kind)
    {
    case FAILURE_UNREACHABLE:
      g_task_return_new_error (task, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_UNREACHABLE,
                               "cannot connect to %s (%s): %s%s", req->endpoint, req->service,
                               req->connect_timed_out ? "Connection timed out"
                                                      : bare_reason (error),
                               suffix);
      break;
    case FAILURE_TIMEOUT:
      g_task_return_new_error (task, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_TIMEOUT,
                               "%s %s%s (%s): no progress for %u s%s", req->method, req->endpoint,
                               g_uri_get_path (req->uri), req->service,
                               self->policy.idle_timeout_s, suffix);
      break;
    case FAILURE_TRANSIENT:
      if (counted > 1)
        {
          g_task_return_new_error (task, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_RETRIES,
                                   "%s %s%s (%s): still failing after %u attempts: %s",
                                   req->method, req->endpoint, g_uri_get_path (req->uri),
                                   req->service, counted, error->message);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case FAILURE_FATAL:
    default:
      {
        GError *copy = g_error_copy (error);

        g_prefix_error (&copy, "%s %s%s (%s): ", req->method, req->endpoint,
                        g_uri_get_path (req->uri), req->service);
        g_task_return_error (task, copy);
      }
      break;
    }
  g_error_free (error);
}

/* ---------------------------------------------------------------------------------------- */
/* Retrying */

static guint
backoff_delay_ms (AssayAwsTransport *self,
                  guint              failed_attempts)
{
  guint64 cap = self->policy.base_delay_ms;
  guint shift = MIN (failed_attempts - 1, 32u);

  cap <<= shift;
  cap = MIN (cap, (guint64) self->policy.max_delay_ms);
  /* Full jitter: anything from nothing to the cap. */
  return (guint) g_random_int_range (0, (gint32) cap + 1);
}

/* Retry-After in seconds or as an HTTP date, as milliseconds; -1 when absent. */
static gint64
retry_after_ms (SoupMessage *msg)
{
  const char *value;
  g_autoptr(GDateTime) date = NULL;
  guint64 seconds;

  value = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After");
  if (value == NULL)
    return -1;
  if (g_ascii_string_to_unsigned (value, 10, 0, 24 * 3600, &seconds, NULL))
    return (gint64) seconds * 1000;
  date = soup_date_time_new_from_http_string (value);
  if (date != NULL)
    return MAX (0, (g_date_time_to_unix (date) * G_USEC_PER_SEC - g_get_real_time ()) / 1000);
  return -1;
}

static gboolean
delay_done_cb (gpointer user_data)
{
  GTask *task = user_data;
  Request *req = g_task_get_task_data (task);

  if (req->delay_cancel_source != NULL)
    {
      g_source_destroy (req->delay_cancel_source);
      g_clear_pointer (&req->delay_cancel_source, g_source_unref);
    }
  g_clear_pointer (&req->delay_source, g_source_unref);
  start_attempt (task);
  return G_SOURCE_REMOVE;
}

static gboolean
delay_cancelled_cb (GCancellable *cancellable,
                    gpointer      user_data)
{
  GTask *task = user_data;
  Request *req = g_task_get_task_data (task);

  g_source_destroy (req->delay_source);
  g_clear_pointer (&req->delay_source, g_source_unref);
  g_clear_pointer (&req->delay_cancel_source, g_source_unref);
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

/* Starts the next attempt after @delay_ms, keeping the task alive meanwhile. */
static void
retry_after (GTask *task,
             guint  delay_ms)
{
  Request *req = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  g_debug ("%s %s%s: retrying in %u ms", req->method, req->endpoint, g_uri_get_path (req->uri),
           delay_ms);
  req->delay_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (req->delay_source, delay_done_cb, g_object_ref (task), g_object_unref);
  g_source_set_static_name (req->delay_source, "[assay-aws] retry delay");
  g_source_attach (req->delay_source, req->context);
  if (cancellable != NULL)
    {
      req->delay_cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (req->delay_cancel_source, G_SOURCE_FUNC (delay_cancelled_cb),
                             g_object_ref (task), g_object_unref);
      g_source_attach (req->delay_cancel_source, req->context);
    }
}

static gboolean
attempts_left (AssayAwsTransport *self,
               Request           *req)
{
  return req->attempt - req->extra_attempts < self->policy.max_attempts;
}

/* An attempt ended without an answer. Takes @error. */
static void
attempt_failed (GTask  *task,
                GError *error)
{
  AssayAwsTransport *self = g_task_get_source_object (task);
  Request *req = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  FailureKind kind;
  gboolean retryable = TRUE;

  if (g_cancellable_is_cancelled (cancellable))
    {
      g_error_free (error);
      request_clear_attempt (req, cancellable);
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
      return;
    }

  if (req->connect_timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    kind = FAILURE_UNREACHABLE;
  else
    kind = classify_failure (error, &retryable);

  g_debug ("%s %s%s attempt %u failed: %s", req->method, req->endpoint,
           g_uri_get_path (req->uri), req->attempt, error->message);
  request_clear_attempt (req, cancellable);

  if (retryable && attempts_left (self, req) && req->written == 0)
    {
      g_error_free (error);
      retry_after (task, backoff_delay_ms (self, req->attempt - req->extra_attempts));
      g_object_unref (task);
      return;
    }

  if (req->written > 0 && kind != FAILURE_TIMEOUT)
    {
      g_prefix_error (&error, "after %" G_GOFFSET_FORMAT " bytes: ", req->written);
      kind = FAILURE_FATAL;
    }
  return_transport_error (task, kind, error);
  g_object_unref (task);
}

/* A complete answer: decide. */
static void
answer_received (GTask  *task,
                 GBytes *body)
{
  AssayAwsTransport *self = g_task_get_source_object (task);
  Request *req = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  SoupMessage *msg = req->msg;
  guint status = soup_message_get_status (msg);
  AssayAwsAnswer answer = ASSAY_AWS_ANSWER_DONE;

  if (req->classify != NULL)
    answer = req->classify (msg, body);
  if (answer == ASSAY_AWS_ANSWER_DONE &&
      ((status >= 500 && status != SOUP_STATUS_NOT_IMPLEMENTED) || status == 429))
    answer = ASSAY_AWS_ANSWER_RETRY;

  g_set_object (&req->final_msg, msg);

  if (answer == ASSAY_AWS_ANSWER_CLOCK_SKEW && !req->skew_corrected)
    {
      const char *date_header =
        soup_message_headers_get_one (soup_message_get_response_headers (msg), "Date");
      g_autoptr(GDateTime) server = date_header ? soup_date_time_new_from_http_string (date_header)
                                                : NULL;

      if (server != NULL)
        {
          gint64 offset = g_date_time_to_unix (server) - g_get_real_time () / G_USEC_PER_SEC;

          self->clock_offset = offset;
          req->skew_corrected = TRUE;
          req->extra_attempts++;
          g_debug ("%s %s%s: request time refused, clock offset now %" G_GINT64_FORMAT " s",
                   req->method, req->endpoint, g_uri_get_path (req->uri), offset);
          request_clear_attempt (req, cancellable);
          start_attempt (task);
          g_object_unref (task);
          return;
        }
      g_debug ("clock skew without a usable Date header: giving the answer back");
    }

  if (answer == ASSAY_AWS_ANSWER_RETRY)
    {
      if (attempts_left (self, req))
        {
          gint64 after = retry_after_ms (msg);
          guint delay;

          if (after >= 0)
            delay = (guint) MIN (after, (gint64) self->policy.max_delay_ms);
          else
            delay = backoff_delay_ms (self, req->attempt - req->extra_attempts);
          request_clear_attempt (req, cancellable);
          retry_after (task, delay);
          g_object_unref (task);
          return;
        }
      g_task_return_new_error (task, ASSAY_AWS_ERROR, ASSAY_AWS_ERROR_RETRIES,
                               "%s %s%s (%s): still failing after %u attempts: %u %s",
                               req->method, req->endpoint, g_uri_get_path (req->uri),
                               req->service, req->attempt - req->extra_attempts, status,
                               soup_message_get_reason_phrase (msg)
                                 ? soup_message_get_reason_phrase (msg)
                                 : soup_status_get_phrase (status));
      request_clear_attempt (req, cancellable);
      g_object_unref (task);
      return;
    }

  request_clear_attempt (req, cancellable);
  g_task_return_pointer (task, g_bytes_ref (body), (GDestroyNotify) g_bytes_unref);
  g_object_unref (task);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading answers */

static void
read_all_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GBytes) body = NULL;
  GOutputStream *memory = G_OUTPUT_STREAM (object);
  GError *error = NULL;

  if (g_output_stream_splice_finish (memory, result, &error) < 0)
    {
      attempt_failed (g_steal_pointer (&task), error);
      return;
    }
  body = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
  answer_received (g_steal_pointer (&task), body);
}

static void download_read_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data);

static void
download_write_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *req = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  gsize n = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, &n, &error))
    {
      /* The local side failed: never retried. */
      request_clear_attempt (req, cancellable);
      g_task_return_error (task, error);
      return;
    }
  req->written += (goffset) n;
  report_progress (req, req->written, FALSE);
  g_input_stream_read_async (req->stream, req->buffer, DOWNLOAD_BUFFER_SIZE, G_PRIORITY_DEFAULT,
                             req->attempt_cancellable, download_read_cb, g_steal_pointer (&task));
}

static void
download_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *req = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  if (n < 0)
    {
      attempt_failed (g_steal_pointer (&task), error);
      return;
    }
  if (n == 0)
    {
      g_debug ("%s %s%s: %" G_GOFFSET_FORMAT " bytes received", req->method, req->endpoint,
               g_uri_get_path (req->uri), req->written);
      report_progress (req, req->written, TRUE);
      g_set_object (&req->final_msg, req->msg);
      request_clear_attempt (req, cancellable);
      g_task_return_pointer (task, g_bytes_new (NULL, 0), (GDestroyNotify) g_bytes_unref);
      return;
    }
  g_output_stream_write_all_async (req->output, req->buffer, (gsize) n, G_PRIORITY_DEFAULT,
                                   cancellable, download_write_cb, g_steal_pointer (&task));
}

static void
send_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  AssayAwsTransport *self = g_task_get_source_object (task);
  Request *req = g_task_get_task_data (task);
  g_autoptr(GOutputStream) memory = NULL;
  GError *error = NULL;
  guint status;

  if (req->connect_timer != NULL)
    {
      g_source_destroy (req->connect_timer);
      g_clear_pointer (&req->connect_timer, g_source_unref);
    }
  req->stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (req->stream == NULL)
    {
      attempt_failed (task, error);
      return;
    }

  status = soup_message_get_status (req->msg);
  g_debug ("%s %s%s -> %u (attempt %u/%u)", req->method, req->endpoint,
           g_uri_get_path (req->uri), status, req->attempt - req->extra_attempts,
           self->policy.max_attempts);

  if (req->output != NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      SoupMessageHeaders *response = soup_message_get_response_headers (req->msg);

      if (soup_message_headers_get_encoding (response) == SOUP_ENCODING_CONTENT_LENGTH)
        req->total = soup_message_headers_get_content_length (response);
      else
        req->total = -1;
      if (req->buffer == NULL)
        req->buffer = g_malloc (DOWNLOAD_BUFFER_SIZE);
      g_input_stream_read_async (req->stream, req->buffer, DOWNLOAD_BUFFER_SIZE,
                                 G_PRIORITY_DEFAULT, req->attempt_cancellable, download_read_cb,
                                 task);
      return;
    }

  memory = g_memory_output_stream_new_resizable ();
  g_output_stream_splice_async (memory, req->stream,
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                                  G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, req->attempt_cancellable, read_all_cb, task);
}

/* ---------------------------------------------------------------------------------------- */
/* Sending */

static void
wrote_body_data_cb (SoupMessage *msg,
                    guint        chunk_size,
                    gpointer     user_data)
{
  Request *req = user_data;

  req->sent += chunk_size;
  report_progress (req, req->sent, req->sent == req->total);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  Request *req = user_data;

  req->connect_timed_out = TRUE;
  g_clear_pointer (&req->connect_timer, g_source_unref);
  g_cancellable_cancel (req->attempt_cancellable);
  return G_SOURCE_REMOVE;
}

static void
stop_connect_timer (Request *req)
{
  if (req->connect_timer != NULL)
    {
      g_source_destroy (req->connect_timer);
      g_clear_pointer (&req->connect_timer, g_source_unref);
    }
}

static void
network_event_cb (SoupMessage       *msg,
                  GSocketClientEvent event,
                  GIOStream         *connection,
                  gpointer           user_data)
{
  Request *req = user_data;

  /* The timer covers resolving and connecting, not the wait for a free connection. */
  if ((event == G_SOCKET_CLIENT_RESOLVING || event == G_SOCKET_CLIENT_CONNECTING) &&
      req->connect_timer == NULL && !req->connect_timed_out)
    {
      req->connect_timer = g_timeout_source_new_seconds (req->connect_timeout_s);
      g_source_set_callback (req->connect_timer, connect_timeout_cb, req, NULL);
      g_source_set_static_name (req->connect_timer, "[assay-aws] connect timeout");
      g_source_attach (req->connect_timer, req->context);
    }
  else if (event == G_SOCKET_CLIENT_CONNECTED || event == G_SOCKET_CLIENT_COMPLETE)
    {
      stop_connect_timer (req);
    }
}

static void
cancel_attempt_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
start_attempt (GTask *task)
{
  AssayAwsTransport *self = g_task_get_source_object (task);
  Request *req = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GDateTime) corrected = NULL;
  GError *error = NULL;
  SoupMessageHeaders *hdrs;

  g_assert (req->msg == NULL);

  req->attempt++;
  req->connect_timed_out = FALSE;
  req->sent = 0;
  req->last_progress = 0;
  req->total = req->body ? (goffset) g_bytes_get_size (req->body) : 0;
  g_clear_object (&req->final_msg);

  req->msg = soup_message_new_from_uri (req->method, req->uri);
  g_object_set_data (G_OBJECT (req->msg), ATTEMPT_KEY, GUINT_TO_POINTER (req->attempt));
  soup_message_add_flags (req->msg, SOUP_MESSAGE_NO_REDIRECT);
  hdrs = soup_message_get_request_headers (req->msg);
  if (req->headers != NULL)
    {
      GHashTableIter iter;
      gpointer name, value;

      g_hash_table_iter_init (&iter, req->headers);
      while (g_hash_table_iter_next (&iter, &name, &value))
        soup_message_headers_replace (hdrs, name, value);
    }
  if (req->body != NULL)
    {
      soup_message_set_request_body_from_bytes (req->msg, NULL, req->body);
    }
  else if (strcmp (req->method, "PUT") == 0 || strcmp (req->method, "POST") == 0)
    {
      g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);

      soup_message_set_request_body_from_bytes (req->msg, NULL, empty);
    }

  now = g_date_time_new_now_utc ();
  corrected = g_date_time_add_seconds (now, (gdouble) self->clock_offset);
  if (!assay_sigv4_sign_message (req->msg, self->credentials, self->region, req->service,
                                 req->payload_hash, corrected, &error))
    {
      g_clear_object (&req->msg);
      g_task_return_error (task, error);
      return;
    }

  req->attempt_cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    req->cancel_handler =
      g_cancellable_connect (cancellable, G_CALLBACK (cancel_attempt_cb),
                             g_object_ref (req->attempt_cancellable), g_object_unref);

  g_signal_connect (req->msg, "wrote-body-data", G_CALLBACK (wrote_body_data_cb), req);
  g_signal_connect (req->msg, "network-event", G_CALLBACK (network_event_cb), req);
  g_signal_connect_swapped (req->msg, "wrote-headers", G_CALLBACK (stop_connect_timer), req);

  g_debug ("%s %s%s (attempt %u/%u)", req->method, req->endpoint,
           g_uri_get_path (req->uri), req->attempt - req->extra_attempts,
           self->policy.max_attempts);
  soup_session_send_async (self->session, req->msg, G_PRIORITY_DEFAULT, req->attempt_cancellable,
                           send_cb, g_object_ref (task));
}

static void
start_request (AssayAwsTransport     *self,
               gpointer               source_tag,
               const char            *service,
               const char            *method,
               GUri                  *uri,
               GHashTable            *headers,
               GBytes                *body,
               const char            *payload_hash,
               GOutputStream         *output,
               AssayAwsClassifyFunc   classify,
               GFileProgressCallback  progress,
               gpointer               progress_data,
               GCancellable          *cancellable,
               GAsyncReadyCallback    callback,
               gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  Request *req;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  req = g_new0 (Request, 1);
  req->service = g_strdup (service);
  req->method = g_strdup (method);
  req->uri = g_uri_ref (uri);
  req->headers = headers ? g_hash_table_ref (headers) : NULL;
  req->body = body ? g_bytes_ref (body) : NULL;
  if (payload_hash != NULL)
    req->payload_hash = g_strdup (payload_hash);
  else if (body != NULL)
    req->payload_hash = assay_sigv4_sha256_hex (g_bytes_get_data (body, NULL),
                                                g_bytes_get_size (body));
  else
    req->payload_hash = g_strdup (ASSAY_SIGV4_EMPTY_PAYLOAD_HASH);
  req->output = output ? g_object_ref (output) : NULL;
  req->classify = classify;
  req->progress = progress;
  req->progress_data = progress_data;
  req->context = g_main_context_ref_thread_default ();
  req->connect_timeout_s = self->policy.connect_timeout_s;
  req->endpoint = endpoint_for_uri (uri);
  g_task_set_task_data (task, req, (GDestroyNotify) request_free);

  if (g_task_return_error_if_cancelled (task))
    return;
  start_attempt (task);
}

void
assay_aws_transport_send_async (AssayAwsTransport     *self,
                                const char            *service,
                                const char            *method,
                                GUri                  *uri,
                                GHashTable            *headers,
                                GBytes                *body,
                                const char            *payload_hash,
                                AssayAwsClassifyFunc   classify,
                                GFileProgressCallback  progress,
                                gpointer               progress_data,
                                GCancellable          *cancellable,
                                GAsyncReadyCallback    callback,
                                gpointer               user_data)
{
  g_return_if_fail (ASSAY_IS_AWS_TRANSPORT (self));
  g_return_if_fail (service != NULL);
  g_return_if_fail (method != NULL);
  g_return_if_fail (uri != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_request (self, assay_aws_transport_send_async, service, method, uri, headers, body,
                 payload_hash, NULL, classify, progress, progress_data, cancellable, callback,
                 user_data);
}

static GBytes *
request_finish (AssayAwsTransport  *self,
                GAsyncResult       *result,
                gpointer            source_tag,
                SoupMessage       **out_message,
                GError            **error)
{
  Request *req;

  g_return_val_if_fail (ASSAY_IS_AWS_TRANSPORT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  req = g_task_get_task_data (G_TASK (result));
  if (out_message != NULL)
    *out_message = req->final_msg ? g_object_ref (req->final_msg) : NULL;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * assay_aws_transport_send_finish:
 * @out_message: (out) (optional) (transfer full) (nullable): the last answer's message;
 *   also set with %ASSAY_AWS_ERROR_RETRIES, so that the client can tell throttling
 *   (429, 503) from other failures; %NULL when no answer came
 */
GBytes *
assay_aws_transport_send_finish (AssayAwsTransport  *self,
                                 GAsyncResult       *result,
                                 SoupMessage       **out_message,
                                 GError            **error)
{
  return request_finish (self, result, assay_aws_transport_send_async, out_message, error);
}

/**
 * assay_aws_transport_download_async:
 *
 * @output is written to, never closed. Progress reports the bytes written to @output
 * of the Content-Length (-1 when unknown).
 */
void
assay_aws_transport_download_async (AssayAwsTransport     *self,
                                    const char            *service,
                                    GUri                  *uri,
                                    GHashTable            *headers,
                                    GOutputStream         *output,
                                    AssayAwsClassifyFunc   classify,
                                    GFileProgressCallback  progress,
                                    gpointer               progress_data,
                                    GCancellable          *cancellable,
                                    GAsyncReadyCallback    callback,
                                    gpointer               user_data)
{
  g_return_if_fail (ASSAY_IS_AWS_TRANSPORT (self));
  g_return_if_fail (service != NULL);
  g_return_if_fail (uri != NULL);
  g_return_if_fail (G_IS_OUTPUT_STREAM (output));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_request (self, assay_aws_transport_download_async, service, SOUP_METHOD_GET, uri,
                 headers, NULL, NULL, output, classify, progress, progress_data, cancellable,
                 callback, user_data);
}

/**
 * assay_aws_transport_download_finish:
 *
 * Returns: (transfer full): an empty #GBytes after a 2xx answer (the body went to the
 * output stream), else the answer's body; %NULL on error.
 */
GBytes *
assay_aws_transport_download_finish (AssayAwsTransport  *self,
                                     GAsyncResult       *result,
                                     SoupMessage       **out_message,
                                     GError            **error)
{
  return request_finish (self, result, assay_aws_transport_download_async, out_message, error);
}
