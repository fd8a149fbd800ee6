/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define ASSAY_INSPECTION_ERROR (assay_inspection_error_quark ())

typedef enum
{
  ASSAY_INSPECTION_ERROR_MAGIC, /* libmagic could not load its database or failed */
} AssayInspectionError;

/* libmagic sees at most this many bytes from the start of the content, whether it comes from
 * a file or from a request body, so that both give the same answer. */
#define ASSAY_INSPECTION_MAGIC_BYTES (1024 * 1024)

/* How many of the most frequent bytes `byte_histogram_top` lists. */
#define ASSAY_INSPECTION_TOP_BYTES 5

GQuark assay_inspection_error_quark (void);

/* An AssayInspector takes content in pieces of any size, in order, and gives its inspection:
 * a JSON object (see docs in assay-inspection.c). Its memory does not grow with the content.
 * One inspector is used from one thread at a time; different inspectors may run in parallel. */
typedef struct _AssayInspector AssayInspector;

AssayInspector *assay_inspector_new      (void);
void            assay_inspector_free     (AssayInspector *self);
void            assay_inspector_update   (AssayInspector *self,
                                          const guint8   *data,
                                          gsize           len);
guint64         assay_inspector_get_size (AssayInspector *self);
JsonNode       *assay_inspector_finish   (AssayInspector *self,
                                          GError        **error);

JsonNode       *assay_inspect_stream     (GInputStream   *stream,
                                          GCancellable   *cancellable,
                                          GError        **error);
JsonNode       *assay_inspect_file       (GFile          *file,
                                          GCancellable   *cancellable,
                                          GError        **error);
JsonNode       *assay_inspect_bytes      (GBytes         *bytes,
                                          GError        **error);

char           *assay_inspection_to_string (JsonNode *inspection);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayInspector, assay_inspector_free)

G_END_DECLS
