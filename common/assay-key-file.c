/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-key-file.h"
#include "assay-util.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (assay-key-file-error-quark, assay_key_file_error)

/* A PKCS#8 PEM P-256 key is about 240 bytes; anything much larger is not one. */
#define MAX_KEY_FILE_SIZE (64 * 1024)

/* Returns: (transfer full): `$XDG_DATA_HOME/assay/client-key.pem`. */
char *
assay_key_file_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "assay", "client-key.pem", NULL);
}

/**
 * assay_key_file_load:
 * Reads a private key from a PKCS#8 PEM file. Like ssh, it refuses a key file that
 * group or others may read, or that another user owns: such a key may have leaked.
 */
AssayKey *
assay_key_file_load (const char  *path,
                     GError     **error)
{
  g_autofree char *pem = NULL;
  g_autoptr(GError) local_error = NULL;
  AssayKey *key;
  struct stat st;
  ssize_t n;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, ASSAY_KEY_FILE_ERROR,
                   saved == ENOENT ? ASSAY_KEY_FILE_ERROR_NOT_FOUND : ASSAY_KEY_FILE_ERROR_IO,
                   saved == ENOENT ? "no key file at %s: run “assay-cli key generate” or "
                                     "“assay-cli key import FILE” first"
                                   : "cannot open the key file %s: %s",
                   path, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_IO,
                   "the key file %s is not a regular file", path);
      close (fd);
      return NULL;
    }
  if (st.st_uid != getuid ())
    {
      g_set_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_PERMISSIONS,
                   "the key file %s belongs to another user: refusing to use it", path);
      close (fd);
      return NULL;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_PERMISSIONS,
                   "permissions %04o for the key file %s are too open: a private key must not "
                   "be readable by others. Run “chmod 600 %s”, and consider the key leaked if "
                   "others could reach it.",
                   (unsigned) (st.st_mode & 07777), path, path);
      close (fd);
      return NULL;
    }
  if (st.st_size > MAX_KEY_FILE_SIZE)
    {
      g_set_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_IO,
                   "%s is too large to be a key file", path);
      close (fd);
      return NULL;
    }

  pem = g_malloc0 (st.st_size + 1);
  n = read (fd, pem, st.st_size);
  close (fd);
  if (n != st.st_size)
    {
      g_set_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_IO,
                   "cannot read the key file %s", path);
      assay_wipe (pem, st.st_size);
      return NULL;
    }

  key = assay_key_new_from_pem (pem, n, &local_error);
  assay_wipe (pem, st.st_size);
  if (key == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", path);
  return key;
}

/**
 * assay_key_file_save:
 * Writes @key's private key as PKCS#8 PEM, mode 0600, atomically, creating the folder
 * (0700) when needed. Without @replace an existing key is never overwritten: losing it
 * would lose every result encrypted to it.
 */
gboolean
assay_key_file_save (AssayKey    *key,
                     const char  *path,
                     gboolean     replace,
                     GError     **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *pem = NULL;
  gboolean ok;

  g_return_val_if_fail (ASSAY_IS_KEY (key), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!replace && g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_EXISTS,
                   "a key already exists at %s: export it first (“assay-cli key export --out "
                   "FILE”), then use --force to replace it",
                   path);
      return FALSE;
    }
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, ASSAY_KEY_FILE_ERROR, ASSAY_KEY_FILE_ERROR_IO, "cannot create %s: %s",
                   dir, g_strerror (saved));
      return FALSE;
    }

  pem = assay_key_to_pem (key, error);
  if (pem == NULL)
    return FALSE;
  ok = g_file_set_contents_full (path, pem, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, error);
  assay_wipe (pem, strlen (pem));
  return ok;
}
