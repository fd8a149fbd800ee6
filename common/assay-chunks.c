/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-chunks.h"

#include <lzma.h>

G_STATIC_ASSERT (ASSAY_CHUNK_PRESET_EXTREME == LZMA_PRESET_EXTREME);

G_DEFINE_QUARK (assay-chunk-error-quark, assay_chunk_error)
