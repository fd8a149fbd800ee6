/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * The two JSON forms of a job or result: plain JSON (`{"chunks": 3}`) and the DynamoDB
 * item (`{"chunks": {"N": "3"}}`). Models read and write their fields through these
 * accessors, so each field's parsing is written once for both forms.
 */
typedef enum
{
  ASSAY_ITEM_FORM_PLAIN,
  ASSAY_ITEM_FORM_DYNAMODB,
} AssayItemForm;

#define ASSAY_ITEM_ERROR (assay_item_error_quark ())

typedef enum
{
  ASSAY_ITEM_ERROR_PARSE,   /* not JSON, or not an object */
  ASSAY_ITEM_ERROR_MISSING, /* a required attribute is absent */
  ASSAY_ITEM_ERROR_TYPE,    /* an attribute of the wrong type */
  ASSAY_ITEM_ERROR_INVALID, /* a value of the right type but the wrong form */
} AssayItemError;

GQuark        assay_item_error_quark (void);

JsonObject   *assay_item_parse       (const char     *data,
                                      gssize          len,
                                      AssayItemForm  *out_form,
                                      GError        **error);
AssayItemForm assay_item_detect_form (JsonObject     *object);

gboolean      assay_item_get_string  (JsonObject     *object,
                                      AssayItemForm   form,
                                      const char     *name,
                                      gboolean        required,
                                      const char    **out_value,
                                      GError        **error);
gboolean      assay_item_get_uint    (JsonObject     *object,
                                      AssayItemForm   form,
                                      const char     *name,
                                      gboolean        required,
                                      guint64        *out_value,
                                      gboolean       *out_present,
                                      GError        **error);
gboolean      assay_item_get_map     (JsonObject     *object,
                                      AssayItemForm   form,
                                      const char     *name,
                                      gboolean        required,
                                      JsonObject    **out_value,
                                      GError        **error);

void          assay_item_set_string  (JsonObject     *object,
                                      AssayItemForm   form,
                                      const char     *name,
                                      const char     *value);
void          assay_item_set_uint    (JsonObject     *object,
                                      AssayItemForm   form,
                                      const char     *name,
                                      guint64         value);
void          assay_item_set_map     (JsonObject     *object,
                                      AssayItemForm   form,
                                      const char     *name,
                                      JsonObject     *value);

char         *assay_item_to_string   (JsonObject     *object,
                                      gboolean        pretty);

G_END_DECLS
