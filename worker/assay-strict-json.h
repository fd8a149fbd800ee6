/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Strict JSON: what every reader of a result envelope accepts. The worker embeds a stage's
 * output in the envelope as the stage printed it (so that numbers keep their digits:
 * 4.469 stays 4.469), so it must first know that those bytes are JSON for every client:
 * a JavaScript JSON.parse(), Python's json, json-glib. json-glib's own parser is far more
 * lenient (a second value after the first, comments, single quotes, hex and leading-zero
 * numbers, raw control characters, "\x41"), so it cannot be the check.
 *
 * Accepted: exactly one JSON text of RFC 8259 whose value is an object, nothing before or
 * after it (not even white space: trim first), in UTF-8 without a byte order mark or NUL;
 * \u escapes of UTF-16 surrogates only in pairs; no member name twice in one object
 * (compared after unescaping: RFC 8259 leaves duplicates to each reader, and readers
 * disagree on which one wins); nested at most ASSAY_STRICT_JSON_MAX_DEPTH deep.
 */

#define ASSAY_STRICT_JSON_MAX_DEPTH 512

#define ASSAY_STRICT_JSON_ERROR (assay_strict_json_error_quark ())

typedef enum
{
  ASSAY_STRICT_JSON_ERROR_INVALID,
} AssayStrictJsonError;

GQuark   assay_strict_json_error_quark (void);

gboolean assay_strict_json_check_object (const char  *text,
                                         gsize        len,
                                         GError     **error);
void     assay_strict_json_trim         (const char **text,
                                         gsize       *len);

G_END_DECLS
