/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli key generate|show|export|import */
#include "config.h"

#include "assay-cli.h"
#include "assay-key-file.h"
#include "assay-util.h"

#include <string.h>

static char *opt_key_file;
static gboolean opt_force;
static char *opt_out;

static const GOptionEntry key_file_entry[] = {
  { "key-file", 'k', 0, G_OPTION_ARG_FILENAME, &opt_key_file,
    "The key file (default: $XDG_DATA_HOME/assay/client-key.pem)", "FILE" },
  { NULL }
};

static const GOptionEntry force_entry[] = {
  { "force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Replace an existing file", NULL },
  { NULL }
};

static GOptionContext *
key_context (const char *usage,
             const char *summary)
{
  GOptionContext *context = g_option_context_new (usage);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, key_file_entry, NULL);
  return context;
}

static int
key_generate (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = key_context ("key generate", "Makes this client's key pair.");
  g_autoptr(AssayKey) key = NULL;
  g_autofree char *path = NULL;
  GError *error = NULL;
  int rc;

  g_option_context_add_main_entries (context, force_entry, NULL);
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 1)
    return cli_usage (context, "“key generate” takes no arguments");

  path = cli_key_path (opt_key_file);
  key = assay_key_generate ();
  if (!assay_key_file_save (key, path, opt_force, &error))
    return cli_fail (error);

  g_printerr ("Saved a new key pair to %s (mode 0600). Back it up with "
              "“assay-cli key export --out FILE”: results can only be read with it.\n",
              path);
  g_print ("%s\n", assay_key_get_client_id (key));
  return 0;
}

static int
key_show (int    argc,
          char **argv)
{
  g_autoptr(GOptionContext) context = key_context ("key show", "Prints this client's id.");
  g_autoptr(AssayKey) key = NULL;
  g_autofree char *path = NULL;
  GError *error = NULL;
  int rc;

  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 1)
    return cli_usage (context, "“key show” takes no arguments");

  path = cli_key_path (opt_key_file);
  key = assay_key_file_load (path, &error);
  if (key == NULL)
    return cli_fail (error);
  g_print ("%s\n", assay_key_get_client_id (key));
  return 0;
}

static int
key_export (int    argc,
            char **argv)
{
  const GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &opt_out,
      "Where to write the private key (PKCS#8 PEM, mode 0600); - for standard output", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = key_context ("key export", "Backs up the key pair as PKCS#8 PEM.");
  g_autoptr(AssayKey) key = NULL;
  g_autofree char *path = NULL;
  g_autofree char *pem = NULL;
  GError *error = NULL;
  int rc;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, force_entry, NULL);
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 1 || opt_out == NULL)
    return cli_usage (context, "“key export” needs --out FILE");

  path = cli_key_path (opt_key_file);
  key = assay_key_file_load (path, &error);
  if (key == NULL)
    return cli_fail (error);

  if (g_str_equal (opt_out, "-"))
    {
      pem = assay_key_to_pem (key, &error);
      if (pem == NULL)
        return cli_fail (error);
      g_print ("%s", pem);
      assay_wipe (pem, strlen (pem));
      return 0;
    }
  if (!assay_key_file_save (key, opt_out, opt_force, &error))
    return cli_fail (error);
  g_printerr ("Exported the key pair of %.*s… to %s (mode 0600). Keep it as safe as the key "
              "itself.\n",
              24, assay_key_get_client_id (key), opt_out);
  return 0;
}

static int
key_import (int    argc,
            char **argv)
{
  g_autoptr(GOptionContext) context = key_context ("key import FILE",
                                                   "Takes a PKCS#8 PEM private key as this "
                                                   "client's key.");
  g_autoptr(AssayKey) key = NULL;
  g_autoptr(GBytes) pem = NULL;
  g_autofree char *path = NULL;
  GError *error = NULL;
  const char *text;
  gsize len;
  int rc;

  g_option_context_add_main_entries (context, force_entry, NULL);
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 2)
    return cli_usage (context, "“key import” takes one FILE (- for standard input)");

  pem = cli_read_input (argv[1], 64 * 1024, &error);
  if (pem == NULL)
    return cli_fail (error);
  text = g_bytes_get_data (pem, &len);
  key = assay_key_new_from_pem (text, len, &error);
  g_clear_pointer (&pem, assay_wipe_bytes_free);
  if (key == NULL)
    return cli_fail (error);
  if (!assay_key_has_private (key))
    return cli_fail (g_error_new (ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY,
                                  "%s holds no private key", argv[1]));

  path = cli_key_path (opt_key_file);
  if (!assay_key_file_save (key, path, opt_force, &error))
    return cli_fail (error);
  g_printerr ("Imported the key pair to %s (mode 0600).\n", path);
  g_print ("%s\n", assay_key_get_client_id (key));
  return 0;
}

static const CliCommand key_commands[] = {
  { "generate", "make a new key pair (refuses to replace one without --force)", key_generate },
  { "show", "print the client id", key_show },
  { "export", "write the key pair as PKCS#8 PEM (--out FILE)", key_export },
  { "import", "take a PKCS#8 PEM key pair as this client's key", key_import },
};

int
cli_key_main (int    argc,
              char **argv)
{
  return cli_dispatch ("key", key_commands, G_N_ELEMENTS (key_commands), argc, argv);
}
