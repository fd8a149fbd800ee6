/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Real local servers for the integration suite, each on 127.0.0.1 on a free port, in a
 * temporary directory, stopped (and the directory removed) by assay_test_server_stop():
 * npm's s3rver and dynalite from tests/node_modules, and the SigV4-checking proxy
 * (tests/integration/sigv4-proxy.py, on Debian's python3-botocore) that forwards only
 * requests whose signature botocore reproduces and answers 403 to the others.
 *
 * All clients in the tests use the credentials below; the proxy checks against them.
 */

#define ASSAY_TEST_ACCESS_KEY_ID     "AKIDASSAYTEST"
#define ASSAY_TEST_SECRET_ACCESS_KEY "assay-test-secret-key/not+a+real+one"
#define ASSAY_TEST_REGION            "eu-west-1"
#define ASSAY_TEST_BUCKET            "assay-test-bucket"

typedef struct _AssayTestServer AssayTestServer;

AssayTestServer *assay_test_server_start_s3rver   (void);
AssayTestServer *assay_test_server_start_dynalite (void);
AssayTestServer *assay_test_server_start_proxy    (AssayTestServer *backend,
                                                   const char      *service);
/* The same on @port (0: a free one), e.g. again on the port of a proxy just stopped. */
AssayTestServer *assay_test_server_start_proxy_on_port (AssayTestServer *backend,
                                                        const char      *service,
                                                        guint16          port);
const char      *assay_test_server_get_url        (AssayTestServer *self);
guint16          assay_test_server_get_port       (AssayTestServer *self);
/* Proxy only: requests forwarded, refused for a bad signature, and PUTs seen per path.
 * @method NULL counts every method; @path_prefix (NULL: any) is matched against the raw,
 * percent-encoded path without the query, e.g. "/assay-test-bucket/file-…/". */
guint            assay_test_server_count_requests (AssayTestServer *self,
                                                   const char      *method,
                                                   const char      *path_prefix);
guint            assay_test_server_count_refused  (AssayTestServer *self);
/* Proxy only: sets both counts to zero. */
void             assay_test_server_reset_counts   (AssayTestServer *self);
void             assay_test_server_stop           (AssayTestServer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AssayTestServer, assay_test_server_stop)

G_END_DECLS
