/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "assay-job.h"
#include "assay-store.h"

G_BEGIN_DECLS

/*
 * AssayLifecycle: what happens to a file besides its analysis (docs/operations.md,
 * "Quarantine and alerts", "Archive").
 *
 * Quarantine: a file the scan stage found infected is stored, before its job is failed,
 * as `<quarantine-prefix><YYYY-MM-DD>/<job id>` with server-side encryption requested
 * and the metadata assay-job, assay-client, assay-signature, assay-quarantined (the
 * time) and assay-processor; then a person is alerted: an HTTP POST of the event (JSON)
 * to alert-webhook, retried with backoff, and/or alert-command run with the event on its
 * stdin, both within alert-timeout in all. The event names the job, the client, the
 * signature, the bucket and the key; never a result or a secret.
 *
 * Archive (off unless set): a file that passed the scan is stored as
 * `<archive-prefix>incoming/YYYY/MM/DD/<job id>`, then moved (stored again, then the
 * incoming object deleted) to `…valid/…` or `…invalid/…` by the outcome of validation,
 * server-side encryption requested. archive-compact zips them by day (assay-archive.h).
 */

#define ASSAY_LIFECYCLE_ALERT_TIMEOUT_DEFAULT_MS 60000

typedef struct
{
  char *quarantine_prefix;   /* NULL: "quarantine/" */
  char *alert_webhook;       /* NULL: none */
  char *alert_command;       /* NULL: none */
  guint alert_timeout_ms;    /* 0: the default */
  guint alert_retry_ms;      /* the first wait before a webhook is tried again; 0: 1 s */
  gboolean archive;
  char *archive_prefix;      /* NULL: "archive/" */
} AssayLifecycleSettings;

void assay_lifecycle_settings_clear (AssayLifecycleSettings *settings);

#define ASSAY_TYPE_LIFECYCLE (assay_lifecycle_get_type ())
G_DECLARE_FINAL_TYPE (AssayLifecycle, assay_lifecycle, ASSAY, LIFECYCLE, GObject)

AssayLifecycle *assay_lifecycle_new                (AssayStore                   *store,
                                                    const AssayLifecycleSettings *settings,
                                                    GError                      **error);
AssayStore     *assay_lifecycle_get_store          (AssayLifecycle               *self);
const char     *assay_lifecycle_get_quarantine_prefix (AssayLifecycle            *self);
const char     *assay_lifecycle_get_archive_prefix (AssayLifecycle               *self);
gboolean        assay_lifecycle_get_archive        (AssayLifecycle               *self);

/* The signature named by an INFECTED failure ("infected: <signature>"), or "unknown". */
char           *assay_lifecycle_signature_from_error (const GError               *error);

/* Quarantines @path and alerts; the finish function returns a report for the log:
 * {"key", "alert": {"webhook": "delivered"|"failed: …", "command": …}}. Only the store
 * put can fail it; a failed alert is reported, not an error. */
void            assay_lifecycle_quarantine_async   (AssayLifecycle      *self,
                                                    const char          *path,
                                                    AssayJob            *job,
                                                    const char          *signature,
                                                    const char          *processor,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
JsonObject     *assay_lifecycle_quarantine_finish  (AssayLifecycle      *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);

/* Alerts alone (used by quarantine): @event is sent as it is. Never fails; the report
 * says what was delivered. */
void            assay_lifecycle_alert_async        (AssayLifecycle      *self,
                                                    JsonObject          *event,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
JsonObject     *assay_lifecycle_alert_finish       (AssayLifecycle      *self,
                                                    GAsyncResult        *result);

/* The archive key of job @id in @state ("incoming", "valid", "invalid") for @day
 * ("YYYY/MM/DD"). */
char           *assay_lifecycle_archive_key        (AssayLifecycle      *self,
                                                    const char          *state,
                                                    const char          *day,
                                                    const char          *id);
/* Stores @path as the archive key of @state; when @remove_key is set, deletes it after. */
void            assay_lifecycle_archive_async      (AssayLifecycle      *self,
                                                    const char          *path,
                                                    const char          *id,
                                                    const char          *state,
                                                    const char          *day,
                                                    const char          *remove_key,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
/* Returns: (transfer full): the key stored */
char           *assay_lifecycle_archive_finish     (AssayLifecycle      *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);

/* Blocking helpers for the commands (they iterate the thread-default main context). */
GPtrArray       *_assay_store_list_all_sync   (AssayStore   *store,
                                               const char   *prefix,
                                               GError      **error);
AssayObjectInfo *_assay_store_head_sync       (AssayStore   *store,
                                               const char   *key,
                                               GError      **error);
AssayObjectInfo *_assay_store_get_file_sync   (AssayStore   *store,
                                               const char   *key,
                                               const char   *path,
                                               GError      **error);
char            *_assay_store_put_file_sync   (AssayStore   *store,
                                               const char   *key,
                                               const char   *path,
                                               GHashTable   *metadata,
                                               AssayStorePutFlags flags,
                                               GError      **error);
gboolean         _assay_store_delete_sync     (AssayStore   *store,
                                               const char   *key,
                                               GError      **error);
gboolean         _assay_store_copy_sync       (AssayStore   *store,
                                               const char   *source_key,
                                               const char   *key,
                                               GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayLifecycleSettings, assay_lifecycle_settings_clear)

G_END_DECLS
