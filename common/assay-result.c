/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-result.h"
#include "assay-id.h"
#include "assay-payload.h"
#include "assay-time.h"

#include <string.h>

struct _AssayResult
{
  GObject parent_instance;

  char *id;
  char *client;
  char *payload;        /* E:IV:TAG:C, or NULL when the payload is in S3 */
  char *payload_object; /* results/<id>, or NULL */
  char *job;
  char *created;
};

G_DEFINE_FINAL_TYPE (AssayResult, assay_result, G_TYPE_OBJECT)

G_DEFINE_QUARK (assay-result-error-quark, assay_result_error)

static void
assay_result_finalize (GObject *object)
{
  AssayResult *self = (AssayResult *) object;

  g_free (self->id);
  g_free (self->client);
  g_free (self->payload);
  g_free (self->payload_object);
  g_free (self->job);
  g_free (self->created);

  G_OBJECT_CLASS (assay_result_parent_class)->finalize (object);
}

static void
assay_result_class_init (AssayResultClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_result_finalize;
}

static void
assay_result_init (AssayResult *self)
{
}

static char *
object_key_for (const char *id)
{
  return g_strconcat ("results/", id, NULL);
}

/**
 * assay_result_new:
 * @job: the job id
 * @recipient: the job's client key (public part suffices)
 * @plaintext: the result envelope (UTF-8 JSON)
 * @out_object: (out) (optional): set to the binary payload to store as the S3 object
 *   `results/<id>` when it is too large for the item, else to %NULL
 *
 * Encrypts @plaintext to @recipient under a fresh result id.
 */
AssayResult *
assay_result_new (const char  *job,
                  AssayKey    *recipient,
                  GBytes      *plaintext,
                  GBytes     **out_object,
                  GError     **error)
{
  g_autoptr(AssayResult) self = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autofree char *text = NULL;
  gsize item_size;

  g_return_val_if_fail (assay_id_is_valid (ASSAY_ID_JOB, job), NULL);
  g_return_val_if_fail (ASSAY_IS_KEY (recipient), NULL);
  g_return_val_if_fail (plaintext != NULL, NULL);
  g_return_val_if_fail (out_object != NULL, NULL);

  *out_object = NULL;
  self = g_object_new (ASSAY_TYPE_RESULT, NULL);
  self->id = assay_id_new (ASSAY_ID_RESULT);
  self->client = g_strdup (assay_key_get_client_id (recipient));
  self->job = g_strdup (job);
  self->created = assay_time_now ();

  payload = assay_payload_encrypt (recipient, self->id, plaintext, error);
  if (payload == NULL)
    return NULL;

  /* DynamoDB counts the names and the values of the attributes. */
  text = assay_payload_to_text (payload);
  item_size = strlen ("id") + strlen (self->id) + strlen ("client") + strlen (self->client) +
              strlen ("job") + strlen (self->job) + strlen ("created") + strlen (self->created) +
              strlen ("payload") + strlen (text);
  if (item_size > ASSAY_RESULT_INLINE_LIMIT)
    {
      self->payload_object = object_key_for (self->id);
      *out_object = g_steal_pointer (&payload);
    }
  else
    self->payload = g_steal_pointer (&text);
  return g_steal_pointer (&self);
}

static gboolean
check_string (JsonObject     *object,
              AssayItemForm   form,
              const char     *name,
              gboolean        required,
              gboolean      (*check) (const char *),
              const char     *what,
              char          **out,
              GError        **error)
{
  const char *value = NULL;

  if (!assay_item_get_string (object, form, name, required, &value, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  if (!check (value))
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                   "attribute “%s” is not %s", name, what);
      return FALSE;
    }
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
is_result_id (const char *s)
{
  return assay_id_is_valid (ASSAY_ID_RESULT, s);
}

static gboolean
is_job_id (const char *s)
{
  return assay_id_is_valid (ASSAY_ID_JOB, s);
}

static gboolean
is_payload_text (const char *s)
{
  g_autoptr(GBytes) bytes = assay_payload_from_text (s, NULL);

  return bytes != NULL;
}

static gboolean
read_fields (AssayResult    *self,
             JsonObject     *object,
             AssayItemForm   form,
             GError        **error)
{
  g_autofree char *expected_object = NULL;
  const char *payload_object = NULL;

  if (!check_string (object, form, "id", TRUE, is_result_id,
                     "a result id (result- and a lowercase UUIDv4)", &self->id, error) ||
      !check_string (object, form, "client", TRUE, assay_client_id_is_valid, "a client id",
                     &self->client, error) ||
      !check_string (object, form, "payload", FALSE, is_payload_text,
                     "an E:IV:TAG:C payload in lowercase hex", &self->payload, error) ||
      !assay_item_get_string (object, form, "payload_object", FALSE, &payload_object, error) ||
      !check_string (object, form, "job", FALSE, is_job_id, "a job id", &self->job, error) ||
      !check_string (object, form, "created", FALSE, assay_time_is_valid, "a time",
                     &self->created, error))
    return FALSE;

  self->payload_object = g_strdup (payload_object);
  if ((self->payload == NULL) == (self->payload_object == NULL))
    {
      g_set_error_literal (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                           "exactly one of the attributes “payload” and “payload_object” must "
                           "be present");
      return FALSE;
    }
  expected_object = object_key_for (self->id);
  if (self->payload_object != NULL && !g_str_equal (self->payload_object, expected_object))
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                   "attribute “payload_object” must be “%s”", expected_object);
      return FALSE;
    }
  return TRUE;
}

