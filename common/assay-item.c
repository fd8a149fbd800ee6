/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-item.h"

#include <string.h>

G_DEFINE_QUARK (assay-item-error-quark, assay_item_error)

/* DynamoDB numbers are decimal strings; ours are non-negative integers that fit a double
 * exactly, as JavaScript clients read them. */
#define MAX_SAFE_INTEGER G_GUINT64_CONSTANT (9007199254740991)

/**
 * assay_item_detect_form:
 * An object is a DynamoDB item when its `id` attribute is an object (a type descriptor
 * such as `{"S": …}`); in plain JSON every id is a string.
 */
AssayItemForm
assay_item_detect_form (JsonObject *object)
{
  JsonNode *id;

  g_return_val_if_fail (object != NULL, ASSAY_ITEM_FORM_PLAIN);

  id = json_object_get_member (object, "id");
  if (id != NULL && JSON_NODE_HOLDS_OBJECT (id))
    return ASSAY_ITEM_FORM_DYNAMODB;
  return ASSAY_ITEM_FORM_PLAIN;
}

/**
 * assay_item_parse:
 * Parses @data as a JSON object: plain, a DynamoDB item, or a DynamoDB response that
 * wraps the item as `{"Item": {…}}` (what `aws dynamodb get-item` prints).
 * Returns: (transfer full) (nullable): the object that holds the attributes.
 */
JsonObject *
assay_item_parse (const char     *data,
                  gssize          len,
                  AssayItemForm  *out_form,
                  GError        **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonObject *object;

  g_return_val_if_fail (data != NULL, NULL);

  if (!json_parser_load_from_data (parser, data, len, &local_error))
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_PARSE, "not valid JSON: %s",
                   local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_PARSE,
                           "expected a JSON object");
      return NULL;
    }
  object = json_node_get_object (root);
  if (json_object_get_size (object) == 1 && json_object_has_member (object, "Item"))
    {
      JsonNode *item = json_object_get_member (object, "Item");

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          g_set_error_literal (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_PARSE,
                               "“Item” is not a JSON object");
          return NULL;
        }
      object = json_node_get_object (item);
    }
  if (out_form != NULL)
    *out_form = assay_item_detect_form (object);
  return json_object_ref (object);
}

/* The value node of attribute @name: the member itself in plain JSON, the inside of the
 * one-member descriptor `{"<type>": value}` in a DynamoDB item. */
static JsonNode *
lookup (JsonObject     *object,
        AssayItemForm   form,
        const char     *name,
        const char     *type,
        gboolean        required,
        GError        **error)
{
  JsonNode *node = json_object_get_member (object, name);
  JsonObject *descriptor;

  if (node == NULL)
    {
      if (required)
        g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_MISSING,
                     "attribute “%s” is missing", name);
      return NULL;
    }
  if (form == ASSAY_ITEM_FORM_PLAIN)
    return node;

  if (!JSON_NODE_HOLDS_OBJECT (node) ||
      json_object_get_size ((descriptor = json_node_get_object (node))) != 1 ||
      !json_object_has_member (descriptor, type))
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_TYPE,
                   "attribute “%s” is not a DynamoDB {\"%s\": …} value", name, type);
      return NULL;
    }
  return json_object_get_member (descriptor, type);
}

static gboolean
is_string_node (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

gboolean
assay_item_get_string (JsonObject     *object,
                       AssayItemForm   form,
                       const char     *name,
                       gboolean        required,
                       const char    **out_value,
                       GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *node;

  g_return_val_if_fail (object != NULL && name != NULL && out_value != NULL, FALSE);

  *out_value = NULL;
  node = lookup (object, form, name, "S", required, &local_error);
  if (node == NULL)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!is_string_node (node))
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_TYPE,
                   "attribute “%s” is not a string", name);
      return FALSE;
    }
  *out_value = json_node_get_string (node);
  return TRUE;
}

static gboolean
parse_decimal (const char *text,
               guint64    *out)
{
  guint64 v = 0;
  gsize len = strlen (text);

  if (len == 0 || len > 16 || (len > 1 && text[0] == '0'))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      v = v * 10 + (guint64) (text[i] - '0');
    }
  if (v > MAX_SAFE_INTEGER)
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
assay_item_get_uint (JsonObject     *object,
                     AssayItemForm   form,
                     const char     *name,
                     gboolean        required,
                     guint64        *out_value,
                     gboolean       *out_present,
                     GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *node;
  gboolean ok;

  g_return_val_if_fail (object != NULL && name != NULL && out_value != NULL, FALSE);

  *out_value = 0;
  if (out_present != NULL)
    *out_present = FALSE;
  node = lookup (object, form, name, "N", required, &local_error);
  if (node == NULL)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (form == ASSAY_ITEM_FORM_DYNAMODB)
    ok = is_string_node (node) && parse_decimal (json_node_get_string (node), out_value);
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    {
      gint64 v = json_node_get_int (node);

      ok = v >= 0 && (guint64) v <= MAX_SAFE_INTEGER;
      *out_value = ok ? (guint64) v : 0;
    }
  else
    ok = FALSE;

  if (!ok)
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                   "attribute “%s” is not a non-negative integer", name);
      return FALSE;
    }
  if (out_present != NULL)
    *out_present = TRUE;
  return TRUE;
}

gboolean
assay_item_get_map (JsonObject     *object,
                    AssayItemForm   form,
                    const char     *name,
                    gboolean        required,
                    JsonObject    **out_value,
                    GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *node;

  g_return_val_if_fail (object != NULL && name != NULL && out_value != NULL, FALSE);

  *out_value = NULL;
  node = lookup (object, form, name, "M", required, &local_error);
  if (node == NULL)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_TYPE,
                   "attribute “%s” is not a map", name);
      return FALSE;
    }
  *out_value = json_node_get_object (node);
  return TRUE;
}

static void
set_typed (JsonObject    *object,
           AssayItemForm  form,
           const char    *name,
           const char    *type,
           JsonNode      *value)
{
  if (form == ASSAY_ITEM_FORM_PLAIN)
    {
      json_object_set_member (object, name, value);
    }
  else
    {
      JsonObject *descriptor = json_object_new ();

      json_object_set_member (descriptor, type, value);
      json_object_set_object_member (object, name, descriptor);
    }
}

void
assay_item_set_string (JsonObject    *object,
                       AssayItemForm  form,
                       const char    *name,
                       const char    *value)
{
  g_return_if_fail (object != NULL && name != NULL && value != NULL);

  set_typed (object, form, name, "S", json_node_init_string (json_node_alloc (), value));
}

void
assay_item_set_uint (JsonObject    *object,
                     AssayItemForm  form,
                     const char    *name,
                     guint64        value)
{
  g_autofree char *text = NULL;

  g_return_if_fail (object != NULL && name != NULL && value <= MAX_SAFE_INTEGER);

  if (form == ASSAY_ITEM_FORM_PLAIN)
    {
      set_typed (object, form, name, "N", json_node_init_int (json_node_alloc (), (gint64) value));
      return;
    }
  text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  set_typed (object, form, name, "N", json_node_init_string (json_node_alloc (), text));
}

/* Takes a reference to @value. */
void
assay_item_set_map (JsonObject    *object,
                    AssayItemForm  form,
                    const char    *name,
                    JsonObject    *value)
{
  g_return_if_fail (object != NULL && name != NULL && value != NULL);

  set_typed (object, form, name, "M", json_node_init_object (json_node_alloc (), value));
}

char *
assay_item_to_string (JsonObject *object,
                      gboolean    pretty)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, pretty);
}
