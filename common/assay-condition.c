/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-condition.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------- */
/* Values                                                                                */

static JsonNode *
typed_value (const char *type,
             JsonNode   *inner)
{
  JsonObject *descriptor = json_object_new ();
  JsonNode *node;

  json_object_set_member (descriptor, type, inner);
  node = json_node_init_object (json_node_alloc (), descriptor);
  json_object_unref (descriptor);
  return node;
}

/* Returns: (transfer full): `{"S": value}`. */
JsonNode *
assay_value_string (const char *value)
{
  g_return_val_if_fail (value != NULL, NULL);

  return typed_value ("S", json_node_init_string (json_node_alloc (), value));
}

/* Returns: (transfer full): `{"M": value}`, @value a map of attribute values. */
JsonNode *
assay_value_map (JsonObject *value)
{
  g_return_val_if_fail (value != NULL, NULL);

  return typed_value ("M", json_node_init_object (json_node_alloc (), value));
}

/* Returns: (transfer full): `{"N": "value"}`. */
JsonNode *
assay_value_number (gint64 value)
{
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, value);

  return typed_value ("N", json_node_init_string (json_node_alloc (), text));
}

/* The type letter and the inner node of an attribute value, or NULL. */
static const char *
value_type (JsonNode  *value,
            JsonNode **out_inner)
{
  JsonObject *descriptor;
  GList *members;
  const char *type;

  if (value == NULL || !JSON_NODE_HOLDS_OBJECT (value))
    return NULL;
  descriptor = json_node_get_object (value);
  if (json_object_get_size (descriptor) != 1)
    return NULL;
  members = json_object_get_members (descriptor);
  type = members->data;
  g_list_free (members);
  *out_inner = json_object_get_member (descriptor, type);
  return type;
}

static int
compare_numbers (const char *a,
                 const char *b)
{
  char *end_a, *end_b;
  gint64 ia = g_ascii_strtoll (a, &end_a, 10);
  gint64 ib = g_ascii_strtoll (b, &end_b, 10);
  double da, db;

  if (*end_a == '\0' && *end_b == '\0')
    return ia < ib ? -1 : ia > ib;
  da = g_ascii_strtod (a, NULL);
  db = g_ascii_strtod (b, NULL);
  return da < db ? -1 : da > db;
}

/**
 * assay_value_compare:
 * Compares two attribute values as DynamoDB does: numbers by value, strings by their
 * UTF-8 bytes. Values of different types, or of types without an order, are not
 * comparable (@out_comparable is set to %FALSE) but may still be equal.
 * Returns: <0, 0 or >0.
 */
int
assay_value_compare (JsonNode *a,
                     JsonNode *b,
                     gboolean *out_comparable)
{
  JsonNode *inner_a = NULL, *inner_b = NULL;
  const char *type_a = value_type (a, &inner_a);
  const char *type_b = value_type (b, &inner_b);
  gboolean scalar;

  *out_comparable = FALSE;
  if (type_a == NULL || type_b == NULL || !g_str_equal (type_a, type_b))
    return 1;

  scalar = JSON_NODE_HOLDS_VALUE (inner_a) && JSON_NODE_HOLDS_VALUE (inner_b) &&
           json_node_get_value_type (inner_a) == G_TYPE_STRING &&
           json_node_get_value_type (inner_b) == G_TYPE_STRING;
  if (scalar && g_str_equal (type_a, "N"))
    {
      *out_comparable = TRUE;
      return compare_numbers (json_node_get_string (inner_a), json_node_get_string (inner_b));
    }
  if (scalar && g_str_equal (type_a, "S"))
    {
      *out_comparable = TRUE;
      return strcmp (json_node_get_string (inner_a), json_node_get_string (inner_b));
    }
  return json_node_equal (a, b) ? 0 : 1;
}

/* ------------------------------------------------------------------------------------- */
/* Expression names and values                                                           */

