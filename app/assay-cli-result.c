/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli result decrypt */
#include "config.h"

#include "assay-cli.h"
#include "assay-id.h"
#include "assay-key-file.h"
#include "assay-payload.h"
#include "assay-util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* The largest payload this reads: results in S3 may be large, but not unbounded. */
#define MAX_PAYLOAD_SIZE ((gsize) 1 << 30)

static char *opt_key;
static char *opt_id;

/* The payload as text (`E:IV:TAG:C`, surrounding white space allowed), or as the binary
 * `E‖IV‖TAG‖C` of an S3 object `results/<id>`. */
static GBytes *
payload_from_input (GBytes  *input,
                    GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (input, &len);
  g_autofree char *text = NULL;

  if (len > 0 && data[0] == 0x04)
    return g_bytes_ref (input);

  text = g_strstrip (g_strndup ((const char *) data, len));
  return assay_payload_from_text (text, error);
}

static gboolean
write_all (const guint8  *data,
           gsize          len,
           GError       **error)
{
  while (len > 0)
    {
      ssize_t n = write (STDOUT_FILENO, data, len);

      if (n < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write the plaintext: %s",
                       g_strerror (errno));
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static int
result_decrypt (int    argc,
                char **argv)
{
  const GOptionEntry entries[] = {
    { "key", 'k', 0, G_OPTION_ARG_FILENAME, &opt_key,
      "The client's private key, PKCS#8 PEM (default: $XDG_DATA_HOME/assay/client-key.pem)",
      "PEM" },
    { "id", 'i', 0, G_OPTION_ARG_STRING, &opt_id, "The result id (result-…)", "RESULT_ID" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("result decrypt [PAYLOAD|-]");
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(GBytes) input = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) plaintext = NULL;
  g_autofree char *key_path = NULL;
  GError *error = NULL;
  gsize len;
  const guint8 *data;
  int rc;

  g_option_context_set_summary (context,
                                "Decrypts a result payload and prints the plaintext. PAYLOAD is "
                                "the payload text E:IV:TAG:C; without it, or with -, the payload "
                                "(text, or the binary S3 object results/<id>) is read from "
                                "standard input.");
  g_option_context_add_main_entries (context, entries, NULL);
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (opt_id == NULL || argc > 2)
    return cli_usage (context, "“result decrypt” needs --id RESULT_ID and at most one PAYLOAD");
  if (!assay_id_is_valid (ASSAY_ID_RESULT, opt_id))
    return cli_fail (g_error_new (ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_ID,
                                  "“%s” is not a result id (result- and a lowercase UUIDv4)",
                                  opt_id));

  key_path = cli_key_path (opt_key);
  key = assay_key_file_load (key_path, &error);
  if (key == NULL)
    return cli_fail (error);

  if (argc == 2 && !g_str_equal (argv[1], "-"))
    input = g_bytes_new (argv[1], strlen (argv[1]));
  else
    input = cli_read_input ("-", MAX_PAYLOAD_SIZE, &error);
  if (input == NULL || !(payload = payload_from_input (input, &error)))
    return cli_fail (error);

  plaintext = assay_payload_decrypt (key, opt_id, payload, &error);
  if (plaintext == NULL)
    {
      g_prefix_error (&error, "cannot decrypt result %s with the key of %.*s…: ", opt_id, 24,
                      assay_key_get_client_id (key));
      return cli_fail (error);
    }

  data = g_bytes_get_data (plaintext, &len);
  if (!write_all (data, len, &error))
    rc = cli_fail (error);
  else if (len > 0 && data[len - 1] != '\n' && isatty (STDOUT_FILENO))
    write_all ((const guint8 *) "\n", 1, NULL);
  g_clear_pointer (&plaintext, assay_wipe_bytes_free);
  return rc;
}

static const CliCommand result_commands[] = {
  { "decrypt", "decrypt a result payload with the client's key", result_decrypt },
};

/* `result decrypt …` decrypts a payload by hand; `result JOB` fetches a job's result. */
int
cli_result_main (int    argc,
                 char **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "decrypt"))
    return cli_dispatch ("result", result_commands, G_N_ELEMENTS (result_commands), argc, argv);
  return cli_result_job_main (argc, argv);
}
