/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Conditions and updates on table items, with one meaning on every backend: the DynamoDB
 * client renders them as expressions, the local store evaluates them itself. Items and
 * values are in the DynamoDB attribute-value form (`{"S": "open"}`, `{"N": "3"}`).
 */

typedef enum
{
  ASSAY_COMPARE_EQ,
  ASSAY_COMPARE_NE,
  ASSAY_COMPARE_LT,
  ASSAY_COMPARE_LE,
  ASSAY_COMPARE_GT,
  ASSAY_COMPARE_GE,
} AssayCompare;

typedef struct _AssayCondition AssayCondition;
typedef struct _AssayUpdate AssayUpdate;
typedef struct _AssayExpression AssayExpression;

/* Attribute values. */
JsonNode       *assay_value_string            (const char      *value);
JsonNode       *assay_value_number            (gint64           value);
JsonNode       *assay_value_map               (JsonObject      *value);
int             assay_value_compare           (JsonNode        *a,
                                               JsonNode        *b,
                                               gboolean        *out_comparable);

#define ASSAY_TYPE_CONDITION (assay_condition_get_type ())
GType           assay_condition_get_type      (void) G_GNUC_CONST;
AssayCondition *assay_condition_exists        (const char      *attribute);
AssayCondition *assay_condition_not_exists    (const char      *attribute);
AssayCondition *assay_condition_compare       (const char      *attribute,
                                               AssayCompare     op,
                                               JsonNode        *value);
AssayCondition *assay_condition_and           (AssayCondition  *first,
                                               ...) G_GNUC_NULL_TERMINATED;
AssayCondition *assay_condition_or            (AssayCondition  *first,
                                               ...) G_GNUC_NULL_TERMINATED;
AssayCondition *assay_condition_not           (AssayCondition  *operand);
AssayCondition *assay_condition_ref           (AssayCondition  *self);
void            assay_condition_unref         (AssayCondition  *self);
gboolean        assay_condition_evaluate      (AssayCondition  *self,
                                               JsonObject      *item);
char           *assay_condition_render        (AssayCondition  *self,
                                               AssayExpression *expression);

#define ASSAY_TYPE_UPDATE (assay_update_get_type ())
GType           assay_update_get_type         (void) G_GNUC_CONST;
AssayUpdate    *assay_update_new              (void);
AssayUpdate    *assay_update_set              (AssayUpdate     *self,
                                               const char      *attribute,
                                               JsonNode        *value);
AssayUpdate    *assay_update_remove           (AssayUpdate     *self,
                                               const char      *attribute);
AssayUpdate    *assay_update_add              (AssayUpdate     *self,
                                               const char      *attribute,
                                               gint64           amount);
AssayUpdate    *assay_update_ref              (AssayUpdate     *self);
void            assay_update_unref            (AssayUpdate     *self);
gboolean        assay_update_apply            (AssayUpdate     *self,
                                               JsonObject      *item,
                                               GError         **error);
gboolean        assay_update_is_applied       (AssayUpdate     *self,
                                               JsonObject      *item);
char           *assay_update_render           (AssayUpdate     *self,
                                               AssayExpression *expression);

/* The ExpressionAttributeNames and ExpressionAttributeValues of one request. */
AssayExpression *assay_expression_new         (void);
void             assay_expression_free        (AssayExpression *self);
const char      *assay_expression_name        (AssayExpression *self,
                                               const char      *attribute);
const char      *assay_expression_value       (AssayExpression *self,
                                               JsonNode        *value);
JsonObject      *assay_expression_get_names   (AssayExpression *self);
JsonObject      *assay_expression_get_values  (AssayExpression *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayCondition, assay_condition_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayUpdate, assay_update_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayExpression, assay_expression_free)

G_END_DECLS
