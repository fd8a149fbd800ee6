/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "assay-aws-transport.h"
#include "assay-condition.h"
#include "assay-store.h"

G_BEGIN_DECLS

/*
 * AssayDynamodbClient: the DynamoDB operations Assay uses, over the JSON 1.0 protocol
 * (POST, `X-Amz-Target: DynamoDB_20120810.<Op>`), sent by an AssayAwsTransport.
 *
 * Every Assay table has the string hash key `id`, so items are addressed by that id.
 * Items are JsonObjects in attribute-value form (`{"id": {"S": "job-…"}}`); conditions
 * and updates are AssayCondition and AssayUpdate, rendered as expressions here.
 *
 * A conditional write that the transport had to retry may have been applied by an
 * earlier attempt whose answer was lost. When ConditionalCheckFailed answers a retry
 * (attempt 2 or later), the client reads the item back (consistently) and reports
 * success when it already is what the write meant to make it.
 */

#define ASSAY_DYNAMODB_ERROR (assay_dynamodb_error_quark ())

typedef enum
{
  ASSAY_DYNAMODB_ERROR_CONDITIONAL_CHECK_FAILED, /* the write's condition was false */
  ASSAY_DYNAMODB_ERROR_THROTTLED,          /* throughput or request limits, after every retry */
  ASSAY_DYNAMODB_ERROR_VALIDATION,         /* the request was refused as malformed */
  ASSAY_DYNAMODB_ERROR_RESOURCE_NOT_FOUND, /* no such table (or index) */
  ASSAY_DYNAMODB_ERROR_RESOURCE_IN_USE,    /* the table exists already, or is being changed */
  ASSAY_DYNAMODB_ERROR_ACCESS_DENIED,      /* the credentials were refused; names their source */
  ASSAY_DYNAMODB_ERROR_CLOCK_SKEW,         /* the request time was refused, even after correction */
  ASSAY_DYNAMODB_ERROR_UNAVAILABLE,        /* internal errors or 5xx, after every retry */
  ASSAY_DYNAMODB_ERROR_UNSUPPORTED,        /* the service does not have the operation */
  ASSAY_DYNAMODB_ERROR_NO_ITEM,            /* GetItem: no item with that id */
  ASSAY_DYNAMODB_ERROR_TIMED_OUT,          /* a table did not become ACTIVE in time */
  ASSAY_DYNAMODB_ERROR_MALFORMED,          /* an answer that is not the JSON it should be */
  ASSAY_DYNAMODB_ERROR_FAILED,             /* any other error the service named */
} AssayDynamodbError;

GQuark          assay_dynamodb_error_quark          (void);

/* The transport's classifier for DynamoDB answers. */
AssayAwsAnswer  assay_dynamodb_classify             (SoupMessage        *message,
                                                     GBytes             *body);
/* The error a non-2xx answer stands for: the one place where `__type` is mapped. */
GError         *assay_dynamodb_error_new_from_answer (guint               status,
                                                      SoupMessageHeaders *headers,
                                                      GBytes             *body,
                                                      const char         *credentials_source);
/* The AssayStoreError code for an error of this client (or of its transport). */
AssayStoreError assay_dynamodb_error_to_store_error (const GError       *error);

#define ASSAY_TYPE_DYNAMODB_CLIENT (assay_dynamodb_client_get_type ())
G_DECLARE_FINAL_TYPE (AssayDynamodbClient, assay_dynamodb_client, ASSAY, DYNAMODB_CLIENT, GObject)

/* @endpoint: NULL for https://dynamodb.REGION.amazonaws.com/ (the transport's region). */
AssayDynamodbClient *assay_dynamodb_client_new          (AssayAwsTransport    *transport,
                                                         const char           *endpoint,
                                                         GError              **error);
const char          *assay_dynamodb_client_get_endpoint (AssayDynamodbClient  *self);

/* Any operation: @request is its JSON body. Returns: (transfer full): the answer's JSON.
 * @out_attempt (optional): the transport's attempt that answered. */
