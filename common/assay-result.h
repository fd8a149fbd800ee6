/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "assay-item.h"
#include "assay-key.h"

G_BEGIN_DECLS

#define ASSAY_RESULT_ERROR (assay_result_error_quark ())

typedef enum
{
  ASSAY_RESULT_ERROR_BAD_RESULT,   /* an attribute is missing or not of its form */
  ASSAY_RESULT_ERROR_WRONG_CLIENT, /* the result is for another client's key */
  ASSAY_RESULT_ERROR_NEEDS_OBJECT, /* the payload is in S3 and was not given */
} AssayResultError;

/* A result item larger than this keeps its payload in S3 as `results/<id>`. */
#define ASSAY_RESULT_INLINE_LIMIT 350000

GQuark assay_result_error_quark (void);

#define ASSAY_TYPE_RESULT (assay_result_get_type ())
G_DECLARE_FINAL_TYPE (AssayResult, assay_result, ASSAY, RESULT, GObject)

AssayResult *assay_result_new                (const char     *job,
                                              AssayKey       *recipient,
                                              GBytes         *plaintext,
                                              GBytes        **out_object,
                                              GError        **error);
AssayResult *assay_result_new_from_object    (JsonObject     *object,
                                              AssayItemForm   form,
                                              GError        **error);
AssayResult *assay_result_new_from_data      (const char     *data,
                                              gssize          len,
                                              GError        **error);

JsonNode    *assay_result_to_json            (AssayResult    *self);
JsonNode    *assay_result_to_item            (AssayResult    *self);
GBytes      *assay_result_decrypt            (AssayResult    *self,
                                              AssayKey       *key,
                                              GBytes         *object,
                                              GError        **error);

const char  *assay_result_get_id             (AssayResult    *self);
const char  *assay_result_get_client         (AssayResult    *self);
const char  *assay_result_get_payload        (AssayResult    *self);
const char  *assay_result_get_payload_object (AssayResult    *self);
const char  *assay_result_get_job            (AssayResult    *self);
const char  *assay_result_get_created        (AssayResult    *self);

G_END_DECLS
