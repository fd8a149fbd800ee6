/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-key-file.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("assay-key-file-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "sub", "client-key.pem", NULL);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *sub = g_path_get_dirname (f->path);
  g_autofree char *link = g_build_filename (f->dir, "link.pem", NULL);
  g_autofree char *copy = g_build_filename (f->dir, "copy.pem", NULL);

  g_unlink (f->path);
  g_unlink (link);
  g_unlink (copy);
  g_rmdir (sub);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
test_save_load (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) loaded = NULL;
  g_autoptr(AssayKey) other = assay_key_generate ();
  g_autoptr(AssayKey) still = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sub = g_path_get_dirname (f->path);
  struct stat st;

  assay_key_file_save (key, f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (sub, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  loaded = assay_key_file_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (assay_key_has_private (loaded));
  g_assert_cmpstr (assay_key_get_client_id (loaded), ==, assay_key_get_client_id (key));

  /* an existing key is never replaced without asking */
  g_assert_false (assay_key_file_save (other, f->path, FALSE, &error));
  g_assert_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_EXISTS);
  g_clear_error (&error);
  still = assay_key_file_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (still), ==, assay_key_get_client_id (key));

  assay_key_file_save (other, f->path, TRUE, &error);
  g_assert_no_error (error);
  g_clear_object (&still);
  still = assay_key_file_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (assay_key_get_client_id (still), ==, assay_key_get_client_id (other));
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

static void
test_permissions (Fixture       *f,
                  gconstpointer  data)
{
  const int open_modes[] = { 0644, 0640, 0604, 0660, 0606 };
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(GError) error = NULL;

  assay_key_file_save (key, f->path, FALSE, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (open_modes); i++)
    {
      g_autoptr(AssayKey) loaded = NULL;

      g_assert_cmpint (g_chmod (f->path, open_modes[i]), ==, 0);
      loaded = assay_key_file_load (f->path, &error);
      g_assert_null (loaded);
      g_assert_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_PERMISSIONS);
      g_assert_nonnull (strstr (error->message, "chmod 600"));
      g_clear_error (&error);
    }

  g_assert_cmpint (g_chmod (f->path, 0400), ==, 0);
  {
    g_autoptr(AssayKey) loaded = assay_key_file_load (f->path, &error);

    g_assert_no_error (error);
    g_assert_nonnull (loaded);
  }
}

static void
test_refused (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(AssayKey) key = assay_key_generate ();
  g_autoptr(AssayKey) public_only = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *link = g_build_filename (f->dir, "link.pem", NULL);
  g_autofree char *copy = g_build_filename (f->dir, "copy.pem", NULL);

  g_assert_null (assay_key_file_load (f->path, &error));
  g_assert_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "assay-cli key generate"));
  g_clear_error (&error);

  /* a symbolic link is not followed: it may point anywhere */
  assay_key_file_save (key, f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (symlink (f->path, link), ==, 0);
  g_assert_null (assay_key_file_load (link, &error));
  g_assert_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_IO);
  g_clear_error (&error);

  /* garbage with the right mode */
  g_file_set_contents_full (copy, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                            -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
  g_assert_null (assay_key_file_load (copy, &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_INVALID_KEY);
  g_assert_true (g_str_has_prefix (error->message, copy));
  g_clear_error (&error);

  /* a public key cannot be saved as a private one */
  public_only = assay_key_new_from_client_id (assay_key_get_client_id (key), &error);
  g_assert_no_error (error);
  g_assert_false (assay_key_file_save (public_only, copy, TRUE, &error));
  g_assert_error (error, ASSAY_KEY_ERROR, ASSAY_KEY_ERROR_NO_PRIVATE_KEY);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/common/key-file/save-load", Fixture, NULL, fixture_set_up, test_save_load,
              fixture_tear_down);
  g_test_add ("/common/key-file/permissions", Fixture, NULL, fixture_set_up, test_permissions,
              fixture_tear_down);
  g_test_add ("/common/key-file/refused", Fixture, NULL, fixture_set_up, test_refused,
              fixture_tear_down);

  return g_test_run ();
}
