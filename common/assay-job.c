/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-job.h"
#include "assay-id.h"
#include "assay-time.h"

#include <string.h>

struct _AssayJob
{
  GObject parent_instance;

  /* signed */
  char *id;
  char *version;
  char *created;
  char *bucket;
  char *region;
  char *file;
  char *client;

  char *signature;
  AssayJobStatus status;
  guint chunks;
  char *processor;
  char *assigned;
  char *uploaded;
  char *downloaded;

  /* queue and extension attributes */
  char *queue;
  char *due;
  char *lease;
  guint attempts;
  char *error_code;
  char *error_message;
  char *result;
};

G_DEFINE_FINAL_TYPE (AssayJob, assay_job, G_TYPE_OBJECT)

G_DEFINE_QUARK (assay-job-error-quark, assay_job_error)

static const char * const status_names[] = {
  [ASSAY_JOB_STATUS_UPLOADING] = "UPLOADING",
  [ASSAY_JOB_STATUS_UPLOADED] = "UPLOADED",
  [ASSAY_JOB_STATUS_PROCESSING] = "PROCESSING",
  [ASSAY_JOB_STATUS_PROCESSED] = "PROCESSED",
  [ASSAY_JOB_STATUS_ERROR] = "ERROR",
};

const char *
assay_job_status_to_string (AssayJobStatus status)
{
  g_return_val_if_fail (status <= ASSAY_JOB_STATUS_ERROR, NULL);

  return status_names[status];
}

gboolean
assay_job_status_from_string (const char     *text,
                              AssayJobStatus *out_status)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_strcmp0 (text, status_names[i]) == 0)
      {
        *out_status = i;
        return TRUE;
      }
  return FALSE;
}

gboolean
assay_job_status_is_final (AssayJobStatus status)
{
  return status == ASSAY_JOB_STATUS_PROCESSED || status == ASSAY_JOB_STATUS_ERROR;
}

/**
 * assay_job_is_retryable:
 * Returns: whether @job ended in an ERROR that a new job for the same file may not meet
 * again: its chunks were gone, its upload stalled, or it was claimed too often.
 */
