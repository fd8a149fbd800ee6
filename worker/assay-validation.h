/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-stage.h"

G_BEGIN_DECLS

/*
 * AssayValidation: the stage of the slot "validation". Its rules come from the
 * configuration: a maximum size, the content types allowed (sniffed from the data by
 * libmagic, never taken from a name; a pattern "type/" + "*" takes every subtype), and an external
 * validator command (the file's path added as its last argument; exit status 0 accepts,
 * any other rejects, with `{"reason": "…"}` on stdout; killed with its process group
 * after the timeout). Every rule set runs; a file that fails any ends the job with
 * ASSAY_FAILURE_INVALID and every reason. The output of an accepted file:
 *
 *   {"accepted":true,"rules":[{"rule":"max-size","limit":N,"size":N,"passed":true},
 *                             {"rule":"content-type","type":"text/plain","passed":true},
 *                             {"rule":"command","exit_status":0,"passed":true}]}
 *
 * A validator that cannot be run, or that times out, is the worker's trouble, not a
 * verdict (the stage is run again, then ENGINE_FAILED).
 */

#define ASSAY_VALIDATION_TIMEOUT_DEFAULT_MS 60000

#define ASSAY_TYPE_VALIDATION (assay_validation_get_type ())
G_DECLARE_FINAL_TYPE (AssayValidation, assay_validation, ASSAY, VALIDATION, GObject)

/* @max_size: 0 = no limit; @types: NULL or empty = any; @command: NULL = none */
AssayValidation *assay_validation_new         (guint64              max_size,
                                               const char * const  *types,
                                               const char          *command,
                                               GError             **error);
void             assay_validation_set_timeout (AssayValidation     *self,
                                               guint                timeout_ms);
gboolean         assay_validation_type_matches (const char         *pattern,
                                                const char         *type);

G_END_DECLS
