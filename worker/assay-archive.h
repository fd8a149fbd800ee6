/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "assay-lifecycle.h"

G_BEGIN_DECLS

/*
 * `assay-worker archive-compact --older-than DURATION`: the archived files of each day
 * that ended at least DURATION ago (`<archive-prefix>{valid,invalid}/YYYY/MM/DD/<id>`)
 * go into `<archive-prefix>zips/YYYY-MM-DD.zip` as members `valid/<id>` and
 * `invalid/<id>` (libarchive, streamed, zip64 where a member needs it).
 *
 * For each day: the day's zip, if there is one, is downloaded and its members copied into
 * a new zip (a merge); every original not in it yet is added; the new zip is re-read and
 * every member's size, CRC (libarchive checks it) and SHA-256 checked against what went
 * in; it is stored (one atomic PUT) over the old one, downloaded again and checked
 * again, with a manifest `zips/YYYY-MM-DD.json` (members, sizes, SHA-256); only then are
 * the originals deleted. An original already in the zip with the same SHA-256 (a run
 * killed before its deletions) is not added again but deleted; one with another SHA-256
 * is an error and stays. Killed at any point and run again, nothing is lost or zipped
 * twice.
 *
 * The test hook ASSAY_ARCHIVE_TEST_CRASH=after-upload|after-delete kills the process
 * (SIGKILL) after the zip is stored, or after the first original is deleted.
 */

gboolean assay_archive_parse_age (const char  *text,
                                  guint64     *out_ms);

/* @report: (nullable): called with one JSON object per day compacted */
gboolean assay_archive_compact   (AssayLifecycle  *lifecycle,
                                  guint64          older_than_ms,
                                  const char      *work_dir,
                                  void           (*report) (JsonObject *line,
                                                            gpointer    data),
                                  gpointer         report_data,
                                  GError         **error);

G_END_DECLS
