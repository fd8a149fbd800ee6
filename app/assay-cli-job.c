/* SPDX-License-Identifier: GPL-3.0-or-later */
/* assay-cli job verify */
#include "config.h"

#include "assay-cli.h"
#include "assay-job.h"

/* A job item is a few hundred bytes; DynamoDB items are at most 400 KB. */
#define MAX_JOB_SIZE (400 * 1024)

static int
job_verify (int    argc,
            char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("job verify FILE");
  g_autoptr(GBytes) data = NULL;
  g_autoptr(AssayJob) job = NULL;
  GError *error = NULL;
  const char *text;
  gsize len;
  int rc;

  g_option_context_set_summary (context,
                                "Checks a job's fields and signature. FILE (- for standard input) "
                                "holds the job as plain JSON, as a DynamoDB item, or as the "
                                "output of “aws dynamodb get-item”.\n"
                                "Prints “valid” and exits 0, or gives the reason and exits 1.");
  if ((rc = cli_parse (context, &argc, &argv)) != 0)
    return rc;
  if (argc != 2)
    return cli_usage (context, "“job verify” takes one FILE");

  data = cli_read_input (argv[1], MAX_JOB_SIZE, &error);
  if (data == NULL)
    return cli_fail (error);
  text = g_bytes_get_data (data, &len);
  job = assay_job_new_from_data (text, len, &error);
  if (job == NULL || !assay_job_verify (job, &error))
    return cli_fail (error);

  g_print ("valid\n");
  return 0;
}

static const CliCommand job_commands[] = {
  { "verify", "check a job's fields and signature", job_verify },
};

int
cli_job_main (int    argc,
              char **argv)
{
  return cli_dispatch ("job", job_commands, G_N_ELEMENTS (job_commands), argc, argv);
}
