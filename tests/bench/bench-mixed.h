/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes @size bytes to @path in 1 MiB regions, each drawn with a fixed seed: a quarter
 * random bytes (like media or already-compressed data), half log-like text lines, a
 * quarter zeros. */
gboolean bench_make_mixed_file (const char  *path,
                                guint64      size,
                                GError     **error);

G_END_DECLS
