/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "protocol-vectors.h"

/* Runs the C checks of test-key and test-payload on the vectors of $ASSAY_VECTORS (made
 * by another implementation, such as node-crypto.mjs) or else of the shared file. */

static void
test_vectors_key (void)
{
  g_autoptr(GPtrArray) vectors = assay_test_vectors_load ();

  for (guint i = 0; i < vectors->len; i++)
    {
      g_test_message ("vector %u", i);
      assay_test_vector_check_key (g_ptr_array_index (vectors, i));
    }
}

static void
test_vectors_payload (void)
{
  g_autoptr(GPtrArray) vectors = assay_test_vectors_load ();

  for (guint i = 0; i < vectors->len; i++)
    {
      g_test_message ("vector %u", i);
      assay_test_vector_check_payload (g_ptr_array_index (vectors, i));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/interop/vectors/key", test_vectors_key);
  g_test_add_func ("/interop/vectors/payload", test_vectors_payload);

  return g_test_run ();
}
