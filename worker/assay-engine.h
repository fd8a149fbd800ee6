/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "assay-stage.h"

G_BEGIN_DECLS

/*
 * AssayEngine: the "engine" stage, an analysis program the worker does not contain.
 *
 * exec: runs COMMAND FILE (the command split as a shell would, without a shell) in a
 *   process group of its own, with a clean environment (PATH, HOME, LANG, LC_*, TZ, and
 *   TMPDIR set to the worker's private directory: never the worker's credentials), its
 *   standard input on /dev/null, its standard error copied to the log line by line. Its
 *   standard output must be one JSON object. On the timeout, on cancellation and once
 *   the program exits, the whole process group is killed (SIGKILL), so that a program
 *   that forks cannot outlive its run.
 * http: POSTs the file's bytes as application/octet-stream to the URL and reads one
 *   JSON object back (2xx only, redirects not followed). Outbound only.
 *
 * The output, trimmed of white space at both ends, must be one JSON object in strict
 * JSON (assay-strict-json.h): the result's envelope carries those bytes unchanged.
 *
 * A crash, a signal, the timeout, a non-zero exit or HTTP status, output that is not a
 * JSON object or is over the size limit all fail with ASSAY_FAILURE_ENGINE_FAILED and
 * the reason; the output is then discarded, never logged. A program that cannot be
 * started or a service that cannot be reached is the worker's trouble, not the job's:
 * that is another error (the worker gives the job back for a later attempt).
 */

#define ASSAY_ENGINE_TIMEOUT_DEFAULT_MS    (300 * 1000)
#define ASSAY_ENGINE_MAX_OUTPUT_DEFAULT    (16 * 1024 * 1024)
#define ASSAY_ENGINE_DEFAULT_PROGRAM       "assay-inspect"

#define ASSAY_TYPE_ENGINE (assay_engine_get_type ())
G_DECLARE_FINAL_TYPE (AssayEngine, assay_engine, ASSAY, ENGINE, GObject)

AssayEngine *assay_engine_new_exec        (const char   *command,
                                           GError      **error);
AssayEngine *assay_engine_new_http        (SoupSession  *session,
                                           const char   *url,
                                           GError      **error);
void         assay_engine_set_timeout     (AssayEngine  *self,
                                           guint         timeout_ms);
void         assay_engine_set_max_output  (AssayEngine  *self,
                                           gsize         max_output);
const char  *assay_engine_describe        (AssayEngine  *self);
gboolean     assay_engine_check           (AssayEngine  *self,
                                           GError      **error);
char        *assay_engine_find_default    (void);

G_END_DECLS
