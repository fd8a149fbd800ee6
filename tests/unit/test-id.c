/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "assay-id.h"
#include "assay-time.h"
#include "assay-util.h"

#include <gio/gio.h>

static void
test_id_new (void)
{
  const AssayIdKind kinds[] = { ASSAY_ID_JOB, ASSAY_ID_FILE, ASSAY_ID_RESULT, ASSAY_ID_PROCESSOR };
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (guint i = 0; i < 1000; i++)
      {
        char *id = assay_id_new (kinds[k]);

        g_assert_true (g_str_has_prefix (id, assay_id_kind_prefix (kinds[k])));
        g_assert_true (assay_id_is_valid (kinds[k], id));
        for (guint other = 0; other < G_N_ELEMENTS (kinds); other++)
          if (other != k)
            g_assert_false (assay_id_is_valid (kinds[other], id));
        g_assert_true (g_hash_table_add (seen, id));
      }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 4000);
}

static void
test_id_forms (void)
{
  g_assert_true (assay_id_is_valid (ASSAY_ID_JOB, "job-9dfbe20e-2efd-4f62-b51e-9b230f60429b"));
  g_assert_true (assay_id_is_valid (ASSAY_ID_FILE, "file-1a026c06-e99c-4f2f-842c-cb01c51849af"));
  g_assert_true (assay_id_is_valid (ASSAY_ID_RESULT, "result-c1e0af22-a56e-41fd-9118-fe86ee14b13b"));
  g_assert_true (assay_id_is_valid (ASSAY_ID_PROCESSOR,
                                    "processor-0eeb217a-266f-4563-a582-60894057dc28"));

  /* uppercase, wrong version, wrong variant, wrong length, misplaced dash, junk */
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "job-9DFBE20E-2efd-4f62-b51e-9b230f60429b"));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "job-9dfbe20e-2efd-1f62-b51e-9b230f60429b"));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "job-9dfbe20e-2efd-4f62-751e-9b230f60429b"));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "job-9dfbe20e-2efd-4f62-b51e-9b230f60429"));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "job-9dfbe20e-2efd-4f62-b51e-9b230f60429bb"));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "job-9dfbe20e2-efd-4f62-b51e-9b230f60429b"));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "job-9dfbe20e-2efd-4f62-b51e-9b230f60429\""));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, "9dfbe20e-2efd-4f62-b51e-9b230f60429b"));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, ""));
  g_assert_false (assay_id_is_valid (ASSAY_ID_JOB, NULL));
}

static void
test_client_id_form (void)
{
  g_autoptr(GString) id = g_string_new ("client-04");

  for (guint i = 0; i < 128; i++)
    g_string_append_c (id, "0123456789abcdef"[i % 16]);
  g_assert_true (assay_client_id_is_valid (id->str));

  id->str[20] = 'A';
  g_assert_false (assay_client_id_is_valid (id->str));
  id->str[20] = 'a';
  id->str[8] = '2'; /* compressed point prefix */
  g_assert_false (assay_client_id_is_valid (id->str));
  id->str[8] = '4';
  g_string_append_c (id, '0');
  g_assert_false (assay_client_id_is_valid (id->str));
  g_assert_false (assay_client_id_is_valid ("client-04"));
}

static void
test_version (void)
{
  const char *good[] = { "0.0.0", "1.0.0", "2.5.21", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
                         "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-rc-1" };
  const char *bad[] = { "", "1", "1.0", "1.0.0.0", "01.0.0", "1.00.0", "1.0.00", "1.0.0-",
                        "1.0.0-01", "1.0.0-a..b", "1.0.0+build", "v1.0.0", "1.0.0 ", "1.0.x",
                        "1.0.0-é", "-1.0.0" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (assay_version_is_valid (good[i]));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("bad version %s", bad[i]);
      g_assert_false (assay_version_is_valid (bad[i]));
    }
}

