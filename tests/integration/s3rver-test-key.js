// SPDX-License-Identifier: GPL-3.0-or-later
// Preloaded into s3rver (node --require) by tests/integration/test-servers.c: s3rver knows
// only the key S3RVER/S3RVER and answers InvalidAccessKeyId to any other; this adds the
// test key from test-servers.h (passed in the environment). s3rver does not check SigV4
// signatures: the sigv4-proxy in front of it does.
'use strict';

const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

DUMMY_ACCOUNT.createKeyPair(process.env.ASSAY_TEST_ACCESS_KEY_ID,
                            process.env.ASSAY_TEST_SECRET_ACCESS_KEY);