void        assay_dynamodb_client_call_async    (AssayDynamodbClient  *self,
                                                 const char           *operation,
                                                 JsonObject           *request,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
JsonObject *assay_dynamodb_client_call_finish   (AssayDynamodbClient  *self,
                                                 GAsyncResult         *result,
                                                 guint                *out_attempt,
                                                 GError              **error);

/* PutItem; @condition may be NULL. */
void        assay_dynamodb_client_put_item_async  (AssayDynamodbClient  *self,
                                                   const char           *table,
                                                   JsonObject           *item,
                                                   AssayCondition       *condition,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
gboolean    assay_dynamodb_client_put_item_finish (AssayDynamodbClient  *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* GetItem with ConsistentRead. Returns: (transfer full): the item; ASSAY_DYNAMODB_ERROR_NO_ITEM
 * when there is none. */
void        assay_dynamodb_client_get_item_async  (AssayDynamodbClient  *self,
                                                   const char           *table,
                                                   const char           *id,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
JsonObject *assay_dynamodb_client_get_item_finish (AssayDynamodbClient  *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/*
 * UpdateItem; @condition may be NULL. Returns: (transfer full): for ALL_NEW the item as
 * written, for ALL_OLD the item before (empty when there was none), for NONE an empty
 * object. When a retried write is recognised as already applied, ALL_NEW gives the item
 * read back and ALL_OLD an empty object (the old item cannot be known any more).
 */
void        assay_dynamodb_client_update_item_async  (AssayDynamodbClient  *self,
                                                      const char           *table,
                                                      const char           *id,
                                                      AssayUpdate          *update,
                                                      AssayCondition       *condition,
                                                      AssayReturnValues     return_values,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
JsonObject *assay_dynamodb_client_update_item_finish (AssayDynamodbClient  *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);

/* DeleteItem; @condition may be NULL. Deleting an absent item succeeds. */
void        assay_dynamodb_client_delete_item_async  (AssayDynamodbClient  *self,
                                                      const char           *table,
                                                      const char           *id,
                                                      AssayCondition       *condition,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
gboolean    assay_dynamodb_client_delete_item_finish (AssayDynamodbClient  *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);

/* Query on an index (or the table when @query->index is NULL), in ascending range order. */
void           assay_dynamodb_client_query_async  (AssayDynamodbClient  *self,
                                                   const char           *table,
                                                   const AssayQuery     *query,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
AssayItemPage *assay_dynamodb_client_query_finish (AssayDynamodbClient  *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/*
 * CreateTable with the schema of @role (jobs: hash `id`, index `queue-due` on `queue` and
 * `due`, projecting everything; results: hash `id`), billed per request. A table of that
 * name that exists already is not an error: @out_created says which it was.
 */
void        assay_dynamodb_client_create_table_async  (AssayDynamodbClient  *self,
                                                       AssayTable            role,
                                                       const char           *table,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
gboolean    assay_dynamodb_client_create_table_finish (AssayDynamodbClient  *self,
                                                       GAsyncResult         *result,
                                                       gboolean             *out_created,
                                                       GError              **error);

/* DescribeTable. Returns: (transfer full): its `Table` object. */
void        assay_dynamodb_client_describe_table_async  (AssayDynamodbClient  *self,
                                                         const char           *table,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
JsonObject *assay_dynamodb_client_describe_table_finish (AssayDynamodbClient  *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/*
 * Describes @table until it and each of its indexes are ACTIVE, for at most @timeout_ms
 * (then ASSAY_DYNAMODB_ERROR_TIMED_OUT). Returns: (transfer full): the last description.
 */
void        assay_dynamodb_client_wait_active_async  (AssayDynamodbClient  *self,
                                                      const char           *table,
                                                      guint                 timeout_ms,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
JsonObject *assay_dynamodb_client_wait_active_finish (AssayDynamodbClient  *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);

/*
 * Turns on expiry by @attribute (UpdateTimeToLive); already on is not an error. A service
 * without the operation (dynalite) gives ASSAY_DYNAMODB_ERROR_UNSUPPORTED, which an init
 * can note and pass over.
 */
void        assay_dynamodb_client_enable_ttl_async  (AssayDynamodbClient  *self,
                                                     const char           *table,
                                                     const char           *attribute,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean    assay_dynamodb_client_enable_ttl_finish (AssayDynamodbClient  *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);

/* The `queue-due` index of the jobs table. */
#define ASSAY_DYNAMODB_QUEUE_INDEX "queue-due"

G_END_DECLS
