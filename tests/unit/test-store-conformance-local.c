/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-local-store.h"
#include "store-conformance.h"

/* The shared conformance body on the local store: a fresh directory per case. */

static char *tmp_root;

static AssayStore *
make_local_store (gpointer data)
{
  static guint counter;
  g_autofree char *name = g_strdup_printf ("store-%u", counter++);
  g_autofree char *dir = g_build_filename (tmp_root, name, NULL);

  return ASSAY_STORE (assay_local_store_new (dir));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  tmp_root = g_dir_make_tmp ("assay-conformance-XXXXXX", &error);
  g_assert_no_error (error);
  assay_test_store_conformance_add ("common/local-store", make_local_store, NULL);

  status = g_test_run ();
  assay_test_remove_tree (tmp_root);
  g_free (tmp_root);
  return status;
}