struct _AssayExpression
{
  GHashTable *placeholders; /* attribute name → "#nK" */
  JsonObject *names;        /* "#nK" → attribute name */
  JsonObject *values;       /* ":vK" → value */
  GPtrArray *value_keys;    /* the ":vK", owned here */
};

AssayExpression *
assay_expression_new (void)
{
  AssayExpression *self = g_new0 (AssayExpression, 1);

  self->placeholders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->names = json_object_new ();
  self->values = json_object_new ();
  self->value_keys = g_ptr_array_new_with_free_func (g_free);
  return self;
}

void
assay_expression_free (AssayExpression *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->placeholders);
  json_object_unref (self->names);
  json_object_unref (self->values);
  g_ptr_array_unref (self->value_keys);
  g_free (self);
}

/* Returns: the `#nK` placeholder of @attribute, the same one each time. */
const char *
assay_expression_name (AssayExpression *self,
                       const char      *attribute)
{
  char *placeholder = g_hash_table_lookup (self->placeholders, attribute);

  if (placeholder == NULL)
    {
      placeholder = g_strdup_printf ("#n%u", g_hash_table_size (self->placeholders));
      g_hash_table_insert (self->placeholders, g_strdup (attribute), placeholder);
      json_object_set_string_member (self->names, placeholder, attribute);
    }
  return placeholder;
}

/* Returns: a new `:vK` placeholder for a copy of @value. */
const char *
assay_expression_value (AssayExpression *self,
                        JsonNode        *value)
{
  char *placeholder = g_strdup_printf (":v%u", self->value_keys->len);

  g_ptr_array_add (self->value_keys, placeholder);
  json_object_set_member (self->values, placeholder, json_node_copy (value));
  return placeholder;
}

JsonObject *
assay_expression_get_names (AssayExpression *self)
{
  return self->names;
}

JsonObject *
assay_expression_get_values (AssayExpression *self)
{
  return self->values;
}

/* ------------------------------------------------------------------------------------- */
/* Conditions                                                                            */

typedef enum
{
  NODE_EXISTS,
  NODE_NOT_EXISTS,
  NODE_COMPARE,
  NODE_AND,
  NODE_OR,
  NODE_NOT,
} NodeKind;

struct _AssayCondition
{
  gatomicrefcount ref_count;
  NodeKind kind;
  char *attribute;      /* EXISTS, NOT_EXISTS, COMPARE */
  AssayCompare op;      /* COMPARE */
  JsonNode *value;      /* COMPARE */
  GPtrArray *operands;  /* AND, OR, NOT */
};

G_DEFINE_BOXED_TYPE (AssayCondition, assay_condition, assay_condition_ref, assay_condition_unref)

