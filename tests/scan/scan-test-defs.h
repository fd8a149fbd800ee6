/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The scan tests' own signatures (there is no internet for freshclam): an .ndb rule for
 * the EICAR test string and an .hdb rule for the MD5 of a fixed text. libclamav adds
 * ".UNOFFICIAL" to the names of signatures from unsigned databases. */
#define SCAN_TEST_EICAR_SIG      "Assay.Test.EICAR"
#define SCAN_TEST_HASH_SIG       "Assay.Test.Hash"
#define SCAN_TEST_HASH_CONTENT   "Assay hash-rule test content: harmless, matched by MD5.\n"
#define SCAN_TEST_UNOFFICIAL     ".UNOFFICIAL"

char    *scan_test_eicar       (void);
void     scan_test_write_ndb   (const char *dir,
                                const char *file,
                                const char *signature,
                                const char *content);
void     scan_test_write_hdb   (const char *dir,
                                const char *file,
                                const char *signature,
                                const char *content,
                                gsize       len);
void     scan_test_write_defs  (const char *dir);
char    *scan_test_write_file  (const char *dir,
                                const char *name,
                                const char *content,
                                gssize      len);
char    *scan_test_archive     (const char *dir,
                                const char *kind,
                                const char *name,
                                const char *member,
                                const char *content,
                                guint       copies);
void     scan_test_remove_tree (const char *path);

G_END_DECLS
