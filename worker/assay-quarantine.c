/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-quarantine"

#include "config.h"

#include "assay-quarantine.h"
#include "assay-failure.h"
#include "assay-item.h"
#include "assay-key.h"
#include "assay-result.h"
#include "assay-stage.h"
#include "assay-strict-json.h"
#include "assay-time.h"
#include "assay-util.h"
#include "assay-worker-job.h"

#include <string.h>

static void
sync_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
sync_wait (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  return *result;
}

/* Whether @key is <prefix>YYYY-MM-DD/<id>; sets @out_id. */
static gboolean
parse_key (const char  *prefix,
           const char  *key,
           const char **out_id)
{
  const char *rest;

  if (!g_str_has_prefix (key, prefix))
    return FALSE;
  rest = key + strlen (prefix);
  if (strlen (rest) < 12 || rest[4] != '-' || rest[7] != '-' || rest[10] != '/')
    return FALSE;
  for (guint i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !g_ascii_isdigit (rest[i]))
      return FALSE;
  if (strchr (rest + 11, '/') != NULL)
    return FALSE;
  *out_id = rest + 11;
  return TRUE;
}

static JsonObject *
record_from_info (AssayObjectInfo *info,
                  const char      *id)
{
  JsonObject *record = json_object_new ();
  static const char * const names[] = { "signature", "client", "quarantined", "processor" };

  json_object_set_string_member (record, "job", id);
  json_object_set_string_member (record, "key", info->key);
  json_object_set_int_member (record, "size", (gint64) info->size);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *name = g_strconcat ("assay-", names[i], NULL);
      const char *value = g_hash_table_lookup (info->metadata, name);

      if (value != NULL)
        json_object_set_string_member (record, names[i], value);
    }
  return record;
}

/* Records @action by @actor in the store and returns the record. */
static JsonObject *
log_action (AssayLifecycle *lifecycle,
            const char     *action,
            const char     *actor,
            JsonObject     *fields)
{
  AssayStore *store = assay_lifecycle_get_store (lifecycle);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *time = assay_time_format (now);
  g_autofree char *day = g_date_time_format (now, "%Y-%m-%d");
  g_autoptr(JsonObject) record = fields != NULL ? fields : json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *nonce = g_uuid_string_random ();
  char *text;

  json_object_set_string_member (record, "time", time);
  json_object_set_string_member (record, "action", action);
  json_object_set_string_member (record, "actor", actor);
  node = json_node_init_object (json_node_alloc (), record);
  text = json_to_string (node, FALSE);
  key = g_strdup_printf ("%slog/%s/%s-%s-%.8s.json",
                         assay_lifecycle_get_quarantine_prefix (lifecycle), day, time, action,
                         nonce);
  {
    g_autoptr(GBytes) bytes = g_bytes_new_take (text, strlen (text));

    assay_store_put_object_async (store, key, bytes, NULL, NULL, NULL, NULL, sync_cb, &result);
    etag = assay_store_put_object_finish (store, sync_wait (&result), &error);
  }
  if (etag == NULL)
    g_warning ("cannot record the quarantine action %s in %s: %s", action, key, error->message);
  return g_steal_pointer (&record);
}

GPtrArray *
assay_quarantine_list (AssayLifecycle  *lifecycle,
                       const char      *actor,
                       GError         **error)
{
  AssayStore *store = assay_lifecycle_get_store (lifecycle);
  const char *prefix = assay_lifecycle_get_quarantine_prefix (lifecycle);
  g_autoptr(GPtrArray) objects = NULL;
  g_autoptr(GPtrArray) records = NULL;
  JsonObject *fields;

  objects = _assay_store_list_all_sync (store, prefix, error);
  if (objects == NULL)
    return NULL;
  records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  for (guint i = 0; i < objects->len; i++)
    {
      AssayObjectInfo *listed = g_ptr_array_index (objects, i);
      g_autoptr(AssayObjectInfo) info = NULL;
      const char *id;

      if (!parse_key (prefix, listed->key, &id))
        continue;
      info = _assay_store_head_sync (store, listed->key, error);
      if (info == NULL)
        return NULL;
      g_ptr_array_add (records, record_from_info (info, id));
    }
  fields = json_object_new ();
  json_object_set_int_member (fields, "count", records->len);
  json_object_unref (log_action (lifecycle, "list", actor, fields));
  return g_steal_pointer (&records);
}

