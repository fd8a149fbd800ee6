/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "assay-scan.h"
#include "assay-store.h"

G_BEGIN_DECLS

/*
 * The virus definitions cache in the store, so that workers need no outside service.
 *
 *   defs/<set>/<file>      the files of one published set (.cvd .cld .ndb .hdb …); a set
 *                          is never overwritten, so a worker reading an older manifest
 *                          still finds its files (the set before the last is removed by
 *                          the next publish)
 *   defs/manifest.json     written last: {"format":"assay-defs","version","published",
 *                          "set","files":[{"name","key","size",
 *                          "sha256"}]}
 *
 * The version is the highest .cvd/.cld version in the set, else the publish time stamp.
 * Workers fetch the set into a private directory, verify every size and SHA-256 and only
 * then load it (AssayDefsRefresher); a file whose name is not a plain definitions file
 * name is refused, so a manifest cannot write outside that directory.
 */

#define ASSAY_DEFS_PREFIX       "defs/"
#define ASSAY_DEFS_MANIFEST_KEY "defs/manifest.json"
#define ASSAY_DEFS_FORMAT       "assay-defs"
#define ASSAY_DEFS_MANIFEST_MAX (1 << 20)
#define ASSAY_DEFS_REFRESH_DEFAULT_MS (15 * 60 * 1000)

#define ASSAY_DEFS_ERROR (assay_defs_error_quark ())

typedef enum
{
  ASSAY_DEFS_ERROR_NONE,      /* no definitions are published in the store */
  ASSAY_DEFS_ERROR_CORRUPT,   /* a malformed manifest, or a file that does not match it */
  ASSAY_DEFS_ERROR_EMPTY,     /* nothing to publish in the directory */
} AssayDefsError;

GQuark assay_defs_error_quark (void);

typedef struct
{
  char *name;
  char *key;
  guint64 size;
  char *sha256;
} AssayDefsFile;

typedef struct
{
  char *version;
  char *published;
  char *set;
  GPtrArray *files;   /* AssayDefsFile */
  char *digest;       /* SHA-256 of the manifest's bytes: what identifies a publish */
} AssayDefsManifest;

void assay_defs_manifest_free (AssayDefsManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayDefsManifest, assay_defs_manifest_free)

gboolean           assay_defs_is_definitions_file (const char          *name);
AssayDefsManifest *assay_defs_manifest_parse      (GBytes              *bytes,
                                                   GError             **error);

void               assay_defs_publish_async     (AssayStore          *store,
                                                 const char          *dir,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
AssayDefsManifest *assay_defs_publish_finish    (AssayStore          *store,
                                                 GAsyncResult        *result,
                                                 GError             **error);
void               assay_defs_fetch_manifest_async (AssayStore          *store,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
AssayDefsManifest *assay_defs_fetch_manifest_finish (AssayStore          *store,
                                                     GAsyncResult        *result,
                                                     GError             **error);
void               assay_defs_download_async    (AssayStore          *store,
                                                 AssayDefsManifest   *manifest,
                                                 const char          *dir,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean           assay_defs_download_finish   (AssayStore          *store,
                                                 GAsyncResult        *result,
                                                 GError             **error);

char              *assay_defs_freshclam_config  (const char          *mirror,
                                                 const char          *db_dir);

/*
 * AssayDefsRefresher: fetches the published set into a private temporary directory,
 * verifies it and loads it into a scan stage; then checks the manifest every interval and
 * reloads when a new set was published. A refresh that fails (the store out of reach, a
 * corrupt manifest, a hash mismatch, definitions libclamav refuses) keeps the engine in
 * use and is reported as an event. Events (::event, a JsonObject): "defs-loaded" (version,
 * published, signatures, files, load_ms) and "defs-refresh-failed" (reason).
 */
#define ASSAY_TYPE_DEFS_REFRESHER (assay_defs_refresher_get_type ())
G_DECLARE_FINAL_TYPE (AssayDefsRefresher, assay_defs_refresher, ASSAY, DEFS_REFRESHER, GObject)

AssayDefsRefresher *assay_defs_refresher_new          (AssayStore          *store,
                                                       AssayScanStage      *stage,
                                                       guint                interval_ms);
void                assay_defs_refresher_check_async  (AssayDefsRefresher  *self,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
gboolean            assay_defs_refresher_check_finish (AssayDefsRefresher  *self,
                                                       GAsyncResult        *result,
                                                       gboolean            *out_loaded,
                                                       GError             **error);
void                assay_defs_refresher_start        (AssayDefsRefresher  *self);
void                assay_defs_refresher_stop         (AssayDefsRefresher  *self);
const char         *assay_defs_refresher_get_version  (AssayDefsRefresher  *self);

G_END_DECLS
