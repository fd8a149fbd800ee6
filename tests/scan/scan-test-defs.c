/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "scan-test-defs.h"

#include <glib/gstdio.h>
#include <string.h>

/* Built from parts so that no file of the repository is itself the EICAR test file. */
char *
scan_test_eicar (void)
{
  return g_strconcat ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR", "-STANDARD-ANTIVIRUS-TEST-",
                      "FILE!$H+H*", NULL);
}

/* Appends "<signature>:0:*:<hex of content>" (any file type, any offset) to dir/file. */
void
scan_test_write_ndb (const char *dir,
                     const char *file,
                     const char *signature,
                     const char *content)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr(GString) line = g_string_new (NULL);
  g_autofree char *old = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &old, NULL, NULL);
  g_string_append_printf (line, "%s%s:0:*:", old ? old : "", signature);
  for (const char *p = content; *p; p++)
    g_string_append_printf (line, "%02x", (guint8) *p);
  g_string_append_c (line, '\n');
  g_file_set_contents (path, line->str, -1, &error);
  g_assert_no_error (error);
}

/* Appends "<md5>:<size>:<signature>" to dir/file. */
void
scan_test_write_hdb (const char *dir,
                     const char *file,
                     const char *signature,
                     const char *content,
                     gsize       len)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree char *md5 = g_compute_checksum_for_data (G_CHECKSUM_MD5, (const guint8 *) content,
                                                       len);
  g_autofree char *old = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &old, NULL, NULL);
  text = g_strdup_printf ("%s%s:%" G_GSIZE_FORMAT ":%s\n", old ? old : "", md5, len, signature);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* The base set: the EICAR rule and the hash rule. */
void
scan_test_write_defs (const char *dir)
{
  g_autofree char *eicar = scan_test_eicar ();

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  scan_test_write_ndb (dir, "assay-test.ndb", SCAN_TEST_EICAR_SIG, eicar);
  scan_test_write_hdb (dir, "assay-test.hdb", SCAN_TEST_HASH_SIG, SCAN_TEST_HASH_CONTENT,
                       strlen (SCAN_TEST_HASH_CONTENT));
}

char *
scan_test_write_file (const char *dir,
                      const char *name,
                      const char *content,
                      gssize      len)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, content, len, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

static const char archive_script[] =
  "import io, lzma, sys, tarfile, zipfile\n"
  "kind, out, member, src, copies = sys.argv[1:6]\n"
  "data = open(src, 'rb').read()\n"
  "copies = int(copies)\n"
  "if kind == 'zip':\n"
  "    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n"
  "        for i in range(copies):\n"
  "            z.writestr(member if copies == 1 else '%d-%s' % (i, member), data)\n"
  "elif kind == 'tar.gz':\n"
  "    with tarfile.open(out, 'w:gz') as t:\n"
  "        for i in range(copies):\n"
  "            info = tarfile.TarInfo(member if copies == 1 else '%d-%s' % (i, member))\n"
  "            info.size = len(data)\n"
  "            t.addfile(info, io.BytesIO(data))\n"
  "elif kind == 'xz':\n"
  "    open(out, 'wb').write(lzma.compress(data))\n"
  "else:\n"
  "    sys.exit('unknown kind ' + kind)\n";

/**
 * scan_test_archive:
 * @kind: "zip", "tar.gz" or "xz"
 * @copies: members holding @content (named "<i>-<member>" when more than one)
 * Returns: the path of a new archive dir/name, made by Debian's python3
 */
char *
scan_test_archive (const char *dir,
                   const char *kind,
                   const char *name,
                   const char *member,
                   const char *content,
                   guint       copies)
{
  g_autofree char *src = scan_test_write_file (dir, "archive-member.tmp", content, -1);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *count = g_strdup_printf ("%u", copies);
  const char *python = g_getenv ("ASSAY_TEST_PYTHON") ? g_getenv ("ASSAY_TEST_PYTHON")
                                                      : "/usr/bin/python3";
  const char *argv[] = { python, "-c", archive_script, kind, path, member, src, count, NULL };
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("python3 could not make %s: %s", path, err);
  g_unlink (src);
  return g_steal_pointer (&path);
}

void
scan_test_remove_tree (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) < 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          scan_test_remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}
