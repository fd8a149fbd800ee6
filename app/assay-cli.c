/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli: the Assay client without GTK, for servers, scripts and tests. */
#include "config.h"

#include "assay-cli.h"
#include "assay-config.h"
#include "assay-key-file.h"

#include <gio/gunixinputstream.h>
#include <locale.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static const CliCommand commands[] = {
  { "init", "create the bucket and tables, or the local store", cli_init_main },
  { "key", "make, show, back up or restore this client's key pair", cli_key_main },
  { "submit", "compress, upload and record a job for each file", cli_submit_main },
  { "job", "check a job's fields and signature", cli_job_main },
  { "watch", "submit every file that appears in a folder", cli_watch_main },
  { "status", "show this client's jobs, or one job", cli_status_main },
  { "result", "print a job's decrypted result (or: result decrypt)", cli_result_main },
};

/* Reports @error (taken) on stderr and returns the failure exit code. */
int
cli_fail (GError *error)
{
  g_printerr ("assay-cli: %s\n", error->message);
  g_error_free (error);
  return CLI_EXIT_FAILURE;
}

int
cli_usage (GOptionContext *context,
           const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  if (message != NULL)
    g_printerr ("assay-cli: %s\n\n", message);
  g_printerr ("%s", help);
  return CLI_EXIT_USAGE;
}

/* Returns: 0 when the options parsed, else the usage exit code (message printed). */
int
cli_parse (GOptionContext   *context,
           int              *argc,
           char           ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    return cli_usage (context, error->message);
  return 0;
}

static void
print_commands (const char       *group,
                const CliCommand *list,
                guint             n)
{
  g_printerr ("Usage: assay-cli %s%sCOMMAND [OPTION…]\n\nCommands:\n", group ? group : "",
              group ? " " : "");
  for (guint i = 0; i < n; i++)
    g_printerr ("  %-10s %s\n", list[i].name, list[i].summary);
  g_printerr ("\nRun “assay-cli %s%sCOMMAND --help” for a command's options.\n",
              group ? group : "", group ? " " : "");
}

/* Runs the command named by argv[1] with argv[1…] as its own argv. */
int
cli_dispatch (const char       *group,
              const CliCommand *list,
              guint             n,
              int               argc,
              char            **argv)
{
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      print_commands (group, list, n);
      return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
  for (guint i = 0; i < n; i++)
    if (g_str_equal (argv[1], list[i].name))
      return list[i].run (argc - 1, argv + 1);

  g_printerr ("assay-cli: unknown command “%s%s%s”\n\n", group ? group : "", group ? " " : "",
              argv[1]);
  print_commands (group, list, n);
  return CLI_EXIT_USAGE;
}

/**
 * cli_read_input:
 * Reads all of @path, or of standard input when @path is "-", refusing nothing at all
 * and more than @max_size bytes.
 */
GBytes *
cli_read_input (const char  *path,
                gsize        max_size,
                GError     **error)
{
  const char *name = g_str_equal (path, "-") ? "standard input" : path;
  g_autoptr(GInputStream) input = NULL;
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buf[16384];

  if (g_str_equal (path, "-"))
    input = g_unix_input_stream_new (0, FALSE);
  else
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (path);

      input = G_INPUT_STREAM (g_file_read (file, NULL, error));
      if (input == NULL)
        return NULL;
    }

  for (;;)
    {
      gssize n = g_input_stream_read (input, buf, sizeof buf, NULL, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (data->len + (gsize) n > max_size)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "%s is larger than %" G_GSIZE_FORMAT " bytes: it is not what this "
                       "command reads",
                       name, max_size);
          return NULL;
        }
      g_byte_array_append (data, buf, n);
    }
  if (data->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is empty", name);
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

static void
store_ready_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/**
 * cli_open_store:
 * The store @config names. A local store is set up on first use (a newcomer needs no
 * init step); S3 and DynamoDB are set up with “assay-cli init”.
 */
AssayStore *
cli_open_store (AssayConfig  *config,
                GError      **error)
{
  g_autoptr(AssayStore) store = assay_config_open_store (config, error);
  g_autoptr(GAsyncResult) result = NULL;

  if (store == NULL || !assay_config_is_local (config))
    return g_steal_pointer (&store);
  assay_store_init_async (store, NULL, store_ready_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  if (!assay_store_init_finish (store, result, error))
    return NULL;
  return g_steal_pointer (&store);
}

/* The key file named by an option, else the default one. */
char *
cli_key_path (const char *option)
{
  return option != NULL ? g_strdup (option) : assay_key_file_default_path ();
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  g_set_prgname ("assay-cli");
#ifdef __GLIBC__
  /* Chunks are 8 MiB buffers made in the encoder thread and freed in the main one. Once
   * the first is freed, glibc's sliding mmap threshold moves such buffers into its heaps,
   * where freed ones stay resident: a fixed threshold keeps them mapped and unmapped
   * (bench-submit: peak RSS 70 → 58 MiB at preset 1, 57–65 → 50 MiB at preset 0). */
  mallopt (M_MMAP_THRESHOLD, 1024 * 1024);
#endif

  if (argc >= 2 && g_str_equal (argv[1], "--version"))
    {
      g_print ("assay-cli %s\n", PACKAGE_VERSION);
      return 0;
    }
  return cli_dispatch (NULL, commands, G_N_ELEMENTS (commands), argc, argv);
}
