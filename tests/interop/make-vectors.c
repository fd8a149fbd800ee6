/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-id.h"
#include "assay-job.h"
#include "assay-key.h"
#include "assay-payload.h"

#include <stdio.h>
#include <string.h>

/* make-vectors N: prints N vectors made by Assay as JSONL, in the format of
 * shared/vectors/protocol-v1.jsonl, for another implementation to check
 * (node node-crypto.mjs check FILE). The keys are fresh and for tests only. */

static const char *const job_fields[] = {
  "id", "version", "created", "bucket", "region", "file", "client", "signature",
};

static char *
make_vector (guint    index,
             GError **error)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayJob) job = NULL;
  g_autoptr(JsonNode) job_json = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) plaintext_bytes = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *scalar = NULL;
  g_autofree char *version = NULL;
  g_autofree char *file = assay_id_new (ASSAY_ID_FILE);
  g_autofree char *result_id = assay_id_new (ASSAY_ID_RESULT);
  g_autofree char *message = NULL;
  g_autofree char *plaintext = NULL;
  g_autofree char *payload = NULL;
  JsonObject *object;

  pem = assay_key_to_pem (key, error);
  if (pem == NULL)
    return NULL;
  scalar = assay_key_dup_scalar_hex (key, error);
  if (scalar == NULL)
    return NULL;

  version = g_strdup_printf ("%u.%u.%u%s", index + 1, index * 3, index * 7,
                             index % 2 ? "-beta.2" : "");
  job = assay_job_new (version, "assay-test-bucket", "eu-west-1", file, key, error);
  if (job == NULL)
    return NULL;
  message = assay_job_dup_signed_message (job);
  job_json = assay_job_to_json (job);
  object = json_node_get_object (job_json);

  /* the empty plaintext first, then growing ones with non-ASCII text */
  if (index == 0)
    plaintext = g_strdup ("");
  else
    plaintext = g_strdup_printf ("{\"job\":\"%s\",\"result\":{\"size\":%u,\"note\":\"assay "
                                 "vector %u é☃\",\"pad\":\"%*s\"}}",
                                 assay_job_get_id (job), index * 1000, index, (int) index * 37,
                                 "");
  plaintext_bytes = g_bytes_new (plaintext, strlen (plaintext));
  payload = assay_payload_encrypt_text (key, result_id, plaintext_bytes, error);
  if (payload == NULL)
    return NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "private_pkcs8_pem");
  json_builder_add_string_value (builder, pem);
  json_builder_set_member_name (builder, "private_scalar_hex");
  json_builder_add_string_value (builder, scalar);
  json_builder_set_member_name (builder, "job");
  json_builder_begin_object (builder);
  for (guint i = 0; i < G_N_ELEMENTS (job_fields); i++)
    {
      json_builder_set_member_name (builder, job_fields[i]);
      json_builder_add_string_value (builder,
                                     json_object_get_string_member (object, job_fields[i]));
    }
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "signed_message");
  json_builder_add_string_value (builder, message);
  json_builder_set_member_name (builder, "result_id");
  json_builder_add_string_value (builder, result_id);
  json_builder_set_member_name (builder, "plaintext");
  json_builder_add_string_value (builder, plaintext);
  json_builder_set_member_name (builder, "payload");
  json_builder_add_string_value (builder, payload);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  guint64 n = 0;

  if (argc != 2 || !g_ascii_string_to_unsigned (argv[1], 10, 1, 1000, &n, NULL))
    {
      g_printerr ("usage: %s N (1 to 1000)\n", argv[0]);
      return 2;
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = make_vector (i, &error);

      if (line == NULL)
        {
          g_printerr ("make-vectors: %s\n", error->message);
          return 1;
        }
      /* not g_print (), which would convert the UTF-8 to the locale's charset */
      fputs (line, stdout);
      fputc ('\n', stdout);
    }

  return 0;
}