gboolean
assay_job_is_retryable (AssayJob *job)
{
  static const char * const codes[] = { "CHUNKS_GONE", "UPLOAD_STALLED", "TOO_MANY_ATTEMPTS" };

  g_return_val_if_fail (ASSAY_IS_JOB (job), FALSE);

  if (job->status != ASSAY_JOB_STATUS_ERROR)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    if (g_strcmp0 (job->error_code, codes[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
is_job_id (const char *s)
{
  return assay_id_is_valid (ASSAY_ID_JOB, s);
}

static gboolean
is_file_id (const char *s)
{
  return assay_id_is_valid (ASSAY_ID_FILE, s);
}

static gboolean
is_processor_id (const char *s)
{
  return assay_id_is_valid (ASSAY_ID_PROCESSOR, s);
}

static gboolean
is_result_id (const char *s)
{
  return assay_id_is_valid (ASSAY_ID_RESULT, s);
}

/* Lowercase hex of a DER ECDSA signature; the DER itself is checked when verifying. */
static gboolean
is_signature_hex (const char *s)
{
  gsize len = strlen (s);

  if (len < 16 || len > 144 || len % 2 != 0)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s) && !(*s >= 'a' && *s <= 'f'))
      return FALSE;
  return TRUE;
}

static gboolean
is_queue (const char *s)
{
  return g_str_equal (s, "open") || g_str_equal (s, "leased");
}

static gboolean
is_error_code (const char *s)
{
  gsize len = strlen (s);

  if (len == 0 || len > 64)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isupper (*s) && !g_ascii_isdigit (*s) && *s != '_')
      return FALSE;
  return TRUE;
}

typedef enum
{
  FIELD_STRING,   /* required */
  FIELD_OPTIONAL, /* absent, or "" as written by clients that fill every seed field */
  FIELD_STATUS,
  FIELD_CHUNKS,
  FIELD_ATTEMPTS,
  FIELD_ERROR,
} FieldKind;

typedef struct
{
  const char *name;
  FieldKind kind;
  gsize offset;
  gboolean (*check) (const char *value);
  const char *form;
} Field;

#define STR(member) G_STRUCT_OFFSET (AssayJob, member)

/* Every attribute of a job, in the order of PROTOCOL.md. */
static const Field fields[] = {
  { "id", FIELD_STRING, STR (id), is_job_id, "a job id (job- and a lowercase UUIDv4)" },
  { "version", FIELD_STRING, STR (version), assay_version_is_valid,
    "a semantic version MAJOR.MINOR.PATCH[-pre]" },
  { "created", FIELD_STRING, STR (created), assay_time_is_valid, "a time YYYY-MM-DDTHH:MM:SS.mmmZ" },
  { "bucket", FIELD_STRING, STR (bucket), assay_bucket_is_valid, "an S3 bucket name" },
  { "region", FIELD_STRING, STR (region), assay_region_is_valid,
    "a region (lowercase letters, digits and dashes)" },
  { "file", FIELD_STRING, STR (file), is_file_id, "a file id (file- and a lowercase UUIDv4)" },
  { "client", FIELD_STRING, STR (client), assay_client_id_is_valid,
    "a client id (client- and the 130 hex digits of an uncompressed P-256 key)" },
  { "signature", FIELD_STRING, STR (signature), is_signature_hex,
    "the lowercase hex of a DER ECDSA signature" },
  { "status", FIELD_STATUS, 0, NULL, NULL },
  { "chunks", FIELD_CHUNKS, 0, NULL, NULL },
  { "processor", FIELD_OPTIONAL, STR (processor), is_processor_id, "a processor id" },
  { "assigned", FIELD_OPTIONAL, STR (assigned), assay_time_is_valid, "a time" },
  { "uploaded", FIELD_OPTIONAL, STR (uploaded), assay_time_is_valid, "a time" },
  { "downloaded", FIELD_OPTIONAL, STR (downloaded), assay_time_is_valid, "a time" },
  { "queue", FIELD_OPTIONAL, STR (queue), is_queue, "“open” or “leased”" },
  { "due", FIELD_OPTIONAL, STR (due), assay_time_is_valid, "a time" },
  { "lease", FIELD_OPTIONAL, STR (lease), assay_time_is_valid, "a time" },
  { "attempts", FIELD_ATTEMPTS, 0, NULL, NULL },
  { "error", FIELD_ERROR, 0, NULL, NULL },
  { "result", FIELD_OPTIONAL, STR (result), is_result_id, "a result id" },
};

#define FIELD_PTR(self, field) ((char **) G_STRUCT_MEMBER_P ((self), (field)->offset))

static void
assay_job_finalize (GObject *object)
{
  AssayJob *self = (AssayJob *) object;

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (fields[i].kind == FIELD_STRING || fields[i].kind == FIELD_OPTIONAL)
      g_clear_pointer (FIELD_PTR (self, &fields[i]), g_free);
  g_clear_pointer (&self->error_code, g_free);
  g_clear_pointer (&self->error_message, g_free);

  G_OBJECT_CLASS (assay_job_parent_class)->finalize (object);
}

static void
assay_job_class_init (AssayJobClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = assay_job_finalize;
}

static void
assay_job_init (AssayJob *self)
{
  self->status = ASSAY_JOB_STATUS_UPLOADING;
}

/* Reports @cause (taken) as %ASSAY_JOB_ERROR_BAD_JOB. */
static void
set_bad_job (GError **error,
             GError  *cause)
{
  g_set_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB, "invalid job: %s", cause->message);
  g_error_free (cause);
}

static gboolean
read_error_map (AssayJob       *self,
                JsonObject     *object,
                AssayItemForm   form,
                GError        **error)
{
  JsonObject *map = NULL;
  const char *code = NULL;
  const char *message = NULL;

  if (!assay_item_get_map (object, form, "error", FALSE, &map, error))
    return FALSE;
  if (map == NULL)
    return TRUE;
  if (!assay_item_get_string (map, form, "code", TRUE, &code, error) ||
      !assay_item_get_string (map, form, "message", FALSE, &message, error))
    return FALSE;
  if (!is_error_code (code))
    {
      g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                   "attribute “error.code” is not an error code (A-Z, 0-9 and _): “%s”", code);
      return FALSE;
    }
  self->error_code = g_strdup (code);
  self->error_message = g_strdup (message ? message : "");
  return TRUE;
}