static AssayCondition *
condition_new (NodeKind kind)
{
  AssayCondition *self = g_new0 (AssayCondition, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->kind = kind;
  return self;
}

AssayCondition *
assay_condition_ref (AssayCondition *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
assay_condition_unref (AssayCondition *self)
{
  if (self == NULL || !g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->attribute);
  g_clear_pointer (&self->value, json_node_unref);
  g_clear_pointer (&self->operands, g_ptr_array_unref);
  g_free (self);
}

AssayCondition *
assay_condition_exists (const char *attribute)
{
  AssayCondition *self = condition_new (NODE_EXISTS);

  self->attribute = g_strdup (attribute);
  return self;
}

AssayCondition *
assay_condition_not_exists (const char *attribute)
{
  AssayCondition *self = condition_new (NODE_NOT_EXISTS);

  self->attribute = g_strdup (attribute);
  return self;
}

/* Takes @value. */
AssayCondition *
assay_condition_compare (const char   *attribute,
                         AssayCompare  op,
                         JsonNode     *value)
{
  AssayCondition *self;

  g_return_val_if_fail (attribute != NULL && value != NULL, NULL);

  self = condition_new (NODE_COMPARE);
  self->attribute = g_strdup (attribute);
  self->op = op;
  self->value = value;
  return self;
}

static AssayCondition *
combine (NodeKind        kind,
         AssayCondition *first,
         va_list         ap)
{
  AssayCondition *self = condition_new (kind);
  AssayCondition *next;

  self->operands = g_ptr_array_new_with_free_func ((GDestroyNotify) assay_condition_unref);
  g_ptr_array_add (self->operands, first);
  while ((next = va_arg (ap, AssayCondition *)) != NULL)
    g_ptr_array_add (self->operands, next);
  return self;
}

/* Takes every operand. */
AssayCondition *
assay_condition_and (AssayCondition *first,
                     ...)
{
  AssayCondition *self;
  va_list ap;

  g_return_val_if_fail (first != NULL, NULL);

  va_start (ap, first);
  self = combine (NODE_AND, first, ap);
  va_end (ap);
  return self;
}

/* Takes every operand. */
AssayCondition *
assay_condition_or (AssayCondition *first,
                    ...)
{
  AssayCondition *self;
  va_list ap;

  g_return_val_if_fail (first != NULL, NULL);

  va_start (ap, first);
  self = combine (NODE_OR, first, ap);
  va_end (ap);
  return self;
}

/* Takes @operand. */
AssayCondition *
assay_condition_not (AssayCondition *operand)
{
  AssayCondition *self;

  g_return_val_if_fail (operand != NULL, NULL);

  self = condition_new (NODE_NOT);
  self->operands = g_ptr_array_new_with_free_func ((GDestroyNotify) assay_condition_unref);
  g_ptr_array_add (self->operands, operand);
  return self;
}

static gboolean
evaluate_compare (AssayCondition *self,
                  JsonNode       *actual)
{
  gboolean comparable;
  int order;

  /* an absent attribute equals nothing and is ordered against nothing */
  if (actual == NULL)
    return self->op == ASSAY_COMPARE_NE;

  order = assay_value_compare (actual, self->value, &comparable);
  switch (self->op)
    {
    case ASSAY_COMPARE_EQ:
      return order == 0;
    case ASSAY_COMPARE_NE:
      return order != 0;
    case ASSAY_COMPARE_LT:
      return comparable && order < 0;
    case ASSAY_COMPARE_LE:
      return comparable && order <= 0;
    case ASSAY_COMPARE_GT:
      return comparable && order > 0;
    case ASSAY_COMPARE_GE:
      return comparable && order >= 0;
    default:
      g_assert_not_reached ();
    }
}

/**
 * assay_condition_evaluate:
 * @item: (nullable): the item as stored, or %NULL when there is none
 * Returns: whether the condition holds for @item, as DynamoDB would decide it.
 */
gboolean
assay_condition_evaluate (AssayCondition *self,
                          JsonObject     *item)
{
  JsonNode *actual = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  if (self->attribute != NULL && item != NULL)
    actual = json_object_get_member (item, self->attribute);

  switch (self->kind)
    {
    case NODE_EXISTS:
      return actual != NULL;
    case NODE_NOT_EXISTS:
      return actual == NULL;
    case NODE_COMPARE:
      return evaluate_compare (self, actual);
    case NODE_AND:
      for (guint i = 0; i < self->operands->len; i++)
        if (!assay_condition_evaluate (g_ptr_array_index (self->operands, i), item))
          return FALSE;
      return TRUE;
    case NODE_OR:
      for (guint i = 0; i < self->operands->len; i++)
        if (assay_condition_evaluate (g_ptr_array_index (self->operands, i), item))
          return TRUE;
      return FALSE;
    case NODE_NOT:
      return !assay_condition_evaluate (g_ptr_array_index (self->operands, 0), item);
    default:
      g_assert_not_reached ();
    }
}

static void
render_condition (AssayCondition  *self,
                  AssayExpression *expression,
                  GString         *out)
{
  static const char * const ops[] = { "=", "<>", "<", "<=", ">", ">=" };
  const char *joiner = self->kind == NODE_AND ? " AND " : " OR ";

  switch (self->kind)
    {
    case NODE_EXISTS:
    case NODE_NOT_EXISTS:
      g_string_append_printf (out, "%s(%s)",
                              self->kind == NODE_EXISTS ? "attribute_exists"
                                                        : "attribute_not_exists",
                              assay_expression_name (expression, self->attribute));
      break;
    case NODE_COMPARE:
      g_string_append_printf (out, "%s %s %s", assay_expression_name (expression, self->attribute),
                              ops[self->op], assay_expression_value (expression, self->value));
      break;
    case NODE_AND:
    case NODE_OR:
      g_string_append_c (out, '(');
      for (guint i = 0; i < self->operands->len; i++)
        {
          if (i > 0)
            g_string_append (out, joiner);
          render_condition (g_ptr_array_index (self->operands, i), expression, out);
        }
      g_string_append_c (out, ')');
      break;
    case NODE_NOT:
      g_string_append (out, "(NOT ");
      render_condition (g_ptr_array_index (self->operands, 0), expression, out);
      g_string_append_c (out, ')');
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Returns: (transfer full): the DynamoDB ConditionExpression, names and values added to
 * @expression. */
char *
assay_condition_render (AssayCondition  *self,
                        AssayExpression *expression)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (self != NULL && expression != NULL, NULL);

  render_condition (self, expression, out);
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------------------- */
/* Updates                                                                               */

typedef enum
{
  ACTION_SET,
  ACTION_REMOVE,
  ACTION_ADD,
} ActionKind;

typedef struct
{
  ActionKind kind;
  char *attribute;
  JsonNode *value; /* SET: the value; ADD: the number to add */
} Action;

struct _AssayUpdate
{
  gatomicrefcount ref_count;
  GArray *actions;
};

G_DEFINE_BOXED_TYPE (AssayUpdate, assay_update, assay_update_ref, assay_update_unref)

static void
action_clear (Action *action)
{
  g_free (action->attribute);
  g_clear_pointer (&action->value, json_node_unref);
}

AssayUpdate *
assay_update_new (void)
{
  AssayUpdate *self = g_new0 (AssayUpdate, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->actions = g_array_new (FALSE, TRUE, sizeof (Action));
  g_array_set_clear_func (self->actions, (GDestroyNotify) action_clear);
  return self;
}

AssayUpdate *
assay_update_ref (AssayUpdate *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
assay_update_unref (AssayUpdate *self)
{
  if (self == NULL || !g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_array_unref (self->actions);
  g_free (self);
}

static AssayUpdate *
add_action (AssayUpdate *self,
            ActionKind   kind,
            const char  *attribute,
            JsonNode    *value)
{
  Action action = { kind, g_strdup (attribute), value };

  g_array_append_val (self->actions, action);
  return self;
}

/* `SET attribute = value`; takes @value. Returns: @self, to chain. */
AssayUpdate *
assay_update_set (AssayUpdate *self,
                  const char  *attribute,
                  JsonNode    *value)
{
  g_return_val_if_fail (self != NULL && attribute != NULL && value != NULL, self);

  return add_action (self, ACTION_SET, attribute, value);
}

/* `REMOVE attribute`. Returns: @self, to chain. */
AssayUpdate *
assay_update_remove (AssayUpdate *self,
                     const char  *attribute)
{
  g_return_val_if_fail (self != NULL && attribute != NULL, self);

  return add_action (self, ACTION_REMOVE, attribute, NULL);
}

/* `ADD attribute amount` on a number (an absent one counts as 0). Returns: @self. */
AssayUpdate *
assay_update_add (AssayUpdate *self,
                  const char  *attribute,
                  gint64       amount)
{
  g_return_val_if_fail (self != NULL && attribute != NULL, self);

  return add_action (self, ACTION_ADD, attribute, assay_value_number (amount));
}

/**
 * assay_update_apply:
 * Applies the actions to @item in place, as DynamoDB's UpdateItem does.
 * Returns: %FALSE when an ADD meets an attribute that is not a whole number.
 */
gboolean
assay_update_apply (AssayUpdate  *self,
                    JsonObject   *item,
                    GError      **error)
{
  g_return_val_if_fail (self != NULL && item != NULL, FALSE);

  for (guint i = 0; i < self->actions->len; i++)
    {
      Action *action = &g_array_index (self->actions, Action, i);
      JsonNode *current, *inner = NULL;
      const char *type;
      gint64 base = 0;
      char *end;

      switch (action->kind)
        {
        case ACTION_SET:
          json_object_set_member (item, action->attribute, json_node_copy (action->value));
          break;
        case ACTION_REMOVE:
          json_object_remove_member (item, action->attribute);
          break;
        case ACTION_ADD:
          current = json_object_get_member (item, action->attribute);
          if (current != NULL)
            {
              type = value_type (current, &inner);
              if (g_strcmp0 (type, "N") != 0 || !JSON_NODE_HOLDS_VALUE (inner) ||
                  json_node_get_value_type (inner) != G_TYPE_STRING)
                {
                  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "cannot ADD to attribute “%s”: it is not a number",
                               action->attribute);
                  return FALSE;
                }
              base = g_ascii_strtoll (json_node_get_string (inner), &end, 10);
              if (*end != '\0')
                {
                  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "cannot ADD to attribute “%s”: it is not a whole number",
                               action->attribute);
                  return FALSE;
                }
            }
          value_type (action->value, &inner);
          json_object_set_member (item, action->attribute,
                                  assay_value_number (base + g_ascii_strtoll (
                                                                 json_node_get_string (inner),
                                                                 NULL, 10)));
          break;
        default:
          g_assert_not_reached ();
        }
    }
  return TRUE;
}

/**
 * assay_update_is_applied:
 * Whether @item already shows the update: every SET attribute holds its value and every
 * REMOVEd one is absent. An ADD cannot be judged without the item as it was before, so it
 * is not looked at. A client uses this to recognise a write of its own that succeeded on
 * an attempt whose answer was lost.
 */
gboolean
assay_update_is_applied (AssayUpdate *self,
                         JsonObject  *item)
{
  g_return_val_if_fail (self != NULL && item != NULL, FALSE);

  for (guint i = 0; i < self->actions->len; i++)
    {
      Action *action = &g_array_index (self->actions, Action, i);
      JsonNode *current = json_object_get_member (item, action->attribute);
      gboolean comparable;

      if (action->kind == ACTION_SET &&
          (current == NULL || assay_value_compare (current, action->value, &comparable) != 0))
        return FALSE;
      if (action->kind == ACTION_REMOVE && current != NULL)
        return FALSE;
    }
  return TRUE;
}

/* Returns: (transfer full): the DynamoDB UpdateExpression (`SET … REMOVE … ADD …`). */
char *
assay_update_render (AssayUpdate     *self,
                     AssayExpression *expression)
{
  static const char * const clauses[] = { "SET", "REMOVE", "ADD" };
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (self != NULL && expression != NULL, NULL);

  for (ActionKind kind = ACTION_SET; kind <= ACTION_ADD; kind++)
    {
      gboolean first = TRUE;

      for (guint i = 0; i < self->actions->len; i++)
        {
          Action *action = &g_array_index (self->actions, Action, i);
          const char *name;

          if (action->kind != kind)
            continue;
          if (first)
            g_string_append_printf (out, "%s%s ", out->len ? " " : "", clauses[kind]);
          else
            g_string_append (out, ", ");
          first = FALSE;

          name = assay_expression_name (expression, action->attribute);
          if (kind == ACTION_SET)
            g_string_append_printf (out, "%s = %s", name,
                                    assay_expression_value (expression, action->value));
          else if (kind == ACTION_REMOVE)
            g_string_append (out, name);
          else
            g_string_append_printf (out, "%s %s", name,
                                    assay_expression_value (expression, action->value));
        }
    }
  return g_string_free (out, FALSE);
}
