/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The "mixed" file the benchmarks compress: the same seed, so the same bytes each run. */
#include "config.h"

#include "bench-mixed.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#define MiB (G_GUINT64_CONSTANT (1) << 20)

static inline guint64
next_random (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* One log-like line, e.g. "2024-03-17 09:41:12.337 INFO worker-12 uploaded 4821 chunks
 * in 37 ms (job 00000a3f)". */
static gsize
make_line (guint64 *rng,
           char    *line,
           gsize    size)
{
  static const char *const levels[] = { "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR" };
  static const char *const verbs[] = { "processed", "uploaded", "scanned",   "rejected",
                                       "queued",    "verified", "decrypted", "skipped" };
  static const char *const things[] = { "chunks", "items",   "records", "files",
                                        "jobs",   "results", "blocks",  "requests" };
  guint64 r = next_random (rng);
  guint64 s = next_random (rng);

  return (gsize) g_snprintf (
      line, size, "2024-%02u-%02u %02u:%02u:%02u.%03u %s worker-%u %s %u %s in %u ms (job %08x)\n",
      (guint) (r % 12) + 1, (guint) (r >> 4) % 28 + 1, (guint) (r >> 9) % 24,
      (guint) (r >> 14) % 60, (guint) (r >> 20) % 60, (guint) (r >> 26) % 1000,
      levels[(r >> 36) % G_N_ELEMENTS (levels)], (guint) (r >> 40) % 32,
      verbs[(r >> 45) % G_N_ELEMENTS (verbs)], (guint) (s % 10000),
      things[(s >> 14) % G_N_ELEMENTS (things)], (guint) (s >> 20) % 5000,
      (guint) (s >> 32) & 0xfff);
}

/* Fills 1 MiB regions, each drawn at random: a quarter random bytes (like media or
 * already-compressed data), half log-like text lines, a quarter zeros. */
gboolean
bench_make_mixed_file (const char  *path,
                       guint64      size,
                       GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileOutputStream) out = NULL;
  g_autofree guint8 *region = g_malloc (MiB);
  guint64 rng = 20240501;

  out = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, error);
  if (out == NULL)
    return FALSE;

  for (guint64 done = 0; done < size; done += MiB)
    {
      gsize len = (gsize) MIN (MiB, size - done);
      guint kind = next_random (&rng) % 4;

      if (kind == 0)
        {
          for (gsize i = 0; i < len; i += 8)
            {
              guint64 v = next_random (&rng);

              memcpy (region + i, &v, MIN (8, len - i));
            }
        }
      else if (kind == 3)
        memset (region, 0, len);
      else
        {
          char line[160];
          gsize pos = 0;

          while (pos < len)
            {
              gsize n = MIN (make_line (&rng, line, sizeof line), len - pos);

              memcpy (region + pos, line, n);
              pos += n;
            }
        }
      if (!g_output_stream_write_all (G_OUTPUT_STREAM (out), region, len, NULL, NULL, error))
        return FALSE;
    }
  return g_output_stream_close (G_OUTPUT_STREAM (out), NULL, error);
}