static gboolean
read_field (AssayJob       *self,
            const Field    *field,
            JsonObject     *object,
            AssayItemForm   form,
            GError        **error)
{
  /* status and chunks are always in a table item; a plain job may be its signed part only */
  gboolean item = form == ASSAY_ITEM_FORM_DYNAMODB;
  const char *text = NULL;
  guint64 number = 0;
  gboolean present = FALSE;

  switch (field->kind)
    {
    case FIELD_STRING:
    case FIELD_OPTIONAL:
      if (!assay_item_get_string (object, form, field->name, field->kind == FIELD_STRING, &text,
                                  error))
        return FALSE;
      if (text == NULL || (field->kind == FIELD_OPTIONAL && *text == '\0'))
        return TRUE;
      if (!field->check (text))
        {
          g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                       "attribute “%s” is not %s: “%s”", field->name, field->form, text);
          return FALSE;
        }
      *FIELD_PTR (self, field) = g_strdup (text);
      return TRUE;

    case FIELD_STATUS:
      if (!assay_item_get_string (object, form, "status", item, &text, error))
        return FALSE;
      if (text != NULL && !assay_job_status_from_string (text, &self->status))
        {
          g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                       "attribute “status” is not one of UPLOADING, UPLOADED, PROCESSING, "
                       "PROCESSED, ERROR: “%s”",
                       text);
          return FALSE;
        }
      return TRUE;

    case FIELD_CHUNKS:
      if (!assay_item_get_uint (object, form, "chunks", item, &number, &present, error))
        return FALSE;
      if (number > ASSAY_JOB_MAX_CHUNKS)
        {
          g_set_error (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                       "attribute “chunks” is over the limit of %u chunks", ASSAY_JOB_MAX_CHUNKS);
          return FALSE;
        }
      self->chunks = (guint) number;
      return TRUE;

    case FIELD_ATTEMPTS:
      if (!assay_item_get_uint (object, form, "attempts", FALSE, &number, &present, error))
        return FALSE;
      if (number > G_MAXUINT)
        {
          g_set_error_literal (error, ASSAY_ITEM_ERROR, ASSAY_ITEM_ERROR_INVALID,
                               "attribute “attempts” is out of range");
          return FALSE;
        }
      self->attempts = (guint) number;
      return TRUE;

    case FIELD_ERROR:
      return read_error_map (self, object, form, error);

    default:
      g_assert_not_reached ();
    }
}

/**
 * assay_job_new_from_object:
 * Reads a job from its plain JSON or DynamoDB item form, checking every attribute's form
 * (not the signature: see assay_job_verify()). Attributes this version does not know are
 * ignored, so that later versions of the protocol can add their own.
 * Returns: (transfer full) (nullable): the job, or %NULL with %ASSAY_JOB_ERROR_BAD_JOB.
 */
