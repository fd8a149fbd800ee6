/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "assay-key.h"

G_BEGIN_DECLS

/*
 * AssayOnboarding: the first run, in three steps: the watched folder (~/Assay suggested,
 * made when setup ends), where files are processed (this computer, or AWS / S3-compatible
 * with a Test Connection), and the key (made here, or imported; exported as a backup).
 * Finishing stores the key (and the AWS secret) in the keyring, writes the settings,
 * sets onboarding-done, activates "app.onboarding-done" when the application has it,
 * emits ::finished and closes.
 *
 * Every step is also a GAction of the "onboarding" group, for keyboard users and tests:
 * set-folder (s), choose-folder, choose-local, choose-aws, test-connection, import-key,
 * export-key, import-key-from (s: a path), export-key-to (s: a path), back, next, finish.
 */

#define ASSAY_TYPE_ONBOARDING (assay_onboarding_get_type ())
G_DECLARE_FINAL_TYPE (AssayOnboarding, assay_onboarding, ASSAY, ONBOARDING, AdwWindow)

AssayOnboarding *assay_onboarding_new         (GtkApplication  *application,
                                               GSettings       *settings);
/* The key that finishing will store (generated, the keyring's, or imported). */
AssayKey        *assay_onboarding_get_key     (AssayOnboarding *self);
/* TRUE while a keyring lookup, connection test or finish is running. */
gboolean         assay_onboarding_get_busy    (AssayOnboarding *self);

/* Shared with the preferences: a key backup is the PKCS#8 PEM, written 0600. */
AssayKey *_assay_key_backup_load (const char  *path,
                                  GError     **error);
gboolean  _assay_key_backup_save (AssayKey    *key,
                                  const char  *path,
                                  GError     **error);

typedef void (*AssayFileChosenFunc) (GFile    *file,
                                     gpointer  user_data);
/* Runs a GtkFileChooserNative (through the portal in a sandbox); @func gets the file, or is
 * not called when the user cancels. @current is a folder to start in, or for SAVE the name. */
void      _assay_choose_file     (GtkWindow            *parent,
                                  GtkFileChooserAction  action,
                                  const char           *title,
                                  const char           *accept_label,
                                  const char           *current,
                                  AssayFileChosenFunc   func,
                                  gpointer              user_data,
                                  GDestroyNotify        destroy);

/* Scrolls the scrolled window around @widget to its end once laid out (where the result of
 * Test Connection is shown, below the form). */
void      _assay_scroll_to_end   (GtkWidget            *widget);

G_END_DECLS
