/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A GFilterInputStream that computes the SHA-256 of everything read through it, so that a
 * file is hashed in the same pass that compresses it. */

#define ASSAY_TYPE_DIGEST_STREAM (assay_digest_stream_get_type ())
G_DECLARE_FINAL_TYPE (AssayDigestStream, assay_digest_stream, ASSAY, DIGEST_STREAM,
                      GFilterInputStream)

GInputStream *assay_digest_stream_new        (GInputStream      *base);
guint64       assay_digest_stream_get_count  (AssayDigestStream *self);
char         *assay_digest_stream_dup_digest (AssayDigestStream *self);

G_END_DECLS