AssayJob *
assay_job_new_from_object (JsonObject     *object,
                           AssayItemForm   form,
                           GError        **error)
{
  g_autoptr(AssayJob) self = NULL;

  g_return_val_if_fail (object != NULL, NULL);

  self = g_object_new (ASSAY_TYPE_JOB, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      GError *local_error = NULL;

      if (!read_field (self, &fields[i], object, form, &local_error))
        {
          set_bad_job (error, local_error);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

/**
 * assay_job_new_from_data:
 * Parses a job from JSON text: plain JSON, a DynamoDB item, or `{"Item": {…}}` as
 * printed by `aws dynamodb get-item`.
 */
AssayJob *
assay_job_new_from_data (const char  *data,
                         gssize       len,
                         GError     **error)
{
  g_autoptr(JsonObject) object = NULL;
  GError *local_error = NULL;
  AssayItemForm form;

  g_return_val_if_fail (data != NULL, NULL);

  object = assay_item_parse (data, len, &form, &local_error);
  if (object == NULL)
    {
      set_bad_job (error, local_error);
      return NULL;
    }
  return assay_job_new_from_object (object, form, error);
}

/* Sets the string attribute @name to @value after checking its form. */
static gboolean
set_checked (AssayJob    *self,
             const char  *name,
             const char  *value,
             GError     **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      const Field *field = &fields[i];

      if (!g_str_equal (field->name, name))
        continue;
      g_assert (field->check != NULL);
      if (value == NULL || !field->check (value))
        {
          g_set_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB,
                       "invalid job: “%s” is not %s", value ? value : "", field->form);
          return FALSE;
        }
      g_free (*FIELD_PTR (self, field));
      *FIELD_PTR (self, field) = g_strdup (value);
      return TRUE;
    }
  g_assert_not_reached ();
}

/**
 * assay_job_new:
 * A new job for @file, created now, status UPLOADING with no chunks, open on the queue,
 * and signed by @key (which must hold the private key).
 */
AssayJob *
assay_job_new (const char  *version,
               const char  *bucket,
               const char  *region,
               const char  *file,
               AssayKey    *key,
               GError     **error)
{
  g_autoptr(AssayJob) self = NULL;
  g_autofree char *message = NULL;

  g_return_val_if_fail (ASSAY_IS_KEY (key), NULL);

  self = g_object_new (ASSAY_TYPE_JOB, NULL);
  if (!set_checked (self, "version", version, error) ||
      !set_checked (self, "bucket", bucket, error) ||
      !set_checked (self, "region", region, error) ||
      !set_checked (self, "file", file, error))
    return NULL;
  self->id = assay_id_new (ASSAY_ID_JOB);
  self->created = assay_time_now ();
  self->client = g_strdup (assay_key_get_client_id (key));
  self->queue = g_strdup ("open");
  self->due = g_strdup (self->created);

  message = assay_job_dup_signed_message (self);
  self->signature = assay_key_sign (key, message, strlen (message), error);
  if (self->signature == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * assay_job_dup_signed_message:
 * Returns: (transfer full): `JSON.stringify({id, version, created, bucket, region, file,
 * client})`. Every one of the seven values has been checked against its form, none of
 * which admits a character that JSON escapes, so the text is built directly.
 */
char *
assay_job_dup_signed_message (AssayJob *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB (self), NULL);

  return g_strdup_printf ("{\"id\":\"%s\",\"version\":\"%s\",\"created\":\"%s\","
                          "\"bucket\":\"%s\",\"region\":\"%s\",\"file\":\"%s\","
                          "\"client\":\"%s\"}",
                          self->id, self->version, self->created, self->bucket, self->region,
                          self->file, self->client);
}

/**
 * assay_job_verify:
 * Checks the signature against the job's client key.
 * Returns: %TRUE when the job was signed by its client.
 */
gboolean
assay_job_verify (AssayJob  *self,
                  GError   **error)
{
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *message = NULL;

  g_return_val_if_fail (ASSAY_IS_JOB (self), FALSE);

  key = assay_key_new_from_client_id (self->client, &local_error);
  if (key == NULL)
    {
      g_set_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_JOB, "invalid job: client: %s",
                   local_error->message);
      return FALSE;
    }
  message = assay_job_dup_signed_message (self);
  if (!assay_key_verify (key, message, strlen (message), self->signature, &local_error))
    {
      g_set_error (error, ASSAY_JOB_ERROR, ASSAY_JOB_ERROR_BAD_SIGNATURE,
                   "the job’s signature is not valid for its client: %s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

static JsonNode *
to_object (AssayJob      *self,
           AssayItemForm  form)
{
  JsonObject *object = json_object_new ();
  JsonObject *error_map;

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      const Field *field = &fields[i];

      switch (field->kind)
        {
        case FIELD_STRING:
        case FIELD_OPTIONAL:
          if (*FIELD_PTR (self, field) != NULL)
            assay_item_set_string (object, form, field->name, *FIELD_PTR (self, field));
          break;
        case FIELD_STATUS:
          assay_item_set_string (object, form, "status", status_names[self->status]);
          break;
        case FIELD_CHUNKS:
          assay_item_set_uint (object, form, "chunks", self->chunks);
          break;
        case FIELD_ATTEMPTS:
          if (self->attempts > 0)
            assay_item_set_uint (object, form, "attempts", self->attempts);
          break;
        case FIELD_ERROR:
          if (self->error_code == NULL)
            break;
          error_map = json_object_new ();
          assay_item_set_string (error_map, form, "code", self->error_code);
          assay_item_set_string (error_map, form, "message", self->error_message);
          assay_item_set_map (object, form, "error", error_map);
          json_object_unref (error_map);
          break;
        default:
          g_assert_not_reached ();
        }
    }
  return json_node_init_object (json_node_alloc (), object);
}

/* Returns: (transfer full): the job as a plain JSON object. */
JsonNode *
assay_job_to_json (AssayJob *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB (self), NULL);

  return to_object (self, ASSAY_ITEM_FORM_PLAIN);
}

/* Returns: (transfer full): the job as a DynamoDB item (`{"id": {"S": …}, …}`). */
JsonNode *
assay_job_to_item (AssayJob *self)
{
  g_return_val_if_fail (ASSAY_IS_JOB (self), NULL);

  return to_object (self, ASSAY_ITEM_FORM_DYNAMODB);
}

#define GETTER(type, member)                       \
  type assay_job_get_##member (AssayJob *self)     \
  {                                                \
    g_return_val_if_fail (ASSAY_IS_JOB (self), 0); \
    return self->member;                           \
  }

GETTER (const char *, id)
GETTER (const char *, version)
GETTER (const char *, created)
GETTER (const char *, bucket)
GETTER (const char *, region)
GETTER (const char *, file)
GETTER (const char *, client)
GETTER (const char *, signature)
GETTER (AssayJobStatus, status)
GETTER (guint, chunks)
GETTER (const char *, processor)
GETTER (const char *, assigned)
GETTER (const char *, uploaded)
GETTER (const char *, downloaded)
GETTER (const char *, queue)
GETTER (const char *, due)
GETTER (const char *, lease)
GETTER (guint, attempts)
GETTER (const char *, error_code)
GETTER (const char *, error_message)
GETTER (const char *, result)
