/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "assay-key.h"

G_BEGIN_DECLS

/* Shared by assay-key.c and assay-payload.c. */

#define ASSAY_KEY_SHARED_SIZE 32

gboolean _assay_key_ecdh (AssayKey     *self,
                          const guint8 *peer_point,
                          guint8       *shared,
                          GError      **error);

G_END_DECLS
