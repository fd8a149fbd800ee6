/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-config.h"
#include "assay-job.h"

G_BEGIN_DECLS

/* Exit codes of assay-cli: 1 for a failure the command reports, 2 for a usage error. */
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE   2

typedef struct
{
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} CliCommand;

int     cli_fail            (GError      *error);
int     cli_usage           (GOptionContext *context,
                             const char  *message);
int     cli_parse           (GOptionContext *context,
                             int         *argc,
                             char      ***argv);
int     cli_dispatch        (const char        *group,
                             const CliCommand  *commands,
                             guint              n_commands,
                             int                argc,
                             char             **argv);
GBytes *cli_read_input      (const char  *path,
                             gsize        max_size,
                             GError     **error);
char   *cli_key_path        (const char  *option);
AssayStore *cli_open_store  (AssayConfig *config,
                             GError     **error);

int     cli_init_main       (int argc, char **argv);
int     cli_key_main        (int argc, char **argv);
int     cli_job_main        (int argc, char **argv);
int     cli_result_main     (int argc, char **argv);
int     cli_submit_main     (int argc, char **argv);
int     cli_status_main     (int argc, char **argv);
int     cli_watch_main      (int argc, char **argv);
int     cli_result_job_main (int argc, char **argv);

AssayJob *cli_get_job       (AssayStore  *store,
                             const char  *job_id,
                             gboolean     wait,
                             GError     **error);
gboolean cli_print_result   (AssayStore  *store,
                             AssayKey    *key,
                             AssayJob    *job,
                             const char  *out_file,
                             GError     **error);

G_END_DECLS
