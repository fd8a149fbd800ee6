/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `YYYY-MM-DDTHH:MM:SS.mmmZ`, JavaScript's Date.prototype.toISOString(). */
#define ASSAY_TIME_LEN 24

char      *assay_time_format   (GDateTime   *time);
char      *assay_time_now      (void);
GDateTime *assay_time_parse    (const char  *text,
                                GError     **error);
gboolean   assay_time_is_valid (const char  *text);
gint64     assay_time_to_unix_ms (GDateTime *time);

G_END_DECLS
