/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "assay-credentials.h"

G_BEGIN_DECLS

/*
 * AssayAwsTransport: sends one AWS request the way every Assay AWS client needs it
 * sent. It signs it (SigV4), retries it (exponential backoff with full jitter, a
 * bounded number of attempts, Retry-After honoured) on connection failures, timeouts,
 * 5xx, 429 and the throttling codes the service's classifier recognises, and corrects
 * its clock once from the server's Date when the service says the request time is
 * skewed. The S3 and DynamoDB clients build requests and read answers; this does the rest.
 */

#define ASSAY_AWS_ERROR (assay_aws_error_quark ())

typedef enum
{
  ASSAY_AWS_ERROR_UNREACHABLE, /* connect failed or timed out (names the endpoint) */
  ASSAY_AWS_ERROR_TIMEOUT,     /* a stalled transfer */
  ASSAY_AWS_ERROR_RETRIES,     /* still failing after the last attempt (the last error in the message) */
} AssayAwsError;

GQuark assay_aws_error_quark (void);

/* What the service's answer means to the transport. */
typedef enum
{
  ASSAY_AWS_ANSWER_DONE,       /* success, or an error that retrying will not change */
  ASSAY_AWS_ANSWER_RETRY,      /* throttling or a transient service error */
  ASSAY_AWS_ANSWER_CLOCK_SKEW, /* the request time was refused: correct the clock, retry once */
} AssayAwsAnswer;

/* Looks at a complete answer (status, headers, body) and says what it means. 5xx (but
 * 501) and 429 are retried even when it says DONE. A download's 2xx body is streamed, not
 * classified. */
typedef AssayAwsAnswer (*AssayAwsClassifyFunc) (SoupMessage *message,
                                                GBytes      *body);

typedef struct
{
  guint max_attempts;           /* including the first; default 5 */
  guint base_delay_ms;          /* default 100 */
  guint max_delay_ms;           /* default 20000 */
  guint connect_timeout_s;      /* default 10 */
  guint idle_timeout_s;         /* a transfer with no progress for this long fails; default 60 */
} AssayAwsRetryPolicy;          /* a zero field (or a NULL policy) means the default */

#define ASSAY_TYPE_AWS_TRANSPORT (assay_aws_transport_get_type ())
G_DECLARE_FINAL_TYPE (AssayAwsTransport, assay_aws_transport, ASSAY, AWS_TRANSPORT, GObject)

AssayAwsTransport *assay_aws_transport_new          (AssayCredentials           *credentials,
                                                     const char                 *region,
                                                     const AssayAwsRetryPolicy  *policy);
const char        *assay_aws_transport_get_region   (AssayAwsTransport          *self);
AssayCredentials  *assay_aws_transport_get_credentials (AssayAwsTransport       *self);
/* Fetches new credentials, blocking: e.g. assay_remote_credentials_fetch(). */
typedef AssayCredentials *(*AssayCredentialsFetch) (GCancellable  *cancellable,
                                                    GError       **error);
void               assay_aws_transport_set_refresh  (AssayAwsTransport          *self,
                                                     AssayCredentialsFetch       fetch);
/* Seconds added to the local clock when signing (server − local), 0 until corrected. */
gint64             assay_aws_transport_get_clock_offset (AssayAwsTransport      *self);

/*
 * Sends @method @uri with @headers (name → value, may be NULL) and @body (may be NULL),
 * signed for @service. @payload_hash is the hex SHA-256 of the body, or
 * "UNSIGNED-PAYLOAD", or NULL to compute it. The finish function returns the whole
 * answer body and gives the final SoupMessage (status, response headers) in
 * @out_message. A non-2xx answer is NOT an error here: the client maps it.
 * @progress, when set, is called with bytes sent so far of @body.
 * After the last attempt, a retryable answer (5xx, 429, RETRY) is ASSAY_AWS_ERROR_RETRIES,
 * and @out_message still gives that last answer (to tell throttling from failure); a
 * transport failure is UNREACHABLE or TIMEOUT (or the GIO/TLS error), @out_message NULL.
 * Retry-After (seconds or a date) replaces the backoff delay, up to max_delay_ms.
 */
void    assay_aws_transport_send_async  (AssayAwsTransport     *self,
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
                                         gpointer               user_data);
GBytes *assay_aws_transport_send_finish (AssayAwsTransport     *self,
                                         GAsyncResult          *result,
                                         SoupMessage          **out_message,
                                         GError               **error);

/*
 * Which attempt (1 for the first) @message, as given in @out_message by a finish
 * function, was the answer to; 0 for a message the transport did not send.
 * Added for the DynamoDB client: a conditional write refused on attempt 2 or later may
 * have been applied by an earlier attempt whose answer was lost, so the client re-reads
 * the item before it reports a conflict. Attempts include the clock-skew retry.
 */
guint   assay_aws_transport_message_get_attempt (SoupMessage *message);

/*
 * As send, but on a 2xx answer streams the body into @output instead of keeping it
 * (retrying only while nothing has been written to @output); a non-2xx body is
 * returned by the finish function as with send. After a 2xx the finish function returns
 * an empty GBytes. @output is not closed. @progress gets the bytes written to @output and
 * the Content-Length (-1 when the answer has none).
 */
void    assay_aws_transport_download_async  (AssayAwsTransport     *self,
                                             const char            *service,
                                             GUri                  *uri,
                                             GHashTable            *headers,
                                             GOutputStream         *output,
                                             AssayAwsClassifyFunc   classify,
                                             GFileProgressCallback  progress,
                                             gpointer               progress_data,
                                             GCancellable          *cancellable,
                                             GAsyncReadyCallback    callback,
                                             gpointer               user_data);
GBytes *assay_aws_transport_download_finish (AssayAwsTransport     *self,
                                             GAsyncResult          *result,
                                             SoupMessage          **out_message,
                                             GError               **error);

G_END_DECLS
