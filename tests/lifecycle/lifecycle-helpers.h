/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "assay-stage.h"

G_BEGIN_DECLS

/* A scan stage for the tests: INFECTED ("infected: Eicar-Test-Signature") when the file
 * holds "EICAR", else {"verdict":"clean"}. */
#define TEST_TYPE_SCAN (test_scan_get_type ())
G_DECLARE_FINAL_TYPE (TestScan, test_scan, TEST, SCAN, GObject)

/* A loopback webhook receiver at @url: answers 500 to the first @fail_first POSTs, then
 * 204, keeping the bodies it took. */
typedef struct
{
  SoupServer *server;
  char *url;
  guint fail_first;
  guint posts;
  GPtrArray *bodies;
} Receiver;

Receiver *receiver_start (guint     fail_first);
void      receiver_free  (Receiver *r);

G_END_DECLS
