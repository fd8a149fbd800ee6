/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void     assay_random_bytes (guint8 *buf,
                             gsize   len);
char    *assay_hex_encode   (const guint8 *data,
                             gsize         len);
guint8  *assay_hex_decode   (const char *hex,
                             gsize      *out_len);
gboolean assay_hex_decode_into (const char *hex,
                                guint8     *out,
                                gsize       len);
void     assay_wipe         (gpointer data,
                             gsize    len);
void     assay_wipe_bytes_free (GBytes *bytes);
void     assay_idle_on      (GMainContext   *context,
                             GSourceFunc     func,
                             gpointer        data,
                             GDestroyNotify  notify);

G_END_DECLS
