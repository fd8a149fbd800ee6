/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli init */
#include "config.h"

#include "assay-cli.h"
#include "assay-config.h"

static void
init_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

int
cli_init_main (int    argc,
               char **argv)
{
  g_autoptr(AssayConfig) flags = assay_config_new ();
  g_autofree char *config_file = NULL;
  g_autoptr(GOptionContext) context = g_option_context_new ("init");
  g_autoptr(AssayConfig) config = NULL;
  g_autoptr(AssayStore) store = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GError *error = NULL;
  int rc;

  g_option_context_set_summary (context,
                                "Creates what the store needs: on S3 and DynamoDB the bucket, the "
                                "jobs table with its queue-due index and the results table "
                                "(waiting until they are active, with expiry where the service "
                                "has it); locally the store's folder. Running it again changes "
                                "nothing.");
  g_option_context_add_group (context, assay_config_option_group (flags, &config_file));
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 1)
    return cli_usage (context, "“init” takes no arguments");

  config = assay_config_resolve (flags, config_file, &error);
  if (config == NULL || !(store = assay_config_open_store (config, &error)))
    return cli_fail (error);

  assay_store_init_async (store, NULL, init_done_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  if (!assay_store_init_finish (store, result, &error))
    {
      g_prefix_error (&error, "cannot set up %s: ", assay_store_describe (store));
      return cli_fail (error);
    }
  g_print ("ready: %s\n", assay_store_describe (store));
  return 0;
}
