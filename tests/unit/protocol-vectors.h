/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The checks of PROTOCOL.md's vectors, shared by test-key, test-payload and the
 * interop checker (tests/interop/check-vectors.c) that runs them on vectors made by
 * node:crypto.
 *
 * The vectors are read from the file named by $ASSAY_VECTORS, or else from
 * $ASSAY_SHARED_DIR/vectors/protocol-v1.jsonl; a missing file fails the test. */

GPtrArray *assay_test_vectors_load          (void);
void       assay_test_vector_check_key      (JsonObject *vector);
void       assay_test_vector_check_payload  (JsonObject *vector);

G_END_DECLS
