/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-util.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

/**
 * assay_random_bytes:
 * Fills @buf from the kernel's CSPRNG (getrandom). There is no fallback: a machine
 * that cannot give random bytes cannot make keys, ids or nonces, so this aborts.
 */
void
assay_random_bytes (guint8 *buf,
                    gsize   len)
{
  while (len > 0)
    {
      ssize_t n = getrandom (buf, len, 0);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("getrandom failed: %s", g_strerror (errno));
        }
      buf += n;
      len -= (gsize) n;
    }
}

char *
assay_hex_encode (const guint8 *data,
                  gsize         len)
{
  static const char digits[] = "0123456789abcdef";
  char *out = g_malloc (len * 2 + 1);

  for (gsize i = 0; i < len; i++)
    {
      out[2 * i] = digits[data[i] >> 4];
      out[2 * i + 1] = digits[data[i] & 0xf];
    }
  out[len * 2] = '\0';
  return out;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; /* the protocol's hex is lowercase only */
}

/**
 * assay_hex_decode_into:
 * Decodes exactly @len bytes of strict lowercase hex (2 * @len digits) into @out.
 * Returns: %FALSE on any other length or character.
 */
gboolean
assay_hex_decode_into (const char *hex,
                       guint8     *out,
                       gsize       len)
{
  g_return_val_if_fail (hex != NULL, FALSE);

  if (strlen (hex) != len * 2)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      int hi = hex_value (hex[2 * i]);
      int lo = hex_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

/**
 * assay_hex_decode:
 * Returns: (transfer full) (nullable): the bytes of strict lowercase hex, or %NULL when
 * @hex has an odd length or a character that is not a lowercase hex digit.
 */
guint8 *
assay_hex_decode (const char *hex,
                  gsize      *out_len)
{
  gsize n;
  g_autofree guint8 *out = NULL;

  g_return_val_if_fail (hex != NULL, NULL);

  n = strlen (hex);
  if (n % 2 != 0)
    return NULL;
  out = g_malloc (n / 2 + 1);
  if (!assay_hex_decode_into (hex, out, n / 2))
    return NULL;
  if (out_len)
    *out_len = n / 2;
  return g_steal_pointer (&out);
}

void
assay_wipe (gpointer data,
            gsize    len)
{
  if (data != NULL)
    explicit_bzero (data, len);
}

/* Unrefs @bytes, wiping its data first when this is the last reference. */
void
assay_wipe_bytes_free (GBytes *bytes)
{
  gsize len;
  gpointer data;

  if (bytes == NULL)
    return;
  data = g_bytes_unref_to_data (bytes, &len);
  assay_wipe (data, len);
  g_free (data);
}

/**
 * assay_idle_on:
 * @context: (nullable): the context to run @func on; %NULL for the global default
 *
 * Runs @func (once, at G_PRIORITY_DEFAULT) from an idle source on @context: from another
 * thread, or from a signal handler (a GCancellable's), to act where the object lives.
 * Unlike g_main_context_invoke(), never in the calling thread: that one runs @func at
 * once whenever the caller can acquire @context, so a worker thread would run main-loop
 * code while nobody iterates it, and a cancel handler would re-enter its caller.
 */
void
assay_idle_on (GMainContext   *context,
               GSourceFunc     func,
               gpointer        data,
               GDestroyNotify  notify)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "assay-idle-on");
  g_source_attach (source, context);
}
