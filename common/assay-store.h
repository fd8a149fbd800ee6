/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "assay-condition.h"

G_BEGIN_DECLS

/*
 * AssayStore: the object store (chunks, results/…) and the table store (jobs, results)
 * behind one interface. Backends: AssayAwsStore (S3 + DynamoDB, or compatible services)
 * and AssayLocalStore (a directory). Client and worker code see only this.
 *
 * Items are JsonObjects in DynamoDB attribute-value form. Tables are named by role
 * (ASSAY_TABLE_JOBS, ASSAY_TABLE_RESULTS); each backend maps the role to its real name.
 * Conditional writes have DynamoDB's meaning on every backend (assay-condition.h).
 */

#define ASSAY_STORE_ERROR (assay_store_error_quark ())

typedef enum
{
  ASSAY_STORE_ERROR_NOT_FOUND,        /* no such object, item, bucket or table */
  ASSAY_STORE_ERROR_CONDITION_FAILED, /* a conditional write's condition was false */
  ASSAY_STORE_ERROR_THROTTLED,        /* still throttled after every retry */
  ASSAY_STORE_ERROR_INVALID,          /* the request was refused as malformed */
  ASSAY_STORE_ERROR_ACCESS_DENIED,    /* credentials wrong, expired or not allowed */
  ASSAY_STORE_ERROR_UNAVAILABLE,      /* unreachable, timed out, or 5xx after every retry */
  ASSAY_STORE_ERROR_CORRUPT,          /* a malformed answer, a bad checksum, a damaged file */
  ASSAY_STORE_ERROR_FAILED,           /* anything else */
} AssayStoreError;

GQuark assay_store_error_quark (void);

typedef enum
{
  ASSAY_TABLE_JOBS,
  ASSAY_TABLE_RESULTS,
} AssayTable;

/* What UpdateItem returns. */
typedef enum
{
  ASSAY_RETURN_NONE,
  ASSAY_RETURN_ALL_OLD,
  ASSAY_RETURN_ALL_NEW,
} AssayReturnValues;

/* An object's metadata as HeadObject or GetObject report it. */
typedef struct
{
  char *key;
  guint64 size;
  char *etag;            /* lowercase hex MD5 for single-part objects, without quotes */
  GDateTime *modified;
  GHashTable *metadata;  /* user metadata without the x-amz-meta- prefix (lowercase names) */
} AssayObjectInfo;

AssayObjectInfo *assay_object_info_new  (const char      *key);
void             assay_object_info_free (AssayObjectInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayObjectInfo, assay_object_info_free)

/* One page of ListObjectsV2: AssayObjectInfo elements, and the token of the next page
 * (NULL on the last). */
typedef struct
{
  GPtrArray *objects;
  char *next_token;
} AssayObjectList;

void assay_object_list_free (AssayObjectList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayObjectList, assay_object_list_free)

/* A query on an index: hash attribute = value, and optionally a range condition. */
typedef struct
{
  const char *index;       /* "queue-due" */
  const char *hash_name;   /* "queue" */
  JsonNode *hash_value;    /* {"S": "open"} */
  const char *range_name;  /* "due", or NULL for no range condition */
  AssayCompare range_op;   /* only EQ, LT, LE, GT, GE */
  JsonNode *range_value;
  guint limit;             /* items per page, 0 = the backend's default */
  JsonObject *start_key;   /* the last_key of the previous page, or NULL */
} AssayQuery;

/* One page of a query: items in range-key order, and the key to continue from. */
typedef struct
{
  GPtrArray *items;        /* JsonObject */
  JsonObject *last_key;    /* NULL on the last page */
} AssayItemPage;

void assay_item_page_free (AssayItemPage *page);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayItemPage, assay_item_page_free)

/* How assay_store_put_file_async() stores an object. */
typedef enum
{
  ASSAY_STORE_PUT_NONE    = 0,
  ASSAY_STORE_PUT_ENCRYPT = 1 << 0, /* server-side encryption requested (S3: SSE-S3,
                                     * AES256); a backend without it ignores the flag */
} AssayStorePutFlags;

