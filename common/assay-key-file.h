/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "assay-key.h"

G_BEGIN_DECLS

#define ASSAY_KEY_FILE_ERROR (assay_key_file_error_quark ())

typedef enum
{
  ASSAY_KEY_FILE_ERROR_NOT_FOUND,    /* no key file at the path */
  ASSAY_KEY_FILE_ERROR_EXISTS,       /* saving would replace a key */
  ASSAY_KEY_FILE_ERROR_PERMISSIONS,  /* group or others can read it, or another user owns it */
  ASSAY_KEY_FILE_ERROR_IO,           /* could not read or write */
} AssayKeyFileError;

GQuark    assay_key_file_error_quark   (void);

char     *assay_key_file_default_path  (void);
AssayKey *assay_key_file_load          (const char  *path,
                                        GError     **error);
gboolean  assay_key_file_save          (AssayKey    *key,
                                        const char  *path,
                                        gboolean     replace,
                                        GError     **error);

G_END_DECLS
