/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The prefixed UUIDv4 ids of PROTOCOL.md. */
typedef enum
{
  ASSAY_ID_JOB,
  ASSAY_ID_FILE,
  ASSAY_ID_RESULT,
  ASSAY_ID_PROCESSOR,
} AssayIdKind;

/* Length of `client-` followed by the hex of a 65-byte uncompressed P-256 point. */
#define ASSAY_CLIENT_ID_LEN (7 + 130)

char       *assay_id_new              (AssayIdKind  kind);
gboolean    assay_id_is_valid         (AssayIdKind  kind,
                                       const char  *id);
const char *assay_id_kind_prefix      (AssayIdKind  kind);

gboolean    assay_client_id_is_valid  (const char  *id);
gboolean    assay_version_is_valid    (const char  *version);
gboolean    assay_bucket_is_valid     (const char  *bucket);
gboolean    assay_region_is_valid     (const char  *region);

G_END_DECLS
