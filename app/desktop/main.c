/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-application.h"

#include <glib/gi18n.h>
#include <locale.h>

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AssayApplication) app = NULL;
  /* ASSAY_LOCALEDIR in the environment: the translations of a build tree (<builddir>/po),
   * for tests and for running the app uninstalled */
  const char *localedir = g_getenv ("ASSAY_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE,
                  localedir != NULL && *localedir != '\0' ? localedir : ASSAY_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = assay_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
