/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "assay-test"

#include "config.h"

#include "assay-version-range.h"

typedef struct
{
  const char *range;
  const char *version;
  gboolean accepted;
} Case;

static void
test_accepts (void)
{
  static const Case cases[] = {
    { ">=2.0.0 <3.0.0", "2.0.0", TRUE },
    { ">=2.0.0 <3.0.0", "2.99.99", TRUE },
    { ">=2.0.0 <3.0.0", "3.0.0", FALSE },
    { ">=2.0.0 <3.0.0", "1.9.9", FALSE },
    { ">= 2.0.0  < 3.0.0", "2.5.0", TRUE },
    { "=1.2.3", "1.2.3", TRUE },
    { "1.2.3", "1.2.4", FALSE },
    { ">1.2.3", "1.2.3", FALSE },
    { ">1.2.3", "1.2.4", TRUE },
    { "<=1.2.3", "1.2.3", TRUE },
    { "<=1.2.3", "1.2.4", FALSE },
    { "^1.2.0", "1.9.0", TRUE },
    { "^1.2.0", "1.1.9", FALSE },
    { "^1.2.0", "2.0.0", FALSE },
    { "^0.2.3", "0.2.9", TRUE },
    { "^0.2.3", "0.3.0", FALSE },
    { "^0.0.3", "0.0.3", TRUE },
    { "^0.0.3", "0.0.4", FALSE },
    { "~1.2.0", "1.2.7", TRUE },
    { "~1.2.0", "1.3.0", FALSE },
    { "~0.1.0", "0.1.5", TRUE },
    { "^1.0.0 || ^3.0.0", "3.1.0", TRUE },
    { "^1.0.0 || ^3.0.0", "2.1.0", FALSE },
    /* pre-releases: only where a comparator names one of the same MAJOR.MINOR.PATCH */
    { ">=2.0.0 <3.0.0", "2.1.0-beta.1", FALSE },
    { ">=2.1.0-beta.1 <3.0.0", "2.1.0-beta.2", TRUE },
    { ">=2.1.0-beta.1 <3.0.0", "2.1.0-beta.0", FALSE },
    { ">=2.1.0-beta.1 <3.0.0", "2.2.0-beta.2", FALSE },
    { ">=2.1.0-beta.1 <3.0.0", "2.1.0", TRUE },
    { "^1.2.3-beta.2", "1.2.3-beta.4", TRUE },
    { "^1.2.3-beta.2", "1.2.4-beta.4", FALSE },
    { "^1.2.3-beta.2", "2.0.0-alpha", FALSE },
    { ">=1.0.0-alpha <1.0.0", "1.0.0-alpha.1", TRUE },
    { ">=1.0.0-alpha.1 <1.0.0", "1.0.0-alpha.beta", TRUE },
    { ">=1.0.0-alpha.beta <1.0.0", "1.0.0-beta", TRUE },
    { ">=1.0.0-beta.2 <1.0.0", "1.0.0-beta.11", TRUE },
    { ">=1.0.0-beta.11 <1.0.0", "1.0.0-rc.1", TRUE },
    { ">1.0.0-rc.1 <1.0.0", "1.0.0-rc.1", FALSE },
    { ">=1.0.0-alpha <1.0.0", "1.0.0-alpha", TRUE },
    /* not a version of the protocol's form: never accepted */
    { ">=0.0.0", "1.2", FALSE },
    { ">=0.0.0", "1.2.3+build", FALSE },
    { ">=0.0.0", "01.2.3", FALSE },
    { ">=0.0.0", "", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayVersionRange) range = assay_version_range_new (cases[i].range, &error);

      g_assert_no_error (error);
      if (assay_version_range_accepts (range, cases[i].version) != cases[i].accepted)
        g_error ("“%s” %s “%s”", cases[i].range,
                 cases[i].accepted ? "should accept" : "should not accept", cases[i].version);
    }
}

static void
test_invalid (void)
{
  static const char * const ranges[] = {
    "", "   ", "2.0", ">=", ">= <3.0.0", "=>2.0.0", "~>2.0.0", ">=2.0.0 ||", "2.0.0 - 3.0.0",
    "2.x", "*", "v2.0.0", ">=2.0.0-", ">=02.0.0", "1.2.3+build",
  };

  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(AssayVersionRange) range = assay_version_range_new (ranges[i], &error);

      if (range != NULL)
        g_error ("“%s” should not be a range", ranges[i]);
      g_assert_error (error, ASSAY_VERSION_RANGE_ERROR, ASSAY_VERSION_RANGE_ERROR_INVALID);
    }
}

static void
test_for_major (void)
{
  g_autoptr(AssayVersionRange) range = assay_version_range_new_for_major ("2.5.21");
  g_autoptr(AssayVersionRange) zero = assay_version_range_new_for_major ("0.1.0");

  g_assert_cmpstr (assay_version_range_to_string (range), ==, ">=2.0.0 <3.0.0");
  g_assert_true (assay_version_range_accepts (range, "2.0.0"));
  g_assert_true (assay_version_range_accepts (range, "2.9.0"));
  g_assert_false (assay_version_range_accepts (range, "3.0.0"));
  g_assert_false (assay_version_range_accepts (range, "3.0.0-rc.1"));
  g_assert_false (assay_version_range_accepts (range, "1.9.9"));
  g_assert_cmpstr (assay_version_range_to_string (zero), ==, ">=0.0.0 <1.0.0");
  g_assert_true (assay_version_range_accepts (zero, "0.1.0"));
}

static void
test_compare (void)
{
  /* semver 2.0, rule 11's example, in order */
  static const char * const order[] = {
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
    "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0",
  };

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    for (guint j = 0; j < G_N_ELEMENTS (order); j++)
      {
        int c = assay_version_compare (order[i], order[j]);

        g_assert_cmpint (c < 0, ==, i < j);
        g_assert_cmpint (c == 0, ==, i == j);
      }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/worker/version-range/accepts", test_accepts);
  g_test_add_func ("/worker/version-range/invalid", test_invalid);
  g_test_add_func ("/worker/version-range/for-major", test_for_major);
  g_test_add_func ("/worker/version-range/compare", test_compare);
  return g_test_run ();
}