/* The largest file assay_store_put_file_async() stores: one PUT (S3's limit is 5 GiB). */
#define ASSAY_STORE_PUT_FILE_MAX (G_GUINT64_CONSTANT (5) << 30)

#define ASSAY_TYPE_STORE (assay_store_get_type ())
G_DECLARE_INTERFACE (AssayStore, assay_store, ASSAY, STORE, GObject)

struct _AssayStoreInterface
{
  GTypeInterface parent_iface;

  const char *(*describe)           (AssayStore             *self);
  /* the bucket and region that jobs on this store name (the local store: "local") */
  const char *(*get_bucket)         (AssayStore             *self);
  const char *(*get_region)         (AssayStore             *self);

  /* objects */
  void        (*put_object_async)   (AssayStore             *self,
                                     const char             *key,
                                     GBytes                 *data,
                                     GHashTable             *metadata,
                                     GFileProgressCallback   progress,
                                     gpointer                progress_data,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  char       *(*put_object_finish)  (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*get_object_async)   (AssayStore             *self,
                                     const char             *key,
                                     GOutputStream          *output,
                                     GFileProgressCallback   progress,
                                     gpointer                progress_data,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  AssayObjectInfo *(*get_object_finish) (AssayStore         *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*head_object_async)  (AssayStore             *self,
                                     const char             *key,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  AssayObjectInfo *(*head_object_finish) (AssayStore        *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*delete_object_async) (AssayStore            *self,
                                     const char             *key,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  gboolean    (*delete_object_finish) (AssayStore           *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*list_objects_async) (AssayStore             *self,
                                     const char             *prefix,
                                     const char             *token,
                                     guint                   max_keys,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  AssayObjectList *(*list_objects_finish) (AssayStore       *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*copy_object_async)  (AssayStore             *self,
                                     const char             *source_key,
                                     const char             *key,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  gboolean    (*copy_object_finish) (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);

  /* items */
  void        (*put_item_async)     (AssayStore             *self,
                                     AssayTable              table,
                                     JsonObject             *item,
                                     AssayCondition         *condition,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  gboolean    (*put_item_finish)    (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*get_item_async)     (AssayStore             *self,
                                     AssayTable              table,
                                     const char             *id,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  JsonObject *(*get_item_finish)    (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*update_item_async)  (AssayStore             *self,
                                     AssayTable              table,
                                     const char             *id,
                                     AssayUpdate            *update,
                                     AssayCondition         *condition,
                                     AssayReturnValues       return_values,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  JsonObject *(*update_item_finish) (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*delete_item_async)  (AssayStore             *self,
                                     AssayTable              table,
                                     const char             *id,
                                     AssayCondition         *condition,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  gboolean    (*delete_item_finish) (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);
  void        (*query_async)        (AssayStore             *self,
                                     AssayTable              table,
                                     const AssayQuery       *query,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  AssayItemPage *(*query_finish)    (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);

  /* setup: bucket and tables, idempotent */
  void        (*init_async)         (AssayStore             *self,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
  gboolean    (*init_finish)        (AssayStore             *self,
                                     GAsyncResult           *result,
                                     GError                **error);

  /* optional: put_object with server-side encryption requested; finished by
   * put_object_finish. NULL: the backend has none (put_object is used). */
  void        (*put_object_encrypted_async) (AssayStore     *self,
                                     const char             *key,
                                     GBytes                 *data,
                                     GHashTable             *metadata,
                                     GCancellable           *cancellable,
                                     GAsyncReadyCallback     callback,
                                     gpointer                user_data);
};

const char      *assay_store_describe (AssayStore *self);
const char      *assay_store_get_bucket (AssayStore *self);
const char      *assay_store_get_region (AssayStore *self);
void             assay_store_put_object_async (AssayStore            *self,
                                               const char            *key,
                                               GBytes                *data,
                                               GHashTable            *metadata,
                                               GFileProgressCallback  progress,
                                               gpointer               progress_data,
                                               GCancellable          *cancellable,
                                               GAsyncReadyCallback    callback,
                                               gpointer               user_data);
char            *assay_store_put_object_finish (AssayStore    *self,
                                                GAsyncResult  *result,
                                                GError       **error);
void             assay_store_get_object_async (AssayStore            *self,
                                               const char            *key,
                                               GOutputStream         *output,
                                               GFileProgressCallback  progress,
                                               gpointer               progress_data,
                                               GCancellable          *cancellable,
                                               GAsyncReadyCallback    callback,
                                               gpointer               user_data);
AssayObjectInfo *assay_store_get_object_finish (AssayStore    *self,
                                                GAsyncResult  *result,
                                                GError       **error);
void             assay_store_head_object_async (AssayStore          *self,
                                                const char          *key,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
AssayObjectInfo *assay_store_head_object_finish (AssayStore    *self,
                                                 GAsyncResult  *result,
                                                 GError       **error);
void             assay_store_delete_object_async (AssayStore          *self,
                                                  const char          *key,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean         assay_store_delete_object_finish (AssayStore    *self,
                                                   GAsyncResult  *result,
                                                   GError       **error);
void             assay_store_list_objects_async (AssayStore          *self,
                                                 const char          *prefix,
                                                 const char          *token,
                                                 guint                max_keys,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
AssayObjectList *assay_store_list_objects_finish (AssayStore    *self,
                                                  GAsyncResult  *result,
                                                  GError       **error);
void             assay_store_copy_object_async (AssayStore          *self,
                                                const char          *source_key,
                                                const char          *key,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean         assay_store_copy_object_finish (AssayStore    *self,
                                                 GAsyncResult  *result,
                                                 GError       **error);
void             assay_store_put_item_async (AssayStore          *self,
                                             AssayTable           table,
                                             JsonObject          *item,
                                             AssayCondition      *condition,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
gboolean         assay_store_put_item_finish (AssayStore    *self,
                                              GAsyncResult  *result,
                                              GError       **error);
void             assay_store_get_item_async (AssayStore          *self,
                                             AssayTable           table,
                                             const char          *id,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
JsonObject      *assay_store_get_item_finish (AssayStore    *self,
                                              GAsyncResult  *result,
                                              GError       **error);
void             assay_store_update_item_async (AssayStore          *self,
                                                AssayTable           table,
                                                const char          *id,
                                                AssayUpdate         *update,
                                                AssayCondition      *condition,
                                                AssayReturnValues    return_values,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
JsonObject      *assay_store_update_item_finish (AssayStore    *self,
                                                 GAsyncResult  *result,
                                                 GError       **error);
void             assay_store_delete_item_async (AssayStore          *self,
                                                AssayTable           table,
                                                const char          *id,
                                                AssayCondition      *condition,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean         assay_store_delete_item_finish (AssayStore    *self,
                                                 GAsyncResult  *result,
                                                 GError       **error);
void             assay_store_query_async (AssayStore          *self,
                                          AssayTable           table,
                                          const AssayQuery    *query,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
AssayItemPage   *assay_store_query_finish (AssayStore    *self,
                                           GAsyncResult  *result,
                                           GError       **error);
void             assay_store_init_async (AssayStore          *self,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
gboolean         assay_store_init_finish (AssayStore    *self,
                                          GAsyncResult  *result,
                                          GError       **error);
/* PutObject of a local file, mapped rather than read into memory, as one PUT of at most
 * ASSAY_STORE_PUT_FILE_MAX bytes. Returns the ETag as put_object does. */
void             assay_store_put_file_async (AssayStore          *self,
                                             const char          *key,
                                             const char          *path,
                                             GHashTable          *metadata,
                                             AssayStorePutFlags   flags,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
char            *assay_store_put_file_finish (AssayStore    *self,
                                              GAsyncResult  *result,
                                              GError       **error);

G_END_DECLS
