/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-config.h"

G_BEGIN_DECLS

/*
 * The "Test Connection" of the AWS settings: with the values typed in (not yet saved),
 * lists the bucket (one key: a GET, whose error body carries the service's reason, where
 * a HEAD's answer has none) and describes the jobs and results tables. The error says
 * which check failed, where (the endpoint) and the service's own reason
 * ("SignatureDoesNotMatch: The request signature we calculated does not match…",
 * "ResourceNotFoundException: …", "could not connect to http://…").
 */

/* Returns on success a sentence for the user saying what was reached. */
void  assay_connection_test_async  (const AssayConfig    *config,
                                    const char           *access_key_id,
                                    const char           *secret_access_key,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data);
char *assay_connection_test_finish (GAsyncResult         *result,
                                    GError              **error);

G_END_DECLS
