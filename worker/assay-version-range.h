/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * AssayVersionRange: which client versions a processor takes (PROTOCOL.md: "A processor
 * takes only jobs whose `version` its configured range accepts").
 *
 * The syntax is node-semver's, without partial versions and X-ranges:
 *
 *   range      := set ( "||" set )*
 *   set        := comparator ( " " comparator )*     every comparator must hold
 *   comparator := [ "=" | ">" | ">=" | "<" | "<=" | "^" | "~" ] MAJOR.MINOR.PATCH[-pre]
 *
 * `^1.2.3` is `>=1.2.3 <2.0.0-0` (`^0.2.3`: `<0.3.0-0`, `^0.0.3`: `<0.0.4-0`) and
 * `~1.2.3` is `>=1.2.3 <1.3.0-0`. Precedence is semver 2.0's. A pre-release version
 * (`2.1.0-beta.1`) satisfies a set only if some comparator of that set names a
 * pre-release of the same MAJOR.MINOR.PATCH, so that `>=2.0.0 <3.0.0` does not take
 * the unstable clients of 2.1.0.
 */

#define ASSAY_VERSION_RANGE_ERROR (assay_version_range_error_quark ())

typedef enum
{
  ASSAY_VERSION_RANGE_ERROR_INVALID,
} AssayVersionRangeError;

GQuark assay_version_range_error_quark (void);

typedef struct _AssayVersionRange AssayVersionRange;

#define ASSAY_TYPE_VERSION_RANGE (assay_version_range_get_type ())
GType              assay_version_range_get_type    (void) G_GNUC_CONST;

AssayVersionRange *assay_version_range_new         (const char         *text,
                                                    GError            **error);
AssayVersionRange *assay_version_range_new_for_major (const char       *version);
AssayVersionRange *assay_version_range_ref         (AssayVersionRange  *self);
void               assay_version_range_unref       (AssayVersionRange  *self);
gboolean           assay_version_range_accepts     (AssayVersionRange  *self,
                                                    const char         *version);
const char        *assay_version_range_to_string   (AssayVersionRange  *self);

int                assay_version_compare           (const char         *a,
                                                    const char         *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayVersionRange, assay_version_range_unref)

G_END_DECLS
