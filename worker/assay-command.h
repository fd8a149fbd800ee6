/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A helper command of the worker's (the validator, the alert command): run in a process
 * group of its own with @input on its stdin, its stdout kept up to a limit, its stderr
 * passed to the worker's; after @timeout_ms the whole group is killed.
 */

typedef struct
{
  gboolean exited;     /* FALSE: killed by a signal (or by the timeout) */
  int status;          /* the exit status, or the signal */
  gboolean timed_out;
  GBytes *output;      /* stdout, at most the limit */
} AssayCommandResult;

void                assay_command_result_free (AssayCommandResult  *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayCommandResult, assay_command_result_free)

void                assay_command_run_async   (const char * const  *argv,
                                               const char * const  *env,
                                               GBytes              *input,
                                               guint                timeout_ms,
                                               gsize                max_output,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
AssayCommandResult *assay_command_run_finish  (GAsyncResult        *result,
                                               GError             **error);

/* The process-group mechanics, shared with the exec engine (assay-engine.c). */
void                assay_command_child_setup (gpointer             data);
GPid                assay_command_get_pid     (GSubprocess         *process);
void                assay_command_kill_group  (GPid                 pid,
                                               gboolean             running);

G_END_DECLS