/**
 * assay_result_new_from_object:
 * Reads a result from its plain JSON or DynamoDB item form, checking every attribute's
 * form. Unknown attributes are ignored.
 */
AssayResult *
assay_result_new_from_object (JsonObject     *object,
                              AssayItemForm   form,
                              GError        **error)
{
  g_autoptr(AssayResult) self = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (object != NULL, NULL);

  self = g_object_new (ASSAY_TYPE_RESULT, NULL);
  if (!read_fields (self, object, form, &local_error))
    {
      g_set_error (error, ASSAY_RESULT_ERROR, ASSAY_RESULT_ERROR_BAD_RESULT, "invalid result: %s",
                   local_error->message);
      return NULL;
    }
  return g_steal_pointer (&self);
}

AssayResult *
assay_result_new_from_data (const char  *data,
                            gssize       len,
                            GError     **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) local_error = NULL;
  AssayItemForm form;

  g_return_val_if_fail (data != NULL, NULL);

  object = assay_item_parse (data, len, &form, &local_error);
  if (object == NULL)
    {
      g_set_error (error, ASSAY_RESULT_ERROR, ASSAY_RESULT_ERROR_BAD_RESULT, "invalid result: %s",
                   local_error->message);
      return NULL;
    }
  return assay_result_new_from_object (object, form, error);
}

static JsonNode *
to_object (AssayResult   *self,
           AssayItemForm  form)
{
  JsonObject *object = json_object_new ();

  assay_item_set_string (object, form, "id", self->id);
  assay_item_set_string (object, form, "client", self->client);
  if (self->payload != NULL)
    assay_item_set_string (object, form, "payload", self->payload);
  else
    assay_item_set_string (object, form, "payload_object", self->payload_object);
  if (self->job != NULL)
    assay_item_set_string (object, form, "job", self->job);
  if (self->created != NULL)
    assay_item_set_string (object, form, "created", self->created);
  return json_node_init_object (json_node_alloc (), object);
}

JsonNode *
assay_result_to_json (AssayResult *self)
{
  g_return_val_if_fail (ASSAY_IS_RESULT (self), NULL);

  return to_object (self, ASSAY_ITEM_FORM_PLAIN);
}

JsonNode *
assay_result_to_item (AssayResult *self)
{
  g_return_val_if_fail (ASSAY_IS_RESULT (self), NULL);

  return to_object (self, ASSAY_ITEM_FORM_DYNAMODB);
}

/**
 * assay_result_decrypt:
 * @key: the client's key pair
 * @object: (nullable): the bytes of the S3 object `results/<id>` when the result has a
 *   `payload_object`; ignored otherwise
 *
 * Returns: (transfer full) (nullable): the plaintext envelope.
 */
GBytes *
assay_result_decrypt (AssayResult  *self,
                      AssayKey     *key,
                      GBytes       *object,
                      GError      **error)
{
  g_return_val_if_fail (ASSAY_IS_RESULT (self), NULL);
  g_return_val_if_fail (ASSAY_IS_KEY (key), NULL);

  if (!g_str_equal (self->client, assay_key_get_client_id (key)))
    {
      g_set_error (error, ASSAY_RESULT_ERROR, ASSAY_RESULT_ERROR_WRONG_CLIENT,
                   "result %s is for another client key (%.*s…), not this one", self->id, 24,
                   self->client);
      return NULL;
    }
  if (self->payload != NULL)
    return assay_payload_decrypt_text (key, self->id, self->payload, error);
  if (object == NULL)
    {
      g_set_error (error, ASSAY_RESULT_ERROR, ASSAY_RESULT_ERROR_NEEDS_OBJECT,
                   "result %s keeps its payload in the object store as “%s”: fetch it first",
                   self->id, self->payload_object);
      return NULL;
    }
  return assay_payload_decrypt (key, self->id, object, error);
}

#define GETTER(member)                                  \
  const char *assay_result_get_##member (AssayResult *self) \
  {                                                     \
    g_return_val_if_fail (ASSAY_IS_RESULT (self), NULL); \
    return self->member;                                \
  }

GETTER (id)
GETTER (client)
GETTER (payload)
GETTER (payload_object)
GETTER (job)
GETTER (created)