/* The key of job @id in the quarantine, and its metadata. */
static AssayObjectInfo *
find (AssayLifecycle  *lifecycle,
      const char      *id,
      GError         **error)
{
  AssayStore *store = assay_lifecycle_get_store (lifecycle);
  const char *prefix = assay_lifecycle_get_quarantine_prefix (lifecycle);
  g_autoptr(GPtrArray) objects = _assay_store_list_all_sync (store, prefix, error);

  if (objects == NULL)
    return NULL;
  for (guint i = 0; i < objects->len; i++)
    {
      AssayObjectInfo *listed = g_ptr_array_index (objects, i);
      const char *found;

      if (parse_key (prefix, listed->key, &found) && g_str_equal (found, id))
        return _assay_store_head_sync (store, listed->key, error);
    }
  g_set_error (error, ASSAY_STORE_ERROR, ASSAY_STORE_ERROR_NOT_FOUND,
               "job %s is not in the quarantine (%s…): see `assay-worker quarantine list`", id,
               prefix);
  return NULL;
}

JsonObject *
assay_quarantine_show (AssayLifecycle  *lifecycle,
                       const char      *id,
                       const char      *actor,
                       GError         **error)
{
  g_autoptr(AssayObjectInfo) info = find (lifecycle, id, error);
  JsonObject *fields;

  if (info == NULL)
    return NULL;
  fields = json_object_new ();
  json_object_set_string_member (fields, "job", id);
  json_object_unref (log_action (lifecycle, "show", actor, fields));
  return record_from_info (info, id);
}

JsonObject *
assay_quarantine_delete (AssayLifecycle  *lifecycle,
                         const char      *id,
                         const char      *actor,
                         GError         **error)
{
  g_autoptr(AssayObjectInfo) info = find (lifecycle, id, error);
  JsonObject *fields;

  if (info == NULL)
    return NULL;
  if (!_assay_store_delete_sync (assay_lifecycle_get_store (lifecycle), info->key, error))
    return NULL;
  fields = record_from_info (info, id);
  return log_action (lifecycle, "delete", actor, fields);
}

/* ------------------------------------------------------------------------------------- */
/* Release                                                                               */

static void
append_json_string (GString    *out,
                    const char *value)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);
  g_autofree char *text = NULL;

  json_node_set_string (node, value);
  text = json_to_string (node, FALSE);
  g_string_append (out, text);
}

/* Runs the stages of the slots after "scan" on @path; fills @outputs (slot → GBytes). */
static gboolean
run_stages (GPtrArray   *stages,
            const char  *path,
            AssayJob    *job,
            GHashTable  *outputs,
            GError     **error)
{
  for (guint s = 0; assay_stage_slots[s] != NULL; s++)
    {
      const char *slot = assay_stage_slots[s];
      AssayStage *stage = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      GBytes *output;

      if (g_str_equal (slot, "scan"))
        continue;
      for (guint i = 0; stages != NULL && i < stages->len && stage == NULL; i++)
        if (g_str_equal (assay_stage_get_name (g_ptr_array_index (stages, i)), slot))
          stage = g_ptr_array_index (stages, i);
      if (stage == NULL)
        {
          g_hash_table_replace (outputs, (gpointer) slot, g_bytes_new_static ("{}", 2));
          continue;
        }
      assay_stage_run_async (stage, path, job, NULL, sync_cb, &result);
      output = assay_stage_run_finish (stage, sync_wait (&result), error);
      if (output == NULL)
        {
          g_prefix_error (error, "the %s stage: ", slot);
          return FALSE;
        }
      if (!assay_strict_json_check_object (g_bytes_get_data (output, NULL),
                                           g_bytes_get_size (output), error))
        {
          g_prefix_error (error, "the %s stage's output is not a JSON object: ", slot);
          g_bytes_unref (output);
          return FALSE;
        }
      g_hash_table_replace (outputs, (gpointer) slot, output);
    }
  return TRUE;
}