static void
test_bucket_region (void)
{
  const char *good[] = { "abc", "assay-test-bucket", "my.bucket.name", "a1b2", "0abc9",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
  const char *bad[] = { "", "ab", "Abc", "abc-", "-abc", ".abc", "a..b", "192.168.5.4",
                        "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3", "a_b", "a b",
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a\"bc" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (assay_bucket_is_valid (good[i]));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("bad bucket %s", bad[i]);
      g_assert_false (assay_bucket_is_valid (bad[i]));
    }

  g_assert_true (assay_region_is_valid ("eu-west-1"));
  g_assert_true (assay_region_is_valid ("us-gov-east-1"));
  g_assert_true (assay_region_is_valid ("local"));
  g_assert_false (assay_region_is_valid (""));
  g_assert_false (assay_region_is_valid ("EU-west-1"));
  g_assert_false (assay_region_is_valid ("eu_west_1"));
  g_assert_false (assay_region_is_valid ("-eu"));
  g_assert_false (assay_region_is_valid ("eu-"));
  g_assert_false (assay_region_is_valid (NULL));
}

static void
test_time_round_trip (void)
{
  const char *good[] = { "2025-09-25T11:21:51.690Z", "2026-11-01T10:00:05.123Z",
                         "2024-02-29T23:59:59.999Z", "1970-01-01T00:00:00.000Z",
                         "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.001Z" };
  const char *bad[] = { "", "2025-09-25T11:21:51Z", "2025-09-25T11:21:51.69Z",
                        "2025-09-25T11:21:51.6900Z", "2025-09-25 11:21:51.690Z",
                        "2025-09-25T11:21:51.690+00:00", "2025-09-25t11:21:51.690z",
                        "2025-13-25T11:21:51.690Z", "2025-02-29T11:21:51.690Z",
                        "2025-09-25T24:00:00.000Z", "2025-09-25T11:60:51.690Z",
                        "2025-09-25T11:21:60.000Z", "0000-01-01T00:00:00.000Z",
                        "+02025-09-25T11:21:51.690Z", "2025-09-25T11:21:51.690Z\n" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDateTime) t = assay_time_parse (good[i], &error);
      g_autofree char *printed = NULL;

      g_assert_no_error (error);
      printed = assay_time_format (t);
      g_assert_cmpstr (printed, ==, good[i]);
      g_assert_true (assay_time_is_valid (good[i]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDateTime) t = assay_time_parse (bad[i], &error);

      g_test_message ("bad time %s", bad[i]);
      g_assert_null (t);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
}

static void
test_time_values (void)
{
  g_autoptr(GDateTime) t = assay_time_parse ("2025-09-25T11:21:51.690Z", NULL);
  g_autoptr(GTimeZone) zone = g_time_zone_new_offset (3600);
  g_autoptr(GDateTime) local = g_date_time_new (zone, 2025, 9, 25, 12, 21, 51.5);
  g_autofree char *printed = assay_time_format (local);
  g_autofree char *now = assay_time_now ();

  g_assert_cmpint (assay_time_to_unix_ms (t), ==, G_GINT64_CONSTANT (1758799311690));
  /* another zone prints as UTC */
  g_assert_cmpstr (printed, ==, "2025-09-25T11:21:51.500Z");
  g_assert_true (assay_time_is_valid (now));
}

static void
test_hex (void)
{
  const guint8 data[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
  g_autofree char *hex = assay_hex_encode (data, sizeof data);
  g_autofree guint8 *back = NULL;
  gsize len = 0;
  guint8 two[2];

  g_assert_cmpstr (hex, ==, "00017f80abff");
  back = assay_hex_decode (hex, &len);
  g_assert_cmpmem (back, len, data, sizeof data);
  g_assert_null (assay_hex_decode ("00017F80abff", NULL));
  g_assert_null (assay_hex_decode ("0", NULL));
  g_assert_null (assay_hex_decode ("0g", NULL));
  g_assert_false (assay_hex_decode_into ("abc", two, 2));
  g_assert_true (assay_hex_decode_into ("abcd", two, 2));
  g_assert_cmpuint (two[0], ==, 0xab);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/id/new", test_id_new);
  g_test_add_func ("/common/id/forms", test_id_forms);
  g_test_add_func ("/common/id/client-form", test_client_id_form);
  g_test_add_func ("/common/id/version", test_version);
  g_test_add_func ("/common/id/bucket-region", test_bucket_region);
  g_test_add_func ("/common/time/round-trip", test_time_round_trip);
  g_test_add_func ("/common/time/values", test_time_values);
  g_test_add_func ("/common/util/hex", test_hex);

  return g_test_run ();
}
