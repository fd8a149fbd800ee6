/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-time.h"

#include <gio/gio.h>
#include <string.h>

/**
 * assay_time_format:
 * Returns: (transfer full): @time in UTC as `toISOString()` prints it, milliseconds
 * truncated as JavaScript does.
 */
char *
assay_time_format (GDateTime *time)
{
  g_autoptr(GDateTime) utc = NULL;

  g_return_val_if_fail (time != NULL, NULL);

  utc = g_date_time_to_utc (time);
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                          g_date_time_get_year (utc), g_date_time_get_month (utc),
                          g_date_time_get_day_of_month (utc), g_date_time_get_hour (utc),
                          g_date_time_get_minute (utc), g_date_time_get_second (utc),
                          g_date_time_get_microsecond (utc) / 1000);
}

char *
assay_time_now (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return assay_time_format (now);
}

/* @s holds @n digits: the caller has checked the shape. */
static int
digits_value (const char *s,
              guint       n)
{
  int v = 0;

  for (guint i = 0; i < n; i++)
    v = v * 10 + (s[i] - '0');
  return v;
}

/**
 * assay_time_parse:
 * Parses exactly the `toISOString()` form (24 characters, `Z`, milliseconds) and
 * nothing looser: no offsets, no missing fraction, no out-of-range fields.
 * Returns: (transfer full) (nullable): the time in UTC, or %NULL with @error set.
 */
GDateTime *
assay_time_parse (const char  *text,
                  GError     **error)
{
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  int year, second;
  g_autoptr(GDateTime) whole = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  if (strlen (text) != ASSAY_TIME_LEN)
    goto bad;
  for (guint i = 0; i < ASSAY_TIME_LEN; i++)
    {
      if (shape[i] == 'd' ? !g_ascii_isdigit (text[i]) : text[i] != shape[i])
        goto bad;
    }
  year = digits_value (text, 4);
  second = digits_value (text + 17, 2);
  if (year < 1 || second > 59)
    goto bad;

  /* Whole seconds first, then the milliseconds as an exact integer offset. */
  whole = g_date_time_new_utc (year, digits_value (text + 5, 2), digits_value (text + 8, 2),
                               digits_value (text + 11, 2), digits_value (text + 14, 2), second);
  if (whole == NULL)
    goto bad;
  return g_date_time_add (whole, (GTimeSpan) digits_value (text + 20, 3) * 1000);

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "“%s” is not a time of the form YYYY-MM-DDTHH:MM:SS.mmmZ", text);
  return NULL;
}

gboolean
assay_time_is_valid (const char *text)
{
  g_autoptr(GDateTime) time = NULL;

  if (text == NULL)
    return FALSE;
  time = assay_time_parse (text, NULL);
  return time != NULL;
}

gint64
assay_time_to_unix_ms (GDateTime *time)
{
  g_return_val_if_fail (time != NULL, 0);

  return g_date_time_to_unix (time) * 1000 + g_date_time_get_microsecond (time) / 1000;
}