/* The envelope, as the worker writes it, with the release in the scan slot. */
static GString *
make_envelope (const char *id,
               GHashTable *outputs,
               const char *scan)
{
  g_autofree char *now = assay_time_now ();
  GString *out = g_string_new ("{\"job\":");

  append_json_string (out, id);
  g_string_append (out, ",\"processed\":");
  append_json_string (out, now);
  for (guint s = 0; assay_stage_slots[s] != NULL; s++)
    {
      GBytes *output = g_hash_table_lookup (outputs, assay_stage_slots[s]);

      g_string_append_printf (out, ",\"%s\":", assay_stage_slots[s]);
      if (g_str_equal (assay_stage_slots[s], "scan"))
        g_string_append (out, scan);
      else
        g_string_append_len (out, g_bytes_get_data (output, NULL), g_bytes_get_size (output));
    }
  g_string_append_c (out, '}');
  return out;
}

static JsonObject *
get_job_item (AssayStore  *store,
              const char  *id,
              GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  assay_store_get_item_async (store, ASSAY_TABLE_JOBS, id, NULL, sync_cb, &result);
  return assay_store_get_item_finish (store, sync_wait (&result), error);
}

JsonObject *
assay_quarantine_release (AssayLifecycle  *lifecycle,
                          const char      *id,
                          GPtrArray       *stages,
                          const char      *work_dir,
                          const char      *actor,
                          GError         **error)
{
  AssayStore *store = assay_lifecycle_get_store (lifecycle);
  g_autoptr(AssayObjectInfo) info = NULL;
  g_autoptr(JsonObject) item = NULL;
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(GHashTable) outputs = NULL;
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(AssayResult) result = NULL;
  g_autoptr(GBytes) object = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  g_autoptr(GAsyncResult) async = NULL;
  g_autoptr(JsonBuilder) scan = json_builder_new ();
  g_autoptr(JsonNode) scan_node = NULL;
  g_autofree char *scan_text = NULL;
  g_autofree char *released = assay_time_now ();
  const char *dir;
  g_autofree char *path = NULL;
  g_autofree char *template = NULL;
  GString *envelope;
  const char *signature;
  gboolean ok;
  JsonObject *fields;

  info = find (lifecycle, id, error);
  if (info == NULL)
    return NULL;
  item = get_job_item (store, id, error);
  if (item == NULL)
    {
      g_prefix_error (error, "the quarantined file's job %s: ", id);
      return NULL;
    }
  job = assay_job_new_from_object (item, ASSAY_ITEM_FORM_DYNAMODB, error);
  if (job == NULL || !assay_job_verify (job, error))
    {
      g_prefix_error (error, "job %s cannot be completed: ", id);
      return NULL;
    }
  if (assay_job_get_status (job) != ASSAY_JOB_STATUS_ERROR ||
      g_strcmp0 (assay_job_get_error_code (job), "INFECTED") != 0)
    {
      g_set_error (error, ASSAY_FAILURE, ASSAY_FAILURE_BAD_JOB,
                   "job %s is %s%s%s, not ERROR with INFECTED: only such a job can be "
                   "released; delete the quarantined file instead", id,
                   assay_job_status_to_string (assay_job_get_status (job)),
                   assay_job_get_error_code (job) ? " with " : "",
                   assay_job_get_error_code (job) ? assay_job_get_error_code (job) : "");
      return NULL;
    }

  /* the file, privately */
  if (work_dir != NULL && g_mkdir_with_parents (work_dir, 0700) < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot create %s", work_dir);
      return NULL;
    }
  template = g_build_filename (work_dir ? work_dir : g_get_tmp_dir (), "release-XXXXXX", NULL);
  dir = g_mkdtemp_full (template, 0700);
  if (dir == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot create a private directory "
                   "for the file in %s", work_dir ? work_dir : g_get_tmp_dir ());
      return NULL;
    }
  path = g_build_filename (dir, "file", NULL);
  {
    g_autoptr(AssayObjectInfo) got = _assay_store_get_file_sync (store, info->key, path, error);

    ok = got != NULL;
  }
  outputs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_bytes_unref);
  ok = ok && run_stages (stages, path, job, outputs, error);
  _assay_remove_tree (dir);
  if (!ok)
    return NULL;

  signature = g_hash_table_lookup (info->metadata, "assay-signature");
  json_builder_begin_object (scan);
  json_builder_set_member_name (scan, "verdict");
  json_builder_add_string_value (scan, "released");
  json_builder_set_member_name (scan, "signature");
  json_builder_add_string_value (scan, signature ? signature : "unknown");
  json_builder_set_member_name (scan, "released_by");
  json_builder_add_string_value (scan, actor);
  json_builder_set_member_name (scan, "released");
  json_builder_add_string_value (scan, released);
  json_builder_end_object (scan);
  scan_node = json_builder_get_root (scan);
  scan_text = json_to_string (scan_node, FALSE);
  envelope = make_envelope (id, outputs, scan_text);

  key = assay_key_new_from_client_id (assay_job_get_client (job), error);
  if (key == NULL)
    {
      assay_wipe (envelope->str, envelope->len);
      g_string_free (envelope, TRUE);
      return NULL;
    }
  plaintext = g_bytes_new_static (envelope->str, envelope->len);
  /* the plaintext result does not outlive its encryption */
  result = assay_result_new (id, key, plaintext, &object, error);
  g_clear_pointer (&plaintext, g_bytes_unref);
  assay_wipe (envelope->str, envelope->len);
  g_string_free (envelope, TRUE);
  if (result == NULL)
    return NULL;
  if (object != NULL)
    {
      g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
      g_autofree char *etag = NULL;

      g_hash_table_insert (metadata, "assay-job", (gpointer) id);
      assay_store_put_object_async (store, assay_result_get_payload_object (result), object,
                                    metadata, NULL, NULL, NULL, sync_cb, &async);
      etag = assay_store_put_object_finish (store, sync_wait (&async), error);
      g_clear_object (&async);
      if (etag == NULL)
        return NULL;
    }
  {
    g_autoptr(JsonNode) result_item = assay_result_to_item (result);
    g_autoptr(AssayCondition) condition = assay_condition_not_exists ("id");

    assay_store_put_item_async (store, ASSAY_TABLE_RESULTS, json_node_get_object (result_item),
                                condition, NULL, sync_cb, &async);
    ok = assay_store_put_item_finish (store, sync_wait (&async), error);
    g_clear_object (&async);
    if (!ok)
      return NULL;
  }
  {
    g_autoptr(AssayUpdate) update = assay_update_new ();
    g_autoptr(AssayCondition) condition = NULL;
    g_autoptr(JsonObject) updated = NULL;
    g_autoptr(GError) local_error = NULL;

    assay_update_set (update, "status", assay_value_string ("PROCESSED"));
    assay_update_set (update, "result", assay_value_string (assay_result_get_id (result)));
    assay_update_remove (update, "error");
    condition = assay_condition_compare ("status", ASSAY_COMPARE_EQ, assay_value_string ("ERROR"));
    assay_store_update_item_async (store, ASSAY_TABLE_JOBS, id, update, condition,
                                   ASSAY_RETURN_NONE, NULL, sync_cb, &async);
    updated = assay_store_update_item_finish (store, sync_wait (&async), &local_error);
    g_clear_object (&async);
    if (local_error != NULL)
      {
        g_set_error (error, local_error->domain, local_error->code,
                     "the result %s is stored, but job %s could not be marked PROCESSED: %s",
                     assay_result_get_id (result), id, local_error->message);
        return NULL;
      }
  }
  if (!_assay_store_delete_sync (store, info->key, error))
    {
      g_prefix_error (error, "job %s is PROCESSED, but its quarantined file %s could not be "
                      "deleted (delete it with `assay-worker quarantine delete`): ",
                      id, info->key);
      return NULL;
    }
  fields = record_from_info (info, id);
  json_object_set_string_member (fields, "result", assay_result_get_id (result));
  return log_action (lifecycle, "release", actor, fields);
}
